#!/bin/sh
# print's summary of a tensor with no finite values: "all NaN" (or the count of
# each kind) instead of a mean, a std, a min and a max of nothing.
. "$(dirname "$0")/../lib.sh"
cd "$tmp" || exit 1

# npy NAME N BYTES: a little-endian float64 .npy of shape (N,) whose elements
# are BYTES (printf escapes of one element) repeated.
npy() {
    h="{'descr': '<f8', 'fortran_order': False, 'shape': ($2,), }"
    while [ ${#h} -lt 117 ]; do h="$h "; done
    { printf '\223NUMPY\001\000\166\000%s\n' "$h"; i=0; while [ $i -lt "$2" ]; do printf "$3"; i=$((i + 1)); done; } >"$1"
}
npy nan.npy 4 '\000\000\000\000\000\000\370\177'
npy inf.npy 4 '\000\000\000\000\000\000\360\177'
cat >stats.cajal <<'X'
population E = Rate(4)
synapse J: E -> E { w = 0; one_to_one }
load "nan.npy" into J.w
print J.w
load "inf.npy" into J.w
print J.w
X
run 0 stats.cajal
out <<'X'
J.w [4]: all NaN
  nan nan nan nan
J.w [4]: no finite values (0 NaN, 4 infinite)
  inf inf inf inf
X

[ "$failed" = 0 ]

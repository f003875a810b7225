#!/bin/sh
# Bad input to the simulation engine, typed into one REPL session (stdin piped):
# zero and negative dt, p outside [0, 1], a rank above N, recording what does not
# exist, a run too large for memory, and .npy/.npz files that are truncated, of
# an unsupported dtype, Fortran-ordered, of the wrong shape or missing. Each is a
# located error that names the problem; none ends the session, and nothing
# computed before is lost: the weights, the recording and the state of the first
# run print the same after every error, and the run continues from its state.
. "$(dirname "$0")/../lib.sh"

cp "$TOP/fixtures/npy/bad_fortran.npy" "$TOP/fixtures/npy/bad_complex.npy" "$TOP/fixtures/npy/bad_object.npy" \
   "$TOP/fixtures/npy/f8_r2.npy" "$TOP/fixtures/npy/savez.npz" "$tmp/"
head -c 150 "$TOP/fixtures/npy/f8_r2.npy" >"$tmp/short_data.npy"
head -c 40 "$TOP/fixtures/npy/f8_r2.npy" >"$tmp/short_header.npy"
head -c 300 "$TOP/fixtures/npy/savez.npz" >"$tmp/short.npz"

cat >"$tmp/session.txt" <<'X'
seed 3
let N = 3
population E = Rate(N) { init x ~ normal(0, 1) }
synapse J: E -> E { w ~ normal(0, 1) }
simulate for 4 steps dt 1ms record E.x
print J.w[0, 0], E.x[0]
simulate for 10ms dt 0ms
simulate for 10ms dt -1ms
synapse S: E -> E { w = 1; p = 1.5 }
synapse S2: E -> E { w = 1; p = -0.1 }
synapse L: E -> E lowrank(4) { m ~ normal(0, 1); n ~ normal(0, 1) }
simulate for 10 steps record E.y
simulate for 10 steps record F.x
simulate for 10 steps batch 1000000000
simulate for 100000000000 steps record E.x
print J.w[0, 0], E.x[0]
load "bad_fortran.npy" into J.w
load "bad_complex.npy" into J.w
load "bad_object.npy" into J.w
load "short_data.npy" into J.w
load "short_header.npy" into J.w
load "short.npz"
load "f8_r2.npy" into J.w
load "nothere.npy" into J.w
load "f8_r2.npy" into E.x
print J.w[0, 0], E.x[0]
load "savez.npz"
print J.w[0, 0]
simulate for 2 steps dt 1ms continue
print E.x
X
(cd "$tmp" && "$CAJAL" <session.txt >out 2>err)
status=$?

cat >"$tmp/want_out" <<'X'
-1.161
E.x[0] [4, 1]: mean -0.4164  std 0.1809  min -0.6767  max -0.1935
  -0.6767
  -0.4774
  -0.3181
  -0.1935
-1.161
E.x[0] [4, 1]: mean -0.4164  std 0.1809  min -0.6767  max -0.1935
  -0.6767
  -0.4774
  -0.3181
  -0.1935
-1.161
E.x[0] [4, 1]: mean -0.4164  std 0.1809  min -0.6767  max -0.1935
  -0.6767
  -0.4774
  -0.3181
  -0.1935
0.008415
E.x [1, 3]: mean -1.073  std 1.624  min -3.364  max 0.2192
  -0.07353 -3.364 0.2192
X
cat >"$tmp/want_err" <<'X'
<stdin>:7:22: error: dt must be positive, not 0 s
<stdin>:8:22: error: dt must be positive, not -1 ms
<stdin>:9:32: error: the connection probability p must lie in [0, 1]
<stdin>:10:33: error: the connection probability p must lie in [0, 1]
<stdin>:11:27: error: rank 4 is above the smaller side of E -> E (3)
<stdin>:12:32: error: population E has no 'y'; did you mean 'x'?
<stdin>:13:30: error: unknown name 'F'; did you mean 'E'?
<stdin>:14:1: error: the values of E.x over 2 steps need 48.0 GB, more than the limit of 16.0 GB
<stdin>:15:1: error: tensor 'time' of [100000000000] needs 800.0 GB, more than the limit of 16.0 GB
<stdin>:17:1: error: file 'bad_fortran.npy': Fortran-ordered arrays are not supported; save with np.ascontiguousarray
<stdin>:18:1: error: file 'bad_complex.npy' holds complex numbers (dtype '<c16', complex128); cajal reads only real numbers
<stdin>:19:1: error: file 'bad_object.npy' holds Python objects (dtype '|O', object); cajal reads only arrays of numbers
<stdin>:20:1: error: file 'short_data.npy' is truncated: expected 96 bytes of data, found 22
<stdin>:21:1: error: file 'short_header.npy' is truncated: expected a header of 118 bytes, found 30
<stdin>:22:1: error: 'short.npz' is truncated: the ZIP archive has no end-of-central-directory record
<stdin>:23:1: error: J.w in 'f8_r2.npy' is [3, 4], but J.w is [3, 3]
<stdin>:24:1: error: cannot open 'nothere.npy': no such file
<stdin>:25:1: error: E.x in 'f8_r2.npy' is [3, 4], but E.x has 3 neurons (give [n] or [batch, n])
X
grep -E '^<stdin>:[0-9]+:[0-9]+: error: ' "$tmp/err" >"$tmp/got_err"

[ "$status" = 1 ] || fail "the session ended with status $status, expected 1 (it had errors)"
if ! cmp -s "$tmp/want_out" "$tmp/out"; then
    fail "stdout differs (- expected, + actual)"
    diff "$tmp/want_out" "$tmp/out" | sed 's/^/    /' | head -30
fi
if ! cmp -s "$tmp/want_err" "$tmp/got_err"; then
    fail "errors differ (- expected, + actual)"
    diff "$tmp/want_err" "$tmp/got_err" | sed 's/^/    /' | head -30
fi
grep -q -E 'Segmentation|AddressSanitizer|runtime error' "$tmp/err" && fail "crashed: $(head -3 "$tmp/err")"
[ "$failed" = 0 ] && echo "simulation errors in the REPL: ok"
[ "$failed" = 0 ]

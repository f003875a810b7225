# lib.sh: what the shell tests (tests/cli, tests/repl) start with. Each script
# runs it with  . "$(dirname "$0")/../lib.sh"  and then has:
#   TOP                the source tree
#   CAJAL              the binary under test ($CAJAL, else $TOP/cajal)
#   tmp                a scratch folder, removed when the script exits
#   failed, fail MSG   the count of failures; fail prints FAIL MSG and counts it
#   run STATUS ARGS..  runs cajal ARGS (stdout to $tmp/out, stderr to $tmp/err,
#                      no stdin) and checks its exit status
#   out, err           stdin is the exact expected stdout / stderr of that run
#   err_head N         stdin is the exact first N lines of its stderr
# A script ends with [ "$failed" = 0 ]. One that needs another `run` defines it.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
CAJAL=${CAJAL:-$TOP/cajal}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
failed=0

fail() {
    echo "FAIL $*"
    failed=$((failed + 1))
}

run() {
    want=$1
    shift
    what="cajal $*"
    "$CAJAL" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    status=$?
    if [ "$status" != "$want" ]; then
        fail "$what: exit status $status, expected $want"
        sed 's/^/    /' "$tmp/err" | head -10
    fi
}

same() {
    cat >"$tmp/want"
    if ! cmp -s "$tmp/want" "$tmp/$1"; then
        fail "$what: $1 differs (- expected, + actual)"
        diff "$tmp/want" "$tmp/$1" | sed 's/^/    /' | head -20
    fi
}
out() { same out; }
err() { same err; }
err_head() {
    head -n "$1" "$tmp/err" >"$tmp/err_head"
    same err_head
}

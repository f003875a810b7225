#!/bin/sh
# The command line's own messages and exit statuses: 0 success, 1 an error in
# the script, 2 a usage error (main.c). Each case runs cajal with stdin closed
# and compares status, stdout and stderr exactly.
. "$(dirname "$0")/../lib.sh"

printf 'print 40 + 2\n' >"$tmp/ok.cajal"
printf 'print zzz\n' >"$tmp/bad.cajal"

# --help and --version go to stdout and succeed.
run 0 --help
head -n 1 "$tmp/out" >"$tmp/out1"; cp "$tmp/out1" "$tmp/out"
out <<'X'
usage: cajal [options] [FILE [args...]]
X
err </dev/null
run 0 -h
head -n 1 "$tmp/out" >"$tmp/out1"; cp "$tmp/out1" "$tmp/out"
out <<'X'
usage: cajal [options] [FILE [args...]]
X
run 0 --version
grep -q -E '^cajal [0-9]+\.[0-9]+\.[0-9]+ \((double|float) precision\)$' "$tmp/out" ||
    { echo "FAIL cajal --version: $(cat "$tmp/out")"; failed=$((failed + 1)); }

# Exit statuses: 0, 1 for the script's errors, 2 for usage errors.
run 0 "$tmp/ok.cajal"
out <<'X'
42
X
err </dev/null
run 1 "$tmp/bad.cajal"
run 0 -e 'print 1' -e 'print 2'
out <<'X'
1
2
X
# -e snippets are checked together, as one file is, before any runs; each is
# named by its place on the command line.
run 1 -e 'print 1' -e 'print zzz' -e 'print 3'
out </dev/null
err <<'X'
<-e 2>:1:7: error: unknown name 'zzz'
   1 | print zzz
     |       ^^^
X
run 0 --check "$tmp/ok.cajal"
out </dev/null
run 1 --check "$tmp/bad.cajal"
run 0 --seed 12 "$tmp/ok.cajal"
run 0 --seed 0 -e 'print 1'
run 0 -- "$tmp/ok.cajal"
# Options after the file name go to the script: cajal says so.
run 0 "$tmp/ok.cajal" -e 'print 2'
out <<'X'
42
X
err <<'X'
cajal: warning: '-e' after the file name goes to the script, not to cajal; put options before the file
X

# Unknown options print the usage on stderr.
run 2 --bogus
err_head 2 <<'X'
cajal: unknown option '--bogus'
usage: cajal [options] [FILE [args...]]
X
out </dev/null
run 2 -x "$tmp/ok.cajal"
err_head 1 <<'X'
cajal: unknown option '-x'
X

# Options that take a value.
for opt in -e -D --seed; do
    run 2 "$opt"
    err <<X
cajal: $opt needs a value
X
done
run 2 --dump-ast
err <<'X'
cajal: --dump-ast needs a file: cajal --dump-ast model.cajal
X
run 2 -I
err <<'X'
cajal: -I needs a folder: cajal -I modules model.cajal
X
for bad in abc -1 '' 1x 99999999999999999999999; do
    run 2 --seed "$bad" "$tmp/ok.cajal"
    err <<X
cajal: --seed needs a whole number of zero or more, not '$bad'
X
    out </dev/null
done

# --check is a flag on a file: with -e or nothing it is a usage error.
run 2 --check
err <<'X'
cajal: --check needs a file: cajal --check model.cajal
X
run 2 --check -e 'print 1'
err <<'X'
cajal: --check needs a file: cajal --check model.cajal
X
out </dev/null
run 2 -e 'print 1' "$tmp/ok.cajal"
err <<'X'
cajal: give either a FILE or -e, not both
X
out </dev/null
run 2 -e 'print 1' --check "$tmp/ok.cajal"
err <<'X'
cajal: give either a FILE or -e, not both
X
# --check checks one file: a second is not silently skipped.
run 2 --check "$tmp/ok.cajal" "$tmp/bad.cajal"
err <<X
cajal: --check takes one file, and '$tmp/bad.cajal' follows '$tmp/ok.cajal'; check each with its own cajal --check
X
out </dev/null

# The man page lists every option --help lists.
run 0 --man
for opt in -e -D -I --check --seed --stats --dump-ast --help --version; do
    roff=$(printf '%s' "$opt" | sed 's/-/\\-/g')
    grep -q -F -- "$roff" "$tmp/out" || fail "cajal --man does not list $opt"
done

[ "$failed" = 0 ]

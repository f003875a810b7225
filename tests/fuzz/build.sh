#!/bin/sh
# build.sh: builds build/fuzz/fuzz_check, the libFuzzer target over lexer + parser
# + checker (tests/fuzz/fuzz_check.c), with AddressSanitizer and UBSan.
#
# Run from the top of the tree after `make build/gen/parser.c build/gen/lexer.c`
# (`make fuzz` does both). Every src/*.c is compiled except main.c (its own main)
# and repl.c (GNU readline); the fuzzer needs neither. Objects go to
# build/fuzz/obj and are rebuilt every time: there are few, and a stale object
# built against an old header would fuzz the wrong code.
set -eu

cd "$(dirname "$0")/../.."
TOP=$(pwd)
CC=${FUZZ_CC:-clang}
OUT=build/fuzz
OBJ=$OUT/obj

if ! command -v "$CC" >/dev/null 2>&1; then
    echo "build.sh: $CC not found; run: sh scripts/deps.sh fuzz" >&2
    exit 1
fi
for g in build/gen/parser.c build/gen/lexer.c; do
    if [ ! -f "$g" ]; then
        echo "build.sh: $g is missing; run: make build/gen/parser.c build/gen/lexer.c" >&2
        exit 1
    fi
done

BLAS_INC=""
for d in /usr/include/x86_64-linux-gnu/openblas-pthread "/usr/include/$(gcc -dumpmachine 2>/dev/null)/openblas-pthread" /usr/include/openblas; do
    if [ -d "$d" ]; then
        BLAS_INC="-I$d"
        break
    fi
done

SAN="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-std=c11 -g -O1 $SAN -Wall -Wextra -Wno-unused-parameter"
GEN_CFLAGS="-Wno-unused-function -Wno-sign-compare -Wno-unused-but-set-variable -Wno-unneeded-internal-declaration"
CPPFLAGS="-Iinclude -Ibuild/gen $BLAS_INC -D_GNU_SOURCE -DCAJAL_SANITIZE"
STDLIB_DEF='-DCAJAL_STDLIB="/nonexistent"'
SRCDIR_DEF="-DCAJAL_SRCDIR=\"$TOP\""

rm -rf "$OBJ"
mkdir -p "$OBJ"

# One line per compile: "object source extra-flags"; run two at a time per core.
list=$OBJ/list
: >"$list"
for src in src/*.c; do
    case "$src" in src/main.c | src/repl.c) continue ;; esac
    echo "$OBJ/$(basename "$src" .c).o $src" >>"$list"
done
echo "$OBJ/lexer.o build/gen/lexer.c gen" >>"$list"
echo "$OBJ/parser.o build/gen/parser.c gen" >>"$list"
echo "$OBJ/fuzz_check.o tests/fuzz/fuzz_check.c" >>"$list"

jobs=$(nproc 2>/dev/null || echo 2)
export CC CFLAGS GEN_CFLAGS CPPFLAGS STDLIB_DEF SRCDIR_DEF
# shellcheck disable=SC2016
xargs -P "$jobs" -L 1 sh -c '
    extra=""
    [ "${3:-}" = gen ] && extra=$GEN_CFLAGS
    echo "  CC $2"
    $CC $CPPFLAGS "$STDLIB_DEF" "$SRCDIR_DEF" $CFLAGS $extra -c -o "$1" "$2"
' sh <"$list"

objs=$(cut -d' ' -f1 "$list")
# shellcheck disable=SC2086
$CC $SAN -o $OUT/fuzz_check $objs -lopenblas -lffi -lz -lm -lpthread
echo "built $OUT/fuzz_check"

#!/bin/sh
# The paths of plot_stmt.h that no statement reaches yet (plot loss with a
# training curve, raster from a recording of spikes) and the words of
# `:set plot`: tests/plot/stmt_paths.c, linked against the library that
# `make unit` builds (build/double/libcajal.a, or $CAJAL_LIB).
. "$(dirname "$0")/../lib.sh"
top=$TOP
lib=${CAJAL_LIB:-$top/build/double/libcajal.a}
if [ ! -f "$lib" ]; then
    echo "FAIL plot_paths.sh: $lib is missing (make unit builds it)"
    exit 1
fi
case "$lib" in */float*) prec=-DCAJAL_FLOAT ;; *) prec= ;; esac
case "$lib" in *-san/*) san="-fsanitize=address,undefined" ;; *) san= ;; esac
# shellcheck disable=SC2086
if ! ${CC:-gcc} -std=c11 -g -D_GNU_SOURCE $prec $san -I"$top/include" -I"$top/build/gen" \
    -o "$tmp/stmt_paths" "$top/tests/plot/stmt_paths.c" "$lib" \
    -lopenblas -lreadline -lffi -lz -lm -lpthread 2>"$tmp/cc"; then
    echo "FAIL plot_paths.sh: tests/plot/stmt_paths.c does not build:"
    sed 's/^/    /' "$tmp/cc" | head -20
    exit 1
fi
export CAJAL_STDLIB="$top/stdlib"
unset CAJAL_PLOT
cd "$tmp" || exit 1
"$tmp/stmt_paths" || exit 1
# Nothing but the files asked for, and no temporary left beside them.
left=$(ls -A | grep -v -x -e stmt_paths -e cc -e loss.svg -e raster.png)
if [ -n "$left" ]; then
    echo "FAIL plot_paths.sh: files left behind: $left"
    exit 1
fi

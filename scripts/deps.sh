#!/bin/sh
# deps.sh PURPOSE...: makes sure the Debian packages cajal needs are installed.
#
# PURPOSE is any of: build (compiler, parser generators, libraries), test (what
# the test suite drives: gnuplot, tmux, an XML checker, the Fashion-MNIST files),
# bench (the peers cajal is measured against), fuzz (clang's libFuzzer).
# As root it installs what is missing with apt-get; otherwise it prints the one
# exact command to run and exits 1. A fresh Debian may have nothing but make.
set -eu

pkgs_build="gcc libc6-dev make flex bison libopenblas-dev libreadline-dev libffi-dev zlib1g-dev gnuplot-nox"
pkgs_test="tmux libxml2-utils dataset-fashion-mnist man-db"
pkgs_bench="python3 python3-numpy python3-torch python3-brian time"
pkgs_fixtures="python3 python3-numpy python3-torch"
pkgs_fuzz="clang libclang-rt-14-dev"

want=""
for purpose in "$@"; do
    case "$purpose" in
        build) want="$want $pkgs_build" ;;
        test) want="$want $pkgs_build $pkgs_test" ;;
        bench) want="$want $pkgs_build $pkgs_bench" ;;
        fixtures) want="$want $pkgs_build $pkgs_fixtures" ;;
        fuzz) want="$want $pkgs_build $pkgs_fuzz" ;;
        *) echo "deps.sh: unknown purpose '$purpose' (build, test, bench, fixtures, fuzz)" >&2; exit 2 ;;
    esac
done

missing=""
for p in $want; do
    case " $missing " in *" $p "*) continue ;; esac
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    {
        echo "cajal needs these Debian packages:$missing"
        echo "install them as root with:"
        echo "    apt-get install -y --no-install-recommends$missing"
        echo "(or run this make command as root, which installs them)"
    } >&2
    exit 1
fi

echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! apt-get install -y --no-install-recommends $missing; then
    apt-get update
    apt-get install -y --no-install-recommends $missing
fi

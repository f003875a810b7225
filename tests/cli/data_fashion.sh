#!/bin/sh
# Sequential Fashion-MNIST (examples/data_fashion.cajal): an LSTM of 64 units
# reads 2,000 training images row by row, trains on 1,800 for 800 steps of 32
# and classifies the 200 held out better than 70% (chance: 10%; the run gets
# about 80%). Skips, saying so, where Debian's dataset-fashion-mnist is not
# installed.
. "$(dirname "$0")/../lib.sh"
FM=/usr/share/datasets/fashion-mnist
if [ ! -r "$FM/train-images-idx3-ubyte.gz" ] || [ ! -r "$FM/train-labels-idx1-ubyte.gz" ]; then
    echo "skip: $FM is not installed (Debian's dataset-fashion-mnist)"
    exit 0
fi
if ! (cd "$TOP" && "$CAJAL" examples/data_fashion.cajal >"$tmp/out" 2>"$tmp/err" </dev/null); then
    fail "examples/data_fashion.cajal: exit status not 0"
    sed 's/^/    /' "$tmp/err" | head -10
fi
grep -q '^data fm: idx: 1800 training and 200 test sequences of 28 steps x 28 inputs, 10 classes$' "$tmp/err" ||
    fail "the data set is not 1800 + 200 images of 28 x 28: $(grep '^data' "$tmp/err")"
line=$(sed -n 1p "$tmp/out")
acc=$(printf '%s\n' "$line" | sed -n 's/.* accuracy=\([^ ]*\).*/\1/p')
if [ -z "$acc" ]; then
    fail "no accuracy in the evaluate line '$line'"
else
    awk -v a="$acc" 'BEGIN { exit !(a > 0.70) }' || fail "test accuracy $acc is not above 0.70"
fi
[ "$failed" = 0 ]

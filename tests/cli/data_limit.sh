#!/bin/sh
# `limit N` after a data statement reads only the first N examples (text: its
# first N characters), before shuffle and split; idx's `limit = N` argument does
# the same. A default argument's error (text's split 0.9) points at the call,
# not at the built-in's declaration.
. "$(dirname "$0")/../lib.sh"
TINY=$TOP/tests/data/tiny.txt
FM=/usr/share/datasets/fashion-mnist
# describe STATEMENT: the data statement's description line (stderr).
describe() { "$CAJAL" -e "$1" 2>&1 </dev/null | sed -n 's/^data [a-z]*: //p'; }

d=$(describe "data t = text(\"$TINY\", seq = 2, split = 0.5) limit 8")
[ "$d" = "text: 2 training and 2 test windows of 2 steps x 2 inputs, 8 characters, vocabulary of 2" ] ||
    fail "text limit 8 gave '$d'"
d=$(describe "data t = text(\"$TINY\", seq = 2, split = 0.5) limit 1000")
case $d in *", 10 characters, "*) ;; *) fail "a limit above the file's 10 characters gave '$d'" ;; esac

if [ -r "$FM/train-images-idx3-ubyte.gz" ] && [ -r "$FM/train-labels-idx1-ubyte.gz" ]; then
    files="\"$FM/train-images-idx3-ubyte.gz\", \"$FM/train-labels-idx1-ubyte.gz\""
    want="idx: 90 training and 10 test sequences of 28 steps x 28 inputs, 10 classes"
    d=$(describe "data fm = idx($files) as rows limit 100 split 0.9 shuffle")
    [ "$d" = "$want" ] || fail "idx limit 100 gave '$d'"
    d=$(describe "data fm = idx($files, limit = 100) as rows split 0.9")
    [ "$d" = "$want" ] || fail "idx(..., limit = 100) gave '$d'"
    # both: the clause wins, as split's clause does over text's argument
    d=$(describe "data fm = idx($files, limit = 1000) as rows limit 100 split 0.9")
    [ "$d" = "$want" ] || fail "idx(..., limit = 1000) limit 100: the clause should win, gave '$d'"
else
    echo "skip: the idx cases, $FM is not installed (Debian's dataset-fashion-mnist)"
fi

err=$("$CAJAL" -e "data t = text(\"$TINY\", seq = 2) limit 6" 2>&1 </dev/null)
case $err in
"<command line>:1:10: error: split 0.9 of the 6 characters of '$TINY' leaves 1 held out"*) ;;
*) fail "the default split's error is not at the call: $err" ;;
esac
[ "$failed" = 0 ]

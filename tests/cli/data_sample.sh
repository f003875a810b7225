#!/bin/sh
# sample: text of the right length, from the vocabulary, the same for the same
# seed; and every error it reports. The data is tests/data/tiny.txt (10 bytes,
# vocabulary a, b, c) and a small LSTM trained for 20 steps: the text is not
# good, only reproducible. (tests/cli/data_text.sh samples a trained model.)
. "$(dirname "$0")/../lib.sh"

# The model, trained; SEED and the statements under test are appended.
model() {
    cat <<X
import "lstm"
seed $1
data t = text("$TOP/tests/data/tiny.txt", seq = 4, split = 0.7)
input u[3]
output z[3]
population L = LSTM(8) from u
synapse L -> z { w ~ normal(0, 0.1); learn }
cost fit = cross_entropy(z, target)
train on t with adam(lr = 1e-2) batch 4 steps 20
X
}

# run NAME: runs NAME.cajal in tmp, stdout to NAME.out, stderr to NAME.err.
run() {
    (cd "$tmp" && "$CAJAL" "$1.cajal" >"$1.out" 2>"$1.err" </dev/null)
}

# Length and vocabulary: the prompt, then exactly `length` characters, a newline.
{ model 3; echo 'sample t(prompt = "ab", length = 30, temperature = 0.8)'; } >"$tmp/a.cajal"
run a || { fail "sample: exit status not 0"; sed 's/^/    /' "$tmp/a.err" | head -10; }
text=$(cat "$tmp/a.out")
[ "$(wc -c <"$tmp/a.out")" -eq 33 ] || fail "sample printed '$text', not 2 + 30 characters and a newline"
case "$text" in ab*) ;; *) fail "sample's text '$text' does not start with its prompt" ;; esac
[ -z "$(printf '%s' "$text" | tr -d 'abc')" ] || fail "sample's text '$text' has characters outside the vocabulary abc"

# The same seed gives the same text, in another run and in the same run.
{ model 3; echo 'sample t(prompt = "ab", length = 30, temperature = 0.8)'; \
  echo 'sample t("ab", 30, 0.8)'; } >"$tmp/b.cajal"
run b || fail "sample twice: exit status not 0"
[ "$(sed -n 1p "$tmp/b.out")" = "$text" ] || fail "the same seed gave '$(sed -n 1p "$tmp/b.out")', then '$text'"
[ "$(sed -n 2p "$tmp/b.out")" = "$text" ] || fail "positional arguments gave '$(sed -n 2p "$tmp/b.out")', not '$text'"
# Another seed, another text (a model trained from other weights, other draws).
{ model 4; echo 'sample t(prompt = "ab", length = 30, temperature = 0.8)'; } >"$tmp/c.cajal"
run c || fail "sample with seed 4: exit status not 0"
[ "$(cat "$tmp/c.out")" != "$text" ] || fail "seeds 3 and 4 gave the same text '$text'"
# The default length is 200.
{ model 3; echo 'sample t(prompt = "c")'; } >"$tmp/d.cajal"
run d || fail "sample with the default length: exit status not 0"
[ "$(wc -c <"$tmp/d.out")" -eq 202 ] || fail "sample's default length gave $(wc -c <"$tmp/d.out") bytes, not 1 + 200 + newline"

# Errors: STATEMENT, then the message it must give (line 10 is the statement).
check_error() {
    { model 3; printf '%s\n' "$1"; } >"$tmp/e.cajal"
    run e
    status=$?
    got=$(grep ': error: ' "$tmp/e.err" | head -1)
    [ "$status" -eq 1 ] || fail "'$1': exit status $status, not 1"
    [ "$got" = "e.cajal:$2" ] || fail "'$1' reported '$got', not 'e.cajal:$2'"
    [ -s "$tmp/e.out" ] && fail "'$1' printed '$(cat "$tmp/e.out")' although it failed"
}
check_error 'sample t(prompt = "abd")' \
    "10:19: error: the prompt's character 'd' never occurs in the text of 't', so the model has no input for it"
check_error 'sample t(prompt = "a\n")' \
    "10:19: error: the prompt's character '\\n' never occurs in the text of 't', so the model has no input for it"
check_error 'sample t(prompt = "a", temperature = 0)' \
    "10:38: error: temperature must be greater than 0 (1 samples the model's own distribution), not 0"
check_error 'sample t(prompt = "a", temperature = -1)' \
    "10:38: error: temperature must be greater than 0 (1 samples the model's own distribution), not -1"
check_error 'sample t(prompt = "a", length = 0)' \
    "10:33: error: length is how many characters to generate, a whole number from 1 to 10000000, not 0"
check_error 'sample t(prompt = "a", length = 2.5)' \
    "10:33: error: length is how many characters to generate, a whole number from 1 to 10000000, not 2.5"
check_error 'sample t(prompt = "a", length = 10000001)' \
    "10:33: error: length is how many characters to generate, a whole number from 1 to 10000000, not 10000001"
check_error 'sample t(prompt = "a", length = 3ms)' \
    "10:33: error: length is a number without unit, not a time (ms)"
check_error 'sample t(prompt = "a", temprature = 1)' \
    "10:24: error: sample has no parameter 'temprature'; did you mean 'temperature'?"
check_error 'sample t(prompt = "a", colour = 1)' \
    "10:24: error: sample has no parameter 'colour'; its parameters are prompt, length, temperature"
check_error 'sample t(prompt = "")' \
    "10:19: error: the prompt is empty; the model needs at least one character to start from"
check_error 'sample t(prompt = 3)' \
    "10:19: error: the prompt is text in quotes, as in prompt = \"The \""
check_error 'sample t' \
    "10:8: error: sample needs a prompt to start from, as in t(prompt = \"The \")"
check_error 'sample t("a", 3, 1, 4)' \
    "10:21: error: too many arguments: sample takes prompt, length and temperature"
check_error 'sample t("a", prompt = "b")' \
    "10:24: error: prompt is given twice in t(...)"
check_error 'sample t(length = 3, "a")' \
    "10:22: error: a positional argument cannot follow a named one in t(...)"
check_error 'sample t(prompt = "a"), length = 3' \
    "10:25: error: sample takes a text data set and its settings, as in sample t(prompt = \"The \", length = 200, temperature = 0.8)"
check_error 'sample 3' \
    "10:8: error: sample takes a text data set and its settings, as in sample t(prompt = \"The \", length = 200, temperature = 0.8)"
check_error 'sample q(prompt = "a")' \
    "10:8: error: unknown data set 'q'; did you mean 't'?"
check_error 'sample u(prompt = "a")' \
    "10:8: error: 'u' is an input, not a data set; sample needs a text data set"
check_error "data c = csv(\"$TOP/tests/data/series.csv\")
sample c(prompt = \"a\")" \
    "11:8: error: 'c' is read by csv, not text; sample generates characters from a text data set"
check_error 'output y[2]
sample t(prompt = "a")' \
    "11:8: error: sample feeds characters to one input and reads logits from one output; the model has 1 input and 2 outputs"
# A vocabulary of 3 characters, and a model that reads 4.
{ model 3 | sed 's/^input u\[3\]/input u[4]/; /^train/d'; echo 'sample t(prompt = "a")'; } >"$tmp/e.cajal"
run e
got=$(grep ': error: ' "$tmp/e.err" | head -1)
[ "$got" = "e.cajal:9:8: error: the vocabulary of 't' has 3 characters but input u has 4" ] ||
    fail "a model of 4 inputs reported '$got'"

[ "$failed" = 0 ]

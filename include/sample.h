/* sample.h: the sample statement, text from a trained character model.
 *
 *   data t = text("/usr/share/common-licenses/GPL-3", seq = 100, split = 0.9)
 *   ...                                  # input u[V], output z[V], cross_entropy
 *   train on t with adam(lr = 1e-2) batch 32 steps 400
 *   sample t(prompt = "The ", length = 200, temperature = 0.8)
 *
 * The argument is one call whose callee names a text data set; its arguments
 * are, positionally or by name,
 *
 *   prompt        the characters fed first (a string; at least one character)
 *   length        how many characters to generate (default 200)
 *   temperature   divides the logits before the softmax (default 1)
 *
 * The model runs one character a step, as it was trained: the character of
 * step t goes in one-hot, the model's one output is read as the logits of the
 * character of step t + 1. The prompt is fed first; from its last character on,
 * each next character is drawn from softmax(logits / temperature) with the
 * run's seed (stream "sample"), and fed back. The prompt and the generated
 * characters go to `out` as they are (bytes), then a newline. The same seed,
 * parameters and arguments give the same text.
 */
#ifndef CAJAL_SAMPLE_H
#define CAJAL_SAMPLE_H

#include "runtime.h"

#include <stdio.h>

/* Checks a sample statement before anything runs: the shape of the argument,
 * that its callee is a data set declared with `text(...)`, the parameters'
 * names (with "did you mean"), and their values (a non-empty prompt string, a
 * whole length >= 1, a temperature > 0, none with a unit). Returns false after
 * reporting at the argument at fault. */
bool sample_check(Checker *c, const Node *st);

/* Runs it: generates the text and prints it to `out`. Returns false after
 * reporting (the data set not opened or not text, the model's input or output
 * size not the vocabulary's, a prompt character missing from the vocabulary,
 * the errors sample_check finds, an interrupt); what was generated before an
 * interrupt is printed. Nothing stays allocated. */
bool sample_stmt(Runtime *rt, const Env *env, const Node *st, FILE *out, Diags *d);

#endif

/* torch_map.h: weights of PyTorch's recurrent modules into cajal's cells.
 *
 *   load "lstm.npz" as torch_lstm     a saved nn.LSTM state_dict
 *   load "gru.npz" as torch_gru       a saved nn.GRU state_dict
 *
 * The file holds the module's state_dict as numpy.savez writes it (keys
 * weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, then _l1, ...; a common
 * prefix such as "rnn." is allowed). Layer k fills the k-th population, in
 * declaration order, whose cell has the module's gates (docs/cells.md):
 *
 *   torch_lstm  gates i, f, o and one candidate (z), each affine(in, h), one
 *               call site each: the stdlib's LSTM and SubLSTM
 *   torch_gru   gates r, z, each affine(in, h), and a candidate with two call
 *               sites, affine(in) and affine(h): the stdlib's GRU
 *
 * PyTorch stacks the gates' rows (i, f, g, o; r, z, n) and gives every gate two
 * biases; a cell's gate has one bias, which gets bias_ih + bias_hh, except the
 * GRU candidate's two call sites, which keep b_in and b_hn apart.
 */
#ifndef CAJAL_TORCH_MAP_H
#define CAJAL_TORCH_MAP_H

#include "diag.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct Model Model;   /* model.h; the checker asks torch_map_known only */

/* True when `mapping` names a weight mapping ("torch_lstm", "torch_gru"). If
 * not and near is given, *near is the closest name or NULL (for "did you mean"). */
bool torch_map_known(const char *mapping, const char **near);
/* Writes the mappings' names into buf, as "torch_rnn, torch_lstm or torch_gru". */
void torch_map_names(char *buf, size_t n);

/* Fills the parameters of the model's matching cell populations from the .npz
 * file at path. Every shape is checked before anything is written: on failure
 * (an error naming the parameter and both shapes, a missing key, a layer count
 * that differs from the model's) the model is unchanged. Keys the mapping does
 * not use are listed in a note. Returns false after reporting. */
bool torch_map_load(Model *m, const char *mapping, const char *path, Diags *d, Span at);

#endif

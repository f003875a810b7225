#!/bin/sh
# :help pages for what is not a statement: the prelude's models and rules (read
# from their declarations, so they cannot drift), a user's own model (a
# comment typed as its own entry is not part of it), :set, and
# a "no help" that says where to look.
. "$(dirname "$0")/../lib.sh"

printf '%s\n' ':help Rate' ':help hebb' ':help lif' ':help data' \
    '# a unit that only remembers' 'neuron Mem(k = 2) {' "  v' = v + in" '  out v' '}' ':help Mem' \
    ':help set' ':help zzzzzzzz' >"$tmp/in"
what="cajal < help"
"$CAJAL" <"$tmp/in" 2>"$tmp/err" | sed 's|^  (.*/stdlib/prelude.cajal:|  (prelude.cajal:|' >"$tmp/out"
out <<'X'
neuron Rate(tau = 10ms, phi = tanh)

  A rate neuron (Dayan and Abbott 2001, ch. 7): x low-pass filters its input,
  r = phi(x) is what synapses read.

  (prelude.cajal:7)
plasticity hebb(eta)

  Hebb (1949): strengthen what fires together; grows without bound.

  (prelude.cajal:26)
neuron LIF(tau = 20ms, v_rest = -70mV, v_th = -50mV, v_reset = -60mV, t_ref = 2ms)

  Leaky integrate-and-fire (Lapicque 1907; Gerstner et al. 2014, ch. 1).

  (prelude.cajal:20)
data NAME = READER(FILES) [as rows] [scale X] [split F] [shuffle] [limit N]

  A data set read from files: idx, npy, npz, csv, text.
neuron Mem(k = 2)

  (<stdin>:6)
:set plot text|sixel|auto  |  :set plot

  REPL only: how plots appear in this terminal (text characters, sixel graphics, or chosen from the terminal); :set plot alone shows the current choice.
no help for 'zzzzzzzz'; :help lists the topics, :names what is declared, docs/language.md the language
X
err </dev/null

# The overview names :set and the declared models.
printf ':help\n' | "$CAJAL" >"$tmp/out" 2>&1
grep -q ':set plot MODE' "$tmp/out" || fail ":help does not list :set"
grep -q ' set repl' "$tmp/out" || fail ":help does not list the set topic"

[ "$failed" = 0 ]

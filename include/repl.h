/* repl.h: the interactive loop (and statements piped in on stdin). */
#ifndef CAJAL_REPL_H
#define CAJAL_REPL_H

#include "interp.h"

/* Reads and runs entries until :quit or end of input. Returns the exit status:
 * 0 for a terminal session; for piped input, 1 if any entry failed. */
int repl_run(Interp *in);

#endif

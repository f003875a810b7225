/* interp.h: the one interpreter that scripts, `-e` and the REPL share.
 *
 * A source is parsed whole, then each statement is checked against the
 * environment and, when the whole source checked clean, run in order. A
 * statement typed in the REPL does exactly what it does in a file; the REPL
 * only adds that a bare expression prints its value, and that a failed entry
 * is rolled back (arena and environment) so it leaves nothing behind.
 */
#ifndef CAJAL_INTERP_H
#define CAJAL_INTERP_H

#include "check.h"
#include "modules.h"
#include "runtime.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

typedef enum InterpStatus { INTERP_OK, INTERP_ERROR, INTERP_INCOMPLETE } InterpStatus;

typedef struct Interp {
    Arena arena;
    Env env;
    Diags diags;
    Checker checker;
    ModulePath paths;
    Define *defines;
    int ndefines;
    char **imported;          /* real paths of modules already imported */
    int nimported;
    char **importing;         /* the chain of imports being checked, for cycles */
    int nimporting;
    uint64_t seed;
    bool seed_fixed;          /* --seed: the script's seed statements reset to it */
    bool check_only;          /* --check: parse and check, never run */
    bool interactive;         /* REPL: bare expressions print, entries roll back */
    bool color;               /* diagnostics in colour (stderr is a terminal) */
    FILE *out;                /* where print writes */
    Runtime rt;               /* the model, its state and recordings */
    bool check_defines;       /* the next source checked is the script -D refers to */
    bool usage_error;         /* the last failure was a usage error (exit status 2) */
} Interp;

/* Set by the SIGINT handler; long statements poll it and stop cleanly. */
extern volatile sig_atomic_t interp_interrupted;

void interp_init(Interp *in);
/* For scripts: Ctrl-C stops the running statement cleanly; a second one ends cajal. */
void interp_catch_interrupts(void);
void interp_fini(Interp *in);

/* -D name=value; false (after reporting) when the text is not name=expression. */
bool interp_define(Interp *in, const char *text);
/* After a script: every -D must have met its let. Reports the unused ones. */
bool interp_defines_used(Interp *in);

/* Loads stdlib/prelude.cajal (Rate, LIF, hebb, oja, ...) quietly. */
bool interp_load_prelude(Interp *in);

/* Parses, checks and runs one source text; diagnostics are printed to stderr.
 * INTERP_INCOMPLETE (REPL only) means the input ended inside an open construct
 * and nothing was run. */
InterpStatus interp_exec(Interp *in, SourceFile *f);
/* The same for several sources run as one (the -e snippets): all are parsed
 * and checked, and -D checked against their lets, before the first runs. */
InterpStatus interp_exec_all(Interp *in, SourceFile *const *f, int n);

/* Runs a script file: a missing, unreadable or directory path is reported. */
InterpStatus interp_exec_file(Interp *in, const char *path);

/* Prints and clears the pending diagnostics. */
void interp_flush(Interp *in);

#endif

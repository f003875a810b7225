/* fuzz_check.c: libFuzzer target over lexer + parser + checker (issue 3, "Bad input").
 *
 * One Interp lives for the whole fuzzing process, with the prelude loaded once,
 * as `cajal --check` and the REPL have it. Each input is one source text:
 *
 *   mark arena and environment -> source_new("<fuzz>") -> interp_exec (check only)
 *   -> print the diagnostics (counted) -> clear them -> roll back to the marks
 *
 * Printing is kept, into a sink that only counts bytes, because the caret and
 * line-window code in diag.c is where 10 MB lines, NULs and broken UTF-8 end up;
 * one diagnostic printing more than FUZZ_DIAG_MAX bytes (default 16384; 0 turns
 * the check off) aborts, since diag.c promises a window around the span, not
 * the whole line (a 10 MB line echoed byte by byte to stderr takes a minute).
 *
 * The first byte picks the mode, the input itself is passed whole: bit 0 set
 * runs it as a REPL entry (interactive, which rolls back on errors by itself),
 * bit 1 prints the diagnostics in colour.
 *
 * After each input the harness checks the REPL's promise that a bad entry leaves
 * nothing behind: the environment holds exactly the prelude's declarations, none
 * of them dead, and the arena is back at its mark. A broken promise aborts, so
 * libFuzzer keeps the input as a crash.
 *
 * Known growth: source_new registers every source until exit and intern() keeps
 * every name, so memory grows with the number of inputs; run.sh runs short
 * jobs (120 s), which bounds it.
 */
#include "builtins.h"
#include "interp.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static Interp the;
static FILE *devnull;          /* where print and notices go */
static FILE *sink;             /* where diagnostics go: counted, then dropped */
static size_t sink_bytes;
static size_t diag_max = 16384;
static int prelude_n;          /* declarations the prelude made */
static Decl **prelude_v;       /* and which they are */

static void quiet_notice(void *self, const char *msg)
{
    (void)self;
    fputs(msg, devnull);
}

static ssize_t sink_write(void *cookie, const char *buf, size_t n)
{
    (void)cookie;
    (void)buf;
    sink_bytes += n;
    return (ssize_t)n;
}

static void broken(const char *what)
{
    fprintf(stderr, "fuzz_check: rollback left state behind: %s\n", what);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    devnull = fopen("/dev/null", "w");
    if (!devnull) {
        perror("fuzz_check: /dev/null");
        exit(1);
    }
    sink = fopencookie(NULL, "w", (cookie_io_functions_t){ .write = sink_write });
    if (!sink) {
        perror("fuzz_check: fopencookie");
        exit(1);
    }
    const char *limit = getenv("FUZZ_DIAG_MAX");
    if (limit)
        diag_max = strtoull(limit, NULL, 10);
    interp_init(&the);
    builtins_init();
    if (!interp_load_prelude(&the)) {
        diags_print(&the.diags, stderr, false);
        fprintf(stderr, "fuzz_check: the prelude does not load; fix it before fuzzing\n");
        exit(1);
    }
    diags_clear(&the.diags);
    the.check_only = true;
    the.out = devnull;
    the.checker.notice = quiet_notice;
    prelude_n = the.env.n;
    prelude_v = malloc((size_t)(prelude_n ? prelude_n : 1) * sizeof *prelude_v);
    memcpy(prelude_v, the.env.v, (size_t)prelude_n * sizeof *prelude_v);
    for (int i = 0; i < prelude_n; i++)
        if (prelude_v[i]->dead)
            broken("the prelude declares a name twice");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned mode = size ? data[0] : 0;
    ArenaMark arena = arena_mark(&the.arena);
    EnvMark env = env_mark(&the.env);
    int nimported = the.nimported;

    the.interactive = mode & 1;
    SourceFile *f = source_new("<fuzz>", (const char *)data, size);
    interp_exec(&the, f);
    for (int i = 0; i < the.diags.n; i++) {
        sink_bytes = 0;
        diag_print_one(&the.diags.v[i], sink, mode & 2);
        fflush(sink);
        if (diag_max && sink_bytes > diag_max) {
            fprintf(stderr, "fuzz_check: one diagnostic printed %zu bytes (FUZZ_DIAG_MAX is %zu): %.200s\n", sink_bytes,
                    diag_max, the.diags.v[i].msg);
            abort();
        }
    }
    diags_clear(&the.diags);

    env_rollback(&the.env, env);
    while (the.nimported > nimported)
        free(the.imported[--the.nimported]);
    arena_release(&the.arena, arena);
    interp_interrupted = 0;

    if (the.env.n != prelude_n)
        broken("declarations survived the rollback");
    for (int i = 0; i < prelude_n; i++)
        if (the.env.v[i] != prelude_v[i] || the.env.v[i]->dead)
            broken("a prelude declaration was replaced or killed");
    if (the.nimporting != 0)
        broken("an import chain was left open");
    if (the.arena.total != arena.total || the.arena.head != arena.block)
        broken("the arena did not return to its mark");
    return 0;
}

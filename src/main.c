/* main.c: the command line.
 *
 *   cajal FILE [args]       run a script
 *   cajal                   the REPL (or read statements from a pipe)
 *   cajal -e 'STATEMENTS'   run statements given on the command line
 *   cajal --check FILE      parse and check only: never runs, reads no data
 *
 * Exit status: 0 success, 1 an error in the script, 2 a usage error.
 */
#include "builtins.h"
#include "help.h"
#include "interp.h"
#include "lex.h"
#include "real.h"
#include "repl.h"
#include "tensor.h"
#include "xalloc.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CAJAL_VERSION "0.1.0"

enum { EXIT_SCRIPT = 1, EXIT_USAGE = 2 };

static void usage(FILE *out)
{
    fprintf(out,
            "usage: cajal [options] [FILE [args...]]\n"
            "       cajal [options] -e 'STATEMENTS'\n"
            "\n"
            "Runs a cajal model script, or starts the REPL when no FILE is given.\n"
            "\n"
            "options:\n"
            "  -e STATEMENTS     run these statements (may be repeated)\n"
            "  -D NAME=VALUE     override 'let NAME' (e.g. -D N=256 -D tau=20ms)\n"
            "  -I DIR            look for imported modules in DIR (also $CAJAL_PATH)\n"
            "  --check           parse and check FILE without running it\n"
            "  --seed N          seed of the random generator (default 1); overrides the script's seed\n"
            "  --stats           print each run's timing and memory on stderr\n"
            "  --dump-ast FILE   print the syntax tree of FILE\n"
            "  --help            this text\n"
            "  --version         the version\n"
            "\n"
            "In the REPL, :help lists the language; see also man cajal.\n");
}

static bool use_color(void)
{
    const char *term = getenv("TERM");
    return isatty(2) && !getenv("NO_COLOR") && term && strcmp(term, "dumb") != 0;
}

static int finish(Interp *in, int status)
{
    interp_flush(in);
    interp_fini(in);
    builtins_fini();
    intern_free_all();
    source_free_all();
    return status;
}

static int dump_ast(const char *path)
{
    const char *why;
    SourceFile *f = source_read(path, &why);
    if (!f) {
        fprintf(stderr, "cajal: error: cannot read '%s': %s\n", path, why);
        return EXIT_SCRIPT;
    }
    Arena a;
    arena_init(&a);
    Diags d;
    diags_init(&d);
    Node *prog = parse_source(f, &a, &d, NULL);
    for (int i = 0; i < prog->body.n; i++) {
        ast_dump(prog->body.v[i], stdout);
        putchar('\n');
    }
    diags_print(&d, stderr, false);
    int status = d.errors ? EXIT_SCRIPT : 0;
    diags_fini(&d);
    arena_fini(&a);
    return status;
}

int main(int argc, char **argv)
{
    /* A file-size limit is an error to report when writing, not a reason to die. */
    signal(SIGXFSZ, SIG_IGN);
    /* No single tensor may ask for more than most of this machine's memory. */
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    if (pages > 0 && page > 0 && (double)pages * (double)page * 0.8 < (double)tensor_max_bytes)
        tensor_max_bytes = (int64_t)((double)pages * (double)page * 0.8);
    Interp in;
    interp_init(&in);
    in.color = use_color();
    builtins_init();

    const char *script = NULL;
    bool check_only = false;
    const char **snippets = xcalloc((size_t)argc + 1, sizeof *snippets);
    int nsnippets = 0;
    int status = 0;

    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || !a[1]) {
            script = a;
            i++;
            break;
        }
        if (!strcmp(a, "--")) {
            if (i + 1 < argc)
                script = argv[++i];
            i++;
            break;
        }
        const char *value = NULL;
        bool takes = !strcmp(a, "-e") || !strcmp(a, "-D") || !strcmp(a, "-I") || !strcmp(a, "--seed") ||
                     !strcmp(a, "--dump-ast");
        if (!takes && (!strncmp(a, "-D", 2) || !strncmp(a, "-I", 2) || !strncmp(a, "-e", 2)) && a[2]) {
            value = a + 2;
        } else if (takes) {
            if (i + 1 >= argc) {
                if (!strcmp(a, "--dump-ast"))
                    fprintf(stderr, "cajal: --dump-ast needs a file: cajal --dump-ast model.cajal\n");
                else if (!strcmp(a, "-I"))
                    fprintf(stderr, "cajal: -I needs a folder: cajal -I modules model.cajal\n");
                else
                    fprintf(stderr, "cajal: %s needs a value\n", a);
                free(snippets);
                return finish(&in, EXIT_USAGE);
            }
            value = argv[++i];
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            free(snippets);
            return finish(&in, 0);
        } else if (!strcmp(a, "--version")) {
            printf("cajal %s (%s precision)\n", CAJAL_VERSION, REAL_NAME);
            free(snippets);
            return finish(&in, 0);
        } else if (!strcmp(a, "--man")) {
            help_man_page(stdout);
            free(snippets);
            return finish(&in, 0);
        } else if (!strncmp(a, "-e", 2)) {
            snippets[nsnippets++] = value;
        } else if (!strncmp(a, "-D", 2)) {
            if (!interp_define(&in, value)) {
                free(snippets);
                return finish(&in, EXIT_USAGE);
            }
        } else if (!strncmp(a, "-I", 2)) {
            modules_add(&in.paths, value);
        } else if (!strcmp(a, "--check")) {
            check_only = true;
        } else if (!strcmp(a, "--stats")) {
            in.rt.stats = true;
        } else if (!strcmp(a, "--dump-ast")) {
            free(snippets);
            int s = dump_ast(value);
            return finish(&in, s);
        } else if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(value, &end, 10);
            if (errno || *end || value[0] == '-' || !value[0]) {
                fprintf(stderr, "cajal: --seed needs a whole number of zero or more, not '%s'\n", value);
                free(snippets);
                return finish(&in, EXIT_USAGE);
            }
            in.seed = s;
            in.seed_fixed = true;
        } else {
            fprintf(stderr, "cajal: unknown option '%s'\n", a);
            usage(stderr);
            free(snippets);
            return finish(&in, EXIT_USAGE);
        }
    }
    if (check_only && !script) {
        fprintf(stderr, "cajal: --check needs a file: cajal --check model.cajal\n");
        free(snippets);
        return finish(&in, EXIT_USAGE);
    }
    if (check_only && i < argc) {
        /* a script's own arguments mean nothing to a check: a second name is a file */
        fprintf(stderr, "cajal: --check takes one file, and '%s' follows '%s'; check each with its own cajal --check\n", argv[i],
                script);
        free(snippets);
        return finish(&in, EXIT_USAGE);
    }
    if (script && nsnippets) {
        fprintf(stderr, "cajal: give either a FILE or -e, not both\n");
        free(snippets);
        return finish(&in, EXIT_USAGE);
    }
    modules_add_list(&in.paths, getenv("CAJAL_PATH"));

    if (!interp_load_prelude(&in)) {
        free(snippets);
        return finish(&in, EXIT_SCRIPT);
    }

    for (int k = i; script && k < argc; k++)
        if (!strncmp(argv[k], "-D", 2) || !strncmp(argv[k], "-I", 2) || !strncmp(argv[k], "-e", 2) || !strcmp(argv[k], "--seed") ||
            !strcmp(argv[k], "--check"))
            fprintf(stderr, "cajal: warning: '%s' after the file name goes to the script, not to cajal; put options before the file\n",
                    argv[k]);
    if (script || nsnippets)
        interp_catch_interrupts();
    if (script) {
        in.check_only = check_only;
        in.check_defines = true;
        status = interp_exec_file(&in, script) == INTERP_OK ? 0 : in.usage_error ? EXIT_USAGE : EXIT_SCRIPT;
    } else if (nsnippets) {
        /* One -e is "<command line>"; several are told apart as "<-e 2>". */
        SourceFile **files = xcalloc((size_t)nsnippets, sizeof *files);
        for (int k = 0; k < nsnippets; k++) {
            char name[32] = "<command line>";
            if (nsnippets > 1)
                snprintf(name, sizeof name, "<-e %d>", k + 1);
            files[k] = source_new(name, snippets[k], strlen(snippets[k]));
        }
        in.check_defines = true;
        status = interp_exec_all(&in, files, nsnippets) == INTERP_OK ? 0 : in.usage_error ? EXIT_USAGE : EXIT_SCRIPT;
        free(files);
    } else {
        status = repl_run(&in);
    }
    free(snippets);
    return finish(&in, status);
}

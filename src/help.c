/* help.c: help pages and the man page from one source (help.def, builtins.def). */
#include "help.h"
#include "builtins.h"
#include "diag.h"

#include <string.h>

typedef struct HelpPage {
    const char *topic, *syntax, *text;
} HelpPage;

static const HelpPage pages[] = {
#define HELP(topic, syntax, text) { topic, syntax, text },
#include "help.def"
#undef HELP
};

enum { NPAGES = sizeof pages / sizeof *pages };

const char *help_topic_at(int i) { return i >= 0 && i < NPAGES ? pages[i].topic : NULL; }

static void list_builtins(FILE *out, BuiltinKind kind)
{
    for (int i = 0; builtin_at(i); i++) {
        const Builtin *b = builtin_at(i);
        if (b->kind == kind)
            fprintf(out, "  %s(%s)\n      %s\n", b->name, b->params_text, b->help);
    }
}

/* Plural topics that list a kind of built-in: ":help tasks". */
static const struct {
    const char *topic;
    BuiltinKind kind;
} kind_topics[] = {
    { "functions", B_FUNC }, { "costs", B_COST }, { "distributions", B_DIST }, { "tasks", B_TASK },
    { "optimizers", B_OPT }, { "schedules", B_SCHED }, { "readers", B_READER }, { "methods", B_METHOD },
    { "credit", B_CREDIT },
};

bool help_has(const char *name)
{
    for (int i = 0; i < NPAGES; i++)
        if (strcmp(pages[i].topic, name) == 0)
            return true;
    for (size_t i = 0; i < sizeof kind_topics / sizeof *kind_topics; i++)
        if (strcmp(kind_topics[i].topic, name) == 0)
            return true;
    for (int i = 0; builtin_at(i); i++)
        if (strcmp(builtin_at(i)->name, name) == 0)
            return true;
    return false;
}

bool help_show(FILE *out, const char *topic)
{
    while (topic && *topic == ' ')
        topic++;
    if (!topic || !*topic) {
        fprintf(out, "cajal: neural-circuit models that read like the slide.\n\nStatements and topics (:help TOPIC):\n ");
        for (int i = 0; i < NPAGES; i++)
            fprintf(out, " %s", pages[i].topic);
        fprintf(out, "\nBuilt-ins by kind:\n ");
        for (size_t i = 0; i < sizeof kind_topics / sizeof *kind_topics; i++)
            fprintf(out, " %s", kind_topics[i].topic);
        fprintf(out, "\nREPL commands: :help [TOPIC]  :names  :load FILE  :set plot MODE  :reset  :quit\n"
                     "Models and rules of the prelude (Rate, LIF, hebb, oja, ...) and your own: :help NAME\n");
        return true;
    }
    char name[64];
    snprintf(name, sizeof name, "%s", topic);
    size_t n = strlen(name);
    while (n && (name[n - 1] == ' ' || name[n - 1] == '\n'))
        name[--n] = 0;
    for (int i = 0; i < NPAGES; i++)
        if (strcmp(pages[i].topic, name) == 0) {
            fprintf(out, "%s\n\n  %s\n", pages[i].syntax, pages[i].text);
            return true;
        }
    for (size_t i = 0; i < sizeof kind_topics / sizeof *kind_topics; i++)
        if (strcmp(kind_topics[i].topic, name) == 0) {
            fprintf(out, "%s:\n", kind_topics[i].topic);
            list_builtins(out, kind_topics[i].kind);
            return true;
        }
    for (int i = 0; builtin_at(i); i++) {
        const Builtin *b = builtin_at(i);
        if (strcmp(b->name, name) == 0) {
            fprintf(out, "%s(%s)  [%s]\n\n  %s\n", b->name, b->params_text, builtin_kind_word(b->kind), b->help);
            return true;
        }
    }
    const char *cands[256];
    int k = 0;
    for (int i = 0; i < NPAGES; i++)
        cands[k++] = pages[i].topic;
    for (int i = 0; builtin_at(i) && k < 256; i++)
        cands[k++] = builtin_at(i)->name;
    const char *near = diag_closest(name, cands, k);
    if (near)
        fprintf(out, "no help for '%s'; did you mean '%s'? (:names lists what is declared; docs/language.md is the reference)\n",
                name, near);
    else
        fprintf(out, "no help for '%s'; :help lists the topics, :names what is declared, docs/language.md the language\n", name);
    return false;
}

/* roff needs backslashes and leading dots escaped. */
static void roff(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", out);
        else if (*s == '-')
            fputs("\\-", out);
        else
            fputc(*s, out);
    }
}

void help_man_page(FILE *out)
{
    fputs(".TH CAJAL 1 \"\" \"cajal\" \"User Commands\"\n"
          ".SH NAME\ncajal \\- neural\\-circuit models that read like the slide\n"
          ".SH SYNOPSIS\n.B cajal\n[\\fIoptions\\fR] [\\fIFILE\\fR [\\fIargs\\fR...]]\n.br\n"
          ".B cajal\n[\\fIoptions\\fR] \\-e \\fISTATEMENTS\\fR\n"
          ".SH DESCRIPTION\nRuns a cajal model script, or starts the interactive REPL when no FILE is given.\n"
          ".SH OPTIONS\n"
          ".TP\n\\-e \\fISTATEMENTS\\fR\nrun these statements\n"
          ".TP\n\\-D \\fINAME=VALUE\\fR\noverride \\fBlet\\fR NAME\n"
          ".TP\n\\-I \\fIDIR\\fR\nlook for imported modules in DIR (also $CAJAL_PATH)\n"
          ".TP\n\\-\\-check \\fIFILE\\fR\nparse and check without running\n"
          ".TP\n\\-\\-seed \\fIN\\fR\nseed of the random generator\n"
          ".TP\n\\-\\-stats\nprint each run's timing and memory on stderr\n"
          ".TP\n\\-\\-dump\\-ast \\fIFILE\\fR\nprint the syntax tree of FILE\n"
          ".TP\n\\-\\-help, \\-\\-version\n"
          ".SH EXIT STATUS\n0 on success, 1 for an error in the script, 2 for a usage error.\n"
          ".SH LANGUAGE\n", out);
    for (int i = 0; i < NPAGES; i++) {
        fputs(".TP\n.B ", out);
        roff(out, pages[i].syntax);
        fputc('\n', out);
        roff(out, pages[i].text);
        fputc('\n', out);
    }
    for (size_t k = 0; k < sizeof kind_topics / sizeof *kind_topics; k++) {
        fputs(".SH ", out);
        for (const char *s = kind_topics[k].topic; *s; s++)
            fputc(*s >= 'a' && *s <= 'z' ? *s - 32 : *s, out);
        fputc('\n', out);
        for (int i = 0; builtin_at(i); i++) {
            const Builtin *b = builtin_at(i);
            if (b->kind != kind_topics[k].kind)
                continue;
            fputs(".TP\n.B ", out);
            roff(out, b->name);
            fputc('(', out);
            roff(out, b->params_text);
            fputs(")\n", out);
            roff(out, b->help);
            fputc('\n', out);
        }
    }
    fputs(".SH FILES\n~/.cajal_history \\- REPL history\n.SH SEE ALSO\nREADME.md and docs/language.md in the source.\n", out);
}

/* ast.c: node allocation and the S-expression dump used by golden parser tests. */
#include "ast.h"

#include <string.h>

enum { AST_DUMP_DEPTH = 1024 };  /* AST_MAX_HEIGHT in lex.h, which this file does not include */

static const char *const kind_word[] = {
#define AST_KIND(kind, fields, word) [kind] = word,
#include "ast.def"
#undef AST_KIND
};

static const char *const kind_name[] = {
#define AST_KIND(kind, fields, word) [kind] = #kind,
#include "ast.def"
#undef AST_KIND
};

_Static_assert(sizeof kind_word / sizeof *kind_word == AST_KIND_COUNT, "ast.def and NodeKind disagree");

Node *ast_new(Arena *ar, NodeKind kind, Span span)
{
    Node *n = arena_alloc(ar, sizeof *n);
    n->kind = kind;
    n->span = span;
    return n;
}

void ast_push(Arena *ar, NodeList *l, Node *n)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 4;
        Node **v = arena_alloc(ar, (size_t)cap * sizeof *v);
        if (l->n)
            memcpy(v, l->v, (size_t)l->n * sizeof *v);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = n;
}

const char *ast_kind_word(NodeKind k) { return k < AST_KIND_COUNT ? kind_word[k] : "node"; }

const char *ast_article(const char *word)
{
    return word && strchr("aeiouAEIOU", word[0]) && word[0] ? "an" : "a";
}

const char *ast_kind_phrase(NodeKind k)
{
    static const char *const phrase[] = {
#define AST_KIND(kind, fields, word) [kind] = word,
#include "ast.def"
#undef AST_KIND
    };
    static char buf[AST_KIND_COUNT][40];
    if (k >= AST_KIND_COUNT)
        return "a node";
    if (!buf[k][0])
        snprintf(buf[k], sizeof buf[k], "%s %s", ast_article(phrase[k]), phrase[k]);
    return buf[k];
}

Node *ast_clause(const Node *n, Name word)
{
    for (int i = 0; i < n->opts.n; i++)
        if (n->opts.v[i]->kind == AST_CLAUSE && n->opts.v[i]->name == word)
            return n->opts.v[i];
    return NULL;
}

static const char *op_text(int op)
{
    static char one[2];
    switch (op) {
    case AOP_LE: return "<=";
    case AOP_GE: return ">=";
    case AOP_EQ: return "==";
    case AOP_NE: return "!=";
    case AOP_AND: return "and";
    case AOP_OR: return "or";
    case AOP_NOT: return "not";
    case AOP_ADD_ASSIGN: return "+=";
    case AOP_SUB_ASSIGN: return "-=";
    case AOP_MUL_ASSIGN: return "*=";
    case AOP_DIV_ASSIGN: return "/=";
    default:
        one[0] = (char)op;
        one[1] = 0;
        return one;
    }
}

static void dump(const Node *n, FILE *out, int depth);

static void dump_list(const char *label, const NodeList *l, FILE *out, int depth)
{
    if (!l->n)
        return;
    fprintf(out, " (%s", label);
    for (int i = 0; i < l->n; i++) {
        fputc(' ', out);
        dump(l->v[i], out, depth + 1);
    }
    fputc(')', out);
}

/* A number as its source wrote it (10ms, 1e-3), without the parentheses the
 * parser may have folded into its span. */
static void dump_number(const Node *n, FILE *out)
{
    if (!n->span.file) {
        fprintf(out, "%.6g%s", n->num, n->text ? n->text : "");
        return;
    }
    const char *s = n->span.file->text + n->span.off;
    uint32_t a = 0, b = n->span.len;
    while (a < b && (s[a] == '(' || s[a] == ' ' || s[a] == '\t' || s[a] == '\n' || s[a] == '\\'))
        a++;
    while (b > a && (s[b - 1] == ')' || s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\n'))
        b--;
    fwrite(s + a, 1, b - a, out);
}

static void dump(const Node *n, FILE *out, int depth);

void ast_dump(const Node *n, FILE *out) { dump(n, out, 0); }

static void dump(const Node *n, FILE *out, int depth)
{
    if (!n) {
        fputs("nil", out);
        return;
    }
    if (depth > 2 * AST_DUMP_DEPTH) {
        fputs("...", out);   /* the parser drops deeper statements; this is a guard */
        return;
    }
    switch (n->kind) {
    case AST_NUMBER:
        dump_number(n, out);
        return;
    case AST_STRING:
        fprintf(out, "\"%s\"", n->text);
        return;
    case AST_NAME:
        fputs(n->name, out);
        return;
    case AST_DERIV:
        fprintf(out, "d%s/dt", n->name);
        return;
    case AST_NEXT:
        fprintf(out, "%s'", n->name);
        return;
    default:
        break;
    }
    fprintf(out, "(%s", kind_name[n->kind] + 4);
    if (n->name)
        fprintf(out, " %s", n->name);
    if (n->op && n->kind != AST_SAVE && n->kind != AST_CLAUSE)
        fprintf(out, " %s", op_text(n->op));
    if (n->op && (n->kind == AST_SAVE || n->kind == AST_CLAUSE))
        fprintf(out, " #%d", n->op);
    if (n->text)
        fprintf(out, " \"%s\"", n->text);
    const Node *kids[3] = { n->a, n->b, n->c };
    int last = n->c ? 3 : n->b ? 2 : n->a ? 1 : 0;
    for (int i = 0; i < last; i++) {
        fputc(' ', out);
        dump(kids[i], out, depth + 1);
    }
    dump_list("list", &n->list, out, depth);
    dump_list("body", &n->body, out, depth);
    dump_list("opts", &n->opts, out, depth);
    fputc(')', out);
}

/* ast.c: node allocation and the S-expression dump used by golden parser tests. */
#include "ast.h"

#include <string.h>

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

static void dump_list(const char *label, const NodeList *l, FILE *out)
{
    if (!l->n)
        return;
    fprintf(out, " (%s", label);
    for (int i = 0; i < l->n; i++) {
        fputc(' ', out);
        ast_dump(l->v[i], out);
    }
    fputc(')', out);
}

void ast_dump(const Node *n, FILE *out)
{
    if (!n) {
        fputs("nil", out);
        return;
    }
    switch (n->kind) {
    case AST_NUMBER:
        fprintf(out, "%.6g", n->num);
        if (n->text && *n->text)
            fprintf(out, "[%s]", n->text);
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
        ast_dump(kids[i], out);
    }
    dump_list("list", &n->list, out);
    dump_list("body", &n->body, out);
    dump_list("opts", &n->opts, out);
    fputc(')', out);
}

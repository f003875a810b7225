/* ast.h: the syntax tree the parser builds and the checker reads.
 *
 * One node type for every construct, allocated in the source unit's arena, each
 * with the Span of the text it came from. Which fields a kind uses is listed in
 * the table in ast.def beside the kind, so a reader never has to guess:
 *
 *   name   an interned identifier (declared name, member, keyword of an argument)
 *   a b c  child expressions or statements
 *   list   arguments, items, parameters
 *   body   statements inside { }
 *   opts   clauses of a run statement (AST_CLAUSE nodes) or synapse/population items
 *
 * Numbers are stored in SI (the lexer converts `10ms` to 0.01) with their
 * dimension and the unit as written, so messages can say "ms" and not "s";
 * ast_dump prints them as written, from their span.
 */
#ifndef CAJAL_AST_H
#define CAJAL_AST_H

#include "arena.h"
#include "diag.h"
#include "intern.h"
#include "units.h"

typedef enum NodeKind {
#define AST_KIND(kind, fields, what) kind,
#include "ast.def"
#undef AST_KIND
    AST_KIND_COUNT
} NodeKind;

typedef struct Node Node;

typedef struct NodeList {
    Node **v;
    int n, cap;
} NodeList;

/* Operators, kept as the characters or small codes the parser saw. */
typedef enum AstOp {
    AOP_NONE = 0,
    AOP_ADD = '+', AOP_SUB = '-', AOP_MUL = '*', AOP_DIV = '/', AOP_MOD = '%',
    AOP_POW = '^', AOP_MATMUL = '@', AOP_LT = '<', AOP_GT = '>', AOP_ASSIGN = '=',
    AOP_LE = 256, AOP_GE, AOP_EQ, AOP_NE, AOP_AND, AOP_OR, AOP_NOT,
    AOP_ADD_ASSIGN, AOP_SUB_ASSIGN, AOP_MUL_ASSIGN, AOP_DIV_ASSIGN,
} AstOp;

struct Node {
    NodeKind kind;
    Span span;
    int depth;           /* expression tree height, bounded by AST_MAX_HEIGHT */
    int nest;            /* nesting as read, bounded by AST_MAX_DEPTH (lex.h) */
    Name name;
    Span name_span;
    int op;              /* AstOp, or a small flag (see ast.def) */
    double num;          /* AST_NUMBER: value in SI */
    Dim dim;             /* AST_NUMBER: dimension */
    const char *text;    /* AST_NUMBER: unit as written ("ms"), AST_STRING: contents */
    Node *a, *b, *c;
    NodeList list;
    NodeList body;
    NodeList opts;
};

Node *ast_new(Arena *ar, NodeKind kind, Span span);
void ast_push(Arena *ar, NodeList *l, Node *n);
/* Kind's name as the user would call it ("population", "synapse", "number"). */
const char *ast_kind_word(NodeKind k);
/* The same with its article: "an index", "a population" (a static string). */
const char *ast_kind_phrase(NodeKind k);
/* "a" or "an", to stand before word in a message: "an optimizer". */
const char *ast_article(const char *word);
/* Finds the clause named `word` in n->opts, or NULL. */
Node *ast_clause(const Node *n, Name word);
/* Prints a node as S-expression (for golden parser tests and --dump-ast);
 * numbers as the source wrote them. */
void ast_dump(const Node *n, FILE *out);

#endif

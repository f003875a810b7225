/* lex.h: the state the flex lexer and the bison parser share.
 *
 * cajal's keywords are contextual, so a model can call a variable `state`, `scale`
 * or `data` wherever no statement could begin or no clause could follow:
 *   - statement words (`let`, `population`, ...) only begin a top-level statement;
 *   - body words (`state`, `gate`, `init`, `learn`, ...) only begin a statement
 *     inside { };
 *   - clause words (`for`, `dt`, `record`, `every`, ...) only follow the statement
 *     that takes them, outside parentheses (`simulate for 2s dt 0.1ms`);
 *   - `and`, `or`, `not` are always keywords.
 * Newlines end statements, except inside ( ) and [ ], after a backslash, and after
 * a token that cannot end one (an operator, a comma, '=', '->').
 */
#ifndef CAJAL_LEX_H
#define CAJAL_LEX_H

#include "arena.h"
#include "ast.h"
#include "diag.h"

#include <stdbool.h>

enum {
    LEX_MAX_NEST = 256,      /* ( [ { deeper than this is an error, not a stack overflow */
    AST_MAX_DEPTH = 256,     /* expression nesting as a reader counts it: the left operand
                                of a left-associative operator is not a level deeper, so a
                                long sum 1 + 2 + ... is flat */
    AST_MAX_HEIGHT = 1024,   /* expression tree height; walkers recurse at most this far
                                (value_eval takes about 5 KB a level under AddressSanitizer,
                                so this keeps 8 MB of stack safe; a statement past either
                                limit is reported and dropped) */
};

typedef struct Opener {
    int token;       /* '(', '[' or '{' */
    Span at;
    int stmt;        /* for '{': the statement keyword token that opened the block */
    Span stmt_at;
    int paren_depth;  /* for '{': the enclosing paren depth, restored at '}' */
} Opener;

typedef struct LexState {
    Arena *arena;
    Diags *diags;
    const SourceFile *file;
    void *scanner;             /* the flex scanner */
    uint32_t pos;              /* byte offset of the next token */

    Opener open[LEX_MAX_NEST];
    int depth;                 /* entries used in open[] */
    int paren_depth;           /* ( and [ inside the innermost { } */
    int overflow;              /* openers past LEX_MAX_NEST, counted but not kept */
    bool nest_error_reported;

    bool at_stmt_start;
    int stmt;                  /* keyword token of the current statement at this brace level */
    Span stmt_at;
    int clause;                /* the clause keyword seen last (for `spike`, `trace`, `on`) */
    int last, before_last;     /* previous tokens, for newline suppression */
    Span comment_at;           /* where an unterminated block comment began */

    bool hit_eof_open;         /* input ended inside an open construct: REPL asks for more */
    Node *program;             /* the parse result: statements in program->body */

    bool stmt_bad;             /* an action reported an error (too deep, a chained
                                  comparison): the statement is dropped, not checked */
    bool bad_in_stmt;          /* the lexer reported a bad character in this statement:
                                  a syntax error after it would only repeat that */

    /* The token the parser read last (its lookahead when a syntax error is found),
     * kept by yylex so error recovery can read it again (lex_recover). */
    int look_tok;
    Span look_at;
    Node *look_node;
    Name look_name;
    uint32_t look_prev_end;    /* end of the code before it */
    uint32_t code_end;         /* end of the last token that was not an end of line */
    int prev_tok;
    int replay;                /* 1: inject an end of line, then the lookahead again; 2: the lookahead */
} LexState;

/* Recovers from a syntax error inside ( or [ opened in the current statement:
 * forgets the open brackets, so the next end of line ends the statement instead
 * of the whole rest of the file joining it. When the offending token `bad` (the
 * lookahead) starts a line below the opener, as in
 *     print (1 + 2
 *     let x = 3
 * an end of line is injected before it and it is read again, so `let x = 3` is
 * a statement of its own. Returns true in that case, false otherwise (and when
 * nothing was open). */
bool lex_recover(LexState *lx, Span bad, bool first_on_line);

/* Parses a whole source file into an AST_PROGRAM-like list (returned node's body).
 * Errors are appended to d; the returned node is never NULL, and holds every
 * statement that parsed. */
Node *parse_source(const SourceFile *f, Arena *ar, Diags *d, bool *incomplete);

#endif

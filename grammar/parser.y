/* parser.y: cajal's grammar.
 *
 * A program is a sequence of statements ended by newlines or ';'. Declarations
 * (neuron, population, synapse, ...) and run statements (simulate, train, ...)
 * build AST nodes; the checker gives them meaning. Statement-level error
 * productions let one file report all its errors (as jq's parser.y does), and
 * syntax errors name what was expected and, for an unclosed construct, where it
 * was opened. Actions only call ast_* helpers.
 *
 * Consistent default reductions and LAC make the parser find an error in the
 * state where it met the bad token, so an error inside { } is recovered by the
 * body's own error rule (not by the top level's, which would end the block),
 * and "expected ..." lists every token that fits there. A statement an action
 * found wrong (nested too deeply, a chained comparison) is dropped by keep().
 */
%define api.pure full
%define parse.error custom
%define parse.lac full
%define lr.default-reduction consistent
%define api.location.type {Span}
%locations
%expect 0
%param {void *scanner}
%parse-param {LexState *lx}

%code requires {
#include "lex.h"
}

%code provides {
int yylex(YYSTYPE *yylval, YYLTYPE *yylloc, void *scanner);
}

%code {
#include <string.h>
#include "lexer.h"

#define YYMAXDEPTH 20000
#define YYLLOC_DEFAULT(cur, rhs, n)                                         \
    do {                                                                    \
        if (n) {                                                            \
            (cur) = span_join(YYRHSLOC(rhs, 1), YYRHSLOC(rhs, n));          \
        } else {                                                            \
            (cur) = YYRHSLOC(rhs, 0);                                       \
            (cur).off += (cur).len;                                         \
            (cur).len = 0;                                                  \
        }                                                                   \
    } while (0)

static Node *mk(LexState *lx, NodeKind k, Span at) { return ast_new(lx->arena, k, at); }
static Node *mk_op(LexState *lx, NodeKind k, Span at, int op, Node *a, Node *b);
static Node *mk_cmp(LexState *lx, Span at, int op, Node *a, Node *b);
static Node *settle(LexState *lx, Node *n);
static Node *keep(LexState *lx, Node *stmt);
static Node *mk_clause(LexState *lx, const char *word, Span at, Node *a);
static Node *mk_name(LexState *lx, Name name, Span at);
static void push(LexState *lx, NodeList *l, Node *n) { if (n) ast_push(lx->arena, l, n); }
static void yyerror(YYLTYPE *loc, void *scanner, LexState *lx, const char *msg);
}

%union {
    Node *node;
    Name name;
    NodeList list;
    int op;
}

%token <node> NUMBER "number" STRING "string"
%token <name> IDENT "name" DERIV "derivative (dx/dt)" NEXT "next-step value (x')"
%token NEWLINE "end of line"
%token ARROW "'->'" LE "'<='" GE "'>='" EQ "'=='" NE "'!='"
%token ADD_ASSIGN "'+='" SUB_ASSIGN "'-='" MUL_ASSIGN "'*='" DIV_ASSIGN "'/='"
%token AND "'and'" OR "'or'" NOT "'not'"
%token LET "'let'" SEED "'seed'" IMPORT "'import'" EXTERN "'extern'" NEURON "'neuron'"
%token CELL "'cell'" PLASTICITY "'plasticity'" POPULATION "'population'" INPUT "'input'"
%token OUTPUT "'output'" SYNAPSE "'synapse'" COST "'cost'" TASK "'task'" DATA "'data'"
%token SIMULATE "'simulate'" TRAIN "'train'" EVALUATE "'evaluate'" SAVE "'save'" LOAD "'load'"
%token PLOT "'plot'" RASTER "'raster'" PRINT "'print'" SAMPLE "'sample'"
%token <name> ANALYSIS "analysis statement"
%token OUT "'out'" STATE "'state'" GATE "'gate'" SPIKE "'spike'" TRACE "'trace'" ON "'on'"
%token CONSTRAIN "'constrain'" INIT "'init'" SIGN "'sign'" PLASTIC "'plastic'"
%token <name> FLAG "option"
%token FOR "'for'" STEPS "'steps'" DT "'dt'" METHOD "'method'" RECORD "'record'"
%token EVERY "'every'" CONTINUE "'continue'" WITH "'with'" BATCH "'batch'" BY "'by'"
%token CLIP "'clip'" BPTT "'bptt'" CHECKPOINT "'checkpoint'" RESUME "'resume'"
%token RECOMPUTE "'recompute'" DURING "'during'" AT "'at'" END "'end'" WHERE "'where'"
%token AS "'as'" SCALE "'scale'" SPLIT "'split'" SHUFFLE "'shuffle'" LIMIT "'limit'" VS "'vs'" TO "'to'"
%token GRADS "'grads'" INTO "'into'" FROM "'from'" LOWRANK "'lowrank'" WHEN "'when'"
%token RESET "'reset'" REFRACTORY "'refractory'"

%type <node> stmt decl run_stmt expr postfix primary arg index body_stmt syn_end
%type <node> param opt_default sim_clause train_clause eval_clause data_clause cost_window
%type <node> plot_item update reset_item opt_every opt_to on_clause save_stmt load_stmt
%type <node> opt_lowrank opt_size spike_parts
%type <list> body_lines stmts opt_args opt_params_paren arg_list exprs params opt_params body opt_body indices
%type <list> sim_clauses train_clauses eval_clauses data_clauses plot_items vardecls
%type <list> opt_from names
%type <op> update_op

%left OR
%left AND
%precedence NOT
%left '<' '>' LE GE EQ NE     /* a chain is parsed, then reported (mk_cmp) */
%left '+' '-'
%left '*' '/' '@' '%'
%precedence UMINUS
%right '^'

%%

program
    : stmts                  { lx->program->body = $1; }
    ;

stmts
    : %empty                 { $$ = (NodeList){ 0 }; }
    | stmts stmt             { $$ = $1; push(lx, &$$, $2); }
    ;

/* A statement ends at a newline, ';' or the end of the input. */
stmt
    : NEWLINE                { $$ = NULL; }
    | ';'                    { $$ = NULL; }
    | decl end               { $$ = keep(lx, $1); }
    | run_stmt end           { $$ = keep(lx, $1); }
    | expr end               { $$ = mk(lx, AST_EXPR_STMT, @1); $$->a = $1; $$ = keep(lx, $$); }
    | error end              { $$ = NULL; lx->stmt_bad = false; yyerrok; }
    ;

end : NEWLINE | ';' ;

/* ---- declarations ---------------------------------------------------------- */

decl
    : LET IDENT '=' expr                         { $$ = mk(lx, AST_LET, @$); $$->name = $2; $$->name_span = @2; $$->a = $4; }
    | SEED expr                                  { $$ = mk(lx, AST_SEED, @$); $$->a = $2; }
    | IMPORT STRING                              { $$ = mk(lx, AST_IMPORT, @$); $$->text = $2->text; $$->name_span = @2; }
    | EXTERN STRING IDENT '(' opt_params ')'     { $$ = mk(lx, AST_EXTERN, @$); $$->text = $2->text; $$->name = $3; $$->name_span = @3; $$->list = $5; }
    | NEURON IDENT opt_params_paren '{' body '}'
        { $$ = mk(lx, AST_NEURON, @$); $$->name = $2; $$->name_span = @2; $$->list = $3; $$->body = $5; }
    | CELL IDENT opt_params_paren '{' body '}'
        { $$ = mk(lx, AST_CELL, @$); $$->name = $2; $$->name_span = @2; $$->list = $3; $$->body = $5; }
    | PLASTICITY IDENT opt_params_paren '{' body '}'
        { $$ = mk(lx, AST_PLASTICITY, @$); $$->name = $2; $$->name_span = @2; $$->list = $3; $$->body = $5; }
    | POPULATION IDENT '=' expr opt_from opt_body
        { $$ = mk(lx, AST_POPULATION, @$); $$->name = $2; $$->name_span = @2; $$->a = $4; $$->list = $5; $$->body = $6; }
    | INPUT IDENT opt_size                       { $$ = mk(lx, AST_INPUT, @$); $$->name = $2; $$->name_span = @2; $$->a = $3; }
    | OUTPUT IDENT opt_size                      { $$ = mk(lx, AST_OUTPUT, @$); $$->name = $2; $$->name_span = @2; $$->a = $3; }
    | SYNAPSE IDENT ':' syn_end ARROW syn_end opt_lowrank opt_body
        { $$ = mk(lx, AST_SYNAPSE, @$); $$->name = $2; $$->name_span = @2; $$->a = $4; $$->b = $6; $$->c = $7; $$->body = $8; }
    | SYNAPSE syn_end ARROW syn_end opt_lowrank opt_body
        { $$ = mk(lx, AST_SYNAPSE, @$); $$->name_span = span_join(@2, @4); $$->a = $2; $$->b = $4; $$->c = $5; $$->body = $6; }
    | COST IDENT '=' expr cost_window
        { $$ = mk(lx, AST_COST, @$); $$->name = $2; $$->name_span = @2; $$->a = $4; push(lx, &$$->opts, $5); }
    | TASK IDENT '=' expr                        { $$ = mk(lx, AST_TASK, @$); $$->name = $2; $$->name_span = @2; $$->a = $4; }
    | TASK IDENT '(' opt_args ')'
        { $$ = mk(lx, AST_TASK, @$); $$->name = $2; $$->name_span = @2;
          $$->a = mk(lx, AST_CALL, span_join(@2, @5)); $$->a->a = mk_name(lx, $2, @2); $$->a->list = $4; }
    | TASK IDENT                                 { $$ = mk(lx, AST_TASK, @$); $$->name = $2; $$->name_span = @2;
                                                   $$->a = mk(lx, AST_CALL, @2); $$->a->a = mk_name(lx, $2, @2); }
    | DATA IDENT '=' expr data_clauses           { $$ = mk(lx, AST_DATA, @$); $$->name = $2; $$->name_span = @2; $$->a = $4; $$->opts = $5; }
    ;

opt_params_paren
    : %empty                 { $$ = (NodeList){ 0 }; }
    | '(' opt_params ')'     { $$ = $2; }
    ;

opt_params
    : %empty                 { $$ = (NodeList){ 0 }; }
    | params                 { $$ = $1; }
    ;

params
    : param                  { $$ = (NodeList){ 0 }; push(lx, &$$, $1); }
    | params ',' param       { $$ = $1; push(lx, &$$, $3); }
    ;

param
    : IDENT opt_default      { $$ = mk(lx, AST_PARAM, @$); $$->name = $1; $$->name_span = @1; $$->a = $2; }
    ;

opt_default
    : %empty                 { $$ = NULL; }
    | '=' expr               { $$ = $2; }
    ;

opt_size
    : %empty                 { $$ = NULL; }
    | '[' expr ']'           { $$ = $2; }
    ;

opt_from
    : %empty                 { $$ = (NodeList){ 0 }; }
    | FROM names             { $$ = $2; }
    ;

names
    : IDENT                  { $$ = (NodeList){ 0 }; push(lx, &$$, mk_name(lx, $1, @1)); }
    | names ',' IDENT        { $$ = $1; push(lx, &$$, mk_name(lx, $3, @3)); }
    ;

/* E, E.ge (a population and, for the post side, the input it feeds) */
syn_end
    : IDENT                  { $$ = mk_name(lx, $1, @1); }
    | IDENT '.' IDENT        { $$ = mk(lx, AST_MEMBER, @$); $$->a = mk_name(lx, $1, @1); $$->name = $3; $$->name_span = @3; }
    ;

opt_lowrank
    : %empty                 { $$ = NULL; }
    | LOWRANK '(' expr ')'   { $$ = $3; }
    ;

cost_window
    : %empty                 { $$ = NULL; }
    | DURING expr            { $$ = mk_clause(lx, "during", @$, $2); }
    | AT END                 { $$ = mk_clause(lx, "at end", @$, NULL); }
    | WHERE expr             { $$ = mk_clause(lx, "where", @$, $2); }
    ;

data_clauses
    : %empty                 { $$ = (NodeList){ 0 }; }
    | data_clauses data_clause { $$ = $1; push(lx, &$$, $2); }
    ;

data_clause
    : AS IDENT               { $$ = mk_clause(lx, "as", @$, mk_name(lx, $2, @2)); }
    | SCALE expr             { $$ = mk_clause(lx, "scale", @$, $2); }
    | SPLIT expr             { $$ = mk_clause(lx, "split", @$, $2); }
    | SHUFFLE                { $$ = mk_clause(lx, "shuffle", @$, NULL); }
    | LIMIT expr             { $$ = mk_clause(lx, "limit", @$, $2); }
    ;

/* ---- bodies of neuron, cell, plasticity, population and synapse ------------ */

opt_body
    : %empty                 { $$ = (NodeList){ 0 }; }
    | '{' body '}'           { $$ = $2; }
    ;

/* Statements in a body end with a newline or ';', the last one also with '}'. */
body
    : body_lines             { $$ = $1; }
    | body_lines body_stmt   { $$ = $1; push(lx, &$$, $2); }
    | body_lines error       { $$ = $1; }
    ;

body_lines
    : %empty                 { $$ = (NodeList){ 0 }; }
    | body_lines sep         { $$ = $1; }
    | body_lines body_stmt sep { $$ = $1; push(lx, &$$, $2); }
    | body_lines error sep   { $$ = $1; yyerrok; }
    ;

sep : NEWLINE | ';' ;

body_stmt
    : expr '=' expr                       { $$ = mk_op(lx, AST_EQUATION, @$, '=', $1, $3); }
    | update                              { $$ = $1; }
    | expr '~' expr                       { $$ = mk_op(lx, AST_DRAW, @$, '~', $1, $3); }
    | expr                                { $$ = mk(lx, AST_EXPR_STMT, @$); $$->a = $1; }
    | INIT expr '~' expr                  { $$ = mk(lx, AST_INIT, @$); $$->a = mk_op(lx, AST_DRAW, span_join(@2, @4), '~', $2, $4); }
    | INIT expr '=' expr                  { $$ = mk(lx, AST_INIT, @$); $$->a = mk_op(lx, AST_EQUATION, span_join(@2, @4), '=', $2, $4); }
    | OUT IDENT                           { $$ = mk(lx, AST_OUT, @$); $$->name = $2; $$->name_span = @2; }
    | STATE vardecls                      { $$ = mk(lx, AST_STATE, @$); $$->list = $2; }
    | GATE IDENT '=' expr                 { $$ = mk(lx, AST_GATE, @$); $$->name = $2; $$->name_span = @2; $$->a = $4; }
    | SPIKE WHEN expr spike_parts         { $$ = $4; $$->span = @$; $$->a = $3; }
    | TRACE IDENT ':' expr '=' expr on_clause
        { $$ = mk(lx, AST_TRACE, @$); $$->name = $2; $$->name_span = @2;
          $$->a = mk_op(lx, AST_EQUATION, span_join(@4, @6), '=', $4, $6); push(lx, &$$->list, $7); }
    | ON IDENT SPIKE '{' body '}'         { $$ = mk(lx, AST_ON, @$); $$->name = $2; $$->name_span = @2; $$->body = $5; }
    | CONSTRAIN expr                      { $$ = mk(lx, AST_CONSTRAIN, @$); $$->a = $2; }
    | CONSTRAIN expr '=' expr             { $$ = mk(lx, AST_CONSTRAIN, @$); $$->a = $2; $$->b = $4; }
    | SIGN '+'                            { $$ = mk(lx, AST_SIGN, @$); $$->op = '+'; }
    | SIGN '-'                            { $$ = mk(lx, AST_SIGN, @$); $$->op = '-'; }
    | FLAG                                { $$ = mk(lx, AST_FLAG, @$); $$->name = $1; }
    | PLASTIC expr opt_every              { $$ = mk(lx, AST_PLASTIC, @$); $$->a = $2; $$->b = $3; }
    ;

update
    : expr update_op expr                 { $$ = mk_op(lx, AST_UPDATE, @$, $2, $1, $3); }
    ;

update_op
    : ADD_ASSIGN { $$ = AOP_ADD_ASSIGN; } | SUB_ASSIGN { $$ = AOP_SUB_ASSIGN; }
    | MUL_ASSIGN { $$ = AOP_MUL_ASSIGN; } | DIV_ASSIGN { $$ = AOP_DIV_ASSIGN; }
    ;

vardecls
    : IDENT opt_size                      { $$ = (NodeList){ 0 }; Node *v = mk(lx, AST_VARDECL, @$); v->name = $1; v->name_span = @1; v->a = $2; push(lx, &$$, v); }
    | vardecls ',' IDENT opt_size         { $$ = $1; Node *v = mk(lx, AST_VARDECL, span_join(@3, @4)); v->name = $3; v->name_span = @3; v->a = $4; push(lx, &$$, v); }
    ;

/* spike when v > v_th reset v = v_reset, w += b refractory 2ms */
spike_parts
    : %empty                              { $$ = mk(lx, AST_SPIKE, @$); }
    | spike_parts RESET reset_item        { $$ = $1; push(lx, &$$->list, $3); }
    | spike_parts ',' reset_item          { $$ = $1; push(lx, &$$->list, $3); }
    | spike_parts REFRACTORY expr         { $$ = $1; $$->b = $3; }
    ;

reset_item
    : expr '=' expr                       { $$ = mk_op(lx, AST_EQUATION, @$, '=', $1, $3); }
    | update                              { $$ = $1; }
    ;

on_clause
    : %empty                              { $$ = NULL; }
    | ',' ON IDENT SPIKE update
        { $$ = mk(lx, AST_ON, span_join(@2, @5)); $$->name = $3; $$->name_span = @3; push(lx, &$$->body, $5); }
    ;

opt_every
    : %empty                              { $$ = NULL; }
    | EVERY expr                          { $$ = $2; }
    ;

/* ---- run statements -------------------------------------------------------- */

run_stmt
    : SIMULATE sim_clauses                { $$ = mk(lx, AST_SIMULATE, @$); $$->opts = $2; }
    | TRAIN train_clauses                 { $$ = mk(lx, AST_TRAIN, @$); $$->opts = $2; }
    | EVALUATE eval_clauses               { $$ = mk(lx, AST_EVALUATE, @$); $$->opts = $2; }
    /* a bare `simulate` parses, so the checker can say what it needs */
    | save_stmt                           { $$ = $1; }
    | load_stmt                           { $$ = $1; }
    | PLOT plot_items opt_to              { $$ = mk(lx, AST_PLOT, @$); $$->list = $2; if ($3) $$->text = $3->text; }
    | RASTER exprs opt_to                 { $$ = mk(lx, AST_RASTER, @$); $$->list = $2; if ($3) $$->text = $3->text; }
    | PRINT exprs                         { $$ = mk(lx, AST_PRINT, @$); $$->list = $2; }
    | ANALYSIS opt_args                   { $$ = mk(lx, AST_ANALYSIS, @$); $$->name = $1; $$->name_span = @1; $$->list = $2; }
    | SAMPLE arg_list                     { $$ = mk(lx, AST_SAMPLE, @$); $$->list = $2; }
    ;

sim_clauses
    : %empty                              { $$ = (NodeList){ 0 }; }
    | sim_clauses sim_clause              { $$ = $1; push(lx, &$$, $2); }
    ;

sim_clause
    : FOR expr                            { $$ = mk_clause(lx, "for", @$, $2); }
    | FOR expr STEPS                      { $$ = mk_clause(lx, "for", @$, $2); $$->op = 1; }
    | DT expr                             { $$ = mk_clause(lx, "dt", @$, $2); }
    | METHOD IDENT                        { $$ = mk_clause(lx, "method", @$, mk_name(lx, $2, @2)); }
    | RECORD exprs                        { $$ = mk_clause(lx, "record", @$, NULL); $$->list = $2; }
    | EVERY expr                          { $$ = mk_clause(lx, "every", @$, $2); }
    | EVERY expr STEPS                    { $$ = mk_clause(lx, "every", @$, $2); $$->op = 1; }
    | CONTINUE                            { $$ = mk_clause(lx, "continue", @$, NULL); }
    | WITH arg_list                       { $$ = mk_clause(lx, "with", @$, NULL); $$->list = $2; }
    | BATCH expr                          { $$ = mk_clause(lx, "batch", @$, $2); }
    ;

train_clauses
    : %empty                              { $$ = (NodeList){ 0 }; }
    | train_clauses train_clause          { $$ = $1; push(lx, &$$, $2); }
    ;

train_clause
    : ON expr                             { $$ = mk_clause(lx, "on", @$, $2); }
    | WITH expr                           { $$ = mk_clause(lx, "with", @$, $2); }
    | BATCH expr                          { $$ = mk_clause(lx, "batch", @$, $2); }
    | STEPS expr                          { $$ = mk_clause(lx, "steps", @$, $2); }
    | CLIP expr                           { $$ = mk_clause(lx, "clip", @$, $2); }
    | BPTT expr                           { $$ = mk_clause(lx, "bptt", @$, $2); }
    | BY IDENT                            { $$ = mk_clause(lx, "by", @$, mk_name(lx, $2, @2)); }
    | CHECKPOINT STRING                   { $$ = mk_clause(lx, "checkpoint", @$, NULL); $$->text = $2->text; }
    | EVERY expr                          { $$ = mk_clause(lx, "every", @$, $2); }
    | RESUME STRING                       { $$ = mk_clause(lx, "resume", @$, NULL); $$->text = $2->text; }
    | RECOMPUTE EVERY expr                { $$ = mk_clause(lx, "recompute", @$, $3); }
    ;

eval_clauses
    : %empty                              { $$ = (NodeList){ 0 }; }
    | eval_clauses eval_clause            { $$ = $1; push(lx, &$$, $2); }
    ;

eval_clause
    : ON expr                             { $$ = mk_clause(lx, "on", @$, $2); }
    | BATCH expr                          { $$ = mk_clause(lx, "batch", @$, $2); }
    ;

save_stmt
    : SAVE STRING                         { $$ = mk(lx, AST_SAVE, @$); $$->text = $2->text; }
    | SAVE GRADS STRING                   { $$ = mk(lx, AST_SAVE, @$); $$->text = $3->text; $$->op = 1; }
    | SAVE exprs TO STRING                { $$ = mk(lx, AST_SAVE, @$); $$->list = $2; $$->text = $4->text; }
    ;

load_stmt
    : LOAD STRING                         { $$ = mk(lx, AST_LOAD, @$); $$->text = $2->text; }
    | LOAD STRING AS IDENT                { $$ = mk(lx, AST_LOAD, @$); $$->text = $2->text; $$->name = $4; $$->name_span = @4; }
    | LOAD STRING INTO expr               { $$ = mk(lx, AST_LOAD, @$); $$->text = $2->text; $$->a = $4; }
    ;

plot_items
    : plot_item                           { $$ = (NodeList){ 0 }; push(lx, &$$, $1); }
    | plot_items ',' plot_item            { $$ = $1; push(lx, &$$, $3); }
    ;

plot_item
    : expr                                { $$ = $1; }
    | expr VS expr                        { $$ = mk_op(lx, AST_VS, @$, 0, $1, $3); }
    ;

opt_to
    : %empty                              { $$ = NULL; }
    | TO STRING                           { $$ = $2; }
    ;

/* ---- expressions ----------------------------------------------------------- */

exprs
    : expr                                { $$ = (NodeList){ 0 }; push(lx, &$$, $1); }
    | exprs ',' expr                      { $$ = $1; push(lx, &$$, $3); }
    ;

expr
    : expr OR expr                        { $$ = mk_op(lx, AST_BINARY, @$, AOP_OR, $1, $3); }
    | expr AND expr                       { $$ = mk_op(lx, AST_BINARY, @$, AOP_AND, $1, $3); }
    | NOT expr                            { $$ = mk_op(lx, AST_UNARY, @$, AOP_NOT, $2, NULL); }
    | expr '<' expr                       { $$ = mk_cmp(lx, @$, '<', $1, $3); }
    | expr '>' expr                       { $$ = mk_cmp(lx, @$, '>', $1, $3); }
    | expr LE expr                        { $$ = mk_cmp(lx, @$, AOP_LE, $1, $3); }
    | expr GE expr                        { $$ = mk_cmp(lx, @$, AOP_GE, $1, $3); }
    | expr EQ expr                        { $$ = mk_cmp(lx, @$, AOP_EQ, $1, $3); }
    | expr NE expr                        { $$ = mk_cmp(lx, @$, AOP_NE, $1, $3); }
    | expr '+' expr                       { $$ = mk_op(lx, AST_BINARY, @$, '+', $1, $3); }
    | expr '-' expr                       { $$ = mk_op(lx, AST_BINARY, @$, '-', $1, $3); }
    | expr '*' expr                       { $$ = mk_op(lx, AST_BINARY, @$, '*', $1, $3); }
    | expr '/' expr                       { $$ = mk_op(lx, AST_BINARY, @$, '/', $1, $3); }
    | expr '@' expr                       { $$ = mk_op(lx, AST_BINARY, @$, '@', $1, $3); }
    | expr '%' expr                       { $$ = mk_op(lx, AST_BINARY, @$, '%', $1, $3); }
    | '-' expr %prec UMINUS               { $$ = mk_op(lx, AST_UNARY, @$, '-', $2, NULL); }
    | '+' expr %prec UMINUS               { $$ = $2; }
    | expr '^' expr                       { $$ = mk_op(lx, AST_BINARY, @$, '^', $1, $3); }
    | postfix                             { $$ = $1; }
    ;

postfix
    : primary                             { $$ = $1; }
    | postfix '(' opt_args ')'            { $$ = mk(lx, AST_CALL, @$); $$->a = $1; $$->list = $3; $$ = settle(lx, $$); }
    | postfix '[' indices ']'             { $$ = mk(lx, AST_INDEX, @$); $$->a = $1; $$->list = $3; $$ = settle(lx, $$); }
    | postfix '.' IDENT                   { $$ = mk_op(lx, AST_MEMBER, @$, 0, $1, NULL); $$->name = $3; $$->name_span = @3; }
    ;

primary
    : NUMBER                              { $$ = $1; }
    | STRING                              { $$ = $1; }
    | IDENT                               { $$ = mk_name(lx, $1, @1); }
    | DERIV                               { $$ = mk(lx, AST_DERIV, @1); $$->name = $1; }
    | NEXT                                { $$ = mk(lx, AST_NEXT, @1); $$->name = $1; }
    | '(' expr ')'                        { $$ = $2; $$->span = @$; }
    | '[' ']'                             { $$ = mk(lx, AST_LIST, @$); }
    | '[' exprs ']'                       { $$ = mk(lx, AST_LIST, @$); $$->list = $2; $$ = settle(lx, $$); }
    ;

opt_args
    : %empty                              { $$ = (NodeList){ 0 }; }
    | arg_list                            { $$ = $1; }
    ;

arg_list
    : arg                                 { $$ = (NodeList){ 0 }; push(lx, &$$, $1); }
    | arg_list ',' arg                    { $$ = $1; push(lx, &$$, $3); }
    ;

arg
    : expr                                { $$ = $1; }
    | IDENT '=' expr                      { $$ = mk(lx, AST_ARG, @$); $$->name = $1; $$->name_span = @1; $$->a = $3; $$ = settle(lx, $$); }
    ;

indices
    : index                               { $$ = (NodeList){ 0 }; push(lx, &$$, $1); }
    | indices ',' index                   { $$ = $1; push(lx, &$$, $3); }
    ;

index
    : expr                                { $$ = $1; }
    | ':'                                 { $$ = mk(lx, AST_SLICE, @$); }
    | expr ':'                            { $$ = mk(lx, AST_SLICE, @$); $$->a = $1; $$ = settle(lx, $$); }
    | ':' expr                            { $$ = mk(lx, AST_SLICE, @$); $$->b = $2; $$ = settle(lx, $$); }
    | expr ':' expr                       { $$ = mk(lx, AST_SLICE, @$); $$->a = $1; $$->b = $3; $$ = settle(lx, $$); }
    ;

%%

static Node *mk_op(LexState *lx, NodeKind k, Span at, int op, Node *a, Node *b)
{
    Node *n = ast_new(lx->arena, k, at);
    n->op = op;
    n->a = a;
    n->b = b;
    return settle(lx, n);
}

/* Sets n's height and nesting from its children (arguments and items count:
 * the walkers recurse into them). The left operand of a left-associative
 * operator adds no nesting, so a long flat sum stays at one level; it still
 * adds height. Past AST_MAX_DEPTH or AST_MAX_HEIGHT the statement is reported
 * once and marked, so it is dropped before anything walks it. */
static Node *settle(LexState *lx, Node *n)
{
    int d = 0, nest = 0;
    const Node *kids[3] = { n->a, n->b, n->c };
    for (int i = 0; i < 3; i++) {
        if (!kids[i])
            continue;
        if (kids[i]->depth > d)
            d = kids[i]->depth;
        bool flat = i == 0 && n->kind == AST_BINARY && n->op != '^';
        int k = kids[i]->nest + (flat ? 0 : 1);
        if (k > nest)
            nest = k;
    }
    for (int i = 0; i < n->list.n; i++) {
        if (!n->list.v[i])
            continue;
        if (n->list.v[i]->depth > d)
            d = n->list.v[i]->depth;
        if (n->list.v[i]->nest + 1 > nest)
            nest = n->list.v[i]->nest + 1;
    }
    n->depth = d + 1;
    n->nest = nest > 1 ? nest : 1;
    if (n->nest > AST_MAX_DEPTH && !lx->stmt_bad) {
        diag_error(lx->diags, n->span, "expression nested deeper than %d levels", AST_MAX_DEPTH);
        lx->stmt_bad = true;
    } else if (n->depth > AST_MAX_HEIGHT && !lx->stmt_bad) {
        diag_error(lx->diags, n->span, "expression too long: more than %d operators in a row; split it into lets",
                   AST_MAX_HEIGHT);
        lx->stmt_bad = true;
    }
    return n;
}

static const char *cmp_text(int op)
{
    switch (op) {
    case AOP_LE: return "<=";
    case AOP_GE: return ">=";
    case AOP_EQ: return "==";
    case AOP_NE: return "!=";
    case '<': return "<";
    default: return ">";
    }
}

static bool is_cmp(int op)
{
    return op == '<' || op == '>' || op == AOP_LE || op == AOP_GE || op == AOP_EQ || op == AOP_NE;
}

/* a < b < c parses (left to right) only to be reported: comparisons do not
 * chain. A parenthesised (a < b) < c compares the 0 or 1 on the left. */
static Node *mk_cmp(LexState *lx, Span at, int op, Node *a, Node *b)
{
    Node *n = mk_op(lx, AST_BINARY, at, op, a, b);
    if (a->kind != AST_BINARY || !is_cmp(a->op) || lx->file->text[a->span.off] == '(' || lx->stmt_bad)
        return n;
    const char *t = lx->file->text;
    Span x = a->a->span, y = a->b->span, z = b->span;
    if (x.len + y.len + z.len < 120)
        diag_error(lx->diags, at, "comparisons do not chain; write %.*s %s %.*s and %.*s %s %.*s", (int)x.len, t + x.off,
                   cmp_text(a->op), (int)y.len, t + y.off, (int)y.len, t + y.off, cmp_text(op), (int)z.len, t + z.off);
    else
        diag_error(lx->diags, at, "comparisons do not chain; write a < b and b < c");
    lx->stmt_bad = true;
    return n;
}

/* A statement that parsed but carries an error an action found is dropped; a
 * let keeps its name without its value, so its uses are not reported again. */
static Node *keep(LexState *lx, Node *stmt)
{
    if (!lx->stmt_bad)
        return stmt;
    lx->stmt_bad = false;
    if (stmt->kind == AST_LET) {
        stmt->a = NULL;
        return stmt;
    }
    return NULL;
}

static Node *mk_clause(LexState *lx, const char *word, Span at, Node *a)
{
    Node *n = ast_new(lx->arena, AST_CLAUSE, at);
    n->name = intern_cstr(word);
    n->a = a;
    return n;
}

static Node *mk_name(LexState *lx, Name name, Span at)
{
    Node *n = ast_new(lx->arena, AST_NAME, at);
    n->name = name;
    return n;
}

static void yyerror(YYLTYPE *loc, void *scanner, LexState *lx, const char *msg)
{
    /* Only bison's own failures reach here ("memory exhausted" on absurd nesting),
       which the lexer has already reported when brackets are what nest. */
    if (strstr(msg, "exhausted")) {
        if (!lx->nest_error_reported)
            diag_error(lx->diags, *loc, "input nested too deeply to parse");
    }
    else
        diag_error(lx->diags, *loc, "%s", msg);
}

/* Token names as users read them: bison's aliases without the outer quotes. */
static const char *token_words(yysymbol_kind_t t, char *buf, size_t n)
{
    const char *s = yysymbol_name(t);
    if (t == YYSYMBOL_YYEOF)
        return "end of input";
    if (s[0] == '"') {
        size_t len = strlen(s);
        snprintf(buf, n, "%.*s", (int)(len - 2), s + 1);
        return buf;
    }
    return s;
}

static bool named(yysymbol_kind_t t, const char *const *names)
{
    for (; *names; names++)
        if (strcmp(yysymbol_name(t), *names) == 0)
            return true;
    return false;
}

static bool starts_expression(yysymbol_kind_t t)
{
    switch (t) {
    case YYSYMBOL_NUMBER: case YYSYMBOL_STRING: case YYSYMBOL_IDENT: case YYSYMBOL_DERIV:
    case YYSYMBOL_NEXT: case YYSYMBOL_NOT:
        return true;
    default:
        return false;
    }
}

/* Operators that could start or extend an expression: too many to list, and
 * "an expression" or the tokens that may follow one say enough. */
static bool continues_expression(yysymbol_kind_t t)
{
    static const char *const chars[] = { "'<'", "'>'", "'*'", "'/'", "'@'", "'%'", "'^'", "'('",
                                         "'['", "'.'", "'+'", "'-'", NULL };
    switch (t) {
    case YYSYMBOL_OR: case YYSYMBOL_AND: case YYSYMBOL_LE: case YYSYMBOL_GE: case YYSYMBOL_EQ:
    case YYSYMBOL_NE:
        return true;
    default:
        return named(t, chars);
    }
}

/* What the clause a word opens takes, when that word is all the clause has. */
static const char *clause_needs(int word)
{
    switch (word) {
    case FOR: return "a duration, as in for 100ms or for 500 steps";
    case DT: return "a time step, as in dt 0.1ms";
    case EVERY: return "an interval, as in every 1ms";
    case BATCH: return "a number of trials, as in batch 32";
    default: return NULL;
    }
}

static bool is_word(const char *token)
{
    return token[0] == '\'' && token[1] >= 'a' && token[1] <= 'z';
}

/* Where more tokens fit than can be listed: at a statement's start, a body's
 * line, or after a statement's clauses. Rewrites words (k of them) and *lead
 * into a short list; returns how many words are left. */
static int summarize_expected(const yysymbol_kind_t *expected, int n, const char **words, int k, const char **lead,
                              char *clauses, size_t clauses_n)
{
    bool statement = false, body = false;
    for (int i = 0; i < n; i++) {
        statement = statement || expected[i] == YYSYMBOL_LET;
        body = body || expected[i] == YYSYMBOL_INIT;
    }
    int kept = 0;
    if (statement || body) {
        /* only a closing '}' is worth naming beside "a statement" */
        *lead = statement ? "a statement" : "an equation or a body statement (out, state, init, ...)";
        for (int i = 0; i < k; i++)
            if (!strcmp(words[i], "'}'"))
                words[kept++] = words[i];
        return kept;
    }
    size_t len = (size_t)snprintf(clauses, clauses_n, "a clause (");
    int nclauses = 0;
    for (int i = 0; i < k; i++) {
        if (is_word(words[i]) && len < clauses_n) {
            len += (size_t)snprintf(clauses + len, clauses_n - len, "%s%.*s", nclauses++ ? ", " : "",
                                    (int)strlen(words[i]) - 2, words[i] + 1);
        } else if (!is_word(words[i])) {
            words[kept++] = words[i];
        }
    }
    if (nclauses && len < clauses_n) {
        snprintf(clauses + len, clauses_n - len, ")");
        words[kept++] = clauses;
    }
    return kept;
}

static int yyreport_syntax_error(const yypcontext_t *ctx, void *scanner, LexState *lx)
{
    yysymbol_kind_t bad = yypcontext_token(ctx);
    Span at = *yypcontext_location(ctx);
    if (bad == YYSYMBOL_YYEOF && (lx->depth > 0 || lx->hit_eof_open)) {
        lx->hit_eof_open = true;
        if (lx->depth > 0) {
            const Opener *o = &lx->open[lx->depth - 1];
            int line, col;
            span_linecol(o->at, &line, &col);
            char close = o->token == '(' ? ')' : o->token == '[' ? ']' : '}';
            char buf[64];
            const char *what = "'{'";
            if (o->token != '{')
                what = o->token == '(' ? "'('" : "'['";
            else if (o->stmt) {
                yysymbol_kind_t k = YYTRANSLATE(o->stmt);
                what = token_words(k, buf, sizeof buf);
            }
            diag_error(lx->diags, at, "expected '%c' to close %s opened at %d:%d", close, what, line, col);
            return 0;
        }
    }
    if (bad == YYSYMBOL_YYEOF)
        lx->hit_eof_open = true;

    /* An unclosed ( or [ of this statement: the statement ends here (lex_recover),
     * and when the line below it was swallowed, that is what to say. */
    Opener open = { 0 };   /* the innermost, not counting the offending token itself */
    for (int i = lx->depth - 1; i >= 0 && lx->open[i].token != '{' && !open.token; i--)
        if (lx->open[i].at.off < at.off)
            open = lx->open[i];
    uint32_t line_start = at.off;
    while (line_start > 0 && (at.file->text[line_start - 1] == ' ' || at.file->text[line_start - 1] == '\t'))
        line_start--;
    bool first_on_line = line_start == 0 || at.file->text[line_start - 1] == '\n';
    Span code_end = { at.file, lx->look_prev_end, 0 };
    bool replayed = bad != YYSYMBOL_YYEOF && bad != YYSYMBOL_YYEMPTY &&
                    lex_recover(lx, at, first_on_line && open.token && open.at.off < line_start);
    if (lx->bad_in_stmt && bad != YYSYMBOL_YYEOF)
        return 0;   /* the lexer has reported this statement's bad character */
    if (replayed) {
        int line, col;
        span_linecol(open.at, &line, &col);
        diag_error(lx->diags, code_end, "expected '%c' to close '%c' opened at %d:%d", open.token == '(' ? ')' : ']',
                   open.token, line, col);
        return 0;
    }

    enum { MAX_LISTED = 6 };
    yysymbol_kind_t expected[64];
    int n = yypcontext_expected_tokens(ctx, expected, 64);
    bool expr = false, name = false, string = false;
    const char *words[64];
    char bufs[64][48];
    int k = 0;
    for (int i = 0; i < n && i < 64; i++) {
        if (starts_expression(expected[i])) {
            expr = expr || expected[i] == YYSYMBOL_NUMBER;
            name = name || expected[i] == YYSYMBOL_IDENT;
            string = string || expected[i] == YYSYMBOL_STRING;
            continue;
        }
        if (continues_expression(expected[i]))
            continue;
        words[k] = token_words(expected[i], bufs[k], sizeof bufs[k]);
        k++;
    }
    char found[64];
    const char *what = bad == YYSYMBOL_YYEOF ? "end of input" : token_words(bad, found, sizeof found);
    char msg[512];
    int len;
    if (bad == YYSYMBOL_NUMBER || bad == YYSYMBOL_IDENT || bad == YYSYMBOL_STRING)
        len = snprintf(msg, sizeof msg, "unexpected %s '%.*s'", what, (int)(at.len > 40 ? 40 : at.len), at.file->text + at.off);
    else
        len = snprintf(msg, sizeof msg, "unexpected %s", what);
    /* Where only a name or only a quoted name fits, say so, not "an expression". */
    const char *lead = expr ? "an expression"
                       : name && string ? "a name or a file name in quotes"
                       : name ? "a name"
                       : string ? (lx->stmt == IMPORT ? "a module name in quotes" : "a file name in quotes")
                       : NULL;
    if (expr && clause_needs(lx->before_last))
        lead = clause_needs(lx->before_last);
    char clauses[256];
    int listed = k + (lead ? 1 : 0);
    if (listed > MAX_LISTED) {
        k = summarize_expected(expected, n, words, k, &lead, clauses, sizeof clauses);
        listed = k + (lead ? 1 : 0);
    }
    if (listed > 0 && listed <= MAX_LISTED) {
        len += snprintf(msg + len, sizeof msg - (size_t)len, "; expected ");
        int j = 0;
        if (lead) {
            len += snprintf(msg + len, sizeof msg - (size_t)len, "%s", lead);
            j++;
        }
        for (int i = 0; i < k; i++, j++)
            len += snprintf(msg + len, sizeof msg - (size_t)len, "%s%s", j == 0 ? "" : j == listed - 1 ? " or " : ", ", words[i]);
    }
    diag_error(lx->diags, at, "%s", msg);
    return 0;
}

Node *parse_source(const SourceFile *f, Arena *ar, Diags *d, bool *incomplete)
{
    LexState lx = { 0 };
    lx.arena = ar;
    lx.diags = d;
    lx.file = f;
    lx.at_stmt_start = true;
    lx.program = ast_new(ar, AST_EXPR_STMT, (Span){ f, 0, (uint32_t)f->len });
    yyscan_t scanner;
    yylex_init_extra(&lx, &scanner);
    lx.scanner = scanner;
    YY_BUFFER_STATE buf = yy_scan_bytes(f->text, (int)f->len, scanner);
    yyparse(scanner, &lx);
    yy_delete_buffer(buf, scanner);
    yylex_destroy(scanner);
    if (incomplete)
        *incomplete = lx.hit_eof_open;
    return lx.program;
}

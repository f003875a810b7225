/* test_lexer.c: the flex scanner (grammar/lexer.l) on its own.
 *
 * Each case runs the real scanner over a source text the way parse_source in
 * grammar/parser.y does (a LexState as flex's extra data, yy_scan_bytes, yylex
 * until the end) and checks the token kinds and spans it returns, the values
 * of numbers (SI, with dimension and the unit as written), the contextual
 * keywords in and out of their context, where newlines end statements, and
 * that each kind of bad input gives exactly one diagnostic at the right span.
 */
#include "lex.h"
#include "parser.h"
#include "lexer.h"
#include "check.h"

#include <stdint.h>
#include <string.h>

enum { MAX_TOKENS = 2 * LEX_MAX_NEST + 16 };

typedef struct Tok {
    int kind;
    uint32_t off, len;
    Node *node;     /* NUMBER, STRING */
    Name name;      /* IDENT, DERIV, NEXT and keywords that carry their word */
} Tok;

static Tok toks[MAX_TOKENS];
static int ntoks;
static Diags diags;
static Arena arena;
static LexState lexstate;

/* Tokenizes src[0..n); the end of input (YYEOF) is not stored. */
static int lexn(const char *src, size_t n)
{
    diags_clear(&diags);
    SourceFile *f = source_new("test.cajal", src, n);
    memset(&lexstate, 0, sizeof lexstate);
    lexstate.arena = &arena;
    lexstate.diags = &diags;
    lexstate.file = f;
    lexstate.at_stmt_start = true;
    yyscan_t scanner;
    yylex_init_extra(&lexstate, &scanner);
    lexstate.scanner = scanner;
    YY_BUFFER_STATE buf = yy_scan_bytes(f->text, (int)f->len, scanner);
    ntoks = 0;
    for (;;) {
        YYSTYPE val;
        YYLTYPE loc;
        memset(&val, 0, sizeof val);
        int t = yylex(&val, &loc, scanner);
        if (t == YYEOF || ntoks == MAX_TOKENS)
            break;
        Tok *k = &toks[ntoks++];
        k->kind = t;
        k->off = loc.off;
        k->len = loc.len;
        k->node = (t == NUMBER || t == STRING) ? val.node : NULL;
        k->name = (t == IDENT || t == DERIV || t == NEXT || t == ANALYSIS || t == FLAG) ? val.name : NULL;
    }
    yy_delete_buffer(buf, scanner);
    yylex_destroy(scanner);
    return ntoks;
}

static int lex(const char *src) { return lexn(src, strlen(src)); }

/* Token kinds as a string of names, for compact comparisons:
 * "LET IDENT = NUMBER NL". */
static const char *kinds(void)
{
    static char buf[4096];
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < ntoks; i++) {
        int t = toks[i].kind;
        const char *w;
        char one[2] = { (char)t, 0 };
        switch (t) {
        case NUMBER: w = "NUMBER"; break;
        case STRING: w = "STRING"; break;
        case IDENT: w = "IDENT"; break;
        case DERIV: w = "DERIV"; break;
        case NEXT: w = "NEXT"; break;
        case NEWLINE: w = "NL"; break;
        case ARROW: w = "->"; break;
        case LE: w = "<="; break;
        case GE: w = ">="; break;
        case EQ: w = "=="; break;
        case NE: w = "!="; break;
        case ADD_ASSIGN: w = "+="; break;
        case SUB_ASSIGN: w = "-="; break;
        case MUL_ASSIGN: w = "*="; break;
        case DIV_ASSIGN: w = "/="; break;
        case AND: w = "AND"; break;
        case OR: w = "OR"; break;
        case NOT: w = "NOT"; break;
        case LET: w = "LET"; break;
        case SEED: w = "SEED"; break;
        case NEURON: w = "NEURON"; break;
        case CELL: w = "CELL"; break;
        case PLASTICITY: w = "PLASTICITY"; break;
        case POPULATION: w = "POPULATION"; break;
        case INPUT: w = "INPUT"; break;
        case SYNAPSE: w = "SYNAPSE"; break;
        case DATA: w = "DATA"; break;
        case SIMULATE: w = "SIMULATE"; break;
        case TRAIN: w = "TRAIN"; break;
        case PRINT: w = "PRINT"; break;
        case PLOT: w = "PLOT"; break;
        case LOAD: w = "LOAD"; break;
        case SAVE: w = "SAVE"; break;
        case COST: w = "COST"; break;
        case ANALYSIS: w = "ANALYSIS"; break;
        case OUT: w = "OUT"; break;
        case STATE: w = "STATE"; break;
        case GATE: w = "GATE"; break;
        case SPIKE: w = "SPIKE"; break;
        case TRACE: w = "TRACE"; break;
        case ON: w = "ON"; break;
        case INIT: w = "INIT"; break;
        case SIGN: w = "SIGN"; break;
        case PLASTIC: w = "PLASTIC"; break;
        case FLAG: w = "FLAG"; break;
        case FOR: w = "FOR"; break;
        case STEPS: w = "STEPS"; break;
        case DT: w = "DT"; break;
        case RECORD: w = "RECORD"; break;
        case EVERY: w = "EVERY"; break;
        case WITH: w = "WITH"; break;
        case BATCH: w = "BATCH"; break;
        case SCALE: w = "SCALE"; break;
        case AS: w = "AS"; break;
        case DURING: w = "DURING"; break;
        case AT: w = "AT"; break;
        case END: w = "END"; break;
        case VS: w = "VS"; break;
        case TO: w = "TO"; break;
        case INTO: w = "INTO"; break;
        case FROM: w = "FROM"; break;
        case LOWRANK: w = "LOWRANK"; break;
        case WHEN: w = "WHEN"; break;
        case RESET: w = "RESET"; break;
        case REFRACTORY: w = "REFRACTORY"; break;
        default:
            w = t < 128 ? one : "?";
        }
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? " " : "", w);
        if (len >= sizeof buf)
            break;
    }
    return buf;
}

/* The i-th token is `kind` at [off, off + len). */
#define CHECK_TOK(i, kind_, off_, len_)                                        \
    do {                                                                       \
        CHECK((i) < ntoks);                                                    \
        if ((i) < ntoks) {                                                     \
            CHECK_INT(toks[i].kind, (kind_));                                  \
            CHECK_INT(toks[i].off, (off_));                                    \
            CHECK_INT(toks[i].len, (len_));                                    \
        }                                                                      \
    } while (0)

/* Exactly one diagnostic: an error at [off, off + len) whose message is msg. */
#define CHECK_ONE_ERROR(off_, len_, msg_)                                       \
    do {                                                                       \
        CHECK_INT(diags.n, 1);                                                 \
        CHECK_INT(diags.errors, 1);                                            \
        if (diags.n >= 1) {                                                    \
            CHECK_INT(diags.v[0].level, DIAG_ERROR);                           \
            CHECK_INT(diags.v[0].span.off, (off_));                            \
            CHECK_INT(diags.v[0].span.len, (len_));                            \
            CHECK_STR(diags.v[0].msg, (msg_));                                  \
        }                                                                      \
    } while (0)

#define CHECK_NO_ERRORS() CHECK_INT(diags.n, 0)

static void test_numbers_and_units(void)
{
    lex("let tau = 10ms");
    CHECK_STR(kinds(), "LET IDENT = NUMBER NL");
    CHECK_TOK(0, LET, 0, 3);
    CHECK_TOK(1, IDENT, 4, 3);
    CHECK_TOK(2, '=', 8, 1);
    CHECK_TOK(3, NUMBER, 10, 4);
    CHECK_STR(toks[1].name, "tau");
    CHECK(toks[1].name == intern_cstr("tau"));
    CHECK_NEAR(toks[3].node->num, 0.01, 1e-15);
    CHECK(units_eq(toks[3].node->dim, units_time()));
    CHECK_STR(toks[3].node->text, "ms");
    CHECK_INT(toks[3].node->span.off, 10);
    CHECK_INT(toks[3].node->span.len, 4);
    CHECK_NO_ERRORS();

    /* The sign is an operator; the number and its unit are one token. */
    lex("print -70mV");
    CHECK_STR(kinds(), "PRINT - NUMBER NL");
    CHECK_NEAR(toks[2].node->num, 0.07, 1e-15);
    CHECK(units_eq(toks[2].node->dim, units_voltage()));
    CHECK_STR(toks[2].node->text, "mV");

    struct {
        const char *src;
        double num;
        Dim dim;
        const char *text;
    } cases[] = {
        { "42", 42, units_none(), "" },
        { "0.5", 0.5, units_none(), "" },
        { ".5", 0.5, units_none(), "" },
        { "5.", 5, units_none(), "" },
        { "1e-3", 1e-3, units_none(), "" },
        { "2.5E+3", 2500, units_none(), "" },
        { "1e3ms", 1, units_time(), "ms" },
        { "2.5E+3Hz", 2500, units_frequency(), "Hz" },
        { ".5ms", 5e-4, units_time(), "ms" },
        { "200pF", 2e-10, units_capacitance(), "pF" },
        { "2nS", 2e-9, units_conductance(), "nS" },
        { "5Hz", 5, units_frequency(), "Hz" },
        { "1s", 1, units_time(), "s" },
        { "3mM", 3, units_concentration(), "mM" },
        { "1Mohm", 1e6, units_resistance(), "Mohm" },
        { "1uA", 1e-6, units_current(), "uA" },
        { "1\xc2\xb5s", 1e-6, units_time(), "\xc2\xb5s" },
        { "1M\xce\xa9", 1e6, units_resistance(), "M\xce\xa9" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        lex(cases[i].src);
        CHECK_STR(kinds(), "NUMBER NL");
        if (ntoks < 1 || toks[0].kind != NUMBER)
            continue;
        CHECK_NEAR(toks[0].node->num, cases[i].num, 1e-12);
        CHECK(units_eq(toks[0].node->dim, cases[i].dim));
        CHECK_STR(toks[0].node->text, cases[i].text);
        CHECK_INT(toks[0].len, strlen(cases[i].src));
        CHECK_NO_ERRORS();
    }

    /* An unknown unit: one error at the unit's letters; the number stays. */
    lex("let a = 10xs");
    CHECK_STR(kinds(), "LET IDENT = NUMBER NL");
    CHECK_ONE_ERROR(10, 2, "unknown unit 'xs'");
    CHECK(diags.v[0].hint != NULL);
    CHECK_NEAR(toks[3].node->num, 10, 1e-15);
    CHECK(units_is_none(toks[3].node->dim));
    lex("5mss");
    CHECK_ONE_ERROR(1, 3, "unknown unit 'mss'");
    lex("3e");
    CHECK_ONE_ERROR(1, 1, "unknown unit 'e'");
    CHECK(diags.n == 1 && diags.v[0].hint && !strcmp(diags.v[0].hint, "an exponent needs digits, as in 3e-3"));
    lex("2x");
    CHECK(diags.n == 1 && diags.v[0].hint && !strncmp(diags.v[0].hint, "to multiply, write 2 * x; known units: s Hz", 43));
    /* A space separates a number from a name: 2 x is two tokens. */
    lex("2 x");
    CHECK_STR(kinds(), "NUMBER IDENT NL");
    CHECK_NO_ERRORS();
}

static void test_derivatives_and_next(void)
{
    lex("tau * dx/dt = -x");
    CHECK_STR(kinds(), "IDENT * DERIV = - IDENT NL");
    CHECK_TOK(2, DERIV, 6, 5);
    CHECK_STR(toks[2].name, "x");

    lex("tau_plus * dx_pre/dt = -x_pre");
    CHECK_STR(kinds(), "IDENT * DERIV = - IDENT NL");
    CHECK_STR(toks[2].name, "x_pre");
    CHECK_TOK(2, DERIV, 11, 9);

    /* dx/dtau is a quotient of two names. */
    lex("dx/dtau");
    CHECK_STR(kinds(), "IDENT / IDENT NL");
    CHECK_TOK(0, IDENT, 0, 2);
    CHECK_TOK(1, '/', 2, 1);
    CHECK_TOK(2, IDENT, 3, 4);
    CHECK_STR(toks[0].name, "dx");
    CHECK_STR(toks[2].name, "dtau");
    lex("dv/dt2");
    CHECK_STR(kinds(), "IDENT / IDENT NL");
    lex("d/dt");
    CHECK_STR(kinds(), "IDENT / IDENT NL");
    lex("dx / dt");
    CHECK_STR(kinds(), "IDENT / IDENT NL");

    lex("c' = c * f");
    CHECK_STR(kinds(), "NEXT = IDENT * IDENT NL");
    CHECK_TOK(0, NEXT, 0, 2);
    CHECK_STR(toks[0].name, "c");
    lex("h' = tanh(c') * o");
    CHECK_STR(kinds(), "NEXT = IDENT ( NEXT ) * IDENT NL");
    CHECK_STR(toks[4].name, "c");
    CHECK_NO_ERRORS();

    /* A quote not right after a name is an error, skipped. */
    lex("let f = 1'");
    CHECK_STR(kinds(), "LET IDENT = NUMBER NL");
    CHECK_ONE_ERROR(9, 1, "unexpected \"'\": the next-step form is written right after a name, as in x'");
    lex("x '");
    CHECK_STR(kinds(), "IDENT NL");
    CHECK_ONE_ERROR(2, 1, "unexpected \"'\": the next-step form is written right after a name, as in x'");
}

static void test_names_and_strings(void)
{
    lex("let \xcf\x84_m = 1");
    CHECK_STR(kinds(), "LET IDENT = NUMBER NL");
    CHECK_TOK(1, IDENT, 4, 4);
    CHECK_STR(toks[1].name, "\xcf\x84_m");
    CHECK_NO_ERRORS();

    lex("print \"net.npz\"");
    CHECK_STR(kinds(), "PRINT STRING NL");
    CHECK_TOK(1, STRING, 6, 9);
    CHECK_STR(toks[1].node->text, "net.npz");
    lex("print \"a\\\"b\\\\c\\nd\\te\"");
    CHECK_STR(kinds(), "PRINT STRING NL");
    CHECK_STR(toks[1].node->text, "a\"b\\c\nd\te");
    CHECK_NO_ERRORS();

    lex("a -> b <= c >= d == e != f += g -= h *= i /= j");
    CHECK_STR(kinds(), "IDENT -> IDENT <= IDENT >= IDENT == IDENT != IDENT += IDENT -= IDENT *= IDENT /= IDENT NL");
    CHECK_TOK(1, ARROW, 2, 2);
    lex("a @ b % c ^ d ~ e : f . g");
    CHECK_STR(kinds(), "IDENT @ IDENT % IDENT ^ IDENT ~ IDENT : IDENT . IDENT NL");
    CHECK_NO_ERRORS();
}

static void test_contextual_keywords(void)
{
    /* Statement words begin a top-level statement, and only that. */
    lex("let state = 3");
    CHECK_STR(kinds(), "LET IDENT = NUMBER NL");
    lex("print let");
    CHECK_STR(kinds(), "PRINT IDENT NL");
    lex("let a = 1; let b = 2");
    CHECK_STR(kinds(), "LET IDENT = NUMBER ; LET IDENT = NUMBER NL");
    lex("state = 1");
    CHECK_STR(kinds(), "IDENT = NUMBER NL");
    CHECK_STR(toks[0].name, "state");
    lex("eig J.w");
    CHECK_STR(kinds(), "ANALYSIS IDENT . IDENT NL");
    CHECK_STR(toks[0].name, "eig");

    /* Body words begin a statement inside { }, not at the top. */
    lex("cell C(n) {\n  state h[n]\n  out h\n  gate f = state\n}");
    CHECK_STR(kinds(), "CELL IDENT ( IDENT ) { NL STATE IDENT [ IDENT ] NL OUT IDENT NL GATE IDENT = IDENT NL } NL");
    lex("neuron N {\n  spike when v > 1 reset v = 0 refractory 2ms\n}");
    CHECK_STR(kinds(), "NEURON IDENT { NL SPIKE WHEN IDENT > NUMBER RESET IDENT = NUMBER REFRACTORY NUMBER NL } NL");
    lex("synapse E -> E lowrank(1) { learn; no_self; sign +; plastic hebb(eta = 1) every 10 }");
    CHECK_STR(kinds(), "SYNAPSE IDENT -> IDENT LOWRANK ( NUMBER ) { FLAG ; FLAG ; SIGN + ; PLASTIC IDENT ( IDENT = NUMBER ) EVERY NUMBER } NL");
    CHECK_STR(toks[9].name, "learn");
    CHECK_STR(toks[11].name, "no_self");
    lex("plasticity p(A) {\n  trace x: A * dx/dt = -x, on pre spike x += 1\n  on post spike { w += x }\n}");
    CHECK_STR(kinds(), "PLASTICITY IDENT ( IDENT ) { NL TRACE IDENT : IDENT * DERIV = - IDENT , ON IDENT SPIKE IDENT += NUMBER NL "
                       "ON IDENT SPIKE { IDENT += IDENT } NL } NL");
    lex("population E = Rate(10) { init x ~ normal(0, 1) }");
    CHECK_STR(kinds(), "POPULATION IDENT = IDENT ( NUMBER ) { INIT IDENT ~ IDENT ( NUMBER , NUMBER ) } NL");
    /* ...and not after the statement has begun. */
    lex("neuron N {\n  r = state + init\n}");
    CHECK_STR(kinds(), "NEURON IDENT { NL IDENT = IDENT + IDENT NL } NL");

    /* Clause words follow the statement that takes them, outside ( ). */
    lex("simulate for 2s dt 0.1ms record E.r every 10 steps batch 4");
    CHECK_STR(kinds(), "SIMULATE FOR NUMBER DT NUMBER RECORD IDENT . IDENT EVERY NUMBER STEPS BATCH NUMBER NL");
    lex("simulate for (steps) steps dt (every * dt)");
    CHECK_STR(kinds(), "SIMULATE FOR ( IDENT ) STEPS DT ( IDENT * IDENT ) NL");
    lex("print for, dt, batch, every");
    CHECK_STR(kinds(), "PRINT IDENT , IDENT , IDENT , IDENT NL");
    lex("train on ff with adam(lr = 1e-3) batch 64");
    CHECK_STR(kinds(), "TRAIN ON IDENT WITH IDENT ( IDENT = NUMBER ) BATCH NUMBER NL");
    lex("cost c = mse(z, target) during [0s, 1s]");
    CHECK_STR(kinds(), "COST IDENT = IDENT ( IDENT , IDENT ) DURING [ NUMBER , NUMBER ] NL");
    lex("cost c = mse(z, target) at end");
    CHECK_STR(kinds(), "COST IDENT = IDENT ( IDENT , IDENT ) AT END NL");
    lex("data d = npy(\"x.npy\") as rows scale 2");
    CHECK_STR(kinds(), "DATA IDENT = IDENT ( STRING ) AS IDENT SCALE NUMBER NL");
    lex("let data = scale");
    CHECK_STR(kinds(), "LET IDENT = IDENT NL");
    lex("population L = C(4) from u, E");
    CHECK_STR(kinds(), "POPULATION IDENT = IDENT ( NUMBER ) FROM IDENT , IDENT NL");
    lex("load \"w.npy\" into J.w");
    CHECK_STR(kinds(), "LOAD STRING INTO IDENT . IDENT NL");
    lex("plot a vs b to \"p.png\"");
    CHECK_STR(kinds(), "PLOT IDENT VS IDENT TO STRING NL");
    lex("print a vs b to c");
    CHECK_STR(kinds(), "PRINT IDENT IDENT IDENT IDENT IDENT NL");

    /* and, or, not are keywords everywhere. */
    lex("print not a and b or c");
    CHECK_STR(kinds(), "PRINT NOT IDENT AND IDENT OR IDENT NL");
    lex("let x = (a and b)");
    CHECK_STR(kinds(), "LET IDENT = ( IDENT AND IDENT ) NL");
    CHECK_NO_ERRORS();
}

static void test_newlines(void)
{
    /* A newline ends a statement; the end of input ends the last one. The end
     * of a line sits just after its code (an empty span), not past a comment,
     * so "unexpected end of line" points there. */
    lex("let a = 1\nlet b = 2\n");
    CHECK_STR(kinds(), "LET IDENT = NUMBER NL LET IDENT = NUMBER NL");
    CHECK_TOK(4, NEWLINE, 9, 0);
    lex("seed   # a comment\nseed");
    CHECK_STR(kinds(), "SEED NL SEED NL");
    CHECK_TOK(1, NEWLINE, 4, 0);
    CHECK_TOK(3, NEWLINE, 23, 0);
    lex("\n");
    CHECK_TOK(0, NEWLINE, 0, 1);
    lex("let a = 1");
    CHECK_STR(kinds(), "LET IDENT = NUMBER NL");
    CHECK_TOK(4, NEWLINE, 9, 0);
    lex("");
    CHECK_STR(kinds(), "");
    lex("\n\n");
    CHECK_STR(kinds(), "NL NL");

    /* ...except after an operator, ',', '=', '->' or a clause word, inside
     * ( ) and [ ], and after a backslash. */
    lex("let a = 1 +\n  2");
    CHECK_STR(kinds(), "LET IDENT = NUMBER + NUMBER NL");
    lex("let a =\n  2");
    CHECK_STR(kinds(), "LET IDENT = NUMBER NL");
    lex("print max(1,\n  2\n)");
    CHECK_STR(kinds(), "PRINT IDENT ( NUMBER , NUMBER ) NL");
    lex("let l = [1\n, 2\n]");
    CHECK_STR(kinds(), "LET IDENT = [ NUMBER , NUMBER ] NL");
    lex("let a = 1 \\\n + 2");
    CHECK_STR(kinds(), "LET IDENT = NUMBER + NUMBER NL");
    lex("let a = 1 \\  \r\n + 2");
    CHECK_STR(kinds(), "LET IDENT = NUMBER + NUMBER NL");
    lex("synapse E ->\n  E");
    CHECK_STR(kinds(), "SYNAPSE IDENT -> IDENT NL");
    lex("simulate for\n 1s dt\n 1ms");
    CHECK_STR(kinds(), "SIMULATE FOR NUMBER DT NUMBER NL");
    /* a clause word above a line that starts a statement ends its own */
    lex("simulate for\n# note\n\nprint b");
    CHECK_STR(kinds(), "SIMULATE FOR NL NL NL PRINT IDENT NL");
    lex("print a and\n b");
    CHECK_STR(kinds(), "PRINT IDENT AND IDENT NL");
    lex("print 1 <\n 2");
    CHECK_STR(kinds(), "PRINT NUMBER < NUMBER NL");

    /* `sign +` and `sign -` end with an operator but are complete. */
    lex("synapse E -> E {\n  sign +\n  learn\n}");
    CHECK_STR(kinds(), "SYNAPSE IDENT -> IDENT { NL SIGN + NL FLAG NL } NL");
    lex("synapse E -> E {\n  sign -\n  learn\n}");
    CHECK_STR(kinds(), "SYNAPSE IDENT -> IDENT { NL SIGN - NL FLAG NL } NL");

    /* Inside { }, newlines end body statements even within an open ( outside. */
    lex("print f({\n a\n})");
    CHECK_STR(kinds(), "PRINT IDENT ( { NL IDENT NL } ) NL");

    /* Comments end at the newline, which still ends the statement. */
    lex("let a = 1 # one\nlet b = 2");
    CHECK_STR(kinds(), "LET IDENT = NUMBER NL LET IDENT = NUMBER NL");
    lex("let a = 1 /* one\n two */ let b = 2");
    CHECK_STR(kinds(), "LET IDENT = NUMBER IDENT IDENT = NUMBER NL");
    lex("let a = 1 +  # more below\n 2");
    CHECK_STR(kinds(), "LET IDENT = NUMBER + NUMBER NL");
    lex("let a = 1;; let b = 2;");
    CHECK_STR(kinds(), "LET IDENT = NUMBER ; ; LET IDENT = NUMBER ;");
    lex("let a = 1\r\nprint a\r\n");
    CHECK_STR(kinds(), "LET IDENT = NUMBER NL PRINT IDENT NL");
    CHECK_NO_ERRORS();

    /* Input that ends inside an open construct asks the REPL for more. */
    lex("let a = (1 +");
    CHECK(lexstate.hit_eof_open);
    lex("neuron N {\n");
    CHECK(lexstate.hit_eof_open);
    lex("let a = 1 +");
    CHECK(lexstate.hit_eof_open);
    lex("let a = 1");
    CHECK(!lexstate.hit_eof_open);
    CHECK_NO_ERRORS();
}

static void test_bad_input(void)
{
    /* Each kind of bad input: one error at its span, the rest still read. */
    lex("let a = 1 $");
    CHECK_STR(kinds(), "LET IDENT = NUMBER NL");
    CHECK_ONE_ERROR(10, 1, "unexpected character '$'");
    lex("let b = 2 ` 3");
    CHECK_STR(kinds(), "LET IDENT = NUMBER NUMBER NL");
    CHECK_ONE_ERROR(10, 1, "unexpected character '`'");
    lex("let c = 3\x01");
    CHECK_ONE_ERROR(9, 1, "unexpected control character 0x01");
    lex("\x7f");
    CHECK_ONE_ERROR(0, 1, "unexpected control character 0x7F");
    lex("let d = 4\xff");
    CHECK_STR(kinds(), "LET IDENT = NUMBER NL");
    CHECK_ONE_ERROR(9, 1, "invalid UTF-8 byte 0xFF");
    /* a lead byte without its continuation, and a lone continuation byte */
    lex("a\xc3 b");
    CHECK_STR(kinds(), "IDENT IDENT NL");
    CHECK_ONE_ERROR(1, 1, "invalid UTF-8 byte 0xC3");
    lex("\x80");
    CHECK_ONE_ERROR(0, 1, "invalid UTF-8 byte 0x80");
    lexn("let e\0 = 5", 10);
    CHECK_STR(kinds(), "LET IDENT = NUMBER NL");
    CHECK_ONE_ERROR(5, 1, "unexpected NUL byte");
    CHECK_TOK(3, NUMBER, 9, 1);

    /* An unterminated string runs to the end of the line, and is kept. */
    lex("print \"abc\nprint 1");
    CHECK_STR(kinds(), "PRINT STRING NL PRINT NUMBER NL");
    CHECK_ONE_ERROR(6, 4, "unterminated string: expected '\"' before the end of the line");
    CHECK_STR(toks[1].node->text, "abc");
    CHECK(!lexstate.hit_eof_open);
    lex("print \"abc");
    CHECK_ONE_ERROR(6, 4, "unterminated string: expected '\"' before the end of the line");
    CHECK(lexstate.hit_eof_open);

    /* An unterminated comment is reported at its opener. */
    lex("let a = 1\n/* open\nlet b = 2\n");
    CHECK_STR(kinds(), "LET IDENT = NUMBER NL");
    CHECK_ONE_ERROR(10, 2, "unterminated comment: '/*' has no matching '*/'");
    CHECK(lexstate.hit_eof_open);

    /* Brackets nest up to LEX_MAX_NEST: one error at the first opener past it. */
    char deep[2 * LEX_MAX_NEST + 16];
    size_t n = 0;
    for (int i = 0; i < LEX_MAX_NEST + 1; i++)
        deep[n++] = '(';
    deep[n++] = '1';
    for (int i = 0; i < LEX_MAX_NEST + 1; i++)
        deep[n++] = ')';
    lexn(deep, n);
    CHECK_ONE_ERROR(LEX_MAX_NEST, 1, "nesting deeper than 256 levels");
    CHECK_INT(ntoks, 2 * LEX_MAX_NEST + 4);
    CHECK(!lexstate.hit_eof_open);

    /* A bad character marks its statement (the parser stays quiet about it),
     * until the next statement begins. */
    lex("print a $ 2");
    CHECK(lexstate.bad_in_stmt);
    lex("print a $\nprint 2");
    CHECK(!lexstate.bad_in_stmt);
    lex("$ let x = 1");
    CHECK_STR(kinds(), "IDENT IDENT = NUMBER NL");
}

/* lex_recover, as the parser calls it on a syntax error with the lookahead: an
 * unclosed ( is forgotten, and a lookahead that starts a later line is read
 * again after an injected end of line, now at the start of a statement. */
static void test_recover(void)
{
    const char *src = "print (1 + 2\nlet x = 3\n";
    diags_clear(&diags);
    SourceFile *f = source_new("test.cajal", src, strlen(src));
    memset(&lexstate, 0, sizeof lexstate);
    lexstate.arena = &arena;
    lexstate.diags = &diags;
    lexstate.file = f;
    lexstate.at_stmt_start = true;
    yyscan_t scanner;
    yylex_init_extra(&lexstate, &scanner);
    lexstate.scanner = scanner;
    YY_BUFFER_STATE buf = yy_scan_bytes(f->text, (int)f->len, scanner);
    ntoks = 0;
    bool recovered = false;
    for (;;) {
        YYSTYPE val;
        YYLTYPE loc;
        memset(&val, 0, sizeof val);
        int t = yylex(&val, &loc, scanner);
        if (t == YYEOF || ntoks == MAX_TOKENS)
            break;
        toks[ntoks++] = (Tok){ t, loc.off, loc.len, NULL, NULL };
        if (!recovered && t == IDENT && loc.off == 13) {
            CHECK_INT(lexstate.paren_depth, 1);
            CHECK(lex_recover(&lexstate, loc, true));
            CHECK_INT(lexstate.paren_depth, 0);
            CHECK_INT(lexstate.depth, 0);
            recovered = true;
        }
    }
    yy_delete_buffer(buf, scanner);
    yylex_destroy(scanner);
    CHECK(recovered);
    CHECK_STR(kinds(), "PRINT ( NUMBER + NUMBER IDENT NL LET IDENT = NUMBER NL");
    CHECK_TOK(6, NEWLINE, 12, 0);
    CHECK_TOK(7, LET, 13, 3);
    CHECK_NO_ERRORS();
}

int main(void)
{
    arena_init(&arena);
    diags_init(&diags);
    diags.max_errors = 1000;
    test_numbers_and_units();
    test_derivatives_and_next();
    test_names_and_strings();
    test_contextual_keywords();
    test_newlines();
    test_bad_input();
    test_recover();
    diags_fini(&diags);
    arena_fini(&arena);
    source_free_all();
    intern_free_all();
    return check_done("test_lexer");
}

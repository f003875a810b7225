/* units.c: the unit algebra (see units.h).
 *
 * Used by the lexer (unit suffixes), the checker (dimensions of expressions and
 * their error messages) and every printer. One table, quantities[], says for each
 * dimension the language names its words ("a time"), its canonical unit and the
 * unit it is printed in; parsing, printing and naming all read it. Scales are
 * powers of ten taken from literals (pow10_table), never computed, so "ms" is
 * exactly the double nearest 1e-3 and `10ms` lexes to the double nearest 0.01.
 */
#include "units.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXP_MAX = 127 };   /* stored (doubled) exponents lie in [-EXP_MAX, EXP_MAX] */

/* Whole exponents (m, kg, s, A, K, mol, cd) to a stored Dim. */
#define DIM(m, kg, s, a, k, mol, cd) { { 2 * (m), 2 * (kg), 2 * (s), 2 * (a), 2 * (k), 2 * (mol), 2 * (cd) } }

typedef enum {
    Q_TIME, Q_FREQUENCY, Q_VOLTAGE, Q_CURRENT, Q_CONDUCTANCE, Q_CAPACITANCE,
    Q_RESISTANCE, Q_CHARGE, Q_POWER, Q_ENERGY, Q_LENGTH, Q_AREA, Q_VOLUME, Q_MASS,
    Q_AMOUNT, Q_TEMPERATURE, Q_CONCENTRATION, Q_COUNT
} Quantity;

/* A dimension the language has words for. One `sym` is worth 10^pow10 SI units
 * (1 g = 1e-3 kg, 1 M = 1e3 mol/m^3). `name` is the canonical unit (units_name);
 * NULL means none of its own, so the name is composed (area: "m^2"). `sym` is
 * the unit printed with a prefix (units_format) and parsed after one; NULL for
 * the composed ones. `piece` marks the derived units a composed name may use. */
typedef struct QuantityInfo {
    const char *kind;
    Dim dim;
    const char *name;
    const char *sym;
    int pow10;
    bool piece;
} QuantityInfo;

static const QuantityInfo quantities[Q_COUNT] = {
    [Q_TIME]          = { "a time",                 DIM(0, 0, 1, 0, 0, 0, 0),   "s",   "s",   0, false },
    [Q_FREQUENCY]     = { "a frequency",            DIM(0, 0, -1, 0, 0, 0, 0),  "Hz",  "Hz",  0, true },
    [Q_VOLTAGE]       = { "a voltage",              DIM(2, 1, -3, -1, 0, 0, 0), "V",   "V",   0, true },
    [Q_CURRENT]       = { "a current",              DIM(0, 0, 0, 1, 0, 0, 0),   "A",   "A",   0, false },
    [Q_CONDUCTANCE]   = { "a conductance",          DIM(-2, -1, 3, 2, 0, 0, 0), "S",   "S",   0, true },
    [Q_CAPACITANCE]   = { "a capacitance",          DIM(-2, -1, 4, 2, 0, 0, 0), "F",   "F",   0, true },
    [Q_RESISTANCE]    = { "a resistance",           DIM(2, 1, -3, -2, 0, 0, 0), "ohm", "ohm", 0, true },
    [Q_CHARGE]        = { "a charge",               DIM(0, 0, 1, 1, 0, 0, 0),   "C",   "C",   0, true },
    [Q_POWER]         = { "a power",                DIM(2, 1, -3, 0, 0, 0, 0),  "W",   "W",   0, true },
    [Q_ENERGY]        = { "an energy",              DIM(2, 1, -2, 0, 0, 0, 0),  "J",   "J",   0, true },
    [Q_LENGTH]        = { "a length",               DIM(1, 0, 0, 0, 0, 0, 0),   "m",   "m",   0, false },
    [Q_AREA]          = { "an area",                DIM(2, 0, 0, 0, 0, 0, 0),   NULL,  NULL,  0, false },
    [Q_VOLUME]        = { "a volume",               DIM(3, 0, 0, 0, 0, 0, 0),   NULL,  NULL,  0, false },
    [Q_MASS]          = { "a mass",                 DIM(0, 1, 0, 0, 0, 0, 0),   "kg",  "g",  -3, false },
    [Q_AMOUNT]        = { "an amount of substance", DIM(0, 0, 0, 0, 0, 1, 0),   "mol", "mol", 0, false },
    [Q_TEMPERATURE]   = { "a temperature",          DIM(0, 0, 0, 0, 1, 0, 0),   "K",   "K",   0, false },
    [Q_CONCENTRATION] = { "a concentration",        DIM(-3, 0, 0, 0, 0, 1, 0),  "M",   "M",   3, false },
};

/* Exact powers of ten 1e-18 .. 1e12: every prefix times every base scale. */
enum { POW10_MIN = -18, POW10_MAX = 12 };
static const double pow10_table[POW10_MAX - POW10_MIN + 1] = {
    1e-18, 1e-17, 1e-16, 1e-15, 1e-14, 1e-13, 1e-12, 1e-11, 1e-10, 1e-9, 1e-8,
    1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6,
    1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
};

static double pow10_exact(int e)
{
    assert(e >= POW10_MIN && e <= POW10_MAX);
    return pow10_table[e - POW10_MIN];
}

/* Dims */

Dim units_make(int m, int kg, int s, int a, int k, int mol, int cd)
{
    int w[UNITS_NBASE] = { m, kg, s, a, k, mol, cd };
    Dim d = { { 0 } };
    for (int i = 0; i < UNITS_NBASE; i++) {
        assert(2 * w[i] >= -EXP_MAX && 2 * w[i] <= EXP_MAX);
        d.e[i] = (int8_t)(2 * w[i]);
    }
    return d;
}

Dim units_none(void) { return (Dim){ { 0 } }; }
Dim units_time(void) { return quantities[Q_TIME].dim; }
Dim units_frequency(void) { return quantities[Q_FREQUENCY].dim; }
Dim units_voltage(void) { return quantities[Q_VOLTAGE].dim; }
Dim units_current(void) { return quantities[Q_CURRENT].dim; }
Dim units_conductance(void) { return quantities[Q_CONDUCTANCE].dim; }
Dim units_capacitance(void) { return quantities[Q_CAPACITANCE].dim; }
Dim units_resistance(void) { return quantities[Q_RESISTANCE].dim; }
Dim units_charge(void) { return quantities[Q_CHARGE].dim; }
Dim units_length(void) { return quantities[Q_LENGTH].dim; }
Dim units_mass(void) { return quantities[Q_MASS].dim; }
Dim units_concentration(void) { return quantities[Q_CONCENTRATION].dim; }

bool units_eq(Dim a, Dim b)
{
    for (int i = 0; i < UNITS_NBASE; i++)
        if (a.e[i] != b.e[i])
            return false;
    return true;
}

bool units_is_none(Dim d) { return units_eq(d, units_none()); }

/* *out = a + sign * b, exponent by exponent, if every sum fits. */
static bool combine(Dim a, Dim b, int sign, Dim *out)
{
    Dim r = { { 0 } };
    for (int i = 0; i < UNITS_NBASE; i++) {
        int v = a.e[i] + sign * b.e[i];
        if (v < -EXP_MAX || v > EXP_MAX)
            return false;
        r.e[i] = (int8_t)v;
    }
    *out = r;
    return true;
}

bool units_mul(Dim a, Dim b, Dim *out) { return combine(a, b, 1, out); }
bool units_div(Dim a, Dim b, Dim *out) { return combine(a, b, -1, out); }

bool units_pow(Dim a, double p, Dim *out)
{
    Dim r = { { 0 } };
    for (int i = 0; i < UNITS_NBASE; i++) {
        if (a.e[i] == 0) {
            r.e[i] = 0;
            continue;
        }
        double v = a.e[i] * p;
        if (!isfinite(v) || fabs(v) > EXP_MAX + 0.5)
            return false;
        double whole = nearbyint(v);
        if (fabs(v - whole) > 1e-9 * fmax(1.0, fabs(v)) || fabs(whole) > EXP_MAX)
            return false;
        r.e[i] = (int8_t)whole;
    }
    *out = r;
    return true;
}

/* Parsing suffixes */

typedef struct Spelling {
    const char *text;
    int pow10;            /* of the unit in SI for a base; of the factor for a prefix */
    Quantity q;           /* base units only */
} Spelling;

static const Spelling bases[] = {
    { "s", 0, Q_TIME },
    { "Hz", 0, Q_FREQUENCY },
    { "V", 0, Q_VOLTAGE },
    { "A", 0, Q_CURRENT },
    { "S", 0, Q_CONDUCTANCE },
    { "F", 0, Q_CAPACITANCE },
    { "ohm", 0, Q_RESISTANCE },
    { "Ohm", 0, Q_RESISTANCE },
    { "\xCE\xA9", 0, Q_RESISTANCE },       /* U+03A9 GREEK CAPITAL LETTER OMEGA */
    { "\xE2\x84\xA6", 0, Q_RESISTANCE },   /* U+2126 OHM SIGN */
    { "C", 0, Q_CHARGE },
    { "W", 0, Q_POWER },
    { "J", 0, Q_ENERGY },
    { "m", 0, Q_LENGTH },
    { "g", -3, Q_MASS },
    { "mol", 0, Q_AMOUNT },
    { "M", 3, Q_CONCENTRATION },
    { "K", 0, Q_TEMPERATURE },
};

static const Spelling prefixes[] = {
    { "f", -15, 0 },
    { "p", -12, 0 },
    { "n", -9, 0 },
    { "u", -6, 0 },
    { "\xC2\xB5", -6, 0 },                 /* U+00B5 MICRO SIGN */
    { "\xCE\xBC", -6, 0 },                 /* U+03BC GREEK SMALL LETTER MU */
    { "m", -3, 0 },
    { "c", -2, 0 },
    { "k", 3, 0 },
    { "M", 6, 0 },
    { "G", 9, 0 },
};

enum { NBASES = sizeof bases / sizeof bases[0], NPREFIXES = sizeof prefixes / sizeof prefixes[0] };

static const Spelling *find_base(const char *s, size_t n)
{
    for (int i = 0; i < NBASES; i++)
        if (strlen(bases[i].text) == n && memcmp(bases[i].text, s, n) == 0)
            return &bases[i];
    return NULL;
}

/* suffix -> base | prefix base */
bool units_parse_suffix(const char *s, size_t n, double *scale, Dim *dim)
{
    const Spelling *base = find_base(s, n);
    int pow10 = 0;
    if (!base) {
        for (int i = 0; i < NPREFIXES && !base; i++) {
            size_t len = strlen(prefixes[i].text);
            if (len < n && memcmp(prefixes[i].text, s, len) == 0) {
                base = find_base(s + len, n - len);
                pow10 = prefixes[i].pow10;
            }
        }
    }
    if (!base)
        return false;
    *scale = pow10_exact(pow10 + base->pow10);
    *dim = quantities[base->q].dim;
    return true;
}

const char *units_known_list(void)
{
    return "units: s Hz V A S (siemens) F ohm C W J m (metre) g mol M (molar) K, "
           "after one of the prefixes f p n u m c k M G, e.g. ms mV nS pF uA kHz Mohm mM";
}

/* Names */

/* Appends printf output to buf[0..n) at *len, truncating. */
static void append(char *buf, size_t n, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t n, size_t *len, const char *fmt, ...)
{
    if (*len + 1 >= n)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *len, n - *len, fmt, ap);
    va_end(ap);
    if (k > 0)
        *len = *len + (size_t)k < n ? *len + (size_t)k : n - 1;
}

static const QuantityInfo *find_quantity(Dim d)
{
    for (int q = 0; q < Q_COUNT; q++)
        if (units_eq(quantities[q].dim, d))
            return &quantities[q];
    return NULL;
}

/* One factor of a composed name: a unit and its stored (doubled) exponent. */
typedef struct Piece {
    const char *sym;
    int e2;
} Piece;

/* The order base units appear in a composed name. */
static const struct { int base; const char *sym; } base_order[UNITS_NBASE] = {
    { UNITS_KG, "kg" }, { UNITS_M, "m" }, { UNITS_S, "s" }, { UNITS_A, "A" },
    { UNITS_K, "K" }, { UNITS_MOL, "mol" }, { UNITS_CD, "cd" },
};

/* Splits d into at most one derived unit (a `piece` of quantities[]) to a whole
 * or half power, times base units; fills pieces[] (at most UNITS_NBASE + 1) in
 * print order and returns how many. Choice: fewest pieces, then no derived unit,
 * then the smallest sum of |exponents|, then a positive power, then table order. */
static int decompose(Dim d, Piece *pieces)
{
    int best_q = -1, best_k2 = 0;
    int best_key[4] = { 0 };   /* pieces, has a derived unit, sum |e|, negative power */
    bool have = false;
    for (int q = -1; q < Q_COUNT; q++) {
        if (q >= 0 && !quantities[q].piece)
            continue;
        for (int k2 = (q < 0 ? 0 : -6); k2 <= (q < 0 ? 0 : 6); k2++) {
            if (q >= 0 && k2 == 0)
                continue;
            int key[4] = { q >= 0, q >= 0, abs(k2), k2 < 0 };
            bool fits = true;
            for (int i = 0; i < UNITS_NBASE; i++) {
                /* quantities[] dims hold whole exponents, so e * k2 is even */
                int r = d.e[i] - (q >= 0 ? quantities[q].dim.e[i] * k2 / 2 : 0);
                fits = fits && r >= -EXP_MAX && r <= EXP_MAX;
                key[0] += r != 0;
                key[2] += abs(r);
            }
            if (!fits)
                continue;
            int c = 0;
            for (int j = 0; j < 4 && c == 0; j++)
                c = (key[j] > best_key[j]) - (key[j] < best_key[j]);
            if (!have || c < 0) {
                have = true;
                best_q = q;
                best_k2 = k2;
                memcpy(best_key, key, sizeof key);
            }
        }
    }
    int np = 0;
    if (best_q >= 0)
        pieces[np++] = (Piece){ quantities[best_q].sym, best_k2 };
    for (int j = 0; j < UNITS_NBASE; j++) {
        int i = base_order[j].base;
        int r = d.e[i] - (best_q >= 0 ? quantities[best_q].dim.e[i] * best_k2 / 2 : 0);
        if (r != 0)
            pieces[np++] = (Piece){ base_order[j].sym, r };
    }
    return np;
}

/* Appends "sym" or "sym^p" for the positive stored exponent e2. */
static void append_piece(char *buf, size_t n, size_t *len, const char *sym, int e2)
{
    if (e2 == 2)
        append(buf, n, len, "%s", sym);
    else if (e2 % 2 == 0)
        append(buf, n, len, "%s^%d", sym, e2 / 2);
    else
        append(buf, n, len, "%s^%d.5", sym, e2 / 2);
}

/* Writes the composed name of d ("V/s", "1/(V*s)"). Sets *prefixable when the
 * first numerator piece is a unit to the power 1 that takes a prefix. */
static void compose(Dim d, char *buf, size_t n, bool *prefixable)
{
    Piece pieces[UNITS_NBASE + 1];
    int np = decompose(d, pieces);
    int nnum = 0, nden = 0;
    for (int i = 0; i < np; i++)
        pieces[i].e2 > 0 ? nnum++ : nden++;

    size_t len = 0;
    buf[0] = '\0';
    *prefixable = false;
    if (nnum == 0)
        append(buf, n, &len, "1");
    for (int i = 0, k = 0; i < np; i++) {
        if (pieces[i].e2 < 0)
            continue;
        if (k++ == 0)
            *prefixable = pieces[i].e2 == 2 && strcmp(pieces[i].sym, "kg") != 0;
        else
            append(buf, n, &len, "*");
        append_piece(buf, n, &len, pieces[i].sym, pieces[i].e2);
    }
    if (nden > 0)
        append(buf, n, &len, nden > 1 ? "/(" : "/");
    for (int i = 0, k = 0; i < np; i++) {
        if (pieces[i].e2 > 0)
            continue;
        if (k++ > 0)
            append(buf, n, &len, "*");
        append_piece(buf, n, &len, pieces[i].sym, -pieces[i].e2);
    }
    if (nden > 1)
        append(buf, n, &len, ")");
}

void units_name(Dim d, char *buf, size_t n)
{
    if (n == 0)
        return;
    const QuantityInfo *q = find_quantity(d);
    if (units_is_none(d))
        snprintf(buf, n, "1");
    else if (q && q->name)
        snprintf(buf, n, "%s", q->name);
    else {
        bool prefixable;
        char tmp[160];
        compose(d, tmp, sizeof tmp, &prefixable);
        snprintf(buf, n, "%s", tmp);
    }
}

const char *units_kind(Dim d)
{
    if (units_is_none(d))
        return "a number without unit";
    const QuantityInfo *q = find_quantity(d);
    return q ? q->kind : NULL;
}

void units_describe(Dim d, const char *as_written, char *buf, size_t n)
{
    if (n == 0)
        return;
    const char *kind = units_kind(d);
    char name[160];
    if (as_written && as_written[0])
        snprintf(name, sizeof name, "%s", as_written);
    else
        units_name(d, name, sizeof name);
    if (units_is_none(d))
        snprintf(buf, n, "%s", kind);
    else if (kind)
        snprintf(buf, n, "%s (%s)", kind, name);
    else
        snprintf(buf, n, "a quantity in %s", name);
}

/* Printing */

/* The prefixes printed, largest first. */
static const struct { int pow10; const char *text; } print_prefixes[] = {
    { 9, "G" }, { 6, "M" }, { 3, "k" }, { 0, "" }, { -3, "m" }, { -6, "u" },
    { -9, "n" }, { -12, "p" }, { -15, "f" },
};
enum { NPRINT = sizeof print_prefixes / sizeof print_prefixes[0] };

/* Writes v followed by " " and unit, picking the prefix that puts the mantissa
 * as printed by %.4g in [1, 1000); without prefix when none does. */
static void format_prefixed(double v, const char *unit, char *buf, size_t n)
{
    double a = fabs(v);
    int p = 0;
    while (p < NPRINT && a < pow10_exact(print_prefixes[p].pow10))
        p++;
    char num[64];
    while (p < NPRINT) {
        snprintf(num, sizeof num, "%.4g", v / pow10_exact(print_prefixes[p].pow10));
        if (fabs(strtod(num, NULL)) < 1000) {
            snprintf(buf, n, "%s %s%s", num, print_prefixes[p].text, unit);
            return;
        }
        if (p == 0)
            break;
        p--;   /* 999.97 m rounds to "1000": one prefix up */
    }
    snprintf(buf, n, "%.4g %s", v, unit);
}

void units_format(double value, Dim d, char *buf, size_t n)
{
    if (n == 0)
        return;
    if (value == 0)
        value = 0;   /* -0 prints as "0" */
    if (isnan(value))
        value = fabs(value);   /* "nan", never "-nan": a NaN's sign means nothing */
    if (units_is_none(d)) {
        snprintf(buf, n, "%.4g", value);
        return;
    }
    const QuantityInfo *q = find_quantity(d);
    char unit[160];
    bool prefixable = true;
    if (q && q->sym) {
        snprintf(unit, sizeof unit, "%s", q->sym);
        value /= pow10_exact(q->pow10);
    } else {
        compose(d, unit, sizeof unit, &prefixable);
    }
    /* "1/V" after a number reads "/V" */
    const char *shown = strncmp(unit, "1/", 2) == 0 ? unit + 1 : unit;
    if (!prefixable || value == 0 || !isfinite(value))
        snprintf(buf, n, "%.4g %s", value, shown);
    else
        format_prefixed(value, shown, buf, n);
}

double units_shown(Dim d, double big, char *unit, size_t n)
{
    unit[0] = 0;
    if (units_is_none(d))
        return 1;
    bool usable = isfinite(big) && big > 0;
    char buf[96];
    units_format(usable ? big : 1, d, buf, sizeof buf);
    char *end;
    double mantissa = strtod(buf, &end);
    while (*end == ' ')
        end++;
    if (end[0] == 'u' && end[1])
        snprintf(unit, n, "\xc2\xb5%s", end + 1);   /* micro: µ */
    else
        snprintf(unit, n, "%s", end);
    if (!usable || !(mantissa != 0))
        return 1;
    return pow(10, round(log10(fabs(mantissa) / big)));
}

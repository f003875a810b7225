/* units.h: physical dimensions, unit suffixes and how quantities are printed.
 *
 * Inside cajal every number is SI; a unit is converted only where a number is
 * read (the lexer calls units_parse_suffix for `10ms`, `-70mV`, `200pF`) and
 * where it is printed (units_format). Between the two a value carries only its
 * Dim, which the checker combines with units_mul, units_div and units_pow and
 * compares with units_eq. Error messages speak of dimensions in the user's words
 * through units_kind, units_name and units_describe ("a time (ms)"), never as
 * exponent vectors.
 *
 * A Dim holds the exponents of the seven SI base dimensions, each stored TIMES
 * TWO so that half powers exist (white noise scales as 1/sqrt(s)):
 *
 *     e[]:   [0] m   [1] kg   [2] s   [3] A   [4] K   [5] mol   [6] cd
 *     V  = kg m^2 s^-3 A^-1   ->  { 4, 2, -6, -2, 0, 0, 0 }
 *     s^-0.5                  ->  { 0, 0, -1,  0, 0, 0, 0 }
 *
 * Every stored exponent lies in [-127, 127]: an operation whose result would not
 * fit reports failure instead of wrapping, so a negated Dim always fits.
 */
#ifndef CAJAL_UNITS_H
#define CAJAL_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { UNITS_M, UNITS_KG, UNITS_S, UNITS_A, UNITS_K, UNITS_MOL, UNITS_CD, UNITS_NBASE };

typedef struct Dim {
    int8_t e[UNITS_NBASE];    /* 2 * exponent of each base dimension */
} Dim;

/* A Dim from whole exponents (m, kg, s, A, K, mol, cd), each within [-63, 63];
 * half powers come from units_pow. */
Dim units_make(int m, int kg, int s, int a, int k, int mol, int cd);

/* The dimensions the language names. */
Dim units_none(void);           /* a bare number */
Dim units_time(void);           /* s */
Dim units_frequency(void);      /* Hz = 1/s */
Dim units_voltage(void);        /* V */
Dim units_current(void);        /* A */
Dim units_conductance(void);    /* S */
Dim units_capacitance(void);    /* F */
Dim units_resistance(void);     /* ohm */
Dim units_charge(void);         /* C */
Dim units_length(void);         /* m */
Dim units_mass(void);           /* kg */
Dim units_concentration(void);  /* mol/m^3; 1 M (molar) = 1000 mol/m^3 */

bool units_eq(Dim a, Dim b);
bool units_is_none(Dim d);

/* *out = a * b (exponents add) and *out = a / b (exponents subtract). Return
 * false, leaving *out unchanged, when an exponent would leave [-63.5, 63.5]. */
bool units_mul(Dim a, Dim b, Dim *out);
bool units_div(Dim a, Dim b, Dim *out);

/* *out = a ^ p. Returns false, leaving *out unchanged, when some exponent times
 * p is not a multiple of 1/2 (s^0.25, s^(1/3)) or leaves [-63.5, 63.5]. A
 * dimensionless a gives a dimensionless result for every p, even NaN or inf;
 * a non-finite p with any other a fails. p is accepted within 1e-9 of an exact
 * result, so (s^1.5)^(1/3) is s^0.5. */
bool units_pow(Dim a, double p, Dim *out);

/* Reads a unit suffix as written after a number: s[0..n) (need not be
 * NUL-terminated, case matters). On success sets *scale (the SI value of one
 * such unit: "ms" -> 1e-3, "kg" -> 1, "mM" -> 1) and *dim, and returns true.
 * Returns false, leaving both unchanged, for anything else, including n == 0;
 * the caller then reports "unknown unit '...'" with units_known_list as hint.
 *
 * A suffix is a base unit, optionally after one SI prefix:
 *   base    s Hz V A S(siemens) F ohm|Ohm|Ω C W J m(metre) g(gram) mol
 *           M(molar = 1000 mol/m^3) K(kelvin)
 *   prefix  f p n u|µ|μ m c k M G
 * A whole-string base unit wins over prefix + base, which settles the cases
 * neuroscientists read one way: "m" is a metre and "M" molar, while "ms" is a
 * millisecond, "mS" millisiemens, "mM" millimolar, "mm" millimetre, "Ms" a
 * megasecond and "Mohm"/"MOhm" megaohm. Two prefixes ("mms"), a prefix alone
 * ("k"), a unit then a prefix ("sm") and anything unlisted ("min", "hz", "sec")
 * are rejected. Ω is accepted as U+03A9 or U+2126; µ as U+00B5 or U+03BC. */
bool units_parse_suffix(const char *s, size_t n, double *scale, Dim *dim);

/* The accepted spellings, one static line for a hint. */
const char *units_known_list(void);

/* Writes value (SI) with a readable unit into buf[0..n), always NUL-terminated
 * when n > 0 (truncated if too small). Numbers print with %.4g.
 *   - dimensionless: the number alone: "42", "0.5", "1e-05";
 *   - a dimension with a named unit (s, Hz, V, A, S, F, ohm, C, W, J, m, g, mol,
 *     M, K): the SI prefix among f p n u m k M G (ASCII "u" for micro) that puts
 *     the printed mantissa in [1, 1000): 0.02 s -> "20 ms", 2e-10 F -> "200 pF",
 *     -0.07 V -> "-70 mV", 5 Hz -> "5 Hz", 2 s -> "2 s"; mass is shown in grams
 *     ("5 mg", "1 kg") and concentration in molar ("100 uM"). Zero and non-finite
 *     values, and values no prefix brings into [1, 1000) (below 1 f or from
 *     1000 G up), use the unit without prefix: "0 s", "1e-20 s", "5e+12 Hz";
 *   - any other dimension: the number in SI, then units_name: "1.5 V/s",
 *     "0.25 s^0.5"; a numerator of 1 is left out ("0.002 /V"). The same prefix
 *     rule applies when the first piece of the name is a unit to the power 1
 *     other than kg, the prefix then scaling the whole ("2 mV/s", "10 mA/m^2"),
 *     and not otherwise ("1e-06 V^2", "0.002 /V"). */
void units_format(double value, Dim d, char *buf, size_t n);

/* The unit in which values of dimension d, the largest magnitude among them big,
 * are shown together (a plot's axis, a printed array): writes it into
 * unit[0..n) ("mV", "µA" with the micro sign; "" for none) and returns the
 * factor from SI (1000 for mV). The prefix is units_format's for big; a zero
 * or non-finite big gives the unit without prefix and factor 1. */
double units_shown(Dim d, double big, char *unit, size_t n);

/* The kind of quantity, in words for error messages: "a time", "a frequency",
 * "a voltage", "a current", "a conductance", "a capacitance", "a resistance",
 * "a charge", "a power", "an energy", "a length", "an area", "a volume",
 * "a mass", "an amount of substance", "a temperature", "a concentration", or
 * "a number without unit" for none. Returns NULL for any other dimension.
 * The string is static. */
const char *units_kind(Dim d);

/* Writes the canonical unit of d into buf[0..n) (NUL-terminated when n > 0):
 * the coherent unit without prefix, never one as written ("s", not "ms"):
 *   - a named unit: s Hz V A S F ohm C W J m kg mol M K; "1" for none;
 *   - otherwise at most one of Hz V S F ohm C W J raised to a whole or half
 *     power, times the base units kg m s A K mol cd, the fewest pieces winning
 *     (then the form without a named unit, then the smaller exponents). Pieces
 *     with positive exponents form the numerator ("1" if none), the others the
 *     denominator, parenthesised when there are two or more; exponents other
 *     than 1 follow '^' as "2" or "0.5":
 *     "V/s", "1/V", "A/m^2", "s^0.5", "1/s^0.5", "V^2", "1/(V*s)", "J/(K*mol)". */
void units_name(Dim d, char *buf, size_t n);

/* Writes d for an error message into buf[0..n): "a time (ms)" given as_written
 * "ms", "a time (s)" given NULL or "", "a quantity in V/s" (as_written, or
 * units_name when NULL) for a dimension without a kind, and "a number without
 * unit" for none. */
void units_describe(Dim d, const char *as_written, char *buf, size_t n);

#endif

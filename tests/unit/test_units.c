/* test_units.c: unit suffixes, the dimension algebra, names and printing (units.h). */
#include "units.h"
#include "check.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Buffers the string helpers write into, one per call site line. */
static char buf[256];

static const char *fmt(double v, Dim d)
{
    memset(buf, 'x', sizeof buf);
    units_format(v, d, buf, sizeof buf);
    return buf;
}

static const char *name(Dim d)
{
    memset(buf, 'x', sizeof buf);
    units_name(d, buf, sizeof buf);
    return buf;
}

static const char *describe(Dim d, const char *as_written)
{
    memset(buf, 'x', sizeof buf);
    units_describe(d, as_written, buf, sizeof buf);
    return buf;
}

static Dim parsed_dim;
static double parsed_scale;

/* Parses a NUL-terminated suffix into parsed_scale/parsed_dim. */
static int parse(const char *s)
{
    parsed_scale = -1;
    parsed_dim = units_make(9, 9, 9, 9, 9, 9, 9);
    return units_parse_suffix(s, strlen(s), &parsed_scale, &parsed_dim);
}

/* suffix parses to exactly `scale` (relative 1e-15) and `dim` */
#define CHECK_UNIT(suffix, scale, dim)                                         \
    do {                                                                       \
        CHECK(parse(suffix));                                                  \
        CHECK_NEAR(parsed_scale / (scale), 1.0, 1e-15);                        \
        CHECK(units_eq(parsed_dim, (dim)));                                    \
    } while (0)

/* suffix is rejected and leaves the outputs alone */
#define CHECK_NOT_UNIT(suffix)                                                 \
    do {                                                                       \
        CHECK(!parse(suffix));                                                 \
        CHECK(parsed_scale == -1);                                             \
        CHECK(units_eq(parsed_dim, units_make(9, 9, 9, 9, 9, 9, 9)));          \
    } while (0)

static Dim mul(Dim a, Dim b) { Dim r = units_none(); CHECK(units_mul(a, b, &r)); return r; }
static Dim dvd(Dim a, Dim b) { Dim r = units_none(); CHECK(units_div(a, b, &r)); return r; }
static Dim pw(Dim a, double p) { Dim r = units_none(); CHECK(units_pow(a, p, &r)); return r; }

static void test_dims(void)
{
    Dim none = units_none(), t = units_time();
    CHECK(units_is_none(none));
    CHECK(!units_is_none(t));
    CHECK(units_eq(t, units_make(0, 0, 1, 0, 0, 0, 0)));
    CHECK_INT(t.e[UNITS_S], 2);   /* stored times two */
    CHECK(units_eq(units_voltage(), units_make(2, 1, -3, -1, 0, 0, 0)));
    CHECK(!units_eq(units_voltage(), units_resistance()));

    /* mul, div: V = A * ohm, S = A / V, F / S = s, 1/s = Hz, C = A s */
    CHECK(units_eq(mul(units_current(), units_resistance()), units_voltage()));
    CHECK(units_eq(dvd(units_current(), units_voltage()), units_conductance()));
    CHECK(units_eq(dvd(units_capacitance(), units_conductance()), t));
    CHECK(units_eq(dvd(none, t), units_frequency()));
    CHECK(units_eq(mul(units_current(), t), units_charge()));
    CHECK(units_is_none(dvd(t, t)));
    CHECK(units_is_none(mul(t, units_frequency())));

    /* pow: whole, negative, half, and back */
    CHECK(units_eq(pw(t, 2), units_make(0, 0, 2, 0, 0, 0, 0)));
    CHECK(units_eq(pw(t, -1), units_frequency()));
    CHECK(units_is_none(pw(t, 0)));
    Dim root = pw(t, 0.5);
    CHECK_INT(root.e[UNITS_S], 1);
    CHECK(units_eq(mul(root, root), t));
    Dim inv_root = pw(t, -0.5);
    CHECK_INT(inv_root.e[UNITS_S], -1);
    CHECK(units_is_none(mul(root, inv_root)));
    CHECK(units_eq(pw(root, 2), t));
    CHECK(units_eq(pw(pw(t, 1.5), 1.0 / 3), root));     /* s^(3/2 * 1/3) */
    Dim sqrt_v = pw(units_voltage(), 0.5);
    CHECK(units_eq(pw(sqrt_v, 2), units_voltage()));
    CHECK_INT(sqrt_v.e[UNITS_KG], 1);
    CHECK_INT(sqrt_v.e[UNITS_S], -3);

    /* invalid powers leave *out alone */
    Dim out = units_length();
    CHECK(!units_pow(t, 0.25, &out));
    CHECK(!units_pow(root, 0.5, &out));                  /* s^0.25 */
    CHECK(!units_pow(t, 1.0 / 3, &out));
    CHECK(!units_pow(t, NAN, &out));
    CHECK(!units_pow(t, INFINITY, &out));
    CHECK(!units_pow(t, 64, &out));                      /* s^64 out of range */
    CHECK(!units_pow(t, -64, &out));
    CHECK(units_eq(out, units_length()));
    CHECK(units_pow(t, 63.5, &out));                     /* the largest */
    CHECK_INT(out.e[UNITS_S], 127);
    CHECK(units_pow(t, -63.5, &out));
    CHECK_INT(out.e[UNITS_S], -127);
    CHECK(units_pow(none, 0.123, &out) && units_is_none(out));
    CHECK(units_pow(none, NAN, &out) && units_is_none(out));

    /* overflow in mul and div leaves *out alone */
    Dim big = pw(t, 63.5);
    out = units_length();
    CHECK(!units_mul(big, t, &out));
    CHECK(!units_div(pw(t, -63.5), t, &out));
    CHECK(units_eq(out, units_length()));
    CHECK(units_div(none, big, &out) && out.e[UNITS_S] == -127);
}

static void test_parse(void)
{
    /* every base unit, bare */
    CHECK_UNIT("s", 1, units_time());
    CHECK_UNIT("Hz", 1, units_frequency());
    CHECK_UNIT("V", 1, units_voltage());
    CHECK_UNIT("A", 1, units_current());
    CHECK_UNIT("S", 1, units_conductance());
    CHECK_UNIT("F", 1, units_capacitance());
    CHECK_UNIT("ohm", 1, units_resistance());
    CHECK_UNIT("Ohm", 1, units_resistance());
    CHECK_UNIT("\xCE\xA9", 1, units_resistance());          /* Ω U+03A9 */
    CHECK_UNIT("\xE2\x84\xA6", 1, units_resistance());      /* Ω U+2126 */
    CHECK_UNIT("C", 1, units_charge());
    CHECK_UNIT("W", 1, units_make(2, 1, -3, 0, 0, 0, 0));
    CHECK_UNIT("J", 1, units_make(2, 1, -2, 0, 0, 0, 0));
    CHECK_UNIT("m", 1, units_length());
    CHECK_UNIT("g", 1e-3, units_mass());
    CHECK_UNIT("mol", 1, units_make(0, 0, 0, 0, 0, 1, 0));
    CHECK_UNIT("M", 1e3, units_concentration());
    CHECK_UNIT("K", 1, units_make(0, 0, 0, 0, 1, 0, 0));

    /* every prefix */
    CHECK_UNIT("fs", 1e-15, units_time());
    CHECK_UNIT("pF", 1e-12, units_capacitance());
    CHECK_UNIT("nS", 1e-9, units_conductance());
    CHECK_UNIT("uA", 1e-6, units_current());
    CHECK_UNIT("\xC2\xB5" "A", 1e-6, units_current());      /* µ U+00B5 */
    CHECK_UNIT("\xCE\xBC" "A", 1e-6, units_current());      /* μ U+03BC */
    CHECK_UNIT("ms", 1e-3, units_time());
    CHECK_UNIT("cm", 1e-2, units_length());
    CHECK_UNIT("kHz", 1e3, units_frequency());
    CHECK_UNIT("MOhm", 1e6, units_resistance());
    CHECK_UNIT("GOhm", 1e9, units_resistance());

    /* scales are the literals, exactly */
    CHECK(parse("ms") && parsed_scale == 1e-3);
    CHECK(parse("pF") && parsed_scale == 1e-12);
    CHECK(parse("kg") && parsed_scale == 1);

    /* the ambiguous cases, read as neuroscientists do */
    CHECK_UNIT("mV", 1e-3, units_voltage());
    CHECK_UNIT("mS", 1e-3, units_conductance());
    CHECK_UNIT("mM", 1, units_concentration());             /* 1 mM = 1 mol/m^3 */
    CHECK_UNIT("uM", 1e-3, units_concentration());
    CHECK_UNIT("Ms", 1e6, units_time());
    CHECK_UNIT("mm", 1e-3, units_length());
    CHECK_UNIT("Mm", 1e6, units_length());
    CHECK_UNIT("MM", 1e9, units_concentration());
    CHECK_UNIT("mmol", 1e-3, units_make(0, 0, 0, 0, 0, 1, 0));
    CHECK_UNIT("Mohm", 1e6, units_resistance());
    CHECK_UNIT("mohm", 1e-3, units_resistance());
    CHECK_UNIT("k\xCE\xA9", 1e3, units_resistance());
    CHECK_UNIT("M\xE2\x84\xA6", 1e6, units_resistance());
    CHECK_UNIT("mg", 1e-6, units_mass());
    CHECK_UNIT("kg", 1, units_mass());
    CHECK_UNIT("mK", 1e-3, units_make(0, 0, 0, 0, 1, 0, 0));
    CHECK_UNIT("nC", 1e-9, units_charge());
    CHECK_UNIT("GHz", 1e9, units_frequency());

    /* n counts, the text need not end there */
    CHECK(units_parse_suffix("msxyz", 2, &parsed_scale, &parsed_dim));
    CHECK(parsed_scale == 1e-3 && units_eq(parsed_dim, units_time()));
    CHECK(units_parse_suffix("mV + 3", 2, &parsed_scale, &parsed_dim));
    CHECK(units_eq(parsed_dim, units_voltage()));
    CHECK(units_parse_suffix("mol", 1, &parsed_scale, &parsed_dim));
    CHECK(parsed_scale == 1 && units_eq(parsed_dim, units_length()));

    /* rejected */
    CHECK_NOT_UNIT("");
    CHECK_NOT_UNIT("xyz");
    CHECK_NOT_UNIT("mss");      /* no plural */
    CHECK_NOT_UNIT("sm");       /* unit then prefix */
    CHECK_NOT_UNIT("mms");      /* two prefixes */
    CHECK_NOT_UNIT("kkHz");
    CHECK_NOT_UNIT("k");        /* prefix alone */
    CHECK_NOT_UNIT("u");
    CHECK_NOT_UNIT("\xC2\xB5");
    CHECK_NOT_UNIT("min");
    CHECK_NOT_UNIT("sec");
    CHECK_NOT_UNIT("h");
    CHECK_NOT_UNIT("hz");       /* case matters */
    CHECK_NOT_UNIT("khz");
    CHECK_NOT_UNIT("v");
    CHECK_NOT_UNIT("OHM");
    CHECK_NOT_UNIT("Kg");       /* kelvin is no prefix */
    CHECK_NOT_UNIT("cd");       /* candela is not a suffix */
    CHECK_NOT_UNIT("L");
    CHECK_NOT_UNIT("e3");
    CHECK_NOT_UNIT("ms ");
    CHECK_NOT_UNIT("m s");
    CHECK_NOT_UNIT("mV/ms");
    CHECK_NOT_UNIT("\xCE");     /* half of Ω */
    CHECK_NOT_UNIT("\xB5" "A"); /* half of µ */

    const char *list = units_known_list();
    CHECK(list && strstr(list, "ms") && strstr(list, "Hz") && strstr(list, "ohm"));
}

static void test_format(void)
{
    Dim t = units_time();
    CHECK_STR(fmt(42, units_none()), "42");
    CHECK_STR(fmt(0.5, units_none()), "0.5");
    CHECK_STR(fmt(1e-5, units_none()), "1e-05");
    CHECK_STR(fmt(-3.25, units_none()), "-3.25");
    CHECK_STR(fmt(-0.0, units_none()), "0");
    CHECK_STR(fmt(123456, units_none()), "1.235e+05");

    CHECK_STR(fmt(0.02, t), "20 ms");
    CHECK_STR(fmt(0.5, t), "500 ms");
    CHECK_STR(fmt(2, t), "2 s");
    CHECK_STR(fmt(1, t), "1 s");
    CHECK_STR(fmt(0.001, t), "1 ms");
    CHECK_STR(fmt(1e-4, t), "100 us");
    CHECK_STR(fmt(0, t), "0 s");
    CHECK_STR(fmt(-0.0, t), "0 s");
    CHECK_STR(fmt(-0.02, t), "-20 ms");
    CHECK_STR(fmt(2e-10, units_capacitance()), "200 pF");
    CHECK_STR(fmt(1e-8, units_conductance()), "10 nS");
    CHECK_STR(fmt(5, units_frequency()), "5 Hz");
    CHECK_STR(fmt(0.5, units_frequency()), "500 mHz");
    CHECK_STR(fmt(2500, units_frequency()), "2.5 kHz");
    CHECK_STR(fmt(-0.07, units_voltage()), "-70 mV");
    CHECK_STR(fmt(-0.0705, units_voltage()), "-70.5 mV");
    CHECK_STR(fmt(1.5e-10, units_current()), "150 pA");
    CHECK_STR(fmt(1e8, units_resistance()), "100 Mohm");
    CHECK_STR(fmt(3e9, units_resistance()), "3 Gohm");
    CHECK_STR(fmt(1.6e-19, units_charge()), "1.6e-19 C");     /* below f */
    CHECK_STR(fmt(2e-6, units_charge()), "2 uC");
    CHECK_STR(fmt(0.01, units_length()), "10 mm");
    CHECK_STR(fmt(1, units_mass()), "1 kg");
    CHECK_STR(fmt(5e-6, units_mass()), "5 mg");
    CHECK_STR(fmt(2e-3, units_mass()), "2 g");
    CHECK_STR(fmt(0.1, units_concentration()), "100 uM");
    CHECK_STR(fmt(2, units_concentration()), "2 mM");
    CHECK_STR(fmt(310, units_make(0, 0, 0, 0, 1, 0, 0)), "310 K");
    CHECK_STR(fmt(1e-3, units_make(2, 1, -3, 0, 0, 0, 0)), "1 mW");
    CHECK_STR(fmt(4.2e-18, units_make(2, 1, -2, 0, 0, 0, 0)), "4.2e-18 J");
    CHECK_STR(fmt(3e-3, units_make(0, 0, 0, 0, 0, 1, 0)), "3 mmol");

    /* tau = C / g computed through the algebra */
    double sc, sg;
    Dim dc, dg, dtau;
    CHECK(units_parse_suffix("pF", 2, &sc, &dc));
    CHECK(units_parse_suffix("nS", 2, &sg, &dg));
    CHECK(units_div(dc, dg, &dtau));
    CHECK(units_eq(dtau, t));
    CHECK_STR(fmt(200 * sc / (10 * sg), dtau), "20 ms");

    /* rounding to 4 digits carries into the next prefix */
    CHECK_STR(fmt(0.99999, t), "1 s");
    CHECK_STR(fmt(0.0009999999, t), "1 ms");
    CHECK_STR(fmt(999.96, t), "1 ks");
    CHECK_STR(fmt(999.4, t), "999.4 s");

    /* outside the prefixes: the unit alone */
    CHECK_STR(fmt(1e-20, t), "1e-20 s");
    CHECK_STR(fmt(-1e-20, t), "-1e-20 s");
    CHECK_STR(fmt(1e-15, t), "1 fs");
    CHECK_STR(fmt(999e9, t), "999 Gs");
    CHECK_STR(fmt(5e12, units_frequency()), "5e+12 Hz");
    CHECK_STR(fmt(999.99e9, t), "1e+12 s");
    CHECK_STR(fmt(1e-20, units_mass()), "1e-17 g");
    CHECK_STR(fmt(INFINITY, units_voltage()), "inf V");
    CHECK_STR(fmt(-INFINITY, units_voltage()), "-inf V");

    /* composite dimensions */
    Dim v_per_s = dvd(units_voltage(), t);
    CHECK_STR(fmt(1.5, v_per_s), "1.5 V/s");
    CHECK_STR(fmt(2e-3, v_per_s), "2 mV/s");
    CHECK_STR(fmt(1500, v_per_s), "1.5 kV/s");
    CHECK_STR(fmt(2e-3, dvd(units_none(), units_voltage())), "0.002 /V");
    CHECK_STR(fmt(0.25, pw(t, 0.5)), "0.25 s^0.5");
    CHECK_STR(fmt(3, pw(t, -0.5)), "3 /s^0.5");
    CHECK_STR(fmt(1e-6, pw(units_voltage(), 2)), "1e-06 V^2");
    Dim a_per_m2 = dvd(units_current(), pw(units_length(), 2));
    CHECK_STR(fmt(0.01, a_per_m2), "10 mA/m^2");
    CHECK_STR(fmt(2, units_make(2, 0, 0, 0, 0, 0, 0)), "2 m^2");
    CHECK_STR(fmt(1e3, units_make(-3, 1, 0, 0, 0, 0, 0)), "1000 kg/m^3");
    CHECK_STR(fmt(0, v_per_s), "0 V/s");
    CHECK_STR(fmt(1e-20, v_per_s), "1e-20 V/s");

    /* a buffer too small truncates and terminates */
    char small[6];
    units_format(-0.07, units_voltage(), small, sizeof small);
    CHECK_STR(small, "-70 m");
    units_format(1.5, v_per_s, small, sizeof small);
    CHECK_STR(small, "1.5 V");
    units_format(1.5, v_per_s, small, 0);                 /* n == 0 writes nothing */
    CHECK_STR(small, "1.5 V");
}

/* One unit for an array (units_shown): chosen for its largest magnitude. */
static void test_shown(void)
{
    char unit[64];
    CHECK(units_shown(units_voltage(), 0.0641, unit, sizeof unit) == 1000);
    CHECK_STR(unit, "mV");
    CHECK(units_shown(units_current(), 1e-12, unit, sizeof unit) == 1e12);
    CHECK_STR(unit, "pA");
    CHECK(units_shown(units_current(), 2e-6, unit, sizeof unit) == 1e6);
    CHECK_STR(unit, "\xc2\xb5" "A");
    CHECK(units_shown(units_time(), 2, unit, sizeof unit) == 1);
    CHECK_STR(unit, "s");
    CHECK(units_shown(units_voltage(), 0, unit, sizeof unit) == 1);   /* all zero: no prefix */
    CHECK_STR(unit, "V");
    CHECK(units_shown(units_none(), 5e-3, unit, sizeof unit) == 1);
    CHECK_STR(unit, "");
}

static void test_names(void)
{
    Dim t = units_time();
    CHECK_STR(name(units_none()), "1");
    CHECK_STR(name(t), "s");
    CHECK_STR(name(units_frequency()), "Hz");
    CHECK_STR(name(units_voltage()), "V");
    CHECK_STR(name(units_current()), "A");
    CHECK_STR(name(units_conductance()), "S");
    CHECK_STR(name(units_capacitance()), "F");
    CHECK_STR(name(units_resistance()), "ohm");
    CHECK_STR(name(units_charge()), "C");
    CHECK_STR(name(units_make(2, 1, -3, 0, 0, 0, 0)), "W");
    CHECK_STR(name(units_make(2, 1, -2, 0, 0, 0, 0)), "J");
    CHECK_STR(name(units_length()), "m");
    CHECK_STR(name(units_mass()), "kg");
    CHECK_STR(name(units_make(0, 0, 0, 0, 0, 1, 0)), "mol");
    CHECK_STR(name(units_concentration()), "M");
    CHECK_STR(name(units_make(0, 0, 0, 0, 1, 0, 0)), "K");

    CHECK_STR(name(dvd(units_voltage(), t)), "V/s");
    CHECK_STR(name(dvd(units_none(), units_voltage())), "1/V");
    CHECK_STR(name(pw(t, 0.5)), "s^0.5");
    CHECK_STR(name(pw(t, -0.5)), "1/s^0.5");
    CHECK_STR(name(pw(t, 1.5)), "s^1.5");
    CHECK_STR(name(pw(t, 2)), "s^2");
    CHECK_STR(name(pw(t, -2)), "1/s^2");
    CHECK_STR(name(pw(units_voltage(), 2)), "V^2");
    CHECK_STR(name(pw(units_voltage(), 0.5)), "V^0.5");
    CHECK_STR(name(dvd(units_voltage(), pw(t, 0.5))), "V/s^0.5");
    CHECK_STR(name(dvd(units_current(), pw(units_length(), 2))), "A/m^2");
    CHECK_STR(name(dvd(units_conductance(), pw(units_length(), 2))), "S/m^2");
    CHECK_STR(name(dvd(units_capacitance(), pw(units_length(), 2))), "F/m^2");
    CHECK_STR(name(mul(units_resistance(), units_length())), "ohm*m");
    CHECK_STR(name(dvd(units_none(), mul(units_voltage(), t))), "1/(V*s)");
    CHECK_STR(name(dvd(units_frequency(), units_voltage())), "1/(V*s)");
    CHECK_STR(name(dvd(units_make(2, 1, -2, 0, 0, 0, 0), units_make(0, 0, 0, 0, 1, 1, 0))), "J/(K*mol)");
    CHECK_STR(name(dvd(units_length(), t)), "m/s");
    CHECK_STR(name(units_make(2, 0, 0, 0, 0, 0, 0)), "m^2");
    CHECK_STR(name(units_make(1, 1, 0, 0, 0, 0, 0)), "kg*m");
    CHECK_STR(name(units_make(0, 0, 0, 0, 0, 0, 1)), "cd");
    CHECK_STR(name(pw(t, 63.5)), "s^63.5");
    CHECK_STR(name(pw(t, -63.5)), "1/s^63.5");

    char small[4];
    units_name(dvd(units_voltage(), t), small, sizeof small);
    CHECK_STR(small, "V/s");
    units_name(dvd(units_none(), mul(units_voltage(), t)), small, sizeof small);
    CHECK_STR(small, "1/(");
}

static void test_kinds(void)
{
    Dim t = units_time();
    CHECK_STR(units_kind(units_none()), "a number without unit");
    CHECK_STR(units_kind(t), "a time");
    CHECK_STR(units_kind(units_frequency()), "a frequency");
    CHECK_STR(units_kind(units_voltage()), "a voltage");
    CHECK_STR(units_kind(units_current()), "a current");
    CHECK_STR(units_kind(units_conductance()), "a conductance");
    CHECK_STR(units_kind(units_capacitance()), "a capacitance");
    CHECK_STR(units_kind(units_resistance()), "a resistance");
    CHECK_STR(units_kind(units_charge()), "a charge");
    CHECK_STR(units_kind(units_length()), "a length");
    CHECK_STR(units_kind(units_mass()), "a mass");
    CHECK_STR(units_kind(units_concentration()), "a concentration");
    CHECK_STR(units_kind(units_make(2, 1, -3, 0, 0, 0, 0)), "a power");
    CHECK_STR(units_kind(units_make(2, 1, -2, 0, 0, 0, 0)), "an energy");
    CHECK_STR(units_kind(units_make(2, 0, 0, 0, 0, 0, 0)), "an area");
    CHECK_STR(units_kind(units_make(3, 0, 0, 0, 0, 0, 0)), "a volume");
    CHECK_STR(units_kind(units_make(0, 0, 0, 0, 0, 1, 0)), "an amount of substance");
    CHECK_STR(units_kind(units_make(0, 0, 0, 0, 1, 0, 0)), "a temperature");
    CHECK(units_kind(dvd(units_voltage(), t)) == NULL);
    CHECK(units_kind(pw(t, 0.5)) == NULL);

    CHECK_STR(describe(t, "ms"), "a time (ms)");
    CHECK_STR(describe(t, NULL), "a time (s)");
    CHECK_STR(describe(t, ""), "a time (s)");
    CHECK_STR(describe(units_voltage(), "mV"), "a voltage (mV)");
    CHECK_STR(describe(units_resistance(), "M\xCE\xA9"), "a resistance (M\xCE\xA9)");
    CHECK_STR(describe(units_mass(), NULL), "a mass (kg)");
    CHECK_STR(describe(dvd(units_voltage(), t), NULL), "a quantity in V/s");
    CHECK_STR(describe(dvd(units_voltage(), t), "mV/ms"), "a quantity in mV/ms");
    CHECK_STR(describe(pw(t, -0.5), NULL), "a quantity in 1/s^0.5");
    CHECK_STR(describe(units_none(), NULL), "a number without unit");
    CHECK_STR(describe(units_make(2, 0, 0, 0, 0, 0, 0), NULL), "an area (m^2)");

    /* the message the checker builds */
    char a[64], b[64], msg[160];
    units_describe(t, "ms", a, sizeof a);
    units_describe(units_voltage(), "mV", b, sizeof b);
    snprintf(msg, sizeof msg, "cannot add %s to %s", a, b);
    CHECK_STR(msg, "cannot add a time (ms) to a voltage (mV)");

    char small[8];
    units_describe(t, "ms", small, sizeof small);
    CHECK_STR(small, "a time ");
}

int main(void)
{
    test_dims();
    test_parse();
    test_format();
    test_shown();
    test_names();
    test_kinds();
    return check_done("test_units");
}

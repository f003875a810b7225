/* vecmath.h: exp, tanh and sigmoid over arrays, in float and double.
 *
 * The elementwise ops (ops_nonlin.c) and the fused executor spend most of a rate
 * network's time step here: every neuron passes through phi = tanh or sigmoid once
 * per step. These loops are written so the compiler vectorises them (-march=native
 * gives AVX2/AVX-512): no branches on the data, polynomials on a reduced range,
 * powers of two built from bits. Accuracy, checked against libm by
 * tests/unit/test_vecmath.c over a dense sweep:
 *   float:  relative error below 1e-6 (measured 1.8e-7, about 2 ulp);
 *   double: relative error below 4e-16 (measured 3.4e-16, under 2 ulp).
 * Speed with -march=native on AMD EPYC (AVX-512), in cache: float tanh and
 * sigmoid 0.25-0.35 ns per element, exp 0.3-0.4; double about 0.8-1.1 ns.
 * Results are relative-accurate for normal results; a result that would be
 * subnormal may flush to 0 (sigmoid of x < -87 in float, x < -708 in double).
 * NaN in gives NaN out; exp(+Inf) = +Inf, exp(-Inf) = 0, tanh(+-Inf) = +-1,
 * sigmoid(+Inf) = 1, sigmoid(-Inf) = 0; tanh(-0) = -0.
 *
 * y may be x (in place); any other overlap is not allowed.
 */
#ifndef CAJAL_VECMATH_H
#define CAJAL_VECMATH_H

#include "real.h"

#include <stdint.h>

void vecmath_exp_f(int64_t n, float *y, const float *x);
void vecmath_exp_d(int64_t n, double *y, const double *x);
void vecmath_tanh_f(int64_t n, float *y, const float *x);
void vecmath_tanh_d(int64_t n, double *y, const double *x);
void vecmath_sigmoid_f(int64_t n, float *y, const float *x);
void vecmath_sigmoid_d(int64_t n, double *y, const double *x);

/* The same over `real`, the build's number type. */
#ifdef CAJAL_FLOAT
#define vecmath_exp vecmath_exp_f
#define vecmath_tanh vecmath_tanh_f
#define vecmath_sigmoid vecmath_sigmoid_f
#else
#define vecmath_exp vecmath_exp_d
#define vecmath_tanh vecmath_tanh_d
#define vecmath_sigmoid vecmath_sigmoid_d
#endif

#endif

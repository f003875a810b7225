/* real.h: the interpreter's number type.
 *
 * Every tensor element, parameter and state value is a `real`: double by default,
 * float when built with `make PRECISION=float` (which defines CAJAL_FLOAT).
 * Scalars the language evaluates at check time (lets, units) stay double.
 */
#ifndef CAJAL_REAL_H
#define CAJAL_REAL_H

#ifdef CAJAL_FLOAT
typedef float real;
#define REAL_NAME "float"
#define REAL_EPS 1.1920929e-07f
#else
typedef double real;
#define REAL_NAME "double"
#define REAL_EPS 2.220446049250313e-16
#endif

#endif

/* intern.h: interned names.
 *
 * Every identifier is interned once, so equal names are equal pointers and the
 * checker compares names with ==, as lua's eqstr does. Interned strings live until
 * exit (they are not in any arena, so an arena rollback never leaves a dangling
 * name in the table).
 */
#ifndef CAJAL_INTERN_H
#define CAJAL_INTERN_H

#include <stddef.h>

typedef const char *Name;

Name intern(const char *s, size_t n);
Name intern_cstr(const char *s);
void intern_free_all(void);

#endif

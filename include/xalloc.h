/* xalloc.h: heap allocation that cannot return NULL.
 *
 * For cajal's own bookkeeping (names, tables, diagnostics). Out of memory there
 * is not a user error we can report, so these print one line and exit(3).
 * Tensors do not use these: their sizes come from the user and are checked first
 * (tensor.h). Debug builds count calls so a test can assert that the time loop
 * allocates nothing (STYLE.md section 5).
 */
#ifndef CAJAL_XALLOC_H
#define CAJAL_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* Number of allocations made through xalloc and the tensor allocator so far. */
extern unsigned long xalloc_count;

#endif

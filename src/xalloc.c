/* xalloc.c: allocation that exits cleanly when the system is out of memory. */
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned long xalloc_count;

static void *checked(void *p, size_t n)
{
    if (!p && n) {
        fprintf(stderr, "cajal: out of memory (asked for %zu bytes)\n", n);
        exit(3);
    }
    xalloc_count++;
    return p;
}

void *xmalloc(size_t n) { return checked(malloc(n ? n : 1), n); }
void *xcalloc(size_t n, size_t size) { return checked(calloc(n ? n : 1, size ? size : 1), n * size); }
void *xrealloc(void *p, size_t n) { return checked(realloc(p, n ? n : 1), n); }
char *xstrdup(const char *s) { return checked(strdup(s), strlen(s) + 1); }

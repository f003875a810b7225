/* intern.c: the name table (open addressing, power-of-two capacity). */
#include "intern.h"
#include "xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char **slots;
static size_t cap, count;

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static void grow(void)
{
    size_t ncap = cap ? cap * 2 : 256;
    char **n = xcalloc(ncap, sizeof *n);
    for (size_t i = 0; i < cap; i++)
        if (slots[i]) {
            size_t j = hash(slots[i], strlen(slots[i])) & (ncap - 1);
            while (n[j])
                j = (j + 1) & (ncap - 1);
            n[j] = slots[i];
        }
    free(slots);
    slots = n;
    cap = ncap;
}

Name intern(const char *s, size_t n)
{
    if (2 * (count + 1) > cap)
        grow();
    size_t j = hash(s, n) & (cap - 1);
    while (slots[j]) {
        if (strlen(slots[j]) == n && memcmp(slots[j], s, n) == 0)
            return slots[j];
        j = (j + 1) & (cap - 1);
    }
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    slots[j] = p;
    count++;
    return p;
}

Name intern_cstr(const char *s) { return intern(s, strlen(s)); }

void intern_free_all(void)
{
    for (size_t i = 0; i < cap; i++)
        free(slots[i]);
    free(slots);
    slots = NULL;
    cap = count = 0;
}

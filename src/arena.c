/* arena.c: bump allocator with marks (see arena.h).
 *
 * Blocks are chained newest first; a mark remembers the block and its fill level,
 * so releasing frees every newer block and rewinds the marked one.
 */
#include "arena.h"
#include "xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ArenaBlock {
    ArenaBlock *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

enum { BLOCK_MIN = 64 * 1024 };

void arena_init(Arena *a) { a->head = NULL; a->total = 0; }

void arena_fini(Arena *a)
{
    ArenaBlock *b = a->head;
    while (b) {
        ArenaBlock *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->total = 0;
}

void *arena_alloc(Arena *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    ArenaBlock *b = a->head;
    if (!b || b->size - b->used < size) {
        size_t cap = size > BLOCK_MIN ? size : BLOCK_MIN;
        b = xmalloc(sizeof *b + cap);
        b->size = cap;
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    a->total += size;
    memset(p, 0, size);
    return p;
}

char *arena_strndup(Arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *arena_strdup(Arena *a, const char *s) { return arena_strndup(a, s, strlen(s)); }

char *arena_printf(Arena *a, const char *fmt, ...)
{
    va_list ap, aq;
    va_start(ap, fmt);
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, aq);
    va_end(aq);
    return p;
}

ArenaMark arena_mark(const Arena *a)
{
    return (ArenaMark){ a->head, a->head ? a->head->used : 0, a->total };
}

void arena_release(Arena *a, ArenaMark m)
{
    while (a->head && a->head != m.block) {
        ArenaBlock *next = a->head->next;
        free(a->head);
        a->head = next;
    }
    if (a->head)
        a->head->used = m.used;
    a->total = m.total;
}

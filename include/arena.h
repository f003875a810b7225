/* arena.h: bump allocation for everything a source unit declares.
 *
 * The AST, its names' spellings and the checker's types live in an arena. The
 * REPL takes a mark before each statement and releases to it when the statement
 * fails, so a bad line leaves nothing behind (STYLE.md section 5).
 */
#ifndef CAJAL_ARENA_H
#define CAJAL_ARENA_H

#include <stddef.h>

typedef struct ArenaBlock ArenaBlock;

typedef struct Arena {
    ArenaBlock *head;     /* newest block; older blocks follow */
    size_t total;         /* bytes handed out, for :names and tests */
} Arena;

typedef struct ArenaMark {
    ArenaBlock *block;
    size_t used;
    size_t total;
} ArenaMark;

void arena_init(Arena *a);
void arena_fini(Arena *a);

/* Returns zeroed memory aligned to 16 bytes that lives until the arena is released
 * past it. Aborts only when the system is out of memory. */
void *arena_alloc(Arena *a, size_t size);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_strdup(Arena *a, const char *s);
char *arena_printf(Arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

ArenaMark arena_mark(const Arena *a);
/* Frees everything allocated after the mark. */
void arena_release(Arena *a, ArenaMark m);

#endif

/* modules.h: finding the file behind `import "name"`.
 *
 * Search order (DESIGN.md section 1): the importing script's folder, then each
 * -I folder and $CAJAL_PATH entry in order, then the installed standard library
 * (and the source tree's stdlib/ when cajal runs from its build folder).
 */
#ifndef CAJAL_MODULES_H
#define CAJAL_MODULES_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ModulePath {
    char **dirs;
    int n, cap;
} ModulePath;

void modules_init(ModulePath *p);
void modules_fini(ModulePath *p);
void modules_add(ModulePath *p, const char *dir);
/* Adds each entry of a colon-separated list ($CAJAL_PATH). */
void modules_add_list(ModulePath *p, const char *list);
/* The installed standard library folder cajal uses, or NULL if none exists. */
const char *modules_stdlib_dir(void);

/* Finds name (".cajal" added when missing) starting in from_dir. Returns a new
 * string the caller frees, or NULL; `looked` (may be NULL) receives the places
 * tried, one per line, for the error message. */
char *modules_find(const ModulePath *p, const char *from_dir, const char *name, char *looked, size_t looked_len);

/* The folder holding a file path ("." for a bare name); caller frees. */
char *modules_dir_of(const char *path);

#endif

/* modules.c: module search (see modules.h). */
#include "modules.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void modules_init(ModulePath *p) { memset(p, 0, sizeof *p); }

void modules_fini(ModulePath *p)
{
    for (int i = 0; i < p->n; i++)
        free(p->dirs[i]);
    free(p->dirs);
    memset(p, 0, sizeof *p);
}

void modules_add(ModulePath *p, const char *dir)
{
    if (!dir || !*dir)
        return;
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 8;
        p->dirs = xrealloc(p->dirs, (size_t)p->cap * sizeof *p->dirs);
    }
    p->dirs[p->n++] = xstrdup(dir);
}

void modules_add_list(ModulePath *p, const char *list)
{
    if (!list)
        return;
    char *copy = xstrdup(list), *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save))
        modules_add(p, dir);
    free(copy);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

const char *modules_stdlib_dir(void)
{
    const char *env = getenv("CAJAL_STDLIB");
    if (env && is_dir(env))
        return env;
    /* installed: BIN/../share/cajal/stdlib beside the running binary; a binary
     * in the source tree uses the tree's stdlib, whatever else is installed */
    static char beside[4200];
    static char tree[4096];
    snprintf(tree, sizeof tree, "%s/stdlib", CAJAL_SRCDIR);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        if (strncmp(exe, CAJAL_SRCDIR "/", strlen(CAJAL_SRCDIR) + 1) == 0 && is_dir(tree))
            return tree;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(beside, sizeof beside, "%s/../share/cajal/stdlib", exe);
            if (is_dir(beside))
                return beside;
        }
    }
    if (is_dir(CAJAL_STDLIB))
        return CAJAL_STDLIB;
    return is_dir(tree) ? tree : NULL;
}

char *modules_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
    size_t n = (size_t)(slash - path);
    char *dir = xmalloc(n + 1);
    memcpy(dir, path, n);
    dir[n] = 0;
    return dir;
}

static char *try_dir(const char *dir, const char *file, char *looked, size_t looked_len)
{
    size_t n = strlen(dir) + strlen(file) + 2;
    char *path = xmalloc(n);
    snprintf(path, n, "%s/%s", dir, file);
    if (is_file(path))
        return path;
    if (looked) {
        size_t used = strlen(looked);
        if (used + strlen(path) + 8 < looked_len)
            snprintf(looked + used, looked_len - used, "%s%s", used ? ", " : "", path);
    }
    free(path);
    return NULL;
}

char *modules_find(const ModulePath *p, const char *from_dir, const char *name, char *looked, size_t looked_len)
{
    if (looked && looked_len)
        looked[0] = 0;
    size_t n = strlen(name);
    char *file = xmalloc(n + 8);
    strcpy(file, name);
    if (n < 6 || strcmp(name + n - 6, ".cajal") != 0)
        strcat(file, ".cajal");
    char *found = NULL;
    if (file[0] == '/') {
        if (is_file(file))
            found = xstrdup(file);
        else if (looked)
            snprintf(looked, looked_len, "%s", file);
        free(file);
        return found;
    }
    if (from_dir)
        found = try_dir(from_dir, file, looked, looked_len);
    for (int i = 0; !found && i < p->n; i++)
        found = try_dir(p->dirs[i], file, looked, looked_len);
    const char *std = modules_stdlib_dir();
    if (!found && std)
        found = try_dir(std, file, looked, looked_len);
    free(file);
    return found;
}

/* fileio.c: atomic writes (temporary, fsync, rename) and checked whole-file reads.
 *
 * Used by every writer of user files (io_npy.c, io_csv.c, plots) and by the text
 * readers. The temporary is created with O_EXCL beside the target, so two cajal
 * processes saving the same file never share a temporary, and with mode 0666 so
 * the umask applies exactly as it would to a plain fopen. Errors are reported once,
 * at commit, because stdio buffers: a full disk often shows only at fflush.
 */
#include "fileio.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *fileio_reason(int err)
{
    switch (err) {
    case ENOENT: return "no such file or directory";
    case EACCES: return "permission denied";
    case EPERM: return "operation not permitted";
    case EISDIR: return "it is a directory";
    case ENOTDIR: return "a component of the path is not a directory";
    case ENOSPC: return "no space left on device";
    case EDQUOT: return "disk quota exceeded";
    case EFBIG: return "file too large";
    case EROFS: return "read-only file system";
    case EIO: return "input/output error";
    case ENAMETOOLONG: return "file name too long";
    case ENOTEMPTY: return "the target is a non-empty directory";
    default: break;
    }
    static char buf[128];
    snprintf(buf, sizeof buf, "%s", strerror(err));
    if (buf[0] >= 'A' && buf[0] <= 'Z')
        buf[0] = (char)(buf[0] - 'A' + 'a');
    return buf;
}

bool fileio_open(AtomicFile *f, const char *path, Diags *d, Span at)
{
    static unsigned counter;
    memset(f, 0, sizeof *f);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        diag_error(d, at, "cannot write '%s': it is a directory", path);
        return false;
    }
    size_t n = strlen(path) + 64;
    char *tmp = xmalloc(n);
    int fd = -1, err = 0;
    for (int tries = 0; tries < 100 && fd < 0; tries++) {
        snprintf(tmp, n, "%s.tmp-%ld-%u", path, (long)getpid(), counter++);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        err = errno;
        if (fd < 0 && err != EEXIST)
            break;
    }
    if (fd < 0) {
        diag_error(d, at, "cannot write '%s': %s", path, fileio_reason(err));
        free(tmp);
        return false;
    }
    f->fp = fdopen(fd, "wb");
    if (!f->fp) {
        err = errno;
        close(fd);
        unlink(tmp);
        free(tmp);
        diag_error(d, at, "cannot write '%s': %s", path, fileio_reason(err));
        return false;
    }
    f->path = xstrdup(path);
    f->tmp = tmp;
    return true;
}

bool fileio_write(AtomicFile *f, const void *buf, size_t n)
{
    if (f->err)
        return false;
    if (n && fwrite(buf, 1, n, f->fp) != n) {
        f->err = errno ? errno : EIO;
        return false;
    }
    return true;
}

static void finish(AtomicFile *f)
{
    if (f->fp)
        fclose(f->fp);
    if (f->tmp)
        unlink(f->tmp);
    free(f->tmp);
    free(f->path);
    memset(f, 0, sizeof *f);
}

void fileio_abort(AtomicFile *f)
{
    finish(f);
}

/* fsync of the directory makes the rename itself durable; file systems that
 * cannot sync a directory are not an error. */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? xstrdup(path) : xstrdup(".");
    if (slash)
        dir[slash == path ? 1 : slash - path] = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

bool fileio_commit(AtomicFile *f, Diags *d, Span at)
{
    int err = f->err;
    if (!err && fflush(f->fp) != 0)
        err = errno ? errno : EIO;
    if (!err && fsync(fileno(f->fp)) != 0 && errno != EINVAL && errno != ENOTSUP)
        err = errno;        /* file systems that cannot sync are not an error */
    if (!err) {
        FILE *fp = f->fp;
        f->fp = NULL;
        if (fclose(fp) != 0)
            err = errno ? errno : EIO;
    }
    if (!err && rename(f->tmp, f->path) != 0)
        err = errno;
    if (err) {
        diag_error(d, at, "cannot write '%s': %s", f->path, fileio_reason(err));
        finish(f);
        return false;
    }
    free(f->tmp);
    f->tmp = NULL;
    sync_dir(f->path);
    finish(f);
    return true;
}

bool fileio_check_readable(const char *path, Diags *d, Span at)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int err = errno;
        diag_error(d, at, "cannot open '%s': %s", path,
                   err == ENOENT ? "no such file" : fileio_reason(err));
        return false;
    }
    if (S_ISDIR(st.st_mode)) {
        diag_error(d, at, "cannot open '%s': it is a directory, not a file", path);
        return false;
    }
    return true;
}

FILE *fileio_open_read(const char *path, Diags *d, Span at)
{
    if (!fileio_check_readable(path, d, at))
        return NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        diag_error(d, at, "cannot open '%s': %s", path, fileio_reason(errno));
    return fp;
}

char *fileio_read_all(const char *path, int64_t max_bytes, size_t *len, Diags *d, Span at)
{
    *len = 0;
    FILE *fp = fileio_open_read(path, d, at);
    if (!fp)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    bool too_big = false, no_memory = !buf;
    while (buf) {
        if (n + 1 >= cap) {
            if ((int64_t)n >= max_bytes) {
                too_big = true;
                break;
            }
            size_t grow = cap * 2;
            if ((int64_t)grow > max_bytes + 1)
                grow = (size_t)max_bytes + 2;
            char *bigger = realloc(buf, grow);
            if (!bigger) {
                no_memory = true;
                break;
            }
            buf = bigger;
            cap = grow;
        }
        size_t got = fread(buf + n, 1, cap - 1 - n, fp);
        n += got;
        if (got == 0)
            break;
    }
    if (!too_big && (int64_t)n > max_bytes)
        too_big = true;
    bool bad = ferror(fp);
    fclose(fp);
    if (too_big || no_memory || bad) {
        if (too_big)
            diag_error(d, at, "cannot read '%s': it is larger than the limit of %lld bytes",
                       path, (long long)max_bytes);
        else if (no_memory)
            diag_error(d, at, "cannot read '%s': out of memory after %zu bytes", path, n);
        else
            diag_error(d, at, "cannot read '%s': input/output error", path);
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

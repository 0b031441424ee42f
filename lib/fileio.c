/* The file layer: bounded reads of regular files, and atomic writes
 * (temporary name in the target's directory + rename) that replace only
 * regular files, keep their mode, and can all be removed at once
 * (barlow_output_remove_temporaries) when a program is interrupted; and
 * the test-only hook that fails the Nth write-side operation of the
 * writes (bw_io_fail_set, tests/test_io_fail.c). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* ---- what is at a path ---------------------------------------------------- */

/* "a directory", "a FIFO", ... for a non-regular st_mode. */
static const char *kind_name(mode_t m)
{
    if (S_ISDIR(m)) return "a directory";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISLNK(m)) return "a symbolic link";
    return "not a regular file";
}

barlow_status bw_check_limit(barlow_limit limit, uint64_t bytes, const char *who,
                             const char *name, const char *what)
{
    uint64_t max = barlow_limit_get(limit);
    if (max == 0 || bytes <= max) return BARLOW_OK;
    return bw_error(BARLOW_E_UNSUPPORTED,
                    "%s: %s: %s %llu bytes, over the limit of %llu bytes (%s; docs/limits.md "
                    "says how to raise it)",
                    who, name, what, (unsigned long long)bytes, (unsigned long long)max,
                    bw_limit_name(limit));
}

/* ---- bounded input -------------------------------------------------------- */

barlow_status bw_open_input(const char *path, const char *who, barlow_limit limit, int *fd,
                            uint64_t *size)
{
    if (!path) return bw_error(BARLOW_E_INVALID_ARG, "%s: path is NULL", who);
    if (!*path) return bw_error(BARLOW_E_INVALID_ARG, "%s: path is empty", who);
    /* stat first: opening a device can have effects (a tape rewinds, a
     * watchdog starts) and a FIFO would wait for a writer. */
    struct stat sb;
    if (stat(path, &sb) != 0)
        return bw_error(BARLOW_E_IO, "%s: cannot open %s: %s", who, path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return bw_error(BARLOW_E_IO, "%s: cannot read %s: it is %s, not a regular file", who,
                        path, kind_name(sb.st_mode));
    int f = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (f < 0) return bw_error(BARLOW_E_IO, "%s: cannot open %s: %s", who, path, strerror(errno));
    /* The path may have been replaced between stat and open: check again. */
    if (fstat(f, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(f);
        return bw_error(BARLOW_E_IO, "%s: cannot read %s: it is %s, not a regular file", who,
                        path, kind_name(sb.st_mode));
    }
    int fl = fcntl(f, F_GETFL);
    if (fl >= 0) (void)fcntl(f, F_SETFL, fl & ~O_NONBLOCK);
    barlow_status st = bw_check_limit(limit, (uint64_t)sb.st_size, who, path, "the file is");
    if (st != BARLOW_OK) {
        close(f);
        return st;
    }
    *fd = f;
    *size = (uint64_t)sb.st_size;
    return BARLOW_OK;
}

barlow_status bw_fopen_input(const char *path, const char *who, barlow_limit limit, FILE **fp,
                             uint64_t *size)
{
    int fd = -1;
    barlow_status st = bw_open_input(path, who, limit, &fd, size);
    if (st != BARLOW_OK) return st;
    *fp = fdopen(fd, "rb");
    if (!*fp) {
        int e = errno;
        close(fd);
        return bw_error(BARLOW_E_IO, "%s: cannot open %s: %s", who, path, strerror(e));
    }
    return BARLOW_OK;
}

/* Reads fd to its end into a buffer of at least cap bytes + 1 (grown as
 * needed, never past max + 1 bytes, so a file that grows after the size
 * check still cannot exceed the limit). */
static barlow_status read_all(int fd, const char *path, const char *who, barlow_limit limit,
                              size_t cap, char **data, size_t *size)
{
    uint64_t max = barlow_limit_get(limit);
    if (max == 0 || max > SIZE_MAX - 2) max = SIZE_MAX - 2;
    size_t len = 0;
    char *buf = bw_malloc(cap + 1, who);
    if (!buf) return BARLOW_E_NOMEM;
    for (;;) {
        if (len == cap) {
            if (len > max) break;
            size_t ncap = cap < (1u << 16) ? (1u << 16) : cap * 2;
            if (ncap > max + 1) ncap = (size_t)max + 1;
            char *nb = bw_realloc(buf, ncap + 1, who);
            if (!nb) {
                bw_free(buf);
                return bw_error(BARLOW_E_NOMEM, "%s: out of memory reading %s", who, path);
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t got = read(fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            int e = errno;
            bw_free(buf);
            return bw_error(BARLOW_E_IO, "%s: cannot read %s: %s", who, path, strerror(e));
        }
        if (got == 0) break;
        len += (size_t)got;
    }
    barlow_status st = bw_check_limit(limit, len, who, path, "the file grew to");
    if (st != BARLOW_OK) {
        bw_free(buf);
        return st;
    }
    buf[len] = '\0';
    *data = buf;
    *size = len;
    return BARLOW_OK;
}

barlow_status bw_read_file(const char *path, const char *who, barlow_limit limit, char **data,
                           size_t *size)
{
    int fd = -1;
    uint64_t fsize = 0;
    barlow_status st = bw_open_input(path, who, limit, &fd, &fsize);
    if (st != BARLOW_OK) return st;
    if (fsize > SIZE_MAX - 2) {
        close(fd);
        return bw_error(BARLOW_E_NOMEM, "%s: %s does not fit in memory", who, path);
    }
    st = read_all(fd, path, who, limit, (size_t)fsize, data, size);
    close(fd);
    return st;
}

barlow_status barlow_file_read(const char *path, barlow_limit which, barlow_buffer *out)
{
    static const char who[] = "barlow_file_read";
    bw_clear_error();
    if (!path || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, path ? "out" : "path");
    if (barlow_limit_get(which) == 0)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: unknown limit %d", who, (int)which);
    char *data = NULL;
    size_t size = 0;
    barlow_status st = bw_read_file(path, who, which, &data, &size);
    if (st != BARLOW_OK) return st;
    out->data = data;
    out->size = size;
    return BARLOW_OK;
}

/* ---- the registry of live temporaries ------------------------------------- */

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static bw_atomic_file *reg_head;

static void reg_add(bw_atomic_file *af)
{
    pthread_mutex_lock(&reg_lock);
    af->prev = NULL;
    af->next = reg_head;
    if (reg_head) reg_head->prev = af;
    reg_head = af;
    pthread_mutex_unlock(&reg_lock);
}

/* Unlinks af from the list; the caller holds reg_lock. */
static void reg_remove_locked(bw_atomic_file *af)
{
    if (af->prev) af->prev->next = af->next;
    else if (reg_head == af) reg_head = af->next;
    if (af->next) af->next->prev = af->prev;
    af->prev = af->next = NULL;
}

size_t barlow_output_remove_temporaries(void)
{
    size_t n = 0;
    pthread_mutex_lock(&reg_lock);
    for (bw_atomic_file *af = reg_head; af; af = af->next) {
        if (!af->removed && unlink(af->tmp_path) == 0) n++;
        af->removed = true;
    }
    pthread_mutex_unlock(&reg_lock);
    return n;
}

/* ---- I/O fault injection (tests only) ------------------------------------- */

/* Nonzero once bw_io_fail_set was called: the one load on the fast path. */
static atomic_int io_hook_on;
static atomic_long io_fail_at;      /* 1-based operation to fail; 0: none */
static atomic_int io_fail_how;      /* a bw_io_fault, for a write */
static atomic_int io_short_pending; /* a short write was made: fail the next */
static atomic_long io_seq;          /* operations since bw_io_fail_set */
static atomic_long io_counts[BW_IO_OPS];

void bw_io_fail_set(long n, bw_io_fault how)
{
    atomic_store(&io_fail_at, n > 0 ? n : 0);
    atomic_store(&io_fail_how, (int)how);
    atomic_store(&io_short_pending, 0);
    atomic_store(&io_seq, 0);
    for (int i = 0; i < BW_IO_OPS; i++) atomic_store(&io_counts[i], 0);
    atomic_store(&io_hook_on, 1);
}

long bw_io_count(bw_io_op op)
{
    return op == BW_IO_OPS ? atomic_load(&io_seq) : atomic_load(&io_counts[op]);
}

/* The slow path while the hook is on: counts op; 0 to go ahead, an errno
 * to fail it with, or -1 for a short write. */
static int io_hook(bw_io_op op)
{
    atomic_fetch_add(&io_counts[op], 1);
    long k = atomic_fetch_add(&io_seq, 1) + 1;
    if (op == BW_IO_WRITE && atomic_exchange(&io_short_pending, 0)) return ENOSPC;
    if (k != atomic_load(&io_fail_at)) return 0;
    if (op != BW_IO_WRITE) return EIO;
    switch ((bw_io_fault)atomic_load(&io_fail_how)) {
    case BW_IO_ENOSPC: return ENOSPC;
    case BW_IO_SHORT: atomic_store(&io_short_pending, 1); return -1;
    default: return EIO;
    }
}

/* Whether op is to fail (see io_hook); 0 while the hook is off. */
static inline int io_fault(bw_io_op op)
{
    return atomic_load_explicit(&io_hook_on, memory_order_relaxed) ? io_hook(op) : 0;
}

/* ---- the output stream: stdio over the temporary's fd, through the hook -- */

/* Writes all n bytes (half of them for an injected short write); returns
 * the count written, less on error with errno set. Never negative: glibc
 * takes a cookie's -1 as a count and then copies a byte past the caller's
 * data (fopencookie(3): "0 on error ... must not return a negative value"). */
static ssize_t out_write(void *cookie, const char *buf, size_t n)
{
    bw_atomic_file *af = cookie;
    int f = io_fault(BW_IO_WRITE);
    if (f > 0) {
        errno = f;
        return 0;
    }
    size_t want = f < 0 ? n / 2 : n, done = 0;
    while (done < want) {
        ssize_t w = write(af->fd, buf + done, want - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return (ssize_t)done;
        if (w == 0) break; /* no room: taken as ENOSPC below */
        done += (size_t)w;
    }
    if (done < n) errno = ENOSPC;
    return (ssize_t)done;
}

static int out_seek(void *cookie, off64_t *pos, int whence)
{
    bw_atomic_file *af = cookie;
    off_t r = lseek(af->fd, (off_t)*pos, whence);
    if (r < 0) return -1;
    *pos = r;
    return 0;
}

/* Closes the fd (also when the hook fails the close). */
static int out_close(void *cookie)
{
    bw_atomic_file *af = cookie;
    int f = io_fault(BW_IO_CLOSE);
    int r = close(af->fd);
    af->fd = -1;
    if (f) {
        errno = f;
        return -1;
    }
    return r;
}

/* mkostemp, fsync and rename through the hook. */
static int out_mkostemp(char *tmpl)
{
    int f = io_fault(BW_IO_CREATE);
    if (f) errno = f;
    return f ? -1 : mkostemp(tmpl, O_CLOEXEC);
}

static int out_fsync(int fd)
{
    int f = io_fault(BW_IO_FSYNC);
    if (f) errno = f;
    return f ? -1 : fsync(fd);
}

static int out_rename(const char *from, const char *to)
{
    int f = io_fault(BW_IO_RENAME);
    if (f) errno = f;
    return f ? -1 : rename(from, to);
}

/* ---- atomic output -------------------------------------------------------- */

/* The process umask, read without changing it (umask(2) can only be read by
 * setting it, which would race with other threads creating files). */
static mode_t bw_current_umask(void)
{
    mode_t mask = 022;
    FILE *fp = fopen("/proc/self/status", "re");
    if (!fp) return mask;
    char line[256];
    while (fgets(line, sizeof line, fp)) {
        unsigned int m;
        if (sscanf(line, "Umask: %o", &m) == 1) {
            mask = (mode_t)m;
            break;
        }
    }
    fclose(fp);
    return mask;
}

/* The directory part of path ("." when none), bw_malloc'd. */
static char *dir_of(const char *path, const char *who)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return bw_strdup(".", who);
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = bw_malloc(n + 1, who);
    if (d) {
        memcpy(d, path, n);
        d[n] = '\0';
    }
    return d;
}

/* What is at an output path: *exists and its stat when it is a regular
 * file; an error for anything else there, or an unusable directory. */
static barlow_status check_target(const char *path, const char *who, bool *exists,
                                  struct stat *sb)
{
    *exists = false;
    if (!path || !*path)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s output path", who, path ? "empty" : "NULL");
    if (lstat(path, sb) == 0) {
        if (!S_ISREG(sb->st_mode))
            return bw_error(BARLOW_E_IO,
                            "%s: will not write %s: it is %s (only a regular file is "
                            "replaced)", who, path, kind_name(sb->st_mode));
        *exists = true;
    } else if (errno != ENOENT) {
        return bw_error(BARLOW_E_IO, "%s: cannot write %s: %s", who, path, strerror(errno));
    }
    char *dir = dir_of(path, who);
    if (!dir) return BARLOW_E_NOMEM;
    struct stat ds;
    barlow_status st = BARLOW_OK;
    if (stat(dir, &ds) != 0)
        st = bw_error(BARLOW_E_IO, "%s: cannot write %s: directory %s: %s", who, path, dir,
                      strerror(errno));
    else if (!S_ISDIR(ds.st_mode))
        st = bw_error(BARLOW_E_IO, "%s: cannot write %s: %s is not a directory", who, path, dir);
    else if (access(dir, W_OK | X_OK) != 0)
        st = bw_error(BARLOW_E_IO, "%s: cannot write %s: directory %s: %s", who, path, dir,
                      strerror(errno));
    bw_free(dir);
    return st;
}

barlow_status barlow_output_check(const char *path)
{
    bw_clear_error();
    bool exists;
    struct stat sb;
    return check_target(path, "barlow_output_check", &exists, &sb);
}

/* "<dir>/<name>.tmp-XXXXXX" with the name cut to keep within NAME_MAX. */
static char *temp_template(const char *path, const char *who)
{
    const char *slash = strrchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) + 1 : 0;
    size_t blen = strlen(path) - dlen;
    if (blen > 200) blen = 200;
    char *t = bw_malloc(dlen + blen + 12, who);
    if (!t) return NULL;
    memcpy(t, path, dlen + blen);
    memcpy(t + dlen + blen, ".tmp-XXXXXX", 12);
    return t;
}

/* Gives the temporary the target's permission bits (and, as root, owner),
 * or a new file's mode when there is no target. */
static void set_mode(int fd, bool exists, const struct stat *sb)
{
    if (!exists) {
        (void)fchmod(fd, 0666 & ~bw_current_umask());
        return;
    }
    if (geteuid() == 0) (void)fchown(fd, sb->st_uid, sb->st_gid);
    (void)fchmod(fd, sb->st_mode & 07777);
}

barlow_status bw_atomic_open(bw_atomic_file *af, const char *path, const char *who)
{
    memset(af, 0, sizeof *af);
    af->fd = -1;
    bool exists;
    struct stat sb;
    barlow_status st = check_target(path, who, &exists, &sb);
    if (st != BARLOW_OK) return st;
    af->path = bw_strdup(path, who);
    af->tmp_path = temp_template(path, who);
    if (!af->path || !af->tmp_path) {
        bw_free(af->tmp_path);
        af->tmp_path = NULL;
        bw_atomic_abort(af);
        return BARLOW_E_NOMEM;
    }
    int fd = out_mkostemp(af->tmp_path);
    if (fd < 0) {
        int e = errno;
        bw_free(af->tmp_path);
        af->tmp_path = NULL;
        bw_atomic_abort(af);
        return bw_error(BARLOW_E_IO, "%s: cannot create a temporary file for %s: %s", who,
                        path, strerror(e));
    }
    reg_add(af);
    set_mode(fd, exists, &sb);
    af->fd = fd;
    static const cookie_io_functions_t io = {NULL, out_write, out_seek, out_close};
    af->fp = fopencookie(af, "wb", io);
    if (!af->fp) {
        int e = errno;
        close(fd);
        af->fd = -1;
        bw_atomic_abort(af);
        return bw_error(BARLOW_E_IO, "%s: cannot open %s: %s", who, path, strerror(e));
    }
    return BARLOW_OK;
}

/* Flushes and closes the temporary; an error names the target. */
static barlow_status close_temp(bw_atomic_file *af, const char *who)
{
    int bad = fflush(af->fp) != 0 || ferror(af->fp);
    int e = errno;
    if (!bad && out_fsync(af->fd) != 0 && errno != EINVAL && errno != EROFS) {
        bad = 1;
        e = errno;
    }
    if (fclose(af->fp) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    af->fp = NULL;
    if (bad) return bw_error(BARLOW_E_IO, "%s: writing %s failed: %s", who, af->path, strerror(e));
    return BARLOW_OK;
}

barlow_status bw_atomic_commit(bw_atomic_file *af, const char *who)
{
    barlow_status st = close_temp(af, who);
    struct stat sb;
    pthread_mutex_lock(&reg_lock);
    if (st == BARLOW_OK && af->removed) {
        st = bw_error(BARLOW_E_CANCELLED, "%s: %s was not written: the program was interrupted",
                      who, af->path);
    } else if (st == BARLOW_OK && lstat(af->path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        /* Something other than a regular file appeared at the path while
         * we were writing: leave it alone. */
        st = bw_error(BARLOW_E_IO, "%s: will not write %s: it is now %s (only a regular file "
                                   "is replaced)", who, af->path, kind_name(sb.st_mode));
    } else if (st == BARLOW_OK && out_rename(af->tmp_path, af->path) != 0) {
        st = bw_error(BARLOW_E_IO, "%s: cannot rename into %s: %s", who, af->path,
                      strerror(errno));
    } else if (st == BARLOW_OK) {
        af->removed = true; /* renamed: nothing left to remove */
    }
    pthread_mutex_unlock(&reg_lock);
    bw_atomic_abort(af); /* removes the temporary unless renamed; frees */
    return st;
}

void bw_atomic_abort(bw_atomic_file *af)
{
    if (af->fp) fclose(af->fp);
    af->fp = NULL;
    if (af->tmp_path) {
        pthread_mutex_lock(&reg_lock);
        if (!af->removed) unlink(af->tmp_path);
        af->removed = true;
        reg_remove_locked(af); /* also safe when it was never added */
        pthread_mutex_unlock(&reg_lock);
    }
    bw_free(af->tmp_path);
    bw_free(af->path);
    af->tmp_path = af->path = NULL;
}

/* The output directory of `barlow run` (run_dir.h). */
#include "run_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char keys_file[] = ".barlow-run";
static const char keys_magic[] = "barlow-run 1\n";

/* The staging directory that the signal thread removes when the run is
 * interrupted (a copy: the thread must not follow a freed pointer). */
static char cleanup_path[PATH_MAX];
static volatile int cleanup_set;

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return (flag == FTW_DP ? rmdir(path) : unlink(path)) == 0 || errno == ENOENT ? 0 : -1;
}

/* rm -rf, never following symbolic links. */
static int remove_tree(const char *path)
{
    return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void cli_remove_cleanup_dir(void)
{
    if (cleanup_set) remove_tree(cleanup_path);
}

static void set_cleanup(const char *path)
{
    cleanup_set = 0;
    if (path && strlen(path) < sizeof cleanup_path) {
        strcpy(cleanup_path, path);
        cleanup_set = 1;
    }
}

/* 1 when dir has no entries, 0 when it has some, -1 on error. */
static int dir_is_empty(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    DIR *dp = fdopendir(fd);
    if (!dp) {
        close(fd);
        return -1;
    }
    int empty = 1;
    struct dirent *e;
    while ((e = readdir(dp)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = 0;
    closedir(dp);
    return empty;
}

/* Reads DIR/.barlow-run (a small regular file) into d->old. */
static void read_old_keys(run_dir *d)
{
    char *path = cli_path_join(d->final, keys_file);
    int fd = path ? open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW) : -1;
    free(path);
    struct stat sb;
    if (fd < 0) return;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size < (1 << 20)) {
        char *text = calloc((size_t)sb.st_size + 1, 1);
        if (text && read(fd, text, (size_t)sb.st_size) == sb.st_size &&
            !strncmp(text, keys_magic, sizeof keys_magic - 1))
            d->old = text;
        else
            free(text);
    }
    close(fd);
}

/* DIR may be absent, an empty directory or a previous run's directory. */
static int check_final(const char *dir, bool *exists, mode_t *mode)
{
    struct stat sb;
    *exists = false;
    const char *last = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
    if (!strcmp(last, ".") || !strcmp(last, "..") || !*dir) {
        cli_set_error("--out %s: give the run directory by its own name, not '.' or '..' (it "
                      "is replaced as a whole at the end)", dir);
        return CLI_ERROR;
    }
    if (lstat(dir, &sb) != 0) {
        if (errno == ENOENT) return CLI_OK;
        cli_set_error("--out %s: %s", dir, strerror(errno));
        return CLI_ERROR;
    }
    if (S_ISLNK(sb.st_mode)) {
        cli_set_error("--out %s is a symbolic link; give the directory it points to", dir);
        return CLI_ERROR;
    }
    if (!S_ISDIR(sb.st_mode)) {
        cli_set_error("--out %s exists and is not a directory", dir);
        return CLI_ERROR;
    }
    *exists = true;
    *mode = sb.st_mode & 07777;
    char *keys = cli_path_join(dir, keys_file);
    struct stat kb;
    int is_run = keys && lstat(keys, &kb) == 0 && S_ISREG(kb.st_mode);
    free(keys);
    if (is_run || dir_is_empty(dir) == 1) return CLI_OK;
    cli_set_error("--out %s is a directory that holds other files and no %s: it is not the "
                  "output of an earlier barlow run, so it is left alone; give a new or an "
                  "empty directory",
                  dir, keys_file);
    return CLI_ERROR;
}

/* <parent>/.<name>.tmp-XXXXXX for DIR (trailing slashes ignored). */
static char *stage_template(const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    const char *end = dir + n, *base = end;
    while (base > dir && base[-1] != '/') base--;
    size_t plen = (size_t)(base - dir), blen = (size_t)(end - base);
    char *t = malloc(plen + blen + 16);
    if (t) sprintf(t, "%.*s.%.*s.tmp-XXXXXX", (int)plen, dir, (int)blen, base);
    return t;
}

int run_dir_open(run_dir *d, const char *given, bool force)
{
    *d = (run_dir){.keys = SBUF_INIT};
    char *dir = strdup(given);
    if (!dir) {
        cli_set_error("out of memory");
        return CLI_ERROR;
    }
    for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--) dir[n - 1] = '\0';
    bool exists;
    mode_t mask = umask(0);
    umask(mask);
    mode_t mode = 0777 & ~mask; /* a new directory's usual mode; a previous run's is kept */
    if (check_final(dir, &exists, &mode) != CLI_OK) {
        free(dir);
        return CLI_ERROR;
    }
    d->final = dir;
    d->stage = stage_template(dir);
    if (!d->final || !d->stage) {
        cli_set_error("out of memory");
        goto fail;
    }
    if (!mkdtemp(d->stage)) {
        cli_set_error("--out %s: cannot create a directory next to it (%s): %s", dir, d->stage,
                      strerror(errno));
        free(d->stage);
        d->stage = NULL;
        goto fail;
    }
    set_cleanup(d->stage);
    chmod(d->stage, mode); /* mkdtemp made it 0700 */
    if (exists && !force) read_old_keys(d);
    sbuf_puts(&d->keys, keys_magic);
    return CLI_OK;
fail:
    run_dir_close(d);
    return CLI_ERROR;
}

char *run_dir_path(const run_dir *d, const char *rel, bool old)
{
    return cli_path_join(old ? d->final : d->stage, rel);
}

int run_dir_mkdir(const run_dir *d, const char *rel)
{
    char *p = run_dir_path(d, rel, false);
    int ok = p && (mkdir(p, 0777) == 0 || errno == EEXIST);
    if (!ok) cli_set_error("%s: %s", p ? p : rel, p ? strerror(errno) : "out of memory");
    free(p);
    return ok ? CLI_OK : CLI_ERROR;
}

/* The previous run's key for name, or NULL (points into d->old). */
static const char *old_key(const run_dir *d, const char *name, size_t *len)
{
    size_t n = strlen(name);
    for (const char *p = d->old; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t line = nl ? (size_t)(nl - p) : strlen(p);
        if (line > n && !strncmp(p, name, n) && p[n] == ' ') {
            *len = line - n - 1;
            return p + n + 1;
        }
        p = nl ? nl + 1 : p + line;
    }
    return NULL;
}

void run_dir_set_key(run_dir *d, const char *name, const char *key)
{
    sbuf_printf(&d->keys, "%s ", name);
    for (const char *p = key; *p; p++) { /* one line: newlines cannot appear */
        if (*p == '\n' || *p == '\r') sbuf_puts(&d->keys, "%0A");
        else sbuf_add(&d->keys, p, 1);
    }
    sbuf_puts(&d->keys, "\n");
}

static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat sb;
    if (in < 0) return -1;
    if (fstat(in, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(in);
        return -1;
    }
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    int rc = out < 0 ? -1 : 0;
    char buf[65536];
    ssize_t r;
    while (rc == 0 && (r = read(in, buf, sizeof buf)) != 0) {
        if (r < 0 || write(out, buf, (size_t)r) != r) rc = -1;
    }
    if (out >= 0 && close(out) != 0) rc = -1;
    close(in);
    if (rc != 0 && out >= 0) unlink(to);
    return rc;
}

bool run_dir_carry(const run_dir *d, const char *rel)
{
    char *from = run_dir_path(d, rel, true), *to = run_dir_path(d, rel, false);
    struct stat sb;
    bool ok = from && to && lstat(from, &sb) == 0 && S_ISREG(sb.st_mode) &&
              (link(from, to) == 0 || copy_file(from, to) == 0);
    free(from);
    free(to);
    return ok;
}

bool run_dir_reuse(run_dir *d, const char *name, const char *key, const char *rel)
{
    size_t len = 0;
    const char *old = old_key(d, name, &len);
    size_t mark = d->keys.len;
    run_dir_set_key(d, name, key);
    /* compare in the escaped form the file holds */
    const char *mine = d->keys.data + mark + strlen(name) + 1;
    size_t mine_len = d->keys.len - mark - strlen(name) - 2;
    bool same = old && len == mine_len && !memcmp(old, mine, len);
    return same && (!rel || run_dir_carry(d, rel));
}

/* Without an atomic exchange (a file system that lacks it): the old
 * directory is moved aside, the new one into place, then the old one is
 * removed; on failure the old one goes back. */
static bool swap_by_renames(run_dir *d)
{
    char *aside = stage_template(d->final);
    if (!aside || !mkdtemp(aside)) {
        free(aside);
        return false;
    }
    bool ok = false;
    if (rename(d->final, aside) == 0) {
        ok = rename(d->stage, d->final) == 0;
        int e = errno;
        if (!ok) rename(aside, d->final);
        errno = e;
    }
    if (ok) remove_tree(aside);
    else rmdir(aside);
    free(aside);
    return ok;
}

int run_dir_commit(run_dir *d)
{
    char *keys = run_dir_path(d, keys_file, false);
    FILE *fp = keys && !sbuf_failed(&d->keys) ? fopen(keys, "wx") : NULL;
    bool ok = fp && fwrite(d->keys.data, 1, d->keys.len, fp) == d->keys.len;
    if (fp && (fflush(fp) != 0 || fsync(fileno(fp)) != 0)) ok = false;
    if (fp && fclose(fp) != 0) ok = false;
    free(keys);
    if (!ok) {
        cli_set_error("%s/%s: %s", d->stage, keys_file, strerror(errno ? errno : ENOMEM));
        return CLI_ERROR;
    }
    struct stat sb;
    if (lstat(d->final, &sb) != 0) {
        ok = rename(d->stage, d->final) == 0;
    } else if (renameat2(AT_FDCWD, d->stage, AT_FDCWD, d->final, RENAME_EXCHANGE) == 0) {
        return CLI_OK; /* the previous run now sits at d->stage; close removes it */
    } else {
        ok = swap_by_renames(d);
    }
    if (!ok) {
        cli_set_error("--out %s: cannot put the new report in place: %s", d->final,
                      strerror(errno));
        return CLI_ERROR;
    }
    free(d->stage);
    d->stage = NULL;
    set_cleanup(NULL);
    return CLI_OK;
}

void run_dir_close(run_dir *d)
{
    if (d->stage) remove_tree(d->stage);
    set_cleanup(NULL);
    free(d->stage);
    free(d->final);
    free(d->old);
    sbuf_free(&d->keys);
    *d = (run_dir){.keys = SBUF_INIT};
}

void run_fingerprint(sbuf *key, const char *label, const char *given)
{
    /* the same file named two ways ("models/m.pt", "/abs/models/m.pt") is one key */
    char *real = realpath(given, NULL);
    const char *path = real ? real : given;
    sbuf_printf(key, "%s=", label);
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (*p < 0x20 || *p == 0x7F || *p == '%' || *p == ';') sbuf_printf(key, "%%%02X", *p);
        else sbuf_add(key, (const char *)p, 1);
    }
    struct stat sb;
    if (stat(path, &sb) != 0)
        sbuf_puts(key, ":missing;");
    else
        sbuf_printf(key, ":%lld:%lld.%09ld:%llu;", (long long)sb.st_size,
                    (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec,
                    (unsigned long long)sb.st_ino);
    free(real);
}

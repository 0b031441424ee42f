/* Whole-file reads and atomic (temporary name + rename) writes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* The process umask, read without changing it (umask(2) can only be read by
 * setting it, which would race with other threads creating files). */
static mode_t bw_current_umask(void)
{
    mode_t mask = 022;
    FILE *fp = fopen("/proc/self/status", "r");
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

barlow_status bw_atomic_open(bw_atomic_file *af, const char *path, const char *who)
{
    af->fp = NULL;
    af->tmp_path = NULL;
    af->path = NULL;
    if (!path || !*path) return bw_error(BARLOW_E_INVALID_ARG, "%s: empty output path", who);
    size_t n = strlen(path);
    af->path = bw_strdup(path, who);
    af->tmp_path = bw_malloc(n + 16, who);
    if (!af->path || !af->tmp_path) {
        free(af->path);
        free(af->tmp_path);
        af->path = af->tmp_path = NULL;
        return BARLOW_E_NOMEM;
    }
    snprintf(af->tmp_path, n + 16, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        int e = errno;
        free(af->path);
        free(af->tmp_path);
        af->path = af->tmp_path = NULL;
        return bw_error(BARLOW_E_IO, "%s: cannot create %s: %s", who, path, strerror(e));
    }
    /* mkstemp creates the file 0600; give it the mode a plain fopen would. */
    (void)fchmod(fd, 0666 & ~bw_current_umask());
    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        int e = errno;
        close(fd);
        unlink(af->tmp_path);
        free(af->path);
        free(af->tmp_path);
        af->path = af->tmp_path = NULL;
        return bw_error(BARLOW_E_IO, "%s: cannot open %s: %s", who, path, strerror(e));
    }
    return BARLOW_OK;
}

barlow_status bw_atomic_commit(bw_atomic_file *af, const char *who)
{
    barlow_status st = BARLOW_OK;
    int bad = ferror(af->fp);
    int e = errno;
    if (fclose(af->fp) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    af->fp = NULL;
    if (bad) {
        st = bw_error(BARLOW_E_IO, "%s: writing %s failed: %s", who, af->path, strerror(e));
        unlink(af->tmp_path);
    } else if (rename(af->tmp_path, af->path) != 0) {
        e = errno;
        st = bw_error(BARLOW_E_IO, "%s: cannot rename into %s: %s", who, af->path, strerror(e));
        unlink(af->tmp_path);
    }
    free(af->tmp_path);
    free(af->path);
    af->tmp_path = af->path = NULL;
    return st;
}

void bw_atomic_abort(bw_atomic_file *af)
{
    if (af->fp) fclose(af->fp);
    if (af->tmp_path) unlink(af->tmp_path);
    free(af->tmp_path);
    free(af->path);
    af->fp = NULL;
    af->tmp_path = af->path = NULL;
}

barlow_status bw_read_file(const char *path, const char *who, char **data, size_t *size)
{
    if (!path) return bw_error(BARLOW_E_INVALID_ARG, "%s: path is NULL", who);
    FILE *fp = fopen(path, "rb");
    if (!fp) return bw_error(BARLOW_E_IO, "%s: cannot open %s: %s", who, path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(fp);
        return bw_error(BARLOW_E_NOMEM, "%s: out of memory reading %s", who, path);
    }
    for (;;) {
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                fclose(fp);
                return bw_error(BARLOW_E_NOMEM, "%s: out of memory reading %s", who, path);
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - 1 - len, fp);
        len += got;
        if (got == 0) break;
    }
    if (ferror(fp)) {
        int e = errno;
        free(buf);
        fclose(fp);
        return bw_error(BARLOW_E_IO, "%s: cannot read %s: %s", who, path, strerror(e));
    }
    fclose(fp);
    buf[len] = '\0';
    *data = buf;
    *size = len;
    return BARLOW_OK;
}

/* See fuzz_util.h. */
#include "fuzz_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "barlow/common.h"

static char scratch[64];

void fuzz_check(int ok)
{
    if (!ok) abort();
}

static void remove_scratch(void)
{
    DIR *d = opendir(scratch);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(p, sizeof p, "%s/%s", scratch, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(scratch);
}

static int make_scratch(void)
{
    if (scratch[0]) return 0;
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%.40s/barlow-fuzz-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(scratch)) {
        scratch[0] = '\0';
        return -1;
    }
    atexit(remove_scratch);
    return 0;
}

int fuzz_write(const char *name, const void *data, size_t size, char *path, size_t cap)
{
    if (make_scratch() != 0) return -1;
    if ((size_t)snprintf(path, cap, "%s/%s", scratch, name) >= cap) return -1;
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t put = size ? fwrite(data, 1, size, f) : 0;
    return fclose(f) == 0 && put == size ? 0 : -1;
}

uint64_t fuzz_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = n; i > 0; i--) v = v << 8 | p[i - 1];
    return v;
}

void fuzz_check_failure(int st, const void *out)
{
    if (st == BARLOW_OK) return;
    const char *msg = barlow_last_error();
    fuzz_check(st < 0 && out == NULL && msg != NULL && msg[0] != '\0');
}

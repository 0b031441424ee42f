/* main() for replaying a libFuzzer target's corpus without libFuzzer (the
 * gcc build in tests/meson.build): each argument is a file, or a directory
 * whose files (not recursing) are run, in name order, through
 * LLVMFuzzerTestOneInput; after "--prefix P", only the files of the
 * directories that follow whose names start with P
 * (e.g. tests/fuzz/regressions/csv-*). A broken invariant aborts; the exit status is 0
 * when every input ran, 1 when an argument or a file cannot be read. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 1 << 16, n = 0, got;
    uint8_t *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        uint8_t *grown = n == cap ? realloc(buf, cap *= 2) : buf;
        if (!grown) free(buf);
        buf = grown;
    }
    int bad = !buf || ferror(f);
    fclose(f);
    if (!bad) (void)LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return bad ? -1 : 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Runs the files of a directory whose names start with prefix; returns
 * the number run, or -1. */
static long run_dir(const char *dir, const char *prefix)
{
    struct dirent **list;
    int n = scandir(dir, &list, NULL, by_name);
    if (n < 0) return -1;
    long done = 0;
    char p[4096];
    struct stat st;
    for (int i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, list[i]->d_name);
        int want = strncmp(list[i]->d_name, prefix, strlen(prefix)) == 0;
        if (want && stat(p, &st) == 0 && S_ISREG(st.st_mode) && done >= 0)
            done = run_file(p) == 0 ? done + 1 : -1;
        free(list[i]);
    }
    free(list);
    return done;
}

int main(int argc, char **argv)
{
    long total = 0;
    struct stat st;
    const char *prefix = "";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--prefix") == 0 && i + 1 < argc) {
            prefix = argv[++i];
            continue;
        }
        long n = stat(argv[i], &st) != 0   ? -1
                 : S_ISDIR(st.st_mode)     ? run_dir(argv[i], prefix)
                 : run_file(argv[i]) == 0 ? 1
                                           : -1;
        if (n < 0) {
            fprintf(stderr, "replay: cannot read %s\n", argv[i]);
            return 1;
        }
        total += n;
    }
    printf("replayed %ld inputs\n", total);
    return 0;
}

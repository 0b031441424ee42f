/* The allocation-failure sweep shared by tests/test_alloc_fail.c and
 * tests/test_alloc_fail_torch.c (white-box: bw_alloc_fail_set, lib/alloc.c).
 * Each operation is run with its 1st, 2nd, ... allocation failing, once
 * (only the Nth) and forever (the Nth and every later one), until it
 * completes without reaching N. Every run must return OK or NOMEM (NOMEM
 * with a message), give on OK the result of the unfailed run (compared as a
 * text fingerprint), free everything it allocated (the live-block count
 * returns to where it was) and leave in the output directory the complete
 * file or nothing. The figures are printed as TAP diagnostics, one Markdown
 * row per operation and mode (docs/reliability.md, "Allocation failures").
 *
 * The including test sets as_out (the output file of writing operations)
 * and as_dir (its directory), and as_keep (an entry of as_dir that is not
 * an output: NULL for none), then calls as_header() and as_check(&op) for
 * each operation. Include after "tap.h" and "internal.h". */
#ifndef BARLOW_TESTS_ALLOC_SWEEP_H
#define BARLOW_TESTS_ALLOC_SWEEP_H

#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a result's fingerprint: text the test compares between runs -------- */

typedef struct fp {
    char *s;
    size_t len, cap;
} fp;

static void fp_add(fp *f, const char *fmt, ...) BW_PRINTF(2, 3);
static void fp_add(fp *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (f->len + (size_t)n + 1 > f->cap) {
        f->cap = 2 * (f->len + (size_t)n + 1);
        f->s = realloc(f->s, f->cap); /* the test's memory: not counted */
        if (!f->s) abort();
    }
    va_start(ap, fmt);
    vsnprintf(f->s + f->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    f->len += (size_t)n;
}

/* FNV-1a of n more bytes, from state *h. */
static uint64_t fp_hash(uint64_t h, const void *data, size_t n)
{
    for (size_t i = 0; i < n; i++) h = (h ^ ((const uint8_t *)data)[i]) * 1099511628211ull;
    return h;
}

static void fp_bytes(fp *f, const void *data, size_t n)
{
    uint64_t h = fp_hash(1469598103934665603ull, data, n);
    fp_add(f, "[%zu bytes %016llx]", n, (unsigned long long)h);
}

/* The whole file's size and hash, or "[no file]". */
static inline void fp_file(fp *f, const char *path)
{
    FILE *in = fopen(path, "rb");
    if (!in) {
        fp_add(f, "[no file %s]", path);
        return;
    }
    char buf[1 << 16];
    uint64_t h = 1469598103934665603ull, total = 0;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        h = fp_hash(h, buf, n);
        total += n;
    }
    fclose(in);
    fp_add(f, "[%llu bytes %016llx]", (unsigned long long)total, (unsigned long long)h);
}

/* ---- operations and the sweep ---------------------------------------------- */

/* One operation: run() does it (its results kept in static state),
 * print() fingerprints them, release() frees them. */
typedef struct op {
    const char *name;
    barlow_status (*run)(void);
    void (*print)(fp *f);
    void (*release)(void);
    bool writes; /* run() writes as_out */
} op;

static const char *as_out, *as_dir, *as_keep;

typedef struct figures {
    long sites;      /* allocations of the unfailed run */
    long tolerated;  /* runs that returned OK despite a failed allocation */
    long wrong, leaks, leftovers, bad_result;
} figures;

/* Entries of as_dir other than as_keep and the complete output file (when
 * `complete` says it should be there). */
static int as_leftover_files(bool complete)
{
    DIR *d = opendir(as_dir);
    if (!d) return 1;
    int bad = 0;
    const char *base = strrchr(as_out, '/') ? strrchr(as_out, '/') + 1 : as_out;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, ".."))) continue;
        if (as_keep && !strcmp(e->d_name, as_keep)) continue;
        if (strcmp(e->d_name, base) != 0 || !complete) bad++;
    }
    closedir(d);
    return bad;
}

/* One run with allocation n failing (0: none). Returns the allocations it
 * made; *st its status; the fingerprint of an OK result in *out. */
static long as_run_once(const op *o, long n, bool forever, barlow_status *st, fp *out,
                        figures *fg)
{
    remove(as_out);
    long live = bw_alloc_live();
    bw_alloc_fail_set(n, forever);
    bw_clear_error();
    *st = o->run();
    long count = bw_alloc_count();
    bw_alloc_fail_set(0, 0);
    bool message = barlow_last_error()[0] != '\0';
    if (*st == BARLOW_OK) o->print(out);
    o->release();
    bool wrong = (*st != BARLOW_OK && *st != BARLOW_E_NOMEM) || (*st != BARLOW_OK && !message);
    bool leak = bw_alloc_live() != live;
    bool left = o->writes && as_leftover_files(*st == BARLOW_OK);
    fg->wrong += wrong;
    fg->leaks += leak;
    fg->leftovers += left;
    if ((wrong || leak || left) && getenv("ALLOC_FAIL_VERBOSE"))
        printf("# %s n=%ld forever=%d: status %d, leak %d, left %d (%s)\n", o->name, n,
               forever, *st, leak, left, barlow_last_error());
    return count;
}

static void as_sweep(const op *o, bool forever, const char *want)
{
    figures fg = {0};
    long n = 1;
    for (;; n++) {
        barlow_status st;
        fp got = {0};
        long count = as_run_once(o, n, forever, &st, &got, &fg);
        if (st == BARLOW_OK && (!got.s || strcmp(got.s, want) != 0)) {
            fg.bad_result++;
            if (getenv("ALLOC_FAIL_VERBOSE"))
                printf("# %s n=%ld forever=%d: OK, a wrong result: %s\n#   want %s\n", o->name,
                       n, forever, got.s ? got.s : "-", want);
        }
        if (st == BARLOW_OK && count >= n) fg.tolerated++;
        free(got.s);
        if (count < n || n > 100000) break;
    }
    fg.sites = n - 1;
    TAP_OK(fg.wrong == 0 && fg.leaks == 0 && fg.leftovers == 0 && fg.bad_result == 0 &&
               n <= 100000,
           "%s, fail-%s: %ld allocation sites; wrong status %ld, leaks %ld, leftover files "
           "%ld, wrong results %ld",
           o->name, forever ? "forever" : "once", fg.sites, fg.wrong, fg.leaks, fg.leftovers,
           fg.bad_result);
    printf("# | %s | fail-%s | %ld | 0 | %ld | %ld | %ld | %ld | %ld |\n", o->name,
           forever ? "forever" : "once", fg.sites, fg.leaks, fg.wrong, fg.leftovers,
           fg.bad_result, fg.tolerated);
}

/* The table's header line (TAP diagnostics). */
static void as_header(void)
{
    printf("# | operation | mode | allocation sites | crashes | leaks | wrong status | "
           "leftover files | wrong results | OK despite a failure |\n");
}

/* The unfailed run, then the sweeps fail-once and fail-forever. */
static void as_check(const op *o)
{
    barlow_status st;
    fp want = {0};
    figures fg = {0};
    as_run_once(o, 0, false, &st, &want, &fg);
    TAP_OK(st == BARLOW_OK && fg.leaks == 0 && fg.leftovers == 0, "%s: unfailed run (%d %s)",
           o->name, st, barlow_last_error());
    if (st == BARLOW_OK) {
        as_sweep(o, false, want.s);
        as_sweep(o, true, want.s);
    }
    free(want.s);
}

#endif

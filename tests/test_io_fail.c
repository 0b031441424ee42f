/* I/O failures (white-box: bw_io_fail_set, lib/fileio.c). Each writer of
 * the library is run with its 1st, 2nd, ... write-side operation failing
 * (creating the temporary, each write(2), the fsync, the close, the
 * rename), until it completes without reaching N: with a write failing
 * with EIO, with ENOSPC, and as a short write followed by ENOSPC; with the
 * target absent and with an older target in place. Every failed run must
 * return IO (or NOMEM) with a message naming the path, leave the target
 * absent or byte-identical to the older file, leave no temporary and free
 * everything it allocated. A run that reaches no fault must give the
 * unfailed run's bytes. Last, a large save in a child with RLIMIT_FSIZE
 * (SIGXFSZ ignored) must fail with IO and leave nothing. The figures per
 * writer are TAP diagnostics (docs/reliability.md, "I/O failures"). */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "barlow/barlow.h"
#include "internal.h"
#include "tap.h"
#include "tmpdir.h"
#include "img_encode.h"

/* ---- inputs, made once ------------------------------------------------------ */

static struct {
    barlow_matrix *x; /* 600 x 16: ~38 KB of .npy, several write(2)s */
    uint8_t fail[600];
    double wide[6000]; /* barlow_array_save_npy's array */
    barlow_tree *tree;
    barlow_analysis *an;
    barlow_image *img;
} in;

static void make_matrix(void)
{
    static float x[600 * 16];
    uint64_t r = 11;
    for (size_t i = 0; i < 600; i++) {
        in.fail[i] = i % 7 == 0 || i % 5 == 1;
        for (size_t j = 0; j < 16; j++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            x[i * 16 + j] = (float)(r >> 40) / 16777216.0f + (j == 3 ? 0.5f * in.fail[i] : 0);
        }
    }
    for (size_t i = 0; i < 6000; i++) in.wide[i] = (double)i * 0.37 - 11.0;
    if (barlow_matrix_create_copy(x, 600, 16, 0, &in.x)) TAP_SKIP_ALL("cannot make the matrix");
}

static void make_analysis(void)
{
    int32_t labels[600], preds[600];
    for (size_t i = 0; i < 600; i++) {
        labels[i] = (int32_t)(i % 3);
        preds[i] = in.fail[i] ? (int32_t)((i + 1) % 3) : labels[i];
    }
    barlow_dataset *ds = NULL;
    barlow_analysis_options o;
    barlow_analysis_options_init(&o);
    o.k = 4;
    o.threads = 1;
    barlow_tree_options to;
    barlow_tree_options_init(&to);
    to.max_depth = 3;
    if (barlow_dataset_create(600, labels, preds, NULL, 3, &ds) ||
        barlow_analysis_run(in.x, ds, &o, NULL, NULL, &in.an) ||
        barlow_tree_fit(in.x, in.fail, NULL, 0, &to, &in.tree))
        TAP_SKIP_ALL("cannot make the analysis and the tree");
    barlow_dataset_free(ds);
}

static void make_image(void)
{
    static uint8_t px[64 * 64 * 3];
    uint64_t r = 5;
    for (size_t i = 0; i < sizeof px; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        px[i] = (uint8_t)(r >> 56);
    }
    size_t n = 0;
    uint8_t *png = png_encode(64, 64, 2, px, &n);
    FILE *f = fopen(tmp_path("in.png"), "wb");
    if (!png || !f || fwrite(png, 1, n, f) != n || fclose(f) != 0 ||
        barlow_image_decode_file(tmp_path("in.png"), NULL, &in.img))
        TAP_SKIP_ALL("cannot make the image");
    free(png);
}

/* ---- the writers ------------------------------------------------------------- */

typedef struct writer {
    const char *name;
    barlow_status (*run)(const char *path);
    bool retries; /* may recover: then OK with the complete file is right */
} writer;

static barlow_status npy_matrix(const char *path) { return barlow_matrix_save_npy(in.x, path); }
static barlow_status npy_array(const char *path)
{
    size_t shape[2] = {60, 100};
    return barlow_array_save_npy(BARLOW_DTYPE_FLOAT64, 2, shape, in.wide, path);
}
static barlow_status npz(const char *path)
{
    barlow_npz_writer *w = NULL;
    size_t shape[2] = {600, 16}, n = 600;
    barlow_status st = barlow_npz_writer_open(path, &w);
    if (!st) st = barlow_npz_writer_add(w, "x", BARLOW_DTYPE_FLOAT32, 2, shape,
                                        barlow_matrix_data(in.x));
    if (!st) st = barlow_npz_writer_add(w, "fail", BARLOW_DTYPE_UINT8, 1, &n, in.fail);
    if (!st) st = barlow_npz_writer_commit(w);
    barlow_npz_writer_free(w);
    return st;
}
/* "A failed add leaves the archive as it was before the call": an add
 * that fails is made again, and the archive must come out whole. */
static barlow_status add_again(barlow_npz_writer *w, const char *name, barlow_dtype dt,
                               size_t ndim, const size_t *shape, const void *data)
{
    barlow_status st = barlow_npz_writer_add(w, name, dt, ndim, shape, data);
    if (st == BARLOW_E_IO) st = barlow_npz_writer_add(w, name, dt, ndim, shape, data);
    return st;
}
static barlow_status npz_retry(const char *path)
{
    barlow_npz_writer *w = NULL;
    size_t shape[2] = {600, 16}, n = 600;
    barlow_status st = barlow_npz_writer_open(path, &w);
    if (!st) st = add_again(w, "x", BARLOW_DTYPE_FLOAT32, 2, shape, barlow_matrix_data(in.x));
    if (!st) st = add_again(w, "fail", BARLOW_DTYPE_UINT8, 1, &n, in.fail);
    if (!st) st = barlow_npz_writer_commit(w);
    barlow_npz_writer_free(w);
    return st;
}
static barlow_status tree_json(const char *path)
{
    return barlow_tree_save_json(in.tree, NULL, NULL, path);
}
static barlow_status an_json(const char *path) { return barlow_analysis_save_json(in.an, path); }
static barlow_status an_csv(const char *path) { return barlow_analysis_save_csv(in.an, path); }
static barlow_status png(const char *path) { return barlow_image_save_png(in.img, path); }

static const writer writers[] = {
    {"barlow_matrix_save_npy", npy_matrix, false},
    {"barlow_array_save_npy", npy_array, false},
    {"barlow_npz_writer (open, add, add, commit)", npz, false},
    {"barlow_npz_writer, a failed add made again", npz_retry, true},
    {"barlow_tree_save_json", tree_json, false},
    {"barlow_analysis_save_json", an_json, false},
    {"barlow_analysis_save_csv", an_csv, false},
    {"barlow_image_save_png", png, false},
};

/* ---- files --------------------------------------------------------------------- */

static const char old_bytes[] = "an older file that a failed write must leave as it is\n";

typedef struct bytes {
    char *data;
    size_t n;
    bool exists;
} bytes;

static bytes slurp(const char *path)
{
    bytes b = {NULL, 0, false};
    FILE *f = fopen(path, "rb");
    if (!f) return b;
    b.exists = true;
    char buf[1 << 16];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0) {
        b.data = realloc(b.data, b.n + got); /* the test's memory: not counted */
        if (!b.data) abort();
        memcpy(b.data + b.n, buf, got);
        b.n += got;
    }
    fclose(f);
    return b;
}

static bool same(const bytes *b, const void *data, size_t n)
{
    return b->exists && b->n == n && (n == 0 || memcmp(b->data, data, n) == 0);
}

/* Entries of dir other than `base`: temporaries or strays. */
static int strays(const char *dir, const char *base)
{
    DIR *d = opendir(dir);
    if (!d) return 1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, base)) n++;
    closedir(d);
    return n;
}

/* Open file descriptors of the process. */
static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    while (readdir(d) != NULL) n++;
    closedir(d);
    return n;
}

/* The target before a run: absent, or the older file. */
static void prepare(const char *path, bool older)
{
    remove(path);
    if (!older) return;
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(old_bytes, 1, sizeof old_bytes - 1, f) != sizeof old_bytes - 1 ||
        fclose(f) != 0)
        TAP_SKIP_ALL("cannot write the older file");
}

/* ---- the sweep ------------------------------------------------------------------- */

typedef struct tally {
    long points;                     /* operations of the unfailed run */
    long by_op[BW_IO_OPS];           /* of which creates, writes, ... */
    long runs, clean, recovered, wrong, leaks, strays, damaged, no_path;
} tally;

static const char *const fault_name[] = {"EIO", "ENOSPC", "short write + ENOSPC"};
static const char *out_dir, *out_path;

/* One run with operation n failing; returns the operations it reached. */
static long run_once(const writer *w, long n, bw_io_fault how, bool older, const bytes *want,
                     tally *t)
{
    prepare(out_path, older);
    long live = bw_alloc_live();
    int fds = open_fds();
    bw_io_fail_set(n, how);
    bw_clear_error();
    barlow_status st = w->run(out_path);
    long reached = bw_io_count(BW_IO_OPS);
    bw_io_fail_set(0, how);
    bytes got = slurp(out_path);
    bool recovered = reached >= n && w->retries && st == BARLOW_OK;
    bool failed_run = reached >= n && !recovered;
    bool wrong = failed_run ? st != BARLOW_E_IO && st != BARLOW_E_NOMEM : st != BARLOW_OK;
    bool no_path = failed_run && !msg_has(out_path);
    bool ok_file = failed_run ? (older ? same(&got, old_bytes, sizeof old_bytes - 1) : !got.exists)
                              : same(&got, want->data, want->n);
    bool leak = bw_alloc_live() != live || open_fds() != fds;
    int left = strays(out_dir, strrchr(out_path, '/') + 1);
    t->runs += reached >= n;
    t->recovered += recovered && ok_file && !leak && !left;
    t->wrong += wrong;
    t->no_path += no_path;
    t->damaged += !ok_file;
    t->leaks += leak;
    t->strays += left;
    t->clean += (failed_run || recovered) && !wrong && !no_path && ok_file && !leak && !left;
    if ((wrong || no_path || !ok_file || leak || left) && getenv("IO_FAIL_VERBOSE"))
        printf("# %s n=%ld %s older=%d: status %d, file %s, leak %d, strays %d (%s)\n", w->name,
               n, fault_name[how], older, st, ok_file ? "ok" : "BAD", leak, left,
               barlow_last_error());
    free(got.data);
    return reached;
}

static void sweep(const writer *w, bw_io_fault how, bool older, const bytes *want, tally *t)
{
    long n = 1;
    while (run_once(w, n, how, older, want, t) >= n && n < 100000) n++;
}

/* The unfailed run: its bytes and its operations by kind. */
static bytes reference(const writer *w, tally *t)
{
    prepare(out_path, false);
    bw_io_fail_set(0, BW_IO_EIO);
    barlow_status st = w->run(out_path);
    for (int op = 0; op < BW_IO_OPS; op++) t->by_op[op] = bw_io_count((bw_io_op)op);
    t->points = bw_io_count(BW_IO_OPS);
    bytes b = slurp(out_path);
    TAP_OK(st == BARLOW_OK && b.exists && b.n > 0, "%s: unfailed run (%d %s), %zu bytes", w->name,
           st, barlow_last_error(), b.n);
    return b;
}

static void check_writer(const writer *w)
{
    tally t = {0};
    bytes want = reference(w, &t);
    for (int how = BW_IO_EIO; how <= BW_IO_SHORT; how++)
        for (int older = 0; older < 2; older++) sweep(w, (bw_io_fault)how, older, &want, &t);
    free(want.data);
    bool good = t.wrong == 0 && t.no_path == 0 && t.damaged == 0 && t.leaks == 0 &&
                t.strays == 0 && t.runs == 6 * t.points && t.clean == t.runs;
    TAP_OK(good, "%s: %ld fault points x 3 faults x (absent, older) = %ld failed runs; clean %ld "
                 "(recovered, file complete: %ld), wrong status %ld, message without the path "
                 "%ld, target damaged %ld, leaks (blocks or fds) %ld, temporaries left %ld",
           w->name, t.points, t.runs, t.clean, t.recovered, t.wrong, t.no_path, t.damaged,
           t.leaks, t.strays);
    printf("# | %s | %ld (%ld create, %ld write, %ld fsync, %ld close, %ld rename) | %ld/%ld | "
           "%ld | %ld |\n", w->name, t.points, t.by_op[BW_IO_CREATE], t.by_op[BW_IO_WRITE],
           t.by_op[BW_IO_FSYNC], t.by_op[BW_IO_CLOSE], t.by_op[BW_IO_RENAME], t.clean, t.runs,
           t.strays, t.leaks);
}

/* ---- RLIMIT_FSIZE -------------------------------------------------------------------- */

/* In the child: a 4 MiB .npy under a 64 KiB file size limit. Exit 0 when it
 * failed with IO naming the path and left nothing. */
static int fsize_child(const char *path)
{
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {64 << 10, 64 << 10};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) return 2;
    size_t n = 1 << 20;
    float *data = calloc(n, sizeof *data);
    if (!data) return 2;
    barlow_status st = barlow_array_save_npy(BARLOW_DTYPE_FLOAT32, 1, &n, data, path);
    free(data);
    printf("# RLIMIT_FSIZE child: status %d (%s)\n", st, barlow_last_error());
    fflush(stdout);
    struct stat sb;
    bool absent = stat(path, &sb) != 0;
    return st == BARLOW_E_IO && msg_has(path) && absent && strays(out_dir, "") == 0 ? 0 : 1;
}

static void check_fsize(void)
{
    fflush(stdout);
    remove(out_path);
    pid_t pid = fork();
    if (pid == 0) _exit(fsize_child(out_path));
    int ws = 0;
    bool ok = pid > 0 && waitpid(pid, &ws, 0) == pid && WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
    TAP_OK(ok, "RLIMIT_FSIZE 64 KiB, SIGXFSZ ignored: a 4 MiB npy save fails with IO and "
               "leaves no file (child status %d)", ws);
}

int main(void)
{
    bw_alloc_fail_set(0, 0); /* counting starts before the library allocates */
    tmp_dir_create("io-fail");
    make_matrix();
    make_analysis();
    make_image();
    mkdir(tmp_path("out"), 0700);
    char *dir = strdup(tmp_path("out")), *path = strdup(tmp_path("out/target.bin"));
    out_dir = dir;
    out_path = path;
    printf("# | writer | fault points | failed runs clean (target absent or intact, IO with "
           "the path, no leak) | temporaries left | leaks |\n");
    for (size_t i = 0; i < sizeof writers / sizeof writers[0]; i++) check_writer(&writers[i]);
    check_fsize();
    barlow_matrix_free(in.x);
    barlow_tree_free(in.tree);
    barlow_analysis_free(in.an);
    barlow_image_free(in.img);
    TAP_OK(bw_alloc_live() == 0, "every block freed at the end (live %ld)", bw_alloc_live());
    free(dir);
    free(path);
    tmp_dir_remove();
    return tap_done();
}

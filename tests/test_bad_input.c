/* Bad inputs at every public entry point that does not need libtorch (issue
 * 15): one table per header (common.h, matrix.h, dataset.h, loaders.h,
 * image.h, selector.h, tree.h, analysis.h, shards.h), one case per bad
 * input to a function that returns a status. Each case runs in a child
 * (tests/badinput.h) and checks the documented status, a message naming
 * the function and the culprit, out-parameters untouched, no leaked byte
 * (lib/alloc.c) and a valid call on the same handle right after. Covered:
 * NULL, empty and nonsense arguments (out-of-range enums, NaN/inf, ids out
 * of range), options and caller-filled structs of version 0 and 999; every
 * file reader on a missing file, a directory, a FIFO (must not block),
 * /dev/zero, a symbolic link to it, an empty, a truncated and a garbage
 * file and, where text is read, invalid UTF-8; every writer on a missing
 * directory, a directory, /dev/full, a symbolic link and a FIFO at the
 * target, and RLIMIT_FSIZE (SIGXFSZ ignored) with and without an older
 * file: afterwards the target is absent or the older file, /dev/full is
 * untouched and no temporary remains. BADINPUT_TABLE=FILE appends the
 * tables' rows to FILE (docs/reliability.md, "Bad input"). White-box only
 * for the live-bytes counter (bw_alloc_live_bytes). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <zlib.h>

#include "barlow/barlow.h"
#include "internal.h"
#include "tap.h"
#include "tmpdir.h"
#include "img_encode.h"
#include "badinput.h"

static bi_table bi;

#define OK_ BARLOW_OK
#define INVAL BARLOW_E_INVALID_ARG
#define IO BARLOW_E_IO
#define FMT BARLOW_E_FORMAT
#define STATE BARLOW_E_STATE
#define UNSUP BARLOW_E_UNSUPPORTED
#define CANCEL BARLOW_E_CANCELLED

#define CASE(fn, input, expect, needle) BI_CASE(&bi, fn, input, expect, needle)
#define BAD(call) BI_BAD(&bi, call)

/* The valid call on the section's handle that every case makes after its
 * bad call (NULL: no handle). Set per function. */
static int (*works_fn)(void);
#define WORKS() (bi_mark(&bi), bi.works = works_fn ? works_fn() : 1)

/* A case whose out-parameter is a handle: `o` starts as the sentinel and
 * must still be it; anything made by mistake is freed. */
#define MK(fn, input, expect, needle, T, FREE, ...)                      \
    CASE(fn, input, expect, needle) {                                    \
        T *o = BI_SENTINEL;                                              \
        BAD((__VA_ARGS__));                                              \
        bi.untouched = o == (T *)BI_SENTINEL;                            \
        if (o != (T *)BI_SENTINEL && o) FREE(o);                         \
        WORKS();                                                         \
    }

/* A case with no out-parameter worth checking (or checked by `cond`). */
#define PLAIN(fn, input, expect, needle, cond, ...)                      \
    CASE(fn, input, expect, needle) {                                    \
        BAD((__VA_ARGS__));                                              \
        bi.untouched = (cond);                                           \
        WORKS();                                                         \
    }

/* A case whose out-parameter is a barlow_buffer. */
#define BUF(fn, input, expect, needle, ...)                              \
    CASE(fn, input, expect, needle) {                                    \
        barlow_buffer o = {BI_SENTINEL, 12345};                          \
        BAD((__VA_ARGS__));                                              \
        bi.untouched = o.data == BI_SENTINEL && o.size == 12345;         \
        if (o.data != BI_SENTINEL) barlow_buffer_free(&o);               \
        WORKS();                                                         \
    }

/* ---- scratch files --------------------------------------------------------- */

/* A path in the scratch directory (32 rotating buffers). */
static const char *tp(const char *name)
{
    static char buf[32][600];
    static int k;
    k = (k + 1) % 32;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void put(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0)
        printf("# cannot write %s\n", path);
}

static void put_text(const char *path, const char *text) { put(path, text, strlen(text)); }

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    unsigned char *d = malloc(cap);
    size_t k;
    while (d && (k = fread(d + len, 1, cap - len, f)) > 0) {
        len += k;
        if (len == cap) d = realloc(d, cap *= 2);
    }
    fclose(f);
    *n = len;
    return d;
}

/* The first `keep` bytes of src (or all but the last -keep when negative). */
static void put_prefix(const char *dst, const char *src, long keep)
{
    size_t n = 0;
    unsigned char *d = slurp(src, &n);
    size_t k = keep >= 0 ? (size_t)keep : n - (size_t)(-keep);
    if (d && k <= n) put(dst, d, k);
    free(d);
}

static int file_is(const char *path, const char *text)
{
    size_t n = 0;
    unsigned char *d = slurp(path, &n);
    int same = d && n == strlen(text) && memcmp(d, text, n) == 0;
    free(d);
    return same;
}

static int exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

/* Entries named like the library's temporaries (".tmp-") in dir. */
static int temporaries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp-")) n++;
    if (d) closedir(d);
    return n;
}

static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (d) closedir(d);
    return d ? n : -1;
}

/* A .npy file's bytes: the magic, version major.0, the header dict padded to
 * a multiple of 64, then n data bytes. */
static unsigned char *npy_bytes(int major, const char *dict, const void *data, size_t n,
                                size_t *out_n)
{
    size_t pre = major == 1 ? 10 : 12, hl = strlen(dict) + 1;
    while ((pre + hl) % 64) hl++;
    unsigned char *b = calloc(1, pre + hl + n + 1);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = 0;
    if (major == 1) {
        b[8] = (unsigned char)hl;
        b[9] = (unsigned char)(hl >> 8);
    } else {
        enc_le32(b + 8, (uint32_t)hl);
    }
    memset(b + pre, ' ', hl);
    memcpy(b + pre, dict, strlen(dict));
    b[pre + hl - 1] = '\n';
    if (n) memcpy(b + pre + hl, data, n);
    *out_n = pre + hl + n;
    return b;
}

static void put_npy(const char *path, int major, const char *dict, const void *data, size_t n)
{
    size_t len = 0;
    unsigned char *b = npy_bytes(major, dict, data, n, &len);
    put(path, b, len);
    free(b);
}

/* A stored (uncompressed) zip archive, written by hand so that a case can
 * give it another compression method, the encryption flag or a wrong CRC. */
typedef struct zmember {
    const char *name;
    const void *data;
    size_t n;
} zmember;

static void le16(unsigned char *p, unsigned v) { enc_le16(p, v); }

static void put_zip(const char *path, const zmember *m, size_t k, unsigned method, unsigned flags,
                    uint32_t crc_xor)
{
    size_t cap = 1024;
    for (size_t i = 0; i < k; i++) cap += 2 * (strlen(m[i].name) + 100) + m[i].n;
    unsigned char *b = calloc(1, cap), *cd = calloc(1, cap);
    size_t len = 0, cdl = 0;
    for (size_t i = 0; i < k; i++) {
        uint32_t crc = (uint32_t)crc32(0, m[i].data, (uInt)m[i].n) ^ crc_xor;
        size_t nl = strlen(m[i].name), off = len;
        unsigned char *h = b + len;
        enc_le32(h, 0x04034b50);
        le16(h + 4, 20);
        le16(h + 6, flags);
        le16(h + 8, method);
        enc_le32(h + 14, crc);
        enc_le32(h + 18, (uint32_t)m[i].n);
        enc_le32(h + 22, (uint32_t)m[i].n);
        le16(h + 26, (unsigned)nl);
        memcpy(h + 30, m[i].name, nl);
        len += 30 + nl;
        memcpy(b + len, m[i].data, m[i].n);
        len += m[i].n;
        unsigned char *c = cd + cdl;
        enc_le32(c, 0x02014b50);
        le16(c + 4, 20);
        le16(c + 6, 20);
        le16(c + 8, flags);
        le16(c + 10, method);
        enc_le32(c + 16, crc);
        enc_le32(c + 20, (uint32_t)m[i].n);
        enc_le32(c + 24, (uint32_t)m[i].n);
        le16(c + 28, (unsigned)nl);
        enc_le32(c + 42, (uint32_t)off);
        memcpy(c + 46, m[i].name, nl);
        cdl += 46 + nl;
    }
    memcpy(b + len, cd, cdl);
    unsigned char *e = b + len + cdl;
    enc_le32(e, 0x06054b50);
    le16(e + 8, (unsigned)k);
    le16(e + 10, (unsigned)k);
    enc_le32(e + 12, (uint32_t)cdl);
    enc_le32(e + 16, (uint32_t)len);
    put(path, b, len + cdl + 22);
    free(b);
    free(cd);
}

/* ---- hostile inputs --------------------------------------------------------- */

/* One hostile file for a reader, with the status the reader's header gives. */
typedef struct hostile {
    const char *what, *path, *needle;
    barlow_status st;
} hostile;

enum { H_EMPTYPATH, H_MISSING, H_DIR, H_FIFO, H_DEVZERO, H_ZLINK, H_EMPTY, H_GARBAGE, H_TRUNC,
       H_UTF8, H_N };

/* The standard list: trunc and utf8 name the reader's own truncated and
 * invalid-UTF-8 files (NULL: not applicable). */
static size_t hostile_list(hostile *h, const char *trunc, const char *utf8)
{
    size_t n = 0;
    h[n++] = (hostile){"an empty path", "", "empty", INVAL};
    h[n++] = (hostile){"a missing file", tp("missing-file"), "missing-file", IO};
    h[n++] = (hostile){"a directory", tp("a-directory"), "a-directory", IO};
    h[n++] = (hostile){"a FIFO", tp("a-fifo"), "a-fifo", IO};
    h[n++] = (hostile){"/dev/zero", "/dev/zero", "/dev/zero", IO};
    h[n++] = (hostile){"a symlink to /dev/zero", tp("zero-link"), "zero-link", IO};
    h[n++] = (hostile){"an empty file", tp("empty-file"), "empty-file", FMT};
    h[n++] = (hostile){"garbage bytes", tp("garbage-bytes"), "garbage-bytes", FMT};
    if (trunc) h[n++] = (hostile){"a truncated file", tp(trunc), trunc, FMT};
    if (utf8) h[n++] = (hostile){"invalid UTF-8", tp(utf8), utf8, FMT};
    return n;
}

/* A reader under test: reads path, sets *untouched from its out-parameter
 * sentinels and frees whatever it made. */
typedef barlow_status (*rd_fn)(const char *path, int *untouched);

static void hostile_run(const char *fn, rd_fn rd, const hostile *h, size_t n, const char *arg)
{
    for (size_t i = 0; i < n; i++) {
        static char label[64][200];
        static int k;
        k = (k + 1) % 64;
        snprintf(label[k], sizeof label[k], "%s%s%s", arg ? arg : "", arg ? ": " : "",
                 h[i].what);
        CASE(fn, label[k], h[i].st, h[i].needle) {
            int u = 0;
            BAD(rd(h[i].path, &u));
            bi.untouched = u;
            WORKS();
        }
    }
}

static void hostile_inputs(const char *fn, rd_fn rd, const char *trunc, const char *utf8,
                           const char *arg)
{
    hostile h[H_N];
    size_t n = hostile_list(h, trunc, utf8);
    hostile_run(fn, rd, h, n, arg);
}

/* ---- hostile outputs --------------------------------------------------------- */

typedef barlow_status (*wr_fn)(const char *path);

static const char victim_text[] = "the file a symbolic link points to\n";
static const char older_text[] = "an older, complete file that a failed write must keep\n";

/* After a bad write: the writer (and the section's handle) still work. */
static int write_works(wr_fn w)
{
    const char *p = tp("out/valid");
    int ok = w(p) == BARLOW_OK && exists(p);
    remove(p);
    int h = works_fn ? works_fn() : 1;
    return ok && h && temporaries(tp("out")) == 0;
}

static int no_temporaries(void)
{
    return temporaries(tmpdir) == 0 && temporaries(tp("out")) == 0 && temporaries("/dev") == 0;
}

/* A writer under RLIMIT_FSIZE = 16 bytes (soft limit; SIGXFSZ ignored). */
static barlow_status write_limited(wr_fn w, const char *path)
{
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 16;
    signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &lim);
    barlow_status st = w(path);
    setrlimit(RLIMIT_FSIZE, &old);
    return st;
}

static const char *out_fn_needle; /* set for a writer of several calls */
#define OUT_CASE(fn, input, expect, needle) \
    CASE(fn, input, expect, needle) if ((bi.fn_needle = out_fn_needle ? out_fn_needle : fn), 1)

static void hostile_outputs(const char *fn, wr_fn w)
{
    OUT_CASE(fn, "NULL path", INVAL, "path") {
        BAD(w(NULL));
        bi.untouched = no_temporaries();
        bi_mark(&bi);
        bi.works = write_works(w);
    }
    OUT_CASE(fn, "empty path", INVAL, "path") {
        BAD(w(""));
        bi.untouched = no_temporaries();
        bi_mark(&bi);
        bi.works = write_works(w);
    }
    OUT_CASE(fn, "a missing directory", IO, "no-such-dir") {
        BAD(w(tp("no-such-dir/out.bin")));
        bi.untouched = !exists(tp("no-such-dir")) && no_temporaries();
        bi_mark(&bi);
        bi.works = write_works(w);
    }
    OUT_CASE(fn, "a path that is a directory", IO, "a-directory") {
        BAD(w(tp("a-directory")));
        struct stat sb;
        bi.untouched = stat(tp("a-directory"), &sb) == 0 && S_ISDIR(sb.st_mode) &&
                       dir_entries(tp("a-directory")) == 0 && no_temporaries();
        bi_mark(&bi);
        bi.works = write_works(w);
    }
    /* /dev/full as the target: refused, and the device left as it is
     * (skipped where there is no such device: as root the library would
     * then rightly create a regular file there) */
    struct stat full;
    if (stat("/dev/full", &full) == 0 && S_ISCHR(full.st_mode))
    OUT_CASE(fn, "/dev/full", IO, "/dev/full") {
        struct stat a, b;
        int had = stat("/dev/full", &a) == 0;
        BAD(w("/dev/full"));
        bi.untouched = had && stat("/dev/full", &b) == 0 && S_ISCHR(b.st_mode) &&
                       b.st_rdev == a.st_rdev && b.st_mode == a.st_mode &&
                       b.st_ino == a.st_ino && no_temporaries();
        bi_mark(&bi);
        bi.works = write_works(w);
    }
    OUT_CASE(fn, "a symbolic link at the target", IO, "out-link") {
        BAD(w(tp("out-link")));
        struct stat sb;
        bi.untouched = lstat(tp("out-link"), &sb) == 0 && S_ISLNK(sb.st_mode) &&
                       file_is(tp("link-victim"), victim_text) && no_temporaries();
        bi_mark(&bi);
        bi.works = write_works(w);
    }
    OUT_CASE(fn, "a FIFO at the target", IO, "a-fifo") {
        BAD(w(tp("a-fifo")));
        struct stat sb;
        bi.untouched = lstat(tp("a-fifo"), &sb) == 0 && S_ISFIFO(sb.st_mode) && no_temporaries();
        bi_mark(&bi);
        bi.works = write_works(w);
    }
    OUT_CASE(fn, "RLIMIT_FSIZE 16 bytes, no older file", IO, "fsize-new") {
        BAD(write_limited(w, tp("out/fsize-new")));
        bi.untouched = !exists(tp("out/fsize-new")) && no_temporaries();
        bi_mark(&bi);
        bi.works = write_works(w);
    }
    OUT_CASE(fn, "RLIMIT_FSIZE 16 bytes, an older file", IO, "fsize-old") {
        put_text(tp("out/fsize-old"), older_text);
        BAD(write_limited(w, tp("out/fsize-old")));
        bi.untouched = file_is(tp("out/fsize-old"), older_text) && no_temporaries();
        remove(tp("out/fsize-old"));
        bi_mark(&bi);
        bi.works = write_works(w);
    }
}

/* ---- fixtures, made once before the cases (children inherit them) ----------- */

enum { N = 40, D = 6 };

static struct {
    float x[N * D];
    uint8_t fail[N];
    int32_t labels[N], preds[N];
    barlow_matrix *F;      /* N x D */
    barlow_matrix *F5;     /* N x 5: a column count that differs */
    barlow_matrix *Fnan;   /* N x D with NaN at row 3, column 2 */
    barlow_matrix *Finf;   /* N x D with -inf at row 5, column 1 */
    barlow_matrix *F10;    /* 10 x D: a row count that differs */
    barlow_dataset *ds;    /* N rows, classes cat/dog/bird, predictions */
    barlow_dataset *ds_np; /* the same without predictions */
    barlow_dataset *ds_files; /* from a CSV: rows with image files */
    barlow_dataset *ds_idx;   /* from IDX: in-memory images */
    size_t files_bad;         /* rows of ds_files whose image fails the check */
    barlow_group *g, *g_np, *g_empty;
    barlow_array *a_ok, *a_frac, *a_nan, *a_big, *a_huge;
    barlow_selector *sel;
    barlow_tree *tree, *tree2;
    barlow_tree_eval *ev;
    barlow_analysis *an, *an_label, *part0, *part1, *an_k2;
    size_t an_groups;
    barlow_buffer tree_bytes, an_bytes;
    barlow_image *img, *img_long;
    barlow_npz_writer *w;     /* an open writer (its archive: out/writer.npz) */
    barlow_npz_writer *w_done; /* a committed one */
} fx;

static const char *const class_names[3] = {"cat", "dog", "bird"};

static void fixture_fail(const char *what)
{
    printf("# cannot make the fixture: %s: %s\n", what, barlow_last_error());
    TAP_SKIP_ALL("cannot make the fixtures");
}
#define FX(call, what) \
    do { if ((call) != BARLOW_OK) fixture_fail(what); } while (0)

/* A PNG of w x h RGB noise (seed s). */
static uint8_t *noise_png(size_t w, size_t h, unsigned s, size_t *n)
{
    uint8_t *px = malloc(w * h * 3);
    uint64_t r = s;
    for (size_t i = 0; i < w * h * 3; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        px[i] = (uint8_t)(r >> 56);
    }
    uint8_t *d = png_encode(w, h, 2, px, n);
    free(px);
    return d;
}

static void put_png(const char *path, size_t w, size_t h, unsigned s)
{
    size_t n = 0;
    uint8_t *d = noise_png(w, h, s, &n);
    put(path, d, n);
    free(d);
}

/* An IDX file: magic 0 0 type ndim, big-endian dims, then `n` data bytes. */
static void put_idx(const char *path, uint8_t type, const uint32_t *dims, int nd,
                    const uint8_t *data, size_t n)
{
    uint8_t *b = calloc(1, 4 + 4 * (size_t)nd + n + 1);
    b[2] = type;
    b[3] = (uint8_t)nd;
    for (int d = 0; d < nd; d++) enc_be32(b + 4 + 4 * d, dims[d]);
    if (n) memcpy(b + 4 + 4 * (size_t)nd, data, n);
    put(path, b, 4 + 4 * (size_t)nd + n);
    free(b);
}

/* A shard file written by hand (the extractor, which writes real ones,
 * needs libtorch): a stored .npz with the members "shard" (the metadata
 * JSON as 1-D uint8), "features" (rows x 4 float32) and "labels". */
static void put_shard(const char *path, size_t index, size_t count, size_t begin, size_t end,
                      const char *features_dtype_override)
{
    char meta[1024];
    snprintf(meta, sizeof meta,
             "{\"format\":\"barlow-features-shard\",\"format_version\":1,\"index\":%zu,"
             "\"count\":%zu,\"begin\":%zu,\"end\":%zu,\"dataset_rows\":6,\"extracted\":%zu,"
             "\"features\":4,\"logits\":0,\"model_sha256\":\"%s\",\"predict_sha256\":null,"
             "\"options\":\"input_size=28 resize=0 channels=1\"}",
             index, count, begin, end, end - begin,
             "abababababababababababababababababababababababababababababababab");
    char dict[200];
    snprintf(dict, sizeof dict, "{'descr': '|u1', 'fortran_order': False, 'shape': (%zu,), }",
             strlen(meta));
    size_t mn = 0, fn = 0, ln = 0;
    unsigned char *mb = npy_bytes(1, dict, meta, strlen(meta), &mn);
    float f[6 * 4];
    for (size_t i = 0; i < 24; i++) f[i] = (float)i * 0.25f;
    int64_t lab[6] = {0, 1, 2, 0, 1, 2};
    snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%zu, 4), }",
             features_dtype_override ? features_dtype_override : "<f4", end - begin);
    double f8[6 * 4];
    for (size_t i = 0; i < 24; i++) f8[i] = f[i];
    unsigned char *fb = features_dtype_override
                            ? npy_bytes(1, dict, f8 + begin * 4, (end - begin) * 32, &fn)
                            : npy_bytes(1, dict, f + begin * 4, (end - begin) * 16, &fn);
    snprintf(dict, sizeof dict, "{'descr': '<i8', 'fortran_order': False, 'shape': (%zu,), }",
             end - begin);
    unsigned char *lb = npy_bytes(1, dict, lab + begin, (end - begin) * 8, &ln);
    zmember m[3] = {{"shard.npy", mb, mn}, {"features.npy", fb, fn}, {"labels.npy", lb, ln}};
    put_zip(path, m, 3, 0, 0, 0);
    free(mb);
    free(fb);
    free(lb);
}

/* A string literal's bytes (without its NUL) as a file. */
#define PUTL(path, lit) put(path, lit, sizeof(lit) - 1)

static void make_files(void)
{
    mkdir(tp("a-directory"), 0755);
    mkdir(tp("out"), 0755);
    mkdir(tp("wdir"), 0755);
    if (mkfifo(tp("a-fifo"), 0600) != 0) TAP_SKIP_ALL("cannot make a FIFO");
    if (symlink("/dev/zero", tp("zero-link")) != 0) TAP_SKIP_ALL("cannot make a symlink");
    put_text(tp("link-victim"), victim_text);
    if (symlink(tp("link-victim"), tp("out-link")) != 0) TAP_SKIP_ALL("cannot make a symlink");
    put(tp("empty-file"), "", 0);
    unsigned char g[64];
    uint64_t r = 99;
    for (size_t i = 0; i < sizeof g; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        g[i] = (unsigned char)(r >> 56);
    }
    memcpy(g, "\xde\xad\xbe\xef", 4);
    put(tp("garbage-bytes"), g, sizeof g);

    /* .npy */
    FX(barlow_matrix_save_npy(fx.F, tp("good.npy")), "good.npy");
    put_prefix(tp("trunc.npy"), tp("good.npy"), -100);
    size_t n1 = N;
    FX(barlow_array_save_npy(BARLOW_DTYPE_INT32, 1, &n1, fx.labels, tp("labels.npy")), "labels");
    FX(barlow_array_save_npy(BARLOW_DTYPE_INT32, 1, &n1, fx.preds, tp("preds.npy")), "preds");
    size_t s2[2] = {8, 5};
    FX(barlow_array_save_npy(BARLOW_DTYPE_INT32, 2, s2, fx.labels, tp("labels-2d.npy")), "2d");
    size_t n10 = 10;
    FX(barlow_array_save_npy(BARLOW_DTYPE_INT32, 1, &n10, fx.labels, tp("labels-short.npy")),
       "short");
    int32_t neg[3] = {0, -1, 2};
    size_t n3 = 3;
    FX(barlow_array_save_npy(BARLOW_DTYPE_INT32, 1, &n3, neg, tp("labels-neg.npy")), "neg");
    double frac[3] = {0, 1.5, 2};
    FX(barlow_array_save_npy(BARLOW_DTYPE_FLOAT64, 1, &n3, frac, tp("labels-frac.npy")), "frac");
    int32_t three[3] = {0, 1, 2};
    FX(barlow_array_save_npy(BARLOW_DTYPE_INT32, 1, &n3, three, tp("labels-3.npy")), "3");
    float four[4] = {1, 2, 3, 4};
    put_npy(tp("big-endian.npy"), 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }",
            four, 16);
    put_npy(tp("3d.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 2), }",
            four, 16);
    put_npy(tp("lying.npy"), 1,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 6), }", four, 16);
    put_npy(tp("bad-magic.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
            four, 16);
    {
        size_t n = 0;
        unsigned char *b = slurp(tp("bad-magic.npy"), &n);
        b[1] = 'X';
        put(tp("bad-magic.npy"), b, n);
        free(b);
    }
    put_npy(tp("v9.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
            four, 16);
    {
        size_t n = 0;
        unsigned char *b = slurp(tp("v9.npy"), &n);
        b[6] = 9;
        put(tp("v9.npy"), b, n);
        free(b);
    }
    uint8_t bools[4] = {0, 1, 2, 1};
    put_npy(tp("bool2.npy"), 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (2, 2), }",
            bools, 4);
    put_npy(tp("scalar.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
            four, 4);
    put_npy(tp("zero-rows.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 6), }",
            four, 0);
    put_npy(tp("complex.npy"), 1, "{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }",
            four, 16);
    double big[2] = {1e300, 1};
    put_npy(tp("f64-big.npy"), 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1), }",
            big, 16);
    put_npy(tp("f64.npy"), 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1), }",
            frac, 16);
    put_npy(tp("fortran.npy"), 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
            four, 16);
    put_npy(tp("dims9.npy"), 1,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 1, 1), }",
            four, 4);
    put_npy(tp("bad-dict.npy"), 1, "{'descr': <f4', 'fortran_order': False, 'shape': (2, 2), }",
            four, 16);
    put_npy(tp("unknown-key.npy"), 1,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'evil': 1, }", four, 16);

    /* .npz */
    barlow_npz_writer *w = NULL;
    size_t shape2[2] = {N, D};
    FX(barlow_npz_writer_open(tp("good.npz"), &w), "npz open");
    FX(barlow_npz_writer_add(w, "features", BARLOW_DTYPE_FLOAT32, 2, shape2, fx.x), "npz add");
    FX(barlow_npz_writer_add(w, "labels", BARLOW_DTYPE_INT32, 1, &n1, fx.labels), "npz add");
    FX(barlow_npz_writer_add(w, "predictions", BARLOW_DTYPE_INT32, 1, &n1, fx.preds), "npz add");
    FX(barlow_npz_writer_commit(w), "npz commit");
    barlow_npz_writer_free(w);
    put_prefix(tp("trunc.npz"), tp("good.npz"), -30);
    size_t gn = 0;
    unsigned char *gb = npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
                                  four, 16, &gn);
    zmember zm = {"features.npy", gb, gn};
    put_zip(tp("bad-crc.npz"), &zm, 1, 0, 0, 0x1234);
    put_zip(tp("bzip2.npz"), &zm, 1, 12, 0, 0);
    put_zip(tp("encrypted.npz"), &zm, 1, 0, 1, 0);
    put_zip(tp("stored.npz"), &zm, 1, 0, 0, 0);
    free(gb);

    /* text: class names and CSV */
    put_text(tp("names.txt"), "cat\ndog\nbird\n");
    PUTL(tp("names-utf8.txt"), "cat\n\xff\xfe\nbird\n");
    put_text(tp("names-empty-line.txt"), "cat\n\ndog\nbird\n");
    PUTL(tp("names-nul.txt"), "cat\nd\0og\nbird\n");
    put_text(tp("names-short.txt"), "cat\ndog\n");
    put_text(tp("rows.csv"), "Filenames,Labels,Predictions,split\n"
                             "img0.png,cat,cat,train\n"
                             "img1.png,dog,cat,test\n"
                             "missing.png,bird,bird,train\n"
                             "garbage-bytes,cat,dog,test\n"
                             "a-fifo,dog,dog,train\n"
                             "/dev/zero,bird,cat,test\n"
                             "trunc.png,cat,cat,train\n"
                             "empty-file,dog,cat,test\n"
                             "zero-link,bird,bird,train\n"
                             "a-directory,cat,dog,test\n");
    put_text(tp("trunc.csv"), "Filenames,Labels,Predictions\na.png,cat,cat\nb.png,d");
    PUTL(tp("utf8.csv"), "Filenames,Labels\na.png,cat\nb.png,\xff\xfe\n");
    put_text(tp("header-only.csv"), "Filenames,Labels,Predictions\n");
    put_text(tp("no-labels.csv"), "Filenames,Predictions\na.png,cat\n");
    put_text(tp("two-labels.csv"), "Filenames,Labels,Labels\na.png,cat,dog\n");
    put_text(tp("open-quote.csv"), "Filenames,Labels\n\"a.png,cat\nb.png,dog\n");
    put_text(tp("after-quote.csv"), "Filenames,Labels\n\"a.png\"x,cat\n");
    put_text(tp("field-count.csv"), "Filenames,Labels\na.png,cat,extra\n");
    put_text(tp("empty-label.csv"), "Filenames,Labels\na.png,\n");
    put_text(tp("empty-filename.csv"), "Filenames,Labels\n,cat\n");
    PUTL(tp("nul.csv"), "Filenames,Labels\na.png,c\0at\n");
    put_text(tp("cow.csv"), "Filenames,Labels\na.png,cow\n");

    /* images */
    put_png(tp("img0.png"), 16, 12, 1);
    put_png(tp("img1.png"), 16, 12, 2);
    put_prefix(tp("trunc.png"), tp("img0.png"), 40);
    {
        uint8_t px[32 * 32 * 3];
        memset(px, 90, sizeof px);
        size_t n = 0;
        uint8_t *j = jpeg_encode(32, 32, 3, px, 90, 0, &n);
        put(tp("good.jpg"), j, n);
        put(tp("trunc.jpg"), j, n / 2);
        free(j);
        /* a PNG whose header says 100000 x 100000 (CRC fixed up) */
        uint8_t *p = noise_png(1, 1, 3, &n);
        enc_be32(p + 16, 100000);
        enc_be32(p + 20, 100000);
        enc_be32(p + 29, (uint32_t)crc32(0, p + 12, 17));
        put(tp("huge.png"), p, n);
        /* the same PNG with its image data damaged */
        enc_be32(p + 16, 1);
        enc_be32(p + 20, 1);
        enc_be32(p + 29, (uint32_t)crc32(0, p + 12, 17));
        for (size_t i = 41; i + 12 < n; i++) p[i] ^= 0x5a;
        put(tp("corrupt.png"), p, n);
        free(p);
    }
    PUTL(tp("image.gif"), "GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff");
    PUTL(tp("image.tif"), "II*\x00\x08\x00\x00\x00\x00\x00\x00\x00");
    PUTL(tp("image.webp"), "RIFF\x1a\x00\x00\x00WEBPVP8 \x0e\x00\x00\x00");

    /* IDX */
    uint8_t pix[6 * 4 * 5], lab[6] = {0, 1, 2, 0, 1, 2};
    for (size_t i = 0; i < sizeof pix; i++) pix[i] = (uint8_t)(i * 7);
    uint32_t dims[3] = {6, 4, 5}, ld = 6, ld5 = 5;
    put_idx(tp("images.idx"), 0x08, dims, 3, pix, sizeof pix);
    put_idx(tp("labels.idx"), 0x08, &ld, 1, lab, 6);
    put_prefix(tp("trunc.idx"), tp("images.idx"), -5);
    put_idx(tp("labels5.idx"), 0x08, &ld5, 1, lab, 5);
    {
        uint8_t bad[16] = {1, 2, 8, 3};
        put(tp("bad-magic.idx"), bad, 16);
        uint32_t d1[3] = {1, 1, 1};
        uint8_t f4[4] = {0};
        put_idx(tp("float.idx"), 0x0D, d1, 3, f4, 4);
        uint8_t extra[6 * 4 * 5 + 1] = {0};
        put_idx(tp("trailing.idx"), 0x08, dims, 3, extra, sizeof extra);
        uint32_t z[3] = {0, 4, 5};
        put_idx(tp("zero.idx"), 0x08, z, 3, NULL, 0);
        uint32_t h[3] = {1, 40000, 40000};
        put_idx(tp("big.idx"), 0x08, h, 3, NULL, 0);
        uint32_t c2[4] = {6, 4, 5, 2};
        put_idx(tp("channels2.idx"), 0x08, c2, 4, pix, sizeof pix);
        uint32_t d2[2] = {6, 20};
        put_idx(tp("2d.idx"), 0x08, d2, 2, pix, sizeof pix);
        PUTL(tp("bad.gz"), "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage-not-deflate");
    }

    /* image folders */
    mkdir(tp("folder"), 0755);
    mkdir(tp("folder/a"), 0755);
    mkdir(tp("folder/b"), 0755);
    put_png(tp("folder/a/x.png"), 4, 4, 5);
    put_png(tp("folder/b/y.png"), 4, 4, 6);
    mkdir(tp("folder-empty"), 0755);
    mkdir(tp("folder-noimg"), 0755);
    mkdir(tp("folder-noimg/a"), 0755);
    put_text(tp("folder-noimg/a/readme.txt"), "no image here\n");
    mkdir(tp("folder-files"), 0755);
    put_png(tp("folder-files/x.png"), 4, 4, 7);
    {
        char p[1200];
        snprintf(p, sizeof p, "%s/folder-deep", tmpdir);
        mkdir(p, 0755);
        strcat(p, "/a");
        mkdir(p, 0755);
        for (int d = 0; d < 70; d++) {
            strcat(p, "/d");
            mkdir(p, 0755);
        }
        strcat(p, "/x.png");
        put_png(p, 4, 4, 8);
    }
    mkdir(tp("folder-loop"), 0755);
    mkdir(tp("folder-loop/a"), 0755);
    put_png(tp("folder-loop/a/x.png"), 4, 4, 9);
    if (symlink(".", tp("folder-loop/a/loop")) != 0) TAP_SKIP_ALL("cannot make a symlink");

    /* the sharded store: shards made by hand, a manifest by barlow_shards_merge */
    put_shard(tp("s0.npz"), 0, 2, 0, 3, NULL);
    put_shard(tp("s1.npz"), 1, 2, 3, 6, NULL);
    put_shard(tp("s1-of-3.npz"), 1, 3, 3, 6, NULL);
    put_shard(tp("s1-f8.npz"), 1, 2, 3, 6, "<f8");
    const char *two[2] = {tp("s0.npz"), tp("s1.npz")};
    FX(barlow_shards_merge(two, 2, tp("manifest.json")), "the manifest");
    put_prefix(tp("manifest-trunc.json"), tp("manifest.json"), -40);
    {
        size_t n = 0;
        unsigned char *b = slurp(tp("manifest.json"), &n);
        char *t = strstr((char *)b, "input_size");
        if (t) t[0] = (char)0xff, t[1] = (char)0xfe;
        put(tp("manifest-utf8.json"), b, n);
        free(b);
    }
    const char *f8[2] = {tp("s0.npz"), tp("s1-f8.npz")};
    FX(barlow_shards_merge(f8, 2, tp("manifest-f8.json")), "the float64 manifest");
    put_text(tp("manifest-other.json"), "{\"format\": \"something-else\", \"format_version\": 1}");
    put_text(tp("manifest-array.json"), "[1, 2, 3]");
    put_text(tp("manifest-newer.json"),
             "{\"format\": \"barlow-features-manifest\", \"format_version\": 2, "
             "\"dataset_rows\": 6, \"extracted\": 6, \"features\": 4, \"logits\": 0, "
             "\"model_sha256\": \"abababababababababababababababababababababababababababababababab\","
             " \"predict_sha256\": null, \"options\": \"x\", \"shards\": []}");
    {
        /* a manifest whose second shard is missing, and one whose byte
         * count of the first is wrong */
        size_t n = 0;
        char *b = (char *)slurp(tp("manifest.json"), &n);
        char *s = strstr(b, "s1.npz");
        if (s) memcpy(s, "sX", 2);
        put(tp("manifest-missing-shard.json"), b, n);
        free(b);
        b = (char *)slurp(tp("manifest.json"), &n);
        s = strstr(b, "\"bytes\": ");
        if (s) s[9] = s[9] == '9' ? '1' : (char)(s[9] + 1);
        put(tp("manifest-bytes.json"), b, n);
        free(b);
    }
    {
        /* a shard whose "shard" member is not JSON, and one of uint16 */
        const char txt[] = "{\"format\": ";
        size_t mn = 0;
        unsigned char *mb = npy_bytes(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (11,), }",
                                      txt, 11, &mn);
        zmember m = {"shard.npy", mb, mn};
        put_zip(tp("shard-bad-json.npz"), &m, 1, 0, 0, 0);
        free(mb);
        uint16_t u[4] = {1, 2, 3, 4};
        mb = npy_bytes(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (4,), }", u, 8, &mn);
        m.data = mb;
        m.n = mn;
        put_zip(tp("shard-u16.npz"), &m, 1, 0, 0, 0);
        free(mb);
    }
    put_prefix(tp("shard-trunc.npz"), tp("s0.npz"), -50);
}

static int cancel_now(size_t done, size_t total, void *user)
{
    (void)done, (void)total, (void)user;
    return 1;
}

static void make_fixtures(void)
{
    uint64_t r = 7;
    for (size_t i = 0; i < N; i++) {
        fx.labels[i] = (int32_t)(i % 3);
        fx.fail[i] = i % 5 == 0 || i % 7 == 3;
        fx.preds[i] = fx.fail[i] ? (int32_t)((i + 1) % 3) : fx.labels[i];
        for (size_t j = 0; j < D; j++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            fx.x[i * D + j] = (float)(r >> 40) / 16777216.0f + (j == 2 ? 0.7f * fx.fail[i] : 0);
        }
    }
    FX(barlow_matrix_create_copy(fx.x, N, D, 0, &fx.F), "F");
    FX(barlow_matrix_create_copy(fx.x, N, 5, D, &fx.F5), "F5");
    FX(barlow_matrix_create_copy(fx.x, 10, D, 0, &fx.F10), "F10");
    FX(barlow_matrix_create_copy(fx.x, N, D, 0, &fx.Fnan), "Fnan");
    barlow_matrix_data_mut(fx.Fnan)[3 * D + 2] = NAN;
    FX(barlow_matrix_create_copy(fx.x, N, D, 0, &fx.Finf), "Finf");
    barlow_matrix_data_mut(fx.Finf)[5 * D + 1] = -INFINITY;
    FX(barlow_dataset_create(N, fx.labels, fx.preds, class_names, 3, &fx.ds), "ds");
    FX(barlow_dataset_create(N, fx.labels, NULL, class_names, 3, &fx.ds_np), "ds_np");
    FX(barlow_group_create(fx.ds, BARLOW_GROUP_BY_LABEL, 0, &fx.g), "g");
    FX(barlow_group_create(fx.ds_np, BARLOW_GROUP_BY_LABEL, 0, &fx.g_np), "g_np");
    FX(barlow_group_create_from_indices(fx.ds, NULL, 0, &fx.g_empty), "g_empty");
    barlow_selector_options so;
    barlow_selector_options_init(&so);
    so.threads = 1;
    FX(barlow_selector_create(&so, &fx.sel), "selector");
    double scores[D];
    FX(barlow_selector_score(fx.sel, fx.F, fx.fail, scores), "warm the selector's cache");
    barlow_tree_options to;
    barlow_tree_options_init(&to);
    to.max_depth = 2;
    FX(barlow_tree_fit(fx.F, fx.fail, NULL, 0, &to, &fx.tree), "tree");
    to.max_depth = 1;
    FX(barlow_tree_fit(fx.F, fx.fail, NULL, 0, &to, &fx.tree2), "tree2");
    FX(barlow_tree_evaluate(fx.tree, fx.F, fx.fail, &fx.ev), "eval");
    FX(barlow_tree_serialize(fx.tree, &fx.tree_bytes), "tree bytes");
    barlow_analysis_options ao;
    barlow_analysis_options_init(&ao);
    ao.k = 3;
    ao.threads = 1;
    int32_t depths[2] = {1, 2};
    ao.depths = depths;
    ao.n_depths = 2;
    FX(barlow_analysis_run(fx.F, fx.ds, &ao, NULL, NULL, &fx.an), "analysis");
    fx.an_groups = barlow_analysis_group_count(fx.an);
    FX(barlow_analysis_run_groups(fx.F, fx.ds, &ao, 0, 2, NULL, NULL, &fx.part0), "part 0");
    FX(barlow_analysis_run_groups(fx.F, fx.ds, &ao, 2, fx.an_groups - 2, NULL, NULL, &fx.part1),
       "part 1");
    ao.k = 2;
    FX(barlow_analysis_run_groups(fx.F, fx.ds, &ao, 2, fx.an_groups - 2, NULL, NULL, &fx.an_k2),
       "part 1 with k = 2");
    ao.k = 3;
    ao.groupings = BARLOW_ANALYSIS_BY_LABEL;
    FX(barlow_analysis_run(fx.F, fx.ds, &ao, NULL, NULL, &fx.an_label), "analysis by label");
    FX(barlow_analysis_serialize(fx.an, &fx.an_bytes), "analysis bytes");
    FX(barlow_image_create(16, 12, 3, &fx.img), "image");
    uint8_t *px = barlow_image_data_mut(fx.img);
    for (size_t i = 0; i < 16 * 12 * 3; i++) px[i] = (uint8_t)(i * 37);
    FX(barlow_image_create(300, 1, 1, &fx.img_long), "long image");
    size_t n1 = N;
    FX(barlow_array_save_npy(BARLOW_DTYPE_INT32, 1, &n1, fx.labels, tp("a-ok.npy")), "a_ok");
    FX(barlow_array_load_npy(tp("a-ok.npy"), &fx.a_ok), "a_ok");
    double frac[2] = {1, 2.5}, nan_[2] = {1, NAN}, huge[1] = {1e300};
    int64_t big[2] = {1, (int64_t)1 << 40};
    size_t n2 = 2, one = 1;
    FX(barlow_array_save_npy(BARLOW_DTYPE_FLOAT64, 1, &n2, frac, tp("a-frac.npy")), "a_frac");
    FX(barlow_array_load_npy(tp("a-frac.npy"), &fx.a_frac), "a_frac");
    FX(barlow_array_save_npy(BARLOW_DTYPE_FLOAT64, 1, &n2, nan_, tp("a-nan.npy")), "a_nan");
    FX(barlow_array_load_npy(tp("a-nan.npy"), &fx.a_nan), "a_nan");
    FX(barlow_array_save_npy(BARLOW_DTYPE_INT64, 1, &n2, big, tp("a-big.npy")), "a_big");
    FX(barlow_array_load_npy(tp("a-big.npy"), &fx.a_big), "a_big");
    FX(barlow_array_save_npy(BARLOW_DTYPE_FLOAT64, 1, &one, huge, tp("a-huge.npy")), "a_huge");
    FX(barlow_array_load_npy(tp("a-huge.npy"), &fx.a_huge), "a_huge");
}

/* Fixtures that need the files. */
static void make_file_fixtures(void)
{
    barlow_dataset_csv_options co;
    barlow_dataset_csv_options_init(&co);
    co.image_root = tmpdir;
    FX(barlow_dataset_load_csv(tp("rows.csv"), &co, &fx.ds_files), "ds_files");
    FX(barlow_dataset_check_images(fx.ds_files, NULL, NULL, &fx.files_bad, NULL), "check");
    /* all but img0, img1 and trunc.png (whose header is whole: the check
     * reads headers only) */
    if (fx.files_bad != 7) fixture_fail("7 of the CSV's 10 images should fail the check");
    FX(barlow_dataset_load_idx(tp("images.idx"), tp("labels.idx"), &fx.ds_idx), "ds_idx");
}

static void free_fixtures(void)
{
    barlow_matrix_free(fx.F);
    barlow_matrix_free(fx.F5);
    barlow_matrix_free(fx.Fnan);
    barlow_matrix_free(fx.Finf);
    barlow_matrix_free(fx.F10);
    barlow_dataset_free(fx.ds);
    barlow_dataset_free(fx.ds_np);
    barlow_dataset_free(fx.ds_files);
    barlow_dataset_free(fx.ds_idx);
    barlow_group_free(fx.g);
    barlow_group_free(fx.g_np);
    barlow_group_free(fx.g_empty);
    barlow_array_free(fx.a_ok);
    barlow_array_free(fx.a_frac);
    barlow_array_free(fx.a_nan);
    barlow_array_free(fx.a_big);
    barlow_array_free(fx.a_huge);
    barlow_selector_free(fx.sel);
    barlow_tree_free(fx.tree);
    barlow_tree_free(fx.tree2);
    barlow_tree_eval_free(fx.ev);
    barlow_analysis_free(fx.an);
    barlow_analysis_free(fx.an_label);
    barlow_analysis_free(fx.part0);
    barlow_analysis_free(fx.part1);
    barlow_analysis_free(fx.an_k2);
    barlow_buffer_free(&fx.tree_bytes);
    barlow_buffer_free(&fx.an_bytes);
    barlow_image_free(fx.img);
    barlow_image_free(fx.img_long);
}

/* ---- common.h ---------------------------------------------------------------- */

static barlow_status rd_file_read(const char *path, int *u)
{
    barlow_buffer b = {BI_SENTINEL, 7};
    barlow_status st = barlow_file_read(path, BARLOW_LIMIT_TEXT_BYTES, &b);
    *u = b.data == BI_SENTINEL && b.size == 7;
    if (b.data != BI_SENTINEL) barlow_buffer_free(&b);
    return st;
}

/* barlow_output_check as a "writer" (it writes nothing, so the hostile
 * targets must be refused; the RLIMIT cases do not apply). */
static int limit_untouched(void)
{
    return barlow_limit_get(BARLOW_LIMIT_TEXT_BYTES) == (uint64_t)1 << 30;
}

static void table_common(void)
{
    bi_begin(&bi, "common.h");
    works_fn = NULL;
    PLAIN("barlow_limit_set", "unknown limit 99", INVAL, "99", limit_untouched(),
          barlow_limit_set((barlow_limit)99, 5));
    PLAIN("barlow_limit_set", "limit -1", INVAL, "-1", limit_untouched(),
          barlow_limit_set((barlow_limit)-1, 5));
    PLAIN("barlow_limit_set", "value 0", INVAL, "0", limit_untouched(),
          barlow_limit_set(BARLOW_LIMIT_TEXT_BYTES, 0));

    BUF("barlow_file_read", "NULL path", INVAL, "path",
        barlow_file_read(NULL, BARLOW_LIMIT_TEXT_BYTES, &o));
    PLAIN("barlow_file_read", "NULL out", INVAL, "out", 1,
          barlow_file_read(tp("names.txt"), BARLOW_LIMIT_TEXT_BYTES, NULL));
    BUF("barlow_file_read", "unknown limit 42", INVAL, "42",
        barlow_file_read(tp("names.txt"), (barlow_limit)42, &o));
    BUF("barlow_file_read", "empty path", INVAL, "path",
        barlow_file_read("", BARLOW_LIMIT_TEXT_BYTES, &o));
    CASE("barlow_file_read", "over the limit", UNSUP, "BARLOW_LIMIT_TEXT_BYTES") {
        barlow_limit_set(BARLOW_LIMIT_TEXT_BYTES, 4);
        barlow_buffer o = {BI_SENTINEL, 12345};
        BAD(barlow_file_read(tp("names.txt"), BARLOW_LIMIT_TEXT_BYTES, &o));
        bi.untouched = o.data == BI_SENTINEL && o.size == 12345;
        barlow_limit_set(BARLOW_LIMIT_TEXT_BYTES, (uint64_t)1 << 30);
        WORKS();
    }
    {
        hostile h[H_N];
        hostile_list(h, NULL, NULL);
        /* an empty or garbage file is a valid read; "" is tested above */
        hostile_run("barlow_file_read", rd_file_read, h + H_MISSING, H_EMPTY - H_MISSING, NULL);
    }

    PLAIN("barlow_output_check", "NULL path", INVAL, "path", 1, barlow_output_check(NULL));
    PLAIN("barlow_output_check", "empty path", INVAL, "path", 1, barlow_output_check(""));
    PLAIN("barlow_output_check", "a missing directory", IO, "no-such-dir",
          !exists(tp("no-such-dir")), barlow_output_check(tp("no-such-dir/x")));
    PLAIN("barlow_output_check", "a directory", IO, "a-directory",
          dir_entries(tp("a-directory")) == 0, barlow_output_check(tp("a-directory")));
    struct stat full;
    if (stat("/dev/full", &full) == 0 && S_ISCHR(full.st_mode))
        PLAIN("barlow_output_check", "/dev/full", IO, "/dev/full", 1,
              barlow_output_check("/dev/full"));
    PLAIN("barlow_output_check", "a symbolic link", IO, "out-link",
          file_is(tp("link-victim"), victim_text), barlow_output_check(tp("out-link")));
    PLAIN("barlow_output_check", "a FIFO", IO, "a-fifo", 1, barlow_output_check(tp("a-fifo")));
    PLAIN("barlow_output_check", "a symlink to /dev/zero", IO, "zero-link", 1,
          barlow_output_check(tp("zero-link")));
    PLAIN("barlow_output_check", "a file in a regular file", IO, "names.txt", 1,
          barlow_output_check(tp("names.txt/x")));
    bi_end(&bi);
}

/* ---- matrix.h ---------------------------------------------------------------- */

static int matrix_works(void)
{
    size_t rows[2] = {1, 0};
    barlow_matrix *m = NULL;
    int ok = barlow_matrix_gather_rows(fx.F, rows, 2, &m) == BARLOW_OK &&
             barlow_matrix_check_finite(fx.F) == BARLOW_OK && barlow_matrix_rows(m) == 2;
    barlow_matrix_free(m);
    return ok;
}

#define RD_MATRIX(name, call)                                     \
    static barlow_status name(const char *path, int *u)           \
    {                                                             \
        barlow_matrix *m = BI_SENTINEL;                           \
        barlow_status st = (call);                                \
        *u = m == (barlow_matrix *)BI_SENTINEL;                   \
        if (m != BI_SENTINEL && m) barlow_matrix_free(m);         \
        return st;                                                \
    }
#define RD_ARRAY(name, call)                                      \
    static barlow_status name(const char *path, int *u)           \
    {                                                             \
        barlow_array *m = BI_SENTINEL;                            \
        barlow_status st = (call);                                \
        *u = m == (barlow_array *)BI_SENTINEL;                    \
        if (m != BI_SENTINEL && m) barlow_array_free(m);          \
        return st;                                                \
    }
RD_MATRIX(rd_m_npy, barlow_matrix_load_npy(path, &m))
RD_MATRIX(rd_m_map, barlow_matrix_map_npy(path, &m))
RD_MATRIX(rd_m_npz, barlow_matrix_load_npz(path, "features", &m))
RD_ARRAY(rd_a_npy, barlow_array_load_npy(path, &m))
RD_ARRAY(rd_a_npz, barlow_array_load_npz(path, "features", &m))

static barlow_status wr_matrix_npy(const char *path) { return barlow_matrix_save_npy(fx.F, path); }
static barlow_status wr_array_npy(const char *path)
{
    size_t shape[2] = {N, D};
    return barlow_array_save_npy(BARLOW_DTYPE_FLOAT32, 2, shape, fx.x, path);
}
/* The whole .npz writer: open, add, add, commit (the first failure). */
static barlow_status wr_npz(const char *path)
{
    barlow_npz_writer *w = NULL;
    size_t shape[2] = {N, D}, n = N;
    barlow_status st = barlow_npz_writer_open(path, &w);
    if (!st) st = barlow_npz_writer_add(w, "features", BARLOW_DTYPE_FLOAT32, 2, shape, fx.x);
    if (!st) st = barlow_npz_writer_add(w, "labels", BARLOW_DTYPE_INT32, 1, &n, fx.labels);
    if (!st) st = barlow_npz_writer_commit(w);
    barlow_npz_writer_free(w);
    return st;
}

/* Hostile .npy files that each .npy reader must refuse, with its status. */
typedef struct npy_case {
    const char *what, *file, *needle;
    barlow_status matrix, map, array; /* load_npy's, map_npy's, array_load_npy's */
} npy_case;

static const npy_case npy_cases[] = {
    {"big-endian", "big-endian.npy", "big-endian", UNSUP, UNSUP, UNSUP},
    {"3-D", "3d.npy", "3d.npy", UNSUP, UNSUP, OK_},
    {"a header larger than the data", "lying.npy", "lying.npy", FMT, FMT, FMT},
    {"bad magic", "bad-magic.npy", "bad-magic.npy", FMT, FMT, FMT},
    {"version 9", "v9.npy", "v9.npy", UNSUP, UNSUP, UNSUP},
    {"bool 2", "bool2.npy", "bool2.npy", FMT, UNSUP, OK_},
    {"0-d", "scalar.npy", "scalar.npy", UNSUP, UNSUP, OK_},
    {"no rows", "zero-rows.npy", "zero-rows.npy", UNSUP, UNSUP, OK_},
    {"complex64", "complex.npy", "complex.npy", UNSUP, UNSUP, UNSUP},
    {"float64 beyond float32", "f64-big.npy", "f64-big.npy", FMT, UNSUP, OK_},
    {"float64", "f64.npy", "f64.npy", OK_, UNSUP, OK_},
    {"Fortran order", "fortran.npy", "fortran.npy", OK_, UNSUP, OK_},
    {"9 dimensions", "dims9.npy", "dims9.npy", UNSUP, UNSUP, UNSUP},
    {"a broken header dict", "bad-dict.npy", "bad-dict.npy", FMT, FMT, FMT},
    {"an unknown header key", "unknown-key.npy", "unknown-key.npy", FMT, FMT, FMT},
};

static void npy_nonsense(const char *fn, rd_fn rd, int which)
{
    for (size_t i = 0; i < sizeof npy_cases / sizeof npy_cases[0]; i++) {
        const npy_case *c = &npy_cases[i];
        barlow_status want = which == 0 ? c->matrix : which == 1 ? c->map : c->array;
        if (want == OK_) continue; /* a valid input for this reader */
        CASE(fn, c->what, want, c->needle) {
            int u = 0;
            BAD(rd(tp(c->file), &u));
            bi.untouched = u;
            WORKS();
        }
    }
    if (which == 1) return; /* a mapping is not counted against the limit */
    CASE(fn, "over BARLOW_LIMIT_ARRAY_BYTES", UNSUP, "BARLOW_LIMIT_ARRAY_BYTES") {
        barlow_limit_set(BARLOW_LIMIT_ARRAY_BYTES, 64);
        int u = 0;
        BAD(rd(tp("good.npy"), &u));
        bi.untouched = u;
        barlow_limit_set(BARLOW_LIMIT_ARRAY_BYTES, (uint64_t)16 << 30);
        WORKS();
    }
}

static void npz_nonsense(const char *fn, rd_fn rd)
{
    static const struct {
        const char *what, *file;
        barlow_status st;
    } c[] = {{"a CRC mismatch", "bad-crc.npz", FMT},
             {"bzip2 compression", "bzip2.npz", UNSUP},
             {"encryption", "encrypted.npz", UNSUP},
             {"a .npy file, not a zip", "good.npy", FMT}};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        CASE(fn, c[i].what, c[i].st, c[i].file) {
            int u = 0;
            BAD(rd(tp(c[i].file), &u));
            bi.untouched = u;
            WORKS();
        }
}

/* The archive at name holds "dup" and, when k is 2, "ok" (and nothing else
 * that a failed add might have left). */
static int npz_members_are(const char *name, int k)
{
    barlow_array *a = NULL, *b = NULL, *c = NULL;
    int ok = barlow_array_load_npz(tp(name), "dup", &a) == OK_ &&
             (k == 1 || barlow_array_load_npz(tp(name), "ok", &b) == OK_) &&
             barlow_array_load_npz(tp(name), "v", &c) == INVAL;
    barlow_array_free(a);
    barlow_array_free(b);
    barlow_array_free(c);
    return ok;
}

static void table_matrix(void)
{
    bi_begin(&bi, "matrix.h");
    static float data[4] = {1, 2, 3, 4};
    const char *fn;
    works_fn = NULL;

    fn = "barlow_matrix_create";
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_matrix_create(2, 2, NULL));
    MK(fn, "rows 0", INVAL, "rows", barlow_matrix, barlow_matrix_free,
       barlow_matrix_create(0, 2, &o));
    MK(fn, "cols 0", INVAL, "cols", barlow_matrix, barlow_matrix_free,
       barlow_matrix_create(2, 0, &o));
    MK(fn, "rows*cols overflows", INVAL, "overflow", barlow_matrix, barlow_matrix_free,
       barlow_matrix_create(SIZE_MAX / 2, 3, &o));
    MK(fn, "rows*cols*4 overflows", INVAL, "overflow", barlow_matrix, barlow_matrix_free,
       barlow_matrix_create(SIZE_MAX / 4 + 1, 1, &o));

    fn = "barlow_matrix_create_copy";
    MK(fn, "NULL data", INVAL, "data", barlow_matrix, barlow_matrix_free,
       barlow_matrix_create_copy(NULL, 2, 2, 0, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_matrix_create_copy(data, 2, 2, 0, NULL));
    MK(fn, "rows 0", INVAL, "rows", barlow_matrix, barlow_matrix_free,
       barlow_matrix_create_copy(data, 0, 2, 0, &o));
    MK(fn, "cols 0", INVAL, "cols", barlow_matrix, barlow_matrix_free,
       barlow_matrix_create_copy(data, 2, 0, 0, &o));
    MK(fn, "stride < cols", INVAL, "stride", barlow_matrix, barlow_matrix_free,
       barlow_matrix_create_copy(data, 2, 2, 1, &o));
    MK(fn, "rows*stride overflows", INVAL, "overflow", barlow_matrix, barlow_matrix_free,
       barlow_matrix_create_copy(data, SIZE_MAX / 2, 2, 4, &o));

    fn = "barlow_matrix_wrap";
    MK(fn, "NULL data", INVAL, "data", barlow_matrix, barlow_matrix_free,
       barlow_matrix_wrap(NULL, 2, 2, 0, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_matrix_wrap(data, 2, 2, 0, NULL));
    MK(fn, "rows 0", INVAL, "rows", barlow_matrix, barlow_matrix_free,
       barlow_matrix_wrap(data, 0, 2, 0, &o));
    MK(fn, "cols 0", INVAL, "cols", barlow_matrix, barlow_matrix_free,
       barlow_matrix_wrap(data, 2, 0, 0, &o));
    MK(fn, "stride < cols", INVAL, "stride", barlow_matrix, barlow_matrix_free,
       barlow_matrix_wrap(data, 2, 2, 1, &o));
    MK(fn, "rows*stride overflows", INVAL, "overflow", barlow_matrix, barlow_matrix_free,
       barlow_matrix_wrap(data, SIZE_MAX / 2, 2, 4, &o));

    works_fn = matrix_works;
    fn = "barlow_matrix_check_finite";
    PLAIN(fn, "NULL m", INVAL, "NULL", 1, barlow_matrix_check_finite(NULL));
    PLAIN(fn, "NaN at row 3, column 2", INVAL, "row 3, column 2", 1, barlow_matrix_check_finite(fx.Fnan));
    PLAIN(fn, "-inf at row 5, column 1", INVAL, "row 5, column 1", 1, barlow_matrix_check_finite(fx.Finf));
    CASE(fn, "+inf (a wrapped matrix)", INVAL, "inf") {
        float v[4] = {1, 2, INFINITY, 4};
        barlow_matrix *m = NULL;
        barlow_matrix_wrap(v, 2, 2, 0, &m);
        BAD(barlow_matrix_check_finite(m));
        bi.untouched = v[2] == INFINITY;
        barlow_matrix_free(m);
        WORKS();
    }

    fn = "barlow_matrix_gather_rows";
    size_t rows[2] = {0, 1}, bad_rows[2] = {0, N};
    MK(fn, "NULL m", INVAL, "NULL", barlow_matrix, barlow_matrix_free,
       barlow_matrix_gather_rows(NULL, rows, 2, &o));
    MK(fn, "NULL row_idx", INVAL, "row_idx", barlow_matrix, barlow_matrix_free,
       barlow_matrix_gather_rows(fx.F, NULL, 2, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_matrix_gather_rows(fx.F, rows, 2, NULL));
    MK(fn, "n_rows 0", INVAL, "n_rows", barlow_matrix, barlow_matrix_free,
       barlow_matrix_gather_rows(fx.F, rows, 0, &o));
    MK(fn, "an index = rows", INVAL, "40", barlow_matrix, barlow_matrix_free,
       barlow_matrix_gather_rows(fx.F, bad_rows, 2, &o));
    static size_t huge_row[1] = {SIZE_MAX};
    MK(fn, "index SIZE_MAX", INVAL, "18446744073709551615", barlow_matrix, barlow_matrix_free,
       barlow_matrix_gather_rows(fx.F, huge_row, 1, &o));

    works_fn = NULL;
    fn = "barlow_matrix_load_npy";
    MK(fn, "NULL path", INVAL, "path", barlow_matrix, barlow_matrix_free,
       barlow_matrix_load_npy(NULL, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_matrix_load_npy(tp("good.npy"), NULL));
    hostile_inputs(fn, rd_m_npy, "trunc.npy", NULL, NULL);
    npy_nonsense(fn, rd_m_npy, 0);

    fn = "barlow_matrix_map_npy";
    MK(fn, "NULL path", INVAL, "path", barlow_matrix, barlow_matrix_free,
       barlow_matrix_map_npy(NULL, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_matrix_map_npy(tp("good.npy"), NULL));
    hostile_inputs(fn, rd_m_map, "trunc.npy", NULL, NULL);
    npy_nonsense(fn, rd_m_map, 1);

    fn = "barlow_matrix_load_npz";
    MK(fn, "NULL path", INVAL, "path", barlow_matrix, barlow_matrix_free,
       barlow_matrix_load_npz(NULL, "features", &o));
    MK(fn, "NULL name", INVAL, "name", barlow_matrix, barlow_matrix_free,
       barlow_matrix_load_npz(tp("good.npz"), NULL, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1,
          barlow_matrix_load_npz(tp("good.npz"), "features", NULL));
    MK(fn, "empty name", INVAL, "features", barlow_matrix, barlow_matrix_free,
       barlow_matrix_load_npz(tp("good.npz"), "", &o));
    MK(fn, "no such member", INVAL, "features", barlow_matrix, barlow_matrix_free,
       barlow_matrix_load_npz(tp("good.npz"), "nothing", &o));
    hostile_inputs(fn, rd_m_npz, "trunc.npz", NULL, NULL);
    npz_nonsense(fn, rd_m_npz);

    works_fn = matrix_works;
    fn = "barlow_matrix_save_npy";
    PLAIN(fn, "NULL m", INVAL, "NULL", !exists(tp("out/m.npy")),
          barlow_matrix_save_npy(NULL, tp("out/m.npy")));
    hostile_outputs(fn, wr_matrix_npy);

    works_fn = NULL;
    fn = "barlow_array_load_npy";
    MK(fn, "NULL path", INVAL, "path", barlow_array, barlow_array_free,
       barlow_array_load_npy(NULL, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_array_load_npy(tp("good.npy"), NULL));
    hostile_inputs(fn, rd_a_npy, "trunc.npy", NULL, NULL);
    npy_nonsense(fn, rd_a_npy, 2);

    fn = "barlow_array_load_npz";
    MK(fn, "NULL path", INVAL, "path", barlow_array, barlow_array_free,
       barlow_array_load_npz(NULL, "labels", &o));
    MK(fn, "NULL name", INVAL, "name", barlow_array, barlow_array_free,
       barlow_array_load_npz(tp("good.npz"), NULL, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_array_load_npz(tp("good.npz"), "labels", NULL));
    MK(fn, "no such member", INVAL, "labels", barlow_array, barlow_array_free,
       barlow_array_load_npz(tp("good.npz"), "nothing.npy", &o));
    hostile_inputs(fn, rd_a_npz, "trunc.npz", NULL, NULL);
    npz_nonsense(fn, rd_a_npz);

    fn = "barlow_array_to_int32";
    {
        int32_t out[N];
#define I32_UNTOUCHED (out[0] == 77 && out[1] == 77)
#define I32_CASE(input, expect, needle, a, o)                                 \
    CASE(fn, input, expect, needle) {                                         \
        out[0] = out[1] = 77;                                                 \
        BAD(barlow_array_to_int32(a, o));                                     \
        bi.untouched = I32_UNTOUCHED;                                         \
        WORKS();                                                              \
    }
        I32_CASE("NULL a", INVAL, "NULL", NULL, out);
        I32_CASE("NULL out", INVAL, "out", fx.a_ok, NULL);
        I32_CASE("a fraction (2.5 at index 1)", FMT, "element 1", fx.a_frac, out);
        I32_CASE("NaN at index 1", FMT, "element 1", fx.a_nan, out);
        I32_CASE("2^40 at index 1", FMT, "element 1", fx.a_big, out);
    }
    fn = "barlow_array_to_float32";
    {
        float out[N];
#define F32_CASE(input, expect, needle, a, o)                                 \
    CASE(fn, input, expect, needle) {                                         \
        out[0] = 77;                                                          \
        BAD(barlow_array_to_float32(a, o));                                   \
        bi.untouched = out[0] == 77;                                          \
        WORKS();                                                              \
    }
        F32_CASE("NULL a", INVAL, "NULL", NULL, out);
        F32_CASE("NULL out", INVAL, "out", fx.a_ok, NULL);
        F32_CASE("1e300 at index 0", FMT, "element 0", fx.a_huge, out);
    }

    fn = "barlow_array_save_npy";
    {
        size_t shape[2] = {N, D}, over[2] = {SIZE_MAX / 2, 4}, nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
        PLAIN(fn, "unknown dtype 99", INVAL, "99", !exists(tp("out/a.npy")),
              barlow_array_save_npy((barlow_dtype)99, 2, shape, fx.x, tp("out/a.npy")));
        PLAIN(fn, "dtype -1", INVAL, "-1", !exists(tp("out/a.npy")),
              barlow_array_save_npy((barlow_dtype)-1, 2, shape, fx.x, tp("out/a.npy")));
        PLAIN(fn, "ndim 9", INVAL, "9", !exists(tp("out/a.npy")),
              barlow_array_save_npy(BARLOW_DTYPE_FLOAT32, 9, nine, fx.x, tp("out/a.npy")));
        PLAIN(fn, "NULL shape with ndim 2", INVAL, "shape", !exists(tp("out/a.npy")),
              barlow_array_save_npy(BARLOW_DTYPE_FLOAT32, 2, NULL, fx.x, tp("out/a.npy")));
        PLAIN(fn, "NULL data with 240 elements", INVAL, "data", !exists(tp("out/a.npy")),
              barlow_array_save_npy(BARLOW_DTYPE_FLOAT32, 2, shape, NULL, tp("out/a.npy")));
        PLAIN(fn, "a size that overflows", INVAL, "overflow", !exists(tp("out/a.npy")),
              barlow_array_save_npy(BARLOW_DTYPE_FLOAT32, 2, over, fx.x, tp("out/a.npy")));
        hostile_outputs(fn, wr_array_npy);
    }

    fn = "barlow_npz_writer_open";
    MK(fn, "NULL path", INVAL, "path", barlow_npz_writer, barlow_npz_writer_free,
       barlow_npz_writer_open(NULL, &o));
    PLAIN(fn, "NULL out", INVAL, "out", !exists(tp("out/w.npz")) && no_temporaries(),
          barlow_npz_writer_open(tp("out/w.npz"), NULL));
    out_fn_needle = "barlow_npz_writer_"; /* open, add or commit fails */
    hostile_outputs("barlow_npz_writer_open", wr_npz);
    out_fn_needle = NULL;

    /* Each case opens its own writer: a writer made before fork would share
     * its file offset with every child. The archive holds "dup" before the
     * bad call; the valid calls after it add "ok", commit and read both. */
    fn = "barlow_npz_writer_add";
    {
        static size_t n = 3, nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, over[2] = {SIZE_MAX / 2, 4};
        static int32_t v[3] = {1, 2, 3};
#define ADD_CASE(input, expect, needle, ...)                                   \
    CASE(fn, input, expect, needle) {                                          \
        barlow_npz_writer *w = NULL;                                           \
        if (barlow_npz_writer_open(tp("wdir/add.npz"), &w) == OK_)             \
            barlow_npz_writer_add(w, "dup", BARLOW_DTYPE_INT32, 1, &n, v);     \
        BAD((__VA_ARGS__));                                                    \
        int ok = barlow_npz_writer_add(w, "ok", BARLOW_DTYPE_INT32, 1, &n, v) == OK_ && \
                 barlow_npz_writer_commit(w) == OK_;                           \
        barlow_npz_writer_free(w);                                             \
        bi.untouched = bi.works = ok && npz_members_are("wdir/add.npz", 2);    \
        remove(tp("wdir/add.npz"));                                            \
    }
        ADD_CASE("NULL w", INVAL, "NULL",
                 barlow_npz_writer_add(NULL, "v", BARLOW_DTYPE_INT32, 1, &n, v));
        ADD_CASE("NULL name", INVAL, "name",
                 barlow_npz_writer_add(w, NULL, BARLOW_DTYPE_INT32, 1, &n, v));
        ADD_CASE("empty name", INVAL, "name",
                 barlow_npz_writer_add(w, "", BARLOW_DTYPE_INT32, 1, &n, v));
        ADD_CASE("unknown dtype 99", INVAL, "99",
                 barlow_npz_writer_add(w, "v", (barlow_dtype)99, 1, &n, v));
        ADD_CASE("dtype -1", INVAL, "-1",
                 barlow_npz_writer_add(w, "v", (barlow_dtype)-1, 1, &n, v));
        ADD_CASE("ndim 9", INVAL, "9",
                 barlow_npz_writer_add(w, "v", BARLOW_DTYPE_INT32, 9, nine, v));
        ADD_CASE("NULL shape with ndim 1", INVAL, "shape",
                 barlow_npz_writer_add(w, "v", BARLOW_DTYPE_INT32, 1, NULL, v));
        ADD_CASE("NULL data with 3 elements", INVAL, "data",
                 barlow_npz_writer_add(w, "v", BARLOW_DTYPE_INT32, 1, &n, NULL));
        ADD_CASE("a size that overflows", INVAL, "overflow",
                 barlow_npz_writer_add(w, "v", BARLOW_DTYPE_INT32, 2, over, v));
        ADD_CASE("a duplicate name", INVAL, "dup",
                 barlow_npz_writer_add(w, "dup.npy", BARLOW_DTYPE_INT32, 1, &n, v));
        CASE(fn, "after commit", STATE, "commit") {
            barlow_npz_writer *w = NULL;
            barlow_npz_writer_open(tp("wdir/late.npz"), &w);
            barlow_npz_writer_add(w, "dup", BARLOW_DTYPE_INT32, 1, &n, v);
            barlow_npz_writer_commit(w);
            BAD(barlow_npz_writer_add(w, "late", BARLOW_DTYPE_INT32, 1, &n, v));
            barlow_npz_writer_free(w);
            bi.untouched = bi.works = npz_members_are("wdir/late.npz", 1);
            remove(tp("wdir/late.npz"));
        }
    }
    fn = "barlow_npz_writer_commit";
    PLAIN(fn, "NULL w", INVAL, "NULL", 1, barlow_npz_writer_commit(NULL));
    CASE(fn, "committed twice", STATE, "commit") {
        static size_t n = 3;
        static int32_t v[3] = {1, 2, 3};
        barlow_npz_writer *w = NULL;
        barlow_npz_writer_open(tp("wdir/twice.npz"), &w);
        barlow_npz_writer_add(w, "dup", BARLOW_DTYPE_INT32, 1, &n, v);
        barlow_npz_writer_commit(w);
        BAD(barlow_npz_writer_commit(w));
        barlow_npz_writer_free(w);
        bi.untouched = bi.works = npz_members_are("wdir/twice.npz", 1);
        remove(tp("wdir/twice.npz"));
    }
    bi_end(&bi);
}

/* ---- dataset.h ---------------------------------------------------------------- */

static int ds_works(void)
{
    barlow_group *g = NULL;
    int32_t id = -1;
    int ok = barlow_group_create(fx.ds, BARLOW_GROUP_BY_PREDICTION, 1, &g) == BARLOW_OK &&
             barlow_dataset_class_id(fx.ds, "bird", &id) == BARLOW_OK && id == 2 &&
             barlow_dataset_size(fx.ds) == N && barlow_dataset_class_count(fx.ds) == 3 &&
             strcmp(barlow_dataset_class_name(fx.ds, 1), "dog") == 0;
    barlow_group_free(g);
    return ok;
}

static int ds_np_works(void)
{
    barlow_group *g = NULL;
    int ok = barlow_group_create(fx.ds_np, BARLOW_GROUP_BY_LABEL, 1, &g) == BARLOW_OK &&
             !barlow_dataset_has_predictions(fx.ds_np);
    barlow_group_free(g);
    return ok;
}

static int ds_files_works(void)
{
    barlow_buffer b = {0};
    int ok = barlow_dataset_image_path(fx.ds_files, 0, &b) == BARLOW_OK && b.size > 0;
    barlow_buffer_free(&b);
    return ok;
}

static int g_works(void)
{
    size_t n = 0;
    double ber = -1;
    uint8_t f[N];
    barlow_matrix *m = NULL;
    int ok = barlow_group_failure_count(fx.g, &n) == BARLOW_OK &&
             barlow_group_base_error_rate(fx.g, &ber) == BARLOW_OK &&
             barlow_group_failures(fx.g, f) == BARLOW_OK &&
             barlow_group_gather_rows(fx.g, fx.F, &m) == BARLOW_OK;
    barlow_matrix_free(m);
    return ok;
}

static int g_np_works(void)
{
    return barlow_group_size(fx.g_np) == 14 && !barlow_group_has_predictions(fx.g_np);
}

/* The dataset's labels, predictions and names as they were. */
static int ds_unchanged(void)
{
    const int32_t *p = barlow_dataset_predictions(fx.ds);
    return p && memcmp(p, fx.preds, sizeof fx.preds) == 0 &&
           memcmp(barlow_dataset_labels(fx.ds), fx.labels, sizeof fx.labels) == 0 &&
           barlow_dataset_class_count(fx.ds) == 3 &&
           strcmp(barlow_dataset_class_name(fx.ds, 2), "bird") == 0;
}

#define RD_DS(name, call)                                         \
    static barlow_status name(const char *path, int *u)           \
    {                                                             \
        barlow_dataset *o = BI_SENTINEL;                          \
        barlow_status st = (call);                                \
        *u = o == (barlow_dataset *)BI_SENTINEL;                  \
        if (o != BI_SENTINEL && o) barlow_dataset_free(o);        \
        return st;                                                \
    }
RD_DS(rd_npy_labels, barlow_dataset_load_npy(path, NULL, NULL, &o))
RD_DS(rd_npy_preds, barlow_dataset_load_npy(tp("labels.npy"), path, NULL, &o))
RD_DS(rd_npy_names, barlow_dataset_load_npy(tp("labels-3.npy"), NULL, path, &o))
RD_DS(rd_csv, barlow_dataset_load_csv(path, NULL, &o))
static barlow_status rd_csv_names(const char *path, int *u)
{
    barlow_dataset_csv_options co;
    barlow_dataset_csv_options_init(&co);
    co.class_names_path = path;
    barlow_dataset *o = BI_SENTINEL;
    barlow_status st = barlow_dataset_load_csv(tp("rows.csv"), &co, &o);
    *u = o == (barlow_dataset *)BI_SENTINEL;
    if (o != BI_SENTINEL && o) barlow_dataset_free(o);
    return st;
}
static barlow_status rd_set_names(const char *path, int *u)
{
    barlow_status st = barlow_dataset_set_class_names_file(fx.ds, path);
    *u = ds_unchanged();
    return st;
}
RD_DS(rd_idx_images, barlow_dataset_load_idx(path, tp("labels.idx"), &o))
RD_DS(rd_idx_labels, barlow_dataset_load_idx(tp("images.idx"), path, &o))
RD_DS(rd_folder, barlow_dataset_load_folder(path, &o))

static void table_dataset(void)
{
    bi_begin(&bi, "dataset.h");
    const char *fn;
    static int32_t neg[N], big[N], preds_bad[N];
    memcpy(neg, fx.labels, sizeof neg);
    neg[7] = -1;
    memcpy(big, fx.labels, sizeof big);
    big[9] = 3;
    memcpy(preds_bad, fx.preds, sizeof preds_bad);
    preds_bad[11] = 7;
    static const char *const null_name[3] = {"cat", NULL, "bird"};
    static const char *const empty_name[3] = {"cat", "", "bird"};
    static const char *const bad_utf8[3] = {"cat", "d\xc3og", "bird"};
    static const char *const overlong[3] = {"cat", "\xc0\xaf", "bird"};
    static const char *const surrogate[3] = {"cat", "\xed\xa0\x80", "bird"};
    static int32_t huge_id[1] = {16777216};

    works_fn = NULL;
    fn = "barlow_dataset_create";
#define DSC(input, expect, needle, ...) \
    MK(fn, input, expect, needle, barlow_dataset, barlow_dataset_free, __VA_ARGS__)
    PLAIN(fn, "NULL out", INVAL, "out", 1,
          barlow_dataset_create(N, fx.labels, fx.preds, class_names, 3, NULL));
    DSC("NULL labels", INVAL, "labels", barlow_dataset_create(N, NULL, NULL, NULL, 0, &o));
    DSC("n 0", INVAL, "n", barlow_dataset_create(0, fx.labels, NULL, NULL, 0, &o));
    DSC("class_names with n_classes 0", INVAL, "n_classes",
        barlow_dataset_create(N, fx.labels, NULL, class_names, 0, &o));
    DSC("a NULL class name", INVAL, "1", barlow_dataset_create(N, fx.labels, NULL, null_name, 3, &o));
    DSC("an empty class name", INVAL, "1",
        barlow_dataset_create(N, fx.labels, NULL, empty_name, 3, &o));
    DSC("a class name that is not UTF-8", INVAL, "UTF-8",
        barlow_dataset_create(N, fx.labels, NULL, bad_utf8, 3, &o));
    DSC("an overlong UTF-8 sequence", INVAL, "UTF-8",
        barlow_dataset_create(N, fx.labels, NULL, overlong, 3, &o));
    DSC("a UTF-16 surrogate in UTF-8", INVAL, "UTF-8",
        barlow_dataset_create(N, fx.labels, NULL, surrogate, 3, &o));
    DSC("a label -1", INVAL, "-1", barlow_dataset_create(N, neg, NULL, class_names, 3, &o));
    DSC("a label = n_classes", INVAL, "labels", barlow_dataset_create(N, big, NULL, NULL, 3, &o));
    DSC("a prediction out of range", INVAL, "predictions",
        barlow_dataset_create(N, fx.labels, preds_bad, class_names, 3, &o));
    DSC("a label of 16777216 without names", INVAL, "16777216",
        barlow_dataset_create(1, huge_id, NULL, NULL, 0, &o));
    DSC("n_classes 16777217 without names", INVAL, "16777216",
        barlow_dataset_create(N, fx.labels, NULL, NULL, 16777217, &o));

    fn = "barlow_dataset_load_npy";
    PLAIN(fn, "NULL out", INVAL, "out", 1,
          barlow_dataset_load_npy(tp("labels.npy"), NULL, NULL, NULL));
    DSC("NULL labels_path", INVAL, "labels", barlow_dataset_load_npy(NULL, NULL, NULL, &o));
    hostile_inputs(fn, rd_npy_labels, "trunc.npy", NULL, "labels_path");
    hostile_inputs(fn, rd_npy_preds, "trunc.npy", NULL, "predictions_path");
    {
        hostile h[H_N];
        size_t n = hostile_list(h, NULL, "names-utf8.txt");
        hostile_run(fn, rd_npy_names, h, n, "class_names_path");
    }
    DSC("2-D labels", INVAL, "labels-2d.npy",
        barlow_dataset_load_npy(tp("labels-2d.npy"), NULL, NULL, &o));
    DSC("lengths that differ", INVAL, "labels-short.npy",
        barlow_dataset_load_npy(tp("labels.npy"), tp("labels-short.npy"), NULL, &o));
    DSC("a label -1", INVAL, "-1", barlow_dataset_load_npy(tp("labels-neg.npy"), NULL, NULL, &o));
    DSC("a label 1.5", FMT, "labels-frac.npy",
        barlow_dataset_load_npy(tp("labels-frac.npy"), NULL, NULL, &o));
    DSC("complex labels", UNSUP, "complex.npy",
        barlow_dataset_load_npy(tp("complex.npy"), NULL, NULL, &o));
    DSC("names: an empty line", FMT, "line 2",
        barlow_dataset_load_npy(tp("labels-3.npy"), NULL, tp("names-empty-line.txt"), &o));
    DSC("names: a NUL byte", FMT, "line 2",
        barlow_dataset_load_npy(tp("labels-3.npy"), NULL, tp("names-nul.txt"), &o));
    DSC("names: fewer than the ids", INVAL, "(0..1)",
        barlow_dataset_load_npy(tp("labels-3.npy"), NULL, tp("names-short.txt"), &o));
    DSC("an .npz member that is not there", INVAL, "nothing",
        barlow_dataset_load_npy(tp("good.npz:nothing"), NULL, NULL, &o));
    DSC("an .npz archive that is not there", IO, "missing.npz",
        barlow_dataset_load_npy(tp("missing.npz:labels"), NULL, NULL, &o));
    DSC("a 2-D .npz member as labels", INVAL, "1-D",
        barlow_dataset_load_npy(tp("good.npz:features"), NULL, NULL, &o));

    fn = "barlow_dataset_load_csv";
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_dataset_load_csv(tp("rows.csv"), NULL, NULL));
    DSC("NULL path", INVAL, "path", barlow_dataset_load_csv(NULL, NULL, &o));
    {
        static barlow_dataset_csv_options v0, v999, both, nul, empty, utf8;
        barlow_dataset_csv_options_init(&v0);
        v0.version = 0;
        barlow_dataset_csv_options_init(&v999);
        v999.version = 999;
        barlow_dataset_csv_options_init(&both);
        both.class_names = class_names;
        both.n_class_names = 3;
        both.class_names_path = tp("names.txt");
        barlow_dataset_csv_options_init(&nul);
        nul.class_names = null_name;
        nul.n_class_names = 3;
        barlow_dataset_csv_options_init(&empty);
        empty.class_names = empty_name;
        empty.n_class_names = 3;
        barlow_dataset_csv_options_init(&utf8);
        utf8.class_names = bad_utf8;
        utf8.n_class_names = 3;
        static barlow_dataset_csv_options listed, none;
        barlow_dataset_csv_options_init(&listed);
        listed.class_names = class_names;
        listed.n_class_names = 3;
        barlow_dataset_csv_options_init(&none);
        none.class_names = NULL;
        none.n_class_names = 3;
        DSC("options version 0", INVAL, "barlow_dataset_csv_options",
            barlow_dataset_load_csv(tp("rows.csv"), &v0, &o));
        DSC("options version 999", INVAL, "barlow_dataset_csv_options",
            barlow_dataset_load_csv(tp("rows.csv"), &v999, &o));
        DSC("class_names and class_names_path", INVAL, "class_names_path",
            barlow_dataset_load_csv(tp("rows.csv"), &both, &o));
        DSC("a NULL name in class_names", INVAL, "1",
            barlow_dataset_load_csv(tp("rows.csv"), &nul, &o));
        DSC("an empty name in class_names", INVAL, "1",
            barlow_dataset_load_csv(tp("rows.csv"), &empty, &o));
        DSC("a name in class_names that is not UTF-8", INVAL, "UTF-8",
            barlow_dataset_load_csv(tp("rows.csv"), &utf8, &o));
        DSC("n_class_names 3 with NULL class_names", INVAL, "class_names",
            barlow_dataset_load_csv(tp("rows.csv"), &none, &o));
        DSC("a label not in the class list", FMT, "cow",
            barlow_dataset_load_csv(tp("cow.csv"), &listed, &o));
    }
    hostile_inputs(fn, rd_csv, "trunc.csv", "utf8.csv", NULL);
    {
        static const struct {
            const char *what, *file, *needle;
        } c[] = {{"header only", "header-only.csv", "no rows"},
                 {"no Labels column", "no-labels.csv", "Labels"},
                 {"a repeated Labels column", "two-labels.csv", "Labels"},
                 {"an unbalanced quote", "open-quote.csv", "line 2"},
                 {"text after a closing quote", "after-quote.csv", "line 2"},
                 {"a row with an extra field", "field-count.csv", "line 2"},
                 {"an empty Labels cell", "empty-label.csv", "Labels"},
                 {"an empty Filenames cell", "empty-filename.csv", "Filenames"},
                 {"a NUL byte", "nul.csv", "NUL"}};
        for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
            DSC(c[i].what, FMT, c[i].needle, barlow_dataset_load_csv(tp(c[i].file), NULL, &o));
    }
    {
        hostile h[H_N];
        size_t n = hostile_list(h, NULL, "names-utf8.txt");
        hostile_run(fn, rd_csv_names, h, n, "class_names_path");
    }

    works_fn = ds_works;
    fn = "barlow_dataset_class_id";
#define ID_CASE(input, expect, needle, ...)                        \
    CASE(fn, input, expect, needle) {                              \
        int32_t id = 77;                                           \
        BAD((__VA_ARGS__));                                        \
        bi.untouched = id == 77;                                   \
        WORKS();                                                   \
    }
    ID_CASE("NULL ds", INVAL, "NULL", barlow_dataset_class_id(NULL, "cat", &id));
    ID_CASE("NULL name", INVAL, "name", barlow_dataset_class_id(fx.ds, NULL, &id));
    ID_CASE("NULL out", INVAL, "out", barlow_dataset_class_id(fx.ds, "cat", NULL));
    ID_CASE("an unknown name", INVAL, "horse", barlow_dataset_class_id(fx.ds, "horse", &id));
    ID_CASE("an empty name", INVAL, "name", barlow_dataset_class_id(fx.ds, "", &id));
    ID_CASE("a name that is a prefix", INVAL, "ca", barlow_dataset_class_id(fx.ds, "ca", &id));

    fn = "barlow_dataset_set_predictions";
    PLAIN(fn, "NULL ds", INVAL, "NULL", ds_unchanged(),
          barlow_dataset_set_predictions(NULL, fx.preds, N));
    PLAIN(fn, "NULL predictions", INVAL, "predictions", ds_unchanged(),
          barlow_dataset_set_predictions(fx.ds, NULL, N));
    PLAIN(fn, "n != size", INVAL, "39", ds_unchanged(),
          barlow_dataset_set_predictions(fx.ds, fx.preds, N - 1));
    PLAIN(fn, "n 0", INVAL, "0", ds_unchanged(), barlow_dataset_set_predictions(fx.ds, fx.preds, 0));
    PLAIN(fn, "an id out of range (7 at index 11)", INVAL, "11", ds_unchanged(),
          barlow_dataset_set_predictions(fx.ds, preds_bad, N));
    PLAIN(fn, "an id -1 (index 7)", INVAL, "7", ds_unchanged(),
          barlow_dataset_set_predictions(fx.ds, neg, N));

    fn = "barlow_dataset_set_class_names_file";
    PLAIN(fn, "NULL ds", INVAL, "NULL", ds_unchanged(),
          barlow_dataset_set_class_names_file(NULL, tp("names.txt")));
    PLAIN(fn, "NULL path", INVAL, "path", ds_unchanged(),
          barlow_dataset_set_class_names_file(fx.ds, NULL));
    {
        hostile h[H_N];
        size_t n = hostile_list(h, NULL, "names-utf8.txt");
        hostile_run(fn, rd_set_names, h, n, NULL);
    }
    PLAIN(fn, "fewer names than classes", INVAL, "2", ds_unchanged(),
          barlow_dataset_set_class_names_file(fx.ds, tp("names-short.txt")));
    PLAIN(fn, "an empty line", FMT, "line 2", ds_unchanged(),
          barlow_dataset_set_class_names_file(fx.ds, tp("names-empty-line.txt")));
    PLAIN(fn, "a NUL byte", FMT, "line 2", ds_unchanged(),
          barlow_dataset_set_class_names_file(fx.ds, tp("names-nul.txt")));

    fn = "barlow_dataset_image_path";
    BUF(fn, "NULL ds", INVAL, "NULL", barlow_dataset_image_path(NULL, 0, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_dataset_image_path(fx.ds_files, 0, NULL));
    works_fn = ds_files_works;
    BUF(fn, "i = size", INVAL, "10", barlow_dataset_image_path(fx.ds_files, 10, &o));
    BUF(fn, "i SIZE_MAX", INVAL, "18446744073709551615",
        barlow_dataset_image_path(fx.ds_files, SIZE_MAX, &o));
    works_fn = ds_works;
    BUF(fn, "a row with no source file", INVAL, "3", barlow_dataset_image_path(fx.ds, 3, &o));

    fn = "barlow_dataset_class_counts";
    {
        static size_t sizes[3], fails[3];
#define CC_CASE(input, expect, needle, ...)                                \
    CASE(fn, input, expect, needle) {                                      \
        sizes[0] = fails[0] = 77;                                          \
        BAD((__VA_ARGS__));                                                \
        bi.untouched = sizes[0] == 77 && fails[0] == 77;                   \
        WORKS();                                                           \
    }
        CC_CASE("NULL ds", INVAL, "NULL",
                barlow_dataset_class_counts(NULL, BARLOW_GROUP_BY_LABEL, sizes, fails));
        CC_CASE("NULL sizes", INVAL, "sizes",
                barlow_dataset_class_counts(fx.ds, BARLOW_GROUP_BY_LABEL, NULL, fails));
        CC_CASE("by 7", INVAL, "7", barlow_dataset_class_counts(fx.ds, (barlow_group_by)7, sizes, fails));
        CC_CASE("by -1", INVAL, "-1",
                barlow_dataset_class_counts(fx.ds, (barlow_group_by)-1, sizes, fails));
        works_fn = ds_np_works;
        CC_CASE("by prediction without predictions", STATE, "predictions",
                barlow_dataset_class_counts(fx.ds_np, BARLOW_GROUP_BY_PREDICTION, sizes, NULL));
        CC_CASE("failures without predictions", STATE, "predictions",
                barlow_dataset_class_counts(fx.ds_np, BARLOW_GROUP_BY_LABEL, sizes, fails));
    }

    works_fn = ds_works;
    fn = "barlow_group_create";
#define GC(input, expect, needle, ...) \
    MK(fn, input, expect, needle, barlow_group, barlow_group_free, __VA_ARGS__)
    GC("NULL ds", INVAL, "NULL", barlow_group_create(NULL, BARLOW_GROUP_BY_LABEL, 0, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1,
          barlow_group_create(fx.ds, BARLOW_GROUP_BY_LABEL, 0, NULL));
    GC("by 2", INVAL, "2", barlow_group_create(fx.ds, (barlow_group_by)2, 0, &o));
    GC("class_id -1", INVAL, "-1", barlow_group_create(fx.ds, BARLOW_GROUP_BY_LABEL, -1, &o));
    GC("class_id 3 of 3", INVAL, "3", barlow_group_create(fx.ds, BARLOW_GROUP_BY_LABEL, 3, &o));
    GC("class_id INT32_MAX", INVAL, "2147483647",
       barlow_group_create(fx.ds, BARLOW_GROUP_BY_LABEL, INT32_MAX, &o));
    works_fn = ds_np_works;
    GC("by prediction without predictions", STATE, "predictions",
       barlow_group_create(fx.ds_np, BARLOW_GROUP_BY_PREDICTION, 0, &o));

    works_fn = ds_works;
    fn = "barlow_group_create_by_name";
    GC("NULL ds", INVAL, "NULL", barlow_group_create_by_name(NULL, BARLOW_GROUP_BY_LABEL, "cat", &o));
    GC("NULL class_name", INVAL, "name",
       barlow_group_create_by_name(fx.ds, BARLOW_GROUP_BY_LABEL, NULL, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1,
          barlow_group_create_by_name(fx.ds, BARLOW_GROUP_BY_LABEL, "cat", NULL));
    GC("an unknown name", INVAL, "horse",
       barlow_group_create_by_name(fx.ds, BARLOW_GROUP_BY_LABEL, "horse", &o));
    GC("by 9", INVAL, "9", barlow_group_create_by_name(fx.ds, (barlow_group_by)9, "cat", &o));
    works_fn = ds_np_works;
    GC("by prediction without predictions", STATE, "predictions",
       barlow_group_create_by_name(fx.ds_np, BARLOW_GROUP_BY_PREDICTION, "cat", &o));

    works_fn = ds_works;
    fn = "barlow_group_create_from_indices";
    {
        static size_t idx[3] = {0, 5, 9}, oor[3] = {0, 40, 9}, rep[3] = {0, 5, 5};
        GC("NULL ds", INVAL, "NULL", barlow_group_create_from_indices(NULL, idx, 3, &o));
        PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_group_create_from_indices(fx.ds, idx, 3, NULL));
        GC("NULL indices with n 3", INVAL, "indices",
           barlow_group_create_from_indices(fx.ds, NULL, 3, &o));
        GC("an index = size", INVAL, "40", barlow_group_create_from_indices(fx.ds, oor, 3, &o));
        GC("a repeated index", INVAL, "5", barlow_group_create_from_indices(fx.ds, rep, 3, &o));
    }

    works_fn = g_works;
    fn = "barlow_group_failures";
    {
        static uint8_t f[N];
#define GF_CASE(input, expect, needle, ...)                     \
    CASE(fn, input, expect, needle) {                           \
        memset(f, 7, sizeof f);                                 \
        BAD((__VA_ARGS__));                                     \
        bi.untouched = f[0] == 7 && f[N - 1] == 7;              \
        WORKS();                                                \
    }
        GF_CASE("NULL g", INVAL, "NULL", barlow_group_failures(NULL, f));
        GF_CASE("NULL out with size 14", INVAL, "out", barlow_group_failures(fx.g, NULL));
        works_fn = g_np_works;
        GF_CASE("no predictions", STATE, "predictions", barlow_group_failures(fx.g_np, f));
    }
    works_fn = g_works;
    fn = "barlow_group_failure_count";
    {
#define GN_CASE(input, expect, needle, ...)                     \
    CASE(fn, input, expect, needle) {                           \
        size_t n = 77;                                          \
        BAD((__VA_ARGS__));                                     \
        bi.untouched = n == 77;                                 \
        WORKS();                                                \
    }
        GN_CASE("NULL g", INVAL, "NULL", barlow_group_failure_count(NULL, &n));
        GN_CASE("NULL out", INVAL, "out", barlow_group_failure_count(fx.g, NULL));
        works_fn = g_np_works;
        GN_CASE("no predictions", STATE, "predictions", barlow_group_failure_count(fx.g_np, &n));
    }
    works_fn = g_works;
    fn = "barlow_group_base_error_rate";
    {
#define GB_CASE(input, expect, needle, ...)                     \
    CASE(fn, input, expect, needle) {                           \
        double r = 77;                                          \
        BAD((__VA_ARGS__));                                     \
        bi.untouched = r == 77;                                 \
        WORKS();                                                \
    }
        GB_CASE("NULL g", INVAL, "NULL", barlow_group_base_error_rate(NULL, &r));
        GB_CASE("NULL out", INVAL, "out", barlow_group_base_error_rate(fx.g, NULL));
        works_fn = g_np_works;
        GB_CASE("no predictions", STATE, "predictions", barlow_group_base_error_rate(fx.g_np, &r));
    }
    works_fn = g_works;
    fn = "barlow_group_gather_rows";
#define GR(input, expect, needle, ...) \
    MK(fn, input, expect, needle, barlow_matrix, barlow_matrix_free, __VA_ARGS__)
    GR("NULL g", INVAL, "NULL", barlow_group_gather_rows(NULL, fx.F, &o));
    GR("NULL features", INVAL, "features", barlow_group_gather_rows(fx.g, NULL, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_group_gather_rows(fx.g, fx.F, NULL));
    GR("features of 10 rows for 40", INVAL, "10", barlow_group_gather_rows(fx.g, fx.F10, &o));
    GR("an empty group", INVAL, "empty", barlow_group_gather_rows(fx.g_empty, fx.F, &o));
    bi_end(&bi);
}

/* ---- loaders.h ---------------------------------------------------------------- */

static int idx_works(void)
{
    size_t h = 0, w = 0, c = 0;
    barlow_image *img = NULL;
    int ok = barlow_dataset_image_shape(fx.ds_idx, &h, &w, &c) == BARLOW_OK && h == 4 && w == 5 &&
             c == 1 && barlow_dataset_load_image(fx.ds_idx, 5, NULL, &img) == BARLOW_OK;
    barlow_image_free(img);
    return ok;
}

static int files_works(void)
{
    barlow_image *img = NULL;
    size_t bad = 0;
    int ok = barlow_dataset_load_image(fx.ds_files, 0, NULL, &img) == BARLOW_OK &&
             barlow_dataset_check_images(fx.ds_files, NULL, NULL, &bad, NULL) == BARLOW_OK &&
             bad == fx.files_bad;
    barlow_image_free(img);
    return ok;
}

static void table_loaders(void)
{
    bi_begin(&bi, "loaders.h");
    const char *fn;
    works_fn = NULL;

    fn = "barlow_dataset_load_folder";
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_dataset_load_folder(tp("folder"), NULL));
    DSC("NULL root", INVAL, "root", barlow_dataset_load_folder(NULL, &o));
    {
        hostile h[H_N];
        size_t n = hostile_list(h, NULL, NULL);
        h[H_EMPTY].st = h[H_GARBAGE].st = IO; /* a file, not a directory */
        h[H_DIR] = (hostile){"an empty directory", tp("a-directory"), "a-directory", FMT};
        hostile_run(fn, rd_folder, h, n, NULL);
    }
    DSC("a class with no image", FMT, "a", barlow_dataset_load_folder(tp("folder-noimg"), &o));
    DSC("files but no class directory", FMT, "folder-files",
        barlow_dataset_load_folder(tp("folder-files"), &o));
    DSC("nested deeper than 64 levels", FMT, "64", barlow_dataset_load_folder(tp("folder-deep"), &o));
    DSC("a symbolic link loop", FMT, "loop", barlow_dataset_load_folder(tp("folder-loop"), &o));

    fn = "barlow_dataset_load_idx";
    PLAIN(fn, "NULL out", INVAL, "out", 1,
          barlow_dataset_load_idx(tp("images.idx"), tp("labels.idx"), NULL));
    DSC("NULL images_path", INVAL, "images", barlow_dataset_load_idx(NULL, tp("labels.idx"), &o));
    DSC("NULL labels_path", INVAL, "labels", barlow_dataset_load_idx(tp("images.idx"), NULL, &o));
    hostile_inputs(fn, rd_idx_images, "trunc.idx", NULL, "images_path");
    hostile_inputs(fn, rd_idx_labels, "trunc.idx", NULL, "labels_path");
    DSC("bad magic", FMT, "bad-magic.idx",
        barlow_dataset_load_idx(tp("bad-magic.idx"), tp("labels.idx"), &o));
    DSC("float32 data", UNSUP, "float.idx",
        barlow_dataset_load_idx(tp("float.idx"), tp("labels.idx"), &o));
    DSC("counts that differ (6 vs 5)", FMT, "5",
        barlow_dataset_load_idx(tp("images.idx"), tp("labels5.idx"), &o));
    DSC("trailing bytes", FMT, "trailing.idx",
        barlow_dataset_load_idx(tp("trailing.idx"), tp("labels.idx"), &o));
    DSC("zero images", FMT, "zero.idx",
        barlow_dataset_load_idx(tp("zero.idx"), tp("labels.idx"), &o));
    DSC("40000 x 40000 images", UNSUP, "40000",
        barlow_dataset_load_idx(tp("big.idx"), tp("labels.idx"), &o));
    DSC("2 channels", FMT, "channels2.idx",
        barlow_dataset_load_idx(tp("channels2.idx"), tp("labels.idx"), &o));
    DSC("2-D images", FMT, "2d.idx", barlow_dataset_load_idx(tp("2d.idx"), tp("labels.idx"), &o));
    DSC("the labels file as images", FMT, "labels.idx",
        barlow_dataset_load_idx(tp("labels.idx"), tp("labels.idx"), &o));
    DSC("the images file as labels", FMT, "images.idx",
        barlow_dataset_load_idx(tp("images.idx"), tp("images.idx"), &o));
    DSC("corrupt gzip data", FMT, "bad.gz",
        barlow_dataset_load_idx(tp("bad.gz"), tp("labels.idx"), &o));

    fn = "barlow_dataset_image_shape";
    works_fn = idx_works;
    {
#define SH_CASE(input, expect, needle, ...)                              \
    CASE(fn, input, expect, needle) {                                    \
        size_t h = 77, w = 77, c = 77;                                   \
        BAD((__VA_ARGS__));                                              \
        bi.untouched = h == 77 && w == 77 && c == 77;                    \
        WORKS();                                                         \
    }
        SH_CASE("NULL ds", INVAL, "NULL", barlow_dataset_image_shape(NULL, &h, &w, &c));
        SH_CASE("NULL height", INVAL, "height", barlow_dataset_image_shape(fx.ds_idx, NULL, &w, &c));
        SH_CASE("NULL width", INVAL, "width", barlow_dataset_image_shape(fx.ds_idx, &h, NULL, &c));
        SH_CASE("NULL channels", INVAL, "channels",
                barlow_dataset_image_shape(fx.ds_idx, &h, &w, NULL));
        works_fn = files_works;
        SH_CASE("images in files", STATE, "files", barlow_dataset_image_shape(fx.ds_files, &h, &w, &c));
    }

    fn = "barlow_dataset_load_image";
    {
        static barlow_image_options v0, v999, ch2, side0, px0, side_small;
        barlow_image_options_init(&v0);
        v0.version = 0;
        barlow_image_options_init(&v999);
        v999.version = 999;
        barlow_image_options_init(&ch2);
        ch2.channels = 2;
        barlow_image_options_init(&side0);
        side0.max_side = 0;
        barlow_image_options_init(&px0);
        px0.max_pixels = 0;
        barlow_image_options_init(&side_small);
        side_small.max_side = 8;
#define LI(input, expect, needle, ...) \
    MK(fn, input, expect, needle, barlow_image, barlow_image_free, __VA_ARGS__)
        works_fn = files_works;
        LI("NULL ds", INVAL, "NULL", barlow_dataset_load_image(NULL, 0, NULL, &o));
        PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_dataset_load_image(fx.ds_files, 0, NULL, NULL));
        LI("i = size", INVAL, "10", barlow_dataset_load_image(fx.ds_files, 10, NULL, &o));
        LI("options version 0", INVAL, "barlow_image_options",
           barlow_dataset_load_image(fx.ds_files, 0, &v0, &o));
        LI("options version 999", INVAL, "barlow_image_options",
           barlow_dataset_load_image(fx.ds_files, 0, &v999, &o));
        LI("channels 2", INVAL, "channels", barlow_dataset_load_image(fx.ds_files, 0, &ch2, &o));
        LI("max_side 0", INVAL, "max_side", barlow_dataset_load_image(fx.ds_files, 0, &side0, &o));
        LI("max_pixels 0", INVAL, "max_pixels", barlow_dataset_load_image(fx.ds_files, 0, &px0, &o));
        LI("a missing image file (row 2)", IO, "missing.png",
           barlow_dataset_load_image(fx.ds_files, 2, NULL, &o));
        LI("a garbage image file (row 3)", FMT, "garbage-bytes",
           barlow_dataset_load_image(fx.ds_files, 3, NULL, &o));
        LI("a FIFO as the image (row 4)", IO, "a-fifo",
           barlow_dataset_load_image(fx.ds_files, 4, NULL, &o));
        LI("/dev/zero as the image (row 5)", IO, "/dev/zero",
           barlow_dataset_load_image(fx.ds_files, 5, NULL, &o));
        LI("a truncated PNG (row 6)", FMT, "trunc.png",
           barlow_dataset_load_image(fx.ds_files, 6, NULL, &o));
        LI("an empty file (row 7)", FMT, "empty-file",
           barlow_dataset_load_image(fx.ds_files, 7, NULL, &o));
        LI("a symlink to /dev/zero (row 8)", IO, "zero-link",
           barlow_dataset_load_image(fx.ds_files, 8, NULL, &o));
        LI("a directory (row 9)", IO, "a-directory",
           barlow_dataset_load_image(fx.ds_files, 9, NULL, &o));
        LI("an image over max_side", UNSUP, "img0.png",
           barlow_dataset_load_image(fx.ds_files, 0, &side_small, &o));
        works_fn = ds_works;
        LI("a row with no image", STATE, "3", barlow_dataset_load_image(fx.ds, 3, NULL, &o));
        works_fn = idx_works;
        LI("in memory: i = size", INVAL, "6", barlow_dataset_load_image(fx.ds_idx, 6, NULL, &o));
        LI("in memory: channels 2", INVAL, "channels",
           barlow_dataset_load_image(fx.ds_idx, 0, &ch2, &o));
        LI("in memory: options version 0", INVAL, "barlow_image_options",
           barlow_dataset_load_image(fx.ds_idx, 0, &v0, &o));
        LI("in memory: over max_side", UNSUP, "max_side",
           barlow_dataset_load_image(fx.ds_idx, 0, &(barlow_image_options){1, 0, 3, 1000}, &o));

        fn = "barlow_dataset_check_images";
        works_fn = files_works;
        static int32_t rs[6];
        static size_t nb;
#define CI_CASE(input, expect, needle, ...)                                         \
    CASE(fn, input, expect, needle) {                                               \
        barlow_buffer rep = {BI_SENTINEL, 9};                                       \
        rs[0] = 77;                                                                 \
        nb = 77;                                                                    \
        BAD((__VA_ARGS__));                                                         \
        bi.untouched = rs[0] == 77 && nb == 77 && rep.data == BI_SENTINEL && rep.size == 9; \
        WORKS();                                                                    \
    }
        CI_CASE("NULL ds", INVAL, "NULL", barlow_dataset_check_images(NULL, NULL, rs, &nb, &rep));
        CI_CASE("options version 0", INVAL, "barlow_image_options",
                barlow_dataset_check_images(fx.ds_files, &v0, rs, &nb, &rep));
        CI_CASE("options version 999", INVAL, "barlow_image_options",
                barlow_dataset_check_images(fx.ds_files, &v999, rs, &nb, &rep));
        CI_CASE("channels 2", INVAL, "channels",
                barlow_dataset_check_images(fx.ds_files, &ch2, rs, &nb, &rep));
        CI_CASE("max_side 0", INVAL, "max_side",
                barlow_dataset_check_images(fx.ds_files, &side0, rs, &nb, &rep));
        CI_CASE("max_pixels 0", INVAL, "max_pixels",
                barlow_dataset_check_images(fx.ds_files, &px0, rs, &nb, &rep));
    }
    bi_end(&bi);
}

/* ---- image.h ------------------------------------------------------------------ */

static int img_works(void)
{
    barlow_image *g = NULL;
    barlow_buffer b = {0};
    size_t c = 0, h = 0, w = 0;
    int ok = barlow_image_convert(fx.img, 1, &g) == BARLOW_OK &&
             barlow_image_encode_png(fx.img, &b) == BARLOW_OK &&
             barlow_image_preprocess_shape(fx.img, NULL, &c, &h, &w) == BARLOW_OK && c == 3 &&
             h == 224 && barlow_image_width(fx.img) == 16;
    barlow_image_free(g);
    barlow_buffer_free(&b);
    return ok;
}

static barlow_status rd_image_file(const char *path, int *u)
{
    barlow_image *o = BI_SENTINEL;
    barlow_status st = barlow_image_decode_file(path, NULL, &o);
    *u = o == (barlow_image *)BI_SENTINEL;
    if (o != BI_SENTINEL && o) barlow_image_free(o);
    return st;
}

static barlow_status wr_png(const char *path) { return barlow_image_save_png(fx.img, path); }

static void table_image(void)
{
    bi_begin(&bi, "image.h");
    const char *fn;
    static barlow_image_options v0, v999, ch2, ch4, side0, side_big, px0, px_big, side8, px100;
    barlow_image_options_init(&v0);
    v0.version = 0;
    barlow_image_options_init(&v999);
    v999.version = 999;
    barlow_image_options_init(&ch2);
    ch2.channels = 2;
    barlow_image_options_init(&ch4);
    ch4.channels = 4;
    barlow_image_options_init(&side0);
    side0.max_side = 0;
    barlow_image_options_init(&side_big);
    side_big.max_side = (size_t)1 << 31;
    barlow_image_options_init(&px0);
    px0.max_pixels = 0;
    barlow_image_options_init(&px_big);
    px_big.max_pixels = ((uint64_t)1 << 40) + 1;
    barlow_image_options_init(&side8);
    side8.max_side = 8;
    barlow_image_options_init(&px100);
    px100.max_pixels = 100;
    size_t png_n = 0, jpg_n = 0;
    static unsigned char *png, *jpg;
    png = slurp(tp("img0.png"), &png_n);
    jpg = slurp(tp("good.jpg"), &jpg_n);
    static const unsigned char gif[] = "GIF89a\x01\x00\x01\x00\x80\x00\x00";
    static const unsigned char tif[] = "II*\x00\x08\x00\x00\x00";
    static const unsigned char webp[] = "RIFF\x1a\x00\x00\x00WEBPVP8 ";
    static const unsigned char junk[] = "\xde\xad\xbe\xef not an image at all";

    works_fn = NULL;
    fn = "barlow_image_create";
#define IC(input, expect, needle, ...) \
    MK(fn, input, expect, needle, barlow_image, barlow_image_free, __VA_ARGS__)
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_image_create(4, 4, 3, NULL));
    IC("width 0", INVAL, "width", barlow_image_create(0, 4, 3, &o));
    IC("height 0", INVAL, "height", barlow_image_create(4, 0, 3, &o));
    IC("channels 0", INVAL, "channels", barlow_image_create(4, 4, 0, &o));
    IC("channels 2", INVAL, "channels", barlow_image_create(4, 4, 2, &o));
    IC("channels 4", INVAL, "channels", barlow_image_create(4, 4, 4, &o));
    IC("a side of 40000", INVAL, "40000", barlow_image_create(40000, 1, 1, &o));
    IC("20000 x 20000 pixels", INVAL, "20000", barlow_image_create(20000, 20000, 1, &o));
    IC("SIZE_MAX x SIZE_MAX", INVAL, "18446744073709551615",
       barlow_image_create(SIZE_MAX, SIZE_MAX, 3, &o));

    fn = "barlow_image_probe_memory";
#define PR_CASE(input, expect, needle, ...)                                          \
    CASE(fn, input, expect, needle) {                                                \
        barlow_image_format f = (barlow_image_format)77;                             \
        size_t w = 77, h = 77;                                                       \
        BAD((__VA_ARGS__));                                                          \
        bi.untouched = f == (barlow_image_format)77 && w == 77 && h == 77;           \
        WORKS();                                                                     \
    }
    PR_CASE("NULL data with size 10", INVAL, "data", barlow_image_probe_memory(NULL, 10, &f, &w, &h));
    PR_CASE("size 0", FMT, "empty", barlow_image_probe_memory(png, 0, &f, &w, &h));
    PR_CASE("NULL data, size 0", FMT, "empty", barlow_image_probe_memory(NULL, 0, &f, &w, &h));
    PR_CASE("garbage bytes", FMT, "barlow_image_probe_memory",
            barlow_image_probe_memory(junk, sizeof junk - 1, &f, &w, &h));
    PR_CASE("a PNG cut at 20 bytes", FMT, "barlow_image_probe_memory",
            barlow_image_probe_memory(png, 20, &f, &w, &h));
    PR_CASE("a JPEG cut at 30 bytes", FMT, "barlow_image_probe_memory",
            barlow_image_probe_memory(jpg, 30, &f, &w, &h));
    PR_CASE("the PNG signature alone", FMT, "barlow_image_probe_memory",
            barlow_image_probe_memory(png, 8, &f, &w, &h));
    PR_CASE("GIF", UNSUP, "GIF", barlow_image_probe_memory(gif, sizeof gif - 1, &f, &w, &h));
    PR_CASE("TIFF", UNSUP, "TIFF", barlow_image_probe_memory(tif, sizeof tif - 1, &f, &w, &h));
    PR_CASE("WebP", UNSUP, "WebP", barlow_image_probe_memory(webp, sizeof webp - 1, &f, &w, &h));

    fn = "barlow_image_decode_memory";
#define DM(input, expect, needle, ...) \
    MK(fn, input, expect, needle, barlow_image, barlow_image_free, __VA_ARGS__)
    DM("NULL data with size 10", INVAL, "data", barlow_image_decode_memory(NULL, 10, NULL, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_image_decode_memory(png, png_n, NULL, NULL));
    DM("size 0", FMT, "empty", barlow_image_decode_memory(png, 0, NULL, &o));
    DM("garbage bytes", FMT, "barlow_image_decode_memory",
       barlow_image_decode_memory(junk, sizeof junk - 1, NULL, &o));
    DM("a PNG cut at 40 bytes", FMT, "barlow_image_decode_memory",
       barlow_image_decode_memory(png, 40, NULL, &o));
    DM("a PNG missing its last 20 bytes", FMT, "barlow_image_decode_memory",
       barlow_image_decode_memory(png, png_n - 20, NULL, &o));
    DM("a JPEG cut in half", FMT, "barlow_image_decode_memory",
       barlow_image_decode_memory(jpg, jpg_n / 2, NULL, &o));
    DM("GIF", UNSUP, "GIF", barlow_image_decode_memory(gif, sizeof gif - 1, NULL, &o));
    DM("options version 0", INVAL, "barlow_image_options",
       barlow_image_decode_memory(png, png_n, &v0, &o));
    DM("options version 999", INVAL, "barlow_image_options",
       barlow_image_decode_memory(png, png_n, &v999, &o));
    DM("channels 2", INVAL, "channels", barlow_image_decode_memory(png, png_n, &ch2, &o));
    DM("channels 4", INVAL, "channels", barlow_image_decode_memory(png, png_n, &ch4, &o));
    DM("max_side 0", INVAL, "max_side", barlow_image_decode_memory(png, png_n, &side0, &o));
    DM("max_side 2^31", INVAL, "max_side", barlow_image_decode_memory(png, png_n, &side_big, &o));
    DM("max_pixels 0", INVAL, "max_pixels", barlow_image_decode_memory(png, png_n, &px0, &o));
    DM("max_pixels 2^40 + 1", INVAL, "max_pixels",
       barlow_image_decode_memory(png, png_n, &px_big, &o));
    DM("16 x 12 over max_side 8", UNSUP, "16", barlow_image_decode_memory(png, png_n, &side8, &o));
    DM("192 pixels over max_pixels 100", UNSUP, "100",
       barlow_image_decode_memory(png, png_n, &px100, &o));
    {
        size_t n = 0;
        static unsigned char *huge, *corrupt;
        huge = slurp(tp("huge.png"), &n);
        static size_t huge_n, corrupt_n;
        huge_n = n;
        corrupt = slurp(tp("corrupt.png"), &corrupt_n);
        DM("a header of 100000 x 100000", UNSUP, "100000",
           barlow_image_decode_memory(huge, huge_n, NULL, &o));
        DM("damaged image data", FMT, "barlow_image_decode_memory",
           barlow_image_decode_memory(corrupt, corrupt_n, NULL, &o));
    }

    fn = "barlow_image_decode_file";
    MK(fn, "NULL path", INVAL, "path", barlow_image, barlow_image_free,
       barlow_image_decode_file(NULL, NULL, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_image_decode_file(tp("img0.png"), NULL, NULL));
    hostile_inputs(fn, rd_image_file, "trunc.png", NULL, NULL);
    MK(fn, "a truncated JPEG", FMT, "trunc.jpg", barlow_image, barlow_image_free,
       barlow_image_decode_file(tp("trunc.jpg"), NULL, &o));
    MK(fn, "GIF", UNSUP, "image.gif", barlow_image, barlow_image_free,
       barlow_image_decode_file(tp("image.gif"), NULL, &o));
    MK(fn, "TIFF", UNSUP, "image.tif", barlow_image, barlow_image_free,
       barlow_image_decode_file(tp("image.tif"), NULL, &o));
    MK(fn, "WebP", UNSUP, "image.webp", barlow_image, barlow_image_free,
       barlow_image_decode_file(tp("image.webp"), NULL, &o));
    MK(fn, "a header of 100000 x 100000", UNSUP, "huge.png", barlow_image, barlow_image_free,
       barlow_image_decode_file(tp("huge.png"), NULL, &o));
    MK(fn, "options version 0", INVAL, "barlow_image_options", barlow_image, barlow_image_free,
       barlow_image_decode_file(tp("img0.png"), &v0, &o));
    MK(fn, "options version 999", INVAL, "barlow_image_options", barlow_image, barlow_image_free,
       barlow_image_decode_file(tp("img0.png"), &v999, &o));
    MK(fn, "channels 2", INVAL, "channels", barlow_image, barlow_image_free,
       barlow_image_decode_file(tp("img0.png"), &ch2, &o));
    MK(fn, "over max_side", UNSUP, "img0.png", barlow_image, barlow_image_free,
       barlow_image_decode_file(tp("img0.png"), &side8, &o));
    CASE(fn, "over BARLOW_LIMIT_IMAGE_BYTES", UNSUP, "BARLOW_LIMIT_IMAGE_BYTES") {
        barlow_limit_set(BARLOW_LIMIT_IMAGE_BYTES, 16);
        barlow_image *o = BI_SENTINEL;
        BAD(barlow_image_decode_file(tp("img0.png"), NULL, &o));
        bi.untouched = o == BI_SENTINEL;
        barlow_limit_set(BARLOW_LIMIT_IMAGE_BYTES, (uint64_t)256 << 20);
        WORKS();
    }
    CASE(fn, "over BARLOW_LIMIT_DECODE_BYTES", UNSUP, "BARLOW_LIMIT_DECODE_BYTES") {
        barlow_limit_set(BARLOW_LIMIT_DECODE_BYTES, 64);
        barlow_image *o = BI_SENTINEL;
        BAD(barlow_image_decode_file(tp("img0.png"), NULL, &o));
        bi.untouched = o == BI_SENTINEL;
        barlow_limit_set(BARLOW_LIMIT_DECODE_BYTES, (uint64_t)4 << 30);
        WORKS();
    }

    works_fn = img_works;
    fn = "barlow_image_convert";
    IC("NULL img", INVAL, "NULL", barlow_image_convert(NULL, 1, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_image_convert(fx.img, 1, NULL));
    IC("channels 0", INVAL, "channels", barlow_image_convert(fx.img, 0, &o));
    IC("channels 2", INVAL, "channels", barlow_image_convert(fx.img, 2, &o));
    IC("channels 4", INVAL, "channels", barlow_image_convert(fx.img, 4, &o));

    fn = "barlow_image_resize";
    IC("NULL img", INVAL, "NULL", barlow_image_resize(NULL, 4, 4, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_image_resize(fx.img, 4, 4, NULL));
    IC("width 0", INVAL, "width", barlow_image_resize(fx.img, 0, 4, &o));
    IC("height 0", INVAL, "height", barlow_image_resize(fx.img, 4, 0, &o));
    IC("width 65537", INVAL, "65537", barlow_image_resize(fx.img, 65537, 4, &o));
    IC("height SIZE_MAX", INVAL, "18446744073709551615", barlow_image_resize(fx.img, 4, SIZE_MAX, &o));

    static barlow_image_preprocess_options pv0, pv999, pres, pcrop, pch2, pch0, pbig;
    barlow_image_preprocess_options_init(&pv0);
    pv0.version = 0;
    barlow_image_preprocess_options_init(&pv999);
    pv999.version = 999;
    barlow_image_preprocess_options_init(&pres);
    pres.resize = 65537;
    barlow_image_preprocess_options_init(&pcrop);
    pcrop.crop = 65537;
    barlow_image_preprocess_options_init(&pch2);
    pch2.channels = 2;
    barlow_image_preprocess_options_init(&pch0);
    pch0.channels = 0;
    barlow_image_preprocess_options_init(&pbig);
    pbig.resize = 65536;
    pbig.crop = 0;
    fn = "barlow_image_preprocess_shape";
#define PS_CASE(input, expect, needle, ...)                                \
    CASE(fn, input, expect, needle) {                                      \
        size_t c = 77, h = 77, w = 77;                                     \
        BAD((__VA_ARGS__));                                                \
        bi.untouched = c == 77 && h == 77 && w == 77;                      \
        WORKS();                                                           \
    }
    PS_CASE("NULL img", INVAL, "NULL", barlow_image_preprocess_shape(NULL, NULL, &c, &h, &w));
    PS_CASE("NULL channels", INVAL, "channels",
            barlow_image_preprocess_shape(fx.img, NULL, NULL, &h, &w));
    PS_CASE("NULL height", INVAL, "height", barlow_image_preprocess_shape(fx.img, NULL, &c, NULL, &w));
    PS_CASE("NULL width", INVAL, "width", barlow_image_preprocess_shape(fx.img, NULL, &c, &h, NULL));
    PS_CASE("options version 0", INVAL, "barlow_image_preprocess_options",
            barlow_image_preprocess_shape(fx.img, &pv0, &c, &h, &w));
    PS_CASE("options version 999", INVAL, "barlow_image_preprocess_options",
            barlow_image_preprocess_shape(fx.img, &pv999, &c, &h, &w));
    PS_CASE("resize 65537", INVAL, "resize", barlow_image_preprocess_shape(fx.img, &pres, &c, &h, &w));
    PS_CASE("crop 65537", INVAL, "crop", barlow_image_preprocess_shape(fx.img, &pcrop, &c, &h, &w));
    PS_CASE("channels 2", INVAL, "channels", barlow_image_preprocess_shape(fx.img, &pch2, &c, &h, &w));
    PS_CASE("channels 0", INVAL, "channels", barlow_image_preprocess_shape(fx.img, &pch0, &c, &h, &w));
    PS_CASE("a 300 x 1 image resized to 65536", UNSUP, "65536",
            barlow_image_preprocess_shape(fx.img_long, &pbig, &c, &h, &w));

    fn = "barlow_image_preprocess";
    {
        static float out[3 * 224 * 224];
#define PP_CASE(input, expect, needle, ...)                                \
    CASE(fn, input, expect, needle) {                                      \
        out[0] = 77;                                                       \
        BAD((__VA_ARGS__));                                                \
        bi.untouched = out[0] == 77;                                       \
        WORKS();                                                           \
    }
        size_t len = sizeof out / sizeof out[0];
        PP_CASE("NULL img", INVAL, "NULL", barlow_image_preprocess(NULL, NULL, out, len));
        PP_CASE("NULL out", INVAL, "out", barlow_image_preprocess(fx.img, NULL, NULL, len));
        PP_CASE("out_len too small", INVAL, "150527",
                barlow_image_preprocess(fx.img, NULL, out, len - 1));
        PP_CASE("out_len 0", INVAL, "150528", barlow_image_preprocess(fx.img, NULL, out, 0));
        PP_CASE("options version 0", INVAL, "barlow_image_preprocess_options",
                barlow_image_preprocess(fx.img, &pv0, out, len));
        PP_CASE("options version 999", INVAL, "barlow_image_preprocess_options",
                barlow_image_preprocess(fx.img, &pv999, out, len));
        PP_CASE("crop 65537", INVAL, "crop", barlow_image_preprocess(fx.img, &pcrop, out, len));
        PP_CASE("channels 2", INVAL, "channels", barlow_image_preprocess(fx.img, &pch2, out, len));
        PP_CASE("a 300 x 1 image resized to 65536", UNSUP, "65536",
                barlow_image_preprocess(fx.img_long, &pbig, out, len));
    }

    fn = "barlow_image_encode_png";
    BUF(fn, "NULL img", INVAL, "NULL", barlow_image_encode_png(NULL, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_image_encode_png(fx.img, NULL));

    fn = "barlow_image_save_png";
    PLAIN(fn, "NULL img", INVAL, "NULL", !exists(tp("out/x.png")),
          barlow_image_save_png(NULL, tp("out/x.png")));
    hostile_outputs(fn, wr_png);
    bi_end(&bi);
}

/* ---- selector.h ---------------------------------------------------------------- */

static int sel_works(void)
{
    double s[D];
    size_t top[2];
    return barlow_selector_score(fx.sel, fx.F, fx.fail, s) == BARLOW_OK &&
           barlow_selector_top_k(fx.sel, fx.F, fx.fail, 2, top, NULL) == BARLOW_OK;
}

static void table_selector(void)
{
    bi_begin(&bi, "selector.h");
    const char *fn;
    static uint8_t flags2[N];
    memcpy(flags2, fx.fail, N);
    flags2[13] = 2;
    static double xd[N * D], xnan[N * D];
    for (size_t i = 0; i < N * D; i++) xd[i] = xnan[i] = fx.x[i];
    xnan[4 * D + 5] = NAN;

    works_fn = NULL;
    fn = "barlow_selector_create";
    {
        static barlow_selector_options v0, v999, e3, em1, k0, kbig;
        barlow_selector_options_init(&v0);
        v0.version = 0;
        barlow_selector_options_init(&v999);
        v999.version = 999;
        barlow_selector_options_init(&e3);
        e3.estimator = (barlow_estimator)3;
        barlow_selector_options_init(&em1);
        em1.estimator = (barlow_estimator)-1;
        barlow_selector_options_init(&k0);
        k0.n_neighbors = 0;
        barlow_selector_options_init(&kbig);
        kbig.n_neighbors = 1000001;
#define SC(input, expect, needle, ...) \
    MK(fn, input, expect, needle, barlow_selector, barlow_selector_free, __VA_ARGS__)
        PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_selector_create(NULL, NULL));
        SC("options version 0", INVAL, "barlow_selector_options", barlow_selector_create(&v0, &o));
        SC("options version 999", INVAL, "barlow_selector_options", barlow_selector_create(&v999, &o));
        SC("estimator 3", INVAL, "3", barlow_selector_create(&e3, &o));
        SC("estimator -1", INVAL, "-1", barlow_selector_create(&em1, &o));
        SC("n_neighbors 0", INVAL, "n_neighbors", barlow_selector_create(&k0, &o));
        SC("n_neighbors 1000001", INVAL, "1000001", barlow_selector_create(&kbig, &o));
    }

    works_fn = sel_works;
    static double scores[D];
#define SS_CASE(input, expect, needle, ...)                           \
    CASE(fn, input, expect, needle) {                                 \
        scores[0] = 77;                                               \
        BAD((__VA_ARGS__));                                           \
        bi.untouched = scores[0] == 77;                               \
        WORKS();                                                      \
    }
    fn = "barlow_selector_score";
    SS_CASE("NULL sel", INVAL, "NULL", barlow_selector_score(NULL, fx.F, fx.fail, scores));
    SS_CASE("NULL features", INVAL, "features", barlow_selector_score(fx.sel, NULL, fx.fail, scores));
    SS_CASE("NULL failures", INVAL, "failures", barlow_selector_score(fx.sel, fx.F, NULL, scores));
    SS_CASE("NULL scores", INVAL, "scores", barlow_selector_score(fx.sel, fx.F, fx.fail, NULL));
    SS_CASE("NaN at row 3, column 2", INVAL, "row 3",
            barlow_selector_score(fx.sel, fx.Fnan, fx.fail, scores));
    SS_CASE("-inf at row 5, column 1", INVAL, "row 5",
            barlow_selector_score(fx.sel, fx.Finf, fx.fail, scores));
    SS_CASE("a failure flag 2 at index 13", INVAL, "13",
            barlow_selector_score(fx.sel, fx.F, flags2, scores));

    fn = "barlow_selector_score_f64";
    SS_CASE("NULL sel", INVAL, "NULL", barlow_selector_score_f64(NULL, xd, N, D, fx.fail, scores));
    SS_CASE("NULL features", INVAL, "features",
            barlow_selector_score_f64(fx.sel, NULL, N, D, fx.fail, scores));
    SS_CASE("NULL failures", INVAL, "failures",
            barlow_selector_score_f64(fx.sel, xd, N, D, NULL, scores));
    SS_CASE("NULL scores", INVAL, "scores",
            barlow_selector_score_f64(fx.sel, xd, N, D, fx.fail, NULL));
    SS_CASE("n 0", INVAL, "n", barlow_selector_score_f64(fx.sel, xd, 0, D, fx.fail, scores));
    SS_CASE("d 0", INVAL, "d", barlow_selector_score_f64(fx.sel, xd, N, 0, fx.fail, scores));
    SS_CASE("n*d overflows", INVAL, "overflow",
            barlow_selector_score_f64(fx.sel, xd, N, SIZE_MAX / 8, fx.fail, scores));
    SS_CASE("n 2^31", INVAL, "2147483648",
            barlow_selector_score_f64(fx.sel, xd, (size_t)1 << 31, 1, fx.fail, scores));
    SS_CASE("NaN at row 4, column 5", INVAL, "row 4",
            barlow_selector_score_f64(fx.sel, xnan, N, D, fx.fail, scores));
    SS_CASE("a failure flag 2 at index 13", INVAL, "13",
            barlow_selector_score_f64(fx.sel, xd, N, D, flags2, scores));

    fn = "barlow_selector_score_rows";
    {
        static size_t rows[N], rows_big[2] = {0, N}, rows_max[1] = {SIZE_MAX};
        for (size_t i = 0; i < N; i++) rows[i] = N - 1 - i; /* any order */
        static uint8_t flags_rows[N];
        memcpy(flags_rows, fx.fail, N);
        flags_rows[7] = 2;
        SS_CASE("NULL sel", INVAL, "NULL",
                barlow_selector_score_rows(NULL, fx.F, rows, N, fx.fail, scores));
        SS_CASE("NULL features", INVAL, "features",
                barlow_selector_score_rows(fx.sel, NULL, rows, N, fx.fail, scores));
        SS_CASE("NULL rows", INVAL, "rows",
                barlow_selector_score_rows(fx.sel, fx.F, NULL, N, fx.fail, scores));
        SS_CASE("NULL failures", INVAL, "failures",
                barlow_selector_score_rows(fx.sel, fx.F, rows, N, NULL, scores));
        SS_CASE("NULL scores", INVAL, "scores",
                barlow_selector_score_rows(fx.sel, fx.F, rows, N, fx.fail, NULL));
        SS_CASE("n_rows 0", INVAL, "n_rows",
                barlow_selector_score_rows(fx.sel, fx.F, rows, 0, fx.fail, scores));
        SS_CASE("a row = the matrix's rows", INVAL, "rows[1]",
                barlow_selector_score_rows(fx.sel, fx.F, rows_big, 2, fx.fail, scores));
        SS_CASE("a row SIZE_MAX", INVAL, "rows[0]",
                barlow_selector_score_rows(fx.sel, fx.F, rows_max, 1, fx.fail, scores));
        SS_CASE("NaN in a given row", INVAL, "row 3",
                barlow_selector_score_rows(fx.sel, fx.Fnan, rows, N, fx.fail, scores));
        SS_CASE("a failure flag 2 at index 7", INVAL, "7",
                barlow_selector_score_rows(fx.sel, fx.F, rows, N, flags_rows, scores));
    }

    fn = "barlow_selector_top_k";
    {
        static size_t top[D + 1];
#define TK_CASE(input, expect, needle, ...)                           \
    CASE(fn, input, expect, needle) {                                 \
        scores[0] = 77;                                               \
        top[0] = 77;                                                  \
        BAD((__VA_ARGS__));                                           \
        bi.untouched = scores[0] == 77 && top[0] == 77;               \
        WORKS();                                                      \
    }
        TK_CASE("NULL sel", INVAL, "NULL", barlow_selector_top_k(NULL, fx.F, fx.fail, 2, top, scores));
        TK_CASE("NULL features", INVAL, "features",
                barlow_selector_top_k(fx.sel, NULL, fx.fail, 2, top, scores));
        TK_CASE("NULL failures", INVAL, "failures",
                barlow_selector_top_k(fx.sel, fx.F, NULL, 2, top, scores));
        TK_CASE("NULL top", INVAL, "top", barlow_selector_top_k(fx.sel, fx.F, fx.fail, 2, NULL, scores));
        TK_CASE("k 0", INVAL, "k", barlow_selector_top_k(fx.sel, fx.F, fx.fail, 0, top, scores));
        TK_CASE("k 7 > d 6", INVAL, "7", barlow_selector_top_k(fx.sel, fx.F, fx.fail, 7, top, scores));
        TK_CASE("NaN at row 3", INVAL, "row 3",
                barlow_selector_top_k(fx.sel, fx.Fnan, fx.fail, 2, top, scores));
        TK_CASE("a failure flag 2", INVAL, "13",
                barlow_selector_top_k(fx.sel, fx.F, flags2, 2, top, scores));

        works_fn = NULL;
        fn = "barlow_selector_rank";
        static const double sc[4] = {0.1, 0.5, NAN, 0.2};
#define RK_CASE(input, expect, needle, ...)                           \
    CASE(fn, input, expect, needle) {                                 \
        top[0] = 77;                                                  \
        BAD((__VA_ARGS__));                                           \
        bi.untouched = top[0] == 77;                                  \
        WORKS();                                                      \
    }
        RK_CASE("NULL scores", INVAL, "scores", barlow_selector_rank(NULL, 4, 2, top));
        RK_CASE("NULL top", INVAL, "top", barlow_selector_rank(sc, 4, 2, NULL));
        RK_CASE("d 0", INVAL, "d", barlow_selector_rank(sc, 0, 0, top));
        RK_CASE("k 0", INVAL, "k", barlow_selector_rank(sc, 4, 0, top));
        RK_CASE("k 5 > d 4", INVAL, "5", barlow_selector_rank(sc, 4, 5, top));
        /* d x 16 bytes of scratch overflows: NOMEM, as the header lists */
        RK_CASE("d SIZE_MAX", BARLOW_E_NOMEM, "overflow",
                barlow_selector_rank(sc, SIZE_MAX, SIZE_MAX, top));
    }
    bi_end(&bi);
}

/* ---- tree.h -------------------------------------------------------------------- */

static int tree_works(void)
{
    barlow_tree_node node;
    node.version = BARLOW_TREE_NODE_VERSION;
    barlow_buffer b = {0};
    size_t leaf = 0;
    int ok = barlow_tree_get_node(fx.tree, 0, &node) == BARLOW_OK && node.id == 0 &&
             barlow_tree_to_json(fx.tree, NULL, NULL, &b) == BARLOW_OK &&
             barlow_tree_apply_row(fx.tree, fx.x, D, &leaf) == BARLOW_OK;
    barlow_buffer_free(&b);
    return ok;
}

static int eval_works(void)
{
    barlow_tree_summary s;
    s.version = BARLOW_TREE_SUMMARY_VERSION;
    return barlow_tree_eval_get_summary(fx.ev, &s) == BARLOW_OK && s.size == N;
}

static barlow_status wr_tree_json(const char *path)
{
    return barlow_tree_save_json(fx.tree, NULL, fx.ev, path);
}

/* A copy of the tree's serialized bytes with one change. */
static unsigned char *tree_bytes_with(size_t at, unsigned char value, size_t *n)
{
    *n = fx.tree_bytes.size;
    unsigned char *b = malloc(*n + 1);
    memcpy(b, fx.tree_bytes.data, *n);
    if (at < *n) b[at] = value;
    return b;
}

static void table_tree(void)
{
    bi_begin(&bi, "tree.h");
    const char *fn;
    static uint8_t flags2[N];
    memcpy(flags2, fx.fail, N);
    flags2[17] = 2;
    static size_t cols_bad[2] = {1, 6}, cols_rep[3] = {1, 2, 1}, cols_ok[2] = {0, 2};
    const size_t nodes = barlow_tree_node_count(fx.tree);
    static char nodes_txt[32];
    snprintf(nodes_txt, sizeof nodes_txt, "%zu", nodes);

    works_fn = NULL;
    fn = "barlow_tree_fit";
    {
        static barlow_tree_options v0, v999, d0, d17, crit, cw, wc0, wfnan, wcneg, wfinf, mss, msl,
            mid, midnan;
#define TOPT(var, field, value) \
    barlow_tree_options_init(&var); var.field = value
        TOPT(v0, version, 0);
        TOPT(v999, version, 999);
        TOPT(d0, max_depth, 0);
        TOPT(d17, max_depth, 17);
        TOPT(crit, criterion, (barlow_criterion)5);
        TOPT(cw, class_weight, (barlow_class_weight)7);
        TOPT(wc0, class_weight, BARLOW_CLASS_WEIGHT_GIVEN);
        wc0.weight_correct = 0;
        TOPT(wfnan, class_weight, BARLOW_CLASS_WEIGHT_GIVEN);
        wfnan.weight_failure = NAN;
        TOPT(wcneg, class_weight, BARLOW_CLASS_WEIGHT_GIVEN);
        wcneg.weight_correct = -1;
        TOPT(wfinf, class_weight, BARLOW_CLASS_WEIGHT_GIVEN);
        wfinf.weight_failure = INFINITY;
        TOPT(mss, min_samples_split, 1);
        TOPT(msl, min_samples_leaf, 0);
        TOPT(mid, min_impurity_decrease, -0.5);
        TOPT(midnan, min_impurity_decrease, NAN);
#define TF(input, expect, needle, ...) \
    MK(fn, input, expect, needle, barlow_tree, barlow_tree_free, __VA_ARGS__)
        TF("NULL features", INVAL, "features", barlow_tree_fit(NULL, fx.fail, NULL, 0, NULL, &o));
        TF("NULL failures", INVAL, "failures", barlow_tree_fit(fx.F, NULL, NULL, 0, NULL, &o));
        PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_tree_fit(fx.F, fx.fail, NULL, 0, NULL, NULL));
        TF("a failure flag 2 at row 17", INVAL, "17", barlow_tree_fit(fx.F, flags2, NULL, 0, NULL, &o));
        TF("NaN at row 3, column 2", INVAL, "row 3", barlow_tree_fit(fx.Fnan, fx.fail, NULL, 0, NULL, &o));
        TF("-inf at row 5, column 1", INVAL, "row 5", barlow_tree_fit(fx.Finf, fx.fail, NULL, 0, NULL, &o));
        TF("a column index 6 of 6", INVAL, "6", barlow_tree_fit(fx.F, fx.fail, cols_bad, 2, NULL, &o));
        TF("a repeated column", INVAL, "1", barlow_tree_fit(fx.F, fx.fail, cols_rep, 3, NULL, &o));
        TF("columns with n_columns 0", INVAL, "n_columns",
           barlow_tree_fit(fx.F, fx.fail, cols_ok, 0, NULL, &o));
        TF("NULL columns with n_columns 2", INVAL, "n_columns",
           barlow_tree_fit(fx.F, fx.fail, NULL, 2, NULL, &o));
        TF("options version 0", INVAL, "barlow_tree_options",
           barlow_tree_fit(fx.F, fx.fail, NULL, 0, &v0, &o));
        TF("options version 999", INVAL, "barlow_tree_options",
           barlow_tree_fit(fx.F, fx.fail, NULL, 0, &v999, &o));
        TF("max_depth 0", INVAL, "max_depth", barlow_tree_fit(fx.F, fx.fail, NULL, 0, &d0, &o));
        TF("max_depth 17", INVAL, "max_depth", barlow_tree_fit(fx.F, fx.fail, NULL, 0, &d17, &o));
        TF("criterion 5", INVAL, "criterion", barlow_tree_fit(fx.F, fx.fail, NULL, 0, &crit, &o));
        TF("class_weight 7", INVAL, "class_weight", barlow_tree_fit(fx.F, fx.fail, NULL, 0, &cw, &o));
        TF("weight_correct 0", INVAL, "weight_correct",
           barlow_tree_fit(fx.F, fx.fail, NULL, 0, &wc0, &o));
        TF("weight_correct -1", INVAL, "weight_correct",
           barlow_tree_fit(fx.F, fx.fail, NULL, 0, &wcneg, &o));
        TF("weight_failure NaN", INVAL, "weight_failure",
           barlow_tree_fit(fx.F, fx.fail, NULL, 0, &wfnan, &o));
        TF("weight_failure inf", INVAL, "weight_failure",
           barlow_tree_fit(fx.F, fx.fail, NULL, 0, &wfinf, &o));
        TF("min_samples_split 1", INVAL, "min_samples_split",
           barlow_tree_fit(fx.F, fx.fail, NULL, 0, &mss, &o));
        TF("min_samples_leaf 0", INVAL, "min_samples_leaf",
           barlow_tree_fit(fx.F, fx.fail, NULL, 0, &msl, &o));
        TF("min_impurity_decrease -0.5", INVAL, "min_impurity_decrease",
           barlow_tree_fit(fx.F, fx.fail, NULL, 0, &mid, &o));
        TF("min_impurity_decrease NaN", INVAL, "min_impurity_decrease",
           barlow_tree_fit(fx.F, fx.fail, NULL, 0, &midnan, &o));
    }

    works_fn = tree_works;
    fn = "barlow_tree_get_node";
#define NODE_CASE(ver, input, expect, needle, ...)                           \
    CASE(fn, input, expect, needle) {                                        \
        barlow_tree_node nd;                                                 \
        memset(&nd, 0x5a, sizeof nd);                                        \
        nd.version = (ver);                                                  \
        barlow_tree_node was = nd;                                           \
        BAD((__VA_ARGS__));                                                  \
        bi.untouched = memcmp(&nd, &was, sizeof nd) == 0;                    \
        WORKS();                                                             \
    }
    NODE_CASE(1, "NULL tree", INVAL, "NULL", barlow_tree_get_node(NULL, 0, &nd));
    NODE_CASE(1, "NULL out", INVAL, "out", barlow_tree_get_node(fx.tree, 0, NULL));
    NODE_CASE(1, "id = node count", INVAL, nodes_txt, barlow_tree_get_node(fx.tree, nodes, &nd));
    NODE_CASE(1, "id SIZE_MAX", INVAL, "18446744073709551615",
              barlow_tree_get_node(fx.tree, SIZE_MAX, &nd));
    NODE_CASE(0, "node version 0", INVAL, "barlow_tree_node", barlow_tree_get_node(fx.tree, 0, &nd));
    NODE_CASE(999, "node version 999", INVAL, "barlow_tree_node",
              barlow_tree_get_node(fx.tree, 0, &nd));

    fn = "barlow_tree_get_summary";
#define SUM_CASE(ver, input, expect, needle, ...)                            \
    CASE(fn, input, expect, needle) {                                        \
        barlow_tree_summary sm;                                              \
        memset(&sm, 0x5a, sizeof sm);                                        \
        sm.version = (ver);                                                  \
        barlow_tree_summary was = sm;                                        \
        BAD((__VA_ARGS__));                                                  \
        bi.untouched = memcmp(&sm, &was, sizeof sm) == 0;                    \
        WORKS();                                                             \
    }
    SUM_CASE(1, "NULL tree", INVAL, "NULL", barlow_tree_get_summary(NULL, &sm));
    SUM_CASE(1, "NULL out", INVAL, "out", barlow_tree_get_summary(fx.tree, NULL));
    SUM_CASE(0, "summary version 0", INVAL, "barlow_tree_summary",
             barlow_tree_get_summary(fx.tree, &sm));
    SUM_CASE(999, "summary version 999", INVAL, "barlow_tree_summary",
             barlow_tree_get_summary(fx.tree, &sm));

    static size_t ids[64], rows[N + 1];
#define IDS_CASE(input, expect, needle, ...)                                 \
    CASE(fn, input, expect, needle) {                                        \
        ids[0] = rows[0] = 77;                                               \
        size_t n_out = 77;                                                   \
        BAD((__VA_ARGS__));                                                  \
        bi.untouched = ids[0] == 77 && rows[0] == 77 && n_out == 77;         \
        WORKS();                                                             \
    }
    fn = "barlow_tree_leaves_by_importance";
    IDS_CASE("NULL tree", INVAL, "NULL", barlow_tree_leaves_by_importance(NULL, ids));
    IDS_CASE("NULL ids", INVAL, "ids", barlow_tree_leaves_by_importance(fx.tree, NULL));

    fn = "barlow_tree_rules";
    {
        static barlow_rule_options v0, v999, cov, covn, er, pv, pvn;
#define ROPT(var, field, value) \
    barlow_rule_options_init(&var); var.field = value
        ROPT(v0, version, 0);
        ROPT(v999, version, 999);
        ROPT(cov, min_coverage, -0.1);
        ROPT(covn, min_coverage, NAN);
        ROPT(er, min_error_rate, 1.5);
        ROPT(pv, max_p_value, 2);
        ROPT(pvn, max_p_value, NAN);
        IDS_CASE("NULL tree", INVAL, "NULL", barlow_tree_rules(NULL, NULL, ids, &n_out));
        IDS_CASE("NULL leaves", INVAL, "leaves", barlow_tree_rules(fx.tree, NULL, NULL, &n_out));
        IDS_CASE("NULL n_out", INVAL, "n_out", barlow_tree_rules(fx.tree, NULL, ids, NULL));
        IDS_CASE("options version 0", INVAL, "barlow_rule_options",
                 barlow_tree_rules(fx.tree, &v0, ids, &n_out));
        IDS_CASE("options version 999", INVAL, "barlow_rule_options",
                 barlow_tree_rules(fx.tree, &v999, ids, &n_out));
        IDS_CASE("min_coverage -0.1", INVAL, "min_coverage",
                 barlow_tree_rules(fx.tree, &cov, ids, &n_out));
        IDS_CASE("min_coverage NaN", INVAL, "min_coverage",
                 barlow_tree_rules(fx.tree, &covn, ids, &n_out));
        IDS_CASE("min_error_rate 1.5", INVAL, "min_error_rate",
                 barlow_tree_rules(fx.tree, &er, ids, &n_out));
        IDS_CASE("max_p_value 2", INVAL, "max_p_value", barlow_tree_rules(fx.tree, &pv, ids, &n_out));
        IDS_CASE("max_p_value NaN", INVAL, "max_p_value",
                 barlow_tree_rules(fx.tree, &pvn, ids, &n_out));

        fn = "barlow_tree_path";
        {
            static barlow_condition conds[BARLOW_TREE_MAX_DEPTH];
#define PATH_CASE(input, expect, needle, ...)                                \
    CASE(fn, input, expect, needle) {                                        \
        conds[0].feature = 77;                                               \
        size_t n_out = 77;                                                   \
        BAD((__VA_ARGS__));                                                  \
        bi.untouched = conds[0].feature == 77 && n_out == 77;                \
        WORKS();                                                             \
    }
            PATH_CASE("NULL tree", INVAL, "NULL", barlow_tree_path(NULL, 1, conds, &n_out));
            PATH_CASE("NULL conds", INVAL, "conds", barlow_tree_path(fx.tree, 1, NULL, &n_out));
            PATH_CASE("NULL n_out", INVAL, "n_out", barlow_tree_path(fx.tree, 1, conds, NULL));
            PATH_CASE("id = node count", INVAL, nodes_txt,
                      barlow_tree_path(fx.tree, nodes, conds, &n_out));
        }

        fn = "barlow_tree_rule_text";
        BUF(fn, "NULL tree", INVAL, "NULL", barlow_tree_rule_text(NULL, 0, &o));
        PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_tree_rule_text(fx.tree, 0, NULL));
        BUF(fn, "id = node count", INVAL, nodes_txt, barlow_tree_rule_text(fx.tree, nodes, &o));
        fn = "barlow_tree_rule_text_named";
        static const char *const names[2] = {"buckle", "leg gap"};
        BUF(fn, "NULL tree", INVAL, "NULL", barlow_tree_rule_text_named(NULL, 0, names, 2, &o));
        PLAIN(fn, "NULL out", INVAL, "out", 1,
              barlow_tree_rule_text_named(fx.tree, 0, names, 2, NULL));
        BUF(fn, "id = node count", INVAL, nodes_txt,
            barlow_tree_rule_text_named(fx.tree, nodes, names, 2, &o));
        BUF(fn, "NULL names with n_names 2", INVAL, "names",
            barlow_tree_rule_text_named(fx.tree, 0, NULL, 2, &o));

        fn = "barlow_tree_apply_row";
        {
            static float row[D], rownan[D];
            for (size_t j = 0; j < D; j++) row[j] = rownan[j] = 0.5f;
            /* NaN in every column: a split column is among them */
            for (size_t j = 0; j < D; j++) rownan[j] = NAN;
#define LEAF_CASE(input, expect, needle, ...)                                \
    CASE(fn, input, expect, needle) {                                        \
        size_t leaf = 77;                                                    \
        BAD((__VA_ARGS__));                                                  \
        bi.untouched = leaf == 77;                                           \
        WORKS();                                                             \
    }
            LEAF_CASE("NULL tree", INVAL, "NULL", barlow_tree_apply_row(NULL, row, D, &leaf));
            LEAF_CASE("NULL row", INVAL, "row", barlow_tree_apply_row(fx.tree, NULL, D, &leaf));
            LEAF_CASE("NULL leaf", INVAL, "leaf", barlow_tree_apply_row(fx.tree, row, D, NULL));
            LEAF_CASE("n_values 5 of 6", INVAL, "5", barlow_tree_apply_row(fx.tree, row, D - 1, &leaf));
            LEAF_CASE("n_values 0", INVAL, "0", barlow_tree_apply_row(fx.tree, row, 0, &leaf));
            LEAF_CASE("NaN in the split columns", INVAL, "NaN",
                      barlow_tree_apply_row(fx.tree, rownan, D, &leaf));
        }

        fn = "barlow_tree_apply";
        {
            static size_t leaves[N];
#define LEAVES_CASE(input, expect, needle, ...)                              \
    CASE(fn, input, expect, needle) {                                        \
        leaves[0] = 77;                                                      \
        BAD((__VA_ARGS__));                                                  \
        bi.untouched = leaves[0] == 77;                                      \
        WORKS();                                                             \
    }
            LEAVES_CASE("NULL tree", INVAL, "NULL", barlow_tree_apply(NULL, fx.F, leaves));
            LEAVES_CASE("NULL features", INVAL, "features", barlow_tree_apply(fx.tree, NULL, leaves));
            LEAVES_CASE("NULL leaves", INVAL, "leaves", barlow_tree_apply(fx.tree, fx.F, NULL));
            LEAVES_CASE("5 columns for 6", INVAL, "5", barlow_tree_apply(fx.tree, fx.F5, leaves));
            LEAVES_CASE("NaN in a split column (row 3)", INVAL, "row 3",
                        barlow_tree_apply(fx.tree, fx.Fnan, leaves));
        }

        fn = "barlow_tree_node_rows";
        IDS_CASE("NULL tree", INVAL, "NULL",
                 barlow_tree_node_rows(NULL, 0, BARLOW_ROWS_ALL, rows, &n_out));
        IDS_CASE("NULL rows", INVAL, "rows",
                 barlow_tree_node_rows(fx.tree, 0, BARLOW_ROWS_ALL, NULL, &n_out));
        IDS_CASE("NULL n_out", INVAL, "n_out",
                 barlow_tree_node_rows(fx.tree, 0, BARLOW_ROWS_ALL, rows, NULL));
        IDS_CASE("id = node count", INVAL, nodes_txt,
                 barlow_tree_node_rows(fx.tree, nodes, BARLOW_ROWS_ALL, rows, &n_out));
        IDS_CASE("which 3", INVAL, "3", barlow_tree_node_rows(fx.tree, 0, (barlow_rows)3, rows, &n_out));
        IDS_CASE("which -1", INVAL, "-1",
                 barlow_tree_node_rows(fx.tree, 0, (barlow_rows)-1, rows, &n_out));
        fn = "barlow_tree_sample_rows";
        IDS_CASE("NULL tree", INVAL, "NULL",
                 barlow_tree_sample_rows(NULL, 0, BARLOW_ROWS_ALL, 3, 1, rows, &n_out));
        IDS_CASE("NULL rows", INVAL, "rows",
                 barlow_tree_sample_rows(fx.tree, 0, BARLOW_ROWS_ALL, 3, 1, NULL, &n_out));
        IDS_CASE("NULL n_out", INVAL, "n_out",
                 barlow_tree_sample_rows(fx.tree, 0, BARLOW_ROWS_ALL, 3, 1, rows, NULL));
        IDS_CASE("id = node count", INVAL, nodes_txt,
                 barlow_tree_sample_rows(fx.tree, nodes, BARLOW_ROWS_ALL, 3, 1, rows, &n_out));
        IDS_CASE("which 3", INVAL, "3",
                 barlow_tree_sample_rows(fx.tree, 0, (barlow_rows)3, 3, 1, rows, &n_out));

        works_fn = NULL;
        fn = "barlow_tree_evaluate";
#define EV(input, expect, needle, ...) \
    MK(fn, input, expect, needle, barlow_tree_eval, barlow_tree_eval_free, __VA_ARGS__)
        works_fn = tree_works;
        EV("NULL tree", INVAL, "NULL", barlow_tree_evaluate(NULL, fx.F, fx.fail, &o));
        EV("NULL features", INVAL, "features", barlow_tree_evaluate(fx.tree, NULL, fx.fail, &o));
        EV("NULL failures", INVAL, "failures", barlow_tree_evaluate(fx.tree, fx.F, NULL, &o));
        PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_tree_evaluate(fx.tree, fx.F, fx.fail, NULL));
        EV("5 columns for 6", INVAL, "5", barlow_tree_evaluate(fx.tree, fx.F5, fx.fail, &o));
        EV("a failure flag 2 at row 17", INVAL, "17", barlow_tree_evaluate(fx.tree, fx.F, flags2, &o));
        EV("NaN in a split column (row 3)", INVAL, "row 3",
           barlow_tree_evaluate(fx.tree, fx.Fnan, fx.fail, &o));

        works_fn = eval_works;
        fn = "barlow_tree_eval_get_node";
        NODE_CASE(1, "NULL eval", INVAL, "NULL", barlow_tree_eval_get_node(NULL, 0, &nd));
        NODE_CASE(1, "NULL out", INVAL, "out", barlow_tree_eval_get_node(fx.ev, 0, NULL));
        NODE_CASE(1, "id = node count", INVAL, nodes_txt,
                  barlow_tree_eval_get_node(fx.ev, nodes, &nd));
        NODE_CASE(0, "node version 0", INVAL, "barlow_tree_node",
                  barlow_tree_eval_get_node(fx.ev, 0, &nd));
        NODE_CASE(999, "node version 999", INVAL, "barlow_tree_node",
                  barlow_tree_eval_get_node(fx.ev, 0, &nd));
        fn = "barlow_tree_eval_get_summary";
        SUM_CASE(1, "NULL eval", INVAL, "NULL", barlow_tree_eval_get_summary(NULL, &sm));
        SUM_CASE(1, "NULL out", INVAL, "out", barlow_tree_eval_get_summary(fx.ev, NULL));
        SUM_CASE(0, "summary version 0", INVAL, "barlow_tree_summary",
                 barlow_tree_eval_get_summary(fx.ev, &sm));
        SUM_CASE(999, "summary version 999", INVAL, "barlow_tree_summary",
                 barlow_tree_eval_get_summary(fx.ev, &sm));
        fn = "barlow_tree_eval_leaves_by_importance";
        IDS_CASE("NULL eval", INVAL, "NULL", barlow_tree_eval_leaves_by_importance(NULL, ids));
        IDS_CASE("NULL ids", INVAL, "ids", barlow_tree_eval_leaves_by_importance(fx.ev, NULL));

        works_fn = tree_works;
        fn = "barlow_tree_to_json";
        BUF(fn, "NULL tree", INVAL, "NULL", barlow_tree_to_json(NULL, NULL, NULL, &o));
        PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_tree_to_json(fx.tree, NULL, NULL, NULL));
        BUF(fn, "rule options version 0", INVAL, "barlow_rule_options",
            barlow_tree_to_json(fx.tree, &v0, NULL, &o));
        BUF(fn, "rule options version 999", INVAL, "barlow_rule_options",
            barlow_tree_to_json(fx.tree, &v999, NULL, &o));
        BUF(fn, "max_p_value NaN", INVAL, "max_p_value", barlow_tree_to_json(fx.tree, &pvn, NULL, &o));
        BUF(fn, "an evaluation of another tree", INVAL, "tree",
            barlow_tree_to_json(fx.tree2, NULL, fx.ev, &o));

        fn = "barlow_tree_save_json";
        PLAIN(fn, "NULL tree", INVAL, "NULL", !exists(tp("out/t.json")),
              barlow_tree_save_json(NULL, NULL, NULL, tp("out/t.json")));
        PLAIN(fn, "rule options version 0", INVAL, "barlow_rule_options", !exists(tp("out/t.json")),
              barlow_tree_save_json(fx.tree, &v0, NULL, tp("out/t.json")));
        PLAIN(fn, "rule options version 999", INVAL, "barlow_rule_options",
              !exists(tp("out/t.json")), barlow_tree_save_json(fx.tree, &v999, NULL, tp("out/t.json")));
        PLAIN(fn, "min_error_rate 1.5", INVAL, "min_error_rate", !exists(tp("out/t.json")),
              barlow_tree_save_json(fx.tree, &er, NULL, tp("out/t.json")));
        PLAIN(fn, "an evaluation of another tree", INVAL, "tree", !exists(tp("out/t.json")),
              barlow_tree_save_json(fx.tree2, NULL, fx.ev, tp("out/t.json")));
        hostile_outputs(fn, wr_tree_json);
    }

    fn = "barlow_tree_to_dot";
    BUF(fn, "NULL tree", INVAL, "NULL", barlow_tree_to_dot(NULL, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_tree_to_dot(fx.tree, NULL));

    fn = "barlow_tree_to_svg";
    {
        static barlow_svg_options v0, v999, nn, h3, hbig, mw, mwn, mwi;
#define SOPT(var, field, value) \
    barlow_svg_options_init(&var); var.field = value
        SOPT(v0, version, 0);
        SOPT(v999, version, 999);
        SOPT(nn, n_names, 2);
        SOPT(h3, highlight, -3);
        SOPT(hbig, highlight, 999);
        SOPT(mw, max_width, -1);
        SOPT(mwn, max_width, NAN);
        SOPT(mwi, max_width, INFINITY);
        BUF(fn, "NULL tree", INVAL, "NULL", barlow_tree_to_svg(NULL, NULL, &o));
        PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_tree_to_svg(fx.tree, NULL, NULL));
        BUF(fn, "options version 0", INVAL, "barlow_svg_options", barlow_tree_to_svg(fx.tree, &v0, &o));
        BUF(fn, "options version 999", INVAL, "barlow_svg_options",
            barlow_tree_to_svg(fx.tree, &v999, &o));
        BUF(fn, "NULL names with n_names 2", INVAL, "names", barlow_tree_to_svg(fx.tree, &nn, &o));
        BUF(fn, "highlight -3", INVAL, "-3", barlow_tree_to_svg(fx.tree, &h3, &o));
        BUF(fn, "highlight 999", INVAL, "999", barlow_tree_to_svg(fx.tree, &hbig, &o));
        BUF(fn, "max_width -1", INVAL, "max_width", barlow_tree_to_svg(fx.tree, &mw, &o));
        BUF(fn, "max_width NaN", INVAL, "max_width", barlow_tree_to_svg(fx.tree, &mwn, &o));
        BUF(fn, "max_width inf", INVAL, "max_width", barlow_tree_to_svg(fx.tree, &mwi, &o));
    }

    fn = "barlow_tree_serialize";
    BUF(fn, "NULL tree", INVAL, "NULL", barlow_tree_serialize(NULL, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_tree_serialize(fx.tree, NULL));

    works_fn = NULL;
    fn = "barlow_tree_deserialize";
    {
        const unsigned char *tb = fx.tree_bytes.data;
        size_t tn = fx.tree_bytes.size;
        static const char junk[] = "\xde\xad\xbe\xef garbage bytes, not a tree";
        MK(fn, "NULL data with size 10", INVAL, "data", barlow_tree, barlow_tree_free,
           barlow_tree_deserialize(NULL, 10, &o));
        PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_tree_deserialize(tb, tn, NULL));
        MK(fn, "size 0", FMT, "barlow_tree_deserialize", barlow_tree, barlow_tree_free,
           barlow_tree_deserialize(tb, 0, &o));
        MK(fn, "garbage bytes", FMT, "BARLOWTR", barlow_tree, barlow_tree_free,
           barlow_tree_deserialize(junk, sizeof junk - 1, &o));
        static const size_t cuts[] = {1, 4, 8, 12, 30, 60, 100, 200};
        for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
            static char label[8][64];
            snprintf(label[c], sizeof label[c], "truncated to %zu of %zu bytes", cuts[c], tn);
            if (cuts[c] < tn)
                MK(fn, label[c], FMT, "byte", barlow_tree, barlow_tree_free,
                   barlow_tree_deserialize(tb, cuts[c], &o));
        }
        MK(fn, "all but the last byte", FMT, "byte", barlow_tree, barlow_tree_free,
           barlow_tree_deserialize(tb, tn - 1, &o));
        CASE(fn, "a trailing byte", FMT, "trailing") {
            size_t n = 0;
            unsigned char *b = tree_bytes_with(SIZE_MAX, 0, &n);
            barlow_tree *o = BI_SENTINEL;
            BAD(barlow_tree_deserialize(b, n + 1, &o));
            bi.untouched = o == BI_SENTINEL;
            free(b);
            WORKS();
        }
        CASE(fn, "a wrong magic", FMT, "BARLOWTR") {
            size_t n = 0;
            unsigned char *b = tree_bytes_with(0, (unsigned char)(tb[0] ^ 0xff), &n);
            barlow_tree *o = BI_SENTINEL;
            BAD(barlow_tree_deserialize(b, n, &o));
            bi.untouched = o == BI_SENTINEL;
            free(b);
            WORKS();
        }
        CASE(fn, "format version 99", FMT, "version") {
            size_t n = 0;
            unsigned char *b = tree_bytes_with(SIZE_MAX, 0, &n);
            b[8] = 99; /* the u32 after the 8-byte magic */
            barlow_tree *o = BI_SENTINEL;
            BAD(barlow_tree_deserialize(b, n, &o));
            bi.untouched = o == BI_SENTINEL;
            free(b);
            WORKS();
        }
    }
    bi_end(&bi);
}

/* ---- analysis.h ------------------------------------------------------------------ */

static int an_works(void)
{
    barlow_analysis_group g;
    g.version = BARLOW_ANALYSIS_GROUP_VERSION;
    barlow_buffer b = {0};
    int ok = barlow_analysis_get_group(fx.an, 0, &g) == BARLOW_OK && g.class_name &&
             barlow_analysis_to_csv(fx.an, &b) == BARLOW_OK;
    barlow_buffer_free(&b);
    return ok;
}

/* The inputs of a run: the features and the dataset still work. */
static int run_inputs_work(void)
{
    size_t n = 0;
    return barlow_analysis_count_groups(fx.ds, NULL, &n) == BARLOW_OK && n == fx.an_groups &&
           matrix_works();
}

static barlow_status wr_an_json(const char *path) { return barlow_analysis_save_json(fx.an, path); }
static barlow_status wr_an_csv(const char *path) { return barlow_analysis_save_csv(fx.an, path); }

static void table_analysis(void)
{
    bi_begin(&bi, "analysis.h");
    const char *fn;
    static barlow_analysis_options base, v0, v999, g0, g4, k0, k7, dep0, dep17, deprep, dep17n,
        depnull, dl, dh, dn, gam, mgs0, nn0, est, tv0, tv999, tdepth, rv0, rv999, rcov;
    static int32_t d0[1] = {0}, d17[1] = {17}, drep[2] = {1, 1}, many[17];
    for (int i = 0; i < 17; i++) many[i] = i % 16 + 1;
    static barlow_tree_options to_v0, to_v999, to_d0;
    barlow_tree_options_init(&to_v0);
    to_v0.version = 0;
    barlow_tree_options_init(&to_v999);
    to_v999.version = 999;
    barlow_tree_options_init(&to_d0);
    to_d0.max_depth = 0;
    static barlow_rule_options ro_v0, ro_v999, ro_cov;
    barlow_rule_options_init(&ro_v0);
    ro_v0.version = 0;
    barlow_rule_options_init(&ro_v999);
    ro_v999.version = 999;
    barlow_rule_options_init(&ro_cov);
    ro_cov.min_coverage = 2;
#define AOPT(var, field, value)          \
    barlow_analysis_options_init(&var); \
    var.k = 3;                          \
    var.threads = 1;                    \
    var.field = value
    AOPT(base, k, 3);
    AOPT(v0, version, 0);
    AOPT(v999, version, 999);
    AOPT(g0, groupings, 0);
    AOPT(g4, groupings, 4);
    AOPT(k0, k, 0);
    AOPT(k7, k, 7);
    AOPT(dep0, depths, d0);
    dep0.n_depths = 1;
    AOPT(dep17, depths, d17);
    dep17.n_depths = 1;
    AOPT(deprep, depths, drep);
    deprep.n_depths = 2;
    AOPT(dep17n, depths, many);
    dep17n.n_depths = 17;
    AOPT(depnull, n_depths, 2);
    AOPT(dl, delta, -0.1);
    AOPT(dh, delta, 1.5);
    AOPT(dn, delta, NAN);
    AOPT(gam, gamma, 2);
    AOPT(mgs0, min_group_size, 0);
    AOPT(nn0, n_neighbors, 0);
    AOPT(est, estimator, (barlow_estimator)9);
    AOPT(tv0, tree, &to_v0);
    AOPT(tv999, tree, &to_v999);
    AOPT(tdepth, tree, &to_d0);
    AOPT(rv0, rules, &ro_v0);
    AOPT(rv999, rules, &ro_v999);
    AOPT(rcov, rules, &ro_cov);
    static const struct {
        const char *what, *needle;
        const barlow_analysis_options *o;
    } bad_opts[] = {
        {"options version 0", "barlow_analysis_options", &v0},
        {"options version 999", "barlow_analysis_options", &v999},
        {"groupings 0", "groupings", &g0},
        {"groupings 4", "groupings", &g4},
        {"k 0", "k=0", &k0},
        {"k 7 > d 6", "k=7", &k7},
        {"a depth 0", "0", &dep0},
        {"a depth 17", "17", &dep17},
        {"a repeated depth", "1", &deprep},
        {"17 depths", "17", &dep17n},
        {"NULL depths with n_depths 2", "depths", &depnull},
        {"delta -0.1", "delta", &dl},
        {"delta 1.5", "delta", &dh},
        {"delta NaN", "delta", &dn},
        {"gamma 2", "gamma", &gam},
        {"min_group_size 0", "min_group_size", &mgs0},
        {"n_neighbors 0", "n_neighbors", &nn0},
        {"estimator 9", "estimator", &est},
        {"tree options version 0", "barlow_tree_options", &tv0},
        {"tree options version 999", "barlow_tree_options", &tv999},
        {"tree max_depth 0", "max_depth", &tdepth},
        {"rule options version 0", "barlow_rule_options", &rv0},
        {"rule options version 999", "barlow_rule_options", &rv999},
        {"rule min_coverage 2", "min_coverage", &rcov},
    };
    const size_t n_bad = sizeof bad_opts / sizeof bad_opts[0];

    works_fn = run_inputs_work;
    fn = "barlow_analysis_run";
#define AR(input, expect, needle, ...) \
    MK(fn, input, expect, needle, barlow_analysis, barlow_analysis_free, __VA_ARGS__)
    AR("NULL features", INVAL, "features", barlow_analysis_run(NULL, fx.ds, &base, NULL, NULL, &o));
    AR("NULL dataset", INVAL, "dataset", barlow_analysis_run(fx.F, NULL, &base, NULL, NULL, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_analysis_run(fx.F, fx.ds, &base, NULL, NULL, NULL));
    AR("features of 10 rows for 40", INVAL, "10",
       barlow_analysis_run(fx.F10, fx.ds, &base, NULL, NULL, &o));
    for (size_t i = 0; i < n_bad; i++)
        AR(bad_opts[i].what, INVAL, bad_opts[i].needle,
           barlow_analysis_run(fx.F, fx.ds, bad_opts[i].o, NULL, NULL, &o));
    AR("NaN at row 3, column 2", INVAL, "row 3",
       barlow_analysis_run(fx.Fnan, fx.ds, &base, NULL, NULL, &o));
    AR("a dataset without predictions", STATE, "predictions",
       barlow_analysis_run(fx.F, fx.ds_np, &base, NULL, NULL, &o));
    AR("cancelled by progress", CANCEL, "cancel",
       barlow_analysis_run(fx.F, fx.ds, &base, cancel_now, NULL, &o));

    fn = "barlow_analysis_count_groups";
#define CG(input, expect, needle, ...)                                    \
    CASE(fn, input, expect, needle) {                                     \
        size_t n = 77;                                                    \
        BAD((__VA_ARGS__));                                               \
        bi.untouched = n == 77;                                           \
        WORKS();                                                          \
    }
    CG("NULL dataset", INVAL, "dataset", barlow_analysis_count_groups(NULL, NULL, &n));
    CG("NULL n_groups", INVAL, "n_groups", barlow_analysis_count_groups(fx.ds, NULL, NULL));
    CG("options version 0", INVAL, "barlow_analysis_options",
       barlow_analysis_count_groups(fx.ds, &v0, &n));
    CG("options version 999", INVAL, "barlow_analysis_options",
       barlow_analysis_count_groups(fx.ds, &v999, &n));
    CG("groupings 0", INVAL, "groupings", barlow_analysis_count_groups(fx.ds, &g0, &n));
    CG("groupings 4", INVAL, "groupings", barlow_analysis_count_groups(fx.ds, &g4, &n));
    CG("a dataset without predictions", STATE, "predictions",
       barlow_analysis_count_groups(fx.ds_np, NULL, &n));

    fn = "barlow_analysis_run_groups";
    const size_t G = fx.an_groups;
    AR("NULL features", INVAL, "features",
       barlow_analysis_run_groups(NULL, fx.ds, &base, 0, 1, NULL, NULL, &o));
    AR("NULL dataset", INVAL, "dataset",
       barlow_analysis_run_groups(fx.F, NULL, &base, 0, 1, NULL, NULL, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1,
          barlow_analysis_run_groups(fx.F, fx.ds, &base, 0, 1, NULL, NULL, NULL));
    AR("count 0", INVAL, "count", barlow_analysis_run_groups(fx.F, fx.ds, &base, 0, 0, NULL, NULL, &o));
    AR("first + count past the plan", INVAL, "count",
       barlow_analysis_run_groups(fx.F, fx.ds, &base, G - 1, 2, NULL, NULL, &o));
    AR("first = the group count", INVAL, "first",
       barlow_analysis_run_groups(fx.F, fx.ds, &base, G, 1, NULL, NULL, &o));
    AR("first + count overflows", INVAL, "first",
       barlow_analysis_run_groups(fx.F, fx.ds, &base, SIZE_MAX, 2, NULL, NULL, &o));
    for (size_t i = 0; i < 6; i++)
        AR(bad_opts[i].what, INVAL, bad_opts[i].needle,
           barlow_analysis_run_groups(fx.F, fx.ds, bad_opts[i].o, 0, 1, NULL, NULL, &o));
    AR("NaN in an analysed group's row", INVAL, "row 3",
       barlow_analysis_run_groups(fx.Fnan, fx.ds, &base, 0, G, NULL, NULL, &o));
    AR("a dataset without predictions", STATE, "predictions",
       barlow_analysis_run_groups(fx.F, fx.ds_np, &base, 0, 1, NULL, NULL, &o));
    AR("cancelled by progress", CANCEL, "cancel",
       barlow_analysis_run_groups(fx.F, fx.ds, &base, 0, 2, cancel_now, NULL, &o));

    works_fn = an_works;
    fn = "barlow_analysis_merge";
    {
        static const barlow_analysis *parts[2], *twice[3], *with_null[2], *mixed[2], *other[2];
        parts[0] = fx.part0;
        parts[1] = fx.part1;
        twice[0] = fx.part0;
        twice[1] = fx.part1;
        twice[2] = fx.part0;
        with_null[0] = fx.part0;
        mixed[0] = fx.part0;
        mixed[1] = fx.an_k2;
        other[0] = fx.an;
        other[1] = fx.an_label;
        AR("NULL parts", INVAL, "parts", barlow_analysis_merge(NULL, 2, &o));
        PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_analysis_merge(parts, 2, NULL));
        AR("n_parts 0", INVAL, "n_parts", barlow_analysis_merge(parts, 0, &o));
        AR("a NULL part", INVAL, "1", barlow_analysis_merge(with_null, 2, &o));
        AR("a group in no part", INVAL, "no part", barlow_analysis_merge(parts, 1, &o));
        AR("a group in two parts", INVAL, "parts 0 and 2", barlow_analysis_merge(twice, 3, &o));
        AR("parts with another k", INVAL, "part 1", barlow_analysis_merge(mixed, 2, &o));
        AR("parts of other groupings", INVAL, "part 1", barlow_analysis_merge(other, 2, &o));
    }

    fn = "barlow_analysis_serialize";
    BUF(fn, "NULL a", INVAL, "NULL", barlow_analysis_serialize(NULL, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_analysis_serialize(fx.an, NULL));

    works_fn = NULL;
    fn = "barlow_analysis_deserialize";
    {
        const unsigned char *ab = fx.an_bytes.data;
        size_t an_n = fx.an_bytes.size;
        static const char junk[] = "\xde\xad\xbe\xef garbage bytes, not an analysis";
        AR("NULL data with size 10", INVAL, "data", barlow_analysis_deserialize(NULL, 10, &o));
        PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_analysis_deserialize(ab, an_n, NULL));
        AR("size 0", FMT, "barlow_analysis_deserialize", barlow_analysis_deserialize(ab, 0, &o));
        AR("garbage bytes", FMT, "BARLOWAN", barlow_analysis_deserialize(junk, sizeof junk - 1, &o));
        static const size_t cuts[] = {4, 12, 40, 100, 300, 1000};
        for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
            static char label[8][64];
            snprintf(label[c], sizeof label[c], "truncated to %zu of %zu bytes", cuts[c], an_n);
            if (cuts[c] < an_n)
                AR(label[c], FMT, "byte", barlow_analysis_deserialize(ab, cuts[c], &o));
        }
        AR("all but the last byte", FMT, "byte", barlow_analysis_deserialize(ab, an_n - 1, &o));
        CASE(fn, "a trailing byte", FMT, "trailing") {
            unsigned char *b = malloc(an_n + 1);
            memcpy(b, ab, an_n);
            b[an_n] = 0;
            barlow_analysis *o = BI_SENTINEL;
            BAD(barlow_analysis_deserialize(b, an_n + 1, &o));
            bi.untouched = o == BI_SENTINEL;
            free(b);
            WORKS();
        }
        CASE(fn, "format version 99", FMT, "version") {
            unsigned char *b = malloc(an_n);
            memcpy(b, ab, an_n);
            b[8] = 99;
            barlow_analysis *o = BI_SENTINEL;
            BAD(barlow_analysis_deserialize(b, an_n, &o));
            bi.untouched = o == BI_SENTINEL;
            free(b);
            WORKS();
        }
        CASE(fn, "a tree's bytes", FMT, "BARLOWAN") {
            barlow_analysis *o = BI_SENTINEL;
            BAD(barlow_analysis_deserialize(fx.tree_bytes.data, fx.tree_bytes.size, &o));
            bi.untouched = o == BI_SENTINEL;
            WORKS();
        }
    }

    works_fn = an_works;
    static char groups_txt[32];
    snprintf(groups_txt, sizeof groups_txt, "%zu", G);
    fn = "barlow_analysis_get_group";
#define GG_CASE(ver, input, expect, needle, ...)                             \
    CASE(fn, input, expect, needle) {                                        \
        barlow_analysis_group g;                                             \
        memset(&g, 0x5a, sizeof g);                                          \
        g.version = (ver);                                                   \
        barlow_analysis_group was = g;                                       \
        BAD((__VA_ARGS__));                                                  \
        bi.untouched = memcmp(&g, &was, sizeof g) == 0;                      \
        WORKS();                                                             \
    }
    GG_CASE(1, "NULL a", INVAL, "NULL", barlow_analysis_get_group(NULL, 0, &g));
    GG_CASE(1, "NULL out", INVAL, "out", barlow_analysis_get_group(fx.an, 0, NULL));
    GG_CASE(1, "i = group count", INVAL, groups_txt, barlow_analysis_get_group(fx.an, G, &g));
    GG_CASE(0, "group version 0", INVAL, "barlow_analysis_group",
            barlow_analysis_get_group(fx.an, 0, &g));
    GG_CASE(999, "group version 999", INVAL, "barlow_analysis_group",
            barlow_analysis_get_group(fx.an, 0, &g));

    fn = "barlow_analysis_group_selection";
    {
        static size_t feats[8];
        static double sc[8];
#define GS_CASE(input, expect, needle, ...)                                  \
    CASE(fn, input, expect, needle) {                                        \
        feats[0] = 77;                                                       \
        sc[0] = 77;                                                          \
        BAD((__VA_ARGS__));                                                  \
        bi.untouched = feats[0] == 77 && sc[0] == 77;                        \
        WORKS();                                                             \
    }
        GS_CASE("NULL a", INVAL, "NULL", barlow_analysis_group_selection(NULL, 0, feats, sc));
        GS_CASE("i = group count", INVAL, groups_txt,
                barlow_analysis_group_selection(fx.an, G, feats, sc));
    }

    fn = "barlow_analysis_get_result";
#define GR_CASE(ver, input, expect, needle, ...)                             \
    CASE(fn, input, expect, needle) {                                        \
        barlow_analysis_result r;                                            \
        memset(&r, 0x5a, sizeof r);                                          \
        r.version = (ver);                                                   \
        barlow_analysis_result was = r;                                      \
        BAD((__VA_ARGS__));                                                  \
        bi.untouched = memcmp(&r, &was, sizeof r) == 0;                      \
        WORKS();                                                             \
    }
    GR_CASE(1, "NULL a", INVAL, "NULL", barlow_analysis_get_result(NULL, 0, 0, &r));
    GR_CASE(1, "NULL out", INVAL, "out", barlow_analysis_get_result(fx.an, 0, 0, NULL));
    GR_CASE(1, "i = group count", INVAL, groups_txt, barlow_analysis_get_result(fx.an, G, 0, &r));
    GR_CASE(1, "j = depth count", INVAL, "2", barlow_analysis_get_result(fx.an, 0, 2, &r));
    GR_CASE(0, "result version 0", INVAL, "barlow_analysis_result",
            barlow_analysis_get_result(fx.an, 0, 0, &r));
    GR_CASE(999, "result version 999", INVAL, "barlow_analysis_result",
            barlow_analysis_get_result(fx.an, 0, 0, &r));

    fn = "barlow_analysis_get_evaluation";
#define GE_CASE(ver, input, expect, needle, ...)                             \
    CASE(fn, input, expect, needle) {                                        \
        barlow_analysis_evaluation e;                                        \
        memset(&e, 0x5a, sizeof e);                                          \
        e.version = (ver);                                                   \
        barlow_analysis_evaluation was = e;                                  \
        BAD((__VA_ARGS__));                                                  \
        bi.untouched = memcmp(&e, &was, sizeof e) == 0;                      \
        WORKS();                                                             \
    }
    GE_CASE(1, "NULL a", INVAL, "NULL",
            barlow_analysis_get_evaluation(NULL, BARLOW_GROUP_BY_LABEL, 0, &e));
    GE_CASE(1, "NULL out", INVAL, "out",
            barlow_analysis_get_evaluation(fx.an, BARLOW_GROUP_BY_LABEL, 0, NULL));
    GE_CASE(1, "j = depth count", INVAL, "2",
            barlow_analysis_get_evaluation(fx.an, BARLOW_GROUP_BY_LABEL, 2, &e));
    GE_CASE(1, "grouping 5", INVAL, "5",
            barlow_analysis_get_evaluation(fx.an, (barlow_group_by)5, 0, &e));
    GE_CASE(1, "a grouping not analysed", INVAL, "prediction",
            barlow_analysis_get_evaluation(fx.an_label, BARLOW_GROUP_BY_PREDICTION, 0, &e));
    GE_CASE(0, "evaluation version 0", INVAL, "barlow_analysis_evaluation",
            barlow_analysis_get_evaluation(fx.an, BARLOW_GROUP_BY_LABEL, 0, &e));
    GE_CASE(999, "evaluation version 999", INVAL, "barlow_analysis_evaluation",
            barlow_analysis_get_evaluation(fx.an, BARLOW_GROUP_BY_LABEL, 0, &e));

    fn = "barlow_analysis_to_json";
    BUF(fn, "NULL a", INVAL, "NULL", barlow_analysis_to_json(NULL, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_analysis_to_json(fx.an, NULL));
    fn = "barlow_analysis_to_csv";
    BUF(fn, "NULL a", INVAL, "NULL", barlow_analysis_to_csv(NULL, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_analysis_to_csv(fx.an, NULL));

    fn = "barlow_analysis_save_json";
    PLAIN(fn, "NULL a", INVAL, "NULL", !exists(tp("out/a.json")),
          barlow_analysis_save_json(NULL, tp("out/a.json")));
    hostile_outputs(fn, wr_an_json);
    fn = "barlow_analysis_save_csv";
    PLAIN(fn, "NULL a", INVAL, "NULL", !exists(tp("out/a.csv")),
          barlow_analysis_save_csv(NULL, tp("out/a.csv")));
    hostile_outputs(fn, wr_an_csv);
    bi_end(&bi);
}

/* ---- shards.h (the functions that need no extractor) ------------------------------ */

static barlow_status rd_merge(const char *path, int *u)
{
    const char *paths[2] = {tp("s0.npz"), path};
    barlow_status st = barlow_shards_merge(paths, 2, tp("out/m.json"));
    *u = !exists(tp("out/m.json")) && no_temporaries();
    return st;
}
static barlow_status wr_merge(const char *path)
{
    const char *paths[2] = {tp("s1.npz"), tp("s0.npz")};
    return barlow_shards_merge(paths, 2, path);
}
RD_MATRIX(rd_manifest_matrix, barlow_matrix_open_manifest(path, &m))
RD_ARRAY(rd_manifest_array, barlow_array_load_manifest(path, "labels", &m))

/* barlow_manifest_probe returns 0 for anything that is not a manifest and
 * never sets an error: the message of the call before it must remain. */
static void probe_case(const char *input, const char *path)
{
    CASE("barlow_manifest_probe", input, OK_, "barlow_matrix_create: rows=0") {
        barlow_matrix *m = NULL;
        barlow_matrix_create(0, 1, &m); /* sets a message */
        int r = barlow_manifest_probe(path);
        bi.st = r == 0 ? BARLOW_OK : BARLOW_E_INTERNAL;
        snprintf(bi.msg, sizeof bi.msg, "%s", barlow_last_error());
        bi.fn_needle = NULL;
        bi.untouched = 1;
        bi_mark(&bi);
        bi.works = barlow_manifest_probe(tp("manifest.json")) == 1;
    }
}

static void table_shards(void)
{
    bi_begin(&bi, "shards.h");
    const char *fn;
    works_fn = NULL;

    fn = "barlow_shard_range";
#define RG(input, expect, needle, ...)                                       \
    CASE(fn, input, expect, needle) {                                        \
        size_t b = 77, e = 77;                                               \
        BAD((__VA_ARGS__));                                                  \
        bi.untouched = b == 77 && e == 77;                                   \
        WORKS();                                                             \
    }
    RG("NULL begin", INVAL, "begin", barlow_shard_range(100, 0, 4, 1, NULL, &e));
    RG("NULL end", INVAL, "end", barlow_shard_range(100, 0, 4, 1, &b, NULL));
    RG("count 0", INVAL, "count", barlow_shard_range(100, 0, 0, 1, &b, &e));
    RG("index 4 of 4", INVAL, "shard 4 of 4", barlow_shard_range(100, 4, 4, 1, &b, &e));
    RG("index SIZE_MAX", INVAL, "18446744073709551615", barlow_shard_range(100, SIZE_MAX, 4, 1, &b, &e));
    RG("align 0", INVAL, "align", barlow_shard_range(100, 0, 4, 0, &b, &e));
    RG("n_rows 0", INVAL, "no rows", barlow_shard_range(0, 0, 4, 1, &b, &e));
    RG("5 shards of 4 units", INVAL, "5", barlow_shard_range(100, 0, 5, 32, &b, &e));
    RG("count SIZE_MAX", INVAL, "18446744073709551615 shards", barlow_shard_range(100, 0, SIZE_MAX, 1, &b, &e));

    fn = "barlow_shard_parse";
#define SP(input, expect, needle, ...)                                       \
    CASE(fn, input, expect, needle) {                                        \
        size_t i = 77, n = 77;                                               \
        BAD((__VA_ARGS__));                                                  \
        bi.untouched = i == 77 && n == 77;                                   \
        WORKS();                                                             \
    }
    SP("NULL text", INVAL, "NULL", barlow_shard_parse(NULL, &i, &n));
    SP("NULL index", INVAL, "index", barlow_shard_parse("1/2", NULL, &n));
    SP("NULL count", INVAL, "count", barlow_shard_parse("1/2", &i, NULL));
    static const char *const bad_text[] = {"", "1", "/", "1/", "/2", "a/b", "1/0", "2/2", "3/2",
                                           "-1/2", "+1/2", " 1/2", "1/2 ", "1 /2", "1//2",
                                           "1/2/3", "0x1/2", "1.0/2", "1/2\n",
                                           "99999999999999999999999/2",
                                           "0/99999999999999999999999", "\xff/2"};
    for (size_t k = 0; k < sizeof bad_text / sizeof bad_text[0]; k++) {
        static char label[32][64], needle[32][64];
        snprintf(label[k], sizeof label[k], "\"%s\"", bad_text[k]);
        if (strchr(bad_text[k], '\n')) snprintf(label[k], sizeof label[k], "\"1/2\\n\"");
        if ((unsigned char)bad_text[k][0] == 0xff)
            snprintf(label[k], sizeof label[k], "\"\\xff/2\"");
        snprintf(needle[k], sizeof needle[k], "\"%.20s", bad_text[k]);
        SP(label[k], INVAL, needle[k], barlow_shard_parse(bad_text[k], &i, &n));
    }

    fn = "barlow_shards_merge";
    {
        static const char *paths[2];
        paths[0] = tp("s0.npz");
        paths[1] = tp("s1.npz");
        static const char *with_null[2], *twice[2], *one[1], *other[2];
        with_null[0] = paths[0];
        twice[0] = twice[1] = paths[0];
        one[0] = paths[0];
        other[0] = paths[0];
        other[1] = tp("s1-of-3.npz");
#define MG(input, expect, needle, ...)                                       \
    PLAIN(fn, input, expect, needle, !exists(tp("out/m.json")) && no_temporaries(), __VA_ARGS__)
        MG("NULL paths", INVAL, "paths", barlow_shards_merge(NULL, 2, tp("out/m.json")));
        MG("n 0", INVAL, "no shards", barlow_shards_merge(paths, 0, tp("out/m.json")));
        MG("a NULL path in paths", INVAL, "paths[1]", barlow_shards_merge(with_null, 2, tp("out/m.json")));
        MG("a shard given twice", INVAL, "twice", barlow_shards_merge(twice, 2, tp("out/m.json")));
        MG("a shard missing", INVAL, "missing", barlow_shards_merge(one, 1, tp("out/m.json")));
        MG("shards of different counts", INVAL, "shard count", barlow_shards_merge(other, 2, tp("out/m.json")));
        hostile_inputs(fn, rd_merge, "shard-trunc.npz", NULL, "a shard");
        static const struct {
            const char *what, *file, *needle;
            barlow_status st;
        } c[] = {{"an .npz without a \"shard\" member", "good.npz", "not a shard", INVAL},
                 {"a \"shard\" member that is not JSON", "shard-bad-json.npz", "shard-bad-json", FMT},
                 {"a \"shard\" member of uint16", "shard-u16.npz", "uint8", FMT},
                 {"a .npy file", "good.npy", "good.npy", FMT}};
        for (size_t k = 0; k < sizeof c / sizeof c[0]; k++)
            CASE(fn, c[k].what, c[k].st, c[k].needle) {
                int u = 0;
                BAD(rd_merge(tp(c[k].file), &u));
                bi.untouched = u;
                WORKS();
            }
        hostile_outputs(fn, wr_merge);
    }

    fn = "barlow_matrix_open_manifest";
    MK(fn, "NULL path", INVAL, "path", barlow_matrix, barlow_matrix_free,
       barlow_matrix_open_manifest(NULL, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1, barlow_matrix_open_manifest(tp("manifest.json"), NULL));
    hostile_inputs(fn, rd_manifest_matrix, "manifest-trunc.json", "manifest-utf8.json", NULL);
    static const struct {
        const char *what, *file, *needle;
        barlow_status st;
    } mc[] = {{"another format", "manifest-other.json", "manifest-other.json", FMT},
              {"a JSON array", "manifest-array.json", "manifest-array.json", FMT},
              {"format_version 2", "manifest-newer.json", "format_version", UNSUP},
              {"a shard file missing", "manifest-missing-shard.json", "sX.npz", IO},
              {"a shard of another size", "manifest-bytes.json", "bytes", FMT},
              {"an .npz, not a manifest", "good.npz", "good.npz", FMT},
              {"float64 features in a shard", "manifest-f8.json", "float32", FMT}};
    for (size_t k = 0; k < sizeof mc / sizeof mc[0]; k++)
        MK(fn, mc[k].what, mc[k].st, mc[k].needle, barlow_matrix, barlow_matrix_free,
           barlow_matrix_open_manifest(tp(mc[k].file), &o));

    fn = "barlow_array_load_manifest";
    MK(fn, "NULL path", INVAL, "path", barlow_array, barlow_array_free,
       barlow_array_load_manifest(NULL, "labels", &o));
    MK(fn, "NULL name", INVAL, "name", barlow_array, barlow_array_free,
       barlow_array_load_manifest(tp("manifest.json"), NULL, &o));
    PLAIN(fn, "NULL out", INVAL, "out", 1,
          barlow_array_load_manifest(tp("manifest.json"), "labels", NULL));
    MK(fn, "no such member", INVAL, "nothing", barlow_array, barlow_array_free,
       barlow_array_load_manifest(tp("manifest.json"), "nothing", &o));
    hostile_inputs(fn, rd_manifest_array, "manifest-trunc.json", "manifest-utf8.json", NULL);
    for (size_t k = 0; k < sizeof mc / sizeof mc[0] - 1; k++)
        MK(fn, mc[k].what, mc[k].st, mc[k].needle, barlow_array, barlow_array_free,
           barlow_array_load_manifest(tp(mc[k].file), "labels", &o));
    MK(fn, "features of different dtypes", FMT, "dtype", barlow_array, barlow_array_free,
       barlow_array_load_manifest(tp("manifest-f8.json"), "features", &o));

    probe_case("NULL path", NULL);
    {
        hostile h[H_N];
        size_t n = hostile_list(h, "manifest-trunc.json", "manifest-utf8.json");
        for (size_t k = 0; k < n; k++) {
            /* a cut manifest, or one with a bad byte in a string, still starts
             * like one: the probe is cheap and says 1 */
            if (k == H_TRUNC || k == H_UTF8) continue;
            probe_case(h[k].what, h[k].path);
        }
        probe_case("an .npz", tp("good.npz"));
        probe_case("a JSON document of another format", tp("manifest-other.json"));
    }
    bi_end(&bi);
}

int main(void)
{
    bw_alloc_fail_set(0, 0); /* count live bytes from the start */
    tmp_dir_create("badinput");
    make_fixtures();
    make_files();
    make_file_fixtures();
    table_common();
    table_matrix();
    table_dataset();
    table_loaders();
    table_image();
    table_selector();
    table_tree();
    table_analysis();
    table_shards();
    free_fixtures();
    tmp_dir_remove();
    return tap_done();
}

/* barlow_matrix, barlow_array, .npy and .npz: creation, borrowing, stride,
 * gather, finiteness checks, round trips of every dtype and header version,
 * Fortran order, conversions, and every bad input (NULLs, sizes, missing,
 * empty, truncated and lying files, unsupported dtypes, corrupt archives,
 * missing output directories, a failed write). White-box only to force
 * ZIP64 records on small archives (bw_npz_zip64_limit) and to build
 * hand-made archives with lib/npy.h's header formatter and byte helpers. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "barlow/barlow.h"
#include "npy.h"
#include "tap.h"

static char tmpdir[512];

static const char *tpath(const char *name)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static int has(const char *needle) { return strstr(barlow_last_error(), needle) != NULL; }

/* Expects status `want` and a message containing `needle`. */
#define EXPECT_ERR(expr, want, needle, ...)                                        \
    do {                                                                           \
        barlow_status st_ = (expr);                                                \
        int ok_ = st_ == (want) && has(needle);                                    \
        TAP_OK(ok_, __VA_ARGS__);                                                  \
        if (!ok_) printf("#   status %d, message: %s\n", (int)st_, barlow_last_error()); \
    } while (0)

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        perror(path);
        exit(1);
    }
    if (n) fwrite(data, 1, n, fp);
    fclose(fp);
}

static size_t read_bytes(const char *path, unsigned char **data)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    *data = malloc((size_t)n + 1);
    size_t got = fread(*data, 1, (size_t)n, fp);
    fclose(fp);
    return got;
}

/* A .npy file with a hand-written header dict (any version). */
static void write_npy_raw(const char *path, int major, const char *dict, const void *data,
                          size_t nbytes)
{
    size_t dl = strlen(dict);
    size_t ls = major == 1 ? 2 : 4;
    size_t hl = 8 + ls + dl;
    unsigned char *buf = malloc(hl + nbytes + 1);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    if (ls == 2) {
        buf[8] = (unsigned char)dl;
        buf[9] = (unsigned char)(dl >> 8);
    } else {
        for (int i = 0; i < 4; i++) buf[8 + i] = (unsigned char)(dl >> (8 * i));
    }
    memcpy(buf + 8 + ls, dict, dl);
    if (nbytes) memcpy(buf + hl, data, nbytes);
    write_bytes(path, buf, hl + nbytes);
    free(buf);
}

/* Number of entries in tmpdir/sub (or tmpdir), not counting . and .. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static int count_tmp_entries(void)
{
    DIR *d = opendir(tmpdir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp-")) n++;
    closedir(d);
    return n;
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[1200];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) remove_tree(p);
        else unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

/* ---- matrices ------------------------------------------------------------ */

static void test_create(void)
{
    barlow_matrix *m = NULL;
    TAP_OK(barlow_matrix_create(3, 4, &m) == BARLOW_OK && m, "create 3x4");
    TAP_OK(barlow_matrix_rows(m) == 3 && barlow_matrix_cols(m) == 4 &&
               barlow_matrix_stride(m) == 4,
           "create: rows, cols, stride");
    int zeros = 1;
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 4; j++) zeros &= barlow_matrix_row(m, i)[j] == 0.0f;
    TAP_OK(zeros, "create: zero filled");
    TAP_OK(barlow_matrix_data_mut(m) == barlow_matrix_data(m), "create: owned data is writable");
    TAP_OK(barlow_matrix_row(m, 3) == NULL && barlow_matrix_row(m, 2) == barlow_matrix_data(m) + 8,
           "row(): out of range is NULL, row 2 at data + 8");
    barlow_matrix_free(m);

    barlow_matrix *sentinel = (barlow_matrix *)&m, *out = sentinel;
    EXPECT_ERR(barlow_matrix_create(3, 4, NULL), BARLOW_E_INVALID_ARG, "barlow_matrix_create: out",
               "create: NULL out");
    EXPECT_ERR(barlow_matrix_create(0, 4, &out), BARLOW_E_INVALID_ARG, "rows=0",
               "create: rows 0");
    EXPECT_ERR(barlow_matrix_create(4, 0, &out), BARLOW_E_INVALID_ARG, "cols=0",
               "create: cols 0");
    EXPECT_ERR(barlow_matrix_create(SIZE_MAX / 2, 3, &out), BARLOW_E_INVALID_ARG, "overflows",
               "create: rows*cols overflow");
    TAP_OK(out == sentinel, "create: out untouched on failure");

    TAP_OK(barlow_matrix_rows(NULL) == 0 && barlow_matrix_cols(NULL) == 0 &&
               barlow_matrix_stride(NULL) == 0 && barlow_matrix_data(NULL) == NULL &&
               barlow_matrix_data_mut(NULL) == NULL && barlow_matrix_row(NULL, 0) == NULL,
           "accessors accept NULL");
    barlow_matrix_free(NULL);
    TAP_OK(1, "free(NULL)");
}

static void test_copy_wrap(void)
{
    float buf[3 * 5];
    for (int i = 0; i < 15; i++) buf[i] = (float)i;
    barlow_matrix *m = NULL;
    TAP_OK(barlow_matrix_create_copy(buf, 3, 4, 5, &m) == BARLOW_OK, "create_copy with stride 5");
    int same = 1;
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 4; j++) same &= barlow_matrix_row(m, i)[j] == buf[i * 5 + j];
    TAP_OK(same && barlow_matrix_stride(m) == 4 && barlow_matrix_data(m) != buf,
           "create_copy: packed copy of the strided rows");
    barlow_matrix_free(m);

    barlow_matrix *sentinel = (barlow_matrix *)&m, *out = sentinel;
    EXPECT_ERR(barlow_matrix_create_copy(NULL, 3, 4, 0, &out), BARLOW_E_INVALID_ARG, "data is NULL",
               "create_copy: NULL data");
    EXPECT_ERR(barlow_matrix_create_copy(buf, 3, 4, 3, &out), BARLOW_E_INVALID_ARG,
               "stride=3 < cols=4", "create_copy: stride < cols");
    EXPECT_ERR(barlow_matrix_create_copy(buf, 0, 4, 0, &out), BARLOW_E_INVALID_ARG, "rows=0",
               "create_copy: zero rows");
    TAP_OK(out == sentinel, "create_copy: out untouched on failure");

    /* wrap: zero copy */
    TAP_OK(barlow_matrix_wrap(buf, 3, 4, 5, &m) == BARLOW_OK, "wrap with stride 5");
    TAP_OK(barlow_matrix_data(m) == buf && barlow_matrix_data_mut(m) == buf,
           "wrap: data is the caller's pointer (no copy)");
    TAP_OK(barlow_matrix_row(m, 2) == buf + 10 && barlow_matrix_stride(m) == 5,
           "wrap: row 2 is caller memory + 2*stride");
    buf[6] = 42.0f;
    TAP_OK(barlow_matrix_row(m, 1)[1] == 42.0f, "wrap: caller's changes are visible");
    barlow_matrix_free(m); /* must not free buf (a stack array) */
    TAP_OK(buf[6] == 42.0f, "wrap: free leaves caller memory alone");
    TAP_OK(barlow_matrix_wrap(buf, 3, 4, 0, &m) == BARLOW_OK && barlow_matrix_stride(m) == 4,
           "wrap: stride 0 means cols");
    barlow_matrix_free(m);
    out = sentinel;
    EXPECT_ERR(barlow_matrix_wrap(NULL, 3, 4, 0, &out), BARLOW_E_INVALID_ARG, "data is NULL",
               "wrap: NULL data");
    EXPECT_ERR(barlow_matrix_wrap(buf, 3, 4, 0, NULL), BARLOW_E_INVALID_ARG, "out is NULL",
               "wrap: NULL out");
    EXPECT_ERR(barlow_matrix_wrap(buf, 3, 4, 2, &out), BARLOW_E_INVALID_ARG, "stride=2",
               "wrap: stride < cols");
    EXPECT_ERR(barlow_matrix_wrap(buf, 3, 0, 0, &out), BARLOW_E_INVALID_ARG, "cols=0",
               "wrap: zero cols");
    TAP_OK(out == sentinel, "wrap: out untouched on failure");
}

static void test_check_finite(void)
{
    float buf[3 * 4];
    for (int i = 0; i < 12; i++) buf[i] = (float)i * 0.5f;
    barlow_matrix *m = NULL;
    barlow_matrix_wrap(buf, 3, 3, 4, &m); /* column 3 is padding */
    TAP_OK(barlow_matrix_check_finite(m) == BARLOW_OK && barlow_last_error()[0] == '\0',
           "check_finite: finite matrix ok, message cleared");
    buf[3] = NAN; /* padding: ignored */
    TAP_OK(barlow_matrix_check_finite(m) == BARLOW_OK, "check_finite ignores the stride padding");
    buf[1 * 4 + 2] = NAN;
    EXPECT_ERR(barlow_matrix_check_finite(m), BARLOW_E_INVALID_ARG, "row 1, column 2 is nan",
               "check_finite: NaN named by row and column");
    buf[1 * 4 + 2] = 1.0f;
    buf[2 * 4 + 0] = INFINITY;
    EXPECT_ERR(barlow_matrix_check_finite(m), BARLOW_E_INVALID_ARG, "row 2, column 0 is inf",
               "check_finite: +inf");
    buf[2 * 4 + 0] = -INFINITY;
    EXPECT_ERR(barlow_matrix_check_finite(m), BARLOW_E_INVALID_ARG, "row 2, column 0 is -inf",
               "check_finite: -inf");
    TAP_OK(strncmp(barlow_last_error(), "barlow_matrix_check_finite:", 27) == 0,
           "check_finite: message starts with the function name");
    barlow_matrix_free(m);
    EXPECT_ERR(barlow_matrix_check_finite(NULL), BARLOW_E_INVALID_ARG, "NULL",
               "check_finite: NULL");
}

static void test_gather(void)
{
    float buf[4 * 3];
    for (int i = 0; i < 12; i++) buf[i] = (float)i;
    barlow_matrix *m = NULL, *g = NULL;
    barlow_matrix_wrap(buf, 4, 2, 3, &m);
    size_t idx[] = {3, 0, 3};
    TAP_OK(barlow_matrix_gather_rows(m, idx, 3, &g) == BARLOW_OK, "gather rows 3,0,3");
    TAP_OK(barlow_matrix_rows(g) == 3 && barlow_matrix_cols(g) == 2 &&
               barlow_matrix_row(g, 0)[0] == 9 && barlow_matrix_row(g, 0)[1] == 10 &&
               barlow_matrix_row(g, 1)[0] == 0 && barlow_matrix_row(g, 2)[1] == 10 &&
               barlow_matrix_data(g) != buf,
           "gather: order and duplicates kept, owned copy");
    barlow_matrix_free(g);
    barlow_matrix *sentinel = (barlow_matrix *)&g, *out = sentinel;
    size_t bad[] = {1, 4};
    EXPECT_ERR(barlow_matrix_gather_rows(m, bad, 2, &out), BARLOW_E_INVALID_ARG, "row_idx[1]=4",
               "gather: out-of-range index named");
    EXPECT_ERR(barlow_matrix_gather_rows(m, idx, 0, &out), BARLOW_E_INVALID_ARG, "n_rows is 0",
               "gather: zero rows");
    EXPECT_ERR(barlow_matrix_gather_rows(NULL, idx, 1, &out), BARLOW_E_INVALID_ARG, "NULL",
               "gather: NULL matrix");
    EXPECT_ERR(barlow_matrix_gather_rows(m, NULL, 1, &out), BARLOW_E_INVALID_ARG, "row_idx",
               "gather: NULL indices");
    TAP_OK(out == sentinel, "gather: out untouched on failure");
    barlow_matrix_free(m);
}

/* ---- .npy ------------------------------------------------------------------- */

static void test_matrix_npy(void)
{
    float buf[3 * 5];
    for (int i = 0; i < 15; i++) buf[i] = (float)i / 7.0f;
    buf[1] = NAN;
    buf[2] = -INFINITY;
    barlow_matrix *m = NULL, *r = NULL, *mp = NULL;
    barlow_matrix_wrap(buf, 3, 4, 5, &m);
    const char *p = tpath("m.npy");
    TAP_OK(barlow_matrix_save_npy(m, p) == BARLOW_OK, "matrix_save_npy (strided)");
    unsigned char *bytes = NULL;
    size_t n = read_bytes(p, &bytes);
    size_t hl = bytes ? 10 + (size_t)(bytes[8] | (bytes[9] << 8)) : 0;
    TAP_OK(n == hl + 48 && hl % 64 == 0 && bytes[6] == 1 && bytes[hl - 1] == '\n' &&
               memcmp(bytes + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }",
                      59) == 0,
           "save: version 1.0, numpy's header text, data at a multiple of 64 (%zu)", hl);
    free(bytes);
    TAP_OK(barlow_matrix_load_npy(p, &r) == BARLOW_OK && barlow_matrix_rows(r) == 3 &&
               barlow_matrix_cols(r) == 4,
           "load_npy: 3x4");
    int same = 1;
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 4; j++)
            same &= memcmp(&barlow_matrix_row(r, i)[j], &buf[i * 5 + j], 4) == 0;
    TAP_OK(same, "load_npy: bit-identical values (NaN and -inf carried)");
    EXPECT_ERR(barlow_matrix_check_finite(r), BARLOW_E_INVALID_ARG, "row 0, column 1 is nan",
               "loaded NaN is reported by check_finite");
    TAP_OK(barlow_matrix_map_npy(p, &mp) == BARLOW_OK && barlow_matrix_rows(mp) == 3 &&
               barlow_matrix_cols(mp) == 4 &&
               memcmp(barlow_matrix_data(mp), barlow_matrix_data(r), 48) == 0,
           "map_npy: same values");
    TAP_OK(barlow_matrix_data_mut(mp) == NULL, "map_npy: data_mut is NULL (read-only)");
    TAP_OK(((uintptr_t)barlow_matrix_data(mp) & 63) == 0, "map_npy: data 64-byte aligned");
    barlow_matrix_free(mp);
    barlow_matrix_free(r);

    /* atomic: a missing directory fails with IO and leaves nothing */
    int before = count_entries(tmpdir);
    EXPECT_ERR(barlow_matrix_save_npy(m, tpath("nodir/m.npy")), BARLOW_E_IO, "nodir/m.npy",
               "save_npy into a missing directory: IO naming the path");
    TAP_OK(count_entries(tmpdir) == before && count_tmp_entries() == 0,
           "save_npy failure leaves no file behind");
    EXPECT_ERR(barlow_matrix_save_npy(NULL, p), BARLOW_E_INVALID_ARG, "matrix is NULL",
               "save_npy: NULL matrix");
    EXPECT_ERR(barlow_matrix_save_npy(m, NULL), BARLOW_E_INVALID_ARG, "path is NULL",
               "save_npy: NULL path");
    EXPECT_ERR(barlow_matrix_save_npy(m, ""), BARLOW_E_INVALID_ARG, "empty",
               "save_npy: empty path");
    barlow_matrix_free(m);
}

static int array_is(const barlow_array *a, barlow_dtype dt, size_t ndim, const size_t *shape,
                    const void *data, size_t nbytes)
{
    if (!a || barlow_array_dtype(a) != dt || barlow_array_ndim(a) != ndim) return 0;
    size_t count = 1;
    for (size_t i = 0; i < ndim; i++) {
        if (barlow_array_dim(a, i) != shape[i]) return 0;
        count *= shape[i];
    }
    if (barlow_array_dim(a, ndim) != 0 || barlow_array_size(a) != count) return 0;
    return nbytes == 0 || memcmp(barlow_array_data(a), data, nbytes) == 0;
}

static void test_array_roundtrips(void)
{
    unsigned char raw[8 * 24];
    for (size_t i = 0; i < sizeof raw; i++) raw[i] = (unsigned char)(i * 37 + 1);
    static const barlow_dtype dts[] = {BARLOW_DTYPE_FLOAT32, BARLOW_DTYPE_FLOAT64,
                                       BARLOW_DTYPE_INT32,   BARLOW_DTYPE_INT64,
                                       BARLOW_DTYPE_BOOL,    BARLOW_DTYPE_UINT8};
    static const size_t shapes[][3] = {{0}, {24}, {4, 6}, {2, 3, 4}};
    unsigned char boolraw[24];
    for (int i = 0; i < 24; i++) boolraw[i] = (unsigned char)(i % 3 == 0);
    for (size_t d = 0; d < 6; d++) {
        for (size_t nd = 0; nd <= 3; nd++) {
            const void *data = dts[d] == BARLOW_DTYPE_BOOL ? boolraw : raw;
            size_t count = nd == 0 ? 1 : 24;
            size_t nbytes = count * barlow_dtype_size(dts[d]);
            const char *p = tpath("rt.npy");
            barlow_array *a = NULL;
            barlow_status st = barlow_array_save_npy(dts[d], nd, shapes[nd], data, p);
            st = st ? st : barlow_array_load_npy(p, &a);
            TAP_OK(st == BARLOW_OK && array_is(a, dts[d], nd, shapes[nd], data, nbytes),
                   "npy_save/array_load_npy round trip: %s, %zu-d",
                   barlow_dtype_name(dts[d]), nd);
            barlow_array_free(a);
        }
    }
    /* empty arrays */
    size_t shp[2] = {0, 5};
    barlow_array *a = NULL;
    barlow_matrix *m = NULL;
    TAP_OK(barlow_array_save_npy(BARLOW_DTYPE_FLOAT32, 2, shp, NULL, tpath("empty.npy")) == BARLOW_OK &&
               barlow_array_load_npy(tpath("empty.npy"), &a) == BARLOW_OK &&
               barlow_array_size(a) == 0 && barlow_array_dim(a, 1) == 5,
           "0x5 array: saved without data, read back");
    barlow_array_free(a);
    EXPECT_ERR(barlow_matrix_load_npy(tpath("empty.npy"), &m), BARLOW_E_UNSUPPORTED, "empty array",
               "an empty array is not a matrix");
    /* npy_save argument errors, nothing written */
    const char *p = tpath("bad-save.npy");
    EXPECT_ERR(barlow_array_save_npy(BARLOW_DTYPE_FLOAT32, 1, shapes[1], raw, NULL),
               BARLOW_E_INVALID_ARG, "path is NULL", "npy_save: NULL path");
    EXPECT_ERR(barlow_array_save_npy((barlow_dtype)17, 1, shapes[1], raw, p), BARLOW_E_INVALID_ARG,
               "dtype=17", "npy_save: unknown dtype");
    EXPECT_ERR(barlow_array_save_npy(BARLOW_DTYPE_FLOAT32, 9, shapes[1], raw, p), BARLOW_E_INVALID_ARG,
               "ndim=9", "npy_save: ndim 9");
    EXPECT_ERR(barlow_array_save_npy(BARLOW_DTYPE_FLOAT32, 1, NULL, raw, p), BARLOW_E_INVALID_ARG,
               "shape is NULL", "npy_save: NULL shape");
    EXPECT_ERR(barlow_array_save_npy(BARLOW_DTYPE_FLOAT32, 1, shapes[1], NULL, p), BARLOW_E_INVALID_ARG,
               "data is NULL", "npy_save: NULL data");
    size_t huge[2] = {SIZE_MAX / 2, 4};
    EXPECT_ERR(barlow_array_save_npy(BARLOW_DTYPE_FLOAT32, 2, huge, raw, p), BARLOW_E_INVALID_ARG,
               "overflows", "npy_save: shape overflow");
    EXPECT_ERR(barlow_array_save_npy(BARLOW_DTYPE_FLOAT32, 1, shapes[1], raw, tpath("nodir/x.npy")),
               BARLOW_E_IO, "nodir/x.npy", "npy_save: missing directory is IO naming the path");
    struct stat sb;
    TAP_OK(stat(p, &sb) != 0 && count_tmp_entries() == 0, "npy_save failures write nothing");
}

static void test_headers(void)
{
    float v[6] = {1, 2, 3, 4, 5, 6};
    barlow_array *a = NULL;
    size_t s23[2] = {2, 3}, s6[1] = {6};
    static const struct {
        int major;
        const char *dict;
        const char *what;
    } ok[] = {
        {2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", "version 2.0"},
        {3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }  \n", "version 3.0"},
        {1, "{'shape':(2,3),'fortran_order':False,'descr':'<f4'}", "keys in any order, no spaces"},
        {1, "{ \"descr\" : \"<f4\" ,\n 'fortran_order' :\tFalse , 'shape' : ( 2 , 3 ) }   \n",
         "double quotes and odd whitespace"},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }\n",
         "Python 2 long integers"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        write_npy_raw(tpath("h.npy"), ok[i].major, ok[i].dict, v, sizeof v);
        barlow_status st = barlow_array_load_npy(tpath("h.npy"), &a);
        TAP_OK(st == BARLOW_OK && array_is(a, BARLOW_DTYPE_FLOAT32, 2, s23, v, sizeof v),
               "header: %s", ok[i].what);
        if (st) printf("#   %s\n", barlow_last_error());
        barlow_array_free(a);
        a = NULL;
    }
    write_npy_raw(tpath("h.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }",
                  v, sizeof v);
    TAP_OK(barlow_array_load_npy(tpath("h.npy"), &a) == BARLOW_OK &&
               array_is(a, BARLOW_DTYPE_FLOAT32, 1, s6, v, sizeof v),
           "header: shape (6,)");
    barlow_array_free(a);
    a = NULL;
    barlow_matrix *m = NULL;
    TAP_OK(barlow_matrix_load_npy(tpath("h.npy"), &m) == BARLOW_OK && barlow_matrix_rows(m) == 6 &&
               barlow_matrix_cols(m) == 1 && barlow_matrix_row(m, 5)[0] == 6.0f,
           "matrix_load_npy of a 1-D array is n x 1");
    barlow_matrix_free(m);
    m = NULL;
    write_npy_raw(tpath("h.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': ()}", v, 4);
    TAP_OK(barlow_array_load_npy(tpath("h.npy"), &a) == BARLOW_OK && barlow_array_ndim(a) == 0 &&
               barlow_array_size(a) == 1 && ((const float *)barlow_array_data(a))[0] == 1.0f,
           "header: shape () is a 0-d array of one element");
    barlow_array_free(a);
    a = NULL;
    EXPECT_ERR(barlow_matrix_load_npy(tpath("h.npy"), &m), BARLOW_E_UNSUPPORTED, "0-d",
               "matrix_load_npy of a 0-d array: UNSUPPORTED");
}

static void test_fortran(void)
{
    /* a 2x3 int32 array [[0,1,2],[3,4,5]] stored in Fortran order */
    int32_t f[6] = {0, 3, 1, 4, 2, 5};
    int32_t c[6] = {0, 1, 2, 3, 4, 5};
    size_t s23[2] = {2, 3};
    write_npy_raw(tpath("f.npy"), 1, "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }",
                  f, sizeof f);
    barlow_array *a = NULL;
    TAP_OK(barlow_array_load_npy(tpath("f.npy"), &a) == BARLOW_OK &&
               array_is(a, BARLOW_DTYPE_INT32, 2, s23, c, sizeof c),
           "Fortran-order 2x3 int32 is transposed into C order");
    barlow_array_free(a);
    a = NULL;
    barlow_matrix *m = NULL;
    TAP_OK(barlow_matrix_load_npy(tpath("f.npy"), &m) == BARLOW_OK && barlow_matrix_rows(m) == 2 &&
               barlow_matrix_row(m, 1)[0] == 3.0f && barlow_matrix_row(m, 0)[2] == 2.0f &&
               barlow_matrix_row(m, 1)[2] == 5.0f,
           "matrix_load_npy: Fortran int32 -> C-order float32");
    barlow_matrix_free(m);
    m = NULL;
    EXPECT_ERR(barlow_matrix_map_npy(tpath("f.npy"), &m), BARLOW_E_UNSUPPORTED, "load_npy",
               "map_npy of an int32 file: UNSUPPORTED pointing to load_npy");
    float ff[6] = {0, 3, 1, 4, 2, 5};
    write_npy_raw(tpath("ff.npy"), 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
                  ff, sizeof ff);
    EXPECT_ERR(barlow_matrix_map_npy(tpath("ff.npy"), &m), BARLOW_E_UNSUPPORTED, "Fortran",
               "map_npy of a Fortran float32 file: UNSUPPORTED");
    TAP_OK(barlow_matrix_load_npy(tpath("ff.npy"), &m) == BARLOW_OK &&
               barlow_matrix_row(m, 1)[1] == 4.0f && barlow_matrix_row(m, 0)[1] == 1.0f,
           "matrix_load_npy: Fortran float32 transposed");
    barlow_matrix_free(m);
    /* 3-D float64 in Fortran order: element [i,j,k] = 100i + 10j + k */
    double f3[2 * 3 * 4], c3[2 * 3 * 4];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) {
                f3[i + 2 * j + 6 * k] = 100 * i + 10 * j + k;
                c3[12 * i + 4 * j + k] = 100 * i + 10 * j + k;
            }
    size_t s234[3] = {2, 3, 4};
    write_npy_raw(tpath("f3.npy"), 1,
                  "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3, 4), }", f3, sizeof f3);
    TAP_OK(barlow_array_load_npy(tpath("f3.npy"), &a) == BARLOW_OK &&
               array_is(a, BARLOW_DTYPE_FLOAT64, 3, s234, c3, sizeof c3),
           "Fortran-order 2x3x4 float64 is transposed into C order");
    barlow_array_free(a);
    /* bool with a bad value in Fortran order: the C-order index is named */
    unsigned char fb[6] = {0, 1, 1, 0, 7, 1}; /* file pos 4 = [0,2] = C index 2 */
    write_npy_raw(tpath("fb.npy"), 1, "{'descr': '|b1', 'fortran_order': True, 'shape': (2, 3), }",
                  fb, sizeof fb);
    a = NULL;
    EXPECT_ERR(barlow_array_load_npy(tpath("fb.npy"), &a), BARLOW_E_FORMAT,
               "bool element 2 (C order) is 7", "Fortran bool value 7: FORMAT naming the element");
    TAP_OK(a == NULL, "out untouched");
}

static void test_conversions(void)
{
    double d[4] = {0.1, -2.5, 3.4028234663852886e38, 1e-50};
    write_npy_raw(tpath("d.npy"), 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
                  d, sizeof d);
    barlow_matrix *m = NULL;
    TAP_OK(barlow_matrix_load_npy(tpath("d.npy"), &m) == BARLOW_OK &&
               barlow_matrix_row(m, 0)[0] == (float)0.1 && barlow_matrix_row(m, 0)[1] == -2.5f &&
               barlow_matrix_row(m, 1)[0] == 3.4028234663852886e38f &&
               barlow_matrix_row(m, 1)[1] == 0.0f,
           "float64 -> float32 rounds to nearest (FLT_MAX kept, tiny -> 0)");
    barlow_matrix_free(m);
    m = NULL;
    double nf[4] = {NAN, INFINITY, -INFINITY, 1};
    write_npy_raw(tpath("nf.npy"), 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
                  nf, sizeof nf);
    TAP_OK(barlow_matrix_load_npy(tpath("nf.npy"), &m) == BARLOW_OK &&
               isnan(barlow_matrix_row(m, 0)[0]) && barlow_matrix_row(m, 0)[1] == INFINITY &&
               barlow_matrix_row(m, 1)[0] == -INFINITY,
           "float64 NaN and +-inf are carried");
    EXPECT_ERR(barlow_matrix_check_finite(m), BARLOW_E_INVALID_ARG, "row 0, column 0 is nan",
               "and check_finite names them");
    barlow_matrix_free(m);
    m = NULL;
    double big[4] = {1, 2, 3, -1e39};
    write_npy_raw(tpath("big.npy"), 1,
                  "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }",
                  big, sizeof big);
    barlow_matrix *sentinel = (barlow_matrix *)&m;
    m = sentinel;
    EXPECT_ERR(barlow_matrix_load_npy(tpath("big.npy"), &m), BARLOW_E_FORMAT,
               "row 1, column 1: -1e+39 is beyond float32 range",
               "float64 beyond float32 range: FORMAT with row, column");
    TAP_OK(m == sentinel, "out untouched");
    int64_t i8[3] = {-7, 16777217, 1};
    write_npy_raw(tpath("i8.npy"), 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
                  i8, sizeof i8);
    TAP_OK(barlow_matrix_load_npy(tpath("i8.npy"), &m) == BARLOW_OK &&
               barlow_matrix_row(m, 0)[0] == -7.0f && barlow_matrix_row(m, 1)[0] == 16777216.0f,
           "int64 -> float32 (rounded where not representable)");
    barlow_matrix_free(m);
    m = NULL;
    unsigned char u8[4] = {0, 255, 3, 9};
    write_npy_raw(tpath("u8.npy"), 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }",
                  u8, sizeof u8);
    TAP_OK(barlow_matrix_load_npy(tpath("u8.npy"), &m) == BARLOW_OK &&
               barlow_matrix_row(m, 0)[1] == 255.0f && barlow_matrix_row(m, 1)[1] == 9.0f,
           "uint8 -> float32");
    barlow_matrix_free(m);
    m = NULL;
    unsigned char b[4] = {0, 1, 1, 2};
    write_npy_raw(tpath("b.npy"), 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (2, 2), }",
                  b, sizeof b);
    EXPECT_ERR(barlow_matrix_load_npy(tpath("b.npy"), &m), BARLOW_E_FORMAT,
               "row 1, column 1: bool value 2", "matrix: bool value 2 is FORMAT");
    barlow_array *a = NULL;
    EXPECT_ERR(barlow_array_load_npy(tpath("b.npy"), &a), BARLOW_E_FORMAT,
               "bool element 3 (C order) is 2", "array: bool value 2 is FORMAT");

    /* barlow_array_to_int32 / to_float32 */
    int32_t out[4] = {-1, -1, -1, -1};
    double di[4] = {1, -2, 2147483647, -2147483648.0};
    write_npy_raw(tpath("di.npy"), 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }",
                  di, sizeof di);
    barlow_array_load_npy(tpath("di.npy"), &a);
    TAP_OK(barlow_array_to_int32(a, out) == BARLOW_OK && out[0] == 1 && out[1] == -2 &&
               out[2] == INT32_MAX && out[3] == INT32_MIN,
           "to_int32 from integral float64, int32 extremes");
    barlow_array_free(a);
    a = NULL;
    static const struct {
        const char *descr;
        unsigned char bytes[32];
        size_t n;
        const char *needle;
    } bad[] = {
        {"<f8", {0}, 2, "element 1 is 2.5"},
        {"<f8", {0}, 2, "element 1 is nan"},
        {"<i8", {0}, 2, "element 1 is 2147483648"},
        {"<f4", {0}, 2, "element 1 is 0.5"},
    };
    double v0[2] = {1, 2.5}, v1[2] = {1, NAN};
    int64_t v2[2] = {0, 2147483648LL};
    float v3[2] = {1, 0.5f};
    const void *vals[4] = {v0, v1, v2, v3};
    size_t sizes[4] = {16, 16, 16, 8};
    for (int k = 0; k < 4; k++) {
        char dict[128];
        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (2,), }",
                 bad[k].descr);
        write_npy_raw(tpath("ti.npy"), 1, dict, vals[k], sizes[k]);
        barlow_array_load_npy(tpath("ti.npy"), &a);
        int32_t o[2] = {77, 77};
        barlow_status st = barlow_array_to_int32(a, o);
        int okk = st == BARLOW_E_FORMAT && has(bad[k].needle);
        TAP_OK(okk && o[0] == 77, "to_int32 rejects %s (out untouched): %s", bad[k].needle,
               barlow_last_error());
        barlow_array_free(a);
        a = NULL;
    }
    EXPECT_ERR(barlow_array_to_int32(NULL, out), BARLOW_E_INVALID_ARG, "NULL", "to_int32: NULL");
    barlow_array_load_npy(tpath("big.npy"), &a);
    float fo[4] = {9, 9, 9, 9};
    EXPECT_ERR(barlow_array_to_float32(a, fo), BARLOW_E_FORMAT, "element 3",
               "to_float32: float64 beyond float32 range names the element");
    TAP_OK(fo[0] == 9, "to_float32: out untouched on failure");
    barlow_array_free(a);
    a = NULL;
    barlow_array_load_npy(tpath("i8.npy"), &a);
    TAP_OK(barlow_array_to_float32(a, fo) == BARLOW_OK && fo[0] == -7.0f && fo[2] == 1.0f,
           "to_float32 from int64");
    EXPECT_ERR(barlow_array_to_float32(a, NULL), BARLOW_E_INVALID_ARG, "out is NULL",
               "to_float32: NULL out");
    barlow_array_free(a);
    TAP_OK(barlow_array_dtype(NULL) == BARLOW_DTYPE_FLOAT32 && barlow_array_ndim(NULL) == 0 &&
               barlow_array_size(NULL) == 0 && barlow_array_data(NULL) == NULL &&
               barlow_array_dim(NULL, 0) == 0,
           "array accessors accept NULL");
    barlow_array_free(NULL);
}

static void test_bad_npy(void)
{
    barlow_matrix *sm = (barlow_matrix *)tmpdir, *m = sm;
    barlow_array *sa = (barlow_array *)tmpdir, *a = sa;
    float v[6] = {1, 2, 3, 4, 5, 6};

    EXPECT_ERR(barlow_matrix_load_npy(NULL, &m), BARLOW_E_INVALID_ARG, "path is NULL",
               "load_npy: NULL path");
    EXPECT_ERR(barlow_matrix_load_npy(tpath("x"), NULL), BARLOW_E_INVALID_ARG, "out is NULL",
               "load_npy: NULL out");
    EXPECT_ERR(barlow_array_load_npy(NULL, &a), BARLOW_E_INVALID_ARG, "path is NULL",
               "array_load_npy: NULL path");
    EXPECT_ERR(barlow_matrix_map_npy(NULL, &m), BARLOW_E_INVALID_ARG, "path is NULL",
               "map_npy: NULL path");
    EXPECT_ERR(barlow_matrix_map_npy(tpath("x"), NULL), BARLOW_E_INVALID_ARG, "out is NULL",
               "map_npy: NULL out");
    EXPECT_ERR(barlow_matrix_load_npy(tpath("missing.npy"), &m), BARLOW_E_IO, "missing.npy",
               "missing file: IO naming the path");
    EXPECT_ERR(barlow_matrix_map_npy(tpath("missing.npy"), &m), BARLOW_E_IO, "missing.npy",
               "map_npy: missing file IO");
    EXPECT_ERR(barlow_matrix_load_npy(tmpdir, &m), BARLOW_E_IO, "directory",
               "a directory: IO");
    write_bytes(tpath("empty.npy"), "", 0);
    EXPECT_ERR(barlow_matrix_load_npy(tpath("empty.npy"), &m), BARLOW_E_FORMAT, "empty",
               "empty file: FORMAT");
    write_bytes(tpath("magic.npy"), "PK\003\004 this is not numpy at all", 30);
    EXPECT_ERR(barlow_array_load_npy(tpath("magic.npy"), &a), BARLOW_E_FORMAT, "bad magic",
               "bad magic: FORMAT");
    write_bytes(tpath("short.npy"), "\x93NUMPY\x01", 7);
    EXPECT_ERR(barlow_array_load_npy(tpath("short.npy"), &a), BARLOW_E_FORMAT, "truncated",
               "7-byte file: truncated prelude");
    write_bytes(tpath("ver.npy"), "\x93NUMPY\x04\x00\x10\x00{}", 12);
    EXPECT_ERR(barlow_array_load_npy(tpath("ver.npy"), &a), BARLOW_E_UNSUPPORTED, "version 4.0",
               "format version 4.0: UNSUPPORTED");
    {
        unsigned char hb[64];
        memcpy(hb, "\x93NUMPY\x01\x00\x46\x00{'descr': '<f4',", 26);
        write_bytes(tpath("th.npy"), hb, 26);
        EXPECT_ERR(barlow_array_load_npy(tpath("th.npy"), &a), BARLOW_E_FORMAT, "truncated header",
                   "truncated header: FORMAT");
        memcpy(hb, "\x93NUMPY\x02\x00\xf0\xff\xff\xff{", 13);
        write_bytes(tpath("hh.npy"), hb, 13);
        EXPECT_ERR(barlow_array_load_npy(tpath("hh.npy"), &a), BARLOW_E_FORMAT, "4294967280",
                   "4 GiB header length: FORMAT before allocating");
    }
    /* data size checks */
    write_npy_raw(tpath("td.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }",
                  v, 4);
    EXPECT_ERR(barlow_matrix_load_npy(tpath("td.npy"), &m), BARLOW_E_FORMAT,
               "header says 3x4 float32 but file has 4 bytes of data",
               "truncated data: FORMAT with shape and byte count");
    EXPECT_ERR(barlow_matrix_map_npy(tpath("td.npy"), &m), BARLOW_E_FORMAT, "4 bytes of data",
               "map_npy of truncated data: FORMAT");
    write_npy_raw(tpath("xd.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4), }",
                  v, sizeof v);
    EXPECT_ERR(barlow_matrix_load_npy(tpath("xd.npy"), &m), BARLOW_E_FORMAT, "8 extra",
               "header shape smaller than the data: FORMAT");
    write_npy_raw(tpath("ov.npy"), 1,
                  "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 8), }",
                  v, sizeof v);
    EXPECT_ERR(barlow_array_load_npy(tpath("ov.npy"), &a), BARLOW_E_FORMAT, "overflows",
               "huge shape whose size overflows: FORMAT");
    write_npy_raw(tpath("ov2.npy"), 1,
                  "{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999,), }",
                  v, sizeof v);
    EXPECT_ERR(barlow_array_load_npy(tpath("ov2.npy"), &a), BARLOW_E_FORMAT, "overflows",
               "shape entry beyond size_t: FORMAT");
    write_npy_raw(tpath("hg.npy"), 1,
                  "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000, 100000), }", v,
                  sizeof v);
    EXPECT_ERR(barlow_matrix_load_npy(tpath("hg.npy"), &m), BARLOW_E_FORMAT, "100000000x100000",
               "40 TB shape in a tiny file: FORMAT before allocating");
    /* unsupported dtypes */
    static const struct {
        const char *dict, *needle, *what;
        barlow_status st;
    } bad[] = {
        {"{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", "'<c8' is not supported",
         "complex64", BARLOW_E_UNSUPPORTED},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", "big-endian dtype '>f4'",
         "big-endian float32", BARLOW_E_UNSUPPORTED},
        {"{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }", "'<U3' is not supported",
         "unicode strings", BARLOW_E_UNSUPPORTED},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", "structured",
         "structured dtype", BARLOW_E_UNSUPPORTED},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }",
         "more than 8 dimensions", "9 dimensions", BARLOW_E_UNSUPPORTED},
        {"{'descr': '<f4', 'fortran_order': False}", "lacks 'shape'", "missing key",
         BARLOW_E_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", "unexpected key 'x'",
         "unknown key", BARLOW_E_FORMAT},
        {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,), }", "not True or False",
         "bad fortran_order", BARLOW_E_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1), }", "not a tuple",
         "shape (1) without a comma", BARLOW_E_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", "not a tuple",
         "negative shape", BARLOW_E_FORMAT},
        {"['descr', '<f4']", "not a Python dict", "not a dict", BARLOW_E_FORMAT},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), } junk", "after the dict",
         "text after the dict", BARLOW_E_FORMAT},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", "twice",
         "duplicate key", BARLOW_E_FORMAT},
        {"{'descr': '<f4' 'fortran_order': False, 'shape': (1,), }", "expected ','",
         "missing comma", BARLOW_E_FORMAT},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_npy_raw(tpath("bd.npy"), 1, bad[i].dict, v, 4);
        EXPECT_ERR(barlow_array_load_npy(tpath("bd.npy"), &a), bad[i].st, bad[i].needle,
                   "header with %s rejected", bad[i].what);
        TAP_OK(strstr(barlow_last_error(), "bd.npy") != NULL, "  and the message names the file");
    }
    double d24[24] = {0};
    write_npy_raw(tpath("3d.npy"), 1,
                  "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3, 4), }",
                  d24, sizeof d24);
    EXPECT_ERR(barlow_matrix_load_npy(tpath("3d.npy"), &m), BARLOW_E_UNSUPPORTED,
               "3-d array (2x3x4)",
               "matrix_load_npy of a 3-D array: UNSUPPORTED");
    EXPECT_ERR(barlow_matrix_map_npy(tpath("3d.npy"), &m), BARLOW_E_UNSUPPORTED, "2x3x4",
               "map_npy of a 3-D array: UNSUPPORTED");
    write_npy_raw(tpath("ua.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }",
                  v, 4);
    EXPECT_ERR(barlow_matrix_map_npy(tpath("ua.npy"), &m), BARLOW_E_UNSUPPORTED, "offset",
               "map_npy of data at an offset not a multiple of 4: UNSUPPORTED");
    TAP_OK(m == sm && a == sa, "out-parameters untouched by every failure");
}

/* ---- .npz ----------------------------------------------------------------------- */

static void test_npz_writer(void)
{
    float feats[4 * 3];
    for (int i = 0; i < 12; i++) feats[i] = (float)i * 1.25f;
    int64_t labels[4] = {3, 1, 4, 1};
    unsigned char fails[4] = {0, 1, 1, 0};
    double scalar = 2.75;
    size_t s43[2] = {4, 3}, s4[1] = {4};
    const char *p = tpath("w.npz");
    barlow_npz_writer *w = NULL;
    TAP_OK(barlow_npz_writer_open(p, &w) == BARLOW_OK, "npz_writer_open");
    TAP_OK(barlow_npz_writer_add(w, "features", BARLOW_DTYPE_FLOAT32, 2, s43, feats) == BARLOW_OK &&
               barlow_npz_writer_add(w, "labels.npy", BARLOW_DTYPE_INT64, 1, s4, labels) ==
                   BARLOW_OK &&
               barlow_npz_writer_add(w, "failures", BARLOW_DTYPE_BOOL, 1, s4, fails) == BARLOW_OK &&
               barlow_npz_writer_add(w, "t", BARLOW_DTYPE_FLOAT64, 0, NULL, &scalar) == BARLOW_OK,
           "npz_writer_add: four members");
    EXPECT_ERR(barlow_npz_writer_add(w, "labels", BARLOW_DTYPE_INT64, 1, s4, labels),
               BARLOW_E_INVALID_ARG, "already", "add: duplicate name");
    EXPECT_ERR(barlow_npz_writer_add(w, "x", (barlow_dtype)9, 1, s4, labels), BARLOW_E_INVALID_ARG,
               "dtype=9", "add: bad dtype");
    EXPECT_ERR(barlow_npz_writer_add(w, "", BARLOW_DTYPE_INT64, 1, s4, labels),
               BARLOW_E_INVALID_ARG, "empty", "add: empty name");
    EXPECT_ERR(barlow_npz_writer_add(w, NULL, BARLOW_DTYPE_INT64, 1, s4, labels),
               BARLOW_E_INVALID_ARG, "name is NULL", "add: NULL name");
    EXPECT_ERR(barlow_npz_writer_add(NULL, "x", BARLOW_DTYPE_INT64, 1, s4, labels),
               BARLOW_E_INVALID_ARG, "writer is NULL", "add: NULL writer");
    struct stat sb;
    TAP_OK(stat(p, &sb) != 0 && count_tmp_entries() == 1,
           "before commit: only the temporary file exists");
    TAP_OK(barlow_npz_writer_commit(w) == BARLOW_OK && stat(p, &sb) == 0 &&
               count_tmp_entries() == 0,
           "commit renames the archive into place");
    EXPECT_ERR(barlow_npz_writer_commit(w), BARLOW_E_STATE, "already committed",
               "commit twice: STATE");
    EXPECT_ERR(barlow_npz_writer_add(w, "y", BARLOW_DTYPE_INT64, 1, s4, labels), BARLOW_E_STATE,
               "already committed", "add after commit: STATE");
    barlow_npz_writer_free(w);

    barlow_matrix *m = NULL;
    TAP_OK(barlow_matrix_load_npz(p, "features", &m) == BARLOW_OK && barlow_matrix_rows(m) == 4 &&
               barlow_matrix_cols(m) == 3 &&
               memcmp(barlow_matrix_data(m), feats, sizeof feats) == 0,
           "matrix_load_npz: features read back");
    barlow_matrix_free(m);
    m = NULL;
    TAP_OK(barlow_matrix_load_npz(p, "labels.npy", &m) == BARLOW_OK && barlow_matrix_cols(m) == 1 &&
               barlow_matrix_row(m, 2)[0] == 4.0f,
           "matrix_load_npz: int64 member by its full name, converted");
    barlow_matrix_free(m);
    barlow_array *a = NULL;
    TAP_OK(barlow_array_load_npz(p, "labels", &a) == BARLOW_OK &&
               array_is(a, BARLOW_DTYPE_INT64, 1, s4, labels, sizeof labels),
           "array_load_npz: labels (name without .npy)");
    barlow_array_free(a);
    a = NULL;
    TAP_OK(barlow_array_load_npz(p, "failures", &a) == BARLOW_OK &&
               array_is(a, BARLOW_DTYPE_BOOL, 1, s4, fails, sizeof fails),
           "array_load_npz: bool member");
    barlow_array_free(a);
    a = NULL;
    TAP_OK(barlow_array_load_npz(p, "t", &a) == BARLOW_OK && barlow_array_ndim(a) == 0 &&
               *(const double *)barlow_array_data(a) == 2.75,
           "array_load_npz: 0-d member");
    barlow_array_free(a);
    barlow_array *sa = (barlow_array *)tmpdir;
    a = sa;
    EXPECT_ERR(barlow_array_load_npz(p, "logits", &a), BARLOW_E_INVALID_ARG,
               "no member 'logits' (members: 'features', 'labels', 'failures', 't')",
               "missing member: INVALID_ARG listing the members");
    EXPECT_ERR(barlow_array_load_npz(p, NULL, &a), BARLOW_E_INVALID_ARG, "name is NULL",
               "load_npz: NULL name");
    EXPECT_ERR(barlow_array_load_npz(NULL, "t", &a), BARLOW_E_INVALID_ARG, "path is NULL",
               "load_npz: NULL path");
    EXPECT_ERR(barlow_matrix_load_npz(p, "t", NULL), BARLOW_E_INVALID_ARG, "out is NULL",
               "matrix_load_npz: NULL out");
    EXPECT_ERR(barlow_array_load_npz(tpath("nope.npz"), "t", &a), BARLOW_E_IO, "nope.npz",
               "load_npz: missing file IO naming it");
    TAP_OK(a == sa, "load_npz: out untouched on failure");

    /* free without commit removes the temporary file */
    TAP_OK(barlow_npz_writer_open(tpath("gone.npz"), &w) == BARLOW_OK &&
               barlow_npz_writer_add(w, "f", BARLOW_DTYPE_FLOAT32, 2, s43, feats) == BARLOW_OK &&
               count_tmp_entries() == 1,
           "an uncommitted writer has a temporary file");
    barlow_npz_writer_free(w);
    TAP_OK(count_tmp_entries() == 0 && stat(tpath("gone.npz"), &sb) != 0,
           "free without commit removes it, writes nothing");
    barlow_npz_writer_free(NULL);
    barlow_npz_writer *sw = (barlow_npz_writer *)tmpdir;
    w = sw;
    int before = count_entries(tmpdir);
    EXPECT_ERR(barlow_npz_writer_open(tpath("nodir/x.npz"), &w), BARLOW_E_IO, "nodir/x.npz",
               "writer_open in a missing directory: IO naming the path");
    EXPECT_ERR(barlow_npz_writer_open(NULL, &w), BARLOW_E_INVALID_ARG, "path is NULL",
               "writer_open: NULL path");
    EXPECT_ERR(barlow_npz_writer_open(p, NULL), BARLOW_E_INVALID_ARG, "out is NULL",
               "writer_open: NULL out");
    TAP_OK(w == sw && count_entries(tmpdir) == before, "writer_open failures: nothing created");
    EXPECT_ERR(barlow_npz_writer_commit(NULL), BARLOW_E_INVALID_ARG, "NULL", "commit: NULL");

    /* a failed add (file size limit: EFBIG, like a full disk) is undone and
     * the writer stays usable */
    {
        static float bigf[256 * 1024];
        for (size_t i = 0; i < sizeof bigf / sizeof bigf[0]; i++)
            bigf[i] = (float)((i * 2654435761u) % 1000003u) / 7.0f;
        size_t sb1[1] = {sizeof bigf / sizeof bigf[0]};
        struct rlimit old, lim;
        getrlimit(RLIMIT_FSIZE, &old);
        lim = old;
        lim.rlim_cur = 64 * 1024;
        signal(SIGXFSZ, SIG_IGN);
        barlow_npz_writer_open(tpath("full.npz"), &w);
        barlow_npz_writer_add(w, "small", BARLOW_DTYPE_INT64, 1, s4, labels);
        setrlimit(RLIMIT_FSIZE, &lim);
        barlow_status st1 = barlow_npz_writer_add(w, "big", BARLOW_DTYPE_FLOAT32, 1, sb1, bigf);
        int named = has("full.npz");
        barlow_status st2 = barlow_npz_writer_add(w, "after", BARLOW_DTYPE_BOOL, 1, s4, fails);
        barlow_status st3 = barlow_npz_writer_commit(w);
        setrlimit(RLIMIT_FSIZE, &old);
        signal(SIGXFSZ, SIG_DFL);
        barlow_npz_writer_free(w);
        TAP_OK(st1 == BARLOW_E_IO && named, "add beyond the file size limit: IO naming the file");
        TAP_OK(st2 == BARLOW_OK && st3 == BARLOW_OK, "the writer is still usable after it");
        a = NULL;
        TAP_OK(barlow_array_load_npz(tpath("full.npz"), "after", &a) == BARLOW_OK &&
                   array_is(a, BARLOW_DTYPE_BOOL, 1, s4, fails, sizeof fails),
               "members added after the failure read back");
        barlow_array_free(a);
        a = NULL;
        EXPECT_ERR(barlow_array_load_npz(tpath("full.npz"), "big", &a), BARLOW_E_INVALID_ARG,
                   "(members: 'small', 'after')", "the failed member is not in the archive");
    }

    /* an empty archive */
    barlow_npz_writer_open(tpath("none.npz"), &w);
    TAP_OK(barlow_npz_writer_commit(w) == BARLOW_OK, "an archive without members");
    barlow_npz_writer_free(w);
    EXPECT_ERR(barlow_array_load_npz(tpath("none.npz"), "x", &a), BARLOW_E_INVALID_ARG,
               "(members: (none))", "loading from an empty archive lists no members");
}

/* Corrupts a single-member archive written by our writer (no ZIP64: local
 * header at 0, end record in the last 22 bytes) in every way a reader must
 * catch. */
static void test_npz_corrupt(void)
{
    float feats[64 * 16];
    for (int i = 0; i < 64 * 16; i++) feats[i] = (float)sin(i * 0.37) * 3;
    size_t s[2] = {64, 16};
    const char *p = tpath("c.npz");
    barlow_npz_writer *w = NULL;
    barlow_npz_writer_open(p, &w);
    barlow_npz_writer_add(w, "f", BARLOW_DTYPE_FLOAT32, 2, s, feats);
    barlow_npz_writer_commit(w);
    barlow_npz_writer_free(w);
    unsigned char *z = NULL;
    size_t n = read_bytes(p, &z);
    TAP_OK(n > 100 && bw_le32(z) == 0x04034b50u && bw_le16(z + 8) == 8,
           "writer output starts with a deflated local header");
    size_t data_off = 30 + bw_le16(z + 26) + bw_le16(z + 28);
    size_t csize = bw_le32(z + 18);
    barlow_matrix *m = NULL;
    barlow_array *a = NULL;

    /* bad CRC in the central directory */
    unsigned char *c = malloc(n);
    memcpy(c, z, n);
    size_t cd = bw_le32(z + n - 22 + 16);
    c[cd + 16] ^= 0x55;
    write_bytes(tpath("crc.npz"), c, n);
    EXPECT_ERR(barlow_matrix_load_npz(tpath("crc.npz"), "f", &m), BARLOW_E_FORMAT,
               "CRC-32 mismatch",
               "bad CRC: FORMAT");
    /* corrupt deflate data */
    memcpy(c, z, n);
    memset(c + data_off, 0xff, 8);
    write_bytes(tpath("def.npz"), c, n);
    EXPECT_ERR(barlow_matrix_load_npz(tpath("def.npz"), "f", &m), BARLOW_E_FORMAT, "deflate",
               "corrupt deflate stream: FORMAT");
    /* deflate stream cut short: a smaller compressed size in the directory */
    memcpy(c, z, n);
    uint32_t cs = (uint32_t)(csize / 2);
    memcpy(c + cd + 20, &cs, 4);
    write_bytes(tpath("cut.npz"), c, n);
    EXPECT_ERR(barlow_matrix_load_npz(tpath("cut.npz"), "f", &m), BARLOW_E_FORMAT, "truncated",
               "truncated deflate stream: FORMAT");
    /* archive cut in half: no end record */
    write_bytes(tpath("half.npz"), z, n / 2);
    EXPECT_ERR(barlow_array_load_npz(tpath("half.npz"), "f", &a), BARLOW_E_FORMAT,
               "end of central directory", "archive cut in half: FORMAT");
    write_bytes(tpath("empty.npz"), "", 0);
    EXPECT_ERR(barlow_array_load_npz(tpath("empty.npz"), "f", &a), BARLOW_E_FORMAT, "empty",
               "empty .npz: FORMAT");
    /* a .npy is not an .npz */
    write_npy_raw(tpath("n.npy"), 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }",
                  feats, 24);
    EXPECT_ERR(barlow_array_load_npz(tpath("n.npy"), "f", &a), BARLOW_E_FORMAT, "not a valid .npz",
               ".npy given as .npz: FORMAT");
    /* uncompressed size that deflate could never produce */
    memcpy(c, z, n);
    uint32_t us = 0x7fffffff;
    memcpy(c + cd + 24, &us, 4);
    write_bytes(tpath("bomb.npz"), c, n);
    EXPECT_ERR(barlow_array_load_npz(tpath("bomb.npz"), "f", &a), BARLOW_E_FORMAT, "impossible",
               "an impossible uncompressed size is rejected before allocating");
    /* central directory offset out of range */
    memcpy(c, z, n);
    uint32_t bad = (uint32_t)n + 100;
    memcpy(c + n - 22 + 16, &bad, 4);
    write_bytes(tpath("cdo.npz"), c, n);
    EXPECT_ERR(barlow_array_load_npz(tpath("cdo.npz"), "f", &a), BARLOW_E_FORMAT, "out of range",
               "central directory offset beyond the file: FORMAT");
    /* unsupported method */
    memcpy(c, z, n);
    c[cd + 10] = 12; /* bzip2 */
    write_bytes(tpath("bz.npz"), c, n);
    EXPECT_ERR(barlow_array_load_npz(tpath("bz.npz"), "f", &a), BARLOW_E_UNSUPPORTED, "method 12",
               "bzip2 member: UNSUPPORTED");
    TAP_OK(m == NULL && a == NULL, "out untouched by every corrupt archive");
    free(c);
    free(z);
}

/* Builds a one-member archive of a stored .npy the way numpy does
 * (force_zip64: ZIP64 extra in the local header) plus, optionally, a data
 * descriptor, a ZIP64 central directory entry and ZIP64 end records. */
static void write_stored_zip(const char *path, const char *name, const unsigned char *npy,
                             size_t len, int descriptor, int zip64_dir, int bad_crc)
{
    unsigned char buf[4096];
    size_t p = 0, nl = strlen(name);
    uint32_t crc = (uint32_t)crc32(0, npy, (uInt)len) ^ (bad_crc ? 1u : 0u);
    bw_put32(buf + p, 0x04034b50u);
    bw_put16(buf + p + 4, 45);
    bw_put16(buf + p + 6, descriptor ? 8 : 0);
    bw_put16(buf + p + 8, 0);
    bw_put32(buf + p + 10, 0);
    bw_put32(buf + p + 14, descriptor ? 0 : crc);
    bw_put32(buf + p + 18, descriptor ? 0 : 0xffffffffu);
    bw_put32(buf + p + 22, descriptor ? 0 : 0xffffffffu);
    bw_put16(buf + p + 26, (uint16_t)nl);
    bw_put16(buf + p + 28, 20);
    memcpy(buf + p + 30, name, nl);
    p += 30 + nl;
    bw_put16(buf + p, 1);
    bw_put16(buf + p + 2, 16);
    bw_put64(buf + p + 4, descriptor ? 0 : len);
    bw_put64(buf + p + 12, descriptor ? 0 : len);
    p += 20;
    memcpy(buf + p, npy, len);
    p += len;
    if (descriptor) {
        bw_put32(buf + p, 0x08074b50u);
        bw_put32(buf + p + 4, crc);
        bw_put64(buf + p + 8, len);
        bw_put64(buf + p + 16, len);
        p += 24;
    }
    size_t cd = p;
    bw_put32(buf + p, 0x02014b50u);
    bw_put16(buf + p + 4, 45);
    bw_put16(buf + p + 6, 45);
    bw_put16(buf + p + 8, descriptor ? 8 : 0);
    bw_put16(buf + p + 10, 0);
    bw_put32(buf + p + 12, 0);
    bw_put32(buf + p + 16, crc);
    bw_put32(buf + p + 20, zip64_dir ? 0xffffffffu : (uint32_t)len);
    bw_put32(buf + p + 24, zip64_dir ? 0xffffffffu : (uint32_t)len);
    bw_put16(buf + p + 28, (uint16_t)nl);
    bw_put16(buf + p + 30, zip64_dir ? 28 : 0);
    memset(buf + p + 32, 0, 10);
    bw_put32(buf + p + 42, zip64_dir ? 0xffffffffu : 0);
    memcpy(buf + p + 46, name, nl);
    p += 46 + nl;
    if (zip64_dir) {
        bw_put16(buf + p, 1);
        bw_put16(buf + p + 2, 24);
        bw_put64(buf + p + 4, len);
        bw_put64(buf + p + 12, len);
        bw_put64(buf + p + 20, 0);
        p += 28;
    }
    size_t cd_size = p - cd;
    if (zip64_dir) {
        size_t z = p;
        bw_put32(buf + p, 0x06064b50u);
        bw_put64(buf + p + 4, 44);
        bw_put16(buf + p + 12, 45);
        bw_put16(buf + p + 14, 45);
        bw_put32(buf + p + 16, 0);
        bw_put32(buf + p + 20, 0);
        bw_put64(buf + p + 24, 1);
        bw_put64(buf + p + 32, 1);
        bw_put64(buf + p + 40, cd_size);
        bw_put64(buf + p + 48, cd);
        p += 56;
        bw_put32(buf + p, 0x07064b50u);
        bw_put32(buf + p + 4, 0);
        bw_put64(buf + p + 8, z);
        bw_put32(buf + p + 16, 1);
        p += 20;
    }
    bw_put32(buf + p, 0x06054b50u);
    bw_put16(buf + p + 4, 0);
    bw_put16(buf + p + 6, 0);
    bw_put16(buf + p + 8, zip64_dir ? 0xffff : 1);
    bw_put16(buf + p + 10, zip64_dir ? 0xffff : 1);
    bw_put32(buf + p + 12, zip64_dir ? 0xffffffffu : (uint32_t)cd_size);
    bw_put32(buf + p + 16, zip64_dir ? 0xffffffffu : (uint32_t)cd);
    bw_put16(buf + p + 20, 0);
    p += 22;
    write_bytes(path, buf, p);
}

static void test_npz_stored_zip64(void)
{
    int32_t v[5] = {5, -4, 3, -2, 1};
    size_t s5[1] = {5};
    char hdr[BW_NPY_HEADER_CAP];
    size_t hl = bw_npy_format_header(BARLOW_DTYPE_INT32, false, 1, s5, hdr);
    unsigned char npy[1024];
    memcpy(npy, hdr, hl);
    memcpy(npy + hl, v, sizeof v);
    size_t len = hl + sizeof v;
    static const struct {
        int dd, z64;
        const char *what;
    } cases[] = {
        {0, 0, "stored member, ZIP64 extra in the local header (numpy's savez)"},
        {1, 0, "stored member with a data descriptor"},
        {0, 1, "ZIP64 central directory entry and end records"},
        {1, 1, "data descriptor + ZIP64 directory"},
    };
    for (size_t i = 0; i < 4; i++) {
        write_stored_zip(tpath("s.npz"), "y.npy", npy, len, cases[i].dd, cases[i].z64, 0);
        barlow_array *a = NULL;
        barlow_status st = barlow_array_load_npz(tpath("s.npz"), "y", &a);
        TAP_OK(st == BARLOW_OK && array_is(a, BARLOW_DTYPE_INT32, 1, s5, v, sizeof v), "%s",
               cases[i].what);
        if (st) printf("#   %s\n", barlow_last_error());
        barlow_array_free(a);
    }
    write_stored_zip(tpath("s.npz"), "y.npy", npy, len, 0, 1, 1);
    barlow_array *a = NULL;
    EXPECT_ERR(barlow_array_load_npz(tpath("s.npz"), "y", &a), BARLOW_E_FORMAT, "CRC-32 mismatch",
               "stored member with a bad CRC: FORMAT");
    /* stored member whose npy header lies about the shape */
    size_t s9[1] = {9};
    hl = bw_npy_format_header(BARLOW_DTYPE_INT32, false, 1, s9, hdr);
    memcpy(npy, hdr, hl);
    write_stored_zip(tpath("s.npz"), "y.npy", npy, len, 0, 0, 0);
    EXPECT_ERR(barlow_array_load_npz(tpath("s.npz"), "y", &a), BARLOW_E_FORMAT,
               "header says 9 int32 but file has 20 bytes of data",
               "member whose header says more data than it has: FORMAT");
    TAP_OK(a == NULL, "out untouched");

    /* our writer with ZIP64 forced for every size and offset */
    bw_npz_zip64_limit = 0;
    barlow_npz_writer *w = NULL;
    float f[6] = {1, 2, 3, 4, 5, 6};
    size_t s23[2] = {2, 3};
    barlow_status st = barlow_npz_writer_open(tpath("z64.npz"), &w);
    st = st ? st : barlow_npz_writer_add(w, "a", BARLOW_DTYPE_FLOAT32, 2, s23, f);
    st = st ? st : barlow_npz_writer_add(w, "b", BARLOW_DTYPE_INT32, 1, s5, v);
    st = st ? st : barlow_npz_writer_commit(w);
    barlow_npz_writer_free(w);
    bw_npz_zip64_limit = 0xffffffffu;
    unsigned char *z = NULL;
    size_t n = read_bytes(tpath("z64.npz"), &z);
    TAP_OK(st == BARLOW_OK && n > 98 && bw_le32(z + n - 22 - 20) == 0x07064b50u &&
               bw_le32(z + 18) == 0xffffffffu,
           "forced ZIP64: local sizes 0xffffffff, ZIP64 end locator present");
    free(z);
    barlow_matrix *m = NULL;
    TAP_OK(barlow_matrix_load_npz(tpath("z64.npz"), "a", &m) == BARLOW_OK &&
               memcmp(barlow_matrix_data(m), f, sizeof f) == 0 &&
               barlow_array_load_npz(tpath("z64.npz"), "b.npy", &a) == BARLOW_OK &&
               array_is(a, BARLOW_DTYPE_INT32, 1, s5, v, sizeof v),
           "forced ZIP64 archive reads back");
    barlow_matrix_free(m);
    barlow_array_free(a);
}

int main(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/barlow-test-matrix-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_create();
    test_copy_wrap();
    test_check_finite();
    test_gather();
    test_matrix_npy();
    test_array_roundtrips();
    test_headers();
    test_fortran();
    test_conversions();
    test_bad_npy();
    test_npz_writer();
    test_npz_corrupt();
    test_npz_stored_zip64();
    remove_tree(tmpdir);
    return tap_done();
}

/* A test helper (not a test): drives libbarlow's .npy/.npz code from
 * tests/python/test_npy_numpy.py through the public API only.
 *
 *   npy_tool dump IN.npy                  dtype, shape and values as JSON
 *   npy_tool dump-npz IN.npz NAME         the same for one member
 *   npy_tool matrix IN.npy                barlow_matrix_load_npy as JSON
 *   npy_tool matrix-npz IN.npz NAME       barlow_matrix_load_npz as JSON
 *   npy_tool map IN.npy                   barlow_matrix_map_npy as JSON
 *   npy_tool copy IN.npy OUT.npy          array load + barlow_array_save_npy
 *   npy_tool matrix-copy IN.npy OUT.npy   matrix load + barlow_matrix_save_npy
 *   npy_tool npz-copy IN.npz OUT.npz NAME...  every named member rewritten
 *                                         through a barlow_npz_writer
 *   npy_tool npz-copy64 IN.npz OUT.npz NAME...  the same with ZIP64 records
 *                                         forced (as for members > 4 GiB)
 *
 * It links the library's objects (white-box) only to force ZIP64.
 *
 * Exit status 0 on success; 1 with "npy_tool: <status>: <message>" on
 * stderr when the library fails; 2 on bad usage. Non-finite values are
 * printed as the strings "nan", "inf", "-inf".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <barlow/barlow.h>

#include "npy.h"

static int fail(barlow_status st)
{
    fprintf(stderr, "npy_tool: %s: %s\n", barlow_status_str(st), barlow_last_error());
    return 1;
}

static void put_float(double v, int digits)
{
    if (isnan(v)) printf("\"nan\"");
    else if (isinf(v)) printf(v > 0 ? "\"inf\"" : "\"-inf\"");
    else printf("%.*g", digits, v);
}

static void dump_array(const barlow_array *a)
{
    barlow_dtype dt = barlow_array_dtype(a);
    printf("{\"dtype\": \"%s\", \"shape\": [", barlow_dtype_name(dt));
    for (size_t i = 0; i < barlow_array_ndim(a); i++)
        printf("%s%zu", i ? ", " : "", barlow_array_dim(a, i));
    printf("], \"data\": [");
    const unsigned char *p = barlow_array_data(a);
    for (size_t i = 0; i < barlow_array_size(a); i++) {
        if (i) printf(", ");
        switch (dt) {
        case BARLOW_DTYPE_FLOAT32: {
            float f;
            memcpy(&f, p + 4 * i, 4);
            put_float(f, 9);
            break;
        }
        case BARLOW_DTYPE_FLOAT64: {
            double d;
            memcpy(&d, p + 8 * i, 8);
            put_float(d, 17);
            break;
        }
        case BARLOW_DTYPE_INT32: {
            int32_t v;
            memcpy(&v, p + 4 * i, 4);
            printf("%ld", (long)v);
            break;
        }
        case BARLOW_DTYPE_INT64: {
            int64_t v;
            memcpy(&v, p + 8 * i, 8);
            printf("%lld", (long long)v);
            break;
        }
        case BARLOW_DTYPE_BOOL: printf("%s", p[i] ? "true" : "false"); break;
        case BARLOW_DTYPE_UINT8: printf("%u", (unsigned)p[i]); break;
        }
    }
    printf("]}\n");
}

static void dump_matrix(const barlow_matrix *m)
{
    size_t r = barlow_matrix_rows(m), c = barlow_matrix_cols(m);
    printf("{\"dtype\": \"float32\", \"shape\": [%zu, %zu], \"data\": [", r, c);
    for (size_t i = 0; i < r; i++) {
        const float *row = barlow_matrix_row(m, i);
        for (size_t j = 0; j < c; j++) {
            if (i || j) printf(", ");
            put_float(row[j], 9);
        }
    }
    printf("]}\n");
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: npy_tool dump|dump-npz|matrix|matrix-npz|map|copy|"
                        "matrix-copy|npz-copy|npz-copy64 ARGS...\n");
        return 2;
    }
    const char *cmd = argv[1];
    barlow_status st;
    if (strcmp(cmd, "dump") == 0 || (strcmp(cmd, "dump-npz") == 0 && argc == 4)) {
        barlow_array *a = NULL;
        st = argc == 4 ? barlow_array_load_npz(argv[2], argv[3], &a)
                       : barlow_array_load_npy(argv[2], &a);
        if (st) return fail(st);
        dump_array(a);
        barlow_array_free(a);
        return 0;
    }
    if (strcmp(cmd, "matrix") == 0 || strcmp(cmd, "map") == 0 ||
        (strcmp(cmd, "matrix-npz") == 0 && argc == 4)) {
        barlow_matrix *m = NULL;
        if (argc == 4) st = barlow_matrix_load_npz(argv[2], argv[3], &m);
        else if (strcmp(cmd, "map") == 0) st = barlow_matrix_map_npy(argv[2], &m);
        else st = barlow_matrix_load_npy(argv[2], &m);
        if (st) return fail(st);
        dump_matrix(m);
        barlow_matrix_free(m);
        return 0;
    }
    if (strcmp(cmd, "copy") == 0 && argc == 4) {
        barlow_array *a = NULL;
        st = barlow_array_load_npy(argv[2], &a);
        if (st) return fail(st);
        size_t shape[8];
        for (size_t i = 0; i < barlow_array_ndim(a); i++) shape[i] = barlow_array_dim(a, i);
        st = barlow_array_save_npy(barlow_array_dtype(a), barlow_array_ndim(a), shape,
                             barlow_array_data(a), argv[3]);
        barlow_array_free(a);
        return st ? fail(st) : 0;
    }
    if (strcmp(cmd, "matrix-copy") == 0 && argc == 4) {
        barlow_matrix *m = NULL;
        st = barlow_matrix_load_npy(argv[2], &m);
        if (st) return fail(st);
        st = barlow_matrix_save_npy(m, argv[3]);
        barlow_matrix_free(m);
        return st ? fail(st) : 0;
    }
    if (strcmp(cmd, "npz-copy64") == 0) {
        bw_npz_zip64_limit = 0;
        cmd = "npz-copy";
    }
    if (strcmp(cmd, "npz-copy") == 0 && argc >= 4) {
        barlow_npz_writer *w = NULL;
        st = barlow_npz_writer_open(argv[3], &w);
        if (st) return fail(st);
        for (int k = 4; k < argc && !st; k++) {
            barlow_array *a = NULL;
            st = barlow_array_load_npz(argv[2], argv[k], &a);
            if (st) break;
            size_t shape[8];
            for (size_t i = 0; i < barlow_array_ndim(a); i++) shape[i] = barlow_array_dim(a, i);
            st = barlow_npz_writer_add(w, argv[k], barlow_array_dtype(a), barlow_array_ndim(a),
                                       shape, barlow_array_data(a));
            barlow_array_free(a);
        }
        if (!st) st = barlow_npz_writer_commit(w);
        int rc = st ? fail(st) : 0;
        barlow_npz_writer_free(w);
        return rc;
    }
    fprintf(stderr, "npy_tool: unknown command or wrong arguments: %s\n", cmd);
    return 2;
}

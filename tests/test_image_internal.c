/* White-box tests of lib/image_internal.h, the interface the extractor uses:
 * bw_image_load_row / bw_image_load_source on file and in-memory (IDX)
 * datasets, per-image status + reason (never failing the others), the
 * options check, and concurrent use from several threads. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "barlow/dataset.h"
#include "barlow/image.h"
#include "barlow/loaders.h"
#include "dataset_internal.h"
#include "image_internal.h"
#include "img_encode.h"
#include "internal.h"
#include "tap.h"
#include "tmpdir.h"

enum { NIMG = 24 };

static void make_rgb(uint8_t *px, size_t w, size_t h, unsigned seed)
{
    for (size_t i = 0; i < w * h * 3; i++) px[i] = (uint8_t)((i * 2654435761u + seed * 97u) >> 7);
}

/* Reference output via the public API: decode, then preprocess. */
static int reference(const char *path, const bw_preprocess *pp, float *out)
{
    barlow_image_options o;
    barlow_image_options_init(&o);
    o.channels = pp->channels == 1 ? 1 : 0;
    barlow_image *img = NULL;
    if (barlow_image_decode_file(path, &o, &img) != BARLOW_OK) return 0;
    barlow_image_preprocess_options p;
    barlow_image_preprocess_options_init(&p);
    p.resize = pp->resize;
    p.crop = pp->crop;
    p.channels = pp->channels;
    int ok = barlow_image_preprocess(img, &p, out, bw_preprocess_floats(pp)) == BARLOW_OK;
    barlow_image_free(img);
    return ok;
}

typedef struct ctx {
    const barlow_dataset *ds;
    const bw_preprocess *pp;
    float *out;
    barlow_status *st;
    char (*reason)[256];
} ctx;

static int load_one(void *vctx, size_t i, size_t worker)
{
    ctx *c = vctx;
    (void)worker;
    size_t nf = bw_preprocess_floats(c->pp);
    c->st[i] = bw_image_load_row(c->ds, i, c->pp, c->out + i * nf, c->reason[i], 256);
    return 0;
}

static void test_files(void)
{
    /* a CSV dataset over NIMG images of varied sizes and formats, with a
     * missing, an empty, a truncated and an oversized one */
    mkdir(tmp_path("img"), 0755);
    char csv[8192] = "Filenames,Labels\n";
    for (int i = 0; i < NIMG; i++) {
        size_t w = 40 + (size_t)i * 7, h = 30 + (size_t)(i % 5) * 11, n = 0;
        uint8_t *px = malloc(w * h * 3), *d;
        make_rgb(px, w, h, (unsigned)i);
        char name[64];
        if (i % 3 == 0) {
            d = jpeg_encode(w, h, 3, px, 85, i % 2, &n);
            snprintf(name, sizeof name, "img/im%02d.jpg", i);
        } else if (i % 3 == 1) {
            d = png_encode(w, h, 2, px, &n);
            snprintf(name, sizeof name, "img/im%02d.png", i);
        } else {
            d = bmp_encode(w, h, px, &n);
            snprintf(name, sizeof name, "img/im%02d.bmp", i);
        }
        if (i == 5) n = 0;          /* empty file */
        if (i == 9) n = n / 2;      /* truncated JPEG */
        if (i != 13) write_file(tmp_path(name), d, n);
        free(px);
        free(d);
        char line[128];
        snprintf(line, sizeof line, "%s,c%d\n", name, i % 2);
        strcat(csv, line);
    }
    /* an oversized header */
    {
        uint8_t one[3] = {0};
        size_t n = 0;
        uint8_t *d = png_encode_ex(1, 1, 2, 8, one, NULL, 0, NULL, 0, 100000, 100000, 1, &n);
        write_file(tmp_path("img/huge.png"), d, n);
        free(d);
        strcat(csv, "img/huge.png,c0\n");
    }
    write_file(tmp_path("m.csv"), csv, strlen(csv));
    barlow_dataset_csv_options o;
    barlow_dataset_csv_options_init(&o);
    o.image_root = tmpdir;
    barlow_dataset *ds = NULL;
    barlow_status st = barlow_dataset_load_csv(tmp_path("m.csv"), &o, &ds);
    TAP_OK(st == BARLOW_OK && barlow_dataset_size(ds) == NIMG + 1, "CSV dataset loads: %s",
           barlow_last_error());
    if (st != BARLOW_OK) return;

    bw_preprocess pp;
    bw_preprocess_init(&pp);
    TAP_OK(pp.resize == 256 && pp.crop == 224 && pp.channels == 3 && pp.lim.max_side == 32768 &&
               pp.lim.max_pixels == ((uint64_t)1 << 28) && bw_preprocess_floats(&pp) == 3 * 224 * 224,
           "bw_preprocess_init: 256/224/3, default limits");
    pp.resize = 48;
    pp.crop = 40;
    size_t n = NIMG + 1, nf = bw_preprocess_floats(&pp);
    float *out = calloc(n * nf, sizeof *out), *ref = calloc(nf, sizeof *ref);
    barlow_status *sts = calloc(n, sizeof *sts);
    char(*reason)[256] = calloc(n, 256);
    ctx c = {ds, &pp, out, sts, reason};
    /* 4 threads at once on one const dataset */
    TAP_OK(bw_parallel_for(n, 4, load_one, &c, NULL, NULL) == 0, "parallel load ran");
    int good = 1;
    for (size_t i = 0; i < NIMG; i++) {
        if (i == 5 || i == 9 || i == 13) continue;
        char path[600];
        const char *ext = i % 3 == 0 ? "jpg" : i % 3 == 1 ? "png" : "bmp";
        snprintf(path, sizeof path, "%s/img/im%02zu.%s", tmpdir, i, ext);
        if (sts[i] != BARLOW_OK || reason[i][0] != '\0' || !reference(path, &pp, ref) ||
            memcmp(ref, out + i * nf, nf * sizeof *ref) != 0) {
            printf("# row %zu: status %d %s\n", i, sts[i], reason[i]);
            good = 0;
        }
    }
    TAP_OK(good, "4 threads: every good row equals decode + preprocess, empty reason");
    TAP_OK(sts[5] == BARLOW_E_FORMAT && strstr(reason[5], "im05.bmp") && strstr(reason[5], "empty"),
           "empty file: FORMAT, reason names it: %s", reason[5]);
    TAP_OK(sts[9] == BARLOW_E_FORMAT && strstr(reason[9], "im09.jpg") &&
               strstr(reason[9], "truncated"),
           "truncated JPEG: FORMAT, reason: %s", reason[9]);
    TAP_OK(sts[13] == BARLOW_E_IO && strstr(reason[13], "im13.png"),
           "missing file: IO, reason: %s", reason[13]);
    TAP_OK(sts[NIMG] == BARLOW_E_UNSUPPORTED && strstr(reason[NIMG], "huge.png") &&
               strstr(reason[NIMG], "100000x100000"),
           "100000x100000 header: UNSUPPORTED, reason: %s", reason[NIMG]);

    /* serial run equals the threaded one */
    float *out1 = calloc(nf, sizeof *out1);
    good = 1;
    for (size_t i = 0; i < n; i++) {
        char r[256];
        barlow_status s1 = bw_image_load_row(ds, i, &pp, out1, r, sizeof r);
        if (s1 != sts[i] || (s1 == BARLOW_OK && memcmp(out1, out + i * nf, nf * sizeof *out1)))
            good = 0;
    }
    TAP_OK(good, "results do not depend on threads");

    /* grey output */
    bw_preprocess pg = pp;
    pg.channels = 1;
    char r[512];
    TAP_OK(bw_image_load_row(ds, 1, &pg, out1, r, sizeof r) == BARLOW_OK && reference(
               tmp_path("img/im01.png"), &pg, ref) && memcmp(ref, out1, 40 * 40 * sizeof *ref) == 0,
           "channels 1 equals decode-as-L + preprocess");

    /* a short reason buffer is truncated, NUL-terminated */
    char small[12];
    memset(small, 'x', sizeof small);
    TAP_OK(bw_image_load_row(ds, 13, &pp, out1, small, sizeof small) == BARLOW_E_IO &&
               strlen(small) == sizeof small - 1,
           "reason truncated to its buffer");
    TAP_OK(bw_image_load_row(ds, 13, &pp, out1, NULL, 0) == BARLOW_E_IO, "NULL reason is fine");

    /* argument errors */
    TAP_OK(bw_image_load_row(ds, n, &pp, out1, r, sizeof r) == BARLOW_E_INVALID_ARG &&
               strstr(r, "row"),
           "row out of range -> INVALID_ARG: %s", r);
    bw_preprocess bad = pp;
    bad.crop = 0;
    TAP_OK(bw_image_load_row(ds, 0, &bad, out1, r, sizeof r) == BARLOW_E_INVALID_ARG &&
               strstr(r, "crop=0"),
           "crop 0 -> INVALID_ARG: %s", r);
    bad = pp;
    bad.channels = 2;
    TAP_OK(bw_preprocess_check(&bad, "who") == BARLOW_E_INVALID_ARG &&
               strstr(barlow_last_error(), "who: channels=2"),
           "bw_preprocess_check names the field: %s", barlow_last_error());
    bad = pp;
    bad.lim.max_pixels = 0;
    TAP_OK(bw_preprocess_check(&bad, "who") == BARLOW_E_INVALID_ARG, "max_pixels 0 refused");
    bad = pp;
    bad.lim.max_side = 30; /* every image is wider */
    TAP_OK(bw_image_load_row(ds, 0, &bad, out1, r, sizeof r) == BARLOW_E_UNSUPPORTED &&
               strstr(r, "exceeds"),
           "custom limits apply: %s", r);
    free(out1);
    free(out);
    free(ref);
    free(sts);
    free(reason);
    barlow_dataset_free(ds);

    /* a dataset row without an image */
    int32_t labels[2] = {0, 1};
    barlow_dataset *arr = NULL;
    barlow_dataset_create(2, labels, NULL, NULL, 0, &arr);
    float tiny[3 * 224 * 224];
    bw_preprocess_init(&pp);
    TAP_OK(bw_image_load_row(arr, 0, &pp, tiny, r, sizeof r) == BARLOW_E_STATE &&
               strstr(r, "row 0"),
           "row without an image -> STATE: %s", r);
    barlow_dataset_free(arr);
}

static void test_memory(void)
{
    /* IDX-like dataset: 3 images 6×5 grey */
    barlow_dataset *ds = bw_dataset_new(3, "t");
    int32_t id;
    bw_dataset_add_class(ds, "0", &id, "t");
    for (int i = 0; i < 3; i++) bw_dataset_append_row(ds, NULL, 0, BW_NO_PREDICTION, "t");
    ds->pixels = malloc(3 * 6 * 5);
    for (int i = 0; i < 90; i++) ds->pixels[i] = (uint8_t)(i * 3);
    ds->img_h = 6;
    ds->img_w = 5;
    ds->img_c = 1;
    bw_dataset_finish(ds, "t");
    bw_preprocess pp;
    bw_preprocess_init(&pp);
    pp.resize = 0;
    pp.crop = 5; /* 6 high: offset round(0.5) = 0 */
    pp.channels = 3;
    float out[3 * 25];
    char r[128];
    int ok = bw_image_load_row(ds, 1, &pp, out, r, sizeof r) == BARLOW_OK;
    for (int ch = 0; ok && ch < 3; ch++)
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 5; x++)
                ok &= out[ch * 25 + y * 5 + x] == (float)(uint8_t)((30 + y * 5 + x) * 3) / 255.0f;
    TAP_OK(ok, "in-memory row: crop, grey repeated to 3 channels");
    pp.lim.max_side = 5;
    TAP_OK(bw_image_load_row(ds, 1, &pp, out, r, sizeof r) == BARLOW_E_UNSUPPORTED &&
               strstr(r, "row 1"),
           "in-memory image over the limits: %s", r);
    barlow_dataset_free(ds);

    bw_image_source src = {0};
    uint8_t px[4 * 4 * 3];
    make_rgb(px, 4, 4, 1);
    src.pixels = px;
    src.width = 4;
    src.height = 4;
    src.channels = 3;
    bw_preprocess_init(&pp);
    pp.resize = 8;
    pp.crop = 8;
    float o8[3 * 64];
    TAP_OK(bw_image_load_source(&src, &pp, o8, r, sizeof r) == BARLOW_OK,
           "load_source from pixels, upscaled");
    src.channels = 2;
    TAP_OK(bw_image_load_source(&src, &pp, o8, r, sizeof r) == BARLOW_E_INVALID_ARG,
           "load_source with 2 channels -> INVALID_ARG");
    TAP_OK(bw_image_load_source(NULL, &pp, o8, r, sizeof r) == BARLOW_E_INVALID_ARG,
           "load_source NULL -> INVALID_ARG");
}

int main(void)
{
    tmp_dir_create("imgint");
    if (chdir(tmpdir) != 0) TAP_SKIP_ALL("cannot enter the temporary directory");
    test_files();
    test_memory();
    if (chdir("/") != 0) printf("# chdir failed\n");
    tmp_dir_remove();
    return tap_done();
}

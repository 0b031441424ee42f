/* Tests of include/barlow/loaders.h (public API only): image folders
 * (class ids, file order, ignored entries, errors), per-row image checks on
 * folder and metadata-CSV datasets (missing / corrupt files reported per
 * row), IDX and IDX.gz (values, lying and truncated headers, data types). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "barlow/loaders.h"
#include "img_encode.h"
#include "tap.h"
#include "tmpdir.h"

#define SENTINEL ((barlow_dataset *)(uintptr_t)0x1234)

static void write_png(const char *path, uint8_t v)
{
    uint8_t px[4 * 3 * 3];
    memset(px, v, sizeof px);
    size_t n = 0;
    uint8_t *d = png_encode(4, 3, 2, px, &n);
    write_file(path, d, n);
    free(d);
}

static void test_folder(void)
{
    mkdir(tmp_path("f"), 0755);
    mkdir(tmp_path("f/b_dog"), 0755);
    mkdir(tmp_path("f/a_cat"), 0755);
    mkdir(tmp_path("f/a_cat/sub"), 0755);
    mkdir(tmp_path("f/.git"), 0755);
    write_png(tmp_path("f/a_cat/2.png"), 20);
    write_png(tmp_path("f/a_cat/10.png"), 10);
    write_png(tmp_path("f/a_cat/sub/1.png"), 1);
    write_file(tmp_path("f/a_cat/notes.txt"), "x", 1);
    write_png(tmp_path("f/a_cat/.hidden.png"), 99);
    write_png(tmp_path("f/b_dog/x.JPG"), 30); /* a PNG named .JPG: extension case-insensitive */
    write_png(tmp_path("f/.git/y.png"), 40);
    write_png(tmp_path("f/readme.png"), 50);
    barlow_dataset *ds = NULL;
    barlow_status st = barlow_dataset_load_folder(tmp_path("f"), &ds);
    TAP_OK(st == BARLOW_OK && barlow_dataset_size(ds) == 4 &&
               barlow_dataset_class_count(ds) == 2,
           "folder: 4 images in 2 classes: %s", barlow_last_error());
    if (st != BARLOW_OK) return;
    TAP_OK(strcmp(barlow_dataset_class_name(ds, 0), "a_cat") == 0 &&
               strcmp(barlow_dataset_class_name(ds, 1), "b_dog") == 0,
           "classes sorted by name -> ids");
    const char *want[4] = {"a_cat/10.png", "a_cat/2.png", "a_cat/sub/1.png", "b_dog/x.JPG"};
    int order = 1;
    for (size_t i = 0; i < 4; i++) order &= strcmp(barlow_dataset_filename(ds, i), want[i]) == 0;
    TAP_OK(order, "files in torchvision order (directory, then name; strcmp)");
    const int32_t *lab = barlow_dataset_labels(ds);
    TAP_OK(lab[0] == 0 && lab[1] == 0 && lab[2] == 0 && lab[3] == 1, "labels = class ids");
    TAP_OK(!barlow_dataset_has_predictions(ds) &&
               strcmp(barlow_dataset_image_root(ds), tmp_path("f")) == 0,
           "no predictions; image root = the folder");
    barlow_image *img = NULL;
    TAP_OK(barlow_dataset_load_image(ds, 1, NULL, &img) == BARLOW_OK &&
               barlow_image_width(img) == 4 && barlow_image_data(img)[0] == 20,
           "load_image of row 1 decodes a_cat/2.png");
    barlow_image_free(img);
    size_t h = 7, w = 7, c = 7;
    TAP_OK(barlow_dataset_image_shape(ds, &h, &w, &c) == BARLOW_E_STATE && h == 7 &&
               msg_has("barlow_dataset_image_shape"),
           "image_shape of a file dataset -> STATE");
    barlow_image *sent = (barlow_image *)(uintptr_t)0x99;
    TAP_OK(barlow_dataset_load_image(ds, 4, NULL, &sent) == BARLOW_E_INVALID_ARG &&
               msg_has("row 4") && sent == (barlow_image *)(uintptr_t)0x99,
           "load_image row out of range -> INVALID_ARG");

    /* per-row checks: all good, then one corrupt and one deleted */
    int32_t rs[4] = {9, 9, 9, 9};
    size_t bad = 99;
    barlow_buffer rep = {0};
    TAP_OK(barlow_dataset_check_images(ds, NULL, rs, &bad, &rep) == BARLOW_OK && bad == 0 &&
               rs[0] == 0 && rs[3] == 0 && rep.size == 0,
           "check_images: all rows fine");
    barlow_buffer_free(&rep);
    write_file(tmp_path("f/a_cat/2.png"), "garbage!", 8);
    unlink(tmp_path("f/b_dog/x.JPG"));
    TAP_OK(barlow_dataset_check_images(ds, NULL, rs, &bad, &rep) == BARLOW_OK && bad == 2 &&
               rs[0] == BARLOW_OK && rs[1] == BARLOW_E_FORMAT && rs[2] == BARLOW_OK &&
               rs[3] == BARLOW_E_IO,
           "check_images: corrupt -> FORMAT, missing -> IO, per row");
    TAP_OK(rep.data && strstr(rep.data, "row 1: ") && strstr(rep.data, "a_cat/2.png") &&
               strstr(rep.data, "row 3: ") && strstr(rep.data, "b_dog/x.JPG") &&
               strcmp(barlow_last_error(), "") == 0,
           "check_images report names rows and files");
    /* Show the report as TAP comments, one "# " per line. */
    for (const char *p = rep.data; p && *p;) {
        const char *nl = strchr(p, '\n');
        int len = nl ? (int)(nl - p) : (int)strlen(p);
        printf("# %.*s\n", len, p);
        p += len + (nl ? 1 : 0);
    }
    barlow_buffer_free(&rep);
    TAP_OK(barlow_dataset_check_images(ds, NULL, NULL, &bad, NULL) == BARLOW_OK && bad == 2,
           "check_images with NULL outputs");
    barlow_image_options o;
    barlow_image_options_init(&o);
    o.max_side = 3;
    TAP_OK(barlow_dataset_check_images(ds, &o, rs, &bad, NULL) == BARLOW_OK && bad == 4 &&
               rs[0] == BARLOW_E_UNSUPPORTED && rs[2] == BARLOW_E_UNSUPPORTED,
           "check_images applies the size limits");
    o.version = 0;
    TAP_OK(barlow_dataset_check_images(ds, &o, rs, &bad, NULL) == BARLOW_E_INVALID_ARG &&
               msg_has("version"),
           "check_images bad options -> INVALID_ARG");
    TAP_OK(barlow_dataset_check_images(NULL, NULL, rs, &bad, NULL) == BARLOW_E_INVALID_ARG,
           "check_images NULL dataset -> INVALID_ARG");
    img = NULL;
    TAP_OK(barlow_dataset_load_image(ds, 3, NULL, &img) == BARLOW_E_IO && msg_has("row 3") &&
               msg_has("b_dog/x.JPG") && img == NULL,
           "load_image of a deleted file -> IO naming row and path: %s", barlow_last_error());
    barlow_dataset_free(ds);

    /* errors */
    ds = SENTINEL;
    mkdir(tmp_path("e"), 0755);
    TAP_OK(barlow_dataset_load_folder(tmp_path("e"), &ds) == BARLOW_E_FORMAT &&
               msg_has("no class subdirectories") && msg_has(tmp_path("e")) && ds == SENTINEL,
           "empty folder -> FORMAT: %s", barlow_last_error());
    mkdir(tmp_path("e/only"), 0755);
    write_file(tmp_path("e/only/a.txt"), "x", 1);
    TAP_OK(barlow_dataset_load_folder(tmp_path("e"), &ds) == BARLOW_E_FORMAT && msg_has("'only'") &&
               msg_has("no image files") && ds == SENTINEL,
           "class without images -> FORMAT naming it: %s", barlow_last_error());
    mkdir(tmp_path("u"), 0755);
    mkdir(tmp_path("u/ok"), 0755);
    mkdir(tmp_path("u/bad\xff"), 0755);
    write_file(tmp_path("u/ok/a.png"), "x", 1);
    write_file(tmp_path("u/bad\xff/a.png"), "x", 1);
    TAP_OK(barlow_dataset_load_folder(tmp_path("u"), &ds) == BARLOW_E_FORMAT &&
               msg_has("class directory 0: its name is not valid UTF-8: byte 0xff at offset 3") &&
               ds == SENTINEL,
           "a class directory named in non-UTF-8 -> FORMAT: %s", barlow_last_error());
    TAP_OK(barlow_dataset_load_folder(tmp_path("nope"), &ds) == BARLOW_E_IO &&
               msg_has(tmp_path("nope")) && ds == SENTINEL,
           "missing root -> IO");
    TAP_OK(barlow_dataset_load_folder(tmp_path("f/readme.png"), &ds) == BARLOW_E_IO &&
               msg_has("not a directory") && ds == SENTINEL,
           "root is a file -> IO");
    TAP_OK(barlow_dataset_load_folder(NULL, &ds) == BARLOW_E_INVALID_ARG && ds == SENTINEL &&
               barlow_dataset_load_folder(tmp_path("f"), NULL) == BARLOW_E_INVALID_ARG,
           "NULL root/out -> INVALID_ARG");
    /* a symlink loop is bounded */
    mkdir(tmp_path("loop"), 0755);
    mkdir(tmp_path("loop/c"), 0755);
    write_png(tmp_path("loop/c/a.png"), 1);
    if (symlink("..", tmp_path("loop/c/up")) == 0) {
        TAP_OK(barlow_dataset_load_folder(tmp_path("loop"), &ds) == BARLOW_E_FORMAT &&
                   msg_has("deeper than") && ds == SENTINEL,
               "symlink loop -> FORMAT, no hang: %s", barlow_last_error());
    }
}

static void test_csv_missing_files(void)
{
    mkdir(tmp_path("csvimg"), 0755);
    write_png(tmp_path("csvimg/a.png"), 5);
    write_png(tmp_path("csvimg/c.png"), 6);
    const char *csv = "Filenames,Predictions,Labels\n"
                      "a.png,cat,cat\n"
                      "b.png,dog,cat\n"
                      "c.png,cat,dog\n";
    write_file(tmp_path("meta.csv"), csv, strlen(csv));
    barlow_dataset_csv_options o;
    barlow_dataset_csv_options_init(&o);
    o.image_root = tmp_path("csvimg");
    barlow_dataset *ds = NULL;
    TAP_OK(barlow_dataset_load_csv(tmp_path("meta.csv"), &o, &ds) == BARLOW_OK &&
               barlow_dataset_size(ds) == 3,
           "CSV naming a missing file still loads");
    int32_t rs[3];
    size_t bad = 0;
    barlow_buffer rep = {0};
    TAP_OK(ds && barlow_dataset_check_images(ds, NULL, rs, &bad, &rep) == BARLOW_OK &&
               bad == 1 && rs[0] == 0 && rs[1] == BARLOW_E_IO && rs[2] == 0 && rep.data &&
               strstr(rep.data, "row 1: ") && strstr(rep.data, "b.png"),
           "the missing file is reported for its row only: %s", rep.data ? rep.data : "");
    barlow_buffer_free(&rep);
    barlow_dataset_free(ds);
}

/* ---- IDX ------------------------------------------------------------------- */

static size_t idx_header(uint8_t *b, uint8_t type, const uint32_t *dims, int nd)
{
    b[0] = b[1] = 0;
    b[2] = type;
    b[3] = (uint8_t)nd;
    for (int d = 0; d < nd; d++) enc_be32(b + 4 + 4 * d, dims[d]);
    return 4 + 4 * (size_t)nd;
}

static void write_gz(const char *path, const void *d, size_t n)
{
    gzFile g = gzopen(path, "wb");
    gzwrite(g, d, (unsigned)n);
    gzclose(g);
}

static void test_idx(void)
{
    /* 5 images of 3 rows × 4 columns, labels 0..3 */
    uint8_t img[16 + 60], lab[8 + 5];
    uint32_t dims[3] = {5, 3, 4};
    size_t hi = idx_header(img, 0x08, dims, 3);
    for (int i = 0; i < 60; i++) img[hi + i] = (uint8_t)(i * 4);
    uint32_t ld[1] = {5};
    size_t hl = idx_header(lab, 0x08, ld, 1);
    uint8_t labels[5] = {3, 0, 1, 3, 2};
    memcpy(lab + hl, labels, 5);
    write_file(tmp_path("i.idx"), img, hi + 60);
    write_file(tmp_path("l.idx"), lab, hl + 5);
    write_gz(tmp_path("i.idx.gz"), img, hi + 60);
    write_gz(tmp_path("l.idx.gz"), lab, hl + 5);
    /* gzip detected by content: a compressed file without .gz */
    write_gz(tmp_path("i-gz-noext"), img, hi + 60);

    const char *variants[3][2] = {{tmp_path("i.idx"), tmp_path("l.idx")},
                                  {tmp_path("i.idx.gz"), tmp_path("l.idx.gz")},
                                  {tmp_path("i-gz-noext"), tmp_path("l.idx")}};
    for (int v = 0; v < 3; v++) {
        barlow_dataset *ds = NULL;
        barlow_status st = barlow_dataset_load_idx(variants[v][0], variants[v][1], &ds);
        TAP_OK(st == BARLOW_OK && barlow_dataset_size(ds) == 5 &&
                   barlow_dataset_class_count(ds) == 4,
               "IDX %s: 5 rows, 4 classes: %s", variants[v][0], barlow_last_error());
        if (st != BARLOW_OK) continue;
        size_t h = 0, w = 0, c = 0;
        TAP_OK(barlow_dataset_image_shape(ds, &h, &w, &c) == BARLOW_OK && h == 3 && w == 4 &&
                   c == 1,
               "IDX image shape 3x4x1");
        const int32_t *l = barlow_dataset_labels(ds);
        TAP_OK(l[0] == 3 && l[1] == 0 && l[4] == 2 &&
                   strcmp(barlow_dataset_class_name(ds, 3), "3") == 0 &&
                   barlow_dataset_filename(ds, 0) == NULL,
               "IDX labels and class names \"0\"..\"3\"");
        barlow_image *im = NULL;
        TAP_OK(barlow_dataset_load_image(ds, 2, NULL, &im) == BARLOW_OK &&
                   barlow_image_width(im) == 4 && barlow_image_height(im) == 3 &&
                   memcmp(barlow_image_data(im), img + hi + 24, 12) == 0,
               "IDX image of row 2 = bytes 24..35");
        barlow_image_free(im);
        barlow_image_options io;
        barlow_image_options_init(&io);
        io.channels = 3;
        TAP_OK(barlow_dataset_load_image(ds, 2, &io, &im) == BARLOW_OK &&
                   barlow_image_channels(im) == 3 &&
                   barlow_image_data(im)[3] == img[hi + 25] &&
                   barlow_image_data(im)[5] == img[hi + 25],
               "IDX image as RGB repeats grey");
        barlow_image_free(im);
        size_t bad = 9;
        TAP_OK(barlow_dataset_check_images(ds, NULL, NULL, &bad, NULL) == BARLOW_OK && bad == 0,
               "check_images on IDX: all fine");
        barlow_dataset_free(ds);
    }

    /* 4-D: n×h×w×3 */
    uint8_t rgb[20 + 2 * 2 * 2 * 3];
    uint32_t d4[4] = {2, 2, 2, 3};
    size_t h4 = idx_header(rgb, 0x08, d4, 4);
    for (int i = 0; i < 24; i++) rgb[h4 + i] = (uint8_t)(100 + i);
    write_file(tmp_path("rgb.idx"), rgb, h4 + 24);
    uint8_t lab2[10];
    uint32_t l2[1] = {2};
    size_t hl2 = idx_header(lab2, 0x08, l2, 1);
    lab2[hl2] = 1;
    lab2[hl2 + 1] = 0;
    write_file(tmp_path("l2.idx"), lab2, hl2 + 2);
    barlow_dataset *ds = NULL;
    size_t h = 0, w = 0, c = 0;
    TAP_OK(barlow_dataset_load_idx(tmp_path("rgb.idx"), tmp_path("l2.idx"), &ds) == BARLOW_OK &&
               barlow_dataset_image_shape(ds, &h, &w, &c) == BARLOW_OK && c == 3 && h == 2,
           "IDX n x h x w x 3 images");
    barlow_dataset_free(ds);

    /* errors; out untouched */
    ds = SENTINEL;
#define IDX_ERR(ip, lp, want, text, name)                                                    \
    TAP_OK(barlow_dataset_load_idx(ip, lp, &ds) == (want) && msg_has(text) &&               \
               msg_has("barlow_dataset_load_idx") && ds == SENTINEL,                         \
           name ": %s", barlow_last_error())
    IDX_ERR(tmp_path("missing.idx"), tmp_path("l.idx"),
            BARLOW_E_IO, "missing.idx", "missing images file");
    IDX_ERR(tmp_path("l.idx"), tmp_path("l.idx"),
            BARLOW_E_FORMAT, "dimensions", "labels file as images");
    IDX_ERR(tmp_path("i.idx"), tmp_path("i.idx"),
            BARLOW_E_FORMAT, "dimensions", "images file as labels");
    IDX_ERR(tmp_path("i.idx"), tmp_path("l2.idx"),
            BARLOW_E_FORMAT, "5 images", "count mismatch 5 vs 2");
    write_file(tmp_path("trunc.idx"), img, hi + 59);
    IDX_ERR(tmp_path("trunc.idx"), tmp_path("l.idx"),
            BARLOW_E_FORMAT, "truncated", "truncated images");
    write_gz(tmp_path("trunc.idx.gz"), img, hi + 30);
    IDX_ERR(tmp_path("trunc.idx.gz"), tmp_path("l.idx"),
            BARLOW_E_FORMAT, "truncated", "truncated .gz images");
    uint8_t extra[16 + 61];
    memcpy(extra, img, hi + 60);
    extra[hi + 60] = 7;
    write_file(tmp_path("extra.idx"), extra, hi + 61);
    IDX_ERR(tmp_path("extra.idx"), tmp_path("l.idx"),
            BARLOW_E_FORMAT, "more data", "trailing bytes");
    /* a lying header: 2^31 images of 28×28 in a 76-byte file */
    uint8_t liar[16 + 60];
    uint32_t ldims[3] = {0x80000000u, 28, 28};
    size_t hlie = idx_header(liar, 0x08, ldims, 3);
    memset(liar + hlie, 1, 60);
    write_file(tmp_path("liar.idx"), liar, hlie + 60);
    IDX_ERR(tmp_path("liar.idx"), tmp_path("l.idx"), BARLOW_E_FORMAT, "2147483648 images",
            "lying header (2^31 images) -> FORMAT, no huge allocation");
    uint8_t big[16];
    uint32_t bdims[3] = {1, 100000, 100000};
    idx_header(big, 0x08, bdims, 3);
    write_file(tmp_path("bigimg.idx"), big, 16);
    IDX_ERR(tmp_path("bigimg.idx"), tmp_path("l.idx"), BARLOW_E_UNSUPPORTED, "100000x100000",
            "100000x100000 IDX images -> UNSUPPORTED");
    uint8_t i32[16 + 4];
    uint32_t id1[3] = {1, 1, 1};
    idx_header(i32, 0x0C, id1, 3);
    write_file(tmp_path("int.idx"), i32, 20);
    IDX_ERR(tmp_path("int.idx"), tmp_path("l.idx"),
            BARLOW_E_UNSUPPORTED, "int32", "int32 IDX -> UNSUPPORTED");
    uint8_t bad[16] = {1, 2, 8, 3};
    write_file(tmp_path("bad.idx"), bad, 16);
    IDX_ERR(tmp_path("bad.idx"), tmp_path("l.idx"),
            BARLOW_E_FORMAT, "not an IDX file", "bad magic");
    uint32_t zd[3] = {0, 28, 28};
    uint8_t zero[16];
    idx_header(zero, 0x08, zd, 3);
    write_file(tmp_path("zero.idx"), zero, 16);
    IDX_ERR(tmp_path("zero.idx"), tmp_path("l.idx"), BARLOW_E_FORMAT, "is 0", "zero images");
    write_file(tmp_path("empty.idx"), "", 0);
    IDX_ERR(tmp_path("empty.idx"), tmp_path("l.idx"),
            BARLOW_E_FORMAT, "no IDX header", "empty file");
    uint8_t c2[22] = {0};
    uint32_t dc2[4] = {1, 1, 1, 2};
    idx_header(c2, 0x08, dc2, 4);
    write_file(tmp_path("c2.idx"), c2, 22);
    IDX_ERR(tmp_path("c2.idx"), tmp_path("l.idx"), BARLOW_E_FORMAT, "2 channels", "2-channel IDX");
    /* corrupt gzip stream: a valid gzip header, then garbage */
    uint8_t gzbad[64] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    for (int i = 10; i < 64; i++) gzbad[i] = (uint8_t)(i * 91);
    write_file(tmp_path("bad.gz"), gzbad, 64);
    TAP_OK(barlow_dataset_load_idx(tmp_path("bad.gz"), tmp_path("l.idx"), &ds) == BARLOW_E_FORMAT &&
               ds == SENTINEL,
           "corrupt gzip -> FORMAT: %s", barlow_last_error());
    TAP_OK(barlow_dataset_load_idx(NULL, tmp_path("l.idx"), &ds) == BARLOW_E_INVALID_ARG &&
               barlow_dataset_load_idx(tmp_path("i.idx"), NULL, &ds) == BARLOW_E_INVALID_ARG &&
               barlow_dataset_load_idx(tmp_path("i.idx"), tmp_path("l.idx"), NULL) ==
                   BARLOW_E_INVALID_ARG &&
               ds == SENTINEL,
           "NULL arguments -> INVALID_ARG");
}

int main(void)
{
    tmp_dir_create("loaders");
    test_folder();
    test_csv_missing_files();
    test_idx();
    tmp_dir_remove();
    return tap_done();
}

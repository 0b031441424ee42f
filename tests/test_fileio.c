/* The file layer under hostile paths and files (lib/fileio.c, the limits in
 * lib/common.c, the decode budget in lib/image.c): inputs must be regular
 * files within their limit (a FIFO is never waited on, /dev/zero never
 * read), outputs replace only regular files, keep their mode, and leave no
 * temporary; long messages keep their reason. Run as root in CI, where a
 * device node can be made and must survive. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <dirent.h>

#include "barlow/barlow.h"
#include "image_internal.h"
#include "img_encode.h"
#include "internal.h"
#include "tap.h"
#include "tmpdir.h"

static void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static int file_is(const char *path, const char *text)
{
    char *data = NULL;
    size_t size = 0;
    if (bw_read_file(path, "t", BARLOW_LIMIT_TEXT_BYTES, &data, &size) != BARLOW_OK) return 0;
    int same = size == strlen(text) && memcmp(data, text, size) == 0;
    free(data);
    return same;
}

/* Number of "*.tmp-*" entries in the scratch directory. */
static int temporaries(void)
{
    DIR *d = opendir(tmpdir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp-")) n++;
    if (d) closedir(d);
    return n;
}

static void test_limits(void)
{
    TAP_OK(barlow_limit_get(BARLOW_LIMIT_TEXT_BYTES) == (uint64_t)1 << 30 &&
               barlow_limit_get(BARLOW_LIMIT_IMAGE_BYTES) == (uint64_t)256 << 20 &&
               barlow_limit_get(BARLOW_LIMIT_MODEL_BYTES) == (uint64_t)8 << 30 &&
               barlow_limit_get(BARLOW_LIMIT_ARRAY_BYTES) == (uint64_t)16 << 30 &&
               barlow_limit_get(BARLOW_LIMIT_DECODE_BYTES) == (uint64_t)4 << 30,
           "documented defaults");
    TAP_OK(barlow_limit_get((barlow_limit)99) == 0, "unknown limit reads 0");
    TAP_OK(barlow_limit_set((barlow_limit)99, 5) == BARLOW_E_INVALID_ARG &&
               strstr(barlow_last_error(), "unknown limit 99"),
           "unknown limit: INVALID_ARG (%s)", barlow_last_error());
    TAP_OK(barlow_limit_set(BARLOW_LIMIT_TEXT_BYTES, 0) == BARLOW_E_INVALID_ARG &&
               strstr(barlow_last_error(), "BARLOW_LIMIT_TEXT_BYTES=0"),
           "0 refused (%s)", barlow_last_error());
}

static void test_inputs(void)
{
    const char *fifo = tmp_path("fifo"), *zero = tmp_path("zero.csv"), *reg = tmp_path("r.csv");
    TAP_OK(mkfifo(fifo, 0600) == 0, "mkfifo");
    TAP_OK(symlink("/dev/zero", zero) == 0, "symlink to /dev/zero");
    put_file(reg, "0123456789");
    char *data = NULL;
    size_t size = 0;
    barlow_status st = bw_read_file(fifo, "t", BARLOW_LIMIT_TEXT_BYTES, &data, &size);
    TAP_OK(st == BARLOW_E_IO && msg_has("fifo: it is a FIFO, not a regular file"),
           "a FIFO is refused without waiting (%s)", barlow_last_error());
    st = bw_read_file(zero, "t", BARLOW_LIMIT_TEXT_BYTES, &data, &size);
    TAP_OK(st == BARLOW_E_IO && msg_has("zero.csv: it is a character device"),
           "a symlink to /dev/zero is refused (%s)", barlow_last_error());
    st = bw_read_file(tmpdir, "t", BARLOW_LIMIT_TEXT_BYTES, &data, &size);
    TAP_OK(st == BARLOW_E_IO && msg_has("it is a directory"), "a directory is refused");
    st = bw_read_file(tmp_path("nope"), "t", BARLOW_LIMIT_TEXT_BYTES, &data, &size);
    TAP_OK(st == BARLOW_E_IO && msg_has("nope: No such file"), "a missing file: IO");

    barlow_limit_set(BARLOW_LIMIT_TEXT_BYTES, 9);
    st = bw_read_file(reg, "t", BARLOW_LIMIT_TEXT_BYTES, &data, &size);
    TAP_OK(st == BARLOW_E_UNSUPPORTED && msg_has("r.csv: the file is 10 bytes, over the limit "
                                                 "of 9 bytes (BARLOW_LIMIT_TEXT_BYTES"),
           "over the limit: UNSUPPORTED naming file, size, limit (%s)", barlow_last_error());
    barlow_limit_set(BARLOW_LIMIT_TEXT_BYTES, 10);
    st = bw_read_file(reg, "t", BARLOW_LIMIT_TEXT_BYTES, &data, &size);
    TAP_OK(st == BARLOW_OK && size == 10 && data[10] == '\0', "at the limit: read whole");
    free(data);
    barlow_limit_set(BARLOW_LIMIT_TEXT_BYTES, (uint64_t)1 << 30);

    /* the public reader of a program's own files: the same checks */
    barlow_buffer buf = {(void *)1, 7};
    TAP_OK(barlow_file_read(fifo, BARLOW_LIMIT_TEXT_BYTES, &buf) == BARLOW_E_IO &&
               msg_has("barlow_file_read: ") && msg_has("FIFO") && buf.data == (void *)1 &&
               buf.size == 7,
           "barlow_file_read: a FIFO is refused, *out untouched (%s)", barlow_last_error());
    TAP_OK(barlow_file_read(zero, BARLOW_LIMIT_TEXT_BYTES, &buf) == BARLOW_E_IO &&
               msg_has("character device"),
           "barlow_file_read: /dev/zero refused");
    TAP_OK(barlow_file_read(NULL, BARLOW_LIMIT_TEXT_BYTES, &buf) == BARLOW_E_INVALID_ARG &&
               barlow_file_read(reg, BARLOW_LIMIT_TEXT_BYTES, NULL) == BARLOW_E_INVALID_ARG &&
               barlow_file_read(reg, (barlow_limit)42, &buf) == BARLOW_E_INVALID_ARG &&
               msg_has("unknown limit 42"),
           "barlow_file_read: NULL arguments, unknown limit");
    barlow_limit_set(BARLOW_LIMIT_TEXT_BYTES, 9);
    TAP_OK(barlow_file_read(reg, BARLOW_LIMIT_TEXT_BYTES, &buf) == BARLOW_E_UNSUPPORTED &&
               msg_has("over the limit of 9 bytes"),
           "barlow_file_read: over the limit");
    barlow_limit_set(BARLOW_LIMIT_TEXT_BYTES, (uint64_t)1 << 30);
    buf = (barlow_buffer){NULL, 0};
    TAP_OK(barlow_file_read(reg, BARLOW_LIMIT_TEXT_BYTES, &buf) == BARLOW_OK && buf.size == 10 &&
               !memcmp(buf.data, "0123456789", 11),
           "barlow_file_read: the bytes, NUL-terminated");
    barlow_buffer_free(&buf);

    /* every public reader, through the same layer */
    barlow_dataset *ds = NULL;
    barlow_array *a = NULL;
    barlow_matrix *m = NULL;
    barlow_image *img = NULL;
    TAP_OK(barlow_dataset_load_csv(fifo, NULL, &ds) == BARLOW_E_IO && msg_has("FIFO"),
           "CSV from a FIFO: refused (%s)", barlow_last_error());
    TAP_OK(barlow_dataset_load_csv(zero, NULL, &ds) == BARLOW_E_IO && msg_has("device"),
           "CSV from /dev/zero: refused");
    TAP_OK(barlow_array_load_npy(fifo, &a) == BARLOW_E_IO && msg_has("FIFO"),
           "npy from a FIFO: refused (%s)", barlow_last_error());
    TAP_OK(barlow_matrix_map_npy(zero, &m) == BARLOW_E_IO && msg_has("device"),
           "mapping /dev/zero: refused");
    TAP_OK(barlow_array_load_npz(zero, "x", &a) == BARLOW_E_IO && msg_has("device"),
           "npz from /dev/zero: refused");
    TAP_OK(barlow_image_decode_file(zero, NULL, &img) == BARLOW_E_IO && msg_has("device"),
           "image from /dev/zero: refused (%s)", barlow_last_error());
    TAP_OK(barlow_dataset_load_idx(fifo, zero, &ds) == BARLOW_E_IO && msg_has("FIFO"),
           "IDX from a FIFO: refused (%s)", barlow_last_error());
    TAP_OK(barlow_dataset_load_npy(zero, NULL, NULL, &ds) == BARLOW_E_IO,
           "labels from /dev/zero: refused");
}

/* .npy read into memory obeys the array limit; a mapped one does not. */
static void test_array_limit(void)
{
    float v[64];
    for (int i = 0; i < 64; i++) v[i] = (float)i;
    barlow_matrix *m = NULL;
    const char *p = tmp_path("a.npy");
    TAP_OK(barlow_matrix_wrap(v, 8, 8, 8, &m) == BARLOW_OK && barlow_matrix_save_npy(m, p) ==
                                                                  BARLOW_OK,
           "write a 256-byte array");
    barlow_matrix_free(m);
    m = NULL;
    barlow_limit_set(BARLOW_LIMIT_ARRAY_BYTES, 255);
    barlow_status st = barlow_matrix_load_npy(p, &m);
    TAP_OK(st == BARLOW_E_UNSUPPORTED && msg_has("256 bytes, over the limit of 255 bytes") &&
               msg_has("BARLOW_LIMIT_ARRAY_BYTES") && m == NULL,
           "load over the array limit: UNSUPPORTED (%s)", barlow_last_error());
    st = barlow_matrix_map_npy(p, &m);
    TAP_OK(st == BARLOW_OK, "mapping is not capped by the array limit");
    barlow_matrix_free(m);
    barlow_limit_set(BARLOW_LIMIT_ARRAY_BYTES, (uint64_t)16 << 30);
}

static void test_outputs(void)
{
    const char *fifo = tmp_path("out.fifo"), *link = tmp_path("link.json");
    const char *target = tmp_path("target.json"), *secret = tmp_path("secret.json");
    mkfifo(fifo, 0600);
    put_file(target, "keep");
    symlink(target, link);
    put_file(secret, "old");
    chmod(secret, 0600);

    bw_atomic_file af;
    barlow_status st = bw_atomic_open(&af, fifo, "t");
    struct stat sb;
    TAP_OK(st == BARLOW_E_IO && msg_has("it is a FIFO (only a regular file is replaced)") &&
               lstat(fifo, &sb) == 0 && S_ISFIFO(sb.st_mode),
           "a FIFO target is refused and left a FIFO (%s)", barlow_last_error());
    st = bw_atomic_open(&af, link, "t");
    TAP_OK(st == BARLOW_E_IO && msg_has("symbolic link") && lstat(link, &sb) == 0 &&
               S_ISLNK(sb.st_mode) && file_is(target, "keep"),
           "a symlink target is refused; link and its target intact (%s)", barlow_last_error());
    st = bw_atomic_open(&af, tmpdir, "t");
    TAP_OK(st == BARLOW_E_IO && msg_has("it is a directory"), "a directory target is refused");
    TAP_OK(barlow_output_check(fifo) == BARLOW_E_IO && barlow_output_check(link) == BARLOW_E_IO &&
               barlow_output_check(tmp_path("new.json")) == BARLOW_OK &&
               barlow_output_check(secret) == BARLOW_OK,
           "barlow_output_check agrees");
    TAP_OK(barlow_output_check(tmp_path("none/x.json")) == BARLOW_E_IO &&
               msg_has("none: No such file"),
           "missing directory (%s)", barlow_last_error());
    TAP_OK(barlow_output_check(tmp_path("target.json/x")) == BARLOW_E_IO &&
               msg_has("Not a directory"),
           "a file as directory (%s)", barlow_last_error());
    TAP_OK(barlow_output_check("") == BARLOW_E_INVALID_ARG &&
               barlow_output_check(NULL) == BARLOW_E_INVALID_ARG,
           "empty and NULL paths");

    bw_sb sb2;
    bw_sb_init(&sb2);
    bw_sb_append(&sb2, "new");
    TAP_OK(bw_sb_save(&sb2, secret, "t") == BARLOW_OK && stat(secret, &sb) == 0 &&
               (sb.st_mode & 07777) == 0600 && file_is(secret, "new"),
           "replacing a 0600 file keeps 0600 (%o)", (unsigned)(sb.st_mode & 07777));
    chmod(secret, 0640);
    bw_sb_init(&sb2);
    bw_sb_append(&sb2, "newer");
    TAP_OK(bw_sb_save(&sb2, secret, "t") == BARLOW_OK && stat(secret, &sb) == 0 &&
               (sb.st_mode & 07777) == 0640,
           "and 0640 stays 0640");
    TAP_OK(temporaries() == 0, "no temporaries left");

    if (geteuid() == 0) {
        const char *dev = tmp_path("null");
        TAP_OK(mknod(dev, S_IFCHR | 0666, makedev(1, 3)) == 0, "root: mknod a null device");
        st = bw_atomic_open(&af, dev, "t");
        TAP_OK(st == BARLOW_E_IO && msg_has("character device") && lstat(dev, &sb) == 0 &&
                   S_ISCHR(sb.st_mode),
               "root: a device node is refused and survives (%s)", barlow_last_error());
    } else {
        TAP_OK(1, "# SKIP not root: no device node");
        TAP_OK(1, "# SKIP not root");
    }
}

/* barlow_output_remove_temporaries: what a program's SIGINT thread calls. */
static void test_remove_temporaries(void)
{
    bw_atomic_file a, b;
    const char *pa = tmp_path("a.out"), *pb = tmp_path("b.out");
    TAP_OK(bw_atomic_open(&a, pa, "t") == BARLOW_OK && bw_atomic_open(&b, pb, "t") == BARLOW_OK,
           "two writers open");
    fputs("half", a.fp);
    fflush(a.fp);
    TAP_OK(temporaries() == 2, "two temporaries exist");
    TAP_OK(barlow_output_remove_temporaries() == 2, "both removed");
    TAP_OK(temporaries() == 0, "none left on disk");
    TAP_OK(bw_atomic_commit(&a, "t") == BARLOW_E_CANCELLED && msg_has("interrupted") &&
               access(pa, F_OK) != 0,
           "a later commit: CANCELLED, no output (%s)", barlow_last_error());
    bw_atomic_abort(&b);
    TAP_OK(access(pb, F_OK) != 0 && temporaries() == 0, "abort after removal is clean");
    TAP_OK(barlow_output_remove_temporaries() == 0, "nothing registered any more");
    TAP_OK(bw_atomic_open(&a, pa, "t") == BARLOW_OK && fputs("whole", a.fp) >= 0 &&
               bw_atomic_commit(&a, "t") == BARLOW_OK && file_is(pa, "whole"),
           "writing works again afterwards");
}

static void test_long_message(void)
{
    size_t n = 100000;
    char *path = malloc(n + 1);
    for (size_t i = 0; i < n; i++) path[i] = i % 2 ? '/' : 'd';
    path[n] = '\0';
    barlow_array *a = NULL;
    barlow_status st = barlow_array_load_npy(path, &a);
    const char *m = barlow_last_error();
    size_t len = strlen(m);
    TAP_OK(st == BARLOW_E_IO && len <= 1023 && strncmp(m, "barlow_array_load_npy: cannot", 29) == 0 &&
               strstr(m, "...") && strcmp(m + len - 20, ": File name too long") == 0,
           "a 100 KB path: head and reason kept (%zu bytes: ...%s)", len, m + len - 40);
    free(path);
    /* an over-long message with multi-byte text is cut on a character boundary */
    char big[3000];
    for (size_t i = 0; i + 2 < sizeof big; i += 2) memcpy(big + i, "\xc3\xa9", 2);
    big[sizeof big - 1] = big[sizeof big - 2] = '\0';
    bw_error(BARLOW_E_FORMAT, "x%s", big);
    m = barlow_last_error();
    size_t bad = bw_utf8_check(m, strlen(m));
    TAP_OK(strlen(m) <= 1023 && bad == strlen(m), "cut on UTF-8 boundaries");
}

typedef struct decode_ctx {
    const char *path;
    int failures;
} decode_ctx;

static void *decode_many(void *arg)
{
    decode_ctx *c = arg;
    for (int k = 0; k < 6; k++) {
        barlow_image *img = NULL;
        if (barlow_image_decode_file(c->path, NULL, &img) != BARLOW_OK) c->failures++;
        barlow_image_free(img);
    }
    return NULL;
}

/* The decode budget bounds all threads together. */
static void test_decode_budget(void)
{
    size_t w = 512, h = 512;
    uint8_t *px = malloc(w * h * 4);
    for (size_t i = 0; i < w * h * 4; i++) px[i] = (uint8_t)(i * 131u >> 3);
    size_t size = 0;
    uint8_t *png = png_encode(w, h, 6, px, &size);
    free(px);
    const char *p = tmp_path("rgba.png");
    FILE *f = fopen(p, "wb");
    fwrite(png, 1, size, f);
    fclose(f);
    free(png);
    /* estimate: 2 x 4 bytes a pixel (stb's rows and image) + 1 MiB */
    uint64_t est = (uint64_t)w * h * 8 + (1u << 20);
    barlow_limit_set(BARLOW_LIMIT_DECODE_BYTES, est - 1);
    barlow_image *img = NULL;
    barlow_status st = barlow_image_decode_file(p, NULL, &img);
    TAP_OK(st == BARLOW_E_UNSUPPORTED && msg_has("BARLOW_LIMIT_DECODE_BYTES") &&
               msg_has("512x512"),
           "an image needing more than the whole budget is refused (%s)", barlow_last_error());
    barlow_limit_set(BARLOW_LIMIT_DECODE_BYTES, est + est / 2); /* one at a time */
    pthread_t t[4];
    decode_ctx c[4];
    for (int i = 0; i < 4; i++) {
        c[i].path = p;
        c[i].failures = 0;
        pthread_create(&t[i], NULL, decode_many, &c[i]);
    }
    int failures = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        failures += c[i].failures;
    }
    uint64_t used = 1, peak = 0;
    bw_decode_budget_stats(&used, &peak);
    TAP_OK(failures == 0, "4 threads x 6 decodes all succeed (they wait their turn)");
    TAP_OK(peak <= est + est / 2 && peak >= est, "peak in use %llu <= the limit %llu",
           (unsigned long long)peak, (unsigned long long)(est + est / 2));
    TAP_OK(used == 0, "all of it returned");
    barlow_limit_set(BARLOW_LIMIT_DECODE_BYTES, (uint64_t)4 << 30);
}

int main(void)
{
    tmp_dir_create("fileio");
    test_limits();
    test_inputs();
    test_array_limit();
    test_outputs();
    test_remove_temporaries();
    test_long_message();
    test_decode_budget();
    tmp_dir_remove();
    return tap_done();
}

/* Helper of tests/python/test_image_parity.py and the fuzz script (not a
 * test itself): runs libbarlow's public image API and writes .npy files.
 *
 *   image_tool probe IN                     prints "FORMAT WIDTH HEIGHT"
 *   image_tool decode [-c CH] IN OUT.npy    uint8 H×W×C (CH 0, 1 or 3)
 *   image_tool resize IN W H OUT.npy        decode (native channels), resize;
 *                                           uint8 H×W×C
 *   image_tool preprocess [-r R] [-s S] [-c CH] OUT.npy IN...
 *                                           float32 N×C×H×W (S = 0: one file)
 *   image_tool idx IMAGES LABELS PIX.npy LABELS.npy
 *                                           barlow_dataset_load_idx: pixels as
 *                                           uint8 N×H×W×C, labels int32
 *   image_tool folder ROOT                  barlow_dataset_load_folder: prints
 *                                           "label<TAB>class<TAB>file" per row
 *   image_tool time REPEAT IN...           decode + resize 256 + crop 224 of
 *                                           each file REPEAT times; prints the
 *                                           mean milliseconds per image
 *   image_tool batch JOBS                   runs one of the commands above per
 *                                           line of JOBS (arguments separated
 *                                           by tabs) in this one process; prints
 *                                           "ok" or "error: MESSAGE" per line
 *
 * Exit status 0 on success; 1 with barlow_last_error() on stderr otherwise;
 * 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "barlow/image.h"
#include "barlow/loaders.h"
#include "barlow/matrix.h"

static char last_msg[2048];

static int fail(const char *what)
{
    snprintf(last_msg, sizeof last_msg, "%s: %s", what, barlow_last_error());
    fprintf(stderr, "image_tool: %s\n", last_msg);
    return 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: image_tool probe IN | decode [-c CH] IN OUT.npy | "
                    "resize IN W H OUT.npy | preprocess [-r R] [-s S] [-c CH] OUT.npy IN...\n");
    return 2;
}

static int save_image(const barlow_image *img, const char *path)
{
    size_t shape[3] = {barlow_image_height(img), barlow_image_width(img),
                       barlow_image_channels(img)};
    if (barlow_array_save_npy(BARLOW_DTYPE_UINT8, 3, shape, barlow_image_data(img), path) != BARLOW_OK)
        return fail(path);
    return 0;
}

static int run(int argc, char **argv)
{
    if (argc < 2) return usage();
    const char *cmd = argv[1];
    if (strcmp(cmd, "probe") == 0) {
        if (argc != 3) return usage();
        FILE *fp = fopen(argv[2], "rb");
        if (!fp) {
            fprintf(stderr, "image_tool: cannot open %s\n", argv[2]);
            return 1;
        }
        static unsigned char buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, fp);
        fclose(fp);
        barlow_image_format f;
        size_t w, h;
        if (barlow_image_probe_memory(buf, n, &f, &w, &h) != BARLOW_OK) return fail(argv[2]);
        printf("%d %zu %zu\n", (int)f, w, h);
        return 0;
    }
    if (strcmp(cmd, "decode") == 0) {
        barlow_image_options o;
        barlow_image_options_init(&o);
        int i = 2;
        if (i + 1 < argc && strcmp(argv[i], "-c") == 0) {
            o.channels = (size_t)strtoul(argv[i + 1], NULL, 10);
            i += 2;
        }
        if (argc - i != 2) return usage();
        barlow_image *img = NULL;
        if (barlow_image_decode_file(argv[i], &o, &img) != BARLOW_OK) return fail(argv[i]);
        int rc = save_image(img, argv[i + 1]);
        barlow_image_free(img);
        return rc;
    }
    if (strcmp(cmd, "resize") == 0) {
        if (argc != 6) return usage();
        barlow_image *img = NULL, *res = NULL;
        if (barlow_image_decode_file(argv[2], NULL, &img) != BARLOW_OK) return fail(argv[2]);
        if (barlow_image_resize(img, (size_t)strtoul(argv[3], NULL, 10),
                                (size_t)strtoul(argv[4], NULL, 10), &res) != BARLOW_OK) {
            barlow_image_free(img);
            return fail("resize");
        }
        int rc = save_image(res, argv[5]);
        barlow_image_free(res);
        barlow_image_free(img);
        return rc;
    }
    if (strcmp(cmd, "preprocess") == 0) {
        barlow_image_preprocess_options o;
        barlow_image_preprocess_options_init(&o);
        int i = 2;
        while (i + 1 < argc && argv[i][0] == '-') {
            size_t v = (size_t)strtoul(argv[i + 1], NULL, 10);
            if (strcmp(argv[i], "-r") == 0) o.resize = v;
            else if (strcmp(argv[i], "-s") == 0) o.crop = v;
            else if (strcmp(argv[i], "-c") == 0) o.channels = v;
            else return usage();
            i += 2;
        }
        if (argc - i < 2) return usage();
        const char *out_path = argv[i++];
        size_t n = (size_t)(argc - i);
        if (n > 1 && o.crop == 0) return usage();
        float *all = NULL;
        size_t c = 0, h = 0, w = 0;
        for (size_t k = 0; k < n; k++) {
            barlow_image *img = NULL;
            const char *in = argv[i + (int)k];
            if (barlow_image_decode_file(in, NULL, &img) != BARLOW_OK) {
                free(all);
                return fail(in);
            }
            if (!all) {
                if (barlow_image_preprocess_shape(img, &o, &c, &h, &w) != BARLOW_OK) {
                    barlow_image_free(img);
                    return fail("shape");
                }
                all = malloc(n * c * h * w * sizeof *all);
                if (!all) return 1;
            }
            barlow_status st = barlow_image_preprocess(img, &o, all + k * c * h * w, c * h * w);
            barlow_image_free(img);
            if (st != BARLOW_OK) {
                free(all);
                return fail(in);
            }
        }
        size_t shape[4] = {n, c, h, w};
        barlow_status st = barlow_array_save_npy(BARLOW_DTYPE_FLOAT32, 4, shape, all, out_path);
        free(all);
        return st == BARLOW_OK ? 0 : fail(out_path);
    }
    if (strcmp(cmd, "time") == 0) {
        if (argc < 4) return usage();
        int rep = atoi(argv[2]);
        static float out[3 * 224 * 224];
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int r = 0; r < rep; r++)
            for (int i = 3; i < argc; i++) {
                barlow_image *img = NULL;
                if (barlow_image_decode_file(argv[i], NULL, &img) != BARLOW_OK) return fail(argv[i]);
                barlow_status st = barlow_image_preprocess(img, NULL, out, 3 * 224 * 224);
                barlow_image_free(img);
                if (st != BARLOW_OK) return fail(argv[i]);
            }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = ((double)(t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6) /
                    ((double)rep * (argc - 3));
        printf("%.3f\n", ms);
        return 0;
    }
    if (strcmp(cmd, "idx") == 0) {
        if (argc != 6) return usage();
        barlow_dataset *ds = NULL;
        if (barlow_dataset_load_idx(argv[2], argv[3], &ds) != BARLOW_OK) return fail("idx");
        size_t n = barlow_dataset_size(ds), h, w, c;
        barlow_dataset_image_shape(ds, &h, &w, &c);
        uint8_t *pix = malloc(n * h * w * c);
        int rc = pix ? 0 : 1;
        for (size_t i = 0; i < n && rc == 0; i++) {
            barlow_image *img = NULL;
            if (barlow_dataset_load_image(ds, i, NULL, &img) != BARLOW_OK) {
                rc = fail("load_image");
                break;
            }
            memcpy(pix + i * h * w * c, barlow_image_data(img), h * w * c);
            barlow_image_free(img);
        }
        size_t shape[4] = {n, h, w, c};
        if (rc == 0 && barlow_array_save_npy(BARLOW_DTYPE_UINT8, 4, shape, pix, argv[4]) != BARLOW_OK)
            rc = fail(argv[4]);
        if (rc == 0 && barlow_array_save_npy(BARLOW_DTYPE_INT32, 1, shape,
                                       barlow_dataset_labels(ds), argv[5]) != BARLOW_OK)
            rc = fail(argv[5]);
        free(pix);
        barlow_dataset_free(ds);
        return rc;
    }
    if (strcmp(cmd, "folder") == 0) {
        if (argc != 3) return usage();
        barlow_dataset *ds = NULL;
        if (barlow_dataset_load_folder(argv[2], &ds) != BARLOW_OK) return fail(argv[2]);
        const int32_t *lab = barlow_dataset_labels(ds);
        for (size_t i = 0; i < barlow_dataset_size(ds); i++)
            printf("%d\t%s\t%s\n", (int)lab[i], barlow_dataset_class_name(ds, lab[i]),
                   barlow_dataset_filename(ds, i));
        barlow_dataset_free(ds);
        return 0;
    }
    return usage();
}

static int batch(const char *jobs)
{
    FILE *fp = fopen(jobs, "r");
    if (!fp) {
        fprintf(stderr, "image_tool: cannot open %s\n", jobs);
        return 1;
    }
    static char line[1 << 16];
    while (fgets(line, sizeof line, fp)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0]) continue;
        char *argv[4096];
        int argc = 0;
        argv[argc++] = "image_tool";
        for (char *tok = strtok(line, "\t"); tok && argc < 4095; tok = strtok(NULL, "\t"))
            argv[argc++] = tok;
        argv[argc] = NULL;
        last_msg[0] = '\0';
        int rc = run(argc, argv);
        if (rc == 0) printf("ok\n");
        else printf("error: %s\n", last_msg[0] ? last_msg : "usage");
        fflush(stdout);
    }
    fclose(fp);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "batch") == 0) return batch(argv[2]);
    return run(argc, argv);
}

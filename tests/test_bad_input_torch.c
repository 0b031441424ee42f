/* Bad input to the libtorch parts: every function of extractor.h and
 * visualizer.h that returns a status, and barlow_extraction_save_shard of
 * shards.h (tests/badinput.h; docs/reliability.md, "Bad input"). Each case
 * checks the documented status, a message naming the problem, outputs
 * untouched (sentinels for *out; caller buffers filled with a pattern; the
 * dataset's predictions; an existing target file), no leaked library bytes,
 * and a valid call on the same handles right after (an extractor forward or
 * a visualizer ranking + maps, bit for bit as before). The cases run
 * in-process: libtorch's thread pools do not survive fork(). Hostile model
 * files: missing, a directory, a FIFO (must not block), a socket, /dev/zero
 * and a link to it, empty, truncated, garbage, a zip that is no TorchScript,
 * torch.save checkpoints, a wrong SHA-256, files over the size limit,
 * models that break the contract. The in-range edges of the options are
 * checked too (separate test points, not table rows), and the attack's
 * extremes: 0 steps returns the images unchanged; 1e6 steps with a
 * callback that cancels returns CANCELLED at once. White-box (the library's
 * live bytes); skipped without libtorch. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "barlow/barlow.h"
#include "internal.h"
#include "tap.h"
#include "badinput.h"
#include "tmpdir.h"
#include "torch_fixture.h"

#define PER (3 * 32 * 32) /* floats per input image */
#define D 16              /* tiny_cnn's features */
#define K 5               /* tiny_cnn's logits */
#define HW (16 * 16)      /* its feature map */

static const size_t ALL[8] = {0, 1, 2, 3, 4, 5, 6, 7};

static struct {
    barlow_extractor *ex;  /* tiny_cnn, features + logits, batch 4 */
    barlow_extractor *exf; /* features only */
    barlow_extractor *exl; /* logits only */
    barlow_dataset *ds;    /* meta.csv, 5 classes */
    barlow_dataset *ds1;   /* one class (fewer than the 5 logits), 8 rows */
    barlow_dataset *arr;   /* 8 rows from arrays: no images, no predictions */
    barlow_dataset *small; /* 3 rows */
    barlow_dataset *del;   /* meta.csv over a copy of the images, img1.jpg deleted */
    barlow_extraction *r, *rl;
    float x[4 * PER];      /* rows 0..3 as loaded */
    float ref_f[D], ref_l[K];
    barlow_visualizer *v;      /* over ds, k 3, 2 attack steps, logits set */
    barlow_visualizer *v_np;   /* over arr (no predictions) */
    barlow_visualizer *v_long; /* 1e6 attack steps, no logits */
    barlow_visualizer *v_del;  /* over del, k 6 */
    barlow_matrix *logits;     /* r's logits */
    size_t feat;               /* the busiest feature */
    size_t ref_rows[3];
    float ref_vals[3], ref_maps[2 * HW];
    char root[600];            /* the copy of the images */
    char sha[65];
    char *model;               /* tiny_cnn.pt's bytes */
    size_t model_size;
} F;

/* ---- patterns and valid calls ------------------------------------------- */

#define PAT 0xA5
static void fill(void *p, size_t n) { memset(p, PAT, n); }
static int kept(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != PAT) return 0;
    return 1;
}

/* The extractor still gives the reference forward, bit for bit. */
static int ex_works(void)
{
    float f[D], l[K];
    return barlow_extractor_run(F.ex, F.x, 1, f, l) == BARLOW_OK &&
           !memcmp(f, F.ref_f, sizeof f) && !memcmp(l, F.ref_l, sizeof l);
}

/* The visualizer v still ranks and maps as before. */
static int vis_works_on(barlow_visualizer *v)
{
    size_t rows[3], n = 0;
    float vals[3], maps[2 * HW];
    return barlow_visualizer_rank(v, F.feat, ALL, 8, 0, 3, rows, vals, &n, NULL) == BARLOW_OK &&
           n == 3 && !memcmp(rows, F.ref_rows, sizeof rows) &&
           !memcmp(vals, F.ref_vals, sizeof vals) &&
           barlow_visualizer_maps(v, F.feat, ALL, 2, maps) == BARLOW_OK &&
           !memcmp(maps, F.ref_maps, sizeof maps);
}
static int vis_works(void) { return vis_works_on(F.v) && ex_works(); }

/* The dataset's predictions equal `want` (n = 8). */
static int preds_are(const barlow_dataset *ds, const int32_t *want)
{
    const int32_t *p = barlow_dataset_predictions(ds);
    return p && !memcmp(p, want, 8 * sizeof *p);
}

/* Entries of the scratch directory, to see that nothing is left behind. */
static int entries(void)
{
    DIR *d = opendir(tmpdir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void put_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) {
        printf("# cannot write %s\n", path);
        exit(1);
    }
}

static char *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    *size = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static int file_is(const char *path, const char *text)
{
    size_t n = 0;
    char *b = slurp(path, &n);
    int same = b && n == strlen(text) && !memcmp(b, text, n);
    free(b);
    return same;
}

static int cancel_now(size_t done, size_t total, void *user)
{
    (void)done;
    (void)total;
    (*(size_t *)user)++;
    return 1;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A zip archive of empty, stored files named names[0..n) (bytes at *out,
 * malloc'd). */
static size_t make_zip(const char *const *names, size_t n, unsigned char **out)
{
    unsigned char *z = calloc(1, 4096), *p = z;
    size_t offs[8];
#define LE16(v) (*p++ = (unsigned char)(v), *p++ = (unsigned char)((v) >> 8))
#define LE32(v) (LE16((v) & 0xFFFF), LE16(((uint32_t)(v) >> 16) & 0xFFFF))
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        offs[i] = (size_t)(p - z);
        LE32(0x04034b50u); LE16(20); LE16(0); LE16(0); LE16(0); LE16(0);
        LE32(0); LE32(0); LE32(0); LE16(len); LE16(0);
        memcpy(p, names[i], len);
        p += len;
    }
    size_t cd = (size_t)(p - z);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        LE32(0x02014b50u); LE16(20); LE16(20); LE16(0); LE16(0); LE16(0); LE16(0);
        LE32(0); LE32(0); LE32(0); LE16(len); LE16(0); LE16(0); LE16(0); LE16(0);
        LE32(0); LE32(offs[i]);
        memcpy(p, names[i], len);
        p += len;
    }
    size_t cd_size = (size_t)(p - z) - cd;
    LE32(0x06054b50u); LE16(0); LE16(0); LE16(n); LE16(n); LE32(cd_size); LE32(cd); LE16(0);
#undef LE32
#undef LE16
    *out = z;
    return (size_t)(p - z);
}

/* ---- the fixture --------------------------------------------------------- */

static barlow_visualizer *make_vis(barlow_dataset *ds, size_t k, size_t steps)
{
    barlow_visualizer_options o;
    barlow_visualizer_options_init(&o);
    o.k = k;
    o.attack_steps = steps;
    barlow_visualizer *v = NULL;
    if (barlow_visualizer_create(F.ex, ds, barlow_extraction_features(F.r),
                                 barlow_extraction_index(F.r), barlow_extraction_count(F.r), &o,
                                 &v) != BARLOW_OK) {
        printf("# visualizer: %s\n", barlow_last_error());
        exit(1);
    }
    return v;
}

static void setup(void)
{
    F.ex = tf_extractor("tiny_cnn.pt", 32, 3, BARLOW_EXTRACT_FEATURES | BARLOW_EXTRACT_LOGITS, 4);
    F.exf = tf_extractor("tiny_cnn.pt", 32, 3, BARLOW_EXTRACT_FEATURES, 4);
    F.exl = tf_extractor("tiny_cnn.pt", 32, 3, BARLOW_EXTRACT_LOGITS, 4);
    F.ds = tf_meta(NULL, 1);
    {
        const char *csv = tmp_path("one-class.csv");
        put_file(csv, "Filenames,Labels,Predictions\nimg0.png,cat,cat\nimg1.jpg,cat,cat\n"
                      "img2.png,cat,cat\nimg3.jpg,cat,cat\nimg4.png,cat,cat\nimg5.jpg,cat,cat\n"
                      "img0.png,cat,cat\nimg1.jpg,cat,cat\n", 165);
        barlow_dataset_csv_options co;
        barlow_dataset_csv_options_init(&co);
        co.image_root = tf_path("images");
        if (barlow_dataset_load_csv(csv, &co, &F.ds1) != BARLOW_OK) {
            printf("# %s: %s\n", csv, barlow_last_error());
            exit(1);
        }
    }
    snprintf(F.root, sizeof F.root, "%s/images", tmpdir);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", tf_path("images"), F.root);
    if (system(cmd) != 0) exit(1);
    F.del = tf_meta(F.root, 1);
    int32_t labels[8] = {0, 1, 2, 0, 1, 2, 0, 1};
    if (barlow_dataset_create(8, labels, NULL, NULL, 5, &F.arr) ||
        barlow_dataset_create(3, labels, labels, NULL, 5, &F.small))
        exit(1);
    if (barlow_extractor_extract(F.ex, F.ds, NULL, NULL, &F.r) != BARLOW_OK ||
        barlow_extractor_extract(F.exl, F.ds, NULL, NULL, &F.rl) != BARLOW_OK) {
        printf("# extract: %s\n", barlow_last_error());
        exit(1);
    }
    const size_t rows4[4] = {0, 1, 2, 3};
    if (barlow_extractor_load_inputs(F.ex, F.ds, rows4, 4, F.x) ||
        barlow_extractor_run(F.ex, F.x, 1, F.ref_f, F.ref_l))
        exit(1);
    const barlow_matrix *X = barlow_extraction_features(F.r);
    F.feat = tf_busiest_feature(X);
    F.v = make_vis(F.ds, 3, 2);
    F.v_np = make_vis(F.arr, 3, 2);
    F.v_long = make_vis(F.ds, 3, 1000000);
    F.v_del = make_vis(F.del, 6, 2);
    if (barlow_matrix_create_copy(barlow_matrix_data(barlow_extraction_logits(F.r)),
                                  barlow_extraction_count(F.r), K, 0, &F.logits) ||
        barlow_visualizer_set_logits(F.v, F.logits) ||
        barlow_visualizer_set_logits(F.v_np, F.logits))
        exit(1);
    size_t n = 0;
    if (barlow_visualizer_rank(F.v, F.feat, ALL, 8, 0, 3, F.ref_rows, F.ref_vals, &n, NULL) ||
        barlow_visualizer_maps(F.v, F.feat, ALL, 2, F.ref_maps))
        exit(1);
    memcpy(F.sha, barlow_extractor_model_sha256(F.ex), 65);
    F.model = slurp(tf_path("tiny_cnn.pt"), &F.model_size);
    /* img1.jpg (row 1, a failure, extracted) disappears from the copy */
    snprintf(cmd, sizeof cmd, "%s/img1.jpg", F.root);
    if (unlink(cmd) != 0) exit(1);
}

static void teardown(void)
{
    barlow_visualizer_free(F.v);
    barlow_visualizer_free(F.v_np);
    barlow_visualizer_free(F.v_long);
    barlow_visualizer_free(F.v_del);
    barlow_matrix_free(F.logits);
    barlow_extraction_free(F.r);
    barlow_extraction_free(F.rl);
    barlow_dataset_free(F.ds);
    barlow_dataset_free(F.ds1);
    barlow_dataset_free(F.del);
    barlow_dataset_free(F.arr);
    barlow_dataset_free(F.small);
    barlow_extractor_free(F.ex);
    barlow_extractor_free(F.exf);
    barlow_extractor_free(F.exl);
    free(F.model);
}

/* ---- extractor.h: creation ------------------------------------------------ */

static barlow_extractor_options small_opts(void)
{
    barlow_extractor_options o;
    barlow_extractor_options_init(&o);
    o.input_size = 32;
    o.resize = 32;
    o.threads = 1;
    o.batch_size = 4;
    return o;
}

/* One option set to a value. */
typedef struct optset {
    const char *input; /* the table row's text */
    const char *field;
    double v;
    const char *needle;
} optset;

static void apply(barlow_extractor_options *o, const optset *c)
{
    const char *f = c->field;
    double v = c->v;
    if (!strcmp(f, "version")) o->version = (uint32_t)v;
    else if (!strcmp(f, "input_size")) o->input_size = (size_t)v;
    else if (!strcmp(f, "resize")) o->resize = (size_t)v;
    else if (!strcmp(f, "channels")) o->channels = (size_t)v;
    else if (!strcmp(f, "normalize")) o->normalize = (int32_t)v;
    else if (!strncmp(f, "mean", 4)) {
        o->normalize = 1;
        o->mean[f[4] - '0'] = (float)v;
    } else if (!strncmp(f, "std", 3)) {
        o->normalize = 1;
        o->std[f[3] - '0'] = (float)v;
    } else if (!strcmp(f, "batch_size")) o->batch_size = (size_t)v;
    else if (!strcmp(f, "threads")) o->threads = (size_t)v;
    else if (!strcmp(f, "decode_threads")) o->decode_threads = (size_t)v;
    else if (!strcmp(f, "model_batch")) o->model_batch = (size_t)v;
    else if (!strcmp(f, "max_image_side")) o->max_image_side = (size_t)v;
    else if (!strcmp(f, "max_image_pixels")) o->max_image_pixels = (uint64_t)v;
    else if (!strcmp(f, "outputs")) o->outputs = (uint32_t)v;
    else if (!strcmp(f, "optimize")) o->optimize = (int32_t)v;
    else if (!strcmp(f, "tune_malloc")) o->tune_malloc = (int32_t)v;
    else {
        printf("# unknown field %s\n", f);
        exit(1);
    }
}

static const optset ex_bad_opts[] = {
    {"options version 0", "version", 0, "barlow_extractor_options"},
    {"options version 999", "version", 999, "barlow_extractor_options"},
    {"input_size 0", "input_size", 0, "input_size=0"},
    {"input_size 4097", "input_size", 4097, "input_size=4097"},
    {"input_size 2^62", "input_size", 4611686018427387904.0, "input_size="},
    {"resize 65537", "resize", 65537, "resize=65537"},
    {"channels 0", "channels", 0, "channels=0"},
    {"channels 2", "channels", 2, "channels=2"},
    {"channels 4", "channels", 4, "channels=4"},
    {"normalize 2", "normalize", 2, "normalize=2"},
    {"normalize -1", "normalize", -1, "normalize=-1"},
    {"mean[0] NaN (normalize 1)", "mean0", NAN, "mean[0]"},
    {"mean[2] inf (normalize 1)", "mean2", INFINITY, "mean[2]"},
    {"mean[1] -inf (normalize 1)", "mean1", -INFINITY, "mean[1]"},
    {"std[0] 0 (normalize 1)", "std0", 0.0, "std[0]"},
    {"std[1] -1 (normalize 1)", "std1", -1.0, "std[1]"},
    {"std[2] NaN (normalize 1)", "std2", NAN, "std[2]"},
    {"std[0] inf (normalize 1)", "std0", INFINITY, "std[0]"},
    {"batch_size 0", "batch_size", 0, "batch_size=0"},
    {"batch_size 65537", "batch_size", 65537, "batch_size=65537"},
    {"threads 1025", "threads", 1025, "threads=1025"},
    {"decode_threads 257", "decode_threads", 257, "decode_threads=257"},
    {"model_batch 65537", "model_batch", 65537, "model_batch=65537"},
    {"max_image_side 0", "max_image_side", 0, "max_image_side"},
    {"max_image_side 2^31", "max_image_side", 2147483648.0, "max_image_side"},
    {"max_image_pixels 0", "max_image_pixels", 0, "max_image_pixels"},
    {"max_image_pixels 2^40+1", "max_image_pixels", 1099511627777.0, "max_image_pixels"},
    {"outputs 0", "outputs", 0, "outputs=0"},
    {"outputs 4", "outputs", 4, "outputs=4"},
    {"outputs 7", "outputs", 7, "outputs=7"},
    {"optimize 2", "optimize", 2, "optimize=2"},
    {"optimize -1", "optimize", -1, "optimize=-1"},
    {"tune_malloc 2", "tune_malloc", 2, "tune_malloc=2"},
};

/* In-range edges: each must create (and run). */
static const optset ex_edge_opts[] = {
    {"options version 1 (the struct before model_batch)", "version", 1, NULL},
    {"input_size 1", "input_size", 1, NULL},
    {"resize 0", "resize", 0, NULL},
    {"resize 65536", "resize", 65536, NULL},
    {"batch_size 1", "batch_size", 1, NULL},
    {"batch_size 65536", "batch_size", 65536, NULL},
    {"decode_threads 256", "decode_threads", 256, NULL},
    {"model_batch 65536", "model_batch", 65536, NULL},
    {"max_image_side 1", "max_image_side", 1, NULL},
    {"max_image_side 2^31-1", "max_image_side", 2147483647.0, NULL},
    {"max_image_pixels 2^40", "max_image_pixels", 1099511627776.0, NULL},
    {"outputs 3", "outputs", 3, NULL},
    {"std[0] 1e-30 (normalize 1)", "std0", 1e-30, NULL},
    {"mean[0] -1e30 (normalize 1)", "mean0", -1e30, NULL},
};

static void create_file_case(bi_table *bi, const char *input, const char *path,
                             const barlow_extractor_options *o, barlow_status want,
                             const char *needle)
{
    BI_CASE(bi, "barlow_extractor_create_from_file", input, want, needle) {
        barlow_extractor *out = BI_SENTINEL;
        BI_BAD(bi, barlow_extractor_create_from_file(path, o, &out));
        bi->untouched = out == BI_SENTINEL;
        if (out != BI_SENTINEL && bi->st == BARLOW_OK) barlow_extractor_free(out);
        bi->works = ex_works();
    }
}

static void create_memory_case(bi_table *bi, const char *input, const void *data, size_t size,
                               const barlow_extractor_options *o, barlow_status want,
                               const char *needle)
{
    BI_CASE(bi, "barlow_extractor_create_from_memory", input, want, needle) {
        barlow_extractor *out = BI_SENTINEL;
        BI_BAD(bi, barlow_extractor_create_from_memory(data, size, o, &out));
        bi->untouched = out == BI_SENTINEL;
        if (out != BI_SENTINEL && bi->st == BARLOW_OK) barlow_extractor_free(out);
        bi->works = ex_works();
    }
}

static void test_create(bi_table *bi)
{
    barlow_extractor_options o = small_opts();
    const char *model = tf_path("tiny_cnn.pt");
    barlow_extractor *out = BI_SENTINEL;
    BI_CASE(bi, "barlow_extractor_create_from_file", "NULL path", BARLOW_E_INVALID_ARG,
            "path is NULL") {
        BI_BAD(bi, barlow_extractor_create_from_file(NULL, &o, &out));
        bi->untouched = out == BI_SENTINEL;
        bi->works = ex_works();
    }
    BI_CASE(bi, "barlow_extractor_create_from_file", "NULL out", BARLOW_E_INVALID_ARG,
            "out is NULL") {
        BI_BAD(bi, barlow_extractor_create_from_file(model, &o, NULL));
        bi->untouched = 1;
        bi->works = ex_works();
    }
    for (size_t i = 0; i < sizeof ex_bad_opts / sizeof ex_bad_opts[0]; i++) {
        barlow_extractor_options b = small_opts();
        apply(&b, &ex_bad_opts[i]);
        create_file_case(bi, ex_bad_opts[i].input, model, &b, BARLOW_E_INVALID_ARG,
                         ex_bad_opts[i].needle);
    }
    /* strings */
    static const struct {
        const char *input, *sha, *device, *needle;
        barlow_status want;
    } str_cases[] = {
        {"sha256 of 63 digits",
         "00000000000000000000000000000000000000000000000000000000000000a", NULL,
         "not 64 hexadecimal digits", BARLOW_E_INVALID_ARG},
        {"sha256 of 65 digits",
         "00000000000000000000000000000000000000000000000000000000000000aaa", NULL,
         "not 64 hexadecimal digits", BARLOW_E_INVALID_ARG},
        {"sha256 with a non-hex digit",
         "g000000000000000000000000000000000000000000000000000000000000000", NULL,
         "not 64 hexadecimal digits", BARLOW_E_INVALID_ARG},
        {"sha256 empty", "", NULL, "sha256=\"\"", BARLOW_E_INVALID_ARG},
        {"device \"gpu\"", NULL, "gpu", "device 'gpu'", BARLOW_E_INVALID_ARG},
        {"device \"\"", NULL, "", "device ''", BARLOW_E_INVALID_ARG},
        {"device \"cpu:1\"", NULL, "cpu:1", "device 'cpu:1'", BARLOW_E_INVALID_ARG},
        {"device \"cuda:x\"", NULL, "cuda:x", "device 'cuda:x'", BARLOW_E_INVALID_ARG},
        {"device \"cuda:-1\"", NULL, "cuda:-1", "device 'cuda:-1'", BARLOW_E_INVALID_ARG},
        {"device \"meta\" (a libtorch device, not supported)", NULL, "meta", "device 'meta'",
         BARLOW_E_UNSUPPORTED},
        {"device \"cuda:99\" (no such device)", NULL, "cuda:99", "device 'cuda:99'",
         BARLOW_E_UNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof str_cases / sizeof str_cases[0]; i++) {
        barlow_extractor_options b = small_opts();
        b.sha256 = str_cases[i].sha;
        b.device = str_cases[i].device;
        create_file_case(bi, str_cases[i].input, model, &b, str_cases[i].want,
                         str_cases[i].needle);
    }

    /* hostile model files */
    char dir[600], fifo[600], sock[600], zlink[600], empty[600], trunc[600], garbage[600];
    char npz[600], cut[600];
    snprintf(dir, sizeof dir, "%s", tmp_path("a-directory.pt"));
    snprintf(fifo, sizeof fifo, "%s", tmp_path("model.fifo"));
    snprintf(sock, sizeof sock, "%s", tmp_path("model.sock"));
    snprintf(zlink, sizeof zlink, "%s", tmp_path("zero-link.pt"));
    snprintf(empty, sizeof empty, "%s", tmp_path("empty.pt"));
    snprintf(trunc, sizeof trunc, "%s", tmp_path("truncated.pt"));
    snprintf(garbage, sizeof garbage, "%s", tmp_path("garbage.pt"));
    snprintf(npz, sizeof npz, "%s", tmp_path("not-torchscript.npz"));
    snprintf(cut, sizeof cut, "%s", tmp_path("cut-at-4.pt"));
    mkdir(dir, 0700);
    mkfifo(fifo, 0600);
    int sfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t sl = strlen(sock); /* /tmp/barlow-test-...: well within sun_path */
    int have_sock = sfd >= 0 && sl < sizeof sa.sun_path;
    if (have_sock) memcpy(sa.sun_path, sock, sl + 1);
    have_sock = have_sock && bind(sfd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (symlink("/dev/zero", zlink) != 0) printf("# cannot make %s\n", zlink);
    put_file(empty, "", 0);
    put_file(trunc, F.model, F.model_size / 2);
    put_file(cut, F.model, 4);
    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)(i * 131 + 7);
    put_file(garbage, junk, sizeof junk);
    {
        barlow_npz_writer *w = NULL;
        size_t shape = 4;
        if (barlow_npz_writer_open(npz, &w) ||
            barlow_npz_writer_add(w, "x", BARLOW_DTYPE_FLOAT32, 1, &shape, F.ref_f) ||
            barlow_npz_writer_commit(w))
            printf("# cannot write %s\n", npz);
        barlow_npz_writer_free(w);
    }
    create_file_case(bi, "a missing file", tmp_path("missing.pt"), &o, BARLOW_E_IO,
                     "missing.pt");
    create_file_case(bi, "a directory", dir, &o, BARLOW_E_IO, "directory");
    alarm(20); /* a FIFO must not block: SIGALRM ends the test if it does */
    create_file_case(bi, "a FIFO (no writer)", fifo, &o, BARLOW_E_IO, "FIFO");
    alarm(0);
    if (have_sock) create_file_case(bi, "a Unix socket", sock, &o, BARLOW_E_IO, "socket");
    create_file_case(bi, "/dev/zero", "/dev/zero", &o, BARLOW_E_IO, "/dev/zero");
    create_file_case(bi, "a symbolic link to /dev/zero", zlink, &o, BARLOW_E_IO, "zero-link.pt");
    create_file_case(bi, "an empty file", empty, &o, BARLOW_E_FORMAT, "empty");
    create_file_case(bi, "the first 4 bytes of a model", cut, &o, BARLOW_E_FORMAT, "cut-at-4.pt");
    create_file_case(bi, "a truncated model (half)", trunc, &o, BARLOW_E_FORMAT, "truncated");
    create_file_case(bi, "4 KiB of garbage", garbage, &o, BARLOW_E_FORMAT, "not a zip archive");
    create_file_case(bi, "a zip archive that is no TorchScript (.npz)", npz, &o, BARLOW_E_FORMAT,
                     "not-torchscript.npz");
    unsigned char *zip = NULL;
    static const char *const folder_names[2] = {"archive/readme.txt", "archive/data/0"};
    size_t zip_size = make_zip(folder_names, 2, &zip);
    char nover[600];
    snprintf(nover, sizeof nover, "%s", tmp_path("no-version.zip"));
    put_file(nover, zip, zip_size);
    create_file_case(bi, "a zip archive in a folder without a version record", nover, &o,
                     BARLOW_E_FORMAT, "no archive/version record");
    create_file_case(bi, "a torch.save state_dict (zip)", tf_path("tiny_cnn_state.pth"), &o,
                     BARLOW_E_FORMAT, "checkpoint");
    create_file_case(bi, "a torch.save state_dict (legacy pickle)",
                     tf_path("tiny_cnn_state_legacy.pth"), &o, BARLOW_E_FORMAT, "legacy");
    {
        barlow_extractor_options b = small_opts();
        b.sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
        create_file_case(bi, "a wrong sha256", model, &b, BARLOW_E_FORMAT, F.sha);
    }
    {
        uint64_t lim = barlow_limit_get(BARLOW_LIMIT_MODEL_BYTES);
        barlow_limit_set(BARLOW_LIMIT_MODEL_BYTES, 1024);
        create_file_case(bi, "a model over the size limit (1 KiB)", model, &o,
                         BARLOW_E_UNSUPPORTED, "over the limit");
        barlow_limit_set(BARLOW_LIMIT_MODEL_BYTES, lim);
    }
    create_file_case(bi, "a model whose forward_features is 2-D", tf_path("bad_rank.pt"), &o,
                     BARLOW_E_FORMAT, "4 dimensions");
    create_file_case(bi, "a model returning a tuple", tf_path("tuple_out.pt"), &o,
                     BARLOW_E_FORMAT, "tuple_out.pt");
    create_file_case(bi, "a model without the contract", tf_path("no_contract.pt"), &o,
                     BARLOW_E_FORMAT, "no_contract.pt");
    {
        barlow_extractor_options b = small_opts();
        b.outputs = BARLOW_EXTRACT_LOGITS;
        create_file_case(bi, "a model whose forward gives N x K x 1", tf_path("bad_logits.pt"), &b,
                         BARLOW_E_FORMAT, "bad_logits.pt");
    }
    create_file_case(bi, "a model that raises", tf_path("raises.pt"), &o, BARLOW_E_BACKEND,
                     "raises.pt");
    {
        barlow_extractor_options b = small_opts();
        b.channels = 1;
        create_file_case(bi, "channels 1 on a 3-channel model", model, &b, BARLOW_E_BACKEND,
                         "channel");
    }
    if (sfd >= 0) close(sfd);

    /* from memory */
    out = BI_SENTINEL;
    BI_CASE(bi, "barlow_extractor_create_from_memory", "NULL data", BARLOW_E_INVALID_ARG,
            "data is NULL") {
        BI_BAD(bi, barlow_extractor_create_from_memory(NULL, 10, &o, &out));
        bi->untouched = out == BI_SENTINEL;
        bi->works = ex_works();
    }
    BI_CASE(bi, "barlow_extractor_create_from_memory", "NULL out", BARLOW_E_INVALID_ARG,
            "out is NULL") {
        BI_BAD(bi, barlow_extractor_create_from_memory(F.model, F.model_size, &o, NULL));
        bi->untouched = 1;
        bi->works = ex_works();
    }
    create_memory_case(bi, "size 0", F.model, 0, &o, BARLOW_E_INVALID_ARG, "size is 0");
    for (size_t i = 0; i < 2; i++) {
        barlow_extractor_options b = small_opts();
        apply(&b, &ex_bad_opts[i]);
        create_memory_case(bi, ex_bad_opts[i].input, F.model, F.model_size, &b,
                           BARLOW_E_INVALID_ARG, ex_bad_opts[i].needle);
    }
    create_memory_case(bi, "3 bytes", F.model, 3, &o, BARLOW_E_FORMAT, "<memory>");
    create_memory_case(bi, "a zip archive in a folder without a version record", zip, zip_size,
                       &o, BARLOW_E_FORMAT, "no archive/version record");
    free(zip);
    create_memory_case(bi, "a truncated model (half)", F.model, F.model_size / 2, &o,
                       BARLOW_E_FORMAT, "truncated");
    create_memory_case(bi, "4 KiB of garbage", junk, sizeof junk, &o, BARLOW_E_FORMAT,
                       "not a zip archive");
    {
        size_t n = 0;
        char *ck = slurp(tf_path("tiny_cnn_state.pth"), &n);
        create_memory_case(bi, "a torch.save state_dict", ck, n, &o, BARLOW_E_FORMAT,
                           "checkpoint");
        free(ck);
        ck = slurp(npz, &n);
        create_memory_case(bi, "a zip archive that is no TorchScript (.npz)", ck, n, &o,
                           BARLOW_E_FORMAT, "<memory>");
        free(ck);
    }
    {
        barlow_extractor_options b = small_opts();
        b.sha256 = "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF";
        create_memory_case(bi, "a wrong sha256", F.model, F.model_size, &b, BARLOW_E_FORMAT,
                           F.sha);
    }
    {
        barlow_extractor_options b = small_opts();
        b.device = "gpu";
        create_memory_case(bi, "device \"gpu\"", F.model, F.model_size, &b,
                           BARLOW_E_INVALID_ARG, "device 'gpu'");
    }
}

/* The in-range edges of the create options, and the sha256 in capitals:
 * each creates and runs (test points of their own, not table rows). */
static void test_create_edges(void)
{
    const char *model = tf_path("tiny_cnn.pt");
    size_t ok = 0, n = 0;
    for (size_t i = 0; i < sizeof ex_edge_opts / sizeof ex_edge_opts[0]; i++) {
        barlow_extractor_options b = small_opts();
        apply(&b, &ex_edge_opts[i]);
        barlow_extractor *e = NULL;
        long long bytes = bw_alloc_live_bytes();
        barlow_status st = barlow_extractor_create_from_file(model, &b, &e);
        size_t in = barlow_extractor_input_size(e);
        float *x = calloc(in ? 3 * in * in : 1, sizeof *x), f[D];
        if (st == BARLOW_OK) st = barlow_extractor_run(e, x, 1, f, NULL);
        free(x);
        barlow_extractor_free(e);
        int good = st == BARLOW_OK && bw_alloc_live_bytes() == bytes;
        if (!good)
            printf("# edge %s: %s (%s)\n", ex_edge_opts[i].input, barlow_status_str(st),
                   barlow_last_error());
        ok += (size_t)good;
        n++;
    }
    TAP_OK(ok == n, "extractor options at the edges of their ranges: %zu of %zu create and run",
           ok, n);
    char upper[65];
    for (size_t i = 0; i < 65; i++)
        upper[i] = (char)(F.sha[i] >= 'a' && F.sha[i] <= 'f' ? F.sha[i] - 32 : F.sha[i]);
    barlow_extractor_options b = small_opts();
    b.sha256 = upper;
    barlow_extractor *e = NULL;
    barlow_status st = barlow_extractor_create_from_file(model, &b, &e);
    TAP_OK(st == BARLOW_OK, "the right sha256 in capital letters loads (%s)", barlow_last_error());
    barlow_extractor_free(e);
}

/* ---- extractor.h: tensors ------------------------------------------------- */

static void test_tensors(bi_table *bi)
{
    float f[4 * D], l[4 * K], map[4 * HW], g[4 * PER], val[4];
#define RUN_CASE(input, want, needle, ex, in, n, fo, lo)                               \
    BI_CASE(bi, "barlow_extractor_run", input, want, needle) {                         \
        fill(f, sizeof f);                                                            \
        fill(l, sizeof l);                                                            \
        BI_BAD(bi, barlow_extractor_run(ex, in, n, fo, lo));                           \
        bi->untouched = kept(f, sizeof f) && kept(l, sizeof l);                        \
        bi->works = ex_works();                                                        \
    }
    RUN_CASE("NULL ex", BARLOW_E_INVALID_ARG, "ex is NULL", NULL, F.x, 1, f, l);
    RUN_CASE("NULL input", BARLOW_E_INVALID_ARG, "input is NULL", F.ex, NULL, 1, f, l);
    RUN_CASE("n 0", BARLOW_E_INVALID_ARG, "n is 0", F.ex, F.x, 0, f, l);
    RUN_CASE("both outputs NULL", BARLOW_E_INVALID_ARG, "both NULL", F.ex, F.x, 1, NULL, NULL);
    RUN_CASE("logits from a features-only extractor", BARLOW_E_STATE, "logits", F.exf, F.x, 1,
             f, l);
#undef RUN_CASE
#define MAP_CASE(input, want, needle, ex, in, n, ch, out)                              \
    BI_CASE(bi, "barlow_extractor_feature_map", input, want, needle) {                 \
        fill(map, sizeof map);                                                        \
        BI_BAD(bi, barlow_extractor_feature_map(ex, in, n, ch, out));                  \
        bi->untouched = kept(map, sizeof map);                                         \
        bi->works = ex_works();                                                        \
    }
    MAP_CASE("NULL ex", BARLOW_E_INVALID_ARG, "ex is NULL", NULL, F.x, 1, 0, map);
    MAP_CASE("NULL input", BARLOW_E_INVALID_ARG, "input is NULL", F.ex, NULL, 1, 0, map);
    MAP_CASE("NULL out", BARLOW_E_INVALID_ARG, "out is NULL", F.ex, F.x, 1, 0, NULL);
    MAP_CASE("n 0", BARLOW_E_INVALID_ARG, "n is 0", F.ex, F.x, 0, 0, map);
    MAP_CASE("channel D", BARLOW_E_INVALID_ARG, "channel=16", F.ex, F.x, 1, D, map);
    MAP_CASE("channel SIZE_MAX", BARLOW_E_INVALID_ARG, "channel=18446744073709551615", F.ex,
             F.x, 1, SIZE_MAX, map);
#undef MAP_CASE
#define GRAD_CASE(input, want, needle, ex, in, n, feat, vo, go)                        \
    BI_CASE(bi, "barlow_extractor_feature_gradient", input, want, needle) {            \
        fill(g, sizeof g);                                                            \
        fill(val, sizeof val);                                                        \
        BI_BAD(bi, barlow_extractor_feature_gradient(ex, in, n, feat, vo, go));        \
        bi->untouched = kept(g, sizeof g) && kept(val, sizeof val);                    \
        bi->works = ex_works();                                                        \
    }
    GRAD_CASE("NULL ex", BARLOW_E_INVALID_ARG, "ex is NULL", NULL, F.x, 1, 0, val, g);
    GRAD_CASE("NULL input", BARLOW_E_INVALID_ARG, "input is NULL", F.ex, NULL, 1, 0, val, g);
    GRAD_CASE("NULL grad", BARLOW_E_INVALID_ARG, "grad is NULL", F.ex, F.x, 1, 0, val, NULL);
    GRAD_CASE("n 0", BARLOW_E_INVALID_ARG, "n is 0", F.ex, F.x, 0, 0, val, g);
    GRAD_CASE("feature D", BARLOW_E_INVALID_ARG, "feature=16", F.ex, F.x, 1, D, val, g);
    GRAD_CASE("feature SIZE_MAX", BARLOW_E_INVALID_ARG, "feature=18446744073709551615", F.ex,
              F.x, 1, SIZE_MAX, val, g);
#undef GRAD_CASE
    float x[4 * PER];
#define LOAD_CASE(input, want, needle, ex, ds, rows, n, out)                           \
    BI_CASE(bi, "barlow_extractor_load_inputs", input, want, needle) {                 \
        fill(x, sizeof x);                                                            \
        BI_BAD(bi, barlow_extractor_load_inputs(ex, ds, rows, n, out));                \
        bi->untouched = kept(x, sizeof x);                                             \
        bi->works = ex_works();                                                        \
    }
    const size_t r_out[2] = {0, 8}, r_max[1] = {SIZE_MAX}, r_missing[2] = {0, 7};
    const size_t r_trunc[2] = {3, 6};
    LOAD_CASE("NULL ex", BARLOW_E_INVALID_ARG, "ex is NULL", NULL, F.ds, ALL, 2, x);
    LOAD_CASE("NULL ds", BARLOW_E_INVALID_ARG, "ds is NULL", F.ex, NULL, ALL, 2, x);
    LOAD_CASE("NULL rows", BARLOW_E_INVALID_ARG, "rows is NULL", F.ex, F.ds, NULL, 2, x);
    LOAD_CASE("NULL out", BARLOW_E_INVALID_ARG, "out is NULL", F.ex, F.ds, ALL, 2, NULL);
    LOAD_CASE("n 0", BARLOW_E_INVALID_ARG, "n is 0", F.ex, F.ds, ALL, 0, x);
    LOAD_CASE("a row = dataset size", BARLOW_E_INVALID_ARG, "rows[1]=8", F.ex, F.ds, r_out, 2, x);
    LOAD_CASE("a row SIZE_MAX", BARLOW_E_INVALID_ARG, "rows[0]=18446744073709551615", F.ex, F.ds,
              r_max, 1, x);
    LOAD_CASE("a missing image (after a good one)", BARLOW_E_IO, "missing.png", F.ex, F.ds,
              r_missing, 2, x);
    LOAD_CASE("a truncated image (after a good one)", BARLOW_E_FORMAT, "row 6", F.ex, F.ds,
              r_trunc, 2, x);
    LOAD_CASE("a dataset without images", BARLOW_E_STATE, "row 0", F.ex, F.arr, ALL, 1, x);
#undef LOAD_CASE
}

/* ---- extractor.h: datasets ------------------------------------------------- */

static void test_datasets(bi_table *bi)
{
    size_t calls = 0;
#define EXT_CASE(fn, input, want, needle, call)                                        \
    BI_CASE(bi, fn, input, want, needle) {                                             \
        barlow_extraction *out = BI_SENTINEL;                                          \
        calls = 0;                                                                     \
        BI_BAD(bi, call);                                                              \
        bi->untouched = out == BI_SENTINEL;                                            \
        if (out != BI_SENTINEL && bi->st == BARLOW_OK) barlow_extraction_free(out);    \
        bi->works = ex_works();                                                        \
    }
    const char *E = "barlow_extractor_extract", *ER = "barlow_extractor_extract_range";
    EXT_CASE(E, "NULL ex", BARLOW_E_INVALID_ARG, "ex is NULL",
             barlow_extractor_extract(NULL, F.ds, NULL, NULL, &out));
    EXT_CASE(E, "NULL ds", BARLOW_E_INVALID_ARG, "ds is NULL",
             barlow_extractor_extract(F.ex, NULL, NULL, NULL, &out));
    EXT_CASE(E, "NULL out", BARLOW_E_INVALID_ARG, "out is NULL",
             barlow_extractor_extract(F.ex, F.ds, NULL, NULL, NULL));
    barlow_dataset *bad = NULL;
    {
        barlow_dataset_csv_options co;
        barlow_dataset_csv_options_init(&co);
        co.image_root = tf_path("images");
        if (barlow_dataset_load_csv(tf_path("bad.csv"), &co, &bad)) exit(1);
    }
    EXT_CASE(E, "every image fails (truncated, missing)", BARLOW_E_FORMAT, "every image failed",
             barlow_extractor_extract(F.ex, bad, NULL, NULL, &out));
    EXT_CASE(E, "a dataset without images", BARLOW_E_STATE, "every image failed",
             barlow_extractor_extract(F.ex, F.arr, NULL, NULL, &out));
    EXT_CASE(E, "cancelled at the first progress call", BARLOW_E_CANCELLED, "cancelled",
             barlow_extractor_extract(F.ex, F.ds, cancel_now, &calls, &out));
    EXT_CASE(ER, "NULL ex", BARLOW_E_INVALID_ARG, "ex is NULL",
             barlow_extractor_extract_range(NULL, F.ds, 0, 2, NULL, NULL, &out));
    EXT_CASE(ER, "NULL ds", BARLOW_E_INVALID_ARG, "ds is NULL",
             barlow_extractor_extract_range(F.ex, NULL, 0, 2, NULL, NULL, &out));
    EXT_CASE(ER, "NULL out", BARLOW_E_INVALID_ARG, "out is NULL",
             barlow_extractor_extract_range(F.ex, F.ds, 0, 2, NULL, NULL, NULL));
    EXT_CASE(ER, "begin = end", BARLOW_E_INVALID_ARG, "rows 3..3",
             barlow_extractor_extract_range(F.ex, F.ds, 3, 3, NULL, NULL, &out));
    EXT_CASE(ER, "begin > end", BARLOW_E_INVALID_ARG, "rows 5..2",
             barlow_extractor_extract_range(F.ex, F.ds, 5, 2, NULL, NULL, &out));
    EXT_CASE(ER, "end past the dataset", BARLOW_E_INVALID_ARG, "rows 0..9",
             barlow_extractor_extract_range(F.ex, F.ds, 0, 9, NULL, NULL, &out));
    EXT_CASE(ER, "begin SIZE_MAX", BARLOW_E_INVALID_ARG, "rows 18446744073709551615",
             barlow_extractor_extract_range(F.ex, F.ds, SIZE_MAX, 8, NULL, NULL, &out));
    EXT_CASE(ER, "end SIZE_MAX", BARLOW_E_INVALID_ARG, "..18446744073709551615",
             barlow_extractor_extract_range(F.ex, F.ds, 0, SIZE_MAX, NULL, NULL, &out));
    EXT_CASE(ER, "a range of failing images only (6..8)", BARLOW_E_FORMAT, "row 6",
             barlow_extractor_extract_range(F.ex, F.ds, 6, 8, NULL, NULL, &out));
    EXT_CASE(ER, "cancelled at the first progress call", BARLOW_E_CANCELLED, "cancelled",
             barlow_extractor_extract_range(F.ex, F.ds, 2, 8, cancel_now, &calls, &out));
#undef EXT_CASE

    /* predict: the dataset's predictions must stay as they were */
    int32_t p0[8], p1[8];
    memcpy(p0, barlow_dataset_predictions(F.ds), sizeof p0);
    memcpy(p1, barlow_dataset_predictions(F.ds1), sizeof p1);
#define PRED_CASE(fn, input, want, needle, ds, pref, call)                             \
    BI_CASE(bi, fn, input, want, needle) {                                             \
        barlow_extraction *out = BI_SENTINEL;                                          \
        calls = 0;                                                                     \
        BI_BAD(bi, call);                                                              \
        bi->untouched = out == BI_SENTINEL && preds_are(ds, pref);                     \
        if (out != BI_SENTINEL && bi->st == BARLOW_OK) barlow_extraction_free(out);    \
        bi->works = ex_works();                                                        \
    }
    const char *P = "barlow_extractor_predict", *PR = "barlow_extractor_predict_range";
    PRED_CASE(P, "NULL ex", BARLOW_E_INVALID_ARG, "ex is NULL", F.ds, p0,
              barlow_extractor_predict(NULL, F.ds, NULL, NULL, &out));
    PRED_CASE(P, "NULL ds", BARLOW_E_INVALID_ARG, "ds is NULL", F.ds, p0,
              barlow_extractor_predict(F.ex, NULL, NULL, NULL, &out));
    PRED_CASE(P, "a features-only extractor", BARLOW_E_STATE, "BARLOW_EXTRACT_LOGITS", F.ds, p0,
              barlow_extractor_predict(F.exf, F.ds, NULL, NULL, &out));
    PRED_CASE(P, "5 logits, 1 class", BARLOW_E_INVALID_ARG, "1 classes", F.ds1, p1,
              barlow_extractor_predict(F.ex, F.ds1, NULL, NULL, &out));
    PRED_CASE(P, "every image fails", BARLOW_E_FORMAT, "every image failed", F.ds, p0,
              barlow_extractor_predict(F.ex, bad, NULL, NULL, &out));
    PRED_CASE(P, "cancelled at the first progress call", BARLOW_E_CANCELLED, "cancelled", F.ds,
              p0, barlow_extractor_predict(F.ex, F.ds, cancel_now, &calls, &out));
    PRED_CASE(PR, "NULL ex", BARLOW_E_INVALID_ARG, "ex is NULL", F.ds, p0,
              barlow_extractor_predict_range(NULL, F.ds, 0, 2, NULL, NULL, &out));
    PRED_CASE(PR, "NULL ds", BARLOW_E_INVALID_ARG, "ds is NULL", F.ds, p0,
              barlow_extractor_predict_range(F.ex, NULL, 0, 2, NULL, NULL, &out));
    PRED_CASE(PR, "begin = end", BARLOW_E_INVALID_ARG, "rows 4..4", F.ds, p0,
              barlow_extractor_predict_range(F.ex, F.ds, 4, 4, NULL, NULL, &out));
    PRED_CASE(PR, "end past the dataset", BARLOW_E_INVALID_ARG, "rows 2..100", F.ds, p0,
              barlow_extractor_predict_range(F.ex, F.ds, 2, 100, NULL, NULL, &out));
    PRED_CASE(PR, "begin SIZE_MAX", BARLOW_E_INVALID_ARG, "rows 18446744073709551615", F.ds, p0,
              barlow_extractor_predict_range(F.ex, F.ds, SIZE_MAX, 8, NULL, NULL, &out));
    PRED_CASE(PR, "a features-only extractor", BARLOW_E_STATE, "BARLOW_EXTRACT_LOGITS", F.ds, p0,
              barlow_extractor_predict_range(F.exf, F.ds, 0, 4, NULL, NULL, &out));
    PRED_CASE(PR, "5 logits, 1 class", BARLOW_E_INVALID_ARG, "1 classes", F.ds1, p1,
              barlow_extractor_predict_range(F.ex, F.ds1, 2, 8, NULL, NULL, &out));
    PRED_CASE(PR, "cancelled at the first progress call", BARLOW_E_CANCELLED, "cancelled", F.ds,
              p0, barlow_extractor_predict_range(F.ex, F.ds, 0, 6, cancel_now, &calls, &out));
#undef PRED_CASE
    barlow_dataset_free(bad);
}

/* ---- extractor.h and shards.h: saving --------------------------------------- */

static void test_save(bi_table *bi, bi_table *bs)
{
    char target[600];
    snprintf(target, sizeof target, "%s", tmp_path("keep.npz"));
#define SAVE_CASE(t, fn, input, want, needle, call)                                    \
    BI_CASE(t, fn, input, want, needle) {                                              \
        put_file(target, "keep", 4);                                                   \
        int before = entries();                                                        \
        BI_BAD(t, call);                                                               \
        (t)->untouched = file_is(target, "keep") && entries() == before;               \
        (t)->works = ex_works();                                                       \
    }
    const char *N = "barlow_extraction_save_npz";
    char gone[700], dir[700], fifo[700];
    snprintf(gone, sizeof gone, "%s/no-such-dir/x.npz", tmpdir);
    snprintf(dir, sizeof dir, "%s/out-dir.npz", tmpdir);
    snprintf(fifo, sizeof fifo, "%s/out.fifo", tmpdir);
    mkdir(dir, 0700);
    mkfifo(fifo, 0600);
    SAVE_CASE(bi, N, "NULL r", BARLOW_E_INVALID_ARG, "r is NULL",
              barlow_extraction_save_npz(NULL, F.ds, target));
    SAVE_CASE(bi, N, "NULL ds", BARLOW_E_INVALID_ARG, "ds is NULL",
              barlow_extraction_save_npz(F.r, NULL, target));
    SAVE_CASE(bi, N, "NULL path", BARLOW_E_INVALID_ARG, "path is NULL",
              barlow_extraction_save_npz(F.r, F.ds, NULL));
    SAVE_CASE(bi, N, "a dataset of another size (3 rows)", BARLOW_E_INVALID_ARG, "3 rows",
              barlow_extraction_save_npz(F.r, F.small, target));
    SAVE_CASE(bi, N, "a path in a missing directory", BARLOW_E_IO, "no-such-dir",
              barlow_extraction_save_npz(F.r, F.ds, gone));
    SAVE_CASE(bi, N, "a path that is a directory", BARLOW_E_IO, "out-dir.npz",
              barlow_extraction_save_npz(F.r, F.ds, dir));
    alarm(20);
    SAVE_CASE(bi, N, "a path that is a FIFO", BARLOW_E_IO, "out.fifo",
              barlow_extraction_save_npz(F.r, F.ds, fifo));
    alarm(0);
    SAVE_CASE(bi, N, "an empty path", BARLOW_E_INVALID_ARG, "empty output path",
              barlow_extraction_save_npz(F.r, F.ds, ""));

    /* shards.h */
    const char *S = "barlow_extraction_save_shard";
    barlow_shard_options so;
    barlow_shard_options_init(&so);
    barlow_shard_options s0 = so, s999 = so, s12 = so, s20 = so, s00 = so, s22 = so,
                         sbad = so;
    s0.version = 0;
    s999.version = 999;
    s12.index = 1;
    s12.count = 2;
    s20.index = 0;
    s20.count = 2;
    s00.count = 0;
    s22.index = 2;
    s22.count = 2;
    sbad.predict_sha256 = "abc";
    barlow_extraction *half = NULL;
    if (barlow_extractor_extract_range(F.ex, F.ds, 0, 4, NULL, NULL, &half)) exit(1);
    SAVE_CASE(bs, S, "NULL r", BARLOW_E_INVALID_ARG, "r is NULL",
              barlow_extraction_save_shard(NULL, F.ds, F.ex, &so, target));
    SAVE_CASE(bs, S, "NULL ds", BARLOW_E_INVALID_ARG, "ds is NULL",
              barlow_extraction_save_shard(F.r, NULL, F.ex, &so, target));
    SAVE_CASE(bs, S, "NULL ex", BARLOW_E_INVALID_ARG, "ex is NULL",
              barlow_extraction_save_shard(F.r, F.ds, NULL, &so, target));
    SAVE_CASE(bs, S, "NULL opts (shard 0 of 1) for rows 0..3", BARLOW_E_INVALID_ARG,
              "rows 0..3", barlow_extraction_save_shard(half, F.ds, F.ex, NULL, target));
    SAVE_CASE(bs, S, "NULL path", BARLOW_E_INVALID_ARG, "path is NULL",
              barlow_extraction_save_shard(F.r, F.ds, F.ex, &so, NULL));
    SAVE_CASE(bs, S, "options version 0", BARLOW_E_INVALID_ARG, "barlow_shard_options",
              barlow_extraction_save_shard(F.r, F.ds, F.ex, &s0, target));
    SAVE_CASE(bs, S, "options version 999", BARLOW_E_INVALID_ARG, "barlow_shard_options",
              barlow_extraction_save_shard(F.r, F.ds, F.ex, &s999, target));
    SAVE_CASE(bs, S, "an extraction without features", BARLOW_E_INVALID_ARG, "no features",
              barlow_extraction_save_shard(F.rl, F.ds, F.exl, &so, target));
    SAVE_CASE(bs, S, "a dataset of another size", BARLOW_E_INVALID_ARG, "3 rows",
              barlow_extraction_save_shard(F.r, F.small, F.ex, &so, target));
    SAVE_CASE(bs, S, "the whole range as shard 1 of 2", BARLOW_E_INVALID_ARG, "rows 0..7",
              barlow_extraction_save_shard(F.r, F.ds, F.ex, &s12, target));
    SAVE_CASE(bs, S, "rows 0..3 as shard 1 of 2", BARLOW_E_INVALID_ARG, "rows 0..3",
              barlow_extraction_save_shard(half, F.ds, F.ex, &s12, target));
    SAVE_CASE(bs, S, "count 0", BARLOW_E_INVALID_ARG, "count is 0",
              barlow_extraction_save_shard(F.r, F.ds, F.ex, &s00, target));
    SAVE_CASE(bs, S, "index = count", BARLOW_E_INVALID_ARG, "shard 2 of 2",
              barlow_extraction_save_shard(F.r, F.ds, F.ex, &s22, target));
    SAVE_CASE(bs, S, "a malformed predict_sha256", BARLOW_E_INVALID_ARG, "predict_sha256",
              barlow_extraction_save_shard(F.r, F.ds, F.ex, &sbad, target));
    SAVE_CASE(bs, S, "a path in a missing directory", BARLOW_E_IO, "no-such-dir",
              barlow_extraction_save_shard(half, F.ds, F.ex, &s20, gone));
    SAVE_CASE(bs, S, "a path that is a directory", BARLOW_E_IO, "out-dir.npz",
              barlow_extraction_save_shard(half, F.ds, F.ex, &s20, dir));
    alarm(20);
    SAVE_CASE(bs, S, "a path that is a FIFO", BARLOW_E_IO, "out.fifo",
              barlow_extraction_save_shard(half, F.ds, F.ex, &s20, fifo));
    alarm(0);
#undef SAVE_CASE
    barlow_extraction_free(half);
    rmdir(dir);
    unlink(fifo);
    unlink(target);
}

/* ---- visualizer.h ------------------------------------------------------------ */

static const struct {
    const char *input, *field;
    double v;
    const char *needle;
} vis_bad_opts[] = {
    {"options version 0", "version", 0, "barlow_visualizer_options"},
    {"options version 999", "version", 999, "barlow_visualizer_options"},
    {"k 0", "k", 0, "k=0"},
    {"k 65", "k", 65, "k=65"},
    {"least 2", "least", 2, "least=2"},
    {"least -1", "least", -1, "least=-1"},
    {"scale 2", "scale", 2, "scale=2"},
    {"scale -1", "scale", -1, "scale=-1"},
    {"heatmap_alpha -0.01", "heatmap_alpha", -0.01, "heatmap_alpha"},
    {"heatmap_alpha 1.01", "heatmap_alpha", 1.01, "heatmap_alpha"},
    {"heatmap_alpha NaN", "heatmap_alpha", NAN, "heatmap_alpha"},
    {"attack 2", "attack", 2, "attack=2"},
    {"attack_steps 1000001", "attack_steps", 1000001, "attack_steps=1000001"},
    {"attack_steps SIZE_MAX", "attack_steps", 18446744073709551615.0, "attack_steps="},
    {"attack_step 0", "attack_step", 0.0, "attack_step"},
    {"attack_step -0", "attack_step", -0.0, "attack_step"},
    {"attack_step -1", "attack_step", -1.0, "attack_step"},
    {"attack_step NaN", "attack_step", NAN, "attack_step"},
    {"attack_step inf", "attack_step", INFINITY, "attack_step"},
    {"attack_eps -1e-300", "attack_eps", -1e-300, "attack_eps"},
    {"attack_eps -1", "attack_eps", -1.0, "attack_eps"},
    {"attack_eps NaN", "attack_eps", NAN, "attack_eps"},
    {"attack_eps inf", "attack_eps", INFINITY, "attack_eps"},
    {"attack_scale_to_input 2", "attack_scale_to_input", 2, "attack_scale_to_input=2"},
    {"tile_size 15", "tile_size", 15, "tile_size=15"},
    {"tile_size 1025", "tile_size", 1025, "tile_size=1025"},
}, vis_edge_opts[] = {
    {"k 1", "k", 1, NULL},
    {"k 64", "k", 64, NULL},
    {"heatmap_alpha 0", "heatmap_alpha", 0.0, NULL},
    {"heatmap_alpha 1", "heatmap_alpha", 1.0, NULL},
    {"attack_steps 1000000", "attack_steps", 1000000, NULL},
    {"attack_step 5e-324", "attack_step", 5e-324, NULL},
    {"attack_step DBL_MAX", "attack_step", 1.7976931348623157e308, NULL},
    {"attack_eps 0", "attack_eps", 0.0, NULL},
    {"attack_eps DBL_MAX", "attack_eps", 1.7976931348623157e308, NULL},
    {"tile_size 16", "tile_size", 16, NULL},
    {"tile_size 1024", "tile_size", 1024, NULL},
    {"scale per image", "scale", 1, NULL},
};

static void vis_apply(barlow_visualizer_options *o, const char *f, double v)
{
    if (!strcmp(f, "version")) o->version = (uint32_t)v;
    else if (!strcmp(f, "k")) o->k = (size_t)v;
    else if (!strcmp(f, "least")) o->least = (int)v;
    else if (!strcmp(f, "scale")) o->scale = (barlow_heatmap_scale)(int)v;
    else if (!strcmp(f, "heatmap_alpha")) o->heatmap_alpha = v;
    else if (!strcmp(f, "attack")) o->attack = (int)v;
    else if (!strcmp(f, "attack_steps")) o->attack_steps = v >= 1.8e19 ? SIZE_MAX : (size_t)v;
    else if (!strcmp(f, "attack_step")) o->attack_step = v;
    else if (!strcmp(f, "attack_eps")) o->attack_eps = v;
    else if (!strcmp(f, "attack_scale_to_input")) o->attack_scale_to_input = (int)v;
    else if (!strcmp(f, "tile_size")) o->tile_size = (size_t)v;
    else {
        printf("# unknown field %s\n", f);
        exit(1);
    }
}

static void test_vis_create(bi_table *bi)
{
    const barlow_matrix *X = barlow_extraction_features(F.r);
    const size_t *idx = barlow_extraction_index(F.r);
    size_t m = barlow_extraction_count(F.r);
#define VC_CASE(input, want, needle, call)                                             \
    BI_CASE(bi, "barlow_visualizer_create", input, want, needle) {                     \
        barlow_visualizer *out = BI_SENTINEL;                                          \
        BI_BAD(bi, call);                                                              \
        bi->untouched = out == BI_SENTINEL;                                            \
        if (out != BI_SENTINEL && bi->st == BARLOW_OK) barlow_visualizer_free(out);    \
        bi->works = vis_works();                                                       \
    }
    VC_CASE("NULL ex", BARLOW_E_INVALID_ARG, "ex is NULL",
            barlow_visualizer_create(NULL, F.ds, X, idx, m, NULL, &out));
    VC_CASE("NULL ds", BARLOW_E_INVALID_ARG, "ds is NULL",
            barlow_visualizer_create(F.ex, NULL, X, idx, m, NULL, &out));
    VC_CASE("NULL features", BARLOW_E_INVALID_ARG, "features is NULL",
            barlow_visualizer_create(F.ex, F.ds, NULL, idx, m, NULL, &out));
    VC_CASE("NULL out", BARLOW_E_INVALID_ARG, "out is NULL",
            barlow_visualizer_create(F.ex, F.ds, X, idx, m, NULL, NULL));
    for (size_t i = 0; i < sizeof vis_bad_opts / sizeof vis_bad_opts[0]; i++) {
        barlow_visualizer_options o;
        barlow_visualizer_options_init(&o);
        vis_apply(&o, vis_bad_opts[i].field, vis_bad_opts[i].v);
        VC_CASE(vis_bad_opts[i].input, BARLOW_E_INVALID_ARG, vis_bad_opts[i].needle,
                barlow_visualizer_create(F.ex, F.ds, X, idx, m, &o, &out));
    }
    /* features of the wrong shape */
    float *z = calloc(8 * (D + 1), sizeof *z);
    barlow_matrix *wide = NULL, *eight = NULL, *narrow = NULL, *empty = NULL;
    barlow_matrix_wrap(z, m, D + 1, D + 1, &wide);
    barlow_matrix_wrap(z, 8, D, D, &eight);
    barlow_matrix_wrap(z, m, D - 1, D - 1, &narrow);
    barlow_matrix_wrap(z, 0, D, D, &empty);
    VC_CASE("features with D+1 columns", BARLOW_E_INVALID_ARG, "17 columns",
            barlow_visualizer_create(F.ex, F.ds, wide, idx, m, NULL, &out));
    VC_CASE("features with D-1 columns", BARLOW_E_INVALID_ARG, "15 columns",
            barlow_visualizer_create(F.ex, F.ds, narrow, idx, m, NULL, &out));
    VC_CASE("6 feature rows, no index, 8 dataset rows", BARLOW_E_INVALID_ARG,
            "the dataset has 8 rows", barlow_visualizer_create(F.ex, F.ds, X, NULL, 0, NULL, &out));
    VC_CASE("8 feature rows, an index of 6", BARLOW_E_INVALID_ARG, "the index has 6",
            barlow_visualizer_create(F.ex, F.ds, eight, idx, m, NULL, &out));
    VC_CASE("n_index 0 with an index", BARLOW_E_INVALID_ARG, "the index has 0",
            barlow_visualizer_create(F.ex, F.ds, X, idx, 0, NULL, &out));
    if (empty)
        VC_CASE("0 feature rows, no index", BARLOW_E_INVALID_ARG, "0 rows",
                barlow_visualizer_create(F.ex, F.ds, empty, NULL, 0, NULL, &out));
    const size_t out_of[6] = {0, 1, 2, 3, 4, 8}, huge[6] = {0, 1, 2, 3, 4, SIZE_MAX};
    const size_t rep[6] = {0, 1, 2, 3, 4, 4};
    VC_CASE("an index entry = dataset size", BARLOW_E_INVALID_ARG, "index[5] = 8",
            barlow_visualizer_create(F.ex, F.ds, X, out_of, 6, NULL, &out));
    VC_CASE("an index entry SIZE_MAX", BARLOW_E_INVALID_ARG, "index[5] = 18446744073709551615",
            barlow_visualizer_create(F.ex, F.ds, X, huge, 6, NULL, &out));
    VC_CASE("a repeated index entry", BARLOW_E_INVALID_ARG, "index[5] = 4 repeats",
            barlow_visualizer_create(F.ex, F.ds, X, rep, 6, NULL, &out));
#undef VC_CASE
    barlow_matrix_free(wide);
    barlow_matrix_free(eight);
    barlow_matrix_free(narrow);
    barlow_matrix_free(empty);
    free(z);
}

/* In-range edges of the visualizer options: each creates and views. */
static void test_vis_edges(void)
{
    const barlow_matrix *X = barlow_extraction_features(F.r);
    size_t ok = 0, n = 0;
    for (size_t i = 0; i < sizeof vis_edge_opts / sizeof vis_edge_opts[0]; i++) {
        barlow_visualizer_options o;
        barlow_visualizer_options_init(&o);
        o.attack_steps = 1;
        vis_apply(&o, vis_edge_opts[i].field, vis_edge_opts[i].v);
        if (o.attack_steps > 2) o.attack = 0; /* the edge is accepted; not run 1e6 times */
        barlow_visualizer *v = NULL;
        barlow_feature_view *fv = NULL;
        long long bytes = bw_alloc_live_bytes();
        barlow_status st = barlow_visualizer_create(F.ex, F.ds, X, barlow_extraction_index(F.r),
                                                    6, &o, &v);
        if (st == BARLOW_OK) st = barlow_visualizer_view(v, F.feat, ALL, 8, "edge", NULL, NULL, &fv);
        int fin = 1;
        if (st == BARLOW_OK && o.attack) {
            barlow_view_tile t = {.version = BARLOW_VIEW_TILE_VERSION};
            barlow_feature_view_tile(fv, BARLOW_VIEW_ATTACK, 0, &t);
            fin = isfinite(t.attacked_value) && isfinite(t.distance);
        }
        barlow_feature_view_free(fv);
        barlow_visualizer_free(v);
        int good = st == BARLOW_OK && fin && bw_alloc_live_bytes() == bytes;
        if (!good)
            printf("# edge %s: %s, finite %d (%s)\n", vis_edge_opts[i].input,
                   barlow_status_str(st), fin, barlow_last_error());
        ok += (size_t)good;
        n++;
    }
    TAP_OK(ok == n, "visualizer options at the edges of their ranges: %zu of %zu create and view",
           ok, n);
}

/* 0 attack steps returns the images unchanged; 1e6 steps cancelled at the
 * first callback return at once. */
static void test_attack_extremes(void)
{
    const size_t rows[2] = {0, 3};
    barlow_visualizer *v0 = make_vis(F.ds, 3, 0);
    float x0[2 * PER], xa[2 * PER], b[2], a[2], d[2];
    barlow_extractor_load_inputs(F.ex, F.ds, rows, 2, x0);
    barlow_status st = barlow_visualizer_attack(v0, F.feat, rows, 2, NULL, NULL, xa, b, a, d);
    TAP_OK(st == BARLOW_OK && !memcmp(xa, x0, sizeof xa) && a[0] == b[0] && a[1] == b[1] &&
               d[0] == 0.0f && d[1] == 0.0f,
           "attack_steps 0: the images unchanged, after = before, distance 0 (%s)",
           barlow_last_error());
    barlow_visualizer_free(v0);
    /* steps too long for float arithmetic (any finite step is allowed) */
    static const double big[3][2] = {{1e300, 2.0}, {1.7976931348623157e308, 1.7976931348623157e308},
                                     {1e35, 1e36}};
    for (int c = 0; c < 3; c++) {
        barlow_visualizer_options o;
        barlow_visualizer_options_init(&o);
        o.attack_steps = 2;
        o.attack_scale_to_input = 0;
        o.attack_step = big[c][0];
        o.attack_eps = big[c][1];
        barlow_visualizer *vb = NULL;
        st = barlow_visualizer_create(F.ex, F.ds, barlow_extraction_features(F.r),
                                      barlow_extraction_index(F.r), 6, &o, &vb);
        if (st == BARLOW_OK)
            st = barlow_visualizer_attack(vb, F.feat, rows, 2, NULL, NULL, xa, b, a, d);
        int inside = st == BARLOW_OK;
        for (size_t j = 0; inside && j < 2 * PER; j++) inside = xa[j] >= 0.0f && xa[j] <= 1.0f;
        inside = inside && isfinite(a[0]) && isfinite(a[1]) && d[0] <= big[c][1] * (1 + 1e-6) &&
                 d[1] <= big[c][1] * (1 + 1e-6) && d[0] > 0.0f;
        TAP_OK(inside, "attack_step %g, attack_eps %g: images in [0,1], finite, moved %g <= eps "
                       "(%s)", big[c][0], big[c][1], (double)d[0], barlow_last_error());
        barlow_visualizer_free(vb);
    }
    size_t calls = 0;
    fill(xa, sizeof xa);
    double t0 = now_s();
    st = barlow_visualizer_attack(F.v_long, F.feat, rows, 2, cancel_now, &calls, xa, b, a, d);
    double dt = now_s() - t0;
    TAP_OK(st == BARLOW_E_CANCELLED && calls == 1 && dt < 5.0 && kept(xa, sizeof xa),
           "attack_steps 1e6, cancelled at the first callback: CANCELLED after %zu call in "
           "%.3f s, images untouched (%s)", calls, dt, barlow_last_error());
}

static void test_vis_calls(bi_table *bi)
{
    const size_t r_out[2] = {0, 8}, r_max[1] = {SIZE_MAX}, r_rep[2] = {3, 3};
    const size_t r_failed[2] = {6, 7}, r_missing[1] = {7}, r_trunc[1] = {6};
    const size_t r_good[2] = {0, 3};
    size_t calls = 0;
    /* set_logits */
    float *z = calloc(8 * K, sizeof *z);
    barlow_matrix *l8 = NULL, *l1 = NULL;
    barlow_matrix_wrap(z, 8, K, K, &l8);
    barlow_matrix_wrap(z, 6, 1, 1, &l1);
    BI_CASE(bi, "barlow_visualizer_set_logits", "NULL v", BARLOW_E_INVALID_ARG, "v is NULL") {
        BI_BAD(bi, barlow_visualizer_set_logits(NULL, F.logits));
        bi->untouched = 1;
        bi->works = vis_works();
    }
    /* untouched: the visualizer keeps its logits (confident failures as before) */
    size_t c0[3], nc0 = 0;
    barlow_visualizer_confident_failures(F.v, ALL, 8, 3, c0, NULL, &nc0);
#define LOGITS_CASE(input, needle, m)                                                  \
    BI_CASE(bi, "barlow_visualizer_set_logits", input, BARLOW_E_INVALID_ARG, needle) { \
        size_t c[3], nc = 0;                                                           \
        BI_BAD(bi, barlow_visualizer_set_logits(F.v, m));                              \
        bi->untouched = barlow_visualizer_confident_failures(F.v, ALL, 8, 3, c, NULL,  \
                                                             &nc) == BARLOW_OK &&      \
                        nc == nc0 && !memcmp(c, c0, nc * sizeof *c);                   \
        bi->works = vis_works();                                                       \
    }
    LOGITS_CASE("logits with 8 rows for 6 feature rows", "8 rows", l8);
    LOGITS_CASE("logits with 1 column", "1 columns", l1);
#undef LOGITS_CASE

    /* rank */
    size_t orows[8], n_out = 0, n_cons = 0;
    float ovals[8];
#define RANK_CASE(input, needle, v, feat, rows, n, least, k, o_rows, o_n)              \
    BI_CASE(bi, "barlow_visualizer_rank", input, BARLOW_E_INVALID_ARG, needle) {       \
        fill(orows, sizeof orows);                                                    \
        fill(ovals, sizeof ovals);                                                    \
        fill(&n_out, sizeof n_out);                                                   \
        fill(&n_cons, sizeof n_cons);                                                 \
        BI_BAD(bi, barlow_visualizer_rank(v, feat, rows, n, least, k, o_rows, ovals,   \
                                          o_n, &n_cons));                             \
        bi->untouched = kept(orows, sizeof orows) && kept(ovals, sizeof ovals) &&      \
                        kept(&n_out, sizeof n_out) && kept(&n_cons, sizeof n_cons);    \
        bi->works = vis_works();                                                       \
    }
    RANK_CASE("NULL v", "v is NULL", NULL, F.feat, ALL, 8, 0, 3, orows, &n_out);
    RANK_CASE("NULL rows, n 8", "rows is NULL", F.v, F.feat, NULL, 8, 0, 3, orows, &n_out);
    RANK_CASE("NULL out_rows", "out_rows is NULL", F.v, F.feat, ALL, 8, 0, 3, NULL, &n_out);
    RANK_CASE("NULL n_out", "n_out is NULL", F.v, F.feat, ALL, 8, 0, 3, orows, NULL);
    RANK_CASE("feature D", "feature=16", F.v, D, ALL, 8, 0, 3, orows, &n_out);
    RANK_CASE("feature SIZE_MAX", "feature=18446744073709551615", F.v, SIZE_MAX, ALL, 8, 0, 3,
              orows, &n_out);
    RANK_CASE("k 0", "k is 0", F.v, F.feat, ALL, 8, 0, 0, orows, &n_out);
    RANK_CASE("a row = dataset size", "rows[1] = 8", F.v, F.feat, r_out, 2, 0, 3, orows, &n_out);
    RANK_CASE("a row SIZE_MAX", "rows[0] = 18446744073709551615", F.v, F.feat, r_max, 1, 0, 3,
              orows, &n_out);
    RANK_CASE("a repeated row", "rows[1] = 3 is repeated", F.v, F.feat, r_rep, 2, 0, 3, orows,
              &n_out);
    RANK_CASE("n 0 (empty row set)", "empty row set", F.v, F.feat, ALL, 0, 0, 3, orows, &n_out);
    RANK_CASE("only rows that were not extracted", "empty row set", F.v, F.feat, r_failed, 2, 1,
              3, orows, &n_out);
#undef RANK_CASE

    /* maps */
    float maps[2 * HW];
#define MAPS_CASE(input, want, needle, v, feat, rows, n, out)                          \
    BI_CASE(bi, "barlow_visualizer_maps", input, want, needle) {                       \
        fill(maps, sizeof maps);                                                      \
        BI_BAD(bi, barlow_visualizer_maps(v, feat, rows, n, out));                     \
        bi->untouched = kept(maps, sizeof maps);                                       \
        bi->works = vis_works();                                                       \
    }
    MAPS_CASE("NULL v", BARLOW_E_INVALID_ARG, "v is NULL", NULL, F.feat, ALL, 2, maps);
    MAPS_CASE("NULL rows", BARLOW_E_INVALID_ARG, "rows is NULL", F.v, F.feat, NULL, 2, maps);
    MAPS_CASE("NULL maps", BARLOW_E_INVALID_ARG, "maps is NULL", F.v, F.feat, ALL, 2, NULL);
    MAPS_CASE("n 0", BARLOW_E_INVALID_ARG, "n is 0", F.v, F.feat, ALL, 0, maps);
    MAPS_CASE("feature D", BARLOW_E_INVALID_ARG, "feature=16", F.v, D, ALL, 2, maps);
    MAPS_CASE("a row = dataset size", BARLOW_E_INVALID_ARG, "rows[1] = 8", F.v, F.feat, r_out,
              2, maps);
    MAPS_CASE("a repeated row", BARLOW_E_INVALID_ARG, "repeated", F.v, F.feat, r_rep, 2, maps);
    MAPS_CASE("a row whose image is missing", BARLOW_E_IO, "missing.png", F.v, F.feat, r_missing,
              1, maps);
    MAPS_CASE("a row whose image is truncated", BARLOW_E_FORMAT, "truncated.png", F.v, F.feat,
              r_trunc, 1, maps);
    MAPS_CASE("an image deleted since extraction", BARLOW_E_IO, "img1.jpg", F.v_del, F.feat,
              ALL, 2, maps);
#undef MAPS_CASE

    /* attack */
    float img[2 * PER], b[2], a[2], d[2];
#define ATTACK_CASE(input, want, needle, v, feat, rows, n, prog, out)                  \
    BI_CASE(bi, "barlow_visualizer_attack", input, want, needle) {                     \
        fill(img, sizeof img);                                                        \
        fill(b, sizeof b);                                                            \
        fill(a, sizeof a);                                                            \
        fill(d, sizeof d);                                                            \
        calls = 0;                                                                     \
        BI_BAD(bi, barlow_visualizer_attack(v, feat, rows, n, prog, &calls, out, b, a, d)); \
        bi->untouched = kept(img, sizeof img) && kept(b, sizeof b) && kept(a, sizeof a) && \
                        kept(d, sizeof d);                                             \
        bi->works = vis_works();                                                       \
    }
    ATTACK_CASE("NULL v", BARLOW_E_INVALID_ARG, "v is NULL", NULL, F.feat, r_good, 2, NULL, img);
    ATTACK_CASE("NULL rows", BARLOW_E_INVALID_ARG, "rows is NULL", F.v, F.feat, NULL, 2, NULL,
                img);
    ATTACK_CASE("NULL images", BARLOW_E_INVALID_ARG, "images is NULL", F.v, F.feat, r_good, 2,
                NULL, NULL);
    ATTACK_CASE("n 0", BARLOW_E_INVALID_ARG, "n is 0", F.v, F.feat, r_good, 0, NULL, img);
    ATTACK_CASE("feature D", BARLOW_E_INVALID_ARG, "feature=16", F.v, D, r_good, 2, NULL, img);
    ATTACK_CASE("a row = dataset size", BARLOW_E_INVALID_ARG, "rows[1] = 8", F.v, F.feat, r_out,
                2, NULL, img);
    ATTACK_CASE("a repeated row", BARLOW_E_INVALID_ARG, "repeated", F.v, F.feat, r_rep, 2, NULL,
                img);
    ATTACK_CASE("a row whose image is missing", BARLOW_E_IO, "missing.png", F.v, F.feat,
                r_missing, 1, NULL, img);
    ATTACK_CASE("an image deleted since extraction", BARLOW_E_IO, "img1.jpg", F.v_del, F.feat,
                ALL, 2, NULL, img);
    ATTACK_CASE("1e6 steps, cancelled at the first callback", BARLOW_E_CANCELLED, "cancelled",
                F.v_long, F.feat, r_good, 2, cancel_now, img);
    ATTACK_CASE("2 steps, cancelled at the first callback", BARLOW_E_CANCELLED, "cancelled",
                F.v, F.feat, r_good, 2, cancel_now, img);
#undef ATTACK_CASE

    /* failure samples, confident failures */
    size_t so[8], sn = 0;
    float conf[8];
#define SAMPLE_CASE(fn, input, want, needle, call)                                     \
    BI_CASE(bi, fn, input, want, needle) {                                             \
        fill(so, sizeof so);                                                          \
        fill(&sn, sizeof sn);                                                         \
        fill(conf, sizeof conf);                                                      \
        BI_BAD(bi, call);                                                              \
        bi->untouched = kept(so, sizeof so) && kept(&sn, sizeof sn) && kept(conf, sizeof conf); \
        bi->works = vis_works();                                                       \
    }
    const char *FS = "barlow_visualizer_failure_samples";
    SAMPLE_CASE(FS, "NULL v", BARLOW_E_INVALID_ARG, "v is NULL",
                barlow_visualizer_failure_samples(NULL, ALL, 8, 3, so, &sn));
    SAMPLE_CASE(FS, "NULL rows, n 8", BARLOW_E_INVALID_ARG, "rows is NULL",
                barlow_visualizer_failure_samples(F.v, NULL, 8, 3, so, &sn));
    SAMPLE_CASE(FS, "NULL out", BARLOW_E_INVALID_ARG, "out is NULL",
                barlow_visualizer_failure_samples(F.v, ALL, 8, 3, NULL, &sn));
    SAMPLE_CASE(FS, "NULL n_out", BARLOW_E_INVALID_ARG, "n_out is NULL",
                barlow_visualizer_failure_samples(F.v, ALL, 8, 3, so, NULL));
    SAMPLE_CASE(FS, "k 0", BARLOW_E_INVALID_ARG, "k is 0",
                barlow_visualizer_failure_samples(F.v, ALL, 8, 0, so, &sn));
    SAMPLE_CASE(FS, "a row = dataset size", BARLOW_E_INVALID_ARG, "rows[1] = 8",
                barlow_visualizer_failure_samples(F.v, r_out, 2, 3, so, &sn));
    SAMPLE_CASE(FS, "a repeated row", BARLOW_E_INVALID_ARG, "repeated",
                barlow_visualizer_failure_samples(F.v, r_rep, 2, 3, so, &sn));
    SAMPLE_CASE(FS, "a dataset without predictions", BARLOW_E_STATE, "no predictions",
                barlow_visualizer_failure_samples(F.v_np, ALL, 8, 3, so, &sn));
    const char *CF = "barlow_visualizer_confident_failures";
    SAMPLE_CASE(CF, "NULL v", BARLOW_E_INVALID_ARG, "v is NULL",
                barlow_visualizer_confident_failures(NULL, ALL, 8, 3, so, conf, &sn));
    SAMPLE_CASE(CF, "NULL rows, n 8", BARLOW_E_INVALID_ARG, "rows is NULL",
                barlow_visualizer_confident_failures(F.v, NULL, 8, 3, so, conf, &sn));
    SAMPLE_CASE(CF, "NULL out", BARLOW_E_INVALID_ARG, "out is NULL",
                barlow_visualizer_confident_failures(F.v, ALL, 8, 3, NULL, conf, &sn));
    SAMPLE_CASE(CF, "NULL n_out", BARLOW_E_INVALID_ARG, "n_out is NULL",
                barlow_visualizer_confident_failures(F.v, ALL, 8, 3, so, conf, NULL));
    SAMPLE_CASE(CF, "k 0", BARLOW_E_INVALID_ARG, "k is 0",
                barlow_visualizer_confident_failures(F.v, ALL, 8, 0, so, conf, &sn));
    SAMPLE_CASE(CF, "a row SIZE_MAX", BARLOW_E_INVALID_ARG, "rows[0] = 18446744073709551615",
                barlow_visualizer_confident_failures(F.v, r_max, 1, 3, so, conf, &sn));
    SAMPLE_CASE(CF, "no logits given", BARLOW_E_STATE, "no logits",
                barlow_visualizer_confident_failures(F.v_long, ALL, 8, 3, so, conf, &sn));
    SAMPLE_CASE(CF, "a dataset without predictions", BARLOW_E_STATE, "no predictions",
                barlow_visualizer_confident_failures(F.v_np, ALL, 8, 3, so, conf, &sn));
#undef SAMPLE_CASE

    /* render_heatmap */
    barlow_image *im = NULL;
    barlow_image_create(8, 8, 3, &im);
    float hm[4] = {0.0f, 1.0f, 2.0f, 3.0f};
#define HEAT_CASE(input, needle, img, map, h, w, alpha, o)                             \
    BI_CASE(bi, "barlow_visualizer_render_heatmap", input, BARLOW_E_INVALID_ARG, needle) { \
        barlow_image *out = BI_SENTINEL;                                               \
        BI_BAD(bi, barlow_visualizer_render_heatmap(img, map, h, w, 3.0f, alpha, o));   \
        bi->untouched = out == BI_SENTINEL;                                            \
        barlow_image *good = NULL;                                                     \
        bi->works = barlow_visualizer_render_heatmap(im, hm, 2, 2, 3.0f, 0.5, &good) ==  \
                    BARLOW_OK && barlow_image_width(good) == 8;                        \
        barlow_image_free(good);                                                       \
    }
    HEAT_CASE("NULL img", "img is NULL", NULL, hm, 2, 2, 0.5, &out);
    HEAT_CASE("NULL map", "map is NULL", im, NULL, 2, 2, 0.5, &out);
    HEAT_CASE("NULL out", "out is NULL", im, hm, 2, 2, 0.5, NULL);
    HEAT_CASE("h 0", "0x2", im, hm, 0, 2, 0.5, &out);
    HEAT_CASE("w 0", "2x0", im, hm, 2, 0, 0.5, &out);
    HEAT_CASE("alpha -0.1", "alpha=-0.1", im, hm, 2, 2, -0.1, &out);
    HEAT_CASE("alpha 1.1", "alpha=1.1", im, hm, 2, 2, 1.1, &out);
    HEAT_CASE("alpha NaN", "alpha=nan", im, hm, 2, 2, NAN, &out);
#undef HEAT_CASE

    /* view */
#define VIEW_CASE(input, want, needle, v, feat, rows, n, prog, o)                      \
    BI_CASE(bi, "barlow_visualizer_view", input, want, needle) {                       \
        barlow_feature_view *out = BI_SENTINEL;                                        \
        calls = 0;                                                                     \
        BI_BAD(bi, barlow_visualizer_view(v, feat, rows, n, "c", prog, &calls, o));    \
        bi->untouched = out == BI_SENTINEL;                                            \
        if (out != BI_SENTINEL && bi->st == BARLOW_OK) barlow_feature_view_free(out);  \
        bi->works = vis_works();                                                       \
    }
    VIEW_CASE("NULL v", BARLOW_E_INVALID_ARG, "v is NULL", NULL, F.feat, ALL, 8, NULL, &out);
    VIEW_CASE("NULL out", BARLOW_E_INVALID_ARG, "out is NULL", F.v, F.feat, ALL, 8, NULL, NULL);
    VIEW_CASE("NULL rows, n 8", BARLOW_E_INVALID_ARG, "rows is NULL", F.v, F.feat, NULL, 8, NULL,
              &out);
    VIEW_CASE("feature D", BARLOW_E_INVALID_ARG, "feature=16", F.v, D, ALL, 8, NULL, &out);
    VIEW_CASE("n 0 (empty row set)", BARLOW_E_INVALID_ARG, "empty row set", F.v, F.feat, ALL, 0,
              NULL, &out);
    VIEW_CASE("a row = dataset size", BARLOW_E_INVALID_ARG, "rows[1] = 8", F.v, F.feat, r_out, 2,
              NULL, &out);
    VIEW_CASE("a repeated row", BARLOW_E_INVALID_ARG, "repeated", F.v, F.feat, r_rep, 2, NULL,
              &out);
    VIEW_CASE("only rows that were not extracted", BARLOW_E_INVALID_ARG, "empty row set", F.v,
              F.feat, r_failed, 2, NULL, &out);
    VIEW_CASE("an image deleted since extraction", BARLOW_E_IO, "img1.jpg", F.v_del, F.feat, ALL,
              8, NULL, &out);
    VIEW_CASE("1e6 attack steps, cancelled at the first callback", BARLOW_E_CANCELLED,
              "cancelled", F.v_long, F.feat, ALL, 8, cancel_now, &out);
#undef VIEW_CASE

    /* failure panel */
#define PANEL_CASE(input, want, needle, v, rows, n, o)                                 \
    BI_CASE(bi, "barlow_visualizer_failure_panel", input, want, needle) {              \
        barlow_image *out = BI_SENTINEL;                                               \
        BI_BAD(bi, barlow_visualizer_failure_panel(v, rows, n, "caption", o));         \
        bi->untouched = out == BI_SENTINEL;                                            \
        if (out != BI_SENTINEL && bi->st == BARLOW_OK) barlow_image_free(out);         \
        bi->works = vis_works();                                                       \
    }
    PANEL_CASE("NULL v", BARLOW_E_INVALID_ARG, "v is NULL", NULL, ALL, 8, &out);
    PANEL_CASE("NULL out", BARLOW_E_INVALID_ARG, "out is NULL", F.v, ALL, 8, NULL);
    PANEL_CASE("NULL rows, n 8", BARLOW_E_INVALID_ARG, "rows is NULL", F.v, NULL, 8, &out);
    PANEL_CASE("a row = dataset size", BARLOW_E_INVALID_ARG, "rows[1] = 8", F.v, r_out, 2, &out);
    PANEL_CASE("a repeated row", BARLOW_E_INVALID_ARG, "repeated", F.v, r_rep, 2, &out);
    PANEL_CASE("a set without failures", BARLOW_E_INVALID_ARG, "no failures", F.v, r_good, 2,
               &out);
    PANEL_CASE("n 0", BARLOW_E_INVALID_ARG, "no failures", F.v, ALL, 0, &out);
    PANEL_CASE("a dataset without predictions", BARLOW_E_STATE, "no predictions", F.v_np, ALL, 8,
               &out);
    PANEL_CASE("a failure's image deleted since extraction", BARLOW_E_IO, "img1.jpg", F.v_del,
               ALL, 8, &out);
#undef PANEL_CASE

    /* feature view tiles */
    barlow_feature_view *fv = NULL;
    if (barlow_visualizer_view(F.v, F.feat, ALL, 8, NULL, NULL, NULL, &fv)) exit(1);
    barlow_view_tile t0 = {.version = BARLOW_VIEW_TILE_VERSION};
    barlow_feature_view_tile(fv, BARLOW_VIEW_TOP, 0, &t0);
#define TILE_CASE(input, needle, f, which, i, ver, o)                                  \
    BI_CASE(bi, "barlow_feature_view_tile", input, BARLOW_E_INVALID_ARG, needle) {     \
        barlow_view_tile t;                                                            \
        fill(&t, sizeof t);                                                           \
        t.version = ver;                                                               \
        BI_BAD(bi, barlow_feature_view_tile(f, which, i, o));                          \
        barlow_view_tile back = t;                                                     \
        fill(&back, sizeof back);                                                      \
        back.version = ver;                                                            \
        bi->untouched = !memcmp(&t, &back, sizeof t);                                  \
        barlow_view_tile g = {.version = BARLOW_VIEW_TILE_VERSION};                    \
        bi->works = barlow_feature_view_tile(fv, BARLOW_VIEW_TOP, 0, &g) == BARLOW_OK &&  \
                    g.row == t0.row && g.value == t0.value;                            \
    }
    TILE_CASE("NULL fv", "fv is NULL", NULL, BARLOW_VIEW_TOP, 0, BARLOW_VIEW_TILE_VERSION, &t);
    TILE_CASE("NULL out", "out is NULL", fv, BARLOW_VIEW_TOP, 0, BARLOW_VIEW_TILE_VERSION, NULL);
    TILE_CASE("version 0", "version=0", fv, BARLOW_VIEW_TOP, 0, 0, &t);
    TILE_CASE("version 999", "version=999", fv, BARLOW_VIEW_TOP, 0, 999, &t);
    TILE_CASE("i = count", "tile 3 of a row with 3", fv, BARLOW_VIEW_TOP, 3,
              BARLOW_VIEW_TILE_VERSION, &t);
    TILE_CASE("i SIZE_MAX", "tile 18446744073709551615", fv, BARLOW_VIEW_HEATMAP, SIZE_MAX,
              BARLOW_VIEW_TILE_VERSION, &t);
    TILE_CASE("the LEAST row with least off", "with 0 tiles", fv, BARLOW_VIEW_LEAST, 0,
              BARLOW_VIEW_TILE_VERSION, &t);
    TILE_CASE("row 7 (no such row)", "with 0 tiles", fv, (barlow_view_row)7, 0,
              BARLOW_VIEW_TILE_VERSION, &t);
    TILE_CASE("row -1 (no such row)", "with 0 tiles", fv, (barlow_view_row)-1, 0,
              BARLOW_VIEW_TILE_VERSION, &t);
#undef TILE_CASE
    barlow_feature_view_free(fv);
    barlow_matrix_free(l8);
    barlow_matrix_free(l1);
    barlow_image_free(im);
    free(z);
}

/* barlow_extraction_row_status returns a status but is documented not to
 * set a message (an accessor): checked here, not in the table. */
static void test_row_status(void)
{
    size_t b = 0, e = 0;
    barlow_extraction_range(F.r, &b, &e);
    TAP_OK(barlow_extraction_row_status(NULL, 0) == BARLOW_E_INVALID_ARG &&
               barlow_extraction_row_status(F.r, 8) == BARLOW_E_INVALID_ARG &&
               barlow_extraction_row_status(F.r, SIZE_MAX) == BARLOW_E_INVALID_ARG &&
               barlow_extraction_row_status(F.r, 7) == BARLOW_E_IO &&
               barlow_extraction_row_status(F.r, 0) == BARLOW_OK &&
               barlow_extraction_row_reason(F.r, 8) == NULL && b == 0 && e == 8,
           "barlow_extraction_row_status: INVALID_ARG for NULL and rows out of range");
}

int main(void)
{
    bw_alloc_fail_set(0, 0); /* count live bytes from the start */
    tf_start();
    tmp_dir_create("bad-input-torch");
    setup();
    double t0 = now_s();
    bi_table bx, bv, bs;

    bi_begin(&bx, "extractor.h");
    bx.nofork = 1; /* libtorch's thread pools do not survive fork() */
    test_create(&bx);
    test_tensors(&bx);
    test_datasets(&bx);
    bi_begin(&bs, "shards.h (barlow_extraction_save_shard)");
    bs.nofork = 1;
    test_save(&bx, &bs);
    bi_end(&bx);
    bi_end(&bs);

    bi_begin(&bv, "visualizer.h");
    bv.nofork = 1;
    test_vis_create(&bv);
    test_vis_calls(&bv);
    bi_end(&bv);

    test_create_edges();
    test_vis_edges();
    test_attack_extremes();
    test_row_status();
    printf("# %.1f s\n", now_s() - t0);
    teardown();
    TAP_OK(bw_alloc_live() == 0, "every block freed at the end (live %ld)", bw_alloc_live());
    tmp_dir_remove();
    return tap_done();
}

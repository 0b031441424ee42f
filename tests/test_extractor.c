/* Tests of barlow_extractor (public API only) against tiny TorchScript
 * models and reference outputs that tools/make_test_models.py writes with
 * PyTorch into $BARLOW_TEST_MODELS at test time. Skipped (exit 77) when
 * libbarlow was built without libtorch. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <barlow/barlow.h>

#include "tap.h"

static const char *dir;

static char *path_of(const char *name)
{
    static char buf[8][1024];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* Loads a float32 .npy into a malloc'd array; *count = elements. */
static float *load_f32(const char *name, size_t *count)
{
    barlow_array *a = NULL;
    if (barlow_array_load_npy(path_of(name), &a) != BARLOW_OK) {
        printf("# cannot load %s: %s\n", name, barlow_last_error());
        exit(1);
    }
    size_t n = barlow_array_size(a);
    float *v = malloc(n * sizeof *v);
    barlow_array_to_float32(a, v);
    barlow_array_free(a);
    if (count) *count = n;
    return v;
}

static char *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    *size = fread(buf, 1, (size_t)n, f);
    fclose(f);
    buf[*size] = '\0';
    return buf;
}

static int write_all(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fwrite(data, 1, n, f);
    return fclose(f);
}

/* max |a-b| / (max|b| + tiny) over n values */
static double rel_err(const float *a, const float *b, size_t n)
{
    double num = 0, den = 1e-12;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > num) num = d;
        if (fabs(b[i]) > den) den = fabs(b[i]);
    }
    return num / den;
}

static barlow_extractor_options opts_small(size_t size, uint32_t outputs)
{
    barlow_extractor_options o;
    barlow_extractor_options_init(&o);
    o.input_size = size;
    o.resize = size;
    o.outputs = outputs;
    o.threads = 1;
    return o;
}

/* Expects create_from_file(name, o) to fail with `want` and a message
 * containing `needle`, leaving out untouched. */
static void expect_create_fail(const char *name, const barlow_extractor_options *o,
                               barlow_status want, const char *needle, const char *what)
{
    barlow_extractor *sentinel = (barlow_extractor *)&dir, *ex = sentinel;
    barlow_status st = barlow_extractor_create_from_file(path_of(name), o, &ex);
    const char *msg = barlow_last_error();
    TAP_OK(st == want && strstr(msg, needle) && ex == sentinel, "%s: %s (status %d, \"%s\")",
           what, barlow_status_str(want), (int)st, msg);
    if (st == BARLOW_OK && ex != sentinel) barlow_extractor_free(ex);
}

static void test_tiny_cnn(void)
{
    size_t nx;
    float *x = load_f32("x.npy", &nx);
    float *ref_f = load_f32("tiny_cnn_features.npy", NULL);
    float *ref_l = load_f32("tiny_cnn_logits.npy", NULL);
    float *ref_map = load_f32("tiny_cnn_fmap.npy", NULL);
    const size_t n = 4;

    barlow_extractor_options o = opts_small(32, BARLOW_EXTRACT_FEATURES | BARLOW_EXTRACT_LOGITS);
    barlow_extractor *ex = NULL;
    barlow_status st = barlow_extractor_create_from_file(path_of("tiny_cnn.pt"), &o, &ex);
    TAP_OK(st == BARLOW_OK, "tiny_cnn loads (%s)", barlow_last_error());
    if (st != BARLOW_OK) exit(1);
    size_t D = barlow_extractor_feature_count(ex), K = barlow_extractor_class_count(ex);
    size_t h = barlow_extractor_feature_map_height(ex), w = barlow_extractor_feature_map_width(ex);
    TAP_OK(D == 16 && K == 5 && h == 16 && w == 16, "dims D=%zu K=%zu map %zux%zu", D, K, h, w);
    TAP_OK(barlow_extractor_has_forward_features(ex) == 1, "native forward_features");
    TAP_OK(barlow_extractor_input_channels(ex) == 3 && barlow_extractor_input_size(ex) == 32,
           "input 3x32x32");

    float f[4 * 16], l[4 * 5];
    st = barlow_extractor_run(ex, x, n, f, l);
    TAP_OK(st == BARLOW_OK, "run (%s)", barlow_last_error());
    double ef = rel_err(f, ref_f, n * D), el = rel_err(l, ref_l, n * K);
    TAP_OK(ef < 1e-5, "features match PyTorch eager (rel err %.2g)", ef);
    TAP_OK(el < 1e-5, "logits match PyTorch eager (rel err %.2g)", el);

    /* features == GAP of the feature map, channel by channel */
    float *map = malloc(n * h * w * sizeof *map);
    double worst = 0, worst_map = 0;
    for (size_t c = 0; c < D; c++) {
        st = barlow_extractor_feature_map(ex, x, n, c, map);
        if (st != BARLOW_OK) break;
        for (size_t i = 0; i < n; i++) {
            double s = 0;
            for (size_t k = 0; k < h * w; k++) {
                s += map[i * h * w + k];
                double d = fabs(map[i * h * w + k] - ref_map[(i * D + c) * h * w + k]);
                if (d > worst_map) worst_map = d;
            }
            double d = fabs(s / (double)(h * w) - f[i * D + c]);
            if (d > worst) worst = d;
        }
    }
    TAP_OK(st == BARLOW_OK && worst < 1e-5, "features = GAP of the feature map (max diff %.2g)",
           worst);
    TAP_OK(worst_map < 1e-4, "feature map matches PyTorch (max diff %.2g)", worst_map);

    /* error paths of run/feature_map/feature_gradient */
    float sentinel[4] = {42, 42, 42, 42};
    TAP_OK(barlow_extractor_run(ex, x, 0, f, NULL) == BARLOW_E_INVALID_ARG &&
               strstr(barlow_last_error(), "n is 0"),
           "run n=0 -> INVALID_ARG (%s)", barlow_last_error());
    TAP_OK(barlow_extractor_run(ex, x, n, NULL, NULL) == BARLOW_E_INVALID_ARG &&
               strstr(barlow_last_error(), "both NULL"),
           "run without outputs -> INVALID_ARG");
    TAP_OK(barlow_extractor_run(NULL, x, n, f, NULL) == BARLOW_E_INVALID_ARG,
           "run NULL ex -> INVALID_ARG");
    TAP_OK(barlow_extractor_feature_map(ex, x, n, D, sentinel) == BARLOW_E_INVALID_ARG &&
               strstr(barlow_last_error(), "channel=16") && sentinel[0] == 42,
           "feature_map channel=D -> INVALID_ARG naming it (%s)", barlow_last_error());
    TAP_OK(barlow_extractor_feature_gradient(ex, x, n, 99, NULL, sentinel) ==
                   BARLOW_E_INVALID_ARG &&
               strstr(barlow_last_error(), "feature=99") && sentinel[0] == 42,
           "feature_gradient feature=99 -> INVALID_ARG (%s)", barlow_last_error());

    /* gradient of feature 3 w.r.t. the input */
    float *grad = malloc(nx * sizeof *grad), vals[4];
    float *ref_g = load_f32("tiny_cnn_grad3.npy", NULL);
    st = barlow_extractor_feature_gradient(ex, x, n, 3, vals, grad);
    double eg = rel_err(grad, ref_g, nx);
    TAP_OK(st == BARLOW_OK && eg < 1e-4, "input gradient of feature 3 matches autograd (%.2g; %s)",
           eg, barlow_last_error());
    int vals_ok = 1;
    for (size_t i = 0; i < n; i++) vals_ok &= fabsf(vals[i] - f[i * D + 3]) < 1e-5f;
    TAP_OK(vals_ok, "gradient call returns the feature values");
    free(ref_g);
    free(grad);
    barlow_extractor_free(ex);

    /* results independent of batch size, thread count and optimisation */
    size_t bss[] = {1, 3, 4}, ths[] = {2, 1, 2}, mbs[] = {0, 1, 3};
    int opts_[] = {1, 0, 1};
    for (int k = 0; k < 3; k++) {
        o.batch_size = bss[k];
        o.threads = ths[k];
        o.optimize = opts_[k];
        o.model_batch = mbs[k];
        barlow_extractor *e2 = NULL;
        float f2[4 * 16], l2[4 * 5];
        st = barlow_extractor_create_from_file(path_of("tiny_cnn.pt"), &o, &e2);
        if (st == BARLOW_OK) st = barlow_extractor_run(e2, x, n, f2, l2);
        double d1 = rel_err(f2, f, n * D), d2 = rel_err(l2, l, n * K);
        TAP_OK(st == BARLOW_OK && d1 < 1e-5 && d2 < 1e-5,
               "batch %zu, model batch %zu, %zu threads, optimize %d: same features (%.2g) "
               "and logits (%.2g)",
               bss[k], mbs[k], ths[k], opts_[k], d1, d2);
        if (k == 1) TAP_OK(barlow_extractor_is_optimized(e2) == 0, "optimize=0 runs as loaded");
        barlow_extractor_free(e2);
    }

    /* from memory */
    size_t size;
    char *bytes = read_all(path_of("tiny_cnn.pt"), &size);
    barlow_extractor_options om = opts_small(32, BARLOW_EXTRACT_FEATURES);
    char *sha = read_all(path_of("tiny_cnn.sha256"), &(size_t){0});
    om.sha256 = sha;
    barlow_extractor *e3 = NULL;
    st = barlow_extractor_create_from_memory(bytes, size, &om, &e3);
    float f3[4 * 16];
    if (st == BARLOW_OK) st = barlow_extractor_run(e3, x, n, f3, NULL);
    TAP_OK(st == BARLOW_OK && rel_err(f3, f, n * D) < 1e-6,
           "from memory with the right sha256: same features (%s)", barlow_last_error());
    float lsent[5] = {7};
    TAP_OK(e3 && barlow_extractor_run(e3, x, 1, NULL, lsent) == BARLOW_E_STATE &&
               strstr(barlow_last_error(), "logits") && lsent[0] == 7,
           "logits not requested -> STATE (%s)", barlow_last_error());
    barlow_extractor_free(e3);

    /* sha256 mismatch (one digit changed, upper case elsewhere) */
    sha[0] = sha[0] == '0' ? '1' : '0';
    barlow_extractor *sentinel_ex = (barlow_extractor *)&dir, *e4 = sentinel_ex;
    st = barlow_extractor_create_from_memory(bytes, size, &om, &e4);
    TAP_OK(st == BARLOW_E_FORMAT && strstr(barlow_last_error(), "SHA-256 mismatch") &&
               e4 == sentinel_ex,
           "sha256 mismatch -> FORMAT (%s)", barlow_last_error());
    expect_create_fail("tiny_cnn.pt", &om, BARLOW_E_FORMAT, "tiny_cnn.pt: SHA-256 mismatch",
                       "sha256 mismatch from a file names it");
    om.sha256 = "abc";
    expect_create_fail("tiny_cnn.pt", &om, BARLOW_E_INVALID_ARG, "64 hexadecimal",
                       "malformed sha256");
    TAP_OK(barlow_extractor_create_from_memory(bytes, 0, NULL, &e4) == BARLOW_E_INVALID_ARG &&
               e4 == sentinel_ex,
           "from memory with size 0 -> INVALID_ARG");

    /* truncated and corrupt archives, zero bytes */
    write_all(path_of("truncated.pt"), bytes, size / 2);
    for (size_t i = 0; i < size; i += 7) bytes[i] ^= 0x5a;
    write_all(path_of("corrupt.pt"), bytes, size);
    write_all(path_of("empty.pt"), bytes, 0);
    barlow_extractor_options od = opts_small(32, BARLOW_EXTRACT_FEATURES);
    expect_create_fail("truncated.pt", &od, BARLOW_E_FORMAT,
                       "truncated.pt: not a loadable TorchScript archive: the zip archive is "
                       "damaged or truncated",
                       "truncated model");
    expect_create_fail("corrupt.pt", &od, BARLOW_E_FORMAT,
                       "corrupt.pt: not a TorchScript model: not a zip archive",
                       "corrupt model");
    expect_create_fail("empty.pt", &od, BARLOW_E_FORMAT,
                       "barlow_extractor_create_from_file: model file ", "zero-byte model");
    expect_create_fail("empty.pt", &od, BARLOW_E_FORMAT, "empty.pt is empty (0 bytes)",
                       "zero-byte model: the message names the file and its size");
    expect_create_fail("no_such_model.pt", &od, BARLOW_E_IO, "no_such_model.pt: No such file",
                       "missing model file");
    free(sha);
    free(bytes);
    free(map);
    free(x);
    free(ref_f);
    free(ref_l);
    free(ref_map);
}

static void test_contract(void)
{
    barlow_extractor_options o = opts_small(32, BARLOW_EXTRACT_FEATURES);
    expect_create_fail("bad_rank.pt", &o, BARLOW_E_FORMAT, "2 dimensions",
                       "forward_features returning N×D");
    expect_create_fail("tuple_out.pt", &o, BARLOW_E_FORMAT, "not a tensor",
                       "forward_features returning a tuple");
    expect_create_fail("no_contract.pt", &o, BARLOW_E_FORMAT, "'layer4'",
                       "no forward_features, no ResNet children");
    expect_create_fail("raises.pt", &o, BARLOW_E_BACKEND, "boom from the model",
                       "a model that raises");
    barlow_extractor_options ol = opts_small(32, BARLOW_EXTRACT_FEATURES | BARLOW_EXTRACT_LOGITS);
    expect_create_fail("bad_logits.pt", &ol, BARLOW_E_FORMAT, "logits N×K",
                       "forward returning N×K×1 when logits are wanted");
    barlow_extractor *ex = NULL;
    TAP_OK(barlow_extractor_create_from_file(path_of("bad_logits.pt"), &o, &ex) == BARLOW_OK,
           "the same model loads when only features are wanted");
    barlow_extractor_free(ex);
    barlow_extractor_options o1 = opts_small(32, BARLOW_EXTRACT_FEATURES);
    o1.channels = 1;
    expect_create_fail("tiny_cnn.pt", &o1, BARLOW_E_BACKEND, "channels",
                       "1-channel input to a 3-channel model");
    barlow_extractor_options o3 = opts_small(28, BARLOW_EXTRACT_FEATURES);
    expect_create_fail("grey_cnn.pt", &o3, BARLOW_E_BACKEND, "dry run",
                       "3-channel input to a 1-channel model");
}

/* Model paths that are not TorchScript files: a directory, a FIFO (which
 * must be refused before anything opens it: alarm() ends a hung test), and
 * torch.save checkpoints, zip and legacy, which point at the converter. */
static void test_model_files(void)
{
    barlow_extractor_options o = opts_small(32, BARLOW_EXTRACT_FEATURES);
    expect_create_fail("images", &o, BARLOW_E_IO, "images: it is a directory, not a regular file",
                       "a directory as model path");
    char *fifo = path_of("model.fifo");
    unlink(fifo);
    TAP_OK(mkfifo(fifo, 0600) == 0, "mkfifo %s", fifo);
    alarm(30);
    expect_create_fail("model.fifo", &o, BARLOW_E_IO, "model.fifo: it is a FIFO, not a regular",
                       "a FIFO as model path, refused without blocking");
    alarm(0);
    unlink(fifo);
    expect_create_fail("tiny_cnn_state.pth", &o, BARLOW_E_FORMAT,
                       "tiny_cnn_state.pth: this is a PyTorch checkpoint/state_dict",
                       "a state_dict (torch.save zip) is named as such");
    expect_create_fail("tiny_cnn_state.pth", &o, BARLOW_E_FORMAT,
                       "not a TorchScript model (torch.jit.save); convert it with "
                       "tools/convert_checkpoint.py",
                       "a state_dict: the message points at tools/convert_checkpoint.py");
    expect_create_fail("tiny_cnn_state_legacy.pth", &o, BARLOW_E_FORMAT,
                       "convert it with tools/convert_checkpoint.py",
                       "a state_dict in torch.save's legacy format: the same");
    size_t size = 0;
    char *bytes = read_all(path_of("tiny_cnn_state.pth"), &size);
    barlow_extractor *ex = NULL;
    TAP_OK(bytes &&
               barlow_extractor_create_from_memory(bytes, size, &o, &ex) == BARLOW_E_FORMAT &&
               strstr(barlow_last_error(), "barlow_extractor_create_from_memory: <memory>: "
                                           "this is a PyTorch checkpoint"),
           "a state_dict from memory (%s)", barlow_last_error());
    free(bytes);
}

/* Loads the decoded inputs of rows 0..5 of meta.csv (all good) and tells
 * which ones nan_bright/inf_logits break (first input value > 0.5). */
static size_t bright_rows(barlow_extractor *ex, barlow_dataset *ds, int bright[6])
{
    size_t rows[6] = {0, 1, 2, 3, 4, 5}, per = 3 * 32 * 32, count = 0;
    float *in = malloc(6 * per * sizeof *in);
    if (barlow_extractor_load_inputs(ex, ds, rows, 6, in) != BARLOW_OK) exit(1);
    for (size_t i = 0; i < 6; i++) count += (size_t)(bright[i] = in[i * per] > 0.5f);
    free(in);
    return count;
}

/* Checks an extraction where the rows in bright[] failed for non-finite
 * `what` ("features"/"logits") and rows 6 and 7 failed to load. */
static void check_nonfinite_rows(const barlow_extraction *r, const int bright[6],
                                 size_t nbright, const char *what)
{
    size_t m = barlow_extraction_count(r), k = 0;
    int bad_ok = 1, idx_ok = 1;
    const size_t *idx = barlow_extraction_index(r);
    char needle[64];
    snprintf(needle, sizeof needle, "the model produced NaN/inf %s", what);
    for (size_t i = 0; i < 6; i++) {
        const char *why = barlow_extraction_row_reason(r, i);
        char file[16];
        snprintf(file, sizeof file, "img%zu.%s", i, i % 2 ? "jpg" : "png");
        if (bright[i])
            bad_ok &= barlow_extraction_row_status(r, i) == BARLOW_E_BACKEND && why &&
                      strstr(why, needle) && strstr(why, file);
        else
            idx_ok &= k < m && idx[k++] == i && why == NULL;
    }
    TAP_OK(m == 6 - nbright && barlow_extraction_failed_count(r) == 2 + nbright,
           "%s: %zu rows kept, %zu failed (2 images + %zu non-finite)", what, m,
           barlow_extraction_failed_count(r), nbright);
    TAP_OK(bad_ok, "%s: non-finite rows are BACKEND with a reason naming the file (%s)", what,
           barlow_extraction_row_reason(r, 1) ? barlow_extraction_row_reason(r, 1) : "-");
    TAP_OK(idx_ok && k == m, "%s: the index holds the finite rows only", what);
    const barlow_matrix *F = barlow_extraction_features(r), *L = barlow_extraction_logits(r);
    int finite = 1;
    for (size_t i = 0; F && i < m * barlow_matrix_cols(F); i++)
        finite &= isfinite(barlow_matrix_data(F)[i]);
    for (size_t i = 0; L && i < m * barlow_matrix_cols(L); i++)
        finite &= isfinite(barlow_matrix_data(L)[i]);
    TAP_OK(finite && F && barlow_matrix_rows(F) == m, "%s: no NaN/inf in the result", what);
}

static void test_nonfinite(void)
{
    barlow_dataset_csv_options co;
    barlow_dataset_csv_options_init(&co);
    co.image_root = path_of("images");
    barlow_dataset *ds = NULL;
    if (barlow_dataset_load_csv(path_of("meta.csv"), &co, &ds) != BARLOW_OK) exit(1);
    barlow_extractor_options o = opts_small(32, BARLOW_EXTRACT_FEATURES | BARLOW_EXTRACT_LOGITS);
    o.resize = 36;
    o.batch_size = 4;
    barlow_extractor *ex = NULL;
    barlow_status st = barlow_extractor_create_from_file(path_of("nan_bright.pt"), &o, &ex);
    TAP_OK(st == BARLOW_OK, "a model giving NaN on some images loads (%s)", barlow_last_error());
    if (st != BARLOW_OK) exit(1);
    int bright[6];
    size_t nb = bright_rows(ex, ds, bright);
    TAP_OK(nb >= 1 && nb <= 5, "the fixture has finite and NaN rows (%zu of 6 NaN)", nb);
    barlow_extraction *r = NULL;
    st = barlow_extractor_extract(ex, ds, NULL, NULL, &r);
    TAP_OK(st == BARLOW_OK, "extract with NaN rows succeeds (%s)", barlow_last_error());
    if (st == BARLOW_OK) check_nonfinite_rows(r, bright, nb, "features");
    barlow_extraction_free(r);

    /* predict (a dataset with the model's 5 classes): NaN rows get their
     * label, as failed images do */
    const char *names[5] = {"a", "b", "c", "d", "e"};
    FILE *csv = fopen(path_of("meta_nan.csv"), "w");
    fputs("Filenames,Labels\nimg0.png,e\nimg1.jpg,d\nimg2.png,c\nimg3.jpg,b\nimg4.png,a\n"
          "img5.jpg,e\ntruncated.png,b\nmissing.png,c\n",
          csv);
    fclose(csv);
    barlow_dataset *ds5 = NULL;
    co.class_names = names;
    co.n_class_names = 5;
    st = barlow_dataset_load_csv(path_of("meta_nan.csv"), &co, &ds5);
    r = NULL;
    if (st == BARLOW_OK) st = barlow_extractor_predict(ex, ds5, NULL, NULL, &r);
    int pred_ok = st == BARLOW_OK && barlow_extraction_count(r) == 6 - nb;
    const int32_t *pred = barlow_dataset_predictions(ds5), *lab = barlow_dataset_labels(ds5);
    for (size_t i = 0; pred_ok && i < 8; i++)
        if (i >= 6 || bright[i]) pred_ok &= pred[i] == lab[i];
    TAP_OK(pred_ok, "predict: NaN rows get their label (%s)", barlow_last_error());
    barlow_extraction_free(r);
    barlow_dataset_free(ds5);
    barlow_extractor_free(ex);

    /* logits: +inf logits fail the row only when logits are extracted */
    st = barlow_extractor_create_from_file(path_of("inf_logits.pt"), &o, &ex);
    r = NULL;
    if (st == BARLOW_OK) st = barlow_extractor_extract(ex, ds, NULL, NULL, &r);
    TAP_OK(st == BARLOW_OK, "extract with inf logits (%s)", barlow_last_error());
    if (st == BARLOW_OK) check_nonfinite_rows(r, bright, nb, "logits");
    barlow_extraction_free(r);
    barlow_extractor_free(ex);
    barlow_extractor_options of = opts_small(32, BARLOW_EXTRACT_FEATURES);
    of.resize = 36;
    st = barlow_extractor_create_from_file(path_of("inf_logits.pt"), &of, &ex);
    r = NULL;
    if (st == BARLOW_OK) st = barlow_extractor_extract(ex, ds, NULL, NULL, &r);
    TAP_OK(st == BARLOW_OK && barlow_extraction_count(r) == 6,
           "features only: the same model keeps all 6 rows (%s)", barlow_last_error());
    barlow_extraction_free(r);
    barlow_extractor_free(ex);

    /* every row non-finite: the call fails, saying the model does it */
    st = barlow_extractor_create_from_file(path_of("nan_all.pt"), &o, &ex);
    barlow_extraction *sentinel = (barlow_extraction *)&dir;
    r = sentinel;
    if (st == BARLOW_OK) st = barlow_extractor_extract(ex, ds, NULL, NULL, &r);
    const char *msg = barlow_last_error();
    TAP_OK(st == BARLOW_E_BACKEND && r == sentinel &&
               strstr(msg, "barlow_extractor_extract: the model produces non-finite outputs") &&
               strstr(msg, "(6 of 8 rows; the other 2 failed to load)") &&
               strstr(msg, "row 0: ") && strstr(msg, "img0.png"),
           "every row NaN -> BACKEND, no result (%s)", msg);
    barlow_extractor_free(ex);
    barlow_dataset_free(ds);
}

/* ---- outputs untouched on failure ---------------------------------------- */

static void fill(float *a, size_t n)
{
    for (size_t i = 0; i < n; i++) a[i] = -12345.0f;
}

static int intact(const float *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != -12345.0f) return 0;
    return 1;
}

/* Every call that writes caller buffers leaves them as they were when it
 * fails after some of its work succeeded: a later piece or batch raising,
 * the logits failing after the features were computed, a row that cannot
 * be loaded after others were decoded. */
static void test_outputs_untouched(void)
{
    barlow_dataset_csv_options co;
    barlow_dataset_csv_options_init(&co);
    co.image_root = path_of("images");
    barlow_dataset *ds = NULL;
    if (barlow_dataset_load_csv(path_of("meta.csv"), &co, &ds) != BARLOW_OK) exit(1);
    barlow_extractor_options o = opts_small(32, BARLOW_EXTRACT_FEATURES | BARLOW_EXTRACT_LOGITS);
    o.resize = 36;
    o.batch_size = 1; /* pieces and batches of one image */
    barlow_extractor *ex = NULL;
    barlow_status st = barlow_extractor_create_from_file(path_of("raises_bright.pt"), &o, &ex);
    TAP_OK(st == BARLOW_OK, "a model raising on bright images loads (%s)", barlow_last_error());
    if (st != BARLOW_OK) exit(1);
    int bright[6];
    bright_rows(ex, ds, bright);
    size_t dark = 6, light = 6;
    for (size_t i = 0; i < 6; i++) {
        if (!bright[i] && dark == 6) dark = i;
        if (bright[i] && light == 6) light = i;
    }
    if (dark == 6 || light == 6) exit(1);
    const size_t per = 3 * 32 * 32, D = 16, K = 5;
    size_t rows[2] = {dark, light};
    float *in = malloc(2 * per * sizeof *in);
    if (barlow_extractor_load_inputs(ex, ds, rows, 2, in) != BARLOW_OK) exit(1);
    float f[2 * 16], l[2 * 5];
    TAP_OK(barlow_extractor_run(ex, in, 1, f, l) == BARLOW_OK,
           "run: the dark image alone succeeds (%s)", barlow_last_error());

    fill(f, 2 * D);
    fill(l, 2 * K);
    st = barlow_extractor_run(ex, in, 2, f, l);
    TAP_OK(st == BARLOW_E_BACKEND && strstr(barlow_last_error(), "bright image") &&
               intact(f, 2 * D) && intact(l, 2 * K),
           "run: the second piece raises -> BACKEND, features and logits untouched (%s)",
           barlow_last_error());
    fill(f, 2 * D);
    st = barlow_extractor_run(ex, in, 2, f, NULL);
    TAP_OK(st == BARLOW_E_BACKEND && intact(f, 2 * D),
           "run, features only: untouched after the second piece raises");

    size_t hw = barlow_extractor_feature_map_height(ex) * barlow_extractor_feature_map_width(ex);
    float *map = malloc(2 * hw * sizeof *map);
    TAP_OK(barlow_extractor_feature_map(ex, in, 1, 3, map) == BARLOW_OK,
           "feature_map: the dark image alone succeeds");
    fill(map, 2 * hw);
    st = barlow_extractor_feature_map(ex, in, 2, 3, map);
    TAP_OK(st == BARLOW_E_BACKEND && intact(map, 2 * hw),
           "feature_map: the second batch raises -> BACKEND, out untouched (%s)",
           barlow_last_error());

    float *grad = malloc(2 * per * sizeof *grad), vals[2];
    TAP_OK(barlow_extractor_feature_gradient(ex, in, 1, 3, vals, grad) == BARLOW_OK,
           "feature_gradient: the dark image alone succeeds (%s)", barlow_last_error());
    fill(grad, 2 * per);
    fill(vals, 2);
    st = barlow_extractor_feature_gradient(ex, in, 2, 3, vals, grad);
    TAP_OK(st == BARLOW_E_BACKEND && intact(grad, 2 * per) && intact(vals, 2),
           "feature_gradient: the second batch raises -> BACKEND, values and grad untouched "
           "(%s)", barlow_last_error());
    barlow_extractor_free(ex);

    /* one piece: the features are computed, then forward raises */
    st = barlow_extractor_create_from_file(path_of("logits_raise_bright.pt"), &o, &ex);
    TAP_OK(st == BARLOW_OK, "a model whose forward raises on bright images loads (%s)",
           barlow_last_error());
    if (st != BARLOW_OK) exit(1);
    TAP_OK(barlow_extractor_run(ex, in + per, 1, f, NULL) == BARLOW_OK,
           "run: the bright image's features alone succeed");
    fill(f, 2 * D);
    fill(l, 2 * K);
    st = barlow_extractor_run(ex, in + per, 1, f, l);
    TAP_OK(st == BARLOW_E_BACKEND && strstr(barlow_last_error(), "bright image in forward") &&
               intact(f, D) && intact(l, K),
           "run: forward raises after the features were computed -> features untouched (%s)",
           barlow_last_error());
    barlow_extractor_free(ex);

    /* logits asked for but not built */
    barlow_extractor_options of = opts_small(32, BARLOW_EXTRACT_FEATURES);
    of.resize = 36;
    st = barlow_extractor_create_from_file(path_of("tiny_cnn.pt"), &of, &ex);
    if (st != BARLOW_OK) exit(1);
    fill(f, 2 * D);
    fill(l, 2 * K);
    TAP_OK(barlow_extractor_run(ex, in, 2, f, l) == BARLOW_E_STATE && intact(f, 2 * D) &&
               intact(l, 2 * K),
           "run: logits not built -> STATE, outputs untouched");

    /* load_inputs: rows 0 and 1 decode, row 7's file is missing */
    size_t bad_rows[3] = {0, 1, 7};
    float *in3 = malloc(3 * per * sizeof *in3);
    fill(in3, 3 * per);
    st = barlow_extractor_load_inputs(ex, ds, bad_rows, 3, in3);
    TAP_OK(st == BARLOW_E_IO && strstr(barlow_last_error(), "row 7") && intact(in3, 3 * per),
           "load_inputs: a row that cannot be loaded after two that could -> out untouched "
           "(%s)", barlow_last_error());
    size_t trunc_rows[2] = {2, 6};
    st = barlow_extractor_load_inputs(ex, ds, trunc_rows, 2, in3);
    TAP_OK(st == BARLOW_E_FORMAT && intact(in3, 3 * per),
           "load_inputs: a truncated image after a good one -> out untouched (%s)",
           barlow_last_error());
    TAP_OK(barlow_extractor_load_inputs(ex, ds, bad_rows, 2, in3) == BARLOW_OK &&
               !intact(in3, 2 * per) && intact(in3 + 2 * per, per),
           "load_inputs: the good rows alone are written, nothing past them");
    free(in3);
    barlow_extractor_free(ex);
    free(grad);
    free(map);
    free(in);
    barlow_dataset_free(ds);
}

static void test_devices_and_options(void)
{
    barlow_extractor_options o = opts_small(32, BARLOW_EXTRACT_FEATURES);
    o.device = "gpu";
    expect_create_fail("tiny_cnn.pt", &o, BARLOW_E_INVALID_ARG, "'gpu' is not a device",
                       "device gpu");
    o.device = "cuda";
    expect_create_fail("tiny_cnn.pt", &o, BARLOW_E_UNSUPPORTED, "not available", "device cuda");
    o.device = "cuda:3";
    expect_create_fail("tiny_cnn.pt", &o, BARLOW_E_UNSUPPORTED, "cuda:3", "device cuda:3");
    o.device = "cpu:2";
    expect_create_fail("tiny_cnn.pt", &o, BARLOW_E_INVALID_ARG, "cpu:2", "device cpu:2");
    o.device = "cpu";
    barlow_extractor *ex = NULL;
    TAP_OK(barlow_extractor_create_from_file(path_of("tiny_cnn.pt"), &o, &ex) == BARLOW_OK,
           "device cpu");
    barlow_extractor_free(ex);
}

static void test_resnet_style(void)
{
    float *x = load_f32("x.npy", NULL);
    float *ref_f = load_f32("tiny_resnet_features.npy", NULL);
    float *ref_l = load_f32("tiny_resnet_logits.npy", NULL);
    barlow_extractor_options o = opts_small(32, BARLOW_EXTRACT_FEATURES | BARLOW_EXTRACT_LOGITS);
    barlow_extractor *ex = NULL;
    barlow_status st = barlow_extractor_create_from_file(path_of("tiny_resnet.pt"), &o, &ex);
    TAP_OK(st == BARLOW_OK, "ResNet-style model without forward_features loads (%s)",
           barlow_last_error());
    if (st != BARLOW_OK) exit(1);
    TAP_OK(barlow_extractor_has_forward_features(ex) == 0 &&
               barlow_extractor_feature_count(ex) == 24 && barlow_extractor_class_count(ex) == 7,
           "children conv1..layer4 are used: D=24, K=7");
    float f[4 * 24], l[4 * 7];
    st = barlow_extractor_run(ex, x, 4, f, l);
    TAP_OK(st == BARLOW_OK && rel_err(f, ref_f, 4 * 24) < 1e-5 && rel_err(l, ref_l, 4 * 7) < 1e-5,
           "features (GAP of layer4) and logits match PyTorch (%.2g, %.2g)",
           rel_err(f, ref_f, 4 * 24), rel_err(l, ref_l, 4 * 7));
    barlow_extractor_free(ex);

    /* normalisation inside the extractor */
    float *ref_n = load_f32("tiny_cnn_norm_features.npy", NULL);
    barlow_extractor_options on = opts_small(32, BARLOW_EXTRACT_FEATURES);
    on.normalize = 1;
    st = barlow_extractor_create_from_file(path_of("tiny_cnn.pt"), &on, &ex);
    float fn[4 * 16];
    if (st == BARLOW_OK) st = barlow_extractor_run(ex, x, 4, fn, NULL);
    TAP_OK(st == BARLOW_OK && rel_err(fn, ref_n, 4 * 16) < 1e-5,
           "mean/std normalisation matches PyTorch (%.2g)", rel_err(fn, ref_n, 4 * 16));
    barlow_extractor_free(ex);
    free(ref_n);

    /* a grey (1-channel) model at 28x28 */
    float *xg = load_f32("x_grey.npy", NULL);
    float *ref_g = load_f32("grey_cnn_features.npy", NULL);
    barlow_extractor_options og = opts_small(28, BARLOW_EXTRACT_FEATURES);
    og.channels = 1;
    og.resize = 0;
    st = barlow_extractor_create_from_file(path_of("grey_cnn.pt"), &og, &ex);
    float fg[4 * 16];
    if (st == BARLOW_OK) st = barlow_extractor_run(ex, xg, 4, fg, NULL);
    TAP_OK(st == BARLOW_OK && rel_err(fg, ref_g, 4 * 16) < 1e-5,
           "1-channel 28x28 model matches PyTorch (%s)", barlow_last_error());
    barlow_extractor_free(ex);
    free(xg);
    free(ref_g);
    free(x);
    free(ref_f);
    free(ref_l);
}

typedef struct progress_log {
    size_t calls, last, total;
    int monotonic;
    size_t cancel_at; /* cancel when done >= this (0 = never) */
} progress_log;

static int on_progress(size_t done, size_t total, void *user)
{
    progress_log *p = user;
    if (done < p->last) p->monotonic = 0;
    p->last = done;
    p->total = total;
    p->calls++;
    return p->cancel_at && done >= p->cancel_at;
}

static void test_dataset(void)
{
    barlow_dataset_csv_options co;
    barlow_dataset_csv_options_init(&co);
    co.image_root = path_of("images");
    barlow_dataset *ds = NULL;
    barlow_status st = barlow_dataset_load_csv(path_of("meta.csv"), &co, &ds);
    TAP_OK(st == BARLOW_OK && barlow_dataset_size(ds) == 8, "metadata CSV loads (%s)",
           barlow_last_error());
    if (st != BARLOW_OK) exit(1);

    barlow_extractor_options o = opts_small(32, BARLOW_EXTRACT_FEATURES | BARLOW_EXTRACT_LOGITS);
    o.resize = 36;
    o.batch_size = 3;
    barlow_extractor *ex = NULL;
    st = barlow_extractor_create_from_file(path_of("tiny_cnn.pt"), &o, &ex);
    if (st != BARLOW_OK) exit(1);

    progress_log pl = {0, 0, 0, 1, 0};
    barlow_extraction *r = NULL;
    st = barlow_extractor_extract(ex, ds, on_progress, &pl, &r);
    TAP_OK(st == BARLOW_OK, "extract over a dataset with 2 bad rows (%s)", barlow_last_error());
    if (st != BARLOW_OK) exit(1);
    TAP_OK(barlow_extraction_count(r) == 6 && barlow_extraction_failed_count(r) == 2 &&
               barlow_extraction_dataset_size(r) == 8,
           "6 extracted, 2 skipped");
    TAP_OK(pl.calls == 3 && pl.monotonic && pl.last == 8 && pl.total == 8,
           "progress per batch, monotonic, ends at 8/8 (%zu calls)", pl.calls);
    TAP_OK(barlow_extraction_row_status(r, 6) == BARLOW_E_FORMAT &&
               strstr(barlow_extraction_row_reason(r, 6), "truncated.png"),
           "truncated image: FORMAT, reason names it (%s)", barlow_extraction_row_reason(r, 6));
    TAP_OK(barlow_extraction_row_status(r, 7) == BARLOW_E_IO &&
               strstr(barlow_extraction_row_reason(r, 7), "missing.png"),
           "missing image: IO, reason names it (%s)", barlow_extraction_row_reason(r, 7));
    TAP_OK(barlow_extraction_row_status(r, 0) == BARLOW_OK &&
               barlow_extraction_row_reason(r, 0) == NULL,
           "good row: OK, no reason");
    const size_t *idx = barlow_extraction_index(r);
    int idx_ok = 1;
    for (size_t i = 0; i < 6; i++) idx_ok &= idx[i] == i;
    TAP_OK(idx_ok, "index maps extracted rows to dataset rows 0..5");

    /* same numbers as running the model on the decoded inputs */
    size_t rows[6] = {0, 1, 2, 3, 4, 5};
    float *in = malloc(6 * 3 * 32 * 32 * sizeof *in);
    float f[6 * 16], l[6 * 5];
    st = barlow_extractor_load_inputs(ex, ds, rows, 6, in);
    if (st == BARLOW_OK) st = barlow_extractor_run(ex, in, 6, f, l);
    const barlow_matrix *F = barlow_extraction_features(r), *L = barlow_extraction_logits(r);
    TAP_OK(st == BARLOW_OK && barlow_matrix_rows(F) == 6 && barlow_matrix_cols(F) == 16 &&
               rel_err(barlow_matrix_data(F), f, 96) < 1e-5 &&
               rel_err(barlow_matrix_data(L), l, 30) < 1e-5,
           "dataset features/logits = run() on load_inputs() (%s)", barlow_last_error());
    /* grey row 4 was repeated to 3 channels */
    const float *g = in + 4 * 3 * 32 * 32;
    int grey_ok = 1;
    for (size_t k = 0; k < 32 * 32; k++)
        grey_ok &= g[k] == g[32 * 32 + k] && g[k] == g[2 * 32 * 32 + k];
    TAP_OK(grey_ok, "grey image repeated to 3 channels");
    size_t bad_rows[2] = {1, 7};
    float sentinel = 5;
    TAP_OK(barlow_extractor_load_inputs(ex, ds, bad_rows, 2, in) == BARLOW_E_IO &&
               strstr(barlow_last_error(), "row 7"),
           "load_inputs names the failing row (%s)", barlow_last_error());
    size_t oob[1] = {8};
    TAP_OK(barlow_extractor_load_inputs(ex, ds, oob, 1, &sentinel) == BARLOW_E_INVALID_ARG &&
               sentinel == 5,
           "load_inputs row out of range -> INVALID_ARG");
    const int32_t *am = barlow_extraction_argmax(r);
    int am_ok = 1;
    for (size_t i = 0; i < 6; i++) {
        size_t best = 0;
        for (size_t c = 1; c < 5; c++)
            if (l[i * 5 + c] > l[i * 5 + best]) best = c;
        am_ok &= am[i] == (int32_t)best;
    }
    TAP_OK(am_ok, "argmax of the logits");

    /* .npz output */
    st = barlow_extraction_save_npz(r, ds, path_of("out.npz"));
    TAP_OK(st == BARLOW_OK, "save_npz (%s)", barlow_last_error());
    barlow_matrix *mf = NULL;
    barlow_array *ai = NULL, *as = NULL, *al = NULL;
    st = barlow_matrix_load_npz(path_of("out.npz"), "features", &mf);
    if (st == BARLOW_OK) st = barlow_array_load_npz(path_of("out.npz"), "index", &ai);
    if (st == BARLOW_OK) st = barlow_array_load_npz(path_of("out.npz"), "status", &as);
    if (st == BARLOW_OK) st = barlow_array_load_npz(path_of("out.npz"), "labels", &al);
    TAP_OK(st == BARLOW_OK && barlow_matrix_rows(mf) == 6 &&
               rel_err(barlow_matrix_data(mf), f, 96) < 1e-5 && barlow_array_size(ai) == 6 &&
               barlow_array_dtype(ai) == BARLOW_DTYPE_INT64 && barlow_array_size(as) == 8 &&
               ((const int32_t *)barlow_array_data(as))[7] == BARLOW_E_IO &&
               ((const int32_t *)barlow_array_data(al))[1] == barlow_dataset_labels(ds)[1],
           "npz members features, index, status, labels (%s)", barlow_last_error());
    barlow_matrix_free(mf);
    barlow_array_free(ai);
    barlow_array_free(as);
    barlow_array_free(al);
    TAP_OK(barlow_extraction_save_npz(r, ds, "/nonexistent-dir/x.npz") == BARLOW_E_IO &&
               strstr(barlow_last_error(), "barlow_extraction_save_npz"),
           "save_npz into a missing directory -> IO (%s)", barlow_last_error());

    /* cancel: CANCELLED, no result */
    progress_log pc = {0, 0, 0, 1, 3};
    barlow_extraction *sentinel_r = (barlow_extraction *)&dir, *r2 = sentinel_r;
    st = barlow_extractor_extract(ex, ds, on_progress, &pc, &r2);
    TAP_OK(st == BARLOW_E_CANCELLED && r2 == sentinel_r && pc.calls == 1,
           "progress cancel -> CANCELLED, out untouched (%s)", barlow_last_error());

    /* predictions from the model's argmax */
    barlow_extraction *rp = NULL;
    st = barlow_extractor_predict(ex, ds, NULL, NULL, &rp);
    /* 5 logits but 3 classes in the CSV: an argmax may fall outside */
    int any_out = 0;
    for (size_t i = 0; i < 6; i++) any_out |= am[i] >= 3;
    if (any_out)
        TAP_OK(st == BARLOW_E_INVALID_ARG && strstr(barlow_last_error(), "5 logits"),
               "predict: argmax beyond the dataset's classes -> INVALID_ARG (%s)",
               barlow_last_error());
    else
        TAP_OK(st == BARLOW_OK, "predict with argmax inside the classes");
    barlow_extraction_free(rp);
    const char *names[5] = {"a", "b", "c", "d", "e"};
    int32_t labels[8] = {0, 1, 2, 3, 4, 0, 1, 2};
    barlow_dataset *ds5 = NULL;
    barlow_dataset_csv_options c5;
    barlow_dataset_csv_options_init(&c5);
    (void)labels;
    (void)c5;
    /* a dataset with the model's 5 classes: predictions = argmax */
    barlow_dataset_csv_options_init(&co);
    co.image_root = path_of("images");
    co.class_names = names;
    co.n_class_names = 5;
    FILE *csv = fopen(path_of("meta5.csv"), "w");
    fputs("Filenames,Labels\nimg0.png,a\nimg1.jpg,b\nimg2.png,c\nimg3.jpg,d\nimg4.png,e\n"
          "img5.jpg,a\ntruncated.png,b\nmissing.png,c\n",
          csv);
    fclose(csv);
    st = barlow_dataset_load_csv(path_of("meta5.csv"), &co, &ds5);
    if (st == BARLOW_OK) st = barlow_extractor_predict(ex, ds5, NULL, NULL, NULL);
    const int32_t *pr = barlow_dataset_predictions(ds5);
    int pr_ok = st == BARLOW_OK && pr != NULL;
    for (size_t i = 0; pr_ok && i < 6; i++) pr_ok &= pr[i] == am[i];
    pr_ok = pr_ok && pr[6] == 1 && pr[7] == 2; /* failed rows: their label */
    TAP_OK(pr_ok, "predict fills predictions with the argmax (failed rows: label) (%s)",
           barlow_last_error());
    barlow_dataset_free(ds5);

    barlow_extraction_free(r);
    barlow_extractor_free(ex);
    barlow_dataset_free(ds);

    /* every image fails -> error naming the first */
    st = barlow_dataset_load_csv(path_of("bad.csv"), &(barlow_dataset_csv_options){
                                                         .version = 1,
                                                         .image_root = path_of("images")},
                                 &ds);
    barlow_extractor_options ob = opts_small(32, BARLOW_EXTRACT_FEATURES);
    ex = NULL;
    if (st == BARLOW_OK) st = barlow_extractor_create_from_file(path_of("tiny_cnn.pt"), &ob, &ex);
    r = (barlow_extraction *)&dir;
    if (st == BARLOW_OK) st = barlow_extractor_extract(ex, ds, NULL, NULL, &r);
    TAP_OK(st == BARLOW_E_FORMAT && strstr(barlow_last_error(), "every image failed") &&
               strstr(barlow_last_error(), "row 0") && r == (barlow_extraction *)&dir,
           "all images failing -> error naming row 0 (%s)", barlow_last_error());
    barlow_extractor_free(ex);
    barlow_dataset_free(ds);
    free(in);
}

/* meson 1.0's TAP runner reports exit status 77 as an error, so the whole
 * program is skipped with a "1..0 # SKIP" plan and exit status 0. */
static int skip_all(const char *why)
{
    printf("1..0 # SKIP %s\n", why);
    return 0;
}

int main(void)
{
    if (!barlow_has_torch()) return skip_all("libbarlow was built without libtorch");
    dir = getenv("BARLOW_TEST_MODELS");
    if (!dir) return skip_all("BARLOW_TEST_MODELS is not set (run through meson test)");
    test_tiny_cnn();
    test_contract();
    test_model_files();
    test_nonfinite();
    test_outputs_untouched();
    test_devices_and_options();
    test_resnet_style();
    test_dataset();
    return tap_done();
}

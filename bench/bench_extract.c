/* bench_extract: libbarlow's side of bench/bench_extract.py. Extracts the
 * features of a dataset end to end (image files → features, decoding
 * overlapped with the model) and measures the model alone on preloaded
 * input tensors; prints one JSON object.
 *
 *   bench_extract MODEL.pt CSV IMAGE_DIR SIZE RESIZE CHANNELS BATCH THREADS
 *                 [MODEL_ONLY_IMAGES [OPTIMIZE]]
 * (OPTIMIZE 0 runs the module as loaded instead of libtorch's frozen,
 * optimised copy.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <barlow/barlow.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int fail(const char *what)
{
    fprintf(stderr, "bench_extract: %s: %s\n", what, barlow_last_error());
    return 1;
}

/* Seconds to run the model on `total` images, `b` at a time from one
 * decoded batch; -1 on failure. */
static double model_alone(barlow_extractor *ex, const float *in, float *f, size_t b,
                          size_t total)
{
    double t0 = now();
    for (size_t done = 0; done < total;) {
        size_t k = total - done < b ? total - done : b;
        if (barlow_extractor_run(ex, in, k, f, NULL) != BARLOW_OK) return -1;
        done += k;
    }
    return now() - t0;
}

int main(int argc, char **argv)
{
    if (argc < 9) {
        fprintf(stderr, "usage: bench_extract MODEL CSV IMAGE_DIR SIZE RESIZE CHANNELS BATCH "
                        "THREADS [MODEL_ONLY_IMAGES [OPTIMIZE [MODEL_BATCH [TUNE_MALLOC]]]]\n");
        return 2;
    }
    barlow_extractor_options o;
    barlow_extractor_options_init(&o);
    o.input_size = (size_t)atol(argv[4]);
    o.resize = (size_t)atol(argv[5]);
    o.channels = (size_t)atol(argv[6]);
    o.batch_size = (size_t)atol(argv[7]);
    o.threads = (size_t)atol(argv[8]);
    size_t model_only = argc > 9 ? (size_t)atol(argv[9]) : 0;
    if (argc > 10) o.optimize = atoi(argv[10]);
    if (argc > 11) o.model_batch = (size_t)atol(argv[11]); /* 0 = automatic */
    if (argc > 12) o.tune_malloc = atoi(argv[12]);

    barlow_dataset_csv_options co;
    barlow_dataset_csv_options_init(&co);
    co.image_root = argv[3];
    barlow_dataset *ds = NULL;
    if (barlow_dataset_load_csv(argv[2], &co, &ds) != BARLOW_OK) return fail(argv[2]);
    size_t n = barlow_dataset_size(ds);

    double t0 = now();
    barlow_extractor *ex = NULL;
    if (barlow_extractor_create_from_file(argv[1], &o, &ex) != BARLOW_OK) return fail(argv[1]);
    double t_load = now() - t0;

    /* the model alone: one batch of decoded inputs, run until model_only images */
    size_t b = o.batch_size < n ? o.batch_size : n;
    if (model_only == 0) model_only = n;
    size_t per = o.channels * o.input_size * o.input_size, D = barlow_extractor_feature_count(ex);
    float *in = malloc(b * per * sizeof *in), *f = malloc(b * D * sizeof *f);
    size_t *rows = malloc(b * sizeof *rows);
    if (!in || !f || !rows) return 1;
    for (size_t i = 0; i < b; i++) rows[i] = i;
    if (barlow_extractor_load_inputs(ex, ds, rows, b, in) != BARLOW_OK) return fail("load");
    t0 = now();
    double t_dec = 0;
    {
        /* decoding alone (one thread), for the record */
        double d0 = now();
        if (barlow_extractor_load_inputs(ex, ds, rows, b, in) != BARLOW_OK) return fail("load");
        t_dec = (now() - d0) / (double)b;
    }
    /* Warm-up: one batch through the network (libtorch's first calls after
     * loading run slower: measured ~8% over the first 200 images), then the
     * model alone, end to end, and the model alone again, all warm; the
     * model-only figure is the mean of the two. */
    if (barlow_extractor_run(ex, in, b, f, NULL) != BARLOW_OK) return fail("run");
    double t_model1 = model_alone(ex, in, f, b, model_only);
    t0 = now();
    barlow_extraction *r = NULL;
    if (barlow_extractor_extract(ex, ds, NULL, NULL, &r) != BARLOW_OK) return fail("extract");
    double t_e2e = now() - t0;
    double t_model2 = model_alone(ex, in, f, b, model_only);
    if (t_model1 < 0 || t_model2 < 0) return fail("run");
    double t_model = (t_model1 + t_model2) / 2;

    printf("{\"images\": %zu, \"extracted\": %zu, \"feature_dim\": %zu, \"optimized\": %d, "
           "\"load_s\": %.3f, \"e2e_s\": %.3f, \"e2e_ips\": %.2f, \"model_images\": %zu, "
           "\"model_s\": %.3f, \"model_ips\": %.2f, \"model_ips_before\": %.2f, "
           "\"model_ips_after\": %.2f, \"decode_ms_per_image\": %.3f}\n",
           n, barlow_extraction_count(r), D, barlow_extractor_is_optimized(ex), t_load, t_e2e,
           (double)n / t_e2e, model_only, t_model, (double)model_only / t_model,
           (double)model_only / t_model1, (double)model_only / t_model2, t_dec * 1e3);
    free(in);
    free(f);
    free(rows);
    barlow_extraction_free(r);
    barlow_extractor_free(ex);
    barlow_dataset_free(ds);
    return 0;
}

/* barlow_extractor: options, model loading (with an optional SHA-256 check),
 * batched inference over caller tensors, and dataset extraction with a
 * decoding thread that prepares batch b+1 while the model runs batch b.
 * Pure C; every libtorch call goes through the table of the libtorch plugin
 * (lib/torch/shim.h), which lib/torch_plugin.c loads on first use. */
#include <ctype.h>
#include <math.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <stddef.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "barlow/extractor.h"
#include "dataset_internal.h"
#include "image_internal.h"
#include "internal.h"
#include "npy.h"
#include "sha256.h"
#include "shards_internal.h"

#ifdef BARLOW_HAVE_TORCH
#include "torch_plugin.h"
#endif

struct barlow_extractor {
#ifdef BARLOW_HAVE_TORCH
    const bw_torch_plugin *tp; /* the loaded plugin's functions */
    bw_torch_model *model;
    bw_torch_info info;
#endif
    barlow_extractor_options opts; /* device/sha256 pointers cleared */
    size_t threads;                /* resolved */
    size_t decode_threads;         /* resolved */
    size_t pipe_depth;             /* batches decoded ahead: 2 overlap, 1 take turns */
    size_t model_batch;            /* resolved: images per forward call */
    bw_preprocess pp;
    char sha256[65];               /* the model file's SHA-256, hex */
};

struct barlow_extraction {
    size_t begin;         /* first dataset row covered */
    size_t n;             /* dataset rows covered: begin..begin+n-1 */
    size_t total;         /* rows of the dataset it was extracted from */
    size_t m;             /* extracted */
    barlow_matrix *features, *logits;
    int32_t *argmax;      /* m, with logits */
    size_t *index;        /* m */
    int32_t *status;      /* n */
    char **reasons;       /* n, NULL for extracted rows */
};

int barlow_has_torch(void)
{
#ifdef BARLOW_HAVE_TORCH
    return bw_torch_plugin_get(NULL) != NULL;
#else
    return 0;
#endif
}

void barlow_extractor_options_init(barlow_extractor_options *opts)
{
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->version = BARLOW_EXTRACTOR_OPTIONS_VERSION;
    opts->input_size = 224;
    opts->resize = 256;
    opts->channels = 3;
    opts->normalize = 0;
    opts->mean[0] = 0.485f;
    opts->mean[1] = 0.456f;
    opts->mean[2] = 0.406f;
    opts->std[0] = 0.229f;
    opts->std[1] = 0.224f;
    opts->std[2] = 0.225f;
    opts->batch_size = 32;
    opts->threads = 0;
    opts->decode_threads = 0;
    opts->device = NULL;
    opts->outputs = BARLOW_EXTRACT_FEATURES;
    opts->sha256 = NULL;
    opts->optimize = 1;
    opts->max_image_side = BW_IMAGE_DEFAULT_MAX_SIDE;
    opts->max_image_pixels = BW_IMAGE_DEFAULT_MAX_PIXELS;
    opts->model_batch = 0;
    opts->tune_malloc = 1;
}

/* ---- option checks ----------------------------------------------------------- */

static barlow_status bw_check_range(const char *who, const char *name, size_t v, size_t lo,
                                    size_t hi)
{
    if (v < lo || v > hi)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s=%zu (must be %zu..%zu)", who, name, v,
                        lo, hi);
    return BARLOW_OK;
}

static barlow_status bw_extractor_check_options(const char *who,
                                                const barlow_extractor_options *o)
{
    barlow_status st;
    if ((st = bw_check_options_version(o->version, BARLOW_EXTRACTOR_OPTIONS_VERSION,
                                       "barlow_extractor_options")) != BARLOW_OK)
        return bw_error_prefix(st, "%s", who);
    if ((st = bw_check_range(who, "input_size", o->input_size, 1, 4096)) ||
        (st = bw_check_range(who, "resize", o->resize, 0, 65536)) ||
        (st = bw_check_range(who, "batch_size", o->batch_size, 1, 65536)) ||
        (st = bw_check_range(who, "threads", o->threads, 0, 1024)) ||
        (st = bw_check_range(who, "decode_threads", o->decode_threads, 0, 256)) ||
        (st = bw_check_range(who, "model_batch", o->model_batch, 0, 65536)))
        return st;
    bw_image_limits lim = {o->max_image_side, o->max_image_pixels};
    if ((st = bw_image_limits_check(&lim, "max_image_side", "max_image_pixels", who)))
        return st;
    if (o->channels != 1 && o->channels != 3)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: channels=%zu (must be 1 or 3)", who,
                        o->channels);
    if (o->normalize != 0 && o->normalize != 1)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: normalize=%d (must be 0 or 1)", who,
                        (int)o->normalize);
    if (o->tune_malloc != 0 && o->tune_malloc != 1)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: tune_malloc=%d (must be 0 or 1)", who,
                        (int)o->tune_malloc);
    if (o->optimize != 0 && o->optimize != 1)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: optimize=%d (must be 0 or 1)", who,
                        (int)o->optimize);
    if (o->outputs == 0 || (o->outputs & ~(uint32_t)(BARLOW_EXTRACT_FEATURES |
                                                     BARLOW_EXTRACT_LOGITS)))
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: outputs=%u (must be BARLOW_EXTRACT_FEATURES (1), "
                        "BARLOW_EXTRACT_LOGITS (2) or both (3))",
                        who, (unsigned)o->outputs);
    if (o->normalize) {
        for (size_t c = 0; c < o->channels; c++) {
            if (!(o->std[c] > 0.0f) || !isfinite(o->std[c]))
                return bw_error(BARLOW_E_INVALID_ARG,
                                "%s: std[%zu]=%g (must be a finite number > 0)", who, c,
                                (double)o->std[c]);
            if (!isfinite(o->mean[c]))
                return bw_error(BARLOW_E_INVALID_ARG, "%s: mean[%zu]=%g (must be finite)",
                                who, c, (double)o->mean[c]);
        }
    }
    if (o->sha256) {
        size_t len = strlen(o->sha256);
        bool ok = len == 64;
        for (size_t i = 0; ok && i < len; i++) ok = isxdigit((unsigned char)o->sha256[i]);
        if (!ok)
            return bw_error(BARLOW_E_INVALID_ARG,
                            "%s: sha256=\"%.80s\" is not 64 hexadecimal digits", who,
                            o->sha256);
    }
    return BARLOW_OK;
}

static size_t bw_input_floats(const barlow_extractor *ex)
{
    return ex->opts.channels * ex->opts.input_size * ex->opts.input_size;
}

#ifdef BARLOW_HAVE_TORCH
/* Runs the network on n inputs in pieces of ex->model_batch (the one place
 * that calls the backend's forward). */
static barlow_status bw_run_pieces(barlow_extractor *ex, const char *who, const float *x,
                                   size_t n, float *features, float *logits)
{
    size_t per = bw_input_floats(ex), mb = ex->model_batch;
    for (size_t i = 0; i < n; i += mb) {
        size_t k = n - i < mb ? n - i : mb;
        barlow_status st = ex->tp->run(who, ex->model, x + i * per, k,
                                       features ? features + i * ex->info.feature_dim : NULL,
                                       logits ? logits + i * ex->info.num_classes : NULL);
        if (st != BARLOW_OK) return st;
    }
    return BARLOW_OK;
}
#endif

/* glibc's malloc serves blocks above its mmap threshold (dynamic, at most
 * 32 MiB) with a fresh mapping and gives freed heap tops back to the system
 * above its trim threshold: libtorch's activation buffers (12.8 MB per
 * ResNet-50 layer-1 tensor at 4 images) then cost page faults and zeroing
 * on every forward call. Raising both once keeps them in the heap. */
#if defined(__GLIBC__) && defined(BARLOW_HAVE_TORCH)
static void bw_tune_malloc_once(void)
{
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
}
#endif

/* ---- creation ------------------------------------------------------------------ */

static barlow_status bw_extractor_create(const char *who, const char *path,
                                         const void *data, size_t size,
                                         const barlow_extractor_options *opts,
                                         barlow_extractor **out)
{
    barlow_extractor_options o;
    barlow_extractor_options_init(&o);
    if (opts) {
        barlow_status st = bw_check_options_version(opts->version,
                                                    BARLOW_EXTRACTOR_OPTIONS_VERSION,
                                                    "barlow_extractor_options");
        if (st != BARLOW_OK) return bw_error_prefix(st, "%s", who);
        /* read only the fields of the caller's version: a version 1 struct
         * ends before model_batch */
        size_t have = opts->version == 1 ? offsetof(barlow_extractor_options, model_batch)
                                         : sizeof o;
        memcpy(&o, opts, have);
    }
    barlow_status st = bw_extractor_check_options(who, &o);
    if (st != BARLOW_OK) return st;
#ifndef BARLOW_HAVE_TORCH
    (void)path;
    (void)data;
    (void)size;
    (void)out;
    return bw_error(BARLOW_E_UNSUPPORTED,
                    "%s: libbarlow was built without libtorch (-Dtorch=disabled); the "
                    "feature extractor is not available",
                    who);
#else
    const bw_torch_plugin *tp = bw_torch_plugin_get(who);
    if (!tp) return bw_torch_plugin_status();
    char *file = NULL;
    if (path) {
        size_t fsize = 0;
        if ((st = bw_read_file(path, who, BARLOW_LIMIT_MODEL_BYTES, &file, &fsize)) != BARLOW_OK)
            return st;
        data = file;
        size = fsize;
    }
    const char *name = path ? path : "<memory>";
    if (size == 0) {
        bw_free(file);
        return bw_error(BARLOW_E_FORMAT, "%s: model file %s is empty (0 bytes)", who, name);
    }
    char hex[65];
    bw_sha256_hex(data, size, hex);
    if (o.sha256) {
        bool same = true;
        for (size_t i = 0; i < 64; i++)
            same = same && tolower((unsigned char)o.sha256[i]) == hex[i];
        if (!same) {
            bw_free(file);
            return bw_error(BARLOW_E_FORMAT,
                            "%s: %s: SHA-256 mismatch: the file has %s, expected %.64s "
                            "(refusing to load it)",
                            who, name, hex, o.sha256);
        }
    }
    barlow_extractor *ex = bw_calloc(1, sizeof *ex, who);
    if (!ex) {
        bw_free(file);
        return BARLOW_E_NOMEM;
    }
    ex->tp = tp;
    ex->opts = o;
    ex->opts.device = NULL;
    ex->opts.sha256 = NULL;
    memcpy(ex->sha256, hex, sizeof hex);
    ex->threads = bw_resolve_threads(o.threads, 0);
    /* Decoding alongside a model that already runs on every core only
     * slows both (the model's threads wait for each other at every layer,
     * and one of them keeps losing its core to the decoder: ResNet-50 lost
     * 10-15% end to end for ~1% of decoding work). Then the two take turns,
     * and each batch is decoded on every core; otherwise (an accelerator,
     * or spare cores) the next batch is decoded while the model runs. */
    bool on_cpu = !o.device || strcmp(o.device, "cpu") == 0;
    size_t cores = barlow_cpu_count();
    bool turns = on_cpu && ex->threads >= cores;
    ex->pipe_depth = turns ? 1 : 2;
    ex->decode_threads = o.decode_threads ? o.decode_threads : turns ? cores : 1 + cores / 8;
    /* automatic piece size on the CPU: about 2.4 MB of input, i.e. 4 images
     * of 3x224x224 (measured: docs/extractor.md) and the whole batch for
     * small images, whose activations fit in cache anyway; on an
     * accelerator the whole batch */
    size_t piece_floats = (size_t)4 * 3 * 224 * 224;
    size_t in_floats = o.channels * o.input_size * o.input_size;
    size_t auto_piece = in_floats < piece_floats ? piece_floats / in_floats : 1;
    ex->model_batch = o.model_batch ? o.model_batch : on_cpu ? auto_piece : o.batch_size;
#if defined(__GLIBC__)
    if (on_cpu && o.tune_malloc) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, bw_tune_malloc_once);
    }
#endif
    if (ex->model_batch > o.batch_size) ex->model_batch = o.batch_size;
    bw_preprocess_init(&ex->pp);
    ex->pp.resize = o.resize;
    ex->pp.crop = o.input_size;
    ex->pp.channels = o.channels;
    ex->pp.lim.max_side = o.max_image_side;
    ex->pp.lim.max_pixels = o.max_image_pixels;

    bw_torch_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.device = o.device ? o.device : "cpu";
    cfg.threads = ex->threads;
    cfg.channels = o.channels;
    cfg.height = cfg.width = o.input_size;
    cfg.normalize = o.normalize;
    memcpy(cfg.mean, o.mean, sizeof cfg.mean);
    memcpy(cfg.std, o.std, sizeof cfg.std);
    cfg.want_logits = (o.outputs & BARLOW_EXTRACT_LOGITS) != 0;
    cfg.optimize = o.optimize;
    char whobuf[1200];
    snprintf(whobuf, sizeof whobuf, "%s: %s", who, name);
    st = tp->load(whobuf, NULL, data, size, &cfg, &ex->model, &ex->info);
    bw_free(file);
    if (st != BARLOW_OK) {
        bw_free(ex);
        return st;
    }
    /* Warm-up: one forward of a full piece of mid-grey images, so that the
     * one-off costs of that input shape (oneDNN primitives, TorchScript's
     * profiling run) are paid here and not by the first batch of a
     * measured or progress-reported extraction. Skipped when a piece is
     * large (over 64 MiB of input). */
    size_t per = bw_input_floats(ex), mb = ex->model_batch;
    size_t outs = ex->info.feature_dim + (cfg.want_logits ? ex->info.num_classes : 0);
    if (mb <= ((size_t)64 << 20) / sizeof(float) / (per + outs)) {
        float *grey = bw_mallocn(mb, (per + outs) * sizeof *grey, whobuf);
        if (!grey) st = BARLOW_E_NOMEM;
        for (size_t i = 0; grey && i < mb * per; i++) grey[i] = 0.5f;
        if (grey)
            st = bw_run_pieces(ex, whobuf, grey, mb, grey + mb * per,
                               cfg.want_logits ? grey + mb * (per + ex->info.feature_dim)
                                               : NULL);
        bw_free(grey);
    }
    if (st != BARLOW_OK) {
        barlow_extractor_free(ex);
        return st;
    }
    *out = ex;
    return BARLOW_OK;
#endif
}

barlow_status barlow_extractor_create_from_file(const char *path,
                                                const barlow_extractor_options *opts,
                                                barlow_extractor **out)
{
    static const char who[] = "barlow_extractor_create_from_file";
    bw_clear_error();
    if (!path || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, !path ? "path" : "out");
    return bw_extractor_create(who, path, NULL, 0, opts, out);
}

barlow_status barlow_extractor_create_from_memory(const void *data, size_t size,
                                                  const barlow_extractor_options *opts,
                                                  barlow_extractor **out)
{
    static const char who[] = "barlow_extractor_create_from_memory";
    bw_clear_error();
    if (!data || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, !data ? "data" : "out");
    if (size == 0) return bw_error(BARLOW_E_INVALID_ARG, "%s: size is 0", who);
    return bw_extractor_create(who, NULL, data, size, opts, out);
}

void barlow_extractor_free(barlow_extractor *ex)
{
    if (!ex) return;
#ifdef BARLOW_HAVE_TORCH
    ex->tp->free(ex->model);
#endif
    bw_free(ex);
}

/* ---- accessors ----------------------------------------------------------------- */

#ifdef BARLOW_HAVE_TORCH
#define BW_INFO(ex, field) ((ex) ? (ex)->info.field : 0)
#else
#define BW_INFO(ex, field) ((void)(ex), 0)
#endif

size_t barlow_extractor_feature_count(const barlow_extractor *ex) { return BW_INFO(ex, feature_dim); }
const char *barlow_extractor_model_sha256(const barlow_extractor *ex)
{
    return ex ? ex->sha256 : NULL;
}
void barlow_extractor_get_options(const barlow_extractor *ex, barlow_extractor_options *opts)
{
    if (!ex || !opts) return;
    *opts = ex->opts;
}
size_t barlow_extractor_class_count(const barlow_extractor *ex) { return BW_INFO(ex, num_classes); }
size_t barlow_extractor_feature_map_height(const barlow_extractor *ex)
{
    return BW_INFO(ex, fmap_height);
}
size_t barlow_extractor_feature_map_width(const barlow_extractor *ex)
{
    return BW_INFO(ex, fmap_width);
}
int barlow_extractor_has_forward_features(const barlow_extractor *ex)
{
    return BW_INFO(ex, native_forward_features);
}
int barlow_extractor_is_optimized(const barlow_extractor *ex) { return BW_INFO(ex, optimized); }
size_t barlow_extractor_input_channels(const barlow_extractor *ex)
{
    return ex ? ex->opts.channels : 0;
}
size_t barlow_extractor_input_size(const barlow_extractor *ex)
{
    return ex ? ex->opts.input_size : 0;
}

/* ---- tensors --------------------------------------------------------------------- */

barlow_status barlow_extractor_run(barlow_extractor *ex, const float *input, size_t n,
                                   float *features, float *logits)
{
    static const char who[] = "barlow_extractor_run";
    bw_clear_error();
    if (!ex || !input)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, !ex ? "ex" : "input");
    if (n == 0) return bw_error(BARLOW_E_INVALID_ARG, "%s: n is 0", who);
    if (!features && !logits)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: features and logits are both NULL", who);
    if (logits && !(ex->opts.outputs & BARLOW_EXTRACT_LOGITS))
        return bw_error(BARLOW_E_STATE,
                        "%s: logits were not requested when the extractor was created "
                        "(outputs option lacks BARLOW_EXTRACT_LOGITS)",
                        who);
#ifdef BARLOW_HAVE_TORCH
    /* One piece: the plugin writes the outputs only when it succeeds. More:
     * into scratch, copied out once every piece has run, so that a failure
     * in a later piece leaves the caller's buffers untouched. */
    if (n <= ex->model_batch) return bw_run_pieces(ex, who, input, n, features, logits);
    size_t D = ex->info.feature_dim, K = ex->info.num_classes;
    float *f = features ? bw_mallocn(n, D * sizeof *f, who) : NULL;
    float *l = logits ? bw_mallocn(n, K * sizeof *l, who) : NULL;
    barlow_status st = (features && !f) || (logits && !l) ? BARLOW_E_NOMEM : BARLOW_OK;
    if (st == BARLOW_OK) st = bw_run_pieces(ex, who, input, n, f, l);
    if (st == BARLOW_OK && f) memcpy(features, f, n * D * sizeof *f);
    if (st == BARLOW_OK && l) memcpy(logits, l, n * K * sizeof *l);
    bw_free(f);
    bw_free(l);
    return st;
#else
    return bw_error(BARLOW_E_UNSUPPORTED, "%s: libbarlow was built without libtorch", who);
#endif
}

barlow_status barlow_extractor_feature_map(barlow_extractor *ex, const float *input, size_t n,
                                           size_t channel, float *out)
{
    static const char who[] = "barlow_extractor_feature_map";
    bw_clear_error();
    if (!ex || !input || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                        !ex ? "ex" : !input ? "input" : "out");
    if (n == 0) return bw_error(BARLOW_E_INVALID_ARG, "%s: n is 0", who);
#ifdef BARLOW_HAVE_TORCH
    if (channel >= ex->info.feature_dim)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: channel=%zu (must be 0..%zu)", who, channel,
                        ex->info.feature_dim - 1);
    size_t per = bw_input_floats(ex), bs = ex->opts.batch_size;
    size_t hw = ex->info.fmap_height * ex->info.fmap_width;
    /* several batches go to scratch first (see barlow_extractor_run) */
    float *dst = n <= bs ? out : bw_mallocn(n, hw * sizeof *dst, who);
    if (!dst) return BARLOW_E_NOMEM;
    barlow_status st = BARLOW_OK;
    for (size_t i = 0; i < n && st == BARLOW_OK; i += bs) {
        size_t k = n - i < bs ? n - i : bs;
        st = ex->tp->feature_map(who, ex->model, input + i * per, k, channel, dst + i * hw);
    }
    if (dst != out) {
        if (st == BARLOW_OK) memcpy(out, dst, n * hw * sizeof *dst);
        bw_free(dst);
    }
    return st;
#else
    (void)channel;
    return bw_error(BARLOW_E_UNSUPPORTED, "%s: libbarlow was built without libtorch", who);
#endif
}

barlow_status barlow_extractor_feature_gradient(barlow_extractor *ex, const float *input,
                                                size_t n, size_t feature, float *values,
                                                float *grad)
{
    static const char who[] = "barlow_extractor_feature_gradient";
    bw_clear_error();
    if (!ex || !input || !grad)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                        !ex ? "ex" : !input ? "input" : "grad");
    if (n == 0) return bw_error(BARLOW_E_INVALID_ARG, "%s: n is 0", who);
#ifdef BARLOW_HAVE_TORCH
    if (feature >= ex->info.feature_dim)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: feature=%zu (must be 0..%zu)", who, feature,
                        ex->info.feature_dim - 1);
    size_t per = bw_input_floats(ex), bs = ex->opts.batch_size;
    if (n <= bs) return ex->tp->feature_grad(who, ex->model, input, n, feature, values, grad);
    /* several batches go to scratch first (see barlow_extractor_run) */
    float *g = bw_mallocn(n, per * sizeof *g, who);
    float *v = values ? bw_mallocn(n, sizeof *v, who) : NULL;
    barlow_status st = !g || (values && !v) ? BARLOW_E_NOMEM : BARLOW_OK;
    for (size_t i = 0; i < n && st == BARLOW_OK; i += bs) {
        size_t k = n - i < bs ? n - i : bs;
        st = ex->tp->feature_grad(who, ex->model, input + i * per, k, feature,
                                  v ? v + i : NULL, g + i * per);
    }
    if (st == BARLOW_OK) {
        memcpy(grad, g, n * per * sizeof *g);
        if (v) memcpy(values, v, n * sizeof *v);
    }
    bw_free(g);
    bw_free(v);
    return st;
#else
    (void)feature;
    (void)values;
    return bw_error(BARLOW_E_UNSUPPORTED, "%s: libbarlow was built without libtorch", who);
#endif
}

barlow_status barlow_extractor_load_inputs(const barlow_extractor *ex,
                                           const barlow_dataset *ds, const size_t *rows,
                                           size_t n, float *out)
{
    static const char who[] = "barlow_extractor_load_inputs";
    bw_clear_error();
    if (!ex || !ds || !rows || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                        !ex ? "ex" : !ds ? "ds" : !rows ? "rows" : "out");
    if (n == 0) return bw_error(BARLOW_E_INVALID_ARG, "%s: n is 0", who);
    size_t size = barlow_dataset_size(ds), per = bw_input_floats(ex);
    for (size_t i = 0; i < n; i++)
        if (rows[i] >= size)
            return bw_error(BARLOW_E_INVALID_ARG,
                            "%s: rows[%zu]=%zu (the dataset has %zu rows)", who, i, rows[i],
                            size);
    /* decoded into scratch and copied out when every row has loaded, so
     * that a row that fails leaves `out` untouched */
    float *tmp = bw_mallocn(n, per * sizeof *tmp, who);
    if (!tmp) return BARLOW_E_NOMEM;
    for (size_t i = 0; i < n; i++) {
        char reason[512];
        barlow_status st = bw_image_load_row(ds, rows[i], &ex->pp, tmp + i * per, reason,
                                             sizeof reason);
        if (st != BARLOW_OK) {
            bw_free(tmp);
            return bw_error(st, "%s: row %zu: %s", who, rows[i], reason);
        }
    }
    memcpy(out, tmp, n * per * sizeof *tmp);
    bw_free(tmp);
    return BARLOW_OK;
}

/* ---- dataset extraction ------------------------------------------------------------ */

void barlow_extraction_free(barlow_extraction *r)
{
    if (!r) return;
    barlow_matrix_free(r->features);
    barlow_matrix_free(r->logits);
    bw_free(r->argmax);
    bw_free(r->index);
    bw_free(r->status);
    if (r->reasons)
        for (size_t i = 0; i < r->n; i++) bw_free(r->reasons[i]);
    bw_free(r->reasons);
    bw_free(r);
}

size_t barlow_extraction_dataset_size(const barlow_extraction *r) { return r ? r->n : 0; }
size_t barlow_extraction_count(const barlow_extraction *r) { return r ? r->m : 0; }
size_t barlow_extraction_failed_count(const barlow_extraction *r) { return r ? r->n - r->m : 0; }
const barlow_matrix *barlow_extraction_features(const barlow_extraction *r)
{
    return r ? r->features : NULL;
}
const barlow_matrix *barlow_extraction_logits(const barlow_extraction *r)
{
    return r ? r->logits : NULL;
}
const int32_t *barlow_extraction_argmax(const barlow_extraction *r)
{
    return r ? r->argmax : NULL;
}
const size_t *barlow_extraction_index(const barlow_extraction *r) { return r ? r->index : NULL; }

void barlow_extraction_range(const barlow_extraction *r, size_t *begin, size_t *end)
{
    if (begin) *begin = r ? r->begin : 0;
    if (end) *end = r ? r->begin + r->n : 0;
}

barlow_status barlow_extraction_row_status(const barlow_extraction *r, size_t row)
{
    if (!r || row < r->begin || row - r->begin >= r->n) return BARLOW_E_INVALID_ARG;
    return (barlow_status)r->status[row - r->begin];
}

const char *barlow_extraction_row_reason(const barlow_extraction *r, size_t row)
{
    if (!r || row < r->begin || row - r->begin >= r->n) return NULL;
    return r->reasons[row - r->begin];
}

#ifdef BARLOW_HAVE_TORCH

/* The decoding side of the pipeline: a loader thread fills batch b into
 * buffer b % 2 (its images in parallel on decode_threads workers) while the
 * calling thread runs the model on batch b - 1 from the other buffer
 * (pipe_depth 2), or, when the model uses every core, only once the model is
 * done with batch b - 1 (pipe_depth 1: the two take turns). */
typedef struct bw_pipe {
    const barlow_extractor *ex;
    const barlow_dataset *ds;
    size_t first, n, bs, n_batches, per; /* dataset rows first..first+n-1 */
    float *buf[2];
    int32_t *status;
    char **reasons;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t produced; /* batches filled */
    size_t consumed; /* batches the model is done with */
    int stop;
    size_t cur_batch; /* loader-private: batch being filled */
    int nomem;        /* memory ran out loading an image or recording why */
    size_t nomem_row; /* the dataset row it ran out on (when loading) */
    char nomem_why[512];
} bw_pipe;

static int bw_pipe_item(void *ctx, size_t k, size_t worker)
{
    (void)worker;
    bw_pipe *p = ctx;
    size_t row = p->cur_batch * p->bs + k; /* of the range */
    float *dst = p->buf[p->cur_batch % 2] + k * p->per;
    char reason[512];
    reason[0] = '\0';
    barlow_status st =
        bw_image_load_row(p->ds, p->first + row, &p->ex->pp, dst, reason, sizeof reason);
    p->status[row] = (int32_t)st;
    if (st == BARLOW_E_NOMEM) {
        /* Not the image's fault: the whole call fails rather than give a
         * result that depends on memory pressure. */
        pthread_mutex_lock(&p->mu);
        if (!p->nomem) {
            p->nomem_row = p->first + row;
            snprintf(p->nomem_why, sizeof p->nomem_why, "%s", reason);
        }
        p->nomem = 1;
        pthread_mutex_unlock(&p->mu);
    } else if (st != BARLOW_OK) {
        p->reasons[row] = bw_strdup(reason[0] ? reason : barlow_status_str(st), "extract");
        if (!p->reasons[row]) {
            pthread_mutex_lock(&p->mu);
            p->nomem = 1;
            pthread_mutex_unlock(&p->mu);
        }
    }
    return 0;
}

static void *bw_pipe_loader(void *arg)
{
    bw_pipe *p = arg;
    for (size_t b = 0; b < p->n_batches; b++) {
        pthread_mutex_lock(&p->mu);
        while (!p->stop && b >= p->consumed + p->ex->pipe_depth)
            pthread_cond_wait(&p->cv, &p->mu);
        int stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop) break;
        p->cur_batch = b;
        size_t first = b * p->bs;
        size_t count = p->n - first < p->bs ? p->n - first : p->bs;
        bw_parallel_for(count, p->ex->decode_threads, bw_pipe_item, p, NULL, NULL);
        pthread_mutex_lock(&p->mu);
        p->produced = b + 1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

/* Records dataset row `row` as failed because the model's `what` (v, len
 * values: "feature"s or "logit"s) are not all finite: status BACKEND and a
 * reason naming the row's image file (its row for in-memory images), as
 * for an image that cannot be read. */
static barlow_status bw_fail_nonfinite(const char *who, barlow_extraction *r,
                                       const barlow_dataset *ds, size_t row, const char *what,
                                       const float *v, size_t len)
{
    size_t j = 0;
    while (j < len && isfinite(v[j])) j++;
    const char *value = j == len ? "?" : isnan(v[j]) ? "nan" : v[j] > 0 ? "inf" : "-inf";
    char *path = NULL, buf[1400];
    if (barlow_dataset_filename(ds, row) && bw_dataset_image_path(ds, row, &path, who) != BARLOW_OK)
        return BARLOW_E_NOMEM;
    if (path)
        snprintf(buf, sizeof buf, "%.1200s: the model produced NaN/inf %ss (%s %zu is %s)", path,
                 what, what, j, value);
    else
        snprintf(buf, sizeof buf, "row %zu: the model produced NaN/inf %ss (%s %zu is %s)", row,
                 what, what, j, value);
    bw_free(path);
    r->status[row - r->begin] = BARLOW_E_BACKEND;
    r->reasons[row - r->begin] = bw_strdup(buf, who);
    return r->reasons[row - r->begin] ? BARLOW_OK : BARLOW_E_NOMEM;
}

/* A batch's k outputs stand at result rows m..m+k-1 (features and logits,
 * NULL when not computed; their dataset rows in r->index). Rows with a
 * NaN or infinite value fail like an image that cannot be read, and the
 * rows after them move up. Returns the number kept (*st: NOMEM when a
 * reason cannot be stored). */
static size_t bw_drop_nonfinite(const char *who, barlow_extraction *r, const barlow_dataset *ds,
                                float *feat, size_t D, float *logit, size_t K, size_t m,
                                size_t k, barlow_status *st)
{
    float *f = feat ? feat + m * D : NULL, *l = logit ? logit + m * K : NULL;
    if ((!f || bw_f32_all_finite(f, k * D)) && (!l || bw_f32_all_finite(l, k * K))) return k;
    size_t kept = 0;
    for (size_t i = 0; i < k; i++) {
        size_t row = r->index[m + i];
        bool bad_f = f && !bw_f32_all_finite(f + i * D, D);
        bool bad_l = !bad_f && l && !bw_f32_all_finite(l + i * K, K);
        if (bad_f || bad_l) {
            *st = bad_f ? bw_fail_nonfinite(who, r, ds, row, "feature", f + i * D, D)
                        : bw_fail_nonfinite(who, r, ds, row, "logit", l + i * K, K);
            if (*st != BARLOW_OK) return kept; /* NOMEM, its message set */
            continue;
        }
        if (kept != i) {
            if (f) memmove(f + kept * D, f + i * D, D * sizeof *f);
            if (l) memmove(l + kept * K, l + i * K, K * sizeof *l);
            r->index[m + kept] = row;
        }
        kept++;
    }
    return kept;
}

/* The error of an extraction that kept no row: the model's, when it gave
 * NaN/inf outputs for every image it ran on; otherwise (every image failed
 * to load) the first image's. */
static barlow_status bw_nothing_extracted(const char *who, const barlow_extraction *r)
{
    size_t n = r->n, bad = 0, first_bad = 0;
    for (size_t i = n; i-- > 0;)
        if (r->status[i] == BARLOW_E_BACKEND) {
            bad++;
            first_bad = i;
        }
    if (bad == 0) {
        size_t row = 0;
        while (row < n && r->status[row] == BARLOW_OK) row++;
        return bw_error((barlow_status)r->status[row],
                        "%s: every image failed (%zu of %zu); the first, row %zu: %s", who, n, n,
                        r->begin + row, r->reasons[row] ? r->reasons[row] : "?");
    }
    char others[96] = "";
    if (bad < n) snprintf(others, sizeof others, "; the other %zu failed to load", n - bad);
    return bw_error(BARLOW_E_BACKEND,
                    "%s: the model produces non-finite outputs: NaN/inf for every image it ran "
                    "on (%zu of %zu rows%s); the first, row %zu: %s",
                    who, bad, n, others, r->begin + first_bad, r->reasons[first_bad]);
}

/* Extracts dataset rows begin..begin+n-1 (n >= 1, checked by the caller). */
static barlow_status bw_extract(const char *who, barlow_extractor *ex, const barlow_dataset *ds,
                                size_t begin, size_t n, barlow_progress_fn progress,
                                void *user_data, barlow_extraction **out)
{
    size_t D = ex->info.feature_dim, K = ex->info.num_classes;
    bool want_f = (ex->opts.outputs & BARLOW_EXTRACT_FEATURES) != 0;
    bool want_l = (ex->opts.outputs & BARLOW_EXTRACT_LOGITS) != 0;
    bw_pipe p;
    memset(&p, 0, sizeof p);
    p.ex = ex;
    p.ds = ds;
    p.first = begin;
    p.n = n;
    p.bs = ex->opts.batch_size < n ? ex->opts.batch_size : n;
    p.n_batches = (n + p.bs - 1) / p.bs;
    p.per = bw_input_floats(ex);

    barlow_status st = BARLOW_OK;
    barlow_extraction *r = bw_calloc(1, sizeof *r, who);
    float *feat = NULL, *logit = NULL;
    if (!r) return BARLOW_E_NOMEM;
    r->begin = begin;
    r->n = n;
    r->total = barlow_dataset_size(ds);
    r->status = bw_calloc(n, sizeof *r->status, who);
    r->reasons = bw_calloc(n, sizeof *r->reasons, who);
    r->index = bw_mallocn(n, sizeof *r->index, who);
    p.buf[0] = bw_mallocn(p.bs * p.per, sizeof(float), who);
    p.buf[1] = bw_mallocn(p.bs * p.per, sizeof(float), who);
    if (want_f) feat = bw_mallocn(n, D * sizeof(float), who);
    if (want_l) logit = bw_mallocn(n, K * sizeof(float), who);
    if (!r->status || !r->reasons || !r->index || !p.buf[0] || !p.buf[1] ||
        (want_f && !feat) || (want_l && !logit)) {
        st = BARLOW_E_NOMEM;
        goto done_nothread;
    }
    p.status = r->status;
    p.reasons = r->reasons;
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    pthread_t loader;
    if (pthread_create(&loader, NULL, bw_pipe_loader, &p) != 0) {
        pthread_mutex_destroy(&p.mu);
        pthread_cond_destroy(&p.cv);
        st = bw_error(BARLOW_E_INTERNAL, "%s: cannot start the image loading thread", who);
        goto done_nothread;
    }

    size_t m = 0;
    for (size_t b = 0; b < p.n_batches && st == BARLOW_OK; b++) {
        pthread_mutex_lock(&p.mu);
        while (p.produced <= b) pthread_cond_wait(&p.cv, &p.mu);
        pthread_mutex_unlock(&p.mu);
        if (p.nomem) {
            if (p.nomem_why[0])
                st = bw_error(BARLOW_E_NOMEM, "%s: out of memory loading row %zu (%s)", who,
                              p.nomem_row, p.nomem_why);
            else
                st = bw_error(BARLOW_E_NOMEM, "%s: out of memory recording a failed image",
                              who);
            break;
        }
        size_t first = b * p.bs, count = n - first < p.bs ? n - first : p.bs;
        float *buf = p.buf[b % 2];
        /* Compact the batch: the images that decoded, in row order. */
        size_t k = 0;
        for (size_t j = 0; j < count; j++) {
            if (r->status[first + j] != BARLOW_OK) continue;
            if (k != j) memmove(buf + k * p.per, buf + j * p.per, p.per * sizeof(float));
            r->index[m + k] = begin + first + j;
            k++;
        }
        if (k > 0) {
            char bwho[256];
            snprintf(bwho, sizeof bwho, "%s: rows %zu..%zu", who, begin + first,
                     begin + first + count - 1);
            st = bw_run_pieces(ex, bwho, buf, k, want_f ? feat + m * D : NULL,
                               want_l ? logit + m * K : NULL);
            if (st == BARLOW_OK)
                k = bw_drop_nonfinite(who, r, ds, want_f ? feat : NULL, D,
                                      want_l ? logit : NULL, K, m, k, &st);
            m += k;
        }
        pthread_mutex_lock(&p.mu);
        p.consumed = b + 1;
        pthread_cond_broadcast(&p.cv);
        pthread_mutex_unlock(&p.mu);
        if (st == BARLOW_OK && progress && progress(first + count, n, user_data) != 0)
            st = bw_error(BARLOW_E_CANCELLED, "%s: cancelled by the progress callback after "
                                              "%zu of %zu images",
                          who, first + count, n);
    }
    pthread_mutex_lock(&p.mu);
    p.stop = 1;
    pthread_cond_broadcast(&p.cv);
    pthread_mutex_unlock(&p.mu);
    pthread_join(loader, NULL);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);

    if (st == BARLOW_OK && m == 0) st = bw_nothing_extracted(who, r);
    if (st == BARLOW_OK) {
        r->m = m;
        if (want_f) st = barlow_matrix_create_copy(feat, m, D, 0, &r->features);
        if (st == BARLOW_OK && want_l) {
            st = barlow_matrix_create_copy(logit, m, K, 0, &r->logits);
            r->argmax = bw_mallocn(m, sizeof *r->argmax, who);
            if (st == BARLOW_OK && !r->argmax) st = BARLOW_E_NOMEM;
            for (size_t i = 0; st == BARLOW_OK && i < m; i++) {
                const float *row = logit + i * K;
                size_t best = 0;
                for (size_t c = 1; c < K; c++)
                    if (row[c] > row[best]) best = c;
                r->argmax[i] = (int32_t)best;
            }
        }
        if (st != BARLOW_OK && st != BARLOW_E_NOMEM) st = bw_error_prefix(st, "%s", who);
    }
done_nothread:
    bw_free(p.buf[0]);
    bw_free(p.buf[1]);
    bw_free(feat);
    bw_free(logit);
    if (st != BARLOW_OK) {
        barlow_extraction_free(r);
        return st;
    }
    *out = r;
    return BARLOW_OK;
}
#endif /* BARLOW_HAVE_TORCH */

barlow_status barlow_extractor_extract(barlow_extractor *ex, const barlow_dataset *ds,
                                       barlow_progress_fn progress, void *user_data,
                                       barlow_extraction **out)
{
    static const char who[] = "barlow_extractor_extract";
    bw_clear_error();
    if (!ex || !ds || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                        !ex ? "ex" : !ds ? "ds" : "out");
    if (barlow_dataset_size(ds) == 0)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: the dataset has no rows", who);
#ifdef BARLOW_HAVE_TORCH
    return bw_extract(who, ex, ds, 0, barlow_dataset_size(ds), progress, user_data, out);
#else
    (void)progress;
    (void)user_data;
    return bw_error(BARLOW_E_UNSUPPORTED, "%s: libbarlow was built without libtorch", who);
#endif
}

/* begin..end-1 is a non-empty range of ds's rows. */
static barlow_status check_range(const char *who, const barlow_dataset *ds, size_t begin,
                                 size_t end)
{
    size_t n = barlow_dataset_size(ds);
    if (begin >= end || end > n)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: rows %zu..%zu is not a non-empty range of the dataset's %zu rows",
                        who, begin, end, n);
    return BARLOW_OK;
}

barlow_status barlow_extractor_extract_range(barlow_extractor *ex, const barlow_dataset *ds,
                                             size_t begin, size_t end,
                                             barlow_progress_fn progress, void *user_data,
                                             barlow_extraction **out)
{
    static const char who[] = "barlow_extractor_extract_range";
    bw_clear_error();
    if (!ex || !ds || !out)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                        !ex ? "ex" : !ds ? "ds" : "out");
    barlow_status rst = check_range(who, ds, begin, end);
    if (rst) return rst;
#ifdef BARLOW_HAVE_TORCH
    return bw_extract(who, ex, ds, begin, end - begin, progress, user_data, out);
#else
    (void)progress;
    (void)user_data;
    return bw_error(BARLOW_E_UNSUPPORTED, "%s: libbarlow was built without libtorch", who);
#endif
}

/* Predicts rows begin..end-1 of ds (the checks done by the callers). */
static barlow_status bw_predict(const char *who, barlow_extractor *ex, barlow_dataset *ds,
                                size_t begin, size_t end, barlow_progress_fn progress,
                                void *user_data, barlow_extraction **out)
{
    if (!(ex->opts.outputs & BARLOW_EXTRACT_LOGITS))
        return bw_error(BARLOW_E_STATE,
                        "%s: the extractor was created without BARLOW_EXTRACT_LOGITS in its "
                        "outputs option",
                        who);
#ifdef BARLOW_HAVE_TORCH
    size_t n = barlow_dataset_size(ds), classes = barlow_dataset_class_count(ds);
    barlow_extraction *r = NULL;
    barlow_status st = bw_extract(who, ex, ds, begin, end - begin, progress, user_data, &r);
    if (st != BARLOW_OK) return st;
    int32_t *pred = bw_mallocn(n, sizeof *pred, who);
    if (!pred) {
        barlow_extraction_free(r);
        return BARLOW_E_NOMEM;
    }
    const int32_t *had = barlow_dataset_has_predictions(ds) ? barlow_dataset_predictions(ds)
                                                            : barlow_dataset_labels(ds);
    memcpy(pred, had, n * sizeof *pred);
    memcpy(pred + begin, barlow_dataset_labels(ds) + begin, (end - begin) * sizeof *pred);
    for (size_t i = 0; i < r->m; i++) {
        if ((size_t)r->argmax[i] >= classes) {
            st = bw_error(BARLOW_E_INVALID_ARG,
                          "%s: the model has %zu logits but the dataset has %zu classes; "
                          "row %zu's argmax is %d (give the dataset the model's class list)",
                          who, ex->info.num_classes, classes, r->index[i], (int)r->argmax[i]);
            break;
        }
        pred[r->index[i]] = r->argmax[i];
    }
    if (st == BARLOW_OK) st = barlow_dataset_set_predictions(ds, pred, n);
    bw_free(pred);
    if (st != BARLOW_OK || !out) {
        barlow_extraction_free(r);
        return st;
    }
    *out = r;
    return BARLOW_OK;
#else
    (void)ds;
    (void)begin;
    (void)end;
    (void)progress;
    (void)user_data;
    (void)out;
    return bw_error(BARLOW_E_UNSUPPORTED, "%s: libbarlow was built without libtorch", who);
#endif
}

barlow_status barlow_extractor_predict(barlow_extractor *ex, barlow_dataset *ds,
                                       barlow_progress_fn progress, void *user_data,
                                       barlow_extraction **out)
{
    static const char who[] = "barlow_extractor_predict";
    bw_clear_error();
    if (!ex || !ds)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, !ex ? "ex" : "ds");
    if (barlow_dataset_size(ds) == 0)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: the dataset has no rows", who);
    return bw_predict(who, ex, ds, 0, barlow_dataset_size(ds), progress, user_data, out);
}

barlow_status barlow_extractor_predict_range(barlow_extractor *ex, barlow_dataset *ds,
                                             size_t begin, size_t end,
                                             barlow_progress_fn progress, void *user_data,
                                             barlow_extraction **out)
{
    static const char who[] = "barlow_extractor_predict_range";
    bw_clear_error();
    if (!ex || !ds)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, !ex ? "ex" : "ds");
    barlow_status rst = check_range(who, ds, begin, end);
    if (rst) return rst;
    return bw_predict(who, ex, ds, begin, end, progress, user_data, out);
}

barlow_status barlow_extraction_save_npz(const barlow_extraction *r, const barlow_dataset *ds,
                                         const char *path)
{
    static const char who[] = "barlow_extraction_save_npz";
    bw_clear_error();
    if (!r || !ds || !path)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                        !r ? "r" : !ds ? "ds" : "path");
    return bw_extraction_write(r, ds, path, NULL, who);
}

barlow_status bw_extraction_check_dataset(const barlow_extraction *r,
                                          const barlow_dataset *ds, const char *who)
{
    if (barlow_dataset_size(ds) != r->total)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: the dataset has %zu rows but the extraction was made from one of "
                        "%zu", who, barlow_dataset_size(ds), r->total);
    return BARLOW_OK;
}

barlow_status bw_extraction_write(const barlow_extraction *r, const barlow_dataset *ds,
                                  const char *path, const bw_shard_write *sw, const char *who)
{
    barlow_status cst = bw_extraction_check_dataset(r, ds, who);
    if (cst != BARLOW_OK) return cst;
    size_t m = r->m;
    int64_t *index = bw_mallocn(m, sizeof *index, who);
    int32_t *labels = bw_mallocn(m, sizeof *labels, who);
    int32_t *preds = bw_mallocn(m, sizeof *preds, who);
    if (!index || !labels || !preds) {
        bw_free(index);
        bw_free(labels);
        bw_free(preds);
        return BARLOW_E_NOMEM;
    }
    const int32_t *L = barlow_dataset_labels(ds), *P = barlow_dataset_predictions(ds);
    for (size_t i = 0; i < m; i++) {
        index[i] = (int64_t)r->index[i];
        labels[i] = L[r->index[i]];
        preds[i] = P ? P[r->index[i]] : 0;
    }
    barlow_npz_writer *w = NULL;
    barlow_status st = barlow_npz_writer_open(path, &w);
    size_t shape[2];
    if (st == BARLOW_OK && r->features) {
        shape[0] = m;
        shape[1] = barlow_matrix_cols(r->features);
        st = sw ? bw_npz_writer_add_aligned(w, "features", BARLOW_DTYPE_FLOAT32, 2, shape,
                                            barlow_matrix_data(r->features), BW_SHARD_ALIGN,
                                            sw->align_rem, who)
                : barlow_npz_writer_add(w, "features", BARLOW_DTYPE_FLOAT32, 2, shape,
                                        barlow_matrix_data(r->features));
    }
    if (st == BARLOW_OK && r->logits) {
        shape[0] = m;
        shape[1] = barlow_matrix_cols(r->logits);
        st = barlow_npz_writer_add(w, "logits", BARLOW_DTYPE_FLOAT32, 2, shape,
                                   barlow_matrix_data(r->logits));
    }
    shape[0] = m;
    if (st == BARLOW_OK) st = barlow_npz_writer_add(w, "index", BARLOW_DTYPE_INT64, 1, shape, index);
    if (st == BARLOW_OK)
        st = barlow_npz_writer_add(w, "labels", BARLOW_DTYPE_INT32, 1, shape, labels);
    if (st == BARLOW_OK && P)
        st = barlow_npz_writer_add(w, "predictions", BARLOW_DTYPE_INT32, 1, shape, preds);
    shape[0] = r->n;
    if (st == BARLOW_OK)
        st = barlow_npz_writer_add(w, "status", BARLOW_DTYPE_INT32, 1, shape, r->status);
    /* The class names travel with the labels (barlow_dataset_load_npy reads
     * them back); a dataset with only decimal names (arrays without names)
     * has none to store. */
    if (st == BARLOW_OK && !ds->numeric)
        st = bw_npz_writer_add_strings(w, "class_names", (const char *const *)ds->class_names,
                                       ds->n_classes, who);
    shape[0] = sw ? sw->meta_len : 0;
    if (st == BARLOW_OK && sw)
        st = barlow_npz_writer_add(w, "shard", BARLOW_DTYPE_UINT8, 1, shape, sw->meta);
    if (st == BARLOW_OK) st = barlow_npz_writer_commit(w);
    barlow_npz_writer_free(w);
    bw_free(index);
    bw_free(labels);
    bw_free(preds);
    if (st != BARLOW_OK) {
        const char *msg = barlow_last_error();
        if (strncmp(msg, who, strlen(who)) != 0) bw_error_prefix(st, "%s", who);
    }
    return st;
}

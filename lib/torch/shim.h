/*
 * The libtorch shim: the C interface of lib/torch/shim.cpp, the only C++ in
 * libbarlow's sources and the only file that includes a libtorch header.
 * Internal (not installed). shim.cpp is built as a separate plugin,
 * libbarlow-torch.so (a meson shared_module linking libtorch), that
 * libbarlow dlopens the first time something needs libtorch
 * (lib/torch_plugin.c), so that programs using only the pure-C core never
 * load libtorch. The plugin exports one symbol, barlow_torch_plugin_v1
 * (lib/torch/plugin.map); everything else in it is hidden, and libbarlow
 * reaches the functions below only through the bw_torch_plugin table it
 * fills.
 *
 * Every status-returning function catches every C++ exception (c10::Error,
 * std::bad_alloc, std::exception, anything else) in one helper and turns it
 * into a barlow_status plus a message that starts with the caller's `who`
 * text, handed to libbarlow through the host's set_error callback (on the
 * calling thread, so barlow_last_error() sees it); nothing C++ crosses.
 *
 * Only used when the library is built with libtorch (BARLOW_HAVE_TORCH).
 *
 * Thread safety: a bw_torch_model is used by one thread at a time.
 * bw_torch_set_threads changes libtorch's intra-op thread count, which is
 * process-global (ATen's pool / OpenMP): the extractor calls it right before
 * each model call on the calling thread. barlow_torch_plugin_v1 is called
 * once, under libbarlow's pthread_once.
 */
#ifndef BARLOW_TORCH_SHIM_H
#define BARLOW_TORCH_SHIM_H

#include <stddef.h>
#include <stdint.h>

#include "barlow/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bw_torch_model bw_torch_model;

/* What the model must accept and what is checked at load. */
typedef struct bw_torch_config {
    const char *device;   /* "cpu", "cuda", "cuda:N" */
    size_t threads;       /* intra-op threads (>= 1) */
    size_t channels;      /* input channels C */
    size_t height, width; /* input size H×W of the dry run */
    int normalize;        /* apply (x - mean[c]) / std[c] before the model */
    float mean[3], std[3];
    int want_logits;      /* check `forward` → N×K at load */
    int optimize;         /* freeze + optimize_for_inference for inference */
} bw_torch_config;

/* What the dry run found. */
typedef struct bw_torch_info {
    size_t feature_dim;        /* D: channels of the last feature map */
    size_t fmap_height;        /* h, w of the feature map at the input size */
    size_t fmap_width;
    size_t num_classes;        /* K of forward's logits; 0 unless want_logits */
    int native_forward_features; /* 1: the module defines forward_features;
                                    0: ResNet-style children are run */
    int optimized;             /* 1: inference runs a frozen, optimised copy */
} bw_torch_info;

/* Loads a TorchScript model from `path` (data == NULL) or from the `size`
 * bytes at `data`, puts it in eval mode on cfg->device, resolves the model
 * contract (docs/models.md) and checks it with one dry run on a 1×C×H×W
 * input. Errors: INVALID_ARG (unparsable device string), UNSUPPORTED (a
 * device this libtorch cannot use), FORMAT (not a TorchScript archive; the
 * contract is broken, saying how), BACKEND (the model raised), NOMEM.
 * Messages start with `who`. */
barlow_status bw_torch_load(const char *who, const char *path, const void *data,
                            size_t size, const bw_torch_config *cfg,
                            bw_torch_model **out, bw_torch_info *info);

/* Frees the model; NULL is allowed; never throws or touches the message. */
void bw_torch_free(bw_torch_model *m);

/* Runs n images (x: n×C×H×W float32 in [0,1], H×W as configured) and writes
 * features (n×D, global average pool of the feature map) and/or logits (n×K);
 * either output may be NULL (not computed). Inference mode (no autograd).
 * Every output is computed (and brought to the CPU) before any is written,
 * so the outputs are untouched on error — here and in the two functions
 * below.
 * Errors: BACKEND (the model raised), FORMAT (an output's shape changed
 * from the dry run's), NOMEM. */
barlow_status bw_torch_run(const char *who, bw_torch_model *m, const float *x, size_t n,
                           float *features, float *logits);

/* Writes channel `channel` (< D) of the feature map for n images:
 * out is n×h×w. Errors: as bw_torch_run. */
barlow_status bw_torch_feature_map(const char *who, bw_torch_model *m, const float *x,
                                   size_t n, size_t channel, float *out);

/* For n images, values[i] = penultimate feature `feature` (< D) of image i
 * and grad (n×C×H×W) = its gradient with respect to image i's input pixels
 * (before the optional normalisation). values may be NULL.
 * Errors: as bw_torch_run. */
barlow_status bw_torch_feature_grad(const char *who, bw_torch_model *m, const float *x,
                                    size_t n, size_t feature, float *values, float *grad);

/* Sets libtorch's intra-op thread count (process-global). Errors: BACKEND. */
barlow_status bw_torch_set_threads(const char *who, size_t threads);

/* libtorch's version string, e.g. "1.13.1" (static). */
const char *bw_torch_version(void);

/* ---- the plugin interface ------------------------------------------------ */

/* Bumped whenever bw_torch_host, bw_torch_plugin, bw_torch_config,
 * bw_torch_info or a function's meaning changes: a plugin and a libbarlow
 * with different numbers refuse each other. */
enum { BW_TORCH_PLUGIN_ABI = 1 };

/* What libbarlow gives the plugin. */
typedef struct bw_torch_host {
    uint32_t abi; /* BW_TORCH_PLUGIN_ABI */
    /* Sets this thread's error message (barlow_last_error()) to `message`
     * and returns `status`. Never NULL. */
    barlow_status (*set_error)(barlow_status status, const char *message);
} bw_torch_host;

/* What the plugin gives libbarlow: the functions above. */
typedef struct bw_torch_plugin {
    uint32_t abi; /* BW_TORCH_PLUGIN_ABI */
    barlow_status (*load)(const char *who, const char *path, const void *data, size_t size,
                          const bw_torch_config *cfg, bw_torch_model **out,
                          bw_torch_info *info);
    void (*free)(bw_torch_model *m);
    barlow_status (*run)(const char *who, bw_torch_model *m, const float *x, size_t n,
                         float *features, float *logits);
    barlow_status (*feature_map)(const char *who, bw_torch_model *m, const float *x,
                                 size_t n, size_t channel, float *out);
    barlow_status (*feature_grad)(const char *who, bw_torch_model *m, const float *x,
                                  size_t n, size_t feature, float *values, float *grad);
    barlow_status (*set_threads)(const char *who, size_t threads);
    const char *(*version)(void);
} bw_torch_plugin;

/* The plugin's one exported symbol, looked up with dlsym. When `abi` equals
 * the plugin's BW_TORCH_PLUGIN_ABI (and host->abi too), stores `host` for
 * its error messages, fills *out and returns 0; otherwise returns the
 * plugin's own BW_TORCH_PLUGIN_ABI (never 0) and touches nothing. Never
 * throws. */
typedef uint32_t (*bw_torch_plugin_entry)(uint32_t abi, const bw_torch_host *host,
                                          bw_torch_plugin *out);
#define BW_TORCH_PLUGIN_ENTRY "barlow_torch_plugin_v1"

#ifdef __cplusplus
}
#endif

#endif /* BARLOW_TORCH_SHIM_H */

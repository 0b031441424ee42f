/*
 * barlow_extractor — penultimate features (and logits) of a TorchScript
 * model, for a caller's float batch or for every image of a dataset.
 *
 * The model contract (docs/models.md):
 *  - input: float32 N×C×H×W with values in [0,1] (C = the `channels`
 *    option; grey images are repeated to 3 channels when C = 3);
 *    normalisation lives inside the model, or is given as the mean/std
 *    options, applied inside the differentiable path (x - mean) / std;
 *  - forward_features(x) returns the last feature map N×D×h×w; a module
 *    without that method must have ResNet-style children conv1, bn1, relu,
 *    maxpool, layer1, layer2, layer3, layer4, which are run in that order;
 *  - penultimate features = global average pool of the map (N×D);
 *  - forward(x) returns logits N×K (needed only when logits are requested).
 * The contract is checked at load with one dry run on a 2×C×H×W input; a
 * broken contract is a FORMAT error that says what is wrong. tools/
 * convert_checkpoint.py turns torchvision ResNets, MadryLab `robustness`
 * checkpoints and plain modules into such a file.
 *
 * Trust: a TorchScript file is code. libtorch's loader has no safe mode (a
 * damaged or hostile file can crash it) and a model's methods run arbitrary
 * TorchScript (they may read files or loop forever). Load only models you
 * trust; the `sha256` option makes loading fail unless the file's SHA-256
 * matches the expected digest (checked before libtorch parses a byte).
 *
 * libbarlow does not link libtorch: the extractor's libtorch code is a
 * plugin, libbarlow-torch.so, loaded the first time it is needed (see
 * barlow_has_torch), so programs that never extract do not pay libtorch's
 * start-up. When the plugin cannot be loaded every create function fails
 * with BARLOW_E_UNSUPPORTED naming the paths tried — or BARLOW_E_NOMEM when
 * an address-space limit (RLIMIT_AS) leaves less than libtorch's start-up
 * needs (about 600 MiB): libtorch would end the process then, so it is not
 * loaded. libtorch's allocation failures during a call are NOMEM too. Without libtorch (built
 * with -Dtorch=disabled) barlow_has_torch() returns 0 and every create
 * function fails with BARLOW_E_UNSUPPORTED ("libbarlow was built without
 * libtorch").
 *
 * Images of a dataset are decoded and preprocessed like torchvision's
 * Resize(resize) → CenterCrop(input_size) → ToTensor() (docs/images.md) by
 * worker threads that prepare the next batch while the model runs on the
 * current one. An image that cannot be read is skipped and reported (row,
 * status, reason); only when every image fails is extraction an error.
 * Non-finite outputs are never returned silently: an image whose features
 * (or logits, when extracted) hold a NaN or an infinity is skipped and
 * reported the same way (status BACKEND, "the model produced NaN/inf
 * features"), and when the model gives them for every image it ran on the
 * extraction fails with BACKEND ("the model produces non-finite outputs").
 * The model is not refused at load for a non-finite dry run (a model that
 * standardises each image by its own spread gives NaN on the flat
 * mid-grey dry run input and is fine on real images).
 *
 * Thread safety: an extractor is used by one thread at a time (every call
 * takes a non-const handle, except the accessors). libtorch's intra-op
 * thread count is process-global: each call sets it to the extractor's
 * `threads` on the calling thread before running the model, so two
 * extractors with different counts used concurrently share libtorch's pool.
 * Extraction results are immutable and may be read concurrently.
 */
#ifndef BARLOW_EXTRACTOR_H
#define BARLOW_EXTRACTOR_H

#include "common.h"
#include "dataset.h"
#include "matrix.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct barlow_extractor barlow_extractor;
typedef struct barlow_extraction barlow_extraction;

/* Outputs an extractor computes; combine with |. */
typedef enum barlow_extract_output {
    BARLOW_EXTRACT_FEATURES = 1, /* penultimate features, N×D */
    BARLOW_EXTRACT_LOGITS = 2    /* forward's logits, N×K */
} barlow_extract_output;

enum { BARLOW_EXTRACTOR_OPTIONS_VERSION = 2 };

/* Options of barlow_extractor_create_from_file/_memory(). */
typedef struct barlow_extractor_options {
    uint32_t version;      /* BARLOW_EXTRACTOR_OPTIONS_VERSION */
    size_t input_size;     /* model input H = W (the centre crop); default
                              224; 1..4096 */
    size_t resize;         /* images' shorter side is resized to this before
                              the crop; default 256; 0 = no resize (crop or
                              zero-pad only, e.g. 28×28 IDX images);
                              0..65536 */
    size_t channels;       /* model input channels: 1 (grey) or 3 (RGB,
                              default) */
    int32_t normalize;     /* 0 (default): the model normalises itself;
                              1: (x - mean[c]) / std[c] is applied before
                              the model, inside the differentiable path.
                              0 or 1 */
    float mean[3];         /* default ImageNet's 0.485, 0.456, 0.406; finite
                              (checked, for the first `channels` entries,
                              when normalize is 1) */
    float std[3];          /* default ImageNet's 0.229, 0.224, 0.225; finite,
                              > 0 (checked like mean) */
    size_t batch_size;     /* images decoded and run per step (the unit of
                              the decode/model overlap, of progress and of
                              cancel; the network sees pieces of
                              model_batch); default 32; 1..65536 */
    size_t threads;        /* libtorch intra-op threads; 0 (default) = all
                              cores; 0..1024 */
    size_t decode_threads; /* image decoding workers of dataset extraction;
                              0 (default) = automatic: when the model runs
                              on the CPU with threads >= cores, decoding and
                              the model take turns and a batch is decoded
                              on every core; otherwise the next batch is
                              decoded while the model runs, on
                              1 + cores/8 workers; 0..256 */
    const char *device;    /* "cpu" (default, also NULL), "cuda", "cuda:N";
                              copied */
    uint32_t outputs;      /* BARLOW_EXTRACT_FEATURES (default) and/or
                              BARLOW_EXTRACT_LOGITS (forward is a separate
                              call: asking for both runs the network twice):
                              1, 2 or 3 */
    const char *sha256;    /* NULL (default) or 64 hex digits the model
                              file's SHA-256 must equal (either case) */
    int32_t optimize;      /* 1 (default): inference runs a frozen copy
                              optimised by libtorch (conv+bn folding, oneDNN
                              kernels; results agree with the loaded model to
                              ~1e-5 relative); 0: the model as loaded.
                              0 or 1 */
    size_t max_image_side;     /* images wider or taller are refused (from
                                  the header, before decoding); default
                                  32768; 1..2^31-1 */
    uint64_t max_image_pixels; /* width*height limit; default 2^28; 1..2^40 */
    /* --- version 2 --- */
    size_t model_batch;    /* images per forward call: a batch of batch_size
                              images (the unit of decoding, progress and
                              cancel) runs through the network in pieces of
                              at most this many. 0 (default) = automatic:
                              on "cpu" about 2.4 MB of input per piece
                              (4 images of 3x224x224; small images: the
                              whole batch), batch_size on CUDA. Results do
                              not depend on it beyond float rounding (~1e-6
                              relative). 0..65536 (docs/extractor.md) */
    int32_t tune_malloc;   /* 1 (default): when the model runs on the CPU,
                              raise glibc malloc's mmap threshold to
                              256 MiB and its trim threshold to 1 GiB
                              (mallopt; PROCESS-WIDE, once, at the first
                              such create), so that libtorch's activation
                              buffers are reused instead of mapped and
                              unmapped on every forward call; freed memory
                              up to 1 GiB then stays with the process.
                              0: leave the allocator alone. No effect
                              without glibc. 0 or 1 (docs/extractor.md) */
} barlow_extractor_options;

/* 1 when the feature extractor works: this libbarlow was built with
 * libtorch and its libtorch plugin, libbarlow-torch.so, loads; 0 when it was
 * built with -Dtorch=disabled or the plugin cannot be loaded. The first call
 * (or the first extractor create) loads the plugin, and with it libtorch
 * (about a second of start-up), once per process; the outcome is kept.
 * The plugin is looked for, in order: the file named by the environment
 * variable BARLOW_TORCH_PLUGIN when it is set and not empty (then only that
 * file); <directory of libbarlow.so>/barlow-<soversion>/libbarlow-torch.so
 * (the installed layout); <directory of libbarlow.so>/torch/
 * libbarlow-torch.so (a build tree); <libdir>/barlow-<soversion>/ of the
 * configured install prefix. Never sets an error message; the create
 * functions say why the plugin did not load. */
BARLOW_API int barlow_has_torch(void);

/* Fills *opts with the defaults above. NULL is ignored. */
BARLOW_API void barlow_extractor_options_init(barlow_extractor_options *opts);

/* Loads a TorchScript model (torch.jit.save) from a file, checks the
 * contract with a dry run and returns the extractor. opts: NULL = defaults.
 * Errors: INVALID_ARG (NULL path/out, bad options version, an option out of
 * range naming it and the range, a malformed sha256 or device string),
 * IO (the file is missing or cannot be read; the path is a directory, a
 * FIFO, a socket or a device — refused from stat() before anything opens
 * it, so a FIFO never blocks), FORMAT (the file is empty (0 bytes); sha256
 * mismatch naming both digests; a torch.save checkpoint or state_dict
 * (zip archive with data.pkl but no constants.pkl, or the legacy pickle
 * format), with a pointer to tools/convert_checkpoint.py; not a zip
 * archive; a damaged or truncated archive; the model breaks the contract,
 * saying how) — every message names the file ("<memory>" for
 * _from_memory), UNSUPPORTED (built without libtorch; a device that is not
 * available; a file over BARLOW_LIMIT_MODEL_BYTES, naming its size and the
 * limit), BACKEND (the model raised during the dry run, e.g. it wants a
 * different channel count — libtorch's message is included), NOMEM. */
BARLOW_API barlow_status barlow_extractor_create_from_file(
    const char *path, const barlow_extractor_options *opts, barlow_extractor **out);

/* As barlow_extractor_create_from_file, from the `size` bytes at `data`
 * (copied as needed; the caller keeps ownership). Errors: as above;
 * INVALID_ARG for NULL data or size 0. */
BARLOW_API barlow_status barlow_extractor_create_from_memory(
    const void *data, size_t size, const barlow_extractor_options *opts,
    barlow_extractor **out);

/* Frees the extractor and its model. NULL is allowed. */
BARLOW_API void barlow_extractor_free(barlow_extractor *ex);

/* D, the number of penultimate features (0 for NULL). */
BARLOW_API size_t barlow_extractor_feature_count(const barlow_extractor *ex);

/* The SHA-256 of the model's bytes (64 lowercase hex digits, owned by the
 * extractor), computed at load; NULL for NULL. */
BARLOW_API const char *barlow_extractor_model_sha256(const barlow_extractor *ex);

/* Copies the extractor's effective options into *opts (its device and
 * sha256 pointers are NULL). NULL arguments are ignored. */
BARLOW_API void barlow_extractor_get_options(const barlow_extractor *ex,
                                             barlow_extractor_options *opts);

/* K, the number of logits; 0 when logits were not requested (or NULL). */
BARLOW_API size_t barlow_extractor_class_count(const barlow_extractor *ex);

/* The input the model takes: channels C and size H = W (0 for NULL). */
BARLOW_API size_t barlow_extractor_input_channels(const barlow_extractor *ex);
BARLOW_API size_t barlow_extractor_input_size(const barlow_extractor *ex);

/* Height and width of the last feature map at the input size (0 for NULL). */
BARLOW_API size_t barlow_extractor_feature_map_height(const barlow_extractor *ex);
BARLOW_API size_t barlow_extractor_feature_map_width(const barlow_extractor *ex);

/* 1 when the module defines forward_features itself, 0 when its
 * ResNet-style children are run (or NULL). */
BARLOW_API int barlow_extractor_has_forward_features(const barlow_extractor *ex);

/* 1 when inference runs libtorch's frozen, optimised copy (the `optimize`
 * option, and the model survived it), 0 otherwise. */
BARLOW_API int barlow_extractor_is_optimized(const barlow_extractor *ex);

/* Runs the model on n images: input is n×C×H×W float32 (C×H×W as given by
 * the accessors above), values in [0,1]. Writes features (n×D) and/or
 * logits (n×K); pass NULL for an output you do not want. The network runs
 * on pieces of model_batch images; results do not depend on batch sizes or
 * thread count beyond float rounding (~1e-6 relative).
 * Errors: INVALID_ARG (NULL ex/input, n == 0, both outputs NULL), STATE
 * (logits asked for but not requested at create), BACKEND (the model
 * raised, in any piece), NOMEM. Outputs are written only on success:
 * after any failure `features` and `logits` are untouched (more than
 * model_batch images are computed into scratch of n×(D+K) floats and
 * copied out at the end). The values are the model's own: unlike dataset
 * extraction, this tensor call does not check them, so a model that gives
 * NaN or inf writes NaN or inf (test with isfinite() when the model is not
 * trusted to be finite). */
BARLOW_API barlow_status barlow_extractor_run(barlow_extractor *ex, const float *input,
                                              size_t n, float *features, float *logits);

/* Writes channel `channel` of the last feature map (before pooling) for n
 * images into out (n×h×w floats, h×w = feature_map_height×width); the
 * network runs on batches of batch_size images.
 * Errors: INVALID_ARG (NULL argument, n == 0, channel >= D naming both),
 * BACKEND, NOMEM. `out` is untouched on error (more than batch_size images
 * are computed into scratch and copied out at the end). */
BARLOW_API barlow_status barlow_extractor_feature_map(barlow_extractor *ex,
                                                      const float *input, size_t n,
                                                      size_t channel, float *out);

/* For n images: values[i] = penultimate feature `feature` of image i (may
 * be NULL) and grad (n×C×H×W) = its gradient with respect to image i's
 * [0,1] input pixels (through the optional mean/std normalisation), by
 * autograd. With the `optimize` option (default) it runs a frozen copy of
 * the model (batch norm folded into the convolutions; channels-last at
 * 128x128 and more on the CPU) that the first call checks against the model
 * as loaded (values within rtol 1e-3, gradient within 2% relative L2) and
 * keeps only if they agree: the results then differ from the model as
 * loaded by float32 rounding. optimize = 0 runs the model as loaded, with
 * PyTorch eager's numbers bit for bit.
 * The network runs on batches of batch_size images.
 * Errors: INVALID_ARG (NULL ex/input/grad, n == 0, feature >= D naming
 * both), BACKEND, NOMEM. `values` and `grad` are untouched on error (more
 * than batch_size images are computed into scratch and copied out at the
 * end). */
BARLOW_API barlow_status barlow_extractor_feature_gradient(barlow_extractor *ex,
                                                           const float *input, size_t n,
                                                           size_t feature, float *values,
                                                           float *grad);

/* Decodes and preprocesses rows `rows[0..n)` of a dataset into the model's
 * input layout (out: n×C×H×W floats), as dataset extraction does.
 * Errors: INVALID_ARG (NULL argument, n == 0, a row >= dataset size naming
 * it), and the status of the first image that fails (IO, FORMAT,
 * UNSUPPORTED, STATE for a row without an image) naming its row, NOMEM.
 * `out` is untouched on error (the rows are decoded into scratch of
 * n×C×H×W floats and copied out when all have loaded). */
BARLOW_API barlow_status barlow_extractor_load_inputs(const barlow_extractor *ex,
                                                      const barlow_dataset *ds,
                                                      const size_t *rows, size_t n,
                                                      float *out);

/* ---- whole datasets ------------------------------------------------------- */

/* Extracts the requested outputs for every row of ds, in row order. Images
 * that fail to decode are skipped and reported in the result; so are the
 * images whose outputs hold a NaN or an infinity (any of their features,
 * or of their logits when BARLOW_EXTRACT_LOGITS was requested): status
 * BARLOW_E_BACKEND, reason "<image file>: the model produced NaN/inf
 * features (feature j is nan)" ("logits (logit j is inf)"; "row i: ..."
 * for in-memory images). The result's matrices hold one row per extracted
 * image, all finite (barlow_extraction_index maps them to dataset rows).
 * progress (may be NULL) is called on the calling thread after each batch
 * with (images done, dataset size, user_data); a non-zero return cancels:
 * BARLOW_E_CANCELLED, no result.
 * Errors: INVALID_ARG (NULL ex/ds/out), CANCELLED, BACKEND (the model
 * raised: the whole call fails, naming the batch's rows; or the model gave
 * NaN/inf for every image it ran on: "the model produces non-finite
 * outputs: NaN/inf for every image it ran on (k of n rows[; the other m
 * failed to load]); the first, row i: <reason>"), NOMEM (also when memory
 * runs out loading an image: "out of memory loading row i (...)"; the
 * result never depends on memory pressure), and — when every
 * image failed to load — the first image's status (IO, FORMAT,
 * UNSUPPORTED, STATE) with a message naming its row and reason. *out is
 * written only on success. */
BARLOW_API barlow_status barlow_extractor_extract(barlow_extractor *ex,
                                                  const barlow_dataset *ds,
                                                  barlow_progress_fn progress,
                                                  void *user_data,
                                                  barlow_extraction **out);

/* Extracts dataset rows begin..end-1 only, as barlow_extractor_extract
 * does for the whole dataset (the unit of a sharded extraction: see
 * barlow/shards.h). The result covers those rows: its index holds dataset
 * rows, barlow_extraction_dataset_size() is end - begin, and
 * barlow_extraction_row_status/_reason take dataset rows of the range.
 * Batches start at `begin`: when begin is a multiple of the batch size, the
 * model sees the same pieces as in a whole extraction and the rows equal
 * it bit for bit (barlow_shard_range() aligns shards so; other boundaries
 * may differ in float rounding, as model_batch does). progress counts the
 * range's images.
 * Errors: as barlow_extractor_extract; INVALID_ARG when begin >= end or
 * end > the dataset's size (naming the range and the size). */
BARLOW_API barlow_status barlow_extractor_extract_range(barlow_extractor *ex,
                                                        const barlow_dataset *ds,
                                                        size_t begin, size_t end,
                                                        barlow_progress_fn progress,
                                                        void *user_data,
                                                        barlow_extraction **out);

/* Runs the extractor (which must have been created with
 * BARLOW_EXTRACT_LOGITS) over ds as barlow_extractor_extract does and sets
 * the dataset's predictions to the argmax of the logits (the lowest index
 * on ties). Rows whose image failed, or whose outputs were NaN/inf, get
 * their label as prediction (so they do not count as failures) and are
 * reported in *out. out may be NULL.
 * Errors: as barlow_extractor_extract; STATE (logits were not requested);
 * INVALID_ARG (the model has more logits than the dataset has classes,
 * naming both, when an argmax falls outside the classes). The dataset is
 * unchanged on failure. */
BARLOW_API barlow_status barlow_extractor_predict(barlow_extractor *ex, barlow_dataset *ds,
                                                  barlow_progress_fn progress,
                                                  void *user_data,
                                                  barlow_extraction **out);

/* Predicts rows begin..end-1 only, as barlow_extractor_predict does for
 * every row: those rows' predictions become the argmax of the logits (their
 * label when their image failed); the other rows keep the dataset's
 * predictions (their labels when it had none). For a shard (barlow/shards.h).
 * Errors: as barlow_extractor_predict; INVALID_ARG for an empty range or
 * one past the dataset's end. The dataset is unchanged on failure. */
BARLOW_API barlow_status barlow_extractor_predict_range(barlow_extractor *ex,
                                                        barlow_dataset *ds, size_t begin,
                                                        size_t end,
                                                        barlow_progress_fn progress,
                                                        void *user_data,
                                                        barlow_extraction **out);

/* Frees a result. NULL is allowed. */
BARLOW_API void barlow_extraction_free(barlow_extraction *r);

/* Number of dataset rows the extraction covered (0 for NULL). */
BARLOW_API size_t barlow_extraction_dataset_size(const barlow_extraction *r);

/* The dataset rows the extraction covered: *begin..*end-1 (0..size for a
 * whole extraction; 0, 0 for NULL). Either pointer may be NULL. */
BARLOW_API void barlow_extraction_range(const barlow_extraction *r, size_t *begin, size_t *end);

/* Number of images extracted, m = dataset size - failed (0 for NULL). */
BARLOW_API size_t barlow_extraction_count(const barlow_extraction *r);

/* Number of images skipped because they failed (0 for NULL). */
BARLOW_API size_t barlow_extraction_failed_count(const barlow_extraction *r);

/* m×D features (owned by the result), or NULL when not requested. */
BARLOW_API const barlow_matrix *barlow_extraction_features(const barlow_extraction *r);

/* m×K logits (owned by the result), or NULL when not requested. */
BARLOW_API const barlow_matrix *barlow_extraction_logits(const barlow_extraction *r);

/* m argmax class ids of the logits (owned by the result), or NULL without
 * logits. */
BARLOW_API const int32_t *barlow_extraction_argmax(const barlow_extraction *r);

/* The m dataset rows of the extracted images, ascending (owned by the
 * result). NULL for NULL. */
BARLOW_API const size_t *barlow_extraction_index(const barlow_extraction *r);

/* Status of dataset row `row` (of the range covered): BARLOW_OK when
 * extracted, else why its image
 * was skipped (IO, FORMAT, UNSUPPORTED, STATE; BACKEND: the model gave
 * NaN/inf features or logits for it). Memory running out while an image
 * loads is not a row's failure: the whole extraction fails with NOMEM. INVALID_ARG for NULL
 * or a row out of range (this accessor does not set a message). */
BARLOW_API barlow_status barlow_extraction_row_status(const barlow_extraction *r,
                                                      size_t row);

/* Why row `row` was skipped (owned by the result, naming the file), or
 * NULL when it was extracted (or out of range). */
BARLOW_API const char *barlow_extraction_row_reason(const barlow_extraction *r,
                                                    size_t row);

/* Writes an .npz (atomically) with the members
 *   features   float32 m×D     (when extracted)
 *   logits     float32 m×K     (when extracted)
 *   index      int64   m       dataset row of each extracted image
 *   labels     int32   m       ds's labels of those rows
 *   predictions int32  m       ds's predictions of those rows (when ds has
 *                              them)
 *   status     int32   n       per dataset row: 0 or the barlow_status of
 *                              its failure
 *   class_names <U{w}  K       the dataset's class names in id order (as
 *                              numpy writes a list of str: UTF-32LE,
 *                              NUL-padded to the longest); omitted for a
 *                              dataset made from arrays without names.
 *                              barlow_dataset_load_npy("F.npz:labels", ...)
 *                              reads them back
 * ds must be the dataset the result was extracted from (same size).
 * Errors: INVALID_ARG (NULL argument, a dataset of another size naming
 * both), IO (nothing is left behind), NOMEM. */
BARLOW_API barlow_status barlow_extraction_save_npz(const barlow_extraction *r,
                                                    const barlow_dataset *ds,
                                                    const char *path);

#ifdef __cplusplus
}
#endif

#endif /* BARLOW_EXTRACTOR_H */

/*
 * barlow_visualizer — what a feature looks at (docs/visualizer.md).
 *
 * A rule such as "failures rise when feature 1378 <= 0.089" means little
 * until a person sees feature 1378. For one feature of the robust model and
 * a set of dataset rows (a group, a tree leaf, any index list) the
 * visualizer gives:
 *  - the most (and optionally least) activating images of the set, ranked
 *    by the feature's value (ties: the lower dataset row first);
 *  - heatmaps: the feature's channel of the last feature map (before the
 *    global average pool, so the mean of a raw map is the feature value),
 *    raw and rendered over the image (clamped at 0, divided by a maximum
 *    shared by the panel or per image, bilinear to the image, the JET
 *    colour map alpha-blended by activation: a zero map leaves the image
 *    as it is);
 *  - feature attacks: gradient ascent on each image to raise the feature,
 *    within an L2 ball of radius eps around it and inside [0,1];
 *  - failure samples of a row set (seeded, without replacement) and, when
 *    the inspected model's logits are given, its most confident failures;
 *  - captioned PNG panels, and every tile and panel as an RGB image.
 *
 * Rows. Rows are always dataset rows. The feature matrix has one row per
 * extracted image; `index` maps feature row i to its dataset row (the
 * extraction's barlow_extraction_index, or the .npz member "index"). A
 * dataset row that was not extracted (its image failed) has no feature
 * value: it is left out of rankings and counted in rows_considered's
 * complement, never confused with another row.
 *
 * The handle borrows the extractor, the dataset, the features, the index
 * and the logits given to it; they must outlive it and not change.
 * Thread safety: a visualizer is used by one thread at a time (it runs the
 * extractor); const functions may run concurrently.
 */
#ifndef BARLOW_VISUALIZER_H
#define BARLOW_VISUALIZER_H

#include "common.h"
#include "dataset.h"
#include "extractor.h"
#include "image.h"
#include "matrix.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct barlow_visualizer barlow_visualizer;
typedef struct barlow_feature_view barlow_feature_view;

/* How a panel's heatmaps are scaled to colours. */
typedef enum barlow_heatmap_scale {
    BARLOW_HEATMAP_SHARED = 0,   /* one maximum for the whole panel: tiles compare */
    BARLOW_HEATMAP_PER_IMAGE = 1 /* each map by its own maximum (the reference's) */
} barlow_heatmap_scale;

/* The rows of a feature panel. */
typedef enum barlow_view_row {
    BARLOW_VIEW_TOP = 0,     /* most activating images */
    BARLOW_VIEW_LEAST = 1,   /* least activating images (option `least`) */
    BARLOW_VIEW_HEATMAP = 2, /* heatmaps of the most activating images */
    BARLOW_VIEW_ATTACK = 3   /* feature attacks on the most activating images */
} barlow_view_row;

enum {
    BARLOW_VISUALIZER_OPTIONS_VERSION = 1,
    BARLOW_VISUALIZER_MAX_K = 64 /* tiles per panel row */
};

/* Options of barlow_visualizer_create(). */
typedef struct barlow_visualizer_options {
    uint32_t version;   /* BARLOW_VISUALIZER_OPTIONS_VERSION */
    size_t k;           /* tiles per row: images ranked, samples drawn;
                           default 6; 1..BARLOW_VISUALIZER_MAX_K */
    int32_t least;      /* 1: panels also show the k least activating
                           images; default 0; 0 or 1 */
    barlow_heatmap_scale scale; /* BARLOW_HEATMAP_SHARED (default) or
                           BARLOW_HEATMAP_PER_IMAGE */
    double heatmap_alpha; /* opacity of the colour map where the activation
                           is at the scale's maximum (it falls linearly to 0
                           at no activation); default 0.6; 0..1 */
    int32_t attack;     /* 1 (default): panels include feature attacks; 0 or 1 */
    size_t attack_steps; /* gradient steps; default 1000; 0..1000000
                           (0 returns the images unchanged) */
    double attack_step; /* L2 length of one step; default 1.0; > 0, finite */
    double attack_eps;  /* radius of the L2 ball around the original;
                           default 500.0; >= 0, finite */
    int32_t attack_scale_to_input; /* 1 (default): attack_step and attack_eps
                           are given for a 3x224x224 input (the reference's
                           numbers) and multiplied by sqrt(C*H*W / 150528)
                           for the model's input (1x28x28: x0.0722);
                           0: they are used as they are; 0 or 1 */
    uint32_t seed;      /* failure samples; default 0 */
    size_t tile_size;   /* smallest tile side in pixels: smaller inputs are
                           upscaled (nearest neighbour) to at least this;
                           default 112; 16..1024 */
} barlow_visualizer_options;

/* Fills *opts with the defaults above. NULL is ignored. */
BARLOW_API void barlow_visualizer_options_init(barlow_visualizer_options *opts);

/* Creates a visualizer over borrowed objects.
 *  ex:       the robust model's extractor (its input size, channels and
 *            preprocessing are used to load images)
 *  ds:       the dataset the features were extracted from (labels,
 *            predictions when it has them, class names, image files)
 *  features: m x d feature matrix, m = n_index (d = ex's feature_dim)
 *  index:    m ascending-or-not distinct dataset rows, feature row i =
 *            dataset row index[i]; NULL when the features have one row per
 *            dataset row (then m must equal the dataset's size)
 * Errors: INVALID_ARG (NULL ex/ds/features/out; bad options naming the
 * field and its range; features' column count != the extractor's
 * feature_dim, naming both; m != n_index, or m != dataset size without an
 * index, naming both; an index entry >= dataset size or repeated, naming
 * its position and value), UNSUPPORTED (libbarlow built without libtorch),
 * NOMEM. */
BARLOW_API barlow_status barlow_visualizer_create(barlow_extractor *ex,
                                                  const barlow_dataset *ds,
                                                  const barlow_matrix *features,
                                                  const size_t *index, size_t n_index,
                                                  const barlow_visualizer_options *opts,
                                                  barlow_visualizer **out);

/* Frees the visualizer (not what it borrows). NULL is allowed. */
BARLOW_API void barlow_visualizer_free(barlow_visualizer *v);

/* Gives the inspected model's logits (borrowed; one row per feature row,
 * in the same order) for the "most confident failures" samples, or NULL to
 * forget them. Errors: INVALID_ARG (NULL v; rows != the feature rows,
 * naming both; fewer than 2 columns). */
BARLOW_API barlow_status barlow_visualizer_set_logits(barlow_visualizer *v,
                                                      const barlow_matrix *logits);

/* ---- the pieces --------------------------------------------------------- */

/* The k rows of rows[0..n) with the highest values of `feature` (least
 * != 0: the lowest), best first, ties to the lower dataset row. Rows that
 * were not extracted are skipped. out_rows/out_values receive up to k
 * entries (out_values may be NULL); *n_out = min(k, rows considered);
 * n_considered (may be NULL) = rows of the set that have features.
 * Errors: INVALID_ARG (NULL v/rows/out_rows/n_out with n > 0, feature >= d
 * naming both, k == 0, a row >= dataset size naming its position, no row
 * of the set has features ("empty row set")). */
BARLOW_API barlow_status barlow_visualizer_rank(const barlow_visualizer *v, size_t feature,
                                                const size_t *rows, size_t n, int least,
                                                size_t k, size_t *out_rows, float *out_values,
                                                size_t *n_out, size_t *n_considered);

/* Raw heatmaps: channel `feature` of the last feature map for dataset rows
 * rows[0..n), n x h x w floats (h, w = the extractor's feature map size).
 * Errors: INVALID_ARG (NULL argument, n == 0, feature >= d), the status of
 * an image that cannot be loaded (IO naming the file, e.g. deleted since
 * extraction; FORMAT), BACKEND, NOMEM. */
BARLOW_API barlow_status barlow_visualizer_maps(barlow_visualizer *v, size_t feature,
                                                const size_t *rows, size_t n, float *maps);

/* Feature attack on dataset rows rows[0..n), all at once: from each image
 * x0, steps of x += step * g / ||g||_2 (g the feature's input gradient; a
 * zero gradient leaves x), then projection onto ||x - x0||_2 <= eps and
 * clamping to [0,1] (step and eps as the options say, scaled or not).
 * Writes the attacked inputs (n x C x H x W floats in [0,1]), the feature
 * before and after (a separate forward of the returned images; either may
 * be NULL) and the L2 distance moved (may be NULL). progress (may be NULL)
 * gets (steps done, steps); non-zero cancels.
 * Errors: INVALID_ARG (NULL v/rows/images, n == 0, feature >= d), image
 * load errors as barlow_visualizer_maps, CANCELLED (outputs untouched),
 * BACKEND, NOMEM. */
BARLOW_API barlow_status barlow_visualizer_attack(barlow_visualizer *v, size_t feature,
                                                  const size_t *rows, size_t n,
                                                  barlow_progress_fn progress,
                                                  void *user_data, float *images,
                                                  float *before, float *after,
                                                  float *distance);

/* The attack's step and eps for this visualizer's model, after scaling. */
BARLOW_API void barlow_visualizer_attack_budget(const barlow_visualizer *v, double *step,
                                                double *eps);

/* Up to k failures (prediction != label) of rows[0..n), drawn without
 * replacement with the options' seed (all of them, in row order, when
 * there are k or fewer; otherwise in drawing order). Only extracted rows
 * (rows with features) count. *n_out = how many.
 * Errors: INVALID_ARG (NULL v/out/n_out, NULL rows with n > 0, k == 0, a
 * row >= dataset size), STATE (the dataset has no predictions). */
BARLOW_API barlow_status barlow_visualizer_failure_samples(const barlow_visualizer *v,
                                                           const size_t *rows, size_t n,
                                                           size_t k, size_t *out,
                                                           size_t *n_out);

/* Up to k failures of rows[0..n) on which the inspected model was most
 * confident (softmax probability of its prediction, highest first, ties
 * to the lower row; out_conf may be NULL). Only extracted rows count.
 * Errors: as barlow_visualizer_failure_samples; STATE (no logits given). */
BARLOW_API barlow_status barlow_visualizer_confident_failures(const barlow_visualizer *v,
                                                              const size_t *rows, size_t n,
                                                              size_t k, size_t *out,
                                                              float *out_conf, size_t *n_out);

/* Renders one heatmap over an image: the h x w map clamped at 0 and divided
 * by `max` (max <= 0 or not finite: a zero map, the plain image), resized
 * bilinearly to the image, coloured with JET and blended with opacity
 * alpha x activation. img may be grey (shown as grey) or RGB; *out is RGB
 * of img's size. Errors: INVALID_ARG (NULL, h or w == 0, alpha outside
 * 0..1), NOMEM. */
BARLOW_API barlow_status barlow_visualizer_render_heatmap(const barlow_image *img,
                                                          const float *map, size_t h,
                                                          size_t w, float max, double alpha,
                                                          barlow_image **out);

/* ---- feature views (panels) --------------------------------------------- */

/* Everything about one feature on one row set: the ranked tiles, the raw
 * maps, the attacks (when the option is on), the rendered tiles and the
 * captioned panel. caption (may be NULL) is a line under the panel's title
 * saying which rows these are (e.g. "label: cat"). progress (may be NULL)
 * reports the attack's steps.
 * Errors: as barlow_visualizer_rank, _maps and _attack. */
BARLOW_API barlow_status barlow_visualizer_view(barlow_visualizer *v, size_t feature,
                                                const size_t *rows, size_t n,
                                                const char *caption,
                                                barlow_progress_fn progress, void *user_data,
                                                barlow_feature_view **out);

/* Frees a view. NULL is allowed. */
BARLOW_API void barlow_feature_view_free(barlow_feature_view *fv);

/* The feature (0 for NULL) and the number of the set's rows that had
 * features (0 for NULL). */
BARLOW_API size_t barlow_feature_view_feature(const barlow_feature_view *fv);
BARLOW_API size_t barlow_feature_view_rows_considered(const barlow_feature_view *fv);

/* Tiles in a panel row: k' = min(k, rows considered) for TOP and HEATMAP,
 * for LEAST when the option is on, for ATTACK when attacks are on; 0
 * otherwise (and for NULL). HEATMAP and ATTACK tiles are those of TOP, in
 * the same order. */
BARLOW_API size_t barlow_feature_view_count(const barlow_feature_view *fv,
                                            barlow_view_row which);

/* One tile's facts. The caller sets `version`. */
enum { BARLOW_VIEW_TILE_VERSION = 1 };
typedef struct barlow_view_tile {
    uint32_t version;      /* BARLOW_VIEW_TILE_VERSION */
    size_t row;            /* dataset row */
    float value;           /* the feature's value */
    int32_t label;         /* class id */
    int32_t prediction;    /* class id, -1 when the dataset has none */
    float attacked_value;  /* ATTACK tiles: the feature after the attack;
                              NaN otherwise */
    float distance;        /* ATTACK tiles: L2 distance moved; NaN otherwise */
    float map_max;         /* HEATMAP tiles: the colour scale's maximum */
} barlow_view_tile;

/* Copies tile i of row `which` into *out. Errors: INVALID_ARG (NULL, bad
 * version, i >= barlow_feature_view_count(which)). */
BARLOW_API barlow_status barlow_feature_view_tile(const barlow_feature_view *fv,
                                                  barlow_view_row which, size_t i,
                                                  barlow_view_tile *out);

/* The rendered tile i of a row (RGB, owned by the view), or NULL. */
BARLOW_API const barlow_image *barlow_feature_view_tile_image(const barlow_feature_view *fv,
                                                              barlow_view_row which,
                                                              size_t i);

/* The raw maps of the TOP tiles (count x h x w floats, owned by the view)
 * and their size; NULL / 0 for NULL. */
BARLOW_API const float *barlow_feature_view_maps(const barlow_feature_view *fv, size_t *h,
                                                 size_t *w);

/* The model inputs of the TOP tiles as loaded (count x C x H x W floats
 * in [0,1], owned by the view); NULL for NULL. */
BARLOW_API const float *barlow_feature_view_inputs(const barlow_feature_view *fv);

/* The attacked inputs of the TOP tiles (count x C x H x W floats in [0,1],
 * owned by the view), or NULL without attacks. */
BARLOW_API const float *barlow_feature_view_attacks(const barlow_feature_view *fv);

/* The whole captioned panel (RGB, owned by the view); NULL for NULL. */
BARLOW_API const barlow_image *barlow_feature_view_panel(const barlow_feature_view *fv);

/* A panel of failure samples of rows[0..n): a row of k seeded samples and,
 * with logits, a row of the k most confident failures; each tile captioned
 * "label -> prediction", the panel titled `caption` (e.g. the leaf's rule;
 * NULL: none). *out is a new RGB image (barlow_image_free).
 * Errors: as barlow_visualizer_failure_samples; INVALID_ARG when the set
 * has no failures; image load errors; NOMEM. */
BARLOW_API barlow_status barlow_visualizer_failure_panel(barlow_visualizer *v,
                                                         const size_t *rows, size_t n,
                                                         const char *caption,
                                                         barlow_image **out);

#ifdef __cplusplus
}
#endif

#endif /* BARLOW_VISUALIZER_H */

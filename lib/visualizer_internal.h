/* Shared by lib/visualizer.c (rankings, maps, attacks, samples) and
 * lib/visualizer_panel.c (tiles, captions, panels). Not installed. */
#ifndef BW_VISUALIZER_INTERNAL_H
#define BW_VISUALIZER_INTERNAL_H

#include "barlow/visualizer.h"

struct barlow_visualizer {
    barlow_extractor *ex;       /* borrowed */
    const barlow_dataset *ds;   /* borrowed */
    const barlow_matrix *X;     /* borrowed: m x d features */
    const barlow_matrix *logits; /* borrowed or NULL: m x K of the inspected model */
    size_t m, d, n_ds;
    size_t C, S;                /* model input: C x S x S */
    size_t fh, fw;              /* last feature map */
    size_t *frow;               /* dataset row -> feature row (SIZE_MAX: none) */
    barlow_visualizer_options o;
    double step, eps;           /* the attack's, after scaling */
};

/* INVALID_ARG for NULL rows with n > 0, a row out of range or repeated
 * (naming its position); NOMEM. */
barlow_status bw_vis_check_rows(const barlow_visualizer *v, const size_t *rows, size_t n,
                                const char *who);

/* The number of extracted failures of rows[0..n) (the pool that
 * barlow_visualizer_failure_samples draws from); 0 without predictions. */
size_t bw_vis_failure_count(const barlow_visualizer *v, const size_t *rows, size_t n);

/* The feature's value of an extracted dataset row. */
float bw_vis_value(const barlow_visualizer *v, size_t row, size_t feature);

/* Loads rows[0..n) into the model's input layout (a new n x C x S x S
 * array in *out); errors name the row and its file. */
barlow_status bw_vis_load(barlow_visualizer *v, const size_t *rows, size_t n, float **out,
                          const char *who);

/* The attack on n loaded inputs x0 (n x C x S x S): writes the attacked
 * inputs, the feature before/after (separate forwards; may be NULL) and
 * the distances (may be NULL). Outputs untouched on failure. */
barlow_status bw_vis_attack(barlow_visualizer *v, size_t feature, const float *x0, size_t n,
                            barlow_progress_fn progress, void *user_data, float *images,
                            float *before, float *after, float *distance, const char *who);

#endif

/* What `barlow run` computed, in the one shape that both of its writers
 * read: results.json (run_json.c) and the HTML report (report.c).
 * cmd_run.c fills it; everything here is borrowed from the run. */
#ifndef BARLOW_CLI_RUN_H
#define BARLOW_CLI_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <barlow/barlow.h>

#include "featnames.h"
#include "sbuf.h"

/* A feature panel (barlow_visualizer_view) of one feature on one group's
 * rows: most activating images, heatmaps on the shared scale, attacks. */
typedef struct run_panel {
    size_t group;           /* analysis group index */
    size_t feature;         /* original feature column */
    const char *file;       /* PNG, relative to the run directory */
    size_t rows_considered; /* rows of the group with features */
    float top_value;        /* the feature's highest value in the group */
    float map_max;          /* the panel's shared heatmap maximum */
} run_panel;

/* Failure samples of one leaf (barlow_visualizer_failure_panel). */
typedef struct run_samples {
    size_t group;       /* analysis group index */
    size_t depth_index; /* j of barlow_analysis_depth(an, j) */
    int32_t leaf;       /* node id */
    const char *file;   /* PNG, relative to the run directory */
} run_samples;

/* One timed stage ("extract", "analyze", "panels", "report"). */
typedef struct run_stage {
    const char *name;
    double seconds;
    bool reused; /* its result came from the previous run (cache) */
} run_stage;

typedef struct run_result {
    /* inputs, as given (paths as the user wrote them) */
    const char *model;      /* the robust model (features) */
    const char *predict;    /* the inspected model, or NULL: predictions from the data */
    const char *features_file; /* --features (features and predictions given), or NULL */
    const char *dataset;    /* a short description: "metadata data/m.csv, images data/img" */
    size_t n_rows;          /* dataset rows */
    size_t n_extracted;     /* rows with features (failed images excluded) */
    size_t n_failures;      /* extracted rows with prediction != label */
    size_t feature_dim;
    /* options */
    size_t k;               /* features selected per group */
    double delta, gamma;    /* validity thresholds */
    size_t top;             /* images per panel row */
    size_t attack_steps;    /* 0: no attacks */
    double attack_step, attack_eps; /* after scaling to the input */
    const int32_t *classes; /* --classes: the class ids shown, ascending; NULL: all */
    size_t n_classes;
    /* results */
    const barlow_analysis *an;
    const barlow_dataset *ds;
    const feature_names *names; /* may be NULL */
    const run_panel *panels;
    size_t n_panels;
    const run_samples *samples;
    size_t n_samples;
    const run_stage *stages;
    size_t n_stages;
    bool single_file;       /* --single-file: every group is a section of index.html */
} run_result;

/* Whether analysis group i is shown (its class is in --classes, or no
 * --classes was given). */
bool run_shows_group(const run_result *r, size_t group);

/* The panel of (group, feature), or NULL. */
const run_panel *run_find_panel(const run_result *r, size_t group, size_t feature);

/* The failure samples of (group, depth index, leaf), or NULL. */
const run_samples *run_find_samples(const run_result *r, size_t group, size_t depth_index,
                                    int32_t leaf);

/* The report's page for a group, relative to the run directory:
 * "groups/<label|prediction>-<class id>.html", or with single_file its
 * section "index.html#<label|prediction>-<class id>". run_group_page
 * appends it to out; run_group_page_name writes it into buf (size at least
 * RUN_PAGE_NAME_MAX; no allocation). */
enum { RUN_PAGE_NAME_MAX = 64 };
void run_group_page(const run_result *r, size_t group, sbuf *out);
void run_group_page_name(const run_result *r, size_t group, char *buf, size_t size);

/* results.json: schema in docs/formats.md ("barlow run"). Appends to out. */
void run_json(const run_result *r, sbuf *out);

/* Writes the HTML report into dir (which exists and is empty apart from the
 * files the run wrote: results.json, features.npz, leaves.npz, panels/,
 * samples/). single_file: one index.html with every page as a section and
 * every image inlined (data: URIs); else index.html, groups/ pages and
 * report.css. Returns CLI_OK, or CLI_ERROR with cli_set_error() naming the
 * file. */
int report_write(const run_result *r, const char *dir, bool single_file);

#endif

/* The state of one `barlow run` (cmd_run.c) shared by its stages:
 * run_extract.c (extract), run_analyze.c (analyze, leaves), run_panels.c
 * (panels) and run_json.c (results.json, leaves.npz, the report). */
#ifndef BARLOW_CLI_RUN_STATE_H
#define BARLOW_CLI_RUN_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <barlow/barlow.h>

#include "cli.h"
#include "run.h"
#include "run_dir.h"

typedef struct run_args {
    const char *model, *predict, *by, *k_t, *depth_t, *top_t, *steps_t, *classes_t,
        *names_t, *threads_t, *seed_t, *sha, *psha, *out, *features;
    cli_dataset_args da; /* the dataset and the model input */
    bool no_attack, single_file, force, quiet;
    /* parsed */
    barlow_extractor_options eo;
    uint32_t groupings;
    size_t k, top, attack_steps, threads, n_depths;
    uint32_t seed;
    int32_t depths[3];
} run_args;

typedef struct run_state {
    run_args a;
    run_dir dir;
    sbuf extract_key;          /* what the extraction read (run_extract.c), which
                                  the panels' key includes */
    barlow_dataset *ds;        /* every dataset row, with predictions */
    barlow_extractor *ex;      /* the robust model */
    barlow_matrix *X;          /* m x D features of the extracted rows */
    size_t *index;             /* their dataset rows, ascending */
    size_t m;
    barlow_dataset *ads;       /* the extracted rows (analysis rows); == ds when m == n */
    size_t n_failures;         /* analysis rows with prediction != label */
    barlow_analysis *an;
    int32_t *leaves;           /* [grouping 0/1][depth j][dataset row]: leaf or -1 */
    int32_t *classes;          /* --classes ids, ascending */
    size_t n_classes;
    feature_names *names;
    run_panel *panels;
    size_t n_panels;
    run_samples *samples;
    size_t n_samples;
    char **files;              /* panel and sample file names (owned) */
    size_t n_files;
    double attack_step, attack_eps;
    run_stage stages[4];
    size_t n_stages;
    double stage_t0;
    cli_progress progress;
} run_state;

void run_state_init(run_state *s);
void run_state_free(run_state *s);

/* Sets the CLI message from the library's ("context: message"). */
int run_lib_error(const char *context);

/* The stages; each returns CLI_OK or CLI_ERROR with cli_set_error(). */
int run_extract(run_state *s, bool *reused);
int run_analyze(run_state *s);
int run_panels(run_state *s, bool *reused);
int run_write(run_state *s);

/* Analysis group index of (grouping, class), or SIZE_MAX. */
size_t run_group_index(const run_state *s, barlow_group_by by, int32_t class_id);

/* The run_result view of the state (pointers into it). */
void run_state_result(const run_state *s, run_result *r);

#endif

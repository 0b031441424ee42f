/* barlow run, stage 1: the dataset, the robust model's features and the
 * inspected model's predictions (run_state.h), reused from the previous
 * run when the models, the data and the input options are the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_state.h"

void run_state_init(run_state *s)
{
    memset(s, 0, sizeof *s);
    s->dir.keys = (sbuf)SBUF_INIT;
    s->extract_key = (sbuf)SBUF_INIT;
}

void run_state_free(run_state *s)
{
    barlow_analysis_free(s->an);
    if (s->ads != s->ds) barlow_dataset_free(s->ads);
    barlow_dataset_free(s->ds);
    barlow_extractor_free(s->ex);
    barlow_matrix_free(s->X);
    free(s->index);
    free(s->leaves);
    free(s->classes);
    feature_names_free(s->names);
    free(s->panels);
    free(s->samples);
    for (size_t i = 0; i < s->n_files; i++) free(s->files[i]);
    free(s->files);
    run_dir_close(&s->dir);
    sbuf_free(&s->extract_key);
    memset(s, 0, sizeof *s);
}

int run_lib_error(const char *context)
{
    const char *msg = barlow_last_error();
    if (context) cli_set_error("%s: %s", context, msg);
    else cli_set_error("%s", msg);
    return CLI_ERROR;
}

/* The key of the extraction: every input it read and every option that
 * changes its numbers. */
static void extract_key(const run_state *s, sbuf *key)
{
    const run_args *a = &s->a;
    run_fingerprint(key, "model", a->model);
    if (a->predict) run_fingerprint(key, "predict", a->predict);
    const char *files[][2] = {{"metadata", a->da.metadata}, {"images", a->da.images},
                              {"folder", a->da.folder},     {"idx", a->da.idx},
                              {"idx-labels", a->da.idx_labels},
                              {"class-names", a->da.class_names}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (files[i][1]) run_fingerprint(key, files[i][0], files[i][1]);
    sbuf_printf(key, "size=%zu;resize=%zu;channels=%zu;", a->eo.input_size, a->eo.resize,
                a->eo.channels);
}

/* Takes the features and index out of an extraction. */
static int keep_features(run_state *s, const barlow_extraction *r)
{
    s->m = barlow_extraction_count(r);
    const barlow_matrix *F = barlow_extraction_features(r);
    const size_t *idx = barlow_extraction_index(r);
    s->index = malloc((s->m ? s->m : 1) * sizeof *s->index);
    if (!s->index) {
        cli_set_error("out of memory");
        return CLI_ERROR;
    }
    memcpy(s->index, idx, s->m * sizeof *s->index);
    if (barlow_matrix_create_copy(barlow_matrix_data(F), barlow_matrix_rows(F),
                                  barlow_matrix_cols(F), barlow_matrix_stride(F), &s->X) != BARLOW_OK)
        return run_lib_error(NULL);
    return CLI_OK;
}

static int extract_fresh(run_state *s, const char *npz)
{
    barlow_extractor *px = NULL;
    barlow_extraction *rp = NULL, *r = NULL;
    int rc = CLI_ERROR;
    if (s->a.predict) {
        barlow_extractor_options po = s->a.eo;
        po.outputs = BARLOW_EXTRACT_LOGITS;
        po.sha256 = s->a.psha;
        if (barlow_extractor_create_from_file(s->a.predict, &po, &px) != BARLOW_OK ||
            barlow_extractor_predict(px, s->ds, cli_progress_fn, &s->progress, &rp) !=
                BARLOW_OK) {
            rc = run_lib_error("--predict");
            goto done;
        }
        cli_progress_end(&s->progress);
        cli_report_skipped("run", rp, s->a.predict);
    }
    if (barlow_extractor_extract(s->ex, s->ds, cli_progress_fn, &s->progress, &r) != BARLOW_OK) {
        rc = run_lib_error("--model");
        goto done;
    }
    cli_report_skipped("run", r, s->a.model);
    if (barlow_extraction_save_npz(r, s->ds, npz) != BARLOW_OK) {
        rc = run_lib_error(NULL);
        goto done;
    }
    rc = keep_features(s, r);
done:
    barlow_extraction_free(r);
    barlow_extraction_free(rp);
    barlow_extractor_free(px);
    return rc;
}

/* The extraction file's labels are the dataset's at its index (s->index,
 * s->m set). */
static int labels_match(run_state *s, const char *npz, const char *fix)
{
    barlow_array *lab = NULL;
    int32_t *v = malloc((s->m ? s->m : 1) * sizeof *v);
    int rc = CLI_ERROR;
    if (!v) {
        cli_set_error("out of memory");
    } else if (cli_load_member(npz, "labels", &lab) != BARLOW_OK) {
        rc = run_lib_error(npz);
    } else if (barlow_array_size(lab) != s->m || barlow_array_to_int32(lab, v) != BARLOW_OK) {
        cli_set_error("%s: its labels are not one per feature row (%s)", npz, fix);
    } else {
        const int32_t *L = barlow_dataset_labels(s->ds);
        size_t i = 0;
        while (i < s->m && v[i] == L[s->index[i]]) i++;
        if (i < s->m)
            cli_set_error("%s does not match the dataset: it gives row %zu label id %d, the "
                          "dataset %d (%s)", npz, s->index[i], (int)v[i], (int)L[s->index[i]],
                          fix);
        else rc = CLI_OK;
    }
    free(v);
    barlow_array_free(lab);
    return rc;
}

/* Reads the features, index and predictions of an extraction file: the
 * previous run's features.npz (carried into the staging directory), or
 * --features (an .npz or a manifest). Rows that were not extracted keep
 * their label as prediction, as barlow_extractor_predict gives them. `what`
 * names the file in messages, `fix` says what to do about a bad one. */
static int extract_reuse(run_state *s, const char *npz, const char *what, const char *fix)
{
    barlow_array *idx = NULL, *pred = NULL;
    int32_t *p = NULL;
    int rc = CLI_ERROR;
    if (cli_load_matrix(npz, &s->X) != BARLOW_OK ||
        cli_load_member(npz, "index", &idx) != BARLOW_OK ||
        cli_load_member(npz, "predictions", &pred) != BARLOW_OK) {
        rc = run_lib_error(what);
        goto done;
    }
    size_t n = barlow_dataset_size(s->ds);
    s->m = barlow_array_size(idx);
    const int32_t *labels = barlow_dataset_labels(s->ds);
    const int64_t *ix = barlow_array_data(idx);
    s->index = malloc((s->m ? s->m : 1) * sizeof *s->index);
    p = malloc(n * sizeof *p);
    int32_t *mp = malloc((s->m ? s->m : 1) * sizeof *mp);
    if (!s->index || !p || !mp || barlow_array_dtype(idx) != BARLOW_DTYPE_INT64 ||
        barlow_array_size(pred) != s->m || barlow_matrix_rows(s->X) != s->m ||
        barlow_array_to_int32(pred, mp) != BARLOW_OK) {
        free(mp);
        cli_set_error("%s: not the features of this run's dataset (%s)", npz, fix);
        goto done;
    }
    memcpy(p, labels, n * sizeof *p);
    for (size_t i = 0; i < s->m; i++) {
        if (ix[i] < 0 || (size_t)ix[i] >= n || (i > 0 && ix[i] <= ix[i - 1])) {
            free(mp);
            cli_set_error("%s: index entry %zu is %lld, not an ascending row of the dataset's "
                          "%zu (%s)", npz, i, (long long)ix[i], n, fix);
            goto done;
        }
        s->index[i] = (size_t)ix[i];
        p[ix[i]] = mp[i];
    }
    free(mp);
    if (labels_match(s, npz, fix) != CLI_OK) goto done;
    if (barlow_dataset_set_predictions(s->ds, p, n) != BARLOW_OK) {
        rc = run_lib_error(npz);
        goto done;
    }
    rc = CLI_OK;
done:
    free(p);
    barlow_array_free(idx);
    barlow_array_free(pred);
    return rc;
}

/* --classes "a,b": names or ids of the dataset's classes, sorted. */
static int parse_classes(run_state *s)
{
    const char *p = s->a.classes_t, *item;
    size_t len;
    if (!p) return CLI_OK;
    size_t cap = 1;
    for (const char *q = p; *q; q++) cap += *q == ',';
    s->classes = malloc(cap * sizeof *s->classes);
    if (!s->classes) return cli_set_error("out of memory"), CLI_ERROR;
    while (cli_list_next(&p, ',', &item, &len)) {
        char *name = strndup(item, len);
        int32_t id = -1;
        if (!name) return cli_set_error("out of memory"), CLI_ERROR;
        if (!cli_class_id(s->ds, name, &id)) {
            cli_set_error("--classes: '%s' is not a class of the dataset (it has %zu classes, "
                          "e.g. '%s')",
                          name, barlow_dataset_class_count(s->ds),
                          barlow_dataset_class_name(s->ds, 0));
            free(name);
            return CLI_ERROR;
        }
        free(name);
        size_t at = s->n_classes; /* insertion sort, no repeats */
        while (at > 0 && s->classes[at - 1] > id) at--;
        if (!(at > 0 && s->classes[at - 1] == id)) {
            memmove(s->classes + at + 1, s->classes + at, (s->n_classes - at) * sizeof *s->classes);
            s->classes[at] = id;
            s->n_classes++;
        }
    }
    return CLI_OK;
}

static int load_inputs(run_state *s)
{
    if (cli_load_dataset(&s->a.da, &s->ds) != BARLOW_OK) return run_lib_error(NULL);
    size_t k = barlow_dataset_class_count(s->ds);
    if (k < 2) {
        cli_set_error("the dataset has %zu class%s ('%s'): Barlow explains a classifier's "
                      "failures between classes; give a dataset with at least two",
                      k, k == 1 ? "" : "es", k ? barlow_dataset_class_name(s->ds, 0) : "");
        return CLI_ERROR;
    }
    if (!s->a.predict && !s->a.features && !barlow_dataset_has_predictions(s->ds)) {
        return cli_usage_error("run", "%s has no prediction column: give --predict MODEL.pt",
                               s->a.da.metadata);
    }
    if (parse_classes(s) != CLI_OK) return CLI_ERROR;
    barlow_extractor_options eo = s->a.eo;
    eo.outputs = BARLOW_EXTRACT_FEATURES;
    eo.sha256 = s->a.sha;
    eo.threads = s->a.threads;
    if (barlow_extractor_create_from_file(s->a.model, &eo, &s->ex) != BARLOW_OK)
        return run_lib_error("--model");
    if (s->a.names_t)
        return feature_names_load(s->a.names_t, s->ds, barlow_extractor_feature_count(s->ex),
                                  &s->names);
    return CLI_OK;
}

/* --features: the given extraction instead of extracting; it must have
 * the robust model's feature count. */
static int features_given(run_state *s)
{
    int rc = extract_reuse(s, s->a.features, "--features", "give the dataset it was extracted "
                                                          "from");
    size_t d = barlow_extractor_feature_count(s->ex);
    if (rc == CLI_OK && barlow_matrix_cols(s->X) != d) {
        cli_set_error("--features %s has %zu features per image but --model gives %zu: were "
                      "they extracted with another model?", s->a.features,
                      barlow_matrix_cols(s->X), d);
        rc = CLI_ERROR;
    }
    return rc;
}

int run_extract(run_state *s, bool *reused)
{
    *reused = false;
    int in = load_inputs(s);
    if (in != CLI_OK) return in; /* CLI_USAGE was printed already */
    sbuf *key = &s->extract_key;
    extract_key(s, key);
    if (s->a.features) {
        run_fingerprint(key, "features", s->a.features);
        *reused = true;
        return sbuf_failed(key) ? (cli_set_error("out of memory"), CLI_ERROR)
                                : features_given(s);
    }
    char *npz = run_dir_path(&s->dir, "features.npz", false);
    int rc = CLI_ERROR;
    if (!npz || sbuf_failed(key)) {
        cli_set_error("out of memory");
    } else {
        bool same = run_dir_reuse(&s->dir, "extract", key->data, "features.npz");
        if (same && extract_reuse(s, npz, "the previous run's features", "use --force") ==
                        CLI_OK) {
            *reused = true;
            rc = CLI_OK;
            goto out;
        }
        if (same) /* the previous features cannot be used: extract afresh */
            fprintf(stderr, "barlow run: not reusing the previous features: %s\n",
                    cli_error_text());
        cli_set_error("%s", "");
        barlow_matrix_free(s->X);
        s->X = NULL;
        free(s->index);
        s->index = NULL;
        rc = extract_fresh(s, npz);
    }
out:
    free(npz);
    return rc;
}

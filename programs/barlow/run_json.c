/* barlow run, stage 4: results.json, leaves.npz, the feature-names
 * template and the HTML report, written into the staging directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_state.h"

void run_state_result(const run_state *s, run_result *r)
{
    memset(r, 0, sizeof *r);
    r->model = s->a.model;
    r->predict = s->a.predict;
    r->features_file = s->a.features;
    r->dataset = s->a.da.metadata ? s->a.da.metadata
                 : s->a.da.folder ? s->a.da.folder
                                  : s->a.da.idx;
    r->n_rows = barlow_dataset_size(s->ds);
    r->n_extracted = s->m;
    r->n_failures = s->n_failures;
    r->feature_dim = barlow_matrix_cols(s->X);
    r->k = s->a.k < r->feature_dim ? s->a.k : r->feature_dim;
    barlow_analysis_options ao;
    barlow_analysis_options_init(&ao);
    r->delta = ao.delta;
    r->gamma = ao.gamma;
    r->top = s->a.top;
    r->attack_steps = s->a.attack_steps;
    r->attack_step = s->attack_step;
    r->attack_eps = s->attack_eps;
    r->classes = s->classes;
    r->n_classes = s->n_classes;
    r->an = s->an;
    r->ds = s->ads;
    r->names = s->names;
    r->panels = s->panels;
    r->n_panels = s->n_panels;
    r->samples = s->samples;
    r->n_samples = s->n_samples;
    r->stages = s->stages;
    r->n_stages = s->n_stages;
    r->single_file = s->a.single_file;
}

static void json_inputs(const run_result *r, sbuf *b)
{
    sbuf_puts(b, "\"inputs\":{\"model\":");
    sbuf_json_str(b, r->model);
    sbuf_puts(b, ",\"predict\":");
    sbuf_json_str(b, r->predict);
    sbuf_puts(b, ",\"features_file\":");
    sbuf_json_str(b, r->features_file);
    sbuf_puts(b, ",\"dataset\":");
    sbuf_json_str(b, r->dataset);
    sbuf_printf(b, ",\"rows\":%zu,\"extracted\":%zu,\"failures\":%zu,\"features\":%zu}",
                r->n_rows, r->n_extracted, r->n_failures, r->feature_dim);
}

static void json_options(const run_result *r, sbuf *b)
{
    sbuf_printf(b, ",\"options\":{\"k\":%zu,\"top\":%zu,\"attack_steps\":%zu,", r->k, r->top,
                r->attack_steps);
    sbuf_puts(b, "\"attack_step\":");
    sbuf_json_double(b, r->attack_steps ? r->attack_step : 0.0);
    sbuf_puts(b, ",\"attack_eps\":");
    sbuf_json_double(b, r->attack_steps ? r->attack_eps : 0.0);
    sbuf_puts(b, ",\"delta\":");
    sbuf_json_double(b, r->delta);
    sbuf_puts(b, ",\"gamma\":");
    sbuf_json_double(b, r->gamma);
    sbuf_puts(b, ",\"classes\":");
    if (!r->classes) sbuf_puts(b, "null");
    for (size_t i = 0; r->classes && i <= r->n_classes; i++)
        if (i == r->n_classes) sbuf_puts(b, "]");
        else sbuf_printf(b, "%s%d", i ? "," : "[", (int)r->classes[i]);
    sbuf_puts(b, "},\"stages\":[");
    for (size_t i = 0; i < r->n_stages; i++) {
        sbuf_printf(b, "%s{\"name\":", i ? "," : "");
        sbuf_json_str(b, r->stages[i].name);
        sbuf_puts(b, ",\"seconds\":");
        sbuf_json_double(b, r->stages[i].seconds);
        sbuf_printf(b, ",\"reused\":%s}", r->stages[i].reused ? "true" : "false");
    }
    sbuf_puts(b, "]");
}

/* One feature on a best rule: index, name, panel facts. */
static void json_feature(const run_result *r, size_t g, int32_t class_id, size_t f, sbuf *b)
{
    sbuf_printf(b, "{\"feature\":%zu,\"name\":", f);
    sbuf_json_str(b, feature_names_get(r->names, class_id, f));
    const run_panel *p = run_find_panel(r, g, f);
    sbuf_puts(b, ",\"panel\":");
    sbuf_json_str(b, p ? p->file : NULL);
    if (p) {
        sbuf_puts(b, ",\"top_value\":");
        sbuf_json_double(b, p->top_value);
        sbuf_puts(b, ",\"map_max\":");
        sbuf_json_double(b, p->map_max);
        sbuf_printf(b, ",\"rows_considered\":%zu", p->rows_considered);
    }
    sbuf_puts(b, "}");
}

static void json_depth(const run_result *r, size_t g, int32_t class_id, size_t j, sbuf *b)
{
    barlow_analysis_result res = {.version = BARLOW_ANALYSIS_RESULT_VERSION};
    const barlow_tree *t = barlow_analysis_group_tree(r->an, g, j);
    barlow_analysis_get_result(r->an, g, j, &res);
    sbuf_printf(b, "{\"depth\":%d,\"best_leaf\":%d,\"rule\":", (int)barlow_analysis_depth(r->an, j),
                (int)res.best_leaf);
    if (t && res.best_leaf >= 0) {
        sbuf rule = SBUF_INIT;
        rule_sentence(t, (size_t)res.best_leaf, r->names, class_id, &rule);
        if (sbuf_failed(&rule)) b->failed = true;
        sbuf_json_str(b, rule.data ? rule.data : "");
        sbuf_free(&rule);
    } else {
        sbuf_puts(b, "null");
    }
    sbuf_puts(b, ",\"features\":[");
    barlow_condition conds[BARLOW_TREE_MAX_DEPTH];
    size_t nc = 0;
    if (t && res.best_leaf >= 0) barlow_tree_path(t, (size_t)res.best_leaf, conds, &nc);
    for (size_t c = 0; c < nc; c++) {
        if (c) sbuf_puts(b, ",");
        json_feature(r, g, class_id, (size_t)conds[c].feature, b);
    }
    const run_samples *sm = res.best_leaf >= 0 ? run_find_samples(r, g, j, res.best_leaf) : NULL;
    sbuf_puts(b, "],\"samples\":");
    sbuf_json_str(b, sm ? sm->file : NULL);
    sbuf_puts(b, "}");
}

static void json_groups(const run_result *r, sbuf *b)
{
    sbuf_puts(b, ",\"groups\":[");
    size_t ng = barlow_analysis_group_count(r->an), shown = 0;
    sbuf page = SBUF_INIT;
    for (size_t g = 0; g < ng; g++) {
        if (!run_shows_group(r, g)) continue;
        barlow_analysis_group gr = {.version = BARLOW_ANALYSIS_GROUP_VERSION};
        barlow_analysis_get_group(r->an, g, &gr);
        sbuf_reset(&page);
        run_group_page(r, g, &page);
        sbuf_printf(b, "%s{\"index\":%zu,\"grouping\":\"%s\",\"class_id\":%d,\"class_name\":",
                    shown++ ? "," : "", g,
                    cli_grouping_name(gr.grouping),
                    (int)gr.class_id);
        sbuf_json_str(b, gr.class_name);
        sbuf_puts(b, ",\"page\":");
        sbuf_json_str(b, page.data ? page.data : "");
        sbuf_puts(b, ",\"depths\":[");
        for (size_t j = 0; j < barlow_analysis_depth_count(r->an); j++) {
            if (j) sbuf_puts(b, ",");
            json_depth(r, g, gr.class_id, j, b);
        }
        sbuf_puts(b, "]}");
    }
    sbuf_free(&page);
    sbuf_puts(b, "]");
}

void run_json(const run_result *r, sbuf *b)
{
    sbuf_printf(b, "{\"format\":\"barlow-run\",\"format_version\":1,\"libbarlow\":\"%s\",",
                barlow_version_string());
    json_inputs(r, b);
    json_options(r, b);
    json_groups(r, b);
    barlow_buffer an = {NULL, 0};
    if (barlow_analysis_to_json(r->an, &an) != BARLOW_OK) {
        b->failed = true;
        return;
    }
    sbuf_puts(b, ",\"analysis\":");
    sbuf_add(b, an.data, an.size);
    barlow_buffer_free(&an);
    sbuf_puts(b, "}\n");
}

/* Writes text to stage/rel (the staging directory is private to this run:
 * a plain write, checked to the end). */
static int write_text(run_state *s, const char *rel, const sbuf *text)
{
    char *path = run_dir_path(&s->dir, rel, false);
    if (!path || sbuf_failed(text)) {
        free(path);
        cli_set_error("out of memory writing %s", rel);
        return CLI_ERROR;
    }
    FILE *fp = fopen(path, "wx");
    bool ok = fp && fwrite(text->data, 1, text->len, fp) == text->len;
    if (fp && fclose(fp) != 0) ok = false;
    if (!ok) cli_set_error("%s: %s", path, strerror(errno));
    free(path);
    return ok ? CLI_OK : CLI_ERROR;
}

/* leaves.npz: <grouping>_depth<D>, int32 over the dataset's rows. */
static int write_leaves(run_state *s)
{
    char *path = run_dir_path(&s->dir, "leaves.npz", false);
    barlow_npz_writer *w = NULL;
    size_t n = barlow_dataset_size(s->ds), nd = barlow_analysis_depth_count(s->an);
    barlow_status st = path ? barlow_npz_writer_open(path, &w) : BARLOW_E_NOMEM;
    for (size_t b = 0; b < 2 && st == BARLOW_OK; b++) {
        if (!(s->a.groupings & (1u << b))) continue;
        for (size_t j = 0; j < nd && st == BARLOW_OK; j++) {
            char name[48];
            snprintf(name, sizeof name, "%s_depth%d", cli_grouping_name((barlow_group_by)b),
                     (int)barlow_analysis_depth(s->an, j));
            st = barlow_npz_writer_add(w, name, BARLOW_DTYPE_INT32, 1, &n,
                                       s->leaves + (b * nd + j) * n);
        }
    }
    if (st == BARLOW_OK) st = barlow_npz_writer_commit(w);
    barlow_npz_writer_free(w);
    free(path);
    return st == BARLOW_OK ? CLI_OK : run_lib_error(NULL);
}

/* The features on the shown groups' best rules, ascending, no repeats. */
static void template_text(const run_state *s, sbuf *out)
{
    size_t d = barlow_matrix_cols(s->X), *list = malloc((s->n_panels ? s->n_panels : 1) * sizeof *list);
    unsigned char *seen = calloc(d ? d : 1, 1);
    size_t n = 0;
    if (!list || !seen) {
        out->failed = true;
    } else {
        for (size_t i = 0; i < s->n_panels; i++) seen[s->panels[i].feature] = 1;
        for (size_t f = 0; f < d; f++)
            if (seen[f]) list[n++] = f;
        feature_names_template(s->names, list, n, out);
    }
    free(list);
    free(seen);
}

int run_write(run_state *s)
{
    run_result r;
    run_state_result(s, &r);
    sbuf text = SBUF_INIT;
    run_json(&r, &text);
    int rc = write_text(s, "results.json", &text);
    if (rc == CLI_OK) rc = write_leaves(s);
    if (rc == CLI_OK) {
        sbuf_reset(&text);
        template_text(s, &text);
        rc = write_text(s, "feature-names-template.json", &text);
    }
    sbuf_free(&text);
    if (rc == CLI_OK) rc = report_write(&r, s->dir.stage, s->a.single_file);
    return rc;
}

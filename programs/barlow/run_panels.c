/* barlow run, stage 3: visualizer panels for every feature on each shown
 * group's best rules (one per depth), and the failure samples of each best
 * leaf. A panel whose inputs did not change is carried over from the
 * previous run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_state.h"

/* One piece of work: a panel (feature set) or a leaf's samples. */
typedef struct job {
    size_t group, depth_index;
    int32_t leaf;     /* samples: the leaf; panels: -1 */
    size_t feature;   /* panels */
    char *file;
} job;

typedef struct job_list {
    job *v;
    size_t n, cap;
} job_list;

static int push(job_list *l, job j)
{
    if (!j.file) return -1;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        job *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            free(j.file);
            return -1;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = j;
    return 0;
}

static char *fmt(const char *f, const char *a, int32_t b, size_t c, int32_t d)
{
    char buf[128];
    snprintf(buf, sizeof buf, f, a, (int)b, c, (int)d);
    return strdup(buf);
}

static bool has_job(const job_list *l, size_t group, size_t feature)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].leaf < 0 && l->v[i].group == group && l->v[i].feature == feature) return true;
    return false;
}

/* The jobs of one group: a panel per feature on a best leaf's path (each
 * feature once) and the samples of each best leaf with failures. */
static int group_jobs(const run_state *s, size_t g, job_list *l)
{
    barlow_analysis_group gr = {.version = BARLOW_ANALYSIS_GROUP_VERSION};
    barlow_analysis_get_group(s->an, g, &gr);
    if (gr.status != BARLOW_ANALYSIS_ANALYSED) return 0;
    const char *gn = cli_grouping_name(gr.grouping);
    for (size_t j = 0; j < barlow_analysis_depth_count(s->an); j++) {
        barlow_analysis_result res = {.version = BARLOW_ANALYSIS_RESULT_VERSION};
        const barlow_tree *t = barlow_analysis_group_tree(s->an, g, j);
        if (!t || barlow_analysis_get_result(s->an, g, j, &res) != BARLOW_OK || res.best_leaf < 0)
            continue;
        barlow_condition conds[BARLOW_TREE_MAX_DEPTH];
        size_t nc = 0;
        barlow_tree_path(t, (size_t)res.best_leaf, conds, &nc);
        for (size_t c = 0; c < nc; c++) {
            size_t f = (size_t)conds[c].feature;
            if (has_job(l, g, f)) continue;
            job jb = {g, j, -1, f, fmt("panels/%s-%d-f%zu.png", gn, gr.class_id, f, 0)};
            if (push(l, jb) != 0) return -1;
        }
        barlow_tree_node nd = {.version = BARLOW_TREE_NODE_VERSION};
        barlow_tree_get_node(t, (size_t)res.best_leaf, &nd);
        if (nd.failures == 0) continue;
        job jb = {g, j, res.best_leaf, 0,
                  fmt("samples/%s-%d-depth%zu-leaf%d.png", gn, gr.class_id,
                      (size_t)barlow_analysis_depth(s->an, j), res.best_leaf)};
        if (push(l, jb) != 0) return -1;
    }
    return 0;
}

/* Dataset rows of group g (leaf >= 0: only those in that leaf at depth j). */
static size_t group_rows(const run_state *s, size_t g, size_t j, int32_t leaf, size_t *rows)
{
    barlow_analysis_group gr = {.version = BARLOW_ANALYSIS_GROUP_VERSION};
    barlow_analysis_get_group(s->an, g, &gr);
    const int32_t *ids = gr.grouping == BARLOW_GROUP_BY_LABEL ? barlow_dataset_labels(s->ads)
                                                              : barlow_dataset_predictions(s->ads);
    size_t n = barlow_dataset_size(s->ds), nd = barlow_analysis_depth_count(s->an), k = 0;
    const int32_t *lv = s->leaves + ((size_t)gr.grouping * nd + j) * n;
    for (size_t i = 0; i < s->m; i++)
        if (ids[i] == gr.class_id && (leaf < 0 || lv[s->index[i]] == leaf))
            rows[k++] = s->index[i];
    return k;
}

static barlow_status make_image(run_state *s, barlow_visualizer *v, const job *jb, size_t *rows,
                                run_panel *panel)
{
    barlow_analysis_group gr = {.version = BARLOW_ANALYSIS_GROUP_VERSION};
    barlow_analysis_get_group(s->an, jb->group, &gr);
    size_t n = group_rows(s, jb->group, jb->depth_index, jb->leaf, rows);
    char caption[256], *path = run_dir_path(&s->dir, jb->file, false);
    if (!path) return BARLOW_E_NOMEM;
    if (jb->leaf >= 0)
        snprintf(caption, sizeof caption, "%s: %.160s, depth-%d tree, leaf %d (%zu images)",
                 cli_grouping_name(gr.grouping), gr.class_name,
                 (int)barlow_analysis_depth(s->an, jb->depth_index), (int)jb->leaf, n);
    else
        snprintf(caption, sizeof caption, "%s: %.160s (%zu images)",
                 cli_grouping_name(gr.grouping), gr.class_name, n);
    barlow_status st;
    if (jb->leaf >= 0) {
        barlow_image *img = NULL;
        st = barlow_visualizer_failure_panel(v, rows, n, caption, &img);
        if (st == BARLOW_OK) st = barlow_image_save_png(img, path);
        barlow_image_free(img);
    } else {
        barlow_feature_view *fv = NULL;
        st = barlow_visualizer_view(v, jb->feature, rows, n, caption, NULL, NULL, &fv);
        if (st == BARLOW_OK) st = barlow_image_save_png(barlow_feature_view_panel(fv), path);
        barlow_view_tile t = {.version = BARLOW_VIEW_TILE_VERSION};
        if (st == BARLOW_OK) {
            panel->rows_considered = barlow_feature_view_rows_considered(fv);
            barlow_feature_view_tile(fv, BARLOW_VIEW_TOP, 0, &t);
            panel->top_value = t.value;
            barlow_feature_view_tile(fv, BARLOW_VIEW_HEATMAP, 0, &t);
            panel->map_max = t.map_max;
        }
        barlow_feature_view_free(fv);
    }
    free(path);
    return st;
}

/* A carried panel's facts, without the attacks: the top values and the
 * maximum of their maps (the panel's shared scale). */
static barlow_status carried_facts(run_state *s, barlow_visualizer *v, const job *jb,
                                   size_t *rows, run_panel *p)
{
    if (jb->leaf >= 0) return BARLOW_OK;
    size_t n = group_rows(s, jb->group, jb->depth_index, -1, rows), top[BARLOW_VISUALIZER_MAX_K];
    size_t k = 0, h = barlow_extractor_feature_map_height(s->ex),
           w = barlow_extractor_feature_map_width(s->ex);
    float values[BARLOW_VISUALIZER_MAX_K];
    barlow_status st = barlow_visualizer_rank(v, jb->feature, rows, n, 0, s->a.top, top, values,
                                              &k, &p->rows_considered);
    float *maps = st == BARLOW_OK ? malloc((k ? k : 1) * h * w * sizeof *maps) : NULL;
    if (st == BARLOW_OK && !maps) st = BARLOW_E_NOMEM;
    if (st == BARLOW_OK) st = barlow_visualizer_maps(v, jb->feature, top, k, maps);
    if (st == BARLOW_OK) {
        p->top_value = k ? values[0] : 0.0f;
        p->map_max = 0.0f;
        for (size_t i = 0; i < k * h * w; i++)
            if (maps[i] > p->map_max) p->map_max = maps[i];
    }
    free(maps);
    return st;
}

/* The key of the panels: the extraction's inputs and the panel options. */
static void panels_key(const run_state *s, sbuf *key)
{
    if (s->extract_key.data) sbuf_puts(key, s->extract_key.data);
    /* the trees (which leaves and rows the samples show) follow k and the
     * groupings; the panels follow the rows, top, attacks and seed */
    sbuf_printf(key, "k=%zu;groupings=%u;top=%zu;attack_steps=%zu;seed=%u;", s->a.k,
                (unsigned)s->a.groupings, s->a.top, s->a.attack_steps, (unsigned)s->a.seed);
}

static int create_visualizer(run_state *s, barlow_visualizer **v)
{
    barlow_visualizer_options vo;
    barlow_visualizer_options_init(&vo);
    vo.k = s->a.top;
    vo.attack = s->a.attack_steps > 0;
    if (vo.attack) vo.attack_steps = s->a.attack_steps;
    vo.seed = s->a.seed;
    if (barlow_visualizer_create(s->ex, s->ds, s->X, s->index, s->m, &vo, v) != BARLOW_OK)
        return run_lib_error("panels");
    if (vo.attack) barlow_visualizer_attack_budget(*v, &s->attack_step, &s->attack_eps);
    return CLI_OK;
}

/* Makes (or carries) every job's image; records panels and samples. */
static int run_jobs(run_state *s, job_list *l, bool same_key, size_t *carried)
{
    barlow_visualizer *v = NULL;
    size_t *rows = malloc((s->m ? s->m : 1) * sizeof *rows);
    s->panels = calloc(l->n ? l->n : 1, sizeof *s->panels);
    s->samples = calloc(l->n ? l->n : 1, sizeof *s->samples);
    int rc = rows && s->panels && s->samples ? create_visualizer(s, &v) : CLI_ERROR;
    if (!rows || !s->panels || !s->samples) cli_set_error("out of memory");
    for (size_t i = 0; rc == CLI_OK && i < l->n; i++) {
        job *jb = &l->v[i];
        run_panel p = {.group = jb->group, .feature = jb->feature, .file = jb->file};
        bool carry = same_key && run_dir_carry(&s->dir, jb->file);
        barlow_status st = carry ? carried_facts(s, v, jb, rows, &p) : make_image(s, v, jb, rows, &p);
        if (st != BARLOW_OK) {
            rc = run_lib_error(jb->file);
            break;
        }
        *carried += carry;
        if (jb->leaf >= 0)
            s->samples[s->n_samples++] = (run_samples){jb->group, jb->depth_index, jb->leaf,
                                                       jb->file};
        else
            s->panels[s->n_panels++] = p;
        cli_progress_fn(i + 1, l->n, &s->progress);
    }
    barlow_visualizer_free(v);
    free(rows);
    return rc;
}

int run_panels(run_state *s, bool *reused)
{
    job_list l = {0};
    size_t ng = barlow_analysis_group_count(s->an), carried = 0;
    int rc = CLI_OK;
    run_result view;
    run_state_result(s, &view);
    for (size_t g = 0; g < ng && rc == CLI_OK; g++)
        if (run_shows_group(&view, g) && group_jobs(s, g, &l) != 0) {
            cli_set_error("out of memory");
            rc = CLI_ERROR;
        }
    sbuf key = SBUF_INIT;
    panels_key(s, &key);
    bool same = run_dir_reuse(&s->dir, "panels", key.data, NULL);
    sbuf_free(&key);
    if (rc == CLI_OK) rc = run_dir_mkdir(&s->dir, "panels");
    if (rc == CLI_OK) rc = run_dir_mkdir(&s->dir, "samples");
    if (rc == CLI_OK) rc = run_jobs(s, &l, same, &carried);
    /* the file names move to the state, which frees them */
    s->files = malloc((l.n ? l.n : 1) * sizeof *s->files);
    for (size_t i = 0; i < l.n; i++) {
        if (s->files) s->files[s->n_files++] = l.v[i].file;
        else free(l.v[i].file);
    }
    free(l.v);
    *reused = l.n > 0 && carried == l.n;
    return rc;
}

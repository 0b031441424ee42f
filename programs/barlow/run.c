/* Small look-ups over a run_result (run.h) shared by results.json and the
 * HTML report. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "run.h"

static bool group_info(const run_result *r, size_t group, barlow_analysis_group *g)
{
    memset(g, 0, sizeof *g);
    g->version = BARLOW_ANALYSIS_GROUP_VERSION;
    return barlow_analysis_get_group(r->an, group, g) == BARLOW_OK;
}

bool run_shows_group(const run_result *r, size_t group)
{
    barlow_analysis_group g;
    if (!group_info(r, group, &g)) return false;
    if (!r->classes) return true;
    size_t lo = 0, hi = r->n_classes; /* classes ascending: binary search */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->classes[mid] == g.class_id) return true;
        if (r->classes[mid] < g.class_id) lo = mid + 1;
        else hi = mid;
    }
    return false;
}

const run_panel *run_find_panel(const run_result *r, size_t group, size_t feature)
{
    for (size_t i = 0; i < r->n_panels; i++) {
        const run_panel *p = &r->panels[i];
        if (p->group == group && p->feature == feature) return p;
    }
    return NULL;
}

const run_samples *run_find_samples(const run_result *r, size_t group, size_t depth_index,
                                    int32_t leaf)
{
    for (size_t i = 0; i < r->n_samples; i++) {
        const run_samples *s = &r->samples[i];
        if (s->group == group && s->depth_index == depth_index && s->leaf == leaf) return s;
    }
    return NULL;
}

void run_group_page_name(const run_result *r, size_t group, char *buf, size_t size)
{
    barlow_analysis_group g;
    if (!group_info(r, group, &g))
        snprintf(buf, size, "groups/group-%zu.html", group);
    else
        snprintf(buf, size, r->single_file ? "index.html#%s-%ld" : "groups/%s-%ld.html",
                 cli_grouping_name(g.grouping), (long)g.class_id);
}

void run_group_page(const run_result *r, size_t group, sbuf *out)
{
    char name[RUN_PAGE_NAME_MAX];
    run_group_page_name(r, group, name, sizeof name);
    sbuf_puts(out, name);
}

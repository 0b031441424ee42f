/* The HTML report of `barlow run` (programs/barlow/report.c) and the
 * run_result look-ups (programs/barlow/run.c), on a real analysis of a
 * small synthetic dataset whose class and feature names are hostile HTML:
 * both layouts (pages, single file), escaping, Table 1 against
 * barlow_analysis_get_evaluation, one SVG box per tree node and balanced
 * SVG markup, inlined images, no network reference, the notes of groups
 * without failures / empty / all failures, a model without mistakes,
 * --classes, and the error paths (a FIFO or a directory as an image, a
 * path leaving the run directory, an unwritable directory); and every
 * allocation of the report failed in turn, once and from then on, in a
 * child process each (white-box: bw_alloc_fail_set, lib/alloc.c): an error
 * with a message or the same report, no leaked block or byte, no partial or
 * temporary file. Compiled with the CLI's sources (report.c, run.c,
 * featnames.c, cli.c, sbuf.c, lib/utf8.c, lib/json.c, lib/alloc.c). */
#include <dirent.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "barlow/barlow.h"
#include "cli.h"
#include "featnames.h"
#include "internal.h" /* bw_alloc_fail_set, bw_alloc_live, bw_alloc_live_bytes */
#include "run.h"
#include "sbuf.h"
#include "tap.h"
#include "tmpdir.h"

/* ---- helpers ----------------------------------------------------------------- */

/* The CLI's message (programs/barlow/cli.c, linked in), as text to search. */
#define err cli_error_text()
#define clear_err() cli_set_error("%s", "")

static const char *HOSTILE = "<img src=x onerror=alert(1)>";
static const char *HOSTILE_ESC = "&lt;img src=x onerror=alert(1)&gt;";
static const char *QUOTED = "a \"quoted\" & 'odd' name";
static const char *QUOTED_ESC = "a &quot;quoted&quot; &amp; &#39;odd&#39; name";
static const char *FNAME = "<script>alert(2)</script>";
static const char *FNAME_ESC = "&lt;script&gt;alert(2)&lt;/script&gt;";

/* Reads a whole file (NUL-terminated; free it), or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *text = NULL;
    size_t len = 0, n;
    char buf[65536];
    while ((n = fread(buf, 1, sizeof buf, f)) > 0 || !text) {
        char *t = realloc(text, len + n + 1);
        if (!t) break;
        text = t;
        memcpy(text + len, buf, n);
        len += n;
        text[len] = '\0';
        if (n == 0) break;
    }
    fclose(f);
    return text;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0, len = strlen(needle);
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += len) n++;
    return n;
}

/* a/b (16 rotating buffers: copy what must last) */
static const char *path2(const char *a, const char *b)
{
    static char buf[16][2100];
    static int k;
    k = (k + 1) % 16;
    snprintf(buf[k], sizeof buf[k], "%s/%s", a, b);
    return buf[k];
}

/* Checks that every <svg ...>...</svg> of an HTML text is balanced XML:
 * tags nest, attribute values are quoted without '<', text has no '<' and
 * every '&' starts an entity. Returns NULL or what is wrong. */
static const char *svg_check_one(const char *p, const char *end)
{
    char stack[64][32];
    int top = 0;
    while (p < end) {
        if (*p == '&') {
            const char *q = p + 1;
            if (*q == '#') q++;
            while ((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9')) q++;
            if (*q != ';' || q == p + 1) return "a bare '&'";
            p = q + 1;
            continue;
        }
        if (*p != '<') {
            if (*p == '>') return "a bare '>' in text";
            p++;
            continue;
        }
        bool closing = p[1] == '/';
        const char *s = p + (closing ? 2 : 1), *e = s;
        while ((*e >= 'a' && *e <= 'z') || (*e >= 'A' && *e <= 'Z')) e++;
        size_t len = (size_t)(e - s);
        if (len == 0 || len >= 32) return "a bad tag name";
        /* attributes: name="value" */
        const char *q = e;
        while (*q && *q != '>' && !(q[0] == '/' && q[1] == '>')) {
            if (*q == '"') {
                const char *z = strchr(q + 1, '"');
                if (!z) return "an unterminated attribute";
                for (const char *y = q + 1; y < z; y++)
                    if (*y == '<') return "'<' in an attribute";
                q = z + 1;
            } else if (*q == '<' || *q == '\'') {
                return "a stray character in a tag";
            } else {
                q++;
            }
        }
        if (!*q) return "an unterminated tag";
        bool self = q[0] == '/';
        if (closing) {
            if (top == 0 || strncmp(stack[top - 1], s, len) || stack[top - 1][len])
                return "mismatched closing tag";
            top--;
        } else if (!self) {
            if (top == 64) return "too deep";
            memcpy(stack[top], s, len);
            stack[top++][len] = '\0';
        }
        p = q + (self ? 2 : 1);
    }
    return top ? "unclosed tags" : NULL;
}

static const char *svg_check(const char *html, size_t *n_svg)
{
    *n_svg = 0;
    for (const char *p = html; (p = strstr(p, "<svg")) != NULL;) {
        const char *e = strstr(p, "</svg>");
        if (!e) return "no </svg>";
        e += 6;
        const char *why = svg_check_one(p, e);
        if (why) return why;
        (*n_svg)++;
        p = e;
    }
    return NULL;
}

/* ---- the fixture: a dataset, its analysis, images ------------------------------ */

enum { N = 130, D = 6 };

/* Classes: 0 hostile (16 of 40 fail), 1 quoted (10 of 40), 2 plain (6 of
 * 30), 3 perfect (10, none fail), 4 lost (10, all predicted as 0: its
 * label group is all failures, its prediction group is empty). Column 2
 * separates failures (high) from correct rows (low); the rest is noise. */
typedef struct fixture {
    barlow_dataset *ds;
    barlow_matrix *X;
    barlow_analysis *an;
    feature_names *names;
    size_t n_failures;
    run_panel panels[64];
    size_t n_panels;
    run_samples samples[64];
    size_t n_samples;
    char files[128][64];
    size_t n_files;
} fixture;

static uint64_t rng = 42;
static double urand(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static void make_rows(int32_t *lab, int32_t *pred, uint8_t *fail)
{
    static const struct { int32_t c, n, nfail, wrong; } spec[] = {
        {0, 40, 16, 1}, {1, 40, 10, 2}, {2, 30, 6, 0}, {3, 10, 0, 3}, {4, 10, 10, 0}};
    size_t r = 0;
    for (size_t s = 0; s < sizeof spec / sizeof spec[0]; s++)
        for (int32_t i = 0; i < spec[s].n; i++, r++) {
            lab[r] = spec[s].c;
            fail[r] = i < spec[s].nfail;
            pred[r] = fail[r] ? spec[s].wrong : spec[s].c;
        }
}

static int fixture_analyze(fixture *fx)
{
    int32_t lab[N], pred[N];
    uint8_t fail[N];
    const char *names[] = {HOSTILE, QUOTED, "plain", "perfect", "lost"};
    make_rows(lab, pred, fail);
    if (barlow_dataset_create(N, lab, pred, names, 5, &fx->ds) != BARLOW_OK) return -1;
    if (barlow_matrix_create(N, D, &fx->X) != BARLOW_OK) return -1;
    float *x = barlow_matrix_data_mut(fx->X);
    for (size_t r = 0; r < N; r++) {
        for (size_t j = 0; j < D; j++) x[r * D + j] = (float)urand();
        /* failures high in column 2, overlapping the correct rows; in the
         * overlap column 4 tells them apart (deeper trees) */
        double u = urand();
        x[r * D + 2] = (float)(fail[r] ? 0.5 + 0.4 * u : 0.1 + 0.5 * u);
        if (x[r * D + 2] > 0.5) x[r * D + 4] = (float)(fail[r] ? 0.6 + 0.4 * urand()
                                                               : 0.5 * urand());
        fx->n_failures += fail[r];
    }
    barlow_analysis_options o;
    barlow_analysis_options_init(&o);
    int32_t depths[2] = {1, 2};
    o.k = 3;
    o.depths = depths;
    o.n_depths = 2;
    o.threads = 1;
    return barlow_analysis_run(fx->X, fx->ds, &o, NULL, NULL, &fx->an) == BARLOW_OK ? 0 : -1;
}

/* A w x h PNG at rel in both run directories. */
static int write_png(const char *const dirs[2], const char *rel, size_t w, size_t h)
{
    barlow_image *img = NULL;
    if (barlow_image_create(w, h, 3, &img) != BARLOW_OK) return -1;
    uint8_t *p = barlow_image_data_mut(img);
    for (size_t y = 0; y < h; y++) /* tiles of smooth gradients */
        for (size_t x = 0; x < w; x++)
            for (size_t k = 0; k < 3; k++)
                p[(y * w + x) * 3 + k] = (uint8_t)((x % 90) * 2 + (y % 90) + 40 * k);
    barlow_status st = barlow_image_save_png(img, path2(dirs[0], rel));
    if (st == BARLOW_OK) st = barlow_image_save_png(img, path2(dirs[1], rel));
    barlow_image_free(img);
    return st == BARLOW_OK ? 0 : -1;
}

static const char *fx_file(fixture *fx, const char *fmt, size_t a, size_t b, size_t c)
{
    char *f = fx->files[fx->n_files++];
    snprintf(f, sizeof fx->files[0], fmt, a, b, c);
    return f;
}

/* A panel per feature on each best leaf's path, failure samples per best
 * leaf, as small PNGs in panels/ and samples/ of both run directories. */
static int fixture_images(fixture *fx, const char *const dirs[2])
{
    for (int i = 0; i < 2; i++)
        if (mkdir(path2(dirs[i], "panels"), 0777) || mkdir(path2(dirs[i], "samples"), 0777))
            return -1;
    for (size_t g = 0; g < barlow_analysis_group_count(fx->an); g++)
        for (size_t j = 0; j < barlow_analysis_depth_count(fx->an); j++) {
            barlow_analysis_result res = {.version = BARLOW_ANALYSIS_RESULT_VERSION};
            const barlow_tree *t = barlow_analysis_group_tree(fx->an, g, j);
            if (!t || barlow_analysis_get_result(fx->an, g, j, &res) || res.best_leaf <= 0)
                continue;
            barlow_condition conds[BARLOW_TREE_MAX_DEPTH];
            size_t nc = 0;
            barlow_tree_path(t, (size_t)res.best_leaf, conds, &nc);
            for (size_t k = 0; k < nc; k++) {
                size_t f = (size_t)conds[k].feature;
                bool have = false;
                for (size_t i = 0; i < fx->n_panels; i++)
                    have |= fx->panels[i].group == g && fx->panels[i].feature == f;
                if (have) continue;
                /* one file name with a quote, to be percent-encoded */
                const char *file = fx_file(fx, g == 0 ? "panels/g%zu-it's-f%zu.png"
                                                      : "panels/g%zu-f%zu.png", g, f, 0);
                if (write_png(dirs, file, 540, 270)) return -1;
                fx->panels[fx->n_panels++] =
                    (run_panel){g, f, file, 40, 0.91f, 2.5f};
            }
            const char *file = fx_file(fx, "samples/g%zu-d%zu-l%zu.png", g, j,
                                       (size_t)res.best_leaf);
            if (write_png(dirs, file, 360, 90)) return -1;
            fx->samples[fx->n_samples++] = (run_samples){g, j, res.best_leaf, file};
        }
    return 0;
}

static int fixture_names(fixture *fx)
{
    char json[256];
    snprintf(json, sizeof json, "{\"2\": \"%s\", \"0\": \"zero\"}", "<script>alert(2)<\\/script>");
    const char *path = tmp_path("names.json");
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fputs(json, f);
    fclose(f);
    return feature_names_load(path, fx->ds, D, &fx->names) == CLI_OK ? 0 : -1;
}

static const run_stage stages[] = {
    {"extract", 12.5, true}, {"analyze", 0.8, false}, {"panels", 75.0, false}};

static run_result fixture_result(const fixture *fx)
{
    run_result r;
    memset(&r, 0, sizeof r);
    r.model = "models/robust \"r50\".pt";
    r.predict = "models/<inspected>.pt";
    r.dataset = "metadata data/m.csv, images data/img";
    r.n_rows = N + 2;
    r.n_extracted = N;
    r.n_failures = fx->n_failures;
    r.feature_dim = D;
    r.k = 3;
    r.delta = 0.1;
    r.gamma = 0.2;
    r.top = 6;
    r.attack_steps = 200;
    r.attack_step = 1.0;
    r.attack_eps = 500;
    r.an = fx->an;
    r.ds = fx->ds;
    r.names = fx->names;
    r.panels = fx->panels;
    r.n_panels = fx->n_panels;
    r.samples = fx->samples;
    r.n_samples = fx->n_samples;
    r.stages = stages;
    r.n_stages = 3;
    return r;
}

/* ---- checks --------------------------------------------------------------------- */

static size_t group_index(const barlow_analysis *an, barlow_group_by by, int32_t c)
{
    for (size_t i = 0; i < barlow_analysis_group_count(an); i++) {
        barlow_analysis_group g = {.version = BARLOW_ANALYSIS_GROUP_VERSION};
        barlow_analysis_get_group(an, i, &g);
        if (g.grouping == by && g.class_id == c) return i;
    }
    return SIZE_MAX;
}

static void check_helpers(const fixture *fx)
{
    run_result r = fixture_result(fx);
    sbuf b = SBUF_INIT;
    size_t g0 = group_index(fx->an, BARLOW_GROUP_BY_LABEL, 0);
    size_t p4 = group_index(fx->an, BARLOW_GROUP_BY_PREDICTION, 4);
    run_group_page(&r, g0, &b);
    TAP_OK(b.data && !strcmp(b.data, "groups/label-0.html"), "run_group_page: %s", b.data);
    sbuf_reset(&b);
    run_group_page(&r, p4, &b);
    TAP_OK(b.data && !strcmp(b.data, "groups/prediction-4.html"), "run_group_page: %s", b.data);
    sbuf_free(&b);
    TAP_OK(fx->n_panels > 0 && run_find_panel(&r, fx->panels[0].group, fx->panels[0].feature) ==
                                   &fx->panels[0],
           "run_find_panel finds a panel");
    TAP_OK(!run_find_panel(&r, g0, 999), "run_find_panel: NULL for another feature");
    TAP_OK(fx->n_samples > 0 && run_find_samples(&r, fx->samples[0].group,
                                                 fx->samples[0].depth_index,
                                                 fx->samples[0].leaf) == &fx->samples[0],
           "run_find_samples finds samples");
    TAP_OK(!run_find_samples(&r, g0, 0, 12345), "run_find_samples: NULL for another leaf");
    const int32_t cls[] = {1, 4};
    r.classes = cls;
    r.n_classes = 2;
    TAP_OK(!run_shows_group(&r, g0) && run_shows_group(&r, p4) &&
               run_shows_group(&r, group_index(fx->an, BARLOW_GROUP_BY_LABEL, 1)),
           "run_shows_group follows --classes");
    r.classes = NULL;
    TAP_OK(run_shows_group(&r, g0), "run_shows_group: every group without --classes");
}

/* What holds for every file of a report. */
static void check_file(const char *path, const char *text)
{
    TAP_OK(text != NULL, "%s exists", path);
    if (!text) return;
    TAP_OK(!strstr(text, HOSTILE) && !strstr(text, "<img src=x"),
           "%s: the hostile class name never raw", path);
    TAP_OK(!strstr(text, QUOTED) && !strstr(text, "\"quoted\""), "%s: the quoted name never raw",
           path);
    TAP_OK(!strstr(text, FNAME) && !strstr(text, "<script>alert"),
           "%s: the hostile feature name never raw", path);
    /* the SVG namespace of the tree drawings names no resource */
    size_t ns = count(text, "xmlns=\"http://www.w3.org/2000/svg\"");
    TAP_OK(count(text, "http://") == ns && !strstr(text, "https://") &&
               count(text, "//www") == ns,
           "%s: no network reference", path);
    size_t n_svg = 0;
    const char *why = svg_check(text, &n_svg);
    TAP_OK(!why, "%s: %zu SVG drawings are balanced XML%s%s", path, n_svg, why ? ": " : "",
           why ? why : "");
}

static void check_table1(const fixture *fx, const char *index, const char *what)
{
    size_t found = 0, total = 0;
    for (int b = 0; b < 2; b++)
        for (size_t j = 0; j < barlow_analysis_depth_count(fx->an); j++) {
            barlow_analysis_evaluation e = {.version = BARLOW_ANALYSIS_EVALUATION_VERSION};
            if (barlow_analysis_get_evaluation(fx->an, (barlow_group_by)b, j, &e)) continue;
            char want[200];
            snprintf(want, sizeof want,
                     "data-grouping=\"%s\" data-depth=\"%d\" data-valid=\"%zu\" "
                     "data-groups=\"%zu\"><td>by %s</td><td class=\"n\">%d</td><td class=\"n\">"
                     "%zu</td><td class=\"n\">%zu</td>",
                     b ? "prediction" : "label", (int)e.depth, e.valid, e.groups,
                     b ? "prediction" : "label", (int)e.depth, e.valid, e.groups);
            total++;
            found += strstr(index, want) != NULL;
        }
    TAP_OK(total == 4 && found == total, "%s: Table 1 rows match the evaluation (%zu of %zu)",
           what, found, total);
}

/* Node boxes of the group's trees, or 0 when it has no analysed tree. */
static size_t expected_nodes(const barlow_analysis *an, size_t g)
{
    barlow_analysis_group gr = {.version = BARLOW_ANALYSIS_GROUP_VERSION};
    barlow_analysis_get_group(an, g, &gr);
    if (gr.status != BARLOW_ANALYSIS_ANALYSED) return 0;
    size_t n = 0;
    for (size_t j = 0; j < barlow_analysis_depth_count(an); j++)
        n += barlow_tree_node_count(barlow_analysis_group_tree(an, g, j));
    return n;
}

/* The part of a single-file index.html that is group `slug`'s section. */
static char *section_of(const char *index, const char *slug)
{
    char open[96];
    snprintf(open, sizeof open, "<section class=\"group\" id=\"%s\">", slug);
    const char *s = strstr(index, open);
    if (!s) return NULL;
    const char *e = strstr(s + 1, "<section class=\"group\"");
    if (!e) e = s + strlen(s);
    char *out = malloc((size_t)(e - s) + 1);
    memcpy(out, s, (size_t)(e - s));
    out[e - s] = '\0';
    return out;
}

/* Node boxes narrower than their text: per text row (same y) its
 * characters at 6 px each (less than any sans-serif font's average at the
 * drawing's 12 px), the 9 px insets and 18 px between a left and a right
 * text. Returns how many boxes are too narrow; *n_boxes counts them all. */
static size_t narrow_boxes(const char *t, size_t *n_boxes)
{
    size_t bad = 0;
    *n_boxes = 0;
    for (const char *p = t; (p = strstr(p, "<g class=\"node")) != NULL; p++) {
        const char *end = strstr(p, "</g>"), *r = strstr(p, "<rect class=\"box\" width=\"");
        if (!end || !r || r > end) return bad + 1;
        double w = atof(r + strlen("<rect class=\"box\" width=\"")), need = 0;
        double row_y = -1, row = 0;
        for (const char *q = r; (q = strstr(q, "<text")) != NULL && q < end; q++) {
            const char *y = strstr(q, " y=\""), *gt = strchr(q, '>'), *close = strstr(q, "</text>");
            if (!y || !gt || !close) return bad + 1;
            size_t chars = 0;
            for (const char *c = gt + 1; c < close; c++) chars += ((unsigned char)*c & 0xC0) != 0x80;
            double yy = atof(y + 4);
            row = yy == row_y ? row + 18 + 6.0 * (double)chars : 18 + 6.0 * (double)chars;
            row_y = yy;
            if (row > need) need = row;
        }
        (*n_boxes)++;
        bad += w < need;
    }
    return bad;
}

/* Best leaves of group g whose ER is not above the group's BER. */
static size_t weak_best_leaves(const barlow_analysis *an, size_t g)
{
    barlow_analysis_group gr = {.version = BARLOW_ANALYSIS_GROUP_VERSION};
    barlow_analysis_get_group(an, g, &gr);
    size_t n = 0;
    if (gr.status != BARLOW_ANALYSIS_ANALYSED || gr.failures == 0) return 0;
    for (size_t j = 0; j < barlow_analysis_depth_count(an); j++) {
        barlow_analysis_result res = {.version = BARLOW_ANALYSIS_RESULT_VERSION};
        if (!barlow_analysis_group_tree(an, g, j) || barlow_analysis_get_result(an, g, j, &res))
            continue;
        n += res.best_leaf >= 0 && res.best_error_rate <= gr.base_error_rate;
    }
    return n;
}

static void check_tree_drawing(const fixture *fx, size_t g, const char *slug, const char *t,
                               const char *what)
{
    size_t n_boxes = 0, bad = narrow_boxes(t, &n_boxes);
    TAP_OK(bad == 0 && n_boxes > 0, "%s %s: %zu node boxes are wide enough for their text (%zu "
           "too narrow)", what, slug, n_boxes, bad);
    TAP_OK(count(t, "<rect class=\"lbg\"") == count(t, "<g class=\"elabel\">") &&
               count(t, "<g class=\"elabel\">") > 0,
           "%s %s: every edge label on an opaque box (%zu)", what, slug,
           count(t, "<rect class=\"lbg\""));
    TAP_OK(count(t, "style=\"min-width:") == count(t, "<svg") &&
               count(t, " viewBox=\"0 0 ") == count(t, "<svg"),
           "%s %s: each tree scales down to the page (viewBox, a least width)", what, slug);
    size_t weak = weak_best_leaves(fx->an, g);
    TAP_OK(count(t, "highest IV, but its error rate is not above the group") == weak &&
               count(t, "(highest IV, but its ER is not above the BER)") == weak,
           "%s %s: %zu best leaves with ER <= BER say so", what, slug, weak);
}

static void check_group_text(const fixture *fx, size_t g, const char *slug, const char *t,
                             const char *what)
{
    size_t want = expected_nodes(fx->an, g);
    barlow_analysis_group gr = {.version = BARLOW_ANALYSIS_GROUP_VERSION};
    barlow_analysis_get_group(fx->an, g, &gr);
    if (want) {
        TAP_OK(count(t, "<svg") == barlow_analysis_depth_count(fx->an) &&
                   count(t, "<g class=\"node") == want,
               "%s %s: one SVG per depth, %zu node boxes (%zu)", what, slug, want,
               count(t, "<g class=\"node"));
        TAP_OK(strstr(t, "Rules by importance") && strstr(t, "Name these features") &&
                   strstr(t, "<pre>{") && strstr(t, "feature-names-template.json"),
               "%s %s: rules, the name template and its file", what, slug);
        check_tree_drawing(fx, g, slug, t, what);
    }
    if (gr.status == BARLOW_ANALYSIS_NO_FAILURES)
        TAP_OK(strstr(t, "No failures in this group") && !strstr(t, "<svg"),
               "%s %s: says it has no failures", what, slug);
    if (gr.status == BARLOW_ANALYSIS_EMPTY)
        TAP_OK(strstr(t, "This group is empty") && !strstr(t, "<svg"), "%s %s: says it is empty",
               what, slug);
    if (gr.status == BARLOW_ANALYSIS_NO_CORRECT)
        TAP_OK(strstr(t, "is a failure") && !strstr(t, "<svg"),
               "%s %s: says every image is a failure", what, slug);
}

static void check_pages(const fixture *fx, const char *dir)
{
    char *index = slurp(path2(dir, "index.html"));
    char *css = slurp(path2(dir, "report.css"));
    check_file("pages/index.html", index);
    TAP_OK(css && strstr(css, "prefers-color-scheme:dark"), "pages: report.css with a dark theme");
    if (!index) goto done;
    TAP_OK(strstr(index, "href=\"report.css\"") && !strstr(index, "<style>"),
           "pages: index.html links report.css relatively");
    TAP_OK(strstr(index, HOSTILE_ESC) && strstr(index, QUOTED_ESC),
           "pages: class names shown escaped");
    TAP_OK(strstr(index, "href=\"groups/label-0.html\"") &&
               strstr(index, "href=\"groups/prediction-4.html\""),
           "pages: rows link to their group pages");
    TAP_OK(strstr(index, "models/<wbr>&lt;inspected&gt;.pt") &&
               strstr(index, "models/<wbr>robust &quot;r50&quot;.pt") &&
               strstr(index, "<dd>metadata data/<wbr>m.csv, images data/<wbr>img</dd>"),
           "pages: paths escaped, breaking after a '/'");
    TAP_OK(css && !strstr(css, "dd{margin:0;font-weight:600;overflow-wrap:anywhere"),
           "pages: facts do not break inside a name");
    TAP_OK(!strstr(index, "makes no mistakes"), "pages: no 'no mistakes' note with failures");
    TAP_OK(strstr(index, "<script>") && strstr(index, "table class=\"sortable"),
           "pages: a sortable table");
    check_table1(fx, index, "pages");
    for (size_t g = 0; g < barlow_analysis_group_count(fx->an); g++) {
        sbuf page = SBUF_INIT;
        run_result r = fixture_result(fx);
        run_group_page(&r, g, &page);
        char *t = slurp(path2(dir, page.data));
        check_file(page.data, t);
        if (t) {
            check_group_text(fx, g, page.data, t, "pages");
            TAP_OK(strstr(t, "href=\"../report.css\"") && strstr(t, "href=\"../index.html\""),
                   "%s: links up to the overview and the stylesheet", page.data);
            if (expected_nodes(fx->an, g))
                TAP_OK(strstr(t, "<a href=\"../feature-names-template.json\">") &&
                           !strstr(t, "data:application/json"),
                       "%s: links the template file", page.data);
        }
        free(t);
        sbuf_free(&page);
    }
    char *g0 = slurp(path2(dir, "groups/label-0.html"));
    TAP_OK(g0 && strstr(g0, "src=\"../panels/g0-it%27s-f2.png\"") &&
               strstr(g0, "width=\"540\" height=\"270\" alt=\""),
           "pages: panel linked with a percent-encoded name, its size and alt text");
    TAP_OK(g0 && strstr(g0, "src=\"../samples/") && strstr(g0, FNAME_ESC),
           "pages: failure samples linked; the feature name escaped");
    TAP_OK(g0 && strstr(g0, "<a class=\"full\" href=\"../panels/g0-it%27s-f2.png\"") &&
               strstr(g0, "<a class=\"full\" href=\"../samples/"),
           "pages: panels and samples link to the full-size file");
    free(g0);
done:
    free(index);
    free(css);
}

/* The template link of the single file: feature-names-template.json
 * itself as a data: URI (the features of the panels, as run_write()
 * writes the file), never a link to the file. */
static void check_single_template(const fixture *fx, const char *index)
{
    size_t f[64], n = 0;
    for (size_t i = 0; i < fx->n_panels; i++) {
        size_t k = 0;
        while (k < n && f[k] != fx->panels[i].feature) k++;
        if (k == n) f[n++] = fx->panels[i].feature;
    }
    for (size_t i = 1; i < n; i++) /* ascending */
        for (size_t k = i; k > 0 && f[k - 1] > f[k]; k--) {
            size_t x = f[k];
            f[k] = f[k - 1];
            f[k - 1] = x;
        }
    sbuf json = SBUF_INIT, link = SBUF_INIT;
    feature_names_template(fx->names, f, n, &json);
    sbuf_puts(&link, "<a download=\"feature-names-template.json\" "
                     "href=\"data:application/json;base64,");
    sbuf_base64(&link, json.data, json.len);
    sbuf_puts(&link, "\">");
    size_t links = count(index, "download=\"feature-names-template.json\"");
    TAP_OK(!strstr(index, "href=\"feature-names-template.json\"") && links > 0 &&
               link.data && count(index, link.data) == links,
           "single: %zu template links, each the template as a data: URI (%s)", links,
           json.data ? json.data : "");
    sbuf_free(&json);
    sbuf_free(&link);
}

static void check_single(const fixture *fx, const char *dir)
{
    char *index = slurp(path2(dir, "index.html"));
    check_file("single/index.html", index);
    struct stat st;
    TAP_OK(stat(path2(dir, "report.css"), &st) != 0 && stat(path2(dir, "groups"), &st) != 0,
           "single: no report.css, no groups/");
    if (!index) return;
    TAP_OK(strstr(index, "<style>") && !strstr(index, "<link"), "single: the CSS inline");
    TAP_OK(!strstr(index, "src=\"panels/") && !strstr(index, "src=\"samples/") &&
               count(index, "src=\"data:image/png;base64,") == fx->n_panels + fx->n_samples,
           "single: every image inlined (%zu)", count(index, "data:image/png;base64,"));
    TAP_OK(strstr(index, "href=\"#label-0\"") && strstr(index, "href=\"#prediction-4\""),
           "single: rows link to their sections");
    check_table1(fx, index, "single");
    check_single_template(fx, index);
    TAP_OK(!strstr(index, "<a class=\"full\"") &&
               count(index, "<article class=\"leaf best wide\"") == fx->n_samples,
           "single: no links to image files; the %zu cards with samples span the row",
           fx->n_samples);
    for (size_t g = 0; g < barlow_analysis_group_count(fx->an); g++) {
        barlow_analysis_group gr = {.version = BARLOW_ANALYSIS_GROUP_VERSION};
        barlow_analysis_get_group(fx->an, g, &gr);
        char slug[48];
        snprintf(slug, sizeof slug, "%s-%d", gr.grouping ? "prediction" : "label",
                 (int)gr.class_id);
        char *t = section_of(index, slug);
        TAP_OK(t != NULL, "single: a section for %s", slug);
        if (t) check_group_text(fx, g, slug, t, "single");
        free(t);
    }
    free(index);
}

static void check_no_mistakes(const fixture *fx, const char *dir)
{
    run_result r = fixture_result(fx);
    r.n_failures = 0;
    r.predict = NULL;
    r.n_panels = r.n_samples = 0; /* no images in this directory */
    r.names = NULL;                /* no --feature-names */
    mkdir(dir, 0777);
    int rc = report_write(&r, dir, true);
    char *index = slurp(path2(dir, "index.html"));
    TAP_OK(rc == CLI_OK && index && strstr(index, "makes no mistakes") &&
               strstr(index, "predictions from the dataset"),
           "a run without failures says the model makes no mistakes ('%s')", err);
    TAP_OK(index && !strstr(index, FNAME_ESC) && strstr(index, "feature 2 ") &&
               strstr(index, "<pre>{&quot;2&quot;: &quot;&quot;"),
           "without feature names: plain labels and an empty template");
    free(index);
}

static void check_classes(const fixture *fx, const char *dir)
{
    run_result r = fixture_result(fx);
    const int32_t cls[] = {1};
    r.classes = cls;
    r.n_classes = 1;
    r.n_panels = r.n_samples = 0; /* no images in this directory */
    mkdir(dir, 0777);
    int rc = report_write(&r, dir, false);
    char *index = slurp(path2(dir, "index.html"));
    struct stat st;
    TAP_OK(rc == CLI_OK && index && strstr(index, "id=\"row-label-1\"") &&
               !strstr(index, "id=\"row-label-0\"") &&
               stat(path2(dir, "groups/label-1.html"), &st) == 0 &&
               stat(path2(dir, "groups/label-0.html"), &st) != 0,
           "--classes: only the chosen classes get rows and pages");
    check_table1(fx, index ? index : "", "--classes");
    free(index);
    char *g1 = slurp(path2(dir, "groups/label-1.html"));
    TAP_OK(g1 && strstr(g1, "no panel was made for this feature") && !strstr(g1, "<img"),
           "a feature without a panel says so");
    free(g1);
}

/* A group whose best leaf (highest IV) has an error rate below the BER:
 * 200 images labelled 0, half failures; feature 0 puts 20 images apart
 * (16 failures: ER 80%, EC 16%, IV 0.128) from 180 (84 failures: ER 46.7%,
 * EC 84%, IV 0.392, the best leaf). The report says the best leaf is no
 * failure mode. */
static void check_weak_best(const char *dir)
{
    enum { M = 200 };
    int32_t lab[M], pred[M];
    barlow_dataset *ds = NULL;
    barlow_matrix *X = NULL;
    barlow_analysis *an = NULL;
    const char *names[] = {"zero", "one"};
    for (size_t i = 0; i < M; i++) {
        bool fail = i < 180 ? i % 15 < 7 : (i - 180) % 5 != 0;
        lab[i] = 0;
        pred[i] = fail ? 1 : 0;
    }
    barlow_analysis_options o;
    barlow_analysis_options_init(&o);
    int32_t depth = 1;
    o.k = 1;
    o.depths = &depth;
    o.n_depths = 1;
    o.threads = 1;
    bool ok = barlow_dataset_create(M, lab, pred, names, 2, &ds) == BARLOW_OK &&
              barlow_matrix_create(M, 1, &X) == BARLOW_OK;
    for (size_t i = 0; ok && i < M; i++)
        barlow_matrix_data_mut(X)[i] = (float)(i < 180 ? (double)i / 400 : 0.6 + (i - 180) / 100.0);
    ok = ok && barlow_analysis_run(X, ds, &o, NULL, NULL, &an) == BARLOW_OK;
    size_t g = ok ? group_index(an, BARLOW_GROUP_BY_LABEL, 0) : SIZE_MAX;
    TAP_OK(ok && g != SIZE_MAX && weak_best_leaves(an, g) == 1,
           "a group whose best leaf has ER <= BER: %s", barlow_last_error());
    run_result r;
    memset(&r, 0, sizeof r);
    r.model = "m.pt";
    r.dataset = "d";
    r.n_rows = r.n_extracted = M;
    r.n_failures = 100;
    r.feature_dim = 1;
    r.k = 1;
    r.delta = 0.1;
    r.gamma = 0.2;
    r.an = an;
    r.ds = ds;
    mkdir(dir, 0777);
    clear_err();
    char *index = NULL, *sec = NULL;
    if (ok && report_write(&r, dir, true) == CLI_OK) index = slurp(path2(dir, "index.html"));
    if (index) sec = section_of(index, "label-0");
    TAP_OK(sec && count(sec, "highest IV, but its error rate is not above the group's (BER "
                             "50.0%)") == 1 &&
               count(sec, "(highest IV, but its ER is not above the BER)") == 1,
           "the best leaf with ER <= BER says it is not above the BER ('%s')", err);
    free(sec);
    free(index);
    barlow_analysis_free(an);
    barlow_matrix_free(X);
    barlow_dataset_free(ds);
}

static void check_errors(fixture *fx, const char *base)
{
    run_result r = fixture_result(fx);
    char d1[1024];
    snprintf(d1, sizeof d1, "%s/err1", base);
    mkdir(d1, 0777);
    mkdir(path2(d1, "panels"), 0777);
    TAP_OK(mkfifo(path2(d1, "panels/fifo.png"), 0600) == 0, "made a FIFO");
    run_panel p = fx->panels[0];
    p.file = "panels/fifo.png";
    r.panels = &p;
    r.n_panels = 1;
    r.n_samples = 0;
    clear_err();
    TAP_OK(report_write(&r, d1, true) == CLI_ERROR && strstr(err, "fifo.png") &&
               strstr(err, "not a regular file"),
           "a FIFO as an image is refused without blocking: %s", err);
    p.file = "panels";
    clear_err();
    TAP_OK(report_write(&r, d1, false) == CLI_ERROR && strstr(err, "not a regular file"),
           "a directory as an image is refused: %s", err);
    p.file = "../escape.png";
    clear_err();
    TAP_OK(report_write(&r, d1, false) == CLI_ERROR && strstr(err, "../escape.png"),
           "a path leaving the run directory is refused: %s", err);
    p.file = "panels/missing.png";
    clear_err();
    TAP_OK(report_write(&r, d1, false) == CLI_ERROR && strstr(err, "missing.png") &&
               strstr(err, "No such file"),
           "a missing image names the file: %s", err);
    FILE *f = fopen(path2(d1, "panels/text.png"), "wb");
    if (f) {
        fputs("this is not a PNG file at all, only text", f);
        fclose(f);
    }
    p.file = "panels/text.png";
    clear_err();
    TAP_OK(report_write(&r, d1, true) == CLI_ERROR && strstr(err, "not a PNG"),
           "a file that is not a PNG is refused: %s", err);
    r = fixture_result(fx);
    char gone[1024];
    snprintf(gone, sizeof gone, "%s/no/such/dir", base);
    clear_err();
    TAP_OK(report_write(&r, gone, false) == CLI_ERROR && strstr(err, gone),
           "an unwritable directory names the file: %s", err);
}

/* ---- allocation failures --------------------------------------------------------- */

/* The state of a run directory as text: every file and directory below it
 * (sorted, relative names; directories end in '/') with each file's size
 * and FNV-1a hash (not for the input images in panels/ and samples/, which
 * the report only reads). Equal fingerprints: the same files, the same
 * bytes. */
enum { FP_MAX = 256 };
static char fp_names[FP_MAX][300];
static size_t fp_n;
static size_t fp_root;

static int fp_visit(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (strlen(path) <= fp_root || fp_n == FP_MAX) return 0;
    snprintf(fp_names[fp_n++], sizeof fp_names[0], "%s%s", path + fp_root + 1,
             flag == FTW_D ? "/" : S_ISREG(sb->st_mode) ? "" : "?");
    return 0;
}

static int fp_cmp(const void *a, const void *b) { return strcmp(a, b); }

static void dir_fingerprint(const char *dir, char *out, size_t size)
{
    fp_n = 0;
    fp_root = strlen(dir);
    nftw(dir, fp_visit, 16, FTW_PHYS);
    qsort(fp_names, fp_n, sizeof fp_names[0], fp_cmp);
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < fp_n; i++) {
        uint64_t h = 1469598103934665603ull;
        size_t bytes = 0;
        const char *name = fp_names[i];
        bool input = !strncmp(name, "panels/", 7) || !strncmp(name, "samples/", 8);
        char path[1400];
        int pn = snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *f = input || name[strlen(name) - 1] == '/' || pn < 0 || (size_t)pn >= sizeof path
                      ? NULL
                      : fopen(path, "rb");
        unsigned char buf[65536];
        size_t n;
        while (f && (n = fread(buf, 1, sizeof buf, f)) > 0)
            for (size_t k = 0; k < n; k++, bytes++) h = (h ^ buf[k]) * 1099511628211ull;
        if (f) fclose(f);
        int w = snprintf(out + len, size - len, "%s %zu %016llx\n", fp_names[i], bytes,
                         (unsigned long long)h);
        if (w < 0 || (size_t)w >= size - len) break;
        len += (size_t)w;
    }
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag == FTW_DP) rmdir(path);
    else unlink(path);
    return 0;
}

/* Back to the run directory before the report: only panels/ and samples/. */
static void reset_run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char names[64][256];
    size_t n = 0;
    while (d && (e = readdir(d)) != NULL && n < 64)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "panels") &&
            strcmp(e->d_name, "samples"))
            snprintf(names[n++], sizeof names[0], "%s", e->d_name);
    if (d) closedir(d);
    for (size_t i = 0; i < n; i++) {
        char path[1400];
        int pn = snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (pn > 0 && (size_t)pn < sizeof path) nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

/* What one child saw. */
typedef struct fail_run {
    long count;  /* allocations attempted */
    int rc;
    bool wrong;  /* an error without an out-of-memory message */
    bool differs; /* success, but not the report of the unfailed run */
    bool leak;   /* blocks or bytes still allocated */
    bool left;   /* a failure that left files (partial, temporary, groups/) */
} fail_run;

typedef struct sweep_figures {
    long sites, crashes, leaks, wrong, leftovers, tolerated;
} sweep_figures;

enum { FP_SIZE = 32768 };

/* report_write with allocation n failing (once, or from then on), in a
 * child process; false when the child crashed. */
static bool fail_once(const run_result *r, const char *dir, bool single, long n, bool forever,
                      const char *want, const char *before, fail_run *out)
{
    int fds[2];
    if (pipe(fds) != 0) return false;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        static char got[FP_SIZE];
        fail_run fr = {0};
        bw_alloc_fail_set(0, 0);
        long live = bw_alloc_live();
        long long bytes = bw_alloc_live_bytes();
        clear_err();
        bw_alloc_fail_set(n, forever);
        fr.rc = report_write(r, dir, single);
        fr.count = bw_alloc_count();
        bw_alloc_fail_set(0, 0);
        fr.leak = bw_alloc_live() != live || bw_alloc_live_bytes() != bytes;
        fr.wrong = fr.rc != CLI_OK && !strstr(cli_error_text(), "out of memory");
        dir_fingerprint(dir, got, sizeof got);
        fr.differs = fr.rc == CLI_OK && strcmp(got, want) != 0;
        fr.left = fr.rc != CLI_OK && strcmp(got, before) != 0;
        if (fr.wrong && getenv("REPORT_FAIL_VERBOSE"))
            fprintf(stderr, "n=%ld: %s\n", n, cli_error_text());
        ssize_t w = write(fds[1], &fr, sizeof fr);
        _exit(w == (ssize_t)sizeof fr ? 0 : 3);
    }
    close(fds[1]);
    ssize_t got = pid > 0 ? read(fds[0], out, sizeof *out) : -1;
    close(fds[0]);
    int status = 0;
    if (pid > 0) waitpid(pid, &status, 0);
    return pid > 0 && got == (ssize_t)sizeof *out && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
}

/* Fails allocation 1, 2, ... of one report layout until a write completes
 * without reaching the failing one. */
static void sweep(const fixture *fx, const char *dir, bool single, bool forever,
                  sweep_figures *total)
{
    static char want[FP_SIZE], before[FP_SIZE];
    run_result r = fixture_result(fx);
    reset_run_dir(dir);
    dir_fingerprint(dir, before, sizeof before);
    clear_err();
    bool ok = report_write(&r, dir, single) == CLI_OK;
    dir_fingerprint(dir, want, sizeof want);
    sweep_figures fg = {0};
    long n = 1, wrong_results = 0;
    for (; ok && n <= 200000; n++) {
        fail_run fr;
        reset_run_dir(dir);
        if (!fail_once(&r, dir, single, n, forever, want, before, &fr)) {
            fg.crashes++;
            continue;
        }
        fg.leaks += fr.leak;
        fg.wrong += fr.wrong || fr.differs;
        wrong_results += fr.differs;
        fg.leftovers += fr.left;
        if (fr.rc == CLI_OK && fr.count >= n) fg.tolerated++;
        if (fr.count < n) {
            ok = fr.rc == CLI_OK && !fr.differs;
            break;
        }
    }
    fg.sites = n - 1;
    TAP_OK(ok && n <= 200000 && fg.crashes == 0 && fg.leaks == 0 && fg.wrong == 0 &&
               fg.leftovers == 0,
           "report write, %s, fail-%s: %ld allocation sites; %ld crashes, %ld leaks, %ld wrong "
           "status (%ld wrong reports), %ld leftover files; %ld OK despite a failure",
           single ? "single file" : "pages", forever ? "forever" : "once", fg.sites, fg.crashes,
           fg.leaks, fg.wrong, wrong_results, fg.leftovers, fg.tolerated);
    if (!forever) total->sites += fg.sites; /* the same sites in both modes */
    total->crashes += fg.crashes;
    total->leaks += fg.leaks;
    total->wrong += fg.wrong;
    total->leftovers += fg.leftovers;
    reset_run_dir(dir); /* the report as the unfailed write left it */
    clear_err();
    report_write(&r, dir, single);
}

static void check_alloc_failures(const fixture *fx, const char *pages, const char *single)
{
    sweep_figures total = {0};
    for (int layout = 0; layout < 2; layout++)
        for (int forever = 0; forever < 2; forever++)
            sweep(fx, layout ? single : pages, layout == 1, forever == 1, &total);
    printf("# report write: %ld allocation sites, %ld crashes, %ld leaks, %ld wrong status, "
           "%ld leftover files\n",
           total.sites, total.crashes, total.leaks, total.wrong, total.leftovers);
}

int main(int argc, char **argv)
{
    fixture fx;
    memset(&fx, 0, sizeof fx);
    tmp_dir_create("report");
    const char *keep = argc > 1 ? argv[1] : NULL; /* a directory to render into, kept */
    const char *base = keep ? keep : tmpdir;
    if (keep) mkdir(keep, 0777);
    TAP_OK(fixture_analyze(&fx) == 0, "analysed the synthetic dataset: %s", barlow_last_error());
    TAP_OK(fixture_names(&fx) == 0, "loaded hostile feature names: %s", err);
    char pages[1024], single[1024];
    snprintf(pages, sizeof pages, "%s/pages", base);
    snprintf(single, sizeof single, "%s/single", base);
    mkdir(pages, 0777);
    mkdir(single, 0777);
    const char *const dirs[2] = {pages, single};
    TAP_OK(fixture_images(&fx, dirs) == 0, "wrote %zu panels and %zu sample images",
           fx.n_panels, fx.n_samples);
    check_helpers(&fx);
    run_result r = fixture_result(&fx);
    clear_err();
    TAP_OK(report_write(&r, pages, false) == CLI_OK, "report_write, pages: '%s'", err);
    TAP_OK(report_write(&r, single, true) == CLI_OK, "report_write, single file: '%s'", err);
    check_pages(&fx, pages);
    check_single(&fx, single);
    check_no_mistakes(&fx, path2(base, "perfect"));
    check_classes(&fx, path2(base, "classes"));
    check_weak_best(path2(base, "weak"));
    check_errors(&fx, base);
    check_alloc_failures(&fx, pages, single);
    barlow_analysis_free(fx.an);
    barlow_matrix_free(fx.X);
    barlow_dataset_free(fx.ds);
    feature_names_free(fx.names);
    tmp_dir_remove();
    return tap_done();
}

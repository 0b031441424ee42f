/* A barlow_tree drawn as SVG (barlow_tree_to_svg): the drawing of the
 * command-line program's HTML report and of the Python bindings' notebooks. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "utf8.h"
#include "barlow/tree.h"

#define U_LE "\xe2\x89\xa4"       /* ≤ */
#define U_DOT "\xc2\xb7"          /* · */
#define U_ELLIPSIS "\xe2\x80\xa6" /* … */
#define U_FFFD "\xef\xbf\xbd"

/* The drawing, in SVG user units (px). */
enum {
    BOX_PAD = 9,     /* text inset of a node box */
    BOX_GAP = 24,    /* between two leaves' boxes */
    LABEL_ROOM = 48, /* between a box and its children's: the edge labels */
    MARGIN = 14,
    FIT_DEFAULT = 1100, /* widest row of leaves before boxes go tall (natural width) */
    FIT_SLACK = 54,     /* max_width less this: the same, with a max_width */
    LABEL_CHARS = 30,   /* longest edge label, in characters */
    ROWS_MAX = 6
};
#define NODE_FONT 12.0  /* px, as the text of the style below */
#define LABEL_FONT 11.5 /* px, as its .elabel text */
#define MIN_SCALE 0.84  /* a scaled-down tree keeps its text at about 10 px */

/* The style, scoped to the drawing's class; colours through custom
 * properties a page may set, with fallbacks for light and dark pages. */
static const char svg_style[] =
    "<style>"
    ".barlow-tree{--bt-card:var(--barlow-card,#fff);--bt-fg:var(--barlow-fg,#1c1e21);"
    "--bt-line:var(--barlow-line,#d8dbe0);--bt-edge:var(--barlow-edge,#8d949e);"
    "--bt-accent:var(--barlow-accent,#1b5cbf)}"
    "@media (prefers-color-scheme:dark){.barlow-tree{--bt-card:var(--barlow-card,#1d2024);"
    "--bt-fg:var(--barlow-fg,#e3e5e8);--bt-line:var(--barlow-line,#353a41);"
    "--bt-edge:var(--barlow-edge,#7a818b);--bt-accent:var(--barlow-accent,#8ab4ff)}}"
    ".barlow-tree text{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,Arial,"
    "sans-serif;font-size:12px}"
    ".barlow-tree .edge{fill:none;stroke:var(--bt-edge);stroke-linecap:round}"
    ".barlow-tree .elabel text{fill:var(--bt-fg);font-size:11.5px;paint-order:stroke;"
    "stroke:var(--bt-card);stroke-width:5px;stroke-linejoin:round}"
    ".barlow-tree .elabel .op{font-weight:700}"
    ".barlow-tree .elabel .lbg{fill:var(--bt-card);stroke:var(--bt-line);stroke-width:1}"
    ".barlow-tree .box{stroke:rgba(0,0,0,.35);stroke-width:1}"
    ".barlow-tree .node.best .box{stroke:var(--bt-accent);stroke-width:3}"
    ".barlow-tree .node text{fill:#17191c}"
    ".barlow-tree .node .t{font-weight:700}"
    ".barlow-tree .track{fill:rgba(255,255,255,.65);stroke:rgba(0,0,0,.25);stroke-width:.5}"
    ".barlow-tree .ec{fill:#1d2430;fill-opacity:.8}"
    ".barlow-tree a:hover .box,.barlow-tree a:focus .box{stroke-width:2.5}"
    "</style>";

void barlow_svg_options_init(barlow_svg_options *opts)
{
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->version = BARLOW_SVG_OPTIONS_VERSION;
    opts->names = NULL;
    opts->n_names = 0;
    opts->link_prefix = NULL;
    opts->highlight = -1;
    opts->max_width = 0.0;
}

/* ---- text ---------------------------------------------------------------------- */

/* Appends s with every ill-formed UTF-8 sequence and every character XML
 * 1.0 forbids (C0 controls but tab, LF, CR) as U+FFFD; escaped for XML text
 * and attributes when xml. */
static void put_text(bw_sb *sb, const char *s, bool xml)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p);
    while (n) {
        size_t k = bw_utf8_seq(p, n);
        unsigned char ch = p[0];
        if (k == 0 || (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r')) {
            bw_sb_append(sb, U_FFFD);
            k = k ? k : 1;
        } else if (xml && ch == '&') bw_sb_append(sb, "&amp;");
        else if (xml && ch == '<') bw_sb_append(sb, "&lt;");
        else if (xml && ch == '>') bw_sb_append(sb, "&gt;");
        else if (xml && ch == '"') bw_sb_append(sb, "&quot;");
        else if (xml && ch == '\'') bw_sb_append(sb, "&#39;");
        else if (xml && (ch == '\t' || ch == '\n' || ch == '\r')) bw_sb_appendf(sb, "&#%d;", ch);
        else bw_sb_appendn(sb, (const char *)p, k);
        p += k;
        n -= k;
    }
}

/* Characters (code points) of well-formed UTF-8 text. */
static size_t text_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Estimated width in px of one line of text in a sans-serif font (the
 * metrics of DejaVu Sans, wider than most; a little too wide is harmless,
 * the boxes only get some air). */
static double text_px(const char *s, double px, bool bold)
{
    double em = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char ch = *p;
        if ((ch & 0xC0) == 0x80) continue; /* inside a UTF-8 sequence */
        if (ch == 0xC2) em += 0.34;                       /* · */
        else if (ch >= 0x80) em += 0.84;                  /* ≤, …, letters */
        else if (strchr(" .,:;'!|()ijlrtf", ch)) em += 0.36;
        else if (ch == '%' || ch == 'm' || ch == 'w' || ch == 'M' || ch == 'W') em += 0.98;
        else if (ch >= 'A' && ch <= 'Z') em += 0.72;
        else em += 0.64;                                  /* digits, most letters */
    }
    return em * px * (bold ? 1.1 : 1.0);
}

/* As the rule sentences: 4 decimals, or 3 digits when tiny. */
static void put_threshold(bw_sb *sb, double t)
{
    if (t == 0.0 || fabs(t) >= 1e-3) bw_sb_appendf(sb, "%.4f", t);
    else bw_sb_appendf(sb, "%.3g", t);
}

/* ---- layout -------------------------------------------------------------------- */

typedef struct box_row {
    char left[72];
    char right[32];
} box_row;

typedef struct drawing {
    barlow_tree_node *nd;
    size_t n, n_leaves;
    double *x; /* centre of each node's box */
    int32_t best;
    const char *const *names;
    size_t n_names;
    const char *link;
    bool tall;
    size_t rows;
    double box_w, box_h, row_h, slot_w, level_h;
} drawing;

/* The rows of a node's box: three with two figures each, or (tall) one
 * figure per row. Returns their number. */
static size_t node_rows(const barlow_tree_node *nd, bool best, bool tall, box_row *rw)
{
    char it[ROWS_MAX][32];
    snprintf(it[0], sizeof it[0], "%s %d%s", nd->is_leaf ? "leaf" : "node", (int)nd->id,
             best ? " " U_DOT " best" : "");
    snprintf(it[1], sizeof it[1], "%zu images", nd->size);
    snprintf(it[2], sizeof it[2], "%zu failures", nd->failures);
    snprintf(it[3], sizeof it[3], "ER %.1f%%", 100.0 * nd->error_rate);
    snprintf(it[4], sizeof it[4], "EC %.1f%%", 100.0 * nd->error_coverage);
    it[5][0] = '\0';
    if (nd->is_leaf) snprintf(it[5], sizeof it[5], "IV %.3f", nd->importance);
    memset(rw, 0, ROWS_MAX * sizeof *rw);
    if (tall) {
        for (size_t k = 0; k < ROWS_MAX; k++) memcpy(rw[k].left, it[k], sizeof it[k]);
        return it[5][0] ? 6 : 5;
    }
    snprintf(rw[0].left, sizeof rw[0].left, "%s", it[0]);
    snprintf(rw[0].right, sizeof rw[0].right, "%s", it[1]);
    snprintf(rw[1].left, sizeof rw[1].left, "%s " U_DOT " %s", it[3], it[2]);
    snprintf(rw[2].left, sizeof rw[2].left, "%s", it[4]);
    snprintf(rw[2].right, sizeof rw[2].right, "%s", it[5]);
    return 3;
}

/* The widest row of the tree's boxes, padding included. */
static double boxes_width(const drawing *t, bool tall)
{
    box_row rw[ROWS_MAX];
    double w = 0;
    for (size_t i = 0; i < t->n; i++) {
        size_t n = node_rows(&t->nd[i], (int32_t)i == t->best, tall, rw);
        for (size_t k = 0; k < n; k++) {
            double x = text_px(rw[k].left, NODE_FONT, k == 0);
            if (rw[k].right[0]) x += 2 * BOX_PAD + text_px(rw[k].right, NODE_FONT, false);
            w = fmax(w, x);
        }
    }
    return ceil(w) + 2 * BOX_PAD;
}

/* Boxes as wide as their text; tall ones when the leaves side by side
 * would be wider than fit. Leaves side by side in node order, each parent
 * centred over its children. Returns the drawing's width. */
static double layout(drawing *t, double fit)
{
    t->tall = false;
    t->box_w = fmax(150, boxes_width(t, false));
    if (t->n_leaves > 2 && 2.0 * MARGIN + (double)t->n_leaves * (t->box_w + BOX_GAP) > fit) {
        t->tall = true;
        t->box_w = fmax(96, boxes_width(t, true));
    }
    t->rows = t->tall ? ROWS_MAX : 3;
    t->row_h = t->tall ? 17 : 18;
    t->box_h = 18 + (double)(t->rows - 1) * t->row_h + 22;
    t->slot_w = t->box_w + BOX_GAP;
    t->level_h = t->box_h + LABEL_ROOM;
    double next = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->nd[i].is_leaf) t->x[i] = MARGIN + t->slot_w * next++ + t->slot_w / 2.0;
    for (size_t i = t->n; i-- > 0;)
        if (!t->nd[i].is_leaf) t->x[i] = (t->x[t->nd[i].left] + t->x[t->nd[i].right]) / 2.0;
    return 2.0 * MARGIN + t->slot_w * next;
}

static double node_y(const drawing *t, const barlow_tree_node *nd)
{
    return MARGIN + (double)nd->depth * t->level_h;
}

/* ---- drawing ------------------------------------------------------------------- */

/* Pale yellow at the BER to red at the highest ER; grey at or below the BER. */
static void put_fill(bw_sb *sb, double er, double ber, double max_er)
{
    if (er <= ber || max_er <= ber) {
        bw_sb_append(sb, "hsl(215,10%,82%)");
        return;
    }
    double f = (er - ber) / (max_er - ber);
    if (f > 1) f = 1;
    bw_sb_appendf(sb, "hsl(%.0f,%.0f%%,%.0f%%)", 48.0 * (1 - f), 92.0 - 20.0 * f,
                  83.0 - 24.0 * f);
}

static void put_edges(bw_sb *sb, const drawing *t)
{
    double root = t->nd[0].size ? (double)t->nd[0].size : 1.0;
    for (size_t i = 1; i < t->n; i++) {
        const barlow_tree_node *ch = &t->nd[i], *p = &t->nd[ch->parent];
        double x0 = t->x[p->id], y0 = node_y(t, p) + t->box_h, x1 = t->x[i], y1 = node_y(t, ch);
        double ym = (y0 + y1) / 2;
        bw_sb_appendf(sb, "<path class=\"edge\" d=\"M%.1f %.1fC%.1f %.1f %.1f %.1f %.1f %.1f\" "
                          "stroke-width=\"%.2f\"/>\n",
                      x0, y0, x0, ym, x1, ym, x1, y1, 1.5 + 10.0 * (double)ch->size / root);
    }
}

static const char *feature_name(const drawing *t, int64_t f)
{
    if (f < 0 || !t->names || (uint64_t)f >= t->n_names) return NULL;
    const char *s = t->names[f];
    return s && s[0] ? s : NULL;
}

/* "buckle (feature 13)" or "feature 13" (UTF-8 made well formed, not
 * escaped), the name cut to keep the label within max characters. */
static void feature_label(const drawing *t, int64_t f, size_t max, bw_sb *out)
{
    char tail[48];
    const char *name = feature_name(t, f);
    if (!name) {
        bw_sb_appendf(out, "feature %lld", (long long)f);
        return;
    }
    snprintf(tail, sizeof tail, " (feature %lld)", (long long)f);
    bw_sb clean;
    bw_sb_init(&clean);
    put_text(&clean, name, false);
    if (clean.failed || !clean.data) {
        out->failed = true;
        bw_sb_free(&clean);
        return;
    }
    size_t tl = strlen(tail), chars = text_chars(clean.data);
    size_t room = max > tl + 4 ? max - tl : 4;
    if (max == 0 || chars + tl <= max) {
        bw_sb_append(out, clean.data);
    } else {
        size_t c = 0, i = 0;
        const char *s = clean.data;
        for (; s[i]; i++)
            if (((unsigned char)s[i] & 0xC0) != 0x80 && c++ == room - 1) break;
        while (i > 0 && s[i - 1] == ' ') i--;
        bw_sb_appendn(out, s, i);
        bw_sb_append(out, U_ELLIPSIS);
    }
    bw_sb_append(out, tail);
    bw_sb_free(&clean);
}

static size_t leaves_under(const drawing *t, size_t id)
{
    const barlow_tree_node *nd = &t->nd[id];
    if (nd->is_leaf) return 1;
    return leaves_under(t, (size_t)nd->left) + leaves_under(t, (size_t)nd->right);
}

/* Characters of the label over node id: as many as the width of its
 * leaves' slots holds (the labels beside it are over other leaves). */
static size_t label_room(const drawing *t, size_t id)
{
    double px = (double)leaves_under(t, id) * t->slot_w - 14;
    size_t n = (size_t)(px / (0.64 * LABEL_FONT));
    return n < 14 ? 14 : n > LABEL_CHARS ? LABEL_CHARS : n;
}

/* Above each child, in two lines on a box of the background, the condition
 * that leads to it: "feature 13" / "≤ 0.0893"; the whole one as tooltip. */
static void put_edge_labels(bw_sb *sb, const drawing *t)
{
    bw_sb lab, full, cond;
    for (size_t i = 1; i < t->n; i++) {
        const barlow_tree_node *ch = &t->nd[i], *p = &t->nd[ch->parent];
        bw_sb_init(&lab);
        bw_sb_init(&full);
        bw_sb_init(&cond);
        bw_sb_append(&cond, p->left == ch->id ? U_LE " " : "> ");
        put_threshold(&cond, p->threshold);
        feature_label(t, p->feature, label_room(t, i), &lab);
        feature_label(t, p->feature, 0, &full);
        if (lab.failed || full.failed || cond.failed || !lab.data || !full.data || !cond.data) {
            sb->failed = true;
        } else {
            double x = t->x[i], y = node_y(t, ch);
            double w = fmax(text_px(lab.data, LABEL_FONT, false),
                            text_px(cond.data, LABEL_FONT, true)) + 10;
            bw_sb_append(sb, "<g class=\"elabel\"><title>");
            put_text(sb, full.data, true);
            bw_sb_append(sb, " ");
            put_text(sb, cond.data, true);
            bw_sb_appendf(sb, "</title><rect class=\"lbg\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                              "height=\"33\" rx=\"4\"/><text x=\"%.1f\" y=\"%.1f\" "
                              "text-anchor=\"middle\">",
                          x - w / 2, y - 37, w, x, y - 23);
            put_text(sb, lab.data, true);
            bw_sb_appendf(sb, "</text><text class=\"op\" x=\"%.1f\" y=\"%.1f\" "
                              "text-anchor=\"middle\">",
                          x, y - 9);
            put_text(sb, cond.data, true);
            bw_sb_append(sb, "</text></g>\n");
        }
        bw_sb_free(&lab);
        bw_sb_free(&full);
        bw_sb_free(&cond);
    }
}

static void put_node_text(bw_sb *sb, const drawing *t, const barlow_tree_node *nd, bool best)
{
    box_row rw[ROWS_MAX];
    size_t n = node_rows(nd, best, t->tall, rw);
    for (size_t k = 0; k < n; k++) {
        double y = 18 + (double)k * t->row_h;
        bw_sb_appendf(sb, "<text%s x=\"%d\" y=\"%.0f\">", k ? "" : " class=\"t\"", BOX_PAD, y);
        put_text(sb, rw[k].left, true);
        bw_sb_append(sb, "</text>");
        if (!rw[k].right[0]) continue;
        bw_sb_appendf(sb, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">",
                      t->box_w - BOX_PAD, y);
        put_text(sb, rw[k].right, true);
        bw_sb_append(sb, "</text>");
    }
    double w = t->box_w - 2 * BOX_PAD, y = t->box_h - 15;
    bw_sb_appendf(sb, "<rect class=\"track\" x=\"%d\" y=\"%.0f\" width=\"%.1f\" height=\"7\" "
                      "rx=\"2\"/>",
                  BOX_PAD, y, w);
    bw_sb_appendf(sb, "<rect class=\"ec\" x=\"%d\" y=\"%.0f\" width=\"%.1f\" height=\"7\" "
                      "rx=\"2\"/>",
                  BOX_PAD, y, w * fmin(1.0, fmax(0.0, nd->error_coverage)));
}

static void put_nodes(bw_sb *sb, const drawing *t)
{
    double ber = t->nd[0].error_rate, max_er = 0;
    for (size_t i = 0; i < t->n; i++) max_er = fmax(max_er, t->nd[i].error_rate);
    for (size_t i = 0; i < t->n; i++) {
        const barlow_tree_node *nd = &t->nd[i];
        bool best = (int32_t)i == t->best, link = t->link && nd->is_leaf;
        if (link) {
            bw_sb_append(sb, "<a href=\"");
            put_text(sb, t->link, true);
            bw_sb_appendf(sb, "%zu\">", i);
        }
        bw_sb_appendf(sb, "<g class=\"node %s%s\" transform=\"translate(%.1f %.1f)\"><title>"
                          "%s %zu: %zu images, %zu failures, ER %.1f%%, EC %.1f%%</title>"
                          "<rect class=\"box\" width=\"%.0f\" height=\"%.0f\" rx=\"6\" fill=\"",
                      nd->is_leaf ? "leaf" : "split", best ? " best" : "",
                      t->x[i] - t->box_w / 2.0, node_y(t, nd), nd->is_leaf ? "leaf" : "node", i,
                      nd->size, nd->failures, 100.0 * nd->error_rate,
                      100.0 * nd->error_coverage, t->box_w, t->box_h);
        put_fill(sb, nd->error_rate, ber, max_er);
        bw_sb_append(sb, "\"/>");
        put_node_text(sb, t, nd, best);
        bw_sb_append(sb, link ? "</g></a>\n" : "</g>\n");
    }
}

barlow_status barlow_tree_to_svg(const barlow_tree *tree, const barlow_svg_options *opts,
                                 barlow_buffer *out)
{
    static const char who[] = "barlow_tree_to_svg";
    bw_clear_error();
    if (!tree) return bw_error(BARLOW_E_INVALID_ARG, "%s: tree is NULL", who);
    if (!out) return bw_error(BARLOW_E_INVALID_ARG, "%s: out is NULL", who);
    barlow_svg_options o;
    barlow_svg_options_init(&o);
    if (opts) {
        barlow_status st = bw_check_options_version(opts->version, BARLOW_SVG_OPTIONS_VERSION,
                                                    "barlow_tree_to_svg: barlow_svg_options");
        if (st) return st;
        o = *opts;
    }
    size_t n = barlow_tree_node_count(tree);
    if (o.n_names > 0 && !o.names)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: names is NULL with n_names = %zu", who,
                        o.n_names);
    if (o.highlight < -2 || (o.highlight >= 0 && (size_t)o.highlight >= n))
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: highlight=%d (must be a node id 0..%zu, -1 or -2)", who,
                        (int)o.highlight, n ? n - 1 : 0);
    if (!(o.max_width >= 0.0) || !isfinite(o.max_width))
        return bw_error(BARLOW_E_INVALID_ARG, "%s: max_width=%g (must be finite, >= 0)", who,
                        o.max_width);
    if (n == 0) return bw_error(BARLOW_E_INVALID_ARG, "%s: the tree has no nodes", who);

    drawing t = {0};
    t.n = n;
    t.n_leaves = barlow_tree_leaf_count(tree);
    t.names = o.names;
    t.n_names = o.n_names;
    t.link = o.link_prefix;
    t.nd = bw_calloc(n, sizeof *t.nd, who);
    t.x = bw_calloc(n, sizeof *t.x, who);
    size_t *ranked = bw_calloc(t.n_leaves, sizeof *ranked, who);
    barlow_status st = BARLOW_OK;
    if (!t.nd || !t.x || !ranked) {
        st = bw_error(BARLOW_E_NOMEM, "%s: out of memory (%zu nodes)", who, n);
        goto done;
    }
    for (size_t i = 0; i < n && !st; i++) {
        t.nd[i].version = BARLOW_TREE_NODE_VERSION;
        st = barlow_tree_get_node(tree, i, &t.nd[i]);
    }
    if (!st) st = barlow_tree_leaves_by_importance(tree, ranked);
    if (st) goto done;
    t.best = o.highlight == -1 ? (t.n_leaves ? (int32_t)ranked[0] : -2) : o.highlight;

    double fit = o.max_width > 0 ? fmax(1.0, o.max_width - FIT_SLACK) : FIT_DEFAULT;
    double w = layout(&t, fit);
    int32_t levels = 0;
    for (size_t i = 0; i < n; i++)
        if (t.nd[i].depth > levels) levels = t.nd[i].depth;
    double h = 2.0 * MARGIN + (double)levels * t.level_h + t.box_h;
    double sw = w, sh = h;
    bw_sb sb;
    bw_sb_init(&sb);
    if (o.max_width > 0 && w > o.max_width) {
        sw = fmax(o.max_width, floor(w * MIN_SCALE));
        sh = h * sw / w;
    }
    bw_sb_appendf(&sb, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"barlow-tree\" "
                       "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\"",
                  sw, sh, w, h);
    if (o.max_width > 0)
        bw_sb_appendf(&sb, " style=\"min-width:%.0fpx;max-width:100%%;height:auto\"",
                      floor(w * MIN_SCALE));
    bw_sb_appendf(&sb, " role=\"img\"><title>Failure tree of depth %d: %zu nodes, %zu leaves"
                       "</title>\n",
                  (int)levels, n, t.n_leaves);
    bw_sb_append(&sb, svg_style);
    bw_sb_append(&sb, "\n");
    put_edges(&sb, &t);
    put_nodes(&sb, &t);
    put_edge_labels(&sb, &t);
    bw_sb_append(&sb, "</svg>\n");
    st = bw_sb_finish(&sb, out, who);
done:
    bw_free(t.nd);
    bw_free(t.x);
    bw_free(ranked);
    return st;
}

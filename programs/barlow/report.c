/* The offline HTML report of `barlow run` (run.h: report_write).
 *
 * index.html: the run's facts, the paper's Table 1 (per grouping and depth,
 * the groups whose best leaf is valid) and one sortable row per shown
 * group. One page per shown group (groups/<label|prediction>-<id>.html):
 * its counts, selected features, per depth the tree as inline SVG and one
 * card per leaf ranked by importance (rule sentence, statistics, failure
 * samples), the panels of the features on the best rules, and a template
 * to name those features. With single_file, index.html holds every group
 * as a section and every image (and the feature-name template, to save) as
 * a data: URI.
 *
 * Offline by construction: the pages refer only to files of the run
 * directory (report.css, groups/, panels/, samples/) or hold everything
 * inline, and a Content-Security-Policy forbids any other load. JavaScript
 * only sorts the overview table; the pages are complete without it. Every
 * text from outside (class names, paths, feature names, rule sentences)
 * goes through sbuf_html(); file names in URLs are percent-encoded.
 *
 * Memory comes from lib/alloc.c's allocator (bw_malloc, sbuf), so that
 * tests/test_report.c fails each allocation in turn. Each file is written
 * under a temporary name and renamed into place; a report that fails
 * removes the files it wrote (and groups/ when it made it): the report is
 * complete or absent. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "internal.h" /* bw_malloc, bw_free: every allocation of the report */
#include "run.h"

#define U_LE "\xe2\x89\xa4"     /* ≤ */
#define U_GE "\xe2\x89\xa5"     /* ≥ */
#define U_DELTA "\xce\xb4"      /* δ */
#define U_GAMMA "\xce\xb3"      /* γ */
#define U_MINUS "\xe2\x88\x92"  /* − */
#define U_DOT "\xc2\xb7"        /* · */
#define U_CHECK "\xe2\x9c\x93"  /* ✓ */
#define U_DASH "\xe2\x80\x94"   /* — */

/* Nothing but the run directory's files and inline content ('self' and
 * file: for the files: some browsers give every file: page its own
 * origin). */
#define REPORT_CSP                                                                         \
    "default-src 'none'; img-src 'self' file: data:; style-src 'self' file: 'unsafe-inline'; " \
    "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

enum {
    IMAGE_MAX_BYTES = 256 << 20, /* largest PNG inlined */
    TREE_WIDTH = 1154 /* px: the tree box's width; a wider drawing scales down
                         (barlow_tree_to_svg, not below 84%; the box scrolls) */
};

/* The stylesheet, in parts (each a string of portable length). */
static const char *const report_css[] = {
    ":root{color-scheme:light dark;--bg:#f6f6f4;--fg:#1c1e21;--muted:#5d646e;--card:#fff;"
    "--line:#d8dbe0;--accent:#1b5cbf;--ok:#16793a;--bad:#b3261e;--note-bg:#fff4d4;"
    "--note-line:#d9a82e;--edge:#8d949e;--track:#e4e6ea;--bar:#1b5cbf;--code:#eef0f3}\n"
    "@media (prefers-color-scheme:dark){:root{--bg:#141619;--fg:#e3e5e8;--muted:#9ca3ad;"
    "--card:#1d2024;--line:#353a41;--accent:#8ab4ff;--ok:#66d38a;--bad:#ff9a90;"
    "--note-bg:#2f2810;--note-line:#9a7a22;--edge:#7a818b;--track:#3a3f47;--bar:#8ab4ff;"
    "--code:#25292f}}\n"
    "*{box-sizing:border-box}\n",
    "body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"
    "\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,sans-serif}\n"
    "main{max-width:1200px;margin:0 auto;padding:20px 22px 64px}\n"
    "a{color:var(--accent)}\n"
    "h1{font-size:1.65rem;margin:.2em 0 .2em;line-height:1.25}\n"
    "h2{font-size:1.25rem;margin:1.8em 0 .5em;padding-bottom:.25em;"
    "border-bottom:1px solid var(--line)}\n"
    "h3{font-size:1.05rem;margin:1.3em 0 .5em}\n"
    "section.group{margin-top:4em}\n"
    "section.group>h2{font-size:1.55rem;border-bottom:3px solid var(--accent);margin-top:.2em}\n"
    "section.group h3{font-size:1.2rem;border-bottom:1px solid var(--line)}\n"
    "section.group h4{font-size:1.02rem;margin:1.2em 0 .5em}\n"
    ".muted,.sub,.legend{color:var(--muted)}\n"
    ".sub{margin:.2em 0 1em;font-size:1.02rem}\n"
    ".legend{font-size:.86rem;max-width:75em}\n"
    "code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.86em}\n"
    "pre{background:var(--code);border:1px solid var(--line);border-radius:6px;padding:10px 12px;"
    "overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere}\n"
    "nav.crumbs{font-size:.9rem;margin:0 0 8px}\n"
    "dl.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:8px;"
    "margin:8px 0 0;padding:0}\n"
    "dl.facts>div{background:var(--card);border:1px solid var(--line);border-radius:8px;"
    "padding:7px 12px}\n"
    "dl.facts dt{font-size:.74rem;text-transform:uppercase;letter-spacing:.04em;"
    "color:var(--muted)}\n"
    "dl.facts dd{margin:0;font-weight:600;overflow-wrap:break-word}\n"
    "dl.facts dd .muted{font-weight:400}\n"
    ".note{background:var(--note-bg);border-left:4px solid var(--note-line);padding:10px 14px;"
    "border-radius:4px;margin:14px 0}\n"
    ".table-wrap{overflow-x:auto;border:1px solid var(--line);border-radius:8px;"
    "background:var(--card)}\n"
    "table{border-collapse:collapse;width:100%;font-size:.9rem}\n"
    "th,td{padding:5px 9px;border-bottom:1px solid var(--line);text-align:left;"
    "vertical-align:baseline;white-space:nowrap}\n"
    ".table-wrap.narrow{display:inline-block;max-width:100%}\n"
    "td.name{white-space:normal;min-width:12em;overflow-wrap:anywhere}\n"
    "th{font-size:.78rem;text-transform:uppercase;letter-spacing:.03em;color:var(--muted);"
    "background:var(--card)}\n"
    "th.n,td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    "tbody tr:last-child td{border-bottom:0}\n"
    "tbody tr:hover{background:var(--code)}\n"
    "table.js th{cursor:pointer;user-select:none}\n"
    "table.js th:hover{color:var(--fg)}\n"
    "table.js th[aria-sort=ascending]::after{content:\" \\25B2\"}\n"
    "table.js th[aria-sort=descending]::after{content:\" \\25BC\"}\n"
    ".ok{color:var(--ok);font-weight:600}\n",
    ".bad{color:var(--bad);font-weight:600}\n"
    ".frac{display:inline-block;width:90px;height:9px;background:var(--track);border-radius:5px;"
    "vertical-align:middle;margin-right:8px;overflow:hidden}\n"
    ".frac>span{display:block;height:100%;background:var(--bar)}\n"
    "ol.chips{list-style:none;padding:0;margin:6px 0;display:flex;flex-wrap:wrap;gap:6px}\n"
    "ol.chips li{border:1px solid var(--line);background:var(--card);border-radius:999px;"
    "padding:1px 10px;font-size:.84rem}\n"
    "ol.chips li.used{border-color:var(--accent);box-shadow:inset 0 0 0 1px var(--accent)}\n"
    "ol.chips small{color:var(--muted);margin-left:4px;font-variant-numeric:tabular-nums}\n",
    ".tree{overflow-x:auto;background:var(--card);border:1px solid var(--line);"
    "border-radius:8px;padding:8px}\n"
    ".tree svg{display:block;margin:0 auto;max-width:100%;height:auto;--barlow-card:var(--card);"
    "--barlow-fg:var(--fg);--barlow-line:var(--line);--barlow-edge:var(--edge);"
    "--barlow-accent:var(--accent)}\n",
    ".leaves{display:grid;grid-template-columns:repeat(auto-fill,minmax(350px,1fr));gap:12px}\n"
    ".leaf{background:var(--card);border:1px solid var(--line);border-radius:8px;"
    "padding:10px 14px;min-width:0}\n"
    ".leaf.best{border-color:var(--accent);box-shadow:0 0 0 1px var(--accent)}\n"
    ".leaf:target{outline:3px solid var(--accent);outline-offset:2px}\n"
    ".leaf.wide{grid-column:1/-1;display:flex;flex-wrap:wrap;gap:0 28px;align-items:flex-start}\n"
    ".leaf.wide>.text{flex:1 1 300px;min-width:0}\n"
    ".leaf.wide>figure{flex:0 1 auto;min-width:0}\n"
    ".caveat{font-size:.8rem;color:var(--muted);font-style:italic}\n"
    ".leaf header{display:flex;gap:8px;align-items:baseline;flex-wrap:wrap;font-size:.84rem;"
    "color:var(--muted)}\n"
    ".leaf header .rank{font-weight:700;color:var(--fg)}\n"
    ".badge{font-size:.74rem;padding:0 8px;border-radius:999px;border:1px solid currentColor}\n"
    ".rule{font-weight:600;margin:.45em 0;overflow-wrap:anywhere}\n"
    ".conds{font-size:.8rem;color:var(--muted);margin:.3em 0;overflow-wrap:anywhere}\n"
    "dl.stats{display:grid;grid-template-columns:repeat(3,1fr);gap:2px 12px;margin:.5em 0}\n"
    "dl.stats dt{font-size:.7rem;color:var(--muted);text-transform:uppercase;"
    "letter-spacing:.04em}\n"
    "dl.stats dd{margin:0 0 4px;font-variant-numeric:tabular-nums;font-weight:600}\n"
    "figure{margin:10px 0}\n"
    "a.full{display:inline-block;max-width:100%;vertical-align:top}\n"
    "figure img{display:block;max-width:100%;height:auto;border:1px solid var(--line);"
    "border-radius:4px;image-rendering:auto}\n"
    "figcaption{font-size:.86rem;color:var(--muted);margin:4px 0}\n"
    "figure.panel{background:var(--card);border:1px solid var(--line);border-radius:8px;"
    "padding:10px 14px;margin:12px 0}\n"
    "figure.panel figcaption b{color:var(--fg)}\n"
    "details{margin:10px 0}\n"
    "details summary{cursor:pointer;color:var(--accent)}\n"
    "footer{margin-top:48px;font-size:.8rem;color:var(--muted)}\n",
};

/* Sorts the tables with class "sortable" by a click (or Enter) on a column
 * header; a cell's data-sort, else its text, is the key; numbers before
 * text; empty keys last in both directions. */
static const char sort_js[] =
    "(function(){\n"
    "function key(td){var v=td.getAttribute('data-sort');if(v===null)v=td.textContent.trim();"
    "if(v==='')return null;return isFinite(v)?[0,+v]:[1,v.toLowerCase()];}\n"
    "function cmp(a,b){if(a[0]!==b[0])return a[0]-b[0];"
    "return a[0]?a[1].localeCompare(b[1]):a[1]-b[1];}\n"
    "var ts=document.querySelectorAll('table.sortable');\n"
    "Array.prototype.forEach.call(ts,function(t){\n"
    " t.classList.add('js');var ths=t.tHead.rows[0].cells;\n"
    " Array.prototype.forEach.call(ths,function(th,col){\n"
    "  th.tabIndex=0;\n"
    "  function go(){var asc=th.getAttribute('aria-sort')!=='ascending';\n"
    "   Array.prototype.forEach.call(ths,function(h){h.removeAttribute('aria-sort');});\n"
    "   th.setAttribute('aria-sort',asc?'ascending':'descending');\n"
    "   var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows);\n"
    "   rows.sort(function(a,b){var x=key(a.cells[col]),y=key(b.cells[col]);\n"
    "    if(!x||!y)return (!x)-(!y);var c=cmp(x,y);return asc?c:-c;});\n"
    "   rows.forEach(function(r){body.appendChild(r);});}\n"
    "  th.addEventListener('click',go);\n"
    "  th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' ')"
    "{e.preventDefault();go();}});\n"
    " });\n"
    "});\n"
    "})();\n";

/* The page being written. */
typedef struct report_ctx {
    const run_result *r;
    const char *dir;
    bool single;
    sbuf *out;
    const char *up; /* from the page to the run directory: "" or "../" */
    int h;          /* heading level of a group's title: 1 on its page, 2 as a section */
    /* what this call has written, removed again when it fails */
    bool wrote_css, wrote_index, made_groups;
    size_t pages_written; /* group pages: the first ones of the shown groups */
} report_ctx;

/* One group as the report shows it. */
typedef struct group_view {
    size_t index;
    barlow_analysis_group g;
    char slug[48]; /* "label-3": its page name and the prefix of its ids */
} group_view;

/* One tree (group × depth) with its nodes loaded. */
typedef struct tree_view {
    size_t j;
    int32_t depth;
    const barlow_tree *tree;
    barlow_analysis_result res;
    barlow_tree_node *nd;
    size_t n;
    size_t *leaves; /* by importance */
    size_t n_leaves;
} tree_view;

/* ---- small formatting helpers ------------------------------------------------ */

static int lib_error(const char *what)
{
    cli_set_error("report: %s: %s", what, barlow_last_error());
    return CLI_ERROR;
}

static int oom(const char *what)
{
    cli_set_error("report: out of memory (%s)", what);
    return CLI_ERROR;
}

static void put_pct(sbuf *o, double v) { sbuf_printf(o, "%.1f%%", 100.0 * v); }

static void put_p(sbuf *o, double p)
{
    if (p < 1e-300) sbuf_puts(o, "&lt; 1e-300");
    else sbuf_printf(o, "%.2g", p);
}

static void put_seconds(sbuf *o, double s)
{
    if (s < 60.0) sbuf_printf(o, "%.1f s", s);
    else sbuf_printf(o, "%.0f min %02.0f s", floor(s / 60.0), fmod(s, 60.0));
}

/* A relative file name as a URL path: every byte outside [A-Za-z0-9-._~/]
 * percent-encoded (so nothing in it can end an attribute). */
static void put_url(sbuf *o, const char *path)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        unsigned char ch = *p;
        bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     (ch >= '0' && ch <= '9') || strchr("-._~/", ch);
        if (plain) sbuf_add(o, (const char *)p, 1);
        else sbuf_printf(o, "%%%c%c", hex[ch >> 4], hex[ch & 15]);
    }
}

/* feature_label() of (class, feature) as HTML text. */
static void put_feature(const report_ctx *c, int32_t class_id, size_t feature)
{
    sbuf tmp = SBUF_INIT;
    feature_label(c->r->names, class_id, feature, &tmp);
    sbuf_html(c->out, tmp.data);
    if (sbuf_failed(&tmp)) c->out->failed = true;
    sbuf_free(&tmp);
}

/* A path as HTML text that may break after each '/' (<wbr>), not inside
 * a name. */
static void put_path(sbuf *o, const char *path)
{
    sbuf part = SBUF_INIT;
    for (const char *s = path; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) + 1 : strlen(s);
        sbuf_reset(&part);
        sbuf_add(&part, s, n);
        if (sbuf_failed(&part)) {
            o->failed = true;
            break;
        }
        sbuf_html(o, part.data);
        if (e && e[1]) sbuf_puts(o, "<wbr>");
        s += n;
    }
    sbuf_free(&part);
}

/* A "relative/path" of the run's files that stays inside the directory. */
static bool rel_path_ok(const char *p)
{
    if (!p || !*p || *p == '/') return false;
    for (const char *s = p;;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 2 && s[0] == '.' && s[1] == '.')) return false;
        if (!e) return true;
        s = e + 1;
    }
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

/* ---- files ------------------------------------------------------------------- */

/* Writes b to dir/rel: to dir/rel.tmp, then renamed into place (nothing is
 * left at either name on failure). CLI_OK, or CLI_ERROR naming the file. */
static int write_file(const char *dir, const char *rel, const sbuf *b)
{
    sbuf path = SBUF_INIT, tmp = SBUF_INIT;
    int rc = CLI_ERROR, err = 0, fd = -1;
    sbuf_printf(&path, "%s/%s", dir, rel);
    sbuf_printf(&tmp, "%s/%s.tmp", dir, rel);
    if (sbuf_failed(&path) || sbuf_failed(&tmp) || sbuf_failed(b)) {
        cli_set_error("%s/%s: out of memory", dir, rel);
        goto done;
    }
    fd = open(tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        cli_set_error("%s: %s", path.data, strerror(errno));
        goto done;
    }
    for (size_t off = 0; off < b->len && !err;) {
        ssize_t k = write(fd, b->data + off, b->len - off);
        if (k > 0) off += (size_t)k;
        else if (k < 0 && errno != EINTR) err = errno;
        else if (k == 0) err = EIO;
    }
    if (close(fd) != 0 && !err) err = errno ? errno : EIO;
    if (!err && rename(tmp.data, path.data) != 0) err = errno;
    if (err) {
        unlink(tmp.data);
        cli_set_error("%s: %s", path.data, strerror(err));
    } else {
        rc = CLI_OK;
    }
done:
    sbuf_free(&path);
    sbuf_free(&tmp);
    return rc;
}

/* Makes dir/rel; *made: this call made it (it did not exist). */
static int make_dir(const char *dir, const char *rel, bool *made)
{
    sbuf path = SBUF_INIT;
    int rc = CLI_OK;
    struct stat st;
    *made = false;
    sbuf_printf(&path, "%s/%s", dir, rel);
    if (sbuf_failed(&path)) rc = oom(rel);
    else if (mkdir(path.data, 0777) == 0) *made = true;
    else if (errno != EEXIST || stat(path.data, &st) != 0 || !S_ISDIR(st.st_mode)) {
        cli_set_error("%s: %s", path.data, errno == EEXIST ? "exists and is not a directory"
                                                           : strerror(errno));
        rc = CLI_ERROR;
    }
    sbuf_free(&path);
    return rc;
}

/* Removes dir/rel (no allocation: it runs when memory has run out). */
static void remove_file(const char *dir, const char *rel)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", dir, rel);
    if (n > 0 && (size_t)n < sizeof path) unlink(path);
}

/* A failed report: removes what this call wrote. */
static void remove_written(const report_ctx *c)
{
    size_t left = c->pages_written;
    for (size_t i = 0; left && i < barlow_analysis_group_count(c->r->an); i++) {
        char name[RUN_PAGE_NAME_MAX];
        if (!run_shows_group(c->r, i)) continue;
        run_group_page_name(c->r, i, name, sizeof name);
        remove_file(c->dir, name);
        left--;
    }
    if (c->wrote_index) remove_file(c->dir, "index.html");
    if (c->wrote_css) remove_file(c->dir, "report.css");
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/groups", c->dir);
    if (c->made_groups && n > 0 && (size_t)n < sizeof path) rmdir(path);
}

/* A PNG of the run directory: its size, and with `whole` its bytes. */
typedef struct png_file {
    unsigned char *data;
    size_t n;
    uint32_t w, h;
} png_file;

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool read_all(int fd, unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, buf + got, n - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            if (k == 0) errno = EIO; /* the file shrank */
            return false;
        }
        got += (size_t)k;
    }
    return true;
}

static const char *png_check(const unsigned char *p, png_file *png)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (memcmp(p, sig, 8) != 0 || memcmp(p + 12, "IHDR", 4) != 0) return "not a PNG file";
    png->w = be32(p + 16);
    png->h = be32(p + 20);
    if (png->w == 0 || png->h == 0 || png->w > 1000000 || png->h > 1000000)
        return "a PNG file with an impossible size";
    return NULL;
}

static int png_read(const char *dir, const char *rel, bool whole, png_file *png)
{
    sbuf path = SBUF_INIT;
    int fd = -1, rc = CLI_ERROR;
    const char *why = NULL;
    struct stat st;
    unsigned char head[24];
    sbuf_printf(&path, "%s/%s", dir, rel);
    if (sbuf_failed(&path)) why = "out of memory";
    else if ((fd = open(path.data, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0 || fstat(fd, &st))
        why = strerror(errno);
    else if (!S_ISREG(st.st_mode)) why = "not a regular file";
    else if (st.st_size < 24) why = "not a PNG file";
    else if (st.st_size > IMAGE_MAX_BYTES) why = "too large to inline (over 256 MiB)";
    else if (!whole && !read_all(fd, head, sizeof head)) why = strerror(errno);
    else if (whole && !(png->data = bw_malloc((size_t)st.st_size, "report")))
        why = "out of memory";
    else if (whole && !read_all(fd, png->data, (size_t)st.st_size)) why = strerror(errno);
    if (!why) {
        png->n = whole ? (size_t)st.st_size : 0;
        why = png_check(whole ? png->data : head, png);
    }
    if (why) cli_set_error("%s/%s: %s", dir, rel, why);
    else rc = CLI_OK;
    if (fd >= 0) close(fd);
    if (rc != CLI_OK) {
        bw_free(png->data);
        png->data = NULL;
    }
    sbuf_free(&path);
    return rc;
}

/* <img> of a PNG of the run directory: a link to the file, or the file
 * itself as a data: URI (single file). */
static int put_image(report_ctx *c, const char *rel, const char *alt)
{
    png_file png = {NULL, 0, 0, 0};
    if (!rel_path_ok(rel)) {
        cli_set_error("report: image %s is not a relative path inside %s", rel ? rel : "(null)",
                      c->dir);
        return CLI_ERROR;
    }
    if (png_read(c->dir, rel, c->single, &png) != CLI_OK) return CLI_ERROR;
    sbuf *o = c->out;
    if (!c->single) {
        sbuf_printf(o, "<a class=\"full\" href=\"%s", c->up);
        put_url(o, rel);
        sbuf_puts(o, "\" title=\"Open the image at full size\">");
    }
    sbuf_puts(o, "<img src=\"");
    if (c->single) {
        sbuf_puts(o, "data:image/png;base64,");
        sbuf_base64(o, png.data, png.n);
    } else {
        sbuf_puts(o, c->up);
        put_url(o, rel);
    }
    sbuf_printf(o, "\" width=\"%lu\" height=\"%lu\" alt=\"", (unsigned long)png.w,
                (unsigned long)png.h);
    sbuf_html(o, alt);
    sbuf_puts(o, c->single ? "\" loading=\"lazy\">" : "\" loading=\"lazy\"></a>");
    bw_free(png.data);
    return CLI_OK;
}

/* ---- page frame -------------------------------------------------------------- */

static void put_css(sbuf *o)
{
    for (size_t i = 0; i < sizeof report_css / sizeof report_css[0]; i++)
        sbuf_puts(o, report_css[i]);
}

static void page_begin(report_ctx *c, const char *title)
{
    sbuf *o = c->out;
    sbuf_puts(o, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                 "<meta http-equiv=\"Content-Security-Policy\" content=\"" REPORT_CSP "\">\n"
                 "<meta name=\"color-scheme\" content=\"light dark\">\n"
                 "<meta name=\"referrer\" content=\"no-referrer\">\n<title>");
    sbuf_html(o, title);
    sbuf_puts(o, "</title>\n");
    if (c->single) {
        sbuf_puts(o, "<style>\n");
        put_css(o);
        sbuf_puts(o, "</style>\n");
    } else {
        sbuf_printf(o, "<link rel=\"stylesheet\" href=\"%sreport.css\">\n", c->up);
    }
    sbuf_puts(o, "</head>\n<body>\n<main id=\"top\">\n");
}

static void page_end(report_ctx *c, bool script)
{
    sbuf *o = c->out;
    sbuf_printf(o, "<footer>Made by barlow run (libbarlow %s), after Singla, Nushi, Shah, "
                   "Kamar and Horvitz, <i>Understanding Failures of Deep Networks via Robust "
                   "Feature Extraction</i>, CVPR 2021. This report works offline.</footer>\n"
                   "</main>\n",
                barlow_version_string());
    if (script) {
        sbuf_puts(o, "<script>\n");
        sbuf_puts(o, sort_js);
        sbuf_puts(o, "</script>\n");
    }
    sbuf_puts(o, "</body>\n</html>\n");
}

/* ---- groups, trees ----------------------------------------------------------- */

static int group_view_load(const run_result *r, size_t i, group_view *v)
{
    memset(v, 0, sizeof *v);
    v->index = i;
    v->g.version = BARLOW_ANALYSIS_GROUP_VERSION;
    if (barlow_analysis_get_group(r->an, i, &v->g) != BARLOW_OK) return lib_error("group");
    snprintf(v->slug, sizeof v->slug, "%s-%ld", cli_grouping_name(v->g.grouping),
             (long)v->g.class_id);
    return CLI_OK;
}

/* The group's status, with "no failures" also for an analysed group
 * without failures. */
static barlow_analysis_status group_kind(const group_view *v)
{
    if (v->g.size == 0) return BARLOW_ANALYSIS_EMPTY;
    if (v->g.failures == 0) return BARLOW_ANALYSIS_NO_FAILURES;
    return v->g.status;
}

static int get_result(const run_result *r, size_t group, size_t j, barlow_analysis_result *res)
{
    memset(res, 0, sizeof *res);
    res->version = BARLOW_ANALYSIS_RESULT_VERSION;
    if (barlow_analysis_get_result(r->an, group, j, res) != BARLOW_OK) return lib_error("result");
    return CLI_OK;
}

static void tree_view_free(tree_view *t)
{
    bw_free(t->nd);
    bw_free(t->leaves);
    memset(t, 0, sizeof *t);
}

/* Loads the tree of (group, j); t->tree is NULL for a group without one. */
static int tree_view_load(const run_result *r, size_t group, size_t j, tree_view *t)
{
    memset(t, 0, sizeof *t);
    t->j = j;
    t->depth = barlow_analysis_depth(r->an, j);
    t->tree = barlow_analysis_group_tree(r->an, group, j);
    if (get_result(r, group, j, &t->res) != CLI_OK) return CLI_ERROR;
    if (!t->tree) return CLI_OK;
    t->n = barlow_tree_node_count(t->tree);
    t->n_leaves = barlow_tree_leaf_count(t->tree);
    t->nd = bw_calloc(t->n, sizeof *t->nd, "report");
    t->leaves = bw_calloc(t->n_leaves, sizeof *t->leaves, "report");
    if (!t->nd || !t->leaves) return oom("tree");
    for (size_t i = 0; i < t->n; i++) {
        t->nd[i].version = BARLOW_TREE_NODE_VERSION;
        if (barlow_tree_get_node(t->tree, i, &t->nd[i]) != BARLOW_OK) return lib_error("node");
    }
    if (barlow_tree_leaves_by_importance(t->tree, t->leaves) != BARLOW_OK)
        return lib_error("leaves");
    return CLI_OK;
}

/* ---- overview ---------------------------------------------------------------- */

static void fact_open(sbuf *o, const char *name) { sbuf_printf(o, "<div><dt>%s</dt><dd>", name); }
static void fact_close(sbuf *o) { sbuf_puts(o, "</dd></div>\n"); }

/* A fact whose text holds paths: it breaks after a '/'. */
static void fact_text(sbuf *o, const char *name, const char *text)
{
    fact_open(o, name);
    put_path(o, text);
    fact_close(o);
}

static void put_fact_counts(sbuf *o, const run_result *r)
{
    fact_open(o, "Images");
    sbuf_printf(o, "%zu", r->n_extracted);
    if (r->n_rows > r->n_extracted)
        sbuf_printf(o, " <span class=\"muted\">of %zu rows (%zu could not be read)</span>",
                    r->n_rows, r->n_rows - r->n_extracted);
    fact_close(o);
    fact_open(o, "Failures");
    sbuf_printf(o, "%zu", r->n_failures);
    if (r->n_extracted) {
        sbuf_puts(o, " <span class=\"muted\">(");
        put_pct(o, (double)r->n_failures / (double)r->n_extracted);
        sbuf_puts(o, " of the images)</span>");
    }
    fact_close(o);
    fact_open(o, "Robust features");
    sbuf_printf(o, "%zu per image", r->feature_dim);
    fact_close(o);
    fact_open(o, "Selected per group");
    sbuf_printf(o, "k = %zu", r->k);
    fact_close(o);
    fact_open(o, "Validity");
    sbuf_printf(o, "ER " U_GE " BER + %g, EC " U_GE " %g", r->delta, r->gamma);
    sbuf_printf(o, " <span class=\"muted\">(" U_DELTA " = %g, " U_GAMMA " = %g)</span>",
                r->delta, r->gamma);
    fact_close(o);
}

static void put_fact_options(sbuf *o, const run_result *r)
{
    fact_open(o, "Tree depths");
    for (size_t j = 0; j < barlow_analysis_depth_count(r->an); j++)
        sbuf_printf(o, "%s%d", j ? ", " : "", (int)barlow_analysis_depth(r->an, j));
    fact_close(o);
    fact_open(o, "Panels");
    sbuf_printf(o, "%zu images per row", r->top);
    fact_close(o);
    fact_open(o, "Feature attacks");
    if (r->attack_steps)
        sbuf_printf(o, "%zu steps of L2 length %.3g <span class=\"muted\">(L2 radius %.3g)</span>",
                    r->attack_steps, r->attack_step, r->attack_eps);
    else sbuf_puts(o, "none");
    fact_close(o);
    fact_open(o, "Stages");
    double total = 0;
    for (size_t i = 0; i < r->n_stages; i++) {
        const run_stage *s = &r->stages[i];
        sbuf_puts(o, i ? "<br>" : "");
        sbuf_html(o, s->name);
        sbuf_puts(o, " <span class=\"muted\">");
        put_seconds(o, s->seconds);
        sbuf_puts(o, s->reused ? ", reused</span>" : "</span>");
        total += s->seconds;
    }
    if (!r->n_stages) sbuf_puts(o, U_DASH);
    else if (r->n_stages > 1) {
        sbuf_puts(o, "<br>total <span class=\"muted\">");
        put_seconds(o, total);
        sbuf_puts(o, "</span>");
    }
    fact_close(o);
}

static void put_overview_head(report_ctx *c)
{
    const run_result *r = c->r;
    sbuf *o = c->out;
    sbuf_puts(o, "<h1>Why the model fails: Barlow report</h1>\n<p class=\"sub\">Failures of ");
    if (r->predict) {
        sbuf_puts(o, "<b>");
        put_path(o, r->predict);
        sbuf_puts(o, "</b>");
    } else {
        sbuf_puts(o, "the predictions given with the dataset");
    }
    sbuf_puts(o, ", explained with the features of the robust model <b>");
    put_path(o, r->model);
    sbuf_puts(o, "</b>.</p>\n<dl class=\"facts\">\n");
    fact_text(o, "Robust model", r->model);
    if (r->predict) fact_text(o, "Inspected model", r->predict);
    else fact_text(o, "Inspected model", "predictions from the dataset");
    fact_text(o, "Dataset", r->dataset);
    put_fact_counts(o, r);
    put_fact_options(o, r);
    sbuf_puts(o, "</dl>\n");
    if (r->n_failures == 0)
        sbuf_printf(o, "<p class=\"note\"><b>The inspected model makes no mistakes</b> on the "
                       "%zu images with features: every prediction equals its label, so there "
                       "are no failures to explain. The groups below are listed for "
                       "completeness.</p>\n",
                    r->n_extracted);
}

static void put_glossary(sbuf *o)
{
    sbuf_puts(o,
        "<details><summary>How to read this report</summary>\n"
        "<p>Each class is looked at twice: the images <b>labelled</b> as the class (failures: "
        "images of the class the model gets wrong) and the images <b>predicted</b> as the "
        "class (failures: images of other classes the model calls this one). In each group "
        "the k robust features with the highest mutual information with failure are "
        "selected, and a shallow decision tree on them splits the group into leaves. A leaf "
        "is a rule such as <i>when feature 1378 " U_LE " 0.089 the error rate rises from "
        "50% to 100%</i>.</p>\n<ul>\n"
        "<li><b>BER</b>: the group's base error rate, failures / images.</li>\n"
        "<li><b>ER</b>: a leaf's error rate, its failures / its images.</li>\n"
        "<li><b>EC</b>: a leaf's error coverage, its failures / the group's failures.</li>\n"
        "<li><b>IV</b> = ER " U_DOT " EC ranks the leaves; the <b>best leaf</b> has the "
        "highest IV. <b>p-value</b>: chance of at least that many failures in a random set "
        "of the leaf's size at the group's BER.</li>\n"
        "<li><b>ALER</b>: the average leaf error rate, the sum of ER " U_DOT " EC over the "
        "leaves; ALER " U_MINUS " BER says how much the tree concentrates the failures.</li>\n"
        "</ul>\n<p>Then look at each group's panels: what the features on the best rule "
        "look at, with heatmaps and feature attacks, and give the features names.</p>\n"
        "</details>\n");
}

/* The paper's Table 1: per grouping and depth, groups with a valid best
 * leaf out of the non-empty groups. */
static int put_table1(report_ctx *c)
{
    const run_result *r = c->r;
    sbuf *o = c->out;
    bool has[2] = {false, false};
    group_view v;
    for (size_t i = 0; i < barlow_analysis_group_count(r->an); i++) {
        if (group_view_load(r, i, &v) != CLI_OK) return CLI_ERROR;
        has[v.g.grouping == BARLOW_GROUP_BY_LABEL ? 0 : 1] = true;
    }
    sbuf_printf(o, "<h2 id=\"evaluation\">Automatic evaluation</h2>\n<p class=\"legend\">As "
                   "Table 1 of the paper: a group's best leaf (highest IV) is <b>valid</b> when "
                   "its ER " U_GE " BER + " U_DELTA " and its EC " U_GE " " U_GAMMA
                   " (" U_DELTA " = %g, " U_GAMMA " = %g). Counted over every class of the "
                   "analysis with images in the grouping.</p>\n",
                r->delta, r->gamma);
    sbuf_puts(o, "<div class=\"table-wrap narrow\"><table class=\"t1\">\n<thead><tr>"
                 "<th>Grouping</th><th class=\"n\">Depth</th><th class=\"n\">Valid groups</th>"
                 "<th class=\"n\">Of</th><th>Fraction</th></tr></thead>\n<tbody>\n");
    for (int b = 0; b < 2; b++)
        for (size_t j = 0; has[b] && j < barlow_analysis_depth_count(r->an); j++) {
            barlow_analysis_evaluation e = {.version = BARLOW_ANALYSIS_EVALUATION_VERSION};
            if (barlow_analysis_get_evaluation(r->an, (barlow_group_by)b, j, &e) != BARLOW_OK)
                return lib_error("evaluation");
            const char *w = cli_grouping_name(e.grouping);
            sbuf_printf(o, "<tr class=\"eval\" data-grouping=\"%s\" data-depth=\"%d\" "
                           "data-valid=\"%zu\" data-groups=\"%zu\"><td>by %s</td>"
                           "<td class=\"n\">%d</td><td class=\"n\">%zu</td><td class=\"n\">%zu"
                           "</td><td><span class=\"frac\"><span style=\"width:%.1f%%\"></span>"
                           "</span>",
                        w, (int)e.depth, e.valid, e.groups, w, (int)e.depth, e.valid, e.groups,
                        100.0 * e.valid_fraction);
            put_pct(o, e.valid_fraction);
            sbuf_puts(o, "</td></tr>\n");
        }
    sbuf_puts(o, "</tbody></table></div>\n");
    return CLI_OK;
}

static void td_count(sbuf *o, size_t v) { sbuf_printf(o, "<td class=\"n\">%zu</td>", v); }

static void td_pct(sbuf *o, double v)
{
    sbuf_printf(o, "<td class=\"n\" data-sort=\"%.6g\">", v);
    put_pct(o, v);
    sbuf_puts(o, "</td>");
}

static void td_none(sbuf *o) { sbuf_puts(o, "<td class=\"n\" data-sort=\"\">" U_DASH "</td>"); }

static void td_status(sbuf *o, const group_view *v, const barlow_analysis_result *res)
{
    switch (group_kind(v)) {
    case BARLOW_ANALYSIS_EMPTY: sbuf_puts(o, "<td data-sort=\"-4\">empty</td>"); break;
    case BARLOW_ANALYSIS_NO_FAILURES: sbuf_puts(o, "<td data-sort=\"-3\">no failures</td>"); break;
    case BARLOW_ANALYSIS_NO_CORRECT: sbuf_puts(o, "<td data-sort=\"-2\">all failures</td>"); break;
    case BARLOW_ANALYSIS_TOO_SMALL: sbuf_puts(o, "<td data-sort=\"-1\">too small</td>"); break;
    default:
        if (res->valid) sbuf_puts(o, "<td data-sort=\"1\"><span class=\"ok\">" U_CHECK
                                     " valid</span></td>");
        else sbuf_puts(o, "<td data-sort=\"0\" class=\"muted\">not valid</td>");
    }
}

/* The best leaf's ER, EC, IV, p-value and ALER − BER at depth index j. */
static int put_row_leaf(report_ctx *c, const group_view *v, size_t j,
                        const barlow_analysis_result *res)
{
    sbuf *o = c->out;
    const barlow_tree *t = barlow_analysis_group_tree(c->r->an, v->index, j);
    if (!t || res->best_leaf < 0 || group_kind(v) != BARLOW_ANALYSIS_ANALYSED) {
        for (int k = 0; k < 5; k++) td_none(o);
        return CLI_OK;
    }
    barlow_tree_node nd = {.version = BARLOW_TREE_NODE_VERSION};
    if (barlow_tree_get_node(t, (size_t)res->best_leaf, &nd) != BARLOW_OK)
        return lib_error("best leaf");
    td_pct(o, res->best_error_rate);
    td_pct(o, res->best_error_coverage);
    sbuf_printf(o, "<td class=\"n\" data-sort=\"%.6g\">%.3f</td>", res->best_importance,
                res->best_importance);
    sbuf_printf(o, "<td class=\"n\" data-sort=\"%.6g\">", nd.p_value);
    put_p(o, nd.p_value);
    double gain = res->aler - v->g.base_error_rate;
    sbuf_printf(o, "</td><td class=\"n\" data-sort=\"%.6g\">%+.1f</td>", gain, 100.0 * gain);
    return CLI_OK;
}

static void put_group_href(report_ctx *c, const group_view *v)
{
    if (c->single) {
        sbuf_printf(c->out, "#%s", v->slug);
        return;
    }
    sbuf page = SBUF_INIT;
    run_group_page(c->r, v->index, &page);
    sbuf_puts(c->out, c->up);
    if (page.data) put_url(c->out, page.data);
    if (sbuf_failed(&page)) c->out->failed = true;
    sbuf_free(&page);
}

static int put_group_row(report_ctx *c, const group_view *v, size_t j)
{
    sbuf *o = c->out;
    barlow_analysis_result res;
    if (get_result(c->r, v->index, j, &res) != CLI_OK) return CLI_ERROR;
    sbuf_printf(o, "<tr id=\"row-%s\"><td>%s</td><td class=\"name\" data-sort=\"", v->slug,
                cli_grouping_name(v->g.grouping));
    sbuf_html(o, v->g.class_name);
    sbuf_puts(o, "\"><a href=\"");
    put_group_href(c, v);
    sbuf_puts(o, "\">");
    sbuf_html(o, v->g.class_name);
    sbuf_printf(o, "</a> <span class=\"muted\">#%ld</span></td>", (long)v->g.class_id);
    td_count(o, v->g.size);
    td_count(o, v->g.failures);
    td_pct(o, v->g.base_error_rate);
    if (put_row_leaf(c, v, j, &res) != CLI_OK) return CLI_ERROR;
    td_status(o, v, &res);
    sbuf_puts(o, "</tr>\n");
    return CLI_OK;
}

/* The index of the deepest depth fitted. */
static size_t deepest(const barlow_analysis *an)
{
    size_t best = 0;
    for (size_t j = 1; j < barlow_analysis_depth_count(an); j++)
        if (barlow_analysis_depth(an, j) > barlow_analysis_depth(an, best)) best = j;
    return best;
}

static int put_groups_table(report_ctx *c)
{
    const run_result *r = c->r;
    sbuf *o = c->out;
    size_t jd = deepest(r->an), shown = 0;
    int depth = (int)barlow_analysis_depth(r->an, jd);
    sbuf_printf(o, "<h2 id=\"groups\">Groups</h2>\n<p class=\"legend\">One row per group; the "
                   "leaf columns are the best leaf (highest IV) of the depth-%d tree, the "
                   "deepest fitted (each group's page shows every depth). ALER " U_MINUS
                   " BER in percentage points. Click a column header to sort.</p>\n",
                depth);
    sbuf_printf(o, "<div class=\"table-wrap\"><table class=\"sortable groups\">\n<thead><tr>"
                   "<th>Grouping</th><th>Class</th><th class=\"n\">Images</th>"
                   "<th class=\"n\">Failures</th><th class=\"n\">BER</th>"
                   "<th class=\"n\">ER</th><th class=\"n\">EC</th><th class=\"n\">IV</th>"
                   "<th class=\"n\">p-value</th><th class=\"n\">ALER " U_MINUS " BER</th>"
                   "<th>Depth %d</th></tr></thead>\n<tbody>\n",
                depth);
    for (size_t i = 0; i < barlow_analysis_group_count(r->an); i++) {
        group_view v;
        if (!run_shows_group(r, i)) continue;
        if (group_view_load(r, i, &v) != CLI_OK || put_group_row(c, &v, jd) != CLI_OK)
            return CLI_ERROR;
        shown++;
    }
    sbuf_puts(o, "</tbody></table></div>\n");
    if (!shown) sbuf_puts(o, "<p class=\"note\">No group to show: no class of the analysis "
                             "is among the classes chosen.</p>\n");
    else if (r->classes)
        sbuf_printf(o, "<p class=\"legend\">Only the %zu classes chosen are listed; the "
                       "automatic evaluation above covers every class.</p>\n",
                    r->n_classes);
    return CLI_OK;
}

static int put_overview(report_ctx *c)
{
    put_overview_head(c);
    put_glossary(c->out);
    if (put_table1(c) != CLI_OK) return CLI_ERROR;
    return put_groups_table(c);
}

/* ---- a group: header, selection ---------------------------------------------- */

static void put_group_header(report_ctx *c, const group_view *v)
{
    sbuf *o = c->out;
    bool by_label = v->g.grouping == BARLOW_GROUP_BY_LABEL;
    sbuf_puts(o, "<nav class=\"crumbs\">");
    sbuf_puts(o, c->single ? "<a href=\"#groups\">&#8593; All groups</a>"
                           : "<a href=\"../index.html\">&#8592; Overview</a>");
    sbuf_puts(o, "</nav>\n");
    sbuf_printf(o, "<h%d id=\"%s-title\">", c->h, v->slug);
    sbuf_html(o, v->g.class_name);
    sbuf_printf(o, " <span class=\"muted\">%s %s class %ld</span></h%d>\n<p class=\"sub\">",
                by_label ? "by label" : "by prediction", U_DOT, (long)v->g.class_id, c->h);
    sbuf_puts(o, by_label ? "Images labelled <b>" : "Images the model predicts as <b>");
    sbuf_html(o, v->g.class_name);
    sbuf_puts(o, by_label ? "</b>; a failure is one the model gets wrong.</p>\n"
                          : "</b>; a failure is one whose label is another class.</p>\n");
    sbuf_printf(o, "<dl class=\"facts\"><div><dt>Images</dt><dd>%zu</dd></div>"
                   "<div><dt>Failures</dt><dd>%zu</dd></div><div><dt>Base error rate</dt><dd>",
                v->g.size, v->g.failures);
    put_pct(o, v->g.base_error_rate);
    sbuf_printf(o, "</dd></div><div><dt>Selected features</dt><dd>%zu</dd></div></dl>\n",
                v->g.n_selected);
}

/* Says why a group that is not analysed has no trees; false when it is. */
static bool put_status_note(report_ctx *c, const group_view *v)
{
    sbuf *o = c->out;
    bool by_label = v->g.grouping == BARLOW_GROUP_BY_LABEL;
    switch (group_kind(v)) {
    case BARLOW_ANALYSIS_EMPTY:
        sbuf_printf(o, "<p class=\"note\">This group is empty: no image is %s this class, "
                       "so there is nothing to analyse.</p>\n",
                    by_label ? "labelled as" : "predicted as");
        return true;
    case BARLOW_ANALYSIS_NO_FAILURES:
        sbuf_printf(o, "<p class=\"note\"><b>No failures in this group</b>: all %zu images are "
                       "classified correctly, so there is nothing to explain.</p>\n",
                    v->g.size);
        return true;
    case BARLOW_ANALYSIS_NO_CORRECT:
        sbuf_printf(o, "<p class=\"note\">Every image of this group (%zu) is a failure: with "
                       "no correct image to compare with, no feature can tell failures "
                       "apart.</p>\n",
                    v->g.size);
        return true;
    case BARLOW_ANALYSIS_TOO_SMALL:
        sbuf_printf(o, "<p class=\"note\">This group is too small to analyse (%zu images): "
                       "no features were selected and no tree was fitted.</p>\n",
                    v->g.size);
        return true;
    default: return false;
    }
}

/* The split features of every tree of the group, ascending, no repeats
 * (*out: free it). */
static int rule_features(const run_result *r, size_t group, size_t **out, size_t *n_out)
{
    size_t cap = 0, n = 0;
    size_t nd = barlow_analysis_depth_count(r->an);
    for (size_t j = 0; j < nd; j++)
        cap += barlow_tree_node_count(barlow_analysis_group_tree(r->an, group, j));
    size_t *f = bw_mallocn(cap, sizeof *f, "report");
    if (!f) return oom("features");
    for (size_t j = 0; j < nd; j++) {
        const barlow_tree *t = barlow_analysis_group_tree(r->an, group, j);
        for (size_t i = 0; i < barlow_tree_node_count(t); i++) {
            barlow_tree_node x = {.version = BARLOW_TREE_NODE_VERSION};
            if (barlow_tree_get_node(t, i, &x) == BARLOW_OK && !x.is_leaf && x.feature >= 0)
                f[n++] = (size_t)x.feature;
        }
    }
    qsort(f, n, sizeof *f, cmp_size);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || f[u - 1] != f[i]) f[u++] = f[i];
    *out = f;
    *n_out = u;
    return CLI_OK;
}

static bool has_feature(const size_t *f, size_t n, size_t x)
{
    return bsearch(&x, f, n, sizeof *f, cmp_size) != NULL;
}

static int put_selection(report_ctx *c, const group_view *v, const size_t *used, size_t n_used)
{
    sbuf *o = c->out;
    size_t k = v->g.n_selected;
    if (!k) return CLI_OK;
    size_t *f = bw_mallocn(k, sizeof *f, "report");
    double *s = bw_mallocn(k, sizeof *s, "report");
    int rc = CLI_OK;
    if (!f || !s) rc = oom("selection");
    else if (barlow_analysis_group_selection(c->r->an, v->index, f, s) != BARLOW_OK)
        rc = lib_error("selection");
    if (rc == CLI_OK) {
        sbuf_printf(o, "<h%d id=\"%s-selection\">Selected features</h%d>\n<p class=\"legend\">"
                       "The %zu features with the highest mutual information with failure in "
                       "this group, best first, with their scores. Outlined: used by a tree."
                       "</p>\n<ol class=\"chips\">",
                    c->h + 1, v->slug, c->h + 1, k);
        for (size_t i = 0; i < k; i++) {
            sbuf_printf(o, "<li%s>", has_feature(used, n_used, f[i]) ? " class=\"used\"" : "");
            put_feature(c, v->g.class_id, f[i]);
            sbuf_printf(o, "<small>%.3f</small></li>", s[i]);
        }
        sbuf_puts(o, "</ol>\n");
    }
    bw_free(f);
    bw_free(s);
    return rc;
}

/* ---- a group: the tree drawing ----------------------------------------------- */

/* The tree as the library draws it (barlow_tree_to_svg), in a box as wide
 * as the page, each leaf linked to its card, the best leaf outlined. */
static int put_tree_svg(report_ctx *c, const group_view *v, const tree_view *t)
{
    sbuf *o = c->out;
    const char **names = NULL;
    size_t n_names = 0;
    char link[96];
    snprintf(link, sizeof link, "#%s-d%d-n", v->slug, (int)t->depth);
    if (feature_names_for_class(c->r->names, v->g.class_id, &names, &n_names) != CLI_OK)
        return oom("feature names");
    barlow_svg_options so;
    barlow_svg_options_init(&so);
    so.names = names;
    so.n_names = n_names;
    so.link_prefix = link;
    so.highlight = t->res.best_leaf >= 0 ? t->res.best_leaf : -2;
    so.max_width = TREE_WIDTH;
    barlow_buffer svg = {NULL, 0};
    barlow_status st = barlow_tree_to_svg(t->tree, &so, &svg);
    bw_free(names);
    if (st != BARLOW_OK) return lib_error("tree drawing");
    sbuf_puts(o, "<div class=\"tree\">");
    sbuf_add(o, svg.data, svg.size);
    barlow_buffer_free(&svg);
    sbuf_puts(o, "</div>\n<p class=\"legend\">Each box: images, error rate (ER), "
                 "failures and error coverage (EC, also the bar). Colour from the group's base "
                 "error rate (pale) to the highest ER of the tree (red); grey where ER " U_LE
                 " BER. Line width: the child's share of the group. Click a leaf for its "
                 "rule.</p>\n");
    return CLI_OK;
}

/* ---- a group: rules ---------------------------------------------------------- */

static int put_conditions(report_ctx *c, const tree_view *t, size_t id)
{
    barlow_condition conds[BARLOW_TREE_MAX_DEPTH];
    size_t n = 0;
    if (barlow_tree_path(t->tree, id, conds, &n) != BARLOW_OK) return lib_error("rule path");
    if (!n) return CLI_OK;
    sbuf *o = c->out;
    sbuf_puts(o, "<p class=\"conds\">Exact: ");
    for (size_t k = 0; k < n; k++)
        sbuf_printf(o, "%s<code>feature %lld %s %.9g</code>", k ? " and " : "",
                    (long long)conds[k].feature, conds[k].op == BARLOW_OP_LE ? U_LE : "&gt;",
                    conds[k].threshold);
    sbuf_puts(o, "</p>\n");
    return CLI_OK;
}

static void put_leaf_stats(sbuf *o, const barlow_tree_node *nd)
{
    sbuf_printf(o, "<dl class=\"stats\"><div><dt>Images</dt><dd>%zu</dd></div><div><dt>Failures"
                   "</dt><dd>%zu</dd></div><div><dt>p-value</dt><dd>",
                nd->size, nd->failures);
    put_p(o, nd->p_value);
    sbuf_puts(o, "</dd></div><div><dt>ER</dt><dd>");
    put_pct(o, nd->error_rate);
    sbuf_puts(o, "</dd></div><div><dt>EC</dt><dd>");
    put_pct(o, nd->error_coverage);
    sbuf_printf(o, "</dd></div><div><dt>IV</dt><dd>%.3f</dd></div></dl>\n", nd->importance);
}

/* The failure samples of a leaf: a strip as wide as the page allows (the
 * card spans the row), linked to the file at full size. */
static int put_leaf_samples(report_ctx *c, const group_view *v, const tree_view *t, size_t id,
                            const run_samples *s)
{
    sbuf alt = SBUF_INIT;
    sbuf_printf(&alt, "Failures of leaf %zu (depth %d) of ", id, (int)t->depth);
    sbuf_puts(&alt, v->g.class_name);
    sbuf_printf(&alt, ", by %s", cli_grouping_name(v->g.grouping));
    sbuf_puts(c->out, "<figure class=\"samples\">");
    int rc = sbuf_failed(&alt) ? oom("alt text") : put_image(c, s->file, alt.data);
    sbuf_puts(c->out, "<figcaption>Failures in this leaf, drawn at random.</figcaption>"
                      "</figure>\n");
    sbuf_free(&alt);
    return rc;
}

/* The badge of the best leaf; where its ER is not above the BER, a word
 * that it is no failure mode for all its IV. */
static void put_best_badge(sbuf *o, const group_view *v, const tree_view *t,
                           const barlow_tree_node *nd)
{
    if (t->res.valid) sbuf_puts(o, "<span class=\"badge ok\">best leaf " U_DOT " valid</span>");
    else sbuf_puts(o, "<span class=\"badge\">best leaf " U_DOT " not valid</span>");
    if (nd->error_rate > v->g.base_error_rate) return;
    sbuf_puts(o, "<span class=\"caveat\">highest IV, but its error rate is not above the "
                 "group's (BER ");
    put_pct(o, v->g.base_error_rate);
    sbuf_puts(o, ")</span>");
}

static int put_leaf_card(report_ctx *c, const group_view *v, const tree_view *t, size_t rank)
{
    sbuf *o = c->out;
    size_t id = t->leaves[rank];
    const barlow_tree_node *nd = &t->nd[id];
    bool best = (int32_t)id == t->res.best_leaf;
    const run_samples *s = run_find_samples(c->r, v->index, t->j, (int32_t)id);
    sbuf_printf(o, "<article class=\"leaf%s%s\" id=\"%s-d%d-n%zu\">\n<div class=\"text\">"
                   "<header><span class=\"rank\">#%zu</span><span>leaf %zu</span>",
                best ? " best" : "", s ? " wide" : "", v->slug, (int)t->depth, id, rank + 1, id);
    if (best) put_best_badge(o, v, t, nd);
    sbuf_puts(o, "</header>\n<p class=\"rule\">");
    sbuf sentence = SBUF_INIT;
    rule_sentence(t->tree, id, c->r->names, v->g.class_id, &sentence);
    sbuf_html(o, sentence.data);
    if (sbuf_failed(&sentence)) o->failed = true;
    sbuf_free(&sentence);
    sbuf_puts(o, "</p>\n");
    int rc = put_conditions(c, t, id);
    put_leaf_stats(o, nd);
    sbuf_puts(o, "</div>\n");
    if (rc == CLI_OK && s) rc = put_leaf_samples(c, v, t, id, s);
    sbuf_puts(o, "</article>\n");
    return rc;
}

static void put_depth_facts(report_ctx *c, const group_view *v, const tree_view *t)
{
    sbuf *o = c->out;
    sbuf_puts(o, "<p>ALER ");
    put_pct(o, t->res.aler);
    sbuf_printf(o, " <span class=\"muted\">(%+.1f points over the BER)</span> " U_DOT
                   " %zu leaves",
                100.0 * (t->res.aler - v->g.base_error_rate), t->n_leaves);
    if (t->res.best_leaf >= 0) {
        sbuf_printf(o, " " U_DOT " best leaf %d: ER ", (int)t->res.best_leaf);
        put_pct(o, t->res.best_error_rate);
        sbuf_puts(o, ", EC ");
        put_pct(o, t->res.best_error_coverage);
        sbuf_puts(o, t->res.valid ? ", <span class=\"ok\">" U_CHECK " valid</span>"
                                  : ", <span class=\"muted\">not valid</span>");
        if (t->res.best_error_rate <= v->g.base_error_rate)
            sbuf_puts(o, " <span class=\"muted\">(highest IV, but its ER is not above the "
                         "BER)</span>");
    }
    sbuf_puts(o, "</p>\n");
}

static int put_depth(report_ctx *c, const group_view *v, size_t j)
{
    tree_view t;
    int rc = tree_view_load(c->r, v->index, j, &t);
    if (rc == CLI_OK && t.tree && t.n) {
        sbuf *o = c->out;
        sbuf_printf(o, "<section class=\"depth\" id=\"%s-d%d\">\n<h%d>Tree of depth %d</h%d>\n",
                    v->slug, (int)t.depth, c->h + 1, (int)t.depth, c->h + 1);
        put_depth_facts(c, v, &t);
        rc = put_tree_svg(c, v, &t);
        sbuf_printf(o, "<h%d>Rules by importance</h%d>\n<div class=\"leaves\">\n", c->h + 2,
                    c->h + 2);
        for (size_t k = 0; rc == CLI_OK && k < t.n_leaves; k++) rc = put_leaf_card(c, v, &t, k);
        sbuf_puts(o, "</div>\n</section>\n");
    }
    tree_view_free(&t);
    return rc;
}

/* ---- a group: panels, names -------------------------------------------------- */

/* Features on the best leaf's path at each depth, in order of first use. */
static int best_path_features(const run_result *r, size_t group, size_t *f, size_t *n_out)
{
    size_t n = 0;
    for (size_t j = 0; j < barlow_analysis_depth_count(r->an); j++) {
        const barlow_tree *t = barlow_analysis_group_tree(r->an, group, j);
        barlow_analysis_result res;
        barlow_condition conds[BARLOW_TREE_MAX_DEPTH];
        size_t nc = 0;
        if (!t) continue;
        if (get_result(r, group, j, &res) != CLI_OK) return CLI_ERROR;
        if (res.best_leaf < 0) continue;
        if (barlow_tree_path(t, (size_t)res.best_leaf, conds, &nc) != BARLOW_OK)
            return lib_error("rule path");
        for (size_t k = 0; k < nc; k++) {
            size_t x = (size_t)conds[k].feature, i = 0;
            while (i < n && f[i] != x) i++;
            if (i == n) f[n++] = x;
        }
    }
    *n_out = n;
    return CLI_OK;
}

static int put_panel(report_ctx *c, const group_view *v, size_t feature)
{
    sbuf *o = c->out;
    const run_panel *p = run_find_panel(c->r, v->index, feature);
    sbuf_printf(o, "<figure class=\"panel\" id=\"%s-f%zu\"><figcaption><b>", v->slug, feature);
    put_feature(c, v->g.class_id, feature);
    sbuf_puts(o, "</b>");
    if (!p) {
        sbuf_puts(o, ": no panel was made for this feature.</figcaption></figure>\n");
        return CLI_OK;
    }
    sbuf_printf(o, " " U_DASH " highest value %.4g in this group (%zu images with features "
                   "considered). The heatmaps share one colour scale, 0 to %.4g.</figcaption>",
                (double)p->top_value, p->rows_considered, (double)p->map_max);
    sbuf alt = SBUF_INIT;
    sbuf_printf(&alt, "Panel of feature %zu on ", feature);
    sbuf_puts(&alt, v->g.class_name);
    sbuf_puts(&alt, ": most activating images, heatmaps");
    sbuf_puts(&alt, c->r->attack_steps ? " and feature attacks" : "");
    int rc = sbuf_failed(&alt) ? oom("alt text") : put_image(c, p->file, alt.data);
    sbuf_puts(o, "</figure>\n");
    sbuf_free(&alt);
    return rc;
}

static int put_panels(report_ctx *c, const group_view *v)
{
    sbuf *o = c->out;
    size_t cap = barlow_analysis_depth_count(c->r->an) * BARLOW_TREE_MAX_DEPTH, n = 0;
    size_t *f = bw_mallocn(cap, sizeof *f, "report");
    if (!f) return oom("features");
    int rc = best_path_features(c->r, v->index, f, &n);
    sbuf_printf(o, "<section id=\"%s-features\">\n<h%d>What the best rules' features show</h%d>\n",
                v->slug, c->h + 1, c->h + 1);
    if (rc == CLI_OK && n == 0)
        sbuf_puts(o, "<p>The best leaf is the whole group (the tree has no split): there is no "
                     "feature to show.</p>\n");
    else if (rc == CLI_OK)
        sbuf_printf(o, "<p class=\"legend\">For each feature on a best leaf's rule: the "
                       "group's images with the highest values of the feature (first row), "
                       "the feature's heatmaps over them%s. Heatmaps share one colour scale per "
                       "panel, so their brightness compares across the images of a panel.</p>\n",
                    c->r->attack_steps ? " (second row) and feature attacks, the images changed "
                                         "to raise the feature (third row)"
                                       : " (second row); no feature attacks were made");
    for (size_t i = 0; rc == CLI_OK && i < n; i++) rc = put_panel(c, v, f[i]);
    sbuf_puts(o, "</section>\n");
    bw_free(f);
    return rc;
}

/* feature-names-template.json as run_write() writes it (the features of
 * every panel: those on the shown groups' best rules), for the single file
 * that has to carry it. */
static int whole_template(const run_result *r, sbuf *out)
{
    size_t *f = bw_mallocn(r->n_panels, sizeof *f, "report"), n = 0;
    if (!f) return oom("template");
    for (size_t i = 0; i < r->n_panels; i++) f[n++] = r->panels[i].feature;
    qsort(f, n, sizeof *f, cmp_size);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || f[u - 1] != f[i]) f[u++] = f[i];
    feature_names_template(r->names, f, u, out);
    bw_free(f);
    return sbuf_failed(out) ? oom("template") : CLI_OK;
}

/* The link to feature-names-template.json: the file next to the pages, or
 * in the single file the file itself (a data: URI to save). */
static int put_template_link(report_ctx *c)
{
    sbuf *o = c->out;
    if (!c->single) {
        sbuf_printf(o, "<a href=\"%sfeature-names-template.json\">", c->up);
        return CLI_OK;
    }
    sbuf json = SBUF_INIT;
    int rc = whole_template(c->r, &json);
    if (rc == CLI_OK) {
        sbuf_puts(o, "<a download=\"feature-names-template.json\" "
                     "href=\"data:application/json;base64,");
        sbuf_base64(o, json.data, json.len);
        sbuf_puts(o, "\">");
    }
    sbuf_free(&json);
    return rc;
}

static int put_names(report_ctx *c, const group_view *v, const size_t *f, size_t n)
{
    sbuf *o = c->out;
    sbuf_printf(o, "<section id=\"%s-names\">\n<h%d>Name these features</h%d>\n", v->slug,
                c->h + 1, c->h + 1);
    if (!n) {
        sbuf_puts(o, "<p>The trees of this group have no split: no feature to name.</p>\n"
                     "</section>\n");
        return CLI_OK;
    }
    sbuf_puts(o, "<p>Write down what each feature shows (\"buckle\", \"water\"), save the "
                 "JSON below as a file, and run again with <code>--feature-names F.json</code>: "
                 "rules and pages then use the names. ");
    if (put_template_link(c) != CLI_OK) return CLI_ERROR;
    sbuf_printf(o, "<code>feature-names-template.json</code></a>%s lists the features on the "
                   "best rules of every group shown. To name a feature for this class only, "
                   "put it under the class name: <code>{\"",
                c->single ? " (click to save it)" : "");
    sbuf_html(o, v->g.class_name);
    sbuf_puts(o, "\": {\"13\": \"ankle strap\"}}</code>.</p>\n<pre>");
    sbuf tmpl = SBUF_INIT;
    feature_names_template(c->r->names, f, n, &tmpl);
    sbuf_html(o, tmpl.data);
    if (sbuf_failed(&tmpl)) o->failed = true;
    sbuf_free(&tmpl);
    sbuf_puts(o, "</pre>\n</section>\n");
    return CLI_OK;
}

/* A group's content: its page's body, or its section of the single file. */
static int put_group(report_ctx *c, const group_view *v)
{
    size_t *used = NULL, n_used = 0;
    put_group_header(c, v);
    if (put_status_note(c, v)) return CLI_OK;
    int rc = rule_features(c->r, v->index, &used, &n_used);
    if (rc == CLI_OK) rc = put_selection(c, v, used, n_used);
    for (size_t j = 0; rc == CLI_OK && j < barlow_analysis_depth_count(c->r->an); j++)
        rc = put_depth(c, v, j);
    if (rc == CLI_OK) rc = put_panels(c, v);
    if (rc == CLI_OK) rc = put_names(c, v, used, n_used);
    bw_free(used);
    return rc;
}

/* ---- the two layouts --------------------------------------------------------- */

static int report_single(report_ctx *c)
{
    sbuf page = SBUF_INIT;
    int rc = CLI_OK;
    c->out = &page;
    c->up = "";
    c->h = 2;
    page_begin(c, "Barlow report");
    rc = put_overview(c);
    for (size_t i = 0; rc == CLI_OK && i < barlow_analysis_group_count(c->r->an); i++) {
        group_view v;
        if (!run_shows_group(c->r, i)) continue;
        rc = group_view_load(c->r, i, &v);
        if (rc != CLI_OK) break;
        sbuf_printf(&page, "<section class=\"group\" id=\"%s\">\n", v.slug);
        rc = put_group(c, &v);
        sbuf_puts(&page, "</section>\n");
    }
    page_end(c, true);
    if (rc == CLI_OK) rc = write_file(c->dir, "index.html", &page);
    c->wrote_index = rc == CLI_OK;
    sbuf_free(&page);
    return rc;
}

static int write_group_page(report_ctx *c, size_t i, sbuf *page)
{
    group_view v;
    sbuf title = SBUF_INIT;
    char name[RUN_PAGE_NAME_MAX];
    int rc = group_view_load(c->r, i, &v);
    if (rc != CLI_OK) return rc;
    sbuf_reset(page);
    sbuf_puts(&title, v.g.class_name);
    sbuf_printf(&title, " by %s " U_DASH " Barlow report", cli_grouping_name(v.g.grouping));
    page_begin(c, title.data ? title.data : "Barlow report");
    rc = put_group(c, &v);
    page_end(c, false);
    run_group_page_name(c->r, i, name, sizeof name);
    if (sbuf_failed(&title)) rc = oom("page");
    if (rc == CLI_OK) rc = write_file(c->dir, name, page);
    if (rc == CLI_OK) c->pages_written++;
    sbuf_free(&title);
    return rc;
}

static int report_pages(report_ctx *c)
{
    sbuf page = SBUF_INIT, css = SBUF_INIT;
    int rc = CLI_OK;
    c->out = &page;
    put_css(&css);
    rc = write_file(c->dir, "report.css", &css);
    c->wrote_css = rc == CLI_OK;
    if (rc == CLI_OK) rc = make_dir(c->dir, "groups", &c->made_groups);
    if (rc == CLI_OK) {
        c->up = "";
        c->h = 1;
        page_begin(c, "Barlow report");
        rc = put_overview(c);
        page_end(c, true);
    }
    if (rc == CLI_OK) rc = write_file(c->dir, "index.html", &page);
    c->wrote_index = rc == CLI_OK;
    c->up = "../";
    for (size_t i = 0; rc == CLI_OK && i < barlow_analysis_group_count(c->r->an); i++)
        if (run_shows_group(c->r, i)) rc = write_group_page(c, i, &page);
    sbuf_free(&page);
    sbuf_free(&css);
    return rc;
}

int report_write(const run_result *r, const char *dir, bool single_file)
{
    report_ctx c = {r, dir, single_file, NULL, "", 1, false, false, false, 0};
    int rc = single_file ? report_single(&c) : report_pages(&c);
    if (rc != CLI_OK) remove_written(&c);
    return rc;
}

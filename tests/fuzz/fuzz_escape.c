/* libFuzzer target over the escaping of user-given text in the exports of
 * a tree (lib/tree_svg.c, lib/tree_export.c): a fixed tree of depth 3 over
 * 4 features is drawn by barlow_tree_to_svg with feature names and a link
 * prefix cut from the input (pieces separated by NUL bytes; the first byte
 * also picks the highlight and the width), its rules are written by
 * barlow_tree_rule_text_named with the same names, and its JSON export is
 * parsed back. Invariants: the SVG is valid UTF-8 without NUL and lexes as
 * XML: every '<' opens a comment or an allowed element whose attributes
 * are name="value" without '<' or a raw '"', every '&' starts an entity; a
 * rule is valid UTF-8 when the names are; the JSON export parses. Built by
 * tests/fuzz/run escape; the corpus is tests/fuzz/escape/. */
#include <string.h>

#include "barlow/tree.h"
#include "fuzz_util.h"
#include "json.h"
#include "utf8.h"

enum { ROWS = 48, COLS = 4, MAX_NAMES = 6, MAX_TEXT = 512 };

static void check_json(const barlow_tree *t)
{
    barlow_buffer b = {0};
    bw_json *root = NULL;
    fuzz_check(barlow_tree_to_json(t, NULL, NULL, &b) == BARLOW_OK);
    fuzz_check(bw_json_parse(b.data, b.size, NULL, 0, &root) == BARLOW_OK);
    bw_json_free(root);
    barlow_buffer_free(&b);
}

static barlow_tree *fixed_tree(void)
{
    static float x[ROWS * COLS];
    uint8_t fail[ROWS];
    for (size_t i = 0; i < ROWS; i++) {
        for (size_t j = 0; j < COLS; j++) x[i * COLS + j] = (float)((i * (j + 3) + j) % 11);
        fail[i] = (i % 3 == 0) != (i % 7 == 1);
    }
    barlow_matrix *m = NULL;
    barlow_tree *t = NULL;
    barlow_tree_options o;
    barlow_tree_options_init(&o);
    o.max_depth = 3;
    fuzz_check(barlow_matrix_wrap(x, ROWS, COLS, 0, &m) == BARLOW_OK);
    fuzz_check(barlow_tree_fit(m, fail, NULL, 0, &o, &t) == BARLOW_OK);
    fuzz_check(barlow_tree_node_count(t) >= 5);
    barlow_matrix_free(m);
    check_json(t);
    return t;
}

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == ':' || c == '_';
}

/* Length of the entity at s ("&amp;", "&#39;", "&#x27;"), or 0. */
static size_t entity(const char *s)
{
    static const char *const named[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    for (size_t k = 0; k < 5; k++)
        if (strncmp(s, named[k], strlen(named[k])) == 0) return strlen(named[k]);
    size_t i = 2, hex = s[1] == '#' && s[2] == 'x';
    if (s[1] != '#') return 0;
    for (i += hex; (s[i] >= '0' && s[i] <= '9') || (hex && strchr("abcdefABCDEF", s[i])); i++) {}
    return i > 2 + hex && s[i] == ';' ? i + 1 : 0;
}

/* Length of the tag at s (from '<' to '>'), or 0 when it is not one. */
static size_t tag(const char *s)
{
    static const char *const allowed[] = {"svg", "g", "rect", "text", "tspan", "title", "style",
                                          "path", "a", "line", "desc", "defs", "circle"};
    if (strncmp(s, "<!--", 4) == 0) return strstr(s, "-->") ? (size_t)(strstr(s, "-->") - s) + 3 : 0;
    size_t i = 1 + (s[1] == '/'), n = 0, ok = 0;
    while (is_name_char(s[i + n])) n++;
    for (size_t k = 0; k < sizeof allowed / sizeof *allowed; k++)
        ok |= strlen(allowed[k]) == n && strncmp(s + i, allowed[k], n) == 0;
    if (!ok) return 0;
    for (i += n; s[i] == ' ' || s[i] == '\n';) {
        while (s[i] == ' ' || s[i] == '\n') i++;
        if (!is_name_char(s[i])) break;
        while (is_name_char(s[i])) i++;
        if (s[i] != '=' || s[i + 1] != '"') return 0;
        const char *end = strchr(s + i + 2, '"');
        if (!end || memchr(s + i + 2, '<', (size_t)(end - s - i - 2))) return 0;
        i = (size_t)(end - s) + 1;
    }
    if (s[i] == '/' && s[i + 1] == '>') return i + 2;
    return s[i] == '>' ? i + 1 : 0;
}

static void check_xml(const barlow_buffer *b)
{
    const char *s = b->data;
    fuzz_check(s && strlen(s) == b->size && bw_utf8_check(s, b->size) == b->size);
    fuzz_check(strncmp(s, "<svg", 4) == 0);
    for (size_t i = 0; i < b->size;) {
        size_t n = s[i] == '<' ? tag(s + i) : s[i] == '&' ? entity(s + i) : 1;
        fuzz_check(n > 0);
        i += n;
    }
}

/* Cuts data at NUL bytes into up to MAX_NAMES strings in text. */
static size_t split(const uint8_t *data, size_t size, char text[][MAX_TEXT], const char **names)
{
    size_t n = 0, at = 0;
    while (n < MAX_NAMES && at <= size && size > 0) {
        const uint8_t *z = memchr(data + at, 0, size - at);
        size_t len = z ? (size_t)(z - data - at) : size - at;
        if (len >= MAX_TEXT) len = MAX_TEXT - 1;
        memcpy(text[n], data + at, len);
        text[n][len] = '\0';
        names[n] = text[n];
        n++;
        if (!z) break;
        at = (size_t)(z - data) + 1;
    }
    return n;
}

static void check_rules(const barlow_tree *t, const char *const *names, size_t n)
{
    int utf8 = 1;
    for (size_t k = 0; k < n; k++) utf8 &= bw_utf8_check(names[k], strlen(names[k])) == strlen(names[k]);
    for (size_t id = 0; id < barlow_tree_node_count(t); id++) {
        barlow_buffer b = {0};
        fuzz_check(barlow_tree_rule_text_named(t, id, names, n, &b) == BARLOW_OK);
        fuzz_check(b.data && strlen(b.data) == b.size);
        fuzz_check(!utf8 || bw_utf8_check(b.data, b.size) == b.size);
        barlow_buffer_free(&b);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static barlow_tree *t;
    static char text[MAX_NAMES][MAX_TEXT];
    const char *names[MAX_NAMES];
    if (!t) t = fixed_tree();
    size_t n = split(size ? data + 1 : data, size ? size - 1 : 0, text, names);
    uint8_t b0 = size ? data[0] : 0;
    barlow_svg_options o;
    barlow_svg_options_init(&o);
    o.names = n ? names : NULL;
    o.n_names = n > 1 ? n - 1 : n;
    o.link_prefix = (b0 & 1) && n ? names[n - 1] : NULL;
    o.highlight = (int32_t)((b0 >> 1) % 4) - 2;
    o.max_width = (b0 & 0x80) ? 120.0 : 0.0;
    barlow_buffer svg = {0};
    fuzz_check(barlow_tree_to_svg(t, &o, &svg) == BARLOW_OK);
    check_xml(&svg);
    barlow_buffer_free(&svg);
    check_rules(t, names, n);
    return 0;
}

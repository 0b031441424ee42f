/* The CLI's feature names (programs/barlow/featnames.c): F.json with global
 * and per-class names, labels, rule sentences on a fitted tree, the
 * template, every error of the strict JSON parser and of the shape, the
 * file checks (directory, device, FIFO, missing, over the text limit); and
 * the CLI's string builder (programs/barlow/sbuf.c). Compiled with those
 * sources, programs/barlow/cli.c (cli_set_error, and the bw_error of the
 * parser), lib/utf8.c and lib/json.c (the parser itself: tests/test_json.c). */
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "barlow/barlow.h"
#include "cli.h"
#include "featnames.h"
#include "sbuf.h"
#include "tap.h"
#include "tmpdir.h"

/* ---- helpers ----------------------------------------------------------------- */

/* The CLI's message (programs/barlow/cli.c, linked in), as text to search. */
#define err cli_error_text()
#define clear_err() cli_set_error("%s", "")

static int err_has(const char *s) { return strstr(err, s) != NULL; }

enum { D = 100 };
static barlow_dataset *ds;

static const char *write_file(const char *name, const char *data, size_t n)
{
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    if (!f) return path;
    fwrite(data, 1, n, f);
    fclose(f);
    return path;
}

/* Loads text as F.json; NULL on error (err holds the message). */
static feature_names *load_n(const char *text, size_t n)
{
    feature_names *fn = (feature_names *)&fn; /* must become NULL on error */
    clear_err();
    const char *path = write_file("F.json", text, n);
    if (feature_names_load(path, ds, D, &fn) != CLI_OK) {
        if (fn) cli_set_error("*out not NULL after an error");
        return NULL;
    }
    return fn;
}

static feature_names *load(const char *text) { return load_n(text, strlen(text)); }

/* text must be refused with a message containing want (and naming F.json). */
static void refused_n(const char *text, size_t n, const char *want, const char *what)
{
    feature_names *fn = load_n(text, n);
    TAP_OK(!fn && err_has(want) && err_has("F.json"), "refused: %s: '%s'", what, err);
    feature_names_free(fn);
}

static void refused(const char *text, const char *want, const char *what)
{
    refused_n(text, strlen(text), want, what);
}

static int str_eq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

/* ---- loading and looking up ----------------------------------------------- */

static void test_example(void)
{
    feature_names *fn = load("{\"13\": \"buckle\", \"77\": \"water\",\n"
                             " \"Sandal\": {\"13\": \"ankle strap\"}}");
    TAP_OK(fn != NULL, "the example of featnames.h loads '%s'", err);
    TAP_OK(str_eq(feature_names_get(fn, 0, 13), "buckle"), "global name for class 0");
    TAP_OK(str_eq(feature_names_get(fn, 2, 13), "ankle strap"), "Sandal overrides feature 13");
    TAP_OK(str_eq(feature_names_get(fn, 2, 77), "water"), "Sandal falls back to the global 77");
    TAP_OK(str_eq(feature_names_get(fn, -1, 13), "buckle"), "class -1: global names");
    TAP_OK(feature_names_get(fn, 2, 5) == NULL, "an unnamed feature: NULL");
    TAP_OK(feature_names_get(fn, 2, D) == NULL && feature_names_get(fn, 0, SIZE_MAX) == NULL,
           "a feature past the count: NULL");
    TAP_OK(feature_names_get(NULL, 0, 13) == NULL, "NULL names: NULL");

    sbuf b = SBUF_INIT;
    feature_label(fn, 2, 13, &b);
    TAP_OK(str_eq(b.data, "ankle strap (feature 13)"), "label with a name '%s'", b.data);
    sbuf_reset(&b);
    feature_label(fn, 0, 7, &b);
    TAP_OK(str_eq(b.data, "feature 7"), "label without a name '%s'", b.data);
    sbuf_reset(&b);
    feature_label(NULL, 0, 13, &b);
    TAP_OK(str_eq(b.data, "feature 13"), "label with NULL names '%s'", b.data);
    sbuf_free(&b);
    feature_names_free(fn);
    feature_names_free(NULL);

    fn = load("{\"2\": {\"13\": \"ankle strap\"}, \"0\": {}}");
    TAP_OK(fn && str_eq(feature_names_get(fn, 2, 13), "ankle strap") &&
               feature_names_get(fn, 0, 13) == NULL && feature_names_get(fn, 1, 13) == NULL,
           "a class by id; an empty class object '%s'", err);
    feature_names_free(fn);
}

static void test_accepted_text(void)
{
    feature_names *fn = load("\xEF\xBB\xBF \t\r\n{ \"1\" : \"\\u00e9\\ud83d\\ude00 \\\"q\\\" "
                             "\\\\ \\/\" ,\"0\":\"\xE2\x89\xA4\"}\n\n");
    TAP_OK(fn && str_eq(feature_names_get(fn, 0, 1), "\xC3\xA9\xF0\x9F\x98\x80 \"q\" \\ /") &&
               str_eq(feature_names_get(fn, 0, 0), "\xE2\x89\xA4"),
           "BOM, white space, escapes and a surrogate pair decode '%s'", err);
    feature_names_free(fn);

    char name[256], text[400];
    memset(name, 'a', 200);
    name[200] = '\0';
    snprintf(text, sizeof text, "{\"99\": \"%s\"}", name);
    fn = load(text);
    TAP_OK(fn && str_eq(feature_names_get(fn, 0, 99), name), "a name of 200 bytes '%s'", err);
    feature_names_free(fn);

    fn = load("{}");
    TAP_OK(fn && feature_names_get(fn, 0, 0) == NULL, "an empty object '%s'", err);
    feature_names_free(fn);
}

/* ---- rule sentences ---------------------------------------------------------- */

/* 16 rows, 3 columns: failures exactly when x0 > 0.5 and x1 > 0.5. */
static barlow_tree *fit_tree(void)
{
    float x[16 * 3];
    uint8_t fail[16];
    for (int i = 0; i < 16; i++) {
        x[i * 3 + 0] = (float)(i & 1);
        x[i * 3 + 1] = (float)((i >> 1) & 1);
        x[i * 3 + 2] = 0.25f;
        fail[i] = (i & 3) == 3;
    }
    barlow_matrix *m = NULL;
    barlow_tree *t = NULL;
    barlow_tree_options o;
    barlow_tree_options_init(&o);
    o.max_depth = 2;
    if (barlow_matrix_create_copy(x, 16, 3, 0, &m) == BARLOW_OK)
        barlow_tree_fit(m, fail, NULL, 0, &o, &t);
    barlow_matrix_free(m);
    return t;
}

/* The sentence of node id with names (n of them), through the library. */
static char *lib_sentence(const barlow_tree *t, size_t id, const char *const *names, size_t n)
{
    barlow_buffer b = {NULL, 0};
    char *s = NULL;
    if (barlow_tree_rule_text_named(t, id, names, n, &b) == BARLOW_OK) s = strdup(b.data);
    barlow_buffer_free(&b);
    return s;
}

static void test_rule_sentence(void)
{
    barlow_tree *t = fit_tree();
    size_t last = barlow_tree_node_count(t) - 1;
    TAP_OK(t && barlow_tree_node_count(t) >= 5, "a tree of depth 2 (%zu nodes)",
           barlow_tree_node_count(t));
    if (!t) return;
    feature_names *fn =
        load("{\"0\": \"buckle\", \"Sandal\": {\"0\": \"strap\", \"1\": \"sole\"}}");
    sbuf b = SBUF_INIT;
    rule_sentence(t, last, fn, 0, &b);
    static const char *const g[] = {"buckle", NULL, NULL};
    char *want = lib_sentence(t, last, g, 3);
    TAP_OK(!sbuf_failed(&b) && str_eq(b.data, want) && strstr(b.data, "buckle (feature 0)") &&
               (strstr(b.data, "and feature 1 ") || strstr(b.data, "When feature 1 ")) &&
               strstr(b.data, "error rate"),
           "named and unnamed feature in one sentence '%s'", b.data);
    free(want);

    sbuf_reset(&b);
    rule_sentence(t, last, fn, 2, &b);
    TAP_OK(strstr(b.data, "strap (feature 0)") && strstr(b.data, "sole (feature 1)") &&
               !strstr(b.data, "buckle"),
           "the class's names override '%s'", b.data);

    sbuf_reset(&b);
    rule_sentence(t, last, NULL, 0, &b);
    want = lib_sentence(t, last, NULL, 0);
    TAP_OK(str_eq(b.data, want) && !strstr(b.data, "(feature"),
           "NULL names: the plain sentence '%s'", b.data);
    free(want);

    sbuf_reset(&b);
    rule_sentence(t, 0, fn, 0, &b);
    static const char root[] = "For all 16 images the error rate is 25.0% (4 of 4 failures";
    TAP_OK(strncmp(b.data, root, strlen(root)) == 0,
           "the root '%s'", b.data);

    sbuf_reset(&b);
    rule_sentence(t, last + 1, fn, 0, &b);
    TAP_OK(sbuf_failed(&b), "a node out of range marks the buffer failed");
    sbuf_free(&b);
    feature_names_free(fn);
    barlow_tree_free(t);
}

/* ---- template -------------------------------------------------------------- */

static void test_template(void)
{
    feature_names *fn = load("{\"13\": \"buckle\", \"5\": \"say \\\"hi\\\" </b>\", "
                             "\"Sandal\": {\"77\": \"sole\"}}");
    sbuf b = SBUF_INIT;
    static const size_t feats[] = {2, 5, 13, 13, 77};
    feature_names_template(fn, feats, 5, &b);
    TAP_OK(str_eq(b.data, "{\"2\": \"\", \"5\": \"say \\\"hi\\\" <\\/b>\", \"13\": \"buckle\", "
                          "\"77\": \"\"}"),
           "template: named keep their names, ascending, a key once '%s'", b.data);
    /* the template is JSON: fill its empty names in and read it back */
    sbuf_reset(&b);
    feature_names_template(fn, feats + 2, 1, &b);
    feature_names *back = load(b.data);
    TAP_OK(back && str_eq(feature_names_get(back, 0, 13), "buckle"), "it reads back '%s'",
           b.data);
    feature_names_free(back);
    sbuf_reset(&b);
    feature_names_template(NULL, feats, 2, &b);
    TAP_OK(str_eq(b.data, "{\"2\": \"\", \"5\": \"\"}"), "template without names '%s'", b.data);
    sbuf_reset(&b);
    feature_names_template(fn, NULL, 0, &b);
    TAP_OK(str_eq(b.data, "{}"), "empty template '%s'", b.data);
    sbuf_free(&b);
    feature_names_free(fn);
}

/* ---- refused text -------------------------------------------------------------- */

static void test_syntax_errors(void)
{
    refused("{\n  \"13\": \"a\",\n  \"14\" \"b\"\n}",
            "F.json: line 3, column 8: expected ':' after the key, found '\"'", "no colon");
    refused("{\"13\": \"\xC3\xA4\" x}", "line 1, column 12: expected ',' or '}'",
            "columns count characters");
    refused("", "line 1, column 1: expected a value", "an empty file");
    refused("{\"13\": \"a\"} x", "line 1, column 13: expected the end of the file", "garbage");
    refused("{} {}", "expected the end of the file after the JSON value, found '{'", "two values");
    refused("{\"13\": \"a\", \"13\": \"b\"}",
            "line 1, column 13: expected each key once in an object, found \"13\" again",
            "duplicate key");
    refused("{\"x\": [{\"a\": 1, \"b\": 2, \"a\": 3}]}", "found \"a\" again",
            "duplicate key deep down");
    refused("{\"1\": \"a\",}", "expected a key (a string) after ','", "trailing comma");
    refused("{\"1\": \"a\"", "expected ',' or '}' after a member of an object, found the end",
            "an object not closed");
    refused("{\"1\": \"a", "expected '\"' to end the string", "a string not closed");
    refused("{\"1\": \"a\tb\"}", "found the control character U+0009", "a raw tab");
    refused("{\"1\": \"a\\x\"}", "expected an escape", "a bad escape");
    refused("{\"1\": \"\\u12g4\"}", "expected four hex digits after \\u", "a short \\u");
    refused("{'1': \"a\"}", "expected a key (a string) or '}', found '''", "single quotes");
    refused("{\"x\": [01]}", "expected ',' or ']'", "a leading zero");
    refused("{\"x\": [1.]}", "expected a digit after the decimal point", "1.");
    refused("{\"x\": [-]}", "expected a digit, found ']'", "a lone minus");
    refused("{\"x\": [1e]}", "expected a digit in the exponent", "1e");
    refused("{\"x\": [tru]}", "expected true", "tru");
    refused("{\"x\": [nul]}", "expected null", "nul");
    refused("{\"x\": [+1]}", "expected a value", "+1");
    refused("{\"x\": [NaN]}", "expected a value", "NaN");
    refused_n("{\"1\": \"a\0\"}", 11, "line 1, column 9: expected text, found a NUL byte",
              "a NUL byte");
}

static void test_text_errors(void)
{
    refused("{\"1\": \"a\xFF\"}", "line 1, column 9: expected UTF-8 text, found the byte 0xFF",
            "a raw 0xFF");
    refused("{\"1\": \"\xC0\xAF\"}", "found the byte 0xC0", "an overlong form");
    refused("{\"1\": \"\xED\xA0\x80\"}", "found the byte 0xED", "an encoded surrogate");
    refused("{\"1\": \"\\ud800\"}", "expected a low surrogate \\uDC00..\\uDFFF after the high "
                                   "surrogate \\uD800",
            "a lone high surrogate escape");
    refused("{\"1\": \"\\ud800\\u0041\"}", "expected a low surrogate", "a high surrogate + A");
    refused("{\"1\": \"\\udc00x\"}", "expected a high surrogate", "a lone low surrogate");

    char deep[200] = "{\"1\": ", ok[200];
    size_t n = strlen(deep);
    for (int i = 0; i < 32; i++) deep[n++] = '[';
    for (int i = 0; i < 32; i++) deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = '\0';
    refused(deep, "expected at most 32 levels of nested objects and arrays", "33 levels");
    memcpy(ok, deep, sizeof ok);
    memmove(ok + 6, ok + 7, strlen(ok + 7) + 1); /* 31 arrays open ... */
    memmove(ok + 37, ok + 38, strlen(ok + 38) + 1); /* ... and closed */
    refused(ok, "the value of \"1\" is an array", "32 levels parse (then the shape refuses)");
}

static void test_shape_errors(void)
{
    refused("[\"a\"]", "expected an object of feature names", "a top-level array");
    refused("\"a\"", "found a string", "a top-level string");
    refused("{\"13\": 5}", "the value of \"13\" is a number; expected a name", "a number");
    refused("{\"13\": null}", "the value of \"13\" is null", "null");
    refused("{\"13\": true}", "the value of \"13\" is true", "true");
    refused("{\"13\": [1, -0.5e+3, 0, 2E-7, true, false, null, {\"a\": \"b\"}, []]}",
            "the value of \"13\" is an array", "an array (its values parse)");
    refused("{\"Sandal\": {\"13\": 1}}", "the value of \"13\" in \"Sandal\" is a number",
            "a number in a class");
    refused("{\"Sandal\": {\"13\": {}}}", "the value of \"13\" in \"Sandal\" is an object",
            "an object in a class");
    refused("{\"Boot\": {\"1\": \"x\"}}", "F.json: class 'Boot' is not a class of the dataset",
            "an unknown class");
    refused("{\"3\": {\"1\": \"x\"}}", "class '3' is not a class", "a class id past the count");
    refused("{\"02\": {\"1\": \"x\"}}", "class '02' is not a class", "a class id not canonical");
    refused("{\"Sandal\": {\"1\": \"a\"}, \"2\": {\"3\": \"b\"}}",
            "\"Sandal\" and \"2\" name the same class", "a class named twice");
    refused("{\"100\": \"x\"}", "feature 100 is out of range: the features have 100 columns",
            "feature index = count");
    refused("{\"99999999999999999999999\": \"x\"}", "is out of range", "a huge feature index");
    refused("{\"013\": \"x\"}", "\"013\" is not a feature index", "013");
    refused("{\"-1\": \"x\"}", "\"-1\" is not a feature index", "-1");
    refused("{\"1e3\": \"x\"}", "\"1e3\" is not a feature index", "1e3");
    refused("{\"\": \"x\"}", "\"\" is not a feature index", "an empty key");
    refused("{\" 1\": \"x\"}", "is not a feature index", "a space in the key");
    refused("{\"Sandal\": {\"013\": \"x\"}}", "\"013\" (in \"Sandal\") is not a feature index",
            "013 in a class");
    refused("{\"13\": \"\"}", "the name of feature 13 is empty", "an empty name");
    refused("{\"Sandal\": {\"13\": \"\"}}", "the name of feature 13 for class 'Sandal' is empty",
            "an empty name in a class");
    char text[400] = "{\"1\": \"";
    memset(text + 7, 'a', 201);
    strcpy(text + 208, "\"}");
    refused(text, "the name of feature 1 is 201 bytes long", "a name of 201 bytes");
    refused("{\"1\": \"a\\tb\"}", "the name of feature 1 holds the control character U+0009",
            "an escaped tab");
    refused("{\"1\": \"a\\u0000\"}", "control character U+0000", "an escaped NUL");
    refused("{\"1\": \"\x7F\"}", "control character U+007F", "DEL");
}

/* ---- refused files ------------------------------------------------------------ */

static void refused_path(const char *path, const char *want, const char *what)
{
    feature_names *fn = (feature_names *)&fn;
    clear_err();
    int rc = feature_names_load(path, ds, D, &fn);
    TAP_OK(rc == CLI_ERROR && !fn && err_has(want) && err_has(path), "refused: %s: '%s'", what,
           err);
}

static void test_files(void)
{
    refused_path(tmpdir, "it is a directory, not a regular file", "a directory");
    refused_path("/dev/null", "it is a character device, not a regular file", "/dev/null");
    const char *fifo = tmp_path("fifo.json");
    if (mkfifo(fifo, 0600) == 0) refused_path(fifo, "it is a FIFO", "a FIFO (does not block)");
    else TAP_OK(1, "# SKIP mkfifo failed");
    refused_path(tmp_path("missing.json"), "No such file or directory", "a missing file");

    uint64_t old = barlow_limit_get(BARLOW_LIMIT_TEXT_BYTES);
    const char *path = write_file("big.json", "{\"1\": \"buckle\"}", 15);
    barlow_limit_set(BARLOW_LIMIT_TEXT_BYTES, 10);
    refused_path(path, "the file is 15 bytes, over the limit of 10 bytes", "above TEXT_BYTES");
    TAP_OK(err_has("BARLOW_LIMIT_TEXT_BYTES"), "the message names the limit");
    barlow_limit_set(BARLOW_LIMIT_TEXT_BYTES, 15);
    feature_names *fn = NULL;
    TAP_OK(feature_names_load(path, ds, D, &fn) == CLI_OK && fn, "a file of exactly the limit");
    feature_names_free(fn);
    barlow_limit_set(BARLOW_LIMIT_TEXT_BYTES, old);

    /* a symbolic link to a regular file is read; to a device is refused */
    const char *ln = tmp_path("link.json");
    TAP_OK(symlink(path, ln) == 0 && feature_names_load(ln, ds, D, &fn) == CLI_OK,
           "a symbolic link to F.json is read");
    feature_names_free(fn);
    const char *ln2 = tmp_path("null.json");
    if (symlink("/dev/null", ln2) == 0)
        refused_path(ln2, "it is a character device", "a symbolic link to /dev/null");
}

/* ---- sbuf -------------------------------------------------------------------- */

static void test_sbuf(void)
{
    sbuf b = SBUF_INIT;
    sbuf_html(&b, "a&b<c>d\"e'f \xE2\x89\xA4 x\xFFy");
    TAP_OK(str_eq(b.data, "a&amp;b&lt;c&gt;d&quot;e&#39;f \xE2\x89\xA4 x\xEF\xBF\xBDy"),
           "sbuf_html escapes and replaces invalid UTF-8 '%s'", b.data);
    sbuf_reset(&b);
    sbuf_json_str(&b, "</script>");
    TAP_OK(str_eq(b.data, "\"<\\/script>\""), "sbuf_json_str </script> '%s'", b.data);
    sbuf_reset(&b);
    sbuf_json_str(&b, "\xFF");
    TAP_OK(str_eq(b.data, "\"\\udcff\""), "sbuf_json_str 0xFF '%s'", b.data);
    sbuf_reset(&b);
    sbuf_json_str(&b, NULL);
    TAP_OK(str_eq(b.data, "null"), "sbuf_json_str NULL '%s'", b.data);

    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                       "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        sbuf_reset(&b);
        sbuf_puts(&b, "");
        sbuf_base64(&b, in[i], strlen(in[i]));
        TAP_OK(str_eq(b.data, want[i]) && b.len == strlen(want[i]), "base64 \"%s\" = '%s'",
               in[i], b.data);
    }
    TAP_OK(!sbuf_failed(&b), "no append failed");
    sbuf_free(&b);
}

int main(void)
{
    alarm(60); /* a load that blocks (a FIFO) fails the test instead of hanging */
    tmp_dir_create("featnames");
    static const char *const classes[] = {"T-shirt", "Trouser", "Sandal"};
    static const int32_t labels[] = {0, 1, 2};
    if (barlow_dataset_create(3, labels, NULL, classes, 3, &ds) != BARLOW_OK) {
        printf("Bail out! dataset: %s\n", barlow_last_error());
        return 1;
    }
    test_example();
    test_accepted_text();
    test_rule_sentence();
    test_template();
    test_syntax_errors();
    test_text_errors();
    test_shape_errors();
    test_files();
    test_sbuf();
    barlow_dataset_free(ds);
    tmp_dir_remove();
    return tap_done();
}

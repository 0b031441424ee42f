/* The strict JSON parser (lib/json.h; white-box): documents of every type
 * and the accessors on them, exact integers at the edges of size_t and
 * int64_t, numbers in any locale, and the refusals with BARLOW_E_FORMAT
 * and "path: line L, column C: ..." messages: malformed text, invalid
 * UTF-8, lone surrogates, leading zeros, nesting past the limit (1 MB of
 * '['), huge numbers, duplicate keys; memory kept in proportion to the
 * input. Run once under valgrind for leaks. */
#include <locale.h>
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "barlow/barlow.h"
#include "internal.h"
#include "json.h"
#include "tap.h"

/* ---- helpers ----------------------------------------------------------------- */

static bw_json *parse_n(const char *text, size_t n)
{
    bw_json *root = (bw_json *)&root; /* must become NULL on error */
    bw_clear_error();
    if (bw_json_parse(text, n, "m.json", 0, &root) != BARLOW_OK) {
        if (root) bw_error(BARLOW_E_INTERNAL, "*out not NULL after an error");
        return NULL;
    }
    return root;
}

static bw_json *parse(const char *text) { return parse_n(text, strlen(text)); }

static int err_has(const char *s) { return strstr(barlow_last_error(), s) != NULL; }

/* text[0..n) must be refused with FORMAT, *out NULL, and a message naming
 * m.json, a line and a column, and containing want. */
static void refused_depth(const char *text, size_t n, size_t depth, const char *want,
                          const char *what)
{
    bw_json *root = (bw_json *)&root;
    bw_clear_error();
    barlow_status st = bw_json_parse(text, n, "m.json", depth, &root);
    TAP_OK(st == BARLOW_E_FORMAT && !root && err_has("m.json: line ") && err_has(", column ") &&
               err_has(want),
           "refused: %s: '%s'", what, barlow_last_error());
    if (st == BARLOW_OK) bw_json_free(root);
}

static void refused_n(const char *text, size_t n, const char *want, const char *what)
{
    refused_depth(text, n, 0, want, what);
}

static void refused(const char *text, const char *want, const char *what)
{
    refused_n(text, strlen(text), want, what);
}

static int str_eq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

/* text repeated n times, then tail; free it. */
static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t h = strlen(head), u = strlen(unit), t = strlen(tail);
    char *s = malloc(h + u * n + t + 1);
    if (!s) abort();
    memcpy(s, head, h);
    for (size_t i = 0; i < n; i++) memcpy(s + h + i * u, unit, u);
    memcpy(s + h + u * n, tail, t + 1);
    return s;
}

/* ---- documents ------------------------------------------------------------------ */

static void test_scalars(void)
{
    static const struct {
        const char *text;
        bw_json_type type;
    } cases[] = {{"null", BW_JSON_NULL},         {"true", BW_JSON_TRUE},
                 {" false ", BW_JSON_FALSE},     {"0", BW_JSON_NUMBER},
                 {"-1.5e-3", BW_JSON_NUMBER},    {"\"\"", BW_JSON_STRING},
                 {"[]", BW_JSON_ARRAY},          {"{}", BW_JSON_OBJECT},
                 {"\t\r\n [ ] \n", BW_JSON_ARRAY}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bw_json *v = parse(cases[i].text);
        TAP_OK(v && bw_json_type_of(v) == cases[i].type && bw_json_is(v, cases[i].type) &&
                   bw_json_length(v) == 0,
               "case %zu is %s '%s'", i, bw_json_type_name(cases[i].type),
               barlow_last_error()); /* (the texts hold newlines: not in TAP lines) */
        bw_json_free(v);
    }
    bool b = false;
    bw_json *v = parse("true");
    TAP_OK(bw_json_bool(v, &b) && b, "bw_json_bool(true)");
    bw_json_free(v);
    v = parse("false");
    TAP_OK(bw_json_bool(v, &b) && !b && !bw_json_bool(NULL, &b), "bw_json_bool(false), NULL");
    bw_json_free(v);
    bw_json_free(NULL);
}

static void test_document(void)
{
    bw_json *root = parse("{\"a\": null, \"b\": true, \"c\": false, \"n\": -12.5e1,\n"
                          " \"s\": \"x\\u0000y\", \"arr\": [1, \"two\", [], {}, [3]],\n"
                          " \"o\": {\"k\": \"v\"}, \"\": 0}");
    TAP_OK(root && bw_json_is(root, BW_JSON_OBJECT) && bw_json_length(root) == 8,
           "an object of 8 members '%s'", barlow_last_error());
    if (!root) return;
    static const char *const keys[] = {"a", "b", "c", "n", "s", "arr", "o", ""};
    int order = 1;
    for (size_t i = 0; i < 8; i++) {
        const char *k = NULL;
        size_t kl = 99;
        const bw_json *v = bw_json_member(root, i, &k, &kl);
        order = order && v && str_eq(k, keys[i]) && kl == strlen(keys[i]) &&
                bw_json_get(root, keys[i]) == v;
    }
    TAP_OK(order, "members in file order; bw_json_get finds each");
    TAP_OK(bw_json_member(root, 8, NULL, NULL) == NULL && bw_json_get(root, "z") == NULL &&
               bw_json_get(root, NULL) == NULL && bw_json_get(NULL, "a") == NULL,
           "no member 8, no key z");
    TAP_OK(bw_json_is(bw_json_get(root, "a"), BW_JSON_NULL) &&
               bw_json_is(bw_json_get(root, "b"), BW_JSON_TRUE) &&
               bw_json_is(bw_json_get(root, "c"), BW_JSON_FALSE),
           "null, true, false");

    size_t len = 0;
    const char *s = bw_json_string(bw_json_get(root, "s"), &len);
    TAP_OK(s && len == 3 && s[0] == 'x' && s[1] == '\0' && s[2] == 'y' && s[3] == '\0',
           "a string with \\u0000 inside keeps its length");
    double d = 0;
    const char *t = bw_json_number_text(bw_json_get(root, "n"), &len);
    int got = bw_json_double(bw_json_get(root, "n"), &d);
    TAP_OK(t && len == 7 && str_eq(t, "-12.5e1") && got && d == -125.0,
           "a number keeps its text '%s' and its value %g", t ? t : "", d);

    const bw_json *arr = bw_json_get(root, "arr");
    size_t n = 0;
    TAP_OK(bw_json_length(arr) == 5 && bw_json_size_t(bw_json_element(arr, 0), &n) && n == 1 &&
               str_eq(bw_json_string(bw_json_element(arr, 1), NULL), "two") &&
               bw_json_is(bw_json_element(arr, 2), BW_JSON_ARRAY) &&
               bw_json_length(bw_json_element(arr, 2)) == 0 &&
               bw_json_is(bw_json_element(arr, 3), BW_JSON_OBJECT) &&
               bw_json_size_t(bw_json_element(bw_json_element(arr, 4), 0), &n) && n == 3 &&
               bw_json_element(arr, 5) == NULL,
           "an array of 5 elements of mixed types");
    TAP_OK(str_eq(bw_json_string(bw_json_get(bw_json_get(root, "o"), "k"), NULL), "v"),
           "a nested object");

    /* the wrong type: false or NULL, nothing written */
    n = 7;
    d = 7;
    TAP_OK(!bw_json_size_t(bw_json_get(root, "s"), &n) && n == 7 &&
               !bw_json_double(bw_json_get(root, "a"), &d) && d == 7 &&
               !bw_json_string(bw_json_get(root, "n"), NULL) &&
               !bw_json_number_text(bw_json_get(root, "s"), NULL) &&
               !bw_json_element(root, 0) && !bw_json_member(arr, 0, NULL, NULL) &&
               bw_json_length(bw_json_get(root, "s")) == 0 && !bw_json_size_t(NULL, &n) &&
               !bw_json_is(NULL, BW_JSON_NULL),
           "accessors on the wrong type or NULL refuse");
    TAP_OK(str_eq(bw_json_describe(bw_json_get(root, "arr")), "an array") &&
               str_eq(bw_json_describe(bw_json_get(root, "zz")), "missing") &&
               str_eq(bw_json_describe(bw_json_get(root, "n")), "a number"),
           "bw_json_describe for messages");
    bw_json_free(root);
}

static void test_strings(void)
{
    bw_json *v = parse("\"\\u00e9\\ud83d\\ude00 \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t \xE2\x89\xA4\"");
    TAP_OK(str_eq(bw_json_string(v, NULL),
                  "\xC3\xA9\xF0\x9F\x98\x80 \"q\" \\ / \b\f\n\r\t \xE2\x89\xA4"),
           "escapes, a surrogate pair and raw UTF-8 decode '%s'", barlow_last_error());
    bw_json_free(v);
    v = parse("\xEF\xBB\xBF[\"a\"]");
    TAP_OK(v && bw_json_length(v) == 1, "a byte order mark at the start is skipped");
    bw_json_free(v);
    v = parse("\"\x7F\"");
    TAP_OK(v && bw_json_string(v, NULL)[0] == 0x7F, "DEL is not a control character in JSON");
    bw_json_free(v);
    v = parse("{\"a\\u0000b\": 1, \"a\\u0000c\": 2, \"a\": 3}");
    TAP_OK(v && bw_json_length(v) == 3, "keys that differ after a \\u0000 are two keys");
    bw_json_free(v);
}

/* ---- integers and doubles ------------------------------------------------------------- */

static void size_case(const char *text, int ok, size_t want)
{
    bw_json *v = parse(text);
    size_t got = 12345;
    int r = bw_json_size_t(v, &got);
    TAP_OK(v && r == ok && (ok ? got == want : got == 12345), "size_t %s: %s", text,
           ok ? "read exactly" : "refused");
    bw_json_free(v);
}

static void int64_case(const char *text, int ok, int64_t want)
{
    bw_json *v = parse(text);
    int64_t got = 12345;
    int r = bw_json_int64(v, &got);
    TAP_OK(v && r == ok && (ok ? got == want : got == 12345), "int64 %s: %s", text,
           ok ? "read exactly" : "refused");
    bw_json_free(v);
}

static void test_integers(void)
{
    size_case("0", 1, 0);
    size_case("1", 1, 1);
    size_case("9223372036854775807", 1, (size_t)INT64_MAX);
    size_case("9223372036854775808", 1, (size_t)1 << 63);
#if SIZE_MAX == UINT64_MAX
    size_case("18446744073709551615", 1, SIZE_MAX);
#endif
    size_case("18446744073709551616", 0, 0);
    size_case("99999999999999999999999", 0, 0);
    size_case("-0", 0, 0);
    size_case("-1", 0, 0);
    size_case("1.0", 0, 0);
    size_case("1e3", 0, 0);
    size_case("1E0", 0, 0);
    size_case("\"1\"", 0, 0);

    int64_case("0", 1, 0);
    int64_case("-0", 1, 0);
    int64_case("9223372036854775807", 1, INT64_MAX);
    int64_case("-9223372036854775808", 1, INT64_MIN);
    int64_case("9223372036854775808", 0, 0);
    int64_case("-9223372036854775809", 0, 0);
    int64_case("-12", 1, -12);
    int64_case("1.5", 0, 0);
    int64_case("-1e2", 0, 0);
}

static void double_case(const char *text, double want)
{
    bw_json *v = parse(text);
    double got = NAN;
    int ok = bw_json_double(v, &got);
    TAP_OK(v && ok && got == want && signbit(got) == signbit(want), "double %s = %.17g", text,
           got);
    bw_json_free(v);
}

static void test_doubles(void)
{
    double_case("0.1", 0.1);
    double_case("-0", -0.0);
    double_case("1e308", 1e308);
    double_case("1.7976931348623157e308", 1.7976931348623157e308);
    double_case("18446744073709551616", 18446744073709551616.0);
    double_case("1e-400", 0.0); /* an underflow: the nearest double */
    double_case("4.9e-324", 4.9e-324);
    double_case("2.5E+2", 250.0);

    /* the value does not depend on the program's LC_NUMERIC */
    const char *loc = setlocale(LC_NUMERIC, "de_DE.UTF-8");
    if (!loc) loc = setlocale(LC_NUMERIC, "fr_FR.UTF-8");
    if (loc) {
        double_case("0.5", 0.5);
        setlocale(LC_NUMERIC, "C");
    } else {
        TAP_OK(1, "# SKIP no locale with a decimal comma is installed");
    }
}

/* ---- refusals ------------------------------------------------------------------- */

static void test_syntax(void)
{
    refused("{\n  \"13\": \"a\",\n  \"14\" \"b\"\n}",
            "m.json: line 3, column 8: expected ':' after the key, found '\"'", "no colon");
    refused("{\"13\": \"\xC3\xA4\" x}", "line 1, column 12: expected ',' or '}'",
            "columns count characters");
    refused("\xEF\xBB\xBF[1 x]", "line 1, column 4: expected ',' or ']'",
            "columns start after the byte order mark");
    refused("", "line 1, column 1: expected a value", "empty input");
    refused(" \n\t ", "line 2, column 3: expected a value", "only white space");
    refused("\xEF\xBB\xBF", "expected a value", "only a byte order mark");
    refused("[\xEF\xBB\xBF" "1]", "line 1, column 2: expected a value (an object, array, "
            "string, number, true, false or null), found '\xEF\xBB\xBF' (U+FEFF)",
            "a BOM inside");
    refused("\xEF\xBB\xBF\xEF\xBB\xBF" "1", "expected a value", "two BOMs");
    refused("{\"1\": 2} x", "line 1, column 10: expected the end of the file", "garbage after");
    refused("[] []", "expected the end of the file after the JSON value, found '['",
            "two values");
    refused("[1,]", "expected a value", "a trailing comma in an array");
    refused("{\"1\": 2,}", "expected a key (a string) after ','", "a trailing comma in an object");
    refused("[1", "expected ',' or ']' after an element of an array, found the end",
            "an array not closed");
    refused("{\"1\": 2", "expected ',' or '}' after a member of an object, found the end",
            "an object not closed");
    refused("\"ab", "expected '\"' to end the string", "a string not closed");
    refused("[\"a\tb\"]", "found the control character U+0009", "a raw tab in a string");
    refused("[\"a\nb\"]", "line 1, column 4: expected '\"' to end the string",
            "a raw newline in a string");
    refused("\"\x1F\"", "found the control character U+001F", "U+001F in a string");
    refused("\"a\\x\"", "expected an escape", "a bad escape");
    refused("\"\\u12g4\"", "expected four hex digits after \\u", "a bad \\u");
    refused("\"\\u12\"", "expected four hex digits after \\u", "a short \\u");
    refused("{'1': 2}", "expected a key (a string) or '}', found '''", "single quotes");
    refused("{1: 2}", "expected a key (a string) or '}', found '1'", "a number as a key");
    refused("[tru]", "expected true", "tru");
    refused("nul", "expected null", "nul");
    refused("[falsey]", "expected ',' or ']'", "falsey");
    refused("[+1]", "expected a value", "+1");
    refused("NaN", "expected a value", "NaN");
    refused("-Infinity", "expected a digit, found 'I'", "-Infinity");
    refused("[.5]", "expected a value", ".5");
    refused_n("[1,\0 2]", 7, "line 1, column 4: expected text, found a NUL byte", "a NUL byte");
}

static void test_numbers(void)
{
    refused("01", "line 1, column 2: expected the end of the file", "a leading zero");
    refused("[-01]", "expected ',' or ']'", "-01");
    refused("[00]", "expected ',' or ']'", "00");
    refused("[1.]", "expected a digit after the decimal point", "1.");
    refused("[-]", "expected a digit, found ']'", "a lone minus");
    refused("[1e]", "expected a digit in the exponent", "1e");
    refused("[1e+]", "expected a digit in the exponent", "1e+");
    refused("[1, 1e400]", "line 1, column 5: expected a number within the range of a double",
            "1e400");
    refused("-1e400", "found -1e400", "-1e400");
    char *big = repeat("[", "9", 400, "]");
    refused(big, "within the range of a double", "an integer of 400 digits");
    free(big);
    big = repeat("0.", "0", 2000, "1");
    refused(big, "expected a number of at most 1024 characters, found one of 2003",
            "a number of 2003 characters");
    free(big);
    big = repeat("", "1", 1024, "");
    refused(big, "within the range of a double", "1024 digits: the length is fine");
    free(big);
    big = repeat("0.", "0", 1022, "");
    bw_json *v = parse(big);
    double d = 1;
    TAP_OK(v && bw_json_double(v, &d) && d == 0, "a number of 1024 characters is read");
    bw_json_free(v);
    free(big);
}

static void test_utf8(void)
{
    refused("[\"a\xFF\"]", "line 1, column 4: expected UTF-8 text, found the byte 0xFF",
            "0xFF in a string");
    refused("{\"k\xFF\": 1}", "line 1, column 4: expected UTF-8 text, found the byte 0xFF",
            "0xFF in a key");
    refused("{\"\xC0\xAF\": 1}", "found the byte 0xC0", "an overlong form in a key");
    refused("[\"\xED\xA0\x80\"]", "found the byte 0xED", "an encoded surrogate");
    refused("[\"\xF4\x90\x80\x80\"]", "found the byte 0xF4", "above U+10FFFF");
    refused("[\"\xE2\x82\"]", "found the byte 0xE2", "a truncated sequence");
    refused("\"\xE2\x82", "found the byte 0xE2", "a truncated sequence at the end");
    refused("[\x80]", "found the byte 0x80", "a stray continuation byte");
    refused("\"\\ud800\"", "expected a low surrogate \\uDC00..\\uDFFF after the high surrogate "
                          "\\uD800",
            "a lone high surrogate");
    refused("\"\\ud800\\u0041\"", "expected a low surrogate", "a high surrogate + A");
    refused("\"\\ud800\\ud800\"", "expected a low surrogate", "two high surrogates");
    refused("{\"\\udc00\": 1}", "line 1, column 3: expected a high surrogate", "a lone low "
                                                                            "surrogate in a key");
}

static void test_depth(void)
{
    char *ok = repeat("", "[", 64, "");
    char *s = repeat(ok, "]", 64, "");
    bw_json *v = parse(s);
    TAP_OK(v != NULL, "64 nested arrays parse '%s'", barlow_last_error());
    bw_json_free(v);
    free(s);
    s = repeat(ok, "[", 1, "]");
    free(ok);
    ok = repeat(s, "]", 64, "");
    refused(ok, "line 1, column 65: expected at most 64 levels of nested objects and arrays",
            "65 nested arrays");
    free(s);
    free(ok);

    s = repeat("", "{\"a\":", 65, "1");
    ok = repeat(s, "}", 65, "");
    refused(ok, "expected at most 64 levels", "65 nested objects");
    free(s);
    free(ok);

    s = repeat("", "[", 1 << 20, "");
    refused(s, "line 1, column 65: expected at most 64 levels", "1 MB of '['");
    free(s);

    refused_depth("[[1]]", 5, 1, "line 1, column 2: expected at most 1 levels", "max_depth 1");
    s = repeat("", "[", 300, "");
    refused_depth(s, 300, 100000, "line 1, column 257: expected at most 256 levels",
                  "max_depth is capped at 256");
    free(s);
}

static void test_duplicates(void)
{
    refused("{\"a\": 1, \"b\": 2, \"a\": 3}",
            "m.json: line 1, column 18: expected each key once in an object, found \"a\" again",
            "a duplicate key");
    refused("{\"a\": 1,\n \"b\": 2,\n \"b\": 3,\n \"a\": 4}",
            "line 3, column 2: expected each key once in an object, found \"b\" again",
            "the earliest repeat is named");
    refused("[{\"x\": [{\"k\": 1, \"k\": 2}]}]", "found \"k\" again", "a duplicate deep down");
    refused("{\"\\u0061\": 1, \"a\": 2}", "found \"a\" again", "an escape spelling the same key");
    refused("{\"a\\\"\\n\": 1, \"a\\\"\\n\": 2}", "found \"a\\\"\\n\" again",
            "the key in the message is escaped");
    /* a key of 201 bytes: its first 60 bytes would cut an é, so 59 */
    char *k = repeat("a", "\xC3\xA9", 100, "");
    char *t = malloc(2 * strlen(k) + 20);
    sprintf(t, "{\"%s\": 1, \"%s\": 2}", k, k);
    char *want = repeat("found \"a", "\xC3\xA9", 29, "...\" again");
    refused(t, want, "a long key is cut at a character boundary and marked");
    free(want);
    free(t);
    free(k);
}

/* ---- limits on memory, the NOMEM path ------------------------------------------------ */

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

static void test_memory(void)
{
    /* 1 MB of the cheapest elements: what is kept stays in proportion */
    size_t n = 1 << 19;
    char *s = repeat("[", "0,", n - 1, "0]");
    size_t before = heap_in_use(), len = strlen(s);
    bw_json *v = parse(s);
    size_t kept = heap_in_use() - before;
    TAP_OK(v && bw_json_length(v) == n && kept < 40 * len,
           "1 MB array of %zu numbers keeps %zu bytes (%.1f per input byte)", n, kept,
           (double)kept / (double)len);
    bw_json_free(v);
    free(s);

    s = malloc(12 * 200000 + 3);
    size_t o = 0;
    s[o++] = '{';
    for (size_t i = 0; i < 200000; i++) o += (size_t)sprintf(s + o, "%s\"%zu\":1", i ? "," : "", i);
    s[o++] = '}';
    s[o] = '\0';
    v = parse(s);
    TAP_OK(v && bw_json_length(v) == 200000 && bw_json_get(v, "199999"),
           "an object of 200000 members (its duplicate check sorts)");
    bw_json_free(v);
    free(s);

    bw_json *root = (bw_json *)&root;
    bw_clear_error();
    barlow_status st = bw_json_parse("[]", SIZE_MAX, NULL, 0, &root);
    TAP_OK(st == BARLOW_E_NOMEM && !root && err_has("out of memory reading JSON text"),
           "no memory for the input's size: NOMEM '%s'", barlow_last_error());
    bw_clear_error();
    st = bw_json_parse(NULL, 0, NULL, 0, &root);
    TAP_OK(st == BARLOW_E_FORMAT && err_has("JSON text: line 1, column 1: expected a value"),
           "NULL text and path '%s'", barlow_last_error());
}

int main(void)
{
    test_scalars();
    test_document();
    test_strings();
    test_integers();
    test_doubles();
    test_syntax();
    test_numbers();
    test_utf8();
    test_depth();
    test_duplicates();
    test_memory();
    return tap_done();
}

/* libFuzzer target over the strict JSON parser (lib/json.h): every input
 * is parsed (with a nesting limit taken from its first byte), and a tree
 * that comes back is walked through every accessor with its invariants
 * checked (strings are UTF-8 of their length with a NUL after, numbers
 * finite, exact integers agree with their double, keys are found); a
 * refusal must leave a message. Built and run by `tests/fuzz/run json`
 * with clang -fsanitize=fuzzer,address,undefined; not part of the meson
 * build. The seed corpus is tests/fuzz/json/. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "barlow/common.h"
#include "json.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok) abort();
}

static void walk(const bw_json *v, size_t depth);

static void walk_number(const bw_json *v)
{
    size_t len, z;
    int64_t i;
    double d;
    const char *t = bw_json_number_text(v, &len);
    check(t && len > 0 && len <= BW_JSON_MAX_NUMBER && t[len] == '\0' && strlen(t) == len);
    check(bw_json_double(v, &d) && isfinite(d));
    if (bw_json_size_t(v, &z)) check(t[0] != '-' && (double)z == strtod(t, NULL));
    if (bw_json_int64(v, &i)) check(!strpbrk(t, ".eE") && (double)i == d);
}

static void walk_object(const bw_json *v, size_t depth)
{
    size_t n = bw_json_length(v);
    for (size_t k = 0; k < n; k++) {
        const char *key = NULL;
        size_t klen = 0;
        const bw_json *m = bw_json_member(v, k, &key, &klen);
        check(m && key && key[klen] == '\0' && bw_utf8_check(key, klen) == klen);
        /* keys are unique: a key without a NUL inside finds its member */
        if (k < 32 && strlen(key) == klen) check(bw_json_get(v, key) == m);
        walk(m, depth + 1);
    }
    check(bw_json_member(v, n, NULL, NULL) == NULL && bw_json_element(v, 0) == NULL);
}

static void walk(const bw_json *v, size_t depth)
{
    check(v && depth <= BW_JSON_DEPTH_CAP);
    size_t len;
    bool b;
    const char *s = bw_json_string(v, &len);
    if (s) check(s[len] == '\0' && bw_utf8_check(s, len) == len);
    if (bw_json_is(v, BW_JSON_NUMBER)) walk_number(v);
    check(bw_json_bool(v, &b) == (bw_json_is(v, BW_JSON_TRUE) || bw_json_is(v, BW_JSON_FALSE)));
    if (bw_json_is(v, BW_JSON_OBJECT)) walk_object(v, depth);
    if (bw_json_is(v, BW_JSON_ARRAY)) {
        size_t n = bw_json_length(v);
        for (size_t k = 0; k < n; k++) walk(bw_json_element(v, k), depth + 1);
        check(bw_json_element(v, n) == NULL);
    }
    check(bw_json_type_name(bw_json_type_of(v))[0] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t depth = size ? data[0] % 80 : 0; /* 0: the default 64 */
    bw_json *root = NULL;
    barlow_status st = bw_json_parse((const char *)data, size, size & 1 ? "f.json" : NULL,
                                     depth, &root);
    if (st != BARLOW_OK) {
        const char *msg = barlow_last_error();
        check(!root && (st == BARLOW_E_FORMAT || st == BARLOW_E_NOMEM));
        check(st != BARLOW_E_FORMAT || (strstr(msg, ": line ") && strstr(msg, ", column ")));
        return 0;
    }
    walk(root, 1);
    bw_json_free(root);
    return 0;
}

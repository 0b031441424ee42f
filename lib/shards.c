/* Sharded feature stores (barlow/shards.h): the split into ranges, a
 * shard's metadata, the merge into a manifest, and the manifest read back
 * as one matrix over the shard files' mappings (lib/shards_map.c). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "barlow/shards.h"
#include "json.h"
#include "npy.h"
#include "shards_internal.h"

/* ---- ranges ----------------------------------------------------------------- */

__extension__ typedef unsigned __int128 bw_u128; /* gcc and clang */

barlow_status barlow_shard_range(size_t n_rows, size_t index, size_t count, size_t align,
                                 size_t *begin, size_t *end)
{
    static const char who[] = "barlow_shard_range";
    bw_clear_error();
    if (!begin || !end)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who, !begin ? "begin" : "end");
    if (count == 0) return bw_error(BARLOW_E_INVALID_ARG, "%s: count is 0", who);
    if (index >= count)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: shard %zu of %zu (shards are 0..%zu)", who,
                        index, count, count - 1);
    if (align == 0) return bw_error(BARLOW_E_INVALID_ARG, "%s: align is 0", who);
    if (n_rows == 0) return bw_error(BARLOW_E_INVALID_ARG, "%s: the dataset has no rows", who);
    size_t units = n_rows / align + (n_rows % align != 0);
    if (count > units)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: %zu shards of %zu rows in batches of %zu: at most %zu shards "
                        "(one batch each)", who, count, n_rows, align, units);
    /* unit boundaries floor(i * units / count), without overflow */
    bw_u128 u = units;
    size_t b = (size_t)(u * index / count), e = (size_t)(u * (index + 1) / count);
    bw_u128 rb = (bw_u128)b * align, re = (bw_u128)e * align;
    *begin = rb > n_rows ? n_rows : (size_t)rb;
    *end = re > n_rows ? n_rows : (size_t)re;
    return BARLOW_OK;
}

/* A decimal size_t from s[0..len); false when empty, not digits or too big. */
static bool parse_decimal(const char *s, size_t len, size_t *out)
{
    if (len == 0) return false;
    size_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        unsigned dgt = (unsigned)(s[i] - '0');
        if (v > (SIZE_MAX - dgt) / 10) return false;
        v = v * 10 + dgt;
    }
    *out = v;
    return true;
}

barlow_status barlow_shard_parse(const char *text, size_t *index, size_t *count)
{
    static const char who[] = "barlow_shard_parse";
    bw_clear_error();
    if (!text || !index || !count)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                        !text ? "text" : !index ? "index" : "count");
    const char *slash = strchr(text, '/');
    size_t i = 0, n = 0;
    if (!slash || !parse_decimal(text, (size_t)(slash - text), &i) ||
        !parse_decimal(slash + 1, strlen(slash + 1), &n))
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: shard \"%.80s\" is not of the form i/N (e.g. 0/4: the first of "
                        "4)", who, text);
    if (n == 0)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: shard \"%.80s\": N is 0 (at least 1 shard)",
                        who, text);
    if (i >= n)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: shard \"%.80s\": i must be below N (shards are 0..%zu)", who, text,
                        n - 1);
    *index = i;
    *count = n;
    return BARLOW_OK;
}

void barlow_shard_options_init(barlow_shard_options *opts)
{
    if (!opts) return;
    memset(opts, 0, sizeof *opts);
    opts->version = BARLOW_SHARD_OPTIONS_VERSION;
    opts->index = 0;
    opts->count = 1;
    opts->predict_sha256 = NULL;
}

/* ---- a shard's metadata ------------------------------------------------------- */

static bool is_sha256(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f') ||
              (s[n] >= 'A' && s[n] <= 'F')))
            return false;
    return n == 64;
}

/* A 64-digit hex digest (checked by is_sha256) in lowercase, into out. */
static void sha_lower(const char *hex, char out[65])
{
    for (size_t i = 0; i < 65; i++)
        out[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F' ? hex[i] - 'A' + 'a' : hex[i]);
}

/* The extractor options that change the features' values, as one line
 * compared between shards: "input_size=224 resize=256 ...". */
static void options_key(const barlow_extractor *ex, bw_sb *sb)
{
    barlow_extractor_options o;
    barlow_extractor_options_init(&o);
    barlow_extractor_get_options(ex, &o);
    bw_sb_appendf(sb, "input_size=%zu resize=%zu channels=%zu normalize=%d", o.input_size,
                  o.resize, o.channels, (int)o.normalize);
    if (o.normalize)
        bw_sb_appendf(sb, " mean=%.9g,%.9g,%.9g std=%.9g,%.9g,%.9g", (double)o.mean[0],
                      (double)o.mean[1], (double)o.mean[2], (double)o.std[0], (double)o.std[1],
                      (double)o.std[2]);
    bw_sb_appendf(sb, " optimize=%d batch=%zu model_batch=%zu outputs=%u", (int)o.optimize,
                  o.batch_size, o.model_batch, (unsigned)o.outputs);
}

/* The "shard" member's JSON. */
static barlow_status shard_meta(const barlow_extraction *r, size_t total,
                                const barlow_extractor *ex, const barlow_shard_options *o,
                                bw_sb *sb)
{
    size_t begin, end;
    barlow_extraction_range(r, &begin, &end);
    const barlow_matrix *L = barlow_extraction_logits(r);
    const struct {
        const char *key;
        size_t value;
    } fields[] = {{"format_version", BARLOW_SHARD_FORMAT_VERSION},
                  {"index", o->index},
                  {"count", o->count},
                  {"begin", begin},
                  {"end", end},
                  {"dataset_rows", total},
                  {"extracted", barlow_extraction_count(r)},
                  {"features", barlow_matrix_cols(barlow_extraction_features(r))},
                  {"logits", L ? barlow_matrix_cols(L) : 0}};
    bw_sb_append(sb, "{");
    bw_sb_json_kv_string(sb, "format", "barlow-features-shard");
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        bw_sb_append(sb, ",");
        bw_sb_json_kv_size(sb, fields[i].key, fields[i].value);
    }
    bw_sb_append(sb, ",");
    bw_sb_json_kv_string(sb, "model_sha256", barlow_extractor_model_sha256(ex));
    bw_sb_append(sb, ",\"predict_sha256\":");
    if (o->predict_sha256) {
        char low[65];
        sha_lower(o->predict_sha256, low);
        bw_sb_json_string(sb, low);
    } else {
        bw_sb_append(sb, "null");
    }
    bw_sb_append(sb, ",\"options\":");
    bw_sb tmp;
    bw_sb_init(&tmp);
    options_key(ex, &tmp);
    bw_sb_json_string(sb, tmp.data ? tmp.data : "");
    bool failed = tmp.failed;
    bw_sb_free(&tmp);
    bw_sb_append(sb, "}\n");
    return failed || sb->failed ? bw_error(BARLOW_E_NOMEM, "barlow_extraction_save_shard: out "
                                                           "of memory")
                                : BARLOW_OK;
}

barlow_status barlow_extraction_save_shard(const barlow_extraction *r, const barlow_dataset *ds,
                                           const barlow_extractor *ex,
                                           const barlow_shard_options *opts, const char *path)
{
    static const char who[] = "barlow_extraction_save_shard";
    bw_clear_error();
    if (!r || !ds || !ex || !path)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s is NULL", who,
                        !r ? "r" : !ds ? "ds" : !ex ? "ex" : "path");
    barlow_shard_options defaults;
    barlow_shard_options_init(&defaults);
    if (!opts) opts = &defaults;
    barlow_status st = bw_check_options_version(opts->version, BARLOW_SHARD_OPTIONS_VERSION,
                                                "barlow_extraction_save_shard: "
                                                "barlow_shard_options");
    if (st) return st;
    const barlow_matrix *F = barlow_extraction_features(r);
    if (!F)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: the extraction has no features (a shard "
                                              "needs BARLOW_EXTRACT_FEATURES)", who);
    if (opts->predict_sha256 && !is_sha256(opts->predict_sha256))
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: predict_sha256 \"%.80s\" is not 64 hexadecimal digits", who,
                        opts->predict_sha256);
    barlow_extractor_options eo;
    barlow_extractor_options_init(&eo);
    barlow_extractor_get_options(ex, &eo);
    st = bw_extraction_check_dataset(r, ds, who);
    if (st) return st;
    size_t total = barlow_dataset_size(ds), begin, end, want_b, want_e;
    barlow_extraction_range(r, &begin, &end);
    st = barlow_shard_range(total, opts->index, opts->count, eo.batch_size, &want_b, &want_e);
    if (st) return bw_error_prefix(st, "%s", who);
    if (begin != want_b || end != want_e)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: the extraction covers rows %zu..%zu but shard %zu of %zu (batch "
                        "size %zu) is rows %zu..%zu", who, begin, end - 1, opts->index,
                        opts->count, eo.batch_size, want_b, want_e - 1);
    bw_sb sb;
    bw_sb_init(&sb);
    st = shard_meta(r, total, ex, opts, &sb);
    uint64_t rowbytes = (uint64_t)barlow_matrix_cols(F) * sizeof(float);
    bw_shard_write sw = {sb.data, sb.len, (uint64_t)begin * rowbytes % BW_SHARD_ALIGN};
    if (st == BARLOW_OK) st = bw_extraction_write(r, ds, path, &sw, who);
    bw_sb_free(&sb);
    return st;
}

/* ---- reading a shard's metadata ------------------------------------------------ */

static barlow_status bad_field(const char *who, const char *path, const char *key,
                               const bw_json *v, const char *want)
{
    return bw_error(BARLOW_E_FORMAT, "%s: %s: \"%s\" is %s; expected %s", who, path, key,
                    bw_json_describe(v), want);
}

static barlow_status get_size(const bw_json *o, const char *key, size_t *out, const char *who,
                              const char *path)
{
    const bw_json *v = bw_json_get(o, key);
    return bw_json_size_t(v, out) ? BARLOW_OK
                                  : bad_field(who, path, key, v, "a non-negative integer");
}

/* A hex digest or null ("" then) into out[65]. */
static barlow_status get_sha(const bw_json *o, const char *key, bool nullable, char out[65],
                             const char *who, const char *path)
{
    const bw_json *v = bw_json_get(o, key);
    if (nullable && bw_json_is(v, BW_JSON_NULL)) {
        out[0] = '\0';
        return BARLOW_OK;
    }
    const char *s = bw_json_string(v, NULL);
    if (!s || !is_sha256(s))
        return bad_field(who, path, key, v, nullable ? "64 hex digits or null" : "64 hex digits");
    sha_lower(s, out);
    return BARLOW_OK;
}

/* The fields shared by a shard's metadata and the manifest. */
static barlow_status read_common(const bw_json *o, bw_shard_meta *m, const char *who,
                                 const char *path)
{
    barlow_status st = get_size(o, "dataset_rows", &m->dataset_rows, who, path);
    if (!st) st = get_size(o, "features", &m->features, who, path);
    if (!st) st = get_size(o, "logits", &m->logits, who, path);
    if (!st) st = get_sha(o, "model_sha256", false, m->model_sha256, who, path);
    if (!st) st = get_sha(o, "predict_sha256", true, m->predict_sha256, who, path);
    if (st) return st;
    const bw_json *v = bw_json_get(o, "options");
    size_t len = 0;
    const char *s = bw_json_string(v, &len);
    if (!s || len >= sizeof m->options || strlen(s) != len)
        return bad_field(who, path, "options", v, "a string of the extractor's options");
    memcpy(m->options, s, len + 1);
    if (m->features == 0)
        return bad_field(who, path, "features", bw_json_get(o, "features"), "at least 1");
    return BARLOW_OK;
}

/* Checks "format" and "format_version" of a document of kind `format`. */
static barlow_status check_format(const bw_json *root, const char *format, size_t version,
                                  const char *who, const char *path)
{
    const char *f = bw_json_string(bw_json_get(root, "format"), NULL);
    if (!bw_json_is(root, BW_JSON_OBJECT) || !f || strcmp(f, format) != 0)
        return bw_error(BARLOW_E_FORMAT, "%s: %s is not a %s file (no \"format\": \"%s\")", who,
                        path, format, format);
    size_t v = 0;
    barlow_status st = get_size(root, "format_version", &v, who, path);
    if (st) return st;
    if (v == 0 || v > version)
        return bw_error(v == 0 ? BARLOW_E_FORMAT : BARLOW_E_UNSUPPORTED,
                        "%s: %s has format_version %zu; this libbarlow reads 1..%zu", who, path,
                        v, version);
    return BARLOW_OK;
}

barlow_status bw_shard_read_common(const bw_json *root, const char *format, size_t version,
                                   bw_shard_meta *m, const char *who, const char *path)
{
    barlow_status st = check_format(root, format, version, who, path);
    return st ? st : read_common(root, m, who, path);
}

barlow_status bw_shard_read_meta(const char *path, const char *who, bw_shard_meta *m)
{
    memset(m, 0, sizeof *m);
    barlow_array *a = NULL;
    barlow_status st = barlow_array_load_npz(path, "shard", &a);
    if (st == BARLOW_E_INVALID_ARG)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: %s is not a shard (no member \"shard\": write shards with barlow "
                        "extract --shard)", who, path);
    if (st == BARLOW_E_UNSUPPORTED) /* a dtype libbarlow does not read: not its shard */
        return bw_error(BARLOW_E_FORMAT, "%s: %s: member \"shard\" is not 1-D uint8 (its dtype "
                                         "is not one libbarlow reads)", who, path);
    if (st) return bw_error_prefix(st, "%s", who);
    if (barlow_array_dtype(a) != BARLOW_DTYPE_UINT8 || barlow_array_ndim(a) != 1) {
        barlow_array_free(a);
        return bw_error(BARLOW_E_FORMAT, "%s: %s: member \"shard\" is not 1-D uint8", who, path);
    }
    bw_json *root = NULL;
    char name[4096];
    snprintf(name, sizeof name, "%s:shard", path);
    st = bw_json_parse(barlow_array_data(a), barlow_array_size(a), name, 4, &root);
    barlow_array_free(a);
    if (st) return bw_error_prefix(st, "%s", who);
    st = bw_shard_read_common(root, "barlow-features-shard", BARLOW_SHARD_FORMAT_VERSION, m,
                              who, name);
    if (!st) st = get_size(root, "index", &m->index, who, name);
    if (!st) st = get_size(root, "count", &m->count, who, name);
    if (!st) st = get_size(root, "begin", &m->begin, who, name);
    if (!st) st = get_size(root, "end", &m->end, who, name);
    if (!st) st = get_size(root, "extracted", &m->extracted, who, name);
    if (!st && (m->index >= m->count || m->begin >= m->end || m->end > m->dataset_rows ||
                m->extracted > m->end - m->begin))
        st = bw_error(BARLOW_E_FORMAT,
                      "%s: %s: inconsistent shard %zu of %zu, rows %zu..%zu of %zu, %zu "
                      "extracted", who, name, m->index, m->count, m->begin, m->end,
                      m->dataset_rows, m->extracted);
    bw_json_free(root);
    return st;
}

/* ---- merging ----------------------------------------------------------------- */

bool bw_shard_meta_differs(const bw_shard_meta *a, const bw_shard_meta *b, char *buf,
                           size_t cap)
{
    if (a->count != b->count)
        snprintf(buf, cap, "shard count (%zu vs %zu)", a->count, b->count);
    else if (a->dataset_rows != b->dataset_rows)
        snprintf(buf, cap, "dataset rows (%zu vs %zu)", a->dataset_rows, b->dataset_rows);
    else if (strcmp(a->model_sha256, b->model_sha256) != 0)
        snprintf(buf, cap, "model (SHA-256 %s vs %s)", a->model_sha256, b->model_sha256);
    else if (strcmp(a->predict_sha256, b->predict_sha256) != 0)
        snprintf(buf, cap, "predictions' model (SHA-256 %s vs %s)",
                 a->predict_sha256[0] ? a->predict_sha256 : "none",
                 b->predict_sha256[0] ? b->predict_sha256 : "none");
    else if (strcmp(a->options, b->options) != 0)
        snprintf(buf, cap, "extractor options (\"%s\" vs \"%s\")", a->options, b->options);
    else if (a->features != b->features)
        snprintf(buf, cap, "feature count (%zu vs %zu)", a->features, b->features);
    else if (a->logits != b->logits)
        snprintf(buf, cap, "logit count (%zu vs %zu)", a->logits, b->logits);
    else
        return false;
    return true;
}

typedef struct placed {
    size_t i; /* argument position */
    const bw_shard_meta *m;
} placed;

static int placed_cmp(const void *x, const void *y)
{
    const placed *a = x, *b = y;
    return a->m->index < b->m->index ? -1 : a->m->index > b->m->index;
}

/* The places 0..count-1 that no shard fills, listed (at most 8) into buf. */
static void missing_places(const placed *p, size_t n, size_t count, char *buf, size_t cap)
{
    size_t k = 0, shown = 0, off = 0, missing = count - n;
    buf[0] = '\0';
    for (size_t want = 0; want < count && shown < 8; want++) {
        while (k < n && p[k].m->index < want) k++;
        if (k < n && p[k].m->index == want) continue;
        int w = snprintf(buf + off, cap - off, "%s%zu", shown ? ", " : "", want);
        if (w < 0 || (size_t)w >= cap - off) break;
        off += (size_t)w;
        shown++;
    }
    if (missing > shown) snprintf(buf + off, cap - off, " and %zu more", missing - shown);
}

/* Complete and disjoint: places 0..N-1 once each, rows contiguous from 0
 * to the dataset's end. p is sorted by place. */
static barlow_status check_cover(const placed *p, size_t n, const char *const *paths,
                                 const char *who)
{
    size_t count = p[0].m->count;
    for (size_t k = 1; k < n; k++)
        if (p[k].m->index == p[k - 1].m->index)
            return bw_error(BARLOW_E_INVALID_ARG,
                            "%s: %s and %s are both shard %zu of %zu (rows %zu..%zu): a shard "
                            "given twice, or two extractions of the same rows", who,
                            paths[p[k - 1].i], paths[p[k].i], p[k].m->index, count,
                            p[k].m->begin, p[k].m->end - 1);
    if (n != count) {
        char buf[256];
        missing_places(p, n, count, buf, sizeof buf);
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %zu of %zu shards given; missing: shard %s",
                        who, n, count, buf);
    }
    size_t at = 0;
    for (size_t k = 0; k < n; k++) {
        if (p[k].m->begin != at)
            return bw_error(BARLOW_E_INVALID_ARG,
                            "%s: %s (shard %zu of %zu) starts at row %zu, but the shards "
                            "before it end at row %zu: %s", who, paths[p[k].i], k, count,
                            p[k].m->begin, at,
                            p[k].m->begin > at ? "rows are missing" : "rows overlap");
        at = p[k].m->end;
    }
    if (at != p[0].m->dataset_rows)
        return bw_error(BARLOW_E_INVALID_ARG,
                        "%s: the shards end at row %zu of the dataset's %zu", who, at,
                        p[0].m->dataset_rows);
    return BARLOW_OK;
}

/* The directory of path, resolved (the manifest need not exist yet). */
/* realpath(path) in memory from bw_malloc (NULL: errno says why, or NOMEM
 * with its message when *nomem is set). */
static char *real_path(const char *path, bool *nomem, const char *who)
{
    *nomem = false;
    char *libc = realpath(path, NULL);
    if (!libc) return NULL;
    char *real = bw_strdup(libc, who);
    free(libc); /* libc's memory, not bw_malloc's */
    *nomem = !real;
    return real;
}

/* *out = the canonical directory of path (the manifest's). IO or NOMEM. */
static barlow_status resolved_dir(const char *path, const char *who, char **out)
{
    const char *slash = strrchr(path, '/');
    size_t len = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    char *dir = bw_strndup(slash ? path : ".", len, who);
    if (!dir) return BARLOW_E_NOMEM;
    bool nomem;
    char *real = real_path(dir, &nomem, who);
    barlow_status st = real ? BARLOW_OK : nomem ? BARLOW_E_NOMEM
        : bw_error(BARLOW_E_IO, "%s: the manifest's directory %s: %s", who, dir, strerror(errno));
    bw_free(dir);
    if (real) *out = real;
    return st;
}

/* One shard's line of the manifest: its path relative to mdir when under
 * it, else absolute. */
static barlow_status manifest_entry(bw_sb *sb, const char *mdir, const char *shard,
                                    const bw_shard_meta *m, const char *who)
{
    bool nomem;
    char *real = real_path(shard, &nomem, who);
    if (!real)
        return nomem ? BARLOW_E_NOMEM
                     : bw_error(BARLOW_E_IO, "%s: %s: %s", who, shard, strerror(errno));
    struct stat sb_;
    if (stat(real, &sb_) != 0) {
        bw_free(real);
        return bw_error(BARLOW_E_IO, "%s: %s: %s", who, shard, strerror(errno));
    }
    size_t dl = strlen(mdir);
    const char *name = real;
    if (strcmp(mdir, "/") == 0) name = real + 1;
    else if (strncmp(real, mdir, dl) == 0 && real[dl] == '/') name = real + dl + 1;
    bw_sb_append(sb, "  {");
    bw_sb_json_kv_string(sb, "path", name);
    bw_sb_appendf(sb, ", \"index\": %zu, \"begin\": %zu, \"end\": %zu, \"extracted\": %zu, "
                      "\"bytes\": %llu}",
                  m->index, m->begin, m->end, m->extracted, (unsigned long long)sb_.st_size);
    bw_free(real);
    return BARLOW_OK;
}

static barlow_status write_manifest(const placed *p, size_t n, const char *const *paths,
                                    const char *path, const char *who)
{
    char *mdir = NULL;
    barlow_status dst = resolved_dir(path, who, &mdir);
    if (dst) return dst;
    const bw_shard_meta *a = p[0].m;
    size_t extracted = 0;
    for (size_t k = 0; k < n; k++) extracted += p[k].m->extracted;
    bw_sb sb;
    bw_sb_init(&sb);
    bw_sb_append(&sb, "{\"format\": \"barlow-features-manifest\", ");
    bw_sb_appendf(&sb, "\"format_version\": %d,\n \"dataset_rows\": %zu, \"extracted\": %zu, "
                       "\"features\": %zu, \"logits\": %zu,\n \"model_sha256\": \"%s\", "
                       "\"predict_sha256\": ",
                  BARLOW_MANIFEST_FORMAT_VERSION, a->dataset_rows, extracted, a->features,
                  a->logits, a->model_sha256);
    if (a->predict_sha256[0]) bw_sb_appendf(&sb, "\"%s\"", a->predict_sha256);
    else bw_sb_append(&sb, "null");
    bw_sb_append(&sb, ",\n \"options\": ");
    bw_sb_json_string(&sb, a->options);
    bw_sb_append(&sb, ",\n \"shards\": [\n");
    barlow_status st = BARLOW_OK;
    for (size_t k = 0; k < n && !st; k++) {
        st = manifest_entry(&sb, mdir, paths[p[k].i], p[k].m, who);
        bw_sb_append(&sb, k + 1 < n ? ",\n" : "\n");
    }
    bw_sb_append(&sb, " ]}\n");
    bw_free(mdir);
    if (st) {
        bw_sb_free(&sb);
        return st;
    }
    return bw_sb_save(&sb, path, who);
}

barlow_status barlow_shards_merge(const char *const *paths, size_t n, const char *path)
{
    static const char who[] = "barlow_shards_merge";
    bw_clear_error();
    if (!paths || !path || n == 0)
        return bw_error(BARLOW_E_INVALID_ARG, "%s: %s", who,
                        !paths ? "paths is NULL" : !path ? "path is NULL" : "no shards");
    for (size_t i = 0; i < n; i++)
        if (!paths[i] || !*paths[i])
            return bw_error(BARLOW_E_INVALID_ARG, "%s: paths[%zu] is %s", who, i,
                            paths[i] ? "empty" : "NULL");
    bw_shard_meta *m = bw_calloc(n, sizeof *m, who);
    placed *p = bw_calloc(n, sizeof *p, who);
    barlow_status st = m && p ? BARLOW_OK : BARLOW_E_NOMEM;
    char diff[1200];
    for (size_t i = 0; i < n && !st; i++) {
        st = bw_shard_read_meta(paths[i], who, &m[i]);
        p[i] = (placed){i, &m[i]};
        if (!st && i > 0 && bw_shard_meta_differs(&m[0], &m[i], diff, sizeof diff))
            st = bw_error(BARLOW_E_INVALID_ARG, "%s: %s and %s are not of one store: they "
                                                "differ in %s", who, paths[0], paths[i], diff);
    }
    if (!st) {
        qsort(p, n, sizeof *p, placed_cmp);
        st = check_cover(p, n, paths, who);
    }
    if (!st) st = write_manifest(p, n, paths, path, who);
    bw_free(m);
    bw_free(p);
    return st;
}

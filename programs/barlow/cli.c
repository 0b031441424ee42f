/* The helpers every command of the barlow program shares (cli.h): option
 * parsing, option values (numbers, enumerations, lists, classes), messages,
 * JSON, F.npz:member specs and loading, output checks, datasets, the
 * progress bar. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "internal.h" /* bw_error, for the library files compiled in here */
#include "utf8.h"

const char cli_common_usage[] =
    "\n"
    "Every command also takes --limit NAME=SIZE (repeatable) to change one of the\n"
    "library's input limits: text (CSV and class-name files, 1G), image (one\n"
    "image file, 256M), model (8G), array (an array read into memory, 16G) or\n"
    "decode (pixel memory of all image decodes at once, 4G); SIZE in bytes with\n"
    "an optional K, M or G suffix (docs/limits.md).\n";

/* "NAME=SIZE" of --limit → barlow_limit_set. */
static int cli_set_limit(const char *cmd, const char *text)
{
    static const struct { const char *name; barlow_limit which; } names[] = {
        {"text", BARLOW_LIMIT_TEXT_BYTES},   {"image", BARLOW_LIMIT_IMAGE_BYTES},
        {"model", BARLOW_LIMIT_MODEL_BYTES}, {"array", BARLOW_LIMIT_ARRAY_BYTES},
        {"decode", BARLOW_LIMIT_DECODE_BYTES},
    };
    const char *eq = text ? strchr(text, '=') : NULL;
    size_t k = 0, n = sizeof names / sizeof names[0];
    while (eq && k < n && (strlen(names[k].name) != (size_t)(eq - text) ||
                           strncmp(names[k].name, text, (size_t)(eq - text)) != 0))
        k++;
    char *end = NULL;
    errno = 0;
    unsigned long long v = eq && eq[1] >= '0' && eq[1] <= '9' ? strtoull(eq + 1, &end, 10) : 0;
    unsigned shift = 0;
    if (end && *end) {
        const char *sfx = "KMG";
        const char *p = strchr(sfx, *end);
        shift = p && end[1] == '\0' ? 10u * (unsigned)(p - sfx + 1) : 99;
    }
    bool ok = eq && k < n && end && !errno && v > 0 && shift != 99 && v <= (UINT64_MAX >> shift);
    if (!ok) {
        fprintf(stderr, "barlow %s: --limit %s: expected NAME=SIZE with NAME one of text, "
                        "image, model, array, decode and SIZE > 0 bytes (K, M, G suffixes)\n",
                cmd, text ? text : "(missing)");
        return -1;
    }
    barlow_limit_set(names[k].which, (uint64_t)v << shift);
    return 0;
}

int cli_parse(int argc, char **argv, const cli_opt *opts, size_t n_opts,
              const char *usage, bool *help)
{
    return cli_parse_args(argc, argv, opts, n_opts, usage, help, NULL, NULL);
}

int cli_parse_args(int argc, char **argv, const cli_opt *opts, size_t n_opts,
                   const char *usage, bool *help, const char **pos, size_t *n_pos)
{
    *help = false;
    if (n_pos) *n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            fputs(cli_common_usage, stdout);
            *help = true;
            return CLI_OK;
        }
        if (!strncmp(a, "--limit", 7) && (a[7] == '\0' || a[7] == '=')) {
            const char *v = a[7] == '=' ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);
            if (cli_set_limit(argv[0], v) != 0) return CLI_USAGE;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 && pos) {
            pos[(*n_pos)++] = a;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "barlow %s: unexpected argument '%s'\n\n%s", argv[0], a, usage);
            return CLI_USAGE;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const cli_opt *o = NULL;
        for (size_t k = 0; k < n_opts; k++)
            if (strlen(opts[k].name) == len && !strncmp(opts[k].name, name, len)) o = &opts[k];
        if (!o) {
            fprintf(stderr, "barlow %s: unknown option '%s'\n\n%s", argv[0], a, usage);
            return CLI_USAGE;
        }
        if (o->has_value) {
            if (eq) {
                *o->value = eq + 1;
            } else if (i + 1 < argc) {
                *o->value = argv[++i];
            } else {
                fprintf(stderr, "barlow %s: option '--%s' needs a value\n\n%s", argv[0],
                        o->name, usage);
                return CLI_USAGE;
            }
        } else {
            if (eq) {
                fprintf(stderr, "barlow %s: option '--%s' takes no value\n\n%s", argv[0],
                        o->name, usage);
                return CLI_USAGE;
            }
            *o->flag = true;
        }
    }
    return CLI_OK;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "barlow %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'barlow %s --help')\n", cmd);
    return CLI_USAGE;
}

bool cli_parse_size(const char *text, size_t min, size_t max, size_t *out)
{
    if (!text || !*text || *text == '-' || *text == '+') return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || v < min || v > max) return false;
    *out = (size_t)v;
    return true;
}

bool cli_parse_double(const char *text, double *out)
{
    if (!text || !*text) return false;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || *end || !isfinite(v)) return false;
    *out = v;
    return true;
}

int cli_size(const char *opt, const char *text, size_t min, size_t max, size_t *out)
{
    if (cli_parse_size(text, min, max, out)) return 0;
    if (max == SIZE_MAX)
        fprintf(stderr, "barlow: --%s=%s is not an integer >= %zu\n", opt, text ? text : "", min);
    else
        fprintf(stderr, "barlow: --%s=%s is not an integer in %zu..%zu\n", opt, text ? text : "",
                min, max);
    return -1;
}

int cli_u32(const char *opt, const char *text, uint32_t *out)
{
    size_t v;
    if (cli_size(opt, text, 0, UINT32_MAX, &v) != 0) return -1;
    *out = (uint32_t)v;
    return 0;
}

int cli_double(const char *opt, const char *text, double *out)
{
    if (cli_parse_double(text, out)) return 0;
    fprintf(stderr, "barlow: --%s=%s is not a finite number\n", opt, text ? text : "");
    return -1;
}

/* ---- enumerated options ------------------------------------------------------ */

bool cli_choice_find(const cli_choice *choices, size_t n, const char *text, int *value)
{
    for (size_t i = 0; text && i < n; i++)
        if (!strcmp(choices[i].word, text)) {
            *value = choices[i].value;
            return true;
        }
    return false;
}

int cli_enum(const char *cmd, const char *opt, const char *text, const cli_choice *choices,
             size_t n, int *value)
{
    if (cli_choice_find(choices, n, text, value)) return CLI_OK;
    /* "a, b or c": the first word of each value (later ones are aliases) */
    char words[256] = "";
    size_t listed = 0, len = 0;
    for (size_t i = 0; i < n; i++) {
        bool alias = false;
        for (size_t j = 0; j < i && !alias; j++) alias = choices[j].value == choices[i].value;
        if (alias) continue;
        size_t rest = 0; /* values after this one still to list */
        for (size_t k = i + 1; k < n; k++) {
            bool seen = false;
            for (size_t j = 0; j < k && !seen; j++) seen = choices[j].value == choices[k].value;
            rest += !seen;
        }
        const char *sep = listed == 0 ? "" : rest == 0 ? " or " : ", ";
        int w = snprintf(words + len, sizeof words - len, "%s%s", sep, choices[i].word);
        if (w > 0) len = len + (size_t)w < sizeof words ? len + (size_t)w : sizeof words - 1;
        listed++;
    }
    return cli_usage_error(cmd, "--%s=%s (must be %s)", opt, text ? text : "", words);
}

static const cli_choice estimators[] = {
    {"knn", BARLOW_ESTIMATOR_KNN},
    {"split-gain", BARLOW_ESTIMATOR_SPLIT_GAIN},
    {"mean", BARLOW_ESTIMATOR_MEAN},
};

/* The groupings by name; "label,prediction" and its aliases are both. */
static const cli_choice groupings[] = {
    {"label", BARLOW_ANALYSIS_BY_LABEL},
    {"prediction", BARLOW_ANALYSIS_BY_PREDICTION},
    {"label,prediction", BARLOW_ANALYSIS_BY_BOTH},
    {"prediction,label", BARLOW_ANALYSIS_BY_BOTH},
    {"both", BARLOW_ANALYSIS_BY_BOTH},
};

int cli_estimator(const char *cmd, const char *text, barlow_estimator *out)
{
    int v;
    int rc = cli_enum(cmd, "estimator", text, estimators, sizeof estimators / sizeof estimators[0],
                      &v);
    if (rc == CLI_OK) *out = (barlow_estimator)v;
    return rc;
}

int cli_group_by(const char *cmd, const char *text, barlow_group_by *out)
{
    int v; /* label or prediction: the first two groupings */
    int rc = cli_enum(cmd, "by", text, groupings, 2, &v);
    if (rc == CLI_OK)
        *out = v == BARLOW_ANALYSIS_BY_LABEL ? BARLOW_GROUP_BY_LABEL : BARLOW_GROUP_BY_PREDICTION;
    return rc;
}

int cli_groupings(const char *cmd, const char *text, uint32_t *out)
{
    int v;
    int rc = cli_enum(cmd, "by", text, groupings, sizeof groupings / sizeof groupings[0], &v);
    if (rc == CLI_OK) *out = (uint32_t)v;
    return rc;
}

const char *cli_grouping_name(barlow_group_by by)
{
    return groupings[by == BARLOW_GROUP_BY_LABEL ? 0 : 1].word;
}

/* ---- lists ------------------------------------------------------------------- */

bool cli_list_next(const char **p, char sep, const char **item, size_t *len)
{
    if (!*p) return false;
    const char *s = *p, *e = strchr(s, sep);
    *item = s;
    *len = e ? (size_t)(e - s) : strlen(s);
    *p = e ? e + 1 : NULL;
    return true;
}

int cli_list_sizes(const char *cmd, const char *opt, const char *text, size_t min, size_t max,
                   size_t max_n, bool distinct, const char *what, size_t **out, size_t *n_out)
{
    size_t cap = 1, n = 0;
    for (const char *q = text; *q; q++) cap += *q == ',';
    size_t *v = malloc(cap * sizeof *v);
    if (!v) {
        cli_set_error("out of memory");
        return CLI_ERROR;
    }
    bool ok = n < max_n;
    const char *p = text, *item;
    size_t len;
    while (ok && cli_list_next(&p, ',', &item, &len)) {
        char buf[32];
        ok = len > 0 && len < sizeof buf && n < max_n;
        if (ok) {
            memcpy(buf, item, len);
            buf[len] = '\0';
            ok = cli_parse_size(buf, min, max, &v[n]);
        }
        for (size_t j = 0; ok && distinct && j < n; j++) ok = v[j] != v[n];
        n += ok;
    }
    if (!ok) {
        free(v);
        char range[64] = "", most[48] = "";
        if (max != SIZE_MAX) snprintf(range, sizeof range, " in %zu..%zu", min, max);
        if (max_n != SIZE_MAX && !(distinct && max != SIZE_MAX && max_n > max - min))
            snprintf(most, sizeof most, ", at most %zu", max_n);
        return cli_usage_error(cmd, "--%s=%s (must be a comma-separated list of %s%s%s%s)", opt,
                               text, distinct ? "distinct " : "", what, range, most);
    }
    *out = v;
    *n_out = n;
    return CLI_OK;
}

int cli_rule_options(const cli_rule_args *a, barlow_rule_options *ro)
{
    const char *cov = a->min_coverage, *er = a->min_error_rate, *p = a->max_p_value;
    barlow_rule_options_init(ro);
    if ((cov && cli_double("min-coverage", cov, &ro->min_coverage)) ||
        (er && cli_double("min-error-rate", er, &ro->min_error_rate)) ||
        (p && cli_double("max-p-value", p, &ro->max_p_value)))
        return CLI_USAGE;
    return CLI_OK;
}

/* ---- classes, JSON ----------------------------------------------------------- */

bool cli_class_id(const barlow_dataset *ds, const char *text, int32_t *id)
{
    if (barlow_dataset_class_id(ds, text, id) == BARLOW_OK) return true;
    size_t v, nc = barlow_dataset_class_count(ds);
    if (!nc || *text < '0' || *text > '9' || !cli_parse_size(text, 0, nc - 1, &v)) return false;
    *id = (int32_t)v;
    return true;
}

static void emit_stdout(void *ctx, const char *bytes, size_t n)
{
    (void)ctx;
    fwrite(bytes, 1, n, stdout);
}

void cli_json_string(const char *s)
{
    if (!s) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    bw_json_escape(s, emit_stdout, NULL);
    putchar('"');
}

static char cli_err[1024];

static void cli_vset_error(const char *fmt, va_list ap)
{
    vsnprintf(cli_err, sizeof cli_err, fmt, ap);
}

void cli_set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_vset_error(fmt, ap);
    va_end(ap);
}

const char *cli_error_text(void) { return cli_err[0] ? cli_err : barlow_last_error(); }

/* The library's files that the program compiles itself (lib/json.c and its
 * allocator, lib/alloc.c) report errors through bw_error(); here it is
 * cli_set_error(). (The library's own
 * bw_error has hidden visibility: neither sees the other.) */
barlow_status bw_error(barlow_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cli_vset_error(fmt, ap);
    va_end(ap);
    return status;
}

int cli_fail(const char *cmd, barlow_status st)
{
    const char *msg = cli_error_text();
    fprintf(stderr, "barlow %s: %s\n", cmd, *msg ? msg : barlow_status_str(st));
    return CLI_ERROR;
}

void cli_json_double(double v)
{
    char buf[40];
    fputs(bw_json_number(v, buf, sizeof buf), stdout);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

int cli_split_spec(const char *spec, char **path, const char **member)
{
    const char *colon = strstr(spec, ".npz:");
    size_t ext = 4;
    if (!colon && (colon = strstr(spec, ".json:")) != NULL) ext = 5;
    size_t n = colon ? (size_t)(colon - spec) + ext : strlen(spec);
    *path = malloc(n + 1);
    if (!*path) return -1;
    memcpy(*path, spec, n);
    (*path)[n] = '\0';
    *member = colon ? colon + ext + 1 : NULL;
    return 0;
}

barlow_status cli_load_member(const char *path, const char *member, barlow_array **out)
{
    return barlow_manifest_probe(path) ? barlow_array_load_manifest(path, member, out)
                                    : barlow_array_load_npz(path, member, out);
}

int cli_is_extraction(const char *path)
{
    return ends_with(path, ".npz") || barlow_manifest_probe(path);
}

barlow_status cli_load_matrix(const char *spec, barlow_matrix **out)
{
    char *path;
    const char *member;
    if (cli_split_spec(spec, &path, &member) != 0) return BARLOW_E_NOMEM;
    barlow_status st;
    bool manifest = barlow_manifest_probe(path);
    if (manifest && member && strcmp(member, "features") != 0) {
        cli_set_error("%s: a manifest's matrix is its features (give %s or %s:features)", spec,
                      path, path);
        st = BARLOW_E_INVALID_ARG;
    } else if (manifest) st = barlow_matrix_open_manifest(path, out);
    else if (member) st = barlow_matrix_load_npz(path, member, out);
    else if (ends_with(path, ".npz")) st = barlow_matrix_load_npz(path, "features", out);
    else st = barlow_matrix_load_npy(path, out);
    free(path);
    return st;
}

barlow_status cli_load_array(const char *spec, const char *what, barlow_array **out)
{
    char *path;
    const char *member;
    if (cli_split_spec(spec, &path, &member) != 0) return BARLOW_E_NOMEM;
    barlow_status st;
    if (member) {
        st = cli_load_member(path, member, out);
    } else if (cli_is_extraction(path)) {
        cli_set_error("%s%s%s is an .npz archive or a manifest: name the member as %s:MEMBER",
                      what ? what : "", what ? " " : "", spec, spec);
        st = BARLOW_E_INVALID_ARG;
    } else {
        st = barlow_array_load_npy(path, out);
    }
    free(path);
    return st;
}

barlow_status cli_load_failures(const char *path, size_t n, uint8_t **out)
{
    barlow_array *a = NULL;
    barlow_status st = cli_load_array(path, NULL, &a);
    if (st != BARLOW_OK) return st;
    size_t m = barlow_array_size(a);
    int32_t *v = malloc((m ? m : 1) * sizeof *v);
    uint8_t *f = malloc(m ? m : 1);
    if (!v || !f) {
        free(v);
        free(f);
        barlow_array_free(a);
        cli_set_error("out of memory reading %s", path);
        return BARLOW_E_NOMEM;
    }
    st = barlow_array_to_int32(a, v);
    size_t ndim = barlow_array_ndim(a);
    barlow_array_free(a);
    if (st == BARLOW_OK && ndim > 1) {
        cli_set_error("%s must be 1-D (it has %zu dimensions)", path, ndim);
        st = BARLOW_E_INVALID_ARG;
    }
    if (st == BARLOW_OK && m != n) {
        cli_set_error("%s has %zu failure flags but the features have %zu rows",
                path, m, n);
        st = BARLOW_E_INVALID_ARG;
    }
    for (size_t i = 0; st == BARLOW_OK && i < m; i++) {
        if (v[i] != 0 && v[i] != 1) {
            cli_set_error("%s: failure flag %zu is %d (must be 0 or 1)", path, i,
                    (int)v[i]);
            st = BARLOW_E_INVALID_ARG;
        }
        f[i] = (uint8_t)v[i];
    }
    free(v);
    if (st != BARLOW_OK) {
        free(f);
        return st;
    }
    *out = f;
    return BARLOW_OK;
}

char *cli_path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* realpath of path's directory + "/" + its last component (the file need
 * not exist); NULL when the directory cannot be resolved. */
static char *canonical(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    char *real = dir ? realpath(dir, NULL) : NULL;
    free(dir);
    if (!real) return NULL;
    char *c = cli_path_join(real, base);
    free(real);
    return c;
}

/* 1 when a and b name the same file: the same existing inode, or the same
 * canonical path. */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    if (!strcmp(a, b)) return 1;
    char *ca = canonical(a), *cb = canonical(b);
    int same = ca && cb && !strcmp(ca, cb);
    free(ca);
    free(cb);
    return same;
}

int cli_check_outputs(const char *cmd, const cli_file *outs, size_t n_outs, const cli_file *ins,
                      size_t n_ins)
{
    for (size_t i = 0; i < n_outs; i++) {
        if (!outs[i].spec) continue;
        if (barlow_output_check(outs[i].spec) != BARLOW_OK) {
            fprintf(stderr, "barlow %s: --%s: %s\n", cmd, outs[i].opt, barlow_last_error());
            return CLI_ERROR;
        }
        for (size_t j = 0; j < i; j++)
            if (outs[j].spec && same_file(outs[i].spec, outs[j].spec)) {
                fprintf(stderr, "barlow %s: --%s and --%s name the same file %s\n", cmd,
                        outs[j].opt, outs[i].opt, outs[i].spec);
                return CLI_ERROR;
            }
        for (size_t j = 0; j < n_ins; j++) {
            char *path;
            const char *member;
            if (!ins[j].spec || cli_split_spec(ins[j].spec, &path, &member) != 0) continue;
            int same = same_file(outs[i].spec, path);
            free(path);
            if (same) {
                fprintf(stderr, "barlow %s: --%s %s would overwrite the input --%s %s\n", cmd,
                        outs[i].opt, outs[i].spec, ins[j].opt, ins[j].spec);
                return CLI_ERROR;
            }
        }
    }
    return CLI_OK;
}

int cli_check_dataset_args(const char *cmd, const cli_dataset_args *a)
{
    int sources = (a->metadata != NULL) + (a->folder != NULL) + (a->idx != NULL);
    if (sources != 1)
        return cli_usage_error(cmd, "give exactly one of --metadata (with --images), --folder, "
                                    "--idx (with --idx-labels)");
    if (a->metadata && !a->images) return cli_usage_error(cmd, "--metadata needs --images DIR");
    if (a->images && !a->metadata) return cli_usage_error(cmd, "--images goes with --metadata");
    if (a->idx && !a->idx_labels) return cli_usage_error(cmd, "--idx needs --idx-labels");
    if (a->idx_labels && !a->idx) return cli_usage_error(cmd, "--idx-labels goes with --idx");
    if (a->class_names && a->folder)
        return cli_usage_error(cmd, "--class-names applies to --metadata and --idx (a "
                                    "folder's class names are its subdirectories)");
    return CLI_OK;
}

int cli_input_options(const char *cmd, const cli_dataset_args *a, barlow_extractor_options *eo)
{
    const char *size = a->size, *resize = a->resize, *channels = a->channels;
    barlow_extractor_options_init(eo);
    if (a->idx) { /* MNIST-family images: no resize, 28x28 grey by default */
        eo->resize = 0;
        eo->input_size = 28;
        eo->channels = 1;
    }
    if ((size && cli_size("size", size, 1, 4096, &eo->input_size)) ||
        (resize && cli_size("resize", resize, 0, 65536, &eo->resize)) ||
        (channels && cli_size("channels", channels, 1, 3, &eo->channels)))
        return CLI_USAGE;
    if (eo->channels == 2) return cli_usage_error(cmd, "--channels must be 1 or 3");
    return CLI_OK;
}

barlow_status cli_load_dataset(const cli_dataset_args *a, barlow_dataset **ds)
{
    if (a->metadata) {
        barlow_dataset_csv_options co;
        barlow_dataset_csv_options_init(&co);
        co.image_root = a->images;
        co.class_names_path = a->class_names;
        return barlow_dataset_load_csv(a->metadata, &co, ds);
    }
    if (a->folder) return barlow_dataset_load_folder(a->folder, ds);
    barlow_status st = barlow_dataset_load_idx(a->idx, a->idx_labels, ds);
    if (st == BARLOW_OK && a->class_names) {
        st = barlow_dataset_set_class_names_file(*ds, a->class_names);
        if (st != BARLOW_OK) {
            barlow_dataset_free(*ds);
            *ds = NULL;
        }
    }
    return st;
}

void cli_report_skipped(const char *cmd, const barlow_extraction *r, const char *what)
{
    size_t failed = barlow_extraction_failed_count(r), n = barlow_extraction_dataset_size(r);
    if (!failed) return;
    fprintf(stderr, "barlow %s: %s: skipped %zu of %zu images:\n", cmd, what, failed, n);
    size_t shown = 0;
    for (size_t i = 0; i < n; i++) {
        const char *why = barlow_extraction_row_reason(r, i);
        if (!why) continue;
        if (shown++ < 20)
            fprintf(stderr, "  row %zu (%s): %s\n", i,
                    barlow_status_str(barlow_extraction_row_status(r, i)), why);
    }
    if (shown > 20) fprintf(stderr, "  ... and %zu more\n", shown - 20);
}

double cli_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void cli_progress_start(cli_progress *p, const char *what, const char *unit, bool quiet)
{
    p->what = what;
    p->unit = unit;
    p->start = cli_now();
    p->base = 0;
    p->tty = !quiet && isatty(STDERR_FILENO);
    p->drawn = 0;
    p->from_first = false;
}

int cli_progress_fn(size_t done, size_t total, void *user)
{
    cli_progress *ps = user;
    if (!ps->tty) return 0;
    if (ps->from_first && !ps->drawn) { /* timed from here, not from the start */
        ps->start = cli_now();
        ps->base = done;
    }
    double el = cli_now() - ps->start;
    double rate = el > 0 && done > ps->base ? (double)(done - ps->base) / el : 0;
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    int width = 30, fill = total ? (int)((double)width * (double)done / (double)total) : width;
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\r%s [%s] %zu/%zu  %.1f %s/s  ETA %d:%02d ", ps->what, bar, done, total,
            rate, ps->unit, (int)eta / 60, (int)eta % 60);
    fflush(stderr);
    ps->drawn = 1;
    return 0;
}

void cli_progress_end(cli_progress *p)
{
    if (p->drawn) fputc('\n', stderr);
    p->drawn = 0;
}

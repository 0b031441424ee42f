/* Option parsing, number parsing, error printing and loading helpers shared
 * by the subcommands of the barlow program. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_parse(int argc, char **argv, const cli_opt *opts, size_t n_opts,
              const char *usage, bool *help)
{
    *help = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            *help = true;
            return CLI_OK;
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

int cli_size(const char *opt, const char *text, size_t min, size_t max, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = 0;
    bool ok = text && *text && *text != '-' && *text != '+';
    if (ok) {
        v = strtoull(text, &end, 10);
        ok = !errno && !*end && v >= min && v <= max;
    }
    if (!ok) {
        fprintf(stderr, "barlow: --%s=%s is not an integer in %zu..%zu\n", opt,
                text ? text : "", min, max);
        return -1;
    }
    *out = (size_t)v;
    return 0;
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
    char *end;
    errno = 0;
    double v = text ? strtod(text, &end) : 0;
    if (!text || !*text || errno || *end || !isfinite(v)) {
        fprintf(stderr, "barlow: --%s=%s is not a finite number\n", opt, text ? text : "");
        return -1;
    }
    *out = v;
    return 0;
}

static char cli_err[1024];

void cli_set_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cli_err, sizeof cli_err, fmt, ap);
    va_end(ap);
}

int cli_fail(const char *cmd, barlow_status st)
{
    const char *msg = cli_err[0] ? cli_err : barlow_last_error();
    fprintf(stderr, "barlow %s: %s\n", cmd, *msg ? msg : barlow_status_str(st));
    return CLI_ERROR;
}

void cli_json_double(double v)
{
    if (!isfinite(v)) {
        fputs("null", stdout);
        return;
    }
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    fputs(buf, stdout);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

barlow_status cli_load_matrix(const char *spec, barlow_matrix **out)
{
    const char *colon = strstr(spec, ".npz:");
    if (colon) {
        size_t n = (size_t)(colon - spec) + 4;
        char *path = malloc(n + 1);
        if (!path) return BARLOW_E_NOMEM;
        memcpy(path, spec, n);
        path[n] = '\0';
        barlow_status st = barlow_matrix_load_npz(path, colon + 5, out);
        free(path);
        return st;
    }
    if (ends_with(spec, ".npz")) return barlow_matrix_load_npz(spec, "features", out);
    return barlow_matrix_load_npy(spec, out);
}

barlow_status cli_load_failures(const char *path, size_t n, uint8_t **out)
{
    barlow_array *a = NULL;
    barlow_status st = barlow_array_load_npy(path, &a);
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

/* A tiny TAP producer for libbarlow's C tests (meson protocol: 'tap').
 *
 *   TAP_OK(cond, "name %d", i);        one test point
 *   TAP_STATUS(expr, BARLOW_E_X, "...") expects a status and a message
 *   return tap_done();                 plan line + exit status
 */
#ifndef BARLOW_TAP_H
#define BARLOW_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

static void tap_report(int ok, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    tap_n++;
    if (!ok) tap_failed++;
    printf("%s %d - ", ok ? "ok" : "not ok", tap_n);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    if (!ok) printf("#   failed at %s:%d\n", file, line);
    fflush(stdout);
}

#define TAP_OK(cond, ...) tap_report(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* Skips the whole program. Under meson's TAP protocol a skip is the plan
 * "1..0 # SKIP reason" with exit status 0 (a non-zero status, 77 included,
 * counts as an error there). */
#define TAP_SKIP_ALL(reason)                 \
    do {                                     \
        printf("1..0 # SKIP %s\n", reason);  \
        exit(0);                             \
    } while (0)

static int tap_done(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}

#endif

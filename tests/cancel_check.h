/* What tests/test_cancel.c and tests/test_cancel_torch.c share: the
 * progress callback that counts its calls and cancels on one of them, and
 * the judgement of a cancelled run (white-box: bw_alloc_live, lib/alloc.c).
 * A cancelled run must return CANCELLED with a message saying "cancelled",
 * leave its outputs untouched (the caller says whether they are), free
 * every block it allocated and leave no file in the test's working
 * directory (the scratch directory of tests/tmpdir.h). Include after
 * "tap.h", "internal.h" and "tmpdir.h". */
#ifndef BARLOW_TESTS_CANCEL_CHECK_H
#define BARLOW_TESTS_CANCEL_CHECK_H

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the callback: counts calls, cancels on call `stop_at` ----------------- */

typedef struct counter {
    size_t calls, stop_at, last_done, last_total;
} counter;

static int on_progress(size_t done, size_t total, void *user)
{
    counter *c = user;
    c->calls++;
    c->last_done = done;
    c->last_total = total;
    return c->calls == c->stop_at;
}

/* ---- judging a cancelled run -------------------------------------------------- */

/* Entries of the scratch directory (the test's working directory). */
static int cc_entries(void)
{
    DIR *d = opendir(".");
    if (!d) return 1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

typedef struct tally {
    size_t points, cancels, clean, wrong, no_msg, touched, leaks, files;
} tally;

/* Whether the message says the run was cancelled: read right after the
 * run, before other library calls replace the message. */
static bool cc_said_cancelled(void) { return msg_has("cancelled"); }

/* Counts one run that the callback cancelled on call k (c: its counter):
 * status st, `said` cc_said_cancelled() right after the run, `touched`
 * whether an output was written, `live` the live block count before the
 * run (the run's results already released). */
static void cc_judge(tally *t, const char *name, size_t k, const counter *c, barlow_status st,
                     bool said, bool touched, long live)
{
    bool wrong = st != BARLOW_E_CANCELLED, no_msg = !said;
    bool leak = bw_alloc_live() != live;
    bool files = cc_entries() != 0;
    t->cancels++;
    t->wrong += wrong;
    t->no_msg += no_msg;
    t->touched += touched;
    t->leaks += leak;
    t->files += files;
    t->clean += !wrong && !no_msg && !touched && !leak && !files;
    if ((wrong || no_msg || touched || leak || files) && getenv("CANCEL_VERBOSE"))
        printf("# %s k=%zu (done %zu/%zu): status %d, touched %d, leak %d (%s)\n", name, k,
               c->last_done, c->last_total, st, touched, leak, barlow_last_error());
}

#endif

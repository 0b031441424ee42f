/* The bad-input harness: one table per public header, one row per bad
 * input to a function that returns a status (docs/reliability.md, "Bad
 * input"). Each case checks the five promises of docs/conventions.md:
 *   1. the documented status;
 *   2. a non-empty barlow_last_error() that names the problem: it holds the
 *      function's name and a substring the case gives (the argument, the
 *      value or the file);
 *   3. out-parameters untouched (the case compares them with sentinels);
 *   4. nothing leaked: the library's live heap bytes (lib/alloc.c) are the
 *      same before the bad call and after it, once the case has freed what
 *      it created (bi_mark(), or the end of the case when it does not
 *      call it: a valid call after it may rightly grow a handle, e.g. an
 *      .npz writer's member list or a selector's cache);
 *   5. the handle still works: the case makes a valid call right after.
 * A case runs in a child process (fork), so a crash is counted, not fatal;
 * a case that runs longer than BI_TIMEOUT_S seconds (a read that blocks on
 * a FIFO) is killed and counted as a crash too. BADINPUT_NOFORK=1 in the
 * environment runs cases in-process (for a debugger, and for libtorch,
 * whose thread pools do not survive fork).
 *
 *   BI_CASE(&bi, "barlow_matrix_load_npy", "NULL path", BARLOW_E_INVALID_ARG,
 *           "path") {
 *       barlow_matrix *m = BI_SENTINEL;
 *       BI_BAD(&bi, barlow_matrix_load_npy(NULL, &m)); // status and message
 *       bi.untouched = m == BI_SENTINEL;
 *       bi.works = 1;                  // no handle: nothing to re-check
 *   }
 *
 * A function that documents that it never sets a message (an int-returning
 * probe) is checked with a message set beforehand by another call: the case
 * sets bi.st itself (BARLOW_OK for the documented return value) and the
 * needle is that earlier message, which must still be there; such a case
 * sets bi.fn_needle = NULL (the message names the earlier function). A
 * case that runs several functions (open, add, commit) sets bi.fn_needle to
 * the part of the name they share.
 *
 * bi.nofork = 1 after bi_begin runs one table in-process whatever the
 * environment says (libtorch).
 *
 * bi_begin(&bi, "matrix.h") starts a header's table, bi_end(&bi) prints its
 * TAP summary line and appends its row to the Markdown table named by the
 * environment variable BADINPUT_TABLE (when set). Every case is also one
 * TAP test point. Include after "tap.h" and "internal.h". */
#ifndef BARLOW_TESTS_BADINPUT_H
#define BARLOW_TESTS_BADINPUT_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BI_SENTINEL ((void *)(uintptr_t)0x5e17e1)
#define BI_MSG_CAP 512
#define BI_MAX_FUNCTIONS 64
#ifndef BI_TIMEOUT_S
#define BI_TIMEOUT_S 20
#endif

typedef struct bi_table {
    const char *header;
    /* the running case */
    const char *fn, *input, *needle;
    barlow_status expect;
    barlow_status st;     /* set by BI_BAD in the case body */
    char msg[BI_MSG_CAP]; /* barlow_last_error() right after the bad call */
    int untouched;        /* set by the case body: out-parameters kept */
    int works;            /* set by the case body: the valid call after it worked */
    const char *fn_needle; /* the message must hold this (fn by default; NULL: none) */
    long long bytes0, bytes1; /* live bytes at the start, and at bi_mark() */
    int marked;
    int in_child, nofork;
    /* the table's tallies */
    size_t cases, status_ok, msg_ok, untouched_ok, works_ok, crashes;
    size_t failed; /* cases that failed */
    long long leaked;
    size_t functions;
    const char *seen[BI_MAX_FUNCTIONS]; /* the distinct functions */
} bi_table;

/* What a child reports to its parent: one fixed-size record on a pipe. */
typedef struct bi_result {
    int status_ok, msg_ok, untouched, works;
    long long leaked;
    int st;
    char msg[BI_MSG_CAP];
} bi_result;

static void bi_begin(bi_table *t, const char *header)
{
    memset(t, 0, sizeof *t);
    t->header = header;
    const char *e = getenv("BADINPUT_NOFORK");
    t->nofork = e && *e == '1';
    bw_alloc_fail_set(0, 0); /* start counting live bytes */
}

static void bi_count_function(bi_table *t)
{
    for (size_t k = 0; k < t->functions; k++)
        if (strcmp(t->seen[k], t->fn) == 0) return;
    if (t->functions < BI_MAX_FUNCTIONS) t->seen[t->functions++] = t->fn;
}

/* ws: the child's wait status (crashed), or 0. */
static void bi_record(bi_table *t, const bi_result *r, int crashed, int ws)
{
    t->cases++;
    bi_count_function(t);
    if (crashed) {
        t->crashes++;
        t->failed++;
        char why[64];
        if (WIFSIGNALED(ws))
            snprintf(why, sizeof why, "signal %d%s", WTERMSIG(ws),
                     WTERMSIG(ws) == SIGALRM ? ", timed out" : "");
        else if (WIFEXITED(ws))
            snprintf(why, sizeof why, "exit status %d", WEXITSTATUS(ws));
        else
            snprintf(why, sizeof why, "no report");
        TAP_OK(0, "%s: %s: %s -> crashed (%s)", t->header, t->fn, t->input, why);
        return;
    }
    t->status_ok += r->status_ok;
    t->msg_ok += r->msg_ok;
    t->untouched_ok += r->untouched;
    t->works_ok += r->works;
    t->leaked += r->leaked;
    int ok = r->status_ok && r->msg_ok && r->untouched && r->works && r->leaked == 0;
    t->failed += !ok;
    TAP_OK(ok, "%s: %s: %s -> %s (want %s)%s%s%s%s: %s", t->header, t->fn, t->input,
           barlow_status_str((barlow_status)r->st), barlow_status_str(t->expect),
           r->msg_ok ? "" : ", message lacks the culprit",
           r->untouched ? "" : ", an out-parameter was written",
           r->works ? "" : ", the handle failed after", r->leaked ? ", leaked" : "", r->msg);
}

/* Starts case fn/input. Returns 1 when the body is to run here (the child,
 * or in-process mode), 0 in the parent (which has recorded the result). */
static int bi_case_start(bi_table *t, const char *fn, const char *input,
                         barlow_status expect, const char *needle)
{
    t->fn = fn;
    t->input = input;
    t->expect = expect;
    t->needle = needle;
    t->st = BARLOW_OK;
    t->msg[0] = '\0';
    t->untouched = 0;
    t->works = 0;
    t->fn_needle = fn;
    t->marked = 0;
    fflush(stdout);
    if (t->nofork) {
        t->bytes0 = bw_alloc_live_bytes();
        return 1;
    }
    int fd[2];
    if (pipe(fd) != 0) abort();
    pid_t pid = fork();
    if (pid < 0) abort();
    if (pid == 0) {
        close(fd[0]);
        alarm(BI_TIMEOUT_S); /* a case that blocks is killed: a crash */
        t->in_child = fd[1];
        t->bytes0 = bw_alloc_live_bytes();
        return 1;
    }
    close(fd[1]);
    bi_result r;
    memset(&r, 0, sizeof r);
    size_t got = 0;
    while (got < sizeof r) {
        ssize_t k = read(fd[0], (char *)&r + got, sizeof r - got);
        if (k <= 0) break;
        got += (size_t)k;
    }
    close(fd[0]);
    int ws = 0;
    waitpid(pid, &ws, 0);
    int crashed = got != sizeof r || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0;
    bi_record(t, &r, crashed, ws);
    return 0;
}

/* Makes a message one printable TAP line: control characters become
 * spaces, bytes that are not UTF-8 (a message may quote the bad input)
 * become '?'. */
static void bi_printable(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        if (*p < 0x20 || *p == 0x7f) {
            *p++ = ' ';
            continue;
        }
        if (*p < 0x80) {
            p++;
            continue;
        }
        int n = *p >= 0xc2 && *p <= 0xdf ? 1 : *p >= 0xe0 && *p <= 0xef ? 2
              : *p >= 0xf0 && *p <= 0xf4 ? 3 : -1;
        int ok = n > 0;
        for (int k = 1; ok && k <= n; k++) ok = (p[k] & 0xc0) == 0x80;
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += n + 1;
    }
}

/* Ends the body: judges it and, in a child, reports and exits. */
static void bi_case_end(bi_table *t)
{
    bi_result r;
    memset(&r, 0, sizeof r);
    const char *m = t->msg;
    r.st = t->st;
    r.status_ok = t->st == t->expect;
    r.msg_ok = m[0] != '\0' && (!t->needle || strstr(m, t->needle) != NULL) &&
               (!t->fn_needle || strstr(m, t->fn_needle) != NULL);
    r.untouched = t->untouched;
    r.works = t->works;
    r.leaked = (t->marked ? t->bytes1 : bw_alloc_live_bytes()) - t->bytes0;
    snprintf(r.msg, sizeof r.msg, "%s", m);
    bi_printable(r.msg);
    if (t->in_child) {
        const char *p = (const char *)&r;
        size_t done = 0;
        while (done < sizeof r) {
            ssize_t w = write(t->in_child, p + done, sizeof r - done);
            if (w <= 0) _exit(1);
            done += (size_t)w;
        }
        _exit(0);
    }
    bi_record(t, &r, 0, 0);
}

/* The bad call is over and what the case made is freed: the live bytes
 * now are the case's leak (a valid call on the handle comes next). */
static inline void bi_mark(bi_table *t)
{
    t->bytes1 = bw_alloc_live_bytes();
    t->marked = 1;
}

/* Runs the bad call: keeps its status and barlow_last_error() (so that the
 * valid call after it may set its own). */
#define BI_BAD(t, call)                                               \
    do {                                                              \
        (t)->st = (call);                                             \
        snprintf((t)->msg, sizeof (t)->msg, "%s", barlow_last_error()); \
    } while (0)

#define BI_CASE(t, fn, input, expect, needle)                                  \
    for (int bi_once_ = bi_case_start((t), (fn), (input), (expect), (needle)); \
         bi_once_; bi_once_ = 0, bi_case_end(t))

static int bi_end(bi_table *t)
{
    int all = t->status_ok == t->cases && t->msg_ok == t->cases &&
              t->untouched_ok == t->cases && t->works_ok == t->cases && t->crashes == 0 &&
              t->leaked == 0;
    printf("# %s: %zu functions, %zu cases: %zu with the documented status, %zu messages "
           "naming the problem, %zu with outputs untouched, %zu handles working after, "
           "%zu crashes, %lld bytes leaked\n",
           t->header, t->functions, t->cases, t->status_ok, t->msg_ok, t->untouched_ok,
           t->works_ok, t->crashes, t->leaked);
    TAP_OK(all, "%s: every bad input handled as documented", t->header);
    const char *path = getenv("BADINPUT_TABLE");
    if (path && *path) {
        FILE *f = fopen(path, "a");
        if (f) {
            fprintf(f, "| `%s` | %zu | %zu | %zu | %zu | %zu | %zu | %zu | %lld |\n", t->header,
                    t->functions, t->cases, t->status_ok, t->msg_ok, t->untouched_ok,
                    t->works_ok, t->crashes, t->leaked);
            fclose(f);
        }
    }
    return all;
}

#endif

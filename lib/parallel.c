/* bw_parallel_for: a dynamic work-sharing loop over pthreads. Items are
 * claimed one at a time from an atomic counter; outputs are per item, so the
 * result never depends on the number of threads. Progress callbacks run on
 * the calling thread only. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "internal.h"

typedef struct bw_loop {
    size_t n;
    bw_item_fn fn;
    void *ctx;
    atomic_size_t next;
    atomic_int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t done;       /* items finished (under mu) */
    size_t err_item;   /* smallest item index that failed (under mu) */
    int err;           /* its return value */
} bw_loop;

typedef struct bw_worker_arg {
    bw_loop *loop;
    size_t worker;
} bw_worker_arg;

/* Runs one item; returns false when there is nothing left to claim. */
static bool bw_loop_step(bw_loop *L, size_t worker)
{
    if (atomic_load(&L->stop)) return false;
    size_t i = atomic_fetch_add(&L->next, 1);
    if (i >= L->n) return false;
    int rc = L->fn(L->ctx, i, worker);
    pthread_mutex_lock(&L->mu);
    L->done++;
    if (rc != 0) {
        if (L->err == 0 || i < L->err_item) {
            L->err = rc;
            L->err_item = i;
        }
        atomic_store(&L->stop, 1);
    }
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
    return true;
}

static void *bw_worker_main(void *arg)
{
    bw_worker_arg *wa = arg;
    while (bw_loop_step(wa->loop, wa->worker)) {
    }
    return NULL;
}

int bw_parallel_for(size_t n, size_t threads, bw_item_fn fn, void *ctx,
                    barlow_progress_fn progress, void *progress_user)
{
    if (n == 0) return 0;
    bw_loop L = {.n = n, .fn = fn, .ctx = ctx, .err_item = (size_t)-1};
    atomic_init(&L.next, 0);
    atomic_init(&L.stop, 0);
    pthread_mutex_init(&L.mu, NULL);
    pthread_cond_init(&L.cv, NULL);

    size_t nt = bw_resolve_threads(threads, n);
    pthread_t *tids = NULL;
    bw_worker_arg *args = NULL;
    size_t started = 0;
    if (nt > 1) {
        tids = bw_mallocn(nt - 1, sizeof *tids, "worker threads");
        args = bw_mallocn(nt - 1, sizeof *args, "worker threads");
        if (tids && args) {
            for (size_t t = 1; t < nt; t++) {
                args[started] = (bw_worker_arg){&L, t};
                if (pthread_create(&tids[started], NULL, bw_worker_main, &args[started]) != 0)
                    break;
                started++;
            }
        }
    }

    bool cancelled = false;
    size_t reported = 0;
    /* The calling thread works too, reporting progress between its items. */
    for (;;) {
        bool more = bw_loop_step(&L, 0);
        if (progress) {
            pthread_mutex_lock(&L.mu);
            size_t d = L.done;
            pthread_mutex_unlock(&L.mu);
            if (d != reported) {
                reported = d;
                if (progress(d, n, progress_user) != 0) {
                    cancelled = true;
                    atomic_store(&L.stop, 1);
                    break;
                }
            }
        }
        if (!more) break;
    }
    /* Wait for the other workers, still reporting progress as items finish. */
    if (progress && !cancelled) {
        pthread_mutex_lock(&L.mu);
        size_t claimed = atomic_load(&L.next);
        if (claimed > n) claimed = n;
        while (L.done < claimed && !cancelled) {
            pthread_cond_wait(&L.cv, &L.mu);
            if (L.done != reported) {
                reported = L.done;
                pthread_mutex_unlock(&L.mu);
                if (progress(reported, n, progress_user) != 0) {
                    cancelled = true;
                    atomic_store(&L.stop, 1);
                }
                pthread_mutex_lock(&L.mu);
            }
        }
        pthread_mutex_unlock(&L.mu);
    }
    for (size_t t = 0; t < started; t++) pthread_join(tids[t], NULL);
    bw_free(tids);
    bw_free(args);
    pthread_mutex_destroy(&L.mu);
    pthread_cond_destroy(&L.cv);
    if (L.err != 0) return L.err;
    if (cancelled) return BARLOW_E_CANCELLED;
    return 0;
}

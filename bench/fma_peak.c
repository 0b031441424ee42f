/* This machine's FP32 multiply-add peak, for the extraction benchmark's
 * "share of the peak bound": every thread runs independent chains of
 * vector multiply-adds that stay in registers (no memory traffic), with the
 * widest instructions the CPU has (AVX-512F, else AVX2+FMA, else SSE
 * multiply and add). Prints {"isa": ..., "threads": N, "gflops": G}.
 *
 *   bench/fma_peak [THREADS]      (default: every CPU)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <barlow/barlow.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

enum { CHAINS = 12, ROUNDS = 1 << 20 };
_Static_assert(CHAINS == 12, "the unroll pragmas below say 12");

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Each kernel runs ROUNDS rounds of CHAINS independent multiply-adds on
 * `lanes`-wide vectors and returns a value depending on all of them (so that
 * none is optimised away); flops per call = 2 * CHAINS * lanes * ROUNDS. */
#if HAVE_X86
/* One kernel per vector width: TYPE, its intrinsics' prefix PFX (_mm512 /
 * _mm256) and the target attribute that enables them. */
#define FMA_KERNEL(NAME, TARGET, TYPE, PFX, LANES)                                  \
    __attribute__((target(TARGET))) static float NAME(float seed)                  \
    {                                                                              \
        TYPE acc[CHAINS], a = PFX##_set1_ps(0.999999f), b = PFX##_set1_ps(1e-7f);  \
        for (int c = 0; c < CHAINS; c++) acc[c] = PFX##_set1_ps(seed + (float)c);  \
        for (long r = 0; r < ROUNDS; r++)                                          \
            _Pragma("GCC unroll 12") for (int c = 0; c < CHAINS; c++) acc[c] =     \
                PFX##_fmadd_ps(acc[c], a, b);                                      \
        TYPE s = acc[0];                                                           \
        for (int c = 1; c < CHAINS; c++) s = PFX##_add_ps(s, acc[c]);              \
        float out[LANES], sum = 0;                                                 \
        PFX##_storeu_ps(out, s);                                                   \
        for (int l = 0; l < LANES; l++) sum += out[l];                             \
        return sum;                                                                \
    }
FMA_KERNEL(kernel_avx512, "avx512f", __m512, _mm512, 16)
FMA_KERNEL(kernel_avx2, "avx2,fma", __m256, _mm256, 8)
#endif

static float kernel_scalar4(float seed)
{
    float acc[CHAINS][4];
    for (int c = 0; c < CHAINS; c++)
        for (int l = 0; l < 4; l++) acc[c][l] = seed + (float)c;
    for (long r = 0; r < ROUNDS; r++)
#pragma GCC unroll 12
        for (int c = 0; c < CHAINS; c++)
#pragma GCC unroll 4
            for (int l = 0; l < 4; l++) acc[c][l] = acc[c][l] * 0.999999f + 1e-7f;
    float s = 0;
    for (int c = 0; c < CHAINS; c++)
        for (int l = 0; l < 4; l++) s += acc[c][l];
    return s;
}

typedef struct {
    float (*kernel)(float);
    int calls;
    float result;
} job;

static void *worker(void *arg)
{
    job *j = arg;
    float s = 0;
    for (int i = 0; i < j->calls; i++) s += j->kernel((float)i);
    j->result = s;
    return NULL;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : (int)barlow_cpu_count();
    if (threads < 1 || threads > 1024) {
        fprintf(stderr, "usage: fma_peak [THREADS 1..1024]\n");
        return 2;
    }
    float (*kernel)(float) = kernel_scalar4;
    const char *isa = "sse";
    int lanes = 4;
#if HAVE_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        kernel = kernel_avx512;
        isa = "avx512f";
        lanes = 16;
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        kernel = kernel_avx2;
        isa = "avx2+fma";
        lanes = 8;
    }
#endif
    kernel(0.0f); /* warm up: clocks, code */
    /* calibrate one call; each trial runs every thread for about a second */
    double t0 = now();
    kernel(1.0f);
    double per_call = now() - t0;
    int calls = per_call > 0 ? (int)(1.0 / per_call) + 1 : 100;
    job *jobs = calloc((size_t)threads, sizeof *jobs);
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    if (!jobs || !tid) return 1;
    /* the peak is the best of five trials (a shared or throttled machine
     * only ever makes a trial slower) */
    double best = 0;
    float sink = 0;
    for (int trial = 0; trial < 5; trial++) {
        t0 = now();
        for (int t = 0; t < threads; t++) {
            jobs[t] = (job){kernel, calls, 0.0f};
            if (pthread_create(&tid[t], NULL, worker, &jobs[t]) != 0) return 1;
        }
        for (int t = 0; t < threads; t++) {
            pthread_join(tid[t], NULL);
            sink += jobs[t].result;
        }
        double gflops = 2.0 * CHAINS * lanes * (double)ROUNDS * calls * threads /
                        (now() - t0) / 1e9;
        if (gflops > best) best = gflops;
    }
    printf("{\"isa\": \"%s\", \"threads\": %d, \"gflops\": %.1f, \"check\": %g}\n", isa,
           threads, best, (double)sink);
    free(jobs);
    free(tid);
    return 0;
}

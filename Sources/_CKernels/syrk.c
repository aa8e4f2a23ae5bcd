// The Gram matrix C = alpha A A^T + beta C (lower triangle) of a column-major
// n x k matrix A with AVX-512 registers, for the machines where OpenBLAS runs
// narrower kernels than the CPU has (OpenBLAS 0.3.21 picks its AVX2 Haswell
// kernels on AMD Zen 5, whose 512-bit FMA units then run at half rate).
//
// Method (the GotoBLAS/BLIS layering, specialised to A A^T): for each panel
// of KC columns of A, the rows a thread needs are packed once into slivers
// of 8 rows (sliver s holds A[r0 + 8s + i, p0 + p] at s*8*KC + 8p + i, rows
// past n zero), widened from float32 when A is float32. Both operands of the
// product come from that one packed panel: a 24 x 8 tile of C at rows i0,
// columns j0 is the sum over p of the 24-vector A[i0:i0+24, p] (three
// consecutive slivers) times the 8 scalars A[j0:j0+8, p] (one sliver),
// accumulated in 24 zmm registers (3 loads and 8 broadcasts per 24 FMAs).
// Rows go in blocks of MC (the A block stays in L2 while every column sliver
// of the thread passes it); tiles wholly above the diagonal are skipped and
// tiles that cross it are written through a mask (i >= j, i < n). Every
// product and sum is in double; the order of the sum over p is fixed (panel
// by panel, p increasing), independent of the thread count.
//
// Threads: thread t owns the columns [bound[t], bound[t + 1]) (multiples of
// 8, equal areas of the triangle) and packs the rows from bound[t] down on
// its own, so threads never wait for each other; the overlap costs one extra
// read of the shared rows per panel, ~1/(2 KC / 8) of the flops' time.
// Cost: n (n + 1) k flops, the packing ~n k reads per thread.

#include "kernels.h"
#include "level.h"
#include "threads.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SK_NR 8
#define SK_MR 24
#ifndef SK_KC
#define SK_KC 384
#endif
#ifndef SK_MC
#define SK_MC 288
#endif
#define SK_MAX_THREADS MUSO_MAX_PARTS

// Rows padded to whole 24-row slivers.
static size_t sk_padded(size_t rows) { return (rows + SK_MR - 1) / SK_MR * SK_MR; }

// The threads to run (at most `threads`, one per 64 rows of C) and their
// column bounds: equal areas of the triangle, bound t at n (1 - sqrt(1 - t / T))
// rounded down to 8. Returns the count.
static size_t sk_plan(size_t threads, size_t n, size_t bound[SK_MAX_THREADS + 1]) {
    size_t want = threads < 1 ? 1 : threads;
    if (want > SK_MAX_THREADS) want = SK_MAX_THREADS;
    if (want > n / 64) want = n / 64 > 0 ? n / 64 : 1; // small triangles: not worth a thread
    bound[0] = 0;
    for (size_t t = 1; t < want; t++) {
        size_t b = (size_t)((double)n * (1.0 - __builtin_sqrt(1.0 - (double)t / (double)want))) / 8 * 8;
        bound[t] = b < bound[t - 1] ? bound[t - 1] : b;
    }
    bound[want] = n;
    return want;
}

// Doubles of the packing buffers for panels of kc columns, with room to align
// each thread's buffer to 64 bytes.
static size_t sk_workspace(size_t want, const size_t *bound, size_t n, size_t kc) {
    size_t total = 0;
    for (size_t t = 0; t < want; t++) total += sk_padded(n - bound[t]) * kc + 8;
    return total;
}

#if defined(__x86_64__)
#include <immintrin.h>

#define SK_AVX512 __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma")))
#define SK_INLINE static inline __attribute__((always_inline))

typedef struct {
    const void *a;
    int single; // A is float32
    size_t n, k, lda, ldc;
    double alpha, beta;
    double *c;
    size_t bound[SK_MAX_THREADS + 1];
    double *buffer[SK_MAX_THREADS];
} sk_job;

// Rows [r0, r0 + rows) x columns [p0, p0 + kc) of A into 8-row slivers, rows
// past `rows` (up to `padded`) zero. Column by column: each column's rows
// are one contiguous read, each sliver write one aligned 64-byte line.
static SK_AVX512 void sk_pack(const sk_job *j, size_t r0, size_t rows, size_t padded,
                              size_t p0, size_t kc, double *restrict out) {
    const size_t full = rows / 8, tail = rows % 8, stride = 8 * kc;
    const __mmask8 tail_mask = (__mmask8)((1u << tail) - 1);
    for (size_t p = 0; p < kc; p++) {
        double *o = out + 8 * p;
        if (j->single) {
            const float *col = (const float *)j->a + r0 + (p0 + p) * j->lda;
            for (size_t s = 0; s < full; s++)
                _mm512_store_pd(o + s * stride, _mm512_cvtps_pd(_mm256_loadu_ps(col + 8 * s)));
            if (tail) _mm512_store_pd(o + full * stride, _mm512_cvtps_pd(_mm256_maskz_loadu_ps(tail_mask, col + 8 * full)));
        } else {
            const double *col = (const double *)j->a + r0 + (p0 + p) * j->lda;
            for (size_t s = 0; s < full; s++) _mm512_store_pd(o + s * stride, _mm512_loadu_pd(col + 8 * s));
            if (tail) _mm512_store_pd(o + full * stride, _mm512_maskz_loadu_pd(tail_mask, col + 8 * full));
        }
        for (size_t s = full + (tail ? 1 : 0); s < padded / 8; s++) _mm512_store_pd(o + s * stride, _mm512_setzero_pd());
    }
}

#define SK_ACC(r) __m512d r##0 = _mm512_setzero_pd(), r##1 = r##0, r##2 = r##0, r##3 = r##0, \
                          r##4 = r##0, r##5 = r##0, r##6 = r##0, r##7 = r##0
#define SK_FMA(jj)                                             \
    y = _mm512_set1_pd(b[8 * p + jj]);                         \
    u##jj = _mm512_fmadd_pd(x0, y, u##jj);                     \
    v##jj = _mm512_fmadd_pd(x1, y, v##jj);                     \
    w##jj = _mm512_fmadd_pd(x2, y, w##jj)
#define SK_OUT(jj)                                             \
    acc[3 * jj] = u##jj; acc[3 * jj + 1] = v##jj; acc[3 * jj + 2] = w##jj

// The 24 x 8 tile sum_p A[rows, p] A[cols, p]^T over one panel: `a` is the
// first of three row slivers (`as` apart), `b` the column sliver. acc[3 j + r]
// holds rows 8r .. 8r + 7 of tile column j.
SK_INLINE SK_AVX512 void sk_tile(size_t kc, const double *restrict a, size_t as,
                                 const double *restrict b, __m512d acc[24]) {
    SK_ACC(u); SK_ACC(v); SK_ACC(w);
    const double *a0 = a, *a1 = a + as, *a2 = a + 2 * as;
    for (size_t p = 0; p < kc; p++) {
        const __m512d x0 = _mm512_load_pd(a0 + 8 * p), x1 = _mm512_load_pd(a1 + 8 * p),
                      x2 = _mm512_load_pd(a2 + 8 * p);
        __m512d y;
        SK_FMA(0); SK_FMA(1); SK_FMA(2); SK_FMA(3);
        SK_FMA(4); SK_FMA(5); SK_FMA(6); SK_FMA(7);
    }
    SK_OUT(0); SK_OUT(1); SK_OUT(2); SK_OUT(3);
    SK_OUT(4); SK_OUT(5); SK_OUT(6); SK_OUT(7);
}

// C[i0:i0+24, j0:j0+8] = alpha tile + beta C (beta == 0: C is not read),
// only the entries with i >= j and i, j < n.
static SK_AVX512 void sk_write(const sk_job *j, size_t i0, size_t j0, double beta, const __m512d acc[24]) {
    const size_t n = j->n, ldc = j->ldc;
    const __m512d alpha = _mm512_set1_pd(j->alpha), bv = _mm512_set1_pd(beta);
    double *c = j->c + i0 + j0 * ldc;
    if (i0 >= j0 + 7 && i0 + SK_MR <= n && j0 + SK_NR <= n) {
        for (size_t q = 0; q < 8; q++) {
            double *col = c + q * ldc;
            for (size_t r = 0; r < 3; r++) {
                __m512d value = _mm512_mul_pd(alpha, acc[3 * q + r]);
                if (beta != 0) value = _mm512_fmadd_pd(bv, _mm512_loadu_pd(col + 8 * r), value);
                _mm512_storeu_pd(col + 8 * r, value);
            }
        }
        return;
    }
    double tile[SK_MR * SK_NR] __attribute__((aligned(64)));
    for (size_t q = 0; q < 24; q++) _mm512_store_pd(tile + 8 * q, acc[q]);
    for (size_t q = 0; q < 8 && j0 + q < n; q++) {
        double *col = c + q * ldc;
        const size_t first = j0 + q > i0 ? j0 + q - i0 : 0;
        for (size_t r = first; r < SK_MR && i0 + r < n; r++) {
            const double value = j->alpha * tile[24 * q + r];
            col[r] = beta != 0 ? beta * col[r] + value : value;
        }
    }
}

static SK_AVX512 void sk_range(sk_job *j, size_t t) {
    const size_t lo = j->bound[t], hi = j->bound[t + 1];
    if (lo >= hi) return;
    const size_t rows = j->n - lo, padded = sk_padded(rows);
    double *buf = j->buffer[t];
    __m512d acc[24];
    for (size_t p0 = 0; p0 < j->k; p0 += SK_KC) {
        const size_t kc = j->k - p0 < SK_KC ? j->k - p0 : SK_KC, stride = 8 * kc;
        const double beta = p0 == 0 ? j->beta : 1.0;
        sk_pack(j, lo, rows, padded, p0, kc, buf);
        for (size_t ic = 0; ic < padded; ic += SK_MC) {
            const size_t ic_end = ic + SK_MC < padded ? ic + SK_MC : padded;
            for (size_t j0 = lo; j0 < hi && j0 < lo + ic_end; j0 += SK_NR) {
                const double *b = buf + (j0 - lo) / 8 * stride;
                for (size_t ir = ic; ir < ic_end; ir += SK_MR) {
                    const size_t i0 = lo + ir;
                    if (i0 + SK_MR - 1 < j0 || i0 >= j->n) continue;
                    // The tile of C is read after the sum: fetch its lines now (the
                    // columns are ldc apart, no pattern the hardware prefetcher follows).
                    if (i0 + SK_MR <= j->n && j0 + SK_NR <= j->n) {
                        const double *cp = j->c + i0 + j0 * j->ldc;
                        for (size_t q = 0; q < SK_NR; q++) {
                            _mm_prefetch((const char *)(cp + q * j->ldc), _MM_HINT_T0);
                            _mm_prefetch((const char *)(cp + q * j->ldc + 8), _MM_HINT_T0);
                            _mm_prefetch((const char *)(cp + q * j->ldc + 16), _MM_HINT_T0);
                            _mm_prefetch((const char *)(cp + q * j->ldc + 23), _MM_HINT_T0);
                        }
                    }
                    sk_tile(kc, buf + ir / 8 * stride, stride, b, acc);
                    sk_write(j, i0, j0, beta, acc);
                }
            }
        }
    }
}

static void sk_part(void *job, size_t t) { sk_range(job, t); }

static int sk_gram(int level, size_t threads, int single, size_t n, size_t k, double alpha, const void *a,
                   size_t lda, double beta, double *c, size_t ldc, double *work, size_t work_len) {
    if (muso_effective_level(level) != MUSO_ISA_AVX512 || k == 0 || n == 0) return -1;
    sk_job job;
    job.a = a; job.single = single; job.n = n; job.k = k; job.lda = lda; job.ldc = ldc;
    job.alpha = alpha; job.beta = beta; job.c = c;
    const size_t want = sk_plan(threads, n, job.bound), kc = k < SK_KC ? k : SK_KC;
    // The packing buffers: carved from the caller's workspace when it is large
    // enough (64-byte aligned), allocated here otherwise.
    const int own = work == NULL || work_len < sk_workspace(want, job.bound, n, kc);
    for (size_t t = 0; t < want; t++) {
        const size_t doubles = sk_padded(n - job.bound[t]) * kc;
        if (!own) {
            work += (64 - ((uintptr_t)work & 63)) % 64 / sizeof(double);
            job.buffer[t] = work;
            work += doubles;
            continue;
        }
        job.buffer[t] = doubles == 0 ? NULL : aligned_alloc(64, doubles * sizeof(double));
        if (doubles != 0 && job.buffer[t] == NULL) {
            for (size_t q = 0; q < t; q++) free(job.buffer[q]);
            return -2;
        }
    }
    muso_run_parts(want, sk_part, &job);
    if (own) for (size_t t = 0; t < want; t++) free(job.buffer[t]);
    return 0;
}

#else
static int sk_gram(int level, size_t threads, int single, size_t n, size_t k, double alpha, const void *a,
                   size_t lda, double beta, double *c, size_t ldc, double *work, size_t work_len) {
    (void)level; (void)threads; (void)single; (void)n; (void)k; (void)alpha; (void)a;
    (void)lda; (void)beta; (void)c; (void)ldc; (void)work; (void)work_len;
    return -1;
}
#endif

size_t muso_gram_avx512_workspace(size_t threads, size_t n, size_t k) {
    size_t bound[SK_MAX_THREADS + 1];
    const size_t want = sk_plan(threads, n, bound);
    return sk_workspace(want, bound, n, k < SK_KC ? k : SK_KC);
}

int muso_gram_avx512(int level, size_t threads, size_t n, size_t k, double alpha, const double *a,
                     size_t lda, double beta, double *c, size_t ldc, double *work, size_t work_len) {
    return sk_gram(level, threads, 0, n, k, alpha, a, lda, beta, c, ldc, work, work_len);
}

int muso_gram_avx512_f32(int level, size_t threads, size_t n, size_t k, double alpha, const float *a,
                         size_t lda, double beta, double *c, size_t ldc, double *work, size_t work_len) {
    return sk_gram(level, threads, 1, n, k, alpha, a, lda, beta, c, ldc, work, work_len);
}

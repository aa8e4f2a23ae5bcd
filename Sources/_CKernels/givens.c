// A sequence of Givens rotations of adjacent columns applied to many rows:
// the bulk of deleting a row and column from a Cholesky factor.
//
// Row by row, (x_0, ..., x_g) becomes
//
//     for t = 0 .. g-1:  (x_t, x_{t+1}) <- (c_t x_t + s_t x_{t+1}, c_t x_{t+1} - s_t x_t)
//
// which rotates each column once (against twice for pairwise `drot`
// sweeps), so a group of g rotations reads and writes its g + 1 columns
// once. The source of a column may be its destination shifted down by one
// row (the deleted row is squeezed out in the same pass): each vector of
// rows is loaded before the rows it overwrites, in increasing order.
// Compiled for the baseline, AVX2+FMA and AVX-512F like the other kernels.

#include "kernels.h"
#include "level.h"

#include <string.h>

typedef double v8d __attribute__((vector_size(64)));

#define INLINE static inline __attribute__((always_inline))
#define LOAD8(p) ({ v8d v_; memcpy(&v_, (p), sizeof v_); v_; })
#define STORE8(p, v) do { v8d v_ = (v); memcpy((p), &v_, sizeof v_); } while (0)

// `nv` vectors of 8 rows from r, each an independent chain of rotations.
#define GIVENS_ROWS(nv)                                                                  \
    do {                                                                                 \
        v8d x[nv];                                                                       \
        for (int v = 0; v < nv; v++) x[v] = LOAD8(src[0] + r + 8 * v);                  \
        for (size_t t = 0; t < g; t++) {                                                 \
            double ct = c[t], st = s[t];                                                 \
            v8d y[nv];                                                                   \
            for (int v = 0; v < nv; v++) y[v] = LOAD8(src[t + 1] + r + 8 * v);           \
            for (int v = 0; v < nv; v++) {                                               \
                STORE8(dst[t] + r + 8 * v, ct * x[v] + st * y[v]);                       \
                x[v] = ct * y[v] - st * x[v];                                            \
            }                                                                            \
        }                                                                                \
        for (int v = 0; v < nv; v++) STORE8(dst[g] + r + 8 * v, x[v]);                   \
    } while (0)

INLINE void givens_body(size_t rows, size_t g, double *const *dst, const double *const *src,
                        const double *c, const double *s) {
    size_t r = 0;
    for (; r + 32 <= rows; r += 32) GIVENS_ROWS(4);
    for (; r + 8 <= rows; r += 8) GIVENS_ROWS(1);
    for (; r < rows; r++) {
        double x = src[0][r];
        for (size_t t = 0; t < g; t++) {
            double y = src[t + 1][r];
            dst[t][r] = c[t] * x + s[t] * y;
            x = c[t] * y - s[t] * x;
        }
        dst[g][r] = x;
    }
}

#define DEFINE_LEVEL(name, attributes)                                                        \
    static attributes void name##_givens(size_t rows, size_t g, double *const *dst,          \
                                         const double *const *src, const double *c,           \
                                         const double *s) {                                   \
        givens_body(rows, g, dst, src, c, s);                                                 \
    }

DEFINE_LEVEL(baseline, )
#if defined(__x86_64__)
DEFINE_LEVEL(avx2, __attribute__((target("avx2,fma"))))
DEFINE_LEVEL(avx512, __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))))
#endif

void muso_givens_rows(int level, size_t rows, size_t g, double *const *dst, const double *const *src,
                      const double *c, const double *s) {
    int l = muso_effective_level(level);
#if defined(__x86_64__)
    if (l == MUSO_ISA_AVX512) { avx512_givens(rows, g, dst, src, c, s); return; }
    if (l == MUSO_ISA_AVX2_FMA) { avx2_givens(rows, g, dst, src, c, s); return; }
#endif
    (void)l;
    baseline_givens(rows, g, dst, src, c, s);
}

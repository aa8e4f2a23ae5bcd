// Products of a tall panel of a column-major matrix with a few right-hand
// sides, the memory-bound level-3 shapes that general GEMMs run slowly
// (they pack the panel, i.e. copy it, before using it once):
//
//     Y   += A^T X      (A rows x cols, X rows x nrhs, Y cols x nrhs)   tn
//     Out += A Y        (A rows x cols, Y cols x nrhs, Out rows x nrhs) nn
//
// and, built from them, L (L^T X) restricted to a range of columns of a
// lower-triangular L, the a-posteriori check of the dual model.
//
// Both products stream A once from memory with the vector width of the CPU:
// tn keeps a 4 x 5 block of (column, rhs) dot products in vector
// accumulators, over steps of 32 rows of 16 columns side by side for 6 to
// 16 rhs (the step's slice of X in L1), over whole columns taken from the
// panel's four quarters side by side for float32 A with 1 to 5 rhs, and
// over chunks of 8192 rows otherwise (the chunk of A and X in L2 for the
// rhs groups); nn keeps a
// 32-row x 4-rhs block of Out in registers across a slice of 16 columns of
// A, slice after slice. The bodies are plain C on GCC/Clang vector types,
// compiled for the baseline, AVX2+FMA and AVX-512F like the sin/cos kernel.
// The vectors of A start at the first row where A's columns are aligned to
// the vector's size (tn_phase), whatever the buffer's address; the rows
// before it take the scalar path (nn) or the first lanes (tn). Sums are
// taken in a fixed order for a given level, whatever the alignment, so
// results are deterministic; they differ from BLAS in the last bits.

#include "kernels.h"
#include "level.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef double v8d __attribute__((vector_size(64)));
typedef float v8f __attribute__((vector_size(32)));
typedef long long v8l __attribute__((vector_size(64)));

#define INLINE static inline __attribute__((always_inline))

// Unaligned vector load and store, and the sum of the lanes, as macros so
// no vector crosses a function boundary (the ABI differs between levels).
#define LOAD8(p) ({ v8d v_; memcpy(&v_, (p), sizeof v_); v_; })
#define STORE8(p, v) do { v8d v_ = (v); memcpy((p), &v_, sizeof v_); } while (0)
#define LOADF8(p) ({ v8f f_; memcpy(&f_, (p), sizeof f_); __builtin_convertvector(f_, v8d); })
#define SUM8(v) (((v)[0] + (v)[4]) + ((v)[1] + (v)[5])) + (((v)[2] + (v)[6]) + ((v)[3] + (v)[7]))

// Rows per chunk of `tn`: long contiguous runs of each column keep the
// hardware prefetchers streaming (chunks of 512 rows, one 4 KB page per
// column, ran ~20% slower at n = 16000; at n = 8000 with 10 right-hand sides
// 1024-row chunks ran 1.2x slower than 8192); a 4-column group of 8192 rows
// (256 KB) stays in L2 for the next group of right-hand sides.
#define TN_CHUNK 8192

// The tiled tn for 6 to TN_TILE_RHS right-hand sides (the engine's theta
// update with C = 10 columns, the certificate's C + 1, the blocked
// triangular solves' <= 16): steps of 32 rows over groups of 16 columns.
// On an 8000 x 32000 Phi with 10 right-hand sides on 2 cores it took
// 0.11-0.14 s against 0.18-0.20 s for the chunked loop above, where
// one read of Phi took 0.09-0.11 s: the chunked loop re-reads each 4-column
// chunk from L2 for its second group of right-hand sides while memory
// idles, and loads the right-hand sides from L2; here a step's 32 x nrhs
// slice of X stays in L1 and 16 columns stream from memory side by side.
// Up to 5 right-hand sides (double A; float32 A goes by quarters, below)
// the chunked loop makes one pass per column group
// and is memory-bound: one right-hand side, streamed 12 columns at a time,
// read at 15.7 GB/s on one core against 13.7 for the tiled loop.
#define TN_TILE_ROWS 32
#define TN_TILE_COLS 16
#define TN_TILE_RHS 16
// How far ahead in each column the tiled tn asks for A (software prefetch,
// one line per 64 bytes of the step at that distance). Its 16 streams of 256
// bytes a step are more than the hardware prefetchers run far enough ahead
// of: on an 8000 x 32000 Phi with 10 right-hand sides on 2 cores (AMD EPYC,
// Zen 5) the loop took 0.092-0.105 s without, 0.066-0.078 s with 4 KB ahead
// (2 KB: 0.070-0.088, 6 KB: 0.071-0.095, 16 KB: 0.079-0.089), where one read
// of Phi took 0.03-0.05 s and the loop on data in L2 ran at 22 GB/s a core.
#define TN_PREFETCH_BYTES 4096

// Columns per slice of `nn`. A block of 32 rows across all columns of a
// 256-column panel of an 8000 x 8000 factor touches 256 columns 256 bytes
// each, more streams than the prefetchers follow: the forward solve's
// updates (one core, 10 right-hand sides) read the triangle at 3.4 GB/s.
// Slices of 12-16 columns read it at 6-7 GB/s, and at 13.8 GB/s with one
// right-hand side (5.6 before); 64-column slices at 5.2 and 8.7.
#define NN_COLS 16

// From this many columns the tiled tn reads X from an aligned copy when X is
// not aligned where A's vectors are: the copy is 1/cols of the work.
#define TN_COPY_COLUMNS 64

// The first row p < 8 from which the vectors of 8 entries of every column of
// a column-major A (leading dimension lda, entries of `size` bytes) start on
// a multiple of their own size, or 0 when lda does not keep the columns in
// step. Large Swift arrays start 48 bytes past a page, so without this every
// 64-byte load of a double column straddles two cache lines: the tiled tn
// ran its in-cache steps at 37 GFLOP/s on one core of the AMD EPYC (Zen 5)
// that way, against 56-58 aligned.
INLINE size_t tn_phase(const void *a, size_t lda, size_t size) {
    const size_t vb = 8 * size;
    if ((lda * size) % vb != 0 || (uintptr_t)a % size != 0) return 0;
    return ((vb - (uintptr_t)a % vb) % vb) / size;
}

// *v with its lanes turned so that lane l holds lane (l + 8 - p) mod 8: the
// tiled tn's lane j, which adds the rows = p + j mod 8, back to lane (p + j)
// mod 8 before the lanes are summed.
INLINE void tn_rotate(v8d *v, size_t p) {
    v8d w = *v;
    switch (p & 7) {
    case 1: w = __builtin_shufflevector(w, w, 7, 0, 1, 2, 3, 4, 5, 6); break;
    case 2: w = __builtin_shufflevector(w, w, 6, 7, 0, 1, 2, 3, 4, 5); break;
    case 3: w = __builtin_shufflevector(w, w, 5, 6, 7, 0, 1, 2, 3, 4); break;
    case 4: w = __builtin_shufflevector(w, w, 4, 5, 6, 7, 0, 1, 2, 3); break;
    case 5: w = __builtin_shufflevector(w, w, 3, 4, 5, 6, 7, 0, 1, 2); break;
    case 6: w = __builtin_shufflevector(w, w, 2, 3, 4, 5, 6, 7, 0, 1); break;
    case 7: w = __builtin_shufflevector(w, w, 1, 2, 3, 4, 5, 6, 7, 0); break;
    default: break;
    }
    *v = w;
}

// The rows of a panel that the tn kernels take in vectors, from the phase p0
// of its columns (tn_phase): p ..< p + vec, with p = p0 unless the panel
// has fewer whole vectors than that; the sums do not depend on p.
INLINE void tn_vector_rows(size_t rows, size_t p0, size_t *p, size_t *vec) {
    const size_t rows8 = rows / 8 * 8;
    *p = p0 > rows8 ? 0 : p0;
    *vec = (rows8 - *p) / 8 * 8;
}

#define NN_GROUPS(SUF, r, nv)                                                                       \
    do {                                                                                       \
        size_t k = 0;                                                                          \
        for (; k + 4 <= nrhs; k += 4) nn_block##SUF(r, nv, 4, cols, a, lda, y + k * ldy, ldy, out + k * ldo, ldo); \
        for (; k + 2 <= nrhs; k += 2) nn_block##SUF(r, nv, 2, cols, a, lda, y + k * ldy, ldy, out + k * ldo, ldo); \
        for (; k < nrhs; k++) nn_block##SUF(r, nv, 1, cols, a, lda, y + k * ldy, ldy, out + k * ldo, ldo);         \
    } while (0)

// The tn and nn bodies for an element type AT of A (double, or float
// widened to double on load: LOADA), named with the suffix SUF.
#define DEFINE_PANEL_BODIES(SUF, AT, LOADA, QUARTERS)                                               \
/* acc(c, k) += sum over rows [r0, r0 + len) of a[r + c lda] x[r + k ldx] for */                    \
/* c < cb, k < kb, the 8-lane partial sums kept in buf[c ldb + k] (len a */                         \
/* multiple of 8). */                                                                               \
INLINE void tn_step##SUF(int cb, int kb, size_t r0, size_t len, const AT *a, size_t lda,            \
                         const double *x, size_t ldx, v8d *buf, int ldb) {                          \
    v8d acc[4][5];                                                                                  \
    for (int c = 0; c < cb; c++)                                                                    \
        for (int k = 0; k < kb; k++) acc[c][k] = buf[c * ldb + k];                                  \
    for (size_t r = r0; r < r0 + len; r += 8) {                                                     \
        v8d av[4];                                                                                  \
        for (int c = 0; c < cb; c++) av[c] = LOADA(a + r + c * lda);                                \
        for (int k = 0; k < kb; k++) {                                                              \
            v8d xv = LOAD8(x + r + k * ldx);                                                        \
            for (int c = 0; c < cb; c++) acc[c][k] += av[c] * xv;                                   \
        }                                                                                           \
    }                                                                                               \
    for (int c = 0; c < cb; c++)                                                                    \
        for (int k = 0; k < kb; k++) buf[c * ldb + k] = acc[c][k];                                  \
}                                                                                                   \
                                                                                                    \
/* *out = the vector whose lane lane0 + i holds v[r0 + i] (widened) for */                          \
/* r0 + i < r1, and 0 elsewhere (r1 - r0 <= 8 - lane0). */                                          \
INLINE void tn_lanes##SUF(v8d *out, const AT *v, size_t r0, size_t r1, size_t lane0) {              \
    v8d z = {0};                                                                                    \
    for (size_t r = r0; r < r1; r++) z[lane0 + r - r0] = (double)v[r];                              \
    *out = z;                                                                                       \
}                                                                                                   \
                                                                                                    \
/* The partial sums' start, buf[c ldb + k] for c < cb, k < kb: the rows */                          \
/* before p, row r in lane r + 8 - p (each lane's first row), 0 elsewhere. */                       \
INLINE void tn_open##SUF(int cb, int kb, size_t p, const AT *a, size_t lda, const double *x, size_t ldx, \
                         v8d *buf, int ldb) {                                                       \
    v8d hx[TN_TILE_RHS];                                                                            \
    for (int k = 0; k < kb; k++) tn_lanes(&hx[k], x + k * ldx, 0, p, 8 - p);                        \
    for (int c = 0; c < cb; c++) {                                                                  \
        v8d ha;                                                                                     \
        tn_lanes##SUF(&ha, a + c * lda, 0, p, 8 - p);                                               \
        for (int k = 0; k < kb; k++) {                                                              \
            buf[c * ldb + k] = (v8d){0};                                                            \
            buf[c * ldb + k] += ha * hx[k];                                                         \
        }                                                                                           \
    }                                                                                               \
}                                                                                                   \
                                                                                                    \
/* y[c ycs + k ldy] += the partial sums of rows 0 ..< rows, whose vectors */                      \
/* ran over rows p ..< p + vec: the rows from p + vec to rows8 = rows / 8 * 8 */                    \
/* into lane (r - p) mod 8 (each lane's last rows), the lanes turned back */                        \
/* so that lane L holds the rows = L mod 8 and summed, then the scalar tail. */                     \
INLINE void tn_close##SUF(int cb, int kb, size_t rows, size_t p, size_t vec, const AT *a, size_t lda, \
                          const double *x, size_t ldx, const v8d *buf, int ldb, double *y, size_t ycs, size_t ldy) { \
    const size_t rows8 = rows / 8 * 8;                                                              \
    v8d tx[TN_TILE_RHS];                                                                            \
    v8l tail = {0};                                                                                 \
    for (size_t r = p + vec; r < rows8; r++) tail[r - p - vec] = -1;                                \
    for (int k = 0; k < kb; k++) tn_lanes(&tx[k], x + k * ldx, p + vec, rows8, 0);                  \
    for (int c = 0; c < cb; c++) {                                                                  \
        v8d ta;                                                                                     \
        tn_lanes##SUF(&ta, a + c * lda, p + vec, rows8, 0);                                         \
        for (int k = 0; k < kb; k++) {                                                              \
            v8d b = buf[c * ldb + k], more = b;                                                     \
            more += ta * tx[k];                                                                     \
            b = (v8d)(((v8l)more & tail) | ((v8l)b & ~tail));                                       \
            tn_rotate(&b, p);                                                                       \
            double s = SUM8(b);                                                                     \
            for (size_t t = rows8; t < rows; t++) s += a[t + c * lda] * x[t + k * ldx];             \
            y[c * ycs + k * ldy] += s;                                                              \
        }                                                                                           \
    }                                                                                               \
}                                                                                                   \
                                                                                                    \
/* y[c ycs + k ldy] += sum_r a[r + c lda] x[r + k ldx] for c < cb, k < kb. */                       \
INLINE void tn_block##SUF(size_t rows, int cb, int kb, const AT *a, size_t lda,                     \
                     const double *x, size_t ldx, double *y, size_t ycs, size_t ldy) {              \
    v8d buf[4 * 5];                                                                                 \
    size_t p, vec;                                                                                  \
    tn_vector_rows(rows, tn_phase(a, lda, sizeof(AT)), &p, &vec);                                   \
    tn_open##SUF(cb, kb, p, a, lda, x, ldx, buf, 5);                                                \
    tn_step##SUF(cb, kb, 0, vec, a + p, lda, x + p, ldx, buf, 5);                                   \
    tn_close##SUF(cb, kb, rows, p, vec, a, lda, x, ldx, buf, 5, y, ycs, ldy);                       \
}                                                                                                   \
                                                                                                    \
INLINE void tn_chunked##SUF(size_t rows, size_t cols, size_t nrhs, const AT *a, size_t lda,         \
                    const double *x, size_t ldx, double *y, size_t ldy) {                           \
    size_t chunk = TN_CHUNK;                                                                        \
    for (size_t r0 = 0; r0 < rows; r0 += chunk) {                                                   \
        size_t len = rows - r0 < chunk ? rows - r0 : chunk;                                         \
        const AT *ar = a + r0; const double *xr = x + r0;                                           \
        size_t c = 0;                                                                               \
        for (; c + 4 <= cols; c += 4) {                                                             \
            size_t k = 0;                                                                           \
            for (; k + 5 <= nrhs && nrhs != 8; k += 5) tn_block##SUF(len, 4, 5, ar + c * lda, lda, xr + k * ldx, ldx, y + c + k * ldy, 1, ldy); \
            for (; k + 4 <= nrhs; k += 4) tn_block##SUF(len, 4, 4, ar + c * lda, lda, xr + k * ldx, ldx, y + c + k * ldy, 1, ldy); \
            for (; k + 2 <= nrhs; k += 2) tn_block##SUF(len, 4, 2, ar + c * lda, lda, xr + k * ldx, ldx, y + c + k * ldy, 1, ldy); \
            for (; k < nrhs; k++) tn_block##SUF(len, 4, 1, ar + c * lda, lda, xr + k * ldx, ldx, y + c + k * ldy, 1, ldy); \
        }                                                                                           \
        for (; c < cols; c++) {                                                                     \
            size_t k = 0;                                                                           \
            for (; k + 4 <= nrhs; k += 4) tn_block##SUF(len, 1, 4, ar + c * lda, lda, xr + k * ldx, ldx, y + c + k * ldy, 1, ldy); \
            for (; k < nrhs; k++) tn_block##SUF(len, 1, 1, ar + c * lda, lda, xr + k * ldx, ldx, y + c + k * ldy, 1, ldy); \
        }                                                                                           \
    }                                                                                               \
}                                                                                                   \
                                                                                                    \
/* 1 to 5 right-hand sides in one group, whole columns (no chunks), four */                         \
/* columns at a time taken from the four quarters of the panel: columns c, */                       \
/* c + q, c + 2q and c + 3q (q = cols / 4), then the columns past 4q one by */                      \
/* one. Each (column, rhs) sum is that of tn_block over all rows. kb is a */                       \
/* constant at each call (tn_quarters below): with the count known at run */                        \
/* time only, the loops kept fewer sums in registers (one core, 2048 x 128 */                       \
/* float32 in cache, 1 to 5 rhs: 17-45 GFLOP/s against 24-75; 2 cores, */                           \
/* 8000 x 32000 from memory: 5-20% slower). */                                                      \
INLINE void tn_quarters_kb##SUF(size_t rows, size_t cols, int kb, const AT *a, size_t lda,          \
                                const double *x, size_t ldx, double *y, size_t ldy) {               \
    const size_t q = cols / 4;                                                                      \
    for (size_t c = 0; c < q; c++)                                                                  \
        tn_block##SUF(rows, 4, kb, a + c * lda, q * lda, x, ldx, y + c, q, ldy);                    \
    for (size_t c = 4 * q; c < cols; c++)                                                           \
        tn_block##SUF(rows, 1, kb, a + c * lda, lda, x, ldx, y + c, 1, ldy);                        \
}                                                                                                   \
                                                                                                    \
INLINE void tn_quarters##SUF(size_t rows, size_t cols, size_t nrhs, const AT *a, size_t lda,        \
                             const double *x, size_t ldx, double *y, size_t ldy) {                  \
    switch (nrhs) {                                                                                 \
    case 1: tn_quarters_kb##SUF(rows, cols, 1, a, lda, x, ldx, y, ldy); break;                      \
    case 2: tn_quarters_kb##SUF(rows, cols, 2, a, lda, x, ldx, y, ldy); break;                      \
    case 3: tn_quarters_kb##SUF(rows, cols, 3, a, lda, x, ldx, y, ldy); break;                      \
    case 4: tn_quarters_kb##SUF(rows, cols, 4, a, lda, x, ldx, y, ldy); break;                      \
    default: tn_quarters_kb##SUF(rows, cols, 5, a, lda, x, ldx, y, ldy); break;   /* 5 */           \
    }                                                                                               \
}                                                                                                   \
                                                                                                    \
/* Prefetches the TN_TILE_ROWS rows from row t of the group's columns at ag */                      \
/* (left: the columns from ag on), or, past the group's end, of the next */                         \
/* group's columns from row t - rows (rows counted on from the group's end). */                     \
INLINE void tn_prefetch##SUF(size_t t, size_t rows, size_t left, const AT *ag, size_t lda) {        \
    size_t cw = left < TN_TILE_COLS ? left : TN_TILE_COLS;                                          \
    if (t >= rows) {                                                                                \
        if (left <= TN_TILE_COLS) return;                                                           \
        t -= rows; ag += TN_TILE_COLS * lda; left -= TN_TILE_COLS;                                  \
        cw = left < TN_TILE_COLS ? left : TN_TILE_COLS;                                             \
        if (t >= rows) return;                                                                      \
    }                                                                                               \
    size_t end = t + TN_TILE_ROWS < rows ? t + TN_TILE_ROWS : rows;                                 \
    for (size_t c = 0; c < cw; c++)                                                                 \
        for (size_t r = t; r < end; r += 64 / sizeof(AT)) __builtin_prefetch(ag + c * lda + r, 0, 3); \
}                                                                                                   \
                                                                                                    \
/* 6 to TN_TILE_RHS right-hand sides: groups of TN_TILE_COLS columns, each */                       \
/* swept in steps of TN_TILE_ROWS rows (all its columns, then the next */                           \
/* rows), the partial sums of the group in buf. The step's slice of X stays */                      \
/* in L1 for all the group's columns, and the group's columns are read as */                        \
/* TN_TILE_COLS streams side by side. */                                                            \
/* The vectors start at row p, the first row where every column's vectors */                        \
/* are aligned (tn_phase), and X is read from an aligned copy when it is not */                     \
/* aligned there too and the columns reuse it enough (TN_COPY_COLUMNS). */                          \
/* The sums do not depend on p: lane L of a partial sum adds the rows = L */                        \
/* mod 8 below rows8 in increasing order (the rows before p first, the */                           \
/* rows after the vector part last, each by the same multiply-add into its */                       \
/* lane), the lanes are summed in a fixed order, then the scalar tail. */                           \
INLINE void tn_body##SUF(size_t rows, size_t cols, size_t nrhs, const AT *a, size_t lda,            \
                         const double *x, size_t ldx, double *y, size_t ldy) {                      \
    if (QUARTERS && nrhs >= 1 && nrhs <= 5) {                                                       \
        tn_quarters##SUF(rows, cols, nrhs, a, lda, x, ldx, y, ldy);                                 \
        return;                                                                                     \
    }                                                                                               \
    if (nrhs <= 5 || nrhs > TN_TILE_RHS) {                                                          \
        tn_chunked##SUF(rows, cols, nrhs, a, lda, x, ldx, y, ldy);                                  \
        return;                                                                                     \
    }                                                                                               \
    v8d buf[TN_TILE_COLS * TN_TILE_RHS];                                                            \
    const int nk = (int)nrhs;                                                                       \
    size_t p, vec;                                                                                  \
    tn_vector_rows(rows, tn_phase(a, lda, sizeof(AT)), &p, &vec);                                   \
    const double *xv = x + p;                                                                       \
    size_t ldxv = ldx;                                                                              \
    double *copy = NULL;                                                                            \
    if (vec > 0 && cols >= TN_COPY_COLUMNS && ((uintptr_t)xv % 64 != 0 || ldx % 8 != 0)) {          \
        copy = aligned_alloc(64, vec * nrhs * sizeof(double));   /* a multiple of 64 bytes */       \
        if (copy) {   /* without it the loads are unaligned: slower, the same sums */               \
            for (size_t k = 0; k < nrhs; k++) memcpy(copy + k * vec, xv + k * ldx, vec * sizeof(double)); \
            xv = copy;                                                                              \
            ldxv = vec;                                                                             \
        }                                                                                           \
    }                                                                                               \
    for (size_t c0 = 0; c0 < cols; c0 += TN_TILE_COLS) {                                            \
        const int cw = (int)(cols - c0 < TN_TILE_COLS ? cols - c0 : TN_TILE_COLS);                  \
        const AT *a0 = a + c0 * lda, *ag = a0 + p;                                                  \
        tn_open##SUF(cw, nk, p, a0, lda, x, ldx, buf, nk);                                          \
        for (size_t r0 = 0; r0 < vec; r0 += TN_TILE_ROWS) {                                         \
            size_t len = vec - r0 < TN_TILE_ROWS ? vec - r0 : TN_TILE_ROWS;                         \
            tn_prefetch##SUF(r0 + TN_PREFETCH_BYTES / sizeof(AT), rows - p, cols - c0, ag, lda);    \
            int c = 0;                                                                              \
            for (; c + 4 <= cw; c += 4) {                                                           \
                int k = 0;                                                                          \
                for (; k + 5 <= nk && nk != 8; k += 5)                                              \
                    tn_step##SUF(4, 5, r0, len, ag + c * lda, lda, xv + k * ldxv, ldxv, buf + c * nk + k, nk); \
                for (; k + 4 <= nk; k += 4)                                                         \
                    tn_step##SUF(4, 4, r0, len, ag + c * lda, lda, xv + k * ldxv, ldxv, buf + c * nk + k, nk); \
                for (; k + 2 <= nk; k += 2)                                                         \
                    tn_step##SUF(4, 2, r0, len, ag + c * lda, lda, xv + k * ldxv, ldxv, buf + c * nk + k, nk); \
                for (; k < nk; k++)                                                                 \
                    tn_step##SUF(4, 1, r0, len, ag + c * lda, lda, xv + k * ldxv, ldxv, buf + c * nk + k, nk); \
            }                                                                                       \
            for (; c < cw; c++) {                                                                   \
                int k = 0;                                                                          \
                for (; k + 4 <= nk; k += 4)                                                         \
                    tn_step##SUF(1, 4, r0, len, ag + c * lda, lda, xv + k * ldxv, ldxv, buf + c * nk + k, nk); \
                for (; k < nk; k++)                                                                 \
                    tn_step##SUF(1, 1, r0, len, ag + c * lda, lda, xv + k * ldxv, ldxv, buf + c * nk + k, nk); \
            }                                                                                       \
        }                                                                                           \
        tn_close##SUF(cw, nk, rows, p, vec, a0, lda, x, ldx, buf, nk, y + c0, 1, ldy);              \
    }                                                                                               \
    free(copy);                                                                                     \
}                                                                                                   \
                                                                                                    \
/* out[r + 8v + i + k ldo] += sum_c a[r + 8v + i + c lda] y[c + k ldy] for the */                   \
/* nv (<= 4) vectors of 8 rows from r and k < kb. */                                                \
INLINE void nn_block##SUF(size_t r, int nv, int kb, size_t cols, const AT *a, size_t lda,           \
                     const double *y, size_t ldy, double *out, size_t ldo) {                        \
    v8d acc[4][4];                                                                                  \
    for (int k = 0; k < kb; k++)                                                                    \
        for (int v = 0; v < nv; v++) acc[v][k] = LOAD8(out + r + 8 * v + k * ldo);                  \
    for (size_t c = 0; c < cols; c++) {                                                             \
        v8d av[4];                                                                                  \
        for (int v = 0; v < nv; v++) av[v] = LOADA(a + r + 8 * v + c * lda);                        \
        for (int k = 0; k < kb; k++) {                                                              \
            double yk = y[c + k * ldy];                                                             \
            for (int v = 0; v < nv; v++) acc[v][k] += av[v] * yk;                                   \
        }                                                                                           \
    }                                                                                               \
    for (int k = 0; k < kb; k++)                                                                    \
        for (int v = 0; v < nv; v++) STORE8(out + r + 8 * v + k * ldo, acc[v][k]);                  \
}                                                                                                   \
                                                                                                    \
                                                                                                    \
/* out[r + k ldo] += sum_c a[r + c lda] y[c + k ldy] for the rows r0 ..< r1, */                     \
/* one row at a time: the same multiply-adds in the same order as a lane. */                        \
INLINE void nn_rows##SUF(size_t r0, size_t r1, size_t cols, size_t nrhs, const AT *a, size_t lda,   \
                         const double *y, size_t ldy, double *out, size_t ldo) {                    \
    for (size_t r = r0; r < r1; r++) {                                                              \
        for (size_t k = 0; k < nrhs; k++) {                                                         \
            double s = out[r + k * ldo];                                                            \
            for (size_t c = 0; c < cols; c++) s += a[r + c * lda] * y[c + k * ldy];                 \
            out[r + k * ldo] = s;                                                                   \
        }                                                                                           \
    }                                                                                               \
}                                                                                                   \
                                                                                                    \
/* Slices of NN_COLS columns, each swept down all rows in blocks of 32: */                          \
/* every column is then read in runs as long as the slice is tall, by */                            \
/* NN_COLS streams at once. The blocks start at row p, the first row where */                       \
/* A's vectors are aligned (tn_phase); the rows before it go one at a time. */                      \
/* Each entry of out sums its products in the same order (c ascending) */                           \
/* whichever way its row goes, so the result does not depend on p. */                               \
INLINE void nn_body##SUF(size_t rows, size_t allCols, size_t nrhs, const AT *allA, size_t lda,      \
                    const double *allY, size_t ldy, double *out, size_t ldo) {                      \
    size_t p = rows >= 32 ? tn_phase(allA, lda, sizeof(AT)) : 0;                                    \
    for (size_t c0 = 0; c0 < allCols; c0 += NN_COLS) {                                              \
        const size_t cols = allCols - c0 < NN_COLS ? allCols - c0 : NN_COLS;                        \
        const AT *a = allA + c0 * lda;                                                              \
        const double *y = allY + c0;                                                                \
        nn_rows##SUF(0, p, cols, nrhs, a, lda, y, ldy, out, ldo);                                   \
        size_t r = p;                                                                               \
        for (; r + 32 <= rows; r += 32) NN_GROUPS(SUF, r, 4);                                       \
        for (; r + 8 <= rows; r += 8) NN_GROUPS(SUF, r, 1);                                         \
        nn_rows##SUF(r, rows, cols, nrhs, a, lda, y, ldy, out, ldo);                                \
    }                                                                                               \
}                                                                                                   \
                                                                                                    \
    /* end */

// Float32 A with 1 to 5 right-hand sides takes its columns from the four
// quarters of the panel (tn_quarters); double A keeps the chunked loop.
// Standalone harness, 2 cores of the AMD EPYC (Zen 5), one right-hand side,
// as a multiple of one read of the same bytes by the read loop (sum_body),
// three runs each: 16000 x 64000 float32 1.19-1.36x chunked against
// 1.02-1.15x by quarters, 8000 x 32000 1.20-1.30x against 1.13-1.23x,
// 4000 x 16000 1.32-1.36x against 1.13-1.19x; whole columns with four
// neighbouring columns side by side, 1.05-1.39x. Two to five right-hand
// sides at 16000 x 64000: 1.65-2.18x against 1.55-1.81x. Double A with one
// right-hand side gained nothing (16000 x 32000: 0.94x against 0.95x;
// 8000 x 32000: 0.82x against 0.93x).
DEFINE_PANEL_BODIES(, double, LOAD8, 0)
DEFINE_PANEL_BODIES(_f32, float, LOADF8, 1)

// out[c0:n] += sum over c in [c0, c1) of L[c:, c] (L[c:, c]^T X[c:]), by
// panels J of MUSO_GRAM_PANEL columns: Y_J = L[J:, J]^T X[J:] (triangle in
// plain loops, the rows below by tn), then out[J:] += L[J:, J] Y_J (nn). The
// panel is read from memory once; its second use finds it in cache.
INLINE void gram_body(size_t n, const double *l, size_t ld, size_t c0, size_t c1, size_t nrhs,
                      const double *x, size_t ldx, double *out, size_t ldo, double *work) {
    for (size_t j = c0; j < c1; j += MUSO_GRAM_PANEL) {
        size_t w = c1 - j < MUSO_GRAM_PANEL ? c1 - j : MUSO_GRAM_PANEL;
        size_t below = n - j - w;
        const double *ljj = l + j + j * ld, *lbj = ljj + w;
        double *y = work; // w x nrhs, leading dimension w
        for (size_t k = 0; k < nrhs; k++) {
            for (size_t c = 0; c < w; c++) {
                double s = 0;
                for (size_t r = c; r < w; r++) s += ljj[r + c * ld] * x[j + r + k * ldx];
                y[c + k * w] = s;
            }
        }
        tn_body(below, w, nrhs, lbj, ld, x + j + w, ldx, y, w);
        for (size_t k = 0; k < nrhs; k++) {
            for (size_t r = 0; r < w; r++) {
                double s = 0;
                for (size_t c = 0; c <= r; c++) s += ljj[r + c * ld] * y[c + k * w];
                out[j + r + k * ldo] += s;
            }
        }
        nn_body(below, w, nrhs, lbj, ld, y, w, out + j + w, ldo);
    }
}

// sum of x[0..n): the range in four contiguous quarters read side by side,
// two vectors of each per step (8 accumulators). Four streams per core keep
// more of memory's parallelism busy than one: a single sequential stream read
// an 8000 x 32000 matrix at 22 GB/s on 2 cores where the panel kernel,
// streaming four columns at once, reached 29. The memory floor's read loop
// of `muso bench`.
INLINE double sum_body(const double *x, size_t n) {
    size_t q = n / 4 / 16 * 16;   // a multiple of 16 doubles per quarter
    const double *x0 = x, *x1 = x + q, *x2 = x + 2 * q, *x3 = x + 3 * q;
    v8d s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0}, t0 = {0}, t1 = {0}, t2 = {0}, t3 = {0};
    for (size_t i = 0; i < q; i += 16) {
        s0 += LOAD8(x0 + i); t0 += LOAD8(x0 + i + 8);
        s1 += LOAD8(x1 + i); t1 += LOAD8(x1 + i + 8);
        s2 += LOAD8(x2 + i); t2 += LOAD8(x2 + i + 8);
        s3 += LOAD8(x3 + i); t3 += LOAD8(x3 + i + 8);
    }
    v8d v = ((s0 + t0) + (s1 + t1)) + ((s2 + t2) + (s3 + t3));
    double s = SUM8(v);
    for (size_t i = 4 * q; i < n; i++) s += x[i];
    return s;
}

// x[0..n) *= s in place: two vectors a step, then the scalar tail. One read
// and one write of each cache line: a copy to another buffer also reads the
// destination's lines before writing them (read for ownership), so it moves
// 24 bytes per entry where an in-place pass moves 16 (on 2 cores of the
// AMD EPYC, Zen 5: 50-60 GB/s counted as 16 bytes an entry, against 34-39
// for a vector copy loop).
INLINE void scale_body(double *x, size_t n, double s) {
    const v8d sv = {s, s, s, s, s, s, s, s};
    size_t whole = n / 16 * 16;
    for (size_t i = 0; i < whole; i += 16) {
        STORE8(x + i, LOAD8(x + i) * sv);
        STORE8(x + i + 8, LOAD8(x + i + 8) * sv);
    }
    for (size_t i = whole; i < n; i++) x[i] *= s;
}

#define DEFINE_LEVEL(name, attributes)                                                          \
    static attributes void name##_tn(size_t rows, size_t cols, size_t nrhs, const double *a,   \
                                     size_t lda, const double *x, size_t ldx, double *y,        \
                                     size_t ldy) {                                              \
        tn_body(rows, cols, nrhs, a, lda, x, ldx, y, ldy);                                      \
    }                                                                                           \
    static attributes void name##_nn(size_t rows, size_t cols, size_t nrhs, const double *a,   \
                                     size_t lda, const double *y, size_t ldy, double *out,      \
                                     size_t ldo) {                                              \
        nn_body(rows, cols, nrhs, a, lda, y, ldy, out, ldo);                                    \
    }                                                                                           \
    static attributes void name##_tn_f32(size_t rows, size_t cols, size_t nrhs, const float *a, \
                                         size_t lda, const double *x, size_t ldx, double *y,    \
                                         size_t ldy) {                                          \
        tn_body_f32(rows, cols, nrhs, a, lda, x, ldx, y, ldy);                                  \
    }                                                                                           \
    static attributes void name##_nn_f32(size_t rows, size_t cols, size_t nrhs, const float *a, \
                                         size_t lda, const double *y, size_t ldy, double *out,  \
                                         size_t ldo) {                                          \
        nn_body_f32(rows, cols, nrhs, a, lda, y, ldy, out, ldo);                                \
    }                                                                                           \
    static attributes void name##_gram(size_t n, const double *l, size_t ld, size_t c0,        \
                                       size_t c1, size_t nrhs, const double *x, size_t ldx,     \
                                       double *out, size_t ldo, double *work) {                 \
        gram_body(n, l, ld, c0, c1, nrhs, x, ldx, out, ldo, work);                              \
    }                                                                                           \
    static attributes void name##_sum(const double *x, size_t n, double *out) {                 \
        *out = sum_body(x, n);                                                                  \
    }                                                                                           \
    static attributes void name##_scale(double *x, size_t n, double s) {                        \
        scale_body(x, n, s);                                                                    \
    }

DEFINE_LEVEL(baseline, )
#if defined(__x86_64__)
DEFINE_LEVEL(avx2, __attribute__((target("avx2,fma"))))
DEFINE_LEVEL(avx512, __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))))
#define CALL(level, name, ...)                                                \
    do {                                                                      \
        int l_ = muso_effective_level(level);                                 \
        if (l_ == MUSO_ISA_AVX512) avx512_##name(__VA_ARGS__);                \
        else if (l_ == MUSO_ISA_AVX2_FMA) avx2_##name(__VA_ARGS__);           \
        else baseline_##name(__VA_ARGS__);                                    \
    } while (0)
#else
#define CALL(level, name, ...) baseline_##name(__VA_ARGS__)
#endif

void muso_panel_tn(int level, size_t rows, size_t cols, size_t nrhs, const double *a, size_t lda,
                   const double *x, size_t ldx, double *y, size_t ldy) {
    CALL(level, tn, rows, cols, nrhs, a, lda, x, ldx, y, ldy);
}

void muso_panel_nn(int level, size_t rows, size_t cols, size_t nrhs, const double *a, size_t lda,
                   const double *y, size_t ldy, double *out, size_t ldo) {
    CALL(level, nn, rows, cols, nrhs, a, lda, y, ldy, out, ldo);
}

void muso_lower_gram(int level, size_t n, const double *l, size_t ld, size_t c0, size_t c1,
                     size_t nrhs, const double *x, size_t ldx, double *out, size_t ldo,
                     double *work) {
    CALL(level, gram, n, l, ld, c0, c1, nrhs, x, ldx, out, ldo, work);
}

void muso_panel_tn_f32(int level, size_t rows, size_t cols, size_t nrhs, const float *a, size_t lda,
                       const double *x, size_t ldx, double *y, size_t ldy) {
    CALL(level, tn_f32, rows, cols, nrhs, a, lda, x, ldx, y, ldy);
}

void muso_panel_nn_f32(int level, size_t rows, size_t cols, size_t nrhs, const float *a, size_t lda,
                       const double *y, size_t ldy, double *out, size_t ldo) {
    CALL(level, nn_f32, rows, cols, nrhs, a, lda, y, ldy, out, ldo);
}

double muso_stream_sum(int level, const double *x, size_t n) {
    double s = 0;
    CALL(level, sum, x, n, &s);
    return s;
}

void muso_stream_scale(int level, double *x, size_t n, double s) {
    CALL(level, scale, x, n, s);
}

// Vectorised elementwise kernels of the engine, compiled once per instruction
// set and chosen at run time. No stable API: use `Unlearning`.
#ifndef MUSO_CKERNELS_H
#define MUSO_CKERNELS_H

#include <stddef.h>

/// Instruction-set levels of the kernels, in increasing order.
enum {
    MUSO_ISA_BASELINE = 0, ///< the build's baseline (SSE2 on x86-64; any other CPU)
    MUSO_ISA_AVX2_FMA = 1, ///< x86-64 with AVX2 and FMA
    MUSO_ISA_AVX512 = 2,   ///< x86-64 with AVX-512F
};

/// The highest level this CPU runs (checked once with cpuid).
int muso_isa_level(void);

/// Makes the allocator keep the memory the process frees for its later
/// allocations (glibc: no mmap for large blocks, no trimming of the heap).
/// Returns 1 when both settings took, 0 otherwise (or off glibc).
int muso_keep_freed_memory(void);

/// Hands the allocator's free memory back to the system (glibc's
/// malloc_trim(0); nothing off glibc).
void muso_release_free_memory(void);

/// Allocates `bytes`, writes one byte of each 4 KB page, and frees the block:
/// with the settings of muso_keep_freed_memory the pages stay in the heap,
/// resident, for the allocations that follow. Returns 1 when done, 0 when
/// the block could not be allocated (or off glibc).
int muso_touch_free_memory(size_t bytes);

/// |x| up to which the fast reduction is accurate: 2^19 pi / 2.
double muso_sincos_limit(void);

/// cos_out[i] = scale cos(x[i]) and sin_out[i] = scale sin(x[i]), i < n, for
/// the arguments that all satisfy |x[i]| <= muso_sincos_limit(): one
/// Cody-Waite reduction by pi/2 and two Taylor polynomials per argument (see
/// sincos.c). Either output may be NULL. The two outputs must not overlap
/// each other, and each may overlap `x` only by being equal to it (then
/// that output overwrites the arguments). Returns 0, or -1 (writing nothing)
/// when some |x[i]| exceeds the limit or is NaN. `level` is clamped to
/// muso_isa_level(); pass -1 for the best level. O(n).
int muso_scaled_sincos(int level, const double *x, size_t n, double scale,
                       double *cos_out, double *sin_out);

/// Y += A^T X for a tall column-major panel A (rows x cols, leading
/// dimension lda), X (rows x nrhs, ldx) and Y (cols x nrhs, ldy): A is
/// streamed once, the (column, rhs) dot products kept in vector registers
/// (see panel.c). 2 rows cols nrhs flops. `level` as for muso_scaled_sincos.
void muso_panel_tn(int level, size_t rows, size_t cols, size_t nrhs, const double *a, size_t lda,
                   const double *x, size_t ldx, double *y, size_t ldy);

/// Out += A Y for A (rows x cols, lda), Y (cols x nrhs, ldy) and Out
/// (rows x nrhs, ldo): A streamed once, blocks of Out kept in registers.
/// 2 rows cols nrhs flops. Out must not overlap A or Y.
void muso_panel_nn(int level, size_t rows, size_t cols, size_t nrhs, const double *a, size_t lda,
                   const double *y, size_t ldy, double *out, size_t ldo);

/// muso_panel_tn and muso_panel_nn for A stored in float32: each entry is
/// widened to double as it is loaded, every product and sum is in double
/// (so the result is the double computation on the float32-rounded A).
void muso_panel_tn_f32(int level, size_t rows, size_t cols, size_t nrhs, const float *a, size_t lda,
                       const double *x, size_t ldx, double *y, size_t ldy);
void muso_panel_nn_f32(int level, size_t rows, size_t cols, size_t nrhs, const float *a, size_t lda,
                       const double *y, size_t ldy, double *out, size_t ldo);

/// The sum of x[0..n), read once with four vector accumulators: a read loop
/// as fast as the panel kernels' streaming, for the memory floor of
/// `muso bench`. The order of the additions is fixed for a given level. O(n).
double muso_stream_sum(int level, const double *x, size_t n);

/// x[i] = s x[i] for i < n, in place, two vectors per step: one read and one
/// write of each line and no read for ownership of another buffer, as a
/// deletion updates the factor's trailing part. The in-place floor of
/// `muso bench` (called with s = -1: every store changes its line). O(n).
void muso_stream_scale(int level, double *x, size_t n, double s);

/// Columns per panel of muso_lower_gram (the size of its work buffer).
#define MUSO_GRAM_PANEL 12

/// out[c0:n, :] += sum over the columns c in [c0, c1) of L[c:n, c] (L[c:n,
/// c]^T X[c:n, :]) for the lower triangle of the column-major n x n L (ld):
/// over all columns, out += L (L^T X). Each panel of MUSO_GRAM_PANEL columns
/// is read once from memory and used twice from cache. `work` holds
/// MUSO_GRAM_PANEL * nrhs doubles. ~2 (n - c0)^2 nrhs flops for the full
/// range. out must not overlap l or x.
void muso_lower_gram(int level, size_t n, const double *l, size_t ld, size_t c0, size_t c1,
                     size_t nrhs, const double *x, size_t ldx, double *out, size_t ldo,
                     double *work);

/// For each row r < rows, the row (src[0][r], ..., src[g][r]) rotated by the
/// g Givens rotations (c[t], s[t]) of the column pairs (t, t + 1), t = 0 ..
/// g - 1 in order, written to (dst[0][r], ..., dst[g][r]):
/// (x_t, x_{t+1}) <- (c_t x_t + s_t x_{t+1}, c_t x_{t+1} - s_t x_t).
/// dst[t] may equal src[t] or src[t] - 1 (the column shifted up by one row
/// in the same pass); no other overlap. ~4 g rows flops, each column read
/// and written once (see givens.c).
void muso_givens_rows(int level, size_t rows, size_t g, double *const *dst, const double *const *src,
                      const double *c, const double *s);

/// Compacts the retained trailing columns of an n x n lower-triangular
/// factor (leading dimension ld) in place after deleting rows and columns:
/// column first + t (t < mt) takes column tail[t]'s rows on and below its
/// diagonal, moved by the row runs (nruns triples: source row, destination
/// row, count). Above the new diagonal the old zero upper triangle stays;
/// rows from the new order on are left for the caller to clear. `threads`
/// cores share the rows (see compact.c). Reads and writes (n - first)^2 / 2
/// doubles at most.
void muso_compact_trailing(size_t threads, double *base, size_t ld, size_t first, size_t n,
                           const size_t *tail, size_t mt, const size_t *runs, size_t nruns);

/// Rows per tile of `muso_rank_delete`, and the stride of its tile counts.
#define MUSO_RANK_DELETE_TILE 256
#define MUSO_RANK_DELETE_COUNT_STRIDE 8

/// Deletes k rows and columns from a Cholesky factor by the rank-k Givens
/// update [A B] Q = [A' 0] (see rankdelete.c), compacting the block in the
/// same pass. `a` (lda) points at the first deleted position's diagonal
/// entry: the uncompacted trailing block, from which column c (c < mt) of A
/// is gathered, on and below its diagonal, from column source_column[c]
/// (> c) by the row runs (nruns triples: source row, destination row,
/// count, increasing, covering rows 0 ..< mt; all counted from the first
/// deleted position). Above the diagonal the old factor's zero upper
/// triangle stays. A (mt x mt, lower triangular) is left there as A'; B
/// (mt x k, ldb, the deleted columns' entries in the retained rows) is used
/// as work space and left zero in every row processed. stair[q]
/// (non-decreasing in q) is the first row where B's column q may be
/// non-zero. rot holds 2 mt k doubles of work space (the rotations). Row
/// tiles run as a pipeline on `threads` POSIX threads (this one included).
/// ~6 mt^2 k' flops, k' the mean active count; the trailing triangle read and
/// written once. The rows of the block at and below mt, and the columns
/// from mt on, are left as they were (the caller clears them). `counts`
/// holds MUSO_RANK_DELETE_COUNT_STRIDE * ceil(mt / MUSO_RANK_DELETE_TILE)
/// entries of work space (the tiles' progress). Returns 0, or 1 + the
/// column whose rotation met a zero or non-finite pair (A and B are then
/// partly gathered and rotated).
size_t muso_rank_delete(int level, size_t threads, size_t mt, size_t k, double *a, size_t lda, double *b,
                        size_t ldb, const size_t *stair, double *rot, const size_t *source_column,
                        const size_t *runs, size_t nruns, size_t *counts);

/// C = alpha A A^T + beta C on the lower triangle of the column-major n x n C
/// (ldc) for the column-major n x k A (lda), with 512-bit registers (see
/// syrk.c): A packed in panels of 384 columns, 24 x 8 tiles of C kept in
/// zmm registers, `threads` POSIX threads on equal areas of the triangle.
/// Every product and sum in double; with beta == 0, C is not read. The
/// upper triangle is not touched. The packing buffers (~(n + 24) 384
/// doubles per thread) are carved from `work` when it holds at least
/// muso_gram_avx512_workspace(threads, n, k) doubles (any alignment), and
/// allocated and freed here otherwise (work may be NULL). Returns 0; -1
/// (nothing done) unless the CPU and `level` run AVX-512 and n, k >= 1; -2
/// (nothing done) when the buffers cannot be allocated. n (n + 1) k flops.
int muso_gram_avx512(int level, size_t threads, size_t n, size_t k, double alpha, const double *a,
                     size_t lda, double beta, double *c, size_t ldc, double *work, size_t work_len);

/// The doubles of workspace muso_gram_avx512 uses for `threads`, n, and any
/// k' <= k: one buffer for every call of a loop over column blocks.
size_t muso_gram_avx512_workspace(size_t threads, size_t n, size_t k);

/// muso_gram_avx512 for A stored in float32: each entry widened to double
/// as it is packed (the double Gram of the float32-rounded A).
int muso_gram_avx512_f32(int level, size_t threads, size_t n, size_t k, double alpha, const float *a,
                         size_t lda, double beta, double *c, size_t ldc, double *work, size_t work_len);

#endif

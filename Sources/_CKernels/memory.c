// How the process's allocator treats memory it frees (glibc; elsewhere these
// do nothing). For the benchmark: see ProcessMemory in
// LinearAlgebra/BLAS.swift.

#include "kernels.h"

#include <stdlib.h> // defines __GLIBC__ on glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int muso_keep_freed_memory(void) {
#if defined(__GLIBC__)
    // No mmap for large blocks (they come from the heap, and free() keeps
    // them there), and no trimming of the heap's top: -1 disables it.
    return mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, -1) == 1;
#else
    return 0;
#endif
}

void muso_release_free_memory(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

int muso_touch_free_memory(size_t bytes) {
#if defined(__GLIBC__)
    // One write per 4 KB page of a fresh block, then back to the (kept) heap:
    // the pages are resident for the allocations that follow.
    volatile char *p = malloc(bytes);
    if (!p) return 0;
    for (size_t i = 0; i < bytes; i += 4096) p[i] = 0;
    free((void *)p);
    return 1;
#else
    (void)bytes;
    return 0;
#endif
}

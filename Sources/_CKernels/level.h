// The instruction-set level to run at, shared by the kernels' dispatchers.
#ifndef MUSO_CKERNELS_LEVEL_H
#define MUSO_CKERNELS_LEVEL_H

#include "kernels.h"

// `requested` clamped to what the CPU runs (cpuid read once; threads may race
// on the first call, and each computes the same value); -1 means the best.
static inline int muso_effective_level(int requested) {
    static int cached = -1;
    int best = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (best < 0) {
        best = muso_isa_level();
        __atomic_store_n(&cached, best, __ATOMIC_RELAXED);
    }
    return (requested < 0 || requested > best) ? best : requested;
}

#endif

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

#endif

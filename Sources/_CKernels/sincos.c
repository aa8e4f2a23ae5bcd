// sin x and cos x together from one argument reduction: the kernel of the
// random Fourier features (each frequency gives a cos and a sin column).
//
// Mathematics: q = nearest integer to x (2 / pi), obtained with the
// 1.5 * 2^52 shifter (no rounding instruction); r = x - q pi/2 by Cody-Waite
// with pi/2 = P1 + P2 + P3, where P1 and P2 carry 33 significant bits so q P1
// and q P2 are exact for |q| < 2^20 and x - q P1 is exact (Sterbenz); then
// |r| <= pi/4 (plus rounding). On that interval the Taylor series
//
//     sin r = r - r^3/3! + ... - r^19/19!,   cos r = 1 - r^2/2! + ... + r^20/20!
//
// truncate with errors below r^21/21! < 2.3e-21 and r^22/22! < 4e-23, far
// under an ulp; by the quadrant q mod 4,
// (sin x, cos x) = (s, c), (c, -s), (-s, -c), (-c, s).
// Measured against the C library: at most 2 ulp (the tests, at every level).
//
// The loop body is branch-free so that the compiler vectorises it; the same
// body is compiled for the baseline, AVX2+FMA and AVX-512F, and the widest
// level the CPU has is used. Contracting a * b + c to an FMA changes the
// last bit of some results, not the bound.

#include "kernels.h"
#include "level.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define SINCOS_LIMIT (0x1p19 * 0x1.921fb54442d18p+0)

double muso_sincos_limit(void) { return SINCOS_LIMIT; }

// Taylor coefficients from the highest power down, (-1)^k / (2k+1)! for
// k = 9 .. 1 (sin r = r + r z P(z)) and (-1)^k / (2k)! for k = 10 .. 2
// (cos r = 1 - z/2 + z^2 Q(z)), z = r^2.
static const double SIN_TAIL[9] = {
    -1.0 / 121645100408832000.0, 1.0 / 355687428096000.0, -1.0 / 1307674368000.0,
    1.0 / 6227020800.0, -1.0 / 39916800.0, 1.0 / 362880.0,
    -1.0 / 5040.0, 1.0 / 120.0, -1.0 / 6.0,
};
static const double COS_TAIL[9] = {
    1.0 / 2432902008176640000.0, -1.0 / 6402373705728000.0, 1.0 / 20922789888000.0,
    -1.0 / 87178291200.0, 1.0 / 479001600.0, -1.0 / 3628800.0,
    1.0 / 40320.0, -1.0 / 720.0, 1.0 / 24.0,
};

// Horner's rule for the 9 coefficients above (unrolled by the compiler).
static inline __attribute__((always_inline)) double horner(double z, const double coefficients[9]) {
    double p = coefficients[0];
    for (int k = 1; k < 9; k++) p = p * z + coefficients[k];
    return p;
}

static inline __attribute__((always_inline)) void
sincos_body(const double *restrict x, size_t n, double scale,
            double *restrict c_out, double *restrict s_out, int want_cos, int want_sin) {
    const double shifter = 0x1.8p52;
    for (size_t i = 0; i < n; i++) {
        double xi = x[i];
        double t = xi * 0x1.45f306dc9c883p-1 + shifter; // q + 1.5 * 2^52
        double q = t - shifter;
        int64_t bits;
        memcpy(&bits, &t, sizeof bits);
        int64_t quadrant = bits & 3; // q mod 4 (two's complement)
        double r = ((xi - q * 0x1.921fb54400000p+0) - q * 0x1.0b4611a600000p-34) - q * 0x1.3198a2e037073p-69;
        double z = r * r;
        double s = r + r * z * horner(z, SIN_TAIL);
        double c = 1.0 - (0.5 * z - z * z * horner(z, COS_TAIL));
        int swap = (quadrant & 1) != 0;
        double sin_base = swap ? c : s, cos_base = swap ? s : c;
        double sin_scale = (quadrant & 2) ? -scale : scale;
        double cos_scale = ((quadrant + 1) & 2) ? -scale : scale;
        if (want_cos) c_out[i] = cos_scale * cos_base;
        if (want_sin) s_out[i] = sin_scale * sin_base;
    }
}

static inline __attribute__((always_inline)) int
in_range(const double *restrict x, size_t n) {
    int ok = 1; // a NaN compares false, so it fails too
    for (size_t i = 0; i < n; i++) ok &= fabs(x[i]) <= SINCOS_LIMIT;
    return ok;
}

// One dispatch table entry per instruction-set level. The outputs are
// passed as restrict pointers only in the combinations that cannot alias.
#define DEFINE_LEVEL(name, attributes)                                                   \
    static attributes int name##_range(const double *restrict x, size_t n) {            \
        return in_range(x, n);                                                           \
    }                                                                                    \
    static attributes void name##_both(const double *restrict x, size_t n, double scale, \
                                       double *restrict c, double *restrict s) {         \
        sincos_body(x, n, scale, c, s, 1, 1);                                            \
    }                                                                                    \
    static attributes void name##_cos(const double *restrict x, size_t n, double scale,  \
                                      double *restrict c) {                              \
        sincos_body(x, n, scale, c, 0, 1, 0);                                            \
    }                                                                                    \
    static attributes void name##_sin(const double *restrict x, size_t n, double scale,  \
                                      double *restrict s) {                              \
        sincos_body(x, n, scale, 0, s, 0, 1);                                            \
    }

DEFINE_LEVEL(baseline, )
#if defined(__x86_64__)
DEFINE_LEVEL(avx2, __attribute__((target("avx2,fma"))))
DEFINE_LEVEL(avx512, __attribute__((target("avx512f,avx512dq,avx512vl,avx2,fma"))))
#endif

int muso_isa_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return MUSO_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return MUSO_ISA_AVX2_FMA;
#endif
    return MUSO_ISA_BASELINE;
}

// The body for one level. An output equal to the input (the feature
// layout writes the last sin column over its own projection column) is
// computed from a copy of each chunk, so the restrict contract holds.
#define APPLY(name, x, n, scale, cos_out, sin_out)                                      \
    do {                                                                                \
        if ((cos_out) && (sin_out)) name##_both(x, n, scale, cos_out, sin_out);         \
        else if (cos_out) name##_cos(x, n, scale, cos_out);                             \
        else if (sin_out) name##_sin(x, n, scale, sin_out);                             \
    } while (0)

#define DISPATCH(name)                                                                   \
    do {                                                                                 \
        if (!name##_range(x, n)) return -1;                                              \
        if (cos_out != x && sin_out != x) {                                              \
            APPLY(name, x, n, scale, cos_out, sin_out);                                  \
            return 0;                                                                    \
        }                                                                                \
        double chunk[512];                                                               \
        for (size_t lo = 0; lo < n; lo += 512) {                                         \
            size_t len = n - lo < 512 ? n - lo : 512;                                    \
            memcpy(chunk, x + lo, len * sizeof(double));                                 \
            APPLY(name, chunk, len, scale, cos_out ? cos_out + lo : 0, sin_out ? sin_out + lo : 0); \
        }                                                                                \
        return 0;                                                                        \
    } while (0)

int muso_scaled_sincos(int level, const double *x, size_t n, double scale,
                       double *cos_out, double *sin_out) {
    level = muso_effective_level(level);
#if defined(__x86_64__)
    if (level == MUSO_ISA_AVX512) DISPATCH(avx512);
    if (level == MUSO_ISA_AVX2_FMA) DISPATCH(avx2);
#endif
    DISPATCH(baseline);
}

import Foundation
import LinearAlgebra
// The vectorised cos/sin kernel of the random Fourier map is the one C kernel
// this layer calls directly: it is a feature-map primitive, not linear
// algebra, so LinearAlgebra has no wrapper to offer for it.
internal import _CKernels

extension RandomFourierFeatures {
    /// The instruction set the cos/sin pass runs with on this CPU
    /// ("AVX-512F", "AVX2+FMA" or "baseline"), for benchmark reports.
    package static var sinCosInstructionSet: String { KernelLevel.best.name }
}

/// |x| up to which the fast kernel is accurate: 2^19 pi / 2 (about 8.2e5).
let fastSinCosLimit = muso_sincos_limit()

/// Writes scale * cos(x_i) to `cosOut` and scale * sin(x_i) to `sinOut`
/// (either may be nil; an output may be `x` itself, no other overlap) for the
/// n arguments at `x`.
///
/// Mathematics (in `_CKernels/sincos.c`): one Cody–Waite reduction
/// r = x - q pi/2 with q = round(2x / pi), |r| <= pi/4, then the Taylor
/// polynomials of sin r (to r^19) and cos r (to r^20), whose truncation
/// errors are below 2.3e-21, and the quadrant q mod 4 picks and signs them:
/// at most 2 ulp from the C library (the tests check every level). The loop
/// is branch-free and compiled for SSE2, AVX2+FMA and AVX-512F; `level`
/// caps the choice (tests), nil takes the widest the CPU has. When some
/// |x_i| exceeds `fastSinCosLimit` (or is NaN) the whole call uses the C
/// library instead.
/// - Complexity: O(n), about 45 floating-point operations per argument.
func scaledSinCos(_ x: UnsafePointer<Double>, count n: Int, scale: Double,
                  cos cosOut: UnsafeMutablePointer<Double>?, sin sinOut: UnsafeMutablePointer<Double>?,
                  level: KernelLevel? = nil) {
    let done = muso_scaled_sincos(level?.rawValue ?? -1, x, n, scale, cosOut, sinOut)
    guard done != 0 else { return }
    for i in 0..<n {
        let v = x[i]
        cosOut?[i] = scale * Foundation.cos(v)
        sinOut?[i] = scale * Foundation.sin(v)
    }
}

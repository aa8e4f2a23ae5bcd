import Foundation

/// sin x and cos x together, from one argument reduction: the kernel of the
/// random Fourier features (each frequency gives a cos and a sin column).
///
/// Mathematics: q = nearest integer to x (2 / pi) (the 1.5 * 2^52 trick,
/// no rounding instruction needed); r = x - q pi/2 by Cody–Waite with
/// pi/2 = P1 + P2 + P3, where P1 and P2 carry 33 significant bits so q P1
/// and q P2 are exact for |q| < 2^20 and x - q P1 is exact (Sterbenz);
/// |r| <= pi/4 (plus rounding). On that interval the Taylor series
///
///     sin r = r - r^3/3! + ... - r^19/19!,   cos r = 1 - r^2/2! + ... + r^20/20!
///
/// truncate with error below r^21/21! < 2.3e-21 and r^22/22! < 4e-23, far
/// under an ulp; then by the quadrant q mod 4,
/// (sin x, cos x) = (s, c), (c, -s), (-s, -c), (-c, s).
/// Measured against the C library on 10^6 arguments in [-1e4, 1e4] and
/// near multiples of pi/2: at most 2 ulp of the result (see the tests).
///
/// Valid for |x| <= `fastSinCosLimit` (2^19 pi/2 ~ 8.2e5); callers fall back
/// to the C library beyond it. The body is branch-free so the loops that call
/// it vectorise.
/// - Complexity: about 40 floating-point operations.
@inline(__always)
func fastSinCos(_ x: Double) -> (sin: Double, cos: Double) {
    let shifter = 0x1.8p52
    let t = x * 0x1.45f306dc9c883p-1 + shifter       // q + 1.5 * 2^52, q = round(2x / pi)
    let q = t - shifter
    let quadrant = Int(truncatingIfNeeded: t.bitPattern) & 3  // q mod 4 (two's complement)
    let r = ((x - q * 0x1.921fb54400000p+0) - q * 0x1.0b4611a600000p-34) - q * 0x1.3198a2e037073p-69
    let z = r * r
    // Horner in z; coefficients (-1)^k / (2k+1)! and (-1)^k / (2k)!.
    var ps = -1.0 / 121_645_100_408_832_000           // -1/19!
    ps = ps * z + 1.0 / 355_687_428_096_000            //  1/17!
    ps = ps * z - 1.0 / 1_307_674_368_000              // -1/15!
    ps = ps * z + 1.0 / 6_227_020_800                  //  1/13!
    ps = ps * z - 1.0 / 39_916_800                     // -1/11!
    ps = ps * z + 1.0 / 362_880                        //  1/9!
    ps = ps * z - 1.0 / 5_040                          // -1/7!
    ps = ps * z + 1.0 / 120                            //  1/5!
    ps = ps * z - 1.0 / 6                              // -1/3!
    let s = r + r * z * ps
    var pc = 1.0 / 2_432_902_008_176_640_000           //  1/20!
    pc = pc * z - 1.0 / 6_402_373_705_728_000          // -1/18!
    pc = pc * z + 1.0 / 20_922_789_888_000             //  1/16!
    pc = pc * z - 1.0 / 87_178_291_200                 // -1/14!
    pc = pc * z + 1.0 / 479_001_600                    //  1/12!
    pc = pc * z - 1.0 / 3_628_800                      // -1/10!
    pc = pc * z + 1.0 / 40_320                         //  1/8!
    pc = pc * z - 1.0 / 720                            // -1/6!
    pc = pc * z + 1.0 / 24                             //  1/4!
    let c = 1.0 - (0.5 * z - z * z * pc)
    // Quadrant selection without branches.
    let swap = quadrant & 1 != 0
    let sinBase = swap ? c : s, cosBase = swap ? s : c
    let sinSign: Double = (quadrant & 2) != 0 ? -1 : 1
    let cosSign: Double = ((quadrant + 1) & 2) != 0 ? -1 : 1
    return (sinSign * sinBase, cosSign * cosBase)
}

/// |x| up to which `fastSinCos` is accurate: 2^19 pi / 2.
let fastSinCosLimit = 0x1p19 * 0x1.921fb54442d18p+0

/// Writes scale * cos(x_i) to `cosOut` and scale * sin(x_i) to `sinOut`
/// (either may be nil) for the n arguments at `x`: the fast kernel when every
/// |x_i| is within its range, the C library otherwise.
/// - Complexity: O(n).
func scaledSinCos(_ x: UnsafePointer<Double>, count n: Int, scale: Double,
                  cos cosOut: UnsafeMutablePointer<Double>?, sin sinOut: UnsafeMutablePointer<Double>?) {
    var largest = 0.0
    for i in 0..<n { largest = max(largest, abs(x[i])) }
    guard largest <= fastSinCosLimit else {
        if let cosOut { for i in 0..<n { cosOut[i] = scale * Foundation.cos(x[i]) } }
        if let sinOut { for i in 0..<n { sinOut[i] = scale * Foundation.sin(x[i]) } }
        return
    }
    switch (cosOut, sinOut) {
    case let (c?, s?):
        for i in 0..<n { let v = fastSinCos(x[i]); c[i] = scale * v.cos; s[i] = scale * v.sin }
    case let (c?, nil):
        for i in 0..<n { c[i] = scale * fastSinCos(x[i]).cos }
    case let (nil, s?):
        for i in 0..<n { s[i] = scale * fastSinCos(x[i]).sin }
    case (nil, nil):
        break
    }
}

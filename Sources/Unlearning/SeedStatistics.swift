import Foundation

/// Summaries of a figure measured over seeds, for comparing methods: the
/// mean with its Student-t confidence interval, and the paired t-test of two
/// methods run on the same seeds (the same seed gives both the same original
/// model and forget set, so their difference per seed is the unit).
public enum SeedStatistics {
    /// Mean, standard deviation and confidence interval of n values.
    public struct Summary: Sendable, Equatable {
        public var count: Int
        public var mean: Double
        /// The sample standard deviation (n - 1 in the denominator); 0 for n = 1.
        public var standardDeviation: Double
        /// t_{(1 + confidence) / 2, n - 1} s / sqrt(n); infinite for n = 1.
        public var halfWidth: Double
        public var interval: ClosedRange<Double> { (mean - halfWidth)...(mean + halfWidth) }
    }

    /// - Complexity: O(n), plus the t quantile (a few dozen incomplete-beta
    ///   evaluations).
    public static func summary(_ values: [Double], confidence: Double = 0.95) -> Summary {
        let n = values.count
        guard n >= 1 else { return Summary(count: 0, mean: .nan, standardDeviation: .nan, halfWidth: .nan) }
        let mean = values.reduce(0, +) / Double(n)
        guard n >= 2 else { return Summary(count: 1, mean: mean, standardDeviation: 0, halfWidth: .infinity) }
        let sd = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)).squareRoot()
        let t = studentTQuantile((1 + confidence) / 2, degreesOfFreedom: Double(n - 1))
        return Summary(count: n, mean: mean, standardDeviation: sd, halfWidth: t * sd / Double(n).squareRoot())
    }

    /// The paired t-test of a against b (same seeds, same order).
    public struct PairedTest: Sendable, Equatable {
        /// mean(a - b).
        public var meanDifference: Double
        /// mean(d) / (sd(d) / sqrt(n)).
        public var t: Double
        public var degreesOfFreedom: Int
        /// Two-sided: P(|T| >= |t|) for T ~ Student t with n - 1 degrees of freedom.
        public var pValue: Double
    }

    /// nil when fewer than two pairs; p = 0 when every difference is the
    /// same non-zero value, 1 when all are zero.
    public static func pairedTest(_ a: [Double], _ b: [Double]) -> PairedTest? {
        guard a.count == b.count, a.count >= 2 else { return nil }
        let d = zip(a, b).map { $0 - $1 }
        let s = summary(d)
        let se = s.standardDeviation / Double(d.count).squareRoot()
        let df = d.count - 1
        if se == 0 {
            return PairedTest(meanDifference: s.mean, t: s.mean == 0 ? 0 : (s.mean > 0 ? .infinity : -.infinity),
                              degreesOfFreedom: df, pValue: s.mean == 0 ? 1 : 0)
        }
        let t = s.mean / se
        let p = 2 * (1 - studentTCDF(abs(t), degreesOfFreedom: Double(df)))
        return PairedTest(meanDifference: s.mean, t: t, degreesOfFreedom: df, pValue: min(1, max(0, p)))
    }

    /// P(T <= t) for Student's t with `nu` degrees of freedom:
    /// 1 - I_{nu / (nu + t^2)}(nu / 2, 1 / 2) / 2 for t >= 0, by symmetry below.
    public static func studentTCDF(_ t: Double, degreesOfFreedom nu: Double) -> Double {
        guard t.isFinite else { return t > 0 ? 1 : 0 }
        let tail = 0.5 * regularizedIncompleteBeta(nu / (nu + t * t), nu / 2, 0.5)
        return t >= 0 ? 1 - tail : tail
    }

    /// The p-quantile of Student's t (0 < p < 1), by bisection on the CDF.
    public static func studentTQuantile(_ p: Double, degreesOfFreedom nu: Double) -> Double {
        guard p > 0, p < 1 else { return p >= 1 ? .infinity : -.infinity }
        if p < 0.5 { return -studentTQuantile(1 - p, degreesOfFreedom: nu) }
        var lo = 0.0, hi = 1.0
        while studentTCDF(hi, degreesOfFreedom: nu) < p { hi *= 2; if hi > 1e12 { return hi } }
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if studentTCDF(mid, degreesOfFreedom: nu) < p { lo = mid } else { hi = mid }
            if hi - lo <= 1e-13 * hi { break }
        }
        return (lo + hi) / 2
    }

    /// I_x(a, b), the regularized incomplete beta function, from its continued
    /// fraction (modified Lentz), with I_x(a, b) = 1 - I_{1-x}(b, a) where the
    /// fraction converges slowly.
    static func regularizedIncompleteBeta(_ x: Double, _ a: Double, _ b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        if x > (a + 1) / (a + b + 2) { return 1 - regularizedIncompleteBeta(1 - x, b, a) }
        let logBeta: Double = lgamma(a) + lgamma(b) - lgamma(a + b)
        let logPowers: Double = a * log(x) + b * log(1 - x)
        let logFront = logPowers - logBeta
        // 1 / (1 + d1 / (1 + d2 / (1 + ...))), d_{2m+1} = -(a+m)(a+b+m) x / ((a+2m)(a+2m+1)),
        // d_{2m} = m (b-m) x / ((a+2m-1)(a+2m)).
        let tiny = 1e-300
        var f = tiny, c = f, d = 0.0
        for j in 1...400 {
            let numerator: Double
            if j == 1 {
                numerator = 1
            } else {
                let i = j - 1          // d_i
                let m = Double(i / 2)
                if i % 2 == 1 {
                    let top: Double = (a + m) * (a + b + m) * x
                    let bottom: Double = (a + 2 * m) * (a + 2 * m + 1)
                    numerator = -top / bottom
                } else {
                    let top: Double = m * (b - m) * x
                    let bottom: Double = (a + 2 * m - 1) * (a + 2 * m)
                    numerator = top / bottom
                }
            }
            d = 1 + numerator * d
            if abs(d) < tiny { d = tiny }
            c = 1 + numerator / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = c * d
            f *= delta
            if abs(delta - 1) < 1e-15 { break }
        }
        return exp(logFront) / a * f
    }
}

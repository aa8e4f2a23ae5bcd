import Foundation
import Testing
import Unlearning

@Suite("Statistics over seeds")
struct SeedStatisticsTests {
    @Test("Student t CDF against its closed forms for 1 and 2 degrees of freedom", arguments: [-7.5, -1.3, -0.2, 0, 0.4, 1, 2.5, 30])
    func closedForms(t: Double) {
        // nu = 1 (Cauchy): 1/2 + atan(t) / pi; nu = 2: 1/2 + t / (2 sqrt(2 + t^2)).
        #expect(abs(SeedStatistics.studentTCDF(t, degreesOfFreedom: 1) - (0.5 + atan(t) / Double.pi)) <= 1e-13)
        #expect(abs(SeedStatistics.studentTCDF(t, degreesOfFreedom: 2) - (0.5 + t / (2 * (2 + t * t).squareRoot()))) <= 1e-13)
    }

    @Test("t quantiles: the nu = 1, 2 closed forms, published table values, and the normal limit")
    func quantiles() {
        // nu = 1: tan(pi (p - 1/2)); nu = 2: (2p - 1) sqrt(2 / (4 p (1 - p))).
        for p in [0.6, 0.9, 0.975, 0.995] {
            #expect(abs(SeedStatistics.studentTQuantile(p, degreesOfFreedom: 1) - tan(Double.pi * (p - 0.5))) <= 1e-9 * max(1, tan(Double.pi * (p - 0.5))))
            let closed = (2 * p - 1) * (2 / (4 * p * (1 - p))).squareRoot()
            #expect(abs(SeedStatistics.studentTQuantile(p, degreesOfFreedom: 2) - closed) <= 1e-10 * closed)
        }
        // t_{0.975} for 4, 9 and 29 degrees of freedom (standard tables, 6 digits).
        for (nu, value) in [(4.0, 2.776445), (9.0, 2.262157), (29.0, 2.045230)] {
            #expect(abs(SeedStatistics.studentTQuantile(0.975, degreesOfFreedom: nu) - value) <= 1e-6)
        }
        // Large nu approaches the normal quantile 1.959964.
        #expect(abs(SeedStatistics.studentTQuantile(0.975, degreesOfFreedom: 1e7) - 1.959964) <= 1e-5)
        #expect(abs(SeedStatistics.studentTQuantile(0.025, degreesOfFreedom: 9) + 2.262157) <= 1e-6)
    }

    @Test("summary: mean, sample sd and the t interval computed by hand")
    func summary() {
        let s = SeedStatistics.summary([1, 2, 3, 4, 5])
        // mean 3, sd sqrt(2.5), half-width t_{0.975,4} sqrt(2.5 / 5).
        #expect(abs(s.mean - 3) <= 1e-15)
        #expect(abs(s.standardDeviation - 2.5.squareRoot()) <= 1e-15)
        #expect(abs(s.halfWidth - 2.776445 * 0.5.squareRoot()) <= 1e-6)
        #expect(SeedStatistics.summary([4]).halfWidth == .infinity)
    }

    @Test("paired test: t and p by hand, and the degenerate cases")
    func paired() throws {
        // Differences 1, 2, 3: mean 2, sd 1, t = 2 sqrt(3); df 2, so p = 1 - t / sqrt(2 + t^2) by the closed form.
        let r = try #require(SeedStatistics.pairedTest([3, 5, 7], [2, 3, 4]))
        let t = 2 * 3.0.squareRoot()
        #expect(abs(r.t - t) <= 1e-12 && r.degreesOfFreedom == 2)
        #expect(abs(r.pValue - (1 - t / (2 + t * t).squareRoot())) <= 1e-12)
        #expect(SeedStatistics.pairedTest([1], [2]) == nil)
        #expect(SeedStatistics.pairedTest([1, 2], [1, 2])?.pValue == 1)
        #expect(SeedStatistics.pairedTest([2, 3], [1, 2])?.pValue == 0)
    }
}

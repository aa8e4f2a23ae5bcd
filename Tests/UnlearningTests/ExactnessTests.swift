import Testing
import LinearAlgebra
import Unlearning
import TestSupport

/// One randomly drawn problem of the exactness sweep.
struct ExactnessCase: Sendable, CustomTestStringConvertible {
    enum ForgetSize: String, Sendable, CaseIterable { case one, few, half }
    var overParameterized: Bool
    var outputs: Int
    var forget: ForgetSize
    var ridge: Double
    var seed: UInt64

    var testDescription: String {
        "\(overParameterized ? "M > N" : "M < N"), C = \(outputs), k = \(forget.rawValue), eps = \(ridge)"
    }

    static var all: [ExactnessCase] {
        var cases: [ExactnessCase] = []
        var seed: UInt64 = 100
        for over in [true, false] {
            for c in [1, 10] {
                for k in ForgetSize.allCases {
                    for eps in [0, 1e-2] {
                        cases.append(ExactnessCase(overParameterized: over, outputs: c, forget: k, ridge: eps, seed: seed))
                        seed += 1
                    }
                }
            }
        }
        return cases
    }
}

/// Every unlearning path against the retraining oracle, over random shapes in
/// both regimes, C = 1 and 10, k = 1, 3 and N/2, eps = 0 and 1e-2, with 1 and
/// 2 BLAS threads. The suite is serialized because it sets the process-wide
/// BLAS thread count.
@Suite("Exactness against retraining", .serialized)
struct ExactnessTests {
    @Test("every unlearning path agrees with retraining", arguments: ExactnessCase.all)
    func sweep(_ c: ExactnessCase) throws {
        for threads in [1, 2] {
            try withBLASThreads(threads) { try check(c, threads: threads) }
        }
    }

    func check(_ c: ExactnessCase, threads: Int) throws {
        var g = SeededGenerator(seed: c.seed)
        let n: Int, m: Int
        if c.overParameterized {
            n = 30 + Int(g.next() % 31)
            m = 2 * (n + Int(g.next() % UInt64(n + 1)))         // M in [2N, 4N], even
        } else {
            n = 80 + Int(g.next() % 61)
            m = 2 * (n / 16 + Int(g.next() % UInt64(n / 16 + 1)))  // M in [N/8, N/4], even
        }
        let k = c.forget == .one ? 1 : (c.forget == .few ? 3 : n / 2)
        let label = "\(c.testDescription), N = \(n), M = \(m), threads = \(threads)"
        let p = try SyntheticProblem(samples: n, features: m, outputs: c.outputs, seed: c.seed)
        let model = try MinNormModel(features: p.source(), targets: p.targets, initialParameters: p.theta0, ridge: c.ridge)
        #expect(model.form == (c.overParameterized ? .dual : .primal), "\(label)")
        let cond = try model.factor.conditionEstimate()
        try #require(cond <= 1e8, "\(label): cond \(cond) outside the range the 1e-9 target covers")

        let ids = p.randomIDs(k, seed: c.seed &+ 1)
        let forgotten = Set(ids)
        let keep = (0..<n).filter { !forgotten.contains($0) }
        let phi = try p.phi()

        // (a) The oracle, two independent routes.
        let thetaR = try model.retrainedParameters(excluding: ids, route: .pseudoInverse)
        let thetaRc = try model.retrainedParameters(excluding: ids, route: .cholesky)
        #expect(try model.distance(of: thetaRc, toRetrained: thetaR) <= 1e-9, "\(label): Cholesky vs gelsd oracle")
        // And gelsd on Phi_R computed here directly.
        let direct = try Retraining.minimumNormParameters(features: phi.selectingRows(keep), targets: p.targets.selectingRows(keep),
                                                          initialParameters: p.theta0, ridge: c.ridge).parameters
        #expect(try model.distance(of: direct, toRetrained: thetaR) <= 1e-12, "\(label)")

        // (b) MUSO optimal labels = Phi_F theta_R.
        let labels = try model.optimalLabels(forgetting: ids)
        let expected = Fixtures.naiveProduct(try phi.selectingRows(ids), thetaR)
        #expect(try Matrix.relativeDistance(labels, expected) <= 1e-9, "\(label): optimal labels")

        // (c) Relabel and fine-tune in closed form: exact for eps = 0 only.
        let (tuned, tunedCert) = try model.relabelAndFineTune(forgetting: ids, verification: .oracle(.pseudoInverse))
        let tunedDistance = try model.distance(of: tuned, toRetrained: thetaR)
        #expect(tunedCert.oracleDistance.map { abs($0 - tunedDistance) <= 1e-12 } == true)
        if c.ridge == 0 {
            // The verdict is drawn from the figures (isExact alone is a constant of the method).
            #expect(tunedCert.verdict == .exact, "\(label): \(tunedCert)")
            #expect(tunedDistance <= 1e-9, "\(label): relabel + fine-tune distance \(tunedDistance)")
            #expect(tunedCert.stationarityResidual <= 1e-9, "\(label)")
        } else {
            // Not exact, and not claimed to be: the distance is visibly nonzero.
            #expect(tunedCert.verdict == .notExact && tunedCert.note != nil, "\(label)")
            #expect(tunedDistance > 1e-9, "\(label): relabel + fine-tune with ridge came out at \(tunedDistance)")
        }

        // (d) Closed-form forget with factor deletion / downdate.
        var unlearned = model
        let result = try unlearned.forget(ids: ids, verification: .oracle(.pseudoInverse))
        let distance = try unlearned.distance(of: unlearned.parameters(), toRetrained: thetaR)
        #expect(distance <= 1e-9, "\(label): closed-form distance \(distance)")
        #expect(result.certificate.verdict == .exact, "\(label): \(result.certificate)")
        #expect(result.certificate.oracleDistance.map { $0 <= 1e-9 } == true)
        #expect(result.certificate.stationarityResidual <= 1e-9, "\(label)")
        if model.form == .dual { #expect((result.certificate.forgottenCoefficientResidual ?? 1) <= 1e-9, "\(label)") }
        #expect(result.certificate.conditionEstimate.map { $0 <= 1e8 } == true)
        #expect(unlearned.ids == keep && unlearned.sampleCount == n - k)
        #expect(Set(result.forgottenIDs) == forgotten)
        // The updated factor is the factor of the retained system.
        #expect(try unlearned.factorDrift() <= 1e-12, "\(label)")

        // Deferred theta update gives the same parameters.
        var deferred = model
        try deferred.forget(ids: ids, updateParameters: false)
        #expect(try deferred.distance(of: deferred.parameters(), toRetrained: thetaR) <= 1e-9, "\(label)")
    }
}

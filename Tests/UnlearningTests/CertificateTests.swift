import Testing
import LinearAlgebra
@testable import Unlearning
import TestSupport

/// The certificate's verdict comes from its figures, and can fail; a model's
/// state is checked against its data. The broken states are made by editing
/// a snapshot of a fitted model, so the engine's own arithmetic is honest and
/// only the state is wrong.
@Suite("Certificates and consistency")
struct CertificateTests {
    func fitted(form: MinNormModel.Form, ridge: Double = 0) throws -> (MinNormModel, SyntheticProblem) {
        let p = try SyntheticProblem(samples: 40, features: form == .dual ? 160 : 24, outputs: 2, seed: 81)
        let model = try MinNormModel(features: p.source(), targets: p.targets, initialParameters: p.theta0, ridge: ridge, form: form)
        return (model, p)
    }

    func rebuilt(_ model: MinNormModel, _ edit: (inout MinNormModel.Snapshot) -> Void) throws -> MinNormModel {
        var s = model.snapshot
        edit(&s)
        return try MinNormModel(features: model.features, snapshot: s)
    }

    @Test("an honest deletion is verified exact, and retraining by gelsd agrees", arguments: [MinNormModel.Form.dual, .primal])
    func honest(form: MinNormModel.Form) throws {
        var (model, p) = try fitted(form: form)
        try model.checkConsistency()
        let r = try model.forget(ids: [3, 11])
        #expect(r.certificate.verdict == .exact, "\(r.certificate)")
        #expect((r.certificate.factorResidual ?? 1) <= 1e-12, "\(r.certificate)")
        let keep = (0..<40).filter { $0 != 3 && $0 != 11 }
        let oracle = try Retraining.minimumNormParameters(features: p.phi().selectingRows(keep), targets: p.targets.selectingRows(keep),
                                                          initialParameters: p.theta0, ridge: 0).parameters
        #expect(try model.distance(of: model.parameters(), toRetrained: oracle) <= 1e-9)
        try model.checkConsistency()
    }

    @Test("a state whose coefficients do not solve its system: forget refuses and changes nothing, or applies it labelled unverified")
    func brokenState() throws {
        let (good, _) = try fitted(form: .dual)
        var broken = try rebuilt(good) { s in
            guard case var .dual(a) = s.solution else { return }
            a[5, 0] += 0.1
            s.solution = .dual(coefficients: a)
        }
        #expect(errorMessage { try broken.checkConsistency() }.contains("stationarity residual"))
        let idsBefore = broken.ids, factorBefore = broken.factor.lowerFactor
        let thrown = errorMessage { try broken.forget(ids: [7]) }
        #expect(thrown.contains("fails its certificate") && thrown.contains("UNVERIFIED: stationarity residual"), "\(thrown)")
        #expect(broken.ids == idsBefore && broken.factor.lowerFactor == factorBefore)
        let applied = try broken.forget(ids: [7], acceptingUnverified: true)
        guard case let .unverified(reason) = applied.certificate.verdict else {
            Issue.record("verdict \(applied.certificate.verdict)"); return
        }
        #expect(reason.contains("stationarity residual"))
        #expect(broken.ids.count == idsBefore.count - 1)
    }

    @Test("primal form: a moment that is not Phi^T T is found by the consistency check (the request certificate checks the solve only)")
    func brokenPrimalState() throws {
        let (good, _) = try fitted(form: .primal)
        let broken = try rebuilt(good) { s in
            guard case var .primal(b) = s.solution else { return }
            b[5, 0] += 0.1
            s.solution = .primal(moment: b)
            s.parameters = nil
        }
        #expect(errorMessage { try broken.checkConsistency() }.contains("||b - Phi^T T||"))
    }

    @Test("the verdict follows the figures: each bound can fail, NaN never passes, a method that is not exact is never called exact")
    func verdicts() {
        let bound = MinNormModel.residualBound(order: 100, condition: 1e4)
        #expect(abs(bound - 64 * 100 * 0x1p-53 * 1e4) <= 1e-25)
        #expect(MinNormModel.residualBound(order: 100, condition: 1e30) == 1e-6)
        #expect(MinNormModel.residualBound(order: 100, condition: .nan) == 1e-6)
        func cert(_ residual: Double, forgotten: Double? = nil, distance: Double? = nil, exact: Bool = true) -> Certificate {
            Certificate(isExact: exact, stationarityResidual: residual, forgottenCoefficientResidual: forgotten, conditionEstimate: 1e4,
                        order: 100, oracleDistance: distance, residualBound: bound)
        }
        #expect(cert(bound / 2).verdict == .exact)
        #expect(cert(bound * 2).verdict != .exact)
        #expect(cert(.nan).verdict != .exact)
        #expect(cert(bound / 2, forgotten: bound * 2).verdict != .exact)
        var probed = cert(bound / 2)
        probed.factorResidual = bound * 2
        #expect(probed.verdict != .exact)
        probed.factorResidual = bound / 2
        #expect(probed.verdict == .exact)
        #expect(cert(bound / 2, distance: 1e-10).verdict == .exact)
        #expect(cert(bound / 2, distance: 1e-5).verdict != .exact)
        #expect(cert(0, exact: false).verdict == .notExact)
        #expect(Certificate(isExact: true, stationarityResidual: 0).verdict == .exact)
        #expect(Certificate(isExact: true, stationarityResidual: 1e-300).verdict != .exact)  // no bound given: nothing passes but 0
    }

    @Test("consistency: a factor of other data, a perturbed offset or theta, and NaN are each found", arguments: [MinNormModel.Form.dual, .primal])
    func consistency(form: MinNormModel.Form) throws {
        let (good, _) = try fitted(form: form)
        let other = try SyntheticProblem(samples: 40, features: form == .dual ? 160 : 24, outputs: 2, seed: 82)
        let foreign = try MinNormModel(features: other.source(), targets: other.targets, initialParameters: other.theta0, form: form)
        let cases: [(String, (inout MinNormModel.Snapshot) -> Void, String)] = [
            ("factor", { $0.lowerFactor = foreign.factor.lowerFactor }, "does not belong to the features"),
            ("offsets", { $0.offsetTargets[2, 1] += 1e-4 }, "Phi theta0"),
            ("theta", { $0.parameters![3, 0] += 1e-4 }, form == .dual ? "Phi^T A" : "stationarity"),
            ("NaN", { $0.parameters![0, 0] = .nan }, "non-finite"),
        ]
        for (name, edit, expected) in cases {
            let m = try rebuilt(good, edit)
            let message = errorMessage { try m.checkConsistency() }
            #expect(message.contains(expected), "\(name): \(message)")
        }
    }
}

import Testing
import LinearAlgebra
import Unlearning
import TestSupport

@Suite("Errors instead of wrong numbers")
struct ErrorTests {
    func model(_ p: SyntheticProblem, ridge: Double = 0, form: MinNormModel.Form? = nil) throws -> MinNormModel {
        try MinNormModel(features: p.source(), targets: p.targets, initialParameters: p.theta0, ridge: ridge, form: form)
    }

    @Test("deletion requests: unknown, repeated, empty, already forgotten, everything")
    func requests() throws {
        let p = try SyntheticProblem(samples: 12, features: 40, seed: 60)
        var m = try model(p)
        // Captured before the refused requests, to show they change nothing.
        let before = try m.parameters(), factorBefore = m.factor.lowerFactor
        #expect(throws: UnlearningError.unknownIDs([99, -1])) { try m.forget(ids: [3, 99, -1]) }
        #expect(errorMessage { try m.forget(ids: [99]) }.contains("no sample with id 99"))
        #expect(throws: UnlearningError.repeatedIDs([4])) { try m.forget(ids: [4, 5, 4]) }
        #expect(errorMessage { try m.forget(ids: [4, 4]) }.contains("id 4 more than once"))
        #expect(throws: UnlearningError.emptyRequest) { try m.forget(ids: []) }
        #expect(throws: UnlearningError.forgetsEverySample(count: 12)) { try m.forget(ids: Array(0..<12)) }
        #expect(errorMessage { try m.forget(ids: Array(0..<12)) }.contains("all 12 training samples"))
        // The refused requests left the model as it was.
        #expect(m.sampleCount == 12)
        #expect(try m.parameters() == before && m.factor.lowerFactor == factorBefore)
        try m.forget(ids: [7])
        #expect(errorMessage { try m.forget(ids: [7]) }.contains("already forgotten"))
        #expect(errorMessage { _ = try m.optimalLabels(forgetting: [7]) }.contains("id 7"))
        #expect(errorMessage { _ = try m.retrainedParameters(excluding: [7], route: .pseudoInverse) }.contains("id 7"))
    }

    @Test("duplicate samples: the dual Gram is singular; the message names the sample and the remedies")
    func duplicateSamples() throws {
        var p = try SyntheticProblem(samples: 10, features: 40, seed: 61)
        for j in 0..<p.inputs.columns { p.inputs[6, j] = p.inputs[2, j] }
        let message = errorMessage { _ = try model(p) }
        #expect(message.contains("not positive definite"), "\(message)")
        #expect(message.contains("sample id 6"), "\(message)")
        #expect(message.contains("ridge > 0") && message.contains("pseudo-inverse"), "\(message)")
        // The remedies work: a ridge, or the pseudo-inverse route.
        let ridged = try model(p, ridge: 1e-3)
        #expect(try ridged.factor.conditionEstimate() < 1e8)
        let pinv = try Retraining.minimumNormParameters(features: p.phi(), targets: Matrix(rows: 10, columns: 1, repeating: 1), initialParameters: p.theta0)
        #expect(pinv.rank == 9)
    }

    @Test("N > M without ridge cannot be dual; M > N without ridge cannot be primal")
    func wrongForm() throws {
        let p = try SyntheticProblem(samples: 30, features: 10, seed: 62)
        let dual = errorMessage { _ = try model(p, form: .dual) }
        #expect(dual.contains("rank at most M = 10 < N") && dual.contains("ridge > 0"), "\(dual)")
        _ = try model(p, ridge: 0.1, form: .dual)  // fine with a ridge
        let q = try SyntheticProblem(samples: 10, features: 30, seed: 63)
        #expect(errorMessage { _ = try model(q, form: .primal) }.contains("rank at most N = 10 < M"))
    }

    @Test("primal deletion that leaves too few samples is refused, model unchanged")
    func primalRankLoss() throws {
        let p = try SyntheticProblem(samples: 40, features: 30, seed: 64)
        var m = try model(p)
        #expect(m.form == .primal)
        let before = try m.parameters()
        let message = errorMessage { try m.forget(ids: Array(0..<15)) }
        #expect(message.contains("no longer give Phi_R^T Phi_R full rank M = 30"), "\(message)")
        #expect(message.contains("ridge > 0"))
        #expect(m.sampleCount == 40)
        #expect(try m.parameters() == before)
        // A smaller request still works, exactly.
        let r = try m.forget(ids: [0, 1], verification: .oracle(.pseudoInverse))
        #expect(r.certificate.oracleDistance! <= 1e-9)
    }

    @Test("NaN and infinity are located, in targets, inputs, features and theta0")
    func nonFinite() throws {
        let p = try SyntheticProblem(samples: 8, features: 20, seed: 65)
        var y = p.targets
        y[5, 0] = .nan
        #expect(errorMessage { _ = try MinNormModel(features: p.source(), targets: y) }.contains("the targets holds a non-finite value (NaN or infinity) at row 5, column 0"))
        var x = p.inputs
        x[3, 1] = .infinity
        #expect(errorMessage { _ = try FeatureSource.generated(by: p.map, inputs: x) }.contains("inputs holds a non-finite value (NaN or infinity) at row 3, column 1"))
        var phi = try p.phi()
        phi[2, 7] = .nan
        #expect(errorMessage { _ = try FeatureSource.materialized(phi) }.contains("row 2, column 7"))
        var t0 = p.theta0
        t0[11, 0] = -.infinity
        #expect(errorMessage { _ = try MinNormModel(features: p.source(), targets: p.targets, initialParameters: t0) }.contains("theta0 holds a non-finite value (NaN or infinity) at row 11"))
        let m = try model(p)
        var bad = try p.phi()
        bad[0, 0] = .nan
        #expect(errorMessage { _ = try m.predict(features: bad) }.contains("row 0, column 0"))
    }

    @Test("mismatched shapes are named")
    func shapes() throws {
        let p = try SyntheticProblem(samples: 8, features: 20, outputs: 2, seed: 66)
        #expect(errorMessage { _ = try MinNormModel(features: p.source(), targets: Matrix(rows: 7, columns: 2)) }.contains("targets have 7 rows for 8 samples"))
        #expect(errorMessage { _ = try MinNormModel(features: p.source(), targets: p.targets, initialParameters: Matrix(rows: 20, columns: 3)) }
            .contains("theta0 is 20 x 3, expected M x C = 20 x 2"))
        #expect(errorMessage { _ = try MinNormModel(features: p.source(), targets: p.targets, ids: [1, 2, 3]) }.contains("3 ids for 8 samples"))
        #expect(errorMessage { _ = try MinNormModel(features: p.source(), targets: p.targets, ids: [0, 1, 2, 3, 4, 5, 6, 3]) }.contains("repeated: 3"))
        #expect(errorMessage { _ = try MinNormModel(features: p.source(), targets: p.targets, ridge: -1) }.contains("ridge must be finite and >= 0"))
        let m = try model(p)
        #expect(errorMessage { _ = try m.predict(features: Matrix(rows: 2, columns: 19)) }.contains("20 features, the matrix has 19 columns"))
        #expect(errorMessage { _ = try m.fineTuned(from: p.theta0, targets: Matrix(rows: 8, columns: 1)) }.contains("expected 8 x 2"))
        let given = try MinNormModel(features: FeatureSource.materialized(p.phi()), targets: p.targets)
        #expect(errorMessage { _ = try given.predict(inputs: p.inputs) }.contains("fitted on a given feature matrix"))
    }

    @Test("custom ids are what requests name")
    func customIDs() throws {
        let p = try SyntheticProblem(samples: 10, features: 40, seed: 67)
        let ids = (0..<10).map { 1000 + 7 * $0 }
        var m = try MinNormModel(features: p.source(), targets: p.targets, ids: ids, initialParameters: p.theta0)
        #expect(errorMessage { try m.forget(ids: [3]) }.contains("id 3"))
        let r = try m.forget(ids: [1014, 1049], verification: .oracle(.pseudoInverse))
        #expect(r.forgottenIDs == [1014, 1049])
        #expect(r.certificate.oracleDistance! <= 1e-9)
        #expect(!m.ids.contains(1014) && m.ids.count == 8)
    }
}

import Testing
import LinearAlgebra
import Unlearning
import TestSupport

@Suite("Sequential deletion requests")
struct SequentialTests {
    @Test("200 single deletions (dual) end where one retrain on the rest lands")
    func dualSequence() throws {
        let p = try SyntheticProblem(samples: 400, features: 1000, outputs: 2, seed: 50)
        var model = try MinNormModel(features: p.source(), targets: p.targets, initialParameters: p.theta0)
        let ids = p.randomIDs(200, seed: 51)
        var worstResidual = 0.0
        for id in ids {
            let r = try model.forget(ids: [id])
            worstResidual = max(worstResidual, r.certificate.stationarityResidual)
        }
        let keep = (0..<400).filter { !Set(ids).contains($0) }
        let oracle = try Retraining.minimumNormParameters(features: p.phi().selectingRows(keep), targets: p.targets.selectingRows(keep),
                                                          initialParameters: p.theta0).parameters
        let drift = try model.distance(of: model.parameters(), toRetrained: oracle)
        let factorDrift = try model.factorDrift()
        print("dual: 200 sequential deletions, N = 400 -> 200, M = 1000: distance to retraining \(drift), factor drift \(factorDrift), worst stationarity residual \(worstResidual)")
        #expect(drift <= 1e-9)
        #expect(factorDrift <= 1e-12)
        #expect(worstResidual <= 1e-10)
        #expect(model.ids == keep)
        // After 200 requests the state still passes the load-time check (its
        // tolerances cover the drift of a long sequence).
        try model.checkConsistency()
        // The incrementally updated theta equals theta0 + Phi_R^T A_R recomputed.
        var fresh = model
        try fresh.forget(ids: [keep[0]], updateParameters: false)
        var incremental = model
        try incremental.forget(ids: [keep[0]])
        #expect(try Matrix.relativeDistance(incremental.parameters(), fresh.parameters()) <= 1e-10)
    }

    @Test("200 single deletions (primal downdates) end where one retrain on the rest lands")
    func primalSequence() throws {
        let p = try SyntheticProblem(samples: 600, features: 50, outputs: 1, seed: 52)
        var model = try MinNormModel(features: p.source(), targets: p.targets, initialParameters: p.theta0)
        #expect(model.form == .primal)
        let ids = p.randomIDs(200, seed: 53)
        for id in ids { try model.forget(ids: [id]) }
        let keep = (0..<600).filter { !Set(ids).contains($0) }
        let oracle = try Retraining.minimumNormParameters(features: p.phi().selectingRows(keep), targets: p.targets.selectingRows(keep),
                                                          initialParameters: p.theta0).parameters
        let drift = try model.distance(of: model.parameters(), toRetrained: oracle)
        print("primal: 200 sequential downdates, N = 600 -> 400, M = 50: distance to retraining \(drift), factor drift \(try model.factorDrift())")
        #expect(drift <= 1e-9)
        #expect(try model.factorDrift() <= 1e-12)
        try model.checkConsistency()
    }

    @Test("streamed features give the same unlearning as held ones, with ridge")
    func streamed() throws {
        let p = try SyntheticProblem(samples: 60, features: 200, outputs: 3, seed: 54)
        var held = try MinNormModel(features: p.source(materialized: true), targets: p.targets, initialParameters: p.theta0, ridge: 1e-3)
        var streamed = try MinNormModel(features: p.source(materialized: false, blockSize: 48), targets: p.targets,
                                        initialParameters: p.theta0, ridge: 1e-3)
        let ids = p.randomIDs(7, seed: 55)
        try held.forget(ids: ids)
        let r = try streamed.forget(ids: ids, verification: .oracle(.cholesky))
        #expect(try Matrix.relativeDistance(streamed.parameters(), held.parameters()) <= 1e-12)
        #expect(r.certificate.oracleDistance! <= 1e-9)
        #expect(r.certificate.oracleRoute == .cholesky)
    }
}

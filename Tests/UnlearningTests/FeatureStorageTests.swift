import Testing
import LinearAlgebra
@testable import Unlearning
import TestSupport

@Suite("Features stored in float32")
struct FeatureStorageTests {
    @Test("a float32-stored model forgets exactly: equal to retraining on the same rounded features by another route",
          arguments: [true, false], [3, 24])
    func exactOnRoundedFeatures(materialized: Bool, k: Int) throws {
        let n = 60
        let p = try SyntheticProblem(samples: n, features: 300, outputs: 3, seed: 41)
        let source = try p.source(materialized: materialized).storing(.float32)
        #expect(source.featureStorage == .float32)
        if materialized { #expect(source.heldBytes == n * 300 * 4) }
        var model = try MinNormModel(features: source, targets: p.targets, initialParameters: p.theta0)
        let ids = p.randomIDs(k, seed: 5)
        try model.forget(ids: ids)
        let phi = try p.phi()
        let rounded = Matrix(rows: phi.rows, columns: phi.columns) { i, j in Double(Float(phi[i, j])) }
        let keep = (0..<n).filter { !ids.contains($0) }
        // The oracle: the SVD route on the double matrix of the rounded entries.
        let oracle = try Retraining.minimumNormParameters(features: rounded.selectingRows(keep), targets: p.targets.selectingRows(keep),
                                                          initialParameters: p.theta0, ridge: 0).parameters
        #expect(try model.distance(of: model.parameters(), toRetrained: oracle) <= 1e-9)
        // And the model is not the float64 one: retraining on the unrounded
        // features is farther away than the exactness tolerance.
        let unrounded = try Retraining.minimumNormParameters(features: phi.selectingRows(keep), targets: p.targets.selectingRows(keep),
                                                             initialParameters: p.theta0, ridge: 0).parameters
        #expect(try model.distance(of: model.parameters(), toRetrained: unrounded) > 1e-8)
    }

    /// A feature matrix read from elsewhere, block by block.
    struct Blocks: FeatureBlockProvider {
        let phi: Matrix
        var rowCount: Int { phi.rows }
        var columnCount: Int { phi.columns }
        func block(rows: [Int], columns: Range<Int>) throws -> Matrix {
            try phi.selectingRows(rows).selectingColumns(columns)
        }
    }

    @Test("a provided matrix held in float32: each entry is the float32 rounding of the provider's, and a non-finite block is refused by its columns")
    func providedMaterialized() throws {
        let p = try SyntheticProblem(samples: 30, features: 70, seed: 9)
        let phi = try p.phi()
        var source = try FeatureSource.provided(by: Blocks(phi: phi)).storing(.float32)
        source.blockSize = 16
        let held = try source.materialize()
        #expect(held.heldBytes == 30 * 70 * 4)
        let rows = Array(0..<30)
        #expect(try held.rows(rows) == Matrix(rows: 30, columns: 70) { i, j in Double(Float(phi[i, j])) })
        var bad = phi
        bad[4, 50] = .infinity
        var broken = try FeatureSource.provided(by: Blocks(phi: bad)).storing(.float32)
        broken.blockSize = 16
        #expect(errorMessage { _ = try broken.materialize() }.contains("columns 48..<64"))
    }

    @Test("rounding cannot be undone: float32 features refuse to become float64 again")
    func oneWay() throws {
        let p = try SyntheticProblem(samples: 10, features: 20, seed: 2)
        let single = try p.source().storing(.float32)
        #expect(errorMessage { _ = try single.storing(.float64) }.contains("already rounded to float32"))
        #expect(try single.storing(.float32).featureStorage == .float32)
    }
}

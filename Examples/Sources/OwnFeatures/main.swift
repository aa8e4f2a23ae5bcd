// A model on a feature matrix of your own: here 400 "embeddings" of
// dimension 1600 that live in a store the model reads block by block
// (`FeatureBlockProvider`), as a matrix too large to hold would. The model
// forgets two requests, and each result is compared with an independent
// retraining: the SVD minimum-norm solve on the retained rows.
import LinearAlgebra
import Unlearning

/// Embeddings computed on demand: row i is tanh(W z_i) for a latent z_i.
/// A real provider would read the rows and columns from a file or database.
struct EmbeddingStore: FeatureBlockProvider {
    let latent: Matrix   // N x 16
    let weights: Matrix  // 16 x M
    var rowCount: Int { latent.rows }
    var columnCount: Int { weights.columns }

    func block(rows: [Int], columns: Range<Int>) throws -> Matrix {
        let z = try latent.selectingRows(rows)
        var out = try Matrix.product(z, weights.selectingColumns(columns))
        out.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = (p[i] / 4).tanh() } }
        return out
    }
}

extension Double {
    func tanh() -> Double { Foundation.tanh(self) }
}

import Foundation

let n = 400, m = 1600, classes = 3
var g = SeededGenerator(seed: 5)
let store = EmbeddingStore(latent: Matrix(rows: n, columns: 16) { _, _ in g.nextNormal() },
                           weights: Matrix(rows: 16, columns: m) { _, _ in g.nextNormal() })
// One-hot targets of 3 classes; the ids are your own (what requests name).
let labels = (0..<n).map { i in store.latent[i, 0] > 0.5 ? 2 : (store.latent[i, 0] < -0.5 ? 0 : 1) }
let y = Matrix(rows: n, columns: classes) { i, c in labels[i] == c ? 1 : 0 }
let ids = (0..<n).map { 10_000 + $0 }

var source = FeatureSource.provided(by: store)
source.blockSize = 256   // the model asks for 256 columns at a time
var model = try MinNormModel(features: source, targets: y, ids: ids, ridge: 1e-8)
print("fitted: \(model.form) form, N = \(model.sampleCount), M = \(model.featureCount), cond(K) \(model.fittedConditionEstimate)")

var forgotten: Set<Int> = []
var worst = 0.0
for request in [[10_003, 10_250], Array(10_100..<10_140)] {
    let result = try model.forget(ids: request)
    forgotten.formUnion(request)
    // The oracle: retrain from scratch on the retained rows by the SVD route.
    let keep = (0..<n).filter { !forgotten.contains(ids[$0]) }
    let phiR = try store.block(rows: keep, columns: 0..<m)
    let oracle = try Retraining.minimumNormParameters(features: phiR, targets: y.selectingRows(keep),
                                                      initialParameters: Matrix(rows: m, columns: classes), ridge: 1e-8)
    let distance = try model.distance(of: model.parameters(), toRetrained: oracle.parameters)
    worst = max(worst, distance)
    print("forgot \(request.count): \(result.certificate.verdict); distance to SVD retraining \(distance)")
    guard case .exact = result.certificate.verdict else { print("OwnFeatures: FAILED"); exit(1) }
}
// Predictions for new samples take their feature rows.
let newRows = try store.block(rows: [0, 1, 2], columns: 0..<m)
let outputs = try model.predict(features: newRows)
guard worst <= 1e-9, model.sampleCount == n - 42, outputs.rows == 3 else { print("OwnFeatures: FAILED (distance \(worst))"); exit(1) }
print("OwnFeatures: \(model.sampleCount) samples remain; largest distance to retraining \(worst)")

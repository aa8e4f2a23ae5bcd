import Benchmark
import Foundation
import LinearAlgebra
import Unlearning
import UnlearningIO

// The engine's steps at the CI size, N = 1500 Fashion-MNIST images (d = 784),
// M = 4N random Fourier features, ten one-hot outputs. Wall-clock figures
// are for reading (this machine is shared and noisy); the CI gate reads the
// allocation counts, which are deterministic, and takes its time ratios from
// `muso bench --check` (medians side by side in one run).

let n = Int(ProcessInfo.processInfo.environment["MUSO_BENCH_N"] ?? "") ?? 1500
let m = 4 * n

struct Problem: @unchecked Sendable {
    let x: Matrix
    let y: Matrix
    let map: RandomFourierFeatures
    let theta0: Matrix
    let phi: FeatureSource
    let gram: Matrix
    let model: MinNormModel
    /// The same model on features stored in float32.
    let singleModel: MinNormModel
    /// T = Y - Phi theta0, what the cached-Gram retraining solves for.
    let offsets: Matrix
    let ids: [Int]

    static let shared: Problem = {
        let data = try! FashionMNIST.load(.train, limit: n, seed: 1)
        let y = try! TargetCoding.oneHot.targets(labels: data.labels, classes: Array(0...9))
        let map = try! RandomFourierFeatures(inputDimension: 784, featureCount: m, bandwidth: 11.6, seed: 1)
        let theta0 = InitialParameters.gaussian(features: m, outputs: 10, standardDeviation: 1 / Double(m).squareRoot(), seed: 2)
        let phi = try! FeatureSource.generated(by: map, inputs: data.inputs).materialize()
        let gram = try! phi.gram(rows: Array(0..<n))
        let model = try! MinNormModel(features: phi, targets: y, initialParameters: theta0, form: .dual)
        var g = SeededGenerator(seed: 7)
        var order = Array(0..<n)
        order.shuffle(using: &g)
        let offsets = try! y - phi.apply(rows: Array(0..<n), to: theta0)
        let single = try! FeatureSource.generated(by: map, inputs: data.inputs).storing(.float32).materialize()
        let singleModel = try! MinNormModel(features: single, targets: y, initialParameters: theta0, form: .dual)
        return Problem(x: data.inputs, y: y, map: map, theta0: theta0, phi: phi, gram: gram, model: model, singleModel: singleModel,
                       offsets: offsets, ids: order)
    }()
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident],
        warmupIterations: 1,
        scalingFactor: .one,
        maxDuration: .seconds(5),
        maxIterations: 7
    )
    let p = Problem.shared

    Benchmark("DGEMM_projection") { benchmark in
        let w = p.map.frequencies
        benchmark.startMeasurement()
        blackHole(try Matrix.product(p.x, w))
    }
    Benchmark("FeatureGeneration") { _ in
        blackHole(try p.map.features(of: p.x))
    }
    Benchmark("DSYRK_gram_shape") { benchmark in
        let phi = try p.phi.rows(Array(0..<n))
        var k = Matrix(rows: n, columns: n)
        benchmark.startMeasurement()
        try k.addGram(of: phi, beta: 0)
        blackHole(k)
    }
    Benchmark("GramFormation") { _ in
        blackHole(try p.phi.gram(rows: Array(0..<n)))
    }
    Benchmark("Factorisation") { benchmark in
        let k = p.gram
        benchmark.startMeasurement()
        blackHole(try Cholesky(factoring: k))
    }
    Benchmark("RetrainFromScratch_k1") { _ in
        let keep = Array(p.ids.dropFirst())
        let source = try FeatureSource.generated(by: p.map, inputs: p.x.selectingRows(keep)).materialize()
        blackHole(try MinNormModel(features: source, targets: p.y.selectingRows(keep), initialParameters: p.theta0, form: .dual))
    }
    for k in [1, 100] {
        Benchmark("RetrainCachedGram_k\(k)") { _ in
            let keep = Array(p.ids.dropFirst(k)).sorted()
            let f = try Cholesky(factoring: p.gram.principalSubmatrix(keep))
            let a = try f.solve(p.offsets.selectingRows(keep))
            blackHole(try p.phi.applyTransposed(rows: keep, to: a))
        }
    }
    for k in [1, 10, 100] {
        Benchmark("Unlearn_k\(k)") { benchmark in
            var model = p.model
            model.makeStorageUnique()
            benchmark.startMeasurement()
            blackHole(try model.forget(ids: Array(p.ids.prefix(k))))
        }
    }
    // Features held in float32 (arithmetic in double): the fit and a request.
    for storage in FeatureStorage.allCases {
        Benchmark("Fit_\(storage.rawValue)") { _ in
            let source = try FeatureSource.generated(by: p.map, inputs: p.x).storing(storage).materialize()
            blackHole(try MinNormModel(features: source, targets: p.y, initialParameters: p.theta0, form: .dual))
        }
    }
    Benchmark("Unlearn_k10_float32") { benchmark in
        var model = p.singleModel
        model.makeStorageUnique()
        benchmark.startMeasurement()
        blackHole(try model.forget(ids: Array(p.ids.prefix(10))))
    }
    Benchmark("MusoLabels_k10") { _ in
        blackHole(try p.model.optimalLabels(forgetting: Array(p.ids.prefix(10))))
    }
    Benchmark("Sequence100SingleDeletions", configuration: .init(maxIterations: 3)) { benchmark in
        var model = p.model
        model.makeStorageUnique()
        benchmark.startMeasurement()
        for id in p.ids.prefix(100) { try model.forget(ids: [id], updateParameters: false) }
        try model.materializeParameters()
        blackHole(model)
    }
}

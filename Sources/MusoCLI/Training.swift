import ArgumentParser
import Foundation
import LinearAlgebra
import Unlearning
import UnlearningIO

package enum FeatureMapKind: String, ExpressibleByArgument, CaseIterable {
    case rff, relu
}

extension FeatureStorage: ExpressibleByArgument {}

package enum CodingChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, signed, onehot
}

/// The options that define a model, shared by `muso train` and `muso-mpi train`.
package struct ModelOptions: ParsableArguments {
    package init() {}

    @Option(name: [.customShort("m"), .long], help: "Number of random features M (ignored with --data npy).")
    package var features = 16000

    @Option(help: "Feature map (\(FeatureMapKind.allCases.map(\.rawValue).joined(separator: ", "))).")
    package var featureMap: FeatureMapKind = .rff

    @Option(help: "Kernel bandwidth sigma (rff) or weight scale (relu); default: the median distance between inputs.")
    package var bandwidth: Double?

    @Option(help: "Ridge eps >= 0.")
    package var ridge = 0.0

    @Option(help: "Seed for the subset, the features and theta0.")
    package var seed: UInt64 = 0

    @Option(help: "Standard deviation of theta0's entries (default 1/sqrt(M); 0 for theta0 = 0).")
    package var initScale: Double?

    @Option(help: "Target coding (\(CodingChoice.allCases.map(\.rawValue).joined(separator: ", "))).")
    package var coding: CodingChoice = .auto

    @Option(help: "Feature storage: float64, or float32 (every feature rounded to float32 and held in half the bytes; arithmetic in double; the model is exact for the rounded features).")
    package var featureStorage: FeatureStorage = .float64

    package func validate() throws {
        guard features >= 2 else { throw ValidationError("--features must be at least 2") }
        if featureMap == .rff && features % 2 != 0 { throw ValidationError("--features must be even for rff (cos/sin pairs)") }
        guard ridge >= 0, ridge.isFinite else { throw ValidationError("--ridge must be a finite number >= 0") }
        if let bandwidth, !(bandwidth > 0) { throw ValidationError("--bandwidth must be positive") }
        if let initScale, !(initScale >= 0) { throw ValidationError("--init-scale must be >= 0") }
    }
}

/// Everything a fit needs, made from the options: the feature source over
/// the loaded samples, the rows of it to fit, targets, theta0 and what is
/// saved to describe them.
package struct PreparedTraining {
    package var loaded: LoadedData
    package var classes: [Int]
    package var coding: TargetCoding
    package var targets: Matrix
    package var source: FeatureSource
    package var rows: [Int]
    package var mapDescription: FeatureMapDescription
    package var initialParameters: Matrix

    /// Loads the data and builds the features' description and theta0.
    /// - Parameter materializing: hold generated features in memory (one
    ///   machine); leave them generated (each MPI process makes its own rows).
    package init(data: DataOptions, model o: ModelOptions, materializing: Bool) throws {
        loaded = try loadTraining(data, seed: o.seed)
        classes = Array(Set(loaded.labels)).sorted()
        guard classes.count >= 2 else {
            throw Failure("the training data hold \(classes.count) class; at least two are needed")
        }
        switch o.coding {
        case .auto: coding = classes.count == 2 ? .signed : .oneHot
        case .signed: coding = .signed
        case .onehot: coding = .oneHot
        }
        targets = try coding.targets(labels: loaded.labels, classes: classes)
        if let x = loaded.data?.inputs {
            let sigma = o.bandwidth ?? medianDistance(x, seed: o.seed)
            let map: any FeatureMap = o.featureMap == .rff
                ? try RandomFourierFeatures(inputDimension: x.columns, featureCount: o.features, bandwidth: sigma, seed: o.seed &+ 1)
                : try RandomReLUFeatures(inputDimension: x.columns, featureCount: o.features, scale: sigma, seed: o.seed &+ 1)
            let generated = try FeatureSource.generated(by: map, inputs: x).storing(o.featureStorage)
            if materializing { Progress.report("generating \(o.features) features for \(x.rows) samples") }
            source = materializing ? try generated.materialize() : generated
            mapDescription = try FeatureMapDescription(map: map)
            rows = Array(0..<x.rows)
        } else {
            let file = loaded.features!
            source = try FeatureSource.provided(by: file).storing(o.featureStorage)
            mapDescription = FeatureMapDescription(npyPath: URL(fileURLWithPath: file.path).standardizedFileURL.path,
                                                   featureCount: file.columnCount, rows: loaded.rows)
            rows = loaded.rows
        }
        let m = source.featureCount
        let scale = o.initScale ?? 1 / Double(m).squareRoot()
        initialParameters = scale == 0 ? InitialParameters.zeros(features: m, outputs: targets.columns)
            : InitialParameters.gaussian(features: m, outputs: targets.columns, standardDeviation: scale, seed: o.seed &+ 2)
    }
}

/// The arrays that define a feature map, as `export` writes them:
/// frequencies (d x M/2) for random Fourier features, weights (d x M) and
/// biases (M x 1) for random ReLU features; nil for a feature file.
package func featureMapArrays(_ map: (any FeatureMap)?) -> [(name: String, matrix: Matrix)]? {
    switch map {
    case let rff as RandomFourierFeatures: return [("frequencies", rff.frequencies)]
    case let relu as RandomReLUFeatures: return [("weights", relu.weights), ("biases", Matrix(column: relu.biases))]
    default: return nil
    }
}

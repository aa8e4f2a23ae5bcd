import ArgumentParser
import Foundation
import LinearAlgebra
import Unlearning
import UnlearningIO

enum FeatureMapKind: String, ExpressibleByArgument, CaseIterable {
    case rff, relu
}

enum CodingChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, signed, onehot
}

enum FormChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, dual, primal
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fit the min-norm random-feature model and write a model file.",
        discussion: """
        The model is theta* = theta0 + Phi^+ (Y - Phi theta0), the limit of gradient descent from \
        theta0 on the squared loss (with --ridge eps > 0, the minimiser of ||Phi theta - Y||^2 + \
        eps ||theta - theta0||^2). Phi holds M random features of the inputs (random Fourier \
        features of the Gaussian kernel, or random ReLU features), or the given .npy matrix. Labels \
        become targets: +-1 for two classes (signed), one column per class otherwise (one-hot).

        Examples:
          muso train --classes 0,6 --limit 4000 --features 16000 --output pair.muso
          muso train --limit 4000 --features 16000 --output ten.muso
          muso train --data csv --path data.csv --features 2000 --output my.muso
          muso train --data npy --path emb.npy --labels y.npy --output emb.muso
        """
    )

    @OptionGroup var data: DataOptions
    @OptionGroup var common: CommonOptions

    @Option(name: [.customShort("m"), .long], help: "Number of random features M (ignored with --data npy).")
    var features = 16000

    @Option(help: "Feature map (\(FeatureMapKind.allCases.map(\.rawValue).joined(separator: ", "))).")
    var featureMap: FeatureMapKind = .rff

    @Option(help: "Kernel bandwidth sigma (rff) or weight scale (relu); default: the median distance between inputs.")
    var bandwidth: Double?

    @Option(help: "Ridge eps >= 0.")
    var ridge = 0.0

    @Option(help: "Seed for the subset, the features and theta0.")
    var seed: UInt64 = 0

    @Option(help: "Standard deviation of theta0's entries (default 1/sqrt(M); 0 for theta0 = 0).")
    var initScale: Double?

    @Option(help: "Target coding (\(CodingChoice.allCases.map(\.rawValue).joined(separator: ", "))).")
    var coding: CodingChoice = .auto

    @Option(help: "Force the dual or primal form (\(FormChoice.allCases.map(\.rawValue).joined(separator: ", "))).")
    var form: FormChoice = .auto

    @Option(name: [.customShort("o"), .long], help: "The model file to write.")
    var output: String

    func validate() throws {
        guard features >= 2 else { throw ValidationError("--features must be at least 2") }
        if featureMap == .rff && features % 2 != 0 { throw ValidationError("--features must be even for rff (cos/sin pairs)") }
        guard ridge >= 0, ridge.isFinite else { throw ValidationError("--ridge must be a finite number >= 0") }
        if let bandwidth, !(bandwidth > 0) { throw ValidationError("--bandwidth must be positive") }
        if let initScale, !(initScale >= 0) { throw ValidationError("--init-scale must be >= 0") }
    }

    func run() throws {
        common.apply()
        let loaded = try loadTraining(data, seed: seed)
        let classes = Array(Set(loaded.labels)).sorted()
        guard classes.count >= 2 else {
            throw Failure("the training data hold \(classes.count) class; at least two are needed")
        }
        let chosenCoding: TargetCoding
        switch coding {
        case .auto: chosenCoding = classes.count == 2 ? .signed : .oneHot
        case .signed: chosenCoding = .signed
        case .onehot: chosenCoding = .oneHot
        }
        let y = try chosenCoding.targets(labels: loaded.labels, classes: classes)
        let source: FeatureSource
        let mapDescription: FeatureMapDescription
        var rows: [Int]
        if let x = loaded.data?.inputs {
            let sigma = bandwidth ?? medianDistance(x, seed: seed)
            let map: any FeatureMap = featureMap == .rff
                ? try RandomFourierFeatures(inputDimension: x.columns, featureCount: features, bandwidth: sigma, seed: seed &+ 1)
                : try RandomReLUFeatures(inputDimension: x.columns, featureCount: features, scale: sigma, seed: seed &+ 1)
            Progress.report("generating \(features) features for \(x.rows) samples")
            source = try FeatureSource.generated(by: map, inputs: x).materialize()
            mapDescription = try FeatureMapDescription(map: map)
            rows = Array(0..<x.rows)
        } else {
            let file = loaded.features!
            source = FeatureSource.provided(by: file)
            mapDescription = FeatureMapDescription(npyPath: URL(fileURLWithPath: file.path).standardizedFileURL.path,
                                                   featureCount: file.columnCount, rows: loaded.rows)
            rows = loaded.rows
        }
        let m = source.featureCount
        let scale = initScale ?? 1 / Double(m).squareRoot()
        let theta0 = scale == 0 ? InitialParameters.zeros(features: m, outputs: y.columns)
            : InitialParameters.gaussian(features: m, outputs: y.columns, standardDeviation: scale, seed: seed &+ 2)
        Progress.report("fitting: Gram matrix, factorisation, solve (N = \(rows.count), M = \(m))")
        let (model, seconds) = try timed {
            try MinNormModel(features: source, rows: rows, targets: y, ids: loaded.ids, initialParameters: theta0, ridge: ridge,
                             form: form == .auto ? nil : (form == .dual ? .dual : .primal))
        }
        // Block by block: a mapped feature file is never read whole.
        let predicted = chosenCoding.predictedClasses(try source.apply(rows: rows, to: model.parameters()), classes: classes)
        let trainAccuracy = accuracy(predicted, loaded.labels)
        let file = ModelFile(model: model, featureMap: mapDescription, data: loaded.description, coding: chosenCoding)
        Progress.report("writing \(output)")
        let lock = try FileLock.acquire(output, wait: 0)
        defer { lock.release() }
        try file.write(to: output)
        if common.json {
            try printJSON(["model": output, "samples": model.sampleCount, "features": m, "outputs": model.outputCount,
                           "classes": classes, "coding": chosenCoding.rawValue, "form": model.form.rawValue, "ridge": ridge,
                           "feature_map": mapDescription.kind, "bandwidth": mapDescription.bandwidth as Any,
                           "fit_seconds": seconds, "condition_estimate": model.fittedConditionEstimate,
                           "train_accuracy": trainAccuracy])
        } else {
            print("trained \(output): N = \(model.sampleCount), M = \(m), C = \(model.outputCount) (\(chosenCoding.rawValue), classes \(classes.map(String.init).joined(separator: ",")))")
            print("  \(model.form.rawValue) form, ridge \(ridge), \(mapDescription.kind) features\(mapDescription.bandwidth.map { String(format: ", bandwidth %.4g", $0) } ?? "")")
            print(String(format: "  fit %.2f s, cond(K) estimate %.3e, training accuracy %.4f", seconds, model.fittedConditionEstimate, trainAccuracy))
        }
    }
}

/// Reads a model file, resolving a .npy feature file from its stored path.
/// A command that only reads also removes temporary files a killed writer
/// left next to it, when no request holds the model's lock.
func readModel(_ path: String) throws -> ModelFile {
    FileLock.removeStaleTemporaries(of: path)
    return try ModelFile.read(from: path) { npy in FeatureSource.provided(by: try NPYFile(path: npy)) }
}

import ArgumentParser
import Foundation
import LinearAlgebra
import Unlearning
import UnlearningIO
import MusoCLI

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

    @OptionGroup var spec: ModelOptions

    @Option(help: "Force the dual or primal form (\(FormChoice.allCases.map(\.rawValue).joined(separator: ", "))).")
    var form: FormChoice = .auto

    @Option(name: [.customShort("o"), .long], help: "The model file to write.")
    var output: String

    func run() throws {
        common.apply()
        let prepared = try PreparedTraining(data: data, model: spec, materializing: true)
        let (loaded, classes, chosenCoding, y) = (prepared.loaded, prepared.classes, prepared.coding, prepared.targets)
        let (source, mapDescription, rows, theta0) = (prepared.source, prepared.mapDescription, prepared.rows, prepared.initialParameters)
        let m = source.featureCount
        Progress.report("fitting: Gram matrix, factorisation, solve (N = \(rows.count), M = \(m))")
        let (model, seconds) = try timed {
            try MinNormModel(features: source, rows: rows, targets: y, ids: loaded.ids, initialParameters: theta0, ridge: spec.ridge,
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
                           "classes": classes, "coding": chosenCoding.rawValue, "form": model.form.rawValue, "ridge": model.ridge,
                           "feature_map": mapDescription.kind.rawValue, "bandwidth": mapDescription.bandwidth as Any,
                           "fit_seconds": seconds, "condition_estimate": model.fittedConditionEstimate,
                           "train_accuracy": trainAccuracy])
        } else {
            print("trained \(output): N = \(model.sampleCount), M = \(m), C = \(model.outputCount) (\(chosenCoding.rawValue), classes \(classes.map(String.init).joined(separator: ",")))")
            print("  \(model.form.rawValue) form, ridge \(model.ridge), \(mapDescription.kind) features\(mapDescription.bandwidth.map { String(format: ", bandwidth %.4g", $0) } ?? "")")
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

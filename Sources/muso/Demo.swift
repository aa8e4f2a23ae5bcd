import ArgumentParser
import Foundation
import LinearAlgebra
import Unlearning
import UnlearningIO
import MusoCLI

enum DemoData: String, ExpressibleByArgument, CaseIterable {
    case fashionMnist = "fashion-mnist", synthetic
}

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train, forget 1% of the samples exactly, and compare with retraining.",
        discussion: """
        Takes N Fashion-MNIST training images (all ten classes, one-hot targets; or, with --data \
        synthetic, N inputs in R^d from a mixture of C Gaussian classes), maps them with M random \
        Fourier features, fits the min-norm model, forgets k random samples (default 1%) with the \
        closed-form update (plus Givens deletion of the Cholesky factor), and retrains from scratch \
        on the rest for comparison. Prints both times and the relative parameter distance \
        ||theta_unlearned - theta_R|| / ||theta_R - theta0||.
        """
    )

    @Option(name: [.customShort("n"), .long], help: "Number of training samples N.")
    var samples = 4000
    @Option(name: [.customShort("m"), .long], help: "Number of random features M (even).")
    var features = 16000
    @Option(name: [.customShort("d"), .long], help: "Input dimension d (synthetic data).")
    var dimension = 64
    @Option(name: [.customShort("c"), .long], help: "Number of classes C (synthetic data).")
    var classes = 2
    @Option(name: [.customShort("k"), .long], help: "Number of samples to forget (default: 1% of N).")
    var forget: Int?
    @Option(help: "Data (\(DemoData.allCases.map(\.rawValue).joined(separator: ", "))).")
    var data: DemoData = .fashionMnist
    @Option(help: "Ridge eps >= 0.")
    var ridge = 0.0
    @Option(help: "Kernel bandwidth sigma of the random Fourier features (default: median distance; 8 for synthetic data).")
    var bandwidth: Double?
    @Option(help: "Seed for data, features, theta0 and the forget set.")
    var seed: UInt64 = 1
    @Flag(help: "Generate features block by block instead of holding Phi in memory.")
    var streaming = false
    @OptionGroup var common: CommonOptions

    func validate() throws {
        guard samples >= 2 else { throw ValidationError("--samples must be at least 2") }
        guard features >= 2, features % 2 == 0 else { throw ValidationError("--features must be even and at least 2 (cos/sin pairs)") }
        guard dimension >= 1, classes >= 1 else { throw ValidationError("--dimension and --classes must be positive") }
        if let forget { guard forget >= 1, forget < samples else { throw ValidationError("--forget must be between 1 and N - 1 = \(samples - 1)") } }
        guard ridge >= 0 else { throw ValidationError("--ridge must be >= 0") }
        if let bandwidth { guard bandwidth > 0 else { throw ValidationError("--bandwidth must be positive") } }
    }

    func run() throws {
        common.apply()
        // Timed code runs unobserved: the same code on a terminal as in a pipe.
        try WorkProgress.unobserved { try job() }
    }

    func job() throws {
        var g = SeededGenerator(seed: seed)
        let x: Matrix, y: Matrix
        switch data {
        case .fashionMnist:
            Progress.report("reading Fashion-MNIST")
            let d = try FashionMNIST.load(.train, limit: samples, seed: seed)
            x = d.inputs
            y = try TargetCoding.oneHot.targets(labels: d.labels, classes: d.classes)
        case .synthetic:
            // Class means N(0, 1.5^2 I): overlapping classes, unit noise.
            let means = Matrix(rows: classes, columns: dimension) { _, _ in 1.5 * g.nextNormal() }
            var xs = Matrix(rows: samples, columns: dimension)
            var ys = Matrix(rows: samples, columns: classes)
            for i in 0..<samples {
                let c = Int(g.next() % UInt64(classes))
                for j in 0..<dimension { xs[i, j] = means[c, j] + g.nextNormal() }
                ys[i, c] = 1
            }
            x = xs
            y = ys
        }
        let n = x.rows, outputs = y.columns
        let forget = self.forget ?? max(1, n / 100)
        let sigma = bandwidth ?? (data == .synthetic ? 8 : medianDistance(x, seed: seed))
        let map = try RandomFourierFeatures(inputDimension: x.columns, featureCount: features, bandwidth: sigma, seed: seed &+ 1)
        var source = try FeatureSource.generated(by: map, inputs: x)
        let theta0 = InitialParameters.gaussian(features: features, outputs: outputs,
                                                standardDeviation: 1 / Double(features).squareRoot(), seed: seed &+ 2)
        var ids = Array(0..<n)
        ids.shuffle(using: &g)
        let request = Array(ids.prefix(forget))

        func say(_ line: String) { if !common.json { print(line) } }
        say("problem: \(data == .fashionMnist ? "Fashion-MNIST" : "synthetic"), N = \(n), M = \(features), d = \(x.columns), C = \(outputs), k = \(forget) forgotten, ridge = \(ridge), bandwidth \(String(format: "%.4g", sigma))")
        say("BLAS: OpenBLAS \(BLASThreads.coreName) kernel, \(BLASThreads.count) threads; Gram: \(GramKernel.preferred.name); sin/cos \(RandomFourierFeatures.sinCosInstructionSet); features \(streaming ? "streamed" : "held in memory")")
        Progress.report("generating features and fitting ...")
        let t0 = Date()
        if !streaming { source = try source.materialize() }
        var model = try MinNormModel(features: source, targets: y, initialParameters: theta0, ridge: ridge)
        let fitTime = Date().timeIntervalSince(t0)
        say(String(format: "train:   %8.3f s  (%@ form)", fitTime, model.form.rawValue))

        Progress.report("retraining from scratch on the retained samples ...")
        let t1 = Date()
        let keep = Set(request)
        let retainedRows = (0..<n).filter { !keep.contains($0) }
        let retainedSource = try FeatureSource.generated(by: map, inputs: x.selectingRows(retainedRows))
        let retrainedModel = try MinNormModel(
            features: streaming ? retainedSource : retainedSource.materialize(),
            targets: y.selectingRows(retainedRows), initialParameters: theta0, ridge: ridge, form: model.form)
        let thetaR = try retrainedModel.parameters()
        let retrainTime = Date().timeIntervalSince(t1)
        say(String(format: "retrain: %8.3f s  (features, Gram, factorisation, solve on N - k = %d)", retrainTime, retainedRows.count))

        Progress.report("forgetting \(forget) samples ...")
        let t2 = Date()
        let result = try model.forget(ids: request)
        let theta = try model.parameters()
        let unlearnTime = Date().timeIntervalSince(t2)
        let distance = try model.distance(of: theta, toRetrained: thetaR)
        say(String(format: "unlearn: %8.3f s  (closed form, factor deletion, theta update)", unlearnTime))
        say(String(format: "speed-up: %.1fx", retrainTime / unlearnTime))
        say(String(format: "relative distance to retraining ||theta - theta_R|| / ||theta_R - theta0|| = %.3e", distance))
        say("certificate: \(result.certificate)")
        if common.json {
            try printJSON(["data": data.rawValue, "samples": n, "features": features, "outputs": outputs, "forgotten": forget,
                           "ridge": ridge, "form": model.form.rawValue, "blas_kernel": BLASThreads.coreName, "gram_kernel": GramKernel.preferred.name, "threads": BLASThreads.count,
                           "streaming": streaming, "train_seconds": fitTime, "retrain_seconds": retrainTime,
                           "unlearn_seconds": unlearnTime, "speedup": retrainTime / unlearnTime,
                           "relative_distance_to_retrain": distance, "certificate": certificateJSON(result.certificate)])
        }
    }
}


import ArgumentParser
import Foundation
import LinearAlgebra
import Unlearning
import UnlearningIO
import MusoCLI

struct Experiment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reproduce the paper's experiments.",
        subcommands: [LinearExperiment.self, NetworkExperiment.self]
    )
}

enum Scenario: String, ExpressibleByArgument, CaseIterable {
    /// Two classes, a random subset forgotten.
    case pair
    /// Ten classes, a random subset forgotten.
    case ten
    /// Ten classes, one whole class forgotten.
    case `class`
}

/// One method's figures for one seed.
struct MethodRun {
    var evaluation: Evaluation
    var squaredDistancePerFeature: Double
    var relativeDistance: Double
    var seconds: Double
}

struct LinearExperiment: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linear",
        abstract: "The paper's linear table on Fashion-MNIST: MUSO against retraining and the usual baselines.",
        discussion: """
        For each scenario and seed: draw N training samples (seeded), map them to M random Fourier \
        features (bandwidth: median distance), train theta* from theta0 ~ N(0, 1/M), pick the forget \
        set (a random share, or one whole class), and compare: Retrain (from scratch on the rest), \
        the Original model, random relabeling (Amnesiac), bad-teacher labels (the untrained model's \
        outputs), fine-tuning on retained data only, gradient ascent on the forget set, MUSO by SGD \
        fine-tuning on the relabeled data, and MUSO in closed form. The SGD-based methods run \
        mini-batch SGD on the squared loss from theta*, constant step 1 / max_i ||phi_i||^2, for a \
        fixed number of epochs (MUSO-SGD may stop earlier when its gradient falls below 1e-10 of its \
        start). Columns: accuracy on test, forget and retain sets, MIA (share of forgotten samples \
        called members), parameter distance to Retrain (||theta - theta_R||^2 / M, as the paper, and \
        relative), wall time; mean and standard deviation over the seeds.
        """
    )

    @Option(help: "Scenarios, comma-separated (\(Scenario.allCases.map(\.rawValue).joined(separator: ", "))).")
    var scenarios = "pair,ten,class"

    @Option(name: [.customShort("n"), .long], help: "Training samples N per run.")
    var samples = 4000

    @Option(name: [.customShort("m"), .long], help: "Random Fourier features M.")
    var features = 16000

    @Option(help: "Seeds (runs per scenario).")
    var seeds = 3

    @Option(help: "Share of the training samples forgotten in the random-subset scenarios.")
    var forgetFraction = 0.1

    @Option(help: "The class pair of the binary scenario.")
    var pair = ClassList([0, 6])

    @Option(help: "The class forgotten in the class scenario.")
    var forgetClass = 0

    @Option(help: "Epochs of the SGD-based methods.")
    var epochs = 10

    @Option(help: "Mini-batch size of the SGD-based methods.")
    var batchSize = 64

    @Option(help: "Test samples per run (seeded subset of the test split).")
    var testLimit = 2000

    @OptionGroup var fashion: FashionMNISTOption

    @Option(help: "Also write the table as CSV to this file.")
    var csv: String?

    @OptionGroup var common: CommonOptions

    static let methods = ["Retrain", "Original", "Random labels", "Bad teacher", "Fine-tune", "Gradient ascent", "MUSO (SGD)", "MUSO (closed form)"]

    func validate() throws {
        for s in scenarios.split(separator: ",") where Scenario(rawValue: String(s)) == nil {
            throw ValidationError("unknown scenario '\(s)' (choose from \(Scenario.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard samples >= 20, features >= 2, features % 2 == 0 else { throw ValidationError("need --samples >= 20 and an even --features") }
        guard seeds >= 1, epochs >= 1, batchSize >= 1, testLimit >= 10 else { throw ValidationError("--seeds, --epochs, --batch-size must be positive, --test-limit at least 10") }
        guard forgetFraction > 0, forgetFraction < 1 else { throw ValidationError("--forget-fraction must be in (0, 1)") }
        guard (pair.classes?.count ?? 0) == 2 else { throw ValidationError("--pair takes two classes, e.g. 0,6") }
        guard (0...9).contains(forgetClass) else { throw ValidationError("--forget-class must be a Fashion-MNIST class, 0-9") }
    }

    func run() throws {
        common.apply()
        var report: [[String: Any]] = []
        var csvLines = ["scenario,method,test_acc_mean,test_acc_std,forget_acc_mean,forget_acc_std,retain_acc_mean,retain_acc_std,mia_mean,mia_std,sqdist_per_feature_mean,sqdist_per_feature_std,rel_dist_mean,rel_dist_std,seconds_mean,seconds_std"]
        let rule = "mini-batch SGD (batch \(batchSize)), constant step 1/max_i ||phi_i||^2, \(epochs) epochs from theta*; MUSO (SGD) stops early if ||grad|| <= 1e-10 ||grad at start||"
        if !common.json {
            print("Fashion-MNIST, N = \(samples), M = \(features) random Fourier features, \(seeds) seeds, \(BLASThreads.coreName) BLAS kernel, \(BLASThreads.count) threads")
            print("SGD-based methods: \(rule)")
        }
        let total = scenarios.split(separator: ",").count * seeds
        var done = 0
        defer { Progress.count("experiment", completed: total, total: total, unit: "runs") }
        for name in scenarios.split(separator: ",") {
            let scenario = Scenario(rawValue: String(name))!
            var runs: [String: [MethodRun]] = [:]
            var forgetCount = 0
            for seed in 0..<seeds {
                Progress.report("\(scenario.rawValue): seed \(seed + 1) of \(seeds)")
                Progress.count("experiment", completed: done, total: total, unit: "runs")
                done += 1
                let result = try runOnce(scenario, seed: UInt64(seed))
                forgetCount = result.forgetCount
                for (method, r) in result.runs { runs[method, default: []].append(r) }
            }
            let title: String
            switch scenario {
            case .pair: title = "binary \(pair.classes![0]) vs \(pair.classes![1]), random \(Int(forgetFraction * 100))% forgotten (k = \(forgetCount))"
            case .ten: title = "ten classes, random \(Int(forgetFraction * 100))% forgotten (k = \(forgetCount))"
            case .class: title = "ten classes, class \(forgetClass) (\(FashionMNIST.classNames[forgetClass])) forgotten (k = \(forgetCount))"
            }
            var rows: [[String: Any]] = []
            if !common.json {
                print("\n\(title)")
                print("method               test acc        forget acc      retain acc      MIA             ||d||^2/M            rel. dist            time (s)")
            }
            for method in Self.methods {
                guard let r = runs[method] else { continue }
                func stat(_ f: (MethodRun) -> Double) -> (Double, Double) {
                    let v = r.map(f)
                    return meanAndSpread(v)
                }
                let test = stat { $0.evaluation.testAccuracy }, forget = stat { $0.evaluation.forgetAccuracy }
                let retain = stat { $0.evaluation.retainAccuracy }, mia = stat { $0.evaluation.miaMemberShare }
                let sq = stat { $0.squaredDistancePerFeature }, rel = stat { $0.relativeDistance }, time = stat { $0.seconds }
                if !common.json {
                    func pm(_ s: (Double, Double), _ spec: String) -> String { "\(format(s.0, spec))±\(format(s.1, spec))" }
                    let line = method.padding(toLength: 20, withPad: " ", startingAt: 0) + " "
                        + [pm(test, "%.4f"), pm(forget, "%.4f"), pm(retain, "%.4f"), pm(mia, "%.4f")].map { $0.padding(toLength: 15, withPad: " ", startingAt: 0) }.joined(separator: " ")
                        + " " + [pm(sq, "%.2e"), pm(rel, "%.2e")].map { $0.padding(toLength: 20, withPad: " ", startingAt: 0) }.joined(separator: " ")
                        + " " + pm(time, "%.3f")
                    print(line)
                }
                rows.append(["method": method, "test_accuracy": [test.0, test.1], "forget_accuracy": [forget.0, forget.1],
                             "retain_accuracy": [retain.0, retain.1], "mia_member_share": [mia.0, mia.1],
                             "squared_distance_per_feature": [sq.0, sq.1], "relative_distance": [rel.0, rel.1],
                             "seconds": [time.0, time.1]])
                csvLines.append(([scenario.rawValue, method] + [test, forget, retain, mia, sq, rel, time].flatMap { [String($0.0), String($0.1)] }).joined(separator: ","))
            }
            report.append(["scenario": scenario.rawValue, "title": title, "forgotten": forgetCount, "methods": rows])
        }
        if let csv { try AtomicFile.write(Array((csvLines.joined(separator: "\n") + "\n").utf8), to: csv) }
        if common.json {
            try printJSON(["samples": samples, "features": features, "seeds": seeds, "sgd": rule, "scenarios": report,
                           "columns": "mean and standard deviation over seeds"])
        }
    }

    /// One scenario with one seed: every method's figures.
    func runOnce(_ scenario: Scenario, seed: UInt64) throws -> (runs: [String: MethodRun], forgetCount: Int) {
        let classes: [Int]? = scenario == .pair ? pair.classes : nil
        let train = try FashionMNIST.load(.train, directory: fashion.fashionDir, classes: classes, limit: samples, seed: seed)
        let test = try FashionMNIST.load(.test, directory: fashion.fashionDir, classes: classes, limit: testLimit, seed: seed &+ 1000)
        let classList = train.classes
        let coding: TargetCoding = classList.count == 2 ? .signed : .oneHot
        let y = try coding.targets(labels: train.labels, classes: classList)
        let map = try RandomFourierFeatures(inputDimension: train.inputs.columns, featureCount: features,
                                            bandwidth: medianDistance(train.inputs, seed: seed), seed: seed &+ 1)
        let phi = try map.features(of: train.inputs)
        let phiTest = try map.features(of: test.inputs)
        let source = try FeatureSource.materialized(phi)
        let theta0 = InitialParameters.gaussian(features: features, outputs: y.columns, standardDeviation: 1 / Double(features).squareRoot(), seed: seed &+ 2)
        let model = try MinNormModel(features: source, targets: y, initialParameters: theta0)
        let thetaStar = try model.parameters()

        var forget: [Int]
        switch scenario {
        case .pair, .ten:
            var g = SeededGenerator(seed: seed &+ 3)
            var all = Array(0..<train.count)
            all.shuffle(using: &g)
            forget = Array(all.prefix(max(1, Int(forgetFraction * Double(train.count))))).sorted()
        case .class:
            forget = train.labels.indices.filter { train.labels[$0] == forgetClass }
        }
        let forgotten = Set(forget)
        let keep = (0..<train.count).filter { !forgotten.contains($0) }
        let forgetIDs = forget  // ids are positions here (model ids default to 0..<N)

        let (retrainedModel, retrainSeconds) = try timed { try model.retrained(excluding: forgetIDs) }
        let thetaR = try retrainedModel.parameters()
        let trainer = GradientDescent(batchSize: batchSize, maxEpochs: epochs, tolerance: 0, seed: seed &+ 4)

        var thetas: [String: (Matrix, Double)] = [:]
        thetas["Retrain"] = (thetaR, retrainSeconds)
        thetas["Original"] = (thetaStar, 0)
        let baselines: [(String, Baseline)] = [("Random labels", .randomLabels), ("Bad teacher", .badTeacher),
                                               ("Fine-tune", .fineTuneRetained), ("Gradient ascent", .gradientAscent)]
        for (name, baseline) in baselines {
            Progress.report("\(scenario.rawValue) seed \(seed): \(name)")
            thetas[name] = try timed { try baseline.run(phi: phi, targets: y, trained: thetaStar, initial: theta0, forget: forget, trainer: trainer) }
        }
        Progress.report("\(scenario.rawValue) seed \(seed): MUSO")
        var musoTrainer = trainer
        musoTrainer.tolerance = 1e-10
        thetas["MUSO (SGD)"] = try timed { try model.relabelAndFineTune(forgetting: forgetIDs, using: musoTrainer).parameters }
        thetas["MUSO (closed form)"] = try timed { () throws -> Matrix in
            var m = model
            try m.forget(ids: forgetIDs, updateParameters: true)
            return try m.parameters()
        }
        let phiR = try phi.selectingRows(keep), phiF = try phi.selectingRows(forget)
        let retainLabels = keep.map { train.labels[$0] }, forgetLabels = forget.map { train.labels[$0] }
        var runs: [String: MethodRun] = [:]
        for (name, (theta, seconds)) in thetas {
            let e = try evaluate(retainOutputs: Matrix.product(phiR, theta), retainLabels: retainLabels,
                                 forgetOutputs: Matrix.product(phiF, theta), forgetLabels: forgetLabels,
                                 testOutputs: Matrix.product(phiTest, theta), testLabels: test.labels,
                                 coding: coding, classes: classList)
            let diff = try theta - thetaR
            runs[name] = MethodRun(evaluation: e, squaredDistancePerFeature: diff.frobeniusNorm * diff.frobeniusNorm / Double(features),
                                   relativeDistance: try model.distance(of: theta, toRetrained: thetaR), seconds: seconds)
        }
        return (runs, forget.count)
    }
}

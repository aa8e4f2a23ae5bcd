import ArgumentParser
import Foundation
import LinearAlgebra
import Network
import Unlearning
import UnlearningIO
import MusoCLI

enum NetworkScenario: String, CaseIterable {
    case random1 = "random-1", random10 = "random-10", `class`
}

/// One method's figures for one seed and scenario.
struct NetworkRun {
    var testAccuracy = 0.0, forgetAccuracy = 0.0, retainAccuracy = 0.0, mia = 0.0, efficacy = 0.0, seconds = 0.0
    /// Avg.Gap to Retrain on the validation split (the selection criterion).
    var validationGap = 0.0
    var chosen = ""

    func gap(to r: NetworkRun, withRetain: Bool) -> Double {
        var parts = [abs(testAccuracy - r.testAccuracy), abs(forgetAccuracy - r.forgetAccuracy), abs(mia - r.mia)]
        if withRetain { parts.append(abs(retainAccuracy - r.retainAccuracy)) }
        return parts.reduce(0, +) / Double(parts.count)
    }
}

struct NetworkExperiment: ParsableCommand {
    /// The method with the smallest mean Avg.Gap, the runner-up, and the
    /// paired t-test of their per-seed gaps (same seeds: the same original
    /// model and forget set). nil with fewer than two methods or seeds.
    static func lead(_ ranking: [(method: String, gaps: [Double], summary: SeedStatistics.Summary)])
        -> (best: String, runnerUp: String, test: SeedStatistics.PairedTest)? {
        guard ranking.count >= 2, let test = SeedStatistics.pairedTest(ranking[0].gaps, ranking[1].gaps) else { return nil }
        return (ranking[0].method, ranking[1].method, test)
    }

    /// The methods by mean Avg.Gap (ties by name), each with its per-seed gaps
    /// and their summary.
    static func ranking(_ gaps: [String: [Double]]) -> [(method: String, gaps: [Double], summary: SeedStatistics.Summary)] {
        gaps.map { (method: $0.key, gaps: $0.value, summary: SeedStatistics.summary($0.value)) }
            .sorted { ($0.summary.mean, $0.method) < ($1.summary.mean, $1.method) }
    }

    static let configuration = CommandConfiguration(
        commandName: "network",
        abstract: "MUSO's alternating relabel / fine-tune for an MLP on Fashion-MNIST, against retraining and the usual baselines.",
        discussion: """
        Trains an MLP (784-512-256-10 by default, ReLU, softmax cross-entropy) on Fashion-MNIST less a \
        validation split, then for each scenario (random 1%, random 10%, one whole class) forgets the \
        forget set with: Retrain (same initialisation, retained data only, same epochs), the Original \
        model, fine-tuning on retained data (FT), gradient ascent on the forget set (GA), random \
        relabeling (RL, Amnesiac), SalUn (RL on the half of each layer's weights with the largest \
        forget-loss gradient), and MUSO (rounds of: relabel the forget set with the head that \
        retraining the head on a random subset of the retained data would give, then one epoch of \
        fine-tuning on retained + relabeled data), in four variants: MUSO fits that head to the \
        current head's outputs (docs/design.md §3: W0 + Pi_S (Wp - W0)), MUSO-L to the subset's one-hot \
        labels; MUSO-LC is MUSO-L fine-tuning on the forgotten samples \
        whose label changed only; MUSO-LE is MUSO-LC with the relabel head \
        fitted on the features of an early checkpoint of the original training (--checkpoint-epoch) \
        instead of the current network's, and the relabeled samples' targets label-smoothed (--le-smoothing) and their loss weighted (--le-weights). Every method but Retrain and Original picks its \
        configuration from its own grid over its sensitive settings, every grid with the same number \
        of configurations (FT, RL, MUSO: --grid-rates x --grid-epochs, rounds for MUSO; GA: \
        --ga-rates x --ga-epochs over the forget set; SalUn: --salun-shares x --salun-epochs at \
        --salun-rate; MUSO-LE: --le-rates x --le-weights x --le-targets x --le-smoothing at --le-rounds), by the smallest Avg.Gap to Retrain on the validation split (validation accuracy in place of test accuracy; validation \
        samples as the attack's non-members); the chosen values are printed. Avg.Gap: mean absolute \
        difference to Retrain over test accuracy, forget accuracy and MIA (and, in the Avg.Gap(+ret) column, \
        also retain accuracy). MIA: the share of forgotten samples the entropy attack calls \
        members; MIA-eff = 1 - MIA (SalUn's convention). val gap: the chosen configuration's \
        Avg.Gap on the validation split. Mean and spread over the seeds.
        """
    )

    @Option(help: "Scenarios, comma-separated (\(NetworkScenario.allCases.map(\.rawValue).joined(separator: ", "))).")
    var scenarios = "random-1,random-10,class"
    @Option(help: "Training samples (seeded subset of the 60000; the validation split is carved from them).")
    var trainLimit = 60000
    @Option(help: "Validation samples carved out of the training samples.")
    var validation = 5000
    @Option(help: "Test samples (seeded subset of the 10000).")
    var testLimit = 10000
    @Option(help: "Hidden layer widths, comma-separated.")
    var hidden = "512,256"
    @Option(help: "Epochs of the original model and of Retrain.")
    var epochs = 10
    @Option(help: "Mini-batch size.")
    var batchSize = 128
    @Option(help: "Adam learning rate of the original model and of Retrain.")
    var learningRate = 1e-3
    @Option(help: "Learning-rate grid of FT, RL and the MUSO variants, comma-separated.")
    var gridRates = "1e-3,3e-4"
    @Option(help: "Epoch grid of FT and RL (rounds for the MUSO variants), comma-separated.")
    var gridEpochs = "1,2"
    @Option(help: "GA: learning-rate grid, comma-separated.")
    var gaRates = "1e-4,1e-5"
    @Option(help: "GA: grid of epochs over the forget set (ceil(k / batch size) ascent steps each), comma-separated.")
    var gaEpochs = "1,4"
    @Option(help: "SalUn: grid of saliency shares (the share of each layer's weights it updates, in (0, 1]), comma-separated.")
    var salunShares = "0.2,0.5"
    @Option(help: "SalUn: epoch grid, comma-separated.")
    var salunEpochs = "1,2"
    @Option(help: "SalUn: learning rate.")
    var salunRate = 1e-3
    @Option(help: "MUSO-LE: learning-rate grid, comma-separated; its grid is these x --le-weights x --le-targets x --le-smoothing at --le-rounds.")
    var leRates = "1e-3"
    @Option(help: "MUSO-LE: grid of the relabeled forgotten samples' loss weights in the fine-tuning (retained samples weigh 1), comma-separated.")
    var leWeights = "1"
    @Option(help: "MUSO-LE: grid of the relabeled samples' targets, comma-separated from hard (the relabel head's argmax) and soft (its class probabilities).")
    var leTargets = "hard"
    @Option(help: "MUSO-LE: grid of label smoothings s of the relabeled samples' targets ((1 - s) target + s / classes, s in [0, 1)), comma-separated.")
    var leSmoothing = "0,0.01,0.03,0.06"
    @Option(help: "MUSO-LE: rounds.")
    var leRounds = 1
    @Option(help: "MUSO: size of each relabel step's random retained subset, as a share of the head's feature count p (last hidden width + 1); below 1 keeps the head over-parameterized (at 1 or more the projection is the identity).")
    var subsample = 0.5
    @Option(help: "MUSO-L: the same share for the variant fitted to the retained labels; above 1 the head is a ridge regression of the one-hot labels on |S| > p samples (primal form).")
    var subsampleLabels = 32.0
    @Option(help: "MUSO: ridge of the first relabel step (the reference's cosine ramp starts here).")
    var ridge = 1e-6
    @Option(help: "MUSO: ridge of the last relabel step (the cosine ramp ends here).")
    var ridgeMax = 1e-2
    @Option(help: "MUSO-LE: the epoch of the original training whose network the relabel head is fitted on (kept as a checkpoint while training).")
    var checkpointEpoch = 2
    @Option(help: "Unlearning methods to run, comma-separated, from FT, GA, RL, SalUn, MUSO, MUSO-L, MUSO-LC, MUSO-LE (Retrain and Original always run: they are the reference).")
    var methods = "FT,GA,RL,SalUn,MUSO,MUSO-L,MUSO-LC,MUSO-LE"
    @Option(help: "The class forgotten in the class scenario.")
    var forgetClass = 0
    @Option(help: "Seeds.")
    var seeds = 3
    @Option(help: "The first seed (seeds first-seed ..< first-seed + seeds; 0 is the table of docs/networks.md), for a confirmation run on fresh seeds.")
    var firstSeed = 0
    @OptionGroup var fashion: FashionMNISTOption
    @Option(help: "Also write the table as CSV to this file.")
    var csv: String?
    @Option(help: "After every seed, write the table so far to this file (and its JSON to FILE.json), so that a long run stopped early keeps every finished seed.")
    var partial: String?
    @OptionGroup var common: CommonOptions

    static let allMethods = ["Retrain", "Original", "FT", "GA", "RL", "SalUn", "MUSO", "MUSO-L", "MUSO-LC", "MUSO-LE"]

    /// One configuration of a method's grid: a learning rate, a budget
    /// (epochs; GA: epochs over the forget set; MUSO: rounds) and, for SalUn,
    /// the saliency share.
    struct GridPoint: Equatable {
        var rate: Double
        var epochs: Int
        var share: Double? = nil
        /// MUSO-LE: the relabeled forgotten samples' loss weight.
        var weight: Double? = nil
        /// MUSO-LE: soft targets (the relabel head's class probabilities).
        var soft: Bool? = nil
        /// MUSO-LE: the label smoothing of the relabeled samples' targets.
        var smoothing: Double? = nil

        func label(method: String) -> String {
            let budget = method.hasPrefix("MUSO") ? "rounds" : method == "GA" ? "forget-set epochs" : "epochs"
            return "lr \(rate), \(budget) \(epochs)" + (share.map { ", share \($0)" } ?? "") + (weight.map { ", forget weight \($0)" } ?? "")
                + (soft.map { $0 ? ", soft targets" : ", hard targets" } ?? "") + (smoothing.map { $0 > 0 ? ", smoothing \($0)" : "" } ?? "")
        }
    }

    /// The grid a method's configuration is chosen from, each covering the
    /// method's own sensitive settings: the learning rate and epochs (rounds)
    /// for FT, RL and MUSO; the learning rate and the number of ascent steps
    /// (epochs over the forget set) for GA; the saliency share and epochs for
    /// SalUn at one learning rate; the learning rate and the relabeled
    /// samples' loss weight for MUSO-LE at a fixed number of rounds.
    /// `validate()` requires every method run to have the same number of
    /// configurations.
    func grid(for method: String) throws -> [GridPoint] {
        /// A comma-separated option, every entry parsed and checked, or an error naming the option.
        func list<T: LosslessStringConvertible>(_ name: String, _ text: String, _ what: String, _ ok: (T) -> Bool) throws -> [T] {
            let items = text.split(separator: ",").map { T(String($0)) }
            guard !items.isEmpty, items.allSatisfy({ $0 != nil && ok($0!) }) else { throw ValidationError("\(name) takes \(what), comma-separated; got '\(text)'") }
            return items.map { $0! }
        }
        func rates(_ name: String, _ text: String) throws -> [Double] { try list(name, text, "positive numbers") { $0 > 0 && $0.isFinite } }
        func counts(_ name: String, _ text: String) throws -> [Int] { try list(name, text, "positive integers") { $0 >= 1 } }
        switch method {
        case "GA":
            let epochs = try counts("--ga-epochs", gaEpochs)
            return try rates("--ga-rates", gaRates).flatMap { r in epochs.map { GridPoint(rate: r, epochs: $0) } }
        case "SalUn":
            let epochs = try counts("--salun-epochs", salunEpochs)
            let shares: [Double] = try list("--salun-shares", salunShares, "numbers in (0, 1]") { $0 > 0 && $0 <= 1 }
            return shares.flatMap { sh in epochs.map { GridPoint(rate: salunRate, epochs: $0, share: sh) } }
        case "MUSO-LE":
            let weights = try rates("--le-weights", leWeights)
            let targets = try list("--le-targets", leTargets, "hard and/or soft") { (t: String) in t == "hard" || t == "soft" }.map { $0 == "soft" }
            let smoothings: [Double] = try list("--le-smoothing", leSmoothing, "numbers in [0, 1)") { $0 >= 0 && $0 < 1 }
            return try rates("--le-rates", leRates).flatMap { r in weights.flatMap { w in targets.flatMap { t in smoothings.map {
                GridPoint(rate: r, epochs: leRounds, weight: w, soft: t, smoothing: $0) } } } }
        default:
            let epochs = try counts("--grid-epochs", gridEpochs)
            return try rates("--grid-rates", gridRates).flatMap { r in epochs.map { GridPoint(rate: r, epochs: $0) } }
        }
    }

    func validate() throws {
        for s in scenarios.split(separator: ",") where NetworkScenario(rawValue: String(s)) == nil {
            throw ValidationError("unknown scenario '\(s)' (choose from \(NetworkScenario.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        for m in methods.split(separator: ",") where !Self.allMethods.dropFirst(2).contains(String(m)) {
            throw ValidationError("unknown method '\(m)' (choose from \(Self.allMethods.dropFirst(2).joined(separator: ", ")))")
        }
        guard ridge >= 0, ridgeMax >= 0, ridge.isFinite, ridgeMax.isFinite else { throw ValidationError("--ridge and --ridge-max must be finite and >= 0") }
        guard trainLimit > validation + 100, validation >= 100 else { throw ValidationError("--train-limit must exceed --validation + 100, and --validation be at least 100") }
        guard hidden.split(separator: ",").allSatisfy({ (Int($0) ?? 0) >= 1 }) else { throw ValidationError("--hidden takes positive widths, e.g. 512,256") }
        guard salunRate > 0, salunRate.isFinite else { throw ValidationError("--salun-rate must be positive") }
        guard leRounds >= 1 else { throw ValidationError("--le-rounds takes a positive integer") }
        // Every grid of the run (all methods' lists are parsed, so a bad list fails here whichever methods run).
        for m in Self.allMethods.dropFirst(2) { _ = try grid(for: m) }
        let sizes = Dictionary(grouping: try methods.split(separator: ",").map { ($0, try grid(for: String($0)).count) }, by: \.1)
            .mapValues { $0.map { String($0.0) } }
        guard sizes.count <= 1 else {
            throw ValidationError("every method's grid must have the same number of configurations, for a fair choice; got "
                                  + sizes.sorted { $0.key < $1.key }.map { "\($0.key) for \($0.value.joined(separator: ", "))" }.joined(separator: "; "))
        }
        guard (1...epochs).contains(checkpointEpoch) else { throw ValidationError("--checkpoint-epoch must be between 1 and --epochs (\(epochs))") }
        guard seeds >= 1, firstSeed >= 0, epochs >= 1, batchSize >= 1, subsample > 0, subsample.isFinite, subsampleLabels > 0, subsampleLabels.isFinite, (0...9).contains(forgetClass) else {
            throw ValidationError("check --seeds (>= 1), --first-seed (>= 0), --epochs, --batch-size (>= 1), --subsample, --subsample-labels (> 0) and --forget-class (0-9)")
        }
    }

    func run() throws {
        common.apply()
        let widths = [784] + hidden.split(separator: ",").map { Int($0)! } + [10]
        let chosenMethods = methods.split(separator: ",").map(String.init)
        let chosenScenarios = scenarios.split(separator: ",").map { NetworkScenario(rawValue: String($0))! }
        var results: [String: [String: [NetworkRun]]] = [:]
        var forgetCounts: [String: Int] = [:]
        let total = seeds * chosenScenarios.count
        var header = ""
        defer { Progress.count("network experiment", completed: total, total: total, unit: "scenario runs") }
        for seed in firstSeed..<(firstSeed + seeds) {
            let s = UInt64(seed)
            Progress.count("network experiment", completed: (seed - firstSeed) * chosenScenarios.count, total: total, unit: "scenario runs")
            let all = try FashionMNIST.load(.train, directory: fashion.fashionDir, limit: trainLimit, seed: s)
            let test = try FashionMNIST.load(.test, directory: fashion.fashionDir, limit: testLimit, seed: s &+ 100)
            var g = SeededGenerator(seed: s &+ 7)
            var order = Array(0..<all.count)
            order.shuffle(using: &g)
            let validationRows = Array(order.prefix(validation)).sorted()
            let trainRows = Array(order.dropFirst(validation)).sorted()
            let val = try all.subset(validationRows), train = try all.subset(trainRows)
            let initial = try MLP(widths: widths, seed: s &+ 11)
            let baseConfig = TrainingConfiguration(epochs: epochs, batchSize: batchSize, optimizer: .adam, learningRate: learningRate, seed: s &+ 13)
            Progress.report("seed \(seed) (\(seed - firstSeed + 1) of \(seeds)): training the original network (\(epochs) epochs on \(train.count) samples)")
            var original = initial
            var early = initial
            let (_, originalSeconds) = try timed {
                try original.train(inputs: train.inputs, labels: train.labels, configuration: baseConfig,
                                   progress: { e, l in Progress.report("  epoch \(e): loss \(String(format: "%.4f", l))") },
                                   checkpoint: { e, net in if e == checkpointEpoch { early = net } })
            }
            let perEpoch = originalSeconds / Double(epochs)
            if seed == firstSeed {
                header = String(format: "MLP %@: original model %.1f s (%.2f s per epoch on %d samples), test accuracy %.4f",
                                widths.map(String.init).joined(separator: "-"), originalSeconds, perEpoch, train.count,
                                accuracy(try original.predict(test.inputs), test.labels))
                if !common.json { print(header) }
            }
            for (done, scenario) in chosenScenarios.enumerated() {
                if done > 0 {
                    Progress.count("network experiment", completed: (seed - firstSeed) * chosenScenarios.count + done, total: total, unit: "scenario runs")
                }
                var forget: [Int]
                switch scenario {
                case .random1, .random10:
                    var g2 = SeededGenerator(seed: s &+ 17)
                    var o = Array(0..<train.count)
                    o.shuffle(using: &g2)
                    forget = Array(o.prefix(max(1, train.count * (scenario == .random1 ? 1 : 10) / 100))).sorted()
                case .class:
                    forget = train.labels.indices.filter { train.labels[$0] == forgetClass }
                }
                forgetCounts[scenario.rawValue] = forget.count
                let fset = Set(forget)
                let keep = (0..<train.count).filter { !fset.contains($0) }
                let xR = try train.inputs.selectingRows(keep), yR = keep.map { train.labels[$0] }
                let xF = try train.inputs.selectingRows(forget), yF = forget.map { train.labels[$0] }
                func measure(_ net: MLP, nonMembers: LabeledData) throws -> NetworkRun {
                    let lR = try net.batchedLogits(xR), lF = try net.batchedLogits(xF), lT = try net.batchedLogits(nonMembers.inputs)
                    let attack = try MembershipInferenceAttack(members: MembershipInferenceAttack.entropies(of: lR),
                                                               nonMembers: MembershipInferenceAttack.entropies(of: lT))
                    let hF = MembershipInferenceAttack.entropies(of: lF)
                    return NetworkRun(testAccuracy: accuracy(SoftmaxCrossEntropy.predictions(lT), nonMembers.labels),
                                      forgetAccuracy: accuracy(SoftmaxCrossEntropy.predictions(lF), yF),
                                      retainAccuracy: accuracy(SoftmaxCrossEntropy.predictions(lR), yR),
                                      mia: attack.memberShare(hF), efficacy: attack.efficacy(hF))
                }
                Progress.report("seed \(seed) (\(seed - firstSeed + 1) of \(seeds)), \(scenario.rawValue): Retrain")
                var retrained = initial
                let (_, retrainSeconds) = try timed { try retrained.train(inputs: xR, labels: yR, configuration: baseConfig) }
                let retrainVal = try measure(retrained, nonMembers: val)
                var runs: [String: NetworkRun] = [:]
                var r = try measure(retrained, nonMembers: test); r.seconds = retrainSeconds; runs["Retrain"] = r
                r = try measure(original, nonMembers: test); r.seconds = 0
                r.validationGap = try measure(original, nonMembers: val).gap(to: retrainVal, withRetain: false); runs["Original"] = r
                let w0 = initial.head
                for method in chosenMethods {
                    var best: (gap: Double, net: MLP, seconds: Double, label: String)?
                    for point in try grid(for: method) {
                        let label = point.label(method: method)
                        Progress.report("seed \(seed) (\(seed - firstSeed + 1) of \(seeds)), \(scenario.rawValue): \(method), \(label)")
                        var net = original
                        let config = TrainingConfiguration(epochs: point.epochs, batchSize: batchSize, optimizer: .adam, learningRate: point.rate, seed: s &+ 19)
                        let (_, seconds) = try timed { () throws -> Void in
                            switch method {
                            case "FT": try NetworkBaseline.fineTune.run(&net, retainInputs: xR, retainLabels: yR, forgetInputs: xF, forgetLabels: yF, classes: 10, configuration: config)
                            case "GA": try NetworkBaseline.gradientAscent.run(&net, retainInputs: xR, retainLabels: yR, forgetInputs: xF, forgetLabels: yF, classes: 10, configuration: config)
                            case "RL": try NetworkBaseline.randomLabels.run(&net, retainInputs: xR, retainLabels: yR, forgetInputs: xF, forgetLabels: yF, classes: 10, configuration: config)
                            case "SalUn": try NetworkBaseline.salun.run(&net, retainInputs: xR, retainLabels: yR, forgetInputs: xF, forgetLabels: yF, classes: 10,
                                                                        configuration: config, saliencyShare: point.share ?? 0.5)
                            default:
                                var one = config
                                one.epochs = 1
                                var muso = MUSONetwork(rounds: point.epochs, subsampleRatio: method == "MUSO" ? subsample : subsampleLabels, ridge: ridge, ridgeMax: ridgeMax, fineTune: one, seed: s &+ 23)
                                muso.target = method == "MUSO" ? .currentHead : .retainedLabels
                                muso.changedLabelsOnly = method == "MUSO-LC" || method == "MUSO-LE"
                                if method == "MUSO-LE" {
                                    muso.relabelNetwork = early
                                    muso.forgetWeight = point.weight ?? 1
                                    muso.softTargets = point.soft ?? false
                                    muso.labelSmoothing = point.smoothing ?? 0
                                }
                                try muso.unlearn(&net, initialHead: w0, retainInputs: xR, retainLabels: yR, forgetInputs: xF)
                            }
                        }
                        let onVal = try measure(net, nonMembers: val)
                        let gap = onVal.gap(to: retrainVal, withRetain: false)
                        Progress.report(String(format: "  validation: Avg.Gap %.4f (forget acc %.4f, MIA %.4f; Retrain's %.4f, %.4f), %.1f s",
                                               gap, onVal.forgetAccuracy, onVal.mia, retrainVal.forgetAccuracy, retrainVal.mia, seconds))
                        if best == nil || gap < best!.gap { best = (gap, net, seconds, label) }
                    }
                    var chosen = try measure(best!.net, nonMembers: test)
                    chosen.seconds = best!.seconds
                    chosen.chosen = best!.label
                    chosen.validationGap = best!.gap
                    runs[method] = chosen
                }
                for (k, v) in runs { results[scenario.rawValue, default: [:]][k, default: []].append(v) }
            }
            if let partial {
                let done = seed - firstSeed + 1
                let (table, _, report) = summary(results, seedsDone: done, forgetCounts: forgetCounts, scenarios: chosenScenarios)
                try AtomicFile.write(Array((header + "\n" + table).utf8), to: partial)
                try AtomicFile.write(Array(try jsonText(["seeds": done, "first_seed": firstSeed, "scenarios": report]).utf8), to: partial + ".json")
            }
        }
        let (table, csvText, report) = summary(results, seedsDone: seeds, forgetCounts: forgetCounts, scenarios: chosenScenarios)
        if !common.json { print(table, terminator: "") }
        if let csv { try AtomicFile.write(Array(csvText.utf8), to: csv) }
        if common.json { try printJSON(["widths": widths, "epochs": epochs, "seeds": seeds, "first_seed": firstSeed, "checkpoint_epoch": checkpointEpoch, "scenarios": report]) }
    }

    /// The table (as printed), the CSV and the JSON scenarios for the runs of
    /// the first `seedsDone` seeds.
    func summary(_ results: [String: [String: [NetworkRun]]], seedsDone: Int, forgetCounts: [String: Int],
                 scenarios chosenScenarios: [NetworkScenario]) -> (table: String, csv: String, report: [[String: Any]]) {
        var text = ""
        func line(_ l: String) { text += l + "\n" }
        // One list of columns; the table header, the CSV header and the JSON keys derive from it.
        typealias Column = (table: String, csv: String, json: String, value: (NetworkRun, NetworkRun) -> Double)
        let columns: [Column] = [
            ("test acc", "test_acc", "test_accuracy", { r, _ in r.testAccuracy }),
            ("forget acc", "forget_acc", "forget_accuracy", { r, _ in r.forgetAccuracy }),
            ("retain acc", "retain_acc", "retain_accuracy", { r, _ in r.retainAccuracy }),
            ("MIA", "mia", "mia_member_share", { r, _ in r.mia }),
            ("MIA-eff", "mia_efficacy", "mia_efficacy", { r, _ in r.efficacy }),
            ("Avg.Gap", "avg_gap", "avg_gap", { r, ref in r.gap(to: ref, withRetain: false) }),
            ("Avg.Gap(+ret)", "avg_gap_with_retain", "avg_gap_with_retain", { r, ref in r.gap(to: ref, withRetain: true) }),
            ("val gap", "validation_gap", "validation_gap", { r, _ in r.validationGap }),
            ("time (s)", "seconds", "seconds", { r, _ in r.seconds }),
        ]
        // CSV: each column's mean and spread; the accuracies' spread columns are named test_sd, forget_sd, retain_sd.
        var csvLines = [(["scenario", "method"] + columns.flatMap { [$0.csv, $0.csv.hasSuffix("_acc") ? String($0.csv.dropLast(4)) + "_sd" : $0.csv + "_sd"] } + ["chosen", "avg_gap_ci95_low", "avg_gap_ci95_high"]).joined(separator: ",")]
        var report: [[String: Any]] = []
        for scenario in chosenScenarios {
            guard let byMethod = results[scenario.rawValue], let retrain = byMethod["Retrain"] else { continue }
            line("\n\(scenario.rawValue) (k = \(forgetCounts[scenario.rawValue] ?? 0)), mean±sd over \(seedsDone) seed(s) from \(firstSeed)")
            line("method    " + columns.map { $0.table.padding(toLength: 15, withPad: " ", startingAt: 0) }.joined(separator: " ") + " chosen (1st seed)")
            var rows: [[String: Any]] = []
            var gaps: [String: [Double]] = [:]   // Avg.Gap per seed, in seed order
            for method in Self.allMethods {
                guard let runs = byMethod[method] else { continue }
                let cols = columns.map { c in meanAndSpread(runs.indices.map { c.value(runs[$0], retrain[$0]) }) }
                let gap = runs.indices.map { runs[$0].gap(to: retrain[$0], withRetain: false) }
                let interval = SeedStatistics.summary(gap).interval
                if method != "Retrain" && method != "Original" { gaps[method] = gap }
                line(method.padding(toLength: 9, withPad: " ", startingAt: 0) + " "
                      + cols.map { "\(format($0.0, "%.4f"))±\(format($0.1, "%.4f"))".padding(toLength: 15, withPad: " ", startingAt: 0) }.joined(separator: " ")
                      + " " + (runs.first?.chosen ?? ""))
                csvLines.append(([scenario.rawValue, method] + cols.flatMap { [String($0.0), String($0.1)] }
                                 + ["\"\(runs.first?.chosen ?? "")\"", String(interval.lowerBound), String(interval.upperBound)]).joined(separator: ","))
                var row: [String: Any] = ["method": method, "chosen": runs.map(\.chosen), "avg_gap_per_seed": gap]
                for (c, v) in zip(columns, cols) { row[c.json] = [v.0, v.1] }
                if gap.count >= 2 { row["avg_gap_ci95"] = [interval.lowerBound, interval.upperBound] }
                rows.append(row)
            }
            var entry: [String: Any] = ["scenario": scenario.rawValue, "forgotten": forgetCounts[scenario.rawValue] ?? 0, "methods": rows]
            let ranking = Self.ranking(gaps)
            if let lead = Self.lead(ranking) {
                entry["lead"] = ["best": lead.best, "runner_up": lead.runnerUp, "mean_difference": lead.test.meanDifference,
                                 "t": lead.test.t, "degrees_of_freedom": lead.test.degreesOfFreedom, "p_value": lead.test.pValue,
                                 "significant_at_5_percent": lead.test.pValue < 0.05]
                line("Avg.Gap, mean [95% interval, Student t over \(seedsDone) seeds]: " + ranking.map { r in
                    "\(r.method) \(format(r.summary.mean, "%.4f")) [\(format(r.summary.interval.lowerBound, "%.4f")), \(format(r.summary.interval.upperBound, "%.4f"))]"
                }.joined(separator: "; "))
                line(String(format: "lead: %@ over %@ by %.4f (paired t = %.2f, %d df, two-sided p = %.3g): %@", lead.best, lead.runnerUp,
                             -lead.test.meanDifference, lead.test.t, lead.test.degreesOfFreedom, lead.test.pValue,
                             lead.test.pValue < 0.05 ? "significant at 5%" : "not significant at 5%"))
            }
            report.append(entry)
        }
        return (text, csvLines.joined(separator: "\n") + "\n", report)
    }
}

import ArgumentParser
import Foundation
import LinearAlgebra
import Unlearning
import UnlearningIO
import MusoCLI

/// The figures of one model on one data split.
struct Evaluation {
    var testAccuracy: Double
    var forgetAccuracy: Double
    var retainAccuracy: Double
    /// Share of forgotten samples the attack calls members (MUSO's MIA).
    var miaMemberShare: Double
    /// Share called non-members (SalUn's MIA-efficacy).
    var miaEfficacy: Double

    var json: [String: Any] {
        ["test_accuracy": testAccuracy, "forget_accuracy": forgetAccuracy, "retain_accuracy": retainAccuracy,
         "mia_member_share": miaMemberShare, "mia_efficacy": miaEfficacy]
    }
}

/// Accuracy on the three sets and the membership-inference attack, from the
/// model outputs on each set.
func evaluate(retainOutputs: Matrix, retainLabels: [Int], forgetOutputs: Matrix, forgetLabels: [Int],
              testOutputs: Matrix, testLabels: [Int], coding: TargetCoding, classes: [Int]) throws -> Evaluation {
    let attack = try MembershipInferenceAttack(members: MembershipInferenceAttack.entropies(of: retainOutputs),
                                               nonMembers: MembershipInferenceAttack.entropies(of: testOutputs))
    let forgetEntropies = MembershipInferenceAttack.entropies(of: forgetOutputs)
    return Evaluation(
        testAccuracy: accuracy(coding.predictedClasses(testOutputs, classes: classes), testLabels),
        forgetAccuracy: forgetLabels.isEmpty ? .nan : accuracy(coding.predictedClasses(forgetOutputs, classes: classes), forgetLabels),
        retainAccuracy: accuracy(coding.predictedClasses(retainOutputs, classes: classes), retainLabels),
        miaMemberShare: forgetLabels.isEmpty ? .nan : attack.memberShare(forgetEntropies),
        miaEfficacy: forgetLabels.isEmpty ? .nan : attack.efficacy(forgetEntropies))
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Accuracy on the forgotten, retained and test sets, membership inference, and distance to retraining.",
        discussion: """
        The training data are reloaded from the model's description (forgotten samples are found by \
        the ids in its journal); the test set is Fashion-MNIST's test split with the same classes, or \
        --test-path. Membership inference: the entropy of the softmax of the model's outputs (over \
        (-f, f) for one output), a class-balanced logistic-regression attacker trained on retained \
        samples (members) against test samples (non-members), applied to the forgotten samples. \
        Reported both as the share called members (MUSO's MIA) and as the share called non-members \
        (SalUn's MIA-efficacy). The distance to retraining refits the model from scratch on its \
        retained samples: ||theta - theta_R|| / ||theta_R - theta0|| and ||theta - theta_R||^2 / M.
        """
    )

    @Argument(help: "The model file.")
    var model: String

    @Option(help: "Use at most this many test samples (seeded subset).")
    var testLimit: Int?

    @Option(help: "Test data: a CSV file (for CSV models) or a feature .npy file (for .npy models).")
    var testPath: String?

    @Option(help: "Test labels .npy (for .npy models).")
    var testLabels: String?

    @Option(help: "Training labels .npy (for .npy models: the forgotten samples' labels).")
    var labels: String?

    @Option(help: "CSV: the label column's header name.")
    var labelColumn = "label"

    @Option(help: "CSV: the id column's header name.")
    var idColumn = "id"

    @Flag(help: "Skip the retraining (no parameter distance).")
    var noRetrain = false

    @OptionGroup var common: CommonOptions

    func run() throws {
        common.apply()
        let file = try readModel(model)
        let m = file.model
        let classes = file.data.classes
        let forgottenIDs = Set(file.forgottenIDs.keys)
        Progress.report("reloading the training data")
        var retainOutputs: Matrix, forgetOutputs: Matrix, testOutputs: Matrix
        var retainLabels: [Int], forgetLabels: [Int], testLabelValues: [Int]
        if file.featureMap.kind == .npy {
            guard let labelsPath = labels, let tp = testPath, let tl = testLabels else {
                throw Failure("a model on a .npy feature matrix needs --labels (training labels), --test-path and --test-labels")
            }
            let features = try NPYFile(path: file.featureMap.path!)
            let allLabels = try NPYFile(path: labelsPath).integers()
            guard allLabels.count == features.rowCount else {
                throw Failure("\(labelsPath): \(allLabels.count) labels for \(features.rowCount) feature rows")
            }
            let theta = try m.parameters()
            let source = FeatureSource.provided(by: features)
            retainOutputs = try source.apply(rows: m.featureRows, to: theta)
            retainLabels = m.featureRows.map { allLabels[$0] }
            // Forgotten rows: ids are rows unless the model was trained with --sample-ids; ids equal rows here.
            let forgottenRows = forgottenIDs.sorted().filter { $0 >= 0 && $0 < features.rowCount }
            forgetOutputs = try source.apply(rows: forgottenRows, to: theta)
            forgetLabels = forgottenRows.map { allLabels[$0] }
            let test = try NPYFile(path: tp)
            var testRows = Array(0..<test.rowCount)
            let allTest = try NPYFile(path: tl).integers()
            testRows = testRows.filter { classes.contains(allTest[$0]) }
            if let limit = testLimit, limit < testRows.count { testRows = Array(testRows.prefix(limit)) }
            guard test.columnCount == m.featureCount else {
                throw Failure("\(tp): \(test.columnCount) feature columns, the model has \(m.featureCount)")
            }
            testOutputs = try FeatureSource.provided(by: test).apply(rows: testRows, to: theta)
            testLabelValues = testRows.map { allTest[$0] }
        } else {
            guard let training = try reloadTraining(file.data, labelsPath: labels, labelColumn: labelColumn, idColumn: idColumn) else {
                throw Failure("cannot reload the training data described in the model (\(file.data.kind))")
            }
            let position = Dictionary(uniqueKeysWithValues: training.ids.enumerated().map { ($1, $0) })
            let retainedPositions = try m.ids.map { id -> Int in
                guard let p = position[id] else { throw Failure("sample id \(id) of the model is not in the reloaded data \(training.source)") }
                return p
            }
            let forgottenPositions = forgottenIDs.sorted().compactMap { position[$0] }
            let test: LabeledData
            if file.data.kind == .fashionMNIST {
                test = try FashionMNIST.load(.test, directory: file.data.path ?? FashionMNIST.defaultDirectory, classes: classes,
                                             limit: testLimit, seed: 1)
            } else {
                guard let tp = testPath else { throw Failure("a CSV model needs --test-path TEST.csv") }
                let t = try CSV.load(tp, labelColumn: labelColumn, idColumn: idColumn)
                    .selecting(SampleSelection(classes: classes, limit: testLimit, seed: 1))
                test = t
            }
            Progress.report("predicting \(retainedPositions.count) retained, \(forgottenPositions.count) forgotten, \(test.count) test samples")
            retainOutputs = try m.predict(inputs: training.inputs.selectingRows(retainedPositions))
            retainLabels = retainedPositions.map { training.labels[$0] }
            forgetOutputs = try m.predict(inputs: training.inputs.selectingRows(forgottenPositions))
            forgetLabels = forgottenPositions.map { training.labels[$0] }
            testOutputs = try m.predict(inputs: test.inputs)
            testLabelValues = test.labels
        }
        let e = try evaluate(retainOutputs: retainOutputs, retainLabels: retainLabels, forgetOutputs: forgetOutputs,
                             forgetLabels: forgetLabels, testOutputs: testOutputs, testLabels: testLabelValues,
                             coding: file.coding, classes: classes)
        var distance: (relative: Double, paper: Double, seconds: Double)?
        if !noRetrain {
            Progress.report("retraining from scratch on the \(m.sampleCount) retained samples")
            let (retrained, seconds) = try timed { try m.refitted() }
            let theta = try m.parameters(), thetaR = try retrained.parameters()
            let diff = try theta - thetaR
            distance = (try m.distance(of: theta, toRetrained: thetaR),
                        diff.frobeniusNorm * diff.frobeniusNorm / Double(m.featureCount), seconds)
        }
        if common.json {
            var out = e.json
            out["model"] = model
            out["retained"] = retainLabels.count
            out["forgotten"] = forgetLabels.count
            out["test"] = testLabelValues.count
            if let distance {
                out["relative_distance_to_retrain"] = distance.relative
                out["squared_distance_per_feature"] = distance.paper
                out["retrain_seconds"] = distance.seconds
            }
            try printJSON(out)
        } else {
            print("\(model): \(retainLabels.count) retained, \(forgetLabels.count) forgotten, \(testLabelValues.count) test samples")
            print(String(format: "  accuracy: test %.4f, forget %@, retain %.4f", e.testAccuracy, format(e.forgetAccuracy, "%.4f"), e.retainAccuracy))
            print("  membership inference on the forgotten samples: \(format(e.miaMemberShare, "%.4f")) called members (MIA), \(format(e.miaEfficacy, "%.4f")) called non-members (MIA-efficacy)")
            if let distance {
                print("  distance to retraining: relative \(format(distance.relative)), ||theta - theta_R||^2 / M = \(format(distance.paper)) (retrain \(format(distance.seconds, "%.2f")) s)")
            }
        }
    }
}

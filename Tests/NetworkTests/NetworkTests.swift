import Foundation
import Testing
import LinearAlgebra
import Unlearning
@testable import Network
import TestSupport
import UnlearningIO
import NetworkIO

@Suite("MLP gradients and training")
struct MLPTests {
    func loss(_ net: MLP, _ x: Matrix, _ y: [Int], _ w: [Double]? = nil) throws -> Double {
        SoftmaxCrossEntropy.lossAndGradient(logits: try net.logits(x), labels: y, weights: w).loss
    }

    @Test("backpropagation matches central finite differences in every layer", arguments: [false, true])
    func gradientCheck(weighted: Bool) throws {
        var net = try MLP(widths: [5, 7, 6, 3], seed: 1)
        for l in 0..<net.depth { for j in 0..<net.biases[l].count { net.biases[l][j] = 0.1 * Double(j % 3) - 0.05 } }
        let x = Fixtures.gaussian(4, 5, seed: 2)
        let y = [0, 2, 1, 2]
        let w: [Double]? = weighted ? [1, -1, 0.5, 2] : nil
        let trace = try net.forward(x)
        let (_, dLogits) = SoftmaxCrossEntropy.lossAndGradient(logits: trace.logits, labels: y, weights: w)
        let grads = try net.backward(trace, outputGradient: dLogits)
        let h = 1e-6
        for l in 0..<net.depth {
            for k in stride(from: 0, to: net.weights[l].elements.count, by: 3) {
                let (i, j) = (k % net.weights[l].rows, k / net.weights[l].rows)
                var plus = net, minus = net
                plus.weights[l][i, j] += h
                minus.weights[l][i, j] -= h
                let numeric = (try loss(plus, x, y, w) - loss(minus, x, y, w)) / (2 * h)
                let analytic = grads.weights[l][i, j]
                #expect(abs(numeric - analytic) <= 1e-6 * max(1, abs(numeric)), "W\(l + 1)[\(i), \(j)]: \(analytic) vs \(numeric)")
            }
            for j in 0..<net.biases[l].count {
                var plus = net, minus = net
                plus.biases[l][j] += h
                minus.biases[l][j] -= h
                let numeric = (try loss(plus, x, y, w) - loss(minus, x, y, w)) / (2 * h)
                #expect(abs(numeric - grads.biases[l][j]) <= 1e-6 * max(1, abs(numeric)), "b\(l + 1)[\(j)]")
            }
        }
    }

    @Test("softmax cross-entropy: known values")
    func crossEntropy() throws {
        let z = try Matrix(rowMajor: [[0, 0], [log(3.0), 0]])
        let (loss, grad) = SoftmaxCrossEntropy.lossAndGradient(logits: z, labels: [0, 0])
        #expect(abs(loss - (log(2.0) + log(4.0 / 3)) / 2) < 1e-15)
        #expect(abs(grad[0, 0] - (0.5 - 1) / 2) < 1e-15 && abs(grad[1, 1] - 0.25 / 2) < 1e-15)
    }

    @Test("soft-target cross-entropy: its gradient matches finite differences; one-hot targets give the label loss and the same training")
    func softTargets() throws {
        var g = SeededGenerator(seed: 5)
        let z = Matrix(rows: 4, columns: 3) { _, _ in 2 * g.nextNormal() }
        let q = try Matrix(rowMajor: [[0.2, 0.5, 0.3], [1, 0, 0], [0, 0.25, 0.75], [1.0 / 3, 1.0 / 3, 1.0 / 3]])
        let w = [1, 0.5, 2, -1.0]
        let (_, grad) = SoftmaxCrossEntropy.lossAndGradient(logits: z, targets: q, weights: w)
        let h = 1e-6
        for i in 0..<4 {
            for j in 0..<3 {
                var plus = z, minus = z
                plus[i, j] += h
                minus[i, j] -= h
                let numeric = (SoftmaxCrossEntropy.lossAndGradient(logits: plus, targets: q, weights: w).loss
                               - SoftmaxCrossEntropy.lossAndGradient(logits: minus, targets: q, weights: w).loss) / (2 * h)
                #expect(abs(numeric - grad[i, j]) <= 1e-7 * max(1, abs(numeric)), "z[\(i), \(j)]: \(grad[i, j]) vs \(numeric)")
            }
        }
        let labels = [2, 0, 1, 1]
        let oneHot = Matrix(rows: 4, columns: 3) { i, j in j == labels[i] ? 1 : 0 }
        let soft = SoftmaxCrossEntropy.lossAndGradient(logits: z, targets: oneHot, weights: w)
        let hard = SoftmaxCrossEntropy.lossAndGradient(logits: z, labels: labels, weights: w)
        #expect(abs(soft.loss - hard.loss) <= 1e-14 * abs(hard.loss))
        #expect(zip(soft.gradient.elements, hard.gradient.elements).allSatisfy { abs($0 - $1) <= 1e-15 })
        // Training on one-hot rows follows the label path step for step (to rounding).
        let x = Fixtures.gaussian(40, 5, seed: 6)
        let y = (0..<40).map { $0 % 3 }
        let config = TrainingConfiguration(epochs: 2, batchSize: 8, optimizer: .adam, learningRate: 0.01, seed: 7)
        var a = try MLP(widths: [5, 6, 3], seed: 8), b = a
        try a.train(inputs: x, labels: y, configuration: config)
        try b.train(inputs: x, targets: Matrix(rows: 40, columns: 3) { i, j in j == y[i] ? 1 : 0 }, configuration: config)
        for l in 0..<a.depth {
            #expect(zip(a.weights[l].elements, b.weights[l].elements).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, abs($0)) }, "layer \(l + 1)")
        }
        // Targets that are not distributions are refused by sample.
        for (bad, words) in [(-0.1, "not a probability"), (0.7, "sum to")] {
            var t = Matrix(rows: 40, columns: 3) { i, j in j == y[i] ? 1 : 0 }
            t[4, 0] = bad  // sample 4's label is 1
            if bad < 0 { t[4, 1] = 1.1 }
            #expect(errorMessage { try b.train(inputs: x, targets: t, configuration: config) }.contains(words))
            #expect(errorMessage { try b.train(inputs: x, targets: t, configuration: config) }.contains("sample 4"))
        }
        #expect(errorMessage { try b.train(inputs: x, labels: y, configuration: config, sampleWeights: [1, 2]) }.contains("2 sample weights"))
    }

    @Test("both optimisers fit a small separable problem; the mask freezes weights")
    func training() throws {
        var g = SeededGenerator(seed: 3)
        let x = Matrix(rows: 200, columns: 4) { _, _ in g.nextNormal() }
        let y = (0..<200).map { x[$0, 0] + x[$0, 1] > 0 ? 1 : 0 }
        for kind in Optimizer.Kind.allCases {
            var net = try MLP(widths: [4, 16, 2], seed: 4)
            let config = TrainingConfiguration(epochs: 30, batchSize: 20, optimizer: kind, learningRate: kind == .adam ? 0.01 : 0.05, seed: 5)
            let history = try net.train(inputs: x, labels: y, configuration: config)
            #expect(history.last! < history.first! / 3, "\(kind): \(history.first!) -> \(history.last!)")
            #expect(accuracy(try net.predict(x), y) > 0.95)
        }
        var net = try MLP(widths: [4, 16, 2], seed: 4)
        let before = net
        let mask = net.weights.map { w in Matrix(rows: w.rows, columns: w.columns) { i, _ in i == 0 ? 1 : 0 } }
        try net.train(inputs: x, labels: y, configuration: TrainingConfiguration(epochs: 2, batchSize: 20, seed: 6), mask: mask)
        for l in 0..<net.depth {
            for j in 0..<net.weights[l].columns {
                for i in 1..<net.weights[l].rows { #expect(net.weights[l][i, j] == before.weights[l][i, j]) }
                #expect(net.weights[l][0, j] != before.weights[l][0, j])
            }
        }
        #expect(errorMessage { _ = try net.train(inputs: x, labels: y.map { $0 + 5 }, configuration: TrainingConfiguration(epochs: 1)) }.contains("outside 0..<2"))
    }
}

@Suite("The head projection and MUSO on networks")
struct HeadTests {
    @Test("the projection matches its direct formula in the dual and primal forms", arguments: [(6, 10), (25, 10)])
    func projection(n: Int, p: Int) throws {
        let z = Fixtures.gaussian(n, p, seed: UInt64(n))
        for eps in [1e-1, 1e-4] {
            var k = Fixtures.naiveProduct(z, z.transposed)
            k.addToDiagonal(eps)
            let direct = Fixtures.naiveProduct(z.transposed, Fixtures.naiveProduct(Fixtures.inverse(k), z))
            #expect(try Matrix.relativeDistance(HeadProjection.projection(features: z, ridge: eps), direct) < 1e-10, "n = \(n), eps = \(eps)")
        }
        let exact = try HeadProjection.projection(features: z, ridge: 0)
        if n > p {
            // More samples than features, full column rank: the identity.
            #expect(try Matrix.relativeDistance(exact, Matrix.identity(p)) < 1e-12)
        } else {
            // The orthogonal projector onto the row space: symmetric, idempotent, rank n.
            #expect(try Matrix.relativeDistance(Fixtures.naiveProduct(exact, exact), exact) < 1e-12)
            #expect(try Matrix.relativeDistance(exact.transposed, exact) < 1e-12)
            let trace = (0..<p).reduce(0.0) { $0 + exact[$1, $1] }
            #expect(abs(trace - Double(n)) < 1e-10)
        }
        // eps -> 0 approaches the eps = 0 projector.
        #expect(try Matrix.relativeDistance(HeadProjection.projection(features: z, ridge: 1e-10), exact) < 1e-6)
    }

    @Test("body frozen: MUSO on the head is exact against retraining the head")
    func frozenBodyBridge() throws {
        var g = SeededGenerator(seed: 8)
        let x = Matrix(rows: 40, columns: 6) { _, _ in g.nextNormal() }
        let labels = (0..<40).map { _ in Int(g.next() % 3) }
        var net = try MLP(widths: [6, 64, 3], seed: 9)
        let w0 = net.head
        try net.train(inputs: x, labels: labels, configuration: TrainingConfiguration(epochs: 3, batchSize: 10, seed: 1))
        // The body is frozen from here on: the head is a linear model on Z.
        let z = try net.headFeatures(x)                              // 40 x 65, M > N
        let y = try Matrix(rows: 40, columns: 3, elements: (0..<3).flatMap { c in labels.map { $0 == c ? 1.0 : 0.0 } })
        var head = try MinNormModel(features: FeatureSource.materialized(z), targets: y, initialParameters: w0)
        let thetaStar = try head.parameters()
        let forget = [3, 11, 27, 30]
        let keep = (0..<40).filter { !forget.contains($0) }
        // Retraining the head alone from W0 on the retained samples (gelsd).
        let retrained = try Retraining.minimumNormParameters(features: z.selectingRows(keep), targets: y.selectingRows(keep),
                                                             initialParameters: w0).parameters
        // The projection formula of docs/design.md §3 gives that head ...
        let projected = try HeadProjection.retrainedHead(initial: w0, current: thetaStar, features: z.selectingRows(keep), ridge: 0)
        #expect(try head.distance(of: projected, toRetrained: retrained) <= 1e-9)
        // ... and so do the engine's closed form and its MUSO relabel-and-fine-tune.
        let (tuned, _) = try head.relabelAndFineTune(forgetting: forget)
        #expect(try head.distance(of: tuned, toRetrained: retrained) <= 1e-9)
        try head.forget(ids: forget)
        #expect(try head.distance(of: head.parameters(), toRetrained: retrained) <= 1e-9)
    }

    @Test("the relabel step is argmax of the retrained head, computed independently")
    func relabelMatchesOracle() throws {
        let toy = try ToyProblem(samples: 120, inputs: 20, hidden: 64, classes: 3, forget: 10,
                                 epochs: 10, batchSize: 12, learningRate: 0.005, seed: 10)
        let (net, w0, xR, xF, labels) = (toy.net, toy.w0, toy.xR, toy.xF, toy.labels)
        // p = 64 + 1 head features; |S| = round(0.5 * 65) = 33 < p.
        let muso = MUSONetwork(rounds: 1, subsampleRatio: 0.5, ridge: 0, fineTune: TrainingConfiguration(epochs: 1), seed: 3)
        var g1 = SeededGenerator(seed: 5), g2 = SeededGenerator(seed: 5)
        let labelsF = try muso.relabel(net, initialHead: w0, retainInputs: xR, forgetInputs: xF, ridge: 0, generator: &g1)
        // The same subset, drawn the same way, then W0 + Z_S^+ Z_S (Wp - W0) by gelsd and argmax.
        var order = Array(0..<110)
        order.shuffle(using: &g2)
        let subset = Array(order.prefix(33)).sorted()
        let zS = try net.headFeatures(xR.selectingRows(subset))
        let step = try Matrix.minimumNormSolution(zS, Matrix.product(zS, net.head - w0)).solution
        let oracle = SoftmaxCrossEntropy.predictions(try Matrix.product(net.headFeatures(xF), w0 + step))
        #expect(labelsF == oracle)
        // Fitted to the retained labels instead: W0 + Z_S^+ (Y_S - Z_S W0), again by gelsd.
        var byLabels = muso
        byLabels.target = .retainedLabels
        var g3 = SeededGenerator(seed: 5)
        let retainLabels = Array(labels[10..<120])
        let labelsL = try byLabels.relabel(net, initialHead: w0, retainInputs: xR, retainLabels: retainLabels,
                                           forgetInputs: xF, ridge: 0, generator: &g3)
        let y = Matrix(rows: subset.count, columns: 3) { r, c in retainLabels[subset[r]] == c ? 1 : 0 }
        let stepL = try Matrix.minimumNormSolution(zS, y - Matrix.product(zS, w0)).solution
        let logitsL = try Matrix.product(net.headFeatures(xF), w0 + stepL)
        #expect(labelsL == SoftmaxCrossEntropy.predictions(logitsL))
        // The two oracles disagree, so the check above tells the variants apart.
        #expect(SoftmaxCrossEntropy.predictions(logitsL) != oracle)
        #expect(errorMessage {
            _ = try byLabels.relabel(net, initialHead: w0, retainInputs: xR, forgetInputs: xF, ridge: 0, generator: &g3)
        }.contains("relabeling from the retained labels needs one label per retained sample"))
    }

    @Test("an early checkpoint is the network trained for fewer epochs, and relabeling from it uses its features (gelsd oracle)")
    func relabelFromCheckpoint() throws {
        var g = SeededGenerator(seed: 50)
        let x = Matrix(rows: 150, columns: 14) { _, _ in g.nextNormal() }
        let labels = (0..<150).map { _ in Int(g.next() % 3) }
        let initial = try MLP(widths: [14, 40, 3], seed: 51)
        let config = TrainingConfiguration(epochs: 12, batchSize: 15, optimizer: .adam, learningRate: 0.01, seed: 52)
        var trained = initial, early: MLP? = nil, seen: [Int] = []
        try trained.train(inputs: x, labels: labels, configuration: config, checkpoint: { e, net in
            seen.append(e)
            if e == 3 { early = net }
        })
        #expect(seen == Array(1...12))
        // Independent route: a separate run of 3 epochs (same seed: the same shuffles and Adam steps).
        var three = initial
        var short = config
        short.epochs = 3
        try three.train(inputs: x, labels: labels, configuration: short)
        let checkpoint = try #require(early)
        #expect(checkpoint.weights == three.weights && checkpoint.biases == three.biases)
        #expect(checkpoint.weights != trained.weights)

        let xF = try x.selectingRows(Array(0..<20)), xR = try x.selectingRows(Array(20..<150))
        let yR = Array(labels[20...]), w0 = initial.head
        // p = 41; |S| = round(0.5 * 41) = 21 < p: Z_S^+ by gelsd on the checkpoint's features.
        var muso = MUSONetwork(rounds: 1, subsampleRatio: 0.5, ridge: 0, fineTune: TrainingConfiguration(epochs: 1), seed: 3)
        muso.target = .retainedLabels
        muso.relabelNetwork = checkpoint
        var g1 = SeededGenerator(seed: 7), g2 = SeededGenerator(seed: 7)
        let got = try muso.relabel(trained, initialHead: w0, retainInputs: xR, retainLabels: yR, forgetInputs: xF, ridge: 0, generator: &g1)
        var order = Array(0..<130)
        order.shuffle(using: &g2)
        let subset = Array(order.prefix(21)).sorted()
        func oracle(_ net: MLP) throws -> [Int] {
            let zS = try net.headFeatures(xR.selectingRows(subset))
            let y = Matrix(rows: subset.count, columns: 3) { r, c in yR[subset[r]] == c ? 1 : 0 }
            let step = try Matrix.minimumNormSolution(zS, y - Matrix.product(zS, w0)).solution
            return SoftmaxCrossEntropy.predictions(try Matrix.product(net.headFeatures(xF), w0 + step))
        }
        #expect(got == (try oracle(checkpoint)))
        // The current network's features give other labels, so the check tells the sources apart.
        #expect(try oracle(trained) != (try oracle(checkpoint)))
        // A relabel network of another shape is refused.
        muso.relabelNetwork = try MLP(widths: [14, 30, 3], seed: 1)
        #expect(errorMessage {
            _ = try muso.relabel(trained, initialHead: w0, retainInputs: xR, retainLabels: yR, forgetInputs: xF, ridge: 0, generator: &g1)
        }.contains("the relabel network has widths [14, 30, 3]"))
    }

    @Test("the retained-labels head with more samples than features is the ridge regression (gelsd on the augmented system)")
    func relabelFromLabelsOverdetermined() throws {
        let toy = try ToyProblem(samples: 200, inputs: 12, hidden: 16, classes: 4, forget: 20,
                                 epochs: 5, batchSize: 20, learningRate: 0.01, seed: 30)
        let (net, w0, xR, xF, retainLabels) = (toy.net, toy.w0, toy.xR, toy.xF, toy.yR)
        // p = 17; |S| = round(6 * 17) = 102 > p: the primal form.
        var muso = MUSONetwork(rounds: 1, subsampleRatio: 6, ridge: 0, fineTune: TrainingConfiguration(epochs: 1), seed: 3)
        muso.target = .retainedLabels
        for eps in [1e-3, 0.5] {
            var g1 = SeededGenerator(seed: 9), g2 = SeededGenerator(seed: 9)
            let got = try muso.relabel(net, initialHead: w0, retainInputs: xR, retainLabels: retainLabels, forgetInputs: xF,
                                       ridge: eps, generator: &g1)
            var order = Array(0..<180)
            order.shuffle(using: &g2)
            let subset = Array(order.prefix(102)).sorted()
            let zS = try net.headFeatures(xR.selectingRows(subset))
            let p = zS.columns
            // min ||Z D - (Y - Z W0)||^2 + eps ||D||^2 as least squares on [Z; sqrt(eps) I] D = [Y - Z W0; 0].
            let y = Matrix(rows: subset.count, columns: 4) { r, c in retainLabels[subset[r]] == c ? 1 : 0 }
            let a = Matrix(rows: subset.count + p, columns: p) { r, c in r < subset.count ? zS[r, c] : (r - subset.count == c ? eps.squareRoot() : 0) }
            let rhs0 = try y - Matrix.product(zS, w0)
            let b = Matrix(rows: subset.count + p, columns: 4) { r, c in r < subset.count ? rhs0[r, c] : 0 }
            let step = try Matrix.minimumNormSolution(a, b).solution
            let logits = try Matrix.product(net.headFeatures(xF), w0 + step)
            #expect(got == SoftmaxCrossEntropy.predictions(logits), "eps = \(eps)")
        }
    }

    /// A trained toy network, one epoch of Adam fine-tuning, and one
    /// retained-labels MUSO round (ridge 1e-3, generator seed 44).
    static func oneRelabelRound() throws -> (ToyProblem, TrainingConfiguration, MUSONetwork) {
        let toy = try ToyProblem(samples: 90, inputs: 10, hidden: 24, classes: 3, forget: 15,
                                 epochs: 8, batchSize: 10, learningRate: 0.01, seed: 40)
        let fine = TrainingConfiguration(epochs: 1, batchSize: 10, optimizer: .adam, learningRate: 0.01, seed: 43)
        var muso = MUSONetwork(rounds: 1, subsampleRatio: 2, ridge: 1e-3, ridgeMax: 1e-3, fineTune: fine, seed: 44)
        muso.target = .retainedLabels
        return (toy, fine, muso)
    }

    /// The relabel head's outputs on the forgotten samples in the first round
    /// of `oneRelabelRound`'s MUSO (its seed 44 and ridge 1e-3): the oracle
    /// tests replay the relabel step this way, then train by an ordinary call.
    static func firstRoundScores(_ muso: MUSONetwork, _ toy: ToyProblem) throws -> Matrix {
        var g = SeededGenerator(seed: 44)
        return try muso.relabelScores(toy.net, initialHead: toy.w0, retainInputs: toy.xR, retainLabels: toy.yR,
                                      forgetInputs: toy.xF, ridge: 1e-3, generator: &g)
    }

    /// The first round's hard relabels, the forgotten samples it fine-tunes
    /// on (all, or those whose label changed) and the rows it trains on
    /// (retained, then those forgotten samples): the oracle tests' replay.
    static func firstRoundRows(_ muso: MUSONetwork, _ toy: ToyProblem, changedOnly: Bool) throws -> (relabels: [Int], used: [Int], rows: Matrix) {
        let relabels = SoftmaxCrossEntropy.predictions(try firstRoundScores(muso, toy))
        let current = try toy.net.predict(toy.xF)
        let used = changedOnly ? relabels.indices.filter { relabels[$0] != current[$0] } : Array(relabels.indices)
        let (xR, xF) = (toy.xR, toy.xF)
        let rows = Matrix(rows: xR.rows + used.count, columns: xR.columns) { i, j in i < xR.rows ? xR[i, j] : xF[used[i - xR.rows], j] }
        return (relabels, used, rows)
    }

    /// Runs one round of `muso` with each value in `bad` set by `set` and
    /// expects an error whose message contains `message`.
    static func expectRefused(_ muso: MUSONetwork, _ toy: ToyProblem, _ bad: [Double], message: String,
                              set: (inout MUSONetwork, Double) -> Void) {
        for value in bad {
            var m = muso
            set(&m, value)
            var n = toy.net
            #expect(errorMessage { try m.unlearn(&n, initialHead: toy.w0, retainInputs: toy.xR, retainLabels: toy.yR, forgetInputs: toy.xF) }.contains(message),
                    "\(value) accepted")
        }
    }

    @Test("changed labels only: a round fine-tunes on the retained data plus exactly the forgotten samples whose label changed")
    func changedLabelsOnly() throws {
        let (toy, fine, base) = try Self.oneRelabelRound()
        let (net, w0, xR, xF, yR) = (toy.net, toy.w0, toy.xR, toy.xF, toy.yR)
        var muso = base
        muso.changedLabelsOnly = true
        // The oracle: the same relabel (same generator), then an ordinary
        // training call on the retained rows and the changed forgotten rows.
        let (relabels, changed, rows) = try Self.firstRoundRows(muso, toy, changedOnly: true)
        #expect(!changed.isEmpty && changed.count < relabels.count, "changed \(changed.count) of \(relabels.count): the check needs both kinds")
        var expected = net
        try expected.train(inputs: rows, labels: yR + changed.map { relabels[$0] }, configuration: fine)
        var unlearned = net
        try muso.unlearn(&unlearned, initialHead: w0, retainInputs: xR, retainLabels: yR, forgetInputs: xF)
        #expect(unlearned.weights == expected.weights && unlearned.biases == expected.biases)
        // And the paper's variant trains on every forgotten sample: a different network.
        muso.changedLabelsOnly = false
        var all = net
        try muso.unlearn(&all, initialHead: w0, retainInputs: xR, retainLabels: yR, forgetInputs: xF)
        #expect(all.weights != unlearned.weights)
    }

    @Test("forget weight: a round weighs each relabeled forgotten sample's loss by w, retained samples by 1", arguments: [false, true])
    func forgetWeight(changedOnly: Bool) throws {
        let (toy, fine, base) = try Self.oneRelabelRound()
        let (net, w0, xR, xF, yR) = (toy.net, toy.w0, toy.xR, toy.xF, toy.yR)
        var muso = base
        muso.changedLabelsOnly = changedOnly
        muso.forgetWeight = 0.3
        // The oracle: the same relabel, then an ordinary training call whose
        // sample weights are 1 on the retained rows and 0.3 on the forgotten
        // rows it trains on (the weighted loss is checked against finite
        // differences in MLPTests).
        let (relabels, used, rows) = try Self.firstRoundRows(muso, toy, changedOnly: changedOnly)
        #expect(!used.isEmpty)
        var expected = net
        try expected.train(inputs: rows, labels: yR + used.map { relabels[$0] }, configuration: fine,
                           sampleWeights: [Double](repeating: 1, count: xR.rows) + [Double](repeating: 0.3, count: used.count))
        var unlearned = net
        try muso.unlearn(&unlearned, initialHead: w0, retainInputs: xR, retainLabels: yR, forgetInputs: xF)
        #expect(unlearned.weights == expected.weights && unlearned.biases == expected.biases)
        // Weight 1 is the unweighted round: a different network.
        muso.forgetWeight = 1
        var plain = net
        try muso.unlearn(&plain, initialHead: w0, retainInputs: xR, retainLabels: yR, forgetInputs: xF)
        #expect(plain.weights != unlearned.weights)
        Self.expectRefused(muso, toy, [0, -1, .infinity, .nan], message: "forget weight") { $0.forgetWeight = $1 }
    }

    @Test("soft targets: a round trains the relabeled samples towards the relabel head's clipped, normalised outputs")
    func softRelabels() throws {
        let (toy, fine, base) = try Self.oneRelabelRound()
        let (net, w0, xR, xF, yR) = (toy.net, toy.w0, toy.xR, toy.xF, toy.yR)
        var muso = base
        muso.softTargets = true
        // The oracle: the same relabel head's outputs (same generator), the
        // targets max(s, 0) / sum max(s, 0) written out here, one-hot rows for
        // the retained samples, then an ordinary soft-target training call.
        let s = try Self.firstRoundScores(muso, toy)
        let classes = s.columns
        var t = Matrix(rows: xR.rows + xF.rows, columns: classes)
        for i in 0..<xR.rows { t[i, yR[i]] = 1 }
        var softRows = 0
        for i in 0..<xF.rows {
            let positive = (0..<classes).map { max(s[i, $0], 0) }
            let total = positive.reduce(0, +)
            #expect(total > 0)
            for j in 0..<classes { t[xR.rows + i, j] = positive[j] / total }
            if positive.filter({ $0 > 0 }).count > 1 { softRows += 1 }
        }
        #expect(softRows > 0, "the check needs targets that are not one-hot")
        var expected = net
        try expected.train(inputs: try stack(xR, xF), targets: t, configuration: fine)
        var unlearned = net
        let history = try muso.unlearn(&unlearned, initialHead: w0, retainInputs: xR, retainLabels: yR, forgetInputs: xF)
        #expect(zip(unlearned.weights, expected.weights).allSatisfy { a, b in zip(a.elements, b.elements).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, abs($0)) } })
        // The hard labels recorded are the targets' argmax.
        #expect(history[0] == (0..<xF.rows).map { i in (0..<classes).max { t[xR.rows + i, $0] < t[xR.rows + i, $1] }! })
        // Hard targets train a different network.
        muso.softTargets = false
        var hard = net
        try muso.unlearn(&hard, initialHead: w0, retainInputs: xR, retainLabels: yR, forgetInputs: xF)
        #expect(hard.weights != unlearned.weights)
    }

    @Test("label smoothing: a round trains the relabeled samples towards (1 - s) one-hot + s / C, weighted, and refuses s outside [0, 1)",
          arguments: [false, true])
    func smoothedRelabels(changedOnly: Bool) throws {
        let (toy, fine, base) = try Self.oneRelabelRound()
        let (net, w0, xR, xF, yR) = (toy.net, toy.w0, toy.xR, toy.xF, toy.yR)
        var muso = base
        muso.changedLabelsOnly = changedOnly
        muso.labelSmoothing = 0.2
        muso.forgetWeight = 0.5
        // The oracle: the same relabel's argmax, the smoothed rows written out
        // here (0.8 + 0.2 / C on the new label, 0.2 / C elsewhere), one-hot
        // rows for the retained samples, then an ordinary soft-target call.
        let (relabels, used, rows) = try Self.firstRoundRows(muso, toy, changedOnly: changedOnly)
        let classes = w0.columns
        #expect(!used.isEmpty)
        let t = Matrix(rows: rows.rows, columns: classes) { i, j in
            i < xR.rows ? (yR[i] == j ? 1 : 0) : (relabels[used[i - xR.rows]] == j ? 0.8 + 0.2 / Double(classes) : 0.2 / Double(classes))
        }
        var expected = net
        try expected.train(inputs: rows, targets: t, configuration: fine,
                           sampleWeights: [Double](repeating: 1, count: xR.rows) + [Double](repeating: 0.5, count: used.count))
        var unlearned = net
        try muso.unlearn(&unlearned, initialHead: w0, retainInputs: xR, retainLabels: yR, forgetInputs: xF)
        #expect(zip(unlearned.weights, expected.weights).allSatisfy { a, b in zip(a.elements, b.elements).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, abs($0)) } })
        // No smoothing trains a different network.
        muso.labelSmoothing = 0
        var hard = net
        try muso.unlearn(&hard, initialHead: w0, retainInputs: xR, retainLabels: yR, forgetInputs: xF)
        #expect(hard.weights != unlearned.weights)
        Self.expectRefused(muso, toy, [-0.1, 1, .infinity, .nan], message: "label smoothing") { $0.labelSmoothing = $1 }
    }

    @Test("changed labels only with smoothed targets, when no label changes: the round is fine-tuning on the retained data alone")
    func noChangedLabel() throws {
        let (toy, fine, _) = try Self.oneRelabelRound()
        let (net, w0, xR, xF, yR) = (toy.net, toy.w0, toy.xR, toy.xF, toy.yR)
        // The current-head relabel with |S| = all 75 retained samples > p = 25
        // and no ridge projects onto the whole feature space: the relabel
        // head is the current head, so no forgotten label changes.
        var muso = MUSONetwork(rounds: 1, subsampleRatio: 3, ridge: 0, ridgeMax: 0, fineTune: fine, seed: 44)
        muso.changedLabelsOnly = true
        muso.labelSmoothing = 0.1
        var g = SeededGenerator(seed: 44)
        let relabels = try muso.relabel(net, initialHead: w0, retainInputs: xR, forgetInputs: xF, ridge: 0, generator: &g)
        let current = try net.predict(xF)
        try #require(relabels == current, "the check needs a round in which no label changes")
        // The oracle: an ordinary training call on the retained samples and labels.
        var expected = net
        try expected.train(inputs: xR, labels: yR, configuration: fine)
        var unlearned = net
        try muso.unlearn(&unlearned, initialHead: w0, retainInputs: xR, retainLabels: yR, forgetInputs: xF)
        #expect(zip(unlearned.weights, expected.weights).allSatisfy { a, b in zip(a.elements, b.elements).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, abs($0)) } })
    }

    @Test("soft targets from the current head's logits are their softmax; a retained-labels row with no positive output is one-hot")
    func softTargetRules() throws {
        let s = try Matrix(rowMajor: [[0, log(3.0), 0], [-1, -2, -0.5]])
        var muso = MUSONetwork(fineTune: TrainingConfiguration(epochs: 1))
        let softmax = muso.targets(scores: s)
        #expect(abs(softmax[0, 1] - 0.6) < 1e-15 && abs(softmax[0, 0] - 0.2) < 1e-15)
        #expect(abs(softmax[1, 2] - exp(-0.5) / (exp(-1) + exp(-2) + exp(-0.5))) < 1e-15)
        muso.target = .retainedLabels
        let clipped = muso.targets(scores: s)
        #expect(abs(clipped[0, 1] - 1) < 1e-15 && clipped[0, 0] == 0 && clipped[0, 2] == 0)
        #expect(clipped[1, 2] == 1 && clipped[1, 0] == 0 && clipped[1, 1] == 0)
    }

    @Test("SalUn's mask: the given share of each layer's weights with the largest forget-loss gradient (finite differences), and only those move", arguments: [0.2, 0.5])
    func saliencyShare(share: Double) throws {
        let toy = try ToyProblem(samples: 60, inputs: 6, hidden: 8, classes: 3, forget: 12,
                                 epochs: 5, batchSize: 10, learningRate: 0.01, seed: 50)
        let net = toy.net
        let yF = Array(toy.labels[..<12]), yR = toy.yR
        let mask = try NetworkBaseline.salun.saliencyMask(net, inputs: toy.xF, labels: yF, keep: share)
        func forgetLoss(_ n: MLP) throws -> Double { SoftmaxCrossEntropy.lossAndGradient(logits: try n.logits(toy.xF), labels: yF).loss }
        var after = net
        try NetworkBaseline.salun.run(&after, retainInputs: toy.xR, retainLabels: yR, forgetInputs: toy.xF, forgetLabels: yF, classes: 3,
                                      configuration: TrainingConfiguration(epochs: 1, batchSize: 10, optimizer: .adam, learningRate: 0.01, seed: 51),
                                      saliencyShare: share)
        let h = 1e-6
        for l in 0..<net.depth {
            let count = net.weights[l].elements.count
            let kept = Int(share * Double(count))
            // |d loss_F / d w| by central differences, independent of backward().
            let magnitudes = try (0..<count).map { k -> Double in
                let (i, j) = (k % net.weights[l].rows, k / net.weights[l].rows)
                var plus = net, minus = net
                plus.weights[l][i, j] += h
                minus.weights[l][i, j] -= h
                return abs(try forgetLoss(plus) - forgetLoss(minus)) / (2 * h)
            }
            let inMask = (0..<count).filter { mask[l].elements[$0] == 1 }
            #expect(inMask.count == kept, "layer \(l + 1): \(inMask.count) of \(count) kept, expected \(kept)")
            let smallestIn = inMask.map { magnitudes[$0] }.min() ?? 0
            let largestOut = (0..<count).filter { mask[l].elements[$0] == 0 }.map { magnitudes[$0] }.max() ?? 0
            #expect(smallestIn >= largestOut - 1e-7 * max(1, largestOut), "layer \(l + 1): kept \(smallestIn) < dropped \(largestOut)")
            for k in 0..<count where mask[l].elements[k] == 0 {
                #expect(after.weights[l].elements[k] == net.weights[l].elements[k], "layer \(l + 1) weight \(k) moved outside the mask")
            }
            #expect(inMask.contains { after.weights[l].elements[$0] != net.weights[l].elements[$0] })
        }
        var n = net
        #expect(errorMessage { try NetworkBaseline.salun.run(&n, retainInputs: toy.xR, retainLabels: yR, forgetInputs: toy.xF, forgetLabels: yF, classes: 3,
                                                           configuration: TrainingConfiguration(epochs: 1), saliencyShare: 1.5) }.contains("saliency share"))
    }

    @Test("ridge schedule: the half-cosine ramp from ridge to ridgeMax")
    func ridgeSchedule() throws {
        var muso = MUSONetwork(rounds: 1, ridge: 1e-6, ridgeMax: 1e-2, fineTune: TrainingConfiguration(epochs: 1))
        #expect(muso.ridge(round: 0) == 1e-6)
        muso.rounds = 5
        // (1 - cos(pi r / 4)) / 2 = 0, (2 - sqrt 2) / 4, 1/2, (2 + sqrt 2) / 4, 1.
        let share = [0, (2 - 2.0.squareRoot()) / 4, 0.5, (2 + 2.0.squareRoot()) / 4, 1]
        for r in 0..<5 {
            let expected = 1e-6 + (1e-2 - 1e-6) * share[r]
            #expect(abs(muso.ridge(round: r) - expected) <= 1e-15 * 1e-2, "round \(r)")
        }
        muso.ridge = -1
        var net = try MLP(widths: [2, 3, 2], seed: 1)
        let x = Matrix(rows: 4, columns: 2, repeating: 1)
        #expect(errorMessage {
            try muso.unlearn(&net, initialHead: net.head, retainInputs: x, retainLabels: [0, 1, 0, 1], forgetInputs: x)
        }.contains("ridge schedule needs finite ridges >= 0, got -1"))
    }

    @Test("end to end on a small network: relabeling changes the forgotten samples' labels, not the retained ones")
    func endToEnd() throws {
        // Features relu(x) (identity first layer, frozen by the mask). The
        // retained samples live on inputs 0-1, the forgotten ones on inputs
        // 2-3, so their features are orthogonal to the retained ones: what the
        // head learnt from them lies outside the retained row space, and the
        // head retrained without them falls back to W0 there (class 0).
        var g = SeededGenerator(seed: 20)
        var rows: [[Double]] = [], labels: [Int] = []
        for i in 0..<60 {
            let u = abs(g.nextNormal()) + 0.2, v = abs(g.nextNormal()) + 0.2
            rows.append([u, v, 0, 0]); labels.append(u > v ? 0 : 1)
            if i < 12 { rows.append([0, 0, abs(g.nextNormal()) + 0.5, abs(g.nextNormal()) + 0.5]); labels.append(1) }
        }
        let x = try Matrix(rowMajor: rows)
        let forget = labels.indices.filter { x[$0, 2] > 0 }
        let keep = labels.indices.filter { x[$0, 2] == 0 }
        var w0 = Matrix(rows: 4, columns: 2)
        w0[2, 0] = 1; w0[3, 0] = 1; w0[2, 1] = -1; w0[3, 1] = -1     // W0 favours class 0 on inputs 2-3
        var net = try MLP(weights: [Matrix.identity(4), w0], biases: [[0, 0, 0, 0], [0, 0]])
        let initialHead = net.head
        let frozenBody = [Matrix(rows: 4, columns: 4), Matrix(rows: 4, columns: 2, repeating: 1)]
        let config = TrainingConfiguration(epochs: 200, batchSize: 12, optimizer: .adam, learningRate: 0.05, seed: 21)
        try net.train(inputs: x, labels: labels, configuration: config, mask: frozenBody)
        let xR = try x.selectingRows(keep), yR = keep.map { labels[$0] }
        let xF = try x.selectingRows(forget), yF = forget.map { labels[$0] }
        #expect(accuracy(try net.predict(xF), yF) == 1)                  // learnt: class 1
        let before = accuracy(try net.predict(xR), yR)
        let muso = MUSONetwork(rounds: 2, subsampleRatio: 0.5, ridge: 1e-3,
                               fineTune: TrainingConfiguration(epochs: 20, batchSize: 12, optimizer: .adam, learningRate: 0.05, seed: 22), seed: 23)
        var g2 = SeededGenerator(seed: 1)
        let relabels = try muso.relabel(net, initialHead: initialHead, retainInputs: xR, forgetInputs: xF, ridge: 1e-3, generator: &g2)
        #expect(relabels == [Int](repeating: 0, count: yF.count), "relabels \(relabels)")
        var unlearned = net
        let history = try muso.unlearn(&unlearned, initialHead: initialHead, retainInputs: xR, retainLabels: yR, forgetInputs: xF)
        #expect(history.count == 2)
        #expect(accuracy(try unlearned.predict(xF), yF) == 0)            // forgotten: no longer class 1
        #expect(accuracy(try unlearned.predict(xR), yR) >= before - 0.05) // retained: left alone
    }
}

@Suite("Network file")
struct NetworkFileTests {
    @Test("save and load round trip; corruption and truncation are refused")
    func roundTrip() throws {
        let dir = try temporaryDirectory()
        let net = try MLP(widths: [7, 5, 3], seed: 2)
        try NetworkFile.write(net, to: dir + "/n.net")
        let back = try NetworkFile.read(from: dir + "/n.net")
        #expect(back.weights == net.weights && back.biases == net.biases)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/n.net")))
        try Data(bytes.prefix(bytes.count - 8)).write(to: URL(fileURLWithPath: dir + "/cut.net"))
        #expect(errorMessage { _ = try NetworkFile.read(from: dir + "/cut.net") }.contains("truncated"))
        var flipped = bytes
        flipped[bytes.count - 20] ^= 1
        try Data(flipped).write(to: URL(fileURLWithPath: dir + "/bad.net"))
        #expect(errorMessage { _ = try NetworkFile.read(from: dir + "/bad.net") }.contains("checksum mismatch"))
        #expect(errorMessage { _ = try NetworkFile.read(from: dir + "/none.net") }.contains("no such file"))
    }
}

/// A small MLP trained by Adam on Gaussian inputs with uniformly random
/// labels (data from `seed`, weights from seed + 1, shuffles from seed + 2);
/// the first `forget` samples form the forget set.
struct ToyProblem {
    let net: MLP
    /// The head at initialisation.
    let w0: Matrix
    let xR: Matrix, xF: Matrix
    /// All labels, forgotten samples first.
    let labels: [Int]
    var yR: [Int] { Array(labels[xF.rows...]) }

    init(samples: Int, inputs: Int, hidden: Int, classes: Int, forget: Int,
         epochs: Int, batchSize: Int, learningRate: Double, seed: UInt64) throws {
        var g = SeededGenerator(seed: seed)
        let x = Matrix(rows: samples, columns: inputs) { _, _ in g.nextNormal() }
        labels = (0..<samples).map { _ in Int(g.next() % UInt64(classes)) }
        var net = try MLP(widths: [inputs, hidden, classes], seed: seed + 1)
        w0 = net.head
        try net.train(inputs: x, labels: labels, configuration: TrainingConfiguration(
            epochs: epochs, batchSize: batchSize, optimizer: .adam, learningRate: learningRate, seed: seed + 2))
        self.net = net
        xR = try x.selectingRows(Array(forget..<samples))
        xF = try x.selectingRows(Array(0..<forget))
    }
}

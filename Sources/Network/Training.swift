import Foundation
import LinearAlgebra
import Unlearning

/// Mini-batch training of an `MLP` on softmax cross-entropy.
public struct TrainingConfiguration: Sendable {
    public var epochs: Int
    public var batchSize: Int
    public var optimizer: Optimizer.Kind
    public var learningRate: Double
    public var momentum: Double
    /// Seed of the shuffles.
    public var seed: UInt64

    public init(epochs: Int, batchSize: Int = 128, optimizer: Optimizer.Kind = .momentum, learningRate: Double = 0.05,
                momentum: Double = 0.9, seed: UInt64 = 0) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.optimizer = optimizer
        self.learningRate = learningRate
        self.momentum = momentum
        self.seed = seed
    }
}

extension MLP {
    /// Trains on (X, y) for `configuration.epochs` epochs of shuffled
    /// mini-batches. `sampleWeights` scale each sample's loss (-1 ascends it:
    /// gradient ascent); `mask` freezes the weights where it is 0 (SalUn).
    /// `progress` receives each finished epoch (1-based) and its mean loss;
    /// `checkpoint` receives each finished epoch and a copy of the network
    /// at that point (e.g. to keep an early checkpoint for MUSO's relabel
    /// step, `MUSONetwork.relabelNetwork`).
    /// - Returns: the mean loss of each epoch.
    /// - Complexity: per epoch 6 N sum_l n_{l-1} n_l flops (forward, backward).
    @discardableResult
    public mutating func train(inputs x: Matrix, labels: [Int], configuration c: TrainingConfiguration,
                               sampleWeights: [Double]? = nil, mask: [Matrix]? = nil,
                               progress: ((Int, Double) -> Void)? = nil,
                               checkpoint: ((Int, MLP) -> Void)? = nil) throws -> [Double] {
        guard x.rows == labels.count else { throw UnlearningError.shapeMismatch("\(x.rows) samples, \(labels.count) labels") }
        let classes = weights[depth - 1].columns
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classes }) {
            throw UnlearningError.invalidArgument("label \(labels[bad]) of sample \(bad) is outside 0..<\(classes)")
        }
        return try train(inputs: x, configuration: c, sampleWeights: sampleWeights, mask: mask, progress: progress, checkpoint: checkpoint) { batch, logits in
            SoftmaxCrossEntropy.lossAndGradient(logits: logits, labels: batch.map { labels[$0] }, weights: sampleWeights.map { w in batch.map { w[$0] } })
        }
    }

    /// Trains on (X, Q) with a target distribution per sample: row i of
    /// `targets` (N x classes, non-negative, summing to 1) is sample i's
    /// target, and the loss is the cross-entropy -sum_j Q_ij log softmax(z_i)_j
    /// (a one-hot row gives the same loss and gradient as the label). Soft
    /// targets let fine-tuning move a sample towards a prediction without
    /// driving its confidence to 1 (MUSO's soft relabels,
    /// `MUSONetwork.softTargets`). Otherwise as `train(inputs:labels:...)`.
    @discardableResult
    public mutating func train(inputs x: Matrix, targets: Matrix, configuration c: TrainingConfiguration,
                               sampleWeights: [Double]? = nil, mask: [Matrix]? = nil,
                               progress: ((Int, Double) -> Void)? = nil,
                               checkpoint: ((Int, MLP) -> Void)? = nil) throws -> [Double] {
        let classes = weights[depth - 1].columns
        guard x.rows == targets.rows, targets.columns == classes else {
            throw UnlearningError.shapeMismatch("\(x.rows) samples and \(classes) classes, targets \(targets.rows) x \(targets.columns)")
        }
        for i in 0..<targets.rows {
            var sum = 0.0
            for j in 0..<classes {
                let q = targets[i, j]
                guard q >= 0, q.isFinite else { throw UnlearningError.invalidArgument("target \(q) of sample \(i), class \(j) is not a probability") }
                sum += q
            }
            guard abs(sum - 1) <= 1e-9 else { throw UnlearningError.invalidArgument("the targets of sample \(i) sum to \(sum), not 1") }
        }
        return try train(inputs: x, configuration: c, sampleWeights: sampleWeights, mask: mask, progress: progress, checkpoint: checkpoint) { batch, logits in
            SoftmaxCrossEntropy.lossAndGradient(logits: logits, targets: try targets.selectingRows(batch),
                                                weights: sampleWeights.map { w in batch.map { w[$0] } })
        }
    }

    /// The training loop: `loss` gives a mini-batch's (sample indices,
    /// logits) mean loss and its gradient with respect to the logits.
    private mutating func train(inputs x: Matrix, configuration c: TrainingConfiguration, sampleWeights: [Double]?, mask: [Matrix]?,
                                progress: ((Int, Double) -> Void)?, checkpoint: ((Int, MLP) -> Void)?,
                                loss lossAndGradient: ([Int], Matrix) throws -> (loss: Double, gradient: Matrix)) throws -> [Double] {
        guard c.epochs >= 0, c.batchSize >= 1, c.learningRate > 0 else {
            throw UnlearningError.invalidArgument("epochs >= 0, batch size >= 1 and learning rate > 0 are required")
        }
        if let sampleWeights, sampleWeights.count != x.rows {
            throw UnlearningError.shapeMismatch("\(x.rows) samples, \(sampleWeights.count) sample weights")
        }
        if x.rows == 0 { return [] }
        let xt = x.transposed  // sample i contiguous: column i
        let d = x.columns
        var optimizer = Optimizer(kind: c.optimizer, learningRate: c.learningRate, momentum: c.momentum)
        var g = SeededGenerator(seed: c.seed)
        var order = Array(0..<x.rows)
        var history: [Double] = []
        for epoch in 0..<c.epochs {
            order.shuffle(using: &g)
            var total = 0.0
            for lo in stride(from: 0, to: order.count, by: c.batchSize) {
                let batch = Array(order[lo..<min(order.count, lo + c.batchSize)])
                let xb = xt.withUnsafeBufferPointer { p in
                    Matrix(rows: d, columns: batch.count) { out in
                        for (k, i) in batch.enumerated() {
                            out.baseAddress!.advanced(by: k * d).update(from: p.baseAddress!.advanced(by: i * d), count: d)
                        }
                    }
                }.transposed
                let trace = try forward(xb)
                let (loss, grad) = try lossAndGradient(batch, trace.logits)
                total += loss * Double(batch.count)
                optimizer.apply(to: &self, gradients: try backward(trace, outputGradient: grad), mask: mask)
            }
            let mean = total / Double(x.rows)
            guard mean.isFinite else { throw UnlearningError.invalidArgument("training diverged at epoch \(epoch + 1) (learning rate \(c.learningRate) too large)") }
            history.append(mean)
            progress?(epoch + 1, mean)
            checkpoint?(epoch + 1, self)
        }
        return history
    }

    /// Predicted classes for X, in batches of 2048.
    public func predict(_ x: Matrix) throws -> [Int] {
        try SoftmaxCrossEntropy.predictions(batchedLogits(x))
    }

    /// Logits for X, in batches of 2048 rows.
    public func batchedLogits(_ x: Matrix) throws -> Matrix {
        var out = Matrix(rows: x.rows, columns: weights[depth - 1].columns)
        for lo in stride(from: 0, to: x.rows, by: 2048) {
            let rows = Array(lo..<min(x.rows, lo + 2048))
            try out.setRows(lo..<(lo + rows.count), to: logits(x.selectingRows(rows)))
        }
        return out
    }

    /// The last hidden layer's outputs for X with a bias column of ones
    /// appended: Z (n x (n_{L-1} + 1)), the features the head is linear in.
    public func headFeatures(_ x: Matrix) throws -> Matrix {
        let p = weights[depth - 1].rows
        var z = Matrix(rows: x.rows, columns: p + 1, repeating: 1)
        for lo in stride(from: 0, to: x.rows, by: 2048) {
            let rows = Array(lo..<min(x.rows, lo + 2048))
            let f = try features(x.selectingRows(rows))
            for j in 0..<p { for (k, _) in rows.enumerated() { z[lo + k, j] = f[k, j] } }
        }
        return z
    }

    /// The head as one matrix theta = [W_L; b_L^T] ((n_{L-1} + 1) x n_L), so
    /// that logits = Z theta for the bias-augmented features Z.
    public var head: Matrix {
        get {
            let w = weights[depth - 1]
            var t = Matrix(rows: w.rows + 1, columns: w.columns)
            for j in 0..<w.columns {
                for i in 0..<w.rows { t[i, j] = w[i, j] }
                t[w.rows, j] = biases[depth - 1][j]
            }
            return t
        }
        set {
            let p = weights[depth - 1].rows
            precondition(newValue.rows == p + 1 && newValue.columns == weights[depth - 1].columns, "head shape")
            for j in 0..<newValue.columns {
                for i in 0..<p { weights[depth - 1][i, j] = newValue[i, j] }
                biases[depth - 1][j] = newValue[p, j]
            }
        }
    }
}

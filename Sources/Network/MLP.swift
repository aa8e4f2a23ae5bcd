import Foundation
import LinearAlgebra
import Unlearning

/// A fully connected network with ReLU between layers and a linear last
/// layer (the "head") whose outputs are logits for softmax cross-entropy:
///
///     a_0 = x,  a_l = relu(a_{l-1} W_l + b_l)  (l < L),  f(x) = a_{L-1} W_L + b_L.
///
/// Samples are rows: a batch X is B x d, W_l is n_{l-1} x n_l, b_l has n_l
/// entries. Every product is one GEMM on the batch (BLAS through
/// `LinearAlgebra`), never a scalar loop over samples.
public struct MLP: Sendable {
    /// W_l (n_{l-1} x n_l).
    public var weights: [Matrix]
    /// b_l (n_l).
    public var biases: [[Double]]

    /// The layer widths [d, n_1, ..., n_L].
    public var widths: [Int] { [weights[0].rows] + weights.map(\.columns) }
    /// Number of layers L.
    public var depth: Int { weights.count }

    /// He initialisation: W_l ~ N(0, 2 / n_{l-1}), b_l = 0, from `seed`.
    /// - Throws: `invalidArgument` for fewer than two widths or a width < 1.
    public init(widths: [Int], seed: UInt64) throws {
        guard widths.count >= 2, widths.allSatisfy({ $0 >= 1 }) else {
            throw UnlearningError.invalidArgument("an MLP needs at least two positive widths, got \(widths)")
        }
        var g = SeededGenerator(seed: seed, stream: 0x3_1F)
        weights = []
        biases = []
        for l in 1..<widths.count {
            let sd = (2 / Double(widths[l - 1])).squareRoot()
            weights.append(Matrix(rows: widths[l - 1], columns: widths[l]) { _, _ in sd * g.nextNormal() })
            biases.append([Double](repeating: 0, count: widths[l]))
        }
    }

    public init(weights: [Matrix], biases: [[Double]]) throws {
        guard !weights.isEmpty, weights.count == biases.count else {
            throw UnlearningError.shapeMismatch("\(weights.count) weight matrices and \(biases.count) bias vectors")
        }
        for l in 0..<weights.count {
            guard biases[l].count == weights[l].columns, l == 0 || weights[l].rows == weights[l - 1].columns else {
                throw UnlearningError.shapeMismatch("layer \(l): W is \(weights[l].rows) x \(weights[l].columns), b has \(biases[l].count)")
            }
        }
        self.weights = weights
        self.biases = biases
    }

    /// The activations of one forward pass: a_0 = X, ..., a_{L-1}, and the
    /// logits. Kept for the backward pass.
    public struct Trace: Sendable {
        public var activations: [Matrix]
        public var logits: Matrix
        /// The last hidden layer a_{L-1}: the features the head sees.
        public var features: Matrix { activations[activations.count - 1] }
    }

    /// Forward pass on a batch X (B x d).
    /// - Complexity: 2 B sum_l n_{l-1} n_l flops.
    public func forward(_ x: Matrix) throws -> Trace {
        guard x.columns == weights[0].rows else {
            throw UnlearningError.shapeMismatch("the network takes \(weights[0].rows) inputs, the batch has \(x.columns) columns")
        }
        var acts = [x]
        var a = x
        for l in 0..<depth {
            var z = try Matrix.product(a, weights[l])
            let b = biases[l], rows = z.rows
            let last = l == depth - 1
            z.withUnsafeMutableBufferPointer { p in
                for j in 0..<b.count {
                    let bj = b[j]
                    for i in 0..<rows {
                        let v = p[i + j * rows] + bj
                        p[i + j * rows] = last ? v : max(0, v)
                    }
                }
            }
            if last { return Trace(activations: acts, logits: z) }
            acts.append(z)
            a = z
        }
        fatalError("unreachable")
    }

    /// Logits for a batch.
    public func logits(_ x: Matrix) throws -> Matrix { try forward(x).logits }

    /// The last hidden layer's output for a batch (B x n_{L-1}).
    public func features(_ x: Matrix) throws -> Matrix { try forward(x).features }

    /// Gradients of a loss with respect to every W_l and b_l, given
    /// dLoss/dLogits (B x n_L) and the forward trace: backpropagation,
    /// dW_l = a_{l-1}^T delta_l, db_l = column sums of delta_l,
    /// delta_{l-1} = (delta_l W_l^T) * [a_{l-1} > 0].
    /// - Complexity: 4 B sum_l n_{l-1} n_l flops.
    public func backward(_ trace: Trace, outputGradient: Matrix) throws -> (weights: [Matrix], biases: [[Double]]) {
        var gw = [Matrix](repeating: Matrix(rows: 0, columns: 0), count: depth)
        var gb = [[Double]](repeating: [], count: depth)
        var delta = outputGradient
        for l in stride(from: depth - 1, through: 0, by: -1) {
            let a = trace.activations[l]
            gw[l] = try Matrix.product(a, delta, transposingFirst: true)
            var sums = [Double](repeating: 0, count: delta.columns)
            let rows = delta.rows
            delta.withUnsafeBufferPointer { p in
                for j in 0..<sums.count { var s = 0.0; for i in 0..<rows { s += p[i + j * rows] }; sums[j] = s }
            }
            gb[l] = sums
            if l > 0 {
                var next = try Matrix.product(delta, weights[l], transposingSecond: true)
                a.withUnsafeBufferPointer { pa in
                    next.withUnsafeMutableBufferPointer { pn in
                        for i in pn.indices where pa[i] <= 0 { pn[i] = 0 }
                    }
                }
                delta = next
            }
        }
        return (gw, gb)
    }

    /// Total number of parameters.
    public var parameterCount: Int { zip(weights, biases).reduce(0) { $0 + $1.0.elements.count + $1.1.count } }
}

/// Softmax cross-entropy, mean over the batch.
public enum SoftmaxCrossEntropy {
    /// The loss (1/B) sum_i -log softmax(z_i)[y_i] and its gradient with
    /// respect to the logits, (softmax(z_i) - e_{y_i}) / B, with optional
    /// per-sample weights (a negative weight ascends that sample's loss).
    public static func lossAndGradient(logits: Matrix, labels: [Int], weights: [Double]? = nil) -> (loss: Double, gradient: Matrix) {
        let b = logits.rows, c = logits.columns
        var grad = Matrix(rows: b, columns: c)
        var loss = 0.0
        for i in 0..<b {
            let (top, z) = normaliser(logits, row: i)
            let w = weights?[i] ?? 1
            loss += w * (-(logits[i, labels[i]] - top) + log(z))
            for j in 0..<c {
                let p = exp(logits[i, j] - top) / z
                grad[i, j] = w * (p - (j == labels[i] ? 1 : 0)) / Double(b)
            }
        }
        return (loss / Double(b), grad)
    }

    /// The loss (1/B) sum_i w_i sum_j -Q_ij log softmax(z_i)_j against target
    /// distributions Q (B x C, rows summing to 1) and its gradient with
    /// respect to the logits, w_i (softmax(z_i) - Q_i) / B; a one-hot Q gives
    /// `lossAndGradient(logits:labels:weights:)`.
    public static func lossAndGradient(logits: Matrix, targets: Matrix, weights: [Double]? = nil) -> (loss: Double, gradient: Matrix) {
        let b = logits.rows, c = logits.columns
        precondition(targets.rows == b && targets.columns == c, "targets shape")
        var grad = Matrix(rows: b, columns: c)
        var loss = 0.0
        for i in 0..<b {
            let (top, z) = normaliser(logits, row: i)
            let w = weights?[i] ?? 1, logZ = log(z)
            for j in 0..<c {
                let q = targets[i, j]
                if q != 0 { loss -= w * q * (logits[i, j] - top - logZ) }
                grad[i, j] = w * (exp(logits[i, j] - top) / z - q) / Double(b)
            }
        }
        return (loss / Double(b), grad)
    }

    /// softmax of each row: exp(z_ij - max_l z_il) / sum_l exp(z_il - max_l z_il).
    public static func probabilities(_ logits: Matrix) -> Matrix {
        var p = Matrix(rows: logits.rows, columns: logits.columns)
        for i in 0..<logits.rows {
            let (top, z) = normaliser(logits, row: i)
            for j in 0..<logits.columns { p[i, j] = exp(logits[i, j] - top) / z }
        }
        return p
    }

    /// Row i's maximum and sum_j exp(z_ij - max): softmax(z_i)_j =
    /// exp(z_ij - max) / sum, without overflow.
    static func normaliser(_ logits: Matrix, row i: Int) -> (top: Double, sum: Double) {
        var top = -Double.infinity
        for j in 0..<logits.columns { top = max(top, logits[i, j]) }
        var z = 0.0
        for j in 0..<logits.columns { z += exp(logits[i, j] - top) }
        return (top, z)
    }

    /// argmax of row i (the first of equal maxima).
    static func argmax(_ m: Matrix, row i: Int) -> Int {
        var best = 0
        for j in 1..<m.columns where m[i, j] > m[i, best] { best = j }
        return best
    }

    /// argmax of each row.
    public static func predictions(_ logits: Matrix) -> [Int] {
        (0..<logits.rows).map { argmax(logits, row: $0) }
    }
}

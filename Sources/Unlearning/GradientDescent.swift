import LinearAlgebra

/// (Stochastic) gradient descent on the squared loss, the training the MUSO
/// analysis assumes:
///
///     f(theta) = (1 / 2n) ||Phi theta - Y||^2 + (eps / 2n) ||theta - start||^2,
///
/// started from `start` (theta0 for training, theta* for fine-tuning). Every
/// step adds a vector of the row space of Phi (plus a multiple of theta -
/// start), so with eps = 0 the iterates stay in start + rowspace(Phi) and
/// converge to the solution closest to `start`, equation (1) of docs/design.md.
/// In the over-parameterised regime the data are interpolated and mini-batch
/// SGD converges with a constant step (randomised Kaczmarz); in the
/// least-squares regime use full batches or a decaying schedule.
public struct GradientDescent: Sendable {
    /// The step-size schedule eta_t = eta * factor(t), t the epoch (from 0).
    public enum Schedule: Sendable, Equatable {
        /// factor 1.
        case constant
        /// factor 1 / (1 + decay t).
        case inverseTime(decay: Double)
        /// factor rate^t.
        case exponential(rate: Double)

        func factor(_ epoch: Int) -> Double {
            switch self {
            case .constant: return 1
            case let .inverseTime(decay): return 1 / (1 + decay * Double(epoch))
            case let .exponential(rate): return pow(rate, Double(epoch))
            }
        }
    }

    /// eta; nil picks 1 / L: for full batches L = (lambda_max(Phi^T Phi) + eps) / n
    /// (by power iteration), for mini-batches L = max_i ||phi_i||^2 + eps / n,
    /// a bound on the curvature of every batch loss.
    public var stepSize: Double?
    public var schedule: Schedule
    /// Samples per step; 0 (or >= n) means full batch.
    public var batchSize: Int
    /// Upper bound on epochs (passes over the data).
    public var maxEpochs: Int
    /// Stop when ||grad f(theta)|| <= tolerance * ||grad f(start)||, checked
    /// after every epoch on the full data.
    public var tolerance: Double
    /// eps >= 0.
    public var ridge: Double
    /// Seed of the shuffles.
    public var seed: UInt64

    public init(stepSize: Double? = nil, schedule: Schedule = .constant, batchSize: Int = 0,
                maxEpochs: Int = 1000, tolerance: Double = 1e-10, ridge: Double = 0, seed: UInt64 = 0) {
        self.stepSize = stepSize
        self.schedule = schedule
        self.batchSize = batchSize
        self.maxEpochs = maxEpochs
        self.tolerance = tolerance
        self.ridge = ridge
        self.seed = seed
    }

    /// What a run did.
    public struct Run: Sendable {
        /// The final iterate.
        public var parameters: Matrix
        /// Epochs run.
        public var epochs: Int
        /// ||grad f|| / ||grad f(start)|| after each epoch.
        public var relativeGradientNorms: [Double]
        /// Whether the tolerance was met within `maxEpochs`.
        public var converged: Bool
        /// eta used.
        public var stepSize: Double
        /// The stopping rule, in words.
        public var stoppingRule: String
    }

    /// Runs gradient descent on Phi (n x M), Y (n x C) from `start` (M x C).
    /// - Throws: shape and finiteness errors; `invalidArgument` for a
    ///   non-positive step or negative ridge.
    /// - Complexity: per epoch about 6 n M C flops (steps plus the full
    ///   gradient check), plus an O(n M) copy of Phi^T once.
    public func train(features phi: Matrix, targets y: Matrix, from start: Matrix) throws -> Run {
        let n = phi.rows, m = phi.columns, c = y.columns
        guard y.rows == n, start.rows == m, start.columns == c else {
            throw UnlearningError.shapeMismatch("Phi \(n) x \(m), Y \(y.rows) x \(y.columns), start \(start.rows) x \(start.columns)")
        }
        guard n >= 1 else { throw UnlearningError.invalidArgument("gradient descent needs at least one sample") }
        guard ridge >= 0, ridge.isFinite else { throw UnlearningError.invalidArgument("ridge must be finite and >= 0, got \(ridge)") }
        try phi.requireFinite("the feature matrix")
        try y.requireFinite("the targets")
        try start.requireFinite("the starting parameters")
        let b = (batchSize <= 0 || batchSize >= n) ? n : batchSize
        let phiT = phi.transposed  // sample i's features are column i: contiguous
        let eta: Double
        if let stepSize {
            guard stepSize > 0, stepSize.isFinite else { throw UnlearningError.invalidArgument("step size must be positive, got \(stepSize)") }
            eta = stepSize
        } else if b == n {
            eta = 1 / ((try Self.largestEigenvalue(phi) * 1.01 + ridge) / Double(n))
        } else {
            var largest = 0.0
            for i in 0..<n { largest = max(largest, phi.row(i).reduce(0) { $0 + $1 * $1 }) }
            eta = 1 / (largest + ridge / Double(n))
        }

        var theta = start
        func gradient(_ theta: Matrix) throws -> Matrix {
            var r = try Matrix.product(phi, theta) - y
            var g = try Matrix.product(phi, r, transposingFirst: true)
            if ridge > 0 { g = try g + ridge * (theta - start) }
            r = Matrix(rows: 0, columns: 0)
            return (1 / Double(n)) * g
        }
        let g0 = try gradient(theta).frobeniusNorm
        let rule = "stop when ||grad|| <= \(tolerance) ||grad at start|| (checked each epoch) or after \(maxEpochs) epochs"
        if g0 == 0 {
            return Run(parameters: theta, epochs: 0, relativeGradientNorms: [], converged: true, stepSize: eta, stoppingRule: rule)
        }
        var generator = SeededGenerator(seed: seed)
        var order = Array(0..<n)
        var history: [Double] = []
        var converged = false
        var epoch = 0
        while epoch < maxEpochs {
            let stepNow = eta * schedule.factor(epoch)
            if b < n { order.shuffle(using: &generator) }
            for lo in stride(from: 0, to: n, by: b) {
                let batch = Array(order[lo..<min(n, lo + b)])
                let phiTB: Matrix
                let yB: Matrix
                if b == n {
                    phiTB = phiT
                    yB = y
                } else {
                    var elements = [Double]()
                    elements.reserveCapacity(m * batch.count)
                    phiT.withUnsafeBufferPointer { p in
                        for i in batch { elements.append(contentsOf: p[(i * m)..<((i + 1) * m)]) }
                    }
                    phiTB = try Matrix(rows: m, columns: batch.count, elements: elements)
                    yB = try y.selectingRows(batch)
                }
                let residual = try Matrix.product(phiTB, theta, transposingFirst: true) - yB
                let shrink = ridge > 0 ? stepNow * ridge / Double(n) : 0
                if shrink > 0 { theta = try theta - shrink * (theta - start) }
                try theta.addProduct(phiTB, residual, alpha: -stepNow / Double(batch.count), beta: 1)
            }
            epoch += 1
            let g = try gradient(theta).frobeniusNorm / g0
            guard g.isFinite else {
                throw UnlearningError.invalidArgument("gradient descent diverged at epoch \(epoch) (step size \(stepNow) too large)")
            }
            history.append(g)
            if g <= tolerance { converged = true; break }
        }
        return Run(parameters: theta, epochs: epoch, relativeGradientNorms: history, converged: converged,
                   stepSize: eta, stoppingRule: rule)
    }

    /// lambda_max(Phi^T Phi) by power iteration on Phi^T (Phi v) (50 steps
    /// from a fixed start; the 1% margin added by the caller covers the
    /// remaining underestimate for the step-size bound).
    static func largestEigenvalue(_ phi: Matrix) throws -> Double {
        var g = SeededGenerator(seed: 0x5eed)
        var v = Matrix(rows: phi.columns, columns: 1) { _, _ in g.nextNormal() }
        var lambda = 0.0
        for _ in 0..<50 {
            let w = try Matrix.product(phi, try Matrix.product(phi, v), transposingFirst: true)
            let norm = w.frobeniusNorm
            if norm == 0 { return 0 }
            lambda = norm / v.frobeniusNorm
            v = (1 / norm) * w
        }
        return lambda
    }
}

import Foundation

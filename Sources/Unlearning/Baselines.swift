import LinearAlgebra

/// The approximate unlearning methods the paper compares MUSO with, in their
/// linear form: each starts from the trained theta* and runs a fixed number
/// of (S)GD epochs on the squared loss. None of them is exact; they are
/// what exactness is measured against.
public enum Baseline: String, Sendable, CaseIterable {
    /// Fine-tune on the retained data only ("FT").
    case fineTuneRetained = "fine-tune"
    /// Gradient ascent on the forget set's loss ("GA").
    case gradientAscent = "gradient-ascent"
    /// Relabel the forgotten samples with random wrong classes and fine-tune
    /// on everything (Amnesiac unlearning, "RL").
    case randomLabels = "random-labels"
    /// Relabel the forgotten samples with an incompetent teacher's outputs
    /// (the untrained model, theta0) and fine-tune on everything ("BT").
    case badTeacher = "bad-teacher"

    /// Runs the baseline.
    ///
    /// - Parameters:
    ///   - phi: Phi of the training set (N x M), held in memory.
    ///   - targets: Y (N x C), coded (signed or one-hot).
    ///   - trained: theta*.
    ///   - initial: theta0 (the bad teacher).
    ///   - forget: positions of the forgotten rows.
    ///   - trainer: the epochs, batch size, step and seed to use.
    /// - Complexity: trainer.maxEpochs epochs over the data each method uses.
    public func run(phi: Matrix, targets: Matrix, trained: Matrix, initial: Matrix, forget: [Int],
                    trainer: GradientDescent) throws -> Matrix {
        var t = trainer
        t.tolerance = 0  // a fixed budget of epochs, as the compared methods use
        let forgotten = Set(forget)
        let keep = (0..<phi.rows).filter { !forgotten.contains($0) }
        switch self {
        case .fineTuneRetained:
            return try t.train(features: phi.selectingRows(keep), targets: targets.selectingRows(keep), from: trained).parameters
        case .gradientAscent:
            let phiF = try phi.selectingRows(forget), yF = try targets.selectingRows(forget)
            var theta = trained
            let step = t.stepSize ?? 1 / max(1e-12, (0..<phiF.rows).map { phiF.row($0).reduce(0) { $0 + $1 * $1 } }.max() ?? 1)
            for _ in 0..<t.maxEpochs {
                let residual = try Matrix.product(phiF, theta) - yF
                try theta.addProduct(phiF, residual, transposingFirst: true, alpha: step / Double(phiF.rows), beta: 1)
            }
            return theta
        case .randomLabels:
            var y = targets
            var g = SeededGenerator(seed: trainer.seed ^ 0xA11E5)
            for p in forget {
                if y.columns == 1 {
                    y[p, 0] = -y[p, 0]  // the only wrong class
                } else {
                    let current = (0..<y.columns).max { y[p, $0] < y[p, $1] }!
                    var wrong = Int(g.next() % UInt64(y.columns - 1))
                    if wrong >= current { wrong += 1 }
                    for c in 0..<y.columns { y[p, c] = c == wrong ? 1 : 0 }
                }
            }
            return try t.train(features: phi, targets: y, from: trained).parameters
        case .badTeacher:
            var y = targets
            let phiF = try phi.selectingRows(forget)
            let teacher = try Matrix.product(phiF, initial)
            for (r, p) in forget.enumerated() { for c in 0..<y.columns { y[p, c] = teacher[r, c] } }
            return try t.train(features: phi, targets: y, from: trained).parameters
        }
    }
}

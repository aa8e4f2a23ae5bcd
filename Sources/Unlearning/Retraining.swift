import LinearAlgebra

/// The two independent routes by which the oracle retrains from scratch.
public enum RetrainingRoute: String, Sendable, CaseIterable {
    /// Form K_RR (or H_R) afresh from Phi_R and factor it (`dpotrf`).
    case cholesky
    /// The SVD-based minimum-norm least-squares solve (`dgelsd`) on Phi_R,
    /// augmented with sqrt(eps) I for a ridge: no Gram matrix at all.
    case pseudoInverse
}

/// Retraining from scratch: the oracle every unlearning result is checked against.
public enum Retraining {
    /// theta = theta0 + Phi^+ (Y - Phi theta0) by `dgelsd` (equation (1)); with
    /// ridge eps > 0 the minimiser of ||Phi theta - Y||^2 + eps ||theta -
    /// theta0||^2, as the least-squares solution of [Phi; sqrt(eps) I] d =
    /// [Y - Phi theta0; 0].
    ///
    /// - Returns: theta, the numerical rank of the (augmented) matrix, and its
    ///   2-norm condition number s_1 / s_r.
    /// - Complexity: O(N M min(N, M)) flops (O((N + M) M^2) with a ridge).
    public static func minimumNormParameters(features phi: Matrix, targets: Matrix,
                                             initialParameters theta0: Matrix,
                                             ridge: Double = 0) throws -> (parameters: Matrix, rank: Int, conditionNumber: Double) {
        guard targets.rows == phi.rows, theta0.rows == phi.columns, theta0.columns == targets.columns else {
            throw UnlearningError.shapeMismatch("Phi \(phi.rows) x \(phi.columns), Y \(targets.rows) x \(targets.columns), theta0 \(theta0.rows) x \(theta0.columns)")
        }
        guard ridge >= 0, ridge.isFinite else { throw UnlearningError.invalidArgument("ridge must be finite and >= 0, got \(ridge)") }
        try phi.requireFinite("the feature matrix")
        try targets.requireFinite("the targets")
        var rhs = try targets - Matrix.product(phi, theta0)
        var system = phi
        if ridge > 0 {
            let n = phi.rows, m = phi.columns
            var augmented = Matrix(rows: n + m, columns: m)
            let root = ridge.squareRoot()
            for j in 0..<m {
                for i in 0..<n { augmented[i, j] = phi[i, j] }
                augmented[n + j, j] = root
            }
            var padded = Matrix(rows: n + m, columns: rhs.columns)
            try padded.setRows(0..<n, to: rhs)
            system = augmented
            rhs = padded
        }
        let solution = try Matrix.minimumNormSolution(system, rhs)
        return (try theta0 + solution.solution, solution.rank, solution.conditionNumber)
    }
}

extension MinNormModel {
    /// The rows (model positions) left after removing `positions`, ascending.
    func complement(of positions: [Int]) -> [Int] {
        var keep = [Bool](repeating: true, count: rows.count)
        for p in positions { keep[p] = false }
        return (0..<rows.count).filter { keep[$0] }
    }

    /// A model retrained from scratch, by the Cholesky route, on the retained
    /// samples less `ids`: K_RR (or H_R) formed afresh and factored. Same
    /// form, ridge and theta0.
    /// - Complexity: that of `init`, on N - k samples.
    public func retrained(excluding ids: [Int]) throws -> MinNormModel {
        let keep = complement(of: try positions(of: ids))
        return try MinNormModel(features: features, rows: keep.map { rows[$0] },
                                targets: targets.selectingRows(keep), ids: keep.map { self.ids[$0] },
                                initialParameters: initialParameters, ridge: ridge, form: form)
    }

    /// theta_R, retrained from scratch on the retained samples less `ids`, by
    /// either route (the oracle).
    /// - Complexity: Cholesky route as `init`; pseudo-inverse route
    ///   O(N M min(N, M)) with Phi_R materialised.
    public func retrainedParameters(excluding ids: [Int], route: RetrainingRoute) throws -> Matrix {
        switch route {
        case .cholesky:
            return try retrained(excluding: ids).parameters()
        case .pseudoInverse:
            let keep = complement(of: try positions(of: ids))
            let phi = try features.rows(keep.map { rows[$0] })
            return try Retraining.minimumNormParameters(features: phi, targets: targets.selectingRows(keep),
                                                        initialParameters: initialParameters, ridge: ridge).parameters
        }
    }

    /// ||theta - theta_R|| / ||theta_R - theta0||: the exactness figure.
    public func distance(of theta: Matrix, toRetrained thetaR: Matrix) throws -> Double {
        let step = try thetaR - initialParameters
        let diff = try theta - thetaR
        let s = step.frobeniusNorm
        return s > 0 ? diff.frobeniusNorm / s : diff.frobeniusNorm
    }
}

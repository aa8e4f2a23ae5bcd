import LinearAlgebra

extension MinNormModel {
    /// The tolerance of the a-posteriori checks for a system of order `order`
    /// with condition estimate `condition`:
    ///
    ///     bound = min(64 n u max(cond, 1), 1e-6),   u = 2^-53
    ///
    /// A backward-stable solve of K A = T (Cholesky) returns A with
    /// (K + dK) A = T, ||dK|| <= c n u ||K||, so ||K A - T|| / ||T|| <=
    /// c n u cond(K); the residual computed through the factor adds an error of
    /// the same order. 64 covers c and the drift of a long sequence of
    /// deletions (measured ~1e-13 after 200). The cap 1e-6 keeps a vacuous
    /// bound (cond near 1/u) from passing a residual that is plainly wrong.
    package static func residualBound(order: Int, condition: Double) -> Double {
        let cond = condition.isFinite ? max(condition, 1) : .infinity
        return min(64 * Double(max(order, 1)) * Double.ulpOfOne / 2 * cond, 1e-6)
    }

    /// Checks that the model's stored state belongs to its data, before any
    /// request is applied to it: what a model read from a file must pass.
    ///
    /// Checked, one pass over the columns of Phi_R (two in the primal form):
    /// - every stored array is finite;
    /// - the factor: L L^T against K = Phi_R Phi_R^T + eps I (dual; H =
    ///   Phi_R^T Phi_R + eps I primal) recomputed from the features, on all of
    ///   its diagonal and on s = `probes` Gaussian random combinations of its
    ///   columns: ||L L^T z - K z|| <= 32 n u max_i K_ii ||z|| (Cholesky's
    ///   backward error is below n u |L| |L^T| entrywise, and |L||L^T|_ij <=
    ///   sqrt(K_ii K_jj));
    /// - the offsets T = Y - Phi_R theta0, the stationarity ||K A - T|| / ||T||
    ///   (dual) or ||H (theta - theta0) - b|| / ||b|| with b = Phi_R^T T
    ///   (primal), and theta = theta0 + Phi_R^T A (dual), each to
    ///   `residualBound`.
    ///
    /// Why a few random combinations suffice: let E = L L^T - K. For a
    /// standard Gaussian z, ||E z|| >= |v^T z| ||E||_2 with v the top right
    /// singular vector of E, and v^T z is N(0, 1), so P(||E z|| < t ||E||_2)
    /// < 0.8 t. With s independent probes a discrepancy with ||E||_2 >= 100
    /// times the tolerance goes unseen with probability below 0.008^s (4e-9
    /// for the default s = 4); a corrupted row of L also shows on the
    /// diagonal, which is checked whole.
    ///
    /// - Throws: `inconsistentState` saying which check failed and by how much.
    /// - Complexity: dual: generating Phi_R once (N M d for generated
    ///   features) plus 2 N M (2 s + C) + N^2 (2 s + C) flops; primal: two
    ///   passes and 4 N M (s + C) + M^2 (2 s + C). Memory O((N + M)(s + C)).
    public func checkConsistency(probes: Int = 4, seed: UInt64 = 0x5EED_C0DE) throws {
        let n = rows.count, m = featureCount, c = outputCount
        // (The factor was checked finite when it was wrapped or computed.)
        for (what, matrix) in [("targets Y", targets), ("offsets T", offsetTargets), ("theta0", initialParameters)] {
            try matrix.requireFinite("the model's \(what)")
        }
        switch solution {
        case let .dual(a): try a.requireFinite("the model's dual coefficients A")
        case let .primal(b): try b.requireFinite("the model's moment b")
        }
        if let t = cachedParameters { try t.requireFinite("the model's parameters theta") }
        var g = SeededGenerator(seed: seed)
        let order = form == .dual ? n : m
        let s = max(1, probes)
        let z = Matrix(rows: order, columns: s) { _, _ in g.nextNormal() }
        let u = Double.ulpOfOne / 2
        let bound = Self.residualBound(order: order, condition: fittedConditionEstimate)
        func fail(_ what: String, _ value: Double, _ limit: Double) -> UnlearningError {
            .inconsistentState("\(what) is \(value), above its tolerance \(limit)")
        }

        var kz = Matrix(rows: order, columns: s)        // K z or H z
        var diagonal = [Double](repeating: 0, count: order)
        var phiTheta0 = Matrix(rows: n, columns: c)     // Phi_R theta0
        var phiTA = Matrix(rows: form == .dual ? m : 0, columns: c)  // Phi_R^T A (dual)
        var phiTT = Matrix(rows: m, columns: c)         // Phi_R^T T (primal)
        switch solution {
        case let .dual(a):
            try features.forEachColumnBlock(rows: rows, progress: "consistency check") { cols, p in
                // One pass: P^T [z | A], then K z += P (P^T z), Phi theta0 += P theta0_J.
                let w = try Matrix.product(p, z, transposingFirst: true)
                try kz.addProduct(p, w, alpha: 1, beta: 1)
                try phiTheta0.addProduct(p, initialParameters.selectingRows(Array(cols)), alpha: 1, beta: 1)
                try phiTA.setRows(cols, to: Matrix.product(p, a, transposingFirst: true))
                p.withUnsafeBufferPointer { e in
                    for j in 0..<p.columns { for i in 0..<p.rows { diagonal[i] += e[i + j * p.rows] * e[i + j * p.rows] } }
                }
            }
        case .primal:
            var phiZ = Matrix(rows: n, columns: s)
            try features.forEachColumnBlock(rows: rows, progress: "consistency check") { cols, p in
                try phiZ.addProduct(p, z.selectingRows(Array(cols)), alpha: 1, beta: 1)
                try phiTheta0.addProduct(p, initialParameters.selectingRows(Array(cols)), alpha: 1, beta: 1)
            }
            try features.forEachColumnBlock(rows: rows, progress: "consistency check") { cols, p in
                try kz.setRows(cols, to: Matrix.product(p, phiZ, transposingFirst: true))
                try phiTT.setRows(cols, to: Matrix.product(p, offsetTargets, transposingFirst: true))
                p.withUnsafeBufferPointer { e in
                    for j in 0..<p.columns {
                        var sum = 0.0
                        for i in 0..<p.rows { sum += e[i + j * p.rows] * e[i + j * p.rows] }
                        diagonal[cols.lowerBound + j] = sum
                    }
                }
            }
        }
        for i in 0..<order { diagonal[i] += ridge }
        for j in 0..<s { for i in 0..<order { kz[i, j] += ridge * z[i, j] } }

        // The factor against the Gram matrix: the whole diagonal, then the probes.
        let scale = diagonal.max() ?? 0
        let factorTolerance = 32 * Double(order) * u
        let llDiagonal = factor.reconstructedDiagonal
        for i in 0..<order {
            let d = llDiagonal[i]
            let gap = abs(d - diagonal[i]) / max(scale, .leastNormalMagnitude)
            if !(gap <= factorTolerance) {
                throw UnlearningError.inconsistentState(
                    "the stored factor does not belong to the features: (L L^T)_ii = \(d) against K_ii = \(diagonal[i]) at position \(i) (relative gap \(gap), tolerance \(factorTolerance))")
            }
        }
        let probeGap = (try factor.multiply(z) - kz).frobeniusNorm / max(scale * z.frobeniusNorm, .leastNormalMagnitude)
        if !(probeGap <= factorTolerance) {
            throw UnlearningError.inconsistentState(
                "the stored factor does not belong to the features: ||L L^T z - K z|| / (max K_ii ||z||) = \(probeGap) on \(s) random probes (tolerance \(factorTolerance))")
        }

        // T = Y - Phi theta0.
        let sumTolerance = 64 * Double(max(n, m)) * u
        let offsetGap = relative(try (targets - offsetTargets) - phiTheta0, to: targets)
        if !(offsetGap <= sumTolerance) { throw fail("||(Y - T) - Phi theta0|| / ||Y||", offsetGap, sumTolerance) }

        switch solution {
        case let .dual(a):
            let stationarity = relative(try factor.multiply(a) - offsetTargets, to: offsetTargets)
            if !(stationarity <= bound) { throw fail("the stationarity residual ||K A - T|| / ||T||", stationarity, bound) }
            if let theta = cachedParameters {
                let gap = relative(try (theta - initialParameters) - phiTA, to: phiTA)
                if !(gap <= bound) { throw fail("||(theta - theta0) - Phi^T A|| / ||Phi^T A||", gap, bound) }
            }
        case let .primal(b):
            let momentGap = relative(try b - phiTT, to: phiTT)
            if !(momentGap <= sumTolerance) { throw fail("||b - Phi^T T|| / ||Phi^T T||", momentGap, sumTolerance) }
            let theta = try parameters()
            let stationarity = relative(try factor.multiply(theta - initialParameters) - b, to: b)
            if !(stationarity <= bound) { throw fail("the stationarity residual ||H (theta - theta0) - b|| / ||b||", stationarity, bound) }
        }
    }
}

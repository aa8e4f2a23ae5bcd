import LinearAlgebra

extension MinNormModel {
    /// The dual quantities of deleting the positions F (docs/design.md (4)):
    /// Y = L^{-1} E_F (the forward half of K^{-1} E_F, each column solved
    /// from its own position down), G[F, F] = (K^{-1})[F, F] = Y^T Y, and
    /// Z = G[F, F]^{-1} A[F]. Then Delta A = -G[:, F] Z = -L^{-T} (Y Z), and
    /// the MUSO labels are Ytilde_F = Phi_F theta_R = Y_F - Z (for any eps:
    /// with A' = A + Delta A, K A' = T - E_F Z, and A'_F = 0, so (K A')_F =
    /// K_FR A_R = T_F - Z). Only the forward half costs O(N^2 k); the
    /// backward half runs on the C columns of Y Z (or on Y's k when k < C).
    /// - Complexity: ~N^2 k / 3 (positions spread evenly; at most N^2 k) +
    ///   2 N k^2 + k^3 / 3 + 2 k^2 C flops.
    func dualDeletion(_ f: [Int], coefficients a: Matrix) throws -> (forward: Matrix, z: Matrix) {
        let k = f.count
        let y = try factor.forwardColumns(f)
        let gFF = try Matrix.product(y, y, transposingFirst: true)
        let blockFactor: Cholesky
        do {
            blockFactor = try Cholesky(factoring: gFF)
        } catch {
            throw UnlearningError.notPositiveDefinite(
                form: "dual", detail: "the block G[F, F] of K^{-1} for the \(k) requested samples is not numerically positive definite",
                advice: "K is too ill-conditioned for an exact deletion; use ridge > 0.")
        }
        let z = try blockFactor.solve(a.selectingRows(f))
        return (y, z)
    }

    /// Forgets the samples `ids` exactly, in closed form, and updates the
    /// model in place so that it equals the model retrained on the rest.
    ///
    /// Dual form (docs/design.md (4)): Delta A = -G[:, F] G[F, F]^{-1} A[F] with
    /// G = K^{-1}; then A_R(new) = (A + Delta A)[R], theta_R = theta + Phi^T
    /// Delta A, and the factor of K_RR comes from the factor of K by deleting
    /// the rows/columns F (Givens rotations for a few, one blocked LQ for
    /// many: `Cholesky.delete(indices:)`). Exact for every eps >= 0.
    ///
    /// Primal form: H_R = H - Phi_F^T Phi_F by a rank-k downdate of the
    /// factor, b_R = b - Phi_F^T T_F, theta_R = theta0 + H_R^{-1} b_R. Fails, and
    /// says so, when Phi_R loses full column rank (eps = 0).
    ///
    /// The model is changed only if the whole update succeeds and its
    /// certificate holds: the certificate is computed before the first
    /// change to `self` (dual: the retained system's residual K_RR A_R - T_R
    /// through the old factor, as (L L^T A')_R with A' = A + Delta A with its
    /// F rows zeroed, which is the same matrix K_RR; primal: through the
    /// downdated factor), and a verdict other than `.exact` throws
    /// `unverifiedResult` with the model unchanged, unless
    /// `acceptingUnverified` is true (the result is then applied and its
    /// certificate says UNVERIFIED).
    ///
    /// - Parameters:
    ///   - requested: the sample ids to forget (distinct, known, not all).
    ///   - verification: `.cheap` (default) or `.oracle(route)` to also retrain
    ///     and report the distance.
    ///   - updateParameters: when false (dual form), the cached theta is
    ///     dropped instead of updated (saves 2 N M min(k, C) flops and one
    ///     pass over Phi; `parameters()` recomputes it on demand).
    ///   - acceptingUnverified: apply the update even when its certificate
    ///     fails its bounds.
    /// - Throws: `emptyRequest`, `unknownIDs`, `repeatedIDs`,
    ///   `forgetsEverySample`, `rankDeficientAfterDeletion`,
    ///   `notPositiveDefinite`, `unverifiedResult`.
    /// - Complexity: dual O(N^2 k + k^3 + N k C) plus 2 N^2 C for the
    ///   certificate and 2 N M min(k, C) + 2 M k C for theta;
    ///   primal O(M^2 k + M^2 C + k M C) plus generating Phi_F. No
    ///   refactorisation.
    @discardableResult
    public mutating func forget(ids requested: [Int], verification: Verification = .cheap,
                                updateParameters: Bool = true, acceptingUnverified: Bool = false) throws -> UnlearningResult {
        let f = try positions(of: requested)
        let keep = complement(of: f)
        let keptRows = keep.map { rows[$0] }
        var oracle: Matrix?
        if case let .oracle(route) = verification {
            oracle = try retrainedParameters(excluding: requested, route: route)
        }
        let newTargets = try targets.selectingRows(keep)
        let newOffsets = try offsetTargets.selectingRows(keep)
        let removedIDs = f.map { ids[$0] }
        var certificate: Certificate
        // Everything that can fail happens before the first change to `self`.
        switch solution {
        case let .dual(a):
            let (y, z) = try dualDeletion(f, coefficients: a)
            // G_F = L^{-T} Y is formed only when the theta update streams Phi
            // with its k < C columns; otherwise Delta A = -L^{-T} (Y Z).
            let thetaByColumns = updateParameters && cachedParameters != nil && f.count < a.columns
            let gF = thetaByColumns ? try factor.backwardSolve(y) : nil
            var delta: Matrix
            if let gF {
                delta = Matrix(rows: rows.count, columns: a.columns)
                try delta.addProduct(gF, z, alpha: -1, beta: 0)
            } else {
                delta = try factor.backwardSolve(Matrix.product(y, z))
                delta.scale(by: -1)
            }
            let updated = try a + delta
            let aR = try updated.selectingRows(keep)
            let leftover = try updated.selectingRows(f)
            // K_RR A_R - T_R = (L L^T A')_R - T_R with A' = updated, F rows
            // zeroed; in the same pass K_RR z for a random probe z (zero on
            // F), against which the factor is checked once rows F are deleted.
            let c = a.columns
            var zeroed = Matrix(rows: rows.count, columns: c + 1)
            var probe = SeededGenerator(seed: 0x9E37_79B9 ^ UInt64(rows.count))
            let isForgotten = Set(f)
            for i in 0..<rows.count where !isForgotten.contains(i) {   // forgotten rows stay zero
                for j in 0..<c { zeroed[i, j] = updated[i, j] }
                zeroed[i, c] = probe.nextNormal()
            }
            let product = try factor.multiply(zeroed).selectingRows(keep)
            let residual = try product.selectingColumns(0..<c) - newOffsets
            let probeR = try zeroed.selectingColumns(c..<(c + 1)).selectingRows(keep)
            let expectedProbe = try product.selectingColumns(c..<(c + 1))
            certificate = Certificate(
                isExact: true, stationarityResidual: relative(residual, to: newOffsets),
                forgottenCoefficientResidual: relative(leftover, to: aR),
                conditionEstimate: fittedConditionEstimate, order: keep.count,
                note: "condition: estimate for K at fit time, a bound for K_RR by interlacing",
                residualBound: Self.residualBound(order: keep.count, condition: fittedConditionEstimate))
            var theta: Matrix?
            if updateParameters, let cached = cachedParameters {
                // theta' = theta + Phi^T Delta A with Delta A = -G_F Z of rank
                // k: when k < C the one pass over Phi carries the k columns of
                // G_F instead of the C of Delta A (the panel kernel of
                // `Matrix.product`: fewer flops per byte of Phi; for k >= C
                // the same kernel carries the C columns of Delta A).
                if let gF {
                    var step = cached
                    try step.addProduct(features.applyTransposed(rows: rows, to: gF), z, alpha: -1, beta: 1)
                    theta = step
                } else {
                    theta = try cached + features.applyTransposed(rows: rows, to: delta)
                }
            }
            if let oracle {
                let thetaNew = try theta ?? (initialParameters + features.applyTransposed(rows: keptRows, to: aR))
                certificate.oracleDistance = try distance(of: thetaNew, toRetrained: oracle)
            }
            try check(certificate, accepting: acceptingUnverified)
            // Commit. Deleting rows of a valid factor cannot break down (the
            // Givens rotations and the blocked LQ are orthogonal, and K_RR is
            // positive definite), and it runs in place: no copy of the N x N factor.
            cachedParameters = nil
            try factor.delete(indices: f)
            // The deleted factor against K_RR z (a defect check: deletion of a
            // valid factor is tested against refactorising). It runs after the
            // in-place deletion, so a failure leaves a model to discard.
            let factorGap = relative(try factor.multiply(probeR) - expectedProbe, to: expectedProbe)
            certificate.factorResidual = factorGap
            if !(factorGap <= certificate.residualBound ?? 0) {
                throw UnlearningError.inconsistentState(
                    "after deleting \(f.count) rows the factor does not reproduce K_RR on a random probe (relative gap \(factorGap)); this model must be discarded")
            }
            solution = .dual(coefficients: aR)
            cachedParameters = theta
        case let .primal(moment):
            let phiF = try features.rows(f.map { rows[$0] })
            let newFactor = try downdatedFactor(removing: phiF, retained: keep.count)
            var b = moment
            try b.addProduct(phiF, offsetTargets.selectingRows(f), transposingFirst: true, alpha: -1, beta: 1)
            let theta = try initialParameters + newFactor.solve(b)
            let residual = try newFactor.multiply(theta - initialParameters) - b
            let cond = try newFactor.conditionEstimate()
            certificate = Certificate(isExact: true, stationarityResidual: relative(residual, to: b),
                                      conditionEstimate: cond, order: featureCount,
                                      residualBound: Self.residualBound(order: featureCount, condition: cond))
            // The downdated factor on a random probe: L' L'^T z against
            // L L^T z - Phi_F^T (Phi_F z), O(M^2 + k M), no pass over Phi_R.
            var probe = SeededGenerator(seed: 0x9E37_79B9 ^ UInt64(featureCount))
            let z = Matrix(rows: featureCount, columns: 1) { _, _ in probe.nextNormal() }
            var expected = try factor.multiply(z)
            try expected.addProduct(phiF, Matrix.product(phiF, z), transposingFirst: true, alpha: -1, beta: 1)
            certificate.factorResidual = relative(try newFactor.multiply(z) - expected, to: expected)
            if let oracle { certificate.oracleDistance = try distance(of: theta, toRetrained: oracle) }
            try check(certificate, accepting: acceptingUnverified)
            factor = newFactor
            solution = .primal(moment: b)
            cachedParameters = theta
        }
        rows = keptRows
        ids = keep.map { ids[$0] }
        positionOfID = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
        targets = newTargets
        offsetTargets = newOffsets
        if case let .oracle(route) = verification {
            certificate.oracleRoute = route
            if form == .dual {
                // The condition estimate of K_RR itself (O(N^2) per step), in
                // place of the fit-time bound.
                certificate.conditionEstimate = try factor.conditionEstimate()
                certificate.errorBound = certificate.conditionEstimate.map { $0 * Double(max(keep.count, 1)) * Double.ulpOfOne / 2 }
                certificate.note = nil
            }
        }
        return UnlearningResult(forgottenIDs: removedIDs, certificate: certificate)
    }

    /// Throws `unverifiedResult` unless the certificate's verdict is exact or
    /// the caller accepts an unverified result.
    func check(_ certificate: Certificate, accepting: Bool) throws {
        if case .unverified = certificate.verdict, !accepting { throw UnlearningError.unverifiedResult(certificate) }
    }

    /// The primal factor of H - Phi_F^T Phi_F, or the error that explains why
    /// the retained samples no longer determine theta.
    func downdatedFactor(removing phiF: Matrix, retained: Int) throws -> Cholesky {
        var newFactor = factor
        do {
            try newFactor.downdate(removing: phiF)
        } catch {
            guard case LinearAlgebraError.notPositiveDefinite = error else { throw error }
            let detail = "without the \(phiF.rows) requested samples, the \(retained) retained ones no longer give Phi_R^T Phi_R\(ridge > 0 ? " + eps I" : "") full rank M = \(featureCount) (numerically)"
            let advice = ridge > 0
                ? "The ridge is too small for the retained data; refit with a larger ridge."
                : "Refit with ridge > 0, or use the dual form, or the pseudo-inverse route (retrainedParameters(excluding:route: .pseudoInverse))."
            throw UnlearningError.rankDeficientAfterDeletion(detail: detail, advice: advice)
        }
        return newFactor
    }

    /// The MUSO optimal labels (docs/design.md (3)) for the samples `ids`: the
    /// retrained model's own predictions Ytilde_F = Phi_F theta_R, in the
    /// order of `ids`.
    ///
    /// Dual form: Ytilde_F = Y_F - G[F, F]^{-1} A[F] (see `dualDeletion`), the
    /// leave-k-out identity, without forming theta_R or touching Phi. Primal:
    /// theta_R from a downdated copy of the factor, then Phi_F theta_R.
    /// - Complexity: dual O(N^2 k + k^3 + k^2 C); primal O(M^2 (k + C) + k M C).
    public func optimalLabels(forgetting ids: [Int]) throws -> Matrix {
        let f = try positions(of: ids)
        switch solution {
        case let .dual(a):
            let (_, z) = try dualDeletion(f, coefficients: a)
            return try targets.selectingRows(f) - z
        case .primal:
            var copy = self
            try copy.forget(ids: ids)
            let phiF = try features.rows(f.map { rows[$0] })
            return try Matrix.product(phiF, copy.parameters())
        }
    }

    /// Fine-tunes from `start` on the current training set relabeled with
    /// `newTargets` (n x C, model order), in closed form: the limit of
    /// gradient descent from `start` on ||Phi theta - Ytilde||^2 (+ eps
    /// ||theta - start||^2),
    ///
    ///     theta = start + Phi^T K^{-1} (Ytilde - Phi start)        (dual)
    ///     theta = start + H^{-1} Phi^T (Ytilde - Phi start)        (primal)
    ///
    /// reusing the model's factor.
    /// - Complexity: 4 N M C + O(N^2 C) (dual) or O(M^2 C) (primal).
    public func fineTuned(from start: Matrix, targets newTargets: Matrix) throws -> Matrix {
        guard start.rows == featureCount, start.columns == outputCount else {
            throw UnlearningError.shapeMismatch("start is \(start.rows) x \(start.columns), expected \(featureCount) x \(outputCount)")
        }
        guard newTargets.rows == rows.count, newTargets.columns == outputCount else {
            throw UnlearningError.shapeMismatch("targets are \(newTargets.rows) x \(newTargets.columns), expected \(rows.count) x \(outputCount)")
        }
        try newTargets.requireFinite("the relabeled targets")
        let residual = try newTargets - features.apply(rows: rows, to: start)
        switch form {
        case .dual:
            return try start + features.applyTransposed(rows: rows, to: factor.solve(residual))
        case .primal:
            return try start + factor.solve(features.applyTransposed(rows: rows, to: residual))
        }
    }

    /// The targets with the rows of `ids` replaced by their MUSO optimal
    /// labels: Ytilde_R = Y_R, Ytilde_F = Phi_F theta_R (model order).
    public func relabeledTargets(forgetting ids: [Int]) throws -> Matrix {
        let f = try positions(of: ids)
        let labels = try optimalLabels(forgetting: ids)
        var y = targets
        for (r, p) in f.enumerated() { for c in 0..<outputCount { y[p, c] = labels[r, c] } }
        return y
    }

    /// MUSO by relabeling and fine-tuning in closed form: theta* fine-tuned on
    /// the relabeled targets. With eps = 0 the result is theta_R exactly, in
    /// both regimes (over-parameterised: theta_R - theta* lies in the row
    /// space of Phi; under-parameterised: theta_R minimises both parts of the
    /// relabeled loss). With eps > 0 it is not (the error is O(eps)); the
    /// certificate says so, and `forget(ids:)` is the exact route there.
    /// The model is not changed.
    public func relabelAndFineTune(forgetting ids: [Int],
                                   verification: Verification = .cheap) throws -> (parameters: Matrix, certificate: Certificate) {
        let y = try relabeledTargets(forgetting: ids)
        let theta = try fineTuned(from: parameters(), targets: y)
        let cert = try fineTuneCertificate(theta, forgetting: ids, verification: verification, exact: ridge == 0)
        return (theta, cert)
    }

    /// MUSO by relabeling and fine-tuning with (stochastic) gradient descent
    /// from theta*, as the paper does: converges to theta_R (eps = 0) at the
    /// rate of `trainer`; the certificate reports how close it came.
    public func relabelAndFineTune(forgetting ids: [Int], using trainer: GradientDescent,
                                   verification: Verification = .cheap) throws -> (parameters: Matrix, certificate: Certificate, run: GradientDescent.Run) {
        let y = try relabeledTargets(forgetting: ids)
        let phi = try features.rows(rows)
        let run = try trainer.train(features: phi, targets: y, from: parameters())
        let cert = try fineTuneCertificate(run.parameters, forgetting: ids, verification: verification, exact: false)
        return (run.parameters, cert, run)
    }

    /// The certificate of a fine-tuned theta: the gradient of the retained
    /// problem, Phi_R^T (Phi_R theta - Y_R) + eps (theta - theta0), relative to
    /// its value at theta0, and the oracle distance when asked for.
    func fineTuneCertificate(_ theta: Matrix, forgetting ids: [Int], verification: Verification,
                             exact: Bool) throws -> Certificate {
        let keep = complement(of: try positions(of: ids))
        let keptRows = keep.map { rows[$0] }
        let yR = try targets.selectingRows(keep)
        let fitted = try features.apply(rows: keptRows, to: theta) - yR
        var gradient = try features.applyTransposed(rows: keptRows, to: fitted)
        if ridge > 0 { gradient = try gradient + ridge * (theta - initialParameters) }
        let reference = try features.applyTransposed(rows: keptRows, to: offsetTargets.selectingRows(keep))
        var cert = Certificate(
            isExact: exact, stationarityResidual: relative(gradient, to: reference),
            note: ridge > 0 ? "ridge > 0: relabeling the forgotten samples alone is not exact (error O(eps)); forget(ids:) is" : nil,
            residualBound: Self.residualBound(order: keep.count, condition: fittedConditionEstimate))
        if case let .oracle(route) = verification {
            let thetaR = try retrainedParameters(excluding: ids, route: route)
            cert.oracleDistance = try distance(of: theta, toRetrained: thetaR)
            cert.oracleRoute = route
        }
        return cert
    }
}

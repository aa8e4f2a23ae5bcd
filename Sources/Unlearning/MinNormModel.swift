import LinearAlgebra

/// The linear model on features that gradient descent from theta0 converges
/// to (docs/design.md §2, equations (1) and (2)):
///
///     theta* = theta0 + Phi^+ (Y - Phi theta0)
///            = theta0 + Phi^T A,  A = K^{-1} (Y - Phi theta0),  K = Phi Phi^T + eps I   (dual)
///            = theta0 + H^{-1} Phi^T (Y - Phi theta0),          H = Phi^T Phi + eps I   (primal)
///
/// For eps = 0 and M >= N with Phi of full row rank, theta* interpolates the
/// data and is the solution closest to theta0; for M < N it is the least-
/// squares solution (full column rank needed). eps > 0 gives the minimiser of
/// ||Phi theta - Y||^2 + eps ||theta - theta0||^2 in both forms.
///
/// The model keeps what exact unlearning needs: the Cholesky factor of K (N x
/// N, dual) or of H (M x M, primal), the `Solution` of its form (the dual
/// coefficients A or the primal moment b = Phi^T (Y - Phi theta0)), the
/// targets, and the ids of its samples.
/// Deleting samples updates these in O(N^2 k) (dual) or O(M^2 k) (primal),
/// without refactorising (see `MinNormModel+Unlearning.swift`).
public struct MinNormModel: Sendable {
    /// Which system the model solves.
    public enum Form: String, Sendable, CaseIterable, CustomStringConvertible {
        /// N x N Gram K = Phi Phi^T + eps I; natural when M >= N.
        case dual
        /// M x M matrix H = Phi^T Phi + eps I; natural when M < N.
        case primal
        public var description: String { rawValue }
    }

    /// The solved system's own array, one per form: a model holds exactly
    /// one of them.
    public enum Solution: Sendable {
        /// A = K^{-1} T (n x C), T = Y - Phi theta0: theta = theta0 + Phi_R^T A.
        case dual(coefficients: Matrix)
        /// b = Phi_R^T T (M x C): theta = theta0 + H^{-1} b.
        case primal(moment: Matrix)

        /// The form this solution belongs to.
        public var form: Form {
            switch self {
            case .dual: .dual
            case .primal: .primal
            }
        }
    }

    /// A (dual) or b (primal), with the factor of the same form.
    public internal(set) var solution: Solution
    /// The form chosen from the shapes (dual when N <= M) or forced.
    public var form: Form { solution.form }
    /// eps >= 0.
    public let ridge: Double
    /// Phi of the samples the model was fitted on (forgotten rows included;
    /// `rows` says which rows are still in the training set).
    public let features: FeatureSource
    /// The rows of `features` still in the training set, in model order.
    public internal(set) var rows: [Int]
    /// The sample id of each retained row, in model order.
    public internal(set) var ids: [Int]
    var positionOfID: [Int: Int]
    /// Y (n x C) of the retained samples.
    public internal(set) var targets: Matrix
    /// theta0 (M x C).
    public let initialParameters: Matrix
    /// T = Y - Phi theta0 (n x C).
    var offsetTargets: Matrix
    /// Cholesky factor of K (dual) or H (primal).
    public internal(set) var factor: Cholesky
    /// A (n x C) of a dual model; nil for a primal one.
    public var dualCoefficients: Matrix? {
        if case let .dual(a) = solution { return a }
        return nil
    }
    /// theta, when materialised.
    var cachedParameters: Matrix?
    /// The 1-norm condition estimate of K (or H) at fit time.
    public let fittedConditionEstimate: Double

    /// N, the number of samples still in the training set.
    public var sampleCount: Int { rows.count }
    /// M.
    public var featureCount: Int { features.featureCount }
    /// C, the number of outputs.
    public var outputCount: Int { targets.columns }

    /// Fits the model: forms K (or H) block by block, factors it, solves.
    ///
    /// - Parameters:
    ///   - features: Phi (N x M), held or generated.
    ///   - targets: Y (N x C).
    ///   - ids: a unique id per sample (default 0 ..< N): what deletion
    ///     requests name.
    ///   - initialParameters: theta0 (M x C); zero when nil.
    ///   - ridge: eps >= 0.
    ///   - form: `.dual` or `.primal`; chosen from the shapes when nil.
    /// - Throws: `shapeMismatch`, `nonFinite`, `duplicateSampleIDs`,
    ///   `invalidArgument` (negative ridge, no samples), `notPositiveDefinite`
    ///   with advice when K (or H) is singular: duplicate samples, or N > M
    ///   without ridge in the dual form (M > N in the primal form).
    /// - Complexity: dual N^2 M + N^3/3 + 2 N M C flops; primal N M^2 + M^3/3
    ///   + 2 N M C; memory O(N^2) (dual) or O(M^2) plus one block of Phi.
    public init(features: FeatureSource, targets: Matrix, ids: [Int]? = nil,
                initialParameters: Matrix? = nil, ridge: Double = 0, form: Form? = nil) throws {
        try self.init(features: features, rows: Array(0..<features.sampleCount), targets: targets, ids: ids,
                      initialParameters: initialParameters, ridge: ridge, form: form)
    }

    /// Fits on the rows `rows` of `features` only (targets and ids in that
    /// order): how the retraining oracle refits on retained samples, and how
    /// a subset of a large feature file is fitted without copying it.
    public init(features: FeatureSource, rows: [Int], targets: Matrix, ids: [Int]?,
                initialParameters: Matrix?, ridge: Double = 0, form: Form? = nil) throws {
        try features.checkRows(rows)
        let n = rows.count, m = features.featureCount
        guard n >= 1, m >= 1 else { throw UnlearningError.invalidArgument("need at least one sample and one feature, got N = \(n), M = \(m)") }
        guard targets.rows == n else {
            throw UnlearningError.shapeMismatch("targets have \(targets.rows) rows for \(n) samples")
        }
        guard targets.columns >= 1 else { throw UnlearningError.shapeMismatch("targets have no columns") }
        try targets.requireFinite("the targets")
        guard ridge >= 0, ridge.isFinite else { throw UnlearningError.invalidArgument("ridge must be finite and >= 0, got \(ridge)") }
        let theta0 = initialParameters ?? Matrix(rows: m, columns: targets.columns)
        guard theta0.rows == m, theta0.columns == targets.columns else {
            throw UnlearningError.shapeMismatch("theta0 is \(theta0.rows) x \(theta0.columns), expected M x C = \(m) x \(targets.columns)")
        }
        try theta0.requireFinite("theta0")
        let sampleIDs = ids ?? Array(0..<n)
        guard sampleIDs.count == n else { throw UnlearningError.shapeMismatch("\(sampleIDs.count) ids for \(n) samples") }
        var position = [Int: Int](minimumCapacity: n)
        var repeated: [Int] = []
        for (k, id) in sampleIDs.enumerated() {
            if position.updateValue(k, forKey: id) != nil { repeated.append(id) }
        }
        guard repeated.isEmpty else { throw UnlearningError.duplicateSampleIDs(repeated) }

        let chosen = form ?? (n <= m ? .dual : .primal)
        self.ridge = ridge
        self.features = features
        self.rows = rows
        self.ids = sampleIDs
        self.positionOfID = position
        self.targets = targets
        self.initialParameters = theta0
        let t = try targets - features.apply(rows: rows, to: theta0)
        self.offsetTargets = t
        switch chosen {
        case .dual:
            if ridge == 0 && n > m {
                throw UnlearningError.notPositiveDefinite(
                    form: "dual", detail: "K = Phi Phi^T is \(n) x \(n) but has rank at most M = \(m) < N",
                    advice: "Use ridge > 0, the primal form, or the pseudo-inverse route (Retraining.minimumNormParameters).")
            }
            let k = try features.gram(rows: rows, ridge: ridge)
            let f = try Self.factorize(k, form: .dual, ids: sampleIDs)
            self.fittedConditionEstimate = try f.conditionEstimate()
            let a = try f.solve(t)
            self.factor = f
            self.solution = .dual(coefficients: a)
            self.cachedParameters = try theta0 + features.applyTransposed(rows: rows, to: a)
        case .primal:
            if ridge == 0 && m > n {
                throw UnlearningError.notPositiveDefinite(
                    form: "primal", detail: "H = Phi^T Phi is \(m) x \(m) but has rank at most N = \(n) < M",
                    advice: "Use ridge > 0, the dual form, or the pseudo-inverse route (Retraining.minimumNormParameters).")
            }
            let h = try features.covariance(rows: rows, ridge: ridge)
            let f = try Self.factorize(h, form: .primal, ids: nil)
            self.fittedConditionEstimate = try f.conditionEstimate()
            let b = try features.applyTransposed(rows: rows, to: t)
            self.factor = f
            self.solution = .primal(moment: b)
            self.cachedParameters = try theta0 + f.solve(b)
        }
    }

    /// Factors K or H, and refuses a factor whose pivot L_jj^2 falls below
    /// n u max_i(K_ii): such a matrix is singular to working precision (e.g.
    /// a duplicated sample), and a solve with it would return noise.
    static func factorize(_ matrix: consuming Matrix, form: Form, ids: [Int]?) throws -> Cholesky {
        let advice = form == .dual
            ? "Phi has deficient row rank (duplicate or linearly dependent samples, or N > M). Use ridge > 0, or the pseudo-inverse route (Retraining.minimumNormParameters)."
            : "Phi has deficient column rank (dependent features, or M > N). Use ridge > 0, or the pseudo-inverse route (Retraining.minimumNormParameters)."
        let what = form == .dual ? "sample" : "feature"
        func name(_ j: Int) -> String {
            if let ids, j < ids.count { return "sample id \(ids[j]) (row \(j))" }
            return "\(what) \(j)"
        }
        let order = matrix.rows
        var scale = 0.0
        for i in 0..<order { scale = max(scale, matrix[i, i]) }
        let factor: Cholesky
        do {
            // (Reported by hand: `matrix` is consumed, a closure cannot take it.)
            let task = "Cholesky factorisation (\(order) x \(order))"
            WorkProgress.report(task, completed: 0, total: 1, unit: WorkProgress.Event.stepUnit)
            factor = try Cholesky(factoring: matrix)
            WorkProgress.report(task, completed: 1, total: 1, unit: WorkProgress.Event.stepUnit)
        } catch let LinearAlgebraError.notPositiveDefinite(_, minor) {
            throw UnlearningError.notPositiveDefinite(
                form: form.rawValue, detail: "the pivot of \(name(minor - 1)) is not positive (\(form == .dual ? "K" : "H") is \(order) x \(order))", advice: advice)
        }
        let tolerance = Double(order) * Double.ulpOfOne * scale
        for (j, d) in factor.diagonal.enumerated() where d * d <= tolerance {
            throw UnlearningError.notPositiveDefinite(
                form: form.rawValue,
                detail: "\(name(j)) is numerically a combination of earlier ones (pivot \(d * d) <= \(tolerance))",
                advice: advice)
        }
        return factor
    }

    /// theta (M x C): the cached parameters, or theta0 + Phi_R^T A computed
    /// now when unlearning deferred the update.
    /// - Complexity: O(1) when cached; else 2 N M C flops (plus generation).
    public func parameters() throws -> Matrix {
        if let cachedParameters { return cachedParameters }
        switch solution {
        case let .dual(a): return try initialParameters + features.applyTransposed(rows: rows, to: a)
        case let .primal(b): return try initialParameters + factor.solve(b)
        }
    }

    /// Computes and caches theta (see `parameters()`).
    public mutating func materializeParameters() throws {
        cachedParameters = try parameters()
    }

    /// Gives this value its own copy of the factor storage now, rather than at
    /// its first mutation: a copied model shares the (N x N) factor with the
    /// original until one of them changes, and the copy would otherwise be
    /// paid inside the first `forget`. For benchmarks that time `forget` on
    /// copies of one model.
    /// - Complexity: O(n^2) when shared, O(1) otherwise.
    public mutating func makeStorageUnique() {
        factor.makeStorageUnique()
    }

    /// Whether theta is cached.
    public var hasMaterializedParameters: Bool { cachedParameters != nil }

    /// Predictions phi(x) theta for a feature matrix of new samples (n x M).
    /// - Complexity: 2 n M C flops.
    public func predict(features phi: Matrix) throws -> Matrix {
        guard phi.columns == featureCount else {
            throw UnlearningError.shapeMismatch("the model has \(featureCount) features, the matrix has \(phi.columns) columns")
        }
        try phi.requireFinite("the feature matrix")
        return try Matrix.product(phi, parameters())
    }

    /// Predictions for raw inputs (n x d) through the model's feature map,
    /// block by block.
    /// - Throws: `unavailable` when the model was fitted on a given feature
    ///   matrix (there is no map to apply).
    public func predict(inputs: Matrix) throws -> Matrix {
        guard let map = features.featureMap else {
            throw UnlearningError.unavailable("the model was fitted on a given feature matrix: predict(features:) with that matrix's columns for new samples")
        }
        var source = try FeatureSource.generated(by: map, inputs: inputs)
        source.blockSize = features.blockSize
        return try source.apply(rows: Array(0..<inputs.rows), to: parameters())
    }

    /// The position (row in model order) of each id, or a thrown error for an
    /// empty request, unknown, or repeated ids, or one naming every sample.
    func positions(of requested: [Int]) throws(UnlearningError) -> [Int] {
        guard !requested.isEmpty else { throw .emptyRequest }
        var seen = Set<Int>(), repeated: [Int] = [], unknown: [Int] = []
        var out: [Int] = []
        out.reserveCapacity(requested.count)
        for id in requested {
            if !seen.insert(id).inserted { repeated.append(id); continue }
            if let p = positionOfID[id] { out.append(p) } else { unknown.append(id) }
        }
        if !unknown.isEmpty { throw .unknownIDs(unknown) }
        if !repeated.isEmpty { throw .repeatedIDs(repeated) }
        if out.count == rows.count { throw .forgetsEverySample(count: rows.count) }
        return out
    }

    /// The model retrained from scratch on its current samples (Cholesky
    /// route): after deletions, the model it must equal.
    /// - Complexity: that of `init`.
    public func refitted() throws -> MinNormModel {
        try MinNormModel(features: features, rows: rows, targets: targets, ids: ids,
                         initialParameters: initialParameters, ridge: ridge, form: form)
    }

    /// Checks the factor against a matrix formed afresh from Phi: the
    /// invariant "L L^T equals K_RR (or H_R)". Expensive (the cost of a
    /// refit); for tests and debugging.
    /// - Returns: ||L L^T - K|| / ||K|| (Frobenius).
    package func factorDrift() throws -> Double {
        let fresh = form == .dual ? try features.gram(rows: rows, ridge: ridge) : try features.covariance(rows: rows, ridge: ridge)
        return try Matrix.relativeDistance(factor.reconstructed(), fresh)
    }
}

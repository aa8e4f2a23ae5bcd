import LinearAlgebra

extension MinNormModel {
    /// Everything a model holds besides its features, for saving and
    /// restoring it (the model file of the command-line tool).
    package struct Snapshot: Sendable {
        package var ridge: Double
        /// Sample ids, model order.
        package var ids: [Int]
        /// Y (n x C).
        package var targets: Matrix
        /// T = Y - Phi theta0 (n x C).
        package var offsetTargets: Matrix
        /// theta0 (M x C).
        package var initialParameters: Matrix
        /// theta (M x C), when materialised.
        package var parameters: Matrix?
        /// A (n x C, dual) or b (M x C, primal).
        package var solution: Solution
        /// L (n x n dual, M x M primal).
        package var lowerFactor: Matrix
        package var fittedConditionEstimate: Double

        /// The form of `solution`, and the order of `lowerFactor` (N dual, M primal).
        package var form: Form { solution.form }

        package init(ridge: Double, ids: [Int], targets: Matrix, offsetTargets: Matrix,
                    initialParameters: Matrix, parameters: Matrix?, solution: Solution,
                    lowerFactor: Matrix, fittedConditionEstimate: Double) {
            self.ridge = ridge
            self.ids = ids
            self.targets = targets
            self.offsetTargets = offsetTargets
            self.initialParameters = initialParameters
            self.parameters = parameters
            self.solution = solution
            self.lowerFactor = lowerFactor
            self.fittedConditionEstimate = fittedConditionEstimate
        }
    }

    /// The model's state (features excepted).
    /// - Complexity: O(n^2 + (n + M) C) copies.
    package var snapshot: Snapshot {
        Snapshot(ridge: ridge, ids: ids, targets: targets, offsetTargets: offsetTargets,
                 initialParameters: initialParameters, parameters: cachedParameters,
                 solution: solution, lowerFactor: factor.lowerFactor,
                 fittedConditionEstimate: fittedConditionEstimate)
    }

    /// Restores a model from a snapshot and the features of its samples:
    /// row `rows[i]` of `features` belongs to `snapshot.ids[i]` (all rows in
    /// order when nil).
    /// - Throws: `shapeMismatch` when the pieces do not fit together,
    ///   `nonFinite`, `invalidArgument` for an invalid factor.
    package init(features: FeatureSource, rows: [Int]? = nil, snapshot s: Snapshot) throws {
        let rows = rows ?? Array(0..<features.sampleCount)
        try features.checkRows(rows)
        let n = rows.count, m = features.featureCount, c = s.targets.columns
        func check(_ cond: Bool, _ what: String) throws {
            if !cond { throw UnlearningError.shapeMismatch("model snapshot: \(what)") }
        }
        try check(s.ids.count == n, "\(s.ids.count) ids for \(n) feature rows")
        try check(s.targets.rows == n && s.offsetTargets.rows == n && s.offsetTargets.columns == c, "targets \(s.targets.rows) x \(c), offsets \(s.offsetTargets.rows) x \(s.offsetTargets.columns), for \(n) samples")
        try check(s.initialParameters.rows == m && s.initialParameters.columns == c, "theta0 is \(s.initialParameters.rows) x \(s.initialParameters.columns), expected \(m) x \(c)")
        if let p = s.parameters { try check(p.rows == m && p.columns == c, "theta is \(p.rows) x \(p.columns), expected \(m) x \(c)") }
        switch s.solution {
        case let .dual(a):
            try check(a.rows == n && a.columns == c, "A is \(a.rows) x \(a.columns), expected \(n) x \(c)")
            try check(s.lowerFactor.rows == n, "the factor has order \(s.lowerFactor.rows), expected N = \(n)")
        case let .primal(b):
            try check(b.rows == m && b.columns == c, "b is \(b.rows) x \(b.columns), expected \(m) x \(c)")
            try check(s.lowerFactor.rows == m, "the factor has order \(s.lowerFactor.rows), expected M = \(m)")
        }
        for (what, matrix) in [("targets", s.targets), ("offsets", s.offsetTargets), ("theta0", s.initialParameters)] {
            try matrix.requireFinite("the model's \(what)")
        }
        var position = [Int: Int](minimumCapacity: n)
        for (k, id) in s.ids.enumerated() where position.updateValue(k, forKey: id) != nil {
            throw UnlearningError.duplicateSampleIDs([id])
        }
        guard s.ridge >= 0, s.ridge.isFinite else { throw UnlearningError.invalidArgument("ridge \(s.ridge)") }
        self.ridge = s.ridge
        self.features = features
        self.rows = rows
        self.ids = s.ids
        self.positionOfID = position
        self.targets = s.targets
        self.initialParameters = s.initialParameters
        self.offsetTargets = s.offsetTargets
        self.factor = try Cholesky(lowerFactor: s.lowerFactor)
        self.solution = s.solution
        self.cachedParameters = s.parameters
        self.fittedConditionEstimate = s.fittedConditionEstimate
    }

    /// The same model whose feature source holds only the retained samples:
    /// the inputs (or feature rows) of forgotten samples are dropped from
    /// memory, and from any file the model is saved to. A feature matrix
    /// provided from outside (e.g. a mapped file) cannot be compacted and is
    /// kept with its row mapping.
    /// - Complexity: O(n d) (generated) or O(n M) (held).
    public func compacted() throws -> MinNormModel {
        var source: FeatureSource
        switch features.storage {
        case let .generated(map, inputs):
            source = FeatureSource(storage: .generated(map, inputs: try inputs.selectingRows(rows)),
                                   sampleCount: rows.count, featureCount: featureCount, featureStorage: features.featureStorage)
        case let .materialized(phi, origin):
            let kept = try origin.map { FeatureSource.Origin(map: $0.map, inputs: try $0.inputs.selectingRows(rows)) }
            source = FeatureSource(storage: .materialized(try phi.selectingRows(rows), origin: kept),
                                   sampleCount: rows.count, featureCount: featureCount, featureStorage: features.featureStorage)
        case .provided:
            return self
        }
        source.blockSize = features.blockSize
        var copy = self
        copy.replaceFeatures(source)
        return copy
    }

    mutating func replaceFeatures(_ source: FeatureSource) {
        self = MinNormModel(copying: self, features: source, rows: Array(0..<source.sampleCount))
    }

    init(copying m: MinNormModel, features: FeatureSource, rows: [Int]) {
        self.ridge = m.ridge
        self.features = features
        self.rows = rows
        self.ids = m.ids
        self.positionOfID = m.positionOfID
        self.targets = m.targets
        self.initialParameters = m.initialParameters
        self.offsetTargets = m.offsetTargets
        self.factor = m.factor
        self.solution = m.solution
        self.cachedParameters = m.cachedParameters
        self.fittedConditionEstimate = m.fittedConditionEstimate
    }

    /// The inputs X of the retained samples (model order), when the features
    /// are generated from a map.
    package func retainedInputs() throws -> Matrix? {
        try features.inputs?.selectingRows(rows)
    }

    /// The retained rows of the feature source (model order).
    package var featureRows: [Int] { rows }
}

import LinearAlgebra
import Unlearning

/// The min-norm random-feature model of docs/design.md §3b, with the
/// Gram matrix and its factor spread over a P x Q process grid, and exact
/// deletion without refactorisation.
///
/// Training (every process calls it with the same arguments):
///
///     K = Phi Phi^T + eps I          (block-cyclic over the grid)
///     K = L L^T                      (pdpotrf)
///     T = Y - Phi theta0,  A = K^{-1} T   (pdpotrs)
///     theta = theta0 + Phi^T A       (one Allreduce of M x C)
///
/// Process (p, q) accumulates its blocks K_IJ = sum_b Phi_{I,b} Phi_{J,b}^T
/// over column blocks b of the features, generating Phi_{I,b} and Phi_{J,b}
/// itself from the inputs and the seed (or reading those rows of a feature
/// file): nothing of Phi crosses the network.
///
/// Deletion (exact, sequential). The model keeps the factor L of the
/// original K, the original dual A0 = K^{-1} T, the forgotten positions F
/// (cumulative), the columns W = G[:, F] of G = K^{-1}, and the Cholesky
/// factor of S = G[F, F]. For the retained set R (the Schur complement of a
/// principal block of G),
///
///     K_RR^{-1} = G_RR - G_RF S^{-1} G_FR,
///     A_R = (A0 - W S^{-1} A0[F])_R,
///
/// which is the dual of the problem retrained on R; theta = theta0 + Phi_R^T A_R.
/// A request F' adds k columns to W (pdpotrs with k right-hand sides,
/// 2 N^2 k / (P Q) flops per process) and k rows to the factor of S
/// (O(|F|^2 k)); theta changes by Phi^T (A_new - A_old). When |F| would pass
/// `refactorLimit`, the model is refitted on R instead (`refactor`).
///
/// Certificate of each request: the stationarity residual
/// ||(K A)_R - T_R|| / ||T_R|| with K A = L (L^T A) from the distributed factor
/// (A is zero on F), held to `MinNormModel.residualBound` at cond(K), which
/// bounds cond(K_RR) (eigenvalue interlacing).
///
/// The model requires M >= N (K invertible); the under-parameterised primal
/// form stays on one machine (`MinNormModel`).
public struct DistributedModel: @unchecked Sendable {
    public let grid: ProcessGrid
    /// The block size of the block-cyclic distribution.
    public let blockSize: Int
    public let ridge: Double
    /// The features of every sample the model was fitted on (each process
    /// reads or generates only the rows it needs).
    public let features: FeatureSource
    /// The rows of `features` of the factored samples (position n <-> rows[n]).
    public internal(set) var rows: [Int]
    /// Their ids.
    public internal(set) var ids: [Int]
    /// Y of the factored samples (N x C).
    public internal(set) var targets: Matrix
    /// theta0 (M x C).
    public let initialParameters: Matrix
    /// T = Y - Phi theta0 on the factored samples.
    public internal(set) var offsets: Matrix
    /// L, the factor of K over the factored samples.
    public internal(set) var factor: BlockCyclicMatrix
    /// A0 = K^{-1} T.
    public internal(set) var originalDual: Matrix
    /// The current dual coefficients (N x C), zero on forgotten positions.
    public internal(set) var dual: Matrix
    /// theta (M x C).
    public internal(set) var parameters: Matrix
    /// What the deletions since the last factorisation add to it
    /// (docs/design.md §3b); nil when nothing was forgotten since.
    public struct Deletions: @unchecked Sendable {
        /// F: the forgotten positions, in request order.
        public internal(set) var positions: [Int]
        /// W = K^{-1} E_F (N x |F|).
        public internal(set) var inverseColumns: BlockCyclicMatrix
        /// The Cholesky factor of S = W[F, :] (|F| x |F|).
        public internal(set) var schurFactor: Cholesky
    }

    /// The deletions since the last factorisation: all three arrays or none.
    public internal(set) var deletions: Deletions?
    /// Forgotten positions since the last factorisation, in request order.
    public var forgottenPositions: [Int] { deletions?.positions ?? [] }
    /// An estimate of cond_1(K) (pdpocon).
    public internal(set) var conditionEstimate: Double
    /// ||A[F]|| / ||A|| before A[F] was set to zero in the last request.
    public internal(set) var lastForgottenResidual = 0.0
    /// The generation of the saved files the factor was last written in
    /// (see `DistributedModelStore`), nil when it changed since.
    var factorGeneration: Int?
    /// Factorisations so far (1 after training).
    public internal(set) var factorizations = 1
    /// Refactorise when more than this fraction of the factored samples
    /// would be forgotten (see `refactorLimit`).
    public var refactorFraction = 0.1

    /// Fits the model. Collective.
    /// - Parameters:
    ///   - features: Phi, generated from the replicated inputs or read from a
    ///     file (every process the same source).
    ///   - rows: rows of `features` to fit (every process the same).
    ///   - targets: Y (N x C), replicated.
    ///   - ids: one id per sample, what requests name.
    ///   - initialParameters: theta0 (M x C), replicated.
    ///   - ridge: eps >= 0.
    ///   - grid: the P x Q process grid.
    ///   - blockSize: of the block-cyclic distribution (64 to 256 is usual).
    /// - Throws: `invalidArgument` for inconsistent sizes or M < N;
    ///   `scalapack(pdpotrf)` when K is not positive definite.
    /// - Complexity per process: N^2 M / (P Q) flops for the Gram matrix
    ///   (lower blocks only), 2 |I ∪ J| M d <= 2 (N/P + N/Q) M d to generate
    ///   features for the local rows I and columns J (and
    ///   2 N M C / P for Phi theta0 in the same pass), N^3 / (3 P Q) for the
    ///   factor, 2 N^2 C / (P Q) for the solve and up to 20 N^2 / (P Q) for the
    ///   condition estimate, 2 N M (d + C) / (P Q) to generate features again
    ///   for theta; memory N^2 / (P Q) + (N/P + N/Q) blockSize + O(N C + M C).
    public init(features: FeatureSource, rows: [Int], targets: Matrix, ids: [Int], initialParameters: Matrix,
                ridge: Double = 0, grid: ProcessGrid, blockSize: Int = 128) throws {
        let n = rows.count
        guard n >= 1, targets.rows == n, ids.count == n else {
            throw DistributedError.invalidArgument("\(rows.count) rows, \(targets.rows) targets and \(ids.count) ids must agree and be at least 1")
        }
        guard features.featureCount >= n || ridge > 0 else {
            throw DistributedError.invalidArgument("M = \(features.featureCount) < N = \(n): K is singular; the under-parameterised (primal) form runs on one machine (muso train --form primal)")
        }
        guard initialParameters.rows == features.featureCount, initialParameters.columns == targets.columns else {
            throw DistributedError.invalidArgument("theta0 is \(initialParameters.rows) x \(initialParameters.columns), expected \(features.featureCount) x \(targets.columns)")
        }
        guard ridge >= 0, ridge.isFinite, blockSize >= 1 else { throw DistributedError.invalidArgument("ridge must be >= 0 and block size >= 1") }
        guard Set(ids).count == n else { throw DistributedError.invalidArgument("sample ids repeat") }
        try targets.requireFinite("the targets")
        try initialParameters.requireFinite("theta0")
        let fit = try DistributedModel.fit(features: features, rows: rows, targets: targets, theta0: initialParameters,
                                           ridge: ridge, grid: grid, blockSize: blockSize)
        self.init(grid: grid, blockSize: blockSize, ridge: ridge, features: features, rows: rows, ids: ids, targets: targets,
                  initialParameters: initialParameters, fit: fit, factorizations: 1, refactorFraction: 0.1)
    }

    /// A freshly factored model: nothing forgotten since its factorisation.
    init(grid: ProcessGrid, blockSize: Int, ridge: Double, features: FeatureSource, rows: [Int], ids: [Int], targets: Matrix,
         initialParameters: Matrix, fit: Fit, factorizations: Int, refactorFraction: Double) {
        self.init(grid: grid, blockSize: blockSize, ridge: ridge, features: features, rows: rows, ids: ids, targets: targets,
                  initialParameters: initialParameters, offsets: fit.offsets, factor: fit.factor, originalDual: fit.dual,
                  dual: fit.dual, parameters: fit.parameters, deletions: nil,
                  conditionEstimate: fit.condition, factorizations: factorizations, refactorFraction: refactorFraction,
                  factorGeneration: nil)
    }

    /// A model from its saved state (`DistributedModelStore.load`).
    init(grid: ProcessGrid, blockSize: Int, ridge: Double, features: FeatureSource, rows: [Int], ids: [Int], targets: Matrix,
         initialParameters: Matrix, offsets: Matrix, factor: BlockCyclicMatrix, originalDual: Matrix, dual: Matrix,
         parameters: Matrix, deletions: Deletions?,
         conditionEstimate: Double, factorizations: Int, refactorFraction: Double, factorGeneration: Int?) {
        self.grid = grid
        self.blockSize = blockSize
        self.ridge = ridge
        self.features = features
        self.rows = rows
        self.ids = ids
        self.targets = targets
        self.initialParameters = initialParameters
        self.offsets = offsets
        self.factor = factor
        self.originalDual = originalDual
        self.dual = dual
        self.parameters = parameters
        self.deletions = deletions
        self.conditionEstimate = conditionEstimate
        self.factorizations = factorizations
        self.refactorFraction = refactorFraction
        self.factorGeneration = factorGeneration
    }

    /// N, the samples the model is trained on now.
    public var sampleCount: Int { rows.count - forgottenPositions.count }
    /// M.
    public var featureCount: Int { features.featureCount }
    /// C.
    public var outputCount: Int { targets.columns }

    /// The positions of the retained samples among the factored ones.
    public var retainedPositions: [Int] {
        let gone = Set(forgottenPositions)
        return (0..<rows.count).filter { !gone.contains($0) }
    }

    /// The ids of the retained samples, in order.
    public var retainedIDs: [Int] { retainedPositions.map { ids[$0] } }

    /// |F| beyond which a request refactorises: min(refactorFraction N,
    /// N / sqrt(P Q)). The first keeps the extra solve work per request
    /// (2 N |F| C for W S^{-1} A0[F]) and W's memory (N |F| / (P Q)) small
    /// against K's; the second keeps the replicated factor of S (|F|^2
    /// values on every process) no larger than one process's share of K
    /// (N^2 / (P Q)).
    public var refactorLimit: Int {
        let n = Double(rows.count)
        return Int(min(refactorFraction * n, n / Double(grid.rows * grid.columns).squareRoot()))
    }

    // MARK: fitting

    struct Fit {
        var factor: BlockCyclicMatrix
        var offsets: Matrix
        var dual: Matrix
        var parameters: Matrix
        var condition: Double
    }

    static func fit(features: FeatureSource, rows: [Int], targets: Matrix, theta0: Matrix, ridge: Double,
                    grid: ProcessGrid, blockSize: Int) throws -> Fit {
        let n = rows.count
        var k = try BlockCyclicMatrix(rows: n, columns: n, blockSize: blockSize, grid: grid)
        let predicted = try accumulateGram(features: features, rows: rows, ridge: ridge, into: &k, theta0: theta0)
        let anorm = ScaLAPACK.oneNorm(k)
        try WorkProgress.step("distributed Cholesky factorisation (\(n) x \(n), pdpotrf)") { try ScaLAPACK.potrf(&k) }
        // pdpocon's estimate was seen 90 times below the true cond_1(K)
        // (6.0e3 against 5.4e5 at N = 300); Hager's estimate from a few
        // solves is taken beside it, and the larger (both are lower bounds).
        let rcondPdpocon = try ScaLAPACK.reciprocalCondition(k, oneNorm: anorm)
        let inverseNorm = max(rcondPdpocon > 0 ? 1 / (rcondPdpocon * anorm) : .infinity, try inverseOneNorm(factor: k))
        let rcond = 1 / (anorm * inverseNorm)
        let offsets = try targets - predicted
        let dual = try k.solveReplicated(offsets)
        let theta = try theta0 + applyTransposed(features: features, rows: rows, dual: dual, communicator: grid.communicator)
        return Fit(factor: k, offsets: offsets, dual: dual, parameters: theta, condition: rcond > 0 ? 1 / rcond : .infinity)
    }

    /// Adds this process's blocks of Phi_S Phi_S^T + ridge I (S = `rows`) to
    /// `k`, lower triangle only: for each column block b of the features,
    /// Phi[I, b] and Phi[J, b] for the local rows I and columns J, then one
    /// DGEMM per local column block into the rows at or below its diagonal.
    /// In the same pass, the processes of grid column 0 accumulate
    /// Phi[I, b] theta0[b] for their rows; one Allreduce returns Phi_S theta0
    /// (|S| x C) on every process, so the features are not generated again for it.
    static func accumulateGram(features: FeatureSource, rows: [Int], ridge: Double, into k: inout BlockCyclicMatrix,
                               theta0: Matrix) throws -> Matrix {
        let gi = k.globalRows, gj = k.globalColumns
        let n = rows.count, c = theta0.columns
        var predicted = Matrix(rows: gi.count, columns: c)
        let contributes = k.grid.myColumn == 0 && !gi.isEmpty
        func assemble() throws -> Matrix {
            var all = [Double](repeating: 0, count: n * c)
            if contributes { for j in 0..<c { for (r, i) in gi.enumerated() { all[i + j * n] = predicted[r, j] } } }
            try k.grid.communicator.sum(&all)
            return try Matrix(rows: n, columns: c, elements: all)
        }
        guard !gi.isEmpty, !gj.isEmpty else { return try assemble() }
        // The features of I ∪ J are made once per block and split: on a
        // P x 1 or 1 x Q grid one set contains the other, and on diagonal
        // processes of a square grid they are equal.
        let union = Array(Set(gi).union(gj)).sorted()
        let slot = Dictionary(uniqueKeysWithValues: union.enumerated().map { ($1, $0) })
        let source = try features.restricted(to: union.map { rows[$0] })
        let same = gi == gj
        let (pickI, pickJ) = (gi.map { slot[$0]! }, gj.map { slot[$0]! })
        let wholeI = pickI == Array(0..<union.count), wholeJ = pickJ == Array(0..<union.count)
        let ld = k.leadingDimension, nb = k.blockSize
        // Local column panels of about 512 columns (whole blocks): (first
        // local column, width, first local row at or below the diagonal of
        // its first column). Rows above the diagonal of the panel's later
        // columns are computed too (entries of K's upper triangle, which no
        // routine reads): at most 512 / 2 per column, against DGEMM calls
        // that each pack their share of Phi[I, b] again (with one call per
        // block of nb = 128 columns, the packing was measured to slow the
        // Gram pass down).
        var panels: [(column: Int, width: Int, row: Int)] = []
        let panelWidth = nb * max(1, 512 / nb)
        var column = 0
        while column < gj.count {
            let w = min(panelWidth, gj.count - column)
            let first = gi.firstIndex { $0 >= gj[column] } ?? gi.count
            if first < gi.count { panels.append((column, w, first)) }
            column += w
        }
        let m = features.featureCount, step = max(1, features.blockSize)
        let task = "Gram blocks of K (\(n) x \(n)) on this process", blocks = (m + step - 1) / step
        for (done, lo) in stride(from: 0, to: m, by: step).enumerated() {
            WorkProgress.report(task, completed: done, total: blocks, unit: "blocks")
            let cols = lo..<min(m, lo + step)
            let phiU = try source.block(columns: cols)
            let phiI = wholeI ? phiU : try phiU.selectingRows(pickI)
            let phiJ = same ? phiI : (wholeJ ? phiU : try phiU.selectingRows(pickJ))
            if contributes { try predicted.addProduct(phiI, theta0.selectingRows(Array(cols))) }
            try phiI.withUnsafeBufferPointer { pi in
                try phiJ.withUnsafeBufferPointer { pj in
                    try k.local.withUnsafeMutableBufferPointer { pk in
                        for panel in panels {
                            try dgemm(transA: false, transB: true, m: gi.count - panel.row, n: panel.width, k: cols.count, alpha: 1,
                                      a: pi.baseAddress! + panel.row, lda: gi.count,
                                      b: pj.baseAddress! + panel.column, ldb: gj.count,
                                      beta: 1, c: pk.baseAddress! + panel.row + panel.column * ld, ldc: ld)
                        }
                    }
                }
            }
        }
        WorkProgress.report(task, completed: blocks, total: blocks, unit: "blocks")
        if ridge != 0 {
            for (cl, j) in gj.enumerated() { if let r = k.localRow(j) { k.local[r + cl * ld] += ridge } }
        }
        return try assemble()
    }

    /// Hager's estimate of ||K^{-1}||_1 (the method of LAPACK's dlacon, on
    /// K symmetric): at most 5 solves with the distributed factor.
    /// - Complexity per process: up to 10 N^2 / (P Q) flops.
    static func inverseOneNorm(factor l: BlockCyclicMatrix) throws -> Double {
        let n = l.rows
        func solve(_ x: [Double]) throws -> [Double] { try l.solveReplicated(Matrix(column: x)).elements }
        var x = [Double](repeating: 1 / Double(n), count: n)
        var estimate = 0.0
        for _ in 0..<5 {
            let y = try solve(x)
            estimate = max(estimate, y.reduce(0) { $0 + abs($1) })
            let z = try solve(y.map { $0 >= 0 ? 1 : -1 })
            let j = z.indices.max { abs(z[$0]) < abs(z[$1]) } ?? 0
            let zx = zip(z, x).reduce(0) { $0 + $1.0 * $1.1 }
            if abs(z[j]) <= zx { break }
            x = [Double](repeating: 0, count: n)
            x[j] = 1
        }
        return estimate
    }

    /// This process's share of the rows: a contiguous chunk of about n / size.
    static func chunk(_ n: Int, _ communicator: Communicator) -> Range<Int> {
        (n * communicator.rank / communicator.size)..<(n * (communicator.rank + 1) / communicator.size)
    }

    /// Phi_S theta (|S| x C) on every process: each computes a chunk of rows,
    /// one Allreduce assembles them.
    /// - Complexity per process: |S| M (d + 2C) / (P Q) flops; |S| C values reduced.
    static func apply(features: FeatureSource, rows: [Int], theta: Matrix, communicator: Communicator) throws -> Matrix {
        let mine = chunk(rows.count, communicator)
        var all = [Double](repeating: 0, count: rows.count * theta.columns)
        if !mine.isEmpty {
            let part = try features.apply(rows: Array(rows[mine]), to: theta)
            for j in 0..<theta.columns { for (k, i) in mine.enumerated() { all[i + j * rows.count] = part[k, j] } }
        }
        try communicator.sum(&all)
        return try Matrix(rows: rows.count, columns: theta.columns, elements: all)
    }

    /// Phi_S^T a (M x C) on every process, skipping rows where a is zero:
    /// each process a chunk of rows, one Allreduce of M x C.
    /// - Complexity per process: |S| M (d + 2C) / (P Q) flops; M C values reduced.
    static func applyTransposed(features: FeatureSource, rows: [Int], dual a: Matrix, communicator: Communicator) throws -> Matrix {
        let mine = chunk(rows.count, communicator).filter { i in (0..<a.columns).contains { a[i, $0] != 0 } }
        var out = Matrix(rows: features.featureCount, columns: a.columns)
        if !mine.isEmpty {
            out = try features.applyTransposed(rows: mine.map { rows[$0] }, to: a.selectingRows(mine))
        }
        var values = out.elements
        try communicator.sum(&values)
        return try Matrix(rows: out.rows, columns: out.columns, elements: values)
    }

    // MARK: prediction

    /// Phi_R theta for the retained samples (in `retainedPositions` order),
    /// on every process. Collective.
    /// - Complexity per process: N M (d + 2C) / (P Q) flops; N C values reduced.
    public func fittedOutputs() throws -> Matrix {
        let kept = retainedPositions
        return try DistributedModel.apply(features: features, rows: kept.map { rows[$0] }, theta: parameters,
                                          communicator: grid.communicator)
    }

    /// Phi(x) theta for new inputs, on this process (theta is on every process).
    public func predict(inputs: Matrix) throws -> Matrix {
        guard let map = features.featureMap else {
            throw DistributedError.invalidArgument("the features come from a file: predict from feature rows instead")
        }
        return try Matrix.product(map.features(of: inputs), parameters)
    }
}

import Dispatch
import Foundation
internal import _CKernels

/// The Cholesky factorisation K = L L^T of a symmetric positive-definite
/// matrix, with L lower triangular with positive diagonal (unique).
///
/// Besides solving, the factor can lose rows and columns of K
/// (`delete(indices:)`, Givens re-triangularisation in O(n^2) per index, or
/// one blocked LQ of the trailing part for many indices) and
/// can be downdated by a rank-k term (`downdate(removing:)`, O(n^2 k)), so a
/// factor follows a shrinking training set without ever being recomputed.
///
/// Storage: the factor lives in the lower triangle of a column-major buffer
/// whose leading dimension stays that of the original matrix, so deletions
/// shrink the order without reallocating. The strict upper triangle is zero.
public struct Cholesky: Sendable {
    /// The order n of K.
    public internal(set) var order: Int
    var storage: [Double]
    var leadingDimension: Int
    /// ||K||_1 when known exactly (right after factorisation); deletions and
    /// downdates forget it and the condition estimate then estimates it too.
    var knownOneNorm: Double?

    /// Factors the symmetric positive-definite `matrix` (only its lower
    /// triangle is read) with LAPACK `dpotrf`.
    ///
    /// - Throws: `dimensionMismatch` when not square, `nonFinite` on NaN or
    ///   infinity, `notPositiveDefinite(routine: "dpotrf", order:)` naming the
    ///   first leading minor that is not positive definite.
    /// - Complexity: n^3 / 3 flops.
    /// The matrix is consumed: a caller that passes its last reference (e.g.
    /// a freshly formed Gram matrix) saves a copy of n^2 doubles.
    public init(factoring matrix: consuming Matrix) throws(LinearAlgebraError) {
        guard matrix.rows == matrix.columns else {
            throw .dimensionMismatch(operation: "Cholesky", detail: "\(matrix.rows) x \(matrix.columns) is not square")
        }
        try matrix.checkFinite("Cholesky")
        let n = matrix.rows
        order = n
        leadingDimension = max(n, 1)
        storage = (consume matrix).elements
        if storage.isEmpty { storage = [0] }
        knownOneNorm = try storage.withUnsafeBufferPointer { (p) throws(LinearAlgebraError) in
            try dlansyOneNorm(n: n, a: p.baseAddress!, lda: max(n, 1))
        }
        try storage.withUnsafeMutableBufferPointer { (p) throws(LinearAlgebraError) in
            try dpotrf(n: n, a: p.baseAddress!, lda: max(n, 1))
            for j in 0..<n { for i in 0..<j { p[i + j * n] = 0 } }
        }
    }

    /// Wraps an existing lower-triangular factor with positive diagonal (its
    /// strict upper triangle is ignored).
    /// - Throws: when not square, not finite, or a diagonal entry is <= 0.
    public init(lowerFactor l: Matrix) throws(LinearAlgebraError) {
        guard l.rows == l.columns else {
            throw .dimensionMismatch(operation: "Cholesky(lowerFactor:)", detail: "\(l.rows) x \(l.columns) is not square")
        }
        try l.checkFinite("Cholesky(lowerFactor:)")
        let n = l.rows
        for i in 0..<n where !(l[i, i] > 0) {
            throw .notPositiveDefinite(routine: "Cholesky(lowerFactor:)", order: i + 1)
        }
        order = n
        leadingDimension = max(n, 1)
        storage = l.elements.isEmpty ? [0] : l.elements
        knownOneNorm = nil
        for j in 0..<n { for i in 0..<j { storage[i + j * n] = 0 } }
    }

    /// The factor L (n x n, lower triangular).
    /// - Complexity: O(n^2) copy.
    public var lowerFactor: Matrix {
        var l = Matrix(rows: order, columns: order)
        let n = order, ld = leadingDimension
        storage.withUnsafeBufferPointer { src in
            l.withUnsafeMutableBufferPointer { dst in
                for j in 0..<n {
                    for i in j..<n { dst[i + j * n] = src[i + j * ld] }
                }
            }
        }
        return l
    }

    /// The diagonal of L L^T, (L L^T)_ii = sum_k L_ik^2: the diagonal of the
    /// matrix the factor represents, without forming it.
    /// - Complexity: n^2 flops, one pass down the columns of the factor.
    package var reconstructedDiagonal: [Double] {
        var d = [Double](repeating: 0, count: order)
        let n = order, ld = leadingDimension
        storage.withUnsafeBufferPointer { e in
            d.withUnsafeMutableBufferPointer { out in
                for k in 0..<n { for i in k..<n { out[i] += e[i + k * ld] * e[i + k * ld] } }
            }
        }
        return d
    }

    /// L L^T, the matrix this factor represents.
    /// - Complexity: n^3 / 3 flops (`dtrmm`); meant for checks.
    public func reconstructed() throws(LinearAlgebraError) -> Matrix {
        var lt = lowerFactor.transposed
        try applyLower(to: &lt, transposed: false)
        return lt
    }

    /// Solves K X = B by two triangular solves, L Y = B then L^T X = Y: up
    /// to `blockedSolveColumns` columns from order `blockedSolveOrder` on
    /// (from 2 columns, order 1024: `solvesBlocked`) by the blocked solves
    /// on every core (`BlockedTriangularSolve`, one read
    /// of L each; at n = 8000 with 10 columns 0.029-0.036 s against
    /// 0.064-0.069 s for `dpotrs`), otherwise by `dpotrs`.
    /// - Throws: `dimensionMismatch` unless B has n rows; `nonFinite` on NaN.
    /// - Complexity: 2 n^2 c flops for c right-hand sides.
    public func solve(_ b: Matrix) throws(LinearAlgebraError) -> Matrix {
        try solve(b, blocked: Self.solvesBlocked(order: order, columns: b.columns))
    }

    /// `solve(_:)` with the route chosen: the blocked solves (any order and
    /// width) or `dpotrs`. The tests compare the two.
    func solve(_ b: Matrix, blocked: Bool) throws(LinearAlgebraError) -> Matrix {
        guard b.rows == order else {
            throw .dimensionMismatch(operation: "Cholesky.solve", detail: "right-hand side \(b.rows) x \(b.columns) for order \(order)")
        }
        try b.checkFinite("Cholesky.solve")
        var x = b
        if order == 0 || b.columns == 0 { return x }
        let n = order, ld = leadingDimension
        try storage.withUnsafeBufferPointer { (pl) throws(LinearAlgebraError) in
            try x.withUnsafeMutableBufferPointer { (px) throws(LinearAlgebraError) in
                if blocked {
                    try Self.blockedSolve(n: n, l: pl.baseAddress!, ld: ld, x: px.baseAddress!, nrhs: b.columns)
                } else {
                    try dpotrs(n: n, nrhs: b.columns, l: pl.baseAddress!, ldl: ld, b: px.baseAddress!, ldb: n)
                }
            }
        }
        return x
    }

    /// X = L^{-T} (L^{-1} B) in place for the n x nrhs matrix at `x` (leading
    /// dimension n): the two blocked triangular solves on every core, one
    /// read of L each. `solve(_:blocked:)` and the condition estimate.
    private static func blockedSolve(n: Int, l: UnsafePointer<Double>, ld: Int, x: UnsafeMutablePointer<Double>,
                                     nrhs: Int) throws(LinearAlgebraError) {
        for transposed in [false, true] {
            try BlockedTriangularSolve.run(n: n, l: l, ld: ld, from: 0, x: x, ldx: n, nrhs: nrhs, transposed: transposed)
        }
    }

    /// The columns `indices` of K^{-1}: K^{-1} E_F (n x k), E_F the columns
    /// of the identity at those positions, as L^{-T} (L^{-1} E_F)
    /// (`forwardColumns(_:)` then `backwardSolve(_:)`).
    /// - Throws: `invalidArgument` for a position outside 0..<order.
    /// - Complexity: at most ((n - j0)^2 + n^2) k flops, j0 = min F, against
    ///   2 n^2 k for `solve(E_F)`.
    public func inverseColumns(_ indices: [Int]) throws(LinearAlgebraError) -> Matrix {
        try backwardSolve(forwardColumns(indices))
    }

    /// Y = L^{-1} E_F (n x k), E_F the columns of the identity at `indices`.
    ///
    /// Mathematics: L is lower triangular, so column q of Y is zero above
    /// f_q: each column's solve runs on the trailing block L[f_q:, f_q:]
    /// only. The columns are taken in increasing order of position, and one
    /// sweep down L from min F serves them all, each block of rows working on
    /// the columns that have started by its last row (a staircase). The
    /// route (`ForwardRoute.chosen`): up to `blockedForwardColumns` columns
    /// (twice as many below order `blockedSolveOrder`) the sweep uses the
    /// panel kernels (`BlockedTriangularSolve`, column starts); otherwise
    /// blocks of `staircaseBlock` rows, each a `dtrsm` on its diagonal block
    /// and a DGEMM update of the rows below (`staircaseForward`). A single
    /// column below order `blockedSolveOrder` goes through `dtrsv`.
    /// Y^T Y = E_F^T K^{-1} E_F = K^{-1}[F, F].
    /// - Throws: `invalidArgument` for a position outside 0..<order.
    /// - Complexity: ~sum over q of (n - f_q)^2 flops (to whole blocks),
    ///   ~n^2 k / 3 for positions spread evenly.
    public func forwardColumns(_ indices: [Int]) throws(LinearAlgebraError) -> Matrix {
        try forwardColumns(indices, route: ForwardRoute.chosen(order: order, columns: indices.count))
    }

    /// How `forwardColumns` sweeps: the panel kernels, the staircase of
    /// DGEMM updates, or `dtrsv` for one column.
    enum ForwardRoute: CaseIterable {
        case panels, staircase, singleColumn

        /// The measured choice. On an AMD EPYC (Zen 5, 2 cores, positions at
        /// random, medians of 31) the panels beat the staircase below order
        /// 2048 too, where their update runs on one core: n = 1000, k = 100
        /// 0.00082-0.00085 s against 0.00142-0.00174; k = 200 0.00166
        /// against 0.00307; n = 2000, k = 200 0.0052 against 0.0076; n = 500,
        /// k = 50 0.00017 against 0.00037. Beyond: n = 2000, k = 400 0.0102
        /// against 0.0097 and n = 4000, k = 200 0.0205 against 0.0188.
        static func chosen(order n: Int, columns k: Int) -> ForwardRoute {
            if k == 1 && n < blockedSolveOrder { return .singleColumn }
            let panelColumns = n >= blockedSolveOrder ? blockedForwardColumns : 2 * blockedForwardColumns
            return k <= panelColumns ? .panels : .staircase
        }
    }

    /// `forwardColumns(_:)` by the given route (`.singleColumn` needs one
    /// column). The tests compare the routes.
    func forwardColumns(_ indices: [Int], route: ForwardRoute) throws(LinearAlgebraError) -> Matrix {
        if let bad = indices.first(where: { $0 < 0 || $0 >= order }) {
            throw .invalidArgument(operation: "Cholesky.forwardColumns", detail: "index \(bad) out of 0..<\(order)")
        }
        let n = order, k = indices.count, ld = leadingDimension
        var x = Matrix(rows: n, columns: k)
        guard k > 0 else { return x }
        // Columns in increasing order of position.
        let sortedColumns = indices.indices.sorted { indices[$0] < indices[$1] }
        let starts = sortedColumns.map { indices[$0] }   // positions, ascending
        var sorted = Matrix(rows: n, columns: k)
        for (c, start) in starts.enumerated() { sorted[start, c] = 1 }
        try storage.withUnsafeBufferPointer { (pl) throws(LinearAlgebraError) in
            try sorted.withUnsafeMutableBufferPointer { (px) throws(LinearAlgebraError) in
                let l = pl.baseAddress!, xs = px.baseAddress!
                switch route {
                case .panels:
                    try BlockedTriangularSolve.run(n: n, l: l, ld: ld, from: starts[0], x: xs, ldx: n, nrhs: k,
                                                   transposed: false, columnStarts: starts)
                case .singleColumn:   // one column: the level-2 kernel is faster
                    guard k == 1 else {
                        throw .invalidArgument(operation: "Cholesky.forwardColumns", detail: "dtrsv takes one column, not \(k)")
                    }
                    try dtrsv(transL: false, n: n - starts[0], l: l + starts[0] * (ld + 1), ldl: ld, x: xs + starts[0])
                case .staircase:
                    try Self.staircaseForward(n: n, l: l, ld: ld, x: xs, starts: starts)
                }
            }
        }
        for (c, q) in sortedColumns.enumerated() {
            for i in indices[q]..<n { x[i, q] = sorted[i, c] }
        }
        return x
    }

    /// Solves L X = B in place for the n x k matrix at `x` (leading
    /// dimension n) whose column c is zero above `starts[c]` (ascending):
    /// blocks of `staircaseBlock` rows from starts[0] down, each solving its
    /// diagonal block for the columns started by its last row (`dtrsm`), then
    /// subtracting their product with the block's columns of L from the rows
    /// below (DGEMM). The zeros above a column's start stay zero (L is lower
    /// triangular), so the solution is that of every column from its start.
    /// - Complexity: ~sum over c of (n - starts[c])^2 flops, at DGEMM speed.
    static func staircaseForward(n: Int, l: UnsafePointer<Double>, ld: Int, x: UnsafeMutablePointer<Double>,
                                 starts: [Int]) throws(LinearAlgebraError) {
        let k = starts.count
        guard k > 0 else { return }
        var j = starts[0], active = 0
        while j < n {
            let w = min(staircaseBlock, n - j), below = n - j - w
            while active < k && starts[active] < j + w { active += 1 }
            try dtrsm(transL: false, m: w, n: active, l: l + j + j * ld, ldl: ld, b: x + j, ldb: n)
            if below > 0 {
                try dgemm(transA: false, transB: false, m: below, n: active, k: w, alpha: -1, a: l + (j + w) + j * ld, lda: ld,
                          b: x + j, ldb: n, beta: 1, c: x + j + w, ldc: n)
            }
            j += w
        }
    }

    /// X = L^{-T} Y (n x c): the backward half of a solve with K.
    /// - Throws: `dimensionMismatch` unless `y` has n rows.
    /// - Complexity: n^2 c flops; where `solvesBlocked`, one pass over L on
    ///   every core (`BlockedTriangularSolve`).
    public func backwardSolve(_ y: Matrix) throws(LinearAlgebraError) -> Matrix {
        guard y.rows == order else {
            throw .dimensionMismatch(operation: "Cholesky.backwardSolve", detail: "right-hand side \(y.rows) x \(y.columns) for order \(order)")
        }
        let n = order, c = y.columns, ld = leadingDimension
        var x = y
        guard c > 0 else { return x }
        try storage.withUnsafeBufferPointer { (pl) throws(LinearAlgebraError) in
            try x.withUnsafeMutableBufferPointer { (px) throws(LinearAlgebraError) in
                if Self.solvesBlocked(order: n, columns: c) {
                    try BlockedTriangularSolve.run(n: n, l: pl.baseAddress!, ld: ld, from: 0, x: px.baseAddress!,
                                                   ldx: n, nrhs: c, transposed: true)
                } else if c == 1 {
                    try dtrsv(transL: true, n: n, l: pl.baseAddress, ldl: ld, x: px.baseAddress)
                } else {
                    try dtrsm(transL: true, m: n, n: c, l: pl.baseAddress, ldl: ld, b: px.baseAddress, ldb: n)
                }
            }
        }
        return x
    }

    /// Up to this many columns (from `blockedSolveOrder` on; twice as many
    /// below) `forwardColumns` solves all of them with the panel kernels
    /// (`BlockedTriangularSolve`); beyond, by the staircase of DGEMM updates
    /// (`staircaseForward`). At n = 8000 with positions at random: 100
    /// columns 0.067-0.095 s against 0.108-0.115 in dtrsm groups (Intel
    /// Xeon); on an AMD EPYC (Zen 5), 100 columns 0.031-0.034 s against
    /// 0.042-0.044 for the staircase, 20 columns 0.013-0.014 against
    /// 0.017-0.018, and 129 columns 0.046-0.051 s by the staircase (both on 2
    /// cores).
    static let blockedForwardColumns = 128

    /// Rows per block of `staircaseForward`. On an AMD EPYC (Zen 5, 2 cores,
    /// positions at random; medians of 15, against dtrsm groups of 32 columns
    /// each solved from its own first position, the previous method):
    /// n = 1000, k = 100: 0.00091-0.00097 s against 0.00108-0.00115 (blocks of
    /// 32 and 96 rows: the same, 128: 0.00102-0.00112); k = 20: 0.00034
    /// against 0.00055; n = 2000, k = 200: 0.0055 against 0.0082-0.0087;
    /// n = 8000, k = 300: 0.088 against 0.168-0.226.
    static let staircaseBlock = 64

    /// Up to this many columns (and from this order on) `backwardSolve`
    /// solves with the blocked panel kernels on every core
    /// (`BlockedTriangularSolve`); beyond, `dtrsm` is level-3 enough.
    static let blockedSolveColumns = 16
    static let blockedSolveOrder = 2048

    /// Whether `solve` and `backwardSolve` take the blocked solves: up to
    /// `blockedSolveColumns` columns from order `blockedSolveOrder` on, and
    /// from 2 columns already at order 1024. On an AMD EPYC (Zen 5, 2 cores,
    /// medians of 31) L^{-T} Y at n = 1024, 2 and 4 columns: 0.00016 s
    /// against 0.00017 and 0.00027 for dtrsm; n = 1500, 4 columns 0.00027
    /// against 0.00062; n = 2000, 2 and 10 columns 0.00054 and 0.00107
    /// against 0.00086 and 0.00177; one column stays faster by dtrsv (n =
    /// 2000: 0.00034 against 0.00049), and n = 1000 with 10 columns is a tie.
    static func solvesBlocked(order n: Int, columns c: Int) -> Bool {
        c <= blockedSolveColumns && (n >= blockedSolveOrder || (c >= 2 && n >= 1024))
    }

    /// Solves L Y = B (or L^T Y = B when `transposed`) (`dtrsm`).
    /// - Complexity: n^2 c flops.
    public func solveTriangular(_ b: Matrix, transposed: Bool = false) throws(LinearAlgebraError) -> Matrix {
        guard b.rows == order else {
            throw .dimensionMismatch(operation: "Cholesky.solveTriangular", detail: "right-hand side \(b.rows) x \(b.columns) for order \(order)")
        }
        var x = b
        let n = order, ld = leadingDimension
        try storage.withUnsafeBufferPointer { (pl) throws(LinearAlgebraError) in
            try x.withUnsafeMutableBufferPointer { (px) throws(LinearAlgebraError) in
                try dtrsm(transL: transposed, m: n, n: b.columns, l: pl.baseAddress, ldl: ld, b: px.baseAddress, ldb: n)
            }
        }
        return x
    }

    /// K X = L (L^T X), without forming K.
    ///
    /// One pass over L from memory: L (L^T X) = sum over column panels J of
    /// L[J:, J] Y_J with Y_J = L[J:, J]^T X[J:] (`MUSO_GRAM_PANEL` x c), both
    /// products of a panel running while it is still in cache
    /// (`_CKernels/panel.c`, vectorised for the CPU). The columns are split
    /// among the cores in ranges of equal area; each core sums into its own
    /// n x c buffer and the buffers are added at the end. General GEMMs are
    /// slow on these shapes (they copy the tall panel before using it once):
    /// at n = 16000, c = 10 the former `dgemm` route took 0.23-0.39 s.
    /// - Parameter x: X (n x c).
    /// - Complexity: 2 n^2 c flops; L read once from memory.
    public func multiply(_ x: Matrix) throws(LinearAlgebraError) -> Matrix {
        try multiply(x, level: nil, threads: nil)
    }

    func multiply(_ x: Matrix, level: KernelLevel?, threads: Int?) throws(LinearAlgebraError) -> Matrix {
        guard x.rows == order else {
            throw .dimensionMismatch(operation: "Cholesky.multiply", detail: "\(x.rows) x \(x.columns) for order \(order)")
        }
        let n = order, ld = leadingDimension, c = x.columns
        var out = Matrix(rows: n, columns: c)
        if n == 0 || c == 0 { return out }
        // Below ~256 columns per core the threads cost more than they save.
        let parts = max(1, min(threads ?? KernelThreads.count, n / 256))
        let ranges = KernelThreads.equalAreaColumns(n, parts: parts)
        let lvl = level?.rawValue ?? -1
        var extra = [Double](repeating: 0, count: (parts - 1) * n * c)
        storage.withUnsafeBufferPointer { pl in
            x.withUnsafeBufferPointer { px in
                out.withUnsafeMutableBufferPointer { po in
                    extra.withUnsafeMutableBufferPointer { pe in
                        let l = KernelConstPointer(base: pl.baseAddress!), xs = KernelConstPointer(base: px.baseAddress!)
                        let o = KernelPointer(base: po.baseAddress!)
                        let e = KernelPointer(base: pe.baseAddress ?? po.baseAddress!)
                        DispatchQueue.concurrentPerform(iterations: parts) { t in
                            var work = [Double](repeating: 0, count: Int(MUSO_GRAM_PANEL) * c)
                            let dst = t == 0 ? o.base : e.base + (t - 1) * n * c
                            muso_lower_gram(lvl, n, l.base, ld, ranges[t].lowerBound, ranges[t].upperBound,
                                            c, xs.base, n, dst, n, &work)
                        }
                        for t in 1..<parts {
                            let src = e.base + (t - 1) * n * c
                            for col in 0..<c {
                                for i in ranges[t].lowerBound..<n { o.base[i + col * n] += src[i + col * n] }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    func applyLower(to y: inout Matrix, transposed: Bool) throws(LinearAlgebraError) {
        let n = order, ld = leadingDimension, c = y.columns
        try storage.withUnsafeBufferPointer { (pl) throws(LinearAlgebraError) in
            try y.withUnsafeMutableBufferPointer { (py) throws(LinearAlgebraError) in
                try dtrmm(transL: transposed, m: n, n: c, l: pl.baseAddress, ldl: ld, b: py.baseAddress, ldb: n)
            }
        }
    }

    /// An estimate of the 1-norm condition number ||K||_1 ||K^{-1}||_1.
    ///
    /// ||K^{-1}||_1 is estimated by the Hager–Higham method (`dlacn2`) on
    /// the operator x -> L^{-T} (L^{-1} x), as LAPACK `dpocon` does: from
    /// order `blockedSolveOrder` on through the blocked triangular solves on
    /// every core (`BlockedTriangularSolve`; `dpocon`'s `dlatrs` solves run
    /// on one core: at n = 8000, 0.16-0.21 s), below it by `dpocon` itself.
    /// ||K||_1 is exact after factorisation (`dlansy`) and, after deletions
    /// or downdates, estimated from products L (L^T x) by the same method.
    /// Both estimates are lower bounds that are rarely off by more than a
    /// factor 3. A solve that overflows gives +infinity.
    /// - Complexity: O(n^2): a few (usually 4-5) pairs of triangular solves.
    public func conditionEstimate() throws(LinearAlgebraError) -> Double {
        try conditionEstimate(blockedSolves: order >= Self.blockedSolveOrder)
    }

    /// `conditionEstimate()` with the route of ||K^{-1}||_1 chosen: the
    /// blocked solves (any order) or `dpocon`. The tests compare the two.
    func conditionEstimate(blockedSolves: Bool) throws(LinearAlgebraError) -> Double {
        if order == 0 { return 1 }
        let anorm: Double
        if let known = knownOneNorm {
            anorm = known
        } else {
            anorm = try dlacn2Estimate(n: order) { (x, _) throws(LinearAlgebraError) in
                let y = try self.multiply(Matrix(column: x))
                x = y.elements
            }
        }
        let n = order, ld = leadingDimension
        if blockedSolves {
            // K^{-1} is symmetric: the transposed product is the same solve.
            let inverseNorm = try storage.withUnsafeBufferPointer { (pl) throws(LinearAlgebraError) in
                try dlacn2Estimate(n: n) { (x, _) throws(LinearAlgebraError) in
                    try x.withUnsafeMutableBufferPointer { (px) throws(LinearAlgebraError) in
                        try Self.blockedSolve(n: n, l: pl.baseAddress!, ld: ld, x: px.baseAddress!, nrhs: 1)
                    }
                }
            }
            let product = anorm * inverseNorm
            return product > 0 ? product : .infinity   // NaN (an overflowed solve) or a zero norm
        }
        let rcond = try storage.withUnsafeBufferPointer { (pl) throws(LinearAlgebraError) in
            try dpocon(n: n, l: pl.baseAddress!, ldl: ld, anorm: anorm)
        }
        return rcond > 0 ? 1 / rcond : .infinity
    }

    /// log det K = 2 sum log L_ii.
    /// - Complexity: O(n).
    public var logDeterminant: Double {
        var s = 0.0
        for i in 0..<order { s += log(storage[i + i * leadingDimension]) }
        return 2 * s
    }

    /// Copies the storage now if it is shared with another value (see
    /// `MinNormModel.makeStorageUnique`).
    package mutating func makeStorageUnique() {
        storage.withUnsafeMutableBufferPointer { _ in }
    }

    /// The diagonal of L.
    public var diagonal: [Double] { (0..<order).map { storage[$0 + $0 * leadingDimension] } }
}

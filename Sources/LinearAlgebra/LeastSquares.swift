/// The minimum-norm least-squares solution X = A^+ B, by the SVD.
///
/// Among all minimisers of ||A X - B||_F it is the one of least ||X||_F:
/// X = V_r S_r^{-1} U_r^T B over the singular values s_i > rcond * s_1. For A
/// of full row rank (m <= n) it is the interpolating solution
/// A^T (A A^T)^{-1} B; for full column rank, (A^T A)^{-1} A^T B. This is the
/// pseudo-inverse route that the engine's retraining oracle uses
/// independently of its Cholesky route.
public struct MinimumNormSolution: Sendable {
    /// X (n x c).
    public var solution: Matrix
    /// The effective rank: the number of singular values above the cut.
    public var rank: Int
    /// The singular values of A in decreasing order.
    public var singularValues: [Double]

    /// s_1 / s_r over the singular values kept (the 2-norm condition number of
    /// A restricted to its numerical range).
    public var conditionNumber: Double {
        guard rank > 0, let first = singularValues.first else { return .infinity }
        return first / singularValues[rank - 1]
    }
}

extension Matrix {
    /// The minimum-norm least-squares solution of A X = B (LAPACK `dgelsd`,
    /// divide-and-conquer SVD).
    ///
    /// - Parameters:
    ///   - a: A, m x n (any shape, any rank).
    ///   - b: B, m x c.
    ///   - rcond: singular values s_i <= rcond * s_1 count as zero; the default
    ///     max(m, n) * u (u the unit round-off) keeps every singular value
    ///     that is distinguishable from rounding noise.
    /// - Throws: `dimensionMismatch` unless B has m rows; `nonFinite` on NaN;
    ///   `lapack(routine: "dgelsd", info:)` when the SVD fails to converge.
    /// - Complexity: O(m n min(m, n)) flops, plus workspace O(m n).
    public static func minimumNormSolution(_ a: Matrix, _ b: Matrix,
                                           rcond: Double? = nil) throws(LinearAlgebraError) -> MinimumNormSolution {
        guard a.rows == b.rows else {
            throw .dimensionMismatch(operation: "Matrix.minimumNormSolution",
                                     detail: "A is \(a.rows) x \(a.columns) but B is \(b.rows) x \(b.columns)")
        }
        try a.checkFinite("Matrix.minimumNormSolution (A)")
        try b.checkFinite("Matrix.minimumNormSolution (B)")
        let m = a.rows, n = a.columns, c = b.columns
        let ldb = Swift.max(m, n, 1)
        if m == 0 || n == 0 || c == 0 {
            return MinimumNormSolution(solution: Matrix(rows: n, columns: c), rank: 0, singularValues: [])
        }
        var work = a
        // B padded to max(m, n) rows: dgelsd writes X into its first n rows.
        var bb = Matrix(rows: ldb, columns: c)
        for j in 0..<c { for i in 0..<m { bb[i, j] = b[i, j] } }
        var s = [Double](repeating: 0, count: Swift.min(m, n))
        let cut = rcond ?? (Double(Swift.max(m, n)) * Double.ulpOfOne)
        let rank = try work.withUnsafeMutableBufferPointer { (pa) throws(LinearAlgebraError) in
            try bb.withUnsafeMutableBufferPointer { (pb) throws(LinearAlgebraError) in
                try s.withUnsafeMutableBufferPointer { (ps) throws(LinearAlgebraError) in
                    try dgelsd(m: m, n: n, nrhs: c, a: pa.baseAddress!, lda: m, b: pb.baseAddress!, ldb: ldb,
                               s: ps.baseAddress!, rcond: cut)
                }
            }
        }
        var x = Matrix(rows: n, columns: c)
        for j in 0..<c { for i in 0..<n { x[i, j] = bb[i, j] } }
        return MinimumNormSolution(solution: x, rank: rank, singularValues: s)
    }
}

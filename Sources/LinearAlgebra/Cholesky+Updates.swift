import Foundation

extension Cholesky {
    /// Deletes the rows and columns `indices` of K from the factor, in place:
    /// afterwards L L^T equals K with those rows and columns removed, and L is
    /// again lower triangular with positive diagonal (so it equals the factor
    /// a fresh `dpotrf` of the reduced matrix would give, up to rounding).
    ///
    /// Mathematics: removing row j of L leaves an (n-1) x n matrix L' with
    /// L' L'^T = K without row and column j; L' is lower triangular except for
    /// one superdiagonal entry in each row i >= j. Givens rotations of columns
    /// (i, i+1) from the right, i = j ... n-2, zero those entries; rotations
    /// are orthogonal, so L' Q Q^T L'^T is unchanged, and the last column
    /// becomes zero and is dropped. Indices are removed from the largest down
    /// so the remaining ones keep their positions.
    ///
    /// - Parameter indices: zero-based positions in 0..<order, distinct.
    /// - Throws: `invalidArgument` for an index out of range or repeated (the
    ///   factor is left unchanged); `notPositiveDefinite` if a rotation meets
    ///   an exactly zero pair (only possible for a singular K).
    /// - Complexity: O(n (n - j) + (n - j)^2) per index j, so O(n^2) each and
    ///   O(n^2 k) for k indices; no refactorisation.
    public mutating func delete(indices: some Collection<Int>) throws(LinearAlgebraError) {
        let sorted = indices.sorted(by: >)
        for (a, b) in zip(sorted, sorted.dropFirst()) where a == b {
            throw .invalidArgument(operation: "Cholesky.delete", detail: "index \(a) is repeated")
        }
        if let bad = sorted.first(where: { $0 < 0 || $0 >= order }) {
            throw .invalidArgument(operation: "Cholesky.delete", detail: "index \(bad) out of 0..<\(order)")
        }
        if sorted.isEmpty { return }
        knownOneNorm = nil
        for j in sorted { try deleteOne(j) }
    }

    private mutating func deleteOne(_ j: Int) throws(LinearAlgebraError) {
        let n = order, ld = leadingDimension
        try storage.withUnsafeMutableBufferPointer { (p) throws(LinearAlgebraError) in
            let base = p.baseAddress!
            // 1. Remove row j: in column c the nonzeros start at row c; shift
            //    everything below the removed row up by one.
            for c in 0..<n {
                let col = base + c * ld
                let start = c <= j ? j : c - 1
                let count = n - start - 1
                if count > 0 { (col + start).update(from: col + start + 1, count: count) }
                col[n - 1] = 0
            }
            // 2. Re-triangularise with Givens rotations of adjacent columns.
            for i in j..<(n - 1) {
                let ci = base + i * ld, cn = base + (i + 1) * ld
                let a = ci[i], b = cn[i]
                if b == 0 {
                    if a < 0 {  // keep the diagonal positive
                        for r in i..<(n - 1) { ci[r] = -ci[r] }
                    }
                    continue
                }
                let r = hypot(a, b)
                guard r > 0, r.isFinite else { throw .notPositiveDefinite(routine: "Cholesky.delete", order: i + 1) }
                let c = a / r, s = b / r
                try drot(n: n - 2 - i, x: ci + i + 1, y: cn + i + 1, c: c, s: s)
                ci[i] = r
                cn[i] = 0
            }
            // The old last column is now zero; clear it for the invariant.
            let last = base + (n - 1) * ld
            for r in 0..<n { last[r] = 0 }
        }
        order = n - 1
    }

    /// Replaces the factor of K by the factor of K - V^T V, where the rows of
    /// `v` (k x n) are the vectors removed: the rank-k downdate used when
    /// samples leave the primal matrix H = Phi^T Phi + eps I (then V = Phi_F).
    ///
    /// Mathematics: for one row x, the columns of L are updated left to right
    /// with the hyperbolic-free scheme of LINPACK `dchdd`: r = sqrt(L_jj^2 -
    /// x_j^2), c = r / L_jj, s = x_j / L_jj, L_ij <- (L_ij - s x_i) / c,
    /// x_i <- c x_i - s L_ij. It breaks down exactly when K - x x^T is not
    /// positive definite.
    ///
    /// - Throws: `dimensionMismatch` unless `v` has n columns; `nonFinite`;
    ///   `notPositiveDefinite(routine: "Cholesky.downdate", order: j)` when the
    ///   downdated matrix is not (numerically) positive definite, i.e. when
    ///   L_jj^2 - x_j^2 <= n u L_jj^2. The factor is then left unchanged.
    /// - Complexity: 3 n^2 k flops.
    public mutating func downdate(removing v: Matrix) throws(LinearAlgebraError) {
        guard v.columns == order else {
            throw .dimensionMismatch(operation: "Cholesky.downdate", detail: "\(v.rows) x \(v.columns) rows for order \(order)")
        }
        try v.checkFinite("Cholesky.downdate")
        if v.rows == 0 { return }
        var copy = storage  // transactional: commit only if every row succeeds
        let n = order, ld = leadingDimension
        let threshold = Double(n) * Double.ulpOfOne
        try copy.withUnsafeMutableBufferPointer { (p) throws(LinearAlgebraError) in
            var x = [Double](repeating: 0, count: n)
            for row in 0..<v.rows {
                for i in 0..<n { x[i] = v[row, i] }
                try x.withUnsafeMutableBufferPointer { (px) throws(LinearAlgebraError) in
                    for j in 0..<n {
                        let col = p.baseAddress! + j * ld
                        let ljj = col[j], xj = px[j]
                        let r2 = (ljj - xj) * (ljj + xj)
                        guard r2 > threshold * ljj * ljj, r2.isFinite else {
                            throw .notPositiveDefinite(routine: "Cholesky.downdate", order: j + 1)
                        }
                        let r = r2.squareRoot()
                        let c = r / ljj, s = xj / ljj
                        col[j] = r
                        if xj == 0 { continue }
                        let invc = 1 / c
                        for i in (j + 1)..<n {
                            let lij = (col[i] - s * px[i]) * invc
                            col[i] = lij
                            px[i] = c * px[i] - s * lij
                        }
                    }
                }
            }
        }
        storage = copy
        knownOneNorm = nil
    }
}

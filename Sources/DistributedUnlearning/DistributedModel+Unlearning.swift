import Foundation
import LinearAlgebra
import Unlearning

/// The outcome of one request on a distributed model.
public struct DistributedUnlearningResult: Sendable {
    public var forgottenIDs: [Int]
    public var certificate: Certificate
    /// Whether the request refitted the model on the retained samples
    /// (|F| passed `refactorLimit`, or it was asked for).
    public var refactorized: Bool
}

extension DistributedModel {
    /// Forgets the samples `ids` exactly: afterwards `parameters` and `dual`
    /// are those of the model trained from scratch on the retained samples
    /// (to rounding). Collective: every process passes the same ids.
    ///
    /// Without refactorisation (|F| + k <= `refactorLimit`):
    /// 1. W' = K^{-1} E_{F'}: pdpotrs on k unit columns, appended to W (pdgemr2d);
    /// 2. the factor of S grows by k rows: X = L_S^{-1} G[F, F'],
    ///    L22 L22^T = G[F', F'] - X^T X;
    /// 3. A = A0 - W S^{-1} A0[F] (F now includes F'), set to zero on F;
    /// 4. theta += Phi^T (A - A_before) (one pass over the retained rows'
    ///    features, one Allreduce of M x C);
    /// 5. the certificate: ||(L L^T A)_R - T_R|| / ||T_R|| (two pdtrmm).
    /// With `refactorize`, or past the limit, the model is refitted on the
    /// retained samples (the factor then holds nothing of the forgotten ones).
    ///
    /// - Throws: `invalidArgument` naming an unknown, repeated or already
    ///   forgotten id, or a request that would forget every sample.
    /// - Complexity per process, without refactorisation: 2 N^2 k / (P Q)
    ///   flops (solves) + 2 N^2 C / (P Q) (certificate) + 2 N |F| C / (P Q)
    ///   + |F|^2 (k + C) + N M (d + 2C) / (P Q) (theta); memory N |F| / (P Q)
    ///   for W and |F|^2 for S's factor. Bytes sent: pdpotrs's and pdtrmm's
    ///   messages (see docs/distributed.md) and Allreduces of N C (twice),
    ///   (|F| + k) k and M C values.
    public mutating func forget(ids requested: [Int], refactorize: Bool = false) throws -> DistributedUnlearningResult {
        let positionOf = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
        let gone = Set(forgottenPositions)
        var seen = Set<Int>()
        var positions: [Int] = []
        for id in requested {
            guard seen.insert(id).inserted else { throw DistributedError.invalidArgument("id \(id) is repeated in the request") }
            guard let p = positionOf[id] else { throw DistributedError.invalidArgument("id \(id) is not a sample of this model") }
            guard !gone.contains(p) else { throw DistributedError.invalidArgument("id \(id) was already forgotten") }
            positions.append(p)
        }
        guard !positions.isEmpty else { throw DistributedError.invalidArgument("the request names no sample") }
        guard positions.count < sampleCount else {
            throw DistributedError.invalidArgument("the request would forget all \(sampleCount) samples; nothing would remain to train on")
        }
        if refactorize || forgottenPositions.count + positions.count > refactorLimit {
            try refit(dropping: positions)
        } else {
            try extend(with: positions)
        }
        let certificate = try certify()
        return DistributedUnlearningResult(forgottenIDs: requested, certificate: certificate,
                                           refactorized: forgottenPositions.isEmpty)
    }

    /// Refits on the retained samples minus `positions`: a new Gram matrix,
    /// factor and solve over them; W and S are dropped.
    mutating func refit(dropping positions: [Int]) throws {
        let drop = Set(forgottenPositions).union(positions)
        let keep = (0..<rows.count).filter { !drop.contains($0) }
        let newRows = keep.map { rows[$0] }
        let newTargets = try targets.selectingRows(keep)
        let fit = try DistributedModel.fit(features: features, rows: newRows, targets: newTargets, theta0: initialParameters,
                                           ridge: ridge, grid: grid, blockSize: blockSize)
        self = DistributedModel(grid: grid, blockSize: blockSize, ridge: ridge, features: features, rows: newRows,
                                ids: keep.map { ids[$0] }, targets: newTargets, initialParameters: initialParameters, fit: fit,
                                factorizations: factorizations + 1, refactorFraction: refactorFraction)
    }

    /// Steps 1-4 of `forget` without refactorisation.
    mutating func extend(with positions: [Int]) throws {
        let n = rows.count, k = positions.count, f = forgottenPositions.count, c = outputCount
        // 1. W' = K^{-1} E_{F'} in the new columns f ..< f + k of W.
        var w = try BlockCyclicMatrix(rows: n, columns: f + k, blockSize: blockSize, grid: grid)
        if let old = deletions?.inverseColumns {
            let ld = w.leadingDimension
            for cl in 0..<w.localColumns {
                let j = w.globalColumn(cl)
                guard j < f, let oc = old.localColumn(j) else { continue }
                for r in 0..<w.localRows { w.local[r + cl * ld] = old.local[r + oc * old.leadingDimension] }
            }
        }
        // Solved in matrices of their own, `rightHandSideChunk` columns at a
        // time (see there), then copied into place.
        let width = factor.rightHandSideChunk
        for lo in stride(from: 0, to: k, by: width) {
            let chunk = Array(positions[lo..<min(k, lo + width)])
            var fresh = try BlockCyclicMatrix(rows: n, columns: chunk.count, blockSize: blockSize, grid: grid)
            for (i, p) in chunk.enumerated() {
                if let r = fresh.localRow(p), let cl = fresh.localColumn(i) { fresh.local[r + cl * fresh.leadingDimension] = 1 }
            }
            try ScaLAPACK.potrs(factor, &fresh, columns: 0..<chunk.count)
            ScaLAPACK.copy(fresh, into: &w, firstColumn: f + lo)
        }
        // 2. G[F ∪ F', F'] on every process, then the factor of S grows.
        let all = forgottenPositions + positions
        var entries = [Double](repeating: 0, count: (f + k) * k)
        for (a, p) in all.enumerated() {
            guard let r = w.localRow(p) else { continue }
            for b in 0..<k { if let cl = w.localColumn(f + b) { entries[a + b * (f + k)] = w.local[r + cl * w.leadingDimension] } }
        }
        try grid.communicator.sum(&entries)
        let g = try Matrix(rows: f + k, columns: k, elements: entries)
        let gNew = try g.selectingRows(Array(f..<(f + k)))          // G[F', F']
        var lower = Matrix(rows: f + k, columns: f + k)
        var schur = gNew
        if let s = deletions?.schurFactor {
            let x = try s.solveTriangular(g.selectingRows(Array(0..<f)))   // L_S^{-1} G[F, F']
            schur = try gNew - Matrix.product(x, x, transposingFirst: true)
            let ls = s.lowerFactor
            for j in 0..<f { for i in j..<f { lower[i, j] = ls[i, j] } }
            for j in 0..<f { for i in 0..<k { lower[f + i, j] = x[j, i] } }
        }
        let l22: Matrix
        do { l22 = try Cholesky(factoring: schur).lowerFactor } catch {
            throw DistributedError.invalidArgument("G[F, F] is not positive definite to working precision (\(error)); refactorise instead (--refactor)")
        }
        for j in 0..<k { for i in j..<k { lower[f + i, f + j] = l22[i, j] } }
        let s = try Cholesky(lowerFactor: lower)
        // 3. A = A0 - W S^{-1} A0[F], zero on F.
        let z = try s.solve(originalDual.selectingRows(all))                  // (f + k) x C
        var wz = [Double](repeating: 0, count: n * c)
        if w.localRows > 0, w.localColumns > 0 {
            let zl = try z.selectingRows(w.globalColumns)                    // local columns' rows of z
            var part = Matrix(rows: w.localRows, columns: c)
            try w.local.withUnsafeBufferPointer { pw in
                try zl.withUnsafeBufferPointer { pz in
                    try part.withUnsafeMutableBufferPointer { pp in
                        try dgemm(transA: false, transB: false, m: w.localRows, n: c, k: w.localColumns, alpha: 1,
                                  a: pw.baseAddress, lda: w.leadingDimension, b: pz.baseAddress, ldb: w.localColumns,
                                  beta: 0, c: pp.baseAddress, ldc: w.localRows)
                    }
                }
            }
            let gr = w.globalRows
            for j in 0..<c { for r in 0..<w.localRows { wz[gr[r] + j * n] = part[r, j] } }
        }
        try grid.communicator.sum(&wz)
        var a = try originalDual - Matrix(rows: n, columns: c, elements: wz)
        var residual = 0.0, size = 0.0
        for j in 0..<c {
            for p in all { residual += a[p, j] * a[p, j]; a[p, j] = 0 }
            for i in 0..<n { size += a[i, j] * a[i, j] }
        }
        lastForgottenResidual = size > 0 ? (residual / size).squareRoot() : residual.squareRoot()
        // 4. theta += Phi^T (A - A_before).
        let delta = try a - dual
        parameters = try parameters + DistributedModel.applyTransposed(features: features, rows: rows, dual: delta,
                                                                       communicator: grid.communicator)
        dual = a
        deletions = Deletions(positions: all, inverseColumns: w, schurFactor: s)
    }

    /// The certificate of the current state: the stationarity residual
    /// ||(L L^T A)_R - T_R||_F / ||T_R||_F from the distributed factor, the
    /// forgotten coefficients' residual, cond(K) and the bound they are held to.
    /// - Complexity per process: 2 N^2 C / (P Q) flops (two pdtrmm); N C values reduced.
    public func certify() throws -> Certificate {
        let n = rows.count, c = outputCount
        let ka = try factor.gramTimesReplicated(dual)
        var num = 0.0, den = 0.0
        for p in retainedPositions {
            for j in 0..<c {
                let r = ka[p, j] - offsets[p, j]
                num += r * r
                den += offsets[p, j] * offsets[p, j]
            }
        }
        let residual = den > 0 ? (num / den).squareRoot() : num.squareRoot()
        let bound = MinNormModel.residualBound(order: n, condition: conditionEstimate)
        return Certificate(isExact: true, stationarityResidual: residual,
                           forgottenCoefficientResidual: forgottenPositions.isEmpty ? nil : lastForgottenResidual,
                           conditionEstimate: conditionEstimate, order: n, residualBound: bound)
    }
}

import Testing
@testable import LinearAlgebra
import TestSupport

@Suite("Cholesky: factor, solve, condition, deletion, downdate")
struct CholeskyTests {
    @Test("solve leaves a residual at rounding level, and L L^T reproduces the matrix")
    func solveAndReconstruct() throws {
        let a = Fixtures.spd(40, seed: 11)
        let b = Fixtures.gaussian(40, 3, seed: 12)
        let c = try Cholesky(factoring: a)
        let x = try c.solve(b)
        let residual = try Fixtures.naiveProduct(a, x) - b
        #expect(residual.frobeniusNorm / (a.frobeniusNorm * x.frobeniusNorm) < 1e-15)
        #expect(try Matrix.relativeDistance(c.reconstructed(), a) < 1e-14)
        #expect(try Matrix.relativeDistance(c.multiply(x), b) < 1e-13)
        for i in 0..<40 { for j in (i + 1)..<40 { #expect(c.lowerFactor[i, j] == 0) } }
        // Triangular solves compose to the full solve.
        let y = try c.solveTriangular(c.solveTriangular(b), transposed: true)
        #expect(try Matrix.relativeDistance(y, x) < 1e-13)
    }

    @Test("solve through the blocked triangular solves leaves a residual at rounding level and agrees with dpotrs", arguments: [1, 10, 16])
    func solveBlocked(columns: Int) throws {
        // 600 rows: blocks of 256 plus a partial one; the residual by a triple loop.
        let n = 600
        let a = Fixtures.spd(n, seed: 31, shift: 0.2)
        let b = Fixtures.gaussian(n, columns, seed: 32)
        let c = try Cholesky(factoring: a)
        let x = try c.solve(b, blocked: true)
        let residual = try Fixtures.naiveProduct(a, x) - b
        let cond = try c.conditionEstimate()
        #expect(residual.frobeniusNorm / (a.frobeniusNorm * x.frobeniusNorm) < 1e-15 * Double(n).squareRoot())
        #expect(try Matrix.relativeDistance(x, c.solve(b, blocked: false)) < 1e-15 * cond * Double(n).squareRoot())
    }

    @Test("the bare DPOTRF of the benchmark's floor: its lower triangle times its transpose is the matrix; the upper triangle is left; a non-SPD or non-square matrix throws")
    func bareFactorisation() throws {
        let n = 37
        let a = Fixtures.spd(n, seed: 21)
        var l = a
        try l.factorLowerInPlace()
        // Oracle: the triple loop sum_p L_ip L_jp over the lower triangle read back.
        var worst = 0.0
        for i in 0..<n {
            for j in 0...i {
                var s = 0.0
                for p in 0...j { s += l[i, p] * l[j, p] }
                worst = max(worst, abs(s - a[i, j]) / (a[i, i] * a[j, j]).squareRoot())
            }
            #expect(l[i, i] > 0)
            for j in (i + 1)..<n { #expect(l[i, j] == a[i, j]) }   // strict upper triangle untouched
        }
        #expect(worst < 1e-13)
        var indefinite = a
        indefinite[5, 5] = -1
        #expect(throws: LinearAlgebraError.notPositiveDefinite(routine: "dpotrf", order: 6)) { try indefinite.factorLowerInPlace() }
        var wide = Matrix(rows: 2, columns: 3)
        #expect(throws: LinearAlgebraError.self) { try wide.factorLowerInPlace() }
        var empty = Matrix(rows: 0, columns: 0)
        try empty.factorLowerInPlace()
    }

    /// Diagonally dominant, hence SPD: K_ij = 1 / (1 + |i - j|) + n [i = j];
    /// cond(K) <= (n + 2 ln n + 1) / (n - 2 ln n - 1) < 1.1 for n >= 40, so
    /// products and solves differ from an oracle by the rounding of n-term sums.
    static func dominant(_ n: Int) -> Matrix {
        Matrix(rows: n, columns: n) { i, j in 1 / Double(1 + abs(i - j)) + (i == j ? Double(n) : 0) }
    }

    @Test("the panel product L (L^T X) equals K X by a triple loop at every instruction-set level and thread count",
          arguments: [(37, 1), (300, 10), (2100, 3), (2048, 1)])
    func panelMultiply(n: Int, c: Int) throws {
        let k = Self.dominant(n)
        let x = Fixtures.gaussian(n, c, seed: 23)
        let chol = try Cholesky(factoring: k)
        let expected = Fixtures.naiveProduct(k, x)
        for level in KernelLevel.allCases where level <= .best {
            for threads in [1, 2, 3] {
                let got = try chol.multiply(x, level: level, threads: threads)
                #expect(try Matrix.relativeDistance(got, expected) < 1e-15 * Double(n), "level \(level.name), \(threads) threads")
            }
        }
        #expect(try Matrix.relativeDistance(chol.multiply(x), expected) < 1e-15 * Double(n))
    }

    @Test("after deletions (order below the leading dimension) the product still equals the reduced K times X")
    func multiplyAfterDeletion() throws {
        let n = 300
        let k = Self.dominant(n)
        var chol = try Cholesky(factoring: k)
        let gone = [3, 150, 299, 17]
        try chol.delete(indices: gone)
        let keep = (0..<n).filter { !gone.contains($0) }
        let reduced = Fixtures.principal(k, keeping: keep)
        let x = Fixtures.gaussian(keep.count, 10, seed: 5)
        #expect(try Matrix.relativeDistance(chol.multiply(x), Fixtures.naiveProduct(reduced, x)) < 1e-15 * Double(n))
    }

    @Test("deleting one index with grouped rotations (left block copied on 1-3 cores), at every level, equals refactorising",
          arguments: [0, 1, 45, 70, 198, 199])
    func groupedGivensDeletion(j: Int) throws {
        let n = 200
        let a = Fixtures.spd(n, seed: 31, shift: 0.2)
        let original = try Cholesky(factoring: a)
        let fresh = try Cholesky(factoring: Fixtures.principal(a, keeping: (0..<n).filter { $0 != j }))
        let cond = try fresh.conditionEstimate()
        for level in KernelLevel.allCases where level <= .best {
            for threads in [1, 2, 3] {
                var c = original
                try c.deleteOne(j, level: level, threads: threads, leftEntriesPerCore: 16)
                #expect(c.order == n - 1)
                #expect(try Matrix.relativeDistance(c.lowerFactor, fresh.lowerFactor) < 1e-15 * cond * Double(n),
                        "j = \(j), level \(level.name), \(threads) threads")
                // Outside the reduced order and above the diagonal: zeros.
                c.storage.withUnsafeBufferPointer { p in
                    for col in 0..<n { for row in 0..<n where row < col || row >= n - 1 || col >= n - 1 {
                        #expect(p[row + col * n] == 0, "entry (\(row), \(col))")
                    } }
                }
            }
        }
    }

    @Test("blocked triangular solves on every core equal dtrsm, forward from a row and backward, at every level",
          arguments: [1, 4, 11])
    func blockedSolves(nrhs: Int) throws {
        let n = 2100, from = 613
        let chol = try Cholesky(factoring: Self.dominant(n))
        let b = Fixtures.gaussian(n, nrhs, seed: 77)
        // Oracle: OpenBLAS dtrsm on the trailing block, and on the whole factor.
        let l = chol.lowerFactor
        let trailing = try Cholesky(lowerFactor: Fixtures.principal(l, keeping: Array(from..<n)))
        let forward = try trailing.solveTriangular(b.selectingRows(Array(from..<n)))
        let backward = try chol.solveTriangular(b, transposed: true)
        for level in KernelLevel.allCases where level <= .best {
            for threads in [1, 2, 3] {
                var x = b
                try chol.storage.withUnsafeBufferPointer { pl in
                    try x.withUnsafeMutableBufferPointer { px in
                        try BlockedTriangularSolve.run(n: n, l: pl.baseAddress!, ld: n, from: from, x: px.baseAddress!,
                                                       ldx: n, nrhs: nrhs, transposed: false, level: level, threads: threads)
                    }
                }
                #expect(try Matrix.relativeDistance(x.selectingRows(Array(from..<n)), forward) < 1e-15 * Double(n))
                #expect(try x.selectingRows(Array(0..<from)) == b.selectingRows(Array(0..<from)), "rows above the block are untouched")
                var y = b
                try chol.storage.withUnsafeBufferPointer { pl in
                    try y.withUnsafeMutableBufferPointer { py in
                        try BlockedTriangularSolve.run(n: n, l: pl.baseAddress!, ld: n, from: 0, x: py.baseAddress!,
                                                       ldx: n, nrhs: nrhs, transposed: true, level: level, threads: threads)
                    }
                }
                #expect(try Matrix.relativeDistance(y, backward) < 1e-15 * Double(n), "level \(level.name), \(threads) threads")
            }
        }
    }

    @Test("inverse columns at a large order (blocked solves) equal dpotrs with the identity's columns",
          arguments: [[0], [2099], [700, 1500, 3]])
    func inverseColumnsLarge(indices: [Int]) throws {
        let n = 2100
        let chol = try Cholesky(factoring: Self.dominant(n))
        let e = Matrix(rows: n, columns: indices.count) { i, j in i == indices[j] ? 1 : 0 }
        #expect(try Matrix.relativeDistance(chol.inverseColumns(indices), chol.solve(e)) < 1e-15 * Double(n))
    }

    @Test("forward columns L^{-1} E_F (one pass of the panel kernels, or the staircase of dtrsm blocks and DGEMM updates) equal dtrsm on the whole identity",
          arguments: [(300, 45), (300, 90), (2100, 70), (2100, 9), (80, 1), (2100, 150)])
    func forwardColumns(n: Int, k: Int) throws {
        let chol = try Cholesky(factoring: Self.dominant(n))
        // Unsorted, spread positions (n and 53 coprime in every case).
        let indices = (0..<k).map { ($0 * 53 + 11) % n }
        let e = Matrix(rows: n, columns: k) { i, j in i == indices[j] ? 1 : 0 }
        let full = try chol.solveTriangular(e)  // dtrsm over every row
        let y = try chol.forwardColumns(indices)
        #expect(try Matrix.relativeDistance(y, full) < 1e-15 * Double(n))
        // Y^T Y is the block K^{-1}[F, F] of dpotrs with the same columns.
        let gFF = try chol.solve(e).selectingRows(indices)
        #expect(try Matrix.relativeDistance(Matrix.product(y, y, transposingFirst: true), gFF) < 1e-14 * Double(n))
        let x = Fixtures.gaussian(n, 3, seed: 5)
        let lx = try Matrix.product(chol.lowerFactor, x, transposingFirst: true)
        #expect(try Matrix.relativeDistance(chol.backwardSolve(lx), x) < 1e-15 * Double(n))
    }

    @Test("forward columns far apart, each solved only from the block where it starts, equal dtrsm on the whole identity, by every route",
          arguments: [(2100, [2099, 5, 700, 1500, 261, 260, 517, 4]), (2100, [1800, 1801, 1802]), (2100, [0, 2099]),
                      (300, [299, 5, 69, 68, 133, 132, 0, 197]), (300, [250, 251]), (300, [298, 3, 299]), (300, [17]),
                      (600, [599, 0, 255, 256, 257, 511, 512, 300])])
    func forwardColumnsSpread(n: Int, indices: [Int]) throws {
        // Both orders through the panel kernels (blocks of 256 rows, column
        // starts; at n = 600 on and beside their bounds) and the staircase
        // (blocks of 64 rows from the first position: 5 or 0, 250, 3), and a
        // single column through dtrsv.
        let chol = try Cholesky(factoring: Self.dominant(n))
        let e = Matrix(rows: n, columns: indices.count) { i, j in i == indices[j] ? 1 : 0 }
        let full = try chol.solveTriangular(e)
        for route in Cholesky.ForwardRoute.allCases where route != .singleColumn || indices.count == 1 {
            #expect(try Matrix.relativeDistance(chol.forwardColumns(indices, route: route), full) < 1e-15 * Double(n), "\(route)")
        }
        #expect(try Matrix.relativeDistance(chol.forwardColumns(indices), full) < 1e-15 * Double(n))
    }

    @Test("an indefinite matrix is refused by dpotrf, naming the leading minor")
    func notPositiveDefinite() throws {
        var a = Fixtures.spd(5, seed: 13)
        a[3, 3] = -100
        #expect(throws: LinearAlgebraError.notPositiveDefinite(routine: "dpotrf", order: 4)) { try Cholesky(factoring: a) }
        let message = errorMessage { _ = try Cholesky(factoring: a) }
        #expect(message.contains("dpotrf") && message.contains("order 4"))
        #expect(errorMessage { _ = try Cholesky(factoring: Matrix(rows: 2, columns: 3)) }.contains("2 x 3 is not square"))
        var n = Fixtures.spd(3, seed: 14)
        n[1, 0] = .infinity
        #expect(errorMessage { _ = try Cholesky(factoring: n) }.contains("row 1, column 0"))
        let c = try Cholesky(factoring: Fixtures.spd(3, seed: 1))
        #expect(errorMessage { _ = try c.solve(Matrix(rows: 4, columns: 1)) }.contains("4 x 1 for order 3"))
    }

    @Test("condition estimate brackets the exact 1-norm condition number")
    func conditionEstimate() throws {
        // Hilbert matrix: badly conditioned, exact value from Gauss-Jordan.
        for n in [4, 6, 8] {
            let h = Fixtures.hilbert(n)
            let exact = Fixtures.exactOneNormCondition(h)
            let estimate = try Cholesky(factoring: h).conditionEstimate()
            #expect(estimate <= exact * 1.0001 && estimate >= exact / 3, "n = \(n): estimate \(estimate), exact \(exact)")
        }
        let d = Matrix(rows: 4, columns: 4) { i, j in i == j ? [1.0, 10, 1e-3, 5][i] : 0 }
        let e = try Cholesky(factoring: d).conditionEstimate()
        #expect(abs(e - 1e4) / 1e4 < 1e-12)
        // After a deletion the norm is estimated too (dlacn2).
        let a = Fixtures.spd(30, seed: 15, shift: 0.1)
        var c = try Cholesky(factoring: a)
        try c.delete(indices: [3, 17])
        let reduced = Fixtures.principal(a, keeping: (0..<30).filter { $0 != 3 && $0 != 17 })
        let exactReduced = Fixtures.exactOneNormCondition(reduced)
        let est = try c.conditionEstimate()
        #expect(est <= exactReduced * 1.0001 && est >= exactReduced / 3)
    }

    @Test("the condition estimate through the blocked solves brackets the exact condition number and agrees with dpocon")
    func conditionEstimateBlockedSolves() throws {
        // Both routes run the same estimator (dlacn2 on x -> L^{-T} L^{-1} x),
        // so they agree to rounding; the exact value comes from Gauss-Jordan.
        for (n, matrix) in [(8, Fixtures.hilbert(8)), (90, Fixtures.spd(90, seed: 21, shift: 1e-3)),
                            (160, Fixtures.spd(160, seed: 22, shift: 0.5))] {
            let exact = Fixtures.exactOneNormCondition(matrix)
            var c = try Cholesky(factoring: matrix)
            let blocked = try c.conditionEstimate(blockedSolves: true)
            let lapack = try c.conditionEstimate(blockedSolves: false)
            #expect(blocked <= exact * 1.0001 && blocked >= exact / 3, "n = \(n): estimate \(blocked), exact \(exact)")
            // The solves differ in their last bits, by up to ~cond * eps relative.
            let tolerance = 1e-9 + 50 * exact * Double.ulpOfOne
            #expect(abs(blocked - lapack) <= tolerance * lapack, "n = \(n): blocked \(blocked), dpocon \(lapack)")
            // After a deletion ||K||_1 is estimated as well.
            try c.delete(indices: [1, n / 2])
            let reduced = Fixtures.principal(matrix, keeping: (0..<n).filter { $0 != 1 && $0 != n / 2 })
            let exactReduced = Fixtures.exactOneNormCondition(reduced)
            let after = try c.conditionEstimate(blockedSolves: true)
            #expect(after <= exactReduced * 1.0001 && after >= exactReduced / 3, "n = \(n) after deletion: \(after), exact \(exactReduced)")
            #expect(abs(after - (try c.conditionEstimate(blockedSolves: false))) <= (1e-9 + 50 * exactReduced * Double.ulpOfOne) * after)
        }
    }

    @Test("deleting rows/columns (Givens, blocked LQ or rank-k update) equals refactorising the reduced matrix",
          arguments: [[0], [39], [17], [0, 1, 2], [5, 38, 20, 11], Array(stride(from: 0, to: 40, by: 2)),
                      Array(0..<39), Array(1..<40)],
          [Cholesky.DeletionMethod.givens, .blockedLQ, .rankUpdate, .automatic])
    func deletionMatchesRefactorisation(indices: [Int], method: Cholesky.DeletionMethod) throws {
        let a = Fixtures.spd(40, seed: 16, shift: 0.5)
        var c = try Cholesky(factoring: a)
        try c.delete(indices: indices, method: method)
        let keep = (0..<40).filter { !indices.contains($0) }
        let fresh = try Cholesky(factoring: Fixtures.principal(a, keeping: keep))
        #expect(c.order == keep.count)
        // The factor with positive diagonal is unique: compare L itself.
        let cond = try fresh.conditionEstimate()
        #expect(try Matrix.relativeDistance(c.lowerFactor, fresh.lowerFactor) < 1e-15 * cond * 40)
        #expect(c.diagonal.allSatisfy { $0 > 0 })
        // And solving with it is the same as solving with the reduced matrix.
        let b = Fixtures.gaussian(keep.count, 2, seed: 17)
        #expect(try Matrix.relativeDistance(c.solve(b), fresh.solve(b)) < 1e-15 * cond * 40)
    }

    @Test("the rank-k Givens update over several row tiles, at every instruction-set level and on 1-3 threads, equals refactorising",
          arguments: [2, 7, 19, 32, 100])
    func rankUpdateDeletion(k: Int) throws {
        // n = 603: three tiles of 256 rows (the last one 91 rows: vectors of
        // 32 and 8 and a remainder of 3), columns one and two at a time;
        // indices spread from near the start, so the tiles below wait on
        // rotations the tiles above publish.
        let n = 603
        // B B^T + 0.2 I by BLAS (the triple loop of Fixtures.spd takes ~30 s
        // at this order in a debug build); the oracle is the refactorisation.
        let g = Fixtures.gaussian(n, n, seed: 21)
        var a = try Matrix.product(g, g.transposed)
        for i in 0..<n { a[i, i] += 0.2 }
        let indices = (0..<k).map { 3 + ($0 * 137 + $0 * $0 * 11) % (n - 3) }
        let unique = Array(Set(indices)).sorted()
        let keep = (0..<n).filter { !unique.contains($0) }
        let fresh = try Cholesky(factoring: Fixtures.principal(a, keeping: keep))
        let cond = try fresh.conditionEstimate()
        for level in KernelLevel.allCases where level <= .best {
            for threads in [1, 2, 3] {
                var c = try Cholesky(factoring: a)
                try c.deleteByRankUpdate(ascending: unique, level: level, threads: threads)
                #expect(c.order == keep.count)
                #expect(try Matrix.relativeDistance(c.lowerFactor, fresh.lowerFactor) < 1e-15 * cond * Double(n),
                        "level \(level.name), \(threads) threads")
                #expect(c.diagonal.allSatisfy { $0 > 0 })
            }
        }
    }

    @Test("the rank-k update of a factor scaled by 2^530 or 2^-530 (rotations through hypot's scaling, as sqrt(x^2 + y^2) would overflow or lose its digits below DBL_MIN) is the refactorised factor scaled alike",
          arguments: [0x1p530, 0x1p-530])
    func rankUpdateDeletionExtremeScale(scale: Double) throws {
        let n = 300
        let g = Fixtures.gaussian(n, n, seed: 29)
        var a = try Matrix.product(g, g.transposed)
        for i in 0..<n { a[i, i] += 0.2 }
        let deleted = Array(Set((0..<20).map { 1 + ($0 * 131 + $0 * $0 * 5) % (n - 1) })).sorted()
        let keep = (0..<n).filter { !deleted.contains($0) }
        let fresh = try Cholesky(factoring: Fixtures.principal(a, keeping: keep))
        let cond = try fresh.conditionEstimate()
        var expected = fresh.lowerFactor
        expected.scale(by: scale)   // a power of 2: exact
        var l = try Cholesky(factoring: a).lowerFactor
        l.scale(by: scale)
        for level in KernelLevel.allCases where level <= .best {
            for threads in [1, 2] {
                var c = try Cholesky(lowerFactor: l)
                try c.deleteByRankUpdate(ascending: deleted, level: level, threads: threads)
                #expect(try Matrix.relativeDistance(c.lowerFactor, expected) < 1e-15 * cond * Double(n),
                        "level \(level.name), \(threads) threads")
            }
        }
    }

    @Test("the trailing columns compacted on 1-4 threads (gathered inside the rank-k update's tiles, or by the rows split by area before the blocked LQ) give the refactorised factor",
          arguments: [(3, false), (40, false), (300, false), (300, true)])
    func compactionThreads(k: Int, contiguous: Bool) throws {
        // n = 1100: from position 2, 1098 - k trailing columns, enough rows
        // for 4 threads and 5 tiles (256 rows each); the deleted rows cut
        // runs in every range. k = 300 moves rows by more than a tile, so a
        // tile's rows come from the tiles below it (contiguous: all of them
        // from 302 on, in one run).
        let n = 1100
        let g = Fixtures.gaussian(n, n, seed: 23)
        var a = try Matrix.product(g, g.transposed)
        for i in 0..<n { a[i, i] += 0.2 }
        let deleted = contiguous ? Array(2..<(2 + k))
            : Array(Set((0..<k).map { 2 + ($0 * 409 + $0 * $0 * 7) % (n - 2) })).sorted()
        let keep = (0..<n).filter { !deleted.contains($0) }
        let fresh = try Cholesky(factoring: Fixtures.principal(a, keeping: keep))
        let cond = try fresh.conditionEstimate()
        for blocked in [false, true] {
            for threads in [1, 2, 3, 4] {
                var c = try Cholesky(factoring: a)
                if blocked {
                    try c.deleteBlocked(ascending: deleted, threads: threads)
                } else {
                    try c.deleteByRankUpdate(ascending: deleted, level: nil, threads: threads)
                }
                let label = "\(blocked ? "blocked LQ" : "rank update"), \(threads) threads"
                #expect(try Matrix.relativeDistance(c.lowerFactor, fresh.lowerFactor) < 1e-15 * cond * Double(n), "\(label)")
                // Outside the new factor's lower triangle the storage is zero
                // (above the diagonal, and every row and column from the new
                // order on).
                let zeroOutside = c.storage.withUnsafeBufferPointer { p in
                    (0..<n).allSatisfy { col in
                        (0..<n).allSatisfy { row in (row >= col && row < c.order && col < c.order) || p[row + col * c.leadingDimension] == 0 }
                    }
                }
                #expect(zeroOutside, "\(label)")
            }
        }
    }

    @Test("deletions one at a time, in any order, equal one deletion of the set")
    func sequentialDeletion() throws {
        let a = Fixtures.spd(25, seed: 18)
        var one = try Cholesky(factoring: a)
        try one.delete(indices: [20, 3, 9])
        var seq = try Cholesky(factoring: a)
        try seq.delete(indices: [3])    // old 20 -> 19, old 9 -> 8
        try seq.delete(indices: [19])
        try seq.delete(indices: [8])
        #expect(try Matrix.relativeDistance(seq.lowerFactor, one.lowerFactor) < 1e-13)
    }

    @Test("blocked deletion spanning several LQ panels equals refactorising", arguments: [1, 7, 90])
    func blockedDeletionLarge(k: Int) throws {
        // n = 300 > 64 (the panel height), indices spread over the whole range.
        let n = 300
        let a = Fixtures.spd(n, seed: 20, shift: 0.2)
        let indices = (0..<k).map { ($0 * 37 + 5 * k) % n }  // distinct: gcd(37, 300) = 1
        var c = try Cholesky(factoring: a)
        try c.delete(indices: indices, method: .blockedLQ)
        let keep = (0..<n).filter { !indices.contains($0) }
        let fresh = try Cholesky(factoring: Fixtures.principal(a, keeping: keep))
        let cond = try fresh.conditionEstimate()
        #expect(try Matrix.relativeDistance(c.lowerFactor, fresh.lowerFactor) < 1e-15 * cond * Double(n))
        // The freed storage is zero again, so a later deletion sees a clean factor.
        try c.delete(indices: [0, c.order - 1], method: .givens)
        let fresh2 = try Cholesky(factoring: Fixtures.principal(a, keeping: Array(keep.dropFirst().dropLast())))
        #expect(try Matrix.relativeDistance(c.lowerFactor, fresh2.lowerFactor) < 1e-15 * cond * Double(n))
    }

    @Test("columns of the inverse from the trailing forward solve equal solving with the identity's columns",
          arguments: [[0], [29], [13, 4], [7, 28, 15]])
    func inverseColumns(indices: [Int]) throws {
        let a = Fixtures.spd(30, seed: 21, shift: 0.3)
        let c = try Cholesky(factoring: a)
        let e = Matrix(rows: 30, columns: indices.count) { i, j in i == indices[j] ? 1 : 0 }
        let viaSolve = try c.solve(e)  // dpotrs, the full two-pass route
        let cond = try c.conditionEstimate()
        #expect(try Matrix.relativeDistance(c.inverseColumns(indices), viaSolve) < 1e-15 * cond * 30)
        // And K times them is the identity's columns.
        #expect(try Matrix.relativeDistance(Matrix.product(a, c.inverseColumns(indices)), e) < 1e-15 * cond * 30)
        #expect(errorMessage { _ = try c.inverseColumns([30]) }.contains("index 30 out of 0..<30"))
    }

    @Test("bad deletion indices are refused and leave the factor unchanged")
    func deletionErrors() throws {
        var c = try Cholesky(factoring: Fixtures.spd(5, seed: 19))
        let before = c.lowerFactor
        #expect(errorMessage { try c.delete(indices: [1, 1]) }.contains("index 1 is repeated"))
        #expect(errorMessage { try c.delete(indices: [5]) }.contains("index 5 out of 0..<5"))
        #expect(c.lowerFactor == before)
    }

    @Test("rank-k downdate equals the factor of K - V^T V")
    func downdate() throws {
        let b = Fixtures.gaussian(60, 12, seed: 20)
        let v = Fixtures.gaussian(4, 12, seed: 21)
        var k = Fixtures.naiveProduct(b.transposed, b)
        let kReduced = k
        k = try k + Fixtures.naiveProduct(v.transposed, v)
        var c = try Cholesky(factoring: k)
        try c.downdate(removing: v)
        let fresh = try Cholesky(factoring: kReduced)
        let cond = try fresh.conditionEstimate()
        #expect(try Matrix.relativeDistance(c.lowerFactor, fresh.lowerFactor) < 1e-15 * cond * 12 * 10)
    }

    @Test("a downdate that loses definiteness throws and changes nothing")
    func downdateFailure() throws {
        var c = try Cholesky(factoring: Matrix.identity(3))
        let before = c.lowerFactor
        let v = try Matrix(rowMajor: [[0, 1, 0]])
        #expect(throws: LinearAlgebraError.notPositiveDefinite(routine: "Cholesky.downdate", order: 2)) { try c.downdate(removing: v) }
        #expect(c.lowerFactor == before)
        #expect(errorMessage { try c.downdate(removing: Matrix(rows: 1, columns: 4)) }.contains("for order 3"))
    }
}

@Suite("Minimum-norm least squares (dgelsd)")
struct LeastSquaresTests {
    @Test("full row rank: equals A^T (A A^T)^{-1} B")
    func underdetermined() throws {
        let a = Fixtures.gaussian(6, 15, seed: 30), b = Fixtures.gaussian(6, 2, seed: 31)
        let x = try Matrix.minimumNormSolution(a, b)
        let gram = try Cholesky(factoring: Fixtures.naiveProduct(a, a.transposed))
        let reference = Fixtures.naiveProduct(a.transposed, try gram.solve(b))
        #expect(x.rank == 6)
        #expect(try Matrix.relativeDistance(x.solution, reference) < 1e-12)
    }

    @Test("full column rank: equals (A^T A)^{-1} A^T B")
    func overdetermined() throws {
        let a = Fixtures.gaussian(20, 5, seed: 32), b = Fixtures.gaussian(20, 3, seed: 33)
        let x = try Matrix.minimumNormSolution(a, b)
        let normal = try Cholesky(factoring: Fixtures.naiveProduct(a.transposed, a))
        let reference = try normal.solve(Fixtures.naiveProduct(a.transposed, b))
        #expect(x.rank == 5)
        #expect(try Matrix.relativeDistance(x.solution, reference) < 1e-12)
    }

    @Test("rank deficient: the minimum-norm solution of a known case")
    func rankDeficient() throws {
        // [1 1; 2 2] x = [2; 4]: every x1 + x2 = 2 solves it; the least norm is (1, 1).
        let a = try Matrix(rowMajor: [[1, 1], [2, 2]]), b = try Matrix(rowMajor: [[2], [4]])
        let x = try Matrix.minimumNormSolution(a, b)
        #expect(x.rank == 1)
        #expect(abs(x.solution[0, 0] - 1) < 1e-14 && abs(x.solution[1, 0] - 1) < 1e-14)
        #expect(errorMessage { _ = try Matrix.minimumNormSolution(a, Matrix(rows: 3, columns: 1)) }.contains("B is 3 x 1"))
    }
}

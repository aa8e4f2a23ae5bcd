import Testing
@testable import LinearAlgebra
import TestSupport

@Suite("Matrix and BLAS products")
struct MatrixTests {
    @Test("dgemm with every transpose combination matches a triple loop")
    func productMatchesNaive() throws {
        let a = Fixtures.gaussian(7, 5, seed: 1), b = Fixtures.gaussian(5, 9, seed: 2)
        let reference = Fixtures.naiveProduct(a, b)
        #expect(try Matrix.relativeDistance(Matrix.product(a, b), reference) < 1e-14)
        #expect(try Matrix.relativeDistance(Matrix.product(a.transposed, b, transposingFirst: true), reference) < 1e-14)
        #expect(try Matrix.relativeDistance(Matrix.product(a, b.transposed, transposingSecond: true), reference) < 1e-14)
        #expect(try Matrix.relativeDistance(Matrix.product(a.transposed, b.transposed, transposingFirst: true, transposingSecond: true), reference) < 1e-14)
        var c = Fixtures.gaussian(7, 9, seed: 3)
        let c0 = c
        try c.addProduct(a, b, alpha: 2, beta: -1)
        #expect(try Matrix.relativeDistance(c, 2 * reference - c0) < 1e-14)
    }

    @Test("a large constant matrix (filled on every core) holds its value in every entry, odd sizes included",
          arguments: [(700, 800), (1023, 517)])
    func largeFill(rows: Int, columns: Int) {
        // From 2^19 entries the fill is split over the cores.
        for value in [0.0, -2.5] {
            let a = Matrix(rows: rows, columns: columns, repeating: value)
            #expect(a.elements.count == rows * columns)
            #expect(a.elements.allSatisfy { $0 == value && $0.sign == value.sign })
        }
    }

    @Test("matrix-vector products (dgemv) match a triple loop, both orientations")
    func gemvMatchesNaive() throws {
        let a = Fixtures.gaussian(8, 6, seed: 7), x = Fixtures.gaussian(6, 1, seed: 8), z = Fixtures.gaussian(8, 1, seed: 9)
        #expect(try Matrix.relativeDistance(Matrix.product(a, x), Fixtures.naiveProduct(a, x)) < 1e-14)
        #expect(try Matrix.relativeDistance(Matrix.product(a, z, transposingFirst: true), Fixtures.naiveProduct(a.transposed, z)) < 1e-14)
        #expect(try Matrix.relativeDistance(Matrix.product(a, x.transposed, transposingSecond: true), Fixtures.naiveProduct(a, x)) < 1e-14)
    }

    @Test("A^T B for a large A through the panel kernel matches a triple loop at every level and core count",
          arguments: [1, 3, 8, 10, 11, 13, 16])
    func panelTransposedProduct(columns: Int) throws {
        // 301 rows (not a multiple of 8: the kernel's scalar tail), 1001 columns.
        let a = Fixtures.gaussian(301, 1001, seed: 41)
        let b = Fixtures.gaussian(301, columns, seed: 42)
        let reference = Fixtures.naiveProduct(a.transposed, b)
        #expect(a.rows * a.columns >= Matrix.panelMinimumEntries)
        #expect(try Matrix.relativeDistance(Matrix.product(a, b, transposingFirst: true), reference) < 1e-14)
        for level in KernelLevel.allCases where level <= .best {
            for threads in [1, 2, 3] {
                var c = Matrix(rows: 1001, columns: columns)
                Matrix.panelTransposedProduct(a, b, into: &c, level: level, threads: threads)
                #expect(try Matrix.relativeDistance(c, reference) < 1e-14, "level \(level.name), \(threads) threads")
            }
        }
    }

    @Test("A Y for a wide A through the panel kernel matches a triple loop at every level and core count",
          arguments: [1, 3, 4, 10, 16])
    func panelProduct(columns: Int) throws {
        // 613 rows: row blocks of 32 split over threads, a tail of 5 rows;
        // 301 columns of A (slices of 16 and a remainder).
        let a = Fixtures.gaussian(613, 301, seed: 43)
        let y = Fixtures.gaussian(301, columns, seed: 44)
        let reference = Fixtures.naiveProduct(a, y)
        for level in KernelLevel.allCases where level <= .best {
            for threads in [1, 2, 3] {
                let c = try Matrix.panelProduct(a, y, level: level, threads: threads)
                #expect(c.rows == 613 && c.columns == columns)
                #expect(try Matrix.relativeDistance(c, reference) < 1e-14, "level \(level.name), \(threads) threads")
            }
        }
        #expect(throws: LinearAlgebraError.self) { try Matrix.panelProduct(a, a) }
        #expect(try Matrix.panelProduct(Matrix(rows: 0, columns: 3), Matrix(rows: 3, columns: 2)).rows == 0)
    }

    @Test("the memory floor's read pass sums every entry once, at every level, whole vectors and tails alike",
          arguments: [0, 1, 7, 8, 31, 33, 1000, 2 * 65536 + 37])
    func readPassSums(count: Int) throws {
        // Small integers: every order of addition gives the exact sum, here in Int arithmetic.
        let x = (0..<count).map { Double($0 % 17 - 8) }
        let exact = (0..<count).reduce(0) { $0 + ($1 % 17 - 8) }
        for level in KernelLevel.allCases where level <= .best {
            let s = x.withUnsafeBufferPointer { p in MemoryPass.read(p.baseAddress ?? UnsafePointer(bitPattern: 8)!, count: count, level: level) }
            #expect(s == Double(exact), "level \(level.name): \(s) against \(exact)")
        }
    }

    @Test("the memory floor's in-place pass scales every entry once, at every level, whole vectors and tails alike",
          arguments: [0, 1, 7, 15, 16, 33, 1000, 2 * 65536 + 37])
    func updatePassScales(count: Int) throws {
        // Powers of two: every product is exact, so the oracle is exact too.
        for level in KernelLevel.allCases where level <= .best {
            var x = (0..<count).map { Double($0 % 17 - 8) }
            x.withUnsafeMutableBufferPointer { p in
                if let base = p.baseAddress { MemoryPass.update(base, count: count, factor: 0.25, level: level) }
            }
            let wrong = (0..<count).filter { x[$0] != Double($0 % 17 - 8) * 0.25 }
            #expect(wrong.isEmpty, "level \(level.name): \(wrong.count) entries of \(count) wrong, first \(wrong.first ?? -1)")
        }
    }

    @Test("dsyrk Gram accumulation equals A A^T and A^T A")
    func gramMatchesProduct() throws {
        let a = Fixtures.gaussian(6, 11, seed: 4)
        var k = Matrix(rows: 6, columns: 6)
        try k.addGram(of: a)
        k.symmetrizeFromLower()
        #expect(try Matrix.relativeDistance(k, Fixtures.naiveProduct(a, a.transposed)) < 1e-14)
        var h = Matrix(rows: 11, columns: 11)
        try h.addGram(of: a, transposing: true)
        h.symmetrizeFromLower()
        #expect(try Matrix.relativeDistance(h, Fixtures.naiveProduct(a.transposed, a)) < 1e-14)
    }

    /// For i >= j, the sum over p in `columns` of A[i, p] A[j, p] by a plain
    /// loop, and the sum of the terms' magnitudes (what the rounding error of
    /// any order is tied to). Raw pointers: the debug build's subscripts
    /// would make the larger cases take seconds.
    static func naiveGram(_ a: Matrix, columns: Range<Int>) -> (values: Matrix, magnitudes: Matrix) {
        let n = a.rows
        var values = Matrix(rows: n, columns: n), magnitudes = Matrix(rows: n, columns: n)
        a.elements.withUnsafeBufferPointer { pa in
            values.withUnsafeMutableBufferPointer { pv in
                magnitudes.withUnsafeMutableBufferPointer { pm in
                    for p in columns {
                        let col = pa.baseAddress! + p * n
                        for j in 0..<n {
                            let x = col[j]
                            for i in j..<n {
                                let term = col[i] * x
                                pv[i + j * n] += term
                                pm[i + j * n] += abs(term)
                            }
                        }
                    }
                }
            }
        }
        return (values, magnitudes)
    }

    @Test("A A^T through each Gram kernel against a plain loop: alpha, beta (0 ignores NaN), column ranges across panel bounds, 1-3 threads, with and without a workspace, upper triangle untouched",
          arguments: [(1, 1), (7, 3), (8, 385), (23, 9), (25, 770), (130, 400), (300, 50), (400, 800)])
    func gramKernels(n: Int, k: Int) throws {
        let a = Fixtures.gaussian(n, k + 5, seed: 40)
        let j = 3..<(k + 3) // an offset into the columns, as for a column block of a held Phi
        let start = Fixtures.gaussian(n, n, seed: 41)
        let (naive, magnitudes) = Self.naiveGram(a, columns: j)
        for kernel in GramKernel.allCases where kernel.isAvailable {
            for threads in [1, 2, 3] {
                // The kernel's packing buffers: its own, a workspace sized for
                // this call, or one too small (then it allocates its own).
                let workspaces: [GramWorkspace?] = BLASThreads.with(threads) {
                    [nil, GramWorkspace(order: n, blockWidth: k), GramWorkspace(order: 1, blockWidth: 1)]
                }
                for ((alpha, beta), workspace) in zip([(1.0, 0.0), (-2.0, 0.5), (0.75, 1.0)], workspaces) {
                    var c = start
                    for col in 0..<n {
                        for row in 0..<n where row < col { c[row, col] = 7.25 }          // upper: must stay
                        if beta == 0 { for row in col..<n { c[row, col] = .nan } }       // lower: must be ignored
                    }
                    try BLASThreads.with(threads) {
                        try c.addGram(of: a, columns: j, alpha: alpha, beta: beta, kernel: kernel, workspace: workspace)
                    }
                    var worst = 0.0, upperKept = true
                    for col in 0..<n {
                        for row in 0..<n {
                            if row < col { upperKept = upperKept && c[row, col] == 7.25; continue }
                            let (value, magnitude) = (naive[row, col], magnitudes[row, col])
                            let expected = alpha * value + beta * start[row, col]
                            let scale = abs(alpha) * magnitude + abs(beta * start[row, col])
                            // Any summation order is within k eps of the magnitudes.
                            let error = abs(c[row, col] - expected) / (Double(k + 2) * Double.ulpOfOne * scale)
                            worst = error.isNaN ? .infinity : max(worst, error)
                        }
                    }
                    #expect(worst <= 1, "\(kernel.name), n \(n), k \(k), \(threads) threads, alpha \(alpha), beta \(beta): error \(worst) of the bound")
                    #expect(upperKept, "\(kernel.name) wrote the upper triangle")
                }
            }
        }
    }

    @Test("shape errors name both shapes")
    func shapeErrors() {
        let a = Matrix(rows: 3, columns: 4), b = Matrix(rows: 5, columns: 2)
        let message = errorMessage { _ = try Matrix.product(a, b) }
        #expect(message.contains("3 x 4") && message.contains("5 x 2") && message.contains("dimension mismatch"))
        #expect(errorMessage { _ = try Matrix(rows: 2, columns: 2, elements: [1, 2, 3]) }.contains("3 elements for a 2 x 2"))
        #expect(errorMessage { _ = try a - b }.contains("3 x 4 and 5 x 2"))
        #expect(errorMessage { _ = try a.selectingRows([0, 3]) }.contains("row 3 out of 0..<3"))
        #expect(errorMessage { _ = try Matrix(rowMajor: [[1, 2], [3]]) }.contains("row 1 has 1 entries"))
    }

    @Test("sizes past 32 bits are an error naming the routine, not a crash")
    func indexOverflow() throws {
        #expect(throws: LinearAlgebraError.indexOverflow(routine: "dgemm", value: Int(Int32.max) + 1)) {
            _ = try blasInt(Int(Int32.max) + 1, "dgemm")
        }
        #expect(try blasInt(Int(Int32.max), "dgemm") == Int32.max)
        let message = LinearAlgebraError.indexOverflow(routine: "dpotrf", value: 3_000_000_000).description
        #expect(message.contains("dpotrf") && message.contains("3000000000") && message.contains("32-bit"))
    }

    @Test("non-finite entries are located")
    func nonFinite() {
        var a = Matrix(rows: 3, columns: 3, repeating: 1)
        a[2, 1] = .nan
        #expect(a.firstNonFiniteEntry! == (2, 1))
        #expect(errorMessage { try a.checkFinite("test") }.contains("row 2, column 1"))
    }

    @Test("transpose and row/column selection agree with element access")
    func selection() throws {
        let a = Fixtures.gaussian(5, 4, seed: 9)
        let t = a.transposed
        let s = try a.selectingRows([4, 0, 2])
        let c = try a.selectingColumns(1..<3)
        for i in 0..<5 { for j in 0..<4 { #expect(t[j, i] == a[i, j]) } }
        for j in 0..<4 { #expect(s[0, j] == a[4, j] && s[1, j] == a[0, j] && s[2, j] == a[2, j]) }
        for i in 0..<5 { #expect(c[i, 0] == a[i, 1] && c[i, 1] == a[i, 2]) }
    }
}

@Suite("BLAS thread count", .serialized)
struct ThreadTests {
    @Test("products with 1 and 2 threads agree to rounding")
    func threadsAgree() throws {
        let a = Fixtures.gaussian(300, 400, seed: 5), b = Fixtures.gaussian(400, 200, seed: 6)
        let one = try withBLASThreads(1) { try Matrix.product(a, b) }
        let two = try withBLASThreads(2) { try Matrix.product(a, b) }
        #expect(try Matrix.relativeDistance(one, two) < 1e-13)
        // BLASThreads.with restores the count; read under the tests' lock, so
        // another test's setting (made under the same lock) cannot interleave.
        holdingBLASThreadLock {
            let saved = BLASThreads.count
            BLASThreads.with(1) { #expect(BLASThreads.count == 1) }
            #expect(BLASThreads.count == saved)
        }
    }
}

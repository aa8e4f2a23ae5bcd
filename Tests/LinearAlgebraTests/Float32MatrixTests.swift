import Testing
@testable import LinearAlgebra
import TestSupport

@Suite("Float32 storage, double arithmetic")
struct Float32MatrixTests {
    /// The double matrix of the float32-rounded entries: the oracle every
    /// float32 product is compared with (double BLAS on the same values).
    static func rounded(_ a: Matrix) -> Matrix {
        Matrix(rows: a.rows, columns: a.columns) { i, j in Double(Float(a[i, j])) }
    }

    @Test("entries are the float32 roundings; rows and columns widen exactly")
    func rounding() throws {
        let a = Fixtures.gaussian(37, 11, seed: 3)
        let f = try Float32Matrix(rounding: a)
        let r = Self.rounded(a)
        #expect(f.widened == r)
        #expect(try f.widenedRows([5, 0, 36, 5]) == r.selectingRows([5, 0, 36, 5]))
        #expect(f.widenedColumns(3..<9) == (try r.selectingColumns(3..<9)))
        #expect(try f.selectingRows([2, 30]).widened == r.selectingRows([2, 30]))
        // The rounding really happened: the matrix differs from a in the 8th digit.
        #expect(try Matrix.relativeDistance(r, a) > 1e-9)
        #expect(f.byteCount == 37 * 11 * 4)
        let blocks = try Float32Matrix(rows: 37, columns: 11, blockSize: 4) { cols in try a.selectingColumns(cols) }
        #expect(blocks.widened == r)
        #expect(errorMessage { _ = try Float32Matrix(rows: 37, columns: 11, blockSize: 4) { _ in a } }.contains("block 37 x 11 for columns 0..<4"))
    }

    @Test("an entry beyond float32's range is refused, naming its place")
    func overflow() throws {
        var a = Fixtures.gaussian(4, 3, seed: 1)
        a[2, 1] = 1e39
        #expect(errorMessage { _ = try Float32Matrix(rounding: a) }.contains("row 2"))
        #expect(errorMessage { _ = try Float32Matrix(rows: 4, columns: 3, blockSize: 2) { cols in try a.selectingColumns(cols) } }.contains("row 2"))
    }

    @Test("a large matrix (rounded on every core) keeps every rounding and names its first bad entry")
    func largeRounding() throws {
        // 1100 x 1000 entries: past the size from which the rounding is split
        // over the cores; the bad entries sit in different halves.
        let rows = 1100, columns = 1000
        var a = Matrix(rows: rows, columns: columns) { i, j in Double(i &* 31 &+ j &* 17 % 1013) * 0.123456789 - 60 }
        let f = try Float32Matrix(rounding: a)
        #expect(f.widened == Self.rounded(a))
        let blocks = try Float32Matrix(rows: rows, columns: columns, blockSize: 999) { cols in try a.selectingColumns(cols) }
        #expect(blocks.widened == Self.rounded(a))
        a[9, 700] = .nan
        #expect(errorMessage { _ = try Float32Matrix(rounding: a) }.contains("row 9, column 700"))
        a[4, 300] = 1e39
        #expect(errorMessage { _ = try Float32Matrix(rounding: a) }.contains("row 4, column 300"))
        #expect(errorMessage { _ = try Float32Matrix(rows: rows, columns: columns, blockSize: 999) { cols in try a.selectingColumns(cols) } }
            .contains("row 4, column 300"))
    }

    @Test("A^T X and A Y on float32 input equal double BLAS on the rounded matrix, at every level and 1-3 threads",
          arguments: [(1000, 300, 1), (1000, 300, 10), (777, 129, 3), (64, 5, 17)])
    func products(rows: Int, columns: Int, c: Int) throws {
        let a = Fixtures.gaussian(rows, columns, seed: 9)
        let f = try Float32Matrix(rounding: a), r = Self.rounded(a)
        let x = Fixtures.gaussian(rows, c, seed: 10), y = Fixtures.gaussian(columns, c, seed: 11)
        let tn = try Matrix.product(r, x, transposingFirst: true), nn = try Matrix.product(r, y)
        for level in KernelLevel.allCases where level <= .best {
            for threads in [1, 2, 3] {
                #expect(try Matrix.relativeDistance(f.transposedProduct(x, level: level, threads: threads), tn) < 1e-14,
                        "tn, level \(level.name), \(threads) threads")
                #expect(try Matrix.relativeDistance(f.product(y, level: level, threads: threads), nn) < 1e-14,
                        "nn, level \(level.name), \(threads) threads")
            }
        }
        // The Gram of the rounded matrix in double by another route: dgemm of R and R^T.
        let expected = try Matrix.product(r, r, transposingSecond: true)
        for kernel in GramKernel.allCases where kernel.isAvailable {
            for blockSize in [64, 1000] {
                var k = Matrix(rows: rows, columns: rows)
                var blocks = 0
                try f.addGram(into: &k, blockSize: blockSize, kernel: kernel) { done, _ in blocks = done }
                k.symmetrizeFromLower()
                #expect(try Matrix.relativeDistance(k, expected) < 1e-13, "\(kernel.name), blocks of \(blockSize)")
                #expect(blocks == (columns + blockSize - 1) / blockSize)
            }
        }
        #expect(errorMessage { _ = try f.product(x) }.contains("times"))
    }
}

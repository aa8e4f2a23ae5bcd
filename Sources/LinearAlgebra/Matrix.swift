import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// From this many bytes (4 MB) a fresh buffer is advised to huge pages and
/// first written on every core (`adviseHugePages`, `initializeFirstTouch`,
/// `Float32Matrix.roundEntries`).
let largeBufferBytes = 1 << 22

/// Asks the kernel to back the (not yet touched) pages of a large buffer with
/// transparent huge pages (`madvise(MADV_HUGEPAGE)`, Linux; a no-op
/// elsewhere or for buffers under 4 MB). First touches then fault in 2 MB at
/// a time instead of 4 KB: on the machine of the benchmarks, allocating and
/// touching 640 MB took 0.30 s with small pages and 0.07 s with huge ones.
/// Purely advisory: correctness never depends on it.
func adviseHugePages<T>(_ buffer: UnsafeMutableBufferPointer<T>) {
    #if os(Linux)
    let bytes = buffer.count * MemoryLayout<T>.stride
    guard bytes >= largeBufferBytes, let base = buffer.baseAddress else { return }
    let page = 4096
    let start = (Int(bitPattern: base) + page - 1) & ~(page - 1)
    let end = (Int(bitPattern: base) + bytes) & ~(page - 1)
    if end > start { _ = madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_HUGEPAGE) }
    #endif
}

/// Writes `value` into every entry of an uninitialised buffer, on every core
/// from `largeBufferBytes` on. This is the first touch of a fresh buffer, and
/// a first touch costs what faulting the page in costs: on the virtual
/// machines of the benchmarks, where freed memory goes back to the host, 2 GB
/// took 3.7-4.6 s on one core and 1.2-1.9 s on two, against 0.06-0.1 s to
/// rewrite it (huge pages in both cases). The zero-filled Gram matrix,
/// written on one core, was one of the three places where `muso demo`
/// faulted its memory in.
/// - Complexity: O(count), split over the cores.
func initializeFirstTouch(_ buffer: UnsafeMutableBufferPointer<Double>, repeating value: Double) {
    guard buffer.count * MemoryLayout<Double>.stride >= largeBufferBytes, KernelThreads.count > 1,
          let base = buffer.baseAddress else {
        buffer.initialize(repeating: value)
        return
    }
    let p = KernelPointer(base: base)
    KernelThreads.forEachPart(of: buffer.count, parts: KernelThreads.count) { r in
        (p.base + r.lowerBound).initialize(repeating: value, count: r.count)
    }
}

/// A dense matrix of `Double`, stored column-major (the layout of BLAS and
/// LAPACK): element `(i, j)` is at `elements[i + j * rows]`.
///
/// `Matrix` is a value type with copy-on-write storage. Shapes are checked on
/// construction; arithmetic lives in `Matrix+Products.swift` and goes through
/// BLAS.
public struct Matrix: Sendable, Equatable, CustomStringConvertible {
    /// The number of rows.
    public let rows: Int
    /// The number of columns.
    public let columns: Int
    /// The entries, column-major; `count == rows * columns`.
    public internal(set) var elements: [Double]

    /// A `rows x columns` matrix with every entry equal to `value`.
    /// - Complexity: O(rows * columns).
    public init(rows: Int, columns: Int, repeating value: Double = 0) {
        precondition(rows >= 0 && columns >= 0, "Matrix: negative shape \(rows) x \(columns)")
        self.rows = rows
        self.columns = columns
        self.elements = Array(unsafeUninitializedCapacity: rows * columns) { buffer, count in
            adviseHugePages(buffer)
            initializeFirstTouch(buffer, repeating: value)
            count = rows * columns
        }
    }

    /// A `rows x columns` matrix whose entries `initializer` writes, given
    /// the uninitialised column-major buffer: no zero-fill pass, so the
    /// memory is first touched by the writer (which may be several threads).
    /// `initializer` must write every entry.
    /// - Complexity: O(1) plus `initializer`.
    public init(rows: Int, columns: Int, initializingWith initializer: (UnsafeMutableBufferPointer<Double>) throws -> Void) rethrows {
        precondition(rows >= 0 && columns >= 0, "Matrix: negative shape \(rows) x \(columns)")
        self.rows = rows
        self.columns = columns
        self.elements = try Array(unsafeUninitializedCapacity: rows * columns) { buffer, count in
            adviseHugePages(buffer)
            try initializer(buffer)
            count = rows * columns
        }
    }

    /// A matrix over the given column-major entries.
    /// - Throws: `LinearAlgebraError.dimensionMismatch` when
    ///   `elements.count != rows * columns`.
    public init(rows: Int, columns: Int, elements: [Double]) throws(LinearAlgebraError) {
        guard rows >= 0, columns >= 0 else {
            throw .invalidArgument(operation: "Matrix", detail: "negative shape \(rows) x \(columns)")
        }
        guard elements.count == rows * columns else {
            throw .dimensionMismatch(operation: "Matrix",
                                     detail: "\(elements.count) elements for a \(rows) x \(columns) matrix")
        }
        self.rows = rows
        self.columns = columns
        self.elements = elements
    }

    /// A matrix whose entry `(i, j)` is `entry(i, j)`.
    /// - Complexity: O(rows * columns) calls of `entry`.
    public init(rows: Int, columns: Int, _ entry: (Int, Int) throws -> Double) rethrows {
        self.init(rows: rows, columns: columns)
        for j in 0..<columns {
            for i in 0..<rows { elements[i + j * rows] = try entry(i, j) }
        }
    }

    /// A matrix from its rows, e.g. `[[1, 2], [3, 4]]`.
    /// - Throws: `dimensionMismatch` when the rows differ in length.
    public init(rowMajor rowsOfValues: [[Double]]) throws(LinearAlgebraError) {
        let r = rowsOfValues.count
        let c = rowsOfValues.first?.count ?? 0
        for (i, row) in rowsOfValues.enumerated() where row.count != c {
            throw .dimensionMismatch(operation: "Matrix(rowMajor:)",
                                     detail: "row \(i) has \(row.count) entries, row 0 has \(c)")
        }
        self.init(rows: r, columns: c)
        for i in 0..<r { for j in 0..<c { elements[i + j * r] = rowsOfValues[i][j] } }
    }

    /// A column vector (`count x 1`).
    public init(column: [Double]) {
        self.rows = column.count
        self.columns = 1
        self.elements = column
    }

    /// The `n x n` identity.
    public static func identity(_ n: Int) -> Matrix {
        var m = Matrix(rows: n, columns: n)
        for i in 0..<n { m.elements[i + i * n] = 1 }
        return m
    }

    /// `(rows, columns)`.
    public var shape: (rows: Int, columns: Int) { (rows, columns) }

    /// The entry in row `i`, column `j` (zero-based).
    public subscript(i: Int, j: Int) -> Double {
        get {
            precondition(i >= 0 && i < rows && j >= 0 && j < columns, "Matrix: index (\(i), \(j)) out of \(rows) x \(columns)")
            return elements[i + j * rows]
        }
        set {
            precondition(i >= 0 && i < rows && j >= 0 && j < columns, "Matrix: index (\(i), \(j)) out of \(rows) x \(columns)")
            elements[i + j * rows] = newValue
        }
    }

    /// Calls `body` with the column-major entries.
    public func withUnsafeBufferPointer<R, E: Error>(_ body: (UnsafeBufferPointer<Double>) throws(E) -> R) throws(E) -> R {
        try elements.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with the mutable column-major entries; `body` must not
    /// change their number.
    public mutating func withUnsafeMutableBufferPointer<R, E: Error>(_ body: (inout UnsafeMutableBufferPointer<Double>) throws(E) -> R) throws(E) -> R {
        try elements.withUnsafeMutableBufferPointer(body)
    }

    /// Column `j` as an array.
    /// - Complexity: O(rows).
    public func column(_ j: Int) -> [Double] {
        precondition(j >= 0 && j < columns, "Matrix.column: \(j) out of 0..<\(columns)")
        return Array(elements[(j * rows)..<((j + 1) * rows)])
    }

    /// Row `i` as an array.
    /// - Complexity: O(columns).
    public func row(_ i: Int) -> [Double] {
        precondition(i >= 0 && i < rows, "Matrix.row: \(i) out of 0..<\(rows)")
        return (0..<columns).map { elements[i + $0 * rows] }
    }

    /// The rows at `indices`, in that order (indices may repeat).
    /// - Throws: `invalidArgument` when an index is out of range.
    /// - Complexity: O(indices.count * columns).
    public func selectingRows(_ indices: [Int]) throws(LinearAlgebraError) -> Matrix {
        for i in indices where i < 0 || i >= rows {
            throw .invalidArgument(operation: "Matrix.selectingRows", detail: "row \(i) out of 0..<\(rows)")
        }
        var out = Matrix(rows: indices.count, columns: columns)
        let r = rows, n = indices.count
        elements.withUnsafeBufferPointer { src in
            out.elements.withUnsafeMutableBufferPointer { dst in
                for j in 0..<columns {
                    let s = j * r, d = j * n
                    for (k, i) in indices.enumerated() { dst[d + k] = src[s + i] }
                }
            }
        }
        return out
    }

    /// The principal submatrix with rows and columns `indices` (in that
    /// order) of a square matrix: K_RR from K.
    /// - Complexity: O(indices.count^2).
    public func principalSubmatrix(_ indices: [Int]) throws(LinearAlgebraError) -> Matrix {
        guard rows == columns else {
            throw .dimensionMismatch(operation: "Matrix.principalSubmatrix", detail: "\(rows) x \(columns) is not square")
        }
        for i in indices where i < 0 || i >= rows {
            throw .invalidArgument(operation: "Matrix.principalSubmatrix", detail: "index \(i) out of 0..<\(rows)")
        }
        let k = indices.count, n = rows
        var out = Matrix(rows: k, columns: k)
        elements.withUnsafeBufferPointer { src in
            out.elements.withUnsafeMutableBufferPointer { dst in
                for (c, j) in indices.enumerated() {
                    let s = j * n, d = c * k
                    for (r, i) in indices.enumerated() { dst[d + r] = src[s + i] }
                }
            }
        }
        return out
    }

    /// The columns in `range`.
    /// - Complexity: O(rows * range.count), one contiguous copy.
    public func selectingColumns(_ range: Range<Int>) throws(LinearAlgebraError) -> Matrix {
        guard range.lowerBound >= 0, range.upperBound <= columns else {
            throw .invalidArgument(operation: "Matrix.selectingColumns", detail: "columns \(range) out of 0..<\(columns)")
        }
        return try Matrix(rows: rows, columns: range.count,
                          elements: Array(elements[(range.lowerBound * rows)..<(range.upperBound * rows)]))
    }

    /// Writes `block` into the rows `rowRange` of this matrix (same column count).
    /// - Complexity: O(block.rows * columns).
    public mutating func setRows(_ rowRange: Range<Int>, to block: Matrix) throws(LinearAlgebraError) {
        guard block.columns == columns, block.rows == rowRange.count,
              rowRange.lowerBound >= 0, rowRange.upperBound <= rows else {
            throw .dimensionMismatch(operation: "Matrix.setRows",
                                     detail: "a \(block.rows) x \(block.columns) block into rows \(rowRange) of \(rows) x \(columns)")
        }
        let r = rows, b = block.rows, lo = rowRange.lowerBound
        block.elements.withUnsafeBufferPointer { src in
            elements.withUnsafeMutableBufferPointer { dst in
                for j in 0..<columns {
                    for i in 0..<b { dst[lo + i + j * r] = src[i + j * b] }
                }
            }
        }
    }

    /// Writes `block` into the columns starting at `column` (same row count).
    /// - Complexity: O(rows * block.columns), one contiguous copy.
    public mutating func setColumns(startingAt column: Int, to block: Matrix) throws(LinearAlgebraError) {
        guard block.rows == rows, column >= 0, column + block.columns <= columns else {
            throw .dimensionMismatch(operation: "Matrix.setColumns",
                                     detail: "a \(block.rows) x \(block.columns) block at column \(column) of \(rows) x \(columns)")
        }
        elements.replaceSubrange((column * rows)..<((column + block.columns) * rows), with: block.elements)
    }

    /// The transpose.
    /// - Complexity: O(rows * columns).
    public var transposed: Matrix {
        var t = Matrix(rows: columns, columns: rows)
        let r = rows, c = columns
        elements.withUnsafeBufferPointer { src in
            t.elements.withUnsafeMutableBufferPointer { dst in
                // Blocked to stay in cache for large matrices.
                let b = 64
                for jb in stride(from: 0, to: c, by: b) {
                    for ib in stride(from: 0, to: r, by: b) {
                        for j in jb..<min(jb + b, c) {
                            for i in ib..<min(ib + b, r) { dst[j + i * c] = src[i + j * r] }
                        }
                    }
                }
            }
        }
        return t
    }

    /// The position of the first NaN or infinite entry (column-major order),
    /// or `nil` when every entry is finite.
    /// - Complexity: O(rows * columns).
    public var firstNonFiniteEntry: (row: Int, column: Int)? {
        guard let k = elements.firstIndex(where: { !$0.isFinite }) else { return nil }
        return (k % Swift.max(rows, 1), k / Swift.max(rows, 1))
    }

    /// Throws `nonFinite` naming `operation` and the position of the first
    /// NaN or infinity.
    public func checkFinite(_ operation: String) throws(LinearAlgebraError) {
        if let (i, j) = firstNonFiniteEntry {
            throw .nonFinite(operation: operation, row: i, column: j)
        }
    }

    public var description: String {
        var s = "Matrix(\(rows) x \(columns))"
        if rows * columns <= 100 {
            for i in 0..<rows {
                s += "\n  " + (0..<columns).map { String(format: "%12.5g", self[i, $0]) }.joined(separator: " ")
            }
        }
        return s
    }
}

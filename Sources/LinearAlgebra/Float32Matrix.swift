internal import _CKernels

/// A column-major matrix stored in float32 whose arithmetic runs in double:
/// half the bytes of a `Matrix` for a large operand that is only read (held
/// features). Every entry is the float32 rounding of the double it was made
/// from, and every product is the double computation on those rounded
/// entries (each entry is widened exactly on load and every multiply and sum
/// is in double), so a result equals the same product on the `Matrix` of the
/// rounded values up to the order of the double sums.
public struct Float32Matrix: Sendable {
    /// Number of rows.
    public let rows: Int
    /// Number of columns.
    public let columns: Int
    /// The entries, column-major.
    let elements: [Float]

    /// The float32 rounding of `matrix` (round to nearest).
    /// - Throws: `nonFinite` when an entry is not finite or overflows float32.
    /// - Complexity: O(rows columns).
    public init(rounding matrix: Matrix) throws(LinearAlgebraError) {
        rows = matrix.rows
        columns = matrix.columns
        var bad: Int?
        elements = matrix.withUnsafeBufferPointer { p in
            Array(unsafeUninitializedCapacity: p.count) { buffer, count in
                adviseHugePages(buffer)
                bad = Self.roundEntries(p, into: buffer.baseAddress)
                count = p.count
            }
        }
        if let bad {  // not finite, or beyond float32's range
            throw .nonFinite(operation: "Float32Matrix(rounding:)", row: bad % max(rows, 1), column: bad / max(rows, 1))
        }
    }

    /// A rows x columns matrix filled column block by column block: `block`
    /// returns the double columns J (rows x |J|, J consecutive ranges of
    /// `blockSize` from 0), each rounded straight into place, so a large
    /// matrix is never held in double beyond one block.
    /// - Throws: what `block` throws; `dimensionMismatch` for a block of the
    ///   wrong shape; `nonFinite` as `init(rounding:)`.
    /// - Complexity: O(rows columns) plus the blocks.
    public init(rows: Int, columns: Int, blockSize: Int, block: (Range<Int>) throws -> Matrix) throws {
        self.rows = rows
        self.columns = columns
        let step = max(1, blockSize)
        var failure: Error?
        elements = Array(unsafeUninitializedCapacity: rows * columns) { buffer, count in
            count = 0
            adviseHugePages(buffer)
            do {
                for lo in stride(from: 0, to: columns, by: step) {
                    let range = lo..<min(columns, lo + step)
                    let b = try block(range)
                    guard b.rows == rows, b.columns == range.count else {
                        throw LinearAlgebraError.dimensionMismatch(operation: "Float32Matrix(blockSize:block:)",
                                                                   detail: "block \(b.rows) x \(b.columns) for columns \(range) of \(rows) x \(columns)")
                    }
                    let bad = b.withUnsafeBufferPointer { Self.roundEntries($0, into: buffer.baseAddress.map { $0 + lo * rows }) }
                    count = (lo + range.count) * rows
                    if let bad {
                        throw LinearAlgebraError.nonFinite(operation: "Float32Matrix(blockSize:block:)", row: bad % max(rows, 1),
                                                           column: lo + bad / max(rows, 1))
                    }
                }
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
    }

    /// The entry at row i, column j, widened to double.
    public subscript(i: Int, j: Int) -> Double {
        precondition(i >= 0 && i < rows && j >= 0 && j < columns, "index (\(i), \(j)) out of \(rows) x \(columns)")
        return Double(elements[i + j * rows])
    }

    /// Bytes held: 4 per entry.
    public var byteCount: Int { elements.count * MemoryLayout<Float>.size }

    /// The whole matrix widened to double.
    public var widened: Matrix { widenedColumns(0..<columns) }

    /// The columns `range`, widened to double (rows x range.count).
    /// - Complexity: O(rows range.count).
    public func widenedColumns(_ range: Range<Int>) -> Matrix {
        precondition(range.lowerBound >= 0 && range.upperBound <= columns, "columns \(range) out of 0..<\(columns)")
        return Matrix(rows: rows, columns: range.count) { buffer in
            elements.withUnsafeBufferPointer { p in
                let base = range.lowerBound * rows
                for i in 0..<(rows * range.count) { buffer[i] = Double(p[base + i]) }
            }
        }
    }

    /// The rows `indices` (any order, repeats allowed), widened to double.
    /// - Throws: `invalidArgument` for an index out of range.
    public func widenedRows(_ indices: [Int]) throws(LinearAlgebraError) -> Matrix {
        try checkRows(indices, operation: "Float32Matrix.widenedRows")
        return Matrix(rows: indices.count, columns: columns) { buffer in gatherRows(indices, into: buffer) { Double($0) } }
    }

    /// The matrix of the rows `indices`, still in float32.
    public func selectingRows(_ indices: [Int]) throws(LinearAlgebraError) -> Float32Matrix {
        try checkRows(indices, operation: "Float32Matrix.selectingRows")
        let out = [Float](unsafeUninitializedCapacity: indices.count * columns) { buffer, count in
            gatherRows(indices, into: buffer) { $0 }
            count = indices.count * columns
        }
        return Float32Matrix(rows: indices.count, columns: columns, elements: out)
    }

    private func checkRows(_ indices: [Int], operation: String) throws(LinearAlgebraError) {
        if let bad = indices.first(where: { $0 < 0 || $0 >= rows }) {
            throw .invalidArgument(operation: operation, detail: "row \(bad) out of 0..<\(rows)")
        }
    }

    /// Writes rows `indices` (checked) column-major into `buffer`
    /// (indices.count x columns), each entry through `convert`.
    private func gatherRows<T>(_ indices: [Int], into buffer: UnsafeMutableBufferPointer<T>, _ convert: (Float) -> T) {
        elements.withUnsafeBufferPointer { p in
            for j in 0..<columns {
                for (k, i) in indices.enumerated() { buffer[k + j * indices.count] = convert(p[i + j * rows]) }
            }
        }
    }

    /// Rounds `source` to float32 into `destination` (uninitialised, as many
    /// entries) and returns the first index whose rounding is not finite
    /// (not finite, or beyond float32's range), if any. From
    /// `largeBufferBytes` of output on, on every core: this is the first
    /// touch of the held features, and a first touch costs what faulting the
    /// page in costs (see `initializeFirstTouch`).
    /// - Complexity: O(count), split over the cores.
    static func roundEntries(_ source: UnsafeBufferPointer<Double>, into destination: UnsafeMutablePointer<Float>?) -> Int? {
        guard let destination, let from = source.baseAddress, source.count > 0 else { return nil }
        let n = source.count
        let parts = n * MemoryLayout<Float>.stride >= largeBufferBytes ? KernelThreads.count : 1
        // First bad index per part (n where none): each part writes its slot.
        var firstBad = [Int](repeating: n, count: parts)
        let src = KernelConstPointer(base: from), dst = KernelWritePointer(base: destination)
        firstBad.withUnsafeMutableBufferPointer { slots in
            let out = KernelWritePointer(base: slots.baseAddress!)
            KernelThreads.forEachIndexedPart(of: n, parts: parts) { t, r in
                var bad = n
                for i in r {
                    let f = Float(src.base[i])
                    if !f.isFinite && bad == n { bad = i }
                    dst.base[i] = f
                }
                out.base[t] = bad
            }
        }
        let bad = firstBad.min() ?? n
        return bad < n ? bad : nil
    }

    private init(rows: Int, columns: Int, elements: [Float]) {
        self.rows = rows
        self.columns = columns
        self.elements = elements
    }

    /// A^T X (columns x c) for X (rows x c): the panel kernel on float32
    /// input (`muso_panel_tn_f32`), the columns of A split over the cores,
    /// A streamed once (4 bytes per entry instead of 8).
    /// - Throws: `dimensionMismatch` unless X has `rows` rows.
    /// - Complexity: 2 rows columns c flops.
    public func transposedProduct(_ x: Matrix) throws(LinearAlgebraError) -> Matrix {
        try transposedProduct(x, level: nil, threads: KernelThreads.count)
    }

    /// `transposedProduct(_:)` at an instruction-set level and thread count.
    package func transposedProduct(_ x: Matrix, level: KernelLevel?, threads: Int) throws(LinearAlgebraError) -> Matrix {
        guard x.rows == rows else {
            throw .dimensionMismatch(operation: "Float32Matrix.transposedProduct", detail: "transpose of \(rows) x \(columns) times \(x.rows) x \(x.columns)")
        }
        var out = Matrix(rows: columns, columns: x.columns)
        let (n, m, c, lvl) = (rows, columns, x.columns, level?.rawValue ?? -1)
        withKernelOperands(x, &out) { ap, xp, op in
            KernelThreads.forEachColumnPanel(of: m, threads: threads) { r in
                muso_panel_tn_f32(lvl, n, r.count, c, ap.base + r.lowerBound * n, n, xp.base, n, op.base + r.lowerBound, m)
            }
        }
        return out
    }

    /// A Y (rows x c) for Y (columns x c): the panel kernel on float32 input
    /// (`muso_panel_nn_f32`), the rows of A split over the cores.
    /// - Throws: `dimensionMismatch` unless Y has `columns` rows.
    /// - Complexity: 2 rows columns c flops.
    public func product(_ y: Matrix) throws(LinearAlgebraError) -> Matrix {
        try product(y, level: nil, threads: KernelThreads.count)
    }

    /// `product(_:)` at an instruction-set level and thread count.
    package func product(_ y: Matrix, level: KernelLevel?, threads: Int) throws(LinearAlgebraError) -> Matrix {
        guard y.rows == columns else {
            throw .dimensionMismatch(operation: "Float32Matrix.product", detail: "\(rows) x \(columns) times \(y.rows) x \(y.columns)")
        }
        var out = Matrix(rows: rows, columns: y.columns)
        let (n, m, c, lvl) = (rows, columns, y.columns, level?.rawValue ?? -1)
        withKernelOperands(y, &out) { ap, yp, op in
            KernelThreads.forEachRowBlock(of: n, threads: threads) { r in
                muso_panel_nn_f32(lvl, r.count, m, c, ap.base + r.lowerBound, n, yp.base, m, op.base + r.lowerBound, n)
            }
        }
        return out
    }

    /// Runs `body` with the kernels' pointers to this matrix, the double
    /// operand and the output; nothing when any of them is empty (the
    /// output, made by the caller, is then already the zero product).
    private func withKernelOperands(_ operand: Matrix, _ out: inout Matrix,
                                    _ body: (KernelFloatPointer, KernelConstPointer, KernelPointer) -> Void) {
        if rows == 0 || columns == 0 || operand.columns == 0 { return }
        elements.withUnsafeBufferPointer { pa in
            operand.withUnsafeBufferPointer { px in
                out.withUnsafeMutableBufferPointer { po in
                    body(KernelFloatPointer(base: pa.baseAddress!), KernelConstPointer(base: px.baseAddress!), KernelPointer(base: po.baseAddress!))
                }
            }
        }
    }

    /// K += A[:, J] A[:, J]^T over column blocks J of `blockSize` (lower
    /// triangle; rows x rows), every product and sum in double: through the
    /// AVX-512 Gram kernel, which widens each entry as it packs it, where
    /// `GramKernel.preferred` picks it; otherwise each block widened to a
    /// double buffer, then `dsyrk`.
    /// - Throws: `dimensionMismatch` unless K is rows x rows.
    /// - Complexity: rows^2 columns flops; memory rows x blockSize doubles
    ///   (the widened block) or the kernel's packing buffers.
    public func addGram(into k: inout Matrix, blockSize: Int = 1024,
                        afterBlock: (_ done: Int, _ total: Int) -> Void = { _, _ in }) throws(LinearAlgebraError) {
        try addGram(into: &k, blockSize: blockSize, kernel: .preferred, afterBlock: afterBlock)
    }

    /// `addGram(into:blockSize:afterBlock:)` through `kernel` (the tests run both).
    package func addGram(into k: inout Matrix, blockSize: Int = 1024, kernel: GramKernel,
                         afterBlock: (_ done: Int, _ total: Int) -> Void = { _, _ in }) throws(LinearAlgebraError) {
        guard k.rows == rows, k.columns == rows else {
            throw .dimensionMismatch(operation: "Float32Matrix.addGram", detail: "\(k.rows) x \(k.columns) for \(rows) rows")
        }
        let n = rows, step = max(1, min(blockSize, columns)), total = (columns + step - 1) / step
        // One workspace for the kernel's packing and one double buffer for the
        // blocks that are widened, for every block (no fresh pages per block).
        let workspace = GramWorkspace.forBlocks(order: n, blockWidth: step, kernel: kernel)
        var buffer: Matrix? = nil
        for (done, lo) in stride(from: 0, to: columns, by: step).enumerated() {
            let width = min(step, columns - lo)
            let direct = elements.withUnsafeBufferPointer { p in
                k.withUnsafeMutableBufferPointer { c in
                    // No rows: K is 0 x 0 and there is nothing to add.
                    guard let pa = p.baseAddress, let pc = c.baseAddress else { return true }
                    return gramLower(kernel: kernel, n: n, k: width, alpha: 1, a: pa + lo * n, lda: n, beta: 1, c: pc, ldc: n,
                                     workspace: workspace)
                }
            }
            if !direct {
                if buffer == nil { buffer = Matrix(rows: n, columns: step) }
                elements.withUnsafeBufferPointer { p in
                    buffer!.withUnsafeMutableBufferPointer { b in
                        let base = lo * n
                        for i in 0..<(n * width) { b[i] = Double(p[base + i]) }
                    }
                }
                try k.addGram(of: buffer!, columns: 0..<width, kernel: .blas)
            }
            afterBlock(done + 1, total)
        }
    }
}

/// A float32 base pointer handed to the kernels' worker closures.
struct KernelFloatPointer: @unchecked Sendable {
    let base: UnsafePointer<Float>
}

/// A pointer the worker closures write through, each to its own disjoint
/// entries (`Float32Matrix.roundEntries`: its part of the output and its slot).
struct KernelWritePointer<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T>
}

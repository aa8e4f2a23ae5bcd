// Products and norms of `Matrix`: BLAS, and for A^T B with a large A and a
// few columns of B the vectorised panel kernel of `_CKernels`.
internal import _CKernels

extension Matrix {
    /// The product op(A) op(B), where op transposes when asked (`dgemm`;
    /// `dgemv` when the result is a single column; A^T B with a large A and
    /// at most `panelColumns` columns of B by `panelTransposedProduct`).
    ///
    /// - Throws: `dimensionMismatch` naming both shapes when the inner
    ///   dimensions differ; `indexOverflow` past 32-bit sizes.
    /// - Complexity: O(m n k) for an (m x k) times (k x n) product.
    public static func product(_ a: Matrix, _ b: Matrix,
                               transposingFirst ta: Bool = false,
                               transposingSecond tb: Bool = false) throws(LinearAlgebraError) -> Matrix {
        let (m, ka) = ta ? (a.columns, a.rows) : (a.rows, a.columns)
        let (kb, n) = tb ? (b.columns, b.rows) : (b.rows, b.columns)
        guard ka == kb else {
            throw .dimensionMismatch(operation: "Matrix.product",
                                     detail: "\(ta ? "transpose of " : "")\(a.rows) x \(a.columns) times \(tb ? "transpose of " : "")\(b.rows) x \(b.columns)")
        }
        var c = Matrix(rows: m, columns: n)
        if ka == 0 { return c }
        if ta && !tb && n <= panelColumns && a.rows * a.columns >= panelMinimumEntries {
            panelTransposedProduct(a, b, into: &c, level: nil, threads: KernelThreads.count)
            return c
        }
        if n == 1 {
            // Matrix-vector product: `dgemv` (b's entries are contiguous either way).
            try a.elements.withUnsafeBufferPointer { (pa) throws(LinearAlgebraError) in
                try b.elements.withUnsafeBufferPointer { (pb) throws(LinearAlgebraError) in
                    try c.elements.withUnsafeMutableBufferPointer { (pc) throws(LinearAlgebraError) in
                        try dgemv(trans: ta, m: a.rows, n: a.columns, alpha: 1, a: pa.baseAddress, lda: a.rows,
                                  x: pb.baseAddress, beta: 0, y: pc.baseAddress)
                    }
                }
            }
            return c
        }
        try a.elements.withUnsafeBufferPointer { (pa) throws(LinearAlgebraError) in
            try b.elements.withUnsafeBufferPointer { (pb) throws(LinearAlgebraError) in
                try c.elements.withUnsafeMutableBufferPointer { (pc) throws(LinearAlgebraError) in
                    try dgemm(transA: ta, transB: tb, m: m, n: n, k: ka, alpha: 1,
                              a: pa.baseAddress, lda: a.rows, b: pb.baseAddress, ldb: b.rows,
                              beta: 0, c: pc.baseAddress, ldc: m)
                }
            }
        }
        return c
    }

    /// A^T B for a large A and at most this many columns of B goes through
    /// `panelTransposedProduct` (from `panelMinimumEntries` entries of A).
    package static let panelColumns = 16
    static let panelMinimumEntries = 1 << 18

    /// C = A^T B (A n x m, B n x c, c small) by the vectorised panel kernel
    /// (`muso_panel_tn`): the columns of A split into one contiguous range
    /// per core, each streamed once from memory with the c dot products per
    /// column in registers. A memory-bound shape on which OpenBLAS reaches
    /// ~28 GB/s with `dgemv` (c = 1) and 8-11 GB/s with `dgemm` (c = 10) here;
    /// the kernel ~33 GB/s at c = 1 (8000 x 64000). This is the theta update
    /// Phi^T (G_F or Delta A) of exact unlearning.
    /// - Complexity: 2 n m c flops, A read once.
    static func panelTransposedProduct(_ a: Matrix, _ b: Matrix, into c: inout Matrix,
                                       level: KernelLevel?, threads: Int) {
        let rows = a.rows, cols = a.columns, nrhs = b.columns, lvl = level?.rawValue ?? -1
        withKernelOperands(a, b, &c) { ap, bp, cp in
            KernelThreads.forEachColumnPanel(of: cols, threads: threads) { r in
                muso_panel_tn(lvl, rows, r.count, nrhs, ap.base + r.lowerBound * rows, rows, bp.base, rows,
                              cp.base + r.lowerBound, cols)
            }
        }
    }

    /// Runs `body` with the panel kernels' pointers to two operands and an
    /// output (all non-empty: the callers return before empty shapes).
    private static func withKernelOperands(_ a: Matrix, _ b: Matrix, _ out: inout Matrix,
                                           _ body: (KernelConstPointer, KernelConstPointer, KernelPointer) -> Void) {
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { po in
                    body(KernelConstPointer(base: pa.baseAddress!), KernelConstPointer(base: pb.baseAddress!),
                         KernelPointer(base: po.baseAddress!))
                }
            }
        }
    }

    /// A Y for a tall-and-wide A and a few columns of Y, through the panel
    /// kernel (`muso_panel_nn`): A streamed once from memory, blocks of 32
    /// rows x 4 columns of the product kept in registers, the rows split
    /// among `threads` in multiples of 32 (the same as `Float32Matrix.product`
    /// for double entries). Where DGEMM would first pack (copy) A, which it
    /// then uses once: Phi theta at N = 4000, M = 16000, C = 10 took
    /// 0.061-0.080 s through DGEMM in `muso bench`, against 0.012-0.024 s for
    /// the float32 panel kernel on half the bytes.
    /// - Throws: `dimensionMismatch` when A's columns differ from Y's rows.
    /// - Complexity: 2 rows columns Y.columns flops; one pass over A.
    package static func panelProduct(_ a: Matrix, _ y: Matrix, level: KernelLevel? = nil,
                                     threads: Int = KernelThreads.count) throws(LinearAlgebraError) -> Matrix {
        guard a.columns == y.rows else {
            throw .dimensionMismatch(operation: "Matrix.panelProduct", detail: "\(a.rows) x \(a.columns) times \(y.rows) x \(y.columns)")
        }
        var out = Matrix(rows: a.rows, columns: y.columns)
        let (n, m, c, lvl) = (a.rows, a.columns, y.columns, level?.rawValue ?? -1)
        if n == 0 || m == 0 || c == 0 { return out }
        withKernelOperands(a, y, &out) { ap, yp, op in
            KernelThreads.forEachRowBlock(of: n, threads: threads) { r in
                muso_panel_nn(lvl, r.count, m, c, ap.base + r.lowerBound, n, yp.base, m, op.base + r.lowerBound, n)
            }
        }
        return out
    }

    /// Writes the product A B (m x n) into a column-major buffer the caller
    /// owns, at `destination` with leading dimension `leadingDimension >= m`
    /// (`dgemm`, beta = 0: the buffer may be uninitialised). For callers that
    /// place a product inside a larger array without an intermediate copy.
    /// - Throws: `dimensionMismatch` when the inner dimensions differ or the
    ///   leading dimension is below m.
    /// - Complexity: 2 m n k flops.
    package static func multiply(_ a: Matrix, _ b: Matrix, into destination: UnsafeMutablePointer<Double>,
                                leadingDimension ld: Int) throws(LinearAlgebraError) {
        guard a.columns == b.rows, ld >= max(a.rows, 1) else {
            throw .dimensionMismatch(operation: "Matrix.multiply(into:)",
                                     detail: "\(a.rows) x \(a.columns) times \(b.rows) x \(b.columns) with leading dimension \(ld)")
        }
        let (m, n, k) = (a.rows, b.columns, a.columns)
        if m == 0 || n == 0 { return }
        if k == 0 {
            for j in 0..<n { (destination + j * ld).update(repeating: 0, count: m) }
            return
        }
        try a.elements.withUnsafeBufferPointer { (pa) throws(LinearAlgebraError) in
            try b.elements.withUnsafeBufferPointer { (pb) throws(LinearAlgebraError) in
                try dgemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1,
                          a: pa.baseAddress, lda: m, b: pb.baseAddress, ldb: k,
                          beta: 0, c: destination, ldc: ld)
            }
        }
    }

    /// self = alpha op(A) op(B) + beta self (`dgemm`).
    /// - Complexity: O(m n k).
    public mutating func addProduct(_ a: Matrix, _ b: Matrix, transposingFirst ta: Bool = false,
                                    transposingSecond tb: Bool = false,
                                    alpha: Double = 1, beta: Double = 1) throws(LinearAlgebraError) {
        let (m, ka) = ta ? (a.columns, a.rows) : (a.rows, a.columns)
        let (kb, n) = tb ? (b.columns, b.rows) : (b.rows, b.columns)
        guard ka == kb, m == rows, n == columns else {
            throw .dimensionMismatch(operation: "Matrix.addProduct",
                                     detail: "op(\(a.rows) x \(a.columns)) times op(\(b.rows) x \(b.columns)) into \(rows) x \(columns)")
        }
        if ka == 0 { if beta != 1 { self.scale(by: beta) }; return }
        let ldc = rows
        try a.elements.withUnsafeBufferPointer { (pa) throws(LinearAlgebraError) in
            try b.elements.withUnsafeBufferPointer { (pb) throws(LinearAlgebraError) in
                try elements.withUnsafeMutableBufferPointer { (pc) throws(LinearAlgebraError) in
                    try dgemm(transA: ta, transB: tb, m: m, n: n, k: ka, alpha: alpha,
                              a: pa.baseAddress, lda: a.rows, b: pb.baseAddress, ldb: b.rows,
                              beta: beta, c: pc.baseAddress, ldc: ldc)
                }
            }
        }
    }

    /// self = alpha A A^T + beta self (or alpha A^T A + beta self when
    /// `transposing`), a symmetric rank-k update of which only the lower
    /// triangle is written (`dsyrk`). Call `symmetrizeFromLower()` for the
    /// full matrix. This is how Gram matrices K = Phi Phi^T are accumulated
    /// over column blocks of Phi.
    /// - Complexity: O(n^2 k), half the flops of the equivalent `dgemm`.
    public mutating func addGram(of a: Matrix, transposing: Bool = false,
                                 alpha: Double = 1, beta: Double = 1) throws(LinearAlgebraError) {
        let (n, k) = transposing ? (a.columns, a.rows) : (a.rows, a.columns)
        guard rows == n, columns == n else {
            throw .dimensionMismatch(operation: "Matrix.addGram",
                                     detail: "the Gram of \(transposing ? "the transpose of " : "")\(a.rows) x \(a.columns) into \(rows) x \(columns)")
        }
        try addGram(of: a, columnOffset: 0, count: k, transposing: transposing, alpha: alpha, beta: beta)
    }

    /// self = alpha A[:, J] A[:, J]^T + beta self for the columns J of A, in
    /// place: the columns of a column-major matrix are contiguous, so no
    /// block is copied. How a held Phi's Gram matrix is accumulated block by
    /// block when its progress is followed.
    /// `kernel` chooses the code (`GramKernel.preferred` unless a test asks);
    /// a loop over blocks passes one `workspace` to every call.
    package mutating func addGram(of a: Matrix, columns j: Range<Int>, alpha: Double = 1, beta: Double = 1,
                                  kernel: GramKernel = .preferred, workspace: GramWorkspace? = nil) throws(LinearAlgebraError) {
        guard rows == a.rows, columns == a.rows, j.lowerBound >= 0, j.upperBound <= a.columns else {
            throw .dimensionMismatch(operation: "Matrix.addGram",
                                     detail: "the Gram of columns \(j) of \(a.rows) x \(a.columns) into \(rows) x \(columns)")
        }
        try addGram(of: a, columnOffset: j.lowerBound * a.rows, count: j.count, transposing: false, alpha: alpha, beta: beta,
                    kernel: kernel, workspace: workspace)
    }

    /// A A^T through `kernel` (`GramKernel`), A^T A through `dsyrk`.
    private mutating func addGram(of a: Matrix, columnOffset: Int, count k: Int, transposing: Bool,
                                  alpha: Double, beta: Double, kernel: GramKernel = .preferred,
                                  workspace: GramWorkspace? = nil) throws(LinearAlgebraError) {
        let n = rows
        try a.elements.withUnsafeBufferPointer { (pa) throws(LinearAlgebraError) in
            try elements.withUnsafeMutableBufferPointer { (pc) throws(LinearAlgebraError) in
                let base = pa.baseAddress.map { $0 + columnOffset }
                if transposing {
                    try dsyrk(trans: true, n: n, k: k, alpha: alpha, a: base, lda: a.rows, beta: beta, c: pc.baseAddress, ldc: n)
                } else {
                    try gramLower(kernel: kernel, n: n, k: k, alpha: alpha, a: base, lda: a.rows, beta: beta,
                                  c: pc.baseAddress, ldc: n, workspace: workspace)
                }
            }
        }
    }

    /// Copies the lower triangle onto the upper one.
    /// - Complexity: O(n^2).
    public mutating func symmetrizeFromLower() {
        precondition(rows == columns, "symmetrizeFromLower: \(rows) x \(columns) is not square")
        let n = rows
        elements.withUnsafeMutableBufferPointer { p in
            let b = 64
            for jb in stride(from: 0, to: n, by: b) {
                for ib in stride(from: jb, to: n, by: b) {
                    for j in jb..<min(jb + b, n) {
                        for i in max(ib, j + 1)..<min(ib + b, n) { p[j + i * n] = p[i + j * n] }
                    }
                }
            }
        }
    }

    /// Adds `value` to each diagonal entry.
    /// - Complexity: O(min(rows, columns)).
    public mutating func addToDiagonal(_ value: Double) {
        for i in 0..<Swift.min(rows, columns) { elements[i + i * rows] += value }
    }

    /// Multiplies every entry by `factor`.
    public mutating func scale(by factor: Double) {
        elements.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] *= factor } }
    }

    /// The Frobenius norm sqrt(sum of squares), computed without overflow (`dnrm2`).
    /// - Complexity: O(rows * columns).
    public var frobeniusNorm: Double {
        elements.withUnsafeBufferPointer { dnrm2(n: $0.count, x: $0.baseAddress) }
    }

    /// The largest absolute entry.
    public var maxAbs: Double { elements.reduce(0) { Swift.max($0, abs($1)) } }

    /// The 1-norm (largest column sum of absolute values).
    public var oneNorm: Double {
        var best = 0.0
        for j in 0..<columns {
            var s = 0.0
            for i in 0..<rows { s += abs(elements[i + j * rows]) }
            best = Swift.max(best, s)
        }
        return best
    }

    /// ||a - b||_F / ||b||_F (or ||a - b||_F when b = 0): the relative distance
    /// used for every exactness figure in this project.
    public static func relativeDistance(_ a: Matrix, _ b: Matrix) throws(LinearAlgebraError) -> Double {
        let d = try a - b
        let nb = b.frobeniusNorm
        return nb > 0 ? d.frobeniusNorm / nb : d.frobeniusNorm
    }

    /// Entrywise sum.
    public static func + (a: Matrix, b: Matrix) throws(LinearAlgebraError) -> Matrix {
        try combine(a, b, "+") { $0 + $1 }
    }

    /// Entrywise difference.
    public static func - (a: Matrix, b: Matrix) throws(LinearAlgebraError) -> Matrix {
        try combine(a, b, "-") { $0 - $1 }
    }

    /// A scalar multiple.
    public static func * (s: Double, a: Matrix) -> Matrix {
        var c = a
        c.scale(by: s)
        return c
    }

    private static func combine(_ a: Matrix, _ b: Matrix, _ op: String,
                                _ f: (Double, Double) -> Double) throws(LinearAlgebraError) -> Matrix {
        guard a.rows == b.rows, a.columns == b.columns else {
            throw .dimensionMismatch(operation: "Matrix \(op)", detail: "\(a.rows) x \(a.columns) and \(b.rows) x \(b.columns)")
        }
        var c = a
        c.elements.withUnsafeMutableBufferPointer { pc in
            b.elements.withUnsafeBufferPointer { pb in
                for i in pc.indices { pc[i] = f(pc[i], pb[i]) }
            }
        }
        return c
    }
}

import Foundation
internal import _COpenBLAS
internal import _CKernels

// Thin wrappers, one per CBLAS call, in column-major order. Each checks that
// its sizes fit the 32-bit `blasint` and names itself in the error otherwise.
// Shapes are the caller's responsibility (the public API checks them).

/// C = alpha op(A) op(B) + beta C (`cblas_dgemm`), column-major.
package func dgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
           alpha: Double, a: UnsafePointer<Double>?, lda: Int,
           b: UnsafePointer<Double>?, ldb: Int,
           beta: Double, c: UnsafeMutablePointer<Double>?, ldc: Int) throws(LinearAlgebraError) {
    let r = "dgemm"
    let (m32, n32, k32) = (try blasInt(m, r), try blasInt(n, r), try blasInt(k, r))
    let (la, lb, lc) = (try blasInt(max(lda, 1), r), try blasInt(max(ldb, 1), r), try blasInt(max(ldc, 1), r))
    if m == 0 || n == 0 { return }
    cblas_dgemm(CblasColMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                m32, n32, k32, alpha, a, la, b, lb, beta, c, lc)
}

/// y = alpha op(A) x + beta y (`cblas_dgemv`), column-major, unit strides.
func dgemv(trans: Bool, m: Int, n: Int, alpha: Double, a: UnsafePointer<Double>?, lda: Int,
           x: UnsafePointer<Double>?, beta: Double, y: UnsafeMutablePointer<Double>?) throws(LinearAlgebraError) {
    let r = "dgemv"
    let (m32, n32, la) = (try blasInt(m, r), try blasInt(n, r), try blasInt(max(lda, 1), r))
    if m == 0 || n == 0 { return }
    cblas_dgemv(CblasColMajor, trans ? CblasTrans : CblasNoTrans, m32, n32, alpha, a, la, x, 1, beta, y, 1)
}

/// C = alpha A A^T + beta C (or alpha A^T A + beta C when `trans`), lower
/// triangle only (`cblas_dsyrk`).
func dsyrk(trans: Bool, n: Int, k: Int, alpha: Double, a: UnsafePointer<Double>?, lda: Int,
           beta: Double, c: UnsafeMutablePointer<Double>?, ldc: Int) throws(LinearAlgebraError) {
    let r = "dsyrk"
    let (n32, k32, la, lc) = (try blasInt(n, r), try blasInt(k, r), try blasInt(max(lda, 1), r), try blasInt(max(ldc, 1), r))
    if n == 0 { return }
    cblas_dsyrk(CblasColMajor, CblasLower, trans ? CblasTrans : CblasNoTrans, n32, k32, alpha, a, la, beta, c, lc)
}

/// B = op(L)^{-1} B for a lower-triangular `L`, left side (`cblas_dtrsm`).
func dtrsm(transL: Bool, m: Int, n: Int, l: UnsafePointer<Double>?, ldl: Int,
           b: UnsafeMutablePointer<Double>?, ldb: Int) throws(LinearAlgebraError) {
    let r = "dtrsm"
    let (m32, n32, la, lb) = (try blasInt(m, r), try blasInt(n, r), try blasInt(max(ldl, 1), r), try blasInt(max(ldb, 1), r))
    if m == 0 || n == 0 { return }
    cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, transL ? CblasTrans : CblasNoTrans, CblasNonUnit,
                m32, n32, 1, l, la, b, lb)
}

/// x = op(L)^{-1} x for a lower-triangular `L` and one vector, unit stride
/// (`cblas_dtrsv`). For a single right-hand side OpenBLAS's level-2 kernel
/// reads L at about twice the speed of its `dtrsm` with n = 1 (measured at
/// n = 16000: 0.055 s against 0.12 s).
func dtrsv(transL: Bool, n: Int, l: UnsafePointer<Double>?, ldl: Int, x: UnsafeMutablePointer<Double>?) throws(LinearAlgebraError) {
    let r = "dtrsv"
    let (n32, la) = (try blasInt(n, r), try blasInt(max(ldl, 1), r))
    if n == 0 { return }
    cblas_dtrsv(CblasColMajor, CblasLower, transL ? CblasTrans : CblasNoTrans, CblasNonUnit, n32, l, la, x, 1)
}

/// B = op(L) B for a lower-triangular `L`, left side (`cblas_dtrmm`).
func dtrmm(transL: Bool, m: Int, n: Int, l: UnsafePointer<Double>?, ldl: Int,
           b: UnsafeMutablePointer<Double>?, ldb: Int) throws(LinearAlgebraError) {
    let r = "dtrmm"
    let (m32, n32, la, lb) = (try blasInt(m, r), try blasInt(n, r), try blasInt(max(ldl, 1), r), try blasInt(max(ldb, 1), r))
    if m == 0 || n == 0 { return }
    cblas_dtrmm(CblasColMajor, CblasLeft, CblasLower, transL ? CblasTrans : CblasNoTrans, CblasNonUnit,
                m32, n32, 1, l, la, b, lb)
}

/// The Euclidean norm of `n` contiguous entries, without overflow (`cblas_dnrm2`).
func dnrm2(n: Int, x: UnsafePointer<Double>?) -> Double {
    guard n > 0, let n32 = Int32(exactly: n) else {
        // Fallback for counts beyond 32 bits: scaled sum of squares in Swift.
        guard n > 0, let x else { return 0 }
        var scale = 0.0, ssq = 1.0
        for i in 0..<n where x[i] != 0 {
            let a = abs(x[i])
            if scale < a { ssq = 1 + ssq * (scale / a) * (scale / a); scale = a } else { ssq += (a / scale) * (a / scale) }
        }
        return scale * ssq.squareRoot()
    }
    return cblas_dnrm2(n32, x, 1)
}

/// The number of threads OpenBLAS uses for BLAS and LAPACK calls.
///
/// Results can differ in the last bits between thread counts; compare them
/// with relative tolerances. Setting this is process-wide: code that changes
/// it (tests, benchmarks) must not run concurrently with other BLAS users.
public enum BLASThreads {
    /// The current thread count (`openblas_get_num_threads`); setting it calls
    /// `openblas_set_num_threads`.
    public static var count: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(clamping: max(1, newValue))) }
    }

    /// Runs `body` with `count` threads, restoring the previous count after.
    public static func with<R>(_ count: Int, _ body: () throws -> R) rethrows -> R {
        let saved = BLASThreads.count
        BLASThreads.count = count
        defer { BLASThreads.count = saved }
        return try body()
    }

    /// The CPU kernel OpenBLAS selected (`openblas_get_corename`), e.g. "Haswell".
    package static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// OpenBLAS's build configuration string (`openblas_get_config`).
    package static var configuration: String {
        guard let p = openblas_get_config() else { return "unknown" }
        return String(cString: p)
    }
}

/// Streaming passes over memory on every core, for the floors the benchmark
/// prints beside its figures: what one read (or one read and write) of so
/// many bytes costs on this machine, whatever the algorithm.
package enum MemoryPass {
    /// Reads the `count` doubles at `x` once, split over the cores in
    /// contiguous chunks (`muso_stream_sum` per chunk: a plain vectorised
    /// read loop; `cblas_dasum`, used before, read an 8 GB matrix at 13-15
    /// GB/s where the panel kernel streamed it at 24-27). Returns the sum so
    /// that the read cannot be elided.
    /// - Complexity: `count` loads; no writes.
    package static func read(_ x: UnsafePointer<Double>, count: Int, level: KernelLevel? = nil) -> Double {
        if count <= 0 { return 0 }
        let lvl = level?.rawValue ?? -1
        let parts = partsOf(count)
        let sums = KernelPointer(base: .allocate(capacity: parts))
        sums.base.initialize(repeating: 0, count: parts)
        defer { sums.base.deallocate() }
        let source = KernelConstPointer(base: x)
        KernelThreads.forEachIndexedPart(of: count, parts: parts) { part, range in
            sums.base[part] = muso_stream_sum(lvl, source.base + range.lowerBound, range.count)
        }
        return (0..<parts).reduce(0) { $0 + sums.base[$1] }
    }

    /// Copies `count` doubles from `x` to `y` (one read and one write of
    /// each), split over the cores like `read`.
    package static func copy(_ x: UnsafePointer<Double>, to y: UnsafeMutablePointer<Double>, count: Int) {
        let source = KernelConstPointer(base: x), target = KernelPointer(base: y)
        KernelThreads.forEachPart(of: count, parts: partsOf(count)) { range in
            for chunk in chunks(of: range) { cblas_dcopy(Int32(chunk.count), source.base + chunk.lowerBound, 1, target.base + chunk.lowerBound, 1) }
        }
    }

    /// One part per core, each of at least 64 K doubles.
    private static func partsOf(_ count: Int) -> Int { max(1, min(KernelThreads.count, count / (1 << 16))) }

    /// `range` in pieces that fit BLAS's 32-bit counts.
    private static func chunks(of range: Range<Int>) -> [Range<Int>] {
        stride(from: range.lowerBound, to: range.upperBound, by: 1 << 30).map { $0..<min(range.upperBound, $0 + (1 << 30)) }
    }
}

/// B = B T for an upper-triangular T (k x k), B m x k (`cblas_dtrmm`, right
/// side, no transpose, non-unit diagonal).
func dtrmmRightUpper(m: Int, k: Int, t: UnsafePointer<Double>?, ldt: Int,
                     b: UnsafeMutablePointer<Double>?, ldb: Int) throws(LinearAlgebraError) {
    let r = "dtrmm"
    let (m32, k32, lt, lb) = (try blasInt(m, r), try blasInt(k, r), try blasInt(max(ldt, 1), r), try blasInt(max(ldb, 1), r))
    if m == 0 || k == 0 { return }
    cblas_dtrmm(CblasColMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit, m32, k32, 1, t, lt, b, lb)
}

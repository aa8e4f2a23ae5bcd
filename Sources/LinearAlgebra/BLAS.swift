import Foundation
internal import _COpenBLAS
internal import _CKernels

// Thin wrappers, one per CBLAS call, in column-major order. Each checks that
// its sizes fit the 32-bit `blasint` and names itself in the error otherwise.
// Shapes are the caller's responsibility (the public API checks them).

/// Which code forms the Gram matrices A A^T of `Matrix.addGram` and
/// `Float32Matrix.addGram(into:)`.
///
/// OpenBLAS 0.3.21 does not recognise AMD Zen 5 and runs its AVX2 (Haswell)
/// kernels there, so half of each 512-bit FMA unit idles. On such a CPU the
/// package's own kernel (`muso_gram_avx512`, `_CKernels/syrk.c`: panels of
/// 384 columns packed once, 24 x 8 tiles of C in zmm registers) is used
/// instead. Measured on that Zen 5 (2 cores), C harness, best of 3:
/// n = 4000, k = 16000 in 1.50-1.58 s against 2.59-2.60 s for `dsyrk`
/// (168 against 97 GFLOP/s); n = 8000, k = 8000 in 3.0 s against 5.3 s.
/// Where OpenBLAS runs an AVX-512 kernel (SkylakeX, Cooperlake,
/// SapphireRapids) or the CPU has no AVX-512, `dsyrk` stays.
package enum GramKernel: Sendable, CaseIterable {
    /// OpenBLAS's `dsyrk` (float32 blocks widened to double first).
    case blas
    /// The package's AVX-512 kernel; float32 entries are widened as packed.
    case avx512

    /// The AVX-512 kernel when this CPU runs AVX-512 and OpenBLAS's selected
    /// kernel does not (its name, `openblas_get_corename`, decides).
    package static let preferred: GramKernel = {
        let name = BLASThreads.coreName.lowercased()
        let openBLASWide = ["skylakex", "cooperlake", "sapphirerapids"].contains { name.contains($0) }
        return KernelLevel.best == .avx512 && !openBLASWide ? .avx512 : .blas
    }()

    /// Whether this CPU can run the kernel.
    package var isAvailable: Bool { self == .blas || KernelLevel.best == .avx512 }

    /// "OpenBLAS dsyrk" or "AVX-512 kernel", for reports.
    package var name: String { self == .blas ? "OpenBLAS dsyrk" : "AVX-512 kernel" }
}

/// The AVX-512 Gram kernel's packing buffers, allocated once for a loop of
/// calls over the column blocks of one matrix (a fresh buffer per call would
/// be fresh memory per call: ~2 s per GB of first touches on a VM that
/// returns freed memory to its host).
package final class GramWorkspace {
    let pointer: UnsafeMutablePointer<Double>
    let count: Int

    /// Room for Gram matrices of order n from column blocks of up to
    /// `blockWidth` columns, on the current `BLASThreads.count` threads.
    package init(order n: Int, blockWidth: Int) {
        count = Int(muso_gram_avx512_workspace(max(1, BLASThreads.count), max(0, n), max(0, blockWidth)))
        pointer = .allocate(capacity: max(1, count))
    }

    /// A workspace for a loop of calls through `kernel`, or nil where that
    /// is not the AVX-512 kernel on a CPU that runs it (`dsyrk` needs none).
    package static func forBlocks(order n: Int, blockWidth: Int, kernel: GramKernel = .preferred) -> GramWorkspace? {
        kernel == .avx512 && kernel.isAvailable ? GramWorkspace(order: n, blockWidth: blockWidth) : nil
    }

    deinit { pointer.deallocate() }
}

/// C = alpha A A^T + beta C on the lower triangle, A column-major n x k
/// (lda): with `kernel`, or `dsyrk` when the AVX-512 kernel cannot run here
/// or cannot allocate its packing buffers (it then has written nothing).
/// - Complexity: n (n + 1) k flops.
func gramLower(kernel: GramKernel, n: Int, k: Int, alpha: Double, a: UnsafePointer<Double>?, lda: Int,
               beta: Double, c: UnsafeMutablePointer<Double>?, ldc: Int,
               workspace: GramWorkspace? = nil) throws(LinearAlgebraError) {
    if kernel == .avx512, n > 0, k > 0, let a, let c,
       muso_gram_avx512(-1, max(1, BLASThreads.count), n, k, alpha, a, lda, beta, c, ldc,
                        workspace?.pointer, workspace?.count ?? 0) == 0 {
        return
    }
    try dsyrk(trans: false, n: n, k: k, alpha: alpha, a: a, lda: lda, beta: beta, c: c, ldc: ldc)
}

/// `gramLower` for a float32 A: returns false, having written nothing, when
/// the AVX-512 kernel is not asked for or cannot run (the caller widens
/// blocks for `dsyrk`).
func gramLower(kernel: GramKernel, n: Int, k: Int, alpha: Double, a: UnsafePointer<Float>, lda: Int,
               beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int, workspace: GramWorkspace? = nil) -> Bool {
    guard kernel == .avx512, n > 0, k > 0 else { return false }
    return muso_gram_avx512_f32(-1, max(1, BLASThreads.count), n, k, alpha, a, lda, beta, c, ldc,
                                workspace?.pointer, workspace?.count ?? 0) == 0
}

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

/// What the process's allocator does with memory it frees, for the
/// benchmark: a timed run should reuse pages an earlier run touched, not
/// fault in fresh ones. On a virtual machine that hands freed memory back to
/// its host (virtio-balloon free page reporting, the machines of
/// docs/performance.md) the first touch of such memory ran at 0.1-0.3 GB/s
/// (512 MB in 2.5 s once, against 0.19 s on 4 KB pages the guest still held
/// and 0.03 s on huge pages), so that one run of a step could take several
/// times another (the feature step of `muso bench` at N = 8000: 8.6-11.7 s,
/// and 2.28 s with freed memory kept).
package enum ProcessMemory {
    /// Keeps freed memory in the process for its later allocations (glibc:
    /// `mallopt` with no mmap for large blocks and no trimming). Returns
    /// whether the allocator took both settings.
    @discardableResult
    package static func keepFreed() -> Bool { muso_keep_freed_memory() == 1 }

    /// Hands the allocator's free memory back to the system (`malloc_trim`),
    /// so that the resident size is the memory in use.
    package static func releaseFree() { muso_release_free_memory() }

    /// Makes `bytes` of the heap resident again after `releaseFree`: one
    /// block allocated, each page written once, and freed (kept, after
    /// `keepFreed`). On a VM that reclaims the pages a guest frees, the first
    /// touch of each page waits for the host (here about 2.5 s per 512 MB);
    /// timings that follow then find the pages a previous run would have left.
    /// Returns whether the block was allocated.
    @discardableResult
    package static func touchFree(bytes: Int) -> Bool { bytes > 0 && muso_touch_free_memory(bytes) == 1 }
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

    /// Multiplies the `count` doubles at `x` by `factor` in place (one read
    /// and one write of each), split over the cores like `read`: the pass a
    /// deletion makes over the factor's trailing part (the benchmark passes
    /// -1, so every store changes its line and none can be skipped). A copy
    /// to another buffer (`cblas_dcopy`, used before) also
    /// reads the destination before writing it and measured 34 GB/s where
    /// this pass reaches 50-60 (AMD EPYC, Zen 5, 2 cores).
    /// - Complexity: `count` loads and stores.
    package static func update(_ x: UnsafeMutablePointer<Double>, count: Int, factor: Double, level: KernelLevel? = nil) {
        if count <= 0 { return }
        let lvl = level?.rawValue ?? -1
        let target = KernelPointer(base: x)
        KernelThreads.forEachPart(of: count, parts: partsOf(count)) { range in
            muso_stream_scale(lvl, target.base + range.lowerBound, range.count, factor)
        }
    }

    /// One part per core, each of at least 64 K doubles.
    private static func partsOf(_ count: Int) -> Int { max(1, min(KernelThreads.count, count / (1 << 16))) }
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

internal import _COpenBLAS

// Thin wrappers, one per LAPACKE call, column-major. Each converts sizes to
// `lapack_int` (32-bit) and turns `info` into a thrown error naming itself.

/// Cholesky factorisation A = L L^T in place, lower triangle (`dpotrf`).
/// `info > 0` means the leading minor of that order is not positive definite.
func dpotrf(n: Int, a: UnsafeMutablePointer<Double>, lda: Int) throws(LinearAlgebraError) {
    let r = "dpotrf"
    let (n32, l32) = (try blasInt(n, r), try blasInt(max(lda, 1), r))
    if n == 0 { return }
    let info = LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "L")), n32, a, l32)
    if info > 0 { throw .notPositiveDefinite(routine: r, order: Int(info)) }
    if info < 0 { throw .lapack(routine: r, info: Int(info)) }
}

extension Matrix {
    /// DPOTRF alone on this matrix's lower triangle, in place (L overwrites
    /// it; the strict upper triangle keeps A's entries): the call a
    /// factorisation cannot avoid, for the floor `muso bench` prints beside
    /// the engine's steps (`Cholesky(factoring:)` adds a finiteness check, the
    /// 1-norm for the condition estimate and the zeroing of the upper triangle).
    /// - Throws: `notPositiveDefinite` with the order of the failing minor.
    /// - Complexity: n^3 / 3 flops.
    package mutating func factorLowerInPlace() throws(LinearAlgebraError) {
        guard rows == columns else {
            throw .dimensionMismatch(operation: "dpotrf", detail: "\(rows) x \(columns) is not square")
        }
        let n = rows
        if n == 0 { return }
        try withUnsafeMutableBufferPointer { (p) throws(LinearAlgebraError) in
            try dpotrf(n: n, a: p.baseAddress!, lda: max(n, 1))
        }
    }
}

/// Solves (L L^T) X = B in place of B (`dpotrs`), lower factor.
func dpotrs(n: Int, nrhs: Int, l: UnsafePointer<Double>, ldl: Int,
            b: UnsafeMutablePointer<Double>, ldb: Int) throws(LinearAlgebraError) {
    let r = "dpotrs"
    let (n32, k32, l32, b32) = (try blasInt(n, r), try blasInt(nrhs, r), try blasInt(max(ldl, 1), r), try blasInt(max(ldb, 1), r))
    if n == 0 || nrhs == 0 { return }
    let info = LAPACKE_dpotrs_work(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "L")), n32, k32, l, l32, b, b32)
    if info != 0 { throw .lapack(routine: r, info: Int(info)) }
}

/// The reciprocal 1-norm condition number estimate of A = L L^T, given
/// `anorm = ||A||_1` (`dpocon`). O(n^2).
func dpocon(n: Int, l: UnsafePointer<Double>, ldl: Int, anorm: Double) throws(LinearAlgebraError) -> Double {
    let r = "dpocon"
    let (n32, l32) = (try blasInt(n, r), try blasInt(max(ldl, 1), r))
    if n == 0 { return 1 }
    var rcond = 0.0
    var work = [Double](repeating: 0, count: 3 * n)
    var iwork = [Int32](repeating: 0, count: n)
    let info = LAPACKE_dpocon_work(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "L")), n32, l, l32, anorm, &rcond, &work, &iwork)
    if info != 0 { throw .lapack(routine: r, info: Int(info)) }
    return rcond
}

/// The 1-norm of a symmetric matrix from its lower triangle (`dlansy`).
func dlansyOneNorm(n: Int, a: UnsafePointer<Double>, lda: Int) throws(LinearAlgebraError) -> Double {
    let r = "dlansy"
    let (n32, l32) = (try blasInt(n, r), try blasInt(max(lda, 1), r))
    if n == 0 { return 0 }
    var work = [Double](repeating: 0, count: n)
    return LAPACKE_dlansy_work(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "1")), CChar(UInt8(ascii: "L")), n32, a, l32, &work)
}

/// Hager–Higham estimate of ||B||_1 for an operator known only through
/// products (`dlacn2`, reverse communication). `apply(x, transposed)` must
/// overwrite `x` with B x (or B^T x).
func dlacn2Estimate(n: Int, apply: (inout [Double], Bool) throws(LinearAlgebraError) -> Void) throws(LinearAlgebraError) -> Double {
    let n32 = try blasInt(n, "dlacn2")
    if n == 0 { return 0 }
    var v = [Double](repeating: 0, count: n)
    var x = [Double](repeating: 0, count: n)
    var isgn = [Int32](repeating: 0, count: n)
    var est = 0.0
    var kase: Int32 = 0
    var isave: [Int32] = [0, 0, 0]
    repeat {
        let info = LAPACKE_dlacn2_work(n32, &v, &x, &isgn, &est, &kase, &isave)
        if info != 0 { throw .lapack(routine: "dlacn2", info: Int(info)) }
        if kase == 1 { try apply(&x, false) } else if kase == 2 { try apply(&x, true) }
    } while kase != 0
    return est
}

/// Minimum-norm solution of min ||A X - B||_F by the SVD (`dgelsd`): A is
/// m x n, B is m x nrhs and is overwritten with X in its first n rows (its
/// leading dimension must be >= max(m, n)). Singular values s_i <= rcond * s_1
/// are treated as zero. Returns the effective rank; `s` receives the singular
/// values in decreasing order.
func dgelsd(m: Int, n: Int, nrhs: Int, a: UnsafeMutablePointer<Double>, lda: Int,
            b: UnsafeMutablePointer<Double>, ldb: Int, s: UnsafeMutablePointer<Double>,
            rcond: Double) throws(LinearAlgebraError) -> Int {
    let r = "dgelsd"
    let (m32, n32, k32, la, lb) = (try blasInt(m, r), try blasInt(n, r), try blasInt(nrhs, r),
                                   try blasInt(max(lda, 1), r), try blasInt(max(ldb, 1), r))
    var rank: Int32 = 0
    let info = LAPACKE_dgelsd(LAPACK_COL_MAJOR, m32, n32, k32, a, la, b, lb, s, rcond, &rank)
    if info > 0 {
        // The SVD did not converge: `info` off-diagonal elements did not reach zero.
        throw .lapack(routine: r, info: Int(info))
    }
    if info < 0 { throw .lapack(routine: r, info: Int(info)) }
    return Int(rank)
}

/// LQ factorisation of the triangular-pentagonal matrix [A B] (`dtplqt`,
/// Fortran interface: LAPACKE has no wrapper): A is m x m lower triangular,
/// B is m x n with its last `l` columns lower trapezoidal (l = 0: B is a
/// general rectangle). On exit A holds L with [A B] = [L 0] Q, Q orthogonal,
/// so L L^T = A A^T + B B^T; B holds the reflectors, `t` (mb x m) the
/// compact-WY block factors. Blocked with row panels of `mb`: the trailing
/// rows are updated by `dtprfb` (GEMM-rich), ~2 n m^2 flops for l = 0.
func dtplqt(m: Int, n: Int, l: Int, mb: Int, a: UnsafeMutablePointer<Double>, lda: Int,
            b: UnsafeMutablePointer<Double>, ldb: Int, t: UnsafeMutablePointer<Double>, ldt: Int,
            work: UnsafeMutablePointer<Double>) throws(LinearAlgebraError) {
    let r = "dtplqt"
    var (m32, n32, l32, mb32) = (try blasInt(m, r), try blasInt(n, r), try blasInt(l, r), try blasInt(mb, r))
    var (la, lb, lt) = (try blasInt(max(lda, 1), r), try blasInt(max(ldb, 1), r), try blasInt(max(ldt, 1), r))
    if m == 0 || n == 0 { return }
    var info: Int32 = 0
    dtplqt_(&m32, &n32, &l32, &mb32, a, &la, b, &lb, t, &lt, work, &info)
    if info != 0 { throw .lapack(routine: r, info: Int(info)) }
}


internal import _CMPI

// Thin wrappers, one per ScaLAPACK/PBLAS call, on whole distributed
// matrices (IA = JA = 1) or a block of columns of the right-hand side.
// `info != 0` becomes `DistributedError.scalapack`. Shapes are the caller's
// responsibility.
enum ScaLAPACK {
    /// K = L L^T in place, lower triangle (`pdpotrf`).
    /// - Complexity: N^3 / 3 flops over P Q processes.
    static func potrf(_ a: inout BlockCyclicMatrix) throws {
        var n = Int32(a.rows), one: Int32 = 1, info: Int32 = 0
        let desc = a.descriptor
        a.local.withUnsafeMutableBufferPointer { p in pdpotrf_("L", &n, p.baseAddress, &one, &one, desc, &info) }
        guard info == 0 else { throw DistributedError.scalapack(routine: "pdpotrf", info: info) }
    }

    /// B[:, first ..< first + count] = (L L^T)^{-1} B[:, ...] (`pdpotrs`).
    /// - Complexity: 2 N^2 count flops over P Q processes.
    static func potrs(_ l: BlockCyclicMatrix, _ b: inout BlockCyclicMatrix, columns: Range<Int>) throws {
        guard !columns.isEmpty else { return }
        var n = Int32(l.rows), nrhs = Int32(columns.count), one: Int32 = 1, jb = Int32(columns.lowerBound + 1), info: Int32 = 0
        let (dl, db) = (l.descriptor, b.descriptor)
        l.local.withUnsafeBufferPointer { pl in
            b.local.withUnsafeMutableBufferPointer { pb in
                pdpotrs_("L", &n, &nrhs, pl.baseAddress, &one, &one, dl, pb.baseAddress, &one, &jb, db, &info)
            }
        }
        guard info == 0 else { throw DistributedError.scalapack(routine: "pdpotrs", info: info) }
    }

    /// B = op(L) B for the lower-triangular factor L (`pdtrmm`).
    /// - Complexity: N^2 C flops over P Q processes.
    static func trmm(_ l: BlockCyclicMatrix, _ b: inout BlockCyclicMatrix, transposed: Bool) throws {
        var m = Int32(b.rows), n = Int32(b.columns), one: Int32 = 1, alpha = 1.0
        guard m > 0, n > 0 else { return }
        let (dl, db) = (l.descriptor, b.descriptor)
        l.local.withUnsafeBufferPointer { pl in
            b.local.withUnsafeMutableBufferPointer { pb in
                pdtrmm_("L", "L", transposed ? "T" : "N", "N", &m, &n, &alpha, pl.baseAddress, &one, &one, dl,
                        pb.baseAddress, &one, &one, db)
            }
        }
    }

    /// The 1-norm of the symmetric matrix whose lower triangle `a` holds (`pdlansy`).
    static func oneNorm(_ a: BlockCyclicMatrix) -> Double {
        var n = Int32(a.rows), one: Int32 = 1
        // LWORK >= 2 Nq0 + Np0 + LDW with Np0, Nq0, LDW <= local sizes + 2 nb.
        let nb = a.blockSize
        var work = [Double](repeating: 0, count: 2 * (a.localColumns + 2 * nb) + 2 * (a.localRows + 2 * nb) + a.rows + 16)
        let desc = a.descriptor
        return a.local.withUnsafeBufferPointer { p in pdlansy_("1", "L", &n, p.baseAddress, &one, &one, desc, &work) }
    }

    /// An estimate of 1 / cond_1(K) from its factor and ||K||_1 (`pdpocon`).
    static func reciprocalCondition(_ l: BlockCyclicMatrix, oneNorm anorm: Double) throws -> Double {
        var n = Int32(l.rows), one: Int32 = 1, info: Int32 = 0, rcond = 0.0, anormValue = anorm
        let desc = l.descriptor
        var lwork: Int32 = -1, liwork: Int32 = -1
        var wq = [Double](repeating: 0, count: 1), iwq = [Int32](repeating: 0, count: 1)
        l.local.withUnsafeBufferPointer { p in
            pdpocon_("L", &n, p.baseAddress, &one, &one, desc, &anormValue, &rcond, &wq, &lwork, &iwq, &liwork, &info)
        }
        guard info == 0 else { throw DistributedError.scalapack(routine: "pdpocon", info: info) }
        lwork = Int32(wq[0]) + 1
        liwork = max(iwq[0], 1)
        var work = [Double](repeating: 0, count: Int(lwork)), iwork = [Int32](repeating: 0, count: Int(liwork))
        l.local.withUnsafeBufferPointer { p in
            pdpocon_("L", &n, p.baseAddress, &one, &one, desc, &anormValue, &rcond, &work, &lwork, &iwork, &liwork, &info)
        }
        guard info == 0 else { throw DistributedError.scalapack(routine: "pdpocon", info: info) }
        return rcond
    }
}

extension Double {
    /// (1 / self) / anorm, the inverse norm from pdpocon's reciprocal condition.
    func reciprocal(times anorm: Double) -> Double { self > 0 ? 1 / (self * anorm) : .infinity }
}

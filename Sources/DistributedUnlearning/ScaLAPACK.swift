// MPI, BLACS and ScaLAPACK have no place in LinearAlgebra (which must build
// without them): this module is their only Swift layer.
internal import _CMPI
import LinearAlgebra

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

    /// b[:, columns] = a (`pdgemr2d`): copies a distributed m x n matrix into
    /// a block of columns of another on the same grid, whatever the
    /// alignment; about m n / (P Q) values move per process.
    static func copy(_ a: BlockCyclicMatrix, into b: inout BlockCyclicMatrix, firstColumn: Int) {
        var m = Int32(a.rows), n = Int32(a.columns), one: Int32 = 1, jb = Int32(firstColumn + 1), ctxt = a.grid.context
        guard m > 0, n > 0 else { return }
        let (da, db) = (a.descriptor, b.descriptor)
        a.local.withUnsafeBufferPointer { pa in
            b.local.withUnsafeMutableBufferPointer { pb in
                pdgemr2d_(&m, &n, pa.baseAddress, &one, &one, da, pb.baseAddress, &one, &jb, db, &ctxt)
            }
        }
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

extension BlockCyclicMatrix {
    /// The widest block of right-hand sides handed to one PBLAS triangular
    /// call: a quarter of a block. PBLAS picks its pdtrsm/pdtrmm variant from
    /// a cost model of the shapes; on P x 1 grids, with more right-hand sides
    /// than about nb / 3, it picks one that moves the triangular matrix
    /// (measured on a 2 x 1 grid, N = 960, block 16: 7 right-hand sides sent
    /// 1.9 MB per process, about N^2 / 4 values, against 46 KB for 4; block
    /// 32: 15 against 10), which would cost a whole factor's traffic per
    /// request. Wider sets go in chunks of this width, each one more read of
    /// the local factor.
    var rightHandSideChunk: Int { max(1, blockSize / 4) }

    /// (L L^T)^{-1} B for a B every process holds (n x c), in chunks of
    /// `rightHandSideChunk` columns; the result on every process.
    /// - Complexity per process: 2 n^2 c / (P Q) flops; n c values reduced.
    func solveReplicated(_ rhs: Matrix) throws -> Matrix {
        try mapColumns(rhs) { b in try ScaLAPACK.potrs(self, &b, columns: 0..<b.columns) }
    }

    /// L (L^T B) = K B for a B every process holds, in chunks; the result on
    /// every process.
    /// - Complexity per process: 2 n^2 c / (P Q) flops; n c values reduced.
    func gramTimesReplicated(_ rhs: Matrix) throws -> Matrix {
        try mapColumns(rhs) { b in
            try ScaLAPACK.trmm(self, &b, transposed: true)
            try ScaLAPACK.trmm(self, &b, transposed: false)
        }
    }

    private func mapColumns(_ rhs: Matrix, _ body: (inout BlockCyclicMatrix) throws -> Void) throws -> Matrix {
        var out = Matrix(rows: rhs.rows, columns: rhs.columns)
        let width = rightHandSideChunk
        for lo in stride(from: 0, to: rhs.columns, by: width) {
            let cols = lo..<min(rhs.columns, lo + width)
            var b = try BlockCyclicMatrix(rows: rows, columns: cols.count, blockSize: blockSize, grid: grid)
            try b.fill(from: rhs.selectingColumns(cols))
            try body(&b)
            try out.setColumns(startingAt: lo, to: b.replicated())
        }
        return out
    }
}

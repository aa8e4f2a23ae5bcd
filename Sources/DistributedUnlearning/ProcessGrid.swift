// MPI, BLACS and ScaLAPACK have no place in LinearAlgebra (which must build
// without them): this module is their only Swift layer.
internal import _CMPI
import LinearAlgebra

/// A P x Q grid of the processes (a BLACS context), row-major: process
/// (p, q) is rank p Q + q. Every process of the job belongs to it.
public final class ProcessGrid: @unchecked Sendable {
    /// P, the number of process rows.
    public let rows: Int
    /// Q, the number of process columns.
    public let columns: Int
    /// This process's place in the grid.
    public let myRow: Int
    public let myColumn: Int
    public let communicator: Communicator
    let context: Int32

    /// Makes the P x Q grid.
    /// - Throws: `grid` unless P, Q >= 1 and P Q equals the number of processes.
    public init(communicator: Communicator, rows p: Int, columns q: Int) throws {
        guard p >= 1, q >= 1, p * q == communicator.size else {
            throw DistributedError.grid("a \(p) x \(q) grid needs \(p * q) processes; this job has \(communicator.size) (mpirun -np \(max(1, p * q)))")
        }
        var ctxt: Int32 = 0
        Cblacs_get(-1, 0, &ctxt)
        Cblacs_gridinit(&ctxt, "Row", Int32(p), Int32(q))
        var np: Int32 = 0, nq: Int32 = 0, mp: Int32 = 0, mq: Int32 = 0
        Cblacs_gridinfo(ctxt, &np, &nq, &mp, &mq)
        guard np == p, nq == q, mp >= 0, mq >= 0 else {
            throw DistributedError.grid("BLACS could not make a \(p) x \(q) grid (got \(np) x \(nq))")
        }
        rows = p
        columns = q
        myRow = Int(mp)
        myColumn = Int(mq)
        context = ctxt
        self.communicator = communicator
    }

    /// The grid with P >= Q closest to square for `processes`.
    public static func defaultShape(processes n: Int) -> (rows: Int, columns: Int) {
        var q = Int(Double(n).squareRoot())
        while q > 1 && n % q != 0 { q -= 1 }
        return (n / max(q, 1), max(q, 1))
    }

    /// Releases the BLACS context.
    public func release() { Cblacs_gridexit(context) }

    /// How many of `n` indices, dealt in blocks of `nb`, land on process
    /// `index` of `count` (ScaLAPACK's `numroc`, source process 0).
    static func localCount(_ n: Int, block nb: Int, index: Int, of count: Int) -> Int {
        let blocks = n / nb
        var local = (blocks / count) * nb
        let extra = blocks % count
        if index < extra { local += nb } else if index == extra { local += n % nb }
        return local
    }
}

/// An m x n matrix in 2-D block-cyclic distribution over a process grid, in
/// square blocks of `blockSize`: global entry (i, j) lies on process
/// ((i / nb) mod P, (j / nb) mod Q) at local position
/// ((i / (nb P)) nb + i mod nb, (j / (nb Q)) nb + j mod nb). The local part
/// is column-major with leading dimension max(1, localRows), as ScaLAPACK
/// expects (descriptor DTYPE 1, source process (0, 0)).
public struct BlockCyclicMatrix: @unchecked Sendable {
    public let rows: Int
    public let columns: Int
    public let blockSize: Int
    public let grid: ProcessGrid
    public let localRows: Int
    public let localColumns: Int
    /// This process's entries.
    public var local: [Double]
    var descriptor: [Int32]

    /// The zero matrix.
    /// - Throws: `invalidArgument` when a size does not fit ScaLAPACK's 32-bit integers.
    public init(rows m: Int, columns n: Int, blockSize nb: Int, grid: ProcessGrid) throws {
        guard m >= 0, n >= 0, nb >= 1, m < Int(Int32.max), n < Int(Int32.max) else {
            throw DistributedError.invalidArgument("a \(m) x \(n) matrix in blocks of \(nb) does not fit ScaLAPACK's 32-bit indices")
        }
        rows = m
        columns = n
        blockSize = nb
        self.grid = grid
        localRows = ProcessGrid.localCount(m, block: nb, index: grid.myRow, of: grid.rows)
        localColumns = ProcessGrid.localCount(n, block: nb, index: grid.myColumn, of: grid.columns)
        let (count, overflow) = max(1, localRows).multipliedReportingOverflow(by: localColumns)
        guard !overflow else { throw DistributedError.invalidArgument("a local block of \(localRows) x \(localColumns) overflows") }
        local = [Double](repeating: 0, count: count)
        var desc = [Int32](repeating: 0, count: 9)
        var info: Int32 = 0
        var (m32, n32, nb32, zero, ctxt, lld) = (Int32(m), Int32(n), Int32(nb), Int32(0), grid.context, Int32(max(1, localRows)))
        descinit_(&desc, &m32, &n32, &nb32, &nb32, &zero, &zero, &ctxt, &lld, &info)
        guard info == 0 else { throw DistributedError.scalapack(routine: "descinit", info: info) }
        descriptor = desc
    }

    /// The leading dimension of `local`.
    public var leadingDimension: Int { max(1, localRows) }

    /// The global row of local row `r`.
    public func globalRow(_ r: Int) -> Int {
        let nb = blockSize
        return ((r / nb) * grid.rows + grid.myRow) * nb + r % nb
    }

    /// The global column of local column `c`.
    public func globalColumn(_ c: Int) -> Int {
        let nb = blockSize
        return ((c / nb) * grid.columns + grid.myColumn) * nb + c % nb
    }

    /// The local row of global row `i`, when this process holds it.
    public func localRow(_ i: Int) -> Int? {
        let nb = blockSize
        guard (i / nb) % grid.rows == grid.myRow else { return nil }
        return (i / (nb * grid.rows)) * nb + i % nb
    }

    /// The local column of global column `j`, when this process holds it.
    public func localColumn(_ j: Int) -> Int? {
        let nb = blockSize
        guard (j / nb) % grid.columns == grid.myColumn else { return nil }
        return (j / (nb * grid.columns)) * nb + j % nb
    }

    /// The global rows of this process's local rows, in order.
    public var globalRows: [Int] { (0..<localRows).map(globalRow) }
    /// The global columns of this process's local columns, in order.
    public var globalColumns: [Int] { (0..<localColumns).map(globalColumn) }

    /// Takes this process's entries of a matrix every process holds.
    public mutating func fill(from m: Matrix) throws {
        guard m.rows == rows, m.columns == columns else {
            throw DistributedError.invalidArgument("a \(m.rows) x \(m.columns) matrix for a \(rows) x \(columns) distributed one")
        }
        let ld = leadingDimension
        let gr = globalRows
        for c in 0..<localColumns {
            let j = globalColumn(c)
            for r in 0..<localRows { local[r + c * ld] = m[gr[r], j] }
        }
    }

    /// The whole matrix on every process (each contributes its entries to an
    /// `MPI_Allreduce` sum of m n values).
    /// - Complexity: m n values reduced.
    public func replicated() throws -> Matrix {
        var all = [Double](repeating: 0, count: rows * columns)
        let ld = leadingDimension
        let gr = globalRows
        for c in 0..<localColumns {
            let j = globalColumn(c)
            for r in 0..<localRows { all[gr[r] + j * rows] = local[r + c * ld] }
        }
        try grid.communicator.sum(&all)
        return try Matrix(rows: rows, columns: columns, elements: all)
    }
}

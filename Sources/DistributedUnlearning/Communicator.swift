// MPI, BLACS and ScaLAPACK have no place in LinearAlgebra (which must build
// without them): this module is their only Swift layer.
internal import _CMPI
// The byte counters of the PMPI layer (`Traffic`).
internal import _CMPITraffic

/// What went wrong in the distributed engine.
public enum DistributedError: Error, CustomStringConvertible, Equatable {
    /// An MPI call returned an error code.
    case mpi(call: String, code: Int32)
    /// A ScaLAPACK routine returned `info != 0` (negative: argument -info
    /// was illegal; positive: e.g. the leading minor of that order is not
    /// positive definite in `pdpotrf`).
    case scalapack(routine: String, info: Int32)
    /// The process grid does not fit the processes.
    case grid(String)
    /// A request or a size the engine cannot honour.
    case invalidArgument(String)
    /// Another process failed; the message is its own.
    case remote(rank: Int, message: String)

    public var description: String {
        switch self {
        case let .mpi(call, code): return "\(call) failed with MPI error code \(code)"
        case let .scalapack(routine, info):
            if info < 0 { return "\(routine): argument \(-info) had an illegal value" }
            if routine == "pdpotrf" { return "pdpotrf: the leading minor of order \(info) is not positive definite (K is singular to working precision: duplicate samples, or M < N)" }
            return "\(routine) failed with info = \(info)"
        case let .grid(message): return message
        case let .invalidArgument(message): return message
        case let .remote(rank, message): return rank == 0 ? message : "process \(rank): \(message)"
        }
    }
}

/// MPI_COMM_WORLD: the processes started by `mpirun`, and the collective
/// operations the engine uses. Every method except `rank`/`size` is
/// collective: all processes call it, in the same order.
///
/// MPI is initialised with `MPI_THREAD_FUNNELED` (only the main thread calls
/// MPI; OpenBLAS threads never do) and finalised by `finalize()`.
public final class Communicator: @unchecked Sendable {
    /// This process's number, 0 ..< size.
    public let rank: Int
    /// The number of processes.
    public let size: Int
    private var finalized = false

    /// Initialises MPI (once per process).
    /// - Throws: `mpi` when MPI cannot start.
    public init() throws {
        var provided: Int32 = 0
        let code = MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided)
        guard code == MPI_SUCCESS else { throw DistributedError.mpi(call: "MPI_Init_thread", code: code) }
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(muso_mpi_comm_world(), &r)
        MPI_Comm_size(muso_mpi_comm_world(), &s)
        rank = Int(r)
        size = Int(s)
    }

    /// Ends MPI. Call once, after the last collective operation.
    public func finalize() {
        guard !finalized else { return }
        finalized = true
        MPI_Finalize()
    }

    /// Ends every process of the job with `code` (`MPI_Abort`): the way out
    /// when one process fails while the others may wait in a collective call.
    public func abort(code: Int32) -> Never {
        MPI_Abort(muso_mpi_comm_world(), code)
        fatalError("MPI_Abort returned")
    }

    /// Waits until every process has arrived.
    public func barrier() throws {
        try check(MPI_Barrier(muso_mpi_comm_world()), "MPI_Barrier")
    }

    /// Element-wise sum over all processes, in place (`MPI_Allreduce`, in
    /// chunks of 2^28 values so that counts fit MPI's 32-bit int).
    /// - Complexity: about 2 n (size - 1) / size values sent per process
    ///   (OpenMPI's ring or recursive doubling).
    public func sum(_ values: inout [Double]) throws {
        try values.withUnsafeMutableBufferPointer { p in try allreduce(p, muso_mpi_sum()) }
    }

    /// `sum` on a matrix's entries.
    public func sum(_ values: inout [Double], count: Int) throws {
        try values.withUnsafeMutableBufferPointer { p in
            try allreduce(UnsafeMutableBufferPointer(rebasing: p[0..<count]), muso_mpi_sum())
        }
    }

    /// The largest of each process's `value`.
    public func maximum(_ value: Double) throws -> Double {
        var v = [value]
        try v.withUnsafeMutableBufferPointer { p in try allreduce(p, muso_mpi_max()) }
        return v[0]
    }

    /// The sum of each process's integer `value`.
    public func sum(_ value: Int) throws -> Int {
        var v = [Int64(value)]
        try check(MPI_Allreduce(muso_mpi_in_place(), &v, 1, muso_mpi_int64(), muso_mpi_sum(), muso_mpi_comm_world()), "MPI_Allreduce")
        return Int(v[0])
    }

    /// Each process's `value`, indexed by rank.
    public func gather(_ value: Int) throws -> [Int] {
        var v = [Int64](repeating: 0, count: size)
        v[rank] = Int64(value)
        try check(MPI_Allreduce(muso_mpi_in_place(), &v, Int32(size), muso_mpi_int64(), muso_mpi_sum(), muso_mpi_comm_world()), "MPI_Allreduce")
        return v.map { Int($0) }
    }

    /// `root`'s bytes on every process (the length first, then the bytes in
    /// chunks of 1 GiB).
    public func broadcast(_ bytes: [UInt8], root: Int = 0) throws -> [UInt8] {
        var count = [Int64(rank == root ? bytes.count : 0)]
        try check(MPI_Bcast(&count, 1, muso_mpi_int64(), Int32(root), muso_mpi_comm_world()), "MPI_Bcast")
        var out = rank == root ? bytes : [UInt8](repeating: 0, count: Int(count[0]))
        let chunk = 1 << 30
        try out.withUnsafeMutableBytes { p in
            var lo = 0
            while lo < p.count {
                let n = min(chunk, p.count - lo)
                try check(MPI_Bcast(p.baseAddress! + lo, Int32(n), muso_mpi_byte(), Int32(root), muso_mpi_comm_world()), "MPI_Bcast")
                lo += n
            }
        }
        return out
    }

    /// Runs `body` on every process and agrees on the outcome: if it threw
    /// anywhere, every process throws `remote` naming the lowest failing
    /// rank and that process's message. Use around steps that can fail on
    /// some processes only (reading a file), so that no process is left
    /// waiting in a collective call.
    public func agree<R>(_ body: () throws -> R) throws -> R {
        var result: Result<R, any Error>
        do { result = .success(try body()) } catch { result = .failure(error) }
        var flags = [Double](repeating: 0, count: size)
        if case .failure = result { flags[rank] = 1 }
        try sum(&flags)
        guard let first = flags.firstIndex(where: { $0 != 0 }) else { return try result.get() }
        var message: [UInt8] = []
        if case let .failure(error) = result, rank == first { message = Array("\(error)".utf8) }
        let text = String(decoding: try broadcast(message, root: first), as: UTF8.self)
        throw DistributedError.remote(rank: first, message: text)
    }

    private func allreduce(_ p: UnsafeMutableBufferPointer<Double>, _ op: MPI_Op) throws {
        let chunk = 1 << 28
        var lo = 0
        while lo < p.count {
            let n = min(chunk, p.count - lo)
            try check(MPI_Allreduce(muso_mpi_in_place(), p.baseAddress! + lo, Int32(n), muso_mpi_double(), op, muso_mpi_comm_world()),
                      "MPI_Allreduce")
            lo += n
        }
    }

    private func check(_ code: Int32, _ call: String) throws {
        guard code == MPI_SUCCESS else { throw DistributedError.mpi(call: call, code: code) }
    }
}

/// Bytes this process has sent through MPI since the last `reset()`,
/// counted by a PMPI profiling layer (`_CMPITraffic`) that sees
/// ScaLAPACK's own messages as well as the engine's collectives.
public struct Traffic: Sendable, Equatable, Codable {
    /// Bytes passed to point-to-point sends (ScaLAPACK/BLACS).
    public var pointToPointBytes: Int
    public var pointToPointMessages: Int
    /// Payload bytes of this process's collective calls (Allreduce, Bcast,
    /// Reduce), once per call: the algorithm inside moves about twice that.
    public var collectiveBytes: Int
    public var collectiveCalls: Int

    /// The counters now.
    public static func read() -> Traffic {
        var t = muso_mpi_traffic()
        muso_mpi_traffic_read(&t)
        return Traffic(pointToPointBytes: Int(t.pointToPointBytes), pointToPointMessages: Int(t.pointToPointMessages),
                       collectiveBytes: Int(t.collectiveBytes), collectiveCalls: Int(t.collectiveCalls))
    }

    /// Sets the counters to zero.
    public static func reset() { muso_mpi_traffic_reset() }

    /// The counts accumulated between `earlier` and `self`.
    public func since(_ earlier: Traffic) -> Traffic {
        Traffic(pointToPointBytes: pointToPointBytes - earlier.pointToPointBytes,
                pointToPointMessages: pointToPointMessages - earlier.pointToPointMessages,
                collectiveBytes: collectiveBytes - earlier.collectiveBytes,
                collectiveCalls: collectiveCalls - earlier.collectiveCalls)
    }
}

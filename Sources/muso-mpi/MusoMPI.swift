import ArgumentParser
import DistributedUnlearning
import Foundation
import LinearAlgebra
import MusoCLI
import Unlearning
import UnlearningIO

@main
struct MusoMPI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "muso-mpi",
        abstract: "Exact machine unlearning on a grid of MPI processes (OpenMPI + ScaLAPACK).",
        discussion: """
        Run under mpirun: mpirun -np P*Q muso-mpi train|forget|inspect|export ... [--grid PxQ]. \
        The Gram matrix K and its Cholesky factor are spread over a P x Q grid in 2-D block-cyclic \
        blocks; each process generates the feature rows its blocks need from the inputs and the seed \
        (or reads its rows of a .npy feature file), so nothing of Phi crosses the network. Deletion \
        requests are exact (the result equals retraining without the samples, to rounding) and do \
        not refactorise until the forgotten set passes a limit (see forget --help). The model is a \
        directory: a manifest and each process's blocks, written atomically with a journal. Flags \
        and outputs follow muso's where they apply.
        """,
        subcommands: [Train.self, Forget.self, Inspect.self, Export.self]
    )

    /// ArgumentParser's own entry, with the engine's progress reports sent
    /// to stderr's display while the command runs (rank 0 only draws).
    static func main() { mainObservingProgress() }
}

/// The grid shape, "PxQ".
struct GridShape: ExpressibleByArgument {
    var rows: Int
    var columns: Int
    init?(argument: String) {
        let parts = argument.lowercased().split(separator: "x")
        guard parts.count == 2, let p = Int(parts[0]), let q = Int(parts[1]), p >= 1, q >= 1, p <= 65536, q <= 65536 else { return nil }
        rows = p
        columns = q
    }
}

/// Options of every subcommand.
struct MPIOptions: ParsableArguments {
    @Option(help: "The process grid PxQ (P Q = the number of processes; default: the most nearly square with P >= Q).")
    var grid: GridShape?

    @Flag(help: "Print machine-readable JSON on stdout (rank 0) instead of text.")
    var json = false

    @Option(help: "BLAS threads per process (default: OpenBLAS's choice).")
    var threads: Int?

    @Flag(help: "Print progress lines on stderr (rank 0) even when it is not a terminal. On a terminal rank 0 draws a progress bar anyway.")
    var progress = false

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }
}

/// Runs `body` with MPI initialised on every process, then finalises. A
/// failure every process agrees on (`DistributedError.remote`, and checks
/// made alike on every process before any collective work) is printed once
/// by rank 0 and ends every process with status 1; any other failure is
/// printed by the process it happened on, which then aborts the job
/// (`MPI_Abort`) so that no process waits forever in a collective call.
/// Files are only ever replaced atomically, so an abort loses nothing.
func withMPI(_ options: MPIOptions, _ body: (Communicator) throws -> Void) throws {
    if let threads = options.threads { BLASThreads.count = threads }
    let comm = try Communicator()
    if comm.rank != 0 { Progress.display.mode = .quiet } else if options.progress { Progress.requestLines() }
    do {
        try body(comm)
        comm.finalize()
    } catch let error as DistributedError {
        if case .remote = error {
            if comm.rank == 0 { FileHandle.standardError.write(Data("Error: \(error)\n".utf8)) }
            comm.finalize()
            throw ExitCode(1)
        }
        FileHandle.standardError.write(Data("Error (process \(comm.rank)): \(error)\n".utf8))
        comm.abort(code: 1)
    } catch {
        FileHandle.standardError.write(Data("Error (process \(comm.rank)): \(error)\n".utf8))
        comm.abort(code: 1)
    }
}

/// Text on stdout from rank 0 only.
func say(_ comm: Communicator, _ text: String) {
    if comm.rank == 0 { print(text) }
}

func sayJSON(_ comm: Communicator, _ value: [String: Any]) throws {
    if comm.rank == 0 { try printJSON(value) }
}

/// Every process's traffic since `start`, gathered (collective).
func trafficJSON(_ comm: Communicator, since start: Traffic) throws -> [String: Any] {
    let t = Traffic.read().since(start)
    return ["point_to_point_bytes": try comm.gather(t.pointToPointBytes),
            "point_to_point_messages": try comm.gather(t.pointToPointMessages),
            "collective_bytes": try comm.gather(t.collectiveBytes),
            "collective_calls": try comm.gather(t.collectiveCalls)]
}

/// The peak resident memory of each process, bytes (collective).
func peakMemory(_ comm: Communicator) throws -> [Int] {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return try comm.gather(Int(usage.ru_maxrss) * 1024)
}

func resolveNPY(_ path: String) throws -> FeatureSource { FeatureSource.provided(by: try NPYFile(path: path)) }

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fit the min-norm random-feature model on the process grid and write a model directory.",
        discussion: """
        The model of muso train (dual form; M >= N or --ridge > 0), with K = Phi Phi^T + eps I \
        accumulated block by block on each process, factored by pdpotrf and solved by pdpotrs. \
        Every process reads the data (or its rows of a .npy feature matrix).

        Example:
          mpirun -np 4 muso-mpi train --grid 2x2 --classes 0,6 --limit 4000 --features 16000 --output pair.mpimodel
        """
    )

    @OptionGroup var data: DataOptions
    @OptionGroup var spec: ModelOptions
    @OptionGroup var mpi: MPIOptions

    @Option(help: "Block size of the block-cyclic distribution.")
    var blockSize = 128

    @Option(help: "Refactorise when a request would bring the forgotten samples past this fraction of N (see forget --help).")
    var refactorFraction = 0.1

    @Option(name: [.customShort("o"), .long], help: "The model directory to write.")
    var output: String

    func validate() throws {
        guard blockSize >= 1, blockSize <= 65536 else { throw ValidationError("--block-size must be between 1 and 65536") }
        guard refactorFraction > 0, refactorFraction <= 1 else { throw ValidationError("--refactor-fraction must be in (0, 1]") }
        // Each process generates its own rows in double; the float32 form is
        // the single engine's (muso train).
        guard spec.featureStorage == .float64 else { throw ValidationError("--feature-storage float32 is not supported by muso-mpi (use muso train)") }
    }

    func run() throws {
        try withMPI(mpi) { comm in
            let start = Traffic.read()
            let prepared = try comm.agree { try PreparedTraining(data: data, model: spec, materializing: false) }
            let shape = mpi.grid.map { ($0.rows, $0.columns) } ?? ProcessGrid.defaultShape(processes: comm.size)
            let grid = try ProcessGrid(communicator: comm, rows: shape.0, columns: shape.1)
            let lock = try comm.agree { () -> FileLock? in
                guard comm.rank == 0 else { return nil }
                try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
                return try FileLock.acquire(DistributedModelStore.manifestPath(output), wait: 0)
            }
            defer { lock?.release() }
            let (fitted, seconds) = try timed {
                try comm.agree {
                    try DistributedModel(features: prepared.source, rows: prepared.rows, targets: prepared.targets, ids: prepared.loaded.ids,
                                         initialParameters: prepared.initialParameters, ridge: spec.ridge, grid: grid, blockSize: blockSize)
                }
            }
            var model = fitted
            model.refactorFraction = refactorFraction
            let trainTraffic = try trafficJSON(comm, since: start)
            let predicted = prepared.coding.predictedClasses(try model.fittedOutputs(), classes: prepared.classes)
            let trainAccuracy = accuracy(predicted, prepared.loaded.labels)
            let metadata = DistributedModelStore.Metadata(featureMap: prepared.mapDescription, data: prepared.loaded.description,
                                                          coding: prepared.coding)
            try DistributedModelStore.save(&model, metadata: metadata, to: output, previous: nil)
            let memory = try peakMemory(comm)
            let m = model.featureCount
            if mpi.json {
                try sayJSON(comm, ["model": output, "samples": model.sampleCount, "features": m, "outputs": model.outputCount,
                                   "classes": prepared.classes, "coding": prepared.coding.rawValue, "form": "dual", "ridge": spec.ridge,
                                   "feature_map": prepared.mapDescription.kind.rawValue, "bandwidth": prepared.mapDescription.bandwidth as Any,
                                   "fit_seconds": seconds, "condition_estimate": model.conditionEstimate, "train_accuracy": trainAccuracy,
                                   "grid": [grid.rows, grid.columns], "block_size": blockSize, "processes": comm.size,
                                   "traffic": trainTraffic, "peak_memory_bytes": memory])
            } else {
                say(comm, "trained \(output): N = \(model.sampleCount), M = \(m), C = \(model.outputCount) (\(prepared.coding.rawValue), classes \(prepared.classes.map(String.init).joined(separator: ",")))")
                say(comm, "  dual form on a \(grid.rows) x \(grid.columns) process grid, block \(blockSize), ridge \(spec.ridge), \(prepared.mapDescription.kind) features\(prepared.mapDescription.bandwidth.map { String(format: ", bandwidth %.4g", $0) } ?? "")")
                say(comm, String(format: "  fit %.2f s, cond(K) estimate %.3e, training accuracy %.4f", seconds, model.conditionEstimate, trainAccuracy))
            }
        }
    }
}

struct Forget: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply one deletion request to a distributed model, exactly, and write it back.",
        discussion: """
        Keeps the factor L of the original K and the columns W = K^{-1} E_F of every forgotten \
        position; a request adds its k columns (pdpotrs, 2 N^2 k / (P Q) flops per process) and k rows \
        to the Cholesky factor of S = W[F, :], and the retained dual is A0 - W S^{-1} A0[F], exactly the \
        retrained one. When the forgotten set would pass min(f N, N / sqrt(P Q)) (f = the model's \
        refactor fraction), or with --refactor, the model is refitted on the retained samples instead: \
        then nothing in the saved files derives from the forgotten samples. The request and its \
        certificate (the stationarity residual from the distributed factor) go to the journal. The \
        model's lock is held throughout (--wait as in muso forget); a retry of a completed request \
        is reported as already applied; a process killed at any point leaves the previous model loadable.
        """
    )

    @Argument(help: "The model directory.")
    var model: String

    @OptionGroup var requestOptions: RequestOptions

    @Flag(help: "Refit on the retained samples now (removes every trace of the forgotten samples from the files).")
    var refactor = false

    @OptionGroup var mpi: MPIOptions

    func run() throws {
        try withMPI(mpi) { comm in
            let request = try comm.agree { try requestOptions.requestedIDs() }
            let (wait, verify, acceptUnverified) = (requestOptions.wait, requestOptions.verify, requestOptions.acceptUnverified)
            let lock = try comm.agree { () -> FileLock? in
                comm.rank == 0 ? try FileLock.acquire(DistributedModelStore.manifestPath(model), wait: wait) : nil
            }
            defer { lock?.release() }
            FaultInjection.point("after-lock")
            var (loaded, grid) = try DistributedModelStore.load(from: model, communicator: comm, gridShape: mpi.grid.map { ($0.rows, $0.columns) },
                                                                npyResolver: resolveNPY, cleaning: true)
            FaultInjection.point("after-read")
            switch RequestStatus.of(request, in: loaded.metadata.journal) {
            case let .alreadyApplied(entry):
                if mpi.json {
                    try sayJSON(comm, ["model": model, "already_applied": true, "request": entry.sequence, "ids": entry.ids,
                                       "samples_after": loaded.model.sampleCount, "certificate": certificateJSON(entry.certificate)])
                } else {
                    say(comm, "already applied: these \(entry.ids.count) ids were forgotten by request #\(entry.sequence) of \(entry.time); \(model) unchanged")
                }
                return
            case let .overlaps(ids, entry):
                throw DistributedError.remote(rank: 0, message: overlapMessage(ids, entry))
            case .new:
                break
            }
            let when = Date()
            var oracle: Matrix?
            if verify {
                let gone = Set(request)
                let keep = loaded.model.retainedPositions.filter { !gone.contains(loaded.model.ids[$0]) }
                let retrained = try comm.agree {
                    try DistributedModel(features: loaded.model.features, rows: keep.map { loaded.model.rows[$0] },
                                         targets: loaded.model.targets.selectingRows(keep), ids: keep.map { loaded.model.ids[$0] },
                                         initialParameters: loaded.model.initialParameters, ridge: loaded.model.ridge,
                                         grid: grid, blockSize: loaded.model.blockSize)
                }
                oracle = retrained.parameters
            }
            let start = Traffic.read()
            var (result, seconds) = try timed { try comm.agree { try loaded.model.forget(ids: request, refactorize: refactor) } }
            let requestTraffic = try trafficJSON(comm, since: start)
            if let oracle {
                let theta0 = loaded.model.initialParameters
                result.certificate.oracleDistance = try Matrix.relativeDistance(loaded.model.parameters - theta0, oracle - theta0)
                result.certificate.oracleRoute = .cholesky
            }
            if case .unverified = result.certificate.verdict, !acceptUnverified {
                throw DistributedError.remote(rank: 0, message: "the request was not applied: its certificate fails (\(result.certificate.verdict)); \(model) unchanged. Pass --accept-unverified to apply it anyway, labelled unverified")
            }
            FaultInjection.point("after-compute")
            let sequence = loaded.metadata.journal.count + 1
            var metadata = loaded.metadata
            metadata.journal.append(JournalEntry(sequence: sequence, ids: result.forgottenIDs, time: when,
                                                 method: result.refactorized ? .refit : .closedForm, seconds: seconds,
                                                 samplesAfter: loaded.model.sampleCount, certificate: result.certificate))
            try DistributedModelStore.save(&loaded.model, metadata: metadata, to: model, previous: loaded)
            let memory = try peakMemory(comm)
            if mpi.json {
                try sayJSON(comm, ["model": model, "forgotten": result.forgottenIDs.count, "ids": result.forgottenIDs,
                                   "samples_after": loaded.model.sampleCount, "seconds": seconds, "request": sequence,
                                   "refactorized": result.refactorized, "forgotten_since_factorization": loaded.model.forgottenPositions.count,
                                   "refactor_limit": loaded.model.refactorLimit, "certificate": certificateJSON(result.certificate),
                                   "traffic": requestTraffic, "peak_memory_bytes": memory, "grid": [grid.rows, grid.columns]])
            } else {
                say(comm, "forgot \(result.forgottenIDs.count) samples in \(format(seconds, "%.3f")) s (request #\(sequence), \(result.refactorized ? "refitted" : "closed form")); \(loaded.model.sampleCount) remain; wrote \(model)")
                if let d = result.certificate.oracleDistance { say(comm, "  relative parameter distance to retraining: \(format(d))") }
                say(comm, "  certificate: \(result.certificate)")
            }
        }
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a distributed model: its shape, grid, features, data, and the journal of deletion requests."
    )

    @Argument(help: "The model directory.")
    var model: String

    @Flag(help: "List the ids of the samples the model holds, one per line, and nothing else.")
    var listIds = false

    @OptionGroup var mpi: MPIOptions

    func run() throws {
        try withMPI(mpi) { comm in
            let (loaded, grid) = try DistributedModelStore.load(from: model, communicator: comm, gridShape: mpi.grid.map { ($0.rows, $0.columns) },
                                                                npyResolver: resolveNPY)
            let m = loaded.model, meta = loaded.metadata
            let certificate = try m.certify()
            if listIds {
                if mpi.json { try sayJSON(comm, ["ids": m.retainedIDs]) } else { say(comm, m.retainedIDs.map(String.init).joined(separator: "\n")) }
                return
            }
            if mpi.json {
                try sayJSON(comm, [
                    "model": model, "created": meta.createdAt, "form": "dual", "samples": m.sampleCount, "features": m.featureCount,
                    "outputs": m.outputCount, "ridge": m.ridge, "coding": meta.coding.rawValue, "grid": [grid.rows, grid.columns],
                    "block_size": m.blockSize, "factored_samples": m.rows.count, "forgotten_since_factorization": m.forgottenPositions.count,
                    "refactor_limit": m.refactorLimit, "factorizations": m.factorizations,
                    "feature_map": ["kind": meta.featureMap.kind.rawValue, "input_dimension": meta.featureMap.inputDimension as Any,
                                    "bandwidth": meta.featureMap.bandwidth as Any, "path": meta.featureMap.path as Any],
                    "data": ["kind": meta.data.kind.rawValue, "path": meta.data.path as Any, "classes": meta.data.classes, "limit": meta.data.limit as Any],
                    "condition_estimate": m.conditionEstimate, "certificate": certificateJSON(certificate),
                    "journal": journalJSON(meta.journal),
                ])
                return
            }
            say(comm, "\(model): created \(meta.createdAt)")
            say(comm, "  dual form, N = \(m.sampleCount) samples, M = \(m.featureCount) features, C = \(m.outputCount) outputs (\(meta.coding.rawValue)), ridge \(m.ridge)")
            say(comm, "  \(grid.rows) x \(grid.columns) process grid, block \(m.blockSize); factor of \(m.rows.count) samples (\(m.factorizations) factorisation(s)), \(m.forgottenPositions.count) forgotten since (refactor past \(m.refactorLimit))")
            say(comm, "  features: \(meta.featureMap.kind)\(meta.featureMap.inputDimension.map { ", d = \($0)" } ?? "")\(meta.featureMap.path.map { ", file \($0)" } ?? "")")
            say(comm, "  data: \(meta.data.kind)\(meta.data.path.map { " (\($0))" } ?? ""), classes \(meta.data.classes.map(String.init).joined(separator: ","))")
            say(comm, "  cond(K) estimate: \(format(m.conditionEstimate)); state now: \(certificate)")
            for line in journalLines(meta.journal) { say(comm, line) }
        }
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a distributed model's arrays as .npy files (rank 0), as muso export does.",
        discussion: """
        Writes to DIR: theta0.npy and theta.npy (M x C), ids.npy, targets.npy and dual.npy (retained \
        samples, N x C), inputs.npy (retained samples), and the feature map's parameters \
        (frequencies.npy, or weights.npy and biases.npy), with model.json.
        """
    )

    @Argument(help: "The model directory.")
    var model: String

    @Option(help: "The directory to write (created if needed).")
    var to: String

    @OptionGroup var mpi: MPIOptions

    func run() throws {
        try withMPI(mpi) { comm in
            let (loaded, _) = try DistributedModelStore.load(from: model, communicator: comm, gridShape: mpi.grid.map { ($0.rows, $0.columns) },
                                                             npyResolver: resolveNPY)
            try comm.agree {
                guard comm.rank == 0 else { return }
                let m = loaded.model, meta = loaded.metadata
                let kept = m.retainedPositions
                try FileManager.default.createDirectory(atPath: to, withIntermediateDirectories: true)
                var written: [String] = []
                func put(_ name: String, _ matrix: Matrix) throws {
                    try NPY.write(matrix, to: "\(to)/\(name).npy"); written.append("\(name).npy")
                }
                try put("theta0", m.initialParameters)
                try put("theta", m.parameters)
                try put("targets", m.targets.selectingRows(kept))
                try put("dual", m.dual.selectingRows(kept))
                try NPY.write(m.retainedIDs, to: "\(to)/ids.npy"); written.append("ids.npy")
                if let x = m.features.inputs { try put("inputs", x.selectingRows(kept.map { m.rows[$0] })) }
                if let arrays = featureMapArrays(m.features.featureMap) {
                    for (name, matrix) in arrays { try put(name, matrix) }
                } else {
                    try NPY.write(kept.map { m.rows[$0] }, to: "\(to)/feature_rows.npy"); written.append("feature_rows.npy")
                }
                let info: [String: Any] = sanitize([
                    "form": "dual", "ridge": m.ridge, "samples": m.sampleCount, "features": m.featureCount, "outputs": m.outputCount,
                    "coding": meta.coding.rawValue, "classes": meta.data.classes,
                    "feature_map": ["kind": meta.featureMap.kind.rawValue, "input_dimension": meta.featureMap.inputDimension as Any,
                                    "bandwidth": meta.featureMap.bandwidth as Any, "path": meta.featureMap.path as Any],
                    "journal": meta.journal.map { ["request": $0.sequence, "ids": $0.ids, "time": $0.time] as [String: Any] },
                    "files": written + ["model.json"],
                ]) as! [String: Any]
                let json = try JSONSerialization.data(withJSONObject: info, options: [.prettyPrinted, .sortedKeys])
                try AtomicFile.write([UInt8](json), to: "\(to)/model.json")
                if mpi.json { try printJSON(["directory": to, "files": written + ["model.json"]]) } else {
                    print("exported \(model) to \(to): \((written + ["model.json"]).joined(separator: ", "))")
                }
            }
        }
    }
}

import ArgumentParser
import Foundation
import LinearAlgebra
import Unlearning
import UnlearningIO
import MusoCLI

enum RouteChoice: String, ExpressibleByArgument, CaseIterable {
    case cholesky, pseudoInverse = "pseudo-inverse"
    var route: RetrainingRoute { self == .cholesky ? .cholesky : .pseudoInverse }
}

struct Forget: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply one deletion request: forget samples by id, exactly, and write the new model.",
        discussion: """
        The closed-form update Delta A = -G[:,F] G[F,F]^{-1} A[F] (G = K^{-1}) with Givens deletion of \
        the Cholesky factor (dual form), or a rank-k downdate (primal form): the new model equals \
        the model retrained without these samples, to rounding, at O(N^2 k) cost. The request, its \
        time and its certificate are appended to the model's journal (see `muso inspect`). The file \
        is replaced atomically under the model's lock (a concurrent request waits --wait seconds \
        or is refused as busy), keeping its mode, owner and symbolic link. A retry of a completed \
        request is reported as already applied; a request overlapping a completed one in part is \
        refused. The model is checked against its data when read, and the request is refused, \
        with the file unchanged, when its certificate fails its bounds (--accept-unverified \
        applies it, labelled UNVERIFIED).
        """
    )

    @Argument(help: "The model file.")
    var model: String

    @OptionGroup var requestOptions: RequestOptions

    @Option(help: "Retraining route for --verify (\(RouteChoice.allCases.map(\.rawValue).joined(separator: ", "))).")
    var route: RouteChoice = .cholesky

    @Option(name: [.customShort("o"), .long], help: "Write the new model here instead of replacing MODEL.")
    var output: String?

    @OptionGroup var common: CommonOptions

    func run() throws {
        common.apply()
        let request = try requestOptions.requestedIDs()
        let (wait, verify, acceptUnverified) = (requestOptions.wait, requestOptions.verify, requestOptions.acceptUnverified)
        // The whole read-modify-write holds the model's lock (and the
        // output's, when it is another file): concurrent requests are applied
        // one after the other, never one over the other.
        let lock = try FileLock.acquire(model, wait: wait)
        defer { lock.release() }
        let target = output ?? model
        var outputLock: FileLock?
        if output != nil, try AtomicFile.resolvedTarget(target) != lock.target {
            outputLock = try FileLock.acquire(target, wait: wait)
        }
        defer { outputLock?.release() }
        var file = try readModel(model)
        FaultInjection.point("after-read")
        switch RequestStatus.of(request, in: file.journal) {
        case let .alreadyApplied(entry):
            if output == nil {
                // A retry of a completed request: nothing to do, and success.
                if common.json {
                    try printJSON(["model": model, "already_applied": true, "request": entry.sequence, "ids": entry.ids,
                                   "samples_after": file.model.sampleCount, "certificate": certificateJSON(entry.certificate)])
                } else {
                    print("already applied: these \(entry.ids.count) ids were forgotten by request #\(entry.sequence) of \(entry.time); \(model) unchanged")
                }
                return
            }
            throw Failure("the ids were already forgotten by request #\(entry.sequence) of \(entry.time); nothing to write to \(target)")
        case let .overlaps(ids, entry):
            throw Failure(overlapMessage(ids, entry))
        case .new:
            break
        }
        Progress.report("forgetting \(request.count) samples")
        let when = Date()
        // --verify: retrain first (timed apart from the request), then hold
        // the request's result to it before anything is written.
        var oracle: Matrix?
        if verify {
            Progress.report("retraining from scratch (\(route.rawValue)) to verify")
            oracle = try file.model.retrainedParameters(excluding: request, route: route.route)
        }
        var (result, seconds) = try timed {
            do {
                return try file.model.forget(ids: request, acceptingUnverified: acceptUnverified)
            } catch let UnlearningError.unverifiedResult(certificate) {
                throw Failure("the request was not applied: its certificate fails (\(certificate.verdict)); \(model) unchanged. Check the model (muso inspect), or pass --accept-unverified to apply it anyway, labelled unverified")
            }
        }
        if let oracle {
            result.certificate.oracleDistance = try file.model.distance(of: file.model.parameters(), toRetrained: oracle)
            result.certificate.oracleRoute = route.route
            if case .unverified = result.certificate.verdict, !acceptUnverified {
                throw Failure("the request was not applied: retraining disagrees (\(result.certificate.verdict)); \(model) unchanged")
            }
        }
        FaultInjection.point("after-compute")
        let sequence = file.journal.count + 1
        file.journal.append(JournalEntry(sequence: sequence, ids: result.forgottenIDs, time: when,
                                         method: .closedForm, seconds: seconds, samplesAfter: file.model.sampleCount,
                                         certificate: result.certificate))
        Progress.report("writing \(target)")
        try file.write(to: target, replacing: output == nil ? file.sourceIdentity : nil)
        if common.json {
            try printJSON(["model": target, "forgotten": result.forgottenIDs.count, "ids": result.forgottenIDs,
                           "samples_after": file.model.sampleCount, "seconds": seconds, "request": sequence,
                           "certificate": certificateJSON(result.certificate)])
        } else {
            print("forgot \(result.forgottenIDs.count) samples in \(format(seconds, "%.3f")) s (request #\(sequence)); \(file.model.sampleCount) remain; wrote \(target)")
            if let d = result.certificate.oracleDistance {
                print("  relative parameter distance to retraining (\(route.rawValue)): \(format(d))")
            }
            print("  certificate: \(result.certificate)")
        }
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model file: its shape, features, data, and the journal of deletion requests."
    )

    @Argument(help: "The model file.")
    var model: String

    @Flag(help: "List the ids of the samples the model holds, one per line, and nothing else.")
    var listIds = false

    @OptionGroup var common: CommonOptions

    func run() throws {
        let file = try readModel(model)
        let m = file.model
        if listIds {
            if common.json { try printJSON(["ids": m.ids]) } else { print(m.ids.map(String.init).joined(separator: "\n")) }
            return
        }
        if common.json {
            try printJSON([
                "model": model, "created": file.createdAt, "form": m.form.rawValue, "samples": m.sampleCount,
                "features": m.featureCount, "outputs": m.outputCount, "ridge": m.ridge, "coding": file.coding.rawValue,
                "feature_map": ["kind": file.featureMap.kind.rawValue, "input_dimension": file.featureMap.inputDimension as Any,
                                "bandwidth": file.featureMap.bandwidth as Any, "seed": file.featureMap.seed.map { Int(truncatingIfNeeded: $0) } as Any,
                                "path": file.featureMap.path as Any],
                "data": ["kind": file.data.kind.rawValue, "path": file.data.path as Any, "classes": file.data.classes,
                         "limit": file.data.limit as Any, "seed": file.data.seed.map { Int(truncatingIfNeeded: $0) } as Any],
                "condition_estimate_at_fit": m.fittedConditionEstimate,
                "journal": journalJSON(file.journal),
            ])
            return
        }
        print("\(model): created \(file.createdAt)")
        print("  \(m.form.rawValue) form, N = \(m.sampleCount) samples, M = \(m.featureCount) features, C = \(m.outputCount) outputs (\(file.coding.rawValue)), ridge \(m.ridge)")
        var mapLine = "  features: \(file.featureMap.kind)"
        if let d = file.featureMap.inputDimension { mapLine += ", d = \(d)" }
        if let b = file.featureMap.bandwidth { mapLine += String(format: ", bandwidth %.4g", b) }
        if let s = file.featureMap.seed { mapLine += ", seed \(s)" }
        if let p = file.featureMap.path { mapLine += ", file \(p)" }
        print(mapLine)
        print("  data: \(file.data.kind)\(file.data.path.map { " (\($0))" } ?? ""), classes \(file.data.classes.map(String.init).joined(separator: ","))\(file.data.limit.map { ", subset of \($0)" } ?? "")")
        print("  cond(K) estimate at fit: \(format(m.fittedConditionEstimate))")
        for line in journalLines(file.journal) { print(line) }
    }
}

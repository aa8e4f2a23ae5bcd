import Foundation
import Testing
import LinearAlgebra
import Unlearning
import TestSupport

/// Collects the events a handler receives (the handler is @Sendable).
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [WorkProgress.Event] = []
    func append(_ e: WorkProgress.Event) { lock.withLock { events.append(e) } }
    var all: [WorkProgress.Event] { lock.withLock { events } }
}

@Suite("Progress reports of the engine")
struct ProgressTests {
    @Test("an observed fit reports every feature block of the Gram pass and the factorisation, and gives the same model")
    func fitReports() throws {
        let p = try SyntheticProblem(samples: 60, features: 250, outputs: 2, seed: 31)
        var source = try p.source().materialize()
        source.blockSize = 64
        let plain = try MinNormModel(features: source, targets: p.targets, initialParameters: p.theta0)
        let log = EventLog()
        let watched = try WorkProgress.observing({ log.append($0) }) {
            try MinNormModel(features: source, targets: p.targets, initialParameters: p.theta0)
        }
        // Held features are accumulated block by block when observed: the
        // same K to rounding (DSYRK on the whole matrix against 4 blocks).
        #expect(try watched.distance(of: watched.parameters(), toRetrained: plain.parameters()) <= 1e-10)
        let gram = log.all.filter { $0.task.hasPrefix("Gram matrix K (60 x 60)") }
        // ceil(250 / 64) = 4 blocks, reported 0, 1, 2, 3, 4.
        #expect(gram.map(\.completed) == [0, 1, 2, 3, 4])
        #expect(gram.allSatisfy { $0.total == 4 && $0.unit == "blocks" })
        let factor = log.all.filter { $0.task.hasPrefix("Cholesky factorisation (60 x 60)") }
        #expect(factor.map(\.completed) == [0, 1])
        // Nothing is reported outside `observing`.
        let before = log.all.count
        _ = try MinNormModel(features: source, targets: p.targets, initialParameters: p.theta0)
        #expect(log.all.count == before)
    }

    @Test("a batched deletion reports one step; Givens sequences one at a time report each row")
    func deletionReports() throws {
        let p = try SyntheticProblem(samples: 50, features: 200, outputs: 1, seed: 32)
        var model = try MinNormModel(features: p.source(), targets: p.targets, initialParameters: p.theta0)
        let log = EventLog()
        // Three positions go through the one-pass rank-k update: a step.
        try WorkProgress.observing({ log.append($0) }) { _ = try model.forget(ids: [3, 9, 17]) }
        let step = log.all.filter { $0.task.hasPrefix("deleting 3 rows") }
        #expect(step.map(\.completed) == [0, 1])
        #expect(step.allSatisfy { $0.total == 1 })
        // Forced Givens: one sequence per row, each reported.
        var factor = try Cholesky(factoring: p.source().gram(rows: Array(0..<50)))
        let rowLog = EventLog()
        try WorkProgress.observing({ rowLog.append($0) }) { try factor.delete(indices: [4, 20, 33], method: .givens) }
        let rows = rowLog.all.filter { $0.task.hasPrefix("deleting 3 rows") }
        #expect(rows.map(\.completed) == [0, 1, 2, 3])
        #expect(rows.last?.isFinished == true)
    }
}

import ArgumentParser
import Foundation
import Unlearning
import UnlearningIO

/// The options of a deletion request, shared by `muso forget` and
/// `muso-mpi forget`.
package struct RequestOptions: ParsableArguments {
    package init() {}

    @Option(help: "Ids to forget, comma-separated.")
    package var ids: String?

    @Option(help: "A file of ids to forget (separated by commas, spaces or newlines; # starts a comment).")
    package var idsFile: String?

    @Flag(help: "Also retrain from scratch and report the relative parameter distance.")
    package var verify = false

    @Option(help: "Wait up to this many seconds for another request on the same model to finish (default 0: refuse at once with a 'busy' error).")
    package var wait: Double = 0

    @Flag(help: "Apply the request even when its certificate fails its bounds; the journal then records it as UNVERIFIED.")
    package var acceptUnverified = false

    package func validate() throws {
        if (ids == nil) == (idsFile == nil) { throw ValidationError("give exactly one of --ids and --ids-file") }
        if !(wait >= 0 && wait <= 86400) { throw ValidationError("--wait must be between 0 and 86400 seconds") }
    }

    /// The ids requested: parsed strictly, at least one, none twice.
    package func requestedIDs() throws -> [Int] {
        let parsed = try ids.map { try IDList.parse($0, source: "--ids") }
            ?? IDList.parse(InputFile.text(idsFile!, limit: 1 << 30), source: idsFile!)
        guard !parsed.isEmpty else { throw Failure("the request names no id") }
        if let repeated = IDList.firstRepeat(parsed) { throw Failure("the request names id \(repeated) more than once") }
        return parsed
    }
}

/// The message for a request that overlaps a completed one in part.
package func overlapMessage(_ ids: [Int], _ entry: JournalEntry) -> String {
    let shown = ids.prefix(10).map(String.init).joined(separator: ", ") + (ids.count > 10 ? ", ... (\(ids.count) in all)" : "")
    return "id \(shown) already forgotten (request #\(entry.sequence) of \(entry.time)), but the request is not that one; a request is not applied twice in part: send the ids not yet forgotten"
}

/// The journal as `inspect` prints it: a summary line, then one line per request.
package func journalLines(_ journal: [JournalEntry]) -> [String] {
    guard !journal.isEmpty else { return ["  journal: no deletion requests"] }
    var lines = ["  journal: \(journal.count) request(s), \(journal.reduce(0) { $0 + $1.ids.count }) samples forgotten"]
    for e in journal {
        let shown = e.ids.prefix(8).map(String.init).joined(separator: ",") + (e.ids.count > 8 ? ",..." : "")
        var line = "    #\(e.sequence) \(e.time): \(e.ids.count) ids [\(shown)], \(e.method), \(format(e.seconds, "%.3f")) s, \(e.samplesAfter) left"
        if let d = e.certificate.oracleDistance { line += ", distance to retrain \(format(d))" }
        line += ", residual \(format(e.certificate.stationarityResidual))"
        lines.append(line)
    }
    return lines
}

/// The journal as `inspect --json` prints it.
package func journalJSON(_ journal: [JournalEntry]) -> [[String: Any]] {
    journal.map { e in
        ["request": e.sequence, "ids": e.ids, "time": e.time, "method": e.method.rawValue, "seconds": e.seconds,
         "samples_after": e.samplesAfter, "certificate": certificateJSON(e.certificate)] as [String: Any]
    }
}

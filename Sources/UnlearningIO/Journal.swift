/// Deletion requests: how ids are written, and how a request relates to the
/// ones a model's journal already holds.
public enum IDList {
    /// Reads ids from text such as "1,2,3", or a file with ids separated by
    /// commas, spaces, tabs or newlines; `#` starts a comment to the end of
    /// its line. Each id must be an integer written in decimal digits with an
    /// optional sign, within Int's range: "1.0", "0x10", "1e3", "12abc" and
    /// out-of-range values are refused, never read as another number.
    /// - Throws: `badLine` naming the source, the line and an excerpt of the
    ///   token.
    /// - Complexity: O(text length).
    public static func parse(_ text: String, source: String) throws -> [Int] {
        var out: [Int] = []
        var line = 1
        var token: [UInt8] = []
        var inComment = false
        func flush() throws {
            defer { token.removeAll(keepingCapacity: true) }
            guard !token.isEmpty else { return }
            guard let id = exactInteger(token) else {
                throw DataError.badLine(path: source, line: line,
                                        reason: "'\(excerpt(String(decoding: token.prefix(64), as: UTF8.self)))' is not an integer id")
            }
            out.append(id)
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\n"):
                try flush(); inComment = false; line += 1
            case _ where inComment:
                continue
            case UInt8(ascii: "#"):
                try flush(); inComment = true
            case UInt8(ascii: ","), UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                try flush()
            default:
                // A token longer than any Int is refused without growing.
                if token.count <= 24 { token.append(byte) } else { token[24] = byte }
            }
        }
        try flush()
        return out
    }

    /// An optionally signed decimal integer that fits in Int, or nil.
    static func exactInteger(_ bytes: [UInt8]) -> Int? {
        guard bytes.count <= 20 else { return nil }
        return Int(String(decoding: bytes, as: UTF8.self), radix: 10)
    }

    /// The first id that occurs twice in `ids`, if any.
    package static func firstRepeat(_ ids: [Int]) -> Int? {
        var seen = Set<Int>()
        return ids.first { !seen.insert($0).inserted }
    }
}

/// How a deletion request relates to a journal.
package enum RequestStatus: Sendable, Equatable {
    /// None of its ids has been forgotten.
    case new
    /// Exactly these ids (as a set) were forgotten by this one request: a
    /// retry of a completed request.
    case alreadyApplied(JournalEntry)
    /// Some of its ids were forgotten, but not as this request: the ids
    /// already forgotten, and the first request that forgot one of them.
    case overlaps([Int], JournalEntry)

    /// Classifies `request` against `journal`.
    /// - Complexity: O(total ids in the journal + request).
    package static func of(_ request: [Int], in journal: [JournalEntry]) -> RequestStatus {
        var forgottenBy: [Int: Int] = [:]
        for (k, e) in journal.enumerated() { for id in e.ids { forgottenBy[id] = k } }
        let again = request.filter { forgottenBy[$0] != nil }
        guard let first = again.first else { return .new }
        let entry = journal[forgottenBy[first]!]
        if again.count == request.count, Set(request) == Set(entry.ids) { return .alreadyApplied(entry) }
        return .overlaps(again, entry)
    }
}

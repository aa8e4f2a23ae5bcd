/// An error reading or writing a file. Every case names the file, and the
/// line, field or byte offset where it applies, so a person can find the
/// problem without a debugger.
public enum DataError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file cannot be opened or read.
    case unreadable(path: String, reason: String)
    /// The file is not in the expected format (wrong magic, bad header, ...).
    case malformed(path: String, reason: String)
    /// The file ends before the data its header announces.
    case truncated(path: String, expected: Int, actual: Int)
    /// A parse error at a line (1-based) of a text file.
    case badLine(path: String, line: Int, reason: String)
    /// The data do not hold what was asked for (absent classes, empty subset...).
    case invalidSelection(path: String, reason: String)
    /// The file cannot be written.
    case unwritable(path: String, reason: String)
    /// Another program holds the file's lock (a request in progress) and did
    /// not release it within `waited` seconds.
    case busy(path: String, waited: Double)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot read: \(reason)"
        case let .malformed(path, reason): return "\(path): \(reason)"
        case let .truncated(path, expected, actual):
            return "\(path): truncated: the header announces \(expected) bytes, the file has \(actual)"
        case let .badLine(path, line, reason): return "\(path):\(line): \(reason)"
        case let .invalidSelection(path, reason): return "\(path): \(reason)"
        case let .unwritable(path, reason): return "\(path): cannot write: \(reason)"
        case let .busy(path, waited):
            return "\(path): busy: another request holds the file's lock (waited \(waited) s; retry, or give --wait SECONDS)"
        }
    }
}

import Foundation

/// strerror(errno) as a Swift string.
func systemError(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}

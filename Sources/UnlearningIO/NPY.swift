import Foundation
import LinearAlgebra
import Unlearning

/// The header of a NumPy `.npy` file (format versions 1.0, 2.0, 3.0): a magic
/// "\x93NUMPY", the version, the header length, and a Python dict literal
/// with 'descr' (dtype), 'fortran_order' and 'shape'.
public struct NPYHeader: Sendable, Equatable {
    /// The element type.
    public enum Element: String, Sendable {
        case float64 = "<f8", float32 = "<f4", int64 = "<i8", int32 = "<i4", uint8 = "|u1"
        var size: Int {
            switch self { case .float64, .int64: return 8; case .float32, .int32: return 4; case .uint8: return 1 }
        }
    }
    public var element: Element
    public var fortranOrder: Bool
    public var shape: [Int]
    /// Where the data start.
    public var dataOffset: Int

    /// The longest header dictionary read (numpy itself refuses more than
    /// 10000 bytes by default).
    public static let maximumHeaderLength = 65536

    /// Parses the header at the start of `bytes` (`count` bytes available).
    ///
    /// The dictionary is parsed as the Python literal numpy writes, and
    /// nothing else is accepted: exactly the keys 'descr' (a string),
    /// 'fortran_order' (True or False) and 'shape' (a tuple of non-negative
    /// integers, `(n,)` for one dimension), each once, in any order, with an
    /// optional trailing comma, then spaces and a newline up to the announced
    /// length. The element count and byte length are computed with overflow
    /// checks.
    /// - Throws: `malformed` or `truncated`, naming the file and quoting at
    ///   most a short excerpt of the header.
    public init(bytes: UnsafeRawBufferPointer, path: String) throws {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw DataError.malformed(path: path, reason: "not a .npy file (the magic \\x93NUMPY is missing)")
        }
        let major = bytes[6]
        let headerLength: Int, start: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8; start = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw DataError.truncated(path: path, expected: 12, actual: bytes.count) }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24; start = 12
        default:
            throw DataError.malformed(path: path, reason: ".npy format version \(major).\(bytes[7]) is not supported (1.0, 2.0, 3.0 are)")
        }
        guard bytes[7] == 0 else {
            throw DataError.malformed(path: path, reason: ".npy format version \(major).\(bytes[7]) is not supported (1.0, 2.0, 3.0 are)")
        }
        guard headerLength <= Self.maximumHeaderLength else {
            throw DataError.malformed(path: path, reason: ".npy header of \(headerLength) bytes (at most \(Self.maximumHeaderLength) are read)")
        }
        guard bytes.count >= start + headerLength else {
            throw DataError.truncated(path: path, expected: start + headerLength, actual: bytes.count)
        }
        var parser = NPYHeaderParser(bytes: Array(bytes[start..<(start + headerLength)]), path: path)
        let (descr, fortran, shape) = try parser.parse()
        let normalized = descr == "<u1" ? "|u1" : descr
        guard let element = Element(rawValue: normalized) else {
            let hint = descr.hasPrefix(">") ? " (big-endian data: convert with arr.astype('<f8'))" : " (float64, float32, int64, int32 and uint8, little-endian, are)"
            throw DataError.malformed(path: path, reason: "dtype '\(excerpt(descr))' is not supported\(hint)")
        }
        var count = 1
        for d in shape {
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw DataError.malformed(path: path, reason: "the .npy shape \(shape) has more elements than fit in memory") }
            count = p
        }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: element.size)
        guard !overflow, byteCount <= Int.max - start - headerLength else {
            throw DataError.malformed(path: path, reason: "the .npy shape \(shape) has more bytes than fit in memory")
        }
        self.element = element
        self.fortranOrder = fortran
        self.shape = shape
        self.dataOffset = start + headerLength
        self.count = count
        self.byteCount = byteCount
    }

    /// Number of elements (checked: no overflow).
    public let count: Int
    /// Bytes of data after the header (checked: no overflow).
    public let byteCount: Int
}

/// A parser for the Python dict literal of a .npy header, byte by byte.
struct NPYHeaderParser {
    let bytes: [UInt8]
    let path: String
    var i = 0

    init(bytes: [UInt8], path: String) { self.bytes = bytes; self.path = path }

    func fail(_ what: String) -> DataError {
        let text = String(decoding: bytes.prefix(120), as: UTF8.self)
        return .malformed(path: path, reason: "bad .npy header (\(what) at byte \(i)): \(excerpt(text, limit: 80))")
    }

    mutating func skipSpaces() { while i < bytes.count, bytes[i] == 0x20 { i += 1 } }

    mutating func expect(_ c: UInt8) throws {
        skipSpaces()
        guard i < bytes.count, bytes[i] == c else { throw fail("expected '\(Character(Unicode.Scalar(c)))'") }
        i += 1
    }

    mutating func string() throws -> String {
        skipSpaces()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "'") else { throw fail("expected a quoted string") }
        i += 1
        let begin = i
        while i < bytes.count, bytes[i] != UInt8(ascii: "'") {
            guard bytes[i] >= 0x20, bytes[i] < 0x7f, bytes[i] != UInt8(ascii: "\\") else { throw fail("unexpected byte in a string") }
            i += 1
        }
        guard i < bytes.count else { throw fail("unterminated string") }
        let value = String(decoding: bytes[begin..<i], as: UTF8.self)
        i += 1
        return value
    }

    mutating func word(_ w: String) -> Bool {
        let u = Array(w.utf8)
        guard i + u.count <= bytes.count, Array(bytes[i..<(i + u.count)]) == u else { return false }
        i += u.count
        return true
    }

    mutating func boolean() throws -> Bool {
        skipSpaces()
        if word("True") { return true }
        if word("False") { return false }
        throw fail("expected True or False")
    }

    mutating func integer() throws -> Int {
        skipSpaces()
        let begin = i
        while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
        guard i > begin, i - begin <= 19, let v = Int(String(decoding: bytes[begin..<i], as: UTF8.self)) else {
            throw fail("expected a non-negative integer")
        }
        return v
    }

    mutating func tuple() throws -> [Int] {
        try expect(UInt8(ascii: "("))
        var out: [Int] = []
        skipSpaces()
        if i < bytes.count, bytes[i] == UInt8(ascii: ")") { i += 1; return out }
        while true {
            out.append(try integer())
            guard out.count <= 32 else { throw fail("more than 32 dimensions") }
            skipSpaces()
            guard i < bytes.count else { throw fail("unterminated shape") }
            if bytes[i] == UInt8(ascii: ")") {
                guard out.count >= 2 else { throw fail("a one-element shape needs its comma, (n,)") }
                i += 1; return out
            }
            try expect(UInt8(ascii: ","))
            skipSpaces()
            if i < bytes.count, bytes[i] == UInt8(ascii: ")") { i += 1; return out }
        }
    }

    /// The three fields; everything after the closing brace must be spaces
    /// and one final newline.
    mutating func parse() throws -> (descr: String, fortran: Bool, shape: [Int]) {
        var descr: String?, fortran: Bool?, shape: [Int]?
        try expect(UInt8(ascii: "{"))
        while true {
            skipSpaces()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; break }
            let key = try string()
            try expect(UInt8(ascii: ":"))
            switch key {
            case "descr" where descr == nil: descr = try string()
            case "fortran_order" where fortran == nil: fortran = try boolean()
            case "shape" where shape == nil: shape = try tuple()
            default: throw fail("unexpected or repeated key '\(excerpt(key))'")
            }
            skipSpaces()
            guard i < bytes.count else { throw fail("unterminated dictionary") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            try expect(UInt8(ascii: "}"))
            break
        }
        skipSpaces()
        guard i == bytes.count - 1, bytes[i] == 0x0A else { throw fail("the header must end with spaces and a newline") }
        guard let descr, let fortran, let shape else { throw fail("the keys 'descr', 'fortran_order' and 'shape' are all required") }
        return (descr, fortran, shape)
    }
}

/// A `.npy` file mapped into memory (`mmap`, read-only): a 2-D array is read
/// block by block, so a feature matrix larger than memory can be fitted
/// (memory O(N^2) for the Gram plus one block). Works as a
/// `FeatureBlockProvider` for `FeatureSource.provided(by:)`.
public final class NPYFile: FeatureBlockProvider, @unchecked Sendable {
    public let path: String
    public let header: NPYHeader
    private let base: UnsafeRawPointer
    private let length: Int

    /// Maps the file and checks that it holds the data its header announces.
    public init(path: String) throws {
        let (fd, size, _) = try InputFile.open(path)
        defer { close(fd) }
        guard size > 0 else { throw DataError.malformed(path: path, reason: "empty file, not a .npy file") }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw DataError.unreadable(path: path, reason: "mmap: \(systemError())")
        }
        let header: NPYHeader
        do {
            header = try NPYHeader(bytes: UnsafeRawBufferPointer(start: p, count: size), path: path)
        } catch {
            munmap(p, size)
            throw error
        }
        let needed = header.dataOffset + header.byteCount
        guard size >= needed else {
            munmap(p, size)
            throw DataError.truncated(path: path, expected: needed, actual: size)
        }
        guard size == needed else {
            munmap(p, size)
            throw DataError.malformed(path: path, reason: "\(size - needed) bytes after the data the .npy header announces")
        }
        guard header.shape.count <= 2 else {
            munmap(p, size)
            throw DataError.malformed(path: path, reason: "a \(header.shape.count)-dimensional array (shape \(header.shape)); a vector or a matrix is expected")
        }
        madvise(p, size, MADV_SEQUENTIAL)
        self.path = path
        self.header = header
        self.base = UnsafeRawPointer(p)
        self.length = size
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), length) }

    public var rowCount: Int { header.shape.first ?? 1 }
    public var columnCount: Int { header.shape.count >= 2 ? header.shape[1] : 1 }

    @inline(__always) private func element(_ k: Int) -> Double {
        let p = base + header.dataOffset
        switch header.element {
        case .float64: return p.loadUnaligned(fromByteOffset: 8 * k, as: Double.self)
        case .float32: return Double(p.loadUnaligned(fromByteOffset: 4 * k, as: Float.self))
        case .int64: return Double(p.loadUnaligned(fromByteOffset: 8 * k, as: Int64.self))
        case .int32: return Double(p.loadUnaligned(fromByteOffset: 4 * k, as: Int32.self))
        case .uint8: return Double(p.load(fromByteOffset: k, as: UInt8.self))
        }
    }

    /// The block A[rows, columns] of a 2-D array (a 1-D array is a column).
    /// - Throws: `malformed` for arrays of more than 2 dimensions, an index
    ///   out of range.
    public func block(rows: [Int], columns: Range<Int>) throws -> Matrix {
        guard header.shape.count <= 2 else { throw DataError.malformed(path: path, reason: "a \(header.shape.count)-dimensional array, expected a matrix") }
        let n = rowCount, m = columnCount
        if let bad = rows.first(where: { $0 < 0 || $0 >= n }) { throw DataError.invalidSelection(path: path, reason: "row \(bad) out of 0..<\(n)") }
        guard columns.lowerBound >= 0, columns.upperBound <= m else { throw DataError.invalidSelection(path: path, reason: "columns \(columns) out of 0..<\(m)") }
        var out = Matrix(rows: rows.count, columns: columns.count)
        let fortran = header.fortranOrder || header.shape.count == 1
        out.withUnsafeMutableBufferPointer { dst in
            let r = rows.count
            if fortran {
                for (c, j) in columns.enumerated() { for (k, i) in rows.enumerated() { dst[k + c * r] = element(i + j * n) } }
            } else {
                for (k, i) in rows.enumerated() { for (c, j) in columns.enumerated() { dst[k + c * r] = element(i * m + j) } }
            }
        }
        return out
    }

    /// The whole array as a matrix (a 1-D array as one column).
    public func matrix() throws -> Matrix { try block(rows: Array(0..<rowCount), columns: 0..<columnCount) }

    /// A 1-D array (or an n x 1 matrix) as integers, e.g. labels or ids.
    public func integers() throws -> [Int] {
        guard header.shape.count == 1 || (header.shape.count == 2 && header.shape[1] == 1) else {
            throw DataError.malformed(path: path, reason: "shape \(header.shape), expected a 1-D array")
        }
        let p = base + header.dataOffset
        return try (0..<rowCount).map { i in
            switch header.element {
            case .int64: return Int(p.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
            case .int32: return Int(p.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))
            case .uint8: return Int(p.load(fromByteOffset: i, as: UInt8.self))
            case .float64, .float32:
                let v = element(i)
                guard let exact = Int(exactly: v) else {
                    throw DataError.malformed(path: path, reason: "element \(i) = \(v) is not an integer (ids and labels must be exact integers)")
                }
                return exact
            }
        }
    }
}

/// Writing `.npy` files (format 1.0, little-endian, atomically).
public enum NPY {
    /// Writes a matrix as float64 in Fortran (column-major) order, the
    /// engine's own layout, so no transpose is needed: numpy reads it with
    /// `np.load(path)` as an array of the same shape.
    public static func write(_ matrix: Matrix, to path: String) throws {
        var bytes = headerBytes(descr: "<f8", fortran: true, shape: "(\(matrix.rows), \(matrix.columns))")
        matrix.withUnsafeBufferPointer { bytes.append(contentsOf: UnsafeRawBufferPointer($0)) }
        try AtomicFile.write(bytes, to: path)
    }

    /// Writes integers as a 1-D int64 array.
    public static func write(_ values: [Int], to path: String) throws {
        var bytes = headerBytes(descr: "<i8", fortran: false, shape: "(\(values.count),)")
        values.map { Int64($0) }.withUnsafeBufferPointer { bytes.append(contentsOf: UnsafeRawBufferPointer($0)) }
        try AtomicFile.write(bytes, to: path)
    }

    static func headerBytes(descr: String, fortran: Bool, shape: String) -> [UInt8] {
        var dict = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shape), }"
        // Pad so that magic + version + length + dict + newline is a multiple of 64.
        let unpadded = 10 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var out: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0]
        let n = dict.utf8.count
        out.append(UInt8(n & 0xff)); out.append(UInt8(n >> 8))
        out.append(contentsOf: Array(dict.utf8))
        return out
    }
}

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

    /// Parses the header at the start of `bytes` (`count` bytes available).
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
        guard bytes.count >= start + headerLength else {
            throw DataError.truncated(path: path, expected: start + headerLength, actual: bytes.count)
        }
        guard let dict = String(bytes: bytes[start..<(start + headerLength)], encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw DataError.malformed(path: path, reason: "unreadable .npy header")
        }
        func value(_ key: String) throws -> Substring {
            guard let r = dict.range(of: "'\(key)'") else { throw DataError.malformed(path: path, reason: ".npy header has no '\(key)': \(dict)") }
            var rest = dict[r.upperBound...].drop { $0 == " " }
            guard rest.first == ":" else { throw DataError.malformed(path: path, reason: "bad .npy header: \(dict)") }
            rest = rest.dropFirst().drop { $0 == " " }
            return rest
        }
        let descrField = try value("descr")
        guard descrField.first == "'" , let close = descrField.dropFirst().firstIndex(of: "'") else {
            throw DataError.malformed(path: path, reason: "bad 'descr' in .npy header: \(dict)")
        }
        let descr = String(descrField[descrField.index(after: descrField.startIndex)..<close])
        let normalized = descr == "<u1" ? "|u1" : descr
        guard let element = Element(rawValue: normalized) else {
            let hint = descr.hasPrefix(">") ? " (big-endian data: convert with arr.astype('<f8'))" : " (float64, float32, int64, int32 and uint8, little-endian, are)"
            throw DataError.malformed(path: path, reason: "dtype '\(descr)' is not supported\(hint)")
        }
        let fortran = try value("fortran_order")
        guard fortran.hasPrefix("True") || fortran.hasPrefix("False") else {
            throw DataError.malformed(path: path, reason: "bad 'fortran_order' in .npy header: \(dict)")
        }
        let shapeField = try value("shape")
        guard shapeField.first == "(", let closing = shapeField.firstIndex(of: ")") else {
            throw DataError.malformed(path: path, reason: "bad 'shape' in .npy header: \(dict)")
        }
        var shape: [Int] = []
        for part in shapeField[shapeField.index(after: shapeField.startIndex)..<closing].split(separator: ",") {
            let t = part.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            guard let v = Int(t), v >= 0 else { throw DataError.malformed(path: path, reason: "bad dimension '\(t)' in .npy shape") }
            shape.append(v)
        }
        self.element = element
        self.fortranOrder = fortran.hasPrefix("True")
        self.shape = shape
        self.dataOffset = start + headerLength
    }

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
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
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw DataError.unreadable(path: path, reason: systemError()) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw DataError.unreadable(path: path, reason: systemError()) }
        let size = Int(st.st_size)
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
        let needed = header.dataOffset + header.count * header.element.size
        guard size >= needed else {
            munmap(p, size)
            throw DataError.truncated(path: path, expected: needed, actual: size)
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
        return try (0..<rowCount).map { i in
            let v = element(i)
            guard v.isFinite, v == v.rounded() else { throw DataError.malformed(path: path, reason: "element \(i) = \(v) is not an integer") }
            return Int(v)
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

/// An array in the IDX format of MNIST and Fashion-MNIST: a 4-byte magic
/// (two zero bytes, a type code, the number of dimensions), the dimensions as
/// big-endian 32-bit integers, then the data in row-major order. Only the
/// unsigned-byte type (0x08) occurs in these data sets and is supported.
public struct IDXArray: Sendable {
    /// The dimensions, e.g. [60000, 28, 28].
    public var shape: [Int]
    /// The values, row-major.
    public var values: [UInt8]

    /// Parses `bytes` (already decompressed); `path` names the file in errors.
    /// - Throws: `malformed` for a wrong magic, type or dimension count;
    ///   `truncated` when fewer bytes follow than the dimensions announce;
    ///   `malformed` when more do.
    public init(bytes: [UInt8], path: String) throws {
        guard bytes.count >= 4 else { throw DataError.truncated(path: path, expected: 4, actual: bytes.count) }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw DataError.malformed(path: path, reason: String(format: "not an IDX file: magic starts with 0x%02x%02x, expected 0x0000", bytes[0], bytes[1]))
        }
        guard bytes[2] == 0x08 else {
            throw DataError.malformed(path: path, reason: String(format: "IDX type 0x%02x is not supported (only unsigned bytes, 0x08)", bytes[2]))
        }
        let dims = Int(bytes[3])
        guard (1...4).contains(dims) else { throw DataError.malformed(path: path, reason: "IDX file with \(dims) dimensions") }
        let headerSize = 4 + 4 * dims
        guard bytes.count >= headerSize else { throw DataError.truncated(path: path, expected: headerSize, actual: bytes.count) }
        var shape: [Int] = []
        var total = 1
        for k in 0..<dims {
            let o = 4 + 4 * k
            let d = Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3])
            shape.append(d)
            let (product, overflow) = total.multipliedReportingOverflow(by: d)
            guard !overflow else { throw DataError.malformed(path: path, reason: "IDX dimensions \(shape) overflow") }
            total = product
        }
        guard bytes.count >= headerSize + total else {
            throw DataError.truncated(path: path, expected: headerSize + total, actual: bytes.count)
        }
        guard bytes.count == headerSize + total else {
            throw DataError.malformed(path: path, reason: "\(bytes.count - headerSize - total) bytes after the data the IDX header announces")
        }
        self.shape = shape
        self.values = Array(bytes[headerSize...])
    }

    /// Reads and parses an IDX file, gzip-compressed or not.
    public init(contentsOf path: String) throws {
        try self.init(bytes: readPossiblyCompressedFile(path), path: path)
    }
}

import Foundation

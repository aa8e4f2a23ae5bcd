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
        let (shape, total) = try Self.header(bytes, path: path)
        let headerSize = 4 + 4 * shape.count
        // (Compared as differences: headerSize + total may overflow.)
        guard bytes.count - headerSize >= total else {
            let (expected, overflow) = headerSize.addingReportingOverflow(total)
            if overflow { throw DataError.malformed(path: path, reason: "the IDX dimensions \(shape) announce more bytes than fit in memory") }
            throw DataError.truncated(path: path, expected: expected, actual: bytes.count)
        }
        guard bytes.count - headerSize == total else {
            throw DataError.malformed(path: path, reason: "\(bytes.count - headerSize - total) bytes after the data the IDX header announces")
        }
        self.shape = shape
        self.values = Array(bytes[headerSize...])
    }

    /// The largest array read (4 GiB; Fashion-MNIST's training images are 47 MB).
    public static let maximumDataBytes = 1 << 32

    /// Reads and parses an IDX file, gzip-compressed or not.
    /// - Complexity: O(size of the data); memory as the header announces.
    public init(contentsOf path: String) throws {
        try self.init(possiblyCompressed: InputFile.read(path, limit: Self.maximumDataBytes), path: path)
    }

    /// Parses IDX bytes, gunzipping them first when they start with the gzip
    /// magic. Decompression never goes past what the header announces: the
    /// header is inflated first, then exactly the announced data and one
    /// byte more (which must not exist).
    /// - Throws: as `init(bytes:path:)`, and `malformed` for a corrupt or
    ///   over-long gzip stream.
    public init(possiblyCompressed bytes: [UInt8], path: String) throws {
        guard Inflater.isGzip(bytes) else {
            try self.init(bytes: bytes, path: path)
            return
        }
        let inflater = try Inflater(bytes, path: path)
        var data = try inflater.read(4)
        guard data.count == 4 else { throw DataError.truncated(path: path, expected: 4, actual: data.count) }
        let dims = Int(data[3])
        guard data[0] == 0, data[1] == 0, (1...4).contains(dims) else {
            // The parser below names what is wrong.
            try self.init(bytes: data, path: path)
            return
        }
        data += try inflater.read(4 * dims)
        let (_, total) = try Self.header(data, path: path)
        guard total <= Self.maximumDataBytes else {
            throw DataError.malformed(path: path, reason: "the IDX header announces \(total) bytes, more than the \(Self.maximumDataBytes) read")
        }
        data += try inflater.read(total)
        if !inflater.finished { data += try inflater.read(1) }
        try self.init(bytes: data, path: path)
    }

    /// The shape and the data size the header at the start of `bytes`
    /// announces, with overflow checks.
    static func header(_ bytes: [UInt8], path: String) throws -> (shape: [Int], total: Int) {
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
        return (shape, total)
    }
}

import Foundation
// zlib (gzip inflation of IDX files, CRC-32 of the model files): file
// formats belong to this layer, so it is zlib's only Swift user.
internal import _CZlib

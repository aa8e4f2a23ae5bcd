import Foundation

/// The container shared by the model and network files:
///
///     offset  size     field
///     0       8 bytes  magic (7 ASCII letters and a NUL)
///     8       u32      format version
///     12      u64      H, the length of the JSON header
///     20      u64      P, the length of the payload
///     28      u32      CRC-32 of header and payload
///     32      H bytes  JSON header
///     32 + H  P bytes  payload (float64 arrays, little-endian)
///
/// All integers little-endian. Written atomically (`AtomicFile`); reading
/// refuses a foreign file (magic), another format version, a truncated file,
/// trailing bytes and a checksum mismatch, each with a message that names the
/// file and says which.
package enum ContainerFile {
    static let prefixLength = 32

    /// Writes magic, version, lengths, CRC, the header and the payload chunks.
    /// - Complexity: O(H + P) (one CRC pass, one write).
    /// - Parameter expected: see `AtomicFile.write(chunks:to:replacing:)`.
    @discardableResult
    package static func write(magic: [UInt8], version: UInt32, header json: [UInt8], payload: [UnsafeRawBufferPointer], to path: String,
                      replacing expected: FileIdentity? = nil) throws -> UInt32 {
        precondition(magic.count == 8, "container magic must be 8 bytes")
        var crc: UInt32 = json.withUnsafeBytes { crc32Checksum($0) }
        for chunk in payload { crc = crc32Checksum(chunk, continuing: crc) }
        var prefix = magic
        func append<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { prefix.append(contentsOf: $0) } }
        append(version)
        append(UInt64(json.count))
        append(UInt64(payload.reduce(0) { $0 + $1.count }))
        append(crc)
        prefix += json
        try prefix.withUnsafeBytes { p in try AtomicFile.write(chunks: [p] + payload, to: path, replacing: expected) }
        return crc
    }

    /// A checked container in memory: the whole file, and where its header and
    /// payload lie.
    package struct Contents {
        package let bytes: [UInt8]
        package let header: Range<Int>
        package let payload: Range<Int>
        /// The version of the file read (nil when parsed from memory).
        package var identity: FileIdentity? = nil
        /// The CRC-32 of header and payload, as stored (and checked).
        package var checksum: UInt32 = 0

        /// The header decoded from JSON; a decoding failure is reported as a
        /// corrupted header of `path`.
        package func decodeHeader<H: Decodable>(_: H.Type, path: String) throws -> H {
            do { return try JSONDecoder().decode(H.self, from: Data(bytes[header])) } catch {
                throw DataError.malformed(path: path, reason: "corrupted header: \(error)")
            }
        }

        /// `count` float64 values starting `byteOffset` bytes into the payload.
        /// The caller has checked `byteOffset + 8 count <= payload.count`;
        /// the slice below traps (safety checks are on) rather than read
        /// past it if not.
        package func doubles(at byteOffset: Int, count: Int) -> [Double] {
            var values = [Double](repeating: 0, count: count)
            let start = payload.lowerBound + byteOffset
            values.withUnsafeMutableBytes { dst in
                bytes.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[start..<(start + 8 * count)])) }
            }
            return values
        }
    }

    /// Reads `path` and checks magic, version, lengths and checksum.
    /// - Parameter kind: "model" or "network", for the messages.
    /// - Complexity: O(file size).
    package static func read(from path: String, magic: [UInt8], version: UInt32, kind: String) throws -> Contents {
        let (bytes, identity) = try InputFile.readIdentified(path)
        var contents = try parse(bytes, path: path, magic: magic, version: version, kind: kind)
        contents.identity = identity
        return contents
    }

    /// Checks magic, version, lengths and checksum of a container in memory;
    /// `path` names it in errors.
    /// - Complexity: O(bytes.count).
    package static func parse(_ bytes: [UInt8], path: String, magic: [UInt8], version: UInt32, kind: String) throws -> Contents {
        let name = String(decoding: magic.prefix { $0 != 0 }, as: UTF8.self)
        guard bytes.count >= 8, Array(bytes[0..<8]) == magic else {
            throw DataError.malformed(path: path, reason: "not a muso \(kind) file (the magic \(name) is missing)")
        }
        guard bytes.count >= prefixLength else { throw DataError.truncated(path: path, expected: prefixLength, actual: bytes.count) }
        func integer<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
        }
        let found = integer(8, UInt32.self)
        guard found == version else {
            throw DataError.malformed(path: path, reason: "\(kind) file format \(found) is not supported (this muso reads format \(version))")
        }
        let h = integer(12, UInt64.self), p = integer(20, UInt64.self)
        guard h < UInt64(Int.max / 4), p < UInt64(Int.max / 4) else {
            throw DataError.malformed(path: path, reason: "corrupted: impossible section lengths")
        }
        let end = prefixLength + Int(h) + Int(p)
        guard bytes.count >= end else { throw DataError.truncated(path: path, expected: end, actual: bytes.count) }
        guard bytes.count == end else {
            throw DataError.malformed(path: path, reason: "corrupted: \(bytes.count - end) bytes after the announced end")
        }
        let stored = integer(28, UInt32.self)
        let crc = bytes.withUnsafeBytes { crc32Checksum(UnsafeRawBufferPointer(rebasing: $0[prefixLength..<end])) }
        guard crc == stored else {
            throw DataError.malformed(path: path, reason: String(format: "corrupted: checksum mismatch (stored %08x, computed %08x)", stored, crc))
        }
        let headerEnd = prefixLength + Int(h)
        return Contents(bytes: bytes, header: prefixLength..<headerEnd, payload: headerEnd..<end, checksum: crc)
    }

    /// Reads a container whose payload is too large to hold twice: first
    /// the prefix and the header (`header()`), then the payload straight into
    /// the caller's buffer (`readPayload(into:)`), which checks the CRC-32
    /// over both. Memory is the caller's buffer plus the header.
    package final class StreamReader {
        let path: String
        let fd: Int32
        let size: Int
        var prefix = [UInt8](repeating: 0, count: ContainerFile.prefixLength)
        var headerBytes: [UInt8] = []
        var payloadLength = 0

        /// Opens `path` (a regular file only) and checks magic, version and
        /// the section lengths against the file's size.
        package init(path: String, magic: [UInt8], version: UInt32, kind: String) throws {
            self.path = path
            (fd, size, _) = try InputFile.open(path)
            guard size >= prefixLength else { throw DataError.truncated(path: path, expected: prefixLength, actual: size) }
            try prefix.withUnsafeMutableBytes { try readExactly($0) }
            let name = String(decoding: magic.prefix { $0 != 0 }, as: UTF8.self)
            guard Array(prefix[0..<8]) == magic else {
                throw DataError.malformed(path: path, reason: "not a muso \(kind) file (the magic \(name) is missing)")
            }
            let found = integer(8, UInt32.self)
            guard found == version else {
                throw DataError.malformed(path: path, reason: "\(kind) file format \(found) is not supported (this muso reads format \(version))")
            }
            let h = integer(12, UInt64.self), p = integer(20, UInt64.self)
            guard h <= 1 << 26, p < UInt64(Int.max / 4), UInt64(prefixLength) + h + p == UInt64(size) else {
                throw DataError.malformed(path: path, reason: "corrupted: section lengths \(h) + \(p) do not match the file's \(size) bytes")
            }
            headerBytes = [UInt8](repeating: 0, count: Int(h))
            try headerBytes.withUnsafeMutableBytes { try readExactly($0) }
            payloadLength = Int(p)
        }

        deinit { close(fd) }

        /// The JSON header and the payload's length in bytes.
        package var header: (bytes: [UInt8], payloadLength: Int) { (headerBytes, payloadLength) }

        /// Reads the payload into `buffer` (exactly `payloadLength` bytes)
        /// and checks the CRC-32 of header and payload.
        /// - Returns: the checksum.
        package func readPayload(into buffer: UnsafeMutableRawBufferPointer) throws -> UInt32 {
            guard buffer.count == payloadLength else { throw DataError.malformed(path: path, reason: "payload of unexpected length") }
            try readExactly(buffer)
            var crc = headerBytes.withUnsafeBytes { crc32Checksum($0) }
            crc = crc32Checksum(UnsafeRawBufferPointer(buffer), continuing: crc)
            let stored = integer(28, UInt32.self)
            guard crc == stored else {
                throw DataError.malformed(path: path, reason: String(format: "corrupted: checksum mismatch (stored %08x, computed %08x)", stored, crc))
            }
            return crc
        }

        func integer<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            prefix.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
        }

        func readExactly(_ buffer: UnsafeMutableRawBufferPointer) throws {
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.read(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw DataError.unreadable(path: path, reason: systemError())
                }
                if n == 0 { throw DataError.truncated(path: path, expected: size, actual: offset) }
                offset += n
            }
        }
    }
}

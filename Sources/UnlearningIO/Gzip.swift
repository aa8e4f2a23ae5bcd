import Foundation
internal import _CZlib

/// Reads a whole file, gunzipping it when it is gzip-compressed (zlib's
/// `gzread` reads plain files unchanged).
/// - Throws: `unreadable` when the file cannot be opened, `truncated` or
///   `malformed` when the gzip stream is cut short or corrupt.
/// - Complexity: O(size of the uncompressed data).
public func readPossiblyCompressedFile(_ path: String) throws -> [UInt8] {
    guard FileManager.default.fileExists(atPath: path) else {
        throw DataError.unreadable(path: path, reason: "no such file")
    }
    guard let file = gzopen(path, "rb") else {
        throw DataError.unreadable(path: path, reason: systemError())
    }
    defer { gzclose(file) }
    gzbuffer(file, 1 << 20)
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
        if n < 0 {
            var code: Int32 = 0
            let message = gzerror(file, &code).map { String(cString: $0) } ?? "zlib error"
            throw DataError.malformed(path: path, reason: "corrupt gzip stream (\(message))")
        }
        if n == 0 { break }
        out.append(contentsOf: chunk[0..<Int(n)])
    }
    var code: Int32 = 0
    let message = gzerror(file, &code).map { String(cString: $0) } ?? ""
    if code != Z_OK && code != Z_STREAM_END {
        throw DataError.malformed(path: path, reason: "gzip stream ends early or is corrupt (\(message))")
    }
    return out
}

/// CRC-32 (zlib's polynomial) of `bytes`, continuing from `crc`.
func crc32Checksum(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
    guard let base = bytes.baseAddress, !bytes.isEmpty else { return crc }
    var c = UInt(crc)
    var offset = 0
    // zlib takes 32-bit lengths: feed large buffers in chunks.
    while offset < bytes.count {
        let n = min(bytes.count - offset, 1 << 30)
        c = crc32(c, base.advanced(by: offset).assumingMemoryBound(to: UInt8.self), UInt32(n))
        offset += n
    }
    return UInt32(truncatingIfNeeded: c)
}

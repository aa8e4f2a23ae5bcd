import Foundation
// zlib (gzip inflation of IDX files, CRC-32 of the model files): file
// formats belong to this layer, so it is zlib's only Swift user.
internal import _CZlib

/// Decompression of gzip data in memory, never beyond a stated number of
/// bytes: the output grows only as far as the caller's limit, so a small
/// file that inflates to gigabytes is refused after `limit` bytes instead of
/// being read whole. Concatenated gzip members are read as one stream, as
/// `gunzip` does.
final class Inflater {
    /// On the heap: zlib keeps a pointer back to the z_stream and refuses
    /// (Z_STREAM_ERROR) a stream that has moved.
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: [UInt8]
    private let path: String
    private var consumed = 0
    private(set) var finished = false
    private var initialised = false

    /// Whether `bytes` start with the gzip magic 1f 8b.
    static func isGzip(_ bytes: [UInt8]) -> Bool { bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b }

    init(_ input: [UInt8], path: String) throws {
        self.input = input
        self.path = path
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // 15 + 16: a gzip wrapper, 32 KiB window.
        let status = inflateInit2_(stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            stream.deallocate()
            throw DataError.malformed(path: path, reason: "zlib could not start (status \(status))")
        }
        initialised = true
    }

    deinit {
        end()
        stream.deallocate()
    }

    func end() {
        if initialised { inflateEnd(stream); initialised = false }
    }

    /// Up to `count` more bytes of output (fewer only at the end of the data).
    /// Memory grows with the output actually produced (chunks of at most
    /// 1 MiB), not with `count`: a header announcing gigabytes over a short
    /// stream allocates only what the stream yields.
    /// - Throws: `malformed` for a corrupt or truncated stream.
    func read(_ count: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: min(count, 1 << 20))
        while out.count < count && !finished {
            let want = min(count - out.count, chunk.count)
            let got = try fill(&chunk, want)
            out.append(contentsOf: chunk[0..<got])
        }
        return out
    }

    /// Inflates into `buffer[0..<want]`; returns the bytes produced.
    private func fill(_ buffer: inout [UInt8], _ want: Int) throws -> Int {
        var produced = 0
        while produced < want && !finished {
            let chunkIn = min(input.count - consumed, 1 << 30)
            let before = (consumed, produced)
            let status: Int32 = input.withUnsafeBufferPointer { src in
                buffer.withUnsafeMutableBufferPointer { dst in
                    stream.pointee.next_in = UnsafeMutablePointer(mutating: src.baseAddress! + consumed)
                    stream.pointee.avail_in = UInt32(chunkIn)
                    stream.pointee.next_out = dst.baseAddress! + produced
                    stream.pointee.avail_out = UInt32(want - produced)
                    let status = inflate(stream, Z_NO_FLUSH)
                    consumed += chunkIn - Int(stream.pointee.avail_in)
                    produced = want - Int(stream.pointee.avail_out)
                    return status
                }
            }
            switch status {
            case Z_OK:
                continue
            case Z_STREAM_END:
                // Another member may follow (skip zero padding, as gzip does).
                while consumed < input.count, input[consumed] == 0 { consumed += 1 }
                if consumed == input.count {
                    finished = true
                } else {
                    guard inflateReset(stream) == Z_OK else { throw DataError.malformed(path: path, reason: "corrupt gzip stream") }
                }
            case Z_BUF_ERROR:
                // No progress possible: the input ended inside a member.
                if consumed == input.count {
                    throw DataError.malformed(path: path, reason: "the gzip stream ends early (truncated file)")
                }
                // Never loop without progress.
                guard (consumed, produced) != before else { throw DataError.malformed(path: path, reason: "corrupt gzip stream (no progress)") }
                continue
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "status \(status)"
                throw DataError.malformed(path: path, reason: "corrupt gzip stream (\(message))")
            }
        }
        return produced
    }
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

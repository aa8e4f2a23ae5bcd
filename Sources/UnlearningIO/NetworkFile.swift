import Foundation
import LinearAlgebra
import Network

/// A saved `MLP`: magic "MUSONET\0", format version (u32), header length
/// (u64), payload length (u64), CRC-32 (u32) of header and payload, a JSON
/// header with the widths, then W_1, b_1, ..., W_L, b_L as float64,
/// column-major. Written atomically; a truncated, corrupted or foreign file
/// is refused with a message that says which.
public enum NetworkFile {
    static let magic: [UInt8] = Array("MUSONET".utf8) + [0]
    static let version: UInt32 = 1

    struct Header: Codable { var widths: [Int] }

    public static func write(_ net: MLP, to path: String) throws {
        let json = [UInt8](try JSONEncoder().encode(Header(widths: net.widths)))
        var payload: [Double] = []
        for l in 0..<net.depth { payload += net.weights[l].elements; payload += net.biases[l] }
        var crc: UInt32 = json.withUnsafeBytes { crc32Checksum($0) }
        crc = payload.withUnsafeBytes { crc32Checksum($0, continuing: crc) }
        var prefix = magic
        func append<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { prefix.append(contentsOf: $0) } }
        append(version); append(UInt64(json.count)); append(UInt64(payload.count * 8)); append(crc)
        prefix += json
        try prefix.withUnsafeBytes { p in
            try payload.withUnsafeBytes { q in try AtomicFile.write(chunks: [p, q], to: path) }
        }
    }

    public static func read(from path: String) throws -> MLP {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError.unreadable(path: path, reason: FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")
        }
        let bytes = [UInt8](data)
        guard bytes.count >= 8, Array(bytes[0..<8]) == magic else {
            throw DataError.malformed(path: path, reason: "not a muso network file (the magic MUSONET is missing)")
        }
        guard bytes.count >= 32 else { throw DataError.truncated(path: path, expected: 32, actual: bytes.count) }
        func integer<T: FixedWidthInteger>(_ o: Int, _: T.Type) -> T { bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: T.self)) } }
        guard integer(8, UInt32.self) == version else {
            throw DataError.malformed(path: path, reason: "network file format \(integer(8, UInt32.self)) is not supported (this muso reads format \(version))")
        }
        let h = Int(integer(12, UInt64.self)), p = Int(integer(20, UInt64.self))
        guard h < Int.max / 4, p < Int.max / 4 else { throw DataError.malformed(path: path, reason: "corrupted: impossible section lengths") }
        let end = 32 + h + p
        guard bytes.count >= end else { throw DataError.truncated(path: path, expected: end, actual: bytes.count) }
        guard bytes.count == end else { throw DataError.malformed(path: path, reason: "corrupted: \(bytes.count - end) bytes after the announced end") }
        let crc = bytes.withUnsafeBytes { crc32Checksum(UnsafeRawBufferPointer(rebasing: $0[32..<end])) }
        guard crc == integer(28, UInt32.self) else { throw DataError.malformed(path: path, reason: "corrupted: checksum mismatch") }
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: Data(bytes[32..<(32 + h)])) } catch {
            throw DataError.malformed(path: path, reason: "corrupted header: \(error)")
        }
        let widths = header.widths
        guard widths.count >= 2, widths.allSatisfy({ $0 >= 1 }) else { throw DataError.malformed(path: path, reason: "bad widths \(widths)") }
        let expected = (1..<widths.count).reduce(0) { $0 + widths[$1 - 1] * widths[$1] + widths[$1] }
        guard p == 8 * expected else { throw DataError.malformed(path: path, reason: "payload of \(p) bytes for widths \(widths)") }
        var values = [Double](repeating: 0, count: expected)
        values.withUnsafeMutableBytes { dst in bytes.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[(32 + h)..<end])) } }
        var offset = 0
        var weights: [Matrix] = [], biases: [[Double]] = []
        for l in 1..<widths.count {
            let count = widths[l - 1] * widths[l]
            weights.append(try Matrix(rows: widths[l - 1], columns: widths[l], elements: Array(values[offset..<(offset + count)])))
            offset += count
            biases.append(Array(values[offset..<(offset + widths[l])]))
            offset += widths[l]
        }
        return try MLP(weights: weights, biases: biases)
    }
}

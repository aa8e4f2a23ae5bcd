import Foundation
import LinearAlgebra
import Network

/// A saved `MLP` in the `ContainerFile` layout: magic "MUSONET\0", a JSON
/// header with the widths, then W_1, b_1, ..., W_L, b_L as float64,
/// column-major. Written atomically; a truncated, corrupted or foreign file
/// is refused with a message that says which.
public enum NetworkFile {
    static let magic: [UInt8] = Array("MUSONET".utf8) + [0]
    static let version: UInt32 = 1

    struct Header: Codable { var widths: [Int] }

    /// Writes `net` atomically.
    /// - Complexity: O(parameters).
    public static func write(_ net: MLP, to path: String) throws {
        let json = [UInt8](try JSONEncoder().encode(Header(widths: net.widths)))
        var payload: [Double] = []
        for l in 0..<net.depth { payload += net.weights[l].elements; payload += net.biases[l] }
        try payload.withUnsafeBytes { q in
            try ContainerFile.write(magic: magic, version: version, header: json, payload: [q], to: path)
        }
    }

    /// Reads and checks a network file (see `ContainerFile` for what is refused),
    /// then checks that the payload holds exactly the widths' parameters.
    /// - Complexity: O(file size).
    public static func read(from path: String) throws -> MLP {
        let file = try ContainerFile.read(from: path, magic: magic, version: version, kind: "network")
        let widths = try file.decodeHeader(Header.self, path: path).widths
        guard widths.count >= 2, widths.allSatisfy({ $0 >= 1 }) else { throw DataError.malformed(path: path, reason: "bad widths \(widths)") }
        let expected = (1..<widths.count).reduce(0) { $0 + widths[$1 - 1] * widths[$1] + widths[$1] }
        guard file.payload.count == 8 * expected else {
            throw DataError.malformed(path: path, reason: "payload of \(file.payload.count) bytes for widths \(widths)")
        }
        let values = file.doubles(at: 0, count: expected)
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

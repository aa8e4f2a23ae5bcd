import Foundation
import LinearAlgebra
import Network
import UnlearningIO

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
        _ = try payload.withUnsafeBytes { q in
            try ContainerFile.write(magic: magic, version: version, header: json, payload: [q], to: path)
        }
    }

    /// Reads and checks a network file (see `ContainerFile` for what is refused),
    /// then checks that the payload holds exactly the widths' parameters.
    /// - Complexity: O(file size).
    public static func read(from path: String) throws -> MLP {
        try decode(ContainerFile.read(from: path, magic: magic, version: version, kind: "network"), path: path)
    }

    /// `read` on bytes in memory (`path` names them in errors).
    public static func decode(_ bytes: [UInt8], path: String) throws -> MLP {
        try decode(ContainerFile.parse(bytes, path: path, magic: magic, version: version, kind: "network"), path: path)
    }

    static func decode(_ file: ContainerFile.Contents, path: String) throws -> MLP {
        let widths = try file.decodeHeader(Header.self, path: path).widths
        guard widths.count >= 2, widths.count <= 1024, widths.allSatisfy({ $0 >= 1 }) else {
            throw DataError.malformed(path: path, reason: "bad widths \(widths.prefix(8))\(widths.count > 8 ? "..." : "")")
        }
        // The parameter count with overflow checks: the widths are untrusted.
        var expected = 0
        for l in 1..<widths.count {
            let (w, o1) = widths[l - 1].multipliedReportingOverflow(by: widths[l])
            let (wb, o2) = w.addingReportingOverflow(widths[l])
            let (sum, o3) = expected.addingReportingOverflow(wb)
            guard !o1, !o2, !o3, sum <= file.payload.count / 8 else {
                throw DataError.malformed(path: path, reason: "the widths \(widths.prefix(8)) announce more parameters than the payload of \(file.payload.count) bytes holds")
            }
            expected = sum
        }
        guard file.payload.count == 8 * expected else {
            throw DataError.malformed(path: path, reason: "payload of \(file.payload.count) bytes for widths \(widths)")
        }
        let values = file.doubles(at: 0, count: expected)
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw DataError.malformed(path: path, reason: "parameter \(bad) is not finite (NaN or infinity)")
        }
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

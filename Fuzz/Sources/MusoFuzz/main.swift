// One libFuzzer entry point for every reader; MUSO_FUZZ_TARGET picks the
// reader (idx, csv, npy, model, network, ids). Each input is handed to the
// reader exactly as a user's file would be; any thrown error is a correct
// refusal, and anything else (a trap, a sanitizer report, a hang, an
// allocation past -malloc_limit_mb) is a bug.
import Foundation
import UnlearningIO
import NetworkIO

enum Target: String, CaseIterable {
    case idx, csv, npy, model, network, ids
}

let target: Target = {
    let name = ProcessInfo.processInfo.environment["MUSO_FUZZ_TARGET"] ?? ""
    guard let t = Target(rawValue: name) else {
        FileHandle.standardError.write(Data("set MUSO_FUZZ_TARGET to one of \(Target.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
        exit(2)
    }
    return t
}()

/// A file on tmpfs for the readers that map or open a path (.npy).
let scratch: String = {
    let dir = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return "\(dir)/muso-fuzz-\(getpid()).npy"
}()

/// CRC-32 (zlib's polynomial, reflected), to re-seal mutated containers.
let crcTable: [UInt32] = (0..<256).map { n in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
}

func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xff)] ^ (c >> 8) }
    return c ^ 0xFFFF_FFFF
}

/// Model and network files carry a CRC-32 of everything after their 32-byte
/// prefix: a random mutation almost always breaks it, and the fuzzer would
/// never get past the checksum. Half of the inputs are re-sealed with the
/// right checksum, so the header and array validation behind it are
/// searched too; the other half test the checksum itself.
func resealed(_ bytes: [UInt8]) -> [UInt8] {
    guard bytes.count >= 32, bytes.last.map({ $0 & 1 == 0 }) ?? false else { return bytes }
    var out = bytes
    let c = crc32(bytes[32...])
    for k in 0..<4 { out[28 + k] = UInt8(truncatingIfNeeded: c >> (8 * UInt32(k))) }
    return out
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    switch target {
    case .idx:
        _ = try? IDXArray(possiblyCompressed: bytes, path: "fuzz.idx")
    case .csv:
        _ = try? CSV.parse(bytes, path: "fuzz.csv")
    case .npy:
        // The header parser, then the mapped file and its accessors.
        _ = try? bytes.withUnsafeBytes { try NPYHeader(bytes: $0, path: "fuzz.npy") }
        guard FileManager.default.createFile(atPath: scratch, contents: Data(bytes)) else { return 0 }
        if let file = try? NPYFile(path: scratch) {
            _ = try? file.integers()
            if file.header.count <= 1 << 16 { _ = try? file.matrix() }
        }
    case .model:
        _ = try? ModelFile.decode(resealed(bytes), path: "fuzz.muso")
    case .network:
        _ = try? NetworkFile.decode(resealed(bytes), path: "fuzz.net")
    case .ids:
        _ = try? IDList.parse(String(decoding: bytes, as: UTF8.self), source: "fuzz-ids")
    }
    return 0
}

// One libFuzzer entry point for every reader; MUSO_FUZZ_TARGET picks the
// reader (idx, csv, npy, model, network, ids). Each input is handed to the
// reader exactly as a user's file would be; any thrown error is a correct
// refusal, and anything else (a trap, a sanitizer report, a hang, an
// allocation past -malloc_limit_mb) is a bug.
import Foundation
import UnlearningIO

enum Target: String, CaseIterable {
    case idx, csv, npy, model, network, ids
}

nonisolated(unsafe) let target: Target = {
    let name = ProcessInfo.processInfo.environment["MUSO_FUZZ_TARGET"] ?? ""
    guard let t = Target(rawValue: name) else {
        fputs("set MUSO_FUZZ_TARGET to one of \(Target.allCases.map(\.rawValue).joined(separator: ", "))\n", stderr)
        exit(2)
    }
    return t
}()

/// A file on tmpfs for the readers that map or open a path (.npy).
nonisolated(unsafe) let scratch: String = {
    let dir = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return "\(dir)/muso-fuzz-\(getpid()).npy"
}()

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
        _ = try? ModelFile.decode(bytes, path: "fuzz.muso")
    case .network:
        _ = try? NetworkFile.decode(bytes, path: "fuzz.net")
    case .ids:
        _ = try? IDList.parse(String(decoding: bytes, as: UTF8.self), source: "fuzz-ids")
    }
    return 0
}

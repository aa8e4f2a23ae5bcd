import Foundation

/// Writes files so that a crash or a full disk half-way leaves the previous
/// file intact: the bytes go to a temporary file in the same directory, which
/// is flushed to disk (`fsync`) and then renamed over the target (atomic on
/// POSIX file systems), and the directory is flushed so the rename persists.
public enum AtomicFile {
    /// - Throws: `unwritable` naming the path and the system's reason; the
    ///   temporary file is removed and the target left as it was.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try bytes.withUnsafeBytes { try write(chunks: [$0], to: path) }
    }

    /// Writes the concatenation of `chunks` atomically.
    public static func write(chunks: [UnsafeRawBufferPointer], to path: String) throws {
        try write(chunks: chunks, to: path, failAfter: nil)
    }

    /// `failAfter`: for tests, fail as a full disk would once that many bytes
    /// are written.
    static func write(chunks: [UnsafeRawBufferPointer], to path: String, failAfter: Int?) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let temporary = "\(directory)/.\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw DataError.unwritable(path: path, reason: systemError()) }
        var ok = false
        defer {
            if !ok { unlink(temporary) }
        }
        do {
            defer { close(fd) }
            var written = 0
            for chunk in chunks {
                var offset = 0
                while offset < chunk.count {
                    if let failAfter, written + (chunk.count - offset) > failAfter {
                        throw DataError.unwritable(path: path, reason: "No space left on device (simulated)")
                    }
                    let n = Glibc.write(fd, chunk.baseAddress! + offset, chunk.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw DataError.unwritable(path: path, reason: systemError())
                    }
                    offset += n
                    written += n
                }
            }
            guard fsync(fd) == 0 else { throw DataError.unwritable(path: path, reason: "fsync: \(systemError())") }
        }
        guard rename(temporary, path) == 0 else { throw DataError.unwritable(path: path, reason: "rename: \(systemError())") }
        ok = true
        let dfd = open(directory.isEmpty ? "." : directory, O_RDONLY)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }
}

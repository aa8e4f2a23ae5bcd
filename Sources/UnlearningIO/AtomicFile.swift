import Foundation

/// Writes files so that a crash, a kill or a full disk half-way leaves the
/// previous file intact: the bytes go to a temporary file in the target's
/// directory, which is flushed to disk (`fsync`) and then renamed over the
/// target (atomic on POSIX file systems), and the directory is flushed so the
/// rename persists.
///
/// Replacing an existing file keeps what the user set on it: its permission
/// bits and owner are copied to the new file before the rename, and a
/// symbolic link is followed to the file it names, which is the file
/// replaced (the link stays a link). Anything but a regular file at the
/// target (a FIFO, a device, a directory) is refused.
///
/// Temporary files are named `.<name>.tmp-<pid>-<random>`; one left behind
/// by a killed process is removed by the next `FileLock` on that file
/// (`FileLock.acquire`), and is never taken for the file itself.
package enum AtomicFile {
    /// - Throws: `unwritable` naming the path and the system's reason; the
    ///   temporary file is removed and the target left as it was.
    package static func write(_ bytes: [UInt8], to path: String) throws {
        try bytes.withUnsafeBytes { try write(chunks: [$0], to: path) }
    }

    /// Writes the concatenation of `chunks` atomically.
    /// - Parameter expected: when given, the file at `path` must still be
    ///   that file (device, inode, size and modification time) just before
    ///   the rename: the check that nothing replaced it since it was read.
    package static func write(chunks: [UnsafeRawBufferPointer], to path: String, replacing expected: FileIdentity? = nil) throws {
        try write(chunks: chunks, to: path, replacing: expected, failAfter: nil)
    }

    /// The temporary-file prefix of the file `name` (in the same directory).
    static func temporaryPrefix(of name: String) -> String { ".\(name).tmp-" }

    /// The file a write to `path` replaces: `path` itself, or the end of its
    /// chain of symbolic links. Refuses a special file there.
    /// - Throws: `unwritable` for a loop of links or a target that is not a
    ///   regular file.
    package static func resolvedTarget(_ path: String) throws -> String {
        var current = path
        for _ in 0..<40 {
            var st = stat()
            if lstat(current, &st) != 0 { return current }  // nothing there yet: a new file
            switch st.st_mode & S_IFMT {
            case S_IFREG: return current
            case S_IFLNK:
                var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                let n = readlink(current, &buffer, buffer.count - 1)
                guard n > 0 else { throw DataError.unwritable(path: path, reason: "readlink: \(systemError())") }
                let destination = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                current = destination.hasPrefix("/") ? destination
                    : URL(fileURLWithPath: current).deletingLastPathComponent().path + "/" + destination
            default:
                throw DataError.unwritable(path: path, reason: "\(current) is \(InputFile.fileKind(st.st_mode)), not a regular file; refusing to replace it")
            }
        }
        throw DataError.unwritable(path: path, reason: "too many levels of symbolic links")
    }

    /// `failAfter`: for tests, fail as a full disk would once that many bytes
    /// are written.
    static func write(chunks: [UnsafeRawBufferPointer], to path: String, replacing expected: FileIdentity?, failAfter: Int?) throws {
        let target = try resolvedTarget(path)
        let url = URL(fileURLWithPath: target)
        let directory = url.deletingLastPathComponent().path
        let temporary = "\(directory)/\(temporaryPrefix(of: url.lastPathComponent))\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        var existing = stat()
        let replacingFile = stat(target, &existing) == 0
        if let expected {
            guard replacingFile, FileIdentity(existing) == expected else {
                throw DataError.unwritable(path: path, reason: "the file was replaced or changed by another program since it was read; nothing written")
            }
        }
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard fd >= 0 else { throw DataError.unwritable(path: path, reason: systemError()) }
        var ok = false
        defer {
            if !ok { unlink(temporary) }
        }
        do {
            defer { close(fd) }
            if replacingFile {
                // The new file takes the old one's owner and permissions.
                if existing.st_uid != geteuid() || existing.st_gid != getegid() {
                    guard fchown(fd, existing.st_uid, existing.st_gid) == 0 else {
                        throw DataError.unwritable(path: path, reason: "cannot keep the file's owner \(existing.st_uid):\(existing.st_gid): \(systemError())")
                    }
                }
                guard fchmod(fd, existing.st_mode & 0o7777) == 0 else {
                    throw DataError.unwritable(path: path, reason: "cannot keep the file's mode: \(systemError())")
                }
            }
            var written = 0
            for chunk in chunks {
                var offset = 0
                while offset < chunk.count {
                    if let failAfter, written + (chunk.count - offset) > failAfter {
                        throw DataError.unwritable(path: path, reason: "No space left on device (simulated)")
                    }
                    var length = chunk.count - offset
                    if let stop = FaultInjection.killAfterBytes {
                        if written >= stop { FaultInjection.kill("write:\(stop)") }
                        length = min(length, stop - written)
                    }
                    let n = Glibc.write(fd, chunk.baseAddress! + offset, length)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw DataError.unwritable(path: path, reason: systemError())
                    }
                    offset += n
                    written += n
                }
            }
            if let stop = FaultInjection.killAfterBytes, written >= stop { FaultInjection.kill("write:\(stop)") }
            guard fsync(fd) == 0 else { throw DataError.unwritable(path: path, reason: "fsync: \(systemError())") }
        }
        FaultInjection.point("before-rename")
        if let expected {
            // Checked again as late as possible: a writer that does not take
            // the lock may have replaced the file during the computation.
            var now = stat()
            guard stat(target, &now) == 0, FileIdentity(now) == expected else {
                throw DataError.unwritable(path: path, reason: "the file was replaced or changed by another program since it was read; nothing written")
            }
        }
        guard rename(temporary, target) == 0 else { throw DataError.unwritable(path: path, reason: "rename: \(systemError())") }
        ok = true
        FaultInjection.point("after-rename")
        let dfd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }
}

/// What identifies one version of a file: device, inode, size and
/// modification time. A rename over the file changes the inode; a write in
/// place changes the size or the time.
public struct FileIdentity: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modifiedSeconds: Int
    var modifiedNanoseconds: Int

    init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        size = Int64(st.st_size)
        modifiedSeconds = st.st_mtim.tv_sec
        modifiedNanoseconds = st.st_mtim.tv_nsec
    }

    /// The identity of the file at `path` (symbolic links followed), nil when
    /// there is none.
    public static func of(_ path: String) -> FileIdentity? {
        var st = stat()
        return stat(path, &st) == 0 ? FileIdentity(st) : nil
    }
}

/// An exclusive advisory lock (`flock`) on a file that is read, changed and
/// replaced: held for the whole read-modify-write, so that two programs that
/// take it apply their changes one after the other.
///
/// The lock lives on a sidecar file `.<name>.lock` next to the (symlink-
/// resolved) target, never on the target itself: the target is replaced by a
/// rename, which would leave a lock on the old inode. The sidecar is never
/// removed (removing it would let two programs lock two different files).
/// Taking the lock also removes temporary files that a killed writer left
/// next to the target: while the lock is held nobody else writes one.
public final class FileLock {
    /// The file guarded (symbolic links resolved).
    public let target: String
    private var fd: Int32

    private init(target: String, fd: Int32) {
        self.target = target
        self.fd = fd
    }

    deinit { release() }

    /// Takes the lock for `path`, waiting up to `wait` seconds for another
    /// holder to finish.
    /// - Throws: `DataError.busy` when the lock is still held after `wait`
    ///   seconds; `unwritable` when the sidecar cannot be created.
    /// - Complexity: polls every 20 ms while another program holds it.
    public static func acquire(_ path: String, wait: Double = 0) throws -> FileLock {
        let target = try AtomicFile.resolvedTarget(path)
        let url = URL(fileURLWithPath: target)
        let directory = url.deletingLastPathComponent().path
        let name = url.lastPathComponent
        let lockPath = "\(directory)/.\(name).lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw DataError.unwritable(path: path, reason: "cannot create the lock file \(lockPath): \(systemError())") }
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(max(0, wait) * 1e9)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                let reason = systemError()
                close(fd)
                throw DataError.unwritable(path: path, reason: "flock: \(reason)")
            }
            if DispatchTime.now().uptimeNanoseconds >= deadline {
                close(fd)
                throw DataError.busy(path: path, waited: max(0, wait))
            }
            usleep(20_000)
        }
        let lock = FileLock(target: target, fd: fd)
        lock.removeStaleTemporaries(directory: directory, name: name)
        FaultInjection.point("after-lock")
        return lock
    }

    /// Removes `.<name>.tmp-*` files next to the target: under the lock,
    /// every one of them was left by a writer that died.
    private func removeStaleTemporaries(directory: String, name: String) {
        let prefix = AtomicFile.temporaryPrefix(of: name)
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory) else { return }
        for entry in entries where entry.hasPrefix(prefix) {
            var st = stat()
            let full = "\(directory)/\(entry)"
            if lstat(full, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG { unlink(full) }
        }
    }

    /// Takes the lock for `path` if it is free, which removes stale temporary
    /// files, and releases it at once; does nothing if a request holds it or
    /// the directory is read-only.
    package static func removeStaleTemporaries(of path: String) {
        guard FileManager.default.fileExists(atPath: path) else { return }
        (try? acquire(path, wait: 0))?.release()
    }

    /// Releases the lock (also on deinit).
    public func release() {
        if fd >= 0 {
            flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
    }
}

/// A test hook: with `MUSO_FAULT_INJECT=<point>` in the environment the
/// process kills itself (SIGKILL, as `kill -9` would) when it reaches that
/// point: `after-lock`, `after-read`, `after-compute`, `before-rename`,
/// `after-rename`, or `write:<bytes>` (after that many bytes of the
/// temporary file). With `MUSO_FAULT_DELAY=<point>:<seconds>` it sleeps
/// there instead, which widens a read-modify-write so that the concurrency
/// tests would see a lost update if the lock did not serialise requests.
/// Under MPI, `MUSO_FAULT_RANK=<r>` limits the hook to the process of
/// that rank (`OMPI_COMM_WORLD_RANK`), so that one process of a job dies
/// and the others are ended by `mpirun`.
/// Used by the tests; inert otherwise.
package enum FaultInjection {
    static let setting: String? = {
        let environment = ProcessInfo.processInfo.environment
        if let rank = environment["MUSO_FAULT_RANK"], rank != environment["OMPI_COMM_WORLD_RANK"] { return nil }
        return environment["MUSO_FAULT_INJECT"]
    }()

    static let delay: (point: String, seconds: Double)? = {
        guard let s = ProcessInfo.processInfo.environment["MUSO_FAULT_DELAY"],
              let colon = s.lastIndex(of: ":"), let seconds = Double(s[s.index(after: colon)...]), seconds >= 0, seconds < 60 else { return nil }
        return (String(s[..<colon]), seconds)
    }()

    static let killAfterBytes: Int? = {
        guard let s = setting, s.hasPrefix("write:") else { return nil }
        return Int(s.dropFirst(6))
    }()

    /// Kills the process if `name` is the configured point.
    package static func point(_ name: String) {
        if setting == name { kill(name) }
        if let delay, delay.point == name { usleep(UInt32(delay.seconds * 1e6)) }
    }

    static func kill(_ name: String) -> Never {
        Glibc.kill(getpid(), SIGKILL)
        fatalError("unreachable: killed at \(name)")
    }
}

import Foundation

/// Reading files that come from outside, which are hostile until checked.
///
/// Only regular files are read: a FIFO, a socket, a device or a directory is
/// refused with a message (a FIFO would otherwise block the reader forever,
/// `/dev/zero` would never end). The file is opened with `O_NONBLOCK` so that
/// opening a FIFO returns at once, then checked with `fstat` on the open
/// descriptor (no window between the check and the read). Sizes are checked
/// against a caller's limit before anything is allocated.
package enum InputFile {
    /// The largest file read whole into memory by default (16 GiB): beyond
    /// it, a reader that needs the whole file refuses it.
    package static let defaultLimit = 1 << 34

    /// Opens `path` read-only and returns the descriptor and the file's size.
    /// - Throws: `unreadable` (missing, permission) or `malformed` (not a
    ///   regular file), naming the path.
    static func open(_ path: String) throws -> (fd: Int32, size: Int, identity: FileIdentity) {
        let fd = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw DataError.unreadable(path: path, reason: errno == ENOENT ? "no such file" : systemError()) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let reason = systemError()
            close(fd)
            throw DataError.unreadable(path: path, reason: reason)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw DataError.malformed(path: path, reason: "not a regular file (\(fileKind(st.st_mode))); only regular files are read")
        }
        // Back to blocking reads for a regular file (O_NONBLOCK has no effect
        // on them on Linux, but be explicit).
        let flags = fcntl(fd, F_GETFL)
        if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
        return (fd, Int(st.st_size), FileIdentity(st))
    }

    /// The whole file, refused when it is larger than `limit` bytes.
    /// - Complexity: O(size), one allocation of the file's size.
    package static func read(_ path: String, limit: Int = defaultLimit) throws -> [UInt8] {
        try readIdentified(path, limit: limit).bytes
    }

    /// The whole file and the identity of the version read (for a later
    /// `AtomicFile.write(..., replacing:)`).
    package static func readIdentified(_ path: String, limit: Int = defaultLimit) throws -> (bytes: [UInt8], identity: FileIdentity) {
        let (fd, size, identity) = try open(path)
        defer { close(fd) }
        guard size <= limit else {
            throw DataError.malformed(path: path, reason: "\(size) bytes, more than the \(limit) this reader accepts")
        }
        var bytes = [UInt8](repeating: 0, count: size)
        var offset = 0
        try bytes.withUnsafeMutableBytes { buffer in
            while offset < size {
                let n = Glibc.read(fd, buffer.baseAddress! + offset, size - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw DataError.unreadable(path: path, reason: systemError())
                }
                if n == 0 { break }
                offset += n
            }
        }
        guard offset == size else {
            throw DataError.unreadable(path: path, reason: "the file shrank while it was read (\(offset) of \(size) bytes)")
        }
        return (bytes, identity)
    }

    /// UTF-8 text of a regular file, refused when larger than `limit` bytes
    /// or not valid UTF-8.
    package static func text(_ path: String, limit: Int = defaultLimit) throws -> String {
        let bytes = try read(path, limit: limit)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw DataError.malformed(path: path, reason: "not UTF-8 text")
        }
        return text
    }

    static func fileKind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFDIR: return "a directory"
        case S_IFLNK: return "a symbolic link"
        default: return "a special file"
        }
    }
}

/// A short, printable excerpt of untrusted text for an error message: at
/// most `limit` characters, control characters escaped, an ellipsis and the
/// full length when cut.
func excerpt<S: StringProtocol>(_ text: S, limit: Int = 40) -> String {
    var out = ""
    var count = 0
    for scalar in text.unicodeScalars {
        if count == limit {
            return out + "... (\(text.utf8.count) bytes)"
        }
        if scalar.value < 0x20 || scalar.value == 0x7f {
            out += scalar.escaped(asASCII: true)
        } else {
            out.unicodeScalars.append(scalar)
        }
        count += 1
    }
    return out
}

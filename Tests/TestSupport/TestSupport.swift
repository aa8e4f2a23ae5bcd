import Foundation
import LinearAlgebra
import Unlearning

/// Shared test fixtures: repeatable random matrices, synthetic problems with
/// known structure, and naive reference implementations that do not go
/// through BLAS (independent oracles for the BLAS-backed code).
public enum Fixtures {
    /// An m x n matrix of standard normal entries from `seed`.
    public static func gaussian(_ m: Int, _ n: Int, seed: UInt64, scale: Double = 1) -> Matrix {
        var g = SeededGenerator(seed: seed)
        return Matrix(rows: m, columns: n) { _, _ in scale * g.nextNormal() }
    }

    /// A symmetric positive-definite matrix B B^T + shift I (n x n).
    public static func spd(_ n: Int, seed: UInt64, shift: Double = 1) -> Matrix {
        let b = gaussian(n, n, seed: seed)
        var a = naiveProduct(b, b.transposed)
        for i in 0..<n { a[i, i] += shift }
        return a
    }

    /// The n x n Hilbert matrix H_ij = 1 / (i + j + 1).
    public static func hilbert(_ n: Int) -> Matrix {
        Matrix(rows: n, columns: n) { i, j in 1 / Double(i + j + 1) }
    }

    /// Triple-loop product, no BLAS.
    public static func naiveProduct(_ a: Matrix, _ b: Matrix) -> Matrix {
        precondition(a.columns == b.rows)
        return Matrix(rows: a.rows, columns: b.columns) { i, j in
            var s = 0.0
            for k in 0..<a.columns { s += a[i, k] * b[k, j] }
            return s
        }
    }

    /// Rows and columns `keep` of a square matrix.
    public static func principal(_ a: Matrix, keeping keep: [Int]) -> Matrix {
        Matrix(rows: keep.count, columns: keep.count) { i, j in a[keep[i], keep[j]] }
    }

    /// The exact 1-norm condition number of a small SPD matrix, from its
    /// inverse computed column by column with Gauss–Jordan elimination
    /// (no LAPACK).
    public static func exactOneNormCondition(_ a: Matrix) -> Double {
        a.oneNorm * inverse(a).oneNorm
    }
}

/// A synthetic regression/classification problem on random Fourier features:
/// Gaussian inputs, targets +-1 (C = 1) or one-hot (C > 1) with random
/// classes, theta0 ~ N(0, 1/M).
public struct SyntheticProblem: Sendable {
    public var inputs: Matrix
    public var targets: Matrix
    public var map: RandomFourierFeatures
    public var theta0: Matrix
    public var seed: UInt64

    public init(samples n: Int, features m: Int, dimension d: Int = 8, outputs c: Int = 1,
                bandwidth: Double = 2, seed: UInt64) throws {
        var g = SeededGenerator(seed: seed)
        inputs = Matrix(rows: n, columns: d) { _, _ in g.nextNormal() }
        var y = Matrix(rows: n, columns: c)
        for i in 0..<n {
            if c == 1 { y[i, 0] = g.next() % 2 == 0 ? 1 : -1 } else { y[i, Int(g.next() % UInt64(c))] = 1 }
        }
        targets = y
        map = try RandomFourierFeatures(inputDimension: d, featureCount: m, bandwidth: bandwidth, seed: seed &+ 17)
        theta0 = Matrix(rows: m, columns: c) { _, _ in g.nextNormal() / Double(m).squareRoot() }
        self.seed = seed
    }

    /// Phi, materialised.
    public func phi() throws -> Matrix { try map.features(of: inputs) }

    /// The feature source, held in memory or generated.
    public func source(materialized: Bool = true, blockSize: Int = 64) throws -> FeatureSource {
        var s = try FeatureSource.generated(by: map, inputs: inputs)
        s.blockSize = blockSize
        return materialized ? try s.materialize() : s
    }

    /// `count` distinct random ids out of 0..<N.
    public func randomIDs(_ count: Int, seed: UInt64) -> [Int] {
        var g = SeededGenerator(seed: seed)
        var all = Array(0..<inputs.rows)
        all.shuffle(using: &g)
        return Array(all.prefix(count))
    }
}

/// The error's description, or "" when `body` does not throw.
public func errorMessage(_ body: () throws -> Void) -> String {
    do { try body() } catch { return "\(error)" }
    return ""
}

/// Runs `body` with `count` BLAS threads while holding a process-wide lock, so
/// that two tests that set the (global) OpenBLAS thread count never overlap,
/// even from different suites or test targets: a test that says "1 thread"
/// really ran with one. Tests that do not set the count are unaffected.
public func withBLASThreads<R>(_ count: Int, _ body: () throws -> R) rethrows -> R {
    try holdingBLASThreadLock {
        try BLASThreads.with(count) {
            precondition(BLASThreads.count == count)
            return try body()
        }
    }
}

/// Runs `body` holding the lock of `withBLASThreads`, for a test that reads
/// the global thread count and must not see another test's setting.
public func holdingBLASThreadLock<R>(_ body: () throws -> R) rethrows -> R {
    BLASThreadLock.lock.lock()
    defer { BLASThreadLock.lock.unlock() }
    return try body()
}

enum BLASThreadLock {
    static let lock = NSLock()
}

/// A fresh temporary directory for one test.
public func temporaryDirectory(_ name: String = #function) throws -> String {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let path = NSTemporaryDirectory() + "muso-test-\(safe)-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Runs a program and returns its exit status, stdout and stderr.
public func runProgram(_ path: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    let r = try RunningProgram(path, arguments, environment: environment).finish()
    return (r.status, r.stdout, r.stderr)
}

/// A program started in the background; `finish()` waits for it. Output
/// goes to temporary files (not pipes), so many programs can run at once
/// without filling a pipe.
public final class RunningProgram {
    let process = Process()
    let outPath: String, errPath: String

    public init(_ path: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        let base = NSTemporaryDirectory() + "/muso-run-\(UUID().uuidString)"
        outPath = base + ".out"; errPath = base + ".err"
        guard FileManager.default.createFile(atPath: outPath, contents: nil),
              FileManager.default.createFile(atPath: errPath, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: base])
        }
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        try process.run()
    }

    /// Waits; `killedBySignal` is the signal that ended the program, if one did.
    public func finish() throws -> (status: Int32, stdout: String, stderr: String, killedBySignal: Int32?) {
        process.waitUntilExit()
        let o = try String(contentsOfFile: outPath, encoding: .utf8), e = try String(contentsOfFile: errPath, encoding: .utf8)
        try? FileManager.default.removeItem(atPath: outPath)
        try? FileManager.default.removeItem(atPath: errPath)
        let signal = process.terminationReason == .uncaughtSignal ? process.terminationStatus : nil
        return (process.terminationStatus, o, e, signal)
    }
}

/// Runs python3 with numpy on `script`; nil when python3 or numpy is missing.
public func python(_ script: String) throws -> (status: Int32, stdout: String, stderr: String) {
    try runProgram("/usr/bin/env", ["python3", "-c", script])
}

extension Fixtures {
    /// The inverse of a small non-singular matrix by Gauss–Jordan elimination
    /// with partial pivoting (no LAPACK).
    public static func inverse(_ a: Matrix) -> Matrix {
        let n = a.rows
        var aug = Matrix(rows: n, columns: 2 * n) { i, j in j < n ? a[i, j] : (j - n == i ? 1 : 0) }
        for col in 0..<n {
            var pivot = col
            for r in col..<n where abs(aug[r, col]) > abs(aug[pivot, col]) { pivot = r }
            if pivot != col { for j in 0..<(2 * n) { let t = aug[col, j]; aug[col, j] = aug[pivot, j]; aug[pivot, j] = t } }
            let p = aug[col, col]
            for j in 0..<(2 * n) { aug[col, j] /= p }
            for r in 0..<n where r != col {
                let f = aug[r, col]
                if f != 0 { for j in 0..<(2 * n) { aug[r, j] -= f * aug[col, j] } }
            }
        }
        return Matrix(rows: n, columns: n) { i, j in aug[i, n + j] }
    }
}

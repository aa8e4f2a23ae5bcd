import ArgumentParser
import Foundation
import LinearAlgebra
import Unlearning
import UnlearningIO

/// A failure while running a command: printed as "Error: <message>"
/// without the usage text (which is for mistakes in the arguments).
package struct Failure: Error, CustomStringConvertible {
    package let description: String
    package init(_ message: String) { description = message }
}

/// Options every command shares.
package struct CommonOptions: ParsableArguments {
    package init() {}

    @Flag(help: "Print machine-readable JSON on stdout instead of text.")
    package var json = false

    @Option(help: "BLAS threads (default: OpenBLAS's choice, one per core).")
    package var threads: Int?

    @Flag(help: "Print progress lines on stderr even when it is not a terminal (logs of long runs). On a terminal a progress bar is drawn anyway.")
    package var progress = false

    package func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    package func apply() {
        if let threads { BLASThreads.count = threads }
        if progress { Progress.requestLines() }
    }
}

/// Runs `body`, returning its value and the wall time in seconds.
package func timed<R>(_ body: () throws -> R) rethrows -> (R, Double) {
    let start = DispatchTime.now().uptimeNanoseconds
    let r = try body()
    return (r, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}

/// A JSON document on stdout (sorted keys; NaN and infinity as null).
package func printJSON(_ value: Any) throws {
    print(try jsonText(value), terminator: "")
}

/// `value` as pretty-printed JSON with sorted keys (non-finite numbers as
/// null), ending in a newline.
package func jsonText(_ value: Any) throws -> String {
    let data = try JSONSerialization.data(withJSONObject: sanitize(value), options: [.prettyPrinted, .sortedKeys])
    return String(decoding: data, as: UTF8.self) + "\n"
}

package func sanitize(_ value: Any) -> Any {
    switch value {
    case let d as Double: return d.isFinite ? d : NSNull()
    case let a as [Any]: return a.map(sanitize)
    case let m as [String: Any]: return m.mapValues(sanitize)
    case let o as Any? where o == nil: return NSNull()
    default: return value
    }
}

package func format(_ x: Double, _ spec: String = "%.3e") -> String {
    x.isFinite ? String(format: spec, x) : "n/a"
}

package func certificateJSON(_ c: Certificate) -> [String: Any] {
    certificateJSON(CertificateRecord(c))
}

package func certificateJSON(_ c: CertificateRecord) -> [String: Any] {
    var out: [String: Any] = ["exact_method": c.isExact, "stationarity_residual": c.stationarityResidual]
    if let v = c.verdict { out["verdict"] = v; out["verified"] = v.hasPrefix("exact") }
    if let v = c.residualBound { out["residual_bound"] = v }
    if let v = c.factorResidual { out["factor_probe_residual"] = v }
    if let v = c.oracleDistance { out["relative_distance_to_retrain"] = v }
    if let v = c.oracleRoute { out["oracle_route"] = v.rawValue }
    if let v = c.forgottenCoefficientResidual { out["forgotten_coefficient_residual"] = v }
    if let v = c.conditionEstimate { out["condition_estimate"] = v }
    if let v = c.errorBound { out["error_bound"] = v }
    if let v = c.note { out["note"] = v }
    return out
}

/// Which classes to keep: all, or a comma-separated list.
package struct ClassList: ExpressibleByArgument, Sendable {
    package var classes: [Int]?
    package init?(argument: String) {
        if argument == "all" { classes = nil; return }
        let parts = argument.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        classes = parts.map { $0! }
        if Set(classes!).count != classes!.count { return nil }
    }
    package init(_ classes: [Int]?) { self.classes = classes }
    package var defaultValueDescription: String { classes.map { $0.map(String.init).joined(separator: ",") } ?? "all" }
}

package enum DataKind: String, ExpressibleByArgument, CaseIterable {
    case fashionMnist = "fashion-mnist", csv, npy
}

/// Where the training data come from.
/// Where the Fashion-MNIST files are: every command that reads them.
package struct FashionMNISTOption: ParsableArguments {
    package init() {}

    @Option(help: "Directory of the Fashion-MNIST IDX files.")
    package var fashionDir = FashionMNIST.defaultDirectory
}

package struct DataOptions: ParsableArguments {
    package init() {}

    @Option(help: "Data source (\(DataKind.allCases.map(\.rawValue).joined(separator: ", "))).")
    package var data: DataKind = .fashionMnist

    @OptionGroup package var fashion: FashionMNISTOption
    package var fashionDir: String { fashion.fashionDir }

    @Option(help: "The CSV file (--data csv), or the feature matrix .npy file, N x M (--data npy).")
    package var path: String?

    @Option(help: "Labels .npy file, one integer per row (--data npy).")
    package var labels: String?

    @Option(help: "Sample ids .npy file, one integer per row (--data npy; default: row numbers).")
    package var sampleIds: String?

    @Option(help: "CSV: the label column's header name.")
    package var labelColumn = "label"

    @Option(help: "CSV: the id column's header name (ids are row numbers when absent).")
    package var idColumn = "id"

    @Option(help: "Classes to keep: 'all' or a comma-separated list such as 0,6.")
    package var classes = ClassList(nil)

    @Option(help: "Keep a seeded random subset of this many training samples.")
    package var limit: Int?

    package func validate() throws {
        switch data {
        case .fashionMnist: break
        case .csv: if path == nil { throw ValidationError("--data csv needs --path FILE.csv") }
        case .npy:
            if path == nil || labels == nil { throw ValidationError("--data npy needs --path FEATURES.npy and --labels LABELS.npy") }
        }
        if let limit, limit < 2 { throw ValidationError("--limit must be at least 2") }
    }
}

/// The training data, loaded: inputs (or a feature file), labels, ids.
package struct LoadedData {
    package var data: LabeledData?          // inputs for a feature map
    package var features: NPYFile?          // a given feature matrix
    package var rows: [Int]                 // rows of `features` used
    package var labels: [Int]
    package var ids: [Int]
    package var description: DataDescription
}

package func loadTraining(_ o: DataOptions, seed: UInt64) throws -> LoadedData {
    switch o.data {
    case .fashionMnist:
        Progress.report("reading Fashion-MNIST from \(o.fashionDir)")
        let d = try FashionMNIST.load(.train, directory: o.fashionDir, classes: o.classes.classes, limit: o.limit, seed: seed)
        return LoadedData(data: d, features: nil, rows: [], labels: d.labels, ids: d.ids,
                          description: DataDescription(kind: .fashionMNIST, path: o.fashionDir, classes: d.classes, limit: o.limit, seed: seed))
    case .csv:
        let d = try CSV.load(o.path!, labelColumn: o.labelColumn, idColumn: o.idColumn)
            .selecting(SampleSelection(classes: o.classes.classes, limit: o.limit, seed: seed))
        return LoadedData(data: d, features: nil, rows: [], labels: d.labels, ids: d.ids,
                          description: DataDescription(kind: .csv, path: o.path, classes: d.classes, limit: o.limit, seed: seed))
    case .npy:
        let file = try NPYFile(path: o.path!)
        guard file.header.shape.count == 2 else {
            throw DataError.malformed(path: o.path!, reason: "shape \(file.header.shape), expected a 2-D feature matrix N x M")
        }
        let labels = try NPYFile(path: o.labels!).integers()
        guard labels.count == file.rowCount else {
            throw DataError.malformed(path: o.labels!, reason: "\(labels.count) labels for \(file.rowCount) rows of \(o.path!)")
        }
        var ids = Array(0..<labels.count)
        if let idPath = o.sampleIds {
            ids = try NPYFile(path: idPath).integers()
            guard ids.count == labels.count else { throw DataError.malformed(path: idPath, reason: "\(ids.count) ids for \(labels.count) rows") }
        }
        let rows = try SampleSelection(classes: o.classes.classes, limit: o.limit, seed: seed).rows(labels: labels, source: o.labels!)
        let chosen = rows.map { labels[$0] }
        return LoadedData(data: nil, features: file, rows: rows, labels: chosen, ids: rows.map { ids[$0] },
                          description: DataDescription(kind: .npy, path: o.path, classes: Array(Set(chosen)).sorted(), limit: o.limit, seed: seed))
    }
}

/// Reloads the data a model was trained on, from its description, for
/// evaluation: all samples of the described selection (forgotten included).
package func reloadTraining(_ d: DataDescription, labelsPath: String?, labelColumn: String, idColumn: String) throws -> LabeledData? {
    switch d.kind {
    case .fashionMNIST:
        return try FashionMNIST.load(.train, directory: d.path ?? FashionMNIST.defaultDirectory, classes: d.classes, limit: d.limit, seed: d.seed ?? 0)
    case .csv:
        guard let path = d.path else { return nil }
        return try CSV.load(path, labelColumn: labelColumn, idColumn: idColumn)
            .selecting(SampleSelection(classes: d.classes, limit: d.limit, seed: d.seed ?? 0))
    case .npy, .synthetic:
        return nil
    }
}

/// The median pairwise distance of up to 1000 seeded samples: the usual
/// bandwidth heuristic for the Gaussian kernel.
package func medianDistance(_ x: Matrix, seed: UInt64) -> Double {
    var g = SeededGenerator(seed: seed ^ 0xBA5D)
    var rows = Array(0..<x.rows)
    rows.shuffle(using: &g)
    rows = Array(rows.prefix(1000))
    guard rows.count >= 2, let sub = try? x.selectingRows(rows),
          let gram = try? Matrix.product(sub, sub, transposingSecond: true) else { return 1 }
    // ||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b, from one GEMM.
    var distances: [Double] = []
    distances.reserveCapacity(rows.count * (rows.count - 1) / 2)
    for a in 0..<rows.count {
        for b in 0..<a { distances.append(max(0, gram[a, a] + gram[b, b] - 2 * gram[a, b]).squareRoot()) }
    }
    distances.sort()
    return max(distances[distances.count / 2], 1e-12)
}

/// The mean and the sample standard deviation (0 for a single value).
package func meanAndSpread(_ v: [Double]) -> (Double, Double) {
    let mean = v.reduce(0, +) / Double(v.count)
    let sd = v.count > 1 ? (v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count - 1)).squareRoot() : 0
    return (mean, sd)
}

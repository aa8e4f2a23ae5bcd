import Foundation
import LinearAlgebra
import Unlearning

/// How the model's features are made, enough to make them again.
public struct FeatureMapDescription: Codable, Sendable, Equatable {
    /// "random-fourier", "random-relu", or "npy" (a given feature matrix).
    public var kind: String
    public var inputDimension: Int?
    public var featureCount: Int
    /// sigma of random Fourier features, or the scale of random ReLU features.
    public var bandwidth: Double?
    public var seed: UInt64?
    /// For "npy": the feature file, and the rows of it the model's samples use.
    public var path: String?
    public var rows: [Int]?

    public init(map: any FeatureMap) throws {
        switch map {
        case let rff as RandomFourierFeatures:
            kind = "random-fourier"; bandwidth = rff.bandwidth; seed = rff.seed
        case let relu as RandomReLUFeatures:
            kind = "random-relu"; bandwidth = relu.scale; seed = relu.seed
        default:
            throw UnlearningError.invalidArgument("a feature map of type \(type(of: map)) cannot be saved")
        }
        inputDimension = map.inputDimension
        featureCount = map.featureCount
    }

    public init(npyPath: String, featureCount: Int, rows: [Int]) {
        kind = "npy"; self.featureCount = featureCount; path = npyPath; self.rows = rows
    }

    /// The feature map again (same seed, same features).
    public func makeMap() throws -> any FeatureMap {
        guard let d = inputDimension, let s = seed, let b = bandwidth else {
            throw UnlearningError.invalidArgument("feature map '\(kind)' lacks its parameters")
        }
        switch kind {
        case "random-fourier": return try RandomFourierFeatures(inputDimension: d, featureCount: featureCount, bandwidth: b, seed: s)
        case "random-relu": return try RandomReLUFeatures(inputDimension: d, featureCount: featureCount, scale: b, seed: s)
        default: throw UnlearningError.invalidArgument("unknown feature map kind '\(kind)'")
        }
    }
}

/// The certificate of a journal entry, as stored.
public struct CertificateRecord: Codable, Sendable, Equatable {
    public var isExact: Bool
    public var oracleDistance: Double?
    public var oracleRoute: String?
    public var stationarityResidual: Double
    public var forgottenCoefficientResidual: Double?
    public var conditionEstimate: Double?
    public var errorBound: Double?
    public var note: String?

    public init(_ c: Certificate) {
        isExact = c.isExact
        oracleDistance = c.oracleDistance
        oracleRoute = c.oracleRoute?.rawValue
        stationarityResidual = c.stationarityResidual
        forgottenCoefficientResidual = c.forgottenCoefficientResidual
        conditionEstimate = c.conditionEstimate
        errorBound = c.errorBound
        note = c.note
    }
}

/// One deletion request applied to a model: the proof kept with it.
public struct JournalEntry: Codable, Sendable, Equatable {
    /// 1, 2, ... in the order applied.
    public var sequence: Int
    /// The ids forgotten.
    public var ids: [Int]
    /// When it was applied (ISO 8601, UTC).
    public var time: String
    /// How ("closed-form").
    public var method: String
    /// Wall time of the update, seconds.
    public var seconds: Double
    /// Samples left after it.
    public var samplesAfter: Int
    public var certificate: CertificateRecord

    public init(sequence: Int, ids: [Int], time: Date, method: String, seconds: Double, samplesAfter: Int, certificate: Certificate) {
        self.sequence = sequence
        self.ids = ids
        self.time = ISO8601DateFormatter().string(from: time)
        self.method = method
        self.seconds = seconds
        self.samplesAfter = samplesAfter
        self.certificate = CertificateRecord(certificate)
    }
}

/// Where the training data came from, for `inspect` and `evaluate`.
public struct DataDescription: Codable, Sendable, Equatable {
    /// "fashion-mnist", "csv", "npy".
    public var kind: String
    public var path: String?
    public var classes: [Int]
    public var limit: Int?
    public var seed: UInt64?
    public init(kind: String, path: String?, classes: [Int], limit: Int?, seed: UInt64?) {
        self.kind = kind; self.path = path; self.classes = classes; self.limit = limit; self.seed = seed
    }
}

/// A saved model: versioned, checksummed, written atomically.
///
/// Layout (the `ContainerFile` shared with `NetworkFile`; integers little-endian):
///
///     0   8 bytes  magic "MUSOMDL\0"
///     8   u32      format version (1)
///     12  u64      H, the length of the JSON header
///     20  u64      P, the length of the payload
///     28  u32      CRC-32 of header and payload
///     32  H bytes  JSON header: metadata, journal, and the list of arrays
///     ..  P bytes  the arrays, float64, column-major, in the listed order
///
/// Only the retained samples' inputs are stored: a forgotten sample leaves no
/// trace in the file but its id in the journal.
public struct ModelFile: Sendable {
    public static let magic: [UInt8] = Array("MUSOMDL".utf8) + [0]
    public static let formatVersion: UInt32 = 1

    public var model: MinNormModel
    public var featureMap: FeatureMapDescription
    public var data: DataDescription
    public var coding: TargetCoding
    public var journal: [JournalEntry]
    public var createdAt: String

    public init(model: MinNormModel, featureMap: FeatureMapDescription, data: DataDescription,
                coding: TargetCoding, journal: [JournalEntry] = [], createdAt: Date = Date()) {
        self.model = model
        self.featureMap = featureMap
        self.data = data
        self.coding = coding
        self.journal = journal
        self.createdAt = ISO8601DateFormatter().string(from: createdAt)
    }

    struct ArrayEntry: Codable { var name: String; var rows: Int; var columns: Int }

    struct Header: Codable {
        var createdAt: String
        var form: String
        var ridge: Double
        var fittedConditionEstimate: Double
        var ids: [Int]
        var featureMap: FeatureMapDescription
        var data: DataDescription
        var coding: TargetCoding
        var journal: [JournalEntry]
        var arrays: [ArrayEntry]
    }

    /// Writes the file atomically (temporary file, fsync, rename).
    public func write(to path: String) throws {
        let compact = try model.compacted()
        let s = compact.snapshot
        var arrays: [(String, Matrix)] = [("theta0", s.initialParameters), ("targets", s.targets), ("offsets", s.offsetTargets),
                                          ("factor", s.lowerFactor)]
        if let p = s.parameters { arrays.append(("theta", p)) }
        if let a = s.dualCoefficients { arrays.append(("dual", a)) }
        if let b = s.moment { arrays.append(("moment", b)) }
        var map = featureMap
        if map.kind == "npy" {
            map.rows = compact.featureRows  // rows of the .npy file itself
        } else {
            guard let x = try compact.retainedInputs() else {
                throw UnlearningError.unavailable("the model's features are not generated from a map; save it with an npy feature description")
            }
            arrays.append(("inputs", x))
        }
        let header = Header(createdAt: createdAt, form: s.form.rawValue, ridge: s.ridge, fittedConditionEstimate: s.fittedConditionEstimate,
                            ids: s.ids, featureMap: map, data: data, coding: coding, journal: journal,
                            arrays: arrays.map { ArrayEntry(name: $0.0, rows: $0.1.rows, columns: $0.1.columns) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = [UInt8](try encoder.encode(header))
        try withArrayBuffers(arrays.map { $0.1 }) { buffers in
            try ContainerFile.write(magic: ModelFile.magic, version: ModelFile.formatVersion, header: json, payload: buffers, to: path)
        }
    }

    /// Reads and checks a model file: refuses a foreign file (magic), a newer
    /// format, a truncated or corrupted file (lengths, CRC-32), and pieces
    /// that do not fit together, each with a message that says which.
    public static func read(from path: String, npyResolver: ((String) throws -> FeatureSource)? = nil) throws -> ModelFile {
        let container = try ContainerFile.read(from: path, magic: magic, version: formatVersion, kind: "model")
        let header = try container.decodeHeader(Header.self, path: path)
        var arrays: [String: Matrix] = [:]
        var offset = 0
        for entry in header.arrays {
            let (count, o1) = entry.rows.multipliedReportingOverflow(by: entry.columns)
            let (length, o2) = count.multipliedReportingOverflow(by: 8)
            guard entry.rows >= 0, entry.columns >= 0, !o1, !o2, length <= container.payload.count - offset else {
                throw DataError.malformed(path: path, reason: "corrupted: array '\(entry.name)' (\(entry.rows) x \(entry.columns)) runs past the payload")
            }
            arrays[entry.name] = try Matrix(rows: entry.rows, columns: entry.columns, elements: container.doubles(at: offset, count: count))
            offset += 8 * count
        }
        func need(_ name: String) throws -> Matrix {
            guard let m = arrays[name] else { throw DataError.malformed(path: path, reason: "the file lacks the array '\(name)'") }
            return m
        }
        guard let form = MinNormModel.Form(rawValue: header.form) else {
            throw DataError.malformed(path: path, reason: "unknown model form '\(header.form)'")
        }
        let features: FeatureSource
        var rows: [Int]? = nil
        if header.featureMap.kind == "npy" {
            guard let resolver = npyResolver, let npy = header.featureMap.path else {
                throw DataError.malformed(path: path, reason: "the model's features come from a .npy file that was not given")
            }
            features = try resolver(npy)
            rows = header.featureMap.rows
        } else {
            features = try FeatureSource.generated(by: header.featureMap.makeMap(), inputs: need("inputs"))
        }
        let snapshot = MinNormModel.Snapshot(
            form: form, ridge: header.ridge, ids: header.ids, targets: try need("targets"), offsetTargets: try need("offsets"),
            initialParameters: try need("theta0"), parameters: arrays["theta"], dualCoefficients: arrays["dual"],
            moment: arrays["moment"], lowerFactor: try need("factor"), fittedConditionEstimate: header.fittedConditionEstimate)
        let model: MinNormModel
        do {
            model = try MinNormModel(features: features, rows: rows, snapshot: snapshot)
        } catch {
            throw DataError.malformed(path: path, reason: "inconsistent model: \(error)")
        }
        var file = ModelFile(model: model, featureMap: header.featureMap, data: header.data, coding: header.coding, journal: header.journal)
        file.createdAt = header.createdAt
        return file
    }

    /// Every id forgotten so far, with the request that forgot it.
    public var forgottenIDs: [Int: Int] {
        var out: [Int: Int] = [:]
        for e in journal { for id in e.ids { out[id] = e.sequence } }
        return out
    }
}

/// Calls `body` with raw views of the matrices' storage.
func withArrayBuffers<R>(_ matrices: [Matrix], _ body: ([UnsafeRawBufferPointer]) throws -> R) throws -> R {
    var buffers: [UnsafeRawBufferPointer] = []
    func go(_ k: Int) throws -> R {
        if k == matrices.count { return try body(buffers) }
        return try matrices[k].withUnsafeBufferPointer { p in
            buffers.append(UnsafeRawBufferPointer(p))
            return try go(k + 1)
        }
    }
    return try go(0)
}

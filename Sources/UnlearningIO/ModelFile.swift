import Foundation
import LinearAlgebra
import Unlearning

/// A name from a closed set, stored as its string in a file header. An
/// unknown string is refused with the set's name and the string found.
public protocol StoredName: RawRepresentable<String>, Codable, Sendable, CaseIterable, CustomStringConvertible {
    /// What the name names, for the error ("feature map kind").
    static var what: String { get }
}

extension StoredName {
    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(rawValue: text) else {
            throw HeaderValueError(description: "unknown \(Self.what) '\(excerpt(text))' (known: \(Self.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// A header value refused while decoding (a name outside its set, a field
/// its kind requires, absent); the reader wraps it into a `DataError` that
/// names the file.
struct HeaderValueError: Error, CustomStringConvertible {
    var description: String
}

extension MinNormModel.Form: StoredName {
    public static let what = "model form"
}

extension RetrainingRoute: StoredName {
    public static let what = "retraining route"
}

/// How the model's features are made, enough to make them again.
public struct FeatureMapDescription: Codable, Sendable, Equatable {
    /// Where the features come from.
    public enum Kind: String, StoredName {
        /// `RandomFourierFeatures` (Gaussian kernel).
        case randomFourier = "random-fourier"
        /// `RandomReLUFeatures`.
        case randomReLU = "random-relu"
        /// A given feature matrix in a .npy file (no map).
        case npy
        public static let what = "feature map kind"
    }

    /// A map's parameters, or a feature file's place: one of the three,
    /// each with what it needs (stored flat in the header, as "kind" and
    /// the fields of that kind).
    public enum Source: Sendable, Equatable {
        /// `RandomFourierFeatures(inputDimension:featureCount:bandwidth:seed:)`.
        case randomFourier(inputDimension: Int, bandwidth: Double, seed: UInt64)
        /// `RandomReLUFeatures(inputDimension:featureCount:scale:seed:)`.
        case randomReLU(inputDimension: Int, scale: Double, seed: UInt64)
        /// The .npy feature file and the rows of it the model's samples use.
        case npy(path: String, rows: [Int])
    }

    public var source: Source
    public var featureCount: Int

    public var kind: Kind {
        switch source {
        case .randomFourier: .randomFourier
        case .randomReLU: .randomReLU
        case .npy: .npy
        }
    }
    /// d, for a map.
    public var inputDimension: Int? {
        switch source {
        case let .randomFourier(d, _, _), let .randomReLU(d, _, _): d
        case .npy: nil
        }
    }
    /// sigma of random Fourier features, or the scale of random ReLU features.
    public var bandwidth: Double? {
        switch source {
        case let .randomFourier(_, b, _), let .randomReLU(_, b, _): b
        case .npy: nil
        }
    }
    public var seed: UInt64? {
        switch source {
        case let .randomFourier(_, _, s), let .randomReLU(_, _, s): s
        case .npy: nil
        }
    }
    /// The feature file, for npy.
    public var path: String? {
        if case let .npy(path, _) = source { return path }
        return nil
    }
    /// The rows of the feature file, for npy.
    public var rows: [Int]? {
        if case let .npy(_, rows) = source { return rows }
        return nil
    }

    public init(map: any FeatureMap) throws {
        switch map {
        case let rff as RandomFourierFeatures:
            source = .randomFourier(inputDimension: rff.inputDimension, bandwidth: rff.bandwidth, seed: rff.seed)
        case let relu as RandomReLUFeatures:
            source = .randomReLU(inputDimension: relu.inputDimension, scale: relu.scale, seed: relu.seed)
        default:
            throw UnlearningError.invalidArgument("a feature map of type \(type(of: map)) cannot be saved")
        }
        featureCount = map.featureCount
    }

    public init(npyPath: String, featureCount: Int, rows: [Int]) {
        source = .npy(path: npyPath, rows: rows)
        self.featureCount = featureCount
    }

    /// The same description with the feature file's rows replaced (npy);
    /// unchanged for a map.
    public func withFeatureRows(_ rows: [Int]) -> FeatureMapDescription {
        guard case let .npy(path, _) = source else { return self }
        return FeatureMapDescription(npyPath: path, featureCount: featureCount, rows: rows)
    }

    /// The feature map again (same seed, same features).
    public func makeMap() throws -> any FeatureMap {
        switch source {
        case let .randomFourier(d, b, s): return try RandomFourierFeatures(inputDimension: d, featureCount: featureCount, bandwidth: b, seed: s)
        case let .randomReLU(d, b, s): return try RandomReLUFeatures(inputDimension: d, featureCount: featureCount, scale: b, seed: s)
        case .npy: throw UnlearningError.invalidArgument("a model on a given feature matrix (npy) has no feature map")
        }
    }

    private enum CodingKeys: String, CodingKey {
        case kind, inputDimension, featureCount, bandwidth, seed, path, rows
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        featureCount = try c.decode(Int.self, forKey: .featureCount)
        let kind = try c.decode(Kind.self, forKey: .kind)
        func need<T: Decodable>(_ type: T.Type, _ key: CodingKeys) throws -> T {
            guard let value = try c.decodeIfPresent(type, forKey: key) else {
                throw HeaderValueError(description: "a \(kind) feature map without its \(key.stringValue)")
            }
            return value
        }
        switch kind {
        case .randomFourier:
            source = .randomFourier(inputDimension: try need(Int.self, .inputDimension), bandwidth: try need(Double.self, .bandwidth),
                                    seed: try need(UInt64.self, .seed))
        case .randomReLU:
            source = .randomReLU(inputDimension: try need(Int.self, .inputDimension), scale: try need(Double.self, .bandwidth),
                                 seed: try need(UInt64.self, .seed))
        case .npy:
            source = .npy(path: try need(String.self, .path), rows: try need([Int].self, .rows))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(featureCount, forKey: .featureCount)
        switch source {
        case let .randomFourier(d, b, s), let .randomReLU(d, b, s):
            try c.encode(d, forKey: .inputDimension)
            try c.encode(b, forKey: .bandwidth)
            try c.encode(s, forKey: .seed)
        case let .npy(path, rows):
            try c.encode(path, forKey: .path)
            try c.encode(rows, forKey: .rows)
        }
    }
}

/// The certificate of a journal entry, as stored.
public struct CertificateRecord: Codable, Sendable, Equatable {
    public var isExact: Bool
    public var oracleDistance: Double?
    public var oracleRoute: RetrainingRoute?
    public var stationarityResidual: Double
    public var forgottenCoefficientResidual: Double?
    public var conditionEstimate: Double?
    public var errorBound: Double?
    public var note: String?
    /// The bound the residuals were held to, and the verdict drawn from the
    /// figures ("exact (verified)", "not exact (method)", "UNVERIFIED: ...").
    public var residualBound: Double?
    public var factorResidual: Double?
    public var verdict: String?

    public init(_ c: Certificate) {
        isExact = c.isExact
        oracleDistance = c.oracleDistance
        oracleRoute = c.oracleRoute
        stationarityResidual = c.stationarityResidual
        forgottenCoefficientResidual = c.forgottenCoefficientResidual
        conditionEstimate = c.conditionEstimate
        errorBound = c.errorBound
        note = c.note
        residualBound = c.residualBound
        factorResidual = c.factorResidual
        verdict = c.verdict.description
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
    /// How the request was applied.
    public enum Method: String, StoredName {
        /// Deletion from the factor in closed form (docs/design.md (4), or §3b's Schur
        /// complement on a process grid).
        case closedForm = "closed-form"
        /// The retained samples refactorised (distributed model, past its
        /// refactor limit).
        case refit
        public static let what = "journal method"
    }

    /// How it was applied.
    public var method: Method
    /// Wall time of the update, seconds.
    public var seconds: Double
    /// Samples left after it.
    public var samplesAfter: Int
    public var certificate: CertificateRecord

    public init(sequence: Int, ids: [Int], time: Date, method: Method, seconds: Double, samplesAfter: Int, certificate: Certificate) {
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
    /// The kind of training data.
    public enum Kind: String, StoredName {
        /// The Fashion-MNIST IDX files (`FashionMNIST`).
        case fashionMNIST = "fashion-mnist"
        /// A CSV file (`CSV`).
        case csv
        /// A feature matrix and labels in .npy files.
        case npy
        /// Generated in the program (tests, demos).
        case synthetic
        public static let what = "data kind"
    }

    public var kind: Kind
    public var path: String?
    public var classes: [Int]
    public var limit: Int?
    public var seed: UInt64?
    public init(kind: Kind, path: String?, classes: [Int], limit: Int?, seed: UInt64?) {
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
    package static let magic: [UInt8] = Array("MUSOMDL".utf8) + [0]
    package static let formatVersion: UInt32 = 1

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
        var form: MinNormModel.Form
        var ridge: Double
        var fittedConditionEstimate: Double
        var ids: [Int]
        var featureMap: FeatureMapDescription
        var data: DataDescription
        var coding: TargetCoding
        var journal: [JournalEntry]
        var arrays: [ArrayEntry]
        /// "float32" when the features are rounded to float32 (absent:
        /// float64, as in files written before the option existed).
        var featureStorage: String?
    }

    /// The version of the file this model was read from (nil for a new
    /// model): `write(to:replacing:)` refuses to replace a file that changed
    /// since.
    public internal(set) var sourceIdentity: FileIdentity?

    /// Writes the file atomically (temporary file, fsync, rename), keeping an
    /// existing file's mode and owner and following a symbolic link.
    /// - Parameters:
    ///   - path: the file to write (or replace).
    ///   - expected: when given, the file at `path` must still be
    ///     that version of it (`sourceIdentity` of the model read from it).
    public func write(to path: String, replacing expected: FileIdentity? = nil) throws {
        let compact = try model.compacted()
        let s = compact.snapshot
        var arrays: [(String, Matrix)] = [("theta0", s.initialParameters), ("targets", s.targets), ("offsets", s.offsetTargets),
                                          ("factor", s.lowerFactor)]
        if let p = s.parameters { arrays.append(("theta", p)) }
        switch s.solution {
        case let .dual(a): arrays.append(("dual", a))
        case let .primal(b): arrays.append(("moment", b))
        }
        var map = featureMap
        if map.kind == .npy {
            map = map.withFeatureRows(compact.featureRows)  // rows of the .npy file itself
        } else {
            guard let x = try compact.retainedInputs() else {
                throw UnlearningError.unavailable("the model's features are not generated from a map; save it with an npy feature description")
            }
            arrays.append(("inputs", x))
        }
        let header = Header(createdAt: createdAt, form: s.form, ridge: s.ridge, fittedConditionEstimate: s.fittedConditionEstimate,
                            ids: s.ids, featureMap: map, data: data, coding: coding, journal: journal,
                            arrays: arrays.map { ArrayEntry(name: $0.0, rows: $0.1.rows, columns: $0.1.columns) },
                            featureStorage: model.features.featureStorage == .float32 ? FeatureStorage.float32.rawValue : nil)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = [UInt8](try encoder.encode(header))
        _ = try withArrayBuffers(arrays.map { $0.1 }) { buffers in
            try ContainerFile.write(magic: ModelFile.magic, version: ModelFile.formatVersion, header: json, payload: buffers, to: path,
                                    replacing: expected)
        }
    }

    /// Reads and checks a model file, and refuses it unless every check holds:
    /// - the container: a foreign file (magic), a newer format, a truncated
    ///   or corrupted file (lengths, CRC-32);
    /// - the header's fields against each other and against the stored
    ///   arrays (`validate`): array shapes, N, M and C everywhere, the
    ///   feature map's sizes, the coding against the classes, the journal's
    ///   numbering and ids; every array finite;
    /// - the state against the data (`MinNormModel.checkConsistency`): the
    ///   factor against the Gram matrix recomputed from the features on its
    ///   diagonal and random probes, the dual coefficients, theta and the
    ///   offsets against the system they solve.
    /// Each refusal names the file and says what does not hold.
    /// - Parameters:
    ///   - path: the model file.
    ///   - npyResolver: opens the .npy feature file of a model fitted on a
    ///     given feature matrix (its path is in the header).
    ///   - checkingConsistency: skip the last step (one pass over the
    ///     features) only for a file this process has just written.
    /// - Complexity: O(file size) plus one pass over Phi (see
    ///   `checkConsistency`).
    public static func read(from path: String, npyResolver: ((String) throws -> FeatureSource)? = nil,
                            checkingConsistency: Bool = true) throws -> ModelFile {
        let container = try ContainerFile.read(from: path, magic: magic, version: formatVersion, kind: "model")
        var file = try decode(container, path: path, npyResolver: npyResolver, checkingConsistency: checkingConsistency)
        file.sourceIdentity = container.identity
        return file
    }

    /// `read` on bytes in memory (`path` names them in errors).
    public static func decode(_ bytes: [UInt8], path: String, npyResolver: ((String) throws -> FeatureSource)? = nil,
                              checkingConsistency: Bool = true) throws -> ModelFile {
        let container = try ContainerFile.parse(bytes, path: path, magic: magic, version: formatVersion, kind: "model")
        return try decode(container, path: path, npyResolver: npyResolver, checkingConsistency: checkingConsistency)
    }

    static func decode(_ container: ContainerFile.Contents, path: String, npyResolver: ((String) throws -> FeatureSource)?,
                       checkingConsistency: Bool) throws -> ModelFile {
        let header = try container.decodeHeader(Header.self, path: path)
        func bad(_ reason: String) -> DataError { .malformed(path: path, reason: "inconsistent model: \(reason)") }
        var arrays: [String: Matrix] = [:]
        var offset = 0
        let known: Set<String> = ["theta0", "targets", "offsets", "factor", "theta", "dual", "moment", "inputs"]
        for entry in header.arrays {
            guard known.contains(entry.name), arrays[entry.name] == nil else {
                throw bad("array '\(excerpt(entry.name))' is unknown or listed twice")
            }
            let (count, o1) = entry.rows.multipliedReportingOverflow(by: entry.columns)
            let (length, o2) = count.multipliedReportingOverflow(by: 8)
            guard entry.rows >= 0, entry.columns >= 0, !o1, !o2, length <= container.payload.count - offset else {
                throw DataError.malformed(path: path, reason: "corrupted: array '\(entry.name)' (\(entry.rows) x \(entry.columns)) runs past the payload")
            }
            let matrix = try Matrix(rows: entry.rows, columns: entry.columns, elements: container.doubles(at: offset, count: count))
            if let (i, j) = matrix.firstNonFiniteEntry {
                throw bad("array '\(entry.name)' holds a non-finite value (NaN or infinity) at row \(i), column \(j)")
            }
            arrays[entry.name] = matrix
            offset += length
        }
        guard offset == container.payload.count else {
            throw bad("\(container.payload.count - offset) payload bytes are not listed in the header")
        }
        func need(_ name: String) throws -> Matrix {
            guard let m = arrays[name] else { throw DataError.malformed(path: path, reason: "the file lacks the array '\(name)'") }
            return m
        }
        let form = header.form
        try validate(header, arrays: arrays, form: form, path: path, fileBytes: container.bytes.count)
        var features: FeatureSource
        var rows: [Int]? = nil
        if header.featureMap.kind == .npy {
            guard let resolver = npyResolver, let npy = header.featureMap.path else {
                throw DataError.malformed(path: path, reason: "the model's features come from a .npy file that was not given")
            }
            features = try resolver(npy)
            guard features.featureCount == header.featureMap.featureCount else {
                throw bad("the feature file has \(features.featureCount) columns, the model \(header.featureMap.featureCount) features")
            }
            rows = header.featureMap.rows
        } else {
            features = try FeatureSource.generated(by: header.featureMap.makeMap(), inputs: need("inputs"))
        }
        if let stored = header.featureStorage {
            guard let precision = FeatureStorage(rawValue: stored) else {
                throw bad("unknown feature storage '\(stored)' (known: \(FeatureStorage.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            features = try features.storing(precision)
        }
        let solution: MinNormModel.Solution
        switch form {
        case .dual:
            guard arrays["moment"] == nil else { throw bad("a dual model with a primal moment 'moment'") }
            solution = .dual(coefficients: try need("dual"))
        case .primal:
            guard arrays["dual"] == nil else { throw bad("a primal model with dual coefficients 'dual'") }
            solution = .primal(moment: try need("moment"))
        }
        let snapshot = MinNormModel.Snapshot(
            ridge: header.ridge, ids: header.ids, targets: try need("targets"), offsetTargets: try need("offsets"),
            initialParameters: try need("theta0"), parameters: arrays["theta"], solution: solution,
            lowerFactor: try need("factor"), fittedConditionEstimate: header.fittedConditionEstimate)
        let model: MinNormModel
        do {
            model = try MinNormModel(features: features, rows: rows, snapshot: snapshot)
            if checkingConsistency { try model.checkConsistency() }
        } catch let UnlearningError.inconsistentState(reason) {
            throw bad(reason)
        } catch {
            throw bad("\(error)")
        }
        var file = ModelFile(model: model, featureMap: header.featureMap, data: header.data, coding: header.coding, journal: header.journal)
        file.createdAt = header.createdAt
        return file
    }

    /// The header's fields against each other and against the arrays, before
    /// anything is allocated from them (a feature map's M x d projection is
    /// made only once M and d agree with arrays whose size the file's length
    /// bounds).
    static func validate(_ h: Header, arrays: [String: Matrix], form: MinNormModel.Form, path: String, fileBytes: Int) throws {
        func bad(_ reason: String) -> DataError { .malformed(path: path, reason: "inconsistent model: \(reason)") }
        guard let theta0 = arrays["theta0"], let targets = arrays["targets"] else {
            throw DataError.malformed(path: path, reason: "the file lacks the arrays 'theta0' and 'targets'")
        }
        let n = h.ids.count, m = theta0.rows, c = theta0.columns
        guard n >= 1, m >= 1, c >= 1 else { throw bad("N = \(n), M = \(m), C = \(c): each must be at least 1") }
        guard targets.rows == n, targets.columns == c else {
            throw bad("targets are \(targets.rows) x \(targets.columns) for N = \(n) ids and C = \(c) outputs")
        }
        guard h.featureMap.featureCount == m else {
            throw bad("the feature map has \(h.featureMap.featureCount) features, theta0 has \(m) rows")
        }
        guard h.ridge.isFinite, h.ridge >= 0 else { throw bad("ridge \(h.ridge)") }
        guard h.fittedConditionEstimate.isFinite, h.fittedConditionEstimate >= 1 else {
            throw bad("condition estimate \(h.fittedConditionEstimate) (must be finite and >= 1)")
        }
        switch h.featureMap.source {
        case let .randomFourier(d, b, _), let .randomReLU(d, b, _):
            guard let x = arrays["inputs"] else { throw bad("a \(h.featureMap.kind) model without its inputs") }
            guard d == x.columns, d >= 1 else {
                throw bad("input dimension \(d) for inputs of \(x.columns) columns")
            }
            guard x.rows == n else { throw bad("\(x.rows) input rows for N = \(n) ids") }
            guard b.isFinite, b > 0 else { throw bad("feature map bandwidth or scale must be finite and > 0") }
            // The map holds an (M/2 or M) x d projection: bounded by what the
            // file's size can justify (16 bytes of projection per byte of
            // file, plus 256 MB), so a small file cannot ask for gigabytes.
            let (entries, o1) = m.multipliedReportingOverflow(by: d)
            let (bytes, o2) = entries.multipliedReportingOverflow(by: 8)
            guard !o1, !o2, bytes <= 16 * fileBytes + (256 << 20) else {
                throw bad("a feature map of M = \(m) features in d = \(d) dimensions needs more memory than a file of \(fileBytes) bytes justifies")
            }
        case let .npy(_, r):
            guard r.count == n else { throw bad("the feature file's row list does not have N = \(n) entries") }
        }
        switch h.coding {
        case .signed:
            guard c == 1, h.data.classes.count == 2 else { throw bad("signed coding needs C = 1 and 2 classes, found C = \(c), \(h.data.classes.count) classes") }
        case .oneHot:
            guard c == h.data.classes.count else { throw bad("one-hot coding of \(h.data.classes.count) classes with C = \(c)") }
        }
        let order = form == .dual ? n : m
        if let l = arrays["factor"], l.rows != order || l.columns != order {
            throw bad("the factor is \(l.rows) x \(l.columns), expected \(order) x \(order) (\(form) form)")
        }
        // The journal: requests numbered 1, 2, ... in order; each id forgotten
        // once and no longer in the model; the sample counts chain down to N.
        var forgotten = Set<Int>()
        let retained = Set(h.ids)
        guard retained.count == n else { throw bad("sample ids repeat") }
        for (k, e) in h.journal.enumerated() {
            guard e.sequence == k + 1 else { throw bad("journal entry \(k + 1) is numbered \(e.sequence)") }
            guard !e.ids.isEmpty else { throw bad("journal request #\(e.sequence) names no id") }
            for id in e.ids {
                guard forgotten.insert(id).inserted else { throw bad("id \(id) is forgotten twice in the journal (request #\(e.sequence))") }
                guard !retained.contains(id) else { throw bad("id \(id) is in the journal (request #\(e.sequence)) and still in the model") }
            }
            guard e.seconds.isFinite, e.seconds >= 0 else { throw bad("journal request #\(e.sequence) took \(e.seconds) s") }
        }
        var after = n
        for e in h.journal.reversed() {
            guard e.samplesAfter == after else {
                throw bad("journal request #\(e.sequence) left \(e.samplesAfter) samples; the model's \(n) and later requests imply \(after)")
            }
            after += e.ids.count
        }
    }

    /// Every id forgotten so far, with the request that forgot it.
    public var forgottenIDs: [Int: Int] {
        var out: [Int: Int] = [:]
        for e in journal { for id in e.ids { out[id] = e.sequence } }
        return out
    }
}

/// Calls `body` with raw views of the matrices' storage.
package func withArrayBuffers<R>(_ matrices: [Matrix], _ body: ([UnsafeRawBufferPointer]) throws -> R) throws -> R {
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

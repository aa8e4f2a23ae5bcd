import Foundation
import Testing
import LinearAlgebra
import Unlearning
@testable import UnlearningIO
import TestSupport

/// Model files whose checksum is right but whose contents do not hold
/// together: each is refused on load, saying what does not hold. The files
/// are made by editing a valid file's header or arrays and re-sealing the
/// container (so only the new checks can catch them).
@Suite("Model file validation")
struct ModelValidationTests {
    /// A valid file (dual form, 30 samples, 90 features, C = 3, one request in
    /// its journal), as its JSON header and its named arrays.
    func validParts() throws -> (header: [String: Any], arrays: [(String, Matrix)]) {
        let dir = try temporaryDirectory()
        let p = try SyntheticProblem(samples: 30, features: 90, outputs: 3, seed: 71)
        var model = try MinNormModel(features: p.source(materialized: false), targets: p.targets, ids: (0..<30).map { 500 + $0 },
                                     initialParameters: p.theta0)
        let r = try model.forget(ids: [503, 520])
        var file = ModelFile(model: model, featureMap: try FeatureMapDescription(map: p.map),
                             data: DataDescription(kind: .synthetic, path: nil, classes: [0, 1, 2], limit: nil, seed: 71), coding: .oneHot)
        file.journal = [JournalEntry(sequence: 1, ids: r.forgottenIDs, time: Date(), method: .closedForm, seconds: 0.01,
                                     samplesAfter: 28, certificate: r.certificate)]
        try file.write(to: dir + "/m.muso")
        let container = try ContainerFile.read(from: dir + "/m.muso", magic: ModelFile.magic, version: ModelFile.formatVersion, kind: "model")
        let header = try #require(JSONSerialization.jsonObject(with: Data(container.bytes[container.header])) as? [String: Any])
        var arrays: [(String, Matrix)] = []
        var offset = 0
        for entry in header["arrays"] as! [[String: Any]] {
            let rows = entry["rows"] as! Int, columns = entry["columns"] as! Int
            arrays.append((entry["name"] as! String, try Matrix(rows: rows, columns: columns, elements: container.doubles(at: offset, count: rows * columns))))
            offset += 8 * rows * columns
        }
        return (header, arrays)
    }

    /// Seals header and arrays into a container with a correct checksum and
    /// reads it back; returns the error message ("" when it loads).
    func load(_ header: [String: Any], _ arrays: [(String, Matrix)]) throws -> String {
        let dir = try temporaryDirectory()
        var h = header
        h["arrays"] = arrays.map { ["name": $0.0, "rows": $0.1.rows, "columns": $0.1.columns] }
        let json = [UInt8](try JSONSerialization.data(withJSONObject: h, options: [.sortedKeys]))
        _ = try withArrayBuffers(arrays.map(\.1)) { buffers in
            try ContainerFile.write(magic: ModelFile.magic, version: ModelFile.formatVersion, header: json, payload: buffers, to: dir + "/x.muso")
        }
        return errorMessage { _ = try ModelFile.read(from: dir + "/x.muso") }
    }

    func replacing(_ arrays: [(String, Matrix)], _ name: String, _ change: (inout Matrix) -> Void) -> [(String, Matrix)] {
        arrays.map { entry in
            guard entry.0 == name else { return entry }
            var m = entry.1
            change(&m)
            return (name, m)
        }
    }

    @Test("the valid file loads (the edits below are what make the others fail)")
    func valid() throws {
        let (header, arrays) = try validParts()
        #expect(try load(header, arrays) == "")
    }

    @Test("NaN or infinity in any stored array is refused, naming the array and the position")
    func nonFinite() throws {
        let (header, arrays) = try validParts()
        for name in ["theta0", "targets", "offsets", "factor", "theta", "dual", "inputs"] {
            let bad = replacing(arrays, name) { $0[1, 0] = name == "factor" ? .infinity : .nan }
            let m = try load(header, bad)
            #expect(m.contains("array '\(name)' holds a non-finite value") && m.contains("row 1, column 0"), "\(name): \(m)")
        }
    }

    @Test("a factor, coefficients or parameters that do not belong to the data are refused")
    func foreignState() throws {
        let (header, arrays) = try validParts()
        // The factor of another data set of the same size: a valid Cholesky factor, the wrong one.
        let other = try SyntheticProblem(samples: 28, features: 90, outputs: 3, seed: 99)
        let foreign = try MinNormModel(features: other.source(), targets: other.targets, initialParameters: other.theta0)
        var m = try load(header, replacing(arrays, "factor") { $0 = foreign.factor.lowerFactor })
        #expect(m.contains("the stored factor does not belong to the features"), "\(m)")
        // One entry of the factor with its sign flipped: the diagonal of L L^T
        // is unchanged (it sums squares), so only the random probes can see it.
        m = try load(header, replacing(arrays, "factor") { $0[20, 3] = -$0[20, 3] })
        #expect(m.contains("the stored factor does not belong to the features"), "\(m)")
        m = try load(header, replacing(arrays, "dual") { $0[4, 1] += 1e-3 })
        #expect(m.contains("stationarity residual"), "\(m)")
        m = try load(header, replacing(arrays, "theta") { $0[7, 2] += 1e-3 })
        #expect(m.contains("Phi^T A"), "\(m)")
        m = try load(header, replacing(arrays, "offsets") { $0[0, 0] += 1e-3 })
        #expect(m.contains("Phi theta0"), "\(m)")
        m = try load(header, replacing(arrays, "inputs") { $0[5, 5] += 1e-3 })
        #expect(m.contains("does not belong"), "\(m)")
    }

    @Test("header fields that disagree with each other or with the arrays are refused before any allocation")
    func fields() throws {
        let (header, arrays) = try validParts()
        func edited(_ key: String, _ change: (inout [String: Any]) -> Void) -> [String: Any] {
            var h = header
            var field = h[key] as! [String: Any]
            change(&field)
            h[key] = field
            return h
        }
        var h = edited("featureMap") { $0["featureCount"] = 1 << 40 }
        #expect(try load(h, arrays).contains("the feature map has 1099511627776 features, theta0 has 90 rows"))
        h = edited("featureMap") { $0["inputDimension"] = 3 }
        #expect(try load(h, arrays).contains("input dimension 3 for inputs of 8 columns"))
        h = edited("featureMap") { $0["bandwidth"] = -1.0 }
        #expect(try load(h, arrays).contains("bandwidth"))
        h = edited("featureMap") { $0["kind"] = "random-spline" }
        #expect(try load(h, arrays).contains("unknown feature map kind"))
        // A kind's required field, absent: refused by name (the description
        // cannot hold a map without its seed).
        h = edited("featureMap") { $0["seed"] = nil }
        #expect(try load(h, arrays).contains("random-fourier feature map without its seed"))
        h = edited("featureMap") { $0["kind"] = "npy" }
        #expect(try load(h, arrays).contains("npy feature map without its path"))
        h = edited("data") { $0["classes"] = [0, 1] }
        #expect(try load(h, arrays).contains("one-hot coding of 2 classes with C = 3"))
        h = header
        h["ids"] = Array(500..<527) + [500]
        #expect(try load(h, arrays).contains("sample ids repeat"))
        h = header
        h["fittedConditionEstimate"] = 0.5
        #expect(try load(h, arrays).contains("condition estimate"))
        h = header
        h["form"] = "primal"
        #expect(try load(h, arrays).contains("expected 90 x 90 (primal form)"))
        // A feature map whose projection (M x d) the file's size cannot justify:
        // M = 3,000,000 features of d = 100 inputs (2.4 GB) in a 72 MB file.
        h = edited("featureMap") { $0["featureCount"] = 3_000_000; $0["inputDimension"] = 100 }
        let bigArrays = arrays.map { entry -> (String, Matrix) in
            switch entry.0 {
            case "theta0": return (entry.0, Matrix(rows: 3_000_000, columns: 3))
            case "inputs": return (entry.0, Matrix(rows: 28, columns: 100))
            default: return entry
            }
        }.filter { $0.0 != "theta" }
        #expect(try load(h, bigArrays).contains("needs more memory than a file of"))
        // Arrays: unknown, repeated, unlisted payload.
        #expect(try load(header, arrays + [("extra", Matrix(rows: 1, columns: 1))]).contains("array 'extra' is unknown"))
        #expect(try load(header, arrays + [arrays[0]]).contains("listed twice"))
    }

    @Test("a journal that does not chain (numbering, ids, sample counts, numeric limits) is refused")
    func journal() throws {
        let (header, arrays) = try validParts()
        func withEntry(_ change: (inout [String: Any]) -> Void) -> [String: Any] {
            var h = header
            var journal = h["journal"] as! [[String: Any]]
            change(&journal[0])
            h["journal"] = journal
            return h
        }
        #expect(try load(withEntry { $0["sequence"] = Int.max }, arrays).contains("journal entry 1 is numbered \(Int.max)"))
        #expect(try load(withEntry { $0["ids"] = [503, 503] }, arrays).contains("id 503 is forgotten twice"))
        #expect(try load(withEntry { $0["ids"] = [503, 504] }, arrays).contains("id 504 is in the journal (request #1) and still in the model"))
        #expect(try load(withEntry { $0["samplesAfter"] = Int.max }, arrays).contains("left \(Int.max) samples"))
        #expect(try load(withEntry { $0["seconds"] = -1.0 }, arrays).contains("took -1.0 s"))
        #expect(try load(withEntry { $0["ids"] = [Int]() }, arrays).contains("names no id"))
    }
}

import Foundation
import Testing
import LinearAlgebra
import Unlearning
@testable import UnlearningIO
import TestSupport

@Suite("Model file")
struct ModelFileTests {
    func trainedFile(ridge: Double = 0, samples: Int = 40, features: Int = 120) throws -> (ModelFile, SyntheticProblem) {
        let p = try SyntheticProblem(samples: samples, features: features, outputs: 3, seed: 70)
        let model = try MinNormModel(features: p.source(), targets: p.targets, ids: (0..<samples).map { 100 + $0 },
                                     initialParameters: p.theta0, ridge: ridge)
        let file = ModelFile(model: model, featureMap: try FeatureMapDescription(map: p.map),
                             data: DataDescription(kind: .synthetic, path: nil, classes: [0, 1, 2], limit: nil, seed: 70),
                             coding: .oneHot)
        return (file, p)
    }

    @Test("round trip after deletions: same parameters, same journal, and further deletions stay exact",
          arguments: [0.0, 1e-3])
    func roundTrip(ridge: Double) throws {
        let dir = try temporaryDirectory()
        var (file, p) = try trainedFile(ridge: ridge)
        let r = try file.model.forget(ids: [103, 117])
        file.journal.append(JournalEntry(sequence: 1, ids: r.forgottenIDs, time: Date(), method: .closedForm, seconds: 0.01,
                                         samplesAfter: file.model.sampleCount, certificate: r.certificate))
        try file.write(to: dir + "/m.muso")
        var back = try ModelFile.read(from: dir + "/m.muso")
        #expect(back.journal == file.journal)
        #expect(back.forgottenIDs == [103: 1, 117: 1])
        #expect(back.model.ids == file.model.ids && back.model.form == file.model.form && back.model.ridge == ridge)
        #expect(try Matrix.relativeDistance(back.model.parameters(), file.model.parameters()) == 0)
        // The forgotten samples' inputs are not in the file.
        #expect(back.model.features.sampleCount == 38)
        // Forgetting more from the restored model matches retraining on what remains.
        let r2 = try back.model.forget(ids: [100, 139], verification: .oracle(.pseudoInverse))
        #expect(r2.certificate.oracleDistance! <= 1e-9)
        let keep = (0..<40).filter { ![3, 17, 0, 39].contains($0) }
        let oracle = try Retraining.minimumNormParameters(features: p.phi().selectingRows(keep), targets: p.targets.selectingRows(keep),
                                                          initialParameters: p.theta0, ridge: ridge).parameters
        #expect(try back.model.distance(of: back.model.parameters(), toRetrained: oracle) <= 1e-9)
    }

    @Test("a model on float32 features keeps its storage through the file, and stays exact for the rounded features")
    func float32RoundTrip() throws {
        let dir = try temporaryDirectory()
        let p = try SyntheticProblem(samples: 40, features: 120, outputs: 3, seed: 70)
        let model = try MinNormModel(features: p.source().storing(.float32), targets: p.targets, ids: (0..<40).map { 100 + $0 },
                                     initialParameters: p.theta0)
        let file = ModelFile(model: model, featureMap: try FeatureMapDescription(map: p.map),
                             data: DataDescription(kind: .synthetic, path: nil, classes: [0, 1, 2], limit: nil, seed: 70), coding: .oneHot)
        try file.write(to: dir + "/f.muso")
        var back = try ModelFile.read(from: dir + "/f.muso")
        #expect(back.model.features.featureStorage == .float32)
        try back.model.forget(ids: [104, 131])
        let phi = try p.phi()
        let rounded = Matrix(rows: phi.rows, columns: phi.columns) { i, j in Double(Float(phi[i, j])) }
        let keep = (0..<40).filter { ![4, 31].contains($0) }
        let oracle = try Retraining.minimumNormParameters(features: rounded.selectingRows(keep), targets: p.targets.selectingRows(keep),
                                                          initialParameters: p.theta0, ridge: 0).parameters
        #expect(try back.model.distance(of: back.model.parameters(), toRetrained: oracle) <= 1e-9)
        // A float64 model's file has no storage field and reads as float64.
        let (plain, _) = try trainedFile()
        try plain.write(to: dir + "/d.muso")
        #expect(try ModelFile.read(from: dir + "/d.muso").model.features.featureStorage == .float64)
    }

    @Test("truncated, corrupted and foreign files are refused, saying which")
    func hostile() throws {
        let dir = try temporaryDirectory()
        let (file, _) = try trainedFile()
        try file.write(to: dir + "/m.muso")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/m.muso"))
        for cut in [10, 31, 200, bytes.count - 1] {
            try bytes.prefix(cut).write(to: URL(fileURLWithPath: dir + "/cut.muso"))
            #expect(errorMessage { _ = try ModelFile.read(from: dir + "/cut.muso") }.contains("truncated"), "cut at \(cut)")
        }
        for position in [40, bytes.count / 2, bytes.count - 3] {
            var corrupt = [UInt8](bytes)
            corrupt[position] ^= 0x01
            try Data(corrupt).write(to: URL(fileURLWithPath: dir + "/bad.muso"))
            #expect(errorMessage { _ = try ModelFile.read(from: dir + "/bad.muso") }.contains("corrupted: checksum mismatch"), "flip at \(position)")
        }
        try Data("PK\u{3}\u{4} a zip file, not a model".utf8).write(to: URL(fileURLWithPath: dir + "/zip.muso"))
        #expect(errorMessage { _ = try ModelFile.read(from: dir + "/zip.muso") }.contains("not a muso model file"))
        var newer = [UInt8](bytes)
        newer[8] = 9
        try Data(newer).write(to: URL(fileURLWithPath: dir + "/v9.muso"))
        #expect(errorMessage { _ = try ModelFile.read(from: dir + "/v9.muso") }.contains("format 9 is not supported"))
        try Data(bytes + [0]).write(to: URL(fileURLWithPath: dir + "/long.muso"))
        #expect(errorMessage { _ = try ModelFile.read(from: dir + "/long.muso") }.contains("1 bytes after the announced end"))
        #expect(errorMessage { _ = try ModelFile.read(from: dir + "/none.muso") }.contains("no such file"))
    }

    @Test("replacing a model file is atomic: a failed write keeps the previous model")
    func atomicReplace() throws {
        let dir = try temporaryDirectory()
        var (file, _) = try trainedFile()
        let path = dir + "/m.muso"
        try file.write(to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        try file.model.forget(ids: [105])
        let pieces = [UInt8](repeating: 1, count: before.count)
        #expect(errorMessage { try pieces.withUnsafeBytes { try AtomicFile.write(chunks: [$0], to: path, replacing: nil, failAfter: before.count / 2) } }
            .contains("No space left on device (simulated)"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(try ModelFile.read(from: path).model.sampleCount == 40)
        try file.write(to: path)
        #expect(try ModelFile.read(from: path).model.sampleCount == 39)
    }
}

@Suite("Membership inference")
struct MembershipInferenceTests {
    @Test("entropy of the softmax: known values")
    func entropies() throws {
        let h = MembershipInferenceAttack.entropies(of: try Matrix(rowMajor: [[0, 0, 0], [100, 0, 0]]))
        #expect(abs(h[0] - log(3.0)) < 1e-14 && h[1] < 1e-40)
        let one = MembershipInferenceAttack.entropies(of: try Matrix(rowMajor: [[0], [30]]))
        #expect(abs(one[0] - log(2.0)) < 1e-14 && one[1] < 1e-20)
    }

    @Test("separated groups: members are called members; the boundary is the balanced midpoint")
    func knownAnswer() throws {
        var g = SeededGenerator(seed: 1)
        let members = (0..<3000).map { _ in 0.2 + 0.05 * g.nextNormal() }
        let nonMembers = (0..<500).map { _ in 0.8 + 0.05 * g.nextNormal() }  // unbalanced sizes on purpose
        let attack = try MembershipInferenceAttack(members: members, nonMembers: nonMembers)
        // Equal variances, balanced weights: the optimal boundary is the midpoint 0.5.
        #expect(abs(attack.threshold! - 0.5) < 0.02)
        let fresh = (0..<1000).map { _ in 0.2 + 0.05 * g.nextNormal() }
        let unseen = (0..<1000).map { _ in 0.8 + 0.05 * g.nextNormal() }
        #expect(attack.memberShare(fresh) > 0.99 && attack.efficacy(unseen) > 0.99)
        #expect(abs(attack.memberShare(fresh) + attack.efficacy(fresh) - 1) < 1e-15)
        // Overlapping groups of equal spread: about half of a 50/50 mix is called members.
        let mix = (0..<1000).map { i in (i % 2 == 0 ? 0.2 : 0.8) + 0.05 * g.nextNormal() }
        #expect(abs(attack.memberShare(mix) - 0.5) < 0.03)
        #expect(errorMessage { _ = try MembershipInferenceAttack(members: [], nonMembers: [1]) }.contains("needs members and non-members"))
    }
}

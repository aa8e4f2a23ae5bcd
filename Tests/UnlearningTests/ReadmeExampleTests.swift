import Foundation
import Testing
import LinearAlgebra
import Unlearning

/// The worked example of README.md, in its body, so that it keeps compiling
/// and keeps doing what the README says (the Examples package runs the same
/// code as a dependent package; the second test keeps the two texts equal).
@Suite("README worked example")
struct ReadmeExampleTests {
    @Test("the README's library example is the first part of Examples/Sources/ReadmeExample/main.swift, line for line")
    func readmeMatchesExample() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let example = try String(contentsOf: root.appendingPathComponent("Examples/Sources/ReadmeExample/main.swift"), encoding: .utf8)
        // The first ```swift block after the library heading that imports Unlearning.
        let blocks = readme.components(separatedBy: "```swift\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
        let shown = try #require(blocks.first { $0.hasPrefix("import LinearAlgebra\nimport Unlearning") })
        let shownLines = shown.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        let exampleLines = example.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(shownLines.count > 20)
        for (k, line) in shownLines.enumerated() {
            let other = k < exampleLines.count ? exampleLines[k] : ""
            // The README shows what print() wrote after the call as a comment.
            let a = line.components(separatedBy: "   //")[0], b = other.components(separatedBy: "   //")[0]
            #expect(a == b, "README line \(k + 1) of the example: \(line) / example: \(other)")
        }
    }

    @Test("the README example runs and forgets exactly")
    func example() throws {
        // Data: N = 500 inputs in R^10 and +-1 targets (N x 1).
        var g = SeededGenerator(seed: 42)
        let x = Matrix(rows: 500, columns: 10) { _, _ in g.nextNormal() }
        let y = Matrix(rows: 500, columns: 1) { i, _ in x[i, 0] + 0.3 * g.nextNormal() > 0 ? 1 : -1 }

        // M = 2000 random Fourier features of the Gaussian kernel, fixed by a seed.
        let map = try RandomFourierFeatures(inputDimension: 10, featureCount: 2000, bandwidth: 3, seed: 7)
        let phi = try FeatureSource.generated(by: map, inputs: x).materialize()

        // theta* = theta0 + Phi^+ (Y - Phi theta0); dual form since M >= N.
        var model = try MinNormModel(features: phi, targets: y)

        // A deletion request, applied exactly, checked against retraining.
        let result = try model.forget(ids: [3, 17, 42], verification: .oracle(.pseudoInverse))
        print(result.certificate)   // distance to retrain ~1e-14

        // MUSO: the retrained model's labels for samples to forget next, and
        // relabel-and-fine-tune, which lands on the retrained parameters.
        let labels = try model.optimalLabels(forgetting: [5, 6])
        let (theta, certificate) = try model.relabelAndFineTune(forgetting: [5, 6], verification: .oracle(.cholesky))
        let predictions = try model.predict(inputs: x)

        #expect(result.certificate.oracleDistance! < 1e-9)
        #expect(certificate.oracleDistance! < 1e-9)
        #expect(labels.rows == 2 && theta.rows == 2000 && predictions.rows == 500)
        #expect(model.sampleCount == 497)
    }
}

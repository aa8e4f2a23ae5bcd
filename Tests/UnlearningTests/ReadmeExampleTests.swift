import Foundation
import Testing

/// The worked example of README.md is the first part of the Examples
/// package's ReadmeExample, which scripts/test builds and runs as a package
/// depending on this one (it exits 1 unless both certificates are exact).
/// This keeps the README's text equal to that code.
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
}

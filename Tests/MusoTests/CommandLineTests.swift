import Foundation
import Testing
import TestSupport

/// The `muso` tool as a user runs it: a subprocess, its exit status, stdout
/// and stderr.
@Suite("muso command line", .serialized)
struct CommandLineTests {
    var binary: String { musoBinary() }

    func muso(_ arguments: String...) throws -> (status: Int32, stdout: String, stderr: String) {
        try runProgram(binary, arguments)
    }

    func json(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// Two noisy Gaussian classes in R^5 as CSV (train 60 rows with an id column, test 40).
    func writeCSV(_ dir: String) throws {
        var g = SplitMix(seed: 5)
        func rows(_ n: Int, ids: Bool) -> String {
            var s = (ids ? "id," : "") + "a,b,c,d,e,label\n"
            for i in 0..<n {
                let label = i % 2
                let values = (0..<5).map { _ in String(Double(label) * 1.5 + g.normal()) }
                s += (ids ? "\(1000 + i)," : "") + values.joined(separator: ",") + ",\(label == 0 ? 3 : 8)\n"
            }
            return s
        }
        try rows(60, ids: true).write(toFile: dir + "/train.csv", atomically: true, encoding: .utf8)
        try rows(40, ids: false).write(toFile: dir + "/test.csv", atomically: true, encoding: .utf8)
    }

    @Test("train, forget, inspect, evaluate, export on CSV data; numpy agrees")
    func session() throws {
        try #require(FileManager.default.isExecutableFile(atPath: binary), "muso not built at \(binary)")
        let dir = try temporaryDirectory()
        try writeCSV(dir)
        let model = dir + "/m.muso"
        var r = try muso("train", "--data", "csv", "--path", dir + "/train.csv", "--features", "300", "--seed", "4", "-o", model, "--json")
        #expect(r.status == 0, "\(r.stderr)")
        let trained = try json(r.stdout)
        #expect(trained["samples"] as? Int == 60 && trained["form"] as? String == "dual" && trained["coding"] as? String == "signed")

        r = try muso("forget", model, "--ids", "1003,1017,1050", "--verify", "--json")
        #expect(r.status == 0, "\(r.stderr)")
        let forgot = try json(r.stdout)
        let certificate = try #require(forgot["certificate"] as? [String: Any])
        #expect((certificate["relative_distance_to_retrain"] as? Double ?? 1) <= 1e-9)
        #expect(forgot["samples_after"] as? Int == 57)

        try "1020\n# a comment\n1021, 1022\n".write(toFile: dir + "/ids.txt", atomically: true, encoding: .utf8)
        r = try muso("forget", model, "--ids-file", dir + "/ids.txt", "--verify", "--route", "pseudo-inverse")
        #expect(r.status == 0 && r.stdout.contains("forgot 3 samples") && r.stdout.contains("request #2"), "\(r.stdout)\(r.stderr)")

        r = try muso("inspect", model, "--json")
        let inspected = try json(r.stdout)
        let journal = try #require(inspected["journal"] as? [[String: Any]])
        #expect(journal.count == 2 && (journal[0]["ids"] as? [Int]) == [1003, 1017, 1050])
        #expect(inspected["samples"] as? Int == 54)
        r = try muso("inspect", model)
        #expect(r.stdout.contains("journal: 2 request(s), 6 samples forgotten"))

        r = try muso("evaluate", model, "--test-path", dir + "/test.csv", "--json")
        #expect(r.status == 0, "\(r.stderr)")
        let evaluated = try json(r.stdout)
        #expect(evaluated["forgotten"] as? Int == 6 && evaluated["retained"] as? Int == 54 && evaluated["test"] as? Int == 40)
        #expect((evaluated["retain_accuracy"] as? Double) == 1)  // interpolation
        #expect((evaluated["relative_distance_to_retrain"] as? Double ?? 1) <= 1e-9)
        let share = try #require(evaluated["mia_member_share"] as? Double), efficacy = try #require(evaluated["mia_efficacy"] as? Double)
        #expect(abs(share + efficacy - 1) < 1e-12)

        r = try muso("export", model, "--to", dir + "/export")
        #expect(r.status == 0, "\(r.stderr)")
        let verify = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/verify-export.py").path
        let check = try runProgram("/usr/bin/env", ["python3", verify, dir + "/export"])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
    }

    @Test("a feature matrix from .npy files: train and forget exactly")
    func npyData() throws {
        let dir = try temporaryDirectory()
        let p = try python("""
        import numpy as np
        rng = np.random.default_rng(0)
        np.save('\(dir)/phi.npy', rng.standard_normal((50, 200)).astype(np.float32))
        np.save('\(dir)/y.npy', rng.integers(0, 3, 50))
        """)
        try #require(p.status == 0, "python3 with numpy is needed: \(p.stderr)")
        let model = dir + "/e.muso"
        var r = try muso("train", "--data", "npy", "--path", dir + "/phi.npy", "--labels", dir + "/y.npy", "-o", model, "--json")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try json(r.stdout)["outputs"] as? Int == 3)
        r = try muso("forget", model, "--ids", "4,9,33", "--verify", "--json")
        #expect(r.status == 0, "\(r.stderr)")
        let c = try #require(try json(r.stdout)["certificate"] as? [String: Any])
        #expect((c["relative_distance_to_retrain"] as? Double ?? 1) <= 1e-9)
    }

    @Test("errors name the file, line or id, and exit non-zero")
    func errors() throws {
        let dir = try temporaryDirectory()
        try writeCSV(dir)
        let model = dir + "/m.muso"
        _ = try muso("train", "--data", "csv", "--path", dir + "/train.csv", "--features", "100", "-o", model)
        _ = try muso("forget", model, "--ids", "1005")
        var r = try muso("forget", model, "--ids", "1005,1006")
        #expect(r.status != 0 && r.stderr.contains("id 1005 already forgotten (request #1"), "\(r.stderr)")
        r = try muso("forget", model, "--ids", "77")
        #expect(r.status != 0 && r.stderr.contains("no sample with id 77"))
        r = try muso("forget", model, "--ids", "3,x")
        #expect(r.status != 0 && r.stderr.contains("'x' is not an integer id"))
        try "1007\n10x8\n".write(toFile: dir + "/bad.txt", atomically: true, encoding: .utf8)
        r = try muso("forget", model, "--ids-file", dir + "/bad.txt")
        #expect(r.status != 0 && r.stderr.contains("bad.txt:2: '10x8'"), "\(r.stderr)")
        r = try muso("forget", model)
        #expect(r.status != 0 && r.stderr.contains("exactly one of --ids and --ids-file"))
        r = try muso("train", "--data", "csv", "-o", dir + "/x.muso")
        #expect(r.status != 0 && r.stderr.contains("--data csv needs --path"))
        r = try muso("train", "--data", "csv", "--path", dir + "/missing.csv", "-o", dir + "/x.muso")
        #expect(r.status != 0 && r.stderr.contains("missing.csv: cannot read: no such file"))
        r = try muso("train", "--data", "csv", "--path", dir + "/train.csv", "--features", "101", "-o", dir + "/x.muso")
        #expect(r.status != 0 && r.stderr.contains("must be even"))
        r = try muso("train", "--data", "csv", "--path", dir + "/train.csv", "--classes", "3,5", "-o", dir + "/x.muso")
        #expect(r.status != 0 && r.stderr.contains("class 5 does not occur"), "\(r.stderr)")
        try "id,a,label\n1,2,3\n2,oops,8\n".write(toFile: dir + "/broken.csv", atomically: true, encoding: .utf8)
        r = try muso("train", "--data", "csv", "--path", dir + "/broken.csv", "-o", dir + "/x.muso")
        #expect(r.status != 0 && r.stderr.contains("broken.csv:3: 'oops' in column 'a' is not a number"), "\(r.stderr)")
        // A corrupted model file.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: model)))
        bytes[bytes.count / 2] ^= 0xff
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/bad.muso"))
        r = try muso("forget", dir + "/bad.muso", "--ids", "1009")
        #expect(r.status != 0 && r.stderr.contains("bad.muso: corrupted: checksum mismatch"))
        r = try muso("inspect", dir + "/train.csv")
        #expect(r.status != 0 && r.stderr.contains("not a muso model file"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/x.muso"))
        r = try muso("evaluate", model)
        #expect(r.status != 0 && r.stderr.contains("a CSV model needs --test-path"), "\(r.stderr)")
        r = try muso("evaluate", model, "--test-path", dir + "/none.csv")
        #expect(r.status != 0 && r.stderr.contains("none.csv: cannot read"))
        try "x".write(toFile: dir + "/afile", atomically: true, encoding: .utf8)
        r = try muso("export", model, "--to", dir + "/afile")
        #expect(r.status != 0 && r.stderr.contains("afile"), "\(r.stderr)")
        r = try muso("experiment", "linear", "--scenarios", "pair,cats")
        #expect(r.status != 0 && r.stderr.contains("unknown scenario 'cats'"))
        r = try muso("experiment", "linear", "--pair", "1")
        #expect(r.status != 0 && r.stderr.contains("--pair takes two classes"))
        r = try muso("bench", "--sizes", "10,x")
        #expect(r.status != 0 && r.stderr.contains("--sizes takes positive integers"))
        r = try muso("experiment", "network", "--scenarios", "random-5")
        #expect(r.status != 0 && r.stderr.contains("unknown scenario 'random-5'"))
        r = try muso("experiment", "network", "--hidden", "512,0")
        #expect(r.status != 0 && r.stderr.contains("--hidden takes positive widths"))
        r = try muso("experiment", "network", "--methods", "FT,SalUn", "--salun-shares", "0.3")
        #expect(r.status != 0 && r.stderr.contains("same number of configurations") && r.stderr.contains("2 for SalUn; 4 for FT"), "\(r.stderr)")
        r = try muso("experiment", "network", "--salun-shares", "0.5,1.5")
        #expect(r.status != 0 && r.stderr.contains("--salun-shares takes numbers in (0, 1]"))
        r = try muso("experiment", "network", "--le-smoothing", "0,1")
        #expect(r.status != 0 && r.stderr.contains("--le-smoothing takes numbers in [0, 1)"), "\(r.stderr)")
        r = try muso("experiment", "network", "--methods", "FT", "--grid-rates", "1e-3,x")
        #expect(r.status != 0 && r.stderr.contains("--grid-rates takes positive numbers"), "\(r.stderr)")
        r = try muso("demo", "-n", "100", "-k", "100")
        #expect(r.status != 0 && r.stderr.contains("--forget must be between 1 and N - 1"))
        r = try muso("inspect", dir + "/nothing.muso")
        #expect(r.status != 0 && r.stderr.contains("nothing.muso: cannot read: no such file"))
    }

    @Test("the network experiment's --partial file holds the table of the finished seeds: after the last seed, the printed table")
    func networkPartial() throws {
        let dir = try temporaryDirectory()
        let r = try muso("experiment", "network", "--train-limit", "600", "--validation", "200", "--test-limit", "200", "--hidden", "8",
                         "--epochs", "1", "--checkpoint-epoch", "1", "--seeds", "2", "--first-seed", "5", "--methods", "FT,MUSO-LE",
                         "--scenarios", "random-10", "--partial", dir + "/p.txt")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try String(contentsOfFile: dir + "/p.txt", encoding: .utf8) == r.stdout)
        #expect(r.stdout.contains("mean±sd over 2 seed(s) from 5") && r.stdout.contains("forget weight"))
        let report = try json(String(contentsOfFile: dir + "/p.txt.json", encoding: .utf8))
        #expect(report["seeds"] as? Int == 2)
        let methods = ((report["scenarios"] as? [[String: Any]])?.first?["methods"] as? [[String: Any]]) ?? []
        #expect(methods.count == 4 && methods.allSatisfy { ($0["avg_gap_per_seed"] as? [Double])?.count == 2 })
    }

    @Test("the demo forgets exactly and reports as JSON")
    func demo() throws {
        let r = try muso("demo", "--data", "synthetic", "-n", "200", "-m", "600", "-d", "8", "-k", "3", "--json")
        #expect(r.status == 0, "\(r.stderr)")
        let out = try json(r.stdout)
        #expect((out["relative_distance_to_retrain"] as? Double ?? 1) <= 1e-9)
        #expect(out["forgotten"] as? Int == 3 && out["samples"] as? Int == 200)
    }

    @Test("--help of every command lists its options")
    func help() throws {
        let expectations: [String: [String]] = [
            "train": ["--data", "--features", "--feature-map", "--bandwidth", "--ridge", "--seed", "--threads", "--output", "--classes", "--limit", "--json"],
            "forget": ["--ids", "--ids-file", "--verify", "--route", "--output", "--wait", "--accept-unverified", "--json"],
            "inspect": ["--list-ids", "--json"],
            "evaluate": ["--test-limit", "--test-path", "--no-retrain", "--json"],
            "export": ["--to", "--include-factor", "--json"],
            "experiment linear": ["--scenarios", "--samples", "--features", "--seeds", "--epochs", "--forget-fraction", "--csv", "--json"],
            "experiment network": ["--scenarios", "--train-limit", "--validation", "--hidden", "--epochs", "--grid-rates", "--grid-epochs", "--ga-rates", "--ga-epochs", "--salun-shares", "--salun-epochs", "--le-weights", "--le-smoothing", "--partial", "--subsample", "--ridge", "--seeds", "--csv", "--json"],
            "bench": ["--sizes", "--ratios", "--forget", "--repeats", "--out", "--check", "--json"],
        ]
        for (command, options) in expectations {
            let r = try runProgram(binary, command.split(separator: " ").map(String.init) + ["--help"])
            #expect(r.status == 0)
            for o in options { #expect(r.stdout.contains(o), "muso \(command) --help lacks \(o)") }
        }
    }
}

/// The `muso` executable built with the tests.
func musoBinary() -> String {
    let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [here, here.deletingLastPathComponent()] {
        let path = candidate.appendingPathComponent("muso").path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/muso").path
}

/// A tiny deterministic generator for test data (no dependency on the engine).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func normal() -> Double {
        let u1 = (Double(next() >> 11) + 0.5) / 9007199254740992, u2 = Double(next() >> 11) / 9007199254740992
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}

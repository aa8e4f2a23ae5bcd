import Foundation
import Testing
import TestSupport

/// Requests are never lost or half-applied: concurrent `forget` processes on
/// one model, a `forget` killed at every step of its write, retries, and the
/// files around a model (modes, symbolic links, special files, leftovers).
/// The oracle for the model's state is a model trained from scratch, by
/// `muso train`, on the CSV rows that remain.
@Suite("muso: concurrent requests and faults", .serialized)
struct TrustTests {
    let binary = musoBinary()

    func muso(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String, killedBySignal: Int32?) {
        try RunningProgram(binary, arguments, environment: environment).finish()
    }

    /// 60 samples of two noisy classes in R^4, ids 1000..1059.
    func writeCSV(_ path: String, excluding: Set<Int> = []) throws {
        var g = SplitMix(seed: 11)
        var s = "id,a,b,c,d,label\n"
        for i in 0..<60 {
            let values = (0..<4).map { _ in String(Double(i % 2) * 1.2 + g.normal()) }
            if !excluding.contains(1000 + i) { s += "\(1000 + i)," + values.joined(separator: ",") + ",\(i % 2)\n" }
        }
        try s.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Trains with a fixed bandwidth (the median heuristic would change with the rows).
    func train(_ csv: String, _ model: String) throws {
        let r = try muso(["train", "--data", "csv", "--path", csv, "--features", "240", "--bandwidth", "2.5", "--seed", "9", "-o", model])
        try #require(r.status == 0, "\(r.stderr)")
    }

    /// A new directory with train.csv and a model `name` trained on it.
    func freshModel(named name: String = "m.muso") throws -> (dir: String, model: String) {
        let dir = try temporaryDirectory()
        try writeCSV(dir + "/train.csv")
        try train(dir + "/train.csv", dir + "/" + name)
        return (dir, dir + "/" + name)
    }

    func inspect(_ model: String) throws -> [String: Any] {
        let r = try muso(["inspect", model, "--json"])
        try #require(r.status == 0, "\(r.stderr)")
        return try #require(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    }

    func ids(_ model: String) throws -> Set<Int> {
        let r = try muso(["inspect", model, "--list-ids", "--json"])
        try #require(r.status == 0, "\(r.stderr)")
        let object = try #require(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        return Set(try #require(object["ids"] as? [Int]))
    }

    /// ||theta_a - theta_b|| / ||theta_b|| from two exports, by numpy.
    func parameterDistance(_ a: String, _ b: String, in dir: String) throws -> Double {
        for (m, out) in [(a, dir + "/xa"), (b, dir + "/xb")] {
            try? FileManager.default.removeItem(atPath: out)
            let r = try muso(["export", m, "--to", out])
            try #require(r.status == 0, "\(r.stderr)")
        }
        let p = try python("""
        import numpy as np
        a = np.load('\(dir)/xa/theta.npy'); b = np.load('\(dir)/xb/theta.npy')
        print(np.linalg.norm(a - b) / np.linalg.norm(b))
        """)
        try #require(p.status == 0, "python3 with numpy is needed: \(p.stderr)")
        return try #require(Double(p.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    func entries(_ dir: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
    }

    /// Rounds of the concurrency test: 1 in CI; `MUSO_CONCURRENCY_ROUNDS=20`
    /// for the figure in docs/trust.md.
    static let rounds = Int(ProcessInfo.processInfo.environment["MUSO_CONCURRENCY_ROUNDS"] ?? "") ?? 1

    @Test("concurrent forget processes with disjoint ids: every request lands, the model equals retraining without all of them",
          arguments: 0..<rounds)
    func concurrentRequests(round: Int) throws {
        let (dir, model) = try freshModel()
        let requests: [[Int]] = (0..<6).map { p in [1000 + 7 * p, 1001 + 7 * p, 1003 + 7 * p] }
        let running = try requests.map { ids in
            // Each request sleeps 0.3 s between reading the model and writing
            // it: without the lock, their read-modify-writes would overlap.
            try RunningProgram(binary, ["forget", model, "--ids", ids.map(String.init).joined(separator: ","), "--wait", "120", "--json"],
                               environment: ["MUSO_FAULT_DELAY": "after-read:0.3"])
        }
        var numbers: [Int] = []
        for (ids, program) in zip(requests, running) {
            let r = try program.finish()
            #expect(r.status == 0, "request \(ids): \(r.stderr)")
            let out = try #require(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            numbers.append(try #require(out["request"] as? Int))
        }
        #expect(numbers.sorted() == Array(1...6), "request numbers \(numbers)")
        let journal = try #require(try inspect(model)["journal"] as? [[String: Any]])
        #expect(journal.count == 6)
        let journalled = Set(journal.flatMap { $0["ids"] as? [Int] ?? [] })
        let all = Set(requests.joined())
        #expect(journalled == all)
        #expect(try ids(model).isDisjoint(with: all) && (try ids(model)).count == 60 - all.count)
        #expect(try entries(dir) == [".m.muso.lock", "m.muso", "train.csv"])
        // The oracle: trained from scratch on the rows that remain.
        try writeCSV(dir + "/kept.csv", excluding: all)
        try train(dir + "/kept.csv", dir + "/oracle.muso")
        #expect(try parameterDistance(model, dir + "/oracle.muso", in: dir) <= 1e-9)
    }

    @Test("a retry of a completed request is reported as applied and changes nothing; a partial overlap is refused naming the ids")
    func retries() throws {
        let (_, model) = try freshModel()
        var r = try muso(["forget", model, "--ids", "1004,1010"])
        try #require(r.status == 0, "\(r.stderr)")
        let after = try Data(contentsOf: URL(fileURLWithPath: model))
        r = try muso(["forget", model, "--ids", "1010,1004"])
        #expect(r.status == 0 && r.stdout.contains("already applied") && r.stdout.contains("request #1"), "\(r.stdout)\(r.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: model)) == after)
        r = try muso(["forget", model, "--ids", "1010,1011"])
        #expect(r.status != 0 && r.stderr.contains("id 1010 already forgotten (request #1"), "\(r.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: model)) == after)
    }

    @Test("a held lock makes a request wait or fail as busy, never run alongside")
    func busy() throws {
        let (dir, model) = try freshModel()
        let fd = open(dir + "/.m.muso.lock", O_RDWR | O_CREAT, 0o600)
        try #require(fd >= 0 && flock(fd, LOCK_EX) == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: model))
        var r = try muso(["forget", model, "--ids", "1002"])
        #expect(r.status != 0 && r.stderr.contains("busy"), "\(r.stderr)")
        let waiting = try RunningProgram(binary, ["forget", model, "--ids", "1002", "--wait", "60"])
        usleep(700_000)
        #expect(try Data(contentsOf: URL(fileURLWithPath: model)) == before)  // still waiting for the lock
        flock(fd, LOCK_UN); close(fd)
        let w = try waiting.finish()
        #expect(w.status == 0 && w.stdout.contains("request #1"), "\(w.stderr)")
        r = try muso(["forget", model, "--ids", "1003", "--wait", "0.2"])
        #expect(r.status == 0 && r.stdout.contains("request #2"), "\(r.stderr)")
    }

    @Test("a program that replaces the model without the lock, during a request, makes the request fail with nothing written")
    func replacedUnderneath() throws {
        let (dir, model) = try freshModel()
        try FileManager.default.copyItem(atPath: model, toPath: dir + "/other.muso")
        let running = try RunningProgram(binary, ["forget", model, "--ids", "1008"], environment: ["MUSO_FAULT_DELAY": "after-read:3"])
        // Wait until the request holds the lock, then give it 0.5 s to read
        // the (small) model; it then sleeps 3 s before writing.
        let fd = open(dir + "/.m.muso.lock", O_RDWR | O_CREAT, 0o600)
        var waited = 0
        while flock(fd, LOCK_EX | LOCK_NB) == 0 && waited < 600 { flock(fd, LOCK_UN); usleep(10_000); waited += 1 }
        close(fd)
        #expect(waited < 600, "the request never took the lock")
        usleep(500_000)
        // Another writer renames a file over the model (no lock taken).
        #expect(rename(dir + "/other.muso", model) == 0)
        let replaced = try Data(contentsOf: URL(fileURLWithPath: model))
        let r = try running.finish()
        #expect(r.status != 0 && r.stderr.contains("was replaced or changed by another program"), "\(r.stdout)\(r.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: model)) == replaced)
        #expect(try entries(dir) == [".m.muso.lock", "m.muso", "train.csv"])
    }

    @Test("kill -9 at 50 points of forget: the model is the old or the new state, and a retry converges")
    func killPoints() throws {
        let (dir, pristine) = try freshModel(named: "pristine.muso")
        let old = try Data(contentsOf: URL(fileURLWithPath: pristine))
        let request = ["1005", "1006", "1030"]
        // The size of the new file, from an uninterrupted run on a copy: the
        // byte offsets of the sweep lie inside the temporary file's writes.
        try FileManager.default.copyItem(atPath: pristine, toPath: dir + "/sized.muso")
        #expect(try muso(["forget", dir + "/sized.muso", "--ids", request.joined(separator: ",")]).status == 0)
        let size = try Data(contentsOf: URL(fileURLWithPath: dir + "/sized.muso")).count
        var points = ["after-lock", "after-read", "after-compute", "before-rename", "after-rename"]
        points += (0..<45).map { "write:\(($0 * size) / 45)" }
        let work = dir + "/work"
        var outcomes = (old: 0, new: 0)
        for point in points {
            try? FileManager.default.removeItem(atPath: work)
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            let model = work + "/m.muso"
            try FileManager.default.copyItem(atPath: pristine, toPath: model)
            let killed = try muso(["forget", model, "--ids", request.joined(separator: ",")], environment: ["MUSO_FAULT_INJECT": point])
            #expect(killed.killedBySignal == SIGKILL, "\(point): \(killed.status) \(killed.stderr)")
            // Exactly the old file, or a complete new one holding the request.
            let now = try Data(contentsOf: URL(fileURLWithPath: model))
            if now == old {
                outcomes.old += 1
            } else {
                let journal = try #require(try inspect(model)["journal"] as? [[String: Any]], "\(point)")
                #expect(journal.count == 1 && journal[0]["ids"] as? [Int] == [1005, 1006, 1030], "\(point)")
                outcomes.new += 1
            }
            // The retry: applied once, or recognised as applied.
            let retry = try muso(["forget", model, "--ids", request.joined(separator: ",")])
            #expect(retry.status == 0, "\(point): \(retry.stderr)")
            let journal = try #require(try inspect(model)["journal"] as? [[String: Any]], "\(point)")
            #expect(journal.count == 1, "\(point)")
            let left = try entries(work)
            #expect(left == [".m.muso.lock", "m.muso"], "\(point): \(left)")
        }
        // Points before the rename leave the old file; after it, the new one.
        #expect(outcomes.old == 49 && outcomes.new == 1, "\(outcomes)")
    }

    @Test("a model whose stored coefficients were altered (checksum re-sealed) is refused before any request, by every command")
    func alteredModel() throws {
        let (dir, model) = try freshModel()
        // Add 1e-3 to the first dual coefficient and re-seal the CRC-32, as an
        // attacker or a bad disk controller with a recomputed checksum would.
        let p = try python("""
        import json, struct, zlib
        b = bytearray(open('\(model)', 'rb').read())
        h = struct.unpack_from('<Q', b, 12)[0]
        header = json.loads(bytes(b[32:32 + h]))
        offset = 32 + h
        for a in header['arrays']:
            if a['name'] == 'dual':
                v = struct.unpack_from('<d', b, offset)[0]
                struct.pack_into('<d', b, offset, v + 1e-3)
            offset += 8 * a['rows'] * a['columns']
        struct.pack_into('<I', b, 28, zlib.crc32(bytes(b[32:])) & 0xffffffff)
        open('\(dir)/altered.muso', 'wb').write(b)
        """)
        try #require(p.status == 0, "python3 is needed: \(p.stderr)")
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/altered.muso"))
        for command in [["forget", dir + "/altered.muso", "--ids", "1001"], ["forget", dir + "/altered.muso", "--ids", "1001", "--accept-unverified"],
                        ["inspect", dir + "/altered.muso"]] {
            let r = try muso(command)
            #expect(r.status != 0 && r.stderr.contains("altered.muso: inconsistent model") && r.stderr.contains("stationarity residual"),
                    "\(command): \(r.stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/altered.muso")) == before)
    }

    @Test("replacing a model keeps its mode, writes through a symbolic link, refuses special files")
    func filesAroundTheModel() throws {
        let (dir, model) = try freshModel(named: "real.muso")
        chmod(model, 0o600)
        // Another owner (possible when the tests run as root): kept too.
        let otherOwner = geteuid() == 0 && chown(model, 65534, 65534) == 0
        try FileManager.default.createSymbolicLink(atPath: dir + "/link.muso", withDestinationPath: "real.muso")
        var r = try muso(["forget", dir + "/link.muso", "--ids", "1001"])
        #expect(r.status == 0, "\(r.stderr)")
        let link = try FileManager.default.attributesOfItem(atPath: dir + "/link.muso")
        #expect(link[.type] as? FileAttributeType == .typeSymbolicLink)
        let real = try FileManager.default.attributesOfItem(atPath: model)
        #expect((real[.posixPermissions] as? Int) == 0o600)
        if otherOwner { #expect((real[.ownerAccountID] as? Int) == 65534 && (real[.groupOwnerAccountID] as? Int) == 65534, "\(real)") }
        #expect(!(try ids(model)).contains(1001))
        // A FIFO as the model: refused at once, not waited on.
        #expect(mkfifo(dir + "/fifo.muso", 0o644) == 0)
        let start = Date()
        r = try muso(["inspect", dir + "/fifo.muso"])
        #expect(r.status != 0 && r.stderr.contains("not a regular file"), "\(r.stderr)")
        r = try muso(["forget", dir + "/fifo.muso", "--ids", "1"])
        #expect(r.status != 0 && r.stderr.contains("not a regular file"), "\(r.stderr)")
        r = try muso(["train", "--data", "csv", "--path", dir + "/fifo.muso", "-o", dir + "/x.muso"])
        #expect(r.status != 0 && r.stderr.contains("not a regular file"), "\(r.stderr)")
        r = try muso(["train", "--data", "csv", "--path", dir + "/train.csv", "--features", "40", "-o", dir + "/fifo.muso"])
        #expect(r.status != 0 && r.stderr.contains("a FIFO, not a regular file; refusing to replace it"), "\(r.stderr)")
        #expect(Date().timeIntervalSince(start) < 30)
        // A leftover temporary file is removed by the next command, never read.
        try Data("junk".utf8).write(to: URL(fileURLWithPath: dir + "/.real.muso.tmp-999999-1"))
        r = try muso(["inspect", model])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/.real.muso.tmp-999999-1"))
    }
}

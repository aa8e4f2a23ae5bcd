import Foundation
import Testing
import LinearAlgebra
import Unlearning
@testable import UnlearningIO
@testable import NetworkIO
import TestSupport

/// Crafted inputs of the kinds that once crashed, hung or misread: each must
/// get an error naming the file, never a signal, a hang, a huge allocation or
/// another value. (The fuzzers in Fuzz/ search the same readers at random.)
@Suite("Hostile inputs")
struct HostileInputTests {
    func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        let dir = try temporaryDirectory()
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/x"))
        let r = try runProgram("/bin/gzip", ["-n", "-9", dir + "/x"])
        try #require(r.status == 0, "gzip: \(r.stderr)")
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/x.gz")))
    }

    @Test("IDX: a gzip stream inflating past what the header announces is refused after that many bytes")
    func decompressionCap() throws {
        // The header announces 10 bytes; 64 MB of zeros follow (a 64 KB file).
        let bomb = try gzip([0, 0, 8, 1, 0, 0, 0, 10] + [UInt8](repeating: 0, count: 64 << 20))
        #expect(bomb.count < 200_000)
        #expect(errorMessage { _ = try IDXArray(possiblyCompressed: bomb, path: "bomb.gz") }.contains("bomb.gz: 1 bytes after the data"))
        // Dimensions whose product overflows, and one that announces 2^60 bytes over a tiny stream.
        let overflow = try gzip([0, 0, 8, 4] + [UInt8](repeating: 0xff, count: 16))
        #expect(errorMessage { _ = try IDXArray(possiblyCompressed: overflow, path: "o.gz") }.contains("overflow"))
        let huge = try gzip([0, 0, 8, 2, 0x10, 0, 0, 0, 0x10, 0, 0, 0, 1, 2, 3])
        #expect(errorMessage { _ = try IDXArray(possiblyCompressed: huge, path: "h.gz") }.contains("more than the"))
        // The same through a regular file, and the uncompressed overflow.
        #expect(errorMessage { _ = try IDXArray(bytes: [0, 0, 8, 4] + [UInt8](repeating: 0xff, count: 16), path: "o.idx") }.contains("overflow"))
        // Two gzip members read as one stream, as gunzip does; its values are the oracle.
        let values: [UInt8] = [0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]
        let two = try gzip(Array(values[0..<5])) + gzip(Array(values[5...]))
        #expect(try IDXArray(possiblyCompressed: two, path: "two.gz").values == [7, 8, 9])
    }

    @Test("readers refuse a FIFO, a directory and a device at once instead of blocking on them")
    func specialFiles() throws {
        let dir = try temporaryDirectory()
        #expect(mkfifo(dir + "/fifo", 0o644) == 0)
        let start = Date()
        for path in [dir + "/fifo", dir, "/dev/zero"] {
            #expect(errorMessage { _ = try CSV.load(path) }.contains("not a regular file"), "\(path)")
            #expect(errorMessage { _ = try IDXArray(contentsOf: path) }.contains("not a regular file"), "\(path)")
            #expect(errorMessage { _ = try NPYFile(path: path) }.contains("not a regular file"), "\(path)")
            #expect(errorMessage { _ = try ModelFile.read(from: path) }.contains("not a regular file"), "\(path)")
            #expect(errorMessage { _ = try NetworkFile.read(from: path) }.contains("not a regular file"), "\(path)")
        }
        #expect(Date().timeIntervalSince(start) < 10)
    }

    @Test("CSV: a 50 MB line is refused in bounded time; cells and ids that are not exactly their value are refused")
    func csvCells() throws {
        let long = "a,label\n" + String(repeating: "1", count: 50 << 20) + ",0\n"
        let start = Date()
        let refusal = errorMessage { _ = try CSV.parse(long, path: "long.csv") }
        #expect(refusal.contains("long.csv:2: a field longer than 4096 bytes"), "\(refusal.prefix(200))")
        #expect(refusal.count < 300)
        #expect(Date().timeIntervalSince(start) < 20)
        func message(_ text: String) -> String { errorMessage { _ = try CSV.parse(text, path: "c.csv") } }
        for cell in ["0x10", "1,5", "inf", "1.5abc", "1e999", "--1", "1e", "."] where !cell.contains(",") {
            #expect(message("a,label\n\(cell),0\n").contains("is not a number"), "\(cell)")
        }
        #expect(message("a,label\n1,2.5\n").contains("label '2.5'"))
        #expect(message("a,label\n1,1e30\n").contains("label '1e30'"))
        #expect(message("id,a,label\n0x1,1,0\n").contains("id '0x1'"))
        #expect(message("id,a,label\n99999999999999999999,1,0\n").contains("id '99999999999999999999'"))
        // Exactly integral labels and large exact ids keep their value (2^53 + 1 is not a double).
        let d = try CSV.parse("id,a,label\n9007199254740993,1e-3,3.0\n-4,+2.5E1,7\n", path: "ok.csv")
        #expect(d.ids == [9007199254740993, -4] && d.labels == [3, 7])
        #expect(d.inputs[0, 0] == 0.001 && d.inputs[1, 0] == 25)
        // An excerpt, not the whole field.
        let junk = "a,label\n" + String(repeating: "z", count: 3000) + ",0\n"
        #expect(message(junk).count < 300)
    }

    @Test("ids: tokens that are not exactly an integer are refused, never read as another number")
    func ids() throws {
        #expect(try IDList.parse("1,2 3\n# four\n-5\t6\r\n", source: "ids") == [1, 2, 3, -5, 6])
        for token in ["1.0", "0x10", "1e3", "12abc", "99999999999999999999", "+", "٣"] {
            #expect(errorMessage { _ = try IDList.parse("4, \(token)", source: "f.txt") }.contains("f.txt:1: '"), "\(token)")
        }
        let long = String(repeating: "9", count: 1 << 20)
        #expect(errorMessage { _ = try IDList.parse(long, source: "l") }.count < 200)
    }

    @Test(".npy: a header that is not what numpy writes, a huge shape, trailing bytes, ids above 2^53")
    func npyHeaders() throws {
        let dir = try temporaryDirectory()
        func file(_ dict: String, data: [UInt8] = [], version: UInt8 = 1) throws -> String {
            var d = dict
            let pad = (64 - (10 + d.utf8.count + 1) % 64) % 64
            d += String(repeating: " ", count: pad) + "\n"
            var b: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, version, 0, UInt8(d.utf8.count & 255), UInt8(d.utf8.count >> 8)]
            b += Array(d.utf8) + data
            let path = dir + "/\(UUID().uuidString).npy"
            try Data(b).write(to: URL(fileURLWithPath: path))
            return path
        }
        let eight = [UInt8](repeating: 0, count: 8)
        #expect(try NPYFile(path: file("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", data: eight)).rowCount == 1)
        let refused: [(String, String)] = [
            ("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'extra': 1, }", "unexpected or repeated key 'extra'"),
            ("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", "repeated key 'descr'"),
            ("{'descr': '<f8', 'fortran_order': 0, 'shape': (1,), }", "expected True or False"),
            ("{'descr': '<f8', 'fortran_order': False, 'shape': (1), }", "needs its comma"),
            ("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }", "non-negative integer"),
            ("{'descr': '<f8', 'fortran_order': False}", "are all required"),
            ("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", "more elements than fit"),
            ("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999,), }", "non-negative integer"),
            ("{'descr': '<f8', 'fortran_order': False, 'shape': (1152921504606846976,), }", "more bytes than fit"),
            ("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000,), }", "truncated"),
            ("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }", "expected a quoted string"),
        ]
        for (dict, expected) in refused {
            let m = errorMessage { _ = try NPYFile(path: file(dict, data: eight)) }
            #expect(m.contains(expected), "\(dict): \(m)")
        }
        #expect(errorMessage { _ = try NPYFile(path: file("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", data: eight + [1])) }
            .contains("1 bytes after the data"))
        // int64 ids keep their exact value; float ids must be exact integers.
        let big: Int64 = 9007199254740993
        let ids = try NPYFile(path: file("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }",
                                         data: withUnsafeBytes(of: big.littleEndian) { Array($0) }))
        #expect(try ids.integers() == [9007199254740993])
        let half = try NPYFile(path: file("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }",
                                          data: withUnsafeBytes(of: (2.5).bitPattern.littleEndian) { Array($0) }))
        #expect(errorMessage { _ = try half.integers() }.contains("2.5 is not an integer"))
        let huge = try NPYFile(path: file("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }",
                                          data: withUnsafeBytes(of: (1e300).bitPattern.littleEndian) { Array($0) }))
        #expect(errorMessage { _ = try huge.integers() }.contains("is not an integer"))
    }

    @Test("fuzz regressions: every file in Fuzz/regressions is refused with an error (found by the harness on the previous tree)")
    func fuzzRegressions() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let npy = root.appendingPathComponent("Fuzz/regressions/npy/float-id-beyond-int.npy").path
        // A header with text after the shape tuple and 1e19-like data: the old
        // reader accepted the header and trapped converting the value to Int.
        let message = errorMessage { _ = try NPYFile(path: npy).integers() }
        #expect(message.contains("bad .npy header"), "\(message)")
    }

    @Test("network file: widths whose parameter count overflows, and NaN parameters, are refused")
    func networkFile() throws {
        let dir = try temporaryDirectory()
        func write(_ widths: [Int], _ payload: [Double]) throws -> String {
            let path = dir + "/\(UUID().uuidString).net"
            _ = try payload.withUnsafeBytes { p in
                try ContainerFile.write(magic: NetworkFile.magic, version: NetworkFile.version,
                                        header: Array("{\"widths\":\(widths)}".utf8), payload: [p], to: path)
            }
            return path
        }
        #expect(errorMessage { _ = try NetworkFile.read(from: write([Int.max / 2, 4], [1, 2])) }.contains("announce more parameters"))
        #expect(errorMessage { _ = try NetworkFile.read(from: write([1 << 40, 1 << 40], [1])) }.contains("announce more parameters"))
        var values = [Double](repeating: 0.5, count: 2 * 3 + 3)
        #expect(try NetworkFile.read(from: write([2, 3], values)).widths == [2, 3])
        values[4] = .nan
        #expect(errorMessage { _ = try NetworkFile.read(from: write([2, 3], values)) }.contains("parameter 4 is not finite"))
    }
}

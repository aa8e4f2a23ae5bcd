import Foundation
import Testing
import LinearAlgebra
@testable import UnlearningIO
import TestSupport

@Suite("IDX and Fashion-MNIST")
struct IDXTests {
    func header(_ type: UInt8, _ dims: [Int]) -> [UInt8] {
        var b: [UInt8] = [0, 0, type, UInt8(dims.count)]
        for d in dims { b += [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
        return b
    }

    @Test("a well-formed IDX array parses, big-endian dimensions included")
    func parses() throws {
        let a = try IDXArray(bytes: header(8, [2, 300]) + (0..<600).map { UInt8($0 % 256) }, path: "x.idx")
        #expect(a.shape == [2, 300])
        #expect(a.values.count == 600 && a.values[599] == UInt8(599 % 256))
    }

    @Test("hostile IDX files are refused with a message naming the file")
    func hostile() {
        #expect(errorMessage { _ = try IDXArray(bytes: [1, 2, 8, 1, 0, 0, 0, 1, 5], path: "bad.idx") }.contains("bad.idx: not an IDX file"))
        #expect(errorMessage { _ = try IDXArray(bytes: header(0x0D, [1]) + [0, 0, 0, 0], path: "f.idx") }.contains("type 0x0d is not supported"))
        #expect(errorMessage { _ = try IDXArray(bytes: header(8, [10]) + [1, 2, 3], path: "t.idx") }.contains("t.idx: truncated: the header announces 18 bytes, the file has 11"))
        #expect(errorMessage { _ = try IDXArray(bytes: header(8, [2]) + [1, 2, 3], path: "l.idx") }.contains("1 bytes after the data"))
        #expect(errorMessage { _ = try IDXArray(bytes: [0, 0], path: "s.idx") }.contains("truncated"))
        #expect(errorMessage { _ = try IDXArray(bytes: [0, 0, 8, 9], path: "d.idx") }.contains("9 dimensions"))
    }

    @Test("Fashion-MNIST from the Debian package: sizes, known first labels, scaling, ids")
    func fashionMNIST() throws {
        let test = try FashionMNIST.load(.test)
        #expect(test.count == 10000 && test.inputs.columns == 784)
        // Known answer: the test split's labels begin 9, 2, 1, 1, 6, 1, 4, 6, 5, 7.
        #expect(Array(test.labels.prefix(10)) == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7])
        #expect(test.inputs.elements.allSatisfy { $0 >= 0 && $0 <= 1 } && test.inputs.maxAbs == 1)
        #expect(test.ids == Array(0..<10000))
        let pair = try FashionMNIST.load(.train, classes: [0, 6], limit: 500, seed: 3)
        #expect(pair.count == 500 && Set(pair.labels) == [0, 6])
        #expect(pair.ids == pair.ids.sorted() && Set(pair.ids).count == 500)
        let again = try FashionMNIST.load(.train, classes: [0, 6], limit: 500, seed: 3)
        #expect(again.ids == pair.ids)
        #expect(errorMessage { _ = try FashionMNIST.load(.test, classes: [3, 12]) }.contains("class 12 does not occur"))
        #expect(errorMessage { _ = try FashionMNIST.load(.test, directory: "/nonexistent") }.contains("install Debian's dataset-fashion-mnist"))
    }

    @Test("a gzip file cut short is refused")
    func truncatedGzip() throws {
        let dir = try temporaryDirectory()
        let original = try Data(contentsOf: URL(fileURLWithPath: FashionMNIST.defaultDirectory + "/t10k-labels-idx1-ubyte.gz"))
        let path = dir + "/cut.gz"
        try original.prefix(original.count / 2).write(to: URL(fileURLWithPath: path))
        let message = errorMessage { _ = try IDXArray(contentsOf: path) }
        #expect(message.contains(path) && (message.contains("gzip") || message.contains("truncated")), "\(message)")
        var corrupt = [UInt8](original)
        for i in 40..<80 { corrupt[i] ^= 0x5a }
        try Data(corrupt).write(to: URL(fileURLWithPath: dir + "/corrupt.gz"))
        #expect(errorMessage { _ = try IDXArray(contentsOf: dir + "/corrupt.gz") }.contains("corrupt.gz: corrupt gzip stream"))
    }
}

@Suite("CSV")
struct CSVTests {
    @Test("features, labels and ids; quoted fields; id column optional")
    func parses() throws {
        let d = try CSV.parse("id,a,\"b, quoted\",label\n10,1.5,2,0\n\n11,-3,\"4\",1\r\n", path: "t.csv")
        #expect(d.ids == [10, 11] && d.labels == [0, 1])
        #expect(d.inputs == (try Matrix(rowMajor: [[1.5, 2], [-3, 4]])))
        let rows = try CSV.parse("x,label\n1,2\n3,4\n", path: "r.csv")
        #expect(rows.ids == [0, 1] && rows.labels == [2, 4])
    }

    @Test("malformed CSV names the file and line")
    func hostile() {
        func message(_ text: String) -> String { errorMessage { _ = try CSV.parse(text, path: "d.csv") } }
        #expect(message("a,label\n1,0\n2\n").contains("d.csv:3: 1 fields, the header has 2"))
        #expect(message("a,label\n1,0\nx,1\n").contains("d.csv:3: 'x' in column 'a' is not a number"))
        #expect(message("a,label\nnan,0\n").contains("d.csv:2: 'nan' in column 'a' is not a number"))
        #expect(message("a,label\n1,0.5\n").contains("d.csv:2: label '0.5'"))
        #expect(message("a,b\n1,0\n").contains("d.csv:1: no column named 'label'"))
        #expect(message("").contains("empty file"))
        #expect(message("a,label\n").contains("no data lines"))
        #expect(message("id,a,label\n4,1,0\n4,2,1\n").contains("d.csv:3: id 4 repeats the id of line 2"))
        #expect(message("a,label\n\"1,0\n").contains("not closed"))
        #expect(errorMessage { _ = try CSV.load("/nonexistent.csv") }.contains("/nonexistent.csv: cannot read: no such file"))
    }
}

@Suite("NPY")
struct NPYTests {
    @Test("numpy-written files read back in every supported dtype and order")
    func readsNumpy() throws {
        let dir = try temporaryDirectory()
        let r = try python("""
        import numpy as np
        a = np.arange(12, dtype=np.float64).reshape(3, 4) / 8
        np.save('\(dir)/c64.npy', a)
        np.save('\(dir)/f64.npy', np.asfortranarray(a))
        np.save('\(dir)/c32.npy', a.astype(np.float32))
        np.save('\(dir)/labels.npy', np.array([3, 1, 2], dtype=np.int64))
        np.save('\(dir)/big.npy', a.astype('>f8'))
        """)
        try #require(r.status == 0, "python3 with numpy is needed for this test: \(r.stderr)")
        for name in ["c64", "f64", "c32"] {
            let m = try NPYFile(path: "\(dir)/\(name).npy").matrix()
            #expect(m.rows == 3 && m.columns == 4)
            for i in 0..<3 { for j in 0..<4 { #expect(m[i, j] == Double(4 * i + j) / 8, "\(name) (\(i), \(j))") } }
            let block = try NPYFile(path: "\(dir)/\(name).npy").block(rows: [2, 0], columns: 1..<3)
            #expect(block == (try Matrix(rowMajor: [[9.0 / 8, 10.0 / 8], [1.0 / 8, 2.0 / 8]])))
        }
        #expect(try NPYFile(path: "\(dir)/labels.npy").integers() == [3, 1, 2])
        #expect(errorMessage { _ = try NPYFile(path: "\(dir)/big.npy") }.contains("big-endian"))
    }

    @Test("written files load in numpy with the same values")
    func writesForNumpy() throws {
        let dir = try temporaryDirectory()
        let m = Fixtures.gaussian(5, 3, seed: 1)
        try NPY.write(m, to: "\(dir)/m.npy")
        try NPY.write([7, -2, 9], to: "\(dir)/i.npy")
        let expected = (0..<5).map { i in "[" + (0..<3).map { String(m[i, $0]) }.joined(separator: ",") + "]" }.joined(separator: ",")
        let r = try python("""
        import numpy as np
        m = np.load('\(dir)/m.npy'); i = np.load('\(dir)/i.npy')
        assert m.shape == (5, 3) and m.dtype == np.float64, m.shape
        assert np.array_equal(m, np.array([\(expected)])), m
        assert i.tolist() == [7, -2, 9] and i.dtype == np.int64
        print('ok')
        """)
        #expect(r.status == 0 && r.stdout.contains("ok"), "\(r.stderr)")
        // And our own reader agrees.
        #expect(try NPYFile(path: "\(dir)/m.npy").matrix() == m)
    }

    @Test("hostile .npy files are refused")
    func hostile() throws {
        let dir = try temporaryDirectory()
        try Data("hello world, not numpy".utf8).write(to: URL(fileURLWithPath: "\(dir)/x.npy"))
        #expect(errorMessage { _ = try NPYFile(path: "\(dir)/x.npy") }.contains("not a .npy file"))
        try NPY.write(Fixtures.gaussian(40, 40, seed: 2), to: "\(dir)/full.npy")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/full.npy"))
        try bytes.prefix(bytes.count - 100).write(to: URL(fileURLWithPath: "\(dir)/cut.npy"))
        #expect(errorMessage { _ = try NPYFile(path: "\(dir)/cut.npy") }.contains("truncated"))
        #expect(errorMessage { _ = try NPYFile(path: "\(dir)/none.npy") }.contains("cannot read"))
        let f = try NPYFile(path: "\(dir)/full.npy")
        #expect(errorMessage { _ = try f.block(rows: [40], columns: 0..<1) }.contains("row 40 out of 0..<40"))
    }
}

@Suite("Atomic files")
struct AtomicFileTests {
    @Test("a write that fails half-way leaves the previous file and no temporary behind")
    func failureKeepsPrevious() throws {
        let dir = try temporaryDirectory()
        let path = dir + "/f.bin"
        try AtomicFile.write(Array("previous".utf8), to: path)
        let big = [UInt8](repeating: 7, count: 100_000)
        #expect(errorMessage {
            try big.withUnsafeBytes { try AtomicFile.write(chunks: [$0], to: path, replacing: nil, failAfter: 50_000) }
        }.contains("No space left on device"))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "previous")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["f.bin"])
        try AtomicFile.write(big, to: path)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).count == 100_000)
        #expect(errorMessage { try AtomicFile.write([1], to: "/nonexistent-dir/x") }.contains("/nonexistent-dir/x: cannot write"))
    }
}

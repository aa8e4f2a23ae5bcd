import Testing
@testable import LinearAlgebra
import _CKernels
import TestSupport

/// The panel kernels start their vectors at the first row where A's columns
/// are aligned (large Swift arrays start 48 bytes past a page). Here A, X and
/// the output sit at every offset of 0-7 entries past a 64-byte boundary:
/// each result must match a triple loop, and be the same bits at every
/// offset (the kernels promise sums whose order does not depend on where
/// the vectors start).
@Suite("Panel kernels at every alignment")
struct PanelAlignmentTests {
    /// `count` entries from `offset` entries past a 64-byte boundary, holding `values`.
    final class Placed<T> {
        let raw: UnsafeMutableRawPointer
        let base: UnsafeMutablePointer<T>
        init(_ values: [T], offset: Int) {
            raw = .allocate(byteCount: (values.count + 8) * MemoryLayout<T>.stride, alignment: 64)
            base = raw.bindMemory(to: T.self, capacity: values.count + 8) + offset
            base.initialize(from: values, count: values.count)
        }
        func values(_ count: Int) -> [T] { Array(UnsafeBufferPointer(start: base, count: count)) }
        deinit { raw.deallocate() }
    }

    @Test("A^T X (double and float32 A) matches a triple loop and gives the same bits at every offset of A and X",
          arguments: [(296, 70), (301, 70), (1024, 20), (37, 66), (5, 64)])
    func transposedProduct(rows: Int, columns: Int) throws {
        for nrhs in [1, 2, 3, 4, 5, 6, 10, 16] {
            let a = Fixtures.gaussian(rows, columns, seed: 51), x = Fixtures.gaussian(rows, nrhs, seed: 52)
            let a32 = try Float32Matrix(rounding: a)
            let widened = a32.widenedColumns(0..<columns)
            for level in KernelLevel.allCases where level <= .best {
                for (kind, reference) in [("double", Fixtures.naiveProduct(a.transposed, x)),
                                          ("float32", Fixtures.naiveProduct(widened.transposed, x))] {
                    var first: [Double]?
                    for offset in 0..<8 {
                        let pa = Placed(a.elements, offset: offset), pa32 = Placed(a32.elements, offset: offset)
                        let px = Placed(x.elements, offset: (offset * 5 + 3) % 8)
                        let py = Placed([Double](repeating: 0, count: columns * nrhs), offset: (offset + 1) % 8)
                        if kind == "double" {
                            muso_panel_tn(level.rawValue, rows, columns, nrhs, pa.base, rows, px.base, rows, py.base, columns)
                        } else {
                            muso_panel_tn_f32(level.rawValue, rows, columns, nrhs, pa32.base, rows, px.base, rows, py.base, columns)
                        }
                        let y = py.values(columns * nrhs)
                        let got = try Matrix(rows: columns, columns: nrhs, elements: y)
                        #expect(try Matrix.relativeDistance(got, reference) < 1e-14,
                                "\(kind) \(rows) x \(columns), \(nrhs) rhs, level \(level.name), offset \(offset)")
                        if let first {
                            let same = y == first   // a Bool: a failure names the case, not 4000 numbers
                            #expect(same, "\(kind) \(rows) x \(columns), \(nrhs) rhs, level \(level.name): offset \(offset) changes the sums")
                        } else {
                            first = y
                        }
                    }
                }
            }
        }
    }

    @Test("A Y (double and float32 A) matches a triple loop and gives the same bits at every offset of A and Out",
          arguments: [(296, 40), (301, 17), (64, 3), (31, 5)])
    func product(rows: Int, columns: Int) throws {
        for nrhs in [1, 4, 10] {
            let a = Fixtures.gaussian(rows, columns, seed: 53), y = Fixtures.gaussian(columns, nrhs, seed: 54)
            let start = Fixtures.gaussian(rows, nrhs, seed: 55)
            let a32 = try Float32Matrix(rounding: a)
            let widened = a32.widenedColumns(0..<columns)
            for level in KernelLevel.allCases where level <= .best {
                for (kind, product) in [("double", Fixtures.naiveProduct(a, y)), ("float32", Fixtures.naiveProduct(widened, y))] {
                    let reference = try start + product
                    var first: [Double]?
                    for offset in 0..<8 {
                        let pa = Placed(a.elements, offset: offset), pa32 = Placed(a32.elements, offset: offset)
                        let py = Placed(y.elements, offset: (offset + 3) % 8)
                        let po = Placed(start.elements, offset: (offset * 3 + 1) % 8)
                        if kind == "double" {
                            muso_panel_nn(level.rawValue, rows, columns, nrhs, pa.base, rows, py.base, columns, po.base, rows)
                        } else {
                            muso_panel_nn_f32(level.rawValue, rows, columns, nrhs, pa32.base, rows, py.base, columns, po.base, rows)
                        }
                        let out = po.values(rows * nrhs)
                        #expect(try Matrix.relativeDistance(Matrix(rows: rows, columns: nrhs, elements: out), reference) < 1e-14,
                                "\(kind) \(rows) x \(columns), \(nrhs) rhs, level \(level.name), offset \(offset)")
                        if let first {
                            let same = out == first
                            #expect(same, "\(kind) \(rows) x \(columns), \(nrhs) rhs, level \(level.name): offset \(offset) changes the sums")
                        } else {
                            first = out
                        }
                    }
                }
            }
        }
    }
}

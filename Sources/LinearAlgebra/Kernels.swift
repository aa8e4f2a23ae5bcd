import Dispatch
import Foundation
internal import _CKernels

/// The instruction-set levels the C kernels (`_CKernels`) are compiled for,
/// in increasing width: the build's baseline (SSE2 on x86-64), AVX2 with
/// FMA, AVX-512F. The widest the CPU has is used unless a caller asks for
/// less (the tests run every level against an independent oracle).
package enum KernelLevel: Int32, CaseIterable, Comparable, Sendable {
    case baseline = 0, avx2FMA = 1, avx512 = 2

    /// The widest level this CPU runs.
    package static let best = KernelLevel(rawValue: muso_isa_level()) ?? .baseline

    package static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// "baseline", "AVX2+FMA" or "AVX-512F", for reports.
    package var name: String {
        switch self {
        case .baseline: "baseline"
        case .avx2FMA: "AVX2+FMA"
        case .avx512: "AVX-512F"
        }
    }
}

/// Pointers that cross into `concurrentPerform` bodies; each body writes a
/// disjoint part (or its own buffer). Shared with the other modules of the
/// package (`package` access), which split elementwise work the same way.
package struct KernelPointer: @unchecked Sendable {
    package let base: UnsafeMutablePointer<Double>
    package init(base: UnsafeMutablePointer<Double>) { self.base = base }
}

package struct KernelConstPointer: @unchecked Sendable {
    package let base: UnsafePointer<Double>
    package init(base: UnsafePointer<Double>) { self.base = base }
}

package enum KernelThreads {
    /// The cores the memory-bound kernels split their work over.
    package static let count = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Runs `body` on `parts` contiguous ranges of 0..<count of equal length
    /// (the last may be shorter; empty ones are skipped), concurrently.
    package static func forEachPart(of count: Int, parts: Int, _ body: @Sendable (Range<Int>) -> Void) {
        forEachIndexedPart(of: count, parts: parts) { _, range in body(range) }
    }

    /// `forEachPart` with each range's index among the parts (0..<parts).
    package static func forEachIndexedPart(of count: Int, parts: Int, _ body: @Sendable (Int, Range<Int>) -> Void) {
        let parts = max(1, parts), size = (count + parts - 1) / parts
        if parts == 1 { if count > 0 { body(0, 0..<count) }; return }
        DispatchQueue.concurrentPerform(iterations: parts) { t in
            let lo = min(count, t * size), hi = min(count, lo + size)
            if lo < hi { body(t, lo..<hi) }
        }
    }

    /// Runs `body` on column panels of 0..<columns for a `tn` panel kernel
    /// (C[:, J] = A[:, J]^T B): one part per thread but none narrower than
    /// 64 columns, so each thread streams its own columns of A once.
    package static func forEachColumnPanel(of columns: Int, threads: Int, _ body: @Sendable (Range<Int>) -> Void) {
        forEachPart(of: columns, parts: min(threads, columns / 64), body)
    }

    /// Runs `body` on row ranges of 0..<rows for an `nn` panel kernel
    /// (Out[I, :] = A[I, :] Y): one range per thread but none under 256 rows,
    /// each a multiple of 32 rows (the kernel's register block) but the last.
    package static func forEachRowBlock(of rows: Int, threads: Int, _ body: @Sendable (Range<Int>) -> Void) {
        let parts = min(max(1, threads), max(1, rows / 256))
        let size = ((rows + parts - 1) / parts + 31) / 32 * 32
        forEachPart(of: (rows + size - 1) / size, parts: parts) { blocks in
            let lo = blocks.lowerBound * size, hi = min(rows, blocks.upperBound * size)
            if lo < hi { body(lo..<hi) }
        }
    }

    /// Splits the columns 0..<n of a lower triangle into `parts` contiguous
    /// ranges holding about the same number of entries (column c holds
    /// n - c): boundary t sits at n (1 - sqrt(1 - t / parts)).
    static func equalAreaColumns(_ n: Int, parts: Int) -> [Range<Int>] {
        var bounds = [0]
        for t in 1..<max(parts, 1) {
            let b = Int((Double(n) * (1 - (1 - Double(t) / Double(parts)).squareRoot())).rounded())
            bounds.append(min(max(b, bounds.last!), n))
        }
        bounds.append(n)
        return zip(bounds, bounds.dropFirst()).map { $0..<$1 }
    }
}

/// Triangular solves with a few right-hand sides, blocked so that the
/// rectangular bulk of L goes through the panel kernels on every core and
/// only the diagonal blocks through BLAS's sequential `dtrsm`.
///
/// Forward (`transposed == false`), L[s:, s:] Y = B[s:] in place, right-
/// looking: for each block J of `solveBlock` rows, Y_J = L_JJ^{-1} B_J, then
/// B[below] -= L[below, J] Y_J (`muso_panel_nn`, the rows split among the
/// cores). Backward (`transposed == true`), L^T X = B on all n rows, from
/// the bottom: B_J -= L[below, J]^T X[below] (`muso_panel_tn`, the columns
/// of J split among the cores), then X_J = L_JJ^{-T} B_J.
/// Each reads the lower triangle (from row s) once: (n - s)^2 nrhs flops.
/// OpenBLAS's `dtrsv` and `dtrsm` run these shapes on one core (at
/// n = 16000, one right-hand side: 0.06-0.13 s for the pair of solves).
enum BlockedTriangularSolve {
    static let solveBlock = 256
    /// The forward sweep splits a block's update of the rows below it over
    /// the cores from this many rows per core on. On an AMD EPYC (Zen 5, 2
    /// cores, medians of 41, positions at random) against 1024: n = 4000,
    /// k = 100 0.0088 s against 0.0107; n = 2000, k = 200 0.0053 against
    /// 0.0068; n = 2000, k = 20 0.0013 against 0.0015; n = 1000 the same
    /// (128 rows: within noise of 256).
    static let forwardPartRows = 256

    /// - Parameter columnStarts: forward only: for each right-hand side (in
    ///   order, nondecreasing), the first row where it may be nonzero. A
    ///   column is zero above its start, so its solution is too, and a block
    ///   of rows above a column's start leaves it unchanged: each block
    ///   works on the columns that have started by its last row only. For
    ///   the columns of the identity at spread positions this does about a
    ///   third of the flops of solving every column from `s`.
    static func run(n: Int, l: UnsafePointer<Double>, ld: Int, from s: Int, x: UnsafeMutablePointer<Double>,
                    ldx: Int, nrhs: Int, transposed: Bool, columnStarts: [Int]? = nil, level: KernelLevel? = nil,
                    threads: Int = KernelThreads.count) throws(LinearAlgebraError) {
        if n <= s || nrhs == 0 { return }
        let lvl = level?.rawValue ?? -1, b = solveBlock
        let lp = KernelConstPointer(base: l), xp = KernelPointer(base: x)
        var panel = [Double](repeating: 0, count: b * nrhs)
        if !transposed {
            var j = s, active = 0
            while j < n {
                let w = min(b, n - j), below = n - j - w
                if let starts = columnStarts {
                    while active < nrhs && starts[active] < j + w { active += 1 }
                } else {
                    active = nrhs
                }
                if active == 0 { j += w; continue }
                try dtrsm(transL: false, m: w, n: active, l: l + j + j * ld, ldl: ld, b: x + j, ldb: ldx)
                if below > 0 {
                    for k in 0..<active { for i in 0..<w { panel[i + k * w] = -x[j + i + k * ldx] } }
                    panel.withUnsafeBufferPointer { py in
                        let y = KernelConstPointer(base: py.baseAddress!), j = j, active = active
                        KernelThreads.forEachPart(of: below, parts: min(threads, below / BlockedTriangularSolve.forwardPartRows)) { r in
                            muso_panel_nn(lvl, r.count, w, active, lp.base + (j + w + r.lowerBound) + j * ld, ld,
                                          y.base, w, xp.base + j + w + r.lowerBound, ldx)
                        }
                    }
                }
                j += w
            }
        } else {
            var end = n
            while end > 0 {
                let j = max(0, end - b), w = end - j, below = n - end
                if below > 0 {
                    for i in 0..<(w * nrhs) { panel[i] = 0 }
                    panel.withUnsafeMutableBufferPointer { py in
                        let y = KernelPointer(base: py.baseAddress!), end = end
                        KernelThreads.forEachPart(of: w, parts: min(threads, w / 16)) { c in
                            muso_panel_tn(lvl, below, c.count, nrhs, lp.base + end + (j + c.lowerBound) * ld, ld,
                                          xp.base + end, ldx, y.base + c.lowerBound, w)
                        }
                    }
                    for k in 0..<nrhs { for i in 0..<w { x[j + i + k * ldx] -= panel[i + k * w] } }
                }
                try dtrsm(transL: true, m: w, n: nrhs, l: l + j + j * ld, ldl: ld, b: x + j, ldb: ldx)
                end = j
            }
        }
    }
}

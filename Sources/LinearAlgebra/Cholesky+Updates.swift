import Dispatch
import Foundation
internal import _CKernels

extension Cholesky {
    /// How `delete(indices:)` re-triangularises the factor.
    public enum DeletionMethod: Sendable {
        /// Givens rotations for one index, the rank-k update up to
        /// `rankUpdateLimit` (128) indices (any number up to order
        /// `rankUpdateOrder`, 2000), the blocked LQ beyond. Measured on two
        /// machines of this kind (random positions, the same for both
        /// methods against Givens; docs/performance.md, "Deletion methods
        /// on two machines"):
        /// - Intel Xeon, 2 vCPUs (session 15, rank update on one core where
        ///   it was faster): n = 8000, k = 4 rank update 0.039-0.058 s
        ///   against Givens' 0.068-0.082 s, k = 6 0.064-0.078 / 0.070-0.091
        ///   s; k = 100 0.25-0.35 s against the LQ's 0.25-0.34 s.
        /// - AMD EPYC (Zen 5), 2 cores (session 16, rank update on both):
        ///   n = 8000, k = 1 a tie with Givens, k = 2 0.004-0.021 against
        ///   0.003-0.032 s, k = 4 0.010-0.023 / 0.020-0.054 s, k = 6
        ///   0.017-0.024 / 0.042-0.066 s; against the LQ k = 100 0.06-0.17
        ///   / 0.17-0.33 s, k = 300 0.18-0.35 / 0.30-0.45 s, k = 500
        ///   0.30-0.32 / 0.41-0.49 s, k = 800 0.65-1.07 / 0.55-0.97 s;
        ///   n = 16000, k = 400 1.36-1.49 / 1.56-1.90 s.
        /// The limit of 128 is below the second machine's crossover (~600
        /// at n = 8000) and above the first's (~100 on one core), where it
        /// costs at most ~1.3x on the deletion step.
        case automatic
        /// One sweep of Givens rotations per index: O(n^2) memory-bound work
        /// per index, so O(n^2 k) with k passes over the factor.
        case givens
        /// One blocked LQ of the trailing part, row panel by row panel, each
        /// with only the deleted columns that reach it (`dtplqt` on the
        /// panel, its block reflector applied below by GEMMs): ~(2/3) k m^2
        /// flops for evenly spread positions (at most 2 k m^2), m the order
        /// after the first deleted index.
        case blockedLQ
        /// The same trailing block reduced by Givens rotations as a rank-k
        /// update in one pass: row tiles of 256 rows, top to bottom, each
        /// sweeping the columns to its left with their k rotations (its
        /// rows in vector registers, its slice of the deleted columns in
        /// cache), the tiles pipelined over the cores (`muso_rank_delete`),
        /// the retained columns moved into place in the same pass.
        /// The trailing triangle is read and written once whatever k, and
        /// ~3 k' m^2 flops (k' the mean number of deleted positions above a
        /// row) run from registers.
        case rankUpdate
    }

    /// Deletes the rows and columns `indices` of K from the factor, in place:
    /// afterwards L L^T equals K with those rows and columns removed, and L is
    /// again lower triangular with positive diagonal (so it equals the factor
    /// a fresh `dpotrf` of the reduced matrix would give, up to rounding).
    ///
    /// Mathematics: with S the retained and F the deleted positions, the
    /// retained rows of L give K_SS = L_SS L_SS^T + L_SF L_SF^T, where L_SS is
    /// lower triangular. Any orthogonal Q with [L_SS L_SF] = [L' 0] Q yields
    /// the factor: L' L'^T = K_SS. Rows of S before the first deleted index
    /// have L_SF = 0 and are left as they are.
    /// - `givens`: for one index j, L_SS has one superdiagonal entry in each
    ///   row i >= j; rotations of columns (i, i+1) zero them. Indices are
    ///   removed from the largest down so the others keep their positions.
    /// - `blockedLQ`: the trailing block [A B] (A lower triangular, B the
    ///   deleted columns) is reduced row panel by row panel, each with the
    ///   deleted columns active in it, by LAPACK `dtplqt` (Householder
    ///   reflectors in compact-WY panels), then columns whose diagonal came
    ///   out negative are negated (L D D L^T = L L^T for D = diag(+-1)).
    /// Both are backward stable (orthogonal transformations only).
    ///
    /// - Parameters:
    ///   - indices: zero-based positions in 0..<order, distinct.
    ///   - method: `.givens`, `.blockedLQ`, `.rankUpdate`, or `.automatic`
    ///     (Givens up to `givensLimit` indices, the rank-k update up to
    ///     `rankUpdateLimit` or at orders up to `rankUpdateOrder`, the
    ///     blocked LQ beyond).
    /// - Throws: `invalidArgument` for an index out of range or repeated (the
    ///   factor is left unchanged); `notPositiveDefinite` if a rotation meets
    ///   an exactly zero pair (only possible for a singular K). The deletion
    ///   runs in place, so after that error the factor is partly
    ///   re-triangularised and must be discarded (refactorise, or delete
    ///   from a copy when the factor must survive a failure).
    /// - Complexity: with j the smallest index and m = n - j: `givens`
    ///   O(n m + m^2) memory-bound per index; `blockedLQ` O(n m) data movement
    ///   plus ~(2/3) k m^2 flops (positions spread evenly; at most 2 k m^2) at
    ///   level-3 speed. No refactorisation (n^3 / 3).
    public mutating func delete(indices: some Collection<Int>,
                                method: DeletionMethod = .automatic) throws(LinearAlgebraError) {
        // Sorted as a concrete [Int]: the generic collection's sort, not
        // specialised across the module boundary, allocated twice per
        // comparison (~5200 allocations for 100 indices).
        var sorted = Array(indices)
        sorted.sort(by: >)
        for (a, b) in zip(sorted, sorted.dropFirst()) where a == b {
            throw .invalidArgument(operation: "Cholesky.delete", detail: "index \(a) is repeated")
        }
        if let bad = sorted.first(where: { $0 < 0 || $0 >= order }) {
            throw .invalidArgument(operation: "Cholesky.delete", detail: "index \(bad) out of 0..<\(order)")
        }
        if sorted.isEmpty { return }
        knownOneNorm = nil
        var chosen = method
        if method == .automatic {
            chosen = sorted.count <= Self.givensLimit ? .givens
                : sorted.count <= Self.rankUpdateLimit || order <= Self.rankUpdateOrder ? .rankUpdate : .blockedLQ
        }
        let task = "deleting \(sorted.count) rows from the factor (order \(order))"
        if chosen == .blockedLQ {
            try WorkProgress.step(task) { () throws(LinearAlgebraError) in try deleteBlocked(ascending: sorted.reversed()) }
        } else if chosen == .rankUpdate {
            try WorkProgress.step(task) { () throws(LinearAlgebraError) in try deleteByRankUpdate(ascending: sorted.reversed(), level: nil) }
        } else {
            for (done, j) in sorted.enumerated() {
                if sorted.count > 1 { WorkProgress.report(task, completed: done, total: sorted.count, unit: "rows") }
                try deleteOne(j)
            }
            if sorted.count > 1 { WorkProgress.report(task, completed: sorted.count, total: sorted.count, unit: "rows") }
        }
    }

    /// What `compactDeleting` leaves for the trailing block's update.
    private struct TrailingBlock {
        /// The first deleted position, and mt = m - first.
        let first: Int, mt: Int
        /// B's leading dimension, and where its first element sits in `b`.
        let ldb: Int, offset: Int
        /// For a caller that moves the trailing columns itself: each retained
        /// column's source and the row runs (triples: source row, destination
        /// row, count), counted from `first`; empty otherwise.
        let sources: [Int], runs: [Int]
    }

    /// Steps 1 and 2 of both trailing-block methods: B = L[tail, F] into `b`
    /// (mt x k, zero above each deleted column's diagonal), then the retained
    /// rows and columns compacted into the leading m x m block. With
    /// `trailing` false the columns from the first deleted position on are
    /// left for the caller (the rank-k update gathers them in its own pass).
    /// Either way the caller then clears what lies beyond the new order
    /// (`clearBeyond`).
    private static func compactDeleting(_ deleted: [Int], order n: Int, leadingDimension ld: Int,
                                        base: UnsafeMutablePointer<Double>, b: inout [Double],
                                        threads: Int = KernelThreads.count, trailing: Bool = true) -> TrailingBlock {
        let k = deleted.count, m = n - k
        let first = deleted[0]
        // Original indices of the retained positions first..<m.
        var isDeleted = [Bool](repeating: false, count: n)
        for f in deleted { isDeleted[f] = true }
        let tail = (first..<n).filter { !isDeleted[$0] }
        let mt = tail.count  // == m - first
        // Without `trailing` (the rank-k update's row tiles), each column of
        // B starts on a 64-byte line and has a multiple of 8 rows, so tiles
        // of 256 rows never share a line of B: two cores rotating the rows
        // on either side of a tile boundary wrote the same line at every
        // column (k = 20 and 56 at n = 8000 ran slower on two cores than on
        // one).
        let ldb = trailing ? mt : (mt + 7) / 8 * 8
        b = [Double](repeating: 0, count: max(ldb * k, 1) + (trailing ? 0 : 8))
        let offset = trailing ? 0 : b.withUnsafeBufferPointer { (64 - Int(bitPattern: $0.baseAddress!) % 64) % 64 / 8 }
        // 1. B = L[tail, F] (zero above each deleted column's diagonal): for
        //    the deleted column f, the retained rows after f, tail[r0...]
        //    with r0 the first r where tail[r] > f (tail ascends). Unchecked
        //    accesses, as the loop is the request's per-entry cost: r < mt =
        //    tail.count <= ldb and j < k, so offset + r + j ldb < offset +
        //    ldb k <= b.count (offset is 0 with `trailing`; without, it is
        //    below 8 and b has 8 entries more); tail[r] < n <= ld rows of
        //    the column f.
        b.withUnsafeMutableBufferPointer { pb in
            tail.withUnsafeBufferPointer { pt in
                let dst = pb.baseAddress! + offset
                var r0 = 0
                for (j, f) in deleted.enumerated() {   // ascending
                    while r0 < mt && pt[r0] < f { r0 += 1 }
                    let col = base + f * ld, out = dst + j * ldb
                    for r in r0..<mt { out[r] = col[pt[r]] }
                }
            }
        }
        // 2. Compact the retained rows and columns into the leading m x m
        //    block. Every write goes to a position at or before the one it
        //    reads, in increasing order, so the copy can be done in place.
        //    The retained rows from `first` on form runs (between deleted
        //    rows), each moved up by the deleted rows above it: one memmove
        //    per run and column.
        var runs: [(source: Int, destination: Int, count: Int)] = []   // rows
        var r = 0
        while r < mt {
            var e = r + 1
            while e < mt && tail[e] == tail[e - 1] + 1 { e += 1 }
            runs.append((tail[r], first + r, e - r))
            r = e
        }
        // Columns before `first`: only their rows move (in place, per column;
        // the columns are independent, so they are split over the cores).
        let left = KernelPointer(base: base), leftRuns = runs
        KernelThreads.forEachPart(of: first, parts: max(1, min(KernelThreads.count, first * (n - first) / (1 << 16)))) { columns in
            for c in columns {
                let col = left.base + c * ld
                for run in leftRuns { (col + run.destination).update(from: col + run.source, count: run.count) }
                (col + m).update(repeating: 0, count: n - m)
            }
        }
        guard trailing else {
            return TrailingBlock(first: first, mt: mt, ldb: ldb, offset: offset, sources: tail.map { $0 - first },
                                 runs: runs.flatMap { [$0.source - first, $0.destination - first, $0.count] })
        }
        // Retained columns from `first` on: column tail[t] moves to first + t,
        // its rows from tail[t] on (the part on or below the diagonal), the
        // rows split over the cores (`muso_compact_trailing`).
        let flatRuns = runs.flatMap { [$0.source, $0.destination, $0.count] }
        tail.withUnsafeBufferPointer { pt in
            flatRuns.withUnsafeBufferPointer { pr in
                muso_compact_trailing(threads, base, ld, first, n, pt.baseAddress!, mt, pr.baseAddress!, runs.count)
            }
        }
        return TrailingBlock(first: first, mt: mt, ldb: ldb, offset: offset, sources: [], runs: [])
    }

    /// Zeroes what lies outside the new order m once the trailing columns
    /// are in place: rows m..<n of the columns first..<m (the columns before
    /// `first` are cleared by `compactDeleting`), and the columns m..<n.
    private static func clearBeyond(order m: Int, first: Int, n: Int, leadingDimension ld: Int,
                                    base: UnsafeMutablePointer<Double>) {
        for c in first..<m { (base + m + c * ld).update(repeating: 0, count: n - m) }
        for c in m..<n { (base + c * ld).update(repeating: 0, count: n) }
    }

    /// The blocked LQ of the trailing block [A B], row panel by row panel,
    /// each panel with only the deleted columns that reach it (the staircase
    /// of B): column q of B = L[tail, f_q] is zero above tail row s_q = f_q -
    /// first - q, and stays zero there until a panel reaches s_q, because a
    /// panel's reflectors combine A's panel columns with the B columns
    /// active in its rows only. Each panel: `dtplqt` of [A_pp B_p,active]
    /// (ib rows, Householder reflectors of length 1 + active), then its
    /// block reflector applied to every row below by `dtprfb` (two GEMMs and
    /// a TRMM). With the deleted positions spread evenly, the active count
    /// grows linearly down the block, so the work is ~(2/3) k mt^2 flops
    /// against 2 k mt^2 for one `dtplqt` of the whole of B.
    mutating func deleteBlocked(ascending deleted: [Int], threads: Int = KernelThreads.count) throws(LinearAlgebraError) {
        let n = order, ld = leadingDimension, k = deleted.count, m = n - k
        var b: [Double] = []
        try storage.withUnsafeMutableBufferPointer { (p) throws(LinearAlgebraError) in
            let base = p.baseAddress!
            let block = Self.compactDeleting(deleted, order: n, leadingDimension: ld, base: base, b: &b, threads: threads)
            let first = block.first, mt = block.mt
            Self.clearBeyond(order: m, first: first, n: n, leadingDimension: ld, base: base)
            guard mt > 0 else { return }
            let mb = min(mt, Self.lqPanel)
            // Start row of each deleted column in B (nondecreasing in q).
            let start = deleted.enumerated().map { q, f in f - first - q }
            var tFactor = [Double](repeating: 0, count: mb * mb)
            var work = [Double](repeating: 0, count: max(mb * mt, 1))
            let a = base + first + first * ld
            try b.withUnsafeMutableBufferPointer { (pb) throws(LinearAlgebraError) in
                let bb = pb.baseAddress!
                var c0 = 0, active = 0
                while c0 < mt {
                    let ib = min(mb, mt - c0), below = mt - c0 - ib
                    while active < k && start[active] < c0 + ib { active += 1 }
                    if active > 0 {
                        try dtplqt(m: ib, n: active, l: 0, mb: ib, a: a + c0 + c0 * ld, lda: ld, b: bb + c0, ldb: mt,
                                   t: &tFactor, ldt: mb, work: &work)
                        if below > 0 {
                            try Self.applyPanelReflector(rows: below, active: active, width: ib, v: bb + c0, ldv: mt,
                                                         t: tFactor, ldt: mb, a: a + (c0 + ib) + c0 * ld, lda: ld,
                                                         b: bb + c0 + ib, ldb: mt, work: &work)
                        }
                    }
                    c0 += ib
                }
            }
            for c in 0..<mt {
                let col = a + c * ld
                let d = col[c]
                guard d != 0, d.isFinite else {
                    throw .notPositiveDefinite(routine: "Cholesky.delete", order: first + c + 1)
                }
                if d < 0 { for r in c..<mt { col[r] = -col[r] } }
            }
        }
        order = m
    }

    /// [A B] <- [A B] H for one panel's block reflector H = I - [I V]^T T
    /// [I V] (`dtprfb` with side R, forward, rowwise, l = 0): W = (A + B
    /// V^T) T, A -= W, B -= W V, for the rows below the panel (A: their
    /// `width` panel columns, B: their `active` deleted columns). The same
    /// BLAS calls as LAPACK's `dtprfb`, but A is copied into W by memcpy and
    /// W subtracted from A with the rows split over the cores (LAPACK's two
    /// element loops ran on one core and took most of the deletion's time:
    /// 0.2 of 0.3 s at n = 8000 for k = 10 and 100).
    private static func applyPanelReflector(rows: Int, active: Int, width: Int, v: UnsafePointer<Double>, ldv: Int,
                                            t: UnsafePointer<Double>, ldt: Int, a: UnsafeMutablePointer<Double>, lda: Int,
                                            b: UnsafeMutablePointer<Double>, ldb: Int,
                                            work: UnsafeMutablePointer<Double>) throws(LinearAlgebraError) {
        let pa = KernelPointer(base: a), pw = KernelPointer(base: work)
        let parts = max(1, min(KernelThreads.count, rows * width / (1 << 14)))
        KernelThreads.forEachPart(of: rows, parts: parts) { r in
            for c in 0..<width {
                (pw.base + r.lowerBound + c * rows).update(from: pa.base + r.lowerBound + c * lda, count: r.count)
            }
        }
        try dgemm(transA: false, transB: true, m: rows, n: width, k: active, alpha: 1, a: b, lda: ldb,
                  b: v, ldb: ldv, beta: 1, c: work, ldc: rows)
        try dtrmmRightUpper(m: rows, k: width, t: t, ldt: ldt, b: work, ldb: rows)
        KernelThreads.forEachPart(of: rows, parts: parts) { r in
            for c in 0..<width {
                let dst = pa.base + c * lda, src = pw.base + c * rows
                for i in r { dst[i] -= src[i] }
            }
        }
        try dgemm(transA: false, transB: false, m: rows, n: active, k: width, alpha: -1, a: work, lda: rows,
                  b: v, ldb: ldv, beta: 1, c: b, ldc: ldb)
    }

    /// Rows per panel of the blocked LQ.
    static let lqPanel = 64

    /// Deletes the ascending positions `deleted` by a rank-k Givens update of
    /// the trailing block: with A the compacted retained trailing block
    /// (lower triangular, mt x mt) and B = L[tail, F] (mt x k), rotations of
    /// the column pairs (A_c, B_q) zero B row by row (for c = 0 .. mt-1,
    /// q = 0 .. k-1, chosen from (A_cc, B_cq)), so that [A B] Q = [A' 0] and
    /// A' A'^T = A A^T + B B^T, the trailing block of K_RR. Column q of B is
    /// zero above row f_q - first - q and its rotations there are the
    /// identity, so they are skipped. The C kernel (`muso_rank_delete`)
    /// runs row tiles top to bottom as a pipeline over the cores: a tile
    /// sweeps the columns to its left with their published rotations (its
    /// slice of B in cache, its rows in vector registers), then fixes its
    /// own columns' rotations. Each tile moves its rows of a column into
    /// the compacted place just before rotating them, so A is compacted in
    /// the same pass (the retained columns left of `first` are moved
    /// before, by `compactDeleting`). The diagonal stays positive (each
    /// rotation makes A_cc = hypot(A_cc, B_cq)).
    /// - Parameter requested: cores for the kernel; by default all of them.
    ///   Measured (random positions, one core / two): on AMD EPYC (Zen 5,
    ///   32 MB L3; session 16) two cores won at every size, n = 8000 k = 10
    ///   0.025-0.038 / 0.014-0.022 s, k = 56 0.092-0.137 / 0.050-0.060 s,
    ///   k = 100 0.14-0.20 / 0.086-0.104 s, n = 16000 (1 GB of triangle)
    ///   k = 56 0.42-0.45 / 0.21-0.23 s. On an Intel Xeon (105 MB L3;
    ///   session 15) two cores lost by up to 1.3x where the triangle did not
    ///   fit in L3 and k > 12 (n = 8000, k = 56: 0.184-0.188 / 0.230-0.243
    ///   s), for a reason not found. The rule that followed from it (one
    ///   core beyond the last-level cache) did not hold on the second
    ///   machine, where two cores win 2x at 8x the L3, and was dropped.
    /// - Complexity: ~3 k' mt^2 flops, k' the mean number of deleted
    ///   positions above a row (k / 2 for spread positions, at most k); the
    ///   trailing triangle read and written once (compaction included), B
    ///   once per tile of 256 rows.
    mutating func deleteByRankUpdate(ascending deleted: [Int], level: KernelLevel?,
                                     threads requested: Int? = nil) throws(LinearAlgebraError) {
        let n = order, k = deleted.count, m = n - k, ld = leadingDimension, lvl = level?.rawValue ?? -1
        guard k >= 1 else { return }
        let threads = requested ?? KernelThreads.count
        var b: [Double] = []
        try storage.withUnsafeMutableBufferPointer { (p) throws(LinearAlgebraError) in
            let base = p.baseAddress!
            let block = Self.compactDeleting(deleted, order: n, leadingDimension: ld, base: base, b: &b,
                                             threads: threads, trailing: false)
            let first = block.first, mt = block.mt
            // Row of B where column q's staircase starts (non-decreasing: f ascending).
            let stair = deleted.enumerated().map { q, f in f - first - q }
            var rotations = [Double](repeating: 0, count: max(2 * mt * k, 1))
            let tile = Int(MUSO_RANK_DELETE_TILE)
            var counts = [Int](repeating: 0, count: Int(MUSO_RANK_DELETE_COUNT_STRIDE) * max((mt + tile - 1) / tile, 1))
            let failed = b.withUnsafeMutableBufferPointer { pb in
                stair.withUnsafeBufferPointer { ps in
                    rotations.withUnsafeMutableBufferPointer { pr in
                        block.sources.withUnsafeBufferPointer { psrc in
                            block.runs.withUnsafeBufferPointer { pruns in
                                muso_rank_delete(lvl, threads, mt, k, base + first + first * ld, ld, pb.baseAddress! + block.offset,
                                                 block.ldb, ps.baseAddress!, pr.baseAddress!, psrc.baseAddress, pruns.baseAddress,
                                                 block.runs.count / 3, &counts)
                            }
                        }
                    }
                }
            }
            if failed != 0 { throw .notPositiveDefinite(routine: "Cholesky.delete", order: first + failed) }
            Self.clearBeyond(order: m, first: first, n: n, leadingDimension: ld, base: base)
        }
        order = m
    }

    /// The most indices `.automatic` deletes with Givens rotations.
    static let givensLimit = 1
    /// The most indices `.automatic` deletes with the rank-k update, and the
    /// order up to which it takes any number (see `automatic`).
    static let rankUpdateLimit = 128
    static let rankUpdateOrder = 2000

    /// Rotations per group of the one-index deletion (`muso_givens_rows`).
    static let givensGroup = 8

    /// Deletes row and column j in one pass over the trailing part.
    ///
    /// Removing row j of L leaves, in the columns i >= j, one entry above the
    /// diagonal per column (new row i - 1 of column i); the rotations of the
    /// column pairs (i, i + 1), i = j .. n - 2, each chosen to zero that entry,
    /// re-triangularise. They are applied in groups of `givensGroup`: the
    /// first rows of a group fix its rotations (scalar, O(g^2)), then every
    /// row below gets all g of them at once (`muso_givens_rows`), reading
    /// each column at its old row + 1 and writing it at the new row: the
    /// deleted row is squeezed out in the same pass. Columns before j only
    /// move their rows below j up by one (a copy, split over the cores).
    /// - Complexity: O(n m) with m = n - j: the trailing triangle read and
    ///   written once (was: once for the shift and twice for pairwise
    ///   rotations), the j x m block left of it copied once. At n = 16000:
    ///   0.05 s for j = 100 (0.16 s before), 0.02-0.05 s for larger j.
    private mutating func deleteOne(_ j: Int) throws(LinearAlgebraError) {
        try deleteOne(j, level: nil, threads: KernelThreads.count)
    }

    /// `leftEntriesPerCore`: the fewest entries of the left block a core
    /// copies (tests lower it to reach the multi-core copy at small orders).
    mutating func deleteOne(_ j: Int, level: KernelLevel?, threads: Int,
                            leftEntriesPerCore: Int = 1 << 16) throws(LinearAlgebraError) {
        let n = order, ld = leadingDimension, lvl = level?.rawValue ?? -1
        try storage.withUnsafeMutableBufferPointer { (p) throws(LinearAlgebraError) in
            let base = p.baseAddress!
            // Columns before j: rows j + 1 ..< n move up by one.
            let left = KernelPointer(base: base)
            let parts = max(1, min(threads, j * (n - j) / leftEntriesPerCore))
            DispatchQueue.concurrentPerform(iterations: parts) { t in
                for c in stride(from: t, to: j, by: parts) {
                    let col = left.base + c * ld
                    if n - j - 1 > 0 { (col + j).update(from: col + j + 1, count: n - j - 1) }
                    col[n - 1] = 0
                }
            }
            // Columns j ... n - 1: groups of rotations (i0 ..< i0 + g).
            let group = Self.givensGroup
            var cs = [Double](repeating: 0, count: group), sn = cs
            var src = [UnsafePointer<Double>?](repeating: UnsafePointer(base), count: group + 1)
            var dst = [UnsafeMutablePointer<Double>?](repeating: base, count: group + 1)
            var i0 = j
            var carryShifted = false  // column i0 already moved up (every group but the first)
            while i0 < n - 1 {
                let g = min(group, n - 1 - i0)
                // Offset of new row r in column i0 + t: old row r + shift(t).
                func shift(_ t: Int) -> Int { t == 0 && carryShifted ? 0 : 1 }
                // 1. The top rows i0 ..< i0 + g fix the rotations, one per row.
                for r in i0..<(i0 + g) {
                    let k = r - i0
                    var x = base[r + shift(0) + i0 * ld]
                    for t in 0..<k {
                        let y = base[r + 1 + (i0 + t + 1) * ld]
                        base[r + (i0 + t) * ld] = cs[t] * x + sn[t] * y
                        x = cs[t] * y - sn[t] * x
                    }
                    let b = base[r + 1 + (r + 1) * ld]
                    let h = hypot(x, b)
                    guard h > 0, h.isFinite else { throw .notPositiveDefinite(routine: "Cholesky.delete", order: r + 1) }
                    cs[k] = x / h
                    sn[k] = b / h
                    base[r + r * ld] = h
                    base[r + (r + 1) * ld] = 0
                }
                // 2. The rows below: all g rotations per row, on one core (it
                //    moves ~40 GB/s here; a second core did not help, and
                //    waking it per group cost more than it saved).
                let top = i0 + g, rows = n - 1 - top
                if rows > 0 {
                    for t in 0...g {
                        dst[t] = base + top + (i0 + t) * ld
                        src[t] = UnsafePointer(dst[t]! + shift(t))
                    }
                    muso_givens_rows(lvl, rows, g, dst, src, cs, sn)
                }
                // Row n - 1 is outside the reduced factor.
                for t in (carryShifted ? 1 : 0)...g { base[n - 1 + (i0 + t) * ld] = 0 }
                carryShifted = true
                i0 += g
            }
            // The old last column is now zero; clear it for the invariant.
            let last = base + (n - 1) * ld
            for r in 0..<n { last[r] = 0 }
        }
        order = n - 1
    }

    /// Replaces the factor of K by the factor of K - V^T V, where the rows of
    /// `v` (k x n) are the vectors removed: the rank-k downdate used when
    /// samples leave the primal matrix H = Phi^T Phi + eps I (then V = Phi_F).
    ///
    /// Mathematics: for one row x, the columns of L are updated left to right
    /// with the hyperbolic-free scheme of LINPACK `dchdd`: r = sqrt(L_jj^2 -
    /// x_j^2), c = r / L_jj, s = x_j / L_jj, L_ij <- (L_ij - s x_i) / c,
    /// x_i <- c x_i - s L_ij. It breaks down exactly when K - x x^T is not
    /// positive definite.
    ///
    /// - Throws: `dimensionMismatch` unless `v` has n columns; `nonFinite`;
    ///   `notPositiveDefinite(routine: "Cholesky.downdate", order: j)` when the
    ///   downdated matrix is not (numerically) positive definite, i.e. when
    ///   L_jj^2 - x_j^2 <= n u L_jj^2. The factor is then left unchanged.
    /// - Complexity: 3 n^2 k flops.
    public mutating func downdate(removing v: Matrix) throws(LinearAlgebraError) {
        guard v.columns == order else {
            throw .dimensionMismatch(operation: "Cholesky.downdate", detail: "\(v.rows) x \(v.columns) rows for order \(order)")
        }
        try v.checkFinite("Cholesky.downdate")
        if v.rows == 0 { return }
        var copy = storage  // transactional: commit only if every row succeeds
        let n = order, ld = leadingDimension
        let threshold = Double(n) * Double.ulpOfOne
        try copy.withUnsafeMutableBufferPointer { (p) throws(LinearAlgebraError) in
            var x = [Double](repeating: 0, count: n)
            for row in 0..<v.rows {
                for i in 0..<n { x[i] = v[row, i] }
                try x.withUnsafeMutableBufferPointer { (px) throws(LinearAlgebraError) in
                    for j in 0..<n {
                        let col = p.baseAddress! + j * ld
                        let ljj = col[j], xj = px[j]
                        let r2 = (ljj - xj) * (ljj + xj)
                        guard r2 > threshold * ljj * ljj, r2.isFinite else {
                            throw .notPositiveDefinite(routine: "Cholesky.downdate", order: j + 1)
                        }
                        let r = r2.squareRoot()
                        let c = r / ljj, s = xj / ljj
                        col[j] = r
                        if xj == 0 { continue }
                        let invc = 1 / c
                        for i in (j + 1)..<n {
                            let lij = (col[i] - s * px[i]) * invc
                            col[i] = lij
                            px[i] = c * px[i] - s * lij
                        }
                    }
                }
            }
        }
        storage = copy
        knownOneNorm = nil
    }
}

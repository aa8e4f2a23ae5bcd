import Foundation
import LinearAlgebra

/// Random Fourier features for the Gaussian kernel
/// k(x, y) = exp(-||x - y||^2 / (2 sigma^2)) (Rahimi and Recht, 2007), in the
/// cos/sin pair form:
///
///     phi_{2j}(x) = cos(w_j . x) / sqrt(D),  phi_{2j+1}(x) = sin(w_j . x) / sqrt(D),
///
/// j = 0 ..< D = M / 2, with frequencies w_j ~ N(0, sigma^{-2} I_d). Then
/// phi(x) . phi(y) = (1/D) sum_j cos(w_j . (x - y)), an unbiased estimate of
/// k(x, y) with variance O(1/D), and ||phi(x)||^2 = 1 exactly.
///
/// The frequencies are drawn once from `seed` (column j from stream j of
/// `SeededGenerator`) and kept: d x D doubles.
public struct RandomFourierFeatures: FeatureMap {
    public let inputDimension: Int
    /// M = 2 D (even).
    public let featureCount: Int
    /// sigma, the kernel bandwidth.
    public let bandwidth: Double
    public let seed: UInt64
    /// W (d x D): column j is w_j.
    public let frequencies: Matrix

    /// - Throws: `invalidArgument` unless d >= 1, M >= 2 even and sigma > 0 finite.
    /// - Complexity: O(d M) normal draws.
    public init(inputDimension d: Int, featureCount m: Int, bandwidth sigma: Double, seed: UInt64) throws {
        guard d >= 1 else { throw UnlearningError.invalidArgument("input dimension must be >= 1, got \(d)") }
        guard m >= 2, m % 2 == 0 else {
            throw UnlearningError.invalidArgument("random Fourier features come in cos/sin pairs: the feature count must be even and >= 2, got \(m)")
        }
        guard sigma > 0, sigma.isFinite else { throw UnlearningError.invalidArgument("bandwidth must be positive and finite, got \(sigma)") }
        inputDimension = d
        featureCount = m
        bandwidth = sigma
        self.seed = seed
        frequencies = gaussianColumns(rows: d, columns: m / 2, scale: 1 / sigma, seed: seed)
    }

    public var summary: String {
        "random Fourier features (Gaussian kernel, sigma = \(bandwidth)), M = \(featureCount), d = \(inputDimension), seed = \(seed)"
    }

    /// The block of Phi: one GEMM X W[:, J] (n x |J|/2 x d, multithreaded
    /// BLAS), then cos and sin of each projection from one argument reduction
    /// (`scaledSinCos`, within 2 ulp of the C library, vectorised) on all cores. For blocks
    /// of whole pairs the projection is written inside the output itself.
    /// - Complexity: O(n d |J| / 2) flops plus O(n |J|) for the pairs.
    public func features(of inputs: Matrix, columns: Range<Int>) throws -> Matrix {
        try checkBlock(inputs, columns)
        try inputs.requireFinite("the inputs")
        let n = inputs.rows
        if columns.isEmpty || n == 0 { return Matrix(rows: n, columns: columns.count) }
        let jlo = columns.lowerBound / 2, jhi = (columns.upperBound + 1) / 2
        let scale = pairScale
        let first = columns.lowerBound
        if first % 2 == 0 && columns.count % 2 == 0 {
            return try Matrix(rows: n, columns: columns.count) { out in
                try writePairedFeatures(of: inputs, frequencies: jlo..<jhi, scale: scale, into: out.baseAddress!)
            }
        }
        // Blocks that split a cos/sin pair (odd bounds): the projection goes to
        // a separate buffer, and only the requested member of an edge pair is
        // written. Every output column is written: 2f and 2f + 1 for f in
        // [jlo, jhi) cover `columns`.
        let projection = try Matrix.product(inputs, frequencies.selectingColumns(jlo..<jhi))
        return Matrix(rows: n, columns: columns.count) { out in
            let dst = KernelPointer(base: out.baseAddress!)
            projection.withUnsafeBufferPointer { pp in
                let src = KernelConstPointer(base: pp.baseAddress!)
                parallelChunks(jhi - jlo, minimumChunk: max(1, 8192 / max(n, 1))) { range in
                    for local in range {
                        let f = jlo + local
                        let cosColumn = 2 * f, sinColumn = 2 * f + 1
                        scaledSinCos(src.base + local * n, count: n, scale: scale,
                                     cos: columns.contains(cosColumn) ? dst.base + (cosColumn - first) * n : nil,
                                     sin: columns.contains(sinColumn) ? dst.base + (sinColumn - first) * n : nil)
                    }
                }
            }
        }
    }

    /// 1 / sqrt(M / 2), the factor of every cos and sin (M / 2 frequencies).
    private var pairScale: Double { 1 / Double(featureCount / 2).squareRoot() }

    /// Whole cos/sin pairs, into the n x 2|F| column-major block at `out`
    /// (uninitialised): the projection X W[:, F] is written by one GEMM into
    /// the block's second half, then each thread takes a range of rows and,
    /// frequency by frequency in increasing order, reads projection column
    /// F + l and writes output columns 2l and 2l + 1. Column 2l + 1 <= F + l,
    /// so a write never lands on a projection entry its thread has yet to
    /// read, and threads share no rows: no extra buffer, and the block's
    /// memory is touched by the GEMM and the pass only.
    private func writePairedFeatures(of inputs: Matrix, frequencies range: Range<Int>, scale: Double,
                                     into out: UnsafeMutablePointer<Double>) throws {
        let n = inputs.rows, f = range.count
        // All frequencies (a whole fit's Phi): W itself, no copy of its d x M/2.
        let w = range == 0..<frequencies.columns ? frequencies : try frequencies.selectingColumns(range)
        try Matrix.multiply(inputs, w, into: out + f * n, leadingDimension: n)
        let base = KernelPointer(base: out)
        // Long row ranges, one per core from 256 rows a core on: each column
        // segment is then a long contiguous run. (From 512, n = 1000 ran its
        // 2 M pairs on one core.)
        parallelChunks(n, minimumChunk: max(256, n / KernelThreads.count)) { rows in
            for l in 0..<f {
                let column = base.base + rows.lowerBound
                scaledSinCos(column + (f + l) * n, count: rows.count, scale: scale,
                             cos: column + (2 * l) * n, sin: column + (2 * l + 1) * n)
            }
        }
    }

    /// The kernel this map approximates, exp(-||x - y||^2 / (2 sigma^2)).
    public func kernel(_ x: [Double], _ y: [Double]) -> Double {
        var s = 0.0
        for i in 0..<min(x.count, y.count) { s += (x[i] - y[i]) * (x[i] - y[i]) }
        return exp(-s / (2 * bandwidth * bandwidth))
    }
}

/// Random ReLU features: phi_j(x) = sqrt(2 / M) max(0, w_j . x + b_j), j < M,
/// with w_j ~ N(0, sigma^{-2} I_d) and b_j ~ N(0, 1), drawn from `seed`.
/// (A one-hidden-layer network with a frozen random first layer; the factor
/// sqrt(2/M) makes phi(x) . phi(y) estimate the first-order arc-cosine kernel.)
public struct RandomReLUFeatures: FeatureMap {
    public let inputDimension: Int
    public let featureCount: Int
    /// sigma, the scale of the inputs the weights are matched to.
    public let scale: Double
    public let seed: UInt64
    /// W (d x M): column j is w_j.
    public let weights: Matrix
    /// b (M).
    public let biases: [Double]

    /// - Throws: `invalidArgument` unless d, M >= 1 and sigma > 0 finite.
    public init(inputDimension d: Int, featureCount m: Int, scale sigma: Double = 1, seed: UInt64) throws {
        guard d >= 1, m >= 1 else { throw UnlearningError.invalidArgument("input dimension and feature count must be >= 1, got d = \(d), M = \(m)") }
        guard sigma > 0, sigma.isFinite else { throw UnlearningError.invalidArgument("scale must be positive and finite, got \(sigma)") }
        inputDimension = d
        featureCount = m
        scale = sigma
        self.seed = seed
        weights = gaussianColumns(rows: d, columns: m, scale: 1 / sigma, seed: seed)
        var g = SeededGenerator(seed: seed, stream: UInt64.max)
        biases = (0..<m).map { _ in g.nextNormal() }
    }

    public var summary: String {
        "random ReLU features, M = \(featureCount), d = \(inputDimension), scale = \(scale), seed = \(seed)"
    }

    /// The block of Phi: one GEMM, then bias and ReLU on all cores
    /// (`writeFeatures` into the uninitialised result).
    /// - Complexity: O(n d |J|) flops.
    public func features(of inputs: Matrix, columns: Range<Int>) throws -> Matrix {
        try checkBlock(inputs, columns)
        let n = inputs.rows
        if columns.isEmpty || n == 0 { return Matrix(rows: n, columns: columns.count) }
        return try Matrix(rows: n, columns: columns.count) { try writeFeatures(of: inputs, columns: columns, into: $0.baseAddress!) }
    }
}

extension RandomFourierFeatures: FeatureMapWritingInPlace {
    /// Whole cos/sin pairs are generated in place (`writePairedFeatures`);
    /// a block with an odd bound is generated apart and copied.
    /// - Complexity: that of `features(of:columns:)`.
    package func writeFeatures(of inputs: Matrix, columns: Range<Int>, into destination: UnsafeMutablePointer<Double>) throws {
        guard columns.lowerBound % 2 == 0 && columns.count % 2 == 0 else {
            // `features` checks the block and the inputs.
            let block = try features(of: inputs, columns: columns)
            block.withUnsafeBufferPointer { if let p = $0.baseAddress { destination.update(from: p, count: $0.count) } }
            return
        }
        try checkBlock(inputs, columns)
        try inputs.requireFinite("the inputs")
        if columns.isEmpty || inputs.rows == 0 { return }
        try writePairedFeatures(of: inputs, frequencies: columns.lowerBound / 2..<columns.upperBound / 2,
                                scale: pairScale, into: destination)
    }
}

extension RandomReLUFeatures: FeatureMapWritingInPlace {
    /// One GEMM into the block, then bias and ReLU in place on all cores.
    /// - Complexity: that of `features(of:columns:)`.
    package func writeFeatures(of inputs: Matrix, columns: Range<Int>, into destination: UnsafeMutablePointer<Double>) throws {
        try checkBlock(inputs, columns)
        try inputs.requireFinite("the inputs")
        let n = inputs.rows
        if columns.isEmpty || n == 0 { return }
        try Matrix.multiply(inputs, weights.selectingColumns(columns), into: destination, leadingDimension: n)
        applyBiasAndReLU(columns, to: destination, rows: n)
    }

    /// d <- sqrt(2 / M) max(0, d + b_c) on every column c of the n-row
    /// block at `destination` holding the projections of `columns`.
    func applyBiasAndReLU(_ columns: Range<Int>, to destination: UnsafeMutablePointer<Double>, rows n: Int) {
        let factor = (2 / Double(featureCount)).squareRoot()
        let b = Array(biases[columns])
        let dst = KernelPointer(base: destination)
        parallelChunks(columns.count, minimumChunk: max(1, 16384 / max(n, 1))) { range in
            for c in range {
                let d = dst.base + c * n, bc = b[c]
                for i in 0..<n { d[i] = factor * max(0, d[i] + bc) }
            }
        }
    }
}

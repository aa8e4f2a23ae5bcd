import Foundation
import Testing
import LinearAlgebra
@testable import Unlearning
import TestSupport

@Suite("Feature maps")
struct FeatureMapTests {
    @Test("random Fourier features approximate the Gaussian kernel, with unit norm")
    func fourierApproximatesKernel() throws {
        let x = Fixtures.gaussian(12, 5, seed: 1, scale: 0.7)
        let map = try RandomFourierFeatures(inputDimension: 5, featureCount: 40_000, bandwidth: 1.5, seed: 3)
        let phi = try map.features(of: x)
        let k = try Matrix.product(phi, phi, transposingSecond: true)
        var worst = 0.0
        for i in 0..<12 {
            #expect(abs(k[i, i] - 1) < 1e-12)  // cos^2 + sin^2 summed over D, over D
            for j in 0..<i {
                // Closed form of the kernel, computed here, not by the map.
                var s = 0.0
                for t in 0..<5 { s += (x[i, t] - x[j, t]) * (x[i, t] - x[j, t]) }
                worst = max(worst, abs(k[i, j] - exp(-s / (2 * 1.5 * 1.5))))
            }
        }
        // Standard deviation of each entry is at most 1 / sqrt(2 D) = 0.005.
        #expect(worst < 0.03)
    }

    @Test("a column block does not depend on how the columns are split")
    func blocksAreConsistent() throws {
        let x = Fixtures.gaussian(9, 4, seed: 2)
        for map in [try RandomFourierFeatures(inputDimension: 4, featureCount: 30, bandwidth: 1, seed: 5) as any FeatureMap,
                    try RandomReLUFeatures(inputDimension: 4, featureCount: 30, seed: 5)] {
            let whole = try map.features(of: x)
            for range in [0..<7, 7..<8, 8..<23, 23..<30, 3..<4] {
                let block = try map.features(of: x, columns: range)
                #expect(try Matrix.relativeDistance(block, whole.selectingColumns(range)) < 1e-14)
            }
        }
    }

    @Test("features follow their formula entry by entry")
    func formulas() throws {
        let x = Fixtures.gaussian(6, 3, seed: 4)
        let rff = try RandomFourierFeatures(inputDimension: 3, featureCount: 10, bandwidth: 2, seed: 6)
        let relu = try RandomReLUFeatures(inputDimension: 3, featureCount: 10, scale: 1.5, seed: 6)
        let a = try rff.features(of: x), b = try relu.features(of: x)
        for i in 0..<6 {
            for j in 0..<5 {
                var dot = 0.0
                for t in 0..<3 { dot += rff.frequencies[t, j] * x[i, t] }
                #expect(abs(a[i, 2 * j] - cos(dot) / sqrt(5)) < 1e-14)
                #expect(abs(a[i, 2 * j + 1] - sin(dot) / sqrt(5)) < 1e-14)
            }
            for j in 0..<10 {
                var dot = relu.biases[j]
                for t in 0..<3 { dot += relu.weights[t, j] * x[i, t] }
                #expect(abs(b[i, j] - sqrt(2.0 / 10) * max(0, dot)) < 1e-14)
            }
        }
        // The frequencies have the advertised variance 1 / sigma^2 (statistically).
        let big = try RandomFourierFeatures(inputDimension: 50, featureCount: 2000, bandwidth: 2, seed: 7)
        let variance = big.frequencies.elements.reduce(0) { $0 + $1 * $1 } / Double(big.frequencies.elements.count)
        #expect(abs(variance - 0.25) < 0.01)
    }

    @Test("a materialised Phi, generated block by block in place, follows the formulas",
          arguments: [4, 7, 64])
    func materialisedFollowsFormulas(blockSize: Int) throws {
        let n = 9, d = 3, m = 22
        let x = Fixtures.gaussian(n, d, seed: 11)
        let rff = try RandomFourierFeatures(inputDimension: d, featureCount: m, bandwidth: 2, seed: 12)
        let relu = try RandomReLUFeatures(inputDimension: d, featureCount: m, scale: 1.5, seed: 12)
        // Every entry from its formula, computed here: cos/sin pairs of the
        // projection over sqrt(M / 2); sqrt(2 / M) max(0, w . x + b).
        func expected(_ map: any FeatureMap, _ i: Int, _ j: Int) -> Double {
            if let rff = map as? RandomFourierFeatures {
                var dot = 0.0
                for t in 0..<d { dot += rff.frequencies[t, j / 2] * x[i, t] }
                return (j % 2 == 0 ? cos(dot) : sin(dot)) / Double(m / 2).squareRoot()
            }
            var dot = relu.biases[j]
            for t in 0..<d { dot += relu.weights[t, j] * x[i, t] }
            return (2 / Double(m)).squareRoot() * max(0, dot)
        }
        for map in [rff as any FeatureMap, relu] {
            var source = try FeatureSource.generated(by: map, inputs: x)
            // 7: blocks with odd bounds (a cos/sin pair split between blocks).
            source.blockSize = blockSize
            for observed in [false, true] {
                let held = observed ? try WorkProgress.observing({ _ in }) { try source.materialize() } : try source.materialize()
                let phi = try held.rows(Array(0..<n))
                #expect(phi.rows == n && phi.columns == m)
                for i in 0..<n {
                    for j in 0..<m { #expect(abs(phi[i, j] - expected(map, i, j)) < 1e-14, "entry (\(i), \(j)), block size \(blockSize)") }
                }
            }
        }
    }

    @Test("sin and cos from one reduction stay within 2 ulp of the C library at every instruction-set level",
          arguments: [1.0, 100.0, 1e4, 8e5])
    func sinCosKernel(range: Double) throws {
        // The C library's sin/cos are the oracle (correctly rounded to within
        // an ulp). Arguments: uniform in [-range, range] plus the neighbours of
        // multiples of pi/2, where the reduction cancels most digits.
        var g = SeededGenerator(seed: UInt64(range))
        var xs = (0..<200_000).map { _ in (Double.random(in: 0..<1, using: &g) * 2 - 1) * range }
        for q in stride(from: -Swift.min(range, 1e4) / 1.57, through: Swift.min(range, 1e4) / 1.57, by: 1).prefix(20_000) {
            let x = q.rounded() * (Double.pi / 2)
            xs += [x, x.nextUp, x.nextDown, x + 1e-9]
        }
        let scale = 0.75
        let levels = KernelLevel.allCases.filter { $0 <= KernelLevel.best }
        for level in levels {
            var c = [Double](repeating: .nan, count: xs.count), s = c, cosOnly = c, sinOnly = c
            xs.withUnsafeBufferPointer { p in
                scaledSinCos(p.baseAddress!, count: xs.count, scale: scale, cos: &c, sin: &s, level: level)
                scaledSinCos(p.baseAddress!, count: xs.count, scale: scale, cos: &cosOnly, sin: nil, level: level)
                scaledSinCos(p.baseAddress!, count: xs.count, scale: scale, cos: nil, sin: &sinOnly, level: level)
            }
            var worst = 0.0
            for (i, x) in xs.enumerated() {
                for (mine, libm) in [(s[i], scale * sin(x)), (c[i], scale * cos(x))] {
                    // Error in ulps of the larger of the result and 2^-60
                    // (results near zero are judged absolutely at that scale).
                    let ulp = Swift.max(abs(libm), 0x1p-60).ulp
                    worst = Swift.max(worst, abs(mine - libm) / ulp)
                }
            }
            #expect(worst <= 2, "worst error \(worst) ulp for |x| <= \(range), level \(level)")
            #expect(cosOnly == c && sinOnly == s, "one-output calls differ from the pair, level \(level)")
            // An output may be the input itself (the last sin column of a
            // feature block overwrites its own projection).
            var inPlace = xs
            inPlace.withUnsafeMutableBufferPointer { p in
                scaledSinCos(p.baseAddress!, count: p.count, scale: scale, cos: nil, sin: p.baseAddress!, level: level)
            }
            #expect(inPlace == s, "in place differs, level \(level)")
        }
        // Beyond the fast range (or at a NaN) the C library is used.
        var out = [0.0, 0.0, 0.0], inputs = [1e7, -3e9, 0.5]
        inputs.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in scaledSinCos(p.baseAddress!, count: 3, scale: 0.5, cos: o.baseAddress!, sin: nil) }
        }
        #expect(out == [0.5 * cos(1e7), 0.5 * cos(-3e9), 0.5 * cos(0.5)])
        // At the limit the fast path still holds 2 ulp; one step beyond, the
        // C library's values come back exactly.
        for x in [fastSinCosLimit, -fastSinCosLimit] {
            var c = 0.0, s = 0.0
            withUnsafePointer(to: x) { scaledSinCos($0, count: 1, scale: 1, cos: &c, sin: &s) }
            #expect(abs(c - cos(x)) <= 2 * Swift.max(abs(cos(x)), 0x1p-60).ulp && abs(s - sin(x)) <= 2 * Swift.max(abs(sin(x)), 0x1p-60).ulp)
            let beyond = x > 0 ? x.nextUp : x.nextDown
            withUnsafePointer(to: beyond) { scaledSinCos($0, count: 1, scale: 1, cos: &c, sin: &s) }
            #expect(c == cos(beyond) && s == sin(beyond))
        }
        inputs = [.nan, 1]
        inputs.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in scaledSinCos(p.baseAddress!, count: 2, scale: 1, cos: nil, sin: o.baseAddress!) }
        }
        #expect(out[0].isNaN && out[1] == sin(1.0))
    }

    @Test("features agree across BLAS thread counts and feature block sizes")
    func threadCounts() throws {
        let x = Fixtures.gaussian(300, 20, seed: 12)
        let map = try RandomFourierFeatures(inputDimension: 20, featureCount: 600, bandwidth: 3, seed: 13)
        let one = try withBLASThreads(1) { try map.features(of: x) }
        let two = try withBLASThreads(2) { try map.features(of: x) }
        #expect(try Matrix.relativeDistance(one, two) < 1e-14)
        var source = try FeatureSource.generated(by: map, inputs: x)
        source.blockSize = 77
        let gram = try withBLASThreads(2) { try source.gram(rows: Array(0..<300)) }
        #expect(try Matrix.relativeDistance(gram, Fixtures.naiveProduct(one, one.transposed)) < 1e-13)
    }

    @Test("a seed fixes the map; another seed changes it")
    func seeds() throws {
        let x = Fixtures.gaussian(4, 3, seed: 8)
        let a = try RandomFourierFeatures(inputDimension: 3, featureCount: 8, bandwidth: 1, seed: 42).features(of: x)
        let b = try RandomFourierFeatures(inputDimension: 3, featureCount: 8, bandwidth: 1, seed: 42).features(of: x)
        let c = try RandomFourierFeatures(inputDimension: 3, featureCount: 8, bandwidth: 1, seed: 43).features(of: x)
        #expect(a == b)
        #expect(try Matrix.relativeDistance(a, c) > 0.1)
        // A map with more features extends one with fewer (column j from stream j).
        let wide = try RandomFourierFeatures(inputDimension: 3, featureCount: 16, bandwidth: 1, seed: 42)
        let narrow = try RandomFourierFeatures(inputDimension: 3, featureCount: 8, bandwidth: 1, seed: 42)
        #expect(try wide.frequencies.selectingColumns(0..<4) == narrow.frequencies)
    }

    @Test("bad parameters and inputs are refused with a message")
    func errors() throws {
        #expect(errorMessage { _ = try RandomFourierFeatures(inputDimension: 3, featureCount: 7, bandwidth: 1, seed: 0) }.contains("must be even"))
        #expect(errorMessage { _ = try RandomFourierFeatures(inputDimension: 3, featureCount: 8, bandwidth: 0, seed: 0) }.contains("bandwidth must be positive"))
        let map = try RandomFourierFeatures(inputDimension: 3, featureCount: 8, bandwidth: 1, seed: 0)
        #expect(errorMessage { _ = try map.features(of: Matrix(rows: 2, columns: 4)) }.contains("takes 3-dimensional inputs, got a 2 x 4"))
        var x = Matrix(rows: 2, columns: 3)
        x[1, 2] = .nan
        #expect(errorMessage { _ = try map.features(of: x) }.contains("row 1, column 2"))
        #expect(errorMessage { _ = try FeatureSource.generated(by: map, inputs: Matrix(rows: 2, columns: 5)) }.contains("the data has 5 columns"))
    }

    @Test("feature source products agree between held and generated features")
    func sourceProducts() throws {
        let p = try SyntheticProblem(samples: 30, features: 90, outputs: 2, seed: 9)
        let phi = try p.phi()
        let rows = [4, 0, 29, 13, 7]
        for source in [try p.source(materialized: true, blockSize: 17), try p.source(materialized: false, blockSize: 17)] {
            let sub = try phi.selectingRows(rows)
            let k = try source.gram(rows: rows, ridge: 0.5)
            var reference = Fixtures.naiveProduct(sub, sub.transposed)
            reference.addToDiagonal(0.5)
            #expect(try Matrix.relativeDistance(k, reference) < 1e-13)
            let h = try source.covariance(rows: rows, ridge: 0.25)
            var hRef = Fixtures.naiveProduct(sub.transposed, sub)
            hRef.addToDiagonal(0.25)
            #expect(try Matrix.relativeDistance(h, hRef) < 1e-13)
            let theta = Fixtures.gaussian(90, 2, seed: 10)
            #expect(try Matrix.relativeDistance(source.apply(rows: rows, to: theta), Fixtures.naiveProduct(sub, theta)) < 1e-13)
            let a = Fixtures.gaussian(5, 2, seed: 11)
            #expect(try Matrix.relativeDistance(source.applyTransposed(rows: rows, to: a), Fixtures.naiveProduct(sub.transposed, a)) < 1e-13)
        }
    }
}

import LinearAlgebra

/// A fixed feature map phi: R^d -> R^M, determined by its parameters (and
/// seed), that can produce any column block of the feature matrix Phi.
///
/// Producing blocks is what lets the engine accumulate the Gram matrix
/// K = Phi Phi^T = sum over blocks J of Phi[:, J] Phi[:, J]^T without ever
/// holding the N x M matrix Phi: memory O(N^2 + N * block).
public protocol FeatureMap: Sendable {
    /// d, the input dimension.
    var inputDimension: Int { get }
    /// M, the number of features.
    var featureCount: Int { get }
    /// The columns `columns` of Phi for the rows of `inputs` (n x d): an
    /// n x columns.count matrix whose entry (i, c) is phi_{columns[c]}(x_i).
    /// Must not depend on how the columns are split into blocks, nor on the
    /// number of threads beyond rounding.
    func features(of inputs: Matrix, columns: Range<Int>) throws -> Matrix
    /// A short description with the parameters, e.g. for logs.
    var summary: String { get }
}

/// A feature map that writes a block of Phi's columns straight into
/// column-major storage. `FeatureSource.materialize` then fills the held Phi
/// block by block (each block of columns is one contiguous run of it): no
/// intermediate block, no copy, no zero-fill.
package protocol FeatureMapWritingInPlace: FeatureMap {
    /// Writes Phi[:, columns] for the rows of `inputs` (n x d) into the
    /// n x columns.count column-major block at `destination` (leading
    /// dimension n), which may be uninitialised; every entry is written, and
    /// equals what `features(of:columns:)` returns.
    func writeFeatures(of inputs: Matrix, columns: Range<Int>, into destination: UnsafeMutablePointer<Double>) throws
}

extension FeatureMap {
    /// All M features of `inputs`: Phi (n x M).
    /// - Complexity: that of `features(of:columns:)` over 0..<M.
    public func features(of inputs: Matrix) throws -> Matrix {
        try features(of: inputs, columns: 0..<featureCount)
    }

    func checkBlock(_ inputs: Matrix, _ columns: Range<Int>) throws(UnlearningError) {
        guard inputs.columns == inputDimension else {
            throw .shapeMismatch("the feature map takes \(inputDimension)-dimensional inputs, got a \(inputs.rows) x \(inputs.columns) matrix")
        }
        guard columns.lowerBound >= 0, columns.upperBound <= featureCount else {
            throw .invalidArgument("feature columns \(columns) out of 0..<\(featureCount)")
        }
    }
}

/// Draws a d x count matrix whose column j is N(0, scale^2 I_d), column j from
/// its own stream of `seed` (so a map with more columns extends one with
/// fewer, and no column depends on another's draw).
func gaussianColumns(rows d: Int, columns count: Int, scale: Double, seed: UInt64) -> Matrix {
    var w = Matrix(rows: d, columns: count)
    w.withUnsafeMutableBufferPointer { p in
        for j in 0..<count {
            var g = SeededGenerator(seed: seed, stream: UInt64(j))
            for i in 0..<d { p[i + j * d] = scale * g.nextNormal() }
        }
    }
    return w
}

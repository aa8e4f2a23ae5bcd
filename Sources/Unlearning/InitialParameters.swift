import LinearAlgebra

/// Ways to choose theta0 (M x C), the starting point of training: the model
/// that training converges to is the solution closest to theta0, so theta0
/// is part of the model's definition and must be reproducible.
public enum InitialParameters {
    /// theta0 = 0: the minimum-norm solution itself.
    public static func zeros(features m: Int, outputs c: Int) -> Matrix {
        Matrix(rows: m, columns: c)
    }

    /// theta0 with independent N(0, standardDeviation^2) entries drawn from
    /// `seed` (column-major order, one `SeededGenerator` stream), as a network
    /// head would be initialised. With standardDeviation = 1/sqrt(M), the
    /// initial output phi(x) . theta0 has variance ||phi(x)||^2 / M, small for
    /// unit-norm features such as random Fourier features.
    /// - Complexity: O(M C) normal draws.
    public static func gaussian(features m: Int, outputs c: Int, standardDeviation: Double, seed: UInt64) -> Matrix {
        var g = SeededGenerator(seed: seed, stream: 0x7e7a0)
        return Matrix(rows: m, columns: c) { _, _ in standardDeviation * g.nextNormal() }
    }
}

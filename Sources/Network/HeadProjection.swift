import Foundation
import LinearAlgebra
import Unlearning

/// The projection of docs/design.md §3 that turns a network head into the
/// head that retraining the head alone on a set R would give:
///
///     theta_R = W0 + Pi_R (Wp - W0),   Pi_R = Z_R^T (Z_R Z_R^T + eps I)^{-1} Z_R,
///
/// Z_R the bias-augmented last-layer features of R (n x p), W0 the head at
/// initialisation, Wp the current head. Pi_R is computed in whichever form is
/// well posed: dual (n x n system) when n <= p, primal
/// Pi_R = (Z_R^T Z_R + eps I)^{-1} Z_R^T Z_R (p x p system, equal by the
/// push-through identity) when n > p; with eps = 0, by the pseudo-inverse,
/// Pi_R = Z_R^+ Z_R (the orthogonal projector onto the row space), which is
/// the identity when Z_R has full column rank. (The public reference code's
/// "Woodbury" rewrite, (eps I + eps Z Z^T)^{-1}, is not this matrix.)
public enum HeadProjection {
    /// Pi_R (p x p).
    /// - Complexity: dual O(n^2 p + n^3), primal O(n p^2 + p^3), eps = 0 O(n p min(n, p)).
    public static func projection(features z: Matrix, ridge eps: Double) throws -> Matrix {
        guard eps >= 0, eps.isFinite else { throw UnlearningError.invalidArgument("ridge must be finite and >= 0, got \(eps)") }
        try z.requireFiniteEntries("the head features")
        let n = z.rows, p = z.columns
        if eps == 0 {
            return try Matrix.minimumNormSolution(z, z).solution  // Z^+ Z
        }
        if n <= p {
            var k = Matrix(rows: n, columns: n)
            try k.addGram(of: z)
            k.symmetrizeFromLower()
            k.addToDiagonal(eps)
            let solved = try Cholesky(factoring: k).solve(z)        // (Z Z^T + eps I)^{-1} Z
            return try Matrix.product(z, solved, transposingFirst: true)
        } else {
            var h = Matrix(rows: p, columns: p)
            try h.addGram(of: z, transposing: true)
            h.symmetrizeFromLower()
            let gram = h
            h.addToDiagonal(eps)
            return try Cholesky(factoring: h).solve(gram)          // (Z^T Z + eps I)^{-1} Z^T Z
        }
    }

    /// theta_R = W0 + Pi_R (Wp - W0).
    public static func retrainedHead(initial w0: Matrix, current wp: Matrix, features z: Matrix, ridge: Double) throws -> Matrix {
        let pi = try projection(features: z, ridge: ridge)
        var out = w0
        try out.addProduct(pi, wp - w0)
        return out
    }
}

extension Matrix {
    package func requireFiniteEntries(_ what: String) throws {
        if let (i, j) = firstNonFiniteEntry { throw UnlearningError.nonFinite(what: what, row: i, column: j) }
    }
}

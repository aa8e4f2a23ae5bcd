import LinearAlgebra

/// An error of the unlearning engine. Each message says what was wrong
/// (naming the ids, rows or shapes involved) and, where there is one, what to
/// do instead. The engine throws rather than return a number it cannot vouch
/// for.
public enum UnlearningError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Two arrays or matrices that must agree in shape do not.
    case shapeMismatch(String)
    /// NaN or infinity in an input.
    case nonFinite(what: String, row: Int, column: Int)
    /// Ids given at fit time repeat.
    case duplicateSampleIDs([Int])
    /// A deletion request names ids the model does not hold.
    case unknownIDs([Int])
    /// A deletion request names the same id more than once.
    case repeatedIDs([Int])
    /// A deletion request names no id.
    case emptyRequest
    /// A deletion request would leave no sample: there is nothing to retrain on.
    case forgetsEverySample(count: Int)
    /// The Gram matrix K = Phi Phi^T + eps I (dual) or H = Phi^T Phi + eps I
    /// (primal) is not numerically positive definite.
    case notPositiveDefinite(form: String, detail: String, advice: String)
    /// After deleting samples, the retained rows no longer determine a unique
    /// solution in the primal form (their features lost full column rank).
    case rankDeficientAfterDeletion(detail: String, advice: String)
    /// An argument outside its domain (negative ridge, zero features, ...).
    case invalidArgument(String)
    /// The engine was asked for something its state cannot provide.
    case unavailable(String)
    /// A model's stored state does not hold together (a factor that is not
    /// the factor of its Gram matrix, coefficients that do not solve its
    /// system, NaN): found by `checkConsistency`, before any change.
    case inconsistentState(String)
    /// A deletion's certificate failed its own bounds, so the result is not
    /// vouched for; the model was left unchanged.
    case unverifiedResult(Certificate)

    public var description: String {
        switch self {
        case let .shapeMismatch(s): return "shape mismatch: \(s)"
        case let .nonFinite(what, row, column):
            return "\(what) holds a non-finite value (NaN or infinity) at row \(row), column \(column)"
        case let .duplicateSampleIDs(ids):
            return "sample ids must be unique; repeated: \(Self.list(ids))"
        case let .unknownIDs(ids):
            return "the model holds no sample with id \(Self.list(ids)) (already forgotten, or never trained on)"
        case let .repeatedIDs(ids):
            return "the deletion request names id \(Self.list(ids)) more than once"
        case .emptyRequest:
            return "the deletion request names no sample"
        case let .forgetsEverySample(count):
            return "the deletion request names all \(count) training samples; nothing would remain to retrain on (the retrained model is theta0)"
        case let .notPositiveDefinite(form, detail, advice):
            return "the \(form) Gram matrix is not positive definite: \(detail). \(advice)"
        case let .rankDeficientAfterDeletion(detail, advice):
            return "exact unlearning is impossible in the primal form: \(detail). \(advice)"
        case let .invalidArgument(s): return "invalid argument: \(s)"
        case let .unavailable(s): return s
        case let .inconsistentState(s): return "inconsistent model state: \(s)"
        case let .unverifiedResult(c):
            return "the result fails its certificate (\(c.verdict)); the model is unchanged. Refit the model, or accept an unverified result explicitly"
        }
    }

    static func list(_ ids: [Int]) -> String {
        let shown = ids.prefix(10).map(String.init).joined(separator: ", ")
        return ids.count > 10 ? "\(shown), ... (\(ids.count) in all)" : shown
    }
}

extension Matrix {
    /// Throws `UnlearningError.nonFinite` naming `what` and the position.
    package func requireFinite(_ what: String) throws(UnlearningError) {
        if let (i, j) = firstNonFiniteEntry { throw .nonFinite(what: what, row: i, column: j) }
    }
}

import Foundation
import LinearAlgebra

/// The evidence that comes with every unlearning result (docs/design.md §2).
///
/// The decisive figure is `oracleDistance`, ||theta - theta_R|| /
/// ||theta_R - theta0|| against a model retrained from scratch, present when
/// the oracle was computed. Otherwise the a-posteriori checks stand in:
/// the relative residual of the retained problem's normal equations
/// (`stationarityResidual`), the dual coefficients left on the forgotten
/// samples (`forgottenCoefficientResidual`: in exact arithmetic they vanish,
/// which is the statement that theta - theta0 lies in the row space of
/// Phi_R, i.e. is orthogonal to its null space), and the condition estimate
/// of the retained system with the first-order bound it implies.
public struct Certificate: Sendable, Equatable, CustomStringConvertible {
    /// Whether the method is exact in exact arithmetic for this model (false
    /// for relabel-and-fine-tune with ridge > 0, and for iterative methods).
    public var isExact: Bool
    /// Dual: ||K_RR A_R - T_R|| / ||T_R||. Primal: ||H_R (theta - theta0) -
    /// b_R|| / ||b_R||. Fine-tuning: ||Phi_R^T (Phi_R theta - Y_R) + eps (theta
    /// - theta0)|| / ||Phi_R^T (Y_R - Phi_R theta0)||.
    public var stationarityResidual: Double
    /// Dual closed form: ||(A + Delta A)_F|| / ||A_R||; nil otherwise.
    public var forgottenCoefficientResidual: Double?
    /// 1-norm condition estimate of K_RR (dual) or H_R (primal); nil when not computed.
    public var conditionEstimate: Double?
    /// conditionEstimate * n * u: the first-order relative error bound of a
    /// backward-stable solve (u = 2^-53, n the order). Pessimistic by design.
    public var errorBound: Double?
    /// ||theta - theta_R|| / ||theta_R - theta0||, when the oracle was computed.
    public var oracleDistance: Double?
    /// How the oracle was computed.
    public var oracleRoute: RetrainingRoute?
    /// What the figures mean for this result, when there is a caveat.
    public var note: String?
    /// The largest stationarity residual (and forgotten-coefficient share)
    /// the result may show and still be called exact:
    /// `MinNormModel.residualBound(order:condition:)` for the system solved.
    public var residualBound: Double?
    /// The updated factor against the matrix it must represent, on a random
    /// probe z: ||L' L'^T z - K_RR z|| / ||K_RR z|| (dual: K_RR z through
    /// the factor before the deletion; primal: L L^T z - Phi_F^T Phi_F z).
    /// Held to `residualBound`.
    public var factorResidual: Double?

    /// What the figures support, decided from them alone.
    public enum Verdict: Sendable, Equatable, CustomStringConvertible {
        /// The method is exact and every figure is within its bound.
        case exact
        /// The method is not exact for this model (e.g. relabel-and-fine-tune
        /// with ridge > 0): the figures measure how far it is.
        case notExact
        /// A figure exceeds its bound or is not finite: the result is not
        /// vouched for. The reason names the figure.
        case unverified(String)

        public var description: String {
            switch self {
            case .exact: return "exact (verified)"
            case .notExact: return "not exact (method)"
            case let .unverified(reason): return "UNVERIFIED: \(reason)"
            }
        }
    }

    /// The verdict: `.exact` only when the method is exact, the stationarity
    /// residual and the forgotten coefficients are below `residualBound`, and
    /// the distance to retraining, when measured, is below max(1e-9, min(the
    /// error bound, 1e-6)) (docs/design.md §2's target at cond(K) <= 1e8,
    /// and the first-order bound beyond). NaN never passes.
    public var verdict: Verdict {
        guard isExact else { return .notExact }
        let bound = residualBound ?? 0
        guard stationarityResidual <= bound else {
            return .unverified(String(format: "stationarity residual %.3e above its bound %.3e", stationarityResidual, bound))
        }
        if let r = factorResidual, !(r <= bound) {
            return .unverified(String(format: "updated factor off by %.3e on a random probe, above the bound %.3e", r, bound))
        }
        if let r = forgottenCoefficientResidual, !(r <= bound) {
            return .unverified(String(format: "forgotten coefficients %.3e above the bound %.3e", r, bound))
        }
        if let d = oracleDistance {
            let limit = max(1e-9, min(errorBound ?? 0, 1e-6))
            if !(d <= limit) { return .unverified(String(format: "distance to retraining %.3e above %.3e", d, limit)) }
        }
        return .exact
    }

    public init(isExact: Bool, stationarityResidual: Double, forgottenCoefficientResidual: Double? = nil,
                conditionEstimate: Double? = nil, order: Int = 0, oracleDistance: Double? = nil,
                oracleRoute: RetrainingRoute? = nil, note: String? = nil, residualBound: Double? = nil) {
        self.isExact = isExact
        self.stationarityResidual = stationarityResidual
        self.forgottenCoefficientResidual = forgottenCoefficientResidual
        self.conditionEstimate = conditionEstimate
        self.errorBound = conditionEstimate.map { $0 * Double(max(order, 1)) * Double.ulpOfOne / 2 }
        self.oracleDistance = oracleDistance
        self.oracleRoute = oracleRoute
        self.note = note
        self.residualBound = residualBound
    }

    public var description: String {
        var parts = [verdict.description]
        if let d = oracleDistance { parts.append(String(format: "distance to retrain %.3e (%@)", d, oracleRoute?.rawValue ?? "oracle")) }
        parts.append(String(format: "stationarity residual %.3e", stationarityResidual))
        if let r = forgottenCoefficientResidual { parts.append(String(format: "forgotten coefficients %.3e", r)) }
        if let r = factorResidual { parts.append(String(format: "factor probe %.3e", r)) }
        if let c = conditionEstimate { parts.append(String(format: "cond %.3e", c)) }
        if let b = errorBound { parts.append(String(format: "error bound %.3e", b)) }
        if let b = residualBound { parts.append(String(format: "residual bound %.3e", b)) }
        if let note { parts.append(note) }
        return parts.joined(separator: ", ")
    }
}

/// How much checking an unlearning call does beyond the cheap certificate.
public enum Verification: Sendable, Equatable {
    /// The O(N^2 C) (dual) or O(M^2 C) (primal) a-posteriori checks only.
    case cheap
    /// Also retrain from scratch by `route` and report the distance.
    case oracle(RetrainingRoute)
}

/// The outcome of a deletion request.
public struct UnlearningResult: Sendable {
    /// The ids removed, in request order.
    public var forgottenIDs: [Int]
    /// The evidence.
    public var certificate: Certificate
}

/// ||a - b||_F / ||b||_F, or ||a - b||_F when b = 0.
func relative(_ difference: Matrix, to reference: Matrix) -> Double {
    let r = reference.frobeniusNorm
    return r > 0 ? difference.frobeniusNorm / r : difference.frobeniusNorm
}

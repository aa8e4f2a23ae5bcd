import Foundation
import LinearAlgebra

/// The membership-inference attack of the MUSO paper (after Shokri et al. and
/// SalUn's evaluation): one feature per sample, the entropy of the model's
/// softmax output, and a class-balanced logistic-regression attacker trained
/// to tell members (retained training samples) from non-members (test
/// samples). It is then asked about the forgotten samples.
///
/// Two conventions are reported, so figures can be compared across papers:
/// - `memberShare`: the share of forgotten samples the attacker calls
///   members (MUSO's "MIA"; a perfectly unlearned model should score like
///   on unseen data, i.e. like retraining);
/// - `efficacy`: the share called non-members, 1 - memberShare (SalUn's
///   "MIA-efficacy"; higher means the forgotten samples look unseen).
public struct MembershipInferenceAttack: Sendable {
    /// Logistic regression p(member | h) = 1 / (1 + exp(-(w z + b))) on the
    /// standardised entropy z = (h - mean) / scale.
    public let weight: Double
    public let bias: Double
    let mean: Double
    let scale: Double

    /// The entropy -sum p log p of softmax(f) for each row f of `outputs`;
    /// for one output column the softmax is over (-f, f).
    public static func entropies(of outputs: Matrix) -> [Double] {
        (0..<outputs.rows).map { i in
            let logits = outputs.columns == 1 ? [-outputs[i, 0], outputs[i, 0]] : outputs.row(i)
            let top = logits.max() ?? 0
            let exps = logits.map { exp($0 - top) }
            let z = exps.reduce(0, +)
            var h = 0.0
            for e in exps where e > 0 { let p = e / z; h -= p * log(p) }
            return h
        }
    }

    /// Fits the attacker by Newton's method (IRLS) on the class-balanced
    /// log-likelihood: each member has weight 1 / (2 |members|), each
    /// non-member 1 / (2 |non-members|), so neither group's size biases it.
    /// A tiny L2 term (1e-6) keeps it finite when the groups separate.
    /// - Throws: `invalidArgument` when either group is empty or a value is not finite.
    public init(members: [Double], nonMembers: [Double]) throws {
        guard !members.isEmpty, !nonMembers.isEmpty else {
            throw UnlearningError.invalidArgument("the attack needs members and non-members (got \(members.count) and \(nonMembers.count))")
        }
        let all = members + nonMembers
        guard all.allSatisfy(\.isFinite) else { throw UnlearningError.invalidArgument("non-finite attack feature") }
        let mean = all.reduce(0, +) / Double(all.count)
        var variance = all.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(all.count)
        if variance <= 0 { variance = 1 }
        let scale = variance.squareRoot()
        let samples = members.map { (($0 - mean) / scale, 1.0, 0.5 / Double(members.count)) }
            + nonMembers.map { (($0 - mean) / scale, 0.0, 0.5 / Double(nonMembers.count)) }
        var w = 0.0, b = 0.0
        let lambda = 1e-6
        for _ in 0..<100 {
            var g0 = 0.0, g1 = 0.0, h00 = lambda, h01 = 0.0, h11 = lambda
            g0 += lambda * w; g1 += lambda * b
            for (z, y, weight) in samples {
                let p = 1 / (1 + exp(-(w * z + b)))
                g0 += weight * (p - y) * z
                g1 += weight * (p - y)
                let s = weight * p * (1 - p)
                h00 += s * z * z; h01 += s * z; h11 += s
            }
            let det = h00 * h11 - h01 * h01
            guard det > 0 else { break }
            let dw = (h11 * g0 - h01 * g1) / det, db = (h00 * g1 - h01 * g0) / det
            w -= dw; b -= db
            if abs(dw) + abs(db) < 1e-12 { break }
        }
        self.weight = w
        self.bias = b
        self.mean = mean
        self.scale = scale
    }

    /// p(member | entropy).
    public func memberProbability(_ entropy: Double) -> Double {
        1 / (1 + exp(-(weight * (entropy - mean) / scale + bias)))
    }

    /// The entropy at which the attacker switches (p = 1/2), or nil if flat.
    public var threshold: Double? { weight == 0 ? nil : mean - bias * scale / weight }

    /// The share of `entropies` called members (p >= 1/2).
    public func memberShare(_ entropies: [Double]) -> Double {
        guard !entropies.isEmpty else { return .nan }
        return Double(entropies.filter { memberProbability($0) >= 0.5 }.count) / Double(entropies.count)
    }

    /// 1 - memberShare: the share called non-members (SalUn's MIA-efficacy).
    public func efficacy(_ entropies: [Double]) -> Double { 1 - memberShare(entropies) }
}

/// The share of `predicted` equal to `labels` (NaN for none).
public func accuracy(_ predicted: [Int], _ labels: [Int]) -> Double {
    precondition(predicted.count == labels.count, "accuracy: \(predicted.count) predictions for \(labels.count) labels")
    guard !labels.isEmpty else { return .nan }
    return Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(labels.count)
}

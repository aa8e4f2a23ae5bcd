import Foundation
import LinearAlgebra
import Unlearning

/// MUSO for networks (docs/design.md §3): alternate a relabel step on the
/// head, computed in closed form from the current features, with one epoch of
/// fine-tuning of the whole network on the retained data plus the relabeled
/// forgotten data.
///
/// Relabel step, round r: draw a fresh random subset S of the retained
/// samples ("variable down-sampling": a new subset every round) of size
/// `subsampleRatio` x p, p the head's feature count (last hidden width + 1);
/// extract the bias-augmented last-layer features Z_S and Z_F, form the head
/// that retraining the head alone on S would give, theta_R = W0 + Pi_S (Wp -
/// W0) (see `HeadProjection`), and label each forgotten sample by the argmax
/// of its logits under theta_R.
///
/// Ridge schedule (the reference code's, random-subset script): a half-cosine
/// ramp from `ridge` up to `ridgeMax` over the rounds,
///
///     eps_r = ridge + (ridgeMax - ridge) (1 - cos(pi r / (R - 1))) / 2,   r = 0 ..< R,
///
/// (eps_0 = ridge, eps_{R-1} = ridgeMax; one round uses `ridge`). The reference
/// applies eps_r to the relabel that follows round r's fine-tuning, one round
/// later than here; its defaults are ridge 1e-6, ridgeMax 1e-2. A larger ridge
/// shrinks theta_R towards W0 along the subset's weak feature directions, so
/// later rounds trust the drifting features less.
///
/// Why the subset is sized against p: the theory is that of an
/// over-parameterized head, |S| < p. Then Pi_S is a projection onto an
/// |S|-dimensional row space, and a forgotten sample's label changes through
/// the part of its features that the retained subset does not span. With
/// |S| >= p (and features of full rank) Pi_S is the identity up to the ridge,
/// theta_R = Wp, and the relabel step returns the current predictions: the
/// alternation then degenerates to fine-tuning on the current labels.
/// The retained-labels variant has no such limit: with |S| > p its head is the
/// ridge regression of the one-hot labels of S on Z_S (primal form, O(|S| p^2
/// + p^3)), a classifier that never saw the forgotten samples, and a larger
/// S makes its labels closer to what a retrained head would predict.
///
/// What is exact and what is not: with the body frozen, the head is a linear
/// model on fixed features and the engine's closed form is exact (see the
/// tests); once the body moves, the features drift and the labels are an
/// approximation that each round recomputes from the current features.
public struct MUSONetwork: Sendable {
    /// What the head retrained on the subset S is fitted to.
    public enum RelabelTarget: String, Sendable, CaseIterable {
        /// docs/design.md §3: theta_R = W0 + Pi_S (Wp - W0), i.e. the head
        /// retrained on S with the current head's outputs Z_S Wp as targets
        /// (equal to retraining on the labels when the head interpolates them).
        case currentHead = "head"
        /// The minimum-norm head from W0 fitted to the one-hot retained labels
        /// of S: theta_R = W0 + Z_S^T (Z_S Z_S^T + eps I)^{-1} (Y_S - Z_S W0),
        /// by the engine's `MinNormModel`. Not in docs/design.md: an alternative
        /// for networks whose head does not interpolate (see docs/networks.md).
        case retainedLabels = "labels"
    }

    public var rounds: Int
    public var target: RelabelTarget = .currentHead
    /// |S| / p; in (0, 1) for the over-parameterized regime of the
    /// current-head variant; any positive value for the retained-labels
    /// variant. The subset is capped at the number of retained samples.
    public var subsampleRatio: Double
    /// Ridge of the first relabel step.
    public var ridge: Double
    /// Ridge of the last relabel step (the cosine ramp's end).
    public var ridgeMax: Double
    /// Fine-tuning per round (the paper: one epoch).
    public var fineTune: TrainingConfiguration
    /// When true, a round fine-tunes on the retained data plus only those
    /// forgotten samples whose new label differs from the network's current
    /// prediction. In the linear theory a relabeled sample whose label is
    /// the retrained model's own prediction exerts no force at theta_R; with
    /// cross-entropy on hard labels it is not neutral (it keeps raising the
    /// network's confidence on a sample retraining never saw), so it is left
    /// out. False (the paper): every forgotten sample, relabeled.
    public var changedLabelsOnly = false
    /// The network whose last-layer features the relabel step fits its head
    /// on and labels the forgotten samples with; nil (docs/design.md): the current
    /// network, re-extracted each round. A trained network's features have
    /// memorised its training samples: a head fitted on the retained samples
    /// alone still labels the forgotten ones about as accurately as the
    /// network does (on random forgetting, above its accuracy on unseen
    /// data), where the retrained network would label them as unseen data.
    /// An early checkpoint of the original training (same initialisation,
    /// same W0; `MLP.train(checkpoint:)`) has features that already separate
    /// the classes but have memorised little, so a head fitted on its
    /// retained features labels the forgotten samples about as it labels
    /// unseen ones. The subset S is still redrawn and the ridge still follows
    /// the schedule each round; the features no longer drift between rounds.
    public var relabelNetwork: MLP? = nil
    /// The weight of each relabeled forgotten sample's loss in the
    /// fine-tuning, retained samples weighing 1 (the loss is the weighted
    /// sum over a mini-batch divided by its size). 1 (the paper): every
    /// sample alike. A hard label trained at full weight makes the network
    /// more confident on the forgotten samples than a retrained network is
    /// on samples it never saw (forgetting one class, docs/networks.md: the
    /// mean entropy of its predictions on them falls below the retrained
    /// network's, and the membership attack calls more of them members);
    /// below 1 the relabels steer the predictions with less pull on their
    /// confidence. Must be positive and finite.
    public var forgetWeight: Double = 1
    /// When true, the relabeled forgotten samples are fine-tuned towards a
    /// distribution instead of a hard label: the relabel head's class
    /// probabilities (`targets(scores:)`). A retrained network is not
    /// certain about samples it never saw; a hard label trained towards
    /// probability 1 makes the network more certain about them than that
    /// (forgetting one class, docs/networks.md), a soft target only as
    /// certain as the relabel head. False (the paper): hard labels.
    public var softTargets = false
    /// Label smoothing of the relabeled forgotten samples' targets, s in
    /// [0, 1): each target q (the hard label's one-hot, or the soft target)
    /// becomes (1 - s) q + s / C over the C classes. Cross-entropy against a
    /// target t is smallest when the predicted distribution equals t, so a
    /// relabeled sample's predicted probability of its new label tends to
    /// 1 - s + s / C instead of 1, and the entropy of its prediction stays
    /// at or above that of t: s bounds how confident the fine-tuning can make
    /// the network on samples a retrained network never saw (forgetting one
    /// class, docs/networks.md). The retained samples keep their one-hot
    /// labels. 0 (the paper): no smoothing.
    public var labelSmoothing = 0.0
    public var seed: UInt64

    public init(rounds: Int = 2, subsampleRatio: Double = 0.5, ridge: Double = 1e-6, ridgeMax: Double = 1e-2,
                fineTune: TrainingConfiguration, seed: UInt64 = 0) {
        self.rounds = rounds
        self.subsampleRatio = subsampleRatio
        self.ridge = ridge
        self.ridgeMax = ridgeMax
        self.fineTune = fineTune
        self.seed = seed
    }

    /// The ridge of relabel step `round` (0-based) under the cosine ramp.
    public func ridge(round: Int) -> Double {
        guard rounds > 1 else { return ridge }
        let t = Double(min(max(round, 0), rounds - 1)) / Double(rounds - 1)
        return ridge + (ridgeMax - ridge) * (1 - cos(Double.pi * t)) / 2
    }

    /// The MUSO labels of the forgotten samples, from the features of
    /// `relabelNetwork` if set, else of `net` (the current network): the
    /// argmax of `relabelScores`.
    public func relabel(_ net: MLP, initialHead: Matrix, retainInputs: Matrix, retainLabels: [Int]? = nil,
                        forgetInputs: Matrix, ridge eps: Double, generator g: inout SeededGenerator) throws -> [Int] {
        SoftmaxCrossEntropy.predictions(try relabelScores(net, initialHead: initialHead, retainInputs: retainInputs, retainLabels: retainLabels,
                                                          forgetInputs: forgetInputs, ridge: eps, generator: &g))
    }

    /// The relabel head's outputs on the forgotten samples, Z_F theta_R
    /// (k x classes): logits for the current-head target, least-squares fits
    /// of the one-hot labels for the retained-labels target.
    /// - Complexity: the features of |S| + k samples (one forward pass each)
    ///   and the head's closed form, O(|S|^2 p + |S|^3) or O(|S| p^2 + p^3).
    public func relabelScores(_ net: MLP, initialHead: Matrix, retainInputs: Matrix, retainLabels: [Int]? = nil,
                              forgetInputs: Matrix, ridge eps: Double, generator g: inout SeededGenerator) throws -> Matrix {
        var order = Array(0..<retainInputs.rows)
        order.shuffle(using: &g)
        let source = relabelNetwork ?? net
        guard source.widths == net.widths else {
            throw UnlearningError.shapeMismatch("the relabel network has widths \(source.widths), the network \(net.widths)")
        }
        let p = source.head.rows  // last hidden width + 1 (bias)
        let count = min(order.count, max(1, Int((subsampleRatio * Double(p)).rounded())))
        let subset = Array(order.prefix(count)).sorted()
        let zS = try source.headFeatures(retainInputs.selectingRows(subset))
        let zF = try source.headFeatures(forgetInputs)
        let thetaR: Matrix
        switch target {
        case .currentHead:
            thetaR = try HeadProjection.retrainedHead(initial: initialHead, current: source.head, features: zS, ridge: eps)
        case .retainedLabels:
            guard let retainLabels, retainLabels.count == retainInputs.rows else {
                throw UnlearningError.invalidArgument("relabeling from the retained labels needs one label per retained sample")
            }
            let classes = initialHead.columns
            var y = Matrix(rows: subset.count, columns: classes)
            for (r, i) in subset.enumerated() {
                guard (0..<classes).contains(retainLabels[i]) else {
                    throw UnlearningError.invalidArgument("retained label \(retainLabels[i]) of sample \(i) is outside 0..<\(classes)")
                }
                y[r, retainLabels[i]] = 1
            }
            thetaR = try MinNormModel(features: .materialized(zS), targets: y, initialParameters: initialHead, ridge: eps).parameters()
        }
        return try Matrix.product(zF, thetaR)
    }

    /// Target distributions from the relabel head's outputs (one row per
    /// forgotten sample). Current-head target: the softmax of the logits.
    /// Retained-labels target: the least-squares fit of one-hot labels
    /// estimates each class's probability (linear regression of an
    /// indicator estimates its conditional mean), so
    /// q_j = max(s_j, 0) / sum_l max(s_l, 0), and the one-hot argmax if no
    /// output is positive. Either way the argmax is the hard label's.
    public func targets(scores s: Matrix) -> Matrix {
        if target == .currentHead { return SoftmaxCrossEntropy.probabilities(s) }
        var q = Matrix(rows: s.rows, columns: s.columns)
        for i in 0..<s.rows {
            var z = 0.0
            for j in 0..<s.columns { z += max(s[i, j], 0) }
            if z > 0, z.isFinite {
                for j in 0..<s.columns { q[i, j] = max(s[i, j], 0) / z }
            } else {
                q[i, SoftmaxCrossEntropy.argmax(s, row: i)] = 1
            }
        }
        return q
    }

    /// Runs the alternation on `net` in place.
    /// - Returns: the labels given to the forgotten samples in each round.
    @discardableResult
    public func unlearn(_ net: inout MLP, initialHead: Matrix, retainInputs: Matrix, retainLabels: [Int],
                        forgetInputs: Matrix) throws -> [[Int]] {
        guard rounds >= 1, subsampleRatio > 0, subsampleRatio.isFinite else {
            throw UnlearningError.invalidArgument("MUSO needs rounds >= 1 and a positive subsample ratio (|S| / p)")
        }
        guard ridge >= 0, ridgeMax >= 0, ridge.isFinite, ridgeMax.isFinite else {
            throw UnlearningError.invalidArgument("MUSO's ridge schedule needs finite ridges >= 0, got \(ridge) .. \(ridgeMax)")
        }
        guard forgetWeight > 0, forgetWeight.isFinite else {
            throw UnlearningError.invalidArgument("MUSO's forget weight must be positive and finite, got \(forgetWeight)")
        }
        guard labelSmoothing >= 0, labelSmoothing < 1 else {
            throw UnlearningError.invalidArgument("MUSO's label smoothing must be in [0, 1), got \(labelSmoothing)")
        }
        let classes = initialHead.columns
        guard retainLabels.count == retainInputs.rows else {
            throw UnlearningError.shapeMismatch("\(retainInputs.rows) retained samples, \(retainLabels.count) labels")
        }
        if let bad = retainLabels.firstIndex(where: { !(0..<classes).contains($0) }) {
            throw UnlearningError.invalidArgument("retained label \(retainLabels[bad]) of sample \(bad) is outside 0..<\(classes)")
        }
        var g = SeededGenerator(seed: seed)
        var history: [[Int]] = []
        let combined = changedLabelsOnly ? retainInputs : try stack(retainInputs, forgetInputs)
        for round in 0..<rounds {
            let scores = try relabelScores(net, initialHead: initialHead, retainInputs: retainInputs, retainLabels: retainLabels,
                                           forgetInputs: forgetInputs, ridge: ridge(round: round), generator: &g)
            let labels = SoftmaxCrossEntropy.predictions(scores)
            history.append(labels)
            var config = fineTune
            config.seed = fineTune.seed &+ UInt64(round)
            // The forgotten samples fine-tuned on this round: all, or those whose label changed.
            var chosen = Array(labels.indices)
            if changedLabelsOnly {
                let current = try net.predict(forgetInputs)
                chosen = labels.indices.filter { labels[$0] != current[$0] }
            }
            let inputs = changedLabelsOnly ? try stack(retainInputs, forgetInputs.selectingRows(chosen)) : combined
            let weights = forgetWeight == 1 ? nil
                : [Double](repeating: 1, count: retainInputs.rows) + [Double](repeating: forgetWeight, count: chosen.count)
            if softTargets || labelSmoothing > 0 {
                var q = softTargets ? try targets(scores: scores).selectingRows(chosen)
                    : Matrix(rows: chosen.count, columns: classes) { i, j in labels[chosen[i]] == j ? 1 : 0 }
                if labelSmoothing > 0 {
                    let s = labelSmoothing, floor = labelSmoothing / Double(classes)
                    q.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = (1 - s) * p[i] + floor } }
                }
                var all = Matrix(rows: retainInputs.rows + chosen.count, columns: q.columns)
                for (i, l) in retainLabels.enumerated() { all[i, l] = 1 }
                try all.setRows(retainInputs.rows..<all.rows, to: q)
                try net.train(inputs: inputs, targets: all, configuration: config, sampleWeights: weights)
            } else {
                try net.train(inputs: inputs, labels: retainLabels + chosen.map { labels[$0] }, configuration: config, sampleWeights: weights)
            }
        }
        return history
    }
}

/// Rows of `a` then rows of `b`.
func stack(_ a: Matrix, _ b: Matrix) throws -> Matrix {
    guard a.columns == b.columns else { throw UnlearningError.shapeMismatch("stacking \(a.columns) and \(b.columns) columns") }
    var out = Matrix(rows: a.rows + b.rows, columns: a.columns)
    try out.setRows(0..<a.rows, to: a)
    try out.setRows(a.rows..<(a.rows + b.rows), to: b)
    return out
}

/// The baselines compared with MUSO on a network, each from the trained
/// network with the same budget of epochs.
public enum NetworkBaseline: String, Sendable, CaseIterable {
    /// Fine-tune on the retained data ("FT").
    case fineTune = "fine-tune"
    /// Gradient ascent on the forget set's cross-entropy ("GA").
    case gradientAscent = "gradient-ascent"
    /// Random wrong labels for the forgotten samples, fine-tune on all
    /// (Amnesiac, "RL").
    case randomLabels = "random-labels"
    /// Random labels restricted to the weights with the largest forget-loss
    /// gradient magnitude (SalUn: the `saliencyShare` of each layer's weights).
    case salun = "salun"

    /// Runs the baseline on `net` in place. `configuration.epochs` counts
    /// passes over the data the method trains on: retained data (FT),
    /// retained plus forgotten (RL, SalUn), the forget set alone (GA, so
    /// ceil(k / batch) ascent steps per epoch). `saliencyShare` in (0, 1]
    /// is the share of each layer's weights SalUn updates (ignored by the
    /// others).
    /// - Complexity: one epoch costs 6 n sum_l n_{l-1} n_l flops for the n
    ///   samples it passes over; SalUn adds one forward and backward pass over
    ///   the forget set and a sort of each layer's gradient magnitudes.
    public func run(_ net: inout MLP, retainInputs: Matrix, retainLabels: [Int], forgetInputs: Matrix, forgetLabels: [Int],
                    classes: Int, configuration: TrainingConfiguration, saliencyShare: Double = 0.5) throws {
        guard saliencyShare > 0, saliencyShare <= 1 else {
            throw UnlearningError.invalidArgument("SalUn's saliency share must be in (0, 1], got \(saliencyShare)")
        }
        switch self {
        case .fineTune:
            try net.train(inputs: retainInputs, labels: retainLabels, configuration: configuration)
        case .gradientAscent:
            try net.train(inputs: forgetInputs, labels: forgetLabels, configuration: configuration,
                          sampleWeights: [Double](repeating: -1, count: forgetLabels.count))
        case .randomLabels, .salun:
            var g = SeededGenerator(seed: configuration.seed ^ 0x5A1)
            let wrong = forgetLabels.map { l -> Int in
                var r = Int(g.next() % UInt64(classes - 1))
                if r >= l { r += 1 }
                return r
            }
            var mask: [Matrix]? = nil
            if self == .salun { mask = try saliencyMask(net, inputs: forgetInputs, labels: forgetLabels, keep: saliencyShare) }
            try net.train(inputs: try stack(retainInputs, forgetInputs), labels: retainLabels + wrong,
                          configuration: configuration, mask: mask)
        }
    }

    /// 1 for the `keep` share of each layer's weights with the largest
    /// |d loss_F / d w|, 0 elsewhere.
    func saliencyMask(_ net: MLP, inputs: Matrix, labels: [Int], keep: Double) throws -> [Matrix] {
        let trace = try net.forward(inputs)
        let (_, grad) = SoftmaxCrossEntropy.lossAndGradient(logits: trace.logits, labels: labels)
        let grads = try net.backward(trace, outputGradient: grad)
        return grads.weights.map { g in
            let magnitudes = g.elements.map(abs).sorted(by: >)
            let cut = magnitudes[min(magnitudes.count - 1, max(0, Int(keep * Double(magnitudes.count)) - 1))]
            var m = g
            m.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = abs(p[i]) >= cut ? 1 : 0 } }
            return m
        }
    }
}

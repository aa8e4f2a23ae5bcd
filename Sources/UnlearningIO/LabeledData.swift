import LinearAlgebra

/// A classification data set: inputs (n x d), an integer class label and a
/// stable id per sample. The id is what deletion requests name: the row in
/// the source file unless the source has an id column.
public struct LabeledData: Sendable {
    /// X (n x d).
    public var inputs: Matrix
    /// Class labels, one per sample.
    public var labels: [Int]
    /// Sample ids, unique.
    public var ids: [Int]
    /// Where the data came from (for messages and the model file).
    public var source: String

    public init(inputs: Matrix, labels: [Int], ids: [Int], source: String) throws {
        guard labels.count == inputs.rows, ids.count == inputs.rows else {
            throw DataError.malformed(path: source, reason: "\(inputs.rows) samples but \(labels.count) labels and \(ids.count) ids")
        }
        var seen = Set<Int>()
        for id in ids where !seen.insert(id).inserted {
            throw DataError.malformed(path: source, reason: "sample id \(id) occurs more than once")
        }
        self.inputs = inputs
        self.labels = labels
        self.ids = ids
        self.source = source
    }

    public var count: Int { labels.count }

    /// The sorted distinct labels.
    public var classes: [Int] { Array(Set(labels)).sorted() }

    /// The samples at positions `positions`, in that order.
    public func subset(_ positions: [Int]) throws -> LabeledData {
        try LabeledData(inputs: inputs.selectingRows(positions), labels: positions.map { labels[$0] },
                        ids: positions.map { ids[$0] }, source: source)
    }

    /// The samples `selection` keeps (see `SampleSelection`).
    public func selecting(_ selection: SampleSelection) throws -> LabeledData {
        try subset(selection.rows(labels: labels, source: source))
    }

    /// Keeps the samples whose label is in `classes`, refusing classes that
    /// do not occur.
    public func restricted(to classes: [Int]) throws -> LabeledData {
        try subset(SampleSelection(classes: classes).rows(labels: labels, source: source))
    }

    /// The first `count` samples after a seeded shuffle (all when count >= n),
    /// in their original order.
    public func randomSubset(_ count: Int, seed: UInt64) throws -> LabeledData {
        try subset(SampleSelection(limit: count, seed: seed).rows(labels: labels, source: source))
    }
}

/// Which samples of a labelled set a run uses: those whose label is in
/// `classes` (all when nil), then, when `limit` is smaller than what is left,
/// the first `limit` of a shuffle seeded by `seed`, kept in their original
/// order. Every reader (Fashion-MNIST, CSV, a .npy feature matrix) selects
/// through this, so one seed picks the same samples from the same labels.
public struct SampleSelection: Sendable, Equatable {
    public var classes: [Int]?
    public var limit: Int?
    public var seed: UInt64

    public init(classes: [Int]? = nil, limit: Int? = nil, seed: UInt64 = 0) {
        self.classes = classes; self.limit = limit; self.seed = seed
    }

    /// The positions kept, ascending.
    /// - Throws: `invalidSelection` naming `source` for a class that does not
    ///   occur in `labels`, or a limit below 1.
    /// - Complexity: O(n).
    public func rows(labels: [Int], source: String) throws -> [Int] {
        var keep = Array(labels.indices)
        if let classes {
            let present = Set(labels)
            let absent = classes.filter { !present.contains($0) }
            guard absent.isEmpty else {
                throw DataError.invalidSelection(path: source, reason: "class \(absent.map(String.init).joined(separator: ", ")) does not occur in the data (classes present: \(present.sorted().map(String.init).joined(separator: ", ")))")
            }
            let wanted = Set(classes)
            keep = keep.filter { wanted.contains(labels[$0]) }
        }
        if let limit {
            guard limit >= 1 else { throw DataError.invalidSelection(path: source, reason: "a subset of \(limit) samples") }
            if limit < keep.count {
                var g = Unlearning.SeededGenerator(seed: seed)
                keep.shuffle(using: &g)
                keep = Array(keep.prefix(limit)).sorted()
            }
        }
        return keep
    }
}

import Unlearning

/// How class labels become the targets Y (n x C) of a regression model.
public enum TargetCoding: String, Sendable, Codable, CaseIterable {
    /// Two classes: +1 for the second, -1 for the first (C = 1).
    case signed
    /// One column per class: 1 for the sample's class, 0 elsewhere.
    case oneHot

    /// Y for `labels` over the sorted `classes`.
    public func targets(labels: [Int], classes: [Int]) throws -> Matrix {
        let index = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        switch self {
        case .signed:
            guard classes.count == 2 else {
                throw UnlearningError.invalidArgument("signed coding needs exactly 2 classes, got \(classes.count)")
            }
            return try Matrix(rows: labels.count, columns: 1, elements: labels.map { index[$0] == 1 ? 1 : -1 })
        case .oneHot:
            var y = Matrix(rows: labels.count, columns: classes.count)
            for (i, l) in labels.enumerated() {
                guard let c = index[l] else { throw UnlearningError.invalidArgument("label \(l) of sample \(i) is not among the classes \(classes)") }
                y[i, c] = 1
            }
            return y
        }
    }

    /// The predicted class of each row of model outputs (n x C).
    public func predictedClasses(_ outputs: Matrix, classes: [Int]) -> [Int] {
        (0..<outputs.rows).map { i in
            switch self {
            case .signed: return outputs[i, 0] >= 0 ? classes[1] : classes[0]
            case .oneHot:
                var best = 0
                for c in 1..<outputs.columns where outputs[i, c] > outputs[i, best] { best = c }
                return classes[best]
            }
        }
    }
}

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

    /// Keeps the samples whose label is in `classes`, refusing classes that
    /// do not occur.
    public func restricted(to classes: [Int]) throws -> LabeledData {
        let present = Set(labels)
        let absent = classes.filter { !present.contains($0) }
        guard absent.isEmpty else {
            throw DataError.invalidSelection(path: source, reason: "class \(absent.map(String.init).joined(separator: ", ")) does not occur in the data (classes present: \(self.classes.map(String.init).joined(separator: ", ")))")
        }
        let wanted = Set(classes)
        return try subset(labels.indices.filter { wanted.contains(labels[$0]) })
    }

    /// The first `count` samples after a seeded shuffle (all when count >= n),
    /// in their original order.
    public func randomSubset(_ count: Int, seed: UInt64) throws -> LabeledData {
        guard count >= 1 else { throw DataError.invalidSelection(path: source, reason: "a subset of \(count) samples") }
        if count >= self.count { return self }
        var g = Unlearning.SeededGenerator(seed: seed)
        var order = Array(labels.indices)
        order.shuffle(using: &g)
        return try subset(Array(order.prefix(count)).sorted())
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

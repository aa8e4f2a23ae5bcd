import Foundation
import LinearAlgebra

/// Fashion-MNIST (Xiao, Rasul, Vollgraf 2017) as Debian's
/// `dataset-fashion-mnist` installs it: gzip-compressed IDX files, 60000
/// training and 10000 test images of 28 x 28 grey pixels, 10 classes.
public enum FashionMNIST {
    /// Where the Debian package puts the files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    /// The class names, by label.
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

    public enum Split: String, Sendable, CaseIterable {
        case train, test
        var prefix: String { self == .train ? "train" : "t10k" }
    }

    /// Loads a split, pixels scaled to [0, 1]; sample ids are the rows of the
    /// source file (0-based), so they stay stable under any selection.
    ///
    /// - Parameters:
    ///   - split: `.train` (60000 images) or `.test` (10000).
    ///   - directory: where the gzip-compressed IDX files are.
    ///   - classes: keep only these labels (e.g. [0, 6]); all when nil.
    ///   - limit: keep a seeded random subset of this many (after the class
    ///     selection), in file order; all when nil.
    ///   - seed: the seed of that subset (`SampleSelection`).
    /// - Throws: `unreadable` when the files are missing (install
    ///   `dataset-fashion-mnist`), `malformed`/`truncated` for bad files,
    ///   `invalidSelection` for classes that do not occur.
    public static func load(_ split: Split, directory: String = defaultDirectory, classes: [Int]? = nil,
                            limit: Int? = nil, seed: UInt64 = 0) throws -> LabeledData {
        let imagesPath = "\(directory)/\(split.prefix)-images-idx3-ubyte.gz"
        let labelsPath = "\(directory)/\(split.prefix)-labels-idx1-ubyte.gz"
        for path in [imagesPath, labelsPath] where !FileManager.default.fileExists(atPath: path) {
            throw DataError.unreadable(path: path, reason: "no such file (install Debian's dataset-fashion-mnist package)")
        }
        let images = try IDXArray(contentsOf: imagesPath)
        let labels = try IDXArray(contentsOf: labelsPath)
        return try make(images: images, labels: labels, imagesPath: imagesPath, labelsPath: labelsPath,
                        classes: classes, limit: limit, seed: seed)
    }

    /// Builds the data set from parsed IDX arrays (checked for agreement).
    package static func make(images: IDXArray, labels: IDXArray, imagesPath: String, labelsPath: String,
                            classes: [Int]?, limit: Int?, seed: UInt64) throws -> LabeledData {
        guard images.shape.count == 3 else {
            throw DataError.malformed(path: imagesPath, reason: "expected 3 dimensions (count, rows, columns), got \(images.shape)")
        }
        guard labels.shape.count == 1 else {
            throw DataError.malformed(path: labelsPath, reason: "expected 1 dimension, got \(labels.shape)")
        }
        let n = images.shape[0], d = images.shape[1] * images.shape[2]
        guard labels.shape[0] == n else {
            throw DataError.malformed(path: labelsPath, reason: "\(labels.shape[0]) labels for \(n) images in \(imagesPath)")
        }
        if let bad = labels.values.firstIndex(where: { $0 > 9 }) {
            throw DataError.malformed(path: labelsPath, reason: "label \(labels.values[bad]) of sample \(bad) is not a Fashion-MNIST class (0-9)")
        }
        let allLabels = labels.values.map(Int.init)
        let keep = try SampleSelection(classes: classes, limit: limit, seed: seed).rows(labels: allLabels, source: labelsPath)
        var x = Matrix(rows: keep.count, columns: d)
        images.values.withUnsafeBufferPointer { src in
            x.withUnsafeMutableBufferPointer { dst in
                let m = keep.count
                for (r, i) in keep.enumerated() {
                    let base = i * d
                    for j in 0..<d { dst[r + j * m] = Double(src[base + j]) / 255 }
                }
            }
        }
        return try LabeledData(inputs: x, labels: keep.map { allLabels[$0] }, ids: keep, source: imagesPath)
    }
}

import Unlearning

import ArgumentParser
import Foundation
import LinearAlgebra
import Unlearning
import UnlearningIO
import MusoCLI

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a model's arrays as .npy files (and model.json) for checking in Python.",
        discussion: """
        Writes to DIR: theta0.npy and theta.npy (M x C), ids.npy, targets.npy (N x C), dual.npy (N x C, \
        dual form) or moment.npy (M x C, primal), inputs.npy (N x d, retained samples only), and the \
        feature map's parameters: frequencies.npy (d x M/2) for random Fourier features, where \
        phi(x)_{2j} = cos(w_j . x) / sqrt(M/2) and phi(x)_{2j+1} = sin(w_j . x) / sqrt(M/2); or \
        weights.npy (d x M) and biases.npy for random ReLU features, phi(x)_j = sqrt(2/M) \
        max(0, w_j . x + b_j). model.json holds the rest (form, ridge, coding, journal). \
        scripts/verify-export.py recomputes the retrained parameters from these with numpy.
        """
    )

    @Argument(help: "The model file.")
    var model: String

    @Option(help: "The directory to write (created if needed).")
    var to: String

    @Flag(help: "Also write the Cholesky factor (factor.npy, n x n).")
    var includeFactor = false

    @OptionGroup var common: CommonOptions

    func run() throws {
        let file = try readModel(model)
        var m = file.model
        try m.materializeParameters()
        try FileManager.default.createDirectory(atPath: to, withIntermediateDirectories: true)
        var written: [String] = []
        func put(_ name: String, _ matrix: Matrix) throws {
            try NPY.write(matrix, to: "\(to)/\(name).npy"); written.append("\(name).npy")
        }
        let s = m.snapshot
        try put("theta0", s.initialParameters)
        try put("theta", try m.parameters())
        try put("targets", s.targets)
        try NPY.write(s.ids, to: "\(to)/ids.npy"); written.append("ids.npy")
        switch s.solution {
        case let .dual(a): try put("dual", a)
        case let .primal(b): try put("moment", b)
        }
        if includeFactor { try put("factor", s.lowerFactor) }
        if let x = try m.retainedInputs() { try put("inputs", x) }
        if let arrays = featureMapArrays(m.features.featureMap) {
            for (name, matrix) in arrays { try put(name, matrix) }
        } else {
            try NPY.write(m.featureRows, to: "\(to)/feature_rows.npy"); written.append("feature_rows.npy")
        }
        var meta: [String: Any] = [
            "form": m.form.rawValue, "ridge": m.ridge, "samples": m.sampleCount, "features": m.featureCount,
            "outputs": m.outputCount, "coding": file.coding.rawValue, "classes": file.data.classes,
            "feature_map": ["kind": file.featureMap.kind.rawValue, "input_dimension": file.featureMap.inputDimension as Any,
                            "bandwidth": file.featureMap.bandwidth as Any, "path": file.featureMap.path as Any],
            "feature_formula": file.featureMap.kind == .randomFourier
                ? "phi(x)[2j] = cos(x @ W[:, j]) / sqrt(M/2), phi(x)[2j+1] = sin(x @ W[:, j]) / sqrt(M/2), W = frequencies.npy"
                : file.featureMap.kind == .randomReLU ? "phi(x)[j] = sqrt(2/M) * max(0, x @ W[:, j] + b[j]), W = weights.npy, b = biases.npy"
                : "rows feature_rows.npy of the .npy feature matrix at feature_map.path",
            "model": "theta = theta0 + pinv(Phi) @ (Y - Phi @ theta0) (ridge 0); theta = theta0 + Phi.T @ dual (dual form)",
            "journal": file.journal.map { ["request": $0.sequence, "ids": $0.ids, "time": $0.time] as [String: Any] },
            "files": written + ["model.json"],
        ]
        meta = sanitize(meta) as! [String: Any]
        let json = try JSONSerialization.data(withJSONObject: meta, options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write([UInt8](json), to: "\(to)/model.json")
        if common.json {
            try printJSON(["directory": to, "files": written + ["model.json"]])
        } else {
            print("exported \(model) to \(to): \((written + ["model.json"]).joined(separator: ", "))")
        }
    }
}

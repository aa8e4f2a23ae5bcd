import LinearAlgebra
import Unlearning

// Data: N = 500 inputs in R^10 and +-1 targets (N x 1).
var g = SeededGenerator(seed: 42)
let x = Matrix(rows: 500, columns: 10) { _, _ in g.nextNormal() }
let y = Matrix(rows: 500, columns: 1) { i, _ in x[i, 0] + 0.3 * g.nextNormal() > 0 ? 1 : -1 }

// M = 2000 random Fourier features of the Gaussian kernel, fixed by a seed.
let map = try RandomFourierFeatures(inputDimension: 10, featureCount: 2000, bandwidth: 3, seed: 7)
let phi = try FeatureSource.generated(by: map, inputs: x).materialize()

// theta* = theta0 + Phi^+ (Y - Phi theta0); dual form since M >= N.
var model = try MinNormModel(features: phi, targets: y)

// A deletion request, applied exactly, checked against retraining.
let result = try model.forget(ids: [3, 17, 42], verification: .oracle(.pseudoInverse))
print(result.certificate)

// MUSO: the retrained model's labels for samples to forget next, and
// relabel-and-fine-tune, which lands on the retrained parameters.
let labels = try model.optimalLabels(forgetting: [5, 6])
let (theta, certificate) = try model.relabelAndFineTune(forgetting: [5, 6], verification: .oracle(.cholesky))
let predictions = try model.predict(inputs: x)

// ---- (not in the README) what the example promises, checked:
import Foundation

print(certificate)
guard case .exact = result.certificate.verdict, case .exact = certificate.verdict,
      labels.rows == 2, theta.rows == 2000, predictions.rows == 500, model.sampleCount == 497 else {
    print("ReadmeExample: FAILED")
    exit(1)
}
print("ReadmeExample: forgot 3 samples exactly (distance to retraining \(result.certificate.oracleDistance!)), relabel-and-fine-tune exact (\(certificate.oracleDistance!))")

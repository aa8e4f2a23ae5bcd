import Testing
import LinearAlgebra
import Unlearning
import TestSupport

@Suite("Gradient descent reaches the closed forms")
struct GradientDescentTests {
    @Test("mini-batch SGD from theta0 converges to the min-norm interpolant (1)")
    func sgdConvergesOverParameterized() throws {
        let p = try SyntheticProblem(samples: 30, features: 120, outputs: 2, seed: 40)
        let model = try MinNormModel(features: p.source(), targets: p.targets, initialParameters: p.theta0)
        let trainer = GradientDescent(batchSize: 5, maxEpochs: 20_000, tolerance: 1e-12, seed: 1)
        let run = try trainer.train(features: p.phi(), targets: p.targets, from: p.theta0)
        #expect(run.converged)
        // The closed form by the independent gelsd route.
        let oracle = try Retraining.minimumNormParameters(features: p.phi(), targets: p.targets, initialParameters: p.theta0).parameters
        #expect(try model.distance(of: run.parameters, toRetrained: oracle) <= 1e-6, "after \(run.epochs) epochs")
        // The gradient history decreases overall.
        #expect(run.relativeGradientNorms.last! < run.relativeGradientNorms.first!)
    }

    @Test("full-batch gradient descent converges to the least-squares solution (M < N)")
    func gdConvergesUnderParameterized() throws {
        let p = try SyntheticProblem(samples: 100, features: 20, outputs: 1, seed: 41)
        let run = try GradientDescent(maxEpochs: 50_000, tolerance: 1e-12).train(features: p.phi(), targets: p.targets, from: p.theta0)
        #expect(run.converged)
        let oracle = try Retraining.minimumNormParameters(features: p.phi(), targets: p.targets, initialParameters: p.theta0).parameters
        let model = try MinNormModel(features: p.source(), targets: p.targets, initialParameters: p.theta0)
        #expect(try model.distance(of: run.parameters, toRetrained: oracle) <= 1e-6)
    }

    @Test("SGD with a decaying step approaches the least-squares solution (M < N)")
    func decayingScheduleUnderParameterized() throws {
        let p = try SyntheticProblem(samples: 100, features: 20, outputs: 1, seed: 42)
        let oracle = try Retraining.minimumNormParameters(features: p.phi(), targets: p.targets, initialParameters: p.theta0).parameters
        let model = try MinNormModel(features: p.source(), targets: p.targets, initialParameters: p.theta0)
        let short = try GradientDescent(schedule: .inverseTime(decay: 0.05), batchSize: 10, maxEpochs: 20, tolerance: 0, seed: 2)
            .train(features: p.phi(), targets: p.targets, from: p.theta0)
        let long = try GradientDescent(schedule: .inverseTime(decay: 0.05), batchSize: 10, maxEpochs: 2000, tolerance: 0, seed: 2)
            .train(features: p.phi(), targets: p.targets, from: p.theta0)
        let dShort = try model.distance(of: short.parameters, toRetrained: oracle)
        let dLong = try model.distance(of: long.parameters, toRetrained: oracle)
        #expect(dLong < dShort / 3 && dLong < 0.05, "distance \(dShort) after 20 epochs, \(dLong) after 2000")
    }

    @Test("gradient descent with a ridge converges to the ridge closed form")
    func ridge() throws {
        let p = try SyntheticProblem(samples: 40, features: 60, outputs: 2, seed: 43)
        let run = try GradientDescent(maxEpochs: 50_000, tolerance: 1e-12, ridge: 0.5).train(features: p.phi(), targets: p.targets, from: p.theta0)
        let oracle = try Retraining.minimumNormParameters(features: p.phi(), targets: p.targets, initialParameters: p.theta0, ridge: 0.5).parameters
        let model = try MinNormModel(features: p.source(), targets: p.targets, initialParameters: p.theta0, ridge: 0.5)
        #expect(try model.distance(of: run.parameters, toRetrained: oracle) <= 1e-6)
    }

    @Test("relabeling with the MUSO labels and fine-tuning by SGD reaches theta_R", arguments: [1, 6])
    func relabelSGD(forget k: Int) throws {
        let p = try SyntheticProblem(samples: 30, features: 120, outputs: 3, seed: 44)
        let model = try MinNormModel(features: p.source(), targets: p.targets, initialParameters: p.theta0)
        let ids = p.randomIDs(k, seed: 45)
        let trainer = GradientDescent(batchSize: 5, maxEpochs: 20_000, tolerance: 1e-13, seed: 3)
        let (theta, cert, run) = try model.relabelAndFineTune(forgetting: ids, using: trainer, verification: .oracle(.pseudoInverse))
        let thetaR = try model.retrainedParameters(excluding: ids, route: .pseudoInverse)
        let d = try model.distance(of: theta, toRetrained: thetaR)
        #expect(run.converged)
        #expect(d <= 1e-6, "distance \(d) after \(run.epochs) epochs")
        #expect(cert.oracleDistance.map { abs($0 - d) < 1e-12 } == true)
        #expect(!cert.isExact)  // iterative: close, not exact by construction
        // Fine-tuning on the original labels instead stays at theta*, far from theta_R.
        let stay = try trainer.train(features: p.phi(), targets: p.targets, from: model.parameters())
        #expect(try model.distance(of: stay.parameters, toRetrained: thetaR) > 1e-3)
    }

    @Test("bad settings are refused")
    func errors() throws {
        let p = try SyntheticProblem(samples: 10, features: 20, seed: 46)
        #expect(errorMessage { _ = try GradientDescent(stepSize: -1).train(features: p.phi(), targets: p.targets, from: p.theta0) }.contains("step size must be positive"))
        #expect(errorMessage { _ = try GradientDescent().train(features: p.phi(), targets: Matrix(rows: 9, columns: 1), from: p.theta0) }.contains("Y 9 x 1"))
        #expect(errorMessage { _ = try GradientDescent(stepSize: 100, maxEpochs: 500).train(features: p.phi(), targets: p.targets, from: p.theta0) }.contains("diverged"))
    }
}

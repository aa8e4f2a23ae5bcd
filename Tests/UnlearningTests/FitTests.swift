import Testing
import LinearAlgebra
import Unlearning
import TestSupport

@Suite("Fitting the min-norm model")
struct FitTests {
    @Test("dual fit interpolates and equals the pseudo-inverse solution (1)", arguments: [1, 10])
    func dualFit(outputs: Int) throws {
        let p = try SyntheticProblem(samples: 50, features: 160, outputs: outputs, seed: 20)
        let model = try MinNormModel(features: p.source(), targets: p.targets, initialParameters: p.theta0)
        #expect(model.form == .dual)
        let theta = try model.parameters()
        let phi = try p.phi()
        let oracle = try Retraining.minimumNormParameters(features: phi, targets: p.targets, initialParameters: p.theta0)
        #expect(oracle.rank == 50)
        #expect(try model.distance(of: theta, toRetrained: oracle.parameters) < 1e-10)
        // Interpolation: Phi theta = Y.
        #expect(try Matrix.relativeDistance(Fixtures.naiveProduct(phi, theta), p.targets) < 1e-10)
        #expect(try Matrix.relativeDistance(model.predict(features: phi), p.targets) < 1e-10)
        #expect(try Matrix.relativeDistance(model.predict(inputs: p.inputs), p.targets) < 1e-10)
    }

    @Test("primal fit equals the least-squares solution")
    func primalFit() throws {
        let p = try SyntheticProblem(samples: 120, features: 30, outputs: 3, seed: 21)
        let model = try MinNormModel(features: p.source(), targets: p.targets, initialParameters: p.theta0)
        #expect(model.form == .primal)
        let phi = try p.phi()
        let oracle = try Retraining.minimumNormParameters(features: phi, targets: p.targets, initialParameters: p.theta0)
        #expect(try model.distance(of: model.parameters(), toRetrained: oracle.parameters) < 1e-10)
        // Normal equations: Phi^T (Phi theta - Y) = 0.
        let g = Fixtures.naiveProduct(phi.transposed, try Fixtures.naiveProduct(phi, model.parameters()) - p.targets)
        #expect(g.frobeniusNorm / Fixtures.naiveProduct(phi.transposed, p.targets).frobeniusNorm < 1e-10)
    }

    @Test("ridge fit equals the augmented least-squares solution in both forms",
          arguments: [MinNormModel.Form.dual, .primal])
    func ridgeFit(form: MinNormModel.Form) throws {
        let p = try SyntheticProblem(samples: 60, features: 80, outputs: 2, seed: 22)
        let model = try MinNormModel(features: p.source(), targets: p.targets, initialParameters: p.theta0, ridge: 0.3, form: form)
        #expect(model.form == form)
        let oracle = try Retraining.minimumNormParameters(features: p.phi(), targets: p.targets, initialParameters: p.theta0, ridge: 0.3)
        #expect(try model.distance(of: model.parameters(), toRetrained: oracle.parameters) < 1e-10)
    }

    @Test("seeded theta0 is reproducible, has the asked spread, and is where training starts from")
    func seededInitialParameters() throws {
        let a = InitialParameters.gaussian(features: 400, outputs: 5, standardDeviation: 0.1, seed: 3)
        #expect(a == InitialParameters.gaussian(features: 400, outputs: 5, standardDeviation: 0.1, seed: 3))
        #expect(a != InitialParameters.gaussian(features: 400, outputs: 5, standardDeviation: 0.1, seed: 4))
        let variance = a.elements.reduce(0) { $0 + $1 * $1 } / 2000
        #expect(abs(variance - 0.01) < 0.001)
        // With theta0 != 0, theta* - theta0 lies in the row space of Phi:
        // theta* = theta0 + Phi^T A, checked by projecting with gelsd.
        let p = try SyntheticProblem(samples: 20, features: 60, seed: 24)
        let t0 = InitialParameters.gaussian(features: 60, outputs: 1, standardDeviation: 1, seed: 5)
        let model = try MinNormModel(features: p.source(), targets: p.targets, initialParameters: t0)
        let step = try model.parameters() - t0
        let coefficients = try Matrix.minimumNormSolution(p.phi().transposed, step).solution
        #expect(try Matrix.relativeDistance(Fixtures.naiveProduct(p.phi().transposed, coefficients), step) < 1e-10)
        #expect(try Matrix.relativeDistance(coefficients, model.dualCoefficients!) < 1e-8)
    }

    @Test("streamed and held features give the same model")
    func streamingMatchesMaterialized() throws {
        let p = try SyntheticProblem(samples: 40, features: 130, outputs: 2, seed: 23)
        let held = try MinNormModel(features: p.source(materialized: true), targets: p.targets, initialParameters: p.theta0)
        let streamed = try MinNormModel(features: p.source(materialized: false, blockSize: 16), targets: p.targets, initialParameters: p.theta0)
        #expect(try Matrix.relativeDistance(streamed.parameters(), held.parameters()) < 1e-12)
    }
}

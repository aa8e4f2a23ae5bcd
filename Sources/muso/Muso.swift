import ArgumentParser
import Foundation
import LinearAlgebra
import MusoCLI
import Unlearning

@main
struct Muso: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "muso",
        abstract: "Exact machine unlearning for min-norm random-feature models.",
        discussion: """
        Train a model on Fashion-MNIST, a CSV file or a .npy feature matrix; forget samples by id \
        exactly (the result equals retraining without them, to rounding), with a journal of every \
        request and its certificate; evaluate, inspect and export the model.
        """,
        subcommands: [Train.self, Forget.self, Inspect.self, Evaluate.self, Export.self, Experiment.self, Bench.self, Demo.self]
    )

    /// ArgumentParser's own entry, with the engine's progress reports sent
    /// to stderr's display (see `ProgressDisplay`) while the command runs.
    static func main() { mainObservingProgress() }
}

/// How far long work has got: the engine's loops (feature generation, Gram
/// accumulation block by block, factorisation, deletion of many samples)
/// report their steps here, and whoever runs them decides what to show.
///
/// Nothing is reported unless a handler is installed with `observing(_:_:)`
/// for the duration of a call; without one a report costs one task-local
/// read. The handler is called on the thread that does the work, between
/// steps (never inside a BLAS call), so it must be quick.
public enum WorkProgress {
    /// One report: `completed` of `total` units of the task done. A task that
    /// cannot count its progress (one LAPACK call) is one unit of
    /// `stepUnit`, reported at its start and its end.
    public struct Event: Sendable, Equatable {
        /// What is being done ("Gram matrix K = Phi Phi^T").
        public var task: String
        /// Units done so far (0 when the task starts).
        public var completed: Int
        /// Units in all.
        public var total: Int
        /// What a unit is ("blocks", "samples").
        public var unit: String

        /// The unit of a task that cannot count its progress.
        public static let stepUnit = "step"

        public init(task: String, completed: Int, total: Int, unit: String) {
            self.task = task; self.completed = completed; self.total = total; self.unit = unit
        }

        /// Whether the task is done.
        public var isFinished: Bool { completed >= total }
        /// Whether the task cannot count its progress (see `stepUnit`).
        public var isStep: Bool { unit == Self.stepUnit }
    }

    /// Receives the reports of the work run inside `observing`.
    public typealias Handler = @Sendable (Event) -> Void

    @TaskLocal static var handler: Handler?

    /// Runs `body`, sending the progress of the engine's work inside it to
    /// `handler` (nested calls: the innermost handler receives).
    public static func observing<R>(_ handler: @escaping Handler, _ body: () throws -> R) rethrows -> R {
        try $handler.withValue(handler, operation: body)
    }

    /// Runs `body` with no handler: for timed sections, which must run the
    /// same code whether or not someone watches (held features are
    /// accumulated block by block only when observed).
    public static func unobserved<R>(_ body: () throws -> R) rethrows -> R {
        try $handler.withValue(nil, operation: body)
    }

    /// Whether anyone is listening (to skip building a report's text).
    package static var isObserved: Bool { handler != nil }

    /// Reports that `completed` of `total` units of `task` are done.
    package static func report(_ task: @autoclosure () -> String, completed: Int, total: Int, unit: String) {
        guard let handler else { return }
        handler(Event(task: task(), completed: completed, total: total, unit: unit))
    }

    /// Runs one step that cannot count its own progress (one LAPACK call)
    /// as a task of one unit: reported at its start and at its end.
    package static func step<R, E: Error>(_ task: @autoclosure () -> String, _ body: () throws(E) -> R) throws(E) -> R {
        guard let handler else { return try body() }
        let name = task()
        handler(Event(task: name, completed: 0, total: 1, unit: Event.stepUnit))
        let result = try body()
        handler(Event(task: name, completed: 1, total: 1, unit: Event.stepUnit))
        return result
    }
}

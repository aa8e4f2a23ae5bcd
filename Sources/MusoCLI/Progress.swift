import ArgumentParser
import Foundation
import LinearAlgebra

/// What the commands show of long work on stderr:
/// - stderr a terminal: a progress bar (percentage, rate, time left) for
///   every task that has run for more than `threshold` seconds, redrawn
///   in place and replaced by one summary line when the task ends;
/// - `--progress` and stderr not a terminal: plain lines (every 10% and at
///   least every 30 s, and the summary), for logs of unattended runs;
/// - otherwise nothing, so that pipes and `--json` stay clean.
///
/// The engine's loops report through `WorkProgress` (feature generation,
/// Gram accumulation block by block, factorisation, deletions of many
/// samples); commands report their own rows and phases with `report` and
/// `ProgressDisplay.Counter`.
package final class ProgressDisplay: @unchecked Sendable {
    package enum Mode: Sendable, Equatable { case bar, lines, quiet }

    package var mode: Mode {
        get { lock.withLock { _mode } }
        set { lock.withLock { _mode = newValue } }
    }
    /// Seconds a task runs before anything of it is shown.
    package let threshold: Double
    private var _mode: Mode
    private let write: @Sendable (String) -> Void
    private let now: @Sendable () -> Double
    private let lock = NSLock()

    private struct Task {
        var event: WorkProgress.Event
        var started: Double
        var shown = false
        var lastLine = -1.0
        var lastDecile = -1
    }
    /// Tasks under way by name (a command's count of runs keeps its start
    /// time while the engine's tasks inside each run come and go).
    private var tasks: [String: Task] = [:]
    private var current: String?
    private var barOnScreen = false

    package init(mode: Mode, threshold: Double = 2, now: @escaping @Sendable () -> Double = ProgressDisplay.monotonicSeconds,
                 write: @escaping @Sendable (String) -> Void) {
        self._mode = mode
        self.threshold = threshold
        self.now = now
        self.write = write
    }

    package static func monotonicSeconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// A one-off message ("reading Fashion-MNIST"): on a terminal and with
    /// `--progress` only.
    package func message(_ text: String) {
        lock.withLock {
            switch _mode {
            case .quiet: return
            case .bar: clearBar(); write("… \(text)\n")
            case .lines: write("progress: \(text)\n")
            }
        }
    }

    /// Takes one report of the engine or of a command.
    package func handle(_ e: WorkProgress.Event) {
        lock.withLock {
            guard _mode != .quiet else { return }
            let t = now()
            if let old = tasks[e.task], !(e.completed == 0 && old.event.completed > 0) {
                tasks[e.task]?.event = e
            } else {
                tasks[e.task] = Task(event: e, started: t)
            }
            current = e.task
            render(at: t)
            if e.isFinished { tasks[e.task] = nil; current = nil }
        }
    }

    /// Redraws the current task (elapsed time of a step that cannot count
    /// itself); called by the ticker twice a second.
    package func tick() {
        lock.withLock { if current != nil, _mode != .quiet { render(at: now()) } }
    }

    private func render(at t: Double) {
        guard let name = current, var task = tasks[name] else { return }
        let e = task.event, elapsed = t - task.started
        if e.isFinished {
            if task.shown {
                clearBar()
                write((_mode == .lines ? "progress: " : "") + "\(e.task): \(countText(e)) in \(Self.duration(elapsed))\n")
            }
            return
        }
        guard elapsed >= threshold else { return }
        switch _mode {
        case .quiet: return
        case .bar:
            write("\r\u{1B}[2K" + line(e, elapsed: elapsed, bar: true))
            barOnScreen = true
        case .lines:
            let decile = e.total > 0 ? 10 * e.completed / e.total : 0
            guard decile > task.lastDecile || t - task.lastLine >= 30 else { return }
            write("progress: " + line(e, elapsed: elapsed, bar: false) + "\n")
            task.lastDecile = max(decile, task.lastDecile)
            task.lastLine = t
        }
        task.shown = true
        tasks[name] = task
    }

    private func clearBar() {
        if barOnScreen { write("\r\u{1B}[2K"); barOnScreen = false }
    }

    private func countText(_ e: WorkProgress.Event) -> String {
        e.isStep ? "done" : "\(e.completed)/\(e.total) \(e.unit)"
    }

    /// "task [#####-----] 50% 4/8 blocks, 1.9 blocks/s, 2 s left" (or the
    /// elapsed time alone for a task that cannot count).
    package func line(_ e: WorkProgress.Event, elapsed: Double, bar: Bool) -> String {
        let total = e.total
        guard total > 0, !e.isStep else {
            return "\(e.task): running for \(Self.duration(elapsed))"
        }
        let fraction = min(1, Double(e.completed) / Double(total))
        var text = "\(e.task)"
        if bar {
            let width = 24, filled = Int((fraction * Double(width)).rounded(.down))
            text += " [" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled) + "]"
        } else {
            text += ":"
        }
        text += String(format: " %3.0f%% ", 100 * fraction) + "\(e.completed)/\(total) \(e.unit)"
        if e.completed > 0, elapsed > 0 {
            let rate = Double(e.completed) / elapsed
            let left = Double(total - e.completed) / rate
            text += String(format: ", %.3g %@/s, ", rate, e.unit) + Self.duration(left) + " left"
        }
        return text
    }

    package static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        if s < 10 { return String(format: "%.1f s", s) }
        if s < 120 { return String(format: "%.0f s", s) }
        if s < 7200 { return String(format: "%d min %02d s", Int(s) / 60, Int(s) % 60) }
        return String(format: "%d h %02d min", Int(s) / 3600, Int(s) / 60 % 60)
    }
}

extension ParsableCommand {
    /// ArgumentParser's `main()`, with the command run inside
    /// `Progress.observing`: the engine's reports reach stderr's display.
    package static func mainObservingProgress() {
        do {
            var command = try parseAsRoot()
            try Progress.observing { try command.run() }
        } catch {
            exit(withError: error)
        }
    }
}

/// The process's display on stderr, and the commands' way to it.
package enum Progress {
    private static let isTerminal = isatty(STDERR_FILENO) != 0

    package static let display = ProgressDisplay(mode: isTerminal ? .bar : .quiet) { text in
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// `--progress`: plain lines when stderr is not a terminal.
    package static func requestLines() {
        if !isTerminal { display.mode = .lines }
    }

    /// A one-off message (see `ProgressDisplay.message`).
    package static func report(_ message: String) { display.message(message) }

    /// A command's own counted work ("benchmark rows", "seeds").
    package static func count(_ task: String, completed: Int, total: Int, unit: String) {
        display.handle(WorkProgress.Event(task: task, completed: completed, total: total, unit: unit))
    }

    /// Runs `body` with the engine's progress sent to the display, and a
    /// ticker that redraws the bar of a step that cannot count itself.
    package static func observing<R>(_ body: () throws -> R) rethrows -> R {
        let timer = DispatchSource.makeTimerSource(queue: .global(qos: .utility))
        timer.schedule(deadline: .now() + 0.5, repeating: 0.5)
        timer.setEventHandler { display.tick() }
        timer.resume()
        defer { timer.cancel() }
        return try WorkProgress.observing({ display.handle($0) }, body)
    }
}

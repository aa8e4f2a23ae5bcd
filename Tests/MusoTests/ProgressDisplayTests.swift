import Foundation
import Testing
import LinearAlgebra
import MusoCLI

/// A clock the test moves, and the text the display wrote.
final class Screen: @unchecked Sendable {
    private let lock = NSLock()
    private var text = ""
    private var time = 0.0
    func write(_ s: String) { lock.withLock { text += s } }
    var output: String { lock.withLock { text } }
    func now() -> Double { lock.withLock { time } }
    func advance(_ s: Double) { lock.withLock { time += s } }
}

@Suite("Progress display")
struct ProgressDisplayTests {
    func event(_ done: Int, _ total: Int, unit: String = "blocks") -> WorkProgress.Event {
        WorkProgress.Event(task: "Gram", completed: done, total: total, unit: unit)
    }

    @Test("lines mode: nothing before the threshold, then a line per tenth with rate and time left, and a summary")
    func lines() {
        let screen = Screen()
        let display = ProgressDisplay(mode: .lines, threshold: 2, now: { screen.now() }, write: { screen.write($0) })
        display.handle(event(0, 20))
        screen.advance(1)
        display.handle(event(1, 20))  // 1 s: under the threshold
        #expect(screen.output.isEmpty)
        screen.advance(3)
        display.handle(event(4, 20))  // 4 s, 4 of 20: 1 block/s, 16 s left
        #expect(screen.output == "progress: Gram:  20% 4/20 blocks, 1 blocks/s, 16 s left\n")
        screen.advance(0.5)
        display.handle(event(5, 20))  // 25%: the same tenth as 20%, and < 30 s since the last line
        #expect(screen.output.split(separator: "\n").count == 1)
        screen.advance(15.5)
        display.handle(event(20, 20))
        #expect(screen.output.hasSuffix("progress: Gram: 20/20 blocks in 20 s\n"))
    }

    @Test("quiet mode writes nothing; a short task shows nothing in any mode")
    func quiet() {
        for mode in [ProgressDisplay.Mode.quiet, .lines, .bar] {
            let screen = Screen()
            let display = ProgressDisplay(mode: mode, threshold: 2, now: { screen.now() }, write: { screen.write($0) })
            display.handle(event(0, 3))
            screen.advance(mode == .quiet ? 10 : 1)
            display.handle(event(2, 3))
            display.handle(event(3, 3))
            #expect(screen.output.isEmpty, "\(mode)")
        }
    }

    @Test("bar mode: the bar is redrawn in place and cleared before the summary")
    func bar() {
        let screen = Screen()
        let display = ProgressDisplay(mode: .bar, threshold: 2, now: { screen.now() }, write: { screen.write($0) })
        display.handle(event(0, 8))
        screen.advance(4)
        display.handle(event(4, 8))
        // 4 of 8 at 4 s: half the 24 marks, 1 block/s, 4 s left.
        #expect(screen.output == "\r\u{1B}[2KGram [############------------]  50% 4/8 blocks, 1 blocks/s, 4.0 s left")
        screen.advance(4)
        display.handle(event(8, 8))
        #expect(screen.output.hasSuffix("\r\u{1B}[2KGram: 8/8 blocks in 8.0 s\n"))
    }

    @Test("a step that cannot count shows its elapsed time on the ticker")
    func step() {
        let screen = Screen()
        let display = ProgressDisplay(mode: .lines, threshold: 2, now: { screen.now() }, write: { screen.write($0) })
        display.handle(WorkProgress.Event(task: "factor", completed: 0, total: 1, unit: "step"))
        screen.advance(2.5)
        display.tick()
        #expect(screen.output == "progress: factor: running for 2.5 s\n")
        display.handle(WorkProgress.Event(task: "factor", completed: 1, total: 1, unit: "step"))
        #expect(screen.output.hasSuffix("progress: factor: done in 2.5 s\n"))
    }
}

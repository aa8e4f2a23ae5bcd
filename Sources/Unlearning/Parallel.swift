import Dispatch
import Foundation

/// Runs `body` over `0..<count` split into contiguous chunks, one per core
/// (Dispatch's `concurrentPerform`). Used for elementwise work that BLAS does
/// not cover (cos/sin of a projection, ReLU), so it does not stay on one core.
/// `body` must only write to disjoint parts of shared memory.
func parallelChunks(_ count: Int, minimumChunk: Int = 4096, _ body: @Sendable (Range<Int>) -> Void) {
    let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
    let chunks = max(1, min(workers * 4, count / max(minimumChunk, 1)))
    if chunks == 1 { body(0..<count); return }
    let size = (count + chunks - 1) / chunks
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        let lo = c * size, hi = min(count, lo + size)
        if lo < hi { body(lo..<hi) }
    }
}

/// A pointer that may cross into `parallelChunks` bodies, each of which
/// writes a disjoint range.
struct SharedPointer: @unchecked Sendable {
    let base: UnsafeMutablePointer<Double>
}

struct SharedConstPointer: @unchecked Sendable {
    let base: UnsafePointer<Double>
}

import Foundation
import LinearAlgebra

/// Runs `body` over `0..<count` split into contiguous chunks, up to four per core
/// (Dispatch's `concurrentPerform`). Used for elementwise work that BLAS does
/// not cover (cos/sin of a projection, ReLU), so it does not stay on one core.
/// `body` must only write to disjoint parts of shared memory (pass pointers
/// as `KernelPointer` / `KernelConstPointer` of `LinearAlgebra`).
func parallelChunks(_ count: Int, minimumChunk: Int = 4096, _ body: @Sendable (Range<Int>) -> Void) {
    KernelThreads.forEachPart(of: count, parts: min(KernelThreads.count * 4, count / max(minimumChunk, 1)), body)
}

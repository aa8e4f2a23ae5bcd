/// An error from the linear-algebra layer.
///
/// Every case names the operation or the BLAS/LAPACK routine that refused, and
/// the shapes or the LAPACK `info` code behind the refusal, so that a message
/// reaching a user says what went wrong without a debugger.
public enum LinearAlgebraError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Two operands have incompatible shapes, e.g. `(3 x 4) * (5 x 2)`.
    case dimensionMismatch(operation: String, detail: String)
    /// A dimension or leading dimension does not fit the 32-bit integers of
    /// the BLAS/LAPACK interface (`blasint`, `lapack_int`).
    case indexOverflow(routine: String, value: Int)
    /// A LAPACK routine returned a nonzero `info` other than the ones given
    /// their own case below. `info < 0` means argument `-info` was illegal.
    case lapack(routine: String, info: Int)
    /// Cholesky factorisation failed: the leading minor of order `order` is not
    /// positive definite (LAPACK `dpotrf` returned `info = order`), or a
    /// deletion/downdate would make the matrix singular or indefinite.
    case notPositiveDefinite(routine: String, order: Int)
    /// An input held NaN or an infinity at the given (zero-based) position.
    case nonFinite(operation: String, row: Int, column: Int)
    /// A value outside the domain of the operation (negative size, index out
    /// of range, repeated index, ...).
    case invalidArgument(operation: String, detail: String)

    public var description: String {
        switch self {
        case let .dimensionMismatch(operation, detail):
            return "\(operation): dimension mismatch: \(detail)"
        case let .indexOverflow(routine, value):
            return "\(routine): the dimension \(value) does not fit the 32-bit BLAS/LAPACK integer (max \(Int32.max))"
        case let .lapack(routine, info):
            if info < 0 { return "\(routine): argument \(-info) had an illegal value (info = \(info))" }
            return "\(routine): failed with info = \(info)"
        case let .notPositiveDefinite(routine, order):
            return "\(routine): the matrix is not positive definite (the leading minor of order \(order) is not positive)"
        case let .nonFinite(operation, row, column):
            return "\(operation): non-finite value (NaN or infinity) at row \(row), column \(column)"
        case let .invalidArgument(operation, detail):
            return "\(operation): \(detail)"
        }
    }
}

/// Converts a Swift `Int` to the 32-bit integer of the BLAS/LAPACK interface,
/// or throws `indexOverflow` naming the routine.
@inline(__always)
func blasInt(_ value: Int, _ routine: String) throws(LinearAlgebraError) -> Int32 {
    guard let v = Int32(exactly: value) else {
        throw .indexOverflow(routine: routine, value: value)
    }
    return v
}

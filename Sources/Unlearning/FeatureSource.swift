import LinearAlgebra

/// How the entries of the feature matrix Phi are stored and defined.
public enum FeatureStorage: String, Sendable, CaseIterable, Codable {
    /// Doubles, as generated or given.
    case float64
    /// Every entry rounded to float32 (held in 4 bytes); all arithmetic on
    /// them in double. The model is then defined by the rounded features:
    /// retraining on them, by any route, gives the same parameters.
    case float32
}

/// The feature matrix Phi (N x M) of a training set: either held in memory
/// (a caller's own embeddings, or features materialised once), or generated
/// block by block from a `FeatureMap` and the inputs X (N x d).
///
/// Every operation the engine needs from Phi is offered on a subset S of its
/// rows and walks Phi in column blocks of `blockSize`, so in the generated
/// form memory stays O(|S| * blockSize) beyond the result.
public struct FeatureSource: Sendable {
    enum Storage: Sendable {
        /// Phi in memory; the map and inputs it came from, when there are.
        case materialized(Held, origin: Origin?)
        case generated(any FeatureMap, inputs: Matrix)
        case provided(any FeatureBlockProvider)
    }

    /// Phi held in memory, in doubles or rounded to float32.
    enum Held: Sendable {
        case double(Matrix)
        case single(Float32Matrix)

        func selectingRows(_ rows: [Int]) throws -> Held {
            switch self {
            case let .double(phi): .double(try phi.selectingRows(rows))
            case let .single(phi): .single(try phi.selectingRows(rows))
            }
        }
    }

    /// A feature map and the inputs it was applied to.
    struct Origin: Sendable {
        var map: any FeatureMap
        var inputs: Matrix
    }

    let storage: Storage
    /// N, the number of samples (rows of Phi).
    public let sampleCount: Int
    /// M, the number of features (columns of Phi).
    public let featureCount: Int
    /// Columns of Phi per block in Gram accumulation and products.
    public var blockSize: Int = 2048
    /// How Phi's entries are stored: with `.float32` every block, row and
    /// product sees the float32-rounded entries (`storing(_:)`).
    public private(set) var featureStorage: FeatureStorage = .float64

    init(storage: Storage, sampleCount: Int, featureCount: Int, featureStorage: FeatureStorage = .float64) {
        self.storage = storage
        self.sampleCount = sampleCount
        self.featureCount = featureCount
        self.featureStorage = featureStorage
    }

    /// The same features stored as `precision` says. `.float32` rounds every
    /// entry to float32 and keeps a held Phi in 4 bytes per entry; from then
    /// on the features *are* the rounded values (generated and provided
    /// blocks are rounded as they are made), so a model fitted on them is
    /// exact against retraining on the same rounded features.
    /// - Throws: `invalidArgument` to go back from `.float32` to `.float64`
    ///   (the rounding cannot be undone); `nonFinite` for an entry beyond
    ///   float32's range.
    /// - Complexity: O(N M) for a held Phi; O(1) otherwise.
    public func storing(_ precision: FeatureStorage) throws -> FeatureSource {
        if precision == featureStorage { return self }
        guard precision == .float32 else {
            throw UnlearningError.invalidArgument("the features are already rounded to float32; they cannot be stored as float64 again")
        }
        var copy = self
        copy.featureStorage = .float32
        if case let .materialized(.double(phi), origin) = storage {
            copy = FeatureSource(storage: .materialized(.single(try Float32Matrix(rounding: phi)), origin: origin),
                                 sampleCount: sampleCount, featureCount: featureCount, featureStorage: .float32)
            copy.blockSize = blockSize
        }
        return copy
    }

    /// A block as the model sees it: rounded to float32 when so stored.
    func stored(_ block: Matrix) -> Matrix {
        guard featureStorage == .float32 else { return block }
        var out = block
        out.withUnsafeMutableBufferPointer { p in
            for i in 0..<p.count { p[i] = Double(Float(p[i])) }
        }
        return out
    }

    /// The bytes of a held Phi (0 when it is not held).
    public var heldBytes: Int {
        switch storage {
        case let .materialized(.double(phi), _): phi.rows * phi.columns * MemoryLayout<Double>.size
        case let .materialized(.single(phi), _): phi.byteCount
        default: 0
        }
    }

    /// A caller's feature matrix (N x M), of any origin.
    /// - Throws: `nonFinite` naming the first NaN or infinity.
    public static func materialized(_ phi: Matrix) throws -> FeatureSource {
        try phi.requireFinite("the feature matrix")
        return FeatureSource(storage: .materialized(.double(phi), origin: nil), sampleCount: phi.rows, featureCount: phi.columns)
    }

    /// Features generated on demand by `map` from `inputs` (N x d).
    /// - Throws: `shapeMismatch` when d differs from the map's; `nonFinite`.
    public static func generated(by map: any FeatureMap, inputs: Matrix) throws -> FeatureSource {
        guard inputs.columns == map.inputDimension else {
            throw UnlearningError.shapeMismatch("the feature map takes \(map.inputDimension)-dimensional inputs, the data has \(inputs.columns) columns")
        }
        try inputs.requireFinite("the inputs")
        return FeatureSource(storage: .generated(map, inputs: inputs), sampleCount: inputs.rows, featureCount: map.featureCount)
    }

    /// A feature matrix read block by block from elsewhere (e.g. a memory-
    /// mapped `.npy` file larger than memory).
    public static func provided(by provider: any FeatureBlockProvider) -> FeatureSource {
        FeatureSource(storage: .provided(provider), sampleCount: provider.rowCount, featureCount: provider.columnCount)
    }

    /// Whether Phi is held in memory.
    public var isMaterialized: Bool {
        if case .materialized = storage { return true }
        return false
    }

    /// The inputs X (N x d) the features are generated from, when they are.
    public var inputs: Matrix? {
        switch storage {
        case let .generated(_, inputs): return inputs
        case let .materialized(_, origin): return origin?.inputs
        case .provided: return nil
        }
    }

    /// The feature map, when the features are generated (or were
    /// materialised from a map).
    public var featureMap: (any FeatureMap)? {
        switch storage {
        case let .generated(map, _): return map
        case let .materialized(_, origin): return origin?.map
        case .provided: return nil
        }
    }

    /// The same features held in memory (N x M doubles, or floats with
    /// `.float32` storage, generated block by block into them).
    /// - Complexity: one generation of Phi, O(N M d).
    public func materialize() throws -> FeatureSource {
        if isMaterialized { return self }
        let all = Array(0..<sampleCount)
        let held: Held
        if featureStorage == .float32 {
            // Each double block rounded straight into the float32 matrix.
            let task = "features Phi (\(sampleCount) x \(featureCount), float32)"
            let total = (featureCount + max(1, blockSize) - 1) / max(1, blockSize)
            var done = 0
            WorkProgress.report(task, completed: 0, total: total, unit: "blocks")
            held = .single(try Float32Matrix(rows: sampleCount, columns: featureCount, blockSize: blockSize) { cols in
                defer { done += 1; WorkProgress.report(task, completed: done, total: total, unit: "blocks") }
                // Unrounded: the float32 matrix rounds each block once.
                return try unroundedBlock(columns: cols)
            })
        } else if case let .generated(map as any FeatureMapWritingInPlace, inputs) = storage {
            // Block by block straight into Phi's storage (a block of columns
            // is a contiguous run of it), so that the generation can be
            // followed at no cost. At N = 8000, M = 32000 on 2 cores: 2.4-3.0 s
            // (the projection's DGEMM alone 2.0-2.3 s), where the blocks
            // generated apart and copied into a zero-filled Phi took 7.4-9.6 s;
            // one block of all columns was no faster (2.9-3.8 s, same runs).
            let n = sampleCount, m = featureCount
            let step = max(1, blockSize)
            let blocks = (m + step - 1) / step, task = "features Phi (\(n) x \(m))"
            held = .double(try Matrix(rows: n, columns: m) { out in
                for (done, lo) in stride(from: 0, to: n == 0 ? 0 : m, by: step).enumerated() {
                    WorkProgress.report(task, completed: done, total: blocks, unit: "blocks")
                    try map.writeFeatures(of: inputs, columns: lo..<min(m, lo + step), into: out.baseAddress! + lo * n)
                }
                WorkProgress.report(task, completed: blocks, total: blocks, unit: "blocks")
            })
        } else if WorkProgress.isObserved {
            // Block by block, so that the generation can be followed.
            var phi = Matrix(rows: sampleCount, columns: featureCount)
            try forEachColumnBlock(rows: all, progress: "features Phi (\(sampleCount) x \(featureCount))") { cols, block in
                try phi.setColumns(startingAt: cols.lowerBound, to: block)
            }
            held = .double(phi)
        } else {
            held = .double(try rows(all))
        }
        var origin: Origin?
        if case let .generated(map, inputs) = storage { origin = Origin(map: map, inputs: inputs) }
        var copy = FeatureSource(storage: .materialized(held, origin: origin), sampleCount: sampleCount,
                                 featureCount: featureCount, featureStorage: featureStorage)
        copy.blockSize = blockSize
        return copy
    }

    func checkRows(_ rows: [Int]) throws(UnlearningError) {
        if let bad = rows.first(where: { $0 < 0 || $0 >= sampleCount }) {
            throw .invalidArgument("feature row \(bad) out of 0..<\(sampleCount)")
        }
    }

    func isAllRows(_ rows: [Int]) -> Bool {
        guard rows.count == sampleCount else { return false }
        for (k, r) in rows.enumerated() where r != k { return false }
        return true
    }

    /// Calls `body(J, Phi[S, J])` for consecutive column blocks J, reporting
    /// each block done to `WorkProgress` under the name `progress` (when given).
    func forEachColumnBlock(rows: [Int], progress: String? = nil, _ outer: (Range<Int>, Matrix) throws -> Void) throws {
        try checkRows(rows)
        let all = isAllRows(rows)
        let step = max(1, blockSize)
        let blocks = (featureCount + step - 1) / step
        var done = 0
        if let progress { WorkProgress.report(progress, completed: 0, total: blocks, unit: "blocks") }
        func body(_ cols: Range<Int>, _ block: Matrix) throws {
            try outer(cols, block)
            done += 1
            if let progress { WorkProgress.report(progress, completed: done, total: blocks, unit: "blocks") }
        }
        switch storage {
        case let .materialized(.double(phi), _):
            let sub = all ? phi : nil
            for lo in stride(from: 0, to: featureCount, by: step) {
                let cols = lo..<min(featureCount, lo + step)
                let block = try sub?.selectingColumns(cols) ?? phi.selectingColumns(cols).selectingRows(rows)
                try body(cols, block)
            }
        case let .materialized(.single(phi), _):
            for lo in stride(from: 0, to: featureCount, by: step) {
                let cols = lo..<min(featureCount, lo + step)
                let block = phi.widenedColumns(cols)
                try body(cols, all ? block : try block.selectingRows(rows))
            }
        case let .generated(map, inputs):
            let x = all ? inputs : try inputs.selectingRows(rows)
            for lo in stride(from: 0, to: featureCount, by: step) {
                let cols = lo..<min(featureCount, lo + step)
                try body(cols, stored(try map.features(of: x, columns: cols)))
            }
        case let .provided(provider):
            for lo in stride(from: 0, to: featureCount, by: step) {
                let cols = lo..<min(featureCount, lo + step)
                let block = try provider.block(rows: rows, columns: cols)
                try block.requireFinite("the feature matrix (columns \(cols))")
                try body(cols, stored(block))
            }
        }
    }

    /// Phi_S (|S| x M), materialised.
    /// - Complexity: O(|S| M) memory; O(|S| M d) to generate.
    public func rows(_ rows: [Int]) throws -> Matrix {
        try checkRows(rows)
        switch storage {
        case let .materialized(.double(phi), _):
            return isAllRows(rows) ? phi : try phi.selectingRows(rows)
        case let .materialized(.single(phi), _):
            return isAllRows(rows) ? phi.widened : try phi.widenedRows(rows)
        case let .generated(map, inputs):
            return stored(try map.features(of: inputs.selectingRows(rows)))
        case let .provided(provider):
            let block = try provider.block(rows: rows, columns: 0..<featureCount)
            try block.requireFinite("the feature matrix")
            return stored(block)
        }
    }

    /// The Gram matrix Phi_S Phi_S^T + ridge I (|S| x |S|, both triangles),
    /// accumulated over column blocks with `dsyrk`.
    /// - Complexity: |S|^2 M flops (plus generation); memory O(|S|^2 + |S| blockSize).
    public func gram(rows: [Int], ridge: Double = 0) throws -> Matrix {
        var k = Matrix(rows: rows.count, columns: rows.count)
        let task = "Gram matrix K (\(rows.count) x \(rows.count))"
        if case let .materialized(.single(phi), _) = storage, isAllRows(rows) {
            // Each column block widened to double, then DSYRK.
            WorkProgress.report(task, completed: 0, total: (featureCount + blockSize - 1) / max(1, blockSize), unit: "blocks")
            try phi.addGram(into: &k, blockSize: blockSize) { done, total in
                WorkProgress.report(task, completed: done, total: total, unit: "blocks")
            }
        } else if case let .materialized(.double(phi), _) = storage, isAllRows(rows) {
            // DSYRK on the held matrix in place: in one call, or one per
            // column block (no copies) when the progress is followed.
            let step = WorkProgress.isObserved ? max(1, blockSize) : max(1, featureCount)
            let blocks = (featureCount + step - 1) / step
            let workspace = GramWorkspace.forBlocks(order: rows.count, blockWidth: step)
            for (done, lo) in stride(from: 0, to: featureCount, by: step).enumerated() {
                WorkProgress.report(task, completed: done, total: blocks, unit: "blocks")
                try k.addGram(of: phi, columns: lo..<min(featureCount, lo + step), workspace: workspace)
            }
            WorkProgress.report(task, completed: blocks, total: blocks, unit: "blocks")
        } else {
            let workspace = GramWorkspace.forBlocks(order: rows.count, blockWidth: blockSize)
            try forEachColumnBlock(rows: rows, progress: task) { _, block in
                try k.addGram(of: block, columns: 0..<block.columns, workspace: workspace)
            }
        }
        k.symmetrizeFromLower()
        k.addToDiagonal(ridge)
        return k
    }

    /// The primal matrix Phi_S^T Phi_S + ridge I (M x M), accumulated over row
    /// blocks of Phi_S with `dsyrk`.
    /// - Complexity: |S| M^2 flops; memory O(M^2 + M * rowBlock).
    public func covariance(rows: [Int], ridge: Double = 0) throws -> Matrix {
        try checkRows(rows)
        var h = Matrix(rows: featureCount, columns: featureCount)
        let step = max(1, min(blockSize, 4096))
        let task = "matrix H (\(featureCount) x \(featureCount))", chunks = (rows.count + step - 1) / step
        for (done, lo) in stride(from: 0, to: rows.count, by: step).enumerated() {
            WorkProgress.report(task, completed: done, total: chunks, unit: "blocks")
            let chunk = try self.rows(Array(rows[lo..<min(rows.count, lo + step)]))
            try h.addGram(of: chunk, transposing: true)
        }
        WorkProgress.report(task, completed: chunks, total: chunks, unit: "blocks")
        h.symmetrizeFromLower()
        h.addToDiagonal(ridge)
        return h
    }

    /// Phi_S theta (|S| x C) for parameters theta (M x C). With Phi held in
    /// memory this is one GEMM on the whole matrix (no copy of Phi), then the
    /// rows S are picked; generated, it runs block by block.
    /// - Complexity: 2 N M C flops held (N all samples), 2 |S| M C generated.
    public func apply(rows: [Int], to theta: Matrix) throws -> Matrix {
        guard theta.rows == featureCount else {
            throw UnlearningError.shapeMismatch("parameters have \(theta.rows) rows for \(featureCount) features")
        }
        try checkRows(rows)
        if case let .materialized(held, _) = storage {
            let all: Matrix
            switch held {
            case let .double(phi):
                // Few columns (C outputs): the panel kernel streams Phi once.
                all = theta.columns <= Matrix.panelColumns ? try Matrix.panelProduct(phi, theta) : try Matrix.product(phi, theta)
            case let .single(phi): all = try phi.product(theta)
            }
            return isAllRows(rows) ? all : try all.selectingRows(rows)
        }
        var out = Matrix(rows: rows.count, columns: theta.columns)
        try forEachColumnBlock(rows: rows, progress: "Phi theta (\(rows.count) samples)") { cols, block in
            let part = try theta.selectingRows(Array(cols))
            try out.addProduct(block, part)
        }
        return out
    }

    /// Phi_S^T a (M x C) for dual coefficients a (|S| x C). With Phi held in
    /// memory, a is scattered into an N x C matrix with zeros off S and one
    /// GEMM runs on the whole of Phi (no copy of Phi); generated, block by block.
    /// - Complexity: 2 N M C flops held, 2 |S| M C generated.
    public func applyTransposed(rows: [Int], to a: Matrix) throws -> Matrix {
        guard a.rows == rows.count else {
            throw UnlearningError.shapeMismatch("coefficients have \(a.rows) rows for \(rows.count) samples")
        }
        try checkRows(rows)
        if case let .materialized(held, _) = storage {
            var full = a
            if !isAllRows(rows) {
                full = Matrix(rows: sampleCount, columns: a.columns)
                for c in 0..<a.columns { for (k, r) in rows.enumerated() { full[r, c] = a[k, c] } }
            }
            switch held {
            case let .double(phi): return try Matrix.product(phi, full, transposingFirst: true)
            case let .single(phi): return try phi.transposedProduct(full)
            }
        }
        var out = Matrix(rows: featureCount, columns: a.columns)
        try forEachColumnBlock(rows: rows, progress: "Phi^T A (\(rows.count) samples)") { cols, block in
            let part = try Matrix.product(block, a, transposingFirst: true)
            try out.setRows(cols, to: part)
        }
        return out
    }
}

/// A source of column blocks of a feature matrix that is not held in memory
/// (a memory-mapped file, a database, another process). The engine asks for
/// blocks Phi[S, J] and keeps memory at O(|S| * |J|) per block.
public protocol FeatureBlockProvider: Sendable {
    /// N.
    var rowCount: Int { get }
    /// M.
    var columnCount: Int { get }
    /// Phi[rows, columns] as a rows.count x columns.count matrix.
    func block(rows: [Int], columns: Range<Int>) throws -> Matrix
}

extension FeatureSource {
    /// The features of the samples `rows` only, as a source of its own (row
    /// k of the result is row rows[k] of this one). Generated features keep
    /// generating: only the inputs X[rows] are copied (|rows| x d); a held
    /// matrix is copied (|rows| x M); a provider is read through the row map.
    /// - Complexity: O(|rows| d) generated, O(|rows| M) held, O(|rows|) provided.
    package func restricted(to rows: [Int]) throws -> FeatureSource {
        try checkRows(rows)
        var result: FeatureSource
        switch storage {
        case let .materialized(phi, origin):
            let sub = try phi.selectingRows(rows)
            result = FeatureSource(storage: .materialized(sub, origin: try origin.map { Origin(map: $0.map, inputs: try $0.inputs.selectingRows(rows)) }),
                                   sampleCount: rows.count, featureCount: featureCount, featureStorage: featureStorage)
        case let .generated(map, inputs):
            result = FeatureSource(storage: .generated(map, inputs: try inputs.selectingRows(rows)), sampleCount: rows.count,
                                   featureCount: featureCount, featureStorage: featureStorage)
        case let .provided(provider):
            result = FeatureSource(storage: .provided(RowSubsetProvider(base: provider, rows: rows)), sampleCount: rows.count,
                                   featureCount: featureCount, featureStorage: featureStorage)
        }
        result.blockSize = blockSize
        return result
    }

    /// Phi[:, columns] for every sample of this source (N x |columns|).
    /// - Complexity: O(N |columns| d) generated; a copy otherwise.
    package func block(columns: Range<Int>) throws -> Matrix {
        guard columns.lowerBound >= 0, columns.upperBound <= featureCount else {
            throw UnlearningError.invalidArgument("feature columns \(columns) out of 0..<\(featureCount)")
        }
        switch storage {
        case let .materialized(.double(phi), _): return try phi.selectingColumns(columns)
        case let .materialized(.single(phi), _): return phi.widenedColumns(columns)
        case .generated, .provided: return stored(try unroundedBlock(columns: columns))
        }
    }

    /// Phi[:, columns] of generated or provided features as the map or the
    /// provider gives them, before any float32 rounding (checked finite).
    private func unroundedBlock(columns: Range<Int>) throws -> Matrix {
        switch storage {
        case let .generated(map, inputs): return try map.features(of: inputs, columns: columns)
        case let .provided(provider):
            let block = try provider.block(rows: Array(0..<sampleCount), columns: columns)
            try block.requireFinite("the feature matrix (columns \(columns))")
            return block
        case .materialized: return try self.block(columns: columns)
        }
    }
}

/// A provider's rows `rows`, in that order.
struct RowSubsetProvider: FeatureBlockProvider {
    let base: any FeatureBlockProvider
    let rows: [Int]
    var rowCount: Int { rows.count }
    var columnCount: Int { base.columnCount }
    func block(rows subset: [Int], columns: Range<Int>) throws -> Matrix {
        try base.block(rows: subset.map { rows[$0] }, columns: columns)
    }
}

import Foundation
import LinearAlgebra
import Unlearning
import UnlearningIO

/// A distributed model on disk: a directory holding a manifest and one or
/// two block files per process.
///
///     <dir>/manifest.muso           metadata, journal, the replicated arrays
///                                   (theta0, Y, T, A0, A, theta, S's factor,
///                                   the inputs), and each rank's files with
///                                   their CRC-32 and size
///     <dir>/rank<r>.factor.g<G>     process r's blocks of L (written when
///                                   the model is factored, generation G)
///     <dir>/rank<r>.columns.g<G>    process r's blocks of W = K^{-1} E_F
///
/// Every file is a checksummed container (`ContainerFile`) written
/// atomically. A save writes the new block files under new names (the
/// generation), then rank 0 replaces the manifest atomically, then each
/// process removes the files the new manifest no longer names. A process
/// killed at any point leaves the previous manifest and every file it names
/// intact, so the previous model stays loadable; files of an unfinished
/// generation are removed by the next request. The manifest is read by
/// rank 0 and broadcast, so the block files need only be visible to their
/// own process (a shared or a node-local directory both work).
///
/// The inputs of forgotten samples are stored as zeros; until the next
/// refactorisation the factor L and W still derive from the original K,
/// which involved them (`forget --refactor` removes that too).
public struct DistributedModelStore {
    public static let manifestMagic: [UInt8] = Array("MUSOMPI".utf8) + [0]
    public static let blockMagic: [UInt8] = Array("MUSOBLK".utf8) + [0]
    public static let formatVersion: UInt32 = 1

    /// Everything saved beside the model's numbers.
    public struct Metadata: Codable, Sendable {
        public var featureMap: FeatureMapDescription
        public var data: DataDescription
        public var coding: TargetCoding
        public var journal: [JournalEntry]
        public var createdAt: String
        public init(featureMap: FeatureMapDescription, data: DataDescription, coding: TargetCoding, journal: [JournalEntry] = [],
                    createdAt: Date = Date()) {
            self.featureMap = featureMap
            self.data = data
            self.coding = coding
            self.journal = journal
            self.createdAt = ISO8601DateFormatter().string(from: createdAt)
        }
    }

    struct BlockFile: Codable, Equatable {
        var name: String
        var checksum: UInt32
        var bytes: Int
    }

    struct ArrayEntry: Codable { var name: String; var rows: Int; var columns: Int }

    struct Manifest: Codable {
        var generation: Int
        var gridRows: Int
        var gridColumns: Int
        var blockSize: Int
        var ridge: Double
        var conditionEstimate: Double
        var factorizations: Int
        var refactorFraction: Double
        var factorGeneration: Int
        var samples: Int
        var features: Int
        var outputs: Int
        var featureRows: [Int]
        var ids: [Int]
        var forgottenPositions: [Int]
        var metadata: Metadata
        /// Per rank: the factor file, then the columns file when |F| > 0.
        var blockFiles: [[BlockFile]]
        var arrays: [ArrayEntry]
    }

    struct BlockHeader: Codable, Equatable {
        var rank: Int
        var gridRows: Int
        var gridColumns: Int
        var rows: Int
        var columns: Int
        var blockSize: Int
        var localRows: Int
        var localColumns: Int
    }

    /// The manifest's path in `directory`.
    public static func manifestPath(_ directory: String) -> String { directory + "/manifest.muso" }

    /// A loaded model, its metadata, and the version of the manifest it was
    /// read from (a save refuses to replace a manifest that changed since).
    public struct Loaded {
        public var model: DistributedModel
        public var metadata: Metadata
        var generation: Int
        var blockFiles: [[BlockFile]]
        var identity: FileIdentity?
    }

    /// Saves `model` collectively. `previous` is what the model was loaded
    /// from (nil for a new directory); files it names and the new manifest
    /// does not are removed after the manifest is replaced.
    /// - Complexity: each process writes its blocks of L (only when the
    ///   model was refactored since `previous`) and of W; rank 0 writes
    ///   O(N (C + d) + M C + |F|^2) values.
    public static func save(_ model: inout DistributedModel, metadata: Metadata, to directory: String,
                            previous: Loaded?) throws {
        let comm = model.grid.communicator
        let generation = (previous?.generation ?? 0) + 1
        let grid = model.grid
        try comm.agree {
            if comm.rank == 0 {
                var isDirectory: ObjCBool = false
                if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                } else if !isDirectory.boolValue {
                    throw DataError.unwritable(path: directory, reason: "exists and is not a directory")
                }
            }
        }
        try comm.barrier()
        // 1. This process's block files.
        let factorGeneration = model.factorGeneration ?? generation
        var mine: [BlockFile] = try comm.agree {
            var files: [BlockFile] = []
            if model.factorGeneration != nil, let old = previous?.blockFiles[comm.rank].first {
                files.append(old)
            } else {
                files.append(try writeBlock(model.factor, name: "rank\(comm.rank).factor.g\(factorGeneration)", in: directory))
            }
            if let w = model.deletions?.inverseColumns {
                files.append(try writeBlock(w, name: "rank\(comm.rank).columns.g\(generation)", in: directory))
            }
            return files
        }
        FaultInjection.point("after-blocks")
        // 2. Every rank's entries on rank 0 (checksums and sizes; names follow from them).
        let checks = try mine.map { try comm.gather(Int($0.checksum)) }
        let sizes = try mine.map { try comm.gather($0.bytes) }
        var all: [[BlockFile]] = []
        for r in 0..<comm.size {
            var files = [BlockFile(name: "rank\(r).factor.g\(factorGeneration)", checksum: UInt32(checks[0][r]), bytes: sizes[0][r])]
            if mine.count > 1 { files.append(BlockFile(name: "rank\(r).columns.g\(generation)", checksum: UInt32(checks[1][r]), bytes: sizes[1][r])) }
            all.append(files)
        }
        if model.factorGeneration != nil, let old = previous?.blockFiles { for r in 0..<comm.size { all[r][0] = old[r][0] } }
        mine = all[comm.rank]
        // 3. The manifest, by rank 0.
        try comm.agree {
            guard comm.rank == 0 else { return }
            FaultInjection.point("before-manifest")
            var arrays: [(String, Matrix)] = [("theta0", model.initialParameters), ("targets", model.targets), ("offsets", model.offsets),
                                              ("dual0", model.originalDual), ("dual", model.dual), ("theta", model.parameters)]
            if let s = model.deletions?.schurFactor { arrays.append(("schur", s.lowerFactor)) }
            var featureRows = model.rows
            if let inputs = model.features.inputs {
                var x = try inputs.selectingRows(model.rows)
                for p in model.forgottenPositions { for j in 0..<x.columns { x[p, j] = 0 } }
                arrays.append(("inputs", x))
                featureRows = Array(0..<model.rows.count)
            }
            var meta = metadata
            if meta.featureMap.kind == .npy { meta.featureMap = meta.featureMap.withFeatureRows(featureRows) }
            let manifest = Manifest(generation: generation, gridRows: grid.rows, gridColumns: grid.columns, blockSize: model.blockSize,
                                    ridge: model.ridge, conditionEstimate: model.conditionEstimate, factorizations: model.factorizations,
                                    refactorFraction: model.refactorFraction, factorGeneration: factorGeneration,
                                    samples: model.rows.count, features: model.featureCount, outputs: model.outputCount,
                                    featureRows: featureRows, ids: model.ids, forgottenPositions: model.forgottenPositions,
                                    metadata: meta, blockFiles: all,
                                    arrays: arrays.map { ArrayEntry(name: $0.0, rows: $0.1.rows, columns: $0.1.columns) })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let json = [UInt8](try encoder.encode(manifest))
            _ = try withArrayBuffers(arrays.map { $0.1 }) { buffers in
                try ContainerFile.write(magic: manifestMagic, version: formatVersion, header: json, payload: buffers,
                                        to: manifestPath(directory), replacing: previous?.identity)
            }
        }
        FaultInjection.point("after-manifest")
        model.factorGeneration = factorGeneration
        // 4. Files of the previous generation that the new manifest does not name.
        removeUnreferenced(rank: comm.rank, keeping: Set(mine.map(\.name)), in: directory)
        try comm.barrier()
    }

    static func writeBlock(_ m: BlockCyclicMatrix, name: String, in directory: String) throws -> BlockFile {
        let header = BlockHeader(rank: m.grid.communicator.rank, gridRows: m.grid.rows, gridColumns: m.grid.columns,
                                 rows: m.rows, columns: m.columns, blockSize: m.blockSize,
                                 localRows: m.localRows, localColumns: m.localColumns)
        let json = [UInt8](try JSONEncoder().encode(header))
        let path = directory + "/" + name
        let crc = try m.local.withUnsafeBytes { p in
            try ContainerFile.write(magic: blockMagic, version: formatVersion, header: json,
                                    payload: [UnsafeRawBufferPointer(rebasing: p[0..<(8 * (m.localRows > 0 ? m.leadingDimension * m.localColumns : 0))])],
                                    to: path)
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        return BlockFile(name: name, checksum: crc, bytes: size)
    }

    /// Removes this rank's block files and temporaries in `directory` that
    /// are not in `keeping`.
    static func removeUnreferenced(rank: Int, keeping: Set<String>, in directory: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        let prefix = "rank\(rank)."
        for name in names {
            let isBlock = name.hasPrefix(prefix) && !keeping.contains(name)
            let isTemporary = name.hasPrefix("." + prefix) && name.contains(".tmp-")
            if isBlock || isTemporary { unlink(directory + "/" + name) }
        }
    }

    /// Loads a saved model collectively on a grid of the shape it was saved
    /// on. Rank 0 reads the manifest and broadcasts it; each process reads
    /// and checks its own block files (checksum against the manifest, sizes
    /// against the grid). Every field is checked against the others.
    /// - Parameters:
    ///   - directory: the model directory.
    ///   - comm: the processes (all of them call `load`).
    ///   - gridShape: the grid to expect (nil: the saved one).
    ///   - npyResolver: opens the .npy feature file of a model fitted on a
    ///     given feature matrix.
    ///   - cleaning: remove this rank's files the manifest does not
    ///     name (an interrupted save's); only while holding the model's lock.
    public static func load(from directory: String, communicator comm: Communicator, gridShape: (rows: Int, columns: Int)? = nil,
                            npyResolver: (String) throws -> FeatureSource, cleaning: Bool = false) throws -> (Loaded, ProcessGrid) {
        let path = manifestPath(directory)
        let (bytes, identity): ([UInt8], FileIdentity?) = try comm.agree {
            if comm.rank == 0 {
                let (b, id) = try InputFile.readIdentified(path)
                return (b, id)
            }
            return ([], nil)
        }
        let shared = try comm.broadcast(bytes)
        let (manifest, container) = try comm.agree { () throws -> (Manifest, ContainerFile.Contents) in
            let contents = try ContainerFile.parse(shared, path: path, magic: manifestMagic, version: formatVersion, kind: "distributed model")
            return (try contents.decodeHeader(Manifest.self, path: path), contents)
        }
        func bad(_ reason: String) -> DataError { .malformed(path: path, reason: "inconsistent distributed model: \(reason)") }
        guard manifest.gridRows >= 1, manifest.gridColumns >= 1, manifest.gridRows * manifest.gridColumns == comm.size else {
            throw DistributedError.grid("\(path) was saved on a \(manifest.gridRows) x \(manifest.gridColumns) grid; run it with mpirun -np \(manifest.gridRows * manifest.gridColumns) --grid \(manifest.gridRows)x\(manifest.gridColumns) (this job has \(comm.size) processes)")
        }
        if let shape = gridShape, shape != (manifest.gridRows, manifest.gridColumns) {
            throw DistributedError.grid("\(path) was saved on a \(manifest.gridRows) x \(manifest.gridColumns) grid, not \(shape.rows) x \(shape.columns)")
        }
        let grid = try ProcessGrid(communicator: comm, rows: manifest.gridRows, columns: manifest.gridColumns)
        let n = manifest.samples, m = manifest.features, c = manifest.outputs, f = manifest.forgottenPositions.count
        guard n >= 1, m >= 1, c >= 1, manifest.blockSize >= 1, manifest.ids.count == n, manifest.featureRows.count == n,
              Set(manifest.ids).count == n, Set(manifest.forgottenPositions).count == f, f < n,
              manifest.forgottenPositions.allSatisfy({ (0..<n).contains($0) }),
              manifest.blockFiles.count == comm.size, manifest.blockFiles.allSatisfy({ $0.count == (f > 0 ? 2 : 1) }),
              manifest.ridge >= 0, manifest.ridge.isFinite, manifest.refactorFraction > 0 else {
            throw bad("sizes, ids, forgotten positions or block files disagree")
        }
        // The replicated arrays.
        var arrays: [String: Matrix] = [:]
        var offset = 0
        let expected: [String: (Int, Int)] = ["theta0": (m, c), "targets": (n, c), "offsets": (n, c), "dual0": (n, c), "dual": (n, c),
                                              "theta": (m, c), "schur": (f, f), "inputs": (n, manifest.metadata.featureMap.inputDimension ?? -1)]
        for entry in manifest.arrays {
            guard let shape = expected[entry.name], arrays[entry.name] == nil, shape == (entry.rows, entry.columns) else {
                throw bad("array '\(entry.name)' (\(entry.rows) x \(entry.columns)) is unknown, repeated or of the wrong shape")
            }
            let (count, o1) = entry.rows.multipliedReportingOverflow(by: entry.columns)
            let (length, o2) = count.multipliedReportingOverflow(by: 8)
            guard entry.rows >= 0, entry.columns >= 0, !o1, !o2, length <= container.payload.count - offset else {
                throw bad("array '\(entry.name)' (\(entry.rows) x \(entry.columns)) runs past the payload")
            }
            let matrix = try Matrix(rows: entry.rows, columns: entry.columns, elements: container.doubles(at: offset, count: count))
            if let (i, j) = matrix.firstNonFiniteEntry { throw bad("array '\(entry.name)' holds a non-finite value at row \(i), column \(j)") }
            arrays[entry.name] = matrix
            offset += 8 * count
        }
        guard offset == container.payload.count else { throw bad("\(container.payload.count - offset) payload bytes belong to no array") }
        for name in ["theta0", "targets", "offsets", "dual0", "dual", "theta"] where arrays[name] == nil { throw bad("array '\(name)' is missing") }
        guard (f > 0) == (arrays["schur"] != nil) else { throw bad("the factor of S is missing or superfluous") }
        // The features.
        let features: FeatureSource
        let map = manifest.metadata.featureMap
        if map.kind == .npy {
            guard let npy = map.path else { throw bad("the feature file's path is missing") }
            features = try comm.agree { try npyResolver(npy) }
            guard features.featureCount == m, manifest.featureRows.allSatisfy({ (0..<features.sampleCount).contains($0) }) else {
                throw bad("the feature file \(npy) does not have the rows and \(m) columns the model names")
            }
        } else {
            guard let x = arrays["inputs"], manifest.featureRows == Array(0..<n) else { throw bad("the inputs are missing") }
            let made = try map.makeMap()
            guard made.featureCount == m else { throw bad("the feature map has \(made.featureCount) features, the model \(m)") }
            features = try FeatureSource.generated(by: made, inputs: x)
        }
        // This process's blocks.
        let files = manifest.blockFiles[comm.rank]
        if cleaning { removeUnreferenced(rank: comm.rank, keeping: Set(files.map(\.name)), in: directory) }
        let factor = try comm.agree {
            try readBlock(directory + "/" + files[0].name, expected: files[0], rows: n, columns: n, blockSize: manifest.blockSize, grid: grid)
        }
        let w = try comm.agree {
            f > 0 ? try readBlock(directory + "/" + files[1].name, expected: files[1], rows: n, columns: f, blockSize: manifest.blockSize, grid: grid) : nil
        }
        var deletions: DistributedModel.Deletions?
        if let w {
            guard let l = arrays["schur"], l.rows == f, l.columns == f else {
                throw bad("\(f) forgotten positions but no \(f) x \(f) factor of S = G[F, F] ('schur')")
            }
            deletions = DistributedModel.Deletions(positions: manifest.forgottenPositions, inverseColumns: w,
                                                   schurFactor: try Cholesky(lowerFactor: l))
        } else if arrays["schur"] != nil {
            throw bad("a factor of S = G[F, F] ('schur') with no forgotten positions")
        }
        var model = DistributedModel(grid: grid, blockSize: manifest.blockSize, ridge: manifest.ridge, features: features,
                                     rows: manifest.featureRows, ids: manifest.ids, targets: arrays["targets"]!,
                                     initialParameters: arrays["theta0"]!, offsets: arrays["offsets"]!, factor: factor,
                                     originalDual: arrays["dual0"]!, dual: arrays["dual"]!, parameters: arrays["theta"]!,
                                     deletions: deletions,
                                     conditionEstimate: manifest.conditionEstimate, factorizations: manifest.factorizations,
                                     refactorFraction: manifest.refactorFraction, factorGeneration: manifest.factorGeneration)
        for p in model.forgottenPositions where (0..<c).contains(where: { model.dual[p, $0] != 0 }) {
            throw bad("the dual coefficient of forgotten position \(p) is not zero")
        }
        model.refactorFraction = manifest.refactorFraction
        return (Loaded(model: model, metadata: manifest.metadata, generation: manifest.generation, blockFiles: manifest.blockFiles,
                       identity: identity), grid)
    }

    static func readBlock(_ path: String, expected: BlockFile, rows: Int, columns: Int, blockSize: Int,
                          grid: ProcessGrid) throws -> BlockCyclicMatrix {
        // The local shape from the sizes alone; the file's header and
        // payload length are checked against it before the blocks are
        // allocated, and the payload is read straight into them (a factor
        // file is N^2 / (P Q) values: it is never held twice).
        let localRows = ProcessGrid.localCount(rows, block: blockSize, index: grid.myRow, of: grid.rows)
        let localColumns = ProcessGrid.localCount(columns, block: blockSize, index: grid.myColumn, of: grid.columns)
        let want = BlockHeader(rank: grid.communicator.rank, gridRows: grid.rows, gridColumns: grid.columns, rows: rows, columns: columns,
                               blockSize: blockSize, localRows: localRows, localColumns: localColumns)
        let (count, o1) = (localRows > 0 ? localRows : 0).multipliedReportingOverflow(by: localColumns)
        let (length, o2) = count.multipliedReportingOverflow(by: 8)
        guard !o1, !o2 else { throw DataError.malformed(path: path, reason: "impossible block sizes") }
        guard let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int, size == expected.bytes else {
            throw DataError.malformed(path: path, reason: "is not the block file the manifest names (missing, or its size differs)")
        }
        let reader = try ContainerFile.StreamReader(path: path, magic: blockMagic, version: formatVersion, kind: "block")
        let header: BlockHeader
        do { header = try JSONDecoder().decode(BlockHeader.self, from: Data(reader.header.bytes)) } catch {
            throw DataError.malformed(path: path, reason: "corrupted header: \(error)")
        }
        guard header == want, reader.header.payloadLength == length else {
            throw DataError.malformed(path: path, reason: "holds blocks of another shape, grid or process than the manifest names")
        }
        var m = try BlockCyclicMatrix(rows: rows, columns: columns, blockSize: blockSize, grid: grid)
        var crc: UInt32 = 0
        if count > 0 {
            // localRows > 0: the local storage is exactly `count` values,
            // read in place (a second array would double the peak: measured
            // 7.6 GB against 5.0 GB per process at N = 30000).
            crc = try m.local.withUnsafeMutableBytes { try reader.readPayload(into: $0) }
        } else {
            crc = try reader.readPayload(into: UnsafeMutableRawBufferPointer(start: nil, count: 0))
        }
        guard crc == expected.checksum else {
            throw DataError.malformed(path: path, reason: "is not the block file the manifest names (checksum differs)")
        }
        if let bad = m.local.firstIndex(where: { !$0.isFinite }) {
            throw DataError.malformed(path: path, reason: "non-finite value at local index \(bad)")
        }
        return m
    }
}

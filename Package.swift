// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "MUSO",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "LinearAlgebra", targets: ["LinearAlgebra"]),
        .library(name: "Unlearning", targets: ["Unlearning"]),
        .library(name: "UnlearningIO", targets: ["UnlearningIO"]),
        .library(name: "Network", targets: ["Network", "NetworkIO"]),
        .executable(name: "muso", targets: ["muso"]),
        // Past one machine: needs OpenMPI and ScaLAPACK; the products above do not.
        .library(name: "DistributedUnlearning", targets: ["DistributedUnlearning"]),
        .executable(name: "muso-mpi", targets: ["muso-mpi"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // `swift package generate-documentation` (scripts/docs); a command
        // plugin, built only when documentation is generated.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // Headers and link flags only; no stable API (see its README).
        .systemLibrary(
            name: "_COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),
        .target(
            name: "LinearAlgebra",
            dependencies: ["_COpenBLAS", "_CKernels"]
        ),
        // Vectorised kernels (sin/cos; panel products for triangular
        // factors), one build per instruction set, dispatched at run time. No
        // stable API (see its README).
        .target(
            name: "_CKernels"
        ),
        .target(
            name: "Unlearning",
            // _CKernels: the cos/sin kernel of the random Fourier map (SinCos.swift).
            dependencies: ["LinearAlgebra", "_CKernels"]
        ),
        // The network extension: an MLP on BLAS, MUSO's relabel/fine-tune.
        .target(
            name: "Network",
            dependencies: ["LinearAlgebra", "Unlearning"]
        ),
        // zlib: gzip-compressed IDX files and CRC-32. No stable API.
        .systemLibrary(
            name: "_CZlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // Data formats (IDX, CSV, NPY) and the model file.
        .target(
            name: "UnlearningIO",
            dependencies: ["Unlearning", "LinearAlgebra", "_CZlib"]
        ),
        // The network file: where the network extension meets the file formats.
        .target(
            name: "NetworkIO",
            dependencies: ["Network", "UnlearningIO", "LinearAlgebra"]
        ),
        // What the two commands share: data and model options, loading, output.
        .target(
            name: "MusoCLI",
            dependencies: [
                "Unlearning", "LinearAlgebra", "UnlearningIO",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "muso",
            dependencies: [
                "Unlearning", "LinearAlgebra", "UnlearningIO", "Network", "MusoCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // MPI, BLACS and ScaLAPACK headers and link flags. No stable API.
        .systemLibrary(
            name: "_CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["openmpi-bin", "libopenmpi-dev", "libscalapack-openmpi-dev"])]
        ),
        // A PMPI profiling layer counting the bytes each process sends
        // (ScaLAPACK's messages included). No stable API.
        .target(
            name: "_CMPITraffic",
            dependencies: ["_CMPI"]
        ),
        // Training and exact unlearning on a P x Q process grid.
        .target(
            name: "DistributedUnlearning",
            dependencies: ["LinearAlgebra", "Unlearning", "UnlearningIO", "_CMPI", "_CMPITraffic"]
        ),
        .executableTarget(
            name: "muso-mpi",
            dependencies: [
                "DistributedUnlearning", "Unlearning", "LinearAlgebra", "UnlearningIO", "MusoCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "TestSupport",
            dependencies: ["LinearAlgebra", "Unlearning"],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "LinearAlgebraTests",
            // _CKernels: the panel kernels called on buffers at every alignment.
            dependencies: ["LinearAlgebra", "_CKernels", "TestSupport"]
        ),
        .testTarget(
            name: "UnlearningTests",
            dependencies: ["Unlearning", "LinearAlgebra", "TestSupport"]
        ),
        .testTarget(
            name: "NetworkTests",
            dependencies: ["Network", "NetworkIO", "Unlearning", "UnlearningIO", "LinearAlgebra", "TestSupport"]
        ),
        .testTarget(
            name: "MusoTests",
            dependencies: ["muso", "muso-mpi", "MusoCLI", "TestSupport", "UnlearningIO", "LinearAlgebra"]
        ),
        .testTarget(
            name: "UnlearningIOTests",
            dependencies: ["UnlearningIO", "NetworkIO", "Unlearning", "LinearAlgebra", "TestSupport"]
        ),
    ]
)

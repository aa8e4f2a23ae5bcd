// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "MUSO",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "LinearAlgebra", targets: ["LinearAlgebra"]),
        .library(name: "Unlearning", targets: ["Unlearning"]),
        .library(name: "UnlearningIO", targets: ["UnlearningIO"]),
        .library(name: "Network", targets: ["Network"]),
        .executable(name: "muso", targets: ["muso"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
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
            dependencies: ["Unlearning", "LinearAlgebra", "Network", "_CZlib"]
        ),
        .executableTarget(
            name: "muso",
            dependencies: [
                "Unlearning", "LinearAlgebra", "UnlearningIO", "Network",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "TestSupport",
            dependencies: ["LinearAlgebra", "Unlearning", "UnlearningIO"],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "LinearAlgebraTests",
            dependencies: ["LinearAlgebra", "TestSupport"]
        ),
        .testTarget(
            name: "UnlearningTests",
            dependencies: ["Unlearning", "LinearAlgebra", "TestSupport"]
        ),
        .testTarget(
            name: "NetworkTests",
            dependencies: ["Network", "Unlearning", "UnlearningIO", "LinearAlgebra", "TestSupport"]
        ),
        .testTarget(
            name: "MusoTests",
            dependencies: ["muso", "TestSupport"]
        ),
        .testTarget(
            name: "UnlearningIOTests",
            dependencies: ["UnlearningIO", "Unlearning", "LinearAlgebra", "TestSupport"]
        ),
    ]
)

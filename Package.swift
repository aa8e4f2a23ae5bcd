// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "MUSO",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "LinearAlgebra", targets: ["LinearAlgebra"]),
        .library(name: "Unlearning", targets: ["Unlearning"]),
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
            dependencies: ["_COpenBLAS"],
            swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
        ),
        .target(
            name: "Unlearning",
            dependencies: ["LinearAlgebra"]
        ),
        .executableTarget(
            name: "muso",
            dependencies: [
                "Unlearning", "LinearAlgebra",
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
            dependencies: ["LinearAlgebra", "TestSupport"]
        ),
        .testTarget(
            name: "UnlearningTests",
            dependencies: ["Unlearning", "LinearAlgebra", "TestSupport"]
        ),
    ]
)

// swift-tools-version: 6.1
// The package-benchmark (ordo-one/benchmark) benchmarks of the engine, in a
// package of their own so that `swift test` in the root never builds them.
// Run: swift package --package-path Benchmarks benchmark
import PackageDescription

let package = Package(
    name: "MUSOBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(name: "MUSO", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "UnlearningBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "LinearAlgebra", package: "MUSO"),
                .product(name: "Unlearning", package: "MUSO"),
                .product(name: "UnlearningIO", package: "MUSO"),
            ],
            path: "Benchmarks/UnlearningBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)

// swift-tools-version: 6.1
// Coverage-guided fuzzing of every reader of untrusted bytes (libFuzzer,
// with AddressSanitizer). Its own package so that neither `swift build` nor
// `swift test` of the root builds it: the executable has no `main` (libFuzzer
// supplies it). Build and run through scripts/fuzz.
import PackageDescription

let package = Package(
    name: "MusoFuzz",
    dependencies: [
        .package(name: "MUSO", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "MusoFuzz",
            dependencies: [
                .product(name: "UnlearningIO", package: "MUSO"),
                .product(name: "Network", package: "MUSO"),
            ]
        ),
    ]
)

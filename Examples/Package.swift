// swift-tools-version: 6.1
// Examples that use the library products as a dependency, the way another
// package would: the README's worked example and a model on a feature
// matrix of your own. CI builds and runs both (scripts/examples); each exits
// with status 1 if its result is not what it says.
import PackageDescription

let package = Package(
    name: "MUSOExamples",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "MUSO", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "ReadmeExample",
            dependencies: [
                .product(name: "LinearAlgebra", package: "MUSO"),
                .product(name: "Unlearning", package: "MUSO"),
            ]
        ),
        .executableTarget(
            name: "OwnFeatures",
            dependencies: [
                .product(name: "LinearAlgebra", package: "MUSO"),
                .product(name: "Unlearning", package: "MUSO"),
            ]
        ),
    ]
)

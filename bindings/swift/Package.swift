// swift-tools-version:5.9
//
// LiteGate for iOS and macOS. `LiteGateFFI.xcframework` (the Rust static
// library and its C header) and `Sources/LiteGate/Generated/LiteGate.swift`
// (the UniFFI bindings) are build outputs: run `./build-xcframework.sh` on
// macOS first (see README.md).
import PackageDescription

let package = Package(
    name: "LiteGate",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "LiteGate", targets: ["LiteGate"]),
    ],
    targets: [
        .binaryTarget(name: "LiteGateFFI", path: "LiteGateFFI.xcframework"),
        .target(
            name: "LiteGate",
            dependencies: ["LiteGateFFI"],
            path: "Sources/LiteGate"
        ),
        .testTarget(
            name: "LiteGateTests",
            dependencies: ["LiteGate"],
            path: "Tests/LiteGateTests"
        ),
    ]
)

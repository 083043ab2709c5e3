// swift-tools-version:5.9
//
// LiteGate for iOS and macOS.
//
// Apps add it by URL (see README.md): the Rust core comes as a remote binary
// target (`LiteGateFFI.xcframework.zip` on the release page, pinned by its
// checksum), the Swift bindings and `PrivacyInfo.xcprivacy` from this
// package. `release.sh` writes `releaseVersion` and `releaseChecksum` below.
//
// Working on LiteGate itself (macOS): `./build-xcframework.sh`, then
// `LITEGATE_LOCAL_BINARY=1 swift test` uses the local
// `LiteGateFFI.xcframework` (so does any checkout before the first release).
import PackageDescription

let releaseVersion = "0.1.0"
let releaseChecksum = ""
let releaseBaseURL = "https://example.invalid/litegate/releases/download"

let useLocalBinary = releaseChecksum.isEmpty || Context.environment["LITEGATE_LOCAL_BINARY"] != nil
let ffiTarget: Target = useLocalBinary
    ? .binaryTarget(name: "LiteGateFFI", path: "LiteGateFFI.xcframework")
    : .binaryTarget(
        name: "LiteGateFFI",
        url: "\(releaseBaseURL)/v\(releaseVersion)/LiteGateFFI.xcframework.zip",
        checksum: releaseChecksum
    )

let package = Package(
    name: "LiteGate",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "LiteGate", targets: ["LiteGate"]),
    ],
    targets: [
        ffiTarget,
        .target(
            name: "LiteGate",
            dependencies: ["LiteGateFFI"],
            path: "Sources/LiteGate",
            resources: [.copy("PrivacyInfo.xcprivacy")]
        ),
        .testTarget(
            name: "LiteGateTests",
            dependencies: ["LiteGate"],
            path: "Tests/LiteGateTests"
        ),
    ]
)

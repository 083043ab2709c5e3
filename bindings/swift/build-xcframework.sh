#!/usr/bin/env bash
# Builds LiteGateFFI.xcframework (iOS device, iOS simulator, macOS) and the
# Swift bindings for this package. macOS only: needs Xcode's command line
# tools (xcodebuild, lipo) and rustup.
#
#   ./build-xcframework.sh            release build
#   PROFILE=debug ./build-xcframework.sh
#
# Outputs (gitignored): LiteGateFFI.xcframework/ and
# Sources/LiteGate/Generated/LiteGate.swift. Then: `swift test` here, or add
# the package to an Xcode project.
set -euo pipefail

if [[ "$(uname -s)" != "Darwin" ]]; then
    echo "build-xcframework.sh runs on macOS (it needs xcodebuild and Apple SDKs)" >&2
    exit 1
fi

PACKAGE_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$PACKAGE_DIR/../.." && pwd)"
PROFILE="${PROFILE:-release}"
CARGO_PROFILE_FLAG=()
if [[ "$PROFILE" == "release" ]]; then CARGO_PROFILE_FLAG=(--release); fi
# The minimum iOS version must match Package.swift's platforms.
export IPHONEOS_DEPLOYMENT_TARGET=15.0
export MACOSX_DEPLOYMENT_TARGET=12.0

IOS=aarch64-apple-ios
IOS_SIM=(aarch64-apple-ios-sim x86_64-apple-ios)
MACOS=(aarch64-apple-darwin x86_64-apple-darwin)

cd "$ROOT"
rustup target add "$IOS" "${IOS_SIM[@]}" "${MACOS[@]}"
for target in "$IOS" "${IOS_SIM[@]}" "${MACOS[@]}"; do
    cargo build -p litegate-ffi --lib "${CARGO_PROFILE_FLAG[@]}" --target "$target"
done

# Bindings from the host library (library mode reads the metadata UniFFI
# embedded in it; every slice carries the same).
HOST_TARGET="$(rustc -vV | sed -n 's/^host: //p')"
cargo build --quiet --manifest-path crates/uniffi-bindgen/Cargo.toml --target-dir target/uniffi-bindgen
GEN="$ROOT/target/bindings/swift-xcframework"
rm -rf "$GEN"
target/uniffi-bindgen/debug/uniffi-bindgen generate --language swift --out-dir "$GEN" \
    "target/$HOST_TARGET/$PROFILE/liblitegate_ffi.dylib"

HEADERS="$GEN/headers"
mkdir -p "$HEADERS"
cp "$GEN/LiteGateFFI.h" "$HEADERS/"
# Inside an XCFramework the module map must be called module.modulemap.
cp "$GEN/LiteGateFFI.modulemap" "$HEADERS/module.modulemap"

# One fat library per platform: simulators (arm64 + x86_64), macOS (arm64 + x86_64).
FAT="$ROOT/target/bindings/fat"
mkdir -p "$FAT/ios-sim" "$FAT/macos"
lipo -create $(for t in "${IOS_SIM[@]}"; do echo "target/$t/$PROFILE/liblitegate_ffi.a"; done) \
    -output "$FAT/ios-sim/liblitegate_ffi.a"
lipo -create $(for t in "${MACOS[@]}"; do echo "target/$t/$PROFILE/liblitegate_ffi.a"; done) \
    -output "$FAT/macos/liblitegate_ffi.a"

rm -rf "$PACKAGE_DIR/LiteGateFFI.xcframework"
xcodebuild -create-xcframework \
    -library "target/$IOS/$PROFILE/liblitegate_ffi.a" -headers "$HEADERS" \
    -library "$FAT/ios-sim/liblitegate_ffi.a" -headers "$HEADERS" \
    -library "$FAT/macos/liblitegate_ffi.a" -headers "$HEADERS" \
    -output "$PACKAGE_DIR/LiteGateFFI.xcframework"

mkdir -p "$PACKAGE_DIR/Sources/LiteGate/Generated"
cp "$GEN/LiteGate.swift" "$PACKAGE_DIR/Sources/LiteGate/Generated/LiteGate.swift"
echo "built $PACKAGE_DIR/LiteGateFFI.xcframework and Sources/LiteGate/Generated/LiteGate.swift"

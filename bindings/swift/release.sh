#!/usr/bin/env bash
# The Swift release path: zips what build-xcframework.sh built, computes the
# checksums, and stamps Package.swift (remote binary target) and
# LiteGate.podspec.json with the version, URLs and checksums.
#
#   ./release.sh VERSION            after ./build-xcframework.sh (macOS)
#   ./release.sh checksum FILE      print the SwiftPM checksum (SHA-256) of FILE
#   ./release.sh stamp VERSION SWIFTPM_SHA256 POD_SHA256
#                                   rewrite Package.swift and the podspec only
#
# PACKAGE_DIR overrides the package directory (tests stamp a copy).
# Outputs: dist/LiteGateFFI.xcframework.zip (SwiftPM binary target) and
# dist/LiteGate-cocoapods.zip (the pod: xcframework, Swift sources, privacy
# manifest, LICENSE). Upload both to the release page named in
# Package.swift's `releaseBaseURL` under `vVERSION/`, then tag `vVERSION`.
set -euo pipefail

PACKAGE_DIR="${PACKAGE_DIR:-$(cd "$(dirname "$0")" && pwd)}"

checksum() {
    # `swift package compute-checksum` is SHA-256 of the file, hex; use it
    # where Swift exists so the two can never disagree.
    if command -v swift >/dev/null 2>&1; then
        swift package compute-checksum "$1"
    elif command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    else
        shasum -a 256 "$1" | cut -d' ' -f1
    fi
}

stamp() {
    local version="$1" swiftpm_sum="$2" pod_sum="$3"
    local manifest="$PACKAGE_DIR/Package.swift" podspec="$PACKAGE_DIR/LiteGate.podspec.json"
    sed -i.bak -e "s|^let releaseVersion = \".*\"|let releaseVersion = \"$version\"|" \
        -e "s|^let releaseChecksum = \".*\"|let releaseChecksum = \"$swiftpm_sum\"|" "$manifest"
    rm -f "$manifest.bak"
    local base
    base="$(sed -n 's|^let releaseBaseURL = "\(.*\)"|\1|p' "$manifest")"
    python3 - "$podspec" "$version" "$base/v$version/LiteGate-cocoapods.zip" "$pod_sum" <<'PY'
import json, sys
path, version, url, sha = sys.argv[1:5]
with open(path) as f:
    spec = json.load(f)
spec["version"] = version
spec["source"] = {"http": url, "sha256": sha}
with open(path, "w") as f:
    json.dump(spec, f, indent=2)
    f.write("\n")
PY
}

case "${1:-}" in
    checksum) checksum "$2" ;;
    stamp) stamp "$2" "$3" "$4" ;;
    "" | -h | --help) sed -n '2,16p' "$0" ;;
    *)
        version="$1"
        cd "$PACKAGE_DIR"
        [[ -d LiteGateFFI.xcframework ]] || { echo "run ./build-xcframework.sh first" >&2; exit 1; }
        rm -rf dist && mkdir -p dist/pod
        # ditto keeps the framework's symlinks and permissions as Xcode expects.
        ditto -c -k --sequesterRsrc --keepParent LiteGateFFI.xcframework dist/LiteGateFFI.xcframework.zip
        cp -R LiteGateFFI.xcframework dist/pod/
        mkdir -p dist/pod/Sources && cp -R Sources/LiteGate dist/pod/Sources/
        cp ../../LICENSE dist/pod/ 2>/dev/null || true
        (cd dist/pod && zip -qry ../LiteGate-cocoapods.zip .)
        stamp "$version" "$(checksum dist/LiteGateFFI.xcframework.zip)" "$(checksum dist/LiteGate-cocoapods.zip)"
        echo "dist/ ready; Package.swift and LiteGate.podspec.json stamped for $version"
        command -v pod >/dev/null 2>&1 && pod spec lint LiteGate.podspec.json --allow-warnings || echo "CocoaPods not installed: run 'pod spec lint LiteGate.podspec.json' on a Mac"
        ;;
esac

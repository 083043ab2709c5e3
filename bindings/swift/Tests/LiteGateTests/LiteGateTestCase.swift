import Foundation
import XCTest

@testable import LiteGate

/// Resets LiteGate's process-wide state around each test: no log sink
/// before or after, and a fresh storage directory per test. Clients are
/// released by ARC when a test ends.
class LiteGateTestCase: XCTestCase {
    private(set) var storageDir: URL!

    /// The fixtures shared with the Rust tests (`crates/litegate-ffi/tests/fixtures`).
    static let fixtures: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // LiteGateTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // swift
        .deletingLastPathComponent()  // bindings
        .deletingLastPathComponent()  // repository root
        .appendingPathComponent("crates/litegate-ffi/tests/fixtures")

    override func setUpWithError() throws {
        try super.setUpWithError()
        clearLogSink()
        storageDir = FileManager.default.temporaryDirectory
            .appendingPathComponent("litegate-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: storageDir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        clearLogSink()
        try? FileManager.default.removeItem(at: storageDir)
        try super.tearDownWithError()
    }

    func fixture(_ name: String) throws -> Data {
        try Data(contentsOf: Self.fixtures.appendingPathComponent(name))
    }

    func options(bootstrap: Data?, environment: String = "production") -> ClientOptions {
        ClientOptions(
            appId: "dev.litegate.tests",
            environment: environment,
            bootstrap: bootstrap,
            storageDir: storageDir.path
        )
    }

    func startClient(_ fixtureName: String? = "reasons.json") throws -> LiteGateClient {
        try LiteGateClient.start(options: options(bootstrap: fixtureName.map { try fixture($0) }))
    }

    func user(_ key: String) -> EvaluationContext {
        EvaluationContext(targetingKey: key)
    }
}

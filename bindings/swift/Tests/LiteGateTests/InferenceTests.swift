import CryptoKit
import Foundation
import XCTest

@testable import LiteGate

/// Mirrors the Kotlin InferenceTest. Needs LiteRT for the host and the face
/// detector: set LITEGATE_LITERT_LIB and LITEGATE_FACE_MODEL, else skipped.
final class InferenceTests: LiteGateTestCase {
    private func paths() throws -> (litert: String, model: Data) {
        let env = ProcessInfo.processInfo.environment
        guard let litert = env["LITEGATE_LITERT_LIB"], let model = env["LITEGATE_FACE_MODEL"],
            FileManager.default.fileExists(atPath: litert), FileManager.default.fileExists(atPath: model)
        else {
            throw XCTSkip("set LITEGATE_LITERT_LIB and LITEGATE_FACE_MODEL")
        }
        return (litert, try Data(contentsOf: URL(fileURLWithPath: model)))
    }

    private func client(_ model: Data, litert: String, flags: [String: Bool]) throws -> LiteGateClient {
        let sha = SHA256.hash(data: model).map { String(format: "%02x", $0) }.joined()
        let flagJson = flags.map { key, on in
            "\"\(key)\": {\"type\": \"bool\", \"variations\": {\"on\": true, \"off\": false}, \"off_variation\": \"off\", \"fallthrough\": {\"variation\": \"\(on ? "on" : "off")\"}}"
        }.joined(separator: ",")
        let doc = """
            {"format_version": 1, "environment": "production", "version": 3,
             "models": {"face": {"version": "0.6.0", "sha256": "\(sha)", "size": \(model.count), "engine": "litert"}},
             "flags": {\(flagJson)}}
            """
        var options = options(bootstrap: Data(doc.utf8))
        options.litertLibrary = litert
        options.defaultContext = EvaluationContext(targetingKey: "u1")
        return try LiteGateClient.start(options: options)
    }

    private func input() -> TensorData {
        var data = Data()
        for _ in 0..<(128 * 128 * 3) {
            withUnsafeBytes(of: Float(0.5).bitPattern.littleEndian) { data.append(contentsOf: $0) }
        }
        return TensorData(name: "input", dtype: .f32, shape: [1, 128, 128, 3], data: data)
    }

    func test_app_fallback_when_local_inference_is_off() async throws {
        let (litert, bytes) = try paths()
        let client = try client(bytes, litert: litert, flags: ["litert_enabled": false])
        let model = try client.loadModel(key: "face", bytes: bytes)
        let cloud = ClosureCloudFallback { _, _ in
            [TensorData(name: "cloud", dtype: .f32, shape: [1], data: Data(count: 4))]
        }
        guard case .appFallback(let outputs, let reasons) = try await client.run(model, inputs: [input()], fallback: cloud) else {
            return XCTFail("expected the app path")
        }
        XCTAssertEqual(outputs.first?.name, "cloud")
        XCTAssertFalse(reasons.isEmpty)
    }

    func test_integrity_and_input_errors_are_exceptions() throws {
        let (litert, bytes) = try paths()
        let client = try client(bytes, litert: litert, flags: [:])
        XCTAssertThrowsError(try client.loadModel(key: "missing", bytes: bytes))
        let model = try client.loadModel(key: "face", bytes: bytes)
        let wrong = TensorData(name: "input", dtype: .f32, shape: [1, 2], data: Data(count: 8))
        XCTAssertThrowsError(try client.runModel(model: model, inputs: [wrong], fallback: nil)) { error in
            guard case .InvalidInput? = error as? LiteGateError else {
                return XCTFail("expected InvalidInput, got \(error)")
            }
        }
    }
}

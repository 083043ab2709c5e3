// The LiteGate journey in an iOS app (Swift): start, log, set the context,
// evaluate. A snippet to copy into the app; it depends on the LiteGate
// Swift package (bindings/swift).
import Foundation
import LiteGate
import os

final class LiteGateDemo {
    let client: LiteGateClient
    private static let logger = Logger(subsystem: "com.example.app", category: "LiteGate")

    /// Start once, at app launch: returns at once with the bundled or cached config.
    init() throws {
        try LiteGateLogging.install(level: .info) { record in
            LiteGateDemo.logger.log(level: record.level.osLogType, "\(record.target): \(record.message)")
        }
        let bootstrap = try Bundle.main.url(forResource: "rollout", withExtension: "json").map { try Data(contentsOf: $0) }
        let storage = FileManager.default.urls(for: .applicationSupportDirectory, in: .userDomainMask)[0]
            .appendingPathComponent("litegate")
        client = try LiteGateClient.start(options: ClientOptions(
            appId: Bundle.main.bundleIdentifier ?? "com.example.app",
            environment: "production",
            configUrl: "https://config.example.com/rollout.json",
            bootstrap: bootstrap,
            storageDir: storage.path,
            defaultContext: EvaluationContext(targetingKey: "anonymous", os: "ios")
        ))
    }

    /// After sign-in: every evaluation now targets this user.
    func signedIn(userId: String, appVersion: String, tier: String) throws {
        try client.setContext(context: EvaluationContext(
            targetingKey: userId,
            os: "ios",
            osVersion: ProcessInfo.processInfo.operatingSystemVersionString,
            appVersion: appVersion,
            ramMb: Double(ProcessInfo.processInfo.physicalMemory) / 1_048_576,
            custom: ["tier": .text(value: tier)]
        ))
    }

    /// Evaluate: never throws, never blocks on the network.
    func chooseFaceModel() -> String {
        let details = client.stringDetails(key: "face_model_v2", defaultValue: "face-detector@1.0.0")
        if details.reason.isEmergencyOff {
            Self.logger.warning("face_model_v2 switched off remotely")
        }
        Self.logger.info("face model \(details.value) (\(details.reason.openFeatureName))")
        return details.value
    }
}

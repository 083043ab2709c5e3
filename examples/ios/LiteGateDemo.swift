// The LiteGate journey in an iOS app (Swift): start, log, set the context,
// evaluate, watch events, run a model with fallback, report outcomes to
// guardrails, go offline, record, flush. A snippet to copy into the app; it depends on the LiteGate
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
            metricsEndpoint: "https://otlp.example.com",
            defaultContext: EvaluationContext(targetingKey: "anonymous", os: "ios"),
            staleAfterIntervals: 3  // .stale after 3 poll intervals without a successful fetch
        ))
    }

    /// Watch what happens to the client: errors as well as changes.
    func watch() -> Task<Void, Never> {
        Task {
            for await event in client.events() {
                switch event {
                case .configRefused(let kind, let reason):
                    Self.logger.error("config refused (\(String(describing: kind))): \(reason)")
                case .stale(let intervals, _):
                    Self.logger.warning("no config fetch for \(intervals) intervals")
                case .guardrailTripped(let trip):
                    Self.logger.warning("guardrail \(trip.guardrail): \(trip.summary)")
                default:
                    Self.logger.debug("\(String(describing: event))")
                }
            }
        }
    }

    /// Low Data Mode or airplane mode: no network at all; flags keep working.
    func networkAllowed(_ allowed: Bool) {
        client.setOffline(offline: !allowed)
    }

    /// Tell the guardrails how the feature behind a flag went.
    func faceUnlockFinished(ok: Bool, latencyMs: Double) {
        _ = client.recordOutcome(flag: "face_model_v2", success: ok, latencyMs: latencyMs)
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

    /// Per-cell flag reads while configuring a list: each read is a lookup in
    /// the client's flag snapshot (no Rust evaluation per read, exposure
    /// included), so reading flags in `cellForRowAt` is fine.
    func cellShowsBadge() -> Bool {
        client.boolValue(key: "feed_badge", defaultValue: false)
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

    /// Run the face detector on the best local accelerator the flags and the
    /// device allow, else on the app's cloud endpoint when the
    /// `ai_fallback_to_cloud` flag allows it. `nil`: show the non-AI path.
    func detectFaces(modelPath: String, image: TensorData) async throws -> [TensorData]? {
        // Real async calls: the load and the run happen on LiteGate's own pool.
        let model = try await client.loadModelFileAsync(key: "face_detector", path: modelPath)  // verified against the config's SHA-256
        let cloud = ClosureCloudFallback { _, inputs in try CloudDetector.shared.detect(inputs) }
        switch try await client.run(model, inputs: [image], fallback: cloud) {
        case .local(let accelerator, _, _, let outputs, _, _):
            _ = client.track(name: "faces_detected", attributes: ["accelerator": .text(value: "\(accelerator)")])
            return outputs
        case .appFallback(let outputs, _):
            return outputs
        case .unavailable:
            return nil
        }
    }

    /// Record the app's own metrics next to LiteGate's.
    func checkoutCompleted(items: Int64, latencyMs: Double) {
        client.count(name: "checkouts", value: 1, labels: ["screen": "cart"])
        client.record(name: "checkout_latency_ms", value: latencyMs, labels: [:])
        _ = client.track(name: "checkout", attributes: ["items": .int(value: items)])
    }

    /// When the app goes to the background: upload what is pending (what
    /// fails stays persisted for the next launch).
    func didEnterBackground() async {
        _ = try? await client.flushMetrics(timeout: 5)
    }
}

/// The app's own cloud detector (not part of LiteGate).
final class CloudDetector: @unchecked Sendable {
    static let shared = CloudDetector()
    func detect(_ inputs: [TensorData]) throws -> [TensorData] { inputs }
}

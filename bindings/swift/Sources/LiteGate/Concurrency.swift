// Hand-written Swift layer over the generated bindings (module LiteGate).
import Foundation

extension LiteGateClient {
    /// Suspends until the first remote config fetch succeeded or `timeout`
    /// seconds pass. A real async call: the wait runs on LiteGate's own
    /// runtime and no thread of Swift's cooperative pool is held meanwhile.
    ///
    /// - Throws: `LiteGateError.NotReady` on timeout, without a config URL, or after shutdown.
    public func awaitReady(timeout: TimeInterval) async throws {
        try await readyAsync(timeoutMs: Self.millis(timeout))
    }

    /// Fetches the config now and suspends until that fetch finished.
    ///
    /// - Throws: `LiteGateError.NotReady` when the fetch failed or timed out (offline mode included).
    public func refreshNow(timeout: TimeInterval) async throws {
        try await refreshAsync(timeoutMs: Self.millis(timeout))
    }

    /// Persists and uploads pending metrics; suspends meanwhile.
    ///
    /// - Throws: `LiteGateError.Metrics` when stopped or timed out.
    public func flushMetrics(timeout: TimeInterval) async throws -> MetricsSummary {
        try await flushAsync(timeoutMs: Self.millis(timeout))
    }

    /// Runs `model` on LiteGate's blocking pool (see `runModel`); suspends meanwhile.
    public func run(
        _ model: LiteGateModel, inputs: [TensorData], fallback: CloudFallback? = nil
    ) async throws -> ModelRunResult {
        try await runModelAsync(model: model, inputs: inputs, fallback: fallback)
    }

    /// The client's events (ready, config applied, config refused with the
    /// reason, fetch failed, stale, guardrail trips, model fallbacks) as an
    /// `AsyncStream`: calling `events()` subscribes, ending the iteration (or
    /// cancelling its task) unsubscribes. Events are pulled with an async
    /// call; nothing blocks a thread.
    public func events() -> AsyncStream<ClientEvent> {
        let subscription = subscribeEvents()
        return AsyncStream { continuation in
            let pump = Task {
                while let event = await subscription.next() {
                    continuation.yield(event)
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in
                subscription.unsubscribe()
                pump.cancel()
            }
        }
    }

    /// The guardrail trips from now on, as they happen on this device.
    public func guardrailTripEvents() -> AsyncCompactMapSequence<AsyncStream<ClientEvent>, GuardrailTrip> {
        events().compactMap { event in
            if case .guardrailTripped(let trip) = event { return trip }
            return nil
        }
    }

    private static func millis(_ seconds: TimeInterval) -> UInt64 {
        UInt64(max(0, seconds) * 1000)
    }

    /// Config updates as an `AsyncStream`: iterating registers a listener,
    /// ending the iteration (or cancelling its task) removes it.
    public func configUpdates() -> AsyncStream<ConfigUpdate> {
        AsyncStream { continuation in
            let id = self.addConfigListener(listener: StreamListener(continuation))
            continuation.onTermination = { [self] _ in
                _ = self.removeListener(id: id)
            }
        }
    }

    /// The updates that changed flag `key`: re-read the flag when one arrives.
    public func flagChanges(_ key: String) -> AsyncFilterSequence<AsyncStream<ConfigUpdate>> {
        configUpdates().filter { $0.changedFlags.contains(key) }
    }

}

private final class StreamListener: ConfigListener, @unchecked Sendable {
    private let continuation: AsyncStream<ConfigUpdate>.Continuation

    init(_ continuation: AsyncStream<ConfigUpdate>.Continuation) {
        self.continuation = continuation
    }

    func onConfigChange(update: ConfigUpdate) throws {
        continuation.yield(update)
    }
}

/// A `CloudFallback` from a closure.
public final class ClosureCloudFallback: CloudFallback, @unchecked Sendable {
    private let handler: @Sendable (String, [TensorData]) throws -> [TensorData]

    public init(_ handler: @escaping @Sendable (String, [TensorData]) throws -> [TensorData]) {
        self.handler = handler
    }

    public func run(model: String, inputs: [TensorData]) throws -> [TensorData] {
        try handler(model, inputs)
    }
}

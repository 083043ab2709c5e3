// Hand-written Swift layer over the generated bindings (module LiteGate).
import Foundation

extension LiteGateClient {
    /// Waits, off the caller's thread, until the first remote config fetch
    /// succeeded or `timeout` seconds pass.
    ///
    /// - Throws: `LiteGateError.NotReady` on timeout or without a config URL.
    public func awaitReady(timeout: TimeInterval) async throws {
        let ms = UInt64(max(0, timeout) * 1000)
        try await Task.detached(priority: .utility) { [self] in
            try self.waitUntilReady(timeoutMs: ms)
        }.value
    }

    /// Persists and uploads pending metrics off the caller's thread.
    ///
    /// - Throws: `LiteGateError.Metrics` when stopped or timed out.
    public func flushMetrics(timeout: TimeInterval) async throws -> MetricsSummary {
        let ms = UInt64(max(0, timeout) * 1000)
        return try await Task.detached(priority: .utility) { [self] in
            try self.flush(timeoutMs: ms)
        }.value
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

    /// Runs `model` off the caller's thread (see `runModel`).
    public func run(
        _ model: LiteGateModel, inputs: [TensorData], fallback: CloudFallback? = nil
    ) async throws -> ModelRunResult {
        try await Task.detached(priority: .userInitiated) { [self] in
            try self.runModel(model: model, inputs: inputs, fallback: fallback)
        }.value
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

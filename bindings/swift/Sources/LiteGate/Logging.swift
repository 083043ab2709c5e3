// Hand-written Swift layer over the generated bindings (module LiteGate).
import Foundation

/// Sends LiteGate's log records to a closure.
///
/// ```swift
/// try LiteGateLogging.install(level: .info) { record in
///     logger.log(level: record.level.osLogType, "\(record.target): \(record.message)")
/// }
/// ```
public enum LiteGateLogging {
    /// Sends records at `level` and above to `handler`, replacing any
    /// previous sink. `handler` runs on the thread that logged, often a
    /// LiteGate background thread: keep it quick.
    ///
    /// - Throws: `LiteGateError.LogSinkUnavailable` when a Rust host already
    ///   installed a global `tracing` subscriber.
    public static func install(level: LogLevel, _ handler: @escaping @Sendable (LogRecord) -> Void) throws {
        try setLogSink(sink: ClosureLogSink(handler), level: level)
    }

    /// Stops forwarding log records.
    public static func uninstall() {
        clearLogSink()
    }
}

private final class ClosureLogSink: LogSink, @unchecked Sendable {
    private let handler: @Sendable (LogRecord) -> Void

    init(_ handler: @escaping @Sendable (LogRecord) -> Void) {
        self.handler = handler
    }

    func log(record: LogRecord) throws {
        handler(record)
    }
}

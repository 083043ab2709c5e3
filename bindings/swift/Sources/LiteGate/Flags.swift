// Hand-written Swift layer over the generated bindings (module LiteGate).
//
// Typed flag getters that read the client's flag snapshot: Rust evaluates
// every flag for the default context when the config, the context, an
// override or a guardrail trip changes and hands the whole snapshot over in
// one call (`flagSnapshot()`); a read is a dictionary lookup plus two
// direct C calls without heap allocation (the change counter, the exposure
// count). With a `context`, a getter evaluates in Rust
// (`boolDetailsFor(...)`). Getters never throw and never block on the
// network. See BENCHMARKS.md for the cost argument.
import Foundation

/// One flag of a decoded snapshot.
struct SnapshotFlagEntry {
    let index: UInt32
    let entry: SnapshotEntry
}

/// One immutable snapshot decoded for reads; `record.handle` keeps its
/// exposure counters alive in Rust.
final class DecodedSnapshot {
    let record: FlagSnapshot
    let flags: [String: SnapshotFlagEntry]

    init(_ record: FlagSnapshot) {
        self.record = record
        var flags = [String: SnapshotFlagEntry](minimumCapacity: record.flags.count)
        for (i, e) in record.flags.enumerated() {
            flags[e.key] = SnapshotFlagEntry(index: UInt32(i), entry: e)
        }
        self.flags = flags
    }

    /// Whether nothing changed since this snapshot was built.
    var isCurrent: Bool { record.handle.currentGeneration() == record.generation }

    var missingReason: Reason { record.ready ? .error : .notReady }
    var missingCode: ErrorCode { record.ready ? .flagNotFound : .providerNotReady }

    /// Counts one exposure (Rust drains the counts into metrics; the first
    /// one marks the flag in use for crash attribution).
    func expose(_ flag: SnapshotFlagEntry) {
        _ = record.handle.countExposure(index: flag.index)
    }
}

/// The snapshot state of one client.
final class FlagReader {
    private let lock = NSLock()
    private var current: DecodedSnapshot?

    /// The current snapshot, fetched again when Rust's change counter moved;
    /// nil when none can be had.
    func snapshot(_ client: LiteGateClient) -> DecodedSnapshot? {
        lock.lock()
        defer { lock.unlock() }
        if let s = current, s.isCurrent {
            return s
        }
        guard let record = try? client.flagSnapshot() else {
            return current
        }
        let fresh = DecodedSnapshot(record)
        current = fresh
        return fresh
    }
}

/// Finds the reader of a client without keeping the client alive.
final class FlagReaders {
    static let shared = FlagReaders()

    private struct Entry {
        weak var client: LiteGateClient?
        let reader: FlagReader
    }

    private let lock = NSLock()
    private var readers: [ObjectIdentifier: Entry] = [:]

    func reader(of client: LiteGateClient) -> FlagReader {
        let id = ObjectIdentifier(client)
        lock.lock()
        defer { lock.unlock() }
        if let e = readers[id], e.client === client {
            return e.reader
        }
        readers = readers.filter { $0.value.client != nil }
        let reader = FlagReader()
        readers[id] = Entry(client: client, reader: reader)
        return reader
    }
}

extension LiteGateClient {
    private func read<R>(
        _ key: String,
        _ value: (FlagValue, SnapshotEntry) -> R?,
        _ fallback: (Reason, ErrorCode?) -> R
    ) -> R {
        guard let snapshot = FlagReaders.shared.reader(of: self).snapshot(self) else {
            return fallback(.error, .general)
        }
        guard let flag = snapshot.flags[key] else {
            return fallback(snapshot.missingReason, snapshot.missingCode)
        }
        guard let v = flag.entry.details.value else {
            return fallback(flag.entry.details.reason, flag.entry.details.errorCode)
        }
        guard let served = value(v, flag.entry) else {
            return fallback(.error, .typeMismatch)
        }
        snapshot.expose(flag)
        return served
    }

    /// A bool flag for the default context, or `defaultValue`.
    public func boolValue(key: String, defaultValue: Bool) -> Bool {
        read(key, { v, _ in if case .boolValue(let b) = v { return b } else { return nil } }, { _, _ in defaultValue })
    }

    /// A string flag for the default context, or `defaultValue`.
    public func stringValue(key: String, defaultValue: String) -> String {
        read(key, { v, _ in if case .textValue(let s) = v { return s } else { return nil } }, { _, _ in defaultValue })
    }

    /// An int flag for the default context, or `defaultValue`.
    public func intValue(key: String, defaultValue: Int64) -> Int64 {
        read(key, { v, _ in if case .intValue(let i) = v { return i } else { return nil } }, { _, _ in defaultValue })
    }

    /// A float flag for the default context, or `defaultValue`.
    public func floatValue(key: String, defaultValue: Double) -> Double {
        read(key, { v, _ in if case .floatValue(let f) = v { return f } else { return nil } }, { _, _ in defaultValue })
    }

    /// A JSON flag as JSON text for the default context, or `defaultJson` exactly as given.
    public func jsonValue(key: String, defaultJson: String) -> String {
        read(key, { v, _ in if case .jsonValue(let j) = v { return j } else { return nil } }, { _, _ in defaultJson })
    }

    /// A bool flag with details; `context` replaces the default context for this call (evaluated in Rust).
    public func boolDetails(key: String, defaultValue: Bool, context: EvaluationContext? = nil) -> BoolDetails {
        if let context = context {
            return boolDetailsFor(key: key, defaultValue: defaultValue, context: context)
        }
        return read(
            key,
            { v, e in
                guard case .boolValue(let b) = v else { return nil }
                let d = e.details
                return BoolDetails(value: b, variation: d.variation, reason: d.reason, errorCode: d.errorCode, bucket: d.bucket)
            },
            { r, c in BoolDetails(value: defaultValue, variation: nil, reason: r, errorCode: c, bucket: nil) })
    }

    /// A string flag with details; `context` replaces the default context for this call.
    public func stringDetails(key: String, defaultValue: String, context: EvaluationContext? = nil) -> StringDetails {
        if let context = context {
            return stringDetailsFor(key: key, defaultValue: defaultValue, context: context)
        }
        return read(
            key,
            { v, e in
                guard case .textValue(let s) = v else { return nil }
                let d = e.details
                return StringDetails(value: s, variation: d.variation, reason: d.reason, errorCode: d.errorCode, bucket: d.bucket)
            },
            { r, c in StringDetails(value: defaultValue, variation: nil, reason: r, errorCode: c, bucket: nil) })
    }

    /// An int flag with details; `context` replaces the default context for this call.
    public func intDetails(key: String, defaultValue: Int64, context: EvaluationContext? = nil) -> IntDetails {
        if let context = context {
            return intDetailsFor(key: key, defaultValue: defaultValue, context: context)
        }
        return read(
            key,
            { v, e in
                guard case .intValue(let i) = v else { return nil }
                let d = e.details
                return IntDetails(value: i, variation: d.variation, reason: d.reason, errorCode: d.errorCode, bucket: d.bucket)
            },
            { r, c in IntDetails(value: defaultValue, variation: nil, reason: r, errorCode: c, bucket: nil) })
    }

    /// A float flag with details; `context` replaces the default context for this call.
    public func floatDetails(key: String, defaultValue: Double, context: EvaluationContext? = nil) -> FloatDetails {
        if let context = context {
            return floatDetailsFor(key: key, defaultValue: defaultValue, context: context)
        }
        return read(
            key,
            { v, e in
                guard case .floatValue(let f) = v else { return nil }
                let d = e.details
                return FloatDetails(value: f, variation: d.variation, reason: d.reason, errorCode: d.errorCode, bucket: d.bucket)
            },
            { r, c in FloatDetails(value: defaultValue, variation: nil, reason: r, errorCode: c, bucket: nil) })
    }

    /// A JSON flag with details (the value as JSON text); `context` replaces the default context for this call.
    public func jsonDetails(key: String, defaultJson: String, context: EvaluationContext? = nil) -> JsonDetails {
        if let context = context {
            return jsonDetailsFor(key: key, defaultJson: defaultJson, context: context)
        }
        return read(
            key,
            { v, e in
                guard case .jsonValue(let j) = v else { return nil }
                let d = e.details
                return JsonDetails(json: j, variation: d.variation, reason: d.reason, errorCode: d.errorCode, bucket: d.bucket)
            },
            { r, c in JsonDetails(json: defaultJson, variation: nil, reason: r, errorCode: c, bucket: nil) })
    }
}

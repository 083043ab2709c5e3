import Foundation
import XCTest

@testable import LiteGate

/// Mirrors the Kotlin SnapshotTest: the snapshot getters (Flags.swift)
/// answer as Rust does, changes reach every thread before listeners run,
/// 10,000 flags read correctly. (Exact exposure totals at a collector are
/// proven by the Rust and Kotlin suites: the collector here cannot gunzip.)
final class SnapshotTests: LiteGateTestCase {
    func test_snapshot_agrees_with_rust_for_every_flag() throws {
        let client = try startClient()
        try client.setContext(context: EvaluationContext(targetingKey: "qa-alice", ramMb: 8192))
        for key in client.flagKeys() {
            let rust = client.valueDetails(key: key)
            var variation: String?
            var reason: Reason
            var code: ErrorCode?
            switch rust.value {
            case .boolValue(let b)?:
                let d = client.boolDetails(key: key, defaultValue: !b)
                XCTAssertEqual(d.value, b, key)
                (variation, reason, code) = (d.variation, d.reason, d.errorCode)
            case .textValue(let s)?:
                let d = client.stringDetails(key: key, defaultValue: "dflt")
                XCTAssertEqual(d.value, s, key)
                (variation, reason, code) = (d.variation, d.reason, d.errorCode)
            case .intValue(let i)?:
                let d = client.intDetails(key: key, defaultValue: -1)
                XCTAssertEqual(d.value, i, key)
                (variation, reason, code) = (d.variation, d.reason, d.errorCode)
            case .floatValue(let f)?:
                let d = client.floatDetails(key: key, defaultValue: -1)
                XCTAssertEqual(d.value, f, key)
                (variation, reason, code) = (d.variation, d.reason, d.errorCode)
            case .jsonValue(let j)?:
                let d = client.jsonDetails(key: key, defaultJson: "{}")
                XCTAssertEqual(d.json, j, key)
                (variation, reason, code) = (d.variation, d.reason, d.errorCode)
            case nil:
                let d = client.boolDetails(key: key, defaultValue: true)
                XCTAssertTrue(d.value, key)
                (variation, reason, code) = (d.variation, d.reason, d.errorCode)
            }
            XCTAssertEqual(variation, rust.variation, key)
            XCTAssertEqual(reason, rust.reason, key)
            XCTAssertEqual(code, rust.errorCode, key)
        }
        XCTAssertEqual(client.intDetails(key: "by_rule", defaultValue: 0).reason, .ruleMatch(ruleId: "high-ram"))
        XCTAssertEqual(client.stringValue(key: "targeted", defaultValue: "none"), "beta")
        let missing = client.boolDetails(key: "nope", defaultValue: true)
        XCTAssertEqual(missing.errorCode, .flagNotFound)
        let mismatch = client.intDetails(key: "fixed_on", defaultValue: 5)
        XCTAssertEqual(mismatch.value, 5)
        XCTAssertEqual(mismatch.errorCode, .typeMismatch)
        XCTAssertEqual(client.jsonValue(key: "nope", defaultJson: "not json"), "not json")
        let other = client.stringDetails(key: "targeted", defaultValue: "none", context: user("bob"))
        XCTAssertEqual(other.value, "alpha")
    }

    func test_not_ready_without_a_config() throws {
        let client = try startClient(nil)
        let d = client.boolDetails(key: "fixed_on", defaultValue: true)
        XCTAssertEqual(d.value, true)
        XCTAssertEqual(d.reason, .notReady)
        XCTAssertEqual(d.errorCode, .providerNotReady)
    }

    func test_changes_are_visible_to_every_thread_before_listeners_fire() async throws {
        let server = try LoopbackServer()
        server.document = try fixture("reasons.json")
        var options = options(bootstrap: try fixture("reasons.json"))
        options.configUrl = "\(server.url)/config"
        let client = try LiteGateClient.start(options: options)
        try client.setContext(context: user("bob"))
        let phase = ManagedPhase()
        let failures = ManagedFailures()
        let group = DispatchGroup()
        for _ in 0..<8 {
            DispatchQueue.global().async(group: group) {
                while !phase.stopped {
                    let p = phase.value
                    let targeted = client.stringValue(key: "targeted", defaultValue: "none")
                    let fixed = client.boolDetails(key: "fixed_on", defaultValue: true)
                    if (1...2).contains(p) && targeted != "beta" { failures.add("phase \(p): \(targeted)") }
                    if p == 2 && fixed.value && phase.value == 2 { failures.add("phase 2: fixed_on still on") }
                    if p >= 4, case .globalDisable = fixed.reason {} else if p >= 4 { failures.add("phase 4: \(fixed.reason)") }
                }
            }
        }
        try client.setContext(context: user("qa-alice"))
        phase.value = 1
        client.setOverride(flag: "fixed_on", variation: "off")
        phase.value = 2
        phase.value = 3
        client.clearOverrides()
        let updates = client.flagChanges("fixed_on")
        server.document = try fixture("global_disable.json")
        client.refresh()
        var iterator = updates.makeAsyncIterator()
        let update = await iterator.next()
        phase.value = 4
        XCTAssertEqual(update?.newVersion, 8)
        Thread.sleep(forTimeInterval: 0.05)
        phase.stopped = true
        group.wait()
        XCTAssertEqual(failures.all, [])
    }

    func test_ten_thousand_flags_read_correctly() throws {
        var flags: [String] = []
        for i in 0..<10_000 {
            flags.append("\"flag_\(i)\": {\"type\": \"bool\", \"variations\": {\"on\": true, \"off\": false}, \"off_variation\": \"off\", \"fallthrough\": {\"percentage\": {\"percent\": 50, \"variation\": \"on\", \"otherwise\": \"off\"}}}")
        }
        let doc = "{\"format_version\": 1, \"environment\": \"production\", \"version\": 1, \"flags\": {\(flags.joined(separator: ","))}}"
        let client = try LiteGateClient.start(options: options(bootstrap: Data(doc.utf8)))
        try client.setContext(context: user("user-x"))
        var on = 0
        for i in 0..<10_000 where client.boolValue(key: "flag_\(i)", defaultValue: false) {
            on += 1
        }
        XCTAssertTrue((4_000...6_000).contains(on), "about half on: \(on)")
        for round in 0..<30 {
            try client.setContext(context: user("user-\(round)"))
            XCTAssertNotNil(client.boolDetails(key: "flag_\(round)", defaultValue: false).variation)
        }
    }
}

/// A phase number and a stop flag shared with reader threads.
private final class ManagedPhase: @unchecked Sendable {
    private let lock = NSLock()
    private var _value = 0
    private var _stopped = false
    var value: Int {
        get { lock.lock(); defer { lock.unlock() }; return _value }
        set { lock.lock(); _value = newValue; lock.unlock() }
    }
    var stopped: Bool {
        get { lock.lock(); defer { lock.unlock() }; return _stopped }
        set { lock.lock(); _stopped = newValue; lock.unlock() }
    }
}

/// Failures collected from reader threads.
private final class ManagedFailures: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.lock(); if items.count < 5 { items.append(s) }; lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}

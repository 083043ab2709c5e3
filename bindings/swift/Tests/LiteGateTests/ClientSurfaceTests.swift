import Foundation
import XCTest

@testable import LiteGate

/// Mirrors crates/litegate-ffi/tests/ffi_surface.rs and the Kotlin ClientSurfaceTest.
final class ClientSurfaceTests: LiteGateTestCase {
    private let guarded = Data("""
        {"format_version": 1, "environment": "production", "version": 1,
         "flags": {"new_model": {"type": "bool", "variations": {"on": true, "off": false},
                     "off_variation": "off", "fallthrough": {"variation": "on"}},
                   "banner": {"type": "string", "variations": {"a": "A", "b": "B"},
                     "off_variation": "a", "fallthrough": {"variation": "b"}}},
         "guardrails": {"errors": {"target": {"flag": "new_model"}, "metric": "error_rate", "op": ">",
                        "threshold": 5, "window": {"last": 20}, "min_samples": 10}}}
        """.utf8)

    private func client(_ configure: (inout ClientOptions) -> Void = { _ in }) throws -> LiteGateClient {
        var o = options(bootstrap: guarded)
        configure(&o)
        return try LiteGateClient.start(options: o)
    }

    private func trip(_ client: LiteGateClient) {
        for _ in 0..<9 { XCTAssertTrue(client.recordOutcome(flag: "new_model", success: true, latencyMs: 10)) }
        XCTAssertTrue(client.recordOutcome(flag: "new_model", success: false, latencyMs: 10))
    }

    func test_record_outcome_trips_lists_and_resets_guardrails() throws {
        let client = try client()
        XCTAssertTrue(client.guardrailTrips().isEmpty)
        trip(client)
        let trips = client.guardrailTrips()
        XCTAssertEqual(trips.count, 1)
        XCTAssertEqual(trips[0].guardrail, "errors")
        XCTAssertEqual(trips[0].flag, "new_model")
        let d = client.boolDetails(key: "new_model", defaultValue: true)
        XCTAssertFalse(d.value)
        XCTAssertEqual(d.reason, .guardrail(guardrail: "errors"))
        XCTAssertTrue(client.resetGuardrails(guardrail: "other").isEmpty)
        XCTAssertEqual(client.resetGuardrails().count, 1)
        XCTAssertTrue(client.guardrailTrips().isEmpty)
        XCTAssertTrue(client.boolValue(key: "new_model", defaultValue: false))
    }

    func test_record_outcome_refuses_latencies_outside_its_bound() throws {
        let client = try client()
        XCTAssertTrue(client.recordOutcome(flag: "new_model", success: true, latencyMs: 3_600_000))
        XCTAssertTrue(client.recordOutcome(flag: "new_model", success: true, latencyMs: 0))
        for bad in [3_600_000.1, -1, Double.nan, Double.infinity] {
            XCTAssertFalse(client.recordOutcome(flag: "new_model", success: false, latencyMs: bad))
        }
        for _ in 0..<8 { _ = client.recordOutcome(flag: "new_model", success: true, latencyMs: 1) }
        XCTAssertTrue(client.guardrailTrips().isEmpty)
    }

    func test_events_deliver_guardrail_trips_in_order() async throws {
        let client = try client()
        let trips = client.guardrailTripEvents()  // subscribed here
        trip(client)
        var iterator = trips.makeAsyncIterator()
        let first = await iterator.next()
        XCTAssertEqual(first?.guardrail, "errors")
        XCTAssertEqual(first?.flag, "new_model")
    }

    func test_all_flags_with_details_sorted_and_without_exposures() throws {
        let client = try client()
        client.setOverride(flag: "banner", variation: "a")
        let all = client.allFlags()
        XCTAssertEqual(all.map(\.key), ["banner", "new_model"])
        XCTAssertEqual(all[0].details.variation, "a")
        XCTAssertEqual(all[0].details.reason, .override)
        XCTAssertEqual(all[0].details.value, .textValue(value: "A"))
        XCTAssertEqual(all[1].details.reason, .fallthrough)
        XCTAssertEqual(try client.status().metrics.pendingEvents, 0)
    }

    func test_options_reach_the_core_and_are_bounded() throws {
        XCTAssertThrowsError(try client { $0.staleAfterIntervals = 0 }) { error in
            guard case .InvalidOption(let message)? = error as? LiteGateError else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("stale_after_intervals"))
        }
        XCTAssertThrowsError(try client { $0.staleAfterIntervals = 1001 })
        let client = try client {
            $0.staleAfterIntervals = 1000
            $0.offline = true
            $0.streaming = false
            $0.streamUrl = "http://127.0.0.1:9/stream"
            $0.metricsHeaders = ["x-api-key": "k"]
            $0.policyFlagKeys = PolicyFlagKeys(
                litertEnabled: "ml_on", litertGpuBackend: "ml_gpu", litertNpuBackend: "ml_npu",
                litertAdaptiveSwitching: "ml_adaptive", aiFallbackToCloud: "ml_cloud")
        }
        XCTAssertTrue(client.isOffline())
        client.setOffline(offline: false)
        XCTAssertFalse(client.isOffline())
    }

    func test_offline_mode_stops_all_network_use_while_reads_go_on() async throws {
        let server = try LoopbackServer()
        server.document = Data(String(decoding: guarded, as: UTF8.self)
            .replacingOccurrences(of: "\"version\": 1", with: "\"version\": 2").utf8)
        let client = try client {
            $0.configUrl = "\(server.url)/config"
            $0.metricsEndpoint = server.url
            $0.offline = true
        }
        client.refresh()
        try await Task.sleep(nanoseconds: 1_500_000_000)
        XCTAssertEqual(server.configRequests, 0, "no fetch while offline")
        XCTAssertTrue(client.boolValue(key: "new_model", defaultValue: false), "reads go on")
        _ = try? await client.flushMetrics(timeout: 5)
        XCTAssertEqual(server.postCount, 0, "no upload while offline")

        client.setOffline(offline: false)
        try await client.refreshNow(timeout: 30)
        XCTAssertEqual(client.configVersion(), 2)
        _ = try await client.flushMetrics(timeout: 30)
        XCTAssertGreaterThan(server.postCount, 0)

        client.setOffline(offline: true)
        let gets = server.configRequests
        let posts = server.postCount
        client.refresh()
        _ = try? await client.flushMetrics(timeout: 5)
        try await Task.sleep(nanoseconds: 1_500_000_000)
        XCTAssertEqual(server.configRequests, gets)
        XCTAssertEqual(server.postCount, posts)
    }

    func test_config_refused_and_stale_arrive_as_events() async throws {
        let server = try LoopbackServer()
        server.document = Data(String(decoding: guarded, as: UTF8.self)
            .replacingOccurrences(of: "production", with: "staging")
            .replacingOccurrences(of: "\"version\": 1", with: "\"version\": 5").utf8)
        let client = try client {
            $0.configUrl = "\(server.url)/config"
            $0.pollIntervalSeconds = 1
            $0.staleAfterIntervals = 2
        }
        // Refusals repeat with every (backed-off) poll; .stale comes once, after 2 intervals.
        var refused: ConfigRefusal?
        var staleIntervals: UInt32?
        for await event in client.events() {
            if case .configRefused(let kind, _) = event { refused = kind }
            if case .stale(let intervals, _) = event { staleIntervals = intervals }
            if refused != nil && staleIntervals != nil { break }
        }
        XCTAssertEqual(staleIntervals, 2)
        XCTAssertEqual(refused, .wrongEnvironment)
        XCTAssertEqual(client.configVersion(), 1, "the bootstrap stays in use")
    }

    func test_async_calls_suspend_without_holding_a_thread() async throws {
        let server = try LoopbackServer()  // no document: every fetch is a 404
        let client = try client { $0.configUrl = "\(server.url)/config" }
        do {
            try await client.awaitReady(timeout: 2)
            XCTFail("ready without a document")
        } catch LiteGateError.NotReady {
        }
        _ = client.shutdown(timeoutMs: 5_000)
        do {
            _ = try await client.flushMetrics(timeout: 1)
            XCTFail("flush after shutdown")
        } catch LiteGateError.Metrics {
        }
    }
}

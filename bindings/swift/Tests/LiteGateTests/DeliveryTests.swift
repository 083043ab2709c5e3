import Foundation
import XCTest

@testable import LiteGate

/// Mirrors the Kotlin DeliveryTest.
final class DeliveryTests: LiteGateTestCase {
    func test_config_is_fetched_from_a_loopback_server_and_listeners_fire() async throws {
        let server = try LoopbackServer()
        server.document = try fixture("reasons.json")
        var options = options(bootstrap: nil)
        options.configUrl = "\(server.url)/config"
        let client = try LiteGateClient.start(options: options)
        try await client.awaitReady(timeout: 60)
        XCTAssertEqual(client.configVersion(), 7)
        XCTAssertEqual(try client.status().configSource, .remote)

        let updates = client.flagChanges("fixed_on")
        server.document = try fixture("global_disable.json")
        client.refresh()
        var iterator = updates.makeAsyncIterator()
        let update = await iterator.next()
        XCTAssertEqual(update?.newVersion, 8)
        XCTAssertEqual(client.boolDetails(key: "fixed_on", defaultValue: true).reason, .globalDisable(reason: "incident 42"))
    }

    func test_wait_until_ready_without_a_url_is_an_error() throws {
        let client = try startClient()
        XCTAssertThrowsError(try client.waitUntilReady(timeoutMs: 10)) { error in
            guard case .NotReady(let message)? = error as? LiteGateError else {
                return XCTFail("expected NotReady, got \(error)")
            }
            XCTAssertTrue(message.contains("no config URL"), message)
        }
    }
}

/// Mirrors the Kotlin MetricsTest.
final class MetricsTests: LiteGateTestCase {
    func test_app_metrics_and_events_reach_a_loopback_collector() throws {
        let collector = try LoopbackServer()
        var options = options(bootstrap: try fixture("reasons.json"))
        options.metricsEndpoint = collector.url
        let client = try LiteGateClient.start(options: options)
        client.count(name: "app_clicks", value: 3, labels: ["screen": "home"])
        XCTAssertTrue(client.track(name: "checkout", attributes: ["items": .int(value: 2)]))
        let summary = try client.flush(timeoutMs: 60_000)
        XCTAssertGreaterThanOrEqual(summary.deliveredBatches, 1)
        XCTAssertTrue(collector.posts.contains { $0.path == "/v1/metrics" })
        XCTAssertTrue(collector.posts.contains { $0.path == "/v1/logs" })
    }

    func test_shutdown_is_safe_twice() throws {
        let client = try startClient()
        XCTAssertEqual(client.shutdown(timeoutMs: 10_000), .stopped)
        XCTAssertEqual(client.shutdown(timeoutMs: 10_000), .alreadyStopped)
        XCTAssertTrue(client.boolValue(key: "fixed_on", defaultValue: false))
    }
}

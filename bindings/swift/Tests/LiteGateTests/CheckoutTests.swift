// Written the way an app team tests its own code with LiteGate's test data:
// public API only (no @testable), no server, no fixture files, no device.
import Foundation
import LiteGate
import XCTest

/// The app's code under test.
final class CheckoutScreen {
    private let flags: LiteGateClient
    init(flags: LiteGateClient) { self.flags = flags }

    var flow: String { flags.boolValue(key: "new_checkout", defaultValue: false) ? "one-page" : "classic" }
    var banner: String { flags.stringValue(key: "checkout_banner", defaultValue: "none") }

    func pay(ok: Bool, millis: Double) {
        _ = flags.recordOutcome(flag: "new_checkout", success: ok, latencyMs: millis)
    }
}

final class CheckoutTests: XCTestCase {
    private var data: LiteGateTestData!
    private var client: LiteGateClient!

    override func setUpWithError() throws {
        data = LiteGateTestData()
            .flag("new_checkout") { $0.on(); $0.target(false, "qa-bob") }
            .flag("checkout_banner") { $0.variations(("none", ""), ("sale", "20% off")); $0.serve("sale") }
            .errorRateGuardrail(flag: "new_checkout", percent: 5, lastN: 20, minSamples: 10)
        client = try data.start()
    }

    override func tearDown() {
        _ = client.shutdown(timeoutMs: 1_000)
    }

    func test_uses_the_one_page_flow_when_the_flag_is_on() {
        let screen = CheckoutScreen(flags: client)
        XCTAssertEqual(screen.flow, "one-page")
        XCTAssertEqual(screen.banner, "20% off")
    }

    func test_falls_back_to_classic_when_the_flag_is_turned_off() throws {
        let screen = CheckoutScreen(flags: client)
        try data.flag("new_checkout") { $0.off() }.update(client)
        XCTAssertEqual(screen.flow, "classic")
    }

    func test_failing_payments_roll_the_flag_back_on_this_device() async {
        let screen = CheckoutScreen(flags: client)
        let trips = client.guardrailTripEvents()
        for _ in 0..<9 { screen.pay(ok: true, millis: 120) }
        screen.pay(ok: false, millis: 900)
        var iterator = trips.makeAsyncIterator()
        let trip = await iterator.next()
        XCTAssertEqual(trip?.guardrail, "new_checkout_errors")
        XCTAssertEqual(screen.flow, "classic")
    }
}

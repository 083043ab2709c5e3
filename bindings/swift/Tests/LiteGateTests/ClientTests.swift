import Foundation
import XCTest

@testable import LiteGate

/// Mirrors crates/litegate-ffi/tests/ffi_client.rs and the Kotlin ClientTest.
final class ClientTests: LiteGateTestCase {
    func test_fallthrough_serves_the_fixed_variation() throws {
        let d = try startClient().boolDetails(key: "fixed_on", defaultValue: false)
        XCTAssertTrue(d.value)
        XCTAssertEqual(d.variation, "on")
        XCTAssertEqual(d.reason, .fallthrough)
        XCTAssertNil(d.errorCode)
        XCTAssertEqual(d.reason.openFeatureName, "DEFAULT")
    }

    func test_target_match_for_a_listed_key() throws {
        let client = try startClient()
        let hit = client.stringDetails(key: "targeted", defaultValue: "none", context: user("qa-alice"))
        XCTAssertEqual(hit.value, "beta")
        XCTAssertEqual(hit.reason, .targetMatch)
        let miss = client.stringDetails(key: "targeted", defaultValue: "none", context: user("bob"))
        XCTAssertEqual(miss.value, "alpha")
        XCTAssertEqual(miss.reason, .fallthrough)
    }

    func test_rule_match_on_number_version_and_custom_attributes() throws {
        let client = try startClient()
        var ram = user("u")
        ram.ramMb = 8192
        let byRam = client.intDetails(key: "by_rule", defaultValue: 0, context: ram)
        XCTAssertEqual(byRam.value, 8)
        XCTAssertEqual(byRam.reason, .ruleMatch(ruleId: "high-ram"))
        var app = user("u")
        app.appVersion = "5.10"
        XCTAssertEqual(client.intDetails(key: "by_rule", defaultValue: 0, context: app).reason, .ruleMatch(ruleId: "new-app"))
        var gold = user("u")
        gold.custom = ["tier": "gold"]
        XCTAssertEqual(client.intDetails(key: "by_rule", defaultValue: 0, context: gold).reason, .ruleMatch(ruleId: "gold-tier"))
        let none = client.intDetails(key: "by_rule", defaultValue: 0, context: user("u"))
        XCTAssertEqual(none.value, 1)
        XCTAssertEqual(none.reason, .fallthrough)
    }

    func test_split_buckets_the_targeting_key() throws {
        let client = try startClient()
        let high = client.floatDetails(key: "split_half", defaultValue: 0, context: user("user-3"))
        XCTAssertEqual(high.reason, .split)
        XCTAssertEqual(high.value, 0.75)
        let bucket = try XCTUnwrap(high.bucket)
        XCTAssertLessThan(bucket, 50_000)
        let low = client.floatDetails(key: "split_half", defaultValue: 0, context: user("user-1"))
        XCTAssertEqual(low.value, 0.25)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(low.bucket), 50_000)
    }

    func test_off_kill_switch_and_prerequisite_serve_the_off_variation() throws {
        let client = try startClient()
        let off = client.boolDetails(key: "disabled", defaultValue: true)
        XCTAssertFalse(off.value)
        XCTAssertEqual(off.reason, .off)
        let killed = client.boolDetails(key: "killed", defaultValue: true)
        XCTAssertFalse(killed.value)
        XCTAssertEqual(killed.reason, .killSwitch(reason: "crash spike"))
        XCTAssertTrue(killed.reason.isEmergencyOff)
        XCTAssertEqual(client.boolDetails(key: "needs_disabled", defaultValue: true).reason, .prerequisiteFailed(flag: "disabled"))
    }

    func test_global_disable_turns_every_flag_off() throws {
        let client = try startClient("global_disable.json")
        let d = client.boolDetails(key: "fixed_on", defaultValue: true)
        XCTAssertEqual(d.reason, .globalDisable(reason: "incident 42"))
        XCTAssertFalse(d.value)
        XCTAssertEqual(client.configVersion(), 8)
    }

    func test_override_wins_until_cleared() throws {
        let client = try startClient()
        client.setOverride(flag: "fixed_on", variation: "off")
        let d = client.boolDetails(key: "fixed_on", defaultValue: true)
        XCTAssertFalse(d.value)
        XCTAssertEqual(d.reason, .override)
        client.clearOverrides()
        XCTAssertEqual(client.boolDetails(key: "fixed_on", defaultValue: false).reason, .fallthrough)
    }

    func test_not_ready_without_a_config() throws {
        let client = try startClient(nil)
        let d = client.boolDetails(key: "fixed_on", defaultValue: true)
        XCTAssertEqual(d.reason, .notReady)
        XCTAssertEqual(d.errorCode, .providerNotReady)
        XCTAssertTrue(d.value)
        XCTAssertNil(client.configVersion())
    }

    func test_error_codes_return_the_default() throws {
        let client = try startClient()
        let missing = client.boolDetails(key: "nope", defaultValue: true)
        XCTAssertEqual(missing.reason, .error)
        XCTAssertEqual(missing.errorCode, .flagNotFound)
        let mismatch = client.stringDetails(key: "fixed_on", defaultValue: "dflt")
        XCTAssertEqual(mismatch.errorCode, .typeMismatch)
        XCTAssertEqual(mismatch.value, "dflt")
        XCTAssertEqual(client.boolDetails(key: "broken", defaultValue: true).errorCode, .malformedFlag)
        var bad = user("u")
        bad.custom = ["v": .version(value: "x.y")]
        let d = client.intDetails(key: "by_rule", defaultValue: 3, context: bad)
        XCTAssertEqual(d.value, 3)
        XCTAssertEqual(d.errorCode, .invalidContext)
    }

    func test_json_and_any_type_values() throws {
        let client = try startClient()
        XCTAssertEqual(client.jsonValue(key: "model_params", defaultJson: "{}"), #"{"threshold":0.5,"labels":["face"]}"#)
        XCTAssertEqual(client.jsonValue(key: "nope", defaultJson: "not json"), "not json")
        XCTAssertEqual(client.valueDetails(key: "targeted").value, .textValue(value: "alpha"))
        XCTAssertNil(client.valueDetails(key: "nope").value)
    }

    func test_default_context_is_used_and_round_trips() throws {
        let client = try startClient()
        var ctx = user("qa-alice")
        ctx.appVersion = "6.0"
        ctx.custom = ["langs": ["en"]]
        try client.setContext(context: ctx)
        XCTAssertEqual(client.context(), ctx)
        XCTAssertEqual(client.stringValue(key: "targeted", defaultValue: "none"), "beta")
        XCTAssertEqual(client.intValue(key: "by_rule", defaultValue: 0), 8)
    }

    func test_bad_bootstrap_config_is_an_error() throws {
        XCTAssertThrowsError(try LiteGateClient.start(options: options(bootstrap: Data("{not json".utf8)))) { error in
            guard case .BootstrapRefused(let message)? = error as? LiteGateError else {
                return XCTFail("expected BootstrapRefused, got \(error)")
            }
            XCTAssertTrue(message.hasPrefix("the bootstrap config was refused: not valid JSON at line 1"), message)
        }
    }

    func test_wrong_environment_is_an_error() throws {
        let options = options(bootstrap: try fixture("reasons.json"), environment: "staging")
        XCTAssertThrowsError(try LiteGateClient.start(options: options)) { error in
            guard case .WrongEnvironment(let message)? = error as? LiteGateError else {
                return XCTFail("expected WrongEnvironment, got \(error)")
            }
            XCTAssertTrue(message.contains("`staging`"), message)
        }
    }

    func test_invalid_options_are_errors() throws {
        XCTAssertThrowsError(try LiteGateClient.start(options: ClientOptions(appId: "", environment: "production"))) { error in
            guard case .InvalidOption(let message)? = error as? LiteGateError else {
                return XCTFail("expected InvalidOption, got \(error)")
            }
            XCTAssertEqual(message, "invalid client option `app_id`: must not be empty")
        }
        var zeroPoll = options(bootstrap: nil)
        zeroPoll.pollIntervalSeconds = 0
        XCTAssertThrowsError(try LiteGateClient.start(options: zeroPoll))
        var nan = user("u")
        nan.ramMb = .nan
        XCTAssertThrowsError(try startClient().setContext(context: nan))
    }
}

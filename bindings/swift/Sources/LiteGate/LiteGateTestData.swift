// Test doubles for apps: declare flags and guardrails in code, get a real
// config for the real engine. The Swift twin of Kotlin's
// `dev.litegate.testing.LiteGateTestData`.
import Foundation

/// Flags, variations, targets, rules and guardrails declared in code, turned
/// into a real rollout config that the real LiteGate engine evaluates: no
/// mock, no network. For XCTest (see the README's "Testing your app").
///
/// ```swift
/// let data = LiteGateTestData()
///     .flag("new_checkout") { $0.on(); $0.target(false, "qa-bob") }
///     .errorRateGuardrail(flag: "new_checkout", percent: 5, lastN: 20, minSamples: 10)
/// let client = try data.start()
/// try data.flag("new_checkout") { $0.off() }.update(client)
/// ```
///
/// Not thread-safe: build it on the test's thread.
public final class LiteGateTestData {
    /// The environment of the documents (and of the clients `start` makes).
    public let environment: String
    /// The version the next `json()` carries; it increases with every `update`.
    public private(set) var version: Int64 = 1
    private var flags: [(String, FlagBuilder)] = []
    private var guardrails: [(String, String)] = []

    public init(environment: String = "test") {
        self.environment = environment
    }

    /// Declares (or changes) flag `key`.
    @discardableResult
    public func flag(_ key: String, _ configure: (FlagBuilder) -> Void) -> LiteGateTestData {
        if let existing = flags.first(where: { $0.0 == key }) {
            configure(existing.1)
        } else {
            let builder = FlagBuilder()
            configure(builder)
            flags.append((key, builder))
        }
        return self
    }

    /// Removes flag `key`.
    @discardableResult
    public func remove(_ key: String) -> LiteGateTestData {
        flags.removeAll { $0.0 == key }
        return self
    }

    /// A guardrail on `flag`: when more than `percent` % of the outcomes
    /// reported with `recordOutcome` failed over the last `lastN` (at least
    /// `minSamples`), the flag serves its off variation on this device.
    @discardableResult
    public func errorRateGuardrail(
        flag: String, percent: Double, lastN: Int = 20, minSamples: Int = 10, id: String? = nil
    ) -> LiteGateTestData {
        let json = "{\"target\":{\"flag\":\(jsonString(flag))},\"metric\":\"error_rate\",\"op\":\">\","
            + "\"threshold\":\(percent),\"window\":{\"last\":\(lastN)},\"min_samples\":\(minSamples)}"
        return guardrailJson(id: id ?? "\(flag)_errors", json: json)
    }

    /// A guardrail written as the config's JSON (see docs/guardrails.md).
    @discardableResult
    public func guardrailJson(id: String, json: String) -> LiteGateTestData {
        guardrails.removeAll { $0.0 == id }
        guardrails.append((id, json))
        return self
    }

    /// The config document as JSON text.
    public func json() -> String {
        let f = flags.map { "\(jsonString($0.0)):\($0.1.json())" }.joined(separator: ",")
        let g = guardrails.map { "\(jsonString($0.0)):\($0.1)" }.joined(separator: ",")
        return "{\"format_version\":1,\"environment\":\(jsonString(environment)),\"version\":\(version),"
            + "\"flags\":{\(f)},\"guardrails\":{\(g)}}"
    }

    /// Client options that start from this data, offline (no network at all).
    public func options(appId: String = "dev.litegate.testdata") -> ClientOptions {
        ClientOptions(appId: appId, environment: environment, bootstrap: Data(json().utf8), offline: true)
    }

    /// Starts a real client on this data (offline).
    public func start(appId: String = "dev.litegate.testdata") throws -> LiteGateClient {
        try LiteGateClient.start(options: options(appId: appId))
    }

    /// Hands the current declarations to `client` as a newer version:
    /// applied at once; listeners and `events()` see it as a fetched config.
    ///
    /// - Throws: `LiteGateError.ConfigRefused` when a declaration is invalid.
    @discardableResult
    public func update(_ client: LiteGateClient) throws -> LiteGateTestData {
        version += 1
        _ = try client.submitConfig(document: Data(json().utf8), signature: nil)
        return self
    }

    /// One flag: its type, variations, targets, rules and fallthrough.
    public final class FlagBuilder {
        private var type = "bool"
        private var variations: [(String, String)] = [("on", "true"), ("off", "false")]
        private var offVariation = "off"
        private var fallthrough = "on"
        private var enabled = true
        private var killed = false
        private var targets: [(String, [String])] = []
        private var rules: [String] = []

        /// A bool flag serving `true` (variations `on`/`off`).
        public func on() { boolean(true) }

        /// A bool flag serving `false`.
        public func off() { boolean(false) }

        /// A bool flag serving `value` to everyone not targeted.
        public func boolean(_ value: Bool) {
            set("bool", [("on", "true"), ("off", "false")])
            offVariation = "off"
            fallthrough = value ? "on" : "off"
        }

        /// String variations `(name, value)`; the first is the off variation and served until `serve`.
        public func variations(_ pairs: (String, String)...) {
            set("string", pairs.map { ($0.0, jsonString($0.1)) })
        }

        /// Int variations.
        public func intVariations(_ pairs: (String, Int64)...) {
            set("int", pairs.map { ($0.0, String($0.1)) })
        }

        /// Float variations (finite values).
        public func floatVariations(_ pairs: (String, Double)...) {
            set("float", pairs.map { ($0.0, String($0.1)) })
        }

        /// JSON variations, values as JSON text.
        public func jsonVariations(_ pairs: (String, String)...) {
            set("json", pairs)
        }

        /// Serves `variation` to everyone not targeted or matched by a rule.
        public func serve(_ variation: String) { fallthrough = variation }

        /// The variation served when the flag is off, killed or tripped.
        public func offVariation(_ variation: String) { offVariation = variation }

        /// Serves `variation` to these targeting keys.
        public func target(_ variation: String, _ keys: String...) {
            targets.append((variation, keys))
        }

        /// Bool flags: serves `value` to these targeting keys.
        public func target(_ value: Bool, _ keys: String...) {
            targets.append((value ? "on" : "off", keys))
        }

        /// Serves `variation` when context attribute `attribute` is one of `values` (rule `id`).
        public func ruleIn(id: String, attribute: String, values: [String], variation: String) {
            let vs = values.map(jsonString).joined(separator: ",")
            rules.append(
                "{\"id\":\(jsonString(id)),\"clauses\":[{\"attribute\":\(jsonString(attribute)),\"op\":\"in\","
                    + "\"values\":[\(vs)]}],\"serve\":{\"variation\":\(jsonString(variation))}}")
        }

        /// Turns the flag off (reason `.off`).
        public func disabled() { enabled = false }

        /// Activates the kill switch (reason `.killSwitch`).
        public func killSwitch(_ active: Bool = true) { killed = active }

        private func set(_ t: String, _ values: [(String, String)]) {
            precondition(!values.isEmpty, "a flag needs at least one variation")
            type = t
            variations = values
            offVariation = values[0].0
            fallthrough = values[0].0
        }

        func json() -> String {
            let vars = variations.map { "\(jsonString($0.0)):\($0.1)" }.joined(separator: ",")
            let tgts = targets.map { t in
                "{\"variation\":\(jsonString(t.0)),\"ids\":[\(t.1.map(jsonString).joined(separator: ","))]}"
            }.joined(separator: ",")
            return "{\"type\":\"\(type)\",\"enabled\":\(enabled),\"variations\":{\(vars)},"
                + "\"off_variation\":\(jsonString(offVariation)),\"kill_switch\":{\"active\":\(killed),\"reason\":\"test\"},"
                + "\"targets\":[\(tgts)],\"rules\":[\(rules.joined(separator: ","))],"
                + "\"fallthrough\":{\"variation\":\(jsonString(fallthrough))}}"
        }
    }
}

private func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

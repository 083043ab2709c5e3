// Test doubles for apps: declare flags and guardrails in code, get a real
// config for the real engine.
package dev.litegate.testing

import dev.litegate.ClientOptions
import dev.litegate.LiteGateClient

/**
 * Flags, variations, targets, rules and guardrails declared in code, turned
 * into a real rollout config that the real LiteGate engine evaluates: no
 * mock, no network. For unit tests on the host JVM (see the README's
 * "Testing your app" section).
 *
 * ```
 * val data = LiteGateTestData()
 *     .flag("new_checkout") { on(); target(false, "qa-bob") }
 *     .flag("banner") { variations("a" to "Hello", "b" to "Hi"); serve("b") }
 *     .errorRateGuardrail("new_checkout", percent = 5.0, lastN = 20, minSamples = 10)
 * val client = data.start()
 * data.flag("new_checkout") { off() }.update(client) // a newer version, applied at once
 * ```
 *
 * Not thread-safe: build it on the test's thread.
 */
class LiteGateTestData(
    /** The environment of the documents (and of the clients [start] makes). */
    val environment: String = "test",
) {
    private val flags = linkedMapOf<String, FlagBuilder>()
    private val guardrails = linkedMapOf<String, String>()

    /** The version the next [json] carries; it increases with every [update]. */
    var version: Long = 1
        private set

    /** Declares (or changes) flag [key]; the block sets its variations and serving. */
    fun flag(key: String, block: FlagBuilder.() -> Unit): LiteGateTestData {
        flags.getOrPut(key) { FlagBuilder() }.block()
        return this
    }

    /** Removes flag [key]. */
    fun remove(key: String): LiteGateTestData {
        flags.remove(key)
        return this
    }

    /**
     * A guardrail on flag [flag]: when more than [percent] % of the outcomes
     * the app reports with `recordOutcome` failed, over the last [lastN]
     * (at least [minSamples]), the flag serves its off variation on this device.
     */
    fun errorRateGuardrail(
        flag: String,
        percent: Double,
        lastN: Int = 20,
        minSamples: Int = 10,
        id: String = "${flag}_errors",
    ): LiteGateTestData {
        guardrails[id] = "{\"target\":{\"flag\":${str(flag)}},\"metric\":\"error_rate\",\"op\":\">\"," +
            "\"threshold\":${num(percent)},\"window\":{\"last\":$lastN},\"min_samples\":$minSamples}"
        return this
    }

    /** A guardrail written as the config's JSON (see docs/guardrails.md). */
    fun guardrailJson(id: String, json: String): LiteGateTestData {
        guardrails[id] = json
        return this
    }

    /** The config document as JSON text. */
    fun json(): String {
        val flagsJson = flags.entries.joinToString(",") { (k, f) -> "${str(k)}:${f.json()}" }
        val guardrailsJson = guardrails.entries.joinToString(",") { (k, g) -> "${str(k)}:$g" }
        return "{\"format_version\":1,\"environment\":${str(environment)},\"version\":$version," +
            "\"flags\":{$flagsJson},\"guardrails\":{$guardrailsJson}}"
    }

    /** The config document's bytes, for `ClientOptions.bootstrap`. */
    fun bytes(): ByteArray = json().toByteArray(Charsets.UTF_8)

    /** Client options that start from this data, offline (no network at all). */
    fun options(appId: String = "dev.litegate.testdata"): ClientOptions =
        ClientOptions(appId = appId, environment = environment, bootstrap = bytes(), offline = true)

    /** Starts a real client on this data (offline; close it with `shutdown`). */
    fun start(appId: String = "dev.litegate.testdata"): LiteGateClient = LiteGateClient.start(options(appId))

    /**
     * Hands the current declarations to [client] as a newer version: applied
     * at once, change listeners and `events()` fire as for a fetched config.
     *
     * @throws dev.litegate.LiteGateException.ConfigRefused when a declaration is invalid.
     */
    fun update(client: LiteGateClient): LiteGateTestData {
        version += 1
        client.submitConfig(bytes(), null)
        return this
    }

    /** One flag: its type, variations, targets, rules and fallthrough. */
    class FlagBuilder internal constructor() {
        private var type = "bool"
        private val variations = linkedMapOf<String, String>("on" to "true", "off" to "false")
        private var offVariation = "off"
        private var fallthrough = "on"
        private var enabled = true
        private var killed = false
        private val targets = linkedMapOf<String, MutableList<String>>()
        private val rules = mutableListOf<String>()

        /** A bool flag serving `true` (variations `on`/`off`). */
        fun on() = boolean(true)

        /** A bool flag serving `false`. */
        fun off() = boolean(false)

        /** A bool flag serving [value] to everyone not targeted. */
        fun boolean(value: Boolean) {
            setVariations("bool", linkedMapOf("on" to "true", "off" to "false"))
            offVariation = "off"
            fallthrough = if (value) "on" else "off"
        }

        /** String variations, `name to value`; the first is the off variation and served until [serve]. */
        fun variations(vararg pairs: Pair<String, String>) =
            setVariations("string", pairs.associateTo(linkedMapOf<String, String>()) { (k, v) -> k to str(v) })

        /** Int variations. */
        fun intVariations(vararg pairs: Pair<String, Long>) =
            setVariations("int", pairs.associateTo(linkedMapOf<String, String>()) { (k, v) -> k to v.toString() })

        /** Float variations. */
        fun floatVariations(vararg pairs: Pair<String, Double>) =
            setVariations("float", pairs.associateTo(linkedMapOf<String, String>()) { (k, v) -> k to num(v) })

        /** JSON variations, values as JSON text. */
        fun jsonVariations(vararg pairs: Pair<String, String>) =
            setVariations("json", pairs.associateTo(linkedMapOf<String, String>()) { (k, v) -> k to v })

        /** Serves [variation] to everyone not targeted or matched by a rule. */
        fun serve(variation: String) {
            fallthrough = variation
        }

        /** The variation served when the flag is off, killed or tripped. */
        fun offVariation(variation: String) {
            offVariation = variation
        }

        /** Serves [variation] to these targeting keys. */
        fun target(variation: String, vararg keys: String) {
            targets.getOrPut(variation) { mutableListOf() }.addAll(keys)
        }

        /** Bool flags: serves [value] to these targeting keys. */
        fun target(value: Boolean, vararg keys: String) = target(if (value) "on" else "off", *keys)

        /** Serves [variation] when context attribute [attribute] is one of [values] (rule [id]). */
        fun ruleIn(id: String, attribute: String, values: List<String>, variation: String) {
            val vs = values.joinToString(",") { str(it) }
            rules += "{\"id\":${str(id)},\"clauses\":[{\"attribute\":${str(attribute)},\"op\":\"in\"," +
                "\"values\":[$vs]}],\"serve\":{\"variation\":${str(variation)}}}"
        }

        /** Turns the flag off (serves the off variation, reason `Off`). */
        fun disabled() {
            enabled = false
        }

        /** Activates the kill switch (reason `KillSwitch`). */
        fun killSwitch(active: Boolean = true) {
            killed = active
        }

        private fun setVariations(t: String, values: Map<String, String>) {
            require(values.isNotEmpty()) { "a flag needs at least one variation" }
            type = t
            variations.clear()
            variations.putAll(values)
            offVariation = values.keys.first()
            fallthrough = values.keys.first()
        }

        internal fun json(): String {
            val vars = variations.entries.joinToString(",") { (k, v) -> "${str(k)}:$v" }
            val tgts = targets.entries.joinToString(",") { (v, ids) ->
                "{\"variation\":${str(v)},\"ids\":[${ids.joinToString(",") { str(it) }}]}"
            }
            return "{\"type\":\"$type\",\"enabled\":$enabled,\"variations\":{$vars}," +
                "\"off_variation\":${str(offVariation)},\"kill_switch\":{\"active\":$killed,\"reason\":\"test\"}," +
                "\"targets\":[$tgts],\"rules\":[${rules.joinToString(",")}]," +
                "\"fallthrough\":{\"variation\":${str(fallthrough)}}}"
        }
    }
}

private fun num(d: Double): String {
    require(d.isFinite()) { "numbers in a config must be finite" }
    return d.toString()
}

private fun str(s: String): String {
    val b = StringBuilder(s.length + 2).append('"')
    for (c in s) {
        when {
            c == '"' -> b.append("\\\"")
            c == '\\' -> b.append("\\\\")
            c < ' ' -> b.append(String.format("\\u%04x", c.code))
            else -> b.append(c)
        }
    }
    return b.append('"').toString()
}

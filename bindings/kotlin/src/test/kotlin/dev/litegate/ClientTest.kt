package dev.litegate

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.RegisterExtension

/** Mirrors crates/litegate-ffi/tests/ffi_client.rs, test for test. */
class ClientTest {
    @JvmField
    @RegisterExtension
    val litegate = LiteGateTestExtension()

    private fun client(bootstrap: String? = "reasons.json") =
        litegate.start(litegate.options(bootstrap?.let { litegate.fixture(it) }))

    private fun user(key: String) = EvaluationContext(targetingKey = key)

    @Test
    fun fallthrough_serves_the_fixed_variation() {
        val d = client().boolDetails("fixed_on", false)
        assertTrue(d.value)
        assertEquals("on", d.variation)
        assertEquals(Reason.Fallthrough, d.reason)
        assertNull(d.errorCode)
        assertEquals("DEFAULT", d.reason.openFeatureName)
    }

    @Test
    fun target_match_for_a_listed_key() {
        val client = client()
        val hit = client.stringDetails("targeted", "none", user("qa-alice"))
        assertEquals("beta", hit.value)
        assertEquals(Reason.TargetMatch, hit.reason)
        val miss = client.stringDetails("targeted", "none", user("bob"))
        assertEquals("alpha", miss.value)
        assertEquals(Reason.Fallthrough, miss.reason)
    }

    @Test
    fun rule_match_on_number_version_and_custom_attributes() {
        val client = client()
        val ram = client.intDetails("by_rule", 0, user("u").copy(ramMb = 8192.0))
        assertEquals(8L, ram.value)
        assertEquals(Reason.RuleMatch("high-ram"), ram.reason)
        val app = client.intDetails("by_rule", 0, user("u").copy(appVersion = "5.10"))
        assertEquals(Reason.RuleMatch("new-app"), app.reason)
        val gold = client.intDetails("by_rule", 0, user("u").copy(custom = attributes("tier" to "gold")))
        assertEquals(Reason.RuleMatch("gold-tier"), gold.reason)
        val none = client.intDetails("by_rule", 0, user("u"))
        assertEquals(1L, none.value)
        assertEquals(Reason.Fallthrough, none.reason)
    }

    @Test
    fun split_buckets_the_targeting_key() {
        val client = client()
        val high = client.floatDetails("split_half", 0.0, user("user-3"))
        assertEquals(Reason.Split, high.reason)
        assertEquals(0.75, high.value)
        val bucket = high.bucket ?: error("a split reports the bucket")
        assertTrue(bucket < 50_000u, "bucket $bucket")
        val low = client.floatDetails("split_half", 0.0, user("user-1"))
        assertEquals(0.25, low.value)
        assertTrue((low.bucket ?: 0u) >= 50_000u)
    }

    @Test
    fun off_kill_switch_and_prerequisite_serve_the_off_variation() {
        val client = client()
        val off = client.boolDetails("disabled", true)
        assertFalse(off.value)
        assertEquals(Reason.Off, off.reason)
        val killed = client.boolDetails("killed", true)
        assertFalse(killed.value)
        assertEquals(Reason.KillSwitch("crash spike"), killed.reason)
        assertTrue(killed.reason.isEmergencyOff)
        val prereq = client.boolDetails("needs_disabled", true)
        assertEquals(Reason.PrerequisiteFailed("disabled"), prereq.reason)
    }

    @Test
    fun global_disable_turns_every_flag_off() {
        val client = client("global_disable.json")
        val d = client.boolDetails("fixed_on", true)
        assertEquals(Reason.GlobalDisable("incident 42"), d.reason)
        assertFalse(d.value)
        assertEquals(8uL, client.configVersion())
    }

    @Test
    fun override_wins_until_cleared() {
        val client = client()
        client.setOverride("fixed_on", "off")
        val d = client.boolDetails("fixed_on", true)
        assertFalse(d.value)
        assertEquals(Reason.Override, d.reason)
        client.clearOverrides()
        assertEquals(Reason.Fallthrough, client.boolDetails("fixed_on", false).reason)
    }

    @Test
    fun not_ready_without_a_config() {
        val client = client(bootstrap = null)
        val d = client.boolDetails("fixed_on", true)
        assertEquals(Reason.NotReady, d.reason)
        assertEquals(ErrorCode.PROVIDER_NOT_READY, d.errorCode)
        assertTrue(d.value)
        assertNull(client.configVersion())
    }

    @Test
    fun error_codes_return_the_default() {
        val client = client()
        val missing = client.boolDetails("nope", true)
        assertEquals(Reason.Error, missing.reason)
        assertEquals(ErrorCode.FLAG_NOT_FOUND, missing.errorCode)
        val mismatch = client.stringDetails("fixed_on", "dflt")
        assertEquals(ErrorCode.TYPE_MISMATCH, mismatch.errorCode)
        assertEquals("dflt", mismatch.value)
        assertEquals(ErrorCode.MALFORMED_FLAG, client.boolDetails("broken", true).errorCode)
        assertEquals("PARSE_ERROR", ErrorCode.MALFORMED_FLAG.openFeatureName)
        val bad = user("u").copy(
            appVersion = "five",
            custom = mapOf("v" to AttributeValue.Version("x.y")),
        )
        val d = client.intDetails("by_rule", 3, bad)
        assertEquals(3L, d.value)
        assertEquals(ErrorCode.INVALID_CONTEXT, d.errorCode)
    }

    @Test
    fun json_and_any_type_values() {
        val client = client()
        assertEquals("""{"threshold":0.5,"labels":["face"]}""", client.jsonValue("model_params", "{}"))
        assertEquals("not json", client.jsonValue("nope", "not json"))
        assertEquals(FlagValue.TextValue("alpha"), client.valueDetails("targeted").value)
        assertNull(client.valueDetails("nope").value)
        assertEquals(
            listOf("broken", "by_rule", "disabled", "fixed_on", "killed", "model_params", "needs_disabled", "split_half", "targeted"),
            client.flagKeys(),
        )
    }

    @Test
    fun default_context_is_used_and_round_trips() {
        val client = client()
        val ctx = user("qa-alice").copy(
            appVersion = "6.0",
            custom = attributes("langs" to listOf("en")),
        )
        client.setContext(ctx)
        assertEquals(ctx, client.context())
        assertEquals("beta", client.stringValue("targeted", "none"))
        assertEquals(8L, client.intValue("by_rule", 0))
    }

    @Test
    fun bad_bootstrap_config_is_an_error() {
        val e = assertThrows<LiteGateException.BootstrapRefused> {
            litegate.start(litegate.options("{not json".toByteArray()))
        }
        assertTrue(
            e.message!!.startsWith("the bootstrap config was refused: not valid JSON at line 1"),
            e.message,
        )
    }

    @Test
    fun wrong_environment_is_an_error() {
        val e = assertThrows<LiteGateException.WrongEnvironment> {
            litegate.start(litegate.options(litegate.fixture("reasons.json"), environment = "staging"))
        }
        assertEquals(
            "the bootstrap config is for environment `production`, but the client runs in `staging`: " +
                "bundle the config exported for `staging`",
            e.message,
        )
    }

    @Test
    fun invalid_options_are_errors() {
        val e = assertThrows<LiteGateException.InvalidOption> {
            litegate.start(ClientOptions(appId = "", environment = "production"))
        }
        assertEquals("invalid client option `app_id`: must not be empty", e.message)
        assertThrows<LiteGateException.InvalidOption> {
            litegate.start(litegate.options(null).copy(pollIntervalSeconds = 0u))
        }
        val client = client()
        assertThrows<LiteGateException.InvalidContext> {
            client.setContext(user("u").copy(ramMb = Double.NaN))
        }
    }
}

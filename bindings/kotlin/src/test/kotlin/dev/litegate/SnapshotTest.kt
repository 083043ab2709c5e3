package dev.litegate

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.RegisterExtension
import java.util.concurrent.ConcurrentLinkedQueue
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicInteger
import kotlin.concurrent.thread

/**
 * The snapshot read path (Flags.kt, Snapshot.kt) against the real library:
 * the same answers as Rust, changes visible to every thread before any
 * listener fires, exposures counted exactly once at a loopback collector,
 * 10,000 flags in bounded memory. Mirrors `client_snapshot.rs` and
 * `SnapshotTests.swift`.
 */
class SnapshotTest {
    @JvmField
    @RegisterExtension
    val litegate = LiteGateTestExtension()

    @Test
    fun snapshot_agrees_with_rust_for_every_flag() {
        val client = litegate.start(litegate.options(litegate.fixture("reasons.json")))
        client.setContext(EvaluationContext(targetingKey = "qa-alice", ramMb = 8192.0))
        for (key in client.flagKeys()) {
            val rust = client.valueDetails(key)
            val (variation, reason, code) = when (val v = rust.value) {
                is FlagValue.BoolValue -> client.boolDetails(key, !v.value).let {
                    assertEquals(v.value, it.value, key)
                    Triple(it.variation, it.reason, it.errorCode)
                }
                is FlagValue.TextValue -> client.stringDetails(key, "dflt").let {
                    assertEquals(v.value, it.value, key)
                    Triple(it.variation, it.reason, it.errorCode)
                }
                is FlagValue.IntValue -> client.intDetails(key, -1).let {
                    assertEquals(v.value, it.value, key)
                    Triple(it.variation, it.reason, it.errorCode)
                }
                is FlagValue.FloatValue -> client.floatDetails(key, -1.0).let {
                    assertEquals(v.value, it.value, key)
                    Triple(it.variation, it.reason, it.errorCode)
                }
                is FlagValue.JsonValue -> client.jsonDetails(key, "{}").let {
                    assertEquals(v.json, it.json, key)
                    Triple(it.variation, it.reason, it.errorCode)
                }
                null -> client.boolDetails(key, true).let {
                    assertEquals(true, it.value, key)
                    Triple(it.variation, it.reason, it.errorCode)
                }
            }
            assertEquals(rust.variation, variation, key)
            assertEquals(rust.reason, reason, key)
            assertEquals(rust.errorCode, code, key)
        }
        // Rules and targets: details carry the rule id.
        assertEquals(Reason.RuleMatch("high-ram"), client.intDetails("by_rule", 0).reason)
        assertEquals("beta", client.stringValue("targeted", "none"))
        // Errors as Rust reports them.
        val missing = client.boolDetails("nope", true)
        assertEquals(Triple(true, Reason.Error, ErrorCode.FLAG_NOT_FOUND), Triple(missing.value, missing.reason, missing.errorCode))
        val mismatch = client.intDetails("fixed_on", 5)
        assertEquals(Triple(5L, Reason.Error, ErrorCode.TYPE_MISMATCH), Triple(mismatch.value, mismatch.reason, mismatch.errorCode))
        assertEquals(ErrorCode.MALFORMED_FLAG, client.boolDetails("broken", true).errorCode)
        assertEquals("not json", client.jsonValue("nope", "not json"))
        // A per-call context still evaluates in Rust.
        assertEquals("alpha", client.stringDetails("targeted", "none", EvaluationContext(targetingKey = "bob")).value)
    }

    @Test
    fun not_ready_without_a_config() {
        val client = litegate.start(litegate.options(null))
        val d = client.boolDetails("fixed_on", true)
        assertEquals(Triple(true, Reason.NotReady, ErrorCode.PROVIDER_NOT_READY), Triple(d.value, d.reason, d.errorCode))
    }

    /**
     * 8 threads read while the context, an override and the config (a
     * global disable from a loopback server) change. A reader that saw a
     * change announced (the setter returned, or the config listener ran)
     * must see it on its next read.
     */
    @Test
    fun changes_are_visible_to_every_thread_before_listeners_fire() {
        LoopbackServer().use { server ->
            server.document.set(litegate.fixture("reasons.json"))
            val client = litegate.start(
                litegate.options(litegate.fixture("reasons.json")).copy(configUrl = "${server.url}/config"),
            )
            client.setContext(EvaluationContext(targetingKey = "bob"))
            // 0: start; 1: context qa-alice (targeted -> beta); 2: override
            // fixed_on -> off; 3: override cleared (the new config may land
            // any time from here); 4: the listener ran for config v8 with a
            // global disable.
            val phase = AtomicInteger(0)
            val stop = AtomicBoolean(false)
            val failures = ConcurrentLinkedQueue<String>()
            val reads = AtomicInteger(0)
            val started = CountDownLatch(8)
            val readers = (0 until 8).map { t ->
                thread(name = "reader-$t") {
                    started.countDown()
                    while (!stop.get()) {
                        val p = phase.get()
                        val targeted = client.stringValue("targeted", "none")
                        val fixed = client.boolDetails("fixed_on", true)
                        if (p in 1..2 && targeted != "beta") failures.add("phase $p: targeted=$targeted")
                        if (p == 2 && fixed.value && phase.get() == 2) failures.add("phase 2: fixed_on still on")
                        if (p >= 4 && fixed.reason !is Reason.GlobalDisable) failures.add("phase 4: ${fixed.reason}")
                        reads.incrementAndGet()
                    }
                }
            }
            assertTrue(started.await(10, TimeUnit.SECONDS))
            Thread.sleep(50)
            client.setContext(EvaluationContext(targetingKey = "qa-alice"))
            phase.set(1)
            Thread.sleep(50)
            client.setOverride("fixed_on", "off")
            phase.set(2)
            Thread.sleep(50)
            phase.set(3)
            client.clearOverrides()
            val fired = CountDownLatch(1)
            client.addConfigListener(
                object : ConfigListener {
                    override fun onConfigChange(update: ConfigUpdate) {
                        if (update.newVersion == 8uL) {
                            phase.set(4)
                            fired.countDown()
                        }
                    }
                },
            )
            server.document.set(litegate.fixture("global_disable.json"))
            client.refresh()
            assertTrue(fired.await(60, TimeUnit.SECONDS), "no listener call for version 8")
            Thread.sleep(50)
            stop.set(true)
            readers.forEach { it.join(10_000) }
            assertTrue(failures.isEmpty(), failures.take(5).toString())
            assertTrue(reads.get() > 1000, "readers ran: ${reads.get()}")
        }
    }

    @Test
    fun exposures_reach_the_collector_exactly_once_across_shutdown() {
        LoopbackServer().use { collector ->
            val client = litegate.start(
                litegate.options(litegate.fixture("reasons.json")).copy(metricsEndpoint = collector.url),
            )
            val perThread = 50_000
            val readers = (0 until 8).map {
                thread {
                    repeat(perThread) { i ->
                        if (i % 2 == 0) client.boolValue("fixed_on", false) else client.boolDetails("fixed_on", false)
                    }
                }
            }
            // A flush in the middle: what it drains is counted once, not again later.
            client.flush(60_000uL)
            readers.forEach { it.join() }
            // Wrong types, missing flags and the context variant's own
            // exposure: only the latter counts (Rust records it directly).
            client.stringValue("fixed_on", "x")
            client.boolValue("nope", false)
            client.boolDetails("fixed_on", false, EvaluationContext(targetingKey = "other"))
            assertEquals(ShutdownResult.STOPPED, client.shutdown(60_000uL))
            val expected = 8L * perThread + 1
            val posts = collector.postsUntil("/v1/metrics", seconds = 10) { exposures(it) >= expected }
            assertEquals(expected, exposures(posts))
        }
    }

    @Test
    fun ten_thousand_flags_stay_bounded() {
        val flags = (0 until 10_000).joinToString(",") { i ->
            """"flag_$i": {"type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
               "fallthrough": {"percentage": {"percent": 50, "variation": "on", "otherwise": "off"}}}"""
        }
        val doc = """{"format_version": 1, "environment": "production", "version": 1, "flags": {$flags}}"""
        val client = litegate.start(litegate.options(doc.toByteArray()))
        client.setContext(EvaluationContext(targetingKey = "user-x"))
        val runtime = Runtime.getRuntime()
        fun usedAfterGc(): Long {
            repeat(3) {
                System.gc()
                Thread.sleep(50)
            }
            return runtime.totalMemory() - runtime.freeMemory()
        }
        var on = 0
        for (i in 0 until 10_000) if (client.boolValue("flag_$i", false)) on++
        assertTrue(on in 4_000..6_000, "about half on: $on")
        val base = usedAfterGc()
        // 30 context changes, each followed by reads of every flag.
        repeat(30) { round ->
            client.setContext(EvaluationContext(targetingKey = "user-$round"))
            for (i in 0 until 10_000 step 7) client.boolValue("flag_$i", false)
        }
        val after = usedAfterGc()
        // One decoded snapshot of 10,000 flags is a few MB; 30 retained would be far more.
        assertTrue(after - base < 32L * 1024 * 1024, "heap grew by ${(after - base) / 1024} KiB")
        val d = client.boolDetails("flag_0", false)
        assertNotNull(d.variation)
    }

    private val exposureMetric = "\"name\":\"litegate.flag.exposures\""

    /** The sum of `litegate.flag.exposures` data points over the bodies of [posts]. */
    private fun exposures(posts: List<Received>): Long {
        var total = 0L
        for (p in posts) {
            var at = p.body.indexOf(exposureMetric)
            while (at >= 0) {
                val end = p.body.indexOf("{\"name\":", at + exposureMetric.length).let { if (it < 0) p.body.length else it }
                Regex("\"asInt\":\"(\\d+)\"").findAll(p.body.substring(at, end)).forEach { total += it.groupValues[1].toLong() }
                at = p.body.indexOf(exposureMetric, end)
            }
        }
        return total
    }
}

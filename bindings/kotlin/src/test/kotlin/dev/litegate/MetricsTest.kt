package dev.litegate

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.RegisterExtension

class MetricsTest {
    @JvmField
    @RegisterExtension
    val litegate = LiteGateTestExtension()

    @Test
    fun app_metrics_and_events_reach_a_loopback_collector() {
        LoopbackServer().use { collector ->
            val client = litegate.start(
                litegate.options(litegate.fixture("reasons.json")).copy(
                    metricsEndpoint = collector.url,
                    metricsHeaders = mapOf("x-api-key" to "test-key"),
                ),
            )
            client.count("app_clicks", 3uL, mapOf("screen" to "home"))
            client.record("app_latency_ms", 12.5, emptyMap())
            assertTrue(client.track("checkout", mapOf("items" to EventValue.Int(2), "coupon" to EventValue.Text("none"))))
            val summary = client.flush(60_000uL)
            assertTrue(summary.deliveredBatches >= 1uL, summary.toString())

            val metrics = collector.postsUntil("/v1/metrics") { posts ->
                posts.any { "app_clicks" in it.body } && posts.any { "app_latency_ms" in it.body }
            }
            val metricBodies = metrics.joinToString("\n") { it.body }
            assertTrue(metricBodies.contains("app_clicks"), metricBodies)
            assertTrue(metricBodies.contains("app_latency_ms"), metricBodies)
            assertTrue(metricBodies.contains("dev.litegate.tests"), "resource carries the app id")
            assertTrue(metrics.all { it.headers["x-api-key"] == "test-key" })
            val logs = collector.postsUntil("/v1/logs") { posts -> posts.any { "app.checkout" in it.body } }
            assertTrue(logs.any { "app.checkout" in it.body }, logs.toString())
        }
    }

    @Test
    fun shutdown_is_safe_twice() {
        val client = litegate.start(litegate.options(litegate.fixture("reasons.json")))
        assertEquals(ShutdownResult.STOPPED, client.shutdown(10_000uL))
        assertEquals(ShutdownResult.ALREADY_STOPPED, client.shutdown(10_000uL))
        assertTrue(client.boolValue("fixed_on", false), "evaluation still works after shutdown")
    }
}

package dev.litegate

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
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

            val metrics = collector.nextPost("/v1/metrics")
            assertNotNull(metrics, "no metrics upload")
            assertEquals("test-key", metrics!!.headers["x-api-key"])
            assertTrue(metrics.body.contains("app_clicks"), metrics.body)
            assertTrue(metrics.body.contains("app_latency_ms"), metrics.body)
            assertTrue(metrics.body.contains("dev.litegate.tests"), "resource carries the app id")
            val logs = collector.nextPost("/v1/logs")
            assertNotNull(logs, "no events upload")
            assertTrue(logs!!.body.contains("app.checkout"), logs.body)
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

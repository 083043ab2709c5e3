package dev.litegate

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.RegisterExtension
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit

class ConcurrencyTest {
    @JvmField
    @RegisterExtension
    val litegate = LiteGateTestExtension()

    @Test
    fun eight_threads_evaluate_at_once() {
        val client = litegate.start(litegate.options(litegate.fixture("reasons.json")))
        val pool = Executors.newFixedThreadPool(8)
        try {
            val results = (0 until 8).map { t ->
                pool.submit<Int> {
                    var checked = 0
                    for (i in 0 until 2_000) {
                        val d = client.floatDetails("split_half", 0.0, EvaluationContext(targetingKey = "user-$t-$i"))
                        val bucket = d.bucket ?: error("no bucket")
                        assertEquals(if (bucket < 50_000u) 0.75 else 0.25, d.value)
                        if (i % 100 == 0) {
                            client.setOverride("fixed_on", "on")
                            client.clearOverride("fixed_on")
                        }
                        checked++
                    }
                    checked
                }
            }
            // Generous: a loaded 2-core machine is slow, but never this slow.
            assertEquals(List(8) { 2_000 }, results.map { it.get(5, TimeUnit.MINUTES) })
        } finally {
            pool.shutdownNow()
            assertTrue(pool.awaitTermination(1, TimeUnit.MINUTES))
        }
    }
}

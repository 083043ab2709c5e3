package dev.litegate

import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.RegisterExtension
import java.util.concurrent.CopyOnWriteArrayList

class LoggingTest {
    @JvmField
    @RegisterExtension
    val litegate = LiteGateTestExtension()

    @Test
    fun sink_receives_records_at_its_level_and_above() {
        val records = CopyOnWriteArrayList<LogRecord>()
        LiteGateLogging.install(LogLevel.INFO) { records.add(it) }
        litegate.start(litegate.options(litegate.fixture("reasons.json")))
        val started = records.filter { it.target == "litegate::ffi" && it.message.startsWith("client started") }
        assertEquals(1, started.size, records.toString())
        assertEquals(LogLevel.INFO, started[0].level)
        assertTrue(started[0].message.contains("environment=production"), started[0].message)
        assertTrue(started[0].message.contains("config_version=7"), started[0].message)

        LiteGateLogging.install(LogLevel.WARN) { records.add(it) }
        records.clear()
        litegate.start(litegate.options(litegate.fixture("reasons.json")))
        assertTrue(records.none { it.level == LogLevel.INFO }, records.toString())
        // A refused context is a warning.
        litegate.start(litegate.options(litegate.fixture("reasons.json")))
            .boolDetails("fixed_on", false, EvaluationContext(targetingKey = "u", custom = mapOf("v" to AttributeValue.Version("x.y"))))
        assertTrue(records.any { it.level == LogLevel.WARN && it.message.contains("context refused") }, records.toString())
    }

    @Test
    fun a_throwing_sink_does_not_break_the_client() {
        var calls = 0
        LiteGateLogging.install(LogLevel.TRACE) {
            calls++
            throw IllegalStateException("sink broke")
        }
        val client = litegate.start(litegate.options(litegate.fixture("reasons.json")))
        assertTrue(calls > 0)
        assertTrue(client.boolValue("fixed_on", false))
    }

    @Test
    fun no_records_after_uninstall() {
        val records = CopyOnWriteArrayList<LogRecord>()
        LiteGateLogging.install(LogLevel.TRACE) { records.add(it) }
        LiteGateLogging.uninstall()
        litegate.start(litegate.options(litegate.fixture("reasons.json")))
        assertEquals(emptyList<LogRecord>(), records.toList())
    }
}

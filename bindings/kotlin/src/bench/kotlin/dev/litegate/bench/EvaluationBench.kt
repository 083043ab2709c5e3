// Flag evaluation through the FFI from Kotlin on the JVM.
// Run: cargo xtask bindings bench (release cdylib). Not a test: it asserts
// nothing about speed, it prints what it measured.
package dev.litegate.bench

import dev.litegate.ClientOptions
import dev.litegate.EvaluationContext
import dev.litegate.LiteGateClient
import java.io.File

private const val ROUNDS = 5
private const val ROUND_NANOS = 500_000_000L

/**
 * Median nanoseconds per call of [op] over [ROUNDS] rounds of about half a
 * second each, after a one-second warm-up (JIT, caches).
 */
private fun measure(name: String, op: (Int) -> Any) {
    var sink = 0
    fun round(nanos: Long): Double {
        val start = System.nanoTime()
        var calls = 0
        while (true) {
            for (i in 0 until 256) sink += op(calls + i).hashCode() and 1
            calls += 256
            val elapsed = System.nanoTime() - start
            if (elapsed >= nanos) return elapsed.toDouble() / calls
        }
    }
    round(2 * ROUND_NANOS)
    val perCall = (0 until ROUNDS).map { round(ROUND_NANOS) }.sorted()
    val median = perCall[ROUNDS / 2]
    println(
        "%-44s %9.2f us/call %10.0f calls/s  (rounds %.2f..%.2f us)%s".format(
            name, median / 1000, 1e9 / median, perCall.first() / 1000, perCall.last() / 1000, if (sink < 0) "!" else "",
        ),
    )
}

fun main() {
    val fixtures = File(System.getProperty("litegate.fixtures") ?: error("-Dlitegate.fixtures is required"))
    val client = LiteGateClient.start(
        ClientOptions(
            appId = "dev.litegate.bench",
            environment = "production",
            bootstrap = File(fixtures, "reasons.json").readBytes(),
        ),
    )
    client.setContext(EvaluationContext(targetingKey = "user-42"))
    val contexts = Array(1024) { EvaluationContext(targetingKey = "user-$it", appVersion = "5.3.1", ramMb = 4096.0) }
    println("LiteGate ${dev.litegate.litegateVersion()} on ${System.getProperty("java.vm.name")} ${System.getProperty("java.version")}")
    // The cost of the boundary itself. The first two reach into the
    // generated bindings' internals (same compilation module): a bare JNA
    // call, and the call-status structure UniFFI allocates for every call.
    measure("JNA call, no status (contract version)") { dev.litegate.IntegrityCheckingUniffiLib.ffi_litegate_ffi_uniffi_contract_version() }
    measure("UniffiRustCallStatus allocation") { dev.litegate.UniffiRustCallStatus.ByValue() }
    measure("litegateVersion() (no object, returns text)") { dev.litegate.litegateVersion() }
    measure("configVersion() (object, no arguments)") { client.configVersion() ?: 0uL }
    measure("boolValue(fixed_on)") { client.boolValue("fixed_on", false) }
    measure("boolDetails(fixed_on)") { client.boolDetails("fixed_on", false) }
    measure("stringValue(targeted)") { client.stringValue("targeted", "none") }
    measure("floatDetails(split_half, context)") { client.floatDetails("split_half", 0.0, contexts[it and 1023]) }
    measure("boolValue(missing flag)") { client.boolValue("nope", false) }
    client.close()
}

// Flag evaluation through the FFI from Kotlin on the JVM.
// Run: cargo xtask bindings bench (release cdylib). Not a test: it asserts
// nothing about speed, it prints what it measured.
package dev.litegate.bench

import dev.litegate.ClientOptions
import dev.litegate.EvaluationContext
import dev.litegate.LiteGateClient
import dev.litegate.boolDetails
import dev.litegate.boolValue
import dev.litegate.floatDetails
import dev.litegate.stringValue
import com.sun.jna.Native
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
        "%-44s %9.3f us/call %10.0f calls/s  (rounds %.3f..%.3f us)%s".format(
            name, median / 1000, 1e9 / median, perCall.first() / 1000, perCall.last() / 1000, if (sink < 0) "!" else "",
        ),
    )
}

/** The floor: an empty C function in the same library, called through JNA direct mapping. */
private object Floor {
    init {
        Native.register(Floor::class.java, "litegate_ffi")
    }

    @JvmStatic
    external fun litegate_noop()
}

/** Like [measure], with [threads] threads calling [op] at once; prints the median per-call cost each thread saw. */
private fun measureThreads(name: String, threads: Int = 8, op: () -> Any) {
    val results = java.util.concurrent.ConcurrentLinkedQueue<Double>()
    val workers = (0 until threads).map {
        Thread {
            var sink = 0
            fun round(nanos: Long): Double {
                val start = System.nanoTime()
                var calls = 0
                while (true) {
                    for (i in 0 until 256) sink += op().hashCode() and 1
                    calls += 256
                    val elapsed = System.nanoTime() - start
                    if (elapsed >= nanos) return elapsed.toDouble() / calls
                }
            }
            round(2 * ROUND_NANOS)
            val perCall = (0 until ROUNDS).map { round(ROUND_NANOS) }.sorted()
            results.add(perCall[ROUNDS / 2] + if (sink < 0) 1 else 0)
        }
    }
    workers.forEach { it.start() }
    workers.forEach { it.join() }
    val sorted = results.sorted()
    println("%-44s %9.3f us/call (median of %d threads; %.3f..%.3f)".format(name, sorted[sorted.size / 2] / 1000, threads, sorted.first() / 1000, sorted.last() / 1000))
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
    measure("JNA direct call of an empty C function (floor)") { Floor.litegate_noop() }
    measure("JNA call, no status (contract version)") { dev.litegate.IntegrityCheckingUniffiLib.ffi_litegate_ffi_uniffi_contract_version() }
    measure("UniffiRustCallStatus allocation") { dev.litegate.UniffiRustCallStatus.ByValue() }
    measure("litegateVersion() (no object, returns text)") { dev.litegate.litegateVersion() }
    measure("configVersion() (object, no arguments)") { client.configVersion() ?: 0uL }
    // The app-facing getters: snapshot reads, exposure counted.
    measure("boolValue(fixed_on) [snapshot]") { client.boolValue("fixed_on", false) }
    measure("boolDetails(fixed_on) [snapshot]") { client.boolDetails("fixed_on", false) }
    measure("stringValue(targeted) [snapshot]") { client.stringValue("targeted", "none") }
    measure("boolValue(missing flag) [snapshot]") { client.boolValue("nope", false) }
    // The same read crossing the FFI (what every read cost before snapshots).
    measure("boolDetailsFor(fixed_on, context) [FFI]") { client.boolDetailsFor("fixed_on", false, contexts[0]) }
    measure("floatDetails(split_half, context) [FFI]") { client.floatDetails("split_half", 0.0, contexts[it and 1023]) }
    // 8 threads reading at once: per-read cost seen by each thread.
    measureThreads("boolValue(fixed_on) [snapshot], 8 threads") { client.boolValue("fixed_on", false) }
    client.close()
}

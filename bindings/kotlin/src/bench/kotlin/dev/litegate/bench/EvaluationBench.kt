// Flag evaluation through the FFI from Kotlin on the JVM.
// Run: cargo xtask bindings bench (release cdylib). Not a test: it asserts
// nothing about speed, it prints what it measured.
package dev.litegate.bench

import dev.litegate.ClientOptions
import dev.litegate.EvaluationContext
import dev.litegate.LiteGateClient
import java.io.File

private const val ROUNDS = 7

/** Median nanoseconds per call of [op] over [ROUNDS] rounds of [calls] calls. */
private fun measure(name: String, calls: Int, op: (Int) -> Any) {
    var sink = 0
    repeat(calls) { sink += op(it).hashCode() and 1 } // warm-up: JIT and caches
    val perCall = (0 until ROUNDS).map {
        val start = System.nanoTime()
        for (i in 0 until calls) sink += op(i).hashCode() and 1
        (System.nanoTime() - start).toDouble() / calls
    }.sorted()
    val median = perCall[ROUNDS / 2]
    println(
        "%-44s %9.1f ns/call  %12.0f calls/s  (min %.1f, max %.1f)%s".format(
            name, median, 1e9 / median, perCall.first(), perCall.last(), if (sink < 0) "!" else "",
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
    measure("boolValue(fixed_on)", 1_000_000) { client.boolValue("fixed_on", false) }
    measure("boolDetails(fixed_on)", 500_000) { client.boolDetails("fixed_on", false) }
    measure("stringValue(targeted)", 500_000) { client.stringValue("targeted", "none") }
    measure("floatDetails(split_half, context)", 200_000) { client.floatDetails("split_half", 0.0, contexts[it and 1023]) }
    measure("boolValue(missing flag)", 1_000_000) { client.boolValue("nope", false) }
    client.close()
}

// Hand-written Kotlin layer over the generated bindings (dev.litegate).
package dev.litegate

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.filter
import kotlinx.coroutines.withContext
import kotlin.time.Duration

/**
 * Suspends until the first remote config fetch succeeded, or [timeout].
 * Runs the blocking wait on [Dispatchers.IO], so it is safe from the main
 * thread.
 *
 * @throws LiteGateException.NotReady on timeout (with the last fetch error) or without a config URL.
 */
suspend fun LiteGateClient.awaitReady(timeout: Duration) {
    withContext(Dispatchers.IO) { waitUntilReady(timeout.inWholeMilliseconds.coerceAtLeast(0).toULong()) }
}

/**
 * Suspends until pending metrics are persisted and uploaded, or [timeout].
 *
 * @throws LiteGateException.Metrics when the pipeline is stopped or the wait timed out.
 */
suspend fun LiteGateClient.flushMetrics(timeout: Duration): MetricsSummary =
    withContext(Dispatchers.IO) { flush(timeout.inWholeMilliseconds.coerceAtLeast(0).toULong()) }

/**
 * A cold [Flow] of config updates: collecting registers a listener,
 * cancelling removes it. Updates arrive on a LiteGate thread and are
 * buffered.
 */
fun LiteGateClient.configUpdates(): Flow<ConfigUpdate> = callbackFlow {
    val id = addConfigListener(
        object : ConfigListener {
            override fun onConfigChange(update: ConfigUpdate) {
                trySend(update)
            }
        },
    )
    awaitClose { removeListener(id) }
}

/** The updates that changed flag [key]: re-read the flag when one arrives. */
fun LiteGateClient.flagChanges(key: String): Flow<ConfigUpdate> =
    configUpdates().filter { key in it.changedFlags }

// Hand-written Kotlin layer over the generated bindings (dev.litegate).
package dev.litegate

import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.filter
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.flow.mapNotNull
import kotlin.time.Duration

private fun Duration.millis(): ULong = inWholeMilliseconds.coerceAtLeast(0).toULong()

/**
 * Suspends until the first remote config fetch succeeded, or [timeout].
 * A real suspend function: the wait runs on LiteGate's own runtime and no
 * thread of the caller's dispatcher is held meanwhile, so it is safe from
 * the main thread.
 *
 * @throws LiteGateException.NotReady on timeout (with the last fetch error), without a config URL, or after shutdown.
 */
suspend fun LiteGateClient.awaitReady(timeout: Duration) {
    readyAsync(timeout.millis())
}

/**
 * Fetches the config now and suspends until that fetch finished, or [timeout].
 *
 * @throws LiteGateException.NotReady when the fetch failed or timed out (offline mode included).
 */
suspend fun LiteGateClient.refreshNow(timeout: Duration) {
    refreshAsync(timeout.millis())
}

// Models: `loadModelAsync`, `loadModelFileAsync` and `runModelAsync` are
// generated suspend functions that run on LiteGate's blocking pool.

/**
 * Suspends until pending metrics are persisted and uploaded, or [timeout].
 *
 * @throws LiteGateException.Metrics when the pipeline is stopped or the wait timed out.
 */
suspend fun LiteGateClient.flushMetrics(timeout: Duration): MetricsSummary = flushAsync(timeout.millis())

/**
 * A cold [Flow] of the client's events: ready, config applied, config
 * refused (with the reason), fetch failed, stale, guardrail trips, model
 * fallbacks. Collecting subscribes; cancelling the collector unsubscribes.
 * Events are pulled with a suspend call: nothing blocks a thread. When the
 * collector falls more than 256 events behind, an
 * [ClientEvent.EventsDropped] with the count arrives instead of the lost ones.
 */
fun LiteGateClient.events(): Flow<ClientEvent> = flow {
    val subscription = subscribeEvents()
    try {
        while (true) {
            val event = subscription.next() ?: break
            emit(event)
        }
    } finally {
        subscription.unsubscribe()
        subscription.destroy()
    }
}

/** The guardrail trips from now on, as they happen on this device. */
fun LiteGateClient.guardrailTripEvents(): Flow<GuardrailTrip> =
    events().mapNotNull { (it as? ClientEvent.GuardrailTripped)?.trip }

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

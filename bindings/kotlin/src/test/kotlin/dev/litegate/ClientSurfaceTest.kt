package dev.litegate

import com.sun.net.httpserver.HttpServer
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.yield
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.RegisterExtension
import java.net.InetAddress
import java.net.InetSocketAddress
import java.util.concurrent.Executors
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicReference
import kotlin.time.Duration.Companion.seconds

/** Mirrors `crates/litegate-ffi/tests/ffi_surface.rs` and adds what the Kotlin layer adds (Flow, suspend). */
class ClientSurfaceTest {
    @JvmField
    @RegisterExtension
    val litegate = LiteGateTestExtension()

    private val guarded = """
        {"format_version": 1, "environment": "production", "version": 1,
         "flags": {"new_model": {"type": "bool", "variations": {"on": true, "off": false},
                     "off_variation": "off", "fallthrough": {"variation": "on"}},
                   "banner": {"type": "string", "variations": {"a": "A", "b": "B"},
                     "off_variation": "a", "fallthrough": {"variation": "b"}}},
         "guardrails": {"errors": {"target": {"flag": "new_model"}, "metric": "error_rate", "op": ">",
                        "threshold": 5, "window": {"last": 20}, "min_samples": 10}}}
    """.trimIndent().toByteArray()

    private fun client(options: ClientOptions = litegate.options(guarded)) = litegate.start(options)

    private fun trip(client: LiteGateClient) {
        repeat(9) { assertTrue(client.recordOutcome("new_model", true, 10.0)) }
        assertTrue(client.recordOutcome("new_model", false, 10.0))
    }

    @Test
    fun record_outcome_trips_lists_and_resets_guardrails() {
        val client = client()
        assertTrue(client.guardrailTrips().isEmpty())
        trip(client)
        val trips = client.guardrailTrips()
        assertEquals(1, trips.size)
        assertEquals("errors", trips[0].guardrail)
        assertEquals("new_model", trips[0].flag)
        val d = client.boolDetails("new_model", true)
        assertFalse(d.value)
        assertEquals(Reason.Guardrail("errors"), d.reason)
        assertTrue(client.resetGuardrails("other").isEmpty())
        assertEquals(1, client.resetGuardrails().size)
        assertTrue(client.guardrailTrips().isEmpty())
        assertTrue(client.boolValue("new_model", false))
    }

    @Test
    fun record_outcome_refuses_latencies_outside_its_bound() {
        val client = client()
        assertTrue(client.recordOutcome("new_model", true, 3_600_000.0))
        assertTrue(client.recordOutcome("new_model", true, 0.0))
        for (bad in listOf(3_600_000.1, -1.0, Double.NaN, Double.POSITIVE_INFINITY)) {
            assertFalse(client.recordOutcome("new_model", false, bad), "$bad")
        }
        repeat(8) { client.recordOutcome("new_model", true, 1.0) }
        assertTrue(client.guardrailTrips().isEmpty())
    }

    @Test
    fun events_deliver_guardrail_trips_in_order() {
        val client = client()
        runBlocking {
            // Subscribed before the trip: UNDISPATCHED runs up to the first suspension.
            val next = async(Dispatchers.Unconfined, start = CoroutineStart.UNDISPATCHED) {
                client.guardrailTripEvents().first()
            }
            repeat(10) { yield() }
            trip(client)
            val trip = withTimeout(30.seconds) { next.await() }
            assertEquals("errors", trip.guardrail)
            assertEquals("new_model", trip.flag)
        }
    }

    @Test
    fun all_flags_with_details_sorted_and_without_exposures() {
        val client = client()
        client.setOverride("banner", "a")
        val all = client.allFlags()
        assertEquals(listOf("banner", "new_model"), all.map { it.key })
        assertEquals("a", all[0].details.variation)
        assertEquals(Reason.Override, all[0].details.reason)
        assertEquals(FlagValue.TextValue("A"), all[0].details.value)
        assertEquals(Reason.Fallthrough, all[1].details.reason)
        assertEquals(0uL, client.status().metrics.pendingEvents)
    }

    @Test
    fun options_reach_the_core_and_are_bounded() {
        val e = assertThrows<LiteGateException.InvalidOption> {
            client(litegate.options(guarded).copy(staleAfterIntervals = 0u))
        }
        assertTrue(e.message!!.contains("stale_after_intervals"), e.message)
        assertThrows<LiteGateException.InvalidOption> {
            client(litegate.options(guarded).copy(staleAfterIntervals = 1001u))
        }
        val client = client(
            litegate.options(guarded).copy(
                staleAfterIntervals = 1000u,
                offline = true,
                streaming = false,
                streamUrl = "http://127.0.0.1:9/stream",
                metricsHeaders = mapOf("x-api-key" to "k"),
                policyFlagKeys = PolicyFlagKeys("ml_on", "ml_gpu", "ml_npu", "ml_adaptive", "ml_cloud"),
            ),
        )
        assertTrue(client.isOffline())
        client.setOffline(false)
        assertFalse(client.isOffline())
    }

    @Test
    fun offline_mode_stops_all_network_use_while_reads_go_on() {
        CountingServer().use { server ->
            server.document.set(guarded.decodeToString().replace("\"version\": 1", "\"version\": 2").toByteArray())
            val client = client(
                litegate.options(guarded).copy(
                    configUrl = "${server.url}/config",
                    metricsEndpoint = server.url,
                    metricsHeaders = mapOf("x-api-key" to "secret-1"),
                    offline = true,
                ),
            )
            client.refresh()
            Thread.sleep(1_500)
            assertEquals(0, server.gets.get(), "no fetch while offline")
            assertTrue(client.boolValue("new_model", false), "reads go on")
            runCatching { runBlocking { client.flushMetrics(5.seconds) } }
            assertEquals(0, server.posts.get(), "no upload while offline")

            client.setOffline(false)
            runBlocking { client.refreshNow(30.seconds) }
            assertEquals(2uL, client.configVersion())
            runBlocking { client.flushMetrics(30.seconds) }
            assertTrue(server.posts.get() > 0)
            assertEquals("secret-1", server.lastApiKey.get(), "metrics endpoint headers are sent")

            client.setOffline(true)
            val gets = server.gets.get()
            val posts = server.posts.get()
            client.boolValue("new_model", false)
            client.refresh()
            runCatching { runBlocking { client.flushMetrics(5.seconds) } }
            Thread.sleep(1_500)
            assertEquals(gets, server.gets.get())
            assertEquals(posts, server.posts.get())
            assertThrows<LiteGateException.NotReady> { runBlocking { client.refreshNow(2.seconds) } }
        }
    }

    @Test
    fun config_refused_and_stale_arrive_as_events() {
        CountingServer().use { server ->
            server.document.set(guarded.decodeToString().replace("production", "staging").replace("\"version\": 1", "\"version\": 5").toByteArray())
            val client = client(
                litegate.options(guarded).copy(
                    configUrl = "${server.url}/config",
                    pollIntervalSeconds = 1u,
                    staleAfterIntervals = 2u,
                ),
            )
            runBlocking {
                val seen = mutableListOf<ClientEvent>()
                // Refusals repeat with every (backed-off) poll; Stale comes once, after 2 intervals.
                withTimeout(90.seconds) {
                    client.events().first { e ->
                        seen.add(e)
                        seen.any { it is ClientEvent.Stale } && seen.any { it is ClientEvent.ConfigRefused }
                    }
                }
                val stale = seen.filterIsInstance<ClientEvent.Stale>().single()
                assertEquals(2u, stale.intervals)
                assertEquals(null, stale.lastSuccessUnixMs)
                val refused = seen.filterIsInstance<ClientEvent.ConfigRefused>().first()
                assertEquals(ConfigRefusal.WRONG_ENVIRONMENT, refused.kind)
                assertTrue(refused.reason.isNotEmpty())
            }
            assertEquals(1uL, client.configVersion(), "the bootstrap stays in use")
        }
    }

    @Test
    fun async_calls_suspend_without_holding_a_thread() {
        CountingServer().use { server ->
            // No document: every fetch is a 404, so awaitReady waits out its timeout.
            val client = client(litegate.options(guarded).copy(configUrl = "${server.url}/config"))
            val single = Executors.newSingleThreadExecutor().asCoroutineDispatcher()
            try {
                runBlocking {
                    withContext(single) {
                        val waiting = async {
                            val r = runCatching { client.awaitReady(3.seconds) }
                            r to System.nanoTime()
                        }
                        // Same single thread: this finishes first only if awaitReady
                        // suspended instead of blocking the thread for 3 seconds.
                        val other = async { client.flushMetrics(10.seconds); System.nanoTime() }
                        val otherDone = other.await()
                        val (result, waitingDone) = waiting.await()
                        assertTrue(result.exceptionOrNull() is LiteGateException.NotReady, "$result")
                        assertTrue(otherDone < waitingDone, "flush waited for awaitReady: the thread was blocked")
                    }
                }
            } finally {
                single.close()
            }
            client.shutdown(5_000u)
            assertThrows<LiteGateException.Metrics> { runBlocking { client.flushMetrics(1.seconds) } }
        }
    }
}

/** A loopback server that counts config GETs and metric POSTs. */
class CountingServer : AutoCloseable {
    private val server = HttpServer.create(InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0)
    val document = AtomicReference<ByteArray?>(null)
    val gets = AtomicInteger()
    val posts = AtomicInteger()
    val lastApiKey = AtomicReference<String?>(null)

    init {
        server.createContext("/") { exchange ->
            exchange.use {
                if (it.requestMethod == "GET") {
                    gets.incrementAndGet()
                    val body = document.get()
                    if (body == null) {
                        it.sendResponseHeaders(404, -1)
                    } else {
                        it.sendResponseHeaders(200, body.size.toLong())
                        it.responseBody.write(body)
                    }
                } else {
                    it.requestBody.readBytes()
                    posts.incrementAndGet()
                    lastApiKey.set(it.requestHeaders.getFirst("x-api-key"))
                    it.sendResponseHeaders(200, -1)
                }
            }
        }
        server.start()
    }

    val url: String get() = "http://127.0.0.1:${server.address.port}"

    override fun close() = server.stop(0)
}

package dev.litegate

import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.yield
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.extension.RegisterExtension
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import kotlin.time.Duration.Companion.seconds

class DeliveryTest {
    @JvmField
    @RegisterExtension
    val litegate = LiteGateTestExtension()

    @Test
    fun config_is_fetched_from_a_loopback_server_and_listeners_fire() {
        LoopbackServer().use { server ->
            server.document.set(litegate.fixture("reasons.json"))
            val client = litegate.start(litegate.options(null).copy(configUrl = "${server.url}/config"))
            val updates = LinkedBlockingQueue<ConfigUpdate>()
            val id = client.addConfigListener(
                object : ConfigListener {
                    override fun onConfigChange(update: ConfigUpdate) {
                        updates.add(update)
                    }
                },
            )
            runBlocking { client.awaitReady(60.seconds) }
            assertEquals(7uL, client.configVersion())
            assertEquals(Reason.Fallthrough, client.boolDetails("fixed_on", false).reason)
            val status = client.status()
            assertEquals(ConfigSource.REMOTE, status.configSource)
            assertTrue(status.fetched)

            // A new version on the server, fetched on demand.
            server.document.set(litegate.fixture("global_disable.json"))
            client.refresh()
            var update = updates.poll(60, TimeUnit.SECONDS)
            while (update != null && update.newVersion != 8uL) update = updates.poll(60, TimeUnit.SECONDS)
            assertNotNull(update, "no listener call for version 8")
            assertEquals(ConfigSource.REMOTE, update!!.source)
            assertTrue("fixed_on" in update.changedFlags, update.changedFlags.toString())
            assertEquals(Reason.GlobalDisable("incident 42"), client.boolDetails("fixed_on", true).reason)
            assertTrue(client.removeListener(id))
        }
    }

    @Test
    fun flag_changes_arrive_as_a_flow() {
        LoopbackServer().use { server ->
            server.document.set(litegate.fixture("reasons.json"))
            val client = litegate.start(litegate.options(null).copy(configUrl = "${server.url}/config"))
            runBlocking {
                client.awaitReady(60.seconds)
                // Collect first, so the listener is registered before the
                // new document can arrive (Unconfined runs the flow's
                // producer at once; the yields let the event loop settle).
                val next = async(Dispatchers.Unconfined, start = CoroutineStart.UNDISPATCHED) {
                    client.flagChanges("killed").first()
                }
                repeat(10) { yield() }
                server.document.set(litegate.fixture("global_disable.json"))
                client.refresh()
                val update = withTimeout(60.seconds) { next.await() }
                assertEquals(8uL, update.newVersion)
            }
        }
    }

    @Test
    fun wait_until_ready_without_a_url_is_an_error() {
        val client = litegate.start(litegate.options(litegate.fixture("reasons.json")))
        val e = assertThrows<LiteGateException.NotReady> { client.waitUntilReady(10uL) }
        assertTrue(e.message!!.contains("no config URL"), e.message)
    }
}

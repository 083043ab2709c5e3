// Written the way an app team tests its own code with LiteGate's test data:
// public API only, no loopback server, no fixture files, no device.
package dev.litegate.apptest

import dev.litegate.LiteGateClient
import dev.litegate.Reason
import dev.litegate.boolDetails
import dev.litegate.boolValue
import dev.litegate.guardrailTripEvents
import dev.litegate.stringValue
import dev.litegate.testing.LiteGateTestData
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.yield
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Test
import kotlin.time.Duration.Companion.seconds

/** The app's code under test: picks a checkout flow from flags and reports how it went. */
class CheckoutScreen(private val flags: LiteGateClient) {
    fun flow(): String = if (flags.boolValue("new_checkout", false)) "one-page" else "classic"

    fun banner(): String = flags.stringValue("checkout_banner", "none")

    fun pay(ok: Boolean, millis: Double) {
        flags.recordOutcome("new_checkout", ok, millis)
    }
}

class CheckoutTest {
    private val data = LiteGateTestData()
        .flag("new_checkout") { on(); target(false, "qa-bob") }
        .flag("checkout_banner") { variations("none" to "", "sale" to "20% off"); serve("sale") }
        .errorRateGuardrail("new_checkout", percent = 5.0, lastN = 20, minSamples = 10)
    private val client = data.start()

    @AfterEach
    fun stop() {
        client.shutdown(1_000u)
        client.close()
    }

    @Test
    fun uses_the_one_page_flow_when_the_flag_is_on() {
        val screen = CheckoutScreen(client)
        assertEquals("one-page", screen.flow())
        assertEquals("20% off", screen.banner())
    }

    @Test
    fun falls_back_to_classic_when_the_flag_is_turned_off() {
        val screen = CheckoutScreen(client)
        data.flag("new_checkout") { off() }.update(client)
        assertEquals("classic", screen.flow())
    }

    @Test
    fun failing_payments_roll_the_flag_back_on_this_device() {
        val screen = CheckoutScreen(client)
        runBlocking {
            val trip = async(Dispatchers.Unconfined, start = CoroutineStart.UNDISPATCHED) {
                client.guardrailTripEvents().first()
            }
            repeat(10) { yield() }
            repeat(9) { screen.pay(ok = true, millis = 120.0) }
            screen.pay(ok = false, millis = 900.0)
            assertEquals("new_checkout_errors", withTimeout(30.seconds) { trip.await() }.guardrail)
        }
        assertEquals("classic", screen.flow())
        assertEquals(Reason.Guardrail("new_checkout_errors"), client.boolDetails("new_checkout", true).reason)
    }
}

package dev.litegate

import org.junit.jupiter.api.Assertions
import org.junit.jupiter.api.extension.AfterEachCallback
import org.junit.jupiter.api.extension.BeforeEachCallback
import org.junit.jupiter.api.extension.ExtensionContext
import java.io.File
import java.nio.file.Files
import java.nio.file.Path

/**
 * Resets LiteGate's process-wide state around each test: no log sink
 * before or after, every client a test started is closed, and each test
 * gets a fresh storage directory. Register it with
 * `@JvmField @RegisterExtension val litegate = LiteGateTestExtension()`.
 */
class LiteGateTestExtension : BeforeEachCallback, AfterEachCallback {
    private val clients = mutableListOf<LiteGateClient>()
    private var storage: Path? = null

    /** The fixtures shared with the Rust tests (`crates/litegate-ffi/tests/fixtures`). */
    val fixtures: File = File(
        System.getProperty("litegate.fixtures")
            ?: error("run with -Dlitegate.fixtures=<repo>/crates/litegate-ffi/tests/fixtures"),
    )

    /** A fixture's bytes. */
    fun fixture(name: String): ByteArray = File(fixtures, name).readBytes()

    /** This test's own storage directory. */
    val storageDir: String
        get() = (storage ?: error("outside a test")).toString()

    /** Starts a client that is closed after the test. */
    fun start(options: ClientOptions): LiteGateClient =
        LiteGateClient.start(options).also { synchronized(clients) { clients.add(it) } }

    /** Options for app `dev.litegate.tests` in `production` with [bootstrap] and this test's storage. */
    fun options(bootstrap: ByteArray?, environment: String = "production") =
        ClientOptions(
            appId = "dev.litegate.tests",
            environment = environment,
            bootstrap = bootstrap,
            storageDir = storageDir,
        )

    override fun beforeEach(context: ExtensionContext) {
        clearLogSink()
        storage = Files.createTempDirectory("litegate-test")
    }

    override fun afterEach(context: ExtensionContext) {
        clearLogSink()
        synchronized(clients) {
            clients.forEach { it.close() }
            clients.clear()
        }
        storage?.toFile()?.deleteRecursively()
        storage = null
    }
}

/**
 * `assertThrows<T> { ... }`: Debian's JUnit jars lack the Kotlin
 * extension, so the tests carry this one.
 */
inline fun <reified T : Throwable> assertThrows(noinline block: () -> Unit): T =
    Assertions.assertThrows(T::class.java, block)

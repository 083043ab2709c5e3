// Hand-written Kotlin layer over the generated bindings (dev.litegate).
package dev.litegate

/**
 * Sends LiteGate's log records at [level] and above to [block], replacing
 * any previous sink. [block] runs on the thread that logged, often a
 * LiteGate background thread: keep it quick. An exception it throws is
 * dropped.
 *
 * ```
 * LiteGateLogging.install(LogLevel.INFO) { r -> Log.println(r.level.priority, "LiteGate", r.message) }
 * ```
 *
 * @throws LiteGateException.LogSinkUnavailable when a Rust host already installed a global subscriber.
 */
object LiteGateLogging {
    @Throws(LiteGateException::class)
    fun install(level: LogLevel, block: (LogRecord) -> Unit) {
        setLogSink(LambdaLogSink(block), level)
    }

    /** Stops forwarding log records. */
    fun uninstall() = clearLogSink()
}

private class LambdaLogSink(private val block: (LogRecord) -> Unit) : LogSink {
    override fun log(record: LogRecord) = block(record)
}

/** The `android.util.Log` priority matching this level (VERBOSE = 2 ... ERROR = 6). */
val LogLevel.priority: Int
    get() = when (this) {
        LogLevel.TRACE -> 2
        LogLevel.DEBUG -> 3
        LogLevel.INFO -> 4
        LogLevel.WARN -> 5
        LogLevel.ERROR -> 6
    }

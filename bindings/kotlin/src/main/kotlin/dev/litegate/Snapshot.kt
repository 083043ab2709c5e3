// Hand-written Kotlin layer over the generated bindings (dev.litegate).
//
// The read path: Rust evaluates every flag for the default context when the
// config, the context, an override or a guardrail trip changes; the getters
// in Flags.kt read that snapshot without crossing the FFI. Per read: one
// acquire load of the client's change counter (native memory shared with
// Rust), one hash lookup, one atomic add to the flag's exposure counter
// (native memory that Rust drains into metrics). See BENCHMARKS.md.
package dev.litegate

import com.sun.jna.Pointer
import java.lang.invoke.MethodHandles
import java.lang.invoke.VarHandle
import java.lang.ref.Reference
import java.lang.ref.WeakReference
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.util.WeakHashMap
import java.util.concurrent.atomic.AtomicIntegerArray

/** 8-byte native-order views of native memory shared with Rust. */
private val LONGS: VarHandle = MethodHandles.byteBufferViewVarHandle(LongArray::class.java, ByteOrder.nativeOrder())

private fun nativeBuffer(address: ULong, bytes: Int): ByteBuffer =
    Pointer(address.toLong()).getByteBuffer(0, bytes.toLong()).order(ByteOrder.nativeOrder())

internal const val KIND_NONE = 0
internal const val KIND_BOOL = 1
internal const val KIND_TEXT = 2
internal const val KIND_INT = 3
internal const val KIND_FLOAT = 4
internal const val KIND_JSON = 5

/** One flag of a decoded snapshot, with its typed value and details built once. */
internal class SnapshotFlag(val index: Int, val entry: SnapshotEntry) {
    val details: ValueDetails get() = entry.details
    val kind: Int
    val bool: Boolean
    val long: Long
    val double: Double
    val text: String?
    /** The typed details record for this flag's own type (null when it has no value). */
    val typed: Any?

    init {
        val d = entry.details
        var b = false
        var l = 0L
        var f = 0.0
        var t: String? = null
        var typedDetails: Any? = null
        kind = when (val v = d.value) {
            is FlagValue.BoolValue -> {
                b = v.value
                typedDetails = BoolDetails(v.value, d.variation, d.reason, d.errorCode, d.bucket)
                KIND_BOOL
            }
            is FlagValue.TextValue -> {
                t = v.value
                typedDetails = StringDetails(v.value, d.variation, d.reason, d.errorCode, d.bucket)
                KIND_TEXT
            }
            is FlagValue.IntValue -> {
                l = v.value
                typedDetails = IntDetails(v.value, d.variation, d.reason, d.errorCode, d.bucket)
                KIND_INT
            }
            is FlagValue.FloatValue -> {
                f = v.value
                typedDetails = FloatDetails(v.value, d.variation, d.reason, d.errorCode, d.bucket)
                KIND_FLOAT
            }
            is FlagValue.JsonValue -> {
                t = v.json
                typedDetails = JsonDetails(v.json, d.variation, d.reason, d.errorCode, d.bucket)
                KIND_JSON
            }
            null -> KIND_NONE
        }
        bool = b
        long = l
        double = f
        text = t
        typed = typedDetails
    }
}

/**
 * One immutable snapshot decoded for reads. Holds [record]'s handle, which
 * keeps the native counters alive: every access to them is followed by a
 * reachability fence on this object.
 */
internal class DecodedSnapshot(private val record: FlagSnapshot) {
    val generation: Long = record.generation.toLong()
    val ready: Boolean = record.ready
    private val generationCell: ByteBuffer = nativeBuffer(record.generationAddress, 8)
    private val counters: ByteBuffer? =
        if (record.flags.isEmpty()) null else nativeBuffer(record.exposureCountersAddress, record.flags.size * 8)
    private val byKey: HashMap<String, SnapshotFlag> = HashMap(record.flags.size * 2)
    private val noted = AtomicIntegerArray(record.flags.size)

    init {
        record.flags.forEachIndexed { i, e -> byKey[e.key] = SnapshotFlag(i, e) }
    }

    /** Whether nothing changed since this snapshot was built (acquire load). */
    fun isCurrent(): Boolean {
        val now = LONGS.getAcquire(generationCell, 0) as Long
        Reference.reachabilityFence(this)
        return now == generation
    }

    fun flag(key: String): SnapshotFlag? = byKey[key]

    /** The error a key missing from this snapshot reads as. */
    val missingCode: ErrorCode get() = if (ready) ErrorCode.FLAG_NOT_FOUND else ErrorCode.PROVIDER_NOT_READY
    val missingReason: Reason get() = if (ready) Reason.Error else Reason.NotReady

    /** Counts one exposure of [flag]; the first one also marks it in use for crash attribution. */
    fun expose(flag: SnapshotFlag) {
        val buffer = counters ?: return
        val before = LONGS.getAndAdd(buffer, flag.index * 8, 1L) as Long
        Reference.reachabilityFence(this)
        if (before == 0L && flag.entry.servesFeature && noted.compareAndSet(flag.index, 0, 1)) {
            try {
                record.handle.noteInUse(flag.index.toUInt())
            } catch (_: RuntimeException) {
                // A destroyed handle or a failed call: attribution only, never the read.
            }
        }
    }
}

/** The snapshot state of one client. */
internal class FlagReader {
    @Volatile
    private var current: DecodedSnapshot? = null

    /** The current snapshot, fetched again when Rust's change counter moved; null when none can be had. */
    fun snapshot(client: LiteGateClient): DecodedSnapshot? {
        val s = current
        if (s != null && s.isCurrent()) return s
        return refresh(client)
    }

    @Synchronized
    private fun refresh(client: LiteGateClient): DecodedSnapshot? {
        val s = current
        if (s != null && s.isCurrent()) return s
        val fresh = try {
            DecodedSnapshot(client.flagSnapshot())
        } catch (_: LiteGateException) {
            return s
        } catch (_: IllegalStateException) {
            // The client was closed: keep serving what was read last.
            return s
        }
        current = fresh
        return fresh
    }
}

/** Finds the [FlagReader] of a client without holding the client. */
internal object FlagReaders {
    private class Last(val client: WeakReference<LiteGateClient>, val reader: FlagReader)

    private val readers = WeakHashMap<LiteGateClient, FlagReader>()

    @Volatile
    private var last: Last? = null

    fun of(client: LiteGateClient): FlagReader {
        val l = last
        if (l != null && l.client.get() === client) return l.reader
        val reader = synchronized(readers) { readers.getOrPut(client) { FlagReader() } }
        last = Last(WeakReference(client), reader)
        return reader
    }
}

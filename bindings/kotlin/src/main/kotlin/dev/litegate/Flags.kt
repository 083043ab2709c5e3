// Hand-written Kotlin layer over the generated bindings (dev.litegate).
//
// Typed flag getters. Without a context they read the client's flag
// snapshot (Snapshot.kt) and never cross the FFI: well under a microsecond,
// exposure recording included. With a context they evaluate in Rust.
// Never throw, never block on the network.
package dev.litegate

private inline fun <R> LiteGateClient.read(
    key: String,
    kind: Int,
    onValue: (SnapshotFlag) -> R,
    onDefault: (Reason, ErrorCode?) -> R,
): R {
    val snapshot = FlagReaders.of(this).snapshot(this) ?: return onDefault(Reason.Error, ErrorCode.GENERAL)
    val flag = snapshot.flag(key) ?: return onDefault(snapshot.missingReason, snapshot.missingCode)
    return when (flag.kind) {
        kind -> {
            snapshot.expose(flag)
            onValue(flag)
        }
        KIND_NONE -> onDefault(flag.details.reason, flag.details.errorCode)
        else -> onDefault(Reason.Error, ErrorCode.TYPE_MISMATCH)
    }
}

/** A bool flag for the default context, or [defaultValue]. */
fun LiteGateClient.boolValue(key: String, defaultValue: Boolean): Boolean =
    read(key, KIND_BOOL, { it.bool }, { _, _ -> defaultValue })

/** A string flag for the default context, or [defaultValue]. */
fun LiteGateClient.stringValue(key: String, defaultValue: String): String =
    read(key, KIND_TEXT, { it.text ?: defaultValue }, { _, _ -> defaultValue })

/** An int flag for the default context, or [defaultValue]. */
fun LiteGateClient.intValue(key: String, defaultValue: Long): Long =
    read(key, KIND_INT, { it.long }, { _, _ -> defaultValue })

/** A float flag for the default context, or [defaultValue]. */
fun LiteGateClient.floatValue(key: String, defaultValue: Double): Double =
    read(key, KIND_FLOAT, { it.double }, { _, _ -> defaultValue })

/** A JSON flag as JSON text for the default context, or [defaultJson] exactly as given. */
fun LiteGateClient.jsonValue(key: String, defaultJson: String): String =
    read(key, KIND_JSON, { it.text ?: defaultJson }, { _, _ -> defaultJson })

/** A bool flag with details; [context] replaces the default context for this call (evaluated in Rust). */
fun LiteGateClient.boolDetails(key: String, defaultValue: Boolean, context: EvaluationContext? = null): BoolDetails =
    if (context != null) {
        boolDetailsFor(key, defaultValue, context)
    } else {
        read(key, KIND_BOOL, { it.typed as BoolDetails }, { r, c -> BoolDetails(defaultValue, null, r, c, null) })
    }

/** A string flag with details; [context] replaces the default context for this call. */
fun LiteGateClient.stringDetails(key: String, defaultValue: String, context: EvaluationContext? = null): StringDetails =
    if (context != null) {
        stringDetailsFor(key, defaultValue, context)
    } else {
        read(key, KIND_TEXT, { it.typed as StringDetails }, { r, c -> StringDetails(defaultValue, null, r, c, null) })
    }

/** An int flag with details; [context] replaces the default context for this call. */
fun LiteGateClient.intDetails(key: String, defaultValue: Long, context: EvaluationContext? = null): IntDetails =
    if (context != null) {
        intDetailsFor(key, defaultValue, context)
    } else {
        read(key, KIND_INT, { it.typed as IntDetails }, { r, c -> IntDetails(defaultValue, null, r, c, null) })
    }

/** A float flag with details; [context] replaces the default context for this call. */
fun LiteGateClient.floatDetails(key: String, defaultValue: Double, context: EvaluationContext? = null): FloatDetails =
    if (context != null) {
        floatDetailsFor(key, defaultValue, context)
    } else {
        read(key, KIND_FLOAT, { it.typed as FloatDetails }, { r, c -> FloatDetails(defaultValue, null, r, c, null) })
    }

/** A JSON flag with details (the value as JSON text); [context] replaces the default context for this call. */
fun LiteGateClient.jsonDetails(key: String, defaultJson: String, context: EvaluationContext? = null): JsonDetails =
    if (context != null) {
        jsonDetailsFor(key, defaultJson, context)
    } else {
        read(key, KIND_JSON, { it.typed as JsonDetails }, { r, c -> JsonDetails(defaultJson, null, r, c, null) })
    }

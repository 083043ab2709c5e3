// Hand-written Kotlin layer over the generated bindings (dev.litegate).
package dev.litegate

/**
 * OpenFeature's name for this reason: `DISABLED`, `DEFAULT`,
 * `TARGETING_MATCH`, `SPLIT`, `STATIC` or `ERROR`.
 */
val Reason.openFeatureName: String
    get() = when (this) {
        is Reason.Off, is Reason.KillSwitch, is Reason.GlobalDisable, is Reason.Guardrail -> "DISABLED"
        is Reason.Fallthrough -> "DEFAULT"
        is Reason.TargetMatch, is Reason.RuleMatch, is Reason.PrerequisiteFailed -> "TARGETING_MATCH"
        is Reason.Split -> "SPLIT"
        is Reason.Override -> "STATIC"
        is Reason.NotReady, is Reason.Error -> "ERROR"
    }

/** OpenFeature's name for this error code, e.g. `FLAG_NOT_FOUND`. */
val ErrorCode.openFeatureName: String
    get() = when (this) {
        ErrorCode.FLAG_NOT_FOUND -> "FLAG_NOT_FOUND"
        ErrorCode.TYPE_MISMATCH -> "TYPE_MISMATCH"
        ErrorCode.MALFORMED_FLAG -> "PARSE_ERROR"
        ErrorCode.PROVIDER_NOT_READY -> "PROVIDER_NOT_READY"
        ErrorCode.INVALID_CONTEXT -> "INVALID_CONTEXT"
        ErrorCode.GENERAL -> "GENERAL"
    }

/** True when the flag is served its off variation for safety reasons (kill switch, global disable, guardrail). */
val Reason.isEmergencyOff: Boolean
    get() = this is Reason.KillSwitch || this is Reason.GlobalDisable || this is Reason.Guardrail

/** Builds a custom attribute map: `attributes("tier" to "gold", "beta" to true, "score" to 3)`. */
fun attributes(vararg pairs: Pair<String, Any>): Map<String, AttributeValue> =
    pairs.associate { (name, value) -> name to attributeOf(name, value) }

private fun attributeOf(name: String, value: Any): AttributeValue = when (value) {
    is AttributeValue -> value
    is String -> AttributeValue.Text(value)
    is Boolean -> AttributeValue.Bool(value)
    is Number -> AttributeValue.Number(value.toDouble())
    is Collection<*> -> AttributeValue.Values(value.map { attributeOf(name, it ?: throw IllegalArgumentException("`$name` holds null")) })
    else -> throw IllegalArgumentException("`$name`: unsupported attribute type ${value::class.simpleName}")
}

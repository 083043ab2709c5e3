// Hand-written Swift layer over the generated bindings (module LiteGate).
import Foundation

extension Reason {
    /// OpenFeature's name for this reason: `DISABLED`, `DEFAULT`,
    /// `TARGETING_MATCH`, `SPLIT`, `STATIC` or `ERROR`.
    public var openFeatureName: String {
        switch self {
        case .off, .killSwitch, .globalDisable, .guardrail:
            return "DISABLED"
        case .fallthrough:
            return "DEFAULT"
        case .targetMatch, .ruleMatch, .prerequisiteFailed:
            return "TARGETING_MATCH"
        case .split:
            return "SPLIT"
        case .override:
            return "STATIC"
        case .notReady, .error:
            return "ERROR"
        }
    }

    /// True when the flag is served its off variation for safety reasons
    /// (kill switch, global disable, guardrail).
    public var isEmergencyOff: Bool {
        switch self {
        case .killSwitch, .globalDisable, .guardrail:
            return true
        default:
            return false
        }
    }
}

extension ErrorCode {
    /// OpenFeature's name for this error code, e.g. `FLAG_NOT_FOUND`.
    public var openFeatureName: String {
        switch self {
        case .flagNotFound: return "FLAG_NOT_FOUND"
        case .typeMismatch: return "TYPE_MISMATCH"
        case .malformedFlag: return "PARSE_ERROR"
        case .providerNotReady: return "PROVIDER_NOT_READY"
        case .invalidContext: return "INVALID_CONTEXT"
        case .general: return "GENERAL"
        }
    }
}

extension AttributeValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral
{
    public init(stringLiteral value: String) { self = .text(value: value) }
    public init(booleanLiteral value: Bool) { self = .bool(value: value) }
    public init(floatLiteral value: Double) { self = .number(value: value) }
    public init(integerLiteral value: Int) { self = .number(value: Double(value)) }
    public init(arrayLiteral elements: AttributeValue...) { self = .values(values: elements) }
}

#if canImport(os)
import os

extension LogLevel {
    /// The unified logging type for this level.
    public var osLogType: OSLogType {
        switch self {
        case .trace, .debug: return .debug
        case .info: return .info
        case .warn: return .default
        case .error: return .error
        }
    }
}
#endif

//! Every conversion between the FFI's records and the core's types, in one
//! place. Conversions into the core validate (and fail with
//! [`LiteGateError`]); conversions out of the core cannot fail.

use crate::error::LiteGateError;
use crate::types::{
    AttributeValue, BoolDetails, ClientOptions, ErrorCode, EvaluationContext, FlagValue,
    FloatDetails, IntDetails, JsonDetails, Reason, StringDetails, ValueDetails,
};
use litegate::config;
use litegate::eval::{self, AttrValue, Context, Details};
use litegate::ClientConfig;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Converts the app's options to the core's configuration.
///
/// # Errors
/// [`LiteGateError::InvalidOption`] for a zero poll interval,
/// [`LiteGateError::InvalidContext`] for an unusable default context.
pub fn client_config(options: ClientOptions) -> Result<ClientConfig, LiteGateError> {
    if options.poll_interval_seconds == 0 {
        return Err(LiteGateError::InvalidOption {
            field: "poll_interval_seconds".into(),
            reason: "must be at least 1 second".into(),
        });
    }
    let mut config = ClientConfig::new(options.app_id, options.environment);
    config.config_url = options.config_url;
    config.pinned_keys = options
        .pinned_keys
        .into_iter()
        .map(|k| (k.key_id, k.public_key))
        .collect();
    config.bootstrap = options.bootstrap;
    config.storage_dir = options.storage_dir.map(PathBuf::from);
    config.poll_interval = Duration::from_secs(u64::from(options.poll_interval_seconds));
    if options.metrics_upload_interval_seconds == 0 {
        return Err(LiteGateError::InvalidOption {
            field: "metrics_upload_interval_seconds".into(),
            reason: "must be at least 1 second".into(),
        });
    }
    config.stream_url = options.stream_url.filter(|_| options.streaming);
    config.offline = options.offline;
    if !(1..=crate::types::MAX_STALE_AFTER_INTERVALS).contains(&options.stale_after_intervals) {
        return Err(LiteGateError::InvalidOption {
            field: "stale_after_intervals".into(),
            reason: format!("must be 1 to {}", crate::types::MAX_STALE_AFTER_INTERVALS),
        });
    }
    config.stale_after_intervals = options.stale_after_intervals;
    if let Some(k) = options.policy_flag_keys {
        config.policy_flag_keys = litegate::inference::PolicyFlagKeys {
            litert_enabled: k.litert_enabled,
            litert_gpu_backend: k.litert_gpu_backend,
            litert_npu_backend: k.litert_npu_backend,
            litert_adaptive_switching: k.litert_adaptive_switching,
            ai_fallback_to_cloud: k.ai_fallback_to_cloud,
        };
    }
    config.insecure_http = options.insecure_http;
    config.metrics_upload_interval =
        Duration::from_secs(u64::from(options.metrics_upload_interval_seconds));
    config.targeting_key_salt = options.targeting_key_salt;
    config.upload_raw_targeting_keys = options.upload_raw_targeting_keys;
    config.record_exposures = options.record_exposures;
    config.inference_pool_size = usize::try_from(options.inference_pool_size.max(1)).unwrap_or(1);
    config.metrics_endpoint = options.metrics_endpoint;
    let mut headers: Vec<(String, String)> = options.metrics_headers.into_iter().collect();
    // Sorted so that uploads send headers in a stable order.
    headers.sort();
    config.metrics_headers = headers;
    config.litert_library = options.litert_library.map(PathBuf::from);
    config.tflite_library = options.tflite_library.map(PathBuf::from);
    if let Some(ctx) = options.default_context {
        config.default_context = context(ctx)?;
    }
    Ok(config)
}

/// Converts an evaluation context to the core's.
///
/// # Errors
/// [`LiteGateError::InvalidContext`] naming the attribute, for a version
/// that is not SemVer, a memory size that is not finite, or a NaN number.
pub fn context(ctx: EvaluationContext) -> Result<Context, LiteGateError> {
    let mut out = Context::new(ctx.targeting_key);
    out.device_id = ctx.device_id;
    out.os = ctx.os;
    if let Some(v) = ctx.os_version {
        out = out.os_version(v);
    }
    if let Some(v) = ctx.app_version {
        out = out.app_version(v);
    }
    out.device_model = ctx.device_model;
    out.locale = ctx.locale;
    out.country = ctx.country;
    if let Some(ram) = ctx.ram_mb {
        if !ram.is_finite() || ram < 0.0 {
            return Err(invalid_attribute(
                "ram_mb",
                "must be a finite number of MiB",
            ));
        }
        out.ram_mb = Some(ram);
    }
    out.has_gpu = ctx.has_gpu;
    out.has_npu = ctx.has_npu;
    out.accelerators = ctx.accelerators;
    for (name, value) in ctx.custom {
        let value = attribute(&name, value)?;
        out.custom.insert(name, value);
    }
    Ok(out)
}

fn invalid_attribute(attribute: &str, reason: &str) -> LiteGateError {
    LiteGateError::InvalidContext {
        attribute: attribute.to_owned(),
        reason: reason.to_owned(),
    }
}

fn attribute(name: &str, value: AttributeValue) -> Result<AttrValue, LiteGateError> {
    Ok(match value {
        AttributeValue::Text { value } => AttrValue::String(value),
        AttributeValue::Number { value } if value.is_nan() => {
            return Err(invalid_attribute(
                name,
                "NaN is not a number rules can compare",
            ));
        }
        AttributeValue::Number { value } => AttrValue::Number(value),
        AttributeValue::Bool { value } => AttrValue::Bool(value),
        AttributeValue::Version { value } => match eval::parse_semver_lenient(&value) {
            Some(v) => AttrValue::Semver(v),
            None => {
                return Err(invalid_attribute(
                    name,
                    "not a version (expected SemVer such as `1.2.3`, or `1.2`)",
                ))
            }
        },
        AttributeValue::Timestamp { unix_ms } => AttrValue::Timestamp(unix_ms),
        AttributeValue::Values { values } => AttrValue::List(
            values
                .into_iter()
                .map(|v| attribute(name, v))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// Converts the core's context back, e.g. for `LiteGateClient::context`.
pub fn context_out(ctx: &Context) -> EvaluationContext {
    EvaluationContext {
        targeting_key: ctx.targeting_key.clone(),
        device_id: ctx.device_id.clone(),
        os: ctx.os.clone(),
        os_version: ctx.os_version.as_ref().map(|v| v.raw.clone()),
        app_version: ctx.app_version.as_ref().map(|v| v.raw.clone()),
        device_model: ctx.device_model.clone(),
        locale: ctx.locale.clone(),
        country: ctx.country.clone(),
        ram_mb: ctx.ram_mb,
        has_gpu: ctx.has_gpu,
        has_npu: ctx.has_npu,
        accelerators: ctx.accelerators.clone(),
        custom: ctx
            .custom
            .iter()
            .map(|(k, v)| (k.clone(), attribute_out(v)))
            .collect(),
    }
}

fn attribute_out(value: &AttrValue) -> AttributeValue {
    match value {
        AttrValue::String(s) => AttributeValue::Text { value: s.clone() },
        AttrValue::Number(n) => AttributeValue::Number { value: *n },
        AttrValue::Bool(b) => AttributeValue::Bool { value: *b },
        AttrValue::Semver(v) => AttributeValue::Version {
            value: v.to_string(),
        },
        AttrValue::Timestamp(ms) => AttributeValue::Timestamp { unix_ms: *ms },
        AttrValue::List(items) => AttributeValue::Values {
            values: items.iter().map(attribute_out).collect(),
        },
    }
}

/// Converts a reason.
pub fn reason(r: &eval::Reason) -> Reason {
    match r {
        eval::Reason::Off => Reason::Off,
        eval::Reason::Fallthrough => Reason::Fallthrough,
        eval::Reason::TargetMatch => Reason::TargetMatch,
        eval::Reason::RuleMatch { rule_id } => Reason::RuleMatch {
            rule_id: rule_id.to_string(),
        },
        eval::Reason::Split => Reason::Split,
        eval::Reason::PrerequisiteFailed { flag } => Reason::PrerequisiteFailed {
            flag: flag.to_string(),
        },
        eval::Reason::KillSwitch { reason } => Reason::KillSwitch {
            reason: reason.to_string(),
        },
        eval::Reason::GlobalDisable { reason } => Reason::GlobalDisable {
            reason: reason.to_string(),
        },
        eval::Reason::Guardrail { guardrail } => Reason::Guardrail {
            guardrail: guardrail.to_string(),
        },
        eval::Reason::Override => Reason::Override,
        eval::Reason::NotReady => Reason::NotReady,
        eval::Reason::Error => Reason::Error,
    }
}

/// Converts an error code.
pub fn error_code(code: eval::ErrorCode) -> ErrorCode {
    match code {
        eval::ErrorCode::FlagNotFound => ErrorCode::FlagNotFound,
        eval::ErrorCode::TypeMismatch => ErrorCode::TypeMismatch,
        eval::ErrorCode::MalformedFlag => ErrorCode::MalformedFlag,
        eval::ErrorCode::ProviderNotReady => ErrorCode::ProviderNotReady,
    }
}

/// The parts every details record shares.
struct Common {
    variation: Option<String>,
    reason: Reason,
    error_code: Option<ErrorCode>,
    bucket: Option<u32>,
}

fn common<T>(d: &Details<T>) -> Common {
    Common {
        variation: d.variation.as_deref().map(str::to_owned),
        reason: reason(&d.reason),
        error_code: d.error.map(error_code),
        bucket: d.bucket,
    }
}

/// The fields of a details record for the caller's default returned
/// because of `code`.
fn failure(code: ErrorCode) -> Common {
    Common {
        variation: None,
        reason: Reason::Error,
        error_code: Some(code),
        bucket: None,
    }
}

macro_rules! details_record {
    ($name:ident, $failed:ident, $record:ident { $field:ident: $ft:ty }, $core:ty, |$v:ident| $conv:expr) => {
        /// Converts the core's details to the record.
        pub fn $name(d: &Details<$core>) -> $record {
            let Common {
                variation,
                reason,
                error_code,
                bucket,
            } = common(d);
            let $v = &d.value;
            $record {
                $field: $conv,
                variation,
                reason,
                error_code,
                bucket,
            }
        }

        /// The record for the caller's default returned because of `code`.
        pub fn $failed($field: $ft, code: ErrorCode) -> $record {
            let Common {
                variation,
                reason,
                error_code,
                bucket,
            } = failure(code);
            $record {
                $field,
                variation,
                reason,
                error_code,
                bucket,
            }
        }
    };
}

details_record!(
    bool_details,
    bool_failed,
    BoolDetails { value: bool },
    bool,
    |v| *v
);
details_record!(
    string_details,
    string_failed,
    StringDetails { value: String },
    Arc<str>,
    |v| v.to_string()
);
details_record!(
    int_details,
    int_failed,
    IntDetails { value: i64 },
    i64,
    |v| *v
);
details_record!(
    float_details,
    float_failed,
    FloatDetails { value: f64 },
    f64,
    |v| *v
);
details_record!(
    json_details,
    json_failed,
    JsonDetails { json: String },
    Arc<serde_json::Value>,
    |v| v.to_string()
);
details_record!(value_details, value_failed, ValueDetails { value: Option<FlagValue> }, Option<config::FlagValue>, |v| v.as_ref().map(flag_value));

/// Converts a flag value.
pub fn flag_value(v: &config::FlagValue) -> FlagValue {
    match v {
        config::FlagValue::Bool(value) => FlagValue::BoolValue { value: *value },
        config::FlagValue::String(value) => FlagValue::TextValue {
            value: value.to_string(),
        },
        config::FlagValue::Int(value) => FlagValue::IntValue { value: *value },
        config::FlagValue::Float(value) => FlagValue::FloatValue { value: *value },
        config::FlagValue::Json(json) => FlagValue::JsonValue {
            json: json.to_string(),
        },
    }
}

/// Parses a JSON argument.
///
/// # Errors
/// [`LiteGateError::InvalidJson`] naming the argument.
pub fn json_argument(argument: &str, text: &str) -> Result<serde_json::Value, LiteGateError> {
    serde_json::from_str(text).map_err(|e| LiteGateError::InvalidJson {
        argument: argument.to_owned(),
        reason: e.to_string(),
    })
}

/// Converts a config source.
pub fn config_source(s: litegate::delivery::ConfigSource) -> crate::types::ConfigSource {
    use crate::types::ConfigSource as Out;
    use litegate::delivery::ConfigSource as In;
    match s {
        In::Persisted => Out::Persisted,
        In::Bootstrap => Out::Bootstrap,
        In::Remote => Out::Remote,
    }
}

/// Converts a config change.
pub fn config_update(c: &litegate::delivery::ConfigChange) -> crate::types::ConfigUpdate {
    crate::types::ConfigUpdate {
        old_version: c.old_version,
        new_version: c.new_version,
        source: config_source(c.source),
        changed_flags: c.changed_flags.clone(),
    }
}

/// Converts the metrics counts.
pub fn metrics_summary(s: &litegate::metrics::MetricsStats) -> crate::types::MetricsSummary {
    crate::types::MetricsSummary {
        delivered_batches: s.delivered_batches,
        delivered_points: s.delivered_points,
        delivered_events: s.delivered_events,
        retries: s.retries,
        queued_batches: s.queued_batches,
        pending_events: s.pending_events,
        lost_items: s.lost_items(),
    }
}

/// Converts the client's status.
pub fn status(s: &litegate::client::ClientStatus) -> crate::types::ClientStatus {
    let unix_ms = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|d| i64::try_from(d.as_millis()).ok())
    };
    crate::types::ClientStatus {
        config_version: s.config_version,
        config_source: s.config_source.map(config_source),
        fetched: s.delivery.ready,
        fetch_attempts: s.delivery.attempts,
        consecutive_failures: s.delivery.consecutive_failures,
        last_fetch_error: s.delivery.last_error.as_ref().map(ToString::to_string),
        last_fetch_unix_ms: s.delivery.last_success.and_then(unix_ms),
        metrics: metrics_summary(&s.metrics),
        guardrail_trips: s.guardrail_trips.iter().map(guardrail_trip).collect(),
        runtimes: s.runtimes.clone(),
    }
}

/// Converts a guardrail trip.
pub fn guardrail_trip(t: &litegate::guardrails::Trip) -> crate::types::GuardrailTrip {
    crate::types::GuardrailTrip {
        guardrail: t.guardrail.clone(),
        flag: t.flag.clone(),
        model: t.model.clone(),
        accelerator: t.accelerator.clone(),
        summary: format!(
            "{} {} {} (observed {} over {})",
            t.metric.as_str(),
            t.op.as_str(),
            t.threshold,
            t.observed,
            t.window
        ),
        at_unix_ms: t.at_ms,
        expires_at_unix_ms: t.expires_at_ms,
    }
}

/// Converts a shutdown outcome.
pub fn shutdown(o: litegate::runtime::ShutdownOutcome) -> crate::types::ShutdownResult {
    use crate::types::ShutdownResult as Out;
    use litegate::runtime::ShutdownOutcome as In;
    match o {
        In::Stopped | In::CalledFromRuntimeThread => Out::Stopped,
        In::TimedOut => Out::TimedOut,
        In::AlreadyStopped => Out::AlreadyStopped,
    }
}

/// Converts an event attribute.
pub fn event_value(v: &crate::types::EventValue) -> litegate::metrics::AttrValue {
    use crate::types::EventValue as In;
    use litegate::metrics::AttrValue as Out;
    match v {
        In::Text { value } => Out::Str(value.clone()),
        In::Int { value } => Out::Int(*value),
        In::Double { value } => Out::Double(*value),
        In::Bool { value } => Out::Bool(*value),
    }
}

/// A core client event in its foreign form; `None` for kinds foreign code
/// does not see.
pub fn client_event(e: &litegate::client::ClientEvent) -> Option<crate::types::ClientEvent> {
    use crate::types::ClientEvent as Out;
    use litegate::client::ClientEvent as In;
    Some(match e {
        In::Ready => Out::Ready,
        In::ConfigApplied {
            version,
            source,
            changed_flags,
        } => Out::ConfigApplied {
            version: *version,
            source: config_source(*source),
            changed_flags: u64::try_from(*changed_flags).unwrap_or(u64::MAX),
        },
        In::ConfigRefused(r) => Out::ConfigRefused {
            kind: refusal(r),
            reason: r.to_string(),
        },
        In::FetchFailed(f) => Out::FetchFailed {
            reason: f.to_string(),
        },
        In::Stale {
            intervals,
            last_success_unix_ms,
        } => Out::Stale {
            intervals: *intervals,
            last_success_unix_ms: *last_success_unix_ms,
        },
        In::GuardrailTripped(t) => Out::GuardrailTripped {
            trip: guardrail_trip(t),
        },
        In::ModelFallback {
            model,
            from,
            to,
            error,
        } => Out::ModelFallback {
            model: model.clone(),
            from: from.as_str().to_owned(),
            to: to.map(|a| a.as_str().to_owned()),
            error: error.clone(),
        },
        In::ModelUnavailable { model, reasons } => Out::ModelUnavailable {
            model: model.clone(),
            reasons: reasons.clone(),
        },
        _ => return None,
    })
}

fn refusal(r: &litegate::delivery::Rejection) -> crate::types::ConfigRefusal {
    use crate::types::ConfigRefusal as K;
    use litegate::delivery::Rejection;
    match r {
        Rejection::Signature(_) => K::Signature,
        Rejection::Config(config::ConfigError::WrongEnvironment { .. }) => K::WrongEnvironment,
        Rejection::Config(_) => K::Invalid,
        Rejection::StaleVersion { .. } => K::StaleVersion,
        Rejection::VersionNotIncreased { .. } => K::VersionNotIncreased,
        #[allow(unreachable_patterns)]
        _ => K::Other,
    }
}

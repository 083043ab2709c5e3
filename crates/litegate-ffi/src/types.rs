//! The records and enums Swift and Kotlin see. Plain data: no behaviour
//! here, and every conversion from or to a core type lives in
//! [`crate::convert`].

use std::collections::HashMap;

/// How a client is configured. Only `app_id` and `environment` are
/// required; every other field has a working default.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ClientOptions {
    /// The app's id, reported with metrics (e.g. `com.example.app`).
    pub app_id: String,
    /// The environment config documents must target (`dev`, `staging`, `production`).
    pub environment: String,
    /// Where to fetch the rollout config (HTTPS, or HTTP on loopback).
    #[uniffi(default = None)]
    pub config_url: Option<String>,
    /// Ed25519 public keys that may sign configs. When non-empty, unsigned
    /// or wrongly signed documents are refused.
    #[uniffi(default)]
    pub pinned_keys: Vec<PinnedKey>,
    /// A bundled config (the JSON bytes) used until a fetched or persisted
    /// one is available.
    #[uniffi(default = None)]
    pub bootstrap: Option<Vec<u8>>,
    /// Where the SDK keeps its files (config cache, metrics, guardrail
    /// trips): the app's private files directory plus a subfolder.
    #[uniffi(default = None)]
    pub storage_dir: Option<String>,
    /// Seconds between config polls.
    #[uniffi(default = 300)]
    pub poll_interval_seconds: u32,
    /// A server-sent-events URL announcing new documents (applied within a
    /// second; polling continues as the fallback).
    #[uniffi(default = None)]
    pub stream_url: Option<String>,
    /// Allow plain HTTP to non-loopback hosts (development only).
    #[uniffi(default = false)]
    pub insecure_http: bool,
    /// OTLP/HTTP base URL (`/v1/metrics` and `/v1/logs` are appended).
    #[uniffi(default = None)]
    pub metrics_endpoint: Option<String>,
    /// Extra headers sent with metric uploads (e.g. an API key).
    #[uniffi(default)]
    pub metrics_headers: HashMap<String, String>,
    /// Seconds between metric uploads.
    #[uniffi(default = 60)]
    pub metrics_upload_interval_seconds: u32,
    /// Salt for hashing targeting keys in uploaded events (raw keys are
    /// never uploaded unless `upload_raw_targeting_keys`).
    #[uniffi(default = None)]
    pub targeting_key_salt: Option<String>,
    /// Upload targeting keys unhashed (the app takes responsibility).
    #[uniffi(default = false)]
    pub upload_raw_targeting_keys: bool,
    /// Record an exposure for every typed flag evaluation.
    #[uniffi(default = true)]
    pub record_exposures: bool,
    /// Compiled instances per model, i.e. concurrent runs.
    #[uniffi(default = 2)]
    pub inference_pool_size: u32,
    /// Explicit path of `libLiteRt` (otherwise the platform's search path).
    #[uniffi(default = None)]
    pub litert_library: Option<String>,
    /// Explicit path of `libtensorflowlite_c` (otherwise the platform's search path).
    #[uniffi(default = None)]
    pub tflite_library: Option<String>,
    /// The context used when a call passes none.
    #[uniffi(default = None)]
    pub default_context: Option<EvaluationContext>,
    /// Whether to connect to `stream_url` (when set). Off: polling only.
    #[uniffi(default = true)]
    pub streaming: bool,
    /// Start in offline mode: no network use until `setOffline(false)`.
    #[uniffi(default = false)]
    pub offline: bool,
    /// Send `ClientEvent.Stale` after this many poll intervals without a
    /// successful fetch (1 to [`MAX_STALE_AFTER_INTERVALS`]).
    #[uniffi(default = 3)]
    pub stale_after_intervals: u32,
    /// The flag keys that steer inference; `None` keeps the defaults.
    #[uniffi(default = None)]
    pub policy_flag_keys: Option<PolicyFlagKeys>,
}

/// The largest accepted `ClientOptions.stale_after_intervals`.
pub const MAX_STALE_AFTER_INTERVALS: u32 = 1_000;

/// The flag keys that steer inference, when the app's config names them
/// differently from the defaults.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PolicyFlagKeys {
    /// Local inference on or off (default `litert_enabled`).
    pub litert_enabled: String,
    /// GPU allowed (default `litert_gpu_backend`).
    pub litert_gpu_backend: String,
    /// NPU allowed (default `litert_npu_backend`).
    pub litert_npu_backend: String,
    /// Latency-driven switching (default `litert_adaptive_switching`).
    pub litert_adaptive_switching: String,
    /// The app's cloud path allowed (default `ai_fallback_to_cloud`).
    pub ai_fallback_to_cloud: String,
}

/// Why a config document was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ConfigRefusal {
    /// Unsigned, or signed by a key that is not pinned.
    Signature,
    /// It targets another environment.
    WrongEnvironment,
    /// It does not parse or fails a check.
    Invalid,
    /// Its version is older than the one in use.
    StaleVersion,
    /// Same version as the one in use, different content.
    VersionNotIncreased,
    /// Another reason (see the message).
    Other,
}

/// Something that happened to the client: the items of
/// `LiteGateClient.events()` (Kotlin `Flow`, Swift `AsyncStream`).
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum ClientEvent {
    /// The first remote fetch succeeded (once per client).
    Ready,
    /// A new config document is in use.
    ConfigApplied {
        /// Its version.
        version: u64,
        /// Where it came from.
        source: ConfigSource,
        /// How many flags changed.
        changed_flags: u64,
    },
    /// A config document was refused; the previous one stays in use.
    ConfigRefused {
        /// The kind of refusal.
        kind: ConfigRefusal,
        /// The reason, for logs.
        reason: String,
    },
    /// A config fetch failed.
    FetchFailed {
        /// Why, for logs.
        reason: String,
    },
    /// No fetch succeeded for `intervals` poll intervals (sent once until a
    /// fetch succeeds again).
    Stale {
        /// The threshold crossed, in poll intervals.
        intervals: u32,
        /// When a fetch last succeeded (unix ms), if ever.
        last_success_unix_ms: Option<i64>,
    },
    /// A guardrail tripped on this device.
    GuardrailTripped {
        /// The trip.
        trip: GuardrailTrip,
    },
    /// A model's accelerator failed and the next one was tried.
    ModelFallback {
        /// The model's key.
        model: String,
        /// The accelerator that failed: `npu`, `gpu` or `cpu`.
        from: String,
        /// The one tried next; `None` when nothing local is left.
        to: Option<String>,
        /// Why it failed.
        error: String,
    },
    /// Nothing local could run a model.
    ModelUnavailable {
        /// The model's key.
        model: String,
        /// Why each candidate was skipped or failed.
        reasons: Vec<String>,
    },
    /// The subscription's queue was full: this many events were dropped.
    EventsDropped {
        /// How many.
        count: u64,
    },
}

/// One flag of `LiteGateClient.allFlags()`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FlagState {
    /// The flag's key.
    pub key: String,
    /// Its value and how it was chosen.
    pub details: ValueDetails,
}

impl ClientOptions {
    /// Options with defaults for everything optional.
    pub fn new(app_id: String, environment: String) -> Self {
        ClientOptions {
            app_id,
            environment,
            config_url: None,
            pinned_keys: Vec::new(),
            bootstrap: None,
            storage_dir: None,
            poll_interval_seconds: 300,
            stream_url: None,
            insecure_http: false,
            metrics_endpoint: None,
            metrics_headers: HashMap::new(),
            metrics_upload_interval_seconds: 60,
            targeting_key_salt: None,
            upload_raw_targeting_keys: false,
            record_exposures: true,
            inference_pool_size: 2,
            litert_library: None,
            tflite_library: None,
            default_context: None,
            streaming: true,
            offline: false,
            stale_after_intervals: 3,
            policy_flag_keys: None,
        }
    }
}

/// An Ed25519 public key trusted to sign rollout configs.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PinnedKey {
    /// The key id documents name in their signature.
    pub key_id: String,
    /// The 32-byte public key.
    pub public_key: Vec<u8>,
}

/// Who and what a flag is evaluated for. Build one per user or device and
/// reuse it.
#[derive(Debug, Clone, Default, PartialEq, uniffi::Record)]
pub struct EvaluationContext {
    /// The stable id percentages hash by default (a user id).
    pub targeting_key: String,
    /// A stable device id, for rules that bucket by device.
    #[uniffi(default = None)]
    pub device_id: Option<String>,
    /// Operating system, e.g. `android`, `ios`.
    #[uniffi(default = None)]
    pub os: Option<String>,
    /// Operating system version, e.g. `14` or `17.2`.
    #[uniffi(default = None)]
    pub os_version: Option<String>,
    /// The app's version, e.g. `3.2.0`.
    #[uniffi(default = None)]
    pub app_version: Option<String>,
    /// Device model, e.g. `Pixel 8`.
    #[uniffi(default = None)]
    pub device_model: Option<String>,
    /// Locale, e.g. `en-US`.
    #[uniffi(default = None)]
    pub locale: Option<String>,
    /// Country or region code, e.g. `US`.
    #[uniffi(default = None)]
    pub country: Option<String>,
    /// Installed memory in MiB.
    #[uniffi(default = None)]
    pub ram_mb: Option<f64>,
    /// Whether a usable GPU is present.
    #[uniffi(default = None)]
    pub has_gpu: Option<bool>,
    /// Whether a usable NPU is present.
    #[uniffi(default = None)]
    pub has_npu: Option<bool>,
    /// Accelerator names the device offers, e.g. `["cpu", "gpu"]`.
    #[uniffi(default)]
    pub accelerators: Vec<String>,
    /// Any other attribute rules may test.
    #[uniffi(default)]
    pub custom: HashMap<String, AttributeValue>,
}

/// A custom context attribute.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum AttributeValue {
    /// Text.
    Text {
        /// The text.
        value: String,
    },
    /// A number. NaN is refused.
    Number {
        /// The number.
        value: f64,
    },
    /// A bool.
    Bool {
        /// The bool.
        value: bool,
    },
    /// A version compared as SemVer (`1.2` reads as `1.2.0`).
    Version {
        /// The version as written.
        value: String,
    },
    /// A point in time, unix milliseconds.
    Timestamp {
        /// Milliseconds since 1970-01-01T00:00:00Z.
        unix_ms: i64,
    },
    /// A list: a clause matches if any element matches.
    Values {
        /// The elements.
        values: Vec<AttributeValue>,
    },
}

/// Why a flag evaluated as it did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum Reason {
    /// The flag is disabled; its off variation is served.
    Off,
    /// No target or rule matched; the fallthrough served a fixed variation.
    Fallthrough,
    /// The targeting key is in the flag's explicit target list.
    TargetMatch,
    /// A rule matched.
    RuleMatch {
        /// The rule's id.
        rule_id: String,
    },
    /// The fallthrough bucketed the context (percentage, split or phase).
    Split,
    /// A prerequisite flag did not evaluate to a required variation.
    PrerequisiteFailed {
        /// The prerequisite flag's key.
        flag: String,
    },
    /// The flag's kill switch is on.
    KillSwitch {
        /// Why it was switched off.
        reason: String,
    },
    /// The config's global "disable everything" switch is on.
    GlobalDisable {
        /// Why.
        reason: String,
    },
    /// A local guardrail tripped and disabled the flag on this device.
    Guardrail {
        /// The guardrail's id.
        guardrail: String,
    },
    /// A local override set by the app (QA).
    Override,
    /// No config is loaded yet; the default was returned.
    NotReady,
    /// The default was returned because of an error (see `error_code`).
    Error,
}

/// Why the caller's default was returned (OpenFeature error codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ErrorCode {
    /// No flag has this key.
    FlagNotFound,
    /// The flag's type is not the one asked for.
    TypeMismatch,
    /// The flag is malformed in the config.
    MalformedFlag,
    /// No config is loaded yet.
    ProviderNotReady,
    /// The context passed to the call is unusable (e.g. a version that is
    /// not SemVer); the message was logged.
    InvalidContext,
    /// The SDK failed internally (a bug); the default was returned.
    General,
}

/// A bool flag's value and how it was chosen.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct BoolDetails {
    /// The value served, or the caller's default on error.
    pub value: bool,
    /// The variation served; `None` when the default was returned.
    pub variation: Option<String>,
    /// Why.
    pub reason: Reason,
    /// Set when `reason` is `Error` or `NotReady`.
    pub error_code: Option<ErrorCode>,
    /// The context's bucket (0..100,000) when a percentage or split decided.
    pub bucket: Option<u32>,
}

/// A string flag's value and how it was chosen.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct StringDetails {
    /// The value served, or the caller's default on error.
    pub value: String,
    /// The variation served; `None` when the default was returned.
    pub variation: Option<String>,
    /// Why.
    pub reason: Reason,
    /// Set when `reason` is `Error` or `NotReady`.
    pub error_code: Option<ErrorCode>,
    /// The context's bucket (0..100,000) when a percentage or split decided.
    pub bucket: Option<u32>,
}

/// An int flag's value and how it was chosen.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct IntDetails {
    /// The value served, or the caller's default on error.
    pub value: i64,
    /// The variation served; `None` when the default was returned.
    pub variation: Option<String>,
    /// Why.
    pub reason: Reason,
    /// Set when `reason` is `Error` or `NotReady`.
    pub error_code: Option<ErrorCode>,
    /// The context's bucket (0..100,000) when a percentage or split decided.
    pub bucket: Option<u32>,
}

/// A float flag's value and how it was chosen.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FloatDetails {
    /// The value served, or the caller's default on error.
    pub value: f64,
    /// The variation served; `None` when the default was returned.
    pub variation: Option<String>,
    /// Why.
    pub reason: Reason,
    /// Set when `reason` is `Error` or `NotReady`.
    pub error_code: Option<ErrorCode>,
    /// The context's bucket (0..100,000) when a percentage or split decided.
    pub bucket: Option<u32>,
}

/// A JSON flag's value (as JSON text) and how it was chosen.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct JsonDetails {
    /// The value served as JSON text, or the caller's default on error.
    pub json: String,
    /// The variation served; `None` when the default was returned.
    pub variation: Option<String>,
    /// Why.
    pub reason: Reason,
    /// Set when `reason` is `Error` or `NotReady`.
    pub error_code: Option<ErrorCode>,
    /// The context's bucket (0..100,000) when a percentage or split decided.
    pub bucket: Option<u32>,
}

/// A flag value of any type.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum FlagValue {
    /// A bool flag's value.
    BoolValue {
        /// The value.
        value: bool,
    },
    /// A string flag's value.
    TextValue {
        /// The value.
        value: String,
    },
    /// An int flag's value.
    IntValue {
        /// The value.
        value: i64,
    },
    /// A float flag's value.
    FloatValue {
        /// The value.
        value: f64,
    },
    /// A JSON flag's value, as JSON text.
    JsonValue {
        /// The JSON text.
        json: String,
    },
}

/// A flag of any type and how it was chosen.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ValueDetails {
    /// The value served; `None` when the flag could not be evaluated.
    pub value: Option<FlagValue>,
    /// The variation served.
    pub variation: Option<String>,
    /// Why.
    pub reason: Reason,
    /// Set when `reason` is `Error` or `NotReady`.
    pub error_code: Option<ErrorCode>,
    /// The context's bucket (0..100,000) when a percentage or split decided.
    pub bucket: Option<u32>,
}

/// How severe a log record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, uniffi::Enum)]
pub enum LogLevel {
    /// Very detailed tracing.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation worth noting.
    Info,
    /// Something went wrong and was handled (e.g. a fetch failed).
    Warn,
    /// Something failed that the app may need to know about.
    Error,
}

/// One log line from the SDK.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LogRecord {
    /// Severity.
    pub level: LogLevel,
    /// The SDK module that logged it, e.g. `litegate::delivery`.
    pub target: String,
    /// The message, followed by its fields as `name=value`.
    pub message: String,
}

/// Where the config in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ConfigSource {
    /// The last-known-good copy persisted on the device.
    Persisted,
    /// The document the app bundled.
    Bootstrap,
    /// Fetched from the config URL in this process.
    Remote,
}

/// A new config document and the flags it changed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ConfigUpdate {
    /// The version replaced, if a document was in use.
    pub old_version: Option<u64>,
    /// The version now in use.
    pub new_version: u64,
    /// Where it came from.
    pub source: ConfigSource,
    /// Keys of flags added, removed or changed.
    pub changed_flags: Vec<String>,
}

/// The metrics pipeline's counts.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct MetricsSummary {
    /// Batches the collector acknowledged.
    pub delivered_batches: u64,
    /// Data points in delivered batches.
    pub delivered_points: u64,
    /// Events in delivered batches.
    pub delivered_events: u64,
    /// Upload attempts that failed and will be retried.
    pub retries: u64,
    /// Batches waiting for upload.
    pub queued_batches: u64,
    /// Events recorded but not yet batched.
    pub pending_events: u64,
    /// Items lost for any reason (full queue, disk budget, corruption).
    pub lost_items: u64,
}

/// What the client knows about itself.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ClientStatus {
    /// The version of the config in use, if any.
    pub config_version: Option<u64>,
    /// Where it came from.
    pub config_source: Option<ConfigSource>,
    /// Whether a remote fetch succeeded since start.
    pub fetched: bool,
    /// Fetch attempts since start.
    pub fetch_attempts: u64,
    /// Failures in a row (0 after a success).
    pub consecutive_failures: u32,
    /// Why the latest fetch failed, if it did.
    pub last_fetch_error: Option<String>,
    /// When a fetch last succeeded, unix milliseconds.
    pub last_fetch_unix_ms: Option<i64>,
    /// The metrics pipeline.
    pub metrics: MetricsSummary,
    /// Guardrail trips in force on this device.
    pub guardrail_trips: Vec<GuardrailTrip>,
    /// Runtimes that load here, with their versions (`litert 2.3.0`).
    pub runtimes: Vec<String>,
}

/// A guardrail that tripped on this device and rolled something back.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct GuardrailTrip {
    /// The guardrail's id.
    pub guardrail: String,
    /// The flag it watches, for flag guardrails.
    pub flag: Option<String>,
    /// The model it watches, for model guardrails.
    pub model: Option<String>,
    /// The accelerator whose samples tripped it.
    pub accelerator: Option<String>,
    /// What tripped, e.g. `error_rate > 5 (observed 12.5 over last 20)`.
    pub summary: String,
    /// When, unix milliseconds.
    pub at_unix_ms: i64,
    /// When it lifts on its own, unix milliseconds, if ever.
    pub expires_at_unix_ms: Option<i64>,
}

/// How [`crate::LiteGateClient::shutdown`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ShutdownResult {
    /// Stopped within the timeout.
    Stopped,
    /// Still busy at the timeout; it finishes on its own.
    TimedOut,
    /// It was already stopped.
    AlreadyStopped,
}

/// A value of an app event's attribute.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum EventValue {
    /// Text.
    Text {
        /// The text.
        value: String,
    },
    /// An integer.
    Int {
        /// The integer.
        value: i64,
    },
    /// A float.
    Double {
        /// The float.
        value: f64,
    },
    /// A bool.
    Bool {
        /// The bool.
        value: bool,
    },
}

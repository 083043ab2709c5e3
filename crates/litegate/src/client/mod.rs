//! The one object apps use: [`Client`] owns config delivery, the evaluator,
//! inference engines, metrics and guardrails, and the background runtime
//! they run on.
//!
//! Every method is safe to call from any thread, returns quickly (no call
//! waits on the network unless its name says so: `wait_until_ready`,
//! `flush`, `shutdown`), and never panics.

mod all_flags;
mod events;
mod flags;
mod guard;
mod lifecycle;
mod models;
mod snapshot;
mod storage;
mod waits;

pub use events::{ClientEvent, EventListenerId, DEFAULT_STALE_AFTER_INTERVALS};
pub use lifecycle::ClientStatus;
pub use models::{AppFallback, Model, ModelError, ModelOutcome};
pub use snapshot::{
    missing_flag_code, FlagSnapshot, SnapshotFlag, SnapshotGeneration, EXPOSURE_DRAIN_INTERVAL,
    MAX_SNAPSHOT_FLAGS,
};
pub use waits::RunBlockingError;

use crate::config::{ConfigError, Document};
use crate::delivery::{ConfigDelivery, DeliveryConfig, DeliveryError, DeliveryEvent};
use crate::eval::{Context, Overrides};
use crate::guardrails::Guardrails;
use crate::inference::{EngineConfig, InferenceEngine, PolicyFlagKeys, RuntimeLocator};
use crate::metrics::{names, Metrics, MetricsConfig, MetricsError};
use crate::runtime::{BackgroundRuntime, RuntimeError};
use arc_swap::ArcSwap;
use parking_lot::Mutex;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How a [`Client`] is configured. Only `app_id` and `environment` are
/// required; everything else has a working default.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The app's id, reported with metrics.
    pub app_id: String,
    /// The environment documents must target (`dev`, `staging`, `production`).
    pub environment: String,
    /// Where to fetch the rollout config (HTTPS, or HTTP on loopback).
    pub config_url: Option<String>,
    /// Ed25519 public keys that may sign configs: `(key id, 32-byte key)`.
    /// When non-empty, unsigned or wrongly signed documents are refused.
    pub pinned_keys: Vec<(String, Vec<u8>)>,
    /// A bundled config used when nothing was persisted yet.
    pub bootstrap: Option<Vec<u8>>,
    /// Where the SDK keeps its files (config cache, metrics, trips).
    pub storage_dir: Option<PathBuf>,
    /// How often to poll for a new config (jittered; backoff on failure).
    pub poll_interval: Duration,
    /// A server-sent-events URL announcing new documents (applied within a
    /// second; polling continues as the fallback).
    pub stream_url: Option<String>,
    /// Allow plain HTTP to non-loopback hosts (development only).
    pub insecure_http: bool,
    /// OTLP/HTTP base URL (`/v1/metrics` and `/v1/logs` are appended).
    pub metrics_endpoint: Option<String>,
    /// Extra headers sent with metric uploads (e.g. an API key).
    pub metrics_headers: Vec<(String, String)>,
    /// How often metrics are uploaded.
    pub metrics_upload_interval: Duration,
    /// Salt for hashing targeting keys in uploaded events; raw keys are never
    /// uploaded unless `upload_raw_targeting_keys` is set.
    pub targeting_key_salt: Option<String>,
    /// Upload targeting keys unhashed (the app takes responsibility).
    pub upload_raw_targeting_keys: bool,
    /// Record an exposure (counter and de-duplicated event) for every typed
    /// flag evaluation.
    pub record_exposures: bool,
    /// Explicit path of `libLiteRt`.
    pub litert_library: Option<PathBuf>,
    /// Explicit path of `libtensorflowlite_c`.
    pub tflite_library: Option<PathBuf>,
    /// Compiled instances per model, i.e. concurrent runs (default 2).
    pub inference_pool_size: usize,
    /// Flag keys that steer inference (defaults: `litert_enabled`,
    /// `litert_gpu_backend`, `litert_npu_backend`,
    /// `litert_adaptive_switching`, `ai_fallback_to_cloud`).
    pub policy_flag_keys: PolicyFlagKeys,
    /// The context used when a call does not pass one.
    pub default_context: Context,
    /// Start in offline mode: no network use until
    /// [`Client::set_offline`]`(false)`.
    pub offline: bool,
    /// Send [`ClientEvent::Stale`] after this many poll intervals without a
    /// successful fetch (at least 1).
    pub stale_after_intervals: u32,
}

impl ClientConfig {
    /// A configuration with defaults for everything optional.
    pub fn new(app_id: impl Into<String>, environment: impl Into<String>) -> Self {
        ClientConfig {
            app_id: app_id.into(),
            environment: environment.into(),
            config_url: None,
            pinned_keys: Vec::new(),
            bootstrap: None,
            storage_dir: None,
            poll_interval: Duration::from_secs(300),
            stream_url: None,
            insecure_http: false,
            metrics_endpoint: None,
            metrics_headers: Vec::new(),
            metrics_upload_interval: Duration::from_secs(60),
            targeting_key_salt: None,
            upload_raw_targeting_keys: false,
            record_exposures: true,
            litert_library: None,
            tflite_library: None,
            inference_pool_size: 2,
            policy_flag_keys: PolicyFlagKeys::default(),
            default_context: Context::default(),
            offline: false,
            stale_after_intervals: events::DEFAULT_STALE_AFTER_INTERVALS,
        }
    }
}

/// Why a client could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A required setting is missing or malformed.
    #[error("invalid client configuration: {field}: {reason}")]
    InvalidConfig {
        /// Which setting.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The bundled bootstrap config is unusable.
    #[error("bootstrap config refused: {0}")]
    Bootstrap(#[from] ConfigError),
    /// Config delivery could not start (a bad URL, key or bootstrap).
    #[error("config delivery: {0}")]
    Delivery(#[from] DeliveryError),
    /// The metrics pipeline could not start (a bad endpoint or setting).
    #[error("metrics: {0}")]
    Metrics(#[from] MetricsError),
    /// The background thread could not start.
    #[error("background runtime: {0}")]
    Runtime(#[from] RuntimeError),
    /// The storage directory cannot be created.
    #[error("storage directory {path}: {source}")]
    Storage {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// State shared by the client's handles.
pub(crate) struct Shared {
    /// The storage directory's lock, or why the client is memory-only.
    pub(crate) storage: storage::Storage,
    pub(crate) config: ClientConfig,
    pub(crate) runtime: Mutex<Option<BackgroundRuntime>>,
    pub(crate) delivery: ConfigDelivery,
    pub(crate) metrics: Metrics,
    pub(crate) inference: InferenceEngine,
    pub(crate) context: ArcSwap<Context>,
    pub(crate) overrides: ArcSwap<Overrides>,
    pub(crate) guard: Arc<guard::GuardHub>,
    pub(crate) snapshots: Arc<snapshot::Snapshots>,
    pub(crate) events: Arc<events::EventHub>,
}

/// The LiteGate client. Cloning is cheap; all clones share one state.
#[derive(Clone)]
pub struct Client {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("app_id", &self.shared.config.app_id)
            .field("environment", &self.shared.config.environment)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts a client. Returns at once: the config comes from the
    /// persisted copy or the bootstrap; remote fetches run in the background.
    ///
    /// # Errors
    /// [`ClientError`] for an unusable configuration or bootstrap document.
    pub fn start(mut config: ClientConfig) -> Result<Client, ClientError> {
        for (field, value) in [
            ("app_id", &config.app_id),
            ("environment", &config.environment),
        ] {
            if value.is_empty() {
                return Err(ClientError::InvalidConfig {
                    field,
                    reason: "must not be empty".into(),
                });
            }
        }
        // Locked, or memory-only (read-only or in use): see `storage`.
        let storage = storage::prepare(config.storage_dir.as_deref());
        let app_storage_dir = std::mem::replace(&mut config.storage_dir, storage.dir.clone());
        let runtime = BackgroundRuntime::with_thread_name("litegate")?;
        let handle = runtime.handle().clone();

        let mut delivery_config = DeliveryConfig::new(config.environment.clone());
        delivery_config.url = config.config_url.clone();
        delivery_config.stream_url = config.stream_url.clone();
        delivery_config.pinned_keys = config.pinned_keys.clone();
        delivery_config.storage_dir = subdir(&config, "config")?;
        delivery_config.bootstrap = config.bootstrap.clone();
        delivery_config.insecure_http = config.insecure_http;
        delivery_config.schedule.poll_interval = config.poll_interval;
        delivery_config.offline = config.offline;
        let events = Arc::new(events::EventHub::new());
        let delivery = ConfigDelivery::start(delivery_config, &handle).map_err(|e| match e {
            // A broken bundled config is the app's own bug: report it as such.
            DeliveryError::Bootstrap(crate::delivery::Rejection::Config(c)) => {
                ClientError::Bootstrap(c)
            }
            other => ClientError::Delivery(other),
        })?;

        let mut metrics_config = MetricsConfig::new(config.app_id.clone());
        metrics_config.storage_dir = subdir(&config, "metrics")?;
        metrics_config.endpoint = config.metrics_endpoint.clone();
        metrics_config.headers = config.metrics_headers.clone();
        metrics_config.upload_interval = config.metrics_upload_interval;
        metrics_config.targeting_key_salt = config.targeting_key_salt.clone();
        metrics_config.upload_raw_targeting_keys = config.upload_raw_targeting_keys;
        let metrics = Metrics::new(metrics_config, handle.clone())?;
        metrics.set_offline(config.offline);
        events.wire(&delivery);
        if let Some(v) = delivery.status().version {
            metrics.set_config_version(v);
        }
        hook_delivery_into_metrics(&delivery, &metrics);

        let guardrails = match subdir(&config, "guardrails")? {
            Some(dir) => Guardrails::open(&dir).unwrap_or_else(|e| {
                tracing::warn!(target: "litegate::guardrails", error = %e, "guardrail state unreadable; starting fresh in memory");
                Guardrails::in_memory()
            }),
            None => Guardrails::in_memory(),
        };
        let hub = Arc::new(guard::GuardHub::new(
            guardrails,
            metrics.clone(),
            handle.clone(),
            Arc::clone(&events),
        ));

        let locator = |path: &Option<PathBuf>| match path {
            Some(p) => RuntimeLocator::explicit(p),
            None => RuntimeLocator::default(),
        };
        let engine_config = EngineConfig {
            litert_library: locator(&config.litert_library),
            tflite_library: locator(&config.tflite_library),
            pool_size: config.inference_pool_size.max(1),
            history_path: subdir(&config, "inference")?.map(|d| d.join("failure-history.json")),
            flag_keys: config.policy_flag_keys.clone(),
            ..EngineConfig::default()
        };
        let observer = Arc::new(models::ClientObserver {
            metrics: metrics.clone(),
            guard: Arc::clone(&hub),
            events: Arc::clone(&events),
        });
        let inference = InferenceEngine::with_observer(engine_config, observer);
        let _ = hub.engine.set(inference.clone());
        hub.start(delivery.current().as_deref());
        let store = Arc::clone(delivery.store());
        let hub_for_configs = Arc::clone(&hub);
        delivery.on_event(move |event| {
            if let DeliveryEvent::Applied { .. } = event {
                if let Some(doc) = store.current() {
                    hub_for_configs.apply_config(&doc);
                }
            }
        });

        let context = Arc::new(config.default_context.clone());
        config.storage_dir = app_storage_dir;
        let snapshots = Arc::new(snapshot::Snapshots::new(Arc::clone(&hub.generation)));
        let shared = Arc::new(Shared {
            storage,
            config,
            runtime: Mutex::new(Some(runtime)),
            delivery,
            metrics,
            inference,
            context: ArcSwap::new(context),
            overrides: ArcSwap::from_pointee(Overrides::new()),
            guard: hub,
            snapshots,
            events,
        });
        if shared.config.config_url.is_some() {
            handle.spawn(events::stale_watch(
                Arc::downgrade(&shared),
                std::time::SystemTime::now(),
            ));
        }
        let client = Client { shared };
        snapshot::install(&client, &handle);
        Ok(client)
    }

    /// The configuration the client was started with.
    pub fn config(&self) -> &ClientConfig {
        &self.shared.config
    }

    /// Replaces the default evaluation context.
    pub fn set_context(&self, context: Context) {
        self.shared.context.store(Arc::new(context));
        self.publish_flag_change();
    }

    /// The current default evaluation context.
    pub fn context(&self) -> Arc<Context> {
        self.shared.context.load_full()
    }

    /// The document in use, if any.
    pub fn document(&self) -> Option<Arc<Document>> {
        self.shared.delivery.current()
    }

    /// The metrics pipeline, to record the app's own counters, histograms
    /// and events next to LiteGate's.
    pub fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }

    /// The inference engine (runtimes, failure history, overrides).
    pub fn inference(&self) -> &InferenceEngine {
        &self.shared.inference
    }

    /// Config delivery: status, listeners, documents from other channels.
    pub fn delivery(&self) -> &ConfigDelivery {
        &self.shared.delivery
    }
}

/// Every applied or refused document shows in metrics: the resource's config
/// version follows the document in use, and refusals are counted and sent
/// as error events with the reason.
fn hook_delivery_into_metrics(delivery: &ConfigDelivery, metrics: &Metrics) {
    let metrics = metrics.clone();
    delivery.on_event(move |event| match event {
        DeliveryEvent::Applied { version, .. } => metrics.set_config_version(*version),
        DeliveryEvent::Rejected(rejection) => {
            let reason = rejection.to_string();
            metrics
                .counter(
                    names::CONFIG_REJECTIONS,
                    &[(names::label::REASON, rejection_kind(rejection))],
                )
                .inc();
            metrics.event(
                crate::metrics::EventKind::Error,
                &[
                    (
                        "error.kind",
                        crate::metrics::AttrValue::from("config_rejected"),
                    ),
                    ("reason", crate::metrics::AttrValue::from(reason.as_str())),
                ],
            );
        }
        _ => {}
    });
}

/// A short label for a refusal, bounded in cardinality for metrics.
fn rejection_kind(r: &crate::delivery::Rejection) -> &'static str {
    use crate::delivery::Rejection;
    match r {
        Rejection::Signature(_) => "signature",
        Rejection::Config(ConfigError::WrongEnvironment { .. }) => "environment",
        Rejection::Config(_) => "invalid",
        Rejection::StaleVersion { .. } => "stale_version",
        Rejection::VersionNotIncreased { .. } => "version_not_increased",
    }
}

/// `storage_dir/name`, created; `None` without a storage directory. Each
/// component keeps its files in its own subdirectory.
fn subdir(config: &ClientConfig, name: &str) -> Result<Option<PathBuf>, ClientError> {
    let Some(dir) = &config.storage_dir else {
        return Ok(None);
    };
    let path = dir.join(name);
    std::fs::create_dir_all(&path).map_err(|source| ClientError::Storage {
        path: path.clone(),
        source,
    })?;
    Ok(Some(path))
}

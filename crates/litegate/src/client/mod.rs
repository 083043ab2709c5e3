//! The one object apps use: [`Client`] owns config delivery, the evaluator,
//! inference engines, metrics and guardrails, and the background runtime
//! they run on.
//!
//! Every method is safe to call from any thread, returns quickly (no call
//! waits on the network unless its name says so: `wait_until_ready`,
//! `flush`, `shutdown`), and never panics.

mod flags;

use crate::config::{ConfigError, Document};
use crate::eval::{Context, LocalDisables, Overrides};
use parking_lot::RwLock;
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
    /// How often to poll for a new config.
    pub poll_interval: Duration,
    /// Allow plain HTTP to non-loopback hosts (development only).
    pub insecure_http: bool,
    /// OTLP/HTTP base URL (`/v1/metrics` and `/v1/logs` are appended).
    pub metrics_endpoint: Option<String>,
    /// Extra headers sent with metric uploads (e.g. an API key).
    pub metrics_headers: Vec<(String, String)>,
    /// Explicit path of `libLiteRt`.
    pub litert_library: Option<PathBuf>,
    /// Explicit path of `libtensorflowlite_c`.
    pub tflite_library: Option<PathBuf>,
    /// The context used when a call does not pass one.
    pub default_context: Context,
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
            insecure_http: false,
            metrics_endpoint: None,
            metrics_headers: Vec::new(),
            litert_library: None,
            tflite_library: None,
            default_context: Context::default(),
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
    pub(crate) config: ClientConfig,
    pub(crate) document: RwLock<Option<Arc<Document>>>,
    pub(crate) context: RwLock<Arc<Context>>,
    pub(crate) overrides: RwLock<Arc<Overrides>>,
    pub(crate) disables: RwLock<Arc<LocalDisables>>,
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
    pub fn start(config: ClientConfig) -> Result<Client, ClientError> {
        if config.app_id.is_empty() {
            return Err(ClientError::InvalidConfig {
                field: "app_id",
                reason: "must not be empty".into(),
            });
        }
        if config.environment.is_empty() {
            return Err(ClientError::InvalidConfig {
                field: "environment",
                reason: "must not be empty".into(),
            });
        }
        if let Some(dir) = &config.storage_dir {
            std::fs::create_dir_all(dir).map_err(|source| ClientError::Storage {
                path: dir.clone(),
                source,
            })?;
        }
        let document = match &config.bootstrap {
            Some(bytes) => Some(Arc::new(Document::parse_for_environment(
                bytes,
                &config.environment,
            )?)),
            None => None,
        };
        let context = Arc::new(config.default_context.clone());
        let shared = Arc::new(Shared {
            config,
            document: RwLock::new(document),
            context: RwLock::new(context),
            overrides: RwLock::new(Arc::new(Overrides::new())),
            disables: RwLock::new(Arc::new(LocalDisables::new())),
        });
        Ok(Client { shared })
    }

    /// The configuration the client was started with.
    pub fn config(&self) -> &ClientConfig {
        &self.shared.config
    }

    /// Replaces the default evaluation context.
    pub fn set_context(&self, context: Context) {
        *self.shared.context.write() = Arc::new(context);
    }

    /// The current default evaluation context.
    pub fn context(&self) -> Arc<Context> {
        self.shared.context.read().clone()
    }

    /// The document in use, if any.
    pub fn document(&self) -> Option<Arc<Document>> {
        self.shared.document.read().clone()
    }
}

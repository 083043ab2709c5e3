//! Config delivery: the path from a config server to the evaluator.
//!
//! [`ConfigDelivery::start`] returns at once with the best local document
//! (the persisted last-known-good copy, else the app's bootstrap, else none)
//! and then fetches in the background on the SDK's runtime: conditional GETs
//! on an interval with jitter, exponential backoff after failures, an
//! optional server-sent-events stream that triggers a fetch as soon as a new
//! document is published, and a manual [`ConfigDelivery::refresh`].
//!
//! Every body goes through the same checks before it replaces anything:
//! signature against the pinned keys, parse, environment, version strictly
//! newer. A refused body never replaces the document in use; the refusal is
//! in [`ConfigDelivery::status`], sent to event listeners and logged.
//!
//! Module map: `envelope` (signed format), `keys` (key files), `accept`
//! (the checks, pure), `schedule` (poll and backoff timing, pure), `fetch`
//! (HTTP), `stream` (SSE), `persist` (the cache file), `store` (the document
//! in use and the status), `listeners` (dispatch thread), `worker` (the
//! background tasks).

mod accept;
pub mod envelope;
mod fetch;
pub mod keys;
mod listeners;
pub mod persist;
mod schedule;
mod store;
mod stream;
mod worker;

pub use accept::Rejection;
pub use envelope::{PinnedKeys, SignatureError};
pub use fetch::{FetchError, HttpLimits};
pub use listeners::{ListenerId, MAX_DISPATCH_THREADS};
pub use persist::CacheError;
pub use schedule::Schedule;
pub use store::{
    CacheProblem, ConfigSource, ConfigStore, DeliveryProblem, DeliveryStatus, RejectionRecord,
};

use crate::config::{Document, Limits};
use listeners::{Callback, Dispatcher, Notice};
use reqwest::Url;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

/// How config delivery is set up. Build with [`DeliveryConfig::new`] and
/// change the fields you need.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// The config document URL (HTTPS; HTTP only to loopback unless
    /// `insecure_http`). `None`: local documents only.
    pub url: Option<String>,
    /// The environment documents must target.
    pub environment: String,
    /// Keys trusted to sign documents: `(key id, 32-byte Ed25519 public key)`.
    /// When non-empty, unsigned or wrongly signed documents are refused.
    pub pinned_keys: Vec<(String, Vec<u8>)>,
    /// Where the last-known-good document is kept. `None`: not persisted.
    pub storage_dir: Option<PathBuf>,
    /// A document bundled with the app (raw or in an envelope), trusted
    /// without a signature.
    pub bootstrap: Option<Vec<u8>>,
    /// Polling, jitter and backoff.
    pub schedule: Schedule,
    /// A server-sent-events URL whose events announce a new document; each
    /// one triggers an immediate fetch of `url`. Polling continues alongside,
    /// so a broken stream falls back to polling.
    pub stream_url: Option<String>,
    /// Allow plain HTTP to hosts other than loopback (development only).
    pub insecure_http: bool,
    /// Body size, timeouts and redirects.
    pub http: HttpLimits,
    /// Limits on the document itself.
    pub limits: Limits,
    /// How long one listener call may run before the others move on to a
    /// new dispatch thread (default 1 s).
    pub listener_stall_timeout: Duration,
    /// Start in offline mode (see [`ConfigDelivery::set_offline`]).
    pub offline: bool,
}

impl DeliveryConfig {
    /// Defaults: no URL, no keys, no storage, poll every 5 minutes.
    pub fn new(environment: impl Into<String>) -> Self {
        DeliveryConfig {
            url: None,
            environment: environment.into(),
            pinned_keys: Vec::new(),
            storage_dir: None,
            bootstrap: None,
            schedule: Schedule::default(),
            stream_url: None,
            insecure_http: false,
            http: HttpLimits::default(),
            limits: Limits::default(),
            listener_stall_timeout: Duration::from_secs(1),
            offline: false,
        }
    }
}

/// Why delivery could not start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// A URL does not parse or has an unsupported scheme.
    #[error("invalid URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// Plain HTTP to a host that is not loopback without `insecure_http`.
    #[error("`{url}` uses plain HTTP; use HTTPS or set insecure_http for development")]
    InsecureUrl {
        /// The URL.
        url: String,
    },
    /// A pinned key is not a valid Ed25519 public key.
    #[error("pinned keys: {0}")]
    PinnedKey(#[from] SignatureError),
    /// The bootstrap document is unusable.
    #[error("bootstrap document refused: {0}")]
    Bootstrap(Rejection),
    /// The environment is empty.
    #[error("environment must not be empty")]
    NoEnvironment,
}

/// Why [`ConfigDelivery::wait_until_ready`] returned without a remote fetch.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// The timeout passed first.
    #[error("no successful fetch within the timeout{}", .last_error.as_ref().map(|e| format!(" (last error: {e})")).unwrap_or_default())]
    TimedOut {
        /// Why the latest attempt failed, if one did.
        last_error: Option<DeliveryProblem>,
    },
    /// Called from an async runtime thread (the SDK's or the app's), where
    /// blocking would stall the very tasks being waited on.
    #[error("wait_until_ready must not be called from an async runtime thread")]
    OnRuntimeThread,
    /// No URL is configured, so no fetch will ever happen.
    #[error("no config URL is configured")]
    NoRemote,
    /// Delivery was shut down.
    #[error("config delivery is shut down")]
    Stopped,
}

/// What [`ConfigDelivery::submit`] did with an accepted body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// It is now the document in use.
    Applied {
        /// Its version.
        version: u64,
    },
    /// It is the document already in use.
    Unchanged,
}

/// A new document changed what some flags could evaluate to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigChange {
    /// The version replaced, if a document was in use.
    pub old_version: Option<u64>,
    /// The version now in use.
    pub new_version: u64,
    /// Where the new document came from.
    pub source: ConfigSource,
    /// Keys of flags added, removed, or whose definition (or a segment it
    /// uses, or the global switch) changed, in the new document's order
    /// followed by removed keys.
    pub changed_flags: Vec<String>,
}

/// Something config delivery did, for logs and metrics.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DeliveryEvent {
    /// A new document is in use.
    Applied {
        /// Its version.
        version: u64,
        /// Where it came from.
        source: ConfigSource,
        /// How many flags changed.
        changed_flags: usize,
    },
    /// A body was refused; the previous document stays.
    Rejected(Rejection),
    /// A fetch failed.
    FetchFailed(FetchError),
    /// The persisted copy could not be saved.
    CacheProblem(CacheProblem),
    /// The event stream broke (polling continues).
    StreamBroken(String),
    /// A fetch succeeded (a new document, the same one, or `304`).
    Fetched,
}

pub(crate) struct Remote {
    pub(crate) url: Url,
    pub(crate) stream_url: Option<Url>,
    pub(crate) insecure_http: bool,
}

pub(crate) struct Inner {
    pub(crate) environment: String,
    pub(crate) keys: PinnedKeys,
    pub(crate) limits: Limits,
    pub(crate) schedule: Schedule,
    pub(crate) http: HttpLimits,
    pub(crate) storage_dir: Option<PathBuf>,
    pub(crate) remote: Option<Remote>,
    pub(crate) store: Arc<ConfigStore>,
    pub(crate) dispatcher: Arc<Dispatcher>,
    pub(crate) refresh: tokio::sync::Notify,
    /// The event stream asks for a fetch; honoured at most once per
    /// `Schedule::backoff_base` and never during a failure backoff.
    pub(crate) stream_wake: tokio::sync::Notify,
    /// Serialises judging and installing documents.
    pub(crate) apply_lock: parking_lot::Mutex<()>,
    /// `true` once shut down. Held while a judged document is installed, so
    /// that once `shutdown` returns no document is installed any more, even
    /// by a compile that was in progress.
    pub(crate) install_gate: parking_lot::Mutex<bool>,
    /// Count of completed attempts, with a condvar for `wait_until_ready`.
    pub(crate) progress: parking_lot::Mutex<Progress>,
    pub(crate) progress_cv: parking_lot::Condvar,
    /// `true` while the app asked for no network use (see `set_offline`).
    pub(crate) offline: tokio::sync::watch::Sender<bool>,
}

#[derive(Default)]
pub(crate) struct Progress {
    pub(crate) successes: u64,
    pub(crate) stopped: bool,
}

/// Fetches, verifies, persists and publishes rollout config documents.
///
/// Dropping it stops its background tasks and listener threads.
pub struct ConfigDelivery {
    inner: Arc<Inner>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for ConfigDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigDelivery")
            .field("environment", &self.inner.environment)
            .field("version", &self.inner.store.version())
            .finish_non_exhaustive()
    }
}

fn check_url(url: &str, insecure_http: bool) -> Result<Url, DeliveryError> {
    let parsed = Url::parse(url).map_err(|e| DeliveryError::InvalidUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    match parsed.scheme() {
        "https" | "http" => {}
        other => {
            return Err(DeliveryError::InvalidUrl {
                url: url.to_owned(),
                reason: format!("scheme `{other}` (expected https)"),
            })
        }
    }
    if !fetch::transport_allowed(&parsed, insecure_http) {
        return Err(DeliveryError::InsecureUrl {
            url: url.to_owned(),
        });
    }
    Ok(parsed)
}

impl ConfigDelivery {
    /// Starts delivery: installs the best local document now (persisted,
    /// else bootstrap; the higher version wins when both are valid) and, when
    /// a URL is set, starts fetching on `runtime`. Never waits on the network.
    ///
    /// A damaged or refused persisted file is ignored and reported in
    /// [`DeliveryStatus::cache_problem`].
    ///
    /// # Errors
    /// [`DeliveryError`] for an invalid URL, key or bootstrap document.
    pub fn start(config: DeliveryConfig, runtime: &Handle) -> Result<Self, DeliveryError> {
        if config.environment.is_empty() {
            return Err(DeliveryError::NoEnvironment);
        }
        let keys = PinnedKeys::new(&config.pinned_keys)?;
        let remote = match &config.url {
            Some(url) => Some(Remote {
                url: check_url(url, config.insecure_http)?,
                stream_url: config
                    .stream_url
                    .as_deref()
                    .map(|u| check_url(u, config.insecure_http))
                    .transpose()?,
                insecure_http: config.insecure_http,
            }),
            None => None,
        };
        let store = Arc::new(ConfigStore::new());
        worker::install_local(&config, &keys, &store)?;
        let inner = Arc::new(Inner {
            environment: config.environment,
            keys,
            limits: config.limits,
            schedule: config.schedule,
            http: config.http,
            storage_dir: config.storage_dir,
            remote,
            store,
            dispatcher: Dispatcher::new(config.listener_stall_timeout),
            refresh: tokio::sync::Notify::new(),
            stream_wake: tokio::sync::Notify::new(),
            install_gate: parking_lot::Mutex::new(false),
            apply_lock: parking_lot::Mutex::new(()),
            progress: parking_lot::Mutex::new(Progress::default()),
            progress_cv: parking_lot::Condvar::new(),
            offline: tokio::sync::watch::Sender::new(config.offline),
        });
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        worker::spawn_all(&inner, runtime, stop_rx);
        Ok(ConfigDelivery { inner, stop })
    }

    /// The store evaluators read the current document from.
    pub fn store(&self) -> &Arc<ConfigStore> {
        &self.inner.store
    }

    /// The document in use, if any.
    pub fn current(&self) -> Option<Arc<Document>> {
        self.inner.store.current()
    }

    /// A snapshot of delivery's state.
    pub fn status(&self) -> DeliveryStatus {
        let mut s = self.inner.store.status();
        s.listener_stalls = self.inner.dispatcher.stalls();
        s
    }

    /// Asks for a fetch now (skipping any backoff wait). Returns at once.
    pub fn refresh(&self) {
        self.inner.refresh.notify_one();
    }

    /// Offline mode: while `true` no fetch starts and the event stream is
    /// closed; the document in use stays. Back online, a fetch starts at once.
    pub fn set_offline(&self, offline: bool) {
        let was = self.inner.offline.send_replace(offline);
        if was && !offline {
            self.inner.refresh.notify_one();
        }
    }

    /// Whether offline mode is on.
    pub fn is_offline(&self) -> bool {
        *self.inner.offline.borrow()
    }

    /// Offers a document that reached the app by another channel (a push
    /// message, a side-loaded file): it goes through the same checks as a
    /// fetched one (signature, environment, newer version), and when accepted
    /// is installed, persisted and announced to listeners exactly like one,
    /// with source [`ConfigSource::Remote`]. Runs on the calling thread
    /// (parsing a large document takes milliseconds; do not call it on a UI
    /// thread).
    ///
    /// # Errors
    /// [`Rejection`] when refused; also recorded in the status and sent to
    /// event listeners. The document in use is unchanged then.
    pub fn submit(
        &self,
        body: &[u8],
        signature_header: Option<&str>,
    ) -> Result<Submitted, Rejection> {
        match worker::consider(
            &self.inner,
            body,
            None,
            signature_header.map(str::to_owned),
            false,
        ) {
            Ok(Some(version)) => Ok(Submitted::Applied { version }),
            Ok(None) => Ok(Submitted::Unchanged),
            Err(r) => {
                worker::report_rejection(&self.inner, &r);
                Err(r)
            }
        }
    }

    /// Blocks until a remote fetch has succeeded since start, or `timeout`.
    /// Returns at once if one already has.
    ///
    /// # Errors
    /// [`WaitError`]; in particular [`WaitError::OnRuntimeThread`] when called
    /// from inside an async runtime.
    pub fn wait_until_ready(&self, timeout: Duration) -> Result<(), WaitError> {
        if self.inner.remote.is_none() {
            return Err(WaitError::NoRemote);
        }
        if Handle::try_current().is_ok() {
            return Err(WaitError::OnRuntimeThread);
        }
        let deadline = Instant::now() + timeout;
        let mut p = self.inner.progress.lock();
        loop {
            if p.successes > 0 {
                return Ok(());
            }
            if p.stopped {
                return Err(WaitError::Stopped);
            }
            if self
                .inner
                .progress_cv
                .wait_until(&mut p, deadline)
                .timed_out()
            {
                return if p.successes > 0 {
                    Ok(())
                } else {
                    Err(WaitError::TimedOut {
                        last_error: self.inner.store.status().last_error,
                    })
                };
            }
        }
    }

    /// Calls `f` when a new document changes any flag. Runs on the listener
    /// thread, outside locks; a panic in `f` is caught and logged, and a call
    /// that blocks longer than `listener_stall_timeout` does not delay other
    /// listeners (see the `listeners` module for the policy).
    ///
    /// Capture [`ConfigDelivery::store`] (or a `Weak`) in `f`, not an `Arc`
    /// of this `ConfigDelivery`: that would be a reference cycle keeping the
    /// background tasks alive.
    pub fn on_change(&self, f: impl Fn(&ConfigChange) + Send + Sync + 'static) -> ListenerId {
        self.inner.dispatcher.add(Callback::AllFlags(Box::new(f)))
    }

    /// Calls `f` when a new document changes what flag `key` could evaluate
    /// to (including its addition or removal).
    pub fn on_flag_change(
        &self,
        key: impl Into<String>,
        f: impl Fn(&ConfigChange) + Send + Sync + 'static,
    ) -> ListenerId {
        self.inner
            .dispatcher
            .add(Callback::Flag(key.into(), Box::new(f)))
    }

    /// Calls `f` for every [`DeliveryEvent`] (applied, rejected, failed):
    /// the log callback, and the hook for metric events.
    pub fn on_event(&self, f: impl Fn(&DeliveryEvent) + Send + Sync + 'static) -> ListenerId {
        self.inner.dispatcher.add(Callback::Events(Box::new(f)))
    }

    /// Unregisters a listener. Returns whether it was registered.
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        self.inner.dispatcher.remove(id)
    }

    /// Stops the background tasks and listener threads. Idempotent; also
    /// done on drop.
    pub fn shutdown(&self) {
        // Waits at most for one install in progress (not for a compile).
        *self.inner.install_gate.lock() = true;
        let _ = self.stop.send(true);
        self.inner.dispatcher.shutdown();
        self.inner.progress.lock().stopped = true;
        self.inner.progress_cv.notify_all();
    }
}

impl Drop for ConfigDelivery {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Flags whose fingerprint differs between `old` and `new` (added and
/// removed flags included).
pub fn changed_flags(old: Option<&Document>, new: &Document) -> Vec<String> {
    let Some(old) = old else {
        return new.flag_keys().map(str::to_owned).collect();
    };
    let mut out: Vec<String> = new
        .flag_keys()
        .filter(|k| old.flag_fingerprint(k) != new.flag_fingerprint(k))
        .map(str::to_owned)
        .collect();
    out.extend(
        old.flag_keys()
            .filter(|k| new.flag_fingerprint(k).is_none())
            .map(str::to_owned),
    );
    out
}

pub(crate) fn notice_change(c: ConfigChange) -> Notice {
    Notice::Change(Arc::new(c))
}

pub(crate) fn notice_event(e: DeliveryEvent) -> Notice {
    Notice::Event(Arc::new(e))
}

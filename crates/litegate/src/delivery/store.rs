//! The document in use and what is known about how it got there.
//!
//! Readers (evaluators, on any thread) load an `Arc<Document>` from an
//! `ArcSwapOption`: no lock, so a reader never waits for a writer, even one
//! the OS descheduled mid-swap (with a `RwLock`, a preempted writer would
//! stall every reader for a whole time slice). Writers swap one pointer.
//! Parsing, diffing, persisting and dropping old documents all happen
//! elsewhere, and an old document is dropped on the runtime thread once no
//! evaluator holds it, so an evaluator never pays for freeing a large
//! document.

use super::fetch::FetchError;
use super::persist::CacheError;
use super::Rejection;
use crate::config::Document;
use arc_swap::ArcSwapOption;
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// Where the document in use came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigSource {
    /// The last-known-good copy persisted on the device.
    Persisted,
    /// The document the app bundled.
    Bootstrap,
    /// Fetched from the config URL in this process.
    Remote,
}

impl ConfigSource {
    /// A lower-case name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigSource::Persisted => "persisted",
            ConfigSource::Bootstrap => "bootstrap",
            ConfigSource::Remote => "remote",
        }
    }
}

/// Why the last attempt to get a new document failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryProblem {
    /// The HTTP exchange failed.
    #[error("fetch failed: {0}")]
    Fetch(#[from] FetchError),
    /// A body arrived but was refused; the previous document stays.
    #[error("document rejected: {0}")]
    Rejected(#[from] Rejection),
}

/// Why the persisted copy was not used at start, or could not be saved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CacheProblem {
    /// The file is unreadable, foreign, truncated or corrupted, or the write
    /// failed.
    #[error("{0}")]
    File(#[from] CacheError),
    /// The file is intact but its document is refused (for example signed by
    /// a key no longer pinned, or for another environment).
    #[error("persisted document refused: {0}")]
    Refused(#[from] Rejection),
}

/// A rejected document: when, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectionRecord {
    /// When.
    pub at: SystemTime,
    /// Why.
    pub rejection: Rejection,
}

/// A snapshot of config delivery's state.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DeliveryStatus {
    /// The version of the document in use, if any.
    pub version: Option<u64>,
    /// Where it came from.
    pub source: Option<ConfigSource>,
    /// Whether a remote fetch has succeeded since start (200 accepted, 304,
    /// or the same document again).
    pub ready: bool,
    /// When a fetch last succeeded.
    pub last_success: Option<SystemTime>,
    /// When a fetch was last attempted.
    pub last_attempt: Option<SystemTime>,
    /// Fetch attempts made since start.
    pub attempts: u64,
    /// Failures in a row (0 after a success); drives the backoff.
    pub consecutive_failures: u32,
    /// Why the latest attempt failed; `None` after a success.
    pub last_error: Option<DeliveryProblem>,
    /// The latest rejected document, kept after later successes.
    pub last_rejection: Option<RejectionRecord>,
    /// When the next attempt is due, if one is scheduled.
    pub next_attempt: Option<Instant>,
    /// A problem with the persisted copy (ignored at start, or not saved).
    pub cache_problem: Option<CacheProblem>,
    /// The ETag of the document in use.
    pub etag: Option<String>,
    /// Whether the event stream is connected (always false without one).
    pub stream_connected: bool,
    /// Why the event stream last broke.
    pub stream_error: Option<String>,
    /// Listener calls abandoned because they blocked too long.
    pub listener_stalls: u64,
}

impl DeliveryStatus {
    fn empty() -> Self {
        DeliveryStatus {
            version: None,
            source: None,
            ready: false,
            last_success: None,
            last_attempt: None,
            attempts: 0,
            consecutive_failures: 0,
            last_error: None,
            last_rejection: None,
            next_attempt: None,
            cache_problem: None,
            etag: None,
            stream_connected: false,
            stream_error: None,
            listener_stalls: 0,
        }
    }
}

/// Identity of the document in use, for the "same version again" check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Applied {
    pub(crate) version: u64,
    pub(crate) payload_hash: u64,
}

/// Holds the current document for evaluators and the delivery status.
#[derive(Debug)]
pub struct ConfigStore {
    document: ArcSwapOption<Document>,
    status: Mutex<DeliveryStatus>,
    applied: Mutex<Option<Applied>>,
    /// Replaced documents not yet freed because an evaluator may hold them.
    retired: Mutex<Vec<Arc<Document>>>,
}

impl ConfigStore {
    pub(crate) fn new() -> Self {
        ConfigStore {
            document: ArcSwapOption::empty(),
            status: Mutex::new(DeliveryStatus::empty()),
            applied: Mutex::new(None),
            retired: Mutex::new(Vec::new()),
        }
    }

    /// The document in use. Lock-free: never waits for a document being
    /// applied.
    pub fn current(&self) -> Option<Arc<Document>> {
        self.document.load_full()
    }

    /// The version of the document in use.
    pub fn version(&self) -> Option<u64> {
        self.document.load().as_ref().map(|d| d.version)
    }

    /// A snapshot of the status.
    pub fn status(&self) -> DeliveryStatus {
        self.status.lock().clone()
    }

    pub(crate) fn applied(&self) -> Option<Applied> {
        *self.applied.lock()
    }

    pub(crate) fn update_status(&self, f: impl FnOnce(&mut DeliveryStatus)) {
        f(&mut self.status.lock());
    }

    /// Installs `doc`, returning the one it replaces (which the caller keeps
    /// for diffing, then hands to [`ConfigStore::retire`]).
    pub(crate) fn install(
        &self,
        doc: Arc<Document>,
        applied: Applied,
        source: ConfigSource,
        etag: Option<String>,
    ) -> Option<Arc<Document>> {
        let version = doc.version;
        let old = self.document.swap(Some(doc));
        *self.applied.lock() = Some(applied);
        self.update_status(|s| {
            s.version = Some(version);
            s.source = Some(source);
            s.etag = etag;
        });
        old
    }

    /// Keeps `old` until no evaluator holds it, then frees it here rather
    /// than on an evaluator's thread.
    pub(crate) fn retire(&self, old: Arc<Document>) {
        self.retired.lock().push(old);
        self.free_retired();
    }

    /// Whether replaced documents are waiting to be freed.
    pub(crate) fn has_retired(&self) -> bool {
        !self.retired.lock().is_empty()
    }

    /// Frees retired documents nobody else holds any more.
    pub(crate) fn free_retired(&self) {
        let free: Vec<Arc<Document>> = {
            let mut r = self.retired.lock();
            let (free, keep) = r.drain(..).partition(|d| Arc::strong_count(d) == 1);
            *r = keep;
            free
        };
        drop(free);
    }
}

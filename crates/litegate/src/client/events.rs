//! Client events: one stream of what happened to the [`Client`] that an app
//! may want to show or log: ready, a config applied or refused (with the
//! reason), a fetch failed, the config went stale, a guardrail tripped, a
//! model fell back. Errors as well as changes.
//!
//! Sources: config delivery's event listener (applied, refused, fetched,
//! fetch failed), the guardrail hub (trips), the inference observer
//! (fallbacks) and a stale timer on the client's runtime. Listeners run on
//! the thread that produced the event (a delivery dispatch thread, the
//! thread that called `record_outcome` or `run_model`, the runtime thread for
//! `Stale`): they must return quickly and must not block. A panicking
//! listener is caught and logged; it never reaches the producer.

use super::{Client, Shared};
use crate::delivery::{ConfigDelivery, ConfigSource, DeliveryEvent, FetchError, Rejection};
use crate::guardrails::Trip;
use crate::inference::Accelerator;
use parking_lot::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

/// Something that happened to the client.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The first remote fetch succeeded (sent once per client).
    Ready,
    /// A new config document is in use.
    ConfigApplied {
        /// Its version.
        version: u64,
        /// Where it came from.
        source: ConfigSource,
        /// How many flags changed.
        changed_flags: usize,
    },
    /// A config document was refused; the previous one stays in use.
    ConfigRefused(Rejection),
    /// A config fetch failed (network, HTTP status, body limit).
    FetchFailed(FetchError),
    /// No fetch succeeded for `intervals` poll intervals. Sent once until a
    /// fetch succeeds again.
    Stale {
        /// The threshold that was crossed, in poll intervals.
        intervals: u32,
        /// When a fetch last succeeded (unix ms), if ever.
        last_success_unix_ms: Option<i64>,
    },
    /// A guardrail tripped on this device.
    GuardrailTripped(Trip),
    /// A model's accelerator failed and the next one was tried.
    ModelFallback {
        /// The model's key.
        model: String,
        /// The accelerator that failed.
        from: Accelerator,
        /// The one tried next (`None`: nothing local is left).
        to: Option<Accelerator>,
        /// Why it failed.
        error: String,
    },
    /// Nothing local could run a model; the app's path is used or the run
    /// reports `Unavailable`.
    ModelUnavailable {
        /// The model's key.
        model: String,
        /// Why each candidate was skipped or failed.
        reasons: Vec<String>,
    },
}

/// Identifies a client event listener, for [`Client::remove_event_listener`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventListenerId(pub u64);

type Listener = Arc<dyn Fn(&ClientEvent) + Send + Sync>;

/// The client's event listeners and the state events are derived from.
pub(crate) struct EventHub {
    listeners: RwLock<Vec<(u64, Listener)>>,
    next_id: AtomicU64,
    /// `true` once a remote fetch succeeded: what the async ready wait reads.
    pub(crate) ready: tokio::sync::watch::Sender<bool>,
    /// Completed fetch attempts and whether the last one succeeded: what
    /// the async refresh waits on.
    pub(crate) attempts: tokio::sync::watch::Sender<(u64, bool)>,
    stale: AtomicBool,
}

impl EventHub {
    pub(crate) fn new() -> Self {
        EventHub {
            listeners: RwLock::new(Vec::new()),
            next_id: AtomicU64::new(1),
            ready: tokio::sync::watch::Sender::new(false),
            attempts: tokio::sync::watch::Sender::new((0, false)),
            stale: AtomicBool::new(false),
        }
    }

    fn add(&self, f: Listener) -> EventListenerId {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.listeners.write().push((id, f));
        EventListenerId(id)
    }

    fn remove(&self, id: EventListenerId) -> bool {
        let mut l = self.listeners.write();
        let before = l.len();
        l.retain(|(i, _)| *i != id.0);
        l.len() != before
    }

    /// Calls every listener with `event`, outside any lock.
    pub(crate) fn emit(&self, event: &ClientEvent) {
        let listeners: Vec<Listener> = self
            .listeners
            .read()
            .iter()
            .map(|(_, f)| Arc::clone(f))
            .collect();
        for f in listeners {
            let call = std::panic::AssertUnwindSafe(|| f(event));
            if std::panic::catch_unwind(call).is_err() {
                tracing::warn!(target: "litegate::client", "client event listener panicked");
            }
        }
    }

    fn fetch_done(&self, ok: bool) {
        self.attempts.send_modify(|(n, last_ok)| {
            *n += 1;
            *last_ok = ok;
        });
        if ok {
            self.stale.store(false, Ordering::Release);
            if !self.ready.send_replace(true) {
                self.emit(&ClientEvent::Ready);
            }
        }
    }

    /// Turns delivery's events into client events.
    pub(crate) fn wire(self: &Arc<Self>, delivery: &ConfigDelivery) {
        let hub = Arc::clone(self);
        delivery.on_event(move |event| match event {
            DeliveryEvent::Applied {
                version,
                source,
                changed_flags,
            } => hub.emit(&ClientEvent::ConfigApplied {
                version: *version,
                source: *source,
                changed_flags: *changed_flags,
            }),
            DeliveryEvent::Rejected(r) => {
                hub.emit(&ClientEvent::ConfigRefused(r.clone()));
                hub.fetch_done(false);
            }
            DeliveryEvent::FetchFailed(f) => {
                hub.emit(&ClientEvent::FetchFailed(f.clone()));
                hub.fetch_done(false);
            }
            DeliveryEvent::Fetched => hub.fetch_done(true),
            _ => {}
        });
        // A fetch may have finished before the listener was registered.
        if delivery.status().ready && !self.ready.send_replace(true) {
            self.emit(&ClientEvent::Ready);
        }
    }
}

/// The default threshold for [`ClientEvent::Stale`], in poll intervals.
pub const DEFAULT_STALE_AFTER_INTERVALS: u32 = 3;

/// The stale timer: every poll interval, compares the time since the last
/// successful fetch (or the start) with `intervals` poll intervals. Ends
/// when the client is gone.
pub(crate) async fn stale_watch(shared: Weak<Shared>, started: SystemTime) {
    let (period, intervals) = match shared.upgrade() {
        Some(s) => (
            s.config.poll_interval.max(Duration::from_millis(10)),
            s.config.stale_after_intervals.max(1),
        ),
        None => return,
    };
    let threshold = period.saturating_mul(intervals);
    loop {
        tokio::time::sleep(period).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let last = shared.delivery.status().last_success;
        let since = last.unwrap_or(started);
        let elapsed = SystemTime::now()
            .duration_since(since)
            .unwrap_or(Duration::ZERO);
        if elapsed < threshold {
            shared.events.stale.store(false, Ordering::Release);
            continue;
        }
        if !shared.events.stale.swap(true, Ordering::AcqRel) {
            shared.events.emit(&ClientEvent::Stale {
                intervals,
                last_success_unix_ms: last.map(unix_ms),
            });
        }
    }
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Client {
    /// Calls `f` with every [`ClientEvent`] from now on. `f` runs on the
    /// thread that produced the event and must return quickly.
    pub fn on_event(&self, f: impl Fn(&ClientEvent) + Send + Sync + 'static) -> EventListenerId {
        self.shared.events.add(Arc::new(f))
    }

    /// Removes an event listener. Returns whether it was registered.
    pub fn remove_event_listener(&self, id: EventListenerId) -> bool {
        self.shared.events.remove(id)
    }

    /// Offline mode: while `true` the client uses no network at all (no
    /// config fetch, no event stream, no metrics upload); flag reads, model
    /// runs and metric recording go on, and metrics stay queued on disk.
    /// Turning it off fetches at once.
    pub fn set_offline(&self, offline: bool) {
        self.shared.metrics.set_offline(offline);
        self.shared.delivery.set_offline(offline);
    }

    /// Whether offline mode is on.
    pub fn is_offline(&self) -> bool {
        self.shared.delivery.is_offline()
    }
}

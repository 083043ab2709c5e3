//! Lifecycle, status, config listeners and the app's own metrics on
//! [`LiteGateClient`].

use crate::client::LiteGateClient;
use crate::convert;
use crate::error::{catch_panic, guard, CallbackError, LiteGateError};
use crate::types::{ClientStatus, ConfigUpdate, EventValue, MetricsSummary, ShutdownResult};
use litegate::delivery::ListenerId;
use litegate::metrics::{AttrValue, EventKind};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Called when a new config document changes what some flags could
/// evaluate to. Runs on a LiteGate dispatch thread, never the caller's.
#[uniffi::export(with_foreign)]
pub trait ConfigListener: Send + Sync {
    /// The change. An error or exception is logged and dropped.
    ///
    /// # Errors
    /// Whatever the app's handler reports; the SDK logs it.
    fn on_config_change(&self, update: ConfigUpdate) -> Result<(), CallbackError>;
}

#[uniffi::export]
impl LiteGateClient {
    /// Blocks until the first remote fetch succeeded, or `timeout_ms`
    /// passes. The client works without it; call it off the main thread.
    ///
    /// # Errors
    /// `NotReady` with the reason (timeout and last fetch error, no config
    /// URL, stopped).
    pub fn wait_until_ready(&self, timeout_ms: u64) -> Result<(), LiteGateError> {
        guard("wait_until_ready", || {
            self.core()
                .wait_until_ready(Duration::from_millis(timeout_ms))
                .map_err(|e| LiteGateError::NotReady {
                    reason: e.to_string(),
                })
        })
    }

    /// Asks for a config fetch now; returns at once.
    pub fn refresh(&self) {
        let _ = catch_panic(|| self.core().refresh());
    }

    /// Persists and uploads pending metrics, waiting at most `timeout_ms`.
    ///
    /// # Errors
    /// `Metrics` when the pipeline is stopped or the wait timed out.
    pub fn flush(&self, timeout_ms: u64) -> Result<MetricsSummary, LiteGateError> {
        guard("flush", || {
            self.core()
                .flush(Duration::from_millis(timeout_ms))
                .map(|s| convert::metrics_summary(&s))
                .map_err(|e| LiteGateError::Metrics {
                    reason: e.to_string(),
                })
        })
    }

    /// Stops the client: a final metrics upload and persistence within
    /// `timeout_ms`, then the background thread. Safe to call twice.
    pub fn shutdown(&self, timeout_ms: u64) -> ShutdownResult {
        catch_panic(|| convert::shutdown(self.core().shutdown(Duration::from_millis(timeout_ms))))
            .unwrap_or(ShutdownResult::TimedOut)
    }

    /// Config, delivery and metrics status, for a debug screen or a bug report.
    ///
    /// # Errors
    /// `Internal` only if the SDK fails unexpectedly.
    pub fn status(&self) -> Result<ClientStatus, LiteGateError> {
        guard("status", || Ok(convert::status(&self.core().status())))
    }

    /// Calls `listener` after every new config document that changes flags.
    /// Returns an id for [`LiteGateClient::remove_listener`].
    pub fn add_config_listener(&self, listener: Arc<dyn ConfigListener>) -> u64 {
        catch_panic(|| {
            let ListenerId(id) = self.core().delivery().on_change(move |change| {
                let update = convert::config_update(change);
                match catch_panic(|| listener.on_config_change(update)) {
                    Some(Ok(())) => {}
                    Some(Err(e)) => {
                        tracing::warn!(target: "litegate::ffi", error = %e, "config listener failed")
                    }
                    None => tracing::warn!(target: "litegate::ffi", "config listener panicked"),
                }
            });
            id
        })
        .unwrap_or(0)
    }

    /// Removes a listener; `false` if no listener has this id.
    pub fn remove_listener(&self, id: u64) -> bool {
        catch_panic(|| self.core().delivery().remove_listener(ListenerId(id))).unwrap_or(false)
    }

    /// Adds `value` to the app's counter `name` with `labels`; exported
    /// over OTLP next to LiteGate's own metrics.
    pub fn count(&self, name: String, value: u64, labels: HashMap<String, String>) {
        let _ = catch_panic(|| {
            let labels = label_refs(&labels);
            self.core().metrics().counter(&name, &labels).add(value);
        });
    }

    /// Records `value` in the app's histogram `name` with `labels`.
    pub fn record(&self, name: String, value: f64, labels: HashMap<String, String>) {
        let _ = catch_panic(|| {
            let labels = label_refs(&labels);
            self.core()
                .metrics()
                .histogram(&name, &labels)
                .record(value);
        });
    }

    /// Queues the app's event `name` (exported as `app.<name>`). Returns
    /// `false` when the event queue is full (the drop is counted).
    pub fn track(&self, name: String, attributes: HashMap<String, EventValue>) -> bool {
        catch_panic(|| {
            let mut attrs: Vec<(&str, AttrValue)> = attributes
                .iter()
                .map(|(k, v)| (k.as_str(), convert::event_value(v)))
                .collect();
            // Sorted so that identical events serialise identically.
            attrs.sort_by(|a, b| a.0.cmp(b.0));
            self.core().metrics().event(EventKind::Custom(name), &attrs)
        })
        .unwrap_or(false)
    }
}

fn label_refs(labels: &HashMap<String, String>) -> Vec<(&str, &str)> {
    let mut refs: Vec<(&str, &str)> = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    refs.sort_unstable();
    refs
}

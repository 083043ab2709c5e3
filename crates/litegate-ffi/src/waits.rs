//! The waits and long calls as UniFFI async functions: Kotlin `suspend`,
//! Swift `async`. Each returns a future that waits on the SDK's own runtime
//! (a timer task, or its blocking pool for model work), so the caller's
//! coroutine or task suspends instead of holding a pooled thread.

use crate::client::LiteGateClient;
use crate::convert;
use crate::error::LiteGateError;
use crate::models::LiteGateModel;
use crate::models::{CloudFallback, ModelRunResult, TensorData};
use crate::types::MetricsSummary;
use std::sync::Arc;
use std::time::Duration;

fn not_ready(e: &litegate::delivery::WaitError) -> LiteGateError {
    LiteGateError::NotReady {
        reason: e.to_string(),
    }
}

fn stopped(operation: &str) -> LiteGateError {
    LiteGateError::NotReady {
        reason: format!("{operation}: the client is shut down"),
    }
}

#[uniffi::export]
impl LiteGateClient {
    /// Suspends until the first remote fetch succeeded, or fails after
    /// `timeout_ms`.
    ///
    /// # Errors
    /// `NotReady` with the reason (timeout and last fetch error, no config
    /// URL, stopped).
    pub async fn ready_async(&self, timeout_ms: u64) -> Result<(), LiteGateError> {
        let client = Arc::clone(self.core());
        client
            .ready(Duration::from_millis(timeout_ms))
            .await
            .map_err(|e| not_ready(&e))
    }

    /// Asks for a fetch now and suspends until it finished, or fails after
    /// `timeout_ms`. Offline, no fetch starts, so it times out.
    ///
    /// # Errors
    /// `NotReady` when the fetch failed or timed out (with the last fetch
    /// error), without a config URL, or after shutdown.
    pub async fn refresh_async(&self, timeout_ms: u64) -> Result<(), LiteGateError> {
        let client = Arc::clone(self.core());
        client
            .refresh_and_wait(Duration::from_millis(timeout_ms))
            .await
            .map_err(|e| not_ready(&e))
    }

    /// Persists and uploads pending metrics, suspending at most
    /// `timeout_ms`.
    ///
    /// # Errors
    /// `Metrics` when the pipeline is stopped or the wait timed out.
    pub async fn flush_async(&self, timeout_ms: u64) -> Result<MetricsSummary, LiteGateError> {
        let client = Arc::clone(self.core());
        client
            .flush_async(Duration::from_millis(timeout_ms))
            .await
            .map(|s| convert::metrics_summary(&s))
            .map_err(|e| LiteGateError::Metrics {
                reason: e.to_string(),
            })
    }

    /// `load_model` on the SDK's blocking pool; suspends meanwhile.
    ///
    /// # Errors
    /// As `load_model`; `NotReady` after shutdown.
    pub async fn load_model_async(
        self: Arc<Self>,
        key: String,
        bytes: Vec<u8>,
    ) -> Result<Arc<LiteGateModel>, LiteGateError> {
        let this = Arc::clone(&self);
        self.core()
            .run_blocking(move |_| this.load_model(key, bytes))
            .await
            .map_err(|_| stopped("load_model_async"))?
    }

    /// `load_model_file` on the SDK's blocking pool; suspends meanwhile.
    ///
    /// # Errors
    /// As `load_model_file`; `NotReady` after shutdown.
    pub async fn load_model_file_async(
        self: Arc<Self>,
        key: String,
        path: String,
    ) -> Result<Arc<LiteGateModel>, LiteGateError> {
        let this = Arc::clone(&self);
        self.core()
            .run_blocking(move |_| this.load_model_file(key, path))
            .await
            .map_err(|_| stopped("load_model_file_async"))?
    }

    /// `run_model` on the SDK's blocking pool (the cloud fallback, if
    /// called, runs there too); suspends meanwhile.
    ///
    /// # Errors
    /// As `run_model`; `NotReady` after shutdown.
    #[uniffi::method(default(fallback = None))]
    pub async fn run_model_async(
        self: Arc<Self>,
        model: Arc<LiteGateModel>,
        inputs: Vec<TensorData>,
        fallback: Option<Arc<dyn CloudFallback>>,
    ) -> Result<ModelRunResult, LiteGateError> {
        let this = Arc::clone(&self);
        self.core()
            .run_blocking(move |_| this.run_model(model, inputs, fallback))
            .await
            .map_err(|_| stopped("run_model_async"))?
    }
}

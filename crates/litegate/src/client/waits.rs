//! The client's waits as futures: `ready`, `refresh_and_wait`,
//! `flush_async` and [`Client::run_blocking`] for long calls (model load
//! and run).
//!
//! Each future does its waiting on the client's own runtime (a task, or its
//! blocking pool for CPU work) and only awaits that task's handle, so it can
//! be polled by any executor (a Kotlin coroutine, a Swift task, another
//! tokio runtime) without parking one of that executor's threads.

use super::Client;
use crate::delivery::WaitError;
use crate::metrics::{MetricsError, MetricsStats};
use std::time::Duration;

/// Why a [`Client::run_blocking`] call did not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RunBlockingError {
    /// The client was shut down.
    #[error("the client is shut down")]
    Stopped,
    /// The work panicked (caught; the client goes on).
    #[error("the call panicked")]
    Panicked,
}

impl Client {
    fn runtime_handle(&self) -> Option<tokio::runtime::Handle> {
        self.shared
            .runtime
            .lock()
            .as_ref()
            .map(|r| r.handle().clone())
    }

    /// Resolves once the first remote fetch succeeded, or fails after
    /// `timeout`. The async form of [`Client::wait_until_ready`]: callable
    /// from any executor, including inside an async runtime.
    ///
    /// # Errors
    /// [`WaitError::NoRemote`] without a config URL, [`WaitError::Stopped`]
    /// after shutdown, [`WaitError::TimedOut`] (with the last fetch error).
    pub async fn ready(&self, timeout: Duration) -> Result<(), WaitError> {
        if self.shared.config.config_url.is_none() {
            return Err(WaitError::NoRemote);
        }
        let mut rx = self.shared.events.ready.subscribe();
        if *rx.borrow_and_update() {
            return Ok(());
        }
        let handle = self.runtime_handle().ok_or(WaitError::Stopped)?;
        let task = handle.spawn(async move {
            tokio::time::timeout(timeout, rx.wait_for(|ready| *ready))
                .await
                .map(|r| r.is_ok())
        });
        match task.await {
            Ok(Ok(true)) => Ok(()),
            Ok(Ok(false)) | Err(_) => Err(WaitError::Stopped),
            Ok(Err(_)) => Err(WaitError::TimedOut {
                last_error: self.shared.delivery.status().last_error,
            }),
        }
    }

    /// Asks for a fetch now and resolves when the next fetch attempt has
    /// finished (one already in flight counts), or fails after `timeout`.
    /// In offline mode no fetch starts, so this times out.
    ///
    /// # Errors
    /// [`WaitError::NoRemote`] without a config URL, [`WaitError::Stopped`]
    /// after shutdown, [`WaitError::TimedOut`] when the fetch failed or did
    /// not finish in time (with the last fetch error).
    pub async fn refresh_and_wait(&self, timeout: Duration) -> Result<(), WaitError> {
        if self.shared.config.config_url.is_none() {
            return Err(WaitError::NoRemote);
        }
        let mut rx = self.shared.events.attempts.subscribe();
        let (before, _) = *rx.borrow_and_update();
        let handle = self.runtime_handle().ok_or(WaitError::Stopped)?;
        self.refresh();
        let task = handle.spawn(async move {
            let done = tokio::time::timeout(timeout, rx.wait_for(|(n, _)| *n > before)).await;
            match done {
                Ok(Ok(attempt)) => Some(attempt.1),
                Ok(Err(_)) => None,
                Err(_) => Some(false),
            }
        });
        match task.await {
            Ok(Some(true)) => Ok(()),
            Ok(Some(false)) => Err(WaitError::TimedOut {
                last_error: self.shared.delivery.status().last_error,
            }),
            Ok(None) | Err(_) => Err(WaitError::Stopped),
        }
    }

    /// The async form of [`Client::flush`]: persists and uploads pending
    /// metrics, waiting at most `timeout`.
    ///
    /// # Errors
    /// [`MetricsError::ShutDown`] when the client is stopped,
    /// [`MetricsError::Timeout`] when the wait timed out,
    /// [`MetricsError::NotDelivered`] as for [`Client::flush`].
    pub async fn flush_async(&self, timeout: Duration) -> Result<MetricsStats, MetricsError> {
        let handle = self.runtime_handle().ok_or(MetricsError::ShutDown)?;
        // Exposures counted by Kotlin/Swift snapshot reads go in first, as in
        // the blocking `flush`.
        self.drain_snapshot_exposures();
        let metrics = self.shared.metrics.clone();
        let task =
            handle.spawn(async move { tokio::time::timeout(timeout, metrics.flush()).await });
        let uploads = self.shared.config.metrics_endpoint.is_some();
        match task.await {
            Ok(Ok(r)) => r.and_then(|stats| super::lifecycle::require_delivered(uploads, stats)),
            Ok(Err(_)) => Err(MetricsError::Timeout(timeout)),
            Err(_) => Err(MetricsError::ShutDown),
        }
    }

    /// Runs `f` (a model load or run, or any other long call on the client)
    /// on the client's blocking pool and resolves with its result, so an
    /// async caller's thread is free meanwhile.
    ///
    /// # Errors
    /// [`RunBlockingError`] when the client is stopped or `f` panicked.
    pub async fn run_blocking<T, F>(&self, f: F) -> Result<T, RunBlockingError>
    where
        F: FnOnce(&Client) -> T + Send + 'static,
        T: Send + 'static,
    {
        let handle = self.runtime_handle().ok_or(RunBlockingError::Stopped)?;
        let client = self.clone();
        match handle.spawn_blocking(move || f(&client)).await {
            Ok(v) => Ok(v),
            Err(e) if e.is_panic() => Err(RunBlockingError::Panicked),
            Err(_) => Err(RunBlockingError::Stopped),
        }
    }
}

//! The SDK's own async runtime: one `current_thread` tokio runtime driven by
//! exactly one named background thread.
//!
//! Config delivery and metric upload run their tasks here, so nothing the SDK
//! does in the background ever runs on (or needs) the app's threads, and the
//! app does not need to run tokio itself.

use std::sync::mpsc;
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// The default name of the background thread.
pub const DEFAULT_THREAD_NAME: &str = "litegate-runtime";

/// How long the thread waits for tasks to finish after it was told to stop,
/// when it is stopped by `Drop` rather than [`BackgroundRuntime::shutdown`].
const DROP_GRACE: Duration = Duration::from_millis(200);

/// Why the background runtime could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// Tokio could not build the runtime (its I/O or timer driver).
    #[error("cannot build the background tokio runtime: {0}")]
    Build(#[source] std::io::Error),
    /// The operating system refused to start the thread.
    #[error("cannot spawn the background thread `{name}`: {source}")]
    Spawn {
        /// The thread's name.
        name: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// How a [`BackgroundRuntime::shutdown`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownOutcome {
    /// The thread finished within the timeout.
    Stopped,
    /// The thread was still running at the timeout and was left to finish on
    /// its own (its tasks are cancelled; a task stuck in blocking code keeps
    /// the thread alive until it returns).
    TimedOut,
    /// It had already been shut down.
    AlreadyStopped,
    /// Called from the runtime's own thread, which cannot wait for itself:
    /// the stop was requested and will happen once the current task yields.
    CalledFromRuntimeThread,
}

/// A tokio runtime on one dedicated, named background thread.
///
/// Create one per client and pass [`BackgroundRuntime::handle`] to the
/// components that spawn tasks. Dropping it stops the thread without waiting
/// for long and never panics, wherever it is dropped.
#[derive(Debug)]
pub struct BackgroundRuntime {
    handle: Handle,
    thread_id: ThreadId,
    stop: Option<oneshot::Sender<Duration>>,
    finished: Option<mpsc::Receiver<()>>,
    thread: Option<JoinHandle<()>>,
}

impl BackgroundRuntime {
    /// Starts the runtime on a thread named [`DEFAULT_THREAD_NAME`].
    ///
    /// # Errors
    /// [`RuntimeError`] when tokio or the OS cannot provide the runtime or thread.
    pub fn new() -> Result<Self, RuntimeError> {
        Self::with_thread_name(DEFAULT_THREAD_NAME)
    }

    /// Starts the runtime on a thread with the given name.
    ///
    /// # Errors
    /// [`RuntimeError`] when tokio or the OS cannot provide the runtime or thread.
    pub fn with_thread_name(name: &str) -> Result<Self, RuntimeError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(RuntimeError::Build)?;
        let handle = runtime.handle().clone();
        let (stop_tx, stop_rx) = oneshot::channel::<Duration>();
        let (finished_tx, finished_rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                // Drive every spawned task until told to stop (or until every
                // owner is gone and the sender is dropped).
                let grace = runtime.block_on(async move { stop_rx.await.unwrap_or(DROP_GRACE) });
                runtime.shutdown_timeout(grace);
                // The receiver may be gone (drop without waiting): fine.
                let _ = finished_tx.send(());
            })
            .map_err(|source| RuntimeError::Spawn {
                name: name.to_owned(),
                source,
            })?;
        Ok(BackgroundRuntime {
            handle,
            thread_id: thread.thread().id(),
            stop: Some(stop_tx),
            finished: Some(finished_rx),
            thread: Some(thread),
        })
    }

    /// A handle to spawn tasks on the runtime. Tasks spawned after shutdown
    /// are dropped without running.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Whether the calling thread is this runtime's background thread.
    pub fn is_current_thread(&self) -> bool {
        std::thread::current().id() == self.thread_id
    }

    /// The background thread's id (to detect calls that would wait on it from
    /// inside it).
    pub fn thread_id(&self) -> ThreadId {
        self.thread_id
    }

    /// Stops the runtime: pending tasks are cancelled at their next await
    /// point, and the call waits at most `timeout` for the thread to end.
    pub fn shutdown(&mut self, timeout: Duration) -> ShutdownOutcome {
        let Some(stop) = self.stop.take() else {
            return ShutdownOutcome::AlreadyStopped;
        };
        // The thread may already have ended; nothing to do then.
        let _ = stop.send(timeout);
        if self.is_current_thread() {
            // Waiting here would wait on ourselves.
            self.thread = None;
            self.finished = None;
            return ShutdownOutcome::CalledFromRuntimeThread;
        }
        let outcome = match self.finished.take() {
            Some(rx) => match rx.recv_timeout(timeout + DROP_GRACE) {
                Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => ShutdownOutcome::Stopped,
                Err(mpsc::RecvTimeoutError::Timeout) => ShutdownOutcome::TimedOut,
            },
            None => ShutdownOutcome::Stopped,
        };
        if let Some(thread) = self.thread.take() {
            if outcome == ShutdownOutcome::Stopped {
                // The thread has signalled it is done: joining is immediate.
                // A panic in the thread is not propagated.
                let _ = thread.join();
            }
        }
        outcome
    }
}

impl Drop for BackgroundRuntime {
    fn drop(&mut self) {
        // Ask the thread to stop, and do not wait: a drop must stay cheap and
        // may even run on the runtime thread itself.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(DROP_GRACE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[test]
    fn runs_tasks_on_one_named_thread_and_shuts_down() {
        let mut rt = BackgroundRuntime::with_thread_name("lg-test-rt").expect("runtime");
        let (tx, rx) = mpsc::channel();
        rt.handle().spawn(async move {
            let name = std::thread::current().name().map(str::to_owned);
            let _ = tx.send(name);
        });
        let name = rx.recv_timeout(Duration::from_secs(10)).expect("task ran");
        assert_eq!(name.as_deref(), Some("lg-test-rt"));
        assert!(!rt.is_current_thread());
        assert_eq!(
            rt.shutdown(Duration::from_secs(5)),
            ShutdownOutcome::Stopped
        );
        assert_eq!(
            rt.shutdown(Duration::from_secs(5)),
            ShutdownOutcome::AlreadyStopped
        );
    }

    #[test]
    fn shutdown_cancels_sleeping_tasks() {
        let mut rt = BackgroundRuntime::new().expect("runtime");
        let finished = Arc::new(AtomicBool::new(false));
        let f = finished.clone();
        rt.handle().spawn(async move {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            f.store(true, Ordering::SeqCst);
        });
        assert_eq!(
            rt.shutdown(Duration::from_secs(5)),
            ShutdownOutcome::Stopped
        );
        assert!(!finished.load(Ordering::SeqCst));
    }

    #[test]
    fn drop_on_the_runtime_thread_does_not_panic() {
        let rt = BackgroundRuntime::new().expect("runtime");
        let handle = rt.handle().clone();
        let (tx, rx) = mpsc::channel();
        handle.spawn(async move {
            drop(rt);
            let _ = tx.send(());
        });
        rx.recv_timeout(Duration::from_secs(10))
            .expect("dropped inside its own task");
    }
}

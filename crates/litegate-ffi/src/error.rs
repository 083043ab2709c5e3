//! The one error type Swift and Kotlin see, and the one place core errors
//! are mapped to it.
//!
//! The enum is exported flat: each variant becomes a Kotlin exception class
//! (`LiteGateException.WrongEnvironment`) or a Swift `Error` case whose
//! message is the `Display` text below, written for an app developer to act
//! on. Messages name settings, flags and environments, never user data from
//! an evaluation context.

use litegate::config::ConfigError;
use litegate::delivery::{DeliveryError, Rejection};
use litegate::ClientError;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Everything that can go wrong in a LiteGate call.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum LiteGateError {
    /// A client option is missing or malformed.
    #[error("invalid client option `{field}`: {reason}")]
    InvalidOption {
        /// Which option.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The bundled bootstrap config targets another environment.
    #[error(
        "the bootstrap config is for environment `{found}`, but the client runs in \
         `{expected}`: bundle the config exported for `{expected}`"
    )]
    WrongEnvironment {
        /// The client's environment.
        expected: String,
        /// The document's environment.
        found: String,
    },
    /// The bundled bootstrap config cannot be used.
    #[error("the bootstrap config was refused: {reason}")]
    BootstrapRefused {
        /// Why.
        reason: String,
    },
    /// A part of the client could not start (background thread, metrics
    /// pipeline, config delivery).
    #[error("the client's {component} could not start: {reason}")]
    StartFailed {
        /// Which part.
        component: String,
        /// Why.
        reason: String,
    },
    /// No config was fetched within the wait (the client keeps working
    /// with the bundled or persisted config).
    #[error("no config was fetched: {reason}")]
    NotReady {
        /// Why: the timeout with the last fetch error, no URL, or stopped.
        reason: String,
    },
    /// The metrics pipeline did not finish in time or is stopped.
    #[error("metrics: {reason}")]
    Metrics {
        /// Why.
        reason: String,
    },
    /// The storage directory cannot be created or written.
    #[error("the storage directory `{path}` is unusable: {reason}")]
    Storage {
        /// The directory.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// An evaluation context attribute is unusable.
    #[error("invalid context attribute `{attribute}`: {reason}")]
    InvalidContext {
        /// The attribute's name.
        attribute: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A JSON argument is not valid JSON.
    #[error("`{argument}` is not valid JSON: {reason}")]
    InvalidJson {
        /// Which argument.
        argument: String,
        /// The parser's message.
        reason: String,
    },
    /// A model cannot be loaded or run (not in the config, integrity
    /// mismatch, runtime failure, busy).
    #[error("model `{model}`: {reason}")]
    Model {
        /// The model's key.
        model: String,
        /// Why.
        reason: String,
    },
    /// Inputs do not match what the model expects (checked before the
    /// runtime is called).
    #[error("model `{model}`: invalid input: {reason}")]
    InvalidInput {
        /// The model's key.
        model: String,
        /// What does not match.
        reason: String,
    },
    /// A config document offered with `submit_config` was refused; the
    /// document in use stays.
    #[error("config refused: {reason}")]
    ConfigRefused {
        /// Why (signature, environment, version, or the first problem).
        reason: String,
    },
    /// A log sink cannot be installed because the process already has a
    /// global `tracing` subscriber (a Rust host set its own).
    #[error(
        "a log sink cannot be installed: this process already has a global tracing subscriber"
    )]
    LogSinkUnavailable,
    /// A failure the SDK did not expect (a bug): the call did nothing.
    #[error("internal error in `{operation}`: {message} (please report this)")]
    Internal {
        /// The call that failed.
        operation: String,
        /// What failed.
        message: String,
    },
}

/// What an app's callback (log sink, listener, cloud fallback) reports when
/// it fails. Any exception a callback throws arrives here as `Failed`; the
/// SDK logs it and carries on.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum CallbackError {
    /// The callback threw.
    #[error("the app's callback failed: {reason}")]
    Failed {
        /// The exception's description.
        reason: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for CallbackError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        CallbackError::Failed { reason: e.reason }
    }
}

impl From<ClientError> for LiteGateError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::InvalidConfig { field, reason } => LiteGateError::InvalidOption {
                field: field.to_owned(),
                reason,
            },
            ClientError::Bootstrap(ConfigError::WrongEnvironment { expected, found }) => {
                LiteGateError::WrongEnvironment { expected, found }
            }
            ClientError::Bootstrap(source) => LiteGateError::BootstrapRefused {
                reason: source.to_string(),
            },
            ClientError::Delivery(DeliveryError::InvalidUrl { url, reason }) => {
                LiteGateError::InvalidOption {
                    field: "config_url".to_owned(),
                    reason: format!("`{url}`: {reason}"),
                }
            }
            ClientError::Delivery(e @ DeliveryError::InsecureUrl { .. }) => {
                LiteGateError::InvalidOption {
                    field: "config_url".to_owned(),
                    reason: e.to_string(),
                }
            }
            ClientError::Delivery(DeliveryError::PinnedKey(e)) => LiteGateError::InvalidOption {
                field: "pinned_keys".to_owned(),
                reason: e.to_string(),
            },
            ClientError::Delivery(DeliveryError::Bootstrap(Rejection::Config(
                ConfigError::WrongEnvironment { expected, found },
            ))) => LiteGateError::WrongEnvironment { expected, found },
            ClientError::Delivery(DeliveryError::Bootstrap(r)) => LiteGateError::BootstrapRefused {
                reason: r.to_string(),
            },
            ClientError::Delivery(e) => LiteGateError::StartFailed {
                component: "config delivery".to_owned(),
                reason: e.to_string(),
            },
            ClientError::Metrics(e) => LiteGateError::StartFailed {
                component: "metrics pipeline".to_owned(),
                reason: e.to_string(),
            },
            ClientError::Runtime(e) => LiteGateError::StartFailed {
                component: "background thread".to_owned(),
                reason: e.to_string(),
            },
            ClientError::Storage { path, source } => LiteGateError::Storage {
                path: path.display().to_string(),
                reason: source.to_string(),
            },
            other => LiteGateError::Internal {
                operation: "start".to_owned(),
                message: other.to_string(),
            },
        }
    }
}

/// Runs `f`, turning a panic into [`LiteGateError::Internal`] so that no
/// panic unwinds into Swift or Kotlin (which would abort the app).
pub(crate) fn guard<T>(
    operation: &'static str,
    f: impl FnOnce() -> Result<T, LiteGateError>,
) -> Result<T, LiteGateError> {
    // AssertUnwindSafe: after a panic the wrapper hands out nothing that the
    // panicking closure was mutating; the core keeps its state behind locks
    // that do not poison (parking_lot) and swaps whole `Arc`s.
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => Err(LiteGateError::Internal {
            operation: operation.to_owned(),
            message: panic_message(payload.as_ref()),
        }),
    }
}

/// Runs `f`, returning `None` if it panics: for calls that have a natural
/// answer on failure (an evaluation returns the caller's default).
pub(crate) fn catch_panic<T>(f: impl FnOnce() -> T) -> Option<T> {
    // AssertUnwindSafe: as in `guard`.
    catch_unwind(AssertUnwindSafe(f)).ok()
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_turns_a_panic_into_internal() {
        let r: Result<(), _> = guard("probe", || panic!("boom"));
        match r {
            Err(LiteGateError::Internal { operation, message }) => {
                assert_eq!(operation, "probe");
                assert_eq!(message, "boom");
            }
            other => panic!("expected Internal, got {other:?}"),
        }
    }

    #[test]
    fn catch_panic_returns_none_on_panic() {
        assert_eq!(catch_panic(|| -> i32 { panic!("x") }), None);
        assert_eq!(catch_panic(|| 1), Some(1));
    }

    #[test]
    fn wrong_environment_message_is_actionable() {
        let e = LiteGateError::from(ClientError::Bootstrap(ConfigError::WrongEnvironment {
            expected: "production".into(),
            found: "staging".into(),
        }));
        assert_eq!(
            e.to_string(),
            "the bootstrap config is for environment `staging`, but the client runs in \
             `production`: bundle the config exported for `production`"
        );
    }
}

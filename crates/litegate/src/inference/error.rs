//! Errors returned to the caller of `run` and `load`. Runtime and
//! accelerator failures are not errors: they become fallbacks or an
//! `Unavailable` outcome.

use super::integrity::IntegrityError;
use super::tensor::TensorError;
use std::path::PathBuf;
use std::time::Duration;

/// What the caller did wrong or must retry.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum InferenceError {
    /// The model bytes failed verification; the runtime never saw them.
    #[error(transparent)]
    Integrity(#[from] IntegrityError),
    /// An input does not match the model.
    #[error(transparent)]
    InvalidInput(#[from] TensorError),
    /// Every instance was busy for the whole wait.
    #[error("model `{model}` busy: {pool_size} instances in use, waited {waited:?}")]
    Busy {
        /// Model key.
        model: String,
        /// Pool bound.
        pool_size: usize,
        /// How long the caller waited.
        waited: Duration,
    },
    /// Reading a model file failed.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        message: String,
    },
}

impl InferenceError {
    /// A short stable label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            InferenceError::Integrity(_) => "integrity",
            InferenceError::InvalidInput(_) => "invalid_input",
            InferenceError::Busy { .. } => "busy",
            InferenceError::Io { .. } => "io",
        }
    }
}

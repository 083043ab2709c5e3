//! The fence around the C libraries: the only code in LiteGate that calls
//! `unsafe` functions. One loader per library ([`litert`], [`tflite`]), each
//! holding its `Library` for the process, declaring the functions it uses,
//! probing the version and resolving optional symbols one by one.

pub mod layout;
pub mod litert;
pub mod status;
pub mod tflite;

mod aligned;
mod lookup;

pub use aligned::AlignedBytes;
pub use lookup::{cache_root, RuntimeLocator, RuntimeSource};

use std::path::PathBuf;

/// Why a runtime library could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeLoadError {
    /// No candidate path held the library.
    #[error(
        "{library} not found (looked in: {}); run `cargo xtask setup` or set {env_var}",
        crate::display::paths(searched)
    )]
    NotFound {
        /// The library's file name.
        library: &'static str,
        /// Every path tried, in order.
        searched: Vec<PathBuf>,
        /// The environment variable that overrides the path.
        env_var: &'static str,
    },
    /// The only TFLite in the app is Google Play services' (the
    /// `play-services-tflite-java` client library was found): it is loaded
    /// through Java and has no C API LiteGate can open. Bundle the
    /// `com.google.ai.edge.litert:litert` AAR instead (docs/inference.md).
    #[error(
        "only Google Play services' TFLite is present ({marker}), which LiteGate cannot load; \
         add com.google.ai.edge.litert:litert (and litert-gpu) to the app (see docs/inference.md)"
    )]
    PlayServicesOnly {
        /// The Play services client library found.
        marker: PathBuf,
    },
    /// The dynamic loader refused the file.
    #[error("cannot load {path}: {message}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The loader's message.
        message: String,
    },
    /// A required function is not exported.
    #[error("{path} does not export required symbol `{symbol}`")]
    MissingSymbol {
        /// The file.
        path: PathBuf,
        /// The symbol.
        symbol: &'static str,
    },
    /// The library's version is outside the supported range.
    #[error("{path}: runtime version {found} is not supported (need {supported})")]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version found (or how it was guessed).
        found: String,
        /// The supported range.
        supported: &'static str,
    },
    /// Creating the runtime's environment failed.
    #[error("{path}: creating the runtime environment failed with status {status}")]
    Environment {
        /// The file.
        path: PathBuf,
        /// The runtime's status code.
        status: i32,
    },
}

/// A failed call into a loaded runtime.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// A C function returned an error status.
    #[error("{call} failed with status {status} ({})", status::describe(call, *status))]
    Status {
        /// The C function.
        call: &'static str,
        /// Its status code.
        status: i32,
    },
    /// A C function returned a null handle.
    #[error("{call} returned null{detail}")]
    Null {
        /// The C function.
        call: &'static str,
        /// Extra context, starting with `: ` when present.
        detail: String,
    },
    /// The accelerator is not offered by this runtime build.
    #[error("accelerator not offered: {reason}")]
    AcceleratorUnavailable {
        /// Why (which entry point or library is missing).
        reason: String,
    },
    /// The model uses a tensor type LiteGate does not map.
    #[error("tensor `{name}` has unsupported type code {code}")]
    UnsupportedTensorType {
        /// The tensor.
        name: String,
        /// The schema's type code.
        code: i32,
    },
    /// The runtime's view of a buffer size disagrees with ours.
    #[error("tensor `{name}`: runtime buffer holds {runtime} bytes, expected {expected}")]
    SizeMismatch {
        /// The tensor.
        name: String,
        /// Bytes the runtime reports.
        runtime: usize,
        /// Bytes LiteGate computed.
        expected: usize,
    },
    /// A fault injected on purpose (tests and drills).
    #[error("injected fault: {0}")]
    Injected(String),
}

/// The version of a runtime, probed at load.
pub(crate) fn parse_version(text: &str) -> Option<semver::Version> {
    let core: String = text
        .trim()
        .trim_start_matches('v')
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some(semver::Version::new(major, minor, patch))
}

//! The entry point the client holds: configuration, the loaded runtimes,
//! the policy and guardrail overrides, the failure history, the observer.

use super::accel::{
    Accelerator, AcceleratorPolicy, EngineKind, GuardrailOverrides, PolicyFlagKeys,
};
use super::adaptive::AdaptiveConfig;
use super::error::InferenceError;
use super::history::FailureHistory;
use super::manifest::ModelManifest;
use super::observer::{InferenceObserver, NoopObserver};
use super::runner::{LoadOptions, ModelRunner};
use super::runtime::layout::{self, Platform};
use super::runtime::litert::LiteRtRuntime;
use super::runtime::tflite::TfLiteRuntime;
use super::runtime::{RuntimeLoadError, RuntimeLocator, RuntimeSource};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// A fault injected on purpose, for tests and fallback drills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InjectedFault {
    /// Classic engine: attach a delegate whose Prepare fails, so the real
    /// interpreter refuses to build. LiteRT: compilation reports an error.
    FailingPrepare,
    /// Every run on the accelerator fails.
    FailRuns,
}

/// Engine configuration.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where to find `libLiteRt`.
    pub litert_library: RuntimeLocator,
    /// Where to find `libtensorflowlite_c`.
    pub tflite_library: RuntimeLocator,
    /// Compiled instances per model (concurrent runs), default 2.
    pub pool_size: usize,
    /// How long a caller waits for a free instance before `Busy`.
    pub busy_timeout: Duration,
    /// Where the failure history is persisted (`None`: memory only).
    pub history_path: Option<PathBuf>,
    /// How long a recorded failure keeps an accelerator skipped.
    pub history_expiry: Duration,
    /// Adaptive switching tuning.
    pub adaptive: AdaptiveConfig,
    /// CPU threads for the classic interpreter.
    pub tflite_threads: i32,
    /// Flag keys (for reasons in reports).
    pub flag_keys: PolicyFlagKeys,
    /// Faults to inject per accelerator.
    pub faults: Vec<(Accelerator, InjectedFault)>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            litert_library: RuntimeLocator::default(),
            tflite_library: RuntimeLocator::default(),
            pool_size: 2,
            busy_timeout: Duration::from_secs(5),
            history_path: None,
            history_expiry: Duration::from_secs(7 * 24 * 3600),
            adaptive: AdaptiveConfig::default(),
            tflite_threads: 1,
            flag_keys: PolicyFlagKeys::default(),
            faults: Vec::new(),
        }
    }
}

/// A loaded runtime of either kind.
#[derive(Debug, Clone)]
pub enum Runtime {
    /// LiteRT 2.x.
    LiteRt(Arc<LiteRtRuntime>),
    /// Classic TensorFlow Lite.
    TfLite(Arc<TfLiteRuntime>),
}

impl Runtime {
    /// The probed version.
    pub fn version(&self) -> String {
        match self {
            Runtime::LiteRt(r) => r.version().to_string(),
            Runtime::TfLite(r) => r.version().to_string(),
        }
    }

    /// The library path.
    pub fn path(&self) -> &Path {
        match self {
            Runtime::LiteRt(r) => r.path(),
            Runtime::TfLite(r) => r.path(),
        }
    }
}

type LoadedMap = HashMap<PathBuf, Runtime>;

/// Libraries are loaded once per process and path and never unloaded:
/// unloading a runtime with live threads or registered accelerators is
/// not something these libraries support.
fn process_libraries() -> &'static Mutex<LoadedMap> {
    static LOADED: OnceLock<Mutex<LoadedMap>> = OnceLock::new();
    LOADED.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Loads (or reuses) a runtime through a locator.
///
/// # Errors
/// [`RuntimeLoadError`] when the library is missing or unusable.
pub fn load_runtime(
    kind: EngineKind,
    locator: &RuntimeLocator,
) -> Result<Runtime, RuntimeLoadError> {
    let source = match kind {
        EngineKind::LiteRt => RuntimeSource::LiteRt,
        EngineKind::TfLite => RuntimeSource::TfLite,
    };
    let (found, searched) = locator.resolve(source);
    let Some(path) = found else {
        if let Some(marker) = locator.play_services_only() {
            return Err(RuntimeLoadError::PlayServicesOnly { marker });
        }
        return Err(RuntimeLoadError::NotFound {
            library: source.file_name(),
            searched,
            env_var: source.env_var(),
        });
    };
    let mut map = process_libraries().lock();
    if let Some(rt) = map.get(&path) {
        return Ok(rt.clone());
    }
    // Accelerators and delegates where the runtime's distribution puts them
    // (docs/inference.md); on Android, bare sonames are left to LiteRT.
    let companions = layout::companions(&path, source, Platform::current());
    let loaded = match kind {
        EngineKind::LiteRt => {
            LiteRtRuntime::load_with(&path, &companions).map(|r| Runtime::LiteRt(Arc::new(r)))
        }
        EngineKind::TfLite => {
            TfLiteRuntime::load_with(&path, &companions).map(|r| Runtime::TfLite(Arc::new(r)))
        }
    };
    let rt = match loaded {
        Ok(rt) => rt,
        // A bare name the system loader did not find: say so plainly when
        // Play services' TFLite is what the app ships instead.
        Err(RuntimeLoadError::Open { .. }) if locator.play_services_only().is_some() => {
            return Err(RuntimeLoadError::PlayServicesOnly {
                marker: locator.play_services_only().unwrap_or_default(),
            });
        }
        Err(e) => return Err(e),
    };
    map.insert(path, rt.clone());
    Ok(rt)
}

pub(crate) struct EngineShared {
    pub(crate) config: EngineConfig,
    pub(crate) observer: Arc<dyn InferenceObserver>,
    pub(crate) history: FailureHistory,
    pub(crate) policy: RwLock<AcceleratorPolicy>,
    pub(crate) overrides: RwLock<GuardrailOverrides>,
    runtimes: Mutex<HashMap<EngineKind, Result<Runtime, RuntimeLoadError>>>,
}

impl EngineShared {
    pub(crate) fn runtime(&self, kind: EngineKind) -> Result<Runtime, RuntimeLoadError> {
        let mut cache = self.runtimes.lock();
        if let Some(Ok(rt)) = cache.get(&kind) {
            return Ok(rt.clone());
        }
        let locator = match kind {
            EngineKind::LiteRt => &self.config.litert_library,
            EngineKind::TfLite => &self.config.tflite_library,
        };
        let result = load_runtime(kind, locator);
        cache.insert(kind, result.clone());
        result
    }

    pub(crate) fn fault(&self, accelerator: Accelerator) -> Option<InjectedFault> {
        self.config
            .faults
            .iter()
            .find(|(a, _)| *a == accelerator)
            .map(|(_, f)| *f)
    }
}

/// On-device inference: loads models, picks accelerators, falls back.
/// Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct InferenceEngine {
    pub(crate) shared: Arc<EngineShared>,
}

impl std::fmt::Debug for InferenceEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InferenceEngine")
            .field("pool_size", &self.shared.config.pool_size)
            .finish()
    }
}

impl InferenceEngine {
    /// An engine with no observer.
    pub fn new(config: EngineConfig) -> InferenceEngine {
        InferenceEngine::with_observer(config, Arc::new(NoopObserver))
    }

    /// An engine reporting to `observer`.
    pub fn with_observer(
        config: EngineConfig,
        observer: Arc<dyn InferenceObserver>,
    ) -> InferenceEngine {
        let expiry = config.history_expiry.as_millis() as i64;
        let history = match &config.history_path {
            Some(p) => FailureHistory::open(p.clone(), expiry),
            None => FailureHistory::in_memory(expiry),
        };
        InferenceEngine {
            shared: Arc::new(EngineShared {
                config,
                observer,
                history,
                policy: RwLock::new(AcceleratorPolicy::default()),
                overrides: RwLock::new(GuardrailOverrides::default()),
                runtimes: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Replaces the policy (the client calls this when flags change). It
    /// applies to models loaded afterwards and to the on/off checks of
    /// every run.
    pub fn set_policy(&self, policy: AcceleratorPolicy) {
        *self.shared.policy.write() = policy;
    }

    /// The current policy.
    pub fn policy(&self) -> AcceleratorPolicy {
        self.shared.policy.read().clone()
    }

    /// Guardrail: never use `accelerator` for `model_key` (until
    /// [`Self::clear_overrides`]). Running runners move off it at the next
    /// run.
    pub fn disable_accelerator(&self, model_key: &str, accelerator: Accelerator) {
        self.shared
            .overrides
            .write()
            .disabled
            .entry(model_key.to_owned())
            .or_default()
            .insert(accelerator);
    }

    /// Guardrail: send every run of `model_key` to the app's fallback path.
    pub fn force_fallback(&self, model_key: &str) {
        self.shared
            .overrides
            .write()
            .forced_fallback
            .insert(model_key.to_owned());
    }

    /// Removes every guardrail override.
    pub fn clear_overrides(&self) {
        *self.shared.overrides.write() = GuardrailOverrides::default();
    }

    /// The failure history.
    pub fn history(&self) -> &FailureHistory {
        &self.shared.history
    }

    /// Loads a runtime (for diagnostics: which version, which path).
    ///
    /// # Errors
    /// [`RuntimeLoadError`].
    pub fn runtime(&self, kind: EngineKind) -> Result<Runtime, RuntimeLoadError> {
        self.shared.runtime(kind)
    }

    /// Verifies `bytes` against `manifest` and prepares the model. A
    /// missing runtime or an accelerator that fails does not make this
    /// fail: runs then report `Unavailable` or fall back.
    ///
    /// # Errors
    /// [`InferenceError::Integrity`] when the bytes do not match.
    pub fn load(
        &self,
        manifest: &ModelManifest,
        bytes: &[u8],
    ) -> Result<ModelRunner, InferenceError> {
        self.load_with(manifest, bytes, &LoadOptions::default())
    }

    /// [`Self::load`] with options (engine, one accelerator only).
    ///
    /// # Errors
    /// As [`Self::load`].
    pub fn load_with(
        &self,
        manifest: &ModelManifest,
        bytes: &[u8],
        options: &LoadOptions,
    ) -> Result<ModelRunner, InferenceError> {
        ModelRunner::load(Arc::clone(&self.shared), manifest, bytes, options)
    }

    /// Reads `path` and loads it (the bytes are read here and verified;
    /// the runtime never opens the file).
    ///
    /// # Errors
    /// [`InferenceError::Io`] or as [`Self::load`].
    pub fn load_file(
        &self,
        manifest: &ModelManifest,
        path: &Path,
        options: &LoadOptions,
    ) -> Result<ModelRunner, InferenceError> {
        let bytes = std::fs::read(path).map_err(|e| InferenceError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        self.load_with(manifest, &bytes, options)
    }
}

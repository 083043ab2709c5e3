//! Accelerators, engines and the selection policy: which accelerators to
//! try, in which order. Pure functions over data; no I/O.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A hardware accelerator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accelerator {
    /// Neural processing unit (LiteRT NPU, Core ML on Apple, NNAPI).
    Npu,
    /// GPU (LiteRT WebGPU/OpenCL, Metal on Apple, GPU delegate V2).
    Gpu,
    /// CPU (XNNPACK).
    Cpu,
}

impl Accelerator {
    /// Preference order: NPU, then GPU, then CPU.
    pub const PREFERENCE: [Accelerator; 3] = [Accelerator::Npu, Accelerator::Gpu, Accelerator::Cpu];

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Accelerator::Npu => "npu",
            Accelerator::Gpu => "gpu",
            Accelerator::Cpu => "cpu",
        }
    }

    /// Parses `npu`, `gpu` or `cpu`.
    pub fn parse(s: &str) -> Option<Accelerator> {
        match s {
            "npu" => Some(Accelerator::Npu),
            "gpu" => Some(Accelerator::Gpu),
            "cpu" => Some(Accelerator::Cpu),
            _ => None,
        }
    }
}

impl std::fmt::Display for Accelerator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which runtime library runs a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// LiteRT 2.x CompiledModel API.
    LiteRt,
    /// Classic TensorFlow Lite C API.
    TfLite,
}

impl EngineKind {
    /// `litert` or `tflite`.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::LiteRt => "litert",
            EngineKind::TfLite => "tflite",
        }
    }

    /// Parses `litert` or `tflite`.
    pub fn parse(s: &str) -> Option<EngineKind> {
        match s {
            "litert" => Some(EngineKind::LiteRt),
            "tflite" => Some(EngineKind::TfLite),
            _ => None,
        }
    }
}

impl std::fmt::Display for EngineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Flag keys the client evaluates to fill an [`AcceleratorPolicy`]; the
/// defaults are the names release engineers know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyFlagKeys {
    /// Local inference on or off.
    pub litert_enabled: String,
    /// GPU allowed.
    pub litert_gpu_backend: String,
    /// NPU allowed.
    pub litert_npu_backend: String,
    /// Latency-driven switching on or off.
    pub litert_adaptive_switching: String,
    /// Whether the app may use its cloud path when nothing local works.
    pub ai_fallback_to_cloud: String,
}

impl Default for PolicyFlagKeys {
    fn default() -> Self {
        PolicyFlagKeys {
            litert_enabled: "litert_enabled".into(),
            litert_gpu_backend: "litert_gpu_backend".into(),
            litert_npu_backend: "litert_npu_backend".into(),
            litert_adaptive_switching: "litert_adaptive_switching".into(),
            ai_fallback_to_cloud: "ai_fallback_to_cloud".into(),
        }
    }
}

/// The accelerator policy, as plain data the client fills from flags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceleratorPolicy {
    /// `litert_enabled`: run models on the device at all.
    pub litert_enabled: bool,
    /// `litert_gpu_backend`: GPU may be tried.
    pub gpu_enabled: bool,
    /// `litert_npu_backend`: NPU may be tried.
    pub npu_enabled: bool,
    /// `litert_adaptive_switching`: switch on measured latency.
    pub adaptive_switching: bool,
    /// `ai_fallback_to_cloud`: reported in `Unavailable` so the app knows
    /// whether its cloud path is allowed.
    pub fallback_to_cloud: bool,
}

impl Default for AcceleratorPolicy {
    fn default() -> Self {
        AcceleratorPolicy {
            litert_enabled: true,
            gpu_enabled: true,
            npu_enabled: true,
            adaptive_switching: false,
            fallback_to_cloud: true,
        }
    }
}

/// Runtime overrides that guardrails set: disable one accelerator for one
/// model, or force a model onto the app's fallback path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuardrailOverrides {
    /// Accelerators disabled per model key.
    pub disabled: BTreeMap<String, BTreeSet<Accelerator>>,
    /// Models forced to the fallback path.
    pub forced_fallback: BTreeSet<String>,
}

/// Why an accelerator was not tried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SkipReason {
    /// The model manifest does not allow it.
    NotAllowedByManifest,
    /// A flag turned it off.
    DisabledByFlag {
        /// The flag key.
        flag: String,
    },
    /// A guardrail disabled it for this model.
    DisabledByGuardrail,
    /// It failed (or crashed) on this device before.
    FailedBefore {
        /// What was recorded.
        detail: String,
    },
    /// The caller asked for another accelerator.
    NotRequested,
}

/// Inputs to candidate selection.
#[derive(Debug, Clone, Copy)]
pub struct SelectionInput<'a> {
    /// The model key (for guardrail overrides).
    pub model_key: &'a str,
    /// Accelerators the manifest allows (empty: all).
    pub manifest_allowed: &'a [Accelerator],
    /// The policy from flags.
    pub policy: &'a AcceleratorPolicy,
    /// Flag keys (for skip reasons).
    pub keys: &'a PolicyFlagKeys,
    /// Guardrail overrides.
    pub overrides: &'a GuardrailOverrides,
    /// Accelerators recorded as failed on this device, with details.
    pub failed_before: &'a [(Accelerator, String)],
    /// Restrict to one accelerator (CLI `--accelerator`), else `None`.
    pub requested: Option<Accelerator>,
}

/// Orders the accelerators to try and says why each other one is skipped.
/// Device capability is not filtered here: an accelerator the device lacks
/// fails to compile and is reported as a fallback, which is the truth.
pub fn select_candidates(
    input: &SelectionInput<'_>,
) -> (Vec<Accelerator>, Vec<(Accelerator, SkipReason)>) {
    let mut chosen = Vec::new();
    let mut skipped = Vec::new();
    for acc in Accelerator::PREFERENCE {
        let reason = if input.requested.is_some_and(|r| r != acc) {
            Some(SkipReason::NotRequested)
        } else if !input.manifest_allowed.is_empty() && !input.manifest_allowed.contains(&acc) {
            Some(SkipReason::NotAllowedByManifest)
        } else if acc == Accelerator::Gpu && !input.policy.gpu_enabled {
            Some(SkipReason::DisabledByFlag {
                flag: input.keys.litert_gpu_backend.clone(),
            })
        } else if acc == Accelerator::Npu && !input.policy.npu_enabled {
            Some(SkipReason::DisabledByFlag {
                flag: input.keys.litert_npu_backend.clone(),
            })
        } else if input
            .overrides
            .disabled
            .get(input.model_key)
            .is_some_and(|s| s.contains(&acc))
        {
            Some(SkipReason::DisabledByGuardrail)
        } else {
            input
                .failed_before
                .iter()
                .find(|(a, _)| *a == acc)
                .map(|(_, d)| SkipReason::FailedBefore { detail: d.clone() })
        };
        match reason {
            Some(r) => skipped.push((acc, r)),
            None => chosen.push(acc),
        }
    }
    (chosen, skipped)
}

//! Model manifests: the top-level `models` section of a rollout config.
//!
//! ```json
//! "models": {
//!   "face_detector": {
//!     "version": "0.6.0",
//!     "sha256": "…64 hex…",
//!     "size": 229032,
//!     "url": "https://cdn.example/face_detection_short_range.tflite",
//!     "engine": "litert",
//!     "accelerators": ["npu", "gpu", "cpu"],
//!     "inputs":  [{"name": "input", "dtype": "f32", "shape": [1, 128, 128, 3]}],
//!     "outputs": [{"name": "regressors", "dtype": "f32", "shape": [1, 896, 16]}],
//!     "gates": {"latency_p95_ms": 30, "peak_memory_mb": 64},
//!     "shadow": {"version": "0.7.0", "sha256": "…", "size": 1, "sample_rate": 0.05}
//!   }
//! }
//! ```

use super::accel::{Accelerator, EngineKind};
use super::tensor::{DType, TensorSpec};
use serde_json::{Map, Value};

/// Performance gates that must hold for a model before and during rollout.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PerformanceGates {
    /// 95th percentile latency limit, milliseconds.
    pub latency_p95_ms: Option<f64>,
    /// Median latency limit, milliseconds.
    pub latency_p50_ms: Option<f64>,
    /// Peak resident memory growth limit, megabytes.
    pub peak_memory_mb: Option<f64>,
}

/// A candidate version to run in shadow.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowManifest {
    /// Candidate version.
    pub version: String,
    /// Its SHA-256 (lower-case hex).
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// Optional download URL.
    pub url: Option<String>,
    /// Fraction of calls mirrored, 0..=1.
    pub sample_rate: f64,
}

/// One model's manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelManifest {
    /// Key under `models`.
    pub key: String,
    /// Version string.
    pub version: String,
    /// SHA-256 of the file, lower-case hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Where to download it, if the app does not bundle it.
    pub url: Option<String>,
    /// Preferred engine (default LiteRT).
    pub engine: EngineKind,
    /// Accelerators allowed, in no particular order (empty: all).
    pub accelerators: Vec<Accelerator>,
    /// Declared inputs (empty: take the model's own).
    pub inputs: Vec<TensorSpec>,
    /// Declared outputs (empty: take the model's own).
    pub outputs: Vec<TensorSpec>,
    /// Performance gates.
    pub gates: PerformanceGates,
    /// Shadow candidate.
    pub shadow: Option<ShadowManifest>,
}

impl ModelManifest {
    /// A manifest for bytes you hold (no declared tensors, all
    /// accelerators), with the hash and size computed.
    pub fn for_bytes(key: &str, version: &str, bytes: &[u8]) -> ModelManifest {
        ModelManifest {
            key: key.into(),
            version: version.into(),
            sha256: super::integrity::sha256_hex(bytes),
            size: bytes.len() as u64,
            url: None,
            engine: EngineKind::LiteRt,
            accelerators: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            gates: PerformanceGates::default(),
            shadow: None,
        }
    }
}

/// A problem in the `models` section, with the JSON path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ManifestError {
    /// JSON path, e.g. `models.face.inputs[0].dtype`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn err(path: &str, message: impl Into<String>) -> ManifestError {
    ManifestError {
        path: path.into(),
        message: message.into(),
    }
}

/// Parses the `models` section (an object keyed by model key). Returns
/// every problem found, each with its path.
///
/// # Errors
/// The list of [`ManifestError`]s when anything is invalid.
pub fn parse_models(section: &Value) -> Result<Vec<ModelManifest>, Vec<ManifestError>> {
    let Some(obj) = section.as_object() else {
        return Err(vec![err("models", "must be an object keyed by model key")]);
    };
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (key, value) in obj {
        let path = format!("models.{key}");
        match parse_one(key, value, &path, &mut errors) {
            Some(m) => out.push(m),
            None => continue,
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn parse_one(
    key: &str,
    v: &Value,
    path: &str,
    errors: &mut Vec<ManifestError>,
) -> Option<ModelManifest> {
    let before = errors.len();
    let Some(obj) = v.as_object() else {
        errors.push(err(path, "must be an object"));
        return None;
    };
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    {
        errors.push(err(path, "model key must be non-empty [A-Za-z0-9_.-]"));
    }
    // Unknown fields are ignored, as everywhere in the config: a newer
    // writer may add fields that this SDK does not know yet.
    let version = req_str(obj, "version", path, errors);
    let sha256 = req_sha(obj, path, errors);
    let size = req_size(obj, path, errors);
    let url = opt_url(obj, path, errors);
    let engine = match obj.get("engine") {
        None => EngineKind::LiteRt,
        Some(Value::String(s)) => EngineKind::parse(s).unwrap_or_else(|| {
            errors.push(err(
                &format!("{path}.engine"),
                format!("unknown engine `{s}` (litert, tflite)"),
            ));
            EngineKind::LiteRt
        }),
        Some(_) => {
            errors.push(err(&format!("{path}.engine"), "must be a string"));
            EngineKind::LiteRt
        }
    };
    let mut accelerators = Vec::new();
    match obj.get("accelerators") {
        None => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                match item.as_str().and_then(Accelerator::parse) {
                    Some(a) if !accelerators.contains(&a) => accelerators.push(a),
                    Some(_) => errors.push(err(&format!("{path}.accelerators[{i}]"), "duplicate")),
                    None => errors.push(err(
                        &format!("{path}.accelerators[{i}]"),
                        "must be \"npu\", \"gpu\" or \"cpu\"",
                    )),
                }
            }
            if items.is_empty() {
                errors.push(err(&format!("{path}.accelerators"), "must not be empty"));
            }
        }
        Some(_) => errors.push(err(&format!("{path}.accelerators"), "must be an array")),
    }
    let inputs = tensors(obj.get("inputs"), &format!("{path}.inputs"), errors);
    let outputs = tensors(obj.get("outputs"), &format!("{path}.outputs"), errors);
    let gates = gates(obj.get("gates"), &format!("{path}.gates"), errors);
    let shadow = match obj.get("shadow") {
        None => None,
        Some(Value::Object(s)) => {
            let sp = format!("{path}.shadow");
            let version = req_str(s, "version", &sp, errors);
            let sha256 = req_sha(s, &sp, errors);
            let size = req_size(s, &sp, errors);
            let url = opt_url(s, &sp, errors);
            let sample_rate = match s.get("sample_rate").and_then(Value::as_f64) {
                Some(r) if (0.0..=1.0).contains(&r) => r,
                _ => {
                    errors.push(err(
                        &format!("{sp}.sample_rate"),
                        "must be a number in 0..=1",
                    ));
                    0.0
                }
            };
            Some(ShadowManifest {
                version,
                sha256,
                size,
                url,
                sample_rate,
            })
        }
        Some(_) => {
            errors.push(err(&format!("{path}.shadow"), "must be an object"));
            None
        }
    };
    (errors.len() == before).then(|| ModelManifest {
        key: key.into(),
        version,
        sha256,
        size,
        url,
        engine,
        accelerators,
        inputs,
        outputs,
        gates,
        shadow,
    })
}

fn req_str(
    obj: &Map<String, Value>,
    field: &str,
    path: &str,
    errors: &mut Vec<ManifestError>,
) -> String {
    match obj.get(field) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            errors.push(err(&format!("{path}.{field}"), "required non-empty string"));
            String::new()
        }
    }
}

fn req_sha(obj: &Map<String, Value>, path: &str, errors: &mut Vec<ManifestError>) -> String {
    match obj.get("sha256").and_then(Value::as_str) {
        Some(s) if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) => {
            s.to_ascii_lowercase()
        }
        _ => {
            errors.push(err(&format!("{path}.sha256"), "required: 64 hex digits"));
            String::new()
        }
    }
}

fn req_size(obj: &Map<String, Value>, path: &str, errors: &mut Vec<ManifestError>) -> u64 {
    match obj.get("size").and_then(Value::as_u64) {
        Some(n) if n > 0 => n,
        _ => {
            errors.push(err(
                &format!("{path}.size"),
                "required positive integer (bytes)",
            ));
            0
        }
    }
}

fn opt_url(
    obj: &Map<String, Value>,
    path: &str,
    errors: &mut Vec<ManifestError>,
) -> Option<String> {
    match obj.get("url") {
        None => None,
        Some(Value::String(s)) if s.starts_with("https://") || s.starts_with("http://") => {
            Some(s.clone())
        }
        Some(_) => {
            errors.push(err(&format!("{path}.url"), "must be an http(s) URL"));
            None
        }
    }
}

fn tensors(v: Option<&Value>, path: &str, errors: &mut Vec<ManifestError>) -> Vec<TensorSpec> {
    let Some(v) = v else { return Vec::new() };
    let Some(items) = v.as_array() else {
        errors.push(err(path, "must be an array"));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let name = item.get("name").and_then(Value::as_str);
        let dtype = item
            .get("dtype")
            .and_then(Value::as_str)
            .and_then(DType::parse);
        let shape: Option<Vec<i64>> = item
            .get("shape")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(|d| d.as_i64().filter(|&d| d >= -1)).collect());
        if name.is_none() {
            errors.push(err(&format!("{p}.name"), "required string"));
        }
        if dtype.is_none() {
            errors.push(err(
                &format!("{p}.dtype"),
                "required: f32, f16, i8, u8, i16, i32, i64 or bool",
            ));
        }
        if shape.is_none() {
            errors.push(err(
                &format!("{p}.shape"),
                "required array of integers >= -1",
            ));
        }
        if let (Some(name), Some(dtype), Some(shape)) = (name, dtype, shape) {
            out.push(TensorSpec {
                name: name.into(),
                dtype,
                shape,
            });
        }
    }
    out
}

fn gates(v: Option<&Value>, path: &str, errors: &mut Vec<ManifestError>) -> PerformanceGates {
    let mut g = PerformanceGates::default();
    let Some(v) = v else { return g };
    let Some(obj) = v.as_object() else {
        errors.push(err(path, "must be an object"));
        return g;
    };
    for (k, val) in obj {
        let n = val.as_f64().filter(|n| *n > 0.0);
        let slot = match k.as_str() {
            "latency_p95_ms" => &mut g.latency_p95_ms,
            "latency_p50_ms" => &mut g.latency_p50_ms,
            "peak_memory_mb" => &mut g.peak_memory_mb,
            _ => {
                errors.push(err(
                    &format!("{path}.{k}"),
                    "unknown gate (latency_p95_ms, latency_p50_ms, peak_memory_mb)",
                ));
                continue;
            }
        };
        match n {
            Some(n) => *slot = Some(n),
            None => errors.push(err(&format!("{path}.{k}"), "must be a positive number")),
        }
    }
    g
}

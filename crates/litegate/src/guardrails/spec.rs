//! The `guardrails` section of the rollout config: parsing into
//! [`GuardrailSpec`]s with every problem reported at its path.

use crate::config::{Problem, ProblemKind};
use serde_json::{Map, Value};
use std::sync::Arc;

/// At most this many guardrails per document.
pub const MAX_GUARDRAILS: usize = 500;
/// At most this many events in a `{"last": N}` window.
pub const MAX_LAST_N: u32 = 10_000;

/// What a guardrail watches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A flag: observations recorded under the flag's key.
    Flag(Arc<str>),
    /// A model, on every accelerator (each accelerator judged on its own) or
    /// on one.
    Model {
        /// The model key.
        model: Arc<str>,
        /// Only this accelerator (`cpu`, `gpu`, `npu`, ...); `None`: each.
        accelerator: Option<Arc<str>>,
    },
}

/// The measured quantity a guardrail compares with its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Failed runs / runs, in percent.
    ErrorRate,
    /// Failed runs and failed loads / (runs + loads), in percent.
    InferenceFailureRate,
    /// Runs that fell back / runs, in percent.
    FallbackRate,
    /// Crashed sessions (flags) or crashed runs (models) / all, in percent.
    CrashRate,
    /// Median run latency, ms.
    LatencyP50,
    /// 95th percentile run latency, ms.
    LatencyP95,
    /// 99th percentile run latency, ms.
    LatencyP99,
    /// Slowest run latency, ms.
    LatencyMax,
    /// Slowest model load, ms.
    LoadTimeMax,
    /// Peak memory, MB.
    MemoryMaxMb,
}

impl Metric {
    /// The name used in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::ErrorRate => "error_rate",
            Metric::InferenceFailureRate => "inference_failure_rate",
            Metric::FallbackRate => "fallback_rate",
            Metric::CrashRate => "crash_rate",
            Metric::LatencyP50 => "latency_p50",
            Metric::LatencyP95 => "latency_p95",
            Metric::LatencyP99 => "latency_p99",
            Metric::LatencyMax => "latency_max",
            Metric::LoadTimeMax => "load_time_max",
            Metric::MemoryMaxMb => "memory_max_mb",
        }
    }

    const ALL: [Metric; 10] = [
        Metric::ErrorRate,
        Metric::InferenceFailureRate,
        Metric::FallbackRate,
        Metric::CrashRate,
        Metric::LatencyP50,
        Metric::LatencyP95,
        Metric::LatencyP99,
        Metric::LatencyMax,
        Metric::LoadTimeMax,
        Metric::MemoryMaxMb,
    ];

    /// True for the rates (counts of failing samples), false for values.
    pub fn is_rate(self) -> bool {
        matches!(
            self,
            Metric::ErrorRate
                | Metric::InferenceFailureRate
                | Metric::FallbackRate
                | Metric::CrashRate
        )
    }

    /// The quantile a value metric reads (1.0 for the maxima).
    pub(crate) fn quantile(self) -> f64 {
        match self {
            Metric::LatencyP50 => 0.5,
            Metric::LatencyP95 => 0.95,
            Metric::LatencyP99 => 0.99,
            _ => 1.0,
        }
    }
}

/// A comparison between the measured figure and the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Comparison {
    /// `>`
    #[serde(rename = ">")]
    Above,
    /// `>=`
    #[serde(rename = ">=")]
    AtLeast,
    /// `<`
    #[serde(rename = "<")]
    Below,
    /// `<=`
    #[serde(rename = "<=")]
    AtMost,
}

impl Comparison {
    /// Whether `value OP threshold` holds.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Above => value > threshold,
            Comparison::AtLeast => value >= threshold,
            Comparison::Below => value < threshold,
            Comparison::AtMost => value <= threshold,
        }
    }

    /// The operator as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::Above => ">",
            Comparison::AtLeast => ">=",
            Comparison::Below => "<",
            Comparison::AtMost => "<=",
        }
    }
}

/// Over which observations the metric is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last `n` samples.
    Last(u32),
    /// Samples of the last `ms` milliseconds.
    Duration(i64),
}

/// What a trip leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Report an event only.
    Warning,
    /// Report and take the action.
    Critical,
}

/// What a critical trip does on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Serve the flag's off variation (reason `guardrail`).
    DisableFlag,
    /// Stop using the accelerator that tripped for this model.
    DisableAccelerator,
    /// Make the app take its own fallback path for this model.
    ForceFallback,
    /// Nothing beyond the event.
    None,
}

/// One guardrail, as declared.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardrailSpec {
    /// Its id (the key in the `guardrails` object).
    pub id: Arc<str>,
    /// What it watches.
    pub target: Target,
    /// What it measures.
    pub metric: Metric,
    /// How it compares.
    pub comparison: Comparison,
    /// Rates in percent, latencies in ms, memory in MB.
    pub threshold: f64,
    /// Over which samples.
    pub window: Window,
    /// Below this many samples in the window, nothing is judged.
    pub min_samples: u32,
    /// Warning or critical.
    pub severity: Severity,
    /// What a critical trip does.
    pub action: Action,
    /// A trip lifts on its own this long after it happened; `None`: never.
    pub expires_after_ms: Option<i64>,
}

/// Why the `guardrails` section was refused: every problem, with its path.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid guardrails section: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct GuardrailSpecError {
    /// The problems, each at a path such as `guardrails.g1.window.last`.
    pub problems: Vec<Problem>,
}

/// Parses a duration such as `90s`, `5m`, `24h`, `7d` or `250ms` into ms.
pub fn parse_duration_ms(s: &str) -> Option<i64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: i64 = num.parse().ok()?;
    let mult = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(mult)
}

struct Walk {
    problems: Vec<Problem>,
}

impl Walk {
    fn bad(&mut self, path: String, kind: ProblemKind) {
        self.problems.push(Problem { path, kind });
    }
    fn invalid(&mut self, path: String, msg: impl Into<String>) {
        self.bad(path, ProblemKind::Invalid(msg.into()));
    }
    fn str<'v>(&mut self, m: &'v Map<String, Value>, key: &str, path: &str) -> Option<&'v str> {
        match m.get(key) {
            None => {
                self.bad(format!("{path}.{key}"), ProblemKind::Missing);
                None
            }
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                self.bad(
                    format!("{path}.{key}"),
                    ProblemKind::WrongType {
                        expected: "a string",
                    },
                );
                None
            }
        }
    }
}

/// Parses the `guardrails` section (an object of id → guardrail).
///
/// `None` (no section) gives no guardrails.
///
/// # Errors
/// [`GuardrailSpecError`] listing every problem found.
pub fn parse_guardrails(section: Option<&Value>) -> Result<Vec<GuardrailSpec>, GuardrailSpecError> {
    let mut w = Walk {
        problems: Vec::new(),
    };
    let Some(section) = section else {
        return Ok(Vec::new());
    };
    let Some(map) = section.as_object() else {
        w.bad(
            "guardrails".into(),
            ProblemKind::WrongType {
                expected: "an object",
            },
        );
        return Err(GuardrailSpecError {
            problems: w.problems,
        });
    };
    if map.len() > MAX_GUARDRAILS {
        w.bad(
            "guardrails".into(),
            ProblemKind::LimitExceeded {
                what: "guardrails",
                limit: MAX_GUARDRAILS,
                found: map.len(),
            },
        );
    }
    let mut out = Vec::with_capacity(map.len());
    for (id, v) in map {
        if let Some(spec) = parse_one(&mut w, id, v) {
            out.push(spec);
        }
    }
    if w.problems.is_empty() {
        Ok(out)
    } else {
        Err(GuardrailSpecError {
            problems: w.problems,
        })
    }
}

fn parse_one(w: &mut Walk, id: &str, v: &Value) -> Option<GuardrailSpec> {
    let path = format!("guardrails.{id}");
    let Some(m) = v.as_object() else {
        w.bad(
            path,
            ProblemKind::WrongType {
                expected: "an object",
            },
        );
        return None;
    };
    let before = w.problems.len();
    let target = parse_target(w, m, &path);
    let metric = w.str(m, "metric", &path).and_then(|s| {
        let found = Metric::ALL.iter().copied().find(|x| x.as_str() == s);
        if found.is_none() {
            w.invalid(
                format!("{path}.metric"),
                format!(
                    "unknown metric `{s}` (expected one of {})",
                    Metric::ALL.map(Metric::as_str).join(", ")
                ),
            );
        }
        found
    });
    let comparison = match m.get("op") {
        None => Some(Comparison::Above),
        Some(v) => match v.as_str() {
            Some(">") => Some(Comparison::Above),
            Some(">=") => Some(Comparison::AtLeast),
            Some("<") => Some(Comparison::Below),
            Some("<=") => Some(Comparison::AtMost),
            _ => {
                w.invalid(format!("{path}.op"), "expected one of >, >=, <, <=");
                None
            }
        },
    };
    let threshold = match m.get("threshold") {
        None => {
            w.bad(format!("{path}.threshold"), ProblemKind::Missing);
            None
        }
        Some(v) => match v.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 => {
                if metric.is_some_and(Metric::is_rate) && x > 100.0 {
                    w.invalid(
                        format!("{path}.threshold"),
                        "a rate threshold is a percentage (0 to 100)",
                    );
                }
                Some(x)
            }
            _ => {
                w.bad(
                    format!("{path}.threshold"),
                    ProblemKind::InvalidNumber(v.to_string()),
                );
                None
            }
        },
    };
    let window = parse_window(w, m.get("window"), &format!("{path}.window"));
    let min_samples = match m.get("min_samples") {
        None => Some(1),
        Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if n >= 1 => Some(n),
            _ => {
                w.invalid(
                    format!("{path}.min_samples"),
                    "expected an integer of at least 1",
                );
                None
            }
        },
    };
    if let (Some(Window::Last(n)), Some(min)) = (window, min_samples) {
        if min > n {
            w.invalid(
                format!("{path}.min_samples"),
                format!("{min} can never be reached in a window of the last {n}"),
            );
        }
    }
    let severity = match m.get("severity").map(Value::as_str) {
        None => Some(Severity::Critical),
        Some(Some("critical")) => Some(Severity::Critical),
        Some(Some("warning")) => Some(Severity::Warning),
        Some(_) => {
            w.invalid(
                format!("{path}.severity"),
                "expected `warning` or `critical`",
            );
            None
        }
    };
    let action = parse_action(w, m, &path, target.as_ref(), severity);
    let expires_after_ms = match m.get("expires_after") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let d = v.as_str().and_then(parse_duration_ms).filter(|d| *d > 0);
            if d.is_none() {
                w.invalid(
                    format!("{path}.expires_after"),
                    "expected a duration such as `30m`, `24h` or `7d`",
                );
            }
            d
        }
    };
    if w.problems.len() > before {
        return None;
    }
    Some(GuardrailSpec {
        id: Arc::from(id),
        target: target?,
        metric: metric?,
        comparison: comparison?,
        threshold: threshold?,
        window: window?,
        min_samples: min_samples?,
        severity: severity?,
        action: action?,
        expires_after_ms,
    })
}

fn parse_target(w: &mut Walk, m: &Map<String, Value>, path: &str) -> Option<Target> {
    let tp = format!("{path}.target");
    let Some(t) = m.get("target") else {
        w.bad(tp, ProblemKind::Missing);
        return None;
    };
    let Some(t) = t.as_object() else {
        w.bad(
            tp,
            ProblemKind::WrongType {
                expected: "an object with `flag` or `model`",
            },
        );
        return None;
    };
    match (t.get("flag"), t.get("model")) {
        (Some(_), None) => w.str(t, "flag", &tp).map(|f| Target::Flag(Arc::from(f))),
        (None, Some(_)) => {
            let model = w.str(t, "model", &tp)?;
            let accelerator = match t.get("accelerator") {
                None | Some(Value::Null) => None,
                Some(_) => Some(Arc::from(w.str(t, "accelerator", &tp)?)),
            };
            Some(Target::Model {
                model: Arc::from(model),
                accelerator,
            })
        }
        _ => {
            w.invalid(tp, "exactly one of `flag` or `model` is required");
            None
        }
    }
}

fn parse_window(w: &mut Walk, v: Option<&Value>, path: &str) -> Option<Window> {
    let Some(v) = v else {
        w.bad(path.to_owned(), ProblemKind::Missing);
        return None;
    };
    let m = v.as_object();
    match m.map(|m| (m.get("last"), m.get("duration"))) {
        Some((Some(n), None)) => match n.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if (1..=MAX_LAST_N).contains(&n) => Some(Window::Last(n)),
            _ => {
                w.invalid(
                    format!("{path}.last"),
                    format!("expected an integer from 1 to {MAX_LAST_N}"),
                );
                None
            }
        },
        Some((None, Some(d))) => match d.as_str().and_then(parse_duration_ms) {
            Some(ms) if ms >= 1_000 => Some(Window::Duration(ms)),
            _ => {
                w.invalid(
                    format!("{path}.duration"),
                    "expected a duration of at least 1s, such as `5m` or `1h`",
                );
                None
            }
        },
        _ => {
            w.invalid(
                path.to_owned(),
                "expected {\"last\": N} or {\"duration\": \"5m\"}",
            );
            None
        }
    }
}

fn parse_action(
    w: &mut Walk,
    m: &Map<String, Value>,
    path: &str,
    target: Option<&Target>,
    severity: Option<Severity>,
) -> Option<Action> {
    let ap = format!("{path}.action");
    let default = match (target, severity) {
        (_, Some(Severity::Warning)) => Action::None,
        (Some(Target::Flag(_)), _) => Action::DisableFlag,
        (Some(Target::Model { .. }), _) => Action::DisableAccelerator,
        _ => Action::None,
    };
    let action = match m.get("action").map(Value::as_str) {
        None => default,
        Some(Some("disable_flag")) => Action::DisableFlag,
        Some(Some("disable_accelerator")) => Action::DisableAccelerator,
        Some(Some("force_fallback")) => Action::ForceFallback,
        Some(Some("none")) => Action::None,
        Some(_) => {
            w.invalid(
                ap,
                "expected disable_flag, disable_accelerator, force_fallback or none",
            );
            return None;
        }
    };
    match (target?, action) {
        (Target::Flag(_), Action::DisableAccelerator | Action::ForceFallback) => {
            w.invalid(ap, "a flag guardrail can only `disable_flag` or `none`");
            None
        }
        (Target::Model { .. }, Action::DisableFlag) => {
            w.invalid(
                ap,
                "a model guardrail can `disable_accelerator`, `force_fallback` or `none`",
            );
            None
        }
        _ => Some(action),
    }
}

//! `litegate infer` and `litegate bench-model`: run a model on the device's
//! runtimes and print what ran, where, and how fast.

use anyhow::{bail, Context, Result};
use clap::Args;
use litegate::inference::runtime::RuntimeLocator;
use litegate::inference::{
    Accelerator, EngineConfig, EngineKind, InferenceEngine, LoadOptions, ModelManifest,
    ModelRunner, RunOutcome, Tensor, TensorSpec,
};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Runtime library overrides shared by both commands.
#[derive(Args, Debug, Clone)]
pub struct RuntimeArgs {
    /// Path to libLiteRt (default: $LITEGATE_LITERT_LIB, then the setup cache).
    #[arg(long, value_name = "PATH")]
    litert_lib: Option<PathBuf>,
    /// Path to libtensorflowlite_c (default: $LITEGATE_TFLITE_LIB, then the setup cache).
    #[arg(long, value_name = "PATH")]
    tflite_lib: Option<PathBuf>,
}

impl RuntimeArgs {
    fn engine(&self) -> InferenceEngine {
        let locator =
            |p: &Option<PathBuf>| p.clone().map(RuntimeLocator::explicit).unwrap_or_default();
        InferenceEngine::new(EngineConfig {
            litert_library: locator(&self.litert_lib),
            tflite_library: locator(&self.tflite_lib),
            pool_size: 1,
            ..EngineConfig::default()
        })
    }
}

/// `litegate infer`.
#[derive(Args, Debug)]
pub struct InferArgs {
    /// The .tflite model.
    #[arg(long)]
    model: PathBuf,
    /// Engine: litert or tflite.
    #[arg(long, default_value = "litert")]
    engine: String,
    /// Accelerator: auto (NPU, GPU, then CPU), cpu, gpu or npu.
    #[arg(long, default_value = "auto")]
    accelerator: String,
    /// JSON object mapping input names to flat arrays of numbers.
    #[arg(long, conflicts_with = "random_input")]
    input: Option<PathBuf>,
    /// Fill inputs deterministically from this seed.
    #[arg(long)]
    random_input: Option<u64>,
    /// Number of runs (timings use all of them).
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Print every output value (by default each output is summarised by
    /// its element count, minimum, maximum and sum).
    #[arg(long)]
    values: bool,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

/// `litegate bench-model`.
#[derive(Args, Debug)]
pub struct BenchModelArgs {
    /// The .tflite model.
    #[arg(long)]
    model: PathBuf,
    /// Engine: litert or tflite.
    #[arg(long, default_value = "litert")]
    engine: String,
    /// Runs per accelerator after the first.
    #[arg(long, default_value_t = 50)]
    runs: usize,
    /// Gates, e.g. `latency_p95_ms=30,latency_p50_ms=10,peak_memory_mb=200`.
    #[arg(long)]
    gate: Option<String>,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

fn parse_engine(s: &str) -> Result<EngineKind> {
    EngineKind::parse(s).with_context(|| format!("unknown engine `{s}` (litert, tflite)"))
}

fn parse_accelerator(s: &str) -> Result<Option<Accelerator>> {
    if s == "auto" {
        return Ok(None);
    }
    Accelerator::parse(s)
        .map(Some)
        .with_context(|| format!("unknown accelerator `{s}` (auto, cpu, gpu, npu)"))
}

/// SplitMix64: a tiny deterministic generator for `--random-input`.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn random_inputs(specs: &[TensorSpec], seed: u64) -> Result<Vec<Tensor>> {
    let mut state = seed;
    specs
        .iter()
        .map(|spec| {
            let n = spec
                .element_count()
                .with_context(|| format!("input `{}` has a dynamic shape", spec.name))?;
            let values: Vec<f64> = (0..n)
                .map(|_| {
                    let unit = (splitmix(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
                    match spec.dtype {
                        litegate::inference::DType::F32 | litegate::inference::DType::F16 => {
                            unit * 2.0 - 1.0
                        }
                        litegate::inference::DType::Bool => (unit * 2.0).floor(),
                        litegate::inference::DType::U8 => (unit * 256.0).floor(),
                        _ => (unit * 256.0).floor() - 128.0,
                    }
                })
                .collect();
            Ok(Tensor::from_numbers(spec, &values)?)
        })
        .collect()
}

fn file_inputs(specs: &[TensorSpec], path: &PathBuf) -> Result<Vec<Tensor>> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let json: Value =
        serde_json::from_slice(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let obj = json
        .as_object()
        .context("--input must hold a JSON object of name -> array")?;
    for name in obj.keys() {
        if !specs.iter().any(|s| &s.name == name) {
            bail!(
                "--input names `{name}`, but the model's inputs are {:?}",
                specs.iter().map(|s| &s.name).collect::<Vec<_>>()
            );
        }
    }
    specs
        .iter()
        .map(|spec| {
            let arr = obj
                .get(&spec.name)
                .and_then(Value::as_array)
                .with_context(|| format!("--input lacks `{}`", spec.name))?;
            let values: Vec<f64> = arr
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_f64()
                        .with_context(|| format!("`{}`[{i}] is not a number", spec.name))
                })
                .collect::<Result<_>>()?;
            Ok(Tensor::from_numbers(spec, &values)?)
        })
        .collect()
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn load(
    engine: &InferenceEngine,
    model: &PathBuf,
    kind: EngineKind,
    acc: Option<Accelerator>,
) -> Result<(ModelRunner, Duration)> {
    let bytes = std::fs::read(model).with_context(|| format!("cannot read {}", model.display()))?;
    let key = model
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("model")
        .to_owned();
    let manifest = ModelManifest::for_bytes(&key, "local", &bytes);
    let started = Instant::now();
    let runner = engine.load_with(
        &manifest,
        &bytes,
        &LoadOptions {
            engine: Some(kind),
            accelerator: acc,
        },
    )?;
    Ok((runner, started.elapsed()))
}

/// Runs `litegate infer`.
///
/// # Errors
/// Unreadable files or a model/input mismatch; an unavailable runtime is
/// printed as JSON and exits 3.
pub fn infer(args: &InferArgs) -> Result<ExitCode> {
    let kind = parse_engine(&args.engine)?;
    let acc = parse_accelerator(&args.accelerator)?;
    let engine = args.runtime.engine();
    let (runner, _) = load(&engine, &args.model, kind, acc)?;
    let timings = runner.load_timings();
    let fallbacks = |r: &ModelRunner| {
        r.fallbacks()
            .iter()
            .map(|f| json!({"accelerator": f.accelerator.as_str(), "stage": f.stage, "error": f.error}))
            .collect::<Vec<_>>()
    };
    let inputs = if let Some(path) = &args.input {
        file_inputs(runner.inputs(), path)?
    } else {
        random_inputs(runner.inputs(), args.random_input.unwrap_or(0))?
    };
    let mut latencies = Vec::new();
    let mut last = None;
    for _ in 0..args.runs.max(1) {
        let started = Instant::now();
        match runner.run(&inputs)? {
            RunOutcome::Completed(report) => {
                latencies.push(started.elapsed());
                last = Some(report);
            }
            RunOutcome::Unavailable(u) => {
                let out = json!({
                    "engine": kind.as_str(),
                    "runtime_version": runner.runtime_version(),
                    "accelerator": Value::Null,
                    "unavailable": u.reasons,
                    "cloud_fallback_allowed": u.cloud_fallback_allowed,
                    "fallbacks": fallbacks(&runner),
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
                return Ok(ExitCode::from(3));
            }
        }
    }
    let Some(report) = last else {
        bail!("no run completed")
    };
    let first = latencies[0];
    let mut sorted = latencies.clone();
    sorted.sort();
    let outputs: Vec<Value> = report
        .outputs
        .iter()
        .map(|o| {
            let values = o.to_f64();
            let mut summary = json!({"name": o.name, "shape": o.shape, "dtype": o.dtype.as_str()});
            summary["summary"] = summarise(&values);
            if args.values {
                summary["values"] = json!(values);
            }
            summary
        })
        .collect();
    // The summary a person reads first; output values (often tens of
    // thousands of numbers) last and only when asked for.
    let out = json!({
        "engine": report.engine.as_str(),
        "runtime_version": report.runtime_version,
        "accelerator": report.accelerator.as_str(),
        "fallbacks": fallbacks(&runner),
        "timings_ms": {
            "load": ms(timings.verify + timings.runtime),
            "compile": ms(timings.compile),
            "first_run": ms(first),
            "median_run": ms(percentile(&sorted, 0.5)),
        },
        "outputs": outputs,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}

/// Element count, minimum, maximum and sum of an output's values.
fn summarise(values: &[f64]) -> Value {
    let (min, max) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    if values.is_empty() {
        return json!({"count": 0});
    }
    json!({"count": values.len(), "min": min, "max": max, "sum": values.iter().sum::<f64>()})
}

/// Peak resident set size of this process, megabytes (Linux; `None`
/// elsewhere).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn parse_gates(spec: &str) -> Result<Vec<(String, f64)>> {
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|part| {
            let (k, v) = part.split_once('=').with_context(|| format!("gate `{part}` is not name=value"))?;
            let k = k.trim();
            if !matches!(k, "latency_p95_ms" | "latency_p50_ms" | "first_run_ms" | "compile_ms" | "peak_memory_mb") {
                bail!("unknown gate `{k}` (latency_p95_ms, latency_p50_ms, first_run_ms, compile_ms, peak_memory_mb)");
            }
            let v: f64 = v.trim().parse().with_context(|| format!("gate `{k}`: `{v}` is not a number"))?;
            Ok((k.to_owned(), v))
        })
        .collect()
}

/// Runs `litegate bench-model`: every accelerator on its own, a table, and
/// exit 1 when a gate fails on the accelerator auto-selection would use.
///
/// # Errors
/// Unreadable model, bad gate syntax.
pub fn bench_model(args: &BenchModelArgs) -> Result<ExitCode> {
    let kind = parse_engine(&args.engine)?;
    let gates = args
        .gate
        .as_deref()
        .map(parse_gates)
        .transpose()?
        .unwrap_or_default();
    let engine = args.runtime.engine();
    println!(
        "{:<5} {:>9} {:>10} {:>10} {:>9} {:>9} {:>9}  status",
        "accel", "load_ms", "compile_ms", "first_ms", "p50_ms", "p95_ms", "peak_mb"
    );
    let mut best: Option<(Accelerator, Vec<(String, f64)>)> = None;
    for acc in Accelerator::PREFERENCE {
        let (runner, load_time) = load(&engine, &args.model, kind, Some(acc))?;
        let t = runner.load_timings();
        let inputs = random_inputs(runner.inputs(), 1)?;
        let mut lat = Vec::new();
        let mut status = "ok".to_owned();
        for _ in 0..args.runs.max(1) + 1 {
            let started = Instant::now();
            match runner.run(&inputs)? {
                RunOutcome::Completed(_) => lat.push(started.elapsed()),
                RunOutcome::Unavailable(u) => {
                    status = format!(
                        "unavailable: {}",
                        u.reasons.first().cloned().unwrap_or_default()
                    );
                    break;
                }
            }
        }
        if lat.is_empty() {
            println!(
                "{:<5} {:>9} {:>10} {:>10} {:>9} {:>9} {:>9}  {}",
                acc.as_str(),
                "-",
                "-",
                "-",
                "-",
                "-",
                "-",
                status.chars().take(90).collect::<String>()
            );
            continue;
        }
        let first = lat[0];
        let mut rest: Vec<Duration> = lat[1..].to_vec();
        rest.sort();
        let (p50, p95) = (percentile(&rest, 0.5), percentile(&rest, 0.95));
        let peak = peak_rss_mb().unwrap_or(f64::NAN);
        let _ = load_time;
        println!(
            "{:<5} {:>9.3} {:>10.3} {:>10.3} {:>9.3} {:>9.3} {:>9.1}  {}",
            acc.as_str(),
            ms(t.verify + t.runtime),
            ms(t.compile),
            ms(first),
            ms(p50),
            ms(p95),
            peak,
            status
        );
        if best.is_none() {
            let measured = vec![
                ("latency_p95_ms".to_owned(), ms(p95)),
                ("latency_p50_ms".to_owned(), ms(p50)),
                ("first_run_ms".to_owned(), ms(first)),
                ("compile_ms".to_owned(), ms(t.compile)),
                ("peak_memory_mb".to_owned(), peak),
            ];
            best = Some((acc, measured));
        }
    }
    let Some((acc, measured)) = best else {
        println!("no accelerator ran the model");
        return Ok(ExitCode::from(3));
    };
    let mut failed = false;
    for (name, limit) in &gates {
        let value = measured
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .unwrap_or(f64::NAN);
        let ok = value <= *limit;
        failed |= !ok;
        println!(
            "gate {name} <= {limit} on {acc}: {value:.3} {}",
            if ok { "PASS" } else { "FAIL" }
        );
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

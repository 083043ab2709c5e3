//! `emit-sample-metrics`: records a fixed sample of every metric kind and
//! event, uploads it through the real pipeline, and reports what the
//! collector accepted. The sample is listed in docs/metrics.md.

use anyhow::{bail, Context as _};
use clap::Args;
use litegate::metrics::{names, AttrValue, EventKind, Metrics, MetricsConfig};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `litegate emit-sample-metrics --endpoint URL [--storage DIR] [--header K=V]...`
#[derive(Args)]
pub struct EmitSampleArgs {
    /// OTLP/HTTP base URL, e.g. http://localhost:4318 (`/v1/metrics` and
    /// `/v1/logs` are appended).
    #[arg(long)]
    pub endpoint: String,
    /// Persist through this directory (as the SDK does on a device).
    #[arg(long)]
    pub storage: Option<PathBuf>,
    /// Extra request header, `K=V` (repeatable), e.g. an API key.
    #[arg(long = "header", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    /// `service.name` of the resource.
    #[arg(long, default_value = "litegate-sample")]
    pub app_id: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout_secs: u64,
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("expected K=V, got {s:?}")),
    }
}

/// Records the documented sample into `m`; returns (data points, events).
pub fn record_sample(m: &Metrics) -> (u64, u64) {
    let model = [
        ("model", "sample-model"),
        ("version", "1"),
        ("engine", "litert"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v = model.to_vec();
        v.extend_from_slice(extra);
        v
    };
    m.counter(
        names::INFERENCE_RUNS,
        &with(&[("accelerator", "gpu"), ("outcome", "ok")]),
    )
    .add(10);
    m.counter(
        names::INFERENCE_RUNS,
        &with(&[("accelerator", "cpu"), ("outcome", "error")]),
    )
    .add(1);
    let latency = m.histogram(
        names::INFERENCE_LATENCY_MS,
        &with(&[("accelerator", "gpu")]),
    );
    for v in [3.2, 4.1, 5.0, 7.5, 12.0, 20.0] {
        latency.record(v);
    }
    m.histogram(names::MODEL_LOAD_MS, &with(&[("accelerator", "gpu")]))
        .record(150.0);
    m.histogram(names::MODEL_COMPILE_MS, &with(&[("accelerator", "gpu")]))
        .record(80.0);
    m.counter(
        names::FALLBACKS,
        &[
            ("model", "sample-model"),
            ("from", "gpu"),
            ("to", "cpu"),
            ("reason", "delegate_error"),
        ],
    )
    .inc();
    m.counter(
        names::GUARDRAIL_TRIPS,
        &[
            ("guardrail", "error_rate"),
            ("flag", "sample_flag"),
            ("action", "rollback"),
        ],
    )
    .inc();
    m.counter(names::CONFIG_REJECTIONS, &[("reason", "bad_signature")])
        .inc();
    m.gauge("litegate.sample.gauge", &[]).set(42.0);
    m.exposure("sample_flag", "on", "sample-user");
    m.event(
        EventKind::Fallback,
        &[
            ("model", "sample-model".into()),
            ("from", "gpu".into()),
            ("to", "cpu".into()),
        ],
    );
    m.event(
        EventKind::Rollback,
        &[
            ("flag", "sample_flag".into()),
            ("reason", "guardrail".into()),
        ],
    );
    m.event(
        EventKind::GuardrailTrip,
        &[
            ("guardrail", "error_rate".into()),
            ("value", AttrValue::Double(0.12)),
        ],
    );
    m.event(EventKind::Error, &[("code", AttrValue::Int(42))]);
    // Points: 2 runs + latency + load + compile + fallbacks + trips +
    // rejections + gauge + exposures counter = 10; events: exposure + 4.
    (10, 5)
}

/// Runs the command.
///
/// # Errors
/// Bad arguments or a pipeline that cannot start.
pub fn run(args: &EmitSampleArgs) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let mut config = MetricsConfig::new(&args.app_id).with_endpoint(&args.endpoint);
    config.storage_dir = args.storage.clone();
    config.headers = args.headers.clone();
    config.targeting_key_salt = Some("litegate-sample-salt".into());
    config.retry.base_backoff = Duration::from_millis(200);
    config.retry.max_backoff = Duration::from_secs(2);
    config.retry.retry_after_cap = Duration::from_secs(5);
    config.retry.request_timeout = Duration::from_secs(args.timeout_secs.max(1));
    let m = Metrics::new(config, rt.handle().clone()).context("starting the metrics pipeline")?;
    let (points, events) = record_sample(&m);
    let timeout = Duration::from_secs(args.timeout_secs.max(1));
    let stats = match m.shutdown(timeout) {
        Ok(s) => s,
        Err(e) => bail!("upload did not complete: {e}"),
    };
    let report = serde_json::json!({
        "endpoint": args.endpoint,
        "recorded": { "data_points": points, "events": events },
        "stats": stats,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    let delivered_all = stats.queued_batches == 0
        && stats.lost_items() == 0
        && stats.delivered_points >= points
        && stats.delivered_events >= events;
    if delivered_all {
        eprintln!(
            "ok: collector accepted {} batches ({} points, {} events)",
            stats.delivered_batches, stats.delivered_points, stats.delivered_events
        );
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "FAILED: {} batches still queued, {} items dropped (see stats.dropped)",
            stats.queued_batches,
            stats.lost_items()
        );
        Ok(ExitCode::from(1))
    }
}

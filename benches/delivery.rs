//! Config delivery: start-up from a persisted 1,000-flag document to the
//! first evaluation, and how long evaluations can stall while new documents
//! are applied.
//!
//! Run: `cargo bench -p litegate-benches --bench delivery -- --warm-up-time 1 --measurement-time 3`.
//! The stall figures are printed after the criterion groups (criterion
//! measures means; the target is a maximum).

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use litegate::config::Document;
use litegate::delivery::keys::PrivateKeyFile;
use litegate::delivery::persist;
use litegate::delivery::{envelope, ConfigDelivery, DeliveryConfig};
use litegate::eval::{Context, Evaluator};
use litegate::runtime::BackgroundRuntime;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FLAGS: usize = 1_000;

/// A realistic flag: two targeting rules and a percentage fallthrough.
fn flag(i: usize, on_percent: u32) -> Value {
    json!({"type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
        "rules": [
            {"id": "internal", "clauses": [
                {"attribute": "country", "op": "in", "values": ["US", "CA", "GB", "DE", "FR"]},
                {"attribute": "app_version", "op": "semver_gte", "values": [format!("5.{}.0", i % 10)]}],
             "serve": {"variation": "on"}},
            {"id": "pixels", "clauses": [
                {"attribute": "device_model", "op": "starts_with", "values": ["Pixel", "SM-"]}],
             "serve": {"percentage": {"percent": 50, "variation": "on", "otherwise": "off"}}}],
        "fallthrough": {"percentage": {"percent": on_percent, "variation": "on", "otherwise": "off"}}})
}

/// A minimal flag: a percentage rollout and nothing else.
fn simple_flag(on_percent: u32) -> Value {
    json!({"type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
        "fallthrough": {"percentage": {"percent": on_percent, "variation": "on", "otherwise": "off"}}})
}

/// The document body (JSON) with `FLAGS` rich flags at `version`.
fn document(version: u64) -> Vec<u8> {
    document_of(version, flag)
}

fn document_of(version: u64, make: impl Fn(usize, u32) -> Value) -> Vec<u8> {
    let flags: serde_json::Map<String, Value> = (0..FLAGS)
        .map(|i| (format!("flag-{i:04}"), make(i, (version % 100) as u32)))
        .collect();
    serde_json::to_vec(&json!({"format_version": 1, "environment": "production",
        "version": version, "flags": flags}))
    .unwrap_or_default()
}

fn context() -> Context {
    Context::new("user-42")
        .country("DE")
        .app_version("5.3.1")
        .device_model("Pixel 8")
}

fn start_from_persisted(c: &mut Criterion) {
    let mut g = c.benchmark_group("delivery");
    let docs = [
        ("rich", document(7)),
        ("simple", document_of(7, |_, pct| simple_flag(pct))),
    ];
    for (name, payload) in docs {
        let key = PrivateKeyFile::generate(Some("bench")).expect("key");
        let body = envelope::seal(&payload, &[(key.key_id.clone(), key.key.clone())]);
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = DeliveryConfig::new("production");
        config.storage_dir = Some(dir.path().to_owned());
        config.pinned_keys = vec![key.public().pinned()];
        // The cache file as the SDK writes it when it accepts the envelope.
        {
            let rt = BackgroundRuntime::new().expect("runtime");
            let d = ConfigDelivery::start(config.clone(), rt.handle()).expect("start");
            d.submit(&body, None).expect("the signed document applies");
        }
        let ctx = context();
        eprintln!(
            "{name}: document {} bytes, signed envelope {} bytes, {FLAGS} flags",
            payload.len(),
            body.len()
        );
        g.bench_function(
            format!("start_persisted_1000_{name}_flags_to_first_eval"),
            |b| {
                b.iter_with_large_drop(|| {
                    let rt = BackgroundRuntime::new().expect("runtime");
                    let d = ConfigDelivery::start(config.clone(), rt.handle()).expect("start");
                    let doc = d.current().expect("persisted document");
                    let v = Evaluator::new().bool_details(&doc, "flag-0500", &ctx, false);
                    (black_box(v.value), d, rt)
                });
            },
        );
        // The parts of the above: reading and checking the cache file, the
        // signature check (on a helper thread, alongside the parse), and the
        // config parser itself.
        g.bench_function(format!("cache_read_1000_{name}_flags"), |b| {
            b.iter_with_large_drop(|| persist::load(dir.path()).expect("intact"));
        });
        let signed = envelope::open(&body, None).expect("envelope");
        let keys = envelope::PinnedKeys::new(&config.pinned_keys).expect("keys");
        g.bench_function(format!("signature_check_1000_{name}_flags"), |b| {
            b.iter(|| keys.verify(&signed).expect("valid"));
        });
        g.bench_function(format!("document_parse_1000_{name}_flags"), |b| {
            b.iter_with_large_drop(|| Document::parse(&payload).expect("parses"));
        });
    }
    g.finish();
}

/// This thread's (voluntary context switches, involuntary context switches
/// plus page faults) so far. A voluntary switch means the thread waited for
/// something (a lock, I/O); an involuntary one means the OS preempted it; a
/// page fault means the kernel ran on its behalf.
#[cfg(target_os = "linux")]
fn context_switches() -> (i64, i64) {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_THREAD with a valid pointer to an owned struct.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    if rc == 0 {
        (
            usage.ru_nvcsw,
            usage.ru_nivcsw + usage.ru_minflt + usage.ru_majflt,
        )
    } else {
        (0, 0)
    }
}

#[cfg(not(target_os = "linux"))]
fn context_switches() -> (i64, i64) {
    (0, 0)
}

/// Evaluator threads: each evaluation (store read + evaluate) is timed, and
/// the context switches around it counted, so that a slow evaluation can be
/// told apart: preempted by the OS (involuntary switch), waiting on
/// something (voluntary switch), or slow by itself (neither).
struct Evaluators {
    stop: Arc<AtomicBool>,
    max_ns: Arc<AtomicU64>,
    /// The longest evaluation during which the thread was neither switched
    /// out nor faulted.
    uninterrupted_max_ns: Arc<AtomicU64>,
    /// Evaluations during which the thread waited (voluntary switches).
    waited: Arc<AtomicU64>,
    /// Evaluations over 1 ms.
    over_1ms: Arc<AtomicU64>,
    count: Arc<AtomicU64>,
    threads: Vec<std::thread::JoinHandle<Vec<u64>>>,
}

fn spawn_evaluators(d: &ConfigDelivery, n: usize) -> Evaluators {
    let stop = Arc::new(AtomicBool::new(false));
    let max_ns = Arc::new(AtomicU64::new(0));
    let uninterrupted_max_ns = Arc::new(AtomicU64::new(0));
    let waited = Arc::new(AtomicU64::new(0));
    let over_1ms = Arc::new(AtomicU64::new(0));
    let count = Arc::new(AtomicU64::new(0));
    let threads = (0..n)
        .map(|t| {
            let store = d.store().clone();
            let (stop, max_ns, count) = (stop.clone(), max_ns.clone(), count.clone());
            let (uninterrupted_max_ns, waited, over_1ms) = (
                uninterrupted_max_ns.clone(),
                waited.clone(),
                over_1ms.clone(),
            );
            std::thread::spawn(move || {
                let ctx = context();
                let mut samples = Vec::with_capacity(1 << 20);
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("flag-{:04}", i % FLAGS);
                    let (vol0, invol0) = context_switches();
                    let t0 = Instant::now();
                    let doc = store.current();
                    let v = doc
                        .as_deref()
                        .map(|doc| Evaluator::new().bool_details(doc, &key, &ctx, false).value);
                    let ns = t0.elapsed().as_nanos() as u64;
                    let (vol1, invol1) = context_switches();
                    black_box(v);
                    drop(doc);
                    max_ns.fetch_max(ns, Ordering::Relaxed);
                    if vol1 > vol0 {
                        waited.fetch_add(1, Ordering::Relaxed);
                    }
                    if vol1 == vol0 && invol1 == invol0 {
                        uninterrupted_max_ns.fetch_max(ns, Ordering::Relaxed);
                    }
                    if ns > 1_000_000 {
                        over_1ms.fetch_add(1, Ordering::Relaxed);
                    }
                    count.fetch_add(1, Ordering::Relaxed);
                    if samples.len() < samples.capacity() {
                        samples.push(ns);
                    }
                    i += 7;
                }
                samples
            })
        })
        .collect();
    Evaluators {
        stop,
        max_ns,
        uninterrupted_max_ns,
        waited,
        over_1ms,
        count,
        threads,
    }
}

impl Evaluators {
    fn finish(self, label: &str) {
        self.stop.store(true, Ordering::Relaxed);
        let mut all: Vec<u64> = self
            .threads
            .into_iter()
            .flat_map(|t| t.join().unwrap_or_default())
            .collect();
        all.sort_unstable();
        let pct = |p: f64| {
            all.get(((all.len() as f64 - 1.0) * p) as usize)
                .copied()
                .unwrap_or(0)
        };
        eprintln!(
            "{label}: {} evaluations; p50 {} ns, p99 {} ns, p99.99 {} ns, max {} us; \
             {} over 1 ms; max without a context switch or page fault {} us; evaluations that waited \
             (voluntary context switch): {}",
            self.count.load(Ordering::Relaxed),
            pct(0.5),
            pct(0.99),
            pct(0.9999),
            self.max_ns.load(Ordering::Relaxed) / 1000,
            self.over_1ms.load(Ordering::Relaxed),
            self.uninterrupted_max_ns.load(Ordering::Relaxed) / 1000,
            self.waited.load(Ordering::Relaxed),
        );
    }
}

fn apply_while_evaluating(c: &mut Criterion) {
    let rt = BackgroundRuntime::new().expect("runtime");
    let mut config = DeliveryConfig::new("production");
    config.bootstrap = Some(document(1));
    let d = ConfigDelivery::start(config, rt.handle()).expect("start");

    // Baseline: the same two evaluator threads, no document changes, for the
    // scheduler noise floor of this machine.
    let ev = spawn_evaluators(&d, 2);
    std::thread::sleep(Duration::from_secs(2));
    ev.finish("baseline, no applies, 2 evaluator threads");

    let ev = spawn_evaluators(&d, 2);
    let mut version = 2;
    let applies = Instant::now();
    let mut g = c.benchmark_group("delivery");
    g.sample_size(20);
    g.bench_function("apply_1000_flag_document_while_2_threads_evaluate", |b| {
        b.iter_batched(
            || {
                version += 1;
                document(version)
            },
            |body| d.submit(&body, None).expect("newer document applies"),
            BatchSize::PerIteration,
        );
    });
    g.finish();
    let secs = applies.elapsed().as_secs_f64();
    ev.finish(&format!(
        "during {} applies over {secs:.1} s, 2 evaluator threads",
        version - 2
    ));
}

criterion_group!(benches, start_from_persisted, apply_while_evaluating);
criterion_main!(benches);

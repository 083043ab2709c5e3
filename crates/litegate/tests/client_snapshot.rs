//! Flag snapshots on the `Client`: every flag evaluated for the default
//! context agrees with a direct read; every kind of change (config, context,
//! override, guardrail trip) moves the generation before any listener runs;
//! exposures counted on snapshots reach a real loopback collector exactly
//! once, across `shutdown`; 10,000 flags stay bounded.

#[path = "metrics_collector/mod.rs"]
mod metrics_collector;

use litegate::client::FlagSnapshot;
use litegate::config::FlagValue;
use litegate::eval::{Context, ErrorCode, Reason};
use litegate::metrics::names;
use litegate::{Client, ClientConfig};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn doc(version: u64, kill: bool) -> Vec<u8> {
    let d = json!({
        "format_version": 1, "environment": "production", "version": version,
        "flags": {
            "feature": {"type": "bool", "variations": {"on": true, "off": false},
                "off_variation": "off", "fallthrough": {"variation": "on"},
                "kill_switch": {"active": kill, "reason": "incident"}},
            "tier": {"type": "string", "variations": {"a": "alpha", "b": "beta"},
                "off_variation": "a", "targets": [{"variation": "b", "ids": ["qa"]}],
                "fallthrough": {"variation": "a"}},
            "size": {"type": "int", "variations": {"s": 1, "l": 8}, "off_variation": "s",
                "rules": [{"id": "big-ram", "clauses": [{"attribute": "ram_mb", "op": "gte", "values": [6144]}],
                           "serve": {"variation": "l"}}],
                "fallthrough": {"variation": "s"}},
            "ratio": {"type": "float", "variations": {"lo": 0.25, "hi": 0.75}, "off_variation": "lo",
                "fallthrough": {"percentage": {"percent": 50, "variation": "hi", "otherwise": "lo"}}},
            "layout": {"type": "json", "variations": {"x": {"cols": 2}}, "off_variation": "x",
                "fallthrough": {"variation": "x"}},
            "disabled": {"type": "bool", "enabled": false, "variations": {"on": true, "off": false},
                "off_variation": "off", "fallthrough": {"variation": "on"}}
        },
        "guardrails": {"errors": {"target": {"flag": "feature"}, "metric": "error_rate", "op": ">",
                       "threshold": 5, "window": {"last": 20}, "min_samples": 10}}
    });
    serde_json::to_vec(&d).unwrap()
}

fn start(bootstrap: Vec<u8>, collector: Option<&str>) -> Client {
    let mut c = ClientConfig::new("test-app", "production");
    c.bootstrap = Some(bootstrap);
    c.default_context = Context::new("user-1");
    c.metrics_endpoint = collector.map(str::to_owned);
    Client::start(c).unwrap()
}

fn value_of(s: &FlagSnapshot, key: &str) -> Option<FlagValue> {
    let i = s.index_of(key)?;
    s.flags()[i].details.value.clone()
}

#[test]
fn snapshot_agrees_with_direct_reads_for_every_flag() {
    let client = start(doc(1, false), None);
    let mut ctx = Context::new("qa");
    ctx.ram_mb = Some(8192.0);
    client.set_context(ctx);
    let snap = client.flag_snapshot();
    assert!(snap.is_ready());
    let keys: Vec<&str> = snap.flags().iter().map(|f| &*f.key).collect();
    assert_eq!(
        keys,
        ["disabled", "feature", "layout", "ratio", "size", "tier"]
    );
    for f in snap.flags() {
        let direct = client.value_details(&f.key, None);
        assert_eq!(f.details.value, direct.value, "{}", f.key);
        assert_eq!(f.details.variation, direct.variation, "{}", f.key);
        assert_eq!(f.details.reason, direct.reason, "{}", f.key);
        assert_eq!(f.details.error, direct.error, "{}", f.key);
        assert_eq!(f.details.bucket, direct.bucket, "{}", f.key);
    }
    let size = &snap.flags()[snap.index_of("size").unwrap()];
    assert_eq!(
        size.details.reason,
        Reason::RuleMatch {
            rule_id: "big-ram".into()
        }
    );
    assert!(size.serves_feature);
    assert!(!snap.flags()[snap.index_of("disabled").unwrap()].serves_feature);
    assert_eq!(snap.index_of("nope"), None);
    assert_eq!(
        litegate::client::missing_flag_code(&snap),
        ErrorCode::FlagNotFound
    );
    // Nothing changed: the same snapshot comes back.
    assert!(Arc::ptr_eq(&snap, &client.flag_snapshot()));
    let _ = client.shutdown(Duration::from_secs(5));
}

#[test]
fn every_change_moves_the_generation_before_listeners_run() {
    let client = start(doc(1, false), None);
    let gen = || client.flag_snapshot().generation_cell().get();
    let g0 = gen();
    let s0 = client.flag_snapshot();
    assert_eq!(s0.generation(), g0);

    // Context.
    let mut ctx = Context::new("qa");
    ctx.ram_mb = Some(8192.0);
    client.set_context(ctx);
    let g1 = s0.generation_cell().get();
    assert!(g1 > g0);
    let s1 = client.flag_snapshot();
    assert_eq!(
        value_of(&s1, "tier"),
        Some(FlagValue::String("beta".into()))
    );
    assert_eq!(s1.context().targeting_key, "qa");

    // Override (published by the caller, as the FFI does).
    client.set_override("size", "s");
    client.publish_flag_change();
    let s2 = client.flag_snapshot();
    assert!(s2.generation() > s1.generation());
    assert_eq!(value_of(&s2, "size"), Some(FlagValue::Int(1)));
    assert_eq!(
        s2.flags()[s2.index_of("size").unwrap()].details.reason,
        Reason::Override
    );

    // Guardrail trip: 9 successes then 1 failure trips it.
    for _ in 0..9 {
        client.record_outcome("feature", true, 5.0);
    }
    let before = s2.generation_cell().get();
    client.record_outcome("feature", false, 5.0);
    assert!(
        s2.generation_cell().get() > before,
        "trip moves the generation"
    );
    let s3 = client.flag_snapshot();
    assert_eq!(value_of(&s3, "feature"), Some(FlagValue::Bool(false)));
    assert_eq!(
        s3.flags()[s3.index_of("feature").unwrap()].details.reason,
        Reason::Guardrail {
            guardrail: "errors".into()
        }
    );
    client.reset_guardrails(None);
    let s4 = client.flag_snapshot();
    assert!(s4.generation() > s3.generation());
    assert_eq!(value_of(&s4, "feature"), Some(FlagValue::Bool(true)));

    // Config (a kill switch): the listener already sees it in a snapshot.
    /// What a listener saw: the snapshot generation and the flag's value.
    type Seen = Option<(u64, Option<FlagValue>)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let (c2, seen2) = (client.clone(), seen.clone());
    let g_before = s4.generation_cell().get();
    client.on_change(move |_| {
        let s = c2.flag_snapshot();
        *seen2.lock().unwrap() = Some((s.generation(), value_of(&s, "feature")));
    });
    client.delivery().submit(&doc(2, true), None).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "listener never ran");
        std::thread::sleep(Duration::from_millis(5));
    }
    let (g, v) = seen.lock().unwrap().clone().unwrap();
    assert!(g > g_before);
    assert_eq!(v, Some(FlagValue::Bool(false)));
    let _ = client.shutdown(Duration::from_secs(5));
}

#[test]
fn no_config_reads_as_not_ready() {
    let mut c = ClientConfig::new("test-app", "production");
    c.default_context = Context::new("u");
    let client = Client::start(c).unwrap();
    let snap = client.flag_snapshot();
    assert!(!snap.is_ready());
    assert!(snap.flags().is_empty());
    assert_eq!(
        litegate::client::missing_flag_code(&snap),
        ErrorCode::ProviderNotReady
    );
    let _ = client.shutdown(Duration::from_secs(5));
}

#[test]
fn exposures_reach_the_collector_exactly_once_across_shutdown() {
    let rt = metrics_collector::runtime();
    let collector = metrics_collector::Collector::start(&rt);
    let client = start(doc(1, false), Some(&collector.url));
    let snap = client.flag_snapshot();
    let feature = snap.index_of("feature").unwrap();
    let tier = snap.index_of("tier").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    // 8 threads count while the periodic drain and explicit drains run.
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let snap = snap.clone();
            std::thread::spawn(move || {
                for i in 0..25_000 {
                    snap.count_exposure(if (i + t) % 5 == 0 { tier } else { feature });
                }
            })
        })
        .collect();
    let drainer = {
        let (client, stop) = (client.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                client.drain_snapshot_exposures();
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    for t in threads {
        t.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    drainer.join().unwrap();
    // A context change retires the snapshot; counts on it still land.
    client.set_context(Context::new("user-2"));
    snap.count_exposure(feature);
    drop(snap);
    let s2 = client.flag_snapshot();
    s2.count_exposure(s2.index_of("feature").unwrap());
    // And a Rust read goes through the same path.
    assert!(client.bool_value("feature", false));
    assert_eq!(
        client.shutdown(Duration::from_secs(20)),
        litegate::runtime::ShutdownOutcome::Stopped
    );
    let totals = collector.totals();
    assert_eq!(
        totals.counter(names::FLAG_EXPOSURES, "flag=feature,variation=on")
            + totals.counter(names::FLAG_EXPOSURES, "flag=tier,variation=a"),
        200_000 + 3,
        "{totals:?}"
    );
    assert_eq!(
        totals.counter_all_labels(names::FLAG_EXPOSURES),
        200_003,
        "{totals:?}"
    );
    // De-duplicated events: (feature, on, user-1), (tier, a, user-1),
    // (feature, on, user-2).
    assert_eq!(totals.events_named("litegate.exposure"), 3, "{totals:?}");
}

#[test]
fn ten_thousand_flags_stay_bounded() {
    let mut flags = serde_json::Map::new();
    for i in 0..10_000 {
        flags.insert(
            format!("flag_{i:05}"),
            json!({"type": "bool", "variations": {"on": true, "off": false},
                   "off_variation": "off",
                   "fallthrough": {"percentage": {"percent": 50, "variation": "on", "otherwise": "off"}}}),
        );
    }
    let body = serde_json::to_vec(&json!({
        "format_version": 1, "environment": "production", "version": 1, "flags": flags
    }))
    .unwrap();
    let client = start(body, None);
    let first = client.flag_snapshot();
    assert_eq!(first.flags().len(), 10_000);
    assert_eq!(first.exposure_counters().len(), 10_000);
    let weak_first = Arc::downgrade(&first);
    drop(first);
    // Many context changes: only the current snapshot is kept by the client.
    let mut weak = Vec::new();
    for i in 0..50 {
        client.set_context(Context::new(format!("user-{i}")));
        let s = client.flag_snapshot();
        s.count_exposure(i);
        weak.push(Arc::downgrade(&s));
    }
    assert!(
        weak_first.upgrade().is_none(),
        "a superseded snapshot is freed"
    );
    let alive = weak.iter().filter(|w| w.upgrade().is_some()).count();
    assert_eq!(alive, 1, "only the current snapshot stays alive");
    let _ = client.shutdown(Duration::from_secs(5));
}

//! The `Client` end to end: start instantly from the bootstrap, pick up a
//! signed remote config (a kill switch) from a real loopback server, fire
//! listeners, record exposures and flush them to a real loopback collector,
//! restart from the persisted copy with the server down.

#[path = "delivery_support/mod.rs"]
mod delivery_support;
#[path = "metrics_collector/mod.rs"]
mod metrics_collector;

use delivery_support::{good, key, pin, wait_for, Behaviour, TestServer};
use litegate::eval::{Context, ErrorCode, Reason};
use litegate::{Client, ClientConfig, ClientError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn config(dir: &std::path::Path, url: Option<String>, collector: Option<&str>) -> ClientConfig {
    let mut c = ClientConfig::new("test-app", "production");
    c.bootstrap = Some(delivery_support::doc(
        1,
        "production",
        &[("kill", true), ("other", true)],
    ));
    c.storage_dir = Some(dir.to_path_buf());
    c.config_url = url;
    c.pinned_keys = vec![pin("release", &key(1))];
    c.poll_interval = Duration::from_millis(100);
    c.metrics_endpoint = collector.map(str::to_owned);
    c.default_context = Context::new("user-1");
    c
}

#[test]
fn starts_from_bootstrap_then_applies_a_remote_kill_switch() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(Behaviour::serve(good(5, false), Some("\"v5\"")));
    let rt = metrics_collector::runtime();
    let collector = metrics_collector::Collector::start(&rt);
    let client = Client::start(config(
        dir.path(),
        Some(server.url("/config")),
        Some(&collector.url),
    ))
    .unwrap();

    // Usable at once: the bootstrap is version 1.
    let first = client.bool_details("kill", false, None);
    assert_eq!(first.error, None);
    let changes = Arc::new(AtomicUsize::new(0));
    let seen = changes.clone();
    client.on_flag_change("kill", move |change| {
        assert!(change.changed_flags.iter().any(|f| f == "kill"));
        seen.fetch_add(1, Ordering::SeqCst);
    });

    client.wait_until_ready(Duration::from_secs(20)).unwrap();
    wait_for("remote version 5", || {
        client.status().config_version == Some(5)
    });
    let d = client.bool_details("kill", true, None);
    assert_eq!((d.value, d.reason), (false, Reason::Fallthrough));

    // Publish a kill switch: picked up by the next poll, listener fires.
    server.set(Behaviour::serve(
        delivery_support::signed(&kill_switched(6), "release", &key(1)),
        Some("\"v6\""),
    ));
    client.refresh();
    wait_for("kill switch applied", || {
        client.bool_details("kill", true, None).reason
            == Reason::KillSwitch {
                reason: "incident".into(),
            }
    });
    wait_for("listener fired", || changes.load(Ordering::SeqCst) >= 1);

    // Exposures reach the collector.
    client.flush(Duration::from_secs(30)).unwrap();
    let totals = collector.totals();
    assert!(
        totals.counter_all_labels(litegate::metrics::names::FLAG_EXPOSURES) >= 3,
        "{totals:?}"
    );
    // De-duplicated per (flag, variation, user): at least the `off` served
    // after the kill switch (whether the bootstrap's `on` was seen first
    // depends on how fast the first fetch lands).
    assert!(totals.events_named("litegate.exposure") >= 1, "{totals:?}");
    assert_eq!(
        client.shutdown(Duration::from_secs(10)),
        litegate::runtime::ShutdownOutcome::Stopped
    );
    assert_eq!(
        client.shutdown(Duration::from_secs(1)),
        litegate::runtime::ShutdownOutcome::AlreadyStopped
    );

    // Restart with the server gone: the persisted version 6 is used.
    drop(server);
    let again = Client::start(config(
        dir.path(),
        Some("http://127.0.0.1:9/config".into()),
        None,
    ))
    .unwrap();
    assert_eq!(again.status().config_version, Some(6));
    assert_eq!(
        again.bool_details("kill", true, None).reason,
        Reason::KillSwitch {
            reason: "incident".into()
        }
    );
}

fn kill_switched(version: u64) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&delivery_support::doc(
        version,
        "production",
        &[("kill", false), ("other", true)],
    ))
    .unwrap();
    v["flags"]["kill"]["kill_switch"] = serde_json::json!({"active": true, "reason": "incident"});
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn not_ready_without_any_config_and_typed_start_errors() {
    let mut c = ClientConfig::new("test-app", "production");
    c.default_context = Context::new("u");
    let client = Client::start(c).unwrap();
    let d = client.bool_details("anything", true, None);
    assert_eq!(
        (d.value, d.reason, d.error),
        (true, Reason::NotReady, Some(ErrorCode::ProviderNotReady))
    );
    assert_eq!(client.status().config_version, None);

    let mut bad = ClientConfig::new("test-app", "production");
    bad.bootstrap = Some(b"{not json".to_vec());
    assert!(matches!(Client::start(bad), Err(ClientError::Bootstrap(_))));
    let mut wrong_env = ClientConfig::new("test-app", "staging");
    wrong_env.bootstrap = Some(delivery_support::doc(1, "production", &[("a", true)]));
    assert!(matches!(
        Client::start(wrong_env),
        Err(ClientError::Bootstrap(
            litegate::config::ConfigError::WrongEnvironment { .. }
        ))
    ));
    assert!(matches!(
        Client::start(ClientConfig::new("", "production")),
        Err(ClientError::InvalidConfig {
            field: "app_id",
            ..
        })
    ));
    let mut insecure = ClientConfig::new("a", "production");
    insecure.config_url = Some("http://config.example.com/c.json".into());
    assert!(matches!(
        Client::start(insecure),
        Err(ClientError::Delivery(_))
    ));
}

#[test]
fn overrides_context_and_concurrent_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let client = Client::start(config(dir.path(), None, None)).unwrap();
    client.set_override("other", "off");
    assert_eq!(
        client.bool_details("other", true, None).reason,
        Reason::Override
    );
    client.clear_override("other");
    assert_eq!(
        client.bool_details("other", false, None).reason,
        Reason::Fallthrough
    );
    client.set_context(Context::new("someone-else"));
    assert_eq!(client.context().targeting_key, "someone-else");

    let threads: Vec<_> = (0..8)
        .map(|t| {
            let c = client.clone();
            std::thread::spawn(move || {
                for i in 0..2_000 {
                    let ctx = Context::new(format!("u{t}-{i}"));
                    assert!(c.bool_details("other", false, Some(&ctx)).value);
                    if i % 500 == 0 {
                        c.set_override("kill", "on");
                        c.clear_overrides();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let _ = client.shutdown(Duration::from_secs(5));
}

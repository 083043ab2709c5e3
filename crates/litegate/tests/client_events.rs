//! Client events, offline mode and the async waits, against a real config
//! server and a real metrics collector on 127.0.0.1.

#[path = "delivery_support/mod.rs"]
mod delivery_support;
#[path = "metrics_collector/mod.rs"]
mod metrics_collector;

use delivery_support::{good, key, pin, wait_for, Behaviour, TestServer};
use litegate::client::ClientEvent;
use litegate::delivery::{Rejection, WaitError};
use litegate::eval::{Context, Reason};
use litegate::{Client, ClientConfig};
use parking_lot::Mutex;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn config(dir: &std::path::Path, url: Option<String>, collector: Option<&str>) -> ClientConfig {
    let mut c = ClientConfig::new("test-app", "production");
    c.bootstrap = Some(delivery_support::doc(1, "production", &[("kill", true)]));
    c.storage_dir = Some(dir.to_path_buf());
    c.config_url = url;
    c.pinned_keys = vec![pin("release", &key(1))];
    c.poll_interval = Duration::from_millis(100);
    c.metrics_endpoint = collector.map(str::to_owned);
    c.default_context = Context::new("user-1");
    c
}

fn record(client: &Client) -> Arc<Mutex<Vec<ClientEvent>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    client.on_event(move |e| s.lock().push(e.clone()));
    seen
}

fn count(seen: &Mutex<Vec<ClientEvent>>, f: impl Fn(&ClientEvent) -> bool) -> usize {
    seen.lock().iter().filter(|e| f(e)).count()
}

#[test]
fn ready_applied_refused_failed_and_stale_events() {
    let dir = tempfile::tempdir().unwrap();
    // 404 until the listener is registered, so no event can be missed.
    let server = TestServer::start(Behaviour::Status {
        code: 404,
        retry_after: None,
    });
    let mut c = config(dir.path(), Some(server.url("/config")), None);
    c.stale_after_intervals = 3;
    let client = Client::start(c).unwrap();
    let seen = record(&client);
    server.set(Behaviour::serve(good(5, false), None));
    client.refresh();

    wait_for("ready and applied", || {
        count(&seen, |e| matches!(e, ClientEvent::Ready)) == 1
            && count(&seen, |e| {
                matches!(e, ClientEvent::ConfigApplied { version: 5, .. })
            }) == 1
    });

    // A document signed by an unknown key is refused, with the reason.
    server.set(Behaviour::serve(
        delivery_support::signed(
            &delivery_support::doc(6, "production", &[("kill", false)]),
            "release",
            &key(9),
        ),
        None,
    ));
    wait_for("refused", || {
        count(&seen, |e| {
            matches!(e, ClientEvent::ConfigRefused(Rejection::Signature(_)))
        }) > 0
    });
    assert_eq!(
        client.status().config_version,
        Some(5),
        "version 5 stays in use"
    );
    assert!(!client.bool_value("kill", true));

    // The server fails: fetch errors, then one Stale after 3 intervals.
    server.set(Behaviour::Status {
        code: 500,
        retry_after: None,
    });
    let stale_after_success = |e: &ClientEvent| {
        matches!(
            e,
            ClientEvent::Stale {
                intervals: 3,
                last_success_unix_ms: Some(_)
            }
        )
    };
    // Refused bodies are not successful fetches either: Stale may come
    // while they are served, or after the server starts failing.
    wait_for("stale and a failed fetch", || {
        count(&seen, stale_after_success) == 1
            && count(&seen, |e| matches!(e, ClientEvent::FetchFailed(_))) > 0
    });
    let stale = count(&seen, |e| matches!(e, ClientEvent::Stale { .. }));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        count(&seen, |e| matches!(e, ClientEvent::Stale { .. })),
        stale,
        "stale is sent once until a fetch succeeds"
    );
    // Ready is sent once per client.
    assert_eq!(count(&seen, |e| matches!(e, ClientEvent::Ready)), 1);
    let _ = client.shutdown(Duration::from_secs(5));
}

#[test]
fn guardrail_trip_event_and_listener_removal() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), None, None);
    c.bootstrap = Some(
        serde_json::to_vec(&json!({
            "format_version": 1, "environment": "production", "version": 1,
            "flags": {"new_model": {"type": "bool", "variations": {"on": true, "off": false},
                      "off_variation": "off", "fallthrough": {"variation": "on"}}},
            "guardrails": {"errors": {"target": {"flag": "new_model"}, "metric": "error_rate",
                           "op": ">", "threshold": 5, "window": {"last": 20}, "min_samples": 10}}
        }))
        .unwrap(),
    );
    let client = Client::start(c).unwrap();
    let seen = record(&client);
    let other = Arc::new(Mutex::new(0usize));
    let o = other.clone();
    let id = client.on_event(move |_| *o.lock() += 1);
    assert!(client.remove_event_listener(id));
    assert!(!client.remove_event_listener(id));
    // A panicking listener does not stop the others.
    client.on_event(|_| panic!("listener bug"));
    for _ in 0..9 {
        client.record_outcome("new_model", true, 5.0);
    }
    client.record_outcome("new_model", false, 5.0);
    let trips: Vec<_> = seen
        .lock()
        .iter()
        .filter_map(|e| match e {
            ClientEvent::GuardrailTripped(t) => Some(t.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(trips.len(), 1);
    assert_eq!(trips[0].guardrail, "errors");
    assert_eq!(trips[0].flag.as_deref(), Some("new_model"));
    assert_eq!(*other.lock(), 0, "a removed listener is not called");
    // The trip is visible to reads by the time the event is seen.
    assert_eq!(
        client.bool_details("new_model", true, None).reason,
        Reason::Guardrail {
            guardrail: "errors".into()
        }
    );
    let _ = client.shutdown(Duration::from_secs(5));
}

#[test]
fn offline_mode_stops_all_network_use_while_reads_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(Behaviour::serve(good(5, false), None));
    let rt = metrics_collector::runtime();
    let collector = metrics_collector::Collector::start(&rt);
    let mut c = config(
        dir.path(),
        Some(server.url("/config")),
        Some(&collector.url),
    );
    c.offline = true;
    let client = Client::start(c).unwrap();
    assert!(client.is_offline());
    client.refresh();
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(server.hits(), 0, "no fetch while offline from the start");
    // Reads go on from the bootstrap; exposures are recorded but not sent.
    assert!(client.bool_value("kill", false));
    let _ = client.flush(Duration::from_secs(5));
    assert!(collector.received().is_empty(), "no upload while offline");

    // Online: fetches at once, uploads on flush.
    client.set_offline(false);
    wait_for("fetched", || client.status().config_version == Some(5));
    client.flush(Duration::from_secs(10)).unwrap();
    assert!(!collector.received().is_empty());

    // Offline again: the request counts stop moving.
    client.set_offline(true);
    std::thread::sleep(Duration::from_millis(300));
    let hits = server.hits();
    let uploads = collector.received().len();
    assert!(!client.bool_value("kill", true));
    client.refresh();
    let _ = client.flush(Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(server.hits(), hits);
    assert_eq!(collector.received().len(), uploads);
    let _ = client.shutdown(Duration::from_millis(500));
}

#[test]
fn async_waits_resolve_inside_another_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(Behaviour::serve(good(5, false), None));
    let rt = metrics_collector::runtime();
    let collector = metrics_collector::Collector::start(&rt);
    let client = Client::start(config(
        dir.path(),
        Some(server.url("/config")),
        Some(&collector.url),
    ))
    .unwrap();
    // A single-threaded executor: a blocking wait here would deadlock.
    let app = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    app.block_on(async {
        client.ready(Duration::from_secs(20)).await.unwrap();
        client
            .refresh_and_wait(Duration::from_secs(20))
            .await
            .unwrap();
        assert!(client.bool_value("kill", false) || !client.bool_value("kill", true));
        let stats = client.flush_async(Duration::from_secs(10)).await.unwrap();
        assert!(stats.delivered_batches > 0 || stats.queued_batches == 0);
        let v = client
            .run_blocking(|c| c.status().config_version)
            .await
            .unwrap();
        assert_eq!(v, Some(5));
    });
    // Failures are reported, not hung on (once polls in flight are done).
    server.set(Behaviour::Status {
        code: 500,
        retry_after: None,
    });
    std::thread::sleep(Duration::from_millis(700));
    let err = app
        .block_on(client.refresh_and_wait(Duration::from_secs(20)))
        .unwrap_err();
    assert!(matches!(
        err,
        WaitError::TimedOut {
            last_error: Some(_)
        }
    ));
    let _ = client.shutdown(Duration::from_secs(5));
    assert!(matches!(
        app.block_on(client.ready(Duration::from_secs(1))),
        Ok(()) | Err(WaitError::Stopped)
    ));
    assert!(app
        .block_on(client.flush_async(Duration::from_secs(1)))
        .is_err());
    let no_remote = Client::start(config(dir.path(), None, None)).unwrap();
    assert!(matches!(
        app.block_on(no_remote.ready(Duration::from_secs(1))),
        Err(WaitError::NoRemote)
    ));
}

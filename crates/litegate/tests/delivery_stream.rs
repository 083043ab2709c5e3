//! The server-sent-events option: a published document is applied without
//! waiting for a poll; a broken or vanished stream falls back to polling.

mod delivery_support;

use delivery_support::*;
use litegate::delivery::{DeliveryProblem, FetchError};
use std::sync::atomic::Ordering;
use std::time::Duration;

fn streaming_config(server: &TestServer, poll: Duration) -> litegate::delivery::DeliveryConfig {
    let mut config = fast_config(Some(server.url("/config")));
    config.stream_url = Some(server.url("/stream"));
    config.schedule.poll_interval = poll;
    config
}

#[test]
fn a_published_document_is_applied_on_the_stream_event() {
    let server = TestServer::start(Behaviour::serve(good(1, false), Some("\"v1\"")));
    // Polling is hourly: only the stream can bring v2 in.
    let c = start(streaming_config(&server, Duration::from_secs(3600)));
    c.delivery
        .wait_until_ready(Duration::from_secs(20))
        .expect("ready");
    wait_for("stream connected", || c.delivery.status().stream_connected);
    let hits = server.hits();
    // An event for the version already in use triggers nothing.
    server.announce("1");
    server.set(Behaviour::serve(good(2, true), Some("\"v2\"")));
    server.announce("{\"version\": 2}");
    wait_for("v2 via the stream", || {
        c.delivery.status().version == Some(2)
    });
    assert_eq!(flag(&c, "kill"), Some(true));
    assert!(server.hits() > hits);
}

#[test]
fn a_broken_stream_falls_back_to_polling() {
    let server = TestServer::start(Behaviour::serve(good(1, false), None));
    *server.state.stream_broken.lock() = true;
    let c = start(streaming_config(&server, Duration::from_millis(100)));
    wait_for("a stream error", || {
        c.delivery
            .status()
            .stream_error
            .is_some_and(|e| e.contains("500"))
    });
    assert!(!c.delivery.status().stream_connected);
    server.set(Behaviour::serve(good(2, true), None));
    wait_for("v2 by polling", || c.delivery.status().version == Some(2));
    // The stream is retried with backoff, not in a tight loop.
    let before = server.state.stream_hits.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1500));
    let retries = server.state.stream_hits.load(Ordering::SeqCst) - before;
    assert!(retries <= 12, "{retries} stream reconnects in 1.5 s");
}

#[test]
fn a_server_that_disappears_mid_stream_keeps_the_document() {
    let mut server = TestServer::start(Behaviour::serve(good(3, true), None));
    let c = start(streaming_config(&server, Duration::from_millis(100)));
    c.delivery
        .wait_until_ready(Duration::from_secs(20))
        .expect("ready");
    wait_for("stream connected", || c.delivery.status().stream_connected);
    server.stop();
    wait_for("stream loss noticed", || {
        let s = c.delivery.status();
        !s.stream_connected && s.stream_error.is_some()
    });
    wait_for("polls failing", || {
        c.delivery.status().consecutive_failures >= 2
    });
    let status = c.delivery.status();
    assert_eq!(status.version, Some(3));
    assert_eq!(flag(&c, "kill"), Some(true));
    assert!(matches!(
        status.last_error,
        Some(DeliveryProblem::Fetch(FetchError::Connect { .. }))
    ));
}

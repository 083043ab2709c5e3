//! Remote fetch against a real loopback server: every failure keeps the
//! last-known-good document, backs off, reports why, and recovers.

mod delivery_support;

use delivery_support::*;
use litegate::config::ConfigError;
use litegate::delivery::{ConfigSource, DeliveryProblem, FetchError, Rejection, SignatureError};
use std::time::Duration;

/// Serves v5, then `failure`; checks the document stays, requests back off,
/// the status says `why`, and a good v6 afterwards is picked up.
fn failure_case(
    failure: Behaviour,
    configure: impl FnOnce(&mut litegate::delivery::DeliveryConfig),
    why: impl Fn(&DeliveryProblem) -> bool,
) {
    let server = TestServer::start(Behaviour::serve(good(5, false), Some("\"v5\"")));
    let mut config = fast_config(Some(server.url("/config")));
    configure(&mut config);
    let c = start(config);
    c.delivery
        .wait_until_ready(Duration::from_secs(20))
        .expect("first fetch");
    assert_eq!(c.delivery.status().version, Some(5));

    server.set(failure);
    wait_for("two consecutive failures", || {
        c.delivery.status().consecutive_failures >= 2
    });
    let status = c.delivery.status();
    let problem = status.last_error.clone().expect("a reason is reported");
    assert!(why(&problem), "unexpected reason: {problem:?}");
    assert_eq!(status.version, Some(5), "last-known-good stays in use");
    assert_eq!(status.source, Some(ConfigSource::Remote));
    assert_eq!(flag(&c, "kill"), Some(false));

    // Backoff: at 50 ms polling this window would see ~30 requests; with
    // backoff (ceilings 400 ms, 800 ms, 1.6 s, 2 s, full jitter) only a few.
    let before = server.hits();
    std::thread::sleep(Duration::from_millis(1500));
    let during = server.hits() - before;
    assert!(during <= 12, "{during} requests in 1.5 s: no backoff");

    // The worker survived: a good document is picked up on refresh.
    server.set(Behaviour::serve(good(6, true), Some("\"v6\"")));
    c.delivery.refresh();
    // The version is visible before the attempt's bookkeeping completes.
    wait_for("recovery to v6", || {
        let s = c.delivery.status();
        s.version == Some(6) && s.consecutive_failures == 0 && s.last_error.is_none()
    });
    assert_eq!(flag(&c, "kill"), Some(true));
}

fn status_is(code: u16) -> impl Fn(&DeliveryProblem) -> bool {
    move |p| matches!(p, DeliveryProblem::Fetch(FetchError::Status { status, .. }) if *status == code)
}

#[test]
fn http_404_keeps_last_known_good() {
    failure_case(
        Behaviour::Status {
            code: 404,
            retry_after: None,
        },
        |_| {},
        status_is(404),
    );
}

#[test]
fn http_500_keeps_last_known_good() {
    failure_case(
        Behaviour::Status {
            code: 500,
            retry_after: None,
        },
        |_| {},
        status_is(500),
    );
}

#[test]
fn stalled_body_times_out() {
    failure_case(
        Behaviour::Stall,
        |_| {},
        |p| {
            matches!(
                p,
                DeliveryProblem::Fetch(FetchError::Timeout { .. } | FetchError::Body { .. })
            )
        },
    );
}

#[test]
fn truncated_body_is_a_body_error() {
    failure_case(
        Behaviour::Truncate,
        |_| {},
        |p| matches!(p, DeliveryProblem::Fetch(FetchError::Body { .. })),
    );
}

#[test]
fn garbage_is_rejected_by_the_parser() {
    // No pinned keys, so the body reaches the parser.
    failure_case(
        Behaviour::serve(b"\x00\xffnot json at all".to_vec(), None),
        |c| c.pinned_keys.clear(),
        |p| {
            matches!(
                p,
                DeliveryProblem::Rejected(Rejection::Config(ConfigError::Syntax { .. }))
            )
        },
    );
}

#[test]
fn garbage_is_rejected_as_unsigned_when_keys_are_pinned() {
    failure_case(
        Behaviour::serve(b"<html>captive portal</html>".to_vec(), None),
        |_| {},
        |p| {
            matches!(
                p,
                DeliveryProblem::Rejected(Rejection::Signature(SignatureError::Unsigned))
            )
        },
    );
}

#[test]
fn oversized_body_is_refused() {
    failure_case(
        Behaviour::Oversized(100 * 1024),
        |_| {},
        |p| {
            matches!(
                p,
                DeliveryProblem::Fetch(FetchError::TooLarge { limit: 65536 })
            )
        },
    );
}

#[test]
fn wrong_signature_is_rejected() {
    // Signed under the pinned key id, but by another key.
    let forged = signed(&doc(9, "production", &[("kill", true)]), "release", &key(2));
    failure_case(
        Behaviour::serve(forged, None),
        |_| {},
        |p| {
            matches!(
                p,
                DeliveryProblem::Rejected(Rejection::Signature(SignatureError::BadSignature { key_id }))
                    if key_id == "release"
            )
        },
    );
}

#[test]
fn unknown_key_id_is_rejected() {
    let other = signed(
        &doc(9, "production", &[("kill", true)]),
        "someone-else",
        &key(1),
    );
    failure_case(
        Behaviour::serve(other, None),
        |_| {},
        |p| {
            matches!(
                p,
                DeliveryProblem::Rejected(Rejection::Signature(SignatureError::UnknownKeyId { key_ids }))
                    if key_ids == &["someone-else".to_owned()]
            )
        },
    );
}

#[test]
fn older_version_is_refused() {
    failure_case(
        Behaviour::serve(good(3, true), Some("\"v3\"")),
        |_| {},
        |p| {
            matches!(
                p,
                DeliveryProblem::Rejected(Rejection::StaleVersion {
                    current: 5,
                    offered: 3
                })
            )
        },
    );
}

#[test]
fn same_version_with_other_content_is_refused() {
    failure_case(
        Behaviour::serve(good(5, true), None),
        |_| {},
        |p| {
            matches!(
                p,
                DeliveryProblem::Rejected(Rejection::VersionNotIncreased { version: 5 })
            )
        },
    );
}

#[test]
fn document_for_another_environment_is_refused() {
    let staging = signed(&doc(9, "staging", &[("kill", true)]), "release", &key(1));
    failure_case(
        Behaviour::serve(staging, None),
        |_| {},
        |p| {
            matches!(
                p,
                DeliveryProblem::Rejected(Rejection::Config(ConfigError::WrongEnvironment { found, .. }))
                    if found == "staging"
            )
        },
    );
}

#[test]
fn rejection_is_kept_in_status_after_recovery() {
    let server = TestServer::start(Behaviour::serve(good(5, false), None));
    let c = start(fast_config(Some(server.url("/config"))));
    c.delivery
        .wait_until_ready(Duration::from_secs(20))
        .expect("ready");
    server.set(Behaviour::serve(good(4, true), None));
    wait_for("a rejection", || {
        c.delivery.status().last_rejection.is_some()
    });
    server.set(Behaviour::serve(good(7, true), None));
    c.delivery.refresh();
    wait_for("v7", || c.delivery.status().version == Some(7));
    let rejection = c.delivery.status().last_rejection.expect("kept");
    assert!(matches!(
        rejection.rejection,
        Rejection::StaleVersion { offered: 4, .. }
    ));
}

#[test]
fn retry_after_is_honoured() {
    let server = TestServer::start(Behaviour::serve(good(5, false), None));
    let c = start(fast_config(Some(server.url("/config"))));
    c.delivery
        .wait_until_ready(Duration::from_secs(20))
        .expect("ready");
    server.set(Behaviour::Status {
        code: 503,
        retry_after: Some("3".into()),
    });
    let before = server.hits();
    wait_for("the 503", || c.delivery.status().consecutive_failures >= 1);
    let after_503 = server.hits();
    // Backoff alone would retry within 200 ms; Retry-After says 3 s.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(server.hits(), after_503, "retried before Retry-After");
    assert!(after_503 > before);
    let status = c.delivery.status();
    assert!(matches!(
        status.last_error,
        Some(DeliveryProblem::Fetch(FetchError::Status {
            status: 503,
            retry_after: Some(d)
        })) if d == Duration::from_secs(3)
    ));
    assert_eq!(status.version, Some(5));
    let next = status.next_attempt.expect("scheduled");
    assert!(next > std::time::Instant::now());
}

#[test]
fn not_modified_keeps_the_document_and_counts_as_success() {
    let server = TestServer::start(Behaviour::serve(good(5, false), Some("\"v5\"")));
    let c = start(fast_config(Some(server.url("/config"))));
    wait_for("three 304s", || {
        server
            .state
            .not_modified
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 3
    });
    let status = c.delivery.status();
    assert_eq!(status.version, Some(5));
    assert_eq!(status.etag.as_deref(), Some("\"v5\""));
    assert_eq!(status.consecutive_failures, 0);
    assert!(status.ready && status.last_success.is_some());
    assert_eq!(
        server.state.last_if_none_match.lock().as_deref(),
        Some("\"v5\"")
    );
}

#[test]
fn max_age_defers_the_next_poll() {
    let server = TestServer::start(Behaviour::Serve {
        body: good(5, false),
        etag: None,
        headers: vec![("cache-control".into(), "max-age=30".into())],
        gzip: false,
    });
    let c = start(fast_config(Some(server.url("/config"))));
    c.delivery
        .wait_until_ready(Duration::from_secs(20))
        .expect("ready");
    let hits = server.hits();
    std::thread::sleep(Duration::from_millis(1000));
    // Polling every 50 ms would have made ~20 requests.
    assert_eq!(server.hits(), hits);
    // A manual refresh still goes out.
    c.delivery.refresh();
    wait_for("manual refresh", || server.hits() > hits);
}

#[test]
fn gzip_bodies_are_decoded() {
    let server = TestServer::start(Behaviour::Serve {
        body: good(5, true),
        etag: None,
        headers: Vec::new(),
        gzip: true,
    });
    let c = start(fast_config(Some(server.url("/config"))));
    c.delivery
        .wait_until_ready(Duration::from_secs(20))
        .expect("ready");
    assert_eq!(flag(&c, "kill"), Some(true));
}

#[test]
fn redirects_are_followed_up_to_the_limit() {
    let server = TestServer::start(Behaviour::serve(good(5, true), None));
    let c = start(fast_config(Some(server.url("/hop/2"))));
    c.delivery
        .wait_until_ready(Duration::from_secs(20))
        .expect("ready via 3 redirects");
    let mut config = fast_config(Some(server.url("/hop/9")));
    config.http.max_redirects = 3;
    let far = start(config);
    wait_for("redirect failure", || {
        far.delivery.status().consecutive_failures >= 1
    });
    assert!(matches!(
        far.delivery.status().last_error,
        Some(DeliveryProblem::Fetch(FetchError::Redirect { .. }))
    ));
    assert_eq!(far.delivery.current().map(|d| d.version), None);
}

#[test]
fn connection_refused_keeps_bootstrap_and_backs_off() {
    let mut server = TestServer::start(Behaviour::serve(good(5, false), None));
    let url = server.url("/config");
    server.stop();
    let mut config = fast_config(Some(url));
    config.bootstrap = Some(doc(2, "production", &[("kill", true)]));
    let c = start(config);
    assert_eq!(c.delivery.status().source, Some(ConfigSource::Bootstrap));
    wait_for("three failures", || {
        c.delivery.status().consecutive_failures >= 3
    });
    let status = c.delivery.status();
    assert!(matches!(
        status.last_error,
        Some(DeliveryProblem::Fetch(FetchError::Connect { .. }))
    ));
    assert_eq!(status.version, Some(2));
    assert_eq!(flag(&c, "kill"), Some(true));
    assert!(!status.ready);
    // Attempts grow slowly: well under one per 50 ms poll.
    let attempts = status.attempts;
    std::thread::sleep(Duration::from_millis(1500));
    let more = c.delivery.status().attempts - attempts;
    assert!(more <= 12, "{more} attempts in 1.5 s: no backoff");
}

//! Devices judge a document's `guardrails` and `models` sections as
//! `litegate validate` does: a document with an invalid section is refused
//! whole, and the one in use stays (new flags never run with old guardrails).

#[path = "delivery_support/mod.rs"]
mod delivery_support;

use delivery_support::{doc, fast_config, key, signed, start, wait_for};
use litegate::delivery::Rejection;

fn with_section(version: u64, name: &str, section: serde_json::Value) -> Vec<u8> {
    let mut v: serde_json::Value =
        serde_json::from_slice(&doc(version, "production", &[("kill", false)])).unwrap();
    v[name] = section;
    signed(&serde_json::to_vec(&v).unwrap(), "release", &key(1))
}

#[test]
fn a_document_with_an_invalid_section_is_refused_and_the_good_one_stays() {
    let client = start(fast_config(None));
    let good = with_section(
        2,
        "guardrails",
        serde_json::json!({"g": {"target": {"flag": "kill"}, "metric": "error_rate", "op": ">",
                                  "threshold": 5, "window": {"last": 100}}}),
    );
    client
        .delivery
        .submit(&good, None)
        .expect("a valid document applies");
    assert_eq!(client.delivery.current().unwrap().version, 2);

    let cases = [
        (
            "guardrails",
            serde_json::json!({"g": {"target": {"flag": "kill"}, "metric": "error_rate",
                                     "op": ">", "threshold": 5, "window": {"last": 0}}}),
            "guardrails.g.window.last",
        ),
        (
            "guardrails",
            serde_json::json!({"g": {"target": {"flag": "typo"}, "metric": "error_rate",
                                     "op": ">", "threshold": 5, "window": {"last": 100}}}),
            "guardrails.g.target.flag",
        ),
        (
            "models",
            serde_json::json!({"m": {"version": "1", "sha256": "nothex", "size": -1}}),
            "models.m",
        ),
    ];
    for (version, (name, section, path)) in (3..).zip(cases) {
        let err = client
            .delivery
            .submit(&with_section(version, name, section), None)
            .unwrap_err();
        assert!(matches!(err, Rejection::Config(_)), "{err}");
        assert!(err.to_string().contains(path), "{path}: {err}");
        assert_eq!(client.delivery.current().unwrap().version, 2, "{path}");
    }
    wait_for("the refusal in the status", || {
        client.delivery.status().last_rejection.is_some()
    });
}

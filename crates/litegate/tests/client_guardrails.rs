//! Guardrails through the `Client`: the app reports outcomes, a trip
//! disables the flag at once (reason `guardrail`), survives a restart, is
//! uploaded as an event, and is lifted by a newer config or a reset; a model
//! guardrail forces the app's path after a slow run.

#[path = "support/runtimes.rs"]
mod runtimes;

use litegate::client::{AppFallback, ModelOutcome};
use litegate::eval::{Context, Reason};
use litegate::inference::Tensor;
use litegate::{Client, ClientConfig};
use serde_json::json;
use std::time::Duration;

fn doc(version: u64, extra: serde_json::Value) -> Vec<u8> {
    let mut d = json!({
        "format_version": 1, "environment": "production", "version": version,
        "flags": {"new_model": {"type": "bool", "variations": {"on": true, "off": false},
                  "off_variation": "off", "fallthrough": {"variation": "on"}}},
        "guardrails": {"errors": {"target": {"flag": "new_model"}, "metric": "error_rate", "op": ">",
                       "threshold": 5, "window": {"last": 20}, "min_samples": 10}}
    });
    for (k, v) in extra.as_object().unwrap() {
        d[k] = v.clone();
    }
    serde_json::to_vec(&d).unwrap()
}

fn start(dir: &std::path::Path, bootstrap: Vec<u8>) -> Client {
    let mut c = ClientConfig::new("test-app", "production");
    c.bootstrap = Some(bootstrap);
    c.storage_dir = Some(dir.to_path_buf());
    c.default_context = Context::new("u1");
    c.litert_library = runtimes::litert_lib();
    Client::start(c).unwrap()
}

#[test]
fn flag_guardrail_trips_persists_and_lifts() {
    let dir = tempfile::tempdir().unwrap();
    let client = start(dir.path(), doc(1, json!({})));
    assert!(client.bool_value("new_model", false));
    // 9 successes, then 1 failure: 10% over 10 samples > 5%.
    for _ in 0..9 {
        client.record_outcome("new_model", true, 12.0);
    }
    assert_eq!(
        client.bool_details("new_model", false, None).reason,
        Reason::Fallthrough
    );
    client.record_outcome("new_model", false, 12.0);
    let d = client.bool_details("new_model", true, None);
    assert_eq!(
        (d.value, d.reason),
        (
            false,
            Reason::Guardrail {
                guardrail: "errors".into()
            }
        )
    );
    let trips = client.status().guardrail_trips;
    assert_eq!(trips.len(), 1);
    assert_eq!(trips[0].samples, 10);
    assert!((trips[0].observed - 10.0).abs() < 1e-9);
    let events: Vec<_> = client.metrics().snapshot();
    assert!(events
        .iter()
        .any(|p| p.name == litegate::metrics::names::GUARDRAIL_TRIPS));
    let _ = client.shutdown(Duration::from_secs(5));

    // Survives a restart with the same config version.
    let again = start(dir.path(), doc(1, json!({})));
    assert_eq!(
        again.bool_details("new_model", true, None).reason,
        Reason::Guardrail {
            guardrail: "errors".into()
        }
    );
    // An explicit reset lifts it.
    assert_eq!(again.reset_guardrails(None).len(), 1);
    assert_eq!(
        again.bool_details("new_model", false, None).reason,
        Reason::Fallthrough
    );
    let _ = again.shutdown(Duration::from_secs(5));

    // Trip again, then a newer config version lifts it.
    let third = start(dir.path(), doc(1, json!({})));
    for i in 0..10 {
        third.record_outcome("new_model", i != 0, 5.0);
    }
    assert!(matches!(
        third.bool_details("new_model", true, None).reason,
        Reason::Guardrail { .. }
    ));
    let _ = third.shutdown(Duration::from_secs(5));
    let fourth = start(dir.path(), doc(2, json!({})));
    assert_eq!(
        fourth.bool_details("new_model", false, None).reason,
        Reason::Fallthrough
    );
}

struct Cloud;

impl AppFallback for Cloud {
    fn run(&self, _model: &str, _inputs: &[Tensor]) -> Result<Vec<Tensor>, String> {
        Ok(vec![Tensor::from_f32("cloud", vec![1], &[1.0])])
    }
}

#[test]
fn model_guardrail_forces_the_app_path() {
    let (Some(_), Some(path)) = (runtimes::litert_lib(), runtimes::face_model()) else {
        return;
    };
    let bytes = std::fs::read(path).unwrap();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    let extra = json!({
        "models": {"face": {"version": "1", "sha256": sha, "size": bytes.len()}},
        // Any run slower than a microsecond trips: certain on this machine.
        "guardrails": {"slow": {"target": {"model": "face"}, "metric": "latency_max", "op": ">",
                       "threshold": 0.001, "window": {"last": 1}, "action": "force_fallback"}}
    });
    let dir = tempfile::tempdir().unwrap();
    let client = start(dir.path(), doc(1, extra));
    let model = client.load_model("face", &bytes).unwrap();
    let input = Tensor::from_f32("input", vec![1, 128, 128, 3], &vec![0.1; 128 * 128 * 3]);
    assert!(matches!(
        client
            .run_model(&model, std::slice::from_ref(&input), Some(&Cloud))
            .unwrap(),
        ModelOutcome::Local(_)
    ));
    match client.run_model(&model, &[input], Some(&Cloud)).unwrap() {
        ModelOutcome::AppFallback { reasons, .. } => assert!(
            reasons.iter().any(|r| r.contains("guardrail")),
            "{reasons:?}"
        ),
        other => panic!("expected the app path after the trip, got {other:?}"),
    }
    assert_eq!(client.guardrail_trips()[0].guardrail, "slow");
}

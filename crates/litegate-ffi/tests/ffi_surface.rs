//! The rest of the client across the FFI, exercised from Rust: outcomes and
//! guardrail trips, events, all flags, options, offline mode and the async
//! calls. `ClientSurfaceTest.kt` and `ClientSurfaceTests.swift` mirror these
//! names.

use litegate_ffi::{
    ClientEvent, ClientOptions, LiteGateClient, LiteGateError, PolicyFlagKeys, Reason,
    MAX_OUTCOME_LATENCY_MS, MAX_PENDING_EVENTS, MAX_STALE_AFTER_INTERVALS,
};
use std::sync::Arc;

const GUARDED: &[u8] = br#"{"format_version": 1, "environment": "production", "version": 1,
  "flags": {"new_model": {"type": "bool", "variations": {"on": true, "off": false},
              "off_variation": "off", "fallthrough": {"variation": "on"}},
            "banner": {"type": "string", "variations": {"a": "A", "b": "B"},
              "off_variation": "a", "fallthrough": {"variation": "b"}}},
  "guardrails": {"errors": {"target": {"flag": "new_model"}, "metric": "error_rate", "op": ">",
                 "threshold": 5, "window": {"last": 20}, "min_samples": 10}}}"#;

fn options() -> ClientOptions {
    let mut o = ClientOptions::new("dev.litegate.tests".into(), "production".into());
    o.bootstrap = Some(GUARDED.to_vec());
    o
}

fn client() -> Arc<LiteGateClient> {
    LiteGateClient::start(options()).expect("client starts")
}

fn trip(client: &LiteGateClient) {
    for _ in 0..9 {
        assert!(client.record_outcome("new_model".into(), true, 10.0));
    }
    assert!(client.record_outcome("new_model".into(), false, 10.0));
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("executor")
        .block_on(f)
}

#[test]
fn record_outcome_trips_lists_and_resets_guardrails() {
    let client = client();
    assert!(client.guardrail_trips().is_empty());
    trip(&client);
    let trips = client.guardrail_trips();
    assert_eq!(trips.len(), 1);
    assert_eq!(trips[0].guardrail, "errors");
    assert_eq!(trips[0].flag.as_deref(), Some("new_model"));
    let d = client.bool_details("new_model".into(), true, None);
    assert_eq!(
        (d.value, d.reason),
        (
            false,
            Reason::Guardrail {
                guardrail: "errors".into()
            }
        )
    );
    assert!(client.reset_guardrails(Some("other".into())).is_empty());
    assert_eq!(client.reset_guardrails(None).len(), 1);
    assert!(client.guardrail_trips().is_empty());
    assert!(client.bool_value("new_model".into(), false));
}

#[test]
fn record_outcome_refuses_latencies_outside_its_bound() {
    let client = client();
    assert!(client.record_outcome("new_model".into(), true, MAX_OUTCOME_LATENCY_MS));
    assert!(client.record_outcome("new_model".into(), true, 0.0));
    for bad in [
        MAX_OUTCOME_LATENCY_MS * 1.000_001,
        -1.0,
        f64::NAN,
        f64::INFINITY,
    ] {
        assert!(!client.record_outcome("new_model".into(), false, bad));
    }
    // Refused failures were not counted: 8 more successes and no trip.
    for _ in 0..8 {
        client.record_outcome("new_model".into(), true, 1.0);
    }
    assert!(client.guardrail_trips().is_empty());
}

#[test]
fn events_deliver_guardrail_trips_in_order() {
    let client = client();
    let sub = client.subscribe_events();
    trip(&client);
    match block_on(sub.next()) {
        Some(ClientEvent::GuardrailTripped { trip }) => assert_eq!(trip.guardrail, "errors"),
        other => panic!("{other:?}"),
    }
    sub.unsubscribe();
    sub.unsubscribe();
    assert_eq!(block_on(sub.next()), None);
}

#[test]
fn a_full_event_queue_drops_and_counts() {
    let client = client();
    let sub = client.subscribe_events();
    let total = MAX_PENDING_EVENTS + 44;
    for _ in 0..total {
        trip(&client);
        client.reset_guardrails(None);
    }
    sub.unsubscribe();
    assert_eq!(
        block_on(sub.next()),
        Some(ClientEvent::EventsDropped { count: 44 })
    );
    let mut trips = 0;
    while let Some(e) = block_on(sub.next()) {
        assert!(matches!(e, ClientEvent::GuardrailTripped { .. }));
        trips += 1;
    }
    assert_eq!(trips, MAX_PENDING_EVENTS);
}

#[test]
fn all_flags_with_details_sorted_and_without_exposures() {
    let client = client();
    client.set_override("banner".into(), "a".into());
    let all = client.all_flags(None);
    let keys: Vec<&str> = all.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys, ["banner", "new_model"]);
    assert_eq!(all[0].details.variation.as_deref(), Some("a"));
    assert_eq!(all[0].details.reason, Reason::Override);
    assert_eq!(all[1].details.reason, Reason::Fallthrough);
    let status = client.status().expect("status");
    assert_eq!(status.metrics.pending_events, 0, "no exposure recorded");
}

#[test]
fn options_reach_the_core_and_are_bounded() {
    let mut o = options();
    o.stale_after_intervals = 0;
    assert!(matches!(
        LiteGateClient::start(o),
        Err(LiteGateError::InvalidOption { field, .. }) if field == "stale_after_intervals"
    ));
    let mut o = options();
    o.stale_after_intervals = MAX_STALE_AFTER_INTERVALS + 1;
    assert!(LiteGateClient::start(o).is_err());
    let mut o = options();
    o.stale_after_intervals = MAX_STALE_AFTER_INTERVALS;
    o.offline = true;
    o.streaming = false;
    o.stream_url = Some("http://127.0.0.1:9/stream".into());
    o.policy_flag_keys = Some(PolicyFlagKeys {
        litert_enabled: "ml_on".into(),
        litert_gpu_backend: "ml_gpu".into(),
        litert_npu_backend: "ml_npu".into(),
        litert_adaptive_switching: "ml_adaptive".into(),
        ai_fallback_to_cloud: "ml_cloud".into(),
    });
    let client = LiteGateClient::start(o).expect("starts");
    assert!(client.is_offline());
    client.set_offline(false);
    assert!(!client.is_offline());
}

#[test]
fn async_calls_resolve_on_a_single_threaded_executor() {
    let client = client();
    let err = block_on(client.ready_async(1_000)).unwrap_err();
    assert!(matches!(err, LiteGateError::NotReady { .. }), "{err:?}");
    assert!(block_on(client.refresh_async(1_000)).is_err());
    let summary = block_on(client.flush_async(10_000)).expect("flush");
    assert_eq!(summary.lost_items, 0);
    let err =
        block_on(Arc::clone(&client).load_model_async("absent".into(), vec![1, 2, 3])).unwrap_err();
    assert!(matches!(err, LiteGateError::Model { .. }), "{err:?}");
    client.shutdown(5_000);
    assert!(block_on(client.flush_async(1_000)).is_err());
    assert!(matches!(
        block_on(Arc::clone(&client).load_model_async("absent".into(), vec![])),
        Err(LiteGateError::NotReady { .. })
    ));
}

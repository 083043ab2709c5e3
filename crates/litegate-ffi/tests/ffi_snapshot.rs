//! The flag snapshot as Swift and Kotlin receive it (`flag_snapshot`),
//! exercised from Rust: the record agrees with direct reads, overrides and
//! contexts move the generation, counting reports it (exact exposure totals
//! are proven in `crates/litegate/tests/client_snapshot.rs` and `SnapshotTest.kt`).
//! Mirrored by `SnapshotTest.kt` and `SnapshotTests.swift`.

use litegate_ffi::{ClientOptions, EvaluationContext, FlagValue, LiteGateClient, Reason};
use std::sync::Arc;

const REASONS: &[u8] = include_bytes!("fixtures/reasons.json");

fn client() -> Arc<LiteGateClient> {
    let mut options = ClientOptions::new("dev.litegate.tests".into(), "production".into());
    options.bootstrap = Some(REASONS.to_vec());
    LiteGateClient::start(options).expect("client starts")
}

#[test]
fn snapshot_record_agrees_with_direct_reads() {
    let client = client();
    client
        .set_context(EvaluationContext {
            targeting_key: "qa-alice".into(),
            ram_mb: Some(8192.0),
            ..Default::default()
        })
        .unwrap();
    let snap = client.flag_snapshot().unwrap();
    assert!(snap.ready);
    assert_eq!(
        snap.flags.iter().map(|f| f.key.clone()).collect::<Vec<_>>(),
        client.flag_keys()
    );
    for f in &snap.flags {
        assert_eq!(
            f.details,
            client.value_details(f.key.clone(), None),
            "{}",
            f.key
        );
    }
    let by_rule = snap.flags.iter().find(|f| f.key == "by_rule").unwrap();
    assert_eq!(
        by_rule.details.value,
        Some(FlagValue::IntValue { value: 8 })
    );
    assert!(by_rule.serves_feature);
    assert_ne!(snap.generation_address, 0);
    assert_eq!(snap.generation_address % 8, 0);
    assert_eq!(snap.exposure_counters_address % 8, 0);
    assert_eq!(snap.handle.current_generation(), snap.generation);
}

#[test]
fn overrides_and_contexts_move_the_generation() {
    let client = client();
    let s0 = client.flag_snapshot().unwrap();
    client.set_override("fixed_on".into(), "off".into());
    assert!(s0.handle.current_generation() > s0.generation);
    let s1 = client.flag_snapshot().unwrap();
    let fixed = s1.flags.iter().find(|f| f.key == "fixed_on").unwrap();
    assert_eq!(fixed.details.reason, Reason::Override);
    assert_eq!(
        fixed.details.value,
        Some(FlagValue::BoolValue { value: false })
    );
    client.clear_overrides();
    assert!(s1.handle.current_generation() > s1.generation);
    client.set_context(EvaluationContext::default()).unwrap();
    let s2 = client.flag_snapshot().unwrap();
    assert!(s2.generation > s1.generation + 1);
    // Unchanged: the same generation again.
    assert_eq!(client.flag_snapshot().unwrap().generation, s2.generation);
}

#[test]
fn counting_reports_the_current_generation() {
    let client = client();
    let snap = client.flag_snapshot().unwrap();
    let i = snap.flags.iter().position(|f| f.key == "fixed_on").unwrap() as u32;
    for _ in 0..10 {
        assert_eq!(snap.handle.count_exposure(i), snap.generation);
    }
    // Out of range: nothing counted, no panic.
    assert_eq!(snap.handle.count_exposure(u32::MAX), snap.generation);
    snap.handle.note_in_use(u32::MAX);
    // A change shows in what the next count returns.
    client.set_override("fixed_on".into(), "off".into());
    assert!(snap.handle.count_exposure(i) > snap.generation);
}

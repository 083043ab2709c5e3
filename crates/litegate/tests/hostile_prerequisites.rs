//! Issue 14, item 1: prerequisite graphs cost bounded time. Layered
//! documents where every flag of a layer requires every flag of the next are
//! refused past the documented depth and reach limits with a path-precise
//! problem; those at the limits are accepted and evaluate correctly, each
//! prerequisite flag once per lookup (the cost figure is in
//! `benches/hostile.rs`).

use litegate::config::{ConfigError, Document, Limits, ProblemKind};
use litegate::eval::{Context, Evaluator, Reason, MAX_PREREQUISITE_FLAGS};
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};

/// `layers` layers of `width` bool flags `l{layer}_{i}`; every flag of layer
/// k requires `on` from every flag of layer k+1. The last layer serves
/// `last` (`on` or `off`).
fn layered(layers: usize, width: usize, last: &str) -> String {
    let mut flags = Map::new();
    for l in 0..layers {
        for i in 0..width {
            let prerequisites: Vec<Value> = if l + 1 < layers {
                (0..width)
                    .map(|j| json!({"flag": format!("l{}_{j}", l + 1), "variations": ["on"]}))
                    .collect()
            } else {
                Vec::new()
            };
            let serve = if l + 1 < layers { "on" } else { last };
            flags.insert(
                format!("l{l}_{i}"),
                json!({"type": "bool", "variations": {"on": true, "off": false},
                       "off_variation": "off", "prerequisites": prerequisites,
                       "fallthrough": {"variation": serve}}),
            );
        }
    }
    json!({"format_version": 1, "environment": "production", "version": 1, "flags": flags})
        .to_string()
}

fn refused_with(doc: &str) -> Vec<(String, &'static str, usize, usize)> {
    match Document::parse(doc.as_bytes()) {
        Err(ConfigError::Invalid(problems)) => problems
            .into_iter()
            .map(|p| match p.kind {
                ProblemKind::LimitExceeded { what, limit, found } => (p.path, what, limit, found),
                other => panic!("unexpected problem {other:?} at {}", p.path),
            })
            .collect(),
        Err(other) => panic!("unexpected error {other:?}"),
        Ok(_) => panic!("document accepted"),
    }
}

#[test]
fn the_issue_document_is_refused_at_load_with_the_flag_named() {
    // 15 layers of 4 (16 KB): took 7 s per lookup before.
    let doc = layered(15, 4, "on");
    assert!(doc.len() < 20_000);
    let problems = refused_with(&doc);
    let (path, what, limit, found) = &problems[0];
    assert_eq!(path, "flags.l0_0.prerequisites");
    assert_eq!(*what, "prerequisite depth");
    assert_eq!(*limit, Limits::default().max_prerequisite_depth);
    assert_eq!(*found, 14);
    // 8 layers of 20 (123 KB): depth is fine, the reach is not.
    let problems = refused_with(&layered(8, 20, "on"));
    assert_eq!(
        problems[0],
        (
            "flags.l0_0.prerequisites".to_owned(),
            "flags reached through prerequisites",
            MAX_PREREQUISITE_FLAGS,
            140
        )
    );
}

#[test]
fn depth_sits_exactly_on_the_limit_and_one_past_is_refused() {
    let max = Limits::default().max_prerequisite_depth;
    assert_eq!(max, 8);
    // A chain of max+1 flags has depth max.
    assert!(Document::parse(layered(max + 1, 1, "on").as_bytes()).is_ok());
    let problems = refused_with(&layered(max + 2, 1, "on"));
    assert_eq!(problems[0].0, "flags.l0_0.prerequisites");
    assert_eq!(
        (problems[0].1, problems[0].3),
        ("prerequisite depth", max + 1)
    );
    // Only the flags over the limit are named.
    assert_eq!(problems.len(), 1);
}

#[test]
fn reach_sits_exactly_on_the_limit_and_one_past_is_refused() {
    let max = Limits::default().max_prerequisite_flags;
    assert_eq!(max, 16);
    // 5 layers of 4: the top flags reach 4 x 4 = 16 flags.
    assert!(Document::parse(layered(5, 4, "on").as_bytes()).is_ok());
    // One extra prerequisite on a top flag: 17.
    let mut doc: Value = serde_json::from_str(&layered(5, 4, "on")).unwrap();
    doc["flags"]["extra"] = json!({"type": "bool", "variations": {"on": true, "off": false},
        "off_variation": "off", "fallthrough": {"variation": "on"}});
    doc["flags"]["l0_3"]["prerequisites"]
        .as_array_mut()
        .unwrap()
        .push(json!({"flag": "extra", "variations": ["on"]}));
    let problems = refused_with(&doc.to_string());
    assert_eq!(
        problems,
        vec![(
            "flags.l0_3.prerequisites".to_owned(),
            "flags reached through prerequisites",
            16,
            17
        )]
    );
}

#[test]
fn limits_cannot_be_raised_past_what_the_evaluator_memoises() {
    let limits = Limits {
        max_prerequisite_depth: 1_000,
        max_prerequisite_flags: 1_000,
        ..Limits::default()
    };
    let doc = layered(15, 4, "on");
    assert!(matches!(
        Document::parse_with_limits(doc.as_bytes(), &limits),
        Err(ConfigError::Invalid(_))
    ));
}

#[test]
fn the_worst_accepted_graph_evaluates_correctly_and_in_bounded_time() {
    // 5 layers of 4, each flag requiring all 4 of the next: 4^4 = 256
    // paths from a top flag, 16 distinct flags.
    let ctx = Context::new("user-1");
    let on = Document::parse(layered(5, 4, "on").as_bytes()).unwrap();
    let off = Document::parse(layered(5, 4, "off").as_bytes()).unwrap();
    let e = Evaluator::new();
    let d = e.bool_details(&on, "l0_0", &ctx, false);
    assert!(d.value);
    assert_eq!(d.reason, Reason::Fallthrough);
    let d = e.bool_details(&off, "l0_0", &ctx, true);
    assert!(!d.value);
    assert_eq!(
        d.reason,
        Reason::PrerequisiteFailed {
            flag: "l1_0".into()
        }
    );
    let d = e.bool_details(&off, "l3_2", &ctx, true);
    assert_eq!(
        d.reason,
        Reason::PrerequisiteFailed {
            flag: "l4_0".into()
        }
    );
    // A bound, not a speed target (that is the bench): without memoisation
    // one lookup walks 341 flag evaluations; with it 17. Generous for a loaded machine and a debug build.
    let start = Instant::now();
    for _ in 0..1_000 {
        assert!(e.bool_details(&on, "l0_0", &ctx, false).value);
    }
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

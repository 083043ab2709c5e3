//! Every operator, rule kind and reason of the evaluator, through documents
//! parsed from JSON as an app would receive them.

use litegate::config::{Document, FlagValue};
use litegate::eval::{AttrValue, Context, ErrorCode, Evaluator, LocalDisables, Overrides, Reason};
use serde_json::{json, Value};
use std::sync::Arc;

fn doc(flags: Value) -> Document {
    doc_with(json!({}), flags)
}

fn doc_with(extra: Value, flags: Value) -> Document {
    let mut d =
        json!({"format_version": 1, "environment": "production", "version": 7, "flags": flags});
    for (k, v) in extra.as_object().unwrap() {
        d[k] = v.clone();
    }
    let parsed = Document::parse(d.to_string().as_bytes()).expect("document parses");
    assert!(
        parsed.problems().is_empty(),
        "problems: {:?}",
        parsed.problems()
    );
    parsed
}

fn lenient(flags: Value) -> Document {
    let d = json!({"format_version": 1, "environment": "production", "version": 7, "flags": flags});
    Document::parse(d.to_string().as_bytes()).expect("document parses")
}

/// A bool flag whose single rule has `clause`; `on` when it matches.
fn clause_flag(clause: Value) -> Document {
    doc(json!({"f": {
        "type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
        "rules": [{"id": "r", "clauses": [clause], "serve": {"variation": "on"}}],
        "fallthrough": {"variation": "off"}
    }}))
}

fn matches(clause: Value, ctx: &Context) -> bool {
    let d = clause_flag(clause);
    let det = Evaluator::new().bool_details(&d, "f", ctx, false);
    assert_eq!(det.error, None);
    det.value
}

fn user() -> Context {
    Context::new("user-1")
        .device_id("dev-9")
        .os("android")
        .os_version("14")
        .app_version("5.2.0-beta.2")
        .device_model("Pixel 8 Pro")
        .locale("en-US")
        .country("US")
        .ram_mb(8192.0)
        .has_gpu(true)
        .has_npu(false)
        .accelerators(["cpu", "gpu"])
        .set("tier", AttrValue::String("gold".into()))
        .set("score", AttrValue::Number(42.5))
        .set("beta_opt_in", AttrValue::Bool(true))
        .set(
            "sdk",
            AttrValue::Semver(semver::Version::parse("3.1.4").unwrap()),
        )
        .set("installed", AttrValue::Timestamp(1_767_225_600_000))
        .set("ip", AttrValue::String("10.20.30.40".into()))
        .set(
            "tags",
            AttrValue::List(vec![
                AttrValue::String("a".into()),
                AttrValue::String("vip".into()),
            ]),
        )
}

#[test]
fn in_and_not_in() {
    let u = user();
    assert!(matches(
        json!({"attribute": "country", "op": "in", "values": ["CA", "US"]}),
        &u
    ));
    assert!(!matches(
        json!({"attribute": "country", "op": "in", "values": ["CA"]}),
        &u
    ));
    assert!(matches(
        json!({"attribute": "country", "op": "not_in", "values": ["CA"]}),
        &u
    ));
    assert!(matches(
        json!({"attribute": "score", "op": "in", "values": [1, 42.5]}),
        &u
    ));
    assert!(matches(
        json!({"attribute": "beta_opt_in", "op": "in", "values": [true]}),
        &u
    ));
    assert!(matches(
        json!({"attribute": "country", "op": "in", "values": ["us"], "case_insensitive": true}),
        &u
    ));
    assert!(!matches(
        json!({"attribute": "country", "op": "in", "values": ["us"]}),
        &u
    ));
}

#[test]
fn string_operators() {
    let u = user();
    assert!(matches(
        json!({"attribute": "device_model", "op": "equals", "values": ["Pixel 8 Pro"]}),
        &u
    ));
    assert!(matches(
        json!({"attribute": "device_model", "op": "equals", "values": ["pixel 8 pro"], "case_insensitive": true}),
        &u
    ));
    assert!(matches(
        json!({"attribute": "device_model", "op": "contains", "values": ["8 P"]}),
        &u
    ));
    assert!(!matches(
        json!({"attribute": "device_model", "op": "contains", "values": ["8 p"]}),
        &u
    ));
    assert!(matches(
        json!({"attribute": "device_model", "op": "contains", "values": ["8 p"], "case_insensitive": true}),
        &u
    ));
    assert!(matches(
        json!({"attribute": "device_model", "op": "starts_with", "values": ["Pix"]}),
        &u
    ));
    assert!(matches(
        json!({"attribute": "device_model", "op": "starts_with", "values": ["PIX"], "case_insensitive": true}),
        &u
    ));
    assert!(matches(
        json!({"attribute": "device_model", "op": "ends_with", "values": ["Pro"]}),
        &u
    ));
    assert!(matches(
        json!({"attribute": "device_model", "op": "ends_with", "values": ["PRO"], "case_insensitive": true}),
        &u
    ));
    assert!(!matches(
        json!({"attribute": "device_model", "op": "ends_with", "values": ["Max"]}),
        &u
    ));
    assert!(matches(
        json!({"attribute": "locale", "op": "matches", "values": ["^en-(US|GB)$"]}),
        &u
    ));
    assert!(!matches(
        json!({"attribute": "locale", "op": "matches", "values": ["^fr"]}),
        &u
    ));
    assert!(matches(
        json!({"attribute": "locale", "op": "matches", "values": ["^EN-us$"], "case_insensitive": true}),
        &u
    ));
}

#[test]
fn numeric_operators() {
    let u = user();
    for (op, v, want) in [
        ("eq", 8192.0, true),
        ("eq", 8000.0, false),
        ("lt", 9000.0, true),
        ("lt", 8192.0, false),
        ("lte", 8192.0, true),
        ("gt", 4096.0, true),
        ("gt", 8192.0, false),
        ("gte", 8192.0, true),
        ("gte", 8193.0, false),
    ] {
        assert_eq!(
            matches(json!({"attribute": "ram_mb", "op": op, "values": [v]}), &u),
            want,
            "{op} {v}"
        );
    }
}

#[test]
fn semver_operators_follow_precedence() {
    let u = user(); // app_version 5.2.0-beta.2
    for (op, v, want) in [
        ("semver_eq", "5.2.0-beta.2", true),
        ("semver_eq", "5.2.0", false),
        ("semver_lt", "5.2.0", true),
        ("semver_lt", "5.2.0-beta.10", true),
        ("semver_lt", "5.2.0-beta.1", false),
        ("semver_lte", "5.2.0-beta.2", true),
        ("semver_gt", "5.1.9", true),
        ("semver_gt", "5.2.0-alpha", true),
        ("semver_gte", "5.2.0", false),
        ("semver_gte", "5.2", false),
    ] {
        assert_eq!(
            matches(
                json!({"attribute": "app_version", "op": op, "values": [v]}),
                &u
            ),
            want,
            "{op} {v}"
        );
    }
    // OS versions written with fewer components still compare.
    assert!(matches(
        json!({"attribute": "os_version", "op": "semver_gte", "values": ["13.0.0"]}),
        &u
    ));
    // Custom semver-typed attribute.
    assert!(matches(
        json!({"attribute": "sdk", "op": "semver_gt", "values": ["3.1.3"]}),
        &u
    ));
}

#[test]
fn date_operators() {
    let u = user(); // installed 2026-01-01T00:00:00Z
    assert!(matches(
        json!({"attribute": "installed", "op": "before", "values": ["2026-06-01T00:00:00Z"]}),
        &u
    ));
    assert!(!matches(
        json!({"attribute": "installed", "op": "before", "values": ["2025-06-01T00:00:00+02:00"]}),
        &u
    ));
    assert!(matches(
        json!({"attribute": "installed", "op": "after", "values": ["2025-12-31T23:59:59Z"]}),
        &u
    ));
    let s = Context::new("u").set("at", AttrValue::String("2026-03-01T12:00:00Z".into()));
    assert!(matches(
        json!({"attribute": "at", "op": "after", "values": ["2026-02-01T00:00:00Z"]}),
        &s
    ));
}

#[test]
fn cidr_operator() {
    let u = user();
    assert!(matches(
        json!({"attribute": "ip", "op": "in_cidr", "values": ["10.0.0.0/8"]}),
        &u
    ));
    assert!(!matches(
        json!({"attribute": "ip", "op": "in_cidr", "values": ["192.168.0.0/16"]}),
        &u
    ));
    assert!(matches(
        json!({"attribute": "ip", "op": "not_in_cidr", "values": ["192.168.0.0/16"]}),
        &u
    ));
}

#[test]
fn lists_match_if_any_element_matches() {
    let u = user();
    assert!(matches(
        json!({"attribute": "tags", "op": "in", "values": ["vip"]}),
        &u
    ));
    assert!(!matches(
        json!({"attribute": "tags", "op": "in", "values": ["x"]}),
        &u
    ));
    assert!(matches(
        json!({"attribute": "accelerators", "op": "in", "values": ["gpu"]}),
        &u
    ));
    assert!(!matches(
        json!({"attribute": "accelerators", "op": "in", "values": ["npu"]}),
        &u
    ));
}

#[test]
fn negation_and_missing_attributes() {
    let u = user();
    assert!(!matches(
        json!({"attribute": "country", "op": "in", "values": ["US"], "negate": true}),
        &u
    ));
    assert!(matches(
        json!({"attribute": "country", "op": "in", "values": ["FR"], "negate": true}),
        &u
    ));
    // Missing attribute: false, negated or not.
    assert!(!matches(
        json!({"attribute": "nope", "op": "in", "values": ["x"]}),
        &u
    ));
    assert!(!matches(
        json!({"attribute": "nope", "op": "in", "values": ["x"], "negate": true}),
        &u
    ));
    // Type mismatch: false, negated or not, never an error.
    assert!(!matches(
        json!({"attribute": "country", "op": "gt", "values": [3]}),
        &u
    ));
    assert!(!matches(
        json!({"attribute": "country", "op": "gt", "values": [3], "negate": true}),
        &u
    ));
    assert!(!matches(
        json!({"attribute": "ram_mb", "op": "semver_gt", "values": ["1.0.0"]}),
        &u
    ));
    assert!(!matches(
        json!({"attribute": "tier", "op": "in_cidr", "values": ["10.0.0.0/8"]}),
        &u
    ));
}

fn full_flag() -> Value {
    json!({
        "type": "string",
        "variations": {"control": "v1", "treatment": "v2", "off": "none"},
        "off_variation": "off",
        "targets": [{"variation": "treatment", "ids": ["vip-user"]}],
        "rules": [
            {"id": "testers", "clauses": [{"op": "in_segment", "values": ["internal"]}], "serve": {"variation": "treatment"}},
            {"id": "canada", "clauses": [{"attribute": "country", "op": "in", "values": ["CA"]}],
             "serve": {"percentage": {"percent": 50, "variation": "treatment", "otherwise": "control"}}}
        ],
        "fallthrough": {"split": {"arms": [{"variation": "control", "weight": 50}, {"variation": "treatment", "weight": 50}]}}
    })
}

fn segments() -> Value {
    json!({"segments": {"internal": {
        "included": ["tester-1"], "excluded": ["tester-2"],
        "clauses": [{"attribute": "email", "op": "ends_with", "values": ["@example.com"]}]
    }}})
}

#[test]
fn reasons_target_rule_split_fallthrough() {
    let d = doc_with(segments(), json!({"f": full_flag()}));
    let e = Evaluator::new();
    let r = e.string_details(&d, "f", &Context::new("vip-user"), "dflt".into());
    assert_eq!((&*r.value, r.reason), ("v2", Reason::TargetMatch));
    let r = e.string_details(&d, "f", &Context::new("tester-1"), "dflt".into());
    assert_eq!(
        r.reason,
        Reason::RuleMatch {
            rule_id: "testers".into()
        }
    );
    let by_email = Context::new("someone").set("email", AttrValue::String("a@example.com".into()));
    assert_eq!(
        e.string_details(&d, "f", &by_email, "dflt".into()).reason,
        Reason::RuleMatch {
            rule_id: "testers".into()
        }
    );
    // Excluded wins over clauses.
    let excluded = Context::new("tester-2").set("email", AttrValue::String("b@example.com".into()));
    assert_eq!(
        e.string_details(&d, "f", &excluded, "dflt".into()).reason,
        Reason::Split
    );
    let ca = Context::new("u-ca").country("CA");
    let r = e.string_details(&d, "f", &ca, "dflt".into());
    assert_eq!(
        r.reason,
        Reason::RuleMatch {
            rule_id: "canada".into()
        }
    );
    assert!(r.bucket.is_some());
    let r = e.string_details(&d, "f", &Context::new("plain"), "dflt".into());
    assert_eq!(r.reason, Reason::Split);
    assert_eq!(
        r.variation.as_deref(),
        Some(if r.bucket.unwrap() < 50_000 {
            "control"
        } else {
            "treatment"
        })
    );
    assert_eq!(r.reason.openfeature(), "SPLIT");

    let fixed = doc(
        json!({"g": {"type": "int", "variations": {"a": 1, "b": 2}, "off_variation": "a", "fallthrough": {"variation": "b"}}}),
    );
    let r = e.int_details(&fixed, "g", &Context::new("x"), 0);
    assert_eq!(
        (r.value, r.reason.clone(), r.reason.openfeature()),
        (2, Reason::Fallthrough, "DEFAULT")
    );
}

#[test]
fn off_kill_switch_global_disable() {
    let mut flag = full_flag();
    flag["enabled"] = json!(false);
    let d = doc_with(segments(), json!({"f": flag}));
    let r = Evaluator::new().string_details(&d, "f", &Context::new("vip-user"), "dflt".into());
    assert_eq!((&*r.value, r.reason), ("none", Reason::Off));

    let mut flag = full_flag();
    flag["kill_switch"] = json!({"active": true, "reason": "crash spike"});
    let d = doc_with(segments(), json!({"f": flag}));
    let r = Evaluator::new().string_details(&d, "f", &Context::new("vip-user"), "dflt".into());
    assert_eq!(
        (&*r.value, r.reason),
        (
            "none",
            Reason::KillSwitch {
                reason: "crash spike".into()
            }
        )
    );

    // An inactive kill switch changes nothing.
    let mut flag = full_flag();
    flag["kill_switch"] = json!({"active": false, "reason": "old"});
    let d = doc_with(segments(), json!({"f": flag}));
    assert_eq!(
        Evaluator::new()
            .string_details(&d, "f", &Context::new("vip-user"), "x".into())
            .reason,
        Reason::TargetMatch
    );

    let mut extra = segments();
    extra["global_disable"] = json!({"active": true, "reason": "incident 42"});
    let d = doc_with(extra, json!({"f": full_flag()}));
    let r = Evaluator::new().string_details(&d, "f", &Context::new("vip-user"), "dflt".into());
    assert_eq!(
        (&*r.value, r.reason.clone()),
        (
            "none",
            Reason::GlobalDisable {
                reason: "incident 42".into()
            }
        )
    );
    assert_eq!(r.reason.openfeature(), "DISABLED");
}

#[test]
fn prerequisites() {
    let d = doc(json!({
        "litert_enabled": {"type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
            "rules": [{"id": "gpu", "clauses": [{"attribute": "has_gpu", "op": "in", "values": [true]}], "serve": {"variation": "on"}}],
            "fallthrough": {"variation": "off"}},
        "new_model": {"type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
            "prerequisites": [{"flag": "litert_enabled", "variations": ["on"]}],
            "fallthrough": {"variation": "on"}}
    }));
    let e = Evaluator::new();
    let r = e.bool_details(&d, "new_model", &Context::new("u").has_gpu(true), false);
    assert_eq!((r.value, r.reason), (true, Reason::Fallthrough));
    let r = e.bool_details(&d, "new_model", &Context::new("u").has_gpu(false), true);
    assert_eq!(
        (r.value, r.reason),
        (
            false,
            Reason::PrerequisiteFailed {
                flag: "litert_enabled".into()
            }
        )
    );
}

#[test]
fn overrides_and_guardrail_disables() {
    let d = doc_with(segments(), json!({"f": full_flag()}));
    let mut o = Overrides::new();
    o.insert("f".into(), "control".into());
    let r = Evaluator::new().with_overrides(&o).string_details(
        &d,
        "f",
        &Context::new("vip-user"),
        "x".into(),
    );
    assert_eq!((&*r.value, r.reason), ("v1", Reason::Override));
    // An override naming an unknown variation is ignored.
    let mut bad = Overrides::new();
    bad.insert("f".into(), "nope".into());
    let r = Evaluator::new().with_overrides(&bad).string_details(
        &d,
        "f",
        &Context::new("vip-user"),
        "x".into(),
    );
    assert_eq!(r.reason, Reason::TargetMatch);
    let mut g = LocalDisables::new();
    g.insert("f".into(), Arc::from("error-rate"));
    let r = Evaluator::new()
        .with_overrides(&o)
        .with_disables(&g)
        .string_details(&d, "f", &Context::new("vip-user"), "x".into());
    assert_eq!(
        (&*r.value, r.reason),
        (
            "none",
            Reason::Guardrail {
                guardrail: "error-rate".into()
            }
        )
    );
}

#[test]
fn errors_return_the_default() {
    let d = lenient(json!({
        "b": {"type": "bool", "variations": {"on": true}, "off_variation": "on", "fallthrough": {"variation": "on"}},
        "broken": {"type": "bool", "variations": {"on": true}, "off_variation": "missing", "fallthrough": {"variation": "on"}}
    }));
    let e = Evaluator::new();
    let r = e.bool_details(&d, "nope", &Context::new("u"), false);
    assert_eq!(
        (r.value, r.reason, r.error),
        (false, Reason::Error, Some(ErrorCode::FlagNotFound))
    );
    let r = e.int_details(&d, "b", &Context::new("u"), 5);
    assert_eq!((r.value, r.error), (5, Some(ErrorCode::TypeMismatch)));
    let r = e.bool_details(&d, "broken", &Context::new("u"), false);
    assert_eq!((r.value, r.error), (false, Some(ErrorCode::MalformedFlag)));
    assert_eq!(r.error.unwrap().openfeature(), "PARSE_ERROR");
    assert_eq!(d.problems().len(), 1);
    assert_eq!(d.problems()[0].path, "flags.broken.off_variation");
    // The healthy flag keeps working next to the broken one.
    assert!(e.bool_details(&d, "b", &Context::new("u"), false).value);
}

#[test]
fn typed_getters_for_every_type() {
    let d = doc(json!({
        "s": {"type": "string", "variations": {"a": "x"}, "off_variation": "a", "fallthrough": {"variation": "a"}},
        "i": {"type": "int", "variations": {"a": -3}, "off_variation": "a", "fallthrough": {"variation": "a"}},
        "fl": {"type": "float", "variations": {"a": 0.25}, "off_variation": "a", "fallthrough": {"variation": "a"}},
        "j": {"type": "json", "variations": {"a": {"threshold": 0.7, "labels": ["cat"]}}, "off_variation": "a", "fallthrough": {"variation": "a"}}
    }));
    let e = Evaluator::new();
    let c = Context::new("u");
    assert_eq!(&*e.string_details(&d, "s", &c, "".into()).value, "x");
    assert_eq!(e.int_details(&d, "i", &c, 0).value, -3);
    assert_eq!(e.float_details(&d, "fl", &c, 0.0).value, 0.25);
    assert_eq!(
        e.json_details(&d, "j", &c, Arc::new(json!(null))).value["threshold"],
        json!(0.7)
    );
    assert_eq!(e.details(&d, "i", &c).unwrap().value, FlagValue::Int(-3));
}

#[test]
fn bucketing_by_device_and_custom_attribute() {
    let d = doc(json!({"f": {
        "type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
        "rules": [{"id": "by-device", "clauses": [{"attribute": "os", "op": "in", "values": ["ios"]}],
                   "serve": {"percentage": {"percent": 50, "variation": "on", "otherwise": "off", "bucket_by": "device_id"}}}],
        "fallthrough": {"percentage": {"percent": 50, "variation": "on", "otherwise": "off", "bucket_by": "org"}}
    }}));
    let e = Evaluator::new();
    // Same device, different users: same answer.
    let a = e.bool_details(&d, "f", &Context::new("u1").os("ios").device_id("D"), false);
    let b = e.bool_details(&d, "f", &Context::new("u2").os("ios").device_id("D"), false);
    assert_eq!((a.value, a.bucket), (b.value, b.bucket));
    assert_eq!(a.bucket, Some(litegate::eval::bucket("f", b"D")));
    // Missing bucketing attribute: `otherwise`.
    let r = e.bool_details(&d, "f", &Context::new("u1").os("ios"), true);
    assert_eq!((r.value, r.bucket), (false, None));
    let r = e.bool_details(
        &d,
        "f",
        &Context::new("u1").set("org", AttrValue::String("acme".into())),
        false,
    );
    assert_eq!(r.bucket, Some(litegate::eval::bucket("f", b"acme")));
}

#[test]
fn phased_rollout_follows_clock_and_state() {
    let flag = |state: Value| {
        json!({"f": {
            "type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
            "rollout": {"phases": [
                {"name": "alpha", "percent": 1, "start": "2026-01-01T00:00:00Z"},
                {"name": "beta", "percent": 10, "start": "2026-01-08T00:00:00Z"},
                {"name": "limited", "percent": 25, "start": "2026-01-15T00:00:00Z"},
                {"name": "extended", "percent": 50, "start": "2026-01-22T00:00:00Z"},
                {"name": "full", "percent": 100, "start": "2026-01-29T00:00:00Z"}],
                "state": state},
            "fallthrough": {"phased": {"variation": "on", "otherwise": "off"}}
        }})
    };
    let t = |s: &str| litegate::config::parse_timestamp_ms(s).unwrap();
    let share = |d: &Document, at: i64| {
        let e = Evaluator::at(at);
        (0..20_000)
            .filter(|i| {
                e.bool_details(d, "f", &Context::new(format!("user-{i}")), false)
                    .value
            })
            .count()
    };
    let running = doc(flag(json!({"status": "running", "phase": "alpha"})));
    let before = share(&running, t("2026-01-09T00:00:00Z"));
    assert!((1_700..2_300).contains(&before), "beta ≈ 10%: {before}");
    let later = share(&running, t("2026-01-23T00:00:00Z"));
    assert!((9_400..10_600).contains(&later), "extended ≈ 50%: {later}");
    let paused = doc(flag(json!({"status": "paused", "phase": "beta"})));
    let p = share(&paused, t("2026-02-01T00:00:00Z"));
    assert!((1_700..2_300).contains(&p), "paused at beta: {p}");
    let back = doc(flag(json!({"status": "rolled_back"})));
    assert_eq!(share(&back, t("2026-02-01T00:00:00Z")), 0);
    let done = doc(flag(json!({"status": "complete"})));
    assert_eq!(share(&done, t("2026-01-01T00:00:00Z")), 20_000);
    let not_started = doc(flag(json!({"status": "not_started"})));
    assert_eq!(share(&not_started, t("2026-02-01T00:00:00Z")), 0);
}

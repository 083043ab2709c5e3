//! Hostile and malformed documents: each refused with a precise error, or
//! confined to the one flag that is broken.

use litegate::config::{ConfigError, Document, Limits, ProblemKind};
use serde_json::{json, Value};

fn base(flags: Value) -> Value {
    json!({"format_version": 1, "environment": "production", "version": 1, "flags": flags})
}

fn good_flag() -> Value {
    json!({"type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off", "fallthrough": {"variation": "on"}})
}

fn parse(v: &Value) -> Result<Document, ConfigError> {
    Document::parse(v.to_string().as_bytes())
}

/// The problems of the one bad flag `bad`, the healthy flag `ok` untouched.
fn flag_problems(bad: Value) -> Vec<(String, ProblemKind)> {
    let d = parse(&base(json!({"ok": good_flag(), "bad": bad}))).expect("document-level ok");
    assert!(d.ready_flag("ok").is_some());
    assert!(d.ready_flag("bad").is_none());
    d.problems()
        .iter()
        .map(|p| (p.path.clone(), p.kind.clone()))
        .collect()
}

fn with(mut flag: Value, path: &[&str], v: Value) -> Value {
    let mut cur = &mut flag;
    for p in &path[..path.len() - 1] {
        cur = &mut cur[*p];
    }
    cur[path[path.len() - 1]] = v;
    flag
}

#[test]
fn document_level_refusals() {
    assert!(matches!(
        Document::parse(b"not json"),
        Err(ConfigError::Syntax { line: 1, .. })
    ));
    assert!(matches!(
        Document::parse(b"[]"),
        Err(ConfigError::Invalid(_))
    ));
    let mut v = base(json!({}));
    v["format_version"] = json!(2);
    assert!(matches!(
        parse(&v),
        Err(ConfigError::UnsupportedFormatVersion { .. })
    ));
    let mut v = base(json!({}));
    v.as_object_mut().unwrap().remove("environment");
    match parse(&v) {
        Err(ConfigError::Invalid(p)) => assert_eq!(
            (p[0].path.as_str(), &p[0].kind),
            ("environment", &ProblemKind::Missing)
        ),
        other => panic!("{other:?}"),
    }
    let mut v = base(json!({}));
    v["version"] = json!(-1);
    assert!(matches!(parse(&v), Err(ConfigError::Invalid(_))));
    let dup = br#"{"format_version":1,"environment":"p","version":1,"flags":{"a":{},"a":{}}}"#;
    match Document::parse(dup) {
        Err(ConfigError::DuplicateKey { path, key }) => {
            assert_eq!((path.as_str(), key.as_str()), ("flags", "a"))
        }
        other => panic!("{other:?}"),
    }
    let deep = format!(
        r#"{{"format_version":1,"environment":"p","version":1,"x":{}{}}}"#,
        "[".repeat(100),
        "]".repeat(100)
    );
    assert!(matches!(
        Document::parse(deep.as_bytes()),
        Err(ConfigError::TooDeep { limit: 32 })
    ));
    let huge = vec![b' '; Limits::default().max_document_bytes + 1];
    assert!(matches!(
        Document::parse(&huge),
        Err(ConfigError::TooLarge { .. })
    ));
}

#[test]
fn environment_is_checked() {
    let v = base(json!({}));
    assert!(Document::parse_for_environment(v.to_string().as_bytes(), "production").is_ok());
    match Document::parse_for_environment(v.to_string().as_bytes(), "staging") {
        Err(ConfigError::WrongEnvironment { expected, found }) => assert_eq!(
            (expected.as_str(), found.as_str()),
            ("staging", "production")
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_fields_are_ignored_and_sections_kept() {
    let mut v = base(json!({"ok": with(good_flag(), &["future_field"], json!({"x": 1}))}));
    v["models"] = json!([{"key": "m"}]);
    v["something_new"] = json!(true);
    let d = parse(&v).unwrap();
    assert!(d.problems().is_empty());
    assert_eq!(d.section("models").unwrap()[0]["key"], "m");
    assert!(d.section("flags").is_none());
}

#[test]
fn prerequisite_cycles_are_rejected_at_load() {
    let dep = |on: &str| {
        with(
            good_flag(),
            &["prerequisites"],
            json!([{"flag": on, "variations": ["on"]}]),
        )
    };
    let v = base(json!({"a": dep("b"), "b": dep("c"), "c": dep("a")}));
    match parse(&v) {
        Err(ConfigError::Invalid(p)) => match &p[0].kind {
            ProblemKind::PrerequisiteCycle(c) => assert_eq!(c.first(), c.last()),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    let selfloop = base(json!({"a": dep("a")}));
    assert!(matches!(parse(&selfloop), Err(ConfigError::Invalid(_))));
    // A chain is fine.
    assert!(parse(&base(json!({"a": dep("b"), "b": good_flag()}))).is_ok());
}

/// A predicate on the kind of problem expected.
type KindCheck = fn(&ProblemKind) -> bool;

#[test]
fn broken_flags_are_isolated_with_precise_paths() {
    let cases: Vec<(Value, &str, KindCheck)> = vec![
        (
            with(good_flag(), &["type"], json!("date")),
            "flags.bad.type",
            |k| matches!(k, ProblemKind::UnknownFlagType(_)),
        ),
        (
            with(good_flag(), &["off_variation"], json!("gone")),
            "flags.bad.off_variation",
            |k| matches!(k, ProblemKind::UnknownVariation(_)),
        ),
        (
            with(good_flag(), &["variations", "on"], json!("yes")),
            "flags.bad.variations.on",
            |k| matches!(k, ProblemKind::VariationType("bool")),
        ),
        (
            with(
                good_flag(),
                &["rules"],
                json!([{"clauses": [{"attribute": "a", "op": "frobnicates", "values": []}], "serve": {"variation": "on"}}]),
            ),
            "flags.bad.rules[0].clauses[0].op",
            |k| matches!(k, ProblemKind::UnknownOperator(_)),
        ),
        (
            with(
                good_flag(),
                &["fallthrough"],
                json!({"split": {"arms": [{"variation": "on", "weight": 60}, {"variation": "off", "weight": 30}]}}),
            ),
            "flags.bad.fallthrough.split.arms",
            |k| matches!(k, ProblemKind::WeightsSum { .. }),
        ),
        (
            with(
                good_flag(),
                &["fallthrough"],
                json!({"percentage": {"percent": 120, "variation": "on", "otherwise": "off"}}),
            ),
            "flags.bad.fallthrough.percentage.percent",
            |k| matches!(k, ProblemKind::InvalidNumber(_)),
        ),
        (
            with(
                good_flag(),
                &["rules"],
                json!([{"clauses": [{"attribute": "a", "op": "matches", "values": ["(unclosed"]}], "serve": {"variation": "on"}}]),
            ),
            "flags.bad.rules[0].clauses[0].values[0]",
            |k| matches!(k, ProblemKind::InvalidRegex(_)),
        ),
        (
            with(
                good_flag(),
                &["rules"],
                json!([{"clauses": [{"attribute": "v", "op": "semver_gt", "values": ["one.two"]}], "serve": {"variation": "on"}}]),
            ),
            "flags.bad.rules[0].clauses[0].values[0]",
            |k| matches!(k, ProblemKind::InvalidSemver(_)),
        ),
        (
            with(
                good_flag(),
                &["rules"],
                json!([{"clauses": [{"attribute": "t", "op": "before", "values": ["yesterday"]}], "serve": {"variation": "on"}}]),
            ),
            "flags.bad.rules[0].clauses[0].values[0]",
            |k| matches!(k, ProblemKind::InvalidTimestamp(_)),
        ),
        (
            with(
                good_flag(),
                &["rules"],
                json!([{"clauses": [{"attribute": "ip", "op": "in_cidr", "values": ["10.0.0.0/40"]}], "serve": {"variation": "on"}}]),
            ),
            "flags.bad.rules[0].clauses[0].values[0]",
            |k| matches!(k, ProblemKind::InvalidCidr(_)),
        ),
        (
            with(
                good_flag(),
                &["rules"],
                json!([{"clauses": [{"op": "in_segment", "values": ["nobody"]}], "serve": {"variation": "on"}}]),
            ),
            "flags.bad.rules[0].clauses[0].values[0]",
            |k| matches!(k, ProblemKind::UnknownSegment(_)),
        ),
        (
            with(
                good_flag(),
                &["prerequisites"],
                json!([{"flag": "ghost", "variations": ["on"]}]),
            ),
            "flags.bad.prerequisites[0].flag",
            |k| matches!(k, ProblemKind::UnknownFlag(_)),
        ),
        (
            with(
                good_flag(),
                &["rules"],
                json!([{"id": "x", "serve": {"variation": "on"}}, {"id": "x", "serve": {"variation": "on"}}]),
            ),
            "flags.bad.rules[1].id",
            |k| matches!(k, ProblemKind::DuplicateRuleId(_)),
        ),
        (
            with(
                good_flag(),
                &["fallthrough"],
                json!({"variation": "on", "split": {"arms": []}}),
            ),
            "flags.bad.fallthrough",
            |k| matches!(k, ProblemKind::Invalid(_)),
        ),
        (
            with(
                good_flag(),
                &["fallthrough"],
                json!({"phased": {"variation": "on", "otherwise": "off"}}),
            ),
            "flags.bad.fallthrough.phased",
            |k| matches!(k, ProblemKind::Invalid(_)),
        ),
        (
            with(
                good_flag(),
                &["rollout"],
                json!({"phases": [{"name": "a", "percent": 50}, {"name": "b", "percent": 10}]}),
            ),
            "flags.bad.rollout.phases[1]",
            |k| matches!(k, ProblemKind::Invalid(_)),
        ),
        (
            with(good_flag(), &["enabled"], json!("yes")),
            "flags.bad.enabled",
            |k| matches!(k, ProblemKind::WrongType { .. }),
        ),
        (json!({"type": "bool"}), "flags.bad.variations", |k| {
            matches!(k, ProblemKind::Missing)
        }),
    ];
    for (flag, path, kind) in cases {
        let problems = flag_problems(flag.clone());
        assert!(
            problems.iter().any(|(p, k)| p == path && kind(k)),
            "expected a problem at {path} for {flag}, got {problems:?}"
        );
    }
}

#[test]
fn nan_and_infinite_numbers_never_load() {
    // JSON cannot spell NaN; serde_json refuses overflowing literals.
    let raw = br#"{"format_version":1,"environment":"p","version":1,"flags":{"f":{"type":"float","variations":{"a":1e999},"off_variation":"a","fallthrough":{"variation":"a"}}}}"#;
    assert!(Document::parse(raw).is_err());
    let nan_weight = br#"{"format_version":1,"environment":"p","version":1,"flags":{"f":{"type":"bool","variations":{"a":true},"off_variation":"a","fallthrough":{"split":{"arms":[{"variation":"a","weight":"NaN"}]}}}}}"#;
    let d = Document::parse(nan_weight).unwrap();
    assert_eq!(
        d.problems()[0].path,
        "flags.f.fallthrough.split.arms[0].weight"
    );
}

#[test]
fn limits_are_enforced() {
    let limits = Limits {
        max_flags: 3,
        max_rules: 2,
        max_clause_values: 4,
        max_string_bytes: 16,
        max_regex_bytes: 8,
        max_variations: 2,
        ..Limits::default()
    };
    let p = |v: Value| Document::parse_with_limits(v.to_string().as_bytes(), &limits);
    let many: serde_json::Map<String, Value> =
        (0..4).map(|i| (format!("f{i}"), good_flag())).collect();
    assert!(
        matches!(p(base(Value::Object(many))), Err(ConfigError::Invalid(ref x)) if matches!(x[0].kind, ProblemKind::LimitExceeded { what: "flags", .. }))
    );
    let limit_of = |flag: Value| -> &'static str {
        let d = p(base(json!({"bad": flag}))).unwrap();
        match d.problems()[0].kind {
            ProblemKind::LimitExceeded { what, .. } => what,
            ref other => panic!("{other:?}"),
        }
    };
    let rule = json!({"serve": {"variation": "on"}});
    assert_eq!(
        limit_of(with(good_flag(), &["rules"], json!([rule, rule, rule]))),
        "rules"
    );
    assert_eq!(
        limit_of(with(
            good_flag(),
            &["rules"],
            json!([{"clauses": [{"attribute": "a", "op": "in", "values": [1, 2, 3, 4, 5]}], "serve": {"variation": "on"}}])
        )),
        "clause values"
    );
    assert_eq!(
        limit_of(with(
            good_flag(),
            &["rules"],
            json!([{"clauses": [{"attribute": "a", "op": "in", "values": ["a very long string value"]}], "serve": {"variation": "on"}}])
        )),
        "string length in bytes"
    );
    assert_eq!(
        limit_of(with(
            good_flag(),
            &["rules"],
            json!([{"clauses": [{"attribute": "a", "op": "matches", "values": ["(a|b|c)+d"]}], "serve": {"variation": "on"}}])
        )),
        "regex length in bytes"
    );
    assert_eq!(
        limit_of(with(good_flag(), &["variations", "third"], json!(true))),
        "variations"
    );
}

#[test]
fn pathological_regex_is_size_limited_and_linear() {
    // Counted repetition blows up the compiled program: refused by size.
    let flag = with(
        good_flag(),
        &["rules"],
        json!([{"clauses": [{"attribute": "a", "op": "matches", "values": ["(\\w{50}){50}"]}], "serve": {"variation": "on"}}]),
    );
    let d = parse(&base(json!({"bad": flag}))).unwrap();
    assert!(matches!(d.problems()[0].kind, ProblemKind::InvalidRegex(_)));
    // A classic catastrophic-backtracking pattern runs in linear time here.
    let flag = with(
        good_flag(),
        &["rules"],
        json!([{"clauses": [{"attribute": "a", "op": "matches", "values": ["^(a+)+$"]}], "serve": {"variation": "off"}}]),
    );
    let d = parse(&base(json!({"f": flag}))).unwrap();
    let input = "a".repeat(4000) + "!";
    let ctx = litegate::eval::Context::new("u").set("a", litegate::eval::AttrValue::String(input));
    let r = litegate::eval::Evaluator::new().bool_details(&d, "f", &ctx, false);
    assert!(r.value, "no match, so fallthrough `on`");
}

//! The published JSON Schema agrees with the parser: the bundled config and
//! every documented example validate, and documents the parser refuses for
//! shape reasons are refused by the schema too.

use serde_json::{json, Value};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn schema() -> jsonschema::Validator {
    let s: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("docs/config-schema.json")).unwrap(),
    )
    .unwrap();
    jsonschema::draft202012::new(&s).expect("schema compiles")
}

#[test]
fn bundled_config_validates_against_schema_and_parser() {
    let bytes = std::fs::read(root().join("examples/configs/rollout.json")).unwrap();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    let errors: Vec<String> = schema()
        .iter_errors(&v)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let doc = litegate::config::Document::parse(&bytes).unwrap();
    assert!(doc.problems().is_empty());
}

#[test]
fn schema_refuses_what_the_parser_refuses() {
    let v = schema();
    let base = |flags: Value| json!({"format_version": 1, "environment": "p", "version": 1, "flags": flags});
    let bad = [
        json!({"environment": "p", "version": 1}),
        json!({"format_version": 2, "environment": "p", "version": 1}),
        base(
            json!({"f": {"type": "date", "variations": {"a": 1}, "off_variation": "a", "fallthrough": {"variation": "a"}}}),
        ),
        base(json!({"f": {"type": "bool", "variations": {"a": true}, "off_variation": "a"}})),
        base(
            json!({"f": {"type": "bool", "variations": {"a": true}, "off_variation": "a",
            "rules": [{"clauses": [{"attribute": "x", "op": "frobnicates", "values": []}], "serve": {"variation": "a"}}],
            "fallthrough": {"variation": "a"}}}),
        ),
        base(
            json!({"f": {"type": "bool", "variations": {"a": true}, "off_variation": "a",
            "fallthrough": {"percentage": {"percent": 120, "variation": "a", "otherwise": "a"}}}}),
        ),
    ];
    for doc in bad {
        assert!(!v.is_valid(&doc), "schema accepted {doc}");
        let parsed = litegate::config::Document::parse(doc.to_string().as_bytes());
        assert!(
            parsed.is_err() || !parsed.unwrap().problems().is_empty(),
            "parser accepted {doc}"
        );
    }
}

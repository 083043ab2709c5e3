//! The operators and rule semantics added to express what peers' configs
//! express (Unleash, GrowthBook, LaunchDarkly; the table is in
//! docs/config-format.md), through documents parsed from JSON.

use litegate::config::Document;
use litegate::eval::{AttrValue, Context, Evaluator, Reason};
use serde_json::{json, Value};

fn doc(flags: Value) -> Document {
    let d = json!({"format_version": 1, "environment": "production", "version": 1, "flags": flags});
    let parsed = Document::parse(d.to_string().as_bytes()).expect("document parses");
    assert!(parsed.problems().is_empty(), "{:?}", parsed.problems());
    parsed
}

fn problems(flags: Value) -> Vec<String> {
    let d = json!({"format_version": 1, "environment": "production", "version": 1, "flags": flags});
    Document::parse(d.to_string().as_bytes())
        .expect("document parses")
        .problems()
        .iter()
        .map(|p| p.to_string())
        .collect()
}

fn clause_flag(clause: Value) -> Value {
    json!({"f": {
        "type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
        "rules": [{"id": "r", "clauses": [clause], "serve": {"variation": "on"}}],
        "fallthrough": {"variation": "off"}
    }})
}

fn matches(clause: Value, ctx: &Context) -> bool {
    let d = doc(clause_flag(clause));
    let det = Evaluator::new().bool_details(&d, "f", ctx, false);
    assert_eq!(det.error, None);
    det.value
}

fn strings(items: &[&str]) -> AttrValue {
    AttrValue::List(
        items
            .iter()
            .map(|s| AttrValue::String((*s).to_owned()))
            .collect(),
    )
}

#[test]
fn an_empty_list_is_a_present_value() {
    let none = Context::new("u").accelerators(Vec::<String>::new());
    let npu = Context::new("u").accelerators(["npu"]);
    let not_in = json!({"attribute": "accelerators", "op": "not_in", "values": ["npu"]});
    let is_in = json!({"attribute": "accelerators", "op": "in", "values": ["npu"]});
    assert!(matches(not_in.clone(), &none), "not_in on [] holds");
    assert!(!matches(is_in.clone(), &none));
    assert!(!matches(not_in, &npu));
    assert!(matches(is_in, &npu));

    let empty_tags = Context::new("u").set("tags", strings(&[]));
    let no_tags = Context::new("u");
    let not_in_tags = json!({"attribute": "tags", "op": "not_in", "values": ["vip"]});
    assert!(matches(not_in_tags.clone(), &empty_tags));
    // The documented choice stays: a missing attribute fails a negated clause.
    assert!(!matches(not_in_tags, &no_tags));
}

#[test]
fn present_and_absent() {
    let with = Context::new("u")
        .os("android")
        .set("tier", AttrValue::Number(0.0));
    let without = Context::new("u");
    for (attr, set) in [("os", true), ("tier", true), ("locale", false)] {
        let present = json!({"attribute": attr, "op": "present"});
        let absent = json!({"attribute": attr, "op": "absent", "values": []});
        assert_eq!(matches(present.clone(), &with), set, "{attr}");
        assert_eq!(matches(absent.clone(), &with), !set, "{attr}");
        assert!(!matches(present, &without), "{attr}");
        assert!(
            matches(absent, &without),
            "absent holds for a missing {attr}"
        );
    }
    let p = problems(clause_flag(
        json!({"attribute": "os", "op": "present", "values": ["x"]}),
    ));
    assert!(
        p.iter()
            .any(|p| p.contains("flags.f.rules[0].clauses[0].values")),
        "{p:?}"
    );
}

#[test]
fn string_ordering_by_code_point() {
    let ctx = |s: &str| Context::new("u").set("plan", AttrValue::String(s.to_owned()));
    let lt = |v: &str| json!({"attribute": "plan", "op": "str_lt", "values": [v]});
    assert!(
        matches(lt("a"), &ctx("B")),
        "'B' (66) sorts before 'a' (97)"
    );
    assert!(!matches(lt("B"), &ctx("a")));
    assert!(matches(lt("é"), &ctx("z")), "'z' (122) before 'é' (233)");
    assert!(!matches(lt("abc"), &ctx("abc")));
    assert!(matches(
        json!({"attribute": "plan", "op": "str_lte", "values": ["abc"]}),
        &ctx("abc")
    ));
    assert!(matches(
        json!({"attribute": "plan", "op": "str_gt", "values": ["ab"]}),
        &ctx("abc")
    ));
    assert!(matches(
        json!({"attribute": "plan", "op": "str_gte", "values": ["B"], "case_insensitive": true}),
        &ctx("b")
    ));
    // No coercion: a number is not ordered as text.
    let n = Context::new("u").set("plan", AttrValue::Number(5.0));
    assert!(!matches(lt("9"), &n));
}

#[test]
fn list_length_contains_any_all_and_list_equality() {
    let ctx = Context::new("u").set("tags", strings(&["beta", "vip"]));
    let scalar = Context::new("u").set("tags", AttrValue::String("beta".into()));
    let c = |op: &str, values: Value| json!({"attribute": "tags", "op": op, "values": values});
    assert!(matches(c("len_eq", json!([2])), &ctx));
    assert!(!matches(c("len_gt", json!([2])), &ctx));
    assert!(matches(c("len_gte", json!([2])), &ctx));
    assert!(matches(c("len_lt", json!([3])), &ctx));
    assert!(matches(c("contains_any", json!(["vip", "staff"])), &ctx));
    assert!(!matches(c("contains_any", json!(["staff"])), &ctx));
    assert!(matches(c("contains_all", json!(["vip", "beta"])), &ctx));
    assert!(!matches(c("contains_all", json!(["vip", "staff"])), &ctx));
    assert!(matches(
        c("not_contains_all", json!(["vip", "staff"])),
        &ctx
    ));
    assert!(matches(c("equals", json!([["beta", "vip"]])), &ctx));
    assert!(
        !matches(c("equals", json!([["vip", "beta"]])), &ctx),
        "order counts"
    );
    assert!(!matches(c("equals", json!([["beta"]])), &ctx));
    assert!(matches(
        c("equals", json!([["x"], ["BETA", "VIP"]]))
            .as_object()
            .cloned()
            .map(|mut m| {
                m.insert("case_insensitive".into(), json!(true));
                Value::Object(m)
            })
            .unwrap(),
        &ctx
    ));
    // A list operator on a scalar is a mismatch, negated or not.
    assert!(!matches(c("len_eq", json!([1])), &scalar));
    assert!(!matches(c("not_contains_any", json!(["x"])), &scalar));
    // Empty lists are values too.
    let empty = Context::new("u").set("tags", strings(&[]));
    assert!(matches(c("len_eq", json!([0])), &empty));
    assert!(matches(c("equals", json!([[]])), &empty));
    assert!(matches(c("contains_all", json!([])), &empty));
    // Numbers and bools compare without coercion.
    let mixed = Context::new("u").set(
        "tags",
        AttrValue::List(vec![AttrValue::Number(1.0), AttrValue::Bool(true)]),
    );
    assert!(matches(c("contains_all", json!([1, true])), &mixed));
    assert!(!matches(c("contains_any", json!(["1", "true"])), &mixed));
}

#[test]
fn objects_and_mixed_list_equality_are_refused_with_their_path() {
    let p = problems(clause_flag(
        json!({"attribute": "tags", "op": "equals", "values": [{"a": 1}]}),
    ));
    assert!(!p.is_empty());
    let p = problems(clause_flag(
        json!({"attribute": "tags", "op": "equals", "values": [["a"], "b"]}),
    ));
    assert!(
        p.iter()
            .any(|p| p.contains("flags.f.rules[0].clauses[0].values[1]")),
        "{p:?}"
    );
    let p = problems(clause_flag(
        json!({"attribute": "tags", "op": "contains_any", "values": [["nested"]]}),
    ));
    assert!(
        p.iter()
            .any(|p| p.contains("values[0]") && p.contains("no objects or nested lists")),
        "{p:?}"
    );
}

fn ored(fall_through: bool) -> Value {
    json!({"f": {
        "type": "string", "variations": {"a": "a", "b": "b", "off": "off"}, "off_variation": "off",
        "rules": [
            {"id": "first", "fall_through": fall_through,
             "clauses": [{"attribute": "os", "op": "in", "values": ["android"]}],
             "serve": {"percentage": {"percent": 0, "variation": "a", "otherwise": "off"}}},
            {"id": "second",
             "clauses": [{"attribute": "country", "op": "in", "values": ["US"]}],
             "serve": {"variation": "b"}}
        ],
        "fallthrough": {"variation": "off"}
    }})
}

#[test]
fn a_rule_can_let_contexts_outside_its_percentage_fall_through() {
    let ctx = Context::new("u").os("android").country("US");
    let stops = Evaluator::new().string_details(&doc(ored(false)), "f", &ctx, "x".into());
    assert_eq!(&*stops.value, "off");
    assert!(matches!(&stops.reason, Reason::RuleMatch { rule_id } if &**rule_id == "first"));

    let ored_doc = doc(ored(true));
    let falls = Evaluator::new().string_details(&ored_doc, "f", &ctx, "x".into());
    assert_eq!(&*falls.value, "b");
    assert!(matches!(&falls.reason, Reason::RuleMatch { rule_id } if &**rule_id == "second"));
    // Outside every rule it reaches the fallthrough.
    let other = Context::new("u").os("android").country("FR");
    let none = Evaluator::new().string_details(&ored_doc, "f", &other, "x".into());
    assert_eq!(none.reason, Reason::Fallthrough);

    // At 100% everyone matching stays in the first rule.
    let mut all = ored(true);
    all["f"]["rules"][0]["serve"]["percentage"]["percent"] = json!(100);
    let inside = Evaluator::new().string_details(&doc(all), "f", &ctx, "x".into());
    assert_eq!(&*inside.value, "a");

    let mut fixed = ored(true);
    fixed["f"]["rules"][0]["serve"] = json!({"variation": "a"});
    let p = problems(fixed);
    assert!(
        p.iter()
            .any(|p| p.contains("flags.f.rules[0].fall_through")),
        "{p:?}"
    );
}

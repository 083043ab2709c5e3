//! Property tests: arbitrary documents and contexts never panic the parser or
//! the evaluator, and evaluation invariants hold for any input.

use litegate::config::Document;
use litegate::eval::{bucket, AttrValue, Context, Evaluator, Reason, BUCKETS};
use proptest::prelude::*;
use serde_json::{json, Value};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|i| json!(i)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        "[a-z0-9 .@^$*+-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const OPS: &[&str] = &[
    "in",
    "not_in",
    "equals",
    "contains",
    "starts_with",
    "ends_with",
    "matches",
    "lt",
    "gte",
    "semver_lt",
    "semver_gte",
    "before",
    "after",
    "in_cidr",
    "in_segment",
    "bogus",
];
const ATTRS: &[&str] = &[
    "country",
    "app_version",
    "ram_mb",
    "tier",
    "ip",
    "tags",
    "missing",
    "key",
];

fn arb_clause() -> impl Strategy<Value = Value> {
    (
        prop::sample::select(ATTRS),
        prop::sample::select(OPS),
        prop::collection::vec(
            prop_oneof![
                "[A-Za-z0-9.]{0,6}".prop_map(Value::String),
                (0.0f64..10_000.0).prop_map(|f| json!(f)),
                Just(json!("10.0.0.0/8")),
                Just(json!("2026-01-01T00:00:00Z")),
                Just(json!("1.2.3")),
                Just(json!("seg")),
            ],
            0..4,
        ),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(a, op, values, negate, ci)| {
            json!({"attribute": a, "op": op, "values": values, "negate": negate, "case_insensitive": ci})
        })
}

fn arb_serve() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(&["on", "off", "ghost"][..]).prop_map(|v| json!({"variation": v})),
        (0.0f64..120.0).prop_map(|p| json!({"percentage": {"percent": p, "variation": "on", "otherwise": "off"}})),
        (0u32..=100).prop_map(|w| json!({"split": {"arms": [{"variation": "on", "weight": w}, {"variation": "off", "weight": 100 - w}]}})),
    ]
}

fn arb_flag() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec((prop::collection::vec(arb_clause(), 0..4), arb_serve()), 0..5),
        arb_serve(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(rules, fallthrough, enabled, kill)| {
            let rules: Vec<Value> = rules
                .into_iter()
                .enumerate()
                .map(|(i, (clauses, serve))| json!({"id": format!("r{i}"), "clauses": clauses, "serve": serve}))
                .collect();
            json!({"type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
                   "enabled": enabled, "kill_switch": {"active": kill, "reason": "k"},
                   "rules": rules, "fallthrough": fallthrough})
        })
}

fn arb_context() -> impl Strategy<Value = Context> {
    (
        "[a-z0-9-]{0,10}",
        prop::option::of("[A-Z]{2}"),
        prop::option::of("[0-9]{1,2}\\.[0-9]{1,2}(\\.[0-9])?"),
        prop::option::of(0.0f64..20_000.0),
        prop::option::of("[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}"),
    )
        .prop_map(|(key, country, version, ram, ip)| {
            let mut c = Context::new(key);
            if let Some(x) = country {
                c = c.country(x);
            }
            if let Some(x) = version {
                c = c.app_version(x);
            }
            if let Some(x) = ram {
                c = c.ram_mb(x);
            }
            if let Some(x) = ip {
                c = c.set("ip", AttrValue::String(x));
            }
            c.set(
                "tags",
                AttrValue::List(vec![
                    AttrValue::String("vip".into()),
                    AttrValue::Number(3.0),
                ]),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics(v in arb_json()) {
        let _ = Document::parse(v.to_string().as_bytes());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Document::parse(&bytes);
    }

    #[test]
    fn generated_flags_evaluate_without_panicking(flags in prop::collection::vec(arb_flag(), 1..4), ctx in arb_context()) {
        let mut map = serde_json::Map::new();
        for (i, f) in flags.into_iter().enumerate() {
            map.insert(format!("f{i}"), f);
        }
        let doc = json!({"format_version": 1, "environment": "p", "version": 1,
            "segments": {"seg": {"included": ["a"], "clauses": [{"attribute": "country", "op": "in", "values": ["US"]}]}},
            "flags": map});
        if let Ok(d) = Document::parse(doc.to_string().as_bytes()) {
            let e = Evaluator::new();
            for key in d.flag_keys().map(str::to_owned).collect::<Vec<_>>() {
                let r = e.bool_details(&d, &key, &ctx, false);
                // Invariants: an error keeps the default and names a code;
                // a served value always names its variation.
                match r.reason {
                    Reason::Error => prop_assert!(r.error.is_some() && r.variation.is_none() && !r.value),
                    _ => prop_assert!(r.error.is_none() && r.variation.is_some()),
                }
                if let Some(b) = r.bucket {
                    prop_assert!(b < BUCKETS);
                }
            }
        }
    }

    #[test]
    fn buckets_are_stable_and_in_range(salt in ".{0,40}", id in ".{0,300}") {
        let b = bucket(&salt, id.as_bytes());
        prop_assert!(b < BUCKETS);
        prop_assert_eq!(b, bucket(&salt, id.as_bytes()));
    }

    #[test]
    fn percentages_are_monotone(id in "[a-z0-9-]{1,20}", lo in 0.0f64..100.0, hi in 0.0f64..100.0) {
        let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        let mk = |p: f64| {
            let d = json!({"format_version": 1, "environment": "p", "version": 1, "flags": {"f": {
                "type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
                "fallthrough": {"percentage": {"percent": p, "variation": "on", "otherwise": "off"}}}}});
            Document::parse(d.to_string().as_bytes()).unwrap()
        };
        let ctx = Context::new(id);
        let in_lo = Evaluator::new().bool_details(&mk(lo), "f", &ctx, false).value;
        let in_hi = Evaluator::new().bool_details(&mk(hi), "f", &ctx, false).value;
        prop_assert!(!in_lo || in_hi);
    }
}

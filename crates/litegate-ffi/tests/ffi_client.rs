//! The exported API as Swift and Kotlin see it, exercised from Rust. The
//! Kotlin JUnit tests (`bindings/kotlin/src/test`) and the XCTest tests
//! (`bindings/swift/Tests`) mirror these names.

use litegate_ffi::{
    AttributeValue, ClientOptions, ErrorCode, EvaluationContext, FlagValue, LiteGateClient,
    LiteGateError, Reason,
};
use std::collections::HashMap;
use std::sync::Arc;

const REASONS: &[u8] = include_bytes!("fixtures/reasons.json");
const GLOBAL_DISABLE: &[u8] = include_bytes!("fixtures/global_disable.json");

fn client_with(bootstrap: Option<&[u8]>) -> Arc<LiteGateClient> {
    let mut options = ClientOptions::new("dev.litegate.tests".into(), "production".into());
    options.bootstrap = bootstrap.map(<[u8]>::to_vec);
    LiteGateClient::start(options).expect("client starts")
}

fn user(key: &str) -> EvaluationContext {
    EvaluationContext {
        targeting_key: key.into(),
        ..Default::default()
    }
}

#[test]
fn fallthrough_serves_the_fixed_variation() {
    let d = client_with(Some(REASONS)).bool_details("fixed_on".into(), false, None);
    assert!(d.value);
    assert_eq!(d.variation.as_deref(), Some("on"));
    assert_eq!(d.reason, Reason::Fallthrough);
    assert_eq!(d.error_code, None);
}

#[test]
fn target_match_for_a_listed_key() {
    let client = client_with(Some(REASONS));
    let d = client.string_details("targeted".into(), "none".into(), Some(user("qa-alice")));
    assert_eq!(d.value, "beta");
    assert_eq!(d.reason, Reason::TargetMatch);
    let d = client.string_details("targeted".into(), "none".into(), Some(user("bob")));
    assert_eq!(d.value, "alpha");
    assert_eq!(d.reason, Reason::Fallthrough);
}

#[test]
fn rule_match_on_number_version_and_custom_attributes() {
    let client = client_with(Some(REASONS));
    let ram = EvaluationContext {
        ram_mb: Some(8192.0),
        ..user("u")
    };
    let d = client.int_details("by_rule".into(), 0, Some(ram));
    assert_eq!(d.value, 8);
    assert_eq!(
        d.reason,
        Reason::RuleMatch {
            rule_id: "high-ram".into()
        }
    );

    let app = EvaluationContext {
        app_version: Some("5.10".into()),
        ..user("u")
    };
    let d = client.int_details("by_rule".into(), 0, Some(app));
    assert_eq!(
        d.reason,
        Reason::RuleMatch {
            rule_id: "new-app".into()
        }
    );

    let gold = EvaluationContext {
        custom: HashMap::from([(
            "tier".into(),
            AttributeValue::Text {
                value: "gold".into(),
            },
        )]),
        ..user("u")
    };
    let d = client.int_details("by_rule".into(), 0, Some(gold));
    assert_eq!(
        d.reason,
        Reason::RuleMatch {
            rule_id: "gold-tier".into()
        }
    );

    let d = client.int_details("by_rule".into(), 0, Some(user("u")));
    assert_eq!((d.value, d.reason), (1, Reason::Fallthrough));
}

#[test]
fn split_buckets_the_targeting_key() {
    let client = client_with(Some(REASONS));
    let d = client.float_details("split_half".into(), 0.0, Some(user("user-3")));
    assert_eq!(d.reason, Reason::Split);
    assert_eq!(d.value, 0.75);
    let bucket = d.bucket.expect("a split reports the bucket");
    assert!(bucket < 50_000, "bucket {bucket}");
    let d = client.float_details("split_half".into(), 0.0, Some(user("user-1")));
    assert_eq!(d.value, 0.25);
    assert!(d.bucket.expect("bucket") >= 50_000);
}

#[test]
fn off_kill_switch_and_prerequisite_serve_the_off_variation() {
    let client = client_with(Some(REASONS));
    let d = client.bool_details("disabled".into(), true, None);
    assert_eq!((d.value, d.reason), (false, Reason::Off));
    let d = client.bool_details("killed".into(), true, None);
    assert_eq!(
        d.reason,
        Reason::KillSwitch {
            reason: "crash spike".into()
        }
    );
    assert!(!d.value);
    let d = client.bool_details("needs_disabled".into(), true, None);
    assert_eq!(
        d.reason,
        Reason::PrerequisiteFailed {
            flag: "disabled".into()
        }
    );
}

#[test]
fn global_disable_turns_every_flag_off() {
    let client = client_with(Some(GLOBAL_DISABLE));
    let d = client.bool_details("fixed_on".into(), true, None);
    assert_eq!(
        d.reason,
        Reason::GlobalDisable {
            reason: "incident 42".into()
        }
    );
    assert!(!d.value);
    assert_eq!(client.config_version(), Some(8));
}

#[test]
fn override_wins_until_cleared() {
    let client = client_with(Some(REASONS));
    client.set_override("fixed_on".into(), "off".into());
    let d = client.bool_details("fixed_on".into(), true, None);
    assert_eq!((d.value, d.reason), (false, Reason::Override));
    client.clear_overrides();
    assert_eq!(
        client.bool_details("fixed_on".into(), false, None).reason,
        Reason::Fallthrough
    );
}

#[test]
fn not_ready_without_a_config() {
    let client = client_with(None);
    let d = client.bool_details("fixed_on".into(), true, None);
    assert_eq!(d.reason, Reason::NotReady);
    assert_eq!(d.error_code, Some(ErrorCode::ProviderNotReady));
    assert!(d.value);
    assert_eq!(client.config_version(), None);
}

#[test]
fn error_codes_return_the_default() {
    let client = client_with(Some(REASONS));
    let d = client.bool_details("nope".into(), true, None);
    assert_eq!(
        (d.reason, d.error_code),
        (Reason::Error, Some(ErrorCode::FlagNotFound))
    );
    let d = client.string_details("fixed_on".into(), "dflt".into(), None);
    assert_eq!(d.error_code, Some(ErrorCode::TypeMismatch));
    assert_eq!(d.value, "dflt");
    let d = client.bool_details("broken".into(), true, None);
    assert_eq!(d.error_code, Some(ErrorCode::MalformedFlag));
    let bad = EvaluationContext {
        app_version: Some("five".into()),
        custom: HashMap::from([(
            "v".into(),
            AttributeValue::Version {
                value: "x.y".into(),
            },
        )]),
        ..user("u")
    };
    let d = client.int_details("by_rule".into(), 3, Some(bad));
    assert_eq!(
        (d.value, d.error_code),
        (3, Some(ErrorCode::InvalidContext))
    );
}

#[test]
fn json_and_any_type_values() {
    let client = client_with(Some(REASONS));
    let json: serde_json::Value =
        serde_json::from_str(&client.json_value("model_params".into(), "{}".into())).unwrap();
    assert_eq!(json["threshold"], 0.5);
    assert_eq!(
        client.json_value("nope".into(), "not json".into()),
        "not json"
    );
    let d = client.value_details("targeted".into(), None);
    assert_eq!(
        d.value,
        Some(FlagValue::TextValue {
            value: "alpha".into()
        })
    );
    assert_eq!(client.value_details("nope".into(), None).value, None);
}

#[test]
fn default_context_is_used_and_round_trips() {
    let client = client_with(Some(REASONS));
    let ctx = EvaluationContext {
        app_version: Some("6.0".into()),
        custom: HashMap::from([(
            "langs".into(),
            AttributeValue::Values {
                values: vec![AttributeValue::Text { value: "en".into() }],
            },
        )]),
        ..user("qa-alice")
    };
    client.set_context(ctx.clone()).unwrap();
    assert_eq!(client.context(), ctx);
    assert_eq!(
        client.string_value("targeted".into(), "none".into()),
        "beta"
    );
    assert_eq!(client.int_value("by_rule".into(), 0), 8);
}

#[test]
fn bad_bootstrap_config_is_an_error() {
    let mut options = ClientOptions::new("app".into(), "production".into());
    options.bootstrap = Some(b"{not json".to_vec());
    let e = LiteGateClient::start(options).unwrap_err();
    assert!(matches!(e, LiteGateError::BootstrapRefused { .. }), "{e:?}");
    assert!(e
        .to_string()
        .starts_with("the bootstrap config was refused: not valid JSON at line 1"));
}

#[test]
fn wrong_environment_is_an_error() {
    let mut options = ClientOptions::new("app".into(), "staging".into());
    options.bootstrap = Some(REASONS.to_vec());
    let e = LiteGateClient::start(options).unwrap_err();
    assert!(matches!(e, LiteGateError::WrongEnvironment { .. }), "{e:?}");
}

#[test]
fn invalid_options_are_errors() {
    let e =
        LiteGateClient::start(ClientOptions::new(String::new(), "production".into())).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid client option `app_id`: must not be empty"
    );
    let mut options = ClientOptions::new("app".into(), "production".into());
    options.poll_interval_seconds = 0;
    assert!(matches!(
        LiteGateClient::start(options),
        Err(LiteGateError::InvalidOption { .. })
    ));
    let client = client_with(Some(REASONS));
    let e = client
        .set_context(EvaluationContext {
            ram_mb: Some(f64::NAN),
            ..user("u")
        })
        .unwrap_err();
    assert!(matches!(e, LiteGateError::InvalidContext { .. }));
}

#[test]
fn eight_threads_evaluate_at_once() {
    let client = client_with(Some(REASONS));
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let client = client.clone();
            std::thread::spawn(move || {
                for i in 0..2_000 {
                    let key = format!("user-{t}-{i}");
                    let d = client.float_details("split_half".into(), 0.0, Some(user(&key)));
                    let bucket = d.bucket.expect("bucket");
                    let expected = if bucket < 50_000 { 0.75 } else { 0.25 };
                    assert_eq!(d.value, expected);
                    if i % 100 == 0 {
                        client.set_override("fixed_on".into(), "on".into());
                        client.clear_override("fixed_on".into());
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("no thread panicked");
    }
}

#[test]
fn wait_until_ready_without_a_url_is_an_error() {
    let client = client_with(Some(REASONS));
    let e = client.wait_until_ready(10).unwrap_err();
    assert!(matches!(e, LiteGateError::NotReady { .. }), "{e:?}");
    assert!(e.to_string().contains("no config URL"), "{e}");
}

#[test]
fn shutdown_is_safe_twice() {
    use litegate_ffi::ShutdownResult;
    let client = client_with(Some(REASONS));
    assert!(client.track("probe".into(), HashMap::new()));
    assert_eq!(client.shutdown(10_000), ShutdownResult::Stopped);
    assert_eq!(client.shutdown(10_000), ShutdownResult::AlreadyStopped);
    assert!(client.bool_value("fixed_on".into(), false));
    let status = client.status().unwrap();
    assert_eq!(status.config_version, Some(7));
    assert_eq!(
        status.config_source,
        Some(litegate_ffi::ConfigSource::Bootstrap)
    );
}

#[test]
fn models_not_in_the_config_are_errors() {
    let client = client_with(Some(REASONS));
    let e = client.load_model("face".into(), vec![1, 2, 3]).unwrap_err();
    assert!(matches!(e, LiteGateError::Model { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "model `face`: not in the config's `models` section (or no config is loaded)"
    );
}

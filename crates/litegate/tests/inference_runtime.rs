//! Runtime loading: missing library, wrong library (missing symbol), wrong
//! version; all typed errors, and a missing runtime makes runs
//! `Unavailable` instead of failing the app.

mod support;

use litegate::inference::engine::load_runtime;
use litegate::inference::runtime::litert::LiteRtRuntime;
use litegate::inference::runtime::{RuntimeLoadError, RuntimeLocator};
use litegate::inference::{
    EngineConfig, EngineKind, InferenceEngine, LoadOptions, ModelManifest, RunOutcome, Tensor,
};
use support::{runtimes, tiny_model};

#[test]
fn missing_library_is_not_found_and_runs_are_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("libLiteRt.so");
    let err = load_runtime(EngineKind::LiteRt, &RuntimeLocator::explicit(&missing)).unwrap_err();
    assert!(
        matches!(
            err,
            RuntimeLoadError::NotFound {
                env_var: "LITEGATE_LITERT_LIB",
                ..
            }
        ),
        "{err:?}"
    );
    let engine = InferenceEngine::new(EngineConfig {
        litert_library: RuntimeLocator::explicit(&missing),
        ..EngineConfig::default()
    });
    let bytes = tiny_model::add_model(&[1, 2], None);
    let runner = engine
        .load_with(
            &ModelManifest::for_bytes("m", "1", &bytes),
            &bytes,
            &LoadOptions {
                engine: Some(EngineKind::LiteRt),
                accelerator: None,
            },
        )
        .unwrap();
    match runner
        .run(&[Tensor::from_f32("a", vec![1, 2], &[1.0, 2.0])])
        .unwrap()
    {
        RunOutcome::Unavailable(u) => assert!(
            u.reasons[0].contains("runtime unavailable"),
            "{:?}",
            u.reasons
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_file_that_is_not_a_library_is_an_open_error() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("libLiteRt.so");
    std::fs::write(&fake, b"not an ELF").unwrap();
    let err = load_runtime(EngineKind::LiteRt, &RuntimeLocator::explicit(&fake)).unwrap_err();
    assert!(matches!(err, RuntimeLoadError::Open { .. }), "{err:?}");
}

#[test]
fn the_wrong_library_is_a_missing_symbol() {
    let Some(tflite) = runtimes::tflite_lib() else {
        return;
    };
    let Some(litert) = runtimes::litert_lib() else {
        return;
    };
    // The classic library does not export the CompiledModel API.
    let err = LiteRtRuntime::load(&tflite).unwrap_err();
    assert!(
        matches!(
            err,
            RuntimeLoadError::MissingSymbol {
                symbol: "LiteRtCreateCompiledModel",
                ..
            }
        ),
        "{err:?}"
    );
    // LiteRT does not export the classic API.
    let err = litegate::inference::runtime::tflite::TfLiteRuntime::load(&litert).unwrap_err();
    assert!(
        matches!(
            err,
            RuntimeLoadError::MissingSymbol {
                symbol: "TfLiteVersion",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn an_old_litert_version_is_refused_before_any_call() {
    let Some(litert) = runtimes::litert_lib() else {
        return;
    };
    // A copy of the library declared (by its VERSION file) as 2.1.4, whose
    // CreateModelFromBuffer has the pre-2.1.6 signature.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("libLiteRt.so");
    std::fs::copy(&litert, &copy).unwrap();
    std::fs::write(dir.path().join("VERSION"), "2.1.4\n").unwrap();
    let err = LiteRtRuntime::load(&copy).unwrap_err();
    match err {
        RuntimeLoadError::UnsupportedVersion { found, .. } => assert_eq!(found, "2.1.4"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn runtime_versions_are_probed() {
    let (Some(litert), Some(tflite)) = (runtimes::litert_lib(), runtimes::tflite_lib()) else {
        return;
    };
    let rt = load_runtime(EngineKind::TfLite, &RuntimeLocator::explicit(tflite)).unwrap();
    assert_eq!(rt.version(), "2.6.0");
    let rt = load_runtime(EngineKind::LiteRt, &RuntimeLocator::explicit(litert)).unwrap();
    assert!(rt.version().starts_with("2."), "{}", rt.version());
}

#[test]
fn locator_order_is_explicit_then_env_then_cache_then_bare_name() {
    let loc = RuntimeLocator::explicit("/x/libLiteRt.so");
    assert_eq!(
        loc.candidates(litegate::inference::runtime::RuntimeSource::LiteRt),
        vec![std::path::PathBuf::from("/x/libLiteRt.so")]
    );
    let loc = RuntimeLocator {
        explicit: None,
        ignore_env: true,
    };
    let c = loc.candidates(litegate::inference::runtime::RuntimeSource::TfLite);
    assert!(
        c[0].ends_with("runtimes/tflite-2.6.0/libtensorflowlite_c.so"),
        "{c:?}"
    );
    assert_eq!(
        c.last().unwrap(),
        &std::path::PathBuf::from("libtensorflowlite_c.so")
    );
}

//! Integrity: truncated, bit-flipped, empty, wrong-hash and random files
//! are refused with a typed error before any runtime sees them. Each case
//! runs in a child process so a crash would show as a failed exit.

mod support;

use litegate::inference::integrity::IntegrityError;
use litegate::inference::runtime::RuntimeLocator;
use litegate::inference::{
    EngineConfig, EngineKind, InferenceEngine, InferenceError, LoadOptions, ModelManifest,
};
use std::process::Command;
use support::{runtimes, tiny_model};

const CASE_VAR: &str = "LITEGATE_INTEGRITY_CASE";

fn good() -> Vec<u8> {
    tiny_model::add_model(&[1, 8], Some(&[1.0; 8]))
}

/// Runs one case in this process: loads the bytes on both engines and
/// prints the error kind.
fn run_case(case: &str) -> String {
    let bytes = good();
    let manifest = ModelManifest::for_bytes("m", "1", &bytes);
    let (manifest, data) = match case {
        "truncated" => (manifest, bytes[..bytes.len() / 2].to_vec()),
        "bitflip" => {
            let mut b = bytes.clone();
            let mid = b.len() / 2;
            b[mid] ^= 0x10;
            (manifest, b)
        }
        "empty" => (manifest, Vec::new()),
        "wronghash" => {
            let mut m = manifest;
            m.sha256 = "0".repeat(64);
            (m, bytes)
        }
        "random" => {
            let mut x: u32 = 0x1234_5678;
            let data: Vec<u8> = (0..4096)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            // Hash and size match: only the structure check can refuse it.
            (ModelManifest::for_bytes("m", "1", &data), data)
        }
        "notflite_header" => {
            let mut data = bytes.clone();
            data[4..8].copy_from_slice(b"XXXX");
            (ModelManifest::for_bytes("m", "1", &data), data)
        }
        other => panic!("unknown case {other}"),
    };
    let engine = InferenceEngine::new(EngineConfig {
        litert_library: runtimes::litert_lib()
            .map(RuntimeLocator::explicit)
            .unwrap_or_default(),
        tflite_library: runtimes::tflite_lib()
            .map(RuntimeLocator::explicit)
            .unwrap_or_default(),
        ..EngineConfig::default()
    });
    let mut kinds = Vec::new();
    for kind in [EngineKind::LiteRt, EngineKind::TfLite] {
        let opts = LoadOptions {
            engine: Some(kind),
            accelerator: None,
        };
        match engine.load_with(&manifest, &data, &opts) {
            Err(InferenceError::Integrity(e)) => kinds.push(e.kind().to_string()),
            Err(e) => kinds.push(format!("other:{e}")),
            Ok(_) => kinds.push("loaded".into()),
        }
    }
    kinds.join(",")
}

#[test]
fn child_entry() {
    // Only does work when spawned by `each_malformed_file_is_refused_in_a_child_process`.
    if let Ok(case) = std::env::var(CASE_VAR) {
        println!("RESULT={}", run_case(&case));
    }
}

#[test]
fn each_malformed_file_is_refused_in_a_child_process() {
    if runtimes::litert_lib().is_none() || runtimes::tflite_lib().is_none() {
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let expected = [
        ("truncated", "size_mismatch"),
        ("bitflip", "hash_mismatch"),
        ("empty", "empty"),
        ("wronghash", "hash_mismatch"),
        ("random", "not_a_model"),
        ("notflite_header", "not_a_model"),
    ];
    for (case, kind) in expected {
        let out = Command::new(&exe)
            .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
            .env(CASE_VAR, case)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{case}: child died: {:?}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout
            .lines()
            .find_map(|l| l.find("RESULT=").map(|i| l[i..].trim()))
            .unwrap_or("");
        assert_eq!(line, format!("RESULT={kind},{kind}"), "{case}");
    }
}

#[test]
fn good_bytes_pass_and_structure_check_is_unit_testable() {
    let bytes = good();
    let m = ModelManifest::for_bytes("m", "1", &bytes);
    assert_eq!(litegate::inference::integrity::verify(&m, &bytes), Ok(()));
    let err =
        litegate::inference::integrity::check_structure("m", b"0123456789abcdefghij").unwrap_err();
    assert!(matches!(err, IntegrityError::NotAModel { .. }));
}

//! Finds the runtimes and models that `cargo xtask setup` installs; skips
//! loudly when they are absent outside CI, fails inside CI.

#![allow(dead_code)]

use std::path::PathBuf;

fn cache() -> PathBuf {
    litegate::inference::runtime::cache_root()
}

fn require(path: PathBuf, what: &str) -> Option<PathBuf> {
    if path.is_file() {
        return Some(path);
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    if ci {
        panic!(
            "{what} missing at {} with CI set: run `cargo xtask setup`",
            path.display()
        );
    }
    // Written to the raw stderr handle, which the test harness does not
    // capture, so the skip is visible even for passing tests.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!! SKIPPED: {what} not found at {} — run `cargo xtask setup` !!!!!!!!\n",
        path.display()
    );
    None
}

pub fn litert_lib() -> Option<PathBuf> {
    let p = std::env::var_os("LITEGATE_LITERT_LIB")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache().join("runtimes/litert-2.3.0/libLiteRt.so"));
    require(p, "LiteRT 2.3.0 (libLiteRt.so)")
}

pub fn tflite_lib() -> Option<PathBuf> {
    let p = std::env::var_os("LITEGATE_TFLITE_LIB")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache().join("runtimes/tflite-2.6.0/libtensorflowlite_c.so"));
    require(p, "TensorFlow Lite 2.6.0 (libtensorflowlite_c.so)")
}

pub fn face_model() -> Option<PathBuf> {
    require(
        cache().join("models/face_detection_short_range.tflite"),
        "face_detection_short_range.tflite",
    )
}

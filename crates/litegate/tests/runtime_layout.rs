//! The runtime lookup against directories laid out as the distributions
//! apps ship lay them out (docs/inference.md), with the real LiteRT 2.3.0
//! and TensorFlow Lite C libraries copied under the distributions' names.

mod support;

use litegate::inference::runtime::layout::{self, Platform};
use litegate::inference::runtime::litert::LiteRtRuntime;
use litegate::inference::runtime::tflite::TfLiteRuntime;
use litegate::inference::runtime::RuntimeSource;
use litegate::inference::Accelerator;
use std::path::{Path, PathBuf};
use support::runtimes;

fn copy_to(from: &Path, dir: &Path, rel: &str) -> PathBuf {
    let to = dir.join(rel);
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, &to).unwrap();
    to
}

/// An APK's `lib/arm64-v8a/` after `litert` + `litert-gpu` 2.3.0: the
/// runtime and the GPU accelerator side by side, found by name and loaded.
#[test]
fn android_native_library_dir_gives_runtime_and_gpu_accelerator() {
    let Some(litert) = runtimes::litert_lib() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let lib = tmp.path().join("lib/arm64-v8a");
    copy_to(&litert, &lib, "libLiteRt.so");
    std::fs::copy(litert.with_file_name("VERSION"), lib.join("VERSION")).unwrap();
    // The desktop wheel's GPU accelerator stands in for the AAR's.
    let gpu = copy_to(
        &litert.with_file_name("libLiteRtWebGpuAccelerator.so"),
        &lib,
        "libLiteRtGpuAccelerator.so",
    );
    std::fs::write(lib.join("liblitegate_ffi.so"), b"").unwrap();

    let runtime = layout::runtime_in(&lib, RuntimeSource::LiteRt, Platform::Android).unwrap();
    assert_eq!(runtime, lib.join("libLiteRt.so"));
    let companions = layout::companions(&runtime, RuntimeSource::LiteRt, Platform::Android);
    assert_eq!(companions, vec![(Accelerator::Gpu, gpu.clone())]);
    let rt = LiteRtRuntime::load_with(&runtime, &companions).unwrap();
    assert_eq!(rt.gpu_accelerator_library(), Some(gpu.as_path()));
    assert!(rt.npu_accelerator_libraries().is_empty());
}

/// An iOS app's `Frameworks/` with the TensorFlowLiteC pod: the runtime in
/// its framework bundle, found and loaded; the Metal and Core ML delegate
/// frameworks are found beside it (their entry points exist only in the
/// real Apple builds, so here the delegates stay unavailable).
#[test]
fn ios_frameworks_give_runtime_and_delegate_bundles() {
    let Some(tflite) = runtimes::tflite_lib() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let fw = tmp.path().join("Frameworks");
    copy_to(&tflite, &fw, "TensorFlowLiteC.framework/TensorFlowLiteC");
    let metal = fw.join("TensorFlowLiteCMetal.framework/TensorFlowLiteCMetal");
    let coreml = fw.join("TensorFlowLiteCCoreML.framework/TensorFlowLiteCCoreML");
    for p in [&metal, &coreml] {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"not a library").unwrap();
    }
    let runtime = layout::runtime_in(&fw, RuntimeSource::TfLite, Platform::Ios).unwrap();
    let companions = layout::companions(&runtime, RuntimeSource::TfLite, Platform::Ios);
    assert_eq!(
        companions,
        vec![(Accelerator::Gpu, metal), (Accelerator::Npu, coreml)]
    );
    let rt = TfLiteRuntime::load_with(&runtime, &companions).unwrap();
    assert_eq!(rt.version().to_string(), "2.6.0");
    assert_eq!(rt.delegate_for(Accelerator::Npu), None);
}

/// Play services' TFLite only: nothing LiteGate can load, and it says so.
#[test]
fn play_services_only_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("libtensorflowlite_jni_gms_client.so"), b"").unwrap();
    for source in [RuntimeSource::LiteRt, RuntimeSource::TfLite] {
        assert_eq!(
            layout::runtime_in(tmp.path(), source, Platform::Android),
            None
        );
    }
    assert!(layout::play_services_in(tmp.path()).is_some());
    let err = litegate::inference::RuntimeLoadError::PlayServicesOnly {
        marker: tmp.path().join("libtensorflowlite_jni_gms_client.so"),
    };
    assert!(
        err.to_string().contains("com.google.ai.edge.litert:litert"),
        "{err}"
    );
}

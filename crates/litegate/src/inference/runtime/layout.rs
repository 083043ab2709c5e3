//! Where the LiteRT and TensorFlow Lite distributions that apps ship put
//! their libraries, and the lookup of a runtime's accelerators and delegates
//! in such a layout. Pure: paths and names only, no loading (the loaders in
//! [`super::litert`] and [`super::tflite`] open what this module finds).
//!
//! The file lists are recorded in `docs/inference.md` with their sources:
//!
//! | distribution | runtime | GPU | NPU |
//! |---|---|---|---|
//! | Android `com.google.ai.edge.litert:litert` (+ `litert-gpu` from 2.3.0) | `libLiteRt.so` | `libLiteRtGpuAccelerator.so`, `libLiteRtClGlAccelerator.so` | `libLiteRtDispatch_*.so` |
//! | Android `org.tensorflow:tensorflow-lite` / `litert` 1.x (+ `-gpu`) | `libtensorflowlite_jni.so` | `libtensorflowlite_gpu_jni.so` | (none) |
//! | iOS `TensorFlowLiteC` pod (+ `/Metal`, `/CoreML` subspecs) | `TensorFlowLiteC.framework` | `TensorFlowLiteCMetal.framework` | `TensorFlowLiteCCoreML.framework` |
//! | PyPI `ai-edge-litert` (desktop, tests) | `libLiteRt.so` | `libLiteRtWebGpuAccelerator.so` | (none) |
//!
//! On Android every library of every AAR lands in the app's one native
//! library directory (`lib/<abi>/` in the APK), and the system loader finds
//! it by soname; Google Play services' TFLite lives in Play services, not in
//! the app, and cannot be opened through the C API (see
//! [`PLAY_SERVICES_MARKERS`]). On iOS each is a framework bundle in the
//! app's `Frameworks/` directory.

use super::lookup::RuntimeSource;
use crate::inference::accel::Accelerator;
use std::path::{Path, PathBuf};

/// The platform whose distribution layout applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Platform {
    /// Android: AARs' `jni/<abi>/*.so` in the app's native library directory.
    Android,
    /// iOS: framework bundles in the app's `Frameworks/` directory.
    Ios,
    /// Linux, macOS, Windows: the library and its accelerators side by side.
    Desktop,
}

impl Platform {
    /// The platform this build runs on.
    pub fn current() -> Platform {
        match std::env::consts::OS {
            "android" => Platform::Android,
            "ios" => Platform::Ios,
            _ => Platform::Desktop,
        }
    }
}

/// Where one distribution puts its files, relative to the app's library
/// directory (Android, desktop) or `Frameworks/` directory (iOS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The runtime library, first match wins.
    pub runtime: &'static [&'static str],
    /// GPU accelerator (LiteRT) or delegate (TFLite) libraries.
    pub gpu: &'static [&'static str],
    /// NPU accelerators (LiteRT dispatch libraries) or delegates (Core ML).
    pub npu: &'static [&'static str],
}

/// Libraries that mean Google Play services' TFLite is the app's runtime:
/// the client library of `play-services-tflite-java`, which loads the
/// runtime from Play services through Java. LiteGate cannot use it.
pub const PLAY_SERVICES_MARKERS: &[&str] = &["libtensorflowlite_jni_gms_client.so"];

const ANDROID_LITERT: Layout = Layout {
    runtime: &["libLiteRt.so"],
    gpu: &["libLiteRtGpuAccelerator.so", "libLiteRtClGlAccelerator.so"],
    npu: &[
        "libLiteRtDispatch_Qualcomm.so",
        "libLiteRtDispatch_MediaTek.so",
        "libLiteRtDispatch_GoogleTensor.so",
    ],
};
const ANDROID_TFLITE: Layout = Layout {
    runtime: &["libtensorflowlite_c.so", "libtensorflowlite_jni.so"],
    gpu: &["libtensorflowlite_gpu_jni.so"],
    npu: &[],
};
/// No LiteRT 2.x framework for iOS apps is published; iOS apps ship
/// `TensorFlowLiteC` (the classic C API).
const IOS_LITERT: Layout = Layout {
    runtime: &[],
    gpu: &[],
    npu: &[],
};
const IOS_TFLITE: Layout = Layout {
    runtime: &["TensorFlowLiteC.framework/TensorFlowLiteC"],
    gpu: &["TensorFlowLiteCMetal.framework/TensorFlowLiteCMetal"],
    npu: &["TensorFlowLiteCCoreML.framework/TensorFlowLiteCCoreML"],
};
const DESKTOP_LITERT: Layout = Layout {
    runtime: &["libLiteRt.so", "libLiteRt.dylib", "LiteRt.dll"],
    gpu: &[
        "libLiteRtWebGpuAccelerator.so",
        "libLiteRtMetalAccelerator.dylib",
        "LiteRtWebGpuAccelerator.dll",
    ],
    npu: &[],
};
const DESKTOP_TFLITE: Layout = Layout {
    runtime: &[
        "libtensorflowlite_c.so",
        "libtensorflowlite_c.dylib",
        "tensorflowlite_c.dll",
    ],
    gpu: &[],
    npu: &[],
};

/// The layout of `source`'s distribution on `platform`.
pub fn layout(source: RuntimeSource, platform: Platform) -> Layout {
    match (source, platform) {
        (RuntimeSource::LiteRt, Platform::Android) => ANDROID_LITERT,
        (RuntimeSource::TfLite, Platform::Android) => ANDROID_TFLITE,
        (RuntimeSource::LiteRt, Platform::Ios) => IOS_LITERT,
        (RuntimeSource::TfLite, Platform::Ios) => IOS_TFLITE,
        (RuntimeSource::LiteRt, Platform::Desktop) => DESKTOP_LITERT,
        (RuntimeSource::TfLite, Platform::Desktop) => DESKTOP_TFLITE,
    }
}

/// The directory a layout is relative to, given the runtime library's path:
/// its directory, or on iOS the `Frameworks/` directory above its bundle.
fn base_dir(runtime: &Path, platform: Platform) -> Option<&Path> {
    let dir = runtime.parent()?;
    if platform == Platform::Ios
        && dir
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("framework"))
    {
        return dir.parent();
    }
    Some(dir)
}

/// The accelerator and delegate libraries of `source`'s distribution that
/// sit where that distribution puts them, next to the runtime at `runtime`:
/// at most one per accelerator for GPU, every NPU dispatch library found.
/// A bare runtime name (left to the system loader) has no directory, so
/// nothing is found beside it.
pub fn companions(
    runtime: &Path,
    source: RuntimeSource,
    platform: Platform,
) -> Vec<(Accelerator, PathBuf)> {
    let Some(dir) = base_dir(runtime, platform) else {
        return Vec::new();
    };
    if dir.as_os_str().is_empty() {
        return Vec::new();
    }
    let layout = layout(source, platform);
    let mut out = Vec::new();
    if let Some(gpu) = layout.gpu.iter().map(|n| dir.join(n)).find(|p| p.is_file()) {
        out.push((Accelerator::Gpu, gpu));
    }
    out.extend(
        layout
            .npu
            .iter()
            .map(|n| dir.join(n))
            .filter(|p| p.is_file())
            .map(|p| (Accelerator::Npu, p)),
    );
    out
}

/// The runtime library of `source` in an app's library directory (Android,
/// desktop) or `Frameworks/` directory (iOS), if that distribution is there.
pub fn runtime_in(dir: &Path, source: RuntimeSource, platform: Platform) -> Option<PathBuf> {
    layout(source, platform)
        .runtime
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// The Play services marker library in `dir`, if that is where the app's
/// TFLite comes from.
pub fn play_services_in(dir: &Path) -> Option<PathBuf> {
    PLAY_SERVICES_MARKERS
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// The directories an app's native libraries live in on this platform:
/// on Android the directory holding LiteGate's own library (the app's
/// native library directory, when the APK's libraries are extracted); on
/// iOS the `Frameworks/` directory next to the executable; elsewhere none.
pub fn app_library_dirs(platform: Platform, own_library: Option<&Path>) -> Vec<PathBuf> {
    match platform {
        Platform::Android => own_library
            .and_then(Path::parent)
            .filter(|d| d.is_dir())
            .map(|d| vec![d.to_path_buf()])
            .unwrap_or_default(),
        Platform::Ios => std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(|d| d.join("Frameworks")))
            .filter(|d| d.is_dir())
            .into_iter()
            .collect(),
        Platform::Desktop => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, rel: &str) -> PathBuf {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, b"").unwrap();
        p
    }

    #[test]
    fn android_litert_aars_in_one_native_library_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let lib = tmp.path().join("lib/arm64-v8a");
        let rt = touch(&lib, "libLiteRt.so");
        let gpu = touch(&lib, "libLiteRtGpuAccelerator.so");
        let qc = touch(&lib, "libLiteRtDispatch_Qualcomm.so");
        touch(&lib, "liblitegate_ffi.so");
        let found = runtime_in(&lib, RuntimeSource::LiteRt, Platform::Android);
        assert_eq!(found.as_deref(), Some(rt.as_path()));
        assert_eq!(
            companions(&rt, RuntimeSource::LiteRt, Platform::Android),
            vec![(Accelerator::Gpu, gpu), (Accelerator::Npu, qc)]
        );
        // LiteRT alone (no litert-gpu from 2.3.0 on): CPU only.
        let tmp2 = tempfile::tempdir().unwrap();
        let rt2 = touch(tmp2.path(), "libLiteRt.so");
        assert!(companions(&rt2, RuntimeSource::LiteRt, Platform::Android).is_empty());
    }

    #[test]
    fn ios_frameworks_with_metal_and_core_ml_delegates() {
        let tmp = tempfile::tempdir().unwrap();
        let fw = tmp.path().join("Frameworks");
        let rt = touch(&fw, "TensorFlowLiteC.framework/TensorFlowLiteC");
        let metal = touch(&fw, "TensorFlowLiteCMetal.framework/TensorFlowLiteCMetal");
        let coreml = touch(&fw, "TensorFlowLiteCCoreML.framework/TensorFlowLiteCCoreML");
        assert_eq!(
            runtime_in(&fw, RuntimeSource::TfLite, Platform::Ios).as_deref(),
            Some(rt.as_path())
        );
        assert_eq!(
            companions(&rt, RuntimeSource::TfLite, Platform::Ios),
            vec![(Accelerator::Gpu, metal), (Accelerator::Npu, coreml)]
        );
    }

    #[test]
    fn play_services_only_is_recognised() {
        let tmp = tempfile::tempdir().unwrap();
        let marker = touch(tmp.path(), "libtensorflowlite_jni_gms_client.so");
        assert_eq!(
            runtime_in(tmp.path(), RuntimeSource::TfLite, Platform::Android),
            None
        );
        assert_eq!(
            runtime_in(tmp.path(), RuntimeSource::LiteRt, Platform::Android),
            None
        );
        assert_eq!(play_services_in(tmp.path()), Some(marker));
    }

    #[test]
    fn bare_names_have_no_companions() {
        assert!(companions(
            Path::new("libLiteRt.so"),
            RuntimeSource::LiteRt,
            Platform::Android
        )
        .is_empty());
    }
}

//! Where runtime libraries are looked for: an explicit path, then an
//! environment variable, then the per-user cache that `cargo xtask setup`
//! fills, then where the distributions apps ship put them (the app's native
//! library directory on Android, its `Frameworks/` on iOS: see
//! [`super::layout`]), then the platform's conventional names.

use super::layout::{self, Platform};
use std::path::{Path, PathBuf};

/// Which library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeSource {
    /// LiteRT 2.x (`libLiteRt`).
    LiteRt,
    /// Classic TensorFlow Lite C API (`libtensorflowlite_c`).
    TfLite,
}

impl RuntimeSource {
    /// The environment variable that overrides the path.
    pub fn env_var(self) -> &'static str {
        match self {
            RuntimeSource::LiteRt => "LITEGATE_LITERT_LIB",
            RuntimeSource::TfLite => "LITEGATE_TFLITE_LIB",
        }
    }

    /// The platform's file name.
    pub fn file_name(self) -> &'static str {
        match (self, std::env::consts::OS) {
            (RuntimeSource::LiteRt, "macos" | "ios") => "libLiteRt.dylib",
            (RuntimeSource::LiteRt, "windows") => "LiteRt.dll",
            (RuntimeSource::LiteRt, _) => "libLiteRt.so",
            (RuntimeSource::TfLite, "macos") => "libtensorflowlite_c.dylib",
            (RuntimeSource::TfLite, "ios") => "TensorFlowLiteC.framework/TensorFlowLiteC",
            (RuntimeSource::TfLite, "windows") => "tensorflowlite_c.dll",
            (RuntimeSource::TfLite, _) => "libtensorflowlite_c.so",
        }
    }

    fn cache_subdirs(self) -> &'static [&'static str] {
        match self {
            RuntimeSource::LiteRt => &["litert-2.3.0"],
            RuntimeSource::TfLite => &["tflite-2.6.0"],
        }
    }
}

/// The per-user cache root: `$LITEGATE_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/litegate`, else `~/.cache/litegate`.
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("LITEGATE_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("litegate");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    PathBuf::from(home).join(".cache").join("litegate")
}

/// Resolves a runtime library's path.
#[derive(Debug, Clone, Default)]
pub struct RuntimeLocator {
    /// An explicit path that wins over everything else.
    pub explicit: Option<PathBuf>,
    /// Ignore environment variables (tests that need a clean slate).
    pub ignore_env: bool,
}

impl RuntimeLocator {
    /// A locator with an explicit path.
    pub fn explicit(path: impl Into<PathBuf>) -> RuntimeLocator {
        RuntimeLocator {
            explicit: Some(path.into()),
            ignore_env: false,
        }
    }

    /// The candidates, in order. Bare names (no directory) are left to the
    /// platform loader's own search.
    pub fn candidates(&self, source: RuntimeSource) -> Vec<PathBuf> {
        if let Some(path) = &self.explicit {
            return vec![path.clone()];
        }
        let mut out = Vec::new();
        if !self.ignore_env {
            if let Some(p) = std::env::var_os(source.env_var()) {
                return vec![PathBuf::from(p)];
            }
        }
        let runtimes = cache_root().join("runtimes");
        for sub in source.cache_subdirs() {
            out.push(runtimes.join(sub).join(source.file_name()));
        }
        let platform = Platform::current();
        let own = own_library_path();
        for dir in layout::app_library_dirs(platform, own.as_deref()) {
            for name in layout::layout(source, platform).runtime {
                out.push(dir.join(name));
            }
        }
        if platform == Platform::Android {
            // The system loader finds every AAR's library by soname in the
            // app's namespace, extracted or not.
            for name in layout::layout(source, platform).runtime {
                let bare = PathBuf::from(name);
                if !out.contains(&bare) {
                    out.push(bare);
                }
            }
        }
        let bare = PathBuf::from(source.file_name());
        if !out.contains(&bare) {
            out.push(bare);
        }
        out
    }

    /// The library of Google Play services' TFLite client, when that is the
    /// only TFLite in the app's native library directory.
    pub fn play_services_only(&self) -> Option<PathBuf> {
        let platform = Platform::current();
        let own = own_library_path();
        layout::app_library_dirs(platform, own.as_deref())
            .iter()
            .find_map(|d| layout::play_services_in(d))
    }

    /// The first candidate that exists (bare names count as existing: the
    /// loader searches for them).
    pub fn resolve(&self, source: RuntimeSource) -> (Option<PathBuf>, Vec<PathBuf>) {
        let candidates = self.candidates(source);
        let found = candidates
            .iter()
            .find(|p| is_bare(p) || p.is_file())
            .cloned();
        (found, candidates)
    }
}

pub(crate) fn is_bare(path: &Path) -> bool {
    path.parent().is_none_or(|p| p.as_os_str().is_empty())
}

/// The path LiteGate's own library was loaded from (Android: inside the
/// app's native library directory), read from `/proc/self/maps`.
fn own_library_path() -> Option<PathBuf> {
    if Platform::current() != Platform::Android {
        return None;
    }
    // A bounded read: the map of a process is small, and only the first
    // mapping of our library is needed.
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.ends_with("/liblitegate_ffi.so"))
        .map(PathBuf::from)
}

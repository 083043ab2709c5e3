//! Files in the guardrail storage directory, written atomically: a temp file
//! in the same directory, flushed to disk, then renamed over the old one, so
//! a reader sees either the old or the new content, never a torn write.

use super::GuardrailError;
use serde::{de::DeserializeOwned, Serialize};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The persisted engine state.
pub(crate) const STATE_FILE: &str = "guardrails.json";
/// The session marker.
pub(crate) const SESSION_FILE: &str = "session.json";
/// Prefix of run markers (`run-<pid>-<n>.json`).
pub(crate) const RUN_PREFIX: &str = "run-";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> GuardrailError + '_ {
    move |source| GuardrailError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Writes `value` as JSON to `path` atomically.
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), GuardrailError> {
    let bytes = serde_json::to_vec(value).map_err(|e| GuardrailError::Encode {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    fs::rename(&tmp, path).map_err(io(path))?;
    // Make the rename itself durable; not every platform can open a
    // directory, so a failure here is not an error.
    if let Some(dir) = path.parent() {
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Outcome of reading a JSON file that may be absent or damaged.
pub(crate) enum Read<T> {
    Absent,
    Found(T),
    /// Unreadable content; the file was moved aside to `<name>.corrupt`.
    Corrupt(String),
}

/// Reads JSON from `path`. A damaged file is moved aside, never fatal.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Read<T>, GuardrailError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Read::Absent),
        Err(e) => return Err(io(path)(e)),
    };
    match serde_json::from_slice(&bytes) {
        Ok(v) => Ok(Read::Found(v)),
        Err(e) => {
            let mut aside = path.as_os_str().to_owned();
            aside.push(".corrupt");
            let _ = fs::rename(path, PathBuf::from(aside));
            Ok(Read::Corrupt(e.to_string()))
        }
    }
}

/// Removes a file; absent is fine.
pub(crate) fn remove(path: &Path) -> Result<(), GuardrailError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(path)(e)),
    }
}

/// Creates the directory if needed.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), GuardrailError> {
    fs::create_dir_all(dir).map_err(io(dir))
}

/// Run marker files left in `dir`.
pub(crate) fn run_markers(dir: &Path) -> Result<Vec<PathBuf>, GuardrailError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(RUN_PREFIX) && name.ends_with(".json") {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

//! The last-known-good config on disk: one file written atomically, with a
//! checksum, read back with every kind of damage detected.
//!
//! File layout (`<storage_dir>/litegate-config.v1`):
//!
//! ```text
//! LITEGATE-CONFIG 1
//! length: <body bytes>
//! etag: <ETag of the response, optional>
//! signature: <detached signature header, optional>
//! saved-at: <unix ms>
//! checksum: xxh3-64:<16 hex digits>
//!
//! <body: exactly `length` bytes>
//! ```
//!
//! The body is the verified document itself, with the signatures that came
//! with it (in an envelope or a header) on the `signature:` line, so that
//! start-up neither parses an envelope nor decodes base64. A body whose
//! signatures cannot be written that way, and files from earlier versions,
//! hold the body as received; both forms load.
//!
//! The checksum is XXH3-64 over every byte before the `checksum:` line plus
//! the body: it detects torn and truncated writes and bit rot, not tampering
//! (signatures do that, and they are checked again at load when keys are
//! pinned). XXH3 rather than SHA-256 because it is ~20x faster and start-up
//! from this file has a 5 ms budget.
//!
//! Writes go to a uniquely named temporary file in the same directory, are
//! fsynced, renamed over the target (atomic on POSIX and on NTFS), and the
//! directory is fsynced: a crash or a concurrent writer in another process
//! leaves either the old file or a complete new one, never a mix.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The cache file's name inside the storage directory.
pub const CACHE_FILE_NAME: &str = "litegate-config.v1";
const MAGIC: &str = "LITEGATE-CONFIG 1\n";
/// Header lines are short; anything longer is not ours.
const MAX_HEADER_BYTES: usize = 32 * 1024;

/// What the cache holds besides the body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CachedMeta {
    /// The response's ETag, for a conditional request after a restart.
    pub etag: Option<String>,
    /// The detached signature header that came with the body.
    pub signature_header: Option<String>,
    /// When it was saved (unix ms).
    pub saved_at_ms: i64,
}

/// A cache file read back intact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedBody {
    /// The body exactly as received.
    pub body: Vec<u8>,
    /// Its metadata.
    pub meta: CachedMeta,
}

/// Why the cache file was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// The file does not start with the LiteGate header.
    #[error("{path}: not a LiteGate config cache file")]
    Foreign {
        /// The file.
        path: PathBuf,
    },
    /// The file ends before the length its header promises.
    #[error("{path}: truncated: {found} of {expected} body bytes")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes promised.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// The header is malformed or the checksum does not match.
    #[error("{path}: corrupted: {reason}")]
    Corrupted {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file could not be read or written.
    #[error("{path}: {kind:?}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error kind.
        kind: io::ErrorKind,
        /// The OS message.
        message: String,
    },
}

impl CacheError {
    fn io(path: &Path, e: &io::Error) -> Self {
        CacheError::Io {
            path: path.to_owned(),
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

/// The cache file path for a storage directory.
pub fn cache_path(dir: &Path) -> PathBuf {
    dir.join(CACHE_FILE_NAME)
}

fn checksum(header: &[u8], body: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = twox_hash::XxHash3_64::new();
    h.write(header);
    h.write(body);
    h.finish()
}

/// Whether `v` can be stored as a header value (one printable line of at
/// most 8 KB: room for a few signatures during a key rotation). Values that
/// cannot are left out of the file.
pub fn header_value_fits(v: &str) -> bool {
    v.len() <= 8 * 1024 && v.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// Serialises a cache file (pure; see [`save`] for the atomic write).
pub fn encode(body: &[u8], meta: &CachedMeta) -> Vec<u8> {
    let mut header = String::from(MAGIC);
    header.push_str(&format!("length: {}\n", body.len()));
    if let Some(etag) = meta.etag.as_deref().filter(|v| header_value_fits(v)) {
        header.push_str(&format!("etag: {etag}\n"));
    }
    if let Some(sig) = meta
        .signature_header
        .as_deref()
        .filter(|v| header_value_fits(v))
    {
        header.push_str(&format!("signature: {sig}\n"));
    }
    header.push_str(&format!("saved-at: {}\n", meta.saved_at_ms));
    let sum = checksum(header.as_bytes(), body);
    let mut out = Vec::with_capacity(header.len() + 48 + body.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(format!("checksum: xxh3-64:{sum:016x}\n\n").as_bytes());
    out.extend_from_slice(body);
    out
}

/// Parses and checks a cache file's bytes (pure).
///
/// # Errors
/// [`CacheError::Foreign`], [`CacheError::Truncated`] or [`CacheError::Corrupted`].
pub fn decode(path: &Path, bytes: &[u8]) -> Result<CachedBody, CacheError> {
    let corrupted = |reason: &str| CacheError::Corrupted {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    if !bytes.starts_with(MAGIC.as_bytes()) {
        return Err(CacheError::Foreign {
            path: path.to_owned(),
        });
    }
    let search = &bytes[..bytes.len().min(MAX_HEADER_BYTES)];
    let Some(end) = search.windows(2).position(|w| w == b"\n\n") else {
        return Err(if bytes.len() < MAX_HEADER_BYTES {
            CacheError::Truncated {
                path: path.to_owned(),
                expected: 0,
                found: 0,
            }
        } else {
            corrupted("header has no end")
        });
    };
    let header =
        std::str::from_utf8(&bytes[..=end]).map_err(|_| corrupted("header is not UTF-8"))?;
    let body = &bytes[end + 2..];
    let checksum_at = header
        .find("\nchecksum: ")
        .ok_or_else(|| corrupted("no checksum line"))?
        + 1;
    let (mut length, mut expected_sum, mut meta) = (None, None, CachedMeta::default());
    for line in header[MAGIC.len()..].lines() {
        let Some((k, v)) = line.split_once(": ") else {
            return Err(corrupted("malformed header line"));
        };
        match k {
            "length" => length = v.parse::<usize>().ok(),
            "etag" => meta.etag = Some(v.to_owned()),
            "signature" => meta.signature_header = Some(v.to_owned()),
            "saved-at" => meta.saved_at_ms = v.parse().unwrap_or(0),
            "checksum" => {
                expected_sum = v
                    .strip_prefix("xxh3-64:")
                    .and_then(|h| u64::from_str_radix(h, 16).ok());
            }
            _ => {}
        }
    }
    let length = length.ok_or_else(|| corrupted("no valid length"))?;
    let expected_sum = expected_sum.ok_or_else(|| corrupted("no valid checksum"))?;
    if body.len() < length {
        return Err(CacheError::Truncated {
            path: path.to_owned(),
            expected: length,
            found: body.len(),
        });
    }
    if body.len() > length {
        return Err(corrupted("trailing bytes after the body"));
    }
    if checksum(&bytes[..checksum_at], body) != expected_sum {
        return Err(corrupted("checksum mismatch"));
    }
    Ok(CachedBody {
        body: body.to_vec(),
        meta,
    })
}

/// Room for the cache file's header lines on top of the body limit.
const HEADER_ALLOWANCE: usize = 64 * 1024;

/// Reads the cache from `dir`, with the default body limit (5 MiB, as
/// `HttpLimits::default().max_body_bytes`). `Ok(None)` when there is no
/// file.
///
/// # Errors
/// [`CacheError`] when a file is there but unusable.
pub fn load(dir: &Path) -> Result<Option<CachedBody>, CacheError> {
    load_limited(dir, 5 * 1024 * 1024)
}

/// Reads the cache from `dir`, refusing a body larger than `max_body_bytes`
/// without reading it. Only a regular file is read: a symlink (`O_NOFOLLOW`),
/// a FIFO, a device or a directory is refused without blocking
/// (`O_NONBLOCK`) and without reading past `max_body_bytes` plus 64 KiB.
/// `Ok(None)` when there is no file.
///
/// # Errors
/// [`CacheError`] when a file is there but unusable.
pub fn load_limited(dir: &Path, max_body_bytes: usize) -> Result<Option<CachedBody>, CacheError> {
    use std::io::Read;
    let path = cache_path(dir);
    let file = match open_regular(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CacheError::io(&path, &e)),
    };
    let cap = max_body_bytes.saturating_add(HEADER_ALLOWANCE);
    let len = file
        .metadata()
        .map_err(|e| CacheError::io(&path, &e))?
        .len();
    if len > cap as u64 {
        return Err(CacheError::Corrupted {
            path,
            reason: format!("{len} bytes, more than the limit of {cap}"),
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    // `take` bounds the read even if the file grows meanwhile.
    file.take(cap as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CacheError::io(&path, &e))?;
    if bytes.len() > cap {
        return Err(CacheError::Corrupted {
            path,
            reason: format!("more than the limit of {cap} bytes"),
        });
    }
    decode(&path, &bytes).map(Some)
}

/// The file, beside the cache file, that remembers the highest document
/// version this storage directory has applied, so that an older (validly
/// signed) cache file put back in place is refused at start.
pub const HIGHEST_FILE_NAME: &str = "litegate-config.highest";

/// The highest version applied from `dir`, if recorded and readable (a
/// regular file of at most 32 bytes).
pub fn load_highest(dir: &Path) -> Option<u64> {
    use std::io::Read;
    let file = open_regular(&dir.join(HIGHEST_FILE_NAME)).ok()?;
    let mut text = String::new();
    file.take(32).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// Records `version` as the highest applied from `dir` (unless a higher one
/// is recorded): written to a temporary file, fsynced and renamed.
///
/// # Errors
/// [`CacheError::Io`].
pub fn save_highest(dir: &Path, version: u64) -> Result<(), CacheError> {
    if load_highest(dir).is_some_and(|h| h >= version) {
        return Ok(());
    }
    let path = dir.join(HIGHEST_FILE_NAME);
    let tmp = dir.join(format!(
        ".{HIGHEST_FILE_NAME}.{}.{:016x}.tmp",
        std::process::id(),
        rand::random::<u64>()
    ));
    let write = || -> io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(format!("{version}\n").as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, &path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        CacheError::io(&path, &e)
    })
}

/// Opens `path` for reading only if it is a regular file: never follows a
/// symlink, never blocks on a FIFO.
fn open_regular(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    #[cfg(not(unix))]
    {
        if fs::symlink_metadata(path)?.file_type().is_symlink() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a symlink"));
        }
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(file)
}

/// Writes the cache atomically: unique temp file, fsync, rename, fsync dir.
///
/// # Errors
/// [`CacheError::Io`]; the previous file is then untouched.
pub fn save(dir: &Path, body: &[u8], meta: &CachedMeta) -> Result<(), CacheError> {
    let path = cache_path(dir);
    let tmp = dir.join(format!(
        ".{CACHE_FILE_NAME}.{}.{:016x}.tmp",
        std::process::id(),
        rand::random::<u64>()
    ));
    let result = write_then_rename(&tmp, &path, &encode(body, meta));
    if result.is_err() {
        // Best effort: do not leave temp files behind.
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|e| CacheError::io(&path, &e))?;
    sync_dir(dir);
    Ok(())
}

fn write_then_rename(tmp: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f: File = OpenOptions::new().write(true).create_new(true).open(tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(tmp, path)
}

/// Makes the rename durable. Some platforms and file systems cannot open or
/// sync a directory; the rename is still atomic there, so failure is ignored.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> CachedMeta {
        CachedMeta {
            etag: Some("\"v7\"".into()),
            signature_header: None,
            saved_at_ms: 42,
        }
    }

    #[test]
    fn round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        save(dir.path(), b"{\"a\":1}", &meta()).expect("save");
        let got = load(dir.path()).expect("load").expect("present");
        assert_eq!(got.body, b"{\"a\":1}");
        assert_eq!(got.meta, meta());
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .expect("ls")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn every_kind_of_damage_is_detected() {
        let p = Path::new("x");
        let good = encode(b"0123456789", &meta());
        assert!(decode(p, &good).is_ok());
        for cut in [5, MAGIC.len() + 3, good.len() - 1] {
            let e = decode(p, &good[..cut]).expect_err("truncated");
            assert!(
                matches!(e, CacheError::Truncated { .. } | CacheError::Foreign { .. }),
                "{cut}: {e}"
            );
        }
        for i in MAGIC.len()..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            assert!(decode(p, &bad).is_err(), "flip at {i} went unnoticed");
        }
        let mut long = good.clone();
        long.push(b'x');
        assert!(matches!(
            decode(p, &long),
            Err(CacheError::Corrupted { .. })
        ));
        assert!(matches!(
            decode(p, b"{\"format_version\":1}"),
            Err(CacheError::Foreign { .. })
        ));
        assert!(matches!(decode(p, b""), Err(CacheError::Foreign { .. })));
    }
}

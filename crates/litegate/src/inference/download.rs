//! Model download and the on-disk model cache.
//!
//! A download resumes from a partial file with an HTTP `Range` request,
//! stops as soon as more bytes arrive than the manifest's size, and is
//! verified (size, SHA-256, header) before it is moved into the cache. The
//! cache keeps at most `budget_bytes` of models and evicts the least
//! recently used first. `fetch` is async: the caller's thread never waits
//! on the network.

use super::integrity::{self, IntegrityError};
use super::manifest::ModelManifest;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use tokio::io::AsyncWriteExt;

/// Why a model could not be fetched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DownloadError {
    /// The manifest has no URL and the model is not cached.
    #[error("model `{key}` has no url and is not in the cache")]
    NoUrl {
        /// Model key.
        key: String,
    },
    /// The model alone is larger than the cache budget.
    #[error("model `{key}` ({size} bytes) exceeds the cache budget of {budget} bytes")]
    TooLarge {
        /// Model key.
        key: String,
        /// Its size.
        size: u64,
        /// The budget.
        budget: u64,
    },
    /// The server sent more bytes than the manifest's size.
    #[error("model `{key}`: server sent more than the expected {expected} bytes")]
    SizeExceeded {
        /// Model key.
        key: String,
        /// Manifest size.
        expected: u64,
    },
    /// The server answered with an error status.
    #[error("model `{key}`: HTTP {status} ({}) from {url}", crate::display::http_reason(*status))]
    Status {
        /// Model key.
        key: String,
        /// HTTP status.
        status: u16,
        /// The URL.
        url: String,
    },
    /// Network failure (the partial file is kept for the next attempt).
    #[error("model `{key}`: network error: {message}")]
    Network {
        /// Model key.
        key: String,
        /// The transport's message.
        message: String,
    },
    /// The downloaded bytes do not match the manifest (deleted).
    #[error(transparent)]
    Integrity(#[from] IntegrityError),
    /// Local file system failure.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        message: String,
    },
}

fn io_err(path: &Path, e: std::io::Error) -> DownloadError {
    DownloadError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The model cache directory with its byte budget.
#[derive(Debug, Clone)]
pub struct ModelCache {
    dir: PathBuf,
    budget_bytes: u64,
    client: reqwest::Client,
}

impl ModelCache {
    /// A cache in `dir` holding at most `budget_bytes` of models.
    pub fn new(dir: impl Into<PathBuf>, budget_bytes: u64) -> ModelCache {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .timeout(Duration::from_secs(600))
            .build()
            .unwrap_or_default();
        ModelCache {
            dir: dir.into(),
            budget_bytes,
            client,
        }
    }

    /// The file a verified model lives in.
    pub fn path_for(&self, m: &ModelManifest) -> PathBuf {
        self.dir.join(file_name(m))
    }

    fn partial_for(&self, m: &ModelManifest) -> PathBuf {
        self.dir
            .join("partial")
            .join(format!("{}.part", file_name(m)))
    }

    /// The cached bytes, verified again (a file damaged on disk is deleted
    /// and reported as absent). Marks the model as recently used.
    pub fn cached(&self, m: &ModelManifest) -> Option<Vec<u8>> {
        let path = self.path_for(m);
        let bytes = std::fs::read(&path).ok()?;
        if integrity::verify(m, &bytes).is_err() {
            let _ = std::fs::remove_file(&path);
            return None;
        }
        touch(&path);
        Some(bytes)
    }

    /// The cached model, or a download of it.
    ///
    /// # Errors
    /// [`DownloadError`]; a network error keeps the partial file so the
    /// next call resumes.
    pub async fn fetch(&self, m: &ModelManifest) -> Result<Vec<u8>, DownloadError> {
        if let Some(bytes) = self.cached(m) {
            return Ok(bytes);
        }
        let url = m
            .url
            .clone()
            .ok_or_else(|| DownloadError::NoUrl { key: m.key.clone() })?;
        if m.size > self.budget_bytes {
            return Err(DownloadError::TooLarge {
                key: m.key.clone(),
                size: m.size,
                budget: self.budget_bytes,
            });
        }
        let part = self.partial_for(m);
        if let Some(dir) = part.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| io_err(dir, e))?;
        }
        let have = tokio::fs::metadata(&part)
            .await
            .map(|md| md.len())
            .unwrap_or(0);
        if have < m.size {
            self.download(m, &url, &part, have).await?;
        }
        let bytes = tokio::fs::read(&part).await.map_err(|e| io_err(&part, e))?;
        if let Err(e) = integrity::verify(m, &bytes) {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(e.into());
        }
        self.evict_for(m.size, &self.path_for(m));
        let dest = self.path_for(m);
        tokio::fs::rename(&part, &dest)
            .await
            .map_err(|e| io_err(&dest, e))?;
        Ok(bytes)
    }

    async fn download(
        &self,
        m: &ModelManifest,
        url: &str,
        part: &Path,
        have: u64,
    ) -> Result<(), DownloadError> {
        let net = |e: reqwest::Error| DownloadError::Network {
            key: m.key.clone(),
            message: e.to_string(),
        };
        let mut req = self.client.get(url);
        if have > 0 {
            req = req.header(reqwest::header::RANGE, format!("bytes={have}-"));
        }
        let mut resp = req.send().await.map_err(net)?;
        let status = resp.status();
        let resumed = status == reqwest::StatusCode::PARTIAL_CONTENT;
        if !status.is_success() {
            return Err(DownloadError::Status {
                key: m.key.clone(),
                status: status.as_u16(),
                url: url.into(),
            });
        }
        // A 200 to a range request means the server restarted from byte 0.
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(resumed)
            .truncate(!resumed)
            .open(part)
            .await
            .map_err(|e| io_err(part, e))?;
        let mut written = if resumed { have } else { 0 };
        while let Some(chunk) = resp.chunk().await.map_err(net)? {
            written += chunk.len() as u64;
            if written > m.size {
                drop(file);
                let _ = tokio::fs::remove_file(part).await;
                return Err(DownloadError::SizeExceeded {
                    key: m.key.clone(),
                    expected: m.size,
                });
            }
            file.write_all(&chunk).await.map_err(|e| io_err(part, e))?;
        }
        file.flush().await.map_err(|e| io_err(part, e))?;
        Ok(())
    }

    /// Deletes least recently used models until `incoming` more bytes fit.
    fn evict_for(&self, incoming: u64, keep: &Path) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<(SystemTime, u64, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let md = e.metadata().ok()?;
                let path = e.path();
                (md.is_file() && path.extension().is_some_and(|x| x == "tflite") && path != keep)
                    .then(|| {
                        (
                            md.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                            md.len(),
                            path,
                        )
                    })
            })
            .collect();
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        files.sort_by_key(|f| f.0);
        for (_, len, path) in files {
            if total + incoming <= self.budget_bytes {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
    }

    /// Models in the cache, least recently used first.
    pub fn entries(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut files: Vec<(SystemTime, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "tflite"))
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        files.sort();
        files.into_iter().map(|f| f.1).collect()
    }
}

fn file_name(m: &ModelManifest) -> String {
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let short = m.sha256.get(..16).unwrap_or(&m.sha256);
    format!("{}-{}-{}.tflite", safe(&m.key), safe(&m.version), short)
}

fn touch(path: &Path) {
    if let Ok(f) = std::fs::File::options().append(true).open(path) {
        let _ = f.set_modified(SystemTime::now());
    }
}

//! The storage directory at start: created, then held with an advisory lock
//! (`<storage_dir>/litegate.lock`, `flock(LOCK_EX | LOCK_NB)`) for the
//! client's lifetime. When the directory cannot be created or written (a
//! read-only file system) or another process's client holds it, the client
//! runs memory-only: nothing is read from or written to the directory, and
//! `Client::status().memory_only` says why. Two clients on one directory
//! would otherwise lose each other's metric events and config cache silently.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// The lock file's name inside the storage directory.
pub const LOCK_FILE_NAME: &str = "litegate.lock";

/// What start-up may use.
#[derive(Debug)]
pub(crate) struct Storage {
    /// The directory to use; `None` without one or when memory-only.
    pub(crate) dir: Option<PathBuf>,
    /// Why the client runs memory-only despite a storage directory.
    pub(crate) memory_only: Option<String>,
    /// Held open until `release` (after a clean shutdown) or the client is
    /// dropped: closing it releases the lock.
    lock: parking_lot::Mutex<Option<File>>,
}

impl Storage {
    /// Releases the directory's lock (idempotent).
    pub(crate) fn release(&self) {
        drop(self.lock.lock().take());
    }
}

/// Creates and locks `dir`; never fails (memory-only instead).
pub(crate) fn prepare(dir: Option<&Path>) -> Storage {
    let Some(dir) = dir else {
        return Storage {
            dir: None,
            memory_only: None,
            lock: parking_lot::Mutex::new(None),
        };
    };
    match lock(dir) {
        Ok(file) => Storage {
            dir: Some(dir.to_owned()),
            memory_only: None,
            lock: parking_lot::Mutex::new(Some(file)),
        },
        Err(reason) => {
            tracing::warn!(
                "LiteGate storage {}: {reason}; running memory-only",
                dir.display()
            );
            Storage {
                dir: None,
                memory_only: Some(format!(
                    "storage directory {}: {reason}; running memory-only (nothing is persisted)",
                    dir.display()
                )),
                lock: parking_lot::Mutex::new(None),
            }
        }
    }
}

fn lock(dir: &Path) -> Result<File, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot be created: {e}"))?;
    let path = dir.join(LOCK_FILE_NAME);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("cannot be written: {e}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::io::AsRawFd;
        // SAFETY: `file` owns an open descriptor for the duration of the
        // call; flock neither reads nor writes memory.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            return Err(if e.kind() == std::io::ErrorKind::WouldBlock {
                "in use by another LiteGate client".to_owned()
            } else {
                format!("cannot be locked: {e}")
            });
        }
    }
    Ok(file)
}

//! Crash-safe segment files on disk.
//!
//! Each checkpoint writes one segment `seg-<seq>.lgs` holding the batches it
//! cut: written to `seg-<seq>.tmp`, synced, then renamed, so a segment either
//! exists whole or not at all after a kill. Layout: the 8-byte magic
//! `LGSEG\0\0\x01`, then records of `len: u32 LE`, `xxh3_64(payload): u64 LE`,
//! `payload` (the batch as JSON). A segment is deleted once each of its
//! batches is delivered or dropped. Reading stops at the first bad record.

use super::batch::Batch;
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use twox_hash::XxHash3_64;

/// Magic bytes opening every segment.
pub const MAGIC: &[u8; 8] = b"LGSEG\0\0\x01";
/// Largest record accepted when reading (a bigger length means corruption).
const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug)]
struct SegmentInfo {
    path: PathBuf,
    bytes: u64,
    live: HashSet<String>,
}

/// What opening the store found.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    /// Good batches, oldest first, with their segment sequence number.
    pub batches: Vec<(u64, Batch)>,
    /// Segments whose tail (or whole) was unreadable.
    pub corrupted_segments: u64,
    /// Segments that could not be read at all (I/O error).
    pub unreadable_segments: u64,
}

/// The segment directory and its accounting.
#[derive(Debug)]
pub(crate) struct SegmentStore {
    dir: PathBuf,
    budget: u64,
    next_seq: u64,
    segments: BTreeMap<u64, SegmentInfo>,
}

fn seq_of(name: &str) -> Option<u64> {
    name.strip_prefix("seg-")?
        .strip_suffix(".lgs")?
        .parse()
        .ok()
}

/// Encodes batches as one segment's bytes.
pub(crate) fn encode_segment(batches: &[&Batch]) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = MAGIC.to_vec();
    for b in batches {
        let payload = serde_json::to_vec(b)?;
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&XxHash3_64::oneshot(&payload).to_le_bytes());
        out.extend_from_slice(&payload);
    }
    Ok(out)
}

/// Decodes a segment: the good batches and whether a bad tail was skipped.
pub(crate) fn decode_segment(bytes: &[u8]) -> (Vec<Batch>, bool) {
    let mut out = Vec::new();
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return (out, true);
    }
    let mut pos = MAGIC.len();
    while pos < bytes.len() {
        let Some(header) = bytes.get(pos..pos + 12) else {
            return (out, true);
        };
        let mut len4 = [0u8; 4];
        len4.copy_from_slice(&header[..4]);
        let mut sum8 = [0u8; 8];
        sum8.copy_from_slice(&header[4..]);
        let len = u32::from_le_bytes(len4) as usize;
        if len > MAX_RECORD_BYTES {
            return (out, true);
        }
        let Some(payload) = bytes.get(pos + 12..pos + 12 + len) else {
            return (out, true);
        };
        if XxHash3_64::oneshot(payload) != u64::from_le_bytes(sum8) {
            return (out, true);
        }
        match serde_json::from_slice::<Batch>(payload) {
            Ok(b) => out.push(b),
            Err(_) => return (out, true),
        }
        pos += 12 + len;
    }
    (out, false)
}

impl SegmentStore {
    /// Opens (creating) `dir`, removes unfinished `.tmp` files, and loads
    /// every segment. Never fails on bad content; fails only when the
    /// directory cannot be created or listed.
    pub(crate) fn open(dir: &Path, budget: u64) -> io::Result<(SegmentStore, Loaded)> {
        fs::create_dir_all(dir)?;
        let mut seqs = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("seg-") && name.ends_with(".tmp") {
                // A checkpoint killed before its rename: it was never committed.
                let _ = fs::remove_file(entry.path());
            } else if let Some(seq) = seq_of(&name) {
                seqs.push(seq);
            }
        }
        seqs.sort_unstable();
        let mut store = SegmentStore {
            dir: dir.to_owned(),
            budget,
            next_seq: seqs.last().map_or(1, |s| s + 1),
            segments: BTreeMap::new(),
        };
        let mut loaded = Loaded::default();
        for seq in seqs {
            let path = store.path(seq);
            let bytes = match fs::read(&path) {
                Ok(b) => b,
                Err(_) => {
                    loaded.unreadable_segments += 1;
                    continue;
                }
            };
            let (batches, corrupted) = decode_segment(&bytes);
            if corrupted {
                loaded.corrupted_segments += 1;
            }
            if batches.is_empty() {
                let _ = fs::remove_file(&path);
                continue;
            }
            store.segments.insert(
                seq,
                SegmentInfo {
                    path,
                    bytes: bytes.len() as u64,
                    live: batches.iter().map(|b| b.id.clone()).collect(),
                },
            );
            loaded.batches.extend(batches.into_iter().map(|b| (seq, b)));
        }
        Ok((store, loaded))
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(format!("seg-{seq:020}.lgs"))
    }

    /// Bytes of all live segments.
    pub(crate) fn bytes(&self) -> u64 {
        self.segments.values().map(|s| s.bytes).sum()
    }

    /// Oldest segments to evict so that `incoming` more bytes fit the
    /// budget: removed from disk and returned with their live batch ids.
    pub(crate) fn evict_for(&mut self, incoming: u64) -> Vec<(u64, Vec<String>)> {
        let mut evicted = Vec::new();
        while self.bytes() + incoming > self.budget {
            let Some((&seq, _)) = self.segments.iter().next() else {
                break;
            };
            if let Some(info) = self.segments.remove(&seq) {
                let _ = fs::remove_file(&info.path);
                evicted.push((seq, info.live.into_iter().collect()));
            }
        }
        evicted
    }

    /// The disk budget in bytes.
    pub(crate) fn budget(&self) -> u64 {
        self.budget
    }

    /// `true` when `bytes` can ever fit the budget.
    pub(crate) fn fits_budget(&self, bytes: u64) -> bool {
        bytes <= self.budget
    }

    /// Writes one segment atomically (tmp, sync, rename, sync dir).
    pub(crate) fn write(&mut self, bytes: &[u8], ids: Vec<String>) -> io::Result<u64> {
        let seq = self.next_seq;
        let path = self.path(seq);
        let tmp = path.with_extension("tmp");
        let result = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_data()?;
            fs::rename(&tmp, &path)?;
            if let Ok(d) = fs::File::open(&self.dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        self.next_seq += 1;
        self.segments.insert(
            seq,
            SegmentInfo {
                path,
                bytes: bytes.len() as u64,
                live: ids.into_iter().collect(),
            },
        );
        Ok(seq)
    }

    /// Marks a batch of segment `seq` resolved (delivered or dropped); the
    /// segment is deleted when none is left.
    pub(crate) fn resolve(&mut self, seq: u64, id: &str) -> io::Result<()> {
        let Some(info) = self.segments.get_mut(&seq) else {
            return Ok(());
        };
        info.live.remove(id);
        if info.live.is_empty() {
            let path = info.path.clone();
            self.segments.remove(&seq);
            match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::batch::{BatchBody, Resource};

    fn batch(id: &str) -> Batch {
        Batch {
            id: id.into(),
            start_unix_nano: 1,
            end_unix_nano: 2,
            resource: Resource::new("t"),
            body: BatchBody::Events { events: vec![] },
        }
    }

    #[test]
    fn round_trip_and_truncation() {
        let (a, b) = (batch("a"), batch("b"));
        let bytes = encode_segment(&[&a, &b]).unwrap_or_default();
        let (got, bad) = decode_segment(&bytes);
        assert_eq!((got.len(), bad), (2, false));
        for cut in [bytes.len() - 1, bytes.len() - 20, 9] {
            let (got, bad) = decode_segment(&bytes[..cut]);
            assert!(bad && got.len() < 2, "cut {cut}");
        }
        let mut flipped = bytes.clone();
        let n = flipped.len();
        flipped[n - 5] ^= 0x20;
        let (got, bad) = decode_segment(&flipped);
        assert_eq!((got.len(), bad), (1, true));
        assert!(decode_segment(b"junk").1);
    }
}

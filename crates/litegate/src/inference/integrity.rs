//! Model integrity: size and SHA-256 against the manifest, then a
//! structural check of the flatbuffer header, all before a runtime sees a
//! byte. Pure functions; no I/O.

use super::manifest::ModelManifest;
use sha2::{Digest, Sha256};

/// Why model bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntegrityError {
    /// The file is empty.
    #[error("model `{key}` is empty")]
    Empty {
        /// Model key.
        key: String,
    },
    /// Size differs from the manifest.
    #[error("model `{key}`: size {actual} bytes, manifest says {expected}")]
    SizeMismatch {
        /// Model key.
        key: String,
        /// Manifest size.
        expected: u64,
        /// Actual size.
        actual: u64,
    },
    /// Hash differs from the manifest.
    #[error("model `{key}`: sha256 {actual}, manifest says {expected}")]
    HashMismatch {
        /// Model key.
        key: String,
        /// Manifest hash.
        expected: String,
        /// Actual hash.
        actual: String,
    },
    /// Not a TensorFlow Lite flatbuffer.
    #[error("model `{key}` is not a .tflite flatbuffer: {detail}")]
    NotAModel {
        /// Model key.
        key: String,
        /// What failed.
        detail: String,
    },
}

impl IntegrityError {
    /// A short stable label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            IntegrityError::Empty { .. } => "empty",
            IntegrityError::SizeMismatch { .. } => "size_mismatch",
            IntegrityError::HashMismatch { .. } => "hash_mismatch",
            IntegrityError::NotAModel { .. } => "not_a_model",
        }
    }
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Checks size, then hash, then structure.
///
/// # Errors
/// The first [`IntegrityError`] found.
pub fn verify(manifest: &ModelManifest, bytes: &[u8]) -> Result<(), IntegrityError> {
    let key = &manifest.key;
    if bytes.is_empty() {
        return Err(IntegrityError::Empty { key: key.clone() });
    }
    if bytes.len() as u64 != manifest.size {
        return Err(IntegrityError::SizeMismatch {
            key: key.clone(),
            expected: manifest.size,
            actual: bytes.len() as u64,
        });
    }
    let actual = sha256_hex(bytes);
    if !actual.eq_ignore_ascii_case(&manifest.sha256) {
        return Err(IntegrityError::HashMismatch {
            key: key.clone(),
            expected: manifest.sha256.clone(),
            actual,
        });
    }
    check_structure(key, bytes)
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    let b = bytes.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

/// The flatbuffer header of a `.tflite` file: the `TFL3` identifier, a root
/// table inside the buffer whose vtable is inside the buffer, and every
/// field offset of that vtable inside the root table.
///
/// # Errors
/// [`IntegrityError::NotAModel`] with what failed.
pub fn check_structure(key: &str, bytes: &[u8]) -> Result<(), IntegrityError> {
    let fail = |detail: &str| IntegrityError::NotAModel {
        key: key.into(),
        detail: detail.into(),
    };
    if bytes.is_empty() {
        return Err(IntegrityError::Empty { key: key.into() });
    }
    if bytes.len() < 16 {
        return Err(fail("shorter than a flatbuffer header"));
    }
    if &bytes[4..8] != b"TFL3" {
        return Err(fail("missing the TFL3 file identifier"));
    }
    let root = u32_at(bytes, 0).ok_or_else(|| fail("no root offset"))? as usize;
    if root < 8 || root.checked_add(4).is_none_or(|e| e > bytes.len()) || root % 4 != 0 {
        return Err(fail("root table offset outside the file"));
    }
    let soffset = u32_at(bytes, root).ok_or_else(|| fail("no vtable offset"))? as i32 as i64;
    let vtable = root as i64 - soffset;
    if vtable < 0 || vtable as usize + 4 > bytes.len() {
        return Err(fail("vtable outside the file"));
    }
    let vtable = vtable as usize;
    let vt_len = u16_at(bytes, vtable).ok_or_else(|| fail("vtable truncated"))? as usize;
    let table_len = u16_at(bytes, vtable + 2).ok_or_else(|| fail("vtable truncated"))? as usize;
    if vt_len < 4
        || vt_len % 2 != 0
        || vtable + vt_len > bytes.len()
        || root + table_len > bytes.len()
    {
        return Err(fail("vtable or root table extends past the end"));
    }
    for field in (4..vt_len).step_by(2) {
        let off = u16_at(bytes, vtable + field).ok_or_else(|| fail("vtable truncated"))? as usize;
        if off != 0 && (off < 4 || off >= table_len) {
            return Err(fail("field offset outside the root table"));
        }
    }
    Ok(())
}

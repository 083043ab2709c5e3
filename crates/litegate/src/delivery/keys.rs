//! Ed25519 key files as written by `litegate keygen`.
//!
//! Text files, one `field: value` per line after a first line naming the
//! kind of key:
//!
//! ```text
//! litegate-ed25519-private-key v1
//! key-id: release-2026
//! secret: <base64 of the 32-byte seed>
//! ```
//!
//! ```text
//! litegate-ed25519-public-key v1
//! key-id: release-2026
//! public: <base64 of the 32-byte public key>
//! ```
//!
//! Parsing and formatting only; reading and writing the files is the
//! caller's job.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

const PRIVATE_MAGIC: &str = "litegate-ed25519-private-key v1";
const PUBLIC_MAGIC: &str = "litegate-ed25519-public-key v1";

/// Why a key file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The first line is not the expected kind of key.
    #[error("not a {expected} file (first line must be `{magic}`)")]
    WrongKind {
        /// "private key" or "public key".
        expected: &'static str,
        /// The required first line.
        magic: &'static str,
    },
    /// A required field is absent.
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    /// The key material is not 32 bytes of base64, or not a valid key.
    #[error("field `{field}` is not a valid key: {reason}")]
    BadKey {
        /// Which field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The key id is empty or has characters outside `[A-Za-z0-9._-]`.
    #[error("key id `{0}` must be 1-64 characters of A-Z a-z 0-9 . _ -")]
    BadKeyId(String),
}

/// A signing key with its id.
#[derive(Clone)]
pub struct PrivateKeyFile {
    /// The key id published with signatures.
    pub key_id: String,
    /// The key.
    pub key: SigningKey,
}

impl std::fmt::Debug for PrivateKeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKeyFile")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// A public key with its id, as an app pins it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyFile {
    /// The key id.
    pub key_id: String,
    /// The 32-byte Ed25519 public key.
    pub key: [u8; 32],
}

/// Checks a key id is short and safe to put in headers and file names.
///
/// # Errors
/// [`KeyFileError::BadKeyId`].
pub fn check_key_id(id: &str) -> Result<(), KeyFileError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(KeyFileError::BadKeyId(id.to_owned()))
    }
}

/// A key id derived from the public key (`ed25519-` and 12 hex digits of its
/// SHA-256), used when the operator does not choose one.
pub fn derived_key_id(public: &VerifyingKey) -> String {
    let digest = Sha256::digest(public.as_bytes());
    format!("ed25519-{}", hex::encode(&digest[..6]))
}

fn fields<'a>(
    text: &'a str,
    magic: &'static str,
    expected: &'static str,
) -> Result<Vec<(&'a str, &'a str)>, KeyFileError> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    if lines.next() != Some(magic) {
        return Err(KeyFileError::WrongKind { expected, magic });
    }
    Ok(lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect())
}

fn field<'a>(fields: &[(&str, &'a str)], name: &'static str) -> Result<&'a str, KeyFileError> {
    fields
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| *v)
        .ok_or(KeyFileError::MissingField(name))
}

fn key_bytes(text: &str, field: &'static str) -> Result<[u8; 32], KeyFileError> {
    let bytes = B64.decode(text).map_err(|e| KeyFileError::BadKey {
        field,
        reason: e.to_string(),
    })?;
    bytes
        .as_slice()
        .try_into()
        .map_err(|_| KeyFileError::BadKey {
            field,
            reason: format!("{} bytes, expected 32", bytes.len()),
        })
}

impl PrivateKeyFile {
    /// A fresh random key; `key_id` defaults to [`derived_key_id`].
    ///
    /// # Errors
    /// [`KeyFileError::BadKeyId`] for an unusable id.
    pub fn generate(key_id: Option<&str>) -> Result<Self, KeyFileError> {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let key_id = match key_id {
            Some(id) => id.to_owned(),
            None => derived_key_id(&key.verifying_key()),
        };
        check_key_id(&key_id)?;
        Ok(PrivateKeyFile { key_id, key })
    }

    /// Parses the file's text.
    ///
    /// # Errors
    /// [`KeyFileError`] naming what is wrong.
    pub fn parse(text: &str) -> Result<Self, KeyFileError> {
        let f = fields(text, PRIVATE_MAGIC, "private key")?;
        let key_id = field(&f, "key-id")?.to_owned();
        check_key_id(&key_id)?;
        let seed = key_bytes(field(&f, "secret")?, "secret")?;
        Ok(PrivateKeyFile {
            key_id,
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        format!(
            "{PRIVATE_MAGIC}\nkey-id: {}\nsecret: {}\n",
            self.key_id,
            B64.encode(self.key.to_bytes())
        )
    }

    /// The matching public key file.
    pub fn public(&self) -> PublicKeyFile {
        PublicKeyFile {
            key_id: self.key_id.clone(),
            key: self.key.verifying_key().to_bytes(),
        }
    }
}

impl PublicKeyFile {
    /// Parses the file's text.
    ///
    /// # Errors
    /// [`KeyFileError`] naming what is wrong.
    pub fn parse(text: &str) -> Result<Self, KeyFileError> {
        let f = fields(text, PUBLIC_MAGIC, "public key")?;
        let key_id = field(&f, "key-id")?.to_owned();
        check_key_id(&key_id)?;
        let key = key_bytes(field(&f, "public")?, "public")?;
        VerifyingKey::from_bytes(&key).map_err(|e| KeyFileError::BadKey {
            field: "public",
            reason: e.to_string(),
        })?;
        Ok(PublicKeyFile { key_id, key })
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        format!(
            "{PUBLIC_MAGIC}\nkey-id: {}\npublic: {}\n",
            self.key_id,
            B64.encode(self.key)
        )
    }

    /// The `(key id, key bytes)` pair that `DeliveryConfig::pinned_keys` takes.
    pub fn pinned(&self) -> (String, Vec<u8>) {
        (self.key_id.clone(), self.key.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_swapped_files() {
        let private = PrivateKeyFile::generate(Some("rel-1")).expect("gen");
        let again = PrivateKeyFile::parse(&private.to_text()).expect("parse");
        assert_eq!(again.key.to_bytes(), private.key.to_bytes());
        let public = PublicKeyFile::parse(&private.public().to_text()).expect("parse");
        assert_eq!(public, private.public());
        assert!(matches!(
            PublicKeyFile::parse(&private.to_text()),
            Err(KeyFileError::WrongKind { .. })
        ));
        assert!(PrivateKeyFile::generate(Some("bad id")).is_err());
        assert!(PrivateKeyFile::generate(None)
            .expect("gen")
            .key_id
            .starts_with("ed25519-"));
    }
}

//! Reading a rollout config from disk for the commands that evaluate it:
//! the editable JSON or its signed publication, whichever the user has.

use anyhow::Context as _;
use litegate::delivery::envelope::{self, PinnedKeys};
use litegate::delivery::keys::PublicKeyFile;
use std::fmt;
use std::path::{Path, PathBuf};

/// What was checked about a config file's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureCheck {
    /// A plain document: nothing to check.
    Unsigned,
    /// Signed, but no public key was given, so the signature was not checked.
    NotChecked {
        /// The key ids the signatures name.
        key_ids: Vec<String>,
    },
    /// Signed, and a signature by one of the given keys holds.
    Verified,
}

impl fmt::Display for SignatureCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureCheck::Unsigned => f.write_str("unsigned document (no signature to check)"),
            SignatureCheck::NotChecked { key_ids } => write!(
                f,
                "signed by {}; signature NOT checked (pass --pubkey to check it)",
                key_ids.join(", ")
            ),
            SignatureCheck::Verified => f.write_str("signature checked: it holds"),
        }
    }
}

/// A config file read from disk: the document's bytes and what was checked.
#[derive(Debug)]
pub struct ConfigFile {
    /// The document (the envelope's payload for a signed publication).
    pub document: Vec<u8>,
    /// What was checked about the signature.
    pub signature: SignatureCheck,
}

/// Reads `path`, a plain document or a signed envelope. With `pubkeys`, a
/// signed document must carry a signature by one of them, and a plain one is
/// refused (the user asked for a check that cannot be made).
///
/// # Errors
/// An unreadable file or key, a malformed envelope, or a signature that does
/// not hold.
pub fn read_config(path: &Path, pubkeys: &[PathBuf]) -> anyhow::Result<ConfigFile> {
    let body = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let signed = envelope::open_owned(body, None)
        .with_context(|| format!("{}: not a config or a signed envelope", path.display()))?;
    let signature = if pubkeys.is_empty() {
        if signed.signatures.is_empty() {
            SignatureCheck::Unsigned
        } else {
            SignatureCheck::NotChecked {
                key_ids: signed.signatures.iter().map(|s| s.key_id.clone()).collect(),
            }
        }
    } else {
        let mut pinned = Vec::with_capacity(pubkeys.len());
        for key in pubkeys {
            let text = std::fs::read_to_string(key)
                .with_context(|| format!("cannot read {}", key.display()))?;
            let file = PublicKeyFile::parse(&text).with_context(|| format!("{}", key.display()))?;
            pinned.push(file.pinned());
        }
        PinnedKeys::new(&pinned)?
            .verify(&signed)
            .with_context(|| format!("{}: signature does not hold", path.display()))?;
        SignatureCheck::Verified
    };
    Ok(ConfigFile {
        document: signed.payload,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use litegate::delivery::keys::PrivateKeyFile;

    const CONFIG: &str =
        r#"{"format_version": 1, "environment": "production", "version": 3, "flags": {}}"#;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn plain_signed_and_verified_documents_read_the_same_payload() {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKeyFile::generate(Some("release-2026")).unwrap();
        let other = PrivateKeyFile::generate(Some("other")).unwrap();
        let public = write(dir.path(), "release.pub", key.public().to_text().as_bytes());
        let wrong = write(dir.path(), "other.pub", other.public().to_text().as_bytes());
        let plain = write(dir.path(), "rollout.json", CONFIG.as_bytes());
        let sealed = envelope::seal(
            CONFIG.as_bytes(),
            &[("release-2026".to_owned(), key.key.clone())],
        );
        let signed = write(dir.path(), "rollout.signed.json", &sealed);

        let read = read_config(&plain, &[]).unwrap();
        assert_eq!(read.document, CONFIG.as_bytes());
        assert_eq!(read.signature, SignatureCheck::Unsigned);

        let read = read_config(&signed, &[]).unwrap();
        assert_eq!(read.document, CONFIG.as_bytes());
        assert_eq!(
            read.signature,
            SignatureCheck::NotChecked {
                key_ids: vec!["release-2026".to_owned()]
            }
        );
        assert!(read.signature.to_string().contains("NOT checked"));

        let read = read_config(&signed, std::slice::from_ref(&public)).unwrap();
        assert_eq!(read.signature, SignatureCheck::Verified);

        let err = read_config(&signed, &[wrong]).unwrap_err();
        assert!(
            format!("{err:#}").contains("signature does not hold"),
            "{err:#}"
        );
        let err = read_config(&plain, &[public]).unwrap_err();
        assert!(
            format!("{err:#}").contains("signature does not hold"),
            "{err:#}"
        );
    }
}

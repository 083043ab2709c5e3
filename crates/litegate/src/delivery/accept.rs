//! Whether a body becomes the document in use: signature, parse,
//! environment, version. Pure: no I/O, no clock, no shared state.

use super::envelope::{self, PinnedKeys, SignatureError};
use super::store::Applied;
use crate::config::{ConfigError, Document, Limits};

/// Why a body was refused. The document in use stays.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// Unsigned, wrongly signed, or signed by an unknown key.
    #[error("signature: {0}")]
    Signature(#[from] SignatureError),
    /// Not a valid document, or one for another environment
    /// ([`ConfigError::WrongEnvironment`]).
    #[error("config: {0}")]
    Config(#[from] ConfigError),
    /// Older than the document in use (replay or rollback of the server).
    #[error("version {offered} is older than the version in use, {current}")]
    StaleVersion {
        /// The version in use.
        current: u64,
        /// The version offered.
        offered: u64,
    },
    /// Same version as the one in use but different content: a publisher
    /// must bump the version for every change.
    #[error("version {version} is already in use with different content")]
    VersionNotIncreased {
        /// The version.
        version: u64,
    },
}

/// The outcome of a body that was not refused.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// A newer document to install.
    New(Box<Document>, Applied),
    /// The document in use, served again.
    Same,
}

/// Hash of the payload bytes, to recognise the same document served again.
pub(crate) fn payload_hash(payload: &[u8]) -> u64 {
    twox_hash::XxHash3_64::oneshot(payload)
}

/// Decides on a body: opens the envelope, checks signatures, parses, checks
/// the environment and that the version moves forward from `current`.
///
/// # Errors
/// [`Rejection`] naming the first check that failed.
pub(crate) fn judge(
    body: &[u8],
    signature_header: Option<&str>,
    keys: &PinnedKeys,
    environment: &str,
    limits: &Limits,
    current: Option<Applied>,
) -> Result<Verdict, Rejection> {
    let signed = envelope::open(body, signature_header)?;
    keys.verify(&signed)?;
    let hash = payload_hash(&signed.payload);
    if let Some(cur) = current {
        if cur.payload_hash == hash {
            return Ok(Verdict::Same);
        }
    }
    let doc = Document::parse_with_limits(&signed.payload, limits)?;
    doc.check_environment(environment)?;
    if let Some(cur) = current {
        if doc.version < cur.version {
            return Err(Rejection::StaleVersion {
                current: cur.version,
                offered: doc.version,
            });
        }
        if doc.version == cur.version {
            return Err(Rejection::VersionNotIncreased {
                version: doc.version,
            });
        }
    }
    let applied = Applied {
        version: doc.version,
        payload_hash: hash,
    };
    Ok(Verdict::New(Box::new(doc), applied))
}

//! Whether a body becomes the document in use: signature, parse,
//! environment, version. Pure: no I/O, no clock, no shared state.

use super::envelope::{self, PinnedKeys, SignatureError, Signed};
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
    /// A newer document to install, with the verified payload and its
    /// signatures (what is persisted).
    New(Box<Document>, Applied, Signed),
    /// The document in use, served again.
    Same,
}

/// Hash of the payload bytes, to recognise the same document served again.
pub(crate) fn payload_hash(payload: &[u8]) -> u64 {
    twox_hash::XxHash3_64::oneshot(payload)
}

/// Payloads at least this large have their signature checked on a helper
/// thread while the caller parses (a thread costs tens of microseconds; a
/// signature over a 500 KB document costs about a millisecond).
const PARALLEL_VERIFY_BYTES: usize = 64 * 1024;

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
    let (doc, applied) = parse_checked(&signed.payload, hash, environment, limits, current)?;
    Ok(Verdict::New(doc, applied, signed))
}

/// [`judge`] for a document read back from the device at start-up (there is
/// no current document): the signature is checked on a helper thread while
/// this thread parses, so start-up costs the longer of the two rather than
/// their sum. Neither result is used unless both succeed, and a signature
/// failure is reported in preference to a parse failure, as in [`judge`].
///
/// # Errors
/// As [`judge`].
pub(crate) fn judge_local(
    body: Vec<u8>,
    signature_header: Option<&str>,
    keys: &PinnedKeys,
    environment: &str,
    limits: &Limits,
) -> Result<(Box<Document>, Applied), Rejection> {
    let signed = envelope::open_owned(body, signature_header)?;
    let hash = payload_hash(&signed.payload);
    if keys.is_empty() || signed.payload.len() < PARALLEL_VERIFY_BYTES {
        keys.verify(&signed)?;
        return parse_checked(&signed.payload, hash, environment, limits, None);
    }
    std::thread::scope(|scope| {
        let verifier = std::thread::Builder::new()
            .name("litegate-verify".to_owned())
            .spawn_scoped(scope, || keys.verify(&signed));
        let parsed = parse_checked(&signed.payload, hash, environment, limits, None);
        let verified = match verifier {
            // `verify` does not panic; if it ever did, the document is not
            // trusted.
            Ok(thread) => thread.join().unwrap_or_else(|_| {
                Err(SignatureError::Malformed(
                    "signature check failed unexpectedly".to_owned(),
                ))
            }),
            // No thread to be had: check here instead.
            Err(_) => keys.verify(&signed),
        };
        verified?;
        parsed
    })
}

/// Parses a verified payload and checks its environment and version.
fn parse_checked(
    payload: &[u8],
    hash: u64,
    environment: &str,
    limits: &Limits,
    current: Option<Applied>,
) -> Result<(Box<Document>, Applied), Rejection> {
    let doc = Document::parse_with_limits(payload, limits)?;
    doc.check_environment(environment)?;
    // The same judgement `litegate validate` makes of the other sections.
    let problems = crate::judge::section_problems(&doc);
    if !problems.is_empty() {
        return Err(Rejection::Config(ConfigError::Invalid(problems)));
    }
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
    Ok((Box::new(doc), applied))
}

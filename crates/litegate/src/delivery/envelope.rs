//! The signed config envelope and detached signature header, and checking
//! them against pinned Ed25519 keys.
//!
//! Format (documented in `docs/config-delivery.md`):
//!
//! ```json
//! {"litegate_envelope": 1,
//!  "payload": "<base64 of the exact config document bytes>",
//!  "signatures": [{"key_id": "release-2026", "alg": "ed25519", "sig": "<base64, 64 bytes>"}]}
//! ```
//!
//! or the raw document as the body with a detached header
//! `X-LiteGate-Signature: keyid=release-2026, sig=<base64>`. Either way the
//! signature covers the exact payload bytes, so no canonicalisation is needed.
//!
//! Pure functions: no I/O here.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The HTTP header that carries a detached signature of the body.
pub const SIGNATURE_HEADER: &str = "x-litegate-signature";

/// The envelope format version this SDK writes and reads.
pub const ENVELOPE_VERSION: u64 = 1;

/// One signature in an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// Which pinned key made it.
    pub key_id: String,
    /// Always `ed25519`.
    #[serde(default = "ed25519_alg")]
    pub alg: String,
    /// The 64-byte signature, standard base64.
    pub sig: String,
}

fn ed25519_alg() -> String {
    "ed25519".to_owned()
}

#[derive(Serialize, Deserialize)]
struct EnvelopeJson {
    litegate_envelope: u64,
    payload: String,
    #[serde(default)]
    signatures: Vec<EnvelopeSignature>,
}

/// A body split into the config payload and the signatures that came with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The exact document bytes the signatures cover.
    pub payload: Vec<u8>,
    /// Signatures found (envelope or header); empty when unsigned.
    pub signatures: Vec<EnvelopeSignature>,
    /// Whether the body was an envelope (as opposed to a raw document).
    pub was_envelope: bool,
}

/// Why a body's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// Keys are pinned but the document carries no signature.
    #[error("document is not signed, and signing keys are pinned")]
    Unsigned,
    /// No signature is by a pinned key.
    #[error("signed only by unknown key id(s) {}", .key_ids.join(", "))]
    UnknownKeyId {
        /// The key ids found.
        key_ids: Vec<String>,
    },
    /// A signature by a pinned key does not match the payload.
    #[error("signature by key `{key_id}` does not match the document")]
    BadSignature {
        /// The key that was tried.
        key_id: String,
    },
    /// The envelope or header is malformed.
    #[error("malformed signed envelope: {0}")]
    Malformed(String),
    /// A pinned key is not a valid Ed25519 public key.
    #[error("pinned key `{key_id}` is not a valid Ed25519 public key")]
    InvalidPinnedKey {
        /// The key id.
        key_id: String,
    },
    /// An algorithm other than Ed25519.
    #[error("unsupported signature algorithm `{0}`")]
    UnsupportedAlgorithm(String),
}

/// Public keys trusted to sign configs, by key id.
#[derive(Clone, Default)]
pub struct PinnedKeys {
    keys: Vec<(String, VerifyingKey)>,
}

impl std::fmt::Debug for PinnedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|(id, _)| id))
            .finish()
    }
}

impl PinnedKeys {
    /// Builds the set from `(key id, 32-byte public key)` pairs.
    ///
    /// # Errors
    /// [`SignatureError::InvalidPinnedKey`] for a key that is not 32 bytes or
    /// not a valid curve point.
    pub fn new(keys: &[(String, Vec<u8>)]) -> Result<Self, SignatureError> {
        let mut out = Vec::with_capacity(keys.len());
        for (id, bytes) in keys {
            let invalid = || SignatureError::InvalidPinnedKey { key_id: id.clone() };
            let arr: [u8; 32] = bytes.as_slice().try_into().map_err(|_| invalid())?;
            let key = VerifyingKey::from_bytes(&arr).map_err(|_| invalid())?;
            out.push((id.clone(), key));
        }
        Ok(PinnedKeys { keys: out })
    }

    /// Whether no key is pinned (then signatures are not required).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks that at least one signature is by a pinned key and valid. With
    /// no pinned keys, every body passes.
    ///
    /// # Errors
    /// [`SignatureError`] naming why no signature was accepted.
    pub fn verify(&self, signed: &Signed) -> Result<(), SignatureError> {
        if self.keys.is_empty() {
            return Ok(());
        }
        if signed.signatures.is_empty() {
            return Err(SignatureError::Unsigned);
        }
        let mut first_bad = None;
        for s in &signed.signatures {
            let Some((_, key)) = self.keys.iter().find(|(id, _)| *id == s.key_id) else {
                continue;
            };
            if !s.alg.eq_ignore_ascii_case("ed25519") {
                first_bad.get_or_insert(SignatureError::UnsupportedAlgorithm(s.alg.clone()));
                continue;
            }
            let sig = decode_signature(&s.sig)?;
            if key.verify(&signed.payload, &sig).is_ok() {
                return Ok(());
            }
            first_bad.get_or_insert(SignatureError::BadSignature {
                key_id: s.key_id.clone(),
            });
        }
        Err(first_bad.unwrap_or_else(|| SignatureError::UnknownKeyId {
            key_ids: signed.signatures.iter().map(|s| s.key_id.clone()).collect(),
        }))
    }
}

fn decode_signature(text: &str) -> Result<Signature, SignatureError> {
    let bytes = B64
        .decode(text.trim())
        .map_err(|e| SignatureError::Malformed(format!("signature is not base64: {e}")))?;
    let arr: [u8; 64] = bytes.as_slice().try_into().map_err(|_| {
        SignatureError::Malformed(format!("signature is {} bytes, expected 64", bytes.len()))
    })?;
    Ok(Signature::from_bytes(&arr))
}

/// Whether `body` looks like an envelope: a JSON object whose first key is
/// `litegate_envelope` (as [`seal`] writes it). Cheap: looks at a few bytes.
fn looks_like_envelope(body: &[u8]) -> bool {
    let rest = body.trim_ascii_start();
    let Some(rest) = rest.strip_prefix(b"{") else {
        return false;
    };
    rest.trim_ascii_start()
        .starts_with(b"\"litegate_envelope\"")
}

/// Splits a body into payload and signatures: an envelope is unwrapped, a raw
/// document keeps the signature of the detached `header` (if any).
///
/// # Errors
/// [`SignatureError::Malformed`] for a broken envelope or header.
pub fn open(body: &[u8], header: Option<&str>) -> Result<Signed, SignatureError> {
    if looks_like_envelope(body) {
        let env: EnvelopeJson = serde_json::from_slice(body)
            .map_err(|e| SignatureError::Malformed(format!("envelope: {e}")))?;
        if env.litegate_envelope != ENVELOPE_VERSION {
            return Err(SignatureError::Malformed(format!(
                "envelope version {} (this SDK reads {ENVELOPE_VERSION})",
                env.litegate_envelope
            )));
        }
        let payload = B64
            .decode(env.payload.as_bytes())
            .map_err(|e| SignatureError::Malformed(format!("payload is not base64: {e}")))?;
        let mut signatures = env.signatures;
        if let Some(h) = header {
            signatures.extend(parse_header(h)?);
        }
        return Ok(Signed {
            payload,
            signatures,
            was_envelope: true,
        });
    }
    raw(body.to_vec(), header)
}

/// [`open`] for a body the caller owns: a raw document becomes the payload
/// without a copy.
///
/// # Errors
/// As [`open`].
pub fn open_owned(body: Vec<u8>, header: Option<&str>) -> Result<Signed, SignatureError> {
    if looks_like_envelope(&body) {
        return open(&body, header);
    }
    raw(body, header)
}

/// A raw document as the payload, signed (or not) by the detached `header`.
fn raw(payload: Vec<u8>, header: Option<&str>) -> Result<Signed, SignatureError> {
    let signatures = match header {
        Some(h) => parse_header(h)?,
        None => Vec::new(),
    };
    Ok(Signed {
        payload,
        signatures,
        was_envelope: false,
    })
}

/// The detached header value carrying all of `signatures` (`;`-separated),
/// or `None` when there are none. [`parse_header`] reads it back.
pub fn combined_header_value(signatures: &[EnvelopeSignature]) -> Option<String> {
    if signatures.is_empty() {
        return None;
    }
    let parts: Vec<String> = signatures
        .iter()
        .map(|s| format!("keyid={}, alg={}, sig={}", s.key_id, s.alg, s.sig))
        .collect();
    Some(parts.join("; "))
}

/// Parses `keyid=ID, sig=BASE64` (several signatures separated by `;`).
///
/// # Errors
/// [`SignatureError::Malformed`] when a part is missing.
pub fn parse_header(value: &str) -> Result<Vec<EnvelopeSignature>, SignatureError> {
    let mut out = Vec::new();
    for part in value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (mut key_id, mut sig, mut alg) = (None, None, None);
        for field in part.split(',') {
            let Some((k, v)) = field.split_once('=') else {
                return Err(SignatureError::Malformed(format!(
                    "signature header field `{}` is not key=value",
                    field.trim()
                )));
            };
            // Base64 values end in `=` padding: split_once keeps them whole.
            match k.trim().to_ascii_lowercase().as_str() {
                "keyid" | "key_id" => key_id = Some(v.trim().to_owned()),
                "sig" => sig = Some(v.trim().to_owned()),
                "alg" => alg = Some(v.trim().to_owned()),
                _ => {}
            }
        }
        match (key_id, sig) {
            (Some(key_id), Some(sig)) => out.push(EnvelopeSignature {
                key_id,
                alg: alg.unwrap_or_else(ed25519_alg),
                sig,
            }),
            _ => {
                return Err(SignatureError::Malformed(
                    "signature header needs keyid= and sig=".to_owned(),
                ))
            }
        }
    }
    Ok(out)
}

/// Signs `payload` with one key, for an envelope or a header.
pub fn sign(payload: &[u8], key_id: &str, key: &SigningKey) -> EnvelopeSignature {
    EnvelopeSignature {
        key_id: key_id.to_owned(),
        alg: ed25519_alg(),
        sig: B64.encode(key.sign(payload).to_bytes()),
    }
}

/// The detached header value for one signature.
pub fn header_value(sig: &EnvelopeSignature) -> String {
    format!("keyid={}, sig={}", sig.key_id, sig.sig)
}

/// Wraps `payload` in an envelope signed by every `(key id, key)` given
/// (two keys during a rotation).
pub fn seal(payload: &[u8], keys: &[(String, SigningKey)]) -> Vec<u8> {
    let env = EnvelopeJson {
        litegate_envelope: ENVELOPE_VERSION,
        payload: B64.encode(payload),
        signatures: keys.iter().map(|(id, k)| sign(payload, id, k)).collect(),
    };
    // Serialising plain strings and integers cannot fail.
    let mut out = serde_json::to_vec_pretty(&env).unwrap_or_default();
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn pinned(id: &str, k: &SigningKey) -> PinnedKeys {
        PinnedKeys::new(&[(id.to_owned(), k.verifying_key().to_bytes().to_vec())]).expect("key")
    }

    #[test]
    fn envelope_round_trip_and_rotation() {
        let (old, new) = (key(1), key(2));
        let body = seal(
            b"{\"x\":1}",
            &[("old".into(), old), ("new".into(), new.clone())],
        );
        let signed = open(&body, None).expect("opens");
        assert_eq!(signed.payload, b"{\"x\":1}");
        assert!(pinned("new", &new).verify(&signed).is_ok());
    }

    #[test]
    fn rejects_tampered_unknown_and_unsigned() {
        let k = key(3);
        let keys = pinned("k", &k);
        let mut signed = open(&seal(b"payload", &[("k".into(), k.clone())]), None).expect("opens");
        signed.payload = b"payloaD".to_vec();
        assert_eq!(
            keys.verify(&signed),
            Err(SignatureError::BadSignature { key_id: "k".into() })
        );
        let other = open(&seal(b"payload", &[("other".into(), k)]), None).expect("opens");
        assert!(matches!(
            keys.verify(&other),
            Err(SignatureError::UnknownKeyId { .. })
        ));
        let raw = open(b"{\"format_version\":1}", None).expect("raw");
        assert_eq!(keys.verify(&raw), Err(SignatureError::Unsigned));
        assert!(PinnedKeys::default().verify(&raw).is_ok());
    }

    #[test]
    fn detached_header() {
        let k = key(4);
        let sig = sign(b"body", "k", &k);
        let signed = open(b"body", Some(&header_value(&sig))).expect("opens");
        assert!(pinned("k", &k).verify(&signed).is_ok());
        assert!(open(b"body", Some("sig=abc")).is_err());
    }
}

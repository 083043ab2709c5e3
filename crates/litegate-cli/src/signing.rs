//! `keygen`, `sign` and `verify`: Ed25519 signing of rollout configs.
//!
//! File formats are described in `docs/config-delivery.md`.

use anyhow::{bail, Context as _};
use clap::{Args, ValueEnum};
use litegate::config::Document;
use litegate::delivery::envelope;
use litegate::delivery::keys::{PrivateKeyFile, PublicKeyFile};
use litegate::delivery::PinnedKeys;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `litegate keygen --private FILE --public FILE [--key-id ID]`
#[derive(Args)]
pub struct KeygenArgs {
    /// Where to write the private key (created with mode 0600).
    #[arg(long)]
    pub private: PathBuf,
    /// Where to write the public key (give this one to app builds).
    #[arg(long)]
    pub public: PathBuf,
    /// The key id published with signatures (default: derived from the key).
    #[arg(long)]
    pub key_id: Option<String>,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

/// How `sign` carries the signature.
#[derive(Clone, Copy, ValueEnum)]
pub enum SignFormat {
    /// A JSON envelope holding the document and its signatures.
    Envelope,
    /// The document unchanged; the `X-LiteGate-Signature` header value is
    /// printed for the server to send.
    Header,
}

/// `litegate sign --key PRIVATE [--key PRIVATE2] --out SIGNED CONFIG`
#[derive(Args)]
pub struct SignArgs {
    /// Private key file(s); give two during a key rotation.
    #[arg(long = "key", required = true)]
    pub keys: Vec<PathBuf>,
    /// Where to write the signed config.
    #[arg(long)]
    pub out: PathBuf,
    /// Envelope (default) or detached header.
    #[arg(long, value_enum, default_value = "envelope")]
    pub format: SignFormat,
    /// Sign even if the config does not validate.
    #[arg(long)]
    pub no_validate: bool,
    /// The config document to sign (its exact bytes are signed).
    pub config: PathBuf,
}

/// `litegate verify --pubkey PUBLIC SIGNED`
#[derive(Args)]
pub struct VerifyArgs {
    /// Public key file(s) to trust.
    #[arg(long = "pubkey", required = true)]
    pub pubkeys: Vec<PathBuf>,
    /// The detached signature header value, for a raw document.
    #[arg(long)]
    pub header: Option<String>,
    /// Also require the document to target this environment.
    #[arg(long)]
    pub environment: Option<String>,
    /// The signed config (envelope, or raw with `--header`).
    pub signed: PathBuf,
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn write_new(path: &Path, text: &str, force: bool, private: bool) -> anyhow::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true);
    if force {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = opts.open(path).with_context(|| {
        format!(
            "cannot create {}{}",
            path.display(),
            if force {
                ""
            } else {
                " (use --force to overwrite)"
            }
        )
    })?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Generates a key pair.
///
/// # Errors
/// Unwritable files or an invalid key id.
pub fn keygen(args: &KeygenArgs) -> anyhow::Result<ExitCode> {
    let key = PrivateKeyFile::generate(args.key_id.as_deref())?;
    write_new(&args.private, &key.to_text(), args.force, true)?;
    write_new(&args.public, &key.public().to_text(), args.force, false)?;
    println!(
        "key id {}: private key {}, public key {}",
        key.key_id,
        args.private.display(),
        args.public.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Signs a config.
///
/// # Errors
/// Unreadable inputs, an invalid config (unless `--no-validate`), or an
/// unwritable output.
pub fn sign(args: &SignArgs) -> anyhow::Result<ExitCode> {
    let payload = std::fs::read(&args.config)
        .with_context(|| format!("cannot read {}", args.config.display()))?;
    if !args.no_validate {
        let doc = Document::parse(&payload)
            .with_context(|| format!("{} is not a valid config", args.config.display()))?;
        if !doc.problems().is_empty() {
            for p in doc.problems() {
                eprintln!("{p}");
            }
            bail!(
                "{} has {} flag problem(s); fix them or pass --no-validate",
                args.config.display(),
                doc.problems().len()
            );
        }
    }
    let mut keys = Vec::new();
    for path in &args.keys {
        let k = PrivateKeyFile::parse(&read_text(path)?)
            .with_context(|| format!("{}", path.display()))?;
        keys.push((k.key_id, k.key));
    }
    match args.format {
        SignFormat::Envelope => {
            let sealed = envelope::seal(&payload, &keys);
            std::fs::write(&args.out, sealed)
                .with_context(|| format!("cannot write {}", args.out.display()))?;
        }
        SignFormat::Header => {
            std::fs::write(&args.out, &payload)
                .with_context(|| format!("cannot write {}", args.out.display()))?;
            let values: Vec<String> = keys
                .iter()
                .map(|(id, k)| envelope::header_value(&envelope::sign(&payload, id, k)))
                .collect();
            println!("X-LiteGate-Signature: {}", values.join("; "));
        }
    }
    let ids: Vec<&str> = keys.iter().map(|(id, _)| id.as_str()).collect();
    eprintln!("signed {} with {}", args.out.display(), ids.join(", "));
    Ok(ExitCode::SUCCESS)
}

/// Verifies a signed config: exit 0 when a trusted signature holds, 1 with
/// the reason when not.
///
/// # Errors
/// Unreadable files or malformed key files.
pub fn verify(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let mut pinned = Vec::new();
    for path in &args.pubkeys {
        let k = PublicKeyFile::parse(&read_text(path)?)
            .with_context(|| format!("{}", path.display()))?;
        pinned.push(k.pinned());
    }
    let keys = PinnedKeys::new(&pinned)?;
    let body = std::fs::read(&args.signed)
        .with_context(|| format!("cannot read {}", args.signed.display()))?;
    let signed = match envelope::open(&body, args.header.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            println!("INVALID: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    if let Err(e) = keys.verify(&signed) {
        println!("INVALID: {e}");
        return Ok(ExitCode::from(1));
    }
    match Document::parse(&signed.payload) {
        Ok(doc) => {
            if let Some(env) = &args.environment {
                if let Err(e) = doc.check_environment(env) {
                    println!("INVALID: signature holds but {e}");
                    return Ok(ExitCode::from(1));
                }
            }
            println!(
                "OK: signature holds; environment {}, version {}, {} flags",
                doc.environment,
                doc.version,
                doc.flag_count()
            );
        }
        Err(e) => {
            println!("OK: signature holds, but the payload will be refused by clients: {e}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{"format_version": 1, "environment": "production", "version": 3,
      "flags": {"kill": {"type": "bool", "variations": {"on": true, "off": false},
      "off_variation": "off", "fallthrough": {"variation": "off"}}}}"#;

    fn keypair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let (private, public) = (
            dir.join(format!("{name}.key")),
            dir.join(format!("{name}.pub")),
        );
        let args = KeygenArgs {
            private: private.clone(),
            public: public.clone(),
            key_id: Some(name.to_owned()),
            force: false,
        };
        assert_eq!(keygen(&args).expect("keygen"), ExitCode::SUCCESS);
        assert!(keygen(&args).is_err(), "refuses to overwrite");
        (private, public)
    }

    fn verify_args(pubkeys: Vec<PathBuf>, signed: PathBuf, header: Option<String>) -> VerifyArgs {
        VerifyArgs {
            pubkeys,
            header,
            environment: Some("production".into()),
            signed,
        }
    }

    #[test]
    fn keygen_sign_verify_and_tamper() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (private, public) = keypair(dir.path(), "rel-1");
        let (_, other_public) = keypair(dir.path(), "rel-2");
        let config = dir.path().join("config.json");
        std::fs::write(&config, CONFIG).expect("write");
        let out = dir.path().join("config.signed.json");
        let args = SignArgs {
            keys: vec![private],
            out: out.clone(),
            format: SignFormat::Envelope,
            no_validate: false,
            config,
        };
        assert_eq!(sign(&args).expect("sign"), ExitCode::SUCCESS);
        let ok = verify(&verify_args(vec![public.clone()], out.clone(), None)).expect("verify");
        assert_eq!(ok, ExitCode::SUCCESS);
        let wrong_key =
            verify(&verify_args(vec![other_public], out.clone(), None)).expect("verify");
        assert_eq!(wrong_key, ExitCode::from(1));
        // Flip one byte of the base64 payload.
        let mut text = std::fs::read_to_string(&out).expect("read");
        let i = text.find("\"payload\": \"").expect("payload") + 14;
        let c = if &text[i..=i] == "A" { "B" } else { "A" };
        text.replace_range(i..=i, c);
        std::fs::write(&out, text).expect("write");
        let tampered = verify(&verify_args(vec![public], out, None)).expect("verify");
        assert_eq!(tampered, ExitCode::from(1));
    }

    #[test]
    fn refuses_to_sign_an_invalid_config() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (private, _) = keypair(dir.path(), "k");
        let config = dir.path().join("bad.json");
        std::fs::write(&config, "{\"format_version\": 1").expect("write");
        let args = SignArgs {
            keys: vec![private],
            out: dir.path().join("out"),
            format: SignFormat::Envelope,
            no_validate: false,
            config,
        };
        assert!(sign(&args).is_err());
    }
}

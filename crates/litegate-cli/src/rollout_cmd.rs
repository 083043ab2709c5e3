//! `litegate rollout ...`: drive a flag's phased rollout.
//!
//! Every write produces a new document with a higher `version` and an audit
//! entry, written atomically (temp file + rename) over `--config` or to
//! `--out`.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use litegate::config::parse_timestamp_ms;
use litegate::eval::now_ms;
use litegate::rollout::{
    apply, decide, human_duration, rfc3339, status, AuditMeta, MetricsSnapshot, Operation, Verdict,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `litegate rollout <operation>`
#[derive(Args)]
pub struct RolloutArgs {
    #[command(subcommand)]
    pub op: RolloutOp,
}

/// The document and flag every operation works on.
#[derive(Args)]
pub struct Target {
    /// The rollout config (JSON).
    #[arg(long)]
    pub config: PathBuf,
    /// The flag whose rollout is driven.
    #[arg(long)]
    pub flag: String,
    /// Act as of this time (RFC 3339) instead of now.
    #[arg(long)]
    pub at: Option<String>,
}

/// Options of the operations that write a new document.
#[derive(Args)]
pub struct WriteOpts {
    /// Who does it (recorded in the audit log); default: the OS user
    /// ($USER, then $LOGNAME); refused when neither is known.
    #[arg(long)]
    pub actor: Option<String>,
    /// Why (recorded; required by emergency-rollback).
    #[arg(long)]
    pub reason: Option<String>,
    /// Where the publication goes. With --key: the signed envelope (default
    /// NAME.signed.json beside --config), while the editable JSON is updated
    /// in place. Without --key: the new JSON (default: over --config).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Sign the new document with this Ed25519 key.
    #[arg(long)]
    pub key: Option<PathBuf>,
}

/// The operations.
#[derive(Subcommand)]
pub enum RolloutOp {
    /// Show the state, phase, time in phase and audit log.
    Status {
        #[command(flatten)]
        target: Target,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Start at the first phase (from not started or rolled back).
    Start {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        write: WriteOpts,
        /// Turn the kill switch off (after an emergency rollback).
        #[arg(long)]
        clear_kill_switch: bool,
    },
    /// Go to the next phase (complete after the last).
    Advance {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        write: WriteOpts,
        /// Advance before the phase's min_duration.
        #[arg(long)]
        force: bool,
    },
    /// Hold at the current phase.
    Pause {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        write: WriteOpts,
    },
    /// Continue a paused rollout.
    Resume {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        write: WriteOpts,
    },
    /// Return to the previous phase (paused there); from the first: rolled back.
    Rollback {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        write: WriteOpts,
    },
    /// Turn the flag's kill switch on and roll back (needs --reason).
    EmergencyRollback {
        #[command(flatten)]
        target: Target,
        #[command(flatten)]
        write: WriteOpts,
    },
    /// Advance, hold or roll back on a fleet metrics snapshot. Exit 0:
    /// advance, 3: hold, 4: roll back.
    Decide {
        #[command(flatten)]
        target: Target,
        /// The metrics snapshot (docs/rollout.md).
        #[arg(long)]
        metrics: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Reads a document, plain or in a signed envelope (the signature is not
/// checked here: the operation re-signs what it writes when given a key).
fn read_json(path: &Path) -> anyhow::Result<Value> {
    Ok(read_document(path)?.0)
}

/// [`read_json`], and whether the file was a signed envelope.
fn read_document(path: &Path) -> anyhow::Result<(Value, bool)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let (payload, was_envelope) = match litegate::delivery::envelope::open(&bytes, None) {
        Ok(signed) if signed.was_envelope => (signed.payload, true),
        _ => (bytes, false),
    };
    let doc = serde_json::from_slice(&payload)
        .with_context(|| format!("{} is not JSON", path.display()))?;
    Ok((doc, was_envelope))
}

/// `rollout.json` -> `rollout.signed.json`, beside it.
fn signed_path_for(config: &Path) -> PathBuf {
    let stem = config
        .file_stem()
        .map_or_else(|| "config".into(), |s| s.to_string_lossy().into_owned());
    config.with_file_name(format!("{stem}.signed.json"))
}

/// The audit actor: `--actor`, else the OS user; never a silent "unknown".
fn actor_of(write: &WriteOpts) -> anyhow::Result<String> {
    write
        .actor
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|a| !a.trim().is_empty())
        .context("who is doing this? pass --actor NAME (no $USER or $LOGNAME to default to)")
}

fn time_of(target: &Target) -> anyhow::Result<i64> {
    match &target.at {
        Some(t) => parse_timestamp_ms(t).context("--at is not an RFC 3339 timestamp"),
        None => Ok(now_ms()),
    }
}

/// Seals the new document in a signed envelope (the format the SDK and
/// `litegate verify` read) with the private key file at `key`.
fn sign_document(document: &[u8], key: &Path) -> anyhow::Result<Vec<u8>> {
    let text =
        std::fs::read_to_string(key).with_context(|| format!("cannot read {}", key.display()))?;
    let k = litegate::delivery::keys::PrivateKeyFile::parse(&text)
        .with_context(|| format!("{}", key.display()))?;
    Ok(litegate::delivery::envelope::seal(
        document,
        &[(k.key_id, k.key)],
    ))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
}

fn write_op(target: &Target, write: &WriteOpts, op: Operation) -> anyhow::Result<ExitCode> {
    let (doc, was_envelope) = read_document(&target.config)?;
    let now = time_of(target)?;
    let actor = actor_of(write)?;
    if was_envelope && write.key.is_none() && write.out.is_none() {
        anyhow::bail!(
            "{} is a signed publication: pass --key to publish the next version, or --out for an unsigned copy",
            target.config.display()
        );
    }
    let meta = AuditMeta {
        actor,
        reason: write.reason.clone(),
        now_ms: now,
    };
    let next = match apply(&doc, &target.flag, op, &meta) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("refused: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let mut bytes = serde_json::to_vec_pretty(&next)?;
    bytes.push(b'\n');
    // The editable JSON stays editable: with a key, it is updated in place
    // (when it was plain) and the signed envelope goes beside it.
    let written = match &write.key {
        Some(key) => {
            let signed = sign_document(&bytes, key)?;
            let out = match &write.out {
                Some(out) => out.clone(),
                None if was_envelope => target.config.clone(),
                None => signed_path_for(&target.config),
            };
            write_atomic(&out, &signed)?;
            let mut written = format!("signed publication {}", out.display());
            if !was_envelope && out != target.config {
                write_atomic(&target.config, &bytes)?;
                written.push_str(&format!(", editable JSON {}", target.config.display()));
            }
            written
        }
        None => {
            let out = write.out.clone().unwrap_or_else(|| target.config.clone());
            write_atomic(&out, &bytes)?;
            format!("unsigned JSON {}", out.display())
        }
    };
    let st = status(&next, &target.flag, now)?;
    println!(
        "{}: {} -> {} ({}%), version {}; wrote {written}",
        target.flag,
        op.name(),
        st.state,
        st.percent,
        st.version,
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `litegate rollout ...`.
///
/// # Errors
/// Unreadable files or an unusable document.
pub fn run(args: &RolloutArgs) -> anyhow::Result<ExitCode> {
    match &args.op {
        RolloutOp::Status { target, json } => {
            let doc = read_json(&target.config)?;
            let now = time_of(target)?;
            let st = match status(&doc, &target.flag, now) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(1));
                }
            };
            if *json {
                println!("{}", serde_json::to_string_pretty(&st)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!("flag {} (config version {})", st.flag, st.version);
            println!("  state: {} ({}% of users)", st.state, st.percent);
            if let Some(t) = st.entered_at_ms {
                print!(
                    "  in phase since {} ({})",
                    rfc3339(t),
                    human_duration(now - t)
                );
                match st.min_duration_ms {
                    Some(m) => println!(", min duration {}", human_duration(m)),
                    None => println!(),
                }
            }
            if let Some(n) = &st.next_phase {
                println!("  next phase: {n}");
            }
            if let Some(k) = &st.kill_switch {
                println!("  KILL SWITCH ON: {k}");
            }
            println!("  audit log ({} entries):", st.audit.len());
            for e in &st.audit {
                let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                let state = |k: &str| {
                    let v = e.get(k);
                    let st = v
                        .and_then(|v| v.get("status"))
                        .and_then(Value::as_str)
                        .unwrap_or("?");
                    match v.and_then(|v| v.get("phase")).and_then(Value::as_str) {
                        Some(p) => format!("{st}:{p}"),
                        None => st.to_owned(),
                    }
                };
                println!(
                    "    {} {} {} {} -> {}{}",
                    s("at"),
                    s("actor"),
                    s("action"),
                    state("from"),
                    state("to"),
                    e.get("reason")
                        .and_then(Value::as_str)
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        RolloutOp::Start {
            target,
            write,
            clear_kill_switch,
        } => write_op(
            target,
            write,
            Operation::Start {
                clear_kill_switch: *clear_kill_switch,
            },
        ),
        RolloutOp::Advance {
            target,
            write,
            force,
        } => write_op(target, write, Operation::Advance { force: *force }),
        RolloutOp::Pause { target, write } => write_op(target, write, Operation::Pause),
        RolloutOp::Resume { target, write } => write_op(target, write, Operation::Resume),
        RolloutOp::Rollback { target, write } => write_op(target, write, Operation::Rollback),
        RolloutOp::EmergencyRollback { target, write } => {
            write_op(target, write, Operation::EmergencyRollback)
        }
        RolloutOp::Decide {
            target,
            metrics,
            json,
        } => {
            let doc = read_json(&target.config)?;
            let now = time_of(target)?;
            let bytes = std::fs::read(metrics)
                .with_context(|| format!("cannot read {}", metrics.display()))?;
            let snapshot = MetricsSnapshot::parse(&bytes)?;
            let d = decide(&doc, &target.flag, &snapshot, now)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                println!(
                    "{}: {} at phase {}{}",
                    d.flag,
                    match d.verdict {
                        Verdict::Advance => "ADVANCE",
                        Verdict::Hold => "HOLD",
                        Verdict::Rollback => "ROLL BACK",
                    },
                    d.phase.as_deref().unwrap_or("-"),
                    if d.srm_blocked {
                        " (sample ratio mismatch: arms not compared)"
                    } else {
                        ""
                    }
                );
                if d.tests > 0 {
                    println!(
                        "  sequential tests: {} sharing alpha {:.3} (each at {:.2e}), valid at any number of looks",
                        d.tests,
                        d.alpha,
                        d.alpha / f64::from(d.tests)
                    );
                }
                for c in &d.checks {
                    let tag = match c.verdict {
                        Verdict::Advance => "ok  ",
                        Verdict::Hold => "HOLD",
                        Verdict::Rollback => "BACK",
                    };
                    println!("  [{tag}] {}: {}", c.name, c.message);
                }
            }
            Ok(ExitCode::from(match d.verdict {
                Verdict::Advance => 0,
                Verdict::Hold => 3,
                Verdict::Rollback => 4,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        op: RolloutOp,
    }

    fn run_args(args: &[&str]) -> ExitCode {
        let cli = Cli::try_parse_from(std::iter::once("rollout").chain(args.iter().copied()))
            .expect("arguments parse");
        run(&RolloutArgs { op: cli.op }).expect("runs")
    }

    const CONFIG: &str = r#"{"format_version": 1, "environment": "production", "version": 1,
      "flags": {"f": {"type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
        "fallthrough": {"phased": {"variation": "on", "otherwise": "off"}},
        "rollout": {"phases": [{"name": "alpha", "percent": 1}, {"name": "full", "percent": 100}],
                    "state": {"status": "not_started"}}}}}"#;

    #[test]
    fn operations_rewrite_the_file_with_a_higher_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        std::fs::write(&path, CONFIG).unwrap();
        let p = path.to_str().unwrap();
        let at = "2027-01-01T00:00:00Z";
        let ok = |args: &[&str]| run_args(args) == ExitCode::SUCCESS;
        assert!(ok(&[
            "start", "--config", p, "--flag", "f", "--actor", "ci", "--at", at
        ]));
        assert!(ok(&[
            "advance", "--config", p, "--flag", "f", "--actor", "ci", "--at", at
        ]));
        let doc: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(doc["version"], 3);
        assert_eq!(doc["flags"]["f"]["rollout"]["state"]["phase"], "full");
        // Refused: nothing written.
        assert_eq!(
            run_args(&["resume", "--config", p, "--flag", "f", "--actor", "ci", "--at", at]),
            ExitCode::from(1)
        );
        let again: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(again, doc);
        // --out leaves the input alone.
        let out = dir.path().join("out.json");
        let o = out.to_str().unwrap();
        assert!(ok(&[
            "pause", "--config", p, "--flag", "f", "--actor", "ci", "--out", o, "--at", at
        ]));
        let written: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        assert_eq!(written["version"], 4);
        assert!(ok(&["status", "--config", o, "--flag", "f", "--json"]));
        // Signing is not wired yet: refused, nothing written unsigned.
        let r = Cli::try_parse_from([
            "rollout", "pause", "--config", p, "--flag", "f", "--actor", "ci", "--key", "k",
        ])
        .map(|c| run(&RolloutArgs { op: c.op }));
        assert!(matches!(r, Ok(Err(_))));
    }

    #[test]
    fn decide_exits_with_the_verdict() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        let mut doc: Value = serde_json::from_str(CONFIG).unwrap();
        doc["flags"]["f"]["rollout"]["state"] =
            serde_json::json!({"status": "running", "phase": "alpha"});
        doc["flags"]["f"]["rollout"]["phases"][0]["criteria"] =
            serde_json::json!({"min_users": 10, "max_error_rate": 5});
        std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
        let snap = dir.path().join("s.json");
        let write_snap = |errors: u64| {
            let s = serde_json::json!({"format": 1, "flags": {"f": {"variations": {
                "on": {"users": 100, "runs": 1000, "errors": errors},
                "off": {"users": 9900, "runs": 99000, "errors": 990}}}}});
            std::fs::write(&snap, serde_json::to_vec(&s).unwrap()).unwrap();
        };
        let args = [
            "decide",
            "--config",
            path.to_str().unwrap(),
            "--flag",
            "f",
            "--metrics",
            snap.to_str().unwrap(),
        ];
        write_snap(10);
        assert_eq!(run_args(&args), ExitCode::SUCCESS);
        write_snap(90);
        assert_eq!(run_args(&args), ExitCode::from(4));
    }
}

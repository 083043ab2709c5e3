//! `validate`, `eval` and `bucket`: the flag tools.

use crate::config_file::{read_config, ConfigFile};
use anyhow::{bail, Context as _};
use clap::Args;
use litegate::config::{BucketBy, Document, FlagEntry, Serve};
use litegate::eval::{bucket as bucket_of, Context, Evaluator};
use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// `litegate validate CONFIG`
#[derive(Args)]
pub struct ValidateArgs {
    /// The rollout config: the editable JSON or its signed publication.
    pub config: PathBuf,
    /// Also require the document to target this environment.
    #[arg(long)]
    pub environment: Option<String>,
    /// Check the signature against this public key (`keygen --public`);
    /// repeat for several. Without it a signed document's signature is
    /// reported as not checked.
    #[arg(long = "pubkey")]
    pub pubkeys: Vec<PathBuf>,
}

/// `litegate eval --config CONFIG --context (JSON | FILE) [--flag KEY]`
#[derive(Args)]
pub struct EvalArgs {
    /// The rollout config: the editable JSON or its signed publication.
    #[arg(long)]
    pub config: PathBuf,
    /// Check the config's signature against this public key (repeatable).
    #[arg(long = "pubkey")]
    pub pubkeys: Vec<PathBuf>,
    /// The context: inline JSON (`'{"targeting_key":"u1","os":"android"}'`)
    /// or the path of a file holding it; see docs/config-format.md.
    #[arg(long)]
    pub context: String,
    /// Evaluate only this flag.
    #[arg(long)]
    pub flag: Option<String>,
    /// Evaluate at this time (RFC 3339) instead of now.
    #[arg(long)]
    pub at: Option<String>,
}

/// `litegate bucket --config CONFIG --flag KEY (--id ID | --ids-file FILE)`
#[derive(Args)]
pub struct BucketArgs {
    /// The rollout config: the editable JSON or its signed publication.
    #[arg(long)]
    pub config: PathBuf,
    /// Check the config's signature against this public key (repeatable).
    #[arg(long = "pubkey")]
    pub pubkeys: Vec<PathBuf>,
    /// The flag whose salt is used.
    #[arg(long)]
    pub flag: String,
    /// One id.
    #[arg(
        long,
        conflicts_with = "ids_file",
        required_unless_present = "ids_file"
    )]
    pub id: Option<String>,
    /// A file with one id per line.
    #[arg(long)]
    pub ids_file: Option<PathBuf>,
}

/// Reads the config and says on stderr what was checked of its signature,
/// so a user never mistakes an unchecked signed file for a verified one.
fn load(path: &std::path::Path, pubkeys: &[PathBuf]) -> anyhow::Result<ConfigFile> {
    let file = read_config(path, pubkeys)?;
    eprintln!("{}: {}", path.display(), file.signature);
    Ok(file)
}

/// The `--context` argument: inline JSON when it starts with `{`, else a file.
fn context_json(arg: &str) -> anyhow::Result<serde_json::Value> {
    let text = if arg.trim_start().starts_with('{') {
        arg.to_owned()
    } else {
        std::fs::read_to_string(arg).with_context(|| format!("cannot read context file {arg}"))?
    };
    serde_json::from_str(&text).context("the context is not a JSON object")
}

/// Runs `validate`.
pub fn validate(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let bytes = load(&args.config, &args.pubkeys)?.document;
    let doc = match Document::parse(&bytes) {
        Ok(doc) => doc,
        Err(litegate::config::ConfigError::Invalid(problems)) => {
            println!(
                "{}: invalid, {} problem(s)",
                args.config.display(),
                problems.len()
            );
            for p in problems {
                println!("  {p}");
            }
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => {
            println!("{}: invalid: {e}", args.config.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    let mut failed = false;
    if let Some(env) = &args.environment {
        if let Err(e) = doc.check_environment(env) {
            println!("{}: {e}", args.config.display());
            failed = true;
        }
    }
    if !doc.problems().is_empty() {
        println!(
            "{}: {} problem(s) (devices isolate each flag named: it answers with PARSE_ERROR)",
            args.config.display(),
            doc.problems().len()
        );
        for p in doc.problems() {
            println!("  {p}");
        }
        failed = true;
    }
    // The judgement devices make of the other sections (an invalid one
    // refuses the whole document there too).
    let sections = litegate::judge::section_problems(&doc);
    if !sections.is_empty() {
        println!(
            "{}: {} problem(s) in the guardrails and models sections (devices refuse the document)",
            args.config.display(),
            sections.len()
        );
        for p in &sections {
            println!("  {p}");
        }
        failed = true;
    }
    let ready = doc.flag_count() - count_malformed(&doc);
    let count = |name: &str| {
        doc.section(name)
            .and_then(|v| v.as_object())
            .map_or(0, |m| m.len())
    };
    println!(
        "{}: format v1, environment `{}`, version {}, {} flag(s) ({} well-formed), {} segment(s), {} model(s), {} guardrail(s){}",
        args.config.display(),
        doc.environment,
        doc.version,
        doc.flag_count(),
        ready,
        doc.segments().len(),
        count("models"),
        count("guardrails"),
        if doc.global_disable.is_some() {
            ", GLOBAL DISABLE ON"
        } else {
            ""
        }
    );
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn count_malformed(doc: &Document) -> usize {
    doc.flag_keys()
        .filter(|k| matches!(doc.flag(k), Some(FlagEntry::Malformed { .. })))
        .count()
}

/// Runs `eval`.
pub fn eval(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let doc =
        Document::parse(&load(&args.config, &args.pubkeys)?.document).context("config refused")?;
    let ctx_json = context_json(&args.context)?;
    let ctx = Context::from_json(&ctx_json).map_err(anyhow::Error::msg)?;
    let evaluator = match &args.at {
        Some(t) => {
            Evaluator::at(litegate::config::parse_timestamp_ms(t).context("--at is not RFC 3339")?)
        }
        None => Evaluator::new(),
    };
    let keys: Vec<String> = match &args.flag {
        Some(k) => vec![k.clone()],
        None => doc.flag_keys().map(str::to_owned).collect(),
    };
    let mut out = std::io::stdout().lock();
    let mut any_error = false;
    for key in keys {
        let line = match evaluator.details(&doc, &key, &ctx) {
            Ok(d) => serde_json::json!({
                "flag": key,
                "value": d.value.to_json(),
                "variation": d.variation.as_deref(),
                "reason": d.reason.kind(),
                "rule": match &d.reason { litegate::eval::Reason::RuleMatch { rule_id } => Some(rule_id.to_string()), _ => None },
                "error": null,
            }),
            Err(code) => {
                any_error = true;
                serde_json::json!({
                    "flag": key, "value": null, "variation": null, "reason": "error",
                    "rule": null, "error": code.openfeature(),
                })
            }
        };
        writeln!(out, "{line}")?;
    }
    Ok(if any_error {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Runs `bucket`.
pub fn bucket(args: &BucketArgs) -> anyhow::Result<ExitCode> {
    let doc =
        Document::parse(&load(&args.config, &args.pubkeys)?.document).context("config refused")?;
    let Some(flag) = doc.ready_flag(&args.flag) else {
        bail!("no well-formed flag `{}` in the config", args.flag);
    };
    if uses_non_key_bucketing(flag) {
        eprintln!("note: some serves of `{}` bucket by another attribute than the targeting key; ids are hashed as given", args.flag);
    }
    // One write per id made 1M ids cost seconds: buffer, flush once.
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    if let Some(id) = &args.id {
        writeln!(out, "{}", bucket_of(&flag.salt, id.as_bytes()))?;
    }
    if let Some(path) = &args.ids_file {
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        for line in std::io::BufReader::new(file).lines() {
            let line = line?;
            writeln!(out, "{}", bucket_of(&flag.salt, line.as_bytes()))?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn uses_non_key_bucketing(flag: &litegate::config::Flag) -> bool {
    let by = |s: &Serve| match s {
        Serve::Variation(_) => None,
        Serve::Percentage { bucket_by, .. }
        | Serve::Split { bucket_by, .. }
        | Serve::Phased { bucket_by, .. } => Some(bucket_by.clone()),
    };
    flag.rules
        .iter()
        .map(|r| &r.serve)
        .chain(std::iter::once(&flag.fallthrough))
        .filter_map(by)
        .any(|b| b != BucketBy::TargetingKey)
}

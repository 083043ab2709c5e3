//! `litegate simulate`: a fleet simulation of a rollout under injected
//! faults, with the real evaluator, guardrails and decision logic.

use anyhow::Context as _;
use clap::Args;
use litegate::rollout::simulate::{simulate, simulate_seeds, Fault, SimConfig, MAX_SEEDS};
use std::path::PathBuf;
use std::process::ExitCode;

/// `litegate simulate --config CONFIG --devices N --hours H --fault SPEC [--seed S]`
#[derive(Args)]
pub struct SimulateArgs {
    /// The rollout config (JSON) with a phased flag and its guardrails.
    #[arg(long)]
    pub config: PathBuf,
    /// The flag (default: the first with a rollout).
    #[arg(long)]
    pub flag: Option<String>,
    /// Devices in the fleet (one user each).
    #[arg(long, default_value_t = 10_000)]
    pub devices: u32,
    /// Simulated hours.
    #[arg(long, default_value_t = 24)]
    pub hours: u32,
    /// A fault: `error:rate=0.08[,device=pixel-7]`, `gpu-fail[:device=pixel-7]`,
    /// `crash:rate=0.05`, `slow:ms=2500,rate=0.3`. Repeatable.
    #[arg(long)]
    pub fault: Vec<String>,
    /// The random seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Run this many seeds (from --seed on) and report how often the fleet
    /// decision rolled back and how fast; without --fault, every rollback
    /// is a mistake (at most 10000).
    #[arg(long)]
    pub seeds: Option<u32>,
    /// Write the chart (SVG) here.
    #[arg(long)]
    pub chart: Option<PathBuf>,
    /// Print the full report as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Runs the simulation.
///
/// # Errors
/// Unreadable config, bad fault spec, unusable flag.
pub fn run(args: &SimulateArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.config)
        .with_context(|| format!("cannot read {}", args.config.display()))?;
    let raw: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not JSON", args.config.display()))?;
    let mut cfg = SimConfig::new(args.devices, args.hours, args.seed);
    cfg.flag = args.flag.clone();
    for f in &args.fault {
        cfg.faults
            .push(Fault::parse(f).map_err(anyhow::Error::msg)?);
    }
    if let Some(n) = args.seeds {
        if n == 0 || n > MAX_SEEDS {
            anyhow::bail!("--seeds must be between 1 and {MAX_SEEDS}");
        }
        let summary = simulate_seeds(&raw, &cfg, n)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&summary)?);
        } else {
            print!("{}", summary.summary());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let report = simulate(&raw, &cfg)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    if let Some(path) = &args.chart {
        std::fs::write(path, report.svg())
            .with_context(|| format!("cannot write {}", path.display()))?;
        if !args.json {
            println!("chart written to {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

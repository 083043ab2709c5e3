//! `litegate`: the command-line tool for release engineers and QA.
//!
//! Each command lives in its own module with a clap `Args` struct and a `run`
//! function returning the process exit code.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod flags;
mod rollout_cmd;
mod simulate;

/// LiteGate: validate and evaluate rollout configs, run models, drive rollouts.
#[derive(Parser)]
#[command(name = "litegate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a rollout config; exit 1 listing every problem.
    Validate(flags::ValidateArgs),
    /// Evaluate flags for a context; one JSON object per flag.
    Eval(flags::EvalArgs),
    /// Print the bucket (0..99999) of ids for a flag.
    Bucket(flags::BucketArgs),
    /// Drive a flag's phased rollout: status, start, advance, pause, resume, rollback, emergency-rollback, decide.
    Rollout(rollout_cmd::RolloutArgs),
    /// Simulate a fleet rollout under injected faults; table and SVG chart.
    Simulate(simulate::SimulateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(a) => flags::validate(&a),
        Command::Eval(a) => flags::eval(&a),
        Command::Bucket(a) => flags::bucket(&a),
        Command::Rollout(a) => rollout_cmd::run(&a),
        Command::Simulate(a) => simulate::run(&a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

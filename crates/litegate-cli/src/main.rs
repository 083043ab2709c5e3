//! `litegate`: the command-line tool for release engineers and QA.
//!
//! Each command lives in its own module with a clap `Args` struct and a `run`
//! function returning the process exit code.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod config_file;
mod flags;
mod infer;
mod metrics_cmd;
mod rollout_cmd;
mod signing;
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
    /// Generate an Ed25519 key pair for signing configs.
    Keygen(signing::KeygenArgs),
    /// Sign a config (envelope or detached header).
    Sign(signing::SignArgs),
    /// Verify a signed config; exit 1 with the reason when it does not hold.
    Verify(signing::VerifyArgs),
    /// Record a fixed sample of every metric and event, upload it to an OTLP
    /// endpoint, and report what was delivered (exit 1 if not all).
    EmitSampleMetrics(metrics_cmd::EmitSampleArgs),
    /// Run a model on the device's runtimes; one JSON object.
    Infer(infer::InferArgs),
    /// Benchmark a model on every accelerator and check performance gates.
    BenchModel(infer::BenchModelArgs),
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
        Command::Keygen(a) => signing::keygen(&a),
        Command::Sign(a) => signing::sign(&a),
        Command::Verify(a) => signing::verify(&a),
        Command::EmitSampleMetrics(a) => metrics_cmd::run(&a),
        Command::Infer(a) => infer::infer(&a),
        Command::BenchModel(a) => infer::bench_model(&a),
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

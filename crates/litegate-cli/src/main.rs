//! `litegate`: the command-line tool for release engineers and QA.
//!
//! Each command lives in its own module with a clap `Args` struct and a `run`
//! function returning the process exit code.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod flags;
mod infer;

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
    /// Run a model on the device's runtimes; one JSON object.
    Infer(infer::InferArgs),
    /// Benchmark a model on every accelerator and check performance gates.
    BenchModel(infer::BenchModelArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(a) => flags::validate(&a),
        Command::Eval(a) => flags::eval(&a),
        Command::Bucket(a) => flags::bucket(&a),
        Command::Infer(a) => infer::infer(&a),
        Command::BenchModel(a) => infer::bench_model(&a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

//! `cargo xtask`: the one entry point for setup, tests, CI and the demo.
//!
//! ```text
//! cargo xtask setup    install what tests and the demo need (runtimes, models, JVM tools)
//! cargo xtask test     setup, then every test suite (Rust, Kotlin/JVM, Swift checks)
//! cargo xtask ci       fmt --check, clippy -D warnings, then test
//! cargo xtask demo     the end-to-end demo on bundled defaults
//! cargo xtask bindings generate Kotlin/Swift bindings (`test`, `bench`: see bindings.rs)
//! ```

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

mod bindings;
mod packages;
mod runtimes;
mod setup;
mod tally;
mod test_jar;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().map(String::as_str).unwrap_or("help");
    let rest = &args[args.len().min(1)..];
    match task {
        "setup" => setup::all(),
        "test" => test(),
        "ci" => ci(),
        "demo" => demo(rest),
        "bindings" => bindings::main(rest),
        _ => {
            eprintln!("usage: cargo xtask <setup|test|ci|demo|bindings>");
            Ok(())
        }
    }
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Runs a command in the workspace root, failing on a non-zero exit.
pub fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("$ {:?}", cmd);
    let status = cmd
        .current_dir(root())
        .status()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn test() -> Result<()> {
    setup::all()?;
    // Every suite runs even when an earlier one fails, so the closing line
    // counts them all.
    let results = [
        tally::run_counted(cargo().args([
            "test",
            "--workspace",
            "--all-targets",
            "--no-fail-fast",
        ])),
        tally::run_counted(cargo().args(["test", "--workspace", "--doc"])),
        bindings::test(),
    ];
    let total = tally::total();
    println!("{}", total.line());
    for result in results {
        result?;
    }
    if total.passed == 0 {
        bail!("no test ran");
    }
    Ok(())
}

fn ci() -> Result<()> {
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    test()
}

fn demo(rest: &[String]) -> Result<()> {
    // The demo needs the inference runtimes and the face detector, not the
    // JVM, apt or tree-sitter tools of the binding tests.
    runtimes::install()?;
    eprintln!(
        "building the demo app and the `litegate` CLI (release profile; about 10 minutes \
         on a fresh 2-core machine, seconds once built)..."
    );
    // The demo calls the `litegate` CLI for the fleet decision, so both are
    // built into the same directory.
    run(cargo().args([
        "build",
        "--release",
        "-p",
        "litegate-cli",
        "-p",
        "litegate-example-rust-app",
    ]))?;
    let exe = root().join("target/release/litegate-example-rust-app");
    run(Command::new(exe).args(rest))
}

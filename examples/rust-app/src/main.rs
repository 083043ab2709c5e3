//! The LiteGate demo: the whole journey on bundled defaults.
//!
//! `cargo xtask demo` runs it. Each step prints what happened; the process
//! exits non-zero if any step does not behave as it should.

mod fleet;

use litegate::{Client, ClientConfig};

/// The bundled rollout config.
pub const ROLLOUT: &[u8] = include_bytes!("../../configs/rollout.json");

fn main() {
    let mut failures = Vec::new();
    println!("LiteGate demo: on-device rollout control for LiteRT models\n");

    let mut config = ClientConfig::new("dev.litegate.demo", "production");
    config.bootstrap = Some(ROLLOUT.to_vec());
    let client = match Client::start(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("client failed to start: {e}");
            std::process::exit(1);
        }
    };

    section("1. Flags: who gets which variation, and why (5,000 simulated users)");
    if let Err(e) = fleet::run(&client, 5_000) {
        failures.push(format!("flags: {e}"));
    }

    println!();
    if failures.is_empty() {
        println!("demo finished: every step behaved as expected");
    } else {
        for f in &failures {
            eprintln!("FAILED: {f}");
        }
        std::process::exit(1);
    }
}

/// Prints a section heading.
pub fn section(title: &str) {
    println!("\n== {title}");
}

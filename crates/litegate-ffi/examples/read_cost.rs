//! The Rust side of `cargo xtask bindings bench`: the per-read cost of a
//! flag read in Rust (the core `Client`, exposure recording included), in
//! the same format and with the same rounds as the Kotlin bench, so one run
//! prints both. Not a test: it prints what it measured.
//!
//! Run: `cargo run --release -p litegate-ffi --example read_cost -- FIXTURES_DIR`

use litegate::eval::Context;
use litegate::{Client, ClientConfig};
use std::hint::black_box;
use std::time::{Duration, Instant};

const ROUNDS: usize = 5;
const ROUND: Duration = Duration::from_millis(500);

/// Median nanoseconds per call of `op` over `ROUNDS` rounds after a
/// one-second warm-up.
fn measure(name: &str, mut op: impl FnMut() -> bool) {
    let mut round = |length: Duration| {
        let start = Instant::now();
        let mut calls = 0u64;
        loop {
            for _ in 0..256 {
                black_box(op());
            }
            calls += 256;
            let elapsed = start.elapsed();
            if elapsed >= length {
                return elapsed.as_nanos() as f64 / calls as f64;
            }
        }
    };
    round(2 * ROUND);
    let mut per_call: Vec<f64> = (0..ROUNDS).map(|_| round(ROUND)).collect();
    per_call.sort_by(f64::total_cmp);
    let median = per_call[ROUNDS / 2];
    println!(
        "{name:<44} {:>9.3} us/call {:>10.0} calls/s  (rounds {:.3}..{:.3} us)",
        median / 1000.0,
        1e9 / median,
        per_call[0] / 1000.0,
        per_call[ROUNDS - 1] / 1000.0
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fixtures = std::env::args()
        .nth(1)
        .ok_or("usage: read_cost FIXTURES_DIR")?;
    let mut config = ClientConfig::new("dev.litegate.bench", "production");
    config.bootstrap = Some(std::fs::read(
        std::path::Path::new(&fixtures).join("reasons.json"),
    )?);
    config.default_context = Context::new("user-42");
    let client = Client::start(config)?;
    measure("Rust: Client::bool_value(fixed_on)", || {
        client.bool_value(black_box("fixed_on"), false)
    });
    measure("Rust: Client::bool_details(fixed_on)", || {
        client
            .bool_details(black_box("fixed_on"), false, None)
            .value
    });
    let snapshot = client.flag_snapshot();
    measure("Rust: snapshot lookup + exposure count", || {
        let i = snapshot.index_of(black_box("fixed_on"));
        if let Some(i) = i {
            snapshot.count_exposure(i);
        }
        i.is_some()
    });
    drop(snapshot);
    let _ = client.shutdown(Duration::from_secs(5));
    Ok(())
}

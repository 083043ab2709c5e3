//! The LiteGate demo: the whole journey on bundled defaults.
//!
//! `cargo xtask demo` runs it. A loopback HTTP server plays both the config
//! host and the OTLP collector. Each step prints what happened; the process
//! exits non-zero if any step does not behave as it should.

mod collector_step;
mod delivery_step;
mod fleet;
mod guardrail_step;
mod inference_step;
mod loopback;

use litegate::delivery::keys::PrivateKeyFile;
use litegate::display::optional;
use litegate::{Client, ClientConfig};
use std::time::Duration;

/// The bundled rollout config.
pub const ROLLOUT: &[u8] = include_bytes!("../../configs/rollout.json");

fn main() {
    if let Err(e) = run() {
        eprintln!("demo failed: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    println!("LiteGate demo: on-device rollout control for LiteRT models");
    let host = loopback::Loopback::start().map_err(|e| format!("loopback server: {e}"))?;
    let key = PrivateKeyFile::generate(Some("demo-release")).map_err(|e| e.to_string())?;
    host.publish(
        delivery_step::sign(&key, &delivery_step::document(13, |_| {})),
        "\"v13\"",
    );
    let storage = std::env::temp_dir().join(format!("litegate-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&storage);
    // The rollout files of step 4 outlive the demo, so its printed commands
    // can be copied and run.
    let rollout_dir = std::env::temp_dir().join("litegate-demo");

    let mut config = ClientConfig::new("dev.litegate.demo", "production");
    config.bootstrap = Some(ROLLOUT.to_vec());
    config.config_url = Some(format!("{}/rollout.json", host.base));
    config.pinned_keys = vec![key.public().pinned()];
    config.poll_interval = Duration::from_millis(250);
    config.storage_dir = Some(storage.clone());
    config.metrics_endpoint = Some(host.base.clone());
    config.targeting_key_salt = Some("demo-salt".into());
    config.default_context = fleet::qa_device(1);
    let started = std::time::Instant::now();
    let client = Client::start(config).map_err(|e| format!("client failed to start: {e}"))?;
    // The version and source of the very document this first read used: the
    // background fetch may install the host's newer one a moment later.
    let first_doc = client.document();
    let first = client.bool_details("litert_enabled", false, None);
    let elapsed = started.elapsed();
    println!(
        "client started and answered its first flag in {:.2} ms, from the {} config (version {}): litert_enabled = {}",
        elapsed.as_secs_f64() * 1000.0,
        client.status().config_source.map_or("no", |s| s.as_str()),
        optional(first_doc.map(|d| d.version)),
        first.value
    );

    let mut failures = Vec::new();
    let mut step = |title: &str, f: &mut dyn FnMut() -> Result<(), String>| {
        println!("\n== {title}");
        if let Err(e) = f() {
            println!("!! {e}");
            failures.push(format!("{title}: {e}"));
        }
    };
    step(
        "1. Flags: who gets which variation, and why (5,000 simulated users)",
        &mut || fleet::run(&client, 5_000),
    );
    step(
        "2. Inference: face detector with accelerator fallback",
        &mut || inference_step::run(&client),
    );
    step(
        "3. Config delivery: signed, live kill switch, tampering refused",
        &mut || delivery_step::run(&client, &host, &key),
    );
    step(
        "4. Guardrails: fault injected, local trip, fleet rollback",
        &mut || guardrail_step::run(&client, &host, &key, &rollout_dir),
    );
    step("5. Metrics: what the OTLP collector received", &mut || {
        collector_step::run(&client, &host)
    });

    let outcome = client.shutdown(Duration::from_secs(10));
    println!("\nclient shut down: {outcome}");
    let _ = std::fs::remove_dir_all(&storage);
    if failures.is_empty() {
        println!("demo finished: every step behaved as expected");
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

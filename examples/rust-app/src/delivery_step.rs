//! Step 3: the config arrives signed from a (loopback) config host, a kill
//! switch published there takes effect on the device within one poll, and a
//! tampered document is refused while the good one stays in use.

use crate::loopback::Loopback;
use litegate::delivery::envelope;
use litegate::delivery::keys::PrivateKeyFile;
use litegate::display::optional;
use litegate::Client;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The bundled config with a new version and, optionally, edits.
pub fn document(version: u64, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(crate::ROLLOUT).unwrap_or_default();
    v["version"] = serde_json::json!(version);
    edit(&mut v);
    serde_json::to_vec_pretty(&v).unwrap_or_default()
}

/// Signs `payload` into an envelope.
pub fn sign(key: &PrivateKeyFile, payload: &[u8]) -> Vec<u8> {
    envelope::seal(payload, &[(key.key_id.clone(), key.key.clone())])
}

fn wait(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) -> Result<Duration, String> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if cond() {
            return Ok(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(format!("timed out waiting for {what}"))
}

/// Runs step 3.
pub fn run(client: &Client, host: &Loopback, key: &PrivateKeyFile) -> Result<(), String> {
    client
        .wait_until_ready(Duration::from_secs(20))
        .map_err(|e| format!("first fetch: {e}"))?;
    let status = client.status();
    println!(
        "now on version {} from the {} source, signed by key `{}`",
        optional(status.config_version),
        optional(status.config_source),
        key.key_id
    );
    if status.config_version != Some(13) {
        return Err("the remote version 13 was not applied".into());
    }
    let before = client.bool_details("litert_gpu_backend", false, None);
    println!(
        "litert_gpu_backend for this device: {} ({})",
        before.value,
        before.reason.kind()
    );

    let fired = Arc::new(AtomicUsize::new(0));
    let seen = fired.clone();
    client.on_flag_change("litert_gpu_backend", move |change| {
        println!(
            "  listener: config {} -> {} changed {}",
            optional(change.old_version),
            change.new_version,
            change.changed_flags.join(", ")
        );
        seen.fetch_add(1, Ordering::SeqCst);
    });

    // Release engineering flips the GPU kill switch and publishes v14.
    let killed = document(14, |v| {
        v["flags"]["litert_gpu_backend"]["kill_switch"] = serde_json::json!({"active": true, "reason": "GPU delegate corrupts output on Mali-G57 (INC-412)"});
    });
    host.publish(sign(key, &killed), "\"v14\"");
    let took = wait("the kill switch", Duration::from_secs(10), || {
        matches!(
            client.bool_details("litert_gpu_backend", true, None).reason,
            litegate::eval::Reason::KillSwitch { .. }
        )
    })?;
    wait("the listener", Duration::from_secs(10), || {
        fired.load(Ordering::SeqCst) > 0
    })?;
    let after = client.bool_details("litert_gpu_backend", true, None);
    println!(
        "kill switch published as v14: applied on the device after {} ms, litert_gpu_backend = {} ({})",
        took.as_millis(),
        after.value,
        after.reason
    );

    // A tampered v15: a signed envelope whose payload was swapped for
    // another document after signing.
    let signed: serde_json::Value =
        serde_json::from_slice(&sign(key, &document(15, |_| {}))).map_err(|e| e.to_string())?;
    let other: serde_json::Value = serde_json::from_slice(&sign(
        key,
        &document(15, |v| {
            v["global_disable"] = serde_json::json!({"active": true, "reason": "attacker"})
        }),
    ))
    .map_err(|e| e.to_string())?;
    let mut forged = signed;
    forged["payload"] = other["payload"].clone();
    let tampered = serde_json::to_vec(&forged).map_err(|e| e.to_string())?;
    host.publish(tampered, "\"v15-tampered\"");
    client.refresh();
    wait("the rejection", Duration::from_secs(10), || {
        client.status().delivery.last_rejection.is_some()
    })?;
    let status = client.status();
    println!(
        "tampered v15 refused: {}; still on version {}",
        status
            .delivery
            .last_rejection
            .as_ref()
            .map(|r| r.rejection.to_string())
            .unwrap_or_default(),
        optional(status.config_version)
    );
    if status.config_version != Some(14) {
        return Err("the tampered document replaced the good one".into());
    }
    // Put the good document back so later steps poll quietly.
    host.publish(sign(key, &killed), "\"v14\"");
    Ok(())
}

//! Step 1: evaluate every flag for a simulated fleet and summarise who got
//! which variation, why, and where the phased rollout stands.

use litegate::config::RolloutState;
use litegate::eval::{AttrValue, Context, Evaluator};
use litegate::Client;
use std::collections::BTreeMap;

/// A small deterministic generator (SplitMix64) so the demo prints the same
/// fleet every run.
pub struct Rng(u64);

impl Rng {
    /// Seeds the generator.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() % 1_000_000) as f64 / 1_000_000.0 < p
    }
}

/// One of the QA team's own phones (0: qa-alice, 1: qa-bob): recent Pixels.
pub fn qa_device(i: usize) -> Context {
    Context::new(["qa-alice", "qa-bob"][i.min(1)])
        .device_id(format!("qa-device-{i}"))
        .os("android")
        .os_version("15")
        .app_version("5.3.0-beta.1")
        .device_model("Pixel 8")
        .country("US")
        .ram_mb(8192.0)
        .has_gpu(true)
        .has_npu(true)
        .accelerators(["cpu", "gpu", "npu"])
        .set(
            "email",
            AttrValue::String(format!("qa{i}@LiteGate.example")),
        )
}

/// A simulated user on a simulated device.
pub fn simulated_user(rng: &mut Rng, i: usize) -> Context {
    let android = rng.chance(0.6);
    let (os, versions, models): (&str, &[&str], &[&str]) = if android {
        (
            "android",
            &["9", "11", "13", "14", "15"],
            &["Pixel 8", "Pixel 6a", "Galaxy S24", "Galaxy A15", "Moto G"],
        )
    } else {
        (
            "ios",
            &["16.7", "17.5", "18.1"],
            &["iPhone 13", "iPhone 15 Pro", "iPhone SE"],
        )
    };
    let model = *rng.pick(models);
    let has_gpu = !model.contains("A15") && !model.contains("Moto");
    let has_npu = model.contains("Pixel 8") || model.contains("S24") || model.contains("15 Pro");
    let mut accelerators = vec!["cpu"];
    if has_gpu {
        accelerators.push("gpu");
    }
    if has_npu {
        accelerators.push("npu");
    }
    if i < 2 {
        return qa_device(i);
    }
    Context::new(format!("user-{i}"))
        .device_id(format!("device-{:08x}", rng.next() as u32))
        .os(os)
        .os_version(*rng.pick(versions))
        .app_version(*rng.pick(&["5.1.0", "5.2.0", "5.2.1", "5.3.0-beta.1"]))
        .device_model(model)
        .country(*rng.pick(&["US", "US", "GB", "DE", "FR", "IN", "BR", "JP"]))
        .ram_mb(*rng.pick(&[1536.0, 3072.0, 4096.0, 6144.0, 8192.0, 12288.0]))
        .has_gpu(has_gpu)
        .has_npu(has_npu)
        .accelerators(accelerators)
        .set("beta_opt_in", AttrValue::Bool(rng.chance(0.08)))
}

/// Runs step 1.
pub fn run(client: &Client, users: usize) -> Result<(), String> {
    let doc = client.document().ok_or("no config loaded")?;
    println!(
        "config: environment `{}`, version {}, {} flags, {} segments",
        doc.environment,
        doc.version,
        doc.flag_count(),
        doc.segments().len()
    );
    let mut rng = Rng::new(2026);
    let fleet: Vec<Context> = (0..users).map(|i| simulated_user(&mut rng, i)).collect();
    let keys: Vec<String> = doc.flag_keys().map(str::to_owned).collect();
    // flag -> (variation, reason) -> count
    let mut table: BTreeMap<&str, BTreeMap<(String, String), usize>> = BTreeMap::new();
    // The fleet is simulated, so it is evaluated with the evaluator directly
    // on the client's document: the client's own getters would record
    // exposures for this device.
    let evaluator = Evaluator::new();
    for ctx in &fleet {
        for key in &keys {
            let Ok(d) = evaluator.details(&doc, key, ctx) else {
                return Err(format!("{key} failed to evaluate"));
            };
            let reason = match &d.reason {
                litegate::eval::Reason::RuleMatch { rule_id } => format!("rule_match:{rule_id}"),
                r => r.kind().to_owned(),
            };
            let variation = d.variation.as_deref().unwrap_or("(default)").to_owned();
            *table
                .entry(key)
                .or_default()
                .entry((variation, reason))
                .or_default() += 1;
        }
    }
    for (flag, rows) in &table {
        println!("  {flag}");
        for ((variation, reason), n) in rows {
            println!(
                "    {variation:<10} {reason:<28} {n:>5}  ({:.1}%)",
                *n as f64 * 100.0 / users as f64
            );
        }
    }
    // Checks a reader can trust: the kill switch holds, QA targets win.
    let npu = &table["litert_npu_backend"];
    if npu.keys().any(|(_, r)| r != "kill_switch") {
        return Err("litert_npu_backend served something other than its kill switch".into());
    }
    let alice = client.string_details("face_model_v2", "none", Some(&fleet[0]));
    if &*alice.value != "face-detector@2.0.0" {
        return Err(format!("qa-alice should get v2, got {}", alice.value));
    }

    // The phased rollout of face_model_v2, as the device's clock sees it.
    let flag = doc
        .ready_flag("face_model_v2")
        .ok_or("face_model_v2 missing")?;
    let rollout = flag
        .rollout
        .as_ref()
        .ok_or("face_model_v2 has no rollout")?;
    println!(
        "\n  phased rollout of face_model_v2 (state: {}):",
        rollout.state
    );
    println!("    (share of users without beta opt-in; devices failing litert_enabled stay on v1)");
    println!(
        "    {:<10} {:>8} {:>22} {:>14}",
        "phase", "percent", "starts", "users on v2"
    );
    let general: Vec<&Context> = fleet
        .iter()
        .filter(|c| c.custom.get("beta_opt_in") == Some(&AttrValue::Bool(false)))
        .collect();
    for phase in &rollout.phases {
        let at = phase.start_ms.unwrap_or(i64::MAX);
        let on_v2 = if phase.start_ms.is_some() {
            let e = Evaluator::at(at);
            let n = general
                .iter()
                .filter(|c| {
                    &*e.string_details(&doc, "face_model_v2", c, "".into()).value
                        == "face-detector@2.0.0"
                })
                .count();
            format!("{:.1}%", n as f64 * 100.0 / general.len() as f64)
        } else {
            "(by command)".to_owned()
        };
        let start = phase.start_ms.map_or("manual".to_owned(), |ms| {
            time::OffsetDateTime::from_unix_timestamp(ms / 1000)
                .map(|t| t.date().to_string())
                .unwrap_or_default()
        });
        println!(
            "    {:<10} {:>7.3}% {:>22} {:>14}",
            phase.name,
            phase.buckets as f64 / 1000.0,
            start,
            on_v2
        );
    }
    let now_phase = rollout
        .current_phase(litegate::eval::now_ms())
        .map(|p| &*rollout.phases[p].name);
    println!("    in force now: {}", now_phase.unwrap_or("none"));
    if !matches!(rollout.state, RolloutState::Running { .. }) {
        return Err("the bundled rollout should be running".into());
    }
    Ok(())
}

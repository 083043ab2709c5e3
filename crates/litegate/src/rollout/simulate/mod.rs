//! Fleet simulation: devices with and without GPU/NPU arrive, open sessions
//! and run the flag's feature; injected faults make some runs fail. Each
//! device runs the real [`Evaluator`] and its own real [`Guardrails`]; a
//! simulated collector aggregates what devices report, and every decision
//! interval the real [`decide`] and [`apply`] move the rollout. Deterministic
//! for a seed (a private SplitMix64 generator; no global state, no clock).

mod fleet;
mod seeds;

pub use fleet::simulate;
pub use seeds::{simulate_seeds, SeedsReport, MAX_SEEDS};

use super::chart::render_svg;
use serde::Serialize;
use std::collections::BTreeMap;

/// Minutes per simulation step.
pub const STEP_MINUTES: i64 = 5;
/// Inferences per session (e.g. frames of a camera feature).
pub const RUNS_PER_SESSION: u32 = 10;

/// Which arm a fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arm {
    /// The new variation (the default).
    #[default]
    Treatment,
    /// The control.
    Control,
    /// Both: a baseline the fleet has anyway.
    Both,
}

impl Arm {
    /// Whether a device served the treatment (or not) is hit.
    pub fn hits(self, is_treatment: bool) -> bool {
        match self {
            Arm::Treatment => is_treatment,
            Arm::Control => !is_treatment,
            Arm::Both => true,
        }
    }
}

/// An injected fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Runs fail with probability `rate` (on `device` only when given), in
    /// the treatment unless `arm` says otherwise.
    Error {
        /// Failure probability per run.
        rate: f64,
        /// Device model affected (all when `None`).
        device: Option<String>,
        /// The arm hit.
        arm: Arm,
    },
    /// Treatment runs on the GPU fail (on `device` only when given).
    GpuFail {
        /// Device model affected (all with a GPU when `None`).
        device: Option<String>,
    },
    /// Sessions using the treatment crash with probability `rate`.
    Crash {
        /// Crash probability per session.
        rate: f64,
    },
    /// Treatment runs take `ms` with probability `rate`.
    Slow {
        /// Latency of a slow run.
        ms: f64,
        /// Probability per run.
        rate: f64,
    },
    /// Every treatment run takes `factor` times as long (a regression of
    /// the new model, e.g. 1.2 for +20%).
    Latency {
        /// The multiplier.
        factor: f64,
    },
}

impl Fault {
    /// Parses `KIND[:key=value,...]`:
    /// `error:rate=0.08[,device=pixel-7][,arm=treatment|control|both]`,
    /// `gpu-fail[:device=pixel-7]`, `crash:rate=0.05`,
    /// `slow:ms=2500,rate=0.3`, `latency:factor=1.2`.
    ///
    /// # Errors
    /// A message naming what is wrong.
    pub fn parse(spec: &str) -> Result<Fault, String> {
        let (kind, rest) = spec.split_once(':').unwrap_or((spec, ""));
        let mut kv = BTreeMap::new();
        for part in rest.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}` in fault `{spec}` is not key=value"))?;
            kv.insert(k.trim(), v.trim());
        }
        let num = |k: &str| -> Result<f64, String> {
            let v = kv
                .get(k)
                .ok_or_else(|| format!("fault `{spec}` needs {k}=..."))?;
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| format!("{k}={v} in fault `{spec}` is not a non-negative number"))
        };
        let rate = |k: &str| -> Result<f64, String> {
            let r = num(k)?;
            if r > 1.0 {
                return Err(format!("{k} in fault `{spec}` is a probability (0 to 1)"));
            }
            Ok(r)
        };
        let device = kv.get("device").map(|s| (*s).to_owned());
        let arm = match kv.get("arm").copied() {
            None | Some("treatment") => Arm::Treatment,
            Some("control") => Arm::Control,
            Some("both") => Arm::Both,
            Some(other) => {
                return Err(format!(
                    "arm={other} in fault `{spec}`: expected treatment, control or both"
                ))
            }
        };
        if kind != "error" && kv.contains_key("arm") {
            return Err(format!("fault `{spec}`: only `error` takes arm=..."));
        }
        match kind {
            "error" => Ok(Fault::Error {
                rate: rate("rate")?,
                device,
                arm,
            }),
            "latency" => {
                let factor = num("factor")?;
                if !(0.01..=100.0).contains(&factor) {
                    return Err(format!(
                        "factor in fault `{spec}` must be between 0.01 and 100"
                    ));
                }
                Ok(Fault::Latency { factor })
            }
            "gpu-fail" => Ok(Fault::GpuFail { device }),
            "crash" => Ok(Fault::Crash {
                rate: rate("rate")?,
            }),
            "slow" => Ok(Fault::Slow {
                ms: num("ms")?,
                rate: rate("rate")?,
            }),
            other => Err(format!(
                "unknown fault kind `{other}` (expected error, gpu-fail, crash, slow or latency)"
            )),
        }
    }
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Devices (one user each).
    pub devices: u32,
    /// Simulated hours.
    pub hours: u32,
    /// The seed.
    pub seed: u64,
    /// Injected faults.
    pub faults: Vec<Fault>,
    /// The flag; `None`: the first flag with a rollout.
    pub flag: Option<String>,
    /// Simulation start (unix ms).
    pub start_ms: i64,
    /// Minutes between fleet decisions.
    pub decision_every_minutes: i64,
    /// Minutes for device data to reach the collector.
    pub upload_delay_minutes: i64,
    /// Minutes between a device's config fetches.
    pub fetch_every_minutes: i64,
}

impl SimConfig {
    /// Defaults: hourly decisions, 15-minute upload delay, 30-minute fetches.
    pub fn new(devices: u32, hours: u32, seed: u64) -> Self {
        SimConfig {
            devices,
            hours,
            seed,
            faults: Vec::new(),
            flag: None,
            start_ms: 1_800_000_000_000,
            decision_every_minutes: 60,
            upload_delay_minutes: 15,
            fetch_every_minutes: 30,
        }
    }
}

/// The device models simulated: (name, has GPU, has NPU, share in percent).
pub const DEVICE_MIX: [(&str, bool, bool, u32); 5] = [
    ("pixel-7", true, false, 20),
    ("galaxy-s23", true, true, 25),
    ("iphone-15", true, true, 25),
    ("budget-a14", false, false, 20),
    ("tablet-x", true, false, 10),
];

/// One sample of the fleet over time.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TimePoint {
    /// Minutes since start.
    pub minute: i64,
    /// The phase's configured percent at that time (as published).
    pub percent: f64,
    /// Devices served the treatment in this step.
    pub exposed_now: u32,
    /// Users ever served the treatment.
    pub exposed_total: u32,
    /// Users who ever saw a failure.
    pub failed_total: u32,
    /// Local guardrail trips so far.
    pub trips_total: u32,
}

/// A notable moment.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SimEvent {
    /// Minutes since start.
    pub minute: i64,
    /// `decision`, `first_trip`, `operation`.
    pub kind: String,
    /// What.
    pub detail: String,
}

/// Per phase figures.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PhaseRow {
    /// The phase name.
    pub phase: String,
    /// Minute the fleet entered it.
    pub entered_minute: i64,
    /// Devices served the treatment during it.
    pub devices_exposed: u32,
    /// Local trips during it.
    pub local_trips: u32,
    /// Minutes from entering the phase to the first local trip.
    pub first_trip_after_minutes: Option<i64>,
    /// Minutes from entering the phase to the fleet rolling it back.
    pub rolled_back_after_minutes: Option<i64>,
    /// Users who saw a failure during it.
    pub users_with_failure: u32,
}

/// The outcome.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SimReport {
    /// The flag simulated.
    pub flag: String,
    /// Devices.
    pub devices: u32,
    /// Per phase.
    pub phases: Vec<PhaseRow>,
    /// Every step.
    pub timeline: Vec<TimePoint>,
    /// Decisions, operations, first trip.
    pub events: Vec<SimEvent>,
    /// Minute of the first local trip.
    pub first_trip_minute: Option<i64>,
    /// Minute when 1% of all users had seen a failure.
    pub one_percent_failed_minute: Option<i64>,
    /// Minute the fleet decision first rolled back.
    pub fleet_rollback_minute: Option<i64>,
    /// Phases the fleet decision rolled back.
    pub rollbacks: u32,
    /// Fleet decisions taken (looks).
    pub looks: u32,
    /// Users who saw a failure.
    pub blast_radius: u32,
    /// The rollout's final state.
    pub final_state: String,
}

impl SimReport {
    /// The report as a text table.
    pub fn table(&self) -> String {
        let mut s = format!(
            "{:<10} {:>8} {:>9} {:>7} {:>12} {:>14} {:>10}\n",
            "phase", "entered", "exposed", "trips", "first trip", "fleet rollback", "failures"
        );
        let m = |x: Option<i64>| x.map_or("-".to_owned(), |v| format!("+{v}m"));
        for r in &self.phases {
            s.push_str(&format!(
                "{:<10} {:>7}m {:>9} {:>7} {:>12} {:>14} {:>10}\n",
                r.phase,
                r.entered_minute,
                r.devices_exposed,
                r.local_trips,
                m(r.first_trip_after_minutes),
                m(r.rolled_back_after_minutes),
                r.users_with_failure
            ));
        }
        let pct = 100.0 * f64::from(self.blast_radius) / f64::from(self.devices.max(1));
        s.push_str(&format!(
            "blast radius: {} of {} users saw a failure ({pct:.2}%); first local trip at {}; 1% of users failed at {}; fleet rollback at {}; final state: {}\n",
            self.blast_radius,
            self.devices,
            self.first_trip_minute.map_or("never".into(), |v| format!("minute {v}")),
            self.one_percent_failed_minute.map_or("never".into(), |v| format!("minute {v}")),
            self.fleet_rollback_minute.map_or("never".into(), |v| format!("minute {v}")),
            self.final_state
        ));
        s
    }

    /// The chart (SVG) of exposure and failures over time.
    pub fn svg(&self) -> String {
        render_svg(self)
    }
}

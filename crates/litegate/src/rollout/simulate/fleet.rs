//! The simulation loop: devices, sessions, runs, the collector and the
//! hourly fleet decision.

use super::{Fault, PhaseRow, SimConfig, SimEvent, SimReport, TimePoint, DEVICE_MIX};
use super::{RUNS_PER_SESSION, STEP_MINUTES};
use crate::config::{Document, RolloutState, Serve};
use crate::eval::{Context, Evaluator, Reason};
use crate::guardrails::{Guardrails, Observation, ObservationKind, Subject, Target};
use crate::rollout::histogram::ExpHistogram;
use crate::rollout::snapshot::{FlagSnapshot, MetricsSnapshot, VariationStats};
use crate::rollout::{
    apply, decide_watched, AuditMeta, Operation, RolloutError, Verdict, WatchState,
};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

const MINUTE: i64 = 60_000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

struct Device {
    model: &'static str,
    gpu: bool,
    npu: bool,
    arrival_min: i64,
    fetch_offset_min: i64,
    ctx: Context,
    guardrails: Guardrails,
    doc_version: u64,
    ever_exposed: bool,
    ever_failed: bool,
}

#[derive(Default, Clone)]
struct Agg {
    users: HashSet<u32>,
    runs: u64,
    errors: u64,
    fallbacks: u64,
    sessions: u64,
    crashes: u64,
    latency: Option<ExpHistogram>,
}

fn to_stats(a: &Agg) -> VariationStats {
    VariationStats {
        users: a.users.len() as u64,
        exposures: a.sessions,
        runs: a.runs,
        errors: a.errors,
        fallbacks: a.fallbacks,
        sessions: a.sessions,
        crashes: a.crashes,
        latency_ms: a.latency.clone(),
    }
}

fn parse_doc(v: &Value) -> Result<Document, RolloutError> {
    let bytes = serde_json::to_vec(v).map_err(|e| RolloutError::Document(e.to_string()))?;
    Ok(Document::parse(&bytes)?)
}

/// Runs the simulation on the config `raw`.
///
/// # Errors
/// [`RolloutError`] when the config has no usable phased flag.
pub fn simulate(raw: &Value, cfg: &SimConfig) -> Result<SimReport, RolloutError> {
    let mut raw = raw.clone();
    let mut doc = parse_doc(&raw)?;
    let flag = match &cfg.flag {
        Some(f) => f.clone(),
        None => doc
            .flag_keys()
            .find(|k| doc.ready_flag(k).is_some_and(|f| f.rollout.is_some()))
            .map(ToOwned::to_owned)
            .ok_or_else(|| RolloutError::NoRollout {
                flag: "(any)".into(),
            })?,
    };
    let f = doc
        .ready_flag(&flag)
        .ok_or_else(|| RolloutError::NoSuchFlag { flag: flag.clone() })?;
    let (treatment, control) = match &f.fallthrough {
        Serve::Phased {
            variation,
            otherwise,
            ..
        } => (
            f.variations[*variation].key.clone(),
            f.variations[*otherwise].key.clone(),
        ),
        _ => {
            return Err(RolloutError::InvalidPlan {
                path: format!("flags.{flag}.fallthrough"),
                message: "the simulation needs a `phased` fallthrough".into(),
            })
        }
    };
    let guardrail_model = crate::guardrails::parse_guardrails(doc.section("guardrails"))
        .ok()
        .and_then(|specs| {
            specs.into_iter().find_map(|g| match g.target {
                Target::Model { model, .. } => Some(model.to_string()),
                Target::Flag(_) => None,
            })
        })
        .unwrap_or_else(|| "model".into());

    let mut rng = Rng(cfg.seed ^ 0x05EE_D0FF_1EE7);
    let total_share: u32 = DEVICE_MIX.iter().map(|d| d.3).sum();
    let horizon = i64::from(cfg.hours) * 60;
    let mut devices: Vec<Device> = (0..cfg.devices)
        .map(|i| {
            let mut pick = (rng.next() % u64::from(total_share)) as u32;
            let mut entry = DEVICE_MIX[0];
            for d in DEVICE_MIX {
                if pick < d.3 {
                    entry = d;
                    break;
                }
                pick -= d.3;
            }
            // Arrivals spread over the first quarter of the run, front-loaded.
            let arrival = (-(1.0 - rng.unit()).ln() * (horizon as f64 / 12.0)) as i64;
            let ctx = Context::new(format!("user-{i}"))
                .device_model(entry.0)
                .has_gpu(entry.1)
                .has_npu(entry.2);
            Device {
                model: entry.0,
                gpu: entry.1,
                npu: entry.2,
                arrival_min: arrival.min(horizon),
                fetch_offset_min: (rng.next() % cfg.fetch_every_minutes.max(1) as u64) as i64,
                ctx,
                guardrails: Guardrails::in_memory(),
                doc_version: 0,
                ever_exposed: false,
                ever_failed: false,
            }
        })
        .collect();

    let mut report = SimReport {
        flag: flag.clone(),
        devices: cfg.devices,
        phases: Vec::new(),
        timeline: Vec::new(),
        events: Vec::new(),
        first_trip_minute: None,
        one_percent_failed_minute: None,
        fleet_rollback_minute: None,
        rollbacks: 0,
        looks: 0,
        blast_radius: 0,
        final_state: String::new(),
    };
    let phase_label = |doc: &Document, now: i64| -> (String, f64) {
        let Some(r) = doc.ready_flag(&flag).and_then(|f| f.rollout.clone()) else {
            return ("-".into(), 0.0);
        };
        let pct = f64::from(r.buckets_at(now)) / 1000.0;
        let name = match r.state {
            RolloutState::RolledBack => "rolled-back".to_owned(),
            RolloutState::NotStarted => "not-started".to_owned(),
            _ => r
                .current_phase(now)
                .map_or("-".into(), |p| r.phases[p].name.to_string()),
        };
        (name, pct)
    };
    let (name0, _) = phase_label(&doc, cfg.start_ms);
    report.phases.push(new_row(&name0, 0));
    let mut phase_exposed: HashSet<u32> = HashSet::new();
    let mut phase_failed: HashSet<u32> = HashSet::new();
    // Collector: per-step deltas waiting to arrive, then the phase totals.
    let mut in_flight: Vec<(i64, BTreeMap<String, Agg>)> = Vec::new();
    let mut arrived: BTreeMap<String, Agg> = BTreeMap::new();
    let (mut exposed_total, mut failed_total, mut trips_total) = (0u32, 0u32, 0u32);
    let one_percent = (f64::from(cfg.devices) * 0.01).ceil() as u32;
    let session_p = STEP_MINUTES as f64 / 120.0;

    let mut watch = WatchState::default();
    let mut minute = 0i64;
    while minute < horizon {
        let now = cfg.start_ms + minute * MINUTE;
        let mut step: BTreeMap<String, Agg> = BTreeMap::new();
        let mut exposed_now = 0u32;
        for (i, d) in devices.iter_mut().enumerate() {
            let id = i as u32;
            if minute < d.arrival_min || !rng.chance(session_p) {
                continue;
            }
            // Config fetch on the device's own schedule (first session: always).
            let fetch_due = d.doc_version == 0
                || (minute + d.fetch_offset_min) % cfg.fetch_every_minutes.max(1) < STEP_MINUTES;
            if fetch_due && d.doc_version != doc.version {
                let _ = d.guardrails.apply_config(&doc);
                d.doc_version = doc.version;
            }
            let disables = d.guardrails.local_disables();
            let ev = Evaluator::at(now).with_disables(&disables);
            let Ok(res) = ev.details(&doc, &flag, &d.ctx) else {
                continue;
            };
            let served = res.variation.clone().unwrap_or_else(|| control.clone());
            // Intent to treat: a device the guardrail switched off stays in
            // the arm it was assigned to.
            let assigned = if matches!(res.reason, Reason::Guardrail { .. }) {
                Evaluator::at(now)
                    .details(&doc, &flag, &d.ctx)
                    .ok()
                    .and_then(|r| r.variation)
                    .unwrap_or_else(|| served.clone())
            } else {
                served.clone()
            };
            let is_treatment = served == treatment;
            let agg = step.entry(assigned.to_string()).or_default();
            agg.users.insert(id);
            agg.sessions += 1;
            if is_treatment {
                exposed_now += 1;
                phase_exposed.insert(id);
                if !d.ever_exposed {
                    d.ever_exposed = true;
                    exposed_total += 1;
                }
            }
            let mut saw_failure = false;
            for _ in 0..RUNS_PER_SESSION {
                let accel = if d.npu
                    && !d
                        .guardrails
                        .is_accelerator_disabled(&guardrail_model, "npu")
                {
                    "npu"
                } else if d.gpu
                    && !d
                        .guardrails
                        .is_accelerator_disabled(&guardrail_model, "gpu")
                {
                    "gpu"
                } else {
                    "cpu"
                };
                let mut latency = match accel {
                    "npu" => 20.0,
                    "gpu" => 35.0,
                    _ => 120.0,
                } * (0.7 + 0.6 * rng.unit());
                let mut ok = true;
                for fault in &cfg.faults {
                    match fault {
                        Fault::Error { rate, device, arm } => {
                            if arm.hits(is_treatment)
                                && device.as_deref().is_none_or(|m| m == d.model)
                                && rng.chance(*rate)
                            {
                                ok = false;
                            }
                        }
                        Fault::GpuFail { device } => {
                            if is_treatment
                                && accel == "gpu"
                                && device.as_deref().is_none_or(|m| m == d.model)
                            {
                                ok = false;
                            }
                        }
                        Fault::Slow { ms, rate } => {
                            if is_treatment && rng.chance(*rate) {
                                latency = *ms;
                            }
                        }
                        Fault::Latency { factor } => {
                            if is_treatment {
                                latency *= factor;
                            }
                        }
                        Fault::Crash { .. } => {}
                    }
                }
                agg.runs += 1;
                if !ok {
                    agg.errors += 1;
                    saw_failure = true;
                }
                agg.latency
                    .get_or_insert_with(|| ExpHistogram::new(6))
                    .record(latency);
                let kind = ObservationKind::Run {
                    ok,
                    latency_ms: latency,
                    fell_back: false,
                };
                let mut trips = Vec::new();
                if is_treatment {
                    trips.extend(d.guardrails.observe(&Observation::new(
                        Subject::model(&guardrail_model, Some(accel)),
                        kind,
                        now,
                    )));
                }
                if is_treatment {
                    // The flag's guardrails watch the feature it turns on.
                    trips.extend(d.guardrails.observe(&Observation::new(
                        Subject::flag(&flag),
                        kind,
                        now,
                    )));
                }
                trips_total += trips.len() as u32;
                note_trips(&mut report, &trips, minute, d.model);
            }
            let crashed = is_treatment
                && cfg
                    .faults
                    .iter()
                    .any(|f| matches!(f, Fault::Crash { rate } if rng.chance(*rate)));
            if crashed {
                agg.crashes += 1;
                saw_failure = true;
            }
            // The session end (a crash is found by the marker at next start).
            if is_treatment {
                let t = d.guardrails.observe(&Observation::new(
                    Subject::flag(&flag),
                    ObservationKind::SessionEnd { crashed },
                    now,
                ));
                note_trips(&mut report, &t, minute, d.model);
                trips_total += t.len() as u32;
            }
            if saw_failure {
                phase_failed.insert(id);
                if !d.ever_failed {
                    d.ever_failed = true;
                    failed_total += 1;
                }
            }
        }
        if report.one_percent_failed_minute.is_none() && failed_total >= one_percent {
            report.one_percent_failed_minute = Some(minute);
        }
        in_flight.push((minute + cfg.upload_delay_minutes, step));
        let (due, later): (Vec<_>, Vec<_>) = in_flight.into_iter().partition(|(t, _)| *t <= minute);
        in_flight = later;
        for (_, step) in due {
            for (k, a) in step {
                let e = arrived.entry(k).or_default();
                e.users.extend(a.users);
                e.runs += a.runs;
                e.errors += a.errors;
                e.fallbacks += a.fallbacks;
                e.sessions += a.sessions;
                e.crashes += a.crashes;
                if let Some(h) = a.latency {
                    match &mut e.latency {
                        Some(x) => x.merge(&h),
                        None => e.latency = Some(h),
                    }
                }
            }
        }
        let (_, pct) = phase_label(&doc, now);
        if let Some(row) = report.phases.last_mut() {
            row.devices_exposed = phase_exposed.len() as u32;
            row.users_with_failure = phase_failed.len() as u32;
        }
        report.timeline.push(TimePoint {
            minute,
            percent: pct,
            exposed_now,
            exposed_total,
            failed_total,
            trips_total,
        });

        // The fleet decision.
        if minute > 0 && minute % cfg.decision_every_minutes.max(STEP_MINUTES) == 0 {
            let mut fsnap = FlagSnapshot::default();
            for (k, a) in &arrived {
                fsnap.variations.insert(k.clone(), to_stats(a));
            }
            let snapshot = MetricsSnapshot {
                format: 1,
                generated_at: None,
                flags: BTreeMap::from([(flag.clone(), fsnap)]),
            };
            let decision = decide_watched(&raw, &flag, &snapshot, now, &watch)?;
            watch = decision.watch.clone();
            report.looks += 1;
            let op = match decision.verdict {
                Verdict::Advance => Some(Operation::Advance { force: false }),
                Verdict::Rollback => Some(Operation::Rollback),
                Verdict::Hold => None,
            };
            let why: Vec<&str> = decision
                .checks
                .iter()
                .filter(|c| c.verdict == decision.verdict)
                .map(|c| c.name.as_str())
                .collect();
            report.events.push(SimEvent {
                minute,
                kind: "decision".into(),
                detail: format!("{:?}: {}", decision.verdict, why.join(", ")),
            });
            if let Some(op) = op {
                let meta = AuditMeta {
                    actor: "simulation".into(),
                    reason: Some(format!("decide: {}", why.join(", "))),
                    now_ms: now,
                };
                if let Ok(next) = apply(&raw, &flag, op, &meta) {
                    raw = next;
                    doc = parse_doc(&raw)?;
                    watch = WatchState::default();
                    if op == Operation::Rollback {
                        report.rollbacks += 1;
                        report.fleet_rollback_minute.get_or_insert(minute);
                        if let Some(row) = report.phases.last_mut() {
                            row.rolled_back_after_minutes = Some(minute - row.entered_minute);
                        }
                    }
                    let (name, _) = phase_label(&doc, now);
                    report.events.push(SimEvent {
                        minute,
                        kind: "operation".into(),
                        detail: format!("{} -> {name}", op.name()),
                    });
                    report.phases.push(new_row(&name, minute));
                    phase_exposed.clear();
                    phase_failed.clear();
                    arrived.clear();
                    in_flight.clear();
                }
            }
        }
        minute += STEP_MINUTES;
    }
    report.blast_radius = failed_total;
    report.final_state = phase_label(&doc, cfg.start_ms + horizon * MINUTE).0;
    Ok(report)
}

fn note_trips(report: &mut SimReport, trips: &[crate::guardrails::Trip], minute: i64, model: &str) {
    let Some(first) = trips.first() else { return };
    if let Some(row) = report.phases.last_mut() {
        row.local_trips += trips.len() as u32;
        row.first_trip_after_minutes
            .get_or_insert(minute - row.entered_minute);
    }
    if report.first_trip_minute.is_none() {
        report.first_trip_minute = Some(minute);
        report.events.push(SimEvent {
            minute,
            kind: "first_trip".into(),
            detail: format!(
                "{} on a {model} ({})",
                first.guardrail,
                first.metric.as_str()
            ),
        });
    }
}

fn new_row(name: &str, minute: i64) -> PhaseRow {
    PhaseRow {
        phase: name.to_owned(),
        entered_minute: minute,
        devices_exposed: 0,
        local_trips: 0,
        first_trip_after_minutes: None,
        rolled_back_after_minutes: None,
        users_with_failure: 0,
    }
}

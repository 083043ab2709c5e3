//! Many seeds of one simulation: how often the fleet decision rolled back
//! and how long it took. Without faults every rollback is a mistake (the
//! arms are identical), so this measures the false-rollback rate of the
//! decision as a watch loop uses it.

use super::{simulate, Arm, Fault, SimConfig};
use crate::rollout::RolloutError;
use serde::Serialize;

/// The most seeds one call runs (each is a full simulation).
pub const MAX_SEEDS: u32 = 10_000;

/// The outcome over many seeds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SeedsReport {
    /// Seeds run (`seed`, `seed + 1`, ...).
    pub seeds: u32,
    /// Whether a fault sets the arms apart; without one (no faults, or only
    /// `arm=both` baselines), every rollback is a mistake.
    pub faulty: bool,
    /// Runs in which the fleet decision rolled back at least once.
    pub runs_rolled_back: u32,
    /// Phases rolled back over all runs.
    pub phases_rolled_back: u32,
    /// Phases judged (entered, the starting one included) over all runs.
    pub phases_judged: u32,
    /// Fleet decisions (looks) over all runs.
    pub looks: u32,
    /// Minutes to the first fleet rollback of each run that had one, sorted.
    pub minutes_to_rollback: Vec<i64>,
    /// Users who saw a failure, summed over runs.
    pub users_with_failure: u64,
    /// Devices per run.
    pub devices: u32,
}

impl SeedsReport {
    /// The `q` quantile (0..=1) of the minutes to the first rollback.
    pub fn minutes_quantile(&self, q: f64) -> Option<i64> {
        let n = self.minutes_to_rollback.len();
        if n == 0 {
            return None;
        }
        let i = ((q.clamp(0.0, 1.0) * n as f64).ceil() as usize).clamp(1, n) - 1;
        self.minutes_to_rollback.get(i).copied()
    }

    /// The summary for people.
    pub fn summary(&self) -> String {
        let share = 100.0 * f64::from(self.runs_rolled_back) / f64::from(self.seeds.max(1));
        let mut s = if self.faulty {
            format!(
                "{} of {} runs rolled back ({share:.1}%); {} phases rolled back of {} judged; {} looks\n",
                self.runs_rolled_back,
                self.seeds,
                self.phases_rolled_back,
                self.phases_judged,
                self.looks
            )
        } else {
            format!(
                "healthy fleet (no fault sets the arms apart): {} of {} runs rolled back by mistake ({share:.1}%); {} of {} healthy phases rolled back; {} looks\n",
                self.runs_rolled_back,
                self.seeds,
                self.phases_rolled_back,
                self.phases_judged,
                self.looks
            )
        };
        let m = |q| {
            self.minutes_quantile(q)
                .map_or("-".into(), |v| format!("{v}"))
        };
        s.push_str(&format!(
            "minutes to the first fleet rollback: median {}, p90 {}, max {}\n",
            m(0.5),
            m(0.9),
            m(1.0)
        ));
        let avg = self.users_with_failure as f64 / f64::from(self.seeds.max(1));
        s.push_str(&format!(
            "users who saw a failure: {avg:.1} per run of {} devices ({:.3}%)\n",
            self.devices,
            100.0 * avg / f64::from(self.devices.max(1))
        ));
        s
    }
}

/// Runs `seeds` simulations of `cfg` with seeds `cfg.seed`, `cfg.seed + 1`,
/// ... (at most [`MAX_SEEDS`]).
///
/// # Errors
/// [`RolloutError`] as [`simulate`] gives, or `InvalidPlan` for too many
/// seeds.
pub fn simulate_seeds(
    raw: &serde_json::Value,
    cfg: &SimConfig,
    seeds: u32,
) -> Result<SeedsReport, RolloutError> {
    if seeds == 0 || seeds > MAX_SEEDS {
        return Err(RolloutError::InvalidPlan {
            path: "--seeds".into(),
            message: format!("expected 1 to {MAX_SEEDS} seeds, got {seeds}"),
        });
    }
    let mut out = SeedsReport {
        seeds,
        faulty: cfg
            .faults
            .iter()
            .any(|f| !matches!(f, Fault::Error { arm: Arm::Both, .. })),
        runs_rolled_back: 0,
        phases_rolled_back: 0,
        phases_judged: 0,
        looks: 0,
        minutes_to_rollback: Vec::new(),
        users_with_failure: 0,
        devices: cfg.devices,
    };
    for i in 0..seeds {
        let mut c = cfg.clone();
        c.seed = cfg.seed.wrapping_add(u64::from(i));
        let r = simulate(raw, &c)?;
        out.phases_judged += r
            .phases
            .iter()
            .filter(|p| !matches!(p.phase.as_str(), "rolled-back" | "not-started" | "-"))
            .count() as u32;
        out.phases_rolled_back += r.rollbacks;
        out.looks += r.looks;
        out.users_with_failure += u64::from(r.blast_radius);
        if let Some(m) = r.fleet_rollback_minute {
            out.runs_rolled_back += 1;
            out.minutes_to_rollback.push(m);
        }
    }
    out.minutes_to_rollback.sort_unstable();
    Ok(out)
}

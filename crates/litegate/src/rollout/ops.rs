//! Rollout operations: `Value -> Result<Value, RolloutError>` on the whole
//! document. Each bumps `version`, appends an audit entry and touches
//! nothing else; the result is validated with [`Document::parse`].

use super::plan::{entered_at_ms, plan_phases};
use super::{human_duration, rfc3339, RolloutError};
use crate::config::{Document, FlagEntry, PhasedRollout, RolloutState};
use serde_json::{json, Map, Value};

/// An operation on a flag's rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// not started (or rolled back) → running at the first phase.
    Start {
        /// Also turn the kill switch off (after an emergency rollback).
        clear_kill_switch: bool,
    },
    /// running at phase k → running at k+1; at the last phase → complete.
    Advance {
        /// Ignore the phase's `min_duration`.
        force: bool,
    },
    /// running → paused at the current phase.
    Pause,
    /// paused → running.
    Resume,
    /// running/paused at k → paused at k-1; at the first phase → rolled
    /// back; complete → paused at the phase before the last.
    Rollback,
    /// any state → rolled back with the kill switch on. Needs a reason.
    EmergencyRollback,
}

impl Operation {
    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Start { .. } => "start",
            Operation::Advance { .. } => "advance",
            Operation::Pause => "pause",
            Operation::Resume => "resume",
            Operation::Rollback => "rollback",
            Operation::EmergencyRollback => "emergency-rollback",
        }
    }
}

/// Who does it, why and when: recorded in the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditMeta {
    /// The person or system.
    pub actor: String,
    /// Why (required by `emergency-rollback`).
    pub reason: Option<String>,
    /// When (unix ms).
    pub now_ms: i64,
}

pub(crate) fn state_text(state: RolloutState, r: &PhasedRollout) -> String {
    let name = |p: usize| r.phases.get(p).map_or("?", |ph| &*ph.name).to_owned();
    match state {
        RolloutState::NotStarted => "not started".into(),
        RolloutState::Running { phase } => format!("running at {}", name(phase)),
        RolloutState::Paused { phase } => format!("paused at {}", name(phase)),
        RolloutState::RolledBack => "rolled back".into(),
        RolloutState::Complete => "complete".into(),
    }
}

pub(crate) fn state_json(state: RolloutState, r: &PhasedRollout) -> Value {
    let name = |p: usize| Value::from(r.phases.get(p).map_or("", |ph| &*ph.name));
    match state {
        RolloutState::NotStarted => json!({"status": "not_started"}),
        RolloutState::Running { phase } => json!({"status": "running", "phase": name(phase)}),
        RolloutState::Paused { phase } => json!({"status": "paused", "phase": name(phase)}),
        RolloutState::RolledBack => json!({"status": "rolled_back"}),
        RolloutState::Complete => json!({"status": "complete"}),
    }
}

/// The flag's rollout and its effective state at `now_ms` (a running
/// rollout moved on by its schedule is reported at the phase in force).
pub(crate) fn effective(
    doc: &Document,
    flag: &str,
    now_ms: i64,
) -> Result<(PhasedRollout, RolloutState), RolloutError> {
    let f = match doc.flag(flag) {
        None => {
            return Err(RolloutError::NoSuchFlag {
                flag: flag.to_owned(),
            })
        }
        Some(FlagEntry::Malformed { problems, .. }) => {
            return Err(RolloutError::MalformedFlag {
                flag: flag.to_owned(),
                problems: problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            })
        }
        Some(FlagEntry::Ready(f)) => f,
    };
    let r = f.rollout.clone().ok_or_else(|| RolloutError::NoRollout {
        flag: flag.to_owned(),
    })?;
    let state = match r.state {
        RolloutState::Running { .. } => RolloutState::Running {
            phase: r.current_phase(now_ms).unwrap_or(0),
        },
        s => s,
    };
    Ok((r, state))
}

/// Applies `op` to `flag` in the document `doc` and returns the new
/// document (version + 1, one more audit entry).
///
/// # Errors
/// [`RolloutError::IllegalTransition`] (with a hint), the other
/// [`RolloutError`] variants for bad input, and [`RolloutError::Config`]
/// when the input or the result does not parse.
pub fn apply(
    doc: &Value,
    flag: &str,
    op: Operation,
    meta: &AuditMeta,
) -> Result<Value, RolloutError> {
    let bytes = serde_json::to_vec(doc).map_err(|e| RolloutError::Document(e.to_string()))?;
    let parsed = Document::parse(&bytes)?;
    let (r, state) = effective(&parsed, flag, meta.now_ms)?;
    let last = r.phases.len() - 1;
    let refuse = |hint: &str| RolloutError::IllegalTransition {
        flag: flag.to_owned(),
        operation: op.name(),
        state: state_text(state, &r),
        hint: hint.to_owned(),
    };
    let reason = meta.reason.clone().filter(|s| !s.trim().is_empty());
    let kill = parsed.ready_flag(flag).and_then(|f| f.kill_switch.clone());
    let mut set_kill: Option<Value> = None;
    let next = match (op, state) {
        (
            Operation::Start { clear_kill_switch },
            RolloutState::NotStarted | RolloutState::RolledBack,
        ) => {
            if let Some(k) = &kill {
                if !clear_kill_switch {
                    return Err(RolloutError::KillSwitchActive {
                        flag: flag.to_owned(),
                        reason: k.to_string(),
                    });
                }
                set_kill = Some(json!({"active": false}));
            }
            RolloutState::Running { phase: 0 }
        }
        (Operation::Start { .. }, _) => {
            return Err(refuse(
                "only a rollout that is not started or rolled back can start",
            ))
        }
        (Operation::Advance { force }, RolloutState::Running { phase }) => {
            let raw_rollout = &doc["flags"][flag]["rollout"];
            let plan = plan_phases(raw_rollout, flag)?;
            if let (false, Some(min)) = (force, plan.get(phase).and_then(|p| p.min_duration_ms)) {
                let name = &*r.phases[phase].name;
                let entered = entered_at_ms(raw_rollout, name).or(r.phases[phase].start_ms);
                if let Some(entered) = entered {
                    let elapsed = meta.now_ms - entered;
                    if elapsed < min {
                        return Err(RolloutError::MinDurationNotMet {
                            flag: flag.to_owned(),
                            phase: name.to_owned(),
                            elapsed: human_duration(elapsed),
                            required: human_duration(min),
                        });
                    }
                }
            }
            if phase >= last {
                RolloutState::Complete
            } else {
                RolloutState::Running { phase: phase + 1 }
            }
        }
        (Operation::Advance { .. }, RolloutState::Paused { .. }) => {
            return Err(refuse("resume it first"))
        }
        (Operation::Advance { .. }, RolloutState::NotStarted) => {
            return Err(refuse("start it first"))
        }
        (Operation::Advance { .. }, _) => return Err(refuse("there is no next phase")),
        (Operation::Pause, RolloutState::Running { phase }) => RolloutState::Paused { phase },
        (Operation::Pause, _) => return Err(refuse("only a running rollout can be paused")),
        (Operation::Resume, RolloutState::Paused { phase }) => RolloutState::Running { phase },
        (Operation::Resume, _) => return Err(refuse("only a paused rollout can be resumed")),
        (Operation::Rollback, RolloutState::Running { phase } | RolloutState::Paused { phase }) => {
            if phase == 0 {
                RolloutState::RolledBack
            } else {
                RolloutState::Paused { phase: phase - 1 }
            }
        }
        (Operation::Rollback, RolloutState::Complete) => {
            if last == 0 {
                RolloutState::RolledBack
            } else {
                RolloutState::Paused { phase: last - 1 }
            }
        }
        (Operation::Rollback, _) => {
            return Err(refuse(
                "there is no earlier phase; use emergency-rollback to force the off variation",
            ))
        }
        (Operation::EmergencyRollback, _) => {
            let Some(reason) = &reason else {
                return Err(RolloutError::ReasonRequired {
                    operation: op.name(),
                });
            };
            if kill.is_some() && state == RolloutState::RolledBack {
                return Err(refuse("it is already rolled back with the kill switch on"));
            }
            set_kill = Some(json!({"active": true, "reason": reason}));
            RolloutState::RolledBack
        }
    };

    let mut out = doc.clone();
    let top = out
        .as_object_mut()
        .ok_or_else(|| RolloutError::Document("not a JSON object".into()))?;
    let version = top
        .get("version")
        .and_then(Value::as_u64)
        .ok_or_else(|| RolloutError::Document("`version` is missing".into()))?;
    top.insert("version".into(), Value::from(version + 1));
    let flag_obj = top
        .get_mut("flags")
        .and_then(|f| f.get_mut(flag))
        .and_then(Value::as_object_mut)
        .ok_or_else(|| RolloutError::NoSuchFlag {
            flag: flag.to_owned(),
        })?;
    if let Some(k) = set_kill {
        flag_obj.insert("kill_switch".into(), k);
    }
    let rollout = flag_obj
        .get_mut("rollout")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| RolloutError::NoRollout {
            flag: flag.to_owned(),
        })?;
    rollout.insert("state".into(), state_json(next, &r));
    let entry = {
        let mut e = Map::new();
        e.insert("at".into(), Value::from(rfc3339(meta.now_ms)));
        e.insert("actor".into(), Value::from(meta.actor.clone()));
        e.insert("action".into(), Value::from(op.name()));
        if let Some(reason) = reason {
            e.insert("reason".into(), Value::from(reason));
        }
        e.insert("from".into(), state_json(state, &r));
        e.insert("to".into(), state_json(next, &r));
        e.insert("version".into(), Value::from(version + 1));
        Value::Object(e)
    };
    match rollout.get_mut("audit") {
        Some(Value::Array(a)) => a.push(entry),
        _ => {
            rollout.insert("audit".into(), Value::Array(vec![entry]));
        }
    }
    let check = serde_json::to_vec(&out).map_err(|e| RolloutError::Document(e.to_string()))?;
    Document::parse(&check)?;
    Ok(out)
}

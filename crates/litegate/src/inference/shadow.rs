//! Shadow mode: a candidate model version runs on a sampled fraction of
//! calls, on a background thread, and its outputs are compared with the
//! production model's. The caller's result never changes and the caller
//! never waits: when the queue is full the sample is dropped and counted.

use super::observer::ModelRef;
use super::runner::{ModelRunner, RunOutcome};
use super::tensor::Tensor;
use parking_lot::Mutex;
use serde::Serialize;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;

/// One comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShadowComparison {
    /// Candidate version.
    pub candidate_version: String,
    /// Largest absolute difference over all outputs (`None` when the
    /// candidate failed or the outputs' shapes differ).
    pub max_abs_diff: Option<f64>,
    /// Whether the arg-max of the first output agrees (classifiers:
    /// outputs of rank <= 2).
    pub top1_agree: Option<bool>,
    /// Why the candidate produced nothing comparable.
    pub error: Option<String>,
}

/// Running totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ShadowStats {
    /// Samples queued.
    pub submitted: u64,
    /// Samples dropped because the queue was full.
    pub dropped: u64,
    /// Comparisons finished.
    pub compared: u64,
    /// Comparisons where top-1 agreed.
    pub top1_agreements: u64,
    /// Comparisons with a top-1 answer.
    pub top1_compared: u64,
    /// Largest absolute difference seen.
    pub max_abs_diff: f64,
    /// Candidate failures.
    pub failures: u64,
}

struct Job {
    inputs: Vec<Tensor>,
    production: Vec<Tensor>,
}

pub(crate) struct ShadowState {
    tx: SyncSender<Job>,
    rate: f64,
    credit: f64,
    stats: Arc<Mutex<ShadowStats>>,
}

impl ShadowState {
    /// Deterministic sampling: a credit accumulates `rate` per call and a
    /// sample is taken each time it reaches 1.
    pub(crate) fn maybe_submit(&mut self, inputs: &[Tensor], outputs: &[Tensor]) {
        self.credit += self.rate;
        if self.credit < 1.0 {
            return;
        }
        self.credit -= 1.0;
        let job = Job {
            inputs: inputs.to_vec(),
            production: outputs.to_vec(),
        };
        match self.tx.try_send(job) {
            Ok(()) => self.stats.lock().submitted += 1,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.stats.lock().dropped += 1
            }
        }
    }
}

fn argmax(t: &Tensor) -> Option<usize> {
    t.to_f64()
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| i)
}

/// Compares production and candidate outputs.
pub fn compare(
    candidate_version: &str,
    production: &[Tensor],
    candidate: &[Tensor],
) -> ShadowComparison {
    let same_shape = production.len() == candidate.len()
        && production
            .iter()
            .zip(candidate)
            .all(|(p, c)| p.shape == c.shape && p.dtype == c.dtype);
    if !same_shape {
        return ShadowComparison {
            candidate_version: candidate_version.into(),
            max_abs_diff: None,
            top1_agree: None,
            error: Some("output shapes differ".into()),
        };
    }
    let mut max = 0.0f64;
    for (p, c) in production.iter().zip(candidate) {
        for (a, b) in p.to_f64().iter().zip(c.to_f64()) {
            max = max.max((a - b).abs());
        }
    }
    let top1_agree = production
        .first()
        .zip(candidate.first())
        .and_then(|(p, c)| {
            (p.shape.len() <= 2 && p.data.len() > p.dtype.size()).then(|| argmax(p) == argmax(c))
        });
    ShadowComparison {
        candidate_version: candidate_version.into(),
        max_abs_diff: Some(max),
        top1_agree,
        error: None,
    }
}

impl ModelRunner {
    /// Runs `candidate` in shadow on `sample_rate` (0..=1) of this
    /// runner's successful calls. Replaces any previous shadow.
    pub fn attach_shadow(&self, candidate: ModelRunner, sample_rate: f64) {
        let (tx, rx) = sync_channel::<Job>(4);
        let stats = Arc::new(Mutex::new(ShadowStats::default()));
        let worker_stats = Arc::clone(&stats);
        let production = self.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("litegate-shadow-{}", self.key()))
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    let cmp = match candidate.run(&job.inputs) {
                        Ok(RunOutcome::Completed(r)) => {
                            compare(candidate.version(), &job.production, &r.outputs)
                        }
                        Ok(RunOutcome::Unavailable(u)) => ShadowComparison {
                            candidate_version: candidate.version().into(),
                            max_abs_diff: None,
                            top1_agree: None,
                            error: Some(u.reasons.join("; ")),
                        },
                        Err(e) => ShadowComparison {
                            candidate_version: candidate.version().into(),
                            max_abs_diff: None,
                            top1_agree: None,
                            error: Some(e.to_string()),
                        },
                    };
                    {
                        let mut s = worker_stats.lock();
                        s.compared += 1;
                        match cmp.max_abs_diff {
                            Some(d) => s.max_abs_diff = s.max_abs_diff.max(d),
                            None => s.failures += 1,
                        }
                        if let Some(agree) = cmp.top1_agree {
                            s.top1_compared += 1;
                            s.top1_agreements += u64::from(agree);
                        }
                    }
                    let inner = &production.inner;
                    inner.shared_observer().on_shadow(
                        ModelRef {
                            key: production.key(),
                            version: production.version(),
                            engine: production.engine(),
                        },
                        &cmp,
                    );
                }
            });
        if spawned.is_err() {
            return;
        }
        *self.inner.shadow.lock() = Some(ShadowState {
            tx,
            rate: sample_rate.clamp(0.0, 1.0),
            credit: 0.0,
            stats,
        });
    }

    /// Stops shadowing; the worker ends when its queue drains.
    pub fn detach_shadow(&self) {
        *self.inner.shadow.lock() = None;
    }

    /// Shadow totals so far.
    pub fn shadow_stats(&self) -> Option<ShadowStats> {
        self.inner
            .shadow
            .lock()
            .as_ref()
            .map(|s| s.stats.lock().clone())
    }
}

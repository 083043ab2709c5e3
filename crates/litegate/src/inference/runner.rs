//! `ModelRunner`: one verified model, its accelerator chain, its pool of
//! compiled instances, and the run path with fallback.

use super::accel::{select_candidates, Accelerator, EngineKind, SelectionInput, SkipReason};
use super::adaptive::AdaptiveSwitcher;
use super::engine::{EngineShared, InjectedFault, Runtime};
use super::error::InferenceError;
use super::history::{now_ms, HistoryKey};
use super::integrity;
use super::manifest::ModelManifest;
use super::observer::{ModelRef, RunStatus};
pub use super::outcome::{
    FallbackAttempt, FallbackStage, LoadOptions, LoadTimings, RunOutcome, RunReport, Unavailable,
};
use super::pool::{Pool, Slot};
use super::runtime::litert::LiteRtInstance;
use super::runtime::tflite::{DelegatePlan, TfLiteInstance};
use super::runtime::{AlignedBytes, RuntimeError};
use super::shadow::ShadowState;
use super::tensor::{Tensor, TensorError, TensorSpec};
use parking_lot::Mutex;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) enum Instance {
    LiteRt(LiteRtInstance),
    TfLite(TfLiteInstance),
}

impl Instance {
    fn inputs(&self) -> &[TensorSpec] {
        match self {
            Instance::LiteRt(i) => i.inputs(),
            Instance::TfLite(i) => i.inputs(),
        }
    }
    fn outputs(&self) -> &[TensorSpec] {
        match self {
            Instance::LiteRt(i) => i.outputs(),
            Instance::TfLite(i) => i.outputs(),
        }
    }
    fn run(&mut self, inputs: &[&[u8]]) -> Result<Vec<Vec<u8>>, RuntimeError> {
        match self {
            Instance::LiteRt(i) => i.run(inputs),
            Instance::TfLite(i) => i.run(inputs),
        }
    }
}

struct State {
    /// Accelerators still to try, best first; `chain[0]` is active.
    chain: Vec<Accelerator>,
    /// Bumped with every change of `chain[0]`.
    generation: u64,
    all_fallbacks: Vec<FallbackAttempt>,
    skipped: Vec<(Accelerator, SkipReason)>,
    /// Accelerators whose first run finished (no crash marker needed).
    proven: BTreeSet<Accelerator>,
    switcher: AdaptiveSwitcher,
    runs: u64,
    unavailable: Vec<String>,
}

pub(crate) struct RunnerInner {
    shared: Arc<EngineShared>,
    key: String,
    version: String,
    engine: EngineKind,
    runtime: Option<Runtime>,
    runtime_version: String,
    bytes: Arc<AlignedBytes>,
    inputs: Vec<TensorSpec>,
    outputs: Vec<TensorSpec>,
    pool: Pool<(Accelerator, Instance)>,
    state: Mutex<State>,
    timings: LoadTimings,
    pub(crate) shadow: Mutex<Option<ShadowState>>,
}

/// A loaded model. Cheap to clone; `Send + Sync`; runs concurrently up to
/// the pool size.
#[derive(Clone)]
pub struct ModelRunner {
    pub(crate) inner: Arc<RunnerInner>,
}

impl std::fmt::Debug for ModelRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelRunner")
            .field("key", &self.inner.key)
            .field("version", &self.inner.version)
            .field("engine", &self.inner.engine)
            .field("accelerator", &self.accelerator())
            .finish()
    }
}

impl ModelRunner {
    pub(crate) fn load(
        shared: Arc<EngineShared>,
        manifest: &ModelManifest,
        bytes: &[u8],
        options: &LoadOptions,
    ) -> Result<ModelRunner, InferenceError> {
        let started = Instant::now();
        integrity::verify(manifest, bytes)?;
        let aligned = Arc::new(AlignedBytes::copy_from(bytes));
        let verify = started.elapsed();
        let engine = options.engine.unwrap_or(manifest.engine);
        let rt_started = Instant::now();
        let runtime = shared.runtime(engine);
        let runtime_time = rt_started.elapsed();
        let mut unavailable = Vec::new();
        let (runtime, runtime_version) = match runtime {
            Ok(rt) => {
                let v = rt.version();
                (Some(rt), v)
            }
            Err(e) => {
                unavailable.push(format!("{engine} runtime unavailable: {e}"));
                (None, String::new())
            }
        };
        let policy = shared.policy.read().clone();
        let hkey = HistoryKey {
            model: &manifest.key,
            model_version: &manifest.version,
            engine,
            runtime_version: &runtime_version,
        };
        let failed_before = shared.history.failed(&hkey);
        let (chain, skipped) = {
            let overrides = shared.overrides.read();
            select_candidates(&SelectionInput {
                model_key: &manifest.key,
                manifest_allowed: &manifest.accelerators,
                policy: &policy,
                keys: &shared.config.flag_keys,
                overrides: &overrides,
                failed_before: &failed_before,
                requested: options.accelerator,
            })
        };
        let inner = RunnerInner {
            pool: Pool::new(shared.config.pool_size),
            shared: Arc::clone(&shared),
            key: manifest.key.clone(),
            version: manifest.version.clone(),
            engine,
            runtime,
            runtime_version,
            bytes: aligned,
            inputs: Vec::new(),
            outputs: Vec::new(),
            state: Mutex::new(State {
                chain,
                generation: 0,
                all_fallbacks: Vec::new(),
                skipped,
                proven: BTreeSet::new(),
                switcher: AdaptiveSwitcher::new(shared.config.adaptive),
                runs: 0,
                unavailable,
            }),
            timings: LoadTimings {
                verify,
                runtime: runtime_time,
                compile: Duration::ZERO,
            },
            shadow: Mutex::new(None),
        };
        let mut inner = inner;
        let model = ModelRef {
            key: &manifest.key,
            version: &manifest.version,
            engine,
        };
        shared.observer.on_load(model, verify + runtime_time);
        // Compile the first working accelerator now: load time is when an
        // app expects the cost, and it tells the truth about the device.
        let compile_started = Instant::now();
        if inner.runtime.is_some() {
            while let Some(&acc) = inner.state.get_mut().chain.first() {
                match inner.compile(acc) {
                    Ok(inst) => {
                        inner.inputs = inst.inputs().to_vec();
                        inner.outputs = inst.outputs().to_vec();
                        inner.pool.seed((acc, inst));
                        break;
                    }
                    Err(e) => inner.fall_back(acc, FallbackStage::Compile, &e.to_string()),
                }
            }
        }
        inner.timings.compile = compile_started.elapsed();
        if !manifest.inputs.is_empty() && !inner.inputs.is_empty() {
            for declared in &manifest.inputs {
                let found = inner.inputs.iter().find(|s| s.name == declared.name);
                if found.is_none_or(|f| f.dtype != declared.dtype || f.shape != declared.shape) {
                    return Err(InferenceError::InvalidInput(TensorError::UnknownInput {
                        name: declared.name.clone(),
                        known: inner.inputs.iter().map(|s| s.name.clone()).collect(),
                    }));
                }
            }
        }
        Ok(ModelRunner {
            inner: Arc::new(inner),
        })
    }

    /// Model key.
    pub fn key(&self) -> &str {
        &self.inner.key
    }

    /// Model version.
    pub fn version(&self) -> &str {
        &self.inner.version
    }

    /// Engine.
    pub fn engine(&self) -> EngineKind {
        self.inner.engine
    }

    /// Runtime version (empty when the runtime is unavailable).
    pub fn runtime_version(&self) -> &str {
        &self.inner.runtime_version
    }

    /// Input tensors (empty when nothing compiled).
    pub fn inputs(&self) -> &[TensorSpec] {
        &self.inner.inputs
    }

    /// Output tensors.
    pub fn outputs(&self) -> &[TensorSpec] {
        &self.inner.outputs
    }

    /// The accelerator runs go to now, if any.
    pub fn accelerator(&self) -> Option<Accelerator> {
        self.inner.state.lock().chain.first().copied()
    }

    /// Every fallback so far (load and runs).
    pub fn fallbacks(&self) -> Vec<FallbackAttempt> {
        self.inner.state.lock().all_fallbacks.clone()
    }

    /// Accelerators not tried, with the reason.
    pub fn skipped(&self) -> Vec<(Accelerator, SkipReason)> {
        self.inner.state.lock().skipped.clone()
    }

    /// Load-time figures.
    pub fn load_timings(&self) -> LoadTimings {
        self.inner.timings
    }

    /// Runs the model. Inputs are matched to the model's by name and
    /// checked (type, shape, byte length) before the runtime is called.
    ///
    /// # Errors
    /// [`InferenceError::InvalidInput`] or [`InferenceError::Busy`]. Every
    /// runtime or accelerator failure becomes a fallback, and when nothing
    /// local works the outcome is [`RunOutcome::Unavailable`].
    pub fn run(&self, inputs: &[Tensor]) -> Result<RunOutcome, InferenceError> {
        let outcome = self.inner.run(inputs);
        if let (Ok(RunOutcome::Completed(report)), Some(shadow)) =
            (&outcome, self.inner.shadow.lock().as_mut())
        {
            shadow.maybe_submit(inputs, &report.outputs);
        }
        outcome
    }
}

impl RunnerInner {
    fn model_ref(&self) -> ModelRef<'_> {
        ModelRef {
            key: &self.key,
            version: &self.version,
            engine: self.engine,
        }
    }

    fn history_key(&self) -> HistoryKey<'_> {
        HistoryKey {
            model: &self.key,
            model_version: &self.version,
            engine: self.engine,
            runtime_version: &self.runtime_version,
        }
    }

    fn compile(&self, acc: Accelerator) -> Result<Instance, RuntimeError> {
        let started = Instant::now();
        let fault = self.shared.fault(acc);
        let result = match &self.runtime {
            None => Err(RuntimeError::AcceleratorUnavailable {
                reason: "no runtime".into(),
            }),
            Some(Runtime::LiteRt(rt)) => {
                if fault == Some(InjectedFault::FailingPrepare) {
                    Err(RuntimeError::Injected(format!("compile on {acc} refused")))
                } else {
                    rt.compile(&self.bytes, acc).map(Instance::LiteRt)
                }
            }
            Some(Runtime::TfLite(rt)) => {
                let plan = if fault == Some(InjectedFault::FailingPrepare) {
                    DelegatePlan::FailingPrepare
                } else {
                    DelegatePlan::Standard
                };
                rt.compile(&self.bytes, acc, plan, self.shared.config.tflite_threads)
                    .map(Instance::TfLite)
            }
        };
        let err = result.as_ref().err().map(|e| e.to_string());
        self.shared
            .observer
            .on_compile(self.model_ref(), acc, started.elapsed(), err.as_deref());
        result
    }

    /// Marks `acc` failed, moves the chain on and retires its instances.
    fn fall_back(&self, acc: Accelerator, stage: FallbackStage, error: &str) {
        let next = {
            let mut s = self.state.lock();
            if s.chain.first() == Some(&acc) {
                s.chain.remove(0);
                s.generation += 1;
                self.pool.bump_generation();
            } else {
                s.chain.retain(|a| *a != acc);
            }
            s.all_fallbacks.push(FallbackAttempt {
                accelerator: acc,
                stage,
                error: error.to_owned(),
            });
            s.chain.first().copied()
        };
        let detail = format!("{stage:?} failed: {error}");
        self.shared
            .history
            .record_failure(&self.history_key(), acc, &detail);
        self.shared
            .observer
            .on_fallback(self.model_ref(), acc, next, error);
    }

    fn unavailable(&self, extra: Option<String>) -> RunOutcome {
        let policy = self.shared.policy.read().clone();
        let mut reasons = extra.into_iter().collect::<Vec<_>>();
        {
            let s = self.state.lock();
            reasons.extend(s.unavailable.iter().cloned());
            for f in &s.all_fallbacks {
                reasons.push(format!("{} {:?}: {}", f.accelerator, f.stage, f.error));
            }
            for (a, r) in &s.skipped {
                reasons.push(format!("{a} skipped: {r:?}"));
            }
        }
        if reasons.is_empty() {
            reasons.push("no accelerator left to try".into());
        }
        self.shared
            .observer
            .on_unavailable(self.model_ref(), &reasons);
        RunOutcome::Unavailable(Unavailable {
            model: self.key.clone(),
            reasons,
            cloud_fallback_allowed: policy.fallback_to_cloud,
        })
    }

    fn order_inputs<'a>(&self, inputs: &'a [Tensor]) -> Result<Vec<&'a [u8]>, TensorError> {
        let mut ordered = Vec::with_capacity(self.inputs.len());
        for t in inputs {
            if !self.inputs.iter().any(|s| s.name == t.name) {
                return Err(TensorError::UnknownInput {
                    name: t.name.clone(),
                    known: self.inputs.iter().map(|s| s.name.clone()).collect(),
                });
            }
        }
        for spec in &self.inputs {
            let t = inputs.iter().find(|t| t.name == spec.name).ok_or_else(|| {
                TensorError::MissingInput {
                    name: spec.name.clone(),
                }
            })?;
            t.check_against(spec)?;
            ordered.push(t.data.as_slice());
        }
        Ok(ordered)
    }

    fn run(&self, inputs: &[Tensor]) -> Result<RunOutcome, InferenceError> {
        {
            let policy = self.shared.policy.read();
            if !policy.litert_enabled {
                let flag = self.shared.config.flag_keys.litert_enabled.clone();
                drop(policy);
                return Ok(self.unavailable(Some(format!(
                    "on-device inference disabled by flag `{flag}`"
                ))));
            }
            if self
                .shared
                .overrides
                .read()
                .forced_fallback
                .contains(&self.key)
            {
                return Ok(
                    self.unavailable(Some("forced to the fallback path by a guardrail".into()))
                );
            }
        }
        if self.inputs.is_empty() && self.outputs.is_empty() {
            return Ok(self.unavailable(None));
        }
        let ordered = self.order_inputs(inputs)?;
        let mut fallbacks = Vec::new();
        // Bounded: each pass either returns or removes one accelerator.
        for _ in 0..=Accelerator::PREFERENCE.len() {
            let (active, generation, proven) = {
                let s = self.state.lock();
                match s.chain.first() {
                    Some(&a) => (a, s.generation, s.proven.contains(&a)),
                    None => break,
                }
            };
            if self.guardrail_disabled(active) {
                self.fall_back(active, FallbackStage::Run, "disabled by guardrail");
                continue;
            }
            let Some(slot) = self.pool.acquire(self.shared.config.busy_timeout) else {
                self.shared.observer.on_run(
                    self.model_ref(),
                    Some(active),
                    Duration::ZERO,
                    RunStatus::Failed("busy"),
                );
                return Err(InferenceError::Busy {
                    model: self.key.clone(),
                    pool_size: self.pool.max(),
                    waited: self.shared.config.busy_timeout,
                });
            };
            let (pool_gen, (acc, mut inst)) = match slot {
                Slot::Idle(g, item) => (g, item),
                Slot::Create(g) => {
                    if g != self.pool.generation() || generation != self.state.lock().generation {
                        self.pool.forfeit();
                        continue;
                    }
                    match self.compile(active) {
                        Ok(inst) => (g, (active, inst)),
                        Err(e) => {
                            self.pool.forfeit();
                            let msg = e.to_string();
                            self.fall_back(active, FallbackStage::Compile, &msg);
                            fallbacks.push(FallbackAttempt {
                                accelerator: active,
                                stage: FallbackStage::Compile,
                                error: msg,
                            });
                            continue;
                        }
                    }
                }
            };
            let hkey = self.history_key();
            if !proven {
                self.shared.history.begin_run(&hkey, acc);
            }
            let started = Instant::now();
            let result = if self.shared.fault(acc) == Some(InjectedFault::FailRuns) {
                Err(RuntimeError::Injected(format!("run on {acc} failed")))
            } else {
                inst.run(&ordered)
            };
            let latency = started.elapsed();
            match result {
                Ok(raw) => {
                    let outputs = inst
                        .outputs()
                        .iter()
                        .zip(raw)
                        .map(|(spec, data)| Tensor {
                            name: spec.name.clone(),
                            dtype: spec.dtype,
                            shape: spec.shape.clone(),
                            data,
                        })
                        .collect();
                    self.pool.release(pool_gen, (acc, inst));
                    if !proven {
                        self.shared.history.end_run(&hkey, acc);
                        self.state.lock().proven.insert(acc);
                    }
                    self.shared.observer.on_run(
                        self.model_ref(),
                        Some(acc),
                        latency,
                        RunStatus::Ok,
                    );
                    self.after_success(acc, latency, &ordered);
                    return Ok(RunOutcome::Completed(RunReport {
                        engine: self.engine,
                        runtime_version: self.runtime_version.clone(),
                        accelerator: acc,
                        fallbacks,
                        outputs,
                        latency,
                    }));
                }
                Err(e) => {
                    drop(inst);
                    self.pool.forfeit();
                    if !proven {
                        self.shared.history.end_run(&hkey, acc);
                    }
                    let msg = e.to_string();
                    self.shared.observer.on_run(
                        self.model_ref(),
                        Some(acc),
                        latency,
                        RunStatus::Failed("runtime_status"),
                    );
                    self.fall_back(acc, FallbackStage::Run, &msg);
                    fallbacks.push(FallbackAttempt {
                        accelerator: acc,
                        stage: FallbackStage::Run,
                        error: msg,
                    });
                }
            }
        }
        Ok(self.unavailable(None))
    }

    fn guardrail_disabled(&self, acc: Accelerator) -> bool {
        self.shared
            .overrides
            .read()
            .disabled
            .get(&self.key)
            .is_some_and(|s| s.contains(&acc))
    }

    /// Feeds the adaptive switcher; when switching is on, measures the
    /// alternatives now and then and switches when one is clearly faster.
    fn after_success(&self, acc: Accelerator, latency: Duration, inputs: &[&[u8]]) {
        if !self.shared.policy.read().adaptive_switching {
            return;
        }
        let (probe, alternatives) = {
            let mut s = self.state.lock();
            s.runs += 1;
            s.switcher.record(acc, latency.as_secs_f64() * 1e6);
            let every = s.switcher.config().probe_every.max(1);
            let alternatives: Vec<Accelerator> = s.chain.iter().skip(1).copied().collect();
            (
                s.runs % every == 0 && !alternatives.is_empty(),
                alternatives,
            )
        };
        if probe {
            for alt in &alternatives {
                let Ok(mut inst) = self.compile(*alt) else {
                    continue;
                };
                let window = self.state.lock().switcher.config().window;
                for _ in 0..window {
                    let started = Instant::now();
                    if inst.run(inputs).is_err() {
                        break;
                    }
                    self.state
                        .lock()
                        .switcher
                        .record(*alt, started.elapsed().as_secs_f64() * 1e6);
                }
            }
        }
        let switch = {
            let mut s = self.state.lock();
            let decision = s.switcher.decide(acc, &alternatives, now_ms());
            if let Some(sw) = &decision {
                // Move the chosen accelerator to the front, keep the rest.
                s.chain.retain(|a| *a != sw.to);
                s.chain.insert(0, sw.to);
                s.generation += 1;
                self.pool.bump_generation();
            }
            decision
        };
        if let Some(sw) = switch {
            self.shared.observer.on_switch(self.model_ref(), &sw);
        }
    }
}

impl RunnerInner {
    pub(crate) fn shared_observer(&self) -> &dyn super::observer::InferenceObserver {
        self.shared.observer.as_ref()
    }
}

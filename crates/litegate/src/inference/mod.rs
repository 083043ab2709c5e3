//! On-device inference: LiteRT engines, accelerator selection and fallback.
//!
//! - [`InferenceEngine`] holds the configuration, the runtimes (loaded at
//!   run time with `libloading`; a missing library means `Unavailable`,
//!   never a crash), the accelerator policy, guardrail overrides and the
//!   per-device failure history.
//! - [`ModelRunner`] is one verified model: its bytes are checked (size,
//!   SHA-256, flatbuffer header) before a runtime sees them, loaded from
//!   that buffer, compiled for one accelerator at a time (NPU, GPU, CPU),
//!   and run through a bounded pool with fallback on failure.
//!
//! ```no_run
//! use litegate::inference::{EngineConfig, InferenceEngine, ModelManifest, RunOutcome, Tensor};
//! let bytes = std::fs::read("model.tflite").unwrap();
//! let engine = InferenceEngine::new(EngineConfig::default());
//! let runner = engine.load(&ModelManifest::for_bytes("m", "1", &bytes), &bytes).unwrap();
//! let input = Tensor::from_f32("input", vec![1, 4], &[1.0, 2.0, 3.0, 4.0]);
//! match runner.run(&[input]).unwrap() {
//!     RunOutcome::Completed(r) => println!("ran on {}", r.accelerator),
//!     RunOutcome::Unavailable(u) => println!("use the cloud path: {:?}", u.reasons),
//! }
//! ```

pub mod accel;
pub mod adaptive;
pub mod download;
pub mod engine;
pub mod error;
pub mod history;
pub mod integrity;
pub mod manifest;
pub mod observer;
pub mod outcome;
pub mod pool;
pub mod runner;
pub mod runtime;
pub mod shadow;
pub mod tensor;

pub use accel::{Accelerator, AcceleratorPolicy, EngineKind, GuardrailOverrides, PolicyFlagKeys};
pub use engine::{EngineConfig, InferenceEngine, InjectedFault};
pub use error::InferenceError;
pub use manifest::{parse_models, ModelManifest};
pub use observer::{InferenceObserver, NoopObserver};
pub use runner::{LoadOptions, ModelRunner, RunOutcome, RunReport, Unavailable};
pub use runtime::{RuntimeLoadError, RuntimeLocator};
pub use tensor::{DType, Tensor, TensorSpec};

//! Concurrency: more callers than pool slots; every caller gets a correct
//! result or a typed `Busy`, never a data race.

mod support;

use litegate::inference::runtime::RuntimeLocator;
use litegate::inference::{
    Accelerator, EngineConfig, EngineKind, InferenceEngine, InferenceError, LoadOptions,
    ModelManifest, RunOutcome, Tensor,
};
use std::sync::Arc;
use std::time::Duration;
use support::{runtimes, tiny_model};

fn runner(
    pool: usize,
    timeout: Duration,
    kind: EngineKind,
) -> Option<litegate::inference::ModelRunner> {
    let engine = InferenceEngine::new(EngineConfig {
        litert_library: RuntimeLocator::explicit(runtimes::litert_lib()?),
        tflite_library: RuntimeLocator::explicit(runtimes::tflite_lib()?),
        pool_size: pool,
        busy_timeout: timeout,
        ..EngineConfig::default()
    });
    let bytes = tiny_model::add_model(&[1, 64], None);
    let opts = LoadOptions {
        engine: Some(kind),
        accelerator: Some(Accelerator::Cpu),
    };
    Some(
        engine
            .load_with(&ModelManifest::for_bytes("add", "1", &bytes), &bytes, &opts)
            .unwrap(),
    )
}

#[test]
fn eight_threads_on_two_slots_all_get_their_own_sums() {
    for kind in [EngineKind::LiteRt, EngineKind::TfLite] {
        let Some(runner) = runner(2, Duration::from_secs(60), kind) else {
            return;
        };
        let runner = Arc::new(runner);
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let runner = Arc::clone(&runner);
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let v = (t * 1000 + i) as f32;
                        let a = Tensor::from_f32("a", vec![1, 64], &[v; 64]);
                        let b = Tensor::from_f32("b", vec![1, 64], &[1.0; 64]);
                        match runner.run(&[a, b]).unwrap() {
                            RunOutcome::Completed(r) => assert!(r.outputs[0]
                                .as_f32()
                                .unwrap()
                                .iter()
                                .all(|x| *x == v + 1.0)),
                            RunOutcome::Unavailable(u) => panic!("{u:?}"),
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }
}

#[test]
fn a_caller_beyond_the_pool_gets_busy_after_its_timeout() {
    use litegate::inference::pool::{Pool, Slot};
    // The pool itself: one slot held, the second caller times out.
    let pool: Pool<u32> = Pool::new(1);
    let Some(Slot::Create(g)) = pool.acquire(Duration::from_millis(10)) else {
        panic!()
    };
    assert!(pool.acquire(Duration::from_millis(50)).is_none());
    pool.release(g, 7);
    assert!(matches!(
        pool.acquire(Duration::from_millis(10)),
        Some(Slot::Idle(_, 7))
    ));
    // Through the runner: zero timeout with the only slot taken by a
    // long-running thread is Busy.
    let Some(runner) = runner(1, Duration::ZERO, EngineKind::TfLite) else {
        return;
    };
    let runner = Arc::new(runner);
    let mut busy = 0;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let worker = {
        let (runner, stop) = (Arc::clone(&runner), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let a = Tensor::from_f32("a", vec![1, 64], &[1.0; 64]);
                let b = Tensor::from_f32("b", vec![1, 64], &[1.0; 64]);
                let _ = runner.run(&[a, b]);
            }
        })
    };
    for _ in 0..20_000 {
        let a = Tensor::from_f32("a", vec![1, 64], &[1.0; 64]);
        let b = Tensor::from_f32("b", vec![1, 64], &[1.0; 64]);
        if let Err(InferenceError::Busy { pool_size: 1, .. }) = runner.run(&[a, b]) {
            busy += 1;
            break;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    worker.join().unwrap();
    assert!(busy > 0, "never saw Busy with one slot and two callers");
}

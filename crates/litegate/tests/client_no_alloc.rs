//! The `Client` read path performs no heap allocation in steady state, with
//! exposures on: proven with a counting global allocator that counts only
//! the test's own thread (the client's background thread may allocate for
//! its own work meanwhile; that is not the read path).

use litegate::eval::Context;
use litegate::{Client, ClientConfig};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the allocator may run while this thread's locals are gone.
    let _ = COUNTING.try_with(|c| {
        if c.get() {
            let _ = ALLOCATIONS.try_with(|a| a.set(a.get() + 1));
        }
    });
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made on this thread by `f`.
fn allocations(f: impl FnOnce()) -> usize {
    ALLOCATIONS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(|a| a.get())
}

const CONFIG: &[u8] = include_bytes!("../../../examples/configs/rollout.json");

fn context(key: &str) -> Context {
    Context::new(key)
        .os("android")
        .os_version("14")
        .has_gpu(true)
        .device_id("d-7")
        .ram_mb(8192.0)
}

fn client(record_exposures: bool) -> Client {
    let mut config = ClientConfig::new("alloc-test", "production");
    config.bootstrap = Some(CONFIG.to_vec());
    config.default_context = context("user-7");
    config.record_exposures = record_exposures;
    Client::start(config).unwrap()
}

/// Every typed getter that returns a plain value, default and explicit
/// contexts, with the flags' exposures already recorded once.
fn reads(client: &Client, other: &Context, sink: &mut u64) {
    for _ in 0..200 {
        *sink += u64::from(client.bool_value("litert_gpu_backend", false));
        let d = client.bool_details("litert_gpu_backend", false, None);
        *sink += u64::from(d.value) + u64::from(d.bucket.unwrap_or(0));
        let d = client.bool_details("litert_enabled", false, Some(other));
        *sink += u64::from(d.value);
        *sink += client
            .int_details("max_faces", 1, None)
            .value
            .unsigned_abs();
        *sink += client
            .float_details("detector_threshold", 0.5, Some(other))
            .value as u64;
    }
}

#[test]
fn client_reads_with_exposures_do_not_allocate() {
    let other = context("user-8");
    let mut sink = 0u64;
    for record in [true, false] {
        let client = client(record);
        assert!(client.document().is_some());
        // First sightings allocate (the exposure event, the table entry).
        reads(&client, &other, &mut sink);
        let n = allocations(|| reads(&client, &other, &mut sink));
        assert_eq!(n, 0, "record_exposures={record}: {n} allocations");
        if record {
            let exposures = client
                .metrics()
                .snapshot()
                .into_iter()
                .filter(|p| p.name == litegate::metrics::names::FLAG_EXPOSURES)
                .count();
            assert!(exposures > 0, "exposure counters recorded");
        }
        // A new context or override takes effect, then reads are quiet again.
        client.set_context(context("user-9"));
        client.set_override("max_faces", "many");
        reads(&client, &other, &mut sink);
        assert_eq!(client.int_details("max_faces", 1, None).value, 10);
        let n = allocations(|| reads(&client, &other, &mut sink));
        assert_eq!(n, 0, "after set_context/set_override: {n} allocations");
    }
    assert!(sink > 0);
}

#[test]
fn counting_catches_an_allocation() {
    let n = allocations(|| {
        std::hint::black_box(Box::new(7u64));
    });
    assert_eq!(n, 1);
}

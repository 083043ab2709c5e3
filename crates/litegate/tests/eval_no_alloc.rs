//! Evaluation performs no heap allocation on the hot path, proven with a
//! counting global allocator (this test binary's only test, so no other
//! thread allocates while it counts).

use litegate::config::Document;
use litegate::eval::{AttrValue, Context, Evaluator};
use serde_json::json;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn evaluation_does_not_allocate() {
    let doc = json!({"format_version": 1, "environment": "p", "version": 1,
    "segments": {"testers": {"included": ["t1"], "clauses": [{"attribute": "email", "op": "ends_with", "values": ["@corp.example"], "case_insensitive": true}]}},
    "flags": {
        "pct": {"type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
            "rules": [{"id": "r1", "clauses": [
                {"attribute": "country", "op": "in", "values": ["US", "CA", "GB"]},
                {"attribute": "app_version", "op": "semver_gte", "values": ["5.0.0"]},
                {"attribute": "device_model", "op": "matches", "values": ["^Pixel"]}],
                "serve": {"percentage": {"percent": 30, "variation": "on", "otherwise": "off"}}}],
            "fallthrough": {"variation": "off"}},
        "ab": {"type": "string", "variations": {"a": "A", "b": "B"}, "off_variation": "a",
            "prerequisites": [{"flag": "pct", "variations": ["on", "off"]}],
            "rules": [{"id": "seg", "clauses": [{"op": "in_segment", "values": ["testers"]}], "serve": {"variation": "b"}}],
            "fallthrough": {"split": {"arms": [{"variation": "a", "weight": 50}, {"variation": "b", "weight": 50}], "bucket_by": "device_id"}}},
        "j": {"type": "json", "variations": {"a": {"k": [1, 2]}}, "off_variation": "a", "fallthrough": {"variation": "a"}}
    }});
    let doc = Document::parse(doc.to_string().as_bytes()).unwrap();
    let ctxs: Vec<Context> = (0..64)
        .map(|i| {
            Context::new(format!("user-{i}"))
                .device_id(format!("dev-{i}"))
                .country(if i % 2 == 0 { "US" } else { "FR" })
                .app_version("5.3.1")
                .device_model("Pixel 8")
                .set("email", AttrValue::String(format!("u{i}@Corp.Example")))
        })
        .collect();
    let default_s: std::sync::Arc<str> = "x".into();
    let default_j = std::sync::Arc::new(json!(null));
    let run = || {
        let e = Evaluator::new();
        let mut on = 0;
        for c in &ctxs {
            on += usize::from(e.bool_details(&doc, "pct", c, false).value);
            on += e
                .string_details(&doc, "ab", c, default_s.clone())
                .value
                .len();
            on += usize::from(
                e.json_details(&doc, "j", c, default_j.clone())
                    .value
                    .is_object(),
            );
            on += usize::from(e.bool_details(&doc, "missing", c, false).value);
        }
        on
    };
    // Warm up: the regex engine fills its per-thread cache on first use.
    let warm = run();
    COUNTING.store(true, Ordering::SeqCst);
    let counted = run();
    COUNTING.store(false, Ordering::SeqCst);
    assert_eq!(warm, counted);
    assert_eq!(
        ALLOCATIONS.load(Ordering::SeqCst),
        0,
        "evaluation allocated"
    );
}

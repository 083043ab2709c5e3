//! Parse arbitrary bytes as a rollout config; when they parse, evaluate every
//! flag for a few contexts. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run parse_eval`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use litegate::config::Document;
use litegate::eval::{AttrValue, Context, Evaluator};

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = Document::parse(data) else { return };
    let contexts = [
        Context::new(""),
        Context::new("user-1").country("US").app_version("1.2.3").ram_mb(4096.0),
        Context::new("user-2")
            .device_id("d")
            .set("tags", AttrValue::List(vec![AttrValue::String("x".into()), AttrValue::Bool(true)])),
    ];
    let keys: Vec<String> = doc.flag_keys().map(str::to_owned).collect();
    let e = Evaluator::new();
    for ctx in &contexts {
        for k in &keys {
            let _ = e.details(&doc, k, ctx);
            let _ = e.bool_details(&doc, k, ctx, false);
        }
    }
});

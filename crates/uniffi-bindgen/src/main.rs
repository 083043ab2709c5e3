//! `uniffi-bindgen`: generates the Kotlin and Swift bindings of
//! `litegate-ffi` from the built library (`cargo xtask bindings` runs it).

fn main() {
    uniffi::uniffi_bindgen_main();
}

//! UniFFI bindings.

//! `cargo xtask setup`: installs, idempotently, what the tests and the demo
//! need from the package registries.

use anyhow::Result;

/// Everything.
pub fn all() -> Result<()> {
    crate::runtimes::install()?;
    crate::bindings::setup()?;
    Ok(())
}

//! `cargo xtask bindings test-jar`: the host-JVM test artifact app teams
//! put on their unit tests' class path (no device, no emulator).
//!
//! `target/test-jar/litegate-test-jvm.jar` holds the generated bindings,
//! the hand-written `dev.litegate` layer (with `dev.litegate.testing.
//! LiteGateTestData`) and the cdylib of the machine that built it as a JNA
//! class-path resource (`linux-x86-64/liblitegate_ffi.so`,
//! `darwin-aarch64/liblitegate_ffi.dylib`, ...). Build it on Linux and on a
//! Mac and merge the two resource folders to serve both. The step then
//! proves the jar on its own: it compiles the app-style test
//! `dev.litegate.apptest.CheckoutTest` against the jar alone and runs it
//! without `-Djna.library.path`, so the library must come from the jar.

use crate::bindings::{class_path, compile_kotlin, generate, jvm_jars, kotlin_home, setup};
use crate::{root, run};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// The app-style test that proves the jar.
const APP_TEST: &str = "bindings/kotlin/src/test/kotlin/dev/litegate/apptest/CheckoutTest.kt";

/// JNA's resource prefix for this machine (`com.sun.jna.Platform.RESOURCE_PREFIX`).
fn resource_prefix() -> String {
    let os = if cfg!(target_os = "macos") {
        "darwin"
    } else if cfg!(target_os = "windows") {
        "win32"
    } else {
        "linux"
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x86-64",
        "aarch64" => "aarch64",
        other => other,
    };
    format!("{os}-{arch}")
}

/// Builds the jar, then checks it with the app-style test. Returns the jar.
pub fn main(release: bool) -> Result<PathBuf> {
    setup()?;
    let generated = generate(release)?;
    let out = root().join("target/test-jar");
    let classes = out.join("classes");
    compile_kotlin(&generated, &[], &classes)?;
    let lib_name = std::fs::read_dir(&generated.library_dir)?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .find(|n| {
            let n = n.to_string_lossy();
            n.starts_with("liblitegate_ffi.") && (n.ends_with(".so") || n.ends_with(".dylib"))
                || n == "litegate_ffi.dll"
        })
        .context("the built litegate-ffi library is missing")?;
    let resource_dir = classes.join(resource_prefix());
    std::fs::create_dir_all(&resource_dir)?;
    std::fs::copy(
        generated.library_dir.join(&lib_name),
        resource_dir.join(&lib_name),
    )?;
    let jar = out.join("litegate-test-jvm.jar");
    run(Command::new("jar")
        .arg("cf")
        .arg(&jar)
        .arg("-C")
        .arg(&classes)
        .arg("."))?;
    eprintln!("test jar: {}", jar.display());

    // The proof: an app's test compiled and run against the jar alone.
    let app_classes = out.join("app-classes");
    if app_classes.exists() {
        std::fs::remove_dir_all(&app_classes)?;
    }
    let mut cp = vec![jar.clone()];
    cp.extend(jvm_jars());
    run(Command::new(kotlin_home().join("bin/kotlinc"))
        .args(["-Werror", "-jvm-target", "17", "-no-reflect", "-cp"])
        .arg(class_path(&cp))
        .arg("-d")
        .arg(&app_classes)
        .arg(root().join(APP_TEST)))?;
    let mut run_cp = vec![app_classes];
    run_cp.extend(cp);
    run(Command::new("java")
        .arg("-cp")
        .arg(class_path(&run_cp))
        .args([
            "org.junit.platform.console.ConsoleLauncher",
            "--disable-banner",
            "--disable-ansi-colors",
            "--details=tree",
            "--fail-if-no-tests",
            "--select-class=dev.litegate.apptest.CheckoutTest",
        ]))?;
    Ok(jar)
}

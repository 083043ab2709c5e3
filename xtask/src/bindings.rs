//! `cargo xtask bindings`: builds `litegate-ffi`, generates the Kotlin and
//! Swift bindings from the built library (UniFFI library mode), and runs
//! the foreign checks: the Kotlin JUnit tests on the JVM against the real
//! Linux cdylib, and the Swift syntax and C header checks.
//!
//! ```text
//! cargo xtask bindings            generate into target/bindings/{kotlin,swift}
//! cargo xtask bindings --release  the same from a release build
//! cargo xtask bindings test       generate, then Kotlin tests and Swift checks
//! cargo xtask bindings bench      Kotlin/JVM flag-evaluation bench, then `size`
//! cargo xtask bindings size       stripped size of the cdylib as apps ship it (< 6 MB)
//! cargo xtask bindings test-jar   the host-JVM test jar (see test_jar.rs), checked by an app-style test
//! ```
//!
//! Tools come from the package registries (see [`setup`]): kotlinc from
//! npm's `kotlin-compiler`, JNA and JUnit 5 from Debian, tree-sitter from
//! PyPI. They are cached under `.cache/` (gitignored).

use crate::{cargo, root, run};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

const KOTLIN_COMPILER: &str = "kotlin-compiler@2.4.20";
const TREE_SITTER: &str = "tree-sitter==0.26.0";
const TREE_SITTER_SWIFT: &str = "tree-sitter-swift==0.7.4";
/// Debian's jars the JVM tests need.
const JAVA_JARS: [&str; 5] = [
    "jna.jar",
    "junit-platform-console-standalone.jar",
    "junit-jupiter-api.jar",
    "apiguardian-api.jar",
    "opentest4j.jar",
];
const JAVA_DIR: &str = "/usr/share/java";

/// Dispatches `cargo xtask bindings ...`.
pub fn main(args: &[String]) -> Result<()> {
    let release = args.iter().any(|a| a == "--release");
    match args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(String::as_str)
    {
        None => generate(release).map(|_| ()),
        Some("test") => test(),
        Some("bench") => bench(),
        Some("size") => library_size(),
        Some("test-jar") => crate::test_jar::main(release).map(|_| ()),
        Some(other) => {
            bail!("unknown `bindings` task `{other}`: use test, bench, size or test-jar")
        }
    }
}

fn cache() -> PathBuf {
    root().join(".cache")
}

pub(crate) fn kotlin_home() -> PathBuf {
    cache().join("kotlin/package")
}

fn swift_venv() -> PathBuf {
    cache().join("swift-venv")
}

/// Installs, idempotently, the JVM and Swift-check tools.
pub fn setup() -> Result<()> {
    setup_java_jars()?;
    setup_kotlinc()?;
    setup_tree_sitter()
}

fn setup_java_jars() -> Result<()> {
    if JAVA_JARS
        .iter()
        .all(|j| Path::new(JAVA_DIR).join(j).exists())
    {
        return Ok(());
    }
    let sudo = !is_root();
    let apt = |args: &[&str]| {
        let mut cmd = if sudo {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        } else {
            Command::new("apt-get")
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    run(&mut apt(&["update", "-q"]))?;
    run(&mut apt(&["install", "-y", "-q", "libjna-java", "junit5"]))?;
    for jar in JAVA_JARS {
        if !Path::new(JAVA_DIR).join(jar).exists() {
            bail!("{JAVA_DIR}/{jar} is still missing after installing libjna-java and junit5");
        }
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

fn setup_kotlinc() -> Result<()> {
    let home = kotlin_home();
    if home.join("bin/kotlinc").exists() && home.join("lib/kotlin-stdlib.jar").exists() {
        return Ok(());
    }
    let dir = cache().join("kotlin");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    run(Command::new("npm")
        .args(["pack", "--silent", KOTLIN_COMPILER, "--pack-destination"])
        .arg(&dir))?;
    let tarball = std::fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
        .context("npm pack left no .tgz")?;
    run(Command::new("tar")
        .arg("xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&dir))?;
    // npm drops the executable bits of some scripts.
    run(Command::new("chmod")
        .arg("+x")
        .arg(home.join("bin/kotlinc")))?;
    Ok(())
}

fn setup_tree_sitter() -> Result<()> {
    let venv = swift_venv();
    let python = venv.join("bin/python");
    let probe = Command::new(&python)
        .args(["-c", "import tree_sitter, tree_sitter_swift"])
        .output();
    if probe.is_ok_and(|o| o.status.success()) {
        return Ok(());
    }
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    run(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        TREE_SITTER,
        TREE_SITTER_SWIFT,
    ]))
}

/// What [`generate`] produced.
pub struct Generated {
    /// The directory holding `liblitegate_ffi.so`.
    pub library_dir: PathBuf,
    /// Generated Kotlin sources (root of the package tree).
    pub kotlin: PathBuf,
    /// Generated Swift sources, C header and module map.
    pub swift: PathBuf,
}

fn library_file_name() -> &'static str {
    if cfg!(target_os = "macos") {
        "liblitegate_ffi.dylib"
    } else if cfg!(target_os = "windows") {
        "litegate_ffi.dll"
    } else {
        "liblitegate_ffi.so"
    }
}

/// Builds `litegate-ffi` and `uniffi-bindgen`, then generates both bindings.
pub fn generate(release: bool) -> Result<Generated> {
    let mut build = cargo();
    build.args(["build", "-p", "litegate-ffi"]);
    if release {
        build.arg("--release");
    }
    run(&mut build)?;
    let library_dir = root()
        .join("target")
        .join(if release { "release" } else { "debug" });
    let library = library_dir.join(library_file_name());

    // Its own target dir: see crates/uniffi-bindgen/Cargo.toml for why.
    let bindgen_target = root().join("target/uniffi-bindgen");
    run(cargo()
        .args(["build", "--quiet", "--manifest-path"])
        .arg(root().join("crates/uniffi-bindgen/Cargo.toml"))
        .arg("--target-dir")
        .arg(&bindgen_target))?;
    let bindgen = bindgen_target.join("debug/uniffi-bindgen");

    let out = root().join("target/bindings");
    let kotlin = out.join("kotlin");
    let swift = out.join("swift");
    for (language, dir) in [("kotlin", &kotlin), ("swift", &swift)] {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        run(Command::new(&bindgen)
            .args([
                "generate",
                "--no-format",
                "--language",
                language,
                "--out-dir",
            ])
            .arg(dir)
            .arg(&library))?;
    }
    eprintln!(
        "bindings: Kotlin in {}, Swift in {}",
        kotlin.display(),
        swift.display()
    );
    Ok(Generated {
        library_dir,
        kotlin,
        swift,
    })
}

/// Generates, then runs the Kotlin JUnit tests and the Swift checks.
pub fn test() -> Result<()> {
    setup()?;
    let generated = generate(false)?;
    kotlin_tests(&generated)?;
    swift_checks(&generated)
}

fn kotlin_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            kotlin_files(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "kt") {
            out.push(path);
        }
    }
    out.sort();
    Ok(())
}

pub(crate) fn class_path(entries: &[PathBuf]) -> String {
    entries
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// The jars the Kotlin layer and its tests compile and run against.
pub(crate) fn jvm_jars() -> Vec<PathBuf> {
    let lib = kotlin_home().join("lib");
    let mut jars = vec![
        lib.join("kotlin-stdlib.jar"),
        lib.join("kotlinx-coroutines-core-jvm.jar"),
    ];
    jars.extend(JAVA_JARS.iter().map(|j| Path::new(JAVA_DIR).join(j)));
    jars
}

/// Compiles the generated Kotlin, the hand-written layer and `sources`
/// into `classes`.
pub(crate) fn compile_kotlin(
    generated: &Generated,
    extra: &[PathBuf],
    classes: &Path,
) -> Result<()> {
    let kotlin_dir = root().join("bindings/kotlin/src");
    let mut sources = Vec::new();
    kotlin_files(&generated.kotlin, &mut sources)?;
    kotlin_files(&kotlin_dir.join("main/kotlin"), &mut sources)?;
    for dir in extra {
        kotlin_files(dir, &mut sources)?;
    }
    if classes.exists() {
        std::fs::remove_dir_all(classes)?;
    }
    run(Command::new(kotlin_home().join("bin/kotlinc"))
        .args(["-Werror", "-jvm-target", "17", "-no-reflect", "-cp"])
        .arg(class_path(&jvm_jars()))
        .arg("-d")
        .arg(classes)
        .args(&sources))
}

fn java(generated: &Generated, classes: &Path) -> Command {
    let mut cmd = Command::new("java");
    cmd.arg(format!(
        "-Djna.library.path={}",
        generated.library_dir.display()
    ))
    .arg(format!(
        "-Dlitegate.fixtures={}",
        root().join("crates/litegate-ffi/tests/fixtures").display()
    ))
    .arg(format!("-Dlitegate.root={}", root().display()))
    // Where `cargo xtask setup` put LiteRT and the face detector.
    .arg(format!(
        "-Dlitegate.litert={}",
        crate::runtimes::cache_root()
            .join("runtimes/litert-2.3.0/libLiteRt.so")
            .display()
    ))
    .arg(format!(
        "-Dlitegate.faceModel={}",
        crate::runtimes::cache_root()
            .join("models/face_detection_short_range.tflite")
            .display()
    ));
    let mut cp = vec![classes.to_path_buf()];
    cp.extend(jvm_jars());
    cmd.arg("-cp").arg(class_path(&cp));
    cmd
}

fn kotlin_tests(generated: &Generated) -> Result<()> {
    let classes = root().join("target/kotlin-tests/classes");
    compile_kotlin(
        generated,
        &[root().join("bindings/kotlin/src/test/kotlin")],
        &classes,
    )?;
    run(java(generated, &classes).args([
        "org.junit.platform.console.ConsoleLauncher",
        "--disable-banner",
        "--disable-ansi-colors",
        "--include-engine=junit-jupiter",
        "--details=tree",
        "--fail-if-no-tests",
        "--select-package=dev.litegate",
    ]))
}

fn swift_checks(generated: &Generated) -> Result<()> {
    let mut files = vec![generated.swift.join("LiteGate.swift")];
    files.push(root().join("bindings/swift/Package.swift"));
    for dir in [
        "bindings/swift/Sources",
        "bindings/swift/Tests",
        "examples/ios",
    ] {
        swift_files(&root().join(dir), &mut files)?;
    }
    run(Command::new(swift_venv().join("bin/python"))
        .arg(root().join("bindings/swift/scripts/check-syntax.py"))
        .args(&files))?;
    let header = generated.swift.join("LiteGateFFI.h");
    run(Command::new("gcc")
        .args([
            "-fsyntax-only",
            "-Wall",
            "-Werror",
            "-D_Nonnull=",
            "-D_Nullable=",
            "-include",
            "stdint.h",
            "-include",
            "stdbool.h",
        ])
        // Included rather than compiled as the main file, where GCC would
        // flag the header's `#pragma once`.
        .arg("-include")
        .arg(&header)
        .args(["-x", "c", "/dev/null"]))
}

fn swift_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            swift_files(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "swift") {
            out.push(path);
        }
    }
    Ok(())
}

/// The Kotlin/JVM evaluation bench (release cdylib) and the stripped
/// release cdylib's size.
pub fn bench() -> Result<()> {
    setup()?;
    let generated = generate(true)?;
    let classes = root().join("target/kotlin-bench/classes");
    compile_kotlin(
        &generated,
        &[root().join("bindings/kotlin/src/bench/kotlin")],
        &classes,
    )?;
    run(java(&generated, &classes).arg("dev.litegate.bench.EvaluationBenchKt"))?;
    library_size()
}

/// Builds the cdylib as apps ship it and checks its stripped size: size
/// settings on top of the release profile (opt-level `z`, fat LTO, one
/// codegen unit; panics still unwind, the FFI catches them) and identical
/// code folding in the linker (as the Android NDK's lld does with
/// `--icf=all`; gold here when lld is absent), in its own target dir so the
/// normal release build is untouched.
fn library_size() -> Result<()> {
    let target_dir = root().join("target/mobile-size");
    let linker = if Command::new("ld.lld").arg("--version").output().is_ok() {
        "lld"
    } else {
        "gold"
    };
    run(cargo()
        .args([
            "build",
            "--quiet",
            "-p",
            "litegate-ffi",
            "--lib",
            "--release",
            "--target-dir",
        ])
        .arg(&target_dir)
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "z")
        .env("CARGO_PROFILE_RELEASE_LTO", "fat")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env(
            "RUSTFLAGS",
            format!("-C link-arg=-fuse-ld={linker} -C link-arg=-Wl,--icf=all"),
        ))?;
    let library = target_dir.join("release").join(library_file_name());
    let stripped = target_dir.join("liblitegate_ffi.stripped.so");
    run(Command::new("strip")
        .arg("--strip-all")
        .arg("-o")
        .arg(&stripped)
        .arg(&library))?;
    let size = std::fs::metadata(&stripped)?.len();
    println!(
        "stripped cdylib (opt-level z, fat LTO, 1 codegen unit, ICF): {} bytes ({:.2} MiB), limit 6 MB",
        size,
        size as f64 / (1024.0 * 1024.0)
    );
    if size > 6_000_000 {
        bail!("the stripped cdylib is {size} bytes, over the 6 MB budget");
    }
    Ok(())
}

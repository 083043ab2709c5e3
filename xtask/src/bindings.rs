//! `cargo xtask bindings`: builds `litegate-ffi`, generates the Kotlin and
//! Swift bindings from the built library (UniFFI library mode), and runs
//! the foreign checks: the Kotlin JUnit tests on the JVM against the real
//! Linux cdylib, and the Swift syntax and C header checks.
//!
//! ```text
//! cargo xtask bindings            generate into target/bindings/{kotlin,swift}
//! cargo xtask bindings --release  the same from a release build
//! cargo xtask bindings test       generate, then Kotlin tests and Swift checks
//! cargo xtask bindings bench      flag reads: Rust, Kotlin/JVM and the JNA floor; then `size`
//! cargo xtask bindings packages   generate, then only the package checks (xtask/src/packages.rs)
//! cargo xtask bindings size       the cdylib as apps ship it: 16 KB pages, <= 6 MB stripped, bytes per crate
//! cargo xtask bindings test-jar   the host-JVM test jar (see test_jar.rs), checked by an app-style test
//! ```
//!
//! Tools come from the package registries (see [`setup`]): kotlinc from
//! npm's `kotlin-compiler`, JNA and JUnit 5 from Maven Central, tree-sitter
//! from PyPI. They are cached under `.cache/` (gitignored).

use crate::{cargo, root, run};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

const KOTLIN_COMPILER: &str = "kotlin-compiler@2.4.20";
const TREE_SITTER: &str = "tree-sitter==0.26.0";
const TREE_SITTER_SWIFT: &str = "tree-sitter-swift==0.7.4";
/// The jars the JVM tests need, from Maven Central (`groupId:artifactId:version`):
/// JNA at the version the AAR ships (5.18.1: 16 KB pages fixed) and the JUnit 5
/// console launcher (it bundles the Jupiter API, opentest4j and apiguardian).
pub(crate) const MAVEN_JARS: [&str; 2] = [
    "net.java.dev.jna:jna:5.18.1",
    "org.junit.platform:junit-platform-console-standalone:1.11.4",
];

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
        Some("packages") => {
            setup()?;
            crate::packages::check(&generate(false)?)
        }
        Some("test-jar") => crate::test_jar::main(release).map(|_| ()),
        Some(other) => {
            bail!("unknown `bindings` task `{other}`: use test, packages, bench, size or test-jar")
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

/// Where the Maven Central jars are cached.
fn jvm_dir() -> PathBuf {
    cache().join("jvm")
}

/// The cached file of one `group:artifact:version`.
fn maven_jar(coordinates: &str) -> PathBuf {
    let mut parts = coordinates.split(':').skip(1);
    let artifact = parts.next().unwrap_or(coordinates);
    let version = parts.next().unwrap_or("");
    jvm_dir().join(format!("{artifact}-{version}.jar"))
}

/// Copies the JVM jars from Maven Central into `.cache/jvm` (idempotent:
/// present jars are not fetched again).
fn setup_java_jars() -> Result<()> {
    let dir = jvm_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for coordinates in MAVEN_JARS {
        if maven_jar(coordinates).exists() {
            continue;
        }
        run(Command::new("mvn")
            .args(["-q", "-B", "--no-transfer-progress", "dependency:copy"])
            .arg(format!("-Dartifact={coordinates}"))
            .arg(format!("-DoutputDirectory={}", dir.display())))?;
        if !maven_jar(coordinates).exists() {
            bail!(
                "{} is missing after `mvn dependency:copy`",
                maven_jar(coordinates).display()
            );
        }
    }
    Ok(())
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
    swift_checks(&generated)?;
    crate::packages::check(&generated)
}

/// Every `.kt` file under `dir`, sorted.
pub(crate) fn kotlin_sources(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    kotlin_files(dir, &mut out)?;
    Ok(out)
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
    jars.extend(MAVEN_JARS.iter().map(|c| maven_jar(c)));
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
    crate::tally::run_counted(java(generated, &classes).args([
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

/// The flag-read bench, in one run: the Rust per-read cost (the core
/// `Client`, release build, `crates/litegate-ffi/examples/read_cost.rs`),
/// then on the JVM the Kotlin per-read cost of the snapshot getters next to
/// the floor (a JNA call of an empty C function) and the FFI-crossing
/// variants; then the stripped release cdylib's size.
pub fn bench() -> Result<()> {
    setup()?;
    let generated = generate(true)?;
    let fixtures = root().join("crates/litegate-ffi/tests/fixtures");
    run(cargo()
        .args([
            "run",
            "--quiet",
            "--release",
            "-p",
            "litegate-ffi",
            "--example",
            "read_cost",
            "--",
        ])
        .arg(&fixtures))?;
    let classes = root().join("target/kotlin-bench/classes");
    compile_kotlin(
        &generated,
        &[root().join("bindings/kotlin/src/bench/kotlin")],
        &classes,
    )?;
    run(java(&generated, &classes).arg("dev.litegate.bench.EvaluationBenchKt"))?;
    library_size()
}

/// Builds the cdylib as apps ship it (the `mobile` profile as committed,
/// the Android targets' linker flags), checks its 16 KB LOAD alignment and
/// its stripped size, and prints where the bytes are per crate.
fn library_size() -> Result<()> {
    let library = crate::packages::mobile_library()?;
    crate::packages::check_load_alignment(&library)?;
    crate::packages::size_report(&library)
}

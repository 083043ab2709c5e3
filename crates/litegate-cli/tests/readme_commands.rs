//! The README's signing commands, run as written, and the key pinning its
//! Rust quickstart shows (the quickstart itself compiles as a doc test of
//! the core crate).

use litegate::delivery::envelope::{self, PinnedKeys};
use litegate::delivery::keys::PublicKeyFile;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `litegate` command lines of the first `sh` block after `heading`,
/// without their trailing comments.
fn commands_under(readme: &str, heading: &str) -> Vec<Vec<String>> {
    let section = &readme[readme.find(heading).expect("heading in README")..];
    let block = &section[section.find("```sh\n").expect("sh block") + 6..];
    let block = &block[..block.find("```").expect("end of block")];
    block
        .lines()
        .map(|line| line.split("  #").next().unwrap_or(line).trim())
        .filter(|line| line.starts_with("litegate "))
        .map(|line| line.split_whitespace().skip(1).map(str::to_owned).collect())
        .collect()
}

fn run(dir: &Path, args: &[String]) {
    let out = Command::new(env!("CARGO_BIN_EXE_litegate"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "`litegate {}` failed as the README writes it: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_signing_commands_run_as_written_and_the_pinned_key_verifies_them() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let commands = commands_under(&readme, "## Hosting and signing configs");
    let names: Vec<&str> = commands.iter().map(|c| c[0].as_str()).collect();
    assert_eq!(
        names,
        ["keygen", "validate", "sign", "verify", "validate"],
        "the README's signing block changed: update this test with it"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("examples/configs/rollout.json"),
        dir.path().join("rollout.json"),
    )
    .unwrap();
    for args in &commands {
        run(dir.path(), args);
    }

    // What the Rust quickstart pins: `PublicKeyFile::parse(release.pub)?.pinned()`.
    let public = std::fs::read_to_string(dir.path().join("release.pub")).unwrap();
    let pinned = PublicKeyFile::parse(&public).unwrap().pinned();
    assert_eq!(
        pinned.0, "release-2026",
        "the key id the README's quickstart names"
    );
    let keys = PinnedKeys::new(&[pinned]).unwrap();
    let signed = std::fs::read(dir.path().join("rollout.signed.json")).unwrap();
    let opened = envelope::open(&signed, None).unwrap();
    keys.verify(&opened)
        .expect("the client accepts what the README's `sign` wrote");
}

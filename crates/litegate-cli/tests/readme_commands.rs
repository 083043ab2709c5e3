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
        .map(|line| shell_words(line).into_iter().skip(1).collect())
        .collect()
}

/// Splits a command line as a POSIX shell does for the README's simple
/// lines: whitespace separates words, double quotes group them.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let (mut quoted, mut started) = (false, false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            c if c.is_whitespace() && !quoted => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            c => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

fn run(dir: &Path, args: &[String]) {
    run_expecting(dir, args, &[0]);
}

fn run_expecting(dir: &Path, args: &[String], codes: &[i32]) {
    let out = Command::new(env!("CARGO_BIN_EXE_litegate"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| codes.contains(&c)),
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

#[test]
fn the_rollout_commands_run_as_written() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let signing = commands_under(&readme, "## Hosting and signing configs");
    let rollout = commands_under(&readme, "## Rolling out");
    let names: Vec<String> = rollout.iter().map(|c| c[..2].join(" ")).collect();
    assert_eq!(
        names,
        [
            "rollout status",
            "rollout advance",
            "rollout decide",
            "rollout emergency-rollback",
            "simulate --config"
        ],
        "the README's rollout block changed: update this test with it"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("examples/configs/rollout.json"),
        dir.path().join("rollout.json"),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("docs")).unwrap();
    std::fs::copy(
        repo().join("docs/rollout-snapshot.json"),
        dir.path().join("docs/rollout-snapshot.json"),
    )
    .unwrap();
    run(dir.path(), &signing[0]); // keygen: release.key
    for args in &rollout {
        // `decide` answers with its exit code: 0 advance, 3 hold, 4 roll back.
        let codes: &[i32] = if args[1] == "decide" {
            &[0, 3, 4]
        } else {
            &[0]
        };
        run_expecting(dir.path(), args, codes);
    }
    // The editable JSON is still a plain, valid config after signed writes.
    run(
        dir.path(),
        &["validate".to_owned(), "rollout.json".to_owned()],
    );
    run(
        dir.path(),
        &[
            "verify".to_owned(),
            "--pubkey".to_owned(),
            "release.pub".to_owned(),
            "rollout.signed.json".to_owned(),
        ],
    );
}

#[test]
fn shell_words_group_quoted_text() {
    assert_eq!(
        shell_words(r#"rollout advance --reason "beta healthy" --key k"#),
        [
            "rollout",
            "advance",
            "--reason",
            "beta healthy",
            "--key",
            "k"
        ]
    );
}

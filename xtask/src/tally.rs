//! One closing line over every test suite `cargo xtask test` runs:
//! `total: N passed, N failed, N skipped`.
//!
//! Each suite's own runner prints its own summary (libtest's `test result:`
//! lines, the JUnit console launcher's `[ N tests successful ]` box); this
//! module echoes a suite's output unchanged while reading those lines, and
//! adds them up.

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};

/// Test counts, added up over suites.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Tests that passed.
    pub passed: u64,
    /// Tests that failed.
    pub failed: u64,
    /// Tests that were skipped (libtest's ignored, JUnit's skipped/aborted).
    pub skipped: u64,
}

static TOTAL: Mutex<Tally> = Mutex::new(Tally {
    passed: 0,
    failed: 0,
    skipped: 0,
});

impl Tally {
    /// Adds what one output line reports, if it is a summary line.
    pub fn read_line(&mut self, line: &str) {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("test result: ") {
            // `test result: ok. 5 passed; 0 failed; 1 ignored; 0 measured; ...`
            for part in rest.split(';') {
                let mut words = part.split_whitespace().rev();
                let (Some(what), Some(n)) = (words.next(), words.next()) else {
                    continue;
                };
                let Ok(n) = n.parse::<u64>() else { continue };
                match what {
                    "passed" => self.passed += n,
                    "failed" => self.failed += n,
                    "ignored" => self.skipped += n,
                    _ => {}
                }
            }
        } else if let Some(inner) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            // JUnit console launcher: `[        28 tests successful      ]`.
            let mut words = inner.split_whitespace();
            let (Some(n), Some("tests"), Some(what)) = (words.next(), words.next(), words.next())
            else {
                return;
            };
            let Ok(n) = n.parse::<u64>() else { return };
            match what {
                "successful" => self.passed += n,
                "failed" => self.failed += n,
                "skipped" | "aborted" => self.skipped += n,
                _ => {}
            }
        }
    }

    /// The closing line.
    pub fn line(&self) -> String {
        format!(
            "total: {} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }
}

/// The counts added up so far in this process.
pub fn total() -> Tally {
    *TOTAL.lock().unwrap_or_else(PoisonError::into_inner)
}

fn echo_and_count(stream: impl Read, mut out: impl Write) {
    let mut local = Tally::default();
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { break };
        let _ = writeln!(out, "{line}");
        local.read_line(&line);
    }
    let mut total = TOTAL.lock().unwrap_or_else(PoisonError::into_inner);
    total.passed += local.passed;
    total.failed += local.failed;
    total.skipped += local.skipped;
}

/// Runs a test command in the workspace root like [`crate::run`], echoing its
/// output and adding its runner's summary lines to the total.
///
/// # Errors
/// The command could not start or exited non-zero.
pub fn run_counted(cmd: &mut Command) -> Result<()> {
    eprintln!("$ {cmd:?}");
    let mut child = cmd
        .current_dir(crate::root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    let stdout = child.stdout.take().context("no stdout pipe")?;
    let stderr = child.stderr.take().context("no stderr pipe")?;
    let status = std::thread::scope(|s| {
        s.spawn(|| echo_and_count(stdout, std::io::stdout()));
        s.spawn(|| echo_and_count(stderr, std::io::stderr()));
        child.wait()
    })?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_and_junit_summaries_add_up() {
        let mut t = Tally::default();
        for line in [
            "test result: ok. 5 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.26s",
            "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out",
            "[        28 tests successful      ]",
            "[         1 tests failed          ]",
            "[         2 tests skipped         ]",
            "[         4 containers found      ]",
            "running 5 tests",
            "test foo ... ok",
        ] {
            t.read_line(line);
        }
        assert_eq!(
            t,
            Tally {
                passed: 36,
                failed: 3,
                skipped: 3
            }
        );
        assert_eq!(t.line(), "total: 36 passed, 3 failed, 3 skipped");
    }
}

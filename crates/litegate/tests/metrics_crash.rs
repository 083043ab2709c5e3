//! Crash safety: a child process (this test binary re-invoked with
//! `LITEGATE_CRASH_DIR` set) records a known sequence, checkpointing and
//! uploading as it goes, and is killed with SIGKILL at a random moment. A
//! new pipeline on the same directory must then deliver everything the child
//! reported persisted, at least once, with duplicates only under the same
//! batch id. Runs `LITEGATE_CRASH_RUNS` times (default 25).

mod metrics_collector;

use litegate::metrics::{AttrValue, EventKind, Metrics};
use metrics_collector::{config, runtime, Collector};
use rand::Rng;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Ops recorded between explicit checkpoints.
const CHUNK: u64 = 40;

/// The child: records op n as counter +1, histogram value n and an event
/// carrying n; prints `CHECKPOINT n` once everything up to n is on disk.
#[test]
fn crash_child() {
    let (Ok(dir), Ok(url)) = (
        std::env::var("LITEGATE_CRASH_DIR"),
        std::env::var("LITEGATE_CRASH_URL"),
    ) else {
        return; // Not a child: nothing to do.
    };
    let rt = runtime();
    let mut c = config(Some(&url), Some(std::path::Path::new(&dir)));
    c.persist_interval = Duration::from_millis(7);
    c.upload_interval = Duration::from_millis(11);
    c.max_batches_per_round = 3;
    let m = Metrics::new(c, rt.handle().clone()).expect("metrics");
    let ops = m.counter("crash.ops", &[]);
    let values = m.histogram("crash.value", &[]);
    let started = Instant::now();
    let mut n = 0u64;
    let mut out = std::io::stdout();
    // Bounded: the parent kills us long before; exit on our own otherwise.
    while started.elapsed() < Duration::from_secs(30) {
        for _ in 0..CHUNK {
            n += 1;
            ops.inc();
            values.record(n as f64);
            m.event(
                EventKind::Custom("crash_op".into()),
                &[("n", AttrValue::Int(n as i64))],
            );
        }
        if m.checkpoint().expect("checkpoint").persisted {
            let _ = writeln!(out, "CHECKPOINT {n}");
            let _ = out.flush();
        }
        if n % (CHUNK * 4) == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

#[test]
fn sigkill_at_random_points_loses_nothing_persisted() {
    if std::env::var("LITEGATE_CRASH_DIR").is_ok() {
        return;
    }
    let runs: usize = std::env::var("LITEGATE_CRASH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25);
    let exe = std::env::current_exe().expect("test executable");
    let rt = runtime();
    let mut rng = rand::thread_rng();
    let mut total_checkpointed = 0;
    let mut runs_with_duplicates = 0;
    for run in 0..runs {
        let dir = tempfile::tempdir().expect("tempdir");
        let collector = Collector::start(&rt);
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env("LITEGATE_CRASH_DIR", dir.path())
            .env("LITEGATE_CRASH_URL", &collector.url)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("child stdout");
        let (tx, rx) = std::sync::mpsc::channel::<u64>();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                // libtest may print "test crash_child ... " on the same line.
                .filter_map(|l| {
                    l.rsplit_once("CHECKPOINT ")
                        .and_then(|(_, n)| n.trim().parse::<u64>().ok())
                })
                .inspect(|n| {
                    let _ = tx.send(*n);
                })
                .last()
                .unwrap_or(0)
        });
        if run % 2 == 1 {
            // Half the runs kill only after the child is well under way (so
            // checkpoints are exercised even on a slow machine); the others
            // may kill it during start-up too.
            let _ = rx.recv_timeout(Duration::from_secs(30));
            std::thread::sleep(Duration::from_millis(rng.gen_range(0..120)));
        } else {
            std::thread::sleep(Duration::from_millis(rng.gen_range(5..250)));
        }
        child.kill().expect("SIGKILL"); // SIGKILL on Unix
        let _ = child.wait();
        let persisted = reader.join().expect("reader");
        total_checkpointed += persisted;

        let m = Metrics::new(
            config(Some(&collector.url), Some(dir.path())),
            rt.handle().clone(),
        )
        .expect("recovery pipeline");
        let s = m.flush_blocking(Duration::from_secs(60)).expect("flush");
        assert_eq!(s.queued_batches, 0, "run {run}: {s:?}");
        assert_eq!(s.lost_items(), 0, "run {run}: {s:?}");
        m.shutdown(Duration::from_secs(10)).expect("shutdown");

        // accepted_unique() asserts duplicates carry the same id and bytes.
        let accepted = collector.accepted_unique();
        let all_accepted = collector
            .received()
            .iter()
            .filter(|r| r.status == 200)
            .count();
        if all_accepted > accepted.len() {
            runs_with_duplicates += 1;
        }
        let t = metrics_collector::Totals::from_requests(&accepted);
        let ops = t.counter("crash.ops", "");
        assert!(
            ops >= persisted && ops <= persisted + CHUNK,
            "run {run}: delivered {ops} ops, child had persisted {persisted}"
        );
        let (h_count, h_sum, h_buckets, _, _) = t
            .histograms
            .get(&("crash.value".to_owned(), String::new()))
            .copied()
            .unwrap_or((0, 0.0, 0, 0.0, 0.0));
        assert!(
            h_count >= persisted && h_count <= persisted + CHUNK,
            "run {run}"
        );
        assert_eq!(h_buckets, h_count);
        // Values 1..=h_count, each exactly once.
        assert_eq!(h_sum, (h_count * (h_count + 1) / 2) as f64, "run {run}");
        let mut seen = BTreeSet::new();
        for rec in t.events.get("app.crash_op").into_iter().flatten() {
            let n: u64 = rec["attributes"]
                .as_array()
                .and_then(|a| a.iter().find(|kv| kv["key"] == "n"))
                .and_then(|kv| kv["value"]["intValue"].as_str())
                .and_then(|s| s.parse().ok())
                .expect("n attribute");
            assert!(
                seen.insert(n),
                "run {run}: event {n} delivered under two batch ids"
            );
        }
        let events = seen.len() as u64;
        assert!(
            events >= persisted && events <= persisted + CHUNK,
            "run {run}"
        );
        assert!(
            seen.iter().copied().eq(1..=events),
            "run {run}: events not a prefix"
        );
    }
    assert!(
        total_checkpointed > 0,
        "no run reached a checkpoint: the test proved nothing"
    );
    eprintln!("{runs} crash runs, {total_checkpointed} ops checkpointed, {runs_with_duplicates} runs with re-sent batches");
}

//! Fault handling: collector errors, disk budget, corrupted segments, and a
//! storage directory that stops being writable.

mod metrics_collector;

use litegate::metrics::{names, DropReason, Metrics, StorageMode};
use metrics_collector::{config, runtime, Collector};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "lgs"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn collector_500_then_503_retry_after_then_413_then_recovers() {
    let rt = runtime();
    let collector = Collector::start(&rt);
    collector.script(&[(500, None), (503, Some("1")), (200, None), (413, None)]);
    let dir = tempfile::tempdir().expect("tempdir");
    let m = Metrics::new(
        config(Some(&collector.url), Some(dir.path())),
        rt.handle().clone(),
    )
    .expect("metrics");
    let c = m.counter("faults.ops", &[]);
    c.add(10);
    let s = m.flush_blocking(WAIT).expect("flush 1");
    assert_eq!(
        (s.delivered_batches, s.retries, s.queued_batches),
        (1, 2, 0),
        "{s:?}"
    );
    c.add(7);
    let s = m.flush_blocking(WAIT).expect("flush 2");
    assert_eq!(s.dropped(DropReason::RejectedByServer), 1, "{s:?}");
    assert_eq!(s.queued_batches, 0);
    c.add(5);
    m.flush_blocking(WAIT).expect("flush 3");
    let t = collector.totals();
    assert_eq!(
        t.counter("faults.ops", ""),
        15,
        "the 413'd batch is dropped, the rest exact"
    );
    assert_eq!(t.counter(names::DROPPED, "reason=rejected_by_server"), 1);
    assert!(segments(dir.path()).is_empty(), "resolved segments deleted");
    let statuses: Vec<u16> = collector.received().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![500, 503, 200, 413, 200]);
}

#[test]
fn undelivered_batches_survive_restart_with_same_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = runtime();
    let collector = Collector::start(&rt);
    collector.script(&[(503, None); 8]);
    {
        let m = Metrics::new(
            config(Some(&collector.url), Some(dir.path())),
            rt.handle().clone(),
        )
        .expect("metrics");
        m.counter("survive", &[]).add(123);
        let s = m.flush_blocking(WAIT).expect("flush");
        assert_eq!((s.delivered_batches, s.queued_batches), (0, 1), "{s:?}");
        assert_eq!(segments(dir.path()).len(), 1, "kept on disk until a 2xx");
        m.shutdown(Duration::from_secs(5)).expect("shutdown");
    }
    let failed_ids: Vec<String> = collector
        .received()
        .iter()
        .map(|r| r.batch_id.clone())
        .collect();
    assert_eq!(failed_ids.len(), 8);
    let m = Metrics::new(
        config(Some(&collector.url), Some(dir.path())),
        rt.handle().clone(),
    )
    .expect("metrics");
    m.flush_blocking(WAIT).expect("flush");
    let accepted = collector.accepted_unique();
    assert_eq!(accepted.len(), 1);
    assert!(failed_ids.iter().all(|id| *id == accepted[0].batch_id));
    assert_eq!(collector.totals().counter("survive", ""), 123);
    assert!(segments(dir.path()).is_empty());
}

#[test]
fn disk_budget_evicts_oldest_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let budget = 2_500u64;
    {
        let rt = runtime();
        let mut c = config(None, Some(dir.path()));
        c.disk_budget_bytes = budget;
        let m = Metrics::new(c, rt.handle().clone()).expect("metrics");
        for i in 0..12 {
            m.counter("cp", &[("n", &format!("{i:02}"))]).inc();
            let r = m.checkpoint().expect("checkpoint");
            assert!(r.persisted);
            let on_disk: u64 = segments(dir.path())
                .iter()
                .filter_map(|p| fs::metadata(p).ok())
                .map(|md| md.len())
                .sum();
            assert!(on_disk <= budget, "{on_disk} > {budget}");
            assert_eq!(m.stats().disk_bytes, on_disk);
        }
        let s = m.shutdown(WAIT).expect("shutdown");
        assert!(s.dropped(DropReason::DiskBudget) >= 4, "{s:?}");
        assert_eq!(s.storage, StorageMode::Disk);
    }
    let rt = runtime();
    let collector = Collector::start(&rt);
    let m = Metrics::new(
        config(Some(&collector.url), Some(dir.path())),
        rt.handle().clone(),
    )
    .expect("metrics");
    m.flush_blocking(WAIT).expect("flush");
    let t = collector.totals();
    let got: Vec<String> = t
        .counters
        .keys()
        .filter(|(n, _)| n == "cp")
        .map(|(_, l)| l.clone())
        .collect();
    assert!(!got.is_empty() && got.len() < 12, "{got:?}");
    // What survived is the newest, contiguous run.
    let first = 12 - got.len();
    let want: Vec<String> = (first..12).map(|i| format!("n={i:02}")).collect();
    assert_eq!(got, want);
    assert!(t.counter(names::DROPPED, "reason=disk_budget") >= 1);
}

#[test]
fn corrupted_and_truncated_segments_are_skipped_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let rt = runtime();
        let m = Metrics::new(config(None, Some(dir.path())), rt.handle().clone()).expect("metrics");
        for i in 1..=4u64 {
            m.counter("seg", &[("n", &i.to_string())]).add(100 + i);
            assert!(m.checkpoint().expect("checkpoint").persisted);
        }
        m.shutdown(WAIT).expect("shutdown");
    }
    let segs = segments(dir.path());
    assert_eq!(segs.len(), 4);
    // Flip a payload byte in segment 2; cut the tail off segment 4.
    let mut b = fs::read(&segs[1]).expect("read");
    let n = b.len();
    b[n - 10] ^= 0x01;
    fs::write(&segs[1], b).expect("write");
    let b = fs::read(&segs[3]).expect("read");
    fs::write(&segs[3], &b[..b.len() - 7]).expect("write");
    // Garbage under a segment name, and an unfinished temp file.
    fs::write(
        dir.path().join("seg-00000000000000000099.lgs"),
        b"not a segment",
    )
    .expect("write");
    fs::write(dir.path().join("seg-00000000000000000100.tmp"), b"half").expect("write");

    let rt = runtime();
    let collector = Collector::start(&rt);
    let m = Metrics::new(
        config(Some(&collector.url), Some(dir.path())),
        rt.handle().clone(),
    )
    .expect("metrics");
    let s = m.flush_blocking(WAIT).expect("flush");
    assert_eq!(s.dropped(DropReason::CorruptedOnDisk), 3, "{s:?}");
    let t = collector.totals();
    assert_eq!(t.counter("seg", "n=1"), 101);
    assert_eq!(t.counter("seg", "n=3"), 103);
    assert_eq!(t.counter("seg", "n=2") + t.counter("seg", "n=4"), 0);
    m.flush_blocking(WAIT).expect("flush");
    assert_eq!(
        collector
            .totals()
            .counter(names::DROPPED, "reason=corrupted_on_disk"),
        3
    );
    let left: Vec<PathBuf> = fs::read_dir(dir.path())
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "everything resolved or discarded: {left:?}"
    );
}

/// Makes `dir` unwritable. As root, permission bits do not stop writes, so
/// the directory is moved away and a plain file put in its place (writes
/// then fail with a real ENOTDIR). Returns how to restore it.
fn make_unwritable(dir: &Path) -> Box<dyn FnOnce()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o555)).expect("chmod");
    let probe = dir.join("probe");
    if fs::write(&probe, b"x").is_err() {
        let d = dir.to_owned();
        return Box::new(move || {
            let _ = fs::set_permissions(&d, fs::Permissions::from_mode(0o755));
        });
    }
    let _ = fs::remove_file(&probe);
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).expect("chmod");
    let aside = dir.with_extension("aside");
    fs::rename(dir, &aside).expect("move aside");
    fs::write(dir, b"not a directory").expect("file in place");
    let d = dir.to_owned();
    Box::new(move || {
        let _ = fs::remove_file(&d);
        let _ = fs::rename(&aside, &d);
    })
}

#[test]
fn storage_becoming_read_only_degrades_to_memory_without_loss() {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("metrics");
    let rt = runtime();
    let collector = Collector::start(&rt);
    let m = Metrics::new(
        config(Some(&collector.url), Some(&dir)),
        rt.handle().clone(),
    )
    .expect("metrics");
    let c = m.counter("ro.ops", &[]);
    let h = m.histogram("ro.latency", &[]);
    c.add(1);
    h.record(3.0);
    assert!(m.checkpoint().expect("checkpoint").persisted);
    let restore = make_unwritable(&dir);
    c.add(2);
    h.record(4.0);
    let r = m.checkpoint().expect("checkpoint never fails on I/O");
    assert!(!r.persisted);
    let s = m.stats();
    assert_eq!(s.storage, StorageMode::Degraded);
    assert!(s.persist_errors >= 1);
    c.add(4);
    let s = m.flush_blocking(WAIT).expect("flush");
    assert_eq!(s.queued_batches, 0, "{s:?}");
    let t = collector.totals();
    assert_eq!(t.counter("ro.ops", ""), 7);
    assert_eq!(t.histograms[&("ro.latency".to_owned(), String::new())].0, 2);
    assert!(t.counter(names::PERSIST_ERRORS, "") >= 1);
    // Cut while unwritable and not uploaded: memory-only for now.
    c.add(10);
    assert!(!m.checkpoint().expect("checkpoint").persisted);
    restore();
    c.add(1);
    assert!(
        m.checkpoint().expect("checkpoint").persisted,
        "disk used again once writable"
    );
    assert_eq!(m.stats().storage, StorageMode::Disk);
    // The memory-only batch was written too once the disk came back.
    let on_disk: Vec<u8> = segments(&dir)
        .iter()
        .flat_map(|p| fs::read(p).unwrap_or_default())
        .collect();
    let text = String::from_utf8_lossy(&on_disk);
    assert!(
        text.contains(r#""name":"ro.ops","labels":[],"kind":"counter","value":10"#),
        "{text}"
    );
    m.flush_blocking(WAIT).expect("flush");
    assert_eq!(collector.totals().counter("ro.ops", ""), 18);
}

#[test]
fn backlog_after_offline_period_drains_in_paced_rounds() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let rt = runtime();
        let m = Metrics::new(config(None, Some(dir.path())), rt.handle().clone()).expect("metrics");
        for i in 0..9u64 {
            m.counter("backlog", &[]).add(i + 1);
            assert!(m.checkpoint().expect("checkpoint").persisted);
        }
        m.shutdown(WAIT).expect("shutdown");
    }
    let rt = runtime();
    let collector = Collector::start(&rt);
    let mut c = config(Some(&collector.url), Some(dir.path()));
    c.upload_interval = Duration::from_millis(30);
    c.max_batches_per_round = 2;
    let m = Metrics::new(c, rt.handle().clone()).expect("metrics");
    let mut stats = m.stats();
    for _ in 0..3000 {
        stats = m.stats();
        if stats.delivered_batches >= 9 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(stats.delivered_batches >= 9, "{stats:?}");
    // Each periodic round sends at most 2 batches: 9 need at least 5 rounds.
    assert!(stats.paced_rounds >= 5, "{stats:?}");
    assert_eq!(collector.totals().counter("backlog", ""), 45);
    // Oldest first.
    let firsts: Vec<u64> = collector
        .accepted_unique()
        .iter()
        .take(3)
        .map(|r| {
            metrics_collector::Totals::from_requests(std::slice::from_ref(r)).counter("backlog", "")
        })
        .collect();
    assert_eq!(firsts, vec![1, 2, 3]);
}

#[test]
fn dropping_the_last_handle_persists_pending_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = runtime();
    {
        let m = Metrics::new(config(None, Some(dir.path())), rt.handle().clone()).expect("metrics");
        let other = m.clone();
        m.counter("on_drop", &[]).add(9);
        drop(m);
        other.histogram("on_drop.h", &[]).record(2.0);
    }
    // The persister's last checkpoint runs on the runtime after the drop.
    for _ in 0..3000 {
        let bytes: Vec<u8> = segments(dir.path())
            .iter()
            .flat_map(|p| fs::read(p).unwrap_or_default())
            .collect();
        if String::from_utf8_lossy(&bytes).contains("on_drop.h") {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    rt.shutdown_timeout(Duration::from_secs(10));
    let rt = runtime();
    let collector = Collector::start(&rt);
    let m = Metrics::new(
        config(Some(&collector.url), Some(dir.path())),
        rt.handle().clone(),
    )
    .expect("metrics");
    m.flush_blocking(WAIT).expect("flush");
    let t = collector.totals();
    assert_eq!(t.counter("on_drop", ""), 9);
    assert_eq!(t.histograms[&("on_drop.h".to_owned(), String::new())].0, 1);
}

#[test]
fn upload_queue_memory_bound_drops_oldest_and_their_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = runtime();
    let mut c = config(None, Some(dir.path()));
    c.max_queued_bytes = 3_000;
    let m = Metrics::new(c, rt.handle().clone()).expect("metrics");
    for i in 0..10u64 {
        m.counter("mem", &[("n", &format!("{i:02}"))]).inc();
        m.checkpoint().expect("checkpoint");
        let s = m.stats();
        assert!(s.queued_bytes <= 3_000, "{s:?}");
    }
    let s = m.stats();
    assert!(s.dropped(DropReason::QueueFull) >= 1, "{s:?}");
    // Disk holds exactly what memory still queues.
    assert_eq!(segments(dir.path()).len() as u64, s.queued_batches);
}

//! Issue 14, items 2, 4, 7 and 8: hostile config servers on 127.0.0.1 and
//! hostile files in the storage directory cost bounded memory, requests and
//! time.
//!
//! The memory bound is checked in a child process: the test re-executes its
//! own binary with `HOSTILE_CHILD=<test name>`, the child caps its address
//! space with `setrlimit(RLIMIT_AS)` and runs the scenario; an unbounded
//! allocation aborts it, which the parent sees as a failed exit.

mod delivery_support;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use delivery_support::{fast_config, good, start, wait_for};
use litegate::delivery::{DeliveryProblem, FetchError, Schedule};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How `/stream` misbehaves.
#[derive(Clone, Copy)]
enum Stream {
    /// One event made of endless `data:` lines, 1 KB each, never ended.
    EndlessEvent,
    /// An event without a version every millisecond.
    Unversioned,
    /// One event, then the connection closes.
    SendThenBreak,
}

struct Hostile {
    _runtime: tokio::runtime::Runtime,
    addr: SocketAddr,
    config_hits: Arc<AtomicUsize>,
    stream_hits: Arc<AtomicUsize>,
}

impl Hostile {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

#[derive(Clone)]
struct St {
    config_hits: Arc<AtomicUsize>,
    stream_hits: Arc<AtomicUsize>,
    stream: Stream,
    /// `GET /config` answers 304 whatever was asked.
    always_304: bool,
}

/// A server whose `/config` serves version 1 (or always 304) and whose
/// `/stream` misbehaves as told.
fn hostile(stream: Stream, always_304: bool) -> Hostile {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let st = St {
        config_hits: Arc::new(AtomicUsize::new(0)),
        stream_hits: Arc::new(AtomicUsize::new(0)),
        stream,
        always_304,
    };
    let app = Router::new()
        .route("/config", get(config))
        .route("/stream", get(sse))
        .with_state(st.clone());
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    runtime.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Hostile {
        _runtime: runtime,
        addr,
        config_hits: st.config_hits,
        stream_hits: st.stream_hits,
    }
}

async fn config(State(s): State<St>) -> Response {
    s.config_hits.fetch_add(1, Ordering::SeqCst);
    if s.always_304 {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    Response::builder()
        .status(200)
        .header(header::ETAG, "\"v1\"")
        .body(Body::from(good(1, false)))
        .expect("response")
}

async fn sse(State(s): State<St>) -> Response {
    s.stream_hits.fetch_add(1, Ordering::SeqCst);
    let line = format!("data: {}\n", "x".repeat(1_000)).into_bytes();
    let body = match s.stream {
        Stream::EndlessEvent => {
            Body::from_stream(futures_util::stream::unfold(line, |line| async move {
                Some((Ok::<_, std::io::Error>(line.repeat(64)), line))
            }))
        }
        Stream::Unversioned => Body::from_stream(futures_util::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            Some((
                Ok::<_, std::io::Error>(b"event: config\ndata: published\n\n".to_vec()),
                (),
            ))
        })),
        Stream::SendThenBreak => Body::from("event: config\ndata: published\n\n"),
    };
    Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .body(body)
        .expect("response")
}

/// Runs `scenario` in a child copy of this test binary whose address space
/// is capped at `limit_bytes`; panics if the child fails.
fn in_memory_capped_child(test: &str, limit_bytes: u64, scenario: impl FnOnce()) {
    if std::env::var("HOSTILE_CHILD").as_deref() == Ok(test) {
        let lim = libc::rlimit {
            rlim_cur: limit_bytes,
            rlim_max: limit_bytes,
        };
        // SAFETY: setrlimit reads the struct we pass by reference for the
        // duration of the call; it only lowers this child process's limit.
        let rc = unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) };
        assert_eq!(rc, 0, "setrlimit");
        scenario();
        return;
    }
    let exe = std::env::current_exe().expect("test binary");
    let out = std::process::Command::new(exe)
        .args([test, "--exact", "--test-threads=1", "--nocapture"])
        .env("HOSTILE_CHILD", test)
        .output()
        .expect("child runs");
    assert!(
        out.status.success(),
        "child failed ({:?}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
}

fn slow_polls() -> Schedule {
    Schedule {
        poll_interval: Duration::from_secs(60),
        poll_jitter: 0.0,
        backoff_base: Duration::from_millis(200),
        backoff_cap: Duration::from_secs(2),
        max_server_delay: Duration::from_secs(60),
    }
}

#[test]
fn an_endless_event_is_dropped_within_its_bound_and_polling_goes_on() {
    // Before: 2.5 GB in 15 s, then an abort on allocation.
    in_memory_capped_child(
        "an_endless_event_is_dropped_within_its_bound_and_polling_goes_on",
        3 << 30,
        || {
            let server = hostile(Stream::EndlessEvent, false);
            let mut config = fast_config(Some(server.url("/config")));
            config.stream_url = Some(server.url("/stream"));
            let limit = config.http.max_body_bytes;
            let c = start(config);
            wait_for("the stream dropped with its reason", || {
                c.delivery
                    .status()
                    .stream_error
                    .is_some_and(|e| e.contains(&format!("event larger than {limit} bytes")))
            });
            // Keep it up for a while: reconnects keep being dropped.
            std::thread::sleep(Duration::from_secs(3));
            assert!(server.stream_hits.load(Ordering::SeqCst) >= 2);
            let polls = server.config_hits.load(Ordering::SeqCst);
            wait_for("polling continues", || {
                server.config_hits.load(Ordering::SeqCst) > polls
            });
            assert_eq!(c.delivery.status().version, Some(1));
        },
    );
}

#[test]
fn unversioned_events_trigger_fetches_no_faster_than_the_backoff_base() {
    // Before: 5,209 fetches in 10 s.
    let server = hostile(Stream::Unversioned, false);
    let mut config = fast_config(Some(server.url("/config")));
    config.stream_url = Some(server.url("/stream"));
    config.schedule = slow_polls();
    let c = start(config);
    wait_for("connected", || c.delivery.status().stream_connected);
    let (t0, h0) = (Instant::now(), server.config_hits.load(Ordering::SeqCst));
    std::thread::sleep(Duration::from_secs(3));
    let fetches = server.config_hits.load(Ordering::SeqCst) - h0;
    let allowed = (t0.elapsed().as_millis() / 200) as usize + 2;
    assert!(
        fetches <= allowed,
        "{fetches} fetches in {:?}",
        t0.elapsed()
    );
    assert!(fetches >= 2, "the stream still brings fetches forward");
}

#[test]
fn a_stream_that_breaks_after_data_still_backs_off() {
    // Before: 21 reconnects in 10 s with a 1 s base (the count reset on data).
    let server = hostile(Stream::SendThenBreak, false);
    let mut config = fast_config(Some(server.url("/config")));
    config.stream_url = Some(server.url("/stream"));
    config.schedule = slow_polls();
    let c = start(config);
    std::thread::sleep(Duration::from_secs(4));
    let reconnects = server.stream_hits.load(Ordering::SeqCst);
    // Full jitter over 200 ms, 400, 800, 1.6 s, 2 s, 2 s...: 15 connections
    // in 4 s would need 14 delays averaging under 0.3 s.
    assert!(reconnects <= 15, "{reconnects} connections in 4 s");
    assert!(reconnects >= 2);
    assert!(!c.delivery.status().stream_connected || reconnects > 1);
}

#[test]
fn a_304_with_nothing_in_use_is_a_failed_fetch() {
    let server = hostile(Stream::SendThenBreak, true);
    let c = start(fast_config(Some(server.url("/config"))));
    assert!(c.delivery.wait_until_ready(Duration::from_secs(1)).is_err());
    let s = c.delivery.status();
    assert!(!s.ready);
    assert_eq!(s.version, None);
    assert_eq!(
        s.last_error,
        Some(DeliveryProblem::Fetch(FetchError::UnexpectedNotModified))
    );
    assert!(server.config_hits.load(Ordering::SeqCst) >= 1);
}

mod cache_file {
    use super::*;
    use litegate::delivery::{persist, CacheError, ConfigDelivery};
    use litegate::runtime::BackgroundRuntime;

    fn start_on(dir: &std::path::Path) -> (ConfigDelivery, BackgroundRuntime, Duration) {
        let mut config = fast_config(None);
        config.storage_dir = Some(dir.to_owned());
        config.bootstrap = Some(delivery_support::doc(1, "production", &[("kill", false)]));
        let runtime = BackgroundRuntime::new().expect("runtime");
        let t = Instant::now();
        let d = ConfigDelivery::start(config, runtime.handle()).expect("start");
        (d, runtime, t.elapsed())
    }

    #[test]
    fn a_symlink_to_dev_zero_is_refused_without_reading() {
        in_memory_capped_child(
            "cache_file::a_symlink_to_dev_zero_is_refused_without_reading",
            1 << 30,
            || {
                let dir = tempfile::tempdir().expect("dir");
                std::os::unix::fs::symlink("/dev/zero", persist::cache_path(dir.path()))
                    .expect("symlink");
                assert!(matches!(
                    persist::load(dir.path()),
                    Err(CacheError::Io { .. })
                ));
                let (d, _rt, took) = start_on(dir.path());
                assert!(took < Duration::from_secs(2), "{took:?}");
                assert!(d.status().cache_problem.is_some());
                assert_eq!(d.status().version, Some(1), "the bootstrap is in use");
            },
        );
    }

    #[test]
    fn a_fifo_does_not_block_start() {
        let dir = tempfile::tempdir().expect("dir");
        let path = persist::cache_path(dir.path());
        let c = std::ffi::CString::new(path.to_str().expect("utf-8")).expect("path");
        // SAFETY: `c` is a NUL-terminated path that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let (tx, rx) = std::sync::mpsc::channel();
        let p = dir.path().to_owned();
        std::thread::spawn(move || {
            let (d, _rt, _) = start_on(&p);
            let _ = tx.send(d.status());
        });
        let status = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("start returned instead of blocking on the FIFO");
        assert!(status.cache_problem.is_some());
        assert_eq!(status.version, Some(1));
    }

    #[test]
    fn a_file_over_the_limit_is_refused_by_its_size() {
        let dir = tempfile::tempdir().expect("dir");
        let path = persist::cache_path(dir.path());
        let limit = 64 * 1024;
        // Exactly on the limit (body limit plus 64 KiB of header room) is
        // read (and found corrupt: it is zeros); one byte more is not read.
        let f = std::fs::File::create(&path).expect("file");
        f.set_len(limit + 64 * 1024).expect("len");
        match persist::load_limited(dir.path(), limit as usize) {
            Err(CacheError::Corrupted { reason, .. }) => assert!(!reason.contains("limit")),
            Err(CacheError::Foreign { .. }) => {}
            other => panic!("{other:?}"),
        }
        f.set_len(limit + 64 * 1024 + 1).expect("len");
        match persist::load_limited(dir.path(), limit as usize) {
            Err(CacheError::Corrupted { reason, .. }) => {
                assert!(reason.contains("more than the limit"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        // A sparse 1 TiB file: refused without a read.
        f.set_len(1 << 40).expect("len");
        let (d, _rt, took) = start_on(dir.path());
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert!(d.status().cache_problem.is_some());
    }
}

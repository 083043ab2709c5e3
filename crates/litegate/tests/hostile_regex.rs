//! Issue 14, item 3: the regexes of one document share one compiled-size
//! budget (`Limits::max_regex_total_bytes`). The issue's document (10,000
//! `\w{5}N` patterns, 129 KB) took 3 GB and 38 s; now it is refused inside a
//! child process capped at 1 GiB of address space.

use litegate::config::{ConfigError, Document, Limits, ProblemKind};
use serde_json::json;
use std::time::{Duration, Instant};

fn with_patterns(patterns: &[String]) -> Vec<u8> {
    json!({"format_version": 1, "environment": "production", "version": 1, "flags": {
        "f": {"type": "bool", "variations": {"on": true, "off": false}, "off_variation": "off",
              "rules": [{"id": "r", "clauses": [
                  {"attribute": "device_model", "op": "matches", "values": patterns}],
                  "serve": {"variation": "on"}}],
              "fallthrough": {"variation": "off"}}}})
    .to_string()
    .into_bytes()
}

fn over_budget(doc: &[u8]) -> bool {
    match Document::parse(doc) {
        Err(ConfigError::Invalid(p)) => p.iter().all(|p| {
            matches!(
                p.kind,
                ProblemKind::LimitExceeded {
                    what: "compiled regex bytes per document",
                    ..
                }
            ) && p.path.starts_with("flags.f.rules[0].clauses[0].values[")
        }),
        _ => false,
    }
}

#[test]
fn the_issue_document_is_refused_within_a_memory_cap() {
    const NAME: &str = "the_issue_document_is_refused_within_a_memory_cap";
    if std::env::var("HOSTILE_CHILD").as_deref() == Ok(NAME) {
        let lim = libc::rlimit {
            rlim_cur: 1 << 30,
            rlim_max: 1 << 30,
        };
        // SAFETY: setrlimit reads the struct for the duration of the call and
        // only lowers this child process's own limit.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) }, 0);
        let doc = with_patterns(&vec![r"\w{5}N".to_owned(); 10_000]);
        assert!(doc.len() < 140_000);
        let t = Instant::now();
        assert!(over_budget(&doc));
        // A bound, not a speed target: 38 s in a release build before; this
        // is a debug build on a shared machine.
        assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().expect("exe"))
        .args([NAME, "--exact", "--test-threads=1"])
        .env("HOSTILE_CHILD", NAME)
        .output()
        .expect("child");
    assert!(
        out.status.success(),
        "{:?}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
}

#[test]
fn many_simple_patterns_fit_and_the_budget_sits_on_its_limit() {
    // Each simple pattern is charged 4 KiB + 32 KiB: 227 fit in 8 MiB.
    assert_eq!(Limits::default().max_regex_total_bytes, 8 << 20);
    let per = 36 * 1024;
    let fits = (8 << 20) / per;
    assert_eq!(fits, 227);
    let simple: Vec<String> = (0..fits).map(|i| format!("^Pixel {i}$")).collect();
    let d = Document::parse(&with_patterns(&simple)).expect("accepted");
    assert!(d.problems().is_empty(), "{:?}", d.problems());
    let mut one_more = simple;
    one_more.push("^Pixel$".to_owned());
    assert!(over_budget(&with_patterns(&one_more)));
}

mod shutdown_wins {
    use super::with_patterns;
    use axum::routing::get;
    use litegate::delivery::{ConfigDelivery, DeliveryConfig};
    use litegate::runtime::{BackgroundRuntime, ShutdownOutcome};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    #[test]
    fn shutdown_returns_in_time_and_nothing_is_installed_after() {
        // The heaviest document the budget accepts: 28 patterns that each
        // compile near the per-pattern limit (seconds in a debug build).
        let body = with_patterns(&vec![r"\w{5}N".to_owned(); 28]);
        assert!(litegate::config::Document::parse(&body).is_ok(), "accepted");
        let server = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let app = axum::Router::new().route(
            "/config",
            get(move || {
                h.fetch_add(1, Ordering::SeqCst);
                let b = body.clone();
                async move { b }
            }),
        );
        let listener = server
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        server.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });

        let mut config = DeliveryConfig::new("production");
        config.url = Some(format!("http://{addr}/config"));
        let mut runtime = BackgroundRuntime::new().expect("runtime");
        let delivery = ConfigDelivery::start(config, runtime.handle()).expect("start");
        let deadline = Instant::now() + Duration::from_secs(20);
        while hits.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(delivery.status().version, None, "still compiling");
        let t = Instant::now();
        delivery.shutdown();
        let outcome = runtime.shutdown(Duration::from_secs(2));
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        assert_eq!(outcome, ShutdownOutcome::Stopped);
        // Whatever the compile does after, it installs nothing.
        std::thread::sleep(Duration::from_secs(8));
        assert_eq!(delivery.status().version, None);
        assert!(delivery.current().is_none());
    }
}

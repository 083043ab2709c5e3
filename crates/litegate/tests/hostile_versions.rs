//! Issue 14, item 9: versions. A document cannot take the top of the version
//! range, and an older validly signed cache file put back in place is
//! refused at start (the highest version applied is kept beside it).

mod delivery_support;

use delivery_support::{fast_config, good, start, wait_for, Behaviour, TestServer};
use litegate::config::{ConfigError, Document, ProblemKind, MAX_VERSION};
use litegate::delivery::{persist, CacheProblem, Rejection};

fn with_version(v: u64) -> Vec<u8> {
    format!(
        r#"{{"format_version": 1, "environment": "production", "version": {v}, "flags": {{}}}}"#
    )
    .into_bytes()
}

#[test]
fn the_version_ceiling_sits_exactly_on_2_pow_53_minus_1() {
    assert_eq!(MAX_VERSION, 9_007_199_254_740_991);
    assert_eq!(
        Document::parse(&with_version(MAX_VERSION))
            .expect("on the ceiling")
            .version,
        MAX_VERSION
    );
    for v in [MAX_VERSION + 1, u64::MAX] {
        match Document::parse(&with_version(v)) {
            Err(ConfigError::Invalid(p)) => {
                assert_eq!(p[0].path, "version");
                assert!(matches!(p[0].kind, ProblemKind::Invalid(_)));
            }
            other => panic!("{v}: {other:?}"),
        }
    }
}

#[test]
fn an_older_signed_cache_file_put_back_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("dir");
    let server = TestServer::start(Behaviour::serve(good(3, false), Some("\"v3\"")));
    let mut config = fast_config(Some(server.url("/config")));
    config.storage_dir = Some(dir.path().to_owned());
    let c = start(config.clone());
    wait_for("version 3", || c.delivery.status().version == Some(3));
    let cache = persist::cache_path(dir.path());
    wait_for("version 3 persisted", || {
        persist::load(dir.path())
            .ok()
            .flatten()
            .is_some_and(|_| persist::load_highest(dir.path()) == Some(3))
    });
    let old = std::fs::read(&cache).expect("cache");
    server.set(Behaviour::serve(good(5, false), Some("\"v5\"")));
    wait_for("version 5", || c.delivery.status().version == Some(5));
    wait_for("5 recorded", || {
        persist::load_highest(dir.path()) == Some(5)
    });
    c.delivery.shutdown();
    drop(c);
    // The attacker (or a restored backup) puts version 3 back.
    std::fs::write(&cache, old).expect("write");
    let mut offline = config;
    offline.url = None;
    let c = start(offline);
    let s = c.delivery.status();
    assert_eq!(s.version, None);
    assert_eq!(
        s.cache_problem,
        Some(CacheProblem::Refused(Rejection::StaleVersion {
            current: 5,
            offered: 3
        }))
    );
}

//! Start-up sources and the persisted last-known-good copy: restart with the
//! server down, damaged cache files, key rotation, concurrent writers.

mod delivery_support;

use delivery_support::*;
use litegate::delivery::persist::{self, CachedMeta};
use litegate::delivery::{
    CacheError, CacheProblem, ConfigDelivery, ConfigSource, DeliveryConfig, DeliveryError,
    Rejection, SignatureError,
};
use litegate::runtime::BackgroundRuntime;
use std::time::Duration;

fn dead_url() -> String {
    let mut server = TestServer::start(Behaviour::Status {
        code: 500,
        retry_after: None,
    });
    let url = server.url("/config");
    server.stop();
    url
}

#[test]
fn restart_with_the_server_down_uses_the_persisted_document() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = TestServer::start(Behaviour::serve(good(8, true), Some("\"v8\"")));
    {
        let mut config = fast_config(Some(server.url("/config")));
        config.storage_dir = Some(dir.path().to_owned());
        config.bootstrap = Some(doc(1, "production", &[("kill", false)]));
        let first = start(config);
        first
            .delivery
            .wait_until_ready(Duration::from_secs(20))
            .expect("fetched");
        assert_eq!(first.delivery.status().version, Some(8));
        assert!(persist::cache_path(dir.path()).exists());
    }
    server.stop();

    let mut config = fast_config(Some(server.url("/config")));
    config.storage_dir = Some(dir.path().to_owned());
    config.bootstrap = Some(doc(1, "production", &[("kill", false)]));
    let second = start(config);
    // Available at once, before any network attempt completes.
    let status = second.delivery.status();
    assert_eq!(status.version, Some(8));
    assert_eq!(status.source, Some(ConfigSource::Persisted));
    assert_eq!(status.etag.as_deref(), Some("\"v8\""));
    assert!(status.cache_problem.is_none());
    assert_eq!(flag(&second, "kill"), Some(true));
    wait_for("connection failures", || {
        second.delivery.status().consecutive_failures >= 1
    });
    assert_eq!(second.delivery.status().version, Some(8));
}

#[test]
fn restart_sends_the_persisted_etag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(Behaviour::serve(good(8, true), Some("\"v8\"")));
    let mut config = fast_config(Some(server.url("/config")));
    config.storage_dir = Some(dir.path().to_owned());
    drop(
        start(config.clone())
            .delivery
            .wait_until_ready(Duration::from_secs(20)),
    );
    let before = server
        .state
        .not_modified
        .load(std::sync::atomic::Ordering::SeqCst);
    let again = start(config);
    again
        .delivery
        .wait_until_ready(Duration::from_secs(20))
        .expect("ready");
    assert!(
        server
            .state
            .not_modified
            .load(std::sync::atomic::Ordering::SeqCst)
            > before
    );
    assert_eq!(
        again.delivery.status().source,
        Some(ConfigSource::Persisted)
    );
}

fn start_on_cache(dir: &std::path::Path, bytes: &[u8]) -> Client {
    std::fs::write(persist::cache_path(dir), bytes).expect("write cache");
    let mut config = fast_config(Some(dead_url()));
    config.storage_dir = Some(dir.to_owned());
    config.bootstrap = Some(doc(1, "production", &[("kill", false)]));
    start(config)
}

fn valid_cache(version: u64) -> Vec<u8> {
    persist::encode(&good(version, true), &CachedMeta::default())
}

#[test]
fn corrupted_cache_falls_back_to_bootstrap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bytes = valid_cache(8);
    let n = bytes.len();
    bytes[n - 20] ^= 0x40;
    let c = start_on_cache(dir.path(), &bytes);
    let status = c.delivery.status();
    assert_eq!(status.source, Some(ConfigSource::Bootstrap));
    assert_eq!(status.version, Some(1));
    assert!(matches!(
        status.cache_problem,
        Some(CacheProblem::File(CacheError::Corrupted { .. }))
    ));
}

#[test]
fn truncated_cache_falls_back_to_bootstrap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = valid_cache(8);
    let c = start_on_cache(dir.path(), &bytes[..bytes.len() / 2]);
    let status = c.delivery.status();
    assert_eq!(status.source, Some(ConfigSource::Bootstrap));
    assert!(matches!(
        status.cache_problem,
        Some(CacheProblem::File(CacheError::Truncated { .. }))
    ));
}

#[test]
fn foreign_cache_falls_back_to_bootstrap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = start_on_cache(dir.path(), &good(8, true));
    let status = c.delivery.status();
    assert_eq!(status.source, Some(ConfigSource::Bootstrap));
    assert!(matches!(
        status.cache_problem,
        Some(CacheProblem::File(CacheError::Foreign { .. }))
    ));
}

#[test]
fn cache_signed_by_a_retired_key_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = persist::encode(
        &signed(&doc(8, "production", &[("kill", true)]), "retired", &key(9)),
        &CachedMeta::default(),
    );
    let c = start_on_cache(dir.path(), &old);
    let status = c.delivery.status();
    assert_eq!(status.source, Some(ConfigSource::Bootstrap));
    assert!(matches!(
        status.cache_problem,
        Some(CacheProblem::Refused(Rejection::Signature(
            SignatureError::UnknownKeyId { .. }
        )))
    ));
}

#[test]
fn newer_bootstrap_wins_over_an_older_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(persist::cache_path(dir.path()), valid_cache(3)).expect("write");
    let mut config = fast_config(None);
    config.storage_dir = Some(dir.path().to_owned());
    config.bootstrap = Some(doc(4, "production", &[("kill", false)]));
    let c = start(config);
    assert_eq!(c.delivery.status().source, Some(ConfigSource::Bootstrap));
    assert_eq!(c.delivery.status().version, Some(4));
}

#[test]
fn nothing_local_means_no_document() {
    let c = start(fast_config(None));
    assert!(c.delivery.current().is_none());
    let status = c.delivery.status();
    assert_eq!((status.version, status.source), (None, None));
    assert_eq!(
        c.delivery.wait_until_ready(Duration::from_millis(10)),
        Err(litegate::delivery::WaitError::NoRemote)
    );
}

#[test]
fn invalid_bootstrap_and_urls_fail_start() {
    let rt = BackgroundRuntime::new().expect("runtime");
    let mut config = DeliveryConfig::new("production");
    config.bootstrap = Some(doc(1, "staging", &[]));
    assert!(matches!(
        ConfigDelivery::start(config, rt.handle()),
        Err(DeliveryError::Bootstrap(_))
    ));
    let mut config = DeliveryConfig::new("production");
    config.url = Some("http://config.example.com/prod.json".into());
    assert!(matches!(
        ConfigDelivery::start(config.clone(), rt.handle()),
        Err(DeliveryError::InsecureUrl { .. })
    ));
    config.insecure_http = true;
    assert!(ConfigDelivery::start(config, rt.handle()).is_ok());
    let mut config = DeliveryConfig::new("production");
    config.url = Some("ftp://x/y".into());
    assert!(matches!(
        ConfigDelivery::start(config, rt.handle()),
        Err(DeliveryError::InvalidUrl { .. })
    ));
    let mut config = DeliveryConfig::new("production");
    config.pinned_keys = vec![("short".into(), vec![1, 2, 3])];
    assert!(matches!(
        ConfigDelivery::start(config, rt.handle()),
        Err(DeliveryError::PinnedKey(_))
    ));
}

#[test]
fn concurrent_writers_never_expose_a_partial_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (vec![b'a'; 200_000], vec![b'b'; 300_000]);
    let (a, b) = (&a, &b);
    persist::save(dir.path(), a, &CachedMeta::default()).expect("seed");
    std::thread::scope(|s| {
        for body in [a, b] {
            let d = dir.path();
            s.spawn(move || {
                for _ in 0..40 {
                    persist::save(d, body, &CachedMeta::default()).expect("save");
                }
            });
        }
        let d = dir.path();
        s.spawn(move || {
            for _ in 0..200 {
                let got = persist::load(d).expect("intact").expect("present");
                assert!(got.body == *a || got.body == *b);
            }
        });
    });
    let leftovers = std::fs::read_dir(dir.path())
        .expect("ls")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .count();
    assert_eq!(leftovers, 0);
}

#[test]
fn submitted_documents_take_the_same_checks_and_are_persisted() {
    use litegate::delivery::Submitted;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = fast_config(None);
    config.storage_dir = Some(dir.path().to_owned());
    let c = start(config.clone());
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let s = seen.clone();
    c.delivery.on_flag_change("kill", move |_| {
        s.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    });
    assert_eq!(
        c.delivery.submit(&good(4, true), None),
        Ok(Submitted::Applied { version: 4 })
    );
    assert_eq!(
        c.delivery.submit(&good(4, true), None),
        Ok(Submitted::Unchanged)
    );
    assert!(matches!(
        c.delivery.submit(&good(3, false), None),
        Err(Rejection::StaleVersion {
            current: 4,
            offered: 3
        })
    ));
    assert!(matches!(
        c.delivery.submit(&doc(9, "production", &[]), None),
        Err(Rejection::Signature(SignatureError::Unsigned))
    ));
    let status = c.delivery.status();
    assert_eq!(status.version, Some(4));
    assert!(status.last_rejection.is_some());
    wait_for("the kill listener", || {
        seen.load(std::sync::atomic::Ordering::SeqCst) == 1
    });
    drop(c);
    let again = start(config);
    assert_eq!(
        again.delivery.status().source,
        Some(ConfigSource::Persisted)
    );
    assert_eq!(again.delivery.status().version, Some(4));
}

/// A document well past the size at which start-up checks the signature on
/// a helper thread while it parses (64 KB).
fn large_doc(version: u64, kill: bool) -> Vec<u8> {
    let names: Vec<String> = (0..1500).map(|i| format!("flag-{i:04}")).collect();
    let mut flags: Vec<(&str, bool)> = names.iter().map(|n| (n.as_str(), i_on(n))).collect();
    flags.push(("kill", kill));
    let bytes = doc(version, "production", &flags);
    assert!(bytes.len() > 128 * 1024, "{} bytes", bytes.len());
    bytes
}

fn i_on(name: &str) -> bool {
    name.ends_with('7')
}

/// `payload` with the `kill` flag's served variation flipped, keeping the
/// same length so only the signature can tell.
fn tamper(payload: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(payload.to_vec()).expect("utf-8");
    let at = text.find("\"kill\"").expect("kill flag");
    let (head, tail) = text.split_at(at);
    let tail = tail.replacen("\"variation\":\"on\"", "\"variation\":\"no\"", 1);
    assert_ne!(tail, text[at..], "the kill flag serves on");
    (head.to_owned() + &tail).into_bytes()
}

#[test]
fn envelopes_are_persisted_unwrapped_and_their_signature_checked_at_every_start() {
    for payload in [doc(8, "production", &[("kill", true)]), large_doc(8, true)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = fast_config(None);
        config.storage_dir = Some(dir.path().to_owned());
        config.bootstrap = Some(doc(1, "production", &[("kill", false)]));
        {
            let c = start(config.clone());
            c.delivery
                .submit(&signed(&payload, "release", &key(1)), None)
                .expect("applies");
        }
        // The file holds the document itself and the envelope's signature.
        let cached = persist::load(dir.path()).expect("intact").expect("present");
        assert!(cached.body == payload, "the payload, not the envelope");
        let header = cached
            .meta
            .signature_header
            .clone()
            .expect("signature kept");
        assert!(header.contains("keyid=release"), "{header}");

        let again = start(config.clone());
        let status = again.delivery.status();
        assert_eq!(status.source, Some(ConfigSource::Persisted));
        assert_eq!(status.version, Some(8));
        assert_eq!(flag(&again, "kill"), Some(true));
        drop(again);

        // An edit with a valid checksum is caught by the signature.
        let edited = persist::encode(&tamper(&payload), &cached.meta);
        let c = start_on_cache(dir.path(), &edited);
        let status = c.delivery.status();
        assert_eq!(status.source, Some(ConfigSource::Bootstrap), "{status:?}");
        assert!(matches!(
            status.cache_problem,
            Some(CacheProblem::Refused(Rejection::Signature(
                SignatureError::BadSignature { .. }
            )))
        ));
        drop(c);

        // A key the app no longer pins no longer vouches for the file.
        std::fs::write(
            persist::cache_path(dir.path()),
            persist::encode(&payload, &cached.meta),
        )
        .expect("restore");
        let mut rotated = config.clone();
        rotated.pinned_keys = vec![pin("next", &key(2))];
        let c = start(rotated);
        assert_eq!(c.delivery.status().source, Some(ConfigSource::Bootstrap));
        assert!(matches!(
            c.delivery.status().cache_problem,
            Some(CacheProblem::Refused(Rejection::Signature(
                SignatureError::UnknownKeyId { .. }
            )))
        ));
    }
}

#[test]
fn rotation_signatures_and_odd_key_ids_survive_persistence() {
    let payload = large_doc(8, true);
    // Two signatures during a rotation: both are kept, so a later app that
    // pins only the new key still trusts the file.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = fast_config(None);
    config.storage_dir = Some(dir.path().to_owned());
    config.pinned_keys = vec![pin("old", &key(1)), pin("new", &key(2))];
    let body = litegate::delivery::envelope::seal(
        &payload,
        &[("old".to_owned(), key(1)), ("new".to_owned(), key(2))],
    );
    start(config.clone())
        .delivery
        .submit(&body, None)
        .expect("applies");
    config.pinned_keys = vec![pin("new", &key(2))];
    let c = start(config);
    assert_eq!(c.delivery.status().source, Some(ConfigSource::Persisted));
    assert_eq!(flag(&c, "kill"), Some(true));
    drop(c);

    // A key id that cannot be written in a header keeps the envelope whole.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = fast_config(None);
    config.storage_dir = Some(dir.path().to_owned());
    config.pinned_keys = vec![pin("team; release=1", &key(3))];
    start(config.clone())
        .delivery
        .submit(&signed(&payload, "team; release=1", &key(3)), None)
        .expect("applies");
    let cached = persist::load(dir.path()).expect("intact").expect("present");
    assert!(cached.body != payload, "kept as an envelope");
    let c = start(config);
    assert_eq!(c.delivery.status().source, Some(ConfigSource::Persisted));
    assert_eq!(c.delivery.status().version, Some(8));
}

#[test]
fn cache_files_holding_a_whole_envelope_still_load() {
    // The form written before payloads were stored unwrapped.
    let dir = tempfile::tempdir().expect("tempdir");
    let c = start_on_cache(dir.path(), &valid_cache(8));
    let status = c.delivery.status();
    assert_eq!(status.source, Some(ConfigSource::Persisted));
    assert_eq!(status.version, Some(8));
    assert!(status.cache_problem.is_none());
}

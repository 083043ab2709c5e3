//! Model download against a real HTTP server on 127.0.0.1: resume after a
//! cut connection, size limit, verification before the cache, LRU eviction.

mod support;

use litegate::inference::download::{DownloadError, ModelCache};
use litegate::inference::ModelManifest;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use support::tiny_model;

/// Serves `body` at every path. The first `cut_first` requests send only
/// half the body and close. Records each request's Range header.
struct Server {
    url: String,
    ranges: Arc<Mutex<Vec<Option<String>>>>,
}

fn serve(body: Vec<u8>, cut_first: usize, declared_extra: usize) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/model.tflite", listener.local_addr().unwrap());
    let ranges = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&ranges);
    let count = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming().take(32) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut range = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("range: bytes=") {
                    range = Some(v.trim().trim_end_matches('-').to_string());
                }
            }
            seen.lock().unwrap().push(range.clone());
            let n = count.fetch_add(1, Ordering::SeqCst);
            let start: usize = range.as_deref().and_then(|r| r.parse().ok()).unwrap_or(0);
            let mut full = body.clone();
            full.extend(std::iter::repeat_n(0u8, declared_extra));
            let slice = &full[start.min(full.len())..];
            let status = if start > 0 {
                "206 Partial Content"
            } else {
                "200 OK"
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                slice.len()
            );
            let _ = stream.write_all(head.as_bytes());
            if n < cut_first {
                let _ = stream.write_all(&slice[..slice.len() / 2]);
                let _ = stream.flush();
                drop(stream);
                continue;
            }
            let _ = stream.write_all(slice);
        }
    });
    Server { url, ranges }
}

fn manifest(key: &str, bytes: &[u8], url: &str) -> ModelManifest {
    ModelManifest {
        url: Some(url.into()),
        ..ModelManifest::for_bytes(key, "1", bytes)
    }
}

#[tokio::test]
async fn a_cut_download_resumes_with_a_range_request_and_is_verified() {
    let body = tiny_model::add_model(&[1, 256], Some(&[1.0; 256]));
    let server = serve(body.clone(), 1, 0);
    let dir = tempfile::tempdir().unwrap();
    let cache = ModelCache::new(dir.path(), 10 << 20);
    let m = manifest("add", &body, &server.url);
    let first = cache.fetch(&m).await;
    assert!(
        matches!(first, Err(DownloadError::Network { .. })),
        "{first:?}"
    );
    let bytes = cache.fetch(&m).await.unwrap();
    assert_eq!(bytes, body);
    let ranges = server.ranges.lock().unwrap().clone();
    assert_eq!(ranges[0], None);
    assert_eq!(ranges[1], Some((body.len() / 2).to_string()), "{ranges:?}");
    assert!(cache.path_for(&m).is_file());
    // Served from the cache now: no new request.
    assert_eq!(cache.fetch(&m).await.unwrap(), body);
    assert_eq!(server.ranges.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn more_bytes_than_the_manifest_says_are_refused() {
    let body = tiny_model::add_model(&[1, 4], None);
    let server = serve(body.clone(), 0, 1000);
    let dir = tempfile::tempdir().unwrap();
    let cache = ModelCache::new(dir.path(), 10 << 20);
    let err = cache
        .fetch(&manifest("m", &body, &server.url))
        .await
        .unwrap_err();
    assert!(matches!(err, DownloadError::SizeExceeded { .. }), "{err:?}");
    assert!(cache.entries().is_empty());
}

#[tokio::test]
async fn a_wrong_hash_never_enters_the_cache() {
    let body = tiny_model::add_model(&[1, 4], None);
    let server = serve(body.clone(), 0, 0);
    let dir = tempfile::tempdir().unwrap();
    let cache = ModelCache::new(dir.path(), 10 << 20);
    let mut m = manifest("m", &body, &server.url);
    m.sha256 = "1".repeat(64);
    let err = cache.fetch(&m).await.unwrap_err();
    assert!(matches!(err, DownloadError::Integrity(_)), "{err:?}");
    assert!(cache.entries().is_empty());
}

#[tokio::test]
async fn least_recently_used_models_are_evicted_to_fit_the_budget() {
    let a = tiny_model::add_model(&[1, 100], Some(&[1.0; 100]));
    let b = tiny_model::add_model(&[1, 101], Some(&[2.0; 101]));
    let c = tiny_model::add_model(&[1, 102], Some(&[3.0; 102]));
    let budget = (a.len() + b.len() + c.len() - 1) as u64;
    let dir = tempfile::tempdir().unwrap();
    let cache = ModelCache::new(dir.path(), budget);
    let (sa, sb, sc) = (
        serve(a.clone(), 0, 0),
        serve(b.clone(), 0, 0),
        serve(c.clone(), 0, 0),
    );
    let (ma, mb, mc) = (
        manifest("a", &a, &sa.url),
        manifest("b", &b, &sb.url),
        manifest("c", &c, &sc.url),
    );
    cache.fetch(&ma).await.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    cache.fetch(&mb).await.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    // Use `a` again: `b` is now the least recently used.
    assert!(cache.cached(&ma).is_some());
    std::thread::sleep(std::time::Duration::from_millis(20));
    cache.fetch(&mc).await.unwrap();
    assert!(cache.cached(&mb).is_none(), "b should have been evicted");
    assert!(cache.path_for(&ma).is_file());
    assert!(cache.path_for(&mc).is_file());
    let too_big = ModelManifest {
        size: budget + 1,
        ..ma.clone()
    };
    assert!(matches!(
        ModelCache::new(dir.path().join("x"), budget)
            .fetch(&too_big)
            .await,
        Err(DownloadError::TooLarge { .. })
    ));
}

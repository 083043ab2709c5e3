//! A real config server on 127.0.0.1 for the delivery tests: an axum app on
//! its own tokio runtime, with switchable behaviours and request counters.
//! Stopping it drops the runtime, which closes every socket at once (the
//! "server disappears" case).
#![allow(dead_code)]

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use ed25519_dalek::SigningKey;
use litegate::delivery::envelope;
use litegate::delivery::{ConfigDelivery, DeliveryConfig, Schedule};
use litegate::runtime::BackgroundRuntime;
use parking_lot::Mutex;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

/// What `GET /config` does.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// 200 with this body (304 when `If-None-Match` equals the ETag).
    Serve {
        body: Vec<u8>,
        etag: Option<String>,
        headers: Vec<(String, String)>,
        gzip: bool,
    },
    /// An error status, optionally with `Retry-After`.
    Status {
        code: u16,
        retry_after: Option<String>,
    },
    /// Headers and a few bytes, then nothing, forever.
    Stall,
    /// Promises 1,000 bytes, sends 10, then breaks the connection.
    Truncate,
    /// `n` bytes streamed without a Content-Length.
    Oversized(usize),
}

impl Behaviour {
    pub fn serve(body: Vec<u8>, etag: Option<&str>) -> Self {
        Behaviour::Serve {
            body,
            etag: etag.map(str::to_owned),
            headers: Vec::new(),
            gzip: false,
        }
    }
}

pub struct ServerState {
    pub behaviour: Mutex<Behaviour>,
    /// Requests to /config (any outcome).
    pub config_hits: AtomicUsize,
    /// 304 answers.
    pub not_modified: AtomicUsize,
    /// Connections to /stream.
    pub stream_hits: AtomicUsize,
    /// The last If-None-Match received.
    pub last_if_none_match: Mutex<Option<String>>,
    /// Events pushed to every /stream subscriber.
    pub events: broadcast::Sender<String>,
    /// Whether /stream answers 500 instead of streaming.
    pub stream_broken: Mutex<bool>,
}

pub struct TestServer {
    runtime: Option<tokio::runtime::Runtime>,
    pub addr: SocketAddr,
    pub state: Arc<ServerState>,
}

impl TestServer {
    pub fn start(behaviour: Behaviour) -> TestServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("server runtime");
        let (events, _) = broadcast::channel(64);
        let state = Arc::new(ServerState {
            behaviour: Mutex::new(behaviour),
            config_hits: AtomicUsize::new(0),
            not_modified: AtomicUsize::new(0),
            stream_hits: AtomicUsize::new(0),
            last_if_none_match: Mutex::new(None),
            events,
            stream_broken: Mutex::new(false),
        });
        let app = Router::new()
            .route("/config", get(config))
            .route("/hop/{n}", get(hop))
            .route("/stream", get(stream))
            .with_state(state.clone());
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        TestServer {
            runtime: Some(runtime),
            addr,
            state,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.state.behaviour.lock() = behaviour;
    }

    pub fn hits(&self) -> usize {
        self.state.config_hits.load(Ordering::SeqCst)
    }

    /// Announces a new version on every open stream.
    pub fn announce(&self, data: &str) -> usize {
        self.state.events.send(data.to_owned()).unwrap_or(0)
    }

    /// Kills the server: every connection closes, the port refuses.
    pub fn stop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn config(State(s): State<Arc<ServerState>>, headers: HeaderMap) -> Response {
    s.config_hits.fetch_add(1, Ordering::SeqCst);
    let inm = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    *s.last_if_none_match.lock() = inm.clone();
    let behaviour = s.behaviour.lock().clone();
    match behaviour {
        Behaviour::Serve {
            body,
            etag,
            headers: extra,
            gzip,
        } => {
            if etag.is_some() && inm == etag {
                s.not_modified.fetch_add(1, Ordering::SeqCst);
                return StatusCode::NOT_MODIFIED.into_response();
            }
            let mut b = Response::builder().status(200);
            if let Some(tag) = etag {
                b = b.header(header::ETAG, tag);
            }
            for (k, v) in extra {
                b = b.header(k, v);
            }
            let body = if gzip {
                b = b.header(header::CONTENT_ENCODING, "gzip");
                gzip_bytes(&body)
            } else {
                body
            };
            b.body(Body::from(body)).expect("response")
        }
        Behaviour::Status { code, retry_after } => {
            let mut b = Response::builder().status(code);
            if let Some(ra) = retry_after {
                b = b.header(header::RETRY_AFTER, ra);
            }
            b.body(Body::from("error")).expect("response")
        }
        Behaviour::Stall => {
            let stream = futures_util::stream::unfold(0u8, |n| async move {
                if n == 0 {
                    Some((Ok::<_, std::io::Error>(b"{\"format_".to_vec()), 1))
                } else {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    None
                }
            });
            Response::builder()
                .status(200)
                .header(header::CONTENT_LENGTH, "1000")
                .body(Body::from_stream(stream))
                .expect("response")
        }
        Behaviour::Truncate => {
            // The pause lets the headers and first bytes leave before the cut.
            let stream = futures_util::stream::unfold(0u8, |n| async move {
                match n {
                    0 => Some((Ok::<_, std::io::Error>(b"{\"format_v".to_vec()), 1)),
                    1 => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Some((Err(std::io::Error::other("connection cut")), 2))
                    }
                    _ => None,
                }
            });
            Response::builder()
                .status(200)
                .header(header::CONTENT_LENGTH, "1000")
                .body(Body::from_stream(stream))
                .expect("response")
        }
        Behaviour::Oversized(n) => {
            let chunks = (0..n.div_ceil(8192))
                .map(|_| Ok::<_, std::io::Error>(vec![b' '; 8192]))
                .collect::<Vec<_>>();
            Response::builder()
                .status(200)
                .body(Body::from_stream(futures_util::stream::iter(chunks)))
                .expect("response")
        }
    }
}

async fn hop(Path(n): Path<u32>) -> Response {
    let to = if n == 0 {
        "/config".to_owned()
    } else {
        format!("/hop/{}", n - 1)
    };
    Response::builder()
        .status(302)
        .header(header::LOCATION, to)
        .body(Body::empty())
        .expect("response")
}

async fn stream(State(s): State<Arc<ServerState>>) -> Response {
    s.stream_hits.fetch_add(1, Ordering::SeqCst);
    if *s.stream_broken.lock() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let rx = s.events.subscribe();
    let events = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(data) => {
                    return Some((
                        Ok::<_, Infallible>(Event::default().event("config").data(data)),
                        rx,
                    ))
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_millis(200)))
        .into_response()
}

fn gzip_bytes(b: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).expect("gzip");
    e.finish().expect("gzip")
}

/// A document with bool flags (`true` = serves `on`).
pub fn doc(version: u64, environment: &str, flags: &[(&str, bool)]) -> Vec<u8> {
    let flags: serde_json::Map<String, serde_json::Value> = flags
        .iter()
        .map(|(k, on)| {
            (
                (*k).to_owned(),
                serde_json::json!({
                    "type": "bool",
                    "variations": {"on": true, "off": false},
                    "off_variation": "off",
                    "fallthrough": {"variation": if *on { "on" } else { "off" }}
                }),
            )
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "format_version": 1,
        "environment": environment,
        "version": version,
        "flags": flags,
    }))
    .expect("json")
}

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub fn pin(id: &str, k: &SigningKey) -> (String, Vec<u8>) {
    (id.to_owned(), k.verifying_key().to_bytes().to_vec())
}

/// An envelope signed by `k` under `id`.
pub fn signed(payload: &[u8], id: &str, k: &SigningKey) -> Vec<u8> {
    envelope::seal(payload, &[(id.to_owned(), k.clone())])
}

/// The usual signed production document.
pub fn good(version: u64, kill: bool) -> Vec<u8> {
    signed(
        &doc(version, "production", &[("kill", kill), ("other", true)]),
        "release",
        &key(1),
    )
}

/// Settings fast enough for tests: polls every 50 ms, backoff from 200 ms
/// to 2 s, 500 ms request timeout, 64 KB bodies.
pub fn fast_config(url: Option<String>) -> DeliveryConfig {
    let mut c = DeliveryConfig::new("production");
    c.url = url;
    c.pinned_keys = vec![pin("release", &key(1))];
    c.schedule = Schedule {
        poll_interval: Duration::from_millis(50),
        poll_jitter: 0.1,
        backoff_base: Duration::from_millis(200),
        backoff_cap: Duration::from_secs(2),
        max_server_delay: Duration::from_secs(60),
    };
    c.http.request_timeout = Duration::from_millis(500);
    c.http.connect_timeout = Duration::from_millis(500);
    c.http.max_body_bytes = 64 * 1024;
    c.listener_stall_timeout = Duration::from_millis(100);
    c
}

pub struct Client {
    pub delivery: ConfigDelivery,
    pub runtime: BackgroundRuntime,
}

pub fn start(config: DeliveryConfig) -> Client {
    let runtime = BackgroundRuntime::new().expect("runtime");
    let delivery = ConfigDelivery::start(config, runtime.handle()).expect("start");
    Client { delivery, runtime }
}

/// Polls `cond` every 10 ms for up to 20 s (generous for a loaded machine).
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out waiting for: {what}");
}

/// The value of bool flag `key` in the document in use.
pub fn flag(c: &Client, key: &str) -> Option<bool> {
    let doc = c.delivery.current()?;
    let ctx = litegate::eval::Context::new("user-1");
    Some(
        litegate::eval::Evaluator::new()
            .bool_details(&doc, key, &ctx, false)
            .value,
    )
}

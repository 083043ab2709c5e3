//! A real OTLP/HTTP JSON collector on 127.0.0.1 for the metrics tests: it
//! gunzips and decodes what it receives, answers from a script of statuses
//! (200 once the script is empty), and sums what it accepted.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Read;
use std::sync::{Arc, Mutex};

/// One request the collector saw.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub batch_id: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub json: Value,
    pub status: u16,
}

#[derive(Default)]
struct State {
    script: VecDeque<(u16, Option<String>)>,
    received: Vec<Received>,
}

pub struct Collector {
    pub url: String,
    state: Arc<Mutex<State>>,
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    match state.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

async fn handle(state: Arc<Mutex<State>>, path: &str, headers: HeaderMap, body: Bytes) -> Response {
    let gz = headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        == Some("gzip");
    let mut raw = Vec::new();
    if gz {
        if flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut raw)
            .is_err()
        {
            return (StatusCode::BAD_REQUEST, "bad gzip").into_response();
        }
    } else {
        raw = body.to_vec();
    }
    let Ok(json) = serde_json::from_slice::<Value>(&raw) else {
        return (StatusCode::BAD_REQUEST, "bad json").into_response();
    };
    let mut st = lock(&state);
    let (status, retry_after) = st.script.pop_front().unwrap_or((200, None));
    st.received.push(Received {
        path: path.to_owned(),
        batch_id: headers
            .get("x-litegate-batch-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: raw,
        json,
        status,
    });
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match retry_after {
        Some(ra) => (code, [("retry-after", ra)], "").into_response(),
        None => (code, "{}").into_response(),
    }
}

impl Collector {
    /// Starts on `rt` on an ephemeral port.
    pub fn start(rt: &tokio::runtime::Runtime) -> Collector {
        let state = Arc::new(Mutex::new(State::default()));
        let s1 = state.clone();
        let s2 = state.clone();
        let app = Router::new()
            .route(
                "/v1/metrics",
                post(move |h: HeaderMap, b: Bytes| handle(s1.clone(), "/v1/metrics", h, b)),
            )
            .route(
                "/v1/logs",
                post(move |h: HeaderMap, b: Bytes| handle(s2.clone(), "/v1/logs", h, b)),
            );
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        rt.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Collector {
            url: format!("http://{addr}"),
            state,
        }
    }

    /// Queues responses: status and optional Retry-After.
    pub fn script(&self, responses: &[(u16, Option<&str>)]) {
        let mut st = lock(&self.state);
        for (code, ra) in responses {
            st.script.push_back((*code, ra.map(str::to_owned)));
        }
    }

    /// Drops what is left of the script: every later request gets 200.
    pub fn clear_script(&self) {
        lock(&self.state).script.clear();
    }

    pub fn received(&self) -> Vec<Received> {
        lock(&self.state).received.clone()
    }

    /// Accepted (2xx) requests, one per batch id; panics if two accepted
    /// copies of one id differ.
    pub fn accepted_unique(&self) -> Vec<Received> {
        let mut seen: BTreeMap<String, Received> = BTreeMap::new();
        let mut order = Vec::new();
        for r in self.received() {
            if !(200..300).contains(&r.status) {
                continue;
            }
            assert!(!r.batch_id.is_empty(), "batch id header missing");
            if let Some(prev) = seen.get(&r.batch_id) {
                assert_eq!(prev.body, r.body, "same batch id, different content");
                continue;
            }
            order.push(r.batch_id.clone());
            seen.insert(r.batch_id.clone(), r);
        }
        order
            .into_iter()
            .filter_map(|id| seen.remove(&id))
            .collect()
    }

    pub fn totals(&self) -> Totals {
        Totals::from_requests(&self.accepted_unique())
    }
}

/// Histogram totals: (count, sum, bucket total incl. zero, min, max).
pub type HistTotals = (u64, f64, u64, f64, f64);

/// Sums over decoded OTLP requests.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Totals {
    /// (metric name, sorted labels "k=v,k=v") -> summed asInt.
    pub counters: BTreeMap<(String, String), u64>,
    /// (metric name, labels) -> (count, sum, bucket total incl. zero, min, max).
    pub histograms: BTreeMap<(String, String), HistTotals>,
    /// (metric name, labels) -> last gauge value.
    pub gauges: BTreeMap<(String, String), f64>,
    /// eventName -> log records.
    pub events: BTreeMap<String, Vec<Value>>,
}

fn num(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.parse().expect("int64 as string"),
        Value::Number(n) => n.as_u64().expect("u64"),
        _ => 0,
    }
}

fn labels(dp: &Value) -> String {
    let mut out: Vec<String> = dp["attributes"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|kv| {
                    format!(
                        "{}={}",
                        kv["key"].as_str().unwrap_or(""),
                        kv["value"]["stringValue"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out.join(",")
}

impl Totals {
    pub fn from_requests(reqs: &[Received]) -> Totals {
        let mut t = Totals::default();
        for r in reqs {
            for rm in r.json["resourceMetrics"].as_array().into_iter().flatten() {
                for sm in rm["scopeMetrics"].as_array().into_iter().flatten() {
                    for m in sm["metrics"].as_array().into_iter().flatten() {
                        let name = m["name"].as_str().unwrap_or("").to_owned();
                        for dp in m["sum"]["dataPoints"].as_array().into_iter().flatten() {
                            assert_eq!(m["sum"]["aggregationTemporality"], 1);
                            *t.counters.entry((name.clone(), labels(dp))).or_default() +=
                                num(&dp["asInt"]);
                        }
                        for dp in m["gauge"]["dataPoints"].as_array().into_iter().flatten() {
                            t.gauges.insert(
                                (name.clone(), labels(dp)),
                                dp["asDouble"].as_f64().unwrap_or(f64::NAN),
                            );
                        }
                        let eh = &m["exponentialHistogram"];
                        for dp in eh["dataPoints"].as_array().into_iter().flatten() {
                            assert_eq!(dp["scale"], 6);
                            let buckets: u64 = dp["positive"]["bucketCounts"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .map(num)
                                .sum::<u64>()
                                + num(&dp["zeroCount"]);
                            let e = t.histograms.entry((name.clone(), labels(dp))).or_insert((
                                0,
                                0.0,
                                0,
                                f64::INFINITY,
                                f64::NEG_INFINITY,
                            ));
                            e.0 += num(&dp["count"]);
                            e.1 += dp["sum"].as_f64().unwrap_or(f64::NAN);
                            e.2 += buckets;
                            e.3 = e.3.min(dp["min"].as_f64().unwrap_or(f64::INFINITY));
                            e.4 = e.4.max(dp["max"].as_f64().unwrap_or(f64::NEG_INFINITY));
                        }
                    }
                }
            }
            for rl in r.json["resourceLogs"].as_array().into_iter().flatten() {
                for sl in rl["scopeLogs"].as_array().into_iter().flatten() {
                    for rec in sl["logRecords"].as_array().into_iter().flatten() {
                        let name = rec["eventName"].as_str().unwrap_or("").to_owned();
                        t.events.entry(name).or_default().push(rec.clone());
                    }
                }
            }
        }
        t
    }

    pub fn counter(&self, name: &str, labels: &str) -> u64 {
        self.counters
            .get(&(name.to_owned(), labels.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    pub fn counter_all_labels(&self, name: &str) -> u64 {
        self.counters
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|(_, v)| v)
            .sum()
    }

    pub fn events_named(&self, name: &str) -> usize {
        self.events.get(name).map_or(0, Vec::len)
    }
}

/// A multi-threaded runtime for a test (the client's background runtime).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A test config: no periodic cut/upload interfering unless asked, fast retries.
pub fn config(
    url: Option<&str>,
    dir: Option<&std::path::Path>,
) -> litegate::metrics::MetricsConfig {
    let mut c = litegate::metrics::MetricsConfig::new("test-app");
    c.endpoint = url.map(str::to_owned);
    c.storage_dir = dir.map(std::path::Path::to_path_buf);
    c.persist_interval = std::time::Duration::from_secs(3600);
    c.upload_interval = std::time::Duration::from_secs(3600);
    c.retry.base_backoff = std::time::Duration::from_millis(5);
    c.retry.max_backoff = std::time::Duration::from_millis(50);
    c.retry.retry_after_cap = std::time::Duration::from_millis(100);
    c.retry.request_timeout = std::time::Duration::from_secs(20);
    c.min_request_gap = std::time::Duration::ZERO;
    c
}

//! The optional server-sent-events stream: each event announces a new
//! document and triggers an immediate fetch through the normal path (so the
//! stream carries no trust: signatures and versions are checked as usual).
//! When the stream breaks it reconnects with backoff; polling never stops,
//! so updates keep arriving meanwhile.
//!
//! Event format: `event: config` (or no event name) with `data:` holding the
//! new version number, `{"version": N}`, or anything else. An event whose
//! version is not newer than the document in use is ignored.

use super::fetch;
use super::worker::stopped;
use super::{notice_event, DeliveryEvent, Inner};
use rand::SeedableRng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Longest SSE line accepted; a longer one is a broken or hostile stream.
const MAX_LINE_BYTES: usize = 64 * 1024;

/// A stream connection that lasted this long before breaking counts as
/// healthy: only then does the reconnect backoff start over. Whatever a
/// server sends on a connection that breaks sooner, reconnects keep backing
/// off (with jitter).
pub(crate) const STABLE_STREAM: Duration = Duration::from_secs(60);

/// One dispatched SSE event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseEvent {
    pub(crate) name: String,
    pub(crate) data: String,
}

/// Incremental `text/event-stream` parser (pure).
#[derive(Debug)]
pub(crate) struct SseParser {
    /// Most bytes one event may carry (name plus data); more is a broken or
    /// hostile stream.
    max_event_bytes: usize,
    line: Vec<u8>,
    name: String,
    data: String,
    has_data: bool,
    /// The server's `retry:` in milliseconds, if sent.
    pub(crate) retry_ms: Option<u64>,
}

impl SseParser {
    /// A parser that refuses events larger than `max_event_bytes` (the
    /// stream uses the fetch body limit: an event carries at most a version
    /// or a document, and a document larger than that would be refused
    /// anyway).
    pub(crate) fn new(max_event_bytes: usize) -> Self {
        SseParser {
            max_event_bytes,
            line: Vec::new(),
            name: String::new(),
            data: String::new(),
            has_data: false,
            retry_ms: None,
        }
    }

    /// Feeds bytes; returns the events completed by them.
    ///
    /// # Errors
    /// A line longer than 64 KiB or an event larger than the parser's limit.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, String> {
        let mut out = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.line_done(&String::from_utf8_lossy(&line), &mut out);
                if self.data.len() + self.name.len() > self.max_event_bytes {
                    return Err(format!(
                        "event-stream event larger than {} bytes",
                        self.max_event_bytes
                    ));
                }
            } else {
                if self.line.len() >= MAX_LINE_BYTES {
                    return Err(format!(
                        "event-stream line longer than {MAX_LINE_BYTES} bytes"
                    ));
                }
                self.line.push(b);
            }
        }
        Ok(out)
    }

    fn line_done(&mut self, line: &str, out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            if self.has_data {
                out.push(SseEvent {
                    name: std::mem::take(&mut self.name),
                    data: std::mem::take(&mut self.data),
                });
            }
            self.name.clear();
            self.data.clear();
            self.has_data = false;
            return;
        }
        if line.starts_with(':') {
            return; // comment / keep-alive
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => value.clone_into(&mut self.name),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "retry" => self.retry_ms = value.trim().parse().ok(),
            _ => {}
        }
    }
}

/// The version an event announces, if it says.
pub(crate) fn announced_version(data: &str) -> Option<u64> {
    let d = data.trim();
    d.parse().ok().or_else(|| {
        serde_json::from_str::<serde_json::Value>(d)
            .ok()?
            .get("version")?
            .as_u64()
    })
}

pub(crate) async fn stream_loop(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    let Some((url, insecure)) = inner
        .remote
        .as_ref()
        .and_then(|r| Some((r.stream_url.clone()?, r.insecure_http)))
    else {
        return;
    };
    let client = match fetch::build_client(&inner.http, insecure, fetch::is_loopback(&url), false) {
        Ok(c) => c,
        Err(e) => {
            let msg = fetch::error_chain(&e);
            inner.store.update_status(|s| s.stream_error = Some(msg));
            return;
        }
    };
    let mut rng = rand::rngs::StdRng::from_entropy();
    let mut failures = 0u32;
    loop {
        tokio::select! {
            () = super::worker::online(&inner) => {}
            () = stopped(&mut stop) => return,
        }
        let mut parser = SseParser::new(inner.http.max_body_bytes);
        let connected_at = tokio::time::Instant::now();
        let outcome = tokio::select! {
            r = read_stream(&inner, &client, &url, &mut parser) => r,
            () = super::worker::offline(&inner) => {
                inner.store.update_status(|s| s.stream_connected = false);
                continue;
            }
            () = stopped(&mut stop) => return,
        };
        if connected_at.elapsed() >= STABLE_STREAM {
            failures = 0;
        }
        let reason = match outcome {
            Ok(()) => "the server closed the stream".to_owned(),
            Err(e) => e,
        };
        tracing::info!("LiteGate config stream broke: {reason}; polling continues");
        inner.store.update_status(|s| {
            s.stream_connected = false;
            s.stream_error = Some(reason.clone());
        });
        inner
            .dispatcher
            .notify(notice_event(DeliveryEvent::StreamBroken(reason)));
        failures = failures.saturating_add(1);
        let floor = parser.retry_ms.map(Duration::from_millis);
        let delay = inner.schedule.after_failure(failures, floor, &mut rng);
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stopped(&mut stop) => return,
        }
    }
}

async fn read_stream(
    inner: &Arc<Inner>,
    client: &reqwest::Client,
    url: &reqwest::Url,
    parser: &mut SseParser,
) -> Result<(), String> {
    let mut resp = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "text/event-stream")
        .send()
        .await
        .map_err(|e| fetch::error_chain(&e))?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status().as_u16()));
    }
    inner.store.update_status(|s| {
        s.stream_connected = true;
        s.stream_error = None;
    });
    // Catch up on anything published while disconnected. Stream wake-ups
    // are rate-limited by the poll loop (`worker::poll_loop`).
    inner.stream_wake.notify_one();
    while let Some(chunk) = resp.chunk().await.map_err(|e| fetch::error_chain(&e))? {
        for event in parser.feed(&chunk)? {
            if !(event.name.is_empty() || event.name == "config" || event.name == "message") {
                continue;
            }
            let current = inner.store.version();
            let stale = matches!(
                (announced_version(&event.data), current),
                (Some(v), Some(c)) if v <= c
            );
            if !stale {
                inner.stream_wake.notify_one();
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_events_split_across_chunks() {
        let mut p = SseParser::new(1024);
        assert!(p
            .feed(b": keep-alive\n\nevent: con")
            .expect("ok")
            .is_empty());
        let ev = p
            .feed(b"fig\r\ndata: 7\n\ndata: {\"version\": 8}\nretry: 500\n\n")
            .expect("ok");
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].name, "config");
        assert_eq!(announced_version(&ev[0].data), Some(7));
        assert_eq!(announced_version(&ev[1].data), Some(8));
        assert_eq!(p.retry_ms, Some(500));
        assert_eq!(announced_version("published"), None);
        assert!(p.feed(&vec![b'x'; MAX_LINE_BYTES + 1]).is_err());
    }

    #[test]
    fn an_event_sits_exactly_on_its_limit_and_one_byte_more_is_refused() {
        // 100 data lines of 9 bytes joined by newlines: 999 bytes.
        let lines = "data: 123456789\n".repeat(100);
        let mut p = SseParser::new(999);
        let ev = p
            .feed(format!("{lines}\n").as_bytes())
            .expect("on the limit");
        assert_eq!(ev[0].data.len(), 999);
        let mut p = SseParser::new(998);
        assert!(p.feed(lines.as_bytes()).is_err());
        // Keep-alive comments never count.
        let mut p = SseParser::new(10);
        assert!(p.feed(": ping\n".repeat(1_000).as_bytes()).is_ok());
    }
}

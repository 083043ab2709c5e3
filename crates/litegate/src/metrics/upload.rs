//! The upload policy (pure: what a status means, how long to wait) and the
//! HTTP sender (reqwest, gzip'd OTLP/JSON).

use super::batch::Batch;
use super::otlp;
use std::io::Write;
use std::time::Duration;

/// Retry and pacing settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// First backoff ceiling; doubles per attempt (full jitter below it).
    pub base_backoff: Duration,
    /// Largest backoff ceiling.
    pub max_backoff: Duration,
    /// Largest wait honoured from a `Retry-After` header.
    pub retry_after_cap: Duration,
    /// Attempts per batch within one upload round before leaving it queued
    /// for the next round.
    pub attempts_per_round: u32,
    /// Total attempts after which a batch that keeps getting a non-listed
    /// 5xx (e.g. 500) is dropped as rejected.
    pub max_attempts_other_5xx: u32,
    /// Per-request timeout.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            retry_after_cap: Duration::from_secs(120),
            attempts_per_round: 4,
            max_attempts_other_5xx: 8,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// What to do after one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// 2xx: delete the batch.
    Delivered,
    /// Try again after at least this long (from `Retry-After`, capped) or
    /// after a jittered backoff when `None`.
    Retry(Option<Duration>),
    /// Give up on the batch and count it as rejected.
    Reject,
}

/// The outcome of one HTTP attempt, as the policy sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// The server answered.
    Status {
        /// HTTP status.
        code: u16,
        /// The `Retry-After` header, if any.
        retry_after: Option<String>,
    },
    /// No answer (connection refused, reset, timeout).
    ConnectionError,
}

impl RetryPolicy {
    /// Classifies an attempt. `attempts` counts this one (1-based).
    pub fn verdict(&self, attempt: &Attempt, attempts: u32) -> Verdict {
        match attempt {
            Attempt::ConnectionError => Verdict::Retry(None),
            Attempt::Status { code, .. } if (200..300).contains(code) => Verdict::Delivered,
            Attempt::Status {
                code: 429 | 502 | 503 | 504,
                retry_after,
            } => Verdict::Retry(
                retry_after
                    .as_deref()
                    .and_then(parse_retry_after)
                    .map(|d| d.min(self.retry_after_cap)),
            ),
            Attempt::Status { code, .. }
                if (500..600).contains(code) && attempts < self.max_attempts_other_5xx =>
            {
                Verdict::Retry(None)
            }
            Attempt::Status { .. } => Verdict::Reject,
        }
    }

    /// Full-jitter backoff before attempt `attempts + 1`: uniform in
    /// `[0, min(max, base·2^(attempts-1))]`. `unit` is a uniform draw in [0,1).
    pub fn backoff(&self, attempts: u32, unit: f64) -> Duration {
        let exp = attempts.saturating_sub(1).min(30);
        let ceiling = self
            .base_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff);
        ceiling.mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// Parses `Retry-After`: delay-seconds or an HTTP date (IMF-fixdate).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date =
        time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc2822).ok()?;
    let wait = date - time::OffsetDateTime::now_utc();
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// Gzips `bytes` (deterministic: same input, same output).
pub(crate) fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes)?;
    enc.finish()
}

/// Posts batches to an OTLP/HTTP endpoint.
#[derive(Debug, Clone)]
pub(crate) struct HttpSender {
    client: reqwest::Client,
    base: String,
    headers: Vec<(String, String)>,
}

/// The header carrying the batch id.
pub const BATCH_ID_HEADER: &str = "x-litegate-batch-id";

impl HttpSender {
    pub(crate) fn new(
        base: &str,
        headers: Vec<(String, String)>,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()?;
        Ok(HttpSender {
            client,
            base: base.trim_end_matches('/').to_owned(),
            headers,
        })
    }

    /// Encodes the request body for a batch (gzip'd OTLP/JSON).
    pub(crate) fn encode(batch: &Batch) -> std::io::Result<Vec<u8>> {
        let json = serde_json::to_vec(&otlp::request_body(batch))?;
        gzip(&json)
    }

    /// One attempt.
    pub(crate) async fn send(&self, batch: &Batch, body: Vec<u8>) -> Attempt {
        let mut req = self
            .client
            .post(format!("{}{}", self.base, batch.path()))
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .header(BATCH_ID_HEADER, &batch.id)
            .body(body);
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        match req.send().await {
            Ok(resp) => {
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                Attempt::Status {
                    code: resp.status().as_u16(),
                    retry_after,
                }
            }
            Err(_) => Attempt::ConnectionError,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, ra: Option<&str>) -> Attempt {
        Attempt::Status {
            code,
            retry_after: ra.map(str::to_owned),
        }
    }

    #[test]
    fn verdicts() {
        let p = RetryPolicy::default();
        assert_eq!(p.verdict(&status(200, None), 1), Verdict::Delivered);
        assert_eq!(p.verdict(&status(204, None), 1), Verdict::Delivered);
        assert_eq!(p.verdict(&status(413, None), 1), Verdict::Reject);
        assert_eq!(p.verdict(&status(400, None), 1), Verdict::Reject);
        assert_eq!(
            p.verdict(&status(503, Some("7")), 1),
            Verdict::Retry(Some(Duration::from_secs(7)))
        );
        assert_eq!(
            p.verdict(&status(429, Some("100000")), 1),
            Verdict::Retry(Some(p.retry_after_cap))
        );
        assert_eq!(p.verdict(&status(502, None), 1), Verdict::Retry(None));
        assert_eq!(p.verdict(&status(500, None), 1), Verdict::Retry(None));
        assert_eq!(p.verdict(&status(500, None), 8), Verdict::Reject);
        assert_eq!(
            p.verdict(&Attempt::ConnectionError, 50),
            Verdict::Retry(None)
        );
    }

    #[test]
    fn backoff_is_capped_full_jitter() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(1, 0.0), Duration::ZERO);
        assert_eq!(p.backoff(1, 1.0), Duration::from_millis(500));
        assert_eq!(p.backoff(3, 1.0), Duration::from_secs(2));
        assert_eq!(p.backoff(40, 1.0), Duration::from_secs(60));
        assert!(p.backoff(3, 0.5) <= Duration::from_secs(1));
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}

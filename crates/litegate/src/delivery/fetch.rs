//! HTTP: the conditional GET of the config URL, with its limits, turned into
//! a typed outcome. Decides nothing about the body (see `accept`).

use super::envelope::SIGNATURE_HEADER;
use super::schedule::{parse_max_age, parse_retry_after};
use reqwest::header::{CACHE_CONTROL, ETAG, IF_NONE_MATCH, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use std::net::IpAddr;
use std::time::Duration;

/// Limits on one HTTP exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// Largest body accepted, after gzip decoding (default 5 MB).
    pub max_body_bytes: usize,
    /// Time to establish a connection (default 10 s).
    pub connect_timeout: Duration,
    /// Time for the whole exchange, body included (default 30 s): a stalled
    /// body fails here.
    pub request_timeout: Duration,
    /// Redirects followed (default 5).
    pub max_redirects: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_body_bytes: 5 * 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_redirects: 5,
        }
    }
}

/// Why a fetch produced no body to consider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// No connection (refused, DNS, TLS handshake).
    #[error("cannot connect: {message}")]
    Connect {
        /// The client's message.
        message: String,
    },
    /// The connect or total timeout expired (a stalled server).
    #[error("timed out: {message}")]
    Timeout {
        /// The client's message.
        message: String,
    },
    /// The server answered with an error status.
    #[error("HTTP {status} ({}){}", crate::display::http_reason(*status), .retry_after.map(|d| format!(", Retry-After {}s", d.as_secs())).unwrap_or_default())]
    Status {
        /// The status code.
        status: u16,
        /// The server's `Retry-After`, when given.
        retry_after: Option<Duration>,
    },
    /// The body is larger than [`HttpLimits::max_body_bytes`].
    #[error("body exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body broke off (truncated, reset, bad gzip).
    #[error("body could not be read: {message}")]
    Body {
        /// The client's message.
        message: String,
    },
    /// Too many redirects, or a redirect to a URL that is not allowed.
    #[error("redirect refused: {message}")]
    Redirect {
        /// Why.
        message: String,
    },
    /// `304 Not Modified` when no document from this server is in use (no
    /// ETag was sent, or nothing is installed): there is nothing it can
    /// refer to, so it is a failed fetch, not a success.
    #[error("HTTP 304 with no document in use to be current")]
    UnexpectedNotModified,
    /// Any other client failure.
    #[error("request failed: {message}")]
    Request {
        /// The client's message.
        message: String,
    },
}

impl FetchError {
    /// The server's requested delay, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// What a successful exchange returned.
#[derive(Debug)]
pub(crate) enum Fetched {
    /// 304: the current document is still current.
    NotModified { max_age: Option<Duration> },
    /// 200 with a body to verify and parse.
    Body {
        body: Vec<u8>,
        etag: Option<String>,
        signature: Option<String>,
        max_age: Option<Duration>,
    },
}

/// Whether a URL's host is a loopback address (where plain HTTP is allowed).
pub(crate) fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether the transport to `url` is acceptable.
pub(crate) fn transport_allowed(url: &Url, insecure_http: bool) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => insecure_http || is_loopback(url),
        _ => false,
    }
}

/// Builds the HTTP client for one URL's host kind.
pub(crate) fn build_client(
    limits: &HttpLimits,
    insecure_http: bool,
    loopback: bool,
    total_timeout: bool,
) -> Result<reqwest::Client, reqwest::Error> {
    let max = limits.max_redirects;
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > max {
            attempt.error(format!("more than {max} redirects"))
        } else if !transport_allowed(attempt.url(), insecure_http) {
            let msg = format!("redirect to {} needs HTTPS", attempt.url());
            attempt.error(msg)
        } else {
            attempt.follow()
        }
    });
    let mut b = reqwest::Client::builder()
        .redirect(policy)
        .connect_timeout(limits.connect_timeout)
        .user_agent(concat!("litegate/", env!("CARGO_PKG_VERSION")));
    if total_timeout {
        b = b.timeout(limits.request_timeout);
    } else {
        // Streams stay open; a silent one is dropped after this long (the
        // server is expected to send keep-alive comments more often).
        b = b.read_timeout(limits.request_timeout);
    }
    if loopback {
        // A proxy from the environment must not capture loopback traffic.
        b = b.no_proxy();
    }
    b.build()
}

fn classify(e: &reqwest::Error) -> FetchError {
    let message = error_chain(e);
    if e.is_timeout() {
        FetchError::Timeout { message }
    } else if e.is_redirect() {
        FetchError::Redirect { message }
    } else if e.is_connect() {
        FetchError::Connect { message }
    } else if e.is_body() || e.is_decode() {
        FetchError::Body { message }
    } else {
        FetchError::Request { message }
    }
}

/// The error and its sources on one line (reqwest's own message is terse).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

fn header(resp: &reqwest::Response, name: impl reqwest::header::AsHeaderName) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// One conditional GET.
pub(crate) async fn fetch(
    client: &reqwest::Client,
    url: &Url,
    etag: Option<&str>,
    max_body: usize,
) -> Result<Fetched, FetchError> {
    let mut req = client.get(url.clone());
    if let Some(tag) = etag {
        req = req.header(IF_NONE_MATCH, tag);
    }
    let mut resp = req.send().await.map_err(|e| classify(&e))?;
    let max_age = header(&resp, CACHE_CONTROL).and_then(|v| parse_max_age(&v));
    let status = resp.status();
    if status == StatusCode::NOT_MODIFIED {
        return Ok(Fetched::NotModified { max_age });
    }
    if !status.is_success() {
        let now = crate::eval::now_ms() / 1000;
        let retry_after = header(&resp, RETRY_AFTER).and_then(|v| parse_retry_after(&v, now));
        return Err(FetchError::Status {
            status: status.as_u16(),
            retry_after,
        });
    }
    // With gzip the header is the compressed size, so it is only a hint; the
    // decoded bytes are counted below either way.
    if resp
        .content_length()
        .is_some_and(|n| usize::try_from(n).map_or(true, |n| n > max_body))
    {
        return Err(FetchError::TooLarge { limit: max_body });
    }
    let etag = header(&resp, ETAG);
    let signature = header(&resp, SIGNATURE_HEADER);
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| classify(&e))? {
        if body.len() + chunk.len() > max_body {
            return Err(FetchError::TooLarge { limit: max_body });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched::Body {
        body,
        etag,
        signature,
        max_age,
    })
}

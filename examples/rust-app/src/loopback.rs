//! A tiny HTTP/1.1 server on 127.0.0.1 for the demo: it plays the config
//! host (GET, with ETags) and the OTLP collector (POST, gzip bodies kept).
//! Deliberately minimal: one request per connection, no keep-alive.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// What the server serves and what it received.
#[derive(Default)]
pub struct State {
    /// The document served on GET and its ETag.
    pub document: Option<(Vec<u8>, String)>,
    /// GET requests seen.
    pub gets: usize,
    /// POST requests: path and decoded (gunzipped) body.
    pub posts: Vec<(String, Vec<u8>)>,
}

/// A running loopback server.
pub struct Loopback {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Shared state.
    pub state: Arc<Mutex<State>>,
}

impl Loopback {
    /// Starts the server on an ephemeral port.
    pub fn start() -> std::io::Result<Loopback> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let base = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = handle(stream, &shared);
            }
        });
        Ok(Loopback { base, state })
    }

    /// Publishes a new document with its ETag.
    pub fn publish(&self, body: Vec<u8>, etag: &str) {
        if let Ok(mut s) = self.state.lock() {
            s.document = Some((body, etag.to_owned()));
        }
    }
}

fn handle(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("/").to_owned();
    let (mut length, mut if_none_match, mut gzip) = (0usize, None, false);
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        let (name, value) = h.split_once(':').unwrap_or((&h, ""));
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse().unwrap_or(0),
            "if-none-match" => if_none_match = Some(value.to_owned()),
            "content-encoding" => gzip = value.eq_ignore_ascii_case("gzip"),
            _ => {}
        }
    }
    let mut body = vec![0; length.min(16 << 20)];
    reader.read_exact(&mut body)?;
    let mut out = stream;
    let mut state = state
        .lock()
        .map_err(|_| std::io::Error::other("poisoned"))?;
    if method == "GET" {
        state.gets += 1;
        match &state.document {
            Some((_, etag)) if if_none_match.as_deref() == Some(etag) => {
                write!(
                    out,
                    "HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n"
                )?;
            }
            Some((doc, etag)) => {
                write!(
                    out,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nETag: {etag}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    doc.len()
                )?;
                out.write_all(doc)?;
            }
            None => write!(
                out,
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )?,
        }
    } else {
        if gzip {
            let mut plain = Vec::new();
            flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut plain)?;
            body = plain;
        }
        state.posts.push((path, body));
        write!(out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}")?;
    }
    out.flush()
}

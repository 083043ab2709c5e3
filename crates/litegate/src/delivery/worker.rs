//! The background tasks: start-up from local documents, the poll loop, and
//! the listener watchdog. All async work runs on the runtime handed to
//! `ConfigDelivery::start`; file writes are done inline on that thread (they
//! are small, and the runtime has exactly one thread by design).

use super::accept::{judge, judge_local, Rejection, Verdict};
use super::envelope::{self, Signed};
use super::fetch::{self, FetchError, Fetched};
use super::persist::{self, CachedMeta};
use super::store::{
    Applied, CacheProblem, ConfigSource, ConfigStore, DeliveryProblem, RejectionRecord,
};
use super::{
    changed_flags, notice_change, notice_event, stream, ConfigChange, DeliveryConfig,
    DeliveryError, DeliveryEvent, Inner, PinnedKeys,
};
use crate::config::Document;
use rand::SeedableRng;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::runtime::Handle;
use tokio::sync::watch;

/// Installs the persisted document or the bootstrap, whichever is valid and
/// newer (the persisted one on a tie).
pub(crate) fn install_local(
    config: &DeliveryConfig,
    keys: &PinnedKeys,
    store: &ConfigStore,
) -> Result<(), DeliveryError> {
    let mut persisted = None;
    if let Some(dir) = &config.storage_dir {
        let max_body = config
            .http
            .max_body_bytes
            .max(config.limits.max_document_bytes);
        match persist::load_limited(dir, max_body) {
            Ok(Some(cached)) => match judge_local(
                cached.body,
                cached.meta.signature_header.as_deref(),
                keys,
                &config.environment,
                &config.limits,
            ) {
                Ok((doc, _)) if persist::load_highest(dir).is_some_and(|h| doc.version < h) => {
                    let current = persist::load_highest(dir).unwrap_or_default();
                    report_cache_problem(
                        store,
                        CacheProblem::Refused(Rejection::StaleVersion {
                            offered: doc.version,
                            current,
                        }),
                    );
                }
                Ok((doc, applied)) => persisted = Some((doc, applied, cached.meta)),
                Err(r) => report_cache_problem(store, CacheProblem::Refused(r)),
            },
            Ok(None) => {}
            Err(e) => report_cache_problem(store, CacheProblem::File(e)),
        }
    }
    let bootstrap = match &config.bootstrap {
        // The bootstrap ships inside the app: trusted without a signature.
        Some(bytes) => match judge(
            bytes,
            None,
            &PinnedKeys::default(),
            &config.environment,
            &config.limits,
            None,
        ) {
            Ok(Verdict::New(doc, applied, _)) => Some((doc, applied)),
            Ok(Verdict::Same) => None,
            Err(r) => return Err(DeliveryError::Bootstrap(r)),
        },
        None => None,
    };
    let use_persisted = match (&persisted, &bootstrap) {
        (Some((p, _, _)), Some((b, _))) => p.version >= b.version,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if use_persisted {
        if let Some((p, pa, meta)) = persisted {
            store.install(Arc::from(p), pa, ConfigSource::Persisted, meta.etag);
        }
    } else if let Some((b, ba)) = bootstrap {
        store.install(Arc::from(b), ba, ConfigSource::Bootstrap, None);
    }
    Ok(())
}

fn report_cache_problem(store: &ConfigStore, problem: CacheProblem) {
    tracing::warn!("LiteGate config cache ignored: {problem}");
    store.update_status(|s| s.cache_problem = Some(problem));
}

pub(crate) fn spawn_all(inner: &Arc<Inner>, runtime: &Handle, stop: watch::Receiver<bool>) {
    runtime.spawn(watchdog(inner.clone(), stop.clone()));
    if inner.remote.is_some() {
        runtime.spawn(poll_loop(inner.clone(), stop.clone()));
        if inner
            .remote
            .as_ref()
            .is_some_and(|r| r.stream_url.is_some())
        {
            runtime.spawn(stream::stream_loop(inner.clone(), stop));
        }
    }
}

/// Resolves when delivery is told to stop (or its owner is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Resolves when offline mode is off (at once if it is).
pub(crate) async fn online(inner: &Inner) {
    let mut rx = inner.offline.subscribe();
    let _ = rx.wait_for(|offline| !*offline).await;
}

/// Resolves when offline mode turns on (at once if it is on).
pub(crate) async fn offline(inner: &Inner) {
    let mut rx = inner.offline.subscribe();
    let _ = rx.wait_for(|offline| *offline).await;
}

/// Watches listener calls for stalls and frees retired documents. Ticks only
/// while there is something to watch, so an idle client never wakes up
/// (battery).
async fn watchdog(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    let tick = (inner.dispatcher.stall_timeout() / 4).max(Duration::from_millis(10));
    loop {
        let idle = inner.dispatcher.is_idle() && !inner.store.has_retired();
        tokio::select! {
            () = tokio::time::sleep(tick), if !idle => {}
            () = inner.dispatcher.activity.notified(), if idle => {}
            () = stopped(&mut stop) => return,
        }
        inner.dispatcher.check_stalled();
        inner.store.free_retired();
    }
}

async fn poll_loop(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    let Some(remote) = inner.remote.as_ref() else {
        return;
    };
    let loopback = fetch::is_loopback(&remote.url);
    let client = match fetch::build_client(&inner.http, remote.insecure_http, loopback, true) {
        Ok(c) => c,
        Err(e) => {
            let err = FetchError::Request {
                message: fetch::error_chain(&e),
            };
            inner
                .store
                .update_status(|s| s.last_error = Some(err.into()));
            return;
        }
    };
    let mut rng = rand::rngs::StdRng::from_entropy();
    let mut failures = 0u32;
    loop {
        tokio::select! {
            () = online(&inner) => {}
            () = stopped(&mut stop) => return,
        }
        // Shutdown wins over a fetch or a compile in progress.
        let outcome = tokio::select! {
            r = attempt(&inner, &client, &remote.url) => r,
            () = stopped(&mut stop) => return,
        };
        let delay = match outcome {
            Ok(max_age) => {
                failures = 0;
                inner.schedule.after_success(max_age, &mut rng)
            }
            Err(problem) => {
                failures = failures.saturating_add(1);
                let retry_after = match &problem {
                    DeliveryProblem::Fetch(f) => f.retry_after(),
                    _ => None,
                };
                inner
                    .schedule
                    .after_failure(failures, retry_after, &mut rng)
            }
        };
        inner.store.update_status(|s| {
            s.consecutive_failures = failures;
            s.next_attempt = Some(Instant::now() + delay);
        });
        inner.progress_cv.notify_all();
        // The stream may bring the next fetch forward, but no sooner than
        // `backoff_base` after this one and never into a failure backoff:
        // a stream cannot make fetches faster than failures would.
        let now = tokio::time::Instant::now();
        let next_poll = now + delay;
        let earliest_for_stream = if failures == 0 {
            now + inner.schedule.backoff_base.min(delay)
        } else {
            next_poll
        };
        tokio::select! {
            () = tokio::time::sleep_until(next_poll) => {}
            () = inner.refresh.notified() => {}
            () = async {
                inner.stream_wake.notified().await;
                tokio::time::sleep_until(earliest_for_stream).await;
            } => {}
            () = stopped(&mut stop) => return,
        }
    }
}

/// One fetch and its consequences. `Ok(max_age)` on success.
async fn attempt(
    inner: &Arc<Inner>,
    client: &reqwest::Client,
    url: &reqwest::Url,
) -> Result<Option<Duration>, DeliveryProblem> {
    let etag = {
        let mut etag = None;
        inner.store.update_status(|s| {
            s.attempts += 1;
            s.last_attempt = Some(SystemTime::now());
            etag = s.etag.clone();
        });
        etag
    };
    let result = match fetch::fetch(client, url, etag.as_deref(), inner.http.max_body_bytes).await {
        Err(e) => Err(DeliveryProblem::Fetch(e)),
        // A 304 only means something about a document we have and named.
        Ok(Fetched::NotModified { .. }) if etag.is_none() || inner.store.applied().is_none() => {
            Err(DeliveryProblem::Fetch(FetchError::UnexpectedNotModified))
        }
        Ok(Fetched::NotModified { max_age }) => Ok(max_age),
        Ok(Fetched::Body {
            body,
            etag,
            signature,
            max_age,
        }) => {
            // Parsing and compiling take milliseconds to (within the limits)
            // a second: off the runtime's one thread, so metric persistence
            // and uploads keep their schedule meanwhile.
            let for_judge = inner.clone();
            let judged = tokio::task::spawn_blocking(move || {
                consider(&for_judge, &body, etag, signature, true)
            })
            .await;
            match judged {
                Ok(verdict) => verdict.map(|_| max_age).map_err(DeliveryProblem::Rejected),
                // The blocking pool is gone: the runtime is shutting down.
                Err(e) => Err(DeliveryProblem::Fetch(FetchError::Request {
                    message: format!("judging the document was cancelled: {e}"),
                })),
            }
        }
    };
    match &result {
        Ok(_) => {
            inner.store.update_status(|s| {
                s.ready = true;
                s.last_success = Some(SystemTime::now());
                s.last_error = None;
                s.consecutive_failures = 0;
            });
            inner.progress.lock().successes += 1;
            inner
                .dispatcher
                .notify(notice_event(DeliveryEvent::Fetched));
        }
        Err(problem) => {
            let p = problem.clone();
            inner.store.update_status(|s| s.last_error = Some(p));
            match problem {
                DeliveryProblem::Fetch(f) => {
                    tracing::warn!("LiteGate config fetch failed: {f}");
                    inner
                        .dispatcher
                        .notify(notice_event(DeliveryEvent::FetchFailed(f.clone())));
                }
                DeliveryProblem::Rejected(r) => report_rejection(inner, r),
            }
        }
    }
    result
}

/// Judges a body and installs it when accepted; `Ok(Some(version))` when a
/// new document is now in use. Serialised so two bodies (a fetch and a
/// submitted one) cannot both pass the version check against the same
/// current document.
pub(crate) fn consider(
    inner: &Arc<Inner>,
    body: &[u8],
    etag: Option<String>,
    signature: Option<String>,
    from_fetch: bool,
) -> Result<Option<u64>, Rejection> {
    let _serial = inner.apply_lock.lock();
    let verdict = judge(
        body,
        signature.as_deref(),
        &inner.keys,
        &inner.environment,
        &inner.limits,
        inner.store.applied(),
    )?;
    match verdict {
        Verdict::Same => {
            if from_fetch {
                // The server lacks (or changed) ETags: remember the new one.
                inner.store.update_status(|s| s.etag = etag);
            }
            Ok(None)
        }
        Verdict::New(doc, applied, signed) => {
            let stopped = inner.install_gate.lock();
            if *stopped {
                // Shut down while this was being judged: install nothing.
                return Ok(None);
            }
            let version = applied.version;
            let (body, signature) = persisted_form(body, signature, &signed);
            apply(inner, Arc::from(doc), applied, body, etag, signature);
            drop(stopped);
            Ok(Some(version))
        }
    }
}

/// What to persist for an accepted body: the verified payload with its
/// signatures as a detached header, so that start-up reads the document
/// directly (no envelope to parse, no base64 to decode, and the signature
/// covers 25% fewer bytes). The body as received when the signatures cannot
/// be written as a header and read back identically (odd key ids).
fn persisted_form<'a>(
    body: &'a [u8],
    signature: Option<String>,
    signed: &'a Signed,
) -> (&'a [u8], Option<String>) {
    if !signed.was_envelope {
        return (body, signature);
    }
    match envelope::combined_header_value(&signed.signatures) {
        None => (&signed.payload, None),
        Some(header)
            if persist::header_value_fits(&header)
                && envelope::parse_header(&header).as_deref() == Ok(&signed.signatures[..]) =>
        {
            (&signed.payload, Some(header))
        }
        Some(_) => (body, signature),
    }
}

/// Records a rejection in the status and tells event listeners.
pub(crate) fn report_rejection(inner: &Arc<Inner>, r: &Rejection) {
    tracing::warn!("LiteGate config rejected: {r}");
    inner.store.update_status(|s| {
        s.last_rejection = Some(RejectionRecord {
            at: SystemTime::now(),
            rejection: r.clone(),
        });
    });
    inner
        .dispatcher
        .notify(notice_event(DeliveryEvent::Rejected(r.clone())));
}

fn apply(
    inner: &Arc<Inner>,
    doc: Arc<Document>,
    applied: Applied,
    body: &[u8],
    etag: Option<String>,
    signature: Option<String>,
) {
    let old = inner
        .store
        .install(doc.clone(), applied, ConfigSource::Remote, etag.clone());
    let changed = changed_flags(old.as_deref(), &doc);
    tracing::info!(
        version = doc.version,
        changed = changed.len(),
        "LiteGate config applied"
    );
    if let Some(dir) = &inner.storage_dir {
        let meta = CachedMeta {
            etag,
            signature_header: signature,
            saved_at_ms: crate::eval::now_ms(),
        };
        let saved =
            persist::save(dir, body, &meta).and_then(|()| persist::save_highest(dir, doc.version));
        if let Err(e) = saved {
            tracing::warn!("LiteGate config not persisted: {e}");
            let problem = CacheProblem::File(e);
            inner
                .store
                .update_status(|s| s.cache_problem = Some(problem.clone()));
            inner
                .dispatcher
                .notify(notice_event(DeliveryEvent::CacheProblem(problem)));
        }
    }
    let count = changed.len();
    if count > 0 {
        inner.dispatcher.notify(notice_change(ConfigChange {
            old_version: old.as_ref().map(|d| d.version),
            new_version: doc.version,
            source: ConfigSource::Remote,
            changed_flags: changed,
        }));
    }
    inner
        .dispatcher
        .notify(notice_event(DeliveryEvent::Applied {
            version: doc.version,
            source: ConfigSource::Remote,
            changed_flags: count,
        }));
    drop(doc);
    if let Some(old) = old {
        inner.store.retire(old);
        // Wake the watchdog to free it once evaluators let go.
        inner.dispatcher.activity.notify_one();
    }
}

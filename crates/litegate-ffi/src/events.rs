//! Client events for Swift and Kotlin: [`LiteGateClient::subscribe_events`]
//! hands out an [`EventSubscription`] whose async `next` the Kotlin `Flow`
//! and the Swift `AsyncStream` pull from. Nothing waits on a pooled thread:
//! `next` is a UniFFI future that completes when the core's listener pushes
//! an event into the subscription's bounded queue.

use crate::client::LiteGateClient;
use crate::convert;
use crate::error::catch_panic;
use crate::types::ClientEvent;
use litegate::client::EventListenerId;
use litegate::Client;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Events one subscription holds while nobody reads them. When the queue is
/// full, new events are dropped and counted; the reader then gets one
/// `ClientEvent::EventsDropped` with the count before the next event.
pub const MAX_PENDING_EVENTS: usize = 256;

/// A live subscription to the client's events. Read with `next`; `unsubscribe`
/// (or dropping it) ends it.
#[derive(uniffi::Object)]
pub struct EventSubscription {
    client: Arc<Client>,
    id: EventListenerId,
    rx: tokio::sync::Mutex<mpsc::Receiver<ClientEvent>>,
    dropped: Arc<AtomicU64>,
}

impl std::fmt::Debug for EventSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSubscription")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[uniffi::export]
impl EventSubscription {
    /// The next event, waiting (suspending, not blocking) until one comes;
    /// `None` once the subscription is closed and its queue drained.
    pub async fn next(&self) -> Option<ClientEvent> {
        let mut rx = self.rx.lock().await;
        let dropped = self.dropped.swap(0, Ordering::AcqRel);
        if dropped > 0 {
            return Some(ClientEvent::EventsDropped { count: dropped });
        }
        rx.recv().await
    }

    /// Unsubscribes: events already queued can still be read, then `next`
    /// returns `None`. Safe to call more than once.
    pub fn unsubscribe(&self) {
        let _ = catch_panic(|| self.client.remove_event_listener(self.id));
    }
}

impl Drop for EventSubscription {
    fn drop(&mut self) {
        self.unsubscribe();
    }
}

#[uniffi::export]
impl LiteGateClient {
    /// Subscribes to the client's events (ready, config applied or refused,
    /// fetch failed, stale, guardrail trips, model fallbacks) from now on.
    pub fn subscribe_events(&self) -> Arc<EventSubscription> {
        let (tx, rx) = mpsc::channel(MAX_PENDING_EVENTS);
        let dropped = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&dropped);
        let client = Arc::clone(self.core());
        let id = client.on_event(move |event| {
            if let Some(event) = convert::client_event(event) {
                if tx.try_send(event).is_err() {
                    counter.fetch_add(1, Ordering::AcqRel);
                }
            }
        });
        Arc::new(EventSubscription {
            client,
            id,
            rx: tokio::sync::Mutex::new(rx),
            dropped,
        })
    }
}

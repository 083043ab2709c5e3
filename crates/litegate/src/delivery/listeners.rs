//! Change listeners and their dispatch thread.
//!
//! Policy (why it is built this way): listeners never run on the async
//! runtime thread, so a slow listener cannot delay fetching. They run on a
//! dedicated dispatch thread (`litegate-listeners`), one call at a time,
//! outside every lock, each call inside `catch_unwind`. A watchdog (the
//! runtime's ticker) checks that thread: when one call has run longer than
//! the stall timeout, the stuck thread is abandoned to that listener and a
//! fresh dispatch thread takes over the queue, so the other listeners keep
//! getting events. Events for the stuck listener are queued in its own
//! backlog and delivered, in order, by the stuck thread once the call
//! returns; a listener is never called concurrently with itself. At most
//! [`MAX_DISPATCH_THREADS`] threads exist; past that, the queue waits.

use super::{ConfigChange, DeliveryEvent};
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most dispatch threads alive at once (one active plus those stuck in
/// blocking listeners).
pub const MAX_DISPATCH_THREADS: usize = 8;

/// Identifies a registered listener, to remove it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(pub u64);

type ChangeFn = dyn Fn(&ConfigChange) + Send + Sync;
type EventFn = dyn Fn(&DeliveryEvent) + Send + Sync;

pub(crate) enum Callback {
    /// Any flag changed.
    AllFlags(Box<ChangeFn>),
    /// One flag changed.
    Flag(String, Box<ChangeFn>),
    /// Delivery events (applied, rejected, failed): logs and metrics.
    Events(Box<EventFn>),
}

pub(crate) enum Notice {
    Change(Arc<ConfigChange>),
    Event(Arc<DeliveryEvent>),
}

struct Listener {
    id: ListenerId,
    callback: Callback,
    /// Whether a thread is inside this listener, and what it still owes it.
    calls: Mutex<(bool, VecDeque<Arc<Notice>>)>,
}

impl Listener {
    fn wants(&self, notice: &Notice) -> bool {
        match (&self.callback, notice) {
            (Callback::AllFlags(_), Notice::Change(c)) => !c.changed_flags.is_empty(),
            (Callback::Flag(k, _), Notice::Change(c)) => c.changed_flags.iter().any(|f| f == k),
            (Callback::Events(_), Notice::Event(_)) => true,
            _ => false,
        }
    }

    fn call(&self, notice: &Notice) {
        let result = catch_unwind(AssertUnwindSafe(|| match (&self.callback, notice) {
            (Callback::AllFlags(f) | Callback::Flag(_, f), Notice::Change(c)) => f(c),
            (Callback::Events(f), Notice::Event(e)) => f(e),
            _ => {}
        }));
        if result.is_err() {
            tracing::warn!(
                listener = self.id.0,
                "a LiteGate listener panicked; ignored"
            );
        }
    }

    /// Runs `notice` and then anything queued for this listener meanwhile;
    /// if another thread is already inside it, queues `notice` for that one.
    fn run(&self, notice: Arc<Notice>) {
        {
            let mut calls = self.calls.lock();
            if calls.0 {
                calls.1.push_back(notice);
                return;
            }
            calls.0 = true;
        }
        let mut next = Some(notice);
        while let Some(n) = next {
            self.call(&n);
            let mut calls = self.calls.lock();
            next = calls.1.pop_front();
            if next.is_none() {
                calls.0 = false;
            }
        }
    }
}

struct Queue {
    jobs: VecDeque<(Arc<Listener>, Arc<Notice>)>,
    /// The generation of the dispatch thread that currently owns the queue.
    active: u64,
    /// When the active thread entered its current call.
    busy_since: Option<Instant>,
    threads: usize,
    shutdown: bool,
}

pub(crate) struct Dispatcher {
    listeners: Mutex<Vec<Arc<Listener>>>,
    queue: Mutex<Queue>,
    wake: Condvar,
    next_id: AtomicU64,
    stall_timeout: Duration,
    /// Listener calls that were abandoned as stalled, for the status API.
    stalls: AtomicU64,
    /// Woken whenever work is queued, so the watchdog sleeps while idle.
    pub(crate) activity: tokio::sync::Notify,
}

impl Dispatcher {
    pub(crate) fn new(stall_timeout: Duration) -> Arc<Self> {
        Arc::new(Dispatcher {
            listeners: Mutex::new(Vec::new()),
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                active: 0,
                busy_since: None,
                threads: 0,
                shutdown: false,
            }),
            wake: Condvar::new(),
            next_id: AtomicU64::new(1),
            stall_timeout,
            stalls: AtomicU64::new(0),
            activity: tokio::sync::Notify::new(),
        })
    }

    pub(crate) fn add(&self, callback: Callback) -> ListenerId {
        let id = ListenerId(self.next_id.fetch_add(1, Ordering::Relaxed));
        self.listeners.lock().push(Arc::new(Listener {
            id,
            callback,
            calls: Mutex::new((false, VecDeque::new())),
        }));
        id
    }

    pub(crate) fn remove(&self, id: ListenerId) -> bool {
        let mut l = self.listeners.lock();
        let before = l.len();
        l.retain(|x| x.id != id);
        l.len() != before
    }

    /// Whether no listener call is queued or running.
    pub(crate) fn is_idle(&self) -> bool {
        let q = self.queue.lock();
        q.jobs.is_empty() && q.busy_since.is_none()
    }

    pub(crate) fn stall_timeout(&self) -> Duration {
        self.stall_timeout
    }

    pub(crate) fn stalls(&self) -> u64 {
        self.stalls.load(Ordering::Relaxed)
    }

    /// Queues `notice` for every listener that wants it. Never calls a
    /// listener itself and holds no lock while doing anything slow.
    pub(crate) fn notify(self: &Arc<Self>, notice: Notice) {
        let targets: Vec<Arc<Listener>> = self
            .listeners
            .lock()
            .iter()
            .filter(|l| l.wants(&notice))
            .cloned()
            .collect();
        if targets.is_empty() {
            return;
        }
        let notice = Arc::new(notice);
        let spawn = {
            let mut q = self.queue.lock();
            if q.shutdown {
                return;
            }
            q.jobs
                .extend(targets.into_iter().map(|l| (l, notice.clone())));
            q.threads == 0
        };
        if spawn {
            self.spawn_dispatcher(None);
        }
        self.wake.notify_all();
        self.activity.notify_one();
    }

    /// Called periodically: replaces a dispatch thread stuck in one call.
    pub(crate) fn check_stalled(self: &Arc<Self>) {
        let generation = {
            let mut q = self.queue.lock();
            let stuck = q
                .busy_since
                .is_some_and(|t| t.elapsed() >= self.stall_timeout);
            if !stuck || q.shutdown || q.threads >= MAX_DISPATCH_THREADS {
                return;
            }
            q.active += 1;
            q.busy_since = None;
            q.active
        };
        self.stalls.fetch_add(1, Ordering::Relaxed);
        tracing::warn!("a LiteGate listener is blocking; other listeners continue on a new thread");
        self.spawn_dispatcher(Some(generation));
    }

    fn spawn_dispatcher(self: &Arc<Self>, generation: Option<u64>) {
        let generation = {
            let mut q = self.queue.lock();
            q.threads += 1;
            generation.unwrap_or(q.active)
        };
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("litegate-listeners".into())
            .spawn(move || me.dispatch_loop(generation));
        if spawned.is_err() {
            tracing::warn!("cannot start the LiteGate listener thread; events stay queued");
            self.queue.lock().threads -= 1;
        }
    }

    fn dispatch_loop(&self, generation: u64) {
        loop {
            let job = {
                let mut q = self.queue.lock();
                loop {
                    if q.shutdown || q.active != generation {
                        q.threads -= 1;
                        return;
                    }
                    if let Some(job) = q.jobs.pop_front() {
                        q.busy_since = Some(Instant::now());
                        break job;
                    }
                    self.wake.wait(&mut q);
                }
            };
            let (listener, notice) = job;
            listener.run(notice);
            let mut q = self.queue.lock();
            if q.active == generation {
                q.busy_since = None;
            }
        }
    }

    pub(crate) fn shutdown(&self) {
        let mut q = self.queue.lock();
        q.shutdown = true;
        q.jobs.clear();
        drop(q);
        self.wake.notify_all();
    }
}

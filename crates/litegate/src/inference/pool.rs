//! A bounded pool of compiled instances. Each instance is used by one
//! thread at a time; callers beyond the bound wait up to a timeout, then
//! get `Busy`. Instances carry a generation so that a switch of
//! accelerator retires the old ones as they come back.

use parking_lot::{Condvar, Mutex};
use std::time::{Duration, Instant};

struct State<T> {
    idle: Vec<(u64, T)>,
    live: usize,
    generation: u64,
}

/// The pool.
pub struct Pool<T> {
    max: usize,
    state: Mutex<State<T>>,
    freed: Condvar,
}

/// What `acquire` yields: an idle instance, or permission to create one
/// (a slot already counted as live).
pub enum Slot<T> {
    /// Reuse this instance.
    Idle(u64, T),
    /// Create a new instance for this generation.
    Create(u64),
}

impl<T> Pool<T> {
    /// A pool of at most `max` instances (at least 1).
    pub fn new(max: usize) -> Pool<T> {
        Pool {
            max: max.max(1),
            state: Mutex::new(State {
                idle: Vec::new(),
                live: 0,
                generation: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// The bound.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Waits up to `timeout` for an idle instance or a free slot; `None`
    /// when none came (the caller reports `Busy`).
    pub fn acquire(&self, timeout: Duration) -> Option<Slot<T>> {
        let deadline = Instant::now() + timeout;
        let mut s = self.state.lock();
        loop {
            if let Some((g, t)) = s.idle.pop() {
                return Some(Slot::Idle(g, t));
            }
            if s.live < self.max {
                s.live += 1;
                return Some(Slot::Create(s.generation));
            }
            if self.freed.wait_until(&mut s, deadline).timed_out() {
                if let Some((g, t)) = s.idle.pop() {
                    return Some(Slot::Idle(g, t));
                }
                return None;
            }
        }
    }

    /// Returns an instance; an instance of an old generation is dropped.
    pub fn release(&self, generation: u64, item: T) {
        let mut s = self.state.lock();
        if generation == s.generation {
            s.idle.push((generation, item));
        } else {
            s.live -= 1;
            drop(s);
            drop(item);
            self.freed.notify_one();
            return;
        }
        drop(s);
        self.freed.notify_one();
    }

    /// Gives back a slot whose instance could not be created or was lost.
    pub fn forfeit(&self) {
        let mut s = self.state.lock();
        s.live = s.live.saturating_sub(1);
        drop(s);
        self.freed.notify_one();
    }

    /// Starts a new generation, dropping idle instances of the old one,
    /// and returns it.
    pub fn bump_generation(&self) -> u64 {
        let mut s = self.state.lock();
        s.generation += 1;
        let old = std::mem::take(&mut s.idle);
        s.live -= old.len();
        let g = s.generation;
        drop(s);
        drop(old);
        self.freed.notify_all();
        g
    }

    /// The current generation.
    pub fn generation(&self) -> u64 {
        self.state.lock().generation
    }

    /// Puts a ready instance in the pool for the current generation
    /// (counts as live).
    pub fn seed(&self, item: T) -> bool {
        let mut s = self.state.lock();
        if s.live >= self.max {
            return false;
        }
        s.live += 1;
        let g = s.generation;
        s.idle.push((g, item));
        true
    }
}

//! Events (exposures, fallbacks, rollbacks, errors) and the bounded queue
//! they wait in until the next cut (exposure de-duplication: `exposure`).

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// A flag variation was served to a targeting key.
    Exposure,
    /// Inference fell back to another accelerator or to the app's path.
    Fallback,
    /// A feature was rolled back on the device.
    Rollback,
    /// An error worth reporting.
    Error,
    /// A guardrail tripped.
    GuardrailTrip,
    /// Anything else, named by the app (exported as `app.<name>`).
    Custom(String),
}

impl EventKind {
    /// The OTLP event name (`eventName` of the log record).
    pub fn event_name(&self) -> String {
        match self {
            EventKind::Exposure => "litegate.exposure".into(),
            EventKind::Fallback => "litegate.fallback".into(),
            EventKind::Rollback => "litegate.rollback".into(),
            EventKind::Error => "litegate.error".into(),
            EventKind::GuardrailTrip => "litegate.guardrail_trip".into(),
            EventKind::Custom(name) => format!("app.{name}"),
        }
    }

    /// Severity number (OTLP): 17 ERROR for errors, 13 WARN for fallbacks,
    /// rollbacks and trips, 9 INFO otherwise.
    pub fn severity(&self) -> (u8, &'static str) {
        match self {
            EventKind::Error => (17, "ERROR"),
            EventKind::Fallback | EventKind::Rollback | EventKind::GuardrailTrip => (13, "WARN"),
            _ => (9, "INFO"),
        }
    }
}

/// An attribute value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttrValue {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Double(f64),
    /// A string.
    Str(String),
}

impl From<&str> for AttrValue {
    fn from(v: &str) -> Self {
        AttrValue::Str(v.to_owned())
    }
}
impl From<String> for AttrValue {
    fn from(v: String) -> Self {
        AttrValue::Str(v)
    }
}
impl From<i64> for AttrValue {
    fn from(v: i64) -> Self {
        AttrValue::Int(v)
    }
}
impl From<f64> for AttrValue {
    fn from(v: f64) -> Self {
        AttrValue::Double(v)
    }
}
impl From<bool> for AttrValue {
    fn from(v: bool) -> Self {
        AttrValue::Bool(v)
    }
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// When, in nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
    /// Attributes, in the order given.
    pub attributes: Vec<(String, AttrValue)>,
}

impl Event {
    pub(crate) fn approx_bytes(&self) -> usize {
        let attrs: usize = self
            .attributes
            .iter()
            .map(|(k, v)| {
                k.len()
                    + 48
                    + match v {
                        AttrValue::Str(s) => s.len(),
                        _ => 24,
                    }
            })
            .sum();
        // Measured against the OTLP/JSON log record encoding.
        280 + attrs
    }
}

/// Bounds of the event queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueueBounds {
    pub max_events: usize,
    pub max_bytes: usize,
}

/// Events recorded since the last cut.
#[derive(Debug)]
pub(crate) struct EventQueue {
    events: VecDeque<Event>,
    bytes: usize,
    bounds: QueueBounds,
}

impl EventQueue {
    pub(crate) fn new(bounds: QueueBounds) -> Self {
        EventQueue {
            events: VecDeque::new(),
            bytes: 0,
            bounds,
        }
    }

    /// Queues `event`; `false` (and nothing queued) when full.
    pub(crate) fn push(&mut self, event: Event) -> bool {
        let size = event.approx_bytes();
        if self.events.len() >= self.bounds.max_events || self.bytes + size > self.bounds.max_bytes
        {
            return false;
        }
        self.bytes += size;
        self.events.push_back(event);
        true
    }

    pub(crate) fn take(&mut self) -> Vec<Event> {
        self.bytes = 0;
        self.events.drain(..).collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_bounded_by_count_and_bytes() {
        let mut q = EventQueue::new(QueueBounds {
            max_events: 2,
            max_bytes: 10_000,
        });
        let e = Event {
            kind: EventKind::Error,
            time_unix_nano: 1,
            attributes: vec![],
        };
        assert!(q.push(e.clone()));
        assert!(q.push(e.clone()));
        assert!(!q.push(e.clone()));
        assert_eq!(q.take().len(), 2);
        let mut small = EventQueue::new(QueueBounds {
            max_events: 100,
            max_bytes: 500,
        });
        assert!(small.push(e.clone()));
        assert!(!small.push(e));
    }
}

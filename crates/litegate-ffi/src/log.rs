//! The app's log sink: a `tracing` subscriber that forwards the SDK's
//! events to a foreign [`LogSink`].
//!
//! The subscriber is installed as the process's global default the first
//! time a sink is set, and stays; later calls swap the sink and level. Spans
//! are not tracked (mobile log lines carry their fields instead).

use crate::error::{catch_panic, CallbackError, LiteGateError};
use crate::types::{LogLevel, LogRecord};
use parking_lot::RwLock;
use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{span, Event, Level, Metadata, Subscriber};

/// Receives the SDK's log records. Called from any thread, including the
/// SDK's background threads: keep it quick and thread-safe (hand the record
/// to Logcat, `os_log` or the app's logger).
#[uniffi::export(with_foreign)]
pub trait LogSink: Send + Sync {
    /// One record. An error or exception is ignored.
    ///
    /// # Errors
    /// Whatever the app's logger reports; the SDK drops it.
    fn log(&self, record: LogRecord) -> Result<(), CallbackError>;
}

static SINK: RwLock<Option<Arc<dyn LogSink>>> = RwLock::new(None);
/// The most verbose level forwarded, as `level_rank`; `OFF` when no sink.
static MAX_RANK: AtomicU8 = AtomicU8::new(OFF);
static INSTALLED: OnceLock<bool> = OnceLock::new();
const OFF: u8 = 0;

thread_local! {
    /// Set while this thread is inside the sink, so that a sink that calls
    /// back into the SDK cannot recurse forever.
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

/// Sends the SDK's log records at `level` and above to `sink`, replacing
/// any previous sink.
///
/// # Errors
/// `LogSinkUnavailable` when the process already has a global `tracing`
/// subscriber that is not LiteGate's (a Rust host installed its own).
#[uniffi::export]
pub fn set_log_sink(sink: Arc<dyn LogSink>, level: LogLevel) -> Result<(), LiteGateError> {
    let installed =
        *INSTALLED.get_or_init(|| tracing::subscriber::set_global_default(Forwarder).is_ok());
    if !installed {
        return Err(LiteGateError::LogSinkUnavailable);
    }
    *SINK.write() = Some(sink);
    MAX_RANK.store(rank(level), Ordering::Release);
    tracing::callsite::rebuild_interest_cache();
    Ok(())
}

/// Stops forwarding log records.
#[uniffi::export]
pub fn clear_log_sink() {
    MAX_RANK.store(OFF, Ordering::Release);
    *SINK.write() = None;
    tracing::callsite::rebuild_interest_cache();
}

/// 1 (error) to 5 (trace): higher is more verbose.
fn rank(level: LogLevel) -> u8 {
    match level {
        LogLevel::Error => 1,
        LogLevel::Warn => 2,
        LogLevel::Info => 3,
        LogLevel::Debug => 4,
        LogLevel::Trace => 5,
    }
}

fn level_of(level: &Level) -> LogLevel {
    match *level {
        Level::ERROR => LogLevel::Error,
        Level::WARN => LogLevel::Warn,
        Level::INFO => LogLevel::Info,
        Level::DEBUG => LogLevel::Debug,
        _ => LogLevel::Trace,
    }
}

/// The global subscriber; all state lives in the statics above so that the
/// sink can change after installation.
struct Forwarder;

impl Subscriber for Forwarder {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // Decided per event in `enabled`, because the level changes at run time.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        rank(level_of(metadata.level())) <= MAX_RANK.load(Ordering::Acquire)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(match MAX_RANK.load(Ordering::Acquire) {
            OFF => LevelFilter::OFF,
            1 => LevelFilter::ERROR,
            2 => LevelFilter::WARN,
            3 => LevelFilter::INFO,
            4 => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        })
    }

    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        // Spans are not tracked; every span shares one id.
        span::Id::from_u64(1)
    }

    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        if IN_SINK.with(Cell::get) {
            return;
        }
        let Some(sink) = SINK.read().clone() else {
            return;
        };
        let metadata = event.metadata();
        let mut text = MessageText::default();
        event.record(&mut text);
        let record = LogRecord {
            level: level_of(metadata.level()),
            target: metadata.target().to_owned(),
            message: text.finish(),
        };
        IN_SINK.with(|flag| flag.set(true));
        // The sink's own failures are dropped: there is nowhere left to log them.
        let _ = catch_panic(|| sink.log(record));
        IN_SINK.with(|flag| flag.set(false));
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}

/// Collects an event's message and then its other fields as `name=value`.
#[derive(Default)]
struct MessageText {
    message: String,
    fields: String,
}

impl MessageText {
    fn finish(self) -> String {
        if self.fields.is_empty() {
            self.message
        } else if self.message.is_empty() {
            self.fields
        } else {
            format!("{} {}", self.message, self.fields)
        }
    }
}

impl Visit for MessageText {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.push_field(field, format_args!("{value}"));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.push_field(field, format_args!("{value:?}"));
        }
    }
}

impl MessageText {
    fn push_field(&mut self, field: &Field, value: std::fmt::Arguments<'_>) {
        if !self.fields.is_empty() {
            self.fields.push(' ');
        }
        let _ = write!(self.fields, "{}={}", field.name(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    struct Collect(Mutex<Vec<LogRecord>>);

    impl LogSink for Collect {
        fn log(&self, record: LogRecord) -> Result<(), CallbackError> {
            self.0.lock().push(record);
            Ok(())
        }
    }

    #[test]
    fn sink_receives_records_at_its_level_and_above() {
        let sink = Arc::new(Collect(Mutex::new(Vec::new())));
        set_log_sink(sink.clone(), LogLevel::Info).unwrap();
        tracing::debug!(target: "litegate::probe", "hidden");
        tracing::warn!(target: "litegate::probe", flag = "new_model", count = 3, "seen");
        clear_log_sink();
        tracing::warn!(target: "litegate::probe", "after clear");
        let got = sink.0.lock().clone();
        let probe: Vec<_> = got
            .iter()
            .filter(|r| r.target == "litegate::probe")
            .collect();
        assert_eq!(probe.len(), 1, "{got:?}");
        assert_eq!(probe[0].level, LogLevel::Warn);
        assert_eq!(probe[0].message, "seen flag=new_model count=3");
    }
}

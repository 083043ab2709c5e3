//! The compiled form of a rollout config: what the evaluator reads.
//!
//! Everything the hot path needs is resolved here at load time: variation
//! names become indices, attribute names become [`AttrRef`]s, regexes are
//! compiled, percentages become bucket counts. Evaluation then only compares.

use crate::eval::AttrRef;
use regex::Regex;
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

/// A fast, non-randomized hasher for keys that come from the (trusted,
/// size-limited) config: flag keys, id lists, clause values. SipHash's DoS
/// resistance buys nothing there and costs a third of a short evaluation.
#[derive(Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let word = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        let mut tail = 0u64;
        for (i, b) in chunks.remainder().iter().enumerate() {
            tail |= u64::from(*b) << (8 * i);
        }
        self.0 = (self.0.rotate_left(5) ^ tail ^ (bytes.len() as u64)).wrapping_mul(K);
    }

    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        // Final avalanche so hashbrown's top bits (its control bytes) vary.
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x
    }
}

/// A map keyed with [`KeyHasher`].
pub type KeyMap<V> = std::collections::HashMap<Box<str>, V, BuildHasherDefault<KeyHasher>>;

/// A string set keyed with [`KeyHasher`].
pub type KeySet = HashSet<Box<str>, BuildHasherDefault<KeyHasher>>;

/// The type a flag declares for all its variations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlagKind {
    /// `true` / `false`.
    Bool,
    /// UTF-8 text.
    String,
    /// A 64-bit signed integer.
    Int,
    /// A 64-bit float (never NaN or infinite).
    Float,
    /// Any JSON value.
    Json,
}

impl FlagKind {
    /// The name used in the config document.
    pub fn as_str(self) -> &'static str {
        match self {
            FlagKind::Bool => "bool",
            FlagKind::String => "string",
            FlagKind::Int => "int",
            FlagKind::Float => "float",
            FlagKind::Json => "json",
        }
    }
}

/// A flag value. Cloning never allocates: text and JSON are shared.
#[derive(Debug, Clone, PartialEq)]
pub enum FlagValue {
    /// A bool flag's value.
    Bool(bool),
    /// A string flag's value.
    String(Arc<str>),
    /// An int flag's value.
    Int(i64),
    /// A float flag's value.
    Float(f64),
    /// A JSON flag's value.
    Json(Arc<serde_json::Value>),
}

impl FlagValue {
    /// The kind of this value.
    pub fn kind(&self) -> FlagKind {
        match self {
            FlagValue::Bool(_) => FlagKind::Bool,
            FlagValue::String(_) => FlagKind::String,
            FlagValue::Int(_) => FlagKind::Int,
            FlagValue::Float(_) => FlagKind::Float,
            FlagValue::Json(_) => FlagKind::Json,
        }
    }

    /// The value as JSON (allocates; for tools and logs, not the hot path).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            FlagValue::Bool(b) => serde_json::Value::Bool(*b),
            FlagValue::String(s) => serde_json::Value::String(s.to_string()),
            FlagValue::Int(i) => serde_json::Value::from(*i),
            FlagValue::Float(f) => serde_json::Value::from(*f),
            FlagValue::Json(v) => (**v).clone(),
        }
    }
}

/// One named variation of a flag.
#[derive(Debug, Clone)]
pub struct Variation {
    /// The variation's name, e.g. `"on"` or `"treatment-b"`.
    pub key: Arc<str>,
    /// The value served.
    pub value: FlagValue,
}

/// Which attribute a percentage or split hashes.
#[derive(Debug, Clone, PartialEq)]
pub enum BucketBy {
    /// The context's targeting key (user id): the default.
    TargetingKey,
    /// The context's device id.
    DeviceId,
    /// Any other attribute, standard or custom.
    Attribute(AttrRef),
}

/// What a rule or the fallthrough serves.
#[derive(Debug, Clone)]
pub enum Serve {
    /// Always this variation (an index into the flag's variations).
    Variation(usize),
    /// `buckets` of 100,000 get `variation`, the rest `otherwise`.
    Percentage {
        /// How many of the 100,000 buckets are in.
        buckets: u32,
        /// Served to those in the percentage.
        variation: usize,
        /// Served to everyone else.
        otherwise: usize,
        /// The attribute hashed.
        bucket_by: BucketBy,
    },
    /// A/B/n: consecutive bucket ranges, one per arm.
    Split {
        /// `(exclusive upper bucket, variation)` in ascending order; the last
        /// bound is 100,000.
        arms: Vec<(u32, usize)>,
        /// The attribute hashed.
        bucket_by: BucketBy,
    },
    /// The flag's phased rollout decides the percentage at evaluation time.
    Phased {
        /// Served to those inside the current phase's percentage.
        variation: usize,
        /// Served to everyone else.
        otherwise: usize,
        /// The attribute hashed.
        bucket_by: BucketBy,
    },
}

/// A set of clause values prepared for fast membership tests.
#[derive(Debug, Clone)]
pub struct ValueSet {
    /// String members, exact, for sets larger than [`ValueSet::SMALL`].
    pub strings: KeySet,
    /// String members, exact, for small sets: a scan beats hashing there.
    pub small: Vec<Box<str>>,
    /// String members lower-cased (filled only for case-insensitive clauses).
    pub folded: Vec<Box<str>>,
    /// Numeric members.
    pub numbers: Vec<f64>,
    /// Boolean members.
    pub bools: Vec<bool>,
}

impl ValueSet {
    /// Up to this many strings are kept in `small` and scanned.
    pub const SMALL: usize = 8;

    /// Whether `s` is a member (exact comparison).
    pub fn contains_str(&self, s: &str) -> bool {
        if self.strings.is_empty() {
            self.small.iter().any(|x| **x == *s)
        } else {
            self.strings.contains(s)
        }
    }
}

/// A comparison operator with its operand(s), already parsed.
#[derive(Debug, Clone)]
pub enum Op {
    /// The attribute equals one of the values.
    In(ValueSet),
    /// String equality with any of the values.
    Equals(Vec<Box<str>>),
    /// The attribute contains any of the values.
    Contains(Vec<Box<str>>),
    /// The attribute starts with any of the values.
    StartsWith(Vec<Box<str>>),
    /// The attribute ends with any of the values.
    EndsWith(Vec<Box<str>>),
    /// Numeric comparison against any of the values.
    Number(NumCmp, Vec<f64>),
    /// SemVer 2.0 comparison against any of the values.
    Semver(NumCmp, Vec<semver::Version>),
    /// The attribute's time is before any of these (unix milliseconds).
    Before(Vec<i64>),
    /// The attribute's time is after any of these (unix milliseconds).
    After(Vec<i64>),
    /// The attribute matches any of these regexes.
    Matches(Vec<Regex>),
    /// The attribute is an IP address inside any of these networks.
    InCidr(Vec<Cidr>),
    /// The context is in any of these segments (indices into the document's).
    InSegment(Vec<usize>),
    /// The attribute is set in the context, whatever its value (`present`;
    /// `absent` is its negation, and unlike other negated clauses it holds
    /// for a missing attribute).
    Present,
    /// String ordering by Unicode code point against any of the values.
    StrOrder(NumCmp, Vec<Box<str>>),
    /// The attribute is a list whose length compares with any of the values.
    Length(NumCmp, Vec<f64>),
    /// The attribute is a list holding at least one of the values.
    ContainsAny(Vec<Scalar>),
    /// The attribute is a list holding every one of the values.
    ContainsAll(Vec<Scalar>),
    /// The attribute is a list equal, element by element and in order, to
    /// one of these lists.
    ListEquals(Vec<Vec<Scalar>>),
}

/// One string, number or bool from a clause's values, for list operators.
/// Strings are lower-cased for case-insensitive clauses.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// Text.
    Str(Box<str>),
    /// A finite number.
    Num(f64),
    /// A bool.
    Bool(bool),
}

/// A numeric or SemVer comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumCmp {
    /// `=`
    Eq,
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `>`
    Gt,
    /// `>=`
    Gte,
}

/// An IP network, `addr/prefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The network address.
    pub addr: IpAddr,
    /// The prefix length in bits.
    pub prefix: u8,
}

/// One condition on the context.
#[derive(Debug, Clone)]
pub struct Clause {
    /// The attribute tested (ignored by `in_segment`).
    pub attribute: AttrRef,
    /// The operator and its values.
    pub op: Op,
    /// Invert the result (a missing attribute still makes the clause false).
    pub negate: bool,
    /// Compare strings case-insensitively.
    pub case_insensitive: bool,
}

/// An ordered targeting rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The rule's id, reported in evaluation details.
    pub id: Arc<str>,
    /// All clauses must hold.
    pub clauses: Vec<Clause>,
    /// What the rule serves when it matches.
    pub serve: Serve,
    /// Contexts that match but fall outside the serve's percentage (or the
    /// phase reached) go on to the next rule instead of getting the serve's
    /// `otherwise` variation: the Unleash-style "strategies are ORed" model.
    /// Only percentage and phased serves can fall through.
    pub fall_through: bool,
}

/// Explicit ids served one variation.
#[derive(Debug, Clone)]
pub struct Target {
    /// The variation served.
    pub variation: usize,
    /// Targeting keys that get it.
    pub ids: KeySet,
}

/// "Serve only if flag `flag` evaluated to one of `variations`."
#[derive(Debug, Clone)]
pub struct Prerequisite {
    /// Index of the prerequisite flag.
    pub flag: usize,
    /// Variation keys of the prerequisite flag that satisfy it.
    pub variations: Vec<Arc<str>>,
}

/// One phase of a phased rollout.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// Phase name, e.g. `alpha`.
    pub name: Arc<str>,
    /// Buckets (of 100,000) inside the rollout during this phase.
    pub buckets: u32,
    /// When the phase starts on its own (unix ms); `None`: only by command.
    pub start_ms: Option<i64>,
}

/// The state of a phased rollout, which overrides the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolloutState {
    /// Nobody is in the rollout yet.
    NotStarted,
    /// At phase `phase` or later, as the schedule's start times allow.
    Running {
        /// The phase set by the last command.
        phase: usize,
    },
    /// Held at `phase`, whatever the clock says.
    Paused {
        /// The held phase.
        phase: usize,
    },
    /// Everyone gets the `otherwise` variation.
    RolledBack,
    /// Everyone is in.
    Complete,
}

/// A flag's phased rollout schedule and state.
#[derive(Debug, Clone)]
pub struct PhasedRollout {
    /// The phases, in order, percentages never decreasing.
    pub phases: Vec<Phase>,
    /// The state.
    pub state: RolloutState,
}

impl PhasedRollout {
    /// The phase in force at `now_ms`, if any; `None` before start and after a
    /// rollback.
    pub fn current_phase(&self, now_ms: i64) -> Option<usize> {
        match self.state {
            RolloutState::NotStarted | RolloutState::RolledBack => None,
            RolloutState::Complete => Some(self.phases.len().saturating_sub(1)),
            RolloutState::Paused { phase } => Some(phase),
            RolloutState::Running { phase } => {
                let mut current = phase;
                while let Some(next) = self.phases.get(current + 1) {
                    match next.start_ms {
                        Some(start) if start <= now_ms => current += 1,
                        _ => break,
                    }
                }
                Some(current)
            }
        }
    }

    /// Buckets (of 100,000) in the rollout at `now_ms`.
    pub fn buckets_at(&self, now_ms: i64) -> u32 {
        match self.state {
            RolloutState::Complete => crate::eval::BUCKETS,
            _ => self
                .current_phase(now_ms)
                .map_or(0, |p| self.phases[p].buckets),
        }
    }
}

/// A well-formed flag.
#[derive(Debug, Clone)]
pub struct Flag {
    /// The flag key.
    pub key: Arc<str>,
    /// The declared type.
    pub kind: FlagKind,
    /// When false, the off variation is served.
    pub enabled: bool,
    /// Hash salt: the flag key unless the document sets one.
    pub salt: Box<str>,
    /// Named variations.
    pub variations: Vec<Variation>,
    /// Index of the off variation.
    pub off_variation: usize,
    /// `Some(reason)` when the kill switch is on.
    pub kill_switch: Option<Arc<str>>,
    /// Flags that must evaluate to given variations first.
    pub prerequisites: Vec<Prerequisite>,
    /// Individual targets.
    pub targets: Vec<Target>,
    /// Ordered rules.
    pub rules: Vec<Rule>,
    /// Served when no target or rule matches.
    pub fallthrough: Serve,
    /// The phased rollout used by `phased` serves.
    pub rollout: Option<PhasedRollout>,
}

impl Flag {
    /// Index of a variation by name.
    pub fn variation_index(&self, key: &str) -> Option<usize> {
        self.variations.iter().position(|v| &*v.key == key)
    }
}

/// A reusable group of contexts.
#[derive(Debug, Clone)]
pub struct Segment {
    /// The segment key.
    pub key: Arc<str>,
    /// Targeting keys always in.
    pub included: KeySet,
    /// Targeting keys never in (wins over `included`).
    pub excluded: KeySet,
    /// When non-empty, contexts matching all of these are in.
    pub clauses: Vec<Clause>,
}

/// A flag as loaded: well-formed, or broken with the reasons why.
#[derive(Debug, Clone)]
pub enum FlagEntry {
    /// Usable.
    Ready(Box<Flag>),
    /// Evaluates to the caller's default with reason error.
    Malformed {
        /// The flag key.
        key: Arc<str>,
        /// What is wrong with it.
        problems: Vec<super::Problem>,
    },
}

//! Local flag evaluation: pure functions over a [`Document`] and a
//! [`Context`]. No I/O, no locks, and no heap allocation on the hot path.

mod bucket;
mod clause;
mod context;
mod prereq;

pub use bucket::{bucket, BUCKETS};
pub use context::{parse_semver_lenient, AttrRef, AttrValue, Context, VersionAttr};
pub use prereq::{MAX_PREREQUISITE_DEPTH, MAX_PREREQUISITE_FLAGS};

use crate::config::{BucketBy, Document, Flag, FlagEntry, FlagKind, FlagValue, Serve};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Why a flag evaluated as it did. Mirrors OpenFeature's reasons, with
/// LiteGate's own emergency and guardrail reasons kept distinct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The flag is disabled; its off variation is served.
    Off,
    /// No target or rule matched; the fallthrough served a fixed variation.
    Fallthrough,
    /// The targeting key is in the flag's explicit target list.
    TargetMatch,
    /// A rule matched.
    RuleMatch {
        /// The rule's id.
        rule_id: Arc<str>,
    },
    /// The fallthrough bucketed the context (percentage, split or phase).
    Split,
    /// A prerequisite flag did not evaluate to a required variation.
    PrerequisiteFailed {
        /// The prerequisite flag's key.
        flag: Arc<str>,
    },
    /// The flag's kill switch is on.
    KillSwitch {
        /// Why it was switched off.
        reason: Arc<str>,
    },
    /// The document's global "disable everything" switch is on.
    GlobalDisable {
        /// Why.
        reason: Arc<str>,
    },
    /// A local guardrail tripped and disabled the flag on this device.
    Guardrail {
        /// The guardrail's id.
        guardrail: Arc<str>,
    },
    /// A local override set by the app (QA).
    Override,
    /// No config is loaded yet.
    NotReady,
    /// The caller's default was returned because of an error.
    Error,
}

impl Reason {
    /// The reason as OpenFeature names it (`STATIC`, `DEFAULT`,
    /// `TARGETING_MATCH`, `SPLIT`, `DISABLED`, `ERROR`, ...).
    pub fn openfeature(&self) -> &'static str {
        match self {
            Reason::Off
            | Reason::KillSwitch { .. }
            | Reason::GlobalDisable { .. }
            | Reason::Guardrail { .. } => "DISABLED",
            Reason::Fallthrough => "DEFAULT",
            Reason::TargetMatch | Reason::RuleMatch { .. } | Reason::PrerequisiteFailed { .. } => {
                "TARGETING_MATCH"
            }
            Reason::Split => "SPLIT",
            Reason::Override => "STATIC",
            Reason::NotReady | Reason::Error => "ERROR",
        }
    }

    /// A short stable name: `off`, `fallthrough`, `target_match`,
    /// `rule_match`, `split`, `prerequisite_failed`, `kill_switch`,
    /// `global_disable`, `guardrail`, `override`, `not_ready`, `error`.
    pub fn kind(&self) -> &'static str {
        match self {
            Reason::Off => "off",
            Reason::Fallthrough => "fallthrough",
            Reason::TargetMatch => "target_match",
            Reason::RuleMatch { .. } => "rule_match",
            Reason::Split => "split",
            Reason::PrerequisiteFailed { .. } => "prerequisite_failed",
            Reason::KillSwitch { .. } => "kill_switch",
            Reason::GlobalDisable { .. } => "global_disable",
            Reason::Guardrail { .. } => "guardrail",
            Reason::Override => "override",
            Reason::NotReady => "not_ready",
            Reason::Error => "error",
        }
    }
}

/// Why the caller's default was returned (OpenFeature error codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// No flag has this key.
    FlagNotFound,
    /// The flag's type is not the one asked for.
    TypeMismatch,
    /// The flag is malformed in the document (see `Document::problems`).
    MalformedFlag,
    /// No config is loaded yet.
    ProviderNotReady,
}

impl ErrorCode {
    /// OpenFeature's name: `FLAG_NOT_FOUND`, `TYPE_MISMATCH`, `PARSE_ERROR`,
    /// `PROVIDER_NOT_READY`.
    pub fn openfeature(self) -> &'static str {
        match self {
            ErrorCode::FlagNotFound => "FLAG_NOT_FOUND",
            ErrorCode::TypeMismatch => "TYPE_MISMATCH",
            ErrorCode::MalformedFlag => "PARSE_ERROR",
            ErrorCode::ProviderNotReady => "PROVIDER_NOT_READY",
        }
    }
}

/// A flag's value with the details of how it was chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct Details<T> {
    /// The value served, or the caller's default on error.
    pub value: T,
    /// The variation served; `None` when the default was returned.
    pub variation: Option<Arc<str>>,
    /// Why.
    pub reason: Reason,
    /// Set when `reason` is [`Reason::Error`] or [`Reason::NotReady`].
    pub error: Option<ErrorCode>,
    /// The context's bucket (0..100,000) when a percentage or split decided.
    pub bucket: Option<u32>,
}

impl<T> Details<T> {
    /// The caller's default with an error.
    pub fn error(default: T, code: ErrorCode) -> Self {
        Details {
            value: default,
            variation: None,
            reason: if code == ErrorCode::ProviderNotReady {
                Reason::NotReady
            } else {
                Reason::Error
            },
            error: Some(code),
            bucket: None,
        }
    }
}

/// Local QA overrides: flag key → variation key.
pub type Overrides = HashMap<Box<str>, Box<str>>;

/// Flags disabled on this device by a guardrail: flag key → guardrail id.
pub type LocalDisables = HashMap<Box<str>, Arc<str>>;

/// Why a flag resolved as it did, borrowing from the document and the
/// evaluator's maps: the value-only path never touches a reference count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonRef<'d> {
    /// See [`Reason::Off`].
    Off,
    /// See [`Reason::Fallthrough`].
    Fallthrough,
    /// See [`Reason::TargetMatch`].
    TargetMatch,
    /// See [`Reason::RuleMatch`].
    RuleMatch(&'d Arc<str>),
    /// See [`Reason::Split`].
    Split,
    /// See [`Reason::PrerequisiteFailed`].
    PrerequisiteFailed(&'d Arc<str>),
    /// See [`Reason::KillSwitch`].
    KillSwitch(&'d Arc<str>),
    /// See [`Reason::GlobalDisable`].
    GlobalDisable(&'d Arc<str>),
    /// See [`Reason::Guardrail`].
    Guardrail(&'d Arc<str>),
    /// See [`Reason::Override`].
    Override,
}

impl ReasonRef<'_> {
    /// The owned [`Reason`].
    pub fn to_reason(self) -> Reason {
        match self {
            ReasonRef::Off => Reason::Off,
            ReasonRef::Fallthrough => Reason::Fallthrough,
            ReasonRef::TargetMatch => Reason::TargetMatch,
            ReasonRef::RuleMatch(id) => Reason::RuleMatch {
                rule_id: id.clone(),
            },
            ReasonRef::Split => Reason::Split,
            ReasonRef::PrerequisiteFailed(f) => Reason::PrerequisiteFailed { flag: f.clone() },
            ReasonRef::KillSwitch(r) => Reason::KillSwitch { reason: r.clone() },
            ReasonRef::GlobalDisable(r) => Reason::GlobalDisable { reason: r.clone() },
            ReasonRef::Guardrail(g) => Reason::Guardrail {
                guardrail: g.clone(),
            },
            ReasonRef::Override => Reason::Override,
        }
    }
}

/// How a flag resolved, before conversion to a typed value.
#[derive(Debug, Clone, Copy)]
pub struct Resolution<'d> {
    /// The flag.
    pub flag: &'d Flag,
    /// Index of the variation served.
    pub variation: usize,
    /// Why.
    pub reason: ReasonRef<'d>,
    /// The bucket, when bucketing decided.
    pub bucket: Option<u32>,
}

/// Evaluates flags of a [`Document`] for a [`Context`] at one instant.
///
/// Cheap to build (it only holds references and a timestamp); build one per
/// evaluation or keep one around.
#[derive(Debug, Clone, Copy)]
pub struct Evaluator<'a> {
    now_ms: i64,
    overrides: Option<&'a Overrides>,
    disables: Option<&'a LocalDisables>,
}

impl Default for Evaluator<'_> {
    fn default() -> Self {
        Self::new()
    }
}

/// The wall clock in unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl<'a> Evaluator<'a> {
    /// An evaluator at the current wall-clock time.
    pub fn new() -> Self {
        Self::at(now_ms())
    }

    /// An evaluator at a fixed time (unix ms), for phased rollouts.
    pub fn at(now_ms: i64) -> Self {
        Evaluator {
            now_ms,
            overrides: None,
            disables: None,
        }
    }

    /// Applies local QA overrides.
    pub fn with_overrides(mut self, overrides: &'a Overrides) -> Self {
        self.overrides = Some(overrides);
        self
    }

    /// Applies guardrail disables.
    pub fn with_disables(mut self, disables: &'a LocalDisables) -> Self {
        self.disables = Some(disables);
        self
    }

    /// The time this evaluator evaluates at.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// Resolves a flag to a variation.
    ///
    /// # Errors
    /// [`ErrorCode::FlagNotFound`] or [`ErrorCode::MalformedFlag`].
    pub fn resolve<'d>(
        &self,
        doc: &'d Document,
        key: &str,
        ctx: &Context,
    ) -> Result<Resolution<'d>, ErrorCode>
    where
        'a: 'd,
    {
        let &index = doc.flag_index.get(key).ok_or(ErrorCode::FlagNotFound)?;
        self.resolve_index(doc, index, ctx, 0, None)
    }

    fn resolve_index<'d>(
        &self,
        doc: &'d Document,
        index: usize,
        ctx: &Context,
        depth: usize,
        memo: Option<&mut prereq::PrereqMemo>,
    ) -> Result<Resolution<'d>, ErrorCode>
    where
        'a: 'd,
    {
        let flag = match &doc.flags[index] {
            FlagEntry::Ready(f) => &**f,
            FlagEntry::Malformed { .. } => return Err(ErrorCode::MalformedFlag),
        };
        let done = |variation, reason, bucket| {
            Ok(Resolution {
                flag,
                variation,
                reason,
                bucket,
            })
        };
        // Emergency controls first: they beat everything, QA overrides too.
        if let Some(reason) = &doc.global_disable {
            return done(flag.off_variation, ReasonRef::GlobalDisable(reason), None);
        }
        if let Some(reason) = &flag.kill_switch {
            return done(flag.off_variation, ReasonRef::KillSwitch(reason), None);
        }
        if let Some(guardrail) = self.disables.and_then(|d| d.get(&*flag.key)) {
            return done(flag.off_variation, ReasonRef::Guardrail(guardrail), None);
        }
        if let Some(variation) = self
            .overrides
            .and_then(|o| o.get(&*flag.key))
            .and_then(|v| flag.variation_index(v))
        {
            return done(variation, ReasonRef::Override, None);
        }
        if !flag.enabled {
            return done(flag.off_variation, ReasonRef::Off, None);
        }
        if !flag.prerequisites.is_empty() {
            // One memo per lookup, on the stack, shared by the whole graph.
            let mut local = None;
            let memo = match memo {
                Some(m) => m,
                None => local.insert(prereq::PrereqMemo::new()),
            };
            if let Some(failed) = self.failed_prerequisite(doc, flag, ctx, depth, memo) {
                let flag_key = match &doc.flags[failed] {
                    FlagEntry::Ready(f) => &f.key,
                    FlagEntry::Malformed { key, .. } => key,
                };
                return done(
                    flag.off_variation,
                    ReasonRef::PrerequisiteFailed(flag_key),
                    None,
                );
            }
        }
        if !ctx.targeting_key.is_empty() {
            for t in &flag.targets {
                if t.ids.contains(ctx.targeting_key.as_str()) {
                    return done(t.variation, ReasonRef::TargetMatch, None);
                }
            }
        }
        for rule in &flag.rules {
            if rule
                .clauses
                .iter()
                .all(|c| clause::clause_matches(doc, c, ctx, self.now_ms))
            {
                let (variation, bucket) = self.serve(flag, &rule.serve, ctx);
                if rule.fall_through && !self.inside(flag, &rule.serve, bucket) {
                    continue;
                }
                return done(variation, ReasonRef::RuleMatch(&rule.id), bucket);
            }
        }
        let (variation, bucket) = self.serve(flag, &flag.fallthrough, ctx);
        let reason = if matches!(flag.fallthrough, Serve::Variation(_)) {
            ReasonRef::Fallthrough
        } else {
            ReasonRef::Split
        };
        done(variation, reason, bucket)
    }

    /// Whether a percentage or phased serve placed the context inside its
    /// percentage (other serves always do), given the bucket `serve` found.
    fn inside(&self, flag: &Flag, serve: &Serve, bucket: Option<u32>) -> bool {
        match serve {
            Serve::Percentage { buckets, .. } => bucket.is_some_and(|b| b < *buckets),
            Serve::Phased { .. } => {
                let inside = flag
                    .rollout
                    .as_ref()
                    .map_or(0, |r| r.buckets_at(self.now_ms));
                bucket.is_some_and(|b| b < inside)
            }
            Serve::Variation(_) | Serve::Split { .. } => true,
        }
    }

    /// The first prerequisite of `flag` that is not satisfied, if any. Each
    /// prerequisite flag is evaluated at most once per lookup (`memo`).
    fn failed_prerequisite(
        &self,
        doc: &Document,
        flag: &Flag,
        ctx: &Context,
        depth: usize,
        memo: &mut prereq::PrereqMemo,
    ) -> Option<usize> {
        for pre in &flag.prerequisites {
            let served = match memo.get(pre.flag) {
                Some(served) => served,
                None if depth < MAX_PREREQUISITE_DEPTH && memo.has_room() => {
                    let served = self
                        .resolve_index(doc, pre.flag, ctx, depth + 1, Some(&mut *memo))
                        .ok()
                        .and_then(|r| u32::try_from(r.variation).ok())
                        .unwrap_or(prereq::FAILED);
                    memo.insert(pre.flag, served);
                    served
                }
                None => prereq::FAILED,
            };
            let satisfied = served != prereq::FAILED
                && match &doc.flags[pre.flag] {
                    FlagEntry::Ready(f) => f
                        .variations
                        .get(served as usize)
                        .is_some_and(|v| pre.variations.contains(&v.key)),
                    FlagEntry::Malformed { .. } => false,
                };
            if !satisfied {
                return Some(pre.flag);
            }
        }
        None
    }

    /// The variation a serve picks, and the bucket when it bucketed. A
    /// context without the bucketing attribute gets `otherwise` (or a
    /// split's first arm): it cannot be placed in a percentage.
    fn serve(&self, flag: &Flag, serve: &Serve, ctx: &Context) -> (usize, Option<u32>) {
        match serve {
            Serve::Variation(v) => (*v, None),
            Serve::Percentage {
                buckets,
                variation,
                otherwise,
                bucket_by,
            } => match bucket_of(flag, bucket_by, ctx) {
                Some(b) if b < *buckets => (*variation, Some(b)),
                b => (*otherwise, b),
            },
            Serve::Phased {
                variation,
                otherwise,
                bucket_by,
            } => {
                let inside = flag
                    .rollout
                    .as_ref()
                    .map_or(0, |r| r.buckets_at(self.now_ms));
                match bucket_of(flag, bucket_by, ctx) {
                    Some(b) if b < inside => (*variation, Some(b)),
                    b => (*otherwise, b),
                }
            }
            Serve::Split { arms, bucket_by } => match bucket_of(flag, bucket_by, ctx) {
                Some(b) => {
                    let arm = arms
                        .iter()
                        .find(|(upper, _)| b < *upper)
                        .unwrap_or(&arms[arms.len() - 1]);
                    (arm.1, Some(b))
                }
                None => (arms[0].1, None),
            },
        }
    }

    /// Evaluates a flag of any type.
    pub fn details(
        &self,
        doc: &Document,
        key: &str,
        ctx: &Context,
    ) -> Result<Details<FlagValue>, ErrorCode> {
        let r = self.resolve(doc, key, ctx)?;
        let v = &r.flag.variations[r.variation];
        Ok(Details {
            value: v.value.clone(),
            variation: Some(v.key.clone()),
            reason: r.reason.to_reason(),
            error: None,
            bucket: r.bucket,
        })
    }

    fn typed<T>(
        &self,
        doc: &Document,
        key: &str,
        ctx: &Context,
        default: T,
        kind: FlagKind,
        convert: impl Fn(&FlagValue) -> Option<T>,
    ) -> Details<T> {
        let r = match self.resolve(doc, key, ctx) {
            Ok(r) => r,
            Err(code) => return Details::error(default, code),
        };
        if r.flag.kind != kind {
            return Details::error(default, ErrorCode::TypeMismatch);
        }
        let v = &r.flag.variations[r.variation];
        match convert(&v.value) {
            Some(value) => Details {
                value,
                variation: Some(v.key.clone()),
                reason: r.reason.to_reason(),
                error: None,
                bucket: r.bucket,
            },
            None => Details::error(default, ErrorCode::TypeMismatch),
        }
    }

    /// A bool flag's value alone: the fastest path (no details are built,
    /// no reference count is touched). Errors return `default`.
    pub fn bool_value(&self, doc: &Document, key: &str, ctx: &Context, default: bool) -> bool {
        match self.resolve(doc, key, ctx) {
            Ok(r) if r.flag.kind == FlagKind::Bool => match r.flag.variations[r.variation].value {
                FlagValue::Bool(b) => b,
                _ => default,
            },
            _ => default,
        }
    }

    /// A bool flag; never fails: errors return `default` with the reason.
    pub fn bool_details(
        &self,
        doc: &Document,
        key: &str,
        ctx: &Context,
        default: bool,
    ) -> Details<bool> {
        self.typed(doc, key, ctx, default, FlagKind::Bool, |v| match v {
            FlagValue::Bool(b) => Some(*b),
            _ => None,
        })
    }

    /// A string flag; never fails.
    pub fn string_details(
        &self,
        doc: &Document,
        key: &str,
        ctx: &Context,
        default: Arc<str>,
    ) -> Details<Arc<str>> {
        self.typed(doc, key, ctx, default, FlagKind::String, |v| match v {
            FlagValue::String(s) => Some(s.clone()),
            _ => None,
        })
    }

    /// An int flag; never fails.
    pub fn int_details(
        &self,
        doc: &Document,
        key: &str,
        ctx: &Context,
        default: i64,
    ) -> Details<i64> {
        self.typed(doc, key, ctx, default, FlagKind::Int, |v| match v {
            FlagValue::Int(i) => Some(*i),
            _ => None,
        })
    }

    /// A float flag; never fails.
    pub fn float_details(
        &self,
        doc: &Document,
        key: &str,
        ctx: &Context,
        default: f64,
    ) -> Details<f64> {
        self.typed(doc, key, ctx, default, FlagKind::Float, |v| match v {
            FlagValue::Float(f) => Some(*f),
            _ => None,
        })
    }

    /// A JSON flag; never fails.
    pub fn json_details(
        &self,
        doc: &Document,
        key: &str,
        ctx: &Context,
        default: Arc<serde_json::Value>,
    ) -> Details<Arc<serde_json::Value>> {
        self.typed(doc, key, ctx, default, FlagKind::Json, |v| match v {
            FlagValue::Json(j) => Some(j.clone()),
            _ => None,
        })
    }
}

fn bucket_of(flag: &Flag, by: &BucketBy, ctx: &Context) -> Option<u32> {
    use context::AttrView;
    let view = match by {
        BucketBy::TargetingKey => ctx.get(&AttrRef::TargetingKey)?,
        BucketBy::DeviceId => ctx.get(&AttrRef::DeviceId)?,
        BucketBy::Attribute(attr) => ctx.get(attr)?,
    };
    match view {
        AttrView::Str(s) | AttrView::Version(s, _) if !s.is_empty() => {
            Some(bucket(&flag.salt, s.as_bytes()))
        }
        AttrView::Num(n) => {
            let mut buf = [0u8; 32];
            let len = write_number(&mut buf, n)?;
            Some(bucket(&flag.salt, &buf[..len]))
        }
        AttrView::Bool(b) => Some(bucket(&flag.salt, if b { b"true" } else { b"false" })),
        _ => None,
    }
}

/// Writes a number as JSON would print it, into a stack buffer.
fn write_number(buf: &mut [u8; 32], n: f64) -> Option<usize> {
    use std::io::Write;
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    if n.fract() == 0.0 && n.abs() < 1e15 {
        write!(cursor, "{}", n as i64).ok()?;
    } else {
        write!(cursor, "{n}").ok()?;
    }
    usize::try_from(cursor.position()).ok()
}

//! The rollout config document (format v1): parsing, validation and the
//! compiled form the evaluator reads.
//!
//! The format is documented in `docs/config-format.md` and its JSON Schema is
//! `docs/config-schema.json`. Parsing is strict about what it understands and
//! lenient about what it does not: unknown fields are ignored, a broken flag
//! is isolated (it evaluates to the caller's default with reason error) while
//! document-level problems reject the whole document.

mod compile;
mod guard;
mod model;
mod prereq;
mod regex_budget;

pub use regex_budget::MAX_REGEX_DFA_BYTES;
mod tree;

pub use model::*;

#[cfg(test)]
pub(crate) use compile::parse_cidr;
/// Parses an RFC 3339 timestamp (`2026-11-22T18:00:00Z`) into unix milliseconds.
pub use compile::parse_rfc3339_ms as parse_timestamp_ms;

use std::sync::Arc;

/// The only format version this SDK reads.
pub const FORMAT_VERSION: u64 = 1;

/// The highest document `version` accepted: 2^53 - 1, the largest integer
/// every JSON reader (JavaScript's included) holds exactly. A higher one is
/// refused, so that no document can take the top of the range and lock out
/// every later one.
pub const MAX_VERSION: u64 = (1 << 53) - 1;

/// Hard limits on what a document may contain. Anything beyond is refused
/// with [`ProblemKind::LimitExceeded`] naming the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Document size in bytes.
    pub max_document_bytes: usize,
    /// JSON nesting depth.
    pub max_depth: usize,
    /// Flags per document.
    pub max_flags: usize,
    /// Segments per document.
    pub max_segments: usize,
    /// Variations per flag.
    pub max_variations: usize,
    /// Rules per flag.
    pub max_rules: usize,
    /// Clauses per rule or segment.
    pub max_clauses: usize,
    /// Values per clause.
    pub max_clause_values: usize,
    /// Ids per target list or segment include/exclude list.
    pub max_target_ids: usize,
    /// Prerequisites per flag (fan-out).
    pub max_prerequisites: usize,
    /// Longest prerequisite chain from a flag (edges). Capped at
    /// [`crate::eval::MAX_PREREQUISITE_DEPTH`].
    pub max_prerequisite_depth: usize,
    /// Distinct flags a flag's prerequisites reach, directly or through
    /// other prerequisites. Capped at [`crate::eval::MAX_PREREQUISITE_FLAGS`].
    pub max_prerequisite_flags: usize,
    /// Phases per rollout.
    pub max_phases: usize,
    /// Length in bytes of a key, id or clause value.
    pub max_string_bytes: usize,
    /// Length in bytes of a regex pattern.
    pub max_regex_bytes: usize,
    /// Compiled size of one regex (the `regex` crate's size limit).
    pub max_regex_compiled_bytes: usize,
    /// Compiled size of all the regexes of one document together, each
    /// charged its compiled-size bound plus its lazy-DFA cache (at most
    /// [`MAX_REGEX_DFA_BYTES`]). Past it the document is refused.
    pub max_regex_total_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_document_bytes: 5 * 1024 * 1024,
            max_depth: 32,
            max_flags: 10_000,
            max_segments: 1_000,
            max_variations: 100,
            max_rules: 500,
            max_clauses: 50,
            max_clause_values: 10_000,
            max_target_ids: 100_000,
            max_prerequisites: 20,
            max_prerequisite_depth: 8,
            max_prerequisite_flags: crate::eval::MAX_PREREQUISITE_FLAGS,
            max_phases: 20,
            max_string_bytes: 4_096,
            max_regex_bytes: 1_024,
            max_regex_compiled_bytes: 256 * 1024,
            max_regex_total_bytes: 8 * 1024 * 1024,
        }
    }
}

/// What is wrong at one place in a document.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {kind}")]
pub struct Problem {
    /// Where: a dotted path such as `flags.new_model.rules[2].clauses[0].op`.
    pub path: String,
    /// What.
    pub kind: ProblemKind,
}

/// The kinds of problem a document can have.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ProblemKind {
    /// A required field is absent.
    #[error("required field is missing")]
    Missing,
    /// A field has the wrong JSON type.
    #[error("expected {expected}")]
    WrongType {
        /// What was expected.
        expected: &'static str,
    },
    /// A name refers to no variation of the flag.
    #[error("unknown variation `{0}`")]
    UnknownVariation(String),
    /// An operator this SDK does not know.
    #[error("unknown operator `{0}`")]
    UnknownOperator(String),
    /// A flag type this SDK does not know.
    #[error("unknown flag type `{0}` (expected bool, string, int, float or json)")]
    UnknownFlagType(String),
    /// A prerequisite names a flag that does not exist.
    #[error("unknown flag `{0}`")]
    UnknownFlag(String),
    /// A clause names a segment that does not exist.
    #[error("unknown segment `{0}`")]
    UnknownSegment(String),
    /// A limit was exceeded.
    #[error("{what}: {found} exceeds the limit of {limit}")]
    LimitExceeded {
        /// Which limit.
        what: &'static str,
        /// The limit.
        limit: usize,
        /// What the document has.
        found: usize,
    },
    /// A number is NaN, infinite or out of range.
    #[error("invalid number: {0}")]
    InvalidNumber(String),
    /// Split weights do not add up to 100%.
    #[error("weights add up to {sum}%, expected 100%")]
    WeightsSum {
        /// The sum found.
        sum: f64,
    },
    /// A regex that does not compile or is too large.
    #[error("invalid regex: {0}")]
    InvalidRegex(String),
    /// A value that is not SemVer 2.0.
    #[error("invalid semver `{0}`")]
    InvalidSemver(String),
    /// A value that is not an RFC 3339 timestamp.
    #[error("invalid RFC 3339 timestamp `{0}`")]
    InvalidTimestamp(String),
    /// A value that is not `address/prefix`.
    #[error("invalid CIDR `{0}`")]
    InvalidCidr(String),
    /// A variation's value does not have the flag's type.
    #[error("value does not match the flag type `{0}`")]
    VariationType(&'static str),
    /// Prerequisites form a cycle.
    #[error("prerequisite cycle: {}", .0.join(" -> "))]
    PrerequisiteCycle(Vec<String>),
    /// Two rules share an id.
    #[error("duplicate rule id `{0}`")]
    DuplicateRuleId(String),
    /// Anything else, explained.
    #[error("{0}")]
    Invalid(String),
}

/// Why a whole document was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Larger than [`Limits::max_document_bytes`].
    #[error("document is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// The document size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Nested deeper than [`Limits::max_depth`].
    #[error("document nests deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// Not JSON.
    #[error("not valid JSON at line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// The same key twice in one object.
    #[error("duplicate key `{key}` in {path}")]
    DuplicateKey {
        /// The object's path.
        path: String,
        /// The repeated key.
        key: String,
    },
    /// A format version this SDK cannot read.
    #[error("unsupported format_version {found} (this SDK reads {FORMAT_VERSION})")]
    UnsupportedFormatVersion {
        /// The version found.
        found: String,
    },
    /// The document is for another environment than the client's.
    #[error("document is for environment `{found}`, this client runs in `{expected}`")]
    WrongEnvironment {
        /// The client's environment.
        expected: String,
        /// The document's environment.
        found: String,
    },
    /// Document-level problems (every one found).
    #[error("invalid document: {}", display_problems(.0))]
    Invalid(Vec<Problem>),
}

fn display_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A parsed, validated and compiled rollout config.
///
/// Cheap to share behind an `Arc`; immutable once built.
#[derive(Debug, Clone)]
pub struct Document {
    /// The environment the document targets (`dev`, `staging`, `production`).
    pub environment: Arc<str>,
    /// Monotonically increasing document version.
    pub version: u64,
    /// `Some(reason)` when the global "disable everything" switch is on.
    pub global_disable: Option<Arc<str>>,
    pub(crate) flags: Vec<FlagEntry>,
    pub(crate) flag_index: KeyMap<usize>,
    fingerprints: Vec<u64>,
    pub(crate) segments: Vec<Segment>,
    problems: Vec<Problem>,
    sections: serde_json::Map<String, serde_json::Value>,
}

impl Document {
    /// Parses and compiles a document with the default [`Limits`].
    ///
    /// # Errors
    /// [`ConfigError`] when the document as a whole is unusable. Problems
    /// confined to one flag do not fail the parse: see [`Document::problems`].
    pub fn parse(bytes: &[u8]) -> Result<Document, ConfigError> {
        Self::parse_with_limits(bytes, &Limits::default())
    }

    /// Parses with explicit limits.
    ///
    /// # Errors
    /// As [`Document::parse`].
    pub fn parse_with_limits(bytes: &[u8], limits: &Limits) -> Result<Document, ConfigError> {
        if bytes.len() > limits.max_document_bytes {
            return Err(ConfigError::TooLarge {
                size: bytes.len(),
                limit: limits.max_document_bytes,
            });
        }
        // The tree lives in this arena and goes with it once compiled.
        let arena = bumpalo::Bump::with_capacity(bytes.len() * 2);
        let guarded =
            guard::parse_guarded(bytes, &arena, limits.max_depth).map_err(|e| match e {
                guard::GuardError::TooDeep { limit } => ConfigError::TooDeep { limit },
                guard::GuardError::DuplicateKey { path, key } => {
                    ConfigError::DuplicateKey { path, key }
                }
                guard::GuardError::Syntax {
                    line,
                    column,
                    message,
                } => ConfigError::Syntax {
                    line,
                    column,
                    message,
                },
            })?;
        compile::compile(guarded, limits)
    }

    /// Parses and also checks the document targets `environment`.
    ///
    /// # Errors
    /// As [`Document::parse`], plus [`ConfigError::WrongEnvironment`].
    pub fn parse_for_environment(bytes: &[u8], environment: &str) -> Result<Document, ConfigError> {
        let doc = Self::parse(bytes)?;
        doc.check_environment(environment)?;
        Ok(doc)
    }

    /// Refuses the document unless it targets `environment`.
    ///
    /// # Errors
    /// [`ConfigError::WrongEnvironment`].
    pub fn check_environment(&self, environment: &str) -> Result<(), ConfigError> {
        if &*self.environment == environment {
            Ok(())
        } else {
            Err(ConfigError::WrongEnvironment {
                expected: environment.to_owned(),
                found: self.environment.to_string(),
            })
        }
    }

    /// Flag-level problems: each names a flag that evaluates to the caller's
    /// default with reason error. Empty for a clean document.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Number of flags, well-formed or not.
    pub fn flag_count(&self) -> usize {
        self.flags.len()
    }

    /// All flag keys in document order.
    pub fn flag_keys(&self) -> impl Iterator<Item = &str> {
        self.flags.iter().map(|f| match f {
            FlagEntry::Ready(flag) => &*flag.key,
            FlagEntry::Malformed { key, .. } => &**key,
        })
    }

    /// A flag by key.
    pub fn flag(&self, key: &str) -> Option<&FlagEntry> {
        self.flag_index.get(key).map(|&i| &self.flags[i])
    }

    /// A well-formed flag by key.
    pub fn ready_flag(&self, key: &str) -> Option<&Flag> {
        match self.flag(key)? {
            FlagEntry::Ready(f) => Some(f),
            FlagEntry::Malformed { .. } => None,
        }
    }

    /// A fingerprint of everything that decides what flag `key` can evaluate
    /// to: its own definition, the segments it uses and the global switch.
    /// Two documents give a flag the same fingerprint only if it evaluates
    /// identically under both, so change listeners fire on a difference.
    pub fn flag_fingerprint(&self, key: &str) -> Option<u64> {
        let &i = self.flag_index.get(key)?;
        let global = match &self.global_disable {
            None => 0,
            Some(reason) => twox_hash::XxHash3_64::oneshot(reason.as_bytes()) | 1,
        };
        Some(self.fingerprints[i] ^ global.rotate_left(17))
    }

    /// The segments.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// A top-level section that another module interprets (`models`,
    /// `guardrails`, ...), as raw JSON.
    pub fn section(&self, name: &str) -> Option<&serde_json::Value> {
        self.sections.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(segment_ids: &str, other_percent: u32) -> Document {
        let text = format!(
            r#"{{"format_version": 1, "environment": "prod", "version": 1,
                "segments": {{"beta": {{"included": [{segment_ids}]}}}},
                "flags": {{
                  "gated": {{"type": "bool", "variations": {{"on": true, "off": false}},
                    "off_variation": "off", "fallthrough": {{"variation": "off"}},
                    "rules": [{{"id": "r", "clauses": [{{"op": "in_segment", "values": ["beta"]}}],
                               "serve": {{"variation": "on"}}}}]}},
                  "other": {{"type": "bool", "variations": {{"on": true, "off": false}},
                    "off_variation": "off",
                    "fallthrough": {{"percentage": {{"percent": {other_percent}, "variation": "on", "otherwise": "off"}}}}}}
                }}}}"#
        );
        Document::parse(text.as_bytes()).expect("valid document")
    }

    /// `n` bool flags `f0000`...; `extra(i)` adds fields to flag `i`.
    fn many(n: usize, extra: impl Fn(usize) -> String) -> Vec<u8> {
        let flags: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    r#""f{i:04}": {{"type": "bool", "variations": {{"on": true, "off": false}},
                       "off_variation": "off", "fallthrough": {{"variation": "on"}}{}}}"#,
                    extra(i)
                )
            })
            .collect();
        format!(
            r#"{{"format_version": 1, "environment": "prod", "version": 3, "flags": {{{}}}}}"#,
            flags.join(",")
        )
        .into_bytes()
    }

    #[test]
    fn large_documents_compile_the_same_on_two_threads() {
        // Past the two-thread threshold: a broken flag and prerequisites in
        // both halves, pointing across the split.
        let n = 600;
        let doc = Document::parse(&many(n, |i| match i {
            10 => r#", "prerequisites": [{"flag": "f0590", "variations": ["off"]}]"#.to_owned(),
            450 => r#", "rules": 7"#.to_owned(),
            590 => r#", "prerequisites": [{"flag": "f0011", "variations": ["on"]}]"#.to_owned(),
            _ => String::new(),
        }))
        .expect("valid document");
        assert_eq!(doc.flag_index.len(), n);
        let keys: Vec<&str> = doc
            .flags
            .iter()
            .map(|e| match e {
                FlagEntry::Ready(f) => &*f.key,
                FlagEntry::Malformed { key, .. } => &**key,
            })
            .collect();
        let expected: Vec<String> = (0..n).map(|i| format!("f{i:04}")).collect();
        assert_eq!(keys, expected, "document order across both halves");
        assert!(doc
            .problems()
            .iter()
            .all(|p| p.path.starts_with("flags.f0450")));
        assert!(!doc.problems().is_empty());
        assert!(matches!(
            doc.flag("f0450"),
            Some(FlagEntry::Malformed { .. })
        ));
        assert!(matches!(doc.flag("f0590"), Some(FlagEntry::Ready(_))));
        assert!(matches!(doc.flag("f0010"), Some(FlagEntry::Ready(_))));

        // A cycle through both halves is still refused.
        let cyclic = many(n, |i| match i {
            5 => r#", "prerequisites": [{"flag": "f0595", "variations": ["on"]}]"#.to_owned(),
            595 => r#", "prerequisites": [{"flag": "f0005", "variations": ["on"]}]"#.to_owned(),
            _ => String::new(),
        });
        assert!(matches!(
            Document::parse(&cyclic),
            Err(ConfigError::Invalid(p)) if matches!(p[0].kind, ProblemKind::PrerequisiteCycle(_))
        ));
    }

    #[test]
    fn fingerprints_change_with_the_flag_or_a_segment_it_uses() {
        let base = doc(r#""a""#, 10);
        let fp = |d: &Document, k| d.flag_fingerprint(k).expect("flag exists");
        // Same content: same fingerprints.
        assert_eq!(fp(&base, "gated"), fp(&doc(r#""a""#, 10), "gated"));
        // A change to one flag leaves the other alone.
        let other_changed = doc(r#""a""#, 20);
        assert_eq!(fp(&base, "gated"), fp(&other_changed, "gated"));
        assert_ne!(fp(&base, "other"), fp(&other_changed, "other"));
        // A change to a segment reaches the flags that use it, only them.
        let segment_changed = doc(r#""a", "b""#, 10);
        assert_ne!(fp(&base, "gated"), fp(&segment_changed, "gated"));
        assert_eq!(fp(&base, "other"), fp(&segment_changed, "other"));
        assert_eq!(base.flag_fingerprint("missing"), None);
    }
}

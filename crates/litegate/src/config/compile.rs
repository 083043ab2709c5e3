//! JSON tree → [`Document`]: every field checked, every problem collected
//! with its path, names resolved to indices.

use super::guard::Guarded;
use super::model::*;
use super::tree::{Map, Value};
use super::{ConfigError, Document, Limits, Problem, ProblemKind, FORMAT_VERSION};
use crate::eval::{AttrRef, BUCKETS};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Top-level keys this module interprets; all others are kept as sections.
const KNOWN_TOP_LEVEL: &[&str] = &[
    "format_version",
    "environment",
    "version",
    "global_disable",
    "segments",
    "flags",
];

/// Documents with at least this many flags compile them on two threads, the
/// caller's and one scoped helper: after the JSON parse, compiling flags is
/// most of the cost of starting from a large persisted document, and a
/// thread costs tens of microseconds against milliseconds of compiling.
const PARALLEL_COMPILE_FLAGS: usize = 256;

/// Collects problems while walking one part of the document.
struct Walker<'l> {
    limits: &'l Limits,
    problems: Vec<Problem>,
    /// Shared by every walker of one document.
    regexes: &'l super::regex_budget::RegexBudget,
}

impl Walker<'_> {
    fn problem(&mut self, path: impl std::fmt::Display, kind: ProblemKind) {
        self.problems.push(Problem {
            path: path.to_string(),
            kind,
        });
    }

    fn object<'v>(&mut self, v: &'v Value<'v>, path: &Path<'_>) -> Option<&'v Map<'v>> {
        match v {
            Value::Object(m) => Some(m),
            _ => {
                self.problem(
                    path,
                    ProblemKind::WrongType {
                        expected: "an object",
                    },
                );
                None
            }
        }
    }

    fn array<'v>(
        &mut self,
        v: &'v Value,
        path: &Path<'_>,
        max: usize,
        what: &'static str,
    ) -> Option<&'v [Value<'v>]> {
        match v {
            Value::Array(a) if a.len() > max => {
                self.problem(
                    path,
                    ProblemKind::LimitExceeded {
                        what,
                        limit: max,
                        found: a.len(),
                    },
                );
                None
            }
            Value::Array(a) => Some(a),
            _ => {
                self.problem(
                    path,
                    ProblemKind::WrongType {
                        expected: "an array",
                    },
                );
                None
            }
        }
    }

    fn string<'v>(&mut self, v: &'v Value<'v>, path: &Path<'_>) -> Option<&'v str> {
        match v {
            Value::String(s) if s.len() > self.limits.max_string_bytes => {
                self.problem(
                    path,
                    ProblemKind::LimitExceeded {
                        what: "string length in bytes",
                        limit: self.limits.max_string_bytes,
                        found: s.len(),
                    },
                );
                None
            }
            Value::String(s) => Some(s),
            _ => {
                self.problem(
                    path,
                    ProblemKind::WrongType {
                        expected: "a string",
                    },
                );
                None
            }
        }
    }

    fn required<'v>(
        &mut self,
        m: &'v Map<'v>,
        field: &str,
        path: &Path<'_>,
    ) -> Option<&'v Value<'v>> {
        let v = m.get(field);
        if v.is_none() {
            self.problem(path.field(field), ProblemKind::Missing);
        }
        v
    }

    fn required_str<'v>(
        &mut self,
        m: &'v Map<'v>,
        field: &str,
        path: &Path<'_>,
    ) -> Option<&'v str> {
        let v = self.required(m, field, path)?;
        self.string(v, &path.field(field))
    }

    fn optional_bool(&mut self, m: &Map, field: &str, path: &Path<'_>, default: bool) -> bool {
        match m.get(field) {
            None | Some(Value::Null) => default,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.problem(
                    path.field(field),
                    ProblemKind::WrongType { expected: "a bool" },
                );
                default
            }
        }
    }

    /// A percentage 0..=100 with at most 0.001 resolution, as buckets.
    fn percent(&mut self, v: &Value, path: &Path<'_>) -> Option<u32> {
        let Some(p) = v.as_f64() else {
            self.problem(
                path,
                ProblemKind::WrongType {
                    expected: "a number",
                },
            );
            return None;
        };
        if !p.is_finite() || !(0.0..=100.0).contains(&p) {
            self.problem(
                path,
                ProblemKind::InvalidNumber(format!("{p} is not a percentage between 0 and 100")),
            );
            return None;
        }
        Some((p * 1000.0).round() as u32)
    }

    fn timestamp(&mut self, v: &Value, path: &Path<'_>) -> Option<i64> {
        let s = self.string(v, path)?;
        match parse_rfc3339_ms(s) {
            Some(ms) => Some(ms),
            None => {
                self.problem(path, ProblemKind::InvalidTimestamp(s.to_owned()));
                None
            }
        }
    }

    fn id_set(&mut self, v: Option<&Value>, path: &Path<'_>) -> KeySet {
        let mut out = KeySet::default();
        let Some(v) = v else { return out };
        let max = self.limits.max_target_ids;
        if let Some(items) = self.array(v, path, max, "ids") {
            for (i, item) in items.iter().enumerate() {
                if let Some(s) = self.string(item, &path.index(i)) {
                    out.insert(Box::from(s));
                }
            }
        }
        out
    }
}

/// Where a value sits in the document, built on the stack as the walk
/// descends and turned into text only when a problem is reported: parsing a
/// clean document formats no paths.
#[derive(Clone, Copy)]
pub(super) struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    segment: Seg<'a>,
}

#[derive(Clone, Copy)]
enum Seg<'a> {
    Root,
    Field(&'a str),
    Index(usize),
}

impl<'a> Path<'a> {
    const ROOT: Path<'static> = Path {
        parent: None,
        segment: Seg::Root,
    };

    fn field<'b>(&'b self, name: &'b str) -> Path<'b> {
        Path {
            parent: Some(self),
            segment: Seg::Field(name),
        }
    }

    fn index(&self, i: usize) -> Path<'_> {
        Path {
            parent: Some(self),
            segment: Seg::Index(i),
        }
    }
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(parent) = self.parent {
            parent.fmt(f)?;
        }
        match self.segment {
            Seg::Root => Ok(()),
            Seg::Field(name) => {
                let at_root = self.parent.is_none_or(|p| matches!(p.segment, Seg::Root));
                if at_root {
                    f.write_str(name)
                } else {
                    write!(f, ".{name}")
                }
            }
            Seg::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// Parses an RFC 3339 timestamp into unix milliseconds.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Compiles a guarded JSON tree.
pub(super) fn compile(guarded: Guarded, limits: &Limits) -> Result<Document, ConfigError> {
    let Guarded {
        tree,
        flag_hashes,
        segment_hashes,
    } = guarded;
    let regexes = super::regex_budget::RegexBudget::new(limits.max_regex_total_bytes);
    let mut w = Walker {
        limits,
        problems: Vec::new(),
        regexes: &regexes,
    };
    let segments_path = Path::ROOT.field("segments");
    let flags_path = Path::ROOT.field("flags");
    let Value::Object(top) = tree else {
        return Err(ConfigError::Invalid(vec![Problem {
            path: "(document)".into(),
            kind: ProblemKind::WrongType {
                expected: "an object",
            },
        }]));
    };

    match top.get("format_version") {
        None => w.problem("format_version", ProblemKind::Missing),
        Some(v) if v.as_u64() == Some(FORMAT_VERSION) => {}
        Some(v) => {
            return Err(ConfigError::UnsupportedFormatVersion {
                found: v.to_string(),
            });
        }
    }
    let environment = w
        .required_str(&top, "environment", &Path::ROOT)
        .map(Arc::<str>::from);
    if environment.as_deref() == Some("") {
        w.problem(
            "environment",
            ProblemKind::Invalid("must not be empty".into()),
        );
    }
    let version = match top.get("version") {
        None => {
            w.problem("version", ProblemKind::Missing);
            None
        }
        Some(v) => {
            let n = v.as_u64();
            match n {
                None => w.problem(
                    "version",
                    ProblemKind::WrongType {
                        expected: "a non-negative integer",
                    },
                ),
                Some(n) if n > super::MAX_VERSION => w.problem(
                    "version",
                    ProblemKind::Invalid(format!(
                        "{n} is above the highest version accepted, {}",
                        super::MAX_VERSION
                    )),
                ),
                Some(_) => {}
            }
            n
        }
    };
    let global_disable = match top.get("global_disable") {
        None | Some(Value::Null) => None,
        Some(v) => compile_switch(&mut w, v, &Path::ROOT.field("global_disable")),
    };

    // Segments are shared by many flags, so a broken segment breaks the document.
    let mut segment_index: HashMap<&str, usize> = HashMap::new();
    let mut segment_values: Vec<(&str, &Value)> = Vec::new();
    if let Some(v) = top.get("segments") {
        if let Some(m) = w.object(v, &segments_path) {
            if m.len() > limits.max_segments {
                w.problem(
                    "segments",
                    ProblemKind::LimitExceeded {
                        what: "segments",
                        limit: limits.max_segments,
                        found: m.len(),
                    },
                );
            } else {
                for (k, v) in m {
                    segment_index.insert(k, segment_values.len());
                    segment_values.push((k, v));
                }
            }
        }
    }
    let names = Names {
        segments: &segment_index,
    };
    let mut segments = Vec::with_capacity(segment_values.len());
    for (key, v) in &segment_values {
        let path = segments_path.field(key);
        if let Some(seg) = compile_segment(&mut w, key, v, &path, &names) {
            segments.push(seg);
        }
    }

    // Flags: index all keys first so prerequisites can point anywhere.
    let empty = Map::default();
    let flag_map = match top.get("flags") {
        None => &empty,
        Some(v) => w.object(v, &flags_path).unwrap_or(&empty),
    };
    if flag_map.len() > limits.max_flags {
        w.problem(
            "flags",
            ProblemKind::LimitExceeded {
                what: "flags",
                limit: limits.max_flags,
                found: flag_map.len(),
            },
        );
    }
    if !w.problems.is_empty() {
        return Err(ConfigError::Invalid(w.problems));
    }
    let flag_index: KeyMap<usize> = flag_map
        .keys()
        .enumerate()
        .map(|(i, k)| (Box::from(k), i))
        .collect();
    let entries = flag_map.0;
    // One flag: its entry and fingerprint. Flags compile independently of
    // each other, which is what lets large documents use two threads.
    let compile_range = |range: std::ops::Range<usize>| -> Vec<(FlagEntry, u64)> {
        let mut out = Vec::with_capacity(range.len());
        for i in range {
            let (key, ref v) = entries[i];
            let mut fw = Walker {
                limits,
                problems: Vec::new(),
                regexes: &regexes,
            };
            let path = flags_path.field(key);
            let flag = compile_flag(&mut fw, key, v, &path, &names, &flag_index);
            // The guard hashed every entry of the top-level `flags` and
            // `segments` objects in document order, the order iterated here.
            let mut fingerprint = flag_hashes.get(i).copied().unwrap_or_default();
            if let Some(flag) = &flag {
                for seg in referenced_segments(flag) {
                    let segment_hash = segment_hashes.get(seg).copied().unwrap_or_default();
                    fingerprint = fingerprint.rotate_left(7) ^ segment_hash;
                }
            }
            let entry = match flag {
                Some(flag) if fw.problems.is_empty() => FlagEntry::Ready(Box::new(flag)),
                _ => FlagEntry::Malformed {
                    key: Arc::from(key),
                    problems: fw.problems,
                },
            };
            out.push((entry, fingerprint));
        }
        out
    };
    let compiled = if entries.len() >= PARALLEL_COMPILE_FLAGS {
        let (n, mid) = (entries.len(), entries.len() / 2);
        std::thread::scope(|scope| {
            let helper = std::thread::Builder::new()
                .name("litegate-compile".to_owned())
                .spawn_scoped(scope, || compile_range(mid..n));
            let mut all = compile_range(0..mid);
            match helper {
                Ok(thread) => match thread.join() {
                    Ok(rest) => all.extend(rest),
                    // As if it had panicked on this thread.
                    Err(panic) => std::panic::resume_unwind(panic),
                },
                // No thread to be had: compile the rest here.
                Err(_) => all.extend(compile_range(mid..n)),
            }
            all
        })
    } else {
        compile_range(0..entries.len())
    };
    let mut flags = Vec::with_capacity(compiled.len());
    let mut fingerprints = Vec::with_capacity(compiled.len());
    let mut flag_problems = Vec::new();
    for (entry, fingerprint) in compiled {
        if let FlagEntry::Malformed { problems, .. } = &entry {
            flag_problems.extend(problems.iter().cloned());
        }
        flags.push(entry);
        fingerprints.push(fingerprint);
    }
    // A document whose regexes overran their budget is refused whole (which
    // regex hit it first can depend on thread timing; that it was hit cannot).
    let mut over_budget: Vec<Problem> = flag_problems
        .iter()
        .chain(&w.problems)
        .filter(|p| {
            matches!(
                p.kind,
                ProblemKind::LimitExceeded {
                    what: super::regex_budget::WHAT,
                    ..
                }
            )
        })
        .cloned()
        .collect();
    if !over_budget.is_empty() {
        over_budget.sort_by(|a, b| a.path.cmp(&b.path));
        over_budget.truncate(20);
        return Err(ConfigError::Invalid(over_budget));
    }
    if let Some(cycle) = find_prerequisite_cycle(&flags) {
        return Err(ConfigError::Invalid(vec![Problem {
            path: format!("flags.{}.prerequisites", cycle[0]),
            kind: ProblemKind::PrerequisiteCycle(cycle),
        }]));
    }
    let graph_problems = super::prereq::check_graph(&flags, limits);
    if !graph_problems.is_empty() {
        return Err(ConfigError::Invalid(graph_problems));
    }

    Ok(Document {
        environment: environment.unwrap_or_else(|| Arc::from("")),
        version: version.unwrap_or(0),
        global_disable,
        flags,
        flag_index,
        fingerprints,
        segments,
        problems: flag_problems,
        sections: top.to_serde_without(KNOWN_TOP_LEVEL),
    })
}

/// `{"active": bool, "reason": "..."}` → `Some(reason)` when active.
fn compile_switch(w: &mut Walker, v: &Value, path: &Path<'_>) -> Option<Arc<str>> {
    let m = w.object(v, path)?;
    let active = w.optional_bool(m, "active", path, false);
    let reason = match m.get("reason") {
        None => "",
        Some(r) => w.string(r, &path.field("reason")).unwrap_or(""),
    };
    active.then(|| Arc::from(reason))
}

struct Names<'a> {
    segments: &'a HashMap<&'a str, usize>,
}

fn compile_segment(
    w: &mut Walker,
    key: &str,
    v: &Value,
    path: &Path<'_>,
    names: &Names,
) -> Option<Segment> {
    let m = w.object(v, path)?;
    let included = w.id_set(m.get("included"), &path.field("included"));
    let excluded = w.id_set(m.get("excluded"), &path.field("excluded"));
    let clauses = match m.get("clauses") {
        None => Vec::new(),
        Some(c) => compile_clauses(w, c, &path.field("clauses"), names, false)?,
    };
    Some(Segment {
        key: Arc::from(key),
        included,
        excluded,
        clauses,
    })
}

fn compile_flag(
    w: &mut Walker,
    key: &str,
    v: &Value,
    path: &Path<'_>,
    names: &Names,
    flag_index: &KeyMap<usize>,
) -> Option<Flag> {
    if key.is_empty() || key.len() > w.limits.max_string_bytes {
        w.problem(
            path,
            ProblemKind::Invalid("flag key must be 1 to max_string_bytes bytes".into()),
        );
    }
    let m = w.object(v, path)?;
    let kind = match w.required_str(m, "type", path)? {
        "bool" | "boolean" => FlagKind::Bool,
        "string" => FlagKind::String,
        "int" | "integer" => FlagKind::Int,
        "float" | "number" => FlagKind::Float,
        "json" | "object" => FlagKind::Json,
        other => {
            w.problem(
                path.field("type"),
                ProblemKind::UnknownFlagType(other.to_owned()),
            );
            return None;
        }
    };
    let enabled = w.optional_bool(m, "enabled", path, true);
    let salt: Box<str> = match m.get("salt") {
        None | Some(Value::Null) => Box::from(key),
        Some(s) => Box::from(w.string(s, &path.field("salt")).unwrap_or(key)),
    };

    // Variations, in document order.
    let vpath = path.field("variations");
    let vraw = w_required(w, m, "variations", path)?;
    let vmap = w.object(vraw, &vpath)?;
    if vmap.is_empty() {
        w.problem(
            vpath,
            ProblemKind::Invalid("a flag needs at least one variation".into()),
        );
        return None;
    }
    if vmap.len() > w.limits.max_variations {
        w.problem(
            vpath,
            ProblemKind::LimitExceeded {
                what: "variations",
                limit: w.limits.max_variations,
                found: vmap.len(),
            },
        );
        return None;
    }
    let mut variations = Vec::with_capacity(vmap.len());
    for (name, value) in vmap {
        let p = vpath.field(name);
        if let Some(value) = compile_value(w, kind, value, &p) {
            variations.push(Variation {
                key: Arc::from(name),
                value,
            });
        }
    }
    let lookup = |w: &mut Walker, name: &str, p: &Path<'_>| -> Option<usize> {
        let i = variations.iter().position(|v| &*v.key == name);
        if i.is_none() {
            w.problem(p, ProblemKind::UnknownVariation(name.to_owned()));
        }
        i
    };
    let off_name = w.required_str(m, "off_variation", path);
    let off_variation = off_name.and_then(|n| lookup(w, n, &path.field("off_variation")));
    let kill_switch = match m.get("kill_switch") {
        None | Some(Value::Null) => None,
        Some(v) => compile_switch(w, v, &path.field("kill_switch")),
    };

    let mut prerequisites = Vec::new();
    if let Some(v) = m.get("prerequisites") {
        let p = path.field("prerequisites");
        let max = w.limits.max_prerequisites;
        for (i, item) in w
            .array(v, &p, max, "prerequisites")
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            let ip = p.index(i);
            let Some(pm) = w.object(item, &ip) else {
                continue;
            };
            let Some(flag_key) = w.required_str(pm, "flag", &ip) else {
                continue;
            };
            let Some(&flag) = flag_index.get(flag_key) else {
                w.problem(
                    ip.field("flag"),
                    ProblemKind::UnknownFlag(flag_key.to_owned()),
                );
                continue;
            };
            let mut wanted = Vec::new();
            match (pm.get("variations"), pm.get("variation")) {
                (Some(list), _) => {
                    let lp = ip.field("variations");
                    for (j, x) in w
                        .array(list, &lp, 100, "variations")
                        .unwrap_or(&[])
                        .iter()
                        .enumerate()
                    {
                        if let Some(s) = w.string(x, &lp.index(j)) {
                            wanted.push(Arc::from(s));
                        }
                    }
                }
                (None, Some(one)) => {
                    if let Some(s) = w.string(one, &ip.field("variation")) {
                        wanted.push(Arc::from(s));
                    }
                }
                (None, None) => w.problem(ip.field("variations"), ProblemKind::Missing),
            }
            prerequisites.push(Prerequisite {
                flag,
                variations: wanted,
            });
        }
    }

    let mut targets = Vec::new();
    if let Some(v) = m.get("targets") {
        let p = path.field("targets");
        let max = w.limits.max_variations;
        for (i, item) in w
            .array(v, &p, max, "target lists")
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            let ip = p.index(i);
            let Some(tm) = w.object(item, &ip) else {
                continue;
            };
            let variation = w
                .required_str(tm, "variation", &ip)
                .and_then(|n| lookup(w, n, &ip.field("variation")));
            let ids_raw = w_required(w, tm, "ids", &ip);
            let ids = w.id_set(ids_raw, &ip.field("ids"));
            if let Some(variation) = variation {
                targets.push(Target { variation, ids });
            }
        }
    }

    let rollout = match m.get("rollout") {
        None | Some(Value::Null) => None,
        Some(v) => compile_rollout(w, v, &path.field("rollout")),
    };
    let ctx = ServeCtx {
        lookup: &lookup,
        has_rollout: rollout.is_some(),
    };

    let mut rules = Vec::new();
    if let Some(v) = m.get("rules") {
        let p = path.field("rules");
        let max = w.limits.max_rules;
        let mut ids = HashSet::new();
        for (i, item) in w
            .array(v, &p, max, "rules")
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            let ip = p.index(i);
            let Some(rm) = w.object(item, &ip) else {
                continue;
            };
            let id: Arc<str> = match rm.get("id") {
                None => Arc::from(format!("rule-{i}")),
                Some(v) => Arc::from(w.string(v, &ip.field("id")).unwrap_or("")),
            };
            if !ids.insert(id.clone()) {
                w.problem(ip.field("id"), ProblemKind::DuplicateRuleId(id.to_string()));
            }
            let clauses = match rm.get("clauses") {
                None => Some(Vec::new()),
                Some(c) => compile_clauses(w, c, &ip.field("clauses"), names, true),
            };
            let serve = w_required(w, rm, "serve", &ip)
                .and_then(|s| compile_serve(w, s, &ip.field("serve"), &ctx));
            let fall_through = w.optional_bool(rm, "fall_through", &ip, false);
            if fall_through
                && serve
                    .as_ref()
                    .is_some_and(|s| !matches!(s, Serve::Percentage { .. } | Serve::Phased { .. }))
            {
                w.problem(
                    ip.field("fall_through"),
                    ProblemKind::Invalid(
                        "only a percentage or phased serve leaves contexts out to fall through"
                            .into(),
                    ),
                );
            }
            if let (Some(clauses), Some(serve)) = (clauses, serve) {
                rules.push(Rule {
                    id,
                    clauses,
                    serve,
                    fall_through,
                });
            }
        }
    }
    let fallthrough = w_required(w, m, "fallthrough", path)
        .and_then(|s| compile_serve(w, s, &path.field("fallthrough"), &ctx));

    Some(Flag {
        key: Arc::from(key),
        kind,
        enabled,
        salt,
        variations,
        off_variation: off_variation?,
        kill_switch,
        prerequisites,
        targets,
        rules,
        fallthrough: fallthrough?,
        rollout,
    })
}

// A free function so the borrow of `w` ends before the caller uses the value.
fn w_required<'v>(
    w: &mut Walker,
    m: &'v Map<'v>,
    field: &str,
    path: &Path<'_>,
) -> Option<&'v Value<'v>> {
    w.required(m, field, path)
}

fn compile_value(w: &mut Walker, kind: FlagKind, v: &Value, path: &Path<'_>) -> Option<FlagValue> {
    let value = match (kind, v) {
        (FlagKind::Bool, Value::Bool(b)) => FlagValue::Bool(*b),
        (FlagKind::String, Value::String(_)) => FlagValue::String(Arc::from(w.string(v, path)?)),
        (FlagKind::Int, Value::Number(n)) if n.as_i64().is_some() => FlagValue::Int(n.as_i64()?),
        (FlagKind::Float, Value::Number(n)) => FlagValue::Float(n.as_f64()?),
        (FlagKind::Json, v) => FlagValue::Json(Arc::new(v.to_serde())),
        _ => {
            w.problem(path, ProblemKind::VariationType(kind.as_str()));
            return None;
        }
    };
    Some(value)
}

struct ServeCtx<'a> {
    lookup: &'a dyn Fn(&mut Walker, &str, &Path<'_>) -> Option<usize>,
    has_rollout: bool,
}

fn compile_bucket_by(w: &mut Walker, m: &Map, path: &Path<'_>) -> BucketBy {
    match m.get("bucket_by") {
        None | Some(Value::Null) => BucketBy::TargetingKey,
        Some(v) => match w.string(v, &path.field("bucket_by")) {
            Some(name) => match AttrRef::parse(name) {
                AttrRef::TargetingKey => BucketBy::TargetingKey,
                AttrRef::DeviceId => BucketBy::DeviceId,
                other => BucketBy::Attribute(other),
            },
            None => BucketBy::TargetingKey,
        },
    }
}

fn compile_serve(w: &mut Walker, v: &Value, path: &Path<'_>, ctx: &ServeCtx) -> Option<Serve> {
    let m = w.object(v, path)?;
    let kinds: Vec<&str> = ["variation", "percentage", "split", "phased"]
        .into_iter()
        .filter(|k| m.contains_key(k))
        .collect();
    if kinds.len() != 1 {
        w.problem(
            path,
            ProblemKind::Invalid(
                "a serve has exactly one of `variation`, `percentage`, `split`, `phased`".into(),
            ),
        );
        return None;
    }
    let lookup = ctx.lookup;
    match kinds[0] {
        "variation" => {
            let p = path.field("variation");
            let name = w.string(&m["variation"], &p)?;
            lookup(w, name, &p).map(Serve::Variation)
        }
        "percentage" => {
            let p = path.field("percentage");
            let pm = w.object(&m["percentage"], &p)?;
            let buckets =
                w_required(w, pm, "percent", &p).and_then(|x| w.percent(x, &p.field("percent")));
            let variation = w
                .required_str(pm, "variation", &p)
                .and_then(|n| lookup(w, n, &p.field("variation")));
            let otherwise = w
                .required_str(pm, "otherwise", &p)
                .and_then(|n| lookup(w, n, &p.field("otherwise")));
            let bucket_by = compile_bucket_by(w, pm, &p);
            Some(Serve::Percentage {
                buckets: buckets?,
                variation: variation?,
                otherwise: otherwise?,
                bucket_by,
            })
        }
        "split" => {
            let p = path.field("split");
            let sm = w.object(&m["split"], &p)?;
            let ap = p.field("arms");
            let max = w.limits.max_variations;
            let arms_raw = w_required(w, sm, "arms", &p)?;
            let arms_v = w.array(arms_raw, &ap, max, "split arms")?;
            if arms_v.is_empty() {
                w.problem(
                    ap,
                    ProblemKind::Invalid("a split needs at least one arm".into()),
                );
                return None;
            }
            let mut arms = Vec::with_capacity(arms_v.len());
            let mut total: u32 = 0;
            let mut sum = 0.0;
            let mut ok = true;
            for (i, a) in arms_v.iter().enumerate() {
                let ip = ap.index(i);
                let Some(am) = w.object(a, &ip) else {
                    ok = false;
                    continue;
                };
                let variation = w
                    .required_str(am, "variation", &ip)
                    .and_then(|n| lookup(w, n, &ip.field("variation")));
                let weight = w_required(w, am, "weight", &ip)
                    .and_then(|x| w.percent(x, &ip.field("weight")));
                if let Some(x) = am.get("weight").and_then(Value::as_f64) {
                    sum += x;
                }
                match (variation, weight) {
                    (Some(v), Some(wt)) => {
                        total = total.saturating_add(wt);
                        arms.push((total, v));
                    }
                    _ => ok = false,
                }
            }
            if ok && total != BUCKETS {
                w.problem(ap, ProblemKind::WeightsSum { sum });
                return None;
            }
            let bucket_by = compile_bucket_by(w, sm, &p);
            ok.then_some(Serve::Split { arms, bucket_by })
        }
        _ => {
            let p = path.field("phased");
            let pm = w.object(&m["phased"], &p)?;
            if !ctx.has_rollout {
                w.problem(
                    p,
                    ProblemKind::Invalid("a `phased` serve needs the flag's `rollout`".into()),
                );
            }
            let variation = w
                .required_str(pm, "variation", &p)
                .and_then(|n| lookup(w, n, &p.field("variation")));
            let otherwise = w
                .required_str(pm, "otherwise", &p)
                .and_then(|n| lookup(w, n, &p.field("otherwise")));
            let bucket_by = compile_bucket_by(w, pm, &p);
            Some(Serve::Phased {
                variation: variation?,
                otherwise: otherwise?,
                bucket_by,
            })
        }
    }
}

fn compile_rollout(w: &mut Walker, v: &Value, path: &Path<'_>) -> Option<PhasedRollout> {
    let m = w.object(v, path)?;
    let pp = path.field("phases");
    let max = w.limits.max_phases;
    let phases_raw = w_required(w, m, "phases", path)?;
    let items = w.array(phases_raw, &pp, max, "phases")?;
    if items.is_empty() {
        w.problem(
            pp,
            ProblemKind::Invalid("a rollout needs at least one phase".into()),
        );
        return None;
    }
    let mut phases = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let ip = pp.index(i);
        let Some(pm) = w.object(item, &ip) else {
            continue;
        };
        let name = w.required_str(pm, "name", &ip);
        let buckets =
            w_required(w, pm, "percent", &ip).and_then(|x| w.percent(x, &ip.field("percent")));
        let start_ms = match pm.get("start") {
            None | Some(Value::Null) => None,
            Some(s) => w.timestamp(s, &ip.field("start")),
        };
        if let (Some(name), Some(buckets)) = (name, buckets) {
            if let Some(prev) = phases.last() {
                let prev: &Phase = prev;
                if buckets < prev.buckets {
                    w.problem(
                        ip,
                        ProblemKind::Invalid("phase percentages must not decrease".into()),
                    );
                }
                if let (Some(a), Some(b)) = (prev.start_ms, start_ms) {
                    if b < a {
                        w.problem(
                            ip.field("start"),
                            ProblemKind::Invalid("phase starts must not go back in time".into()),
                        );
                    }
                }
            }
            phases.push(Phase {
                name: Arc::from(name),
                buckets,
                start_ms,
            });
        }
    }
    let state = match m.get("state") {
        // No state: the schedule alone drives the rollout from its first phase.
        None | Some(Value::Null) => RolloutState::Running { phase: 0 },
        Some(s) => compile_state(w, s, &path.field("state"), &phases)?,
    };
    // A running rollout whose first phase has a start time in the future has
    // not begun yet; that is handled at evaluation by `start_ms`.
    Some(PhasedRollout { phases, state })
}

fn compile_state(
    w: &mut Walker,
    v: &Value,
    path: &Path<'_>,
    phases: &[Phase],
) -> Option<RolloutState> {
    let m = w.object(v, path)?;
    let status = w.required_str(m, "status", path)?;
    let phase = |w: &mut Walker| -> Option<usize> {
        let p = path.field("phase");
        let name = w.required_str(m, "phase", path)?;
        let i = phases.iter().position(|ph| &*ph.name == name);
        if i.is_none() {
            w.problem(p, ProblemKind::Invalid(format!("unknown phase `{name}`")));
        }
        i
    };
    Some(match status {
        "not_started" => RolloutState::NotStarted,
        "running" => RolloutState::Running { phase: phase(w)? },
        "paused" => RolloutState::Paused { phase: phase(w)? },
        "rolled_back" => RolloutState::RolledBack,
        "complete" => RolloutState::Complete,
        other => {
            w.problem(
                path.field("status"),
                ProblemKind::Invalid(format!(
                    "unknown status `{other}` (expected not_started, running, paused, rolled_back or complete)"
                )),
            );
            return None;
        }
    })
}

fn compile_clauses(
    w: &mut Walker,
    v: &Value,
    path: &Path<'_>,
    names: &Names,
    allow_segments: bool,
) -> Option<Vec<Clause>> {
    let max = w.limits.max_clauses;
    let items = w.array(v, path, max, "clauses")?;
    let before = w.problems.len();
    let clauses: Vec<Clause> = items
        .iter()
        .enumerate()
        .filter_map(|(i, c)| compile_clause(w, c, &path.index(i), names, allow_segments))
        .collect();
    (w.problems.len() == before).then_some(clauses)
}

fn compile_clause(
    w: &mut Walker,
    v: &Value,
    path: &Path<'_>,
    names: &Names,
    allow_segments: bool,
) -> Option<Clause> {
    let m = w.object(v, path)?;
    let op_name = w.required_str(m, "op", path)?;
    let mut negate = w.optional_bool(m, "negate", path, false);
    let case_insensitive = w.optional_bool(m, "case_insensitive", path, false);
    let vp = path.field("values");
    let max = w.limits.max_clause_values;
    let (base, negated) = match op_name.strip_prefix("not_") {
        Some(rest)
            if matches!(
                rest,
                "in" | "in_segment"
                    | "in_cidr"
                    | "contains"
                    | "matches"
                    | "contains_any"
                    | "contains_all"
                    | "equals"
            ) =>
        {
            (rest, true)
        }
        _ => match op_name {
            "absent" => ("present", true),
            other => (other, false),
        },
    };
    negate ^= negated;
    // `present` / `absent` compare nothing: their values may be left out.
    let values: &[Value] = match (base, m.get("values")) {
        ("present", None) => &[],
        _ => {
            let values_raw = w_required(w, m, "values", path)?;
            w.array(values_raw, &vp, max, "clause values")?
        }
    };
    let attribute = if base == "in_segment" {
        AttrRef::TargetingKey
    } else {
        AttrRef::parse(w.required_str(m, "attribute", path)?)
    };

    let strings = |w: &mut Walker, fold: bool| -> Option<Vec<Box<str>>> {
        let mut out = Vec::with_capacity(values.len());
        for (i, x) in values.iter().enumerate() {
            let s = w.string(x, &vp.index(i))?;
            out.push(if fold {
                Box::from(s.to_lowercase())
            } else {
                Box::from(s)
            });
        }
        Some(out)
    };
    let numbers = |w: &mut Walker| -> Option<Vec<f64>> {
        let mut out = Vec::with_capacity(values.len());
        for (i, x) in values.iter().enumerate() {
            match x.as_f64() {
                Some(n) if n.is_finite() => out.push(n),
                _ => {
                    w.problem(
                        vp.index(i),
                        ProblemKind::WrongType {
                            expected: "a finite number",
                        },
                    );
                    return None;
                }
            }
        }
        Some(out)
    };
    let semvers = |w: &mut Walker| -> Option<Vec<semver::Version>> {
        let mut out = Vec::with_capacity(values.len());
        for (i, x) in values.iter().enumerate() {
            let p = vp.index(i);
            let s = w.string(x, &p)?;
            match crate::eval::parse_semver_lenient(s) {
                Some(v) => out.push(v),
                None => {
                    w.problem(p, ProblemKind::InvalidSemver(s.to_owned()));
                    return None;
                }
            }
        }
        Some(out)
    };
    let times = |w: &mut Walker| -> Option<Vec<i64>> {
        let mut out = Vec::with_capacity(values.len());
        for (i, x) in values.iter().enumerate() {
            out.push(w.timestamp(x, &vp.index(i))?);
        }
        Some(out)
    };

    let op = match base {
        "in" => {
            let mut set = ValueSet {
                strings: KeySet::default(),
                small: Vec::new(),
                folded: Vec::new(),
                numbers: Vec::new(),
                bools: Vec::new(),
            };
            for (i, x) in values.iter().enumerate() {
                match x {
                    Value::String(_) => {
                        let s = w.string(x, &vp.index(i))?;
                        if case_insensitive {
                            set.folded.push(Box::from(s.to_lowercase()));
                        }
                        set.small.push(Box::from(s));
                    }
                    Value::Number(n) => match n.as_f64() {
                        Some(f) if f.is_finite() => set.numbers.push(f),
                        _ => w.problem(vp.index(i), ProblemKind::InvalidNumber(format!("{n:?}"))),
                    },
                    Value::Bool(b) => set.bools.push(*b),
                    _ => w.problem(
                        vp.index(i),
                        ProblemKind::WrongType {
                            expected: "a string, number or bool",
                        },
                    ),
                }
            }
            if set.small.len() > ValueSet::SMALL {
                set.strings = set.small.drain(..).collect();
            }
            Op::In(set)
        }
        "equals" if values.iter().any(|x| matches!(x, Value::Array(_))) => {
            let mut lists = Vec::with_capacity(values.len());
            for (i, x) in values.iter().enumerate() {
                let p = vp.index(i);
                let Value::Array(items) = x else {
                    w.problem(
                        p,
                        ProblemKind::WrongType {
                            expected: "a list (every value of a list equality is a list)",
                        },
                    );
                    return None;
                };
                if items.len() > max {
                    w.array(x, &p, max, "list values");
                    return None;
                }
                lists.push(scalars(w, items, &p, case_insensitive)?);
            }
            Op::ListEquals(lists)
        }
        "equals" => Op::Equals(strings(w, case_insensitive)?),
        "present" => {
            if !values.is_empty() {
                w.problem(
                    vp,
                    ProblemKind::Invalid("`present` and `absent` take no values".into()),
                );
                return None;
            }
            Op::Present
        }
        "str_lt" => Op::StrOrder(NumCmp::Lt, strings(w, case_insensitive)?),
        "str_lte" => Op::StrOrder(NumCmp::Lte, strings(w, case_insensitive)?),
        "str_gt" => Op::StrOrder(NumCmp::Gt, strings(w, case_insensitive)?),
        "str_gte" => Op::StrOrder(NumCmp::Gte, strings(w, case_insensitive)?),
        "len_eq" => Op::Length(NumCmp::Eq, numbers(w)?),
        "len_lt" => Op::Length(NumCmp::Lt, numbers(w)?),
        "len_lte" => Op::Length(NumCmp::Lte, numbers(w)?),
        "len_gt" => Op::Length(NumCmp::Gt, numbers(w)?),
        "len_gte" => Op::Length(NumCmp::Gte, numbers(w)?),
        "contains_any" => Op::ContainsAny(scalars(w, values, &vp, case_insensitive)?),
        "contains_all" => Op::ContainsAll(scalars(w, values, &vp, case_insensitive)?),
        "contains" => Op::Contains(strings(w, case_insensitive)?),
        "starts_with" => Op::StartsWith(strings(w, case_insensitive)?),
        "ends_with" => Op::EndsWith(strings(w, case_insensitive)?),
        "eq" | "num_eq" => Op::Number(NumCmp::Eq, numbers(w)?),
        "lt" => Op::Number(NumCmp::Lt, numbers(w)?),
        "lte" => Op::Number(NumCmp::Lte, numbers(w)?),
        "gt" => Op::Number(NumCmp::Gt, numbers(w)?),
        "gte" => Op::Number(NumCmp::Gte, numbers(w)?),
        "semver_eq" => Op::Semver(NumCmp::Eq, semvers(w)?),
        "semver_lt" => Op::Semver(NumCmp::Lt, semvers(w)?),
        "semver_lte" => Op::Semver(NumCmp::Lte, semvers(w)?),
        "semver_gt" => Op::Semver(NumCmp::Gt, semvers(w)?),
        "semver_gte" => Op::Semver(NumCmp::Gte, semvers(w)?),
        "before" => Op::Before(times(w)?),
        "after" => Op::After(times(w)?),
        "matches" => {
            let mut out = Vec::with_capacity(values.len());
            for (i, x) in values.iter().enumerate() {
                let p = vp.index(i);
                let pattern = w.string(x, &p)?;
                if pattern.len() > w.limits.max_regex_bytes {
                    w.problem(
                        p,
                        ProblemKind::LimitExceeded {
                            what: "regex length in bytes",
                            limit: w.limits.max_regex_bytes,
                            found: pattern.len(),
                        },
                    );
                    return None;
                }
                let per_pattern = w.limits.max_regex_compiled_bytes;
                match w.regexes.compile(pattern, case_insensitive, per_pattern) {
                    Ok(r) => out.push(r),
                    Err(kind) => {
                        w.problem(p, kind);
                        return None;
                    }
                }
            }
            Op::Matches(out)
        }
        "in_cidr" => {
            let mut out = Vec::with_capacity(values.len());
            for (i, x) in values.iter().enumerate() {
                let p = vp.index(i);
                let s = w.string(x, &p)?;
                match parse_cidr(s) {
                    Some(c) => out.push(c),
                    None => {
                        w.problem(p, ProblemKind::InvalidCidr(s.to_owned()));
                        return None;
                    }
                }
            }
            Op::InCidr(out)
        }
        "in_segment" => {
            if !allow_segments {
                w.problem(
                    path.field("op"),
                    ProblemKind::Invalid("segments cannot refer to segments".into()),
                );
                return None;
            }
            let mut out = Vec::with_capacity(values.len());
            for (i, x) in values.iter().enumerate() {
                let p = vp.index(i);
                let s = w.string(x, &p)?;
                match names.segments.get(s) {
                    Some(&idx) => out.push(idx),
                    None => {
                        w.problem(p, ProblemKind::UnknownSegment(s.to_owned()));
                        return None;
                    }
                }
            }
            Op::InSegment(out)
        }
        other => {
            w.problem(
                path.field("op"),
                ProblemKind::UnknownOperator(other.to_owned()),
            );
            return None;
        }
    };
    Some(Clause {
        attribute,
        op,
        negate,
        case_insensitive,
    })
}

/// Strings, numbers and bools of a list operator's values (strings
/// lower-cased when `fold`).
fn scalars(w: &mut Walker, values: &[Value], path: &Path<'_>, fold: bool) -> Option<Vec<Scalar>> {
    let mut out = Vec::with_capacity(values.len());
    for (i, x) in values.iter().enumerate() {
        let p = path.index(i);
        out.push(match x {
            Value::String(_) => {
                let s = w.string(x, &p)?;
                Scalar::Str(if fold {
                    Box::from(s.to_lowercase())
                } else {
                    Box::from(s)
                })
            }
            Value::Bool(b) => Scalar::Bool(*b),
            Value::Number(n) => match n.as_f64() {
                Some(f) if f.is_finite() => Scalar::Num(f),
                _ => {
                    w.problem(p, ProblemKind::InvalidNumber(format!("{n:?}")));
                    return None;
                }
            },
            _ => {
                // Contexts carry no objects or nested lists, so such a
                // value could never be equal to an attribute.
                w.problem(
                    p,
                    ProblemKind::WrongType {
                        expected:
                            "a string, number or bool (contexts hold no objects or nested lists)",
                    },
                );
                return None;
            }
        });
    }
    Some(out)
}

/// Parses `addr/prefix` (a bare address means a single host).
pub(crate) fn parse_cidr(s: &str) -> Option<Cidr> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a.parse().ok()?, Some(p.parse::<u8>().ok()?)),
        None => (s.parse().ok()?, None),
    };
    let max = match addr {
        std::net::IpAddr::V4(_) => 32,
        std::net::IpAddr::V6(_) => 128,
    };
    let prefix = prefix.unwrap_or(max);
    (prefix <= max).then_some(Cidr { addr, prefix })
}

/// Depth-first search for a cycle among well-formed flags' prerequisites.
fn find_prerequisite_cycle(flags: &[FlagEntry]) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    let mut marks = vec![Mark::New; flags.len()];
    let deps = |i: usize| -> Vec<usize> {
        match &flags[i] {
            FlagEntry::Ready(f) => f.prerequisites.iter().map(|p| p.flag).collect(),
            FlagEntry::Malformed { .. } => Vec::new(),
        }
    };
    let key = |i: usize| -> String {
        match &flags[i] {
            FlagEntry::Ready(f) => f.key.to_string(),
            FlagEntry::Malformed { key, .. } => key.to_string(),
        }
    };
    for start in 0..flags.len() {
        if marks[start] != Mark::New {
            continue;
        }
        // Iterative DFS: (node, its deps, next dep position).
        let mut stack: Vec<(usize, Vec<usize>, usize)> = vec![(start, deps(start), 0)];
        marks[start] = Mark::Active;
        while let Some(top) = stack.last_mut() {
            if top.2 < top.1.len() {
                let next = top.1[top.2];
                top.2 += 1;
                match marks[next] {
                    Mark::Active => {
                        let pos = stack.iter().position(|(n, _, _)| *n == next).unwrap_or(0);
                        let mut cycle: Vec<String> =
                            stack[pos..].iter().map(|(n, _, _)| key(*n)).collect();
                        cycle.push(key(next));
                        return Some(cycle);
                    }
                    Mark::New => {
                        marks[next] = Mark::Active;
                        stack.push((next, deps(next), 0));
                    }
                    Mark::Done => {}
                }
            } else {
                marks[top.0] = Mark::Done;
                stack.pop();
            }
        }
    }
    None
}

/// Indices of the segments a flag's rules refer to, in rule order.
fn referenced_segments(flag: &Flag) -> impl Iterator<Item = usize> + '_ {
    flag.rules
        .iter()
        .flat_map(|r| r.clauses.iter())
        .filter_map(|c| match &c.op {
            Op::InSegment(s) => Some(s.iter().copied()),
            _ => None,
        })
        .flatten()
}

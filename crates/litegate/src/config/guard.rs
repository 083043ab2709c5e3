//! First pass over untrusted bytes: JSON syntax, nesting depth and duplicate
//! keys, in one streaming pass that builds the lean [`Value`] tree and the
//! change fingerprints of every flag and segment.
//!
//! `serde_json::Value` silently keeps the last of two equal keys, which would
//! let a hostile or careless document hide a second definition of a flag; this
//! pass refuses that instead.
//!
//! This pass is most of the cost of starting from a persisted document, so it
//! avoids work a valid document does not need:
//! - the input is checked to be UTF-8 once, up front, so strings are not
//!   validated one by one;
//! - containers are collected on two shared scratch stacks and copied once
//!   into the parse's arena at their exact size (no `malloc` per node);
//! - the path of an error is assembled only when there is an error, as it
//!   travels back up the visitors (nothing is tracked on the happy path);
//! - a flag's fingerprint is fed while its tokens stream past, instead of
//!   walking the finished tree a second time.

use super::model::KeyHasher;
use super::tree::{Map, Number, Value};
use bumpalo::Bump;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::hash::Hasher;

/// What the guard found wrong, before any field is interpreted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GuardError {
    /// Nesting deeper than the limit.
    TooDeep { limit: usize },
    /// The same key twice in one object; `path` is the object's path.
    DuplicateKey { path: String, key: String },
    /// Not JSON.
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
}

/// The guarded tree and the content fingerprints of the top-level `flags`
/// and `segments` entries, in document order.
#[derive(Debug)]
pub(crate) struct Guarded<'a> {
    /// The document.
    pub(crate) tree: Value<'a>,
    /// One hash per entry of the top-level `flags` object (empty when it is
    /// missing or not an object).
    pub(crate) flag_hashes: Vec<u64>,
    /// One hash per entry of the top-level `segments` object.
    pub(crate) segment_hashes: Vec<u64>,
}

/// Parses `bytes` into a JSON tree held in `arena`, refusing duplicate keys
/// and nesting deeper than `max_depth`.
///
/// Duplicates are checked by a scan for small objects and by sorting key
/// indices for large ones (the `flags` map), so no key is hashed.
pub(crate) fn parse_guarded<'a>(
    bytes: &'a [u8],
    arena: &'a Bump,
    max_depth: usize,
) -> Result<Guarded<'a>, GuardError> {
    let text = std::str::from_utf8(bytes).map_err(|e| not_utf8(bytes, e.valid_up_to()))?;
    let mut scratch = Scratch {
        arena,
        items: Vec::new(),
        entries: Vec::new(),
        flag_hashes: Vec::new(),
        segment_hashes: Vec::new(),
        found: None,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    // Our own depth limit replaces serde_json's fixed 128 so that the error is
    // ours and the limit documented; serde_json's remains as a backstop.
    let seed = GuardSeed {
        depth: 0,
        max_depth,
        role: Role::Plain,
        scratch: &mut scratch,
        hash: None,
    };
    let result = seed.deserialize(&mut de).and_then(|v| de.end().map(|_| v));
    match result {
        Ok(tree) => Ok(Guarded {
            tree,
            flag_hashes: scratch.flag_hashes,
            segment_hashes: scratch.segment_hashes,
        }),
        Err(e) => Err(match scratch.found {
            Some(GuardError::DuplicateKey { path, key }) if path.is_empty() => {
                GuardError::DuplicateKey {
                    path: "(document)".to_owned(),
                    key,
                }
            }
            Some(found) => found,
            None => GuardError::Syntax {
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            },
        }),
    }
}

/// A syntax error at the first byte that is not UTF-8.
fn not_utf8(bytes: &[u8], at: usize) -> GuardError {
    let before = &bytes[..at];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    GuardError::Syntax {
        line: before.iter().filter(|&&b| b == b'\n').count() + 1,
        column: at - line_start + 1,
        message: format!("invalid UTF-8 at byte {at}"),
    }
}

/// State shared by every level of one parse.
struct Scratch<'de> {
    /// Where the tree's strings with escapes, arrays and objects are kept.
    arena: &'de Bump,
    /// Elements of the arrays being parsed, innermost last.
    items: Vec<Value<'de>>,
    /// Entries of the objects being parsed, innermost last.
    entries: Vec<(&'de str, Value<'de>)>,
    flag_hashes: Vec<u64>,
    segment_hashes: Vec<u64>,
    /// The guard's own error, when it failed the parse.
    found: Option<GuardError>,
}

impl Scratch<'_> {
    /// Puts `segment` in front of the path of a duplicate-key error coming up
    /// from inside it (`segment` is `key` or `[i]`).
    fn prefix_path(&mut self, segment: fmt::Arguments<'_>) {
        if let Some(GuardError::DuplicateKey { path, .. }) = &mut self.found {
            let joiner = if path.is_empty() || path.starts_with('[') {
                ""
            } else {
                "."
            };
            *path = format!("{segment}{joiner}{path}");
        }
    }
}

/// What the entries of an object are, for fingerprinting.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Any other value.
    Plain,
    /// The top-level `flags` object: each entry gets a fingerprint.
    Flags,
    /// The top-level `segments` object: each entry gets a fingerprint.
    Segments,
}

struct GuardSeed<'s, 'de> {
    depth: usize,
    max_depth: usize,
    role: Role,
    scratch: &'s mut Scratch<'de>,
    /// The fingerprint being fed, inside a flag or segment.
    hash: Option<&'s mut KeyHasher>,
}

impl<'de> DeserializeSeed<'de> for GuardSeed<'_, 'de> {
    type Value = Value<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// Reads an object key, borrowed from the input when it has no escapes and
/// copied into the arena when it has.
struct KeySeed<'de>(&'de Bump);

impl<'de> DeserializeSeed<'de> for KeySeed<'de> {
    type Value = &'de str;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<&'de str, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'de> {
    type Value = &'de str;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<&'de str, E> {
        Ok(v)
    }
    fn visit_str<E>(self, v: &str) -> Result<&'de str, E> {
        Ok(self.0.alloc_str(v))
    }
}

/// Objects up to this size are checked for duplicate keys by a scan as
/// each key arrives; larger ones by sorting once at the end.
const SCAN_LIMIT: usize = 32;

// Tags fed to a fingerprint before each token, so that different shapes
// with the same bytes hash differently.
const TAG_NULL: u8 = 0;
const TAG_BOOL: u8 = 1;
const TAG_UINT: u8 = 2;
const TAG_STRING: u8 = 3;
const TAG_ARRAY: u8 = 4;
const TAG_OBJECT: u8 = 5;
const TAG_INT: u8 = 6;
const TAG_FLOAT: u8 = 7;
const TAG_END: u8 = 8;

impl<'de> GuardSeed<'_, 'de> {
    fn fail<E: serde::de::Error>(&mut self, err: GuardError) -> E {
        let message = format!("{err:?}");
        self.scratch.found = Some(err);
        E::custom(message)
    }

    fn child(&mut self, role: Role) -> GuardSeed<'_, 'de> {
        GuardSeed {
            depth: self.depth + 1,
            max_depth: self.max_depth,
            role,
            scratch: self.scratch,
            hash: self.hash.as_deref_mut(),
        }
    }

    fn feed(&mut self, tag: u8, bytes: &[u8]) {
        if let Some(h) = self.hash.as_deref_mut() {
            h.write_u8(tag);
            h.write(bytes);
        }
    }

    fn check_depth<E: serde::de::Error>(&mut self) -> Result<(), E> {
        if self.depth >= self.max_depth {
            let limit = self.max_depth;
            return Err(self.fail(GuardError::TooDeep { limit }));
        }
        Ok(())
    }

    /// Parses one object value, fingerprinting it when this object is the
    /// top-level `flags` or `segments` map.
    fn entry_value<A: MapAccess<'de>>(
        &mut self,
        map: &mut A,
        key: &str,
    ) -> Result<Value<'de>, A::Error> {
        let role = match (self.depth, key) {
            (0, "flags") => Role::Flags,
            (0, "segments") => Role::Segments,
            _ => Role::Plain,
        };
        if self.role == Role::Plain {
            return map.next_value_seed(self.child(role));
        }
        let mut hash = KeyHasher::default();
        let value = map.next_value_seed(GuardSeed {
            depth: self.depth + 1,
            max_depth: self.max_depth,
            role,
            scratch: self.scratch,
            hash: Some(&mut hash),
        })?;
        let sums = match self.role {
            Role::Flags => &mut self.scratch.flag_hashes,
            _ => &mut self.scratch.segment_hashes,
        };
        sums.push(hash.finish());
        Ok(value)
    }
}

impl<'de> Visitor<'de> for GuardSeed<'_, 'de> {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(mut self, v: bool) -> Result<Value<'de>, E> {
        self.feed(TAG_BOOL, &[u8::from(v)]);
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(mut self, v: i64) -> Result<Value<'de>, E> {
        Ok(Value::Number(match u64::try_from(v) {
            Ok(u) => {
                self.feed(TAG_UINT, &u.to_le_bytes());
                Number::Pos(u)
            }
            Err(_) => {
                self.feed(TAG_INT, &v.to_le_bytes());
                Number::Neg(v)
            }
        }))
    }
    fn visit_u64<E>(mut self, v: u64) -> Result<Value<'de>, E> {
        self.feed(TAG_UINT, &v.to_le_bytes());
        Ok(Value::Number(Number::Pos(v)))
    }
    fn visit_f64<E>(mut self, v: f64) -> Result<Value<'de>, E> {
        // serde_json never yields NaN or infinity; refuse them anyway.
        Ok(if v.is_finite() {
            self.feed(TAG_FLOAT, &v.to_bits().to_le_bytes());
            Value::Number(Number::Float(v))
        } else {
            self.feed(TAG_NULL, &[]);
            Value::Null
        })
    }
    fn visit_borrowed_str<E>(mut self, v: &'de str) -> Result<Value<'de>, E> {
        self.feed(TAG_STRING, v.as_bytes());
        Ok(Value::String(v))
    }
    fn visit_str<E>(mut self, v: &str) -> Result<Value<'de>, E> {
        self.feed(TAG_STRING, v.as_bytes());
        Ok(Value::String(self.scratch.arena.alloc_str(v)))
    }
    fn visit_unit<E>(mut self) -> Result<Value<'de>, E> {
        self.feed(TAG_NULL, &[]);
        Ok(Value::Null)
    }
    fn visit_none<E>(mut self) -> Result<Value<'de>, E> {
        self.feed(TAG_NULL, &[]);
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Value<'de>, A::Error> {
        self.check_depth()?;
        self.feed(TAG_ARRAY, &[]);
        let start = self.scratch.items.len();
        loop {
            match seq.next_element_seed(self.child(Role::Plain)) {
                Ok(Some(v)) => self.scratch.items.push(v),
                Ok(None) => break,
                Err(e) => {
                    let index = self.scratch.items.len() - start;
                    self.scratch.prefix_path(format_args!("[{index}]"));
                    return Err(e);
                }
            }
        }
        let count = self.scratch.items.len() - start;
        self.feed(TAG_END, &count.to_le_bytes());
        let items = self
            .scratch
            .arena
            .alloc_slice_copy(&self.scratch.items[start..]);
        self.scratch.items.truncate(start);
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Value<'de>, A::Error> {
        self.check_depth()?;
        self.feed(TAG_OBJECT, &[]);
        let start = self.scratch.entries.len();
        while let Some(key) = map.next_key_seed(KeySeed(self.scratch.arena))? {
            let siblings = &self.scratch.entries[start..];
            if siblings.len() < SCAN_LIMIT && siblings.iter().any(|(k, _)| *k == key) {
                let key = key.to_owned();
                return Err(self.fail(GuardError::DuplicateKey {
                    path: String::new(),
                    key,
                }));
            }
            // The key's length goes first so `"ab": "c"` and `"a": "bc"` differ.
            self.feed(TAG_STRING, &key.len().to_le_bytes());
            self.feed(TAG_STRING, key.as_bytes());
            match self.entry_value(&mut map, key) {
                Ok(value) => self.scratch.entries.push((key, value)),
                Err(e) => {
                    self.scratch.prefix_path(format_args!("{key}"));
                    return Err(e);
                }
            }
        }
        let entries = &self.scratch.entries[start..];
        if entries.len() > SCAN_LIMIT {
            let mut order: Vec<usize> = (0..entries.len()).collect();
            order.sort_unstable_by(|&a, &b| entries[a].0.cmp(&entries[b].0));
            if let Some(w) = order
                .windows(2)
                .find(|w| entries[w[0]].0 == entries[w[1]].0)
            {
                let key = entries[w[1]].0.to_string();
                return Err(self.fail(GuardError::DuplicateKey {
                    path: String::new(),
                    key,
                }));
            }
        }
        let count = entries.len();
        self.feed(TAG_END, &count.to_le_bytes());
        let entries = self
            .scratch
            .arena
            .alloc_slice_copy(&self.scratch.entries[start..]);
        self.scratch.entries.truncate(start);
        Ok(Value::Object(Map(entries)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_guarded_for_test(bytes: &[u8], max_depth: usize) -> Result<(), GuardError> {
        parse_guarded(bytes, &Bump::new(), max_depth).map(|_| ())
    }

    fn hashes(doc: &str) -> (Vec<u64>, Vec<u64>) {
        let arena = Bump::new();
        let g = parse_guarded(doc.as_bytes(), &arena, 32).unwrap();
        (g.flag_hashes, g.segment_hashes)
    }

    #[test]
    fn duplicate_keys_are_refused_with_their_path() {
        let err = parse_guarded_for_test(br#"{"flags": {"a": {"x": 1, "x": 2}}}"#, 32).unwrap_err();
        assert_eq!(
            err,
            GuardError::DuplicateKey {
                path: "flags.a".into(),
                key: "x".into()
            }
        );
    }

    #[test]
    fn duplicate_key_paths_name_arrays_and_the_document() {
        let err = parse_guarded_for_test(
            br#"{"flags": {"a": {"rules": [{}, {"clauses": [{"op": 1, "op": 2}]}]}}}"#,
            32,
        )
        .unwrap_err();
        assert_eq!(
            err,
            GuardError::DuplicateKey {
                path: "flags.a.rules[1].clauses[0]".into(),
                key: "op".into()
            }
        );
        let err = parse_guarded_for_test(br#"{"version": 1, "version": 2}"#, 32).unwrap_err();
        assert_eq!(
            err,
            GuardError::DuplicateKey {
                path: "(document)".into(),
                key: "version".into()
            }
        );
        let err = parse_guarded_for_test(br#"[[{"k": 1, "k": 1}]]"#, 32).unwrap_err();
        assert_eq!(
            err,
            GuardError::DuplicateKey {
                path: "[0][0]".into(),
                key: "k".into()
            }
        );
    }

    #[test]
    fn large_objects_refuse_duplicates_too() {
        let mut doc = String::from(r#"{"flags": {"#);
        for i in 0..100 {
            doc.push_str(&format!(r#""f{i}": {{}}, "#));
        }
        doc.push_str(r#""f7": {}}}"#);
        let err = parse_guarded_for_test(doc.as_bytes(), 32).unwrap_err();
        assert_eq!(
            err,
            GuardError::DuplicateKey {
                path: "flags".into(),
                key: "f7".into()
            }
        );
    }

    #[test]
    fn fingerprints_follow_content_not_layout() {
        let (a, sa) = hashes(
            r#"{"flags": {"x": {"on": true, "n": [1, -2, 0.5, null, "s"]}, "y": {}}, "segments": {"s": {"k": "v"}}}"#,
        );
        assert_eq!((a.len(), sa.len()), (2, 1));
        // Whitespace and the other flags do not matter.
        let (b, sb) = hashes(
            "{\"segments\": {\"s\": {\"k\":\"v\"}}, \"flags\": {\"z\": 1,\n \"x\": { \"on\" : true , \"n\": [1,-2,0.5,null,\"s\"] } } }",
        );
        assert_eq!(b[1], a[0]);
        assert_eq!(sb, sa);
        // Any change of a token does.
        for changed in [
            r#"{"flags": {"x": {"on": false, "n": [1, -2, 0.5, null, "s"]}}}"#,
            r#"{"flags": {"x": {"on": true, "n": [1, -2, 0.5, null, "t"]}}}"#,
            r#"{"flags": {"x": {"on": true, "n": [1, 2, 0.5, null, "s"]}}}"#,
            r#"{"flags": {"x": {"on": true, "n": [1, -2, 0.25, null, "s"]}}}"#,
            r#"{"flags": {"x": {"on": true, "n": [1, -2, 0.5, "s"]}}}"#,
            r#"{"flags": {"x": {"on": true, "n": [[1, -2, 0.5, null, "s"]]}}}"#,
            r#"{"flags": {"x": {"om": true, "n": [1, -2, 0.5, null, "s"]}}}"#,
        ] {
            assert_ne!(hashes(changed).0[0], a[0], "{changed}");
        }
        // Key and value boundaries are part of the hash.
        assert_ne!(
            hashes(r#"{"flags": {"x": {"ab": "c"}}}"#).0,
            hashes(r#"{"flags": {"x": {"a": "bc"}}}"#).0
        );
        // Only the top-level `flags` and `segments` are fingerprinted.
        assert_eq!(hashes(r#"{"x": {"flags": {"a": 1}}}"#).0.len(), 0);
    }

    #[test]
    fn input_that_is_not_utf8_is_a_syntax_error_with_its_position() {
        match parse_guarded_for_test(b"{\n  \"a\": \"\xff\"}", 32).unwrap_err() {
            GuardError::Syntax {
                line,
                column,
                message,
            } => {
                assert_eq!((line, column), (2, 9));
                assert!(message.contains("UTF-8"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn escaped_strings_and_keys_are_decoded() {
        let arena = Bump::new();
        let g = parse_guarded(br#"{"k\u00e9y": ["a\nb", "plain"]}"#, &arena, 32).unwrap();
        let Value::Object(m) = g.tree else {
            panic!("object expected")
        };
        assert_eq!(
            m.get("k\u{e9}y"),
            Some(&Value::Array(&[
                Value::String("a\nb"),
                Value::String("plain")
            ]))
        );
    }

    #[test]
    fn depth_is_limited() {
        let deep = "[".repeat(40) + &"]".repeat(40);
        assert_eq!(
            parse_guarded_for_test(deep.as_bytes(), 32).unwrap_err(),
            GuardError::TooDeep { limit: 32 }
        );
        let ok = "[".repeat(10) + &"]".repeat(10);
        assert!(parse_guarded_for_test(ok.as_bytes(), 32).is_ok());
    }

    #[test]
    fn syntax_errors_carry_position() {
        match parse_guarded_for_test(b"{\n  \"a\": tru }", 32).unwrap_err() {
            GuardError::Syntax { line, .. } => assert_eq!(line, 2),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            parse_guarded_for_test(b"{} trailing", 32),
            Err(GuardError::Syntax { .. })
        ));
    }
}

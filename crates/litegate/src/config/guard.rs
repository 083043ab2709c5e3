//! First pass over untrusted bytes: JSON syntax, nesting depth and duplicate
//! keys, in one streaming pass that builds the `serde_json::Value` tree.
//!
//! `serde_json::Value` silently keeps the last of two equal keys, which would
//! let a hostile or careless document hide a second definition of a flag; this
//! pass refuses that instead.

use super::tree::{Map, Number, Value};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

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

/// Parses `bytes` into a JSON tree, refusing duplicate keys and nesting deeper
/// than `max_depth`.
///
/// Duplicates are checked by a scan for small objects and by sorting key
/// indices for large ones (the `flags` map), so no key is hashed.
pub(crate) fn parse_guarded(bytes: &[u8], max_depth: usize) -> Result<Value<'_>, GuardError> {
    let found: RefCell<Option<GuardError>> = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    // Our own depth limit replaces serde_json's fixed 128 so that the error is
    // ours and the limit documented; serde_json's remains as a backstop.
    let seed = GuardSeed {
        depth: 0,
        max_depth,
        path: &mut String::new(),
        found: &found,
    };
    let result = seed.deserialize(&mut de).and_then(|v| de.end().map(|_| v));
    match result {
        Ok(v) => Ok(v),
        Err(e) => Err(found.into_inner().unwrap_or(GuardError::Syntax {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })),
    }
}

struct GuardSeed<'a> {
    depth: usize,
    max_depth: usize,
    path: &'a mut String,
    found: &'a RefCell<Option<GuardError>>,
}

impl<'de> DeserializeSeed<'de> for GuardSeed<'_> {
    type Value = Value<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// Appends `[i]` without going through the formatting machinery (this runs
/// for every array element of every document).
fn push_index(path: &mut String, i: usize) {
    let mut digits = [0u8; 20];
    let mut n = i;
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    path.push('[');
    path.extend(digits[at..].iter().map(|d| char::from(*d)));
    path.push(']');
}

/// Reads an object key, borrowed from the input when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Cow<'de, str>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v))
    }
}

/// Objects up to this size are checked for duplicate keys by a scan as
/// each key arrives; larger ones by sorting once at the end.
const SCAN_LIMIT: usize = 32;

impl GuardSeed<'_> {
    fn object_path(&self, base: usize) -> String {
        if base == 0 {
            "(document)".to_owned()
        } else {
            self.path[..base].to_owned()
        }
    }

    fn fail<E: serde::de::Error>(&self, err: GuardError) -> E {
        let message = format!("{err:?}");
        *self.found.borrow_mut() = Some(err);
        E::custom(message)
    }

    fn child(&mut self) -> GuardSeed<'_> {
        GuardSeed {
            depth: self.depth + 1,
            max_depth: self.max_depth,
            path: self.path,
            found: self.found,
        }
    }
}

impl<'de> Visitor<'de> for GuardSeed<'_> {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value<'de>, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value<'de>, E> {
        Ok(Value::Number(match u64::try_from(v) {
            Ok(u) => Number::Pos(u),
            Err(_) => Number::Neg(v),
        }))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value<'de>, E> {
        Ok(Value::Number(Number::Pos(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value<'de>, E> {
        // serde_json never yields NaN or infinity; refuse them anyway.
        Ok(if v.is_finite() {
            Value::Number(Number::Float(v))
        } else {
            Value::Null
        })
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Value<'de>, E> {
        Ok(Value::String(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<Value<'de>, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value<'de>, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Value<'de>, A::Error> {
        if self.depth >= self.max_depth {
            return Err(self.fail(GuardError::TooDeep {
                limit: self.max_depth,
            }));
        }
        let mut out = Vec::new();
        let base = self.path.len();
        loop {
            push_index(self.path, out.len());
            let next = seq.next_element_seed(self.child())?;
            self.path.truncate(base);
            match next {
                Some(v) => out.push(v),
                None => break,
            }
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Value<'de>, A::Error> {
        if self.depth >= self.max_depth {
            return Err(self.fail(GuardError::TooDeep {
                limit: self.max_depth,
            }));
        }
        let mut out: Vec<(Cow<'de, str>, Value<'de>)> = Vec::new();
        let base = self.path.len();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if out.len() < SCAN_LIMIT && out.iter().any(|(k, _)| **k == *key) {
                return Err(self.fail(GuardError::DuplicateKey {
                    path: self.object_path(base),
                    key: key.into_owned(),
                }));
            }
            if base > 0 {
                self.path.push('.');
            }
            self.path.push_str(&key);
            let value = map.next_value_seed(self.child())?;
            self.path.truncate(base);
            out.push((key, value));
        }
        if out.len() > SCAN_LIMIT {
            let mut order: Vec<usize> = (0..out.len()).collect();
            order.sort_unstable_by(|&a, &b| out[a].0.cmp(&out[b].0));
            if let Some(w) = order.windows(2).find(|w| out[w[0]].0 == out[w[1]].0) {
                let key = out[w[1]].0.to_string();
                return Err(self.fail(GuardError::DuplicateKey {
                    path: self.object_path(base),
                    key,
                }));
            }
        }
        let out = Map(out);
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_with_their_path() {
        let err = parse_guarded(br#"{"flags": {"a": {"x": 1, "x": 2}}}"#, 32).unwrap_err();
        assert_eq!(
            err,
            GuardError::DuplicateKey {
                path: "flags.a".into(),
                key: "x".into()
            }
        );
    }

    #[test]
    fn depth_is_limited() {
        let deep = "[".repeat(40) + &"]".repeat(40);
        assert_eq!(
            parse_guarded(deep.as_bytes(), 32).unwrap_err(),
            GuardError::TooDeep { limit: 32 }
        );
        let ok = "[".repeat(10) + &"]".repeat(10);
        assert!(parse_guarded(ok.as_bytes(), 32).is_ok());
    }

    #[test]
    fn syntax_errors_carry_position() {
        match parse_guarded(b"{\n  \"a\": tru }", 32).unwrap_err() {
            GuardError::Syntax { line, .. } => assert_eq!(line, 2),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            parse_guarded(b"{} trailing", 32),
            Err(GuardError::Syntax { .. })
        ));
    }
}

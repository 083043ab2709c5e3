//! A lean JSON tree for config parsing.
//!
//! `serde_json::Value` with `preserve_order` hashes every object key with
//! SipHash on insert and lookup and allocates an index table per object;
//! config objects are small (a handful of keys), so a slice of pairs
//! scanned linearly is cheaper to build, read and drop. Every string, array
//! and object lives either in the input (strings without escapes) or in one
//! bump arena that the parse owns, so the tree is `Copy`, building it costs
//! no per-node `malloc`, and freeing it is freeing a few arena chunks: on a
//! 1,000-flag document that was tens of thousands of allocations and frees.
//! Values the SDK hands on (JSON flag variations, top-level sections) are
//! converted to `serde_json::Value`.

/// A JSON number as written: integers stay exact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    /// A negative integer.
    Neg(i64),
    /// A non-negative integer.
    Pos(u64),
    /// Anything with a fraction or exponent.
    Float(f64),
}

/// A JSON value, borrowing from the input and the parse's arena.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(&'a str),
    Array(&'a [Value<'a>]),
    Object(Map<'a>),
}

/// A JSON object: key-value pairs in document order.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Map<'a>(pub(crate) &'a [(&'a str, Value<'a>)]);

impl<'a> Map<'a> {
    pub(crate) fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.0.iter().find(|(k, _)| &**k == key).map(|(_, v)| v)
    }

    pub(crate) fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Value<'a>)> {
        self.0.iter().map(|(k, v)| (&**k, v))
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| &**k)
    }
}

impl<'m, 'a> IntoIterator for &'m Map<'a> {
    type Item = (&'m str, &'m Value<'a>);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'m, (&'a str, Value<'a>)>,
        fn(&'m (&'a str, Value<'a>)) -> (&'m str, &'m Value<'a>),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (&**k, v))
    }
}

impl Map<'_> {
    /// The pairs whose keys are not in `skip`, as a `serde_json` map.
    pub(crate) fn to_serde_without(
        self,
        skip: &[&str],
    ) -> serde_json::Map<String, serde_json::Value> {
        self.iter()
            .filter(|(k, _)| !skip.contains(k))
            .map(|(k, v)| (k.to_owned(), v.to_serde()))
            .collect()
    }
}

impl Number {
    pub(crate) fn as_i64(&self) -> Option<i64> {
        Value::Number(*self).as_i64()
    }

    pub(crate) fn as_f64(&self) -> Option<f64> {
        Value::Number(*self).as_f64()
    }
}

impl<'a> std::ops::Index<&str> for Map<'a> {
    type Output = Value<'a>;

    /// Callers index only keys they have just seen with `contains_key`.
    fn index(&self, key: &str) -> &Value<'a> {
        const NULL: Value<'static> = Value::Null;
        self.get(key).unwrap_or(&NULL)
    }
}

impl Value<'_> {
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(Number::Neg(i)) => Some(*i as f64),
            Value::Number(Number::Pos(u)) => Some(*u as f64),
            Value::Number(Number::Float(f)) => Some(*f),
            _ => None,
        }
    }

    pub(crate) fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(Number::Pos(u)) => Some(*u),
            _ => None,
        }
    }

    pub(crate) fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(Number::Neg(i)) => Some(*i),
            Value::Number(Number::Pos(u)) => i64::try_from(*u).ok(),
            _ => None,
        }
    }

    /// The value as `serde_json::Value`, for what leaves the parser.
    pub(crate) fn to_serde(self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(b),
            Value::Number(Number::Neg(i)) => serde_json::Value::from(i),
            Value::Number(Number::Pos(u)) => serde_json::Value::from(u),
            Value::Number(Number::Float(f)) => serde_json::Number::from_f64(f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::Array(a) => serde_json::Value::Array(a.iter().map(|v| v.to_serde()).collect()),
            Value::Object(m) => serde_json::Value::Object(
                m.iter()
                    .map(|(k, v)| (k.to_owned(), v.to_serde()))
                    .collect(),
            ),
        }
    }
}

impl std::fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_serde())
    }
}

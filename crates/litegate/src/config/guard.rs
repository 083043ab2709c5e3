//! First pass over untrusted bytes: JSON syntax (RFC 8259, strictly), nesting
//! depth and duplicate keys, in one pass that builds the lean [`Value`] tree
//! and the change fingerprints of every flag and segment.
//!
//! `serde_json::Value` silently keeps the last of two equal keys, which would
//! let a hostile or careless document hide a second definition of a flag; this
//! pass refuses that instead.
//!
//! This pass is most of the cost of starting from a persisted document, so it
//! is a small purpose-built parser rather than a `serde` visitor (which spent
//! most of its time in per-token dispatch), and it avoids work a valid
//! document does not need:
//! - the input is checked to be UTF-8 once, up front, so strings are sliced
//!   out of it without being validated one by one;
//! - strings without escapes borrow from the input; containers are collected
//!   on two shared scratch stacks and copied once into the parse's arena at
//!   their exact size (no `malloc` per node);
//! - the path of an error is assembled only when there is an error, as it
//!   travels back up the recursion (nothing is tracked on the happy path);
//! - a flag's fingerprint is a hash of its exact bytes in the document
//!   (XXH3, a few hundred bytes per flag), not a walk over its parsed tree.
//!   A flag reformatted but unchanged therefore reads as changed: a spurious
//!   listener call when a publisher changes its JSON layout, never a missed
//!   one.
//!
//! It accepts and refuses exactly what `serde_json` does, apart from the
//! duplicate keys and depth limit above (checked by a differential test).

use super::tree::{Map, Number, Value};
use bumpalo::Bump;

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

/// Nesting is capped here whatever the configured limit, so that a generous
/// limit cannot let a hostile document overflow this recursive parser's
/// stack (the same backstop `serde_json` has).
const HARD_MAX_DEPTH: usize = 128;

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
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        syntax_error(bytes, at, &format!("invalid UTF-8 at byte {at}"))
    })?;
    let mut p = Parser {
        text,
        bytes,
        pos: 0,
        arena,
        max_depth: max_depth.min(HARD_MAX_DEPTH),
        items: Vec::new(),
        entries: Vec::new(),
        flag_hashes: Vec::new(),
        segment_hashes: Vec::new(),
        unescaped: String::new(),
    };
    p.skip_ws();
    let parsed = p.value(0, Role::Plain).and_then(|tree| {
        p.skip_ws();
        if p.pos < bytes.len() {
            Err(Fail::Syntax("trailing characters after the document"))
        } else {
            Ok(tree)
        }
    });
    match parsed {
        Ok(tree) => Ok(Guarded {
            tree,
            flag_hashes: p.flag_hashes,
            segment_hashes: p.segment_hashes,
        }),
        Err(Fail::Syntax(message)) => Err(syntax_error(bytes, p.pos, message)),
        Err(Fail::Guard(GuardError::DuplicateKey { path, key })) if path.is_empty() => {
            Err(GuardError::DuplicateKey {
                path: "(document)".to_owned(),
                key,
            })
        }
        Err(Fail::Guard(e)) => Err(e),
    }
}

/// A syntax error at byte offset `at`, with its 1-based line and column.
fn syntax_error(bytes: &[u8], at: usize, message: &str) -> GuardError {
    let before = &bytes[..at.min(bytes.len())];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.len() - line_start + 1;
    GuardError::Syntax {
        line,
        column,
        message: format!("{message} at line {line} column {column}"),
    }
}

/// Why the parse stopped; positions are added once, at the top.
enum Fail {
    Syntax(&'static str),
    Guard(GuardError),
}

impl Fail {
    /// Puts `segment` (`key` or `[i]`) in front of the path of a duplicate
    /// key found inside it.
    fn under(mut self, segment: std::fmt::Arguments<'_>) -> Fail {
        if let Fail::Guard(GuardError::DuplicateKey { path, .. }) = &mut self {
            let joiner = if path.is_empty() || path.starts_with('[') {
                ""
            } else {
                "."
            };
            *path = format!("{segment}{joiner}{path}");
        }
        self
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

/// Objects up to this size are checked for duplicate keys by a scan as
/// each key arrives; larger ones by sorting once at the end.
const SCAN_LIMIT: usize = 32;

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// Where strings with escapes, arrays and objects are kept.
    arena: &'a Bump,
    max_depth: usize,
    /// Elements of the arrays being parsed, innermost last.
    items: Vec<Value<'a>>,
    /// Entries of the objects being parsed, innermost last.
    entries: Vec<(&'a str, Value<'a>)>,
    flag_hashes: Vec<u64>,
    segment_hashes: Vec<u64>,
    /// Reused buffer for decoding strings with escapes.
    unescaped: String,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// The input between two offsets that fall on ASCII bytes (so on
    /// character boundaries).
    fn slice(&self, start: usize, end: usize) -> Result<&'a str, Fail> {
        self.text
            .get(start..end)
            .ok_or(Fail::Syntax("invalid string boundary"))
    }

    fn value(&mut self, depth: usize, role: Role) -> Result<Value<'a>, Fail> {
        match self.peek() {
            Some(b'{') => self.object(depth, role),
            Some(b'[') => self.array(depth),
            Some(b'"') => {
                self.pos += 1;
                Ok(Value::String(self.string()?))
            }
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(Fail::Syntax("expected a value")),
            None => Err(Fail::Syntax("unexpected end of input")),
        }
    }

    fn literal(&mut self, word: &[u8], value: Value<'a>) -> Result<Value<'a>, Fail> {
        if !self.bytes[self.pos..].starts_with(word) {
            return Err(Fail::Syntax("expected a value"));
        }
        self.pos += word.len();
        Ok(value)
    }

    /// After an array element or object entry: a `,` (more follow) or the
    /// closing byte (`Ok(true)`), with whitespace around either.
    fn closes_after_item(&mut self, close: u8, expected: &'static str) -> Result<bool, Fail> {
        self.skip_ws();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                self.skip_ws();
                Ok(false)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) => Err(Fail::Syntax(expected)),
            None => Err(Fail::Syntax("unexpected end of input")),
        }
    }

    fn check_depth(&self, depth: usize) -> Result<(), Fail> {
        if depth >= self.max_depth {
            return Err(Fail::Guard(GuardError::TooDeep {
                limit: self.max_depth,
            }));
        }
        Ok(())
    }

    fn array(&mut self, depth: usize) -> Result<Value<'a>, Fail> {
        self.check_depth(depth)?;
        self.pos += 1;
        self.skip_ws();
        let start = self.items.len();
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            loop {
                let index = self.items.len() - start;
                let item = self
                    .value(depth + 1, Role::Plain)
                    .map_err(|f| f.under(format_args!("[{index}]")))?;
                self.items.push(item);
                if self.closes_after_item(b']', "expected `,` or `]`")? {
                    break;
                }
            }
        }
        let items = self.arena.alloc_slice_copy(&self.items[start..]);
        self.items.truncate(start);
        Ok(Value::Array(items))
    }

    fn object(&mut self, depth: usize, role: Role) -> Result<Value<'a>, Fail> {
        self.check_depth(depth)?;
        self.pos += 1;
        self.skip_ws();
        let start = self.entries.len();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                match self.peek() {
                    Some(b'"') => self.pos += 1,
                    Some(_) => return Err(Fail::Syntax("expected a string key")),
                    None => return Err(Fail::Syntax("unexpected end of input")),
                }
                let key = self.string()?;
                let siblings = &self.entries[start..];
                if siblings.len() < SCAN_LIMIT && siblings.iter().any(|(k, _)| *k == key) {
                    return Err(Fail::Guard(GuardError::DuplicateKey {
                        path: String::new(),
                        key: key.to_owned(),
                    }));
                }
                self.skip_ws();
                if self.peek() != Some(b':') {
                    return Err(Fail::Syntax("expected `:` after an object key"));
                }
                self.pos += 1;
                self.skip_ws();
                let value = self
                    .entry_value(depth, role, key)
                    .map_err(|f| f.under(format_args!("{key}")))?;
                self.entries.push((key, value));
                if self.closes_after_item(b'}', "expected `,` or `}`")? {
                    break;
                }
            }
        }
        let entries = &self.entries[start..];
        if entries.len() > SCAN_LIMIT {
            let mut order: Vec<usize> = (0..entries.len()).collect();
            order.sort_unstable_by(|&a, &b| entries[a].0.cmp(entries[b].0));
            if let Some(w) = order
                .windows(2)
                .find(|w| entries[w[0]].0 == entries[w[1]].0)
            {
                return Err(Fail::Guard(GuardError::DuplicateKey {
                    path: String::new(),
                    key: entries[w[1]].0.to_owned(),
                }));
            }
        }
        let entries = self.arena.alloc_slice_copy(entries);
        self.entries.truncate(start);
        Ok(Value::Object(Map(entries)))
    }

    /// One object value, fingerprinted on its own when the object is the
    /// top-level `flags` or `segments` map.
    fn entry_value(&mut self, depth: usize, role: Role, key: &str) -> Result<Value<'a>, Fail> {
        let child_role = match (depth, key) {
            (0, "flags") => Role::Flags,
            (0, "segments") => Role::Segments,
            _ => Role::Plain,
        };
        let start = self.pos;
        let value = self.value(depth + 1, child_role)?;
        if role != Role::Plain {
            let hash = twox_hash::XxHash3_64::oneshot(&self.bytes[start..self.pos]);
            match role {
                Role::Flags => self.flag_hashes.push(hash),
                _ => self.segment_hashes.push(hash),
            }
        }
        Ok(value)
    }

    /// A string whose opening quote has been consumed.
    fn string(&mut self) -> Result<&'a str, Fail> {
        let start = self.pos;
        let i = find_special(self.bytes, start);
        if self.bytes.get(i) == Some(&b'"') {
            self.pos = i + 1;
            return self.slice(start, i);
        }
        self.string_with_escapes(start, i)
    }

    /// The rare case: escapes (or an error). Decodes into the reused
    /// buffer and copies the result into the arena.
    #[cold]
    #[inline(never)]
    fn string_with_escapes(&mut self, start: usize, i: usize) -> Result<&'a str, Fail> {
        let mut out = std::mem::take(&mut self.unescaped);
        out.clear();
        let decoded = self.unescape(start, i, &mut out);
        let result = decoded.map(|()| &*self.arena.alloc_str(&out));
        self.unescaped = out;
        result
    }

    /// Decodes the rest of a string from `i` (the plain part `start..i`
    /// first) into `out`, leaving `pos` after the closing quote.
    fn unescape(&mut self, start: usize, mut i: usize, out: &mut String) -> Result<(), Fail> {
        let bytes = self.bytes;
        out.push_str(self.slice(start, i)?);
        loop {
            self.pos = i;
            let Some(&b) = bytes.get(i) else {
                return Err(Fail::Syntax("unterminated string"));
            };
            match b {
                b'"' => {
                    self.pos = i + 1;
                    return Ok(());
                }
                b'\\' => {
                    let escaped = match bytes.get(i + 1) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            let (c, len) = unicode_escape(&bytes[i..])?;
                            out.push(c);
                            i += len;
                            continue;
                        }
                        Some(_) => return Err(Fail::Syntax("invalid escape")),
                        None => return Err(Fail::Syntax("unterminated string")),
                    };
                    out.push(escaped);
                    i += 2;
                }
                0..=0x1f => return Err(Fail::Syntax("control character in a string")),
                _ => {
                    let run = i;
                    i = find_special(bytes, i);
                    out.push_str(self.slice(run, i)?);
                }
            }
        }
    }

    fn number(&mut self) -> Result<Value<'a>, Fail> {
        let bytes = self.bytes;
        let start = self.pos;
        let mut i = start;
        let digits = |i: &mut usize| {
            let from = *i;
            while let Some(b'0'..=b'9') = bytes.get(*i) {
                *i += 1;
            }
            *i > from
        };
        let negative = bytes.get(i) == Some(&b'-');
        if negative {
            i += 1;
        }
        match bytes.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                digits(&mut i);
            }
            _ => {
                self.pos = i;
                return Err(Fail::Syntax("invalid number"));
            }
        }
        let mut integral = true;
        if bytes.get(i) == Some(&b'.') {
            integral = false;
            i += 1;
            if !digits(&mut i) {
                self.pos = i;
                return Err(Fail::Syntax("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = bytes.get(i) {
            integral = false;
            i += 1;
            if let Some(b'+' | b'-') = bytes.get(i) {
                i += 1;
            }
            if !digits(&mut i) {
                self.pos = i;
                return Err(Fail::Syntax("invalid number"));
            }
        }
        let text = self.slice(start, i)?;
        if integral {
            let magnitude = if negative { &text[1..] } else { text };
            // Integers that fit stay exact; larger ones become floats (as
            // in serde_json), and so does -0.
            if let Ok(u) = magnitude.parse::<u64>() {
                self.pos = i;
                if !negative {
                    return Ok(Value::Number(Number::Pos(u)));
                }
                if u != 0 && u <= 1 << 63 {
                    return Ok(Value::Number(Number::Neg((u as i64).wrapping_neg())));
                }
            }
        }
        let f: f64 = text.parse().map_err(|_| Fail::Syntax("invalid number"))?;
        if !f.is_finite() {
            self.pos = start;
            return Err(Fail::Syntax("number out of range"));
        }
        self.pos = i;
        Ok(Value::Number(Number::Float(f)))
    }
}

/// The first index from `from` holding a byte that ends the plain part of
/// a string: `"`, `\\` or a control character (or `bytes.len()`). Eight
/// bytes at a time: most strings in a config are short keys and names, and
/// a byte-by-byte scan was the parser's largest cost.
fn find_special(bytes: &[u8], from: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    /// High bit set in each byte of `w` that is zero; the lowest one is
    /// exact (borrows can only mark bytes above a true zero).
    fn zero_bytes(w: u64) -> u64 {
        w.wrapping_sub(ONES) & !w & HIGHS
    }
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let special = zero_bytes(w ^ (ONES * u64::from(b'"')))
            | zero_bytes(w ^ (ONES * u64::from(b'\\')))
            // Bytes below 0x20 (the high-bit test keeps 0x80.. out).
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGHS);
        if special != 0 {
            return i + (special.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        i += 1;
    }
    i
}

/// Decodes `\uXXXX` (and the low half of a surrogate pair after it) at the
/// start of `bytes`: the character and the bytes it took.
fn unicode_escape(bytes: &[u8]) -> Result<(char, usize), Fail> {
    let hex4 = |at: usize| -> Result<u32, Fail> {
        let digits = bytes
            .get(at..at + 4)
            .ok_or(Fail::Syntax("unterminated string"))?;
        let mut n = 0u32;
        for &d in digits {
            let v = (d as char)
                .to_digit(16)
                .ok_or(Fail::Syntax("invalid \\u escape"))?;
            n = n * 16 + v;
        }
        Ok(n)
    };
    let first = hex4(2)?;
    match first {
        0xD800..=0xDBFF => {
            if bytes.get(6..8) != Some(b"\\u") {
                return Err(Fail::Syntax("lone leading surrogate in \\u escape"));
            }
            let second = hex4(8)?;
            if !(0xDC00..=0xDFFF).contains(&second) {
                return Err(Fail::Syntax("invalid surrogate pair in \\u escape"));
            }
            let c = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
            char::from_u32(c)
                .map(|c| (c, 12))
                .ok_or(Fail::Syntax("invalid \\u escape"))
        }
        0xDC00..=0xDFFF => Err(Fail::Syntax("lone trailing surrogate in \\u escape")),
        _ => char::from_u32(first)
            .map(|c| (c, 6))
            .ok_or(Fail::Syntax("invalid \\u escape")),
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
    fn fingerprints_follow_each_flags_own_bytes() {
        let x = r#"{"on": true, "n": [1, -2, 0.5, null, "s"]}"#;
        let (a, sa) = hashes(&format!(
            r#"{{"flags": {{"x": {x}, "y": {{}}}}, "segments": {{"s": {{"k": "v"}}}}}}"#
        ));
        assert_eq!((a.len(), sa.len()), (2, 1));
        // Its position and the other flags and sections do not matter.
        let (b, sb) = hashes(&format!(
            r#"{{"segments": {{"s": {{"k": "v"}}}}, "version": 2, "flags": {{"z": 1, "x": {x}}}}}"#
        ));
        assert_eq!(b[1], a[0]);
        assert_eq!(sb, sa);
        // Any change to it does, layout included (a spurious change notice,
        // never a missed one).
        for changed in [
            r#"{"on": false, "n": [1, -2, 0.5, null, "s"]}"#,
            r#"{"on": true, "n": [1, -2, 0.5, null, "t"]}"#,
            r#"{"on": true, "n": [1, -2, 0.25, null, "s"]}"#,
            r#"{"on": true, "n": [1, -2, 0.5, "s"]}"#,
            r#"{"om": true, "n": [1, -2, 0.5, null, "s"]}"#,
            r#"{"on": true,  "n": [1, -2, 0.5, null, "s"]}"#,
        ] {
            let (c, _) = hashes(&format!(r#"{{"flags": {{"x": {changed}}}}}"#));
            assert_ne!(c[0], a[0], "{changed}");
        }
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

    /// The tree back as `serde_json`, or why not.
    fn ours(bytes: &[u8]) -> Result<serde_json::Value, GuardError> {
        let arena = Bump::new();
        parse_guarded(bytes, &arena, 32).map(|g| g.tree.to_serde())
    }

    /// Equal, with floats allowed to differ in the last bits: `serde_json`
    /// does not promise correctly rounded parsing, Rust's `f64::from_str` does.
    fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
        use serde_json::Value as J;
        match (a, b) {
            (J::Number(x), J::Number(y)) if x.is_f64() || y.is_f64() => {
                let (x, y) = (
                    x.as_f64().unwrap_or(f64::NAN),
                    y.as_f64().unwrap_or(f64::NAN),
                );
                x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
            }
            (J::Array(x), J::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
            }
            (J::Object(x), J::Object(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .zip(y)
                        .all(|((kx, vx), (ky, vy))| kx == ky && same(vx, vy))
            }
            _ => a == b,
        }
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value as J;
        let leaf = prop_oneof![
            Just(J::Null),
            any::<bool>().prop_map(J::Bool),
            any::<i64>().prop_map(J::from),
            any::<u64>().prop_map(J::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(J::from),
            "\\PC{0,12}".prop_map(J::String),
            "[\"\\\\/\u{0}-\u{1f}\u{7f}é€😀a]{0,6}".prop_map(J::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(J::Array),
                prop::collection::vec(("[a-z\"\\\\é\u{1}]{0,4}", inner), 0..6)
                    .prop_map(|kv| J::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]

        /// Whatever serde_json writes, compact or pretty, reads back equal.
        #[test]
        fn reads_back_what_serde_json_writes(v in json_value()) {
            let compact = serde_json::to_vec(&v).expect("serialises");
            let pretty = serde_json::to_vec_pretty(&v).expect("serialises");
            for text in [compact, pretty] {
                let got = ours(&text).map_err(|e| format!("{e:?}"));
                proptest::prop_assert_eq!(got.as_ref(), Ok(&v));
            }
        }

        /// Mangled documents: accepted or refused exactly as serde_json does
        /// (except for our own refusals: duplicate keys and depth), and read
        /// the same when accepted.
        #[test]
        fn accepts_and_refuses_like_serde_json(
            v in json_value(),
            edits in proptest::collection::vec((0usize..10_000, 0usize..3, 0usize..32), 1..4),
        ) {
            const BYTES: &[u8] = b"{}[],:\"\\ \t\n0123456789.eE+-truefalsnu/\x00\x1f\x7f\xc3\xa9\xff";
            let mut text = serde_json::to_vec(&v).expect("serialises");
            for (at, op, pick) in edits {
                let at = at % (text.len() + 1);
                let byte = BYTES[pick % BYTES.len()];
                match op {
                    0 => text.insert(at, byte),
                    1 if at < text.len() => text[at] = byte,
                    _ if at < text.len() => {
                        text.remove(at);
                    }
                    _ => {}
                }
            }
            let theirs = serde_json::from_slice::<serde_json::Value>(&text);
            match (ours(&text), theirs) {
                (Err(GuardError::DuplicateKey { .. } | GuardError::TooDeep { .. }), _) => {}
                (Ok(a), Ok(b)) => proptest::prop_assert!(same(&a, &b), "{a} vs {b}"),
                (Err(GuardError::Syntax { .. }), Err(_)) => {}
                (a, b) => proptest::prop_assert!(
                    false,
                    "disagree on {:?}: ours {:?}, serde_json {:?}",
                    String::from_utf8_lossy(&text),
                    a,
                    b.map_err(|e| e.to_string())
                ),
            }
        }
    }

    #[test]
    fn find_special_agrees_with_a_byte_by_byte_scan() {
        let naive = |bytes: &[u8], from: usize| {
            (from..bytes.len())
                .find(|&i| matches!(bytes[i], b'"' | b'\\' | 0..=0x1f))
                .unwrap_or(bytes.len())
        };
        let plain: &[u8] = b"ab \x7f\xc3\xa9\x20~\xff";
        for len in 0..24 {
            for at in 0..=len {
                for special in [b'"', b'\\', 0x00, 0x1f, b'a', 0x20, 0x80, 0xa2, 0xdc] {
                    let mut bytes: Vec<u8> = (0..len).map(|i| plain[i % plain.len()]).collect();
                    if at < len {
                        bytes[at] = special;
                    }
                    for from in [0, 1.min(len), at] {
                        assert_eq!(
                            find_special(&bytes, from),
                            naive(&bytes, from),
                            "{bytes:?} from {from}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn numbers_read_as_serde_json_reads_them() {
        for (text, expected) in [
            ("0", Value::Number(Number::Pos(0))),
            ("-0", Value::Number(Number::Float(-0.0))),
            ("18446744073709551615", Value::Number(Number::Pos(u64::MAX))),
            (
                "18446744073709551616",
                Value::Number(Number::Float(18446744073709551616.0)),
            ),
            ("-9223372036854775808", Value::Number(Number::Neg(i64::MIN))),
            (
                "-9223372036854775809",
                Value::Number(Number::Float(-9223372036854775809.0)),
            ),
            ("1.5e3", Value::Number(Number::Float(1500.0))),
            ("2E-2", Value::Number(Number::Float(0.02))),
        ] {
            let arena = Bump::new();
            let got = parse_guarded(text.as_bytes(), &arena, 32).map(|g| g.tree);
            assert_eq!(got, Ok(expected), "{text}");
        }
        for bad in [
            "01", "1.", ".5", "-", "+1", "1e", "1e+", "1e400", "-1e400", "0x10", "NaN",
        ] {
            assert!(
                matches!(
                    parse_guarded_for_test(bad.as_bytes(), 32),
                    Err(GuardError::Syntax { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn strings_follow_rfc_8259() {
        let arena = Bump::new();
        let read = |t: &'static str| parse_guarded(t.as_bytes(), &arena, 32).map(|g| g.tree);
        assert_eq!(
            read(r#""\ud83d\ude00 \u00e9 \/ \b\f\n\r\t""#),
            Ok(Value::String("😀 é / \u{8}\u{c}\n\r\t"))
        );
        for bad in [
            "\"\\ud83d\"",
            "\"\\ude00\"",
            "\"\\ud83d\\u0041\"",
            "\"\\x41\"",
            "\"\\u12\"",
            "\"tab\there\"",
            "\"open",
            "\"\\",
        ] {
            assert!(
                matches!(read(bad), Err(GuardError::Syntax { .. })),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn a_generous_depth_limit_still_stops_at_the_backstop() {
        let deep = "[".repeat(5_000) + &"]".repeat(5_000);
        assert_eq!(
            parse_guarded_for_test(deep.as_bytes(), usize::MAX),
            Err(GuardError::TooDeep {
                limit: HARD_MAX_DEPTH
            })
        );
    }
}

//! Clause matching: one operator against one attribute view, no allocation.

use super::context::{AttrView, Context};
use crate::config::{Cidr, Clause, Document, NumCmp, Op, Scalar, Segment};
use std::cmp::Ordering;
use std::net::IpAddr;

/// Whether `clause` holds for `ctx`. A missing attribute or a type mismatch
/// makes the clause false, negated or not.
pub(crate) fn clause_matches(doc: &Document, clause: &Clause, ctx: &Context, now_ms: i64) -> bool {
    if let Op::InSegment(segments) = &clause.op {
        let inside = segments
            .iter()
            .any(|&i| segment_contains(doc, &doc.segments[i], ctx, now_ms));
        return inside != clause.negate;
    }
    if let Op::Present = clause.op {
        // The one clause about presence itself: `absent` holds for a
        // missing attribute.
        return ctx.get(&clause.attribute).is_some() != clause.negate;
    }
    let Some(view) = ctx.get(&clause.attribute) else {
        return false;
    };
    match view_matches(clause, view) {
        Some(m) => m != clause.negate,
        None => false,
    }
}

/// Segment membership: excluded wins, then included, then all clauses.
pub(crate) fn segment_contains(doc: &Document, seg: &Segment, ctx: &Context, now_ms: i64) -> bool {
    let key = ctx.targeting_key.as_str();
    if seg.excluded.contains(key) {
        return false;
    }
    if seg.included.contains(key) {
        return true;
    }
    !seg.clauses.is_empty()
        && seg
            .clauses
            .iter()
            .all(|c| clause_matches(doc, c, ctx, now_ms))
}

/// `Some(result)` when the attribute has a type the operator can compare.
fn view_matches(clause: &Clause, view: AttrView<'_>) -> Option<bool> {
    if let Some(result) = list_op_matches(clause, view) {
        return result;
    }
    match view {
        AttrView::List(items) => {
            any_of(items.iter().map(|i| view_matches(clause, AttrView::of(i))))
        }
        AttrView::StrList(items) => {
            any_of(items.iter().map(|s| view_matches(clause, AttrView::Str(s))))
        }
        _ => scalar_matches(clause, view),
    }
}

/// The operators about a list as a whole (length, contains any / all, list
/// equality): `None` for the other operators, `Some(None)` when the
/// attribute is not a list.
fn list_op_matches(clause: &Clause, view: AttrView<'_>) -> Option<Option<bool>> {
    let ci = clause.case_insensitive;
    let (len, has): (usize, &dyn Fn(&Scalar) -> bool) = match view {
        AttrView::List(items) => (items.len(), &move |x| {
            items.iter().any(|i| scalar_eq(x, AttrView::of(i), ci))
        }),
        AttrView::StrList(items) => (items.len(), &move |x| {
            items.iter().any(|i| scalar_eq(x, AttrView::Str(i), ci))
        }),
        _ => {
            return matches!(
                clause.op,
                Op::Length(..) | Op::ContainsAny(_) | Op::ContainsAll(_) | Op::ListEquals(_)
            )
            .then_some(None)
        }
    };
    Some(Some(match &clause.op {
        Op::Length(cmp, values) => values
            .iter()
            .any(|v| compare((len as f64).partial_cmp(v), *cmp)),
        Op::ContainsAny(values) => values.iter().any(has),
        Op::ContainsAll(values) => values.iter().all(has),
        Op::ListEquals(lists) => lists.iter().any(|list| {
            list.len() == len
                && match view {
                    AttrView::List(items) => list
                        .iter()
                        .zip(items)
                        .all(|(x, i)| scalar_eq(x, AttrView::of(i), ci)),
                    AttrView::StrList(items) => list
                        .iter()
                        .zip(items)
                        .all(|(x, i)| scalar_eq(x, AttrView::Str(i), ci)),
                    _ => false,
                }
        }),
        _ => return None,
    }))
}

/// Whether a clause value equals one list element: same type, no coercion.
fn scalar_eq(value: &Scalar, item: AttrView<'_>, ci: bool) -> bool {
    match (value, item) {
        (Scalar::Str(v), AttrView::Str(s) | AttrView::Version(s, _)) => {
            if ci {
                eq_folded(s, v)
            } else {
                s == &**v
            }
        }
        (Scalar::Num(v), AttrView::Num(n)) => n == *v,
        (Scalar::Bool(v), AttrView::Bool(b)) => b == *v,
        _ => false,
    }
}

/// A list matches if any element matches; it is a mismatch only if no
/// element could be compared at all. An empty list is a present value that
/// holds nothing: no element matches, so `in` is false and `not_in` true.
fn any_of(results: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    let mut results = results.peekable();
    if results.peek().is_none() {
        return Some(false);
    }
    let mut seen = None;
    for r in results {
        match r {
            Some(true) => return Some(true),
            Some(false) => seen = Some(false),
            None => {}
        }
    }
    seen
}

fn as_text<'a>(view: AttrView<'a>) -> Option<&'a str> {
    match view {
        AttrView::Str(s) | AttrView::Version(s, _) => Some(s),
        _ => None,
    }
}

fn scalar_matches(clause: &Clause, view: AttrView<'_>) -> Option<bool> {
    let ci = clause.case_insensitive;
    match &clause.op {
        Op::In(set) => match view {
            AttrView::Str(s) | AttrView::Version(s, _) => Some(if ci {
                set.folded.iter().any(|f| eq_folded(s, f))
            } else {
                set.contains_str(s)
            }),
            AttrView::Num(n) => Some(set.numbers.contains(&n)),
            AttrView::Bool(b) => Some(set.bools.contains(&b)),
            _ => None,
        },
        Op::Equals(values) => as_text(view).map(|s| {
            values
                .iter()
                .any(|v| if ci { eq_folded(s, v) } else { s == &**v })
        }),
        Op::Contains(values) => as_text(view).map(|s| {
            values.iter().any(|v| {
                if ci {
                    contains_folded(s, v)
                } else {
                    s.contains(&**v)
                }
            })
        }),
        Op::StartsWith(values) => as_text(view).map(|s| {
            values.iter().any(|v| {
                if ci {
                    starts_with_folded(s, v)
                } else {
                    s.starts_with(&**v)
                }
            })
        }),
        Op::EndsWith(values) => as_text(view).map(|s| {
            values.iter().any(|v| {
                if ci {
                    ends_with_folded(s, v)
                } else {
                    s.ends_with(&**v)
                }
            })
        }),
        Op::Number(cmp, values) => match view {
            AttrView::Num(n) => Some(values.iter().any(|v| compare(n.partial_cmp(v), *cmp))),
            _ => None,
        },
        Op::Semver(cmp, values) => {
            let parsed;
            let v = match view {
                AttrView::Semver(v) => v,
                AttrView::Version(_, Some(v)) => v,
                AttrView::Str(s) => {
                    parsed = super::parse_semver_lenient(s)?;
                    &parsed
                }
                _ => return None,
            };
            // `semver::Version`'s Ord compares build metadata too; SemVer
            // precedence ignores it, so compare through `cmp_precedence`.
            Some(
                values
                    .iter()
                    .any(|x| compare(Some(cmp_precedence(v, x)), *cmp)),
            )
        }
        Op::Before(times) => time_of(view).map(|t| times.iter().any(|x| t < *x)),
        Op::After(times) => time_of(view).map(|t| times.iter().any(|x| t > *x)),
        Op::Matches(regexes) => as_text(view).map(|s| regexes.iter().any(|r| r.is_match(s))),
        Op::InCidr(nets) => {
            let addr: IpAddr = as_text(view)?.parse().ok()?;
            Some(nets.iter().any(|n| cidr_contains(n, addr)))
        }
        Op::StrOrder(cmp, values) => as_text(view).map(|s| {
            values.iter().any(|v| {
                let ord = if ci {
                    lower(s).cmp(v.chars())
                } else {
                    // `str`'s order is byte order, which for UTF-8 is code
                    // point order.
                    s.cmp(v)
                };
                compare(Some(ord), *cmp)
            })
        }),
        Op::InSegment(_)
        | Op::Present
        | Op::Length(..)
        | Op::ContainsAny(_)
        | Op::ContainsAll(_)
        | Op::ListEquals(_) => None,
    }
}

fn time_of(view: AttrView<'_>) -> Option<i64> {
    match view {
        AttrView::Time(t) => Some(t),
        AttrView::Num(n) if n.is_finite() => Some(n as i64),
        AttrView::Str(s) => crate::config::parse_timestamp_ms(s),
        _ => None,
    }
}

fn compare(ord: Option<Ordering>, cmp: NumCmp) -> bool {
    let Some(ord) = ord else { return false };
    match cmp {
        NumCmp::Eq => ord == Ordering::Equal,
        NumCmp::Lt => ord == Ordering::Less,
        NumCmp::Lte => ord != Ordering::Greater,
        NumCmp::Gt => ord == Ordering::Greater,
        NumCmp::Gte => ord != Ordering::Less,
    }
}

/// SemVer 2.0 precedence: major, minor, patch, then pre-release (a version
/// without one ranks higher); build metadata is ignored.
pub(crate) fn cmp_precedence(a: &semver::Version, b: &semver::Version) -> Ordering {
    (a.major, a.minor, a.patch)
        .cmp(&(b.major, b.minor, b.patch))
        .then_with(|| match (a.pre.is_empty(), b.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            _ => a.pre.cmp(&b.pre),
        })
}

fn cidr_contains(net: &Cidr, addr: IpAddr) -> bool {
    fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
        let full = usize::from(bits / 8);
        let rest = bits % 8;
        if a[..full] != b[..full] {
            return false;
        }
        if rest == 0 {
            return true;
        }
        let mask = 0xffu8 << (8 - rest);
        (a[full] & mask) == (b[full] & mask)
    }
    match (net.addr, addr) {
        (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), net.prefix),
        (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), net.prefix),
        (IpAddr::V6(n), IpAddr::V4(a)) => {
            // An IPv4-mapped network (::ffff:a.b.c.d/n) matches plain IPv4.
            n.to_ipv4_mapped().is_some_and(|n4| {
                net.prefix >= 96 && prefix_eq(&n4.octets(), &a.octets(), net.prefix - 96)
            })
        }
        (IpAddr::V4(_), IpAddr::V6(a)) => a
            .to_ipv4_mapped()
            .is_some_and(|a4| cidr_contains(net, IpAddr::V4(a4))),
    }
}

// Case-insensitive comparisons against an already lower-cased needle,
// lower-casing the haystack char by char so nothing is allocated.
fn lower(s: &str) -> impl DoubleEndedIterator<Item = char> + '_ {
    s.chars().flat_map(char::to_lowercase)
}

fn eq_folded(s: &str, folded: &str) -> bool {
    lower(s).eq(folded.chars())
}

fn starts_with_folded(s: &str, folded: &str) -> bool {
    let mut hay = lower(s);
    folded.chars().all(|c| hay.next() == Some(c))
}

fn ends_with_folded(s: &str, folded: &str) -> bool {
    let mut hay = s.chars().rev().flat_map(|c| c.to_lowercase().rev());
    folded.chars().rev().all(|c| hay.next() == Some(c))
}

fn contains_folded(s: &str, folded: &str) -> bool {
    folded.is_empty()
        || s.char_indices()
            .any(|(i, _)| starts_with_folded(&s[i..], folded))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_cidr;

    #[test]
    fn folded_comparisons() {
        assert!(eq_folded("HeLLo", "hello"));
        assert!(!eq_folded("Hello!", "hello"));
        assert!(starts_with_folded("Pixel 8 Pro", "pixel"));
        assert!(ends_with_folded("Pixel 8 PRO", "pro"));
        assert!(contains_folded("Galaxy S24 Ultra", "s24"));
        assert!(!contains_folded("Galaxy", "s24"));
        assert!(eq_folded("ÉCOLE", "école"));
    }

    #[test]
    fn cidr() {
        let net = parse_cidr("10.1.0.0/16").unwrap();
        assert!(cidr_contains(&net, "10.1.200.3".parse().unwrap()));
        assert!(!cidr_contains(&net, "10.2.0.1".parse().unwrap()));
        let v6 = parse_cidr("2001:db8::/32").unwrap();
        assert!(cidr_contains(&v6, "2001:db8:1::1".parse().unwrap()));
        assert!(!cidr_contains(&v6, "2001:db9::1".parse().unwrap()));
        let odd = parse_cidr("192.168.0.128/25").unwrap();
        assert!(cidr_contains(&odd, "192.168.0.200".parse().unwrap()));
        assert!(!cidr_contains(&odd, "192.168.0.100".parse().unwrap()));
        assert!(cidr_contains(&net, "::ffff:10.1.2.3".parse().unwrap()));
        assert!(parse_cidr("10.0.0.0/33").is_none());
        let all = parse_cidr("0.0.0.0/0").unwrap();
        assert!(cidr_contains(&all, "8.8.8.8".parse().unwrap()));
    }

    #[test]
    fn semver_precedence_ignores_build() {
        let a = semver::Version::parse("1.0.0+a").unwrap();
        let b = semver::Version::parse("1.0.0+b").unwrap();
        assert_eq!(cmp_precedence(&a, &b), Ordering::Equal);
        let pre = semver::Version::parse("1.0.0-rc.1").unwrap();
        assert_eq!(cmp_precedence(&pre, &a), Ordering::Less);
        let alpha = semver::Version::parse("1.0.0-alpha.beta").unwrap();
        let alpha1 = semver::Version::parse("1.0.0-alpha.1").unwrap();
        assert_eq!(cmp_precedence(&alpha1, &alpha), Ordering::Less);
    }
}

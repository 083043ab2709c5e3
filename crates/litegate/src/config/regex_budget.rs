//! One budget for all the regexes of a document.
//!
//! Each pattern is already bounded (`Limits::max_regex_bytes`,
//! `Limits::max_regex_compiled_bytes`), but 10,000 small patterns that each
//! compile to a large program (`\w{5}N`) made a 129 KB document take 3 GB and
//! 38 s. Every regex is charged against `Limits::max_regex_total_bytes`: the
//! compiled-size limit it first compiled under (tried at 4 KiB, then four
//! times larger up to the per-pattern limit, so the charge is at most four
//! times the real size and a failed try stops early) plus its lazy-DFA cache
//! (32 KiB at most). Once the budget is spent nothing more is compiled and
//! the document is refused.

use super::ProblemKind;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What a budget overrun is called in [`ProblemKind::LimitExceeded`].
pub(super) const WHAT: &str = "compiled regex bytes per document";

/// The first compiled-size limit tried for a pattern.
const PROBE_BYTES: usize = 4 * 1024;

/// Largest lazy-DFA cache (and full DFA) one regex may use.
pub const MAX_REGEX_DFA_BYTES: usize = 32 * 1024;

/// The bytes left for the document's regexes, shared by the threads that
/// compile its flags.
pub(super) struct RegexBudget {
    total: usize,
    left: AtomicUsize,
}

impl RegexBudget {
    pub(super) fn new(total: usize) -> Self {
        RegexBudget {
            total,
            left: AtomicUsize::new(total),
        }
    }

    fn over(&self, wanted: usize) -> ProblemKind {
        let used = self.total - self.left.load(Ordering::Relaxed).min(self.total);
        ProblemKind::LimitExceeded {
            what: WHAT,
            limit: self.total,
            found: used.saturating_add(wanted),
        }
    }

    /// Compiles `pattern` within `per_pattern` compiled bytes and what is left
    /// of the document's budget, and charges the budget.
    pub(super) fn compile(
        &self,
        pattern: &str,
        case_insensitive: bool,
        per_pattern: usize,
    ) -> Result<regex::Regex, ProblemKind> {
        let dfa = MAX_REGEX_DFA_BYTES.min(per_pattern);
        let mut limit = PROBE_BYTES.min(per_pattern);
        loop {
            let charge = limit.saturating_add(dfa);
            if charge > self.left.load(Ordering::Relaxed) {
                return Err(self.over(charge));
            }
            let built = regex::RegexBuilder::new(pattern)
                .case_insensitive(case_insensitive)
                .size_limit(limit)
                .dfa_size_limit(dfa)
                .build();
            match built {
                Ok(r) => {
                    let charged =
                        self.left
                            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                                left.checked_sub(charge)
                            });
                    return match charged {
                        Ok(_) => Ok(r),
                        // Another thread spent it meanwhile.
                        Err(_) => Err(self.over(charge)),
                    };
                }
                Err(regex::Error::CompiledTooBig(_)) if limit < per_pattern => {
                    limit = limit.saturating_mul(4).min(per_pattern);
                }
                Err(e) => return Err(ProblemKind::InvalidRegex(e.to_string())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_patterns_cost_the_probe_and_big_ones_more() {
        let b = RegexBudget::new(10 << 20);
        b.compile("^Pixel", false, 256 * 1024).expect("compiles");
        let after_small = b.left.load(Ordering::Relaxed);
        assert_eq!(after_small, (10 << 20) - PROBE_BYTES - MAX_REGEX_DFA_BYTES);
        b.compile(r"\w{5}N", false, 256 * 1024).expect("compiles");
        assert!(after_small - b.left.load(Ordering::Relaxed) > PROBE_BYTES + MAX_REGEX_DFA_BYTES);
    }

    #[test]
    fn a_spent_budget_compiles_nothing_more() {
        let b = RegexBudget::new(PROBE_BYTES + MAX_REGEX_DFA_BYTES);
        b.compile("a", false, 256 * 1024).expect("exactly fits");
        assert!(matches!(
            b.compile("a", false, 256 * 1024),
            Err(ProblemKind::LimitExceeded { what: WHAT, .. })
        ));
    }

    #[test]
    fn a_pattern_over_its_own_limit_is_invalid_not_over_budget() {
        let b = RegexBudget::new(100 << 20);
        assert!(matches!(
            b.compile(r"\w{50}", false, 16 * 1024),
            Err(ProblemKind::InvalidRegex(_))
        ));
    }
}

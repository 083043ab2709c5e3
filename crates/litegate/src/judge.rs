//! The one judgement of a whole rollout document beyond its flags, shared
//! by devices (config delivery refuses what it finds) and tools (`litegate
//! validate` prints it), so that a document the CLI passes is one devices
//! install, and the reverse.
//!
//! Flags are judged by the parser itself: a document-level problem refuses
//! the document, a flag-level one isolates that flag (`PARSE_ERROR`). The
//! sections other modules own are judged here: an invalid `guardrails` or
//! `models` section refuses the whole document, because installing new flags
//! with the previous document's guardrails or manifests would run them
//! unguarded.

use crate::config::{Document, Problem, ProblemKind};

/// Every problem of the `guardrails` and `models` sections of `doc`, with
/// its path; empty when devices would install the document.
pub fn section_problems(doc: &Document) -> Vec<Problem> {
    let mut problems = crate::guardrails::check_guardrails(doc);
    if let Some(models) = doc.section("models") {
        if let Err(errors) = crate::inference::parse_models(models) {
            problems.extend(errors.into_iter().map(|e| Problem {
                path: e.path,
                kind: ProblemKind::Invalid(e.message),
            }));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(extra: &str) -> Document {
        let text = format!(
            r#"{{"format_version": 1, "environment": "production", "version": 1,
              "flags": {{"f": {{"type": "bool", "variations": {{"on": true, "off": false}},
              "off_variation": "off", "fallthrough": {{"variation": "on"}}}}}}{extra}}}"#
        );
        Document::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn invalid_sections_are_problems_with_their_paths() {
        assert!(section_problems(&doc("")).is_empty());
        let unknown_flag = doc(
            r#", "guardrails": {"g": {"target": {"flag": "nope"}, "metric": "error_rate",
               "op": ">", "threshold": 5, "window": {"last": 100}}}"#,
        );
        let problems = section_problems(&unknown_flag);
        assert!(
            problems
                .iter()
                .any(|p| p.path == "guardrails.g.target.flag"),
            "{problems:?}"
        );
        let bad_model = doc(r#", "models": {"m": {"version": 3}}"#);
        let problems = section_problems(&bad_model);
        assert!(
            problems.iter().any(|p| p.path.starts_with("models.m")),
            "{problems:?}"
        );
    }
}

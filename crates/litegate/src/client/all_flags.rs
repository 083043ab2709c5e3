//! Every flag at once on the [`Client`]: for debug screens and for handing
//! the whole state to another layer. Records no exposure.

use super::Client;
use crate::config::FlagValue;
use crate::eval::{Context, Details, Evaluator};

impl Client {
    /// Every flag of the document in use with its details for `ctx` (or the
    /// default context), sorted by key, with overrides and guardrail
    /// disables applied as for a typed read. Records no exposure. Empty
    /// when no document is loaded.
    pub fn all_flags(&self, ctx: Option<&Context>) -> Vec<(String, Details<Option<FlagValue>>)> {
        let Some(doc) = self.shared.delivery.current() else {
            return Vec::new();
        };
        let overrides = self.shared.overrides.load_full();
        let disables = self.shared.guard.disables.load_full();
        let evaluator = Evaluator::new()
            .with_overrides(&overrides)
            .with_disables(&disables);
        let default_ctx = self.shared.context.load_full();
        let ctx = ctx.unwrap_or(&default_ctx);
        let mut keys: Vec<&str> = doc.flag_keys().collect();
        keys.sort_unstable();
        keys.into_iter()
            .map(|key| {
                let details = match evaluator.details(&doc, key, ctx) {
                    Ok(x) => Details {
                        value: Some(x.value),
                        variation: x.variation,
                        reason: x.reason,
                        error: x.error,
                        bucket: x.bucket,
                    },
                    Err(code) => Details::error(None, code),
                };
                (key.to_owned(), details)
            })
            .collect()
    }
}

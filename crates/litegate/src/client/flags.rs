//! Typed flag getters and local overrides on the [`Client`].

use super::Client;
use crate::config::{Document, FlagValue};
use crate::delivery::{ConfigChange, ListenerId};
use crate::eval::{Context, Details, ErrorCode, Evaluator};
use crate::metrics::exposure::targeting_key_id;
use std::sync::Arc;

impl Client {
    /// Evaluates with the document, overrides, guardrail disables and
    /// default context in use now. Each is read lock-free (`arc-swap`) and
    /// nothing is cloned, so a config swap never waits for an evaluation and
    /// vice versa. An exposure already seen in this session costs one probe
    /// of the exposure table; nothing allocates in steady state.
    fn evaluate<T>(
        &self,
        key: &str,
        ctx: Option<&Context>,
        default: T,
        eval: impl FnOnce(&Evaluator<'_>, &Document, &Context, T) -> Details<T>,
    ) -> Details<T> {
        let Some(doc) = self.shared.delivery.current() else {
            return Details::error(default, ErrorCode::ProviderNotReady);
        };
        let overrides = self.shared.overrides.load();
        let disables = self.shared.guard.disables.load();
        let evaluator = Evaluator::new()
            .with_overrides(&overrides)
            .with_disables(&disables);
        let default_ctx;
        let ctx = match ctx {
            Some(ctx) => ctx,
            None => {
                default_ctx = self.shared.context.load();
                &**default_ctx
            }
        };
        let details = eval(&evaluator, &doc, ctx, default);
        if let Some(variation) = &details.variation {
            if self.shared.config.record_exposures {
                self.shared.metrics.exposure_prehashed(
                    targeting_key_id(&ctx.targeting_key),
                    key,
                    variation,
                    &ctx.targeting_key,
                    evaluator.now_ms(),
                );
            }
            if serves_feature(&details.reason) {
                self.shared.guard.note_active_flag(key);
            }
        }
        details
    }

    /// Reports how the feature behind `flag` went for the user (the app
    /// knows; LiteGate cannot): the input of flag guardrails such as "error
    /// rate above 5% rolls back". A trip disables the flag on this device at
    /// once (reason `guardrail`).
    pub fn record_outcome(&self, flag: &str, ok: bool, latency_ms: f64) {
        self.shared
            .guard
            .observe(super::guard::flag_run(flag, ok, latency_ms));
    }

    /// The guardrail trips in force on this device.
    pub fn guardrail_trips(&self) -> Vec<crate::guardrails::Trip> {
        self.shared.guard.active_trips()
    }

    /// Lifts guardrail trips (all, or one guardrail's): the explicit reset.
    /// Returns what was lifted.
    pub fn reset_guardrails(&self, guardrail: Option<&str>) -> Vec<crate::guardrails::Trip> {
        self.shared.guard.reset(guardrail)
    }

    /// A bool flag for the default context.
    pub fn bool_value(&self, key: &str, default: bool) -> bool {
        self.bool_details(key, default, None).value
    }

    /// A bool flag with details; `ctx` overrides the default context.
    pub fn bool_details(&self, key: &str, default: bool, ctx: Option<&Context>) -> Details<bool> {
        self.evaluate(key, ctx, default, |e, d, c, def| {
            e.bool_details(d, key, c, def)
        })
    }

    /// A string flag with details.
    pub fn string_details(
        &self,
        key: &str,
        default: &str,
        ctx: Option<&Context>,
    ) -> Details<Arc<str>> {
        self.evaluate(key, ctx, Arc::from(default), |e, d, c, def| {
            e.string_details(d, key, c, def)
        })
    }

    /// An int flag with details.
    pub fn int_details(&self, key: &str, default: i64, ctx: Option<&Context>) -> Details<i64> {
        self.evaluate(key, ctx, default, |e, d, c, def| {
            e.int_details(d, key, c, def)
        })
    }

    /// A float flag with details.
    pub fn float_details(&self, key: &str, default: f64, ctx: Option<&Context>) -> Details<f64> {
        self.evaluate(key, ctx, default, |e, d, c, def| {
            e.float_details(d, key, c, def)
        })
    }

    /// A JSON flag with details.
    pub fn json_details(
        &self,
        key: &str,
        default: serde_json::Value,
        ctx: Option<&Context>,
    ) -> Details<Arc<serde_json::Value>> {
        self.evaluate(key, ctx, Arc::new(default), |e, d, c, def| {
            e.json_details(d, key, c, def)
        })
    }

    /// A flag of any type; `None` as value when it cannot be evaluated.
    pub fn value_details(&self, key: &str, ctx: Option<&Context>) -> Details<Option<FlagValue>> {
        self.evaluate(key, ctx, None, |e, d, c, def| match e.details(d, key, c) {
            Ok(x) => Details {
                value: Some(x.value),
                variation: x.variation,
                reason: x.reason,
                error: x.error,
                bucket: x.bucket,
            },
            Err(code) => Details::error(def, code),
        })
    }

    /// Forces `flag` to `variation` on this device (QA). Shows as reason
    /// `override`; emergency switches and guardrails still win.
    pub fn set_override(&self, flag: &str, variation: &str) {
        self.shared.overrides.rcu(|current| {
            let mut next = (**current).clone();
            next.insert(Box::from(flag), Box::from(variation));
            next
        });
    }

    /// Removes one override.
    pub fn clear_override(&self, flag: &str) {
        self.shared.overrides.rcu(|current| {
            let mut next = (**current).clone();
            next.remove(flag);
            next
        });
    }

    /// Removes all overrides.
    pub fn clear_overrides(&self) {
        self.shared.overrides.store(Arc::default());
    }

    /// Calls `f` on the SDK's background thread whenever a new config
    /// changes what any flag could evaluate to. Listeners run outside locks;
    /// one that panics or blocks does not stop the others.
    pub fn on_change(&self, f: impl Fn(&ConfigChange) + Send + Sync + 'static) -> ListenerId {
        self.shared.delivery.on_change(f)
    }

    /// Like [`Client::on_change`], for one flag.
    pub fn on_flag_change(
        &self,
        flag: &str,
        f: impl Fn(&ConfigChange) + Send + Sync + 'static,
    ) -> ListenerId {
        self.shared.delivery.on_flag_change(flag, f)
    }

    /// Removes a listener; false if it was not registered.
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        self.shared.delivery.remove_listener(id)
    }
}

/// Whether a reason means the flag's feature is in use (not its off path),
/// so the session is charged if it crashes.
pub(super) fn serves_feature(reason: &crate::eval::Reason) -> bool {
    use crate::eval::Reason;
    !matches!(
        reason,
        Reason::Off
            | Reason::KillSwitch { .. }
            | Reason::GlobalDisable { .. }
            | Reason::Guardrail { .. }
            | Reason::PrerequisiteFailed { .. }
            | Reason::NotReady
            | Reason::Error
    )
}

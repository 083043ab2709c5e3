//! Guardrails, offline mode and the whole-state read on
//! [`LiteGateClient`]: the app's outcomes feed flag guardrails; trips can be
//! listed and reset (and are announced as `ClientEvent.GuardrailTripped`).

use crate::client::LiteGateClient;
use crate::convert;
use crate::error::catch_panic;
use crate::types::{EvaluationContext, FlagState, GuardrailTrip};

/// The largest latency `record_outcome` accepts, in milliseconds (one
/// hour); larger, negative or non-finite figures are refused.
pub const MAX_OUTCOME_LATENCY_MS: f64 = 3_600_000.0;

#[uniffi::export]
impl LiteGateClient {
    /// Reports how the feature behind `flag` went for the user: the input
    /// of flag guardrails such as "error rate above 5% rolls back". A trip
    /// disables the flag on this device at once (reason `Guardrail`).
    /// Returns `false` (and records nothing) when `latency_ms` is negative,
    /// not finite, or above [`MAX_OUTCOME_LATENCY_MS`].
    pub fn record_outcome(&self, flag: String, success: bool, latency_ms: f64) -> bool {
        if !latency_ms.is_finite() || !(0.0..=MAX_OUTCOME_LATENCY_MS).contains(&latency_ms) {
            tracing::warn!(target: "litegate::ffi", flag = %flag, latency_ms, "outcome latency refused");
            return false;
        }
        catch_panic(|| self.core().record_outcome(&flag, success, latency_ms)).is_some()
    }

    /// The guardrail trips in force on this device.
    pub fn guardrail_trips(&self) -> Vec<GuardrailTrip> {
        catch_panic(|| {
            self.core()
                .guardrail_trips()
                .iter()
                .map(convert::guardrail_trip)
                .collect()
        })
        .unwrap_or_default()
    }

    /// Lifts trips: every one, or only those of `guardrail`. Returns what
    /// was lifted.
    #[uniffi::method(default(guardrail = None))]
    pub fn reset_guardrails(&self, guardrail: Option<String>) -> Vec<GuardrailTrip> {
        catch_panic(|| {
            self.core()
                .reset_guardrails(guardrail.as_deref())
                .iter()
                .map(convert::guardrail_trip)
                .collect()
        })
        .unwrap_or_default()
    }

    /// Offline mode: while `true` the client uses no network (no config
    /// fetch, no event stream, no metrics upload); reads, model runs and
    /// metric recording go on. Turning it off fetches at once.
    pub fn set_offline(&self, offline: bool) {
        let _ = catch_panic(|| self.core().set_offline(offline));
    }

    /// Whether offline mode is on.
    pub fn is_offline(&self) -> bool {
        catch_panic(|| self.core().is_offline()).unwrap_or(false)
    }

    /// Every flag of the config in use with its details, for `context` (or
    /// the default one), sorted by key. Records no exposure: for debug
    /// screens and for handing the whole state to another layer. A context
    /// that cannot be converted gives an empty list.
    #[uniffi::method(default(context = None))]
    pub fn all_flags(&self, context: Option<EvaluationContext>) -> Vec<FlagState> {
        let ctx = match context.map(convert::context).transpose() {
            Ok(ctx) => ctx,
            Err(e) => {
                tracing::warn!(target: "litegate::ffi", error = %e, "evaluation context refused");
                return Vec::new();
            }
        };
        catch_panic(|| {
            self.core()
                .all_flags(ctx.as_ref())
                .into_iter()
                .map(|(key, d)| FlagState {
                    key,
                    details: convert::value_details(&d),
                })
                .collect()
        })
        .unwrap_or_default()
    }
}

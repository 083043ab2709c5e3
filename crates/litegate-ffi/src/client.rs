//! [`LiteGateClient`]: the client object Swift and Kotlin hold.

use crate::convert;
use crate::error::{catch_panic, guard, LiteGateError};
use crate::types::{
    BoolDetails, ClientOptions, ErrorCode, EvaluationContext, FloatDetails, IntDetails,
    JsonDetails, StringDetails, ValueDetails,
};
use litegate::eval::{Context, Details};
use litegate::Client;
use std::sync::Arc;

/// The LiteGate client: local flag evaluation over the rollout config.
///
/// Every method is safe to call from any thread and returns quickly: none
/// waits on the network. Evaluations never throw: on any problem they
/// return the caller's default with `Reason.Error` and an `ErrorCode`.
#[derive(Debug, uniffi::Object)]
pub struct LiteGateClient {
    inner: Arc<Client>,
}

impl LiteGateClient {
    /// Evaluates with the core. A context that cannot be converted gives
    /// `ErrorCode::InvalidContext`, a panic in the core `ErrorCode::General`;
    /// both return the caller's default through `failed`.
    fn evaluate<T, R>(
        &self,
        context: Option<EvaluationContext>,
        eval: impl FnOnce(&Client, Option<&Context>) -> Details<T>,
        convert: impl FnOnce(&Details<T>) -> R,
        failed: impl FnOnce(ErrorCode) -> R,
    ) -> R {
        let ctx = match context.map(convert::context).transpose() {
            Ok(ctx) => ctx,
            Err(e) => {
                tracing::warn!(target: "litegate::ffi", error = %e, "evaluation context refused");
                return failed(ErrorCode::InvalidContext);
            }
        };
        match catch_panic(|| convert(&eval(&self.inner, ctx.as_ref()))) {
            Some(record) => record,
            None => failed(ErrorCode::General),
        }
    }

    /// The core client, for the other modules of this crate.
    pub(crate) fn core(&self) -> &Arc<Client> {
        &self.inner
    }

    // The plain getters are Rust-only: Kotlin and Swift read them from a
    // flag snapshot (`bindings/*/Flags*`), without a call per read.

    /// A bool flag for the default context, or `default_value`.
    pub fn bool_value(&self, key: String, default_value: bool) -> bool {
        self.bool_details(key, default_value, None).value
    }

    /// A string flag for the default context, or `default_value`.
    pub fn string_value(&self, key: String, default_value: String) -> String {
        self.string_details(key, default_value, None).value
    }

    /// An int flag for the default context, or `default_value`.
    pub fn int_value(&self, key: String, default_value: i64) -> i64 {
        self.int_details(key, default_value, None).value
    }

    /// A float flag for the default context, or `default_value`.
    pub fn float_value(&self, key: String, default_value: f64) -> f64 {
        self.float_details(key, default_value, None).value
    }

    /// A JSON flag as JSON text for the default context, or `default_json`
    /// (returned as given, even if it is not valid JSON).
    pub fn json_value(&self, key: String, default_json: String) -> String {
        self.json_details(key, default_json, None).json
    }
}

#[uniffi::export]
impl LiteGateClient {
    /// Starts a client. Returns at once with the persisted or bundled
    /// config; fetching runs in the background.
    ///
    /// # Errors
    /// `InvalidOption`, `WrongEnvironment`, `BootstrapRefused` or `Storage`.
    #[uniffi::constructor]
    pub fn start(options: ClientOptions) -> Result<Arc<Self>, LiteGateError> {
        guard("start", || {
            let config = convert::client_config(options)?;
            let client = Client::start(config)?;
            tracing::info!(
                target: "litegate::ffi",
                app_id = %client.config().app_id,
                environment = %client.config().environment,
                config_version = client.document().map(|d| d.version),
                "client started"
            );
            Ok(Arc::new(LiteGateClient {
                inner: Arc::new(client),
            }))
        })
    }

    /// A bool flag with details; `context` replaces the default context for
    /// this call. Exported as `bool_details_for`: Kotlin's and Swift's
    /// `boolDetails` read the flag snapshot and call this only with a
    /// context.
    #[uniffi::method(name = "bool_details_for", default(context = None))]
    pub fn bool_details(
        &self,
        key: String,
        default_value: bool,
        context: Option<EvaluationContext>,
    ) -> BoolDetails {
        self.evaluate(
            context,
            |c, ctx| c.bool_details(&key, default_value, ctx),
            convert::bool_details,
            |code| convert::bool_failed(default_value, code),
        )
    }

    /// A string flag with details.
    #[uniffi::method(name = "string_details_for", default(context = None))]
    pub fn string_details(
        &self,
        key: String,
        default_value: String,
        context: Option<EvaluationContext>,
    ) -> StringDetails {
        self.evaluate(
            context,
            |c, ctx| c.string_details(&key, &default_value, ctx),
            convert::string_details,
            |code| convert::string_failed(default_value.clone(), code),
        )
    }

    /// An int flag with details.
    #[uniffi::method(name = "int_details_for", default(context = None))]
    pub fn int_details(
        &self,
        key: String,
        default_value: i64,
        context: Option<EvaluationContext>,
    ) -> IntDetails {
        self.evaluate(
            context,
            |c, ctx| c.int_details(&key, default_value, ctx),
            convert::int_details,
            |code| convert::int_failed(default_value, code),
        )
    }

    /// A float flag with details.
    #[uniffi::method(name = "float_details_for", default(context = None))]
    pub fn float_details(
        &self,
        key: String,
        default_value: f64,
        context: Option<EvaluationContext>,
    ) -> FloatDetails {
        self.evaluate(
            context,
            |c, ctx| c.float_details(&key, default_value, ctx),
            convert::float_details,
            |code| convert::float_failed(default_value, code),
        )
    }

    /// A JSON flag with details; the value is JSON text. When the default
    /// is returned it is `default_json` exactly as given.
    #[uniffi::method(name = "json_details_for", default(context = None))]
    pub fn json_details(
        &self,
        key: String,
        default_json: String,
        context: Option<EvaluationContext>,
    ) -> JsonDetails {
        let mut record = self.evaluate(
            context,
            |c, ctx| c.json_details(&key, serde_json::Value::Null, ctx),
            convert::json_details,
            |code| convert::json_failed(String::new(), code),
        );
        if record.variation.is_none() {
            record.json = default_json;
        }
        record
    }

    /// A flag of any type with details; `value` is `None` when the flag
    /// cannot be evaluated.
    #[uniffi::method(default(context = None))]
    pub fn value_details(&self, key: String, context: Option<EvaluationContext>) -> ValueDetails {
        self.evaluate(
            context,
            |c, ctx| c.value_details(&key, ctx),
            convert::value_details,
            |code| convert::value_failed(None, code),
        )
    }

    /// Replaces the default evaluation context.
    ///
    /// # Errors
    /// `InvalidContext` naming the attribute; the previous context stays.
    pub fn set_context(&self, context: EvaluationContext) -> Result<(), LiteGateError> {
        guard("set_context", || {
            self.inner.set_context(convert::context(context)?);
            Ok(())
        })
    }

    /// The default evaluation context in use.
    pub fn context(&self) -> EvaluationContext {
        catch_panic(|| convert::context_out(&self.inner.context())).unwrap_or_default()
    }

    /// Forces `flag` to `variation` on this device (QA). Evaluations report
    /// `Reason.Override`; kill switches and guardrails still win.
    pub fn set_override(&self, flag: String, variation: String) {
        // A panic here leaves the overrides as they were: nothing to report.
        let _ = catch_panic(|| {
            self.inner.set_override(&flag, &variation);
            self.inner.publish_flag_change();
        });
    }

    /// Removes the override of one flag.
    pub fn clear_override(&self, flag: String) {
        let _ = catch_panic(|| {
            self.inner.clear_override(&flag);
            self.inner.publish_flag_change();
        });
    }

    /// Removes every override.
    pub fn clear_overrides(&self) {
        let _ = catch_panic(|| {
            self.inner.clear_overrides();
            self.inner.publish_flag_change();
        });
    }

    /// The version of the config in use, `None` before any is loaded.
    pub fn config_version(&self) -> Option<u64> {
        catch_panic(|| self.inner.document().map(|d| d.version)).flatten()
    }

    /// The keys of every flag in the config in use, sorted.
    pub fn flag_keys(&self) -> Vec<String> {
        catch_panic(|| {
            let mut keys: Vec<String> = self
                .inner
                .document()
                .map(|d| d.flag_keys().map(str::to_owned).collect())
                .unwrap_or_default();
            keys.sort();
            keys
        })
        .unwrap_or_default()
    }
}

//! Documents that reach the app by another channel (a push message, a
//! side-loaded file, a test's `LiteGateTestData`).

use crate::client::LiteGateClient;
use crate::error::{guard, LiteGateError};
use litegate::delivery::Submitted;

#[uniffi::export]
impl LiteGateClient {
    /// Offers a config document (the JSON or envelope bytes, with the
    /// detached signature header when there is one). It passes the same
    /// checks as a fetched one (signature, environment, newer version) and
    /// when accepted is installed, persisted and announced like one.
    /// Returns `true` when it is now in use, `false` when it is the one
    /// already in use. Parses on the calling thread: not on a UI thread.
    ///
    /// # Errors
    /// `ConfigRefused` with the reason; the document in use stays.
    #[uniffi::method(default(signature = None))]
    pub fn submit_config(
        &self,
        document: Vec<u8>,
        signature: Option<String>,
    ) -> Result<bool, LiteGateError> {
        guard("submit_config", || {
            match self
                .core()
                .delivery()
                .submit(&document, signature.as_deref())
            {
                Ok(Submitted::Applied { .. }) => Ok(true),
                Ok(_) => Ok(false),
                Err(r) => Err(LiteGateError::ConfigRefused {
                    reason: r.to_string(),
                }),
            }
        })
    }
}

//! AccountVault authentication: `Authorization: Bearer <token>` (TabaPay's Account API reference,
//! "Authentication"), the token kept secret and never logged.

use secrecy::SecretString;

use crate::providers::common::KeySigner;

/// The signer for the client's bearer token.
pub(super) fn signer(token: SecretString) -> KeySigner {
    KeySigner::bearer(token)
}

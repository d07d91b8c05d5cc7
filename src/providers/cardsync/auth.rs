//! CardSync authentication: the API key travels bare in `Authorization`, with no scheme
//! ([CardSync Universal Account Updater API v2 docs](https://api.cardsync.io/), "Authentication").

use secrecy::SecretString;

use crate::providers::common::KeySigner;

/// The signer for a partner or merchant key.
pub(super) fn signer(key: SecretString) -> KeySigner {
    KeySigner::bare(key)
}

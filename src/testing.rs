//! The vendors' signatures and hashes, exactly as their documents define them, for your own
//! tests: check what a mock server received, or sign a webhook you post to your handler. Using
//! the crate needs none of this (its clients sign every request and verify every answer); the
//! signers themselves stay inside the crate.

/// PayConex Account Updater v4: the HMAC-SHA256 `Authorization` header (the canonical request
/// and body hash it signs, and the signature a response carries) and the certification
/// environment's Basic header.
#[cfg(feature = "payconex")]
#[cfg_attr(docsrs, doc(cfg(feature = "payconex")))]
pub mod payconex {
    pub use crate::providers::payconex::auth::{
        HmacHeader, basic_authorization, body_hash, canonical_request, hmac_authorization,
        hmac_response,
    };
}

/// Acquired.com: the request, response and webhook hashes (SHA-256 of the documented field
/// concatenation, hashed again with the company's hash code).
#[cfg(feature = "acquired")]
#[cfg_attr(docsrs, doc(cfg(feature = "acquired")))]
pub mod acquired {
    pub use crate::providers::acquired::hash::{request_hash, response_hash, webhook_hash};
}

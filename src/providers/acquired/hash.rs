//! Acquired.com's three hashes ([Acquired.com's API reference at developer.acquired.com](https://developer.acquired.com/integrations/api)), with `sha2`:
//!
//! - `request_hash = hex(SHA-256(timestamp ‖ transaction_type ‖ company_id ‖ X ‖ hashcode))`,
//!   X = `merchant_order_id` for `AUTH_ONLY`, `AUTH_CAPTURE`, `CREDIT`, `BENEFICIARY_NEW`, and
//!   `original_transaction_id` for `VOID`, `CAPTURE`, `REFUND`, `ACCOUNT_UPDATER`,
//!   `SUBSCRIPTION_MANAGE`, `PAY_OUT` (single pass, no separators, hash code last);
//! - `response_hash = hex(SHA-256(timestamp ‖ transaction_type ‖ company_id ‖ transaction_id ‖
//!   response_code ‖ hashcode))` over the response's own values, missing ones as `""`;
//! - webhook `hash = hex(SHA-256(hex(SHA-256(id ‖ timestamp ‖ company_id ‖ event)) ‖ hashcode))`.
//!
//! Comparisons are constant-time and case-insensitive.

use crate::providers::common::hex;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

fn sha256_hex(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
    }
    hex(&h.finalize())
}

/// Which request field a transaction type hashes as its fourth part.
pub(crate) fn uses_original_transaction_id(transaction_type: &str) -> bool {
    matches!(
        transaction_type,
        "VOID" | "CAPTURE" | "REFUND" | "ACCOUNT_UPDATER" | "SUBSCRIPTION_MANAGE" | "PAY_OUT"
    )
}

/// The `request_hash`.
pub fn request_hash(
    timestamp: &str,
    transaction_type: &str,
    company_id: &str,
    merchant_order_id: &str,
    original_transaction_id: &str,
    hashcode: &SecretString,
) -> String {
    let x = if uses_original_transaction_id(transaction_type) {
        original_transaction_id
    } else {
        merchant_order_id
    };
    sha256_hex(&[
        timestamp,
        transaction_type,
        company_id,
        x,
        hashcode.expose_secret(),
    ])
}

/// The `response_hash` a response should carry.
pub fn response_hash(
    timestamp: &str,
    transaction_type: &str,
    company_id: &str,
    transaction_id: &str,
    response_code: &str,
    hashcode: &SecretString,
) -> String {
    sha256_hex(&[
        timestamp,
        transaction_type,
        company_id,
        transaction_id,
        response_code,
        hashcode.expose_secret(),
    ])
}

/// The webhook `hash` (double SHA-256).
pub fn webhook_hash(
    id: &str,
    timestamp: &str,
    company_id: &str,
    event: &str,
    hashcode: &SecretString,
) -> String {
    let inner = sha256_hex(&[id, timestamp, company_id, event]);
    sha256_hex(&[&inner, hashcode.expose_secret()])
}

/// Constant-time, case-insensitive comparison of two hex digests.
pub(crate) fn digest_eq(expected: &str, received: &str) -> bool {
    let a = expected.to_ascii_lowercase();
    let b = received.to_ascii_lowercase();
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

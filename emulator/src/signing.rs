//! The emulators' own reading of each vendor's signatures, hashes and encryption, written from
//! the vendor documents and sharing no code with the clients: a signing bug in a client must
//! fail against its emulator, not pass because both sides run the same function. The
//! documents' worked examples test this side here and the clients' side in their own tests.
//!
//! - PayConex v4 "Authentication: HMAC": `Authorization: Hmac id="…", nonce="…",
//!   timestamp="…", response="…"`, the response being the hex HMAC-SHA-256, keyed with the API
//!   secret's bytes, of `METHOD SP PATH LF NONCE LF TIMESTAMP LF LF hex(SHA-256(body))`.
//! - Acquired.com: `request_hash` = hex SHA-256 of timestamp, transaction type, company id,
//!   then `original_transaction_id` (VOID, CAPTURE, REFUND, ACCOUNT_UPDATER,
//!   SUBSCRIPTION_MANAGE, PAY_OUT) or `merchant_order_id` (the others), then the hash code;
//!   `response_hash` = hex SHA-256 of the response's timestamp, transaction type, company id,
//!   transaction id, response code and the hash code; a webhook's `hash` = hex SHA-256 of (hex
//!   SHA-256 of id, timestamp, company id, event) followed by the hash code.
//! - TabaPay / AccountVault: card data RSA-encrypted with OAEP, `mode` 2 (SHA-256, MGF1-SHA-256)
//!   or 1 ("Java": SHA-256 with MGF1-SHA-1); ABA routing numbers' check digit
//!   3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) ≡ 0 (mod 10).

// Which helpers a build uses depends on the vendors it emulates.
#![cfg_attr(not(all(feature = "payconex", feature = "acquired")), allow(dead_code))]

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Lower-case hex, written here rather than borrowed from the clients.
fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of the concatenation of `parts`, in lower-case hex.
fn sha256_of(parts: &[&str]) -> String {
    to_hex(&Sha256::digest(parts.concat().as_bytes()))
}

/// Compares two hex digests in constant time, ignoring case.
pub(crate) fn same_digest(expected: &str, received: &str) -> bool {
    expected.len() == received.len()
        && bool::from(
            expected
                .to_ascii_lowercase()
                .as_bytes()
                .ct_eq(received.to_ascii_lowercase().as_bytes()),
        )
}

/// PayConex's HMAC scheme, as the emulator verifies it.
#[cfg(feature = "payconex")]
pub(crate) mod payconex {
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};

    /// The fields of an `Authorization: Hmac …` header.
    pub(crate) struct HmacFields {
        pub(crate) id: String,
        pub(crate) nonce: String,
        pub(crate) timestamp: i64,
        pub(crate) response: String,
    }

    /// Reads `Hmac id="…", nonce="…", timestamp="…", response="…"` (any order; quotes
    /// optional). `None` for anything else, an unknown or a repeated field included.
    pub(crate) fn read_header(value: &str) -> Option<HmacFields> {
        let fields = value.strip_prefix("Hmac ")?;
        let mut seen: [Option<String>; 4] = Default::default();
        for field in fields.split(',') {
            let (name, raw) = field.trim().split_once('=')?;
            let slot = ["id", "nonce", "timestamp", "response"]
                .iter()
                .position(|n| *n == name.trim())?;
            let text = raw.trim();
            let text = text
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .unwrap_or(text);
            if seen[slot].replace(text.to_owned()).is_some() {
                return None;
            }
        }
        let [id, nonce, timestamp, response] = seen;
        Some(HmacFields {
            id: id?,
            nonce: nonce?,
            timestamp: timestamp?.parse().ok()?,
            response: response?,
        })
    }

    /// The `response` the request should carry.
    pub(crate) fn expected_response(
        secret: &str,
        method: &str,
        path: &str,
        nonce: &str,
        timestamp: i64,
        body: &[u8],
    ) -> String {
        let body_digest = super::to_hex(&Sha256::digest(body));
        let signed = [
            format!("{} {}", method.to_uppercase(), path),
            nonce.to_owned(),
            timestamp.to_string(),
            String::new(),
            body_digest,
        ]
        .join("\n");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
            .expect("HMAC-SHA-256 takes a key of any length");
        mac.update(signed.as_bytes());
        super::to_hex(&mac.finalize().into_bytes())
    }
}

/// Acquired's three hashes, as the emulator checks and produces them.
#[cfg(feature = "acquired")]
pub(crate) mod acquired {
    /// The `request_hash` a request of `transaction_type` must carry.
    pub(crate) fn request_hash(
        timestamp: &str,
        transaction_type: &str,
        company_id: &str,
        merchant_order_id: &str,
        original_transaction_id: &str,
        hashcode: &str,
    ) -> String {
        const BY_ORIGINAL: [&str; 6] = [
            "VOID",
            "CAPTURE",
            "REFUND",
            "ACCOUNT_UPDATER",
            "SUBSCRIPTION_MANAGE",
            "PAY_OUT",
        ];
        let fourth = if BY_ORIGINAL.contains(&transaction_type) {
            original_transaction_id
        } else {
            merchant_order_id
        };
        super::sha256_of(&[timestamp, transaction_type, company_id, fourth, hashcode])
    }

    /// The `response_hash` of an answer.
    pub(crate) fn response_hash(
        timestamp: &str,
        transaction_type: &str,
        company_id: &str,
        transaction_id: &str,
        response_code: &str,
        hashcode: &str,
    ) -> String {
        super::sha256_of(&[
            timestamp,
            transaction_type,
            company_id,
            transaction_id,
            response_code,
            hashcode,
        ])
    }

    /// A webhook's `hash`.
    pub(crate) fn webhook_hash(
        id: &str,
        timestamp: &str,
        company_id: &str,
        event: &str,
        hashcode: &str,
    ) -> String {
        let inner = super::sha256_of(&[id, timestamp, company_id, event]);
        super::sha256_of(&[&inner, hashcode])
    }
}

/// TabaPay's card encryption and bank checks, as the AccountVault emulator reads them.
#[cfg(feature = "accountvault")]
pub(crate) mod accountvault {
    use rsa::Oaep;

    /// The OAEP padding for a card's `mode` (2, the default, or 1); `None` for anything else
    /// (0, PKCS#1 v1.5, is not emulated).
    pub(crate) fn padding_for_mode(mode: u64) -> Option<Oaep> {
        match mode {
            2 => Some(Oaep::new::<sha2::Sha256>()),
            1 => Some(Oaep::new_with_mgf_hash::<sha2::Sha256, sha1::Sha1>()),
            _ => None,
        }
    }

    /// The ABA routing number check: nine digits, weights 3, 7, 1 repeated, sum ≡ 0 (mod 10).
    pub(crate) fn routing_number_valid(routing: &str) -> bool {
        if routing.len() != 9 || !routing.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        let sum: u32 = routing
            .bytes()
            .zip([3, 7, 1].iter().cycle())
            .map(|(b, w)| u32::from(b - b'0') * w)
            .sum();
        sum % 10 == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "acquired")]
    /// Acquired's worked response-hash example (the UPDATE_BILLING response sample, hash code
    /// `hash_code`).
    #[test]
    fn acquired_response_hash_of_the_documented_sample() {
        assert_eq!(
            acquired::response_hash(
                "20201126154546",
                "AUTH_ONLY",
                "133",
                "306751",
                "1",
                "hash_code"
            ),
            "e0e007f3ce2d390b5f4ca8c64c8347e5020bc8054ebd2b82a9b93d3151f0a6e0"
        );
        assert!(same_digest(
            "E0E007F3CE2D390B5F4CA8C64C8347E5020BC8054EBD2B82A9B93D3151F0A6E0",
            "e0e007f3ce2d390b5f4ca8c64c8347e5020bc8054ebd2b82a9b93d3151f0a6e0"
        ));
        assert!(!same_digest("ab", "abc"));
    }

    #[cfg(feature = "acquired")]
    #[test]
    fn acquired_request_hash_picks_the_documented_fourth_field() {
        let by_order = acquired::request_hash("t", "AUTH_ONLY", "133", "order", "orig", "k");
        let by_original =
            acquired::request_hash("t", "ACCOUNT_UPDATER", "133", "order", "orig", "k");
        assert_eq!(
            by_order,
            sha256_of(&["t", "AUTH_ONLY", "133", "order", "k"])
        );
        assert_eq!(
            by_original,
            sha256_of(&["t", "ACCOUNT_UPDATER", "133", "orig", "k"])
        );
    }

    #[cfg(feature = "payconex")]
    /// The PayConex vector computed from the documented credentials (id, secret, timestamp of
    /// the v4 reference's worked example), a GET with an empty body.
    #[test]
    fn payconex_hmac_of_the_documented_credentials() {
        assert_eq!(
            payconex::expected_response(
                "6bf6b48e1794489598bbef89aab69948",
                "get",
                "/api/v4/accounts/120615523104/account-updater/updates/aupres_7d7366c9b6564b9abff22829c3b9ce66",
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                1664932648,
                b"",
            ),
            "626df534e244bf690e0b9095fa87db22b3cf8a882def74d9b90561bb0cce2b68"
        );
    }

    #[cfg(feature = "payconex")]
    #[test]
    fn payconex_headers_are_read_strictly() {
        let h =
            payconex::read_header(r#"Hmac id="api_1", nonce="n", timestamp="17", response="ab""#)
                .unwrap();
        assert_eq!(
            (
                h.id.as_str(),
                h.nonce.as_str(),
                h.timestamp,
                h.response.as_str()
            ),
            ("api_1", "n", 17, "ab")
        );
        assert!(
            payconex::read_header(r#"Hmac id="a", id="b", nonce="n", timestamp="1", response="r""#)
                .is_none()
        );
        assert!(payconex::read_header(r#"Hmac id="a", nonce="n", timestamp="1""#).is_none());
        assert!(payconex::read_header("Basic abc").is_none());
    }

    #[cfg(feature = "accountvault")]
    #[test]
    fn routing_numbers_by_the_aba_check_digit() {
        assert!(accountvault::routing_number_valid("011000015"));
        assert!(!accountvault::routing_number_valid("011000016"));
        assert!(!accountvault::routing_number_valid("01100001"));
    }
}

//! Native clients, one module per provider. Each has its client (request builders and response
//! mapping), its wire types (`serde` structs with the provider's exact field names) and its auth.
//! The unified layer reaches them only through the [`crate::Provider`] trait and `From`/`TryFrom`
//! conversions.
//!
//! This module also holds the few pieces the providers share: the account-updater status
//! vocabulary that PayConex and CardSync both use (they resell the same updater), and lenient
//! `serde` helpers for values that arrive as strings or numbers.

#[cfg(feature = "accountvault")]
pub mod accountvault;
#[cfg(feature = "acquired")]
pub mod acquired;
#[cfg(feature = "cardsync")]
pub mod cardsync;
#[cfg(feature = "payconex")]
pub mod payconex;

use crate::outcome::Outcome;

/// Maps the account-updater status words PayConex and CardSync share (design §3) onto
/// [`Outcome`]. Accepts both `closed` (CardSync since 2023) and `contact_closed` (PayConex,
/// older CardSync); anything else is kept as [`Outcome::Unknown`].
pub fn outcome_from_status(status: &str) -> Outcome {
    match status {
        "updated_card" => Outcome::NewAccountNumber,
        "updated_expiry" => Outcome::NewExpiry,
        "closed" | "contact_closed" => Outcome::Closed,
        "contact" => Outcome::ContactCardholder,
        "valid" => Outcome::Valid,
        "no_change" => Outcome::NoChange,
        "no_match" => Outcome::NoMatch,
        other => Outcome::Unknown(other.to_owned()),
    }
}

/// `serde` helpers shared by the wire modules.
#[allow(dead_code)]
pub(crate) mod lenient {
    use serde::{Deserialize, Deserializer};

    /// A JSON string or number, as a string (tokens, ids, codes).
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StringOrNumber {
        S(String),
        I(i64),
        U(u64),
        F(f64),
    }

    impl StringOrNumber {
        fn into_string(self) -> String {
            match self {
                StringOrNumber::S(s) => s,
                StringOrNumber::I(i) => i.to_string(),
                StringOrNumber::U(u) => u.to_string(),
                StringOrNumber::F(f) => f.to_string(),
            }
        }
    }

    /// Deserialises a string or a number into a `String`.
    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        StringOrNumber::deserialize(d).map(StringOrNumber::into_string)
    }

    /// Deserialises an optional string or number into an `Option<String>`.
    pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Option::<StringOrNumber>::deserialize(d)?.map(StringOrNumber::into_string))
    }

    /// Deserialises `null` as the type's default.
    pub fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: Default + Deserialize<'de>,
    {
        Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
    }

    /// Parses an RFC 3339 timestamp with any fractional precision; `None` when it does not parse.
    pub fn timestamp(s: Option<&str>) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::parse_from_rfc3339(s?)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc))
    }
}

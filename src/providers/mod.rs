//! Native clients, one module per provider. Each has its client (request builders and response
//! mapping), its wire types (`serde` structs with the provider's exact field names) and its auth.
//! The unified layer reaches them only through the [`crate::Provider`] trait and `From`/`TryFrom`
//! conversions.
//!
//! This module also holds the lenient `serde` helpers the providers share, for values that
//! arrive as strings or numbers. Every vendor status is mapped through the one published
//! table in [`crate::codes`].

/// A vendor module, compiled with its cargo feature and badged with it in the documentation
/// ("Available on crate feature … only"), from one declaration.
macro_rules! vendor_module {
    ($feature:literal => $name:ident) => {
        #[cfg(feature = $feature)]
        #[cfg_attr(docsrs, doc(cfg(feature = $feature)))]
        pub mod $name;
    };
}

vendor_module!("accountvault" => accountvault);
vendor_module!("acquired" => acquired);
vendor_module!("cardsync" => cardsync);
pub(crate) mod common;
vendor_module!("payconex" => payconex);

/// `serde` helpers shared by the wire modules.
#[allow(dead_code)]
pub(crate) mod lenient {
    use std::fmt;

    use serde::de::{self, Visitor};
    use serde::{Deserialize, Deserializer};

    /// A JSON string or number, read straight into a `String` by one visitor (an untagged enum
    /// would buffer every value first and try each variant in turn).
    struct StringOrNumber;

    impl<'de> Visitor<'de> for StringOrNumber {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a number")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
            Ok(v)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }

    /// The same, `null` (or absent, with `#[serde(default)]`) as `None`.
    struct OptStringOrNumber;

    impl<'de> Visitor<'de> for OptStringOrNumber {
        type Value = Option<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string, a number or null")
        }

        fn visit_none<E: de::Error>(self) -> Result<Option<String>, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Option<String>, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
            d.deserialize_any(StringOrNumber).map(Some)
        }
    }

    /// Deserialises a string or a number into a `String`.
    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        d.deserialize_any(StringOrNumber)
    }

    /// Deserialises an optional string or number into an `Option<String>`.
    pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_option(OptStringOrNumber)
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

//! Glue the provider folders share, written once: the `Authorization` key signer (CardSync
//! sends its key bare, AccountVault as a bearer token) and the lower-case hex encoding every
//! signature and hash uses.

#[cfg(key_provider)]
pub(crate) use key_signer::KeySigner;

#[cfg(key_provider)]
mod key_signer {
    use std::fmt;

    use secrecy::{ExposeSecret, SecretString};

    use crate::error::Result;
    use crate::transport::{AUTHORIZATION, SignableRequest, Signer, sensitive_header};

    /// Sends a secret key in `Authorization`, bare or after a scheme word. The key is a
    /// redaction of every log line and error, and the header is marked sensitive.
    #[derive(Clone)]
    pub(crate) struct KeySigner {
        scheme: Option<&'static str>,
        key: SecretString,
    }

    impl KeySigner {
        /// `Authorization: <key>`, no scheme.
        #[cfg(feature = "cardsync")]
        pub(crate) fn bare(key: SecretString) -> Self {
            KeySigner { scheme: None, key }
        }

        /// `Authorization: Bearer <token>`.
        #[cfg(feature = "accountvault")]
        pub(crate) fn bearer(token: SecretString) -> Self {
            KeySigner {
                scheme: Some("Bearer"),
                key: token,
            }
        }
    }

    impl fmt::Debug for KeySigner {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("KeySigner")
                .field("scheme", &self.scheme)
                .field("key", &"[REDACTED]")
                .finish()
        }
    }

    impl Signer for KeySigner {
        fn sign(&self, request: &mut SignableRequest<'_>) -> Result<()> {
            let header = match self.scheme {
                None => sensitive_header(self.key.expose_secret())?,
                Some(scheme) => {
                    // The composed value is a secret too: zeroed when dropped.
                    let value =
                        SecretString::from(format!("{scheme} {}", self.key.expose_secret()));
                    sensitive_header(value.expose_secret())?
                }
            };
            request.headers.insert(AUTHORIZATION, header);
            Ok(())
        }

        fn redactions(&self) -> Vec<SecretString> {
            vec![self.key.clone()]
        }
    }
}

#[cfg(hex_provider)]
pub(crate) use crate::encoding::hex;

/// Builder-style setters for a `#[non_exhaustive]` wire body. Callers outside the crate cannot
/// write such a struct literally (so that a field the vendor adds later is not a breaking
/// change); they start from its constructor or `default()` and set fields by name:
/// `Name::default().first("Ada")`. An optional field has two setters, as the AWS SDKs do:
/// `field(value)` stores `Some(value)` (a `text` field takes anything that converts into a
/// `String`), `set_field(option)` stores the option as given. A `string` or `value` field's
/// setter stores what it is given (a `string` field takes anything that converts into one).
#[cfg(any_provider)]
macro_rules! setters {
    ($ty:ident {
        $(text $t:ident / $st:ident,)*
        $(optional $o:ident / $so:ident: $ot:ty,)*
        $(string $s:ident,)*
        $(value $v:ident: $vt:ty,)*
    }) => {
        impl $ty {
            $(
                #[doc = concat!("Sets `", stringify!($t), "`.")]
                pub fn $t(mut self, value: impl Into<String>) -> Self {
                    self.$t = Some(value.into());
                    self
                }

                #[doc = concat!("Sets or clears `", stringify!($t), "`.")]
                pub fn $st(mut self, value: Option<String>) -> Self {
                    self.$t = value;
                    self
                }
            )*
            $(
                #[doc = concat!("Sets `", stringify!($o), "`.")]
                pub fn $o(mut self, value: $ot) -> Self {
                    self.$o = Some(value);
                    self
                }

                #[doc = concat!("Sets or clears `", stringify!($o), "`.")]
                pub fn $so(mut self, value: Option<$ot>) -> Self {
                    self.$o = value;
                    self
                }
            )*
            $(
                #[doc = concat!("Sets `", stringify!($s), "`.")]
                pub fn $s(mut self, value: impl Into<String>) -> Self {
                    self.$s = value.into();
                    self
                }
            )*
            $(
                #[doc = concat!("Sets `", stringify!($v), "`.")]
                pub fn $v(mut self, value: $vt) -> Self {
                    self.$v = value;
                    self
                }
            )*
        }
    };
}
#[cfg(any_provider)]
pub(crate) use setters;

/// Refuses a token another provider issued ([`InputProblem::ForeignToken`]): a token stands
/// for a card only in its issuer's vault.
///
/// [`InputProblem::ForeignToken`]: crate::error::InputProblem::ForeignToken
#[cfg(hex_provider)]
pub(crate) fn check_token_issuer(
    provider: crate::ids::ProviderId,
    field: impl Into<String>,
    issuer: crate::ids::ProviderId,
) -> crate::error::Result<()> {
    if issuer == provider {
        Ok(())
    } else {
        Err(crate::error::Error::invalid(
            field,
            crate::error::InputProblem::ForeignToken { issuer, provider },
        ))
    }
}

/// An open enum of a vendor's wire values: the documented ones as variants, anything else kept
/// verbatim in the one catch-all `Other` (never an error: vendors add values without notice).
/// Gives `as_str` (the wire spelling), `from_wire`, `Display`, and `serde` both ways as the
/// plain string. One macro for every vendor, so every open enum reads and behaves the same.
#[allow(unused_macros)]
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $wire:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this crate does not know, verbatim.
            Other(String),
        }

        impl $name {
            /// The wire spelling.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )+
                    $name::Other(s) => s,
                }
            }

            /// Parses the wire spelling (unknown values become `Other`).
            pub fn from_wire(s: &str) -> Self {
                match s {
                    $( $wire => $name::$variant, )+
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok($name::from_wire(&<String as serde::Deserialize>::deserialize(d)?))
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use open_enum;

/// A vendor client's `execute` and `execute_with`: one `Transport::execute` of an operation
/// value, written once for every client (each has a `transport` field). `$vendor` names the
/// vendor in the docs.
#[cfg_attr(not(any_provider), allow(unused_macros))]
macro_rules! execute_methods {
    ($vendor:literal, $example:expr) => {
        #[doc = concat!(
            "Sends one endpoint's [`operations`](super::operations) value and maps its answer: \
             what every endpoint method of this client does, open to a caller who holds the \
             value (to build it ahead, or to override the timeout or retries of one call with \
             `execute_with`).\n\n",
            "# Errors\n\n",
            "As the method of the same endpoint: [`Error::InvalidInput`](crate::Error::InvalidInput) \
             from building (nothing sent), then what ", $vendor, " answered, mapped by its \
             `response.rs`, or what kept it from answering, each with whether ", $vendor,
            " may have acted ([`Error::provider_may_have_acted`](crate::Error::provider_may_have_acted)).\n\n",
            "# Cancel safety\n\n",
            "Dropping the future may leave the request delivered with its answer lost, as a \
             timeout after sending would: ", $vendor, " may have acted, so look before \
             repeating a request that creates or changes something."
        )]
        #[doc = ""]
        #[doc = $example]
        pub async fn execute<O: crate::transport::Operation<Self> + Sync>(
            &self,
            operation: &O,
        ) -> crate::Result<O::Output> {
            self.execute_with(operation, &crate::transport::CallOptions::default())
                .await
        }

        /// `execute` with this call's timeout or retry policy in place of the client's.
        ///
        /// # Errors
        ///
        /// As `execute`.
        ///
        /// # Cancel safety
        ///
        /// As `execute`.
        #[doc = ""]
        #[doc = $example]
        pub async fn execute_with<O: crate::transport::Operation<Self> + Sync>(
            &self,
            operation: &O,
            options: &crate::transport::CallOptions,
        ) -> crate::Result<O::Output> {
            self.transport.execute(self, operation, options).await
        }
    };
}
#[cfg_attr(not(any_provider), allow(unused_imports))]
pub(crate) use execute_methods;

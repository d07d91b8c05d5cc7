//! Glue the provider folders share, written once: the `Authorization` key signer (CardSync
//! sends its key bare, AccountVault as a bearer token) and the lower-case hex encoding every
//! signature and hash uses.

#[cfg(any(feature = "cardsync", feature = "accountvault"))]
pub(crate) use key_signer::KeySigner;

#[cfg(any(feature = "cardsync", feature = "accountvault"))]
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

#[cfg(any(feature = "payconex", feature = "acquired"))]
pub(crate) use crate::encoding::hex;

/// Builder-style setters for a `#[non_exhaustive]` wire body. Callers outside the crate cannot
/// write such a struct literally (so that a field the vendor adds later is not a breaking
/// change); they start from its constructor or `default()` and set fields by name:
/// `Name::default().first("Ada")`. An optional field has two setters, as the AWS SDKs do:
/// `field(value)` stores `Some(value)` (a `text` field takes anything that converts into a
/// `String`), `set_field(option)` stores the option as given. A `string` or `value` field's
/// setter stores what it is given (a `string` field takes anything that converts into one).
#[cfg(any(
    feature = "payconex",
    feature = "cardsync",
    feature = "accountvault",
    feature = "acquired"
))]
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
#[cfg(any(
    feature = "payconex",
    feature = "cardsync",
    feature = "accountvault",
    feature = "acquired"
))]
pub(crate) use setters;

/// Refuses a token another provider issued ([`InputProblem::ForeignToken`]): a token stands
/// for a card only in its issuer's vault.
///
/// [`InputProblem::ForeignToken`]: crate::error::InputProblem::ForeignToken
#[cfg(any(feature = "payconex", feature = "acquired"))]
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

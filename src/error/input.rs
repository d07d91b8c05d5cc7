//! Input refused before any request: which field, and what is wrong with it.

use std::fmt;

use crate::card::{CardNumberError, ExpiryError};

/// What is wrong with a caller's input. Part of [`InputError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputProblem {
    /// A card number that does not validate.
    #[error(transparent)]
    CardNumber(#[from] CardNumberError),
    /// An expiry that does not validate.
    #[error(transparent)]
    Expiry(#[from] ExpiryError),
    /// A required value is missing or empty.
    #[error("is required")]
    Missing,
    /// Too many items for one request.
    #[error("has {got} items; the provider accepts at most {max}")]
    TooMany {
        /// The provider's limit.
        max: usize,
        /// How many were given.
        got: usize,
    },
    /// The request would be empty.
    #[error("is empty; nothing would be sent")]
    Empty,
    /// The same identifier appears twice in one request.
    #[error("is used more than once in the same request")]
    Duplicate,
    /// Text that does not match the provider's documented format.
    #[error("must be {expected}")]
    Format {
        /// Human description of the expected format.
        expected: String,
    },
    /// A value the provider does not allow in this context.
    #[error("is not allowed: {reason}")]
    NotAllowed {
        /// Why.
        reason: String,
    },
    /// Two values that cannot be sent together.
    #[error("cannot be combined with {other}")]
    Conflicts {
        /// The other field.
        other: String,
    },
    /// A base URL with plain `http://` to a non-loopback host, or with another scheme.
    #[error("must use https (plain http is accepted for loopback hosts only)")]
    InsecureUrl,
    /// A URL that cannot be used as a base (no host, cannot be a base, …).
    #[error("is not a usable base URL")]
    BadUrl,
    /// No routing rule takes the card ([`crate::routing`]).
    #[error("no routing rule takes {card}")]
    NoRoute {
        /// What the card is (brand, SE number, token issuer, tag; never its number).
        card: String,
    },
    /// A token issued by another provider: a provider token stands for a card only in the
    /// vault of the provider that issued it (a PayConex transaction id means nothing to
    /// Acquired), so it is refused before any request instead of failing at the provider.
    #[error("is a {issuer} token; {provider} cannot use it")]
    ForeignToken {
        /// The provider that issued the token.
        issuer: crate::ids::ProviderId,
        /// The provider it was sent to.
        provider: crate::ids::ProviderId,
    },
}

/// A refused input: which field, and what is wrong with it. Never echoes the value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InputError {
    /// Path of the offending field, e.g. `cards[3].card` or `cards[id=42].exp`.
    pub field: String,
    /// What is wrong.
    pub problem: InputProblem,
}

impl InputError {
    /// Builds an input error for `field`.
    pub fn new(field: impl Into<String>, problem: impl Into<InputProblem>) -> Self {
        InputError {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.problem)
    }
}

impl std::error::Error for InputError {}

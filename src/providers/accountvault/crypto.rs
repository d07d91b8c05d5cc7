//! Card encryption for AccountVault's "Payment Card Encrypted" form ([TabaPay Account API reference](https://developers.tabapay.com/reference)).
//!
//! The plaintext is `CardNumber|ExpirationDate|SecurityCode` (expiry `YYYYMM`; expiry and code
//! optional but both pipes always kept), encrypted with RSA-OAEP SHA-256 (TabaPay's
//! `RSA/ECB/OAEPWithSHA-256AndMGF1Padding`, `mode` 2) under the public key of a `keyID`, and sent
//! in the base64 URL-safe alphabet without padding. The plaintext is built in a zeroizing buffer
//! inside [`encrypt_card`] and never leaves it; encryption uses the `rsa` crate.

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::{BigUint, Oaep, RsaPublicKey};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use super::wire::Key;
use crate::card::{CardNumber, Expiry, ExpiryFormat};
use crate::error::{Error, InputProblem, Result};

/// The public half of an AccountVault RSA key, ready to encrypt with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    key_id: String,
    key: RsaPublicKey,
}

fn b64url(field: &str, s: &str) -> Result<Vec<u8>> {
    let trimmed = s.trim().trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| URL_SAFE.decode(s.trim()))
        .map_err(|_| {
            Error::invalid(
                field,
                InputProblem::Format {
                    expected: "base64url".into(),
                },
            )
        })
}

impl PublicKey {
    /// From an ASN.1 (DER `SubjectPublicKeyInfo`, or PKCS#1 `RSAPublicKey`) key in base64url.
    pub fn from_asn1(key_id: impl Into<String>, der_b64url: &str) -> Result<Self> {
        let der = b64url("key", der_b64url)?;
        let key = RsaPublicKey::from_public_key_der(&der)
            .or_else(|_| RsaPublicKey::from_pkcs1_der(&der))
            .map_err(|_| {
                Error::invalid(
                    "key",
                    InputProblem::Format {
                        expected: "a DER-encoded RSA public key".into(),
                    },
                )
            })?;
        Ok(PublicKey {
            key_id: key_id.into(),
            key,
        })
    }

    /// From the Raw format: big-endian modulus and exponent in base64url (a leading zero byte,
    /// as Java's `BigInteger` writes it, is tolerated).
    pub fn from_raw(
        key_id: impl Into<String>,
        modulus_b64url: &str,
        exponent_b64url: &str,
    ) -> Result<Self> {
        let n = BigUint::from_bytes_be(&b64url("keyModulus", modulus_b64url)?);
        let e = BigUint::from_bytes_be(&b64url("keyExponent", exponent_b64url)?);
        let key = RsaPublicKey::new(n, e).map_err(|_| {
            Error::invalid(
                "keyModulus",
                InputProblem::Format {
                    expected: "an RSA modulus of at least 1024 bits and a valid exponent".into(),
                },
            )
        })?;
        Ok(PublicKey {
            key_id: key_id.into(),
            key,
        })
    }

    /// From a Create / Retrieve Key answer, whichever format it holds.
    pub fn from_key(key: &Key) -> Result<Self> {
        let id = key
            .key_id
            .clone()
            .ok_or_else(|| Error::invalid("keyID", InputProblem::Missing))?;
        match (&key.key, &key.key_modulus, &key.key_exponent) {
            (Some(der), _, _) => PublicKey::from_asn1(id, der),
            (None, Some(n), Some(e)) => PublicKey::from_raw(id, n, e),
            _ => Err(Error::invalid("key", InputProblem::Missing)),
        }
    }

    /// Wraps an already parsed key.
    pub fn new(key_id: impl Into<String>, key: RsaPublicKey) -> Self {
        PublicKey {
            key_id: key_id.into(),
            key,
        }
    }

    /// The key id.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The RSA key.
    pub fn rsa(&self) -> &RsaPublicKey {
        &self.key
    }
}

/// Encrypts `PAN|YYYYMM|CSC` for the "Payment Card Encrypted" form and returns the base64url
/// ciphertext (no padding). Each call gives a different ciphertext (OAEP is randomised).
/// The OAEP padding of the encrypted card data, sent as `card.mode`.
///
/// TabaPay's table lists `0` PKCS#1 v1.5, `1` "Java OAEP" and `2` OAEP SHA-256 (the default in
/// that table), while its current page names only `RSA/ECB/OAEPWithSHA-256AndMGF1Padding`.
/// What Java calls that hashes the label with SHA-256 but masks with MGF1-SHA1, so "Java OAEP"
/// is read as that, and mode 2 as SHA-256 throughout. The crate sends the mode explicitly, so
/// whichever reading the server holds, it is told which padding was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OaepMode {
    /// `mode` 2: OAEP with SHA-256 for the label hash and MGF1 (the default).
    #[default]
    Sha256,
    /// `mode` 1: "Java OAEP", SHA-256 label hash with MGF1-SHA1.
    JavaSha256Mgf1Sha1,
}

impl OaepMode {
    /// The `mode` value sent with the card.
    pub fn mode(self) -> u8 {
        match self {
            OaepMode::Sha256 => 2,
            OaepMode::JavaSha256Mgf1Sha1 => 1,
        }
    }

    /// The mode for a `mode` value (`None` for 0, PKCS#1 v1.5, which the crate does not send).
    pub fn from_mode(mode: u8) -> Option<Self> {
        match mode {
            2 => Some(OaepMode::Sha256),
            1 => Some(OaepMode::JavaSha256Mgf1Sha1),
            _ => None,
        }
    }

    /// The padding scheme.
    pub fn padding(self) -> Oaep {
        match self {
            OaepMode::Sha256 => Oaep::new::<Sha256>(),
            OaepMode::JavaSha256Mgf1Sha1 => Oaep::new_with_mgf_hash::<Sha256, sha1::Sha1>(),
        }
    }
}

/// [`encrypt_card_with`] in [`OaepMode::Sha256`].
pub fn encrypt_card(
    key: &PublicKey,
    number: &CardNumber,
    expiry: Option<Expiry>,
    security_code: Option<&SecretString>,
) -> Result<String> {
    encrypt_card_with(key, OaepMode::Sha256, number, expiry, security_code)
}

/// Encrypts `PAN|YYYYMM|CSC` (both pipes kept when parts are missing) under `key` with `mode`'s
/// padding, base64url without padding.
pub fn encrypt_card_with(
    key: &PublicKey,
    mode: OaepMode,
    number: &CardNumber,
    expiry: Option<Expiry>,
    security_code: Option<&SecretString>,
) -> Result<String> {
    if let Some(code) = security_code {
        let c = code.expose_secret();
        if !(3..=4).contains(&c.len()) || !c.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid(
                "security_code",
                InputProblem::Format {
                    expected: "3 or 4 digits".into(),
                },
            ));
        }
    }
    let mut plaintext = Zeroizing::new(String::with_capacity(32));
    plaintext.push_str(number.expose_secret());
    plaintext.push('|');
    if let Some(e) = expiry {
        plaintext.push_str(&e.format(ExpiryFormat::Yyyymm));
    }
    plaintext.push('|');
    if let Some(code) = security_code {
        plaintext.push_str(code.expose_secret());
    }
    let ciphertext = key
        .key
        .encrypt(
            &mut rsa::rand_core::OsRng,
            mode.padding(),
            plaintext.as_bytes(),
        )
        .map_err(|_| {
            Error::invalid(
                "key",
                InputProblem::NotAllowed {
                    reason: "the RSA key is too small for the card data".into(),
                },
            )
        })?;
    Ok(URL_SAFE_NO_PAD.encode(ciphertext))
}

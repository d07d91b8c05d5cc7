//! AccountVault (TabaPay Account API) wire types, with the API's exact field names
//! ([TabaPay's Account API reference at developers.tabapay.com](https://developers.tabapay.com/reference); [TabaPay's Update Account reference](https://developers.tabapay.com/reference/updateaccount)).
//!
//! The request structs mirror the wire, field for field, so that the rules the vendor states in
//! prose ("exactly one of bank or card", "company **or** first/last, never both", "one card form")
//! are checked by the client before anything is sent, with typed errors naming the field.

mod builders;

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

use crate::card::{CardNumber, Expiry, ExpiryFormat};
use crate::providers::lenient;

fn ser_pan<S: Serializer>(c: &Option<CardNumber>, s: S) -> Result<S::Ok, S::Error> {
    match c {
        Some(c) => s.serialize_str(c.expose_secret()),
        None => s.serialize_none(),
    }
}

fn ser_yyyymm<S: Serializer>(e: &Option<Expiry>, s: S) -> Result<S::Ok, S::Error> {
    match e {
        Some(e) => s.serialize_str(&e.format(ExpiryFormat::Yyyymm)),
        None => s.serialize_none(),
    }
}

fn ser_secret<S: Serializer>(v: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(v.expose_secret()),
        None => s.serialize_none(),
    }
}

fn ser_secret_str<S: Serializer>(v: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.expose_secret())
}

/// A P2PE device's card data (restricted usage).
#[derive(Clone, Serialize)]
#[non_exhaustive]
pub struct Device {
    /// TabaPay device id (or Google Pay `gatewayMerchantId`).
    pub id: String,
    /// The card data blob, passed through as given (the docs disagree on hex vs base64).
    #[serde(serialize_with = "ser_secret_str")]
    pub blob: SecretString,
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("id", &self.id)
            .field("blob", &"[REDACTED]")
            .finish()
    }
}

/// `card`: exactly one of four forms (validated before sending):
/// - not encrypted: `accountNumber` (+ `expirationDate`),
/// - encrypted: `keyID` + `data` (+ `mode`),
/// - token: `token`,
/// - device: `device`.
///
/// Build it with [`Card::plain`], [`Card::encrypted`] (see
/// [`encrypt_card`](super::encrypt_card)), [`Card::token`] or [`Card::device`].
#[derive(Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Card {
    /// The card number (13–19 digits).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_pan")]
    pub account_number: Option<CardNumber>,
    /// Expiry, sent as `YYYYMM`.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_yyyymm")]
    pub expiration_date: Option<Expiry>,
    /// The RSA key the data is encrypted with (22 characters).
    #[serde(rename = "keyID", skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Padding: 0 PKCS#1 v1.5, 1 "Java OAEP", 2 OAEP SHA-256 (the default, and what this crate
    /// encrypts with).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<u8>,
    /// `PAN|YYYYMM|CSC` encrypted under `keyID`, base64url.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// A card token from TabaPay's iframe / SSO (restricted usage).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_secret")]
    pub token: Option<SecretString>,
    /// Card data from a P2PE device (restricted usage).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<Device>,
}

impl Card {
    /// A card in clear: number and expiry.
    pub fn plain(number: CardNumber, expiry: Option<Expiry>) -> Self {
        Card {
            account_number: Some(number),
            expiration_date: expiry,
            ..Card::default()
        }
    }

    /// An encrypted card: `data` from [`super::crypto::encrypt_card`].
    pub fn encrypted(key_id: impl Into<String>, data: String) -> Self {
        Card::encrypted_with(key_id, data, super::crypto::OaepMode::Sha256)
    }

    /// Encrypted card data with its padding mode, sent explicitly as `mode` (see
    /// [`super::crypto::OaepMode`]).
    pub fn encrypted_with(
        key_id: impl Into<String>,
        data: String,
        mode: super::crypto::OaepMode,
    ) -> Self {
        Card {
            key_id: Some(key_id.into()),
            data: Some(data),
            mode: Some(mode.mode()),
            ..Card::default()
        }
    }

    /// A card token.
    pub fn token(token: SecretString) -> Self {
        Card {
            token: Some(token),
            ..Card::default()
        }
    }

    /// Card data from a device.
    pub fn device(device: Device) -> Self {
        Card {
            device: Some(device),
            ..Card::default()
        }
    }
}

impl fmt::Debug for Card {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Card")
            .field("account_number", &self.account_number)
            .field("expiration_date", &self.expiration_date)
            .field("key_id", &self.key_id)
            .field("mode", &self.mode)
            .field("data", &self.data.as_ref().map(|_| "[ENCRYPTED]"))
            .field("token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .field("device", &self.device)
            .finish()
    }
}

/// `bank`: an ACH account.
#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Bank {
    /// ABA routing number, 9 digits with a valid check digit.
    pub routing_number: String,
    /// Account number, 4–17 digits (kept secret).
    #[serde(serialize_with = "ser_secret_str")]
    pub account_number: SecretString,
    /// Account type.
    pub account_type: BankAccountType,
}

impl fmt::Debug for Bank {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.account_number.expose_secret();
        let last4 = n.get(n.len().saturating_sub(4)..).unwrap_or("");
        f.debug_struct("Bank")
            .field("routing_number", &self.routing_number)
            .field("account_number", &format_args!("****{last4}"))
            .field("account_type", &self.account_type)
            .finish()
    }
}

/// `accountType` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum BankAccountType {
    /// `S`: savings.
    #[serde(rename = "S")]
    Savings,
    /// `C`: checking.
    #[serde(rename = "C")]
    Checking,
    /// `A`: business savings.
    #[serde(rename = "A")]
    BusinessSavings,
    /// `B`: business checking.
    #[serde(rename = "B")]
    BusinessChecking,
    /// `L`: loan.
    #[serde(rename = "L")]
    Loan,
}

/// `owner.name`: a company **or** a person (first and last required, middle and suffix
/// optional), never both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Name {
    /// Company name (must be enabled by TabaPay).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// Given name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    /// Middle name or initial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub middle: Option<String>,
    /// Family name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
    /// Suffix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
}

impl Name {
    /// A person's name.
    pub fn person(first: impl Into<String>, last: impl Into<String>) -> Self {
        Name {
            first: Some(first.into()),
            last: Some(last.into()),
            ..Name::default()
        }
    }

    /// A company name.
    pub fn company(company: impl Into<String>) -> Self {
        Name {
            company: Some(company.into()),
            ..Name::default()
        }
    }
}

/// `owner.address`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Address {
    /// Line 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line1: Option<String>,
    /// Line 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    /// City.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// State: a US code for country 840, a Canadian one for 124.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Zip code: 5 or 9 digits for 840, `A1A 1A1` for 124.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zipcode: Option<String>,
    /// ISO 3166-1 numeric country code (default 840).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// `owner.phone`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Phone {
    /// Country calling code, 1–3 digits (default 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    /// 10 digits for country code 1 (or none), else 4–14 digits.
    pub number: String,
}

impl Phone {
    /// A phone number with the default country code.
    pub fn new(number: impl Into<String>) -> Self {
        Phone {
            country_code: None,
            number: number.into(),
        }
    }
}

/// `owner`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Owner {
    /// The name.
    pub name: Name,
    /// The address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// The phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
}

impl Owner {
    /// An owner with only a name.
    pub fn new(name: Name) -> Self {
        Owner {
            name,
            address: None,
            phone: None,
        }
    }

    /// Sets the address.
    pub fn with_address(mut self, address: Address) -> Self {
        self.address = Some(address);
        self
    }

    /// Sets the phone.
    pub fn with_phone(mut self, phone: Phone) -> Self {
        self.phone = Some(phone);
        self
    }
}

/// Body of Create Account (`POST /v1/clients/{ClientID}/accounts`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CreateAccount {
    /// Your reference, `[a-zA-Z0-9_-]{1,15}`, unique (retrievable by it for 24 hours).
    #[serde(rename = "referenceID")]
    pub reference_id: String,
    /// A bank account (exactly one of `bank` or `card`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank: Option<Bank>,
    /// A card (exactly one of `bank` or `card`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<Card>,
    /// The owner.
    pub owner: Owner,
}

/// Body of Update Account v1 (`PUT /v1/…/accounts/{AccountID}`): a full replace, so `owner` and
/// one of `card` / `bank` are required.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct UpdateAccount {
    /// A bank account (exactly one of `bank` or `card`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank: Option<Bank>,
    /// A card (exactly one of `bank` or `card`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<Card>,
    /// The owner, in full.
    pub owner: Owner,
}

/// `card` of Update Account v2: only the not-encrypted fields, both optional (in practice the
/// expiry: v2 updates "excluding card account numbers").
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CardV2 {
    /// New expiry, sent as `YYYYMM`.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "ser_yyyymm")]
    pub expiration_date: Option<Expiry>,
}

/// `owner` of Update Account v2: every part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OwnerV2 {
    /// New name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<Name>,
    /// New address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// New phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
}

/// Body of Update Account v2 (`PUT /v2/…/accounts/{AccountID}`): a partial update.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct UpdateAccountV2 {
    /// Card changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<CardV2>,
    /// Owner changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<OwnerV2>,
}

/// The fields every response carries (`SC`, `EC`, `EM`, `notices`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Status {
    /// Echo of the HTTP status.
    #[serde(rename = "SC", default)]
    pub sc: Option<u16>,
    /// Internal error code: `"0"` on success, else 8 characters (opaque, for TabaPay support).
    #[serde(rename = "EC", default, deserialize_with = "lenient::opt_string")]
    pub ec: Option<String>,
    /// Short error hint (never to be shown to end users).
    #[serde(rename = "EM", default)]
    pub em: Option<String>,
    /// Notices.
    #[serde(default)]
    pub notices: Option<String>,
    /// Accounts with the same card (409).
    #[serde(rename = "duplicateAccountIDs", default)]
    pub duplicate_account_ids: Vec<String>,
}

/// The card summary the API returns (never the number).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CardSummary {
    /// Last four digits.
    pub last4: Option<String>,
    /// Expiry as sent (`YYYYMM`).
    pub expiration_date: Option<String>,
}

impl CardSummary {
    /// The expiry, when it is a valid `YYYYMM`.
    pub fn expiry(&self) -> Option<Expiry> {
        self.expiration_date
            .as_deref()
            .and_then(|e| Expiry::parse(e, ExpiryFormat::Yyyymm).ok())
    }
}

/// The bank summary the API returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BankSummary {
    /// Routing number.
    pub routing_number: Option<String>,
    /// Last four digits of the account number.
    pub last4: Option<String>,
    /// Account type.
    pub account_type: Option<BankAccountType>,
}

/// Create Account's answer.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct Created {
    /// `SC` / `EC` / `EM` / `notices`.
    #[serde(flatten)]
    pub status: Status,
    /// The new account id (22 characters). `None` only when TabaPay answered 207 ("a record was
    /// created, but an upstream step failed") without it and the client could not recover it by
    /// reference id: the account exists all the same (do not create it again); retrieve it by
    /// reference id within 24 hours, or ask TabaPay support to reconcile.
    #[serde(rename = "accountID", default)]
    pub account_id: Option<String>,
    /// For encrypted cards: last four and expiry (omitted for a card sent in clear).
    pub card: Option<CardSummary>,
}

/// Retrieve Account's answer.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct Account {
    /// `SC` / `EC` / `EM` / `notices`.
    #[serde(flatten)]
    pub status: Status,
    /// Your reference.
    #[serde(rename = "referenceID")]
    pub reference_id: Option<String>,
    /// The card summary.
    pub card: Option<CardSummary>,
    /// The bank summary.
    pub bank: Option<BankSummary>,
    /// The owner.
    pub owner: Option<Owner>,
}

/// Retrieve via referenceID's answer.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct AccountRef {
    /// `SC` / `EC` / `EM` / `notices`.
    #[serde(flatten)]
    pub status: Status,
    /// The account id.
    #[serde(rename = "accountID")]
    pub account_id: String,
    /// The owner.
    pub owner: Option<Owner>,
}

/// Key formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub enum KeyFormat {
    /// DER `SubjectPublicKeyInfo`, base64url.
    #[serde(rename = "ASN.1")]
    Asn1,
    /// Modulus and exponent, base64url.
    Raw,
}

impl KeyFormat {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyFormat::Asn1 => "ASN.1",
            KeyFormat::Raw => "Raw",
        }
    }
}

/// Body of Create Key.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct CreateKey {
    /// The format the key comes back in.
    pub format: KeyFormat,
}

/// A public RSA key as the API returns it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Key {
    /// `SC` / `EC` / `EM` / `notices`.
    #[serde(flatten)]
    pub status: Status,
    /// The key id (22 characters).
    #[serde(rename = "keyID")]
    pub key_id: Option<String>,
    /// ASN.1 format: the DER public key, base64url.
    pub key: Option<String>,
    /// Raw format: the modulus, base64url (may have a leading zero byte).
    pub key_modulus: Option<String>,
    /// Raw format: the exponent, base64url.
    pub key_exponent: Option<String>,
    /// Expiry, `yyyy-MM-ddTHH:mm:ssZ`.
    pub expiration: Option<String>,
}

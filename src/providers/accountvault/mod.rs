//! **AccountVault** (the TabaPay Account API v1): stored accounts (a card in one of four forms,
//! or a bank account, plus owner data), duplicate-card checks, ISO sub-clients, and the RSA keys
//! for encrypted card data (TabaPay's Account API reference at developers.tabapay.com; TabaPay's Update Account reference).
//!
//! The vault runs the account updater itself (Visa VAU / Mastercard ABU on stored cards); what a
//! billing platform does through the API is create, read, **update** and delete stored accounts.
//! [`AccountVaultClient`] covers every account and key endpoint and implements the unified
//! "update a stored account" flow of [`Provider`].
//!
//! Requests are compact JSON (the API refuses pretty-printed bodies) with
//! `Authorization: Bearer <token>`.
//!
//! On the embedded emulator (on TabaPay's sandbox, give your 22-character ClientID and token):
//!
//! ```
//! # #[cfg(feature = "emulator")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use account_updater::emulator::accountvault::AccountVaultEmulator;
//! use account_updater::providers::accountvault::AccountVaultClient;
//! use account_updater::providers::accountvault::wire::KeyFormat;
//!
//! let emulator = AccountVaultEmulator::start().await?;
//! let client = AccountVaultClient::builder(emulator.client_id(), emulator.token())
//!     .base_url(emulator.base_url())
//!     .build()?;
//! // The RSA key card data is encrypted with (RSA-OAEP) before it leaves your systems.
//! let key = client.create_key(KeyFormat::Asn1).await?;
//! let key_id = key.key_id.expect("a new key has an id");
//! assert_eq!(key_id.len(), 22);
//! assert!(client.retrieve_key(&key_id, Some(KeyFormat::Raw)).await?.key_modulus.is_some());
//! # Ok(()) }
//! # #[cfg(not(feature = "emulator"))]
//! # fn main() {}
//! ```

pub mod crypto;
pub mod wire;

use std::fmt;
use std::sync::Arc;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use crate::card::{CardNumber, Expiry};
use crate::error::{Error, InputProblem, ProviderError, Result};
use crate::provider::{
    AccountUpdateReceipt, AccountUpdateRequest, BoxFuture, Capabilities, Flow, HolderData,
    NewCardData, Provider, ProviderId,
};
use crate::transport::{
    AUTHORIZATION, ApiRequest, ApiResponse, SignableRequest, Signer, Transport, TransportConfig,
    path_segment, sensitive_header,
};

pub use crypto::{OaepMode, PublicKey, encrypt_card, encrypt_card_with};
use wire::{
    Account, AccountRef, Address, Card, CardV2, CreateAccount, CreateKey, Created, Key, KeyFormat,
    Name, Owner, OwnerV2, Phone, Status, UpdateAccount, UpdateAccountV2,
};

/// The sandbox host seen in public client code (TabaPay Account API reference); TabaPay issues each client its own
/// `https://{FQDN}:{PORT}`, so pass yours with `base_url`.
pub const SANDBOX_URL: &str = "https://api.sandbox.tabapay.net:10443";

const PROVIDER: ProviderId = ProviderId::AccountVault;

/// The duplicate-card check, sent as a valueless query key on v1 calls (TabaPay Account API reference). TabaPay warns
/// that the check only works when used on every request or on none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DuplicateCheck {
    /// No flag.
    #[default]
    Off,
    /// `?RejectDuplicateCard`: refuse (409) when another account has the same card.
    Reject,
    /// `?OKToAddDuplicateCard` on create, `?OKToUpdateDuplicateCard` on update: proceed and
    /// report.
    Allow,
}

/// A non-fatal condition the API reported with a success.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// HTTP 207: the operation succeeded but the duplicate-card check (or the duplicate
    /// deletion) failed upstream; contact TabaPay and reconcile.
    DuplicateCheckFailed {
        /// The `EC` returned.
        ec: Option<String>,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::DuplicateCheckFailed { ec } => write!(
                f,
                "done, but the duplicate-card check failed upstream (EC {}); reconcile with TabaPay",
                ec.as_deref().unwrap_or("?")
            ),
        }
    }
}

impl Status {
    /// The typed warning a 207 carries.
    pub fn warning(&self) -> Option<Warning> {
        (self.sc == Some(207)).then(|| Warning::DuplicateCheckFailed {
            ec: self.ec.clone(),
        })
    }
}

/// Sends `Authorization: Bearer <token>`.
#[derive(Clone)]
pub struct BearerSigner {
    token: SecretString,
}

impl BearerSigner {
    /// A signer for `token`.
    pub fn new(token: SecretString) -> Self {
        BearerSigner { token }
    }
}

impl fmt::Debug for BearerSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerSigner([REDACTED])")
    }
}

impl Signer for BearerSigner {
    fn sign(&self, request: &mut SignableRequest<'_>) -> Result<()> {
        let value = format!("Bearer {}", self.token.expose_secret());
        request
            .headers
            .insert(AUTHORIZATION, sensitive_header(&value)?);
        drop(SecretString::from(value));
        Ok(())
    }

    fn redactions(&self) -> Vec<SecretString> {
        vec![self.token.clone()]
    }
}

/// Builds an [`AccountVaultClient`].
#[derive(Debug)]
pub struct AccountVaultBuilder {
    client_id: String,
    sub_client_id: Option<String>,
    token: SecretString,
    /// `None`: the sandbox.
    base_url: Option<Url>,
    config: TransportConfig,
    duplicate_check: DuplicateCheck,
    encryption_key: Option<PublicKey>,
    oaep_mode: OaepMode,
}

impl AccountVaultBuilder {
    /// Your `https://{FQDN}:{PORT}` (from the credentials file), or an emulator.
    pub fn base_url(mut self, url: Url) -> Self {
        self.base_url = Some(url);
        self
    }

    /// An ISO's SubClientID (4, 6 or 8 digits), joined to the ClientID with `_`.
    pub fn sub_client_id(mut self, sub: impl Into<String>) -> Self {
        self.sub_client_id = Some(sub.into());
        self
    }

    /// Timeouts, retries, limits, or a shared [`crate::transport::HttpClient`].
    pub fn transport_config(mut self, config: TransportConfig) -> Self {
        self.config = config;
        self
    }

    /// The duplicate-card flag the unified update sends (native calls take it per call).
    pub fn duplicate_check(mut self, check: DuplicateCheck) -> Self {
        self.duplicate_check = check;
        self
    }

    /// A key the unified update encrypts new card numbers with (and the only way a security
    /// code can be sent).
    pub fn encryption_key(mut self, key: PublicKey) -> Self {
        self.encryption_key = Some(key);
        self
    }

    /// The OAEP padding the unified update encrypts with, sent as `mode` (default
    /// [`OaepMode::Sha256`], mode 2; [`OaepMode::JavaSha256Mgf1Sha1`] is mode 1).
    pub fn oaep_mode(mut self, mode: OaepMode) -> Self {
        self.oaep_mode = mode;
        self
    }

    /// Validates the ids and builds the client.
    pub fn build(self) -> Result<AccountVaultClient> {
        if self.client_id.len() != 22
            || !self
                .client_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(Error::invalid(
                "client_id",
                InputProblem::Format {
                    expected: "22 characters [A-Za-z0-9_-]".into(),
                },
            ));
        }
        if let Some(sub) = &self.sub_client_id {
            if !matches!(sub.len(), 4 | 6 | 8) || !sub.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::invalid(
                    "sub_client_id",
                    InputProblem::Format {
                        expected: "4, 6 or 8 digits".into(),
                    },
                ));
            }
        }
        if self.token.expose_secret().is_empty() {
            return Err(Error::invalid("token", InputProblem::Missing));
        }
        let transport = Transport::new(
            PROVIDER,
            match self.base_url {
                Some(url) => url,
                None => crate::transport::published_url(SANDBOX_URL)?,
            },
            Arc::new(BearerSigner::new(self.token)),
            self.config,
        )?;
        let client_path = match &self.sub_client_id {
            Some(sub) => format!("{}_{sub}", self.client_id),
            None => self.client_id,
        };
        Ok(AccountVaultClient {
            transport,
            client_path,
            duplicate_check: self.duplicate_check,
            encryption_key: self.encryption_key,
            oaep_mode: self.oaep_mode,
        })
    }
}

/// The AccountVault client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AccountVaultClient {
    transport: Transport,
    client_path: String,
    duplicate_check: DuplicateCheck,
    encryption_key: Option<PublicKey>,
    oaep_mode: OaepMode,
}

/// Maps a response: 200 and 207 succeed (207 with its [`Warning`]), 409 is
/// [`Error::Conflict`] with `duplicateAccountIDs`, everything else the unified status mapping
/// with `EC` as the code and `EM` as the message.
fn check<T: DeserializeOwned>(response: &ApiResponse) -> Result<T> {
    let body: Status = serde_json::from_slice(&response.body).unwrap_or_default();
    // `SC` echoes the HTTP status; a 2xx whose body says otherwise is treated by its `SC`.
    let status = match body.sc {
        Some(sc) if response.is_success() && sc >= 300 => sc,
        _ => response.status.as_u16(),
    };
    if status < 300 {
        return response.json();
    }
    let mut detail = ProviderError::status(response.status.as_u16());
    if let Some(ec) = &body.ec {
        detail = detail.with_code(ec.clone());
    }
    if let Some(em) = &body.em {
        detail = detail.with_message(em).with_field(em.clone());
    }
    if status == 409 {
        return Err(Error::Conflict {
            provider: PROVIDER,
            duplicates: body.duplicate_account_ids,
            detail: Box::new(detail),
        });
    }
    Err(Error::from_status(
        PROVIDER,
        status,
        response.retry_after(),
        detail,
    ))
}

/// TabaPay answers SC=500 to an RSA `data` blob it cannot decrypt: the same blob fails the same
/// way every time, so such a request is not repeated on a 5xx.
fn carries_encrypted_card(card: Option<&Card>) -> bool {
    card.is_some_and(|c| c.data.is_some())
}

/// A DELETE's answer: as [`check_status`], except that a 404/410 answering a retry whose first
/// attempt may have deleted the resource is success ([`ApiResponse::gone_after_retry`]), with
/// that status in `SC`.
fn check_delete(response: &ApiResponse) -> Result<Status> {
    if response.gone_after_retry() {
        let mut status: Status = serde_json::from_slice(&response.body).unwrap_or_default();
        status.sc = Some(response.status.as_u16());
        return Ok(status);
    }
    check_status(response)
}

/// Like [`check`], recording the real HTTP status in the body's `SC`.
fn check_status<T: DeserializeOwned + HasStatus>(response: &ApiResponse) -> Result<T> {
    let mut value: T = check(response)?;
    value.status_mut().sc = Some(response.status.as_u16());
    Ok(value)
}

trait HasStatus {
    fn status_mut(&mut self) -> &mut Status;
}

impl HasStatus for Status {
    fn status_mut(&mut self) -> &mut Status {
        self
    }
}

macro_rules! has_status {
    ($($t:ty),*) => {$(
        impl HasStatus for $t {
            fn status_mut(&mut self) -> &mut Status {
                &mut self.status
            }
        }
    )*};
}
has_status!(Created, Account, AccountRef, Key);

impl AccountVaultClient {
    /// Starts a builder: 22-character ClientID and bearer token from the credentials file.
    ///
    /// ```
    /// use account_updater::SecretString;
    /// use account_updater::providers::accountvault::AccountVaultClient;
    ///
    /// let client = AccountVaultClient::builder("TabaPay_ClientID_22chr", SecretString::from("token"))
    ///     .sub_client_id("0001") // an ISO's sub-client, sent as ClientID_SubClientID
    ///     .build()?;
    /// # let _ = client;
    /// // A ClientID that is not 22 characters is refused before any request.
    /// assert!(AccountVaultClient::builder("short", SecretString::from("token")).build().is_err());
    /// # Ok::<(), account_updater::Error>(())
    /// ```
    pub fn builder(client_id: impl Into<String>, token: SecretString) -> AccountVaultBuilder {
        AccountVaultBuilder {
            client_id: client_id.into(),
            sub_client_id: None,
            token,
            base_url: None,
            config: TransportConfig::default(),
            duplicate_check: DuplicateCheck::Off,
            encryption_key: None,
            oaep_mode: OaepMode::Sha256,
        }
    }

    /// The base URL in use.
    pub fn base_url(&self) -> &Url {
        self.transport.base_url()
    }

    /// The `{ClientID}` or `{ClientID}_{SubClientID}` path segment.
    pub fn client_path(&self) -> &str {
        &self.client_path
    }

    fn accounts(&self, version: &str) -> String {
        format!("/{version}/clients/{}/accounts", self.client_path)
    }

    fn account(&self, version: &str, account_id: &str) -> Result<String> {
        Ok(format!(
            "{}/{}",
            self.accounts(version),
            path_segment("account_id", account_id)?
        ))
    }

    /// `POST /v1/clients/{ClientID}/accounts[?RejectDuplicateCard|?OKToAddDuplicateCard]`.
    pub async fn create_account(
        &self,
        body: &CreateAccount,
        duplicates: DuplicateCheck,
    ) -> Result<Created> {
        validate::reference_id(&body.reference_id)?;
        validate::account_data(body.bank.as_ref(), body.card.as_ref(), true)?;
        validate::owner(&body.owner)?;
        let mut req = ApiRequest::new(
            Method::POST,
            self.accounts("v1"),
            "/v1/clients/{ClientID}/accounts",
        )
        .json(body);
        req = match duplicates {
            DuplicateCheck::Off => req,
            DuplicateCheck::Reject => req.flag("RejectDuplicateCard"),
            DuplicateCheck::Allow => req.flag("OKToAddDuplicateCard"),
        };
        let mut created: Created = check_status(&self.transport.send(req).await?)?;
        if created.account_id.as_deref().is_none_or(str::is_empty) {
            // A success (207: created, an upstream step failed) without the id: the account
            // exists, so the id is recovered by reference id (valid for 24 hours) rather than
            // reported as a failure that would invite creating it twice. If that fails too,
            // the answer still says the account exists, with no id.
            created.account_id = self
                .retrieve_by_reference(&body.reference_id)
                .await
                .ok()
                .map(|r| r.account_id)
                .filter(|id| !id.is_empty());
        }
        Ok(created)
    }

    /// `GET /v1/clients/{ClientID}/accounts/{AccountID}`.
    pub async fn retrieve_account(&self, account_id: &str) -> Result<Account> {
        let req = ApiRequest::new(
            Method::GET,
            self.account("v1", account_id)?,
            "/v1/clients/{ClientID}/accounts/{AccountID}",
        );
        check_status(&self.transport.send(req).await?)
    }

    /// Retrieves an account for a merge, refusing one whose owner holds fields this crate does
    /// not model: sending the merged owner back would drop them.
    async fn retrieve_for_merge(&self, account_id: &str) -> Result<Account> {
        let req = ApiRequest::new(
            Method::GET,
            self.account("v1", account_id)?,
            "/v1/clients/{ClientID}/accounts/{AccountID}",
        );
        let response = self.transport.send(req).await?;
        let account: Account = check_status(&response)?;
        let raw: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
        if let Some(unknown) = unmodelled_owner_field(&raw["owner"]) {
            return Err(Error::invalid(
                "account_id",
                InputProblem::NotAllowed {
                    reason: format!(
                        "the stored owner holds `{unknown}`, which this crate cannot carry over a full replace; update the account with the native client"
                    ),
                },
            ));
        }
        Ok(account)
    }

    /// `GET /v1/clients/{ClientID}/accounts?referenceID=`: only within 24 hours of creation
    /// (afterwards HTTP 421, an [`Error::Provider`] with status 421).
    pub async fn retrieve_by_reference(&self, reference_id: &str) -> Result<AccountRef> {
        validate::reference_id(reference_id)?;
        let req = ApiRequest::new(
            Method::GET,
            self.accounts("v1"),
            "/v1/clients/{ClientID}/accounts",
        )
        .query("referenceID", reference_id);
        check_status(&self.transport.send(req).await?)
    }

    /// `PUT /v1/clients/{ClientID}/accounts/{AccountID}[?RejectDuplicateCard|?OKToUpdateDuplicateCard]`:
    /// replaces the whole account (the previous data is deleted). A 207 succeeds with
    /// [`Status::warning`]; a 409 is [`Error::Conflict`] with the duplicate account ids.
    pub async fn update_account(
        &self,
        account_id: &str,
        body: &UpdateAccount,
        duplicates: DuplicateCheck,
    ) -> Result<Status> {
        validate::account_data(body.bank.as_ref(), body.card.as_ref(), true)?;
        validate::owner(&body.owner)?;
        let mut req = ApiRequest::new(
            Method::PUT,
            self.account("v1", account_id)?,
            "/v1/clients/{ClientID}/accounts/{AccountID}",
        )
        .json(body);
        req = match duplicates {
            DuplicateCheck::Off => req,
            DuplicateCheck::Reject => req.flag("RejectDuplicateCard"),
            DuplicateCheck::Allow => req.flag("OKToUpdateDuplicateCard"),
        };
        if carries_encrypted_card(body.card.as_ref()) {
            req = req.no_retry_on_server_error();
        }
        check_status(&self.transport.send(req).await?)
    }

    /// `PUT /v2/clients/{ClientID}/accounts/{AccountID}`: a partial update (expiry and owner
    /// parts). Duplicate flags are not allowed on v2.
    pub async fn update_account_v2(
        &self,
        account_id: &str,
        body: &UpdateAccountV2,
    ) -> Result<Status> {
        if body
            .card
            .as_ref()
            .is_none_or(|c| c.expiration_date.is_none())
            && body.owner.as_ref().is_none_or(|o| o == &OwnerV2::default())
        {
            return Err(Error::invalid("body", InputProblem::Empty));
        }
        if let Some(owner) = &body.owner {
            validate_v2_owner(owner)?;
        }
        let req = ApiRequest::new(
            Method::PUT,
            self.account("v2", account_id)?,
            "/v2/clients/{ClientID}/accounts/{AccountID}",
        )
        .json(body);
        check_status(&self.transport.send(req).await?)
    }

    /// `DELETE /v1/clients/{ClientID}/accounts/{AccountID}[?DeleteDuplicateCard]`. Deleting again
    /// is HTTP 410 ([`Error::NotFound`] with status 410).
    pub async fn delete_account(
        &self,
        account_id: &str,
        delete_duplicates: bool,
    ) -> Result<Status> {
        let mut req = ApiRequest::new(
            Method::DELETE,
            self.account("v1", account_id)?,
            "/v1/clients/{ClientID}/accounts/{AccountID}",
        );
        if delete_duplicates {
            req = req.flag("DeleteDuplicateCard");
        }
        check_delete(&self.transport.send(req).await?)
    }

    /// `POST /v1/clients/{ClientID}/keys`: a new RSA key for encrypted card data. Keys live 365
    /// days; keep at most two (a third can be refused with 429).
    pub async fn create_key(&self, format: KeyFormat) -> Result<Key> {
        let req = ApiRequest::new(
            Method::POST,
            format!("/v1/clients/{}/keys", self.client_path),
            "/v1/clients/{ClientID}/keys",
        )
        .json(&CreateKey { format });
        check_status(&self.transport.send(req).await?)
    }

    /// `GET /v1/clients/{ClientID}/keys/{KeyID}[?Format=]` (the API's default format is Raw).
    pub async fn retrieve_key(&self, key_id: &str, format: Option<KeyFormat>) -> Result<Key> {
        let path = format!(
            "/v1/clients/{}/keys/{}",
            self.client_path,
            path_segment("key_id", key_id)?
        );
        let mut req = ApiRequest::new(Method::GET, path, "/v1/clients/{ClientID}/keys/{KeyID}");
        if let Some(f) = format {
            req = req.query("Format", f.as_str());
        }
        let mut key: Key = check_status(&self.transport.send(req).await?)?;
        key.key_id.get_or_insert_with(|| key_id.to_owned());
        Ok(key)
    }

    /// `DELETE /v1/clients/{ClientID}/keys/{KeyID}` (404 unknown, 410 already deleted).
    pub async fn delete_key(&self, key_id: &str) -> Result<Status> {
        let path = format!(
            "/v1/clients/{}/keys/{}",
            self.client_path,
            path_segment("key_id", key_id)?
        );
        let req = ApiRequest::new(Method::DELETE, path, "/v1/clients/{ClientID}/keys/{KeyID}");
        check_delete(&self.transport.send(req).await?)
    }

    /// The card form the unified update sends: encrypted when a key is configured, otherwise in
    /// clear (and then no security code can be sent).
    fn card_for(&self, number: &CardNumber, data: &NewCardData) -> Result<Card> {
        match &self.encryption_key {
            Some(key) => Ok(Card::encrypted_with(
                key.key_id(),
                encrypt_card_with(
                    key,
                    self.oaep_mode,
                    number,
                    data.expiry,
                    data.security_code.as_ref(),
                )?,
                self.oaep_mode,
            )),
            None if data.security_code.is_some() => Err(Error::invalid(
                "card.security_code",
                InputProblem::NotAllowed {
                    reason: "AccountVault takes a security code only inside encrypted card data; configure an encryption key".into(),
                },
            )),
            None => Ok(Card::plain(number.clone(), data.expiry)),
        }
    }
}

/// The first owner field (as `owner.x.y`) that the wire types do not model, if any.
fn unmodelled_owner_field(owner: &serde_json::Value) -> Option<String> {
    const KNOWN: [(&str, &[&str]); 3] = [
        ("name", &["company", "first", "middle", "last", "suffix"]),
        (
            "address",
            &["line1", "line2", "city", "state", "zipcode", "country"],
        ),
        ("phone", &["countryCode", "number"]),
    ];
    let object = owner.as_object()?;
    for (key, value) in object {
        let Some((_, fields)) = KNOWN.iter().find(|(k, _)| k == key) else {
            return Some(format!("owner.{key}"));
        };
        if let Some(inner) = value.as_object() {
            if let Some(extra) = inner.keys().find(|k| !fields.contains(&k.as_str())) {
                return Some(format!("owner.{key}.{extra}"));
            }
        }
    }
    None
}

/// ISO 3166-1 alpha-2 → numeric for the countries a billing platform most often meets; others
/// must be given as the 3-digit numeric code.
fn country_numeric(code: &str) -> Option<&'static str> {
    Some(match code.to_ascii_uppercase().as_str() {
        "US" => "840",
        "CA" => "124",
        "MX" => "484",
        "GB" => "826",
        "IE" => "372",
        "FR" => "250",
        "DE" => "276",
        "ES" => "724",
        "IT" => "380",
        "NL" => "528",
        "AU" => "036",
        "NZ" => "554",
        "JP" => "392",
        "IN" => "356",
        "BR" => "076",
        _ => return None,
    })
}

/// The unified holder data as AccountVault owner parts.
fn owner_parts(holder: &HolderData) -> Result<OwnerV2> {
    if holder.email.is_some() {
        return Err(Error::invalid(
            "holder.email",
            InputProblem::NotAllowed {
                reason: "AccountVault stores no email for an account owner".into(),
            },
        ));
    }
    let has_person =
        holder.first_name.is_some() || holder.middle_name.is_some() || holder.last_name.is_some();
    let name = (has_person || holder.company.is_some()).then(|| Name {
        company: holder.company.clone(),
        first: holder.first_name.clone(),
        middle: holder.middle_name.clone(),
        last: holder.last_name.clone(),
        suffix: None,
    });
    let address = match &holder.address {
        None => None,
        Some(a) => Some(Address {
            line1: a.line1.clone(),
            line2: a.line2.clone(),
            city: a.city.clone(),
            state: a.state.clone(),
            zipcode: a.postal_code.clone(),
            country: match a.country.as_deref() {
                None => None,
                Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()) => {
                    Some(c.to_owned())
                }
                Some(c) => Some(country_numeric(c).map(str::to_owned).ok_or_else(|| {
                    Error::invalid(
                        "holder.address.country",
                        InputProblem::Format {
                            expected:
                                "an ISO 3166-1 numeric code (e.g. 840) or a known alpha-2 code"
                                    .into(),
                        },
                    )
                })?),
            },
        }),
    };
    let phone = holder.phone.as_ref().map(|n| Phone {
        country_code: holder.phone_country_code.clone(),
        number: n.clone(),
    });
    Ok(OwnerV2 {
        name,
        address,
        phone,
    })
}

impl Provider for AccountVaultClient {
    fn id(&self) -> ProviderId {
        PROVIDER
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::of(&[Flow::UpdateAccount])
    }

    /// A new card number: Update Account v1, which replaces the whole account, so the stored
    /// owner is retrieved and the caller's holder data merged into it field by field (nothing
    /// the caller did not ask to change is dropped), with the client's duplicate-card policy.
    /// Only a new expiry and/or holder data: Update Account v2 (partial); holder data is merged
    /// with the stored owner there too, so a partial name or address is never sent alone
    /// (whether v2 merges or replaces those objects is not documented).
    ///
    /// Refused before any request: a new number without an expiry (the stored expiry belongs
    /// to the old card), a card holder name (AccountVault has no name on the card: use the
    /// owner's name in holder data), an email. Refused after the retrieve and before the update:
    /// a stored bank account (a card would replace it), and stored owner data this crate cannot
    /// carry over.
    fn update_account(
        &self,
        request: AccountUpdateRequest,
    ) -> BoxFuture<'_, Result<AccountUpdateReceipt>> {
        Box::pin(async move {
            let AccountUpdateRequest {
                account_id,
                card,
                holder,
            } = request;
            let parts = holder.as_ref().map(owner_parts).transpose()?;
            if card.is_none() && parts.is_none() {
                return Err(Error::invalid("update", InputProblem::Empty));
            }
            if let Some(data) = &card {
                if data.holder_name.is_some() {
                    return Err(Error::invalid(
                        "card.holder_name",
                        InputProblem::NotAllowed {
                            reason: "AccountVault keeps no name on the card; set the owner's name in holder data".into(),
                        },
                    ));
                }
                if data.number.is_some() && data.expiry.is_none() {
                    return Err(Error::invalid("card.expiry", InputProblem::Missing));
                }
            }
            let new_card = match &card {
                Some(data) => match &data.number {
                    Some(number) => Some(self.card_for(number, data)?),
                    None if data.security_code.is_some() => {
                        return Err(Error::invalid(
                            "card.security_code",
                            InputProblem::NotAllowed {
                                reason: "without a new number only the expiry can change on a stored card".into(),
                            },
                        ));
                    }
                    None => None,
                },
                None => None,
            };
            let stored = match (&new_card, &parts) {
                (None, None) => None,
                _ => Some(self.retrieve_for_merge(&account_id).await?),
            };
            let status = match new_card {
                Some(card) => {
                    let (bank, owner) = stored.map(|s| (s.bank, s.owner)).unwrap_or_default();
                    if bank.is_some() {
                        return Err(Error::invalid(
                            "card",
                            InputProblem::NotAllowed {
                                reason: "the stored account is a bank account; a card update would replace it".into(),
                            },
                        ));
                    }
                    let mut owner = owner.unwrap_or_default();
                    if let Some(p) = parts {
                        merge_owner(&mut owner, p);
                    }
                    // A stored ZIP+4 a server returns as `12345-6789` goes back as documented.
                    if let Some(a) = owner.address.as_mut() {
                        a.zipcode = a.zipcode.take().map(|z: String| documented_zip(z.as_str()));
                    }
                    validate::owner(&owner)?;
                    let body = UpdateAccount {
                        bank: None,
                        card: Some(card),
                        owner,
                    };
                    self.update_account(&account_id, &body, self.duplicate_check)
                        .await?
                }
                None => {
                    let owner = match (parts, stored) {
                        (Some(p), Some(stored)) => {
                            let (name, address, phone) =
                                (p.name.is_some(), p.address.is_some(), p.phone.is_some());
                            let mut merged = stored.owner.unwrap_or_default();
                            merge_owner(&mut merged, p);
                            // Whole objects for what the caller changed, nothing else.
                            let owner = OwnerV2 {
                                name: name.then_some(merged.name),
                                address: merged.address.filter(|_| address),
                                phone: merged.phone.filter(|_| phone),
                            };
                            validate_v2_owner(&owner)?;
                            Some(owner)
                        }
                        _ => None,
                    };
                    let body = UpdateAccountV2 {
                        card: card
                            .as_ref()
                            .and_then(|c| c.expiry)
                            .map(|e: Expiry| CardV2 {
                                expiration_date: Some(e),
                            }),
                        owner,
                    };
                    self.update_account_v2(&account_id, &body).await?
                }
            };
            Ok(AccountUpdateReceipt {
                provider: PROVIDER,
                account_id,
                raw_code: format!(
                    "SC={} EC={}",
                    status.sc.unwrap_or(0),
                    status.ec.as_deref().unwrap_or("")
                ),
                warning: status.warning().map(|w| w.to_string()),
                reference: None,
            })
        })
    }
}

/// Merges the caller's holder parts into the stored owner, field by field: a field the caller
/// gives replaces the stored one; a field it leaves out keeps the stored value. A company name
/// replaces a person's name and the other way round (TabaPay takes one or the other).
fn merge_owner(owner: &mut Owner, parts: OwnerV2) {
    fn keep_or<T>(stored: &mut Option<T>, given: Option<T>) {
        if given.is_some() {
            *stored = given;
        }
    }
    if let Some(n) = parts.name {
        if n.company.is_some() {
            owner.name = Name {
                company: n.company,
                ..Name::default()
            };
        } else {
            if owner.name.company.is_some() {
                owner.name = Name::default();
            }
            keep_or(&mut owner.name.first, n.first);
            keep_or(&mut owner.name.middle, n.middle);
            keep_or(&mut owner.name.last, n.last);
            keep_or(&mut owner.name.suffix, n.suffix);
        }
    }
    if let Some(a) = parts.address {
        let stored = owner.address.get_or_insert_with(Address::default);
        keep_or(&mut stored.line1, a.line1);
        keep_or(&mut stored.line2, a.line2);
        keep_or(&mut stored.city, a.city);
        keep_or(&mut stored.state, a.state);
        keep_or(&mut stored.zipcode, a.zipcode);
        keep_or(&mut stored.country, a.country);
        stored.zipcode = stored
            .zipcode
            .take()
            .map(|z: String| documented_zip(z.as_str()));
    }
    if let Some(p) = parts.phone {
        let stored = owner.phone.get_or_insert_with(|| Phone::new(""));
        stored.number = p.number;
        keep_or(&mut stored.country_code, p.country_code);
    }
}

/// The v2 owner parts' rules (the same as v1's, for the parts present).
fn validate_v2_owner(owner: &OwnerV2) -> Result<()> {
    if let Some(name) = &owner.name {
        validate::name(name)?;
    }
    if let Some(a) = &owner.address {
        validate::address(a)?;
    }
    if let Some(p) = &owner.phone {
        validate::phone(p)?;
    }
    Ok(())
}

/// A US ZIP+4 written `12345-6789` becomes the nine digits the document asks for; anything else
/// is kept as it is (and validated as it is).
fn documented_zip(zip: &str) -> String {
    let b = zip.as_bytes();
    if b.len() == 10 && b[5] == b'-' && zip.bytes().filter(u8::is_ascii_digit).count() == 9 {
        zip.replace('-', "")
    } else {
        zip.to_owned()
    }
}

/// The documented field rules, checked before anything is sent.
pub mod validate {
    use secrecy::ExposeSecret;

    use super::wire::{Address, Bank, Card, Name, Owner, Phone};
    use crate::error::{Error, InputProblem, Result};

    const US_STATES: &[&str] = &[
        "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
        "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
        "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
        "VT", "VA", "WA", "WV", "WI", "WY", "AS", "GU", "MP", "PR", "VI", "UM", "AA", "AE", "AP",
    ];
    const CA_PROVINCES: &[&str] = &[
        "AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT",
    ];

    fn format(field: &str, expected: &str) -> Error {
        Error::invalid(
            field,
            InputProblem::Format {
                expected: expected.into(),
            },
        )
    }

    fn charset(field: &str, value: &str, extra: &[u8], expected: &str) -> Result<()> {
        if value.is_empty()
            || !value.bytes().all(|b| {
                b.is_ascii_alphanumeric()
                    || b == b' '
                    || b == b'_'
                    || b == b'-'
                    || extra.contains(&b)
            })
        {
            return Err(format(field, expected));
        }
        Ok(())
    }

    /// `referenceID`: `[a-zA-Z0-9_-]{1,15}`.
    pub fn reference_id(r: &str) -> Result<()> {
        if r.is_empty()
            || r.len() > 15
            || !r
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(format("referenceID", "1 to 15 characters [a-zA-Z0-9_-]"));
        }
        Ok(())
    }

    /// The ABA routing-number check digit: 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) ≡ 0 (mod 10).
    pub fn aba_valid(routing: &str) -> bool {
        routing.len() == 9 && routing.bytes().all(|b| b.is_ascii_digit()) && {
            let d: Vec<u32> = routing.bytes().map(|b| u32::from(b - b'0')).collect();
            (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])) % 10 == 0
        }
    }

    /// `bank`: routing number (9 digits, valid check digit), account number (4–17 digits).
    pub fn bank(b: &Bank) -> Result<()> {
        if !aba_valid(&b.routing_number) {
            return Err(format(
                "bank.routingNumber",
                "9 digits with a valid ABA check digit",
            ));
        }
        let n = b.account_number.expose_secret();
        if !(4..=17).contains(&n.len()) || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format("bank.accountNumber", "4 to 17 digits"));
        }
        Ok(())
    }

    /// `card`: exactly one form, each with its own rules.
    pub fn card(c: &Card) -> Result<()> {
        let forms = [
            ("accountNumber", c.account_number.is_some()),
            ("keyID/data", c.key_id.is_some() || c.data.is_some()),
            ("token", c.token.is_some()),
            ("device", c.device.is_some()),
        ];
        let present: Vec<&str> = forms.iter().filter(|f| f.1).map(|f| f.0).collect();
        match present.as_slice() {
            [] => return Err(Error::invalid("card", InputProblem::Missing)),
            [_] => {}
            [a, b, ..] => {
                return Err(Error::invalid(
                    format!("card.{a}"),
                    InputProblem::Conflicts {
                        other: format!("card.{b}: send exactly one card form"),
                    },
                ));
            }
        }
        if let Some(pan) = &c.account_number {
            if pan.len() < 13 {
                return Err(format("card.accountNumber", "13 to 19 digits"));
            }
        } else if c.expiration_date.is_some() {
            return Err(Error::invalid(
                "card.expirationDate",
                InputProblem::NotAllowed {
                    reason: "goes with accountNumber only (inside encrypted data otherwise)".into(),
                },
            ));
        }
        if c.key_id.is_some() || c.data.is_some() {
            let key = c.key_id.as_deref().unwrap_or("");
            if key.len() != 22
                || !key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(format("card.keyID", "22 characters [a-zA-Z0-9_-]"));
            }
            let data = c.data.as_deref().unwrap_or("");
            if data.is_empty()
                || !data
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'=')
            {
                return Err(format("card.data", "base64url ciphertext"));
            }
            if c.mode.is_some_and(|m| m > 2) {
                return Err(format("card.mode", "0, 1 or 2"));
            }
        }
        if let Some(t) = &c.token {
            let t = t.expose_secret();
            if t.len() != 344
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'=' | b'-'))
            {
                return Err(format("card.token", "344 characters [A-Za-z0-9_+=-]"));
            }
        }
        if let Some(d) = &c.device {
            if d.id.is_empty() {
                return Err(Error::invalid("card.device.id", InputProblem::Missing));
            }
            if d.blob.expose_secret().is_empty() {
                return Err(Error::invalid("card.device.blob", InputProblem::Missing));
            }
        }
        Ok(())
    }

    /// Exactly one of `bank` or `card` (when `required`).
    pub fn account_data(
        bank_data: Option<&Bank>,
        card_data: Option<&Card>,
        required: bool,
    ) -> Result<()> {
        match (bank_data, card_data) {
            (Some(_), Some(_)) => Err(Error::invalid(
                "bank",
                InputProblem::Conflicts {
                    other: "card: send either a bank account or a card".into(),
                },
            )),
            (Some(b), None) => bank(b),
            (None, Some(c)) => card(c),
            (None, None) if required => Err(Error::invalid("card", InputProblem::Missing)),
            (None, None) => Ok(()),
        }
    }

    /// `owner.name`: company **or** first + last (+ middle, suffix), `[ a-zA-Z0-9_-]+`.
    pub fn name(n: &Name) -> Result<()> {
        let person =
            n.first.is_some() || n.middle.is_some() || n.last.is_some() || n.suffix.is_some();
        match (&n.company, person) {
            (Some(_), true) => {
                return Err(Error::invalid(
                    "owner.name.company",
                    InputProblem::Conflicts {
                        other: "owner.name.first/middle/last/suffix".into(),
                    },
                ));
            }
            (Some(c), false) => {
                return charset(
                    "owner.name.company",
                    c,
                    &[],
                    "letters, digits, spaces, _ and -",
                );
            }
            (None, false) => return Err(Error::invalid("owner.name", InputProblem::Missing)),
            (None, true) => {}
        }
        for (field, value, required) in [
            ("owner.name.first", &n.first, true),
            ("owner.name.middle", &n.middle, false),
            ("owner.name.last", &n.last, true),
            ("owner.name.suffix", &n.suffix, false),
        ] {
            match value {
                Some(v) => charset(field, v, &[], "letters, digits, spaces, _ and -")?,
                None if required => return Err(Error::invalid(field, InputProblem::Missing)),
                None => {}
            }
        }
        Ok(())
    }

    /// `owner.address`: character sets, numeric country (default 840), and for 840 / 124 a valid
    /// state or province and zip / postal code.
    pub fn address(a: &Address) -> Result<()> {
        // TabaPay's Update Account table marks `line1` and `city` R(equired) within `address`
        // (the address itself is optional): an address without them is refused.
        for (field, v) in [
            ("owner.address.line1", &a.line1),
            ("owner.address.city", &a.city),
        ] {
            if v.as_deref().is_none_or(str::is_empty) {
                return Err(Error::invalid(field, InputProblem::Missing));
            }
        }
        // TabaPay's own Update Account sample has "Suite #222", so '#' is accepted besides the spec's set.
        for (field, v) in [
            ("owner.address.line1", &a.line1),
            ("owner.address.line2", &a.line2),
        ] {
            if let Some(v) = v {
                charset(field, v, b".#", "letters, digits, spaces and . _ - #")?;
            }
        }
        for (field, v) in [
            ("owner.address.city", &a.city),
            ("owner.address.state", &a.state),
            ("owner.address.zipcode", &a.zipcode),
        ] {
            if let Some(v) = v {
                charset(field, v, &[], "letters, digits, spaces, _ and -")?;
            }
        }
        let country = a.country.as_deref().unwrap_or("840");
        if country.len() != 3 || !country.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format(
                "owner.address.country",
                "an ISO 3166-1 numeric code of 3 digits",
            ));
        }
        let state = a.state.as_deref();
        let zip = a.zipcode.as_deref();
        match country {
            "840" => {
                let s = state
                    .ok_or_else(|| Error::invalid("owner.address.state", InputProblem::Missing))?;
                if !US_STATES.contains(&s) {
                    return Err(format(
                        "owner.address.state",
                        "a 2-letter US state code for country 840",
                    ));
                }
                let z = zip.ok_or_else(|| {
                    Error::invalid("owner.address.zipcode", InputProblem::Missing)
                })?;
                // "5 or 9 digits": a ZIP+4 goes as nine digits, no hyphen (the unified
                // update converts `12345-6789`; the native client sends what it is given).
                let ok = matches!(z.len(), 5 | 9) && z.bytes().all(|b| b.is_ascii_digit());
                if !ok {
                    return Err(format(
                        "owner.address.zipcode",
                        "5 or 9 digits (no hyphen) for country 840",
                    ));
                }
            }
            "124" => {
                let s = state
                    .ok_or_else(|| Error::invalid("owner.address.state", InputProblem::Missing))?;
                if !CA_PROVINCES.contains(&s) {
                    return Err(format(
                        "owner.address.state",
                        "a 2-letter Canadian province code for country 124",
                    ));
                }
                let z = zip.ok_or_else(|| {
                    Error::invalid("owner.address.zipcode", InputProblem::Missing)
                })?;
                let b = z.as_bytes();
                let ok = b.len() == 7
                    && b[3] == b' '
                    && [0, 2, 5].iter().all(|&i| b[i].is_ascii_uppercase())
                    && [1, 4, 6].iter().all(|&i| b[i].is_ascii_digit());
                if !ok {
                    return Err(format("owner.address.zipcode", "A1A 1A1 for country 124"));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `owner.phone`: country code 1–3 digits (default 1); number 10 digits for code 1, else
    /// 4–14 digits.
    pub fn phone(p: &Phone) -> Result<()> {
        let cc = p.country_code.as_deref().unwrap_or("1");
        if cc.is_empty() || cc.len() > 3 || !cc.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format("owner.phone.countryCode", "1 to 3 digits"));
        }
        let n = &p.number;
        let digits = n.bytes().all(|b| b.is_ascii_digit());
        if cc == "1" && !(digits && n.len() == 10) {
            return Err(format("owner.phone.number", "10 digits for country code 1"));
        }
        if !(digits && (4..=14).contains(&n.len())) {
            return Err(format("owner.phone.number", "4 to 14 digits"));
        }
        Ok(())
    }

    /// The whole `owner`.
    pub fn owner(o: &Owner) -> Result<()> {
        name(&o.name)?;
        if let Some(a) = &o.address {
            address(a)?;
        }
        if let Some(p) = &o.phone {
            phone(p)?;
        }
        Ok(())
    }
}

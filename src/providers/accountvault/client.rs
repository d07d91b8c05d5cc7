//! The native AccountVault client: every account endpoint (create, retrieve, by reference,
//! update v1 / v2, delete) and the RSA key endpoints, with TabaPay's status answers typed.

use super::crypto::{OaepMode, PublicKey, encrypt_card_with};
use super::operations as op;
use super::wire::{
    Account, AccountRef, Card, CreateAccount, Created, Key, KeyFormat, Status, UpdateAccount,
    UpdateAccountV2,
};
use super::{PROVIDER, SANDBOX_URL, auth, validate};
use crate::card::CardNumber;
use crate::error::{Error, InputProblem, Result};
use crate::provider::NewCardData;
use crate::transport::{
    PathSegment, Transport, TransportConfig, path_segment,
};
use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::sync::Arc;
use url::Url;

/// The duplicate-card check, sent as a valueless query key on v1 calls ([TabaPay Account API reference](https://developers.tabapay.com/reference)). TabaPay warns
/// that the check only works when used on every request or on none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DuplicateCheck {
    /// No flag.
    #[default]
    Off,
    /// `?RejectDuplicateCard`: refuse (409) when another account has the same card.
    Reject,
    /// `?OKToAddDuplicateCard` on create, `?OKToUpdateDuplicateCard` on update (or the other
    /// spelling: [`UpdateAllowFlag`]): proceed and report.
    Allow,
}

/// How the update call spells its "proceed even if the card exists" flag. TabaPay's own
/// documents disagree: the Update Account page's URL lines (and its note that the valueless
/// flags "work today in sandbox/production") say `?OKToUpdateDuplicateCard`, while the same
/// page's query-string list and TabaPay's OpenAPI file say `?OKToAddDuplicateCard` for update
/// too. The default follows the page's working URL lines; a caller whose environment wants the
/// other spelling sets it with [`AccountVaultBuilder::update_allow_flag`]. Create always sends
/// `?OKToAddDuplicateCard` (every document agrees).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UpdateAllowFlag {
    /// `?OKToUpdateDuplicateCard` (the Update Account page's URL lines).
    #[default]
    OkToUpdate,
    /// `?OKToAddDuplicateCard` (the query-string list and TabaPay's OpenAPI file).
    OkToAdd,
}

impl UpdateAllowFlag {
    /// The query key sent.
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateAllowFlag::OkToUpdate => "OKToUpdateDuplicateCard",
            UpdateAllowFlag::OkToAdd => "OKToAddDuplicateCard",
        }
    }
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
    update_allow_flag: UpdateAllowFlag,
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

    /// The spelling of the update call's allow flag ([`UpdateAllowFlag`]; the documents
    /// disagree).
    pub fn update_allow_flag(mut self, flag: UpdateAllowFlag) -> Self {
        self.update_allow_flag = flag;
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
        validate::client_id(&self.client_id)?;
        if let Some(sub) = &self.sub_client_id {
            validate::sub_client_id(sub)?;
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
            Arc::new(auth::signer(self.token)),
            self.config,
        )?;
        let client = path_segment("client_id", &self.client_id)?;
        let client_path = match &self.sub_client_id {
            Some(sub) => PathSegment::joined(&client, '_', &path_segment("sub_client_id", sub)?),
            None => client,
        };
        Ok(AccountVaultClient {
            transport,
            client_path,
            duplicate_check: self.duplicate_check,
            update_allow_flag: self.update_allow_flag,
            encryption_key: self.encryption_key,
            oaep_mode: self.oaep_mode,
        })
    }
}

/// The AccountVault client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AccountVaultClient {
    transport: Transport,
    /// The `{ClientID}` path segment: `ClientID` or `ClientID_SubClientID`.
    client_path: PathSegment,
    pub(super) duplicate_check: DuplicateCheck,
    update_allow_flag: UpdateAllowFlag,
    encryption_key: Option<PublicKey>,
    oaep_mode: OaepMode,
}

/// TabaPay answers SC=500 to an RSA `data` blob it cannot decrypt: the same blob fails the same
/// way every time, so such a request is not repeated on a 5xx.
pub(super) fn carries_encrypted_card(card: Option<&Card>) -> bool {
    card.is_some_and(|c| c.data.is_some())
}

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
            update_allow_flag: UpdateAllowFlag::OkToUpdate,
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
        self.client_path.as_str()
    }

    /// A request to an endpoint under `/clients/{ClientID}/accounts/{AccountID}`.
    /// The `{ClientID}` path segment (`ClientID_SubClientID` for an ISO's sub-client).
    pub(super) fn client_segment(&self) -> &PathSegment {
        &self.client_path
    }

    /// How the update call spells "proceed even if the card exists".
    pub(super) fn update_allow_flag(&self) -> UpdateAllowFlag {
        self.update_allow_flag
    }

    /// The transport (its URL building, for the operations' tests).
    #[cfg(test)]
    pub(super) fn transport(&self) -> &Transport {
        &self.transport
    }

    crate::providers::common::execute_methods!(
        "AccountVault (TabaPay)",
        r#"```
# #[tokio::main(flavor = "current_thread")]
# async fn main() -> Result<(), Box<dyn std::error::Error>> {
# let emulator = account_updater_emulator::accountvault::AccountVaultEmulator::start().await?;
# let client = account_updater::providers::accountvault::AccountVaultClient::builder(emulator.client_id(), emulator.token())
#     .base_url(emulator.base_url())
#     .build()?;
use account_updater::providers::accountvault::operations::{CreateKey, RetrieveKey};
use account_updater::providers::accountvault::wire::KeyFormat;
use account_updater::transport::CallOptions;
use std::time::Duration;
let key = client.execute(&CreateKey { format: KeyFormat::Asn1 }).await?;
let key_id = key.key_id.unwrap();
let patient = CallOptions::default().timeout(Duration::from_secs(60));
let read = client.execute_with(&RetrieveKey { key_id: &key_id, format: None }, &patient).await?;
assert_eq!(read.key_id, Some(key_id));
# Ok(()) }
```"#
    );

    /// `POST /v1/clients/{ClientID}/accounts[?RejectDuplicateCard|?OKToAddDuplicateCard]`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::accountvault::{AccountVaultClient, DuplicateCheck};
    /// # let emulator = account_updater_emulator::accountvault::AccountVaultEmulator::start().await?;
    /// # let client = AccountVaultClient::builder(emulator.client_id(), emulator.token())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::accountvault::wire::{Card, CreateAccount, Name, Owner};
    /// use account_updater::card::with_check_digit;
    /// use account_updater::{CardNumber, Expiry};
    /// let number = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// let owner = Owner::new(Name::default().first("Ada").last("Lovelace"));
    /// let account = CreateAccount::new("customer-42", owner)
    ///     .card(Card::plain(number, Some(Expiry::new(1, 2030)?)));
    /// let created = client.create_account(&account, DuplicateCheck::Off).await?;
    /// let account_id = created.account_id.expect("TabaPay answers the id");
    /// assert_eq!(created.status.sc, Some(200));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when the reference id is missing or malformed,
    /// the card or bank data breaks AccountVault's rules (one of card or bank; a card number,
    /// expiry and encrypted data checked as the reference requires), or the owner's fields break
    /// their documented formats. Otherwise what TabaPay answered, mapped in one place
    /// (`response.rs`, by the body's `SC` when it disagrees with the HTTP status): [`Error::Auth`],
    /// [`Error::NotFound`] (404, or 410 for one already deleted), [`Error::Conflict`] naming the
    /// duplicate accounts (409), [`Error::RateLimited`], [`Error::Provider`] with `EC` and `EM`; or
    /// what kept it from answering: [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`].
    /// TabaPay **may have created the account** when [`Error::provider_may_have_acted`] is `true`
    /// (a timeout after sending, a 5xx, an unreadable answer): look it up by reference
    /// ([`AccountVaultClient::retrieve_by_reference`], within 24 hours) before sending again. A
    /// refusal changed nothing.
    pub async fn create_account(
        &self,
        body: &CreateAccount,
        duplicates: DuplicateCheck,
    ) -> Result<Created> {
        let mut created = self
            .execute(&op::CreateAccount {
                account: body,
                duplicates,
            })
            .await?;
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
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::accountvault::{AccountVaultClient, DuplicateCheck};
    /// # let emulator = account_updater_emulator::accountvault::AccountVaultEmulator::start().await?;
    /// # let client = AccountVaultClient::builder(emulator.client_id(), emulator.token())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::accountvault::wire::{Card, CreateAccount, Name, Owner};
    /// use account_updater::card::with_check_digit;
    /// use account_updater::{CardNumber, Expiry};
    /// let number = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// let owner = Owner::new(Name::default().first("Ada").last("Lovelace"));
    /// let account = CreateAccount::new("customer-42", owner)
    ///     .card(Card::plain(number, Some(Expiry::new(1, 2030)?)));
    /// let created = client.create_account(&account, DuplicateCheck::Off).await?;
    /// let account_id = created.account_id.expect("TabaPay answers the id");
    /// let stored = client.retrieve_account(&account_id).await?;
    /// assert_eq!(stored.reference_id.as_deref(), Some("customer-42"));
    /// let card = stored.card.expect("a card account");
    /// assert_eq!(card.expiry(), Some(Expiry::new(1, 2030)?));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `account_id` is empty or unsafe. Otherwise
    /// what TabaPay answered, mapped in one place (`response.rs`, by the body's `SC` when it
    /// disagrees with the HTTP status): [`Error::Auth`], [`Error::NotFound`] (404, or 410 for one
    /// already deleted), [`Error::Conflict`] naming the duplicate accounts (409),
    /// [`Error::RateLimited`], [`Error::Provider`] with `EC` and `EM`; or what kept it from
    /// answering: [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`]. A GET: the provider
    /// changed nothing.
    pub async fn retrieve_account(&self, account_id: &str) -> Result<Account> {
        self.execute(&op::RetrieveAccount { account_id }).await
    }

    /// Retrieves an account for a merge, refusing one whose owner holds fields this crate does
    /// not model: sending the merged owner back would drop them.
    pub(super) async fn retrieve_for_merge(&self, account_id: &str) -> Result<Account> {
        let account = op::RetrieveAccount { account_id };
        self.execute(&op::RetrieveAccountForMerge { account })
            .await
    }

    /// `GET /v1/clients/{ClientID}/accounts?referenceID=`: only within 24 hours of creation
    /// (afterwards HTTP 421, an [`Error::Provider`] with status 421).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::accountvault::{AccountVaultClient, DuplicateCheck};
    /// # let emulator = account_updater_emulator::accountvault::AccountVaultEmulator::start().await?;
    /// # let client = AccountVaultClient::builder(emulator.client_id(), emulator.token())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::accountvault::wire::{Card, CreateAccount, Name, Owner};
    /// use account_updater::card::with_check_digit;
    /// use account_updater::{CardNumber, Expiry};
    /// let number = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// let owner = Owner::new(Name::default().first("Ada").last("Lovelace"));
    /// let account = CreateAccount::new("customer-42", owner)
    ///     .card(Card::plain(number, Some(Expiry::new(1, 2030)?)));
    /// let created = client.create_account(&account, DuplicateCheck::Off).await?;
    /// let account_id = created.account_id.expect("TabaPay answers the id");
    /// // Within 24 hours of creation, the caller's reference finds the account.
    /// let found = client.retrieve_by_reference("customer-42").await?;
    /// assert_eq!(found.account_id, account_id);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when the reference id is missing or malformed.
    /// Otherwise what TabaPay answered, mapped in one place (`response.rs`, by the body's `SC` when
    /// it disagrees with the HTTP status): [`Error::Auth`], [`Error::NotFound`] (404, or 410 for
    /// one already deleted), [`Error::Conflict`] naming the duplicate accounts (409),
    /// [`Error::RateLimited`], [`Error::Provider`] with `EC` and `EM`; or what kept it from
    /// answering: [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`]. A GET: the provider
    /// changed nothing.
    pub async fn retrieve_by_reference(&self, reference_id: &str) -> Result<AccountRef> {
        self.execute(&op::RetrieveAccountByReference { reference_id })
            .await
    }

    /// `PUT /v1/clients/{ClientID}/accounts/{AccountID}[?RejectDuplicateCard|?OKToUpdateDuplicateCard]`
    /// (the allow flag spelled as [`AccountVaultBuilder::update_allow_flag`] sets):
    /// replaces the whole account (the previous data is deleted). A 207 succeeds with
    /// [`Status::warning`]; a 409 is [`Error::Conflict`] with the duplicate account ids.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::accountvault::{AccountVaultClient, DuplicateCheck};
    /// # let emulator = account_updater_emulator::accountvault::AccountVaultEmulator::start().await?;
    /// # let client = AccountVaultClient::builder(emulator.client_id(), emulator.token())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::accountvault::wire::{Card, CreateAccount, Name, Owner};
    /// use account_updater::card::with_check_digit;
    /// use account_updater::{CardNumber, Expiry};
    /// let number = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// let owner = Owner::new(Name::default().first("Ada").last("Lovelace"));
    /// let account = CreateAccount::new("customer-42", owner)
    ///     .card(Card::plain(number, Some(Expiry::new(1, 2030)?)));
    /// let created = client.create_account(&account, DuplicateCheck::Off).await?;
    /// let account_id = created.account_id.expect("TabaPay answers the id");
    /// use account_updater::providers::accountvault::wire::UpdateAccount;
    /// // A full replace: the new card and the owner as they must now read.
    /// let reissued = CardNumber::parse(&with_check_digit("445700030000000").unwrap())?;
    /// let owner = Owner::new(Name::default().first("Ada").last("Lovelace"));
    /// let update = UpdateAccount::new(owner).card(Card::plain(reissued, Some(Expiry::new(6, 2031)?)));
    /// let status = client.update_account(&account_id, &update, DuplicateCheck::Off).await?;
    /// assert_eq!(status.sc, Some(200));
    /// let card = client.retrieve_account(&account_id).await?.card.unwrap();
    /// assert_eq!(card.expiry(), Some(Expiry::new(6, 2031)?));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `account_id` is empty or unsafe, or the card
    /// or bank data breaks AccountVault's rules (one of card or bank; a card number, expiry and
    /// encrypted data checked as the reference requires), or the owner's fields break their
    /// documented formats. Otherwise what TabaPay answered, mapped in one place (`response.rs`, by
    /// the body's `SC` when it disagrees with the HTTP status): [`Error::Auth`],
    /// [`Error::NotFound`] (404, or 410 for one already deleted), [`Error::Conflict`] naming the
    /// duplicate accounts (409), [`Error::RateLimited`], [`Error::Provider`] with `EC` and `EM`; or
    /// what kept it from answering: [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`].
    /// TabaPay **may have replaced the account** when [`Error::provider_may_have_acted`] is `true`
    /// (a timeout after sending, a 5xx, an unreadable answer): read it back
    /// ([`AccountVaultClient::retrieve_account`]) before sending again. An encrypted card answered
    /// with a 5xx is not retried (TabaPay fails the same blob the same way). A refusal changed
    /// nothing.
    pub async fn update_account(
        &self,
        account_id: &str,
        body: &UpdateAccount,
        duplicates: DuplicateCheck,
    ) -> Result<Status> {
        self.execute(&op::UpdateAccount {
            account_id,
            update: body,
            duplicates,
        })
        .await
    }

    /// `PUT /v2/clients/{ClientID}/accounts/{AccountID}`: a partial update (expiry and owner
    /// parts). Duplicate flags are not allowed on v2.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::accountvault::{AccountVaultClient, DuplicateCheck};
    /// # let emulator = account_updater_emulator::accountvault::AccountVaultEmulator::start().await?;
    /// # let client = AccountVaultClient::builder(emulator.client_id(), emulator.token())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::accountvault::wire::{Card, CreateAccount, Name, Owner};
    /// use account_updater::card::with_check_digit;
    /// use account_updater::{CardNumber, Expiry};
    /// let number = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// let owner = Owner::new(Name::default().first("Ada").last("Lovelace"));
    /// let account = CreateAccount::new("customer-42", owner)
    ///     .card(Card::plain(number, Some(Expiry::new(1, 2030)?)));
    /// let created = client.create_account(&account, DuplicateCheck::Off).await?;
    /// let account_id = created.account_id.expect("TabaPay answers the id");
    /// use account_updater::providers::accountvault::wire::{CardV2, UpdateAccountV2};
    /// // A partial update: only the expiry changes; the stored number and owner stay.
    /// let update = UpdateAccountV2::default().card(CardV2::default().expiration_date(Expiry::new(6, 2031)?));
    /// let status = client.update_account_v2(&account_id, &update).await?;
    /// assert_eq!(status.sc, Some(200));
    /// let card = client.retrieve_account(&account_id).await?.card.unwrap();
    /// assert_eq!(card.expiry(), Some(Expiry::new(6, 2031)?));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `account_id` is empty or unsafe, the update
    /// changes nothing, or the owner's fields break their documented formats. Otherwise what
    /// TabaPay answered, mapped in one place (`response.rs`, by the body's `SC` when it disagrees
    /// with the HTTP status): [`Error::Auth`], [`Error::NotFound`] (404, or 410 for one already
    /// deleted), [`Error::Conflict`] naming the duplicate accounts (409), [`Error::RateLimited`],
    /// [`Error::Provider`] with `EC` and `EM`; or what kept it from answering:
    /// [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`]. TabaPay **may have changed the
    /// account** when [`Error::provider_may_have_acted`] is `true` (a timeout after sending, a 5xx,
    /// an unreadable answer): read it back ([`AccountVaultClient::retrieve_account`]) before
    /// sending again. A refusal changed nothing.
    pub async fn update_account_v2(
        &self,
        account_id: &str,
        body: &UpdateAccountV2,
    ) -> Result<Status> {
        self.execute(&op::UpdateAccountV2 {
            account_id,
            update: body,
        })
        .await
    }

    /// `DELETE /v1/clients/{ClientID}/accounts/{AccountID}[?DeleteDuplicateCard]`. Deleting again
    /// is HTTP 410 ([`Error::NotFound`] with status 410).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::accountvault::{AccountVaultClient, DuplicateCheck};
    /// # let emulator = account_updater_emulator::accountvault::AccountVaultEmulator::start().await?;
    /// # let client = AccountVaultClient::builder(emulator.client_id(), emulator.token())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::accountvault::wire::{Card, CreateAccount, Name, Owner};
    /// use account_updater::card::with_check_digit;
    /// use account_updater::{CardNumber, Expiry};
    /// let number = CardNumber::parse(&with_check_digit("445701000000000").unwrap())?;
    /// let owner = Owner::new(Name::default().first("Ada").last("Lovelace"));
    /// let account = CreateAccount::new("customer-42", owner)
    ///     .card(Card::plain(number, Some(Expiry::new(1, 2030)?)));
    /// let created = client.create_account(&account, DuplicateCheck::Off).await?;
    /// let account_id = created.account_id.expect("TabaPay answers the id");
    /// use account_updater::ErrorKind;
    /// client.delete_account(&account_id, false).await?;
    /// let gone = client.retrieve_account(&account_id).await.unwrap_err();
    /// assert_eq!(gone.kind(), ErrorKind::NotFound);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `account_id` is empty or unsafe. Otherwise
    /// what TabaPay answered, mapped in one place (`response.rs`, by the body's `SC` when it
    /// disagrees with the HTTP status): [`Error::Auth`], [`Error::NotFound`] (404, or 410 for one
    /// already deleted), [`Error::Conflict`] naming the duplicate accounts (409),
    /// [`Error::RateLimited`], [`Error::Provider`] with `EC` and `EM`; or what kept it from
    /// answering: [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`]. TabaPay **may have
    /// deleted the account** when [`Error::provider_may_have_acted`] is `true` (a timeout after
    /// sending, a 5xx, an unreadable answer): deleting again answers 410 ([`Error::NotFound`]),
    /// which says it is gone, so it can simply be sent again. A refusal changed nothing.
    pub async fn delete_account(
        &self,
        account_id: &str,
        delete_duplicates: bool,
    ) -> Result<Status> {
        self.execute(&op::DeleteAccount {
            account_id,
            delete_duplicates,
        })
        .await
    }

    /// `POST /v1/clients/{ClientID}/keys`: a new RSA key for encrypted card data. Keys live 365
    /// days; keep at most two (a third can be refused with 429).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::accountvault::{AccountVaultClient, DuplicateCheck};
    /// # let emulator = account_updater_emulator::accountvault::AccountVaultEmulator::start().await?;
    /// # let client = AccountVaultClient::builder(emulator.client_id(), emulator.token())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::accountvault::wire::KeyFormat;
    /// let key = client.create_key(KeyFormat::Asn1).await?;
    /// let key_id = key.key_id.expect("TabaPay answers the key id");
    /// assert!(key.key.is_some()); // the public key, to encrypt card data with
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// What TabaPay answered, mapped in one place (`response.rs`, by the body's `SC` when it
    /// disagrees with the HTTP status): [`Error::Auth`], [`Error::NotFound`] (404, or 410 for one
    /// already deleted), [`Error::Conflict`] naming the duplicate accounts (409),
    /// [`Error::RateLimited`], [`Error::Provider`] with `EC` and `EM`; or what kept it from
    /// answering: [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`]. TabaPay **may have
    /// created a key** when [`Error::provider_may_have_acted`] is `true` (a timeout after sending,
    /// a 5xx, an unreadable answer): its id is then unknown; it expires on its own after 365 days,
    /// and counts meanwhile against the two keys TabaPay keeps (a third can be refused with 429). A
    /// refusal changed nothing.
    pub async fn create_key(&self, format: KeyFormat) -> Result<Key> {
        self.execute(&op::CreateKey { format }).await
    }

    /// `GET /v1/clients/{ClientID}/keys/{KeyID}[?Format=]` (the API's default format is Raw).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::accountvault::{AccountVaultClient, DuplicateCheck};
    /// # let emulator = account_updater_emulator::accountvault::AccountVaultEmulator::start().await?;
    /// # let client = AccountVaultClient::builder(emulator.client_id(), emulator.token())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::accountvault::wire::KeyFormat;
    /// let key = client.create_key(KeyFormat::Asn1).await?;
    /// let key_id = key.key_id.expect("TabaPay answers the key id");
    /// let read = client.retrieve_key(&key_id, Some(KeyFormat::Raw)).await?;
    /// assert_eq!(read.key_id.as_deref(), Some(key_id.as_str()));
    /// assert!(read.key_modulus.is_some());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `key_id` is empty or unsafe. Otherwise what
    /// TabaPay answered, mapped in one place (`response.rs`, by the body's `SC` when it disagrees
    /// with the HTTP status): [`Error::Auth`], [`Error::NotFound`] (404, or 410 for one already
    /// deleted), [`Error::Conflict`] naming the duplicate accounts (409), [`Error::RateLimited`],
    /// [`Error::Provider`] with `EC` and `EM`; or what kept it from answering:
    /// [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`]. A GET: the provider changed
    /// nothing.
    pub async fn retrieve_key(&self, key_id: &str, format: Option<KeyFormat>) -> Result<Key> {
        self.execute(&op::RetrieveKey { key_id, format }).await
    }

    /// `DELETE /v1/clients/{ClientID}/keys/{KeyID}` (404 unknown, 410 already deleted).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use account_updater::providers::accountvault::{AccountVaultClient, DuplicateCheck};
    /// # let emulator = account_updater_emulator::accountvault::AccountVaultEmulator::start().await?;
    /// # let client = AccountVaultClient::builder(emulator.client_id(), emulator.token())
    /// #     .base_url(emulator.base_url())
    /// #     .build()?;
    /// use account_updater::providers::accountvault::wire::KeyFormat;
    /// let key = client.create_key(KeyFormat::Asn1).await?;
    /// let key_id = key.key_id.expect("TabaPay answers the key id");
    /// use account_updater::ErrorKind;
    /// client.delete_key(&key_id).await?;
    /// let gone = client.retrieve_key(&key_id, None).await.unwrap_err();
    /// assert_eq!(gone.kind(), ErrorKind::NotFound);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before any request when `key_id` is empty or unsafe. Otherwise what
    /// TabaPay answered, mapped in one place (`response.rs`, by the body's `SC` when it disagrees
    /// with the HTTP status): [`Error::Auth`], [`Error::NotFound`] (404, or 410 for one already
    /// deleted), [`Error::Conflict`] naming the duplicate accounts (409), [`Error::RateLimited`],
    /// [`Error::Provider`] with `EC` and `EM`; or what kept it from answering:
    /// [`Error::Transport`], [`Error::Timeout`], [`Error::Decode`]. TabaPay **may have deleted the
    /// key** when [`Error::provider_may_have_acted`] is `true` (a timeout after sending, a 5xx, an
    /// unreadable answer): deleting again answers 410 ([`Error::NotFound`]), which says it is gone,
    /// so it can simply be sent again. A refusal changed nothing.
    pub async fn delete_key(&self, key_id: &str) -> Result<Status> {
        self.execute(&op::DeleteKey { key_id }).await
    }

    /// The card form the unified update sends: encrypted when a key is configured, otherwise in
    /// clear (and then no security code can be sent).
    pub(super) fn card_for(&self, number: &CardNumber, data: &NewCardData) -> Result<Card> {
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

impl AccountVaultClient {
    /// The variables [`AccountVaultClient::from_env`] reads.
    pub const ENV: crate::env::EnvVars = crate::env::EnvVars::new(
        &["ACCOUNTVAULT_CLIENT_ID", "ACCOUNTVAULT_TOKEN"],
        &["ACCOUNTVAULT_BASE_URL", "ACCOUNTVAULT_SUB_CLIENT_ID"],
    );

    /// A builder from the environment: `ACCOUNTVAULT_CLIENT_ID` and `ACCOUNTVAULT_TOKEN`, with
    /// `ACCOUNTVAULT_BASE_URL` and `ACCOUNTVAULT_SUB_CLIENT_ID` (an ISO's sub-client) when
    /// set. `None` when neither of the two is set.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the variable: one of the two set and not the other, a
    /// base URL that does not parse.
    pub fn from_env() -> Result<Option<AccountVaultBuilder>> {
        let Some(env) = Self::ENV.read()? else {
            return Ok(None);
        };
        let mut builder = Self::builder(
            env.get("ACCOUNTVAULT_CLIENT_ID").unwrap_or_default(),
            env.secret("ACCOUNTVAULT_TOKEN").unwrap_or_default(),
        );
        if let Some(url) = env.url("ACCOUNTVAULT_BASE_URL")? {
            builder = builder.base_url(url);
        }
        if let Some(sub) = env.get("ACCOUNTVAULT_SUB_CLIENT_ID") {
            builder = builder.sub_client_id(sub);
        }
        Ok(Some(builder))
    }
}

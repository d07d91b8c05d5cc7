//! A stateful AccountVault (TabaPay Account API) on loopback.
//!
//! - Bearer token check (401), `Content-Type: application/json` (415), compact JSON only (400
//!   "JSON contains not packed/contains newlines"), known ClientID (with an optional
//!   `_SubClientID` of 4, 6 or 8 digits).
//! - Accounts with unique reference ids (retrievable by reference for 24 hours:
//!   [`AccountVaultEmulator::expire_reference_ids`] makes them 421), exactly one of bank / card and
//!   one card form, v1 full replace, v2 partial update, delete then 410.
//! - Duplicate-card detection by card number, with each flag's documented behaviour: reject →
//!   409 with the (up to 3) newest duplicate ids; OK-to-add / OK-to-update → 200; no flag → 200;
//!   flags refused on v2; [`AccountVaultEmulator::fail_next_duplicate_check`] gives a 207.
//! - RSA keys (at most two active, 429 beyond), in ASN.1 or Raw format; the private half decrypts
//!   `data` (RSA-OAEP SHA-256, base64url) into `PAN|YYYYMM|CSC`, and a wrong blob is a 500, as
//!   TabaPay documents. So retrieving an account created with encrypted data proves the client
//!   encrypted it right.

mod handlers;

use handlers::handle;
mod accounts;

use std::collections::HashMap;
use std::sync::Arc;

use rsa::RsaPrivateKey;
use secrecy::SecretString;
use serde_json::Value;
use url::Url;

use super::{EmulatorServer, Fault};

/// The ClientID the emulator serves by default (22 characters).
pub const DEFAULT_CLIENT_ID: &str = "EmulatorClientId000001";

/// The bearer token it accepts by default.
pub const DEFAULT_TOKEN: &str =
    "emulator-bearer-token-for-tests-only-0000000000000000000000000000000000000";

/// Settings of an [`AccountVaultEmulator`].
#[derive(Clone)]
#[non_exhaustive]
pub struct AccountVaultEmulatorConfig {
    /// The ClientID.
    pub client_id: String,
    /// The bearer token.
    pub token: SecretString,
    /// RSA key size for created keys.
    pub key_bits: usize,
    /// Answer Create Account with HTTP 207 and no `accountID`, as the status table allows ("a
    /// record was created, but an upstream step failed"): the account exists, and only a
    /// retrieve by reference id names it.
    pub create_207_without_account_id: bool,
    /// Answer Retrieve Account with the owner as a server may normalise it: names in capitals,
    /// a five-digit ZIP extended to ZIP+4 written `94043-0000`, the default country `840` and
    /// phone country code `1` filled in.
    pub retrieve_normalised_owner: bool,
    /// Which spelling of the update call's allow flag it accepts: TabaPay's documents show
    /// both (see [`account_updater::providers::accountvault::UpdateAllowFlag`]); by default both.
    pub update_allow_flags: AllowFlagSpelling,
}

/// Which spellings of Update Account's allow flag the emulator accepts; any other flag is a
/// 400, as an unknown query key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AllowFlagSpelling {
    /// `?OKToUpdateDuplicateCard` and `?OKToAddDuplicateCard`.
    #[default]
    Both,
    /// Only `?OKToUpdateDuplicateCard` (the Update Account page's URL lines).
    OkToUpdateOnly,
    /// Only `?OKToAddDuplicateCard` (its query-string list and TabaPay's OpenAPI file).
    OkToAddOnly,
}

impl AllowFlagSpelling {
    /// The flags Update Account accepts besides `RejectDuplicateCard`.
    pub(crate) fn accepted(self) -> &'static [&'static str] {
        match self {
            AllowFlagSpelling::Both => &["OKToUpdateDuplicateCard", "OKToAddDuplicateCard"],
            AllowFlagSpelling::OkToUpdateOnly => &["OKToUpdateDuplicateCard"],
            AllowFlagSpelling::OkToAddOnly => &["OKToAddDuplicateCard"],
        }
    }
}

impl std::fmt::Debug for AccountVaultEmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountVaultEmulatorConfig")
            .field("client_id", &self.client_id)
            .field("key_bits", &self.key_bits)
            .field(
                "create_207_without_account_id",
                &self.create_207_without_account_id,
            )
            .field("retrieve_normalised_owner", &self.retrieve_normalised_owner)
            .field("update_allow_flags", &self.update_allow_flags)
            .finish_non_exhaustive()
    }
}

impl Default for AccountVaultEmulatorConfig {
    fn default() -> Self {
        AccountVaultEmulatorConfig {
            client_id: DEFAULT_CLIENT_ID.into(),
            token: SecretString::from(DEFAULT_TOKEN.to_owned()),
            key_bits: 2048,
            create_207_without_account_id: false,
            retrieve_normalised_owner: false,
            update_allow_flags: AllowFlagSpelling::Both,
        }
    }
}

#[derive(Clone)]
enum Stored {
    Card {
        pan: Option<SecretString>,
        expiration: Option<String>,
    },
    Bank {
        routing: String,
        last4: String,
        kind: String,
    },
}

struct AccountRec {
    id: String,
    reference: String,
    reference_expired: bool,
    data: Stored,
    owner: Value,
    deleted: bool,
    seq: u64,
}

struct KeyRec {
    private: RsaPrivateKey,
    deleted: bool,
    expiration: String,
}

#[derive(Default)]
struct Store {
    accounts: Vec<AccountRec>,
    keys: HashMap<String, KeyRec>,
    seq: u64,
    fail_next_check: bool,
}

type Shared = super::Shared<AccountVaultEmulatorConfig, Store>;

/// A running AccountVault emulator. Stops when dropped.
pub struct AccountVaultEmulator {
    server: EmulatorServer,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for AccountVaultEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountVaultEmulator")
            .field("base_url", &self.server.base_url().as_str())
            .finish_non_exhaustive()
    }
}

impl AccountVaultEmulator {
    /// Starts an emulator with the default ClientID and token.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(AccountVaultEmulatorConfig::default()).await
    }

    /// Starts an emulator with the given settings.
    pub async fn start_with(config: AccountVaultEmulatorConfig) -> std::io::Result<Self> {
        let shared = Shared::new(config, Store::default());
        Ok(AccountVaultEmulator {
            server: super::serve(&shared, handle).await?,
            shared,
        })
    }

    /// The base URL to give the client.
    pub fn base_url(&self) -> Url {
        self.server.base_url().clone()
    }

    /// The ClientID served.
    pub fn client_id(&self) -> &str {
        &self.shared.config.client_id
    }

    /// The bearer token accepted.
    pub fn token(&self) -> SecretString {
        self.shared.config.token.clone()
    }

    /// Answers the next request with `fault` instead of handling it.
    pub fn inject_fault(&self, fault: Fault) {
        self.shared.faults.push(fault);
    }

    /// The next request that carries a duplicate-card flag succeeds with HTTP 207 (the check
    /// "failed upstream").
    pub fn fail_next_duplicate_check(&self) {
        self.shared.lock().fail_next_check = true;
    }

    /// Moves every account past its 24-hour reference-id window (retrieve by reference → 421).
    pub fn expire_reference_ids(&self) {
        self.shared
            .lock()
            .accounts
            .iter_mut()
            .for_each(|a| a.reference_expired = true);
    }

    /// The private key behind `key_id`, for tests that decrypt what a client sent.
    pub fn private_key(&self, key_id: &str) -> Option<RsaPrivateKey> {
        self.shared
            .lock()
            .keys
            .get(key_id)
            .map(|k| k.private.clone())
    }
}

crate::setters!(AccountVaultEmulatorConfig {
    string client_id,
    value token: SecretString,
    value key_bits: usize,
    value create_207_without_account_id: bool,
    value retrieve_normalised_owner: bool,
    value update_allow_flags: AllowFlagSpelling,
});

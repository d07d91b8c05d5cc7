//! Shared by the examples: tracing set-up, environment variables, and building each provider's
//! client against its embedded emulator (no credentials) or its real sandbox (credentials set).
#![allow(dead_code)]

use account_updater::SecretString;
use url::Url;

/// Installs a `tracing` subscriber that honours `RUST_LOG` (default `warn`), so
/// `RUST_LOG=account_updater=debug` shows every request the crate makes: provider, method, path
/// template, status, attempt and latency, never bodies or credentials.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Logs go to stderr: stdout is the example's own output (and, for cardsync_bulk, what a
    // parent process reads from its measuring child).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// A non-empty environment variable.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A secret environment variable.
pub fn env_secret(name: &str) -> Option<SecretString> {
    env(name).map(SecretString::from)
}

/// A URL environment variable; exits with a message when it does not parse.
pub fn env_url(name: &str) -> Option<Url> {
    env(name).map(|v| {
        Url::parse(&v).unwrap_or_else(|e| {
            eprintln!("{name} is not a URL: {e}");
            std::process::exit(2)
        })
    })
}

/// Prints a numbered step.
pub fn step(n: &mut u32, text: &str) {
    *n += 1;
    println!("\n[{n}] {text}");
}

/// Exits non-zero with the error (which never carries card data or secrets).
pub fn fail(context: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("FAILED: {context}: {e}");
    std::process::exit(1)
}

/// Unwraps or exits non-zero.
pub trait OrExit<T> {
    /// The value, or exit with `context`.
    fn or_exit(self, context: &str) -> T;
}

impl<T, E: std::fmt::Display> OrExit<T> for Result<T, E> {
    fn or_exit(self, context: &str) -> T {
        self.unwrap_or_else(|e| fail(context, e))
    }
}

/// How a report shows a card: the masked number when known, else the token's last four
/// (tokens can be PAN-shaped, as ShieldConex's are, so they are never shown whole).
pub fn shown_card(u: &account_updater::CardUpdate) -> String {
    u.masked_card()
        .or_else(|| {
            u.new_token
                .as_ref()
                .or(u.previous_token.as_ref())
                .map(|t| format!("token …{}", &t[t.len().saturating_sub(4)..]))
        })
        .unwrap_or_else(|| "-".into())
}

/// The caller's id of an update, or the provider's reference marked as such when the update
/// could not be joined back to one of the caller's cards.
pub fn shown_id(u: &account_updater::CardUpdate) -> String {
    match (&u.card_id, &u.card_ref) {
        (Some(id), _) => id.clone(),
        (None, Some(r)) => format!("(ref {r})"),
        (None, None) => "-".into(),
    }
}

/// Prints unified card updates as a table (cards masked).
pub fn print_updates(updates: &[account_updater::CardUpdate]) {
    println!(
        "    {:<12} {:<38} {:<20} {:<20} {:<26} {:<8}",
        "provider", "card id", "card (masked)", "outcome", "raw code", "new exp"
    );
    for u in updates {
        println!(
            "    {:<12} {:<38} {:<20} {:<20} {:<26} {:<8}",
            u.provider.to_string(),
            shown_id(u),
            shown_card(u),
            u.outcome.to_string(),
            u.raw_code,
            u.new_expiry
                .map(|e| e.to_string())
                .unwrap_or_else(|| "-".into()),
        );
    }
}

pub mod payconex {
    use account_updater::providers::payconex::{AuthMethod, PayConexClient};
    use account_updater_emulator::payconex::PayConexEmulator;

    use super::OrExit;

    /// A client on the real environment when `PAYCONEX_ACCOUNT_ID`, `PAYCONEX_API_KEY_ID` and
    /// `PAYCONEX_API_SECRET` are set (`PayConexClient::from_env`: `PAYCONEX_BASE_URL`, default
    /// certification; `PAYCONEX_AUTH=hmac|basic`, default hmac), else on a fresh emulator
    /// (with the `PAYCONEX_AUTH` scheme too).
    pub async fn connect() -> (PayConexClient, Option<PayConexEmulator>) {
        let auth = AuthMethod::from_env().or_exit("PAYCONEX_AUTH");
        if let Some(builder) = PayConexClient::from_env().or_exit("PayConex settings") {
            return (builder.build().or_exit("PayConex client"), None);
        }
        let emulator = PayConexEmulator::start()
            .await
            .or_exit("start the PayConex emulator");
        let client = PayConexClient::builder(emulator.account_id(), emulator.credentials())
            .base_url(emulator.base_url())
            .auth(auth)
            .build()
            .or_exit("PayConex client");
        (client, Some(emulator))
    }
}

pub mod cardsync {
    use account_updater::SecretString;
    use account_updater::providers::cardsync::wire::{
        CardInfo, DeliveryFrequency, Merchant, PrimaryContact, User,
    };
    use account_updater::providers::cardsync::{CardSyncClient, CardSyncPartner};
    use account_updater_emulator::cardsync::CardSyncEmulator;

    use super::{OrExit, env, env_secret};

    /// The SE number for Amex subscriptions (`CARDSYNC_SE_NUMBER`, default `1234567890`).
    pub fn se_number() -> String {
        env("CARDSYNC_SE_NUMBER").unwrap_or_else(|| "1234567890".into())
    }

    /// A partner client on the real sandbox when `CARDSYNC_API_KEY` (partner key) is set
    /// (`CardSyncPartner::from_env`: `CARDSYNC_BASE_URL`, default the sandbox), else on a fresh
    /// emulator.
    pub async fn connect() -> (CardSyncPartner, Option<CardSyncEmulator>) {
        if let Some(builder) = CardSyncPartner::from_env().or_exit("CardSync settings") {
            return (builder.build_partner().or_exit("CardSync client"), None);
        }
        let emulator = CardSyncEmulator::start()
            .await
            .or_exit("start the CardSync emulator");
        let partner = CardSyncPartner::builder(emulator.partner_key())
            .base_url(emulator.base_url())
            .build_partner()
            .or_exit("CardSync client");
        (partner, Some(emulator))
    }

    /// A demo merchant with a unique legal name and username.
    pub fn demo_merchant() -> Merchant {
        let suffix = chrono::Utc::now().format("%Y%m%d%H%M%S%f").to_string();
        Merchant::new(
            PrimaryContact::default()
                .first_name("Camille")
                .last_name("Bauch")
                .company("Example Subscriptions")
                .address_line_1("188 Turnpike")
                .address_line_2(String::new())
                .city("Springfield")
                .state("IL")
                .postal_code("62701")
                .country("US")
                .phone("5555555555")
                .email("ops@example.com"),
            User::default()
                .username(format!("example-{suffix}"))
                .email("ops@example.com")
                .status("active")
                .role("admin")
                .create_api_key(true),
            CardInfo::new(DeliveryFrequency::Weekly)
                .type_of_biller("both")
                .total_number_of_records(19)
                .number_of_visa(6)
                .number_of_mastercard(5)
                .number_of_discover(5)
                .number_of_amex(3)
                .amex_se_number(se_number())
                .mcc("5968"),
        )
        .legal_business_name(format!("Example Subscriptions LLC {suffix}"))
        .name("Example Subscriptions")
        .description("account-updater example merchant")
        .website("example.com")
        .phone("5555555555")
        .receipt_email("billing@example.com")
        .timezone("UTC")
        .fee_schedule_id(
            env("CARDSYNC_FEE_SCHEDULE_ID").unwrap_or_else(|| "bqoa026g10l0v8o62315".into()),
        )
    }

    /// The merchant client: `CARDSYNC_MERCHANT_API_KEY` when set, else a merchant enrolled now.
    pub async fn merchant(partner: &CardSyncPartner) -> (CardSyncClient, Option<String>) {
        if let Some(key) = env_secret("CARDSYNC_MERCHANT_API_KEY") {
            return (partner.merchant(key).or_exit("merchant client"), None);
        }
        let created = partner
            .enroll_merchant(&demo_merchant())
            .await
            .or_exit("enroll merchant");
        let client = partner
            .merchant(SecretString::from(
                account_updater::ExposeSecret::expose_secret(&created.api_key).to_owned(),
            ))
            .or_exit("merchant client");
        (client, Some(created.merchant_id))
    }
}

/// CardSync's sandbox test cards (CardSync API documentation, sandbox test cards) with their documented expiries.
pub const CARDSYNC_TEST_CARDS: [(&str, &str); 16] = [
    ("4457010000000009", "01/50"),
    ("4457000300000007", "01/50"),
    ("4457010200000247", "08/50"),
    ("4100200300011001", "05/50"),
    ("4457010140000141", "09/50"),
    ("4457000900000001", "08/50"),
    ("5194560012341234", "12/50"),
    ("5112010000000003", "02/50"),
    ("5112000200000002", "11/50"),
    ("5112002200000008", "11/50"),
    ("5435101234510196", "07/50"),
    ("6011010000000003", "03/50"),
    ("6011010140000004", "08/50"),
    ("6500102012345662", "01/50"),
    ("6011102087026223", "01/50"),
    ("6011010100000002", "08/50"),
];

/// CardSync's Amex sandbox cards.
pub const CARDSYNC_AMEX_CARDS: [(&str, &str); 3] = [
    ("342132335566772", "12/28"),
    ("376655111122997", "12/28"),
    ("349900006577234", "12/28"),
];

pub mod accountvault {
    use account_updater::providers::accountvault::AccountVaultClient;
    use account_updater_emulator::accountvault::AccountVaultEmulator;

    use super::OrExit;

    /// A client on the real environment when `ACCOUNTVAULT_CLIENT_ID` and `ACCOUNTVAULT_TOKEN`
    /// are set (`AccountVaultClient::from_env`: `ACCOUNTVAULT_BASE_URL`, optional
    /// `ACCOUNTVAULT_SUB_CLIENT_ID`), else on a fresh emulator. The builder is returned so
    /// callers can add options.
    pub async fn connect() -> (
        account_updater::providers::accountvault::AccountVaultBuilder,
        Option<AccountVaultEmulator>,
    ) {
        if let Some(builder) = AccountVaultClient::from_env().or_exit("AccountVault settings") {
            return (builder, None);
        }
        let emulator = AccountVaultEmulator::start()
            .await
            .or_exit("start the AccountVault emulator");
        let builder = AccountVaultClient::builder(emulator.client_id(), emulator.token())
            .base_url(emulator.base_url());
        (builder, Some(emulator))
    }
}

pub mod acquired {
    use account_updater::providers::acquired::AcquiredClient;
    use account_updater::{CardNumber, Expiry};
    use account_updater_emulator::acquired::AcquiredEmulator;

    use super::{OrExit, env};

    /// A client on the real endpoint when `AcquiredClient::from_env` finds its three variables
    /// (`ACQUIRED_COMPANY_ID`, `ACQUIRED_COMPANY_PASS`, `ACQUIRED_COMPANY_HASHCODE`; optional
    /// `ACQUIRED_MID_ID`, `ACQUIRED_BASE_URL`, default QA) and `ACQUIRED_TOKEN` names the token
    /// to work on; else a fresh emulator holding a token for `card`.
    pub async fn connect(
        card: &str,
        expiry: Expiry,
    ) -> (AcquiredClient, String, Option<AcquiredEmulator>) {
        if let Some(builder) = AcquiredClient::from_env().or_exit("Acquired settings") {
            let token = env("ACQUIRED_TOKEN").unwrap_or_else(|| {
                super::fail("ACQUIRED_TOKEN", "the token to work on is not set")
            });
            return (builder.build().or_exit("Acquired client"), token, None);
        }
        let emulator = AcquiredEmulator::start()
            .await
            .or_exit("start the Acquired emulator");
        let token = emulator.create_token(&CardNumber::parse(card).or_exit("card"), expiry);
        let client = AcquiredClient::builder(emulator.credentials())
            .base_url(emulator.base_url())
            .build()
            .or_exit("Acquired client");
        (client, token, Some(emulator))
    }
}

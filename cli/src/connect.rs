//! Provider clients from the environment (the same variables as the library's examples), or
//! on an embedded emulator.

use std::sync::Arc;

use account_updater::providers::acquired::{AcquiredClient, Credentials};
use account_updater::providers::cardsync::CardSyncClient;
use account_updater::{ProviderId, SecretString};
use account_updater::{ids::Flow, provider::Provider};
use account_updater_emulator::cardsync::CardSyncEmulator;
use url::Url;

use crate::Failure;

/// A provider client, and the emulator behind it when there is one (kept alive with it).
pub struct Connected {
    /// The client.
    pub provider: Arc<dyn Provider>,
    /// The emulator it talks to, if any.
    pub emulator: Option<CardSyncEmulator>,
}

/// `--provider` values: the names [`ProviderId::as_str`] gives.
pub fn parse_provider(name: &str) -> Result<ProviderId, String> {
    ProviderId::from_name(name).ok_or_else(|| {
        format!("unknown provider {name:?}; one of: payconex, cardsync, accountvault, acquired")
    })
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_url(name: &str) -> Result<Option<Url>, Failure> {
    env(name)
        .map(|v| Url::parse(&v).map_err(|e| Failure::error(format!("{name} is not a URL: {e}"))))
        .transpose()
}

/// The variables a provider's client needs, and the optional ones.
fn variables(provider: ProviderId) -> (&'static [&'static str], &'static [&'static str]) {
    match provider {
        ProviderId::CardSync => (&["CARDSYNC_MERCHANT_API_KEY"], &["CARDSYNC_BASE_URL"]),
        ProviderId::Acquired => (
            &[
                "ACQUIRED_COMPANY_ID",
                "ACQUIRED_COMPANY_PASS",
                "ACQUIRED_COMPANY_HASHCODE",
            ],
            &["ACQUIRED_MID_ID", "ACQUIRED_BASE_URL"],
        ),
        _ => (&[], &[]),
    }
}

/// Refuses a provider that takes no bulk inquiries, naming what it offers instead.
fn check_bulk(
    provider: ProviderId,
    capabilities: account_updater::Capabilities,
) -> Result<(), Failure> {
    if capabilities.supports(Flow::Submit) {
        return Ok(());
    }
    let offers: Vec<&str> = capabilities.flows().map(Flow::as_str).collect();
    Err(Failure::error(format!(
        "{provider} takes no bulk inquiries, so a CSV run cannot go to it (it offers: {}); use the library for those flows",
        offers.join(", ")
    )))
}

/// A client for `provider` from its environment variables; `emulator` starts an embedded
/// emulator instead (CardSync).
pub async fn connect(provider: ProviderId, emulator: bool) -> Result<Connected, Failure> {
    if emulator {
        return match provider {
            ProviderId::CardSync => cardsync_emulator().await,
            other => Err(Failure::error(format!(
                "--emulator runs CardSync only: an emulated {other} would know none of the tokens in your file"
            ))),
        };
    }
    let (required, optional) = variables(provider);
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|v| env(v).is_none())
        .collect();
    if required.is_empty() {
        return Err(Failure::error(format!(
            "{provider} takes no bulk inquiries, so a CSV run cannot go to it ({}); use the library for it",
            match provider {
                ProviderId::PayConex => "it updates cards through scheduled subscriptions",
                _ => "it updates one stored account at a time",
            }
        )));
    }
    if !missing.is_empty() {
        return Err(Failure::error(format!(
            "{provider} needs the environment variable{} {} (optional: {}); or pass --emulator to try the embedded emulator",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", "),
            optional.join(", ")
        )));
    }
    let client: Arc<dyn Provider> = match provider {
        ProviderId::CardSync => {
            let key = SecretString::from(env("CARDSYNC_MERCHANT_API_KEY").unwrap_or_default());
            let mut builder = CardSyncClient::builder(key);
            if let Some(url) = env_url("CARDSYNC_BASE_URL")? {
                builder = builder.base_url(url);
            }
            Arc::new(builder.build_merchant()?)
        }
        ProviderId::Acquired => {
            let credentials = Credentials::new(
                env("ACQUIRED_COMPANY_ID").unwrap_or_default(),
                SecretString::from(env("ACQUIRED_COMPANY_PASS").unwrap_or_default()),
                env("ACQUIRED_MID_ID"),
                SecretString::from(env("ACQUIRED_COMPANY_HASHCODE").unwrap_or_default()),
            )?;
            let mut builder = AcquiredClient::builder(credentials);
            if let Some(url) = env_url("ACQUIRED_BASE_URL")? {
                builder = builder.base_url(url);
            }
            Arc::new(builder.build()?)
        }
        other => return Err(Failure::error(format!("{other} takes no bulk inquiries"))),
    };
    check_bulk(provider, client.capabilities())?;
    Ok(Connected {
        provider: client,
        emulator: None,
    })
}

/// A CardSync emulator on loopback with one merchant, and a client for that merchant.
pub async fn cardsync_emulator() -> Result<Connected, Failure> {
    let emulator = CardSyncEmulator::start()
        .await
        .map_err(|e| Failure::error(format!("could not start the CardSync emulator: {e}")))?;
    let (_, key) = emulator.add_merchant();
    let client = CardSyncClient::builder(key)
        .base_url(emulator.base_url())
        .build_merchant()?;
    Ok(Connected {
        provider: Arc::new(client),
        emulator: Some(emulator),
    })
}

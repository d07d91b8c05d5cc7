//! Provider clients from the environment (the same variables as the library's examples), or
//! on an embedded emulator.

use std::sync::Arc;

use account_updater::providers::acquired::{AcquiredClient, Credentials};
use account_updater::providers::cardsync::CardSyncClient;
use account_updater::{ProviderId, SecretString};
use account_updater::{ids::Flow, provider::Provider};
/// The embedded CardSync emulator behind a client (with feature `emulator`, on by default).
#[cfg(feature = "emulator")]
pub type EmbeddedCardSync = account_updater_emulator::cardsync::CardSyncEmulator;
/// Without feature `emulator` there is none: this type has no values.
#[cfg(not(feature = "emulator"))]
pub enum EmbeddedCardSync {}
use url::Url;

use crate::Failure;

/// A provider client, and the emulator behind it when there is one (kept alive with it).
pub struct Connected {
    /// The router, when the client is one (a routed run's per-rule settings ask it which
    /// rule takes a card).
    pub router: Option<Arc<account_updater::routing::Router>>,
    /// The client (or a router over several).
    pub provider: Arc<dyn Provider>,
    /// The CardSync emulator it talks to, if any.
    pub emulator: Option<EmbeddedCardSync>,
    /// Other emulators a routed run talks to, kept alive as long as the client.
    pub keep_alive: Vec<Box<dyn std::any::Any + Send + Sync>>,
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
        ProviderId::PayConex => (
            &[
                "PAYCONEX_ACCOUNT_ID",
                "PAYCONEX_API_KEY_ID",
                "PAYCONEX_API_SECRET",
            ],
            &["PAYCONEX_BASE_URL", "PAYCONEX_AUTH"],
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
        #[cfg(not(feature = "emulator"))]
        return Err(no_emulators());
        #[cfg(feature = "emulator")]
        return match provider {
            ProviderId::CardSync => cardsync_emulator().await,
            other => Err(Failure::error(format!(
                "--emulator runs CardSync only: an emulated {other} would know none of the tokens in your file"
            ))),
        };
    }
    if provider == ProviderId::PayConex || variables(provider).0.is_empty() {
        return Err(Failure::error(format!(
            "{provider} takes no bulk inquiries, so a CSV run cannot go to it alone ({}); route cards to it with --route",
            match provider {
                ProviderId::PayConex => "it updates cards through scheduled subscriptions",
                _ => "it updates one stored account at a time",
            }
        )));
    }
    let client = client_from_env(provider)?;
    check_bulk(provider, client.capabilities())?;
    Ok(Connected {
        router: None,
        provider: client,
        emulator: None,
        keep_alive: Vec::new(),
    })
}

/// A client for one provider of a routed run, from its environment variables (PayConex too:
/// its subscriptions take cards through a rule with `flow = "subscribe"`).
pub fn connect_for_routing(provider: ProviderId) -> Result<Connected, Failure> {
    if variables(provider).0.is_empty() {
        return Err(Failure::error(format!(
            "{provider} updates one stored account at a time: no rule can send cards to it"
        )));
    }
    Ok(Connected {
        router: None,
        provider: client_from_env(provider)?,
        emulator: None,
        keep_alive: Vec::new(),
    })
}

/// A provider's client from its environment variables, naming the missing ones.
fn client_from_env(provider: ProviderId) -> Result<Arc<dyn Provider>, Failure> {
    let (required, optional) = variables(provider);
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|v| env(v).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(Failure::error(format!(
            "{provider} needs the environment variable{} {} (optional: {}); or pass --emulator to try the embedded emulator",
            if missing.len() > 1 { "s" } else { "" },
            missing.join(", "),
            optional.join(", ")
        )));
    }
    Ok(match provider {
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
        ProviderId::PayConex => {
            use account_updater::providers::payconex::{self, AuthMethod, PayConexClient};
            let auth = match env("PAYCONEX_AUTH")
                .map(|a| a.to_ascii_lowercase())
                .as_deref()
            {
                None | Some("hmac") => AuthMethod::Hmac,
                Some("basic") => AuthMethod::Basic,
                Some(other) => {
                    return Err(Failure::error(format!(
                        "PAYCONEX_AUTH is {other:?}; hmac or basic"
                    )));
                }
            };
            let credentials = payconex::Credentials::new(
                env("PAYCONEX_API_KEY_ID").unwrap_or_default(),
                SecretString::from(env("PAYCONEX_API_SECRET").unwrap_or_default()),
            );
            let mut builder = PayConexClient::builder(
                env("PAYCONEX_ACCOUNT_ID").unwrap_or_default(),
                credentials,
            )
            .auth(auth);
            if let Some(url) = env_url("PAYCONEX_BASE_URL")? {
                builder = builder.base_url(url);
            }
            Arc::new(builder.build()?)
        }
        other => return Err(Failure::error(format!("{other} takes no cards"))),
    })
}

/// The error for `--emulator` in a build without the emulators.
#[cfg(not(feature = "emulator"))]
pub fn no_emulators() -> Failure {
    Failure::error(
        "this build of account-updater has no embedded emulators (it was built without its default feature `emulator`)",
    )
}

/// One provider of a routed run on an embedded emulator (for `demo --route` and `run --route
/// --emulator`): the emulator knows none of a file's tokens, so only generated cards make
/// sense there.
#[cfg(feature = "emulator")]
pub async fn emulated(provider: ProviderId) -> Result<Connected, Failure> {
    let start = |what: &str, e: std::io::Error| {
        Failure::error(format!("could not start the {what} emulator: {e}"))
    };
    match provider {
        ProviderId::CardSync => {
            let mut c = cardsync_emulator().await?;
            if let Some(e) = c.emulator.take() {
                c.keep_alive.push(Box::new(e));
            }
            Ok(c)
        }
        ProviderId::Acquired => {
            let emulator = account_updater_emulator::acquired::AcquiredEmulator::start()
                .await
                .map_err(|e| start("Acquired", e))?;
            let client = AcquiredClient::builder(emulator.credentials())
                .base_url(emulator.base_url())
                .build()?;
            Ok(Connected {
                router: None,
                provider: Arc::new(client),
                emulator: None,
                keep_alive: vec![Box::new(emulator)],
            })
        }
        ProviderId::PayConex => {
            let emulator = account_updater_emulator::payconex::PayConexEmulator::start()
                .await
                .map_err(|e| start("PayConex", e))?;
            let client = account_updater::providers::payconex::PayConexClient::builder(
                emulator.account_id(),
                emulator.credentials(),
            )
            .base_url(emulator.base_url())
            .build()?;
            Ok(Connected {
                router: None,
                provider: Arc::new(client),
                emulator: None,
                keep_alive: vec![Box::new(emulator)],
            })
        }
        other => Err(Failure::error(format!(
            "{other} has no emulator for routed runs"
        ))),
    }
}

/// A CardSync emulator on loopback with one merchant, and a client for that merchant.
#[cfg(feature = "emulator")]
pub async fn cardsync_emulator() -> Result<Connected, Failure> {
    let emulator = EmbeddedCardSync::start()
        .await
        .map_err(|e| Failure::error(format!("could not start the CardSync emulator: {e}")))?;
    let (_, key) = emulator.add_merchant();
    let client = CardSyncClient::builder(key)
        .base_url(emulator.base_url())
        .build_merchant()?;
    Ok(Connected {
        router: None,
        provider: Arc::new(client),
        emulator: Some(emulator),
        keep_alive: Vec::new(),
    })
}

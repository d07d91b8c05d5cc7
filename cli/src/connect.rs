//! Provider clients from the environment (the same variables as the library's examples), or
//! on an embedded emulator.

use std::sync::Arc;

use account_updater::env::EnvVars;
use account_updater::providers::accountvault::AccountVaultClient;
use account_updater::providers::acquired::AcquiredClient;
use account_updater::providers::cardsync::CardSyncClient;
use account_updater::providers::payconex::PayConexClient;
use account_updater::{Capabilities, ProviderId};
use account_updater::{ids::Flow, provider::Provider};
/// The embedded CardSync emulator behind a client (with feature `emulator`, on by default).
#[cfg(feature = "emulator")]
pub type EmbeddedCardSync = account_updater_emulator::cardsync::CardSyncEmulator;
/// Without feature `emulator` there is none: this type has no values.
#[cfg(not(feature = "emulator"))]
pub enum EmbeddedCardSync {}

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

/// The variables a provider's client reads (from the client type: its `ENV`).
fn variables(provider: ProviderId) -> Option<EnvVars> {
    Some(match provider {
        ProviderId::CardSync => CardSyncClient::ENV,
        ProviderId::Acquired => AcquiredClient::ENV,
        ProviderId::PayConex => PayConexClient::ENV,
        ProviderId::AccountVault => AccountVaultClient::ENV,
        _ => return None,
    })
}

/// What a provider's client can do (from the client type: its `CAPABILITIES`), known
/// without credentials.
fn capabilities(provider: ProviderId) -> Capabilities {
    match provider {
        ProviderId::CardSync => CardSyncClient::CAPABILITIES,
        ProviderId::Acquired => AcquiredClient::CAPABILITIES,
        ProviderId::PayConex => PayConexClient::CAPABILITIES,
        ProviderId::AccountVault => AccountVaultClient::CAPABILITIES,
        _ => Capabilities::none(),
    }
}

/// The flows `capabilities` holds, for a message.
fn offers(capabilities: Capabilities) -> String {
    let flows: Vec<&str> = capabilities.flows().map(Flow::as_str).collect();
    flows.join(", ")
}

/// A client for `provider` from its environment variables; `emulator` starts an embedded
/// emulator instead (CardSync). A provider whose client takes no bulk inquiries is refused
/// before its variables are read, saying what it offers instead.
pub async fn connect(provider: ProviderId, emulator: bool) -> Result<Connected, Failure> {
    let offered = capabilities(provider);
    if !offered.supports(Flow::Submit) {
        return Err(Failure::error(format!(
            "{provider} takes no bulk inquiries, so a CSV run cannot go to it alone (it offers: {}){}",
            offers(offered),
            if offered.supports(Flow::Subscribe) {
                "; route cards to its subscriptions with --route"
            } else {
                "; use the library for those flows"
            }
        )));
    }
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
    Ok(Connected {
        router: None,
        provider: client_from_env(provider)?,
        emulator: None,
        keep_alive: Vec::new(),
    })
}

/// A client for one provider of a routed run (or of the collector), from its environment
/// variables: any provider that takes cards, by bulk inquiry or by subscription.
pub fn connect_for_routing(provider: ProviderId) -> Result<Connected, Failure> {
    let offered = capabilities(provider);
    if !offered.supports(Flow::Submit) && !offered.supports(Flow::Subscribe) {
        return Err(Failure::error(format!(
            "{provider} takes no cards in bulk or by subscription (it offers: {}): no rule can send cards to it",
            offers(offered)
        )));
    }
    Ok(Connected {
        router: None,
        provider: client_from_env(provider)?,
        emulator: None,
        keep_alive: Vec::new(),
    })
}

/// A provider's client from its environment variables (the library's `from_env`), naming
/// the missing ones.
fn client_from_env(provider: ProviderId) -> Result<Arc<dyn Provider>, Failure> {
    let client: Option<Arc<dyn Provider>> = match provider {
        ProviderId::CardSync => CardSyncClient::from_env()?
            .map(|b| b.build_merchant())
            .transpose()?
            .map(|c| Arc::new(c) as Arc<dyn Provider>),
        ProviderId::Acquired => AcquiredClient::from_env()?
            .map(|b| b.build())
            .transpose()?
            .map(|c| Arc::new(c) as Arc<dyn Provider>),
        ProviderId::PayConex => PayConexClient::from_env()?
            .map(|b| b.build())
            .transpose()?
            .map(|c| Arc::new(c) as Arc<dyn Provider>),
        ProviderId::AccountVault => AccountVaultClient::from_env()?
            .map(|b| b.build())
            .transpose()?
            .map(|c| Arc::new(c) as Arc<dyn Provider>),
        _ => None,
    };
    client.ok_or_else(|| match variables(provider) {
        Some(vars) => Failure::error(format!(
            "{provider} needs the environment variable{} {} (optional: {}); or pass --emulator to try the embedded emulator",
            if vars.required.len() > 1 { "s" } else { "" },
            vars.required.join(", "),
            vars.optional.join(", ")
        )),
        None => Failure::error(format!("{provider} has no client in this build")),
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

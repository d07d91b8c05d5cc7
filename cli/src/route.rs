//! `--route FILE`: a routed run's rules, in TOML, and the providers they name, each connected
//! from its own environment variables (or, with `--emulator`, on an embedded emulator).
//!
//! ```toml
//! # Tried in order; the first rule that takes a card decides. A card no rule takes is
//! # rejected (written to the rejects file with the reason).
//! [[rule]]
//! name = "acquired-tokens"
//! provider = "acquired"
//! flow = "submit"          # submit (a one-off inquiry, the default) or subscribe
//! token = true             # tokens the rule's provider issued (the CSV's token_provider)
//!
//! [[rule]]
//! name = "amex"
//! provider = "cardsync"
//! amex_se_number = true    # Amex cards with an SE number (false: without one)
//!
//! [[rule]]
//! name = "eu-visa"
//! provider = "payconex"
//! flow = "subscribe"
//! brand = "visa"           # visa, mastercard, amex, discover, diners, jcb
//! bin = "400000-449999"    # six-digit BIN range, inclusive
//! tag = "eu"               # the CSV's route (or tag) column
//! fall_through = true      # a card PayConex refuses as input goes on to the next rule
//! ```

use std::path::Path;
use std::sync::Arc;

use account_updater::provider::Provider;
use account_updater::routing::{Condition, Router, Rule};
use account_updater::{CardBrand, Flow, ProviderId};
use serde::Deserialize;

use crate::Failure;
use crate::connect::{self, Connected};

/// The file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteFile {
    /// Cards per subscribe request of a subscription rule.
    subscription_chunk: Option<usize>,
    #[serde(rename = "rule", default)]
    rules: Vec<RuleSpec>,
}

/// One `[[rule]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    name: String,
    provider: String,
    #[serde(default)]
    flow: Option<String>,
    card_number: Option<bool>,
    brand: Option<String>,
    bin: Option<String>,
    token: Option<bool>,
    amex_se_number: Option<bool>,
    tag: Option<String>,
    #[serde(default)]
    fall_through: bool,
}

fn brand(name: &str) -> Option<CardBrand> {
    Some(match name.to_ascii_lowercase().as_str() {
        "visa" => CardBrand::Visa,
        "mastercard" => CardBrand::Mastercard,
        "amex" => CardBrand::Amex,
        "discover" => CardBrand::Discover,
        "diners" => CardBrand::DinersClub,
        "jcb" => CardBrand::Jcb,
        _ => return None,
    })
}

impl RuleSpec {
    fn rule(&self, file: &Path) -> Result<Rule, Failure> {
        let bad = |what: String| {
            Failure::error(format!("{}: rule {:?}: {what}", file.display(), self.name))
        };
        let provider = connect::parse_provider(&self.provider).map_err(bad)?;
        let flow = match self.flow.as_deref().unwrap_or("submit") {
            "submit" => Flow::Submit,
            "subscribe" => Flow::Subscribe,
            other => return Err(bad(format!("flow {other:?} is not submit or subscribe"))),
        };
        let mut rule = Rule::new(&self.name, provider, flow);
        match self.card_number {
            Some(true) => rule = rule.when(Condition::CardNumber),
            Some(false) => return Err(bad("card_number = false: say token = true".into())),
            None => {}
        }
        if let Some(b) = &self.brand {
            let b = brand(b).ok_or_else(|| bad(format!("unknown brand {b:?}")))?;
            rule = rule.when(Condition::Brand(b));
        }
        if let Some(range) = &self.bin {
            let parsed = range
                .split_once('-')
                .and_then(|(l, h)| Some((l.trim().parse().ok()?, h.trim().parse().ok()?)));
            let Some((low, high)) = parsed else {
                return Err(bad(format!(
                    "bin {range:?} is not LOW-HIGH (six digits each)"
                )));
            };
            rule = rule.when(Condition::BinRange { low, high });
        }
        match self.token {
            Some(true) => rule = rule.when(Condition::Token),
            Some(false) => return Err(bad("token = false: say card_number = true".into())),
            None => {}
        }
        if let Some(with) = self.amex_se_number {
            rule = rule.when(Condition::AmexSeNumber(with));
        }
        if let Some(tag) = &self.tag {
            rule = rule.when(Condition::Tag(tag.clone()));
        }
        if self.fall_through {
            rule = rule.fall_through();
        }
        Ok(rule)
    }
}

/// The rules a file holds, checked one by one (the router checks them together), and its
/// subscription chunk size.
pub fn read_rules(file: &Path) -> Result<(Vec<Rule>, Option<usize>), Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::error(format!("could not read {}: {e}", file.display())))?;
    let spec: RouteFile = toml::from_str(&text)
        .map_err(|e| Failure::error(format!("{}: {}", file.display(), e.message())))?;
    let rules = spec
        .rules
        .iter()
        .map(|r| r.rule(file))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((rules, spec.subscription_chunk))
}

/// The providers the rules name, in the order they first appear.
pub fn providers_of(rules: &[Rule]) -> Vec<ProviderId> {
    let mut providers: Vec<ProviderId> = Vec::new();
    for r in rules {
        if !providers.contains(&r.provider()) {
            providers.push(r.provider());
        }
    }
    providers
}

/// The router over `clients` with `rules`; every rule that can never work is refused here.
pub fn build(
    file: &Path,
    rules: Vec<Rule>,
    subscription_chunk: Option<usize>,
    clients: Vec<Connected>,
) -> Result<Connected, Failure> {
    let mut builder = Router::builder();
    let mut keep = Vec::new();
    for connected in clients {
        builder = builder.shared_provider(connected.provider);
        keep.extend(connected.keep_alive);
        if let Some(e) = connected.emulator {
            keep.push(Box::new(e));
        }
    }
    if let Some(n) = subscription_chunk {
        builder = builder.subscription_chunk(n);
    }
    let router = rules
        .into_iter()
        .fold(builder, |b, r| b.rule(r))
        .build()
        .map_err(|e| Failure::error(format!("{}: {e}", file.display())))?;
    let provider: Arc<dyn Provider> = Arc::new(router);
    Ok(Connected {
        provider,
        emulator: None,
        keep_alive: keep,
    })
}

/// Reads the rules file, connects every provider its rules name and builds the router: every
/// mistake (a bad file, a missing variable, a rule that can never match) is reported here,
/// before anything is sent.
pub async fn connect_routed(file: &Path, emulator: bool) -> Result<Connected, Failure> {
    let (rules, chunk) = read_rules(file)?;
    let mut clients = Vec::new();
    for provider in providers_of(&rules) {
        clients.push(if emulator {
            connect::emulated(provider).await?
        } else {
            connect::connect_for_routing(provider)?
        });
    }
    build(file, rules, chunk, clients)
}

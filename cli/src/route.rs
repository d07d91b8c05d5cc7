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
//! contact_limit = 5        # this rule's own suppression settings (suppress = false: none)
//! cycle = "20days"
//!
//! [price.cardsync]         # what `plan` prices: per billable result, per card sent,
//! per_hit = 0.25           # the hit rate assumed until the journal has history
//! per_card = 0.0
//! hit_rate = 0.05
//! currency = "USD"
//!
//! [window]                 # how long results may take before `reconcile` calls them overdue
//! cardsync = "5d"
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
    /// `[price.NAME]`: what each provider charges, for `plan`.
    #[serde(default)]
    price: std::collections::BTreeMap<String, PriceSpec>,
    /// `[window]`: `NAME = "7d"`, how long each provider may take to deliver results
    /// before `reconcile` calls them overdue.
    #[serde(default)]
    window: std::collections::BTreeMap<String, String>,
    /// `[serve]`: the collector's settings (`account-updater serve`); other commands
    /// ignore it.
    serve: Option<crate::commands::serve::config::ServeSpec>,
}

/// One `[price.NAME]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceSpec {
    #[serde(default)]
    per_hit: f64,
    #[serde(default)]
    per_card: f64,
    hit_rate: Option<f64>,
    #[serde(default = "default_currency")]
    currency: String,
}

fn default_currency() -> String {
    "USD".to_owned()
}

/// What a rules (or prices) file says besides its rules.
#[derive(Debug, Default)]
pub struct Settings {
    /// Cards per subscribe request of a subscription rule.
    pub subscription_chunk: Option<usize>,
    /// Per rule name: its own suppression settings.
    pub rule_suppression: Vec<(String, RuleSuppression)>,
    /// Prices per provider name.
    pub prices: std::collections::HashMap<String, account_updater_journal::Price>,
    /// Result windows per provider.
    pub windows: Vec<(ProviderId, std::time::Duration)>,
    /// The `[serve]` table, as written.
    pub serve: Option<crate::commands::serve::config::ServeSpec>,
}

/// A rule's own suppression settings (`suppress`, `contact_limit`, `cycle`); what it does not
/// set comes from the command line.
#[derive(Debug, Clone, Default)]
pub struct RuleSuppression {
    /// `suppress = false`: never suppress this rule's cards.
    pub enabled: Option<bool>,
    /// `contact_limit = N`.
    pub contact_limit: Option<u32>,
    /// `cycle = "20d"`.
    pub cycle: Option<std::time::Duration>,
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
    /// `false`: never suppress this rule's cards.
    suppress: Option<bool>,
    /// "Contact the cardholder" results in a row that suppress a card (0: never).
    contact_limit: Option<u32>,
    /// How long after an update a card is not sent again (`"25d"`, `"0s"`: never).
    cycle: Option<String>,
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
/// other settings (subscription chunk size, per-rule suppression, prices, windows).
pub fn read_rules(file: &Path) -> Result<(Vec<Rule>, Settings), Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::error(format!("could not read {}: {e}", file.display())))?;
    let spec: RouteFile = toml::from_str(&text)
        .map_err(|e| Failure::error(format!("{}: {}", file.display(), e.message())))?;
    let rules = spec
        .rules
        .iter()
        .map(|r| r.rule(file))
        .collect::<Result<Vec<_>, _>>()?;
    let bad = |what: String| Failure::error(format!("{}: {what}", file.display()));
    let mut settings = Settings {
        subscription_chunk: spec.subscription_chunk,
        serve: spec.serve,
        ..Settings::default()
    };
    for r in &spec.rules {
        let cycle = r
            .cycle
            .as_deref()
            .map(|c| {
                humantime::parse_duration(c)
                    .map_err(|e| bad(format!("rule {:?}: cycle {c:?}: {e}", r.name)))
            })
            .transpose()?;
        if r.suppress.is_some() || r.contact_limit.is_some() || cycle.is_some() {
            settings.rule_suppression.push((
                r.name.clone(),
                RuleSuppression {
                    enabled: r.suppress,
                    contact_limit: r.contact_limit,
                    cycle,
                },
            ));
        }
    }
    for (name, p) in spec.price {
        let provider = connect::parse_provider(&name).map_err(|e| bad(format!("price: {e}")))?;
        if p.per_hit < 0.0
            || p.per_card < 0.0
            || p.hit_rate.is_some_and(|r| !(0.0..=1.0).contains(&r))
        {
            return Err(bad(format!(
                "price.{name}: prices must not be negative and hit_rate must lie between 0 and 1"
            )));
        }
        let mut price =
            account_updater_journal::Price::per_hit(p.per_hit, p.currency).per_card(p.per_card);
        if let Some(rate) = p.hit_rate {
            price = price.hit_rate(rate);
        }
        settings.prices.insert(provider.as_str().to_owned(), price);
    }
    for (name, window) in spec.window {
        let provider = connect::parse_provider(&name).map_err(|e| bad(format!("window: {e}")))?;
        let window = humantime::parse_duration(&window)
            .map_err(|e| bad(format!("window.{name}: {window:?}: {e}")))?;
        settings.windows.push((provider, window));
    }
    Ok((rules, settings))
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
    let router = Arc::new(router);
    let provider: Arc<dyn Provider> = router.clone();
    Ok(Connected {
        router: Some(router),
        provider,
        emulator: None,
        keep_alive: keep,
    })
}

/// Reads the rules file, connects every provider its rules name and builds the router: every
/// mistake (a bad file, a missing variable, a rule that can never match) is reported here,
/// before anything is sent.
pub async fn connect_routed(file: &Path, emulator: bool) -> Result<Connected, Failure> {
    let (rules, settings) = read_rules(file)?;
    let chunk = settings.subscription_chunk;
    let mut clients = Vec::new();
    for provider in providers_of(&rules) {
        clients.push(if emulator {
            #[cfg(feature = "emulator")]
            {
                connect::emulated(provider).await?
            }
            #[cfg(not(feature = "emulator"))]
            return Err(connect::no_emulators());
        } else {
            connect::connect_for_routing(provider)?
        });
    }
    build(file, rules, chunk, clients)
}

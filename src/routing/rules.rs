//! Routing rules as data: what a card must be for a rule to take it, and which provider and
//! flow the rule sends it to.

use std::fmt;

use crate::card::CardBrand;
use crate::ids::{Flow, ProviderId};
use crate::model::{CardSource, CardToUpdate};

/// One thing a card must be for a [`Rule`] to take it. A rule takes a card when all of its
/// conditions hold.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Condition {
    /// A card number (not a token).
    CardNumber,
    /// A card number of this brand.
    Brand(CardBrand),
    /// A card number whose first six digits (its BIN), read as a number, lie in
    /// `low..=high` (both six digits).
    BinRange {
        /// The lowest BIN taken.
        low: u32,
        /// The highest BIN taken.
        high: u32,
    },
    /// A token (issued by the rule's provider: a token never goes to another provider).
    Token,
    /// An American Express card number with an SE number (`true`) or without one (`false`):
    /// CardSync subscribes Amex cards per SE number and cannot take one without it.
    AmexSeNumber(bool),
    /// The caller's tag ([`CardToUpdate::tag`]) is exactly this.
    Tag(String),
}

impl Condition {
    /// Whether `card` meets this condition.
    #[inline]
    pub fn holds(&self, card: &CardToUpdate) -> bool {
        let pan = match &card.source {
            CardSource::Pan(p) => Some(p),
            CardSource::Token { .. } => None,
        };
        match self {
            Condition::CardNumber => pan.is_some(),
            Condition::Brand(b) => pan.is_some_and(|p| p.brand() == *b),
            Condition::BinRange { low, high } => pan.is_some_and(|p| {
                p.bin()
                    .parse::<u32>()
                    .is_ok_and(|bin| (*low..=*high).contains(&bin))
            }),
            Condition::Token => pan.is_none(),
            Condition::AmexSeNumber(with) => pan.is_some_and(|p| {
                p.brand() == CardBrand::Amex
                    && card
                        .amex_se_number
                        .as_deref()
                        .is_some_and(|s| !s.is_empty())
                        == *with
            }),
            Condition::Tag(t) => card.tag.as_deref() == Some(t.as_str()),
        }
    }

    /// What kind of card source the condition needs: `Some(true)` a card number, `Some(false)`
    /// a token, `None` either.
    fn needs_card_number(&self) -> Option<bool> {
        match self {
            Condition::CardNumber
            | Condition::Brand(_)
            | Condition::BinRange { .. }
            | Condition::AmexSeNumber(_) => Some(true),
            Condition::Token => Some(false),
            Condition::Tag(_) => None,
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Condition::CardNumber => f.write_str("card number"),
            Condition::Brand(b) => write!(f, "brand {b}"),
            Condition::BinRange { low, high } => write!(f, "BIN {low:06}-{high:06}"),
            Condition::Token => f.write_str("token"),
            Condition::AmexSeNumber(true) => f.write_str("Amex with SE number"),
            Condition::AmexSeNumber(false) => f.write_str("Amex without SE number"),
            Condition::Tag(t) => write!(f, "tag {t:?}"),
        }
    }
}

/// One routing rule: the cards it takes ([`Condition`]s, all of which must hold; none takes
/// every card), the provider they go to and the flow they go through there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub(crate) name: String,
    pub(crate) conditions: Vec<Condition>,
    pub(crate) provider: ProviderId,
    pub(crate) flow: Flow,
    pub(crate) fall_through: bool,
}

impl Rule {
    /// A rule named `name` (for reports and for the errors that refuse it) sending the cards
    /// it takes to `provider`'s `flow`: [`Flow::Submit`] (a one-off inquiry) or
    /// [`Flow::Subscribe`] (a standing subscription).
    pub fn new(name: impl Into<String>, provider: ProviderId, flow: Flow) -> Self {
        Rule {
            name: name.into(),
            conditions: Vec::new(),
            provider,
            flow,
            fall_through: false,
        }
    }

    /// Adds a condition.
    pub fn when(mut self, condition: Condition) -> Self {
        self.conditions.push(condition);
        self
    }

    /// A card this rule takes but its provider refuses as input (checked before any request,
    /// by [`Provider::check_card`](crate::Provider::check_card)) goes on to the next rule
    /// that takes it, instead of being rejected. Never after a request: a card is only ever
    /// sent to one provider.
    pub fn fall_through(mut self) -> Self {
        self.fall_through = true;
        self
    }

    /// The rule's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its conditions.
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }

    /// The provider it sends cards to.
    pub fn provider(&self) -> ProviderId {
        self.provider
    }

    /// The flow it sends cards through.
    pub fn flow(&self) -> Flow {
        self.flow
    }

    /// Whether a card its provider refuses goes on to the next rule.
    pub fn falls_through(&self) -> bool {
        self.fall_through
    }

    /// Whether this rule takes `card`: its conditions hold, and a token goes only to the
    /// provider that issued it.
    #[inline]
    pub fn takes(&self, card: &CardToUpdate) -> bool {
        if let Some(issuer) = card.source.token_issuer() {
            if issuer != self.provider {
                return false;
            }
        }
        self.conditions.iter().all(|c| c.holds(card))
    }

    /// Why no card can meet all of this rule's conditions, if none can.
    pub(crate) fn contradiction(&self) -> Option<String> {
        let mut needs = None;
        for c in &self.conditions {
            if let Some(n) = c.needs_card_number() {
                if needs.is_some_and(|m| m != n) {
                    return Some(format!(
                        "`{c}` cannot hold together with the rule's other conditions (a card is a number or a token, not both)"
                    ));
                }
                needs = Some(n);
            }
        }
        let brands: Vec<CardBrand> = self
            .conditions
            .iter()
            .filter_map(|c| match c {
                Condition::Brand(b) => Some(*b),
                Condition::AmexSeNumber(_) => Some(CardBrand::Amex),
                _ => None,
            })
            .collect();
        if brands.windows(2).any(|w| w[0] != w[1]) {
            return Some("it names two different brands".into());
        }
        let se: Vec<bool> = self
            .conditions
            .iter()
            .filter_map(|c| match c {
                Condition::AmexSeNumber(w) => Some(*w),
                _ => None,
            })
            .collect();
        if se.windows(2).any(|w| w[0] != w[1]) {
            return Some("it asks for an Amex card with and without an SE number".into());
        }
        let tags: Vec<&str> = self
            .conditions
            .iter()
            .filter_map(|c| match c {
                Condition::Tag(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        if tags.windows(2).any(|w| w[0] != w[1]) {
            return Some("it names two different tags".into());
        }
        for c in &self.conditions {
            if let Condition::BinRange { low, high } = c {
                if *low < 100_000 || *high > 999_999 {
                    return Some(format!("`{c}`: a BIN is six digits, 100000 to 999999"));
                }
                if low > high {
                    return Some(format!("`{c}`: the range is empty"));
                }
                if let Some(b) = brands.first() {
                    let lo = CardBrand::detect(&format!("{low:06}"));
                    let hi = CardBrand::detect(&format!("{high:06}"));
                    if lo != *b && hi != *b {
                        return Some(format!("`{c}` holds no {b} BIN"));
                    }
                }
            }
        }
        None
    }

    /// Whether every card `later` takes is taken by this rule too (this rule's conditions are
    /// a subset of `later`'s, for the same provider's tokens): then `later` can never match
    /// unless this one falls through.
    pub(crate) fn covers(&self, later: &Rule) -> bool {
        // A token goes only to its issuer's rules: if `later` may take tokens, this rule
        // covers them only when it is for the same provider.
        let token_ok = self.provider == later.provider
            || later
                .conditions
                .iter()
                .any(|c| c.needs_card_number() == Some(true));
        token_ok
            && self
                .conditions
                .iter()
                .all(|c| later.conditions.contains(c) || implied(c, &later.conditions))
    }
}

/// Whether `c` holds for every card meeting all of `others` (beyond being one of them).
fn implied(c: &Condition, others: &[Condition]) -> bool {
    match c {
        Condition::CardNumber => others.iter().any(|o| o.needs_card_number() == Some(true)),
        Condition::Brand(CardBrand::Amex) => others
            .iter()
            .any(|o| matches!(o, Condition::AmexSeNumber(_))),
        _ => false,
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (", self.name)?;
        if self.conditions.is_empty() {
            f.write_str("any card")?;
        }
        for (i, c) in self.conditions.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{c}")?;
        }
        write!(f, " -> {} {})", self.provider, self.flow)
    }
}

/// Where a card goes: the rule that took it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route<'r> {
    pub(crate) rule: &'r Rule,
}

impl<'r> Route<'r> {
    /// The rule that took the card.
    pub fn rule(&self) -> &'r Rule {
        self.rule
    }

    /// The provider it goes to.
    pub fn provider(&self) -> ProviderId {
        self.rule.provider
    }

    /// The flow it goes through.
    pub fn flow(&self) -> Flow {
        self.rule.flow
    }
}

/// Why a router could not be built: each names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// The router has no rule.
    #[error("a router needs at least one rule")]
    NoRules,
    /// Two providers with one id were added.
    #[error("provider {0} was added twice")]
    DuplicateProvider(ProviderId),
    /// Two rules with one name.
    #[error("two rules are named {0:?}")]
    DuplicateName(String),
    /// A rule names a provider the router was not given.
    #[error("rule {rule:?} names provider {provider}, which the router was not given")]
    UnknownProvider {
        /// The rule.
        rule: String,
        /// The provider it names.
        provider: ProviderId,
    },
    /// A rule names a flow that does not take cards (only submit and subscribe do).
    #[error("rule {rule:?} names flow {flow}; a rule sends cards to submit or subscribe")]
    NotACardFlow {
        /// The rule.
        rule: String,
        /// The flow it names.
        flow: Flow,
    },
    /// A rule names a flow its provider lacks.
    #[error("rule {rule:?} sends cards to {provider} {flow}, which {provider} does not support")]
    MissingFlow {
        /// The rule.
        rule: String,
        /// Its provider.
        provider: ProviderId,
        /// The flow it lacks.
        flow: Flow,
    },
    /// No card can meet all of a rule's conditions.
    #[error("rule {rule:?} can never match: {why}")]
    Contradictory {
        /// The rule.
        rule: String,
        /// Why.
        why: String,
    },
    /// An earlier rule takes every card this one would.
    #[error("rule {rule:?} can never match: rule {earlier:?} before it takes every card it would")]
    Shadowed {
        /// The rule that can never match.
        rule: String,
        /// The earlier rule that takes its cards.
        earlier: String,
    },
}

/// The rule every card number goes to when nothing about the number decides it: the first rule
/// that can take a card number takes them all (no condition, or only
/// [`Condition::CardNumber`]) and does not fall through, every rule before it taking tokens
/// only (as in "tokens to their issuer, card numbers to CardSync"). A router then routes a
/// card number without looking at it; `None` when some rule must look.
pub(crate) fn rule_for_every_number(rules: &[Rule]) -> Option<usize> {
    for (index, rule) in rules.iter().enumerate() {
        let tokens_only = rule
            .conditions
            .iter()
            .any(|c| c.needs_card_number() == Some(false));
        if tokens_only {
            continue;
        }
        let every_number = rule
            .conditions
            .iter()
            .all(|c| matches!(c, Condition::CardNumber));
        return (every_number && !rule.fall_through).then_some(index);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::{CardNumber, Expiry, with_check_digit};
    use crate::provider::CardToUpdate;

    fn number(prefix: &str, len: usize) -> CardToUpdate {
        let body = format!("{prefix}{}", "1".repeat(len - 1 - prefix.len()));
        let pan = CardNumber::parse(&with_check_digit(&body).unwrap()).unwrap();
        CardToUpdate::pan("c", pan, Expiry::new(1, 2030).unwrap())
    }

    /// Wherever the shortcut names a rule, it is the rule [`Rule::takes`] finds first for any
    /// card number, and that rule does not fall through; rule sets where a number's rule
    /// depends on the number have none.
    #[test]
    fn the_rule_for_every_number_is_the_one_the_rules_pick() {
        let numbers = || Rule::new("numbers", ProviderId::CardSync, Flow::Submit);
        let tokens = |p| Rule::new("tokens", p, Flow::Subscribe).when(Condition::Token);
        let cases: Vec<(Vec<Rule>, Option<usize>)> = vec![
            (vec![numbers().when(Condition::CardNumber)], Some(0)),
            (vec![numbers()], Some(0)),
            (
                vec![
                    tokens(ProviderId::PayConex),
                    tokens(ProviderId::Acquired),
                    numbers().when(Condition::CardNumber),
                ],
                Some(2),
            ),
            (
                vec![
                    numbers().when(Condition::Brand(CardBrand::Visa)),
                    numbers().when(Condition::CardNumber),
                ],
                None,
            ),
            (
                vec![
                    numbers().when(Condition::Tag("eu".into())),
                    numbers().when(Condition::CardNumber),
                ],
                None,
            ),
            (
                vec![numbers().when(Condition::CardNumber).fall_through()],
                None,
            ),
            (vec![tokens(ProviderId::PayConex)], None),
            (vec![], None),
        ];
        let cards = [
            number("4", 16),
            number("51", 16),
            number("6011", 16),
            number("37", 15).with_amex_se_number("1111111111"),
            number("34", 15),
        ];
        for (rules, expected) in cases {
            let shortcut = rule_for_every_number(&rules);
            assert_eq!(shortcut, expected, "{rules:?}");
            if let Some(index) = shortcut {
                for card in &cards {
                    assert_eq!(rules.iter().position(|r| r.takes(card)), Some(index));
                }
            }
        }
    }
}

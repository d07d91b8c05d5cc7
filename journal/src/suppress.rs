//! Suppression: cards a run does not send, because the journal's history says sending them
//! again would cost a fee and bring nothing.
//!
//! Updaters bill per hit (the networks bill Visa A/E/C/Q and Mastercard R/B/E/C), and the
//! same card submitted every month keeps earning the same answer. A run therefore skips, by
//! default, a card whose caller id
//! - last came back **closed, opted out or with stop advice** ([`Outcome::stops_updates`]),
//!   unless the caller now gives another number (or token) for it;
//! - came back **"contact the cardholder"** the last [`SuppressionPolicy::contact_limit`] times
//!   in a row (default 3): the issuer has nothing to give until the customer is asked;
//! - was **updated within the current cycle** ([`SuppressionPolicy::cycle`], default 25 days,
//!   shorter than a monthly run so that last month's updates are checked again);
//! - has an **expiry more than 12 months in the past**: Mastercard's ABU refuses those, and
//!   no network holds updates for a card that old.
//!
//! The decision is made from the journal as it stood when the run began (results of other
//! runs stored by then; the run's own results never count), so a resume suppresses exactly
//! the same cards and plans the same chunks. The cut is the run's creation second: a result
//! of another run stored within that very second, after a first worker read the history, can
//! be seen by a later worker and not the first; the journal then refuses the later worker's
//! differing chunks (the input looks changed) and nothing is sent twice. Every suppressed card is recorded with its reason
//! ([`Journal::suppressed`]) and told to [`RunObserver::suppressed`]; nothing is dropped
//! silently.
//!
//! [`RunObserver::suppressed`]: crate::RunObserver::suppressed

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};

use account_updater::Expiry;
use account_updater::error::Result;
use account_updater::outcome::Outcome;
use account_updater::provider::CardToUpdate;
use account_updater::routing::Router;

use crate::Journal;
use crate::db::{Db, card_identity};

/// How a run suppresses cards. [`SuppressionPolicy::default`] is on, with the documented
/// defaults; [`SuppressionPolicy::off`] sends every card.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SuppressionPolicy {
    /// Whether any rule applies.
    pub enabled: bool,
    /// Skip a card whose latest result stops updates (closed, opted out, stop advice)
    /// unless the caller gives another number for it.
    pub stopped: bool,
    /// Skip a card whose last this-many results were all "contact the cardholder" (0: never).
    pub contact_limit: u32,
    /// Skip a card that received a new number or expiry within this long before the run
    /// (`None`: never).
    pub cycle: Option<Duration>,
    /// Skip a card whose expiry lies more than this many months in the past (`None`: never).
    pub expired_months: Option<u32>,
}

impl Default for SuppressionPolicy {
    fn default() -> Self {
        SuppressionPolicy {
            enabled: true,
            stopped: true,
            contact_limit: 3,
            cycle: Some(Duration::from_secs(25 * 24 * 3600)),
            expired_months: Some(12),
        }
    }
}

impl SuppressionPolicy {
    /// Sends every card.
    pub fn off() -> Self {
        SuppressionPolicy {
            enabled: false,
            ..SuppressionPolicy::default()
        }
    }

    /// Sets how many "contact the cardholder" results in a row suppress a card (0: never).
    pub fn contact_limit(mut self, results: u32) -> Self {
        self.contact_limit = results;
        self
    }

    /// Sets the cycle within which an updated card is not sent again (`None`: never).
    pub fn cycle(mut self, cycle: Option<Duration>) -> Self {
        self.cycle = cycle;
        self
    }

    /// Sets whether stop results suppress a card.
    pub fn stopped(mut self, suppress: bool) -> Self {
        self.stopped = suppress;
        self
    }

    /// Sets how long past its expiry a card is no longer sent (`None`: always sent).
    pub fn expired_months(mut self, months: Option<u32>) -> Self {
        self.expired_months = months;
        self
    }
}

/// A run's suppression: one policy, or one per routing rule (a rule the map does not name
/// takes the default).
#[derive(Clone, Default)]
pub struct Suppression {
    default: SuppressionPolicy,
    by_rule: Option<(Arc<Router>, HashMap<String, SuppressionPolicy>)>,
}

impl fmt::Debug for Suppression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Suppression")
            .field("default", &self.default)
            .field(
                "by_rule",
                &self
                    .by_rule
                    .as_ref()
                    .map(|(_, rules)| rules.keys().collect::<Vec<_>>()),
            )
            .finish()
    }
}

impl Suppression {
    /// `policy` for every card.
    pub fn new(policy: SuppressionPolicy) -> Self {
        Suppression {
            default: policy,
            by_rule: None,
        }
    }

    /// Sends every card.
    pub fn off() -> Self {
        Suppression::new(SuppressionPolicy::off())
    }

    /// `policy` for the cards `router` sends by its rule named `rule` (a routed run's
    /// per-rule setting: say, never suppress the cards of a rule whose provider does not
    /// bill per hit).
    pub fn rule(mut self, router: &Arc<Router>, rule: &str, policy: SuppressionPolicy) -> Self {
        let (_, rules) = self
            .by_rule
            .get_or_insert_with(|| (router.clone(), HashMap::new()));
        rules.insert(rule.to_owned(), policy);
        self
    }

    /// The policy for cards no rule names.
    pub fn default_policy(&self) -> &SuppressionPolicy {
        &self.default
    }

    fn any_enabled(&self) -> bool {
        self.default.enabled
            || self
                .by_rule
                .as_ref()
                .is_some_and(|(_, rules)| rules.values().any(|p| p.enabled))
    }

    fn policy_for(&self, card: &CardToUpdate) -> &SuppressionPolicy {
        match &self.by_rule {
            Some((router, rules)) => router
                .route(card)
                .ok()
                .and_then(|route| rules.get(route.rule().name()))
                .unwrap_or(&self.default),
            None => &self.default,
        }
    }
}

/// Why a card was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SuppressReason {
    /// Its latest result stops updates, and the caller gives the same card.
    Stopped {
        /// The outcome's name (`closed`, `opted_out`, `stop_updates`).
        outcome: String,
        /// The run that result belongs to.
        run_id: String,
    },
    /// Its last `results` results all said "contact the cardholder".
    ContactCardholder {
        /// How many in a row.
        results: u32,
    },
    /// It was updated (a new number or expiry) within the cycle.
    UpdatedThisCycle {
        /// The outcome's name.
        outcome: String,
        /// When the update was stored.
        received_at: DateTime<Utc>,
    },
    /// Its expiry lies more than the policy's months in the past.
    LongExpired {
        /// The expiry given.
        expiry: Expiry,
        /// The policy's limit, in months past the expiry.
        months: u32,
    },
}

impl SuppressReason {
    /// A stable name: `stopped`, `contact_cardholder`, `updated_this_cycle`, `long_expired`.
    pub fn code(&self) -> &'static str {
        match self {
            SuppressReason::Stopped { .. } => "stopped",
            SuppressReason::ContactCardholder { .. } => "contact_cardholder",
            SuppressReason::UpdatedThisCycle { .. } => "updated_this_cycle",
            SuppressReason::LongExpired { .. } => "long_expired",
        }
    }
}

impl fmt::Display for SuppressReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SuppressReason::Stopped { outcome, run_id } => write!(
                f,
                "the latest result ({outcome}, run {run_id}) stops updates for this card; give a new number to send it again"
            ),
            SuppressReason::ContactCardholder { results } => {
                write!(f, "the last {results} results said contact the cardholder")
            }
            SuppressReason::UpdatedThisCycle {
                outcome,
                received_at,
            } => write!(
                f,
                "updated this cycle ({outcome}, stored {})",
                received_at.format("%Y-%m-%d")
            ),
            SuppressReason::LongExpired { expiry, months } => write!(
                f,
                "expired {expiry}, more than {months} months before the run (Mastercard refuses cards expired over 12 months)"
            ),
        }
    }
}

/// A card a run did not send.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SuppressedCard {
    /// Its index in the input the run was given (suppressed cards included).
    pub input_index: u64,
    /// The caller's id (escaped as stored).
    pub card_id: String,
    /// The reason's code ([`SuppressReason::code`]).
    pub reason: String,
    /// The reason in words.
    pub detail: String,
}

/// What the history says of one caller id.
#[derive(Debug, Default)]
struct CardRecord {
    /// The latest result, when it stops updates: outcome, run, and the card it was about.
    stop: Option<(String, String, Option<String>)>,
    /// "Contact the cardholder" results at the end of the history, in a row.
    contact_streak: u32,
    /// The latest new number or expiry: outcome and when.
    updated: Option<(String, i64)>,
}

/// The decisions a run makes, from the journal as it stood at `cutoff`.
pub(crate) struct Suppressor {
    suppression: Suppression,
    cards: HashMap<String, CardRecord>,
    cutoff: DateTime<Utc>,
}

/// Outcome names with a property, from the library's own rules (no second list here).
fn names_where(property: fn(&Outcome) -> bool) -> HashSet<String> {
    [
        Outcome::NewAccountNumber,
        Outcome::NewExpiry,
        Outcome::Closed,
        Outcome::ContactCardholder,
        Outcome::Valid,
        Outcome::NoChange,
        Outcome::NoMatch,
        Outcome::NonParticipating,
        Outcome::OptedOut,
        Outcome::StopUpdates,
        Outcome::InvalidUpdate {
            problem: account_updater::card::NewNumberProblem::Missing,
        },
    ]
    .into_iter()
    .filter(property)
    .map(|o| o.as_str().to_owned())
    .collect()
}

impl Suppressor {
    /// Reads what `suppression` needs from the journal: results of runs other than `run_id`
    /// stored at or before `cutoff`. `None` when nothing can be suppressed.
    pub(crate) async fn load(
        db: &Db,
        run_id: &str,
        cutoff: DateTime<Utc>,
        suppression: &Suppression,
    ) -> Result<Option<Suppressor>> {
        if !suppression.any_enabled() {
            return Ok(None);
        }
        let stops = names_where(Outcome::stops_updates);
        let updates = names_where(|o| {
            matches!(
                o.action(),
                account_updater::Action::ReplaceNumber | account_updater::Action::ReplaceExpiry
            )
        });
        let contact = Outcome::ContactCardholder.as_str();
        let relevant: Vec<&str> = stops
            .iter()
            .chain(&updates)
            .map(String::as_str)
            .chain([contact])
            .collect();
        let mut cards: HashMap<String, CardRecord> = HashMap::new();
        for (card_id, run, outcome, received_at, old_masked) in db
            .past_results(run_id, cutoff.timestamp(), &relevant)
            .await?
        {
            let record = cards.entry(card_id).or_default();
            // Rows come oldest first: each one is, for now, the latest.
            record.stop = stops
                .contains(outcome.as_str())
                .then(|| (outcome.clone(), run, old_masked));
            if outcome == contact {
                record.contact_streak += 1;
            } else {
                record.contact_streak = 0;
            }
            if updates.contains(outcome.as_str()) {
                record.updated = Some((outcome, received_at));
            }
        }
        cards.retain(|_, r| r.stop.is_some() || r.contact_streak > 0 || r.updated.is_some());
        // A stop result is about the card its run sent: that run's chunks know what it was
        // (the provider's echo of the number is the fallback for older journals).
        let mut by_run: HashMap<String, HashSet<&str>> = HashMap::new();
        for (id, record) in &cards {
            if let Some((_, run, _)) = &record.stop {
                by_run.entry(run.clone()).or_default().insert(id.as_str());
            }
        }
        let mut sent: HashMap<String, String> = HashMap::new();
        for (run, ids) in &by_run {
            sent.extend(db.identities_in_run(run, ids).await?);
        }
        for (id, identity) in sent {
            if let Some(record) = cards.get_mut(&id) {
                if let Some((_, _, about)) = record.stop.as_mut() {
                    *about = Some(identity);
                }
            }
        }
        Ok(Some(Suppressor {
            suppression: suppression.clone(),
            cards,
            cutoff,
        }))
    }

    /// Why `card` is not to be sent, if it is not.
    pub(crate) fn check(&self, card: &CardToUpdate) -> Option<SuppressReason> {
        let policy = self.suppression.policy_for(card);
        if !policy.enabled {
            return None;
        }
        if let (Some(months), Some(expiry)) = (policy.expired_months, card.expiry) {
            let now = self.cutoff.year() * 12 + self.cutoff.month0() as i32;
            let expired = expiry.year() as i32 * 12 + expiry.month() as i32 - 1;
            if now - expired > months as i32 {
                return Some(SuppressReason::LongExpired { expiry, months });
            }
        }
        let record = self.cards.get(&card.id)?;
        if policy.stopped {
            if let Some((outcome, run_id, about)) = &record.stop {
                let same_card = match about {
                    Some(about) => *about == card_identity(card),
                    // Nothing says which card the stop was about: the safe reading (it costs
                    // nothing) is that it was this one.
                    None => true,
                };
                if same_card {
                    return Some(SuppressReason::Stopped {
                        outcome: outcome.clone(),
                        run_id: run_id.clone(),
                    });
                }
            }
        }
        if policy.contact_limit > 0 && record.contact_streak >= policy.contact_limit {
            return Some(SuppressReason::ContactCardholder {
                results: record.contact_streak,
            });
        }
        if let (Some(cycle), Some((outcome, at))) = (policy.cycle, &record.updated) {
            let since = self.cutoff.timestamp() - at;
            if since < i64::try_from(cycle.as_secs()).unwrap_or(i64::MAX) {
                return Some(SuppressReason::UpdatedThisCycle {
                    outcome: outcome.clone(),
                    received_at: DateTime::from_timestamp(*at, 0).unwrap_or(self.cutoff),
                });
            }
        }
        None
    }
}

/// Suppressed cards found by the input filter, waiting to be recorded (the filter runs inside
/// the submission's stream, where nothing can be awaited).
pub(crate) type SuppressedQueue = Arc<Mutex<Vec<(u64, CardToUpdate, SuppressReason)>>>;

/// `cards` without the suppressed ones, which go to `queue` with their input index.
pub(crate) fn filter<'a>(
    cards: futures::stream::BoxStream<'a, CardToUpdate>,
    suppressor: Suppressor,
    queue: SuppressedQueue,
) -> futures::stream::BoxStream<'a, CardToUpdate> {
    use futures::StreamExt;
    let mut index = 0u64;
    Box::pin(cards.filter_map(move |card| {
        let at = index;
        index += 1;
        let kept = match suppressor.check(&card) {
            Some(reason) => {
                queue
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((at, card, reason));
                None
            }
            None => Some(card),
        };
        futures::future::ready(kept)
    }))
}

impl Journal {
    /// The cards run `run_id` suppressed, by input index, with their reasons.
    ///
    /// # Errors
    ///
    /// [`account_updater::Error::Journal`] when the database cannot be read.
    pub async fn suppressed(&self, run_id: &str) -> Result<Vec<SuppressedCard>> {
        Ok(self
            .db
            .suppressed(run_id)
            .await?
            .into_iter()
            .map(|(input_index, card_id, reason, detail)| SuppressedCard {
                input_index,
                card_id,
                reason,
                detail,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The migration's list of billable outcome names is the library's rule.
    #[test]
    fn billable_names_match_the_library() {
        let mut names: Vec<String> = names_where(Outcome::is_billable).into_iter().collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "closed",
                "contact_cardholder",
                "invalid_update",
                "new_account_number",
                "new_expiry"
            ]
        );
        let mut stops: Vec<String> = names_where(Outcome::stops_updates).into_iter().collect();
        stops.sort_unstable();
        assert_eq!(stops, ["closed", "opted_out", "stop_updates"]);
    }
}

//! Identifiers: which provider, which flow, which job, which results. A leaf module (it imports
//! nothing of the crate), so that errors, outcomes, webhooks and the [`Provider`] trait can all
//! name them without importing one another.
//!
//! [`Provider`]: crate::Provider

use std::fmt;

/// The providers this crate speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ProviderId {
    /// Bluefin PayConex Account Updater v4.
    PayConex,
    /// CardSync Universal Account Updater v2.
    CardSync,
    /// AccountVault (TabaPay Account API v1).
    AccountVault,
    /// Acquired.com (legacy JSON API).
    Acquired,
}

impl ProviderId {
    /// Every provider, in a fixed order.
    pub const ALL: [ProviderId; 4] = [
        ProviderId::PayConex,
        ProviderId::CardSync,
        ProviderId::AccountVault,
        ProviderId::Acquired,
    ];

    /// A stable lower-case name (`payconex`, `cardsync`, `accountvault`, `acquired`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderId::PayConex => "payconex",
            ProviderId::CardSync => "cardsync",
            ProviderId::AccountVault => "accountvault",
            ProviderId::Acquired => "acquired",
        }
    }

    /// The provider named `name` as [`ProviderId::as_str`] spells it (ASCII case ignored).
    pub fn from_name(name: &str) -> Option<ProviderId> {
        ProviderId::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The unified flows (one per flow of the providers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Flow {
    /// Enroll cards for ongoing updates ([`Provider::subscribe`](crate::Provider::subscribe)).
    Subscribe,
    /// Add cards to an existing subscription ([`Provider::add_cards`](crate::Provider::add_cards)).
    AddCards,
    /// Remove cards from updates ([`Provider::remove_cards`](crate::Provider::remove_cards)).
    RemoveCards,
    /// Cancel a whole subscription ([`Provider::cancel`](crate::Provider::cancel)).
    Cancel,
    /// A one-off inquiry for a set of cards ([`Provider::submit`](crate::Provider::submit)).
    Submit,
    /// Ask how a job is doing ([`Provider::job_status`](crate::Provider::job_status)).
    JobStatus,
    /// Fetch per-card results ([`Provider::fetch_results`](crate::Provider::fetch_results)).
    FetchResults,
    /// Change a stored account's card or holder data ([`Provider::update_account`](crate::Provider::update_account)).
    UpdateAccount,
    /// Register a webhook URL with the provider ([`Provider::register_webhook`](crate::Provider::register_webhook)).
    RegisterWebhook,
    /// Parse (and where possible verify) an incoming webhook ([`Provider::parse_webhook`](crate::Provider::parse_webhook)).
    ParseWebhook,
}

impl Flow {
    /// Every flow, in a fixed order.
    pub const ALL: [Flow; 10] = [
        Flow::Subscribe,
        Flow::AddCards,
        Flow::RemoveCards,
        Flow::Cancel,
        Flow::Submit,
        Flow::JobStatus,
        Flow::FetchResults,
        Flow::UpdateAccount,
        Flow::RegisterWebhook,
        Flow::ParseWebhook,
    ];

    /// A stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Flow::Subscribe => "subscribe",
            Flow::AddCards => "add_cards",
            Flow::RemoveCards => "remove_cards",
            Flow::Cancel => "cancel",
            Flow::Submit => "submit",
            Flow::JobStatus => "job_status",
            Flow::FetchResults => "fetch_results",
            Flow::UpdateAccount => "update_account",
            Flow::RegisterWebhook => "register_webhook",
            Flow::ParseWebhook => "parse_webhook",
        }
    }
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of provider job a card was placed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JobKind {
    /// A standing subscription (PayConex schedule, CardSync Amex subscription).
    Subscription,
    /// A one-off batch (CardSync batch).
    Batch,
    /// A single-card inquiry (Acquired ACCOUNT_UPDATER).
    Inquiry,
}

/// A handle on a provider job, enough to ask for its status and results later.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct JobRef {
    /// The provider that owns the job.
    pub provider: ProviderId,
    /// What kind of job.
    pub kind: JobKind,
    /// The provider's id (`css_…`, a CardSync `batch_id`, an SE number for Amex subscriptions, an
    /// Acquired token).
    pub id: String,
}

impl JobRef {
    /// Builds a job reference.
    pub fn new(provider: ProviderId, kind: JobKind, id: impl Into<String>) -> Self {
        JobRef {
            provider,
            kind,
            id: id.into(),
        }
    }

    /// A job the provider accepted without naming it (CardSync's v2 create-batch example answers
    /// with no `batch_id`). Its id is empty; the provider names it later (CardSync's "batch
    /// available" webhook carries the `batch_id`, and its results echo the caller's card ids, so
    /// they join back without it). Asking for its status is an input error, never a request.
    pub fn id_pending(provider: ProviderId, kind: JobKind) -> Self {
        JobRef::new(provider, kind, String::new())
    }

    /// `true` when the provider has not named the job yet ([`JobRef::id_pending`]).
    pub fn is_id_pending(&self) -> bool {
        self.id.is_empty()
    }
}

/// Which results to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResultsQuery {
    /// The latest results of a job.
    Job(JobRef),
    /// The results an event announced (PayConex `updateId`, CardSync `event_id`).
    Event {
        /// The provider.
        provider: ProviderId,
        /// The kind of job the event is about.
        kind: JobKind,
        /// The event id.
        event_id: String,
        /// The job the event is about, when the event says (CardSync `batch_id`).
        job_id: Option<String>,
    },
}

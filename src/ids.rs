//! Identifiers: which provider, which flow, which job, which results. A leaf module (it imports
//! nothing of the crate), so that errors, outcomes, webhooks and the [`Provider`] trait can all
//! name them without importing one another.
//!
//! [`Provider`]: crate::Provider

use std::fmt;

/// Which provider a request, a result or a job belongs to: one of the four this crate speaks
/// to, or one written outside it ([`ProviderId::custom`]).
///
/// ```
/// use account_updater::ProviderId;
///
/// // A fifth updater, implemented against the public provider kit.
/// const ACME: ProviderId = ProviderId::custom("acme");
/// assert_eq!(ACME.as_str(), "acme");
/// assert_eq!(ProviderId::named("acme"), Some(ACME));
/// assert_eq!(ProviderId::named("CardSync"), Some(ProviderId::CardSync));
/// ```
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
    /// A provider implemented outside this crate, by its name ([`ProviderId::custom`]).
    Custom(CustomProvider),
}

/// The name of a provider implemented outside this crate: 1 to 32 of `a-z`, `0-9`, `_`, `-`,
/// starting with a letter, and none of the four built-in names, so that two ids with one name
/// are always the same provider. Built only by [`ProviderId::custom`] and
/// [`ProviderId::named`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomProvider(&'static str);

impl CustomProvider {
    /// The name.
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// Whether `name` may name a custom provider (see [`CustomProvider`]).
const fn custom_name_ok(name: &str) -> bool {
    let b = name.as_bytes();
    if b.is_empty() || b.len() > 32 || !b[0].is_ascii_lowercase() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-') {
            return false;
        }
        i += 1;
    }
    let mut k = 0;
    while k < ProviderId::ALL.len() {
        if same_bytes(b, ProviderId::ALL[k].builtin_name().as_bytes()) {
            return false;
        }
        k += 1;
    }
    true
}

const fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

impl ProviderId {
    /// Every built-in provider, in a fixed order.
    pub const ALL: [ProviderId; 4] = [
        ProviderId::PayConex,
        ProviderId::CardSync,
        ProviderId::AccountVault,
        ProviderId::Acquired,
    ];

    /// The id of a provider implemented outside this crate. A `const fn`, so a provider
    /// declares its id as a constant and a bad name stops the build.
    ///
    /// # Panics
    ///
    /// When `name` is not a valid custom name (see [`CustomProvider`]): at compile time when
    /// used in a `const`.
    pub const fn custom(name: &'static str) -> ProviderId {
        assert!(
            custom_name_ok(name),
            "a custom provider name is 1 to 32 of a-z, 0-9, _ and -, starting with a letter, and not a built-in name"
        );
        ProviderId::Custom(CustomProvider(name))
    }

    /// The provider named `name` as [`ProviderId::as_str`] spells it: a built-in one (ASCII
    /// case ignored), else a custom one when `name` is a valid custom name (for reading back
    /// what a journal stored). Custom names read this way are interned, once per distinct
    /// name for the life of the process.
    pub fn named(name: &str) -> Option<ProviderId> {
        if let Some(builtin) = ProviderId::from_name(name) {
            return Some(builtin);
        }
        if !custom_name_ok(name) {
            return None;
        }
        static NAMES: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
        let mut names = NAMES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let interned = match names.iter().find(|n| **n == name) {
            Some(n) => *n,
            None => {
                let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
                names.push(leaked);
                leaked
            }
        };
        Some(ProviderId::Custom(CustomProvider(interned)))
    }

    const fn builtin_name(self) -> &'static str {
        match self {
            ProviderId::PayConex => "payconex",
            ProviderId::CardSync => "cardsync",
            ProviderId::AccountVault => "accountvault",
            ProviderId::Acquired => "acquired",
            ProviderId::Custom(c) => c.0,
        }
    }

    /// A stable lower-case name (`payconex`, `cardsync`, `accountvault`, `acquired`, or the
    /// custom provider's name).
    pub fn as_str(self) -> &'static str {
        self.builtin_name()
    }

    /// The built-in provider named `name` as [`ProviderId::as_str`] spells it (ASCII case
    /// ignored); `None` for anything else, custom names included ([`ProviderId::named`] reads
    /// those too).
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

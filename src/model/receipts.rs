//! What a provider answers: receipts of submissions and removals, job reports, account-update
//! and webhook receipts.

use compact_str::CompactString;

use crate::error::Error;
use crate::ids::{JobKind, JobRef, ProviderId};
use crate::outcome::CardUpdate;

/// A card as placed in a job: the caller's id and, when the provider assigns one, its own
/// record reference (PayConex `cssr_…`, Acquired token), needed to remove the card later and to
/// join results back to the caller's id.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlacedCard {
    /// The caller's id: inline when it fits in 24 bytes (most ids do), so that a large
    /// receipt is not one heap string a card to allocate and free; a longer id keeps the
    /// heap buffer it was given, moved, not copied.
    pub(crate) id: CompactString,
    /// The provider's record reference, when it gives one and the crate could tell which of the
    /// provider's records is this card's.
    pub(crate) provider_ref: Option<String>,
    /// `false` when the provider accepted the card but its answer did not say which record is
    /// this card's (PayConex answers PAN records with ShieldConex tokens in place of the card
    /// numbers, and gives no position guarantee): "placed, unconfirmed". The card is in the
    /// job, `provider_ref` is `None`, and the crate did not guess.
    pub(crate) confirmed: bool,
}

impl PlacedCard {
    /// The caller's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The provider's record reference, when it gives one and the crate could tell which of
    /// the provider's records is this card's.
    pub fn provider_ref(&self) -> Option<&str> {
        self.provider_ref.as_deref()
    }

    /// `false` when the provider accepted the card without saying which of its records is
    /// this card's ("placed, unconfirmed"; [`provider_ref`](Self::provider_ref) is then
    /// `None`). Kept behind an accessor so that a confirmed card always came from
    /// [`PlacedCard::new`].
    pub fn confirmed(&self) -> bool {
        self.confirmed
    }

    /// A card placed under the provider's reference `provider_ref` (or none, for providers
    /// that key cards by the caller's id).
    pub fn new(id: impl Into<String>, provider_ref: Option<String>) -> Self {
        PlacedCard {
            id: CompactString::from(id.into()),
            provider_ref,
            confirmed: true,
        }
    }

    /// A card the provider accepted without saying which of its records is this card's.
    pub fn unconfirmed(id: impl Into<String>) -> Self {
        PlacedCard {
            id: CompactString::from(id.into()),
            provider_ref: None,
            confirmed: false,
        }
    }
}

/// A job the provider accepted, with the cards it holds.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AcceptedJob {
    /// The job.
    pub(crate) job: JobRef,
    /// The cards it holds.
    pub(crate) cards: Vec<PlacedCard>,
    /// Its state when accepted.
    pub(crate) state: JobState,
}

impl AcceptedJob {
    /// The job.
    pub fn job(&self) -> &JobRef {
        &self.job
    }

    /// The cards it holds.
    pub fn cards(&self) -> &[PlacedCard] {
        &self.cards
    }

    /// Its state when accepted.
    pub fn state(&self) -> &JobState {
        &self.state
    }

    /// The cards it holds, taken out.
    pub fn into_cards(self) -> Vec<PlacedCard> {
        self.cards
    }

    /// A job the provider accepted in `state`, holding `cards`.
    pub fn new(job: JobRef, state: JobState, cards: Vec<PlacedCard>) -> Self {
        AcceptedJob { job, cards, state }
    }
}

/// A group of cards whose request failed. Resubmit exactly these to retry.
#[derive(Debug)]
#[non_exhaustive]
pub struct FailedChunk {
    /// What was being created.
    pub(crate) kind: JobKind,
    /// The caller's ids of the cards in the failed request.
    pub(crate) card_ids: Vec<String>,
    /// Why it failed (check [`Error::may_have_reached_provider`] before resubmitting).
    pub(crate) error: Error,
}

impl FailedChunk {
    /// What was being created.
    pub fn kind(&self) -> JobKind {
        self.kind
    }

    /// The caller's ids of the cards in the failed request.
    pub fn card_ids(&self) -> &[String] {
        &self.card_ids
    }

    /// Why it failed (check [`Error::may_have_reached_provider`] before resubmitting).
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The ids and the error, to resubmit or report them.
    pub fn into_parts(self) -> (Vec<String>, Error) {
        (self.card_ids, self.error)
    }

    /// The error, taken out.
    pub fn into_error(self) -> Error {
        self.error
    }
}

/// Where every submitted card went: each card id appears exactly once, in an accepted job or in
/// a failed chunk.
#[derive(Debug)]
#[non_exhaustive]
pub struct SubmissionReceipt {
    /// The provider.
    pub(crate) provider: ProviderId,
    /// Jobs the provider accepted.
    pub(crate) accepted: Vec<AcceptedJob>,
    /// Requests that failed.
    pub(crate) failed: Vec<FailedChunk>,
}

impl SubmissionReceipt {
    /// The provider.
    pub fn provider(&self) -> ProviderId {
        self.provider
    }

    /// Jobs the provider accepted.
    pub fn accepted(&self) -> &[AcceptedJob] {
        &self.accepted
    }

    /// Requests that failed.
    pub fn failed(&self) -> &[FailedChunk] {
        &self.failed
    }

    /// The accepted jobs and the failed requests, taken apart.
    pub fn into_parts(self) -> (Vec<AcceptedJob>, Vec<FailedChunk>) {
        (self.accepted, self.failed)
    }

    /// An empty receipt.
    pub fn new(provider: ProviderId) -> Self {
        SubmissionReceipt {
            provider,
            accepted: Vec::new(),
            failed: Vec::new(),
        }
    }

    /// Records one request made for `card_ids`: on success the job `accepted` builds from the
    /// answer (with the cards placed in it), on failure a [`FailedChunk`] naming every card. The
    /// one way the providers fill a receipt, so no card of a request can be left out of it.
    #[cfg_attr(not(hex_provider), allow(dead_code))]
    pub fn record<T>(
        &mut self,
        kind: JobKind,
        card_ids: Vec<String>,
        answer: Result<T, Error>,
        accepted: impl FnOnce(T, Vec<String>) -> AcceptedJob,
    ) {
        match answer {
            Ok(value) => self.accepted.push(accepted(value, card_ids)),
            Err(error) => self.fail(kind, card_ids, error),
        }
    }

    /// Records cards that were refused or whose request failed.
    #[cfg_attr(not(card_list_provider), allow(dead_code))]
    pub fn fail(&mut self, kind: JobKind, card_ids: Vec<String>, error: Error) {
        self.failed.push(FailedChunk {
            kind,
            card_ids,
            error,
        });
    }

    /// Number of cards placed in accepted jobs.
    pub fn accepted_cards(&self) -> usize {
        self.accepted.iter().map(|j| j.cards.len()).sum()
    }

    /// Number of cards in failed chunks.
    pub fn failed_cards(&self) -> usize {
        self.failed.iter().map(|c| c.card_ids.len()).sum()
    }

    /// `true` when nothing failed.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }

    /// The caller's id of the card the provider knows as `provider_ref` (a PayConex record id).
    pub fn caller_id(&self, provider_ref: &str) -> Option<&str> {
        self.accepted
            .iter()
            .flat_map(|j| &j.cards)
            .find(|c| c.provider_ref.as_deref() == Some(provider_ref))
            .map(|c| c.id.as_str())
    }

    /// Fills each update's `card_id` with the caller's id of the card this receipt placed under
    /// the update's [`CardUpdate::card_ref`], for providers that do not echo the caller's id
    /// (PayConex records, Acquired tokens). The same for every provider: an update whose
    /// `card_id` is already known keeps it; one whose `card_ref` is not in this receipt stays
    /// `None`. References are compared exactly: each provider hands out its references in
    /// the one form it answers them (PayConex record ids, Acquired tokens).
    pub fn join_card_ids(&self, updates: &mut [CardUpdate]) {
        let by_ref: std::collections::HashMap<&str, &str> = self
            .accepted
            .iter()
            .flat_map(|j| &j.cards)
            .filter_map(|c| Some((c.provider_ref.as_deref()?, c.id.as_str())))
            .collect();
        for u in updates.iter_mut().filter(|u| u.card_id.is_none()) {
            if let Some(r) = &u.card_ref {
                if let Some(id) = by_ref.get(r.as_str()) {
                    u.card_id = Some((*id).to_owned());
                }
            }
        }
    }
}

/// What [`Provider::remove_cards`](crate::Provider::remove_cards) did, card by card: every card given appears exactly once,
/// in `removed` or in `failed`, so a partial failure says which cards are out of updates and
/// which are not.
#[derive(Debug)]
#[non_exhaustive]
pub struct RemovalReceipt {
    /// The provider.
    pub(crate) provider: ProviderId,
    /// Caller ids of the cards taken out of updates (or found already gone after a retried
    /// request).
    pub(crate) removed: Vec<String>,
    /// Cards whose removal failed.
    pub(crate) failed: Vec<FailedRemoval>,
}

impl RemovalReceipt {
    /// The provider.
    pub fn provider(&self) -> ProviderId {
        self.provider
    }

    /// Caller ids of the cards taken out of updates (or found already gone after a retried
    /// request).
    pub fn removed(&self) -> &[String] {
        &self.removed
    }

    /// Cards whose removal failed.
    pub fn failed(&self) -> &[FailedRemoval] {
        &self.failed
    }

    /// The removed ids and the failed removals, taken apart.
    pub fn into_parts(self) -> (Vec<String>, Vec<FailedRemoval>) {
        (self.removed, self.failed)
    }

    /// An empty receipt.
    pub fn new(provider: ProviderId) -> Self {
        RemovalReceipt {
            provider,
            removed: Vec::new(),
            failed: Vec::new(),
        }
    }

    /// Records one removal request made for `card_ids` (with the provider's references for
    /// them, if any): removed on success, a [`FailedRemoval`] naming every card otherwise.
    #[cfg_attr(not(card_list_provider), allow(dead_code))]
    pub fn record<T>(
        &mut self,
        card_ids: Vec<String>,
        provider_refs: Vec<String>,
        answer: Result<T, Error>,
    ) {
        match answer {
            Ok(_) => self.removed.extend(card_ids),
            Err(error) => self.failed.push(FailedRemoval {
                card_ids,
                provider_refs,
                error,
            }),
        }
    }

    /// `true` when every card was removed.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }
}

/// The cards of one removal request that failed (one card for PayConex and Acquired, which
/// remove card by card; up to 10,000 for a CardSync unsubscribe).
#[derive(Debug)]
#[non_exhaustive]
pub struct FailedRemoval {
    /// The caller's ids.
    pub(crate) card_ids: Vec<String>,
    /// The provider's references the request was sent for (Acquired tokens, PayConex records);
    /// empty where the provider takes the cards themselves (CardSync).
    pub(crate) provider_refs: Vec<String>,
    /// Why (check [`Error::may_have_reached_provider`] before trying again).
    pub(crate) error: Error,
}

impl FailedRemoval {
    /// The caller's ids.
    pub fn card_ids(&self) -> &[String] {
        &self.card_ids
    }

    /// The provider's references the request was sent for (Acquired tokens, PayConex
    /// records); empty where the provider takes the cards themselves (CardSync).
    pub fn provider_refs(&self) -> &[String] {
        &self.provider_refs
    }

    /// Why (check [`Error::may_have_reached_provider`] before trying again).
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The error, taken out.
    pub fn into_error(self) -> Error {
        self.error
    }
}

/// A job's lifecycle state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobState {
    /// Accepted, no results yet.
    Pending,
    /// Active and refreshing on a schedule (subscriptions).
    Active,
    /// Disabled (a paused subscription).
    Disabled,
    /// Finished; results can be fetched.
    Completed,
    /// Failed on the provider side.
    Failed,
    /// A state this crate does not know, verbatim.
    Other(String),
}

/// Per-outcome counters a provider reports for a job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobCounts {
    /// Cards submitted.
    pub submitted: Option<u64>,
    /// New account numbers.
    pub new_account_number: Option<u64>,
    /// New expiries.
    pub new_expiry: Option<u64>,
    /// Closed accounts.
    pub closed: Option<u64>,
    /// Contact the cardholder.
    pub contact: Option<u64>,
    /// Valid.
    pub valid: Option<u64>,
    /// No change.
    pub no_change: Option<u64>,
    /// No match.
    pub no_match: Option<u64>,
}

/// What [`Provider::job_status`](crate::Provider::job_status) answers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct JobReport {
    /// The job asked about.
    pub job: JobRef,
    /// Its state.
    pub state: JobState,
    /// Counters, when the provider gives them.
    pub counts: JobCounts,
}

impl JobReport {
    /// A report of `job` in `state`, with no counters yet (set [`JobReport::counts`] when the
    /// provider gives them).
    pub fn new(job: JobRef, state: JobState) -> Self {
        JobReport {
            job,
            state,
            counts: JobCounts::default(),
        }
    }
}

/// What an account update returned.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AccountUpdateReceipt {
    /// The provider.
    pub provider: ProviderId,
    /// The account updated.
    pub account_id: String,
    /// The provider's success code, verbatim (`SC`/`EC`, `response_code`).
    pub raw_code: String,
    /// A warning the provider attached to a success (AccountVault 207: duplicate check failed).
    pub warning: Option<String>,
    /// The provider's transaction / reference id for the change, when it gives one.
    pub reference: Option<String>,
}

/// What registering a webhook returned.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct WebhookReceipt {
    /// The provider.
    pub provider: ProviderId,
    /// Provider ids of the registrations (PayConex `wbh_…`); empty when the provider gives none.
    pub ids: Vec<String>,
    /// The events registered, in the provider's words.
    pub events: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CardToUpdate;

    /// Issue 25: a `Vec` submission's per-card receipt is no larger than the input it
    /// describes. A placed card is smaller than a card to update, and an id of up to 24 bytes
    /// (`customer-1000000`, a 24-character key) is held inline, with no heap string of its own
    /// to allocate and free; a longer one keeps the buffer it was given.
    #[test]
    fn a_placed_card_is_no_larger_than_the_card_it_describes() {
        assert!(std::mem::size_of::<PlacedCard>() <= std::mem::size_of::<CardToUpdate>());
        for id in ["customer-1000000", "cus_0123456789abcdefghij"] {
            let placed = PlacedCard::new(id, None);
            assert_eq!(placed.id(), id);
            assert!(!placed.id.is_heap_allocated(), "{id}");
        }
        let long = "order-7d7366c9-b656-4b9a-bff2-2829c3b9ce66".to_owned();
        let buffer = long.as_ptr();
        let placed = PlacedCard::new(long, Some("cssr_1".into()));
        assert_eq!(
            placed.id().as_ptr(),
            buffer,
            "a long id is moved, not copied"
        );
        assert_eq!(placed.provider_ref(), Some("cssr_1"));
    }
}

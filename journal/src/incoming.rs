//! Results that arrive outside any run: a webhook days after the run that sent the cards, or
//! a collector's poll. Each is attributed to the run that sent its card and stored there once.

use std::collections::BTreeMap;

use account_updater::error::Result;
use account_updater::ids::{JobRef, ProviderId};
use account_updater::outcome::CardUpdate;

use super::{Journal, result_id};

/// What [`Journal::record_incoming`] did with a set of results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IncomingReport {
    /// Results stored for the first time.
    pub stored: u64,
    /// Results the journal already held (a webhook delivered again, a result fetched again):
    /// not stored twice, their delivery count raised.
    pub repeated: u64,
    /// The runs that received results, with how many (new and repeated) each.
    pub runs: BTreeMap<String, u64>,
    /// The results stored for the first time, per provider and outcome name
    /// ([`account_updater::Outcome::as_str`]): what a collector counts in its metrics.
    pub new_by_outcome: BTreeMap<(ProviderId, String), u64>,
    /// Results no run of this journal sent a card for: neither the job, nor the provider's
    /// card reference, nor the caller's id is known. Not stored; the caller decides (a
    /// collector answers a provider that redelivers "not yet", so a result that raced ahead
    /// of its run's journal write is delivered again).
    pub unmatched: Vec<CardUpdate>,
}

impl Journal {
    /// Stores results that arrived without a run id, each in the run that sent its card, and
    /// joined to the caller's id there.
    ///
    /// A result's run is found by, in order: `job` (the job a poll or a webhook named: a
    /// CardSync batch, a PayConex schedule), the provider's reference of the card (a PayConex
    /// schedule record, an Acquired token: recorded when its chunk was accepted), the
    /// caller's id the provider echoed (CardSync). When several runs sent the same card (an
    /// Acquired token inquired every month), a result one of them already holds is a
    /// redelivery to that run; otherwise it goes to the newest run that has no result for
    /// the card yet, or else the newest.
    ///
    /// # Errors
    ///
    /// [`account_updater::Error::Journal`] when the journal cannot be read or written. Runs
    /// stored before the error keep their results (one transaction a run); calling again
    /// with the same results stores each once.
    pub async fn record_incoming(
        &self,
        updates: Vec<CardUpdate>,
        job: Option<&JobRef>,
    ) -> Result<IncomingReport> {
        let mut report = IncomingReport::default();
        let mut by_run: BTreeMap<String, Vec<CardUpdate>> = BTreeMap::new();
        for update in updates {
            match self.attribute(update, job).await? {
                Ok((run, update)) => by_run.entry(run).or_default().push(update),
                Err(update) => report.unmatched.push(update),
            }
        }
        for (run, updates) in by_run {
            let flags = self.record_results_flagged(&run, &updates).await?;
            for (update, new) in updates.iter().zip(&flags) {
                if *new {
                    report.stored += 1;
                    *report
                        .new_by_outcome
                        .entry((update.provider, update.outcome.as_str().to_owned()))
                        .or_default() += 1;
                } else {
                    report.repeated += 1;
                }
            }
            report.runs.insert(run, updates.len() as u64);
        }
        Ok(report)
    }

    /// The run `update` belongs to, with the caller's id filled in; `Err(update)` when no run
    /// of this journal sent its card.
    async fn attribute(
        &self,
        mut update: CardUpdate,
        job: Option<&JobRef>,
    ) -> Result<std::result::Result<(String, CardUpdate), CardUpdate>> {
        let provider = update.provider.as_str();
        let mut candidates = Vec::new();
        if let Some(job) = job.filter(|j| j.provider == update.provider && !j.is_id_pending()) {
            candidates = self.db.runs_of_job(provider, &job.id).await?;
        }
        if candidates.is_empty() {
            if let Some(reference) = &update.card_ref {
                candidates = self.db.runs_of_ref(provider, reference).await?;
                if candidates.is_empty() {
                    // Single-card chunks accepted before references were recorded: the job
                    // is the token.
                    candidates = self.db.runs_of_job(provider, reference).await?;
                }
            }
        }
        if candidates.is_empty() {
            if let Some(id) = &update.card_id {
                candidates = self.db.runs_of_card_id(provider, id).await?;
            }
        }
        if candidates.is_empty() {
            return Ok(Err(update));
        }
        // The caller's id as each candidate run knows the card.
        let mut joined = Vec::with_capacity(candidates.len());
        for (run, placed_id) in candidates {
            let mut candidate = update.clone();
            if candidate.card_id.is_none() {
                candidate.card_id = match placed_id {
                    Some(id) => Some(id),
                    None => {
                        let mut one = [candidate.clone()];
                        self.join_caller_ids(&run, &mut one).await?;
                        let [one] = one;
                        one.card_id
                    }
                };
            }
            joined.push((run, candidate));
        }
        // A redelivery goes where the first delivery went.
        for (run, candidate) in &joined {
            if self.db.has_result(run, &result_id(candidate)).await? {
                return Ok(Ok((run.clone(), candidate.clone())));
            }
        }
        for (run, candidate) in &joined {
            let has_one = self
                .db
                .has_result_for_card(
                    run,
                    provider,
                    candidate.card_ref.as_deref(),
                    candidate.card_id.as_deref(),
                )
                .await?;
            if !has_one {
                return Ok(Ok((run.clone(), candidate.clone())));
            }
        }
        let (run, candidate) = joined.swap_remove(0);
        update = candidate;
        Ok(Ok((run, update)))
    }
}

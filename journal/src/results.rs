//! Results in the journal: stored once, joined back to the caller's ids, applied and exported
//! at least once to the caller and exactly once in the journal.

use std::fmt;

use futures::future::BoxFuture;

use super::{ApplyReport, ExportReport, FailedApply, Journal, StoredResult, result_id};
use account_updater::error::{Error, Result};
use account_updater::outcome::CardUpdate;

impl Journal {
    /// Stores results idempotently (by [`result_id`]); returns how many were new. Results name
    /// their cards (CardSync echoes the caller's ids): an unknown chunk holding a named card
    /// evidently reached the provider, and becomes accepted.
    ///
    /// A result that names only the provider's reference (an Acquired webhook names the
    /// token, not the caller's id) is first joined to its caller id, as
    /// [`Journal::join_caller_ids`] does.
    ///
    /// # Errors
    ///
    /// [`Error::Journal`] when the results cannot be stored (none of the call's results is
    /// then stored: one transaction).
    pub async fn record_results(&self, run_id: &str, updates: &[CardUpdate]) -> Result<u64> {
        let stored = self.record_results_flagged(run_id, updates).await?;
        Ok(stored.iter().filter(|new| **new).count() as u64)
    }

    /// [`Journal::record_results`], saying per update whether it was new.
    pub(crate) async fn record_results_flagged(
        &self,
        run_id: &str,
        updates: &[CardUpdate],
    ) -> Result<Vec<bool>> {
        let mut joined = None;
        for (i, update) in updates.iter().enumerate() {
            if let Some(id) = self.caller_id_of(run_id, update).await? {
                joined.get_or_insert_with(|| updates.to_vec())[i].card_id = Some(id);
            }
        }
        let updates = joined.as_deref().unwrap_or(updates);
        let stored = self.db.store_results(run_id, updates).await?;
        self.db.reconcile_unknown(run_id, updates).await?;
        Ok(stored)
    }

    /// Fills in `card_id` on results that lack it but name the provider reference a
    /// single-card chunk of the run was accepted under (an Acquired inquiry: its token), so
    /// results arriving days later by webhook join back to the caller's cards. Returns how many
    /// it filled.
    ///
    /// # Errors
    ///
    /// [`Error::Journal`] when the database cannot be read.
    pub async fn join_caller_ids(&self, run_id: &str, updates: &mut [CardUpdate]) -> Result<u64> {
        let mut filled = 0;
        for update in updates.iter_mut() {
            if let Some(id) = self.caller_id_of(run_id, update).await? {
                update.card_id = Some(id);
                filled += 1;
            }
        }
        Ok(filled)
    }

    async fn caller_id_of(&self, run_id: &str, update: &CardUpdate) -> Result<Option<String>> {
        match (&update.card_id, &update.card_ref) {
            (None, Some(reference)) => {
                let provider = update.provider.as_str();
                match self.db.card_of_ref(run_id, provider, reference).await? {
                    Some(id) => Ok(Some(id)),
                    // Chunks accepted before schema 6 recorded no references: an Acquired
                    // inquiry's one card is found by its job, the token.
                    None => {
                        self.db
                            .single_card_of_job(run_id, provider, reference)
                            .await
                    }
                }
            }
            _ => Ok(None),
        }
    }

    /// Stores `updates` (as [`Journal::record_results`]) and hands each one not yet applied to
    /// `apply`, in order, marking it applied when `apply` returns `Ok`. Stops at the first
    /// error (reported, not returned: the journal is consistent). A crash between a successful
    /// callback and its mark hands that result over again next time: at least once to the
    /// callback, exactly once in the journal.
    ///
    /// # Errors
    ///
    /// [`Error::Journal`] when the results cannot be stored
    /// or marked; a callback's error is not one (it is in the report).
    ///
    /// # Cancel safety
    ///
    /// Safe to drop: every result is stored before the first callback, and each is marked
    /// applied only after its callback returned `Ok`. A drop between a callback's success and
    /// its mark hands that one result to the callback again next time (at least once to the
    /// callback, exactly once in the journal); nothing is lost and nothing else is repeated.
    pub async fn apply<F, E>(
        &self,
        run_id: &str,
        updates: &[CardUpdate],
        mut apply: F,
    ) -> Result<ApplyReport>
    where
        F: for<'u> FnMut(&'u CardUpdate) -> BoxFuture<'u, std::result::Result<(), E>>,
        E: fmt::Display,
    {
        let mut report = ApplyReport {
            stored: self.record_results(run_id, updates).await?,
            ..ApplyReport::default()
        };
        for update in updates {
            let id = result_id(update);
            if self.db.is_applied(run_id, &id).await? {
                report.already_applied += 1;
                continue;
            }
            match apply(update).await {
                Ok(()) => {
                    self.db.mark_applied(run_id, &id).await?;
                    report.applied += 1;
                }
                Err(e) => {
                    report.failed = Some(FailedApply {
                        result_id: id,
                        message: account_updater::error::redact_excerpt(
                            e.to_string().as_bytes(),
                            300,
                        ),
                    });
                    break;
                }
            }
        }
        Ok(report)
    }

    /// Hands the run's stored results to `export` a page at a time (at most `page_size`, in
    /// result-id order), marking each page applied once `export` returns `Ok` for it: a
    /// command-line export, a bulk load into a billing database. `include_applied` hands over
    /// results already applied too (they stay applied). Memory holds one page, whatever the
    /// run's size. Stops at the first error (returned, with the pages before it marked); a
    /// crash between a successful page and its mark hands that page over again next time.
    ///
    /// # Errors
    ///
    /// [`Error::Journal`] when a page cannot be read or marked, or when `export` fails for a
    /// page (its message, redacted): the pages before it stay marked.
    pub async fn export<F, E>(
        &self,
        run_id: &str,
        include_applied: bool,
        page_size: usize,
        mut export: F,
    ) -> Result<ExportReport>
    where
        F: FnMut(&[StoredResult]) -> std::result::Result<(), E>,
        E: fmt::Display,
    {
        let page_size = page_size.clamp(1, 10_000) as u64;
        let mut report = ExportReport::default();
        let mut after = String::new();
        loop {
            let page = self
                .db
                .results_page(run_id, &after, include_applied, page_size)
                .await?;
            let Some(last) = page.last() else { break };
            after.clone_from(&last.result_id);
            export(&page).map_err(|e| Error::Journal {
                operation: "export results",
                message: account_updater::error::redact_excerpt(e.to_string().as_bytes(), 300),
                source: None,
            })?;
            let fresh: Vec<&str> = page
                .iter()
                .filter(|r| !r.applied)
                .map(|r| r.result_id.as_str())
                .collect();
            report.marked += self.db.mark_applied_many(run_id, &fresh).await?;
            report.exported += page.len() as u64;
            if (page.len() as u64) < page_size {
                break;
            }
        }
        Ok(report)
    }
}

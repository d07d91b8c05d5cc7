//! The journal as the submission's observer: an intent before each chunk's request, the
//! outcome after it.

use futures::future::BoxFuture;
use sha2::{Digest, Sha256};

use super::db::Db;
use super::suppress::SuppressedQueue;
use super::{RunObserver, state};
use account_updater::error::{Error, InputProblem, Result};
use account_updater::provider::CardToUpdate;
use account_updater::submission::{Chunk, ChunkObserver, ChunkOutcome, Proceed};

/// The journal as the submission's observer.
pub(super) struct JournalObserver<'j> {
    pub(super) db: &'j Db,
    pub(super) run_id: &'j str,
    pub(super) worker: &'j str,
    pub(super) observer: &'j mut dyn RunObserver,
    /// Cards the input filter suppressed, to record and report before anything read after
    /// them.
    pub(super) suppressed: SuppressedQueue,
}

/// A chunk's identity across runs: a hash of its stored card list (positions and ids). A
/// resumed run must plan the same.
fn fingerprint(cards: &str) -> String {
    crate::hex(&Sha256::digest(cards.as_bytes())[..16])
}

impl JournalObserver<'_> {
    /// Records the cards suppressed so far and tells the caller's observer.
    pub(super) async fn record_suppressed(&mut self) -> Result<()> {
        let found = std::mem::take(&mut *self.suppressed.lock().unwrap_or_else(|p| p.into_inner()));
        if found.is_empty() {
            return Ok(());
        }
        let rows: Vec<(u64, String, &'static str, String)> = found
            .iter()
            .map(|(index, card, reason)| {
                (
                    *index,
                    card.id.escape_debug().collect(),
                    reason.code(),
                    reason.to_string(),
                )
            })
            .collect();
        self.db.record_suppressed(self.run_id, &rows).await?;
        for (index, card, reason) in &found {
            self.observer.suppressed(*index, card, reason);
        }
        Ok(())
    }

    /// Claims `chunk` for this worker (a new chunk, or a failed / resend one), or says whose
    /// it is: skipped.
    async fn claim(&mut self, chunk: &Chunk) -> Result<Proceed> {
        let cards = super::db::encode_cards(chunk)?;
        let print = fingerprint(&cards);
        if self
            .db
            .claim_new(self.run_id, self.worker, chunk, &cards, &print)
            .await?
        {
            return Ok(Proceed::Send);
        }
        let Some((stored_print, stored_state)) =
            self.db.chunk_state(self.run_id, chunk.seq()).await?
        else {
            return Ok(Proceed::Skip);
        };
        if stored_print != print {
            return Err(Error::invalid(
                format!("chunk {}", chunk.seq()),
                InputProblem::NotAllowed {
                    reason: "the run's input changed: this chunk holds other cards than the journal recorded; resume with the same input in the same order".into(),
                },
            ));
        }
        if [state::FAILED, state::RESEND].contains(&stored_state.as_str())
            && self
                .db
                .reclaim(self.run_id, self.worker, chunk.seq(), &stored_state)
                .await?
        {
            return Ok(Proceed::Send);
        }
        Ok(Proceed::Skip)
    }
}

impl ChunkObserver for JournalObserver<'_> {
    fn sending<'a>(&'a mut self, chunk: &'a Chunk) -> BoxFuture<'a, Result<Proceed>> {
        Box::pin(async move {
            self.record_suppressed().await?;
            let proceed = self.claim(chunk).await?;
            if proceed == Proceed::Skip {
                self.observer.chunk(chunk, &ChunkOutcome::Skipped);
            }
            Ok(proceed)
        })
    }

    fn done<'a>(
        &'a mut self,
        chunk: Chunk,
        outcome: &'a ChunkOutcome,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let (state, job, error) = match outcome {
                ChunkOutcome::Accepted { job, .. } => (
                    state::ACCEPTED,
                    (!job.is_id_pending()).then(|| job.id.clone()),
                    None,
                ),
                ChunkOutcome::Failed(e) => (state::FAILED, None, Some(e.to_string())),
                ChunkOutcome::Unknown(e) => (state::UNKNOWN, None, Some(e.to_string())),
                ChunkOutcome::NotSent | ChunkOutcome::Skipped => return Ok(()),
                // An outcome this journal does not know yet: the safe reading is that the
                // provider may have acted, so the chunk is never resent by itself.
                other => (state::UNKNOWN, None, Some(format!("{other:?}"))),
            };
            // The provider's own reference of each card, before the chunk is marked
            // accepted: a result that names only that reference (a PayConex record, an
            // Acquired token) finds its run and caller's id from the moment the chunk is.
            if let ChunkOutcome::Accepted {
                job,
                card_refs: Some(refs),
                ..
            } = outcome
            {
                let provider = chunk.provider().unwrap_or(job.provider);
                let pairs: Vec<(&str, &str)> =
                    refs.iter().map(String::as_str).zip(chunk.ids()).collect();
                self.db
                    .record_card_refs(self.run_id, provider.as_str(), &pairs)
                    .await?;
            }
            self.db
                .finish_chunk(
                    self.run_id,
                    self.worker,
                    chunk.seq(),
                    state,
                    job.as_deref(),
                    error.as_deref(),
                )
                .await?;
            self.observer.chunk(&chunk, outcome);
            Ok(())
        })
    }

    fn rejected<'a>(
        &'a mut self,
        position: u64,
        card: CardToUpdate,
        error: &'a Error,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.record_suppressed().await?;
            // A rejected id may hold anything (control characters, NUL): stored escaped.
            let id: String = card.id.escape_debug().collect();
            self.db
                .reject_card(self.run_id, position, &id, &error.to_string())
                .await?;
            self.observer.rejected(position, &card, error);
            Ok(())
        })
    }
}

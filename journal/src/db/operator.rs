//! The statements behind the operator's tools: suppression's view of past results, the cards a
//! run suppressed, the jobs a provider reported finished, and what `reconcile` and `plan` read.

use std::collections::HashMap;

use account_updater::error::Result;

#[cfg(feature = "postgres")]
use super::numbered;
use super::{Db, db_error, decode_cards, decode_identities, int, now, unsigned};

/// One past result, as suppression reads it: caller id, run, outcome, when it was stored, and
/// the masked number the provider said it was about (when it echoed one).
pub(crate) type PastResult = (String, String, String, i64, Option<String>);

/// An accepted chunk, as `reconcile` reads it: provider (`None` before schema 3), job id,
/// card list (JSON), when it was accepted.
pub(crate) type AcceptedChunk = (Option<String>, Option<String>, String, i64);

/// A stored result of a run, as `reconcile` reads it: result id, provider, caller id, the
/// provider's card reference, deliveries.
pub(crate) type RunResult = (String, String, Option<String>, Option<String>, i64);

/// A suppressed card as stored: input position, caller id, reason code, detail.
pub(crate) type SuppressedRow = (u64, String, String, String);

impl Db {
    /// The results naming a caller id, of runs other than `run_id`, stored at or before
    /// `cutoff` (Unix seconds), of every card that has at least one result with an outcome in
    /// `relevant`, ordered by caller id and time: a run decides what to suppress from the
    /// journal as it stood when the run began, so a resume decides the same. Only cards with
    /// a relevant result are read (a few percent of a card base: the hits), so a journal of
    /// many months of million-card runs is not loaded whole.
    pub(crate) async fn past_results(
        &self,
        run_id: &str,
        cutoff: i64,
        relevant: &[&str],
    ) -> Result<Vec<PastResult>> {
        // The names are the library's outcome names (snake_case): written into the statement,
        // checked so that nothing else can be.
        let names: Vec<String> = relevant
            .iter()
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
            .map(|n| format!("'{n}'"))
            .collect();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT card_id, run_id, outcome, received_at, old_card_masked FROM au_results
             WHERE card_id IS NOT NULL AND run_id <> ? AND received_at <= ?
               AND card_id IN (SELECT card_id FROM au_results
                               WHERE card_id IS NOT NULL AND run_id <> ? AND received_at <= ?
                                 AND outcome IN ({}))
             ORDER BY card_id, received_at, result_id",
            names.join(", ")
        );
        fetch_all!(
            self,
            "read past results",
            PastResult,
            &sql,
            run_id,
            cutoff,
            run_id,
            cutoff
        )
    }

    /// What each of `ids` was when run `run_id` sent it ([`super::card_identity`]), from the
    /// run's chunks that recorded identities (schema 5 and later).
    pub(crate) async fn identities_in_run(
        &self,
        run_id: &str,
        ids: &std::collections::HashSet<&str>,
    ) -> Result<HashMap<String, String>> {
        let rows = fetch_all!(
            self,
            "read card identities",
            (String, String),
            "SELECT card_ids, card_masks FROM au_chunks WHERE run_id = ? AND card_masks IS NOT NULL",
            run_id
        )?;
        let mut found = HashMap::new();
        for (cards, identities) in rows {
            let Some(identities) = decode_identities(&identities) else {
                continue;
            };
            for ((_, id), identity) in decode_cards(&cards)?.into_iter().zip(identities) {
                if ids.contains(id.as_str()) {
                    found.insert(id, identity);
                }
            }
        }
        Ok(found)
    }

    /// Records suppressed cards (input position, caller id, reason code, detail) in one
    /// transaction; a position recorded before (a resume) is kept as it was.
    pub(crate) async fn record_suppressed(
        &self,
        run_id: &str,
        rows: &[(u64, String, &'static str, String)],
    ) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        const SQL: &str = "INSERT INTO au_suppressed (run_id, position, card_id, reason, detail) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (run_id, position) DO NOTHING";
        macro_rules! insert_all {
            ($pool:expr, $sql:expr) => {{
                let mut tx = $pool
                    .begin()
                    .await
                    .map_err(db_error("record suppressed card"))?;
                for (position, id, reason, detail) in rows {
                    sqlx::query($sql)
                        .bind(run_id)
                        .bind(int(*position))
                        .bind(id.as_str())
                        .bind(*reason)
                        .bind(detail.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error("record suppressed card"))?;
                }
                tx.commit()
                    .await
                    .map_err(db_error("record suppressed card"))
            }};
        }
        match self {
            Db::Sqlite(pool) => insert_all!(pool, SQL),
            #[cfg(feature = "postgres")]
            Db::Postgres(pool) => insert_all!(pool, &numbered(SQL)),
        }
    }

    /// The run's suppressed cards, by input position.
    pub(crate) async fn suppressed(&self, run_id: &str) -> Result<Vec<SuppressedRow>> {
        let rows = fetch_all!(
            self,
            "read suppressed cards",
            (i64, String, String, String),
            "SELECT position, card_id, reason, detail FROM au_suppressed WHERE run_id = ? ORDER BY position",
            run_id
        )?;
        Ok(rows
            .into_iter()
            .map(|(p, id, reason, detail)| (unsigned(p), id, reason, detail))
            .collect())
    }

    /// Records what a provider said of a job (`complete` or `failed`).
    pub(crate) async fn record_job_state(
        &self,
        run_id: &str,
        provider: &str,
        job_id: &str,
        state: &str,
    ) -> Result<()> {
        execute!(
            self,
            "record job state",
            "INSERT INTO au_jobs (run_id, provider, job_id, state, updated_at) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (run_id, provider, job_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            run_id,
            provider,
            job_id,
            state,
            now()
        )?;
        Ok(())
    }

    /// The jobs of a run a provider reported finished: (provider, job id) → state.
    pub(crate) async fn job_states(
        &self,
        run_id: &str,
    ) -> Result<HashMap<(String, String), String>> {
        let rows = fetch_all!(
            self,
            "read job states",
            (String, String, String),
            "SELECT provider, job_id, state FROM au_jobs WHERE run_id = ?",
            run_id
        )?;
        Ok(rows
            .into_iter()
            .map(|(provider, job, state)| ((provider, job), state))
            .collect())
    }

    /// The run's accepted chunks, in chunk order.
    pub(crate) async fn accepted_chunks(&self, run_id: &str) -> Result<Vec<AcceptedChunk>> {
        fetch_all!(
            self,
            "read accepted chunks",
            AcceptedChunk,
            "SELECT provider, job_id, card_ids, updated_at FROM au_chunks WHERE run_id = ? AND state = 'accepted' ORDER BY seq",
            run_id
        )
    }

    /// The run's stored results.
    pub(crate) async fn run_results(&self, run_id: &str) -> Result<Vec<RunResult>> {
        fetch_all!(
            self,
            "read results",
            RunResult,
            "SELECT result_id, provider, card_id, card_ref, COALESCE(deliveries, 1) FROM au_results WHERE run_id = ? ORDER BY result_id",
            run_id
        )
    }

    /// Per provider, over every run but `run_id` whose results at that provider have begun
    /// to come in: the cards its accepted chunks held and the billable results stored. A
    /// provider's own past hit rate, for a plan's cost.
    pub(crate) async fn hit_history(&self, run_id: &str) -> Result<HashMap<String, (u64, u64)>> {
        let results = fetch_all!(
            self,
            "read hit history",
            (String, String, i64),
            "SELECT run_id, provider, CAST(COALESCE(SUM(COALESCE(billable, 0)), 0) AS BIGINT) FROM au_results WHERE run_id <> ? GROUP BY run_id, provider",
            run_id
        )?;
        let cards = fetch_all!(
            self,
            "read hit history",
            (String, Option<String>, String, i64),
            "SELECT c.run_id, c.provider, r.provider, CAST(COALESCE(SUM(c.cards), 0) AS BIGINT) FROM au_chunks c JOIN au_runs r ON r.run_id = c.run_id
             WHERE c.run_id <> ? AND c.state = 'accepted' GROUP BY c.run_id, c.provider, r.provider",
            run_id
        )?;
        let mut billable: HashMap<(String, String), u64> = HashMap::new();
        for (run, provider, hits) in results {
            billable.insert((run, provider), unsigned(hits));
        }
        let mut history: HashMap<String, (u64, u64)> = HashMap::new();
        for (run, chunk_provider, run_provider, accepted) in cards {
            let provider = chunk_provider.unwrap_or(run_provider);
            if let Some(hits) = billable.get(&(run, provider.clone())) {
                let entry = history.entry(provider).or_default();
                entry.0 += unsigned(accepted);
                entry.1 += hits;
            }
        }
        Ok(history)
    }
}

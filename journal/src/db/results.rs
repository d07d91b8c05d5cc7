//! Stored results and the read-side queries (runs, accepted jobs, rejected cards, export
//! pages).

use account_updater::error::Result;
use account_updater::outcome::CardUpdate;

use super::{StoredResult, result_id};

#[cfg(feature = "postgres")]
use super::numbered;
use super::{Db, db_error, decode_cards, int, now, unsigned};

impl Db {
    /// Stores results in one transaction per call: one commit for a results page, not one
    /// per card. A result already stored (fetched again, or a webhook delivered again) is
    /// not stored twice: its delivery count goes up instead, for `reconcile`.
    /// Returns, per update, whether it was stored for the first time.
    pub(crate) async fn store_results(
        &self,
        run_id: &str,
        updates: &[CardUpdate],
    ) -> Result<Vec<bool>> {
        const SQL: &str = "INSERT INTO au_results (run_id, result_id, provider, card_id, card_ref, outcome, raw_code, new_expiry, new_card_masked, received_at, applied_at, old_card_masked, old_expiry, brand_changed, deliveries, billable)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, 1, ?)
             ON CONFLICT (run_id, result_id) DO NOTHING";
        const AGAIN: &str = "UPDATE au_results SET deliveries = COALESCE(deliveries, 1) + 1 WHERE run_id = ? AND result_id = ?";
        macro_rules! store_all {
            ($pool:expr, $sql:expr, $again:expr) => {{
                let mut tx = $pool.begin().await.map_err(db_error("store result"))?;
                let mut stored = Vec::with_capacity(updates.len());
                let received = now();
                for u in updates {
                    let id = result_id(u);
                    let new = sqlx::query($sql)
                        .bind(run_id)
                        .bind(&id)
                        .bind(u.provider.as_str())
                        .bind(u.card_id.as_deref())
                        .bind(u.card_ref.as_deref())
                        .bind(u.outcome.as_str())
                        .bind(u.raw_code.as_str())
                        .bind(u.new_expiry.map(|e| e.to_string()))
                        .bind(u.new_card.as_ref().map(|c| c.masked()))
                        .bind(received)
                        .bind(u.previous_card.as_ref().map(|c| c.masked()))
                        .bind(u.previous_expiry.map(|e| e.to_string()))
                        .bind(i64::from(u.brand_changed))
                        .bind(i64::from(u.outcome.is_billable()))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error("store result"))?
                        .rows_affected();
                    if new == 0 {
                        sqlx::query($again)
                            .bind(run_id)
                            .bind(&id)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_error("store result"))?;
                    }
                    stored.push(new == 1);
                }
                tx.commit().await.map_err(db_error("store result"))?;
                Ok(stored)
            }};
        }
        match self {
            Db::Sqlite(pool) => store_all!(pool, SQL, AGAIN),
            #[cfg(feature = "postgres")]
            Db::Postgres(pool) => store_all!(pool, &numbered(SQL), &numbered(AGAIN)),
        }
    }

    /// Unknown chunks holding a card the results name reached the provider: accepted. Only
    /// unknown chunks are read (they are few), never the whole run.
    pub(crate) async fn reconcile_unknown(
        &self,
        run_id: &str,
        updates: &[CardUpdate],
    ) -> Result<()> {
        let named: std::collections::HashSet<&str> = updates
            .iter()
            .filter_map(|u| u.card_id.as_deref())
            .collect();
        if named.is_empty() {
            return Ok(());
        }
        let unknown = fetch_all!(
            self,
            "reconcile unknown chunk",
            (i64, String),
            "SELECT seq, card_ids FROM au_chunks WHERE run_id = ? AND state = 'unknown'",
            run_id
        )?;
        for (seq, json) in unknown {
            if decode_cards(&json)?
                .iter()
                .any(|(_, id)| named.contains(id.as_str()))
            {
                execute!(
                    self,
                    "reconcile unknown chunk",
                    "UPDATE au_chunks SET state = 'accepted', error = NULL, updated_at = ?
                     WHERE run_id = ? AND seq = ? AND state = 'unknown'",
                    now(),
                    run_id,
                    seq
                )?;
            }
        }
        Ok(())
    }

    pub(crate) async fn is_applied(&self, run_id: &str, result_id: &str) -> Result<bool> {
        let rows = fetch_all!(
            self,
            "read result",
            (Option<i64>,),
            "SELECT applied_at FROM au_results WHERE run_id = ? AND result_id = ?",
            run_id,
            result_id
        )?;
        Ok(rows.first().is_some_and(|r| r.0.is_some()))
    }

    pub(crate) async fn mark_applied(&self, run_id: &str, result_id: &str) -> Result<()> {
        execute!(
            self,
            "mark result applied",
            "UPDATE au_results SET applied_at = ? WHERE run_id = ? AND result_id = ? AND applied_at IS NULL",
            now(),
            run_id,
            result_id
        )?;
        Ok(())
    }

    /// Every run: id, provider, creation time (Unix seconds).
    pub(crate) async fn runs(&self) -> Result<Vec<(String, String, i64)>> {
        fetch_all!(
            self,
            "read runs",
            (String, String, i64),
            "SELECT run_id, provider, created_at FROM au_runs ORDER BY created_at, run_id"
        )
    }

    /// The accepted chunks' jobs: kind, job id (none when the provider did not name it),
    /// and how many chunks and cards each holds.
    pub(crate) async fn accepted_jobs(
        &self,
        run_id: &str,
    ) -> Result<Vec<(String, Option<String>, Option<String>, i64, i64)>> {
        fetch_all!(
            self,
            "read accepted jobs",
            (String, Option<String>, Option<String>, i64, i64),
            "SELECT kind, job_id, provider, COUNT(*), CAST(SUM(cards) AS BIGINT) FROM au_chunks
             WHERE run_id = ? AND state = 'accepted'
             GROUP BY kind, job_id, provider ORDER BY MIN(seq)",
            run_id
        )
    }

    /// The rejected cards of a run, by input position.
    pub(crate) async fn rejected(&self, run_id: &str) -> Result<Vec<(u64, String, String)>> {
        let rows = fetch_all!(
            self,
            "read rejected cards",
            (i64, String, String),
            "SELECT position, card_id, reason FROM au_rejected WHERE run_id = ? ORDER BY position",
            run_id
        )?;
        Ok(rows
            .into_iter()
            .map(|(p, id, reason)| (unsigned(p), id, reason))
            .collect())
    }

    /// One page of stored results after `after` (by result id), unapplied only or all.
    pub(crate) async fn results_page(
        &self,
        run_id: &str,
        after: &str,
        include_applied: bool,
        limit: u64,
    ) -> Result<Vec<StoredResult>> {
        type Row = (
            String,
            String,
            Option<String>,
            Option<String>,
            String,
            String,
            Option<String>,
            Option<String>,
            i64,
            Option<i64>,
        );
        let rows = fetch_all!(
            self,
            "read results",
            Row,
            "SELECT result_id, provider, card_id, card_ref, outcome, raw_code, new_expiry, new_card_masked, received_at, applied_at
             FROM au_results
             WHERE run_id = ? AND result_id > ? AND (applied_at IS NULL OR ? = 1)
             ORDER BY result_id LIMIT ?",
            run_id,
            after,
            i64::from(include_applied),
            int(limit)
        )?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    result_id,
                    provider,
                    card_id,
                    card_ref,
                    outcome,
                    raw_code,
                    new_expiry,
                    new_card_masked,
                    received_at,
                    applied_at,
                )| StoredResult {
                    result_id,
                    provider,
                    card_id,
                    card_ref,
                    outcome,
                    raw_code,
                    new_expiry,
                    new_card_masked,
                    received_at,
                    applied: applied_at.is_some(),
                },
            )
            .collect())
    }

    /// Marks exactly these results applied (one statement for the page).
    pub(crate) async fn mark_applied_many(&self, run_id: &str, ids: &[&str]) -> Result<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut sql = String::from(
            "UPDATE au_results SET applied_at = ? WHERE run_id = ? AND applied_at IS NULL AND result_id IN (",
        );
        for i in 0..ids.len() {
            sql.push_str(if i == 0 { "?" } else { ", ?" });
        }
        sql.push(')');
        macro_rules! mark {
            ($pool:expr, $sql:expr) => {{
                let mut query = sqlx::query($sql).bind(now()).bind(run_id);
                for id in ids {
                    query = query.bind(*id);
                }
                query
                    .execute($pool)
                    .await
                    .map(|r| r.rows_affected())
                    .map_err(db_error("mark results applied"))
            }};
        }
        match self {
            Db::Sqlite(pool) => mark!(pool, &sql),
            #[cfg(feature = "postgres")]
            Db::Postgres(pool) => {
                let sql = numbered(&sql);
                mark!(pool, &sql)
            }
        }
    }

    /// The caller id of the one card of the run's accepted chunk placed under `job_id` (a
    /// single-card job: an Acquired inquiry, named by its token). `None` when no such chunk
    /// exists or several do (the same token twice in a run cannot be told apart).
    pub(crate) async fn single_card_of_job(
        &self,
        run_id: &str,
        provider: &str,
        job_id: &str,
    ) -> Result<Option<String>> {
        // A routed run's chunks name their provider (older chunks do not: their run's).
        let rows = fetch_all!(
            self,
            "join result to its card",
            (String,),
            "SELECT card_ids FROM au_chunks WHERE run_id = ? AND job_id = ? AND cards = 1 AND state = 'accepted' AND (provider IS NULL OR provider = ?) LIMIT 2",
            run_id,
            job_id,
            provider
        )?;
        match rows.as_slice() {
            [(json,)] => Ok(decode_cards(json)?.into_iter().next().map(|(_, id)| id)),
            _ => Ok(None),
        }
    }
}

/// One stored result of a card, as [`Db::history`] reads it.
pub(crate) type HistoryRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    i64,
    Option<i64>,
);

impl Db {
    /// Every stored result for caller id `card_id`, across runs and providers, oldest first.
    pub(crate) async fn history(&self, card_id: &str) -> Result<Vec<HistoryRow>> {
        fetch_all!(
            self,
            "read history",
            HistoryRow,
            "SELECT run_id, provider, outcome, raw_code, old_card_masked, new_card_masked, old_expiry, new_expiry, brand_changed, received_at, applied_at
             FROM au_results WHERE card_id = ? ORDER BY received_at, run_id, result_id",
            card_id
        )
    }
}

/// A run that may own an incoming result: its id, and (for a lookup by the provider's card
/// reference) the caller's id that reference was placed for.
pub(crate) type CandidateRun = (String, Option<String>);

impl Db {
    /// Records the provider's reference of each card an accepted chunk placed, in one
    /// transaction; a pair recorded before (a resume, another worker) is kept as it was.
    pub(crate) async fn record_card_refs(
        &self,
        run_id: &str,
        provider: &str,
        pairs: &[(&str, &str)],
    ) -> Result<()> {
        if pairs.is_empty() {
            return Ok(());
        }
        const SQL: &str =
            "INSERT INTO au_card_refs (run_id, provider, card_ref, card_id) VALUES (?, ?, ?, ?)
             ON CONFLICT (run_id, provider, card_ref) DO NOTHING";
        macro_rules! insert_all {
            ($pool:expr, $sql:expr) => {{
                let mut tx = $pool
                    .begin()
                    .await
                    .map_err(db_error("record card references"))?;
                for (card_ref, card_id) in pairs {
                    sqlx::query($sql)
                        .bind(run_id)
                        .bind(provider)
                        .bind(*card_ref)
                        .bind(*card_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error("record card references"))?;
                }
                tx.commit()
                    .await
                    .map_err(db_error("record card references"))
            }};
        }
        match self {
            Db::Sqlite(pool) => insert_all!(pool, SQL),
            #[cfg(feature = "postgres")]
            Db::Postgres(pool) => insert_all!(pool, &numbered(SQL)),
        }
    }

    /// The caller's id a reference was placed for in `run_id`.
    pub(crate) async fn card_of_ref(
        &self,
        run_id: &str,
        provider: &str,
        card_ref: &str,
    ) -> Result<Option<String>> {
        let rows = fetch_all!(
            self,
            "join result to its card",
            (String,),
            "SELECT card_id FROM au_card_refs WHERE run_id = ? AND provider = ? AND card_ref = ?",
            run_id,
            provider,
            card_ref
        )?;
        Ok(rows.into_iter().next().map(|(id,)| id))
    }

    /// The runs with an accepted chunk in `job_id` at `provider`, newest first.
    pub(crate) async fn runs_of_job(
        &self,
        provider: &str,
        job_id: &str,
    ) -> Result<Vec<CandidateRun>> {
        let rows = fetch_all!(
            self,
            "find the run of a result",
            (String, i64),
            "SELECT c.run_id, MAX(r.created_at) FROM au_chunks c JOIN au_runs r ON r.run_id = c.run_id
             WHERE c.job_id = ? AND c.state = 'accepted' AND COALESCE(c.provider, r.provider) = ?
             GROUP BY c.run_id ORDER BY MAX(r.created_at) DESC, c.run_id DESC",
            job_id,
            provider
        )?;
        Ok(rows.into_iter().map(|(run, _)| (run, None)).collect())
    }

    /// The runs that placed a card under the provider's reference `card_ref`, newest first,
    /// with the caller's id each placed it for.
    pub(crate) async fn runs_of_ref(
        &self,
        provider: &str,
        card_ref: &str,
    ) -> Result<Vec<CandidateRun>> {
        let rows = fetch_all!(
            self,
            "find the run of a result",
            (String, String),
            "SELECT f.run_id, f.card_id FROM au_card_refs f JOIN au_runs r ON r.run_id = f.run_id
             WHERE f.provider = ? AND f.card_ref = ?
             ORDER BY r.created_at DESC, f.run_id DESC",
            provider,
            card_ref
        )?;
        Ok(rows.into_iter().map(|(run, id)| (run, Some(id))).collect())
    }

    /// The runs that sent a card with the caller's id `card_id` to `provider` in an accepted
    /// chunk, newest first (a provider that echoes the caller's id: CardSync).
    pub(crate) async fn runs_of_card_id(
        &self,
        provider: &str,
        card_id: &str,
    ) -> Result<Vec<CandidateRun>> {
        // The chunk's card list is `[[position,"id"],…]`: the id, JSON-quoted and closing its
        // pair, is matched exactly (LIKE's own wildcards in it escaped).
        let quoted = serde_json::to_string(card_id).unwrap_or_default();
        let mut pattern = String::from("%,");
        for c in quoted.chars() {
            if matches!(c, '%' | '_' | '!') {
                pattern.push('!');
            }
            pattern.push(c);
        }
        pattern.push_str("]%");
        let rows = fetch_all!(
            self,
            "find the run of a result",
            (String, String),
            "SELECT c.run_id, c.card_ids FROM au_chunks c JOIN au_runs r ON r.run_id = c.run_id
             WHERE c.state = 'accepted' AND COALESCE(c.provider, r.provider) = ? AND c.card_ids LIKE ? ESCAPE '!'
             ORDER BY r.created_at DESC, c.run_id DESC",
            provider,
            pattern
        )?;
        // SQLite's LIKE ignores ASCII case: each match is read back and compared exactly.
        let mut runs: Vec<CandidateRun> = Vec::new();
        for (run, cards) in rows {
            if runs.iter().any(|(r, _)| *r == run) {
                continue;
            }
            if decode_cards(&cards)?.iter().any(|(_, id)| id == card_id) {
                runs.push((run, Some(card_id.to_owned())));
            }
        }
        Ok(runs)
    }

    /// Whether `run_id` holds the result `result_id`.
    pub(crate) async fn has_result(&self, run_id: &str, result_id: &str) -> Result<bool> {
        let rows = fetch_all!(
            self,
            "read result",
            (i64,),
            "SELECT CAST(1 AS BIGINT) FROM au_results WHERE run_id = ? AND result_id = ?",
            run_id,
            result_id
        )?;
        Ok(!rows.is_empty())
    }

    /// Whether `run_id` holds any result of `provider` for the card (by the provider's
    /// reference, else by the caller's id).
    pub(crate) async fn has_result_for_card(
        &self,
        run_id: &str,
        provider: &str,
        card_ref: Option<&str>,
        card_id: Option<&str>,
    ) -> Result<bool> {
        let rows = fetch_all!(
            self,
            "read result",
            (i64,),
            "SELECT CAST(1 AS BIGINT) FROM au_results WHERE run_id = ? AND provider = ? AND ((? IS NOT NULL AND card_ref = ?) OR (? IS NOT NULL AND card_id = ?)) LIMIT 1",
            run_id,
            provider,
            card_ref,
            card_ref,
            card_id,
            card_id
        )?;
        Ok(!rows.is_empty())
    }
}

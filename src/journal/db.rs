//! The journal's tables and statements, for SQLite and PostgreSQL through `sqlx`.
//!
//! Statements are written once with `?` placeholders and numbered (`$1`, `$2`…) for
//! PostgreSQL. A chunk is one row, its cards a JSON array in it: claiming a chunk of 10,000
//! cards is one insert.

use std::path::Path;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::{Error, Result};
use crate::outcome::CardUpdate;
use crate::submission::Chunk;

use super::{RunStatus, StoredResult, UnknownChunk, result_id, state};

/// The schema version this crate writes. Migrations run in order from the database's version.
pub const SCHEMA_VERSION: i64 = 2;

/// Each migration's statements, by version. Every statement is idempotent, so two workers
/// migrating at once cannot fail each other (PostgreSQL also takes an advisory lock).
const MIGRATIONS: &[(i64, &[&str])] = &[
    (
        1,
        &[
            "CREATE TABLE IF NOT EXISTS au_runs (
            run_id TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            created_at BIGINT NOT NULL
        )",
            // One row per chunk; its cards' input positions and caller ids are a JSON array of
            // [position, id] pairs in the row: one write per chunk, not one per card.
            "CREATE TABLE IF NOT EXISTS au_chunks (
            run_id TEXT NOT NULL,
            seq BIGINT NOT NULL,
            kind TEXT NOT NULL,
            grp TEXT,
            fingerprint TEXT NOT NULL,
            cards BIGINT NOT NULL,
            card_ids TEXT NOT NULL,
            state TEXT NOT NULL,
            job_id TEXT,
            error TEXT,
            worker TEXT NOT NULL,
            attempts BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (run_id, seq)
        )",
            "CREATE INDEX IF NOT EXISTS au_chunks_by_state ON au_chunks (run_id, state)",
            "CREATE TABLE IF NOT EXISTS au_rejected (
            run_id TEXT NOT NULL,
            position BIGINT NOT NULL,
            card_id TEXT NOT NULL,
            reason TEXT NOT NULL,
            PRIMARY KEY (run_id, position)
        )",
            "CREATE TABLE IF NOT EXISTS au_results (
            run_id TEXT NOT NULL,
            result_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            card_id TEXT,
            card_ref TEXT,
            outcome TEXT NOT NULL,
            raw_code TEXT NOT NULL,
            new_expiry TEXT,
            new_card_masked TEXT,
            received_at BIGINT NOT NULL,
            applied_at BIGINT,
            PRIMARY KEY (run_id, result_id)
        )",
        ],
    ),
    // 2: results that name only the provider's reference (an Acquired webhook names the
    // token) are joined to the caller's id through the chunk placed under that job.
    (
        2,
        &["CREATE INDEX IF NOT EXISTS au_chunks_job ON au_chunks (run_id, job_id)"],
    ),
];

#[derive(Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    #[cfg(feature = "journal-postgres")]
    Postgres(sqlx::PgPool),
}

fn db_error(operation: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| {
        // The class of failure, never the statement's values.
        let message = match &e {
            sqlx::Error::Database(d) => match d.code() {
                Some(code) => format!("database error {code}"),
                None => "database error".to_owned(),
            },
            sqlx::Error::PoolTimedOut => "timed out waiting for a connection".to_owned(),
            sqlx::Error::Io(_) => "i/o error".to_owned(),
            sqlx::Error::RowNotFound => "row not found".to_owned(),
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                "unexpected column type".to_owned()
            }
            _ => "driver error".to_owned(),
        };
        Error::Journal {
            operation,
            message,
            source: Some(Box::new(e)),
        }
    }
}

/// `?` placeholders numbered for PostgreSQL.
#[cfg(feature = "journal-postgres")]
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs one statement on whichever engine, binding the same values; yields rows affected.
macro_rules! execute {
    ($db:expr, $op:literal, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $db {
            Db::Sqlite(pool) => sqlx::query($sql)
                $(.bind($arg))*
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
                .map_err(db_error($op)),
            #[cfg(feature = "journal-postgres")]
            Db::Postgres(pool) => sqlx::query(&numbered($sql))
                $(.bind($arg))*
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
                .map_err(db_error($op)),
        }
    };
}

/// Fetches rows of type `$t` (a tuple) on whichever engine.
macro_rules! fetch_all {
    ($db:expr, $op:literal, $t:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $db {
            Db::Sqlite(pool) => sqlx::query_as::<_, $t>($sql)
                $(.bind($arg))*
                .fetch_all(pool)
                .await
                .map_err(db_error($op)),
            #[cfg(feature = "journal-postgres")]
            Db::Postgres(pool) => sqlx::query_as::<_, $t>(&numbered($sql))
                $(.bind($arg))*
                .fetch_all(pool)
                .await
                .map_err(db_error($op)),
        }
    };
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn unsigned(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

const INSERT_CHUNK: &str = "INSERT INTO au_chunks
    (run_id, seq, kind, grp, fingerprint, cards, card_ids, state, job_id, error, worker, attempts, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, 'intent', NULL, NULL, ?, 1, ?)
    ON CONFLICT (run_id, seq) DO NOTHING";

/// A chunk's cards as stored: `[[position, "id"], …]`, byte for byte what `serde_json` writes
/// for that list (a chunk's fingerprint is a hash of it, so journals written before stay
/// resumable), written directly: this runs on the submission's task before every chunk's
/// request, where `serde_json`'s generic path (a tuple and an escape scan per card) was the
/// journal's largest CPU cost per chunk.
pub(crate) fn encode_cards(chunk: &Chunk) -> Result<String> {
    let mut out = String::with_capacity(chunk.len() * 24 + 2);
    let mut digits = itoa::Buffer::new();
    out.push('[');
    for (i, (position, id)) in chunk.positions().iter().zip(chunk.ids()).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        out.push_str(digits.format(*position));
        out.push(',');
        if id.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
            // Rare: let serde_json escape it exactly as it always did.
            let quoted = serde_json::to_string(id).map_err(|e| Error::Journal {
                operation: "claim chunk",
                message: "could not encode the chunk's ids".into(),
                source: Some(Box::new(e)),
            })?;
            out.push_str(&quoted);
        } else {
            out.push('"');
            out.push_str(id);
            out.push('"');
        }
        out.push(']');
    }
    out.push(']');
    Ok(out)
}

fn decode_cards(json: &str) -> Result<Vec<(u64, String)>> {
    serde_json::from_str(json).map_err(|e| Error::Journal {
        operation: "read chunk cards",
        message: "a chunk's card list is not the JSON the journal writes".into(),
        source: Some(Box::new(e)),
    })
}

impl Db {
    pub(crate) fn engine(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            #[cfg(feature = "journal-postgres")]
            Db::Postgres(_) => "postgres",
        }
    }

    pub(crate) async fn open_sqlite(path: &Path) -> Result<Db> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            // WAL: readers never block the writer; NORMAL: durable at each checkpoint of the
            // WAL, and a crash of the process (not the machine) loses no committed transaction.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            // A chunk's row is about 200 KB: larger pages mean shorter overflow chains, and
            // a larger checkpoint interval fewer pauses while a run writes.
            .page_size(16384)
            .pragma("wal_autocheckpoint", "4096");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(db_error("open"))?;
        Ok(Db::Sqlite(pool))
    }

    #[cfg(feature = "journal-postgres")]
    pub(crate) async fn connect_postgres(url: &str) -> Result<Db> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(url)
            .await
            .map_err(db_error("connect"))?;
        Ok(Db::Postgres(pool))
    }

    pub(crate) async fn schema_version(&self) -> Result<i64> {
        let rows = fetch_all!(
            self,
            "read schema version",
            (Option<i64>,),
            "SELECT MAX(version) FROM au_schema_version"
        )?;
        Ok(rows.first().and_then(|r| r.0).unwrap_or(0))
    }

    pub(crate) async fn migrate(&self) -> Result<()> {
        execute!(
            self,
            "migrate",
            "CREATE TABLE IF NOT EXISTS au_schema_version (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)"
        )?;
        let current = self.schema_version().await?;
        if current > SCHEMA_VERSION {
            return Err(Error::Journal {
                operation: "migrate",
                message: format!(
                    "the journal's schema is version {current}, newer than this crate's {SCHEMA_VERSION}"
                ),
                source: None,
            });
        }
        for (version, statements) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            match self {
                Db::Sqlite(pool) => {
                    let mut tx = pool.begin().await.map_err(db_error("migrate"))?;
                    for statement in *statements {
                        sqlx::query(statement)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_error("migrate"))?;
                    }
                    sqlx::query("INSERT INTO au_schema_version (version, applied_at) VALUES (?, ?) ON CONFLICT (version) DO NOTHING")
                        .bind(version)
                        .bind(now())
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error("migrate"))?;
                    tx.commit().await.map_err(db_error("migrate"))?;
                }
                #[cfg(feature = "journal-postgres")]
                Db::Postgres(pool) => {
                    let mut tx = pool.begin().await.map_err(db_error("migrate"))?;
                    // One migrating worker at a time.
                    sqlx::query("SELECT pg_advisory_xact_lock(4242001)")
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error("migrate"))?;
                    for statement in *statements {
                        sqlx::query(statement)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_error("migrate"))?;
                    }
                    sqlx::query("INSERT INTO au_schema_version (version, applied_at) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING")
                        .bind(version)
                        .bind(now())
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error("migrate"))?;
                    tx.commit().await.map_err(db_error("migrate"))?;
                }
            }
        }
        Ok(())
    }

    /// Records the run (first call) and checks it belongs to `provider` (later calls).
    pub(crate) async fn start_run(&self, run_id: &str, provider: &str) -> Result<()> {
        execute!(
            self,
            "start run",
            "INSERT INTO au_runs (run_id, provider, created_at) VALUES (?, ?, ?) ON CONFLICT (run_id) DO NOTHING",
            run_id,
            provider,
            now()
        )?;
        let rows = fetch_all!(
            self,
            "start run",
            (String,),
            "SELECT provider FROM au_runs WHERE run_id = ?",
            run_id
        )?;
        match rows.first() {
            Some((p,)) if p == provider => Ok(()),
            _ => Err(Error::invalid(
                "run_id",
                crate::error::InputProblem::NotAllowed {
                    reason: "this run belongs to another provider".into(),
                },
            )),
        }
    }

    /// Intents with no outcome, written by this worker name (its process is gone) or older
    /// than `stale_after` (their worker died), become unknown: the request may have been sent.
    pub(crate) async fn abandon_stale_intents(
        &self,
        run_id: &str,
        worker: &str,
        stale_after: Duration,
    ) -> Result<u64> {
        let cutoff = now() - i64::try_from(stale_after.as_secs()).unwrap_or(i64::MAX / 2);
        execute!(
            self,
            "abandon stale intents",
            "UPDATE au_chunks SET state = 'unknown', error = 'the run stopped after writing the intent: the request may have been sent', updated_at = ?
             WHERE run_id = ? AND state = 'intent' AND (worker = ? OR updated_at < ?)",
            now(),
            run_id,
            worker,
            cutoff
        )
    }

    /// Claims a chunk never seen before: its intent with its cards, one row. `false` when the
    /// chunk is already recorded (by an earlier run or another worker): the primary key on
    /// (run, chunk number) lets exactly one claim in.
    pub(crate) async fn claim_new(
        &self,
        run_id: &str,
        worker: &str,
        chunk: &Chunk,
        cards: &str,
        fingerprint: &str,
    ) -> Result<bool> {
        let kind = format!("{:?}", chunk.kind()).to_lowercase();
        let n = execute!(
            self,
            "claim chunk",
            INSERT_CHUNK,
            run_id,
            int(chunk.seq()),
            kind,
            chunk.group(),
            fingerprint,
            int(chunk.len() as u64),
            cards,
            worker,
            now()
        )?;
        Ok(n == 1)
    }

    /// A recorded chunk's fingerprint and state.
    pub(crate) async fn chunk_state(
        &self,
        run_id: &str,
        seq: u64,
    ) -> Result<Option<(String, String)>> {
        let rows = fetch_all!(
            self,
            "read chunk",
            (String, String),
            "SELECT fingerprint, state FROM au_chunks WHERE run_id = ? AND seq = ?",
            run_id,
            int(seq)
        )?;
        Ok(rows.into_iter().next())
    }

    /// Claims a failed (or resend) chunk again, if it is still in `from` (one worker wins).
    pub(crate) async fn reclaim(
        &self,
        run_id: &str,
        worker: &str,
        seq: u64,
        from: &str,
    ) -> Result<bool> {
        let n = execute!(
            self,
            "reclaim chunk",
            "UPDATE au_chunks SET state = 'intent', worker = ?, attempts = attempts + 1, error = NULL, updated_at = ?
             WHERE run_id = ? AND seq = ? AND state = ?",
            worker,
            now(),
            run_id,
            int(seq),
            from
        )?;
        Ok(n == 1)
    }

    pub(crate) async fn finish_chunk(
        &self,
        run_id: &str,
        worker: &str,
        seq: u64,
        state: &str,
        job_id: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        execute!(
            self,
            "record chunk outcome",
            "UPDATE au_chunks SET state = ?, job_id = ?, error = ?, updated_at = ?
             WHERE run_id = ? AND seq = ? AND worker = ? AND state = 'intent'",
            state,
            job_id,
            error,
            now(),
            run_id,
            int(seq),
            worker
        )?;
        Ok(())
    }

    pub(crate) async fn reject_card(
        &self,
        run_id: &str,
        position: u64,
        card_id: &str,
        reason: &str,
    ) -> Result<()> {
        execute!(
            self,
            "record rejected card",
            "INSERT INTO au_rejected (run_id, position, card_id, reason) VALUES (?, ?, ?, ?)
             ON CONFLICT (run_id, position) DO NOTHING",
            run_id,
            int(position),
            card_id,
            reason
        )?;
        Ok(())
    }

    pub(crate) async fn status(&self, run_id: &str) -> Result<RunStatus> {
        let mut status = RunStatus::default();
        let per_state = fetch_all!(
            self,
            "read status",
            (String, i64, i64),
            "SELECT state, COUNT(*), CAST(COALESCE(SUM(cards), 0) AS BIGINT) FROM au_chunks WHERE run_id = ? GROUP BY state",
            run_id
        )?;
        for (state, chunks, cards) in per_state {
            status.chunks += unsigned(chunks);
            let cards = unsigned(cards);
            match state.as_str() {
                state::ACCEPTED => status.accepted += cards,
                state::INTENT => status.in_flight += cards,
                state::UNKNOWN => status.unknown += cards,
                state::FAILED => status.failed += cards,
                state::RESEND => status.resend += cards,
                _ => {}
            }
        }
        let counts = fetch_all!(
            self,
            "read status",
            (i64, i64, i64),
            "SELECT
                (SELECT COUNT(*) FROM au_rejected WHERE run_id = ?),
                (SELECT COUNT(*) FROM au_results WHERE run_id = ?),
                (SELECT COUNT(*) FROM au_results WHERE run_id = ? AND applied_at IS NOT NULL)",
            run_id,
            run_id,
            run_id
        )?;
        if let Some((rejected, results, applied)) = counts.first() {
            status.rejected = unsigned(*rejected);
            status.results = unsigned(*results);
            status.applied = unsigned(*applied);
        }
        Ok(status)
    }

    pub(crate) async fn unknown_chunks(&self, run_id: &str) -> Result<Vec<UnknownChunk>> {
        let rows = fetch_all!(
            self,
            "read unknown chunks",
            (i64, i64, Option<String>),
            "SELECT seq, cards, error FROM au_chunks WHERE run_id = ? AND state = 'unknown' ORDER BY seq",
            run_id
        )?;
        Ok(rows
            .into_iter()
            .map(|(seq, cards, error)| UnknownChunk {
                seq: unsigned(seq),
                cards: unsigned(cards),
                reason: error.unwrap_or_default(),
            })
            .collect())
    }

    pub(crate) async fn chunk_cards(&self, run_id: &str, seq: u64) -> Result<Vec<(u64, String)>> {
        let rows = fetch_all!(
            self,
            "read chunk cards",
            (String,),
            "SELECT card_ids FROM au_chunks WHERE run_id = ? AND seq = ?",
            run_id,
            int(seq)
        )?;
        match rows.first() {
            Some((json,)) => decode_cards(json),
            None => Ok(Vec::new()),
        }
    }

    pub(crate) async fn set_unknown(
        &self,
        run_id: &str,
        seq: u64,
        to: &str,
        job_id: Option<&str>,
    ) -> Result<u64> {
        execute!(
            self,
            "resolve unknown chunk",
            "UPDATE au_chunks SET state = ?, job_id = COALESCE(?, job_id), updated_at = ?
             WHERE run_id = ? AND seq = ? AND state = 'unknown'",
            to,
            job_id,
            now(),
            run_id,
            int(seq)
        )
    }

    /// Stores results in one transaction per call: one commit for a results page, not one
    /// per card.
    pub(crate) async fn store_results(&self, run_id: &str, updates: &[CardUpdate]) -> Result<u64> {
        const SQL: &str = "INSERT INTO au_results (run_id, result_id, provider, card_id, card_ref, outcome, raw_code, new_expiry, new_card_masked, received_at, applied_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
             ON CONFLICT (run_id, result_id) DO NOTHING";
        macro_rules! store_all {
            ($pool:expr, $sql:expr) => {{
                let mut tx = $pool.begin().await.map_err(db_error("store result"))?;
                let mut stored = 0;
                let received = now();
                for u in updates {
                    stored += sqlx::query($sql)
                        .bind(run_id)
                        .bind(result_id(u))
                        .bind(u.provider.as_str())
                        .bind(u.card_id.as_deref())
                        .bind(u.card_ref.as_deref())
                        .bind(u.outcome.as_str())
                        .bind(u.raw_code.as_str())
                        .bind(u.new_expiry.map(|e| e.to_string()))
                        .bind(u.new_card.as_ref().map(|c| c.masked()))
                        .bind(received)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error("store result"))?
                        .rows_affected();
                }
                tx.commit().await.map_err(db_error("store result"))?;
                Ok(stored)
            }};
        }
        match self {
            Db::Sqlite(pool) => store_all!(pool, SQL),
            #[cfg(feature = "journal-postgres")]
            Db::Postgres(pool) => store_all!(pool, &numbered(SQL)),
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
    ) -> Result<Vec<(String, Option<String>, i64, i64)>> {
        fetch_all!(
            self,
            "read accepted jobs",
            (String, Option<String>, i64, i64),
            "SELECT kind, job_id, COUNT(*), CAST(SUM(cards) AS BIGINT) FROM au_chunks
             WHERE run_id = ? AND state = 'accepted'
             GROUP BY kind, job_id ORDER BY MIN(seq)",
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
            #[cfg(feature = "journal-postgres")]
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
        job_id: &str,
    ) -> Result<Option<String>> {
        let rows = fetch_all!(
            self,
            "join result to its card",
            (String,),
            "SELECT card_ids FROM au_chunks WHERE run_id = ? AND job_id = ? AND cards = 1 AND state = 'accepted' LIMIT 2",
            run_id,
            job_id
        )?;
        match rows.as_slice() {
            [(json,)] => Ok(decode_cards(json)?.into_iter().next().map(|(_, id)| id)),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::{CardNumber, Expiry};
    use crate::provider::{CardToUpdate, JobKind};

    /// The direct encoding is byte for byte serde_json's, escapes included.
    #[test]
    fn encoded_cards_are_exactly_serde_json() {
        let card = |id: &str| {
            CardToUpdate::pan(
                id,
                // Built, not written out: no card-number literal in src/ outside the emulator.
                CardNumber::parse(&format!("4{}", "1".repeat(15))).unwrap(),
                Expiry::new(1, 2030).unwrap(),
            )
        };
        let ids = [
            "c1",
            "quote\"inside",
            "back\\slash",
            "tab\tand\u{1}",
            "é ü 😀",
            "",
            "del\u{7f}",
        ];
        let mut chunk = Chunk::new(JobKind::Batch, None);
        for (i, id) in ids.iter().enumerate() {
            chunk.push(7 + 1_000 * i as u64, card(id));
        }
        let rows: Vec<(u64, &str)> = chunk.positions().iter().copied().zip(chunk.ids()).collect();
        assert_eq!(
            encode_cards(&chunk).unwrap(),
            serde_json::to_string(&rows).unwrap()
        );
        assert_eq!(
            decode_cards(&encode_cards(&chunk).unwrap()).unwrap(),
            rows.iter()
                .map(|(p, id)| (*p, (*id).to_owned()))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            encode_cards(&Chunk::new(JobKind::Batch, None)).unwrap(),
            "[]"
        );
    }
}

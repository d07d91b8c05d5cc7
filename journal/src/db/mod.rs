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

use account_updater::error::{Error, Result};
use account_updater::submission::Chunk;

use super::{RunStatus, StoredResult, UnknownChunk, result_id, state};

#[derive(Clone)]
pub(crate) enum Db {
    Sqlite(SqlitePool),
    #[cfg(feature = "postgres")]
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

/// Adds `chunks` chunks holding `cards` cards in `state` to a run's counts.
fn add_chunks(status: &mut RunStatus, chunk_state: &str, chunks: i64, cards: i64) {
    status.chunks += unsigned(chunks);
    let cards = unsigned(cards);
    match chunk_state {
        state::ACCEPTED => status.accepted += cards,
        state::INTENT => status.in_flight += cards,
        state::UNKNOWN => status.unknown += cards,
        state::FAILED => status.failed += cards,
        state::RESEND => status.resend += cards,
        _ => {}
    }
}

/// What failed when opening a journal file.
enum OpenFailure {
    Io(std::io::Error),
    Sqlite(sqlx::Error),
}

/// An open failure that names the file and says why in plain words (the operator's first
/// question), still without any value from the database.
fn open_error(path: &Path, failure: OpenFailure) -> Error {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let why = if !parent.is_dir() {
        format!("its directory {} does not exist", parent.display())
    } else if path.is_dir() {
        "it is a directory, not a file".to_owned()
    } else {
        match &failure {
            OpenFailure::Io(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                "permission denied: this user cannot create or write it".to_owned()
            }
            OpenFailure::Io(e) => format!("{}", e.kind()),
            OpenFailure::Sqlite(sqlx::Error::Database(d)) => match d.code().as_deref() {
                Some("14") => "SQLite cannot open it (error 14: not readable and writable by this user, or its directory is not writable)".to_owned(),
                Some("26") => "it is not a SQLite database (error 26)".to_owned(),
                Some(code) => format!("database error {code}"),
                None => "database error".to_owned(),
            },
            OpenFailure::Sqlite(sqlx::Error::Io(e)) => format!("{}", e.kind()),
            OpenFailure::Sqlite(_) => "driver error".to_owned(),
        }
    };
    Error::Journal {
        operation: "open",
        message: format!("{}: {why}", path.display()),
        source: Some(match failure {
            OpenFailure::Io(e) => Box::new(e),
            OpenFailure::Sqlite(e) => Box::new(e),
        }),
    }
}

/// Creates a new journal file readable and writable by its owner only: it holds caller ids,
/// outcomes and masked numbers, like the output files. SQLite gives its `-wal` and `-shm`
/// files the database file's permissions. An existing file keeps its own.
fn create_owner_only(path: &Path) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        // Another process created it meanwhile: open it as it is.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(open_error(path, OpenFailure::Io(e))),
    }
}

/// `?` placeholders numbered for PostgreSQL.
#[cfg(feature = "postgres")]
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
            $crate::db::Db::Sqlite(pool) => sqlx::query($sql)
                $(.bind($arg))*
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
                .map_err($crate::db::db_error($op)),
            #[cfg(feature = "postgres")]
            $crate::db::Db::Postgres(pool) => sqlx::query(&$crate::db::numbered($sql))
                $(.bind($arg))*
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
                .map_err($crate::db::db_error($op)),
        }
    };
}

/// Fetches rows of type `$t` (a tuple) on whichever engine.
macro_rules! fetch_all {
    ($db:expr, $op:literal, $t:ty, $sql:expr $(, $arg:expr)* $(,)?) => {
        match $db {
            $crate::db::Db::Sqlite(pool) => sqlx::query_as::<_, $t>($sql)
                $(.bind($arg))*
                .fetch_all(pool)
                .await
                .map_err($crate::db::db_error($op)),
            #[cfg(feature = "postgres")]
            $crate::db::Db::Postgres(pool) => sqlx::query_as::<_, $t>(&$crate::db::numbered($sql))
                $(.bind($arg))*
                .fetch_all(pool)
                .await
                .map_err($crate::db::db_error($op)),
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

mod cards;
mod operator;
mod results;
mod schema;

use cards::decode_identities;
pub(crate) use cards::{card_identity, decode_cards, encode_cards, encode_identities};

pub use schema::SCHEMA_VERSION;

const INSERT_CHUNK: &str = "INSERT INTO au_chunks
    (run_id, seq, kind, grp, fingerprint, cards, card_ids, state, job_id, error, worker, attempts, updated_at, provider, card_masks)
    VALUES (?, ?, ?, ?, ?, ?, ?, 'intent', NULL, NULL, ?, 1, ?, ?, ?)
    ON CONFLICT (run_id, seq) DO NOTHING";

impl Db {
    pub(crate) fn engine(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Db::Postgres(_) => "postgres",
        }
    }

    pub(crate) async fn open_sqlite(path: &Path) -> Result<Db> {
        create_owner_only(path)?;
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
            .map_err(|e| open_error(path, OpenFailure::Sqlite(e)))?;
        Ok(Db::Sqlite(pool))
    }

    #[cfg(feature = "postgres")]
    pub(crate) async fn connect_postgres(url: &str) -> Result<Db> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect(url)
            .await
            .map_err(db_error("connect"))?;
        Ok(Db::Postgres(pool))
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
                account_updater::error::InputProblem::NotAllowed {
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
            now(),
            chunk.provider().map(|p| p.as_str()),
            encode_identities(chunk)
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

    /// Per provider (the chunk's, `None` for chunks recorded before providers were), the
    /// cards per state and the results; rejected cards belong to no provider.
    pub(crate) async fn status_by_provider(
        &self,
        run_id: &str,
    ) -> Result<std::collections::BTreeMap<Option<String>, RunStatus>> {
        let mut by: std::collections::BTreeMap<Option<String>, RunStatus> = Default::default();
        let per_state = fetch_all!(
            self,
            "read status",
            (Option<String>, String, i64, i64),
            "SELECT provider, state, COUNT(*), CAST(COALESCE(SUM(cards), 0) AS BIGINT) FROM au_chunks WHERE run_id = ? GROUP BY provider, state",
            run_id
        )?;
        for (provider, state, chunks, cards) in per_state {
            let status = by.entry(provider).or_default();
            add_chunks(status, &state, chunks, cards);
        }
        let results = fetch_all!(
            self,
            "read status",
            (String, i64, i64),
            "SELECT provider, COUNT(*), CAST(COALESCE(SUM(CASE WHEN applied_at IS NULL THEN 0 ELSE 1 END), 0) AS BIGINT) FROM au_results WHERE run_id = ? GROUP BY provider",
            run_id
        )?;
        for (provider, results, applied) in results {
            let status = by.entry(Some(provider)).or_default();
            status.results = unsigned(results);
            status.applied = unsigned(applied);
        }
        Ok(by)
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
            add_chunks(&mut status, &state, chunks, cards);
        }
        let counts = fetch_all!(
            self,
            "read status",
            (i64, i64, i64, i64),
            "SELECT
                (SELECT COUNT(*) FROM au_rejected WHERE run_id = ?),
                (SELECT COUNT(*) FROM au_results WHERE run_id = ?),
                (SELECT COUNT(*) FROM au_results WHERE run_id = ? AND applied_at IS NOT NULL),
                (SELECT COUNT(*) FROM au_suppressed WHERE run_id = ?)",
            run_id,
            run_id,
            run_id,
            run_id
        )?;
        if let Some((rejected, results, applied, suppressed)) = counts.first() {
            status.suppressed = unsigned(*suppressed);
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
}

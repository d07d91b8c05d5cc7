//! The journal's tables, as versioned migrations, and the code that applies them.

use account_updater::error::{Error, Result};

use super::{Db, db_error, now};

/// The schema version this crate writes. Migrations run in order from the database's version.
pub const SCHEMA_VERSION: i64 = 6;

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
    // 3: the provider each chunk went to, so that a routed run (one run id, several
    // providers) polls each job at its own provider and reports status per provider. NULL
    // for chunks recorded before: they belong to their run's provider.
    (3, &[ADD_CHUNK_PROVIDER]),
    // 4: a card's history across runs (Journal::history): what each result said the card
    // was before (masked), whether its brand changed, and an index to find a card's results.
    (
        4,
        &[
            "ALTER TABLE au_results ADD COLUMN IF NOT EXISTS old_card_masked TEXT",
            "ALTER TABLE au_results ADD COLUMN IF NOT EXISTS old_expiry TEXT",
            "ALTER TABLE au_results ADD COLUMN IF NOT EXISTS brand_changed BIGINT",
            "CREATE INDEX IF NOT EXISTS au_results_card ON au_results (card_id)",
        ],
    ),
    // 5: the operator's tools. Which card (masked number, or a digest of a token) each
    // chunk position held, so suppression can tell a new number from the one a stop result
    // was about; how often each result was delivered, and whether it was billable; the
    // cards a run suppressed, with the reason; the jobs a provider reported complete or
    // failed (a complete CardSync batch omits unchanged cards: their silence is not lateness).
    (
        5,
        &[
            "ALTER TABLE au_chunks ADD COLUMN IF NOT EXISTS card_masks TEXT",
            "ALTER TABLE au_results ADD COLUMN IF NOT EXISTS deliveries BIGINT",
            "ALTER TABLE au_results ADD COLUMN IF NOT EXISTS billable BIGINT",
            "CREATE TABLE IF NOT EXISTS au_suppressed (
            run_id TEXT NOT NULL,
            position BIGINT NOT NULL,
            card_id TEXT NOT NULL,
            reason TEXT NOT NULL,
            detail TEXT NOT NULL,
            PRIMARY KEY (run_id, position)
        )",
            "CREATE TABLE IF NOT EXISTS au_jobs (
            run_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            job_id TEXT NOT NULL,
            state TEXT NOT NULL,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (run_id, provider, job_id)
        )",
            // Results stored before: billable by the networks' rule as the library states it
            // (Outcome::is_billable) for the outcome names those versions wrote.
            "UPDATE au_results SET billable = CASE WHEN outcome IN ('new_account_number', 'new_expiry', 'closed', 'contact_cardholder', 'invalid_update') THEN 1 ELSE 0 END WHERE billable IS NULL",
        ],
    ),
    // 6: the collector. The provider's own reference for each card an accepted chunk placed
    // (a PayConex schedule record, an Acquired token), so a result that arrives with only that
    // reference, days later and outside any run, finds its run and its caller's id.
    (
        6,
        &[
            "CREATE TABLE IF NOT EXISTS au_card_refs (
            run_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            card_ref TEXT NOT NULL,
            card_id TEXT NOT NULL,
            PRIMARY KEY (run_id, provider, card_ref)
        )",
            "CREATE INDEX IF NOT EXISTS au_card_refs_by_ref ON au_card_refs (provider, card_ref)",
            "CREATE INDEX IF NOT EXISTS au_results_by_ref ON au_results (run_id, provider, card_ref)",
        ],
    ),
];

/// PostgreSQL skips an existing column itself; SQLite has no `IF NOT EXISTS` here, so for it
/// every `ALTER TABLE … ADD COLUMN IF NOT EXISTS` runs through [`add_sqlite_column`].
const ADD_CHUNK_PROVIDER: &str = "ALTER TABLE au_chunks ADD COLUMN IF NOT EXISTS provider TEXT";

/// `(table, column, type)` of an `ALTER TABLE t ADD COLUMN IF NOT EXISTS c TYPE` statement.
fn added_column(statement: &str) -> Option<(&str, &str, &str)> {
    match statement.split_whitespace().collect::<Vec<_>>().as_slice() {
        [
            "ALTER",
            "TABLE",
            table,
            "ADD",
            "COLUMN",
            "IF",
            "NOT",
            "EXISTS",
            column,
            kind,
        ] => Some((table, column, kind)),
        _ => None,
    }
}

/// PostgreSQL: everything in one transaction that first takes an advisory lock, so that workers
/// starting together on a new database migrate one after the other. Even `CREATE TABLE IF NOT
/// EXISTS` is not safe to run concurrently there: two sessions creating one table at once make
/// the second fail with a unique violation (23505) on the catalog, which is how two of three
/// workers started at the same moment used to die at start-up.
#[cfg(feature = "postgres")]
async fn migrate_postgres(pool: &sqlx::PgPool) -> Result<()> {
    let mut tx = pool.begin().await.map_err(db_error("migrate"))?;
    for statement in [
        "SELECT pg_advisory_xact_lock(4242001)",
        "CREATE TABLE IF NOT EXISTS au_schema_version (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    ] {
        sqlx::query(statement)
            .execute(&mut *tx)
            .await
            .map_err(db_error("migrate"))?;
    }
    let current: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM au_schema_version")
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error("migrate"))?;
    let current = current.unwrap_or(0);
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
        for statement in statements.iter() {
            sqlx::query(statement)
                .execute(&mut *tx)
                .await
                .map_err(db_error("migrate"))?;
        }
        sqlx::query(
            "INSERT INTO au_schema_version (version, applied_at) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING",
        )
        .bind(version)
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(db_error("migrate"))?;
    }
    tx.commit().await.map_err(db_error("migrate"))
}

async fn sqlite_has_column(pool: &sqlx::SqlitePool, table: &str, column: &str) -> Result<bool> {
    let rows: Vec<(String,)> =
        sqlx::query_as(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .fetch_all(pool)
            .await
            .map_err(db_error("migrate"))?;
    Ok(rows.iter().any(|(name,)| name == column))
}

/// Adds a nullable text column unless it is there: when two processes migrate one file at
/// once, the one whose `ALTER` fails because the other's went first finds the column and goes
/// on.
async fn add_sqlite_column(
    pool: &sqlx::SqlitePool,
    table: &str,
    column: &str,
    kind: &str,
) -> Result<()> {
    if sqlite_has_column(pool, table, column).await? {
        return Ok(());
    }
    let added = sqlx::query(&format!("ALTER TABLE {table} ADD COLUMN {column} {kind}"))
        .execute(pool)
        .await;
    match added {
        Ok(_) => Ok(()),
        Err(_) if sqlite_has_column(pool, table, column).await? => Ok(()),
        Err(e) => Err(db_error("migrate")(e)),
    }
}

impl Db {
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
        #[cfg(feature = "postgres")]
        if let Db::Postgres(pool) = self {
            return migrate_postgres(pool).await;
        }
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
        const RECORD: &str = "INSERT INTO au_schema_version (version, applied_at) VALUES (?, ?) ON CONFLICT (version) DO NOTHING";
        // SQLite: one transaction per migration (the migration, its record); the file's own
        // write lock serialises processes.
        macro_rules! apply {
            ($pool:expr, $first:expr, $record:expr, $version:expr, $statements:expr) => {{
                let mut tx = $pool.begin().await.map_err(db_error("migrate"))?;
                let first: Option<&str> = $first;
                for statement in first.iter().chain($statements.iter()) {
                    sqlx::query(statement)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error("migrate"))?;
                }
                sqlx::query($record)
                    .bind($version)
                    .bind(now())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error("migrate"))?;
                tx.commit().await.map_err(db_error("migrate"))?;
            }};
        }
        for (version, statements) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
            match self {
                Db::Sqlite(pool) if statements.iter().any(|s| added_column(s).is_some()) => {
                    for (table, column, kind) in statements.iter().filter_map(|s| added_column(s)) {
                        add_sqlite_column(pool, table, column, kind).await?;
                    }
                    let rest: Vec<&str> = statements
                        .iter()
                        .copied()
                        .filter(|s| added_column(s).is_none())
                        .collect();
                    apply!(pool, None, RECORD, version, rest)
                }
                Db::Sqlite(pool) => apply!(pool, None, RECORD, version, statements),
                #[cfg(feature = "postgres")]
                // Migrated in one locked transaction above.
                Db::Postgres(_) => unreachable!("PostgreSQL returned from migrate_postgres"),
            }
        }
        Ok(())
    }
}

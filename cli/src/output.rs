//! Output files: rejects, updates, and (only when asked) new card numbers in clear. Every file
//! is created readable and writable by its owner only: the rejects and updates hold customer
//! ids, and the reveal file holds card numbers.

use std::fs::{File, OpenOptions};
use std::io::BufWriter;
use std::path::Path;

use account_updater::{CardUpdate, ExposeSecret};
use account_updater_journal::StoredResult;

use crate::Failure;

/// Opens `path` for writing, created with mode 0600 (owner only) on Unix; an existing file is
/// truncated (`append: false`) or appended to, and its mode narrowed to 0600 either way.
pub fn owner_only(path: &Path, append: bool) -> Result<File, Failure> {
    let mut options = OpenOptions::new();
    options.write(true).create(true);
    if append {
        options.append(true);
    } else {
        options.truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options
        .open(path)
        .map_err(|e| Failure::error(format!("could not create {}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Failure::error(format!("could not restrict {}: {e}", path.display())))?;
    }
    Ok(file)
}

fn write_failed(path: &Path, e: impl std::fmt::Display) -> Failure {
    Failure::error(format!("could not write {}: {e}", path.display()))
}

/// The rejects CSV: `row,id,reason`, one line per refused input row (row = 1-based data row,
/// the header not counted). Written as rows are refused, flushed at the end.
pub struct RejectsFile {
    writer: csv::Writer<BufWriter<File>>,
    path: std::path::PathBuf,
    /// Rows written.
    pub count: u64,
}

impl RejectsFile {
    /// Creates (truncates) the file and writes its header.
    pub fn create(path: &Path) -> Result<Self, Failure> {
        let mut writer = csv::Writer::from_writer(BufWriter::new(owner_only(path, false)?));
        writer
            .write_record(["row", "id", "reason"])
            .map_err(|e| write_failed(path, e))?;
        Ok(RejectsFile {
            writer,
            path: path.to_owned(),
            count: 0,
        })
    }

    /// Creates (truncates) a suppressed-cards file: `row,id,reason,detail` (reason: the
    /// stable code, detail: in words).
    pub fn create_suppressed(path: &Path) -> Result<Self, Failure> {
        let mut writer = csv::Writer::from_writer(BufWriter::new(owner_only(path, false)?));
        writer
            .write_record(["row", "id", "reason", "detail"])
            .map_err(|e| write_failed(path, e))?;
        Ok(RejectsFile {
            writer,
            path: path.to_owned(),
            count: 0,
        })
    }

    /// One suppressed card, at its 1-based data row.
    pub fn suppress(
        &mut self,
        row: u64,
        id: &str,
        code: &str,
        detail: &str,
    ) -> Result<(), Failure> {
        let id: String = id.escape_debug().collect();
        self.writer
            .write_record([row.to_string().as_str(), &id, code, detail])
            .map_err(|e| write_failed(&self.path, e))?;
        self.count += 1;
        Ok(())
    }

    /// One refused row. The id is written escaped if it holds control characters; the reason
    /// comes from the library's redacted errors or names the problem (never the card number).
    pub fn reject(&mut self, row: u64, id: &str, reason: &str) -> Result<(), Failure> {
        let id: String = id.escape_debug().collect();
        self.writer
            .write_record([row.to_string().as_str(), &id, reason])
            .map_err(|e| write_failed(&self.path, e))?;
        self.count += 1;
        Ok(())
    }

    /// Flushes it to disk.
    pub fn finish(&mut self) -> Result<(), Failure> {
        self.writer.flush().map_err(|e| write_failed(&self.path, e))
    }
}

/// The updates CSV columns.
pub const UPDATE_COLUMNS: [&str; 6] = [
    "id",
    "provider",
    "outcome",
    "raw_code",
    "new_expiry",
    "new_card_masked",
];

/// Appends the journal's results not yet exported (or all, with `all`) to the updates CSV at
/// `path`, writing the header when the file is new; marks them exported. Returns how many
/// rows it wrote.
pub async fn export_updates(
    journal: &account_updater_journal::Journal,
    run_id: &str,
    path: &Path,
    all: bool,
) -> Result<u64, Failure> {
    let fresh = std::fs::metadata(path)
        .map(|m| m.len() == 0)
        .unwrap_or(true);
    let mut writer = csv::Writer::from_writer(BufWriter::new(owner_only(path, !all)?));
    if fresh || all {
        writer
            .write_record(UPDATE_COLUMNS)
            .map_err(|e| write_failed(path, e))?;
    }
    let report = journal
        .export(run_id, all, 5_000, |page: &[StoredResult]| {
            for r in page {
                writer.write_record([
                    r.card_id.as_deref().unwrap_or(""),
                    &r.provider,
                    &r.outcome,
                    &r.raw_code,
                    r.new_expiry.as_deref().unwrap_or(""),
                    r.new_card_masked.as_deref().unwrap_or(""),
                ])?;
            }
            // Durable before the journal marks the page exported.
            writer.flush()?;
            writer.get_ref().get_ref().sync_data()?;
            Ok::<(), csv::Error>(())
        })
        .await?;
    Ok(report.exported)
}

/// New card numbers in clear, for an operator who asked for them: `id,new_card_number,
/// new_expiry`, owner-only. Rewritten by each invocation that collects results (each one
/// fetches every job's results again, so the file is complete).
pub struct RevealFile {
    writer: csv::Writer<BufWriter<File>>,
    path: std::path::PathBuf,
    seen: std::collections::HashSet<String>,
    /// Numbers written.
    pub count: u64,
}

impl RevealFile {
    /// Creates (truncates) it, owner-only.
    pub fn create(path: &Path) -> Result<Self, Failure> {
        let mut writer = csv::Writer::from_writer(BufWriter::new(owner_only(path, false)?));
        writer
            .write_record(["id", "new_card_number", "new_expiry"])
            .map_err(|e| write_failed(path, e))?;
        Ok(RevealFile {
            writer,
            path: path.to_owned(),
            seen: Default::default(),
            count: 0,
        })
    }

    /// Writes each update that carries a new number, once per result.
    pub fn write(&mut self, updates: &[CardUpdate]) -> Result<(), Failure> {
        for u in updates {
            let Some(card) = &u.new_card else { continue };
            if !self.seen.insert(account_updater_journal::result_id(u)) {
                continue;
            }
            self.writer
                .write_record([
                    u.card_id.as_deref().unwrap_or(""),
                    card.expose_secret(),
                    &u.new_expiry.map(|e| e.to_string()).unwrap_or_default(),
                ])
                .map_err(|e| write_failed(&self.path, e))?;
            self.count += 1;
        }
        Ok(())
    }

    /// Flushes it to disk.
    pub fn finish(&mut self) -> Result<(), Failure> {
        self.writer.flush().map_err(|e| write_failed(&self.path, e))
    }
}

//! Apply once: new results go to the operator's sinks, and are marked applied in the journal
//! only when every sink took them.
//!
//! - **The updates file** (`updates`): one CSV row per result, appended and synced to disk
//!   before the journal marks it. Its first column is the result's stable id, and the ids
//!   already in the file are read when the collector starts, so a result written just before
//!   a crash (and so not yet marked) is not written again: exactly once in the file.
//! - **The apply command** (`apply_command`): each batch as JSON lines on its standard input
//!   (one object a result, with `result_id`); the batch is marked applied only when the
//!   command exits 0, and handed over again (with backoff) otherwise. A crash between the
//!   command's success and the mark (a few milliseconds) hands that batch over once more:
//!   the `result_id` of each line lets the command recognise it.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use account_updater_journal::{Journal, StoredResult};

use super::config::ServeSettings;
use super::metrics::Metrics;
use crate::Failure;
use crate::output::owner_only;

/// The updates file's columns.
pub const COLUMNS: [&str; 9] = [
    "result_id",
    "run",
    "id",
    "provider",
    "outcome",
    "raw_code",
    "new_expiry",
    "new_card_masked",
    "card_ref",
];

/// The longest wait after failed hand-overs.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// The updates file, with the ids it already holds.
struct UpdatesFile {
    path: PathBuf,
    writer: csv::Writer<BufWriter<File>>,
    written: HashSet<String>,
}

impl UpdatesFile {
    /// Opens (creating, owner-only) `path` for appending, reading the result ids it holds.
    fn open(path: &Path) -> Result<Self, Failure> {
        let mut written = HashSet::new();
        let fresh = std::fs::metadata(path)
            .map(|m| m.len() == 0)
            .unwrap_or(true);
        if !fresh {
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .from_path(path)
                .map_err(|e| Failure::error(format!("could not read {}: {e}", path.display())))?;
            let header = reader
                .headers()
                .map_err(|e| Failure::error(format!("could not read {}: {e}", path.display())))?;
            if header.get(0) != Some(COLUMNS[0]) {
                return Err(Failure::error(format!(
                    "{} is not a collector's updates file (its first column is not result_id)",
                    path.display()
                )));
            }
            let mut last = None;
            for record in reader.records() {
                match record {
                    Ok(r) if r.len() == COLUMNS.len() => {
                        written.insert(r[0].to_owned());
                        last = Some(r[0].to_owned());
                    }
                    _ => last = None,
                }
            }
            // A last row cut short by a crash mid-write (no newline after it) is not whole:
            // its result is written again (the journal never marked it).
            let whole = std::fs::read(path)
                .map(|b| b.last() == Some(&b'\n'))
                .unwrap_or(true);
            if let (false, Some(id)) = (whole, last) {
                written.remove(&id);
            }
        }
        let mut file = owner_only(path, true)?;
        let failed =
            |e: std::io::Error| Failure::error(format!("could not write {}: {e}", path.display()));
        // A row cut short by a crash: the next one starts on a line of its own.
        if !fresh
            && std::fs::read(path)
                .map(|b| b.last() != Some(&b'\n'))
                .unwrap_or(false)
        {
            file.write_all(b"\n").map_err(failed)?;
        }
        let mut writer = csv::Writer::from_writer(BufWriter::new(file));
        if fresh {
            writer
                .write_record(COLUMNS)
                .map_err(|e| Failure::error(format!("could not write {}: {e}", path.display())))?;
        }
        Ok(UpdatesFile {
            path: path.to_owned(),
            writer,
            written,
        })
    }

    /// Appends the page's results not yet in the file; durable before it returns.
    fn write(&mut self, run_id: &str, page: &[StoredResult]) -> Result<u64, String> {
        let mut n = 0;
        for r in page {
            if self.written.contains(&r.result_id) {
                continue;
            }
            self.writer
                .write_record([
                    r.result_id.as_str(),
                    run_id,
                    r.card_id.as_deref().unwrap_or(""),
                    &r.provider,
                    &r.outcome,
                    &r.raw_code,
                    r.new_expiry.as_deref().unwrap_or(""),
                    r.new_card_masked.as_deref().unwrap_or(""),
                    r.card_ref.as_deref().unwrap_or(""),
                ])
                .map_err(|e| format!("could not write {}: {e}", self.path.display()))?;
            n += 1;
        }
        self.writer
            .flush()
            .and_then(|()| self.writer.get_ref().get_ref().sync_data())
            .map_err(|e| format!("could not write {}: {e}", self.path.display()))?;
        self.written
            .extend(page.iter().map(|r| r.result_id.clone()));
        Ok(n)
    }
}

/// One result as a JSON line for the apply command.
fn json_line(run_id: &str, r: &StoredResult) -> String {
    serde_json::json!({
        "result_id": r.result_id,
        "run_id": run_id,
        "card_id": r.card_id,
        "provider": r.provider,
        "card_ref": r.card_ref,
        "outcome": r.outcome,
        "raw_code": r.raw_code,
        "new_expiry": r.new_expiry,
        "new_card_masked": r.new_card_masked,
        "received_at": r.received_at,
    })
    .to_string()
}

/// Runs the apply command with the page on its standard input; `Ok` only when it exits 0.
fn run_command(argv: &[String], run_id: &str, page: &[StoredResult]) -> Result<(), String> {
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        // The collector's own stdout is its operator's; the command's diagnostics go to stderr.
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .env("ACCOUNT_UPDATER_RUN", run_id)
        .spawn()
        .map_err(|e| format!("could not start the apply command: {e}"))?;
    let mut input = String::with_capacity(page.len() * 256);
    for r in page {
        input.push_str(&json_line(run_id, r));
        input.push('\n');
    }
    let written = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(input.as_bytes()))
        .unwrap_or(Ok(()));
    let status = child
        .wait()
        .map_err(|e| format!("the apply command: {e}"))?;
    written.map_err(|e| format!("could not write to the apply command: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the apply command exited with {status}"))
    }
}

/// The sinks and their state.
pub struct Applier {
    journal: Journal,
    metrics: Arc<Metrics>,
    file: Option<UpdatesFile>,
    command: Option<Vec<String>>,
    batch: usize,
    /// How long to wait before the next pass.
    pub wait: Duration,
    every: Duration,
}

impl Applier {
    /// Opens the updates file (reading the ids it holds) and keeps the command.
    pub fn new(
        journal: Journal,
        metrics: Arc<Metrics>,
        settings: &ServeSettings,
    ) -> Result<Self, Failure> {
        Ok(Applier {
            journal,
            metrics,
            file: settings
                .updates
                .as_deref()
                .map(UpdatesFile::open)
                .transpose()?,
            command: settings.apply_command.clone(),
            batch: settings.apply_batch,
            wait: settings.apply_every,
            every: settings.apply_every,
        })
    }

    /// Whether there is any sink.
    pub fn has_sinks(&self) -> bool {
        self.file.is_some() || self.command.is_some()
    }

    /// One pass: every run's unapplied results to the sinks, a batch at a time. Blocking
    /// (files and the command): run it where blocking is allowed. A failure stops the pass
    /// (what was handed over before it is marked) and lengthens the wait before the next.
    pub fn pass(&mut self, runtime: &tokio::runtime::Handle) {
        if !self.has_sinks() {
            return;
        }
        let runs = match runtime.block_on(self.journal.runs()) {
            Ok(runs) => runs,
            Err(e) => {
                tracing::warn!(error = %e, "apply: could not read the runs");
                self.wait = (self.wait * 2).min(MAX_BACKOFF);
                return;
            }
        };
        for run in runs {
            let run_id = run.run_id.as_str();
            let Applier {
                journal,
                metrics,
                file,
                command,
                batch,
                ..
            } = self;
            let mut failed_sink = None;
            let exported = runtime.block_on(journal.export(run_id, false, *batch, |page| {
                if let Some(file) = file.as_mut() {
                    match file.write(run_id, page) {
                        Ok(n) => metrics.applied.with_label_values(&["file"]).inc_by(n),
                        Err(e) => {
                            failed_sink = Some("file");
                            return Err(e);
                        }
                    }
                }
                if let Some(argv) = command.as_deref() {
                    if let Err(e) = run_command(argv, run_id, page) {
                        failed_sink = Some("command");
                        return Err(e);
                    }
                    metrics
                        .applied
                        .with_label_values(&["command"])
                        .inc_by(page.len() as u64);
                }
                Ok::<(), String>(())
            }));
            match exported {
                Ok(report) => {
                    if report.marked > 0 {
                        tracing::info!(run = run_id, applied = report.marked, "results applied");
                    }
                }
                Err(e) => {
                    let sink = failed_sink.unwrap_or("journal");
                    self.metrics.apply_failures.with_label_values(&[sink]).inc();
                    self.wait = (self.wait * 2).min(MAX_BACKOFF);
                    tracing::warn!(run = run_id, sink, error = %e, retry_in = ?self.wait, "apply failed");
                    return;
                }
            }
        }
        self.wait = self.every;
        self.metrics.apply_passes.inc();
    }
}

//! The input CSV, read lazily: each row becomes a card as its chunk is prepared, so a
//! million-row file is never held in memory. A row that cannot become a card is written to the
//! rejects file with its reason; rows the provider's rules refuse are reported by the
//! submission and written there too, at their row number.

use std::fs::File;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use account_updater::provider::CardToUpdate;
use account_updater::{CardNumber, Expiry, ExpiryFormat, ProviderId};

use crate::Failure;
use crate::output::RejectsFile;

/// Where each column is, by header name (case and surrounding spaces ignored).
#[derive(Debug, Clone, Copy)]
struct Columns {
    id: usize,
    number: Option<usize>,
    expiry: Option<usize>,
    token: Option<usize>,
    token_provider: Option<usize>,
    se_number: Option<usize>,
    tag: Option<usize>,
}

impl Columns {
    fn from_header(header: &csv::StringRecord) -> Result<Self, Failure> {
        let find = |names: &[&str]| {
            header
                .iter()
                .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
        };
        let columns = Columns {
            id: find(&["id"]).ok_or_else(|| {
                Failure::error("the input's header has no `id` column (expected: id, card_number, expiry, token, amex_se_number)")
            })?,
            number: find(&["card_number", "number", "pan"]),
            expiry: find(&["expiry", "exp", "expiration"]),
            token: find(&["token"]),
            token_provider: find(&["token_provider"]),
            se_number: find(&["amex_se_number", "se_number"]),
            tag: find(&["route", "tag"]),
        };
        if columns.number.is_none() && columns.token.is_none() {
            return Err(Failure::error(
                "the input's header has neither a `card_number` nor a `token` column",
            ));
        }
        Ok(columns)
    }

    /// The row as a card, or why it cannot be one (the id, if any, for the rejects file).
    /// A token's issuer is the row's `token_provider`, or `default_issuer` (the provider the
    /// run is for) when the column is absent or empty.
    fn card(
        &self,
        row: &csv::StringRecord,
        default_issuer: ProviderId,
    ) -> Result<CardToUpdate, (String, String)> {
        let get = |i: Option<usize>| i.and_then(|i| row.get(i)).unwrap_or("");
        let id = get(Some(self.id)).to_owned();
        let number = get(self.number);
        let token = get(self.token);
        let expiry = match get(self.expiry) {
            "" => None,
            text => Some(parse_expiry(text).map_err(|reason| (id.clone(), reason))?),
        };
        let mut card = match (number.is_empty(), token.is_empty()) {
            (false, false) => {
                return Err((id, "the row has both a card number and a token".into()));
            }
            (true, true) => {
                return Err((id, "the row has neither a card number nor a token".into()));
            }
            (false, true) => {
                let number = CardNumber::parse(number).map_err(|e| (id.clone(), e.to_string()))?;
                let Some(expiry) = expiry else {
                    return Err((id, "a card number needs an expiry".into()));
                };
                CardToUpdate::pan(id, number, expiry)
            }
            (true, false) => {
                let issuer = match get(self.token_provider).trim() {
                    "" if default_issuer == account_updater::routing::ROUTED => {
                        return Err((
                            id,
                            "a token needs its token_provider column (the provider that issued it) in a routed run".into(),
                        ));
                    }
                    "" => default_issuer,
                    name => ProviderId::named(name).ok_or_else(|| {
                        (
                            id.clone(),
                            format!("token_provider: `{name}` is not a provider name"),
                        )
                    })?,
                };
                let card = CardToUpdate::token(id, issuer, token);
                match expiry {
                    Some(e) => card.with_expiry(e),
                    None => card,
                }
            }
        };
        let se = get(self.se_number);
        if !se.is_empty() {
            card = card.with_amex_se_number(se);
        }
        let tag = get(self.tag).trim();
        if !tag.is_empty() {
            card = card.with_tag(tag);
        }
        Ok(card)
    }
}

/// `MM/YY`, `MM/YYYY` or `MMYY`.
fn parse_expiry(text: &str) -> Result<Expiry, String> {
    let parsed = match text.split_once('/') {
        Some((m, y)) if y.len() == 4 => Expiry::parse(&format!("{m}{y}"), ExpiryFormat::Mmyyyy),
        Some(_) => Expiry::parse(text, ExpiryFormat::MmSlashYy),
        None => Expiry::parse(text, ExpiryFormat::Mmyy),
    };
    parsed.map_err(|e| format!("expiry: {e} (expected MM/YY, MM/YYYY or MMYY)"))
}

/// What the reader and the run's observer share: the rejects file (none for a plan, which
/// only counts), the suppressed-cards file, and which data rows were not handed to the
/// submission (refused by the reader, or suppressed), so a submission position maps back to
/// its row.
pub struct RejectLog {
    file: Option<RejectsFile>,
    suppressed_file: Option<RejectsFile>,
    /// 0-based data rows the reader refused, ascending.
    skipped_rows: Vec<u64>,
    /// 0-based data rows not handed to the submission (refused or suppressed), ascending.
    unsent_rows: Vec<u64>,
    /// Rows refused, per reason (the reasons name the rule broken, never the card).
    pub reasons: std::collections::BTreeMap<String, u64>,
    /// Rows refused.
    count: u64,
    /// Rows suppressed.
    suppressed: u64,
    /// The first write error, reported when the run ends.
    pub error: Option<Failure>,
    /// An error reading the input, which stopped the reading there.
    pub read_error: Option<String>,
}

impl RejectLog {
    /// The 1-based data row of the card at submission `position`.
    pub fn row_of(&self, position: u64) -> u64 {
        nth_row(&self.unsent_rows, position) + 1
    }

    /// Records a row the reader refused (0-based, ascending).
    fn skip_row(&mut self, row: u64) {
        self.skipped_rows.push(row);
        self.unsent_rows.push(row);
    }

    /// Writes a refused row (1-based).
    pub fn reject(&mut self, row: u64, id: &str, reason: &str) {
        self.count += 1;
        *self.reasons.entry(reason.to_owned()).or_default() += 1;
        if let Some(file) = self.file.as_mut() {
            if let Err(e) = file.reject(row, id, reason) {
                self.error.get_or_insert(e);
            }
        }
    }

    /// Writes a suppressed card: `input_index` counts the cards the reader handed over.
    pub fn suppress(&mut self, input_index: u64, id: &str, code: &str, detail: &str) {
        // The row, counting the rows the reader refused before it; then the row itself is
        // skipped for the submission's positions.
        let row = nth_row(&self.skipped_rows, input_index);
        let at = self.unsent_rows.partition_point(|&r| r < row);
        self.unsent_rows.insert(at, row);
        self.suppressed += 1;
        if let Some(file) = self.suppressed_file.as_mut() {
            if let Err(e) = file.suppress(row + 1, id, code, detail) {
                self.error.get_or_insert(e);
            }
        }
    }

    /// Rows refused.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Cards suppressed.
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }

    /// Flushes the files; the first error seen, if any.
    pub fn finish(&mut self) -> Result<(), Failure> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        for file in [self.file.as_mut(), self.suppressed_file.as_mut()]
            .into_iter()
            .flatten()
        {
            file.finish()?;
        }
        Ok(())
    }
}

/// The 0-based row of the `k`-th (0-based) row not in `skipped` (ascending).
fn nth_row(skipped: &[u64], k: u64) -> u64 {
    let mut row = k;
    for &skipped in skipped {
        if skipped <= row {
            row += 1;
        } else {
            break;
        }
    }
    row
}

/// A shared [`RejectLog`].
#[derive(Clone)]
pub struct SharedRejects(Arc<Mutex<RejectLog>>);

impl SharedRejects {
    /// A log writing to a new rejects file at `path` and suppressed cards to `suppressed`.
    pub fn create(path: &Path, suppressed: &Path) -> Result<Self, Failure> {
        Ok(Self::with(
            Some(RejectsFile::create(path)?),
            Some(RejectsFile::create_suppressed(suppressed)?),
        ))
    }

    /// A log that only counts (a plan writes no file).
    pub fn counting() -> Self {
        Self::with(None, None)
    }

    fn with(file: Option<RejectsFile>, suppressed_file: Option<RejectsFile>) -> Self {
        SharedRejects(Arc::new(Mutex::new(RejectLog {
            file,
            suppressed_file,
            skipped_rows: Vec::new(),
            unsent_rows: Vec::new(),
            reasons: Default::default(),
            count: 0,
            suppressed: 0,
            error: None,
            read_error: None,
        })))
    }

    /// The log (a panic elsewhere does not make it unusable).
    pub fn lock(&self) -> MutexGuard<'_, RejectLog> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn reader(path: &Path) -> Result<csv::Reader<File>, Failure> {
    csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(path)
        .map_err(|e| Failure::error(format!("could not open {}: {e}", path.display())))
}

/// How many data rows the file holds (for the progress bar's length).
pub fn count_rows(path: &Path) -> Result<u64, Failure> {
    let mut rows = 0;
    let mut record = csv::ByteRecord::new();
    let mut reader = reader(path)?;
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| Failure::error(format!("could not read {}: {e}", path.display())))?
    {
        rows += 1;
    }
    Ok(rows)
}

/// The file's cards, read as they are pulled. `on_skip` is called for each row refused here.
pub struct CsvCards {
    reader: csv::Reader<File>,
    record: csv::StringRecord,
    columns: Columns,
    row: u64,
    /// The issuer of tokens whose row names none (the provider the run is for).
    default_issuer: ProviderId,
    rejects: SharedRejects,
    on_skip: Box<dyn FnMut() + Send>,
}

impl CsvCards {
    /// Opens `path` and reads its header.
    pub fn open(
        path: &Path,
        default_issuer: ProviderId,
        rejects: SharedRejects,
        on_skip: Box<dyn FnMut() + Send>,
    ) -> Result<Self, Failure> {
        let mut reader = reader(path)?;
        let header = reader
            .headers()
            .map_err(|e| {
                Failure::error(format!(
                    "could not read the header of {}: {e}",
                    path.display()
                ))
            })?
            .clone();
        Ok(CsvCards {
            columns: Columns::from_header(&header)?,
            reader,
            record: csv::StringRecord::new(),
            row: 0,
            default_issuer,
            rejects,
            on_skip,
        })
    }
}

impl Iterator for CsvCards {
    type Item = CardToUpdate;

    fn next(&mut self) -> Option<CardToUpdate> {
        loop {
            let row = self.row;
            match self.reader.read_record(&mut self.record) {
                Ok(false) => return None,
                Ok(true) => {}
                Err(e) if e.is_io_error() => {
                    // Stop reading: the run must not look complete.
                    self.rejects.lock().read_error = Some(format!("row {}: {e}", row + 1));
                    return None;
                }
                Err(e) => {
                    // A malformed row (bad UTF-8, say): refused, the reading goes on.
                    self.row += 1;
                    let mut log = self.rejects.lock();
                    log.skip_row(row);
                    log.reject(row + 1, "", &format!("unreadable row: {e}"));
                    drop(log);
                    (self.on_skip)();
                    continue;
                }
            }
            self.row += 1;
            match self.columns.card(&self.record, self.default_issuer) {
                Ok(card) => return Some(card),
                Err((id, reason)) => {
                    let mut log = self.rejects.lock();
                    log.skip_row(row);
                    log.reject(row + 1, &id, &reason);
                    drop(log);
                    (self.on_skip)();
                }
            }
        }
    }
}

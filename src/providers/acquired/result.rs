//! What an `account_updater` webhook says about the card, under every plausible reading.
//!
//! Acquired documents the event (the result of an `ACCOUNT_UPDATER` request, or of its own
//! automatic checks) and, on its testing page, the answers per test card: a status (1 card
//! data updated, 2 not updated) and the scheme's code (a Visa VAU letter, or a Mastercard
//! response indicator with its reason identifier). It does **not** publish the names of the
//! fields that carry them. So the crate reads the codes from the field names a webhook of
//! Acquired's could plausibly use, and ties every value to [`crate::codes::CODE_TABLE`]:
//!
//! - **Where**: the top level and any object one level down (`{"account_updater": {…}}`,
//!   `{"data": {…}}`), under these names only (case-insensitive): [`STATUS_FIELDS`] for the
//!   status, [`CODE_FIELDS`] for codes. Acquired's own `response_code` (`1` success, `11`
//!   pending…) is numeric and is never read as a status. Other fields are never read, even when
//!   their value looks like a code (an auth answer's `cvvresult: "N"` is not Visa N).
//! - **What**: a value is a code only by its shape in the table: one letter (Visa VAU /
//!   Mastercard response indicator: the letters the two share mean the same), a Mastercard
//!   reason identifier (`UPDATE`, `EXPIRY`, `CONTAC`, `VALID`, `UNKNWN`), a Real Time VAU code
//!   (`VAU001`…), or an updater status word (`updated_card`, `closed`, …). Anything else is kept
//!   in the raw code and ignored.
//! - **Agreement**: every code found must agree (a reason identifier with its indicator, the
//!   status with the outcome: 1 exactly when the card data changed). Codes that disagree, a
//!   status alone, or no code at all leave the outcome [`Outcome::Unknown`] with the raw values:
//!   the crate never guesses.
//!
//! The new expiry (and a new card number, when a webhook carries one in full) is filled in
//! from the fields in [`EXPIRY_FIELDS`] and [`NUMBER_FIELDS`]; Acquired updates the token in
//! place, so the token stays the card's reference. None of these fields is covered by the
//! webhook's hash: [`crate::WebhookEvent::unauthenticated_fields`] lists them.

use crate::card::{Expiry, ExpiryFormat};
use crate::codes::{self, CodeScheme};
use crate::outcome::{CardUpdate, Outcome};

/// Field names read as the updater status (1 updated, 2 not updated).
pub const STATUS_FIELDS: [&str; 4] = [
    "status",
    "update_status",
    "account_updater_status",
    "updater_status",
];

/// Field names read as a scheme code or an updater status word.
pub const CODE_FIELDS: [&str; 16] = [
    "response_code",
    "response_indicator",
    "reason_identifier",
    "reason_code",
    "vau_response_code",
    "abu_response_indicator",
    "abu_reason_identifier",
    "scheme_response_code",
    "network_response_code",
    "update_code",
    "update_result",
    "update_type",
    "result_code",
    "result",
    "account_update_status",
    "account_update_failure_code",
];

/// Field names read as the new expiry (`MMYYYY` as Acquired's `cardexp`, or `MMYY`, `MM/YY`).
pub const EXPIRY_FIELDS: [&str; 6] = [
    "cardexp",
    "new_cardexp",
    "card_exp",
    "expdate",
    "new_expiry",
    "expiry",
];

/// Field names read as a new card number, when the value is all digits (a masked number or
/// last four digits are not read).
pub const NUMBER_FIELDS: [&str; 4] = ["cardnumber", "new_cardnumber", "card_number", "pan"];

/// Masks every card number the event carries under [`NUMBER_FIELDS`] (top level and one
/// object down) in place, so that the event's `raw` payload, which `Debug` prints, holds at
/// most the first six and last four digits. The clear digits are zeroed as they are dropped.
/// Run after [`read_result`] has taken what it needs.
pub(super) fn mask_card_numbers(raw: &mut serde_json::Value) {
    fn mask_in(object: &mut serde_json::Map<String, serde_json::Value>) {
        for (key, value) in object.iter_mut() {
            if !NUMBER_FIELDS.contains(&key.to_ascii_lowercase().as_str()) {
                continue;
            }
            let serde_json::Value::String(text) = value else {
                continue;
            };
            if text.bytes().filter(u8::is_ascii_digit).count() < 10 {
                continue; // already masked, or last four
            }
            let clear = secrecy::SecretString::from(std::mem::take(text));
            let masked =
                crate::card::CardNumber::parse(secrecy::ExposeSecret::expose_secret(&clear))
                    .map(|c| c.masked())
                    .unwrap_or_else(|_| "[redacted]".to_owned());
            *text = masked;
        }
    }
    let Some(top) = raw.as_object_mut() else {
        return;
    };
    mask_in(top);
    for value in top.values_mut() {
        if let Some(inner) = value.as_object_mut() {
            mask_in(inner);
        }
    }
}

/// One code value found, with where it was.
struct Found {
    path: String,
    value: String,
    is_status: bool,
}

/// A code's reading: the outcome, and whether it is a Mastercard brand change.
#[derive(Clone, PartialEq)]
enum Reading {
    Outcome(Outcome, bool),
    /// `UNKNWN`: no match, participating or not (the indicator decides).
    NotFound,
    /// `UPDATE`: a new number (R) or a brand change (B).
    Updated,
}

/// Fills in `update` (outcome, raw code, new data) from the event's fields.
pub(super) fn read_result(raw: &serde_json::Value, update: &mut CardUpdate) {
    let mut found = collect(raw);
    // By field path, so the raw code reads the same whatever order the JSON map keeps.
    found.sort_by(|a, b| a.path.cmp(&b.path));
    update.raw_code = found
        .iter()
        .map(|f| format!("{}={}", f.path, f.value))
        .collect::<Vec<_>>()
        .join(";");
    let (outcome, brand_change) = match decide(&found) {
        Some(decided) => decided,
        None => (Outcome::Unknown(update.raw_code.clone()), false),
    };
    update.outcome = outcome;
    update.brand_changed = brand_change;
    if update.outcome.has_new_card_data() {
        update.new_expiry = first_text(raw, &EXPIRY_FIELDS).and_then(|e| parse_expiry(&e));
        if let Some(digits) = first_text(raw, &NUMBER_FIELDS)
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        {
            update.offer_new_number(digits);
        }
    }
}

/// The code values under the names above, at the top level and one object down.
fn collect(raw: &serde_json::Value) -> Vec<Found> {
    let mut found = Vec::new();
    let Some(top) = raw.as_object() else {
        return found;
    };
    let mut visit = |prefix: &str, object: &serde_json::Map<String, serde_json::Value>| {
        for (key, value) in object {
            let name = key.to_ascii_lowercase();
            let is_status = STATUS_FIELDS.contains(&name.as_str());
            if !is_status && !CODE_FIELDS.contains(&name.as_str()) {
                continue;
            }
            let Some(value) = scalar(value) else { continue };
            found.push(Found {
                path: format!("{prefix}{key}"),
                value,
                is_status,
            });
        }
    };
    visit("", top);
    for (key, value) in top {
        if let Some(inner) = value.as_object() {
            visit(&format!("{key}."), inner);
        }
    }
    found
}

/// The outcome the found codes agree on, if they do.
fn decide(found: &[Found]) -> Option<(Outcome, bool)> {
    let mut status = None;
    let mut readings = Vec::new();
    for f in found {
        let value = f.value.trim();
        if f.is_status && matches!(value, "1" | "2") {
            if status
                .replace(value == "1")
                .is_some_and(|s| s != (value == "1"))
            {
                return None;
            }
            continue;
        }
        if let Some(reading) = reading_of(value) {
            readings.push(reading);
        }
    }
    let mut decided: Option<(Outcome, bool)> = None;
    for reading in &readings {
        if let Reading::Outcome(outcome, brand) = reading {
            match &decided {
                None => decided = Some((outcome.clone(), *brand)),
                Some((o, b)) if o == outcome => decided = Some((o.clone(), *b || *brand)),
                Some(_) => return None,
            }
        }
    }
    // The reason identifiers must fit the indicator; alone, they say what the table says.
    for reading in &readings {
        let fits = match (reading, &decided) {
            (Reading::Outcome(..), _) => true,
            (Reading::NotFound, Some((o, _))) => {
                matches!(o, Outcome::NoMatch | Outcome::NonParticipating)
            }
            (Reading::Updated, Some((o, _))) => *o == Outcome::NewAccountNumber,
            (Reading::NotFound, None) => {
                decided = Some((Outcome::NoMatch, false));
                true
            }
            (Reading::Updated, None) => {
                decided = Some((Outcome::NewAccountNumber, false));
                true
            }
        };
        if !fits {
            return None;
        }
    }
    let decided = decided?;
    // Acquired's status: 1 exactly when the card data was updated.
    if status.is_some_and(|updated| updated != decided.0.has_new_card_data()) {
        return None;
    }
    Some(decided)
}

/// What one value means by the table, if it is a documented code.
fn reading_of(value: &str) -> Option<Reading> {
    if value.is_empty() {
        // CardSync's empty status means valid; an empty field here says nothing.
        return None;
    }
    if value.eq_ignore_ascii_case("UNKNWN") {
        return Some(Reading::NotFound);
    }
    if value.eq_ignore_ascii_case("UPDATE") {
        return Some(Reading::Updated);
    }
    let schemes: &[CodeScheme] = if value.len() == 1 {
        &[CodeScheme::VisaVau, CodeScheme::MastercardResponse]
    } else if value.len() == 6
        && value
            .get(..3)
            .is_some_and(|p| p.eq_ignore_ascii_case("VAU"))
    {
        &[CodeScheme::VisaRealTimeVau]
    } else {
        &[CodeScheme::MastercardReason, CodeScheme::CardSyncStatus]
    };
    schemes
        .iter()
        .find_map(|s| codes::lookup(*s, value))
        .map(|row| Reading::Outcome(row.outcome.clone(), row.brand_change))
}

/// A string or number as text.
fn scalar(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The first of `names` present as text, at the top level or one object down.
fn first_text(raw: &serde_json::Value, names: &[&str]) -> Option<String> {
    let top = raw.as_object()?;
    let find = |object: &serde_json::Map<String, serde_json::Value>| {
        object
            .iter()
            .find(|(k, _)| names.contains(&k.to_ascii_lowercase().as_str()))
            .and_then(|(_, v)| scalar(v))
    };
    find(top).or_else(|| top.values().filter_map(|v| v.as_object()).find_map(find))
}

/// An expiry in the layouts Acquired uses (`cardexp` is `MMYYYY`) or could: `MMYY`, `MM/YY`.
fn parse_expiry(text: &str) -> Option<Expiry> {
    let format = match text.len() {
        6 => ExpiryFormat::Mmyyyy,
        5 => ExpiryFormat::MmSlashYy,
        4 => ExpiryFormat::Mmyy,
        _ => return None,
    };
    Expiry::parse(text, format).ok()
}

//! The published mapping from every documented updater code to an [`Outcome`].
//!
//! One table, [`CODE_TABLE`], holds every code the crate knows: the networks' own answers
//! (Visa VAU response letters, Real Time VAU failure codes, Mastercard ABU response indicators
//! and reason identifiers, Mastercard push reasons), the status words PayConex and CardSync
//! send, and the status / code pairs Acquired's testing page documents. Each row names the
//! document it comes from. The providers map through [`lookup`], so a code is mapped the same
//! way wherever it arrives, and a test walks the table: no documented code maps to
//! [`Outcome::Unknown`].
//!
//! Two traps the table settles:
//! - Mastercard's reason identifier `CONTAC` means the account is **closed** (the response
//!   indicator that comes with it is C), not "contact the cardholder".
//! - CardSync documents that "some card inquiries do not result in any status type. This
//!   generally means the card is valid": the empty status is [`Outcome::Valid`].
//!
//! ```
//! use account_updater::codes::{self, CodeScheme};
//! use account_updater::Outcome;
//!
//! let row = codes::lookup(CodeScheme::MastercardReason, "CONTAC").unwrap();
//! assert_eq!(row.outcome, Outcome::Closed);
//! assert_eq!(codes::outcome(CodeScheme::VisaVau, "N"), Outcome::NonParticipating);
//! // An undocumented code stays unknown, with its raw value.
//! assert_eq!(codes::outcome(CodeScheme::VisaVau, "Z"), Outcome::Unknown("Z".into()));
//! ```

use std::borrow::Cow;
use std::fmt;

use crate::outcome::Outcome;

/// Which vocabulary a code belongs to: the same letter means different things in different
/// vocabularies (Visa `C` is closed; the vendors' `contact` is not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodeScheme {
    /// Visa Account Updater response codes (A E C Q V P N O).
    VisaVau,
    /// Visa Real Time VAU failure codes (`VAU001`–`VAU016`), sent with an update that failed.
    VisaRealTimeVau,
    /// Mastercard Automatic Billing Updater response indicators (R B E C V P N).
    MastercardResponse,
    /// Mastercard ABU reason identifiers (`UPDATE`, `EXPIRY`, `CONTAC`, `VALID`, `UNKNWN`).
    MastercardReason,
    /// Mastercard ABU push (issuer-initiated) reason codes (A E C).
    MastercardPush,
    /// PayConex Account Updater v4 `AccountUpdaterStatuses`.
    PayConexStatus,
    /// CardSync v2 per-card result `status`.
    CardSyncStatus,
    /// Acquired's `account_updater` result as its testing page lists it: the status (1
    /// updated, 2 not updated), then the Visa code, or the Mastercard response indicator and
    /// reason identifier, joined with `/` (`1/A`, `2/C/CONTAC`).
    AcquiredResult,
}

impl CodeScheme {
    /// Every scheme, in the table's order.
    pub const ALL: [CodeScheme; 8] = [
        CodeScheme::VisaVau,
        CodeScheme::VisaRealTimeVau,
        CodeScheme::MastercardResponse,
        CodeScheme::MastercardReason,
        CodeScheme::MastercardPush,
        CodeScheme::PayConexStatus,
        CodeScheme::CardSyncStatus,
        CodeScheme::AcquiredResult,
    ];

    /// A stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            CodeScheme::VisaVau => "visa_vau",
            CodeScheme::VisaRealTimeVau => "visa_real_time_vau",
            CodeScheme::MastercardResponse => "mastercard_response",
            CodeScheme::MastercardReason => "mastercard_reason",
            CodeScheme::MastercardPush => "mastercard_push",
            CodeScheme::PayConexStatus => "payconex_status",
            CodeScheme::CardSyncStatus => "cardsync_status",
            CodeScheme::AcquiredResult => "acquired_result",
        }
    }
}

impl fmt::Display for CodeScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One documented code and what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CodeRow {
    /// The vocabulary.
    pub scheme: CodeScheme,
    /// The code, exactly as documented (matched case-insensitively).
    pub code: &'static str,
    /// The unified outcome.
    pub outcome: Outcome,
    /// `true` when a Mastercard brand change comes with it (`B`).
    pub brand_change: bool,
    /// The document's own description.
    pub meaning: &'static str,
    /// Where it is documented.
    pub source: &'static str,
}

const ACQUIRED_TESTING: &str = "Acquired developer documentation, Testing → Account Updater";
const CHECKOUT_RTAU: &str =
    "Checkout.com, Real-Time Account Updater response codes (Visa descriptions)";
const VISA_VAU: &str = "Visa VAU response codes as republished by Acquired (Testing → Account Updater) and TabaPay (Account Updater reference)";
const MC_ABU: &str = "Mastercard ABU codes as republished by Acquired (Testing → Account Updater), TabaPay and GoToBilling";
const MC_PUSH: &str =
    "Mastercard ABU push reason codes as republished by TabaPay (Account Updater reference)";
const PAYCONEX: &str = "PayConex Account Updater API v4, AccountUpdaterStatuses";
const CARDSYNC: &str =
    "CardSync Universal Account Updater v2 (and v1 / Amex docs for contact_closed)";

const fn row(
    scheme: CodeScheme,
    code: &'static str,
    outcome: Outcome,
    meaning: &'static str,
    source: &'static str,
) -> CodeRow {
    CodeRow {
        scheme,
        code,
        outcome,
        brand_change: false,
        meaning,
        source,
    }
}

const fn not_eligible(code: &'static str, meaning: &'static str) -> CodeRow {
    row(
        CodeScheme::VisaRealTimeVau,
        code,
        Outcome::NotEligible {
            reason: Cow::Borrowed(meaning),
        },
        meaning,
        CHECKOUT_RTAU,
    )
}

const fn brand_change(mut r: CodeRow) -> CodeRow {
    r.brand_change = true;
    r
}

use CodeScheme::*;
use Outcome::*;

/// Every documented code, with its outcome, meaning and source. See the module docs.
pub static CODE_TABLE: &[CodeRow] = &[
    // Visa VAU.
    row(
        VisaVau,
        "A",
        NewAccountNumber,
        "account number change",
        VISA_VAU,
    ),
    row(VisaVau, "E", NewExpiry, "expiration date change", VISA_VAU),
    row(VisaVau, "C", Closed, "closed account advice", VISA_VAU),
    row(
        VisaVau,
        "Q",
        ContactCardholder,
        "contact cardholder",
        VISA_VAU,
    ),
    row(VisaVau, "V", Valid, "match made, no change", VISA_VAU),
    row(
        VisaVau,
        "P",
        NoMatch,
        "participating BIN, no match",
        VISA_VAU,
    ),
    row(
        VisaVau,
        "N",
        NonParticipating,
        "non-participating BIN",
        VISA_VAU,
    ),
    row(VisaVau, "O", OptedOut, "cardholder opted out", VISA_VAU),
    // Visa Real Time VAU failures.
    not_eligible(
        "VAU001",
        "Transaction did not qualify for Real Time VAU because the transaction contains token.",
    ),
    not_eligible(
        "VAU002",
        "Real Time VAU is supported only for Visa branded PAN.",
    ),
    not_eligible("VAU003", "Real Time VAU is not supported for this network."),
    not_eligible(
        "VAU004",
        "Transaction is not original purchase, bill payment, account funding, or original credit.",
    ),
    not_eligible("VAU005", "Transaction contains CVV2."),
    not_eligible(
        "VAU006",
        "Transaction is not a qualifying transaction type. It needs to be recurring or installment type or Credential-on-file transaction.",
    ),
    not_eligible(
        "VAU007",
        "Real Time VAU is not supported for this merchant category code (MCC).",
    ),
    not_eligible(
        "VAU008",
        "Acquirer or processor is not activated for Real Time VAU.",
    ),
    row(
        VisaRealTimeVau,
        "VAU009",
        NonParticipating,
        "Issuer does not support Real Time VAU.",
        CHECKOUT_RTAU,
    ),
    row(
        VisaRealTimeVau,
        "VAU010",
        StopUpdates,
        "Issuer or Visa blocked the merchant.",
        CHECKOUT_RTAU,
    ),
    row(
        VisaRealTimeVau,
        "VAU011",
        StopUpdates,
        "Preauthorized Payment Cancellation Service (PPCS) stop-payment order for this transaction.",
        CHECKOUT_RTAU,
    ),
    row(
        VisaRealTimeVau,
        "VAU012",
        NoChange,
        "Credentials in the authorization request is the latest VAU data.",
        CHECKOUT_RTAU,
    ),
    not_eligible(
        "VAU013",
        "Transaction did not qualify for Real Time VAU as the expiry date in the authorization request is later than the expiry date in VAU data.",
    ),
    row(
        VisaRealTimeVau,
        "VAU014",
        OptedOut,
        "PAN has been opted out of VAU.",
        CHECKOUT_RTAU,
    ),
    not_eligible("VAU015", "Transaction is a face-to-face transaction type."),
    row(
        VisaRealTimeVau,
        "VAU016",
        StopUpdates,
        "PAN has stop advice setup.",
        CHECKOUT_RTAU,
    ),
    // Mastercard ABU response indicators.
    row(
        MastercardResponse,
        "R",
        NewAccountNumber,
        "match, update data (replacement card)",
        MC_ABU,
    ),
    brand_change(row(
        MastercardResponse,
        "B",
        NewAccountNumber,
        "match, updated data (brand change)",
        MC_ABU,
    )),
    row(
        MastercardResponse,
        "E",
        NewExpiry,
        "match, expiry date update only",
        MC_ABU,
    ),
    row(
        MastercardResponse,
        "C",
        Closed,
        "closed account advice",
        MC_ABU,
    ),
    row(
        MastercardResponse,
        "V",
        Valid,
        "account valid, no update",
        MC_ABU,
    ),
    row(
        MastercardResponse,
        "P",
        NoMatch,
        "unable to find account, participating BIN",
        MC_ABU,
    ),
    row(
        MastercardResponse,
        "N",
        NonParticipating,
        "unable to find account, non-participating BIN",
        MC_ABU,
    ),
    // Mastercard ABU reason identifiers. UNKNWN alone cannot tell P from N: both say no
    // update can be had now, and the response indicator that comes with it decides.
    row(
        MastercardReason,
        "UPDATE",
        NewAccountNumber,
        "match, update data (replacement card or brand change)",
        MC_ABU,
    ),
    row(
        MastercardReason,
        "EXPIRY",
        NewExpiry,
        "match, expiry date update only",
        MC_ABU,
    ),
    row(
        MastercardReason,
        "CONTAC",
        Closed,
        "closed account advice (CONTAC is closed, not contact)",
        MC_ABU,
    ),
    row(
        MastercardReason,
        "VALID",
        Valid,
        "account valid, no update",
        MC_ABU,
    ),
    row(
        MastercardReason,
        "UNKNWN",
        NoMatch,
        "unable to find account (participating or not: see the response indicator)",
        MC_ABU,
    ),
    // Mastercard push.
    row(
        MastercardPush,
        "A",
        NewAccountNumber,
        "account number change",
        MC_PUSH,
    ),
    row(
        MastercardPush,
        "E",
        NewExpiry,
        "expiry date change",
        MC_PUSH,
    ),
    row(MastercardPush, "C", Closed, "closed account", MC_PUSH),
    // PayConex.
    row(
        PayConexStatus,
        "updated_card",
        NewAccountNumber,
        "card number updated",
        PAYCONEX,
    ),
    row(
        PayConexStatus,
        "updated_expiry",
        NewExpiry,
        "expiry updated",
        PAYCONEX,
    ),
    row(
        PayConexStatus,
        "contact_closed",
        Closed,
        "contact customer; card no longer valid (closed)",
        PAYCONEX,
    ),
    row(
        PayConexStatus,
        "contact",
        ContactCardholder,
        "contact customer; card no longer valid",
        PAYCONEX,
    ),
    row(
        PayConexStatus,
        "valid",
        Valid,
        "submitted card is valid",
        PAYCONEX,
    ),
    row(
        PayConexStatus,
        "no_change",
        NoChange,
        "no change found",
        PAYCONEX,
    ),
    row(
        PayConexStatus,
        "no_match",
        NoMatch,
        "no match found",
        PAYCONEX,
    ),
    // CardSync.
    row(
        CardSyncStatus,
        "updated_card",
        NewAccountNumber,
        "updated card number (the brand may change)",
        CARDSYNC,
    ),
    row(
        CardSyncStatus,
        "updated_expiry",
        NewExpiry,
        "updated expiry",
        CARDSYNC,
    ),
    row(CardSyncStatus, "closed", Closed, "account closed", CARDSYNC),
    row(
        CardSyncStatus,
        "contact_closed",
        Closed,
        "account closed (the name before 2023-07)",
        CARDSYNC,
    ),
    row(
        CardSyncStatus,
        "contact",
        ContactCardholder,
        "contact the cardholder",
        CARDSYNC,
    ),
    row(CardSyncStatus, "valid", Valid, "card is valid", CARDSYNC),
    row(
        CardSyncStatus,
        "",
        Valid,
        "no status type: \"this generally means the card is valid\"",
        CARDSYNC,
    ),
    row(
        CardSyncStatus,
        "no_change",
        NoChange,
        "no change (a stats counter; accepted per card)",
        CARDSYNC,
    ),
    row(CardSyncStatus, "no_match", NoMatch, "no match", CARDSYNC),
    // Acquired: status / Visa code (INIT expiry 0N2017), status / Mastercard response
    // indicator / reason identifier (INIT expiry 0N2016).
    row(
        AcquiredResult,
        "1/A",
        NewAccountNumber,
        "Visa account number change (INIT 012017)",
        ACQUIRED_TESTING,
    ),
    row(
        AcquiredResult,
        "2/C",
        Closed,
        "Visa closed account advice (INIT 022017)",
        ACQUIRED_TESTING,
    ),
    row(
        AcquiredResult,
        "1/E",
        NewExpiry,
        "Visa expiration date change (INIT 032017)",
        ACQUIRED_TESTING,
    ),
    row(
        AcquiredResult,
        "2/N",
        NonParticipating,
        "Visa non-participating BIN (INIT 042017)",
        ACQUIRED_TESTING,
    ),
    row(
        AcquiredResult,
        "2/P",
        NoMatch,
        "Visa participating BIN, no match (INIT 052017)",
        ACQUIRED_TESTING,
    ),
    row(
        AcquiredResult,
        "2/Q",
        ContactCardholder,
        "Visa contact cardholder (INIT 062017)",
        ACQUIRED_TESTING,
    ),
    row(
        AcquiredResult,
        "2/V",
        Valid,
        "Visa match made, no change (INIT 072017)",
        ACQUIRED_TESTING,
    ),
    row(
        AcquiredResult,
        "1/R/UPDATE",
        NewAccountNumber,
        "Mastercard replacement card (INIT 012016)",
        ACQUIRED_TESTING,
    ),
    brand_change(row(
        AcquiredResult,
        "1/B/UPDATE",
        NewAccountNumber,
        "Mastercard brand change, new expiry (INIT 022016)",
        ACQUIRED_TESTING,
    )),
    row(
        AcquiredResult,
        "2/C/CONTAC",
        Closed,
        "Mastercard closed account advice (INIT 032016)",
        ACQUIRED_TESTING,
    ),
    row(
        AcquiredResult,
        "1/E/EXPIRY",
        NewExpiry,
        "Mastercard expiry date update only (INIT 042016)",
        ACQUIRED_TESTING,
    ),
    row(
        AcquiredResult,
        "2/V/VALID",
        Valid,
        "Mastercard account valid, no update (INIT 052016)",
        ACQUIRED_TESTING,
    ),
    row(
        AcquiredResult,
        "2/P/UNKNWN",
        NoMatch,
        "Mastercard unable to find account, participating BIN (INIT 062016)",
        ACQUIRED_TESTING,
    ),
    row(
        AcquiredResult,
        "2/N/UNKNWN",
        NonParticipating,
        "Mastercard unable to find account, non-participating BIN (INIT 072016)",
        ACQUIRED_TESTING,
    ),
];

/// The row for `code` in `scheme` (case-insensitive, surrounding blanks ignored), if the
/// code is documented.
///
/// Called once per result card (CardSync and PayConex statuses), so it looks only at the
/// scheme's own rows (the table is grouped by scheme) and tries an exact match first.
pub fn lookup(scheme: CodeScheme, code: &str) -> Option<&'static CodeRow> {
    let rows = scheme_rows(scheme);
    if let Some(row) = rows.iter().find(|r| r.code == code) {
        return Some(row);
    }
    let code = code.trim();
    rows.iter().find(|r| r.code.eq_ignore_ascii_case(code))
}

/// The rows of `scheme`: one contiguous run of [`CODE_TABLE`], found once.
fn scheme_rows(scheme: CodeScheme) -> &'static [CodeRow] {
    static RUNS: std::sync::OnceLock<[(usize, usize); CodeScheme::ALL.len()]> =
        std::sync::OnceLock::new();
    let runs = RUNS.get_or_init(|| {
        CodeScheme::ALL.map(|s| {
            let start = CODE_TABLE.iter().position(|r| r.scheme == s).unwrap_or(0);
            let len = CODE_TABLE[start..]
                .iter()
                .take_while(|r| r.scheme == s)
                .count();
            (start, start + len)
        })
    });
    let index = CodeScheme::ALL
        .iter()
        .position(|s| *s == scheme)
        .unwrap_or(0);
    let (start, end) = runs[index];
    &CODE_TABLE[start..end]
}

/// The outcome for `code` in `scheme`; an undocumented code is [`Outcome::Unknown`] with the
/// code verbatim.
pub fn outcome(scheme: CodeScheme, code: &str) -> Outcome {
    match lookup(scheme, code) {
        Some(r) => r.outcome.clone(),
        None => Outcome::Unknown(code.to_owned()),
    }
}

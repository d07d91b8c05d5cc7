//! Card data: [`CardNumber`], [`Expiry`], [`CardBrand`] and the Luhn check.
//!
//! No I/O and no provider knowledge lives here. A [`CardNumber`] is validated once, at the edge,
//! and from then on is kept secret: its `Debug` and `Display` show at most the first six and the
//! last four digits (PCI DSS 3.4 "truncation"), it does not implement `Serialize`, and its digits
//! are only reachable through [`ExposeSecret`], which provider request builders call at the last
//! moment.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use secrecy::{ExposeSecret, SecretString};

/// Why a card number was refused. The message never contains the digits themselves.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CardNumberError {
    /// The input was empty.
    #[error("card number is empty")]
    Empty,
    /// A character other than `0-9` was found (the position is 0-based; the character is not echoed).
    #[error("card number has a non-digit character at position {position}")]
    NonDigit {
        /// 0-based index of the first offending character.
        position: usize,
    },
    /// Card numbers have 12 to 19 digits (ISO/IEC 7812).
    #[error("card number has {len} digits; expected 12 to 19")]
    Length {
        /// Number of digits found.
        len: usize,
    },
    /// The mod-10 check digit does not match.
    #[error("card number fails the Luhn (mod 10) check")]
    Luhn,
}

/// Why an expiry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExpiryError {
    /// The text does not have the shape of the requested format.
    #[error("expiry is not in {expected} format")]
    Format {
        /// The format that was expected.
        expected: ExpiryFormat,
    },
    /// Month outside 1–12.
    #[error("expiry month {month} is not between 1 and 12")]
    Month {
        /// The month found.
        month: u32,
    },
    /// Year outside 2000–2099 (the range every provider's two-digit years can express).
    #[error("expiry year {year} is not between 2000 and 2099")]
    Year {
        /// The year found.
        year: u32,
    },
}

/// Card network, detected from the leading digits (IIN ranges as published by the networks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CardBrand {
    /// Visa: IIN `4`.
    Visa,
    /// Mastercard: IIN `51`–`55` and `2221`–`2720`.
    Mastercard,
    /// American Express: IIN `34`, `37`.
    Amex,
    /// Discover: `6011`, `644`–`649`, `65`, `622126`–`622925`.
    Discover,
    /// Diners Club: `300`–`305`, `3095`, `36`, `38`, `39`.
    DinersClub,
    /// JCB: `3528`–`3589`.
    Jcb,
    /// None of the above.
    Unknown,
}

impl CardBrand {
    /// Detects the brand from the leading digits of `digits` (which must be ASCII digits; at
    /// least six, else [`CardBrand::Unknown`]). The prefixes are read as numbers straight from
    /// the bytes: no parsing, no allocation (results decoding calls this once per card).
    pub fn detect(digits: &str) -> CardBrand {
        let b = digits.as_bytes();
        if b.len() < 6 || !b[..6].iter().all(u8::is_ascii_digit) {
            return CardBrand::Unknown;
        }
        let prefix = |n: usize| -> u32 {
            b[..n]
                .iter()
                .fold(0, |acc, d| acc * 10 + u32::from(d - b'0'))
        };
        let (p1, p2, p3, p4, p6) = (prefix(1), prefix(2), prefix(3), prefix(4), prefix(6));
        match () {
            _ if p2 == 34 || p2 == 37 => CardBrand::Amex,
            _ if p1 == 4 => CardBrand::Visa,
            _ if (51..=55).contains(&p2) || (2221..=2720).contains(&p4) => CardBrand::Mastercard,
            _ if p4 == 6011
                || (644..=649).contains(&p3)
                || p2 == 65
                || (622126..=622925).contains(&p6) =>
            {
                CardBrand::Discover
            }
            _ if (3528..=3589).contains(&p4) => CardBrand::Jcb,
            _ if (300..=305).contains(&p3) || p4 == 3095 || matches!(p2, 36 | 38 | 39) => {
                CardBrand::DinersClub
            }
            _ => CardBrand::Unknown,
        }
    }

    /// Upper-case brand name as card APIs usually spell it (`VISA`, `MASTERCARD`, `AMEX`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            CardBrand::Visa => "VISA",
            CardBrand::Mastercard => "MASTERCARD",
            CardBrand::Amex => "AMEX",
            CardBrand::Discover => "DISCOVER",
            CardBrand::DinersClub => "DINERS",
            CardBrand::Jcb => "JCB",
            CardBrand::Unknown => "UNKNOWN",
        }
    }
}

impl CardBrand {
    /// Whether a number of `length` digits can be a card of this brand, by the length rules
    /// the networks publish: Visa 13, 16 or 19; Mastercard 16; American Express 15; Discover,
    /// JCB 16 to 19; Diners Club 14 to 19; an unknown brand anything from 12 to 19 (what
    /// [`CardNumber`] accepts at all). A "new number" an updater returns that breaks its
    /// brand's rule is not applied ([`crate::Outcome::InvalidUpdate`]).
    pub fn accepts_length(self, length: usize) -> bool {
        match self {
            CardBrand::Visa => matches!(length, 13 | 16 | 19),
            CardBrand::Mastercard => length == 16,
            CardBrand::Amex => length == 15,
            CardBrand::Discover | CardBrand::Jcb => (16..=19).contains(&length),
            CardBrand::DinersClub => (14..=19).contains(&length),
            CardBrand::Unknown => (12..=19).contains(&length),
        }
    }
}

/// Why a card number an updater handed back as a card's **new** number must not be applied.
///
/// A provider relays what the network sent; a number that fails its check digit or its
/// brand's length rule would be declined on the first charge (or, worse, charge a stranger's
/// card if mistyped into a valid one later). The crate reports such an update as
/// [`crate::Outcome::InvalidUpdate`] and never hands the number out. The digits themselves
/// are never kept: only the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NewNumberProblem {
    /// The update says the number changed but carries no number (where the provider's
    /// documents say it returns one).
    Missing,
    /// Not 12 to 19 ASCII digits.
    NotACardNumber,
    /// The Luhn (mod 10) check digit is wrong.
    Luhn,
    /// The length does not fit the brand its leading digits name.
    Length {
        /// The brand the leading digits name.
        brand: CardBrand,
        /// The number of digits received.
        length: usize,
    },
}

impl NewNumberProblem {
    /// A stable snake_case name (`missing`, `not_a_card_number`, `luhn`, `length`).
    pub fn as_str(self) -> &'static str {
        match self {
            NewNumberProblem::Missing => "missing",
            NewNumberProblem::NotACardNumber => "not_a_card_number",
            NewNumberProblem::Luhn => "luhn",
            NewNumberProblem::Length { .. } => "length",
        }
    }
}

impl fmt::Display for NewNumberProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NewNumberProblem::Missing => f.write_str("the update carries no new number"),
            NewNumberProblem::NotACardNumber => {
                f.write_str("the new number is not 12 to 19 digits")
            }
            NewNumberProblem::Luhn => f.write_str("the new number fails the Luhn (mod 10) check"),
            NewNumberProblem::Length { brand, length } => {
                write!(
                    f,
                    "the new number has {length} digits, which no {brand} card has"
                )
            }
        }
    }
}

impl fmt::Display for CardBrand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The Luhn check digit (`b'0'`..=`b'9'`) that completes `body` into a number passing
/// [`luhn_valid`]; `None` when `body` is empty or holds a non-digit. For generating test
/// numbers (yours, the crate's tests, examples and benches all use this one).
///
/// ```
/// use account_updater::card::{luhn_check_digit, luhn_valid, with_check_digit};
///
/// assert_eq!(luhn_check_digit("445701000000000"), Some(b'9'));
/// assert_eq!(with_check_digit("445701000000000").as_deref(), Some("4457010000000009"));
/// assert!(luhn_valid(&with_check_digit("37000000000000").unwrap()));
/// assert_eq!(luhn_check_digit("4x"), None);
/// ```
pub fn luhn_check_digit(body: &str) -> Option<u8> {
    if body.is_empty() {
        return None;
    }
    let mut sum = 0u32;
    // The check digit takes position 0 from the right, so the body's last digit is doubled.
    for (i, b) in body.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return None;
        }
        let mut d = u32::from(b - b'0');
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    // (10 - sum mod 10) mod 10 is below 10, so it fits a digit.
    Some(b'0' + ((10 - sum % 10) % 10) as u8)
}

/// `body` followed by its Luhn check digit ([`luhn_check_digit`]); `None` for an empty body or
/// one with a non-digit.
pub fn with_check_digit(body: &str) -> Option<String> {
    let digit = luhn_check_digit(body)?;
    let mut number = String::with_capacity(body.len() + 1);
    number.push_str(body);
    number.push(char::from(digit));
    Some(number)
}

/// The Luhn (mod 10) check over a string of ASCII digits. Returns `false` for any non-digit.
pub fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return false;
        }
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum % 10 == 0
}

/// A primary account number: 12–19 ASCII digits that pass the Luhn check.
///
/// Secret by construction: formatting shows [`CardNumber::masked`], there is no `Serialize`, and
/// the digits are only available through [`ExposeSecret::expose_secret`]. The digits are zeroed
/// on drop (they live in a [`SecretString`]).
///
/// ```
/// use account_updater::{CardBrand, CardNumber, ExposeSecret};
///
/// let card = CardNumber::parse("4111111111111111")?;
/// assert_eq!(card.brand(), CardBrand::Visa);
/// assert_eq!(card.masked(), "411111******1111");
/// // Formatting never shows the digits; exposing them is explicit.
/// assert_eq!(format!("{card}"), "411111******1111");
/// assert_eq!(card.expose_secret(), "4111111111111111");
///
/// // A mistyped number is refused before anything is sent, without echoing it.
/// let error = CardNumber::parse("4111111111111112").unwrap_err();
/// assert_eq!(error.to_string(), "card number fails the Luhn (mod 10) check");
/// # Ok::<(), account_updater::card::CardNumberError>(())
/// ```
#[derive(Clone)]
pub struct CardNumber {
    /// The digits, inline (at most 19): a card number costs no allocation of its own, which in
    /// a run of a million cards is a million allocations and frees fewer (allocation stood out
    /// in a profile of such a run). Zeroed when dropped, as `SecretString` does for its heap
    /// copy.
    digits: [u8; MAX_DIGITS],
    len: u8,
    brand: CardBrand,
}

/// The longest card number (ISO/IEC 7812: up to 19 digits).
const MAX_DIGITS: usize = 19;

impl Drop for CardNumber {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.digits);
    }
}

impl CardNumber {
    /// Parses and validates a card number. Only digits are accepted: strip spaces or dashes
    /// before calling, so that what is validated is exactly what will be sent.
    pub fn parse(input: &str) -> Result<Self, CardNumberError> {
        let brand = CardNumber::validate(input)?;
        let mut digits = [0u8; MAX_DIGITS];
        digits[..input.len()].copy_from_slice(input.as_bytes());
        Ok(CardNumber {
            digits,
            len: input.len() as u8,
            brand,
        })
    }

    /// The digits as text.
    fn digits(&self) -> &str {
        std::str::from_utf8(&self.digits[..usize::from(self.len)])
            .expect("a card number holds ASCII digits only")
    }

    /// The checks of [`CardNumber::parse`], returning the brand: one pass over the bytes checks
    /// each is a digit and sums them the Luhn way (every second digit from the right doubled,
    /// through a table, with no branch a digit): a bulk run parses every card it is given.
    fn validate(input: &str) -> Result<CardBrand, CardNumberError> {
        /// A digit doubled, with the digits of the product summed.
        const DOUBLED: [u8; 10] = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9];
        let bytes = input.as_bytes();
        if bytes.is_empty() {
            return Err(CardNumberError::Empty);
        }
        // Counting from the left, the digits doubled are those whose index has the parity of
        // the length.
        let doubled = bytes.len() % 2;
        let mut sum = 0u32;
        for (position, &byte) in bytes.iter().enumerate() {
            let digit = byte.wrapping_sub(b'0');
            if digit > 9 {
                return Err(CardNumberError::NonDigit { position });
            }
            sum += u32::from(if position % 2 == doubled {
                DOUBLED[usize::from(digit)]
            } else {
                digit
            });
        }
        if !(12..=19).contains(&input.len()) {
            return Err(CardNumberError::Length { len: input.len() });
        }
        if sum % 10 != 0 {
            return Err(CardNumberError::Luhn);
        }
        Ok(CardBrand::detect(input))
    }

    /// The detected card network.
    pub fn brand(&self) -> CardBrand {
        self.brand
    }

    /// Number of digits.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always `false`: a `CardNumber` has at least 12 digits. Present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The last four digits (safe to show and to store beside an account).
    pub fn last4(&self) -> &str {
        let d = self.digits();
        &d[d.len() - 4..]
    }

    /// The issuer identification number, i.e. the first six digits.
    pub fn bin(&self) -> &str {
        &self.digits()[..6]
    }

    /// The PCI-truncated form: first six and last four digits with `*` between (`444433******1111`).
    /// For numbers shorter than 15 digits only the first four are shown, so that at least four
    /// digits are always hidden.
    pub fn masked(&self) -> String {
        let d = self.digits();
        let head = if d.len() >= 15 { 6 } else { 4 };
        let hidden = d.len() - head - 4;
        format!("{}{}{}", &d[..head], "*".repeat(hidden), &d[d.len() - 4..])
    }
}

impl ExposeSecret<str> for CardNumber {
    fn expose_secret(&self) -> &str {
        self.digits()
    }
}

impl PartialEq for CardNumber {
    fn eq(&self, other: &Self) -> bool {
        self.digits() == other.digits()
    }
}

impl Eq for CardNumber {}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber({}, {})", self.brand, self.masked())
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl std::str::FromStr for CardNumber {
    type Err = CardNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CardNumber::parse(s)
    }
}

impl TryFrom<String> for CardNumber {
    type Error = CardNumberError;
    /// Validates and copies the digits; the string is zeroed before it is dropped, whether
    /// it was accepted or refused.
    fn try_from(s: String) -> Result<Self, Self::Error> {
        let parsed = CardNumber::parse(&s);
        drop(SecretString::from(s)); // zero the caller's copy
        parsed
    }
}

impl CardNumber {
    /// Checks a number an updater returned as a card's new number: everything
    /// [`CardNumber::parse`] checks, plus its brand's length rule
    /// ([`CardBrand::accepts_length`]). The string is taken by value so that a refused one is
    /// zeroed before it is dropped; the error carries only the reason, never a digit.
    pub fn parse_new_number(digits: String) -> Result<CardNumber, NewNumberProblem> {
        let parsed = CardNumber::parse_new_number_in(&digits);
        drop(SecretString::from(digits)); // zero the caller's copy
        parsed
    }

    /// [`CardNumber::parse_new_number`] on digits borrowed from an answer whose owner zeroes
    /// it (CardSync's compact results): no copy of the digits is made to be checked.
    pub(crate) fn parse_new_number_in(digits: &str) -> Result<CardNumber, NewNumberProblem> {
        match CardNumber::parse(digits) {
            Ok(card) => card.into_new_number(),
            Err(CardNumberError::Luhn) => Err(NewNumberProblem::Luhn),
            Err(_) => Err(NewNumberProblem::NotACardNumber),
        }
    }

    /// The brand's length rule on a number already parsed, for a number the provider's wire
    /// format parsed before it was known to be a new number.
    pub fn into_new_number(self) -> Result<CardNumber, NewNumberProblem> {
        if self.brand.accepts_length(self.len()) {
            Ok(self)
        } else {
            Err(NewNumberProblem::Length {
                brand: self.brand,
                length: self.len(),
            })
        }
    }
}

impl<'de> serde::Deserialize<'de> for CardNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CardNumber::try_from(s).map_err(serde::de::Error::custom)
    }
}

/// The textual expiry layouts the providers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExpiryFormat {
    /// `MMYY`, e.g. `1225` (PayConex `expiry`).
    Mmyy,
    /// `MM/YY`, e.g. `01/50` (CardSync `exp`).
    MmSlashYy,
    /// `YYYYMM`, e.g. `202012` (AccountVault `expirationDate`).
    Yyyymm,
    /// `MMYYYY`, e.g. `032026` (Acquired `cardexp`).
    Mmyyyy,
}

impl fmt::Display for ExpiryFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExpiryFormat::Mmyy => "MMYY",
            ExpiryFormat::MmSlashYy => "MM/YY",
            ExpiryFormat::Yyyymm => "YYYYMM",
            ExpiryFormat::Mmyyyy => "MMYYYY",
        })
    }
}

/// A card expiry: a month and a four-digit year. A card is valid through the last day of that
/// month. Ordered chronologically.
///
/// Each provider writes expiries its own way; parse and format with the [`ExpiryFormat`] its
/// documents give.
///
/// ```
/// use account_updater::{Expiry, ExpiryFormat};
///
/// let expiry = Expiry::parse("1230", ExpiryFormat::Mmyy)?; // PayConex `expiry`
/// assert_eq!(expiry, Expiry::new(12, 2030)?);
/// assert_eq!(expiry.format(ExpiryFormat::MmSlashYy), "12/30"); // CardSync `exp`
/// assert_eq!(expiry.to_string(), "12/2030");
/// assert!(Expiry::new(2, 2031)? > expiry);
/// // Valid through the last day of its month.
/// let last = chrono::NaiveDate::from_ymd_opt(2030, 12, 31).unwrap();
/// assert!(!expiry.is_expired_at(last));
/// assert!(Expiry::new(13, 2030).is_err());
/// # Ok::<(), account_updater::card::ExpiryError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Expiry {
    year: u16,
    month: u8,
}

impl Expiry {
    /// Builds an expiry from a month (1–12) and a four-digit year (2000–2099).
    pub fn new(month: u32, year: u32) -> Result<Self, ExpiryError> {
        if !(1..=12).contains(&month) {
            return Err(ExpiryError::Month { month });
        }
        if !(2000..=2099).contains(&year) {
            return Err(ExpiryError::Year { year });
        }
        Ok(Expiry {
            year: year as u16,
            month: month as u8,
        })
    }

    /// The month, 1–12.
    pub fn month(self) -> u32 {
        u32::from(self.month)
    }

    /// The four-digit year.
    pub fn year(self) -> u32 {
        u32::from(self.year)
    }

    /// Parses `input` in the given layout. Two-digit years mean 20YY. Any input is safe: text
    /// that is not ASCII, or of the wrong length, is a [`ExpiryError::Format`], never a panic
    /// (expiries arrive in response bodies and unsigned webhook fields).
    pub fn parse(input: &str, format: ExpiryFormat) -> Result<Self, ExpiryError> {
        let bad = || ExpiryError::Format { expected: format };
        // Every layout is ASCII, so after this check byte offsets are character boundaries.
        if !input.is_ascii() {
            return Err(bad());
        }
        let num = |s: &str| -> Result<u32, ExpiryError> {
            if s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty() {
                s.parse().map_err(|_| bad())
            } else {
                Err(bad())
            }
        };
        let (month, year) = match format {
            ExpiryFormat::Mmyy if input.len() == 4 => (num(&input[..2])?, 2000 + num(&input[2..])?),
            ExpiryFormat::MmSlashYy if input.len() == 5 && input.as_bytes()[2] == b'/' => {
                (num(&input[..2])?, 2000 + num(&input[3..])?)
            }
            ExpiryFormat::Yyyymm if input.len() == 6 => (num(&input[4..])?, num(&input[..4])?),
            ExpiryFormat::Mmyyyy if input.len() == 6 => (num(&input[..2])?, num(&input[2..])?),
            _ => return Err(bad()),
        };
        Expiry::new(month, year)
    }

    /// Formats in the given layout.
    pub fn format(self, format: ExpiryFormat) -> String {
        let yy = self.year % 100;
        match format {
            ExpiryFormat::Mmyy => format!("{:02}{:02}", self.month, yy),
            ExpiryFormat::MmSlashYy => format!("{:02}/{:02}", self.month, yy),
            ExpiryFormat::Yyyymm => format!("{:04}{:02}", self.year, self.month),
            ExpiryFormat::Mmyyyy => format!("{:02}{:04}", self.month, self.year),
        }
    }

    /// The last day on which the card is still valid.
    pub fn last_valid_day(self) -> NaiveDate {
        let (y, m) = if self.month == 12 {
            (i32::from(self.year) + 1, 1)
        } else {
            (i32::from(self.year), u32::from(self.month) + 1)
        };
        // Month and year are range-checked (1-12, 2000-2099), so the date always exists; the
        // fallback keeps this total without a panic path.
        NaiveDate::from_ymd_opt(y, m, 1)
            .and_then(|d| d.pred_opt())
            .unwrap_or(NaiveDate::MAX)
    }

    /// `true` when the card can no longer be used on `date` (i.e. `date` is after the last day of
    /// the expiry month).
    pub fn is_expired_at(self, date: NaiveDate) -> bool {
        (date.year(), date.month()) > (i32::from(self.year), u32::from(self.month))
    }
}

impl fmt::Display for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}/{:04}", self.month, self.year)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_short_numbers_harder() {
        let c = CardNumber::parse("4111111111119").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.masked(), "4111*****1119");
    }

    #[test]
    fn last_valid_day_handles_december() {
        let e = Expiry::new(12, 2030).unwrap();
        assert_eq!(
            e.last_valid_day(),
            NaiveDate::from_ymd_opt(2030, 12, 31).unwrap()
        );
        let f = Expiry::new(2, 2028).unwrap();
        assert_eq!(
            f.last_valid_day(),
            NaiveDate::from_ymd_opt(2028, 2, 29).unwrap()
        );
    }
}

//! Card model: every card number in the providers' sandbox tables, near misses, every expiry
//! example in the seeds, and property tests for the parse/format round trips.

use crate::common::luhn;
use account_updater::card::{CardNumberError, ExpiryError, luhn_valid};
use account_updater::{CardBrand, CardNumber, Expiry, ExpiryFormat, ExposeSecret};
use chrono::NaiveDate;
use proptest::prelude::*;

/// Every PAN in the vendors' published sandbox tables, with its brand.
const SANDBOX_CARDS: &[(&str, CardBrand)] = &[
    // CardSync current set (CardSync API documentation)
    ("4457010000000009", CardBrand::Visa),
    ("4457000300000007", CardBrand::Visa),
    ("4457010200000247", CardBrand::Visa),
    ("4100200300011001", CardBrand::Visa),
    ("4457010140000141", CardBrand::Visa),
    ("4457000900000001", CardBrand::Visa),
    ("5194560012341234", CardBrand::Mastercard),
    ("5112010000000003", CardBrand::Mastercard),
    ("5112000200000002", CardBrand::Mastercard),
    ("5112002200000008", CardBrand::Mastercard),
    ("5435101234510196", CardBrand::Mastercard),
    ("6011010000000003", CardBrand::Discover),
    ("6011010140000004", CardBrand::Discover),
    ("6500102012345662", CardBrand::Discover),
    ("6011102087026223", CardBrand::Discover),
    ("6011010100000002", CardBrand::Discover),
    // CardSync previous set
    ("4012000000000016", CardBrand::Visa),
    ("4012000000000024", CardBrand::Visa),
    ("4012000000000032", CardBrand::Visa),
    ("4012000000000040", CardBrand::Visa),
    ("4012000000000057", CardBrand::Visa),
    ("4012000000000065", CardBrand::Visa),
    ("5442980000000016", CardBrand::Mastercard),
    ("5442980000000024", CardBrand::Mastercard),
    ("5442980000000032", CardBrand::Mastercard),
    ("5442980000000040", CardBrand::Mastercard),
    ("5442980000000057", CardBrand::Mastercard),
    ("5442980000000065", CardBrand::Mastercard),
    ("6011000000000012", CardBrand::Discover),
    ("6011000000000020", CardBrand::Discover),
    ("6011000000000038", CardBrand::Discover),
    ("6011000000000046", CardBrand::Discover),
    ("6011000000000053", CardBrand::Discover),
    ("6011000000000061", CardBrand::Discover),
    // CardSync Amex subscription cards and the schema example
    ("342132335566772", CardBrand::Amex),
    ("376655111122997", CardBrand::Amex),
    ("349900006577234", CardBrand::Amex),
    ("378282246310005", CardBrand::Amex),
    ("4111111111111111", CardBrand::Visa),
    // PayConex PAN subscribe example
    ("4444333322221111", CardBrand::Visa),
    // AccountVault encryption example (TabaPay "PCI Helper RSA" reference)
    ("4000056655665556", CardBrand::Visa),
    // Acquired UPDATE_BILLING example
    ("4024007164218280", CardBrand::Visa),
];

#[test]
fn every_sandbox_card_passes_luhn_and_gets_its_brand() {
    for (pan, brand) in SANDBOX_CARDS {
        let card = CardNumber::parse(pan).unwrap_or_else(|e| panic!("{}: {e}", &pan[..6]));
        assert_eq!(card.brand(), *brand, "brand of {}", card.masked());
        assert_eq!(card.len(), pan.len());
        assert_eq!(card.last4(), &pan[pan.len() - 4..]);
        assert_eq!(card.bin(), &pan[..6]);
    }
}

#[test]
fn brand_ranges_at_their_edges() {
    let cases = [
        ("2221000000000009", CardBrand::Mastercard),
        ("2720990000000007", CardBrand::Mastercard),
        ("2220990000000000", CardBrand::Unknown),
        ("2721000000000000", CardBrand::Unknown),
        ("6221260000000000", CardBrand::Discover),
        ("6229250000000000", CardBrand::Discover),
        ("6221250000000000", CardBrand::Unknown),
        ("6229260000000000", CardBrand::Unknown),
        ("6440000000000000", CardBrand::Discover),
        ("6490000000000000", CardBrand::Discover),
        ("6430000000000000", CardBrand::Unknown),
        ("6500000000000000", CardBrand::Discover),
        ("3000000000000000", CardBrand::DinersClub),
        ("3050000000000000", CardBrand::DinersClub),
        ("3060000000000000", CardBrand::Unknown),
        ("3600000000000000", CardBrand::DinersClub),
        ("3528000000000000", CardBrand::Jcb),
        ("3589000000000000", CardBrand::Jcb),
        ("3590000000000000", CardBrand::Unknown),
        ("3900000000000000", CardBrand::DinersClub),
        ("3400000000000000", CardBrand::Amex),
        ("3700000000000000", CardBrand::Amex),
        ("5100000000000000", CardBrand::Mastercard),
        ("5500000000000000", CardBrand::Mastercard),
        ("5600000000000000", CardBrand::Unknown),
        ("9999999999999999", CardBrand::Unknown),
    ];
    for (digits, brand) in cases {
        assert_eq!(CardBrand::detect(digits), brand, "{digits}");
    }
}

#[test]
fn near_misses_fail_with_the_right_error() {
    // One digit changed in each sandbox card breaks the check digit.
    for (pan, _) in SANDBOX_CARDS {
        let mut bytes = pan.as_bytes().to_vec();
        let last = bytes.len() - 1;
        bytes[last] = if bytes[last] == b'9' {
            b'0'
        } else {
            bytes[last] + 1
        };
        let near = String::from_utf8(bytes).unwrap();
        assert_eq!(CardNumber::parse(&near), Err(CardNumberError::Luhn));
    }
    assert_eq!(CardNumber::parse(""), Err(CardNumberError::Empty));
    assert_eq!(
        CardNumber::parse("4457 0100 0000 0009"),
        Err(CardNumberError::NonDigit { position: 4 })
    );
    assert_eq!(
        CardNumber::parse("445701000000000x"),
        Err(CardNumberError::NonDigit { position: 15 })
    );
    assert_eq!(
        CardNumber::parse("00000000000"),
        Err(CardNumberError::Length { len: 11 })
    );
    assert_eq!(
        CardNumber::parse("00000000000000000000"),
        Err(CardNumberError::Length { len: 20 })
    );
    // The AccountVault seed's placeholder number is not a real card.
    assert_eq!(
        CardNumber::parse("9999999999999999"),
        Err(CardNumberError::Luhn)
    );
    assert!(!luhn_valid(""));
    assert!(!luhn_valid("12a4"));
}

#[test]
fn errors_never_echo_the_digits() {
    for bad in [
        "4457010000000008",
        "44570100000000091234",
        "4457010000x00009",
    ] {
        let e = CardNumber::parse(bad).unwrap_err();
        let msg = format!("{e} {e:?}");
        assert!(!msg.contains("4457010"), "{msg}");
    }
}

#[test]
fn seed_expiries_round_trip_in_their_provider_formats() {
    let cases = [
        ("1225", ExpiryFormat::Mmyy, 12, 2025),
        ("1230", ExpiryFormat::Mmyy, 12, 2030),
        ("1235", ExpiryFormat::Mmyy, 12, 2035),
        ("01/50", ExpiryFormat::MmSlashYy, 1, 2050),
        ("02/50", ExpiryFormat::MmSlashYy, 2, 2050),
        ("03/50", ExpiryFormat::MmSlashYy, 3, 2050),
        ("05/50", ExpiryFormat::MmSlashYy, 5, 2050),
        ("07/50", ExpiryFormat::MmSlashYy, 7, 2050),
        ("08/50", ExpiryFormat::MmSlashYy, 8, 2050),
        ("09/50", ExpiryFormat::MmSlashYy, 9, 2050),
        ("11/50", ExpiryFormat::MmSlashYy, 11, 2050),
        ("12/50", ExpiryFormat::MmSlashYy, 12, 2050),
        ("12/28", ExpiryFormat::MmSlashYy, 12, 2028),
        ("12/24", ExpiryFormat::MmSlashYy, 12, 2024),
        ("202012", ExpiryFormat::Yyyymm, 12, 2020),
        ("202512", ExpiryFormat::Yyyymm, 12, 2025),
        ("203001", ExpiryFormat::Yyyymm, 1, 2030),
        ("032026", ExpiryFormat::Mmyyyy, 3, 2026),
    ];
    for (text, format, month, year) in cases {
        let e = Expiry::parse(text, format).unwrap_or_else(|err| panic!("{text}: {err}"));
        assert_eq!((e.month(), e.year()), (month, year), "{text}");
        assert_eq!(e.format(format), text);
    }
}

#[test]
fn malformed_expiries_are_typed_errors() {
    use ExpiryFormat::*;
    let fmt = |f| ExpiryError::Format { expected: f };
    assert_eq!(
        Expiry::parse("9929", Mmyy),
        Err(ExpiryError::Month { month: 99 })
    );
    assert_eq!(
        Expiry::parse("0025", Mmyy),
        Err(ExpiryError::Month { month: 0 })
    );
    assert_eq!(
        Expiry::parse("13/25", MmSlashYy),
        Err(ExpiryError::Month { month: 13 })
    );
    assert_eq!(Expiry::parse("1/25", MmSlashYy), Err(fmt(MmSlashYy)));
    assert_eq!(Expiry::parse("01-25", MmSlashYy), Err(fmt(MmSlashYy)));
    assert_eq!(Expiry::parse("0125", MmSlashYy), Err(fmt(MmSlashYy)));
    assert_eq!(Expiry::parse("12/2a", MmSlashYy), Err(fmt(MmSlashYy)));
    assert_eq!(Expiry::parse("+1/25", MmSlashYy), Err(fmt(MmSlashYy)));
    assert_eq!(Expiry::parse("12025", Yyyymm), Err(fmt(Yyyymm)));
    assert_eq!(
        Expiry::parse("199912", Yyyymm),
        Err(ExpiryError::Year { year: 1999 })
    );
    assert_eq!(
        Expiry::parse("122100", Mmyyyy),
        Err(ExpiryError::Year { year: 2100 })
    );
    assert_eq!(Expiry::parse("", Mmyyyy), Err(fmt(Mmyyyy)));
    assert_eq!(Expiry::parse("１２２５", Mmyy), Err(fmt(Mmyy)));
    assert_eq!(Expiry::new(0, 2030), Err(ExpiryError::Month { month: 0 }));
}

#[test]
fn expired_means_after_the_last_day_of_the_month() {
    let e = Expiry::new(2, 2028).unwrap();
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    assert!(!e.is_expired_at(day(2028, 2, 29)));
    assert!(!e.is_expired_at(day(2027, 12, 31)));
    assert!(e.is_expired_at(day(2028, 3, 1)));
    assert!(e.is_expired_at(day(2029, 1, 1)));
    assert!(Expiry::new(12, 2030).unwrap() < Expiry::new(1, 2031).unwrap());
}

proptest! {
    #[test]
    fn expiry_round_trips_in_every_format(month in 1u32..=12, year in 2000u32..=2099) {
        let e = Expiry::new(month, year).unwrap();
        for f in [ExpiryFormat::Mmyy, ExpiryFormat::MmSlashYy, ExpiryFormat::Yyyymm, ExpiryFormat::Mmyyyy] {
            prop_assert_eq!(Expiry::parse(&e.format(f), f), Ok(e));
        }
    }

    #[test]
    fn any_luhn_completed_number_parses_and_masks(body in "[0-9]{11,18}") {
        let pan = luhn(&body);
        let card = CardNumber::parse(&pan).unwrap();
        let shown = format!("{card} {card:?}");
        // At most 6 leading and 4 trailing digits are shown; no 7-digit run of the PAN appears.
        for w in pan.as_bytes().windows(7) {
            prop_assert!(!shown.contains(std::str::from_utf8(w).unwrap()));
        }
        prop_assert!(shown.contains(card.last4()));
    }

    #[test]
    fn a_changed_digit_is_always_caught(body in "[0-9]{11,18}", pos in 0usize..19, delta in 1u8..=9) {
        let pan = luhn(&body);
        let pos = pos % pan.len();
        let mut bytes = pan.into_bytes();
        bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert_eq!(CardNumber::parse(&changed), Err(CardNumberError::Luhn));
    }
}

proptest! {
    /// The one check-digit helper agrees with the check, for any body of digits.
    #[test]
    fn the_check_digit_helper_completes_any_body(body in "[0-9]{1,18}") {
        let number = account_updater::card::with_check_digit(&body).unwrap();
        prop_assert!(luhn_valid(&number));
        prop_assert_eq!(&number[..body.len()], body.as_str());
        // Exactly one digit completes a body.
        let others = (b'0'..=b'9')
            .filter(|d| luhn_valid(&format!("{body}{}", char::from(*d))))
            .count();
        prop_assert_eq!(others, 1);
    }
}

proptest! {
    /// Parsing checks digits, length and the check digit in one pass; it agrees with the
    /// reference Luhn check and the length rule on any string of digits (and refuses the first
    /// non-digit by its position).
    #[test]
    fn parsing_agrees_with_the_reference_luhn_check(digits in "[0-9]{0,22}", junk in 0usize..30) {
        let expected = if digits.is_empty() {
            Err(CardNumberError::Empty)
        } else if !(12..=19).contains(&digits.len()) {
            Err(CardNumberError::Length { len: digits.len() })
        } else if !luhn_valid(&digits) {
            Err(CardNumberError::Luhn)
        } else {
            Ok(digits.clone())
        };
        let parsed = CardNumber::parse(&digits).map(|c| c.expose_secret().to_owned());
        prop_assert_eq!(parsed, expected);
        if junk < digits.len() {
            let mut bytes = digits.clone().into_bytes();
            bytes[junk] = b'x';
            let with_junk = String::from_utf8(bytes).unwrap();
            prop_assert_eq!(
                CardNumber::parse(&with_junk),
                Err(CardNumberError::NonDigit { position: junk })
            );
        }
    }
}

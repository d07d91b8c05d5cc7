//! The documented field rules (TabaPay's Account API reference: accounts, owners, cards,
//! banks), checked before anything is sent.

use secrecy::ExposeSecret;

use super::wire::{Address, Bank, Card, Name, Owner, OwnerV2, Phone, UpdateAccountV2};
use crate::error::{Error, InputProblem, Result};

const US_STATES: &[&str] = &[
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM",
    "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA",
    "WV", "WI", "WY", "AS", "GU", "MP", "PR", "VI", "UM", "AA", "AE", "AP",
];
const CA_PROVINCES: &[&str] = &[
    "AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT",
];

fn format(field: &str, expected: &str) -> Error {
    Error::invalid(
        field,
        InputProblem::Format {
            expected: expected.into(),
        },
    )
}

fn charset(field: &str, value: &str, extra: &[u8], expected: &str) -> Result<()> {
    if value.is_empty()
        || !value.bytes().all(|b| {
            b.is_ascii_alphanumeric() || b == b' ' || b == b'_' || b == b'-' || extra.contains(&b)
        })
    {
        return Err(format(field, expected));
    }
    Ok(())
}

/// `referenceID`: `[a-zA-Z0-9_-]{1,15}`.
pub fn reference_id(r: &str) -> Result<()> {
    if r.is_empty()
        || r.len() > 15
        || !r
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format("referenceID", "1 to 15 characters [a-zA-Z0-9_-]"));
    }
    Ok(())
}

/// The ABA routing-number check digit: 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) ≡ 0 (mod 10).
pub fn aba_valid(routing: &str) -> bool {
    routing.len() == 9 && routing.bytes().all(|b| b.is_ascii_digit()) && {
        let d: Vec<u32> = routing.bytes().map(|b| u32::from(b - b'0')).collect();
        (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])) % 10 == 0
    }
}

/// `bank`: routing number (9 digits, valid check digit), account number (4–17 digits).
pub fn bank(b: &Bank) -> Result<()> {
    if !aba_valid(&b.routing_number) {
        return Err(format(
            "bank.routingNumber",
            "9 digits with a valid ABA check digit",
        ));
    }
    let n = b.account_number.expose_secret();
    if !(4..=17).contains(&n.len()) || !n.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format("bank.accountNumber", "4 to 17 digits"));
    }
    Ok(())
}

/// `card`: exactly one form, each with its own rules.
pub fn card(c: &Card) -> Result<()> {
    let forms = [
        ("accountNumber", c.account_number.is_some()),
        ("keyID/data", c.key_id.is_some() || c.data.is_some()),
        ("token", c.token.is_some()),
        ("device", c.device.is_some()),
    ];
    let present: Vec<&str> = forms.iter().filter(|f| f.1).map(|f| f.0).collect();
    match present.as_slice() {
        [] => return Err(Error::invalid("card", InputProblem::Missing)),
        [_] => {}
        [a, b, ..] => {
            return Err(Error::invalid(
                format!("card.{a}"),
                InputProblem::Conflicts {
                    other: format!("card.{b}: send exactly one card form"),
                },
            ));
        }
    }
    if let Some(pan) = &c.account_number {
        if pan.len() < 13 {
            return Err(format("card.accountNumber", "13 to 19 digits"));
        }
    } else if c.expiration_date.is_some() {
        return Err(Error::invalid(
            "card.expirationDate",
            InputProblem::NotAllowed {
                reason: "goes with accountNumber only (inside encrypted data otherwise)".into(),
            },
        ));
    }
    if c.key_id.is_some() || c.data.is_some() {
        let key = c.key_id.as_deref().unwrap_or("");
        if key.len() != 22
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(format("card.keyID", "22 characters [a-zA-Z0-9_-]"));
        }
        let data = c.data.as_deref().unwrap_or("");
        if data.is_empty()
            || !data
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'=')
        {
            return Err(format("card.data", "base64url ciphertext"));
        }
        if c.mode.is_some_and(|m| m > 2) {
            return Err(format("card.mode", "0, 1 or 2"));
        }
    }
    if let Some(t) = &c.token {
        let t = t.expose_secret();
        if t.len() != 344
            || !t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'=' | b'-'))
        {
            return Err(format("card.token", "344 characters [A-Za-z0-9_+=-]"));
        }
    }
    if let Some(d) = &c.device {
        if d.id.is_empty() {
            return Err(Error::invalid("card.device.id", InputProblem::Missing));
        }
        if d.blob.expose_secret().is_empty() {
            return Err(Error::invalid("card.device.blob", InputProblem::Missing));
        }
    }
    Ok(())
}

/// Exactly one of `bank` or `card` (when `required`).
pub fn account_data(
    bank_data: Option<&Bank>,
    card_data: Option<&Card>,
    required: bool,
) -> Result<()> {
    match (bank_data, card_data) {
        (Some(_), Some(_)) => Err(Error::invalid(
            "bank",
            InputProblem::Conflicts {
                other: "card: send either a bank account or a card".into(),
            },
        )),
        (Some(b), None) => bank(b),
        (None, Some(c)) => card(c),
        (None, None) if required => Err(Error::invalid("card", InputProblem::Missing)),
        (None, None) => Ok(()),
    }
}

/// `owner.name`: company **or** first + last (+ middle, suffix), `[ a-zA-Z0-9_-]+`.
pub fn name(n: &Name) -> Result<()> {
    let person = n.first.is_some() || n.middle.is_some() || n.last.is_some() || n.suffix.is_some();
    match (&n.company, person) {
        (Some(_), true) => {
            return Err(Error::invalid(
                "owner.name.company",
                InputProblem::Conflicts {
                    other: "owner.name.first/middle/last/suffix".into(),
                },
            ));
        }
        (Some(c), false) => {
            return charset(
                "owner.name.company",
                c,
                &[],
                "letters, digits, spaces, _ and -",
            );
        }
        (None, false) => return Err(Error::invalid("owner.name", InputProblem::Missing)),
        (None, true) => {}
    }
    for (field, value, required) in [
        ("owner.name.first", &n.first, true),
        ("owner.name.middle", &n.middle, false),
        ("owner.name.last", &n.last, true),
        ("owner.name.suffix", &n.suffix, false),
    ] {
        match value {
            Some(v) => charset(field, v, &[], "letters, digits, spaces, _ and -")?,
            None if required => return Err(Error::invalid(field, InputProblem::Missing)),
            None => {}
        }
    }
    Ok(())
}

/// `owner.address`: character sets, numeric country (default 840), and for 840 / 124 a valid
/// state or province and zip / postal code.
pub fn address(a: &Address) -> Result<()> {
    // TabaPay's Update Account table marks `line1` and `city` R(equired) within `address`
    // (the address itself is optional): an address without them is refused.
    for (field, v) in [
        ("owner.address.line1", &a.line1),
        ("owner.address.city", &a.city),
    ] {
        if v.as_deref().is_none_or(str::is_empty) {
            return Err(Error::invalid(field, InputProblem::Missing));
        }
    }
    // TabaPay's own Update Account sample has "Suite #222", so '#' is accepted besides the spec's set.
    for (field, v) in [
        ("owner.address.line1", &a.line1),
        ("owner.address.line2", &a.line2),
    ] {
        if let Some(v) = v {
            charset(field, v, b".#", "letters, digits, spaces and . _ - #")?;
        }
    }
    for (field, v) in [
        ("owner.address.city", &a.city),
        ("owner.address.state", &a.state),
        ("owner.address.zipcode", &a.zipcode),
    ] {
        if let Some(v) = v {
            charset(field, v, &[], "letters, digits, spaces, _ and -")?;
        }
    }
    let country = a.country.as_deref().unwrap_or("840");
    if country.len() != 3 || !country.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format(
            "owner.address.country",
            "an ISO 3166-1 numeric code of 3 digits",
        ));
    }
    match country {
        "840" => us_state_and_zip(a.state.as_deref(), a.zipcode.as_deref()),
        "124" => canadian_province_and_postal_code(a.state.as_deref(), a.zipcode.as_deref()),
        _ => Ok(()),
    }
}

/// Country 840: a US state code and a 5 or 9 digit ZIP code.
fn us_state_and_zip(state: Option<&str>, zip: Option<&str>) -> Result<()> {
    let s = state.ok_or_else(|| Error::invalid("owner.address.state", InputProblem::Missing))?;
    if !US_STATES.contains(&s) {
        return Err(format(
            "owner.address.state",
            "a 2-letter US state code for country 840",
        ));
    }
    let z = zip.ok_or_else(|| Error::invalid("owner.address.zipcode", InputProblem::Missing))?;
    // "5 or 9 digits": a ZIP+4 goes as nine digits, no hyphen (the unified update converts
    // `12345-6789`; the native client sends what it is given).
    let ok = matches!(z.len(), 5 | 9) && z.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        return Err(format(
            "owner.address.zipcode",
            "5 or 9 digits (no hyphen) for country 840",
        ));
    }
    Ok(())
}

/// Country 124: a Canadian province code and an `A1A 1A1` postal code.
fn canadian_province_and_postal_code(state: Option<&str>, zip: Option<&str>) -> Result<()> {
    let s = state.ok_or_else(|| Error::invalid("owner.address.state", InputProblem::Missing))?;
    if !CA_PROVINCES.contains(&s) {
        return Err(format(
            "owner.address.state",
            "a 2-letter Canadian province code for country 124",
        ));
    }
    let z = zip.ok_or_else(|| Error::invalid("owner.address.zipcode", InputProblem::Missing))?;
    let b = z.as_bytes();
    let ok = b.len() == 7
        && b[3] == b' '
        && [0, 2, 5].iter().all(|&i| b[i].is_ascii_uppercase())
        && [1, 4, 6].iter().all(|&i| b[i].is_ascii_digit());
    if !ok {
        return Err(format("owner.address.zipcode", "A1A 1A1 for country 124"));
    }
    Ok(())
}

/// `owner.phone`: country code 1–3 digits (default 1); number 10 digits for code 1, else
/// 4–14 digits.
pub fn phone(p: &Phone) -> Result<()> {
    let cc = p.country_code.as_deref().unwrap_or("1");
    if cc.is_empty() || cc.len() > 3 || !cc.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format("owner.phone.countryCode", "1 to 3 digits"));
    }
    let n = &p.number;
    let digits = n.bytes().all(|b| b.is_ascii_digit());
    if cc == "1" && !(digits && n.len() == 10) {
        return Err(format("owner.phone.number", "10 digits for country code 1"));
    }
    if !(digits && (4..=14).contains(&n.len())) {
        return Err(format("owner.phone.number", "4 to 14 digits"));
    }
    Ok(())
}

/// The whole `owner`.
pub fn owner(o: &Owner) -> Result<()> {
    name(&o.name)?;
    if let Some(a) = &o.address {
        address(a)?;
    }
    if let Some(p) = &o.phone {
        phone(p)?;
    }
    Ok(())
}

/// The v2 owner parts' rules (the same as v1's, for the parts present).
pub fn v2_owner(owner: &OwnerV2) -> Result<()> {
    if let Some(name) = &owner.name {
        self::name(name)?;
    }
    if let Some(a) = &owner.address {
        address(a)?;
    }
    if let Some(p) = &owner.phone {
        phone(p)?;
    }
    Ok(())
}

/// A v2 update changes something (an expiry, or an owner part) and what it changes follows
/// the v1 rules (TabaPay Account API v2: a partial update of expiry and owner).
pub fn v2_update(body: &UpdateAccountV2) -> Result<()> {
    if body
        .card
        .as_ref()
        .is_none_or(|c| c.expiration_date.is_none())
        && body.owner.as_ref().is_none_or(|o| o == &OwnerV2::default())
    {
        return Err(Error::invalid("body", InputProblem::Empty));
    }
    if let Some(owner) = &body.owner {
        v2_owner(owner)?;
    }
    Ok(())
}

/// `ClientID`: 22 characters `[A-Za-z0-9_-]` (TabaPay issues them so).
pub fn client_id(id: &str) -> Result<()> {
    if id.len() != 22
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(format("client_id", "22 characters [A-Za-z0-9_-]"));
    }
    Ok(())
}

/// An ISO's `SubClientID`: 4, 6 or 8 digits, sent as `{ClientID}_{SubClientID}`.
pub fn sub_client_id(sub: &str) -> Result<()> {
    if !matches!(sub.len(), 4 | 6 | 8) || !sub.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format("sub_client_id", "4, 6 or 8 digits"));
    }
    Ok(())
}

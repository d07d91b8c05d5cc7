//! What the AccountVault emulator stores for an account: card or bank data read from a
//! request (decrypting RSA-OAEP card data with the emulator's keys), the owner, and the
//! duplicate-card rules.

use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use rsa::RsaPrivateKey;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::signing::accountvault::{padding_for_mode, routing_number_valid};
use account_updater::card::{CardNumber, Expiry, ExpiryFormat};

use super::handlers::{bad, reply};
use super::{AccountRec, Store, Stored};

pub(super) fn card_pan(data: &Stored) -> Option<String> {
    match data {
        Stored::Card { pan: Some(p), .. } => Some(p.expose_secret().to_owned()),
        _ => None,
    }
}

pub(super) fn text<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    v.get(field).and_then(|x| x.as_str())
}

/// Parses `bank` / `card` exactly as the API requires; decrypts encrypted card data.
pub(super) fn account_data(store: &Store, b: &Value) -> Result<Stored, Response> {
    match (b.get("bank"), b.get("card")) {
        (Some(_), Some(_)) => Err(bad("Either Bank or Card")),
        (None, None) => Err(bad("card")),
        (Some(bank), None) => {
            let routing = text(bank, "routingNumber").unwrap_or("");
            if !routing_number_valid(routing) {
                return Err(bad("bank.routingNumber"));
            }
            let number = text(bank, "accountNumber")
                .filter(|n| (4..=17).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| bad("bank.accountNumber"))?;
            let kind = text(bank, "accountType")
                .filter(|t| matches!(*t, "S" | "C" | "A" | "B" | "L"))
                .ok_or_else(|| bad("bank.accountType"))?;
            Ok(Stored::Bank {
                routing: routing.to_owned(),
                last4: number[number.len() - 4..].to_owned(),
                kind: kind.to_owned(),
            })
        }
        (None, Some(card)) => {
            let forms = ["accountNumber", "keyID", "token", "device"]
                .iter()
                .filter(|f| card.get(**f).is_some())
                .count();
            if forms != 1 {
                return Err(bad("card"));
            }
            if let Some(pan) = text(card, "accountNumber") {
                let ok = (13..=19).contains(&pan.len()) && pan.bytes().all(|b| b.is_ascii_digit());
                if !ok {
                    return Err(bad("card.accountNumber"));
                }
                let exp = text(card, "expirationDate");
                if exp.is_some_and(|e| Expiry::parse(e, ExpiryFormat::Yyyymm).is_err()) {
                    return Err(bad("card.expirationDate"));
                }
                return Ok(Stored::Card {
                    pan: Some(SecretString::from(pan.to_owned())),
                    expiration: exp.map(str::to_owned),
                });
            }
            if let Some(kid) = text(card, "keyID") {
                let key = store
                    .keys
                    .get(kid)
                    .filter(|k| !k.deleted)
                    .ok_or_else(|| bad("card.keyID"))?;
                let data = text(card, "data").ok_or_else(|| bad("card.data"))?;
                // `mode` 2 (the table's default when absent) or 1; 0 (PKCS#1 v1.5) is not
                // emulated and fails like undecryptable data.
                let mode = card.get("mode").map_or(Some(2), Value::as_u64);
                let Some(mode) = mode.filter(|m| padding_for_mode(*m).is_some()) else {
                    return Err(reply(500, "5C000001", Some("data"), json!({})));
                };
                return decrypt(&key.private, mode, data)
                    .ok_or_else(|| reply(500, "5C000001", Some("data"), json!({})));
            }
            Ok(Stored::Card {
                pan: None,
                expiration: None,
            })
        }
    }
}

pub(super) fn decrypt(private: &RsaPrivateKey, mode: u64, data: &str) -> Option<Stored> {
    let cipher = URL_SAFE_NO_PAD
        .decode(data.trim_end_matches('='))
        .or_else(|_| URL_SAFE.decode(data))
        .ok()?;
    let plain =
        secrecy::zeroize::Zeroizing::new(private.decrypt(padding_for_mode(mode)?, &cipher).ok()?);
    let text = std::str::from_utf8(&plain).ok()?;
    let mut parts = text.split('|');
    let (pan, exp, csc) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    CardNumber::parse(pan).ok()?;
    if !exp.is_empty() && Expiry::parse(exp, ExpiryFormat::Yyyymm).is_err() {
        return None;
    }
    let csc_ok =
        csc.is_empty() || ((3..=4).contains(&csc.len()) && csc.bytes().all(|b| b.is_ascii_digit()));
    if !csc_ok {
        return None;
    }
    Some(Stored::Card {
        pan: Some(SecretString::from(pan.to_owned())),
        expiration: (!exp.is_empty()).then(|| exp.to_owned()),
    })
}

pub(super) fn owner(b: &Value) -> Result<Value, Response> {
    let owner = b
        .get("owner")
        .filter(|o| o.is_object())
        .ok_or_else(|| bad("owner"))?;
    let name = owner.get("name").ok_or_else(|| bad("owner.name"))?;
    let company = name.get("company").is_some();
    let person = ["first", "middle", "last", "suffix"]
        .iter()
        .any(|f| name.get(*f).is_some());
    if company == person || (person && (name.get("first").is_none() || name.get("last").is_none()))
    {
        return Err(bad("owner.name"));
    }
    Ok(owner.clone())
}

/// Duplicate ids (newest first, at most 3) for `pan`, other than `except`.
pub(super) fn duplicates(store: &Store, pan: Option<&str>, except: Option<&str>) -> Vec<String> {
    let Some(pan) = pan else { return Vec::new() };
    let mut found: Vec<&AccountRec> = store
        .accounts
        .iter()
        .filter(|a| {
            !a.deleted && Some(a.id.as_str()) != except && card_pan(&a.data).as_deref() == Some(pan)
        })
        .collect();
    found.sort_by_key(|a| std::cmp::Reverse(a.seq));
    found.into_iter().take(3).map(|a| a.id.clone()).collect()
}

/// Applies the duplicate flags: `Err` is the refusal, `Ok(Some(207))` a failed check.
pub(super) fn duplicate_gate(
    store: &mut Store,
    flags: &[String],
    allowed: &[&str],
    dups: &[String],
) -> Result<Option<u16>, Response> {
    let flag = match flags {
        [] => return Ok(None),
        [one] if allowed.contains(&one.as_str()) => one.as_str(),
        _ => return Err(bad("query")),
    };
    if std::mem::take(&mut store.fail_next_check) {
        return Ok(Some(207));
    }
    if flag == "RejectDuplicateCard" && !dups.is_empty() {
        return Err(reply(
            409,
            "3C463000",
            Some("Duplicate"),
            json!({"duplicateAccountIDs": dups}),
        ));
    }
    Ok(None)
}

/// The owner as a normalising server would return it (see
/// [`AccountVaultEmulatorConfig::retrieve_normalised_owner`]).
pub(super) fn normalised(owner: &Value) -> Value {
    let mut o = owner.clone();
    if let Some(name) = o.get_mut("name").and_then(Value::as_object_mut) {
        for v in name.values_mut() {
            if let Some(s) = v.as_str() {
                *v = json!(s.to_uppercase());
            }
        }
    }
    if let Some(a) = o.get_mut("address").and_then(Value::as_object_mut) {
        if let Some(z) = a.get("zipcode").and_then(Value::as_str) {
            if z.len() == 5 {
                let plus4 = format!("{z}-0000");
                a.insert("zipcode".into(), json!(plus4));
            }
        }
        a.entry("country").or_insert(json!("840"));
    }
    if let Some(p) = o.get_mut("phone").and_then(Value::as_object_mut) {
        p.entry("countryCode").or_insert(json!("1"));
    }
    o
}

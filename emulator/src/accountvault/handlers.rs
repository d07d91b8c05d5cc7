//! The AccountVault emulator's request handling: the envelope checks (token, content type,
//! packed JSON, client prefix), then one function per endpoint of the AccountVault API.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::RsaPrivateKey;
use rsa::pkcs8::EncodePublicKey;
use rsa::traits::PublicKeyParts;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use account_updater::card::{Expiry, ExpiryFormat};

use super::accounts::{
    account_data, card_pan, duplicate_gate, duplicates, normalised, owner, text,
};
use super::{AccountRec, KeyRec, Shared, Store, Stored};

pub(super) fn reply(status: u16, ec: &str, em: Option<&str>, extra: Value) -> Response {
    let mut body = json!({"SC": status, "EC": ec});
    if let Some(em) = em {
        body["EM"] = json!(em);
    }
    if let Value::Object(map) = extra {
        for (k, v) in map {
            body[k] = v;
        }
    }
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(body),
    )
        .into_response()
}

pub(super) fn bad(em: &str) -> Response {
    reply(400, "3C304949", Some(em), json!({}))
}

fn random_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    let mut rng = rand::rng();
    (0..22)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Whitespace outside JSON strings: the API wants packed JSON.
fn is_packed(body: &[u8]) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    for &b in body {
        if in_string {
            match b {
                b'\\' if !escaped => escaped = true,
                b'"' if !escaped => in_string = false,
                _ => escaped = false,
            }
        } else if b == b'"' {
            in_string = true;
        } else if b.is_ascii_whitespace() {
            return false;
        }
    }
    true
}

fn flags(uri: &Uri) -> Vec<String> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|s| s.split('=').next().unwrap_or("").to_owned())
        .collect()
}

pub(super) async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(response) = shared.faults.answer().await {
        return response;
    }
    let (version, rest) = match envelope(&shared, &headers, uri.path(), &body) {
        Ok(route) => route,
        Err(refused) => return refused,
    };
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let json_body = || serde_json::from_slice::<Value>(&body).map_err(|_| bad("JSON"));
    let flags = flags(&uri);
    let query = |key: &str| {
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    let mut store = shared.lock();
    let result = match (method, version, rest.as_slice()) {
        (Method::POST, "v1", ["accounts"]) => json_body().and_then(|b| {
            create(&mut store, &b, &flags).map(|r| {
                if shared.config.create_207_without_account_id {
                    reply(207, "3C207000", None, json!({}))
                } else {
                    r
                }
            })
        }),
        (Method::GET, "v1", ["accounts"]) => {
            retrieve_by_reference(&store, &query("referenceID").unwrap_or_default())
        }
        (Method::GET, "v1", ["accounts", id]) => retrieve(&shared, &store, id),
        (Method::PUT, "v1", ["accounts", id]) => json_body()
            .and_then(|b| update_v1(&mut store, id, &b, &flags, shared.config.update_allow_flags)),
        (Method::PUT, "v2", ["accounts", id]) => {
            if !flags.is_empty() {
                Err(bad("Duplicate card flags are not allowed with v2"))
            } else {
                json_body().and_then(|b| update_v2(&mut store, id, &b))
            }
        }
        (Method::DELETE, "v1", ["accounts", id]) => delete_account(&mut store, id, &flags),
        (Method::POST, "v1", ["keys"]) => {
            json_body().and_then(|b| create_key(&shared, &mut store, &b))
        }
        (Method::GET, "v1", ["keys", kid]) => {
            let format = query("Format").unwrap_or_else(|| "Raw".into());
            match store.keys.get(*kid) {
                None => Err(reply(404, "10000000", Some("KeyID"), json!({}))),
                Some(k) if k.deleted => Err(reply(410, "50000000", Some("Key Deleted"), json!({}))),
                Some(k) => key_reply(kid, k, &format),
            }
        }
        (Method::DELETE, "v1", ["keys", kid]) => match store.keys.get_mut(*kid) {
            None => Err(reply(404, "10000000", Some("KeyID"), json!({}))),
            Some(k) if k.deleted => Err(reply(410, "50000000", Some("Key Deleted"), json!({}))),
            Some(k) => {
                k.deleted = true;
                Ok(reply(200, "0", None, json!({})))
            }
        },
        _ => Err(reply(405, "1C000405", Some("Method"), json!({}))),
    };
    result.unwrap_or_else(|r| r)
}

/// The checks every request passes first: the bearer token (401), a JSON content type (415)
/// and a packed body (400) when there is a body, and the `/v1|v2/clients/{ClientID}` prefix
/// with an optional ISO sub-client of 4, 6 or 8 digits (404). Returns the version and the
/// path after the client id.
fn envelope(
    shared: &Shared,
    headers: &HeaderMap,
    path: &str,
    body: &[u8],
) -> Result<(&'static str, Vec<String>), Response> {
    let expected = format!("Bearer {}", shared.config.token.expose_secret());
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return Err(reply(401, "1C000001", Some("Unauthorized"), json!({})));
    }
    if !body.is_empty() {
        let ct = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !ct.starts_with("application/json") {
            return Err(reply(415, "1C000002", Some("Content-Type"), json!({})));
        }
        if !is_packed(body) {
            return Err(bad("JSON contains not packed/contains newlines"));
        }
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (version, client, rest) = match segments.as_slice() {
        ["v1", "clients", c, rest @ ..] => ("v1", *c, rest),
        ["v2", "clients", c, rest @ ..] => ("v2", *c, rest),
        _ => return Err(reply(404, "1C000404", Some("URL"), json!({}))),
    };
    let client_ok = match client.split_once('_') {
        None => client == shared.config.client_id,
        Some((c, sub)) => {
            c == shared.config.client_id
                && matches!(sub.len(), 4 | 6 | 8)
                && sub.bytes().all(|b| b.is_ascii_digit())
        }
    };
    if !client_ok {
        return Err(reply(404, "1C000404", Some("ClientID"), json!({})));
    }
    Ok((version, rest.iter().map(|s| (*s).to_owned()).collect()))
}

/// `GET /v1/clients/{ClientID}/accounts?referenceID=…` (case-insensitive; 421 once the
/// reference id has expired).
fn retrieve_by_reference(store: &Store, reference: &str) -> Result<Response, Response> {
    match store
        .accounts
        .iter()
        .find(|a| a.reference.eq_ignore_ascii_case(reference))
    {
        None => Err(reply(404, "1C000404", Some("ReferenceID"), json!({}))),
        Some(a) if a.reference_expired => {
            Err(reply(421, "3C421000", Some("ReferenceID"), json!({})))
        }
        Some(a) if a.deleted => Err(reply(410, "50000000", Some("Deleted"), json!({}))),
        Some(a) => Ok(reply(
            200,
            "0",
            None,
            json!({"accountID": a.id, "owner": a.owner}),
        )),
    }
}

/// `GET /v1/clients/{ClientID}/accounts/{AccountID}`: the card as last 4 and expiry, the bank
/// as routing number and last 4.
fn retrieve(shared: &Shared, store: &Store, id: &str) -> Result<Response, Response> {
    let a = find(store, id)?;
    let owner = if shared.config.retrieve_normalised_owner {
        normalised(&a.owner)
    } else {
        a.owner.clone()
    };
    let mut extra = json!({"referenceID": a.reference, "owner": owner});
    match &a.data {
        Stored::Card { pan, expiration } => {
            let mut card = json!({});
            if let Some(p) = pan {
                let p = p.expose_secret();
                card["last4"] = json!(&p[p.len() - 4..]);
            }
            if let Some(e) = expiration {
                card["expirationDate"] = json!(e);
            }
            extra["card"] = card;
        }
        Stored::Bank {
            routing,
            last4,
            kind,
        } => {
            extra["bank"] = json!({"routingNumber": routing, "last4": last4, "accountType": kind});
        }
    }
    Ok(reply(200, "0", None, extra))
}

/// `DELETE /v1/clients/{ClientID}/accounts/{AccountID}[?DeleteDuplicateCard]` (207 when the
/// duplicate check was told to fail).
fn delete_account(store: &mut Store, id: &str, flags: &[String]) -> Result<Response, Response> {
    let pan = find(store, id).map(|a| card_pan(&a.data))?;
    let also = flags.iter().any(|f| f == "DeleteDuplicateCard");
    let fail = also && std::mem::take(&mut store.fail_next_check);
    for a in store.accounts.iter_mut() {
        let same = also && !fail && pan.is_some() && card_pan(&a.data) == pan;
        if a.id == id || same {
            a.deleted = true;
        }
    }
    Ok(if fail {
        reply(207, "3C207000", None, json!({}))
    } else {
        reply(200, "0", None, json!({}))
    })
}

fn find<'a>(store: &'a Store, id: &str) -> Result<&'a AccountRec, Response> {
    match store.accounts.iter().find(|a| a.id == id) {
        None => Err(reply(404, "1C000404", Some("AccountID"), json!({}))),
        Some(a) if a.deleted => Err(reply(410, "50000000", Some("Deleted"), json!({}))),
        Some(a) => Ok(a),
    }
}

fn create(store: &mut Store, b: &Value, flags: &[String]) -> Result<Response, Response> {
    let reference = text(b, "referenceID")
        .filter(|r| {
            !r.is_empty()
                && r.len() <= 15
                && r.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        })
        .ok_or_else(|| bad("referenceID"))?;
    if store
        .accounts
        .iter()
        .any(|a| a.reference.eq_ignore_ascii_case(reference))
    {
        return Err(reply(409, "3C409001", Some("ReferenceID"), json!({})));
    }
    let data = account_data(store, b)?;
    let owner = owner(b)?;
    let pan = card_pan(&data);
    let dups = duplicates(store, pan.as_deref(), None);
    let multi = duplicate_gate(
        store,
        flags,
        &["RejectDuplicateCard", "OKToAddDuplicateCard"],
        &dups,
    )?;
    let encrypted = b["card"].get("keyID").is_some();
    store.seq += 1;
    let rec = AccountRec {
        id: random_id(),
        reference: reference.to_owned(),
        reference_expired: false,
        data,
        owner,
        deleted: false,
        seq: store.seq,
    };
    let mut extra = json!({"accountID": rec.id});
    if let (
        true,
        Stored::Card {
            pan: Some(p),
            expiration,
        },
    ) = (encrypted, &rec.data)
    {
        let p = p.expose_secret();
        extra["card"] = json!({"last4": &p[p.len() - 4..], "expirationDate": expiration});
    }
    if !flags.is_empty() && !dups.is_empty() {
        extra["duplicateAccountIDs"] = json!(dups);
    }
    store.accounts.push(rec);
    Ok(match multi {
        Some(s) => reply(s, "3C207000", None, extra),
        None => reply(200, "0", None, extra),
    })
}

fn update_v1(
    store: &mut Store,
    id: &str,
    b: &Value,
    flags: &[String],
    allow_flags: super::AllowFlagSpelling,
) -> Result<Response, Response> {
    find(store, id)?;
    let data = account_data(store, b)?;
    let owner = owner(b)?;
    let pan = card_pan(&data);
    let dups = duplicates(store, pan.as_deref(), Some(id));
    let mut allowed = vec!["RejectDuplicateCard"];
    allowed.extend_from_slice(allow_flags.accepted());
    let multi = duplicate_gate(store, flags, &allowed, &dups)?;
    let rec = store
        .accounts
        .iter_mut()
        .find(|a| a.id == id)
        .ok_or_else(|| bad("AccountID"))?;
    rec.data = data;
    rec.owner = owner;
    Ok(match multi {
        Some(s) => reply(s, "3C207000", None, json!({})),
        None => reply(200, "0", None, json!({})),
    })
}

fn update_v2(store: &mut Store, id: &str, b: &Value) -> Result<Response, Response> {
    find(store, id)?;
    if b.get("bank").is_some()
        || b["card"].get("accountNumber").is_some()
        || b["card"].get("keyID").is_some()
    {
        return Err(bad("v2 updates exclude card and bank account numbers"));
    }
    let exp = b["card"]
        .get("expirationDate")
        .map(|e| {
            e.as_str()
                .filter(|e| Expiry::parse(e, ExpiryFormat::Yyyymm).is_ok())
                .ok_or_else(|| bad("card.expirationDate"))
        })
        .transpose()?;
    let rec = store
        .accounts
        .iter_mut()
        .find(|a| a.id == id)
        .ok_or_else(|| bad("AccountID"))?;
    if let (Some(e), Stored::Card { expiration, .. }) = (exp, &mut rec.data) {
        *expiration = Some(e.to_owned());
    }
    if let Some(Value::Object(parts)) = b.get("owner") {
        for (k, v) in parts {
            rec.owner[k] = v.clone();
        }
    }
    Ok(reply(200, "0", None, json!({})))
}

fn create_key(shared: &Shared, store: &mut Store, b: &Value) -> Result<Response, Response> {
    let format = text(b, "format")
        .filter(|f| matches!(*f, "ASN.1" | "Raw"))
        .ok_or_else(|| bad("format"))?;
    if store.keys.values().filter(|k| !k.deleted).count() >= 2 {
        return Err(reply(429, "3C429000", Some("Keys Created"), json!({})));
    }
    let private = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, shared.config.key_bits)
        .map_err(|_| reply(500, "5C000002", None, json!({})))?;
    let id = random_id();
    let expiration = (chrono::Utc::now() + chrono::Duration::days(365))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let rec = KeyRec {
        private,
        deleted: false,
        expiration,
    };
    let response = key_reply(&id, &rec, format);
    store.keys.insert(id, rec);
    response
}

fn key_reply(id: &str, k: &KeyRec, format: &str) -> Result<Response, Response> {
    let public = k.private.to_public_key();
    let mut extra = json!({"keyID": id, "expiration": k.expiration});
    if format == "ASN.1" {
        let der = public
            .to_public_key_der()
            .map_err(|_| reply(500, "5C000003", None, json!({})))?;
        extra["key"] = json!(URL_SAFE_NO_PAD.encode(der.as_bytes()));
    } else {
        // Java's BigInteger.toByteArray() style: a leading zero byte keeps the modulus positive.
        let mut modulus = vec![0u8];
        modulus.extend(public.n().to_bytes_be());
        extra["keyModulus"] = json!(URL_SAFE_NO_PAD.encode(modulus));
        extra["keyExponent"] = json!(URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()));
    }
    Ok(reply(200, "0", None, extra))
}

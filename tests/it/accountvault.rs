//! AccountVault (TabaPay Account API) native client against wiremock: the seed's request byte
//! for byte, card encryption, the validation table with zero requests, every endpoint's method,
//! path (with and without sub-client), valueless flags, bearer and body, and the status table.

use crate::common;

use account_updater::provider::{AccountUpdateRequest, HolderData, NewCardData, Provider};
use account_updater::providers::accountvault::wire::{
    Address, Bank, BankAccountType, Card, CardV2, CreateAccount, Device, KeyFormat, Name, Owner,
    OwnerV2, Phone, UpdateAccount, UpdateAccountV2,
};
use account_updater::providers::accountvault::{AccountVaultClient, DuplicateCheck, Warning};
use account_updater::providers::accountvault::{PublicKey, encrypt_card};
use account_updater::transport::{RetryPolicy, TransportConfig};
use account_updater::{CardNumber, Error, ErrorKind, Expiry, ExpiryFormat, SecretString};
use base64::Engine;
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, RsaPrivateKey};
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{body_string, header, method, path, query_param};
use wiremock::{Match, Mock, MockServer, Request, ResponseTemplate};

const CLIENT: &str = "TabaPay_ClientID_22chr";
const TOKEN: &str = "bearer-token-for-tests-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQR";
const ACCOUNT: &str = "TabaPay_AccountID_22ch";
const PAN: &str = "4000056655665556";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/accountvault/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn client(server: &MockServer, sub: Option<&str>) -> AccountVaultClient {
    let mut b = AccountVaultClient::builder(CLIENT, SecretString::from(TOKEN.to_owned()))
        .base_url(Url::parse(&server.uri()).unwrap())
        .transport_config(TransportConfig::default().retry(RetryPolicy::none()));
    if let Some(s) = sub {
        b = b.sub_client_id(s);
    }
    b.build().unwrap()
}

fn seed_owner() -> Owner {
    Owner::new(Name::person("John", "Customer"))
        .with_address(
            Address::default()
                .line1("465 Fairchild Drive")
                .line2("Suite #222")
                .city("Mountain View")
                .state("CA")
                .zipcode("94043"),
        )
        .with_phone(Phone::new("4159808222"))
}

/// The seed's sample, packed, with its Luhn-invalid placeholder number replaced by a real test
/// card (the only change).
fn seed_body_packed() -> String {
    // Pack by dropping whitespace outside strings, keeping the seed's key order.
    let mut out = String::new();
    let mut in_string = false;
    let mut escaped = false;
    for ch in fixture("update_request_seed.json").chars() {
        if in_string {
            match ch {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => in_string = false,
                _ => escaped = false,
            }
            out.push(ch);
        } else if ch == '"' {
            in_string = true;
            out.push(ch);
        } else if !ch.is_whitespace() {
            out.push(ch);
        }
    }
    out.replace("9999999999999999", PAN)
}

struct NoBody;
impl Match for NoBody {
    fn matches(&self, r: &Request) -> bool {
        r.body.is_empty()
    }
}

#[tokio::test]
async fn the_seed_request_packed_is_exactly_what_the_client_sends() {
    let server = MockServer::start().await;
    let packed = seed_body_packed();
    assert!(packed.starts_with(r#"{"card":{"accountNumber":"4000056655665556","expirationDate":"202012"},"owner":{"name""#), "{packed}");
    Mock::given(method("PUT"))
        .and(path(format!("/v1/clients/{CLIENT}/accounts/{ACCOUNT}")))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_string(packed.clone()))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("update_response.json")))
        .expect(1)
        .mount(&server)
        .await;
    let body = UpdateAccount::new(seed_owner()).card(Card::plain(
        CardNumber::parse(PAN).unwrap(),
        Some(Expiry::parse("202012", ExpiryFormat::Yyyymm).unwrap()),
    ));
    assert_eq!(
        String::from_utf8(serde_json::to_vec(&body).unwrap()).unwrap(),
        packed
    );
    let status = client(&server, None)
        .update_account(ACCOUNT, &body, DuplicateCheck::Off)
        .await
        .unwrap();
    assert_eq!(
        (status.sc, status.ec.as_deref(), status.warning()),
        (Some(200), Some("0"), None)
    );
    // The seed's own placeholder number is refused before sending: it fails Luhn.
    assert_eq!(
        CardNumber::parse("9999999999999999").unwrap_err(),
        account_updater::card::CardNumberError::Luhn
    );
}

#[test]
fn encryption_round_trips_with_both_pipes_kept_in_the_url_safe_alphabet() {
    let private = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let key = PublicKey::new("TabaPay_KeyID_22_chars", private.to_public_key());
    let pan = CardNumber::parse(PAN).unwrap();
    let exp = Expiry::parse("202512", ExpiryFormat::Yyyymm).unwrap();
    let csc = SecretString::from("123".to_owned());
    let decrypt = |data: &str| {
        assert!(
            data.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "URL-safe, unpadded: {data}"
        );
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(data)
            .unwrap();
        String::from_utf8(private.decrypt(Oaep::new::<sha2::Sha256>(), &raw).unwrap()).unwrap()
    };
    let cases = [
        (Some(exp), Some(&csc), "4000056655665556|202512|123"),
        (Some(exp), None, "4000056655665556|202512|"),
        (None, None, "4000056655665556||"),
        (None, Some(&csc), "4000056655665556||123"),
    ];
    for (e, c, expected) in cases {
        let a = encrypt_card(&key, &pan, e, c).unwrap();
        let b = encrypt_card(&key, &pan, e, c).unwrap();
        assert_ne!(a, b, "OAEP is randomised: a fresh ciphertext each time");
        assert_eq!(decrypt(&a), expected);
        assert_eq!(decrypt(&b), expected);
    }
    let bad = SecretString::from("12a".to_owned());
    assert_eq!(
        encrypt_card(&key, &pan, None, Some(&bad))
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );

    // Both key formats parse to the same key: Raw with Java's leading zero byte, and ASN.1.
    let public = private.to_public_key();
    let mut modulus = vec![0u8];
    modulus.extend(public.n().to_bytes_be());
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let raw = PublicKey::from_raw("k", &b64(&modulus), &b64(&public.e().to_bytes_be())).unwrap();
    use rsa::pkcs8::EncodePublicKey;
    let der = public.to_public_key_der().unwrap();
    let asn1 = PublicKey::from_asn1("k", &b64(der.as_bytes())).unwrap();
    assert_eq!(raw.rsa(), &public);
    assert_eq!(asn1.rsa(), &public);
    assert!(PublicKey::from_asn1("k", "not*base64").is_err());
}

fn person_owner() -> Owner {
    Owner::new(Name::person("John", "Customer"))
}

fn bank(routing: &str, number: &str) -> Bank {
    Bank::new(
        routing,
        SecretString::from(number.to_owned()),
        BankAccountType::Checking,
    )
}

#[tokio::test]
async fn bad_input_is_a_typed_error_and_nothing_is_sent() {
    let server = MockServer::start().await;
    let c = client(&server, None);
    let card = || Card::plain(CardNumber::parse(PAN).unwrap(), Expiry::new(12, 2030).ok());
    let create = |card: Option<Card>, bank: Option<Bank>, owner: Owner, reference: &str| {
        CreateAccount::new(reference, owner)
            .set_bank(bank)
            .set_card(card)
    };
    let with_address = |a: Address| person_owner().with_address(a);
    let addr = |state: &str, zip: &str, country: Option<&str>| {
        Address::default()
            .line1("1 Main St")
            .city("Town")
            .state(state)
            .zipcode(zip)
            .set_country(country.map(Into::into))
    };
    let mut two_forms = card();
    two_forms.token = Some(SecretString::from("t".repeat(344)));
    let mut company_and_first = Name::company("Acme");
    company_and_first.first = Some("John".into());
    let cases: Vec<(CreateAccount, &str)> = vec![
        (
            create(Some(card()), None, Owner::new(company_and_first), "r1"),
            "owner.name.company",
        ),
        (
            create(
                Some(card()),
                None,
                Owner::new(Name::default().first("J")),
                "r1",
            ),
            "owner.name.last",
        ),
        (
            create(
                Some(card()),
                None,
                Owner::new(Name::person("Jo;hn", "C")),
                "r1",
            ),
            "owner.name.first",
        ),
        (
            create(
                None,
                Some(bank("121000359", "123456789")),
                person_owner(),
                "r1",
            ),
            "bank.routingNumber",
        ),
        (
            create(None, Some(bank("121000358", "123")), person_owner(), "r1"),
            "bank.accountNumber",
        ),
        (
            create(
                Some(card()),
                Some(bank("121000358", "123456789")),
                person_owner(),
                "r1",
            ),
            "bank",
        ),
        (create(None, None, person_owner(), "r1"), "card"),
        (
            create(Some(two_forms), None, person_owner(), "r1"),
            "card.accountNumber",
        ),
        (
            create(
                Some(card()),
                None,
                with_address(addr("CA", "94043", Some("USA"))),
                "r1",
            ),
            "owner.address.country",
        ),
        (
            create(
                Some(card()),
                None,
                with_address(addr("XX", "94043", None)),
                "r1",
            ),
            "owner.address.state",
        ),
        (
            create(
                Some(card()),
                None,
                with_address(addr("CA", "9404", Some("840"))),
                "r1",
            ),
            "owner.address.zipcode",
        ),
        (
            create(
                Some(card()),
                None,
                with_address(addr("ON", "K1A 0B1", Some("840"))),
                "r1",
            ),
            "owner.address.state",
        ),
        (
            create(
                Some(card()),
                None,
                with_address(addr("ON", "K1A0B1", Some("124"))),
                "r1",
            ),
            "owner.address.zipcode",
        ),
        (
            create(
                Some(card()),
                None,
                with_address(addr("CA", "94043", None).line1("1 Main St;")),
                "r1",
            ),
            "owner.address.line1",
        ),
        (
            create(
                Some(card()),
                None,
                person_owner().with_phone(Phone::new("415980822")),
                "r1",
            ),
            "owner.phone.number",
        ),
        (
            create(
                Some(card()),
                None,
                person_owner().with_phone(Phone::new("123").country_code("44")),
                "r1",
            ),
            "owner.phone.number",
        ),
        (
            create(
                Some(card()),
                None,
                person_owner().with_phone(Phone::new("4159808222").country_code("1234")),
                "r1",
            ),
            "owner.phone.countryCode",
        ),
        (
            create(Some(card()), None, person_owner(), "reference-too-long"),
            "referenceID",
        ),
        (
            create(
                Some(Card::token(SecretString::from("short".to_owned()))),
                None,
                person_owner(),
                "r1",
            ),
            "card.token",
        ),
        (
            create(
                Some(Card::encrypted("short", "abc".into())),
                None,
                person_owner(),
                "r1",
            ),
            "card.keyID",
        ),
        (
            create(
                Some(Card::device(Device::new(
                    String::new(),
                    SecretString::from("00".to_owned()),
                ))),
                None,
                person_owner(),
                "r1",
            ),
            "card.device.id",
        ),
    ];
    for (body, field) in cases {
        match c
            .create_account(&body, DuplicateCheck::Off)
            .await
            .unwrap_err()
        {
            Error::InvalidInput(e) => assert_eq!(e.field, field, "{e}"),
            other => panic!("{field}: {other:?}"),
        }
    }
    // Valid variants of the same rules pass validation and are sent: to a server that answers
    // 404 here, so each is refused as NotFound, never as InvalidInput.
    let open = MockServer::start().await;
    let sent_to_open = client(&open, None);
    let valid_owners = [
        with_address(addr("ON", "K1A 0B1", Some("124"))),
        with_address(addr("CA", "940431234", None)),
        with_address(addr("anything", "x", Some("826"))),
        person_owner().with_phone(Phone::new("2039826580").country_code("44")),
    ];
    let valid = valid_owners.len();
    for owner in valid_owners {
        let e = sent_to_open
            .create_account(
                &create(Some(card()), None, owner, "r1"),
                DuplicateCheck::Off,
            )
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    }
    assert_eq!(open.received_requests().await.unwrap().len(), valid);
    // The document's rules: a ZIP+4 is nine digits (no hyphen); line1 and city are required
    // whenever an address is sent.
    let mut no_line1 = addr("CA", "94043", None);
    no_line1.line1 = None;
    let mut no_city = addr("CA", "94043", None);
    no_city.city = None;
    for (bad, field) in [
        (addr("CA", "94043-1234", None), "owner.address.zipcode"),
        (no_line1, "owner.address.line1"),
        (no_city, "owner.address.city"),
    ] {
        let body = create(Some(card()), None, with_address(bad), "r1");
        match c.create_account(&body, DuplicateCheck::Off).await {
            Err(Error::InvalidInput(e)) => assert_eq!(e.field, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    // Builder rules: client id length, sub-client width.
    assert_eq!(
        AccountVaultClient::builder("short", SecretString::from("t".to_owned()))
            .build()
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    for bad_sub in ["123", "12345", "1234567", "abcd"] {
        assert!(
            AccountVaultClient::builder(CLIENT, SecretString::from("t".to_owned()))
                .sub_client_id(bad_sub)
                .build()
                .is_err(),
            "{bad_sub}"
        );
    }
    // v2: empty update; unified: a security code without an encryption key, an email.
    assert_eq!(
        c.update_account_v2(ACCOUNT, &UpdateAccountV2::default())
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    let with_csc = AccountUpdateRequest::new(ACCOUNT).card(
        NewCardData::new(
            Some(CardNumber::parse(PAN).unwrap()),
            Expiry::new(1, 2030).ok(),
        )
        .with_security_code(SecretString::from("123".to_owned())),
    );
    assert!(
        matches!(Provider::update_account(&c, with_csc).await.unwrap_err(), Error::InvalidInput(e) if e.field == "card.security_code")
    );
    let mut holder = HolderData::default();
    holder.email = Some("a@example.com".into());
    assert!(
        matches!(Provider::update_account(&c, AccountUpdateRequest::new(ACCOUNT).holder(holder)).await.unwrap_err(), Error::InvalidInput(e) if e.field == "holder.email")
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn every_endpoint_with_and_without_sub_client() {
    for (sub, client_path) in [
        (None, CLIENT.to_owned()),
        (Some("123456"), format!("{CLIENT}_123456")),
    ] {
        let server = MockServer::start().await;
        let c = client(&server, sub);
        assert_eq!(c.client_path(), client_path);
        let accounts = format!("/v1/clients/{client_path}/accounts");
        let account = format!("{accounts}/{ACCOUNT}");
        let bearer = format!("Bearer {TOKEN}");
        let ok = |b: &str| ResponseTemplate::new(200).set_body_string(b.to_owned());
        Mock::given(method("POST")).and(path(&accounts)).and(header("authorization", bearer.as_str()))
            .and(body_string(r#"{"referenceID":"ref-1","bank":{"routingNumber":"121000358","accountNumber":"123456789","accountType":"C"},"owner":{"name":{"company":"Acme Co"}}}"#))
            .respond_with(ok(r#"{"SC":200,"EC":"0","accountID":"TabaPay_AccountID_22ch"}"#)).expect(1).mount(&server).await;
        Mock::given(method("GET"))
            .and(path(&account))
            .and(NoBody)
            .respond_with(ok(&fixture("retrieve_response.json")))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(&accounts))
            .and(query_param("referenceID", "ref-1"))
            .respond_with(ok(&fixture("retrieve_by_reference_response.json")))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("PUT")).and(path(format!("/v2/clients/{client_path}/accounts/{ACCOUNT}")))
            .and(body_string(r#"{"card":{"expirationDate":"203001"},"owner":{"phone":{"countryCode":"1","number":"4159808222"}}}"#))
            .respond_with(ok(&fixture("update_response.json"))).expect(1).mount(&server).await;
        Mock::given(method("DELETE"))
            .and(path(&account))
            .and(NoBody)
            .respond_with(ok(&fixture("update_response.json")))
            .expect(2)
            .mount(&server)
            .await;
        Mock::given(method("POST")).and(path(format!("/v1/clients/{client_path}/keys"))).and(body_string(r#"{"format":"ASN.1"}"#))
            .respond_with(ok(r#"{"SC":200,"EC":"0","keyID":"TabaPay_KeyID_22_chars","key":"AQAB","expiration":"2027-11-21T00:00:00Z"}"#)).expect(1).mount(&server).await;
        Mock::given(method("GET"))
            .and(path(format!(
                "/v1/clients/{client_path}/keys/TabaPay_KeyID_22_chars"
            )))
            .and(query_param("Format", "Raw"))
            .respond_with(ok(
                r#"{"SC":200,"EC":"0","keyModulus":"AKs","keyExponent":"AQAB"}"#,
            ))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("DELETE"))
            .and(path(format!(
                "/v1/clients/{client_path}/keys/TabaPay_KeyID_22_chars"
            )))
            .respond_with(ok(&fixture("update_response.json")))
            .expect(1)
            .mount(&server)
            .await;

        let created = c
            .create_account(
                &CreateAccount::new("ref-1", Owner::new(Name::company("Acme Co")))
                    .bank(bank("121000358", "123456789")),
                DuplicateCheck::Off,
            )
            .await
            .unwrap();
        assert_eq!(created.account_id.as_deref(), Some(ACCOUNT));
        assert!(created.card.is_none());
        let account = c.retrieve_account(ACCOUNT).await.unwrap();
        assert_eq!(
            account.card.as_ref().unwrap().last4.as_deref(),
            Some("9990")
        );
        assert_eq!(
            account.card.as_ref().unwrap().expiry(),
            Some(Expiry::new(12, 2020).unwrap())
        );
        assert_eq!(
            account
                .owner
                .as_ref()
                .unwrap()
                .address
                .as_ref()
                .unwrap()
                .line2
                .as_deref(),
            Some("Suite #222")
        );
        let by_ref = c.retrieve_by_reference("ref-1").await.unwrap();
        assert_eq!(by_ref.account_id, ACCOUNT);
        let v2 = UpdateAccountV2::default()
            .card(CardV2::default().set_expiration_date(Expiry::new(1, 2030).ok()))
            .owner(OwnerV2::default().phone(Phone::new("4159808222").country_code("1")));
        c.update_account_v2(ACCOUNT, &v2).await.unwrap();
        c.delete_account(ACCOUNT, false).await.unwrap();
        let key = c.create_key(KeyFormat::Asn1).await.unwrap();
        assert_eq!(key.key_id.as_deref(), Some("TabaPay_KeyID_22_chars"));
        assert_eq!(key.expiration.as_deref(), Some("2027-11-21T00:00:00Z"));
        let raw = c
            .retrieve_key("TabaPay_KeyID_22_chars", Some(KeyFormat::Raw))
            .await
            .unwrap();
        assert_eq!(
            raw.key_id.as_deref(),
            Some("TabaPay_KeyID_22_chars"),
            "filled in from the request"
        );
        c.delete_key("TabaPay_KeyID_22_chars").await.unwrap();
        // Bank retrieve decodes too.
        let bank_account: account_updater::providers::accountvault::wire::Account =
            serde_json::from_str(&fixture("retrieve_bank_response.json")).unwrap();
        assert_eq!(
            bank_account.bank.unwrap().account_type,
            Some(BankAccountType::Checking)
        );
        // The delete-with-duplicates flag is valueless.
        server.reset().await;
        Mock::given(method("DELETE"))
            .and(path(format!(
                "/v1/clients/{client_path}/accounts/{ACCOUNT}"
            )))
            .respond_with(ok(&fixture("update_response.json")))
            .expect(1)
            .mount(&server)
            .await;
        c.delete_account(ACCOUNT, true).await.unwrap();
        let received = server.received_requests().await.unwrap();
        assert_eq!(received[0].url.query(), Some("DeleteDuplicateCard"));
    }
}

#[tokio::test]
async fn duplicate_flags_are_valueless_query_keys_per_operation() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("update_response.json")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("create_response.json")))
        .mount(&server)
        .await;
    let c = client(&server, None);
    let body =
        UpdateAccount::new(person_owner()).card(Card::plain(CardNumber::parse(PAN).unwrap(), None));
    let create = CreateAccount::new("r", person_owner())
        .card(Card::plain(CardNumber::parse(PAN).unwrap(), None));
    for check in [
        DuplicateCheck::Off,
        DuplicateCheck::Reject,
        DuplicateCheck::Allow,
    ] {
        c.update_account(ACCOUNT, &body, check).await.unwrap();
        c.create_account(&create, check).await.unwrap();
    }
    let queries: Vec<Option<String>> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.query().map(str::to_owned))
        .collect();
    assert_eq!(
        queries,
        [
            None,
            None,
            Some("RejectDuplicateCard".into()),
            Some("RejectDuplicateCard".into()),
            Some("OKToUpdateDuplicateCard".into()),
            Some("OKToAddDuplicateCard".into())
        ]
    );
}

async fn error_for(status: u16, body: &str) -> Error {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(status).set_body_string(body.to_owned()))
        .mount(&server)
        .await;
    let body =
        UpdateAccount::new(person_owner()).card(Card::plain(CardNumber::parse(PAN).unwrap(), None));
    client(&server, None)
        .update_account(ACCOUNT, &body, DuplicateCheck::Reject)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn the_status_table_maps_onto_the_crate_errors_with_ec_kept() {
    // 207: success with a typed warning.
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(
            ResponseTemplate::new(207).set_body_string(fixture("update_response_207.json")),
        )
        .mount(&server)
        .await;
    let body =
        UpdateAccount::new(person_owner()).card(Card::plain(CardNumber::parse(PAN).unwrap(), None));
    let status = client(&server, None)
        .update_account(ACCOUNT, &body, DuplicateCheck::Reject)
        .await
        .unwrap();
    assert_eq!(
        status.warning(),
        Some(Warning::DuplicateCheckFailed {
            ec: Some("3C207000".into())
        })
    );

    match error_for(409, &fixture("conflict_409.json")).await {
        Error::Conflict {
            duplicates, detail, ..
        } => {
            assert_eq!(duplicates, ["ih0V8HSE2S6gAUqCkG29uw"]);
            assert_eq!(
                (
                    detail.status,
                    detail.code.as_deref(),
                    detail.message.as_deref()
                ),
                (Some(409), Some("3C463000"), Some("Duplicate"))
            );
        }
        other => panic!("{other:?}"),
    }
    let table: &[(u16, &str, ErrorKind)] = &[
        (
            400,
            r#"{"SC":400,"EC":"3C304949","EM":"accountID"}"#,
            ErrorKind::Provider,
        ),
        (401, r#"{"SC":401,"EC":"1C000001"}"#, ErrorKind::Auth),
        (403, r#"{"SC":403,"EC":"1C000003"}"#, ErrorKind::Auth),
        (
            404,
            r#"{"SC":404,"EC":"10000000","EM":"AccountID"}"#,
            ErrorKind::NotFound,
        ),
        (405, r#"{"SC":405,"EC":"1C000405"}"#, ErrorKind::Provider),
        (406, "<html>WAF</html>", ErrorKind::Provider),
        (
            410,
            r#"{"SC":410,"EC":"50000000","EM":"Deleted"}"#,
            ErrorKind::NotFound,
        ),
        (415, r#"{"SC":415,"EC":"1C000002"}"#, ErrorKind::Provider),
        (421, &fixture("error_421.json"), ErrorKind::Provider),
        (
            422,
            r#"{"SC":422,"EC":"3C422000","EM":"Transaction Limit"}"#,
            ErrorKind::Provider,
        ),
        (423, r#"{"SC":423,"EC":"3C423000"}"#, ErrorKind::Provider),
        (429, &fixture("key_error_429.json"), ErrorKind::RateLimited),
        (431, r#"{"SC":431,"EC":"3C431000"}"#, ErrorKind::Provider),
        (500, r#"{"SC":500,"EC":"5C000001"}"#, ErrorKind::Provider),
        (503, "", ErrorKind::Provider),
    ];
    for (status, body, kind) in table {
        let e = error_for(*status, body).await;
        assert_eq!(e.kind(), *kind, "{status}: {e:?}");
        if let Some(d) = e.provider_detail() {
            assert_eq!(d.status, Some(*status));
            if let Ok(v) = serde_json::from_str::<Value>(body) {
                assert_eq!(d.code.as_deref(), v["EC"].as_str(), "EC kept for {status}");
            }
        }
    }
    let e = error_for(421, &fixture("error_421.json")).await;
    assert_eq!(
        e.provider_detail().unwrap().field.as_deref(),
        Some("ReferenceID")
    );
}

#[tokio::test]
async fn unified_update_picks_v1_or_v2_and_keeps_the_owner() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v1/clients/{CLIENT}/accounts/{ACCOUNT}")))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("retrieve_response.json")))
        .expect(2)
        .mount(&server)
        .await;
    // New number: v1 with the stored owner, the client's duplicate policy.
    let expected_v1 = json!({"card": {"accountNumber": PAN, "expirationDate": "203001"}, "owner": serde_json::from_str::<Value>(&fixture("retrieve_response.json")).unwrap()["owner"]});
    Mock::given(method("PUT"))
        .and(path(format!("/v1/clients/{CLIENT}/accounts/{ACCOUNT}")))
        .and(query_param("RejectDuplicateCard", ""))
        .and(JsonEq(expected_v1))
        .respond_with(
            ResponseTemplate::new(207).set_body_string(fixture("update_response_207.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    // Expiry and address only: v2, the address merged field by field with the stored one (the
    // caller gave no line2, so the stored one stays) and sent whole.
    Mock::given(method("PUT")).and(path(format!("/v2/clients/{CLIENT}/accounts/{ACCOUNT}")))
        .and(JsonEq(json!({"card": {"expirationDate": "203102"}, "owner": {"address": {"line1": "1 New Street", "line2": "Suite #222", "city": "Austin", "state": "TX", "zipcode": "73301", "country": "840"}}})))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("update_response.json"))).expect(1).mount(&server).await;
    let c = AccountVaultClient::builder(CLIENT, SecretString::from(TOKEN.to_owned()))
        .base_url(Url::parse(&server.uri()).unwrap())
        .duplicate_check(DuplicateCheck::Reject)
        .build()
        .unwrap();
    let r = Provider::update_account(
        &c,
        AccountUpdateRequest::new(ACCOUNT).card(NewCardData::new(
            Some(CardNumber::parse(PAN).unwrap()),
            Expiry::new(1, 2030).ok(),
        )),
    )
    .await
    .unwrap();
    assert_eq!(r.raw_code, "SC=207 EC=3C207000");
    assert!(r.warning.unwrap().contains("duplicate-card check failed"));
    let mut holder = HolderData::default();
    let mut address = account_updater::provider::Address::default();
    address.line1 = Some("1 New Street".into());
    address.city = Some("Austin".into());
    address.state = Some("TX".into());
    address.postal_code = Some("73301".into());
    address.country = Some("US".into());
    holder.address = Some(address);
    let r = Provider::update_account(
        &c,
        AccountUpdateRequest::new(ACCOUNT)
            .card(NewCardData::new(None, Expiry::new(2, 2031).ok()))
            .holder(holder),
    )
    .await
    .unwrap();
    assert_eq!(r.raw_code, "SC=200 EC=0");
    assert!(r.warning.is_none());
}

struct JsonEq(Value);
impl Match for JsonEq {
    fn matches(&self, r: &Request) -> bool {
        serde_json::from_slice::<Value>(&r.body).ok().as_ref() == Some(&self.0)
    }
}

#[test]
fn types_holding_secrets_never_print_them() {
    let c = AccountVaultClient::builder(CLIENT, SecretString::from(TOKEN.to_owned()))
        .build()
        .unwrap();
    let card = Card::plain(CardNumber::parse(PAN).unwrap(), None);
    let token = Card::token(SecretString::from("TOKENVALUE".repeat(34)));
    let device = Card::device(Device::new(
        "dev",
        SecretString::from("DEADBEEF00".to_owned()),
    ));
    let enc = Card::encrypted("TabaPay_KeyID_22_chars", "CIPHERTEXTVALUE".into());
    let b = bank("121000358", "987654321012");
    let shown = format!("{c:?} {card:?} {token:?} {device:?} {enc:?} {b:?}");
    common::assert_no_leak(
        &shown,
        &[PAN, "987654321012"],
        &[TOKEN, "TOKENVALUE", "DEADBEEF00", "CIPHERTEXTVALUE"],
    );
    assert!(shown.contains("****1012"));
}

#[tokio::test]
async fn a_500_for_an_encrypted_card_is_not_repeated_and_a_429_keeps_ec_and_em() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(
            ResponseTemplate::new(500).set_body_string(r#"{"SC":500,"EC":"5C000001","EM":"data"}"#),
        )
        .mount(&server)
        .await;
    // Retries on: a 500 for a plain PUT would be tried again, but TabaPay answers 500 to an
    // RSA blob it cannot decrypt, and the same blob fails the same way.
    let retrying = AccountVaultClient::builder(CLIENT, SecretString::from(TOKEN.to_owned()))
        .base_url(Url::parse(&server.uri()).unwrap())
        .transport_config(
            TransportConfig::default().retry(
                RetryPolicy::default()
                    .max_attempts(3)
                    .initial_backoff(std::time::Duration::from_millis(1))
                    .max_backoff(std::time::Duration::from_millis(1))
                    .max_retry_after(std::time::Duration::from_secs(1)),
            ),
        )
        .build()
        .unwrap();
    let encrypted = UpdateAccount::new(person_owner()).card(Card::encrypted(
        "TabaPay_KeyID_22_chars",
        "CIPHERTEXTVALUE".into(),
    ));
    let err = retrying
        .update_account(ACCOUNT, &encrypted, DuplicateCheck::Off)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Provider);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    let plain =
        UpdateAccount::new(person_owner()).card(Card::plain(CardNumber::parse(PAN).unwrap(), None));
    retrying
        .update_account(ACCOUNT, &plain, DuplicateCheck::Off)
        .await
        .unwrap_err();
    assert_eq!(server.received_requests().await.unwrap().len(), 4);

    let e = error_for(429, &fixture("key_error_429.json")).await;
    let d = e
        .provider_detail()
        .expect("a 429 keeps the provider's detail");
    assert_eq!(d.code.as_deref(), Some("3C429000"));
    assert_eq!(d.message.as_deref(), Some("Keys Created"));
}

/// Update Account v1 replaces the whole account: the unified update merges what the caller
/// gives into the stored owner field by field, and refuses before the PUT whatever would make
/// it drop stored data.
#[tokio::test]
async fn the_v1_replace_never_drops_stored_data() {
    let server = MockServer::start().await;
    let stored: Value = serde_json::from_str(&fixture("retrieve_response.json")).unwrap();
    Mock::given(method("GET"))
        .and(path(format!("/v1/clients/{CLIENT}/accounts/{ACCOUNT}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(stored.clone()))
        .mount(&server)
        .await;
    // Only the last name and the ZIP+4 change: first name, street, city, state, country and
    // phone are carried over; the ZIP+4 goes as nine digits.
    let mut owner = stored["owner"].clone();
    owner["name"]["last"] = json!("Newname");
    owner["address"]["zipcode"] = json!("940431234");
    Mock::given(method("PUT"))
        .and(path(format!("/v1/clients/{CLIENT}/accounts/{ACCOUNT}")))
        .and(JsonEq(
            json!({"card": {"accountNumber": PAN, "expirationDate": "203001"}, "owner": owner}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_string(fixture("update_response.json")))
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server, None);
    let mut holder = HolderData::default();
    holder.last_name = Some("Newname".into());
    let mut address = account_updater::provider::Address::default();
    address.postal_code = Some("94043-1234".into());
    holder.address = Some(address);
    let new_card = || {
        NewCardData::new(
            Some(CardNumber::parse(PAN).unwrap()),
            Expiry::new(1, 2030).ok(),
        )
    };
    Provider::update_account(
        &c,
        AccountUpdateRequest::new(ACCOUNT)
            .card(new_card())
            .holder(holder),
    )
    .await
    .unwrap();
    let sent = server.received_requests().await.unwrap().len();

    // Refused before any request: a new number without its expiry, a name on the card (on the
    // v1 path and on the v2 path alike).
    for request in [
        AccountUpdateRequest::new(ACCOUNT).card(NewCardData::new(
            Some(CardNumber::parse(PAN).unwrap()),
            None,
        )),
        AccountUpdateRequest::new(ACCOUNT).card(new_card().with_holder_name("J CUSTOMER")),
        AccountUpdateRequest::new(ACCOUNT)
            .card(NewCardData::new(None, Expiry::new(1, 2030).ok()).with_holder_name("J C")),
    ] {
        let e = Provider::update_account(&c, request).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
    assert_eq!(server.received_requests().await.unwrap().len(), sent);

    // Refused after the retrieve, before the replace: a stored bank account, and stored owner
    // fields the crate does not model.
    for (tag, body) in [
        ("bank", {
            let mut v = stored.clone();
            v["bank"] = json!({"last4": "1012", "accountType": "C"});
            v
        }),
        ("owner field", {
            let mut v = stored.clone();
            v["owner"]["name"]["nickname"] = json!("JC");
            v
        }),
    ] {
        let other = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&other)
            .await;
        let c = client(&other, None);
        let e = Provider::update_account(&c, AccountUpdateRequest::new(ACCOUNT).card(new_card()))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{tag}: {e}");
        let methods: Vec<_> = other
            .received_requests()
            .await
            .unwrap()
            .iter()
            .map(|r| r.method.to_string())
            .collect();
        assert_eq!(methods, ["GET"], "{tag}: nothing replaced");
    }
}

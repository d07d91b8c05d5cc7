//! AccountVault end to end against the embedded emulator: the example's flow (key, create,
//! plain and encrypted updates, 409 duplicate, retrieve, delete), the emulator decrypting what
//! the client encrypted, the duplicate-flag semantics, 207 / 410 / 421 / 429, bearer and packing
//! checks, and no PAN or token in the `tracing` output.

use crate::common;

use account_updater::providers::accountvault::wire::{
    Card, CardV2, CreateAccount, KeyFormat, Name, Owner, UpdateAccount, UpdateAccountV2,
};
use account_updater::providers::accountvault::{
    AccountVaultClient, DuplicateCheck, PublicKey, Warning, encrypt_card,
};
use account_updater::transport::{RetryPolicy, TransportConfig};
use account_updater::{CardNumber, Error, ErrorKind, Expiry, ExposeSecret, SecretString};
use account_updater::{
    ids::Flow,
    provider::{AccountUpdateRequest, NewCardData, Provider},
};
use account_updater_emulator::accountvault::AccountVaultEmulator;

const PANS: [&str; 3] = ["4000056655665556", "5194560012341234", "4457010000000009"];

fn client(emu: &AccountVaultEmulator) -> AccountVaultClient {
    AccountVaultClient::builder(emu.client_id(), emu.token())
        .base_url(emu.base_url())
        .transport_config(TransportConfig::default().retry(RetryPolicy::none()))
        .build()
        .unwrap()
}

fn owner() -> Owner {
    Owner::new(Name::person("John", "Customer"))
}

fn create(reference: &str, pan: &str) -> CreateAccount {
    CreateAccount::new(reference, owner()).card(Card::plain(
        CardNumber::parse(pan).unwrap(),
        Expiry::new(12, 2030).ok(),
    ))
}

#[tokio::test]
async fn the_example_flow_and_the_emulator_decrypts_what_the_client_encrypted() {
    let logs = common::capture_traces();
    let emu = AccountVaultEmulator::start().await.unwrap();
    let c = client(&emu);
    assert_eq!(
        c.capabilities().flows().collect::<Vec<_>>(),
        [Flow::UpdateAccount]
    );

    let key = c.create_key(KeyFormat::Raw).await.unwrap();
    assert!(
        key.key_modulus.as_deref().unwrap().starts_with('A'),
        "Java-style leading zero byte"
    );
    let public = PublicKey::from_key(&key).unwrap();
    // The ASN.1 form of the same key parses to the same public key.
    let asn1 = c
        .retrieve_key(public.key_id(), Some(KeyFormat::Asn1))
        .await
        .unwrap();
    assert_eq!(PublicKey::from_key(&asn1).unwrap().rsa(), public.rsa());

    let created = c
        .create_account(&create("ref-e2e", PANS[0]), DuplicateCheck::Reject)
        .await
        .unwrap();
    let id = created.account_id.clone().unwrap();
    assert_eq!(id.len(), 22);
    assert!(
        created.card.is_none(),
        "no card summary for a card sent in clear"
    );

    c.update_account(
        &id,
        &UpdateAccount::new(owner()).card(Card::plain(
            CardNumber::parse(PANS[1]).unwrap(),
            Expiry::new(12, 2031).ok(),
        )),
        DuplicateCheck::Reject,
    )
    .await
    .unwrap();
    assert_eq!(
        c.retrieve_account(&id)
            .await
            .unwrap()
            .card
            .unwrap()
            .last4
            .as_deref(),
        Some("1234")
    );

    // Encrypted: the emulator's private key decrypts PAN|YYYYMM|CSC; the stored card proves it.
    let csc = SecretString::from("987".to_owned());
    let data = encrypt_card(
        &public,
        &CardNumber::parse(PANS[2]).unwrap(),
        Expiry::new(1, 2032).ok(),
        Some(&csc),
    )
    .unwrap();
    c.update_account(
        &id,
        &UpdateAccount::new(owner()).card(Card::encrypted(public.key_id(), data)),
        DuplicateCheck::Reject,
    )
    .await
    .unwrap();
    let stored = c.retrieve_account(&id).await.unwrap();
    let card = stored.card.unwrap();
    assert_eq!(
        (card.last4.as_deref(), card.expiry()),
        (Some("0009"), Expiry::new(1, 2032).ok())
    );
    // A ciphertext under another key is a 500, as TabaPay documents for a bad blob.
    let other = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 1024).unwrap();
    let wrong = encrypt_card(
        &PublicKey::new("x", other.to_public_key()),
        &CardNumber::parse(PANS[2]).unwrap(),
        None,
        None,
    )
    .unwrap();
    let e = c
        .update_account(
            &id,
            &UpdateAccount::new(owner()).card(Card::encrypted(public.key_id(), wrong)),
            DuplicateCheck::Off,
        )
        .await
        .unwrap_err();
    assert_eq!(e.provider_detail().unwrap().status, Some(500));
    // Created with encrypted data: the answer carries last4 and expiry.
    let data = encrypt_card(
        &public,
        &CardNumber::parse(PANS[0]).unwrap(),
        Expiry::new(3, 2033).ok(),
        None,
    )
    .unwrap();
    let enc = c
        .create_account(
            &CreateAccount::new("ref-enc", owner()).card(Card::encrypted(public.key_id(), data)),
            DuplicateCheck::Off,
        )
        .await
        .unwrap();
    assert_eq!(enc.card.unwrap().last4.as_deref(), Some("5556"));

    // Duplicate of the encrypted card with RejectDuplicateCard: 409 naming the newest ids.
    match c
        .create_account(&create("ref-dup", PANS[2]), DuplicateCheck::Reject)
        .await
        .unwrap_err()
    {
        Error::Conflict {
            duplicates, detail, ..
        } => {
            assert_eq!(duplicates, vec![id.clone()]);
            assert_eq!(detail.code.as_deref(), Some("3C463000"));
        }
        other => panic!("{other:?}"),
    }

    let by_ref = c.retrieve_by_reference("ref-e2e").await.unwrap();
    assert_eq!(by_ref.account_id, id);
    c.delete_account(&id, false).await.unwrap();
    let gone = c.delete_account(&id, false).await.unwrap_err();
    assert_eq!(
        (gone.kind(), gone.provider_detail().unwrap().status),
        (ErrorKind::NotFound, Some(410))
    );
    c.delete_key(public.key_id()).await.unwrap();
    let e = c.delete_key(public.key_id()).await.unwrap_err();
    assert_eq!(
        e.provider_detail().unwrap().code.as_deref(),
        Some("50000000")
    );
    let e = c
        .retrieve_key("NoSuchKeyId00000000000", None)
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.provider_detail().unwrap().code.as_deref()),
        (ErrorKind::NotFound, Some("10000000"))
    );

    common::assert_no_leak(
        &logs.contents(),
        &PANS,
        // A 3-digit code cannot be searched for in logs full of timestamps; the plaintext
        // layout around it can.
        &[emu.token().expose_secret(), "|203201|987"],
    );
}

#[tokio::test]
async fn duplicate_flags_behave_as_documented() {
    let emu = AccountVaultEmulator::start().await.unwrap();
    let c = client(&emu);
    let mut ids = Vec::new();
    for i in 0..4 {
        // No flag and OK-to-add both create despite the duplicate.
        let check = if i % 2 == 0 {
            DuplicateCheck::Off
        } else {
            DuplicateCheck::Allow
        };
        ids.push(
            c.create_account(&create(&format!("same-{i}"), PANS[0]), check)
                .await
                .unwrap()
                .account_id
                .unwrap(),
        );
    }
    match c
        .create_account(&create("same-x", PANS[0]), DuplicateCheck::Reject)
        .await
        .unwrap_err()
    {
        Error::Conflict { duplicates, .. } => assert_eq!(
            duplicates,
            [ids[3].clone(), ids[2].clone(), ids[1].clone()],
            "the 3 newest"
        ),
        other => panic!("{other:?}"),
    }
    // Update: reject when another account holds the card; OK-to-update proceeds.
    let lone = c
        .create_account(&create("lone", PANS[1]), DuplicateCheck::Reject)
        .await
        .unwrap()
        .account_id
        .unwrap();
    let to_dup =
        UpdateAccount::new(owner()).card(Card::plain(CardNumber::parse(PANS[0]).unwrap(), None));
    assert_eq!(
        c.update_account(&lone, &to_dup, DuplicateCheck::Reject)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
    assert_eq!(
        c.update_account(&lone, &to_dup, DuplicateCheck::Allow)
            .await
            .unwrap()
            .sc,
        Some(200)
    );
    // Other accounts still hold the card: still a conflict for ids[0]...
    assert_eq!(
        c.update_account(&ids[0], &to_dup, DuplicateCheck::Reject)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );
    // ...but an account's own card is not a duplicate of itself.
    let solo = c
        .create_account(&create("solo", "6011010000000003"), DuplicateCheck::Reject)
        .await
        .unwrap()
        .account_id
        .unwrap();
    let same = UpdateAccount::new(owner()).card(Card::plain(
        CardNumber::parse("6011010000000003").unwrap(),
        None,
    ));
    assert_eq!(
        c.update_account(&solo, &same, DuplicateCheck::Reject)
            .await
            .unwrap()
            .sc,
        Some(200)
    );
    // A 207: done, but the check failed upstream.
    emu.fail_next_duplicate_check();
    let s = c
        .create_account(&create("multi", PANS[2]), DuplicateCheck::Reject)
        .await
        .unwrap();
    assert_eq!(
        s.status.warning(),
        Some(Warning::DuplicateCheckFailed {
            ec: Some("3C207000".into())
        })
    );
    // Delete with DeleteDuplicateCard removes every account with the card.
    c.delete_account(&ids[0], true).await.unwrap();
    for id in &ids {
        assert_eq!(
            c.retrieve_account(id)
                .await
                .unwrap_err()
                .provider_detail()
                .unwrap()
                .status,
            Some(410)
        );
    }
}

#[tokio::test]
async fn reference_window_keys_limit_v2_and_unified_update() {
    let emu = AccountVaultEmulator::start().await.unwrap();
    let c = client(&emu);
    let id = c
        .create_account(&create("ref-421", PANS[0]), DuplicateCheck::Off)
        .await
        .unwrap()
        .account_id
        .unwrap();
    emu.expire_reference_ids();
    let e = c.retrieve_by_reference("ref-421").await.unwrap_err();
    assert_eq!(
        (e.kind(), e.provider_detail().unwrap().status),
        (ErrorKind::Provider, Some(421))
    );
    // Reference ids are unique.
    assert_eq!(
        c.create_account(&create("ref-421", PANS[1]), DuplicateCheck::Off)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Conflict
    );

    let first_key = c.create_key(KeyFormat::Asn1).await.unwrap();
    c.create_key(KeyFormat::Raw).await.unwrap();
    assert_eq!(
        c.create_key(KeyFormat::Raw).await.unwrap_err().kind(),
        ErrorKind::RateLimited,
        "at most two active keys"
    );

    c.update_account_v2(
        &id,
        &UpdateAccountV2::default()
            .card(CardV2::default().set_expiration_date(Expiry::new(6, 2034).ok())),
    )
    .await
    .unwrap();
    assert_eq!(
        c.retrieve_account(&id)
            .await
            .unwrap()
            .card
            .unwrap()
            .expiry(),
        Expiry::new(6, 2034).ok()
    );

    // Unified: new number → v1 keeping the owner; expiry only → v2.
    let r = Provider::update_account(
        &c,
        AccountUpdateRequest::new(&id).card(NewCardData::new(
            Some(CardNumber::parse(PANS[2]).unwrap()),
            Expiry::new(9, 2035).ok(),
        )),
    )
    .await
    .unwrap();
    assert_eq!(r.raw_code, "SC=200 EC=0");
    let a = c.retrieve_account(&id).await.unwrap();
    assert_eq!(
        (
            a.card.as_ref().unwrap().last4.as_deref(),
            a.owner.unwrap().name.first.as_deref()
        ),
        (Some("0009"), Some("John"))
    );
    Provider::update_account(
        &c,
        AccountUpdateRequest::new(&id).card(NewCardData::new(None, Expiry::new(10, 2036).ok())),
    )
    .await
    .unwrap();
    assert_eq!(
        c.retrieve_account(&id)
            .await
            .unwrap()
            .card
            .unwrap()
            .expiry(),
        Expiry::new(10, 2036).ok()
    );
    // With an encryption key configured, the unified update encrypts (and may carry a CSC).
    let key = PublicKey::from_key(&first_key).unwrap();
    let enc_client = AccountVaultClient::builder(emu.client_id(), emu.token())
        .base_url(emu.base_url())
        .encryption_key(key)
        .build()
        .unwrap();
    let data = NewCardData::new(
        Some(CardNumber::parse(PANS[1]).unwrap()),
        Expiry::new(2, 2037).ok(),
    )
    .with_security_code(SecretString::from("123".to_owned()));
    Provider::update_account(&enc_client, AccountUpdateRequest::new(&id).card(data))
        .await
        .unwrap();
    assert_eq!(
        c.retrieve_account(&id)
            .await
            .unwrap()
            .card
            .unwrap()
            .last4
            .as_deref(),
        Some("1234")
    );
}

#[tokio::test]
async fn bearer_packing_and_content_type_are_checked() {
    let emu = AccountVaultEmulator::start().await.unwrap();
    let wrong = AccountVaultClient::builder(emu.client_id(), SecretString::from("nope".to_owned()))
        .base_url(emu.base_url())
        .build()
        .unwrap();
    assert_eq!(
        wrong.retrieve_account("x").await.unwrap_err().kind(),
        ErrorKind::Auth
    );
    let http = reqwest::Client::new();
    let url = emu
        .base_url()
        .join(&format!("v1/clients/{}/accounts", emu.client_id()))
        .unwrap();
    let bearer = format!("Bearer {}", emu.token().expose_secret());
    let pretty = "{\n  \"referenceID\": \"r\"\n}";
    let r = http
        .post(url.clone())
        .header("authorization", &bearer)
        .header("content-type", "application/json")
        .body(pretty)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("not packed"));
    let r = http
        .post(url.clone())
        .header("authorization", &bearer)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    let sub = emu
        .base_url()
        .join(&format!("v1/clients/{}_12345/accounts/x", emu.client_id()))
        .unwrap();
    assert_eq!(
        http.get(sub)
            .header("authorization", &bearer)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404,
        "a 5-digit sub-client is not valid"
    );
    let flagged = emu
        .base_url()
        .join(&format!(
            "v2/clients/{}/accounts/x?RejectDuplicateCard",
            emu.client_id()
        ))
        .unwrap();
    let r = http
        .put(flagged)
        .header("authorization", &bearer)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400, "no duplicate flags on v2");
    // With a sub-client the same account space is reachable.
    let sub_client = AccountVaultClient::builder(emu.client_id(), emu.token())
        .base_url(emu.base_url())
        .sub_client_id("1234")
        .build()
        .unwrap();
    let id = sub_client
        .create_account(&create("via-sub", PANS[0]), DuplicateCheck::Off)
        .await
        .unwrap()
        .account_id
        .unwrap();
    assert!(client(&emu).retrieve_account(&id).await.is_ok());
}

/// The unified update encrypts with the configured OAEP mode and says which in `mode`; the
/// emulator decrypts mode 2 (SHA-256) and mode 1 ("Java OAEP", MGF1-SHA1), and a blob whose
/// declared mode is not the one it was made with fails as TabaPay documents for a bad blob.
#[tokio::test]
async fn both_oaep_modes_are_sent_explicitly_and_decrypted() {
    use account_updater::providers::accountvault::{OaepMode, encrypt_card_with};
    let emu = AccountVaultEmulator::start().await.unwrap();
    let plain = client(&emu);
    let key = plain.create_key(KeyFormat::Asn1).await.unwrap();
    let public = PublicKey::from_key(&key).unwrap();
    let id = plain
        .create_account(&create("ref-modes", PANS[0]), DuplicateCheck::Off)
        .await
        .unwrap()
        .account_id
        .unwrap();
    for (mode, number, pan) in [
        (OaepMode::Sha256, 2u8, PANS[1]),
        (OaepMode::JavaSha256Mgf1Sha1, 1, PANS[2]),
    ] {
        assert_eq!(mode.mode(), number);
        let card = Card::encrypted_with(public.key_id(), "x".into(), mode);
        assert_eq!(
            serde_json::to_value(&card).unwrap()["mode"],
            serde_json::json!(number),
            "the mode is always sent"
        );
        let c = AccountVaultClient::builder(emu.client_id(), emu.token())
            .base_url(emu.base_url())
            .transport_config(TransportConfig::default().retry(RetryPolicy::none()))
            .encryption_key(public.clone())
            .oaep_mode(mode)
            .build()
            .unwrap();
        Provider::update_account(
            &c,
            AccountUpdateRequest::new(&id).card(
                NewCardData::new(
                    Some(CardNumber::parse(pan).unwrap()),
                    Expiry::new(4, 2034).ok(),
                )
                .with_security_code(SecretString::from("321".to_owned())),
            ),
        )
        .await
        .unwrap();
        let stored = c.retrieve_account(&id).await.unwrap().card.unwrap();
        assert_eq!(
            (stored.last4.as_deref(), stored.expiry()),
            (Some(&pan[pan.len() - 4..]), Expiry::new(4, 2034).ok()),
            "{mode:?}"
        );
    }
    // Made with mode 1, declared as mode 2: undecryptable, SC=500.
    let data = encrypt_card_with(
        &public,
        OaepMode::JavaSha256Mgf1Sha1,
        &CardNumber::parse(PANS[1]).unwrap(),
        None,
        None,
    )
    .unwrap();
    let e = plain
        .update_account(
            &id,
            &UpdateAccount::new(owner()).card(Card::encrypted_with(
                public.key_id(),
                data,
                OaepMode::Sha256,
            )),
            DuplicateCheck::Off,
        )
        .await
        .unwrap_err();
    assert_eq!(e.provider_detail().unwrap().status, Some(500));
}

/// The emulator answering as the status table allows and a normalising server would: Create
/// Account with 207 and no `accountID`, Retrieve Account with the owner normalised. Create
/// recovers the id by reference id; the unified replace carries the normalised owner over and
/// sends the ZIP+4 as nine digits, as the document asks.
#[tokio::test]
async fn creates_without_an_id_and_normalised_owners_are_handled() {
    use account_updater::provider::HolderData;
    use account_updater_emulator::accountvault::AccountVaultEmulatorConfig;
    let emu = AccountVaultEmulator::start_with(
        AccountVaultEmulatorConfig::default()
            .create_207_without_account_id(true)
            .retrieve_normalised_owner(true)
            .key_bits(1024),
    )
    .await
    .unwrap();
    let c = client(&emu);
    let mut body = create("ref-207", PANS[0]);
    body.owner = Owner::new(Name::person("Ada", "Lovelace")).with_address(
        account_updater::providers::accountvault::wire::Address::default()
            .line1("1 Main St")
            .city("Austin")
            .state("TX")
            .zipcode("73301"),
    );
    let created = c.create_account(&body, DuplicateCheck::Off).await.unwrap();
    assert_eq!(created.status.sc, Some(207));
    let id = created
        .account_id
        .clone()
        .expect("recovered by reference id");
    assert_eq!(
        c.retrieve_by_reference("ref-207").await.unwrap().account_id,
        id
    );

    // A new card with only a new first name: the normalised stored owner is carried over.
    let mut holder = HolderData::default();
    holder.first_name = Some("Augusta".into());
    Provider::update_account(
        &c,
        AccountUpdateRequest::new(&id)
            .card(NewCardData::new(
                Some(CardNumber::parse(PANS[1]).unwrap()),
                Expiry::new(6, 2033).ok(),
            ))
            .holder(holder),
    )
    .await
    .unwrap();
    let owner = c.retrieve_account(&id).await.unwrap().owner.unwrap();
    assert_eq!(
        (owner.name.first.as_deref(), owner.name.last.as_deref()),
        (Some("AUGUSTA"), Some("LOVELACE")),
        "the new first name and the stored last name"
    );
    let address = owner.address.unwrap();
    assert_eq!(
        (address.line1.as_deref(), address.city.as_deref()),
        (Some("1 Main St"), Some("Austin"))
    );
    // The retrieve said "73301-0000"; it went back as the nine digits the document asks for
    // (a hyphenated ZIP+4 fails the document's rule, and the update would have been refused).
    assert_eq!(address.zipcode.as_deref(), Some("733010000"));
}

/// TabaPay spells Update Account's allow flag two ways (`OKToUpdateDuplicateCard` in the
/// page's URL lines, `OKToAddDuplicateCard` in its query-string list and OpenAPI file): the
/// emulator accepts both by default, can be held to either, and the client sends whichever
/// the caller chose, so it works under either reading.
#[tokio::test]
async fn the_update_allow_flag_works_under_either_documented_spelling() {
    use account_updater::providers::accountvault::UpdateAllowFlag;
    use account_updater_emulator::accountvault::{AccountVaultEmulatorConfig, AllowFlagSpelling};
    let body =
        UpdateAccount::new(owner()).card(Card::plain(CardNumber::parse(PANS[2]).unwrap(), None));
    for (server, flag, accepted) in [
        (AllowFlagSpelling::Both, UpdateAllowFlag::OkToUpdate, true),
        (AllowFlagSpelling::Both, UpdateAllowFlag::OkToAdd, true),
        (
            AllowFlagSpelling::OkToUpdateOnly,
            UpdateAllowFlag::OkToUpdate,
            true,
        ),
        (
            AllowFlagSpelling::OkToUpdateOnly,
            UpdateAllowFlag::OkToAdd,
            false,
        ),
        (
            AllowFlagSpelling::OkToAddOnly,
            UpdateAllowFlag::OkToAdd,
            true,
        ),
        (
            AllowFlagSpelling::OkToAddOnly,
            UpdateAllowFlag::OkToUpdate,
            false,
        ),
    ] {
        let emu = AccountVaultEmulator::start_with(
            AccountVaultEmulatorConfig::default().update_allow_flags(server),
        )
        .await
        .unwrap();
        let c = AccountVaultClient::builder(emu.client_id(), emu.token())
            .base_url(emu.base_url())
            .transport_config(TransportConfig::default().retry(RetryPolicy::none()))
            .update_allow_flag(flag)
            .build()
            .unwrap();
        let id = c
            .create_account(&create("acct", PANS[1]), DuplicateCheck::Off)
            .await
            .unwrap()
            .account_id
            .unwrap();
        let result = c.update_account(&id, &body, DuplicateCheck::Allow).await;
        match (accepted, result) {
            (true, Ok(status)) => assert_eq!(status.sc, Some(200), "{server:?} {flag:?}"),
            (false, Err(e)) => {
                assert_eq!(e.kind(), ErrorKind::Provider, "{server:?} {flag:?}: {e}")
            }
            (expected, got) => {
                panic!("{server:?} {flag:?}: expected accepted={expected}, got {got:?}")
            }
        }
    }
}

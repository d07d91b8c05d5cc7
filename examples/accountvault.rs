//! AccountVault (TabaPay Account API): create an RSA key, create an account, update it with a
//! card in clear, update it with an encrypted card, trigger and show a 409 duplicate with
//! `RejectDuplicateCard`, retrieve it (masked), and delete everything.
//!
//! ```sh
//! cargo run --example accountvault                 # on the embedded emulator
//! ACCOUNTVAULT_CLIENT_ID=… ACCOUNTVAULT_TOKEN=… ACCOUNTVAULT_BASE_URL=https://FQDN:PORT \
//!   cargo run --example accountvault               # optional ACCOUNTVAULT_SUB_CLIENT_ID
//! ```
//! Exits non-zero on any failed step.

mod common;

use account_updater::providers::accountvault::wire::{
    Address, Card, CreateAccount, KeyFormat, Name, Owner, Phone, UpdateAccount,
};
use account_updater::providers::accountvault::{DuplicateCheck, PublicKey, encrypt_card};
use account_updater::{CardNumber, Error, Expiry, SecretString};
use common::{OrExit, step};

fn owner() -> Owner {
    Owner::new(Name::person("John", "Customer"))
        .with_address(
            Address::default()
                .line1("465 Fairchild Drive")
                .line2("Suite #222")
                .city("Mountain View")
                .state("CA")
                .zipcode("94043")
                .country("840"),
        )
        .with_phone(Phone::new("4159808222"))
}

#[tokio::main]
async fn main() {
    common::init_tracing();
    let (builder, emulator) = common::accountvault::connect().await;
    let client = builder.build().or_exit("AccountVault client");
    println!(
        "AccountVault client {} at {} ({})",
        client.client_path(),
        client.base_url(),
        if emulator.is_some() {
            "embedded emulator"
        } else {
            "real environment"
        }
    );
    let suffix = chrono::Utc::now().format("%H%M%S%3f").to_string();
    let mut n = 0;

    step(&mut n, "create an RSA key for encrypted card data");
    let key = client
        .create_key(KeyFormat::Asn1)
        .await
        .or_exit("create key");
    let public = PublicKey::from_key(&key).or_exit("parse key");
    println!(
        "    key {} (expires {})",
        public.key_id(),
        key.expiration.as_deref().unwrap_or("?")
    );

    step(&mut n, "create an account with a card in clear");
    let first = CardNumber::parse("4000056655665556").or_exit("card");
    let created = client
        .create_account(
            &CreateAccount::new(format!("ex-{suffix}"), owner())
                .card(Card::plain(first.clone(), Expiry::new(12, 2027).ok())),
            DuplicateCheck::Allow,
        )
        .await
        .or_exit("create account");
    // `None` only when TabaPay answered 207 without the id and the reference id could not
    // recover it: the account exists, but this walkthrough cannot go on without its id.
    let account = created
        .account_id
        .clone()
        .unwrap_or_else(|| common::fail("create account", "created, but its id is unknown"));
    println!("    account {account} for card {first}");

    step(
        &mut n,
        "update it with a new card in clear (v1, full replace)",
    );
    let second = CardNumber::parse("5194560012341234").or_exit("card");
    let status = client
        .update_account(
            &account,
            &UpdateAccount::new(owner())
                .card(Card::plain(second.clone(), Expiry::new(12, 2030).ok())),
            DuplicateCheck::Reject,
        )
        .await
        .or_exit("update (plain)");
    println!("    SC={:?} EC={:?} -> {second}", status.sc, status.ec);

    step(
        &mut n,
        "update it with an encrypted card (RSA-OAEP SHA-256, PAN|YYYYMM|CSC)",
    );
    let third = CardNumber::parse("4457010000000009").or_exit("card");
    let csc = SecretString::from("123".to_owned());
    let data =
        encrypt_card(&public, &third, Expiry::new(1, 2031).ok(), Some(&csc)).or_exit("encrypt");
    client
        .update_account(
            &account,
            &UpdateAccount::new(owner()).card(Card::encrypted(public.key_id(), data)),
            DuplicateCheck::Reject,
        )
        .await
        .or_exit("update (encrypted)");
    let stored = client.retrieve_account(&account).await.or_exit("retrieve");
    let card = stored.card.clone().unwrap_or_default();
    println!(
        "    stored card: last4 {:?}, expiry {:?}",
        card.last4,
        card.expiry()
    );
    if card.last4.as_deref() != Some(third.last4()) {
        common::fail(
            "encrypted update",
            "the vault does not hold the encrypted card",
        );
    }

    step(
        &mut n,
        "a second account with the same card, RejectDuplicateCard -> 409",
    );
    let duplicate = CreateAccount::new(format!("dup-{suffix}"), owner())
        .card(Card::plain(third.clone(), Expiry::new(1, 2031).ok()));
    match client
        .create_account(&duplicate, DuplicateCheck::Reject)
        .await
    {
        Err(Error::Conflict {
            duplicates, detail, ..
        }) => {
            println!(
                "    refused: {} (EC {}), duplicates {:?}",
                detail.message.as_deref().unwrap_or(""),
                detail.code.as_deref().unwrap_or(""),
                duplicates
            )
        }
        Err(e) => common::fail("duplicate check", e),
        Ok(c) => {
            // Duplicate checks are a feature TabaPay enables per client; without it the account is created.
            let id = c.account_id.unwrap_or_default();
            println!("    created {id} (duplicate checks not enabled for this client)");
            client
                .delete_account(&id, false)
                .await
                .or_exit("delete duplicate");
        }
    }

    step(&mut n, "retrieve (masked) and by reference id");
    let again = client.retrieve_account(&account).await.or_exit("retrieve");
    println!(
        "    reference {:?}, card ****{}, owner {:?}",
        again.reference_id,
        again.card.and_then(|c| c.last4).unwrap_or_default(),
        again.owner.map(|o| o.name)
    );
    let by_ref = client
        .retrieve_by_reference(&format!("ex-{suffix}"))
        .await
        .or_exit("retrieve by reference");
    println!("    referenceID ex-{suffix} -> {}", by_ref.account_id);

    step(&mut n, "delete the account and the key");
    client
        .delete_account(&account, false)
        .await
        .or_exit("delete account");
    match client.retrieve_account(&account).await {
        Err(e) => println!("    account deleted (now: {})", e.code()),
        Ok(_) => common::fail("delete", "account still retrievable"),
    }
    client
        .delete_key(public.key_id())
        .await
        .or_exit("delete key");
    println!("    key deleted");
    println!("\nAccountVault example finished: every step succeeded.");
}

//! The outcome vocabulary held against the documents: the published code table walked row by
//! row, and every outcome an emulator can produce driven through it, natively and through
//! `Arc<dyn Provider>`, so that a platform's apply-an-update code can be tested offline.

use crate::common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use account_updater::ProviderId;
use account_updater::card::NewNumberProblem;
use account_updater::codes::{self, CODE_TABLE, CodeScheme};
use account_updater::providers::acquired::AcquiredClient;
use account_updater::providers::cardsync::{CardSyncClient, CardSyncPartner};
use account_updater::providers::payconex::{AuthMethod, PayConexClient};
use account_updater::transport::{RetryPolicy, TransportConfig};
use account_updater::webhook;
use account_updater::{Action, CardBrand, CardNumber, CardUpdate, Expiry, Outcome};
use account_updater::{
    ids::ResultsQuery,
    provider::{CardToUpdate, Provider, SubscribeRequest},
};
use account_updater_emulator::WebhookSink;
use account_updater_emulator::acquired::{
    AcquiredEmulator, AcquiredEmulatorConfig, AcquiredWebhookLayout,
};
use account_updater_emulator::cardsync::{CardSyncEmulator, CardSyncEmulatorConfig, OtherCards};
use account_updater_emulator::payconex::{PayConexEmulator, PayConexEmulatorConfig};

/// What the documents say each code means, written out here independently of the crate's
/// table: scheme, code, the outcome's stable name.
const DOCUMENTED: &[(CodeScheme, &str, &str)] = &[
    (CodeScheme::VisaVau, "A", "new_account_number"),
    (CodeScheme::VisaVau, "E", "new_expiry"),
    (CodeScheme::VisaVau, "C", "closed"),
    (CodeScheme::VisaVau, "Q", "contact_cardholder"),
    (CodeScheme::VisaVau, "V", "valid"),
    (CodeScheme::VisaVau, "P", "no_match"),
    (CodeScheme::VisaVau, "N", "non_participating"),
    (CodeScheme::VisaVau, "O", "opted_out"),
    (CodeScheme::VisaRealTimeVau, "VAU001", "not_eligible"),
    (CodeScheme::VisaRealTimeVau, "VAU002", "not_eligible"),
    (CodeScheme::VisaRealTimeVau, "VAU003", "not_eligible"),
    (CodeScheme::VisaRealTimeVau, "VAU004", "not_eligible"),
    (CodeScheme::VisaRealTimeVau, "VAU005", "not_eligible"),
    (CodeScheme::VisaRealTimeVau, "VAU006", "not_eligible"),
    (CodeScheme::VisaRealTimeVau, "VAU007", "not_eligible"),
    (CodeScheme::VisaRealTimeVau, "VAU008", "not_eligible"),
    (CodeScheme::VisaRealTimeVau, "VAU009", "non_participating"),
    (CodeScheme::VisaRealTimeVau, "VAU010", "stop_updates"),
    (CodeScheme::VisaRealTimeVau, "VAU011", "stop_updates"),
    (CodeScheme::VisaRealTimeVau, "VAU012", "no_change"),
    (CodeScheme::VisaRealTimeVau, "VAU013", "not_eligible"),
    (CodeScheme::VisaRealTimeVau, "VAU014", "opted_out"),
    (CodeScheme::VisaRealTimeVau, "VAU015", "not_eligible"),
    (CodeScheme::VisaRealTimeVau, "VAU016", "stop_updates"),
    (CodeScheme::MastercardResponse, "R", "new_account_number"),
    (CodeScheme::MastercardResponse, "B", "new_account_number"),
    (CodeScheme::MastercardResponse, "E", "new_expiry"),
    (CodeScheme::MastercardResponse, "C", "closed"),
    (CodeScheme::MastercardResponse, "V", "valid"),
    (CodeScheme::MastercardResponse, "P", "no_match"),
    (CodeScheme::MastercardResponse, "N", "non_participating"),
    (CodeScheme::MastercardReason, "UPDATE", "new_account_number"),
    (CodeScheme::MastercardReason, "EXPIRY", "new_expiry"),
    (CodeScheme::MastercardReason, "CONTAC", "closed"),
    (CodeScheme::MastercardReason, "VALID", "valid"),
    (CodeScheme::MastercardReason, "UNKNWN", "no_match"),
    (CodeScheme::MastercardPush, "A", "new_account_number"),
    (CodeScheme::MastercardPush, "E", "new_expiry"),
    (CodeScheme::MastercardPush, "C", "closed"),
    (
        CodeScheme::PayConexStatus,
        "updated_card",
        "new_account_number",
    ),
    (CodeScheme::PayConexStatus, "updated_expiry", "new_expiry"),
    (CodeScheme::PayConexStatus, "contact_closed", "closed"),
    (CodeScheme::PayConexStatus, "contact", "contact_cardholder"),
    (CodeScheme::PayConexStatus, "valid", "valid"),
    (CodeScheme::PayConexStatus, "no_change", "no_change"),
    (CodeScheme::PayConexStatus, "no_match", "no_match"),
    (
        CodeScheme::CardSyncStatus,
        "updated_card",
        "new_account_number",
    ),
    (CodeScheme::CardSyncStatus, "updated_expiry", "new_expiry"),
    (CodeScheme::CardSyncStatus, "closed", "closed"),
    (CodeScheme::CardSyncStatus, "contact_closed", "closed"),
    (CodeScheme::CardSyncStatus, "contact", "contact_cardholder"),
    (CodeScheme::CardSyncStatus, "valid", "valid"),
    (CodeScheme::CardSyncStatus, "", "valid"),
    (CodeScheme::CardSyncStatus, "no_change", "no_change"),
    (CodeScheme::CardSyncStatus, "no_match", "no_match"),
    (CodeScheme::AcquiredResult, "1/A", "new_account_number"),
    (CodeScheme::AcquiredResult, "2/C", "closed"),
    (CodeScheme::AcquiredResult, "1/E", "new_expiry"),
    (CodeScheme::AcquiredResult, "2/N", "non_participating"),
    (CodeScheme::AcquiredResult, "2/P", "no_match"),
    (CodeScheme::AcquiredResult, "2/Q", "contact_cardholder"),
    (CodeScheme::AcquiredResult, "2/V", "valid"),
    (
        CodeScheme::AcquiredResult,
        "1/R/UPDATE",
        "new_account_number",
    ),
    (
        CodeScheme::AcquiredResult,
        "1/B/UPDATE",
        "new_account_number",
    ),
    (CodeScheme::AcquiredResult, "2/C/CONTAC", "closed"),
    (CodeScheme::AcquiredResult, "1/E/EXPIRY", "new_expiry"),
    (CodeScheme::AcquiredResult, "2/V/VALID", "valid"),
    (CodeScheme::AcquiredResult, "2/P/UNKNWN", "no_match"),
    (
        CodeScheme::AcquiredResult,
        "2/N/UNKNWN",
        "non_participating",
    ),
];

#[test]
fn the_table_holds_every_documented_code_and_none_maps_to_unknown() {
    assert_eq!(
        CODE_TABLE.len(),
        DOCUMENTED.len(),
        "one row per documented code"
    );
    for (scheme, code, name) in DOCUMENTED {
        let row = codes::lookup(*scheme, code).unwrap_or_else(|| panic!("{scheme} {code:?}"));
        assert_eq!(row.outcome.as_str(), *name, "{scheme} {code:?}");
        assert!(!matches!(row.outcome, Outcome::Unknown(_)));
        assert!(!row.source.is_empty() && !row.meaning.is_empty());
        // The code is the raw value a provider sends: found again case-insensitively.
        assert_eq!(
            codes::lookup(*scheme, &code.to_ascii_lowercase()).map(|r| r.code),
            Some(row.code)
        );
    }
    // No code twice within a scheme.
    let mut seen = HashMap::new();
    for row in CODE_TABLE {
        assert!(
            seen.insert((row.scheme, row.code.to_ascii_lowercase()), ())
                .is_none(),
            "{} {} twice",
            row.scheme,
            row.code
        );
    }
    assert_eq!(
        codes::outcome(CodeScheme::MastercardReason, "CONTAC"),
        Outcome::Closed,
        "CONTAC is closed, not contact"
    );
    assert!(
        codes::lookup(CodeScheme::MastercardResponse, "B")
            .unwrap()
            .brand_change
    );
    assert!(
        !codes::lookup(CodeScheme::MastercardResponse, "R")
            .unwrap()
            .brand_change
    );
    assert_eq!(
        codes::outcome(CodeScheme::VisaVau, "X"),
        Outcome::Unknown("X".into())
    );
    // Not eligible keeps the network's reason.
    assert!(matches!(
        codes::outcome(CodeScheme::VisaRealTimeVau, "VAU005"),
        Outcome::NotEligible { reason } if reason.contains("CVV2")
    ));
}

#[test]
fn billable_hits_are_the_ones_the_networks_bill() {
    for (scheme, billable, free) in [
        (CodeScheme::VisaVau, "AECQ", "VPNO"),
        (CodeScheme::MastercardResponse, "RBEC", "VPN"),
    ] {
        for c in billable.chars() {
            assert!(
                codes::outcome(scheme, &c.to_string()).is_billable(),
                "{scheme} {c}"
            );
        }
        for c in free.chars() {
            assert!(
                !codes::outcome(scheme, &c.to_string()).is_billable(),
                "{scheme} {c}"
            );
        }
    }
    for row in CODE_TABLE
        .iter()
        .filter(|r| r.scheme == CodeScheme::VisaRealTimeVau)
    {
        assert!(!row.outcome.is_billable(), "{}", row.code);
    }
}

#[test]
fn each_outcome_says_what_to_do() {
    let cases = [
        (Outcome::NewAccountNumber, Action::ReplaceNumber, false),
        (Outcome::NewExpiry, Action::ReplaceExpiry, false),
        (Outcome::Closed, Action::StopCharging, true),
        (Outcome::ContactCardholder, Action::ContactCustomer, false),
        (Outcome::Valid, Action::Nothing, false),
        (Outcome::NoChange, Action::Nothing, false),
        (Outcome::NoMatch, Action::Nothing, false),
        (Outcome::NonParticipating, Action::Nothing, false),
        (Outcome::OptedOut, Action::Nothing, true),
        (Outcome::StopUpdates, Action::StopCharging, true),
        (
            Outcome::NotEligible {
                reason: "Transaction contains CVV2.".into(),
            },
            Action::Nothing,
            false,
        ),
        (
            Outcome::InvalidUpdate {
                problem: NewNumberProblem::Luhn,
            },
            Action::DoNotApply,
            false,
        ),
        (Outcome::Unknown("?".into()), Action::Review, false),
    ];
    for (outcome, action, stops) in cases {
        assert_eq!(outcome.action(), action, "{outcome}");
        assert_eq!(outcome.stops_updates(), stops, "{outcome}");
    }
    assert_eq!(
        Outcome::InvalidUpdate {
            problem: NewNumberProblem::Length {
                brand: CardBrand::Visa,
                length: 17
            }
        }
        .to_string(),
        "invalid_update(length)"
    );
}

#[test]
fn new_numbers_are_checked_for_luhn_and_the_brands_length() {
    let ok = CardNumber::parse_new_number("4457010000000009".into()).unwrap();
    assert_eq!(ok.brand(), CardBrand::Visa);
    assert_eq!(
        CardNumber::parse_new_number("4457010000000008".into()).unwrap_err(),
        NewNumberProblem::Luhn
    );
    // A Luhn-valid 15-digit "Mastercard" and a 16-digit "Amex" break their brands' rules.
    for (digits, brand, length) in [
        ("511201000000006", CardBrand::Mastercard, 15),
        ("3421323355667719", CardBrand::Amex, 16),
    ] {
        assert!(account_updater::card::luhn_valid(digits), "{digits}");
        assert_eq!(
            CardNumber::parse_new_number(digits.into()).unwrap_err(),
            NewNumberProblem::Length { brand, length }
        );
    }
    assert_eq!(
        CardNumber::parse_new_number("44570100000x0009".into()).unwrap_err(),
        NewNumberProblem::NotACardNumber
    );
}

// ---- Acquired: the testing page's table, by signed webhook ----

const ACQUIRED_VISA: &str = "4000011180138710";
const ACQUIRED_MASTERCARD: &str = "5100019221455924";

/// Acquired's testing page: test card, INIT expiry, outcome, new number, new expiry, brand
/// change.
const ACQUIRED_TABLE: [(&str, &str, &str, bool, bool, bool); 14] = [
    (
        ACQUIRED_VISA,
        "012017",
        "new_account_number",
        true,
        true,
        false,
    ),
    (ACQUIRED_VISA, "022017", "closed", false, false, false),
    (ACQUIRED_VISA, "032017", "new_expiry", false, true, false),
    (
        ACQUIRED_VISA,
        "042017",
        "non_participating",
        false,
        false,
        false,
    ),
    (ACQUIRED_VISA, "052017", "no_match", false, false, false),
    (
        ACQUIRED_VISA,
        "062017",
        "contact_cardholder",
        false,
        false,
        false,
    ),
    (ACQUIRED_VISA, "072017", "valid", false, false, false),
    (
        ACQUIRED_MASTERCARD,
        "012016",
        "new_account_number",
        true,
        true,
        false,
    ),
    (
        ACQUIRED_MASTERCARD,
        "022016",
        "new_account_number",
        false,
        true,
        true,
    ),
    (ACQUIRED_MASTERCARD, "032016", "closed", false, false, false),
    (
        ACQUIRED_MASTERCARD,
        "042016",
        "new_expiry",
        false,
        true,
        false,
    ),
    (ACQUIRED_MASTERCARD, "052016", "valid", false, false, false),
    (
        ACQUIRED_MASTERCARD,
        "062016",
        "no_match",
        false,
        false,
        false,
    ),
    (
        ACQUIRED_MASTERCARD,
        "072016",
        "non_participating",
        false,
        false,
        false,
    ),
];

fn acquired_client(emu: &AcquiredEmulator) -> AcquiredClient {
    AcquiredClient::builder(emu.credentials())
        .base_url(emu.base_url())
        .transport_config(TransportConfig::default().retry(RetryPolicy::none()))
        .build()
        .unwrap()
}

fn init_expiry(mmyyyy: &str) -> Expiry {
    Expiry::parse(mmyyyy, account_updater::ExpiryFormat::Mmyyyy).unwrap()
}

/// Every row of Acquired's testing table, under each layout the emulator can play, natively
/// (`request_account_update` and `verify_webhook`) and through `Arc<dyn Provider>` (`submit`
/// and `webhook::receive`).
#[tokio::test]
async fn acquired_answers_its_testing_table_by_signed_webhook() {
    for layout in [
        AcquiredWebhookLayout::TestingPage,
        AcquiredWebhookLayout::Nested,
    ] {
        let emu =
            AcquiredEmulator::start_with(AcquiredEmulatorConfig::default().webhook_layout(layout))
                .await
                .unwrap();
        let sink = WebhookSink::start().await.unwrap();
        emu.set_webhook_url(&sink.url());
        let native = acquired_client(&emu);
        let provider: Arc<dyn Provider> = Arc::new(acquired_client(&emu));
        for (i, (pan, init, name, new_number, new_expiry, brand)) in
            ACQUIRED_TABLE.iter().enumerate()
        {
            for through_trait in [false, true] {
                let token = emu.create_token(&CardNumber::parse(pan).unwrap(), init_expiry(init));
                let update = if through_trait {
                    let receipt = provider
                        .submit(vec![CardToUpdate::token(
                            format!("card-{i}"),
                            ProviderId::Acquired,
                            token.clone(),
                        )])
                        .await
                        .unwrap();
                    let got = sink.next(Duration::from_secs(5)).await.expect("webhook");
                    let mut event = webhook::receive(&*provider, &got.headers, &got.body).unwrap();
                    receipt.join_card_ids(&mut event.updates);
                    let u = event.updates.pop().unwrap();
                    assert_eq!(u.card_id.as_deref(), Some(format!("card-{i}").as_str()));
                    u
                } else {
                    native.request_account_update(&token, None).await.unwrap();
                    let got = sink.next(Duration::from_secs(5)).await.expect("webhook");
                    native
                        .verify_webhook(&got.body)
                        .unwrap()
                        .updates
                        .pop()
                        .unwrap()
                };
                let what = format!("{layout:?} {pan} {init} trait={through_trait}");
                assert_eq!(
                    update.outcome.as_str(),
                    *name,
                    "{what}: {}",
                    update.raw_code
                );
                assert_eq!(update.card_ref.as_deref(), Some(token.as_str()), "{what}");
                assert_eq!(update.new_expiry.is_some(), *new_expiry, "{what}");
                assert_eq!(update.brand_changed, *brand, "{what}");
                // Acquired replaces the card in place: the new expiry is the stored one.
                let stored = emu.token_state(&token).unwrap();
                if let Some(e) = update.new_expiry {
                    assert_eq!(
                        e.format(account_updater::ExpiryFormat::Mmyyyy),
                        stored.expiry,
                        "{what}"
                    );
                }
                assert_eq!(
                    stored.masked_card != CardNumber::parse(pan).unwrap().masked(),
                    *new_number,
                    "{what}"
                );
                assert!(
                    update.raw_code.contains("status="),
                    "{what}: {}",
                    update.raw_code
                );
            }
        }
    }
}

#[tokio::test]
async fn acquired_update_result_words_and_invalid_new_numbers() {
    let emu = AcquiredEmulator::start_with(
        AcquiredEmulatorConfig::default()
            .webhook_layout(AcquiredWebhookLayout::UpdateResult)
            .webhook_card_number(true)
            .invalid_replacements(true),
    )
    .await
    .unwrap();
    let sink = WebhookSink::start().await.unwrap();
    emu.set_webhook_url(&sink.url());
    let c = acquired_client(&emu);
    let mut seen = Vec::new();
    for (pan, init) in [
        (ACQUIRED_VISA, "012017"),
        (ACQUIRED_VISA, "022017"),
        (ACQUIRED_MASTERCARD, "042016"),
    ] {
        let token = emu.create_token(&CardNumber::parse(pan).unwrap(), init_expiry(init));
        c.request_account_update(&token, None).await.unwrap();
        let got = sink.next(Duration::from_secs(5)).await.unwrap();
        let text = String::from_utf8(got.body.clone()).unwrap();
        let mut event = c.verify_webhook(&got.body).unwrap();
        let event_debug = format!("{event:?}");
        let u = event.updates.pop().unwrap();
        if u.outcome.as_str() == "invalid_update" {
            // The full (bad) number was in the webhook; the crate never hands it out.
            let sent = serde_json::from_str::<serde_json::Value>(&text).unwrap()["cardnumber"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(!format!("{u:?}").contains(&sent));
            assert!(
                !event_debug.contains(&sent),
                "the raw payload keeps it masked"
            );
            assert!(u.new_card.is_none());
        }
        seen.push((u.outcome.clone(), u.raw_code.clone()));
    }
    assert_eq!(
        seen,
        [
            (
                Outcome::InvalidUpdate {
                    problem: NewNumberProblem::Luhn
                },
                "response_code=1;update_result=updated_card".to_owned()
            ),
            (
                Outcome::Closed,
                "response_code=1;update_result=closed".to_owned()
            ),
            (
                Outcome::NewExpiry,
                "response_code=1;update_result=updated_expiry".to_owned()
            ),
        ]
    );
}

// ---- CardSync: the sandbox cards, the empty status, an invalid replacement ----

async fn cardsync_merchant(emu: &CardSyncEmulator, tag: &str) -> CardSyncClient {
    let partner = CardSyncPartner::builder(emu.partner_key())
        .base_url(emu.base_url())
        .transport_config(TransportConfig::default().retry(RetryPolicy::none()))
        .build_partner()
        .unwrap();
    let created = partner
        .enroll_merchant(&common::cardsync_merchant(tag))
        .await
        .unwrap();
    use account_updater::ExposeSecret;
    partner
        .merchant(account_updater::SecretString::from(
            created.api_key.expose_secret().to_owned(),
        ))
        .unwrap()
}

fn by_id(mut updates: Vec<CardUpdate>) -> Vec<(String, String)> {
    updates.sort_by(|a, b| a.card_id.cmp(&b.card_id));
    updates
        .into_iter()
        .map(|u| (u.card_id.unwrap_or_default(), u.outcome.to_string()))
        .collect()
}

#[tokio::test]
async fn cardsync_outcomes_natively_compactly_and_through_the_trait() {
    let emu = CardSyncEmulator::start_with(
        CardSyncEmulatorConfig::default().other_cards(OtherCards::EmptyStatus),
    )
    .await
    .unwrap();
    let m = cardsync_merchant(&emu, "outcomes").await;
    let cards = [
        ("a-new", "4457010000000009"),
        ("b-mc-to-visa", "5194560012341234"),
        ("c-expiry", "4457000300000007"),
        ("d-no-match", "4457010200000247"),
        ("e-valid", "4100200300011001"),
        ("f-contact", "4457010140000141"),
        ("g-closed", "4457000900000001"),
        ("h-other", "4111111111111111"),
    ];
    let input: Vec<CardToUpdate> = cards
        .iter()
        .map(|(id, pan)| {
            CardToUpdate::pan(
                *id,
                CardNumber::parse(pan).unwrap(),
                Expiry::new(1, 2050).unwrap(),
            )
        })
        .collect();
    let provider: Arc<dyn Provider> = Arc::new(m.clone());
    let receipt = provider.submit(input).await.unwrap();
    assert!(receipt.is_complete());
    let job = receipt.accepted()[0].job().clone();
    let expected: Vec<(String, String)> = [
        ("a-new", "new_account_number"),
        ("b-mc-to-visa", "new_account_number"),
        ("c-expiry", "new_expiry"),
        ("d-no-match", "no_match"),
        ("e-valid", "valid"),
        ("f-contact", "contact_cardholder"),
        ("g-closed", "closed"),
        ("h-other", "valid"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();

    let through_trait = provider
        .fetch_results(&ResultsQuery::Job(job.clone()))
        .await
        .unwrap();
    let mc = through_trait
        .iter()
        .find(|u| u.card_id.as_deref() == Some("b-mc-to-visa"))
        .unwrap();
    assert_eq!(mc.new_brand, Some(CardBrand::Visa));
    let other = through_trait
        .iter()
        .find(|u| u.card_id.as_deref() == Some("h-other"))
        .unwrap();
    assert_eq!(other.raw_code, "", "CardSync's empty status, kept verbatim");
    assert_eq!(by_id(through_trait), expected);

    let native = m.batch_results(&job.id, None).await.unwrap();
    let native: Vec<CardUpdate> = native
        .cards
        .into_iter()
        .map(|c| account_updater::providers::cardsync::card_update(c, None))
        .collect();
    assert_eq!(by_id(native), expected);
    let compact = m.batch_results_compact(&job.id, None).await.unwrap();
    assert_eq!(by_id(compact.card_updates(None).collect()), expected);

    // A replacement number that fails Luhn is never handed out.
    let emu =
        CardSyncEmulator::start_with(CardSyncEmulatorConfig::default().invalid_replacements(true))
            .await
            .unwrap();
    let m = cardsync_merchant(&emu, "invalid").await;
    let provider: Arc<dyn Provider> = Arc::new(m.clone());
    let receipt = provider
        .submit(vec![CardToUpdate::pan(
            "x",
            CardNumber::parse("4457010000000009").unwrap(),
            Expiry::new(1, 2050).unwrap(),
        )])
        .await
        .unwrap();
    let job = receipt.accepted()[0].job().clone();
    for updates in [
        provider
            .fetch_results(&ResultsQuery::Job(job.clone()))
            .await
            .unwrap(),
        m.batch_results_compact(&job.id, None)
            .await
            .unwrap()
            .card_updates(None)
            .collect(),
    ] {
        let u = &updates[0];
        assert_eq!(
            (u.outcome.clone(), u.new_card.is_none(), u.raw_code.as_str()),
            (
                Outcome::InvalidUpdate {
                    problem: NewNumberProblem::Luhn
                },
                true,
                "updated_card"
            )
        );
        assert!(!format!("{u:?}").contains("445701000"), "{u:?}");
    }
}

// ---- PayConex: tokens by last digit, PAN schedules, an invalid replacement ----

fn payconex_client(emu: &PayConexEmulator) -> PayConexClient {
    PayConexClient::builder(emu.account_id(), emu.credentials())
        .base_url(emu.base_url())
        .auth(AuthMethod::Hmac)
        .transport_config(TransportConfig::default().retry(RetryPolicy::none()))
        .build()
        .unwrap()
}

#[tokio::test]
async fn payconex_outcomes_natively_and_through_the_trait() {
    let emu =
        PayConexEmulator::start_with(PayConexEmulatorConfig::default().invalid_replacements(true))
            .await
            .unwrap();
    let c = payconex_client(&emu);
    let provider: Arc<dyn Provider> = Arc::new(c.clone());
    let tokens = [
        ("t1", "1001", "new_account_number"),
        ("t2", "1002", "new_expiry"),
        ("t3", "1003", "closed"),
        ("t4", "1004", "contact_cardholder"),
        ("t5", "1005", "no_match"),
        ("t6", "1006", "no_change"),
        ("t7", "1007", "valid"),
    ];
    let mut cards: Vec<CardToUpdate> = tokens
        .iter()
        .map(|(id, token, _)| CardToUpdate::token(*id, ProviderId::PayConex, *token))
        .collect();
    cards.push(CardToUpdate::pan(
        "p-new",
        CardNumber::parse("4457010000000009").unwrap(),
        Expiry::new(1, 2050).unwrap(),
    ));
    // A different expiry per PAN record: PayConex answers PAN records with tokens, and the
    // expiry is what tells them apart.
    cards.push(CardToUpdate::pan(
        "p-expiry",
        CardNumber::parse("4457000300000007").unwrap(),
        Expiry::new(2, 2050).unwrap(),
    ));
    let receipt = provider
        .subscribe(SubscribeRequest::new(cards))
        .await
        .unwrap();
    assert!(receipt.is_complete(), "{:?}", receipt.failed());
    let mut through_trait = Vec::new();
    let mut native = Vec::new();
    for job in receipt.accepted() {
        let run = emu.run_schedule(&job.job().id).await.unwrap();
        through_trait.extend(
            provider
                .fetch_results(&ResultsQuery::Job(job.job().clone()))
                .await
                .unwrap(),
        );
        native.extend(
            c.updates(&run.update_id)
                .await
                .unwrap()
                .into_iter()
                .map(account_updater::providers::payconex::card_update),
        );
    }
    receipt.join_card_ids(&mut through_trait);
    receipt.join_card_ids(&mut native);
    let mut expected: Vec<(String, String)> = tokens
        .iter()
        .map(|(id, _, o)| (id.to_string(), o.to_string()))
        .collect();
    expected.push(("p-expiry".into(), "new_expiry".into()));
    expected.push(("p-new".into(), "invalid_update(luhn)".into()));
    expected.sort();
    for updates in [through_trait, native] {
        let invalid = updates
            .iter()
            .find(|u| u.card_id.as_deref() == Some("p-new"))
            .unwrap_or_else(|| panic!("{updates:#?}"));
        assert!(
            invalid.new_card.is_none() && invalid.new_token.is_none(),
            "{invalid:?}"
        );
        assert_eq!(invalid.raw_code, "updated_card");
        assert_eq!(by_id(updates), expected);
    }
}

/// Beyond the testing page, the Acquired emulator answers any Visa or Real Time VAU code on
/// demand, so the outcomes no test card produces (opted out, stop advice, not eligible) can be
/// driven offline too, in every layout.
#[tokio::test]
async fn acquired_answers_any_documented_code_on_demand() {
    for layout in [
        AcquiredWebhookLayout::TestingPage,
        AcquiredWebhookLayout::Nested,
        AcquiredWebhookLayout::UpdateResult,
    ] {
        let emu =
            AcquiredEmulator::start_with(AcquiredEmulatorConfig::default().webhook_layout(layout))
                .await
                .unwrap();
        let sink = WebhookSink::start().await.unwrap();
        emu.set_webhook_url(&sink.url());
        let provider: Arc<dyn Provider> = Arc::new(acquired_client(&emu));
        for (code, name) in [
            ("O", "opted_out"),
            ("VAU016", "stop_updates"),
            ("VAU010", "stop_updates"),
            ("VAU005", "not_eligible"),
            ("VAU012", "no_change"),
            ("VAU014", "opted_out"),
            ("VAU009", "non_participating"),
        ] {
            let token = emu.create_token(
                &CardNumber::parse(ACQUIRED_VISA).unwrap(),
                Expiry::new(5, 2031).unwrap(),
            );
            assert!(emu.answer_with_code(&token, code));
            provider
                .submit(vec![CardToUpdate::token("c", ProviderId::Acquired, token)])
                .await
                .unwrap();
            let got = sink.next(Duration::from_secs(5)).await.unwrap();
            let event = webhook::receive(&*provider, &got.headers, &got.body).unwrap();
            let u = &event.updates[0];
            assert_eq!(
                u.outcome.as_str(),
                name,
                "{layout:?} {code}: {}",
                u.raw_code
            );
            assert!(u.raw_code.contains(code), "{}", u.raw_code);
        }
        assert!(!emu.answer_with_code("no-such-token", "O"));
        let token = emu.create_token(
            &CardNumber::parse(ACQUIRED_VISA).unwrap(),
            Expiry::new(5, 2031).unwrap(),
        );
        assert!(!emu.answer_with_code(&token, "Z"), "not a documented code");
    }
}

/// The lookup reads each scheme's rows as one run of the table: every row of a scheme must sit
/// together, or a code would be missed.
#[test]
fn each_schemes_rows_are_contiguous_in_the_table() {
    for scheme in CodeScheme::ALL {
        let positions: Vec<usize> = CODE_TABLE
            .iter()
            .enumerate()
            .filter(|(_, r)| r.scheme == scheme)
            .map(|(i, _)| i)
            .collect();
        assert!(!positions.is_empty(), "{scheme}");
        assert_eq!(
            positions.last().unwrap() - positions[0] + 1,
            positions.len(),
            "{scheme}'s rows are split"
        );
    }
}

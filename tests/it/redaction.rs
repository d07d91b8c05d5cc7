//! Redaction of the core types: every public type that can hold a PAN or a secret, formatted
//! with `{:?}` and `{}`, shows no run of seven digits of the PAN and no secret; the same for
//! every `Error` variant. (Provider credential types are covered in each provider's tests.)

use crate::common;

use std::time::Duration;

use account_updater::error::{Delivery, InputError, InputProblem, ProviderError};
use account_updater::provider::{
    AccountUpdateRequest, CardSource, CardToUpdate, HolderData, NewCardData, PlacedCard,
    RemoveCard, SubscribeRequest,
};
use account_updater::{
    CardNumber, CardUpdate, Error, Expiry, ExpiryFormat, Flow, Outcome, ProviderId, SecretString,
};
use common::assert_no_leak;

const PAN: &str = "4457010000000009";
const NEW_PAN: &str = "5194560012341234";
const CVV: &str = "937";

fn card() -> CardNumber {
    CardNumber::parse(PAN).unwrap()
}

#[test]
fn card_types_never_print_the_number() {
    let exp = Expiry::parse("01/50", ExpiryFormat::MmSlashYy).unwrap();
    let to_update = CardToUpdate::pan("c1", card(), exp).with_amex_se_number("1234567890");
    let mut update = CardUpdate::new(
        ProviderId::CardSync,
        Outcome::NewAccountNumber,
        "updated_card",
    );
    update.card_id = Some("c1".into());
    update.previous_card = Some(card());
    update.new_card = Some(CardNumber::parse(NEW_PAN).unwrap());
    let new_data = NewCardData::new(Some(CardNumber::parse(NEW_PAN).unwrap()), Some(exp))
        .with_security_code(SecretString::from(CVV.to_owned()))
        .with_holder_name("A Holder");
    let update_req = AccountUpdateRequest::new("acct")
        .card(new_data.clone())
        .holder(HolderData::default());
    let texts = [
        format!("{:?} {}", card(), card()),
        format!("{:?}", CardSource::Pan(card())),
        format!("{to_update:?}"),
        format!("{:?}", SubscribeRequest::new(vec![to_update.clone()])),
        format!("{update:?}"),
        format!("{new_data:?}"),
        format!("{update_req:?}"),
        format!("{:?}", RemoveCard::Card(to_update.clone())),
        format!("{:?}", RemoveCard::Placed(PlacedCard::new("c1", None))),
        format!("{:?}", update.masked_card()),
    ];
    for t in &texts {
        assert_no_leak(t, &[PAN, NEW_PAN], &[CVV]);
    }
    assert!(texts[0].contains("445701******0009"));
    assert_eq!(update.masked_card().as_deref(), Some("519456******1234"));
}

fn every_error() -> Vec<Error> {
    let detail = ProviderError::status(422)
        .with_code("40001")
        .with_message("Payload schema violation")
        .with_field("cards")
        .with_trace_id("0b0e");
    vec![
        Error::InvalidInput(InputError::new(
            "cards[0].card",
            CardNumber::parse("4457010000000008").unwrap_err(),
        )),
        Error::invalid(
            "cards",
            InputProblem::TooMany {
                max: 10_000,
                got: 10_001,
            },
        ),
        Error::Unsupported {
            provider: ProviderId::AccountVault,
            flow: Flow::Submit,
        },
        Error::Transport {
            provider: ProviderId::PayConex,
            delivery: Delivery::NotSent,
            message: "connection refused".into(),
            source: None,
        },
        Error::Timeout {
            provider: ProviderId::PayConex,
            delivery: Delivery::MaybeSent,
            source: None,
        },
        Error::Auth {
            provider: ProviderId::CardSync,
            detail: Box::new(detail.clone()),
        },
        Error::RateLimited {
            provider: ProviderId::CardSync,
            retry_after: Some(Duration::from_secs(3)),
            detail: Box::new(detail.clone()),
        },
        Error::NotFound {
            provider: ProviderId::PayConex,
            detail: Box::new(detail.clone()),
        },
        Error::Provider {
            provider: ProviderId::Acquired,
            detail: Box::new(detail.clone()),
        },
        Error::Conflict {
            provider: ProviderId::AccountVault,
            duplicates: vec!["ih0V8HSE2S6gAUqCkG29uw".into()],
            detail: Box::new(detail),
        },
        Error::Integrity {
            provider: ProviderId::Acquired,
            what: "response_hash".into(),
        },
        Error::ResponseTooLarge {
            provider: ProviderId::CardSync,
            limit: 1024,
            declared: Some(8 << 30),
        },
        Error::Redirected {
            provider: ProviderId::PayConex,
            status: 307,
        },
        Error::decode(
            ProviderId::CardSync,
            200,
            "expected value",
            format!(r#"{{"card":"{PAN}","api_key":"api_secret_value","x":"{NEW_PAN}"}}"#)
                .as_bytes(),
        ),
    ]
}

#[test]
fn no_error_variant_carries_card_data() {
    for e in every_error() {
        let text = format!("{e} {e:?}");
        assert_no_leak(&text, &[PAN, NEW_PAN], &["api_secret_value"]);
        assert!(!e.code().is_empty());
    }
}

#[test]
fn error_codes_and_phases_are_stable() {
    let codes: Vec<_> = every_error().iter().map(|e| e.code()).collect();
    assert_eq!(
        codes,
        [
            "invalid_input",
            "invalid_input",
            "unsupported",
            "transport",
            "timeout",
            "auth",
            "rate_limited",
            "not_found",
            "provider",
            "conflict",
            "integrity",
            "response_too_large",
            "redirected",
            "decode"
        ]
    );
    let reached: Vec<_> = every_error()
        .iter()
        .map(|e| e.may_have_reached_provider())
        .collect();
    assert_eq!(
        reached,
        [
            false, false, false, false, true, true, true, true, true, true, true, true, true, true
        ]
    );
    let retryable: Vec<_> = every_error().iter().map(|e| e.is_retryable()).collect();
    assert_eq!(
        retryable,
        [
            false, false, false, true, true, false, true, false, false, false, false, false, false,
            false
        ]
    );
    let five_hundred = Error::Provider {
        provider: ProviderId::PayConex,
        detail: Box::new(ProviderError::status(500)),
    };
    assert!(five_hundred.is_retryable());
}

#[test]
fn status_mapping_is_the_same_for_everyone() {
    use account_updater::ErrorKind::*;
    for p in ProviderId::ALL {
        let kinds: Vec<_> = [401u16, 403, 404, 429, 400, 422, 500, 503]
            .iter()
            .map(|s| Error::from_status(p, *s, None, ProviderError::status(*s)).kind())
            .collect();
        assert_eq!(
            kinds,
            [
                Auth,
                Auth,
                NotFound,
                RateLimited,
                Provider,
                Provider,
                Provider,
                Provider
            ]
        );
    }
}

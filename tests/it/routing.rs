//! One run across providers: rules refused when they cannot work, every card of a mixed card
//! base sent to exactly one provider (counted at the emulators), tokens only to their issuer,
//! fall-through before any request, and jobs, status and results going back to the provider
//! that made them.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use account_updater::error::InputProblem;
use account_updater::ids::{JobKind, ResultsQuery};
use account_updater::provider::{CardToUpdate, Provider, SubscribeRequest};
use account_updater::providers::acquired::AcquiredClient;
use account_updater::providers::cardsync::CardSyncClient;
use account_updater::providers::payconex::PayConexClient;
use account_updater::routing::{Condition, RouteError, Router, Rule};
use account_updater::submission::{ChunkOutcome, StreamOptions, card_stream};
use account_updater::{CardBrand, CardNumber, Error, ErrorKind, Expiry, Flow, ProviderId};
use account_updater_emulator::acquired::AcquiredEmulator;
use account_updater_emulator::cardsync::CardSyncEmulator;
use account_updater_emulator::payconex::PayConexEmulator;

fn luhn(body: &str) -> String {
    account_updater::card::with_check_digit(body).unwrap()
}

fn pan(body: &str) -> CardNumber {
    CardNumber::parse(&luhn(body)).unwrap()
}

fn exp() -> Expiry {
    Expiry::new(1, 2030).unwrap()
}

/// The three emulators and a client on each.
struct Fleet {
    cardsync: CardSyncEmulator,
    acquired: AcquiredEmulator,
    payconex: PayConexEmulator,
    cardsync_client: CardSyncClient,
    acquired_client: AcquiredClient,
    payconex_client: PayConexClient,
}

async fn fleet() -> Fleet {
    let cardsync = CardSyncEmulator::start().await.unwrap();
    let (_, key) = cardsync.add_merchant();
    let cardsync_client = CardSyncClient::builder(key)
        .base_url(cardsync.base_url())
        .build_merchant()
        .unwrap();
    let acquired = AcquiredEmulator::start().await.unwrap();
    let acquired_client = AcquiredClient::builder(acquired.credentials())
        .base_url(acquired.base_url())
        .build()
        .unwrap();
    let payconex = PayConexEmulator::start().await.unwrap();
    let payconex_client = PayConexClient::builder(payconex.account_id(), payconex.credentials())
        .base_url(payconex.base_url())
        .build()
        .unwrap();
    Fleet {
        cardsync,
        acquired,
        payconex,
        cardsync_client,
        acquired_client,
        payconex_client,
    }
}

/// The rules of the mixed card base: each kind of card to the one provider that can update it.
fn mixed_rules(builder: account_updater::routing::RouterBuilder) -> Router {
    builder
        .rule(
            Rule::new("acquired-tokens", ProviderId::Acquired, Flow::Submit).when(Condition::Token),
        )
        .rule(
            Rule::new("payconex-tokens", ProviderId::PayConex, Flow::Subscribe)
                .when(Condition::Token),
        )
        .rule(
            Rule::new("amex-with-se", ProviderId::CardSync, Flow::Submit)
                .when(Condition::AmexSeNumber(true)),
        )
        .rule(
            Rule::new("amex-without-se", ProviderId::PayConex, Flow::Subscribe)
                .when(Condition::AmexSeNumber(false)),
        )
        .rule(
            Rule::new("visa", ProviderId::CardSync, Flow::Submit)
                .when(Condition::Brand(CardBrand::Visa)),
        )
        .rule(
            Rule::new("mastercard", ProviderId::CardSync, Flow::Submit)
                .when(Condition::Brand(CardBrand::Mastercard)),
        )
        .rule(
            Rule::new("discover", ProviderId::CardSync, Flow::Submit)
                .when(Condition::Brand(CardBrand::Discover)),
        )
        .build()
        .unwrap()
}

#[test]
fn rules_that_cannot_work_are_refused_when_the_router_is_built() {
    let cardsync = || {
        CardSyncClient::builder("k".into())
            .base_url("http://127.0.0.1:9".parse().unwrap())
            .build_merchant()
            .unwrap()
    };
    let payconex = || {
        PayConexClient::builder(
            "120615523104",
            account_updater::providers::payconex::Credentials::new("a", "s".into()),
        )
        .base_url("http://127.0.0.1:9".parse().unwrap())
        .build()
        .unwrap()
    };
    let build = |rules: Vec<Rule>| {
        rules
            .into_iter()
            .fold(
                Router::builder().provider(cardsync()).provider(payconex()),
                |b, r| b.rule(r),
            )
            .build()
            .map(|_| ())
    };
    let cs = |name: &str| Rule::new(name, ProviderId::CardSync, Flow::Submit);
    assert_eq!(build(vec![]), Err(RouteError::NoRules));
    assert_eq!(
        build(vec![Rule::new("acq", ProviderId::Acquired, Flow::Submit)]),
        Err(RouteError::UnknownProvider {
            rule: "acq".into(),
            provider: ProviderId::Acquired
        })
    );
    // PayConex subscribes; it has no one-off inquiry.
    assert_eq!(
        build(vec![Rule::new("pcx", ProviderId::PayConex, Flow::Submit)]),
        Err(RouteError::MissingFlow {
            rule: "pcx".into(),
            provider: ProviderId::PayConex,
            flow: Flow::Submit
        })
    );
    assert_eq!(
        build(vec![Rule::new(
            "status",
            ProviderId::CardSync,
            Flow::JobStatus
        )]),
        Err(RouteError::NotACardFlow {
            rule: "status".into(),
            flow: Flow::JobStatus
        })
    );
    assert_eq!(
        build(vec![cs("a"), cs("a").when(Condition::Token)]),
        Err(RouteError::DuplicateName("a".into()))
    );
    for (rule, why) in [
        (
            cs("two-brands")
                .when(Condition::Brand(CardBrand::Visa))
                .when(Condition::Brand(CardBrand::Amex)),
            "two different brands",
        ),
        (
            cs("token-brand")
                .when(Condition::Token)
                .when(Condition::Brand(CardBrand::Visa)),
            "number or a token",
        ),
        (
            cs("visa-se")
                .when(Condition::Brand(CardBrand::Visa))
                .when(Condition::AmexSeNumber(true)),
            "two different brands",
        ),
        (
            cs("empty-bin").when(Condition::BinRange {
                low: 500_000,
                high: 400_000,
            }),
            "empty",
        ),
        (
            cs("short-bin").when(Condition::BinRange {
                low: 4_000,
                high: 499_999,
            }),
            "six digits",
        ),
        (
            cs("amex-bin")
                .when(Condition::Brand(CardBrand::Amex))
                .when(Condition::BinRange {
                    low: 400_000,
                    high: 499_999,
                }),
            "no AMEX BIN",
        ),
        (
            cs("two-tags")
                .when(Condition::Tag("a".into()))
                .when(Condition::Tag("b".into())),
            "two different tags",
        ),
    ] {
        let name = rule.name().to_owned();
        match build(vec![rule]) {
            Err(RouteError::Contradictory { rule, why: said }) => {
                assert_eq!(rule, name);
                assert!(said.contains(why), "{name}: {said}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // An earlier rule taking every card a later one would: the later can never match...
    assert_eq!(
        build(vec![
            cs("cards").when(Condition::CardNumber),
            cs("visa").when(Condition::Brand(CardBrand::Visa)),
        ]),
        Err(RouteError::Shadowed {
            rule: "visa".into(),
            earlier: "cards".into()
        })
    );
    assert_eq!(
        build(vec![
            cs("all"),
            cs("tagged").when(Condition::Tag("x".into()))
        ]),
        Err(RouteError::Shadowed {
            rule: "tagged".into(),
            earlier: "all".into()
        })
    );
    // ... unless it falls through, or the later rule takes tokens of another provider, which
    // the earlier one never takes.
    build(vec![
        cs("cards").when(Condition::CardNumber).fall_through(),
        cs("visa").when(Condition::Brand(CardBrand::Visa)),
    ])
    .unwrap();
    build(vec![
        cs("all"),
        Rule::new("pcx-tokens", ProviderId::PayConex, Flow::Subscribe).when(Condition::Token),
    ])
    .unwrap();
}

/// A card base of `n` cards: Visa, Mastercard and Discover numbers, Amex with and without an
/// SE number, PayConex and Acquired tokens, and JCB cards no rule takes. Returns the cards
/// and, per provider, the ids it must receive.
fn card_base(n: usize, acquired_tokens: &[String]) -> (Vec<CardToUpdate>, Expected) {
    let mut cards = Vec::with_capacity(n);
    let mut expected = Expected::default();
    for i in 0..n {
        let id = format!("c{i}");
        let card = match i % 100 {
            0..=29 => CardToUpdate::pan(&id, pan(&format!("4{i:014}")), exp()),
            30..=54 => CardToUpdate::pan(&id, pan(&format!("51{i:013}")), exp()),
            55..=69 => CardToUpdate::pan(&id, pan(&format!("6011{i:011}")), exp()),
            70..=79 => CardToUpdate::pan(&id, pan(&format!("37{i:012}")), exp())
                .with_amex_se_number(["1111111111", "2222222222"][i % 2]),
            80..=84 => CardToUpdate::pan(&id, pan(&format!("34{i:012}")), exp()),
            85..=94 => {
                let token = format!("{:012}", 100_000_000_000u64 + i as u64);
                expected.payconex_tokens.insert(token.clone());
                CardToUpdate::token(&id, ProviderId::PayConex, token)
            }
            95..=97 if expected.acquired_tokens.len() < acquired_tokens.len() => {
                let token = acquired_tokens[expected.acquired_tokens.len()].clone();
                expected.acquired_tokens.insert(token.clone());
                CardToUpdate::token(&id, ProviderId::Acquired, token)
            }
            95..=97 => CardToUpdate::pan(&id, pan(&format!("4{i:014}")), exp()),
            _ => CardToUpdate::pan(&id, pan(&format!("3530{i:011}")), exp()),
        };
        match i % 100 {
            0..=79 => {
                expected.cardsync.insert(id);
            }
            80..=84 => expected.payconex_pans += 1,
            85..=94 => {}
            95..=97 if card.source.token_issuer().is_some() => {}
            95..=97 => {
                expected.cardsync.insert(id);
            }
            _ => {
                expected.unrouted.insert(id);
            }
        }
        cards.push(card);
    }
    (cards, expected)
}

#[derive(Default)]
struct Expected {
    cardsync: BTreeSet<String>,
    payconex_tokens: BTreeSet<String>,
    payconex_pans: usize,
    acquired_tokens: BTreeSet<String>,
    unrouted: BTreeSet<String>,
}

/// Records what the observer saw: rejected ids with their reasons, and chunk outcomes.
#[derive(Default)]
struct Seen {
    rejected: Vec<(u64, String, String)>,
    accepted: usize,
    other: Vec<String>,
    seqs: Vec<u64>,
}

impl account_updater::submission::ChunkObserver for Seen {
    fn done<'a>(
        &'a mut self,
        chunk: account_updater::submission::Chunk,
        outcome: &'a ChunkOutcome,
    ) -> account_updater::provider::BoxFuture<'a, account_updater::Result<()>> {
        self.seqs.push(chunk.seq());
        match outcome {
            ChunkOutcome::Accepted { .. } => self.accepted += chunk.len(),
            other => self.other.push(format!("{other:?}")),
        }
        Box::pin(async { Ok(()) })
    }

    fn rejected<'a>(
        &'a mut self,
        position: u64,
        card: CardToUpdate,
        error: &'a Error,
    ) -> account_updater::provider::BoxFuture<'a, account_updater::Result<()>> {
        self.rejected.push((position, card.id, error.to_string()));
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_card_base_of_100000_reaches_each_provider_exactly_once() {
    let f = fleet().await;
    let acquired_tokens: Vec<String> = (0..300)
        .map(|i| f.acquired.create_token(&pan(&format!("4{i:014}")), exp()))
        .collect();
    let (cards, expected) = card_base(100_000, &acquired_tokens);
    let router = mixed_rules(
        Router::builder()
            .provider(f.cardsync_client.clone())
            .provider(f.acquired_client.clone())
            .provider(f.payconex_client.clone()),
    );
    let mut seen = Seen::default();
    let receipt = router
        .submit_stream(card_stream(cards), StreamOptions::default(), &mut seen)
        .await
        .unwrap();

    // Counted at the emulators: every card at exactly one provider, once.
    let cardsync = f.cardsync.cards_received();
    assert_eq!(
        cardsync.keys().cloned().collect::<BTreeSet<_>>(),
        expected.cardsync
    );
    assert!(
        cardsync.values().all(|n| *n == 1),
        "a card reached CardSync twice"
    );
    let acquired = f.acquired.inquiries();
    assert_eq!(
        acquired.keys().cloned().collect::<BTreeSet<_>>(),
        expected.acquired_tokens
    );
    assert!(acquired.values().all(|n| *n == 1));
    let payconex = f.payconex.records_received();
    let payconex_tokens: BTreeSet<String> = payconex
        .keys()
        .filter(|k| !k.contains('*'))
        .cloned()
        .collect();
    assert_eq!(payconex_tokens, expected.payconex_tokens);
    assert!(
        payconex
            .iter()
            .filter(|(k, _)| !k.contains('*'))
            .all(|(_, n)| *n == 1)
    );
    let pans: usize = payconex
        .iter()
        .filter(|(k, _)| k.contains('*'))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(pans, expected.payconex_pans);

    // The cards no rule takes are rejected with the reason, never dropped.
    let rejected: BTreeSet<String> = seen.rejected.iter().map(|(_, id, _)| id.clone()).collect();
    assert_eq!(rejected, expected.unrouted);
    for (_, id, why) in &seen.rejected {
        assert!(
            why.ends_with(&format!(
                "cards[id={id}] no routing rule takes a JCB card number"
            )),
            "{why}"
        );
    }
    let sent = expected.cardsync.len()
        + expected.acquired_tokens.len()
        + expected.payconex_tokens.len()
        + expected.payconex_pans;
    assert_eq!(seen.accepted, sent);
    assert!(seen.other.is_empty(), "{:?}", seen.other);
    assert_eq!(receipt.cards_read(), 100_000);
    assert_eq!(receipt.rejected() as usize, expected.unrouted.len());
    assert_eq!(receipt.accepted_cards() as usize, sent);
    assert!(receipt.stopped().is_none());
    assert_eq!(receipt.provider(), account_updater::routing::ROUTED);
    // Every card read is in exactly one chunk record or rejected.
    let mut held = 0u64;
    for record in receipt.chunks() {
        held += record.cards() as u64;
        assert_eq!(record.positions().len(), record.cards());
    }
    assert_eq!(held + receipt.rejected(), 100_000);
    for (position, _, _) in &seen.rejected {
        assert!(receipt.chunk_of(*position).is_none());
    }
    // Chunk numbers are unique across the lanes.
    let seqs: BTreeSet<u64> = seen.seqs.iter().copied().collect();
    assert_eq!(seqs.len(), seen.seqs.len());
}

#[tokio::test]
async fn a_token_goes_only_to_the_provider_that_issued_it() {
    let f = fleet().await;
    // Acquired itself refuses another provider's token before any request.
    let e = f
        .acquired_client
        .submit(vec![CardToUpdate::token(
            "c1",
            ProviderId::PayConex,
            "123456",
        )])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    match &e {
        Error::InvalidInput(input) => assert_eq!(
            input.problem,
            InputProblem::ForeignToken {
                issuer: ProviderId::PayConex,
                provider: ProviderId::Acquired
            }
        ),
        other => panic!("{other:?}"),
    }
    assert!(f.acquired.inquiries().is_empty());
    // So does PayConex, for an Acquired token.
    let e = f
        .payconex_client
        .subscribe(SubscribeRequest::new(vec![CardToUpdate::token(
            "c2",
            ProviderId::Acquired,
            "123456",
        )]))
        .await
        .unwrap_err();
    match &e {
        Error::InvalidInput(input) => assert_eq!(
            input.problem,
            InputProblem::ForeignToken {
                issuer: ProviderId::Acquired,
                provider: ProviderId::PayConex
            }
        ),
        other => panic!("{other:?}"),
    }
    assert!(f.payconex.records_received().is_empty());

    // A router's token rule takes only its own provider's tokens: a PayConex token matches no
    // rule of a router that sends tokens to Acquired.
    let router = Router::builder()
        .provider(f.acquired_client.clone())
        .rule(Rule::new("tokens", ProviderId::Acquired, Flow::Submit).when(Condition::Token))
        .build()
        .unwrap();
    let card = CardToUpdate::token("c3", ProviderId::PayConex, "123456");
    let e = router.route(&card).unwrap_err();
    assert!(
        e.to_string()
            .contains("no routing rule takes a payconex token"),
        "{e}"
    );
    let e = router.submit(vec![card]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(f.acquired.inquiries().is_empty());
}

#[tokio::test]
async fn a_refused_card_falls_through_only_when_the_rule_says_and_before_any_request() {
    let f = fleet().await;
    let amex_without_se = CardToUpdate::pan("amex-1", pan("37000000000001"), exp());
    let first = || {
        Rule::new("amex-cardsync", ProviderId::CardSync, Flow::Submit)
            .when(Condition::Brand(CardBrand::Amex))
    };
    let second = || {
        Rule::new("amex-payconex", ProviderId::PayConex, Flow::Subscribe)
            .when(Condition::Brand(CardBrand::Amex))
            .when(Condition::AmexSeNumber(false))
    };
    let router = |rules: Vec<Rule>| {
        rules
            .into_iter()
            .fold(
                Router::builder()
                    .provider(f.cardsync_client.clone())
                    .provider(f.payconex_client.clone()),
                |b, r| b.rule(r),
            )
            .build()
    };
    // Without fall-through the first rule takes every Amex card, so the second can never
    // match and the router is refused...
    assert_eq!(
        router(vec![first(), second()]).unwrap_err(),
        RouteError::Shadowed {
            rule: "amex-payconex".into(),
            earlier: "amex-cardsync".into()
        }
    );
    // ... and an Amex card without its SE number, which CardSync refuses, is rejected with
    // CardSync's own reason.
    let strict = router(vec![first()]).unwrap();
    let e = strict.route(&amex_without_se).unwrap_err();
    assert!(e.to_string().contains("se_number is required"), "{e}");
    // With fall-through the card goes on to PayConex, and CardSync never saw a request.
    let lenient = router(vec![first().fall_through(), second()]).unwrap();
    assert_eq!(
        lenient.route(&amex_without_se).unwrap().provider(),
        ProviderId::PayConex
    );
    let receipt = lenient.submit(vec![amex_without_se]).await.unwrap();
    assert!(receipt.is_complete());
    assert_eq!(receipt.accepted().len(), 1);
    assert_eq!(receipt.accepted()[0].job().provider, ProviderId::PayConex);
    assert_eq!(receipt.accepted()[0].job().kind, JobKind::Subscription);
    assert_eq!(f.cardsync.requests(), 0);
    assert_eq!(f.payconex.records_received().values().sum::<usize>(), 1);
}

#[tokio::test]
async fn jobs_status_and_results_go_back_to_the_provider_that_made_them() {
    let f = fleet().await;
    let token = f.acquired.create_token(&pan("400000000000000"), exp());
    let router: Arc<dyn Provider> = Arc::new(mixed_rules(
        Router::builder()
            .provider(f.cardsync_client.clone())
            .provider(f.acquired_client.clone())
            .provider(f.payconex_client.clone()),
    ));
    let caps = router.capabilities();
    for flow in [
        Flow::Submit,
        Flow::Subscribe,
        Flow::JobStatus,
        Flow::FetchResults,
    ] {
        assert!(caps.supports(flow), "{flow}");
    }
    let receipt = router
        .submit(vec![
            CardToUpdate::pan("visa-1", pan("445701000000000"), exp()),
            CardToUpdate::token("acq-1", ProviderId::Acquired, token.clone()),
        ])
        .await
        .unwrap();
    assert!(receipt.is_complete());
    let by_provider: HashMap<ProviderId, Vec<String>> =
        receipt.accepted().iter().fold(HashMap::new(), |mut m, j| {
            m.entry(j.job().provider)
                .or_default()
                .extend(j.cards().iter().map(|c| c.id().to_owned()));
            m
        });
    assert_eq!(by_provider[&ProviderId::CardSync], ["visa-1"]);
    assert_eq!(by_provider[&ProviderId::Acquired], ["acq-1"]);
    let batch = receipt
        .accepted()
        .iter()
        .find(|j| j.job().provider == ProviderId::CardSync)
        .unwrap()
        .job()
        .clone();
    let before = f.cardsync.requests();
    router.job_status(&batch).await.unwrap();
    let updates = router
        .fetch_results(&ResultsQuery::Job(batch))
        .await
        .unwrap();
    assert!(f.cardsync.requests() >= before + 2);
    assert_eq!(updates[0].card_id.as_deref(), Some("visa-1"));
    assert_eq!(updates[0].provider, ProviderId::CardSync);
    // A job of a provider the router does not hold is unsupported, not sent anywhere.
    let foreign = account_updater::ids::JobRef::new(ProviderId::AccountVault, JobKind::Batch, "x");
    let e = router.job_status(&foreign).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
}

//! One run across providers: rules refused when they cannot work, every card of a mixed card
//! base sent to exactly one provider (counted at the emulators), tokens only to their issuer,
//! fall-through before any request, and jobs, status and results going back to the provider
//! that made them.

use crate::common::luhn;
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
    assert_each_once(&f, &expected);
    println!(
        "100,000 cards: CardSync {}, Acquired tokens {}, PayConex tokens {}, PayConex card numbers {}, no rule {}",
        expected.cardsync.len(),
        expected.acquired_tokens.len(),
        expected.payconex_tokens.len(),
        expected.payconex_pans,
        expected.unrouted.len()
    );

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
    let e = router.submit(vec![card.clone()]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    // The `Vec` form checks ids and routes in one pass: the first problem in list order is
    // the error, whichever check finds it.
    let acquired_token = |id: &str| CardToUpdate::token(id, ProviderId::Acquired, "123457");
    let e = router
        .submit(vec![
            acquired_token("c4"),
            card.clone(),
            acquired_token("c4"),
        ])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no routing rule takes"), "{e}");
    let e = router
        .submit(vec![acquired_token("c5"), acquired_token("c5"), card])
        .await
        .unwrap_err();
    match &e {
        Error::InvalidInput(input) => assert_eq!(
            (input.field.as_str(), &input.problem),
            ("cards[id=c5].id", &InputProblem::Duplicate)
        ),
        other => panic!("{other:?}"),
    }
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

fn router_for(f: &Fleet) -> Router {
    mixed_rules(
        Router::builder()
            .provider(f.cardsync_client.clone())
            .provider(f.acquired_client.clone())
            .provider(f.payconex_client.clone()),
    )
}

/// What the emulators received, per card: CardSync ids, Acquired tokens, PayConex tokens (and
/// the number of PAN records).
fn received(
    f: &Fleet,
) -> (
    HashMap<String, usize>,
    HashMap<String, usize>,
    HashMap<String, usize>,
) {
    (
        f.cardsync.cards_received(),
        f.acquired.inquiries(),
        f.payconex.records_received(),
    )
}

fn assert_each_once(f: &Fleet, expected: &Expected) {
    let (cardsync, acquired, payconex) = received(f);
    assert_eq!(
        cardsync.keys().cloned().collect::<BTreeSet<_>>(),
        expected.cardsync
    );
    assert!(
        cardsync.values().all(|n| *n == 1),
        "a card reached CardSync twice"
    );
    assert_eq!(
        acquired.keys().cloned().collect::<BTreeSet<_>>(),
        expected.acquired_tokens
    );
    assert!(
        acquired.values().all(|n| *n == 1),
        "a token reached Acquired twice"
    );
    let tokens: BTreeSet<String> = payconex
        .keys()
        .filter(|k| !k.contains('*'))
        .cloned()
        .collect();
    assert_eq!(tokens, expected.payconex_tokens);
    assert!(
        payconex
            .iter()
            .filter(|(k, _)| !k.contains('*'))
            .all(|(_, n)| *n == 1),
        "a token reached PayConex twice"
    );
    let pans: usize = payconex
        .iter()
        .filter(|(k, _)| k.contains('*'))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(pans, expected.payconex_pans);
}

/// Per provider: cards accepted, from the journal.
fn accepted_per_provider(
    per: &[account_updater_journal::ProviderStatus],
) -> std::collections::BTreeMap<String, u64> {
    per.iter()
        .map(|p| (p.provider_name.clone(), p.status.accepted))
        .collect()
}

/// One routed run in `journal`: every chunk recorded with its provider, status per provider,
/// jobs that poll at their own provider, and a rerun that sends nothing.
async fn routed_run_in(journal: &account_updater_journal::Journal) {
    use account_updater_journal::RunOptions;
    let f = fleet().await;
    let acquired_tokens: Vec<String> = (0..60)
        .map(|i| f.acquired.create_token(&pan(&format!("4{i:014}")), exp()))
        .collect();
    let (mut cards, mut expected) = card_base(20_000, &acquired_tokens);
    // One of CardSync's sandbox cards, whose result is a new number.
    cards.push(CardToUpdate::pan(
        "visa-sandbox",
        CardNumber::parse("4457010000000009").unwrap(),
        exp(),
    ));
    expected.cardsync.insert("visa-sandbox".into());
    let router = router_for(&f);
    let report = journal
        .run(
            &router,
            &RunOptions::new("2026-12"),
            card_stream(cards.clone()),
        )
        .await
        .unwrap();
    assert!(report.receipt.stopped().is_none());
    assert_each_once(&f, &expected);
    let sent = (expected.cardsync.len()
        + expected.acquired_tokens.len()
        + expected.payconex_tokens.len()
        + expected.payconex_pans) as u64;
    assert_eq!(report.status.accepted, sent);
    assert_eq!(report.status.rejected, expected.unrouted.len() as u64);
    assert!(report.status.is_settled());

    let per = journal.status_by_provider("2026-12").await.unwrap();
    let accepted = accepted_per_provider(&per);
    assert_eq!(
        accepted,
        [
            ("acquired".to_owned(), expected.acquired_tokens.len() as u64),
            ("cardsync".to_owned(), expected.cardsync.len() as u64),
            (
                "payconex".to_owned(),
                (expected.payconex_tokens.len() + expected.payconex_pans) as u64
            ),
        ]
        .into_iter()
        .collect()
    );

    // Each job is at the provider that made it, and polls there through the router.
    let jobs = journal.accepted_jobs("2026-12").await.unwrap();
    assert_eq!(jobs.iter().map(|j| j.cards).sum::<u64>(), sent);
    let mut kinds = std::collections::HashSet::new();
    for j in &jobs {
        let job = j.job.as_ref().expect("every job is named");
        kinds.insert((job.provider, job.kind));
    }
    assert_eq!(
        kinds,
        [
            (ProviderId::CardSync, JobKind::Batch),
            (ProviderId::CardSync, JobKind::Subscription),
            (ProviderId::Acquired, JobKind::Inquiry),
            (ProviderId::PayConex, JobKind::Subscription),
        ]
        .into_iter()
        .collect::<std::collections::HashSet<_>>()
    );
    let mut updates = Vec::new();
    for batch in jobs
        .iter()
        .filter_map(|j| j.job.clone())
        .filter(|j| j.kind == JobKind::Batch)
    {
        updates.extend(
            router
                .fetch_results(&ResultsQuery::Job(batch))
                .await
                .unwrap(),
        );
    }
    let sandbox = updates
        .iter()
        .find(|u| u.card_id.as_deref() == Some("visa-sandbox"))
        .expect("the sandbox card's result");
    assert_eq!(sandbox.provider, ProviderId::CardSync);
    assert_eq!(sandbox.outcome, account_updater::Outcome::NewAccountNumber);
    let stored = journal.record_results("2026-12", &updates).await.unwrap();
    assert_eq!(stored, updates.len() as u64);
    let per = journal.status_by_provider("2026-12").await.unwrap();
    let cardsync = per
        .iter()
        .find(|p| p.provider == Some(ProviderId::CardSync))
        .unwrap();
    assert_eq!(cardsync.status.results, updates.len() as u64);

    // The same input again: every chunk is the journal's already; nothing is sent.
    let again = journal
        .run(&router, &RunOptions::new("2026-12"), card_stream(cards))
        .await
        .unwrap();
    assert_eq!(again.receipt.accepted_cards(), 0);
    assert_eq!(again.receipt.skipped_cards(), sent);
    assert_each_once(&f, &expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routed_run_in_a_sqlite_journal_is_recorded_per_provider_and_never_resent() {
    let dir = std::env::temp_dir().join(format!("au-routing-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let journal = account_updater_journal::Journal::open_sqlite(dir.join("journal.db"))
        .await
        .unwrap();
    routed_run_in(&journal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routed_run_in_a_postgres_journal_is_recorded_per_provider_and_never_resent() {
    let Some(pg) = crate::common::postgres::PgCluster::start("routed_run") else {
        return;
    };
    let journal = account_updater_journal::Journal::connect_postgres(&pg.url)
        .await
        .unwrap();
    routed_run_in(&journal).await;
}

/// The same routed run by one worker and by three on one PostgreSQL journal: the same totals,
/// per provider and merged, and every card at its provider once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_workers_on_one_postgres_journal_give_the_totals_of_one() {
    use account_updater_journal::{Journal, RunOptions};
    let Some(pg) = crate::common::postgres::PgCluster::start("routed_workers") else {
        return;
    };
    let mut totals = Vec::new();
    for (run, workers) in [("one-worker", 1usize), ("three-workers", 3)] {
        let f = fleet().await;
        let acquired_tokens: Vec<String> = (0..60)
            .map(|i| f.acquired.create_token(&pan(&format!("4{i:014}")), exp()))
            .collect();
        let (cards, expected) = card_base(20_000, &acquired_tokens);
        let mut journals = Vec::new();
        for _ in 0..workers {
            journals.push(Journal::connect_postgres(&pg.url).await.unwrap());
        }
        let routers: Vec<Router> = (0..workers).map(|_| router_for(&f)).collect();
        let options: Vec<RunOptions> = (0..workers)
            .map(|w| RunOptions::new(run).worker(format!("w{w}")))
            .collect();
        let reports = futures::future::join_all(
            (0..workers)
                .map(|w| journals[w].run(&routers[w], &options[w], card_stream(cards.clone()))),
        )
        .await;
        let mut sent = 0;
        for r in reports {
            let r = r.unwrap();
            assert!(r.receipt.stopped().is_none());
            sent += r.receipt.accepted_cards();
        }
        assert_each_once(&f, &expected);
        let status = journals[0].status(run).await.unwrap();
        assert_eq!(
            status.accepted, sent,
            "{run}: the workers' sends add up to the run"
        );
        assert!(status.is_settled());
        let per = journals[0].status_by_provider(run).await.unwrap();
        println!("{run}: {:?}", accepted_per_provider(&per));
        totals.push((
            (status.accepted, status.rejected, status.chunks),
            accepted_per_provider(&per),
        ));
    }
    assert_eq!(totals[0], totals[1]);
}

/// Every provider's webhooks to one URL: the router tells them apart by content, verifies the
/// signed one, refuses a forgery, and the results join back to the caller's ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_receiver_takes_every_providers_webhooks() {
    use account_updater::provider::WebhookRegistration;
    use account_updater::webhook::WebhookRequest;
    use account_updater_emulator::WebhookSink;
    use std::time::Duration;

    let f = fleet().await;
    let sink = WebhookSink::start().await.unwrap();
    f.acquired.set_webhook_url(&sink.url());
    f.cardsync_client
        .register_webhook(WebhookRegistration::new(sink.url()))
        .await
        .unwrap();
    f.payconex_client
        .register_webhook(WebhookRegistration::new(sink.url()))
        .await
        .unwrap();
    let router = router_for(&f);
    let token = f.acquired.create_token(&pan("445700030000000"), exp());
    let receipt = router
        .submit(vec![
            CardToUpdate::pan(
                "visa-1",
                CardNumber::parse("4457010000000009").unwrap(),
                exp(),
            ),
            CardToUpdate::token("acq-1", ProviderId::Acquired, token.clone()),
            CardToUpdate::token("pcx-1", ProviderId::PayConex, "100001234561"),
        ])
        .await
        .unwrap();
    assert!(receipt.is_complete());
    let schedule = receipt
        .accepted()
        .iter()
        .find(|j| j.job().provider == ProviderId::PayConex)
        .unwrap()
        .job()
        .id
        .clone();
    f.payconex.run_schedule(&schedule).await.unwrap();

    let mut providers = BTreeSet::new();
    let mut acquired_body = None;
    while providers.len() < 3 {
        let hook = sink
            .next(Duration::from_secs(10))
            .await
            .expect("a webhook from each provider");
        let event = router
            .parse_webhook(&WebhookRequest::new(&hook.headers, &hook.body))
            .unwrap();
        if event.provider == ProviderId::Acquired {
            assert_eq!(
                event.authenticity,
                account_updater::webhook::Authenticity::Verified
            );
            // The inquiry's result names the token only; the receipt joins it back.
            let mut updates = event.updates.clone();
            assert!(updates.iter().all(|u| u.card_id.is_none()));
            receipt.join_card_ids(&mut updates);
            assert_eq!(updates[0].card_id.as_deref(), Some("acq-1"));
            acquired_body = Some(hook);
        }
        providers.insert(event.provider);
    }
    assert_eq!(
        providers,
        [
            ProviderId::PayConex,
            ProviderId::CardSync,
            ProviderId::Acquired
        ]
        .into_iter()
        .collect()
    );

    // A forged Acquired webhook (its event changed after signing) is refused, by content and
    // on Acquired's own path, and never read as another provider's.
    let genuine = acquired_body.unwrap();
    let mut forged: serde_json::Value = serde_json::from_slice(&genuine.body).unwrap();
    forged["id"] = serde_json::json!("forged-0001");
    let forged = serde_json::to_vec(&forged).unwrap();
    let request = WebhookRequest::new(&genuine.headers, &forged);
    let by_content = router.parse_webhook(&request).unwrap_err();
    assert_eq!(by_content.kind(), ErrorKind::Integrity, "{by_content}");
    let by_path = router
        .parse_webhook_from(ProviderId::Acquired, &request)
        .unwrap_err();
    assert_eq!(by_path.kind(), ErrorKind::Integrity);
}

/// A router sending every card number to `cardsync` (CardSync's client, or a wrapper of it)
/// and, with `second_lane`, PayConex tokens to PayConex subscriptions: a lane none of these
/// tests' cards takes (their tokens are Acquired's), there to make the router read through
/// its many-lane hub rather than its one-lane stream.
fn cards_to_cardsync(f: &Fleet, cardsync: impl Provider + 'static, second_lane: bool) -> Router {
    let mut builder = Router::builder()
        .provider(cardsync)
        .rule(Rule::new("cards", ProviderId::CardSync, Flow::Submit).when(Condition::CardNumber));
    if second_lane {
        builder = builder.provider(f.payconex_client.clone()).rule(
            Rule::new("payconex-tokens", ProviderId::PayConex, Flow::Subscribe)
                .when(Condition::Token),
        );
    }
    builder.build().unwrap()
}

/// A provider that wraps CardSync's client and looks at every card on its way to it, as an
/// audit or metrics decorator would: its driver is handed another stream than the router's.
#[derive(Debug)]
struct Inspecting {
    inner: CardSyncClient,
    seen: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Provider for Inspecting {
    fn id(&self) -> ProviderId {
        self.inner.id()
    }

    fn capabilities(&self) -> account_updater::provider::Capabilities {
        self.inner.capabilities()
    }

    fn check_card(&self, flow: Flow, card: &CardToUpdate) -> account_updater::Result<()> {
        self.inner.check_card(flow, card)
    }

    fn submit_stream<'a>(
        &'a self,
        cards: futures::stream::BoxStream<'a, CardToUpdate>,
        options: StreamOptions,
        observer: &'a mut dyn account_updater::submission::ChunkObserver,
    ) -> account_updater::provider::BoxFuture<
        'a,
        account_updater::Result<account_updater::submission::StreamReceipt>,
    > {
        use futures::StreamExt;
        let seen = self.seen.clone();
        let inspected = cards
            .map(move |card| {
                seen.lock().unwrap().push(card.id.clone());
                card
            })
            .boxed();
        Provider::submit_stream(&self.inner, inspected, options, observer)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_wrapping_a_one_lane_routers_stream_sees_every_card_once_in_order() {
    // One lane: the router's stream checks and yields each card as it reads it, publishing
    // its position for the driver.
    a_wrapper_sees_every_routed_card_once_in_order(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_wrapping_a_many_lane_routers_stream_sees_every_card_once_in_order() {
    // Two lanes: the router hands each lane its cards a batch at a time; a driver given the
    // router's own stream takes each batch whole, a wrapper's driver cannot.
    a_wrapper_sees_every_routed_card_once_in_order(true).await;
}

/// Every card must still pass through the wrapper, reach CardSync once, and keep the
/// position it was read at; the cards no rule takes never reach the wrapper.
async fn a_wrapper_sees_every_routed_card_once_in_order(second_lane: bool) {
    let f = fleet().await;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let cardsync = Inspecting {
        inner: f.cardsync_client.clone(),
        seen: seen.clone(),
    };
    let router = cards_to_cardsync(&f, cardsync, second_lane);
    let n = 25_000;
    let ids: Vec<String> = (0..n).map(|i| format!("w{i}")).collect();
    // Every 1,000th card has no route: refused by the router, never seen by the wrapper.
    let cards = ids.iter().enumerate().map(|(i, id)| {
        if i % 1000 == 999 {
            CardToUpdate::token(id.clone(), ProviderId::Acquired, format!("t{i}"))
        } else {
            CardToUpdate::pan(id.clone(), pan(&format!("4{:014}", i % 7)), exp())
        }
    });
    let receipt = router
        .submit_stream(card_stream(cards), StreamOptions::default(), &mut ())
        .await
        .unwrap();
    let routed: Vec<&String> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 1000 != 999)
        .map(|(_, id)| id)
        .collect();
    assert_eq!(receipt.rejected(), 25);
    assert_eq!(receipt.accepted_cards(), routed.len() as u64);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.iter().collect::<Vec<_>>(),
        routed,
        "the wrapper saw each card once, in order"
    );
    let at_cardsync = f.cardsync.cards_received();
    assert_eq!(at_cardsync.len(), routed.len());
    assert!(at_cardsync.values().all(|&times| times == 1));
    // Each chunk holds the input positions of its cards: together, every routed position once.
    let mut positions: Vec<u64> = receipt
        .chunks()
        .iter()
        .flat_map(|c| c.positions().iter())
        .collect();
    positions.sort_unstable();
    let expected: Vec<u64> = (0..n as u64).filter(|i| i % 1000 != 999).collect();
    assert_eq!(positions, expected);
}

/// Collects what a routed run reports card by card: each refused card's position, id and
/// problem, and each chunk's positions.
#[derive(Default)]
struct Reports {
    rejected: Vec<(u64, String, Option<InputProblem>)>,
    chunk_positions: Vec<u64>,
}

impl account_updater::submission::ChunkObserver for Reports {
    fn done<'a>(
        &'a mut self,
        chunk: account_updater::submission::Chunk,
        _outcome: &'a ChunkOutcome,
    ) -> account_updater::provider::BoxFuture<'a, account_updater::Result<()>> {
        self.chunk_positions.extend(chunk.positions().iter());
        Box::pin(async { Ok(()) })
    }

    fn rejected<'a>(
        &'a mut self,
        position: u64,
        card: CardToUpdate,
        error: &'a Error,
    ) -> account_updater::provider::BoxFuture<'a, account_updater::Result<()>> {
        let problem = match error {
            Error::InvalidInput(input) => Some(input.problem.clone()),
            _ => None,
        };
        self.rejected.push((position, card.id, problem));
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_lane_run_reports_every_refused_card_at_its_position_and_sends_the_rest_once() {
    refused_cards_are_reported_at_their_positions(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_many_lane_run_reports_every_refused_card_at_its_position_and_sends_the_rest_once() {
    refused_cards_are_reported_at_their_positions(true).await;
}

/// More refused cards in a row than the router lets wait for the observer (it reads on only
/// once they are taken), a card no rule takes and a later card with its id (the id is not
/// held by a card that was never routed), and a repeated id among routed cards (refused,
/// never sent); with one lane and with two.
async fn refused_cards_are_reported_at_their_positions(second_lane: bool) {
    let f = fleet().await;
    let router = cards_to_cardsync(&f, f.cardsync_client.clone(), second_lane);
    let refused_first = 10_000u64;
    let mut cards: Vec<CardToUpdate> = (0..refused_first)
        .map(|i| CardToUpdate::token(format!("t{i}"), ProviderId::Acquired, format!("tok{i}")))
        .collect();
    let card = |id: &str, i: u64| CardToUpdate::pan(id, pan(&format!("4{:014}", i % 7)), exp());
    cards.extend((0..3_000).map(|i| card(&format!("c{i}"), i)));
    // Position 13,000: a token whose id a later card uses; 13,001: that card; 13,002: the
    // id of an earlier routed card.
    cards.push(CardToUpdate::token(
        "shared",
        ProviderId::Acquired,
        "tok-shared",
    ));
    cards.push(card("shared", 1));
    cards.push(card("c5", 2));
    let total = cards.len() as u64;
    let mut reports = Reports::default();
    let receipt = router
        .submit_stream(card_stream(cards), StreamOptions::default(), &mut reports)
        .await
        .unwrap();
    assert!(receipt.stopped().is_none());
    assert_eq!(receipt.cards_read(), total);
    assert_eq!(receipt.rejected(), refused_first + 2);
    assert_eq!(receipt.accepted_cards(), 3_001);

    let mut rejected = reports.rejected.clone();
    rejected.sort_by_key(|r| r.0);
    let no_route: Vec<u64> = rejected
        .iter()
        .filter(|r| matches!(r.2, Some(InputProblem::NoRoute { .. })))
        .map(|r| r.0)
        .collect();
    let mut expected_no_route: Vec<u64> = (0..refused_first).collect();
    expected_no_route.push(13_000);
    assert_eq!(no_route, expected_no_route);
    let duplicates: Vec<(u64, &str)> = rejected
        .iter()
        .filter(|r| matches!(r.2, Some(InputProblem::Duplicate)))
        .map(|r| (r.0, r.1.as_str()))
        .collect();
    assert_eq!(duplicates, vec![(13_002, "c5")]);
    assert_eq!(rejected.len() as u64, refused_first + 2);

    // Every position once: refused, or in a chunk.
    let mut all: Vec<u64> = reports.chunk_positions.clone();
    all.extend(rejected.iter().map(|r| r.0));
    all.sort_unstable();
    assert_eq!(all, (0..total).collect::<Vec<_>>());
    let at_cardsync = f.cardsync.cards_received();
    assert_eq!(at_cardsync.len(), 3_001);
    assert_eq!(at_cardsync.get("shared"), Some(&1));
    assert!(at_cardsync.values().all(|&times| times == 1));
}

/// A one-lane router hands the crate's own CardSync client its input as it is (the driver
/// checks each card's id and route as it reads it), and a wrapper of that client only the
/// cards a rule takes: the two runs refuse the same cards at the same positions for the same
/// reasons, send the others in the same chunks, and count the same cards read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_lane_router_refuses_alike_whether_its_driver_or_its_stream_checks_the_routes() {
    let f = fleet().await;
    let n = 12_000u64;
    let cards = |prefix: &'static str| {
        (0..n).map(move |i| match i % 1000 {
            // No rule takes another provider's token.
            999 => CardToUpdate::token(format!("{prefix}{i}"), ProviderId::Acquired, "123456"),
            // A caller id the crate refuses.
            500 => CardToUpdate::pan(format!("{prefix}\u{7}{i}"), pan("4111111111111111"), exp()),
            // The id of the card before it.
            250 => CardToUpdate::pan(format!("{prefix}{}", i - 1), pan("4111111111111111"), exp()),
            _ => CardToUpdate::pan(format!("{prefix}{i}"), pan("4111111111111111"), exp()),
        })
    };
    let mut seen = Vec::new();
    for (prefix, router) in [
        (
            "raw-",
            cards_to_cardsync(&f, f.cardsync_client.clone(), false),
        ),
        (
            "wrapped-",
            cards_to_cardsync(
                &f,
                Inspecting {
                    inner: f.cardsync_client.clone(),
                    seen: Arc::default(),
                },
                false,
            ),
        ),
    ] {
        let mut reports = Reports::default();
        let receipt = router
            .submit_stream(
                card_stream(cards(prefix)),
                StreamOptions::default(),
                &mut reports,
            )
            .await
            .unwrap();
        let mut rejected: Vec<(u64, Option<InputProblem>)> = reports
            .rejected
            .iter()
            .map(|(position, _, problem)| (*position, problem.clone()))
            .collect();
        rejected.sort_by_key(|(position, _)| *position);
        let mut positions = reports.chunk_positions.clone();
        positions.sort_unstable();
        seen.push((
            receipt.cards_read(),
            receipt.rejected(),
            receipt.accepted_cards(),
            rejected,
            positions,
        ));
    }
    assert_eq!(seen[0], seen[1]);
    let (cards_read, rejected, accepted, refused, positions) = &seen[0];
    assert_eq!(*cards_read, n);
    assert_eq!(*rejected, 36);
    assert_eq!(*accepted, n - 36);
    let expected: Vec<u64> = (0..n)
        .filter(|i| [250, 500, 999].contains(&(i % 1000)))
        .collect();
    assert_eq!(
        refused.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        expected
    );
    for (position, problem) in refused {
        match position % 1000 {
            999 => assert!(
                matches!(problem, Some(InputProblem::NoRoute { .. })),
                "{problem:?}"
            ),
            250 => assert_eq!(problem, &Some(InputProblem::Duplicate)),
            _ => assert!(
                matches!(problem, Some(InputProblem::Format { .. })),
                "{problem:?}"
            ),
        }
    }
    assert_eq!(positions.len() as u64, n - 36);
    // Each card reached CardSync once.
    let at_cardsync = f.cardsync.cards_received();
    assert_eq!(at_cardsync.len() as u64, 2 * (n - 36));
    assert!(at_cardsync.values().all(|&times| times == 1));
}

//! A routed run: the router reads the input, checks each card's id and routes it; one lane per
//! provider and flow sends the cards; one observer sees every lane's chunks.

use std::collections::{BTreeMap, HashSet};
use std::hash::BuildHasher;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::lock::Mutex as AsyncMutex;
use futures::stream::{BoxStream, Stream, StreamExt};
use tokio::sync::mpsc;

use super::Router;
use crate::error::{Error, InputProblem, Result};
use crate::ids::{Flow, JobKind};
use crate::model::stream::Lane;
use crate::model::{
    BoxFuture, CardSource, CardToUpdate, Chunk, ChunkObserver, ChunkOutcome, ChunkRecord,
    DuplicateIds, Proceed, StreamOptions, StreamReceipt, SubmissionReceipt, SubscribeRequest,
    check_caller_id, check_card_ids,
};
use crate::provider::Provider;
use crate::submission::ReceiptCollector;

/// Cards a lane's channel holds while its provider is busy: enough to keep a lane's planner
/// fed, small beside a chunk.
const LANE_BUFFER: usize = 256;

/// A lane's chunk numbers: `lane × 2⁴⁰` on.
const LANE_SPAN: u64 = 1 << 40;

/// The `Vec` form: every card's id and route checked before the first request.
pub(super) async fn submit_all(
    router: &Router,
    cards: Vec<CardToUpdate>,
    subscription: Option<SubscribeRequest>,
) -> Result<SubmissionReceipt> {
    check_card_ids(cards.iter().map(|c| c.id.as_str()))?;
    for card in &cards {
        router.route_index(card)?;
    }
    let mut collector = ReceiptCollector::default();
    let streamed = stream(
        router,
        crate::submission::card_stream(cards),
        StreamOptions::default().duplicate_ids(DuplicateIds::CallerGuarantees),
        &mut collector,
        subscription,
    )
    .await?;
    collector.into_receipt(streamed)
}

/// What the lanes share: the caller's observer (one call at a time), and the first error
/// that stopped the run.
struct Shared<'o> {
    observer: AsyncMutex<&'o mut dyn ChunkObserver>,
    stopping: AtomicBool,
    stopped: Mutex<Option<Error>>,
}

impl Shared<'_> {
    fn stop(&self, error: Error) {
        self.stopping.store(true, Ordering::Release);
        self.stopped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(error);
    }

    fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }
}

/// What a lane hands back to its observer when another lane stopped the run (the run's
/// receipt carries the error that stopped it).
fn stopped_elsewhere() -> Error {
    Error::invalid(
        "run",
        InputProblem::NotAllowed {
            reason: "the routed run stopped (see the run's receipt for why)".into(),
        },
    )
}

/// A lane's view of the shared observer: checks the lane's chunks are numbered as the lane,
/// and stops every lane when the observer fails.
struct LaneObserver<'s, 'o> {
    shared: &'s Shared<'o>,
    seq_base: u64,
}

impl ChunkObserver for LaneObserver<'_, '_> {
    fn sending<'a>(&'a mut self, chunk: &'a Chunk) -> BoxFuture<'a, Result<Proceed>> {
        Box::pin(async move {
            if !(self.seq_base..self.seq_base + LANE_SPAN).contains(&chunk.seq()) {
                // A provider whose streamed submission does not run on the crate's driver
                // numbers chunks its own way: a journal could not tell its lanes apart.
                let e = Error::invalid(
                    "router",
                    InputProblem::NotAllowed {
                        reason: "a provider's streamed submission numbered its chunks outside its lane; only providers on the crate's streamed driver can take part in a routed stream".into(),
                    },
                );
                self.shared.stop(stopped_elsewhere());
                return Err(e);
            }
            if self.shared.is_stopping() {
                return Err(stopped_elsewhere());
            }
            let result = self.shared.observer.lock().await.sending(chunk).await;
            match result {
                Ok(p) => Ok(p),
                Err(e) => {
                    self.shared.stop(e);
                    Err(stopped_elsewhere())
                }
            }
        })
    }

    fn done<'a>(
        &'a mut self,
        chunk: Chunk,
        outcome: &'a ChunkOutcome,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let result = self.shared.observer.lock().await.done(chunk, outcome).await;
            result.map_err(|e| {
                self.shared.stop(e);
                stopped_elsewhere()
            })
        })
    }

    fn rejected<'a>(
        &'a mut self,
        position: u64,
        card: CardToUpdate,
        error: &'a Error,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let result = self
                .shared
                .observer
                .lock()
                .await
                .rejected(position, card, error)
                .await;
            result.map_err(|e| {
                self.shared.stop(e);
                stopped_elsewhere()
            })
        })
    }
}

type Routed = (u64, CardToUpdate);

/// A submit lane's input: the router's cards, each announcing the position it was read at
/// (through the lane's [`Lane::position`]) as the provider's driver pulls it. When the driver
/// lets go of it (done, or stopped), the channel is closed and handed back, so that cards
/// routed to the lane but never pulled are accounted for.
struct LaneInput {
    rx: Option<mpsc::Receiver<Routed>>,
    position: Arc<AtomicU64>,
    returned: Arc<Mutex<Option<mpsc::Receiver<Routed>>>>,
}

impl Stream for LaneInput {
    type Item = CardToUpdate;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<CardToUpdate>> {
        let Some(rx) = self.rx.as_mut() else {
            return Poll::Ready(None);
        };
        match rx.poll_recv(cx) {
            Poll::Ready(Some((position, card))) => {
                self.position.store(position, Ordering::Release);
                Poll::Ready(Some(card))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for LaneInput {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            *self.returned.lock().unwrap_or_else(|e| e.into_inner()) = Some(rx);
        }
    }
}

/// What one lane did.
struct LaneReport {
    chunks: Vec<ChunkRecord>,
    rejected: u64,
    /// Cards routed to the lane that it never took (the run stopped first).
    unsent: Vec<Routed>,
}

/// One provider's streamed submission, numbered as lane `lane`.
async fn submit_lane(
    provider: &dyn Provider,
    rx: mpsc::Receiver<Routed>,
    lane: usize,
    shared: &Shared<'_>,
) -> LaneReport {
    let seq_base = lane as u64 * LANE_SPAN;
    let position = Arc::new(AtomicU64::new(0));
    let returned = Arc::new(Mutex::new(None));
    let input = LaneInput {
        rx: Some(rx),
        position: position.clone(),
        returned: returned.clone(),
    };
    let mut options = StreamOptions::default().duplicate_ids(DuplicateIds::CallerGuarantees);
    options.lane = Some(Lane { seq_base, position });
    let mut observer = LaneObserver { shared, seq_base };
    let mut report = LaneReport {
        chunks: Vec::new(),
        rejected: 0,
        unsent: Vec::new(),
    };
    match provider
        .submit_stream(input.boxed(), options, &mut observer)
        .await
    {
        Ok(receipt) => {
            report.rejected = receipt.rejected;
            report.chunks = receipt.chunks;
        }
        Err(e) => shared.stop(e),
    }
    let rx = returned.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(mut rx) = rx {
        while let Ok(item) = rx.try_recv() {
            report.unsent.push(item);
        }
    }
    report
}

/// A subscription lane: the router groups the lane's cards (tokens apart from card numbers,
/// Amex cards per SE number, so that each request makes one subscription) into chunks of
/// `size` and sends each as one subscribe request.
async fn subscribe_lane(
    provider: &dyn Provider,
    mut rx: mpsc::Receiver<Routed>,
    lane: usize,
    shared: &Shared<'_>,
    size: usize,
    template: &SubscribeRequest,
) -> LaneReport {
    let mut next_seq = lane as u64 * LANE_SPAN;
    let mut report = LaneReport {
        chunks: Vec::new(),
        rejected: 0,
        unsent: Vec::new(),
    };
    let mut open: BTreeMap<(bool, Option<String>), Chunk> = BTreeMap::new();
    while let Some((position, card)) = rx.recv().await {
        if shared.is_stopping() {
            report.unsent.push((position, card));
            rx.close();
            continue;
        }
        let se = card.amex_se_number.clone().filter(|s| !s.is_empty());
        let key = (matches!(card.source, CardSource::Token { .. }), se.clone());
        let chunk = open
            .entry(key.clone())
            .or_insert_with(|| Chunk::new(JobKind::Subscription, se));
        chunk.push(position, card);
        if chunk.len() >= size {
            let chunk = open.remove(&key).expect("the chunk just filled");
            subscribe_chunk(
                provider,
                chunk,
                &mut next_seq,
                shared,
                template,
                &mut report,
            )
            .await;
        }
    }
    for (_, chunk) in std::mem::take(&mut open) {
        subscribe_chunk(
            provider,
            chunk,
            &mut next_seq,
            shared,
            template,
            &mut report,
        )
        .await;
    }
    report
}

async fn subscribe_chunk(
    provider: &dyn Provider,
    mut chunk: Chunk,
    next_seq: &mut u64,
    shared: &Shared<'_>,
    template: &SubscribeRequest,
    report: &mut LaneReport,
) {
    chunk.seq = *next_seq;
    chunk.provider = Some(provider.id());
    *next_seq += 1;
    let record = |outcome| ChunkRecord {
        seq: chunk.seq,
        kind: chunk.kind,
        cards: chunk.len(),
        positions: chunk.position_set(),
        outcome,
    };
    if shared.is_stopping() {
        report.chunks.push(record(ChunkOutcome::NotSent));
        return;
    }
    let claim = shared.observer.lock().await.sending(&chunk).await;
    match claim {
        Ok(Proceed::Send) => {}
        Ok(Proceed::Skip) => {
            report.chunks.push(record(ChunkOutcome::Skipped));
            return;
        }
        Err(e) => {
            shared.stop(e);
            report.chunks.push(record(ChunkOutcome::NotSent));
            return;
        }
    }
    let request = SubscribeRequest {
        cards: chunk.cards().to_vec(),
        ..template.clone()
    };
    let outcome = match provider.subscribe(request).await {
        Ok(receipt) => one_job(provider, receipt, &chunk),
        Err(e) => ChunkOutcome::from_error(e),
    };
    let kept = record(ChunkOutcome::NotSent);
    let done = shared.observer.lock().await.done(chunk, &outcome).await;
    if let Err(e) = done {
        shared.stop(e);
    }
    report.chunks.push(ChunkRecord { outcome, ..kept });
}

/// A subscribe request's receipt as one chunk's outcome: one job holding every card, or the
/// failure; anything else (several jobs, part accepted) is unknown, since the run records one
/// job a chunk and the provider did act on part of it.
fn one_job(provider: &dyn Provider, receipt: SubmissionReceipt, chunk: &Chunk) -> ChunkOutcome {
    let (mut accepted, failed) = receipt.into_parts();
    match (accepted.len(), failed.len()) {
        (1, 0) if accepted[0].cards.len() == chunk.len() => {
            let job = accepted.remove(0);
            let by_id: std::collections::HashMap<&str, Option<&str>> = job
                .cards
                .iter()
                .map(|c| (c.id.as_str(), c.provider_ref.as_deref()))
                .collect();
            let card_refs: Option<Vec<String>> = chunk
                .ids()
                .map(|id| by_id.get(id).copied().flatten().map(str::to_owned))
                .collect();
            ChunkOutcome::Accepted {
                job: job.job,
                state: job.state,
                card_refs,
            }
        }
        (0, n) if n > 0 => {
            let may_have_acted = failed.iter().any(|f| f.error.provider_may_have_acted());
            let first = failed.into_iter().next().expect("n > 0").error;
            if may_have_acted {
                ChunkOutcome::Unknown(first)
            } else {
                ChunkOutcome::Failed(first)
            }
        }
        (jobs, failures) => ChunkOutcome::Unknown(Error::decode(
            provider.id(),
            200,
            format!(
                "one subscribe request was answered with {jobs} subscription(s) and {failures} failed part(s); a routed run records one subscription a chunk, so check the provider's subscriptions before sending these cards again"
            ),
            b"",
        )),
    }
}

/// What the router's reading of the input found.
struct Feed {
    cards_read: u64,
    rejected: u64,
    /// Cards a lane closed before taking them, with their lane.
    unsent: Vec<(usize, Routed)>,
}

/// Reads the input: each card's id checked (and, by default, refused when already seen in
/// this run, across every provider), then routed to its lane or rejected with the reason.
async fn feed(
    router: &Router,
    mut cards: BoxStream<'_, CardToUpdate>,
    lanes: Vec<mpsc::Sender<Routed>>,
    duplicate_ids: DuplicateIds,
    shared: &Shared<'_>,
) -> Feed {
    let hasher = foldhash::quality::RandomState::default();
    let mut seen: Option<HashSet<u64, foldhash::fast::RandomState>> = match duplicate_ids {
        DuplicateIds::Refuse => Some(HashSet::with_capacity_and_hasher(
            cards.size_hint().0,
            Default::default(),
        )),
        _ => None,
    };
    let mut out = Feed {
        cards_read: 0,
        rejected: 0,
        unsent: Vec::new(),
    };
    while !shared.is_stopping() {
        let Some(card) = cards.next().await else {
            break;
        };
        let position = out.cards_read;
        out.cards_read += 1;
        let checked = check_caller_id(position as usize, &card.id).and_then(|()| {
            let fresh = seen
                .as_mut()
                .is_none_or(|seen| seen.insert(hasher.hash_one(card.id.as_str())));
            if fresh {
                Ok(())
            } else {
                Err(Error::invalid(
                    format!("cards[id={}].id", card.id),
                    InputProblem::Duplicate,
                ))
            }
        });
        match checked.and_then(|()| router.route_index(&card)) {
            Ok(rule) => {
                let lane = router.rule_lane[rule];
                if let Err(mpsc::error::SendError(item)) = lanes[lane].send((position, card)).await
                {
                    out.unsent.push((lane, item));
                }
            }
            Err(error) => {
                out.rejected += 1;
                let result = shared
                    .observer
                    .lock()
                    .await
                    .rejected(position, card, &error)
                    .await;
                if let Err(e) = result {
                    shared.stop(e);
                }
            }
        }
    }
    out
}

/// The streamed form: the router reads the input and every lane runs at once.
pub(super) async fn stream(
    router: &Router,
    cards: BoxStream<'_, CardToUpdate>,
    options: StreamOptions,
    observer: &mut dyn ChunkObserver,
    subscription: Option<SubscribeRequest>,
) -> Result<StreamReceipt> {
    let shared = Shared {
        observer: AsyncMutex::new(observer),
        stopping: AtomicBool::new(false),
        stopped: Mutex::new(None),
    };
    let template = subscription.unwrap_or_else(|| router.subscription.clone());
    let mut senders = Vec::with_capacity(router.lanes.len());
    let mut lanes: Vec<futures::future::BoxFuture<'_, LaneReport>> = Vec::new();
    for (lane, (index, flow)) in router.lanes.iter().enumerate() {
        let (tx, rx) = mpsc::channel(LANE_BUFFER);
        senders.push(tx);
        let provider = router.providers[*index].as_ref();
        lanes.push(match flow {
            Flow::Subscribe => Box::pin(subscribe_lane(
                provider,
                rx,
                lane,
                &shared,
                router.subscription_chunk,
                &template,
            )),
            _ => Box::pin(submit_lane(provider, rx, lane, &shared)),
        });
    }
    let (fed, reports) = futures::future::join(
        feed(router, cards, senders, options.duplicate_ids, &shared),
        futures::future::join_all(lanes),
    )
    .await;
    let mut unsent: BTreeMap<usize, Vec<Routed>> = BTreeMap::new();
    for (lane, item) in fed.unsent {
        unsent.entry(lane).or_default().push(item);
    }
    let mut receipt = StreamReceipt {
        provider: super::ROUTED,
        chunks: Vec::new(),
        rejected: fed.rejected,
        cards_read: fed.cards_read,
        stopped: shared
            .stopped
            .into_inner()
            .unwrap_or_else(|e| e.into_inner()),
    };
    for (lane, report) in reports.into_iter().enumerate() {
        receipt.rejected += report.rejected;
        receipt.chunks.extend(report.chunks);
        let left = unsent
            .remove(&lane)
            .into_iter()
            .flatten()
            .chain(report.unsent);
        let mut chunk = Chunk::new(
            match router.lanes[lane].1 {
                Flow::Subscribe => JobKind::Subscription,
                _ => JobKind::Batch,
            },
            None,
        );
        for (position, card) in left {
            chunk.push(position, card);
        }
        if !chunk.is_empty() {
            // Routed to the lane, never taken: the run stopped first. Numbered at the end of
            // the lane's span; never recorded by an observer, so a resume routes them again.
            receipt.chunks.push(ChunkRecord {
                seq: lane as u64 * LANE_SPAN + LANE_SPAN - 1,
                kind: chunk.kind,
                cards: chunk.len(),
                positions: chunk.position_set(),
                outcome: ChunkOutcome::NotSent,
            });
        }
    }
    Ok(receipt)
}

//! A routed run: the router reads the input, checks each card's id and routes it; one lane per
//! provider and flow sends the cards; one observer sees every lane's chunks.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::lock::Mutex as AsyncMutex;
use futures::stream::{BoxStream, Stream, StreamExt};

use super::Router;
use crate::error::{Error, InputProblem, Result};
use crate::ids::{Flow, JobKind};
use crate::model::stream::{Lane, LaneFeed, RouteCheck, stream_address};
use crate::model::{
    BoxFuture, CardSource, CardToUpdate, Chunk, ChunkObserver, ChunkOutcome, ChunkRecord,
    DuplicateIds, IdHashSet, Proceed, StreamOptions, StreamReceipt, SubmissionReceipt,
    SubscribeRequest, check_caller_id, check_cards,
};
use crate::provider::Provider;
use crate::submission::ReceiptCollector;

/// Cards the router reads, checks and routes at a time. Ids are checked for duplicates a batch
/// at a time, in a tight loop, as the driver does a chunk at a time (a set of a million hashes
/// is larger than the CPU caches; checking each card while the next is built would serialise
/// its cache misses), and a lane takes its queued cards under one lock, not one lock a card.
const FEED_BATCH: usize = 1024;

/// Cards routed to a lane and not yet taken by it beyond which no lane reads more input (so a
/// slow provider holds the others back instead of letting its queue grow): memory per lane
/// stays at a few thousand cards beside its provider's own chunks.
const LANE_QUEUE_LIMIT: usize = 4 * FEED_BATCH;

/// A lane's chunk numbers: `lane × 2⁴⁰` on.
const LANE_SPAN: u64 = 1 << 40;

/// The `Vec` form: every card's id and route checked before the first request.
pub(super) async fn submit_all(
    router: &Router,
    cards: Vec<CardToUpdate>,
    subscription: Option<SubscribeRequest>,
) -> Result<SubmissionReceipt> {
    check_cards(&cards, &|index| {
        router.route_index(&cards[index], true).map(drop)
    })?;
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

/// The input of a router with several lanes, read by whichever lane needs cards: it reads a
/// batch, routes each card into its lane's queue, checks the routed cards' ids and wakes the
/// lanes that got cards. No task of its own and no channel. (A router with one lane hands
/// its input to the lane's provider as it is ([`SoleInput`]); the hub then at most collects
/// the refused cards of a [`SoleLaneInput`].)
struct Hub<'i, 'r> {
    router: &'r Router,
    state: Mutex<HubState<'i>>,
}

struct HubState<'i> {
    input: BoxStream<'i, CardToUpdate>,
    input_done: bool,
    seen: Option<IdHashSet>,
    cards_read: u64,
    queues: Vec<std::collections::VecDeque<Routed>>,
    /// Lanes whose provider let go of their input: cards routed to them are not sent.
    closed: Vec<bool>,
    /// Cards routed to a lane that had closed, with the lane.
    unsent: Vec<(usize, Routed)>,
    /// Cards refused while reading, for the rejecter to hand to the observer.
    rejections: Vec<(u64, CardToUpdate, Error)>,
    rejected: u64,
    /// Lanes waiting for cards (or for space in another lane's queue).
    waiting: Vec<Option<Waker>>,
    rejecter: Option<Waker>,
    /// Buffers reused from batch to batch.
    batch: Vec<Routed>,
    hashes: Vec<u64>,
    fresh: Vec<bool>,
    routes: Vec<usize>,
}

/// A refused card's place in [`HubState::read_batch`]'s list of lanes.
const NO_LANE: usize = usize::MAX;
/// The place of a routed card whose id an earlier routed card holds.
const DUPLICATE: usize = usize::MAX - 1;

use std::task::Waker;

impl HubState<'_> {
    fn wake_all(&mut self) {
        for w in self.waiting.iter_mut() {
            if let Some(w) = w.take() {
                w.wake();
            }
        }
    }

    /// Reads up to a batch, checks and routes it. `Pending` when the input has nothing yet
    /// (the input wakes `cx` when it has).
    ///
    /// A batch whose every card goes to one lane with an empty queue is handed to that lane as
    /// it is (the buffer becomes the queue), so a run whose rules send everything to one
    /// provider moves each card no more often than reading its input directly would; the
    /// lane's emptied queue comes back as the next batch's buffer.
    fn read_batch(&mut self, router: &Router, cx: &mut Context<'_>) -> Poll<()> {
        let mut batch = std::mem::take(&mut self.batch);
        while batch.len() < FEED_BATCH {
            match self.input.poll_next_unpin(cx) {
                Poll::Ready(Some(card)) => {
                    let position = self.cards_read;
                    self.cards_read += 1;
                    batch.push((position, card));
                }
                Poll::Ready(None) => {
                    self.input_done = true;
                    break;
                }
                Poll::Pending if batch.is_empty() => {
                    self.batch = batch;
                    return Poll::Pending;
                }
                Poll::Pending => break,
            }
        }
        // Each card's lane, or NO_LANE when it is refused (its error is built again below:
        // refusals are rare, and a batch of errors would weigh more than the cards).
        let mut routes = std::mem::take(&mut self.routes);
        routes.clear();
        let check = |position: u64, card: &CardToUpdate| {
            check_caller_id(position as usize, &card.id)
                .and_then(|()| router.route_index(card, false))
                .map(|rule| router.rule_lane[rule])
        };
        routes.extend(
            batch
                .iter()
                .map(|(position, card)| check(*position, card).unwrap_or(NO_LANE)),
        );
        // Then the ids of the routed cards: a card no rule takes does not hold its id (as a
        // card its provider refuses does not in a direct run, nor in a one-lane routed one).
        let mut fresh = std::mem::take(&mut self.fresh);
        fresh.clear();
        if let Some(seen) = self.seen.as_mut() {
            let mut hashes = std::mem::take(&mut self.hashes);
            hashes.clear();
            hashes.extend(
                batch
                    .iter()
                    .zip(&routes)
                    .filter(|(_, lane)| **lane != NO_LANE)
                    .map(|((_, c), _)| seen.hash(c.id.as_str())),
            );
            seen.insert_all(&hashes, &mut fresh);
            self.hashes = hashes;
            let mut fresh = fresh.iter();
            for lane in routes.iter_mut().filter(|lane| **lane != NO_LANE) {
                if fresh.next() == Some(&false) {
                    *lane = DUPLICATE;
                }
            }
        }
        let one_lane = match routes.first() {
            Some(&lane) if lane != NO_LANE && lane != DUPLICATE => {
                routes.iter().all(|&l| l == lane).then_some(lane)
            }
            _ => None,
        };
        match one_lane {
            Some(lane) if !self.closed[lane] && self.queues[lane].is_empty() => {
                let spare = Vec::from(std::mem::take(&mut self.queues[lane]));
                self.queues[lane] =
                    std::collections::VecDeque::from(std::mem::replace(&mut batch, spare));
                batch.clear();
            }
            _ => {
                for ((position, card), &lane) in batch.drain(..).zip(routes.iter()) {
                    let routed = match lane {
                        NO_LANE => check(position, &card),
                        DUPLICATE => Err(Error::invalid(
                            format!("cards[id={}].id", card.id),
                            InputProblem::Duplicate,
                        )),
                        lane => Ok(lane),
                    };
                    match routed {
                        Ok(lane) if self.closed[lane] => {
                            self.unsent.push((lane, (position, card)));
                        }
                        Ok(lane) => self.queues[lane].push_back((position, card)),
                        Err(error) => {
                            self.rejected += 1;
                            self.rejections.push((position, card, error));
                        }
                    }
                }
            }
        }
        routes.clear();
        self.routes = routes;
        self.batch = batch;
        self.fresh = fresh;
        if !self.rejections.is_empty() {
            if let Some(w) = self.rejecter.take() {
                w.wake();
            }
        }
        self.wake_all();
        Poll::Ready(())
    }
}

impl<'i> Hub<'i, '_> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HubState<'i>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cards queued for `lane` (all of them, moved into `into`), reading the input when
    /// its queue is empty; `Ready(false)` at the end of the input or when the run stops.
    fn poll_cards(
        &self,
        lane: usize,
        stopping: bool,
        into: &mut std::collections::VecDeque<Routed>,
        cx: &mut Context<'_>,
    ) -> Poll<bool> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if stopping {
                return Poll::Ready(false);
            }
            if !state.queues[lane].is_empty() {
                let was_full = state.queues[lane].len() >= LANE_QUEUE_LIMIT;
                std::mem::swap(into, &mut state.queues[lane]);
                if was_full {
                    state.wake_all();
                }
                return Poll::Ready(true);
            }
            if state.input_done {
                return Poll::Ready(false);
            }
            let full = state.queues.iter().any(|q| q.len() >= LANE_QUEUE_LIMIT);
            if full || state.rejections.len() >= LANE_QUEUE_LIMIT {
                // Another lane (or the rejecter) has not caught up: wait for it.
                state.waiting[lane] = Some(cx.waker().clone());
                return Poll::Pending;
            }
            if state.read_batch(self.router, cx).is_pending() {
                state.waiting[lane] = Some(cx.waker().clone());
                return Poll::Pending;
            }
        }
    }

    /// A lane's provider let go of its input: the cards still queued for it (and `taken`, the
    /// ones it had taken but not pulled) are not sent.
    fn close(&self, lane: usize, taken: impl IntoIterator<Item = Routed>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.closed[lane] = true;
        let queued: Vec<Routed> = taken
            .into_iter()
            .chain(state.queues[lane].drain(..))
            .collect();
        state.unsent.extend(queued.into_iter().map(|c| (lane, c)));
        state.wake_all();
    }
}

/// A lane's input: its cards from the [`Hub`] a batch at a time. As a stream (for the
/// provider's driver) it yields each batch's first card and leaves the rest, with their
/// positions, in the lane's [`LaneFeed`], where the driver takes them in one go.
struct LaneInput<'h, 'i, 'r, 's, 'o> {
    hub: &'h Hub<'i, 'r>,
    shared: &'s Shared<'o>,
    lane: usize,
    feed: Arc<LaneFeed>,
    /// An empty buffer, swapped with the lane's queue when the next batch is taken (buffers go
    /// round: hub queue, feed, driver, back).
    spare: std::collections::VecDeque<Routed>,
}

impl<'h, 'i, 'r, 's, 'o> LaneInput<'h, 'i, 'r, 's, 'o> {
    fn new(hub: &'h Hub<'i, 'r>, shared: &'s Shared<'o>, lane: usize) -> Self {
        LaneInput {
            hub,
            shared,
            lane,
            feed: Arc::default(),
            spare: Default::default(),
        }
    }

    /// The lane's next batch (never empty); `Ready(None)` at the end of the input or when the
    /// run stops.
    fn poll_batch(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::collections::VecDeque<Routed>>> {
        let mut batch = std::mem::take(&mut self.spare);
        batch.clear();
        match self
            .hub
            .poll_cards(self.lane, self.shared.is_stopping(), &mut batch, cx)
        {
            Poll::Ready(true) => Poll::Ready(Some(batch)),
            Poll::Ready(false) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Stream for LaneInput<'_, '_, '_, '_, '_> {
    type Item = CardToUpdate;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<CardToUpdate>> {
        let this = &mut *self;
        if let Some(card) = this.feed.next_untaken() {
            return Poll::Ready(Some(card));
        }
        match this.poll_batch(cx) {
            Poll::Ready(Some(mut batch)) => {
                let (position, card) = batch.pop_front().expect("a batch is never empty");
                this.feed.hand_over(position, &mut batch);
                this.spare = batch;
                Poll::Ready(Some(card))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for LaneInput<'_, '_, '_, '_, '_> {
    fn drop(&mut self) {
        self.hub.close(self.lane, self.feed.drain());
    }
}

/// The input of a router with one lane (every rule names one provider and flow, as when a
/// run sends every card to CardSync) whose provider is not on the crate's driver (a wrapper,
/// a provider of your own; the crate's providers are handed the input itself, see
/// [`SoleInput::Raw`]): no hub between the input and the lane's driver. Each card is read,
/// its id and route checked, and yielded at once with its position published in the feed;
/// a refused card goes to the rejecter. Duplicate ids are left to the driver, which finds
/// them a chunk at a time as a direct run does. What this adds to a direct run is one more
/// poll and the route check a card, with no batch and no queue between input and driver:
/// `bulk_submit`'s routed / direct pairs at 100,000 cards read 1.046 × and 1.049 × this way,
/// 1.013 × and 1.016 × with the driver checking the routes itself (the two builds' runs
/// interleaved).
///
/// The checks are the hub's, in its order: the caller id, the route, then (in the driver, as
/// each chunk closes) duplicate ids, so a card no rule takes does not hold its id either way.
struct SoleLaneInput<'h, 'i, 'r, 's, 'o> {
    hub: &'h Hub<'i, 'r>,
    shared: &'s Shared<'o>,
    input: BoxStream<'i, CardToUpdate>,
    cards_read: u64,
    feed: Arc<LaneFeed>,
    /// Refused cards are waiting for the rejecter up to the hub's limit: read no further
    /// until it took them.
    held_back: bool,
    /// Why the card just read was refused, until it is handed to the rejecter.
    refusal: Option<Error>,
}

impl<'h, 'i, 'r, 's, 'o> SoleLaneInput<'h, 'i, 'r, 's, 'o> {
    fn new(
        hub: &'h Hub<'i, 'r>,
        shared: &'s Shared<'o>,
        input: BoxStream<'i, CardToUpdate>,
    ) -> Self {
        SoleLaneInput {
            hub,
            shared,
            input,
            cards_read: 0,
            feed: Arc::default(),
            held_back: false,
            refusal: None,
        }
    }
}

impl SoleLaneInput<'_, '_, '_, '_, '_> {
    /// Why the stream reads no further for now: the run stops (`Ready(None)`), or the refused
    /// cards waiting for the rejecter reached the hub's limit (`Pending` until it takes them).
    fn paused(&mut self, cx: &mut Context<'_>) -> Option<Poll<Option<CardToUpdate>>> {
        if self.shared.is_stopping() {
            return Some(Poll::Ready(None));
        }
        if self.held_back {
            let mut state = self.hub.lock();
            if state.rejections.len() >= LANE_QUEUE_LIMIT {
                state.waiting[0] = Some(cx.waker().clone());
                return Some(Poll::Pending);
            }
            self.held_back = false;
        }
        None
    }

    /// Numbers the card just read and checks its caller id and route: `true` when it goes on
    /// (its position published), `false` when it is refused (the error kept for
    /// [`SoleLaneInput::refuse`]).
    fn admit(&mut self, card: &CardToUpdate) -> bool {
        let position = self.cards_read;
        self.cards_read += 1;
        let routed = check_caller_id(position as usize, &card.id)
            .and_then(|()| self.hub.router.route_index(card, false));
        match routed {
            Ok(_) => {
                self.feed.publish(position);
                true
            }
            Err(error) => {
                self.refusal = Some(error);
                false
            }
        }
    }

    /// Hands the card [`SoleLaneInput::admit`] refused to the rejecter.
    #[cold]
    fn refuse(&mut self, polled: Poll<Option<CardToUpdate>>) {
        let (Poll::Ready(Some(card)), Some(error)) = (polled, self.refusal.take()) else {
            return;
        };
        let mut state = self.hub.lock();
        state.rejected += 1;
        state.rejections.push((self.cards_read - 1, card, error));
        self.held_back = state.rejections.len() >= LANE_QUEUE_LIMIT;
        if let Some(w) = state.rejecter.take() {
            w.wake();
        }
    }
}

impl Stream for SoleLaneInput<'_, '_, '_, '_, '_> {
    type Item = CardToUpdate;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<CardToUpdate>> {
        let this = &mut *self;
        loop {
            if let Some(paused) = this.paused(cx) {
                return paused;
            }
            // A card the route takes is handed on where the input put it: `polled` is only
            // ever returned or refused whole, so it can live in the caller's slot (no copy).
            let polled = this.input.poll_next_unpin(cx);
            let goes_on = match &polled {
                Poll::Ready(Some(card)) => this.admit(card),
                _ => true,
            };
            if goes_on {
                return polled;
            }
            this.refuse(polled);
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // Any card may be refused: no lower bound.
        (0, self.input.size_hint().1)
    }
}

impl Drop for SoleLaneInput<'_, '_, '_, '_, '_> {
    fn drop(&mut self) {
        self.hub.lock().cards_read = self.cards_read;
    }
}

/// Hands the cards refused while reading to the observer, as they come, until the input is
/// read and every lane is done.
async fn deliver_rejections(hub: &Hub<'_, '_>, shared: &Shared<'_>, lanes_done: &AtomicBool) {
    loop {
        let (batch, finished) = std::future::poll_fn(|cx| {
            let mut state = hub.state.lock().unwrap_or_else(|e| e.into_inner());
            let finished = lanes_done.load(Ordering::Acquire);
            if !state.rejections.is_empty() || finished {
                let batch = std::mem::take(&mut state.rejections);
                state.wake_all();
                Poll::Ready((batch, finished))
            } else {
                state.rejecter = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
        for (position, card, error) in batch {
            if shared.is_stopping() {
                continue;
            }
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
        if finished {
            return;
        }
    }
}

/// What a lane did.
struct LaneReport {
    chunks: Vec<ChunkRecord>,
    rejected: u64,
    /// Cards the lane's driver read from the router's input itself ([`SoleInput::Raw`]).
    cards_read: u64,
}

/// How a router with one sending lane hands its input to the lane's provider.
enum SoleInput<'i> {
    /// Through [`SoleLaneInput`], which checks each card's id and route and yields only the
    /// cards a rule takes.
    Checked(BoxStream<'i, CardToUpdate>, DuplicateIds),
    /// As it is, to a provider on the crate's driver
    /// ([`Provider::streams_on_the_crate_driver`]), which checks each card's id and route
    /// with the check as it reads it: no stream between the input and the driver.
    Raw(BoxStream<'i, CardToUpdate>, DuplicateIds, RouteCheck),
}

/// One provider's streamed submission, numbered as lane `lane`: its cards from the hub, or,
/// for a router with one lane, straight from the input ([`SoleInput`]).
async fn submit_lane<'i>(
    provider: &dyn Provider,
    hub: &Hub<'i, '_>,
    lane: usize,
    shared: &Shared<'_>,
    sole: Option<SoleInput<'i>>,
) -> LaneReport {
    let seq_base = lane as u64 * LANE_SPAN;
    let mut route = None;
    let (input, feed, stream, duplicate_ids, expected): (BoxStream<'_, CardToUpdate>, _, _, _, _) =
        match sole {
            None => {
                let input = Box::pin(LaneInput::new(hub, shared, lane));
                let feed = input.feed.clone();
                let address = stream_address(&*input);
                (
                    input,
                    feed,
                    Some(address),
                    DuplicateIds::CallerGuarantees,
                    0,
                )
            }
            Some(SoleInput::Checked(cards, duplicate_ids)) => {
                let expected = cards.size_hint().0;
                let input = Box::pin(SoleLaneInput::new(hub, shared, cards));
                let feed = input.feed.clone();
                (input, feed, None, duplicate_ids, expected)
            }
            Some(SoleInput::Raw(cards, duplicate_ids, check)) => {
                route = Some(check);
                let expected = cards.size_hint().0;
                (cards, Arc::default(), None, duplicate_ids, expected)
            }
        };
    let reads_itself = route.is_some();
    let mut options = StreamOptions::default().duplicate_ids(duplicate_ids);
    options.lane = Some(Lane {
        seq_base,
        feed,
        stream,
        expected,
        route,
    });
    let mut observer = LaneObserver { shared, seq_base };
    let mut report = LaneReport {
        chunks: Vec::new(),
        rejected: 0,
        cards_read: 0,
    };
    match provider.submit_stream(input, options, &mut observer).await {
        Ok(receipt) => {
            report.rejected = receipt.rejected;
            if reads_itself {
                report.cards_read = receipt.cards_read;
            }
            report.chunks = receipt.chunks;
        }
        Err(e) => {
            hub.close(lane, []);
            shared.stop(e);
        }
    }
    report
}

/// A subscription lane: the router groups the lane's cards (tokens apart from card numbers,
/// Amex cards per SE number, so that each request makes one subscription) into chunks of
/// `size` and sends each as one subscribe request.
async fn subscribe_lane(
    provider: &dyn Provider,
    hub: &Hub<'_, '_>,
    lane: usize,
    shared: &Shared<'_>,
    size: usize,
    template: &SubscribeRequest,
) -> LaneReport {
    let mut next_seq = lane as u64 * LANE_SPAN;
    let mut report = LaneReport {
        chunks: Vec::new(),
        rejected: 0,
        cards_read: 0,
    };
    let mut input = LaneInput::new(hub, shared, lane);
    let mut open: BTreeMap<(bool, Option<String>), Chunk> = BTreeMap::new();
    while let Some(mut batch) = std::future::poll_fn(|cx| input.poll_batch(cx)).await {
        for (position, card) in batch.drain(..) {
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
        input.spare = batch;
    }
    drop(input);
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

/// The streamed form: every lane runs at once, each reading the input through the hub.
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
    let lanes_count = router.lanes.len();
    // One lane that sends (not a subscription lane, which groups its cards itself): its
    // driver reads the input itself and checks each card's route (the crate's providers), or
    // through a thin check whose refused cards the hub collects (any other provider).
    let sole_sender = lanes_count == 1 && router.lanes[0].1 != Flow::Subscribe;
    let (input, mut sole) = if sole_sender {
        let nothing: BoxStream<'_, CardToUpdate> = Box::pin(futures::stream::empty());
        let provider = &router.providers[router.lanes[0].0];
        let sole = if provider.streams_on_the_crate_driver() {
            SoleInput::Raw(cards, options.duplicate_ids, router.route_check())
        } else {
            SoleInput::Checked(cards, options.duplicate_ids)
        };
        (nothing, Some(sole))
    } else {
        (cards, None)
    };
    let seen = match options.duplicate_ids {
        DuplicateIds::Refuse if !sole_sender => Some(IdHashSet::with_expected(input.size_hint().0)),
        _ => None,
    };
    let hub = Hub {
        router,
        state: Mutex::new(HubState {
            input,
            input_done: sole_sender,
            seen,
            cards_read: 0,
            queues: vec![Default::default(); lanes_count],
            closed: vec![false; lanes_count],
            unsent: Vec::new(),
            rejections: Vec::new(),
            rejected: 0,
            waiting: vec![None; lanes_count],
            rejecter: None,
            batch: Vec::with_capacity(FEED_BATCH),
            hashes: Vec::with_capacity(FEED_BATCH),
            fresh: Vec::with_capacity(FEED_BATCH),
            routes: Vec::with_capacity(FEED_BATCH),
        }),
    };
    let template = subscription.unwrap_or_else(|| router.subscription.clone());
    let mut lanes: Vec<futures::future::BoxFuture<'_, LaneReport>> = Vec::new();
    for (lane, (index, flow)) in router.lanes.iter().enumerate() {
        let provider = router.providers[*index].as_ref();
        lanes.push(match flow {
            Flow::Subscribe => Box::pin(subscribe_lane(
                provider,
                &hub,
                lane,
                &shared,
                router.subscription_chunk,
                &template,
            )),
            _ => Box::pin(submit_lane(provider, &hub, lane, &shared, sole.take())),
        });
    }
    let lanes_done = AtomicBool::new(false);
    let all_lanes = async {
        let reports = futures::future::join_all(lanes).await;
        lanes_done.store(true, Ordering::Release);
        let rejecter = hub
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .rejecter
            .take();
        if let Some(w) = rejecter {
            w.wake();
        }
        reports
    };
    let (reports, ()) =
        futures::future::join(all_lanes, deliver_rejections(&hub, &shared, &lanes_done)).await;
    let state = hub.state.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut unsent: BTreeMap<usize, Vec<Routed>> = BTreeMap::new();
    for (lane, item) in state.unsent {
        unsent.entry(lane).or_default().push(item);
    }
    for (lane, queue) in state.queues.into_iter().enumerate() {
        unsent.entry(lane).or_default().extend(queue);
    }
    let mut receipt = StreamReceipt {
        provider: super::ROUTED,
        chunks: Vec::new(),
        rejected: state.rejected,
        cards_read: state.cards_read + reports.iter().map(|r| r.cards_read).sum::<u64>(),
        stopped: shared
            .stopped
            .into_inner()
            .unwrap_or_else(|e| e.into_inner()),
    };
    for (lane, report) in reports.into_iter().enumerate() {
        receipt.rejected += report.rejected;
        receipt.chunks.extend(report.chunks);
        let mut chunk = Chunk::new(
            match router.lanes[lane].1 {
                Flow::Subscribe => JobKind::Subscription,
                _ => JobKind::Batch,
            },
            None,
        );
        for (position, card) in unsent.remove(&lane).into_iter().flatten() {
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

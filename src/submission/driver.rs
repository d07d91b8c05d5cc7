//! The driver: pulls cards, fills chunks, sends them as tasks and reports every card.

use std::collections::{HashMap, VecDeque};
use std::fmt;

use futures::future::{BoxFuture, ready};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use std::sync::Arc;
use tokio::task::JoinSet;

use super::{
    Chunk, ChunkObserver, ChunkOutcome, ChunkRecord, DuplicateIds, Proceed, StreamOptions,
    StreamReceipt,
};
use crate::error::{Delivery, Error, InputProblem, Result};
use crate::ids::{JobKind, ProviderId};
use crate::model::{
    AcceptedJob, CardToUpdate, IdHashSet, LaneFeed, PlacedCard, PositionedCard, RouteCheck,
    SubmissionReceipt, check_caller_id, check_cards, stream_address,
};

/// A provider's chunking rules: validates each card and says when a chunk is full.
pub(crate) trait Planner: Send {
    /// Validates one card by the provider's rules (the caller id and duplicates are checked by
    /// the driver). Shared by the streamed path and the `Vec` path's up-front check.
    fn check(&self, position: u64, card: &CardToUpdate) -> Result<()>;

    /// Routes a checked card into its chunk; returns a chunk when one is full.
    fn admit(&mut self, position: u64, card: CardToUpdate) -> Option<Chunk>;

    /// At the end of the input: the chunks still open, one per call, then `None`.
    fn finish(&mut self) -> Option<Chunk>;
}

/// Sends one chunk; the outcome says whether it may have reached the provider. Each send
/// runs as its own task, so that serialising and sending one chunk overlaps with building and
/// validating the next on a multi-threaded runtime.
pub(crate) trait ChunkSender: Send + Sync + 'static {
    fn send<'a>(&'a self, chunk: &'a Chunk) -> BoxFuture<'a, ChunkOutcome>;
}

/// Cards from which a chunk's ids are checked on a blocking thread: from there on, a thread
/// hand-off (tens of microseconds) is small beside the check (a cache miss or two per id once
/// the set outgrows the CPU caches), and the driver's own thread builds the next chunk
/// meanwhile.
const CHECK_ASIDE_FROM: usize = 1024;

/// Remembers ids as 64-bit keyed hashes ([`DuplicateIds::Refuse`]).
///
/// Ids are checked a chunk at a time, in a tight loop: a set of a million hashes is larger than
/// the CPU caches, and checking each card while the next one is being built would serialise
/// its cache misses instead of letting them overlap.
struct SeenIds {
    set: IdHashSet,
    /// Buffers reused from chunk to chunk.
    hashes: Vec<u64>,
    fresh: Vec<bool>,
}

/// Ids expected from which the set's table is made resident on a blocking thread while the
/// first chunk is produced (a table of about 1 MiB and more): left to the first check, its
/// page faults (one a 4 KiB page, a few microseconds each on a virtual machine) came with
/// the first chunk's inserts and held the driver up by several milliseconds at 1,000,000 ids.
const RESIDENT_FROM: usize = 1 << 17;

/// A table larger than this many ids is left to fault in as it fills (a stream's size hint
/// could overstate it, and a resident table is memory taken at once).
const RESIDENT_UP_TO: usize = 1 << 22;

/// The duplicate-id check's set ([`DuplicateIds::Refuse`]), wherever it is.
struct IdCheck {
    /// The set, between checks (`None` while a check has it, or while it is prepared, or
    /// when the caller guarantees unique ids).
    seen: Option<SeenIds>,
    /// A large set being built and made resident on a blocking thread.
    preparing: Option<tokio::task::JoinHandle<SeenIds>>,
}

impl IdCheck {
    /// The check for `mode`, sized for `expected` ids.
    fn new(mode: DuplicateIds, expected: usize) -> Self {
        let (seen, preparing) = match mode {
            DuplicateIds::CallerGuarantees => (None, None),
            DuplicateIds::Refuse if (RESIDENT_FROM..=RESIDENT_UP_TO).contains(&expected) => (
                None,
                Some(tokio::task::spawn_blocking(move || {
                    SeenIds::resident(expected)
                })),
            ),
            DuplicateIds::Refuse => (Some(SeenIds::new(expected)), None),
        };
        IdCheck { seen, preparing }
    }

    /// Whether ids are checked at all.
    fn is_on(&self) -> bool {
        self.seen.is_some() || self.preparing.is_some()
    }

    /// The set once it is ready.
    ///
    /// # Panics
    ///
    /// As [`SeenIds::take_duplicates_aside`]: if building the set panicked, or the runtime
    /// shut down first.
    async fn ready(&mut self) -> &mut Option<SeenIds> {
        if let Some(preparing) = self.preparing.take() {
            self.seen = Some(
                preparing
                    .await
                    .unwrap_or_else(|died| match died.try_into_panic() {
                        Ok(panic) => std::panic::resume_unwind(panic),
                        Err(_) => panic!("the runtime shut down while the id set was prepared"),
                    }),
            );
        }
        &mut self.seen
    }
}

impl SeenIds {
    /// `expected`: the input's lower size bound, so that a known-size input never rehashes.
    fn new(expected: usize) -> Self {
        SeenIds {
            set: IdHashSet::with_expected(expected),
            hashes: Vec::new(),
            fresh: Vec::new(),
        }
    }

    /// [`SeenIds::new`] with every page of the table written once, so that the checks that
    /// follow take no page faults.
    fn resident(expected: usize) -> Self {
        SeenIds {
            set: IdHashSet::resident(expected),
            hashes: Vec::new(),
            fresh: Vec::new(),
        }
    }

    /// [`SeenIds::take_duplicates`], on a blocking thread for a chunk of
    /// [`CHECK_ASIDE_FROM`] cards or more (the set travels with it and comes back), so that
    /// the driver builds the next chunk on its own thread meanwhile. `seen` is `Some`.
    ///
    /// # Panics
    ///
    /// If the check panicked on its thread (the panic goes on here), or the runtime shut down
    /// before the check ran (the set and the chunk went with the cancelled task).
    async fn take_duplicates_aside(
        seen: &mut Option<SeenIds>,
        mut chunk: Chunk,
    ) -> (Chunk, Vec<(u64, CardToUpdate)>) {
        let Some(mut set) = seen.take() else {
            return (chunk, Vec::new());
        };
        if chunk.len() < CHECK_ASIDE_FROM {
            let duplicates = set.take_duplicates(&mut chunk);
            *seen = Some(set);
            return (chunk, duplicates);
        }
        let checked = tokio::task::spawn_blocking(move || {
            let duplicates = set.take_duplicates(&mut chunk);
            (set, chunk, duplicates)
        })
        .await;
        match checked {
            Ok((set, chunk, duplicates)) => {
                *seen = Some(set);
                (chunk, duplicates)
            }
            Err(died) => match died.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(_) => panic!("the runtime shut down while a chunk's ids were checked"),
            },
        }
    }

    /// Takes out of `chunk` every card whose id (or, rarely, another id with the same hash) was
    /// seen before, in this chunk or an earlier one, and returns them with their positions.
    fn take_duplicates(&mut self, chunk: &mut Chunk) -> Vec<(u64, CardToUpdate)> {
        self.hashes.clear();
        self.hashes
            .extend(chunk.cards.iter().map(|c| self.set.hash(c.id.as_str())));
        self.fresh.clear();
        self.set.insert_all(&self.hashes, &mut self.fresh);
        if !self.fresh.contains(&false) {
            return Vec::new();
        }
        let mut duplicates = Vec::new();
        let cards = std::mem::take(&mut chunk.cards);
        let positions = std::mem::take(&mut chunk.positions);
        for ((card, position), &fresh) in cards.into_iter().zip(positions).zip(&self.fresh) {
            if fresh {
                chunk.push(position, card);
            } else {
                duplicates.push((position, card));
            }
        }
        duplicates
    }
}

/// Checks a whole `Vec` up front, exactly: caller ids and duplicates, and the provider's
/// rules ([`check_cards`]: one pass over the cards, on two threads from 32,768 cards, the
/// ids then going into the set in list order). The `Vec` API's promise is "everything
/// validated before the first request"; the error is the first problem in list order.
pub(crate) fn check_all(planner: &(dyn Planner + Sync), cards: &[CardToUpdate]) -> Result<()> {
    check_cards(cards, &|index| planner.check(index as u64, &cards[index]))
}

/// Runs a streamed submission: pulls cards, fills chunks, sends up to `concurrency` at once,
/// and tells the observer about each chunk before and after its request.
pub(crate) async fn drive(
    provider: ProviderId,
    cards: BoxStream<'_, CardToUpdate>,
    planner: impl Planner,
    sender: Arc<dyn ChunkSender>,
    options: &StreamOptions,
    concurrency: usize,
    observer: &mut dyn ChunkObserver,
) -> StreamReceipt {
    let expected = options
        .lane
        .as_ref()
        .map_or(0, |l| l.expected)
        .max(cards.size_hint().0);
    let seen = IdCheck::new(options.duplicate_ids, expected);
    let given = stream_address(cards.as_ref().get_ref());
    let lane = options.lane.as_ref().map(|l| LaneTap {
        feed: l.feed.clone(),
        whole_batches: l.stream == Some(given),
        route: l.route.clone(),
    });
    let mut driver = Driver {
        provider,
        receipt: StreamReceipt {
            provider,
            chunks: Vec::new(),
            rejected: 0,
            cards_read: 0,
            stopped: None,
        },
        seen,
        in_flight: JoinSet::new(),
        sent: HashMap::new(),
        task_seq: HashMap::new(),
        producer: Producer {
            cards,
            planner,
            input_done: false,
            cards_read: 0,
            rejections: Vec::new(),
            lane,
            lane_cards: Default::default(),
            prechecked: options.prechecked,
        },
        ahead: None,
        next_seq: options.lane.as_ref().map_or(0, |l| l.seq_base),
        sender,
        concurrency: concurrency.max(1),
        observer,
    };
    loop {
        driver.start_sends().await;
        match driver.in_flight.join_next_with_id().await {
            None => break,
            Some(joined) => driver.settle(joined).await,
        }
    }
    driver.finish()
}

/// The state of one streamed submission while [`drive`] runs it.
struct Driver<'s, 'o, P> {
    provider: ProviderId,
    receipt: StreamReceipt,
    /// Hashes of the ids seen so far (off when the caller guarantees unique ids).
    seen: IdCheck,
    /// Requests run as tasks (aborted if the driver is dropped); the driver keeps each chunk
    /// too (`sent`, by sequence number), so that its cards are reported even if a task dies.
    in_flight: JoinSet<(u64, ChunkOutcome)>,
    sent: HashMap<u64, Arc<Chunk>>,
    task_seq: HashMap<tokio::task::Id, u64>,
    producer: Producer<'s, P>,
    /// A chunk produced ahead while the previous one was being claimed or recorded
    /// (`Some(None)`: the input is exhausted).
    ahead: Option<Option<Chunk>>,
    next_seq: u64,
    sender: Arc<dyn ChunkSender>,
    concurrency: usize,
    observer: &'o mut dyn ChunkObserver,
}

impl<P: Planner> Driver<'_, '_, P> {
    /// Starts requests until `concurrency` are in flight, the input is exhausted or the
    /// observer stopped the run.
    async fn start_sends(&mut self) {
        while self.receipt.stopped.is_none() && self.in_flight.len() < self.concurrency {
            let next = match self.ahead.take() {
                Some(next) => next,
                None => self.producer.produce().await,
            };
            deliver_rejections(&mut self.producer, &mut self.receipt, &mut *self.observer).await;
            let Some(chunk) = next else {
                break;
            };
            // The chunk's duplicate ids are refused (a large chunk's on a blocking thread) and
            // its intent written (a journal's database works on its own thread) while the next
            // chunk is built and validated here.
            let readying = Readying {
                provider: self.provider,
                seen: &mut self.seen,
                observer: &mut *self.observer,
                receipt: &mut self.receipt,
                next_seq: &mut self.next_seq,
            };
            let (readied, produced) =
                futures::future::join(readying.run(chunk), self.producer.produce()).await;
            self.ahead = Some(produced);
            match readied {
                Readied::Emptied => {}
                Readied::Stopped(chunk) => {
                    record(&mut self.receipt, &chunk, ChunkOutcome::NotSent);
                    break;
                }
                Readied::Claimed(chunk, Ok(Proceed::Send)) => self.launch(chunk),
                Readied::Claimed(chunk, Ok(Proceed::Skip)) => {
                    record(&mut self.receipt, &chunk, ChunkOutcome::Skipped)
                }
                Readied::Claimed(chunk, Err(e)) => {
                    self.receipt.stopped = Some(e);
                    record(&mut self.receipt, &chunk, ChunkOutcome::NotSent);
                    break;
                }
            }
        }
    }

    /// Sends a claimed chunk as a task.
    fn launch(&mut self, chunk: Chunk) {
        let seq = chunk.seq;
        let chunk = Arc::new(chunk);
        let (task_chunk, task_sender) = (chunk.clone(), self.sender.clone());
        let task = self.in_flight.spawn(async move {
            let outcome = task_sender.send(&task_chunk).await;
            drop(task_chunk);
            (seq, outcome)
        });
        self.task_seq.insert(task.id(), seq);
        self.sent.insert(seq, chunk);
    }

    /// Takes one request's answer (or its task's death, which may have followed delivery),
    /// tells the observer and keeps the chunk's compact record.
    async fn settle(
        &mut self,
        joined: std::result::Result<(tokio::task::Id, (u64, ChunkOutcome)), tokio::task::JoinError>,
    ) {
        let (seq, outcome) = match joined {
            Ok((id, (seq, outcome))) => {
                self.task_seq.remove(&id);
                (seq, outcome)
            }
            Err(died) => {
                let Some(seq) = self.task_seq.remove(&died.id()) else {
                    return;
                };
                let error = Error::Transport {
                    provider: self.provider,
                    delivery: Delivery::MaybeSent,
                    message: "the request's task ended without an answer".into(),
                    source: None,
                };
                (seq, ChunkOutcome::Unknown(error))
            }
        };
        let Some(chunk) = self.sent.remove(&seq) else {
            return;
        };
        let chunk = Arc::unwrap_or_clone(chunk);
        let positions = chunk.position_set();
        let (seq, kind, len) = (chunk.seq, chunk.kind, chunk.len());
        // Recording the outcome overlaps with building the next chunk, as the intent does.
        let reported = if self.ahead.is_none() && self.receipt.stopped.is_none() {
            let (reported, produced) =
                futures::future::join(self.observer.done(chunk, &outcome), self.producer.produce())
                    .await;
            self.ahead = Some(produced);
            reported
        } else {
            self.observer.done(chunk, &outcome).await
        };
        self.receipt.chunks.push(ChunkRecord {
            seq,
            kind,
            cards: len,
            positions,
            outcome: match outcome {
                ChunkOutcome::Accepted { job, state, .. } => ChunkOutcome::Accepted {
                    job,
                    state,
                    card_refs: None,
                },
                other => other,
            },
        });
        if let Err(e) = reported {
            self.receipt.stopped.get_or_insert(e);
        }
    }

    /// The receipt, with the cards still in open chunks reported as not sent when the run
    /// was stopped.
    fn finish(mut self) -> StreamReceipt {
        if self.receipt.stopped.is_some() {
            let open = self.ahead.take().flatten().into_iter();
            for mut chunk in open.chain(std::iter::from_fn(|| self.producer.planner.finish())) {
                chunk.seq = self.next_seq;
                self.next_seq += 1;
                record(&mut self.receipt, &chunk, ChunkOutcome::NotSent);
            }
        }
        if let Some(lane) = &self.producer.lane {
            // Taken from the router but never pulled: it reports them as not sent.
            lane.feed
                .give_back(std::mem::take(&mut self.producer.lane_cards));
        }
        self.receipt.cards_read = self.producer.cards_read;
        self.receipt.rejected += self.producer.rejected_count();
        self.receipt
    }
}

/// What becomes of a produced chunk before its request ([`Readying::run`]).
enum Readied {
    /// Every card in it was a duplicate (each reported): nothing to send.
    Emptied,
    /// The observer stopped the run while duplicates were reported: the chunk is not sent.
    Stopped(Chunk),
    /// Numbered and claimed: the observer's answer says whether to send it.
    Claimed(Chunk, Result<Proceed>),
}

/// The parts of a [`Driver`] that ready a chunk for its request, borrowed apart from the
/// producer so that the next chunk is built while this one is readied.
struct Readying<'d, 'o> {
    provider: ProviderId,
    seen: &'d mut IdCheck,
    observer: &'d mut (dyn ChunkObserver + 'o),
    receipt: &'d mut StreamReceipt,
    next_seq: &'d mut u64,
}

impl Readying<'_, '_> {
    /// Refuses the chunk's duplicate ids (telling the observer of each), numbers the chunk and
    /// claims it (the observer's intent, before any request).
    async fn run(self, mut chunk: Chunk) -> Readied {
        if self.seen.is_on() {
            let duplicates;
            (chunk, duplicates) =
                SeenIds::take_duplicates_aside(self.seen.ready().await, chunk).await;
            for (position, card) in duplicates {
                let error =
                    Error::invalid(format!("cards[id={}].id", card.id), InputProblem::Duplicate);
                self.receipt.rejected += 1;
                if let Err(e) = self.observer.rejected(position, card, &error).await {
                    self.receipt.stopped.get_or_insert(e);
                }
            }
        }
        if chunk.is_empty() {
            return Readied::Emptied;
        }
        chunk.seq = *self.next_seq;
        chunk.provider = Some(self.provider);
        *self.next_seq += 1;
        if self.receipt.stopped.is_some() {
            return Readied::Stopped(chunk);
        }
        let claim = self.observer.sending(&chunk).await;
        Readied::Claimed(chunk, claim)
    }
}

/// A driver's view of its lane of a routed run.
struct LaneTap {
    feed: Arc<LaneFeed>,
    /// The driver was given the router's stream itself ([`Lane::stream`](crate::model::stream::Lane::stream)): each batch's cards
    /// are taken from the feed in one go.
    whole_batches: bool,
    /// The driver reads a one-lane router's input itself, and checks each card's caller id
    /// and route with this ([`Lane::route`](crate::model::stream::Lane::route)).
    route: Option<RouteCheck>,
}

/// Pulls cards and fills chunks. Rejections are kept for the driver to hand to the observer,
/// so that producing the next chunk does not need the observer while it records an intent.
struct Producer<'s, P> {
    cards: BoxStream<'s, CardToUpdate>,
    planner: P,
    input_done: bool,
    cards_read: u64,
    rejections: Vec<(u64, CardToUpdate, Error)>,
    /// In a routed run: where the router leaves each batch's cards with their positions.
    lane: Option<LaneTap>,
    /// The rest of the batch the router's stream last yielded from (empty outside a routed
    /// run): worked through before the stream is polled again.
    lane_cards: VecDeque<PositionedCard>,
    /// Every card passed `check_all` before the run ([`StreamOptions::prechecked`]).
    prechecked: bool,
}

impl<P: Planner> Producer<'_, P> {
    /// The next full chunk, then (at the end of the input) the open ones, then `None`.
    async fn produce(&mut self) -> Option<Chunk> {
        while !self.input_done {
            let (position, card) = match self.lane_cards.pop_front() {
                Some(routed) => routed,
                None => {
                    let Some(card) = self.cards.next().await else {
                        self.input_done = true;
                        break;
                    };
                    match &self.lane {
                        Some(lane) if lane.whole_batches => {
                            (lane.feed.take(&mut self.lane_cards), card)
                        }
                        Some(LaneTap {
                            route: None, feed, ..
                        }) => (feed.last_position(), card),
                        Some(_) | None => (self.cards_read, card),
                    }
                }
            };
            self.cards_read += 1;
            // A `Vec` form checked every card before the first request; in a routed run the
            // router checked the caller id already, unless it left the route to the driver.
            let checked = if self.prechecked {
                Ok(())
            } else {
                match &self.lane {
                    Some(LaneTap {
                        route: Some(route), ..
                    }) => (route.0)(position, &card),
                    Some(_) => Ok(()),
                    None => check_caller_id(position as usize, &card.id),
                }
                .and_then(|()| self.planner.check(position, &card))
            };
            match checked {
                Ok(()) => {
                    if let Some(chunk) = self.planner.admit(position, card) {
                        return Some(chunk);
                    }
                }
                Err(error) => self.rejections.push((position, card, error)),
            }
        }
        self.planner.finish()
    }

    /// Rejections found but not yet handed over (counted once the run ends).
    fn rejected_count(&self) -> u64 {
        self.rejections.len() as u64
    }
}

/// Hands the rejected cards found so far to the observer.
async fn deliver_rejections<P: Planner>(
    producer: &mut Producer<'_, P>,
    receipt: &mut StreamReceipt,
    observer: &mut dyn ChunkObserver,
) {
    for (position, card, error) in producer.rejections.drain(..) {
        receipt.rejected += 1;
        if receipt.stopped.is_none() {
            if let Err(e) = observer.rejected(position, card, &error).await {
                receipt.stopped = Some(e);
            }
        }
    }
}

fn record(receipt: &mut StreamReceipt, chunk: &Chunk, outcome: ChunkOutcome) {
    receipt.chunks.push(ChunkRecord {
        seq: chunk.seq,
        kind: chunk.kind,
        cards: chunk.len(),
        positions: chunk.position_set(),
        outcome,
    });
}

/// The `Vec` API on top of the driver: keeps every id, and builds the per-card receipt.
#[derive(Default)]
pub(crate) struct ReceiptCollector {
    /// Per chunk seq: its cards as placed (an accepted chunk) or their ids (any other).
    chunks: HashMap<u64, CollectedChunk>,
    rejected: Vec<(String, Error)>,
}

/// One chunk's cards as the collector keeps them until the receipt is built.
enum CollectedChunk {
    /// Accepted: each card placed, with the provider's reference when it gave one a card.
    /// Built as the chunk settles, while later chunks' requests are in flight, so that the
    /// ids' conversion (and the freeing of their input strings) overlaps the run instead of
    /// following it.
    Placed(Vec<PlacedCard>),
    /// Not accepted: the caller's ids, for the failed chunk.
    Ids(Vec<String>),
}

impl CollectedChunk {
    /// The cards of an accepted chunk; `refs` pairs with the ids only when it names every card.
    fn placed(ids: Vec<String>, refs: Option<&[String]>) -> Vec<PlacedCard> {
        match refs {
            Some(refs) if refs.len() == ids.len() => ids
                .into_iter()
                .zip(refs)
                .map(|(id, r)| PlacedCard::new(id, Some(r.clone())))
                .collect(),
            _ => ids
                .into_iter()
                .map(|id| PlacedCard::new(id, None))
                .collect(),
        }
    }

    /// The caller's ids, whichever way they were kept.
    fn into_ids(self) -> Vec<String> {
        match self {
            CollectedChunk::Placed(cards) => cards.into_iter().map(|c| c.id.into()).collect(),
            CollectedChunk::Ids(ids) => ids,
        }
    }
}

impl fmt::Debug for ReceiptCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiptCollector")
            .field("chunks", &self.chunks.len())
            .finish()
    }
}

impl ChunkObserver for ReceiptCollector {
    fn done<'a>(
        &'a mut self,
        chunk: Chunk,
        outcome: &'a ChunkOutcome,
    ) -> BoxFuture<'a, Result<()>> {
        let seq = chunk.seq;
        let collected = match outcome {
            ChunkOutcome::Accepted { card_refs, .. } => CollectedChunk::Placed(
                CollectedChunk::placed(chunk.into_ids(), card_refs.as_deref()),
            ),
            _ => CollectedChunk::Ids(chunk.into_ids()),
        };
        self.chunks.insert(seq, collected);
        Box::pin(ready(Ok(())))
    }

    fn rejected<'a>(
        &'a mut self,
        _position: u64,
        card: CardToUpdate,
        error: &'a Error,
    ) -> BoxFuture<'a, Result<()>> {
        // check_all ran first, so this is not expected; if it happens the card is still
        // accounted for, never dropped.
        let copy = Error::invalid(
            format!("cards[id={}]", card.id),
            InputProblem::NotAllowed {
                reason: error.to_string(),
            },
        );
        self.rejected.push((card.id, copy));
        Box::pin(ready(Ok(())))
    }
}

impl ReceiptCollector {
    /// Joins the collected cards with the driver's records into the per-card receipt.
    pub(crate) fn into_receipt(mut self, streamed: StreamReceipt) -> Result<SubmissionReceipt> {
        let mut receipt = SubmissionReceipt::new(streamed.provider);
        for record in streamed.chunks {
            let collected = self.chunks.remove(&record.seq);
            match record.outcome {
                ChunkOutcome::Accepted {
                    job,
                    state,
                    card_refs,
                } => {
                    let cards = match collected {
                        Some(CollectedChunk::Placed(cards)) => cards,
                        Some(CollectedChunk::Ids(ids)) => {
                            CollectedChunk::placed(ids, card_refs.as_deref())
                        }
                        None => Vec::new(),
                    };
                    receipt.accepted.push(AcceptedJob { job, cards, state });
                }
                ChunkOutcome::Failed(error) | ChunkOutcome::Unknown(error) => {
                    let ids = collected.map(CollectedChunk::into_ids).unwrap_or_default();
                    receipt.fail(record.kind, ids, error);
                }
                ChunkOutcome::NotSent | ChunkOutcome::Skipped => {}
            }
        }
        for (id, error) in self.rejected {
            receipt.fail(JobKind::Batch, vec![id], error);
        }
        match streamed.stopped {
            Some(e) => Err(e),
            None => Ok(receipt),
        }
    }
}

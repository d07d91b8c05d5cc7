//! Streaming bulk submission: cards go to the provider chunk by chunk, straight from an iterator
//! or a [`Stream`], with an event per chunk before and after its request.
//!
//! Why a stream and not a `Vec`: a month's run is hundreds of thousands to millions of cards.
//! Holding them all, and one receipt entry per card, makes memory grow with the run. Here each
//! card is validated when its chunk is being filled, the chunk's request goes out, and what
//! stays behind is one [`ChunkRecord`] per chunk (its outcome and the input positions it held,
//! as runs or a bitmap: a few bits a card at most). Memory is bounded by chunk size × concurrency, plus the duplicate-id check (8 bytes
//! and a control byte a card, or nothing with [`DuplicateIds::CallerGuarantees`]).
//!
//! Each chunk passes through a [`ChunkObserver`]: [`ChunkObserver::sending`] is awaited *before*
//! the chunk's request is sent (write an intent to durable storage there), and
//! [`ChunkObserver::done`] is awaited when it is accepted, failed, or left unknown. Use it as
//!
//! ```no_run
//! # async fn run(provider: &dyn account_updater::Provider,
//! #              cards: Vec<account_updater::provider::CardToUpdate>) -> account_updater::Result<()> {
//! use account_updater::submission::{StreamOptions, card_stream};
//! let mut events = (); // `()` observes nothing; a journal implements ChunkObserver
//! let receipt = provider
//!     .submit_stream(card_stream(cards), StreamOptions::default(), &mut events)
//!     .await?;
//! println!("{} accepted, {} to check", receipt.accepted_cards(), receipt.unknown_cards());
//! # Ok(()) }
//! ```
//!
//! The `Vec` API ([`Provider::submit`](crate::Provider::submit)) is a convenience on top: it
//! validates every card before the first request, then runs the same driver.

// The driver is used by the providers that submit in bulk; without them only the types remain.
#![cfg_attr(not(any(feature = "cardsync", feature = "acquired")), allow(dead_code))]

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::ops::Range;

use futures::future::{BoxFuture, ready};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use std::sync::Arc;
use tokio::task::JoinSet;

use crate::error::{Delivery, Error, InputProblem, Result};
use crate::provider::{
    AcceptedJob, CardToUpdate, FailedChunk, JobKind, JobRef, JobState, PlacedCard, ProviderId,
    SubmissionReceipt, check_caller_id,
};

/// Boxes any iterator or stream of cards for [`Provider::submit_stream`](crate::Provider::submit_stream).
/// Cards are pulled (and, for an iterator that builds them, built) only as chunks are filled.
pub fn card_stream<'a, I>(cards: I) -> BoxStream<'a, CardToUpdate>
where
    I: IntoIterator<Item = CardToUpdate>,
    I::IntoIter: Send + 'a,
{
    futures::stream::iter(cards).boxed()
}

/// Boxes an asynchronous stream of cards (a database cursor, a file being read).
pub fn boxed_card_stream<'a, S>(cards: S) -> BoxStream<'a, CardToUpdate>
where
    S: Stream<Item = CardToUpdate> + Send + 'a,
{
    cards.boxed()
}

/// How duplicate caller ids are found in a streamed submission.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DuplicateIds {
    /// The crate refuses a card whose id it has already seen in this submission (reported as a
    /// rejected card with [`InputProblem::Duplicate`], never sent). Ids are checked as each
    /// chunk closes: of two cards with one id, the one in the chunk that closes first is sent
    /// (within a chunk, the earlier one). Ids are remembered as 64-bit keyed hashes (9 to 18
    /// bytes a card), so a different id is taken for a duplicate with probability about
    /// n² / 2⁶⁵ (three in a hundred million runs of a million cards); such a card is reported
    /// as rejected, never dropped silently or sent twice.
    #[default]
    Refuse,
    /// The caller guarantees unique ids (a journal with a unique key on them, say): the crate
    /// keeps no per-card state and memory stays flat in the number of cards.
    CallerGuarantees,
}

/// Settings of one streamed submission.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct StreamOptions {
    /// How duplicate ids are found.
    pub duplicate_ids: DuplicateIds,
}

impl StreamOptions {
    /// Sets how duplicate ids are found.
    pub fn duplicate_ids(mut self, mode: DuplicateIds) -> Self {
        self.duplicate_ids = mode;
        self
    }
}

/// One provider request's worth of cards, in input order.
#[derive(Debug, Clone)]
pub struct Chunk {
    seq: u64,
    kind: JobKind,
    group: Option<String>,
    cards: Vec<CardToUpdate>,
    positions: Vec<u64>,
}

impl Chunk {
    pub(crate) fn new(kind: JobKind, group: Option<String>) -> Self {
        Chunk {
            seq: 0,
            kind,
            group,
            cards: Vec::new(),
            positions: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, position: u64, card: CardToUpdate) {
        self.cards.push(card);
        self.positions.push(position);
    }

    /// The chunk's number in its submission (0, 1, 2… in the order chunks are sent).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// What the chunk creates (a CardSync batch, an Amex subscription, an Acquired inquiry).
    pub fn kind(&self) -> JobKind {
        self.kind
    }

    /// The job the chunk goes to when the provider groups by one (CardSync Amex: the SE number).
    pub fn group(&self) -> Option<&str> {
        self.group.as_deref()
    }

    /// The cards, in input order.
    pub fn cards(&self) -> &[CardToUpdate] {
        &self.cards
    }

    /// Each card's position in the input (0-based), ascending.
    pub fn positions(&self) -> &[u64] {
        &self.positions
    }

    /// The caller's ids of the chunk's cards.
    pub fn ids(&self) -> impl ExactSizeIterator<Item = &str> {
        self.cards.iter().map(|c| c.id.as_str())
    }

    /// Number of cards.
    pub fn len(&self) -> usize {
        self.cards.len()
    }

    /// `true` for a chunk without cards (never sent).
    pub fn is_empty(&self) -> bool {
        self.cards.is_empty()
    }

    /// The caller's ids, moved out (the card data is dropped, and zeroized).
    pub fn into_ids(self) -> Vec<String> {
        self.cards.into_iter().map(|c| c.id).collect()
    }

    fn position_set(&self) -> PositionSet {
        PositionSet::new(&self.positions)
    }
}

/// The input positions of a chunk's cards, kept in whichever of two forms is smaller: ascending
/// runs (a chunk of consecutive cards is one run), or a bitmap over the chunk's span (a chunk
/// whose cards are interleaved with others': CardSync Amex groups, batches around them). Either
/// way a finished chunk costs a few bits a card at most, not a receipt entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionSet(PositionForm);

#[derive(Debug, Clone, PartialEq, Eq)]
enum PositionForm {
    Runs(Vec<Range<u64>>),
    Bitmap {
        start: u64,
        words: Vec<u64>,
        len: usize,
    },
}

impl PositionSet {
    /// From ascending positions.
    fn new(positions: &[u64]) -> Self {
        let mut runs: Vec<Range<u64>> = Vec::new();
        for &p in positions {
            match runs.last_mut() {
                Some(r) if r.end == p => r.end = p + 1,
                _ => runs.push(p..p + 1),
            }
        }
        let (Some(first), Some(last)) = (positions.first(), positions.last()) else {
            return PositionSet(PositionForm::Runs(runs));
        };
        let span = last - first + 1;
        let bitmap_bytes = span.div_ceil(64) * 8;
        let runs_bytes = runs.len() as u64 * std::mem::size_of::<Range<u64>>() as u64;
        if bitmap_bytes >= runs_bytes {
            runs.shrink_to_fit();
            return PositionSet(PositionForm::Runs(runs));
        }
        let mut words = vec![0u64; span.div_ceil(64) as usize];
        for &p in positions {
            let offset = p - first;
            words[(offset / 64) as usize] |= 1 << (offset % 64);
        }
        PositionSet(PositionForm::Bitmap {
            start: *first,
            words,
            len: positions.len(),
        })
    }

    /// `true` when the card at input `position` is in the set.
    pub fn contains(&self, position: u64) -> bool {
        match &self.0 {
            PositionForm::Runs(runs) => {
                let i = runs.partition_point(|r| r.end <= position);
                runs.get(i).is_some_and(|r| r.contains(&position))
            }
            PositionForm::Bitmap { start, words, .. } => {
                let Some(offset) = position.checked_sub(*start) else {
                    return false;
                };
                words
                    .get((offset / 64) as usize)
                    .is_some_and(|w| w & (1 << (offset % 64)) != 0)
            }
        }
    }

    /// Number of positions.
    pub fn len(&self) -> usize {
        match &self.0 {
            PositionForm::Runs(runs) => runs.iter().map(|r| (r.end - r.start) as usize).sum(),
            PositionForm::Bitmap { len, .. } => *len,
        }
    }

    /// `true` when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The positions, ascending.
    pub fn iter(&self) -> Box<dyn Iterator<Item = u64> + '_> {
        match &self.0 {
            PositionForm::Runs(runs) => Box::new(runs.iter().flat_map(|r| r.clone())),
            PositionForm::Bitmap { start, words, .. } => {
                Box::new(words.iter().enumerate().flat_map(move |(i, &w)| {
                    (0..64)
                        .filter(move |b| w & (1 << b) != 0)
                        .map(move |b| start + i as u64 * 64 + b)
                }))
            }
        }
    }
}

/// How a chunk's request ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum ChunkOutcome {
    /// The provider accepted the chunk as `job`.
    Accepted {
        /// The job holding the chunk's cards ([`JobRef::id_pending`] when the provider did
        /// not name it).
        job: JobRef,
        /// Its state when accepted.
        state: JobState,
        /// The provider's reference of each card, in chunk order, when it assigns its own
        /// (Acquired: the token); `None` when it keys cards by the caller's id (CardSync).
        card_refs: Option<Vec<String>>,
    },
    /// The provider certainly did not act on the request (it never reached it, or it refused
    /// it: see [`Error::provider_may_have_acted`]): the cards may be sent again once the cause
    /// is fixed.
    Failed(Error),
    /// The request may have reached the provider (a timeout after sending, a 5xx, an
    /// unreadable answer): **do not resend** without checking the provider's jobs first.
    Unknown(Error),
    /// Not sent because the submission stopped first (see [`StreamReceipt::stopped`]).
    NotSent,
    /// Not sent because the observer said another worker or an earlier run owns it
    /// ([`Proceed::Skip`]).
    Skipped,
}

impl ChunkOutcome {
    /// `Failed` or `Unknown`, by [`Error::provider_may_have_acted`].
    pub fn from_error(error: Error) -> Self {
        if error.provider_may_have_acted() {
            ChunkOutcome::Unknown(error)
        } else {
            ChunkOutcome::Failed(error)
        }
    }

    /// A short stable name: `accepted`, `failed`, `unknown` or `not_sent`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ChunkOutcome::Accepted { .. } => "accepted",
            ChunkOutcome::Failed(_) => "failed",
            ChunkOutcome::Unknown(_) => "unknown",
            ChunkOutcome::NotSent => "not_sent",
            ChunkOutcome::Skipped => "skipped",
        }
    }

    /// The error, for `Failed` and `Unknown`.
    pub fn error(&self) -> Option<&Error> {
        match self {
            ChunkOutcome::Failed(e) | ChunkOutcome::Unknown(e) => Some(e),
            _ => None,
        }
    }
}

/// What a streamed submission keeps of one chunk once it is done: no per-card entry, only the
/// input positions it held, as runs.
#[derive(Debug)]
#[non_exhaustive]
pub struct ChunkRecord {
    /// The chunk's number ([`Chunk::seq`]).
    pub seq: u64,
    /// What it created.
    pub kind: JobKind,
    /// Number of cards.
    pub cards: usize,
    /// The input positions of its cards.
    pub positions: PositionSet,
    /// How its request ended (the provider references of `Accepted` are dropped here: the
    /// observer saw them).
    pub outcome: ChunkOutcome,
}

impl ChunkRecord {
    /// `true` when the card at input `position` was in this chunk.
    pub fn holds(&self, position: u64) -> bool {
        self.positions.contains(position)
    }
}

/// Where every card of a streamed submission went, per chunk.
///
/// Every card read from the input is in exactly one chunk record or counted in `rejected`
/// (and was handed to [`ChunkObserver::rejected`]). Cards at positions `≥ cards_read` were
/// never read (the submission stopped first).
#[derive(Debug)]
#[non_exhaustive]
pub struct StreamReceipt {
    /// The provider.
    pub provider: ProviderId,
    /// One record per chunk, in the order they finished.
    pub chunks: Vec<ChunkRecord>,
    /// Cards refused as input (never sent).
    pub rejected: u64,
    /// Cards read from the input.
    pub cards_read: u64,
    /// Why the submission stopped early (an observer error), if it did.
    pub stopped: Option<Error>,
}

impl StreamReceipt {
    fn cards_where(&self, f: impl Fn(&ChunkOutcome) -> bool) -> u64 {
        self.chunks
            .iter()
            .filter(|c| f(&c.outcome))
            .map(|c| c.cards as u64)
            .sum()
    }

    /// Cards in accepted chunks.
    pub fn accepted_cards(&self) -> u64 {
        self.cards_where(|o| matches!(o, ChunkOutcome::Accepted { .. }))
    }

    /// Cards in chunks the provider certainly did not act on (failed or not sent).
    pub fn failed_cards(&self) -> u64 {
        self.cards_where(|o| matches!(o, ChunkOutcome::Failed(_) | ChunkOutcome::NotSent))
    }

    /// Cards in chunks the observer skipped (owned by another worker or an earlier run).
    pub fn skipped_cards(&self) -> u64 {
        self.cards_where(|o| matches!(o, ChunkOutcome::Skipped))
    }

    /// Cards in chunks that may have reached the provider: check before resending.
    pub fn unknown_cards(&self) -> u64 {
        self.cards_where(|o| matches!(o, ChunkOutcome::Unknown(_)))
    }

    /// `true` when every card read was accepted and the submission ran to the end.
    pub fn is_complete(&self) -> bool {
        self.stopped.is_none()
            && self.rejected == 0
            && self
                .chunks
                .iter()
                .all(|c| matches!(c.outcome, ChunkOutcome::Accepted { .. }))
    }

    /// The chunk that held the card at input `position`; `None` for a rejected or unread card.
    pub fn chunk_of(&self, position: u64) -> Option<&ChunkRecord> {
        self.chunks.iter().find(|c| c.holds(position))
    }
}

/// What [`ChunkObserver::sending`] decides for a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Proceed {
    /// Send it.
    Send,
    /// Do not send it: it is someone else's (a journal's other worker, an earlier run).
    Skip,
}

/// Sees each chunk of a streamed submission. Every method is awaited before the submission
/// goes on; an error stops it (no further chunk is sent; chunks already in flight finish and
/// are reported). The unit type `()` observes nothing.
pub trait ChunkObserver: Send {
    /// The chunk is about to be sent. Its request waits for this: write the intent durably
    /// here. [`Proceed::Skip`] leaves the chunk unsent (another worker, or an earlier run, owns
    /// it); it is then recorded as [`ChunkOutcome::Skipped`] and `done` is not called for it.
    fn sending<'a>(&'a mut self, chunk: &'a Chunk) -> BoxFuture<'a, Result<Proceed>> {
        let _ = chunk;
        Box::pin(ready(Ok(Proceed::Send)))
    }

    /// The chunk's request ended with `outcome`. The chunk is handed over (take its ids with
    /// [`Chunk::into_ids`], or drop it).
    fn done<'a>(
        &'a mut self,
        chunk: Chunk,
        outcome: &'a ChunkOutcome,
    ) -> BoxFuture<'a, Result<()>> {
        let _ = (chunk, outcome);
        Box::pin(ready(Ok(())))
    }

    /// The card at input `position` was refused as input and will not be sent.
    fn rejected<'a>(
        &'a mut self,
        position: u64,
        card: CardToUpdate,
        error: &'a Error,
    ) -> BoxFuture<'a, Result<()>> {
        let _ = (position, card, error);
        Box::pin(ready(Ok(())))
    }
}

impl ChunkObserver for () {}

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

/// Remembers ids as 64-bit keyed hashes ([`DuplicateIds::Refuse`]).
///
/// Ids are checked a chunk at a time, in a tight loop: a set of a million hashes is larger than
/// the CPU caches, and checking each card while the next one is being built costs about three
/// times as much (the misses no longer overlap).
struct SeenIds {
    hasher: foldhash::quality::RandomState,
    /// The hashes are already uniform: the set uses them as they are.
    seen: std::collections::HashSet<u64, std::hash::BuildHasherDefault<PreHashed>>,
}

/// A `Hasher` for keys that are already hashes.
#[derive(Default)]
struct PreHashed(u64);

impl std::hash::Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

impl SeenIds {
    /// `expected`: the input's lower size bound, so that a known-size input never rehashes.
    fn new(expected: usize) -> Self {
        let mut seen = std::collections::HashSet::default();
        seen.reserve(expected);
        SeenIds {
            hasher: foldhash::quality::RandomState::default(),
            seen,
        }
    }

    /// Takes out of `chunk` every card whose id (or, rarely, another id with the same hash) was
    /// seen before, in this chunk or an earlier one, and returns them with their positions.
    fn take_duplicates(&mut self, chunk: &mut Chunk) -> Vec<(u64, CardToUpdate)> {
        let hashes: Vec<u64> = chunk
            .cards
            .iter()
            .map(|c| self.hasher.hash_one(c.id.as_str()))
            .collect();
        let repeated: Vec<bool> = hashes.iter().map(|h| !self.seen.insert(*h)).collect();
        if !repeated.contains(&true) {
            return Vec::new();
        }
        let mut duplicates = Vec::new();
        let cards = std::mem::take(&mut chunk.cards);
        let positions = std::mem::take(&mut chunk.positions);
        for ((card, position), repeated) in cards.into_iter().zip(positions).zip(repeated) {
            if repeated {
                duplicates.push((position, card));
            } else {
                chunk.push(position, card);
            }
        }
        duplicates
    }
}

/// Checks a whole `Vec` up front, exactly: caller ids, duplicates (hash, then compare the ids),
/// and the provider's rules. The `Vec` API's promise is "everything validated before the first
/// request".
pub(crate) fn check_all(planner: &dyn Planner, cards: &[CardToUpdate]) -> Result<()> {
    if cards.is_empty() {
        return Err(Error::invalid("cards", InputProblem::Empty));
    }
    let hasher = foldhash::quality::RandomState::default();
    // hash → first index with that hash; ids whose hash collided with a different id go to
    // `collided` and are compared exactly there.
    let mut first: HashMap<u64, usize, foldhash::fast::RandomState> = HashMap::default();
    first.reserve(cards.len());
    let mut collided: std::collections::HashSet<&str> = Default::default();
    for (index, card) in cards.iter().enumerate() {
        check_caller_id(index, &card.id)?;
        let duplicate = match first.entry(hasher.hash_one(card.id.as_str())) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(index);
                false
            }
            std::collections::hash_map::Entry::Occupied(o) => {
                cards[*o.get()].id == card.id || !collided.insert(card.id.as_str())
            }
        };
        if duplicate {
            return Err(Error::invalid(
                format!("cards[id={}].id", card.id),
                InputProblem::Duplicate,
            ));
        }
        planner.check(index as u64, card)?;
    }
    Ok(())
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
    let seen = match options.duplicate_ids {
        DuplicateIds::Refuse => Some(SeenIds::new(cards.size_hint().0)),
        DuplicateIds::CallerGuarantees => None,
    };
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
        },
        ahead: None,
        next_seq: 0,
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
    /// Hashes of the ids seen so far (`None`: the caller guarantees unique ids).
    seen: Option<SeenIds>,
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
            let Some(chunk) = self.next_chunk().await else {
                break;
            };
            if self.receipt.stopped.is_some() {
                record(&mut self.receipt, &chunk, ChunkOutcome::NotSent);
                break;
            }
            // The intent is written (a journal's database works on its own thread) while the
            // next chunk is built and validated here.
            let (claim, produced) =
                futures::future::join(self.observer.sending(&chunk), self.producer.produce()).await;
            self.ahead = Some(produced);
            match claim {
                Ok(Proceed::Send) => self.launch(chunk),
                Ok(Proceed::Skip) => record(&mut self.receipt, &chunk, ChunkOutcome::Skipped),
                Err(e) => {
                    self.receipt.stopped = Some(e);
                    record(&mut self.receipt, &chunk, ChunkOutcome::NotSent);
                    break;
                }
            }
        }
    }

    /// The next chunk with its duplicate ids refused and a sequence number given; `None` once
    /// the input is exhausted, or when refusing duplicates emptied a chunk after the observer
    /// stopped the run.
    async fn next_chunk(&mut self) -> Option<Chunk> {
        loop {
            let next = match self.ahead.take() {
                Some(next) => next,
                None => self.producer.produce().await,
            };
            deliver_rejections(&mut self.producer, &mut self.receipt, &mut *self.observer).await;
            let mut chunk = next?;
            if let Some(seen) = self.seen.as_mut() {
                for (position, card) in seen.take_duplicates(&mut chunk) {
                    let error = Error::invalid(
                        format!("cards[id={}].id", card.id),
                        InputProblem::Duplicate,
                    );
                    self.receipt.rejected += 1;
                    if let Err(e) = self.observer.rejected(position, card, &error).await {
                        self.receipt.stopped.get_or_insert(e);
                    }
                }
            }
            if chunk.is_empty() {
                if self.receipt.stopped.is_some() {
                    return None;
                }
                continue;
            }
            chunk.seq = self.next_seq;
            self.next_seq += 1;
            return Some(chunk);
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
        self.receipt.cards_read = self.producer.cards_read;
        self.receipt.rejected += self.producer.rejected_count();
        self.receipt
    }
}

/// Pulls cards and fills chunks. Rejections are kept for the driver to hand to the observer,
/// so that producing the next chunk does not need the observer while it records an intent.
struct Producer<'s, P> {
    cards: BoxStream<'s, CardToUpdate>,
    planner: P,
    input_done: bool,
    cards_read: u64,
    rejections: Vec<(u64, CardToUpdate, Error)>,
}

impl<P: Planner> Producer<'_, P> {
    /// The next full chunk, then (at the end of the input) the open ones, then `None`.
    async fn produce(&mut self) -> Option<Chunk> {
        while !self.input_done {
            let Some(card) = self.cards.next().await else {
                self.input_done = true;
                break;
            };
            let position = self.cards_read;
            self.cards_read += 1;
            let checked = check_caller_id(position as usize, &card.id)
                .and_then(|()| self.planner.check(position, &card));
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
    /// Per chunk seq: the ids, and the provider references of an accepted chunk.
    chunks: HashMap<u64, (Vec<String>, Option<Vec<String>>)>,
    rejected: Vec<(String, Error)>,
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
        let refs = match outcome {
            ChunkOutcome::Accepted { card_refs, .. } => card_refs.clone(),
            _ => None,
        };
        self.chunks.insert(chunk.seq, (chunk.into_ids(), refs));
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
    /// Joins the collected ids with the driver's records into the per-card receipt.
    pub(crate) fn into_receipt(mut self, streamed: StreamReceipt) -> Result<SubmissionReceipt> {
        let mut receipt = SubmissionReceipt::new(streamed.provider);
        for record in streamed.chunks {
            let (ids, refs) = self.chunks.remove(&record.seq).unwrap_or_default();
            match record.outcome {
                ChunkOutcome::Accepted { job, state, .. } => {
                    let cards = match refs {
                        Some(refs) if refs.len() == ids.len() => ids
                            .into_iter()
                            .zip(refs)
                            .map(|(id, r)| PlacedCard::new(id, Some(r)))
                            .collect(),
                        _ => ids
                            .into_iter()
                            .map(|id| PlacedCard::new(id, None))
                            .collect(),
                    };
                    receipt.accepted.push(AcceptedJob { job, cards, state });
                }
                ChunkOutcome::Failed(error) | ChunkOutcome::Unknown(error) => {
                    receipt.failed.push(FailedChunk {
                        kind: record.kind,
                        card_ids: ids,
                        error,
                    });
                }
                ChunkOutcome::NotSent | ChunkOutcome::Skipped => {}
            }
        }
        for (id, error) in self.rejected {
            receipt.failed.push(FailedChunk {
                kind: JobKind::Batch,
                card_ids: vec![id],
                error,
            });
        }
        match streamed.stopped {
            Some(e) => Err(e),
            None => Ok(receipt),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_sets_pick_the_smaller_form_and_answer_the_same() {
        let consecutive: Vec<u64> = (1_000..11_000).collect();
        let strided: Vec<u64> = (0..10_000).map(|i| 40 * i + 7).collect();
        let gappy: Vec<u64> = (0..10_500).filter(|p| p % 20 != 0).collect();
        for (positions, runs) in [(&consecutive, true), (&strided, false), (&gappy, false)] {
            let set = PositionSet::new(positions);
            assert_eq!(matches!(set.0, PositionForm::Runs(_)), runs);
            assert_eq!(set.len(), positions.len());
            assert_eq!(set.iter().collect::<Vec<_>>(), *positions);
            let last = *positions.last().unwrap();
            for p in 0..last + 100 {
                assert_eq!(set.contains(p), positions.binary_search(&p).is_ok(), "{p}");
            }
        }
        assert!(PositionSet::new(&[]).is_empty());
    }
}

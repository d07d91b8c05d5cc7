//! What a streamed submission reports, chunk by chunk: the options, each chunk's outcome and
//! record, the receipt, and the observer a journal implements. Types only: the driver that
//! produces them is in `submission`, and the trait that takes them is in `provider`.

use futures::future::{BoxFuture, ready};

use super::{CardToUpdate, JobState};
use super::{Chunk, chunk::PositionSet};
use crate::error::{Error, Result};
use crate::ids::ProviderId;
use crate::ids::{JobKind, JobRef};

/// How duplicate caller ids are found in a streamed submission.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DuplicateIds {
    /// The crate refuses a card whose id it has already seen in this submission (reported as a
    /// rejected card with
    /// [`InputProblem::Duplicate`](crate::error::InputProblem::Duplicate), never sent). Ids
    /// are checked as each chunk closes: of two cards with one id, the one in the chunk that
    /// closes first is sent (within a chunk, the earlier one). A chunk of 1,024 cards or more
    /// is checked on one of tokio's blocking threads
    /// ([`spawn_blocking`](tokio::task::spawn_blocking)) while the next chunk is built, in the
    /// order the chunks close. Ids are remembered as 64-bit keyed hashes (9 to 18
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
    /// Set by a router: this submission is one lane of a routed run.
    pub(crate) lane: Option<Lane>,
    /// Set by the `Vec` forms, which check every card (id and provider rules) before the
    /// first request: the driver does not check them a second time.
    pub(crate) prechecked: bool,
}

/// One provider's part of a routed run ([`crate::routing`]): its chunks are numbered from
/// `seq_base`, and its cards come with the input positions the router read them at, a batch
/// at a time through `feed`, so the chunks a journal records for a routed run are the run's
/// own, the same on every resume.
#[derive(Debug, Clone)]
pub(crate) struct Lane {
    pub(crate) seq_base: u64,
    pub(crate) feed: std::sync::Arc<LaneFeed>,
    /// The address of the router's stream ([`stream_address`]) when it hands over batches: a
    /// driver given that very stream takes each batch's cards from `feed` in one go; given
    /// another (a provider that wraps the router's stream, mapping or inspecting cards, before
    /// its driver), it pulls every card through the stream it was given and reads each one's
    /// position from `feed`, as it does for a one-lane router's stream (`None`), which yields
    /// every card itself.
    pub(crate) stream: Option<usize>,
    /// How many cards the lane will likely be given (the input's lower bound): what the
    /// driver's duplicate-id set is sized for when the lane's own stream cannot promise it.
    pub(crate) expected: usize,
    /// Set for a one-lane router's provider that streams on the crate's driver
    /// ([`Provider::streams_on_the_crate_driver`](crate::Provider::streams_on_the_crate_driver)):
    /// the driver is handed the router's input itself and checks each card's caller id and
    /// route with this as it reads it, numbering the cards itself.
    pub(crate) route: Option<RouteCheck>,
}

/// What [`RouteCheck`] calls: the card at an input position, checked.
pub(crate) type CheckCard = dyn Fn(u64, &CardToUpdate) -> crate::error::Result<()> + Send + Sync;

/// A router's check of one card (its caller id, then its route), by input position.
#[derive(Clone)]
pub(crate) struct RouteCheck(pub(crate) std::sync::Arc<CheckCard>);

impl std::fmt::Debug for RouteCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RouteCheck")
    }
}

/// The address of a stream's state: the same for the same boxed stream, so that a driver can
/// tell whether it was given the router's stream itself.
pub(crate) fn stream_address(
    stream: &(dyn futures::Stream<Item = CardToUpdate> + Send + '_),
) -> usize {
    std::ptr::from_ref(stream).cast::<()>().addr()
}

/// A card the router read, with its input position.
pub(crate) type PositionedCard = (u64, CardToUpdate);

/// Where a router hands one lane's driver its cards a batch at a time. The lane's input stream
/// yields the first card of each batch and leaves the rest here; the driver takes them in one
/// go and works through them without polling the stream, locking or storing a position once a
/// card: what a routed run adds to a provider's driver is the router's own reading, checking
/// and handing over (issue 24 asks that to stay small).
///
/// A router with one lane hands its driver no batches: the input itself, to a driver that
/// checks the routes ([`Lane::route`]), or a stream that yields every card it reads and
/// refuses itself, and publishes each card's input position here ([`LaneFeed::publish`]) for
/// the driver to read.
#[derive(Default)]
pub(crate) struct LaneFeed {
    /// The input position of the card the lane's stream yielded last: written and read on
    /// the driver's thread (the stream is polled by the driver), so `Relaxed` suffices.
    position: std::sync::atomic::AtomicU64,
    /// The rest of the batch that card came from (or, once the driver took them, its emptied
    /// buffer for reuse).
    rest: std::sync::Mutex<std::collections::VecDeque<PositionedCard>>,
}

impl LaneFeed {
    fn rest(&self) -> std::sync::MutexGuard<'_, std::collections::VecDeque<PositionedCard>> {
        self.rest.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Router side, as the stream yields the card read at `position`.
    pub(crate) fn publish(&self, position: u64) {
        self.position
            .store(position, std::sync::atomic::Ordering::Relaxed);
    }

    /// Router side, as the stream yields the card read at `first`: leaves `rest` (the rest of
    /// its batch) for the driver, and takes back the buffer the driver emptied.
    pub(crate) fn hand_over(
        &self,
        first: u64,
        rest: &mut std::collections::VecDeque<PositionedCard>,
    ) {
        self.publish(first);
        std::mem::swap(&mut *self.rest(), rest);
    }

    /// Router side, before reading a new batch: the next card of the last one when the stream's
    /// consumer did not take them (a consumer other than the crate's driver pulls every card
    /// from the stream itself), so that none is lost.
    pub(crate) fn next_untaken(&self) -> Option<CardToUpdate> {
        let (position, card) = self.rest().pop_front()?;
        self.publish(position);
        Some(card)
    }

    /// Driver side, given a stream that wraps the router's (or a one-lane router's stream):
    /// the position of the card the router's stream yielded last.
    pub(crate) fn last_position(&self) -> u64 {
        self.position.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Driver side, after the stream yielded a card: its position, with the rest of its batch
    /// swapped into `into` (which must be empty: its buffer goes back to the router).
    pub(crate) fn take(&self, into: &mut std::collections::VecDeque<PositionedCard>) -> u64 {
        debug_assert!(into.is_empty());
        std::mem::swap(&mut *self.rest(), into);
        self.last_position()
    }

    /// Driver side, when a stopped run leaves cards it took but never pulled: they go back,
    /// for the router to report as not sent.
    pub(crate) fn give_back(&self, cards: std::collections::VecDeque<PositionedCard>) {
        self.rest().extend(cards);
    }

    /// Router side, when the lane's input is dropped: whatever the driver gave back or never
    /// took.
    pub(crate) fn drain(&self) -> std::collections::VecDeque<PositionedCard> {
        std::mem::take(&mut *self.rest())
    }
}

impl std::fmt::Debug for LaneFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LaneFeed")
            .field("queued", &self.rest().len())
            .finish()
    }
}

impl StreamOptions {
    /// The options of a `Vec` form whose every card passed `check_all` with the same planner:
    /// ids unique and acceptable, every provider rule met.
    #[cfg_attr(not(bulk_provider), allow(dead_code))]
    pub(crate) fn prechecked() -> Self {
        StreamOptions {
            duplicate_ids: DuplicateIds::CallerGuarantees,
            lane: None,
            prechecked: true,
        }
    }

    /// Sets how duplicate ids are found.
    pub fn duplicate_ids(mut self, mode: DuplicateIds) -> Self {
        self.duplicate_ids = mode;
        self
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
    pub(crate) seq: u64,
    /// What it created.
    pub(crate) kind: JobKind,
    /// Number of cards.
    pub(crate) cards: usize,
    /// The input positions of its cards.
    pub(crate) positions: PositionSet,
    /// How its request ended (the provider references of `Accepted` are dropped here: the
    /// observer saw them).
    pub(crate) outcome: ChunkOutcome,
}

impl ChunkRecord {
    /// The chunk's number ([`Chunk::seq`]).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// What it created.
    pub fn kind(&self) -> JobKind {
        self.kind
    }

    /// Number of cards (the size of [`positions`](Self::positions)).
    pub fn cards(&self) -> usize {
        self.cards
    }

    /// The input positions of its cards.
    pub fn positions(&self) -> &PositionSet {
        &self.positions
    }

    /// How its request ended (the provider references of `Accepted` are dropped here: the
    /// observer saw them).
    pub fn outcome(&self) -> &ChunkOutcome {
        &self.outcome
    }

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
    pub(crate) provider: ProviderId,
    /// One record per chunk, in the order they finished.
    pub(crate) chunks: Vec<ChunkRecord>,
    /// Cards refused as input (never sent).
    pub(crate) rejected: u64,
    /// Cards read from the input.
    pub(crate) cards_read: u64,
    /// Why the submission stopped early (an observer error), if it did.
    pub(crate) stopped: Option<Error>,
}

impl StreamReceipt {
    /// The provider.
    pub fn provider(&self) -> ProviderId {
        self.provider
    }

    /// One record per chunk, in the order they finished.
    pub fn chunks(&self) -> &[ChunkRecord] {
        &self.chunks
    }

    /// Cards refused as input (never sent).
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Cards read from the input.
    pub fn cards_read(&self) -> u64 {
        self.cards_read
    }

    /// Why the submission stopped early (an observer error), if it did.
    pub fn stopped(&self) -> Option<&Error> {
        self.stopped.as_ref()
    }

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

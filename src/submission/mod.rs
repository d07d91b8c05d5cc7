//! Streaming bulk submission: cards go to the provider chunk by chunk, straight from an iterator
//! or a [`Stream`], with an event per chunk before and after its request.
//!
//! Why a stream and not a `Vec`: a month's run is hundreds of thousands to millions of cards.
//! Holding them all, and one receipt entry per card, makes memory grow with the run. Here each
//! card is validated when its chunk is being filled, the chunk's request goes out, and what
//! stays behind is one [`ChunkRecord`] per chunk (its outcome and the input positions it held,
//! as runs or a bitmap: a few bits a card at most). Memory is bounded by chunk size ×
//! concurrency, plus the duplicate-id check (about 9 bytes a card: a keyed 64-bit hash of each
//! id; nothing with [`DuplicateIds::CallerGuarantees`]).
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
#![cfg_attr(not(bulk_provider), allow(dead_code))]

mod driver;

pub use crate::model::chunk::{Chunk, PositionSet};
pub use crate::model::stream::*;
// Without a bulk provider (CardSync, Acquired) nothing uses the driver.
#[allow(unused_imports)]
pub(crate) use driver::*;

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};

use crate::model::CardToUpdate;

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

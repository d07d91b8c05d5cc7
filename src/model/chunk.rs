//! A chunk of cards and the compact set of input positions it held.

// Chunks are built by the bulk providers' planners (CardSync, Acquired); without them only
// the type remains.
#![cfg_attr(not(bulk_provider), allow(dead_code))]

use std::ops::Range;

use super::CardToUpdate;
use crate::ids::{JobKind, ProviderId};

/// One provider request's worth of cards, in input order.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub(crate) seq: u64,
    pub(crate) provider: Option<ProviderId>,
    pub(crate) kind: JobKind,
    pub(crate) group: Option<String>,
    pub(crate) cards: Vec<CardToUpdate>,
    pub(crate) positions: Vec<u64>,
}

impl Chunk {
    /// An empty chunk of `kind` (and `group`: the Amex SE number a CardSync subscription is
    /// for). Its number is set by the driver when the chunk is sent; a provider's planner, or
    /// a test of an observer, builds chunks with this and [`Chunk::push`].
    pub fn new(kind: JobKind, group: Option<String>) -> Self {
        Chunk {
            seq: 0,
            provider: None,
            kind,
            group,
            cards: Vec::new(),
            positions: Vec::new(),
        }
    }

    /// An empty chunk of `kind` with room for `cards` cards, for a planner that knows how
    /// full its chunks get (a CardSync batch is sent at 10,000): growing a chunk by doubling
    /// moves its cards a dozen times and ends with room for 16,384 of them, 60 % more memory
    /// than the chunk needs.
    pub fn with_capacity(kind: JobKind, group: Option<String>, cards: usize) -> Self {
        let mut chunk = Chunk::new(kind, group);
        chunk.cards.reserve_exact(cards);
        chunk.positions.reserve_exact(cards);
        chunk
    }

    /// Adds `card`, read at input `position`.
    pub fn push(&mut self, position: u64, card: CardToUpdate) {
        self.cards.push(card);
        self.positions.push(position);
    }

    /// The chunk's number in its submission (0, 1, 2… in the order chunks are sent).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The provider the chunk is sent to: set with its number by the streamed driver (and by
    /// a router's subscription lanes), so that an observer of a routed run (a journal) can
    /// record which provider holds each chunk. `None` for a chunk built outside a submission.
    pub fn provider(&self) -> Option<ProviderId> {
        self.provider
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

    pub(crate) fn position_set(&self) -> PositionSet {
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
    pub(crate) fn new(positions: &[u64]) -> Self {
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

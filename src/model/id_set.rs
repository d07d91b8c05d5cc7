//! The set of caller ids a run has seen, kept as 64-bit keyed hashes in one flat table: about
//! 9 bytes a card (8 for the hash, ⅛ empty slots), where a general-purpose hash set of the same
//! hashes takes 18 (a power-of-two table of 8-byte slots and a control byte each, at most ⅞
//! full, so 1,000,000 ids land in 2²¹ slots).
//!
//! Why hashes and not the ids: a run of millions of cards must not hold every id (the memory
//! bound of [`crate::submission`]). The cost is that two different ids with the same keyed hash
//! (probability about n² / 2⁶⁵: 3 × 10⁻⁸ for a million ids, and the key is random per run, so
//! no input can aim at it) read as a duplicate; the card is then refused as a duplicate and
//! reported, never dropped.

use std::hash::BuildHasher;

/// Slots per id: the table is kept at most ⅞ full, where linear probing stays short (the slots
/// an insert looks at are mostly in the cache line of its first).
const MAX_LOAD_NUMERATOR: usize = 7;
const MAX_LOAD_DENOMINATOR: usize = 8;

/// Smallest table, so that an input of unknown size does not grow from nothing.
const MIN_SLOTS: usize = 1024;

/// A size hint larger than this is not trusted for the first allocation (a stream's lower
/// bound could be wrong); the table grows past it when the ids really come.
const MAX_PRESIZED_IDS: usize = 1 << 26;

/// Hashes inserted per pass: the first pass of a group loads each hash's home slot, so that
/// the cache misses of a group overlap instead of following one another.
const GROUP: usize = 512;

/// Caller ids seen so far, as keyed hashes (slot value 0 means empty; a hash of 0 is stored
/// as 1).
pub(crate) struct IdHashSet {
    hasher: foldhash::quality::RandomState,
    slots: Vec<u64>,
    len: usize,
    /// Tests only: every id hashes alike, so that callers' handling of a colliding hash runs.
    #[cfg(test)]
    all_collide: bool,
}

impl IdHashSet {
    /// A set sized for `expected` ids without growing (the input's lower size bound).
    pub(crate) fn with_expected(expected: usize) -> Self {
        IdHashSet {
            hasher: foldhash::quality::RandomState::default(),
            slots: vec![0; slots_for(expected.min(MAX_PRESIZED_IDS))],
            len: 0,
            #[cfg(test)]
            all_collide: false,
        }
    }

    /// [`IdHashSet::with_expected`], with the table written once (zeroed by this thread,
    /// page by page) rather than left to fault in as inserts first touch each page: for a
    /// caller that builds it ahead, away from the thread that will insert.
    // `vec![0; n]` would be the lint's faster form precisely because it asks for zeroed
    // pages and leaves them to fault in at first touch, which is what this avoids.
    #[allow(clippy::slow_vector_initialization)]
    pub(crate) fn resident(expected: usize) -> Self {
        let mut slots = Vec::new();
        slots.resize(slots_for(expected.min(MAX_PRESIZED_IDS)), 0);
        IdHashSet {
            slots,
            ..IdHashSet::with_expected(0)
        }
    }

    /// Tests only: a set in which every id has the same hash.
    #[cfg(test)]
    pub(crate) fn all_colliding() -> Self {
        IdHashSet {
            all_collide: true,
            ..IdHashSet::with_expected(0)
        }
    }

    /// The keyed hash of `id`, never 0.
    pub(crate) fn hash(&self, id: &str) -> u64 {
        #[cfg(test)]
        if self.all_collide {
            return 1;
        }
        self.hasher.hash_one(id).max(1)
    }

    /// Inserts each hash of `hashes` in order, pushing onto `fresh` whether it was new (a
    /// hash repeated within `hashes` is new the first time only).
    pub(crate) fn insert_all(&mut self, hashes: &[u64], fresh: &mut Vec<bool>) {
        self.reserve(hashes.len());
        fresh.reserve(hashes.len());
        for group in hashes.chunks(GROUP) {
            // Loads whose values nobody needs but whose lines the inserts below will: the
            // loads do not depend on each other, so their misses are in flight together.
            let mut touched = 0u64;
            for &hash in group {
                touched ^= self.slots[self.home(hash)];
            }
            std::hint::black_box(touched);
            fresh.extend(group.iter().map(|&hash| self.insert(hash)));
        }
    }

    /// Whether `hash` was new.
    fn insert(&mut self, hash: u64) -> bool {
        debug_assert_ne!(hash, 0);
        let mut slot = self.home(hash);
        loop {
            match self.slots[slot] {
                0 => {
                    self.slots[slot] = hash;
                    self.len += 1;
                    return true;
                }
                seen if seen == hash => return false,
                _ => {
                    slot += 1;
                    if slot == self.slots.len() {
                        slot = 0;
                    }
                }
            }
        }
    }

    /// The slot `hash` starts probing at: the hash scaled to the table (any table size works,
    /// so the table need not be a power of two).
    fn home(&self, hash: u64) -> usize {
        ((u128::from(hash) * self.slots.len() as u128) >> 64) as usize
    }

    /// Makes room for `more` ids, so that the table stays at most ⅞ full.
    fn reserve(&mut self, more: usize) {
        let needed = self.len + more;
        if needed * MAX_LOAD_DENOMINATOR <= self.slots.len() * MAX_LOAD_NUMERATOR {
            return;
        }
        let slots = slots_for(needed.max(self.len * 2));
        let old = std::mem::replace(&mut self.slots, vec![0; slots]);
        self.len = 0;
        for hash in old.into_iter().filter(|&h| h != 0) {
            self.insert(hash);
        }
    }

    /// How many distinct hashes the set holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes the table occupies.
    #[cfg(test)]
    pub(crate) fn table_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<u64>()
    }
}

/// Slots for `ids` ids at most ⅞ full.
fn slots_for(ids: usize) -> usize {
    (ids * MAX_LOAD_DENOMINATOR / MAX_LOAD_NUMERATOR + 1).max(MIN_SLOTS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh_flags(set: &mut IdHashSet, ids: &[&str]) -> Vec<bool> {
        let hashes: Vec<u64> = ids.iter().map(|id| set.hash(id)).collect();
        let mut fresh = Vec::new();
        set.insert_all(&hashes, &mut fresh);
        fresh
    }

    #[test]
    fn repeats_are_found_within_a_batch_and_across_batches() {
        let mut set = IdHashSet::with_expected(4);
        assert_eq!(
            fresh_flags(&mut set, &["a", "b", "a", "c"]),
            [true, true, false, true]
        );
        assert_eq!(
            fresh_flags(&mut set, &["c", "d", "b"]),
            [false, true, false]
        );
        assert_eq!(set.len(), 4);
    }

    #[test]
    fn grows_past_its_size_hint_and_keeps_every_id() {
        // Presized for 10 ids, given 100,000: it grows several times and forgets none.
        let mut set = IdHashSet::with_expected(10);
        let ids: Vec<String> = (0..100_000).map(|i| format!("card-{i}")).collect();
        for batch in ids.chunks(3_000) {
            let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
            assert!(fresh_flags(&mut set, &refs).iter().all(|&f| f));
        }
        assert_eq!(set.len(), 100_000);
        let again: Vec<&str> = ids.iter().step_by(7).map(String::as_str).collect();
        assert!(fresh_flags(&mut set, &again).iter().all(|&f| !f));
        assert_eq!(set.len(), 100_000);
    }

    #[test]
    fn a_presized_table_takes_about_nine_bytes_an_id() {
        let set = IdHashSet::with_expected(1_000_000);
        // 8/7 slots an id, 8 bytes a slot: 9.14 bytes an id.
        assert_eq!(set.table_bytes(), (1_000_000 * 8 / 7 + 1) * 8);
        // The first allocation trusts no size hint beyond 2^26 ids.
        assert_eq!(
            slots_for(MAX_PRESIZED_IDS),
            IdHashSet::with_expected(usize::MAX).slots.len()
        );
    }

    /// A table built resident ahead is the presized table, zeroed, and works alike.
    #[test]
    fn a_resident_table_is_the_presized_table() {
        let mut set = IdHashSet::resident(200_000);
        assert_eq!(
            set.table_bytes(),
            IdHashSet::with_expected(200_000).table_bytes()
        );
        assert!(set.slots.iter().all(|&slot| slot == 0));
        assert_eq!(
            fresh_flags(&mut set, &["a", "b", "a", "c"]),
            [true, true, false, true]
        );
        assert_eq!(set.len(), 3);
    }

    #[test]
    fn probing_wraps_around_the_end_of_the_table() {
        let mut set = IdHashSet::with_expected(0);
        let last = u64::MAX; // home slot: the table's last
        let mut fresh = Vec::new();
        set.insert_all(&[last, last - 1, last - 2], &mut fresh);
        assert_eq!(fresh, [true, true, true]);
        // The last slot was taken: the others wrapped to the start.
        assert_eq!(set.slots[set.slots.len() - 1], last);
        assert_eq!(set.slots[0], last - 1);
        assert_eq!(set.slots[1], last - 2);
        fresh.clear();
        set.insert_all(&[last - 2, last - 1], &mut fresh);
        assert_eq!(fresh, [false, false]);
    }
}

//! The types the flows exchange, below the [`Provider`](crate::Provider) trait: what callers
//! hand a provider (requests), what it answers (receipts), what a streamed submission reports
//! (chunks, their outcomes, the observer), and the unified webhook event.
//!
//! A layer of its own so that arrows run one way: the trait (`provider`), the streamed driver
//! (`submission`) and webhook receiving (`webhook`) all import these types, and these types
//! import none of them. The public paths are the ones re-exported there
//! (`account_updater::provider::CardToUpdate`, `account_updater::submission::StreamOptions`,
//! `account_updater::webhook::WebhookEvent`, …).

pub(crate) mod chunk;
pub(crate) mod event;
mod id_set;
pub(crate) mod receipts;
pub(crate) mod requests;
pub(crate) mod stream;

pub(crate) use chunk::Chunk;
pub(crate) use event::{WebhookEvent, WebhookRequest};
#[allow(unused_imports)]
pub(crate) use id_set::IdHashSet;
pub(crate) use receipts::*;
pub(crate) use requests::*;
pub(crate) use stream::*;

use std::future::Future;
use std::pin::Pin;

use crate::error::{Error, Result};

/// A boxed, sendable future: what the object-safe [`Provider`](crate::Provider) methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Longest caller id accepted, in characters. No provider documents a limit for the ids it
/// echoes (CardSync `id`); 128 holds any UUID, database key or composite id a billing platform
/// uses, and keeps error field paths short.
pub const MAX_CALLER_ID_CHARS: usize = 128;

/// Refuses a caller id that is empty, longer than [`MAX_CALLER_ID_CHARS`], or holds a control
/// character (ids are echoed into request bodies, logs and error field paths, where a newline or
/// an escape sequence could forge a line). The error names the card by its position, never by
/// the refused id.
#[cfg_attr(not(card_list_provider), allow(dead_code))]
pub fn check_caller_id(index: usize, id: &str) -> Result<()> {
    // The common case, printable ASCII within the limit, in one pass over the bytes (an ASCII
    // id has as many characters as bytes); anything else takes the general check below.
    if !id.is_empty()
        && id.len() <= MAX_CALLER_ID_CHARS
        && id.bytes().all(|b| (0x20..0x7f).contains(&b))
    {
        return Ok(());
    }
    let field = || format!("cards[{index}].id");
    if id.is_empty() {
        return Err(Error::invalid(field(), crate::error::InputProblem::Missing));
    }
    if id.chars().count() > MAX_CALLER_ID_CHARS || id.chars().any(char::is_control) {
        return Err(Error::invalid(
            field(),
            crate::error::InputProblem::Format {
                expected: format!(
                    "1 to {MAX_CALLER_ID_CHARS} characters with no control characters"
                ),
            },
        ));
    }
    Ok(())
}

/// The one rule every provider applies to a caller's list of cards before its own: the list is
/// not empty, every id is acceptable ([`check_caller_id`]) and none is given twice (the error
/// names the repeated id: `cards[id=…].id`). Ids are borrowed, never copied: the check keeps a
/// keyed hash of each (about 9 bytes an id), and an id whose hash was seen is compared with the
/// ids before it, so that the answer is exact (which is why the iterator must be `Clone`).
///
/// # Errors
///
/// [`Error::InvalidInput`] naming the first problem in list order: an empty list, a refused
/// id (by position) or a repeated one (by id).
#[cfg_attr(not(card_list_provider), allow(dead_code))]
pub fn check_card_ids<'a, I>(ids: I) -> Result<()>
where
    I: IntoIterator<Item = &'a str>,
    I::IntoIter: Clone,
{
    check_card_ids_then(ids, |_| Ok(()))
}

/// [`check_card_ids`], with `each` called on every card's index once its id passed, in list
/// order, a batch of ids at a time: a caller that checks more of each card (the `Vec` forms'
/// provider rules) does it while the batch's cards are still in the cache, in one pass over
/// the list instead of two. The first problem in list order is the error, whichever check
/// finds it.
pub(crate) fn check_card_ids_then<'a, I>(
    ids: I,
    each: impl FnMut(usize) -> Result<()>,
) -> Result<()>
where
    I: IntoIterator<Item = &'a str>,
    I::IntoIter: Clone,
{
    let ids = ids.into_iter();
    check_ids_with(IdHashSet::with_expected(ids.size_hint().0), ids, each)
}

/// Cards from which [`check_cards`] hashes the ids and checks the cards on two threads.
const TWO_THREADS_FROM: usize = 32_768;

/// [`check_card_ids_then`] over a list of cards, `each` checking the rest of each card: from
/// [`TWO_THREADS_FROM`] cards, each half of the list is hashed and checked on its own thread
/// (the ids' strings and the cards are read once, by whichever thread takes them), and the
/// hashes then go into the set in list order on this thread, as far as the first problem
/// found. The error is the one [`check_card_ids_then`] gives: the first problem in list
/// order, and for one card, a refused id before a repeated one before what `each` finds.
pub(crate) fn check_cards(
    cards: &[CardToUpdate],
    each: &(dyn Fn(usize) -> Result<()> + Sync),
) -> Result<()> {
    /// Hashes inserted at a time (so that the set's cache misses overlap).
    const BATCH: usize = 4096;
    if cards.len() < TWO_THREADS_FROM {
        return check_card_ids_then(cards.iter().map(|c| c.id.as_str()), each);
    }
    let mut seen = IdHashSet::with_expected(cards.len());
    let mut hashes = vec![0u64; cards.len()];
    let middle = cards.len() / 2;
    // The first card of a half with a refused id or a problem `each` found.
    let first_problem = {
        let set = &seen;
        let half = |offset: usize, out: &mut [u64]| -> Option<(usize, Error)> {
            let mut first = None;
            for (k, slot) in out.iter_mut().enumerate() {
                let index = offset + k;
                let id = cards[index].id.as_str();
                *slot = set.hash(id);
                if first.is_none() {
                    first = check_caller_id(index, id)
                        .and_then(|()| each(index))
                        .err()
                        .map(|e| (index, e));
                }
            }
            first
        };
        let (front, back) = hashes.split_at_mut(middle);
        std::thread::scope(|scope| {
            let back = scope.spawn(|| half(middle, back));
            let front = half(0, front);
            let back = back
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            front.or(back)
        })
    };
    let limit = first_problem.as_ref().map_or(cards.len(), |(at, _)| at + 1);
    let mut fresh = Vec::with_capacity(BATCH);
    for (batch, chunk) in hashes[..limit].chunks(BATCH).enumerate() {
        fresh.clear();
        seen.insert_all(chunk, &mut fresh);
        for (k, &new) in fresh.iter().enumerate() {
            let index = batch * BATCH + k;
            let id = &cards[index].id;
            // A hash seen before: the same id, or (about 3 × 10⁻⁸ for a million ids) another
            // one with the same hash, which is not a repeat.
            if new || !cards[..index].iter().any(|earlier| earlier.id == *id) {
                continue;
            }
            // A repeat comes before what `each` finds on the same card. (A refused id never
            // ties with a repeat: its first occurrence was refused already.)
            return Err(Error::invalid(
                format!("cards[id={id}].id"),
                crate::error::InputProblem::Duplicate,
            ));
        }
    }
    match first_problem {
        Some((_, error)) => Err(error),
        None => Ok(()),
    }
}

/// [`check_card_ids_then`] with the set it keeps the hashes in.
fn check_ids_with<'a>(
    mut seen: IdHashSet,
    ids: impl Iterator<Item = &'a str> + Clone,
    mut each: impl FnMut(usize) -> Result<()>,
) -> Result<()> {
    /// Ids hashed and inserted at a time (so that the set's cache misses overlap).
    const BATCH: usize = 4096;
    let (mut hashes, mut fresh) = (Vec::new(), Vec::new());
    let mut batch = ids.clone().enumerate().peekable();
    if batch.peek().is_none() {
        return Err(Error::invalid("cards", crate::error::InputProblem::Empty));
    }
    while batch.peek().is_some() {
        let start = batch.clone();
        hashes.clear();
        hashes.extend(batch.by_ref().take(BATCH).map(|(_, id)| seen.hash(id)));
        fresh.clear();
        seen.insert_all(&hashes, &mut fresh);
        for ((index, id), &new) in start.zip(&fresh) {
            check_caller_id(index, id)?;
            // The hash was seen: the same id, or (about 3 × 10⁻⁸ for a million ids) another
            // one with the same hash, which is not a repeat.
            if !new && ids.clone().take(index).any(|earlier| earlier == id) {
                return Err(Error::invalid(
                    format!("cards[id={id}].id"),
                    crate::error::InputProblem::Duplicate,
                ));
            }
            each(index)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn refused(ids: &[&str]) -> String {
        let error = check_card_ids(ids.iter().copied()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        match error {
            Error::InvalidInput(e) => format!("{} {:?}", e.field, e.problem),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn one_card_list_rule_for_every_provider() {
        assert!(check_card_ids(["a", "b", "c"]).is_ok());
        assert_eq!(refused(&[]), "cards Empty");
        assert_eq!(refused(&["a", "", "c"]), "cards[1].id Missing");
        assert!(refused(&["a", "b\nforged"]).starts_with("cards[1].id Format"));
        assert_eq!(refused(&["a", "b", "a"]), "cards[id=a].id Duplicate");
    }

    #[test]
    fn ids_whose_hashes_collide_are_compared_exactly() {
        // Every id hashes alike here: only the comparison with earlier ids tells a repeat.
        let ids: Vec<String> = (0..5_000).map(|i| format!("id-{i}")).collect();
        let distinct = ids.iter().map(String::as_str);
        assert!(check_ids_with(IdHashSet::all_colliding(), distinct.clone(), |_| Ok(())).is_ok());
        let repeated = distinct.chain(["id-4321"]);
        let error = check_ids_with(IdHashSet::all_colliding(), repeated, |_| Ok(())).unwrap_err();
        assert!(
            error.to_string().contains("cards[id=id-4321].id"),
            "{error}"
        );
        // The first problem in list order wins, across the check's batches of 4096 ids.
        let bad_then_repeat = ["a", "b"].into_iter().chain(["", "a"]);
        let error =
            check_ids_with(IdHashSet::all_colliding(), bad_then_repeat, |_| Ok(())).unwrap_err();
        assert!(error.to_string().contains("cards[2].id"), "{error}");
    }

    /// From [`TWO_THREADS_FROM`] cards the check runs on two threads: it gives exactly the
    /// error the one-thread check gives, wherever the problems fall (either half, across the
    /// middle, several on one card), and passes a clean list.
    #[test]
    fn the_two_thread_check_gives_the_one_thread_checks_error() {
        let n = TWO_THREADS_FROM + 1_000;
        let middle = n / 2;
        let build = |ids: &[(usize, &str)]| -> Vec<CardToUpdate> {
            (0..n)
                .map(|i| {
                    let id = ids
                        .iter()
                        .find(|(at, _)| *at == i)
                        .map_or_else(|| format!("card-{i}"), |(_, id)| (*id).to_owned());
                    CardToUpdate::token(id, crate::ids::ProviderId::Acquired, "123456")
                })
                .collect()
        };
        /// Ids placed at positions, and the positions `each` refuses.
        type Case<'a> = (Vec<(usize, &'a str)>, Vec<usize>);
        let cases: Vec<Case> = vec![
            (vec![], vec![]),
            (vec![], vec![n - 1]),
            (vec![], vec![middle + 3, 10]),
            (vec![(5, "card-1")], vec![]),
            // The earlier id in the front half, its repeat in the back half.
            (vec![(middle + 7, "card-3")], vec![middle + 9]),
            (vec![(middle + 7, "card-3")], vec![middle + 5]),
            // One card repeated and refused by `each`: the repeat comes first.
            (vec![(middle + 7, "card-3")], vec![middle + 7]),
            // A refused id, repeated: refused where it first appears.
            (vec![(20, "card-\u{7}"), (30, "card-\u{7}")], vec![]),
            (vec![(middle, "")], vec![middle]),
            (vec![(n - 1, "card-0"), (middle - 1, "card-0")], vec![]),
        ];
        for (ids, refused) in cases {
            let cards = build(&ids);
            let each = |i: usize| -> Result<()> {
                if refused.contains(&i) {
                    Err(Error::invalid(
                        format!("cards[{i}].card"),
                        crate::error::InputProblem::Missing,
                    ))
                } else {
                    Ok(())
                }
            };
            let two = check_cards(&cards, &each);
            let one = check_card_ids_then(cards.iter().map(|c| c.id.as_str()), each);
            assert_eq!(
                two.map_err(|e| e.to_string()),
                one.map_err(|e| e.to_string()),
                "ids {ids:?}, refused {refused:?}"
            );
        }
    }

    /// The ASCII fast path and the general check agree at every boundary: the limit counts
    /// characters, not bytes, and a control character is refused wherever it is.
    #[test]
    fn caller_ids_are_checked_by_characters_on_both_paths() {
        let ok = |id: &str| check_caller_id(0, id).is_ok();
        let ascii_at_limit = "a".repeat(MAX_CALLER_ID_CHARS);
        assert!(ok(&ascii_at_limit));
        assert!(!ok(&format!("{ascii_at_limit}a")));
        // 128 two-byte characters: 256 bytes, still within the limit of characters.
        let accented_at_limit = "é".repeat(MAX_CALLER_ID_CHARS);
        assert!(ok(&accented_at_limit));
        assert!(!ok(&format!("{accented_at_limit}é")));
        for control in ["\u{0}", "\t", "\u{7f}", "\u{85}"] {
            assert!(!ok(&format!("id{control}x")), "{control:?}");
        }
        assert!(ok("customer 42 ~!"));
        assert!(!ok(""));
    }
}

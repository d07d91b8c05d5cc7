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

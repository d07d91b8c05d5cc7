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
pub(crate) mod receipts;
pub(crate) mod requests;
pub(crate) mod stream;

pub(crate) use chunk::Chunk;
pub(crate) use event::{WebhookEvent, WebhookRequest};
pub(crate) use receipts::*;
pub(crate) use requests::*;
pub(crate) use stream::*;

use std::collections::HashSet;
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
/// names the repeated id: `cards[id=…].id`). Ids are borrowed, never copied.
#[cfg_attr(not(card_list_provider), allow(dead_code))]
pub fn check_card_ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> Result<()> {
    let ids = ids.into_iter();
    let mut seen: HashSet<&str, foldhash::fast::RandomState> =
        HashSet::with_capacity_and_hasher(ids.size_hint().0, Default::default());
    for (index, id) in ids.enumerate() {
        check_caller_id(index, id)?;
        if !seen.insert(id) {
            return Err(Error::invalid(
                format!("cards[id={id}].id"),
                crate::error::InputProblem::Duplicate,
            ));
        }
    }
    if seen.is_empty() {
        return Err(Error::invalid("cards", crate::error::InputProblem::Empty));
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

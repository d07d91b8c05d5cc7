//! A chunk's cards as the journal stores them: `[[position, "id"], …]`.

use account_updater::error::{Error, Result};
use account_updater::submission::Chunk;

/// A chunk's cards as stored: `[[position, "id"], …]`, byte for byte what `serde_json` writes
/// for that list (a chunk's fingerprint is a hash of it, so journals written before stay
/// resumable), written directly: this runs on the submission's task before every chunk's
/// request, where `serde_json`'s generic path (a tuple and an escape scan per card) was the
/// journal's largest CPU cost per chunk.
pub(crate) fn encode_cards(chunk: &Chunk) -> Result<String> {
    let mut out = String::with_capacity(chunk.len() * 24 + 2);
    let mut digits = itoa::Buffer::new();
    out.push('[');
    for (i, (position, id)) in chunk.positions().iter().zip(chunk.ids()).enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        out.push_str(digits.format(*position));
        out.push(',');
        if id.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
            // Rare: let serde_json escape it exactly as it always did.
            let quoted = serde_json::to_string(id).map_err(|e| Error::Journal {
                operation: "claim chunk",
                message: "could not encode the chunk's ids".into(),
                source: Some(Box::new(e)),
            })?;
            out.push_str(&quoted);
        } else {
            out.push('"');
            out.push_str(id);
            out.push('"');
        }
        out.push(']');
    }
    out.push(']');
    Ok(out)
}

pub(super) fn decode_cards(json: &str) -> Result<Vec<(u64, String)>> {
    serde_json::from_str(json).map_err(|e| Error::Journal {
        operation: "read chunk cards",
        message: "a chunk's card list is not the JSON the journal writes".into(),
        source: Some(Box::new(e)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use account_updater::card::{CardNumber, Expiry};
    use account_updater::{ids::JobKind, provider::CardToUpdate};

    /// The direct encoding is byte for byte serde_json's, escapes included.
    #[test]
    fn encoded_cards_are_exactly_serde_json() {
        let card = |id: &str| {
            CardToUpdate::pan(
                id,
                // Built, not written out: no card-number literal in src/ outside the emulator.
                CardNumber::parse(&format!("4{}", "1".repeat(15))).unwrap(),
                Expiry::new(1, 2030).unwrap(),
            )
        };
        let ids = [
            "c1",
            "quote\"inside",
            "back\\slash",
            "tab\tand\u{1}",
            "é ü 😀",
            "",
            "del\u{7f}",
        ];
        let mut chunk = Chunk::new(JobKind::Batch, None);
        for (i, id) in ids.iter().enumerate() {
            chunk.push(7 + 1_000 * i as u64, card(id));
        }
        let rows: Vec<(u64, &str)> = chunk.positions().iter().copied().zip(chunk.ids()).collect();
        assert_eq!(
            encode_cards(&chunk).unwrap(),
            serde_json::to_string(&rows).unwrap()
        );
        assert_eq!(
            decode_cards(&encode_cards(&chunk).unwrap()).unwrap(),
            rows.iter()
                .map(|(p, id)| (*p, (*id).to_owned()))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            encode_cards(&Chunk::new(JobKind::Batch, None)).unwrap(),
            "[]"
        );
    }
}

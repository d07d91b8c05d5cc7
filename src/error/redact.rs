//! Redaction of response excerpts: digit runs and values of sensitive keys masked, length
//! bounded.

/// Digit runs this long are masked in excerpts and messages.
pub(super) const EXCERPT_DIGIT_RUN: usize = 7;

pub(super) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

/// JSON keys whose string values are replaced by `***` in excerpts: anything that can carry a
/// card number, a security code, a key or a password.
const SENSITIVE_KEY_PARTS: &[&str] = &[
    "key",
    "secret",
    "pass",
    "token",
    "hash",
    "cvv",
    "csc",
    "card",
    "pan",
    "number",
    "data",
    "authorization",
    "bfid",
];

/// Makes a body safe to show in an error: keeps at most `max` characters, replaces every run of
/// seven or more digits with `*` (a PAN cannot survive, not even its middle), and replaces the
/// string value of any JSON key that looks sensitive (`api_key`, `cardnumber`, `company_pass`, …)
/// with `***`. Non-UTF-8 bytes are shown as `�`. Public so that a provider or a store written
/// outside this crate shows a body (or a database message) in an error the same safe way.
pub fn redact_excerpt(body: &[u8], max: usize) -> String {
    // Only what can be shown is redacted: a few characters past `max` (a digit run crossing the
    // cut must still be seen whole to be masked), never a whole multi-megabyte body.
    let window = &body[..body.len().min(max.saturating_mul(4).saturating_add(64))];
    let text = String::from_utf8_lossy(window);
    // JSON nested in a JSON string (a server echoing a request body in its message) has its
    // quotes escaped; unescape them so that its sensitive keys are recognised too.
    let text = if text.contains("\\\"") {
        std::borrow::Cow::Owned(text.replace("\\\"", "\""))
    } else {
        text
    };
    let masked_values = mask_sensitive_values(&text);
    mask_digit_runs(&masked_values, max, EXCERPT_DIGIT_RUN)
}

/// Replaces every run of `min_run` or more ASCII digits with `*` and truncates to `max`
/// characters.
pub(super) fn mask_digit_runs(text: &str, max: usize, min_run: usize) -> String {
    let mut out = String::with_capacity(max.min(text.len()) + 1);
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= min_run {
            out.extend(std::iter::repeat_n('*', run.len()));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    truncate(&out, max)
}

/// Replaces `"<sensitive key>" : "<value>"` values with `"***"`.
fn mask_sensitive_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(q) = rest.find('"') {
        out.push_str(&rest[..=q]);
        rest = &rest[q + 1..];
        let Some(end) = rest.find('"') else {
            out.push_str(rest);
            return out;
        };
        let key = &rest[..end];
        out.push_str(key);
        out.push('"');
        rest = &rest[end + 1..];
        let after = rest.trim_start();
        let sensitive = {
            let k = key.to_ascii_lowercase();
            SENSITIVE_KEY_PARTS.iter().any(|p| k.contains(p))
        };
        if sensitive && after.starts_with(':') {
            let after_colon = after[1..].trim_start();
            if let Some(value) = after_colon.strip_prefix('"') {
                // Skip the value string (honouring escapes); an unterminated one is cut entirely.
                let mut escaped = false;
                let mut close = None;
                for (idx, ch) in value.char_indices() {
                    match ch {
                        '\\' if !escaped => escaped = true,
                        '"' if !escaped => {
                            close = Some(idx);
                            break;
                        }
                        _ => escaped = false,
                    }
                }
                out.push_str(":\"***");
                match close {
                    Some(c) => {
                        out.push('"');
                        rest = &value[c + 1..];
                    }
                    None => return out,
                }
            }
        }
    }
    out.push_str(rest);
    out
}

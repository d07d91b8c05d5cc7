//! Acme's JSON, field for field.

use serde::{Deserialize, Serialize};

#[derive(Serialize)]
pub(super) struct WireCard<'a> {
    pub(super) r#ref: &'a str,
    pub(super) pan: &'a str,
    pub(super) exp: String,
}

/// `{"cards": [...]}`: the inquiry's body, typed (the card numbers are borrowed, never copied
/// into a JSON tree).
#[derive(Serialize)]
pub(super) struct InquiryBody<'a> {
    pub(super) cards: Vec<WireCard<'a>>,
}

#[derive(Deserialize)]
pub(super) struct Created {
    pub(super) inquiry_id: String,
}

#[derive(Deserialize)]
pub(super) struct Inquiry {
    pub(super) state: String,
}

#[derive(Deserialize)]
pub(super) struct Results {
    pub(super) results: Vec<WireResult>,
}

#[derive(Deserialize)]
pub(super) struct WireResult {
    pub(super) r#ref: String,
    pub(super) code: String,
    pub(super) new_pan: Option<String>,
    pub(super) new_exp: Option<String>,
}

//! A fifth updater, "Acme", written outside the library against its public provider kit only:
//! an open provider id, endpoints declared once with checked path segments, the shared
//! transport (retries, redaction, timeouts), the unified error constructors, the code table
//! and the new-number check. The repository's cross-provider conformance suite runs it
//! (`tests/it/conformance.rs`), so a provider built this way behaves like the built-in ones.
//!
//! Acme's wire, invented for the example: `X-Api-Key: <key>`; `POST /v1/inquiries`
//! `{"cards":[{"ref","pan","exp":"MMYY"}]}` → `{"inquiry_id"}`; `GET /v1/inquiries/{id}` →
//! `{"inquiry_id","state"}`; `GET /v1/inquiries/{id}/results` → `{"results":[{"ref","code",
//! "new_pan"?,"new_exp"?}]}` where `code` is the Visa VAU letter; errors are
//! `{"error":{"code","message"}}`; a finished inquiry POSTs `{"event":"inquiry.completed",
//! "inquiry_id"}` (unsigned) to the registered URL.
//!
//! The folder is laid out as every vendor folder of the library is (`mod`, `auth`, `client`,
//! `operations`, `response`, `validate`, `unified`, `wire`, `webhook`; a test holds both to
//! that shape), so a new vendor can start from a copy of it.

#![allow(dead_code)] // the example's main uses part of it; the conformance suite the rest

mod auth;
mod client;
mod emulator;
mod operations;
mod response;
mod unified;
mod validate;
mod webhook;
mod wire;

use account_updater::ProviderId;

pub use client::AcmeClient;
pub use emulator::{AcmeEmulator, EMULATOR_KEY};

/// Acme's provider id: declared once, checked when it is compiled.
pub const ACME: ProviderId = ProviderId::custom("acme");

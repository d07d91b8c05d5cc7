//! The library's integration tests, compiled as one binary (one link instead of one per file):
//! each file is a module, named as the suite it was (`cargo test --test it journal::` runs the
//! journal's tests). Shared helpers are in `common`.

mod common;

mod accountvault;
mod accountvault_emulator;
mod acquired;
mod acquired_emulator;
mod card;
mod cardsync;
mod cardsync_emulator;
mod conformance;
mod emulator_harness;
mod faults;
mod incoming;
mod journal;
mod layers;
mod operator;
mod outcomes;
mod payconex;
mod payconex_emulator;
mod properties;
mod readme;
mod redaction;
mod routing;
mod streaming;
mod transport;

//! One file per command: its arguments and what it does. What several commands share is in
//! the crate's other modules (`args`, `submit`, `collect`, `connect`, `input`, `output`,
//! `route`, `suppression`).

#[cfg(feature = "emulator")]
pub mod demo;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod history;
pub mod plan;
pub mod reconcile;
pub mod resolve;
pub mod results;
pub mod resume;
pub mod run;
pub mod serve;
pub mod status;

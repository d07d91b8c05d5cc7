//! What the command-line tests share: the binary without inherited credentials, its output,
//! a scratch folder per test, generated cards.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

/// The binary, with no provider credentials inherited from the environment.
pub fn bin() -> Command {
    let mut cmd = Command::cargo_bin("account-updater").unwrap();
    for (name, _) in std::env::vars() {
        if name.starts_with("CARDSYNC_")
            || name.starts_with("ACQUIRED_")
            || name.starts_with("PAYCONEX_")
            || name.starts_with("ACCOUNT_UPDATER_")
        {
            cmd.env_remove(name);
        }
    }
    cmd.env_remove("RUST_LOG");
    cmd
}

/// What a finished command printed, and its exit code.
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` to its end.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A fresh scratch folder for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("au-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `body` with its Luhn check digit.
pub fn with_check_digit(body: &str) -> String {
    account_updater::card::with_check_digit(body).unwrap()
}

/// A valid, generated card for row `i` (no result line at the emulator).
pub fn plain_card(i: usize) -> String {
    let prefix = ["4", "51", "6011"][i % 3];
    // A 9 after the prefix keeps clear of the sandbox's test cards.
    with_check_digit(&format!("{prefix}9{i:0width$}", width = 14 - prefix.len()))
}

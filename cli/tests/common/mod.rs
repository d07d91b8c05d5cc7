//! What the command-line tests share: the binary without inherited credentials, its output,
//! a scratch folder per test, generated cards.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use account_updater::{ExposeSecret, SecretString};
use account_updater_emulator::acquired::{AcquiredEmulator, AcquiredEmulatorConfig};
use account_updater_emulator::cardsync::{CardSyncEmulator, CardSyncEmulatorConfig, Completion};
use account_updater_emulator::payconex::{PayConexEmulator, PayConexEmulatorConfig};
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

/// The three emulators and the variables that point the binary at them.
pub struct Providers {
    pub cardsync: CardSyncEmulator,
    pub cardsync_key: SecretString,
    pub acquired: AcquiredEmulator,
    pub payconex: PayConexEmulator,
}

impl Providers {
    /// Starts the three; CardSync completes batches as `completion` says.
    pub async fn start(completion: Completion) -> Self {
        let cardsync =
            CardSyncEmulator::start_with(CardSyncEmulatorConfig::default().completion(completion))
                .await
                .unwrap();
        let (_, cardsync_key) = cardsync.add_merchant();
        let acquired = AcquiredEmulator::start_with(
            AcquiredEmulatorConfig::default()
                .company_id("1021")
                .company_pass(SecretString::from("pass1021abc".to_owned()))
                .hashcode(SecretString::from("hash1021abc".to_owned())),
        )
        .await
        .unwrap();
        let payconex = PayConexEmulator::start_with(
            PayConexEmulatorConfig::default()
                .account_id("120615523104")
                .key_id("api_key_1")
                .secret(SecretString::from("secret-1".to_owned())),
        )
        .await
        .unwrap();
        Providers {
            cardsync,
            cardsync_key,
            acquired,
            payconex,
        }
    }

    /// Points `cmd` at the three (the variables an operator sets for the real providers).
    pub fn env(&self, cmd: &mut std::process::Command) {
        cmd.env("CARDSYNC_BASE_URL", self.cardsync.base_url().as_str())
            .env(
                "CARDSYNC_MERCHANT_API_KEY",
                self.cardsync_key.expose_secret(),
            )
            .env("ACQUIRED_BASE_URL", self.acquired.base_url().as_str())
            .env("ACQUIRED_COMPANY_ID", "1021")
            .env("ACQUIRED_COMPANY_PASS", "pass1021abc")
            .env("ACQUIRED_COMPANY_HASHCODE", "hash1021abc")
            .env("PAYCONEX_BASE_URL", self.payconex.base_url().as_str())
            .env("PAYCONEX_ACCOUNT_ID", "120615523104")
            .env("PAYCONEX_API_KEY_ID", "api_key_1")
            .env("PAYCONEX_API_SECRET", "secret-1");
    }
}

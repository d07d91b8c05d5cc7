//! Shared by the examples: tracing set-up, environment variables, and building each provider's
//! client against its embedded emulator (no credentials) or its real sandbox (credentials set).
#![allow(dead_code)]

use account_updater::SecretString;
use url::Url;

/// Installs a `tracing` subscriber that honours `RUST_LOG` (default `warn`), so
/// `RUST_LOG=account_updater=debug` shows every request the crate makes: provider, method, path
/// template, status, attempt and latency, never bodies or credentials.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

/// A non-empty environment variable.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A secret environment variable.
pub fn env_secret(name: &str) -> Option<SecretString> {
    env(name).map(SecretString::from)
}

/// A URL environment variable; exits with a message when it does not parse.
pub fn env_url(name: &str) -> Option<Url> {
    env(name).map(|v| {
        Url::parse(&v).unwrap_or_else(|e| {
            eprintln!("{name} is not a URL: {e}");
            std::process::exit(2)
        })
    })
}

/// Prints a numbered step.
pub fn step(n: &mut u32, text: &str) {
    *n += 1;
    println!("\n[{n}] {text}");
}

/// Exits non-zero with the error (which never carries card data or secrets).
pub fn fail(context: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("FAILED: {context}: {e}");
    std::process::exit(1)
}

/// Unwraps or exits non-zero.
pub trait OrExit<T> {
    /// The value, or exit with `context`.
    fn or_exit(self, context: &str) -> T;
}

impl<T, E: std::fmt::Display> OrExit<T> for Result<T, E> {
    fn or_exit(self, context: &str) -> T {
        self.unwrap_or_else(|e| fail(context, e))
    }
}

/// Prints unified card updates as a table (cards masked).
pub fn print_updates(updates: &[account_updater::CardUpdate]) {
    println!(
        "    {:<12} {:<38} {:<20} {:<20} {:<16} {:<8}",
        "provider", "card id", "card (masked)", "outcome", "raw code", "new exp"
    );
    for u in updates {
        println!(
            "    {:<12} {:<38} {:<20} {:<20} {:<16} {:<8}",
            u.provider.to_string(),
            u.card_id,
            u.masked_card()
                .or_else(|| u.new_token.clone())
                .or_else(|| u.previous_token.clone())
                .unwrap_or_else(|| "-".into()),
            u.outcome.to_string(),
            u.raw_code,
            u.new_expiry
                .map(|e| e.to_string())
                .unwrap_or_else(|| "-".into()),
        );
    }
}

pub mod payconex {
    use account_updater::emulator::payconex::PayConexEmulator;
    use account_updater::providers::payconex::{AuthMethod, Credentials, PayConexClient};

    use super::{OrExit, env, env_secret, env_url};

    /// The variables that switch PayConex to the real certification environment.
    pub const VARS: [&str; 3] = [
        "PAYCONEX_ACCOUNT_ID",
        "PAYCONEX_API_KEY_ID",
        "PAYCONEX_API_SECRET",
    ];

    /// A client on the real environment when `PAYCONEX_ACCOUNT_ID`, `PAYCONEX_API_KEY_ID` and
    /// `PAYCONEX_API_SECRET` are set (`PAYCONEX_BASE_URL`, default certification;
    /// `PAYCONEX_AUTH=hmac|basic`, default hmac), else on a fresh emulator.
    pub async fn connect() -> (PayConexClient, Option<PayConexEmulator>) {
        let auth = match env("PAYCONEX_AUTH")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("hmac") => AuthMethod::Hmac,
            Some("basic") => AuthMethod::Basic,
            Some(other) => super::fail("PAYCONEX_AUTH", format!("{other:?} is not hmac or basic")),
        };
        if let (Some(account), Some(key_id), Some(secret)) =
            (env(VARS[0]), env(VARS[1]), env_secret(VARS[2]))
        {
            let mut builder =
                PayConexClient::builder(account, Credentials::new(key_id, secret)).auth(auth);
            if let Some(url) = env_url("PAYCONEX_BASE_URL") {
                builder = builder.base_url(url);
            }
            return (builder.build().or_exit("PayConex client"), None);
        }
        let emulator = PayConexEmulator::start()
            .await
            .or_exit("start the PayConex emulator");
        let client = PayConexClient::builder(emulator.account_id(), emulator.credentials())
            .base_url(emulator.base_url())
            .auth(auth)
            .build()
            .or_exit("PayConex client");
        (client, Some(emulator))
    }
}

//! The real `account-updater` binary, driven as an operator would: on the embedded emulator
//! (`--emulator`, `demo`) and against a CardSync emulator in this test process (so a test can
//! hold a request in flight, kill the program, and count what the provider received).

mod common;
#[path = "../../tests/it/common/postgres.rs"]
mod postgres;

use common::{Output, bin, plain_card, run, temp_dir, with_check_digit};

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use account_updater::ExposeSecret;
use account_updater_emulator::Fault;
use account_updater_emulator::cardsync::CardSyncEmulator;
use account_updater_journal::Journal;

/// A suppressed-cards file's rows as (row, id, reason code).
fn suppressed_rows(path: &Path) -> Vec<(String, String, String)> {
    csv_rows(path)
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
        .collect()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[test]
fn help_documents_every_command_and_the_exit_codes() {
    let out = run(bin().arg("--help"));
    assert_eq!(out.code, 0);
    for word in [
        "run",
        "resume",
        "status",
        "results",
        "resolve",
        "demo",
        "plan",
        "reconcile",
        "history",
        "serve",
    ] {
        assert!(out.stdout.contains(word), "{word} missing:\n{}", out.stdout);
    }
    for code in [
        "0  done",
        "3  some input rows were rejected",
        "4  some chunks failed",
        "5  some chunks may have reached the provider",
        "6  all accepted",
        "7  other workers of the run still have chunks in flight",
        "8  some results are overdue",
    ] {
        assert!(
            out.stdout.contains(code),
            "{code:?} missing:\n{}",
            out.stdout
        );
    }
    let run_help = run(bin().args(["run", "--help"]));
    assert_eq!(run_help.code, 0);
    for word in [
        "--provider",
        "--input",
        "--journal",
        "--postgres",
        "--reveal-new-numbers",
        "card_number",
        "amex_se_number",
        "--wait",
    ] {
        assert!(
            run_help.stdout.contains(word),
            "{word}:\n{}",
            run_help.stdout
        );
    }
    // Usage errors are exit code 2.
    assert_eq!(run(bin().args(["run", "--provider", "cardsync"])).code, 2);
    let unknown = run(bin().args([
        "run",
        "--provider",
        "worldpay",
        "--input",
        "x.csv",
        "--journal",
        "j.db",
    ]));
    assert_eq!(unknown.code, 2);
    assert!(
        unknown.stderr.contains("one of: payconex, cardsync"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn without_credentials_it_names_the_variables_it_needs() {
    let dir = temp_dir("creds");
    let input = dir.join("cards.csv");
    std::fs::write(&input, "id,card_number,expiry\nc1,4111111111111111,12/30\n").unwrap();
    let journal = dir.join("j.db");
    let args = |provider: &str| {
        let mut cmd = bin();
        cmd.args(["run", "--provider", provider, "--input"])
            .arg(&input)
            .arg("--journal")
            .arg(&journal);
        cmd
    };
    let out = run(&mut args("cardsync"));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("CARDSYNC_MERCHANT_API_KEY"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--emulator"), "{}", out.stderr);
    let out = run(&mut args("acquired"));
    assert_eq!(out.code, 1);
    for var in [
        "ACQUIRED_COMPANY_ID",
        "ACQUIRED_COMPANY_PASS",
        "ACQUIRED_COMPANY_HASHCODE",
    ] {
        assert!(out.stderr.contains(var), "{var}: {}", out.stderr);
    }
    let out = run(&mut args("payconex"));
    assert_eq!(out.code, 1);
    // Said from the client's own capabilities, before any variable is read.
    assert!(
        out.stderr.contains("takes no bulk inquiries")
            && out.stderr.contains("subscribe")
            && out.stderr.contains("--route"),
        "{}",
        out.stderr
    );
    let out = run(&mut args("accountvault"));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("takes no bulk inquiries, so a CSV run cannot go to it alone (it offers: update_account)"),
        "{}",
        out.stderr
    );
    // Some of a provider's variables but not all: the missing ones are named, the given
    // value is not repeated.
    let out = run(args("acquired").env("ACQUIRED_COMPANY_ID", "company-7781"));
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("ACQUIRED_COMPANY_PASS, ACQUIRED_COMPANY_HASHCODE"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("company-7781"), "{}", out.stderr);
    // A value that does not parse: the variable is named.
    let out = run(args("cardsync")
        .env("CARDSYNC_MERCHANT_API_KEY", "api_merchant_secret")
        .env("CARDSYNC_BASE_URL", "not a url"));
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("CARDSYNC_BASE_URL"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("api_merchant_secret"),
        "{}",
        out.stderr
    );
    // Nothing was submitted, so no run was recorded.
    assert!(
        !run(bin().arg("status").arg("--journal").arg(&journal))
            .stdout
            .contains("run-")
    );
}

/// 10,000 rows, 8 of them bad in every way a file goes wrong, four sandbox cards that produce
/// updates; on the embedded emulator.
#[test]
fn ten_thousand_rows_with_bad_ones_rejects_file_updates_and_owner_only_numbers() {
    let dir = temp_dir("tenk");
    let input = dir.join("cards.csv");
    let mut text = String::from("id,card_number,expiry,token,amex_se_number\n");
    let sandbox = [
        (1_000, "4457010000000009", "updated_card"),
        (2_000, "4457000300000007", "updated_expiry"),
        (3_000, "4457000900000001", "closed"),
        (4_000, "4100200300011001", "valid"),
    ];
    for i in 0..10_000 {
        let row = match i {
            10 => "c10,4111111111111112,12/30,,".to_owned(),
            11 => "c11,4111111111111111,13/30,,".to_owned(),
            12 => "c12,4111111111111111,,,".to_owned(),
            13 => "c13,,12/30,,".to_owned(),
            14 => "c14,4111111111111111,12/30,tok_1,".to_owned(),
            15 => "c10,4111111111111111,12/30,,".to_owned(), // c10 again (its row was refused: no duplicate)
            16 => "c9,4111111111111111,12/30,,".to_owned(),  // duplicate id
            17 => "c17,,,tok_17,".to_owned(),                // CardSync takes card numbers
            18 => "c18,378282246310005,12/30,,".to_owned(),  // Amex without SE number
            _ => match sandbox.iter().find(|s| s.0 == i) {
                Some((_, pan, _)) => format!("c{i},{pan},12/30,,"),
                None => format!("c{i},{},{:02}/{},,", plain_card(i), i % 12 + 1, 30 + i % 4),
            },
        };
        text.push_str(&row);
        text.push('\n');
    }
    std::fs::write(&input, &text).unwrap();
    let reveal = dir.join("new-numbers.csv");
    let out = run(bin()
        .args([
            "run",
            "--provider",
            "cardsync",
            "--emulator",
            "--run-id",
            "tenk",
        ])
        .arg("--input")
        .arg(&input)
        .arg("--journal")
        .arg(dir.join("journal.db"))
        .arg("--reveal-new-numbers")
        .arg(&reveal)
        .args(["--poll-interval", "100ms", "--no-progress"]));
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);

    // Every bad row is in the rejects file with its row and reason; nothing else is.
    let rejects = csv_rows(&dir.join("cards.rejects.csv"));
    let mut by_row: Vec<(u64, String, String)> = rejects
        .iter()
        .map(|r| (r[0].parse().unwrap(), r[1].clone(), r[2].clone()))
        .collect();
    by_row.sort();
    let expected = [
        (11, "c10", "Luhn"),
        (12, "c11", "month 13"),
        (13, "c12", "needs an expiry"),
        (14, "c13", "neither a card number nor a token"),
        (15, "c14", "both a card number and a token"),
        (17, "c9", "more than once"),
        (18, "c17", "not tokens"),
        (19, "c18", "se_number is required"),
    ];
    assert_eq!(by_row.len(), expected.len(), "{by_row:?}");
    for ((row, id, reason), (want_row, want_id, want_reason)) in by_row.iter().zip(expected) {
        assert_eq!((*row, id.as_str()), (want_row, want_id));
        assert!(reason.contains(want_reason), "row {row}: {reason}");
    }

    // The updates: one row per sandbox card with a result, new numbers masked.
    let updates = csv_rows(&dir.join("cards.updates.csv"));
    let find = |id: &str| updates.iter().find(|r| r[0] == id).cloned();
    for (i, _, code) in sandbox {
        let row = find(&format!("c{i}")).unwrap_or_else(|| panic!("c{i} missing: {updates:?}"));
        assert_eq!((row[1].as_str(), row[3].as_str()), ("cardsync", code));
    }
    let updated = find("c1000").unwrap();
    assert_eq!(updated[2], "new_account_number");
    let masked = &updated[5];
    assert!(
        masked.starts_with("445701") && masked.contains('*'),
        "{masked}"
    );
    assert_eq!(updates.len(), 4, "{updates:?}");

    // The clear number only in the file asked for, readable by its owner only.
    // CardSync returns the card with every update (the same number with a new expiry, too).
    let mut revealed = csv_rows(&reveal);
    revealed.sort();
    let ids: Vec<&str> = revealed.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["c1000", "c2000"]);
    for row in &revealed {
        assert!(account_updater::card::luhn_valid(&row[1]));
        assert_eq!(
            account_updater::CardNumber::parse(&row[1])
                .unwrap()
                .masked(),
            find(&row[0]).unwrap()[5]
        );
    }
    let clear = revealed[0][1].clone();
    assert_ne!(clear, "4457010000000009", "a new number");
    #[cfg(unix)]
    for file in [
        &reveal,
        &dir.join("cards.updates.csv"),
        &dir.join("cards.rejects.csv"),
    ] {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    // No card number in clear on the terminal or in the rejects file.
    let rejects_text = std::fs::read_to_string(dir.join("cards.rejects.csv")).unwrap();
    for secret in [
        clear.as_str(),
        "4111111111111111",
        "4111111111111112",
        "378282246310005",
    ] {
        assert!(
            !out.stdout.contains(secret) && !out.stderr.contains(secret),
            "{secret}"
        );
        assert!(!rejects_text.contains(secret), "{secret} in rejects");
    }
    assert!(
        out.stdout.contains("9992 cards accepted now"),
        "{}",
        out.stdout
    );

    // `results` again: nothing new to export; `--all` exports everything again.
    let status = run(bin()
        .args(["status", "--run", "tenk", "--journal"])
        .arg(dir.join("journal.db")));
    assert_eq!(status.code, 3, "{}{}", status.stdout, status.stderr);
    assert!(status.stdout.contains("9992 accepted"), "{}", status.stdout);
    let export = |all: bool| {
        let out_file = dir.join(if all { "all.csv" } else { "again.csv" });
        let mut cmd = bin();
        cmd.args(["results", "--run", "tenk", "--no-fetch", "--journal"])
            .arg(dir.join("journal.db"))
            .arg("--out")
            .arg(&out_file);
        if all {
            cmd.arg("--all");
        }
        let out = run(&mut cmd);
        assert_eq!(out.code, 0, "{}", out.stderr);
        csv_rows(&out_file).len()
    };
    assert_eq!(export(false), 0, "each result is exported once");
    assert_eq!(export(true), 4);
}

fn emulator_env(
    cmd: &mut Command,
    emulator: &CardSyncEmulator,
    key: &account_updater::SecretString,
) {
    cmd.env("CARDSYNC_BASE_URL", emulator.base_url().as_str())
        .env("CARDSYNC_MERCHANT_API_KEY", key.expose_secret());
}

/// Killed with a request in flight, resumed: the in-flight chunk is unknown (exit 5) and is
/// never resent silently; after the operator's decision the resume sends it, and the provider
/// has received every card exactly once. Two cards last month's run reported closed and
/// updated are suppressed by the run and by every resume alike (same chunks, same rows).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_run_then_resumed_sends_every_card_exactly_once() {
    let emulator = CardSyncEmulator::start().await.unwrap();
    let (_, key) = emulator.add_merchant();
    let dir = temp_dir("kill");
    let journal_path = dir.join("journal.db");
    let history =
        "id,card_number,expiry\nclosed-1,4457000900000001,12/30\nrenew-1,4457010000000009,12/30\n";
    std::fs::write(dir.join("october.csv"), history).unwrap();
    let mut october = bin();
    october
        .args([
            "run",
            "--provider",
            "cardsync",
            "--run-id",
            "2026-10",
            "--input",
        ])
        .arg(dir.join("october.csv"))
        .arg("--journal")
        .arg(&journal_path)
        .args(["--wait", "30s", "--poll-interval", "100ms", "--no-progress"]);
    emulator_env(&mut october, &emulator, &key);
    let out = tokio::task::block_in_place(|| run(&mut october));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(emulator.batch_cards_received(), 2);

    let input = dir.join("cards.csv");
    let mut text = String::from(history);
    for i in 0..50_000 {
        text.push_str(&format!("k{i},{},12/30\n", plain_card(i)));
    }
    std::fs::write(&input, &text).unwrap();
    // The third batch request is held for an hour: the program is killed meanwhile.
    emulator.inject_fault(Fault::pass());
    emulator.inject_fault(Fault::pass());
    emulator.inject_fault(Fault::slow(Duration::from_secs(3600)));

    let submit = |command: &str| {
        let mut cmd = bin();
        cmd.arg(command);
        if command == "run" {
            cmd.args(["--provider", "cardsync", "--run-id", "kill"]);
        } else {
            cmd.args(["--run", "kill"]);
        }
        cmd.arg("--input")
            .arg(&input)
            .arg("--journal")
            .arg(&journal_path)
            .args(["--poll-interval", "100ms", "--no-progress"]);
        emulator_env(&mut cmd, &emulator, &key);
        cmd
    };
    let mut child = submit("run")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the four other chunks are accepted and recorded, the third still held.
    let journal = Journal::open_sqlite(&journal_path).await.unwrap();
    let started = Instant::now();
    loop {
        let accepted = journal
            .status("kill")
            .await
            .map(|s| s.accepted)
            .unwrap_or(0);
        if accepted == 40_000 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "stuck at {accepted}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(emulator.batch_cards_received(), 2 + 40_000);

    // Resumed: the held chunk may have reached CardSync, so it is not sent again by itself.
    let out = tokio::task::block_in_place(|| run(&mut submit("resume")));
    assert_eq!(out.code, 5, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(emulator.batch_cards_received(), 2 + 40_000);
    let unknown = journal.unknown_chunks("kill").await.unwrap();
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].cards, 10_000);
    let status = tokio::task::block_in_place(|| {
        run(bin()
            .args(["status", "--run", "kill", "--journal"])
            .arg(&journal_path))
    });
    assert_eq!(status.code, 5);
    assert!(
        status
            .stdout
            .contains(&format!("resolve --run kill --chunk {}", unknown[0].seq)),
        "{}",
        status.stdout
    );

    // The operator checked: CardSync has no such batch. Resend it, resume.
    let resolved = tokio::task::block_in_place(|| {
        run(bin()
            .args([
                "resolve",
                "--run",
                "kill",
                "--chunk",
                &unknown[0].seq.to_string(),
                "--resend",
                "--journal",
            ])
            .arg(&journal_path))
    });
    assert_eq!(resolved.code, 0, "{}", resolved.stderr);
    let out = tokio::task::block_in_place(|| run(&mut submit("resume")));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(emulator.batch_cards_received(), 2 + 50_000);
    assert_eq!(emulator.batch_count(), 1 + 5);
    assert!(
        out.stdout
            .contains("10000 cards accepted now, 40000 in chunks recorded before (skipped)"),
        "{}",
        out.stdout
    );
    // Once more: nothing is sent.
    let out = tokio::task::block_in_place(|| run(&mut submit("resume")));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(emulator.batch_cards_received(), 2 + 50_000);
    let received = emulator.cards_received();
    assert_eq!((received["closed-1"], received["renew-1"]), (1, 1));
    let suppressed = suppressed_rows(&dir.join("cards.suppressed.csv"));
    let rows: Vec<(&str, &str, &str)> = suppressed
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    assert_eq!(
        rows,
        [
            ("1", "closed-1", "stopped"),
            ("2", "renew-1", "updated_this_cycle")
        ]
    );
    assert_eq!(journal.status("kill").await.unwrap().suppressed, 2);
}

#[test]
fn demo_runs_end_to_end_without_credentials() {
    let dir = temp_dir("demo");
    let out = run(bin()
        .args(["demo", "--cards", "3000", "--no-progress", "--dir"])
        .arg(&dir));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("2994 cards accepted now"),
        "{}",
        out.stdout
    );
    let updates = csv_rows(&dir.join("cards.updates.csv"));
    // Sandbox cards at rows 250, 750, …, 2750: six results.
    assert_eq!(updates.len(), 6, "{updates:?}");
    assert_eq!(csv_rows(&dir.join("cards.rejects.csv")).len(), 6);

    // status and history as JSON, in their documented shapes.
    let journal = dir.join("journal.db");
    let status = run(bin()
        .args(["status", "--run", "demo", "--format", "json", "--journal"])
        .arg(&journal));
    // Exit 3: the run's rejected rows (the exit code says the same with --format json).
    assert_eq!(status.code, 3, "{}", status.stderr);
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["run_id"], "demo");
    assert_eq!(status["total"]["accepted"], 2994);
    assert_eq!(status["total"]["rejected"], 3);
    assert_eq!(status["total"]["results"], 6);
    assert_eq!(status["providers"][0]["provider"], "cardsync");
    assert_eq!(status["providers"][0]["accepted"], 2994);
    assert_eq!(status["unknown_chunks"], serde_json::json!([]));
    let runs = run(bin()
        .args(["status", "--format", "json", "--journal"])
        .arg(&journal));
    let runs: serde_json::Value = serde_json::from_str(&runs.stdout).unwrap();
    assert_eq!(runs["runs"][0]["run_id"], "demo");
    assert_eq!(runs["runs"][0]["status"]["accepted"], 2994);
    let history = run(bin()
        .args([
            "history",
            "--id",
            "cust-0000250",
            "--format",
            "json",
            "--journal",
        ])
        .arg(&journal));
    assert_eq!(history.code, 0, "{}", history.stderr);
    let history: serde_json::Value = serde_json::from_str(&history.stdout).unwrap();
    assert_eq!(history["card_id"], "cust-0000250");
    let result = &history["results"][0];
    assert_eq!(result["run_id"], "demo");
    assert_eq!(result["provider"], "cardsync");
    assert_eq!(result["outcome"], "new_account_number");
    assert!(
        result["new_card_masked"]
            .as_str()
            .unwrap()
            .starts_with("445701******"),
        "{result}"
    );
    assert!(
        result["applied_at"].is_string(),
        "exported, so applied: {result}"
    );
    let text = run(bin()
        .args(["history", "--id", "cust-0000250", "--journal"])
        .arg(&journal));
    assert!(
        text.stdout
            .starts_with("demo\tcardsync\tnew_account_number\t"),
        "{}",
        text.stdout
    );
}

#[test]
fn emulator_command_prints_the_variables_that_point_a_run_at_it() {
    use std::io::BufRead;
    let mut child = bin()
        .arg("emulator")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        line.starts_with("export CARDSYNC_BASE_URL=http://127.0.0.1:")
            && line.contains(" CARDSYNC_MERCHANT_API_KEY=api_"),
        "{line}"
    );
}

/// `run --provider acquired` as run `acq` on `emulator`, receiving its webhooks on a free
/// loopback port for at most `wait`.
fn run_acquired(
    emulator: &account_updater_emulator::acquired::AcquiredEmulator,
    input: &Path,
    journal: &Path,
    wait: &str,
) -> Output {
    let port = free_port();
    emulator.set_webhook_url(&format!("http://127.0.0.1:{port}/acquired").parse().unwrap());
    tokio::task::block_in_place(|| run(&mut acquired_run(emulator, input, journal, wait, port)))
}

/// A loopback port nothing listens on (yet).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `run --provider acquired` of `input` with the emulator's credentials, listening for
/// webhooks on `port` and waiting up to `wait` for the results.
fn acquired_run(
    emulator: &account_updater_emulator::acquired::AcquiredEmulator,
    input: &Path,
    journal: &Path,
    wait: &str,
    port: u16,
) -> Command {
    use account_updater_emulator::acquired::{
        DEFAULT_COMPANY_ID, DEFAULT_COMPANY_PASS, DEFAULT_HASHCODE,
    };
    let mut cmd = bin();
    cmd.args([
        "run",
        "--provider",
        "acquired",
        "--run-id",
        "acq",
        "--input",
    ])
    .arg(input)
    .arg("--journal")
    .arg(journal)
    .args(["--listen", &format!("127.0.0.1:{port}")])
    .args(["--wait", wait, "--poll-interval", "100ms", "--no-progress"])
    .env("ACQUIRED_BASE_URL", emulator.base_url().as_str())
    .env("ACQUIRED_COMPANY_ID", DEFAULT_COMPANY_ID)
    .env("ACQUIRED_COMPANY_PASS", DEFAULT_COMPANY_PASS)
    .env("ACQUIRED_COMPANY_HASHCODE", DEFAULT_HASHCODE);
    cmd
}

/// Acquired answers an inquiry at once and sends its result by webhook moments later, which
/// can be before the run has journaled the card as sent (that write follows the answer).
/// `--listen` then answers 503, "not yet", and Acquired delivers again (every 10 minutes
/// for an hour): the result is stored once the run has the card, never stored without its
/// caller's id. A result for a card no run sent is answered 503 every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acquired_webhook_ahead_of_its_run_is_asked_again_not_stored_without_an_id() {
    use account_updater::provider::{CardToUpdate, Provider};
    use account_updater::{CardNumber, ProviderId};
    use account_updater_emulator::acquired::AcquiredEmulator;
    use account_updater_emulator::{WebhookSink, deliver_webhook};
    let emulator = AcquiredEmulator::start().await.unwrap();
    let hooks = WebhookSink::start().await.unwrap();
    let dir = temp_dir("acquired-early");
    let input = dir.join("tokens.csv");
    let expiry = account_updater::Expiry::new(12, 2030).unwrap();
    let mut text = String::from("id,token\n");
    for i in 0..2 {
        let token = emulator.create_token(&CardNumber::parse(&plain_card(i)).unwrap(), expiry);
        text.push_str(&format!("a{i},{token}\n"));
    }
    std::fs::write(&input, text).unwrap();
    // The emulator delivers to this test, which hands each webhook to the run when it chooses.
    emulator.set_webhook_url(&hooks.url());
    let port = free_port();
    let listener = format!("http://127.0.0.1:{port}/acquired");
    let child = acquired_run(&emulator, &input, &dir.join("journal.db"), "60s", port)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let hook = hooks
            .next(Duration::from_secs(60))
            .await
            .expect("a card's webhook");
        bodies.push(serde_json::from_slice::<serde_json::Value>(&hook.body).unwrap());
    }
    // Delivered as Acquired would, again until answered 200: before the listener is up there
    // is no answer, before the run has journaled the card the answer is 503.
    let deliver_until_accepted = |body: serde_json::Value| {
        let listener = listener.clone();
        async move {
            let mut answers = Vec::new();
            while answers.last() != Some(&Some(200)) {
                assert!(answers.len() < 600, "never accepted: {answers:?}");
                if !answers.is_empty() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                answers.push(deliver_webhook(&listener, &body).await);
            }
            assert!(
                answers
                    .iter()
                    .all(|a| matches!(a, None | Some(503) | Some(200))),
                "{answers:?}"
            );
        }
    };
    deliver_until_accepted(bodies[0].clone()).await;
    // A token no run of this journal sent: its result is never stored, always asked again.
    let stranger = emulator.create_token(&CardNumber::parse(&plain_card(2)).unwrap(), expiry);
    let client =
        account_updater::providers::acquired::AcquiredClient::builder(emulator.credentials())
            .base_url(emulator.base_url())
            .build()
            .unwrap();
    client
        .submit(vec![CardToUpdate::token(
            "elsewhere",
            ProviderId::Acquired,
            stranger,
        )])
        .await
        .unwrap();
    let hook = hooks
        .next(Duration::from_secs(60))
        .await
        .expect("the stranger's webhook");
    let stranger_body: serde_json::Value = serde_json::from_slice(&hook.body).unwrap();
    for _ in 0..2 {
        assert_eq!(deliver_webhook(&listener, &stranger_body).await, Some(503));
    }
    // The other card's result: with both in, the run ends without waiting out its minute.
    deliver_until_accepted(bodies[1].clone()).await;
    let out = tokio::task::block_in_place(|| child.wait_with_output()).unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let updates = csv_rows(&dir.join("tokens.updates.csv"));
    let mut ids: Vec<&str> = updates.iter().map(|r| r[0].as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["a0", "a1"], "{updates:?}");
}

/// Acquired sends results only by webhook: `--listen` receives them, verifies each one's hash,
/// and joins each (it names the token) back to the caller's id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acquired_results_arrive_by_webhook_and_join_back_to_caller_ids() {
    use account_updater_emulator::acquired::AcquiredEmulator;
    let emulator = AcquiredEmulator::start().await.unwrap();
    let dir = temp_dir("acquired");
    let input = dir.join("tokens.csv");
    let expiry = account_updater::Expiry::new(12, 2030).unwrap();
    let mut text = String::from("id,token\n");
    let sandbox = ["4457010000000009", "4457000300000007", "4457000900000001"];
    for (i, pan) in sandbox.iter().enumerate() {
        let token =
            emulator.create_token(&account_updater::CardNumber::parse(pan).unwrap(), expiry);
        text.push_str(&format!("a{i},{token}\n"));
    }
    for i in 3..20 {
        let pan = plain_card(i);
        let token =
            emulator.create_token(&account_updater::CardNumber::parse(&pan).unwrap(), expiry);
        text.push_str(&format!("a{i},{token}\n"));
    }
    text.push_str("a20,\n"); // no token: refused while reading
    std::fs::write(&input, &text).unwrap();
    let out = run_acquired(&emulator, &input, &dir.join("journal.db"), "60s");
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("20 cards accepted now"),
        "{}",
        out.stdout
    );
    let updates = csv_rows(&dir.join("tokens.updates.csv"));
    let mut ids: Vec<&str> = updates.iter().map(|r| r[0].as_str()).collect();
    ids.sort_by_key(|id| id[1..].parse::<u32>().unwrap());
    let expected: Vec<String> = (0..20).map(|i| format!("a{i}")).collect();
    assert_eq!(
        ids, expected,
        "every result joined to its caller id: {updates:?}"
    );
    assert!(updates.iter().all(|r| r[1] == "acquired"));
    // The emulator answers as Acquired's testing page shows (status and scheme code): the
    // three sandbox cards' results, and valid for the other cards.
    for r in &updates {
        let expected = match r[0].as_str() {
            "a0" => ("new_account_number", "response_code=A;status=1"),
            "a1" => ("new_expiry", "response_code=E;status=1"),
            "a2" => ("closed", "response_code=C;status=2"),
            _ => ("valid", "response_code=V;status=2"),
        };
        assert_eq!((r[2].as_str(), r[3].as_str()), expected, "{updates:?}");
    }
    let rejects = csv_rows(&dir.join("tokens.rejects.csv"));
    assert_eq!(rejects.len(), 1);
    assert_eq!(
        (rejects[0][0].as_str(), rejects[0][1].as_str()),
        ("21", "a20")
    );
}

/// The same program on a PostgreSQL journal (`--postgres`), as a fleet would run it: a run, a
/// status, and a second run of the same input that sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_on_a_postgres_journal_resumes_without_sending_again() {
    let Some(pg) = postgres::PgCluster::start("cli_postgres") else {
        return;
    };
    let emulator = CardSyncEmulator::start().await.unwrap();
    let (_, key) = emulator.add_merchant();
    let dir = temp_dir("postgres");
    let input = dir.join("cards.csv");
    let mut text = String::from("id,card_number,expiry\n");
    for i in 0..12_000 {
        text.push_str(&format!("p{i},{},12/30\n", plain_card(i)));
    }
    std::fs::write(&input, &text).unwrap();
    let submit = |command: &str| {
        let mut cmd = bin();
        cmd.arg(command);
        if command == "run" {
            cmd.args(["--provider", "cardsync", "--run-id", "pg"]);
        } else {
            cmd.args(["--run", "pg"]);
        }
        cmd.arg("--input")
            .arg(&input)
            .args(["--postgres", &pg.url])
            .args(["--poll-interval", "100ms", "--no-progress"]);
        emulator_env(&mut cmd, &emulator, &key);
        cmd
    };
    let out = tokio::task::block_in_place(|| run(&mut submit("run")));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(emulator.batch_cards_received(), 12_000);
    let status = tokio::task::block_in_place(|| {
        run(bin().args(["status", "--run", "pg", "--postgres", &pg.url]))
    });
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(
        status.stdout.contains("12000 accepted"),
        "{}",
        status.stdout
    );
    let again = tokio::task::block_in_place(|| run(&mut submit("resume")));
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again
            .stdout
            .contains("0 cards accepted now, 12000 in chunks recorded before (skipped)"),
        "{}",
        again.stdout
    );
    assert_eq!(emulator.batch_cards_received(), 12_000);
}

/// The rules of the routed tests: Acquired and PayConex tokens to their issuers, Amex with an
/// SE number and Visa / Mastercard / Discover to CardSync, Amex without one to PayConex
/// subscriptions; JCB cards match nothing.
const ROUTES: &str = r#"
[[rule]]
name = "acquired-tokens"
provider = "acquired"
token = true

[[rule]]
name = "payconex-tokens"
provider = "payconex"
flow = "subscribe"
token = true

[[rule]]
name = "amex-with-se"
provider = "cardsync"
amex_se_number = true

[[rule]]
name = "amex-without-se"
provider = "payconex"
flow = "subscribe"
amex_se_number = false

[[rule]]
name = "cards"
provider = "cardsync"
card_number = true
fall_through = true
"#;

/// A routed run killed with a CardSync request in flight, resumed: across the three
/// providers no card is sent twice, the held chunk waits for the operator's decision, and
/// after it every card has reached its provider exactly once (counted at the emulators).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routed_run_killed_mid_way_and_resumed_sends_no_card_twice_across_providers() {
    let providers =
        common::Providers::start(account_updater_emulator::cardsync::Completion::Immediate).await;
    let (cardsync, acquired, payconex) = (
        &providers.cardsync,
        &providers.acquired,
        &providers.payconex,
    );
    let dir = temp_dir("routed-kill");
    let routes = dir.join("routes.toml");
    std::fs::write(&routes, ROUTES).unwrap();
    let input = dir.join("cards.csv");
    let exp = account_updater::Expiry::new(12, 2030).unwrap();
    let mut text = String::from("id,card_number,expiry,token,token_provider,amex_se_number\n");
    let (mut to_cardsync, mut to_payconex, mut tokens_acquired, mut unrouted) = (0, 0, 0, 0);
    let n = 30_000;
    for i in 0..n {
        let row = match i % 100 {
            0..=79 => {
                to_cardsync += 1;
                format!("r{i},{},12/30,,,", plain_card(i))
            }
            80..=84 => {
                to_cardsync += 1;
                format!(
                    "r{i},{},12/30,,,5555555555",
                    with_check_digit(&format!("37{i:012}"))
                )
            }
            85..=89 => {
                to_payconex += 1;
                format!("r{i},{},12/30,,,", with_check_digit(&format!("34{i:012}")))
            }
            90..=94 => {
                to_payconex += 1;
                format!("r{i},,,{:012},payconex,", 100_000_000_000u64 + i as u64)
            }
            95..=96 => {
                tokens_acquired += 1;
                let pan =
                    account_updater::CardNumber::parse(&with_check_digit(&format!("49{i:013}")))
                        .unwrap();
                format!("r{i},,,{},acquired,", acquired.create_token(&pan, exp))
            }
            _ => {
                unrouted += 1;
                format!(
                    "r{i},{},12/30,,,",
                    with_check_digit(&format!("3530{i:011}"))
                )
            }
        };
        text.push_str(&row);
        text.push('\n');
    }
    std::fs::write(&input, &text).unwrap();
    let journal_path = dir.join("journal.db");
    // CardSync's second request is held for an hour: the program is killed meanwhile.
    cardsync.inject_fault(Fault::pass());
    cardsync.inject_fault(Fault::slow(Duration::from_secs(3600)));
    let submit = |command: &str| {
        let mut cmd = bin();
        cmd.arg(command);
        if command == "run" {
            cmd.args(["--run-id", "routed"]);
        } else {
            cmd.args(["--run", "routed"]);
        }
        cmd.arg("--route")
            .arg(&routes)
            .arg("--input")
            .arg(&input)
            .arg("--journal")
            .arg(&journal_path)
            .args(["--poll-interval", "100ms", "--wait", "0s", "--no-progress"]);
        providers.env(&mut cmd);
        cmd
    };
    let log = dir.join("run.log");
    let mut child = submit("run")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // Wait until every card but the held chunk's is accepted or rejected.
    let journal = Journal::open_sqlite(&journal_path).await.unwrap();
    let started = Instant::now();
    loop {
        // Settled: every card read, every request answered but the held one (its cards the
        // only ones in flight, and the only ones CardSync has not received).
        let status = journal.status("routed").await.ok();
        let settled = status.as_ref().is_some_and(|s| {
            s.in_flight > 0
                && s.accepted + s.in_flight + s.rejected == n as u64
                && cardsync.cards_received().len() as u64 + s.in_flight == to_cardsync as u64
                && acquired.inquiries().len() == tokens_acquired
                && payconex.records_received().values().sum::<usize>() == to_payconex
        });
        if settled {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "stuck at {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let held = journal.status("routed").await.unwrap().in_flight;
    let counted = |f: &dyn Fn() -> std::collections::HashMap<String, usize>| {
        let m = f();
        assert!(
            m.values().all(|n| *n == 1),
            "a card reached a provider twice"
        );
        m.len()
    };
    assert_eq!(
        counted(&|| cardsync.cards_received()) as u64 + held,
        to_cardsync as u64
    );
    assert_eq!(counted(&|| acquired.inquiries()), tokens_acquired);
    assert_eq!(
        payconex.records_received().values().sum::<usize>(),
        to_payconex
    );

    // Resumed: the held chunk may have reached CardSync, so it is not sent again by itself.
    let out = tokio::task::block_in_place(|| run(&mut submit("resume")));
    assert_eq!(out.code, 5, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("acquired: "), "{}", out.stdout);
    assert!(out.stdout.contains("cardsync: "), "{}", out.stdout);
    assert!(out.stdout.contains("payconex: "), "{}", out.stdout);
    assert!(out.stdout.contains("total cards: "), "{}", out.stdout);
    let unknown = journal.unknown_chunks("routed").await.unwrap();
    assert_eq!(unknown.len(), 1);
    // The operator checked: CardSync has no such request. Resend it, resume.
    let resolved = tokio::task::block_in_place(|| {
        run(bin()
            .args([
                "resolve",
                "--run",
                "routed",
                "--chunk",
                &unknown[0].seq.to_string(),
                "--resend",
                "--journal",
            ])
            .arg(&journal_path))
    });
    assert_eq!(resolved.code, 0, "{}", resolved.stderr);
    let out = tokio::task::block_in_place(|| run(&mut submit("resume")));
    // Every card accepted; PayConex's schedules have not run (exit 6: results pending), and
    // the rows no rule takes are in the rejects file.
    assert_eq!(out.code, 6, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(counted(&|| cardsync.cards_received()), to_cardsync);
    assert_eq!(counted(&|| acquired.inquiries()), tokens_acquired);
    assert_eq!(
        payconex.records_received().values().sum::<usize>(),
        to_payconex
    );
    let status = journal.status("routed").await.unwrap();
    assert_eq!(status.accepted, (n - unrouted) as u64);
    assert_eq!(status.rejected, unrouted as u64);
    let rejects = csv_rows(&dir.join("cards.rejects.csv"));
    assert!(
        rejects
            .iter()
            .skip(1)
            // The card rule took it, CardSync refused it as input, it fell through and no
            // later rule took it: rejected with CardSync's own reason.
            .all(|r| r[2].contains(
                "JCB card: CardSync updates Visa, Mastercard, Discover and American Express only"
            )),
        "{:?}",
        rejects.get(1)
    );
    // Once more: nothing is sent anywhere.
    let out = tokio::task::block_in_place(|| run(&mut submit("resume")));
    assert_eq!(out.code, 6, "{}", out.stderr);
    assert_eq!(counted(&|| cardsync.cards_received()), to_cardsync);
    assert_eq!(counted(&|| acquired.inquiries()), tokens_acquired);
    assert_eq!(
        payconex.records_received().values().sum::<usize>(),
        to_payconex
    );
}

/// A rules file that cannot work is refused before anything is read or sent, naming the rule
/// or the variable.
#[test]
fn a_bad_rules_file_is_refused_before_anything_is_sent() {
    let dir = temp_dir("bad-routes");
    let input = dir.join("cards.csv");
    std::fs::write(&input, "id,card_number,expiry\nx,4111111111111111,12/30\n").unwrap();
    let case = |rules: &str| {
        let routes = dir.join("routes.toml");
        std::fs::write(&routes, rules).unwrap();
        run(bin()
            .args(["run", "--route"])
            .arg(&routes)
            .arg("--input")
            .arg(&input)
            .arg("--journal")
            .arg(dir.join("journal.db"))
            .env("CARDSYNC_MERCHANT_API_KEY", "k")
            .env("CARDSYNC_BASE_URL", "http://127.0.0.1:9"))
    };
    let shadowed = case(
        "[[rule]]\nname = \"all\"\nprovider = \"cardsync\"\n\n[[rule]]\nname = \"visa\"\nprovider = \"cardsync\"\nbrand = \"visa\"\n",
    );
    assert_eq!(shadowed.code, 1);
    assert!(
        shadowed.stderr.contains(
            "rule \"visa\" can never match: rule \"all\" before it takes every card it would"
        ),
        "{}",
        shadowed.stderr
    );
    let no_flow = case("[[rule]]\nname = \"p\"\nprovider = \"payconex\"\n");
    assert_eq!(no_flow.code, 1);
    assert!(
        no_flow.stderr.contains(
            "payconex needs the environment variables PAYCONEX_ACCOUNT_ID, PAYCONEX_API_KEY_ID, PAYCONEX_API_SECRET"
        ),
        "{}",
        no_flow.stderr
    );
    let typo = case("[[rule]]\nname = \"x\"\nprovider = \"cardsync\"\nbrnad = \"visa\"\n");
    assert_eq!(typo.code, 1);
    assert!(
        typo.stderr.contains("unknown field `brnad`"),
        "{}",
        typo.stderr
    );
    // Nothing was journaled: the run never started.
    assert!(
        !dir.join("journal.db").exists() || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                Journal::open_sqlite(dir.join("journal.db"))
                    .await
                    .unwrap()
                    .runs()
                    .await
                    .unwrap()
                    .is_empty()
            })
        }
    );
}

/// Workers started at the same moment on a new PostgreSQL journal all start: the schema is
/// migrated by one of them at a time (three processes, each its own connection pool, on three
/// fresh clusters).
#[test]
fn workers_starting_together_on_a_new_postgres_journal_all_start() {
    for round in 0..3 {
        let Some(pg) = postgres::PgCluster::start("workers_starting_together") else {
            return;
        };
        let children: Vec<_> = (0..3)
            .map(|_| {
                bin()
                    .args(["status", "--postgres", &pg.url])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "no runs");
        }
    }
}

fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", out.stdout, out.stderr))
}

/// A month's run, then next month's plan and run: the card reported closed and the one
/// updated this cycle are suppressed (written to the suppressed file with their reasons, never
/// sent), the plan's totals are the run's, the closed card's history holds its result, the
/// first run reconciles as complete, and `--quiet` prints nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_suppression_history_and_reconcile_on_the_command_line() {
    let emulator = CardSyncEmulator::start().await.unwrap();
    let (_, key) = emulator.add_merchant();
    let dir = temp_dir("operator");
    let journal = dir.join("journal.db");
    let plains: Vec<String> = (0..3).map(|i| plain_card(i * 3)).collect();
    let mut november = String::from("id,card_number,expiry\n");
    november.push_str("closed-1,4457000900000001,01/30\nrenew-1,4457010000000009,01/30\n");
    for (i, p) in plains.iter().enumerate() {
        november.push_str(&format!("plain-{i},{p},01/30\n"));
    }
    std::fs::write(dir.join("november.csv"), &november).unwrap();
    let mut december = String::from("id,card_number,expiry\n");
    december.push_str(
        "closed-1,4457000900000001,01/30\nrenew-1,4457010000000009,01/30\nold-1,4100200300011001,01/20\n",
    );
    for (i, p) in plains.iter().enumerate() {
        december.push_str(&format!("plain-{i},{p},01/30\n"));
    }
    december.push_str("bad-1,4111111111111112,01/30\n");
    std::fs::write(dir.join("december.csv"), &december).unwrap();
    std::fs::write(
        dir.join("prices.toml"),
        "[price.cardsync]\nper_hit = 0.25\nper_card = 0.01\ncurrency = \"USD\"\n",
    )
    .unwrap();
    let run_month = |run_id: &str, input: &str| {
        let mut cmd = bin();
        cmd.args([
            "run",
            "--provider",
            "cardsync",
            "--run-id",
            run_id,
            "--input",
        ])
        .arg(dir.join(input))
        .arg("--journal")
        .arg(&journal)
        .args(["--wait", "30s", "--poll-interval", "100ms", "--no-progress"]);
        emulator_env(&mut cmd, &emulator, &key);
        tokio::task::block_in_place(|| run(&mut cmd))
    };
    let out = run_month("2026-11", "november.csv");
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);

    let mut cmd = bin();
    cmd.args([
        "plan",
        "--provider",
        "cardsync",
        "--format",
        "json",
        "--input",
    ])
    .arg(dir.join("december.csv"))
    .arg("--prices")
    .arg(dir.join("prices.toml"))
    .arg("--journal")
    .arg(&journal);
    emulator_env(&mut cmd, &emulator, &key);
    let received_before = emulator.batch_cards_received();
    let out = run(&mut cmd);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        emulator.batch_cards_received(),
        received_before,
        "plan sent nothing"
    );
    let plan = json_of(&out);
    assert_eq!(plan["cards_read"], 7);
    assert_eq!(plan["to_send"], 3);
    assert_eq!(plan["suppressed"], 3);
    assert_eq!(plan["rejected"], 1);
    assert_eq!(
        plan["suppressed_by_reason"],
        serde_json::json!({"long_expired": 1, "stopped": 1, "updated_this_cycle": 1})
    );
    let cardsync = &plan["providers"][0];
    assert_eq!(cardsync["provider"], "cardsync");
    assert_eq!(cardsync["cards"], 3);
    // November's own rate: two billable results (closed, new number) of five cards.
    assert_eq!(cardsync["hit_rate_source"], "history");
    let close = |value: &serde_json::Value, expected: f64| {
        let got = value.as_f64().unwrap();
        assert!((got - expected).abs() < 1e-9, "{got} != {expected}");
    };
    close(&cardsync["expected_hits"], 1.2);
    close(&cardsync["estimated_cost"], 3.0 * 0.01 + 1.2 * 0.25);

    let out = run_month("2026-12", "december.csv");
    assert_eq!(out.code, 3, "{}\n{}", out.stdout, out.stderr);
    let received = emulator.cards_received();
    assert_eq!(
        received["closed-1"], 1,
        "the closed card was not sent again"
    );
    assert_eq!(received["renew-1"], 1);
    assert!(!received.contains_key("old-1"));
    let suppressed = suppressed_rows(&dir.join("december.suppressed.csv"));
    let rows: Vec<(&str, &str, &str)> = suppressed
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    assert_eq!(
        rows,
        [
            ("1", "closed-1", "stopped"),
            ("2", "renew-1", "updated_this_cycle"),
            ("3", "old-1", "long_expired")
        ]
    );
    #[cfg(unix)]
    assert_eq!(mode(&dir.join("december.suppressed.csv")), 0o600);
    let rejects = csv_rows(&dir.join("december.rejects.csv"));
    assert_eq!(
        (
            rejects.len(),
            rejects[0][0].as_str(),
            rejects[0][1].as_str()
        ),
        (1, "7", "bad-1")
    );
    let status = json_of(&run(bin()
        .args([
            "status",
            "--run",
            "2026-12",
            "--format",
            "json",
            "--journal",
        ])
        .arg(&journal)));
    assert_eq!(status["total"]["accepted"], plan["to_send"]);
    assert_eq!(status["total"]["suppressed"], plan["suppressed"]);
    assert_eq!(rejects.len() as u64, plan["rejected"].as_u64().unwrap());
    assert_eq!(status["overdue"], 0);

    let history = json_of(&run(bin()
        .args([
            "history",
            "--id",
            "closed-1",
            "--format",
            "json",
            "--journal",
        ])
        .arg(&journal)));
    assert_eq!(history["results"][0]["outcome"], "closed");
    assert_eq!(history["results"][0]["run_id"], "2026-11");

    let out = run(bin()
        .args([
            "reconcile",
            "--run",
            "2026-11",
            "--format",
            "json",
            "--journal",
        ])
        .arg(&journal)
        .args(["--window", "cardsync=0s"]));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let reconciled = json_of(&out);
    assert_eq!(reconciled["submitted"], 5);
    assert_eq!(reconciled["results_in"], 2);
    assert_eq!(reconciled["jobs"][0]["state"], "complete");
    assert_eq!(reconciled["jobs"][0]["complete_without_result"], 3);
    assert_eq!(reconciled["overdue"], 0);

    let out = run(bin()
        .args(["--quiet", "status", "--run", "2026-12", "--journal"])
        .arg(&journal));
    assert_eq!((out.code, out.stdout.as_str()), (0, ""), "{}", out.stderr);
    let out = run(bin()
        .args([
            "results",
            "--run",
            "2026-12",
            "--no-fetch",
            "--format",
            "json",
            "--journal",
        ])
        .arg(&journal)
        .arg("--out")
        .arg(dir.join("again.csv")));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json_of(&out)["run_id"], "2026-12");
}

/// Acquired holds back two cards' results: the run's wait ends with them pending, and
/// `reconcile` with a window already past reports exactly those two cards overdue (exit 8);
/// within Acquired's documented window they are only waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_held_back_past_the_window_are_reported_overdue() {
    use account_updater_emulator::acquired::AcquiredEmulator;
    let emulator = AcquiredEmulator::start().await.unwrap();
    let dir = temp_dir("overdue");
    let input = dir.join("tokens.csv");
    let journal = dir.join("journal.db");
    let expiry = account_updater::Expiry::new(12, 2030).unwrap();
    let mut text = String::from("id,token\n");
    for i in 0..4 {
        let pan = plain_card(i);
        let token =
            emulator.create_token(&account_updater::CardNumber::parse(&pan).unwrap(), expiry);
        if i % 2 == 1 {
            assert!(emulator.hold_results(&token));
        }
        text.push_str(&format!("a{i},{token}\n"));
    }
    std::fs::write(&input, &text).unwrap();
    // Long enough for the two results not held back to arrive even on a loaded machine: the
    // run waits it out in full (the held ones never come).
    let out = run_acquired(&emulator, &input, &journal, "15s");
    assert_eq!(out.code, 6, "{}\n{}", out.stdout, out.stderr);
    let out = run(bin()
        .args(["reconcile", "--run", "acq", "--format", "json", "--journal"])
        .arg(&journal)
        .args(["--window", "acquired=0s"]));
    assert_eq!(out.code, 8, "{}\n{}", out.stdout, out.stderr);
    let reconciled = json_of(&out);
    let overdue: Vec<&str> = reconciled["overdue_cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(overdue, ["a1", "a3"]);
    assert_eq!(reconciled["results_in"], 2);
    let out = run(bin()
        .args(["reconcile", "--run", "acq", "--journal"])
        .arg(&journal));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("2 waiting, 0 overdue"),
        "{}",
        out.stdout
    );
    let status = json_of(&run(bin()
        .args(["status", "--run", "acq", "--format", "json", "--journal"])
        .arg(&journal)));
    assert_eq!(status["overdue"], 0);
}

/// The keys of a JSON document, sorted.
fn keys(value: &serde_json::Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// A rules file's per-rule suppression setting overrides the default for that rule's cards,
/// and each command's JSON document has exactly the keys the README's schemas name.
#[test]
fn a_rules_files_per_rule_suppression_and_the_json_schemas() {
    let dir = temp_dir("per-rule");
    let journal = dir.join("journal.db");
    std::fs::write(
        dir.join("cards.csv"),
        "id,card_number,expiry\nclosed-1,4457000900000001,01/30\n",
    )
    .unwrap();
    let rules = |extra: &str| {
        let file = dir.join("routes.toml");
        std::fs::write(
            &file,
            format!(
                "[[rule]]\nname = \"cards\"\nprovider = \"cardsync\"\ncard_number = true\n{extra}\n[price.cardsync]\nper_hit = 0.3\n\n[window]\ncardsync = \"2d\"\n"
            ),
        )
        .unwrap();
        file
    };
    let run_with = |run_id: &str, extra: &str| {
        run(bin()
            .args(["run", "--emulator", "--run-id", run_id, "--route"])
            .arg(rules(extra))
            .arg("--input")
            .arg(dir.join("cards.csv"))
            .arg("--journal")
            .arg(&journal)
            .args(["--wait", "30s", "--poll-interval", "100ms", "--no-progress"]))
    };
    let out = run_with("first", "");
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let out = run_with("unsuppressed", "suppress = false");
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("0 cards suppressed"), "{}", out.stdout);
    let out = run_with("suppressed", "");
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("1 cards suppressed"), "{}", out.stdout);

    let json = |args: &[&str]| {
        let out = run(bin().args(args).arg("--journal").arg(&journal));
        assert!(
            out.code == 0 || out.code == 8,
            "{}\n{}",
            out.stdout,
            out.stderr
        );
        json_of(&out)
    };
    let counts = [
        "accepted",
        "applied",
        "chunks",
        "failed",
        "in_flight",
        "rejected",
        "resend",
        "results",
        "suppressed",
        "unknown",
    ];
    let status = json(&["status", "--run", "first", "--format", "json"]);
    assert_eq!(
        keys(&status),
        ["overdue", "providers", "run_id", "total", "unknown_chunks"]
    );
    assert_eq!(keys(&status["total"]), counts);
    let mut with_provider = counts.to_vec();
    with_provider.push("provider");
    with_provider.sort_unstable();
    assert_eq!(keys(&status["providers"][0]), with_provider);
    let all = json(&["status", "--format", "json"]);
    assert_eq!(keys(&all), ["runs"]);
    assert_eq!(
        keys(&all["runs"][0]),
        ["created_at", "provider", "run_id", "status"]
    );
    let history = json(&["history", "--id", "closed-1", "--format", "json"]);
    assert_eq!(keys(&history), ["card_id", "results"]);
    assert_eq!(
        keys(&history["results"][0]),
        [
            "applied_at",
            "brand_changed",
            "new_card_masked",
            "new_expiry",
            "old_card_masked",
            "old_expiry",
            "outcome",
            "provider",
            "raw_code",
            "received_at",
            "run_id"
        ]
    );
    let out_file = dir.join("out.csv");
    let results = json(&[
        "results",
        "--run",
        "first",
        "--no-fetch",
        "--format",
        "json",
        "--out",
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(
        keys(&results),
        [
            "new_results",
            "out",
            "pending",
            "results",
            "run_id",
            "written"
        ]
    );
    let reconciled = json(&["reconcile", "--run", "first", "--format", "json"]);
    assert_eq!(
        keys(&reconciled),
        [
            "at",
            "jobs",
            "orphans",
            "overdue",
            "overdue_cards",
            "repeated",
            "results_in",
            "run_id",
            "submitted",
            "waiting"
        ]
    );
    assert_eq!(
        keys(&reconciled["jobs"][0]),
        [
            "accepted_at",
            "complete_without_result",
            "due_at",
            "failed",
            "job_id",
            "overdue",
            "provider",
            "results_in",
            "state",
            "submitted",
            "waiting"
        ]
    );
    let plan = run(bin()
        .args(["plan", "--emulator", "--format", "json", "--route"])
        .arg(rules(""))
        .arg("--input")
        .arg(dir.join("cards.csv"))
        .arg("--journal")
        .arg(&journal));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let plan = json_of(&plan);
    assert_eq!(
        keys(&plan),
        [
            "cards_read",
            "estimated_cost",
            "expected_hits",
            "providers",
            "rejected",
            "rejected_by_reason",
            "suppressed",
            "suppressed_by_reason",
            "to_send",
            "unreadable_by_reason",
            "unrouted_by_reason"
        ]
    );
    assert_eq!(
        keys(&plan["providers"][0]),
        [
            "cards",
            "currency",
            "estimated_cost",
            "expected_hits",
            "history_cards",
            "history_hits",
            "hit_rate",
            "hit_rate_source",
            "provider",
            "rejected_by_reason",
            "requests",
            "suppressed_by_reason"
        ]
    );
    // The suppressed card is counted at the provider its rule names.
    assert_eq!(plan["providers"][0]["suppressed_by_reason"]["stopped"], 1);
    assert_eq!(plan["suppressed_by_reason"]["stopped"], 1);
    assert_eq!(plan["to_send"], 0);
}

//! The library's layering, checked: every top-level module of `src/` belongs to a declared
//! layer and imports (`crate::…`, in code, not in comments) only modules of lower layers. So no
//! module cycle can come back, and no lower layer (the core types, `transport`) can reach up
//! into the trait, the drivers or a vendor. A new top-level module must be placed here first.
//!
//! The emulators are a crate of their own (`emulator/`), which the compiler keeps to the
//! library's public API; here their sources are also checked to borrow none of the clients'
//! signing, hashing or encryption code.
//!
//! The checkers are tested on the real trees and on trees with deliberately introduced
//! violations, which they must report.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Lowest first. A module may import the modules of strictly lower layers only (siblings in a
/// layer may not import each other either, which would let a cycle form between them).
const LAYERS: &[&[&str]] = &[
    &["card", "ids", "encoding"],
    &["outcome"],
    &["codes"],
    &["error"],
    &["model", "env"],
    &["transport"],
    &["provider"],
    &["submission", "webhook"],
    &["routing"],
    &["providers"],
    &["testing"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The source with comments, string and character literals blanked, so that a doc link or a
/// message naming a module is not an import.
fn code_only(source: &str) -> String {
    let bytes = source.as_bytes();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &source[i..];
        if rest.starts_with("//") {
            let end = rest.find('\n').map_or(bytes.len(), |n| i + n);
            i = end;
        } else if rest.starts_with("/*") {
            let end = rest.find("*/").map_or(bytes.len(), |n| i + n + 2);
            i = end;
        } else if rest.starts_with("r#\"") || rest.starts_with("r\"") {
            let hashes = rest[1..].chars().take_while(|c| *c == '#').count();
            let close = format!("\"{}", "#".repeat(hashes));
            let start = i + 2 + hashes;
            let end = source[start..]
                .find(&close)
                .map_or(bytes.len(), |n| start + n + close.len());
            out.push_str("\"\"");
            i = end;
        } else if bytes[i] == b'"' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i = j + 1;
        } else if bytes[i] == b'\''
            && (rest.starts_with("'\\") || rest.chars().nth(2) == Some('\''))
        {
            // A character literal ('"', '\n'); lifetimes ('a) are left alone.
            let end = rest[1..].find('\'').map_or(bytes.len(), |n| i + n + 2);
            out.push_str("' '");
            i = end;
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The top-level modules a file's code names through `crate::`, grouped imports included
/// (`use crate::{error::Error, ids};`).
fn imports(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let mut depth = 1;
            let mut item_start = true;
            for (n, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => item_start = true,
                    c if c.is_whitespace() => {}
                    _ if item_start && depth == 1 => {
                        found.insert(ident(&group[n..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident(after));
        }
        rest = after;
    }
    found.retain(|m| !m.is_empty());
    found
}

/// Every breach of the layering in `files` (path relative to `src/`, source).
fn violations(files: &[(String, String)]) -> Vec<String> {
    let tops: BTreeSet<String> = files
        .iter()
        .map(|(path, _)| top_of(path))
        .filter(|m| m != "lib")
        .collect();
    let mut found = Vec::new();
    for module in &tops {
        if layer_of(module).is_none() {
            found.push(format!("{module}: not in any declared layer"));
        }
    }
    for (path, source) in files {
        let module = top_of(path);
        let Some(own) = layer_of(&module) else {
            continue;
        };
        for imported in imports(&code_only(source)) {
            if imported == module || !tops.contains(&imported) {
                continue;
            }
            match layer_of(&imported) {
                Some(layer) if layer < own => {}
                _ => found.push(format!("{path}: {module} imports {imported}, not below it")),
            }
        }
    }
    found.sort();
    found
}

fn top_of(path: &str) -> String {
    let first = path.split(['/', '\\']).next().unwrap_or(path);
    first.trim_end_matches(".rs").to_owned()
}

fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path: PathBuf = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push((rel, std::fs::read_to_string(&path).unwrap()));
        }
    }
}

fn source_tree() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.sort();
    files
}

#[test]
fn every_import_points_down_the_layers() {
    let files = source_tree();
    assert!(files.len() > 50, "the tree was read");
    let found = violations(&files);
    assert!(found.is_empty(), "layering broken:\n{}", found.join("\n"));
}

#[test]
fn an_upward_import_or_an_unplaced_module_is_reported() {
    let mut files = source_tree();
    // `transport` reaching up into the trait, and `model` into the driver: both upward.
    files.push((
        "transport/evil.rs".into(),
        "use crate::provider::Provider;\n".into(),
    ));
    files.push((
        "model/evil.rs".into(),
        "use crate::{error::Error, submission::card_stream};\n".into(),
    ));
    // Siblings of one layer may not import each other.
    files.push((
        "webhook/evil.rs".into(),
        "fn f() { crate::submission::card_stream; }".into(),
    ));
    // Named only in a comment or a string: not an import.
    files.push((
        "card/fine.rs".into(),
        "// crate::journal\nconst S: &str = \"crate::journal\";\n/// [`crate::provider`]\nfn g() {}\n".into(),
    ));
    files.push(("newthing.rs".into(), String::new()));
    let found = violations(&files);
    assert_eq!(
        found,
        [
            "model/evil.rs: model imports submission, not below it",
            "newthing: not in any declared layer",
            "transport/evil.rs: transport imports provider, not below it",
            "webhook/evil.rs: webhook imports submission, not below it",
        ],
        "{found:#?}"
    );
}

/// What an emulator may not borrow from the clients: their signing, hashing, encryption and
/// validation code (and the shared hex the signers use), nor the integrators' `testing` vectors.
/// An emulator that verified with the client's own function would pass a client's signing bug.
const CLIENT_ONLY: &[&str] = &[
    "::auth",
    "::hash",
    "::crypto",
    "::validate",
    "encoding::",
    "common::hex",
    "testing::",
];

fn borrowed_signing_code(files: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, source) in files {
        let code = code_only(source);
        for banned in CLIENT_ONLY {
            if code.contains(banned) {
                found.push(format!("{path}: uses {banned}"));
            }
        }
    }
    found.sort();
    found
}

/// The emulator crate's sources (`emulator/src`), paths relative to it.
fn emulator_tree() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("emulator")
        .join("src");
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.sort();
    files
}

#[test]
fn emulators_sign_and_verify_with_their_own_code() {
    let files = emulator_tree();
    assert!(
        files.iter().any(|(p, _)| p.ends_with("signing.rs")),
        "the tree was read"
    );
    let found = borrowed_signing_code(&files);
    assert!(found.is_empty(), "{found:#?}");
    // The check sees a borrowed signer.
    let mut tampered = files.clone();
    tampered.push((
        "emulator/payconex/evil.rs".into(),
        "use crate::providers::payconex::auth::hmac_response;\n".into(),
    ));
    assert_eq!(
        borrowed_signing_code(&tampered),
        ["emulator/payconex/evil.rs: uses ::auth"]
    );
}

#[test]
fn the_scanner_reads_grouped_imports_and_ignores_literals() {
    let code = code_only(
        "use crate::{error::{Error, Result}, ids, outcome::CardUpdate};\nlet c = '\"'; let s = \"crate::journal\"; fn f<'a>(x: &'a str) { crate::card::luhn_valid(x); }",
    );
    assert_eq!(
        imports(&code).into_iter().collect::<Vec<_>>(),
        ["card", "error", "ids", "outcome"]
    );
}

/// Every vendor folder's contract: the files each one has, and what each of them holds, so
/// that a reader finds the same thing in the same place in every vendor (and a new vendor
/// starts from that list).
const VENDOR_FILES: &[(&str, &str, &str)] = &[
    (
        "mod.rs",
        "",
        "the vendor's constants, features and re-exports",
    ),
    (
        "auth.rs",
        "",
        "credentials and how a request is signed or authorised",
    ),
    (
        "client.rs",
        "fn execute|execute_methods!",
        "the native client: one method per endpoint, each an `execute` of an operation",
    ),
    (
        "operations.rs",
        "Operation<",
        "every endpoint as a value: its request built, its answer mapped",
    ),
    (
        "response.rs",
        "fn decode_response",
        "the error mapping, in one function",
    ),
    (
        "validate.rs",
        "",
        "every input rule checked before a request",
    ),
    (
        "unified.rs",
        "impl Provider for",
        "the Provider trait on the native client",
    ),
];

/// What `vendor`'s folder (its file names and contents) lacks of the contract.
fn vendor_shape_violations(vendor: &str, files: &[(String, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, must_hold, why) in VENDOR_FILES {
        match files.iter().find(|(file, _)| file == name) {
            None => problems.push(format!("{vendor}: no {name} ({why})")),
            // `a|b`: either spelling holds the rule (a library client's generated `execute`, a
            // template's written one).
            Some((_, text))
                if !must_hold.is_empty()
                    && !must_hold.split('|').any(|m| code_only(text).contains(m)) =>
            {
                problems.push(format!("{vendor}/{name}: no `{must_hold}` ({why})"))
            }
            Some(_) => {}
        }
    }
    if !files
        .iter()
        .any(|(file, _)| file == "wire.rs" || file.starts_with("wire/"))
    {
        problems.push(format!(
            "{vendor}: no wire.rs or wire/ (the documented wire types)"
        ));
    }
    problems
}

/// The vendor folders under `src/providers/`, each with its files (paths relative to it).
fn vendor_folders() -> Vec<(String, Vec<(String, String)>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/providers");
    let mut vendors = Vec::new();
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let mut files = Vec::new();
            walk(&path, &path, &mut files);
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            vendors.push((name, files));
        }
    }
    vendors.sort();
    vendors
}

/// The vendor written outside the library, the template a new vendor starts from.
fn template_folder() -> (String, Vec<(String, String)>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/custom_provider/acme");
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    ("examples/custom_provider/acme".into(), files)
}

#[test]
fn every_vendor_folder_has_the_same_shape() {
    let mut vendors = vendor_folders();
    let names: Vec<&str> = vendors.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(names, ["accountvault", "acquired", "cardsync", "payconex"]);
    vendors.push(template_folder());
    let problems: Vec<String> = vendors
        .iter()
        .flat_map(|(vendor, files)| vendor_shape_violations(vendor, files))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn a_vendor_folder_missing_part_of_the_contract_is_reported() {
    let (_, mut files) = vendor_folders()
        .into_iter()
        .find(|(v, _)| v == "cardsync")
        .unwrap();
    files.retain(|(f, _)| f != "validate.rs" && !f.starts_with("wire"));
    for (file, text) in &mut files {
        if file == "response.rs" {
            // Only in a comment and a string: the checker reads code.
            *text = "// fn decode_response\nconst S: &str = \"fn decode_response\";".into();
        }
        if file == "client.rs" {
            // Methods that send by hand, no operation and no execute.
            *text = "pub struct CardSyncClient;\nimpl CardSyncClient { fn send(&self) {} }".into();
        }
    }
    assert_eq!(
        vendor_shape_violations("cardsync", &files),
        [
            "cardsync/client.rs: no `fn execute|execute_methods!` (the native client: one method per endpoint, each an `execute` of an operation)",
            "cardsync/response.rs: no `fn decode_response` (the error mapping, in one function)",
            "cardsync: no validate.rs (every input rule checked before a request)",
            "cardsync: no wire.rs or wire/ (the documented wire types)",
        ]
    );
}

//! The README's "Code layout" block against the tree: every file and folder it names exists,
//! so the map a new contributor reads first cannot drift from the code.

use std::path::{Path, PathBuf};

/// The block's lines: the text between "## Code layout" and the end of its first `text` fence.
fn layout_block(readme: &str) -> Vec<&str> {
    let start = readme
        .find("## Code layout")
        .expect("a Code layout section");
    readme[start..]
        .lines()
        .skip_while(|l| !l.starts_with("```text"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .collect()
}

/// Whether `pattern` (a path relative to `root`, whose components may hold one `<name>`
/// placeholder, as in `<vendor>/mod.rs` or `<crate>.txt`) names something that exists: a
/// placeholder matches any entry, and a name without an extension may be a `.rs` file.
fn exists(root: &Path, pattern: &str) -> bool {
    let mut candidates = vec![root.to_path_buf()];
    for part in pattern.trim_end_matches('/').split('/') {
        let mut next: Vec<PathBuf> = Vec::new();
        for dir in &candidates {
            match (part.find('<'), part.find('>')) {
                (Some(open), Some(close)) => {
                    let (prefix, suffix) = (&part[..open], &part[close + 1..]);
                    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                        let name = entry.file_name().to_string_lossy().into_owned();
                        if name.starts_with(prefix) && name.ends_with(suffix) {
                            next.push(entry.path());
                        }
                    }
                }
                _ => {
                    for path in [dir.join(part), dir.join(format!("{part}.rs"))] {
                        if path.exists() {
                            next.push(path);
                        }
                    }
                }
            }
        }
        candidates = next;
    }
    !candidates.is_empty()
}

/// Every entry of the block: the folder a line is under (from its indentation), then each
/// comma-separated name of its first column (names after the first sit beside it).
fn entries(block: &[&str]) -> Vec<String> {
    let mut parents: Vec<(usize, String)> = Vec::new();
    let mut found = Vec::new();
    for line in block {
        let indent = line.len() - line.trim_start().len();
        let column = line.trim_start().split("  ").next().unwrap_or("").trim();
        // Wrapped descriptions start far to the right, with no name of their own.
        if column.is_empty() || indent >= 20 {
            continue;
        }
        parents.retain(|(depth, _)| *depth < indent);
        let base: String = parents.iter().map(|(_, p)| p.as_str()).collect();
        let mut dir_of_first = String::new();
        for (i, name) in column.split(", ").enumerate() {
            let path = if i == 0 {
                dir_of_first = name
                    .rsplit_once('/')
                    .map(|(d, _)| format!("{d}/"))
                    .unwrap_or_default();
                format!("{base}{name}")
            } else {
                format!("{base}{dir_of_first}{name}")
            };
            found.push(path);
        }
        if column.ends_with('/') && !column.contains(", ") {
            parents.push((indent, column.to_owned()));
        }
    }
    found
}

#[test]
fn the_readme_code_layout_names_only_what_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let entries = entries(&layout_block(&readme));
    // The block maps the library, the three other crates, the tests and the API listings.
    for expected in [
        "src/card.rs",
        "src/providers/<vendor>/client.rs",
        "journal/",
        "cli/",
    ] {
        assert!(
            entries.iter().any(|e| e == expected),
            "{expected} not parsed: {entries:?}"
        );
    }
    let missing: Vec<&String> = entries.iter().filter(|e| !exists(root, e)).collect();
    assert!(
        missing.is_empty(),
        "the README's Code layout names what is not there: {missing:?}"
    );
}

#[test]
fn a_stale_layout_entry_is_caught() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let block = [
        "src/",
        "  card.rs, nowhere.rs              card numbers",
        "  providers/",
        "    <vendor>/gone.rs               a file no vendor has",
    ];
    let entries = entries(&block);
    assert_eq!(
        entries,
        [
            "src/",
            "src/card.rs",
            "src/nowhere.rs",
            "src/providers/",
            "src/providers/<vendor>/gone.rs"
        ]
    );
    let missing: Vec<&String> = entries.iter().filter(|e| !exists(root, e)).collect();
    assert_eq!(
        missing,
        ["src/nowhere.rs", "src/providers/<vendor>/gone.rs"]
    );
}

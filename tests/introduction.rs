//! The introduction keeps matching the book: its table of chapters is the `chapters/` folder and
//! the table of contents, and it announces nothing as still to come.

use std::collections::BTreeSet;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `(number, crate)` of each row of the introduction's table "What you will build".
fn table_rows(intro: &str) -> Vec<(String, String)> {
    let start = intro
        .find("## What you will build")
        .expect("the table's heading");
    intro[start..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let krate = cells.get(2)?.trim_matches('`');
            krate
                .starts_with("ch")
                .then(|| (cells[1].to_string(), krate.to_string()))
        })
        .collect()
}

#[test]
fn the_chapter_table_is_the_chapters_folder_and_the_table_of_contents() {
    let intro = read("book/src/introduction.md");
    let rows = table_rows(&intro);
    let crates: BTreeSet<String> = std::fs::read_dir(root().join("chapters"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let listed: BTreeSet<String> = rows.iter().map(|(_, c)| c.clone()).collect();
    assert_eq!(listed, crates, "the introduction's table against chapters/");
    for (n, c) in &rows {
        assert_eq!(
            c.get(2..4)
                .and_then(|d| d.parse::<u32>().ok())
                .map(|d| d.to_string()),
            Some(n.clone()),
            "row {n} names {c}"
        );
    }
    let summary = read("book/src/SUMMARY.md");
    for c in &crates {
        assert!(
            summary.contains(&format!("]({c}.md)")),
            "SUMMARY.md has no page for {c}"
        );
        assert!(root().join("book/src").join(format!("{c}.md")).exists());
    }
    assert!(
        !summary.contains("]()"),
        "SUMMARY.md has a draft chapter, which the introduction does not say"
    );
}

#[test]
fn the_introduction_announces_nothing_as_still_to_come() {
    let intro = read("book/src/introduction.md").to_lowercase();
    for stale in [
        "being written",
        "on the way",
        "greyed out",
        "will run",
        "not yet",
    ] {
        assert!(!intro.contains(stale), "the introduction says {stale:?}");
    }
    // The commands it names exist.
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_rnnbook"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for cmd in ["student-edition", "grade", "autograder"] {
        assert!(intro.contains(&format!("rnnbook {cmd}")), "{cmd}");
        assert!(help.contains(cmd), "rnnbook has no command {cmd}");
    }
}

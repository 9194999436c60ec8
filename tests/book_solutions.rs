//! Self-study without spoilers (instructor-only: it reads `classroom/exercises.toml`, which the
//! student edition leaves out).
//!
//! - In the public book, every line of a solution that a page shows is inside a
//!   `<details class="solution">` fold, never in the open.
//! - The student edition's book, built from its stripped sources, holds no solution line at all
//!   and folds nothing (its bodies are `todo!`s; a body written in a page is stripped too).
//!
//! A solution line is a line of a region's body that is at least 8 characters long, is not a
//! comment, and does not also appear outside every region of its file (a closing brace proves
//! nothing): the rule `tests/classroom.rs` uses for the edition's sources. A page shows code
//! from many files, so a line that appears outside the regions of any chapter source (say
//! `let hs = p.hidden_size();`) proves nothing either. Each test builds its book once.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use rnnbook::book::build_book_into;
use rnnbook::book::solutions::DETAILS_CLASS;
use rnnbook::classroom::{STUDENT_MARKER, parse_regions, read_config, tree_files};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One line of a solution: its file, its region's id and the line, trimmed.
struct SolutionLine {
    file: String,
    id: String,
    line: String,
}

/// The trimmed lines of the chapter sources that are outside every solution region.
fn lines_outside_regions() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for rel in tree_files(&root(), &[]).unwrap() {
        if !(rel.starts_with("chapters/") && rel.ends_with(".rs")) {
            continue;
        }
        let text = std::fs::read_to_string(root().join(&rel)).unwrap();
        let regions = parse_regions(&text, &rel).unwrap();
        let inside: BTreeSet<usize> = regions.iter().flat_map(|r| r.body..r.end).collect();
        out.extend(
            text.lines()
                .enumerate()
                .filter(|(n, _)| !inside.contains(n))
                .map(|(_, l)| l.trim().to_string()),
        );
    }
    out
}

/// The solution lines of every region of the files that `classroom/exercises.toml` names.
fn solution_lines() -> Vec<SolutionLine> {
    let config = read_config(&root()).unwrap();
    let files: BTreeSet<&str> = config.exercises.iter().map(|e| e.file.as_str()).collect();
    let outside = lines_outside_regions();
    let mut out = Vec::new();
    for rel in files {
        let text = std::fs::read_to_string(root().join(rel)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for r in parse_regions(&text, rel).unwrap() {
            for l in &lines[r.body..r.end] {
                let l = l.trim();
                if l.len() < 8 || l.starts_with("//") || outside.contains(l) {
                    continue;
                }
                out.push(SolutionLine {
                    file: rel.to_string(),
                    id: r.id.clone(),
                    line: l.to_string(),
                });
            }
        }
    }
    assert!(out.len() > 150, "only {} solution lines", out.len());
    out
}

/// A line of code as mdBook writes it into a page (it escapes `<`, `>` and `&` only).
fn escaped(line: &str) -> String {
    line.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `html` with every solution fold taken out.
fn without_folds(html: &str) -> String {
    let open = format!("<details class=\"{DETAILS_CLASS}\">");
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(k) = rest.find(&open) {
        out.push_str(&rest[..k]);
        let end = rest[k..]
            .find("</details>")
            .expect("a fold that is never closed");
        rest = &rest[k + end + "</details>".len()..];
    }
    out.push_str(rest);
    out
}

/// The text lines of `html`, trimmed, with every tag removed (code lines come out whole: a
/// listing's line is one line of the page, whatever spans wrap it).
fn text_lines(html: &str) -> BTreeSet<String> {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.lines().map(|l| l.trim().to_string()).collect()
}

/// Every HTML page of a built book: (file name, contents).
fn pages(html_dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(html_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "html"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    out.sort();
    assert!(
        out.len() > 10,
        "only {} pages in {}",
        out.len(),
        html_dir.display()
    );
    out
}

#[test]
fn the_public_book_shows_solution_lines_only_inside_folds() {
    let book = rnnbook::default_book_dir();
    rnnbook::figures::render_all(
        &book.join("src/figures"),
        rnnbook::figures::Drawing::Everything,
        |_| {},
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let html = out.path().join("html");
    let report = build_book_into(&book, Some(&html)).unwrap();
    // The chapters include 17 listings with a region (ch00-ch07).
    assert!(
        report.solutions_folded >= 17,
        "only {} folds",
        report.solutions_folded
    );

    let solutions = solution_lines();
    let mut folded = BTreeSet::new();
    let mut open = Vec::new();
    for (name, page) in pages(&html) {
        let all = text_lines(&page);
        let shown = text_lines(&without_folds(&page));
        for s in &solutions {
            let line = escaped(&s.line);
            if shown.contains(&line) {
                open.push(format!("{name}: ex {} ({}): {}", s.id, s.file, s.line));
            } else if all.contains(&line) {
                folded.insert((s.file.as_str(), s.line.as_str()));
            }
        }
    }
    assert!(
        open.is_empty(),
        "{} solution line(s) shown outside a fold:\n  {}",
        open.len(),
        open.join("\n  ")
    );
    // Most exercises are in a listing: the check is not vacuous.
    assert!(
        folded.len() > 100,
        "only {} solution lines found in folds",
        folded.len()
    );
    let ch04 = std::fs::read_to_string(html.join("ch04-lstm.html")).unwrap();
    assert!(ch04.contains("<summary>Show the solution to exercise 4.1</summary>"));
}

#[test]
fn the_student_editions_book_holds_no_solution_line() {
    let tmp = tempfile::tempdir().unwrap();
    let se = tmp.path().join("student");
    let run = Command::new(env!("CARGO_BIN_EXE_rnnbook"))
        .arg("student-edition")
        .arg(&se)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(se.join(STUDENT_MARKER).exists());
    let html = tmp.path().join("html");
    let report = build_book_into(&se.join("book"), Some(&html)).unwrap();
    // The included code is stripped: nothing to fold. A listing written in a page itself (the
    // teaching appendix shows a region) has its body stripped by the book builder.
    assert_eq!(report.solutions_folded, 0);

    let solutions = solution_lines();
    let mut leaked = Vec::new();
    let mut todos = 0;
    for (name, page) in pages(&html) {
        let all = text_lines(&page);
        todos += page.matches("todo!(\"ex ").count();
        for s in &solutions {
            if all.contains(&escaped(&s.line)) {
                leaked.push(format!("{name}: ex {} ({}): {}", s.id, s.file, s.line));
            }
        }
    }
    assert!(
        leaked.is_empty(),
        "{} solution line(s) in the student edition's book:\n  {}",
        leaked.len(),
        leaked.join("\n  ")
    );
    // The listings show the edition's code: the exercises as `todo!`s.
    assert!(todos >= 17, "only {todos} todo!s in the edition's book");
}

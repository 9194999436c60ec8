//! `rnnbook student-edition`: a copy of the workspace with every solution region's body replaced
//! by a `todo!` and the instructor-only tests left out.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};

use super::config::{CONFIG, read_config};
use super::regions::{SOLUTION_ONLY, parse_regions, strip_one, strip_solutions};

/// Whether `rel` (a path relative to the repository, `/`-separated) is left out of every copy:
/// build output (the fuzzers' too, with their corpora and findings), version control, the
/// figures (drawn by code, so each copy draws its own), and
/// the temporary files of an atomic write in progress (`tempfile` names them `.tmp…`; one that
/// is renamed away while the tree is walked must not fail the copy).
fn always_skipped(rel: &str) -> bool {
    let first = rel.split('/').next().unwrap_or("");
    let name = rel.rsplit('/').next().unwrap_or("");
    matches!(first, "target" | ".git")
        || [
            "fuzz/target",
            "fuzz/corpus",
            "fuzz/artifacts",
            "fuzz/coverage",
        ]
        .iter()
        .any(|p| is_under(rel, p))
        || is_under(rel, "book/build")
        || is_under(rel, "book/src/figures")
        || rel.starts_with("book/.build-staging")
        || name.starts_with(".tmp")
        || name.ends_with(".tmp")
}

fn is_under(rel: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    rel == prefix || rel.starts_with(&format!("{prefix}/"))
}

/// Every file of the tree at `root` that a copy takes, as relative `/`-separated paths, sorted.
pub fn tree_files(root: &Path, leave_out: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut it = walkdir::WalkDir::new(root).sort_by_file_name().into_iter();
    while let Some(entry) = it.next() {
        let entry = entry.with_context(|| format!("walking {}", root.display()))?;
        let rel = entry
            .path()
            .strip_prefix(root)
            .expect("under root")
            .to_string_lossy()
            .replace('\\', "/");
        if rel.is_empty() {
            continue;
        }
        if always_skipped(&rel) || leave_out.iter().any(|p| is_under(&rel, p)) {
            if entry.file_type().is_dir() {
                it.skip_current_dir();
            }
            continue;
        }
        if entry.file_type().is_file() {
            out.push(rel);
        }
    }
    Ok(out)
}

/// The line that opens a worked answer written in a page (a derivation's closed form, which
/// no solution region holds): `<details class="solution">`, closed by `</details>`, with a
/// `<summary>` that names the exercise. The public book shows it folded; the student edition
/// leaves it out ([`strip_page_answers`]).
pub const PAGE_ANSWER: &str = "<details class=\"solution\">";

/// `text` (the page `rel`) with every worked answer replaced by one line that says it is left
/// out, and how many were replaced. An answer that is not closed, that opens another
/// `<details>` inside it, or whose summary names no exercise is an error naming the page and
/// the line: better no edition than one with an answer in it.
pub fn strip_page_answers(text: &str, rel: &str) -> Result<(String, usize)> {
    let mut out = String::with_capacity(text.len());
    let mut open: Option<(usize, Option<String>)> = None;
    let mut n = 0;
    for (k, line) in text.split_inclusive('\n').enumerate() {
        let t = line.trim();
        match &mut open {
            None if t == PAGE_ANSWER => open = Some((k + 1, None)),
            None => out.push_str(line),
            Some((start, _)) if t.starts_with("<details") => {
                anyhow::bail!(
                    "{rel}:{}: a <details> inside the worked answer opened on line {start}",
                    k + 1
                )
            }
            Some((start, id)) if t == "</details>" => {
                let id = id.take().with_context(|| {
                    format!(
                        "{rel}:{start}: the worked answer's <summary> names no exercise \
                         (\"… exercise N.M</summary>\")"
                    )
                })?;
                out.push_str(&format!(
                    "*The worked answer to exercise {id} is left out of the student edition.*\n"
                ));
                n += 1;
                open = None;
            }
            Some((_, id)) => {
                if let Some(rest) = t.strip_prefix("<summary>")
                    && let Some(label) = rest.strip_suffix("</summary>")
                    && let Some((_, ex)) = label.rsplit_once("exercise ")
                {
                    *id = Some(ex.trim().to_string());
                }
            }
        }
    }
    if let Some((start, _)) = open {
        anyhow::bail!("{rel}:{start}: the worked answer opened here has no </details>");
    }
    Ok((out, n))
}

/// Copies `files` from `from` to `to`, passing the text of each `.rs` file and each page of the
/// book (`book/src/**.md`) through `edit`.
fn copy_tree(
    from: &Path,
    to: &Path,
    files: &[String],
    mut edit: impl FnMut(&str, String) -> Result<String>,
) -> Result<()> {
    for rel in files {
        let src = from.join(rel);
        let dst = to.join(rel);
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        if rel.ends_with(".rs") || (rel.starts_with("book/src/") && rel.ends_with(".md")) {
            let text = std::fs::read_to_string(&src)
                .with_context(|| format!("reading {}", src.display()))?;
            std::fs::write(&dst, edit(rel, text)?)
                .with_context(|| format!("writing {}", dst.display()))?;
        } else {
            std::fs::copy(&src, &dst)
                .with_context(|| format!("copying {} to {}", src.display(), dst.display()))?;
        }
    }
    Ok(())
}

/// `rnnbook student-edition`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct EditionOptions {
    /// Where to write it (absent or empty, unless --force).
    pub out: PathBuf,
    /// Replace the contents of a non-empty OUT that holds an earlier student edition.
    #[arg(long)]
    pub force: bool,
    /// Strip only this exercise and keep every test (for mapping tests to exercises; see
    /// classroom/map_tests.py).
    #[arg(long)]
    pub only: Option<String>,
}

/// `rnnbook student-edition OUT`: writes the edition, then the figures as the instructor's code
/// draws them, so that the edition's book is complete.
pub fn command(o: &EditionOptions) -> Result<()> {
    let pb = crate::progress::spinner("writing the student edition");
    let report = student_edition(&crate::repo_root(), &o.out, o.force, o.only.as_deref());
    pb.finish_and_clear();
    let report = report?;
    let figures_dir = o.out.join("book").join("src").join("figures");
    std::fs::create_dir_all(&figures_dir)
        .with_context(|| format!("creating {}", figures_dir.display()))?;
    let n = crate::figures::render_all(&figures_dir, crate::figures::Drawing::Everything, |_| {})?
        .len();
    println!(
        "wrote {}: {} files, {} exercises as todo!(), {} solution-only regions hidden, \
         {} worked answers left out of the pages, {n} figures",
        o.out.display(),
        report.files,
        report.exercises,
        report.solution_only,
        report.page_answers
    );
    Ok(())
}

/// The marker file that tells a tree it is a student edition.
pub const STUDENT_MARKER: &str = "STUDENT_EDITION.md";

/// Whether the tree at `root` is a student edition.
pub fn is_student_edition(root: &Path) -> bool {
    root.join(STUDENT_MARKER).exists()
}

/// What `student-edition` did.
#[derive(Debug)]
pub struct EditionReport {
    /// Files written.
    pub files: usize,
    /// Exercise regions replaced by `todo!`.
    pub exercises: usize,
    /// Solution-only regions replaced.
    pub solution_only: usize,
    /// Worked answers left out of the pages ([`strip_page_answers`]).
    pub page_answers: usize,
}

/// Writes the student edition of the tree at `root` into `out`, which must be empty or absent
/// (or is emptied first when `force`). The crates' `lib.rs` files get `#![allow(unused)]`, so
/// that the bindings a `todo!` leaves unused do not warn.
pub fn student_edition(
    root: &Path,
    out: &Path,
    force: bool,
    only: Option<&str>,
) -> Result<EditionReport> {
    let config = read_config(root)?;
    if only.is_none() {
        let leaks = super::leaks::find_leaks(root)?;
        ensure!(
            leaks.is_empty(),
            "refusing to write a student edition with answers in it:\n  {}",
            leaks
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n  ")
        );
    }
    if let Some(id) = only {
        ensure!(
            config.exercises.iter().any(|e| e.id == id),
            "--only {id}: no such exercise in {CONFIG}"
        );
    }
    if out.exists() {
        let non_empty = std::fs::read_dir(out)
            .with_context(|| format!("reading {}", out.display()))?
            .next()
            .is_some();
        if non_empty {
            ensure!(
                force,
                "{} is not empty; pass --force to replace its contents",
                out.display()
            );
            ensure!(
                out.join(STUDENT_MARKER).exists() || out.join("Cargo.toml").exists(),
                "{} is not empty and does not look like a student edition; refusing to delete it",
                out.display()
            );
            std::fs::remove_dir_all(out).with_context(|| format!("emptying {}", out.display()))?;
        }
    }
    // `--only`: a copy with every test, where only that exercise is a `todo!`.
    let leave_out = if only.is_some() {
        Vec::new()
    } else {
        config.instructor_only.clone()
    };
    let files = tree_files(root, &leave_out)?;
    let (mut exercises, mut solution_only, mut page_answers) = (0, 0, 0);
    // Build in a sibling staging folder, then rename: no half-written edition.
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".student-edition-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a staging folder in {}", parent.display()))?;
    copy_tree(root, staging.path(), &files, |rel, text| {
        if rel.ends_with(".md") {
            let (page, n) = strip_page_answers(&text, rel)?;
            page_answers += n;
            return Ok(page);
        }
        let regions = parse_regions(&text, rel)?;
        for r in &regions {
            match only {
                Some(id) if r.id != id => {}
                _ if r.id == SOLUTION_ONLY => solution_only += 1,
                _ => exercises += 1,
            }
        }
        let mut s = match only {
            None => strip_solutions(&text, rel)?,
            Some(id) => strip_one(&text, rel, id)?,
        };
        if rel.ends_with("src/lib.rs") && rel.starts_with("chapters/") {
            s = format!(
                "// Student edition: bindings that a `todo!()` leaves unused must not warn.\n#![allow(unused, unreachable_code)]\n{s}"
            );
        }
        Ok(s)
    })?;
    std::fs::write(staging.path().join(STUDENT_MARKER), STUDENT_README)
        .context("writing the student edition's marker file")?;
    let staged = staging.keep();
    if out.exists() {
        std::fs::remove_dir(out).with_context(|| format!("replacing {}", out.display()))?;
    }
    std::fs::rename(&staged, out)
        .with_context(|| format!("moving the student edition to {}", out.display()))?;
    Ok(EditionReport {
        files: files.len() + 1,
        exercises,
        solution_only,
        page_answers,
    })
}

const STUDENT_README: &str = "# Student edition\n\n\
This is the student edition of *Recurrent Networks from Scratch, in Rust*. Each exercise is a\n\
`todo!(\"ex N.M: hint\")` between the lines `// BEGIN SOLUTION ex N.M` and `// END SOLUTION`.\n\
Write your solution between those two lines and nowhere else: grading takes only what is between\n\
them (a `use` line or a helper `fn` may go inside the region too). Keep the two marker lines.\n\n\
The exercises are pure numerical code, and the grader refuses (scores 0) a region that reaches\n\
for anything else: files, input and output (`println!` too), the environment, processes,\n\
threads, the network, `unsafe`, `extern`, `static`s, modules, or macros other than `vec!`,\n\
`array!`, `s!`, `format!`, `panic!`, `todo!`, `unimplemented!`, `unreachable!`, the `assert`s\n\
and `matches!`. The book's appendix \"Teaching with this book\" lists the rules.\n\n\
- `cargo test -p ch04-lstm` runs a chapter's visible tests; an exercise's tests fail with its\n\
  `todo!` message until you solve it. The chapter pages list each exercise's tests.\n\
- `cargo run --release` builds the book into `book/build/`. Figures that need an exercise you\n\
  have not solved yet keep the copy shipped with this edition.\n";

#[cfg(test)]
mod tests {
    use super::{always_skipped, strip_page_answers};

    const PAGE: &str = "Derive it.\n\n<details class=\"solution\">\n\
        <summary>Show the answer to exercise 5.2</summary>\n\n$$J = z$$\n\n</details>\n\nAfter.\n";

    #[test]
    fn a_worked_answer_in_a_page_is_left_out_and_the_rest_kept() {
        let (out, n) = strip_page_answers(PAGE, "book/src/x.md").unwrap();
        assert_eq!(n, 1);
        assert_eq!(
            out,
            "Derive it.\n\n*The worked answer to exercise 5.2 is left out of the student \
             edition.*\n\nAfter.\n"
        );
        let plain = "No answer here.\n<details>\n<summary>Note</summary>\n</details>\n";
        assert_eq!(
            strip_page_answers(plain, "p.md").unwrap(),
            (plain.to_string(), 0)
        );
    }

    #[test]
    fn a_worked_answer_that_is_not_closed_or_names_no_exercise_is_refused() {
        let open = PAGE.replace("</details>", "");
        let e = strip_page_answers(&open, "book/src/x.md").unwrap_err();
        assert_eq!(
            e.to_string(),
            "book/src/x.md:3: the worked answer opened here has no </details>"
        );
        let anonymous = PAGE.replace("exercise 5.2", "the exercise");
        let e = strip_page_answers(&anonymous, "p.md").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("p.md:3: the worked answer's <summary> names no")
        );
        let nested = PAGE.replace("$$J = z$$", "<details>");
        let e = strip_page_answers(&nested, "p.md").unwrap_err();
        assert!(
            e.to_string().starts_with("p.md:6: a <details> inside"),
            "{e}"
        );
    }

    #[test]
    fn copies_leave_out_build_output_figures_and_temporary_files() {
        for rel in [
            "target/debug/x",
            ".git/HEAD",
            "book/build/index.html",
            "book/.build-staging-1/x",
            "book/src/figures/ch01-loss.svg",
            "book/src/figures/.tmph8xzI3",
            "chapters/ch01-rnn/src/.tmpAbC",
            "classroom/out.tmp",
            "fuzz/target/release/x.o",
            "fuzz/corpus/fixture/abc",
            "fuzz/artifacts/fixture/crash-1",
        ] {
            assert!(always_skipped(rel), "{rel} is copied");
        }
        for rel in [
            "book/src/ch01-rnn.md",
            "book/src/figures.md",
            "chapters/ch01-rnn/src/lib.rs",
            "src/figures/style.rs",
            "targets.md",
            "fuzz/regressions/fixture/x.json",
        ] {
            assert!(!always_skipped(rel), "{rel} is left out");
        }
    }
}

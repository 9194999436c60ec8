//! The classroom workflow end to end (instructor-only: the student edition leaves this file out).
//!
//! One test, in order, because every step builds Rust code and shares one target folder
//! (`target/classroom`, separate from the outer `cargo test`'s, so the two never wait on each
//! other's lock):
//!
//! 1. `rnnbook student-edition` writes the edition; no solution line leaks into it and no
//!    instructor-only file comes along;
//! 2. in the edition, `cargo build --workspace` succeeds, and exactly the configured exercise
//!    tests fail, each with its exercise's `todo!` message, while everything else passes;
//! 3. `rnnbook grade` gives the reference solution full marks, the untouched edition zero for
//!    every exercise, a submission with an infinite loop zero for that exercise within the time
//!    limit, and a submission that does not compile zero for its chapter with the compiler's
//!    error, each graded in bounded time.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rnnbook::classroom::grade::tests_by_package;
use rnnbook::classroom::{STUDENT_MARKER, parse_regions, read_config, region_bodies, tree_files};

/// Instructor-only tests are named `exN_M_…`.
fn is_instructor_test(name: &str) -> bool {
    name.strip_prefix("ex")
        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn target() -> PathBuf {
    root().join("target").join("classroom")
}

fn rnnbook(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rnnbook"))
        .args(args)
        .env("CARGO_TARGET_DIR", target())
        .output()
        .unwrap()
}

fn cargo(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(dir)
        .args(args)
        .env("CARGO_TARGET_DIR", target())
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap()
}

/// Copies the files of `from` whose relative paths are in `files` into `to`.
fn copy(from: &Path, to: &Path, files: &[String]) {
    for rel in files {
        let dst = to.join(rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(from.join(rel), dst).unwrap();
    }
}

#[test]
fn student_edition_and_grading_end_to_end() {
    let config = read_config(&root()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let se = tmp.path().join("student");

    // 1. The edition, and what it must not contain.
    let out = rnnbook(&["student-edition", se.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(se.join(STUDENT_MARKER).exists());
    for p in &config.instructor_only {
        assert!(!se.join(p).exists(), "{p} leaked into the student edition");
    }
    let again = rnnbook(&["student-edition", se.to_str().unwrap()]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "a non-empty OUT needs --force"
    );
    let mut solution_lines = 0;
    for rel in tree_files(&root(), &config.instructor_only).unwrap() {
        if !rel.ends_with(".rs") {
            continue;
        }
        let text = std::fs::read_to_string(root().join(&rel)).unwrap();
        let regions = parse_regions(&text, &rel).unwrap();
        if regions.is_empty() {
            continue;
        }
        let lines: Vec<&str> = text.lines().collect();
        let inside: BTreeSet<usize> = regions.iter().flat_map(|r| r.begin + 1..r.end).collect();
        let outside: BTreeSet<&str> = (0..lines.len())
            .filter(|n| !inside.contains(n))
            .map(|n| lines[n].trim())
            .collect();
        let student = std::fs::read_to_string(se.join(&rel)).unwrap();
        let student_lines: BTreeSet<&str> = student.lines().map(str::trim).collect();
        for n in &inside {
            let l = lines[*n].trim();
            // A line that also appears outside every region (a closing brace, say) proves nothing.
            if l.len() < 8 || l.starts_with("//") || outside.contains(l) {
                continue;
            }
            solution_lines += 1;
            assert!(
                !student_lines.contains(l),
                "{rel}: solution line leaked: {l}"
            );
        }
    }
    assert!(
        solution_lines > 150,
        "only {solution_lines} solution lines checked"
    );

    // 2. It builds; exactly the exercise tests fail.
    let build = cargo(&se, &["build", "--workspace", "--offline"]);
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in &config.exercises {
        for (pkg, names) in tests_by_package(e) {
            expected.entry(pkg).or_default().extend(names);
        }
    }
    // The root package (book builder, figures) must pass entirely.
    expected.entry("rnnbook".into()).or_default();
    for pkg in expected.keys() {
        let run = cargo(&se, &["test", "--offline", "--no-fail-fast", "-p", pkg]);
        let stdout = String::from_utf8_lossy(&run.stdout);
        let failed: BTreeSet<String> = rnnbook::classroom::parse_test_output(&stdout)
            .into_iter()
            .filter(|(_, ok)| !ok)
            .map(|(n, _)| n)
            .collect();
        // Instructor-only tests are not in the edition, so compare the visible ones only.
        let visible: BTreeSet<String> = expected[pkg]
            .iter()
            .filter(|n| !is_instructor_test(n))
            .cloned()
            .collect();
        assert_eq!(
            failed, visible,
            "{pkg}: failing tests differ from the configured ones"
        );
        assert!(
            visible.is_empty() || stdout.contains("not yet implemented: ex "),
            "{pkg}: no todo! message"
        );
    }

    // 3. Grading: four submissions.
    let subs = tmp.path().join("submissions");
    let region_files: Vec<String> = config.exercises.iter().map(|e| e.file.clone()).collect();
    copy(&root(), &subs.join("reference"), &region_files);
    copy(&se, &subs.join("untouched"), &region_files);
    // Ex 6.3 loops forever; everything else is solved.
    copy(&root(), &subs.join("looping"), &region_files);
    let threads = subs.join("looping/chapters/ch06-fused/src/threads.rs");
    let text = std::fs::read_to_string(&threads).unwrap();
    let mut bodies = region_bodies(&text, "threads.rs").unwrap();
    bodies.insert("6.3".into(), vec!["    loop {}".into()]);
    let (looped, _) = rnnbook::classroom::splice(&text, "threads.rs", &bodies).unwrap();
    std::fs::write(&threads, looped).unwrap();
    // Ex 3.1 does not compile; everything else is solved.
    copy(&root(), &subs.join("broken"), &region_files);
    let clip = subs.join("broken/chapters/ch03-clipping/src/clip.rs");
    let text = std::fs::read_to_string(&clip).unwrap();
    let mut bodies = region_bodies(&text, "clip.rs").unwrap();
    bodies.insert("3.1".into(), vec!["    not_a_function(grads)".into()]);
    let (broken, _) = rnnbook::classroom::splice(&text, "clip.rs", &bodies).unwrap();
    std::fs::write(&clip, broken).unwrap();

    let csv = tmp.path().join("grades.csv");
    let start = Instant::now();
    let out = rnnbook(&[
        "grade",
        subs.to_str().unwrap(),
        "--out",
        csv.to_str().unwrap(),
        "--timeout",
        "30",
        "--target-dir",
        target().to_str().unwrap(),
    ]);
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < Duration::from_secs(1800), "grading took {took:?}");
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(csv.with_extension("json")).unwrap())
            .unwrap();
    let row = |student: &str, ex: &str| {
        rows.iter()
            .find(|r| r["student"] == student && r["exercise"] == ex)
            .unwrap_or_else(|| panic!("no row for {student} ex {ex}"))
            .clone()
    };
    for e in &config.exercises {
        let r = row("reference", &e.id);
        assert_eq!(r["passed"], r["total"], "reference ex {}: {r}", e.id);
        assert_eq!(
            r["points"].as_f64(),
            Some(e.points),
            "reference ex {}",
            e.id
        );
        let u = row("untouched", &e.id);
        assert_eq!(u["passed"], 0, "untouched ex {}: {u}", e.id);
        assert_eq!(u["points"].as_f64(), Some(0.0));
    }
    let l = row("looping", "6.3");
    assert_eq!(l["points"].as_f64(), Some(0.0), "{l}");
    assert!(l["error"].as_str().unwrap().contains("timed out"), "{l}");
    assert_eq!(
        row("looping", "6.2")["passed"],
        row("looping", "6.2")["total"]
    );
    for ex in ["3.1", "3.2", "3.3"] {
        let b = row("broken", ex);
        assert_eq!(b["points"].as_f64(), Some(0.0), "{b}");
        assert!(
            b["error"].as_str().unwrap().contains("not_a_function"),
            "{b}"
        );
    }
    // Chapter 1 does not depend on chapter 3: full marks. Exercise 2.1 also lists two chapter-3
    // tests (they need its gradients), which cannot run when chapter 3 does not compile.
    assert_eq!(
        row("broken", "1.2")["passed"],
        row("broken", "1.2")["total"]
    );
    let b21 = row("broken", "2.1");
    assert_eq!(
        b21["passed"].as_u64().unwrap() + 2,
        b21["total"].as_u64().unwrap(),
        "{b21}"
    );
    assert!(
        b21["error"]
            .as_str()
            .unwrap()
            .contains("ch03-clipping does not compile"),
        "{b21}"
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("student,exercise,passed,total,points,max_points,error\n"));
    assert_eq!(text.lines().count(), 1 + 4 * config.exercises.len());
}

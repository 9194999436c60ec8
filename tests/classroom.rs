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
use rnnbook::classroom::sandbox::{SLOT_UID_BASE, Sandbox, SandboxMode};
use rnnbook::classroom::{
    STUDENT_MARKER, is_instructor_test, parse_regions, read_config, region_bodies, tree_files,
};

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
        let inside: BTreeSet<usize> = regions.iter().flat_map(|r| r.body..r.end).collect();
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
    // The pages' worked answers to the derivation exercises are left out too.
    for (page, id) in [("ch04-lstm.md", "4.4"), ("ch05-gru.md", "5.2")] {
        let public = std::fs::read_to_string(root().join("book/src").join(page)).unwrap();
        let student = std::fs::read_to_string(se.join("book/src").join(page)).unwrap();
        assert!(public.contains(&format!("Show the answer to exercise {id}")));
        assert!(!student.contains("<details class=\"solution\">"), "{page}");
        assert!(
            student.contains(&format!(
                "The worked answer to exercise {id} is left out of the student edition."
            )),
            "{page}"
        );
    }

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

    // 3. Grading, with the static check: the reference, the edition with edits outside the
    //    regions, an infinite loop, a compile error, and a submission every region of which the
    //    static check refuses.
    let subs = tmp.path().join("submissions");
    let region_files: Vec<String> = config.exercises.iter().map(|e| e.file.clone()).collect();
    copy(&root(), &subs.join("reference"), &region_files);
    // The untouched edition, but every line outside the regions that asserts anything is gone
    // and a build script comes along: only the region bodies of a submission are ever used.
    copy(&se, &subs.join("edited-outside"), &region_files);
    for rel in &region_files {
        let path = subs.join("edited-outside").join(rel);
        let text = std::fs::read_to_string(&path).unwrap();
        let inside: BTreeSet<usize> = parse_regions(&text, rel)
            .unwrap()
            .iter()
            .flat_map(|r| r.begin..=r.end)
            .collect();
        let edited: Vec<&str> = text
            .lines()
            .enumerate()
            .map(|(n, l)| {
                if !inside.contains(&n) && l.contains("assert") {
                    "// removed"
                } else {
                    l
                }
            })
            .collect();
        std::fs::write(&path, edited.join("\n")).unwrap();
    }
    std::fs::write(
        subs.join("edited-outside/chapters/ch00-foundations/build.rs"),
        "fn main() { std::process::exit(1) }\n",
    )
    .unwrap();
    with_bodies(
        &subs.join("reference"),
        &subs.join("looping"),
        &[("6.3", vec!["    loop {}".into()])],
    );
    with_bodies(
        &subs.join("reference"),
        &subs.join("broken"),
        &[("3.1", vec!["    not_a_function(grads)".into()])],
    );
    // One forbidden construct per exercise, each with what the finding must name.
    let refused: Vec<(&str, &str, &str)> = vec![
        ("0.1", "std::process::exit(0);", "process control"),
        ("0.2", "println!(\"test ex0_2 ... ok\");", "println!"),
        (
            "0.3",
            "let _ = std::env::var(\"RNNBOOK_GRADER_NONCE\");",
            "the environment",
        ),
        ("0.4", "let _ = std::env::args();", "the environment"),
        (
            "1.1",
            "let _ = std::thread::current().name().map(String::from);",
            "threads",
        ),
        (
            "1.2",
            "let _ = include_str!(\"../tests/instructor/main.rs\");",
            "include_str!",
        ),
        (
            "2.1",
            "let _ = std::fs::read_to_string(\"tests/instructor/main.rs\");",
            "files",
        ),
        (
            "2.2",
            "let _ = std::fs::write(\"grades.csv\", \"x\");",
            "files",
        ),
        (
            "3.1",
            "let _ = std::net::TcpStream::connect(\"127.0.0.1:1\");",
            "the network",
        ),
        (
            "3.2",
            "let _ = std::process::Command::new(\"sh\").status();",
            "process control",
        ),
        ("3.3", "std::process::abort();", "process control"),
        ("4.1", "use std::io::Write as _;", "input and output"),
        (
            "4.2",
            "unsafe { core::hint::unreachable_unchecked() }",
            "`unsafe`",
        ),
        (
            "4.3",
            "std::panic::set_hook(Box::new(|_| {}));",
            "panic hooks",
        ),
        (
            "4.4",
            "let _ = std::os::raw::c_int::MAX;",
            "the operating system",
        ),
        ("5.1", "extern \"C\" { fn exit(c: i32); }", "`extern` block"),
        (
            "5.2",
            "let _ = std::ffi::CString::new(\"x\");",
            "foreign functions",
        ),
        ("6.1", "#[cfg(test)] let _x = 1;", "#[cfg]"),
        ("6.2", "static LEAK: u8 = 0;", "`static`"),
        (
            "6.3",
            "let _ = std::backtrace::Backtrace::force_capture();",
            "backtraces",
        ),
        ("7.1", "let _ = env!(\"HOME\");", "env!"),
        ("7.2", "mod m {}", "a module"),
    ];
    let ids: BTreeSet<&str> = config.exercises.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        refused.iter().map(|r| r.0).collect::<BTreeSet<_>>(),
        "one refused construct per exercise"
    );
    let bodies: Vec<(&str, Vec<String>)> = refused
        .iter()
        .map(|(id, line, _)| {
            let mut b = vec![format!("    {line}")];
            b.extend(reference_body(id));
            (*id, b)
        })
        .collect();
    with_bodies(&subs.join("reference"), &subs.join("refused"), &bodies);

    let work = target().join("grade-work");
    let csv = tmp.path().join("grades.csv");
    let start = Instant::now();
    let out = rnnbook(&[
        "grade",
        subs.to_str().unwrap(),
        "--out",
        csv.to_str().unwrap(),
        "--timeout",
        "30",
        "--work-dir",
        work.to_str().unwrap(),
    ]);
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < Duration::from_secs(1800), "grading took {took:?}");
    let rows = read_rows(&csv);
    let row = |student: &str, ex: &str| row(&rows, student, ex);
    for e in &config.exercises {
        let r = row("reference", &e.id);
        assert_eq!(r["passed"], r["total"], "reference ex {}: {r}", e.id);
        assert_eq!(
            r["points"].as_f64(),
            Some(e.points),
            "reference ex {}",
            e.id
        );
        for student in ["edited-outside", "refused"] {
            let u = row(student, &e.id);
            assert_eq!(u["passed"], 0, "{student} ex {}: {u}", e.id);
            assert_eq!(u["points"].as_f64(), Some(0.0));
        }
    }
    for (id, _, what) in &refused {
        let r = row("refused", id);
        let error = r["error"].as_str().unwrap();
        assert!(
            error.starts_with(&format!("refused by the static check: ex {id} uses "))
                && error.contains(what)
                && error.contains("at line 1 of the region"),
            "{r}"
        );
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
    assert_eq!(text.lines().count(), 1 + 5 * config.exercises.len());

    // 4. Without the static check, in the sandbox: each attack earns nothing it did not solve
    //    and leaves no trace outside the slot's scratch folder.
    match Sandbox::detect(SandboxMode::Required) {
        Ok(_) => {
            attacks_without_the_static_check(&config, tmp.path(), &subs.join("reference"), &work)
        }
        Err(e) => {
            assert!(
                std::env::var_os("RNNBOOK_REQUIRE_SANDBOX").is_none(),
                "RNNBOOK_REQUIRE_SANDBOX is set, but: {e:#}"
            );
            eprintln!("skipping the attacks without the static check: no sandbox here ({e:#})");
        }
    }

    // 5. Gradescope's bundle, unpacked as Gradescope lays it out, grades a submission.
    gradescope_bundle_grades_a_submission(&config, tmp.path(), &subs.join("reference"), &work);

    // 6. GitHub Classroom's workflow in the edition: valid, and each step's command, run in the
    //    checkout as the runner runs it, passes exactly when its exercise is solved.
    github_classroom_steps(&config, &se);
}

/// The fields Gradescope's specification documents for results.json, and for one test.
const GRADESCOPE_FIELDS: [&str; 11] = [
    "score",
    "execution_time",
    "output",
    "output_format",
    "test_output_format",
    "test_name_format",
    "visibility",
    "stdout_visibility",
    "extra_data",
    "tests",
    "leaderboard",
];
const GRADESCOPE_TEST_FIELDS: [&str; 11] = [
    "score",
    "max_score",
    "status",
    "name",
    "name_format",
    "number",
    "output",
    "output_format",
    "tags",
    "visibility",
    "extra_data",
];
const VISIBILITIES: [&str; 4] = ["hidden", "after_due_date", "after_published", "visible"];

fn gradescope_bundle_grades_a_submission(
    config: &rnnbook::classroom::ClassroomConfig,
    tmp: &Path,
    reference: &Path,
    work: &Path,
) {
    use rnnbook::classroom::platforms::GRADESCOPE_SCRIPTS;
    let zip_path = tmp.join("autograder.zip");
    let out = rnnbook(&["autograder", "gradescope", zip_path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let names: BTreeSet<String> = (0..archive.len())
        .map(|i| archive.by_index(i).unwrap().name().unwrap().to_string())
        .collect();
    let mut expected: BTreeSet<String> = tree_files(&root(), &[]).unwrap().into_iter().collect();
    expected.extend(GRADESCOPE_SCRIPTS.map(String::from));
    assert_eq!(
        names, expected,
        "the bundle is the whole tree and the two scripts"
    );
    for s in GRADESCOPE_SCRIPTS {
        let mode = archive.by_name(s).unwrap().unix_mode().unwrap();
        assert_eq!(mode & 0o777, 0o755, "{s}");
    }
    // Gradescope extracts the zip into /autograder/source, copies run_autograder to
    // /autograder, puts the submission in /autograder/submission and runs the script there.
    let ag = tmp.join("autograder");
    archive.extract(ag.join("source")).unwrap();
    for s in GRADESCOPE_SCRIPTS {
        let check = Command::new("bash")
            .arg("-n")
            .arg(ag.join("source").join(s))
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{s}: {}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
    assert!(
        std::fs::read_to_string(ag.join("source/setup.sh"))
            .unwrap()
            .contains(&format!("--default-toolchain {}", toolchain_channel()))
    );
    std::fs::copy(ag.join("source/run_autograder"), ag.join("run_autograder")).unwrap();
    // Uploaded as a zipped folder: the tree is one level down.
    let files: Vec<String> = config.exercises.iter().map(|e| e.file.clone()).collect();
    copy(reference, &ag.join("submission/my-rnnbook"), &files);
    let run = Command::new(ag.join("run_autograder"))
        .current_dir(&ag)
        .env("RNNBOOK_AUTOGRADER_ROOT", &ag)
        .env("RNNBOOK_BIN", env!("CARGO_BIN_EXE_rnnbook"))
        .env("RNNBOOK_WORK_DIR", work)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ag.join("results/results.json")).unwrap())
            .unwrap();
    for (k, _) in results.as_object().unwrap() {
        assert!(
            GRADESCOPE_FIELDS.contains(&k.as_str()),
            "undocumented field {k}"
        );
    }
    for k in ["visibility", "stdout_visibility"] {
        assert!(VISIBILITIES.contains(&results[k].as_str().unwrap()), "{k}");
    }
    let tests = results["tests"].as_array().unwrap();
    assert_eq!(
        tests.len(),
        config.exercises.len(),
        "one test entry per exercise"
    );
    let mut total = 0.0;
    for (t, e) in tests.iter().zip(&config.exercises) {
        for (k, _) in t.as_object().unwrap() {
            assert!(
                GRADESCOPE_TEST_FIELDS.contains(&k.as_str()),
                "undocumented field {k}"
            );
        }
        assert_eq!(t["name"], format!("Exercise {}", e.id));
        assert_eq!(t["max_score"].as_f64(), Some(e.points));
        assert_eq!(t["score"].as_f64(), Some(e.points), "{t}");
        assert!(t["output"].is_string());
        total += e.points;
    }
    assert_eq!(results["score"].as_f64(), Some(total));
}

fn toolchain_channel() -> String {
    let text = std::fs::read_to_string(root().join("rust-toolchain.toml")).unwrap();
    let v: toml::Value = toml::from_str(&text).unwrap();
    v["toolchain"]["channel"].as_str().unwrap().to_string()
}

fn github_classroom_steps(config: &rnnbook::classroom::ClassroomConfig, se: &Path) {
    use rnnbook::classroom::platforms::{GITHUB_WORKFLOW, github_command, step_id};
    use yaml_rust2::{Yaml, YamlLoader};
    let out = rnnbook(&["autograder", "github-classroom", se.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(se.join(GITHUB_WORKFLOW)).unwrap();
    let docs = YamlLoader::load_from_str(&text).unwrap();
    let w = &docs[0];
    assert!(
        w["on"]
            .as_vec()
            .unwrap()
            .contains(&Yaml::String("push".into()))
    );
    assert_eq!(w["permissions"]["checks"].as_str(), Some("write"));
    let job = &w["jobs"]["run-autograding-tests"];
    assert_eq!(job["runs-on"].as_str(), Some("ubuntu-latest"));
    let steps = job["steps"].as_vec().unwrap();
    assert_eq!(steps[0]["uses"].as_str(), Some("actions/checkout@v4"));
    let graders: Vec<&Yaml> = steps
        .iter()
        .filter(|s| s["uses"].as_str() == Some("classroom-resources/autograding-command-grader@v1"))
        .collect();
    let graded: Vec<&rnnbook::classroom::Exercise> = config
        .exercises
        .iter()
        .filter(|e| github_command(e).is_some())
        .collect();
    assert!(
        graded.len() >= 15,
        "only {} exercises have visible tests",
        graded.len()
    );
    assert_eq!(graders.len(), graded.len());
    let mut ids = Vec::new();
    for (g, e) in graders.iter().zip(&graded) {
        let id = g["id"].as_str().unwrap();
        assert_eq!(id, step_id(&e.id));
        let with = &g["with"];
        assert_eq!(
            with["test-name"].as_str(),
            Some(format!("Exercise {}", e.id).as_str())
        );
        assert_eq!(with["command"].as_str(), github_command(e).as_deref());
        assert!(
            with["timeout"]
                .as_i64()
                .is_some_and(|t| (1..=360).contains(&t))
        );
        let max = with["max-score"]
            .as_i64()
            .map(|m| m as f64)
            .or(with["max-score"].as_f64());
        assert_eq!(max, Some(e.points), "ex {}", e.id);
        ids.push(id.to_string());
    }
    let reporter = steps.last().unwrap();
    assert_eq!(
        reporter["uses"].as_str(),
        Some("classroom-resources/autograding-grading-reporter@v1")
    );
    assert_eq!(
        reporter["with"]["runners"].as_str(),
        Some(ids.join(",").as_str())
    );
    for id in &ids {
        let key = format!("{}_RESULTS", id.to_uppercase());
        assert_eq!(
            reporter["env"][key.as_str()].as_str(),
            Some(format!("${{{{steps.{id}.outputs.result}}}}").as_str())
        );
    }
    // The runner checks the repository out and runs each command there.
    let step = |cmd: &str| {
        Command::new("bash")
            .arg("-c")
            .arg(cmd)
            .current_dir(se)
            .env("CARGO_TARGET_DIR", target())
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap()
    };
    for e in &graded {
        let run = step(&github_command(e).unwrap());
        assert!(
            !run.status.success(),
            "ex {} passes in the untouched edition",
            e.id
        );
    }
    let e = config.exercises.iter().find(|e| e.id == "0.1").unwrap();
    let path = se.join(&e.file);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut bodies = region_bodies(&text, &e.file).unwrap();
    bodies.insert("0.1".into(), reference_body("0.1"));
    let (solved, _) = rnnbook::classroom::splice(&text, &e.file, &bodies).unwrap();
    std::fs::write(&path, solved).unwrap();
    let run = step(&github_command(e).unwrap());
    assert!(
        run.status.success(),
        "ex 0.1 solved, but its step fails: {}",
        String::from_utf8_lossy(&run.stdout)
    );
}

/// The instructor's body of exercise `id`.
fn reference_body(id: &str) -> Vec<String> {
    let config = read_config(&root()).unwrap();
    let e = config.exercises.iter().find(|e| e.id == id).unwrap();
    let text = std::fs::read_to_string(root().join(&e.file)).unwrap();
    region_bodies(&text, &e.file).unwrap().remove(id).unwrap()
}

/// Copies submission `from` to `to` with the given exercises' bodies replaced.
fn with_bodies(from: &Path, to: &Path, bodies: &[(&str, Vec<String>)]) {
    let config = read_config(&root()).unwrap();
    let files: Vec<String> = config.exercises.iter().map(|e| e.file.clone()).collect();
    copy(from, to, &files);
    for (id, body) in bodies {
        let e = config.exercises.iter().find(|e| e.id == *id).unwrap();
        let path = to.join(&e.file);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut all = region_bodies(&text, &e.file).unwrap();
        all.insert(id.to_string(), body.clone());
        let (spliced, missing) = rnnbook::classroom::splice(&text, &e.file, &all).unwrap();
        assert!(missing.is_empty());
        std::fs::write(&path, spliced).unwrap();
    }
}

fn read_rows(csv: &Path) -> Vec<serde_json::Value> {
    serde_json::from_str(&std::fs::read_to_string(csv.with_extension("json")).unwrap()).unwrap()
}

fn row(rows: &[serde_json::Value], student: &str, ex: &str) -> serde_json::Value {
    rows.iter()
        .find(|r| r["student"] == student && r["exercise"] == ex)
        .unwrap_or_else(|| panic!("no row for {student} ex {ex}"))
        .clone()
}

/// Processes left running by a slot's user (the grader runs tests as one when root), or by the
/// attack below (`sleep 612`).
fn left_behind() -> Vec<String> {
    let mut left = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|u| u.parse::<u32>().ok());
        if uid.is_some_and(|u| (SLOT_UID_BASE..SLOT_UID_BASE + 256).contains(&u))
            || cmdline.ends_with(b"sleep\x00612\x00")
        {
            left.push(String::from_utf8_lossy(&cmdline).replace('\0', " "));
        }
    }
    left
}

/// One submission, graded with `--skip-static-check --sandbox required`, whose regions attack
/// the grader; every other region is the reference.
fn attacks_without_the_static_check(
    config: &rnnbook::classroom::ClassroomConfig,
    tmp: &Path,
    reference: &Path,
    work: &Path,
) {
    let names = |id: &str| -> Vec<String> {
        let e = config.exercises.iter().find(|e| e.id == id).unwrap();
        tests_by_package(e).into_values().flatten().collect()
    };
    let fake_lines = |id: &str| -> Vec<String> {
        let mut v = vec!["    {".to_string()];
        for n in names(id) {
            v.push(format!("        println!(\"test {n} ... ok\");"));
            v.push(format!("        eprintln!(\"test {n} ... ok\");"));
        }
        v.push("        println!(\"rnnbook-grader-sentinel 0\");".into());
        v.push("        println!(\"test result: ok. 9 passed; 0 failed; 0 ignored\");".into());
        v.push("    }".into());
        v
    };
    let subs = tmp.join("attacks");
    let out_dir = tmp.join("grades-of-the-attacks");
    std::fs::create_dir_all(&out_dir).unwrap();
    let csv = out_dir.join("grades.csv");
    let victim = subs.join("victim");
    copy(reference, &victim, &[config.exercises[0].file.clone()]);
    let victim_file = victim.join(&config.exercises[0].file);
    let victim_before = std::fs::read(&victim_file).unwrap();
    let marker = "rnnbook-attack-marker";
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let outside_markers: Vec<PathBuf> = vec![
        out_dir.join(marker),
        victim.join(marker),
        root().join(marker),
        work.join(marker),
        std::env::temp_dir().join(marker),
    ];

    let mut bodies: Vec<(&str, Vec<String>)> = Vec::new();
    // Fake result lines on both streams, then success before the harness's own verdict.
    let mut b = fake_lines("0.1");
    b.push("    std::process::exit(0)".into());
    bodies.push(("0.1", b));
    // Fake result lines, then an abort.
    let mut b = fake_lines("0.2");
    b.push("    std::process::abort()".into());
    bodies.push(("0.2", b));
    // A panic whose message looks like the harness's output.
    let lines: String = names("0.3")
        .iter()
        .map(|n| format!("\\ntest {n} ... ok"))
        .collect();
    bodies.push((
        "0.3",
        vec![format!(
            "    panic!(\"{lines}\\n\\ntest result: ok. 3 passed; 0 failed\\nrnnbook-grader-sentinel 0\\n\")"
        )],
    ));
    // Reading the instructor-only tests at run time, to leak them through the error column;
    // when nothing can be read, the region is the reference (so it scores).
    let secret_paths = [
        "tests/instructor/main.rs".to_string(),
        root()
            .join("chapters/ch00-foundations/tests/instructor/main.rs")
            .display()
            .to_string(),
        root()
            .join("classroom/exercises.toml")
            .display()
            .to_string(),
        work.join("slot-0/tree/chapters/ch00-foundations/tests/instructor/main.rs")
            .display()
            .to_string(),
    ];
    let mut b = Vec::new();
    for p in &secret_paths {
        b.push(format!(
            "    if let Ok(s) = std::fs::read_to_string({p:?}) {{ panic!(\"LEAK {{s}}\") }}"
        ));
    }
    b.extend(reference_body("0.4"));
    bodies.push(("0.4", b));
    // Writing to the grades, another submission, the repository, the work folder and the
    // temporary folder, directly and through a shell: the region is the reference only if one
    // of the writes worked, so it fails its tests when none did.
    let mut targets: Vec<String> = outside_markers
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    targets.push(csv.display().to_string());
    targets.push(victim_file.display().to_string());
    let mut b = vec!["    let mut wrote = false;".to_string()];
    for p in &targets {
        b.push(format!(
            "    wrote |= std::fs::write({p:?}, \"x\").is_ok();"
        ));
        b.push(format!(
            "    wrote |= std::process::Command::new(\"/bin/sh\").arg(\"-c\").arg({:?}).status().is_ok_and(|s| s.success());",
            format!("echo x > '{p}'")
        ));
    }
    b.push("    assert!(wrote, \"no write outside the scratch folder worked\");".into());
    b.extend(reference_body("1.2"));
    bodies.push(("1.2", b));
    // The network: the reference only if a connection to the host worked.
    let mut b = vec![format!(
        "    assert!(std::net::TcpStream::connect_timeout(&std::net::SocketAddr::from(([127, 0, 0, 1], {port})), std::time::Duration::from_secs(2)).is_ok(), \"no network\");"
    )];
    b.extend(reference_body("2.2"));
    bodies.push(("2.2", b));
    // Processes without limit (10 000 that outlive the test): the reference only if all started.
    let mut b = vec![
        "    static FORKS: std::sync::Once = std::sync::Once::new();".to_string(),
        "    FORKS.call_once(|| {".into(),
        "        let started = (0..10_000).take_while(|_| std::process::Command::new(\"/bin/sleep\").arg(\"612\").spawn().is_ok()).count();".into(),
        "        assert_eq!(started, 10_000, \"processes are limited\");".into(),
        "    });".into(),
    ];
    b.extend(reference_body("3.3"));
    bodies.push(("3.3", b));
    // The instructor-only tests at compile time (chapter 7 is a leaf: nothing else fails).
    let mut b = vec![
        "    let leak = include_str!(\"../tests/instructor/main.rs\");".to_string(),
        "    assert!(leak.is_empty(), \"LEAK {leak}\");".to_string(),
    ];
    b.extend(reference_body("7.2"));
    bodies.push(("7.2", b));
    with_bodies(reference, &subs.join("attacker"), &bodies);

    let out = rnnbook(&[
        "grade",
        subs.to_str().unwrap(),
        "--out",
        csv.to_str().unwrap(),
        "--timeout",
        "30",
        "--work-dir",
        work.to_str().unwrap(),
        "--sandbox",
        "required",
        "--skip-static-check",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = read_rows(&csv);
    let row = |ex: &str| row(&rows, "attacker", ex);
    for id in ["0.1", "0.2", "0.3", "1.2", "2.2", "3.3", "7.2"] {
        let r = row(id);
        assert_eq!(r["passed"], 0, "ex {id}: {r}");
    }
    assert!(
        row("0.1")["error"]
            .as_str()
            .unwrap()
            .contains("without the test harness's verdict"),
        "{}",
        row("0.1")
    );
    assert!(
        row("7.2")["error"]
            .as_str()
            .unwrap()
            .contains("ch07-experiments does not compile")
    );
    // Nothing was read: the reference after the attempts passed, and no error holds a secret.
    // (Its tests in other chapters may fail with the attacks there: count those of chapter 0.)
    let e04 = config.exercises.iter().find(|e| e.id == "0.4").unwrap();
    let in_ch00 = tests_by_package(e04)["ch00-foundations"].len() as u64;
    assert!(
        row("0.4")["passed"].as_u64().unwrap() >= in_ch00,
        "{}",
        row("0.4")
    );
    let mut secret = String::new();
    for ch in ["ch00-foundations", "ch07-experiments"] {
        let p = root()
            .join("chapters")
            .join(ch)
            .join("tests/instructor/main.rs");
        secret += &std::fs::read_to_string(p).unwrap();
    }
    let secret_lines: Vec<&str> = secret
        .lines()
        .map(str::trim)
        .filter(|l| l.len() > 20 && !l.starts_with("//") && !l.starts_with("use "))
        .collect();
    for r in &rows {
        let error = r["error"].as_str().unwrap();
        assert!(!error.contains("LEAK"), "{r}");
        for l in &secret_lines {
            assert!(!error.contains(l), "{r} leaks {l}");
        }
    }
    // Nothing was written: the grades are the grader's, the other submission is as it was,
    // and no marker exists outside the slots.
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("student,exercise,passed,total,points,max_points,error\n"));
    assert_eq!(std::fs::read(&victim_file).unwrap(), victim_before);
    for p in &outside_markers {
        assert!(!p.exists(), "{} was written", p.display());
    }
    for (id, why) in [
        ("1.2", "no write outside the scratch folder worked"),
        ("2.2", "no network"),
        ("3.3", "processes are limited"),
    ] {
        let r = row(id);
        assert!(r["error"].as_str().unwrap().contains(why), "ex {id}: {r}");
    }
    // No connection arrived; no process is left.
    assert!(listener.accept().is_err(), "a test connected to the host");
    assert_eq!(left_behind(), Vec::<String>::new());
}

//! `rnnbook autograder`: the grader, packed for the platforms courses already use.
//!
//! - **Gradescope** ([`gradescope_bundle`]): a zip of the instructor's tree with Gradescope's
//!   `setup.sh` (installs Rust and bubblewrap, builds `rnnbook`, fetches and compiles every
//!   dependency by grading the reference once) and `run_autograder` (grades
//!   `/autograder/submission` with `rnnbook grade --one` and writes
//!   `/autograder/results/results.json`: one test entry per exercise).
//! - **GitHub Classroom** ([`github_workflow`]): `.github/workflows/classroom.yml` for a student
//!   edition, one `autograding-command-grader` step per exercise, each running that exercise's
//!   visible tests through `.github/classroom/check.sh`, which passes only when every named test
//!   ran and passed. GitHub Classroom runs in the student's own repository, so it cannot keep the
//!   instructor-only tests secret, and a student can edit the workflow: its scores are feedback.
//!   Grades that must hold come from `rnnbook grade` (or Gradescope).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};

use super::config::{ClassroomConfig, is_instructor_test, read_config};
use super::edition::{is_student_edition, tree_files};
use super::grade::tests_by_package;
use ch00_foundations::files::write_atomic;

/// `rnnbook autograder`'s platforms.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Platform {
    /// Write a Gradescope autograder bundle: the zip to upload as a programming assignment's
    /// autograder ("Zip file upload"). It grades each submission with `rnnbook grade --one`.
    Gradescope(GradescopeOptions),
    /// Write GitHub Classroom's autograding workflow into a student edition (before it becomes
    /// the assignment's template repository). It runs the visible tests only.
    GithubClassroom(GithubOptions),
}

/// Options of `rnnbook autograder gradescope`.
#[derive(Debug, Clone, clap::Args)]
pub struct GradescopeOptions {
    /// The zip to write.
    pub out: PathBuf,
    /// Time limit in seconds for one exercise's tests.
    #[arg(long = "timeout", value_name = "SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_secs: u64,
}

/// Options of `rnnbook autograder github-classroom`.
#[derive(Debug, Clone, clap::Args)]
pub struct GithubOptions {
    /// The student edition (written by `rnnbook student-edition`) to add the workflow to.
    pub edition: PathBuf,
    /// Minutes one exercise's step may take on GitHub's runner.
    #[arg(long, value_name = "MINUTES", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=360))]
    pub timeout_minutes: u64,
}

/// The files of a Gradescope bundle besides the instructor's tree.
pub const GRADESCOPE_SCRIPTS: [&str; 2] = ["setup.sh", "run_autograder"];

/// Where GitHub Classroom's files go in the student edition.
pub const GITHUB_WORKFLOW: &str = ".github/workflows/classroom.yml";
/// The script each step runs.
pub const GITHUB_CHECK: &str = ".github/classroom/check.sh";

/// The toolchain `rust-toolchain.toml` pins.
fn toolchain(root: &Path) -> Result<String> {
    let path = root.join("rust-toolchain.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let value: toml::Value =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    value
        .get("toolchain")
        .and_then(|t| t.get("channel"))
        .and_then(|c| c.as_str())
        .map(str::to_string)
        .with_context(|| format!("{} names no toolchain.channel", path.display()))
}

/// Gradescope's `setup.sh`.
pub fn gradescope_setup(toolchain: &str) -> String {
    format!(
        r#"#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image.
# Written by `rnnbook autograder gradescope`; see the book's appendix "Teaching with this book".
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends build-essential ca-certificates curl bubblewrap util-linux
if ! command -v cargo >/dev/null && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
        sh -s -- -y --profile minimal --default-toolchain {toolchain}
fi
. "$HOME/.cargo/env"
cd /autograder/source
cargo fetch --locked
cargo build --release --locked
# Grade the instructor's own solutions once: every dependency is compiled now, so that grading
# a submission is offline and rebuilds only what the submission changed.
./target/release/rnnbook grade --one /autograder/source --out /autograder/warm-up.csv \
    --work-dir /autograder/rnnbook-work --jobs 1
"#
    )
}

/// Gradescope's `run_autograder`.
pub fn gradescope_run(timeout_secs: u64) -> String {
    format!(
        r#"#!/usr/bin/env bash
# Gradescope runs this for every submission, in /autograder.
# Written by `rnnbook autograder gradescope`. To try the bundle elsewhere, RNNBOOK_AUTOGRADER_ROOT
# replaces /autograder, RNNBOOK_BIN the grader and RNNBOOK_WORK_DIR its work folder.
set -uo pipefail
root="${{RNNBOOK_AUTOGRADER_ROOT:-/autograder}}"
if [ -f "$HOME/.cargo/env" ]; then . "$HOME/.cargo/env"; fi
bin="${{RNNBOOK_BIN:-$root/source/target/release/rnnbook}}"
work="${{RNNBOOK_WORK_DIR:-$root/rnnbook-work}}"
submission="$root/submission"
# A submission uploaded as a zipped folder has its tree one level down.
if [ ! -d "$submission/chapters" ]; then
    for d in "$submission"/*/; do
        if [ -d "$d/chapters" ]; then
            submission="${{d%/}}"
            break
        fi
    done
fi
mkdir -p "$root/results"
cd "$root/source" || exit 1
if ! "$bin" grade --one "$submission" --out "$root/results/grades.csv" \
    --gradescope "$root/results/results.json" --work-dir "$work" --jobs 1 \
    --timeout {timeout_secs}; then
    cat >"$root/results/results.json" <<'JSON'
{{"score": 0, "output": "The grader could not grade this submission. The course staff can read why in the autograder's output.", "visibility": "visible", "stdout_visibility": "hidden", "tests": []}}
JSON
fi
"#
    )
}

/// The bundle: the instructor's tree (everything a grade needs, instructor-only tests included)
/// with the two scripts at the root, as Gradescope extracts it into `/autograder/source`.
pub fn gradescope_bundle(root: &Path, timeout_secs: u64) -> Result<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let files = tree_files(root, &[])?;
    for s in GRADESCOPE_SCRIPTS {
        ensure!(
            !files.iter().any(|f| f == s),
            "the tree has a file {s} of its own, which the bundle's {s} would replace"
        );
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    // Fixed times and modes: the same tree gives the same bundle.
    let file = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    let script = file.unix_permissions(0o755);
    let toolchain = toolchain(root)?;
    for (name, text) in [
        ("setup.sh", gradescope_setup(&toolchain)),
        ("run_autograder", gradescope_run(timeout_secs)),
    ] {
        zip.start_file(name, script)?;
        zip.write_all(text.as_bytes())?;
    }
    for rel in &files {
        let bytes =
            std::fs::read(root.join(rel)).with_context(|| format!("reading {rel} for the zip"))?;
        zip.start_file(rel.as_str(), file)?;
        zip.write_all(&bytes)?;
    }
    Ok(zip.finish()?.into_inner())
}

/// Single-quoted YAML scalar.
fn yaml_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A step id for exercise `id`: `ex-4-1`.
pub fn step_id(id: &str) -> String {
    format!("ex-{}", id.replace('.', "-"))
}

/// The shell command that grades exercise `e`'s visible tests, or `None` when it has none.
pub fn github_command(e: &super::config::Exercise) -> Option<String> {
    let parts: Vec<String> = tests_by_package(e)
        .into_iter()
        .filter_map(|(pkg, names)| {
            let visible: Vec<String> = names
                .into_iter()
                .filter(|n| !is_instructor_test(n))
                .collect();
            (!visible.is_empty())
                .then(|| format!("bash {GITHUB_CHECK} {pkg} {}", visible.join(" ")))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(" && "))
}

/// GitHub Classroom's workflow for the exercises of `config`.
pub fn github_workflow(config: &ClassroomConfig, timeout_minutes: u64) -> String {
    let mut y = String::from(
        "# GitHub Classroom autograding for rnnbook's student edition.\n\
         # Written by `rnnbook autograder github-classroom`; see the book's appendix \"Teaching with\n\
         # this book\". Each step runs one exercise's visible tests: GitHub Classroom runs in the\n\
         # student's repository, which holds no instructor-only test and which the student can\n\
         # change, so these scores are feedback. `rnnbook grade` gives the grades.\n\
         name: Autograding Tests\n\
         \"on\":\n  - push\n  - workflow_dispatch\n  - repository_dispatch\n\
         permissions:\n  checks: write\n  actions: read\n  contents: read\n\
         jobs:\n  run-autograding-tests:\n    runs-on: ubuntu-latest\n\
         \x20   if: github.actor != 'github-classroom[bot]'\n    steps:\n\
         \x20     - name: Checkout code\n        uses: actions/checkout@v4\n\
         \x20     - name: Build the chapters and their tests\n\
         \x20       run: cargo test --workspace --no-run\n\
         \x20       continue-on-error: true\n",
    );
    let mut runners = Vec::new();
    let mut without = Vec::new();
    for e in &config.exercises {
        let Some(command) = github_command(e) else {
            without.push(e.id.clone());
            continue;
        };
        let id = step_id(&e.id);
        let name = format!("Exercise {}", e.id);
        y += &format!(
            "      - name: {name}\n        id: {id}\n        uses: classroom-resources/autograding-command-grader@v1\n        with:\n          test-name: {}\n          command: {}\n          timeout: {timeout_minutes}\n          max-score: {}\n",
            yaml_str(&name),
            yaml_str(&command),
            e.points
        );
        runners.push(id);
    }
    y += "      - name: Autograding Reporter\n        uses: classroom-resources/autograding-grading-reporter@v1\n        env:\n";
    for id in &runners {
        y += &format!(
            "          {}_RESULTS: \"${{{{steps.{id}.outputs.result}}}}\"\n",
            id.to_uppercase()
        );
    }
    y += &format!("        with:\n          runners: {}\n", runners.join(","));
    if !without.is_empty() {
        y += &format!(
            "# Left out (only instructor-only tests grade them): exercises {}.\n",
            without.join(", ")
        );
    }
    y
}

/// The script each step runs: `check.sh PACKAGE TEST...`.
pub fn github_check() -> &'static str {
    r#"#!/usr/bin/env bash
# One exercise's visible tests, for GitHub Classroom (written by `rnnbook autograder
# github-classroom`): `check.sh PACKAGE TEST...` passes when every TEST ran and passed.
set -uo pipefail
pkg="$1"
shift
out="$(mktemp)"
cargo test -p "$pkg" --no-fail-fast -- --exact "$@" --test-threads=1 2>&1 | tee "$out"
failed=0
for name in "$@"; do
    if ! grep -qxF -e "test $name ... ok" -e "test $name - should panic ... ok" "$out"; then
        echo "not passed: $name"
        failed=1
    fi
done
rm -f "$out"
exit "$failed"
"#
}

fn write_executable(path: &Path, text: &str, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    write_atomic(path, text.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode of {}", path.display()))
}

/// `rnnbook autograder …`.
pub fn command(p: &Platform) -> Result<()> {
    let root = crate::repo_root();
    match p {
        Platform::Gradescope(o) => {
            read_config(&root)?;
            let bytes = gradescope_bundle(&root, o.timeout_secs)?;
            write_atomic(&o.out, &bytes).with_context(|| format!("writing {}", o.out.display()))?;
            println!(
                "wrote {} ({} KiB): upload it as the assignment's autograder (Zip file upload)",
                o.out.display(),
                bytes.len() / 1024
            );
        }
        Platform::GithubClassroom(o) => {
            ensure!(
                is_student_edition(&o.edition),
                "{} is not a student edition (write one with `rnnbook student-edition`)",
                o.edition.display()
            );
            let config = read_config(&root)?;
            write_executable(
                &o.edition.join(GITHUB_WORKFLOW),
                &github_workflow(&config, o.timeout_minutes),
                0o644,
            )?;
            write_executable(&o.edition.join(GITHUB_CHECK), github_check(), 0o755)?;
            println!(
                "wrote {GITHUB_WORKFLOW} and {GITHUB_CHECK} in {}: push it as the assignment's \
                 template repository",
                o.edition.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The classroom configuration, which a student edition does not have.
    fn config() -> Option<ClassroomConfig> {
        let root = crate::repo_root();
        (!is_student_edition(&root)).then(|| read_config(&root).unwrap())
    }

    #[test]
    fn the_workflow_names_every_exercise_with_visible_tests_once() {
        let Some(config) = config() else { return };
        let y = github_workflow(&config, 10);
        for e in &config.exercises {
            let id = step_id(&e.id);
            let expected = usize::from(github_command(e).is_some());
            assert_eq!(y.matches(&format!("id: {id}\n")).count(), expected, "{id}");
        }
        assert!(y.contains("runners: ex-0-1,"));
    }

    #[test]
    fn commands_hold_only_visible_tests() {
        let Some(config) = config() else { return };
        for e in &config.exercises {
            if let Some(c) = github_command(e) {
                assert!(!c.split(' ').any(is_instructor_test), "{c}");
            }
        }
    }
}

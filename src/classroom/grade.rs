//! `rnnbook grade`: grade every submission against the full test set, in a sandbox, in parallel.
//!
//! 1. Every submission's region bodies are read before any student code runs (nothing of a
//!    submission but those bodies is ever used), and each body goes through the static check
//!    ([`super::audit`]): a refused body scores 0 and is not built.
//! 2. Submissions are graded in `--jobs` slots. A slot is a folder that keeps its copy of the
//!    instructor's tree and its cargo target folder from one submission to the next; only files
//!    whose contents differ are rewritten, so cargo rebuilds only what the submission changed,
//!    and the compiled dependencies are shared by every submission of the slot.
//! 3. In the slot, the submission's bodies are spliced into the instructor's files, and the
//!    chapters' tests are built *without* the instructor-only tests, which are then added and
//!    built (nothing else may be recompiled then) and removed again before anything runs: code
//!    of a submission never sees their sources, not at compile time and not at run time.
//! 4. An exercise's tests in one executable run together in one process, with the sentinel
//!    of [`super::verdict`] after them; when that process is not evidence that every one of them
//!    passed, each runs again alone. A test passes only on that evidence. Builds and tests run
//!    in [`super::sandbox`].
//!
//! Points per exercise are `points × passed / total`, from `classroom/exercises.toml`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde::Serialize;

use super::audit::check_region;
use super::config::{ClassroomConfig, Exercise, read_config};
use super::edition::tree_files;
use super::regions::{region_bodies, splice};
use super::report::{summary, to_csv};
use super::runner::{Build, parse_build, parse_list, run_limited};
use super::sandbox::{Jail, Limits, Sandbox, SandboxMode};
use super::verdict::{NONCE_VAR, SENTINEL, Verdict, all_passed, judge, nonce, sentinel_source};
use ch00_foundations::files::write_atomic;

/// Options of `rnnbook grade`.
#[derive(Debug, Clone, clap::Args)]
pub struct GradeOptions {
    /// The folder of submissions, one subfolder per student (with `--one`: one submission).
    pub submissions: PathBuf,
    /// SUBMISSIONS is one student's copy, not a folder of them.
    #[arg(long)]
    pub one: bool,
    /// The CSV to write; a JSON with the same rows is written next to it (`.json`).
    #[arg(long, default_value = "grades.csv")]
    pub out: PathBuf,
    /// Also write Gradescope's results.json for the one submission to this file.
    #[arg(long, value_name = "FILE", requires = "one")]
    pub gradescope: Option<PathBuf>,
    /// Time limit in seconds for one exercise's tests.
    #[arg(long = "timeout", value_name = "SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_secs: u64,
    /// Time limit in seconds for one build of a submission's chapters.
    #[arg(long = "build-timeout", value_name = "SECONDS", default_value_t = 900,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub build_timeout_secs: u64,
    /// Submissions graded at once (default: the number of CPUs).
    #[arg(long, short = 'j', value_parser = clap::value_parser!(u64).range(1..256))]
    pub jobs: Option<u64>,
    /// Where the slots keep their copies and compiled code between runs (default:
    /// `rnnbook-grade` in the temporary folder). Keep it to make the next run fast.
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Build and run student code in bubblewrap: `auto` (when it works here, else a warning),
    /// `required` (refuse to grade without it), `off`.
    #[arg(long, value_enum, default_value_t)]
    pub sandbox: SandboxMode,
    /// Also print every step of every submission with the time it started.
    #[arg(long)]
    pub verbose: bool,
    /// Skip the static check of the regions (only to test the other defences).
    #[arg(long, hide = true)]
    pub skip_static_check: bool,
}

impl GradeOptions {
    /// Options with their defaults for `submissions`.
    pub fn new(submissions: &Path) -> Self {
        GradeOptions {
            submissions: submissions.to_path_buf(),
            one: false,
            out: PathBuf::from("grades.csv"),
            gradescope: None,
            timeout_secs: 60,
            build_timeout_secs: 900,
            jobs: None,
            work_dir: None,
            sandbox: SandboxMode::Auto,
            verbose: false,
            skip_static_check: false,
        }
    }

    /// The folder of the slots.
    pub fn work_dir(&self) -> PathBuf {
        self.work_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("rnnbook-grade"))
    }

    fn jobs(&self) -> usize {
        self.jobs.map(|j| j as usize).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
    }
}

/// One line of the grades: one student, one exercise.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GradeRow {
    /// The submission's folder name.
    pub student: String,
    /// `4.1`.
    pub exercise: String,
    /// Tests passed.
    pub passed: usize,
    /// Tests run for this exercise.
    pub total: usize,
    /// `points × passed / total`.
    pub points: f64,
    /// The exercise's maximum.
    pub max_points: f64,
    /// Why not full marks: the static check's finding, the compiler's first error, a timeout,
    /// the first failure; empty if none.
    pub error: String,
}

/// An exercise's tests by package: a name `package/test` belongs to `package`, any other to
/// the exercise's own package.
pub fn tests_by_package(e: &Exercise) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in &e.tests {
        let (pkg, name) = match t.split_once('/') {
            Some((pkg, name)) => (pkg.to_string(), name.to_string()),
            None => (e.package.clone(), t.clone()),
        };
        out.entry(pkg).or_default().push(name);
    }
    out
}

/// What grading needs to know of the instructor's tree, found once.
struct Plan {
    root: PathBuf,
    config: ClassroomConfig,
    /// The packages built, sorted.
    packages: Vec<String>,
    /// Each package's folder, relative to the tree.
    package_dirs: BTreeMap<String, String>,
    /// Files copied into every slot (the instructor-only test folders left out).
    files: Vec<String>,
    /// The instructor-only test folders of the chapters, and their files.
    instructor_dirs: Vec<String>,
    instructor_files: Vec<String>,
    /// Root files of test targets, which get the sentinel.
    sentinel_roots: BTreeSet<String>,
    /// Files with exercise regions, and their instructor text.
    exercise_files: BTreeMap<String, String>,
    cargo: PathBuf,
    /// What every sandboxed process must not see.
    hidden: Vec<PathBuf>,
    /// The toolchain, visible read-only to builds.
    toolchain: Vec<PathBuf>,
    build_env: Vec<(String, String)>,
}

/// One student's submission, as read before anything runs.
struct Submission {
    student: String,
    /// Region bodies by file, then by exercise id (refused ones removed).
    bodies: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// Why an exercise lost points before anything was built.
    notes: BTreeMap<String, String>,
}

/// A folder that grades one submission after another.
struct Slot {
    index: usize,
    tree: PathBuf,
    target: PathBuf,
    scratch: PathBuf,
}

fn is_under(rel: &str, dir: &str) -> bool {
    rel.starts_with(&format!("{}/", dir.trim_end_matches('/')))
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

impl Plan {
    fn new(root: &Path, o: &GradeOptions) -> Result<Self> {
        let config = read_config(root)?;
        let mut packages: Vec<String> = config
            .exercises
            .iter()
            .flat_map(|e| tests_by_package(e).into_keys())
            .collect();
        packages.sort();
        packages.dedup();
        for e in &config.exercises {
            for t in e.tests.iter() {
                let name = t.split_once('/').map_or(t.as_str(), |(_, n)| n);
                ensure!(
                    name < SENTINEL,
                    "ex {}: the test name {name} sorts after the grader's sentinel {SENTINEL}",
                    e.id
                );
            }
        }
        let cargo = PathBuf::from(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        // Package folders and test targets, from cargo itself (the instructor's tree: trusted).
        let meta = std::process::Command::new(&cargo)
            .current_dir(root)
            .args([
                "metadata",
                "--no-deps",
                "--offline",
                "--format-version",
                "1",
            ])
            .output()
            .context("running cargo metadata on the instructor's tree")?;
        ensure!(
            meta.status.success(),
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&meta.stderr)
        );
        let meta: serde_json::Value = serde_json::from_slice(&meta.stdout)?;
        let rel = |p: &str| -> Option<String> {
            Path::new(p)
                .strip_prefix(root)
                .ok()
                .map(|r| r.to_string_lossy().replace('\\', "/"))
        };
        let mut package_dirs = BTreeMap::new();
        let mut sentinel_roots = BTreeSet::new();
        for p in meta["packages"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap_or_default().to_string();
            if !packages.contains(&name) {
                continue;
            }
            let manifest = p["manifest_path"].as_str().unwrap_or_default();
            let dir = rel(manifest)
                .and_then(|m| m.rsplit_once('/').map(|(d, _)| d.to_string()))
                .with_context(|| format!("package {name} is outside the tree"))?;
            package_dirs.insert(name, dir);
            for t in p["targets"].as_array().into_iter().flatten() {
                let kinds: Vec<&str> = t["kind"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|k| k.as_str())
                    .collect();
                if (kinds.contains(&"lib") || kinds.contains(&"test"))
                    && let Some(src) = t["src_path"].as_str().and_then(rel)
                {
                    sentinel_roots.insert(src);
                }
            }
        }
        for p in &packages {
            ensure!(
                package_dirs.contains_key(p),
                "{}: no package {p} in the workspace",
                super::config::CONFIG
            );
        }
        let instructor_dirs: Vec<String> = config
            .instructor_only
            .iter()
            .filter(|d| package_dirs.values().any(|p| is_under(d, p)))
            .cloned()
            .collect();
        let all = tree_files(root, &[])?;
        let (instructor_files, files): (Vec<String>, Vec<String>) = all
            .into_iter()
            .partition(|f| instructor_dirs.iter().any(|d| is_under(f, d)));
        let mut exercise_files = BTreeMap::new();
        for e in &config.exercises {
            let text = std::fs::read_to_string(root.join(&e.file))
                .with_context(|| format!("reading {}", e.file))?;
            exercise_files.insert(e.file.clone(), text);
        }
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| home().map(|h| h.join(".cargo")))
            .context("neither CARGO_HOME nor HOME is set")?;
        let rustup_home = std::env::var_os("RUSTUP_HOME")
            .map(PathBuf::from)
            .or_else(|| home().map(|h| h.join(".rustup")))
            .context("neither RUSTUP_HOME nor HOME is set")?;
        let mut build_env = vec![
            ("CARGO_HOME".to_string(), cargo_home.display().to_string()),
            ("RUSTUP_HOME".to_string(), rustup_home.display().to_string()),
            ("CARGO_TERM_COLOR".to_string(), "never".to_string()),
            ("LANG".to_string(), "C.UTF-8".to_string()),
            // Grading needs no debugger, and debug information costs compile and link time on
            // every submission (a panic still names its file and line).
            ("CARGO_PROFILE_DEV_DEBUG".to_string(), "false".to_string()),
            ("CARGO_PROFILE_TEST_DEBUG".to_string(), "false".to_string()),
        ];
        for var in ["PATH", "RUSTUP_TOOLCHAIN", "RUSTC"] {
            if let Ok(v) = std::env::var(var) {
                build_env.push((var.to_string(), v));
            }
        }
        let mut hidden: Vec<PathBuf> = vec![PathBuf::from("/tmp")];
        hidden.extend(home());
        hidden.push(std::env::temp_dir());
        hidden.push(root.to_path_buf());
        hidden.push(absolute(&o.submissions));
        hidden.push(absolute(&o.work_dir()));
        if let Some(parent) = absolute(&o.out).parent() {
            hidden.push(parent.to_path_buf());
        }
        hidden.sort();
        hidden.dedup();
        // A hidden folder inside another is hidden already (and would need a mount point).
        let hidden = hidden
            .iter()
            .filter(|h| !hidden.iter().any(|o| o != *h && h.starts_with(o)))
            .cloned()
            .collect();
        Ok(Plan {
            root: root.to_path_buf(),
            config,
            packages,
            package_dirs,
            files,
            instructor_dirs,
            instructor_files,
            sentinel_roots,
            exercise_files,
            cargo,
            hidden,
            toolchain: vec![cargo_home, rustup_home],
            build_env,
        })
    }

    /// Reads a submission's region bodies and runs the static check on each.
    fn read_submission(&self, dir: &Path, student: &str, check: bool) -> Submission {
        let mut bodies = BTreeMap::new();
        let mut notes = BTreeMap::new();
        for (file, _) in self.exercise_files.iter() {
            let ids: Vec<&str> = self
                .config
                .exercises
                .iter()
                .filter(|e| &e.file == file)
                .map(|e| e.id.as_str())
                .collect();
            let text = match std::fs::read_to_string(dir.join(file)) {
                Ok(t) => t,
                Err(e) => {
                    for id in &ids {
                        notes.insert(id.to_string(), format!("cannot read {file}: {e}"));
                    }
                    continue;
                }
            };
            let mut found = match region_bodies(&text, file) {
                Ok(b) => b,
                Err(e) => {
                    for id in &ids {
                        notes.insert(id.to_string(), format!("{e:#}"));
                    }
                    continue;
                }
            };
            found.retain(|id, _| ids.contains(&id.as_str()));
            if check {
                found.retain(|id, body| match check_region(body) {
                    Ok(()) => true,
                    Err(f) => {
                        notes.insert(
                            id.clone(),
                            format!("refused by the static check: ex {id} {f}"),
                        );
                        false
                    }
                });
            }
            for id in &ids {
                if !found.contains_key(*id) && !notes.contains_key(*id) {
                    notes.insert(
                        id.to_string(),
                        format!("no region for this exercise in the submission's {file}"),
                    );
                }
            }
            bodies.insert(file.clone(), found);
        }
        Submission {
            student: student.to_string(),
            bodies,
            notes,
        }
    }

    fn slot(&self, work: &Path, index: usize, sandbox: &Sandbox) -> Result<Slot> {
        let dir = work.join(format!("slot-{index}"));
        let slot = Slot {
            index,
            tree: dir.join("tree"),
            target: dir.join("target"),
            scratch: dir.join("scratch"),
        };
        for d in [&slot.tree, &slot.target, &slot.scratch] {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        sandbox.chown_for_slot(&slot.target, index)?;
        sandbox.chown_for_slot(&slot.scratch, index)?;
        Ok(slot)
    }

    /// Brings the slot's tree to the instructor's with `s`'s bodies, rewriting only what differs.
    fn prepare(&self, slot: &Slot, s: &Submission) -> Result<()> {
        // Nothing that one submission's code left in the scratch folder reaches the next.
        for entry in std::fs::read_dir(&slot.scratch)? {
            let p = entry?.path();
            let gone = if p.is_dir() && !p.is_symlink() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
            gone.with_context(|| format!("emptying {}", p.display()))?;
        }
        for d in &self.instructor_dirs {
            let p = slot.tree.join(d);
            if p.exists() {
                std::fs::remove_dir_all(&p).with_context(|| format!("removing {}", p.display()))?;
            }
        }
        for rel in &self.files {
            let dst = slot.tree.join(rel);
            if let Some(text) = self.exercise_files.get(rel) {
                let empty = BTreeMap::new();
                let bodies = s.bodies.get(rel).unwrap_or(&empty);
                let (spliced, _) = splice(text, rel, bodies)?;
                self.write_changed(rel, &dst, spliced.into_bytes())?;
            } else if self.sentinel_roots.contains(rel) {
                let text = std::fs::read_to_string(self.root.join(rel))?;
                self.write_changed(rel, &dst, text.into_bytes())?;
            } else {
                copy_changed(&self.root.join(rel), &dst)?;
            }
        }
        Ok(())
    }

    /// Writes `bytes` (plus the sentinel, for a test root) to `dst` unless it holds them already.
    fn write_changed(&self, rel: &str, dst: &Path, mut bytes: Vec<u8>) -> Result<()> {
        if self.sentinel_roots.contains(rel) {
            bytes.extend_from_slice(sentinel_source().as_bytes());
        }
        if std::fs::read(dst).ok().as_deref() == Some(&bytes[..]) {
            return Ok(());
        }
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(dst, bytes).with_context(|| format!("writing {}", dst.display()))
    }

    fn build(&self, slot: &Slot, sandbox: &Sandbox, o: &GradeOptions) -> Result<Build, String> {
        let mut args: Vec<String> = [
            "build",
            "--lib",
            "--tests",
            "--keep-going",
            "--offline",
            "--message-format=json",
        ]
        .map(String::from)
        .to_vec();
        for p in &self.packages {
            args.push("-p".into());
            args.push(p.clone());
        }
        let mut read_only = self.toolchain.clone();
        read_only.push(slot.tree.clone());
        let jail = Jail {
            hidden: self.hidden.clone(),
            read_only,
            writable: vec![slot.target.clone(), slot.scratch.clone()],
            cwd: Some(slot.tree.clone()),
        };
        let limit = Duration::from_secs(o.build_timeout_secs);
        let mut cmd = sandbox.command(
            &self.cargo,
            &args,
            &jail,
            slot.index,
            Limits::build(o.build_timeout_secs * 4),
        );
        cmd.env_clear()
            .envs(self.build_env.iter().map(|(k, v)| (k, v)))
            .env("CARGO_TARGET_DIR", &slot.target)
            .env("HOME", &slot.scratch)
            .env("TMPDIR", &slot.scratch);
        let ran = run_limited(cmd, limit).map_err(|e| format!("{e:#}"))?;
        if ran.status.is_none() {
            return Err(format!(
                "the build took longer than {} s",
                o.build_timeout_secs
            ));
        }
        let b = parse_build(&ran.stdout);
        if b.executables.is_empty() && b.errors.is_empty() {
            let tail: Vec<&str> = ran.stderr.lines().rev().take(4).collect();
            return Err(format!(
                "cargo built no test executable: {}",
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ));
        }
        Ok(b)
    }

    /// Adds the instructor-only tests to the slot's tree (with the instructor's times, so that
    /// cargo rebuilds them only when what they depend on changed).
    fn add_instructor_tests(&self, slot: &Slot) -> Result<()> {
        for rel in &self.instructor_files {
            let src = self.root.join(rel);
            let dst = slot.tree.join(rel);
            if self.sentinel_roots.contains(rel) {
                let text = std::fs::read(&src)?;
                self.write_changed(rel, &dst, text)?;
                let mtime = std::fs::metadata(&src)?.modified()?;
                std::fs::File::options()
                    .write(true)
                    .open(&dst)?
                    .set_modified(mtime)?;
            } else {
                copy_changed(&src, &dst)?;
            }
        }
        Ok(())
    }

    /// Grades one submission in `slot`.
    fn grade(
        &self,
        slot: &Slot,
        s: &Submission,
        sandbox: &Sandbox,
        o: &GradeOptions,
        step: &dyn Fn(&str),
    ) -> Result<Vec<GradeRow>> {
        self.prepare(slot, s)?;
        step("building");
        // Without the instructor-only tests: every package's first error is taken from here.
        let mut failed: BTreeMap<String, String> = BTreeMap::new();
        let mut exes: BTreeMap<String, Vec<super::runner::Executable>> = BTreeMap::new();
        match self.build(slot, sandbox, o) {
            Err(e) => {
                for p in &self.packages {
                    failed.insert(p.clone(), e.clone());
                }
            }
            Ok(b) => {
                let first = b.errors.iter().next().map(|(p, e)| (p.clone(), e.clone()));
                for p in &self.packages {
                    if let Some(e) = b.errors.get(p) {
                        failed.insert(p.clone(), format!("{p} does not compile: {e}"));
                    } else if !b.executables.contains_key(p) {
                        let why = match &first {
                            Some((q, e)) => format!("{q} does not compile: {e}"),
                            None => "cargo built no test of it".into(),
                        };
                        failed.insert(p.clone(), format!("{p} was not built: {why}"));
                    }
                }
                exes = b.executables;
            }
        }
        // With them: only their own targets may compile now.
        step("building the instructor-only tests");
        self.add_instructor_tests(slot)?;
        let second = self.build(slot, sandbox, o);
        for d in &self.instructor_dirs {
            std::fs::remove_dir_all(slot.tree.join(d)).ok();
        }
        let is_instructor = |src: &Path| {
            let rel = src
                .strip_prefix(&slot.tree)
                .map(|r| r.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            self.instructor_dirs.iter().any(|d| is_under(&rel, d))
        };
        match second {
            Err(e) => {
                for p in &self.packages {
                    failed
                        .entry(p.clone())
                        .or_insert_with(|| format!("the instructor-only tests: {e}"));
                }
            }
            Ok(b) => {
                for (p, src) in &b.compiled {
                    if !is_instructor(src) && !failed.contains_key(p) {
                        failed.insert(
                            p.clone(),
                            format!(
                                "{p}: {} compiled differently once the instructor-only tests \
                                 were present",
                                src.display()
                            ),
                        );
                    }
                }
                for p in &self.packages {
                    if failed.contains_key(p) {
                        continue;
                    }
                    if b.errors.contains_key(p) {
                        failed.insert(
                            p.clone(),
                            format!("{p}: the instructor-only tests do not compile"),
                        );
                        continue;
                    }
                    let extra = b
                        .executables
                        .get(p)
                        .into_iter()
                        .flatten()
                        .filter(|x| is_instructor(&x.src_path))
                        .cloned();
                    exes.entry(p.clone()).or_default().extend(extra);
                }
            }
        }

        // Which executable holds which test.
        step("listing the tests");
        let mut holder: BTreeMap<(String, String), PathBuf> = BTreeMap::new();
        for (p, list) in &exes {
            if failed.contains_key(p) {
                continue;
            }
            for x in list {
                let ran = self.run_test_process(
                    slot,
                    sandbox,
                    p,
                    &x.path,
                    &["--list".into(), "--format".into(), "terse".into()],
                    "",
                    Duration::from_secs(60),
                );
                if let Ok(r) = ran
                    && r.status.is_some_and(|s| s.success())
                {
                    for name in parse_list(&r.stdout) {
                        holder.insert((p.clone(), name), x.path.clone());
                    }
                }
            }
        }

        let mut rows = Vec::new();
        for ex in &self.config.exercises {
            step(&format!("ex {}", ex.id));
            let start = Instant::now();
            let limit = Duration::from_secs(o.timeout_secs);
            let mut passed = 0;
            let mut error = String::new();
            let mut note = |e: String| {
                if error.is_empty() {
                    error = e;
                }
            };
            for (p, names) in tests_by_package(ex) {
                if let Some(e) = failed.get(&p) {
                    note(e.clone());
                    continue;
                }
                // The tests by executable, in the order of the configuration.
                let mut groups: Vec<(PathBuf, Vec<String>)> = Vec::new();
                for name in names {
                    match holder.get(&(p.clone(), name.clone())) {
                        None => note(format!("{p} has no test {name}")),
                        Some(exe) => match groups.iter_mut().find(|(x, _)| x == exe) {
                            Some((_, g)) => g.push(name),
                            None => groups.push((exe.clone(), vec![name])),
                        },
                    }
                }
                for (exe, names) in groups {
                    let run = |tests: &[String]| -> Option<(String, super::runner::Ran)> {
                        let left = limit.saturating_sub(start.elapsed());
                        if left.is_zero() {
                            return None;
                        }
                        let n = nonce();
                        let mut args = vec!["--exact".to_string()];
                        args.extend(tests.iter().cloned());
                        args.push(SENTINEL.to_string());
                        args.push("--test-threads=1".to_string());
                        self.run_test_process(slot, sandbox, &p, &exe, &args, &n, left)
                            .ok()
                            .map(|r| (n, r))
                    };
                    if let Some((n, r)) = run(&names)
                        && all_passed(&names, &n, r.status, &r.stdout)
                    {
                        passed += names.len();
                        continue;
                    }
                    // Not evidence for all of them: each alone.
                    for name in &names {
                        match run(std::slice::from_ref(name)) {
                            None => note(format!("timed out after {} s", o.timeout_secs)),
                            Some((n, r)) => match judge(name, &n, r.status, &r.stdout) {
                                Verdict::Passed => passed += 1,
                                Verdict::Failed(_) if r.status.is_none() => {
                                    note(format!("timed out after {} s", o.timeout_secs))
                                }
                                Verdict::Failed(why) => note(why),
                            },
                        }
                    }
                }
            }
            let total = ex.tests.len();
            let error = match s.notes.get(&ex.id) {
                Some(n) if error.is_empty() => n.clone(),
                Some(n) => format!("{n}; {error}"),
                None => error,
            };
            rows.push(GradeRow {
                student: s.student.clone(),
                exercise: ex.id.clone(),
                passed,
                total,
                points: (ex.points * passed as f64 / total as f64 * 100.0).round() / 100.0,
                max_points: ex.points,
                error,
            });
        }
        Ok(rows)
    }

    /// Runs a test executable of package `p` in the sandbox, with `nonce` in its environment.
    #[allow(clippy::too_many_arguments)]
    fn run_test_process(
        &self,
        slot: &Slot,
        sandbox: &Sandbox,
        p: &str,
        exe: &Path,
        args: &[String],
        nonce: &str,
        limit: Duration,
    ) -> Result<super::runner::Ran> {
        let jail = Jail {
            hidden: self.hidden.clone(),
            read_only: vec![slot.tree.clone(), slot.target.clone()],
            writable: vec![slot.scratch.clone()],
            cwd: Some(slot.tree.join(&self.package_dirs[p])),
        };
        let mut cmd = sandbox.command(
            exe,
            args,
            &jail,
            slot.index,
            Limits::test(limit.as_secs() + 2),
        );
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &slot.scratch)
            .env("TMPDIR", &slot.scratch)
            .env("RUST_BACKTRACE", "0")
            .env(NONCE_VAR, nonce);
        run_limited(cmd, limit)
    }
}

/// Copies a slot's cargo target folder into an empty one (`cp -a`, with copy-on-write where
/// the file system has it).
fn copy_target(from: &Path, to: &Path) -> Result<()> {
    let out = std::process::Command::new("cp")
        .arg("-a")
        .arg("--reflink=auto")
        .arg(from.join("."))
        .arg(to)
        .output()
        .context("running cp")?;
    ensure!(
        out.status.success(),
        "copying {} to {}: {}",
        from.display(),
        to.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Copies `src` to `dst` (keeping its modification time) unless `dst` has its size and time.
fn copy_changed(src: &Path, dst: &Path) -> Result<()> {
    let m = std::fs::metadata(src).with_context(|| format!("reading {}", src.display()))?;
    if let Ok(d) = std::fs::metadata(dst)
        && d.len() == m.len()
        && d.modified().ok() == m.modified().ok()
    {
        return Ok(());
    }
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::copy(src, dst).with_context(|| format!("copying {}", src.display()))?;
    std::fs::File::options()
        .write(true)
        .open(dst)?
        .set_modified(m.modified()?)?;
    Ok(())
}

/// The students: the subfolders of `o.submissions`, or (`--one`) that folder itself.
fn students(o: &GradeOptions) -> Result<Vec<(String, PathBuf)>> {
    if o.one {
        ensure!(
            o.submissions.is_dir(),
            "the submission {} is not a folder",
            o.submissions.display()
        );
        let name = absolute(&o.submissions)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "submission".into());
        return Ok(vec![(name, o.submissions.clone())]);
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&o.submissions)
        .with_context(|| format!("reading the submissions folder {}", o.submissions.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    ensure!(
        !dirs.is_empty(),
        "the submissions folder {} has no subfolders (one per student)",
        o.submissions.display()
    );
    Ok(dirs
        .into_iter()
        .map(|d| {
            let n = d
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (n, d)
        })
        .collect())
}

/// Grades every submission against the instructor tree at `root`. `progress(done, total,
/// message)` is told each step, from the grading threads.
pub fn grade_all(
    root: &Path,
    o: &GradeOptions,
    progress: &(dyn Fn(usize, usize, &str) + Sync),
) -> Result<Vec<GradeRow>> {
    let plan = Plan::new(root, o)?;
    let sandbox = Sandbox::detect(o.sandbox)?;
    if let Some(why) = &sandbox.why_none
        && o.sandbox == SandboxMode::Auto
    {
        eprintln!(
            "WARNING: grading WITHOUT a sandbox ({why}). Student code will run with your \
             permissions: it can read and write your files and use the network. Install \
             bubblewrap, or pass --sandbox required to refuse."
        );
    }
    // Every submission is read (and checked) before any student code runs.
    let subs: Vec<Submission> = students(o)?
        .iter()
        .map(|(name, dir)| plan.read_submission(dir, name, !o.skip_static_check))
        .collect();
    let jobs = o.jobs().min(subs.len()).max(1);
    let work = absolute(&o.work_dir());
    let slots: Vec<Slot> = (0..jobs)
        .map(|k| plan.slot(&work, k, &sandbox))
        .collect::<Result<_>>()?;
    let per_student = 3 + plan.config.exercises.len();
    let cold: Vec<&Slot> = slots
        .iter()
        .filter(|s| !s.target.join("debug").exists())
        .collect();
    let seed = slots.len() > 1 && cold.iter().any(|s| s.index > 0);
    let total = subs.len() * per_student + usize::from(seed);
    let done = AtomicUsize::new(0);
    if seed {
        // Compile the dependencies once, in slot 0, and give every other cold slot a copy,
        // rather than have every slot compile them at the same time.
        progress(0, total, "compiling the dependencies once, for every slot");
        if cold.iter().any(|s| s.index == 0) {
            let empty = Submission {
                student: "(the dependencies)".into(),
                bodies: BTreeMap::new(),
                notes: BTreeMap::new(),
            };
            plan.prepare(&slots[0], &empty)?;
            if let Err(e) = plan.build(&slots[0], &sandbox, o) {
                bail!("compiling the dependencies in slot 0: {e}");
            }
        }
        for s in cold.iter().filter(|s| s.index > 0) {
            copy_target(&slots[0].target, &s.target)?;
            sandbox.chown_for_slot(&s.target, s.index)?;
        }
        done.fetch_add(1, Ordering::SeqCst);
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Vec<GradeRow>>>>> =
        Mutex::new((0..subs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for slot in &slots {
            let (plan, sandbox, subs, done, next, results) =
                (&plan, &sandbox, &subs, &done, &next, &results);
            scope.spawn(move || {
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(s) = subs.get(k) else { break };
                    let step = |what: &str| {
                        let d = done.fetch_add(1, Ordering::SeqCst) + 1;
                        progress(d, total, &format!("{}: {what}", s.student));
                    };
                    let r = plan.grade(slot, s, sandbox, o, &step);
                    results.lock().expect("not poisoned")[k] = Some(r);
                }
            });
        }
    });
    progress(total, total, "done");
    let mut rows = Vec::new();
    for (s, r) in subs.iter().zip(results.into_inner().expect("not poisoned")) {
        match r {
            Some(Ok(r)) => rows.extend(r),
            Some(Err(e)) => bail!("grading {}: {e:#}", s.student),
            None => bail!("{} was not graded", s.student),
        }
    }
    Ok(rows)
}

/// Gradescope's `results.json` for one student's rows: one test per exercise.
pub fn gradescope_results(rows: &[GradeRow]) -> serde_json::Value {
    let tests: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let mut output = format!("{} of {} tests passed.", r.passed, r.total);
            if !r.error.is_empty() {
                output.push_str(&format!(" {}", r.error));
            }
            serde_json::json!({
                "name": format!("Exercise {}", r.exercise),
                "number": r.exercise,
                "score": r.points,
                "max_score": r.max_points,
                "output": output,
                "visibility": "visible",
            })
        })
        .collect();
    let score: f64 = rows.iter().map(|r| r.points).sum();
    serde_json::json!({
        "score": (score * 100.0).round() / 100.0,
        "output": "Graded by rnnbook grade: each exercise's visible and instructor-only tests.",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    })
}

/// `rnnbook grade`: grades every submission with a progress bar, writes the CSV and the JSON
/// (atomically) and prints the totals.
pub fn command(o: &GradeOptions) -> Result<()> {
    let pb = crate::progress::ticking_bar(
        "{bar:30} {pos}/{len} [{elapsed} elapsed, {eta} left] {msg}",
        1,
    );
    let start = Instant::now();
    let rows = grade_all(&crate::repo_root(), o, &|done, total, msg| {
        if o.verbose {
            eprintln!(
                "[{:7.1} s] {done}/{total} {msg}",
                start.elapsed().as_secs_f64()
            );
        }
        pb.set_length(total as u64);
        pb.set_position(done as u64);
        pb.set_message(msg.to_string());
    });
    pb.finish_and_clear();
    let rows = rows?;
    let json_path = o.out.with_extension("json");
    write_atomic(&o.out, to_csv(&rows).as_bytes())?;
    write_atomic(&json_path, serde_json::to_string_pretty(&rows)?.as_bytes())?;
    if let Some(g) = &o.gradescope {
        let j = gradescope_results(&rows);
        write_atomic(g, serde_json::to_string_pretty(&j)?.as_bytes())?;
        println!("wrote {}", g.display());
    }
    print!("{}", summary(&rows));
    println!("wrote {} and {}", o.out.display(), json_path.display());
    Ok(())
}

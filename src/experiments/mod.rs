//! `rnnbook experiments`: chapter 7's study, every cell on every task, as chapter 7's
//! [`study`](ch07_experiments::study) lists it.
//!
//! Each finished run is written at once, atomically, as one record in the output folder, so the
//! study can be stopped at any moment (even killed) and continued: a run whose record is already
//! there and reads back whole is skipped. Runs go in parallel on `--jobs` threads, one thread
//! each; one progress bar counts the updates of all of them.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use ch01_rnn::data::Vocab;
use ch07_experiments::study::{RECORD_FORMAT, Record, Records, Spec, What, execute, study};
use rayon::prelude::*;

/// `rnnbook experiments`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct ExperimentOptions {
    /// Where the run records go (one JSON file per run).
    #[arg(long, value_name = "DIR", default_value_os_t = Records::committed_dir())]
    pub out: PathBuf,
    /// A seconds-long version of the study (the same kinds of runs, tiny), for checking the
    /// pipeline; use it with another --out.
    #[arg(long)]
    pub smoke: bool,
    /// Runs at the same time, one thread each.
    #[arg(long, default_value_t = std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
          value_parser = clap::value_parser!(u64).range(1..=64))]
    pub jobs: u64,
    /// Only the runs whose id starts with this.
    #[arg(long, value_name = "PREFIX")]
    pub only: Option<String>,
    /// The book folder whose chapters are the character models' text.
    #[arg(long, value_name = "BOOK", default_value_os_t = crate::default_book_dir())]
    pub book: PathBuf,
}

/// What a study invocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudyReport {
    /// Runs of the study (after `--only`).
    pub runs: usize,
    /// Of those, already recorded and skipped.
    pub skipped: usize,
}

/// The CPU's model name (Linux), for the records.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// The repository's commit, if git can tell.
pub(crate) fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(crate::repo_root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

/// The runs of `specs` still to do in `out` (those without a record file), and a note for each
/// record that is of its run with other settings than the study's (kept and skipped, as the
/// book's text changing the character models' sizes would otherwise redo finished runs). A
/// record file that is there must read back whole; otherwise nothing is run and the error names
/// every such file and what is wrong with it.
fn still_to_do<'a>(out: &Path, specs: &'a [Spec]) -> Result<(Vec<&'a Spec>, Vec<String>)> {
    let mut todo = Vec::new();
    let (mut wrong, mut notes) = (Vec::new(), Vec::new());
    for spec in specs {
        let path = Record::path_in(out, &spec.id);
        if !path.exists() {
            todo.push(spec);
            continue;
        }
        match Record::read(&path) {
            Err(e) => wrong.push(e.to_string()),
            Ok(r) if r.spec != *spec => notes.push(format!(
                "note: the study record {} was made with other settings than the study's ({}); \
                 it is kept (delete it to run that run again)",
                path.display(),
                spec_difference(&r.spec, spec)
            )),
            Ok(_) => {}
        }
    }
    if !wrong.is_empty() {
        return Err(crate::exit::bad_input(anyhow::anyhow!(
            "{} record(s) in {} cannot be continued from; move or delete them to run those runs \
             again:\n  {}",
            wrong.len(),
            out.display(),
            wrong.join("\n  ")
        )));
    }
    Ok((todo, notes))
}

/// The first top-level field of a spec that differs, as `field: recorded … vs the study's …`.
fn spec_difference(recorded: &Spec, wanted: &Spec) -> String {
    let (a, b) = (
        serde_json::to_value(recorded).unwrap_or_default(),
        serde_json::to_value(wanted).unwrap_or_default(),
    );
    fn first_diff(path: &str, a: &serde_json::Value, b: &serde_json::Value) -> Option<String> {
        match (a, b) {
            (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                keys.into_iter().find_map(|k| {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    let null = serde_json::Value::Null;
                    first_diff(&p, x.get(k).unwrap_or(&null), y.get(k).unwrap_or(&null))
                })
            }
            _ if a == b => None,
            _ => Some(format!("`{path}` is {a} in the record, {b} in the study")),
        }
    }
    first_diff("", &a, &b).unwrap_or_else(|| "they differ".to_string())
}

/// Runs the study as `o` says; `progress(done, total)` counts updates over all runs, and
/// `recorded(id, k, n)` is told after each record is written (the `k`-th of `n` to run), and
/// `noted(line)` is given the notes to show (records kept with other settings).
pub fn run(
    o: &ExperimentOptions,
    progress: impl Fn(u64, u64) + Sync,
    recorded: impl Fn(&str, usize, usize) + Sync,
    noted: impl Fn(&str),
) -> Result<StudyReport> {
    let corpus = crate::train::corpus::book_corpus(&o.book).map_err(crate::exit::bad_input)?;
    let vocab = Vocab::from_text(&corpus.text).len();
    let specs: Vec<Spec> = study(o.smoke, vocab)
        .into_iter()
        .filter(|s| o.only.as_deref().is_none_or(|p| s.id.starts_with(p)))
        .collect();
    if specs.is_empty() {
        return Err(crate::exit::bad_input(anyhow::anyhow!(
            "no run of the study matches --only {}",
            o.only.as_deref().unwrap_or("")
        )));
    }
    std::fs::create_dir_all(&o.out)
        .with_context(|| format!("cannot create the study folder {}", o.out.display()))?;
    let (todo, notes) = still_to_do(&o.out, &specs)?;
    for n in &notes {
        noted(n);
    }
    let written = std::sync::atomic::AtomicUsize::new(0);
    let steps_of = |s: &Spec| match &s.what {
        What::Task { config, .. } => config.steps,
        What::Text { config } => config.steps,
    };
    let total: u64 = todo.iter().map(|s| steps_of(s)).sum();
    let done = std::sync::atomic::AtomicU64::new(0);
    let (cpu, commit) = (cpu_model(), commit());
    let failures = Mutex::new(Vec::new());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(o.jobs as usize)
        .build()
        .context("starting the study's threads")?;
    pool.install(|| {
        todo.par_iter().for_each(|spec| {
            let start = Instant::now();
            let outcome = execute(spec, &corpus.text, |_, _| {
                let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                progress(d, total);
            });
            let written = outcome.and_then(|outcome| {
                let record = Record {
                    format: RECORD_FORMAT.to_string(),
                    spec: (*spec).clone(),
                    outcome,
                    wall_seconds: start.elapsed().as_secs_f64(),
                    cpu: cpu.clone(),
                    commit: commit.clone(),
                };
                record
                    .write(&o.out)
                    .map_err(|e| format!("run {}: cannot write its record: {e}", spec.id))?;
                let k = written.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                recorded(&spec.id, k, todo.len());
                Ok(())
            });
            if let Err(e) = written {
                failures.lock().expect("no panics hold the lock").push(e);
            }
        })
    });
    let failures = failures.into_inner().expect("no panics hold the lock");
    ensure!(
        failures.is_empty(),
        "{} run(s) failed (the others are recorded):\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
    Ok(StudyReport {
        runs: specs.len(),
        skipped: specs.len() - todo.len(),
    })
}

/// `rnnbook experiments`: the study with a progress bar, then what it did.
pub fn command(o: &ExperimentOptions) -> Result<()> {
    let start = Instant::now();
    let pb = crate::progress::ticking_bar(
        "{bar:30} {pos}/{len} updates [{elapsed}, eta {eta}] {msg}",
        1,
    );
    let report = run(
        o,
        |done, total| {
            pb.set_length(total);
            pb.set_position(done);
        },
        // Where the bar is not drawn (stderr is not a terminal), a line per finished run.
        |id, k, n| {
            if pb.is_hidden() {
                eprintln!("recorded: run {k}/{n} {id} in {}", o.out.display());
            }
        },
        |line| pb.suspend(|| eprintln!("{line}")),
    );
    pb.finish_and_clear();
    let report = report?;
    eprintln!(
        "experiments: {} runs, {} already recorded, {} run in {:.1} s; records in {}",
        report.runs,
        report.skipped,
        report.runs - report.skipped,
        start.elapsed().as_secs_f64(),
        o.out.display()
    );
    Ok(())
}

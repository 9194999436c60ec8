//! What `rnnbook train TASK` and `rnnbook train text` share: a run folder with a checkpoint
//! (written atomically), a loop that saves it every N steps and keeps the last good one when a
//! step fails, and a record of the run at the end.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use ch00_foundations::files::write_atomic;
use ch07_experiments::run::{AnyRun, CellKind};
use ch07_experiments::study::{Outcome, RECORD_FORMAT, Record, Spec};
use ch07_experiments::text::AnyTextRun;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A run of one cell that counts its updates.
pub(super) trait Stepped {
    /// Updates made.
    fn step(&self) -> u64;
    /// Which cell.
    fn cell(&self) -> CellKind;
}

impl Stepped for AnyRun {
    fn step(&self) -> u64 {
        AnyRun::step(self)
    }

    fn cell(&self) -> CellKind {
        AnyRun::cell(self)
    }
}

impl Stepped for AnyTextRun {
    fn step(&self) -> u64 {
        AnyTextRun::step(self)
    }

    fn cell(&self) -> CellKind {
        AnyTextRun::cell(self)
    }
}

/// What a run was started with. A resumed run must be given the same, except for the number of
/// steps, which may grow.
pub(super) trait Settings: Clone + std::fmt::Debug + PartialEq {
    /// The steps to train to.
    fn steps_mut(&mut self) -> &mut u64;

    /// Why a checkpoint started with `self` cannot continue as `wanted`, if it cannot.
    fn mismatch(&self, wanted: &Self) -> Option<String> {
        let mut same = wanted.clone();
        *same.steps_mut() = *self.clone().steps_mut();
        (same != *self)
            .then(|| format!("was trained with other settings ({self:?}); pass the same ones"))
    }
}

/// What a checkpoint file holds: its format tag, the run's settings, its training time so far
/// and the run itself (parameters, Adam's moments, curve: everything to continue it exactly).
#[derive(Serialize, Deserialize)]
pub(super) struct Checkpoint<S, R> {
    /// The format tag.
    pub format: String,
    /// What the run was started with.
    #[serde(flatten)]
    pub settings: S,
    /// Seconds of training so far, over every invocation.
    pub seconds: f64,
    /// The run.
    pub run: R,
}

/// The checkpoint at `path` to continue (`resume`), or a fresh one from `fresh()` where none is:
/// a resumed run must be of the same cell with the same settings (`settings.steps` may grow,
/// and is set in the checkpoint).
///
/// # Errors
/// A missing, damaged or mismatched checkpoint when resuming, each named; an existing one when
/// not.
pub(super) fn open<S, R>(
    path: &Path,
    format: &str,
    (resume, cell, settings): (bool, CellKind, &S),
    fresh: impl FnOnce() -> R,
) -> Result<Checkpoint<S, R>>
where
    S: Settings + Serialize + DeserializeOwned,
    R: Stepped + Serialize + DeserializeOwned,
{
    open_checked(path, format, (resume, cell, settings), fresh).map_err(crate::exit::bad_input)
}

fn open_checked<S, R>(
    path: &Path,
    format: &str,
    (resume, cell, settings): (bool, CellKind, &S),
    fresh: impl FnOnce() -> R,
) -> Result<Checkpoint<S, R>>
where
    S: Settings + Serialize + DeserializeOwned,
    R: Stepped + Serialize + DeserializeOwned,
{
    if !resume {
        refuse_overwrite(path)?;
        return Ok(Checkpoint {
            format: format.to_string(),
            settings: settings.clone(),
            seconds: 0.0,
            run: fresh(),
        });
    }
    let mut c: Checkpoint<S, R> = read(path, format)?;
    ensure!(
        c.run.cell() == cell,
        "the checkpoint {} is a {} run, not {}",
        path.display(),
        c.run.cell().name(),
        cell.name()
    );
    if let Some(why) = c.settings.mismatch(settings) {
        bail!("the checkpoint {} {why}", path.display());
    }
    same_shapes(&fresh(), &c.run)
        .map_err(|e| anyhow::anyhow!("the checkpoint {}: {e}", path.display()))?;
    c.settings = settings.clone();
    Ok(c)
}

/// Every array of `loaded` has the shape it has in `fresh` (a new run with the same settings),
/// and neither has an array the other lacks: a checkpoint whose tensors disagree with each
/// other or with its settings would otherwise make the first step panic in a product.
fn same_shapes<R: Serialize>(fresh: &R, loaded: &R) -> Result<()> {
    let shapes = |r: &R| {
        let mut out = std::collections::BTreeMap::new();
        array_shapes(&serde_json::to_value(r)?, "run", &mut out);
        Ok::<_, serde_json::Error>(out)
    };
    let (want, got) = (shapes(fresh)?, shapes(loaded)?);
    for (at, dim) in &want {
        match got.get(at) {
            Some(d) if d == dim => {}
            Some(d) => bail!("field `{at}` has shape {d}, but the settings need {dim}"),
            None => bail!("field `{at}` is missing or not an array"),
        }
    }
    if let Some(at) = got.keys().find(|at| !want.contains_key(*at)) {
        bail!("field `{at}` is an array that a run with these settings does not have");
    }
    Ok(())
}

/// The shape of every array in `v` (ndarray's serde form: an object with `v`, `dim` and
/// `data`), by its path from `at`.
fn array_shapes(
    v: &serde_json::Value,
    at: &str,
    out: &mut std::collections::BTreeMap<String, serde_json::Value>,
) {
    match v {
        serde_json::Value::Object(o) if o.contains_key("dim") && o.contains_key("data") => {
            out.insert(at.to_string(), o["dim"].clone());
        }
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                array_shapes(x, &format!("{at}.{k}"), out);
            }
        }
        serde_json::Value::Array(a) => {
            for (k, x) in a.iter().enumerate() {
                array_shapes(x, &format!("{at}[{k}]"), out);
            }
        }
        _ => {}
    }
}

/// The run folder's checkpoint file.
pub(super) fn checkpoint_path(dir: &Path) -> PathBuf {
    dir.join("checkpoint.json")
}

/// Reads the checkpoint at `path` (for `--resume`), which must be of `format`.
///
/// # Errors
/// No file, not JSON of this kind, or another format; each message names the file.
fn read<C: DeserializeOwned>(path: &Path, format: &str) -> Result<C> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot resume: cannot read the checkpoint {} (leave out --resume to start a new run)",
            path.display()
        )
    })?;
    let tag: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "the checkpoint {} is not JSON ({e}); it may be damaged",
            path.display()
        )
    })?;
    let Some(found) = tag.get("format").and_then(|f| f.as_str()) else {
        bail!(
            "the checkpoint {} is JSON but has no `format` field: it is not a checkpoint of \
             rnnbook (expected format {format:?})",
            path.display()
        );
    };
    ensure!(
        found == format,
        "the checkpoint {}: format {found:?}, expected {format:?}",
        path.display()
    );
    serde_json::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "the checkpoint {} is not a checkpoint of this command ({e}); it may be damaged",
            path.display()
        )
    })
}

/// Refuses to start a new run over an existing checkpoint.
fn refuse_overwrite(path: &Path) -> Result<()> {
    if path.exists() {
        bail!(
            "{} already holds a checkpoint; pass --resume to continue it, or another --out",
            path.display()
        );
    }
    Ok(())
}

fn save<C: Serialize>(path: &Path, c: &C) -> Result<()> {
    let json = serde_json::to_vec(c).context("encoding the checkpoint")?;
    Ok(write_atomic(path, &json)?)
}

/// Trains `state` up to `steps` with a progress bar: `advance` makes one update and returns the
/// bar's message; the checkpoint is saved every `every` steps and at the end.
///
/// # Errors
/// A failed update (its message, and which step the checkpoint keeps), or a checkpoint that
/// cannot be written.
pub(super) fn train_to<S: Serialize, R: Stepped + Serialize>(
    state: &mut Checkpoint<S, R>,
    path: &Path,
    (steps, every): (u64, u64),
    mut advance: impl FnMut(&mut R) -> std::result::Result<String, String>,
) -> Result<()> {
    let pb = crate::progress::bar("{bar:20} {pos}/{len} {msg}  {elapsed}, eta {eta}", steps);
    pb.set_position(state.run.step());
    let clock = Instant::now();
    let seconds_before = state.seconds;
    let mut saved = state.run.step();
    while state.run.step() < steps {
        let message = match advance(&mut state.run) {
            Ok(m) => m,
            Err(e) => {
                pb.finish_and_clear();
                bail!(
                    "{e}; training stopped, and {} keeps the state of step {saved}",
                    path.display()
                );
            }
        };
        let step = state.run.step();
        pb.set_position(step);
        pb.set_message(format!("{message}  {:.0} steps/s", pb.per_sec()));
        if step.is_multiple_of(every) {
            state.seconds = seconds_before + clock.elapsed().as_secs_f64();
            save(path, state)?;
            saved = step;
            super::saved_line(&pb, path, step, steps);
        }
    }
    let hidden = pb.is_hidden();
    pb.finish_and_clear();
    state.seconds = seconds_before + clock.elapsed().as_secs_f64();
    save(path, state)?;
    if hidden {
        eprintln!(
            "checkpoint: step {}/{steps} saved to {}",
            state.run.step(),
            path.display()
        );
    }
    Ok(())
}

/// Writes the record of a run trained by hand into `dir` (as the study's records, in group
/// `by-hand`), and returns its path.
///
/// # Errors
/// A record that cannot be written.
pub(super) fn write_record(
    dir: &Path,
    spec: Spec,
    outcome: Outcome,
    wall_seconds: f64,
) -> Result<PathBuf> {
    let path = Record::path_in(dir, &spec.id);
    let record = Record {
        format: RECORD_FORMAT.to_string(),
        spec,
        outcome,
        wall_seconds,
        cpu: crate::experiments::cpu_model(),
        commit: crate::experiments::commit(),
    };
    record
        .write(dir)
        .with_context(|| format!("cannot write the record {}", path.display()))?;
    Ok(path)
}

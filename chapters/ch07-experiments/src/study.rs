//! The chapter's study: which runs, with which settings, and the record each run
//! leaves.
//!
//! `rnnbook experiments` runs every [`Spec`] of [`study`] that has no record yet and
//! writes one [`Record`] per run into `data/runs/` (`Record::write`, atomically).
//! The figures read them back with [`Records::read`], which checks every file;
//! nothing at build time trains.

use std::path::{Path, PathBuf};

use ch00_foundations::files::write_atomic;
use serde::{Deserialize, Serialize};

use ch02_bptt::model::CellModel;
use ch04_lstm::Lstm;

use crate::run::{CellKind, CurvePoint, RunConfig};
use crate::task::{Adding, Reber, Task};
use crate::tasks::CopyTask;
use crate::text::{TextConfig, TextOutcome, hidden_for_budget};

/// A synthetic task and its length.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "kebab-case")]
pub enum TaskSpec {
    /// The adding problem with `T` steps.
    Adding {
        /// `T`.
        seq_len: usize,
    },
    /// The copy task.
    Copy(CopyTask),
    /// The embedded Reber grammar.
    Reber,
}

impl TaskSpec {
    /// The task itself.
    pub fn task(&self) -> Box<dyn Task> {
        match *self {
            TaskSpec::Adding { seq_len } => Box::new(Adding { seq_len }),
            TaskSpec::Copy(c) => Box::new(c),
            TaskSpec::Reber => Box::new(Reber),
        }
    }

    /// The distance the task asks a cell to remember over: `T` for the adding
    /// problem (the first mark is at least `T/2` steps from the end), the delay for
    /// the copy task, 0 for Reber (its strings vary).
    pub fn length(&self) -> usize {
        match *self {
            TaskSpec::Adding { seq_len } => seq_len,
            TaskSpec::Copy(c) => c.delay,
            TaskSpec::Reber => 0,
        }
    }
}

/// What one run of the study is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum What {
    /// A synthetic task.
    Task {
        /// The task.
        task: TaskSpec,
        /// The settings.
        config: RunConfig,
    },
    /// Character-level language modelling on the book's own chapters.
    Text {
        /// The settings.
        config: TextConfig,
    },
}

/// One run of the study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    /// A name that is also the record's file name, e.g. `adding-T100-lstm-s2`.
    pub id: String,
    /// The group of runs it belongs to, e.g. `length`, `forget-bias`, `clipping`.
    pub group: String,
    /// The cell.
    pub cell: CellKind,
    /// The run.
    pub what: What,
    /// Keep the trained model in the record (the LSTM whose gates the chapter
    /// draws).
    #[serde(default)]
    pub keep_model: bool,
}

/// The run whose trained LSTM the chapter keeps, to draw its gates.
pub const GATES_RUN: &str = "adding-T100-lstm-s1";

/// The seeds of the study.
pub const SEEDS: [u64; 3] = [1, 2, 3];

/// The adding problem's lengths.
pub const ADDING_LENGTHS: [usize; 5] = [10, 20, 50, 100, 200];

/// The copy task's delays (with 8 symbols, 3 to recall).
pub const COPY_DELAYS: [usize; 3] = [10, 25, 50];

/// The LSTM forget-gate biases compared on the copy task.
pub const FORGET_BIASES: [f64; 3] = [0.0, 1.0, 3.0];

/// The parameter budget of the character models.
pub const TEXT_BUDGET: usize = 42_000;

fn task_config(hidden: usize, steps: u64, seed: u64) -> RunConfig {
    RunConfig {
        hidden,
        batch: 32,
        steps,
        lr: 1e-2,
        clip: 1.0,
        seed,
        eval_every: steps / 20,
        test_size: 500,
        forget_bias: 0.0,
        chrono: None,
        fused: false,
    }
}

/// The whole study, or (`smoke`) a seconds-long version with the same kinds of runs.
pub fn study(smoke: bool, text_vocab: usize) -> Vec<Spec> {
    let (seeds, lengths, delays): (&[u64], &[usize], &[usize]) = if smoke {
        (&[1], &[6], &[4])
    } else {
        (&SEEDS, &ADDING_LENGTHS, &COPY_DELAYS)
    };
    let steps = |full: u64| if smoke { 20 } else { full };
    let mut out = Vec::new();
    let mut push = |group: &str, cell: CellKind, what: What, id: String| {
        let keep_model = id == GATES_RUN;
        out.push(Spec {
            id,
            group: group.to_string(),
            cell,
            what,
            keep_model,
        })
    };
    for &seed in seeds {
        for &seq_len in lengths {
            for cell in CellKind::ALL {
                let task = TaskSpec::Adding { seq_len };
                let config = task_config(32, steps(2000), seed);
                let id = format!("adding-T{seq_len}-{}-s{seed}", cell.name());
                push("length", cell, What::Task { task, config }, id);
            }
        }
        for &delay in delays {
            for cell in CellKind::ALL {
                let task = TaskSpec::Copy(CopyTask {
                    symbols: 8,
                    recall: 3,
                    delay,
                });
                let config = task_config(64, steps(3000), seed);
                let id = format!("copy-T{delay}-{}-s{seed}", cell.name());
                push("length", cell, What::Task { task, config }, id);
            }
        }
        for cell in CellKind::ALL {
            let config = task_config(32, steps(2000), seed);
            let id = format!("reber-{}-s{seed}", cell.name());
            push(
                "length",
                cell,
                What::Task {
                    task: TaskSpec::Reber,
                    config,
                },
                id,
            );
        }
        // The LSTM's forget-gate bias, on the longest copy delay.
        for &bias in &FORGET_BIASES[1..] {
            let delay = *delays.last().expect("a delay");
            let task = TaskSpec::Copy(CopyTask {
                symbols: 8,
                recall: 3,
                delay,
            });
            let config = RunConfig {
                forget_bias: bias,
                ..task_config(64, steps(3000), seed)
            };
            let id = format!("copy-T{delay}-lstm-bias{bias}-s{seed}");
            push(
                "forget-bias",
                CellKind::Lstm,
                What::Task { task, config },
                id,
            );
        }
        // And the chrono initialisation, with the sequence's length as `T_max`.
        {
            let delay = *delays.last().expect("a delay");
            let copy = CopyTask {
                symbols: 8,
                recall: 3,
                delay,
            };
            let config = RunConfig {
                chrono: Some(copy.seq_len() as f64),
                ..task_config(64, steps(3000), seed)
            };
            let id = format!("copy-T{delay}-lstm-chrono-s{seed}");
            push(
                "forget-bias",
                CellKind::Lstm,
                What::Task {
                    task: TaskSpec::Copy(copy),
                    config,
                },
                id,
            );
        }
        // Clipping: the adding problem at T = 100 with the cap lifted.
        for cell in [CellKind::Rnn, CellKind::Lstm, CellKind::Gru] {
            let seq_len = if smoke { 6 } else { 100 };
            let config = RunConfig {
                clip: f64::MAX,
                ..task_config(32, steps(2000), seed)
            };
            let task = TaskSpec::Adding { seq_len };
            let id = format!("adding-T{seq_len}-{}-noclip-s{seed}", cell.name());
            push("clipping", cell, What::Task { task, config }, id);
        }
        for cell in CellKind::ALL {
            let config = TextConfig {
                hidden: hidden_for_budget(
                    cell,
                    text_vocab,
                    if smoke { 4_000 } else { TEXT_BUDGET },
                ),
                seq_len: 32,
                batch: 16,
                steps: steps(5000),
                lr: 2e-3,
                clip: 5.0,
                seed,
                eval_every: steps(5000) / 10,
                held_out: 0.1,
            };
            let id = format!("text-{}-s{seed}", cell.name());
            push("text", cell, What::Text { config }, id);
        }
    }
    out
}

/// Runs `spec` (on `text` for a text run); `progress(step, of)` after each update.
///
/// # Errors
/// A non-finite value while training, or a text that cannot be split; the message
/// names the run.
pub fn execute(
    spec: &Spec,
    text: &str,
    mut progress: impl FnMut(u64, u64),
) -> Result<Outcome, String> {
    let named = |e: String| format!("run {}: {e}", spec.id);
    match &spec.what {
        What::Task { task, config } => {
            let task = task.task();
            let out =
                crate::run::run_cell(spec.cell, task.as_ref(), config, |step, _| {
                    progress(step, config.steps)
                })
                .map_err(|e| named(e.to_string()))?;
            Ok(Outcome::Task(TaskResult {
                metric_name: task.scoring().name.to_string(),
                chance: task.scoring().chance,
                higher_is_better: task.scoring().higher_is_better,
                final_metric: out.final_metric,
                curve: out.curve,
                lstm: out.lstm.filter(|_| spec.keep_model).map(Box::new),
            }))
        }
        What::Text { config } => {
            let out = crate::text::run_text(spec.cell, text, config, |step| {
                progress(step, config.steps)
            })
            .map_err(named)?;
            Ok(Outcome::Text(out))
        }
    }
}

/// What a finished synthetic-task run recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    /// The metric's name.
    pub metric_name: String,
    /// The metric of a model that remembers nothing.
    pub chance: f64,
    /// Whether a larger metric is better.
    pub higher_is_better: bool,
    /// The learning curve.
    pub curve: Vec<CurvePoint>,
    /// The metric at the end.
    pub final_metric: f64,
    /// The trained LSTM, for the run the chapter draws the gates of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lstm: Option<Box<CellModel<Lstm>>>,
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Outcome {
    /// A synthetic task.
    Task(TaskResult),
    /// Character modelling.
    Text(TextOutcome),
}

/// The format tag of a record.
pub const RECORD_FORMAT: &str = "rnnbook-ch07-run-v1";

/// One finished run: the spec, the outcome, and where and how long it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Always [`RECORD_FORMAT`].
    pub format: String,
    /// The run.
    pub spec: Spec,
    /// What it gave.
    pub outcome: Outcome,
    /// Seconds it took (one thread).
    pub wall_seconds: f64,
    /// The CPU it ran on.
    pub cpu: String,
    /// The repository's commit.
    pub commit: String,
}

/// A record that cannot be used: the message names the file and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RecordError(String);

impl Record {
    /// The record's file in `dir`: `<id>.json`.
    pub fn path_in(dir: &Path, id: &str) -> PathBuf {
        dir.join(format!("{id}.json"))
    }

    /// Writes the record to `dir/<id>.json` atomically.
    ///
    /// # Errors
    /// Any I/O error, naming the file.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let mut json =
            serde_json::to_string_pretty(self).expect("a record serialises");
        json.push('\n');
        write_atomic(&Self::path_in(dir, &self.spec.id), json.as_bytes())
    }

    /// Reads and checks one record: its format, that its file is named after its id,
    /// and that its numbers are finite.
    ///
    /// # Errors
    /// A file that cannot be read or is not a record; the message names the file.
    pub fn read(path: &Path) -> Result<Record, RecordError> {
        let err = |what: String| {
            RecordError(format!("the study record {}: {what}", path.display()))
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| err(format!("cannot be read: {e}")))?;
        let r: Record = serde_json::from_str(&text)
            .map_err(|e| err(format!("is not a run record: {e}")))?;
        if r.format != RECORD_FORMAT {
            return Err(err(format!(
                "format {:?}, expected {RECORD_FORMAT:?}",
                r.format
            )));
        }
        if path.file_stem().and_then(|s| s.to_str()) != Some(r.spec.id.as_str()) {
            return Err(err(format!(
                "holds run {}, not the file's name",
                r.spec.id
            )));
        }
        let finite = match &r.outcome {
            Outcome::Task(t) => {
                t.curve.iter().all(|p| p.metric.is_finite()) && !t.curve.is_empty()
            }
            Outcome::Text(t) => {
                t.curve.iter().all(|p| p.test_bits.is_finite())
                    && !t.curve.is_empty()
            }
        };
        if !finite {
            return Err(err(
                "has an empty curve or a value that is not finite".into()
            ));
        }
        Ok(r)
    }
}

/// Every record of a study folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Records {
    /// By file name.
    pub records: Vec<Record>,
}

impl Records {
    /// The committed study: `chapters/ch07-experiments/data/runs/`.
    pub fn committed_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/runs")
    }

    /// Reads every `*.json` in `dir`, sorted by name.
    ///
    /// # Errors
    /// A folder that cannot be listed, or any record that fails [`Record::read`].
    pub fn read(dir: &Path) -> Result<Self, RecordError> {
        let listing = std::fs::read_dir(dir).map_err(|e| {
            RecordError(format!(
                "the study folder {} cannot be read: {e}",
                dir.display()
            ))
        })?;
        let mut paths: Vec<PathBuf> = listing
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        paths.sort();
        let records = paths
            .iter()
            .map(|p| Record::read(p))
            .collect::<Result<_, _>>()?;
        Ok(Records { records })
    }

    /// The records of task runs in `group` whose id starts with `prefix`.
    pub fn tasks<'a>(
        &'a self,
        group: &'a str,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a Record, &'a TaskSpec, &'a TaskResult)> + 'a {
        self.records
            .iter()
            .filter_map(move |r| match (&r.spec.what, &r.outcome) {
                (What::Task { task, .. }, Outcome::Task(t))
                    if r.spec.group == group && r.spec.id.starts_with(prefix) =>
                {
                    Some((r, task, t))
                }
                _ => None,
            })
    }

    /// The text runs.
    pub fn texts(&self) -> impl Iterator<Item = (&Record, &TextOutcome)> {
        self.records.iter().filter_map(|r| match &r.outcome {
            Outcome::Text(t) => Some((r, t)),
            Outcome::Task(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_study_has_unique_ids_three_seeds_and_every_cell() {
        let specs = study(false, 101);
        let mut ids: Vec<&str> = specs.iter().map(|s| s.id.as_str()).collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "ids repeat");
        for cell in CellKind::ALL {
            for seq_len in ADDING_LENGTHS {
                let runs = specs
                    .iter()
                    .filter(|s| {
                        s.cell == cell
                            && s.id.starts_with(&format!("adding-T{seq_len}-"))
                    })
                    .filter(|s| s.group == "length")
                    .count();
                assert_eq!(runs, 3, "{} T={seq_len}", cell.name());
            }
        }
        assert!(study(true, 101).len() < specs.len());
    }

    #[test]
    fn a_record_round_trips_and_a_wrong_one_is_named() {
        let dir = std::env::temp_dir()
            .join(format!("ch07-records-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let spec = study(true, 20).remove(0);
        let record = Record {
            format: RECORD_FORMAT.into(),
            spec,
            outcome: Outcome::Task(TaskResult {
                metric_name: "test MSE".into(),
                chance: 1.0 / 6.0,
                higher_is_better: false,
                curve: vec![CurvePoint {
                    step: 1,
                    train_loss: 0.2,
                    metric: 0.1,
                }],
                final_metric: 0.1,
                lstm: None,
            }),
            wall_seconds: 1.0,
            cpu: "test".into(),
            commit: "abc".into(),
        };
        record.write(&dir).unwrap();
        let back = Records::read(&dir).unwrap();
        assert_eq!(back.records.len(), 1);
        assert_eq!(back.records[0], record);
        std::fs::write(
            dir.join("other.json"),
            serde_json::to_string(&record).unwrap(),
        )
        .unwrap();
        let e = Records::read(&dir).unwrap_err().to_string();
        assert!(
            e.contains("other.json") && e.contains("not the file's name"),
            "{e}"
        );
        std::fs::write(dir.join("other.json"), "{").unwrap();
        let e = Records::read(&dir).unwrap_err().to_string();
        assert!(
            e.contains("other.json") && e.contains("not a run record"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

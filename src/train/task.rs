//! `rnnbook train adding|copy|reber --cell CELL`: one run of chapter 7's study by hand, with a
//! checkpoint (written atomically every `--checkpoint-every` steps and at the end), `--resume`
//! (which continues bit for bit), and a record of the run next to it.

use std::path::PathBuf;

use anyhow::{Result, ensure};
use ch07_experiments::run::{AnyRun, CellKind, RunConfig, test_batch};
use ch07_experiments::study::{Outcome, Spec, TaskResult, TaskSpec, What};
use ch07_experiments::tasks::CopyTask;
use serde::{Deserialize, Serialize};

use super::options::ensure_positive;
use super::resumable::{self, Settings, checkpoint_path, train_to, write_record};

/// Which synthetic task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskName {
    /// The adding problem.
    Adding,
    /// The copy task.
    Copy,
    /// The embedded Reber grammar.
    Reber,
}

/// `rnnbook train TASK`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct TaskOptions {
    /// The cell: rnn, lstm, gru (reset-after) or gru-cho (reset-before).
    #[arg(long, value_parser = parse_cell)]
    pub cell: CellKind,
    /// The length: T for the adding problem, the delay for the copy task (ignored by reber).
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub seq_len: usize,
    /// Hidden units H.
    #[arg(long, value_name = "H", default_value_t = 32, value_parser = super::options::positive_usize)]
    pub hidden: usize,
    /// Sequences per batch.
    #[arg(long, value_name = "B", default_value_t = 32, value_parser = super::options::positive_usize)]
    pub batch: usize,
    /// Updates in all (a resumed run counts the checkpoint's).
    #[arg(long, value_name = "S", default_value_t = 2000)]
    pub steps: u64,
    /// Adam's step size.
    #[arg(long, default_value_t = 1e-2, value_parser = super::options::positive_f64)]
    pub lr: f64,
    /// The cap on the gradient's global norm.
    #[arg(long, value_name = "NORM", default_value_t = 1.0, value_parser = super::options::positive_f64)]
    pub clip: f64,
    /// Seed of the parameters and the batches.
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub seed: u64,
    /// Added to the LSTM's forget-gate bias at initialisation.
    #[arg(
        long,
        value_name = "B",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    pub forget_bias: f64,
    /// The LSTM's chrono initialisation (Tallec & Ollivier 2018) with this T_max, instead of
    /// PyTorch's gate biases.
    #[arg(long, value_name = "T_MAX", conflicts_with = "forget_bias")]
    pub chrono: Option<f64>,
    /// Run the recurrent layer through chapter 6's fused f32 kernel (lstm and gru only); the
    /// output layer, the loss, Adam and the parameters stay in f64.
    #[arg(long)]
    pub fused: bool,
    /// Measure the test metric every N steps.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub eval_every: u64,
    /// Save the checkpoint every N steps (and at the end).
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub checkpoint_every: u64,
    /// The run's folder: `checkpoint.json` and `record.json` (default: target/rnnbook/TASK-CELL).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Continue the run in --out; its task and settings must be the same (--steps may grow).
    #[arg(long)]
    pub resume: bool,
}

pub(super) fn parse_cell(s: &str) -> std::result::Result<CellKind, String> {
    CellKind::parse(s).ok_or_else(|| format!("`{s}` is not a cell: rnn, lstm, gru or gru-cho"))
}

/// What a task run is started with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TaskSettings {
    task: TaskSpec,
    config: RunConfig,
}

impl Settings for TaskSettings {
    fn steps_mut(&mut self) -> &mut u64 {
        &mut self.config.steps
    }
}

/// The format tag of a task checkpoint.
pub const TASK_CHECKPOINT_FORMAT: &str = "rnnbook-train-task-v1";

impl TaskOptions {
    fn task(&self, name: TaskName) -> TaskSpec {
        match name {
            TaskName::Adding => TaskSpec::Adding {
                seq_len: self.seq_len,
            },
            TaskName::Copy => TaskSpec::Copy(CopyTask {
                symbols: 8,
                recall: 3,
                delay: self.seq_len,
            }),
            TaskName::Reber => TaskSpec::Reber,
        }
    }

    fn config(&self) -> RunConfig {
        RunConfig {
            hidden: self.hidden,
            batch: self.batch,
            steps: self.steps,
            lr: self.lr,
            clip: self.clip,
            seed: self.seed,
            eval_every: self.eval_every,
            test_size: 500,
            forget_bias: self.forget_bias,
            chrono: self.chrono,
            fused: self.fused,
        }
    }

    fn validate(&self, name: TaskName) -> Result<()> {
        for (flag, v) in [
            ("--hidden", self.hidden as u64),
            ("--batch", self.batch as u64),
            ("--eval-every", self.eval_every),
            ("--checkpoint-every", self.checkpoint_every),
        ] {
            ensure!(v > 0, "{flag} must be at least 1");
        }
        ensure!(
            name == TaskName::Reber || self.seq_len >= 2,
            "--seq-len must be at least 2"
        );
        ensure!(
            !self.fused || self.cell.has_fused_kernel(),
            "--fused: {} has no fused kernel; chapter 6 has the lstm's and the gru's",
            self.cell.name()
        );
        ensure_positive("--lr", self.lr)?;
        ensure_positive("--clip", self.clip)?;
        ensure!(
            self.forget_bias.is_finite(),
            "--forget-bias must be a number"
        );
        if let Some(t_max) = self.chrono {
            ensure!(
                t_max > 2.0 && t_max.is_finite(),
                "--chrono must be a T_max above 2 (time scales are drawn from 2 to T_max), got {t_max}"
            );
        }
        Ok(())
    }
}

/// `rnnbook train TASK`: trains (or continues) one run and writes its record.
pub fn command(name: TaskName, o: &TaskOptions) -> Result<()> {
    o.validate(name).map_err(crate::exit::bad_input)?;
    let spec_task = o.task(name);
    let task = spec_task.task();
    let config = o.config();
    let dir = o.out.clone().unwrap_or_else(|| {
        crate::repo_root()
            .join("target/rnnbook")
            .join(format!("{}-{}", task.name(), o.cell.name()))
    });
    let ckpt_path = checkpoint_path(&dir);
    let settings = TaskSettings {
        task: spec_task,
        config: config.clone(),
    };
    let mut state = resumable::open(
        &ckpt_path,
        TASK_CHECKPOINT_FORMAT,
        (o.resume, o.cell, &settings),
        || AnyRun::new(o.cell, task.as_ref(), &config),
    )?;
    let test = test_batch(task.as_ref(), &config);
    let scoring = task.scoring();
    train_to(
        &mut state,
        &ckpt_path,
        (o.steps, o.checkpoint_every),
        |run| {
            let stats = run
                .advance(task.as_ref(), &config, &test)
                .map_err(|e| e.to_string())?;
            let metric = run.curve().last().map_or(f64::NAN, |p| p.metric); // the last measured
            Ok(format!(
                "loss {:.4}  {} {metric:.4} (chance {:.4})",
                stats.loss_per_char, scoring.name, scoring.chance
            ))
        },
    )?;
    let curve = state.run.curve_to_end(task.as_ref(), &test);
    let final_metric = curve.last().map_or(f64::NAN, |p| p.metric);
    let id = format!("{}-{}-s{}", task.name(), o.cell.name(), o.seed);
    let spec = Spec {
        id,
        group: "by-hand".to_string(),
        cell: o.cell,
        what: What::Task {
            task: spec_task,
            config,
        },
        keep_model: false,
    };
    let outcome = Outcome::Task(TaskResult {
        metric_name: scoring.name.to_string(),
        chance: scoring.chance,
        higher_is_better: scoring.higher_is_better,
        curve,
        final_metric,
        lstm: None,
    });
    let record = write_record(&dir, spec, outcome, state.seconds)?;
    eprintln!(
        "{} {} after {} steps: {} {final_metric:.4} (a model that remembers nothing: {:.4}); \
         checkpoint {}, record {}",
        task.name(),
        o.cell.name(),
        o.steps,
        scoring.name,
        scoring.chance,
        ckpt_path.display(),
        record.display()
    );
    Ok(())
}

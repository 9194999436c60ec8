//! The options of `rnnbook train rnn`, written once: the command line parses them (clap), the
//! run summary records them (serde), and the defaults live in the attributes below.

use std::path::{Path, PathBuf};

use anyhow::{Result, ensure};
use clap::Parser;
use serde::{Deserialize, Serialize};

/// Default hidden size `H`.
pub const DEFAULT_HIDDEN: usize = 128;
/// Default truncated-BPTT window (steps per update).
pub const DEFAULT_SEQ_LEN: usize = 32;
/// Default number of streams trained side by side.
pub const DEFAULT_BATCH: usize = 16;
/// Default Adam step size.
pub const DEFAULT_LR: f64 = 2e-3;
/// Default cap on the gradient's global norm.
pub const DEFAULT_CLIP: f64 = 5.0;
/// Default number of steps (updates) to train to.
pub const DEFAULT_STEPS: u64 = 5000;
/// Default seed of the initialisation and of the samples.
pub const DEFAULT_SEED: u64 = 1;
/// Default: a sample every this many steps.
pub const DEFAULT_SAMPLE_EVERY: u64 = 500;
/// Default length of a sample, in characters.
pub const DEFAULT_SAMPLE_LEN: usize = 200;
/// Default sampling temperature.
pub const DEFAULT_TEMPERATURE: f64 = 0.8;
/// Default: a checkpoint every this many steps (and always at the end).
pub const DEFAULT_CHECKPOINT_EVERY: u64 = 500;

/// Where the checkpoint goes unless `--checkpoint` says otherwise.
pub fn default_checkpoint() -> PathBuf {
    crate::repo_root()
        .join("target")
        .join("rnnbook")
        .join("train-rnn.json")
}

/// Everything `rnnbook train rnn` can be told. The run summary records the options that shape
/// the run; the files (text, book, checkpoint, log) and `--fresh` it leaves out.
#[derive(Debug, Clone, clap::Args, Serialize, Deserialize, PartialEq)]
pub struct TrainOptions {
    /// Train on this UTF-8 text file instead of the book's chapters (BOOK/src/*.md, by name).
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub text: Option<PathBuf>,
    /// The book folder whose src/*.md is the default text.
    #[arg(long = "book", value_name = "BOOK", default_value_os_t = crate::default_book_dir())]
    #[serde(skip)]
    pub book_dir: PathBuf,
    /// Hidden units H.
    #[arg(long, value_name = "H", default_value_t = DEFAULT_HIDDEN, value_parser = positive_usize)]
    pub hidden: usize,
    /// Truncated-BPTT window: characters per stream per update (the state flows on across
    /// windows; the gradient stops at each window's start).
    #[arg(long, value_name = "T", default_value_t = DEFAULT_SEQ_LEN, value_parser = positive_usize)]
    pub seq_len: usize,
    /// Streams trained side by side (chapter 1's `streams`).
    #[arg(long, value_name = "B", default_value_t = DEFAULT_BATCH, value_parser = positive_usize)]
    pub batch: usize,
    /// Adam's step size.
    #[arg(long, default_value_t = DEFAULT_LR, value_parser = positive_f64)]
    pub lr: f64,
    /// Clip the global L2 norm of the gradient (of the mean loss per character) to this.
    #[arg(long, value_name = "NORM", default_value_t = DEFAULT_CLIP, value_parser = positive_f64)]
    pub clip: f64,
    /// Train until this many updates in total (a resumed run counts the checkpoint's).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_STEPS)]
    pub steps: u64,
    /// Seed of the initialisation and of the samples.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Print a sample every N steps (0: only at the end).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_SAMPLE_EVERY)]
    pub sample_every: u64,
    /// Characters per sample.
    #[arg(long, value_name = "CHARS", default_value_t = DEFAULT_SAMPLE_LEN)]
    pub sample_len: usize,
    /// Sampling temperature: below 1 sharper, above 1 flatter.
    #[arg(long, value_name = "TEMP", default_value_t = DEFAULT_TEMPERATURE, value_parser = positive_f64)]
    pub temperature: f64,
    /// The checkpoint file (JSON), written atomically.
    #[arg(long, value_name = "PATH", default_value_os_t = default_checkpoint())]
    #[serde(skip)]
    pub checkpoint: PathBuf,
    /// Save the checkpoint every N steps as well as at the end (0: only at the end).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CHECKPOINT_EVERY)]
    pub checkpoint_every: u64,
    /// Continue from the checkpoint; its vocabulary and --hidden, --seq-len, --batch, --seed must
    /// match (--lr and --clip may change).
    #[arg(long, conflicts_with = "fresh")]
    pub resume: bool,
    /// Start a new run even if the checkpoint file exists (it is replaced at the first save).
    #[arg(long)]
    #[serde(skip)]
    pub fresh: bool,
    /// Write step, loss per character, smoothed loss and gradient norm to this CSV, and a summary
    /// of the run (command, options, wall time, final loss, a sample) next to it as .json.
    #[arg(long, value_name = "CSV")]
    #[serde(skip)]
    pub log: Option<PathBuf>,
}

/// The options alone, as a command line to parse (for [`TrainOptions::new`]).
#[derive(Parser)]
struct Defaults {
    #[command(flatten)]
    options: TrainOptions,
}

impl TrainOptions {
    /// The command line's defaults, with the checkpoint at `checkpoint`.
    pub fn new(checkpoint: PathBuf) -> Self {
        let mut o = Defaults::parse_from(["train"]).options;
        o.checkpoint = checkpoint;
        o
    }

    /// Refuses settings the chapters' code would panic on.
    pub fn validate(&self) -> Result<()> {
        ensure!(self.hidden > 0, "--hidden must be at least 1");
        ensure!(self.seq_len > 0, "--seq-len must be at least 1");
        ensure!(self.batch > 0, "--batch must be at least 1");
        ensure_positive("--lr", self.lr)?;
        ensure_positive("--clip", self.clip)?;
        ensure_positive("--temperature", self.temperature)?;
        ensure!(
            !(self.resume && self.fresh),
            "--resume and --fresh contradict each other"
        );
        if let Some(log) = &self.log {
            ensure!(
                log != &self.checkpoint,
                "--log and --checkpoint are the same file, {}",
                log.display()
            );
            let summary = summary_path(log);
            ensure!(
                summary != self.checkpoint,
                "the run summary {} (the --log file with .json) would overwrite the checkpoint; \
                 choose another --log or --checkpoint",
                summary.display()
            );
        }
        Ok(())
    }
}

/// `flag`'s value is a positive, finite number, or an error naming it.
pub(crate) fn ensure_positive(flag: &str, v: f64) -> Result<()> {
    ensure!(
        v.is_finite() && v > 0.0,
        "{flag} must be a positive number, got {v}"
    );
    Ok(())
}

/// The run summary written next to a log: the same path with the extension `.json`.
pub fn summary_path(log: &Path) -> PathBuf {
    log.with_extension("json")
}

pub(crate) fn positive_usize(s: &str) -> std::result::Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("`{s}` is not a whole number of at least 1")),
    }
}

pub(crate) fn positive_f64(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(format!("`{s}` is not a positive number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_the_command_lines() {
        let o = TrainOptions::new(PathBuf::from("c.json"));
        assert_eq!(
            (o.hidden, o.seq_len, o.batch),
            (DEFAULT_HIDDEN, DEFAULT_SEQ_LEN, DEFAULT_BATCH)
        );
        assert_eq!(
            (o.lr, o.clip, o.steps),
            (DEFAULT_LR, DEFAULT_CLIP, DEFAULT_STEPS)
        );
        assert_eq!(o.checkpoint, PathBuf::from("c.json"));
        assert_eq!(o.book_dir, crate::default_book_dir());
        assert!(o.text.is_none() && o.log.is_none() && !o.resume && !o.fresh);
        o.validate().unwrap();
    }
}

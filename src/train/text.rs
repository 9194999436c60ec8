//! `rnnbook train text --cell CELL`: a character model of any cell, trained on the first part of
//! a text and measured in bits per character on the rest, as in chapter 7's study; with a
//! checkpoint, `--resume` (bit for bit) and a record of the run. By default the hidden size is
//! the one that gives the study's budget of parameters, so the cells compare at an equal size.

use std::path::PathBuf;

use anyhow::{Result, ensure};
use ch07_experiments::run::CellKind;
use ch07_experiments::study::{Outcome, Spec, TEXT_BUDGET, What};
use ch07_experiments::tasks::{bits_per_char, split_text};
use ch07_experiments::text::{AnyTextRun, TextConfig, hidden_for_budget, parts};
use serde::{Deserialize, Serialize};

use super::check_text;
use super::corpus::corpus_from;
use super::options::ensure_positive;
use super::resumable::{self, Settings, checkpoint_path, train_to, write_record};
use crate::exit::bad_input;

/// `rnnbook train text`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct TextOptions {
    /// The cell: rnn, lstm, gru (reset-after) or gru-cho (reset-before).
    #[arg(long, value_parser = super::task::parse_cell)]
    pub cell: CellKind,
    /// Train on this UTF-8 text file instead of the book's chapters (BOOK/src/*.md, by name).
    #[arg(long, value_name = "FILE")]
    pub text: Option<PathBuf>,
    /// The book folder whose src/*.md is the default text.
    #[arg(long = "book", value_name = "BOOK", default_value_os_t = crate::default_book_dir())]
    pub book_dir: PathBuf,
    /// Hidden units H (default: the largest H within the study's budget of parameters).
    #[arg(long, value_name = "H")]
    pub hidden: Option<usize>,
    /// Characters per stream per update.
    #[arg(long, value_name = "T", default_value_t = 32, value_parser = super::options::positive_usize)]
    pub seq_len: usize,
    /// Streams trained side by side.
    #[arg(long, value_name = "B", default_value_t = 16, value_parser = super::options::positive_usize)]
    pub batch: usize,
    /// Updates in all (a resumed run counts the checkpoint's).
    #[arg(long, value_name = "S", default_value_t = 5000)]
    pub steps: u64,
    /// Adam's step size.
    #[arg(long, default_value_t = 2e-3, value_parser = super::options::positive_f64)]
    pub lr: f64,
    /// The cap on the gradient's global norm (of the mean loss per character).
    #[arg(long, value_name = "NORM", default_value_t = 5.0, value_parser = super::options::positive_f64)]
    pub clip: f64,
    /// Seed of the parameters and the sample.
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub seed: u64,
    /// Measure the held-out loss every N steps (and at the end).
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub eval_every: u64,
    /// The fraction of the text, at its end, held out.
    #[arg(long, value_name = "F", default_value_t = 0.1)]
    pub held_out: f64,
    /// Save the checkpoint every N steps (and at the end).
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub checkpoint_every: u64,
    /// The run's folder: `checkpoint.json` and the record (default: target/rnnbook/text-CELL).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Continue the run in --out; its text and settings must be the same (--steps may grow).
    #[arg(long)]
    pub resume: bool,
}

/// The format tag of a text checkpoint.
pub const TEXT_CHECKPOINT_FORMAT: &str = "rnnbook-train-text-v1";

/// What a character model is started with: its settings and the text's FNV-1a hash (a resumed
/// run must see the same text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TextSettings {
    config: TextConfig,
    text_fnv1a64: String,
}

impl Settings for TextSettings {
    fn steps_mut(&mut self) -> &mut u64 {
        &mut self.config.steps
    }

    fn mismatch(&self, wanted: &Self) -> Option<String> {
        if self.text_fnv1a64 != wanted.text_fnv1a64 {
            return Some(
                "was trained on another text: a resumed run must see the same text".to_string(),
            );
        }
        let config = |s: &Self| TextConfig {
            steps: 0,
            ..s.config.clone()
        };
        (config(self) != config(wanted)).then(|| {
            format!(
                "was trained with other settings ({:?}); pass the same ones",
                self.config
            )
        })
    }
}

impl TextOptions {
    fn validate(&self) -> Result<()> {
        for (flag, v) in [
            ("--hidden", self.hidden.unwrap_or(1) as u64),
            ("--seq-len", self.seq_len as u64),
            ("--batch", self.batch as u64),
            ("--eval-every", self.eval_every),
            ("--checkpoint-every", self.checkpoint_every),
        ] {
            ensure!(v > 0, "{flag} must be at least 1");
        }
        ensure_positive("--lr", self.lr)?;
        ensure_positive("--clip", self.clip)?;
        ensure!(
            self.held_out > 0.0 && self.held_out < 1.0,
            "--held-out must be a fraction between 0 and 1, got {}",
            self.held_out
        );
        Ok(())
    }

    fn config(&self, hidden: usize) -> TextConfig {
        TextConfig {
            hidden,
            seq_len: self.seq_len,
            batch: self.batch,
            steps: self.steps,
            lr: self.lr,
            clip: self.clip,
            seed: self.seed,
            eval_every: self.eval_every,
            held_out: self.held_out,
        }
    }
}

/// `rnnbook train text`: trains (or continues) one character model and writes its record.
pub fn command(o: &TextOptions) -> Result<()> {
    o.validate().map_err(bad_input)?;
    let corpus = corpus_from(o.text.as_deref(), &o.book_dir).map_err(bad_input)?;
    let split = split_text(&corpus.text, o.held_out)
        .map_err(|e| bad_input(anyhow::anyhow!("cannot train on {}: {e}", corpus.source)))?;
    let hidden_default = |v| hidden_for_budget(o.cell, v, TEXT_BUDGET);
    let probe = o.config(o.hidden.unwrap_or(1));
    let (train, test) = parts(&split, &probe)
        .map_err(|e| bad_input(anyhow::anyhow!("cannot train on {}: {e}", corpus.source)))?;
    check_text(
        &format!("the training part of {}", corpus.source),
        &train,
        o.batch,
        o.seq_len,
    )
    .map_err(bad_input)?;
    let v = train.vocab.len();
    let config = o.config(o.hidden.unwrap_or_else(|| hidden_default(v)));
    let dir = o.out.clone().unwrap_or_else(|| {
        crate::repo_root()
            .join("target/rnnbook")
            .join(format!("text-{}", o.cell.name()))
    });
    let ckpt_path = checkpoint_path(&dir);
    let settings = TextSettings {
        config: config.clone(),
        text_fnv1a64: corpus.fingerprint(),
    };
    let mut state = resumable::open(
        &ckpt_path,
        TEXT_CHECKPOINT_FORMAT,
        (o.resume, o.cell, &settings),
        || AnyTextRun::new(o.cell, v, &config),
    )?;
    let uniform = (v as f64).log2();
    train_to(
        &mut state,
        &ckpt_path,
        (o.steps, o.checkpoint_every),
        |run| {
            let stats = run
                .advance(&train, &test, &config)
                .map_err(|e| e.to_string())?;
            let held_out = run
                .curve()
                .last()
                .map_or("–".to_string(), |p| format!("{:.3}", p.test_bits));
            Ok(format!(
                "bits/char {:.3}, held out {held_out} (uniform {uniform:.2})",
                bits_per_char(stats.loss_per_char)
            ))
        },
    )?;
    let outcome = state.run.outcome(&split, &test, &config);
    let hidden = config.hidden;
    let spec = Spec {
        id: format!("text-{}-s{}", o.cell.name(), o.seed),
        group: "by-hand".to_string(),
        cell: o.cell,
        what: What::Text { config },
        keep_model: false,
    };
    let (bits, unigram, params) = (
        outcome.final_test_bits,
        outcome.unigram_bits,
        outcome.parameters,
    );
    println!("── sample ──\n{}\n", outcome.sample);
    let record = write_record(&dir, spec, Outcome::Text(outcome), state.seconds)?;
    eprintln!(
        "text {} (H = {}, {params} parameters) after {} steps: {bits:.3} held-out bits per \
         character (character frequencies: {unigram:.3}, uniform: {uniform:.3}); checkpoint {}, \
         record {}",
        o.cell.name(),
        hidden,
        o.steps,
        ckpt_path.display(),
        record.display()
    );
    Ok(())
}

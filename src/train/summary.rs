//! The run summary (JSON next to the log) that the book quotes, and the samples a run shows.

use std::time::Instant;

use ch00_foundations::rng::seeded_rng;
use ch01_rnn::params::Tensors;
use ch01_rnn::sample::sample;
use ch03_clipping::train::{Batches, text_loss_per_char};
use ch03_clipping::train_log::LogRow;
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::checkpoint::Checkpoint;
use super::corpus::{Corpus, display_path};
use super::options::TrainOptions;

/// The format tag of a run summary (the JSON next to the log).
pub const SUMMARY_FORMAT: &str = "rnnbook-train-run-v1";

/// A sample of `--sample-len` characters from the run's model after the text's first character,
/// drawn with a generator seeded by `(seed, step)` so that it does not touch the training.
pub fn sample_text(c: &Checkpoint, batches: &Batches, o: &TrainOptions) -> String {
    let mut rng = seeded_rng(splitmix64(o.seed ^ splitmix64(c.step)));
    let h0 = Array2::zeros((1, c.model.hidden_size()));
    let start = batches.first;
    let drawn = sample(&c.model, h0, start, o.sample_len, o.temperature, &mut rng);
    let mut out = batches.vocab.decode(&[start]);
    out.push_str(&batches.vocab.decode(&drawn));
    out
}

/// CPU time of this process's main thread so far, where Linux reports it.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/schedstat").ok()?;
    let nanos: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(nanos as f64 * 1e-9)
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The text of a run as the summary records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryText {
    /// E.g. `book/src/*.md`.
    pub source: String,
    /// The files, in order, relative to the repository when inside it.
    pub files: Vec<String>,
    /// Characters (Unicode scalar values).
    pub chars: usize,
    /// FNV-1a 64 of the UTF-8 bytes.
    pub fnv1a64: String,
}

/// What a run did: written next to the log (`.json`) so the book can quote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Always [`SUMMARY_FORMAT`].
    pub format: String,
    /// The command line, as `rnnbook …`.
    pub command: String,
    /// The options.
    pub options: TrainOptions,
    /// The text.
    pub text: SummaryText,
    /// `V`.
    pub vocab_size: usize,
    /// `ln V`: the loss per character of uniform guessing.
    pub ln_vocab_size: f64,
    /// Trainable scalars.
    pub parameters: usize,
    /// The step this invocation started from (0 unless resumed).
    pub start_step: u64,
    /// The step it ended at.
    pub steps: u64,
    /// Wall time of this invocation, in seconds (loading, training, saving, samples, and the
    /// final pass over the text).
    pub wall_seconds: f64,
    /// Wall time of this invocation's training loop alone, in seconds.
    pub train_seconds: f64,
    /// Seconds of training over every invocation that led to this checkpoint.
    pub total_train_seconds: f64,
    /// Updates per second of the training loop in this invocation.
    pub steps_per_second: f64,
    /// CPU seconds of this invocation's main thread, which trains (Linux: `/proc/self/schedstat`);
    /// unlike the wall time it does not grow when other programs share the machine.
    pub cpu_seconds: Option<f64>,
    /// Threads available on the machine (the chapters' code uses one).
    pub available_threads: usize,
    /// The loss per character of the first logged step.
    pub first_loss_per_char: Option<f64>,
    /// The loss per character of the last step (`None` if this invocation made no step).
    pub final_loss_per_char: Option<f64>,
    /// The smoothed loss per character after the last step.
    pub final_smoothed_loss_per_char: f64,
    /// The loss per character over one whole pass of the text with the final model.
    pub text_loss_per_char: f64,
    /// The final sample (starts with the text's first character).
    pub final_sample: String,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn summarize(
    opts: &TrainOptions,
    command: &str,
    corpus: &Corpus,
    batches: &Batches,
    state: &Checkpoint,
    rows: &[LogRow],
    start_step: u64,
    wall: Instant,
    loop_seconds: f64,
) -> RunSummary {
    let v = batches.vocab.len();
    let final_sample = sample_text(state, batches, opts);
    let text_loss = text_loss_per_char(&state.model, batches);
    let wall_seconds = wall.elapsed().as_secs_f64();
    let last = rows.last().filter(|r| r.step == state.step);
    RunSummary {
        format: SUMMARY_FORMAT.to_string(),
        command: command.to_string(),
        options: opts.clone(),
        text: SummaryText {
            source: corpus.source.clone(),
            files: corpus.files.iter().map(|f| display_path(f)).collect(),
            chars: corpus.text.chars().count(),
            fnv1a64: corpus.fingerprint(),
        },
        vocab_size: v,
        ln_vocab_size: (v as f64).ln(),
        parameters: state.model.num_scalars(),
        start_step,
        steps: state.step,
        wall_seconds,
        train_seconds: loop_seconds,
        total_train_seconds: state.train_seconds,
        steps_per_second: (state.step - start_step) as f64 / loop_seconds.max(1e-9),
        cpu_seconds: cpu_seconds(),
        available_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        first_loss_per_char: rows.first().map(|r| r.loss_per_char),
        final_loss_per_char: last.map(|r| r.loss_per_char),
        final_smoothed_loss_per_char: state.smoothed_loss_per_char,
        text_loss_per_char: text_loss,
        final_sample,
    }
}

//! `rnnbook train rnn`: chapter 1's character RNN, trained on text the project owns.
//!
//! The pieces all come from the chapters: the model, vocabulary, streams and sampling from
//! chapter 1, the gradient (one truncated-BPTT window per step) and Adam from chapter 2, and
//! clipping by global norm from chapter 3. This module only drives them and keeps the books:
//! a checkpoint, a CSV log of the loss, and a summary of the run that the book quotes.
//!
//! # Reproducible and resumable
//!
//! Nothing in a run is random except the model's initialisation (from `--seed`) and the samples
//! shown on the way (each drawn from a generator seeded with `(seed, step)`, so they do not touch
//! the training). The data a step sees follows from the step number alone: step `s` trains on
//! window `s mod W` of the `W` windows of the streams, and the hidden state is reset at each
//! epoch's first window. A checkpoint holds the rest (parameters, Adam's moments, the carried
//! hidden state, all as exact `f64`s), so training `N` steps in one go and training `K` steps,
//! stopping and resuming to `N` give bit-identical parameters.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail, ensure};
use ch00_foundations::rng::seeded_rng;
use ch01_rnn::data::{Vocab, one_hot, streams};
use ch01_rnn::model::{CharRnn, model_forward, sequence_loss};
use ch01_rnn::params::Tensors;
use ch01_rnn::sample::sample;
use ch02_bptt::adam::Adam;
use ch02_bptt::model::loss_and_grads;
use ch03_clipping::clip::clip_by_global_norm;
use indicatif::ProgressBar;
use ndarray::{Array2, s};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::fsutil::write_atomic;

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
/// Weight of the newest step in the smoothed loss: `s ← (1 − a) s + a loss`.
pub const SMOOTHING: f64 = 0.02;

/// The format tag of a checkpoint file.
pub const CHECKPOINT_FORMAT: &str = "rnnbook-train-rnn-v1";
/// The format tag of a run summary (the JSON next to the log).
pub const SUMMARY_FORMAT: &str = "rnnbook-train-run-v1";
/// The header row of the CSV log.
pub const LOG_HEADER: &str = "step,loss_per_char,smoothed_loss_per_char,grad_norm";

/// Where the checkpoint goes unless `--checkpoint` says otherwise.
pub fn default_checkpoint() -> PathBuf {
    crate::repo_root()
        .join("target")
        .join("rnnbook")
        .join("train-rnn.json")
}

/// Everything `rnnbook train rnn` can be told.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// A UTF-8 text file to train on; `None` for the book's own chapters.
    pub text: Option<PathBuf>,
    /// The book folder: its `src/*.md`, sorted by name and concatenated, is the default text.
    pub book_dir: PathBuf,
    /// Hidden units `H`.
    pub hidden: usize,
    /// Steps per truncated-BPTT window, i.e. per update.
    pub seq_len: usize,
    /// Streams trained side by side, `B`.
    pub batch: usize,
    /// Adam's step size.
    pub lr: f64,
    /// Cap on the gradient's global L2 norm.
    pub clip: f64,
    /// Train until this many updates have been made in total (counting a resumed checkpoint's).
    pub steps: u64,
    /// Seed of the initialisation and of the samples.
    pub seed: u64,
    /// Show a sample every this many steps (0: only at the end).
    pub sample_every: u64,
    /// Characters per sample.
    pub sample_len: usize,
    /// Sampling temperature (> 0).
    pub temperature: f64,
    /// The checkpoint file.
    pub checkpoint: PathBuf,
    /// Save the checkpoint every this many steps (0: only at the end).
    pub checkpoint_every: u64,
    /// Continue from the checkpoint.
    pub resume: bool,
    /// Start over even if the checkpoint file exists (it is replaced at the first save).
    pub fresh: bool,
    /// Write the loss per step to this CSV, and a run summary next to it (`.json`).
    pub log: Option<PathBuf>,
}

impl TrainOptions {
    /// The defaults, with the checkpoint at `checkpoint`.
    pub fn new(checkpoint: PathBuf) -> Self {
        TrainOptions {
            text: None,
            book_dir: crate::default_book_dir(),
            hidden: DEFAULT_HIDDEN,
            seq_len: DEFAULT_SEQ_LEN,
            batch: DEFAULT_BATCH,
            lr: DEFAULT_LR,
            clip: DEFAULT_CLIP,
            steps: DEFAULT_STEPS,
            seed: DEFAULT_SEED,
            sample_every: DEFAULT_SAMPLE_EVERY,
            sample_len: DEFAULT_SAMPLE_LEN,
            temperature: DEFAULT_TEMPERATURE,
            checkpoint,
            checkpoint_every: DEFAULT_CHECKPOINT_EVERY,
            resume: false,
            fresh: false,
            log: None,
        }
    }

    /// Refuses settings the chapters' code would panic on.
    pub fn validate(&self) -> Result<()> {
        ensure!(self.hidden > 0, "--hidden must be at least 1");
        ensure!(self.seq_len > 0, "--seq-len must be at least 1");
        ensure!(self.batch > 0, "--batch must be at least 1");
        ensure!(
            self.lr.is_finite() && self.lr > 0.0,
            "--lr must be a positive number, got {}",
            self.lr
        );
        ensure!(
            self.clip.is_finite() && self.clip > 0.0,
            "--clip must be a positive number, got {}",
            self.clip
        );
        ensure!(
            self.temperature.is_finite() && self.temperature > 0.0,
            "--temperature must be a positive number, got {}",
            self.temperature
        );
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

/// The run summary written next to a log: the same path with the extension `.json`.
pub fn summary_path(log: &Path) -> PathBuf {
    log.with_extension("json")
}

// ---------------------------------------------------------------------------------------------
// The text

/// The text a run trains on.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// All of it.
    pub text: String,
    /// Where it came from, for messages and the summary (e.g. `book/src/*.md`).
    pub source: String,
    /// The files it was read from, in order.
    pub files: Vec<PathBuf>,
}

impl Corpus {
    /// A 64-bit FNV-1a hash of the text, in hex: tells whether a checkpoint saw the same text.
    pub fn fingerprint(&self) -> String {
        fnv1a64(self.text.as_bytes())
    }
}

fn fnv1a64(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Reads `--text FILE`, or else the book's chapters (`BOOK/src/*.md`, sorted by file name).
///
/// # Errors
/// A file that cannot be read or is not UTF-8, a chapter folder without `.md` files, or an empty
/// text; each message names the file or folder.
pub fn load_corpus(opts: &TrainOptions) -> Result<Corpus> {
    let (text, source, files) = match &opts.text {
        Some(path) => {
            let text = read_utf8(path, "text file")?;
            ensure!(
                !text.is_empty(),
                "the text file {} is empty: there is nothing to learn from",
                path.display()
            );
            (text, display_path(path), vec![path.clone()])
        }
        None => {
            let dir = opts.book_dir.join("src");
            let mut files = Vec::new();
            let entries = std::fs::read_dir(&dir).with_context(|| {
                format!("cannot read the book's chapter folder {}", dir.display())
            })?;
            for entry in entries {
                let entry =
                    entry.with_context(|| format!("cannot list the folder {}", dir.display()))?;
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "md") && path.is_file() {
                    files.push(path);
                }
            }
            files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
            ensure!(
                !files.is_empty(),
                "the book's chapter folder {} has no .md files to train on",
                dir.display()
            );
            let mut text = String::new();
            for f in &files {
                text.push_str(&read_utf8(f, "chapter")?);
            }
            ensure!(
                !text.is_empty(),
                "the book's chapters in {} are all empty: there is nothing to learn from",
                dir.display()
            );
            (text, format!("{}/*.md", display_path(&dir)), files)
        }
    };
    Ok(Corpus {
        text,
        source,
        files,
    })
}

fn read_utf8(path: &Path, what: &str) -> Result<String> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the {what} {}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        anyhow!(
            "the {what} {} is not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// `path` relative to the repository when it is inside it (so committed files hold no home
/// folders), else as given.
fn display_path(path: &Path) -> String {
    let root = crate::repo_root();
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    match abs.strip_prefix(&root) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

/// The text cut into training windows.
#[derive(Debug, Clone)]
pub struct Batches {
    /// The vocabulary (the text's sorted characters).
    pub vocab: Vocab,
    /// Input characters: `[N, B]`, one column per stream.
    pub inputs: Array2<usize>,
    /// Target characters (the next ones): `[N, B]`.
    pub targets: Array2<usize>,
    /// Steps per window.
    pub seq_len: usize,
    /// The first character of the text, where samples start.
    pub first: usize,
}

impl Batches {
    /// Cuts `text` into `batch` streams (chapter 1's [`streams`]), read `seq_len` steps at a time.
    ///
    /// # Errors
    /// If the text is too short to give every stream at least one character and its successor.
    pub fn new(text: &str, batch: usize, seq_len: usize) -> Result<Self> {
        let vocab = Vocab::from_text(text);
        let encoded = vocab
            .encode(text)
            .expect("a vocabulary made from the text covers the text");
        let (inputs, targets) = streams(&encoded, batch);
        ensure!(
            inputs.nrows() > 0,
            "the text has {} characters, too few for --batch {batch}: each of the {batch} streams \
             needs at least one character and the one after it ({} characters in all)",
            encoded.len(),
            batch + 1
        );
        Ok(Batches {
            vocab,
            inputs,
            targets,
            seq_len,
            first: encoded[0],
        })
    }

    /// `W`: windows per pass over the streams (the last one may be shorter).
    pub fn windows(&self) -> u64 {
        self.inputs.nrows().div_ceil(self.seq_len) as u64
    }

    /// Rows `start..end` of the streams read at `step` (0-based): window `step mod W`.
    pub fn window(&self, step: u64) -> (usize, usize) {
        let w = (step % self.windows()) as usize;
        let start = w * self.seq_len;
        (start, (start + self.seq_len).min(self.inputs.nrows()))
    }
}

// ---------------------------------------------------------------------------------------------
// The checkpoint

/// The settings a checkpoint was trained with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// `H`.
    pub hidden_size: usize,
    /// Steps per window.
    pub seq_len: usize,
    /// Streams `B`.
    pub batch: usize,
    /// Seed of the initialisation and samples.
    pub seed: u64,
    /// Adam's step size at the last save.
    pub lr: f64,
    /// The clipping threshold at the last save.
    pub clip: f64,
}

/// Everything needed to continue a run exactly where it stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Always [`CHECKPOINT_FORMAT`].
    pub format: String,
    /// Updates made so far.
    pub step: u64,
    /// The run's settings.
    pub settings: Settings,
    /// The vocabulary, by index.
    pub vocab: Vec<char>,
    /// FNV-1a hash of the text trained on (a different text is allowed, and noted).
    pub text_fnv1a64: String,
    /// The model.
    pub model: CharRnn,
    /// Adam, with its moments and step count.
    pub adam: Adam,
    /// The hidden state carried into the next window: `[B, H]`.
    pub hidden_state: Array2<f64>,
    /// The smoothed loss per character after the last step (`ln V` before the first).
    pub smoothed_loss_per_char: f64,
    /// Seconds spent training, over every run that led here.
    pub train_seconds: f64,
}

impl Checkpoint {
    fn fresh(opts: &TrainOptions, batches: &Batches, corpus: &Corpus) -> Self {
        let v = batches.vocab.len();
        let model = CharRnn::init(v, opts.hidden, &mut seeded_rng(opts.seed));
        let adam = Adam::new(opts.lr, &model);
        Checkpoint {
            format: CHECKPOINT_FORMAT.to_string(),
            step: 0,
            settings: settings_of(opts),
            vocab: batches.vocab.chars().to_vec(),
            text_fnv1a64: corpus.fingerprint(),
            model,
            adam,
            hidden_state: Array2::zeros((opts.batch, opts.hidden)),
            // Uniform guessing, which is where an untrained model starts.
            smoothed_loss_per_char: (v as f64).ln(),
            train_seconds: 0.0,
        }
    }

    /// Writes the checkpoint atomically: a crash or an error leaves the previous one whole.
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec(self).context("cannot encode the checkpoint as JSON")?;
        write_atomic(path, &json)
    }
}

fn settings_of(opts: &TrainOptions) -> Settings {
    Settings {
        hidden_size: opts.hidden,
        seq_len: opts.seq_len,
        batch: opts.batch,
        seed: opts.seed,
        lr: opts.lr,
        clip: opts.clip,
    }
}

/// Reads and checks a checkpoint.
///
/// # Errors
/// A file that cannot be read, is not JSON, lacks a field, or whose tensors have inconsistent
/// shapes; the message names the file and the field.
pub fn load_checkpoint(path: &Path) -> Result<Checkpoint> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the checkpoint {}", path.display()))?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        anyhow!(
            "the checkpoint {} is not valid JSON ({e}); it may be damaged, or not a checkpoint",
            path.display()
        )
    })?;
    let Some(obj) = value.as_object() else {
        bail!(
            "the checkpoint {} is not a JSON object; it is not an rnnbook checkpoint",
            path.display()
        );
    };
    let field = |name: &str| -> Result<&Value> {
        obj.get(name).ok_or_else(|| {
            anyhow!(
                "the checkpoint {}: field `{name}` is missing",
                path.display()
            )
        })
    };
    fn parse<T: DeserializeOwned>(path: &Path, name: &str, v: &Value) -> Result<T> {
        T::deserialize(v)
            .map_err(|e| anyhow!("the checkpoint {}: field `{name}`: {e}", path.display()))
    }
    let format: String = parse(path, "format", field("format")?)?;
    ensure!(
        format == CHECKPOINT_FORMAT,
        "the checkpoint {}: field `format` is {format:?}, expected {CHECKPOINT_FORMAT:?}",
        path.display()
    );
    let ckpt = Checkpoint {
        format,
        step: parse(path, "step", field("step")?)?,
        settings: parse(path, "settings", field("settings")?)?,
        vocab: parse(path, "vocab", field("vocab")?)?,
        text_fnv1a64: parse(path, "text_fnv1a64", field("text_fnv1a64")?)?,
        model: parse(path, "model", field("model")?)?,
        adam: parse(path, "adam", field("adam")?)?,
        hidden_state: parse(path, "hidden_state", field("hidden_state")?)?,
        smoothed_loss_per_char: parse(
            path,
            "smoothed_loss_per_char",
            field("smoothed_loss_per_char")?,
        )?,
        train_seconds: parse(path, "train_seconds", field("train_seconds")?)?,
    };
    check_shapes(&ckpt, field("adam")?)
        .map_err(|e| anyhow!("the checkpoint {}: {e}", path.display()))?;
    Ok(ckpt)
}

/// The shapes inside a checkpoint agree with each other (so nothing downstream can panic).
fn check_shapes(c: &Checkpoint, adam_json: &Value) -> Result<()> {
    let v = c.vocab.len();
    let h = c.settings.hidden_size;
    ensure!(v > 0, "field `vocab` is empty");
    ensure!(h > 0, "field `settings.hidden_size` is 0");
    ensure!(c.settings.batch > 0, "field `settings.batch` is 0");
    ensure!(c.settings.seq_len > 0, "field `settings.seq_len` is 0");
    let mut sorted = c.vocab.clone();
    sorted.sort_unstable();
    sorted.dedup();
    ensure!(
        sorted == c.vocab,
        "field `vocab` is not a sorted list of distinct characters"
    );
    let expected: [(&str, Vec<usize>); 6] = [
        ("model.rnn.weight_ih", vec![h, v]),
        ("model.rnn.weight_hh", vec![h, h]),
        ("model.rnn.bias_ih", vec![h]),
        ("model.rnn.bias_hh", vec![h]),
        ("model.out.weight_hy", vec![v, h]),
        ("model.out.bias_y", vec![v]),
    ];
    let tensors = c.model.tensors();
    for ((name, shape), (_, t)) in expected.iter().zip(&tensors) {
        ensure!(
            t.shape() == shape.as_slice(),
            "field `{name}` has shape {:?}, but V = {v} characters and H = {h} need {shape:?}",
            t.shape()
        );
    }
    ensure!(
        c.hidden_state.dim() == (c.settings.batch, h),
        "field `hidden_state` has shape {:?}, expected [batch, H] = [{}, {h}]",
        c.hidden_state.shape(),
        c.settings.batch
    );
    ensure!(
        c.adam.step == c.step,
        "field `adam.step` is {}, but field `step` is {}",
        c.adam.step,
        c.step
    );
    // Adam keeps its moments private; read their shapes from the JSON so that a damaged file is
    // an error here rather than a panic inside `Adam::update`.
    for moment in ["m", "v"] {
        let list = adam_json
            .get(moment)
            .and_then(Value::as_array)
            .ok_or_else(|| anyhow!("field `adam.{moment}` is missing or not a list"))?;
        ensure!(
            list.len() == expected.len(),
            "field `adam.{moment}` has {} tensors, expected {}",
            list.len(),
            expected.len()
        );
        for (k, ((name, shape), m)) in expected.iter().zip(list).enumerate() {
            let dim: Option<Vec<usize>> = m
                .get("dim")
                .and_then(|d| serde_json::from_value(d.clone()).ok());
            ensure!(
                dim.as_deref() == Some(shape.as_slice()),
                "field `adam.{moment}[{k}]` (for {name}) has shape {dim:?}, expected {shape:?}"
            );
        }
    }
    for (name, t) in &tensors {
        ensure!(
            t.iter().all(|x| x.is_finite()),
            "field `model`: tensor {name} holds a value that is not finite"
        );
    }
    Ok(())
}

/// The checkpoint can continue a run with these options on this text.
fn check_matches(c: &Checkpoint, opts: &TrainOptions, batches: &Batches) -> Result<()> {
    let file = opts.checkpoint.display();
    let hint = "pass the checkpoint's value, or use --fresh to start over";
    if c.vocab != batches.vocab.chars() {
        let theirs: std::collections::BTreeSet<char> = c.vocab.iter().copied().collect();
        let ours: std::collections::BTreeSet<char> =
            batches.vocab.chars().iter().copied().collect();
        let new: String = ours.difference(&theirs).collect();
        let gone: String = theirs.difference(&ours).collect();
        bail!(
            "the checkpoint {file} does not match the text: field `vocab` has {} characters, the \
             text {} (in the text only: {new:?}; in the checkpoint only: {gone:?}); train on the \
             same text, or use --fresh to start over",
            c.vocab.len(),
            batches.vocab.len()
        );
    }
    let pairs = [
        (
            "settings.hidden_size",
            "--hidden",
            c.settings.hidden_size as u64,
            opts.hidden as u64,
        ),
        (
            "settings.seq_len",
            "--seq-len",
            c.settings.seq_len as u64,
            opts.seq_len as u64,
        ),
        (
            "settings.batch",
            "--batch",
            c.settings.batch as u64,
            opts.batch as u64,
        ),
        ("settings.seed", "--seed", c.settings.seed, opts.seed),
    ];
    for (field, flag, theirs, ours) in pairs {
        ensure!(
            theirs == ours,
            "the checkpoint {file} does not match the options: field `{field}` is {theirs} but \
             {flag} is {ours}; {hint}"
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The log

/// One row of the CSV log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogRow {
    /// Updates made, counting this one (1-based).
    pub step: u64,
    /// This step's loss divided by the characters in its window.
    pub loss_per_char: f64,
    /// The exponentially smoothed loss per character.
    pub smoothed_loss_per_char: f64,
    /// The global L2 norm of the gradient of the loss per character, before clipping.
    pub grad_norm: f64,
}

/// A CSV log: `key=value` pairs from its `#` comment line, and its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainLog {
    /// From the comment line, e.g. `vocab_size` → `94`.
    pub meta: BTreeMap<String, String>,
    /// The rows, by step.
    pub rows: Vec<LogRow>,
}

impl TrainLog {
    /// `V`, from the comment line.
    pub fn vocab_size(&self) -> Option<usize> {
        self.meta.get("vocab_size")?.parse().ok()
    }
}

/// A number as people write it: `0.002`, `5`, but `1e308` rather than 309 digits.
fn num(x: f64) -> String {
    if x != 0.0 && !(1e-4..1e6).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// Six significant digits: the log stays small and reads back to the same text.
fn sig6(x: f64) -> f64 {
    format!("{x:.5e}").parse().unwrap_or(x)
}

fn log_text(meta: &str, rows: &[LogRow]) -> String {
    let mut out = String::with_capacity(64 + rows.len() * 40);
    let _ = writeln!(out, "# {meta}");
    let _ = writeln!(out, "{LOG_HEADER}");
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{}",
            r.step,
            sig6(r.loss_per_char),
            sig6(r.smoothed_loss_per_char),
            sig6(r.grad_norm)
        );
    }
    out
}

/// Reads a CSV log written by `rnnbook train rnn`.
///
/// # Errors
/// A missing or unreadable file, a wrong header, a row that is not four finite numbers, or steps
/// that do not increase; the message names the file and line.
pub fn read_log(path: &Path) -> Result<TrainLog> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the training log {}", path.display()))?;
    parse_log(&text).map_err(|e| anyhow!("the training log {}: {e}", path.display()))
}

fn parse_log(text: &str) -> Result<TrainLog> {
    let mut meta = BTreeMap::new();
    let mut rows: Vec<LogRow> = Vec::new();
    let mut header_seen = false;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim_end_matches('\r');
        if let Some(comment) = line.strip_prefix('#') {
            for pair in comment.split_whitespace() {
                if let Some((k, v)) = pair.split_once('=') {
                    meta.insert(k.to_string(), v.to_string());
                }
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        if !header_seen {
            ensure!(
                line == LOG_HEADER,
                "line {n}: expected the header `{LOG_HEADER}`, found `{line}`"
            );
            header_seen = true;
            continue;
        }
        let cols: Vec<&str> = line.split(',').collect();
        ensure!(
            cols.len() == 4,
            "line {n}: expected 4 columns ({LOG_HEADER}), found {}",
            cols.len()
        );
        let step: u64 = cols[0].trim().parse().map_err(|_| {
            anyhow!(
                "line {n}: column `step`: `{}` is not a step number",
                cols[0]
            )
        })?;
        let names = ["loss_per_char", "smoothed_loss_per_char", "grad_norm"];
        let mut vals = [0.0; 3];
        for (k, name) in names.iter().enumerate() {
            let s = cols[k + 1].trim();
            vals[k] = s
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| {
                    anyhow!("line {n}: column `{name}`: `{s}` is not a finite number")
                })?;
        }
        if let Some(prev) = rows.last() {
            ensure!(
                step > prev.step,
                "line {n}: step {step} comes after step {}; steps must increase",
                prev.step
            );
        }
        rows.push(LogRow {
            step,
            loss_per_char: vals[0],
            smoothed_loss_per_char: vals[1],
            grad_norm: vals[2],
        });
    }
    ensure!(header_seen, "no header line `{LOG_HEADER}`");
    Ok(TrainLog { meta, rows })
}

// ---------------------------------------------------------------------------------------------
// Training

/// What one update measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// The window's summed loss divided by its characters.
    pub loss_per_char: f64,
    /// The global norm of the gradient of the loss per character, before clipping.
    pub grad_norm: f64,
}

// ANCHOR: train_step
/// One update on the window of step `c.step`: forward and backward over the window (the state
/// flows in from the last window, the gradient stops at its start), the gradient divided by the
/// window's characters (so it is that of the mean loss per character), clipped, Adam; `c`
/// advances one step.
///
/// # Errors
/// A NaN or infinite loss, gradient entry or parameter, named with its step; `c` is then left
/// unchanged (except possibly a non-finite parameter, when the update itself overflowed), so the
/// caller must not save it.
pub fn train_step(c: &mut Checkpoint, batches: &Batches, clip: f64) -> Result<StepStats> {
    let step = c.step + 1; // the number this update will have
    let (start, end) = batches.window(c.step);
    if start == 0 {
        c.hidden_state.fill(0.0); // a new pass over the streams starts from h = 0
    }
    let v = batches.vocab.len();
    let x = one_hot(batches.inputs.slice(s![start..end, ..]), v);
    let targets = batches.targets.slice(s![start..end, ..]);
    let (loss, mut grads, _dh0, h_n) =
        loss_and_grads(&c.model, x.view(), targets, c.hidden_state.view());
    let chars = ((end - start) * batches.inputs.ncols()) as f64;
    let loss_per_char = loss / chars;
    // Chapter 2's loss is summed over the window's T·B characters; train on the mean, so that
    // --clip caps the gradient of the loss per character whatever the window and batch sizes.
    for (_, mut g) in grads.tensors_mut() {
        g /= chars;
    }
    let report = clip_by_global_norm(&mut grads, clip)
        .map_err(|e| anyhow!("step {step}: {e} (loss per character {loss_per_char})"))?;
    ensure!(
        loss_per_char.is_finite(),
        "step {step}: the loss is {loss_per_char} (the gradients were finite)"
    );
    c.adam.update(&mut c.model, &grads);
    if let Some((name, index)) = first_non_finite(&c.model) {
        bail!("step {step}: Adam's update made the parameter {name}{index:?} non-finite");
    }
    c.hidden_state = h_n;
    c.step = step;
    c.smoothed_loss_per_char =
        (1.0 - SMOOTHING) * c.smoothed_loss_per_char + SMOOTHING * loss_per_char;
    Ok(StepStats {
        loss_per_char,
        grad_norm: report.norm_before,
    })
}
// ANCHOR_END: train_step

fn first_non_finite(t: &impl Tensors) -> Option<(&'static str, Vec<usize>)> {
    t.tensors().into_iter().find_map(|(name, a)| {
        a.indexed_iter()
            .find(|(_, x)| !x.is_finite())
            .map(|(i, _)| (name, ndarray::Dimension::slice(&i).to_vec()))
    })
}

/// The loss per character over one whole pass of the streams, with the state carried from
/// window to window as in training (no update).
pub fn text_loss_per_char(model: &CharRnn, batches: &Batches) -> f64 {
    let v = batches.vocab.len();
    let mut h = Array2::zeros((batches.inputs.ncols(), model.hidden_size()));
    let mut loss = 0.0;
    for w in 0..batches.windows() {
        let (start, end) = batches.window(w);
        let x = one_hot(batches.inputs.slice(s![start..end, ..]), v);
        let (logits, h_n, _) = model_forward(model, x.view(), h.view());
        loss += sequence_loss(logits.view(), batches.targets.slice(s![start..end, ..])).0;
        h = h_n;
    }
    loss / batches.inputs.len() as f64
}

/// A sample of `len` characters after `start`, drawn with a generator seeded by `(seed, step)`.
pub fn sample_text(
    model: &CharRnn,
    vocab: &Vocab,
    start: usize,
    len: usize,
    temperature: f64,
    seed: u64,
    step: u64,
) -> String {
    let mut rng = seeded_rng(splitmix64(seed ^ splitmix64(step)));
    let h0 = Array2::zeros((1, model.hidden_size()));
    let drawn = sample(model, h0, start, len, temperature, &mut rng);
    let mut out = vocab.decode(&[start]);
    out.push_str(&vocab.decode(&drawn));
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

/// The options of a run as the summary records them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryOptions {
    /// `--hidden`.
    pub hidden: usize,
    /// `--seq-len`.
    pub seq_len: usize,
    /// `--batch`.
    pub batch: usize,
    /// `--lr`.
    pub lr: f64,
    /// `--clip`.
    pub clip: f64,
    /// `--steps`.
    pub steps: u64,
    /// `--seed`.
    pub seed: u64,
    /// `--sample-every`.
    pub sample_every: u64,
    /// `--sample-len`.
    pub sample_len: usize,
    /// `--temperature`.
    pub temperature: f64,
    /// `--checkpoint-every`.
    pub checkpoint_every: u64,
    /// `--resume`.
    pub resume: bool,
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
    pub options: SummaryOptions,
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

/// What [`train`] returns.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// The final state (also saved to the checkpoint file).
    pub checkpoint: Checkpoint,
    /// The summary (also written next to the log, when there is one).
    pub summary: RunSummary,
    /// False when the checkpoint was already at `--steps` and nothing was done.
    pub trained: bool,
}

/// Trains as `opts` say, showing progress on `pb` (pass `ProgressBar::hidden()` for none).
///
/// `command` is recorded in the run summary. Samples (every `sample_every` steps) are printed
/// to stdout above the bar.
///
/// # Errors
/// Bad options or text, an unreadable or mismatched checkpoint, files that cannot be written,
/// and a NaN or infinity in the loss, a gradient or a parameter (naming the step and the tensor).
/// On a non-finite value the checkpoint file keeps the last good state; the log (if any) is
/// written up to the last good step.
pub fn train(opts: &TrainOptions, command: &str, pb: &ProgressBar) -> Result<TrainOutcome> {
    let wall = Instant::now();
    opts.validate()?;
    let corpus = load_corpus(opts)?;
    let batches = Batches::new(&corpus.text, opts.batch, opts.seq_len)
        .with_context(|| format!("cannot train on {}", corpus.source))?;
    let note = |msg: String| pb.suspend(|| eprintln!("{msg}"));

    let mut state = if opts.resume {
        ensure!(
            opts.checkpoint.exists(),
            "cannot resume: there is no checkpoint at {} (leave out --resume to start a new run)",
            opts.checkpoint.display()
        );
        let c = load_checkpoint(&opts.checkpoint)?;
        check_matches(&c, opts, &batches)?;
        if c.text_fnv1a64 != corpus.fingerprint() {
            note(format!(
                "note: {} changed since the checkpoint was saved (same characters); the run goes \
                 on with the new text",
                corpus.source
            ));
        }
        c
    } else {
        if opts.checkpoint.exists() && !opts.fresh {
            bail!(
                "{} already holds a checkpoint; pass --resume to continue it, or --fresh to \
                 start over and replace it",
                opts.checkpoint.display()
            );
        }
        Checkpoint::fresh(opts, &batches, &corpus)
    };
    let start_step = state.step;
    if opts.resume {
        if state.settings.lr != opts.lr || state.settings.clip != opts.clip {
            note(format!(
                "note: continuing with --lr {} --clip {} (the checkpoint was trained with --lr {} \
                 --clip {})",
                num(opts.lr),
                num(opts.clip),
                num(state.settings.lr),
                num(state.settings.clip)
            ));
        }
        state.adam.lr = opts.lr;
        state.settings.lr = opts.lr;
        state.settings.clip = opts.clip;
    }

    let v = batches.vocab.len();
    let ln_v = (v as f64).ln();
    let meta = format!(
        "rnnbook train rnn: vocab_size={v} hidden_size={} seq_len={} batch={} lr={} clip={} \
         seed={} text={}",
        opts.hidden,
        opts.seq_len,
        opts.batch,
        num(opts.lr),
        num(opts.clip),
        opts.seed,
        corpus.source.replace(char::is_whitespace, "_")
    );
    let mut rows: Vec<LogRow> = match &opts.log {
        Some(log) if opts.resume && log.exists() => {
            let mut old = read_log(log)?.rows;
            old.retain(|r| r.step <= start_step);
            old
        }
        _ => Vec::new(),
    };
    let write_log = |rows: &[LogRow]| -> Result<()> {
        match &opts.log {
            Some(log) => write_atomic(log, log_text(&meta, rows).as_bytes()),
            None => Ok(()),
        }
    };

    if start_step >= opts.steps {
        note(if opts.resume {
            format!(
                "the checkpoint {} is already at step {start_step} ≥ --steps {}: nothing to train",
                opts.checkpoint.display(),
                opts.steps
            )
        } else {
            "--steps 0: nothing to train".to_string()
        });
        let summary = summarize(
            opts, command, &corpus, &batches, &state, &rows, start_step, wall, 0.0,
        );
        return Ok(TrainOutcome {
            checkpoint: state,
            summary,
            trained: false,
        });
    }

    pb.set_length(opts.steps);
    pb.set_position(start_step);
    pb.reset_eta();
    let chars_per_step = (opts.seq_len * opts.batch) as f64;
    let (clock, seconds_before) = (Instant::now(), state.train_seconds);
    let mut saved_step = opts.resume.then_some(start_step);
    while state.step < opts.steps {
        let stats = match train_step(&mut state, &batches, opts.clip) {
            Ok(s) => s,
            Err(e) => {
                write_log(&rows)?;
                let ckpt = opts.checkpoint.display();
                let kept = match saved_step {
                    Some(k) => format!("{ckpt} keeps the last good state, from step {k}"),
                    None => format!("nothing was saved to {ckpt}"),
                };
                bail!("{e:#}; training stopped, and {kept}");
            }
        };
        rows.push(LogRow {
            step: state.step,
            loss_per_char: stats.loss_per_char,
            smoothed_loss_per_char: state.smoothed_loss_per_char,
            grad_norm: stats.grad_norm,
        });
        pb.set_position(state.step);
        let rate = pb.per_sec();
        pb.set_message(format!(
            "loss/char {:.3} (uniform {ln_v:.2})  {rate:.1} steps/s = {:.0} chars/s",
            state.smoothed_loss_per_char,
            rate * chars_per_step
        ));
        if opts.sample_every > 0 && state.step % opts.sample_every == 0 && state.step < opts.steps {
            let text = sample_text(
                &state.model,
                &batches.vocab,
                batches.first,
                opts.sample_len,
                opts.temperature,
                opts.seed,
                state.step,
            );
            let line = format!(
                "── step {}/{}  loss/char {:.3} (smoothed; uniform guessing {ln_v:.3})  {:.1} steps/s ──\n{}\n",
                state.step, opts.steps, state.smoothed_loss_per_char, rate, text
            );
            pb.suspend(|| println!("{line}"));
        }
        if opts.checkpoint_every > 0
            && state.step % opts.checkpoint_every == 0
            && state.step < opts.steps
        {
            state.train_seconds = seconds_before + clock.elapsed().as_secs_f64();
            state.save(&opts.checkpoint)?;
            saved_step = Some(state.step);
            write_log(&rows)?;
        }
    }
    let loop_seconds = clock.elapsed().as_secs_f64();
    state.train_seconds = seconds_before + loop_seconds;
    state.save(&opts.checkpoint)?;
    write_log(&rows)?;
    let summary = summarize(
        opts,
        command,
        &corpus,
        &batches,
        &state,
        &rows,
        start_step,
        wall,
        loop_seconds,
    );
    if let Some(log) = &opts.log {
        let mut json = serde_json::to_string_pretty(&summary).context("encoding the summary")?;
        json.push('\n');
        write_atomic(&summary_path(log), json.as_bytes())?;
    }
    Ok(TrainOutcome {
        checkpoint: state,
        summary,
        trained: true,
    })
}

#[allow(clippy::too_many_arguments)]
fn summarize(
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
    let final_sample = sample_text(
        &state.model,
        &batches.vocab,
        batches.first,
        opts.sample_len,
        opts.temperature,
        opts.seed,
        state.step,
    );
    let text_loss = text_loss_per_char(&state.model, batches);
    let wall_seconds = wall.elapsed().as_secs_f64();
    let last = rows.last().filter(|r| r.step == state.step);
    RunSummary {
        format: SUMMARY_FORMAT.to_string(),
        command: command.to_string(),
        options: SummaryOptions {
            hidden: opts.hidden,
            seq_len: opts.seq_len,
            batch: opts.batch,
            lr: opts.lr,
            clip: opts.clip,
            steps: opts.steps,
            seed: opts.seed,
            sample_every: opts.sample_every,
            sample_len: opts.sample_len,
            temperature: opts.temperature,
            checkpoint_every: opts.checkpoint_every,
            resume: opts.resume,
        },
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

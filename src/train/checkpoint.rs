//! The checkpoint: everything needed to continue a run exactly where it stopped, as exact `f64`s
//! in JSON, written atomically, and checked field by field when read.

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail, ensure};
use ch00_foundations::files::write_atomic;
use ch00_foundations::rng::seeded_rng;
use ch01_rnn::model::CharRnn;
use ch01_rnn::params::Tensors;
use ch02_bptt::adam::Adam;
use ch03_clipping::train::Batches;
use ndarray::Array2;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::corpus::Corpus;
use super::options::TrainOptions;

/// The format tag of a checkpoint file.
pub const CHECKPOINT_FORMAT: &str = "rnnbook-train-rnn-v1";

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
    pub(super) fn fresh(opts: &TrainOptions, batches: &Batches, corpus: &Corpus) -> Self {
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
        Ok(write_atomic(path, &json)?)
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
pub(super) fn check_matches(c: &Checkpoint, opts: &TrainOptions, batches: &Batches) -> Result<()> {
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

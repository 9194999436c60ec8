//! `rnnbook train rnn`: chapter 1's character RNN, trained on text the project owns.
//!
//! The pieces all come from the chapters: the model, vocabulary, streams and sampling from
//! chapter 1, the gradient (one truncated-BPTT window per step) and Adam from chapter 2, and
//! clipping by global norm from chapter 3, whose [`train_step`] makes one update. This folder only
//! drives it and keeps the books: [`options`], the [`corpus`], a [`checkpoint`], the CSV log
//! (chapter 3's [`TrainLog`]) and a [`summary`] of the run that the book quotes.
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

pub mod checkpoint;
pub mod corpus;
pub mod options;
mod resumable;
pub mod summary;
pub mod task;
pub mod text;

use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use ch00_foundations::files::write_atomic;
use ch03_clipping::train::{Batches, StepStats, train_step};
use ch03_clipping::train_log::{LogRow, TrainLog};
use indicatif::ProgressBar;

pub use checkpoint::{CHECKPOINT_FORMAT, Checkpoint, Settings, load_checkpoint};
pub use corpus::{Corpus, load_corpus};
pub use options::*;
pub use summary::{RunSummary, SUMMARY_FORMAT, SummaryText, sample_text};

use checkpoint::check_matches;
use summary::summarize;

use crate::exit::bad_input;

/// Refuses a text that cannot train a character model: one distinct character (nothing to
/// predict), or fewer characters than one window of `batch` streams × `seq_len` steps needs.
pub fn check_text(source: &str, batches: &Batches, batch: usize, seq_len: usize) -> Result<()> {
    let v = batches.vocab.chars();
    ensure!(
        v.len() >= 2,
        "cannot train on {source}: it has only one distinct character ({:?}); a model needs at \
         least 2 to predict between",
        v.first().copied().unwrap_or(' ')
    );
    let rows = batches.inputs.nrows();
    ensure!(
        rows >= seq_len,
        "cannot train on {source}: it is shorter than one window: --batch {batch} streams of \
         --seq-len {seq_len} characters need {} characters, and each stream has only {rows}",
        batch * seq_len + 1
    );
    Ok(())
}

/// Reads a CSV log written by `rnnbook train` (chapter 3's [`TrainLog`] owns the format).
pub fn read_log(path: &std::path::Path) -> Result<TrainLog> {
    Ok(TrainLog::read(path)?)
}

/// Weight of the newest step in the smoothed loss: `s ← (1 − a) s + a loss`.
pub const SMOOTHING: f64 = 0.02;

/// One update of the run in `c`: the window of step `c.step` (the state starts from zero at
/// each pass over the streams), chapter 3's [`train_step`], then the step count and the
/// smoothed loss move on.
fn advance(c: &mut Checkpoint, batches: &Batches, clip: f64) -> Result<StepStats> {
    let (x, targets, starts_pass) = batches.window_data(c.step);
    if starts_pass {
        c.hidden_state.fill(0.0);
    }
    let step = c.step + 1; // the number this update will have
    let stats = train_step(
        &mut c.model,
        &mut c.adam,
        &mut c.hidden_state,
        x.view(),
        targets,
        clip,
        step,
    )?;
    c.step = step;
    c.smoothed_loss_per_char =
        (1.0 - SMOOTHING) * c.smoothed_loss_per_char + SMOOTHING * stats.loss_per_char;
    Ok(stats)
}

/// A number as people write it: `0.002`, `5`, but `1e308` rather than 309 digits.
fn num(x: f64) -> String {
    if x != 0.0 && !(1e-4..1e6).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// Where the bar is not drawn (stderr is not a terminal: a log file, CI, a test), one line on
/// stderr for each checkpoint saved, so that a log shows how far a run got.
pub(crate) fn saved_line(pb: &ProgressBar, path: &std::path::Path, step: u64, steps: u64) {
    if pb.is_hidden() {
        eprintln!(
            "checkpoint: step {step}/{steps} saved to {}",
            path.display()
        );
    }
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
    opts.validate().map_err(bad_input)?;
    let corpus = load_corpus(opts).map_err(bad_input)?;
    let batches = Batches::new(&corpus.text, opts.batch, opts.seq_len)
        .map_err(anyhow::Error::new)
        .with_context(|| format!("cannot train on {}", corpus.source))
        .map_err(bad_input)?;
    check_text(&corpus.source, &batches, opts.batch, opts.seq_len).map_err(bad_input)?;
    let note = |msg: String| pb.suspend(|| eprintln!("{msg}"));

    let mut state = if opts.resume {
        if !opts.checkpoint.exists() {
            return Err(bad_input(anyhow::anyhow!(
                "cannot resume: there is no checkpoint at {} (leave out --resume to start a new \
                 run)",
                opts.checkpoint.display()
            )));
        }
        let c = load_checkpoint(&opts.checkpoint).map_err(bad_input)?;
        check_matches(&c, opts, &batches).map_err(bad_input)?;
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
            return Err(bad_input(anyhow::anyhow!(
                "{} already holds a checkpoint; pass --resume to continue it, or --fresh to \
                 start over and replace it",
                opts.checkpoint.display()
            )));
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
    let settings: Vec<(String, String)> = [
        ("vocab_size", v.to_string()),
        ("hidden_size", opts.hidden.to_string()),
        ("seq_len", opts.seq_len.to_string()),
        ("batch", opts.batch.to_string()),
        ("lr", num(opts.lr)),
        ("clip", num(opts.clip)),
        ("seed", opts.seed.to_string()),
        ("text", corpus.source.replace(char::is_whitespace, "_")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut log = TrainLog {
        title: "rnnbook train rnn".to_string(),
        settings: settings.clone(),
        rows: match &opts.log {
            Some(path) if opts.resume && path.exists() => {
                let mut old = TrainLog::read(path).map_err(|e| bad_input(e.into()))?.rows;
                old.retain(|r| r.step <= start_step);
                // The log is written before the checkpoint, so it reaches the checkpoint's step
                // unless it belongs to another run.
                let last = old.last().map_or(0, |r| r.step);
                if last != start_step || old.len() as u64 != start_step {
                    return Err(bad_input(anyhow::anyhow!(
                        "the log {} has {} rows up to step {last}, but the checkpoint {} is at \
                         step {start_step}: they are not of the same run (use another --log)",
                        path.display(),
                        old.len(),
                        opts.checkpoint.display()
                    )));
                }
                old
            }
            _ => Vec::new(),
        },
    };
    let write_log = |log: &TrainLog| -> Result<()> {
        match &opts.log {
            Some(path) => Ok(log.write(path)?),
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
            opts, command, &corpus, &batches, &state, &log.rows, start_step, wall, 0.0,
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
        let stats = match advance(&mut state, &batches, opts.clip) {
            Ok(s) => s,
            Err(e) => {
                write_log(&log)?;
                let ckpt = opts.checkpoint.display();
                let kept = match saved_step {
                    Some(k) => format!("{ckpt} keeps the last good state, from step {k}"),
                    None => format!("nothing was saved to {ckpt}"),
                };
                bail!("{e:#}; training stopped, and {kept}");
            }
        };
        log.rows.push(LogRow {
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
            let text = sample_text(&state, &batches, opts);
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
            // The log first: a kill between the two leaves a log ahead of the checkpoint, which
            // a resumed run cuts back to the checkpoint's step.
            write_log(&log)?;
            state.save(&opts.checkpoint)?;
            saved_step = Some(state.step);
            saved_line(pb, &opts.checkpoint, state.step, opts.steps);
        }
    }
    let loop_seconds = clock.elapsed().as_secs_f64();
    state.train_seconds = seconds_before + loop_seconds;
    write_log(&log)?;
    let summary = summarize(
        opts,
        command,
        &corpus,
        &batches,
        &state,
        &log.rows,
        start_step,
        wall,
        loop_seconds,
    );
    if let Some(log) = &opts.log {
        let mut json = serde_json::to_string_pretty(&summary).context("encoding the summary")?;
        json.push('\n');
        write_atomic(&summary_path(log), json.as_bytes())?;
    }
    // The checkpoint last: once it says the run is done, the log and the summary are too.
    state.save(&opts.checkpoint)?;
    saved_line(pb, &opts.checkpoint, state.step, opts.steps);
    Ok(TrainOutcome {
        checkpoint: state,
        summary,
        trained: true,
    })
}

/// `rnnbook train rnn`: trains with a progress bar, then prints the final sample and a summary.
pub fn command(opts: &TrainOptions) -> Result<()> {
    let command = std::iter::once("rnnbook".to_string())
        .chain(std::env::args().skip(1).map(|a| shell_quote(&a)))
        .collect::<Vec<_>>()
        .join(" ");
    let pb = crate::progress::bar(
        "{bar:16} {pos}/{len} {msg}  {elapsed}, eta {eta}",
        opts.steps,
    );
    let outcome = train(opts, &command, &pb);
    pb.finish_and_clear();
    let outcome = outcome?;
    let s = &outcome.summary;
    if outcome.trained {
        println!(
            "── final sample (step {}, temperature {}) ──\n{}\n",
            s.steps, opts.temperature, s.final_sample
        );
        eprintln!(
            "trained steps {}..{} in {:.1} s ({:.1} steps/s; {:.1} s in all); loss per character: \
             {:.3} smoothed, {:.3} over the whole text; uniform guessing ln V = ln {} = {:.3}",
            s.start_step,
            s.steps,
            s.train_seconds,
            s.steps_per_second,
            s.wall_seconds,
            s.final_smoothed_loss_per_char,
            s.text_loss_per_char,
            s.vocab_size,
            s.ln_vocab_size
        );
        eprintln!("checkpoint: {}", opts.checkpoint.display());
        if let Some(log) = &opts.log {
            eprintln!(
                "log: {} (summary {})",
                log.display(),
                summary_path(log).display()
            );
        }
    }
    Ok(())
}

/// `arg` as a POSIX shell word (quoted only when it needs to be).
fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

//! `rnnbook train rnn`: resuming is exact, the loss goes down, and bad input is a clear error.
//!
//! These use the library on small models and texts; the last test runs the binary for the
//! command line's error paths and exit codes.

use std::path::{Path, PathBuf};
use std::process::Command;

use indicatif::ProgressBar;
use rnnbook::train::{
    Checkpoint, RunSummary, TrainOptions, load_checkpoint, read_log, summary_path, train,
};

const POEM: &str = "the cat sat on the mat. the dog sat on the log. \
                    a cat and a dog sat on a mat and a log.\n";

fn small_options(dir: &Path, text: &Path) -> TrainOptions {
    let mut o = TrainOptions::new(dir.join("ckpt.json"));
    o.text = Some(text.to_path_buf());
    o.hidden = 12;
    o.seq_len = 7;
    o.batch = 3;
    o.lr = 1e-2;
    o.steps = 30;
    o.seed = 7;
    o.sample_every = 0;
    o.sample_len = 20;
    o.checkpoint_every = 4;
    o.log = Some(dir.join("log.csv"));
    o
}

fn write_text(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn run(o: &TrainOptions) -> Checkpoint {
    train(o, "test", &ProgressBar::hidden()).unwrap().checkpoint
}

fn err(o: &TrainOptions) -> String {
    format!(
        "{:#}",
        train(o, "test", &ProgressBar::hidden()).unwrap_err()
    )
}

/// The learning state of two checkpoints is equal bit for bit (`==` on `f64` is exact).
fn assert_same_state(a: &Checkpoint, b: &Checkpoint) {
    assert_eq!(a.step, b.step);
    assert_eq!(a.model, b.model, "parameters differ");
    assert_eq!(a.adam, b.adam, "Adam's state differs");
    assert_eq!(
        a.hidden_state, b.hidden_state,
        "carried hidden state differs"
    );
    assert_eq!(
        a.smoothed_loss_per_char.to_bits(),
        b.smoothed_loss_per_char.to_bits()
    );
}

#[test]
fn stopping_and_resuming_gives_bit_identical_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let text = write_text(dir.path(), "poem.txt", &POEM.repeat(3));

    // In one go: 30 steps (the text is 5 windows per pass, so this crosses 6 passes).
    let one = dir.path().join("one");
    let once = run(&small_options(&one, &text));
    assert_eq!(once.step, 30);

    // 11 steps, stop, resume to 19, stop, resume to 30 (stops in the middle of a pass).
    let split = dir.path().join("split");
    let mut o = small_options(&split, &text);
    o.steps = 11;
    run(&o);
    o.resume = true;
    o.steps = 19;
    run(&o);
    o.steps = 30;
    let resumed = run(&o);

    assert_same_state(&once, &resumed);
    // The saved files agree too: the checkpoint read back, and the log row for row.
    assert_same_state(&load_checkpoint(&one.join("ckpt.json")).unwrap(), &resumed);
    let (log_one, log_split) = (
        std::fs::read_to_string(one.join("log.csv")).unwrap(),
        std::fs::read_to_string(split.join("log.csv")).unwrap(),
    );
    assert_eq!(log_one, log_split, "the logs differ");
    assert_eq!(read_log(&one.join("log.csv")).unwrap().rows.len(), 30);

    // Resuming at or past --steps changes nothing.
    let before = std::fs::read(split.join("ckpt.json")).unwrap();
    let outcome = train(&o, "test", &ProgressBar::hidden()).unwrap();
    assert!(!outcome.trained);
    assert_eq!(std::fs::read(split.join("ckpt.json")).unwrap(), before);
}

#[test]
fn the_loss_per_character_falls_well_below_uniform_guessing() {
    let dir = tempfile::tempdir().unwrap();
    let text = write_text(dir.path(), "poem.txt", &POEM.repeat(12));
    let mut o = small_options(dir.path(), &text);
    o.hidden = 32;
    o.seq_len = 16;
    o.batch = 4;
    o.steps = 100;
    o.checkpoint_every = 0;
    let outcome = train(&o, "test", &ProgressBar::hidden()).unwrap();
    let s: RunSummary = outcome.summary;
    let ln_v = s.ln_vocab_size;
    assert_eq!(s.vocab_size, 15);
    let first = s.first_loss_per_char.unwrap();
    assert!(
        (first - ln_v).abs() < 0.3,
        "an untrained model guesses nearly uniformly: first loss {first}, ln V {ln_v}"
    );
    assert!(
        s.text_loss_per_char < 0.4 * ln_v,
        "after 100 steps the loss per character over the text is {} (ln V = {ln_v})",
        s.text_loss_per_char
    );
    assert!(s.final_smoothed_loss_per_char < 0.6 * ln_v);
    // The summary next to the log says what the book quotes.
    let json: RunSummary =
        serde_json::from_slice(&std::fs::read(summary_path(o.log.as_ref().unwrap())).unwrap())
            .unwrap();
    assert_eq!(json.steps, 100);
    assert_eq!(json.command, "test");
    assert_eq!(json.final_sample.chars().count(), 21);
}

#[test]
fn a_blow_up_names_the_step_and_tensor_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let text = write_text(dir.path(), "poem.txt", &POEM.repeat(3));
    let mut o = small_options(dir.path(), &text);
    o.steps = 5;
    run(&o);
    let ckpt = o.checkpoint.clone();
    let good = std::fs::read(&ckpt).unwrap();

    // A step size of 1e308 sends the parameters to about ±1e308 at once (Adam's steps are about
    // lr in size); the next forward pass overflows to ±∞, and ∞ − ∞ is NaN.
    o.resume = true;
    o.lr = 1e308;
    o.steps = 50;
    o.checkpoint_every = 1; // it would save after every good step
    let e = err(&o);
    assert!(e.contains("step 7"), "{e}");
    assert!(
        e.contains("non-finite gradient: d") || e.contains("parameter"),
        "the tensor is not named: {e}"
    );
    assert!(e.contains("ckpt.json"), "{e}");
    // Step 6 was good (finite) and saved; the bad step 7 was not.
    let kept = load_checkpoint(&ckpt).unwrap();
    assert_eq!(kept.step, 6);
    assert_ne!(std::fs::read(&ckpt).unwrap(), good);
    let log = read_log(o.log.as_ref().unwrap()).unwrap();
    assert_eq!(log.rows.last().unwrap().step, 6);

    // Without intermediate saves the file keeps the state from before the run, byte for byte.
    let dir2 = tempfile::tempdir().unwrap();
    let mut o2 = small_options(dir2.path(), &text);
    o2.steps = 5;
    run(&o2);
    let good2 = std::fs::read(&o2.checkpoint).unwrap();
    o2.resume = true;
    o2.lr = 1e308;
    o2.steps = 50;
    o2.checkpoint_every = 0;
    err(&o2);
    assert_eq!(std::fs::read(&o2.checkpoint).unwrap(), good2);
}

#[test]
fn a_checkpoint_that_does_not_match_names_the_file_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let text = write_text(dir.path(), "poem.txt", &POEM.repeat(3));
    let mut o = small_options(dir.path(), &text);
    o.steps = 3;
    run(&o);
    o.resume = true;
    o.steps = 6;

    let mut bigger = o.clone();
    bigger.hidden = 13;
    let e = err(&bigger);
    assert!(
        e.contains("ckpt.json") && e.contains("settings.hidden_size") && e.contains("--hidden"),
        "{e}"
    );

    let mut other_text = o.clone();
    other_text.text = Some(write_text(
        dir.path(),
        "other.txt",
        &POEM.to_uppercase().repeat(3),
    ));
    let e = err(&other_text);
    assert!(e.contains("ckpt.json") && e.contains("vocab"), "{e}");

    let mut other_batch = o.clone();
    other_batch.batch = 2;
    let e = err(&other_batch);
    assert!(e.contains("settings.batch"), "{e}");

    // --lr may change on resume.
    let mut slower = o.clone();
    slower.lr = 1e-3;
    assert_eq!(run(&slower).step, 6);
}

#[test]
fn a_malformed_checkpoint_is_an_error_naming_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let text = write_text(dir.path(), "poem.txt", &POEM.repeat(3));
    let mut o = small_options(dir.path(), &text);
    o.steps = 2;
    run(&o);
    let good: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&o.checkpoint).unwrap()).unwrap();

    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        f(&mut v);
        serde_json::to_vec(&v).unwrap()
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "not-json.json",
            b"{ this is not json".to_vec(),
            "not valid JSON",
        ),
        (
            "truncated.json",
            std::fs::read(&o.checkpoint).unwrap()[..500].to_vec(),
            "not valid JSON",
        ),
        ("array.json", b"[1, 2]".to_vec(), "not a JSON object"),
        (
            "no-adam.json",
            edit(&|v| {
                v.as_object_mut().unwrap().remove("adam");
            }),
            "`adam` is missing",
        ),
        (
            "format.json",
            edit(&|v| v["format"] = "something-else".into()),
            "`format`",
        ),
        ("step.json", edit(&|v| v["step"] = "two".into()), "`step`"),
        (
            "ragged.json",
            edit(&|v| v["model"]["rnn"]["bias_hh"]["data"] = serde_json::json!([1.0])),
            "`model`",
        ),
        (
            "shape.json",
            edit(&|v| {
                v["model"]["rnn"]["bias_hh"] =
                    serde_json::json!({"v": 1, "dim": [1], "data": [0.5]})
            }),
            "model.rnn.bias_hh",
        ),
        (
            "moments.json",
            edit(&|v| v["adam"]["m"].as_array_mut().unwrap().truncate(2)),
            "adam.m",
        ),
        (
            "moment-shape.json",
            edit(&|v| v["adam"]["v"][1] = serde_json::json!({"v": 1, "dim": [1], "data": [0.0]})),
            "adam.v[1]",
        ),
        (
            "state.json",
            edit(&|v| {
                v["hidden_state"] = serde_json::json!({"v": 1, "dim": [1, 1], "data": [0.0]})
            }),
            "hidden_state",
        ),
        (
            "vocab.json",
            edit(&|v| v["vocab"] = serde_json::json!(["b", "a"])),
            "vocab",
        ),
    ];
    for (name, bytes, field) in cases {
        let path = write_text(dir.path(), name, "");
        std::fs::write(&path, &bytes).unwrap();
        let e = format!("{:#}", load_checkpoint(&path).unwrap_err());
        assert!(e.contains(name), "{name}: the file is not named: {e}");
        assert!(e.contains(field), "{name}: expected `{field}` in: {e}");
        // And training from it stops with the same error instead of panicking.
        let mut r = o.clone();
        r.resume = true;
        r.steps = 4;
        r.checkpoint = path;
        assert!(err(&r).contains(name));
    }
}

#[test]
fn bad_text_and_unsafe_options_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = small_options(dir.path(), &dir.path().join("missing.txt"));
    let e = err(&o);
    assert!(e.contains("missing.txt"), "{e}");

    o.text = Some(write_text(dir.path(), "empty.txt", ""));
    let e = err(&o);
    assert!(e.contains("empty.txt") && e.contains("empty"), "{e}");

    let latin1 = dir.path().join("latin1.txt");
    std::fs::write(&latin1, b"caf\xe9").unwrap();
    o.text = Some(latin1);
    let e = err(&o);
    assert!(e.contains("latin1.txt") && e.contains("UTF-8"), "{e}");

    o.text = Some(write_text(dir.path(), "short.txt", "ab"));
    let e = err(&o);
    assert!(e.contains("--batch 3"), "{e}");

    let poem = write_text(dir.path(), "poem.txt", POEM);
    for (bad, what) in [
        (
            TrainOptions {
                lr: f64::NAN,
                ..o.clone()
            },
            "--lr",
        ),
        (
            TrainOptions {
                clip: 0.0,
                ..o.clone()
            },
            "--clip",
        ),
        (
            TrainOptions {
                temperature: -1.0,
                ..o.clone()
            },
            "--temperature",
        ),
        (
            TrainOptions {
                hidden: 0,
                ..o.clone()
            },
            "--hidden",
        ),
        (
            TrainOptions {
                seq_len: 0,
                ..o.clone()
            },
            "--seq-len",
        ),
    ] {
        let bad = TrainOptions {
            text: Some(poem.clone()),
            ..bad
        };
        assert!(err(&bad).contains(what), "{what}");
    }

    // --resume without a checkpoint; a new run over an existing checkpoint without --fresh.
    o.text = Some(poem);
    o.resume = true;
    let e = err(&o);
    assert!(
        e.contains("no checkpoint") && e.contains("ckpt.json"),
        "{e}"
    );
    o.resume = false;
    o.steps = 2;
    run(&o);
    let e = err(&o);
    assert!(e.contains("--resume") && e.contains("--fresh"), "{e}");
    o.fresh = true;
    assert_eq!(run(&o).step, 2);

    // The default text is the book's chapters: a book folder without them is named.
    let mut book = o.clone();
    book.text = None;
    book.book_dir = dir.path().join("no-book");
    let e = err(&book);
    assert!(e.contains("no-book"), "{e}");
}

#[test]
fn the_command_line_reports_errors_with_a_non_zero_exit_and_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("ckpt.json");
    let rnnbook = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_rnnbook"))
            .args(["train", "rnn", "--checkpoint"])
            .arg(&ckpt)
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!stderr.contains("panicked"), "{stderr}");
        (
            out.status.code(),
            stderr,
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let missing = dir.path().join("missing.txt");
    let (code, stderr, _) = rnnbook(&["--text", missing.to_str().unwrap()]);
    assert_eq!(code, Some(2), "a missing text is bad input");
    assert!(
        stderr.contains("error:") && stderr.contains("missing.txt"),
        "{stderr}"
    );

    let empty = write_text(dir.path(), "empty.txt", "");
    let (code, stderr, _) = rnnbook(&["--text", empty.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("empty.txt"), "{stderr}");

    let (code, stderr, _) = rnnbook(&["--hidden", "0"]);
    assert_eq!(code, Some(2), "clap refuses bad values with exit 2");
    assert!(stderr.contains("--hidden"), "{stderr}");

    // A small real run: exit 0, a checkpoint, a log and its summary.
    let poem = write_text(dir.path(), "poem.txt", &POEM.repeat(3));
    let log = dir.path().join("run.csv");
    let small = [
        "--text",
        poem.to_str().unwrap(),
        "--hidden",
        "8",
        "--seq-len",
        "5",
        "--batch",
        "2",
        "--steps",
        "6",
        "--sample-every",
        "3",
        "--sample-len",
        "10",
        "--log",
        log.to_str().unwrap(),
    ];
    let (code, stderr, stdout) = rnnbook(&small);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("step 3/6"),
        "no sample on the way: {stdout}"
    );
    assert!(stdout.contains("final sample"), "{stdout}");
    assert!(ckpt.exists() && log.exists() && summary_path(&log).exists());
    let summary: RunSummary =
        serde_json::from_slice(&std::fs::read(summary_path(&log)).unwrap()).unwrap();
    assert!(
        summary
            .command
            .starts_with("rnnbook train rnn --checkpoint"),
        "{}",
        summary.command
    );

    // A damaged checkpoint: named, exit 2.
    std::fs::write(&ckpt, b"{\"format\": ").unwrap();
    let mut resume = small.to_vec();
    resume.push("--resume");
    let (code, stderr, _) = rnnbook(&resume);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("ckpt.json") && stderr.contains("not valid JSON"),
        "{stderr}"
    );
}

#[test]
fn the_committed_run_data_agrees_with_its_summary() {
    let csv = rnnbook::repo_root().join("chapters/ch02-bptt/data/train-rnn.csv");
    let log = read_log(&csv).unwrap();
    let summary: RunSummary =
        serde_json::from_slice(&std::fs::read(summary_path(&csv)).unwrap()).unwrap();
    assert_eq!(log.vocab_size(), Some(summary.vocab_size));
    assert_eq!(log.rows.last().unwrap().step, summary.steps);
    assert_eq!(log.rows.len() as u64, summary.steps);
    assert!(summary.final_smoothed_loss_per_char < 0.6 * summary.ln_vocab_size);
    assert!(!summary.final_sample.is_empty());
}

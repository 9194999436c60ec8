//! Killed runs: `kill -9` at several points of `train rnn`, `train adding`, `experiments` and
//! `bench --out` leaves either no file or a whole, valid one (never a torn one), and continuing
//! after each kill ends where one uninterrupted run ends: bit for bit for training and the
//! study; for the benchmark (whose timings differ from run to run) the same rows, each checked
//! against the chapter code before it was timed.
//!
//! The kills come after the k-th line the command prints on stderr when it has saved (a
//! checkpoint, a record, a measured unit), plus a few milliseconds, so they land at the save,
//! in the computation after it, or in the next save, whatever the machine's speed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn rnnbook(args: &[String]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rnnbook"));
    c.args(args);
    c
}

/// Runs `args` to the end; it must succeed.
fn finish(args: &[String]) {
    let out = rnnbook(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Runs `args`, SIGKILLs it `delay_ms` after its `n`-th stderr line starting with `prefix`;
/// returns false if it finished first.
fn kill_after(args: &[String], prefix: &str, n: usize, delay_ms: u64) -> bool {
    let mut child = rnnbook(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut seen = 0;
    let mut said = Vec::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        assert!(!line.contains("panicked"), "{line}");
        if line.starts_with(prefix) {
            seen += 1;
            if seen == n {
                std::thread::sleep(Duration::from_millis(delay_ms));
                child.kill().unwrap(); // SIGKILL on Unix
                child.wait().unwrap();
                return true;
            }
        }
        said.push(line);
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{args:?} failed: {}", said.join("\n"));
    false
}

/// Files in `dir` other than tempfile's `.tmp…` ones, which no reader looks at.
fn real_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| {
        !p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(".tmp"))
    });
    v.sort();
    v
}

fn s(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// Kills `args` after the 1st, 2nd, … line (with delays of 0, 2, 5 ms in turn), checking the
/// files with `check` after each kill, and continues with `resume(file_exists)` until a run
/// finishes. Returns the number of kills.
fn kill_repeatedly(
    start: &[String],
    resume: &dyn Fn() -> Vec<String>,
    prefix: &str,
    check: &dyn Fn(),
) -> usize {
    let mut kills = 0;
    let mut args = start.to_vec();
    loop {
        let delay = [0, 2, 5][kills % 3];
        if !kill_after(&args, prefix, 1 + kills % 2, delay) {
            break;
        }
        kills += 1;
        check();
        args = resume();
        assert!(kills < 40, "the run never finishes");
    }
    check();
    kills
}

const POEM: &str = "the cat sat on the mat. the dog sat on the log. \
                    a cat and a dog sat on a mat and a log.\n";

#[test]
fn train_rnn_killed_anywhere_resumes_to_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("poem.txt");
    std::fs::write(&text, POEM.repeat(4)).unwrap();
    let args = |out: &Path, resume: bool| {
        let mut a = s(&["train", "rnn", "--text", text.to_str().unwrap()]);
        a.extend(s(&[
            "--hidden",
            "12",
            "--seq-len",
            "7",
            "--batch",
            "3",
            "--lr",
            "0.01",
            "--seed",
            "7",
            "--steps",
            "600",
            "--checkpoint-every",
            "25",
            "--sample-every",
            "0",
            "--sample-len",
            "5",
        ]));
        a.extend(s(&[
            "--checkpoint",
            out.join("ckpt.json").to_str().unwrap(),
        ]));
        a.extend(s(&["--log", out.join("log.csv").to_str().unwrap()]));
        if resume {
            a.push("--resume".into());
        }
        a
    };
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    finish(&args(&one, false));
    let ckpt = two.join("ckpt.json");
    let check = || {
        // No file, or a whole checkpoint whose log reaches at least its step.
        if ckpt.exists() {
            let c = rnnbook::train::load_checkpoint(&ckpt).expect("a whole checkpoint");
            let log = rnnbook::train::read_log(&two.join("log.csv")).expect("a whole log");
            assert!(log.rows.len() as u64 >= c.step);
        }
    };
    let kills = kill_repeatedly(
        &args(&two, false),
        &|| args(&two, ckpt.exists()),
        "checkpoint:",
        &check,
    );
    assert!(kills >= 3, "only {kills} kills");
    let (a, b) = (
        rnnbook::train::load_checkpoint(&one.join("ckpt.json")).unwrap(),
        rnnbook::train::load_checkpoint(&ckpt).unwrap(),
    );
    assert_eq!(a.step, 600);
    assert_eq!(
        (&a.step, &a.model, &a.adam, &a.hidden_state),
        (&b.step, &b.model, &b.adam, &b.hidden_state)
    );
    assert_eq!(
        a.smoothed_loss_per_char.to_bits(),
        b.smoothed_loss_per_char.to_bits()
    );
    assert_eq!(
        std::fs::read(one.join("log.csv")).unwrap(),
        std::fs::read(two.join("log.csv")).unwrap(),
        "the logs differ"
    );
    let names: Vec<_> = real_files(&two)
        .into_iter()
        .map(|p| p.file_name().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["ckpt.json", "log.csv", "log.json"]);
}

/// The JSON at `path` without the fields that record time.
fn timeless(path: &Path) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    for key in ["seconds", "wall_seconds", "train_seconds"] {
        v.as_object_mut().unwrap().remove(key);
    }
    v
}

#[test]
fn train_task_killed_anywhere_resumes_to_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let args = |out: &Path, resume: bool| {
        let mut a = s(&[
            "train",
            "adding",
            "--cell",
            "lstm",
            "--seq-len",
            "6",
            "--hidden",
            "4",
            "--batch",
            "3",
            "--eval-every",
            "50",
            "--steps",
            "400",
            "--checkpoint-every",
            "20",
            "--out",
        ]);
        a.push(out.to_str().unwrap().into());
        if resume {
            a.push("--resume".into());
        }
        a
    };
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    finish(&args(&one, false));
    let ckpt = two.join("checkpoint.json");
    let check = || {
        if ckpt.exists() {
            let v = timeless(&ckpt);
            assert_eq!(v["format"], "rnnbook-train-task-v1");
        }
    };
    let kills = kill_repeatedly(
        &args(&two, false),
        &|| args(&two, ckpt.exists()),
        "checkpoint:",
        &check,
    );
    assert!(kills >= 3, "only {kills} kills");
    assert_eq!(timeless(&one.join("checkpoint.json")), timeless(&ckpt));
    let record = |d: &Path| timeless(&d.join("adding-lstm-s1.json"));
    assert_eq!(record(&one)["outcome"], record(&two)["outcome"]);
    assert_eq!(real_files(&two).len(), 2);
}

#[test]
fn experiments_killed_anywhere_continue_to_the_uninterrupted_records() {
    use ch07_experiments::study::Records;
    let dir = tempfile::tempdir().unwrap();
    let args = |out: &Path| {
        let mut a = s(&[
            "experiments",
            "--smoke",
            "--jobs",
            "1",
            "--only",
            "adding-T6",
            "--out",
        ]);
        a.push(out.to_str().unwrap().into());
        a
    };
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    finish(&args(&one));
    let check = || {
        if two.exists() {
            Records::read(&two).expect("whole records only");
        }
    };
    let kills = kill_repeatedly(&args(&two), &|| args(&two), "recorded:", &check);
    assert!(kills >= 3, "only {kills} kills");
    let (a, b) = (Records::read(&one).unwrap(), Records::read(&two).unwrap());
    assert_eq!(a.records.len(), 7);
    let key = |r: &Records| -> Vec<_> {
        r.records
            .iter()
            .map(|r| (r.spec.clone(), r.outcome.clone()))
            .collect()
    };
    assert_eq!(key(&a), key(&b));
}

#[test]
fn bench_out_killed_anywhere_resumes_to_the_same_rows() {
    use ch06_fused::results::{BenchMachine, Ceilings};
    use rnnbook::bench::{BENCH_OUT_FORMAT, BenchOptions, OutFile, OutSettings, plan};
    let dir = tempfile::tempdir().unwrap();
    let shape = s(&[
        "bench",
        "--cell",
        "lstm,gru",
        "--seq-len",
        "2",
        "--batch",
        "1,2,3",
        "--input",
        "2",
        "--hidden",
        "3",
        "--threads",
        "1",
        "--repeats",
        "1",
        "--only",
        "v5",
        "--json",
        "--out",
    ]);
    let args = |out: &Path| {
        let mut a = shape.clone();
        a.push(out.to_str().unwrap().into());
        a.push("--resume".into());
        a
    };
    // Each file starts as a run that has measured the machine and nothing else: measuring the
    // ceilings takes a minute in a debug build and writes nothing a kill could tear.
    let o = BenchOptions {
        cell: s(&["lstm", "gru"]),
        seq_len: vec![2],
        batch: vec![1, 2, 3],
        input_size: vec![2],
        hidden_size: vec![3],
        threads: vec![1],
        only: s(&["v5"]),
        repeats: Some(1),
        sweep: false,
        json: true,
        pytorch: false,
        out: None,
        resume: false,
    };
    let start = OutFile {
        format: BENCH_OUT_FORMAT.to_string(),
        settings: OutSettings::of(&plan(&o).unwrap(), false),
        machine: BenchMachine {
            cpu: rnnbook::experiments::cpu_model(),
            logical_cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            ceilings: Ceilings {
                paths: vec!["portable".into()],
                fma_peak_gflops: vec![1.0],
                l2_read_gbs: 1.0,
                memory_read_gbs: 1.0,
            },
            torch_cells: vec![],
        },
        measured: vec![],
        complete: false,
        rows: vec![],
    };
    let (one, two) = (dir.path().join("one.json"), dir.path().join("two.json"));
    start.save(&one).unwrap();
    start.save(&two).unwrap();
    finish(&args(&one));
    let check = || {
        OutFile::read(&two).expect("a whole bench file");
    };
    let kills = kill_repeatedly(&args(&two), &|| args(&two), "saved:", &check);
    assert!(kills >= 3, "only {kills} kills");
    let (a, b) = (OutFile::read(&one).unwrap(), OutFile::read(&two).unwrap());
    assert!(a.complete && b.complete);
    assert_eq!(a.measured, b.measured);
    assert_eq!(a.measured.len(), 6);
    let keys = |f: &OutFile| -> Vec<_> {
        f.rows
            .iter()
            .map(|r| {
                let key = (r.cell.clone(), r.implementation.clone(), r.seq_len, r.batch);
                (key, r.input_size, r.hidden_size, r.threads)
            })
            .collect()
    };
    assert_eq!(keys(&a), keys(&b));
}

/// `rnnbook ARGS` must fail with exit 2, no panic, and every one of `needles` in its stderr.
fn refused(args: &[String], needles: &[&str]) {
    let out = rnnbook(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{args:?}: no {n:?} in: {stderr}");
    }
}

#[test]
fn a_torn_or_foreign_file_fails_resume_naming_it_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("poem.txt");
    std::fs::write(&text, POEM.repeat(4)).unwrap();
    let ckpt = dir.path().join("ckpt.json");
    let rnn = |resume: bool| {
        let mut a = s(&["train", "rnn", "--text", text.to_str().unwrap()]);
        a.extend(s(&[
            "--hidden",
            "4",
            "--seq-len",
            "5",
            "--batch",
            "2",
            "--steps",
            "3",
        ]));
        a.extend(s(&[
            "--sample-every",
            "0",
            "--checkpoint",
            ckpt.to_str().unwrap(),
        ]));
        if resume {
            a.push("--resume".into());
        }
        a
    };
    let task_dir = dir.path().join("task");
    let task = |resume: bool| {
        let mut a = s(&[
            "train",
            "adding",
            "--cell",
            "rnn",
            "--seq-len",
            "4",
            "--hidden",
            "3",
        ]);
        a.extend(s(&[
            "--batch",
            "2",
            "--steps",
            "3",
            "--eval-every",
            "3",
            "--out",
        ]));
        a.push(task_dir.to_str().unwrap().into());
        if resume {
            a.push("--resume".into());
        }
        a
    };
    finish(&rnn(false));
    finish(&task(false));
    let task_ckpt = task_dir.join("checkpoint.json");
    for (path, resume, what) in [
        (ckpt.clone(), rnn(true), "ckpt.json"),
        (task_ckpt.clone(), task(true), "checkpoint.json"),
    ] {
        let whole = std::fs::read(&path).unwrap();
        // Cut short at any byte (every byte of the first 200, then every 97th): the loaders
        // refuse each, naming the file.
        for cut in (0..whole.len()).filter(|&k| k < 200 || k % 97 == 0) {
            std::fs::write(&path, &whole[..cut]).unwrap();
            if path == ckpt {
                let e = format!("{:#}", rnnbook::train::load_checkpoint(&path).unwrap_err());
                assert!(e.contains(what), "cut at {cut}: {e}");
            }
        }
        std::fs::write(&path, &whole[..whole.len() / 2]).unwrap();
        refused(&resume, &[what, "not"]);
        std::fs::write(&path, br#"{"name": "some other program's file"}"#).unwrap();
        refused(&resume, &[what, "format"]);
        std::fs::write(&path, &whole).unwrap();
    }
    // Whole JSON whose tensors disagree with the settings (once a panic in a product on the
    // first resumed step): a recurrent weight with one column too few, and an Adam moment too.
    let whole = std::fs::read_to_string(&task_ckpt).unwrap();
    for at in [&["model", "cell", "weight_hh"][..], &["adam", "m", "1"][..]] {
        let mut v: serde_json::Value = serde_json::from_str(&whole).unwrap();
        let mut t = &mut v["run"];
        for key in at {
            t = match key.parse::<usize>() {
                Ok(k) => &mut t[k],
                Err(_) => &mut t[*key],
            };
        }
        let rows = t["dim"][0].as_u64().unwrap() as usize;
        t["dim"] = serde_json::json!([rows, 2]);
        let data: Vec<serde_json::Value> = t["data"].as_array().unwrap()[..rows * 2].to_vec();
        t["data"] = serde_json::Value::Array(data);
        std::fs::write(&task_ckpt, serde_json::to_string(&v).unwrap()).unwrap();
        let (got, want) = (format!("has shape [{rows},2]"), format!("need [{rows},3]"));
        refused(&task(true), &["checkpoint.json", &got, &want]);
    }
    std::fs::write(&task_ckpt, &whole).unwrap();

    // A study record cut short or foreign: named, exit 2, nothing run over it.
    let runs = dir.path().join("runs");
    let study = s(&[
        "experiments",
        "--smoke",
        "--jobs",
        "1",
        "--only",
        "adding-T6-rnn-s1",
        "--out",
    ]);
    let study = [study, vec![runs.to_str().unwrap().to_string()]].concat();
    finish(&study);
    let record = runs.join("adding-T6-rnn-s1.json");
    let whole = std::fs::read(&record).unwrap();
    std::fs::write(&record, &whole[..whole.len() - 10]).unwrap();
    refused(
        &study,
        &["adding-T6-rnn-s1.json", "not a run record", "delete"],
    );
    std::fs::write(&record, b"[]").unwrap();
    refused(&study, &["adding-T6-rnn-s1.json"]);
    assert_eq!(
        std::fs::read(&record).unwrap(),
        b"[]",
        "a foreign file is left alone"
    );

    // A bench file cut short, foreign, or of other settings or another machine.
    use rnnbook::bench::OutFile;
    let bench_file = dir.path().join("bench.json");
    let bench = |extra: &[&str]| {
        let mut a = s(&["bench", "--seq-len", "2", "--batch", "1", "--input", "2"]);
        a.extend(s(&[
            "--hidden",
            "3",
            "--repeats",
            "1",
            "--only",
            "v5",
            "--resume",
            "--out",
        ]));
        a.push(bench_file.to_str().unwrap().into());
        a.extend(s(extra));
        a
    };
    let good = serde_json::json!({
        "format": rnnbook::bench::BENCH_OUT_FORMAT,
        "settings": {"cells": ["lstm"], "shapes": [[2, 1, 2, 3]], "threads": [1],
                     "only": ["v5"], "repeats": 1, "pytorch": false},
        "machine": {"cpu": rnnbook::experiments::cpu_model(),
                    "logical_cpus": std::thread::available_parallelism().map_or(1, |n| n.get()),
                    "ceilings": {"paths": ["portable"], "fma_peak_gflops": [1.0],
                                 "l2_read_gbs": 1.0, "memory_read_gbs": 1.0},
                    "torch_cells": []},
        "measured": [], "complete": false, "rows": []
    });
    let bytes = serde_json::to_vec_pretty(&good).unwrap();
    for cut in 0..bytes.len() - 1 {
        std::fs::write(&bench_file, &bytes[..cut]).unwrap();
        let e = format!("{:#}", OutFile::read(&bench_file).unwrap_err());
        assert!(e.contains("bench.json"), "cut at {cut}: {e}");
    }
    std::fs::write(&bench_file, &bytes[..bytes.len() / 2]).unwrap();
    refused(&bench(&[]), &["bench.json", "not valid JSON"]);
    std::fs::write(&bench_file, br#"{"rows": []}"#).unwrap();
    refused(&bench(&[]), &["bench.json", "format"]);
    std::fs::write(&bench_file, &bytes).unwrap();
    refused(
        &bench(&["--threads", "2"]),
        &["bench.json", "settings.threads"],
    );
    let mut other = good.clone();
    other["machine"]["cpu"] = "Some Other CPU".into();
    std::fs::write(&bench_file, serde_json::to_vec(&other).unwrap()).unwrap();
    refused(
        &bench(&[]),
        &["bench.json", "another machine", "Some Other CPU"],
    );
    // Without --resume an existing file is not overwritten.
    let mut fresh = bench(&[]);
    fresh.retain(|a| a != "--resume");
    refused(&fresh, &["bench.json", "--resume"]);
}

#[test]
fn numbers_that_cannot_be_trusted_are_refused_naming_option_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("poem.txt");
    std::fs::write(&text, POEM.repeat(4)).unwrap();
    let ckpt = dir.path().join("ckpt.json");
    let rnn = |extra: &[&str], text: &Path| {
        let mut a = s(&[
            "train",
            "rnn",
            "--text",
            text.to_str().unwrap(),
            "--steps",
            "2",
        ]);
        a.extend(s(&["--checkpoint", ckpt.to_str().unwrap()]));
        a.extend(s(extra));
        a
    };
    for (flag, value) in [
        ("--clip", "0"),
        ("--clip", "-1"),
        ("--lr", "nan"),
        ("--lr", "inf"),
        ("--lr", "0"),
        ("--lr", "-0.1"),
        ("--seq-len", "0"),
        ("--batch", "0"),
    ] {
        let arg = format!("{flag}={value}");
        refused(&rnn(&[&arg], &text), &[flag, &format!("'{value}'")]);
        let task = s(&["train", "copy", "--cell", "gru", "--steps", "1", &arg]);
        if flag != "--seq-len" {
            refused(&task, &[flag, &format!("'{value}'")]);
        }
        refused(
            &s(&["train", "text", "--cell", "rnn", &arg]),
            &[flag, &format!("'{value}'")],
        );
    }
    refused(
        &s(&["train", "adding", "--cell", "rnn", "--seq-len", "0"]),
        &["--seq-len", "at least 2"],
    );
    // A vocabulary of one character; a text shorter than one window.
    let one = dir.path().join("one.txt");
    std::fs::write(&one, "a".repeat(500)).unwrap();
    refused(&rnn(&[], &one), &["one.txt", "one distinct character"]);
    let text_cmd = |file: &Path, extra: &[&str]| {
        let mut a = s(&[
            "train",
            "text",
            "--cell",
            "rnn",
            "--text",
            file.to_str().unwrap(),
        ]);
        a.extend(s(&[
            "--steps",
            "1",
            "--out",
            dir.path().join("t").to_str().unwrap(),
        ]));
        a.extend(s(extra));
        a
    };
    refused(&text_cmd(&one, &[]), &["one.txt", "one distinct character"]);
    let short = dir.path().join("short.txt");
    std::fs::write(&short, "abcdefghijklmnopqrstuvwxyz").unwrap();
    refused(
        &rnn(&["--seq-len", "20", "--batch", "2"], &short),
        &["short.txt", "shorter than one window", "--seq-len 20"],
    );
    std::fs::write(&short, "abcdefghij".repeat(30)).unwrap();
    refused(
        &text_cmd(&short, &["--seq-len", "200", "--batch", "2"]),
        &["short.txt", "shorter than one window"],
    );
    // The benchmark: T or B of zero.
    refused(&s(&["bench", "--seq-len", "0"]), &["--seq-len 0"]);
    refused(&s(&["bench", "--batch", "8,0"]), &["--batch 0"]);
    assert!(!ckpt.exists(), "nothing was written");
}

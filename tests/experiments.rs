//! `rnnbook experiments --smoke`: the whole pipeline of chapter 7's study in seconds, every
//! record well-formed, and a second invocation skips what is recorded.

use std::process::Command;

use ch07_experiments::study::{Outcome, Records, study};

fn experiments(out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rnnbook"))
        .args(["experiments", "--smoke", "--jobs", "2", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn the_smoke_study_records_every_run_and_resumes_by_skipping_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("runs");
    let first = experiments(&out, &[]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let records = Records::read(&out).unwrap();
    let expected = study(true, 10).len();
    assert_eq!(records.records.len(), expected);
    for r in &records.records {
        match &r.outcome {
            Outcome::Task(t) => {
                assert!(
                    !t.curve.is_empty() && t.final_metric.is_finite(),
                    "{}",
                    r.spec.id
                );
                assert_eq!(t.curve.last().unwrap().step, 20, "{}", r.spec.id);
            }
            Outcome::Text(t) => assert!(t.final_test_bits < t.uniform_bits * 2.0, "{}", r.spec.id),
        }
    }
    // A damaged record (records are written atomically, so a kill cannot leave one) is
    // refused by name, exit 2, and nothing is run; once it is deleted, its run is run again.
    let victim = &records.records[0].spec.id;
    let victim_path = out.join(format!("{victim}.json"));
    std::fs::write(&victim_path, "{\"format\": ").unwrap();
    let refused = experiments(&out, &[]);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{said}");
    assert!(
        said.contains(&format!("{victim}.json")) && said.contains("delete"),
        "{said}"
    );
    std::fs::remove_file(&victim_path).unwrap();
    let second = experiments(&out, &[]);
    assert!(second.status.success());
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(
        said.contains(&format!(
            "{expected} runs, {} already recorded, 1 run",
            expected - 1
        )),
        "{said}"
    );
    assert_eq!(Records::read(&out).unwrap().records.len(), expected);
    let none = experiments(&out, &["--only", "no-such-run"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("--only"));
}

fn train(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rnnbook"))
        .arg("train")
        .args(args)
        .output()
        .unwrap()
}

/// The run in a checkpoint, without its wall time.
fn run_of(dir: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("checkpoint.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v.as_object_mut().unwrap().remove("seconds");
    v
}

#[test]
fn a_task_run_stopped_and_resumed_equals_one_run_for_every_cell() {
    let dir = tempfile::tempdir().unwrap();
    for (task, cell, fused) in [
        ("adding", "rnn", false),
        ("copy", "lstm", false),
        ("reber", "gru", false),
        ("adding", "gru-cho", false),
        ("copy", "lstm", true),
        ("adding", "gru", true),
    ] {
        let (one, two) = (
            dir.path().join(format!("{task}-{cell}-{fused}-1")),
            dir.path().join(format!("{task}-{cell}-{fused}-2")),
        );
        let common = [
            "--cell",
            cell,
            "--seq-len",
            "6",
            "--hidden",
            "4",
            "--batch",
            "3",
            "--eval-every",
            "4",
        ];
        let run = |out: &std::path::Path, steps: &str, resume: bool| {
            let mut args = vec![task];
            args.extend(common);
            args.extend([
                "--steps",
                steps,
                "--checkpoint-every",
                "5",
                "--out",
                out.to_str().unwrap(),
            ]);
            if resume {
                args.push("--resume");
            }
            if fused {
                args.push("--fused");
            }
            let o = train(&args);
            assert!(
                o.status.success(),
                "{task} {cell}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        };
        run(&one, "12", false);
        run(&two, "7", false);
        run(&two, "12", true);
        assert_eq!(run_of(&one), run_of(&two), "{task} {cell}");
        assert!(one.join(format!("{task}-{cell}-s1.json")).exists());
    }
    // Resuming with other settings, or starting over an existing run, is refused by name.
    let out = dir.path().join("adding-rnn-false-1");
    let o = train(&[
        "adding",
        "--cell",
        "rnn",
        "--seq-len",
        "6",
        "--hidden",
        "5",
        "--out",
        out.to_str().unwrap(),
        "--resume",
    ]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "a mismatched checkpoint is bad input"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("other settings"));
    let o = train(&["adding", "--cell", "rnn", "--out", out.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--resume"));
    let o = train(&["adding", "--cell", "transformer"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a cell"));
    let o = train(&[
        "adding",
        "--cell",
        "rnn",
        "--lr",
        "0",
        "--out",
        dir.path().join("x").to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--lr"));
    let o = train(&[
        "copy",
        "--cell",
        "lstm",
        "--chrono",
        "2",
        "--out",
        dir.path().join("y").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--chrono must be a T_max above 2"));
    let o = train(&["adding", "--cell", "gru-cho", "--fused"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--fused: gru-cho has no fused kernel"));
    let o = train(&[
        "copy",
        "--cell",
        "lstm",
        "--chrono",
        "40",
        "--forget-bias",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(2), "chrono replaces the forget bias");
}

#[test]
fn a_character_model_stopped_and_resumed_equals_one_run_and_refuses_another_text() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("text.txt");
    std::fs::write(
        &text,
        "the cat sat on the mat; the dog sat on the log. ".repeat(12),
    )
    .unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let run = |out: &std::path::Path, steps: &str, resume: bool| {
        let mut args = vec![
            "text",
            "--cell",
            "lstm",
            "--text",
            text.to_str().unwrap(),
            "--hidden",
            "5",
            "--seq-len",
            "8",
            "--batch",
            "3",
            "--eval-every",
            "4",
            "--checkpoint-every",
            "5",
            "--steps",
            steps,
            "--out",
            out.to_str().unwrap(),
        ];
        if resume {
            args.push("--resume");
        }
        train(&args)
    };
    for (out, steps, resume) in [(&one, "14", false), (&two, "7", false), (&two, "14", true)] {
        let o = run(out, steps, resume);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    assert_eq!(run_of(&one), run_of(&two));
    let record: ch07_experiments::study::Record =
        serde_json::from_str(&std::fs::read_to_string(one.join("text-lstm-s1.json")).unwrap())
            .unwrap();
    assert_eq!(record.spec.id, "text-lstm-s1");
    let Outcome::Text(t) = &record.outcome else {
        panic!("a text record");
    };
    assert_eq!(t.curve.last().unwrap().step, 14);
    assert!(t.final_test_bits < t.uniform_bits);
    // Another text under the same checkpoint is refused by name, and nothing is written.
    let before = std::fs::read(two.join("checkpoint.json")).unwrap();
    std::fs::write(
        &text,
        "a different text entirely, of other words. ".repeat(12),
    )
    .unwrap();
    let o = run(&two, "20", true);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("another text"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(std::fs::read(two.join("checkpoint.json")).unwrap(), before);
    let o = train(&["text", "--cell", "gru", "--held-out", "1.5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--held-out"));
}

#[test]
fn a_non_finite_step_stops_the_run_naming_it_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("text.txt");
    std::fs::write(&text, "abcabd abcabe. ".repeat(40)).unwrap();
    let text = text.to_str().unwrap();
    for (i, args) in [
        &["adding", "--cell", "lstm", "--seq-len", "6"][..],
        &["text", "--cell", "gru", "--text", text, "--seq-len", "8"][..],
    ]
    .iter()
    .enumerate()
    {
        let out = dir.path().join(format!("run{i}"));
        let mut all = args.to_vec();
        // A step size of 1e308 sends the weights to about 1e308 in one update.
        all.extend([
            "--hidden",
            "4",
            "--lr",
            "1e308",
            "--steps",
            "5",
            "--checkpoint-every",
            "1",
            "--out",
            out.to_str().unwrap(),
        ]);
        let o = train(&all);
        let said = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{said}");
        assert!(
            said.contains("step 2: non-finite") && said.contains("keeps the state of step 1"),
            "{said}"
        );
        assert!(!said.contains("panicked"), "{said}");
        let kept = run_of(&out);
        assert_eq!(kept["run"]["step"], 1, "{args:?}");
    }
}

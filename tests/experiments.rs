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
    // A torn record (as a kill in the middle of an ordinary write would leave) is run again.
    let victim = &records.records[0].spec.id;
    std::fs::write(out.join(format!("{victim}.json")), "{\"format\": ").unwrap();
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
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("--only"));
}

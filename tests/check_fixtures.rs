//! `rnnbook check` against the committed PyTorch fixtures, and its handling of bad files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rnnbook::check::check_fixture;
use rnnbook::fixture::{Cell, load};

fn fixtures_dir() -> PathBuf {
    rnnbook::repo_root().join("tests/fixtures")
}

fn fixtures(prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(prefix) && name.ends_with(".json")
        })
        .collect();
    files.sort();
    files
}

fn rnnbook_check(files: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rnnbook"))
        .arg("check")
        .args(files)
        .output()
        .unwrap()
}

#[test]
fn every_committed_fixture_is_well_formed() {
    let all = fixtures("");
    assert_eq!(
        all.len(),
        21,
        "expected 5 cases for each of 4 cells, and lstm_forget_bias: {all:?}"
    );
    for path in &all {
        let f = load(path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.c0.is_some(), f.cell == Cell::Lstm, "{}", path.display());
    }
}

fn assert_matches_pytorch(prefix: &str, tensors_per_file: usize) {
    let files = fixtures(prefix);
    assert!(files.len() >= 5, "{prefix}: {files:?}");
    for path in files {
        let result = check_fixture(&load(&path).unwrap());
        for t in &result.tensors {
            assert!(
                t.comparison.is_within(),
                "{}: {}: {}",
                path.display(),
                t.name,
                t.comparison
            );
        }
        assert_eq!(result.tensors.len(), tensors_per_file);
    }
}

#[test]
fn the_rnn_matches_pytorch_on_every_rnn_tanh_fixture() {
    assert_matches_pytorch("rnn_tanh_", 8);
}

#[test]
fn the_gru_matches_pytorch_on_every_gru_fixture() {
    assert_matches_pytorch("gru_", 8); // gru_* and gru_cho_*
}

#[test]
fn the_lstm_matches_pytorch_on_every_lstm_fixture() {
    // y, h_n, c_n, four parameter gradients, x, h0, c0
    assert_matches_pytorch("lstm_", 10);
}

#[test]
fn the_command_exits_0_on_the_rnn_fixtures_and_prints_every_tensor() {
    let files = fixtures("rnn_tanh_");
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let out = rnnbook_check(&refs);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches("grads.weight_hh").count(), 5);
    assert!(stdout.contains("max abs") && stdout.contains("max rel"));
}

/// Writes `rnn_tanh_rect.json` with `edit` applied to its JSON, into a temporary folder.
fn edited_fixture(edit: impl FnOnce(&mut serde_json::Value)) -> (tempfile::TempDir, PathBuf) {
    edited("rnn_tanh_rect.json", edit)
}

fn edited(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> (tempfile::TempDir, PathBuf) {
    let text = std::fs::read_to_string(fixtures_dir().join(name)).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    edit(&mut v);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edited.json");
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
    (dir, path)
}

#[test]
fn one_perturbed_gradient_entry_makes_the_check_fail_with_exit_1() {
    let (_dir, path) = edited_fixture(|v| {
        let e = &mut v["grads"]["weight_hh"][1][2];
        *e = serde_json::json!(e.as_f64().unwrap() + 1e-6);
    });
    let out = rnnbook_check(&[&path]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAILED"), "{stdout}");
    assert!(stdout.contains("worst at [1, 2]"), "{stdout}");
}

#[test]
fn one_perturbed_lstm_cell_gradient_makes_the_check_fail() {
    let (_dir, path) = edited("lstm_rect.json", |v| {
        let e = &mut v["grads"]["c0"][0][1];
        *e = serde_json::json!(e.as_f64().unwrap() * (1.0 + 1e-7));
    });
    let out = rnnbook_check(&[&path]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("grads.c0") && stdout.contains("worst at [0, 1]"),
        "{stdout}"
    );
}

/// The reset-before fixture, checked as if it were reset-after, fails: the variants are
/// different functions, and `check` can tell them apart.
#[test]
fn a_reset_before_fixture_fails_as_reset_after() {
    let (_dir, path) = edited("gru_cho_rect.json", |v| {
        v["cell"] = serde_json::json!("gru")
    });
    let out = rnnbook_check(&[&path]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("y ") && stdout.contains("FAILED"),
        "{stdout}"
    );
}

#[test]
fn one_perturbed_gru_gradient_makes_the_check_fail() {
    let (_dir, path) = edited("gru_cho_long.json", |v| {
        let e = &mut v["grads"]["bias_hh"][7];
        *e = serde_json::json!(e.as_f64().unwrap() + 1e-8);
    });
    let out = rnnbook_check(&[&path]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("worst at [7]"), "{stdout}");
}

fn assert_bad_file(path: &Path, expect_in_message: &[&str]) {
    let out = rnnbook_check(&[path]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for s in expect_in_message {
        assert!(stderr.contains(s), "expected `{s}` in: {stderr}");
    }
}

#[test]
fn a_missing_field_is_named() {
    let (_dir, path) = edited_fixture(|v| {
        v["params"].as_object_mut().unwrap().remove("bias_hh");
    });
    assert_bad_file(&path, &["edited.json", "params.bias_hh", "missing"]);
}

#[test]
fn a_wrongly_shaped_tensor_is_named_with_its_row() {
    let (_dir, path) = edited_fixture(|v| {
        v["inputs"]["x"][2][1].as_array_mut().unwrap().pop();
    });
    assert_bad_file(
        &path,
        &[
            "edited.json",
            "inputs.x[2][1]",
            "expected 5 entries, found 4",
        ],
    );
}

#[test]
fn a_size_that_disagrees_with_the_tensors_is_caught() {
    let (_dir, path) = edited_fixture(|v| v["hidden_size"] = serde_json::json!(4));
    assert_bad_file(&path, &["edited.json", "params."]);
}

/// Issue 17: this header once made `check` abort (exit 134) on a 16 TB allocation.
#[test]
fn an_oversized_declared_size_exits_2_naming_file_and_field() {
    for (field, n) in [
        ("hidden_size", 1_000_000_000_000u64),
        ("seq_len", u64::MAX),
        ("batch", 100_001),
    ] {
        let (_dir, path) = edited_fixture(|v| v[field] = serde_json::json!(n));
        assert_bad_file(&path, &["edited.json", field, "over the largest size"]);
    }
    // Sizes each within the bound whose product is not: refused before allocating.
    let (_dir, path) = edited_fixture(|v| {
        v["seq_len"] = serde_json::json!(100_000);
        v["batch"] = serde_json::json!(100_000);
    });
    assert_bad_file(&path, &["edited.json", "inputs.x", "most entries"]);
}

#[test]
fn a_non_number_is_named() {
    let (_dir, path) = edited_fixture(|v| v["grad_y"][0][0][0] = serde_json::json!("NaN"));
    assert_bad_file(&path, &["grad_y[0][0][0]", "expected a number"]);
}

#[test]
fn a_file_that_is_not_json_or_is_missing_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"format\": ").unwrap();
    assert_bad_file(&broken, &["broken.json", "not valid JSON"]);
    assert_bad_file(
        &dir.path().join("absent.json"),
        &["absent.json", "cannot read"],
    );
}

#[test]
fn a_bad_file_does_not_stop_the_others_from_being_checked() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "[]").unwrap();
    let good = fixtures_dir().join("rnn_tanh_tiny.json");
    let out = rnnbook_check(&[&broken, &good]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("rnn_tanh_tiny.json (rnn_tanh"));
}

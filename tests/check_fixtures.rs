//! `rnnbook check` against the committed PyTorch fixtures, and its handling of bad files:
//! the single-layer ones and the stacked or bidirectional ones (issue 18).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rnnbook::check::{check_fixture, check_stacked};
use rnnbook::fixture::{AnyFixture, Cell, MAX_LAYERS, load, load_any};

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

/// The stacked cases: `(name suffix, L, D)`.
const STACKED: [(&str, usize, usize); 3] = [("_l2", 2, 1), ("_bi", 1, 2), ("_l2_bi", 2, 2)];

fn is_stacked(path: &Path) -> bool {
    let stem = path.file_stem().unwrap().to_string_lossy();
    STACKED.iter().any(|(suffix, _, _)| stem.ends_with(suffix))
}

/// The single-layer fixtures whose names start with `prefix`.
fn single_fixtures(prefix: &str) -> Vec<PathBuf> {
    fixtures(prefix)
        .into_iter()
        .filter(|p| !is_stacked(p))
        .collect()
}

/// The 9 stacked or bidirectional fixtures.
fn stacked_fixtures() -> Vec<PathBuf> {
    fixtures("").into_iter().filter(|p| is_stacked(p)).collect()
}

#[test]
fn every_committed_fixture_is_well_formed() {
    let all = fixtures("");
    assert_eq!(
        all.len(),
        30,
        "expected 5 cases for each of 4 cells, lstm_forget_bias, and 3 stacked cases for \
         each of rnn_tanh, lstm, gru: {all:?}"
    );
    let (mut single, mut stacked) = (0, 0);
    for path in &all {
        match load_any(path).unwrap_or_else(|e| panic!("{e}")) {
            AnyFixture::Single(f) => {
                assert!(!is_stacked(path), "{}", path.display());
                assert_eq!(f.c0.is_some(), f.cell == Cell::Lstm, "{}", path.display());
                single += 1;
            }
            AnyFixture::Stacked(f) => {
                let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
                let (suffix, l, d) = STACKED
                    .iter()
                    .filter(|(suffix, _, _)| stem.ends_with(suffix))
                    .max_by_key(|(suffix, _, _)| suffix.len())
                    .unwrap();
                assert_eq!(format!("{}{suffix}", f.cell.name()), stem);
                assert_eq!((f.num_layers, f.directions()), (*l, *d), "{stem}");
                assert_eq!(f.params.len(), l * d);
                assert_eq!(f.h0.dim(), (l * d, f.batch, f.hidden_size), "{stem}");
                assert_eq!(f.y.dim(), (f.seq_len, f.batch, d * f.hidden_size), "{stem}");
                assert_eq!(f.c0.is_some(), f.cell == Cell::Lstm, "{stem}");
                // what the brief asked of every stacked case
                assert!(f.input_size != f.hidden_size && f.batch >= 2 && f.seq_len >= 4);
                assert!(
                    f.grad_h_n.is_some() && f.h0.iter().all(|&v| v != 0.0),
                    "{stem}"
                );
                assert_eq!(f.grad_c_n.is_some(), f.cell == Cell::Lstm, "{stem}");
                assert!(std::fs::metadata(path).unwrap().len() < 100_000, "{stem}");
                stacked += 1;
            }
        }
    }
    assert_eq!((single, stacked), (21, 9));
}

fn assert_matches_pytorch(prefix: &str, tensors_per_file: usize) {
    let files = single_fixtures(prefix);
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

/// Chapter 8's stacked network against every stacked fixture, tensor by tensor.
#[test]
fn the_stacked_networks_match_pytorch_on_every_stacked_fixture() {
    let files = stacked_fixtures();
    assert_eq!(files.len(), 9, "{files:?}");
    for path in files {
        let AnyFixture::Stacked(f) = load_any(&path).unwrap() else {
            panic!("{}: not read as stacked", path.display());
        };
        let result = check_stacked(&f);
        for t in &result.tensors {
            assert!(
                t.comparison.is_within(),
                "{}: {}: {}",
                path.display(),
                t.name,
                t.comparison
            );
        }
        // y, h_n, (c_n), four gradients per layer and direction, x, h0, (c0)
        let lstm = usize::from(f.cell == Cell::Lstm);
        let want = 2 + lstm + 4 * f.num_layers * f.directions() + 2 + lstm;
        assert_eq!(result.tensors.len(), want, "{}", path.display());
        let last = f.num_layers - 1;
        let top = if f.bidirectional {
            format!("grads.weight_hh_l{last}_reverse")
        } else {
            format!("grads.weight_hh_l{last}")
        };
        assert!(result.tensors.iter().any(|t| t.name == top), "no {top}");
    }
}

#[test]
fn the_command_exits_0_on_every_stacked_fixture_and_names_layers_and_directions() {
    let files = stacked_fixtures();
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let out = rnnbook_check(&refs);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("FAILED"), "{stdout}");
    assert!(
        stdout.contains("lstm_l2_bi.json (lstm, L=2 D=2 T=4 B=2 I=5 H=3): ok"),
        "{stdout}"
    );
    // layer 1's reverse direction exists in the 3 two-layer bidirectional files only
    assert_eq!(stdout.matches("grads.weight_hh_l1_reverse").count(), 3);
    assert_eq!(stdout.matches("grads.h0 ").count(), 9);
    assert_eq!(stdout.matches("grads.c0 ").count(), 3);
}

/// The names of the tensors `check` printed as FAILED.
fn failed_tensors(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("    ") && l.ends_with("FAILED"))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

#[test]
fn one_perturbed_gradient_entry_of_a_stacked_fixture_fails_naming_the_tensor() {
    for (name, group, key, index, worst) in [
        (
            "lstm_l2_bi.json",
            "grads",
            "weight_hh_l1_reverse",
            &[1usize, 2][..],
            "[1, 2]",
        ),
        ("gru_l2_bi.json", "grads", "h0", &[3, 1, 2][..], "[3, 1, 2]"),
        ("rnn_tanh_l2.json", "grads", "bias_ih_l1", &[2][..], "[2]"),
    ] {
        let (_dir, path) = edited(name, |v| {
            let e = index.iter().fold(&mut v[group][key], |e, &k| &mut e[k]);
            *e = serde_json::json!(e.as_f64().unwrap() + 1e-6);
        });
        let out = rnnbook_check(&[&path]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{name}: {stdout}");
        assert_eq!(
            failed_tensors(&stdout),
            [format!("{group}.{key}")],
            "{stdout}"
        );
        assert!(stdout.contains(&format!("worst at {worst}")), "{stdout}");
    }
}

#[test]
fn a_single_layer_fixture_still_checks_as_before_beside_stacked_ones() {
    let single = fixtures_dir().join("lstm_rect.json");
    let stacked = fixtures_dir().join("lstm_bi.json");
    let out = rnnbook_check(&[&single, &stacked]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("lstm_rect.json (lstm, T=3 B=2 I=5 H=3): ok"),
        "{stdout}"
    );
    assert!(stdout.contains("  grads.weight_hh  "), "{stdout}");
    assert!(
        stdout.contains("lstm_bi.json (lstm, L=1 D=2 T=6 B=3 I=4 H=3): ok"),
        "{stdout}"
    );
    // `load` (the single-layer reader) points a stacked file to `load_any`
    let e = load(&stacked).unwrap_err();
    assert_eq!(e.field, "num_layers");
    assert!(e.message.contains("load_any"), "{e}");
}

/// `name` with `edit` applied must exit 2 naming the edited file and each of `says`.
fn assert_bad_edit(name: &str, edit: impl FnOnce(&mut serde_json::Value), says: &[&str]) {
    let (_dir, path) = edited(name, edit);
    let mut expect = vec!["edited.json"];
    expect.extend_from_slice(says);
    assert_bad_file(&path, &expect);
}

#[test]
fn a_bad_stacked_header_or_state_exits_2_naming_the_field() {
    use serde_json::json;
    let layers = |n: serde_json::Value| move |v: &mut serde_json::Value| v["num_layers"] = n;
    assert_bad_edit(
        "lstm_l2_bi.json",
        layers(json!(0)),
        &["num_layers", "positive whole"],
    );
    assert_bad_edit(
        "lstm_l2_bi.json",
        layers(json!(MAX_LAYERS + 1)),
        &[
            "num_layers",
            "over the most layers a fixture may declare, 64",
        ],
    );
    assert_bad_edit(
        "gru_l2.json",
        layers(json!(1_000_000_000_000u64)),
        &["most layers"],
    );
    // the single-layer shape [B][H] where [L·D][B][H] is wanted
    assert_bad_edit(
        "gru_bi.json",
        |v| v["inputs"]["h0"] = v["inputs"]["h0"][0].clone(),
        &["inputs.h0", "expected 2 entries, found 3", "L·D = 2"],
    );
    assert_bad_edit(
        "rnn_tanh_l2_bi.json",
        |v| v["bidirectional"] = json!(1),
        &["bidirectional", "true or false"],
    );
    assert_bad_edit(
        "rnn_tanh_l2_bi.json",
        |v| v["params"]["weight_ih"] = v["params"]["weight_ih_l0"].clone(),
        &["params.weight_ih:", "weight_ih_l0"],
    );
    assert_bad_edit(
        "lstm_l2.json",
        |v| v["grads"]["weight_hh_l1_reverse"] = v["grads"]["weight_hh_l1"].clone(),
        &[
            "grads.weight_hh_l1_reverse",
            "not a parameter of a 2-layer one-directional lstm",
        ],
    );
    assert_bad_edit(
        "gru_l2_bi.json",
        |v| v["cell"] = json!("gru_cho"),
        &["cell", "reset-before"],
    );
}

#[test]
fn the_command_exits_0_on_the_rnn_fixtures_and_prints_every_tensor() {
    let files = single_fixtures("rnn_tanh_");
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

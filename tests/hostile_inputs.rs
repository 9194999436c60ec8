//! Hostile input (issue 17): every input kept in `fuzz/regressions/<target>/` (each one broke
//! something once, or is the input the issue reported) goes through the loader its fuzz target
//! drives, and must come back as a result or an error that names the file: no panic, no abort.
//! And the committed fuzzing report (`python3 fuzz/run.py`) must show every target run for at
//! least ten minutes without a failure.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The fuzz targets, as `fuzz/Cargo.toml` declares them.
fn targets() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("fuzz/Cargo.toml")).unwrap();
    let manifest: toml::Table = toml::from_str(&text).unwrap();
    manifest["bin"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_string())
        .collect()
}

/// Runs `target`'s loader on the input `path`; `Err` holds the error's message.
fn load(target: &str, path: &Path) -> Result<(), String> {
    let text = || std::fs::read_to_string(path).unwrap();
    match target {
        "fixture" => ch00_foundations::fixture::load_any(path)
            .map(drop)
            .map_err(|e| e.to_string()),
        "checkpoint" => rnnbook::train::checkpoint::load_checkpoint(path)
            .map(drop)
            .map_err(|e| format!("{e:#}")),
        "study_record" => ch07_experiments::study::Record::read(path)
            .map(drop)
            .map_err(|e| e.to_string()),
        "bench_data" => ch06_fused::results::BenchFile::read(path)
            .map(drop)
            .map_err(|e| e.to_string()),
        "bench_out" => rnnbook::bench::OutFile::read(path)
            .map(drop)
            .map_err(|e| format!("{e:#}")),
        "exercises_toml" => {
            let dir = tempfile::tempdir().unwrap();
            let config = dir.path().join(rnnbook::classroom::CONFIG);
            std::fs::create_dir_all(config.parent().unwrap()).unwrap();
            std::fs::copy(path, &config).unwrap();
            rnnbook::classroom::read_config(dir.path())
                .map(drop)
                .map_err(|e| format!("{e:#}").replace(&config.display().to_string(), "CONFIG"))
        }
        "regions" => {
            let t = text();
            rnnbook::classroom::parse_regions(&t, "fuzz.rs")
                .and_then(|_| rnnbook::classroom::strip_solutions(&t, "fuzz.rs"))
                .map(drop)
                .map_err(|e| format!("{e:#}"))
        }
        other => panic!("no loader for the fuzz target {other}"),
    }
}

#[test]
fn every_kept_input_gets_a_result_or_an_error_naming_its_file() {
    let mut n = 0;
    for target in targets() {
        let dir = root().join("fuzz/regressions").join(&target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            n += 1;
            if let Err(message) = load(&target, &path) {
                let named = match target.as_str() {
                    "exercises_toml" => "CONFIG".to_string(),
                    "regions" => "fuzz.rs".to_string(),
                    _ => path.display().to_string(),
                };
                assert!(
                    message.contains(&named),
                    "{target} {}: the error does not name {named}: {message}",
                    path.display()
                );
            }
        }
    }
    assert!(n >= 1, "no regression input is kept");
}

/// The input issue 17 reported: `check` once aborted on it (exit 134).
#[test]
fn the_reported_oversized_header_is_an_error_naming_the_field() {
    let path = root().join("fuzz/regressions/fixture/hidden-size-1e12.json");
    let e = load("fixture", &path).unwrap_err();
    assert!(
        e.contains("hidden_size") && e.contains("over the largest size"),
        "{e}"
    );
}

#[test]
fn the_fuzzing_report_shows_every_target_run_ten_minutes_without_a_failure() {
    let path = root().join("fuzz/report.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run python3 fuzz/run.py)", path.display()));
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    for key in ["cpu", "cpus", "kernel"] {
        assert!(
            !r["machine"][key].is_null(),
            "the report names no machine {key}"
        );
    }
    assert!(r["limits"]["rss_limit_mb"].as_u64().unwrap() <= 4096);
    let rows = r["targets"].as_array().unwrap();
    for target in targets() {
        let row = rows
            .iter()
            .find(|row| row["target"] == target.as_str())
            .unwrap_or_else(|| panic!("the report has no row for {target}"));
        assert!(row["seconds"].as_f64().unwrap() >= 600.0, "{row}");
        assert!(row["runs"].as_u64().unwrap() > 1000, "{row}");
        assert_eq!(row["exit_code"], 0, "{row}");
        assert_eq!(row["failures"].as_array().unwrap().len(), 0, "{row}");
    }
}

//! `rnnbook bench`: the JSON has one row per implementation with the documented fields, and
//! unsupported options are refused clearly. Nothing here asserts a speed (machines are noisy).

use std::process::Command;

fn bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rnnbook"))
        .arg("bench")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn json_output_has_one_row_per_implementation_with_every_field() {
    let out = bench(&[
        "--seq-len",
        "3",
        "--batch",
        "2",
        "--input",
        "4",
        "--hidden",
        "3",
        "--repeats",
        "1",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is only JSON");
    let rows = rows.as_array().unwrap();
    let impls: Vec<&str> = rows.iter().map(|r| r["impl"].as_str().unwrap()).collect();
    assert_eq!(impls, ["naive", "v1", "gemm"]);
    for r in rows {
        for field in [
            "cell",
            "impl",
            "dtype",
            "seq_len",
            "batch",
            "input_size",
            "hidden_size",
            "threads",
            "fwd_ms",
            "fwd_bwd_ms",
            "gflops",
        ] {
            assert!(!r[field].is_null(), "missing {field} in {r}");
        }
        assert_eq!(r["seq_len"], 3);
        assert!(r["fwd_bwd_ms"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn the_gru_and_threads_are_refused_until_they_exist() {
    for args in [&["--cell", "gru"][..], &["--threads", "2"][..]] {
        let out = bench(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("so far") && !stderr.contains("panicked"),
            "{stderr}"
        );
    }
}

#[test]
fn flop_count_follows_the_design_formula() {
    let o = rnnbook::bench::BenchOptions {
        cell: "lstm".into(),
        seq_len: 100,
        batch: 32,
        input_size: 256,
        hidden_size: 256,
        threads: 1,
        repeats: 1,
    };
    // 2·T·B·(I+H)·G·H
    assert_eq!(
        rnnbook::bench::forward_flops(&o, 4),
        2.0 * 100.0 * 32.0 * 512.0 * 4.0 * 256.0
    );
}

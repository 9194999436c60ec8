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

/// Runs `rnnbook bench ARGS --repeats 1 --json`, asserts success, and returns stdout.
fn bench_json(args: &[&str]) -> Vec<u8> {
    let out = bench(&[args, &["--repeats", "1", "--json"]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn json_output_has_one_row_per_implementation_with_every_field() {
    let stdout = bench_json(&[
        "--seq-len",
        "3",
        "--batch",
        "2",
        "--input",
        "4",
        "--hidden",
        "3",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&stdout).expect("stdout is only JSON");
    let m = &report["machine"];
    assert!(
        m["cpu"].is_string() && m["logical_cpus"].as_u64().unwrap() >= 1,
        "{m}"
    );
    let c = &m["ceilings"];
    assert_eq!(c["paths"].as_array().unwrap().last().unwrap(), "portable");
    assert!(
        c["fma_peak_gflops"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g.as_f64().unwrap() > 0.0)
    );
    assert!(
        c["l2_read_gbs"].as_f64().unwrap() > 0.0 && c["memory_read_gbs"].as_f64().unwrap() > 0.0
    );
    let rows = report["rows"].as_array().unwrap();
    let impls: Vec<&str> = rows.iter().map(|r| r["impl"].as_str().unwrap()).collect();
    assert_eq!(
        impls,
        ["naive", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "gemm"]
    );
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
fn lists_run_every_combination_for_both_cells() {
    let stdout = bench_json(&[
        "--cell",
        "gru",
        "--seq-len",
        "2,3",
        "--batch",
        "3",
        "--input",
        "2",
        "--hidden",
        "4",
        "--threads",
        "1,2",
    ]);
    let report: ch06_fused::results::BenchReport = serde_json::from_slice(&stdout).unwrap();
    let rows = report.rows;
    assert_eq!(rows.len(), 2 * 2 * 8);
    assert!(rows.iter().all(|r| r.cell == "gru"));
    let v3: Vec<(usize, usize)> = rows
        .iter()
        .filter(|r| r.implementation == "v3")
        .map(|r| (r.seq_len, r.threads))
        .collect();
    assert_eq!(v3, [(2, 1), (2, 2), (3, 1), (3, 2)]);
    let v6: Vec<(usize, usize)> = rows
        .iter()
        .filter(|r| r.implementation == "v6")
        .map(|r| (r.seq_len, r.threads))
        .collect();
    assert_eq!(v6, v3);
    // Only v3 and v6 use more than one thread (the GRU has no v7).
    assert!(rows.iter().all(|r| r.implementation != "v7"));
    assert!(
        rows.iter()
            .filter(|r| !["v3", "v6"].contains(&r.implementation.as_str()))
            .all(|r| r.threads == 1)
    );
}

#[test]
fn bad_options_are_refused_by_name() {
    for (args, needle) in [
        (&["--cell", "rnn"][..], "--cell rnn"),
        (&["--threads", "0"][..], "--threads"),
        (&["--repeats", "0"][..], "--repeats"),
        (&["--batch", "0"][..], "--batch 0"),
        (&["--seq-len", "4,0"][..], "--seq-len 0"),
        (&["--only", "v9"][..], "--only v9"),
        (
            &["--cell", "gru", "--only", "v7", "--seq-len", "2"][..],
            "the gru has none",
        ),
    ] {
        let out = bench(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(needle) && !stderr.contains("panicked"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn flop_count_follows_the_design_formula() {
    let s = ch06_fused::runners::Shape {
        seq_len: 100,
        batch: 32,
        input_size: 256,
        hidden_size: 256,
    };
    // 2·T·B·(I+H)·G·H
    use ch06_fused::runners::CellKind;
    assert_eq!(
        s.forward_flops(CellKind::Lstm),
        2.0 * 100.0 * 32.0 * 512.0 * 4.0 * 256.0
    );
    assert_eq!(
        s.forward_flops(CellKind::Gru),
        2.0 * 100.0 * 32.0 * 512.0 * 3.0 * 256.0
    );
}

#[test]
fn pytorch_without_python_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_rnnbook"))
        .env("RNNBOOK_PYTHON", "/nonexistent/python3")
        .args([
            "bench",
            "--seq-len",
            "2",
            "--batch",
            "1",
            "--input",
            "2",
            "--hidden",
            "2",
        ])
        .args(["--repeats", "1", "--pytorch", "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--pytorch") && stderr.contains("/nonexistent/python3"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "no half-written JSON on stdout");
}

#[test]
fn only_times_the_named_versions_and_the_sweep_fills_in_its_grid() {
    let stdout = bench_json(&[
        "--cell",
        "lstm,gru",
        "--seq-len",
        "2",
        "--batch",
        "1,3",
        "--input",
        "2",
        "--hidden",
        "3",
        "--only",
        "v5,gemm",
    ]);
    let report: ch06_fused::results::BenchReport = serde_json::from_slice(&stdout).unwrap();
    let got: Vec<(String, usize, String)> = report
        .rows
        .iter()
        .map(|r| (r.cell.clone(), r.batch, r.implementation.clone()))
        .collect();
    let want: Vec<(String, usize, String)> = ["lstm", "gru"]
        .iter()
        .flat_map(|c| [1, 3].map(move |b| (c, b)))
        .flat_map(|(c, b)| ["v5", "gemm"].map(move |i| (c.to_string(), b, i.to_string())))
        .collect();
    assert_eq!(got, want);
    // The grid, with T and B narrowed on the command line: both cells, H = I ∈ {128, 256, 512},
    // 1 and 2 threads, v5, v6 and v7.
    let o = rnnbook::bench::BenchOptions {
        cell: vec![],
        seq_len: vec![2],
        batch: vec![1],
        input_size: vec![],
        hidden_size: vec![],
        threads: vec![],
        only: vec![],
        repeats: None,
        sweep: true,
        json: true,
        pytorch: false,
        out: None,
        resume: false,
    };
    let plan = rnnbook::bench::plan(&o).unwrap();
    assert_eq!(plan.cells.len(), 2);
    assert_eq!(plan.threads, [1, 2]);
    assert_eq!(
        plan.only,
        Some(["v5", "v6", "v7"].map(String::from).to_vec())
    );
    let hs: Vec<(usize, usize)> = plan
        .shapes
        .iter()
        .map(|s| (s.input_size, s.hidden_size))
        .collect();
    assert_eq!(hs, [(128, 128), (256, 256), (512, 512)]);
    assert_eq!(plan.repeats, 3);
}

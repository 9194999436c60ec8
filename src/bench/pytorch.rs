//! PyTorch on the same workload, side by side: `bench/torch_lstm.py` in a child process.

use anyhow::{Context, Result, bail};
use ch06_fused::results::BenchRow;
use ch06_fused::runners::{CellKind, Shape};

use super::BenchOptions;

/// Runs `bench/torch_lstm.py` (with `$RNNBOOK_PYTHON`, else `python3`) on the same workload and
/// thread count, right after the Rust implementations; its JSON row.
pub(super) fn time_pytorch(
    o: &BenchOptions,
    cell: CellKind,
    shape: Shape,
    threads: usize,
) -> Result<BenchRow> {
    let script = crate::repo_root().join("bench").join("torch_lstm.py");
    let python = std::env::var("RNNBOOK_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let args = [
        ("--cell", cell.name().to_string()),
        ("--seq-len", shape.seq_len.to_string()),
        ("--batch", shape.batch.to_string()),
        ("--input", shape.input_size.to_string()),
        ("--hidden", shape.hidden_size.to_string()),
        ("--threads", threads.to_string()),
        ("--repeats", o.repeats.to_string()),
    ];
    let out = std::process::Command::new(&python)
        .arg(&script)
        .args(args.iter().flat_map(|(k, v)| [k.to_string(), v.clone()]))
        .arg("--json")
        .output()
        .with_context(|| format!("--pytorch: could not run `{python} {}`", script.display()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
        bail!(
            "--pytorch: `{python} {}` failed ({}); is PyTorch installed (`pip install torch`)? {}",
            script.display(),
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        );
    }
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "--pytorch: {} printed something other than one JSON row",
            script.display()
        )
    })
}

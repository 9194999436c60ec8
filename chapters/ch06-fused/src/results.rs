//! Benchmark results: the rows `rnnbook bench --json` prints, and the committed file
//! of runs (`data/bench.json`, written by `bench/sweep.py`) that chapter 6's figures
//! are drawn from.
//!
//! [`BenchRow`] is the one definition of a row: the benchmark serialises it, the
//! data file holds lists of it, and [`BenchFile::read`] checks every row it reads.
//! The figures never time anything: a timing belongs to the machine that measured
//! it, which the file records.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::roofline::Ceilings;

/// One implementation's timings; the JSON row of `rnnbook bench --json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BenchRow {
    /// `lstm` or `gru`.
    pub cell: String,
    /// `naive` (the chapter code), `v1` … `v6`, `gemm` (one library GEMM of the
    /// forward's flop count), or `pytorch`.
    #[serde(rename = "impl")]
    pub implementation: String,
    /// `f64` or `f32`.
    pub dtype: String,
    /// `T`.
    pub seq_len: usize,
    /// `B`.
    pub batch: usize,
    /// `I`.
    pub input_size: usize,
    /// `H`.
    pub hidden_size: usize,
    /// Threads this implementation used.
    pub threads: usize,
    /// Median forward time (for `gemm`: one GEMM of the forward's flop count).
    pub fwd_ms: f64,
    /// Median forward + backward time (for `gemm`: three times `fwd_ms`).
    pub fwd_bwd_ms: f64,
    /// `[min, max]` of the forward + backward runs.
    pub fwd_bwd_range_ms: [f64; 2],
    /// GEMM GFLOP/s of the forward + backward run (for `gemm`: of the one GEMM).
    pub gflops: f64,
}

/// The committed benchmark data: the machine, then one entry per `rnnbook bench`
/// invocation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchFile {
    /// Where and with what the numbers were measured.
    pub machine: Machine,
    /// One entry per `rnnbook bench --json` invocation.
    pub runs: Vec<Run>,
}

/// The measuring machine.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    /// CPU model name.
    pub cpu: String,
    /// Logical CPUs.
    pub logical_cpus: usize,
    /// Of `avx2`, `fma`, `avx512f`: those the CPU has.
    pub simd: Vec<String>,
    /// `rustc --version`.
    pub rustc: String,
    /// PyTorch's version.
    pub torch: String,
    /// Day of the measurement.
    pub date: String,
    /// The repository's commit.
    pub commit: String,
    /// The ceilings `rnnbook bench` measured (absent in data from before they were
    /// measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceilings: Option<Ceilings>,
    /// What PyTorch said of itself, per cell (absent without `--pytorch`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub torch_cells: Vec<TorchCell>,
}

/// The machine as one `rnnbook bench --json` run reports it, before the data file
/// adds the date, commit and versions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BenchMachine {
    /// CPU model name.
    pub cpu: String,
    /// Logical CPUs.
    pub logical_cpus: usize,
    /// The measured ceilings.
    pub ceilings: Ceilings,
    /// What PyTorch said of itself, per cell (empty without `--pytorch`).
    pub torch_cells: Vec<TorchCell>,
}

/// The JSON of `rnnbook bench --json`: the machine, then the rows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BenchReport {
    /// Where the rows were measured.
    pub machine: BenchMachine,
    /// One row per implementation and combination.
    pub rows: Vec<BenchRow>,
}

/// What the PyTorch worker said of itself for one cell.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TorchCell {
    /// `lstm` or `gru`.
    pub cell: String,
    /// `torch.__version__`.
    pub torch: String,
    /// `torch.backends.cpu.get_cpu_capability()`, e.g. `AVX512`.
    pub capability: String,
    /// `torch.backends.mkldnn.is_available()`.
    pub onednn_available: bool,
    /// Whether the profiler saw oneDNN's RNN kernel (`aten::mkldnn_rnn_layer`) run
    /// this cell.
    pub onednn_ran: bool,
}

/// One `rnnbook bench --json` invocation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    /// E.g. `lstm-default`.
    pub name: String,
    /// The command line.
    pub command: String,
    /// Its JSON rows.
    pub rows: Vec<BenchRow>,
}

/// A benchmark data file that cannot be used: the message names the file and what is
/// wrong.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BenchDataError(String);

impl BenchFile {
    /// The committed data: `chapters/ch06-fused/data/bench.json`.
    pub fn committed_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/bench.json")
    }

    /// Reads and checks a data file: every run has rows, every time and rate is a
    /// positive number.
    pub fn read(path: &Path) -> Result<Self, BenchDataError> {
        let err = |what: String| {
            BenchDataError(format!("the benchmark data {}: {what}", path.display()))
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| err(format!("cannot be read: {e}")))?;
        let file: BenchFile = serde_json::from_str(&text).map_err(|e| {
            err(format!("is not in the form bench/sweep.py writes: {e}"))
        })?;
        for run in &file.runs {
            if run.rows.is_empty() {
                return Err(err(format!("run {} has no rows", run.name)));
            }
            for r in &run.rows {
                let positive = [r.fwd_ms, r.fwd_bwd_ms, r.gflops]
                    .iter()
                    .all(|v| v.is_finite() && *v > 0.0);
                if !positive {
                    return Err(err(format!(
                        "run {}, {} has a time or rate that is not a positive number",
                        run.name, r.implementation
                    )));
                }
            }
        }
        Ok(file)
    }

    /// The run called `name`.
    pub fn run(&self, name: &str) -> Result<&Run, BenchDataError> {
        self.runs.iter().find(|r| r.name == name).ok_or_else(|| {
            BenchDataError(format!("the benchmark data has no run named {name}"))
        })
    }

    /// Rows of every run whose name starts with `prefix`.
    pub fn rows_of(&self, prefix: &str) -> Vec<&BenchRow> {
        self.runs
            .iter()
            .filter(|r| r.name.starts_with(prefix))
            .flat_map(|r| &r.rows)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_broken_data_file_is_named() {
        let dir = std::env::temp_dir()
            .join(format!("ch06-results-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("bench.json");
        let _ = std::fs::remove_file(&missing);
        let err = BenchFile::read(&missing).unwrap_err().to_string();
        assert!(err.contains("bench.json"), "{err}");
        std::fs::write(&missing, "{\"machine\": 3}").unwrap();
        let err = BenchFile::read(&missing).unwrap_err().to_string();
        assert!(
            err.contains("bench.json") && err.contains("sweep.py"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_committed_data_has_the_runs_the_figures_draw() {
        let data = BenchFile::read(&BenchFile::committed_path()).unwrap();
        for name in ["lstm-default", "gru-default", "lstm-grid", "gru-grid"] {
            assert!(data.run(name).is_ok(), "{name}");
        }
        let c = data.machine.ceilings.as_ref().expect("measured ceilings");
        assert_eq!(c.paths.len(), c.fma_peak_gflops.len());
        assert_eq!(
            data.machine.torch_cells.len(),
            2,
            "what PyTorch said, per cell"
        );
        // The grids hold every cell of `rnnbook bench --sweep` for v5, v6 and
        // PyTorch.
        for grid in ["lstm-grid", "gru-grid"] {
            let rows = data.rows_of(grid);
            for threads in [1, 2] {
                for imp in ["v6", "pytorch"] {
                    let n = rows
                        .iter()
                        .filter(|r| r.implementation == imp && r.threads == threads)
                        .count();
                    assert_eq!(n, 3 * 4 * 3, "{grid} {imp} on {threads} thread(s)");
                }
            }
            // v5 uses one thread, and is timed in the rounds of both thread counts.
            assert_eq!(rows.iter().filter(|r| r.implementation == "v5").count(), 72);
        }
    }

    #[test]
    fn a_row_that_is_not_a_positive_time_is_refused() {
        let dir = std::env::temp_dir()
            .join(format!("ch06-results-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut data = BenchFile::read(&BenchFile::committed_path()).unwrap();
        data.runs[0].rows[1].fwd_ms = -1.0;
        let path = dir.join("bench.json");
        std::fs::write(&path, serde_json::to_string(&data).unwrap()).unwrap();
        let err = BenchFile::read(&path).unwrap_err().to_string();
        assert!(err.contains("not a positive number"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

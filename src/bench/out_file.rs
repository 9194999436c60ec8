//! `rnnbook bench --out FILE`: the report so far, rewritten atomically after every measured
//! (cell, shape, threads), so that a kill keeps what was measured and `--resume` measures only
//! the rest, on the same machine with the same settings.
//!
//! The file is a [`BenchReport`] (`machine`, `rows`) with a format tag, the settings, the list
//! of what is measured and whether the run finished, so a finished file reads as the report
//! `--json` prints.

use std::path::Path;

use anyhow::{Result, anyhow, bail, ensure};
use ch00_foundations::files::write_atomic;
use ch06_fused::results::{BenchMachine, BenchRow};
use ch06_fused::runners::CellKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Plan;

/// The format tag of a `--out` file.
pub const BENCH_OUT_FORMAT: &str = "rnnbook-bench-out-v1";

/// What a run measures: the settings a resumed run must share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutSettings {
    /// Cells, in order.
    pub cells: Vec<String>,
    /// Shapes as `[T, B, I, H]`, in order.
    pub shapes: Vec<[usize; 4]>,
    /// Thread counts.
    pub threads: Vec<usize>,
    /// Implementations timed (`None`: all).
    pub only: Option<Vec<String>>,
    /// Timed rounds.
    pub repeats: usize,
    /// Whether PyTorch is timed too.
    pub pytorch: bool,
}

impl OutSettings {
    /// The settings of `plan` (with or without PyTorch).
    pub fn of(plan: &Plan, pytorch: bool) -> Self {
        OutSettings {
            cells: plan.cells.iter().map(|c| c.name().to_string()).collect(),
            shapes: plan
                .shapes
                .iter()
                .map(|s| [s.seq_len, s.batch, s.input_size, s.hidden_size])
                .collect(),
            threads: plan.threads.clone(),
            only: plan.only.clone(),
            repeats: plan.repeats,
            pytorch,
        }
    }
}

/// One measured unit: a cell, a shape `[T, B, I, H]` and a thread count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Measured {
    /// `lstm` or `gru`.
    pub cell: CellName,
    /// `[T, B, I, H]`.
    pub shape: [usize; 4],
    /// Threads.
    pub threads: usize,
}

/// A cell by name (as the rows spell it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellName {
    /// The LSTM.
    Lstm,
    /// The GRU (reset-after).
    Gru,
}

impl From<CellKind> for CellName {
    fn from(c: CellKind) -> Self {
        match c {
            CellKind::Lstm => CellName::Lstm,
            CellKind::Gru => CellName::Gru,
        }
    }
}

/// The `--out` file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutFile {
    /// Always [`BENCH_OUT_FORMAT`].
    pub format: String,
    /// What the run measures.
    pub settings: OutSettings,
    /// Where (the ceilings are measured once, by the run that started the file).
    pub machine: BenchMachine,
    /// What is measured so far, in order.
    pub measured: Vec<Measured>,
    /// Whether every unit of the settings is measured.
    pub complete: bool,
    /// The rows so far.
    pub rows: Vec<BenchRow>,
}

impl OutFile {
    /// Writes the file atomically: a kill leaves the previous version or this one, whole.
    ///
    /// # Errors
    /// Any I/O error, naming the file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut json = serde_json::to_string_pretty(self)?;
        json.push('\n');
        Ok(write_atomic(path, json.as_bytes())?)
    }

    /// Reads and checks a `--out` file: JSON, its format, its fields, and rows that belong to
    /// what it says is measured.
    ///
    /// # Errors
    /// A file that cannot be read, is damaged (for instance cut short) or is not such a file;
    /// the message names the file and what is wrong.
    pub fn read(path: &Path) -> Result<Self> {
        let name = path.display();
        let bytes = std::fs::read(path)
            .map_err(|e| anyhow!("cannot resume: cannot read the bench file {name}: {e}"))?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            anyhow!("the bench file {name} is not valid JSON ({e}); it is damaged or not one")
        })?;
        let format = value.get("format").and_then(Value::as_str);
        let Some(format) = format else {
            bail!(
                "the bench file {name} has no `format` field: it is not a file `rnnbook bench \
                 --out` wrote (expected format {BENCH_OUT_FORMAT:?})"
            );
        };
        ensure!(
            format == BENCH_OUT_FORMAT,
            "the bench file {name}: field `format` is {format:?}, expected {BENCH_OUT_FORMAT:?}"
        );
        let file: OutFile = serde_json::from_value(value)
            .map_err(|e| anyhow!("the bench file {name} is not a bench file of this kind: {e}"))?;
        for row in &file.rows {
            let key = |m: &Measured| {
                serde_json::to_value(m.cell).ok() == Some(Value::from(row.cell.as_str()))
                    && m.shape == [row.seq_len, row.batch, row.input_size, row.hidden_size]
            };
            ensure!(
                file.measured.iter().any(key),
                "the bench file {name}: field `rows` has a {} row for T={} B={} I={} H={} that \
                 field `measured` does not list",
                row.cell,
                row.seq_len,
                row.batch,
                row.input_size,
                row.hidden_size
            );
        }
        Ok(file)
    }

    /// Why this file cannot be continued on `machine` with `settings`, if it cannot.
    pub fn mismatch(
        &self,
        (cpu, logical_cpus): (&str, usize),
        settings: &OutSettings,
    ) -> Option<String> {
        if self.machine.cpu != cpu || self.machine.logical_cpus != logical_cpus {
            return Some(format!(
                "was measured on another machine ({}, {} logical CPUs; this one is {cpu}, \
                 {logical_cpus}): timings of two machines do not go in one report",
                self.machine.cpu, self.machine.logical_cpus
            ));
        }
        let (a, b) = (
            serde_json::to_value(&self.settings).unwrap_or_default(),
            serde_json::to_value(settings).unwrap_or_default(),
        );
        let field = ["cells", "shapes", "threads", "only", "repeats", "pytorch"]
            .into_iter()
            .find(|k| a.get(k) != b.get(k))?;
        Some(format!(
            "was measured with other settings: `settings.{field}` is {} in the file, {} now; \
             pass the same options",
            a[field], b[field]
        ))
    }
}

//! PyTorch on the same workload, in the same rounds: `bench/torch_worker.py`, a child process
//! that stays up for the whole benchmark and times one call each time it is asked.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use anyhow::{Context, Result, bail};
use ch06_fused::runners::{CellKind, Shape, inputs_f32};
use serde::{Deserialize, Serialize};

/// What the worker says about itself after a setup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TorchInfo {
    /// `torch.__version__`.
    pub torch: String,
    /// `torch.backends.cpu.get_cpu_capability()`, e.g. `AVX512`.
    pub capability: String,
    /// `torch.backends.mkldnn.is_available()`.
    pub onednn_available: bool,
    /// Whether the profiler saw oneDNN's RNN kernel run this cell.
    pub onednn_ran: bool,
    /// `torch.get_num_threads()` after the setup.
    pub threads: usize,
}

/// The running worker.
pub struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// Where the problem's numbers are written for the worker, and its stderr.
    dir: tempfile::TempDir,
    python: String,
}

impl Worker {
    /// Starts `bench/torch_worker.py` with `$RNNBOOK_PYTHON`, else `python3`.
    pub fn start() -> Result<Worker> {
        let script = crate::repo_root().join("bench").join("torch_worker.py");
        let python = std::env::var("RNNBOOK_PYTHON").unwrap_or_else(|_| "python3".to_string());
        let dir = tempfile::tempdir().context("--pytorch: a temporary folder for the worker")?;
        let stderr = std::fs::File::create(dir.path().join("stderr.txt"))?;
        let mut child = Command::new(&python)
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("--pytorch: could not run `{python} {}`", script.display()))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        Ok(Worker {
            child,
            stdin,
            stdout,
            dir,
            python,
        })
    }

    /// Sends one request, reads one reply.
    fn ask(&mut self, request: serde_json::Value) -> Result<serde_json::Value> {
        let sent = writeln!(self.stdin, "{request}").and_then(|()| self.stdin.flush());
        let mut line = String::new();
        let read = sent.and_then(|()| self.stdout.read_line(&mut line));
        if read.is_err() || line.is_empty() {
            let _ = self.child.kill();
            let stderr = std::fs::read_to_string(self.stderr_path()).unwrap_or_default();
            let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
            bail!(
                "--pytorch: the worker (`{} bench/torch_worker.py`) stopped; is PyTorch installed \
                 (`pip install torch numpy`)? {}",
                self.python,
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            );
        }
        let reply: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("--pytorch: the worker replied {line:?}"))?;
        if let Some(e) = reply.get("error") {
            bail!("--pytorch: the worker: {e}");
        }
        Ok(reply)
    }

    fn stderr_path(&self) -> PathBuf {
        self.dir.path().join("stderr.txt")
    }

    /// Gives the worker the benchmark's own problem (the numbers `runners(cell, shape, seed)`
    /// gives the `f32` versions) and `threads` threads.
    pub fn setup(
        &mut self,
        cell: CellKind,
        shape: Shape,
        seed: u64,
        threads: usize,
    ) -> Result<TorchInfo> {
        let data = self.dir.path().join("problem");
        std::fs::create_dir_all(&data)?;
        for (name, values) in inputs_f32(cell, shape, seed) {
            let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            std::fs::write(data.join(format!("{name}.f32")), bytes)?;
        }
        let reply = self.ask(serde_json::json!({
            "op": "setup",
            "cell": cell.name(),
            "seq_len": shape.seq_len,
            "batch": shape.batch,
            "input_size": shape.input_size,
            "hidden_size": shape.hidden_size,
            "threads": threads,
            "dir": data,
        }))?;
        serde_json::from_value(reply).context("--pytorch: the worker's setup reply")
    }

    /// Times one call: `fwd` or `fwd_bwd`; milliseconds.
    pub fn time(&mut self, op: &str) -> Result<f64> {
        let reply = self.ask(serde_json::json!({ "op": op }))?;
        reply["ms"]
            .as_f64()
            .filter(|ms| ms.is_finite() && *ms > 0.0)
            .with_context(|| format!("--pytorch: the worker's time for {op}: {reply}"))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "{}", serde_json::json!({ "op": "quit" }));
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}

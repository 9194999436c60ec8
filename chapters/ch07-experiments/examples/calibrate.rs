//! Times one short run per cell on a task and prints its curve: for choosing the study's sizes.
//!
//! `cargo run --release -p ch07-experiments --example calibrate -- adding 50 2000`

use std::time::Instant;

use ch07_experiments::run::{CellKind, RunConfig, run_cell};
use ch07_experiments::task::{Adding, Reber, Task};
use ch07_experiments::tasks::CopyTask;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().map_or("adding", String::as_str);
    let len: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    let steps: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let hidden: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(32);
    let lr: f64 = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(1e-2);
    let cells: Vec<CellKind> = args
        .get(5)
        .map(|c| c.split(',').filter_map(CellKind::parse).collect())
        .unwrap_or(CellKind::ALL.to_vec());
    let task: Box<dyn Task> = match name {
        "adding" => Box::new(Adding { seq_len: len }),
        "copy" => Box::new(CopyTask {
            symbols: 8,
            recall: args.get(6).and_then(|a| a.parse().ok()).unwrap_or(10),
            delay: len,
        }),
        _ => Box::new(Reber),
    };
    for cell in cells {
        let cfg = RunConfig {
            hidden,
            batch: 32,
            steps,
            lr,
            clip: 1.0,
            seed: 1,
            eval_every: steps / 10,
            test_size: 500,
            forget_bias: 0.0,
        };
        let start = Instant::now();
        let out = run_cell(cell, task.as_ref(), &cfg, |_, _| {}).expect("finite");
        let secs = start.elapsed().as_secs_f64();
        let curve: Vec<String> = out
            .curve
            .iter()
            .map(|p| format!("{:.3}", p.metric))
            .collect();
        println!(
            "{name} {len} {:8} {:6.1} s ({:.1} ms/step)  {} {}",
            cell.name(),
            secs,
            1e3 * secs / steps as f64,
            task.metric_name(),
            curve.join(" ")
        );
    }
}

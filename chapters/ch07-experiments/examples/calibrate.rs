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
    if name == "text" {
        let mut text = String::new();
        let mut files: Vec<_> = std::fs::read_dir("book/src")
            .expect("run from the repository")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .collect();
        files.sort();
        for f in files {
            text.push_str(&std::fs::read_to_string(f).expect("utf-8"));
        }
        for cell in cells {
            let v = ch01_rnn::data::Vocab::from_text(&text).len();
            let cfg = ch07_experiments::text::TextConfig {
                hidden: ch07_experiments::text::hidden_for_budget(cell, v, 42_000),
                seq_len: 32,
                batch: 16,
                steps,
                lr: 2e-3,
                clip: 5.0,
                seed: 1,
                eval_every: steps / 5,
                held_out: 0.1,
            };
            let start = Instant::now();
            let out = ch07_experiments::text::run_text(cell, &text, &cfg, |_| {}).expect("runs");
            let curve: Vec<String> = out
                .curve
                .iter()
                .map(|p| format!("{:.2}", p.test_bits))
                .collect();
            println!(
                "text {:8} H={} {} params {:6.1} s: held-out bits/char {} (uniform {:.2}, unigram {:.2})",
                cell.name(),
                cfg.hidden,
                out.parameters,
                start.elapsed().as_secs_f64(),
                curve.join(" "),
                out.uniform_bits,
                out.unigram_bits
            );
        }
        return;
    }
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

//! Trains the delayed-echo RNN twice with plain SGD, unclipped and clipped by global
//! norm, and writes `chapters/ch03-clipping/data/clipping_experiment.csv` (the data
//! of the chapter's figure).
//!
//! ```console
//! cargo run --release -p ch03-clipping --example clipping_experiment
//! cargo run --release -p ch03-clipping --example clipping_experiment -- --seeds 2 3 4 5
//! cargo run --release -p ch03-clipping --example clipping_experiment -- --sweep
//! ```
//!
//! With `--seeds`, it runs the same experiment with other seeds and prints only the
//! summaries (nothing is written). With `--sweep`, it runs seeds 1 to 8 (two at a
//! time on two cores, and so on), prints their summaries and writes
//! `chapters/ch03-clipping/data/clipping_seeds.csv`: each run's loss as a running
//! mean over 100 steps, every 10 steps.

use ch03_clipping::experiment::{
    EXPERIMENT, ExperimentConfig, Row, RunSummary, committed_csv_path,
    run_experiment, summarize_rows, write_csv_atomic,
};
use ch03_clipping::seeds;

fn print_summary(name: &str, s: &RunSummary, c: &ExperimentConfig) {
    println!(
        "  {name:9} loss: first 100 steps {:.3}, best 100 {:.3} (from step {}), last 100 {:.3}; \
         largest gradient norm {:.3e} at step {}; {} of {} steps above {}{}",
        s.first_100,
        s.best_100.0,
        s.best_100.1,
        s.last_100,
        s.max_grad_norm.0,
        s.max_grad_norm.1,
        s.steps_above,
        s.steps_taken,
        c.max_norm,
        if s.stopped {
            " (stopped: non-finite)"
        } else {
            ""
        }
    );
}

/// Runs the experiment for each seed, on as many threads as the machine has.
fn run_seeds(c: &ExperimentConfig, seeds: &[u64]) -> Vec<(u64, Vec<Row>)> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut out = Vec::with_capacity(seeds.len());
    for chunk in seeds.chunks(threads) {
        std::thread::scope(|s| {
            let runs: Vec<_> = chunk
                .iter()
                .map(|&seed| {
                    let cs = ExperimentConfig { seed, ..*c };
                    s.spawn(move || (seed, run_experiment(&cs, cs.steps)))
                })
                .collect();
            out.extend(runs.into_iter().map(|r| r.join().expect("a run panicked")));
        });
    }
    out
}

fn print_seed(seed: u64, rows: &[Row], c: &ExperimentConfig) {
    let (u, k) = summarize_rows(rows, c.max_norm);
    println!("seed {seed}:");
    print_summary("unclipped", &u, c);
    print_summary("clipped", &k, c);
}

enum Mode {
    Committed,
    Seeds(Vec<u64>),
    Sweep,
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match args.first().map(String::as_str) {
        None => Mode::Committed,
        Some("--seeds") => Mode::Seeds(
            args[1..]
                .iter()
                .map(|s| s.parse().expect("--seeds takes whole numbers"))
                .collect(),
        ),
        Some("--sweep") if args.len() == 1 => Mode::Sweep,
        Some(other) => {
            panic!(
                "unknown argument `{other}`; the options are --seeds N... and --sweep"
            )
        }
    };
    let c = EXPERIMENT;
    println!("{c:?}");
    let chance =
        (c.seq_len - c.delay) as f64 / c.seq_len as f64 * (c.symbols as f64).ln();
    println!(
        "loss of a model that knows the blanks but remembers nothing: {chance:.3} per character"
    );
    match mode {
        Mode::Committed => {
            let rows = run_experiment(&c, c.steps);
            let path = committed_csv_path();
            write_csv_atomic(&rows, &path)?;
            println!("wrote {} rows to {}", rows.len(), path.display());
            print_seed(c.seed, &rows, &c);
        }
        Mode::Seeds(list) => {
            for (seed, rows) in run_seeds(&c, &list) {
                print_seed(seed, &rows, &c);
            }
        }
        Mode::Sweep => {
            let mut sampled = Vec::new();
            for (seed, rows) in run_seeds(&c, &seeds::SEEDS) {
                print_seed(seed, &rows, &c);
                sampled.extend(seeds::seed_rows(seed, &rows));
            }
            let path = seeds::committed_csv_path();
            seeds::write_csv_atomic(&sampled, &path)?;
            println!("wrote {} rows to {}", sampled.len(), path.display());
        }
    }
    Ok(())
}

//! Trains the delayed-echo RNN twice with plain SGD, unclipped and clipped by global
//! norm, and writes `chapters/ch03-clipping/data/clipping_experiment.csv` (the data
//! of the chapter's figure).
//!
//! ```console
//! cargo run --release -p ch03-clipping --example clipping_experiment
//! cargo run --release -p ch03-clipping --example clipping_experiment -- --seeds 2 3 4 5
//! ```
//!
//! With `--seeds`, it runs the same experiment with other seeds and prints only the
//! summaries (nothing is written).

use ch03_clipping::experiment::{
    EXPERIMENT, ExperimentConfig, RunSummary, committed_csv_path, run_experiment,
    summarize_rows, write_csv_atomic,
};

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

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seeds: Option<Vec<u64>> = match args.first().map(String::as_str) {
        None => None,
        Some("--seeds") => Some(
            args[1..]
                .iter()
                .map(|s| s.parse().expect("--seeds takes whole numbers"))
                .collect(),
        ),
        Some(other) => {
            panic!("unknown argument `{other}`; the only option is --seeds N...")
        }
    };
    let c = EXPERIMENT;
    println!("{c:?}");
    let chance =
        (c.seq_len - c.delay) as f64 / c.seq_len as f64 * (c.symbols as f64).ln();
    println!(
        "loss of a model that knows the blanks but remembers nothing: {chance:.3} per character"
    );
    match seeds {
        None => {
            let rows = run_experiment(&c, c.steps);
            let path = committed_csv_path();
            write_csv_atomic(&rows, &path)?;
            println!("wrote {} rows to {}", rows.len(), path.display());
            let (u, k) = summarize_rows(&rows, c.max_norm);
            println!("seed {}:", c.seed);
            print_summary("unclipped", &u, &c);
            print_summary("clipped", &k, &c);
        }
        Some(seeds) => {
            for seed in seeds {
                let cs = ExperimentConfig { seed, ..c };
                let (u, k) =
                    summarize_rows(&run_experiment(&cs, cs.steps), cs.max_norm);
                println!("seed {seed}:");
                print_summary("unclipped", &u, &cs);
                print_summary("clipped", &k, &cs);
            }
        }
    }
    Ok(())
}

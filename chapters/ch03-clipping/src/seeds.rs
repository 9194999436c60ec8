//! The clipping experiment over several seeds, and its committed CSV: for each seed
//! and each run, the loss as a running mean over the last [`WINDOW`] steps, sampled
//! every [`EVERY`] steps. It shows how far one seed's curve is from the others.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use ch00_foundations::files::write_atomic;

use crate::experiment::{CsvError, Row, format_value, parse_value};

/// The seeds of the committed file.
pub const SEEDS: [u64; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
/// Steps in a running mean (fewer for the first `WINDOW − 1` steps).
pub const WINDOW: usize = 100;
/// One sample every `EVERY` steps: at steps `EVERY − 1`, `2·EVERY − 1`, ….
pub const EVERY: usize = 10;

/// Both runs of one seed at one sampled step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeedRow {
    /// The seed of the initial weights and of every batch.
    pub seed: u64,
    /// The last step of the window (0-based, as [`Row::step`]).
    pub step: usize,
    /// Mean loss per character of the unclipped run over steps
    /// `step + 1 − WINDOW ..= step` (from step 0 while `step < WINDOW`); `None`
    /// once the run has stopped, NaN or infinite if the window holds such a loss.
    pub mean_loss_unclipped: Option<f64>,
    /// The same for the clipped run.
    pub mean_loss_clipped: Option<f64>,
}

/// The running mean of `loss` (one value per step, `None` once stopped) at every
/// sampled step: `(step, mean)`. A mean is the sum over the window divided by its
/// length, as in [`crate::experiment::summarize`], so the last sample of a run of
/// 1500 steps is its `last_100` bit for bit.
pub fn running_means(loss: &[Option<f64>]) -> Vec<(usize, Option<f64>)> {
    (EVERY - 1..loss.len())
        .step_by(EVERY)
        .map(|step| {
            let window = &loss[(step + 1).saturating_sub(WINDOW)..=step];
            let mean = window
                .iter()
                .copied()
                .collect::<Option<Vec<f64>>>() // None if the run stopped
                .map(|w| w.iter().sum::<f64>() / w.len() as f64);
            (step, mean)
        })
        .collect()
}

/// The sampled running means of both runs of one seed's [`Row`]s.
pub fn seed_rows(seed: u64, rows: &[Row]) -> Vec<SeedRow> {
    let col = |f: fn(&Row) -> Option<f64>| rows.iter().map(f).collect::<Vec<_>>();
    let unclipped = running_means(&col(|r| r.loss_unclipped));
    let clipped = running_means(&col(|r| r.loss_clipped));
    unclipped
        .into_iter()
        .zip(clipped)
        .map(|((step, u), (_, c))| SeedRow {
            seed,
            step,
            mean_loss_unclipped: u,
            mean_loss_clipped: c,
        })
        .collect()
}

/// One seed's curves, as read from the file: parallel vectors, one entry per sample.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedCurves {
    /// The seed.
    pub seed: u64,
    /// The sampled steps.
    pub steps: Vec<usize>,
    /// The unclipped run's running means.
    pub unclipped: Vec<Option<f64>>,
    /// The clipped run's running means.
    pub clipped: Vec<Option<f64>>,
}

/// Whether `r` may follow `rows`: a seed's rows are together, in increasing steps.
fn check_order(rows: &[SeedRow], r: &SeedRow) -> Result<(), String> {
    match rows.last() {
        Some(prev) if prev.seed == r.seed && prev.step >= r.step => Err(format!(
            "seed {}: step {} does not follow step {}",
            r.seed, r.step, prev.step
        )),
        Some(prev)
            if prev.seed != r.seed && rows.iter().any(|p| p.seed == r.seed) =>
        {
            Err(format!("seed {}: its rows are not together", r.seed))
        }
        _ => Ok(()),
    }
}

/// Groups rows by seed, in the order the seeds first appear.
///
/// # Errors
/// A seed whose rows are not together, or whose steps do not increase.
pub fn by_seed(rows: &[SeedRow]) -> Result<Vec<SeedCurves>, String> {
    let mut out: Vec<SeedCurves> = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        check_order(&rows[..i], r)?;
        if out.last().is_none_or(|c| c.seed != r.seed) {
            out.push(SeedCurves {
                seed: r.seed,
                steps: Vec::new(),
                unclipped: Vec::new(),
                clipped: Vec::new(),
            });
        }
        let c = out.last_mut().expect("pushed above");
        c.steps.push(r.step);
        c.unclipped.push(r.mean_loss_unclipped);
        c.clipped.push(r.mean_loss_clipped);
    }
    Ok(out)
}

/// The CSV header.
pub const CSV_HEADER: &str = "seed,step,mean_loss_unclipped,mean_loss_clipped";

/// The rows as CSV text, written as the experiment's CSV writes its values.
pub fn to_csv(rows: &[SeedRow]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for r in rows {
        let (u, c) = (
            format_value(r.mean_loss_unclipped),
            format_value(r.mean_loss_clipped),
        );
        writeln!(out, "{},{},{u},{c}", r.seed, r.step).expect("writing to a String");
    }
    out
}

/// Reads what [`to_csv`] wrote.
///
/// # Errors
/// A wrong header, a wrong number of fields, a field that is not a number, or a
/// seed whose rows are not together in increasing steps, with its line.
pub fn from_csv(text: &str) -> Result<Vec<SeedRow>, CsvError> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h.trim() == CSV_HEADER => {}
        _ => {
            return Err(CsvError {
                line: 1,
                message: format!("expected the header `{CSV_HEADER}`"),
            });
        }
    }
    let mut rows = Vec::new();
    for (i, line) in lines {
        let err = |message: String| CsvError {
            line: i + 1,
            message,
        };
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != 4 {
            return Err(err(format!("expected 4 fields, found {}", fields.len())));
        }
        let whole = |s: &str, what: &str| {
            s.parse::<u64>()
                .map_err(|_| err(format!("{what} `{s}` is not a whole number")))
        };
        let row = SeedRow {
            seed: whole(fields[0], "seed")?,
            step: whole(fields[1], "step")? as usize,
            mean_loss_unclipped: parse_value(fields[2]).map_err(err)?,
            mean_loss_clipped: parse_value(fields[3]).map_err(err)?,
        };
        check_order(&rows, &row).map_err(err)?;
        rows.push(row);
    }
    Ok(rows)
}

/// Writes `rows` to `path` atomically (chapter 0's [`write_atomic`], as the
/// experiment's CSV): a reader never sees half a file.
///
/// # Errors
/// Any I/O error, with the path.
pub fn write_csv_atomic(rows: &[SeedRow], path: &Path) -> std::io::Result<()> {
    write_atomic(path, to_csv(rows).as_bytes())
}

/// Reads the CSV at `path`, grouped by seed.
///
/// # Errors
/// A file that cannot be read (the message says how to make it) or is not what
/// [`to_csv`] writes (the message names the file and the line).
pub fn read_csv(path: &Path) -> Result<Vec<SeedCurves>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read {} ({e}); make it with `cargo run --release -p ch03-clipping --example \
             clipping_experiment -- --sweep`",
            path.display()
        )
    })?;
    let rows = from_csv(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    by_seed(&rows).map_err(|e| format!("{}: {e}", path.display()))
}

/// The committed data: `chapters/ch03-clipping/data/clipping_seeds.csv`.
pub fn committed_csv_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/clipping_seeds.csv")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::{self, EXPERIMENT, ExperimentConfig, reproduces};

    fn committed() -> Vec<SeedCurves> {
        read_csv(&committed_csv_path()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_committed_sweep_has_both_runs_of_every_seed_at_every_sample() {
        let path = committed_csv_path();
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size < 200_000, "{} is {size} bytes", path.display());
        let curves = committed();
        let seeds: Vec<u64> = curves.iter().map(|c| c.seed).collect();
        assert_eq!(seeds, SEEDS);
        let steps: Vec<usize> =
            (EVERY - 1..EXPERIMENT.steps).step_by(EVERY).collect();
        assert_eq!(steps.last(), Some(&(EXPERIMENT.steps - 1)));
        for c in &curves {
            assert_eq!(c.steps, steps, "seed {}", c.seed);
            for (name, run) in [("unclipped", &c.unclipped), ("clipped", &c.clipped)]
            {
                assert!(
                    run.iter()
                        .all(|v| v.is_some_and(|v| v.is_finite() && v > 0.0)),
                    "seed {}: the {name} run has a missing or non-finite mean",
                    c.seed
                );
            }
        }
    }

    /// Seed 1 of the sweep is the committed run of the other CSV, sampled: the two
    /// files come from the same code.
    #[test]
    fn seed_1_of_the_sweep_is_the_committed_run() {
        let rows = experiment::read_csv(&experiment::committed_csv_path()).unwrap();
        assert_eq!(EXPERIMENT.seed, SEEDS[0]);
        let expected = by_seed(&seed_rows(EXPERIMENT.seed, &rows)).unwrap();
        assert_eq!(committed()[0], expected[0]);
        // The last sample is the summary's mean of the last 100 steps.
        let (u, k) = experiment::summarize_rows(&rows, EXPERIMENT.max_norm);
        assert_eq!(expected[0].unclipped.last(), Some(&Some(u.last_100)));
        assert_eq!(expected[0].clipped.last(), Some(&Some(k.last_100)));
    }

    #[test]
    fn the_runner_reproduces_the_first_rows_of_the_committed_sweep() {
        let seed = SEEDS[1];
        let config = ExperimentConfig { seed, ..EXPERIMENT };
        let rows = seed_rows(seed, &experiment::run_experiment(&config, 2 * EVERY));
        let committed = committed();
        let c = committed.iter().find(|c| c.seed == seed).unwrap();
        assert_eq!(rows.len(), 2);
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(r.step, c.steps[i]);
            for (name, a, b) in [
                ("unclipped", r.mean_loss_unclipped, c.unclipped[i]),
                ("clipped", r.mean_loss_clipped, c.clipped[i]),
            ] {
                assert!(
                    reproduces(a, b),
                    "seed {seed}, step {}: the {name} mean is {a:?} now but {b:?} in \
                     the committed CSV; rerun the example with --sweep",
                    r.step
                );
            }
        }
    }

    /// The numbers the chapter quotes from the sweep.
    #[test]
    fn the_committed_sweep_shows_what_the_chapter_says() {
        let memoryless = 25.0 / 30.0 * 8f64.ln();
        let value = |v: &Option<f64>| v.unwrap();
        let curves = committed();
        let (seed_1, others) = curves.split_first().unwrap();
        // Seed 1's clipped run solves the task; the unclipped one ends above 3.
        let last = |run: &[Option<f64>]| value(run.last().unwrap());
        assert!(last(&seed_1.clipped) < 0.01 && last(&seed_1.unclipped) > 3.0);
        let (mut ends_u, mut ends_k, mut below_by) = (vec![], vec![], 0);
        for c in others {
            let (u, k) = (last(&c.unclipped), last(&c.clipped));
            ends_u.push(u);
            ends_k.push(k);
            // The unclipped runs never learn more than the blanks, and end above
            // the memoryless loss.
            let lowest = c.unclipped.iter().map(value).fold(f64::INFINITY, f64::min);
            assert!(
                lowest > 1.72 && u > memoryless,
                "seed {}: {lowest} {u}",
                c.seed
            );
            // Each clipped run goes below it, and is still falling at the end.
            let i = c
                .clipped
                .iter()
                .position(|v| value(v) < memoryless)
                .unwrap();
            below_by = below_by.max(c.steps[i]);
            let hundred_before =
                value(&c.clipped[c.clipped.len() - 1 - WINDOW / EVERY]);
            assert!(
                k < hundred_before,
                "seed {}: {hundred_before} → {k}",
                c.seed
            );
        }
        assert_eq!(below_by, 839);
        let range = |v: &[f64]| {
            let (lo, hi) = v.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), &x| {
                (lo.min(x), hi.max(x))
            });
            (format!("{lo:.2}"), format!("{hi:.2}"))
        };
        assert_eq!(range(&ends_k), ("0.62".into(), "0.74".into()));
        assert_eq!(range(&ends_u), ("1.74".into(), "4.11".into()));
    }

    #[test]
    fn running_means_average_the_last_steps_and_stop_with_the_run() {
        let mut loss: Vec<Option<f64>> =
            (0..3 * WINDOW).map(|i| Some(i as f64)).collect();
        loss[2 * WINDOW + 5] = Some(f64::NAN);
        for v in &mut loss[2 * WINDOW + 50..] {
            *v = None;
        }
        let means = running_means(&loss);
        assert_eq!(means.len(), 3 * WINDOW / EVERY);
        // A short window at first: steps 0..=EVERY−1.
        assert_eq!(means[0], (EVERY - 1, Some((EVERY - 1) as f64 / 2.0)));
        // A full window: steps s−99..=s, mean s − 49.5.
        let s = 2 * WINDOW - 1;
        let at = |s: usize| means.iter().find(|m| m.0 == s).unwrap().1;
        assert_eq!(at(s), Some(s as f64 - 49.5));
        assert!(at(2 * WINDOW + 9).unwrap().is_nan());
        assert!(at(2 * WINDOW + 49).unwrap().is_nan());
        assert_eq!(at(2 * WINDOW + 59), None, "the run had stopped");
    }

    #[test]
    fn csv_round_trips_and_names_bad_lines() {
        let rows = vec![
            SeedRow {
                seed: 3,
                step: 9,
                mean_loss_unclipped: Some(0.1 + 0.2),
                mean_loss_clipped: Some(f64::INFINITY),
            },
            SeedRow {
                seed: 3,
                step: 19,
                mean_loss_unclipped: None,
                mean_loss_clipped: Some(1e-300),
            },
            SeedRow {
                seed: 5,
                step: 9,
                mean_loss_unclipped: None,
                mean_loss_clipped: None,
            },
        ];
        let text = to_csv(&rows);
        assert_eq!(text.lines().nth(3), Some("5,9,,"));
        assert_eq!(from_csv(&text).unwrap(), rows);
        let curves = by_seed(&rows).unwrap();
        assert_eq!(curves.len(), 2);
        assert_eq!(curves[0].steps, [9, 19]);
        let bad =
            |body: &str| from_csv(&format!("{CSV_HEADER}\n{body}")).unwrap_err();
        assert_eq!(bad("1,9,1,1\n1,9,1,1\n").line, 3);
        assert!(
            bad("1,9,1,1\n2,9,1,1\n1,19,1,1\n")
                .message
                .contains("not together")
        );
        assert!(bad("1,9,1\n").message.contains("4 fields"));
        assert!(bad("x,9,1,1\n").message.contains("seed `x`"));
        assert!(bad("1,9,1,y\n").message.contains("`y`"));
        assert!(from_csv("seed,step\n").is_err());
    }

    #[test]
    fn a_missing_file_says_how_to_make_it() {
        let e = read_csv(Path::new("/nonexistent/clipping_seeds.csv")).unwrap_err();
        assert!(e.contains("--sweep"), "{e}");
    }
}

//! The study's records summarised over seeds: the median and the range of a metric,
//! per cell and length, and learning curves over steps. The figures and the results
//! table draw from these.

use crate::run::CellKind;
use crate::study::{Records, TaskResult};

/// A metric over seeds: median, smallest and largest, and how many seeds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The median (the mean of the two middle values for an even count).
    pub median: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
    /// Seeds.
    pub n: usize,
}

impl Spread {
    /// The spread of `values`; `None` if there are none.
    pub fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: v[0],
            max: v[n - 1],
            n,
        })
    }
}

/// The records of one setting over seeds: ids `<setting>-s<seed>`.
fn by_setting<'a>(
    records: &'a Records,
    group: &'a str,
    setting: &'a str,
) -> Vec<&'a TaskResult> {
    records
        .tasks(group, setting)
        .filter(|(r, _, _)| {
            r.spec
                .id
                .strip_prefix(setting)
                .and_then(|rest| rest.strip_prefix("-s"))
                .is_some_and(|seed| seed.chars().all(|c| c.is_ascii_digit()))
        })
        .map(|(_, _, t)| t)
        .collect()
}

/// The final metric of `setting` (e.g. `adding-T100-lstm`) over its seeds.
pub fn final_metric(
    records: &Records,
    group: &str,
    setting: &str,
) -> Option<Spread> {
    let finals: Vec<f64> = by_setting(records, group, setting)
        .iter()
        .map(|t| t.final_metric)
        .collect();
    Spread::of(&finals)
}

/// The final metric of `cell` on `task` (`adding` or `copy`) at each length, over
/// seeds, for the lengths that have records.
pub fn final_by_length(
    records: &Records,
    task: &str,
    cell: CellKind,
    lengths: &[usize],
) -> Vec<(usize, Spread)> {
    lengths
        .iter()
        .filter_map(|&len| {
            let setting = format!("{task}-T{len}-{}", cell.name());
            final_metric(records, "length", &setting).map(|s| (len, s))
        })
        .collect()
}

/// The learning curve of `setting` over its seeds: at each step that every seed
/// measured, the spread of the metric.
pub fn curve(records: &Records, group: &str, setting: &str) -> Vec<(u64, Spread)> {
    let runs = by_setting(records, group, setting);
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    first
        .curve
        .iter()
        .filter_map(|p| {
            let at: Vec<f64> = runs
                .iter()
                .filter_map(|t| {
                    t.curve.iter().find(|q| q.step == p.step).map(|q| q.metric)
                })
                .collect();
            (at.len() == runs.len())
                .then(|| (p.step, Spread::of(&at).expect("non-empty")))
        })
        .collect()
}

/// How many seeds of `setting` reach `threshold` (below it when lower is better):
/// e.g. how many adding runs end with a test MSE under 0.01.
pub fn successes(
    records: &Records,
    group: &str,
    setting: &str,
    threshold: f64,
) -> (usize, usize) {
    let runs = by_setting(records, group, setting);
    let ok = runs
        .iter()
        .filter(|t| {
            if t.higher_is_better {
                t.final_metric >= threshold
            } else {
                t.final_metric < threshold
            }
        })
        .count();
    (ok, runs.len())
}

/// The adding problem's success: a test MSE below this (6 % of the 1/6 of guessing
/// the mean).
pub const ADDING_SUCCESS_MSE: f64 = 0.01;

/// The copy task's success: at least this share of the recalled symbols right.
pub const COPY_SUCCESS_ACCURACY: f64 = 0.99;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spread_has_the_median_and_the_range() {
        let s = Spread::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (2.0, 1.0, 3.0, 3));
        assert_eq!(Spread::of(&[4.0, 1.0]).unwrap().median, 2.5);
        assert!(Spread::of(&[]).is_none());
    }
}

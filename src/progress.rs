//! Progress on stderr for the long commands (the book build, training, benchmarks, grading).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `len` steps drawn with `template` (indicatif's syntax).
pub fn bar(template: &str, len: u64) -> ProgressBar {
    let pb = ProgressBar::new(len);
    pb.set_style(ProgressStyle::with_template(template).expect("a valid progress template"));
    pb
}

/// A bar that also redraws on its own, for steps that take seconds each.
pub fn ticking_bar(template: &str, len: u64) -> ProgressBar {
    let pb = bar(template, len);
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// A spinner with `message` and the time elapsed, for work with no steps to count.
pub fn spinner(message: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("a valid template"),
    );
    pb.set_message(message.to_string());
    pb.enable_steady_tick(Duration::from_millis(100));
    pb
}

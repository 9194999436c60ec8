//! The training log: one CSV row per update, written by `rnnbook train` and drawn by
//! the book.
//!
//! ```text
//! # rnnbook train rnn: vocab_size=101 hidden_size=128 seq_len=32 …
//! step,loss_per_char,smoothed_loss_per_char,grad_norm
//! 1,4.62038,4.61523,0.392148
//! ```
//!
//! The first line is a comment: a title, then the run's settings as `key=value`
//! words. Numbers are kept to six significant digits, so the file stays small and
//! reads back to the same text.

use std::path::Path;

use ch00_foundations::files::write_atomic;

/// The header row of the CSV log.
pub const LOG_HEADER: &str = "step,loss_per_char,smoothed_loss_per_char,grad_norm";

/// One row of the CSV log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogRow {
    /// Updates made, counting this one (1-based).
    pub step: u64,
    /// This step's loss divided by the characters in its window.
    pub loss_per_char: f64,
    /// The exponentially smoothed loss per character.
    pub smoothed_loss_per_char: f64,
    /// The global L2 norm of the gradient of the loss per character, before
    /// clipping.
    pub grad_norm: f64,
}

/// A training log: the title and settings of its comment line, and its rows by step.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrainLog {
    /// What wrote it, e.g. `rnnbook train rnn`.
    pub title: String,
    /// The settings, in order, e.g. `("vocab_size", "94")`.
    pub settings: Vec<(String, String)>,
    /// The rows, by increasing step.
    pub rows: Vec<LogRow>,
}

/// A log that cannot be read: the message names the file and the line.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct LogError(String);

impl TrainLog {
    /// The setting `key` of the comment line.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.settings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `V`, from the comment line.
    pub fn vocab_size(&self) -> Option<usize> {
        self.meta("vocab_size")?.parse().ok()
    }

    /// The log as CSV text.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::with_capacity(64 + self.rows.len() * 40);
        let pairs: Vec<String> = self
            .settings
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(out, "# {}: {}", self.title, pairs.join(" "));
        let _ = writeln!(out, "{LOG_HEADER}");
        for r in &self.rows {
            let _ = writeln!(
                out,
                "{},{},{},{}",
                r.step,
                sig6(r.loss_per_char),
                sig6(r.smoothed_loss_per_char),
                sig6(r.grad_norm)
            );
        }
        out
    }

    /// Writes the log to `path` atomically.
    ///
    /// # Errors
    /// Any I/O error, naming the file.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        write_atomic(path, self.to_text().as_bytes())
    }

    /// Reads a log written by [`TrainLog::write`].
    ///
    /// # Errors
    /// A missing or unreadable file, a wrong header, a row that is not four finite
    /// numbers, or steps that do not increase; the message names the file and the
    /// line.
    pub fn read(path: &Path) -> Result<TrainLog, LogError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            LogError(format!(
                "cannot read the training log {}: {e}",
                path.display()
            ))
        })?;
        Self::parse(&text).map_err(|e| {
            LogError(format!("the training log {}: {e}", path.display()))
        })
    }

    /// Reads a log from its text; errors name the line.
    pub fn parse(text: &str) -> Result<TrainLog, String> {
        let mut log = TrainLog::default();
        let mut header_seen = false;
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let line = line.trim_end_matches('\r');
            if let Some(comment) = line.strip_prefix('#') {
                if let Some((title, _)) = comment.split_once(':') {
                    log.title = title.trim().to_string();
                }
                for pair in comment.split_whitespace() {
                    if let Some((k, v)) = pair.split_once('=') {
                        log.settings.push((k.to_string(), v.to_string()));
                    }
                }
                continue;
            }
            if line.trim().is_empty() {
                continue;
            }
            if !header_seen {
                if line != LOG_HEADER {
                    return Err(format!(
                        "line {n}: expected the header `{LOG_HEADER}`, found `{line}`"
                    ));
                }
                header_seen = true;
                continue;
            }
            log.rows.push(parse_row(line, n, log.rows.last())?);
        }
        if !header_seen {
            return Err(format!("no header line `{LOG_HEADER}`"));
        }
        Ok(log)
    }
}

fn parse_row(line: &str, n: usize, prev: Option<&LogRow>) -> Result<LogRow, String> {
    let cols: Vec<&str> = line.split(',').collect();
    if cols.len() != 4 {
        return Err(format!(
            "line {n}: expected 4 columns ({LOG_HEADER}), found {}",
            cols.len()
        ));
    }
    let step: u64 = cols[0].trim().parse().map_err(|_| {
        format!(
            "line {n}: column `step`: `{}` is not a step number",
            cols[0]
        )
    })?;
    let names = ["loss_per_char", "smoothed_loss_per_char", "grad_norm"];
    let mut vals = [0.0; 3];
    for (k, name) in names.iter().enumerate() {
        let s = cols[k + 1].trim();
        vals[k] =
            s.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| {
                    format!(
                        "line {n}: column `{name}`: `{s}` is not a finite number"
                    )
                })?;
    }
    if let Some(prev) = prev
        && step <= prev.step
    {
        return Err(format!(
            "line {n}: step {step} comes after step {}; steps must increase",
            prev.step
        ));
    }
    Ok(LogRow {
        step,
        loss_per_char: vals[0],
        smoothed_loss_per_char: vals[1],
        grad_norm: vals[2],
    })
}

/// Six significant digits: the log stays small and reads back to the same text.
fn sig6(x: f64) -> f64 {
    format!("{x:.5e}").parse().unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_log_reads_back_to_the_same_text() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../ch02-bptt/data/train-rnn.csv");
        let text = std::fs::read_to_string(&path).unwrap();
        let log = TrainLog::parse(&text).unwrap();
        assert_eq!(log.title, "rnnbook train rnn");
        assert_eq!(log.meta("seq_len"), Some("32"));
        assert!(log.vocab_size().is_some());
        assert_eq!(log.to_text(), text);
    }

    #[test]
    fn bad_rows_are_named_by_line() {
        for (text, needle) in [
            ("1,2,3,4\n", "line 1: expected the header"),
            ("# t: a=1\n", "no header"),
            (
                &format!("{LOG_HEADER}\n1,2,3\n") as &str,
                "line 2: expected 4 columns",
            ),
            (
                &format!("{LOG_HEADER}\n1,2,nan,4\n"),
                "`nan` is not a finite number",
            ),
            (
                &format!("{LOG_HEADER}\n2,1,1,1\n2,1,1,1\n"),
                "steps must increase",
            ),
        ] {
            let e = TrainLog::parse(text).unwrap_err();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }
}

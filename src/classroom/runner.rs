//! Building and running a graded copy's tests in child processes, with time limits, and reading
//! what the test binaries report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::config::Exercise;
use super::grade::{GradeOptions, tests_by_package};

/// Runs `cmd` until it exits or `limit` passes (then kills it); `(exited in time, stdout, stderr)`.
fn run_limited(mut cmd: Command, limit: Duration) -> Result<(bool, String, String)> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting a process")?;
    // Read the pipes on threads, so that a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).ok();
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).ok();
        s
    });
    let start = Instant::now();
    let in_time = loop {
        if child.try_wait()?.is_some() {
            break true;
        }
        if start.elapsed() >= limit {
            child.kill().ok();
            child.wait().ok();
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = t_out.join().unwrap_or_default();
    let stderr = t_err.join().unwrap_or_default();
    Ok((in_time, stdout, stderr))
}

/// `cargo test -p PKG --no-run`, offline, in `work`: the test executables, or the first error.
pub(super) fn build_tests(
    work: &Path,
    pkg: &str,
    o: &GradeOptions,
) -> Result<Vec<PathBuf>, String> {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(work)
        .args([
            "test",
            "--offline",
            "--no-run",
            "--message-format=json",
            "-p",
            pkg,
        ])
        .env("CARGO_TARGET_DIR", o.target_dir())
        .env("CARGO_TERM_COLOR", "never");
    let (in_time, stdout, stderr) =
        run_limited(cmd, o.build_timeout()).map_err(|e| format!("{e:#}"))?;
    if !in_time {
        return Err(format!(
            "the build took longer than {} s",
            o.build_timeout_secs
        ));
    }
    let mut exes = Vec::new();
    let mut first_error = None;
    for line in stdout.lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        match msg["reason"].as_str() {
            Some("compiler-message")
                if msg["message"]["level"] == "error" && first_error.is_none() =>
            {
                let rendered = msg["message"]["rendered"].as_str().unwrap_or("");
                let text: Vec<&str> = rendered.lines().take(6).collect();
                first_error = Some(text.join(" | "));
            }
            Some("compiler-artifact") => {
                let ours = msg["package_id"].as_str().is_some_and(|id| {
                    id.contains(&format!("#{pkg}@")) || id.contains(&format!("/{pkg}#"))
                });
                if let Some(exe) = msg["executable"].as_str()
                    && ours
                    && msg["profile"]["test"] == true
                {
                    exes.push(PathBuf::from(exe));
                }
            }
            _ => {}
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    if exes.is_empty() {
        let tail: Vec<&str> = stderr.lines().rev().take(4).collect();
        return Err(format!(
            "cargo built no test executable: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ));
    }
    Ok(exes)
}

/// Runs the exercise's tests in every executable of their packages, within `limit` in all;
/// `(passed, error summary)`. Tests of a package that did not compile count as not passed.
pub(super) fn run_exercise(
    work: &Path,
    built: &BTreeMap<String, Result<Vec<PathBuf>, String>>,
    ex: &Exercise,
    limit: Duration,
) -> (usize, String) {
    let start = Instant::now();
    let mut results: BTreeMap<(String, String), bool> = BTreeMap::new();
    let mut error = String::new();
    'packages: for (pkg, names) in tests_by_package(ex) {
        let exes = match built.get(&pkg) {
            Some(Ok(exes)) => exes,
            Some(Err(e)) => {
                if error.is_empty() {
                    error = format!("{pkg} does not compile: {e}");
                }
                continue;
            }
            None => continue,
        };
        for exe in exes {
            let left = limit.saturating_sub(start.elapsed());
            if left.is_zero() {
                error = format!("timed out after {} s", limit.as_secs());
                break 'packages;
            }
            let mut cmd = Command::new(exe);
            cmd.current_dir(work.join("chapters").join(&pkg))
                .arg("--exact")
                .args(&names)
                .env("RUST_BACKTRACE", "0");
            match run_limited(cmd, left) {
                Ok((in_time, stdout, _)) => {
                    for (name, ok) in parse_test_output(&stdout) {
                        results
                            .entry((pkg.clone(), name))
                            .and_modify(|v| *v |= ok)
                            .or_insert(ok);
                    }
                    if error.is_empty()
                        && let Some(p) = first_panic(&stdout)
                    {
                        error = p;
                    }
                    if !in_time {
                        error = format!("timed out after {} s", limit.as_secs());
                        break 'packages;
                    }
                }
                Err(e) => {
                    error = format!("{e:#}");
                    break 'packages;
                }
            }
        }
    }
    let wanted: Vec<(String, String)> = tests_by_package(ex)
        .into_iter()
        .flat_map(|(pkg, names)| names.into_iter().map(move |n| (pkg.clone(), n)))
        .collect();
    let passed = wanted
        .iter()
        .filter(|k| results.get(*k) == Some(&true))
        .count();
    let not_run: Vec<&(String, String)> = wanted
        .iter()
        .filter(|k| !results.contains_key(*k))
        .collect();
    if error.is_empty() && !not_run.is_empty() {
        error = format!(
            "{} test(s) did not run, e.g. {}",
            not_run.len(),
            not_run[0].1
        );
    }
    (passed, error)
}

/// The tests, in `cargo test` order, that a run's output reports, with their outcome.
pub fn parse_test_output(stdout: &str) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        if let Some((name, outcome)) = rest.rsplit_once(" ... ") {
            let name = name.strip_suffix(" - should panic").unwrap_or(name);
            match outcome.trim() {
                "ok" => {
                    out.insert(name.to_string(), true);
                }
                o if o.starts_with("FAILED") => {
                    out.insert(name.to_string(), false);
                }
                _ => {}
            }
        }
    }
    out
}

/// The first line of the first panic message in a test run's output, if any.
pub fn first_panic(stdout: &str) -> Option<String> {
    let mut lines = stdout.lines();
    while let Some(l) = lines.next() {
        if l.contains("panicked at") {
            let msg = lines.next().unwrap_or("").trim();
            return Some(msg.chars().take(200).collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_output_is_read_line_by_line() {
        let out = "running 4 tests\ntest a::b ... ok\ntest c ... FAILED\ntest d ... ignored\ntest e - should panic ... FAILED\n\nfailures:\n\n---- c stdout ----\n\nthread 'c' panicked at src/x.rs:3:5:\nnot yet implemented: ex 1.2: add one\n";
        let r = parse_test_output(out);
        assert_eq!(r.get("a::b"), Some(&true));
        assert_eq!(r.get("c"), Some(&false));
        assert_eq!(r.get("d"), None);
        assert_eq!(
            r.get("e"),
            Some(&false),
            "the should-panic suffix is not part of the name"
        );
        assert_eq!(
            first_panic(out).unwrap(),
            "not yet implemented: ex 1.2: add one"
        );
    }
}

//! Child processes with time limits and bounded output, and what cargo and the test binaries
//! report: the build's executables and errors by package, and the tests each executable holds.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Output kept of one stream (the rest is read and dropped, so that the child never blocks).
const MAX_OUTPUT: u64 = 8 << 20;

/// What a limited run gave.
#[derive(Debug)]
pub struct Ran {
    /// How it ended, or `None` when it was killed at the time limit.
    pub status: Option<ExitStatus>,
    /// Standard output (at most 8 MiB of it).
    pub stdout: String,
    /// Standard error (at most 8 MiB of it).
    pub stderr: String,
}

fn read_bounded(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        (&mut r).take(MAX_OUTPUT).read_to_end(&mut buf).ok();
        std::io::copy(&mut r, &mut std::io::sink()).ok();
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Kills every process of the group `pid` leads (what a killed child left running would
/// otherwise keep the pipes open).
fn kill_group(pid: u32) {
    Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok();
}

/// Runs `cmd`, in a process group of its own, until it exits or `limit` passes (then kills the
/// group).
pub fn run_limited(mut cmd: Command, limit: Duration) -> Result<Ran> {
    use std::os::unix::process::CommandExt;
    let mut child = cmd
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {:?}", cmd.get_program()))?;
    // Read the pipes on threads, so that a chatty child cannot block on a full pipe.
    let t_out = read_bounded(child.stdout.take().expect("piped"));
    let t_err = read_bounded(child.stderr.take().expect("piped"));
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    let status = loop {
        if let Some(s) = child.try_wait()? {
            kill_group(child.id());
            break Some(s);
        }
        if start.elapsed() >= limit {
            kill_group(child.id());
            child.kill().ok();
            child.wait().ok();
            break None;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    let stdout = t_out.join().unwrap_or_default();
    let stderr = t_err.join().unwrap_or_default();
    Ok(Ran {
        status,
        stdout,
        stderr,
    })
}

/// One test executable cargo built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executable {
    /// The binary.
    pub path: PathBuf,
    /// Its target's root source file.
    pub src_path: PathBuf,
}

/// What one `cargo build --tests --message-format=json` reported, by package name.
#[derive(Debug, Default)]
pub struct Build {
    /// Test executables, by package.
    pub executables: BTreeMap<String, Vec<Executable>>,
    /// The first compiler error, by package.
    pub errors: BTreeMap<String, String>,
    /// Units compiled (not fresh), as (package, root source file).
    pub compiled: Vec<(String, PathBuf)>,
}

/// The package name of a cargo package id (`path+file:///…/ch00-foundations#0.1.0` or
/// `path+file:///…/dir#name@0.1.0`).
pub fn package_name(id: &str) -> Option<String> {
    let (path, frag) = id.rsplit_once('#')?;
    match frag.split_once('@') {
        Some((name, _)) => Some(name.to_string()),
        None => path.rsplit('/').next().map(str::to_string),
    }
}

/// Reads cargo's JSON messages.
pub fn parse_build(stdout: &str) -> Build {
    let mut b = Build::default();
    for line in stdout.lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(pkg) = msg["package_id"].as_str().and_then(package_name) else {
            continue;
        };
        let src = PathBuf::from(msg["target"]["src_path"].as_str().unwrap_or(""));
        match msg["reason"].as_str() {
            Some("compiler-message") if msg["message"]["level"] == "error" => {
                b.errors.entry(pkg).or_insert_with(|| {
                    let rendered = msg["message"]["rendered"].as_str().unwrap_or("");
                    let text: Vec<&str> = rendered.lines().take(6).collect();
                    text.join(" | ")
                });
            }
            Some("compiler-artifact") => {
                if msg["fresh"] == false {
                    b.compiled.push((pkg.clone(), src.clone()));
                }
                if let Some(exe) = msg["executable"].as_str()
                    && msg["profile"]["test"] == true
                {
                    b.executables.entry(pkg).or_default().push(Executable {
                        path: PathBuf::from(exe),
                        src_path: src,
                    });
                }
            }
            _ => {}
        }
    }
    b
}

/// The tests that `exe --list --format terse` printed.
pub fn parse_list(stdout: &str) -> BTreeSet<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_string)
        .collect()
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

/// The tests, in `cargo test` order, that a run's output reports, with their outcome (for
/// reading a whole `cargo test` run; grading does not trust this: see [`super::verdict`]).
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

    #[test]
    fn package_ids_and_test_lists_are_read() {
        assert_eq!(
            package_name("path+file:///w/chapters/ch00-foundations#0.1.0").as_deref(),
            Some("ch00-foundations")
        );
        assert_eq!(
            package_name("path+file:///w#rnnbook@0.1.0").as_deref(),
            Some("rnnbook")
        );
        let l = parse_list("a::b: test\nc: test\nd: bench\n\n2 tests, 1 benchmark\n");
        assert_eq!(l.into_iter().collect::<Vec<_>>(), ["a::b", "c"]);
    }

    #[test]
    fn a_chatty_child_is_cut_at_the_limits() {
        let mut c = Command::new("sh");
        c.args(["-c", "yes | head -c 20000000; sleep 30"]);
        let start = Instant::now();
        let r = run_limited(c, Duration::from_secs(2)).unwrap();
        assert!(r.status.is_none());
        assert_eq!(r.stdout.len() as u64, MAX_OUTPUT);
        assert!(start.elapsed() < Duration::from_secs(20));
    }
}

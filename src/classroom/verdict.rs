//! Verdicts student code cannot forge.
//!
//! A graded test runs in a process of its own (alone, or with the other tests of its exercise in
//! the same executable, see below), together with one test the grader adds to every test
//! executable of the graded copy: the *sentinel*, whose name sorts after every graded test, so
//! that libtest (one thread) runs it last. The grader gives that process a fresh random nonce in
//! its environment; the sentinel prints it. A test passed when, and only when, all of these
//! hold:
//!
//! 1. the process ended by itself within the time limit, with exit status 0 (libtest exits 101
//!    when a test fails; a signal, an abort or a stack overflow is not 0);
//! 2. its output has libtest's line `test NAME ... ok`;
//! 3. its output has the sentinel's line with this process's nonce, which only the sentinel
//!    prints, after the graded test has returned.
//!
//! For speed, an exercise's tests in one executable first run together in one process (the
//! sentinel last); that process is evidence for all of them only when it shows 1–3 for every
//! one ([`all_passed`]). Otherwise each of them runs again alone.
//!
//! Printing result lines (1 fails: the real verdict still follows and sets the exit status),
//! ending the process early with status 0 (3 fails: the sentinel never ran), aborting (1 fails)
//! or crafting panic messages (1 fails) earns nothing. Forging 3 needs the nonce, which code
//! that passed the static check ([`super::audit`]) cannot read: it names no environment, file,
//! process or thread.

use std::process::ExitStatus;

/// The sentinel test's name: it sorts after every graded test's name.
pub const SENTINEL: &str = "zzzz_rnnbook_grader_sentinel";

/// The environment variable that carries the nonce.
pub const NONCE_VAR: &str = "RNNBOOK_GRADER_NONCE";

/// What the sentinel prints before the nonce.
pub const SENTINEL_LINE: &str = "rnnbook-grader-sentinel";

/// The sentinel, appended to the root file of every test target of the graded copy.
pub fn sentinel_source() -> String {
    format!(
        r#"

// Added by `rnnbook grade` (not part of the book): see src/classroom/verdict.rs.
#[cfg(test)]
#[test]
fn {SENTINEL}() {{
    use std::io::Write;
    if let Ok(nonce) = std::env::var("{NONCE_VAR}") {{
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "\n{SENTINEL_LINE} {{nonce}}");
        let _ = out.flush();
    }}
}}
"#
    )
}

/// A fresh nonce for one test process.
pub fn nonce() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The verdict on one graded test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Passed, with the evidence above.
    Passed,
    /// Not passed: why.
    Failed(String),
}

fn has_ok_line(stdout: &str, name: &str) -> bool {
    let ok_lines = [
        format!("test {name} ... ok"),
        format!("test {name} - should panic ... ok"),
    ];
    stdout
        .lines()
        .any(|l| ok_lines.iter().any(|o| l.trim_end() == o))
}

fn has_nonce(stdout: &str, nonce: &str) -> bool {
    let sentinel = format!("{SENTINEL_LINE} {nonce}");
    stdout.lines().any(|l| l.trim_end() == sentinel)
}

/// Whether a process that ran `names` (and the sentinel after them) shows that every one of
/// them passed: the same evidence as [`judge`], for several tests at once. When it does not,
/// the grader runs each test alone to find which.
pub fn all_passed(names: &[String], nonce: &str, status: Option<ExitStatus>, stdout: &str) -> bool {
    status.is_some_and(|s| s.code() == Some(0))
        && has_nonce(stdout, nonce)
        && names.iter().all(|n| has_ok_line(stdout, n))
}

/// Judges test `name`'s process: `status` is `None` when it was killed at the time limit.
pub fn judge(name: &str, nonce: &str, status: Option<ExitStatus>, stdout: &str) -> Verdict {
    let Some(status) = status else {
        return Verdict::Failed("timed out".into());
    };
    let evidence = has_nonce(stdout, nonce);
    let ok = has_ok_line(stdout, name);
    match status.code() {
        Some(0) if evidence && ok => Verdict::Passed,
        Some(0) if !evidence => Verdict::Failed(
            "the process ended without the test harness's verdict (exit 0 before the grader's \
             check ran)"
                .into(),
        ),
        Some(0) => Verdict::Failed("the test did not run".into()),
        Some(101) => Verdict::Failed(
            super::runner::first_panic(stdout).unwrap_or_else(|| "the test failed".into()),
        ),
        Some(c) => Verdict::Failed(format!("the test process exited with status {c}")),
        None => {
            let signal = std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0);
            let what = match signal {
                6 => " (abort)",
                9 => " (killed: a limit was reached)",
                11 => " (segmentation fault: a stack overflow?)",
                24 => " (the CPU time limit)",
                _ => "",
            };
            Verdict::Failed(format!(
                "the test process was killed by signal {signal}{what}"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn exit(code: i32) -> Option<ExitStatus> {
        Some(ExitStatus::from_raw(code << 8))
    }

    #[test]
    fn only_exit_zero_with_the_ok_line_and_this_nonce_passes() {
        let good = "\nrunning 2 tests\ntest a::b ... ok\ntest zzzz_rnnbook_grader_sentinel ... \nrnnbook-grader-sentinel 42\nok\n";
        assert_eq!(judge("a::b", "42", exit(0), good), Verdict::Passed);
        // Another nonce (a line printed by student code, or by an earlier run).
        assert!(matches!(
            judge("a::b", "43", exit(0), good),
            Verdict::Failed(_)
        ));
        // Exit 0 after fake lines, before the sentinel.
        let fake = "running 2 tests\ntest a::b ... test a::b ... ok\ntest result: ok. 2 passed\n";
        assert!(
            matches!(judge("a::b", "42", exit(0), fake), Verdict::Failed(m) if m.contains("without the test harness"))
        );
        // The real verdict was a failure, whatever was printed before it.
        let failed = format!(
            "test a::b ... ok\n{SENTINEL_LINE} 42\ntest a::b ... FAILED\n\nthread 'a::b' panicked at x.rs:1:1:\nwrong\n"
        );
        assert_eq!(
            judge("a::b", "42", exit(101), &failed),
            Verdict::Failed("wrong".into())
        );
        // Killed by a signal, or at the time limit.
        assert!(
            matches!(judge("a::b", "42", Some(ExitStatus::from_raw(6)), good), Verdict::Failed(m) if m.contains("abort"))
        );
        assert_eq!(
            judge("a::b", "42", None, good),
            Verdict::Failed("timed out".into())
        );
        // Another test's ok line is not this test's.
        assert!(matches!(
            judge("a::c", "42", exit(0), good),
            Verdict::Failed(_)
        ));
    }

    #[test]
    fn a_batch_passes_only_when_every_test_has_its_line_and_the_nonce_follows() {
        let names = ["a".to_string(), "b".to_string()];
        let good = "test a ... ok\ntest b ... ok\ntest zzzz_rnnbook_grader_sentinel ... \nrnnbook-grader-sentinel 7\nok\n";
        assert!(all_passed(&names, "7", exit(0), good));
        assert!(!all_passed(&names, "8", exit(0), good));
        assert!(!all_passed(&names, "7", exit(101), good));
        assert!(!all_passed(&names, "7", None, good));
        let one_missing = good.replace("test b ... ok\n", "");
        assert!(!all_passed(&names, "7", exit(0), &one_missing));
    }

    #[test]
    fn the_sentinel_sorts_after_any_test_name_of_the_book() {
        for name in ["ex7_2_x", "zzz", "tests::z", "activations::tests::a"] {
            assert!(name < SENTINEL, "{name}");
        }
        assert!(sentinel_source().contains(SENTINEL));
    }
}

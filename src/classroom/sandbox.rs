//! The sandbox student code builds and runs in: `bubblewrap` (`bwrap`) and `prlimit`.
//!
//! Every build and every test process of a submission runs as
//!
//! ```text
//! bwrap  --ro-bind / /  --dev /dev --proc /proc   (everything read-only)
//!        --tmpfs HIDDEN…                          (home, /tmp, the instructor's tree, the
//!                                                  submissions, the other slots: not there)
//!        --ro-bind/--bind NEEDED…                 (the toolchain, the slot's tree read-only,
//!                                                  its target and scratch folders writable)
//!        --unshare-net --unshare-pid --unshare-ipc --unshare-uts  --die-with-parent
//!   [setpriv --reuid UID …]                       (when the grader is root: a user of its own
//!                                                  per slot, so that the process limit holds)
//!   prlimit --as --nproc --cpu --fsize --core     (memory, processes, CPU time, file size)
//!   PROGRAM ARGS…
//! ```
//!
//! With `--sandbox auto` and no working `bwrap`, the grader warns and runs the same commands
//! directly (time limits still hold, nothing else does); with `--sandbox required` it refuses
//! to grade.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

/// `--sandbox`: whether student code runs inside `bwrap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum SandboxMode {
    /// Use bwrap when it works here; otherwise warn loudly and run without it.
    #[default]
    Auto,
    /// Refuse to grade unless bwrap works here.
    Required,
    /// Never sandbox (for machines that cannot; student code runs with your permissions).
    Off,
}

/// Limits of one sandboxed process.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Address space, bytes.
    pub memory: u64,
    /// Processes and threads of the slot's user.
    pub processes: u64,
    /// CPU seconds.
    pub cpu_secs: u64,
    /// Largest file it may write, bytes.
    pub file_size: u64,
}

const GIB: u64 = 1 << 30;

impl Limits {
    /// For `cargo build`: rustc and the linker need memory and threads.
    pub fn build(cpu_secs: u64) -> Self {
        Limits {
            memory: 16 * GIB,
            processes: 1024,
            cpu_secs,
            file_size: 4 * GIB,
        }
    }

    /// For one test process.
    pub fn test(cpu_secs: u64) -> Self {
        Limits {
            memory: 4 * GIB,
            processes: 256,
            cpu_secs,
            file_size: 256 << 20,
        }
    }
}

/// What one sandboxed process may see and touch.
#[derive(Debug, Clone, Default)]
pub struct Jail {
    /// Paths that are not there (an empty folder in their place).
    pub hidden: Vec<PathBuf>,
    /// Paths visible read-only (re-shown inside a hidden one).
    pub read_only: Vec<PathBuf>,
    /// Paths visible and writable.
    pub writable: Vec<PathBuf>,
    /// The working folder.
    pub cwd: Option<PathBuf>,
}

/// How student code is run.
#[derive(Debug, Clone)]
pub struct Sandbox {
    bwrap: Option<PathBuf>,
    /// Whether to switch to a user of the slot's own (the grader runs as root).
    switch_user: bool,
    /// Why there is no sandbox, when there is none.
    pub why_none: Option<String>,
}

/// The first user id of the slots' users when the grader runs as root (slot k runs as
/// `SLOT_UID_BASE + k`): users of their own, so that one slot's process limit cannot starve
/// another's and nothing of the grader's is theirs to write.
pub const SLOT_UID_BASE: u32 = 61000;

fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    // The owner of /proc/self is the process's user.
    std::os::unix::fs::MetadataExt::uid(&match std::fs::metadata("/proc/self") {
        Ok(m) => m,
        Err(_) => return false,
    }) == 0
}

impl Sandbox {
    /// No sandbox.
    pub fn off(why: &str) -> Self {
        Sandbox {
            bwrap: None,
            switch_user: false,
            why_none: Some(why.to_string()),
        }
    }

    /// The sandbox `mode` asks for, after checking that `bwrap` works here.
    pub fn detect(mode: SandboxMode) -> Result<Self> {
        if mode == SandboxMode::Off {
            return Ok(Sandbox::off("--sandbox off"));
        }
        let probe = || -> std::result::Result<Sandbox, String> {
            let bwrap = find("bwrap")
                .ok_or("bwrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)")?;
            for tool in ["prlimit", "setpriv"] {
                find(tool).ok_or(format!("{tool} (util-linux) is not installed"))?;
            }
            let s = Sandbox {
                bwrap: Some(bwrap),
                switch_user: is_root(),
                why_none: None,
            };
            let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
            let jail = Jail {
                writable: vec![scratch.path().to_path_buf()],
                ..Jail::default()
            };
            s.chown_for_slot(scratch.path(), 0)
                .map_err(|e| format!("{e:#}"))?;
            let mut cmd = s.command(Path::new("/bin/true"), &[], &jail, 0, Limits::test(5));
            let out = cmd.output().map_err(|e| format!("starting bwrap: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "bwrap does not work here: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            Ok(s)
        };
        match probe() {
            Ok(s) => Ok(s),
            Err(why) if mode == SandboxMode::Required => {
                bail!("--sandbox required, but {why}")
            }
            Err(why) => Ok(Sandbox::off(&why)),
        }
    }

    /// Whether student code is sandboxed.
    pub fn is_on(&self) -> bool {
        self.bwrap.is_some()
    }

    /// Gives `path` (recursively) to slot `slot`'s user, when the grader switches users.
    pub fn chown_for_slot(&self, path: &Path, slot: usize) -> Result<()> {
        if !self.switch_user {
            return Ok(());
        }
        let uid = SLOT_UID_BASE + slot as u32;
        for entry in walkdir::WalkDir::new(path) {
            let entry = entry?;
            std::os::unix::fs::lchown(entry.path(), Some(uid), Some(uid)).map_err(|e| {
                anyhow::anyhow!("giving {} to user {uid}: {e}", entry.path().display())
            })?;
        }
        Ok(())
    }

    /// `program args…` inside the sandbox (or as is, without one), for slot `slot`.
    pub fn command(
        &self,
        program: &Path,
        args: &[String],
        jail: &Jail,
        slot: usize,
        limits: Limits,
    ) -> Command {
        let Some(bwrap) = &self.bwrap else {
            let mut c = Command::new(program);
            c.args(args);
            if let Some(d) = &jail.cwd {
                c.current_dir(d);
            }
            return c;
        };
        let mut c = Command::new(bwrap);
        if let Some(d) = &jail.cwd {
            c.current_dir(d).arg("--chdir").arg(d);
        }
        c.args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]);
        for h in &jail.hidden {
            if h.exists() {
                c.arg("--tmpfs").arg(h);
            }
        }
        // A path shown again inside a hidden one needs its parents made there, readable by all
        // (bwrap would make them 0700, closed to the slot's user).
        let mut made: Vec<PathBuf> = Vec::new();
        for p in jail.read_only.iter().chain(&jail.writable) {
            let mut parents: Vec<&Path> = p
                .ancestors()
                .skip(1)
                .filter(|a| {
                    jail.hidden
                        .iter()
                        .any(|h| a.starts_with(h) && *a != h.as_path())
                })
                .collect();
            parents.reverse();
            for a in parents {
                if !made.iter().any(|m| m == a) {
                    c.args(["--perms", "0755", "--dir"]).arg(a);
                    made.push(a.to_path_buf());
                }
            }
        }
        for p in &jail.read_only {
            c.arg("--ro-bind").arg(p).arg(p);
        }
        for p in &jail.writable {
            c.arg("--bind").arg(p).arg(p);
        }
        // A write into a hidden folder fails, rather than vanishing with the empty folder.
        for h in &jail.hidden {
            if h.exists() {
                c.arg("--remount-ro").arg(h);
            }
        }
        c.args([
            "--unshare-net",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--new-session",
        ]);
        if self.switch_user {
            let uid = (SLOT_UID_BASE + slot as u32).to_string();
            c.args(["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--"]);
            c.args([
                "setpriv",
                "--reuid",
                &uid,
                "--regid",
                &uid,
                "--clear-groups",
            ]);
            c.args(["--inh-caps=-all", "--bounding-set=-all"]);
        } else {
            c.arg("--");
        }
        c.arg("prlimit")
            .arg(format!("--as={}", limits.memory))
            .arg(format!("--nproc={}", limits.processes))
            .arg(format!("--cpu={}", limits.cpu_secs))
            .arg(format!("--fsize={}", limits.file_size))
            .arg("--core=0")
            .arg("--")
            .arg(program)
            .args(args);
        c
    }
}

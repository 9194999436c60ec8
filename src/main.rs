//! The `rnnbook` command: `cargo run --release` builds the figures and the book.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

/// Recurrent Networks from Scratch, in Rust: build the book and its figures.
///
/// With no command, `rnnbook` runs `build`.
#[derive(Parser)]
#[command(name = "rnnbook", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Draw the figures, then build the HTML book and check it (the default command).
    Build(BuildArgs),
    /// Check the book's cells against PyTorch fixtures (tests/fixtures/*.json).
    ///
    /// Prints the max abs and relative error of every tensor. Exit 0 when every tensor of every
    /// file is within tolerance, 1 when some tensor is not, 2 when a file cannot be read or
    /// checked (the message names the file and the field).
    Check {
        /// Fixture files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Draw the figures only, into the book's `src/figures/`.
    Figures {
        /// The book folder (with book.toml).
        #[arg(long, default_value_os_t = rnnbook::default_book_dir())]
        book: PathBuf,
    },
}

#[derive(clap::Args)]
struct BuildArgs {
    /// The book folder (with book.toml).
    #[arg(long, default_value_os_t = rnnbook::default_book_dir())]
    book: PathBuf,
    /// Build with the figures already on disk instead of drawing them again.
    #[arg(long)]
    no_figures: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    rnnbook::book::init_logging();
    let result = match cli.command {
        None => build(BuildArgs {
            book: rnnbook::default_book_dir(),
            no_figures: false,
        }),
        Some(Command::Build(args)) => build(args),
        Some(Command::Figures { book }) => figures(&book).map(|_| ()),
        Some(Command::Check { files }) => return check(&files),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn spinner(message: &str) -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    pb.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("template"));
    pb.set_message(message.to_string());
    pb.enable_steady_tick(Duration::from_millis(100));
    pb
}

fn figures(book: &std::path::Path) -> Result<usize> {
    let start = Instant::now();
    let out = book.join("src").join("figures");
    let total = rnnbook::figures::all().len() as u64;
    let pb = ProgressBar::new(total);
    pb.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} figures  {msg}").expect("template"),
    );
    let written = rnnbook::figures::render_all(&out, |name| {
        pb.set_message(name.to_string());
        pb.inc(1);
    });
    pb.finish_and_clear();
    let written = written?;
    eprintln!(
        "figures: {} drawn into {} in {:.2} s",
        written.len(),
        out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(written.len())
}

fn build(args: BuildArgs) -> Result<()> {
    if !args.no_figures {
        figures(&args.book)?;
    }
    let start = Instant::now();
    let pb = spinner("building the book (mdBook + KaTeX) and checking links");
    let report = rnnbook::book::build_book(&args.book);
    pb.finish_and_clear();
    let report = report?;
    eprintln!(
        "book: {} pages, {} formulas, {} includes, {} local links checked in {:.2} s",
        report.pages,
        report.formulas,
        report.includes,
        report.links_checked,
        start.elapsed().as_secs_f64()
    );
    println!("The book is at {}", report.index_html.display());
    println!(
        "Open it in a browser, e.g. xdg-open {}",
        report.index_html.display()
    );
    Ok(())
}

/// Exit codes of `check`: 0 all within tolerance, 1 a tensor out of tolerance, 2 a bad file.
fn check(files: &[PathBuf]) -> ExitCode {
    use ch00_foundations::tolerance::{FIXTURE_ATOL, FIXTURE_RTOL};
    use std::fmt::Write as _;
    let mut worst = 0u8;
    let mut out = String::new();
    writeln!(
        out,
        "tolerance: |actual - expected| <= {FIXTURE_ATOL:e} + {FIXTURE_RTOL:e} * |expected|"
    )
    .expect("writing to a String");
    for path in files {
        let fixture = match rnnbook::fixture::load(path) {
            Ok(f) => f,
            Err(e) => {
                flush_stdout(&mut out);
                eprintln!("error: {e}");
                worst = worst.max(2);
                continue;
            }
        };
        let result = rnnbook::check::check_fixture(&fixture);
        let verdict = if result.passed() { "ok" } else { "FAILED" };
        writeln!(
            out,
            "{} ({}, T={} B={} I={} H={}): {verdict}",
            path.display(),
            fixture.cell.name(),
            fixture.seq_len,
            fixture.batch,
            fixture.input_size,
            fixture.hidden_size
        )
        .expect("writing to a String");
        for t in &result.tensors {
            let c = &t.comparison;
            let mark = if c.is_within() { "ok" } else { "FAILED" };
            writeln!(
                out,
                "  {:<16} max abs {:9.3e}  max rel {:9.3e}  {mark}",
                t.name, c.max_abs, c.max_rel
            )
            .expect("writing to a String");
            if !c.is_within() {
                writeln!(out, "    {c}").expect("writing to a String");
            }
        }
        if !result.passed() {
            worst = worst.max(1);
        }
        if !flush_stdout(&mut out) {
            break; // the reader went away (e.g. `| head`): stop quietly
        }
    }
    flush_stdout(&mut out);
    ExitCode::from(worst)
}

/// Writes `buf` to stdout and clears it; false if stdout is closed (a broken pipe).
fn flush_stdout(buf: &mut String) -> bool {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let ok = stdout
        .write_all(buf.as_bytes())
        .and_then(|()| stdout.flush())
        .is_ok();
    buf.clear();
    ok
}

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

//! The `rnnbook` command: `cargo run --release` builds the figures and the book.
//!
//! This file only parses the command line and hands each command to the folder that does it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rnnbook::bench::BenchOptions;
use rnnbook::book::BuildOptions;
use rnnbook::classroom::edition::EditionOptions;
use rnnbook::classroom::grade::GradeOptions;
use rnnbook::classroom::platforms::Platform;
use rnnbook::experiments::ExperimentOptions;
use rnnbook::train::TrainOptions;
use rnnbook::train::task::{TaskName, TaskOptions};
use rnnbook::train::text::TextOptions;

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
    Build(BuildOptions),
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
    /// Time the chapter code and the fused versions on the same work (each checked first).
    ///
    /// Prints a table, or with `--json` only a JSON array (one object per implementation) on
    /// stdout. Progress goes to stderr.
    Bench(BenchOptions),
    /// Run chapter 7's study: every cell on every task, several seeds; resumable (recorded runs
    /// are skipped).
    Experiments(ExperimentOptions),
    /// Train a chapter's model on text the project owns (by default, the book's own chapters).
    Train {
        #[command(subcommand)]
        model: TrainModel,
    },
    /// Write the student edition to OUT: every solution region becomes `todo!("ex N.M: hint")`,
    /// instructor-only tests are left out, the book comes along.
    StudentEdition(EditionOptions),
    /// Grade every subfolder of SUBMISSIONS (one student's copy of the student edition each)
    /// against the visible and instructor-only tests.
    ///
    /// Only the solution regions of a submission are used; each goes through a static check
    /// first. Builds and tests run in a bubblewrap sandbox (no network, nothing writable but a
    /// scratch folder, limits on time, memory and processes), several submissions at once, and a
    /// test counts as passed only on evidence student code cannot forge. Keep --work-dir between
    /// runs: compiled dependencies are shared, and only what a submission changed is rebuilt.
    Grade(GradeOptions),
    /// Write the grader as the bundle of a course platform: Gradescope's autograder zip, or
    /// GitHub Classroom's autograding workflow for a student edition.
    Autograder {
        #[command(subcommand)]
        platform: Platform,
    },
}

#[derive(Subcommand)]
enum TrainModel {
    /// Chapter 1's character RNN, with chapter 2's truncated BPTT and Adam and chapter 3's
    /// clipping by global norm.
    ///
    /// Step s trains on window s mod W of the text's B streams; the hidden state is carried from
    /// window to window and reset at each pass's start. The checkpoint holds everything needed to
    /// continue: training N steps in one go, or K steps and then `--resume` to N, gives the same
    /// parameters bit for bit. A NaN or infinity stops training with an error naming the step and
    /// the tensor, and the last good checkpoint is kept.
    Rnn(TrainOptions),
    /// Chapter 7's adding problem: the sum of the two marked values of a sequence of --seq-len.
    Adding(TaskOptions),
    /// Chapter 7's copy task: recall 3 of 8 symbols after a delay of --seq-len blanks.
    Copy(TaskOptions),
    /// Chapter 7's embedded Reber grammar: predict the next symbol.
    Reber(TaskOptions),
    /// Chapter 7's character model of any cell: trained on the text's first part, measured in
    /// bits per character on the rest (--held-out); by default at the study's parameter budget.
    Text(TextOptions),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    rnnbook::book::init_logging();
    let result = match cli.command {
        None => rnnbook::book::command(&BuildOptions::default()),
        Some(Command::Build(o)) => rnnbook::book::command(&o),
        Some(Command::Check { files }) => return rnnbook::check::command(&files),
        Some(Command::Figures { book }) => {
            rnnbook::figures::command(&book, rnnbook::book::drawing_here()).map(|_| ())
        }
        Some(Command::Bench(o)) => rnnbook::bench::command(&o),
        Some(Command::Experiments(o)) => rnnbook::experiments::command(&o),
        Some(Command::Train { model }) => match model {
            TrainModel::Rnn(o) => rnnbook::train::command(&o),
            TrainModel::Adding(o) => rnnbook::train::task::command(TaskName::Adding, &o),
            TrainModel::Copy(o) => rnnbook::train::task::command(TaskName::Copy, &o),
            TrainModel::Reber(o) => rnnbook::train::task::command(TaskName::Reber, &o),
            TrainModel::Text(o) => rnnbook::train::text::command(&o),
        },
        Some(Command::StudentEdition(o)) => rnnbook::classroom::edition::command(&o),
        Some(Command::Grade(o)) => rnnbook::classroom::grade::command(&o),
        Some(Command::Autograder { platform }) => rnnbook::classroom::platforms::command(&platform),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(rnnbook::exit::exit_code(&err))
        }
    }
}

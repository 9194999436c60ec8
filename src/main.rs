//! The `rnnbook` command: `cargo run --release` builds the figures and the book.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use rnnbook::train;

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
    /// Time the chapter code and the fused versions on the same work (each checked first).
    ///
    /// Prints a table, or with `--json` only a JSON array (one object per implementation) on
    /// stdout. Progress goes to stderr.
    Bench(BenchArgs),
    /// Train a chapter's model on text the project owns (by default, the book's own chapters).
    Train {
        #[command(subcommand)]
        model: TrainModel,
    },
    /// Write the student edition to OUT: every solution region becomes `todo!("ex N.M: hint")`,
    /// instructor-only tests are left out, the book comes along.
    StudentEdition {
        /// Where to write it (absent or empty, unless --force).
        out: PathBuf,
        /// Replace the contents of a non-empty OUT that holds an earlier student edition.
        #[arg(long)]
        force: bool,
        /// Strip only this exercise and keep every test (for mapping tests to exercises; see
        /// classroom/map_tests.py).
        #[arg(long)]
        only: Option<String>,
    },
    /// Grade every subfolder of SUBMISSIONS (one student's copy of the student edition each)
    /// against the visible and instructor-only tests, each in a fresh copy with time limits.
    Grade(GradeArgs),
}

#[derive(clap::Args)]
struct GradeArgs {
    /// The folder of submissions, one subfolder per student.
    submissions: PathBuf,
    /// The CSV to write; a JSON with the same rows is written next to it (`.json`).
    #[arg(long, default_value = "grades.csv")]
    out: PathBuf,
    /// Time limit in seconds for one exercise's tests.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// Time limit in seconds for building one chapter's tests.
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..))]
    build_timeout: u64,
    /// Cargo's target folder for grading (shared by all submissions).
    #[arg(long)]
    target_dir: Option<PathBuf>,
}

#[derive(clap::Args)]
struct BenchArgs {
    /// The cell: lstm or gru (reset-after).
    #[arg(long, default_value = "lstm")]
    cell: String,
    /// T; a comma-separated list runs each value.
    #[arg(long, default_value = "100", value_delimiter = ',')]
    seq_len: Vec<usize>,
    /// B; a list runs each value.
    #[arg(long, default_value = "32", value_delimiter = ',')]
    batch: Vec<usize>,
    /// I; a list runs each value.
    #[arg(long, default_value = "256", value_delimiter = ',')]
    input: Vec<usize>,
    /// H; a list runs each value.
    #[arg(long, default_value = "256", value_delimiter = ',')]
    hidden: Vec<usize>,
    /// Threads for v3 (the other implementations use one); a list runs each value.
    #[arg(long, default_value = "1", value_delimiter = ',')]
    threads: Vec<usize>,
    /// Timed runs per measurement, after one warm-up; the median is reported.
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Print only a JSON array on stdout.
    #[arg(long)]
    json: bool,
    /// Also time PyTorch on the same workload (runs bench/torch_lstm.py; needs torch).
    #[arg(long)]
    pytorch: bool,
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
    Rnn(TrainRnnArgs),
}

#[derive(clap::Args)]
struct TrainRnnArgs {
    /// Train on this UTF-8 text file instead of the book's chapters (BOOK/src/*.md, by name).
    #[arg(long, value_name = "FILE")]
    text: Option<PathBuf>,
    /// The book folder whose src/*.md is the default text.
    #[arg(long, value_name = "BOOK", default_value_os_t = rnnbook::default_book_dir())]
    book: PathBuf,
    /// Hidden units H.
    #[arg(long, value_name = "H", default_value_t = train::DEFAULT_HIDDEN, value_parser = positive_usize)]
    hidden: usize,
    /// Truncated-BPTT window: characters per stream per update (the state flows on across
    /// windows; the gradient stops at each window's start).
    #[arg(long, value_name = "T", default_value_t = train::DEFAULT_SEQ_LEN, value_parser = positive_usize)]
    seq_len: usize,
    /// Streams trained side by side (chapter 1's `streams`).
    #[arg(long, value_name = "B", default_value_t = train::DEFAULT_BATCH, value_parser = positive_usize)]
    batch: usize,
    /// Adam's step size.
    #[arg(long, default_value_t = train::DEFAULT_LR, value_parser = positive_f64)]
    lr: f64,
    /// Clip the global L2 norm of the gradient (of the mean loss per character) to this.
    #[arg(long, value_name = "NORM", default_value_t = train::DEFAULT_CLIP, value_parser = positive_f64)]
    clip: f64,
    /// Train until this many updates in total (a resumed run counts the checkpoint's).
    #[arg(long, value_name = "N", default_value_t = train::DEFAULT_STEPS)]
    steps: u64,
    /// Seed of the initialisation and of the samples.
    #[arg(long, default_value_t = train::DEFAULT_SEED)]
    seed: u64,
    /// Print a sample every N steps (0: only at the end).
    #[arg(long, value_name = "N", default_value_t = train::DEFAULT_SAMPLE_EVERY)]
    sample_every: u64,
    /// Characters per sample.
    #[arg(long, value_name = "CHARS", default_value_t = train::DEFAULT_SAMPLE_LEN)]
    sample_len: usize,
    /// Sampling temperature: below 1 sharper, above 1 flatter.
    #[arg(long, value_name = "TEMP", default_value_t = train::DEFAULT_TEMPERATURE, value_parser = positive_f64)]
    temperature: f64,
    /// The checkpoint file (JSON), written atomically.
    #[arg(long, value_name = "PATH", default_value_os_t = train::default_checkpoint())]
    checkpoint: PathBuf,
    /// Save the checkpoint every N steps as well as at the end (0: only at the end).
    #[arg(long, value_name = "N", default_value_t = train::DEFAULT_CHECKPOINT_EVERY)]
    checkpoint_every: u64,
    /// Continue from the checkpoint; its vocabulary and --hidden, --seq-len, --batch, --seed must
    /// match (--lr and --clip may change).
    #[arg(long, conflicts_with = "fresh")]
    resume: bool,
    /// Start a new run even if the checkpoint file exists (it is replaced at the first save).
    #[arg(long)]
    fresh: bool,
    /// Write step, loss per character, smoothed loss and gradient norm to this CSV, and a summary
    /// of the run (command, options, wall time, final loss, a sample) next to it as .json.
    #[arg(long, value_name = "CSV")]
    log: Option<PathBuf>,
}

fn positive_usize(s: &str) -> std::result::Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("`{s}` is not a whole number of at least 1")),
    }
}

fn positive_f64(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(format!("`{s}` is not a positive number")),
    }
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
        Some(Command::Bench(args)) => bench(args),
        Some(Command::StudentEdition { out, force, only }) => {
            student_edition(&out, force, only.as_deref())
        }
        Some(Command::Grade(args)) => grade(args),
        Some(Command::Train {
            model: TrainModel::Rnn(args),
        }) => train_rnn(args),
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

fn train_rnn(args: TrainRnnArgs) -> Result<()> {
    let opts = train::TrainOptions {
        text: args.text,
        book_dir: args.book,
        hidden: args.hidden,
        seq_len: args.seq_len,
        batch: args.batch,
        lr: args.lr,
        clip: args.clip,
        steps: args.steps,
        seed: args.seed,
        sample_every: args.sample_every,
        sample_len: args.sample_len,
        temperature: args.temperature,
        checkpoint: args.checkpoint,
        checkpoint_every: args.checkpoint_every,
        resume: args.resume,
        fresh: args.fresh,
        log: args.log,
    };
    let command = std::iter::once("rnnbook".to_string())
        .chain(std::env::args().skip(1).map(|a| shell_quote(&a)))
        .collect::<Vec<_>>()
        .join(" ");
    let pb = ProgressBar::new(opts.steps);
    pb.set_style(
        ProgressStyle::with_template("{bar:16} {pos}/{len} {msg}  {elapsed}, eta {eta}")
            .expect("template"),
    );
    let outcome = train::train(&opts, &command, &pb);
    pb.finish_and_clear();
    let outcome = outcome?;
    let s = &outcome.summary;
    if outcome.trained {
        println!(
            "── final sample (step {}, temperature {}) ──\n{}\n",
            s.steps, opts.temperature, s.final_sample
        );
        eprintln!(
            "trained steps {}..{} in {:.1} s ({:.1} steps/s; {:.1} s in all); loss per character: \
             {:.3} smoothed, {:.3} over the whole text; uniform guessing ln V = ln {} = {:.3}",
            s.start_step,
            s.steps,
            s.train_seconds,
            s.steps_per_second,
            s.wall_seconds,
            s.final_smoothed_loss_per_char,
            s.text_loss_per_char,
            s.vocab_size,
            s.ln_vocab_size
        );
        eprintln!("checkpoint: {}", opts.checkpoint.display());
        if let Some(log) = &opts.log {
            eprintln!(
                "log: {} (summary {})",
                log.display(),
                train::summary_path(log).display()
            );
        }
    }
    Ok(())
}

/// `arg` as a POSIX shell word (quoted only when it needs to be).
fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
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

fn bench(a: BenchArgs) -> Result<()> {
    let opts = rnnbook::bench::BenchOptions {
        cell: a.cell,
        seq_len: a.seq_len,
        batch: a.batch,
        input_size: a.input,
        hidden_size: a.hidden,
        threads: a.threads,
        repeats: a.repeats,
        pytorch: a.pytorch,
    };
    let pb = ProgressBar::new(1);
    pb.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed}] {msg}").expect("template"),
    );
    pb.enable_steady_tick(Duration::from_millis(200));
    let rows = rnnbook::bench::run(&opts, |done, total, msg| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
        pb.set_message(msg.to_string());
    });
    pb.finish_and_clear();
    let rows = rows?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print!("{}", rnnbook::bench::table(&rows));
    }
    Ok(())
}

fn student_edition(out: &std::path::Path, force: bool, only: Option<&str>) -> Result<()> {
    let pb = spinner("writing the student edition");
    let root = rnnbook::repo_root();
    let report = rnnbook::classroom::student_edition(&root, out, force, only);
    pb.finish_and_clear();
    let report = report?;
    // The figures as the instructor's code draws them, so the student edition's book is complete.
    let figures_dir = out.join("book").join("src").join("figures");
    std::fs::create_dir_all(&figures_dir)?;
    let n = rnnbook::figures::render_all(&figures_dir, |_| {})?.len();
    println!(
        "wrote {}: {} files, {} exercises as todo!(), {} solution-only regions hidden, {n} figures",
        out.display(),
        report.files,
        report.exercises,
        report.solution_only
    );
    Ok(())
}

fn grade(a: GradeArgs) -> Result<()> {
    let target_dir = a
        .target_dir
        .unwrap_or_else(|| std::env::temp_dir().join("rnnbook-grade-target"));
    let opts = rnnbook::grade::GradeOptions {
        timeout: Duration::from_secs(a.timeout),
        build_timeout: Duration::from_secs(a.build_timeout),
        target_dir,
    };
    let pb = ProgressBar::new(1);
    pb.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} [{elapsed}] {msg}").expect("template"),
    );
    pb.enable_steady_tick(Duration::from_millis(200));
    let rows = rnnbook::grade::grade_all(
        &rnnbook::repo_root(),
        &a.submissions,
        &opts,
        |done, total, msg| {
            pb.set_length(total as u64);
            pb.set_position(done as u64);
            pb.set_message(msg.to_string());
        },
    );
    pb.finish_and_clear();
    let rows = rows?;
    let json_path = a.out.with_extension("json");
    rnnbook::fsutil::write_atomic(&a.out, rnnbook::grade::to_csv(&rows).as_bytes())?;
    rnnbook::fsutil::write_atomic(&json_path, serde_json::to_string_pretty(&rows)?.as_bytes())?;
    print!("{}", rnnbook::grade::summary(&rows));
    println!("wrote {} and {}", a.out.display(), json_path.display());
    Ok(())
}

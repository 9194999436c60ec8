//! The text a run trains on: a file, or by default the book's own chapters.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, ensure};

use super::options::TrainOptions;

/// The text a run trains on.
#[derive(Debug, Clone)]
pub struct Corpus {
    /// All of it.
    pub text: String,
    /// Where it came from, for messages and the summary (e.g. `book/src/*.md`).
    pub source: String,
    /// The files it was read from, in order.
    pub files: Vec<PathBuf>,
}

impl Corpus {
    /// A 64-bit FNV-1a hash of the text, in hex: tells whether a checkpoint saw the same text.
    pub fn fingerprint(&self) -> String {
        fnv1a64(self.text.as_bytes())
    }
}

fn fnv1a64(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Reads `--text FILE`, or else the book's chapters (`BOOK/src/*.md`, sorted by file name).
///
/// # Errors
/// As [`corpus_from`].
pub fn load_corpus(opts: &TrainOptions) -> Result<Corpus> {
    corpus_from(opts.text.as_deref(), &opts.book_dir)
}

/// The file `text`, or else the chapters of the book in `book_dir`.
///
/// # Errors
/// A file that cannot be read or is not UTF-8, a chapter folder without `.md` files, or an empty
/// text; each message names the file or folder.
pub fn corpus_from(text: Option<&Path>, book_dir: &Path) -> Result<Corpus> {
    let Some(path) = text else {
        return book_corpus(book_dir);
    };
    let text = read_utf8(path, "text file")?;
    ensure!(
        !text.is_empty(),
        "the text file {} is empty: there is nothing to learn from",
        path.display()
    );
    Ok(Corpus {
        text,
        source: display_path(path),
        files: vec![path.to_path_buf()],
    })
}

/// The book's chapters as one text: `BOOK/src/*.md`, sorted by file name.
///
/// # Errors
/// A folder that cannot be read, a chapter that is not UTF-8, or no text at all.
pub fn book_corpus(book_dir: &Path) -> Result<Corpus> {
    let dir = book_dir.join("src");
    let mut files = Vec::new();
    let entries = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot read the book's chapter folder {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list the folder {}", dir.display()))?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "md") && path.is_file() {
            files.push(path);
        }
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    ensure!(
        !files.is_empty(),
        "the book's chapter folder {} has no .md files to train on",
        dir.display()
    );
    let mut text = String::new();
    for f in &files {
        text.push_str(&read_utf8(f, "chapter")?);
    }
    ensure!(
        !text.is_empty(),
        "the book's chapters in {} are all empty: there is nothing to learn from",
        dir.display()
    );
    Ok(Corpus {
        source: format!("{}/*.md", display_path(&dir)),
        text,
        files,
    })
}

fn read_utf8(path: &Path, what: &str) -> Result<String> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the {what} {}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        anyhow!(
            "the {what} {} is not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// `path` relative to the repository when it is inside it (so committed files hold no home
/// folders), else as given.
pub(super) fn display_path(path: &Path) -> String {
    let root = crate::repo_root();
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    };
    match abs.strip_prefix(&root) {
        Ok(rel) => rel.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

//! Listings that read well in the page.
//!
//! - [`Captions`] runs before mdBook's `links` (the builder orders it so), while a listing is
//!   still an `{{#include path:anchor}}`: each fenced code block that includes code gets a
//!   numbered caption above it, "Listing 4.2", naming the file (relative to the repository) and
//!   the anchor, linked to a page of that file in the built book at the anchor's first line.
//!   [`write_source_pages`] writes those pages (`source/<path>.html`) after the build, so the
//!   link check sees them.
//! - [`Widths`] runs after the includes are expanded: no line of a listing may be wider than
//!   [`LISTING_COLUMNS`] characters, the width of mdBook's code column (750 px of content at
//!   14 px Source Code Pro is about 85 characters), or the reader has to scroll sideways to
//!   read it. A wider line fails the build, naming the page, the listing's line and the start
//!   of the line. Lines that mdBook hides in a Rust listing (`# …`) are not shown and are not
//!   counted.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use mdbook_preprocessor::book::{Book, BookItem};
use mdbook_preprocessor::{Preprocessor, PreprocessorContext};
use pulldown_cmark_escape::escape_html_body_text;

use super::includes::{anchor_regex, include_regex, is_line_range};
use super::links::normalize;

/// The name of the preprocessor that captions listings (it runs before `links`).
pub(super) const CAPTIONS: &str = "listing-captions";
/// The name of the preprocessor that checks listing widths (it runs last).
pub(super) const WIDTHS: &str = "listing-widths";
/// The widest listing line, in characters, that the page shows without scrolling.
pub const LISTING_COLUMNS: usize = 85;
/// The class of every caption, for tests and stylesheets.
pub const CAPTION_CLASS: &str = "listing-caption";
/// Where in the built book the pages of the included files go.
pub const SOURCE_DIR: &str = "source";

/// A fenced code block's opening line: its indentation, fence character and length.
fn fence_of(line: &str) -> Option<(usize, char, usize)> {
    let trimmed = line.trim_start();
    let indent = line.len() - trimmed.len();
    let c = trimmed.chars().next()?;
    if indent > 3 || (c != '`' && c != '~') {
        return None;
    }
    let n = trimmed.chars().take_while(|&x| x == c).count();
    (n >= 3).then_some((indent, c, n))
}

/// Whether `line` closes a block opened by `(c, n)`.
fn closes(line: &str, c: char, n: usize) -> bool {
    let t = line.trim();
    t.chars().take_while(|&x| x == c).count() >= n && t.chars().all(|x| x == c)
}

/// The fenced code blocks of `markdown`: for each, the line range of its body (0-based, the
/// fences excluded) and its info string.
pub(super) fn code_blocks(lines: &[&str]) -> Vec<(usize, std::ops::Range<usize>, String)> {
    let mut out = Vec::new();
    let mut k = 0;
    while k < lines.len() {
        if let Some((_, c, n)) = fence_of(lines[k]) {
            let info = lines[k].trim_start()[n..].trim().to_string();
            let start = k + 1;
            let mut end = start;
            while end < lines.len() && !closes(lines[end], c, n) {
                end += 1;
            }
            out.push((k, start..end, info));
            k = end + 1;
        } else {
            k += 1;
        }
    }
    out
}

/// One included piece of a listing.
struct Included {
    /// The file, relative to the repository (`/`-separated).
    rel: String,
    /// The file's absolute path.
    path: PathBuf,
    /// The anchor, if the include names one.
    anchor: Option<String>,
    /// The 1-based line of the file where the listing starts.
    line: usize,
}

/// Captions every listing that includes code; collects the files to write pages for.
pub(super) struct Captions {
    /// The repository: captions name files relative to it.
    pub(super) root: PathBuf,
    /// Every file a caption links to (absolute paths).
    pub(super) sources: Arc<Mutex<BTreeSet<(String, PathBuf)>>>,
}

impl Preprocessor for Captions {
    fn name(&self) -> &str {
        CAPTIONS
    }

    fn run(
        &self,
        ctx: &PreprocessorContext,
        mut book: Book,
    ) -> mdbook_preprocessor::errors::Result<Book> {
        let src = ctx.root.join(&ctx.config.book.src);
        let mut failures = Vec::new();
        let mut sources = BTreeSet::new();
        book.for_each_mut(|item| {
            let BookItem::Chapter(ch) = item else {
                return;
            };
            let Some(ch_path) = ch.path.clone() else {
                return;
            };
            match caption_listings(&ch.content, &src, &ch_path, &self.root) {
                Ok((text, files)) => {
                    ch.content = text;
                    sources.extend(files);
                }
                Err(e) => failures.push(format!("{}: {e:#}", ch_path.display())),
            }
        });
        self.sources
            .lock()
            .expect("source list poisoned")
            .extend(sources);
        if failures.is_empty() {
            Ok(book)
        } else {
            bail!(
                "{} page(s) have listings that cannot be captioned:\n  {}",
                failures.len(),
                failures.join("\n  ")
            )
        }
    }
}

/// The number of the chapter a page is (`ch04-lstm.md` → `4`), if it is one.
pub(super) fn chapter_number(ch_path: &Path) -> Option<u32> {
    let name = ch_path.file_name()?.to_str()?;
    let digits: String = name
        .strip_prefix("ch")?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// `markdown` (the page at `src/ch_path`) with a caption above each listing that includes
/// code, and the files those captions link to.
fn caption_listings(
    markdown: &str,
    src: &Path,
    ch_path: &Path,
    root: &Path,
) -> Result<(String, Vec<(String, PathBuf)>)> {
    let base = normalize(&src.join(ch_path))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| src.to_path_buf());
    let up = "../".repeat(ch_path.components().count().saturating_sub(1));
    let lines: Vec<&str> = markdown.split_inclusive('\n').collect();
    let bare: Vec<&str> = lines.iter().map(|l| l.trim_end_matches('\n')).collect();
    let mut captions = Vec::new();
    for (open, body, _) in code_blocks(&bare) {
        let mut pieces = Vec::new();
        for l in &bare[body] {
            for cap in include_regex().captures_iter(l) {
                if !cap[1].is_empty() || &cap[2] == "playground" {
                    continue;
                }
                pieces.push(included(&cap[3], &base, root)?);
            }
        }
        if !pieces.is_empty() {
            captions.push((open, pieces));
        }
    }
    let number = chapter_number(ch_path);
    let mut out = String::with_capacity(markdown.len() + 200 * captions.len());
    let mut files = Vec::new();
    let mut next = 0;
    for (k, (open, pieces)) in captions.into_iter().enumerate() {
        lines[next..open].iter().for_each(|l| out.push_str(l));
        let label = match number {
            Some(n) => format!("Listing {n}.{}", k + 1),
            None => format!("Listing {}", k + 1),
        };
        let indent = &bare[open][..bare[open].len() - bare[open].trim_start().len()];
        let parts: Vec<String> = pieces
            .iter()
            .map(|p| {
                let mut rel = String::new();
                escape_html_body_text(&mut rel, &p.rel).expect("writing to a String");
                let anchor = p
                    .anchor
                    .as_ref()
                    .map(|a| format!(", anchor <code>{a}</code>"))
                    .unwrap_or_default();
                format!(
                    "<a href=\"{up}{SOURCE_DIR}/{rel}.html#L{}\"><code>{rel}</code></a>{anchor}",
                    p.line
                )
            })
            .collect();
        out.push_str(&format!(
            "{indent}<p class=\"{CAPTION_CLASS}\">{label}: {}</p>\n\n",
            parts.join("; ")
        ));
        files.extend(pieces.into_iter().map(|p| (p.rel, p.path)));
        next = open;
    }
    lines[next..].iter().for_each(|l| out.push_str(l));
    Ok((out, files))
}

/// The piece `target` (`path`, `path:anchor` or `path:a:b`) of an include in a page in `base`.
fn included(target: &str, base: &Path, root: &Path) -> Result<Included> {
    let (file, selector) = match target.split_once(':') {
        Some((f, s)) => (f, Some(s)),
        None => (target, None),
    };
    let path = normalize(&base.join(file));
    let rel = path
        .strip_prefix(root)
        .unwrap_or(&path)
        .to_string_lossy()
        .replace('\\', "/");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let (anchor, line) = match selector {
        None => (None, 1),
        Some(s) if is_line_range(s) => {
            (None, s.split(':').next().unwrap_or("").parse().unwrap_or(1))
        }
        Some(a) => {
            let at = text
                .lines()
                .position(|l| {
                    anchor_regex()
                        .captures(l)
                        .is_some_and(|c| c.get(1).is_none() && &c[2] == a)
                })
                .with_context(|| format!("anchor `{a}` not found in {}", path.display()))?;
            (Some(a.to_string()), at + 2)
        }
    };
    Ok(Included {
        rel,
        path,
        anchor,
        line,
    })
}

/// Refuses every listing line wider than [`LISTING_COLUMNS`].
pub(super) struct Widths;

impl Preprocessor for Widths {
    fn name(&self) -> &str {
        WIDTHS
    }

    fn run(
        &self,
        _ctx: &PreprocessorContext,
        mut book: Book,
    ) -> mdbook_preprocessor::errors::Result<Book> {
        let mut problems = Vec::new();
        book.for_each_mut(|item| {
            let BookItem::Chapter(ch) = item else {
                return;
            };
            let what = ch
                .path
                .as_ref()
                .map_or_else(|| ch.name.clone(), |p| p.display().to_string());
            ch.content = fold_long_docs(&ch.content);
            problems.extend(too_wide(&ch.content, &what));
        });
        if problems.is_empty() {
            Ok(book)
        } else {
            bail!(
                "{} listing line(s) are wider than the page's {LISTING_COLUMNS} columns \
                 (wrap or shorten them in the code):\n  {}",
                problems.len(),
                problems.join("\n  ")
            )
        }
    }
}

/// `markdown` with every run of more than [`DOC_LINES`] doc-comment lines (`///` or `//!`)
/// in a Rust listing cut to its first paragraph (at most [`DOC_KEPT`] lines) and one line
/// saying how many more the source holds: the caption links to it, and the page's prose
/// explains the code. A long doc comment would push the code itself off the screen.
pub fn fold_long_docs(markdown: &str) -> String {
    let lines: Vec<&str> = markdown.split_inclusive('\n').collect();
    let bare: Vec<&str> = lines.iter().map(|l| l.trim_end_matches('\n')).collect();
    let is_doc = |l: &str| {
        let t = l.trim_start();
        t.starts_with("///") || t.starts_with("//!")
    };
    let mut out = String::with_capacity(markdown.len());
    let mut next = 0;
    for (_, body, info) in code_blocks(&bare) {
        if !matches!(info.split([',', ' ']).next().unwrap_or(""), "" | "rust") {
            continue;
        }
        let mut k = body.start;
        while k < body.end {
            if !is_doc(bare[k]) {
                k += 1;
                continue;
            }
            let run = k..(k..body.end)
                .find(|&j| !is_doc(bare[j]))
                .unwrap_or(body.end);
            if run.len() > DOC_LINES {
                let keep = bare[run.clone()]
                    .iter()
                    .take(DOC_KEPT)
                    .take_while(|l| !matches!(l.trim(), "///" | "//!"))
                    .count()
                    .max(1);
                let first = bare[run.start];
                let prefix = &first[..first.len() - first.trim_start().len() + 3];
                lines[next..run.start + keep]
                    .iter()
                    .for_each(|l| out.push_str(l));
                out.push_str(&format!(
                    "{prefix} … ({} more lines of documentation in the source)\n",
                    run.len() - keep
                ));
                next = run.end;
            }
            k = run.end;
        }
    }
    lines[next..].iter().for_each(|l| out.push_str(l));
    out
}

/// A listing shows a doc comment of at most this many lines whole.
pub const DOC_LINES: usize = 8;
/// Of a longer one it shows at most this many lines, its first paragraph.
pub const DOC_KEPT: usize = 4;

/// Every line of a fenced code block of `markdown` wider than [`LISTING_COLUMNS`], described.
pub fn too_wide(markdown: &str, what: &str) -> Vec<String> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut out = Vec::new();
    for (block, (open, body, info)) in code_blocks(&lines).into_iter().enumerate() {
        let rust = matches!(info.split([',', ' ']).next().unwrap_or(""), "" | "rust");
        let indent = lines[open].len() - lines[open].trim_start().len();
        for (k, l) in lines[body].iter().enumerate() {
            let t = l.trim_start();
            if rust && (t == "#" || t.starts_with("# ")) {
                continue; // mdBook hides it
            }
            if t.starts_with("todo!(\"") {
                // A student edition's stand-in for a region, written by the edition from the
                // hint (whose comment lines above it fit): it may run long.
                continue;
            }
            let l = l.get(indent.min(l.len() - t.len())..).unwrap_or(l);
            let width = l.chars().count();
            if width > LISTING_COLUMNS {
                let start: String = t.chars().take(50).collect();
                out.push(format!(
                    "{what}: code block {} of the page, its line {}, is {width} wide: `{start}…`",
                    block + 1,
                    k + 1
                ));
            }
        }
    }
    out
}

/// Writes a page `source/<rel>.html` into the built book `out` for each of `files`: the file's
/// text with numbered lines, each with the id `L<n>` that captions link to.
pub(super) fn write_source_pages(out: &Path, files: &BTreeSet<(String, PathBuf)>) -> Result<()> {
    for (rel, path) in files {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let page = out.join(SOURCE_DIR).join(format!("{rel}.html"));
        let depth = Path::new(rel).components().count();
        let home = format!("{}index.html", "../".repeat(depth));
        let mut title = String::new();
        escape_html_body_text(&mut title, rel).expect("writing to a String");
        let width = text.lines().count().to_string().len();
        let mut body = String::with_capacity(text.len() * 2);
        for (n, line) in text.lines().enumerate() {
            body.push_str(&format!(
                "<span class=\"line\" id=\"L{0}\"><a class=\"n\" href=\"#L{0}\">{0:>width$}</a>  ",
                n + 1
            ));
            escape_html_body_text(&mut body, line).expect("writing to a String");
            body.push_str("</span>\n");
        }
        let html = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{title}</title>\n<style>\n\
             body {{ font-family: sans-serif; margin: 1em; }}\n\
             pre {{ font-size: 14px; line-height: 1.45; overflow-x: auto; }}\n\
             .line {{ display: block; }}\n\
             .line:target {{ background: #fff3b0; }}\n\
             a.n {{ color: #999; text-decoration: none; user-select: none; }}\n\
             </style>\n</head>\n<body>\n<p><a href=\"{home}\">Recurrent Networks from Scratch, \
             in Rust</a></p>\n<h1><code>{title}</code></h1>\n<pre><code>{body}</code></pre>\n\
             </body>\n</html>\n"
        );
        if let Some(dir) = page.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&page, html).with_context(|| format!("writing {}", page.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_doc_comment_is_cut_to_its_first_paragraph() {
        let long: String = (1..=10).map(|k| format!("    /// line {k}\n")).collect();
        let md = format!(
            "```rust\n    /// short\n    fn a() {{}}\n{long}    fn b() {{}}\n```\n\n\
             ```text\n{long}```\n"
        );
        let out = fold_long_docs(&md);
        assert!(out.contains("    /// short\n    fn a() {}\n"));
        assert!(out.contains(
            "    /// line 4\n    /// … (6 more lines of documentation in the source)\n    fn b"
        ));
        assert!(!out[..out.find("```text").unwrap()].contains("line 5"));
        // Other languages are left alone; so is a comment of DOC_LINES lines.
        assert!(out.ends_with(&format!("```text\n{long}```\n")));
        let eight: String = (1..=DOC_LINES).map(|k| format!("//! {k}\n")).collect();
        let md = format!("```rust\n{eight}```\n");
        assert_eq!(fold_long_docs(&md), md);
        // The first paragraph ends at an empty doc line.
        let para =
            "```rust\n/// one\n/// two\n///\n/// 4\n/// 5\n/// 6\n/// 7\n/// 8\n/// 9\n```\n";
        assert_eq!(
            fold_long_docs(para),
            "```rust\n/// one\n/// two\n/// … (7 more lines of documentation in the source)\n```\n"
        );
    }

    #[test]
    fn a_wide_line_is_named_and_hidden_lines_and_prose_are_not_counted() {
        let wide = "x".repeat(LISTING_COLUMNS + 1);
        let ok = "y".repeat(LISTING_COLUMNS);
        let md =
            format!("{wide}\n\n```rust\n{ok}\n# {wide}\n{wide}\n```\n\n```text\n# {wide}\n```\n");
        let found = too_wide(&md, "p.md");
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("p.md: code block 1 of the page, its line 3, is 86 wide"));
        assert!(found[1].contains("code block 2 of the page, its line 1,"));
        // A listing indented in a list is measured from its fence's indentation.
        let md = format!("- item\n\n  ```rust\n  {ok}\n  ```\n");
        assert!(too_wide(&md, "p.md").is_empty());
    }

    #[test]
    fn chapters_are_numbered_from_their_file_names() {
        assert_eq!(chapter_number(Path::new("ch04-lstm.md")), Some(4));
        assert_eq!(chapter_number(Path::new("ch10-x.md")), Some(10));
        assert_eq!(chapter_number(Path::new("teaching.md")), None);
    }

    #[test]
    fn a_caption_names_file_anchor_and_line_and_escaped_includes_get_none() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("book/src")).unwrap();
        std::fs::create_dir_all(root.join("code")).unwrap();
        std::fs::write(
            root.join("code/a.rs"),
            "fn x() {}\n// ANCHOR: two\nfn two() {}\n// ANCHOR_END: two\n",
        )
        .unwrap();
        let md = "Text.\n\n```rust\n{{#include ../../code/a.rs:two}}\n```\n\n\
                  ```rust\n\\{{#include ../../code/a.rs:two}}\n```\n\n\
                  ```rust\n{{#include ../../code/a.rs}}\n```\n";
        let src = root.join("book/src");
        let (out, files) = caption_listings(md, &src, Path::new("ch03-x.md"), root).unwrap();
        assert!(out.contains(
            "<p class=\"listing-caption\">Listing 3.1: <a href=\"source/code/a.rs.html#L3\">\
             <code>code/a.rs</code></a>, anchor <code>two</code></p>\n\n```rust\n{{#include"
        ));
        assert!(out.contains("Listing 3.2: <a href=\"source/code/a.rs.html#L1\">"));
        assert_eq!(out.matches(CAPTION_CLASS).count(), 2);
        assert_eq!(files.len(), 2);
        let err = caption_listings(
            "```rust\n{{#include ../../code/a.rs:three}}\n```\n",
            &src,
            Path::new("ch03-x.md"),
            root,
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("anchor `three` not found"));
    }
}

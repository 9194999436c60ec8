//! Solutions out of sight: a reader working through the book does not see an exercise's answer a
//! few screens above the exercise.
//!
//! Book listings are included from the chapter crates, whose solution regions
//! (`// BEGIN SOLUTION ex N.M: hint` … `// END SOLUTION`, see [`crate::classroom::regions`]) hold
//! the instructor's code. This preprocessor runs after mdBook's `links` (which expands the
//! `{{#include}}`s). In the public book ([`Mode::Fold`]) it splits every Rust listing that holds a
//! region into three: the code up to and including the `BEGIN` line, an HTML
//! `<details class="solution">` whose `<summary>` says "Show the solution to exercise N.M" and
//! which holds the region's body as its own Rust block, and the rest of the listing from the
//! `END` line on. A `solution-only` region (code that would give an exercise away) is folded the
//! same way under "Show the code".
//!
//! A student edition's book is built from stripped sources, so its included listings hold only
//! `todo!`s. A listing written in a page itself is not stripped by `rnnbook student-edition`, so
//! there ([`Mode::Strip`], chosen when the book's repository is a student edition) a body that is
//! still there is replaced by the same `todo!("ex N.M: hint")` line as the edition's code has.
//!
//! - Only fenced code blocks at the top level of a page whose language is `rust` (or that name no
//!   language) are transformed; every other line of the page is left byte for byte. A listing
//!   nested in a list or a block quote is left as it is.
//! - A region that a listing cuts (an anchor that opens or closes inside a region) is folded to
//!   the listing's edge: a `BEGIN` with no `END` after it folds the rest of the listing, an `END`
//!   with no `BEGIN` before it folds everything above it. No line of a region is ever left out in
//!   the open, and every piece is a closed code block.
//! - Each piece keeps the listing's fence and info string, and each line is kept as it is, so
//!   mdBook's hidden lines (`# ` in Rust blocks) stay hidden in whichever piece they land in. A
//!   marker is recognised on a hidden line too.
//! - A body that is a single `todo!(…)` (the student edition) or has no code at all is left as
//!   it is: there is nothing to give away.
//! - A malformed marker (one that `rnnbook student-edition` would refuse) fails the build, naming
//!   the page.

use std::sync::{Arc, Mutex};

use anyhow::{Result, bail};
use mdbook_preprocessor::book::{Book, BookItem};
use mdbook_preprocessor::{Preprocessor, PreprocessorContext};

use crate::classroom::{BEGIN, END, Region, SOLUTION_ONLY, hint_continuation, parse_regions};

/// The preprocessor's name (and the book.toml table it must not have: see [`super`]).
pub(super) const NAME: &str = "solutions";

/// The class of every fold, for tests and stylesheets.
pub const DETAILS_CLASS: &str = "solution";

/// What happens to a solution region's body in a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The public book: folded behind a toggle.
    Fold,
    /// A student edition's book: replaced by the edition's `todo!` line.
    Strip,
}

/// Folds (or strips) the solution regions of every chapter's listings; counts them.
pub(super) struct HideSolutions {
    pub(super) mode: Mode,
    pub(super) hidden: Arc<Mutex<usize>>,
}

impl HideSolutions {
    pub(super) fn new(mode: Mode) -> Self {
        HideSolutions {
            mode,
            hidden: Arc::default(),
        }
    }
}

impl Preprocessor for HideSolutions {
    fn name(&self) -> &str {
        NAME
    }

    fn run(
        &self,
        _ctx: &PreprocessorContext,
        mut book: Book,
    ) -> mdbook_preprocessor::errors::Result<Book> {
        let mut failures = Vec::new();
        let mut hidden = 0;
        book.for_each_mut(|item| {
            let BookItem::Chapter(ch) = item else {
                return;
            };
            let what = ch
                .path
                .as_ref()
                .map_or_else(|| ch.name.clone(), |p| p.display().to_string());
            match hide_solutions(&ch.content, &what, self.mode) {
                Ok((text, n)) => {
                    ch.content = text;
                    hidden += n;
                }
                Err(e) => failures.push(format!("{e:#}")),
            }
        });
        *self.hidden.lock().expect("solution counter poisoned") += hidden;
        if failures.is_empty() {
            Ok(book)
        } else {
            bail!(
                "{} page(s) have malformed solution markers:\n  {}",
                failures.len(),
                failures.join("\n  ")
            )
        }
    }
}

/// An opening code fence: its indentation (at most 3 spaces), the fence (three or more backticks
/// or tildes) and the info string.
struct Fence<'a> {
    indent: &'a str,
    fence: &'a str,
    info: &'a str,
}

fn opening_fence(line: &str) -> Option<Fence<'_>> {
    let line = line.trim_end_matches(['\n', '\r']);
    let rest = line.trim_start_matches(' ');
    let indent = &line[..line.len() - rest.len()];
    if indent.len() > 3 {
        return None;
    }
    let c = rest.chars().next().filter(|c| matches!(c, '`' | '~'))?;
    let n = rest.len() - rest.trim_start_matches(c).len();
    if n < 3 {
        return None;
    }
    let (fence, info) = rest.split_at(n);
    if c == '`' && info.contains('`') {
        return None; // an inline code span, not a fence
    }
    Some(Fence {
        indent,
        fence,
        info: info.trim(),
    })
}

impl Fence<'_> {
    fn is_closed_by(&self, line: &str) -> bool {
        let line = line.trim_end_matches(['\n', '\r']);
        let rest = line.trim_start_matches(' ');
        let c = self.fence.as_bytes()[0] as char;
        line.len() - rest.len() <= 3
            && rest.trim_end().len() >= self.fence.len()
            && rest.trim_end().chars().all(|x| x == c)
    }

    /// `rust`, `rust,ignore`, `rust ignore` or no language at all (markers are Rust comments).
    fn is_rust(&self) -> bool {
        let lang = self
            .info
            .split([',', ' ', '\t', '{'])
            .next()
            .unwrap_or_default();
        lang.is_empty() || lang == "rust"
    }
}

/// `markdown` with the solution regions of its Rust listings folded (or stripped), and how many
/// were. `what` names the page in errors.
pub fn hide_solutions(markdown: &str, what: &str, mode: Mode) -> Result<(String, usize)> {
    let mut out = String::with_capacity(markdown.len() + 256);
    let mut hidden = 0;
    let mut lines = markdown.split_inclusive('\n').enumerate();
    while let Some((n, line)) = lines.next() {
        let Some(fence) = opening_fence(line) else {
            out.push_str(line);
            continue;
        };
        let mut body = Vec::new();
        let mut close = None;
        for (_, l) in lines.by_ref() {
            if fence.is_closed_by(l) {
                close = Some(l);
                break;
            }
            body.push(l);
        }
        if !fence.is_rust() {
            out.push_str(line);
            body.iter().for_each(|l| out.push_str(l));
            out.push_str(close.unwrap_or_default());
            continue;
        }
        let listing = Listing {
            open: line,
            close,
            fence: &fence,
        };
        let folds = folds(&body, &format!("{what}:{}", n + 1))?;
        hidden += folds.len();
        match mode {
            Mode::Fold => listing.write_folded(&body, &folds, &mut out),
            Mode::Strip => listing.write_stripped(&body, &folds, &mut out),
        }
    }
    Ok((out, hidden))
}

/// One Rust listing being written out.
struct Listing<'a> {
    /// The opening fence line, as written.
    open: &'a str,
    /// The closing fence line, as written (none when the listing runs to the end of the page).
    close: Option<&'a str>,
    fence: &'a Fence<'a>,
}

/// A run of a listing's lines to hide: `lines[start..end]`, the body of `region` (none when the
/// region opens above the listing).
struct Fold {
    start: usize,
    end: usize,
    region: Option<Region>,
    /// Whether the region's `BEGIN` line is an mdBook hidden line (`# …`).
    hidden: bool,
}

impl Fold {
    /// What the toggle says.
    fn summary(&self) -> String {
        match &self.region {
            None => "Show the rest of the solution (its region opens above this listing)".into(),
            Some(r) if r.id == SOLUTION_ONLY => {
                "Show the code (it would give an exercise away)".into()
            }
            Some(r) => format!("Show the solution to exercise {}", r.id),
        }
    }

    /// The student edition's line in place of the body (as `rnnbook student-edition` writes it).
    fn todo(&self, lines: &[&str]) -> String {
        let (indent, label) = match &self.region {
            Some(r) if r.id == SOLUTION_ONLY => (r.indent.clone(), format!("{}: {}", r.id, r.hint)),
            Some(r) => (r.indent.clone(), format!("ex {}: {}", r.id, r.hint)),
            None => {
                let end = unhidden_with_indent(lines.get(self.end).copied().unwrap_or_default());
                let indent = &end[..end.len() - end.trim_start().len()];
                (indent.to_string(), "the rest of this solution".into())
            }
        };
        let hide = if self.hidden { "# " } else { "" };
        format!("{hide}{indent}todo!(\"{label}\")\n")
    }
}

impl Listing<'_> {
    fn write_plain(&self, lines: &[&str], out: &mut String) {
        out.push_str(self.open);
        lines.iter().for_each(|l| out.push_str(l));
        out.push_str(self.close.unwrap_or_default());
    }

    /// The listing in pieces, each fold's body in a `<details>` between them.
    fn write_folded(&self, lines: &[&str], folds: &[Fold], out: &mut String) {
        if folds.is_empty() {
            return self.write_plain(lines, out);
        }
        let indent = self.fence.indent;
        let close_line = format!("{indent}{}\n", self.fence.fence);
        let piece = |out: &mut String, part: &[&str]| {
            out.push_str(self.open);
            for l in part {
                out.push_str(l);
                if !l.ends_with('\n') {
                    out.push('\n');
                }
            }
            out.push_str(&close_line);
        };
        let mut next = 0;
        for f in folds {
            if f.start > next {
                piece(out, &lines[next..f.start]);
                out.push('\n');
            }
            out.push_str(&format!(
                "{indent}<details class=\"{DETAILS_CLASS}\">\n{indent}<summary>{}</summary>\n\n",
                f.summary()
            ));
            piece(out, &lines[f.start..f.end]);
            out.push_str(&format!("\n{indent}</details>\n\n"));
            next = f.end;
        }
        if next < lines.len() {
            piece(out, &lines[next..]);
        }
    }

    /// The listing in one piece, each fold's body replaced by its `todo!` line.
    fn write_stripped(&self, lines: &[&str], folds: &[Fold], out: &mut String) {
        if folds.is_empty() {
            return self.write_plain(lines, out);
        }
        out.push_str(self.open);
        let mut next = 0;
        for f in folds {
            lines[next..f.start].iter().for_each(|l| out.push_str(l));
            out.push_str(&f.todo(lines));
            next = f.end;
        }
        lines[next..].iter().for_each(|l| out.push_str(l));
        if !out.ends_with('\n') {
            out.push('\n');
        }
        match self.close {
            Some(close) => out.push_str(close),
            None => out.push_str(&format!("{}{}\n", self.fence.indent, self.fence.fence)),
        }
    }
}

/// A line as mdBook shows it in a Rust block: without the `# ` that hides it.
fn unhidden(line: &str) -> &str {
    unhidden_with_indent(line).trim_start()
}

/// Like [`unhidden`], keeping the indentation (and dropping the line break).
fn unhidden_with_indent(line: &str) -> &str {
    let l = line.trim_end();
    let t = l.trim_start();
    if t == "#" {
        ""
    } else if let Some(rest) = t.strip_prefix("# ") {
        rest
    } else {
        l
    }
}

/// The region opened by `begin` (a marker line), read by the classroom's own parser, so that
/// the book and the student edition agree on every marker.
fn region_of(begin: &str, what: &str) -> Result<Region> {
    let probe = format!("{begin}\n{END}\n");
    Ok(parse_regions(&probe, what)?.remove(0))
}

/// Whether `body` holds nothing to hide: no code, or only the student edition's `todo!`.
fn nothing_to_hide(body: &[&str]) -> bool {
    let mut code = body
        .iter()
        .map(|l| unhidden(l))
        .filter(|l| !l.is_empty() && !l.starts_with("//"));
    match (code.next(), code.next()) {
        (None, _) => true,
        (Some(only), None) => only.starts_with("todo!("),
        _ => false,
    }
}

/// The runs of `lines` to hide: every region's body, cut at the listing's edges.
fn folds(lines: &[&str], what: &str) -> Result<Vec<Fold>> {
    let mut out = Vec::new();
    // The region open at this point: its first body line, the region, whether its BEGIN is hidden.
    let mut open: Option<(usize, Region, bool)> = None;
    let mut seen_marker = false;
    let mut push = |start: usize, end: usize, region: Option<Region>, hidden: bool| {
        if !nothing_to_hide(&lines[start..end]) {
            out.push(Fold {
                start,
                end,
                region,
                hidden,
            });
        }
    };
    for (k, line) in lines.iter().enumerate() {
        let text = unhidden(line);
        let at = format!("{what} (line {} of the listing)", k + 1);
        if text.starts_with(BEGIN) {
            if let Some((start, _, _)) = &open {
                bail!(
                    "{at}: a solution region opens inside another (opened on line {})",
                    start
                );
            }
            let hidden = unhidden_with_indent(line) != line.trim_end();
            let with_indent = unhidden_with_indent(line);
            open = Some((k + 1, region_of(with_indent, &at)?, hidden));
        } else if let Some((start, region, _)) = open.as_mut().filter(|(start, ..)| *start == k)
            && let Some(more) = hint_continuation(text)
        {
            // The hint goes on: the line stays above the fold, with the marker.
            region.hint = format!("{} {more}", region.hint);
            *start = k + 1;
        } else if text.starts_with(END) {
            match open.take() {
                Some((start, region, hidden)) => push(start, k, Some(region), hidden),
                // The listing starts inside a region: hide everything above the END.
                None if !seen_marker => {
                    let hidden = unhidden_with_indent(line) != line.trim_end();
                    push(0, k, None, hidden)
                }
                None => bail!("{at}: `{END}` without a region open"),
            }
        }
        seen_marker |= text.starts_with(BEGIN) || text.starts_with(END);
    }
    // The listing ends inside a region: hide the rest of it.
    if let Some((start, region, hidden)) = open {
        push(start, lines.len(), Some(region), hidden);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines joined with newlines (markers stay inside string literals, so that this file holds
    /// no solution region of its own).
    fn md(lines: &[&str]) -> String {
        let mut s = lines.join("\n");
        s.push('\n');
        s
    }

    fn fold(text: &str) -> (String, usize) {
        hide_solutions(text, "page.md", Mode::Fold).unwrap()
    }

    fn strip(text: &str) -> (String, usize) {
        hide_solutions(text, "page.md", Mode::Strip).unwrap()
    }

    const ONE: &[&str] = &[
        "Some text.",
        "",
        "```rust",
        "pub fn a(x: f64) -> f64 {",
        "    // BEGIN SOLUTION ex 1.2: add one",
        "    let y = x + 1.0;",
        "    y",
        "    // END SOLUTION",
        "}",
        "```",
        "After.",
    ];

    #[test]
    fn one_region_is_folded_between_its_markers() {
        let (out, n) = fold(&md(ONE));
        assert_eq!(n, 1);
        assert_eq!(
            out,
            md(&[
                "Some text.",
                "",
                "```rust",
                "pub fn a(x: f64) -> f64 {",
                "    // BEGIN SOLUTION ex 1.2: add one",
                "```",
                "",
                "<details class=\"solution\">",
                "<summary>Show the solution to exercise 1.2</summary>",
                "",
                "```rust",
                "    let y = x + 1.0;",
                "    y",
                "```",
                "",
                "</details>",
                "",
                "```rust",
                "    // END SOLUTION",
                "}",
                "```",
                "After.",
            ])
        );
    }

    #[test]
    fn two_regions_in_one_listing_fold_separately() {
        let text = md(&[
            "```rust,ignore",
            "fn a() {",
            "    // BEGIN SOLUTION ex 2.1: first",
            "    first();",
            "    // END SOLUTION",
            "    between();",
            "    // BEGIN SOLUTION solution-only: would give 2.1 away",
            "    second();",
            "    // END SOLUTION",
            "}",
            "```",
        ]);
        let (out, n) = fold(&text);
        assert_eq!(n, 2);
        assert_eq!(
            out,
            md(&[
                "```rust,ignore",
                "fn a() {",
                "    // BEGIN SOLUTION ex 2.1: first",
                "```",
                "",
                "<details class=\"solution\">",
                "<summary>Show the solution to exercise 2.1</summary>",
                "",
                "```rust,ignore",
                "    first();",
                "```",
                "",
                "</details>",
                "",
                "```rust,ignore",
                "    // END SOLUTION",
                "    between();",
                "    // BEGIN SOLUTION solution-only: would give 2.1 away",
                "```",
                "",
                "<details class=\"solution\">",
                "<summary>Show the code (it would give an exercise away)</summary>",
                "",
                "```rust,ignore",
                "    second();",
                "```",
                "",
                "</details>",
                "",
                "```rust,ignore",
                "    // END SOLUTION",
                "}",
                "```",
            ])
        );
    }

    #[test]
    fn a_region_cut_by_the_end_of_the_listing_folds_to_its_end() {
        let text = md(&[
            "```rust",
            "fn a() {",
            "    // BEGIN SOLUTION ex 3.1: cut",
            "    secret();",
            "```",
            "Text right after.",
        ]);
        let (out, n) = fold(&text);
        assert_eq!(n, 1);
        assert!(
            out.ends_with("```rust\n    secret();\n```\n\n</details>\n\nText right after.\n"),
            "{out}"
        );
        assert!(out.starts_with("```rust\nfn a() {\n    // BEGIN SOLUTION ex 3.1: cut\n```\n"));
    }

    #[test]
    fn a_region_cut_by_the_start_of_the_listing_folds_from_its_start() {
        let text = md(&[
            "```rust",
            "    secret();",
            "    // END SOLUTION",
            "}",
            "```",
        ]);
        let (out, n) = fold(&text);
        assert_eq!(n, 1);
        assert!(out.starts_with("<details class=\"solution\">\n<summary>Show the rest"));
        assert!(out.contains("```rust\n    secret();\n```\n\n</details>\n\n```rust\n    // END"));
    }

    #[test]
    fn a_listing_that_runs_to_the_end_of_the_page_is_closed() {
        let text = "```rust\n// BEGIN SOLUTION ex 1.1: h\nsecret();";
        let (out, n) = fold(text);
        assert_eq!(n, 1);
        assert_eq!(
            out.matches("```").count() % 2,
            0,
            "an unclosed fence: {out}"
        );
        assert!(out.contains("```rust\nsecret();\n```\n\n</details>\n\n"));
    }

    #[test]
    fn code_blocks_without_regions_and_other_languages_are_untouched() {
        let text = md(&[
            "# Page",
            "",
            "```rust",
            "fn plain() {}",
            "```",
            "",
            "```text",
            "// BEGIN SOLUTION ex 1.1: in a text block",
            "shown();",
            "// END SOLUTION",
            "```",
            "",
            "~~~console",
            "$ cargo test",
            "~~~",
            "",
            "Inline `// BEGIN SOLUTION ex 1.1: x` is prose.",
            "",
            "    // BEGIN SOLUTION ex 1.1: an indented code block",
            "    shown();",
            "    // END SOLUTION",
        ]);
        assert_eq!(fold(&text), (text.clone(), 0));
        // No trailing newline, CRLF: still byte for byte.
        let crlf = "a\r\n```rust\r\nfn x() {}\r\n```";
        assert_eq!(fold(crlf), (crlf.to_string(), 0));
    }

    #[test]
    fn a_longer_fence_holds_a_shorter_one_and_keeps_its_own() {
        let text = md(&[
            "````rust",
            "/// ```",
            "/// doc();",
            "/// ```",
            "fn a() {",
            "    // BEGIN SOLUTION ex 1.1: h",
            "    secret();",
            "    // END SOLUTION",
            "}",
            "````",
        ]);
        let (out, n) = fold(&text);
        assert_eq!(n, 1);
        assert!(out.contains("````rust\n    secret();\n````\n"), "{out}");
        assert!(out.starts_with("````rust\n/// ```\n/// doc();\n/// ```\nfn a() {\n"));
    }

    #[test]
    fn hidden_lines_stay_hidden_and_their_markers_count() {
        let text = md(&[
            "```rust",
            "# fn hidden_setup() {}",
            "# // BEGIN SOLUTION ex 1.1: hidden marker",
            "# let hidden_secret = 1;",
            "let shown_secret = 2;",
            "// END SOLUTION",
            "```",
        ]);
        let (out, n) = fold(&text);
        assert_eq!(n, 1);
        assert!(
            out.contains("```rust\n# let hidden_secret = 1;\nlet shown_secret = 2;\n```"),
            "{out}"
        );
        assert!(out.starts_with("```rust\n# fn hidden_setup() {}\n# // BEGIN SOLUTION"));
    }

    #[test]
    fn the_student_editions_todo_and_empty_bodies_are_not_folded() {
        let text = md(&[
            "```rust",
            "fn a() -> f64 {",
            "    // BEGIN SOLUTION ex 1.2: add one",
            "    todo!(\"ex 1.2: add one\")",
            "    // END SOLUTION",
            "}",
            "fn b() {",
            "    // BEGIN SOLUTION ex 1.3: nothing",
            "",
            "    // END SOLUTION",
            "}",
            "```",
        ]);
        assert_eq!(fold(&text), (text.clone(), 0));
    }

    #[test]
    fn a_listing_in_an_indented_list_item_keeps_its_indentation() {
        let text = md(&[
            "1. An item:",
            "",
            "   ```rust",
            "   // BEGIN SOLUTION ex 1.1: h",
            "   secret();",
            "   // END SOLUTION",
            "   ```",
        ]);
        let (out, n) = fold(&text);
        assert_eq!(n, 1);
        assert!(
            out.contains(
                "   ```\n\n   <details class=\"solution\">\n   <summary>Show the solution to exercise 1.1</summary>\n\n   ```rust\n   secret();\n   ```\n\n   </details>\n\n   ```rust\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn malformed_markers_fail_naming_the_page() {
        for (lines, needle) in [
            (
                &[
                    "```rust",
                    "// BEGIN SOLUTION ex one: h",
                    "x();",
                    "// END SOLUTION",
                    "```",
                ][..],
                "N.M",
            ),
            (
                &[
                    "```rust",
                    "// BEGIN SOLUTION ex 1.1: a",
                    "// BEGIN SOLUTION ex 1.2: b",
                    "```",
                ][..],
                "inside another",
            ),
            (
                &[
                    "```rust",
                    "// BEGIN SOLUTION ex 1.1: a",
                    "// END SOLUTION",
                    "// END SOLUTION",
                    "```",
                ][..],
                "without a region open",
            ),
        ] {
            for mode in [Mode::Fold, Mode::Strip] {
                let err = format!(
                    "{:#}",
                    hide_solutions(&md(lines), "page.md", mode).unwrap_err()
                );
                assert!(err.contains("page.md:1") && err.contains(needle), "{err}");
            }
        }
    }

    #[test]
    fn in_a_student_edition_a_body_becomes_the_editions_todo() {
        let (out, n) = strip(&md(ONE));
        assert_eq!(n, 1);
        assert_eq!(
            out,
            md(&[
                "Some text.",
                "",
                "```rust",
                "pub fn a(x: f64) -> f64 {",
                "    // BEGIN SOLUTION ex 1.2: add one",
                "    todo!(\"ex 1.2: add one\")",
                "    // END SOLUTION",
                "}",
                "```",
                "After.",
            ])
        );
        // Exactly what `rnnbook student-edition` makes of the same code.
        let code = md(&ONE[3..9]);
        let edition = crate::classroom::strip_solutions(&code, "a.rs").unwrap();
        assert!(out.contains(&edition), "{out}\n{edition}");
        // Already stripped: left as it is.
        assert_eq!(strip(&out), (out.clone(), 0));
    }

    #[test]
    fn stripping_handles_cut_hidden_and_solution_only_regions() {
        let text = md(&[
            "```rust",
            "        secret_above();",
            "    // END SOLUTION",
            "# // BEGIN SOLUTION solution-only: gives 1.1 away",
            "# hidden_secret();",
            "# // END SOLUTION",
            "    // BEGIN SOLUTION ex 1.3: cut",
            "    secret_below();",
        ]);
        let (out, n) = strip(&text);
        assert_eq!(n, 3);
        assert!(!out.contains("secret"), "{out}");
        assert_eq!(
            out,
            md(&[
                "```rust",
                "    todo!(\"the rest of this solution\")",
                "    // END SOLUTION",
                "# // BEGIN SOLUTION solution-only: gives 1.1 away",
                "# todo!(\"solution-only: gives 1.1 away\")",
                "# // END SOLUTION",
                "    // BEGIN SOLUTION ex 1.3: cut",
                "    todo!(\"ex 1.3: cut\")",
                "```",
            ])
        );
    }
}

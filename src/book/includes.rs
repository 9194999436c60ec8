//! Every `{{#include}}` resolved before the build: its file must exist and its anchor must be
//! opened and closed in that file (mdBook alone prints an empty listing for a wrong anchor).

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Result, bail};
use mdbook_driver::MDBook;
use mdbook_driver::book::BookItem;
use regex::Regex;

use super::links::normalize;

pub(super) fn include_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(\\?)\{\{\s*#(include|rustdoc_include|playground)\s+([^\s}]+)[^}]*\}\}")
            .expect("include regex")
    })
}

pub(super) fn anchor_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"ANCHOR(_END)?:\s*([\w_-]+)").expect("anchor regex"))
}

/// Check every `{{#include path[:anchor]}}` of every chapter; returns how many were checked.
pub(super) fn check_includes(md: &MDBook) -> Result<usize> {
    let src = md.source_dir();
    let mut problems = Vec::new();
    let mut count = 0;
    for item in md.iter() {
        let BookItem::Chapter(ch) = item else {
            continue;
        };
        let Some(ch_path) = &ch.path else { continue };
        let base = src
            .join(ch_path)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| src.clone());
        for cap in include_regex().captures_iter(&ch.content) {
            if !cap[1].is_empty() {
                continue; // escaped: `\{{#include …}}` is shown, not included
            }
            count += 1;
            let target = &cap[3];
            let (file, selector) = match target.split_once(':') {
                Some((f, s)) => (f, Some(s)),
                None => (target, None),
            };
            let where_ = format!(
                "{}: {{{{#{} {}}}}}",
                src.join(ch_path).display(),
                &cap[2],
                target
            );
            let path = normalize(&base.join(file));
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) => {
                    problems.push(format!("{where_}: cannot read {}: {e}", path.display()));
                    continue;
                }
            };
            let Some(anchor) = selector.filter(|s| !is_line_range(s)) else {
                continue;
            };
            let (mut opened, mut closed) = (false, false);
            for found in text.lines().filter_map(|l| anchor_regex().captures(l)) {
                if &found[2] == anchor {
                    if found.get(1).is_some() {
                        closed = true;
                    } else {
                        opened = true;
                    }
                }
            }
            match (opened, closed) {
                (true, true) => {}
                (false, _) => problems.push(format!(
                    "{where_}: anchor `{anchor}` not found in {} (expected a line `// ANCHOR: {anchor}`)",
                    path.display()
                )),
                (true, false) => problems.push(format!(
                    "{where_}: anchor `{anchor}` in {} has no `ANCHOR_END: {anchor}` line",
                    path.display()
                )),
            }
        }
    }
    if problems.is_empty() {
        Ok(count)
    } else {
        bail!(
            "{} broken include(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        )
    }
}

/// mdBook reads `file:3`, `file:3:9`, `file::9` and `file:3:` as line ranges, anything else as an anchor.
pub(super) fn is_line_range(selector: &str) -> bool {
    let mut parts = selector.splitn(2, ':');
    let start = parts.next().unwrap_or("");
    let end = parts.next();
    let numeric = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    numeric(start)
        && end.is_none_or(numeric)
        && !(start.is_empty() && end.is_none_or(str::is_empty))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ranges_and_anchors_are_told_apart() {
        for range in ["3", "3:9", ":9", "3:"] {
            assert!(is_line_range(range), "{range}");
        }
        for anchor in ["sigmoid", "v2", "cell_forward", "", ":"] {
            assert!(!is_line_range(anchor), "{anchor}");
        }
    }
}

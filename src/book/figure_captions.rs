//! Numbered figures with captions.
//!
//! A page shows a figure as an image alone on its line, `![caption](figures/file.svg)`. The
//! [`Captions`] preprocessor turns each into a `<figure>` with the image and a numbered
//! caption, "Figure 4.2: caption", numbered in page order within the chapter, with an anchor
//! (`#figure-4-2`) that the caption links to. The alt text stays the caption, so a reader of
//! the Markdown and a screen reader see the same words. A line that starts with an image but
//! holds more, or an image without a caption, fails the build: every figure is numbered and
//! captioned.

use anyhow::{Result, bail};
use mdbook_preprocessor::book::{Book, BookItem};
use mdbook_preprocessor::{Preprocessor, PreprocessorContext};
use pulldown_cmark_escape::{escape_href, escape_html, escape_html_body_text};

use super::listings::{chapter_number, code_blocks};

/// The name of the preprocessor (it runs after the includes, with the others the builder adds).
pub(super) const NAME: &str = "figure-captions";
/// The class of every figure, for tests and stylesheets.
pub const FIGURE_CLASS: &str = "book-figure";

/// Numbers and captions every figure of every page.
pub(super) struct Captions;

impl Preprocessor for Captions {
    fn name(&self) -> &str {
        NAME
    }

    fn run(
        &self,
        _ctx: &PreprocessorContext,
        mut book: Book,
    ) -> mdbook_preprocessor::errors::Result<Book> {
        let mut failures = Vec::new();
        book.for_each_mut(|item| {
            let BookItem::Chapter(ch) = item else {
                return;
            };
            let Some(path) = ch.path.clone() else {
                return;
            };
            match caption_figures(&ch.content, chapter_number(&path)) {
                Ok(text) => ch.content = text,
                Err(e) => failures.push(format!("{}: {e:#}", path.display())),
            }
        });
        if failures.is_empty() {
            Ok(book)
        } else {
            bail!(
                "{} page(s) have figures that cannot be numbered:\n  {}",
                failures.len(),
                failures.join("\n  ")
            )
        }
    }
}

/// An image alone on its line: `![alt](src)`, with optional surrounding spaces.
fn lone_image(line: &str) -> Option<(&str, &str)> {
    let rest = line.trim().strip_prefix("![")?;
    let (alt, rest) = rest.split_once("](")?;
    let src = rest.strip_suffix(')')?;
    (!src.contains([' ', '(', ')']) && !alt.contains(']')).then_some((alt, src))
}

/// `markdown` with every image line replaced by a numbered figure (`chapter` numbers them
/// `N.k`; a page that is no chapter numbers them `k`).
pub(super) fn caption_figures(markdown: &str, chapter: Option<u32>) -> Result<String> {
    let lines: Vec<&str> = markdown.split_inclusive('\n').collect();
    let bare: Vec<&str> = lines.iter().map(|l| l.trim_end_matches('\n')).collect();
    let mut in_code = vec![false; lines.len()];
    for (open, body, _) in code_blocks(&bare) {
        let close = (body.end + 1).min(lines.len());
        in_code[open..close].iter_mut().for_each(|c| *c = true);
    }
    let mut out = String::with_capacity(markdown.len());
    let mut k = 0;
    for (n, line) in lines.iter().enumerate() {
        if in_code[n] || !bare[n].trim_start().starts_with("![") {
            out.push_str(line);
            continue;
        }
        let Some((alt, src)) = lone_image(bare[n]) else {
            bail!(
                "line {}: an image must stand alone on its line as `![caption](file)`, \
                 so that it is numbered and captioned: {}",
                n + 1,
                bare[n].trim()
            );
        };
        if alt.trim().is_empty() {
            bail!(
                "line {}: the figure {src} has no caption (its alt text)",
                n + 1
            );
        }
        k += 1;
        let (label, id) = match chapter {
            Some(c) => (format!("Figure {c}.{k}"), format!("figure-{c}-{k}")),
            None => (format!("Figure {k}"), format!("figure-{k}")),
        };
        let (mut href, mut alt_attr, mut caption) = (String::new(), String::new(), String::new());
        escape_href(&mut href, src).expect("writing to a String");
        escape_html(&mut alt_attr, alt.trim()).expect("writing to a String");
        escape_html_body_text(&mut caption, alt.trim()).expect("writing to a String");
        // One HTML block (no blank line inside), so Markdown leaves it as it is.
        out.push_str(&format!(
            "<figure class=\"{FIGURE_CLASS}\" id=\"{id}\">\n\
             <img src=\"{href}\" alt=\"{alt_attr}\">\n\
             <figcaption><a href=\"#{id}\">{label}</a>: {caption}</figcaption>\n\
             </figure>\n"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_numbered_in_page_order_and_keep_their_caption() {
        let page = "# Title\n\nText.\n\n![First one](figures/a.svg)\n\nMore.\n\n\
                    ![A < B & \"C\"](figures/b.svg)\n";
        let out = caption_figures(page, Some(4)).unwrap();
        assert!(out.contains("<figure class=\"book-figure\" id=\"figure-4-1\">"));
        assert!(out.contains("<img src=\"figures/a.svg\" alt=\"First one\">"));
        assert!(out.contains("<a href=\"#figure-4-1\">Figure 4.1</a>: First one</figcaption>"));
        assert!(out.contains("id=\"figure-4-2\""));
        assert!(out.contains("alt=\"A &lt; B &amp; &quot;C&quot;\""));
        assert!(out.contains("Figure 4.2</a>: A &lt; B &amp; \"C\"</figcaption>"));
        assert!(out.starts_with("# Title\n\nText.\n\n<figure"));
        assert!(!out.contains("!["));
    }

    #[test]
    fn a_page_that_is_no_chapter_numbers_from_one_and_code_is_left_alone() {
        let page = "```md\n![not a figure](x.svg)\n```\n\n![Only](figures/o.svg)\n";
        let out = caption_figures(page, None).unwrap();
        assert!(out.contains("```md\n![not a figure](x.svg)\n```"));
        assert!(out.contains(">Figure 1</a>: Only"));
        assert!(!out.contains("Figure 2"));
    }

    #[test]
    fn an_inline_or_uncaptioned_image_fails_naming_its_line() {
        let err = caption_figures("a\n![x](f.svg) and text\n", Some(1)).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = caption_figures("![ ](figures/f.svg)\n", Some(1)).unwrap_err();
        assert!(err.to_string().contains("no caption"), "{err}");
    }

    #[test]
    fn image_syntax_inside_a_line_of_text_is_not_a_figure() {
        let page = "use `s![..]` or `![alt](src)` in code spans\n";
        assert_eq!(caption_figures(page, Some(0)).unwrap(), page);
    }
}

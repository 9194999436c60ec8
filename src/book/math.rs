//! KaTeX at build time: the `[preprocessor.katex]` settings are checked strictly, and every
//! formula KaTeX rejects is a build error naming the chapter and the formula.

use std::path::Path;
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use mdbook_driver::config::Config;
use mdbook_katex::cfg::KatexConfig;
use mdbook_katex::preprocess::{Render, get_render_tasks};
use mdbook_preprocessor::book::Book;
use mdbook_preprocessor::{Preprocessor, PreprocessorContext};

pub(super) fn check_katex_config(config: &Config, book_dir: &Path) -> Result<()> {
    // mdbook-katex itself falls back to all defaults on a type error (and so to the CDN stylesheet).
    let katex: KatexConfig = config
        .get("preprocessor.katex")
        .context("book.toml: [preprocessor.katex] does not have the expected types")?
        .unwrap_or_default();
    if !katex.no_css {
        bail!(
            "book.toml: [preprocessor.katex] must set no-css = true; the KaTeX stylesheet is vendored \
             in src/katex/ and linked from theme/head.hbs, and the default links a CDN"
        );
    }
    if !katex.throw_on_error {
        bail!(
            "book.toml: [preprocessor.katex] must keep throw-on-error = true, or KaTeX errors pass silently"
        );
    }
    if let Some(path) = &katex.macros {
        // mdbook-katex panics on a missing macros file or a malformed line.
        let file = book_dir.join(path);
        let text = std::fs::read_to_string(&file).with_context(|| {
            format!(
                "book.toml: the KaTeX macros file {} cannot be read",
                file.display()
            )
        })?;
        for (n, line) in text.lines().enumerate() {
            if line.starts_with('\\') && !line.contains(':') {
                bail!(
                    "{}:{}: a macro line needs `\\name:expansion`",
                    file.display(),
                    n + 1
                );
            }
        }
    }
    Ok(())
}

/// A KaTeX preprocessor that, unlike mdbook-katex's own, fails on any formula KaTeX rejects.
///
/// It reuses mdbook-katex's scanner (which knows about code spans, code blocks and `\$`) and its
/// option builder, and calls KaTeX itself. A `~` in KaTeX's output is written `&#126;`: mdBook's
/// Markdown parser would otherwise read two of them in a paragraph (from `\tilde`) as
/// strikethrough and corrupt the page.
#[derive(Default)]
pub(super) struct StrictKatex {
    pub(super) formulas: std::sync::Arc<Mutex<usize>>,
}

impl Preprocessor for StrictKatex {
    fn name(&self) -> &str {
        "katex"
    }

    fn run(
        &self,
        ctx: &PreprocessorContext,
        mut book: Book,
    ) -> mdbook_preprocessor::errors::Result<Book> {
        let cfg: KatexConfig = ctx
            .config
            .get("preprocessor.katex")
            .context("[preprocessor.katex] does not have the expected types")?
            .unwrap_or_default();
        let extra = cfg.build_extra_opts();
        let (inline_opts, display_opts) = cfg.build_opts(&ctx.root);
        let mut failures = Vec::new();
        let mut rendered_count = 0;
        book.for_each_chapter_mut(|ch| {
            let name = ch
                .path
                .as_ref()
                .map_or_else(|| ch.name.clone(), |p| p.display().to_string());
            let mut out = String::with_capacity(ch.content.len() * 2);
            for task in get_render_tasks(&ch.content, "", &extra) {
                let (tex, opts, delim) = match task {
                    Render::Text(text) => {
                        out.push_str(text);
                        continue;
                    }
                    Render::InlineTask(tex) => (tex, &inline_opts, &extra.inline_delimiter),
                    Render::DisplayTask(tex) => (tex, &display_opts, &extra.block_delimiter),
                };
                match katex::render_with_opts(tex, opts) {
                    Ok(html) => {
                        rendered_count += 1;
                        out.push_str(&html.replace('\n', " ").replace('~', "&#126;"));
                    }
                    Err(e) => {
                        let message = match e {
                            katex::Error::JsExecError(m) => clean_katex_message(&m),
                            other => other.to_string(),
                        };
                        failures.push(format!(
                            "{name}: {}{tex}{}: {message}",
                            delim.left, delim.right
                        ));
                        out.push_str(&delim.left);
                        out.push_str(tex);
                        out.push_str(&delim.right);
                    }
                }
            }
            ch.content = out;
        });
        *self.formulas.lock().expect("formula counter poisoned") += rendered_count;
        if failures.is_empty() {
            Ok(book)
        } else {
            Err(anyhow::anyhow!(
                "KaTeX could not render {} formula(s):\n  {}",
                failures.len(),
                failures.join("\n  ")
            ))
        }
    }
}

/// KaTeX's message comes as the Debug form of a JavaScript string, with the bad spot underlined by
/// combining characters: `String("ParseError: … \\\u{332}n\u{332}…")`. Make it plain text.
fn clean_katex_message(raw: &str) -> String {
    let inner = raw
        .strip_prefix("String(\"")
        .and_then(|r| r.strip_suffix("\")"))
        .unwrap_or(raw);
    inner
        .replace("\\u{332}", "")
        .replace('\u{332}', "")
        .replace("\\\\", "\\")
        .replace("\\\"", "\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn katex_messages_are_made_plain() {
        let raw = "String(\"ParseError: Undefined control sequence: \\\\nope at position 1: \\\\\\u{332}n\\u{332}\")";
        assert_eq!(
            clean_katex_message(raw),
            "ParseError: Undefined control sequence: \\nope at position 1: \\n"
        );
    }
}

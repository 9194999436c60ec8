//! Building the book: mdBook in-process, KaTeX at build time, and the checks mdBook does not make.
//!
//! mdBook logs some failures and carries on (a missing include file), and says nothing at all about
//! others (a wrong anchor gives an empty listing; a KaTeX error keeps the raw `$…$`). A published
//! book must not ship either, so [`build_book`] wraps the build:
//!
//! 1. the config is read strictly (a type error in `[preprocessor.katex]` is an error, not a reset
//!    to defaults);
//! 2. every `{{#include}}` is resolved before building: its file must exist and its anchor must be
//!    opened and closed in that file;
//! 3. KaTeX runs in our own preprocessor, which turns every parse error into a build error naming
//!    the chapter and the formula;
//! 4. every warning or error that mdBook logs while building fails the build;
//! 5. the output is scanned: every local link, image, script and stylesheet (and each `url()` in a
//!    stylesheet) must resolve, a `#fragment` must name an `id` in its target page, and no page may
//!    load anything from another host.
//!
//! The book is built into a staging folder and moved into place only when every check passes, so a
//! failed build leaves the last good book untouched.

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use anyhow::{Context, Result, bail};
use mdbook_driver::MDBook;
use mdbook_driver::book::BookItem;
use mdbook_driver::config::Config;
use mdbook_katex::cfg::KatexConfig;
use mdbook_katex::preprocess::{Render, get_render_tasks};
use mdbook_preprocessor::book::Book;
use mdbook_preprocessor::{Preprocessor, PreprocessorContext};
use regex::Regex;

/// What a successful build produced.
#[derive(Debug)]
pub struct BuildReport {
    /// `…/build/index.html`.
    pub index_html: PathBuf,
    /// HTML pages written.
    pub pages: usize,
    /// Formulas rendered by KaTeX.
    pub formulas: usize,
    /// `{{#include}}` directives resolved.
    pub includes: usize,
    /// Local links, images, scripts and stylesheets checked in the output.
    pub links_checked: usize,
}

/// Build the book whose `book.toml` is in `book_dir` into `book_dir/<build-dir>`.
///
/// Fails, with every problem listed, on: a config error, a missing include file or anchor, a KaTeX
/// error, a warning or error logged by mdBook, a broken local link or fragment, or a remote
/// resource in the output. On failure the previous build is left as it was.
pub fn build_book(book_dir: &Path) -> Result<BuildReport> {
    build_book_into(book_dir, None)
}

/// Like [`build_book`], but writes the HTML into `out_dir` when given (instead of the
/// `build-dir` of book.toml).
pub fn build_book_into(book_dir: &Path, out_dir: Option<&Path>) -> Result<BuildReport> {
    let book_dir = std::path::absolute(book_dir)
        .with_context(|| format!("cannot resolve the book folder {}", book_dir.display()))?;
    let toml = book_dir.join("book.toml");
    if !toml.is_file() {
        bail!("no book here: {} does not exist", toml.display());
    }
    // `load_with_config` skips mdBook's MDBOOK_* environment overrides, which could silently turn
    // the CDN stylesheet back on.
    let config =
        Config::from_disk(&toml).with_context(|| format!("cannot read {}", toml.display()))?;
    let final_dir = match out_dir {
        Some(dir) => {
            std::path::absolute(dir).with_context(|| format!("cannot resolve {}", dir.display()))?
        }
        None => book_dir.join(&config.build.build_dir),
    };
    let staging = staging_dir_for(&final_dir);
    remove_dir_if_present(&staging)?;

    let formulas;
    let includes;
    {
        let _serial = build_lock();
        let logged = LogCapture::start();
        let mut md = MDBook::load_with_config(&book_dir, config)
            .with_context(|| format!("cannot load the book at {}", book_dir.display()))?;
        check_katex_config(&md.config, &book_dir)?;
        includes = check_includes(&md)?;
        md.config.build.build_dir = staging.clone();
        let katex = StrictKatex::default();
        let counter = katex.formulas.clone();
        md.with_preprocessor(katex);
        let result = md.build();
        let problems = logged.finish();
        if let Err(err) = result {
            let _ = remove_dir_if_present(&staging);
            return Err(err.context(format!(
                "building the book at {} failed",
                book_dir.display()
            )));
        }
        if !problems.is_empty() {
            let _ = remove_dir_if_present(&staging);
            bail!(
                "mdBook reported {} problem(s) while building {}:\n  {}",
                problems.len(),
                book_dir.display(),
                problems.join("\n  ")
            );
        }
        formulas = *counter.lock().expect("formula counter poisoned");
    }

    let scan = match check_output(&staging) {
        Ok(scan) => scan,
        Err(err) => {
            let _ = remove_dir_if_present(&staging);
            return Err(err);
        }
    };
    replace_dir(&staging, &final_dir)?;
    Ok(BuildReport {
        index_html: final_dir.join("index.html"),
        pages: scan.pages,
        formulas,
        includes,
        links_checked: scan.links,
    })
}

/// `…/build` is staged in `…/.build-staging`, next to it (a rename never crosses file systems).
fn staging_dir_for(final_dir: &Path) -> PathBuf {
    let name = final_dir
        .file_name()
        .map_or_else(|| "book".into(), |n| n.to_string_lossy().into_owned());
    final_dir.with_file_name(format!(".{name}-staging"))
}

/// Builds share one process-wide log capture, so they run one at a time.
fn build_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn remove_dir_if_present(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot remove {}", dir.display())),
    }
}

/// Move the finished `staging` folder to `dest`, replacing what was there.
fn replace_dir(staging: &Path, dest: &Path) -> Result<()> {
    let old = staging.with_extension("old");
    remove_dir_if_present(&old)?;
    if dest.exists() {
        std::fs::rename(dest, &old)
            .with_context(|| format!("cannot move the previous build {} aside", dest.display()))?;
    }
    std::fs::rename(staging, dest)
        .with_context(|| format!("cannot move the new build into {}", dest.display()))?;
    remove_dir_if_present(&old)
}

// ---------------------------------------------------------------------------------------------
// 1. Config

fn check_katex_config(config: &Config, book_dir: &Path) -> Result<()> {
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

// ---------------------------------------------------------------------------------------------
// 2. Includes

fn include_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(\\?)\{\{\s*#(include|rustdoc_include|playground)\s+([^\s}]+)[^}]*\}\}")
            .expect("include regex")
    })
}

fn anchor_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"ANCHOR(_END)?:\s*([\w_-]+)").expect("anchor regex"))
}

/// Check every `{{#include path[:anchor]}}` of every chapter; returns how many were checked.
fn check_includes(md: &MDBook) -> Result<usize> {
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
fn is_line_range(selector: &str) -> bool {
    let mut parts = selector.splitn(2, ':');
    let start = parts.next().unwrap_or("");
    let end = parts.next();
    let numeric = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    numeric(start)
        && end.is_none_or(numeric)
        && !(start.is_empty() && end.is_none_or(str::is_empty))
}

// ---------------------------------------------------------------------------------------------
// 3. KaTeX

/// A KaTeX preprocessor that, unlike mdbook-katex's own, fails on any formula KaTeX rejects.
///
/// It reuses mdbook-katex's scanner (which knows about code spans, code blocks and `\$`) and its
/// option builder, and calls KaTeX itself. A `~` in KaTeX's output is written `&#126;`: mdBook's
/// Markdown parser would otherwise read two of them in a paragraph (from `\tilde`) as
/// strikethrough and corrupt the page.
#[derive(Default)]
struct StrictKatex {
    formulas: std::sync::Arc<Mutex<usize>>,
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

// ---------------------------------------------------------------------------------------------
// 4. Logged warnings and errors

/// Collects every WARN and ERROR event (from `tracing`, and from `log` through its bridge).
struct CaptureLayer;

static CAPTURED: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CaptureLayer {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let level = *event.metadata().level();
        if level != tracing::Level::WARN && level != tracing::Level::ERROR {
            return;
        }
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if !self.0.is_empty() {
                    self.0.push(' ');
                }
                if field.name() == "message" {
                    self.0.push_str(&format!("{value:?}"));
                } else {
                    self.0.push_str(&format!("{}={value:?}", field.name()));
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let line = format!("{level} {}: {}", event.metadata().target(), message.0);
        CAPTURED
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line);
    }
}

/// Install, once per process, a global subscriber: log lines to stderr (filtered by `RUST_LOG`,
/// `warn` by default) and the capture layer (never filtered, so `RUST_LOG` cannot hide a problem).
///
/// It must be global: a thread-local subscriber misses events from worker threads.
pub fn init_logging() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        use tracing_subscriber::prelude::*;
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(true)
            .with_filter(filter);
        let _ = tracing_subscriber::registry()
            .with(fmt)
            .with(CaptureLayer)
            .try_init();
    });
}

struct LogCapture;

impl LogCapture {
    fn start() -> Self {
        init_logging();
        CAPTURED.lock().unwrap_or_else(|p| p.into_inner()).clear();
        LogCapture
    }

    fn finish(self) -> Vec<String> {
        std::mem::take(&mut *CAPTURED.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Output

struct OutputScan {
    pages: usize,
    links: usize,
}

/// Hosts that serve libraries to pages; the book must not depend on any of them.
const REMOTE_ASSET_HOSTS: &[&str] = &[
    "cdn.jsdelivr.net",
    "unpkg.com",
    "cdnjs.cloudflare.com",
    "fonts.googleapis.com",
    "fonts.gstatic.com",
];

fn check_output(root: &Path) -> Result<OutputScan> {
    static TAG_RE: OnceLock<Regex> = OnceLock::new();
    static URL_RE: OnceLock<Regex> = OnceLock::new();
    let tag_re = TAG_RE.get_or_init(|| {
        Regex::new(r#"<(a|link|script|img|source|iframe)\b[^>]*?\s(href|src)="([^"]*)""#)
            .expect("tag regex")
    });
    let url_re = URL_RE
        .get_or_init(|| Regex::new(r#"url\(\s*['"]?([^'")]+)['"]?\s*\)"#).expect("url regex"));

    let mut problems = BTreeSet::new();
    // A broken link in a chapter is also in index.html (a copy of the first chapter) and in
    // print.html; report it once, with every page it is on.
    let mut broken: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut ids_cache: HashMap<PathBuf, Option<BTreeSet<String>>> = HashMap::new();
    let mut pages = 0;
    let mut links = 0;
    for entry in walkdir::WalkDir::new(root) {
        let entry = entry.with_context(|| format!("cannot list {}", root.display()))?;
        let path = entry.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext != "html" && ext != "css" {
            continue;
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let rel = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        if ext == "html" {
            pages += 1;
            if text.contains("katex-error") {
                problems.insert(format!("{rel}: contains a KaTeX error"));
            }
            for host in REMOTE_ASSET_HOSTS {
                if text.contains(host) {
                    problems.insert(format!(
                        "{rel}: refers to {host}; the book must work offline"
                    ));
                }
            }
            for cap in tag_re.captures_iter(&text) {
                let (tag, url) = (&cap[1], html_unescape(&cap[3]));
                if is_remote(&url) {
                    if tag != "a" {
                        problems.insert(format!("{rel}: <{tag}> loads {url} from another host"));
                    }
                    continue;
                }
                links += 1;
                if let Err(p) = check_local_url(root, path, &url, &mut ids_cache) {
                    broken
                        .entry(format!("broken link `{url}`: {p}"))
                        .or_default()
                        .push(rel.clone());
                }
            }
        } else {
            for cap in url_re.captures_iter(&text) {
                let url = &cap[1];
                if is_remote(url) {
                    problems.insert(format!("{rel}: url({url}) is on another host"));
                    continue;
                }
                links += 1;
                if let Err(p) = check_local_url(root, path, url, &mut ids_cache) {
                    broken
                        .entry(format!("broken url({url}): {p}"))
                        .or_default()
                        .push(rel.clone());
                }
            }
        }
    }
    for (problem, mut pages) in broken {
        pages.sort();
        problems.insert(format!("{problem} (in {})", pages.join(", ")));
    }
    if !root.join("index.html").is_file() {
        problems.insert("index.html was not written".to_string());
    }
    if problems.is_empty() {
        Ok(OutputScan { pages, links })
    } else {
        bail!(
            "the built book has {} problem(s):\n  {}",
            problems.len(),
            problems.into_iter().collect::<Vec<_>>().join("\n  ")
        )
    }
}

fn is_remote(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("//") || lower.contains("://")
}

fn html_unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

/// Resolve a local `url` found in `from` (inside the build `root`); check the file and fragment.
fn check_local_url(
    root: &Path,
    from: &Path,
    url: &str,
    ids_cache: &mut HashMap<PathBuf, Option<BTreeSet<String>>>,
) -> std::result::Result<(), String> {
    let lower = url.to_ascii_lowercase();
    if ["mailto:", "javascript:", "data:", "tel:"]
        .iter()
        .any(|s| lower.starts_with(s))
    {
        return Ok(());
    }
    let (rest, fragment) = match url.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (url, None),
    };
    let rest = rest.split('?').next().unwrap_or("");
    let mut target = if rest.is_empty() {
        from.to_path_buf()
    } else if let Some(abs) = rest.strip_prefix('/') {
        root.join(abs)
    } else {
        from.parent().unwrap_or(root).join(rest)
    };
    target = normalize(&target);
    if !target.starts_with(root) {
        return Err("points outside the book".to_string());
    }
    if target.is_dir() {
        target = target.join("index.html");
    }
    if !target.is_file() {
        return Err(format!(
            "{} does not exist",
            target.strip_prefix(root).unwrap_or(&target).display()
        ));
    }
    let Some(fragment) = fragment.filter(|f| !f.is_empty()) else {
        return Ok(());
    };
    if target.extension().and_then(|e| e.to_str()) != Some("html") {
        return Ok(());
    }
    let ids = ids_cache.entry(target.clone()).or_insert_with(|| {
        static ID_RE: OnceLock<Regex> = OnceLock::new();
        let id_re =
            ID_RE.get_or_init(|| Regex::new(r#"\s(?:id|name)="([^"]*)""#).expect("id regex"));
        std::fs::read_to_string(&target)
            .ok()
            .map(|t| id_re.captures_iter(&t).map(|c| c[1].to_string()).collect())
    });
    match ids {
        Some(ids) if ids.contains(fragment) => Ok(()),
        Some(_) => Err(format!("no element with id `{fragment}`")),
        None => Err("cannot be read".to_string()),
    }
}

/// `a/b/../c/./d` → `a/c/d`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
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

    #[test]
    fn katex_messages_are_made_plain() {
        let raw = "String(\"ParseError: Undefined control sequence: \\\\nope at position 1: \\\\\\u{332}n\\u{332}\")";
        assert_eq!(
            clean_katex_message(raw),
            "ParseError: Undefined control sequence: \\nope at position 1: \\n"
        );
    }

    #[test]
    fn normalize_removes_dot_segments() {
        assert_eq!(
            normalize(Path::new("/a/b/../c/./d.html")),
            PathBuf::from("/a/c/d.html")
        );
    }

    #[test]
    fn remote_urls_are_recognised() {
        assert!(is_remote("https://cdn.jsdelivr.net/x.css"));
        assert!(is_remote("//example.org/x.js"));
        assert!(!is_remote("../katex/katex.min.css"));
        assert!(!is_remote("#section"));
    }
}

//! The built HTML scanned: every local link, image, script and stylesheet (and each `url()` in a
//! stylesheet) must resolve, a `#fragment` must name an `id` in its target page, and no page may
//! load anything from another host.

use std::collections::{BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use regex::Regex;

pub(super) struct OutputScan {
    pub(super) pages: usize,
    pub(super) links: usize,
}

/// Hosts that serve libraries to pages; the book must not depend on any of them.
const REMOTE_ASSET_HOSTS: &[&str] = &[
    "cdn.jsdelivr.net",
    "unpkg.com",
    "cdnjs.cloudflare.com",
    "fonts.googleapis.com",
    "fonts.gstatic.com",
];

pub(super) fn check_output(root: &Path) -> Result<OutputScan> {
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
pub(super) fn normalize(path: &Path) -> PathBuf {
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

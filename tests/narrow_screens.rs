//! The book's pages read on a laptop and on a phone: each page of the built book is opened in
//! headless Chromium at 1280 px and at 420 px wide, and nothing on it may be cut off or make
//! the whole page scroll sideways. A formula, a listing or a table wider than the column must
//! scroll inside its own box.
//!
//! The check runs a small script in a copy of each page (see `CHECK`), opened in a frame of the
//! width checked; the script hands what it found to the page around the frame, Chromium's
//! `--dump-dom` prints that page, and the test reads the report back. A wide element must
//! scroll in a box of its own: the text column scrolling sideways as a whole counts as a fault.
//! Chromium is Debian's `chromium` (CI installs it). Without it the test says so and passes,
//! unless `RNNBOOK_REQUIRE_CHROMIUM` is set, as CI sets it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The widths checked, in CSS pixels: a laptop and a phone.
const WIDTHS: [u32; 2] = [1280, 420];

/// Runs in the page after it has loaded; reports `RNNBOOK-WIDTHS{width, problems}RNNBOOK-END`, a JSON list of
/// problems, into a `<pre>` at the end of the body.
///
/// For every formula, listing, table, image and figure in the text column (`<main>`) it finds
/// the nearest box inside the column that clips or scrolls (`overflow-x` not `visible`). If
/// the element reaches past that box's edge, it is cut off unless the box scrolls (`auto` or
/// `scroll`); if no such box holds it and it reaches past the column, the whole column would
/// scroll sideways. Separately, the page itself must not be wider than the window.
const CHECK: &str = r#"<script>
window.addEventListener('load', () => {
  const problems = [];
  const root = document.scrollingElement || document.documentElement;
  if (root.scrollWidth > window.innerWidth + 1) {
    problems.push({what: 'the page scrolls sideways', px: root.scrollWidth - window.innerWidth});
  }
  const main = document.querySelector('main');
  const describe = (el) => {
    const text = (el.textContent || el.getAttribute('src') || '').replace(/\s+/g, ' ').trim();
    return el.tagName.toLowerCase() + (el.className && typeof el.className === 'string'
      ? '.' + el.className.split(' ')[0] : '') + ' "' + text.slice(0, 70) + '"';
  };
  const selector = '.katex-display > .katex, pre, table, img, figure, .katex';
  for (const el of main.querySelectorAll(selector)) {
    const r = el.getBoundingClientRect();
    if (r.width === 0) continue;
    // The nearest box between the element and <main> that clips or scrolls, if any.
    let box = el.parentElement;
    while (box !== main && getComputedStyle(box).overflowX === 'visible') box = box.parentElement;
    const b = box.getBoundingClientRect();
    // What the element shows: its box, and what spills out of it unless it scrolls itself.
    const own = getComputedStyle(el).overflowX;
    const spills = own === 'visible' ? el.scrollWidth - el.clientWidth : 0;
    const right = r.right + Math.max(0, spills);
    const over = Math.round(Math.max(right - b.right, b.left - r.left));
    if (over <= 1) continue;
    const ox = getComputedStyle(box).overflowX;
    if (box === main) {
      problems.push({what: describe(el) + ' is wider than the text column', px: over});
    } else if (ox !== 'auto' && ox !== 'scroll') {
      problems.push({what: describe(el) + ' is cut off (overflow-x: ' + ox + ')', px: over});
    }
  }
  const report = 'RNNBOOK-' + 'WIDTHS' + JSON.stringify({width: window.innerWidth, problems})
    + 'RNNBOOK-' + 'END';
  // In the frame of the given width (see `FRAME`), hand the report to the page around it.
  if (window.parent !== window) window.parent.postMessage(report, '*');
  const out = document.createElement('pre');
  out.textContent = report;
  document.body.appendChild(out);
});
</script>
"#;

/// Headless Chromium keeps its window at least 500 px wide, so each page is opened in a frame
/// of the width checked; the frame's report is copied into this page, which Chromium prints.
const FRAME: &str = r#"<!DOCTYPE html><html><body style="margin:0">
<iframe src="PAGE" style="width:WIDTHpx;height:900px;border:0"></iframe>
<script>
window.addEventListener('message', (e) => {
  const out = document.createElement('pre');
  out.textContent = e.data;
  document.body.appendChild(out);
});
</script></body></html>
"#;

/// Chromium, if this machine has it.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RNNBOOK_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
        .find(|p| p.is_file())
}

/// The problems Chromium's run of `page` (a checked copy) reports at `width` px.
fn problems_at(chrome: &Path, page: &Path, width: u32, profile: &Path) -> Vec<String> {
    let name = page.file_name().unwrap().to_string_lossy();
    let frame = page.with_extension(format!("{width}.html"));
    let html = FRAME
        .replace("PAGE", &name)
        .replace("WIDTH", &width.to_string());
    std::fs::write(&frame, html).unwrap();
    let out = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={},1000", width.max(500) + 20))
        .arg("--dump-dom")
        .arg(format!("file://{}", frame.display()))
        .output()
        .expect("running chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    let Some(json) = dom
        .split_once("RNNBOOK-WIDTHS")
        .and_then(|(_, rest)| rest.split_once("RNNBOOK-END"))
        .map(|(json, _)| json)
    else {
        panic!(
            "{} at {width} px: the check did not run (chromium exited with {}):\n{}",
            page.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // The script wrote the JSON as text: `&`, `<` and `>` come back escaped.
    let json = json
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let report: serde_json::Value = serde_json::from_str(&json).expect("the check's JSON");
    assert_eq!(
        report["width"].as_u64(),
        Some(u64::from(width)),
        "{name}: the frame is not {width} px wide"
    );
    report["problems"]
        .as_array()
        .expect("a list of problems")
        .iter()
        .map(|p| format!("{} ({} px)", p["what"].as_str().unwrap_or("?"), p["px"]))
        .collect()
}

#[test]
fn no_page_is_cut_off_or_scrolls_sideways_at_1280_or_420_px() {
    let Some(chrome) = chromium() else {
        assert!(
            std::env::var_os("RNNBOOK_REQUIRE_CHROMIUM").is_none(),
            "RNNBOOK_REQUIRE_CHROMIUM is set but no chromium was found (apt-get install chromium)"
        );
        eprintln!("note: no chromium on this machine; the narrow-screen check is skipped");
        return;
    };
    let book = rnnbook::default_book_dir();
    rnnbook::figures::render_all(
        &book.join("src/figures"),
        rnnbook::book::drawing_here(),
        |_| {},
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let html = out.path().join("html");
    rnnbook::book::build_book_into(&book, Some(&html)).unwrap();
    let profile = out.path().join("profile");

    let mut pages: Vec<PathBuf> = std::fs::read_dir(&html)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.ends_with(".html") && !["print.html", "toc.html", "404.html"].contains(&&*name)
        })
        .collect();
    pages.sort();
    assert!(pages.len() >= 12, "only {} pages", pages.len());

    let mut failures = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        let checked = page.with_extension("checked.html");
        let (head, tail) = text.rsplit_once("</body>").expect("a page without </body>");
        std::fs::write(&checked, format!("{head}{CHECK}</body>{tail}")).unwrap();
        for width in WIDTHS {
            let name = page.file_name().unwrap().to_string_lossy();
            failures.extend(
                problems_at(&chrome, &checked, width, &profile)
                    .into_iter()
                    .map(|p| format!("{name} at {width} px: {p}")),
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) on narrow screens:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

//! The book builder fails loudly on what mdBook lets pass, and the real book builds clean.
//!
//! Each test writes a tiny book into a temporary folder (with the real book's theme and vendored
//! KaTeX files, so that only the deliberate fault differs) and builds it in-process.

use std::path::{Path, PathBuf};
use std::process::Command;

use rnnbook::book::{build_book, build_book_into};

const GOOD_CHAPTER: &str = r#"# Chapter

Inline $W_{hh} h_{t-1}$ and display:

$$
h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})
$$

```rust
{{#include ../code/lib.rs:good}}
```

## A section

A link to [the other page](other.md#a-heading) and to [this section](#a-section).
"#;

const OTHER_CHAPTER: &str = "# Other\n\n## A heading\n\nText with $\\sigma(x)$.\n";

const CODE: &str = "// ANCHOR: good\npub fn good() -> u32 {\n    1\n}\n// ANCHOR_END: good\n// ANCHOR: open_only\nfn x() {}\n";

const BOOK_TOML: &str = r#"[book]
title = "Test book"
src = "src"

[build]
build-dir = "build"
create-missing = false

[preprocessor.katex]
after = ["links"]
no-css = true
throw-on-error = true

[output.html]
mathjax-support = false

[output.html.playground]
runnable = false
"#;

fn real_book() -> PathBuf {
    rnnbook::default_book_dir()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

/// A small book: `chapter.md` (with `chapter`), `other.md`, `code/lib.rs`; returns its folder.
fn scaffold(chapter: &str, book_toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::create_dir_all(root.join("code")).unwrap();
    std::fs::write(root.join("book.toml"), book_toml).unwrap();
    copy_dir(&real_book().join("theme"), &root.join("theme"));
    copy_dir(&real_book().join("src/katex"), &root.join("src/katex"));
    std::fs::write(
        root.join("src/SUMMARY.md"),
        "# Summary\n\n- [Chapter](chapter.md)\n- [Other](other.md)\n- [Draft]()\n",
    )
    .unwrap();
    std::fs::write(root.join("src/chapter.md"), chapter).unwrap();
    std::fs::write(root.join("src/other.md"), OTHER_CHAPTER).unwrap();
    std::fs::write(root.join("code/lib.rs"), CODE).unwrap();
    dir
}

/// mdBook writes `searchindex-<hash>.js` (the hash busts browser caches).
fn has_search_index(build: &Path) -> bool {
    std::fs::read_dir(build).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("searchindex")
    })
}

fn build_err(chapter: &str) -> String {
    let book = scaffold(chapter, BOOK_TOML);
    let err = build_book(book.path()).expect_err("the build should fail");
    assert!(
        !book.path().join("build").exists(),
        "a failed build must not leave output behind"
    );
    format!("{err:#}")
}

#[test]
fn a_good_book_builds_with_math_rendered_and_no_remote_assets() {
    let book = scaffold(GOOD_CHAPTER, BOOK_TOML);
    let report = build_book(book.path()).unwrap();
    assert!(report.index_html.is_file());
    assert_eq!(report.formulas, 3);
    assert_eq!(report.includes, 1);
    let page = std::fs::read_to_string(book.path().join("build/chapter.html")).unwrap();
    assert!(page.contains(r#"class="katex""#), "math was not rendered");
    assert!(
        page.contains(r#"class="katex-display""#),
        "display math was not rendered"
    );
    assert!(!page.contains("$$"), "raw display math left in the page");
    assert!(
        page.contains("pub fn good()"),
        "the anchored code was not included"
    );
    assert!(
        page.contains("katex/katex.min.css"),
        "the vendored KaTeX stylesheet is not linked"
    );
    assert!(!page.contains("cdn.jsdelivr"));
    assert!(
        has_search_index(&book.path().join("build")),
        "no search index was written"
    );
}

#[test]
fn a_missing_include_file_fails_naming_the_file() {
    let err = build_err("# C\n\n```rust\n{{#include ../code/missing.rs:good}}\n```\n");
    assert!(err.contains("missing.rs"), "{err}");
    assert!(err.contains("chapter.md"), "{err}");
}

#[test]
fn a_missing_anchor_fails_naming_file_and_anchor() {
    let err = build_err("# C\n\n```rust\n{{#include ../code/lib.rs:no_such_anchor}}\n```\n");
    assert!(err.contains("no_such_anchor"), "{err}");
    assert!(err.contains("lib.rs"), "{err}");
}

#[test]
fn an_anchor_without_its_end_fails() {
    let err = build_err("# C\n\n```rust\n{{#include ../code/lib.rs:open_only}}\n```\n");
    assert!(
        err.contains("open_only") && err.contains("ANCHOR_END"),
        "{err}"
    );
}

#[test]
fn an_escaped_include_is_text_not_a_check() {
    let book = scaffold(
        "# C\n\nWrite `\\{{#include ../code/nothing.rs:x}}` in Markdown.\n",
        BOOK_TOML,
    );
    build_book(book.path()).unwrap();
    let page = std::fs::read_to_string(book.path().join("build/chapter.html")).unwrap();
    assert!(page.contains("{{#include ../code/nothing.rs:x}}"));
}

#[test]
fn a_katex_error_fails_naming_chapter_and_formula() {
    let err = build_err("# C\n\nBroken: $\\frac{1}{$ here.\n");
    assert!(err.contains("KaTeX"), "{err}");
    assert!(err.contains(r"\frac{1}{"), "{err}");
    assert!(err.contains("chapter.md"), "{err}");
}

#[test]
fn an_unknown_macro_fails() {
    let err = build_err("# C\n\n$\\notamacro{x}$\n");
    assert!(err.contains(r"\notamacro"), "{err}");
}

#[test]
fn a_broken_internal_link_fails() {
    let err = build_err("# C\n\nSee [nowhere](nowhere.md).\n");
    assert!(err.contains("nowhere.html"), "{err}");
}

#[test]
fn a_link_to_a_missing_heading_fails() {
    let err = build_err("# C\n\nSee [there](other.md#no-such-heading).\n");
    assert!(err.contains("no-such-heading"), "{err}");
}

#[test]
fn a_missing_image_fails() {
    let err = build_err("# C\n\n![a figure](figures/none.svg)\n");
    assert!(err.contains("figures/none.svg"), "{err}");
}

#[test]
fn the_cdn_stylesheet_is_refused() {
    let toml = BOOK_TOML.replace("no-css = true", "no-css = false");
    let book = scaffold(GOOD_CHAPTER, &toml);
    let err = format!("{:#}", build_book(book.path()).unwrap_err());
    assert!(err.contains("no-css"), "{err}");
}

#[test]
fn a_katex_config_type_error_is_refused_not_reset_to_defaults() {
    let toml = BOOK_TOML.replace("no-css = true", "no-css = \"yes\"");
    let book = scaffold(GOOD_CHAPTER, &toml);
    let err = format!("{:#}", build_book(book.path()).unwrap_err());
    assert!(err.contains("preprocessor.katex"), "{err}");
}

#[test]
fn a_missing_chapter_file_fails() {
    let book = scaffold(GOOD_CHAPTER, BOOK_TOML);
    std::fs::remove_file(book.path().join("src/other.md")).unwrap();
    let err = format!("{:#}", build_book(book.path()).unwrap_err());
    assert!(err.contains("other.md"), "{err}");
    assert!(
        !book.path().join("src/other.md").exists(),
        "mdBook must not create missing chapters"
    );
}

#[test]
fn two_tildes_in_a_paragraph_do_not_become_strikethrough() {
    let book = scaffold(
        "# C\n\nThe candidate $\\tilde c_t$ and the state $\\tilde h_t$ here.\n",
        BOOK_TOML,
    );
    build_book(book.path()).unwrap();
    let page = std::fs::read_to_string(book.path().join("build/chapter.html")).unwrap();
    assert!(!page.contains("<del>"), "two tildes became strikethrough");
}

#[test]
fn a_failed_build_keeps_the_previous_book() {
    let book = scaffold(GOOD_CHAPTER, BOOK_TOML);
    build_book(book.path()).unwrap();
    let index = book.path().join("build/chapter.html");
    let before = std::fs::read_to_string(&index).unwrap();
    std::fs::write(book.path().join("src/chapter.md"), "# C\n\n$\\frac{$\n").unwrap();
    build_book(book.path()).unwrap_err();
    assert_eq!(std::fs::read_to_string(&index).unwrap(), before);
    let leftovers: Vec<_> = std::fs::read_dir(book.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("staging") || n.ends_with(".old"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn the_command_line_fails_with_a_message_naming_file_and_anchor() {
    let book = scaffold(
        "# C\n\n```rust\n{{#include ../code/lib.rs:wrong_anchor}}\n```\n",
        BOOK_TOML,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_rnnbook"))
        .args(["build", "--no-figures", "--book"])
        .arg(book.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "exit status {:?}", out.status);
    assert!(
        stderr.contains("wrong_anchor") && stderr.contains("lib.rs"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn the_command_line_names_a_missing_book() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rnnbook"))
        .args(["build", "--no-figures", "--book"])
        .arg(dir.path().join("nope"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("book.toml"), "{stderr}");
}

/// The real book, with freshly drawn figures, builds clean (into a temporary folder).
#[test]
fn the_real_book_builds_clean() {
    rnnbook::figures::render_all(
        &real_book().join("src/figures"),
        rnnbook::book::drawing_here(),
        |_| {},
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let report = build_book_into(&real_book(), Some(&out.path().join("html"))).unwrap();
    assert!(
        report.formulas > 20,
        "only {} formulas rendered",
        report.formulas
    );
    let ch00 = std::fs::read_to_string(out.path().join("html/ch00-foundations.html")).unwrap();
    assert!(ch00.contains(r#"class="katex-display""#));
    assert!(!ch00.contains("$$"));
    assert!(ch00.contains("figures/ch00-gradcheck-eps.svg"));
    // Every figure is numbered and captioned, chapter by chapter.
    assert!(ch00.contains(r##"<a href="#figure-0-1">Figure 0.1</a>: Relative error"##));
    let ch07 = std::fs::read_to_string(out.path().join("html/ch07-experiments.html")).unwrap();
    assert!(ch07.matches(r#"<figure class="book-figure""#).count() >= 7);
    assert!(
        !ch07.contains("<p><img"),
        "an image outside a numbered figure"
    );
    assert!(
        out.path()
            .join("html/figures/ch00-gradcheck-eps.svg")
            .is_file()
    );
    assert!(
        has_search_index(&out.path().join("html")),
        "search is not built"
    );
}

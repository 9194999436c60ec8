//! The appendix "Sources and references" and the citations that point into it: every citation
//! names an entry, every entry is cited, the five source posts have stable anchors and dates, and
//! no page names a source post by its internal file name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::OnceLock;

use regex::Regex;

const APPENDIX: &str = "references.md";

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("book/src")
}

/// Every page of the book (`book/src/*.md`), by file name.
fn pages() -> BTreeMap<String, String> {
    std::fs::read_dir(src())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, text)
        })
        .collect()
}

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).unwrap())
}

/// The anchors `<a id="KEY"></a>` of a page, in order.
fn anchors(text: &str) -> Vec<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    re(&RE, r#"<a id="([^"]*)"></a>"#)
        .captures_iter(text)
        .map(|c| c[1].to_string())
        .collect()
}

/// The ids mdBook gives the headings of a page (lower case, spaces to `-`, punctuation dropped).
fn heading_ids(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| {
            l.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter_map(|c| match c {
                    ' ' => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

/// The keys `X` of the links `references.md#X` on a page.
fn citations(text: &str) -> Vec<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    re(&RE, r"references\.md#([A-Za-z0-9_-]+)")
        .captures_iter(text)
        .map(|c| c[1].to_string())
        .collect()
}

/// The keys `X` of the links `](#X)` inside a page.
fn local_links(text: &str) -> Vec<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    re(&RE, r"\]\(#([A-Za-z0-9_-]+)\)")
        .captures_iter(text)
        .map(|c| c[1].to_string())
        .collect()
}

/// Every mention of a source post by its internal file name (`004_2eeb…`, `004_….txt`, `Post 004`).
fn post_file_names(text: &str) -> Vec<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    re(
        &RE,
        r"00[0-4]_[0-9a-f]{6,}|00[0-4]_(…|\.\.\.)|`00[0-4]_|\b[Pp]osts? 00[0-4]\b",
    )
    .find_iter(text)
    .map(|m| m.as_str().to_string())
    .collect()
}

/// The text of each entry of the appendix: from its anchor to the next anchor or heading.
fn entries(text: &str) -> BTreeMap<String, String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let starts: Vec<(usize, String)> = re(&RE, r#"<a id="([^"]*)"></a>"#)
        .captures_iter(text)
        .map(|c| (c.get(0).unwrap().end(), c[1].to_string()))
        .collect();
    starts
        .iter()
        .map(|(start, key)| {
            let rest = &text[*start..];
            let end = [rest.find("<a id="), rest.find("\n#")]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(rest.len());
            (key.clone(), rest[..end].to_string())
        })
        .collect()
}

/// What is wrong with the five post entries, or nothing.
fn post_entry_problems(appendix: &str) -> Vec<String> {
    static DATE: OnceLock<Regex> = OnceLock::new();
    let date = re(&DATE, r"\b\d{4}-\d{2}-\d{2}\b");
    let mut problems = Vec::new();
    let posts: Vec<String> = anchors(appendix)
        .into_iter()
        .filter(|a| a.starts_with("post-"))
        .collect();
    let expected: Vec<String> = (0..5).map(|n| format!("post-{n}")).collect();
    if posts != expected {
        problems.push(format!("post anchors are {posts:?}, not {expected:?}"));
    }
    for (key, entry) in entries(appendix) {
        if key.starts_with("post-")
            && !date.is_match(&entry)
            && !entry.to_lowercase().contains("undated")
        {
            problems.push(format!("{key} has no date and does not say undated"));
        }
    }
    problems
}

/// The first word of each bibliography entry (the family name or the publisher), in order.
fn bibliography_first_words(appendix: &str) -> Vec<String> {
    let start = appendix
        .find("## Bibliography")
        .expect("a Bibliography section");
    let section = &appendix[start..];
    let entries = entries(section);
    anchors(section)
        .iter()
        .map(|key| {
            entries[key]
                .trim_start()
                .split(|c: char| c == ',' || c == '.' || c == ':' || c.is_whitespace())
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

/// Lower case, and the accented letters the bibliography uses folded to plain ones.
fn sort_key(word: &str) -> String {
    word.to_lowercase()
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'ä' => 'a',
            'é' | 'è' | 'ë' => 'e',
            'í' | 'ï' => 'i',
            'ó' | 'ö' => 'o',
            'ú' | 'ü' => 'u',
            'č' => 'c',
            'ý' => 'y',
            'š' => 's',
            'ž' => 'z',
            c => c,
        })
        .collect()
}

#[test]
fn the_appendix_is_in_the_table_of_contents() {
    let summary = &pages()["SUMMARY.md"];
    let appendices = summary
        .find("# Appendices")
        .expect("SUMMARY.md has appendices");
    assert!(
        summary[appendices..].contains("[Sources and references](references.md)"),
        "SUMMARY.md lists the appendix under # Appendices"
    );
    assert!(pages()[APPENDIX].starts_with("# Sources and references\n"));
}

#[test]
fn every_citation_names_an_entry_of_the_appendix() {
    let pages = pages();
    let appendix = &pages[APPENDIX];
    let keys: BTreeSet<String> = anchors(appendix).into_iter().collect();
    let headings = heading_ids(appendix);
    let mut broken = Vec::new();
    for (name, text) in &pages {
        let mut cited = citations(text);
        if name == APPENDIX {
            cited.extend(local_links(text));
        }
        for key in cited {
            if !keys.contains(&key) && !headings.contains(&key) {
                broken.push(format!("{name}: references.md#{key}"));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "links to no entry of {APPENDIX}:\n  {}",
        broken.join("\n  ")
    );
}

#[test]
fn the_anchors_of_the_appendix_are_unique() {
    let mut seen = BTreeSet::new();
    for key in anchors(&pages()[APPENDIX]) {
        assert!(seen.insert(key.clone()), "{key} is anchored twice");
    }
}

#[test]
fn every_entry_of_the_appendix_is_cited_from_another_page() {
    let pages = pages();
    let cited: BTreeSet<String> = pages
        .iter()
        .filter(|(name, _)| name.as_str() != APPENDIX)
        .flat_map(|(_, text)| citations(text))
        .collect();
    let uncited: Vec<String> = anchors(&pages[APPENDIX])
        .into_iter()
        .filter(|k| !cited.contains(k))
        .collect();
    assert!(
        uncited.is_empty(),
        "entries no page cites: {}",
        uncited.join(", ")
    );
}

#[test]
fn no_page_names_a_source_post_by_its_file() {
    let found: Vec<String> = pages()
        .iter()
        .flat_map(|(name, text)| {
            post_file_names(text)
                .into_iter()
                .map(move |m| format!("{name}: {m}"))
        })
        .collect();
    assert!(
        found.is_empty(),
        "cite a post as [post N](references.md#post-N), not by its file:\n  {}",
        found.join("\n  ")
    );
}

#[test]
fn the_five_source_posts_have_anchors_and_dates() {
    let problems = post_entry_problems(&pages()[APPENDIX]);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_bibliography_is_sorted_by_first_author() {
    let words = bibliography_first_words(&pages()[APPENDIX]);
    assert!(words.len() >= 14, "only {} entries", words.len());
    for pair in words.windows(2) {
        assert!(
            sort_key(&pair[0]) <= sort_key(&pair[1]),
            "{} comes before {}",
            pair[0],
            pair[1]
        );
    }
}

/// The checks above, on small texts that break them, so that a check that stopped working fails.
#[test]
fn the_checks_see_what_they_should() {
    assert_eq!(
        citations("[a](references.md#elman1990) and [b](references.md#post-4)."),
        ["elman1990", "post-4"]
    );
    assert_eq!(local_links("see [post 4](#post-4)"), ["post-4"]);
    assert_eq!(
        post_file_names("`004_….txt`, 003_669e8560153ac698.txt, Post 000 and post 1"),
        ["`004_", "003_669e8560153ac698", "Post 000"]
    );
    assert!(post_file_names("a loss of 1000_0 at step 10004").is_empty());
    assert!(heading_ids("## The source posts\n").contains("the-source-posts"));

    let good = "## The source posts\n\n\
        <a id=\"post-0\"></a>**Post 0.** T. 2019-03-07.\n\n\
        <a id=\"post-1\"></a>**Post 1.** T. Undated.\n\n\
        <a id=\"post-2\"></a>**Post 2.** T. 2019-09-21.\n\n\
        <a id=\"post-3\"></a>**Post 3.** T. 2019-04-24.\n\n\
        <a id=\"post-4\"></a>**Post 4.** T. 2018-07-12.\n\n\
        ## Bibliography\n\n<a id=\"bengio1994\"></a>Bengio, Y. (1994). X.\n\n\
        <a id=\"appleyard2016\"></a>Appleyard, J. (2016). Y.\n";
    assert!(post_entry_problems(good).is_empty());
    let undated = good.replace(" 2018-07-12", "");
    assert_eq!(
        post_entry_problems(&undated),
        ["post-4 has no date and does not say undated"]
    );
    let missing = good.replace("<a id=\"post-2\"></a>", "");
    assert_eq!(post_entry_problems(&missing).len(), 1);
    assert_eq!(bibliography_first_words(good), ["Bengio", "Appleyard"]);
    assert_eq!(sort_key("Kočiský"), "kocisky");
}

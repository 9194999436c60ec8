//! No answer in the student edition: every solution region's body must exist in exactly one
//! place, its region, which the edition strips. A copy anywhere else (a helper that does the
//! same job, an example, a page) would hand the student the answer.
//!
//! The scan reads the edition as it would be written, without writing it: every file that the
//! edition takes, with every region stripped. A body is compared with whitespace folded (runs
//! of spaces and line breaks become one space), so a copy that is only re-indented or re-wrapped
//! is found too.

use std::path::Path;

use anyhow::{Context, Result};

use super::config::read_config;
use super::edition::tree_files;
use super::regions::{SOLUTION_ONLY, parse_regions, strip_solutions};

/// Bodies shorter than this, folded, are too generic to be an answer (`s * (1.0 - s)` appears in
/// any text about the sigmoid); they are not searched for.
pub const MIN_BODY_CHARS: usize = 40;

/// One copy of an answer: exercise `id`'s body found in the edition's file `file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leak {
    /// The exercise, `2.2`.
    pub id: String,
    /// Where the copy is, relative to the tree.
    pub file: String,
}

impl std::fmt::Display for Leak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the body of ex {} also appears in {}, which the student edition ships",
            self.id, self.file
        )
    }
}

/// `text` with comments dropped and whitespace folded: Rust line comments go (a body's own
/// comments say how, not what), then every run of whitespace becomes one space.
pub fn fold(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(k) => &l[..k],
            None => l,
        })
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Every copy of a solution region's body in the student edition of the tree at `root`.
pub fn find_leaks(root: &Path) -> Result<Vec<Leak>> {
    let config = read_config(root)?;
    let files = tree_files(root, &config.instructor_only)?;
    let mut bodies = Vec::new();
    let mut shipped = Vec::new();
    for rel in &files {
        let bytes = std::fs::read(root.join(rel)).with_context(|| format!("reading {rel}"))?;
        let Ok(text) = String::from_utf8(bytes) else {
            continue; // fonts and other binaries hold no code
        };
        if rel.ends_with(".rs") {
            let lines: Vec<&str> = text.lines().collect();
            for r in parse_regions(&text, rel)? {
                if r.id != SOLUTION_ONLY {
                    let body = fold(&lines[r.body..r.end].join("\n"));
                    if body.len() >= MIN_BODY_CHARS {
                        bodies.push((r.id, body));
                    }
                }
            }
            shipped.push((rel.clone(), fold(&strip_solutions(&text, rel)?)));
        } else {
            shipped.push((rel.clone(), fold(&text)));
        }
    }
    let mut leaks = Vec::new();
    for (id, body) in &bodies {
        for (file, text) in &shipped {
            if text.contains(body.as_str()) {
                leaks.push(Leak {
                    id: id.clone(),
                    file: file.clone(),
                });
            }
        }
    }
    Ok(leaks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_drops_comments_and_joins_whitespace() {
        assert_eq!(
            fold("  let a = b; // why\n\n    a +\n  1 // end\n"),
            "let a = b; a + 1"
        );
    }

    /// The guard of item "one copy of every answer": no region's body is anywhere else in what
    /// the student edition ships (code, examples, pages), whitespace and comments aside.
    #[test]
    fn no_solution_body_appears_anywhere_else_in_the_student_edition() {
        let root = crate::repo_root();
        if !root.join(super::super::CONFIG).exists() {
            return; // a student edition: its regions are todo!s, and it has no configuration
        }
        let leaks = find_leaks(&root).unwrap();
        let listed: Vec<String> = leaks.iter().map(ToString::to_string).collect();
        assert!(listed.is_empty(), "{}", listed.join("\n"));
    }

    #[test]
    fn a_copied_body_is_found_even_when_reindented() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("classroom")).unwrap();
        std::fs::create_dir_all(root.join("src")).unwrap();
        let region = "fn f(x: f64) -> f64 {\n    // BEGIN SOLUTION ex 1.1: the cube plus one\n    let cube = x * x * x;\n    cube + 1.0 + 0.0 * x\n    // END SOLUTION\n}\n";
        std::fs::write(root.join("src/a.rs"), region).unwrap();
        std::fs::write(
            root.join("src/b.rs"),
            "fn g(x: f64) -> f64 {\nlet cube = x * x * x;   cube + 1.0\n + 0.0 * x }\n",
        )
        .unwrap();
        std::fs::write(
            root.join("classroom/exercises.toml"),
            "instructor_only = [\"classroom\"]\n[[exercise]]\nid = \"1.1\"\npackage = \"p\"\nfile = \"src/a.rs\"\npoints = 1\ntests = [\"t\"]\n",
        )
        .unwrap();
        let leaks = find_leaks(root).unwrap();
        assert_eq!(
            leaks,
            [Leak {
                id: "1.1".into(),
                file: "src/b.rs".into()
            }]
        );
    }
}

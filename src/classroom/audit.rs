//! The static check of every solution region, before anything of a submission is
//! built.
//!
//! The exercises are pure numerical functions. A region body is parsed with `syn`
//! (as the block it sits in) and refused, with the construct and its line, when it
//! reaches for anything else: process control, files, the environment, input and
//! output, the network, threads, backtraces and panic hooks, `unsafe`, `extern`,
//! inline assembly, a macro outside [`ALLOWED_MACROS`], an attribute other than a
//! lint allowance, or one of the project's own modules that read or write files
//! ([`DENIED_MODULES`]). A refused region scores 0 for its exercise and is not
//! built: the grader splices a `todo!` ("this region is missing from the
//! submission") in its place.
//!
//! The lists below are the one place the rules are written down; the teaching
//! appendix includes them.

use std::fmt;

use proc_macro2::{TokenStream, TokenTree};
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

// ANCHOR: rules
/// The macros a region may use. Their arguments are checked token by token against
/// the same rules as the rest of the region.
pub const ALLOWED_MACROS: &[&str] = &[
    // Collections and ndarray's literals and slices.
    "vec",
    "array",
    "s",
    // Text, for error values and panic messages.
    "format",
    // Panics: a failing region fails its tests, which is all a panic can do.
    "panic",
    "todo",
    "unimplemented",
    "unreachable",
    // Assertions.
    "assert",
    "assert_eq",
    "assert_ne",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    // Pattern tests.
    "matches",
];

/// Attributes a region may carry (lint levels only).
pub const ALLOWED_ATTRIBUTES: &[&str] = &["allow", "expect"];

/// Modules of `std`, `core` and `alloc`, and crates, that a region may not name in a
/// path or a `use`, each with what it gives access to.
pub const DENIED_MODULES: &[(&str, &str)] = &[
    ("process", "process control"),
    ("fs", "files"),
    ("io", "input and output"),
    ("env", "the environment"),
    ("net", "the network"),
    ("os", "the operating system"),
    ("thread", "threads"),
    ("ffi", "foreign functions"),
    ("arch", "machine instructions"),
    ("asm", "inline assembly"),
    ("intrinsics", "compiler intrinsics"),
    ("backtrace", "backtraces (they name the running tests)"),
    ("panic", "panic hooks and unwinding"),
    ("alloc", "the allocator"),
    ("libc", "the C library"),
    ("rayon", "threads"),
    ("tempfile", "files"),
    ("walkdir", "files"),
    // The project's own modules that read or write files.
    ("files", "the project's file helpers"),
    ("fixture", "the project's fixture reader (files)"),
    ("train_log", "the project's training logs (files)"),
    ("experiment", "the project's experiment records (files)"),
    ("results", "the project's benchmark results (files)"),
    ("study", "the project's study records (files)"),
];
// ANCHOR_END: rules

/// One thing a region may not do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// 1-based line within the region's body.
    pub line: usize,
    /// What it uses, e.g. `std::process (process control)`.
    pub what: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "uses {} at line {} of the region", self.what, self.line)
    }
}

/// Checks one region body (the lines strictly between its markers). `Ok(())` when it
/// is pure; otherwise the first finding, or why it does not parse.
pub fn check_region(body: &[String]) -> Result<(), Finding> {
    let findings = findings(body);
    match findings.into_iter().next() {
        Some(f) => Err(f),
        None => Ok(()),
    }
}

/// Every finding in a region body, in order of line.
pub fn findings(body: &[String]) -> Vec<Finding> {
    // The body sits inside a block: parse it as one. Line 1 is the opening brace.
    let text = format!("{{\n{}\n}}", body.join("\n"));
    let block: syn::Block = match syn::parse_str(&text) {
        Ok(b) => b,
        Err(e) => {
            let line = e.span().start().line.saturating_sub(1).max(1);
            return vec![Finding {
                line,
                what: format!("code that does not parse as Rust ({e})"),
            }];
        }
    };
    let mut v = Auditor { found: Vec::new() };
    v.visit_block(&block);
    v.found.sort_by_key(|f| f.line);
    v.found
}

struct Auditor {
    found: Vec<Finding>,
}

fn line_of(span: proc_macro2::Span) -> usize {
    span.start().line.saturating_sub(1).max(1)
}

/// An identifier as written, without the raw prefix (`r#fs` is `fs`).
fn name(ident: &proc_macro2::Ident) -> String {
    let s = ident.to_string();
    s.strip_prefix("r#").map(str::to_string).unwrap_or(s)
}

fn denied_module(n: &str) -> Option<&'static str> {
    DENIED_MODULES
        .iter()
        .find(|(m, _)| *m == n)
        .map(|(_, why)| *why)
}

impl Auditor {
    fn report(&mut self, span: proc_macro2::Span, what: String) {
        self.found.push(Finding {
            line: line_of(span),
            what,
        });
    }

    /// A path of two or more segments (or any path in a `use`) may not pass through
    /// a denied module; a one-segment path is a local name.
    fn check_segments<'a>(
        &mut self,
        segments: impl Iterator<Item = &'a proc_macro2::Ident>,
        whole: bool,
    ) {
        let idents: Vec<&proc_macro2::Ident> = segments.collect();
        if idents.len() < 2 && !whole {
            return;
        }
        let path = idents
            .iter()
            .map(|i| name(i))
            .collect::<Vec<_>>()
            .join("::");
        for i in &idents {
            if let Some(why) = denied_module(&name(i)) {
                self.report(i.span(), format!("{path} ({why})"));
                return;
            }
        }
    }

    fn check_macro(&mut self, mac: &syn::Macro) {
        let Some(last) = mac.path.segments.last() else {
            return;
        };
        let n = name(&last.ident);
        if mac.path.segments.len() > 1 || mac.path.leading_colon.is_some() {
            self.check_segments(mac.path.segments.iter().map(|s| &s.ident), false);
        }
        if !ALLOWED_MACROS.contains(&n.as_str()) {
            self.report(
                last.ident.span(),
                format!("the macro {n}! (allowed: {})", ALLOWED_MACROS.join(", ")),
            );
            return;
        }
        self.check_tokens(mac.tokens.clone());
    }

    /// A macro's arguments are tokens, not syntax: check every identifier path in
    /// them (a run `a::b::c`), every nested macro call (`name!`), and the keywords
    /// the rules refuse.
    fn check_tokens(&mut self, tokens: TokenStream) {
        let tts: Vec<TokenTree> = tokens.into_iter().collect();
        let mut k = 0;
        while k < tts.len() {
            match &tts[k] {
                TokenTree::Group(g) => self.check_tokens(g.stream()),
                TokenTree::Ident(id) => {
                    // Collect the path `id :: id :: …` starting here.
                    let mut path = vec![id.clone()];
                    let mut j = k + 1;
                    while j + 2 < tts.len() + 1 {
                        let colons = matches!((&tts.get(j), &tts.get(j + 1)),
                            (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
                                if a.as_char() == ':' && b.as_char() == ':');
                        match (colons, tts.get(j + 2)) {
                            (true, Some(TokenTree::Ident(next))) => {
                                path.push(next.clone());
                                j += 3;
                            }
                            _ => break,
                        }
                    }
                    let n = name(id);
                    if matches!(n.as_str(), "unsafe" | "extern" | "asm") {
                        self.report(id.span(), format!("`{n}`"));
                    }
                    self.check_segments(path.iter(), false);
                    // A nested macro call: the last identifier followed by `!` (not
                    // `!=`).
                    if let (Some(TokenTree::Punct(bang)), Some(TokenTree::Group(_))) =
                        (tts.get(j), tts.get(j + 1))
                        && bang.as_char() == '!'
                    {
                        let last = path.last().expect("one identifier at least");
                        let m = name(last);
                        if !ALLOWED_MACROS.contains(&m.as_str()) {
                            self.report(
                                last.span(),
                                format!("the macro {m}! (allowed: {})", ALLOWED_MACROS.join(", ")),
                            );
                        }
                    }
                    k = j;
                    continue;
                }
                TokenTree::Punct(p) if p.as_char() == '#' => {
                    self.report(p.span(), "an attribute inside a macro's arguments".into());
                }
                _ => {}
            }
            k += 1;
        }
    }

    fn check_attrs(&mut self, attrs: &[syn::Attribute]) {
        for a in attrs {
            let path = a.path();
            let ok = path.segments.len() == 1
                && ALLOWED_ATTRIBUTES.contains(&name(&path.segments[0].ident).as_str());
            if !ok {
                let shown = path
                    .segments
                    .iter()
                    .map(|s| name(&s.ident))
                    .collect::<Vec<_>>()
                    .join("::");
                self.report(
                    a.span(),
                    format!(
                        "the attribute #[{shown}] (allowed: {})",
                        ALLOWED_ATTRIBUTES.join(", ")
                    ),
                );
            }
        }
    }
}

impl<'ast> Visit<'ast> for Auditor {
    fn visit_attribute(&mut self, a: &'ast syn::Attribute) {
        self.check_attrs(std::slice::from_ref(a));
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        self.check_segments(
            p.segments.iter().map(|s| &s.ident),
            p.leading_colon.is_some(),
        );
        visit::visit_path(self, p);
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut idents = Vec::new();
        collect_use(&u.tree, &mut idents);
        self.check_segments(idents.iter(), true);
        visit::visit_item_use(self, u);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.check_macro(m);
        // Not `visit::visit_macro`: its path was checked above, and its tokens token
        // by token.
    }

    fn visit_expr_unsafe(&mut self, e: &'ast syn::ExprUnsafe) {
        self.report(e.unsafe_token.span, "an `unsafe` block".into());
        visit::visit_expr_unsafe(self, e);
    }

    fn visit_signature(&mut self, s: &'ast syn::Signature) {
        if let Some(u) = &s.unsafety {
            self.report(u.span, "an `unsafe fn`".into());
        }
        if let Some(abi) = &s.abi {
            self.report(abi.extern_token.span, "an `extern` function".into());
        }
        visit::visit_signature(self, s);
    }

    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        if let Some(u) = &i.unsafety {
            self.report(u.span, "an `unsafe impl`".into());
        }
        visit::visit_item_impl(self, i);
    }

    fn visit_item_trait(&mut self, i: &'ast syn::ItemTrait) {
        if let Some(u) = &i.unsafety {
            self.report(u.span, "an `unsafe trait`".into());
        }
        visit::visit_item_trait(self, i);
    }

    fn visit_item_foreign_mod(&mut self, i: &'ast syn::ItemForeignMod) {
        self.report(i.abi.extern_token.span, "an `extern` block".into());
    }

    fn visit_item_extern_crate(&mut self, i: &'ast syn::ItemExternCrate) {
        self.report(i.extern_token.span, "`extern crate`".into());
    }

    fn visit_item_mod(&mut self, i: &'ast syn::ItemMod) {
        self.report(i.mod_token.span, "a module".into());
    }

    fn visit_item_static(&mut self, i: &'ast syn::ItemStatic) {
        // A static outlives the test that set it: state shared between tests.
        self.report(i.static_token.span, "a `static`".into());
        visit::visit_item_static(self, i);
    }

    fn visit_item_macro(&mut self, i: &'ast syn::ItemMacro) {
        self.check_attrs(&i.attrs);
        self.check_macro(&i.mac);
    }

    fn visit_type_bare_fn(&mut self, t: &'ast syn::TypeBareFn) {
        if let Some(abi) = &t.abi {
            self.report(abi.extern_token.span, "an `extern` function type".into());
        }
        if let Some(u) = &t.unsafety {
            self.report(u.span, "an `unsafe fn` type".into());
        }
        visit::visit_type_bare_fn(self, t);
    }

    fn visit_item(&mut self, i: &'ast syn::Item) {
        if let syn::Item::Verbatim(t) = i {
            self.report(t.span(), "an item the checker cannot read".into());
        }
        visit::visit_item(self, i);
    }

    fn visit_expr(&mut self, e: &'ast syn::Expr) {
        if let syn::Expr::Verbatim(t) = e {
            self.report(t.span(), "an expression the checker cannot read".into());
        }
        visit::visit_expr(self, e);
    }

    fn visit_type(&mut self, t: &'ast syn::Type) {
        if let syn::Type::Verbatim(v) = t {
            self.report(v.span(), "a type the checker cannot read".into());
        }
        visit::visit_type(self, t);
    }

    fn visit_pat(&mut self, p: &'ast syn::Pat) {
        if let syn::Pat::Verbatim(v) = p {
            self.report(v.span(), "a pattern the checker cannot read".into());
        }
        visit::visit_pat(self, p);
    }
}

fn collect_use(tree: &syn::UseTree, out: &mut Vec<proc_macro2::Ident>) {
    match tree {
        syn::UseTree::Path(p) => {
            out.push(p.ident.clone());
            collect_use(&p.tree, out);
        }
        syn::UseTree::Name(n) => out.push(n.ident.clone()),
        syn::UseTree::Rename(r) => out.push(r.ident.clone()),
        syn::UseTree::Glob(_) => {}
        syn::UseTree::Group(g) => {
            for t in &g.items {
                collect_use(t, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(s: &str) -> Vec<String> {
        s.lines().map(str::to_string).collect()
    }

    fn first(s: &str) -> String {
        check_region(&body(s))
            .expect_err(&format!("should be refused: {s}"))
            .to_string()
    }

    #[test]
    fn pure_numerical_code_passes() {
        for ok in [
            "    s * (1.0 - s)",
            "    let mut g = Array2::<f64>::zeros((3, 4));\n    g += &a.dot(&b.t());\n    g",
            "    #[allow(clippy::needless_range_loop)]\n    for t in (0..n).rev() { v[t] = 0.0; }\n    v",
            "    assert_eq!(a.len(), b.len(), \"lengths {} and {}\", a.len(), b.len());\n    vec![0.0; n]",
            "    let x = x.slice(s![.., 0..3;2]);\n    std::mem::swap(&mut a, &mut b);\n    f64::EPSILON",
            "    fn helper(x: f64) -> f64 { x.max(0.0) }\n    let io = 3; helper(io as f64)",
            "    if !x.is_finite() { return Err(format!(\"{x} is not finite\")); }\n    Ok(x)",
        ] {
            assert_eq!(check_region(&body(ok)), Ok(()), "{ok}");
        }
    }

    #[test]
    fn each_forbidden_construct_is_named_with_its_line() {
        let mut wrong = Vec::new();
        for (bad, needle, line) in [
            (
                "    x\n    ;std::process::exit(0)",
                "std::process::exit (process control)",
                2,
            ),
            (
                "    use std::process;\n    process::abort()",
                "process control",
                1,
            ),
            (
                "    use std as s;\n    s::fs::read(\"x\")",
                "s::fs::read (files)",
                2,
            ),
            ("    use std::{io::{self, Write}};", "input and output", 1),
            ("    std::env::var(\"X\")", "the environment", 1),
            (
                "    ::std::net::TcpStream::connect(\"a:1\")",
                "the network",
                1,
            ),
            ("    std::thread::current().name()", "threads", 1),
            (
                "    std::backtrace::Backtrace::force_capture()",
                "backtraces",
                1,
            ),
            (
                "    std::panic::set_hook(Box::new(|_| {}))",
                "panic hooks",
                1,
            ),
            (
                "    core::arch::x86_64::_rdtsc()",
                "machine instructions",
                1,
            ),
            ("    unsafe { *p }", "`unsafe` block", 1),
            ("    unsafe fn f() {}", "`unsafe fn`", 1),
            ("    extern \"C\" { fn exit(c: i32); }", "`extern` block", 1),
            ("    extern crate libc;", "`extern crate`", 1),
            ("    println!(\"test a ... ok\")", "the macro println!", 1),
            ("    eprintln!(\"x\")", "the macro eprintln!", 1),
            ("    std::println!(\"x\")", "the macro println!", 1),
            (
                "    include_str!(\"../tests/instructor/main.rs\")",
                "include_str!",
                1,
            ),
            ("    env!(\"HOME\")", "the macro env!", 1),
            ("    core::arch::asm!(\"nop\")", "machine instructions", 1),
            ("    macro_rules! m { () => {} }", "macro_rules!", 1),
            (
                "    format!(\"{}\", std::process::id())",
                "process control",
                1,
            ),
            ("    vec![std::fs::read(\"x\")]", "files", 1),
            (
                "    assert!(true, \"{}\", include_str!(\"x\"))",
                "include_str!",
                1,
            ),
            ("    panic!(\"{}\", unsafe { 1 })", "`unsafe`", 1),
            ("    #[cfg(test)]\n    let x = 1;", "#[cfg]", 1),
            ("    #[unsafe(no_mangle)]\n    fn main() {}", "#[unsafe]", 1),
            ("    #[track_caller]\n    fn f() {}", "#[track_caller]", 1),
            ("    static N: u8 = 0;", "`static`", 1),
            ("    mod m {}", "a module", 1),
            (
                "    ch00_foundations::files::write_atomic(p, b)",
                "file helpers",
                1,
            ),
            (
                "    let f: extern \"C\" fn() = g;",
                "`extern` function type",
                1,
            ),
            ("    std::r#fs::remove_file(\"g\")", "files", 1),
            ("    let x = ;", "does not parse", 1),
        ] {
            match check_region(&body(bad)) {
                Ok(()) => wrong.push(format!("{bad}: passed")),
                Err(f) if !f.to_string().contains(needle) || f.line != line => {
                    wrong.push(format!("{bad}: {f}"))
                }
                Err(_) => {}
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        assert!(first("    let x = 1;\n    x }\n    {").contains("does not parse"));
    }

    #[test]
    fn every_instructor_solution_passes_the_check() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        if crate::classroom::is_student_edition(root) {
            return; // No solutions and no classroom configuration there.
        }
        let config = crate::classroom::read_config(root).unwrap();
        let mut checked = 0;
        for e in &config.exercises {
            let text = std::fs::read_to_string(root.join(&e.file)).unwrap();
            let bodies = crate::classroom::region_bodies(&text, &e.file).unwrap();
            assert_eq!(check_region(&bodies[&e.id]), Ok(()), "ex {}", e.id);
            checked += 1;
        }
        assert_eq!(checked, config.exercises.len());
        assert!(checked >= 20);
    }
}

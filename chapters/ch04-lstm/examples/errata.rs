//! Prints the numbers behind the chapter's errata table: for the source post's LSTM
//! backward (ported in `source_port`), the largest relative gradient error of every
//! tensor block, with all bugs, with each bug alone, and with none.
//!
//! ```console
//! cargo run -p ch04-lstm --example errata
//! ```

use ch04_lstm::errata::{CaseGrads, PortCase, block_reports};
use ch04_lstm::source_port::{Bug, Bugs};

fn table(title: &str, case: &PortCase) {
    let numeric: CaseGrads = case.numeric();
    let mut columns: Vec<(String, Bugs)> =
        vec![("as printed".into(), Bugs::AS_PRINTED)];
    for bug in Bug::ALL {
        columns.push((format!("bug {} only", bug as u8), Bugs::only(bug)));
    }
    columns.push(("all fixed".into(), Bugs::NONE));
    let reports: Vec<_> = columns
        .iter()
        .map(|(_, b)| block_reports(&case.port(*b), &numeric))
        .collect();
    println!("{title}");
    print!("{:<14}", "block");
    for (name, _) in &columns {
        print!("{name:>12}");
    }
    println!();
    for row in 0..reports[0].len() {
        print!("{:<14}", reports[0][row].name);
        for r in &reports {
            print!("{:>12.1e}", r[row].max_rel_error);
        }
        println!();
    }
    println!();
}

fn main() {
    table(
        "chapter case: T = 6, I = 3, H = 4, random h0, c0 (PortCase::standard)",
        &PortCase::standard(),
    );
    table(
        "the tutorial's own check: T = 2, I = 3, H = 2, zero state, tiny weights (seed 0)",
        &PortCase::tutorial_check(0),
    );
    let case = PortCase::tutorial_check(0);
    let (p, f) = (case.port(Bugs::AS_PRINTED), case.port(Bugs::NONE));
    println!(
        "tutorial case: weight_hh gradient as printed == fixed, bit for bit: {}",
        p.grads.dweight_hh == f.grads.dweight_hh
    );
    println!("{:?}", p.grads.dweight_ih - &f.grads.dweight_ih);
}

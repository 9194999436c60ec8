//! Prints, for each pair of committed fixtures `gru_<case>.json` /
//! `gru_cho_<case>.json` (same parameters, same inputs), the largest difference
//! between their outputs.
//!
//! `cargo run -p ch05-gru --example variants` (from anywhere in the repository)

use std::path::PathBuf;

use serde_json::Value;

fn floats(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(floats).collect(),
        Value::Number(n) => vec![n.as_f64().expect("an f64")],
        _ => panic!("not a number or an array: {v}"),
    }
}

fn main() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    println!(
        "{:<12} {:>14} {:>14}  same params and inputs",
        "case", "max |Δy|", "outputs"
    );
    for case in ["tiny", "rect", "zero_state", "saturated", "long"] {
        let read = |cell: &str| -> Value {
            let path = dir.join(format!("{cell}_{case}.json"));
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            serde_json::from_str(&text).expect("valid JSON")
        };
        let (a, b) = (read("gru"), read("gru_cho"));
        let (ya, yb) = (floats(&a["outputs"]["y"]), floats(&b["outputs"]["y"]));
        let delta = ya
            .iter()
            .zip(&yb)
            .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()));
        let same = a["params"] == b["params"] && a["inputs"] == b["inputs"];
        println!("{case:<12} {delta:>14.6e} {:>14}  {same}", ya.len());
    }
}

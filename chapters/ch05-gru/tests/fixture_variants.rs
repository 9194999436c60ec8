//! The committed PyTorch fixtures `gru_<case>.json` and `gru_cho_<case>.json` share
//! parameters and inputs. Their outputs differ, and our two variants differ from
//! each other by the same amounts: the reset position is a real difference in the
//! function.

use std::path::PathBuf;

use ch05_gru::{GruParams, GruVariant, forward};
use ndarray::{Array1, Array2, Array3};
use serde_json::Value;

const CASES: [&str; 5] = ["tiny", "rect", "zero_state", "saturated", "long"];

fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../../tests/fixtures/{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn floats(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(items) => items.iter().flat_map(floats).collect(),
        Value::Number(n) => vec![n.as_f64().expect("an f64")],
        _ => panic!("not a number or an array: {v}"),
    }
}

fn shape(v: &Value) -> Vec<usize> {
    match v {
        Value::Array(items) => {
            let mut s = vec![items.len()];
            s.extend(items.first().map(shape).unwrap_or_default());
            s
        }
        _ => vec![],
    }
}

fn arr1(v: &Value) -> Array1<f64> {
    Array1::from(floats(v))
}

fn arr2(v: &Value) -> Array2<f64> {
    let s = shape(v);
    Array2::from_shape_vec((s[0], s[1]), floats(v)).unwrap()
}

fn arr3(v: &Value) -> Array3<f64> {
    let s = shape(v);
    Array3::from_shape_vec((s[0], s[1], s[2]), floats(v)).unwrap()
}

fn params(f: &Value) -> GruParams {
    let p = &f["params"];
    GruParams {
        weight_ih: arr2(&p["weight_ih"]),
        weight_hh: arr2(&p["weight_hh"]),
        bias_ih: arr1(&p["bias_ih"]),
        bias_hh: arr1(&p["bias_hh"]),
    }
}

fn max_abs_diff(a: &Array3<f64>, b: &Array3<f64>) -> f64 {
    (a - b).iter().fold(0.0f64, |m, d| m.max(d.abs()))
}

#[test]
fn the_two_fixtures_of_each_case_share_inputs_and_differ_as_our_variants_do() {
    for case in CASES {
        let after = load(&format!("gru_{case}"));
        let before = load(&format!("gru_cho_{case}"));
        assert_eq!(after["params"], before["params"], "{case}");
        assert_eq!(after["inputs"], before["inputs"], "{case}");
        let (p, x, h0) = (
            params(&after),
            arr3(&after["inputs"]["x"]),
            arr2(&after["inputs"]["h0"]),
        );
        let (y_after, _, _) = forward(&p, GruVariant::ResetAfter, x.view(), &h0);
        let (y_before, _, _) = forward(&p, GruVariant::ResetBefore, x.view(), &h0);
        let torch = max_abs_diff(
            &arr3(&after["outputs"]["y"]),
            &arr3(&before["outputs"]["y"]),
        );
        let ours = max_abs_diff(&y_after, &y_before);
        assert!(torch > 1e-2, "{case}: PyTorch max |Δy| = {torch}");
        assert!((torch - ours).abs() < 1e-12, "{case}: {torch} vs {ours}");
    }
}

//! Reading PyTorch reference fixtures (`rnnbook-fixture-v1`, DESIGN §4).
//!
//! Every problem in a file (not JSON, a missing field, a ragged or wrongly sized
//! array, a value that is not a number, a size over [`MAX_SIZE`] or an array over
//! [`MAX_ENTRIES`]) is a [`FixtureError`] naming the file and the field; nothing
//! panics. Nothing is allocated from a declared size before the data present has
//! been checked against it: an array grows only as its entries are read.

use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2, Array3, ArrayD, IxDyn};
use serde_json::Value;

/// The format tag every fixture carries.
pub const FORMAT: &str = "rnnbook-fixture-v1";

/// The largest `seq_len`, `batch`, `input_size` or `hidden_size` a fixture may
/// declare. The committed fixtures use at most 60.
pub const MAX_SIZE: usize = 100_000;

/// The most entries one array of a fixture may have (as declared by its sizes):
/// 10⁸ `f64`s, 800 MB.
pub const MAX_ENTRIES: usize = 100_000_000;

/// The recurrent cells a fixture can describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// `nn.RNN(nonlinearity="tanh")`.
    RnnTanh,
    /// `nn.LSTM`, gates i, f, g, o.
    Lstm,
    /// `nn.GRU` (reset-after), gates r, z, n.
    Gru,
    /// The GRU of Cho et al. (2014), reset-before.
    GruCho,
}

impl Cell {
    /// The name used in the `cell` field.
    pub fn name(self) -> &'static str {
        match self {
            Cell::RnnTanh => "rnn_tanh",
            Cell::Lstm => "lstm",
            Cell::Gru => "gru",
            Cell::GruCho => "gru_cho",
        }
    }

    /// `G`, the number of gates stacked in the weight rows.
    pub fn gates(self) -> usize {
        match self {
            Cell::RnnTanh => 1,
            Cell::Lstm => 4,
            Cell::Gru | Cell::GruCho => 3,
        }
    }

    fn from_name(name: &str) -> Option<Cell> {
        [Cell::RnnTanh, Cell::Lstm, Cell::Gru, Cell::GruCho]
            .into_iter()
            .find(|c| c.name() == name)
    }
}

/// A fixture that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{}: {field}: {message}", file.display())]
pub struct FixtureError {
    /// The file.
    pub file: PathBuf,
    /// The field, as a path such as `params.weight_ih` or `inputs.x[2][0]`; `(file)`
    /// for the file.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// The parameters, or their gradients, in PyTorch's layout.
#[derive(Debug, Clone)]
pub struct LayerTensors {
    /// `[G*H, I]`.
    pub weight_ih: Array2<f64>,
    /// `[G*H, H]`.
    pub weight_hh: Array2<f64>,
    /// `[G*H]`.
    pub bias_ih: Array1<f64>,
    /// `[G*H]`.
    pub bias_hh: Array1<f64>,
}

/// One fixture, with every tensor checked against the declared sizes.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// Where it was read from.
    pub path: PathBuf,
    /// Which cell.
    pub cell: Cell,
    /// `T`, `B`, `I`, `H`.
    pub seq_len: usize,
    /// `B`.
    pub batch: usize,
    /// `I`.
    pub input_size: usize,
    /// `H`.
    pub hidden_size: usize,
    /// The parameters.
    pub params: LayerTensors,
    /// `x: [T, B, I]`.
    pub x: Array3<f64>,
    /// `h0: [B, H]`.
    pub h0: Array2<f64>,
    /// `c0: [B, H]` (LSTM only).
    pub c0: Option<Array2<f64>>,
    /// Expected `y: [T, B, H]`.
    pub y: Array3<f64>,
    /// Expected `h_n: [B, H]`.
    pub h_n: Array2<f64>,
    /// Expected `c_n: [B, H]` (LSTM only).
    pub c_n: Option<Array2<f64>>,
    /// `dL/dy: [T, B, H]`.
    pub grad_y: Array3<f64>,
    /// `dL/dh_n: [B, H]`, if the loss uses `h_n`.
    pub grad_h_n: Option<Array2<f64>>,
    /// `dL/dc_n: [B, H]`, if the loss uses `c_n` (LSTM only).
    pub grad_c_n: Option<Array2<f64>>,
    /// Expected parameter gradients.
    pub grads: LayerTensors,
    /// Expected `dL/dx: [T, B, I]`.
    pub grad_x: Array3<f64>,
    /// Expected `dL/dh0: [B, H]`.
    pub grad_h0: Array2<f64>,
    /// Expected `dL/dc0: [B, H]` (LSTM only).
    pub grad_c0: Option<Array2<f64>>,
}

/// Reads and validates one fixture file.
pub fn load(path: &Path) -> Result<Fixture, FixtureError> {
    let err = |field: &str, message: String| FixtureError {
        file: path.to_path_buf(),
        field: field.to_string(),
        message,
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| err("(file)", format!("cannot read: {e}")))?;
    parse(path, &text)
}

/// Validates the text of a fixture as [`load`] does; `path` names it in errors.
pub fn parse(path: &Path, text: &str) -> Result<Fixture, FixtureError> {
    let err = |field: &str, message: String| FixtureError {
        file: path.to_path_buf(),
        field: field.to_string(),
        message,
    };
    let root: Value = serde_json::from_str(text)
        .map_err(|e| err("(file)", format!("not valid JSON: {e}")))?;
    let r = Reader { path, root: &root };

    let format = r.string("format")?;
    if format != FORMAT {
        return Err(err(
            "format",
            format!("expected \"{FORMAT}\", found \"{format}\""),
        ));
    }
    let cell_name = r.string("cell")?;
    let cell = Cell::from_name(&cell_name).ok_or_else(|| {
        err(
            "cell",
            format!("unknown cell \"{cell_name}\" (rnn_tanh, lstm, gru, gru_cho)"),
        )
    })?;
    let dtype = r.string("dtype")?;
    if dtype != "f64" {
        return Err(err("dtype", format!("expected \"f64\", found \"{dtype}\"")));
    }
    let (t, b, i, h) = (
        r.size("seq_len")?,
        r.size("batch")?,
        r.size("input_size")?,
        r.size("hidden_size")?,
    );
    let gh = cell.gates() * h;
    let lstm = cell == Cell::Lstm;
    let layer = |prefix: &str| -> Result<LayerTensors, FixtureError> {
        Ok(LayerTensors {
            weight_ih: r.array2(&format!("{prefix}.weight_ih"), (gh, i))?,
            weight_hh: r.array2(&format!("{prefix}.weight_hh"), (gh, h))?,
            bias_ih: r.array1(&format!("{prefix}.bias_ih"), gh)?,
            bias_hh: r.array1(&format!("{prefix}.bias_hh"), gh)?,
        })
    };
    let lstm_only = |field: &str| -> Result<Option<Array2<f64>>, FixtureError> {
        match (lstm, r.get(field).is_some()) {
            (true, _) => r.array2(field, (b, h)).map(Some),
            (false, false) => Ok(None),
            (false, true) => Err(err(
                field,
                format!("only an lstm fixture has this field, not {cell_name}"),
            )),
        }
    };
    let optional = |field: &str| -> Result<Option<Array2<f64>>, FixtureError> {
        if r.get(field).is_some() {
            r.array2(field, (b, h)).map(Some)
        } else {
            Ok(None)
        }
    };
    let grad_c_n = optional("grad_c_n")?;
    if grad_c_n.is_some() && !lstm {
        return Err(err(
            "grad_c_n",
            format!("only an lstm fixture has this field, not {cell_name}"),
        ));
    }
    Ok(Fixture {
        path: path.to_path_buf(),
        cell,
        seq_len: t,
        batch: b,
        input_size: i,
        hidden_size: h,
        params: layer("params")?,
        x: r.array3("inputs.x", (t, b, i))?,
        h0: r.array2("inputs.h0", (b, h))?,
        c0: lstm_only("inputs.c0")?,
        y: r.array3("outputs.y", (t, b, h))?,
        h_n: r.array2("outputs.h_n", (b, h))?,
        c_n: lstm_only("outputs.c_n")?,
        grad_y: r.array3("grad_y", (t, b, h))?,
        grad_h_n: optional("grad_h_n")?,
        grad_c_n,
        grads: layer("grads")?,
        grad_x: r.array3("grads.x", (t, b, i))?,
        grad_h0: r.array2("grads.h0", (b, h))?,
        grad_c0: lstm_only("grads.c0")?,
    })
}

/// Field access with errors that name the file and the field.
struct Reader<'a> {
    path: &'a Path,
    root: &'a Value,
}

impl Reader<'_> {
    fn error(&self, field: &str, message: impl Into<String>) -> FixtureError {
        FixtureError {
            file: self.path.to_path_buf(),
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// The value at a dotted path, if present.
    fn get(&self, field: &str) -> Option<&Value> {
        field.split('.').try_fold(self.root, |v, key| v.get(key))
    }

    fn required(&self, field: &str) -> Result<&Value, FixtureError> {
        self.get(field).ok_or_else(|| self.error(field, "missing"))
    }

    fn string(&self, field: &str) -> Result<String, FixtureError> {
        self.required(field)?
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| self.error(field, "expected a string"))
    }

    fn size(&self, field: &str) -> Result<usize, FixtureError> {
        let v = self.required(field)?;
        let n = v
            .as_u64()
            .filter(|&n| n > 0)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| {
                self.error(
                    field,
                    format!("expected a positive whole number, found {v}"),
                )
            })?;
        if n > MAX_SIZE {
            return Err(self.error(
                field,
                format!(
                    "{n} is over the largest size a fixture may declare, {MAX_SIZE}"
                ),
            ));
        }
        Ok(n)
    }

    /// A nested list of numbers of exactly `shape`.
    fn array(
        &self,
        field: &str,
        shape: &[usize],
    ) -> Result<ArrayD<f64>, FixtureError> {
        let entries = shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .filter(|&n| n <= MAX_ENTRIES)
            .ok_or_else(|| {
                self.error(
                    field,
                    format!(
                        "its declared shape {shape:?} is over the most entries an array \
                         may have, {MAX_ENTRIES}"
                    ),
                )
            })?;
        // Grown as entries are read: the declared shape is not trusted until the data
        // present matches it.
        let mut data = Vec::with_capacity(entries.min(1 << 12));
        self.flatten(self.required(field)?, field.to_string(), shape, &mut data)?;
        Ok(ArrayD::from_shape_vec(IxDyn(shape), data)
            .expect("flatten checked every length"))
    }

    fn flatten(
        &self,
        v: &Value,
        at: String,
        shape: &[usize],
        out: &mut Vec<f64>,
    ) -> Result<(), FixtureError> {
        match shape.split_first() {
            None => {
                let x = v.as_f64().ok_or_else(|| {
                    self.error(&at, format!("expected a number, found {v}"))
                })?;
                if !x.is_finite() {
                    return Err(self.error(&at, "not a finite number"));
                }
                out.push(x);
                Ok(())
            }
            Some((&len, rest)) => {
                let list = v.as_array().ok_or_else(|| {
                    self.error(
                        &at,
                        format!("expected a list of {len}, found {}", kind(v)),
                    )
                })?;
                if list.len() != len {
                    return Err(self.error(
                        &at,
                        format!("expected {len} entries, found {}", list.len()),
                    ));
                }
                for (k, item) in list.iter().enumerate() {
                    self.flatten(item, format!("{at}[{k}]"), rest, out)?;
                }
                Ok(())
            }
        }
    }

    fn array1(&self, field: &str, n: usize) -> Result<Array1<f64>, FixtureError> {
        Ok(self.array(field, &[n])?.into_dimensionality().expect("1-D"))
    }

    fn array2(
        &self,
        field: &str,
        (a, b): (usize, usize),
    ) -> Result<Array2<f64>, FixtureError> {
        Ok(self
            .array(field, &[a, b])?
            .into_dimensionality()
            .expect("2-D"))
    }

    fn array3(
        &self,
        field: &str,
        (a, b, c): (usize, usize, usize),
    ) -> Result<Array3<f64>, FixtureError> {
        Ok(self
            .array(field, &[a, b, c])?
            .into_dimensionality()
            .expect("3-D"))
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn a_ragged_array_is_named_down_to_the_row() {
        let r = Reader {
            path: Path::new("f.json"),
            root: &serde_json::json!({"a": {"b": [[1.0, 2.0], [3.0]]}}),
        };
        let e = r.array("a.b", &[2, 2]).unwrap_err();
        assert_eq!(e.field, "a.b[1]");
        assert!(e.message.contains("expected 2 entries, found 1"), "{e}");
    }

    #[test]
    fn a_string_in_place_of_a_number_is_named() {
        let r = Reader {
            path: Path::new("f.json"),
            root: &serde_json::json!({"v": [1.0, "x"]}),
        };
        let e = r.array("v", &[2]).unwrap_err();
        assert_eq!(e.field, "v[1]");
    }

    #[test]
    fn not_json_and_missing_files_are_errors_naming_the_file() {
        let (_d, path) = write("{ not json");
        let e = load(&path).unwrap_err();
        assert!(
            e.to_string().contains("f.json") && e.message.contains("not valid JSON"),
            "{e}"
        );
        let e = load(Path::new("/nonexistent/fixture.json")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/fixture.json"), "{e}");
    }

    /// The header of a valid one-step RNN fixture with `hidden_size` replaced.
    fn header(hidden_size: &str) -> String {
        format!(
            r#"{{"format": "{FORMAT}", "cell": "rnn_tanh", "dtype": "f64",
                "seq_len": 1, "batch": 1, "input_size": 1, "hidden_size": {hidden_size},
                "params": {{"weight_ih": [[0.5]]}}}}"#
        )
    }

    /// Issue 17's report: a header claiming `hidden_size` 10¹² once aborted on a
    /// 16 TB allocation before a single entry was read.
    #[test]
    fn a_size_over_the_bound_is_refused_before_anything_is_allocated() {
        let e = parse(Path::new("big.json"), &header("1000000000000")).unwrap_err();
        assert_eq!(e.field, "hidden_size");
        assert!(e.message.contains("over the largest size"), "{e}");
        let e = parse(Path::new("big.json"), &header("18446744073709551615"))
            .unwrap_err();
        assert_eq!(e.field, "hidden_size");
        // Within the bound, the data present is checked before it is trusted.
        let e = parse(Path::new("big.json"), &header("100000")).unwrap_err();
        assert_eq!(e.field, "params.weight_ih");
        assert!(
            e.message.contains("expected 100000 entries, found 1"),
            "{e}"
        );
    }

    #[test]
    fn an_array_whose_declared_shape_is_too_large_is_refused() {
        let r = Reader {
            path: Path::new("f.json"),
            root: &serde_json::json!({"a": [[1.0]]}),
        };
        for shape in [[MAX_SIZE, MAX_SIZE], [usize::MAX, 2]] {
            let e = r.array("a", &shape).unwrap_err();
            assert_eq!(e.field, "a");
            assert!(e.message.contains("most entries"), "{e}");
        }
    }

    #[test]
    fn a_wrong_format_tag_is_refused() {
        let (_d, path) = write(r#"{"format": "something-else"}"#);
        let e = load(&path).unwrap_err();
        assert_eq!(e.field, "format");
    }
}

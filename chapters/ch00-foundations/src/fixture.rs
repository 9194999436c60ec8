//! Reading PyTorch reference fixtures (`rnnbook-fixture-v1`, DESIGN §4).
//!
//! Every problem in a file (not JSON, a missing field, a ragged or wrongly sized
//! array, a value that is not a number, a size over [`MAX_SIZE`] or an array over
//! [`MAX_ENTRIES`]) is a [`FixtureError`] naming the file and the field; nothing
//! panics. Nothing is allocated from a declared size before the data present has
//! been checked against it: an array grows only as its entries are read.
//!
//! A file with `num_layers` or `bidirectional` is a stacked fixture
//! ([`StackedFixture`]): its parameters are keyed by PyTorch's `state_dict` names
//! (`weight_ih_l0`, …, `bias_hh_l1_reverse`) and its states are `[L·D, B, H]`.
//! [`load_any`] reads either format; [`load`] reads the single-layer one only.

use std::collections::HashSet;
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
///
/// A stacked or bidirectional file (one with `num_layers` or `bidirectional`) is
/// refused with an error naming that field: read it with [`parse_any`].
pub fn parse(path: &Path, text: &str) -> Result<Fixture, FixtureError> {
    parse_single(path, &parse_json(path, text)?)
}

/// The JSON of a fixture's text, or an error naming the file.
fn parse_json(path: &Path, text: &str) -> Result<Value, FixtureError> {
    serde_json::from_str(text).map_err(|e| FixtureError {
        file: path.to_path_buf(),
        field: "(file)".to_string(),
        message: format!("not valid JSON: {e}"),
    })
}

/// `(T, B, I, H)`.
type Sizes = (usize, usize, usize, usize);

/// The fields every fixture starts with: `format`, `cell`, `dtype` and the sizes
/// `(T, B, I, H)`.
fn header(r: &Reader) -> Result<(Cell, Sizes), FixtureError> {
    let format = r.string("format")?;
    if format != FORMAT {
        return Err(r.error(
            "format",
            format!("expected \"{FORMAT}\", found \"{format}\""),
        ));
    }
    let cell_name = r.string("cell")?;
    let cell = Cell::from_name(&cell_name).ok_or_else(|| {
        r.error(
            "cell",
            format!("unknown cell \"{cell_name}\" (rnn_tanh, lstm, gru, gru_cho)"),
        )
    })?;
    let dtype = r.string("dtype")?;
    if dtype != "f64" {
        return Err(r.error("dtype", format!("expected \"f64\", found \"{dtype}\"")));
    }
    let sizes = (
        r.size("seq_len")?,
        r.size("batch")?,
        r.size("input_size")?,
        r.size("hidden_size")?,
    );
    Ok((cell, sizes))
}

/// The top-level fields that make a file stacked or bidirectional.
const STACKED_KEYS: [&str; 2] = ["num_layers", "bidirectional"];

/// The first of [`STACKED_KEYS`] the file has, if any.
fn stacked_key(root: &Value) -> Option<&'static str> {
    STACKED_KEYS.into_iter().find(|k| root.get(k).is_some())
}

fn parse_single(path: &Path, root: &Value) -> Result<Fixture, FixtureError> {
    let err = |field: &str, message: String| FixtureError {
        file: path.to_path_buf(),
        field: field.to_string(),
        message,
    };
    let r = Reader { path, root };
    if let Some(key) = stacked_key(root) {
        return Err(err(
            key,
            "a stacked or bidirectional fixture: read it with load_any or parse_any"
                .to_string(),
        ));
    }
    let (cell, (t, b, i, h)) = header(&r)?;
    let cell_name = cell.name();
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

/// The most layers a stacked fixture may declare. PyTorch's own tests stack a few.
pub const MAX_LAYERS: usize = 64;

/// A stacked or bidirectional fixture (`num_layers`, `bidirectional`), every tensor
/// checked against the declared sizes.
///
/// `D` is the number of directions: 2 if `bidirectional`, else 1. Layer `l`,
/// direction `d` (0 forward, 1 reverse) is entry `l·D + d` of `params`, `grads`
/// and every state. Layer 0 reads `I` inputs, layer `l > 0` reads `D·H`.
#[derive(Debug, Clone)]
pub struct StackedFixture {
    /// Where it was read from.
    pub path: PathBuf,
    /// Which cell: `rnn_tanh`, `lstm` or `gru` (PyTorch has no stacked `gru_cho`).
    pub cell: Cell,
    /// `T`.
    pub seq_len: usize,
    /// `B`.
    pub batch: usize,
    /// `I`, the input size of layer 0.
    pub input_size: usize,
    /// `H`.
    pub hidden_size: usize,
    /// `L`, 1 to [`MAX_LAYERS`].
    pub num_layers: usize,
    /// Whether each layer runs in both directions.
    pub bidirectional: bool,
    /// The parameters, `L·D` of them, entry `l·D + d`: `weight_ih [G*H, I]` for
    /// layer 0 and `[G*H, D·H]` above it.
    pub params: Vec<LayerTensors>,
    /// `x: [T, B, I]`.
    pub x: Array3<f64>,
    /// `h0: [L·D, B, H]`.
    pub h0: Array3<f64>,
    /// `c0: [L·D, B, H]` (LSTM only).
    pub c0: Option<Array3<f64>>,
    /// Expected `y: [T, B, D·H]`, the top layer's output, forward features first.
    pub y: Array3<f64>,
    /// Expected `h_n: [L·D, B, H]`.
    pub h_n: Array3<f64>,
    /// Expected `c_n: [L·D, B, H]` (LSTM only).
    pub c_n: Option<Array3<f64>>,
    /// `dL/dy: [T, B, D·H]`.
    pub grad_y: Array3<f64>,
    /// `dL/dh_n: [L·D, B, H]`, if the loss uses `h_n`.
    pub grad_h_n: Option<Array3<f64>>,
    /// `dL/dc_n: [L·D, B, H]`, if the loss uses `c_n` (LSTM only).
    pub grad_c_n: Option<Array3<f64>>,
    /// Expected parameter gradients, laid out as `params`.
    pub grads: Vec<LayerTensors>,
    /// Expected `dL/dx: [T, B, I]`.
    pub grad_x: Array3<f64>,
    /// Expected `dL/dh0: [L·D, B, H]`.
    pub grad_h0: Array3<f64>,
    /// Expected `dL/dc0: [L·D, B, H]` (LSTM only).
    pub grad_c0: Option<Array3<f64>>,
}

impl StackedFixture {
    /// `D`: 2 if bidirectional, else 1.
    pub fn directions(&self) -> usize {
        1 + usize::from(self.bidirectional)
    }
}

/// PyTorch's `state_dict` suffix of layer `layer`, direction `direction`:
/// `_l0`, `_l0_reverse`, `_l1`, … (direction 1 is the reverse one).
pub fn param_suffix(layer: usize, direction: usize) -> String {
    let reverse = if direction == 1 { "_reverse" } else { "" };
    format!("_l{layer}{reverse}")
}

/// The four tensor names of a layer, in PyTorch's order.
pub const TENSOR_NAMES: [&str; 4] = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"];

/// A fixture of either format.
#[derive(Debug, Clone)]
// Read once per file and never moved in a loop: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum AnyFixture {
    /// One layer, one direction (no `num_layers`, no `bidirectional`).
    Single(Fixture),
    /// Stacked or bidirectional.
    Stacked(StackedFixture),
}

impl AnyFixture {
    /// Where it was read from.
    pub fn path(&self) -> &Path {
        match self {
            AnyFixture::Single(f) => &f.path,
            AnyFixture::Stacked(f) => &f.path,
        }
    }

    /// Which cell.
    pub fn cell(&self) -> Cell {
        match self {
            AnyFixture::Single(f) => f.cell,
            AnyFixture::Stacked(f) => f.cell,
        }
    }
}

/// Reads and validates one fixture file of either format.
pub fn load_any(path: &Path) -> Result<AnyFixture, FixtureError> {
    let text = std::fs::read_to_string(path).map_err(|e| FixtureError {
        file: path.to_path_buf(),
        field: "(file)".to_string(),
        message: format!("cannot read: {e}"),
    })?;
    parse_any(path, &text)
}

/// Validates the text of a fixture as [`load_any`] does; `path` names it in errors.
///
/// A file with `num_layers` or `bidirectional` is read as a [`StackedFixture`]
/// (and then must have both); any other as a single-layer [`Fixture`], exactly as
/// [`parse`] reads it.
pub fn parse_any(path: &Path, text: &str) -> Result<AnyFixture, FixtureError> {
    let root = parse_json(path, text)?;
    if stacked_key(&root).is_some() {
        parse_stacked(path, &root).map(AnyFixture::Stacked)
    } else {
        parse_single(path, &root).map(AnyFixture::Single)
    }
}

fn parse_stacked(path: &Path, root: &Value) -> Result<StackedFixture, FixtureError> {
    let r = Reader { path, root };
    let (cell, (t, b, i, h)) = header(&r)?;
    if cell == Cell::GruCho {
        return Err(r.error(
            "cell",
            "gru_cho has no stacked or bidirectional format (PyTorch has no reset-before \
             GRU to stack); a gru_cho fixture is single-layer",
        ));
    }
    let layers = r.count(
        "num_layers",
        MAX_LAYERS,
        "the most layers a fixture may declare",
    )?;
    let bidirectional = r.boolean("bidirectional")?;
    let d = 1 + usize::from(bidirectional);
    let (lstm, gh, ld) = (cell == Cell::Lstm, cell.gates() * h, layers * d);

    // Every name is checked before any tensor is read, so that a leftover or
    // misspelt key is named, not only the key it displaced.
    let names: Vec<(usize, String)> = (0..layers)
        .flat_map(|l| (0..d).map(move |dir| (l, param_suffix(l, dir))))
        .collect();
    let expected: HashSet<String> = names
        .iter()
        .flat_map(|(_, suffix)| TENSOR_NAMES.map(|n| format!("{n}{suffix}")))
        .collect();
    let shape = format!(
        "{layers}-layer {} {}",
        if bidirectional {
            "bidirectional"
        } else {
            "one-directional"
        },
        cell.name()
    );
    for group in ["params", "grads"] {
        let Some(map) = r.get(group).and_then(Value::as_object) else {
            continue; // reading its first tensor names what is wrong
        };
        let extra = ["x", "h0", "c0"];
        let allowed = |k: &str| {
            expected.contains(k) || (group == "grads" && extra.contains(&k))
        };
        if let Some(key) = map.keys().find(|k| !allowed(k)) {
            let message = if TENSOR_NAMES.contains(&key.as_str()) {
                format!(
                    "a single-layer name in a stacked fixture: name it by layer and \
                     direction, as PyTorch's state_dict does ({key}_l0, …)"
                )
            } else {
                format!("not a parameter of a {shape}")
            };
            return Err(r.error(&format!("{group}.{key}"), message));
        }
    }

    let layer = |prefix: &str| -> Result<Vec<LayerTensors>, FixtureError> {
        names
            .iter()
            .map(|(l, suffix)| {
                let fan_in = if *l == 0 { i } else { d * h };
                Ok(LayerTensors {
                    weight_ih: r.array2(
                        &format!("{prefix}.weight_ih{suffix}"),
                        (gh, fan_in),
                    )?,
                    weight_hh: r
                        .array2(&format!("{prefix}.weight_hh{suffix}"), (gh, h))?,
                    bias_ih: r.array1(&format!("{prefix}.bias_ih{suffix}"), gh)?,
                    bias_hh: r.array1(&format!("{prefix}.bias_hh{suffix}"), gh)?,
                })
            })
            .collect()
    };
    // `[L·D, B, H]`, with a hint when the number of states is wrong.
    let states = |field: &str| -> Result<Array3<f64>, FixtureError> {
        r.array3(field, (ld, b, h)).map_err(|mut e| {
            if e.field == field && e.message.starts_with("expected") {
                e.message.push_str(&format!(
                    " (one [B, H] state per layer and direction: L·D = {ld} of [{b}, {h}])"
                ));
            }
            e
        })
    };
    let lstm_only = |field: &str| -> Result<Option<Array3<f64>>, FixtureError> {
        match (lstm, r.get(field).is_some()) {
            (true, _) => states(field).map(Some),
            (false, false) => Ok(None),
            (false, true) => Err(r.error(
                field,
                format!("only an lstm fixture has this field, not {}", cell.name()),
            )),
        }
    };
    let optional = |field: &str| -> Result<Option<Array3<f64>>, FixtureError> {
        if r.get(field).is_some() {
            states(field).map(Some)
        } else {
            Ok(None)
        }
    };
    if !lstm && r.get("grad_c_n").is_some() {
        return Err(r.error(
            "grad_c_n",
            format!("only an lstm fixture has this field, not {}", cell.name()),
        ));
    }
    Ok(StackedFixture {
        path: path.to_path_buf(),
        cell,
        seq_len: t,
        batch: b,
        input_size: i,
        hidden_size: h,
        num_layers: layers,
        bidirectional,
        params: layer("params")?,
        x: r.array3("inputs.x", (t, b, i))?,
        h0: states("inputs.h0")?,
        c0: lstm_only("inputs.c0")?,
        y: r.array3("outputs.y", (t, b, d * h))?,
        h_n: states("outputs.h_n")?,
        c_n: lstm_only("outputs.c_n")?,
        grad_y: r.array3("grad_y", (t, b, d * h))?,
        grad_h_n: optional("grad_h_n")?,
        grad_c_n: optional("grad_c_n")?,
        grads: layer("grads")?,
        grad_x: r.array3("grads.x", (t, b, i))?,
        grad_h0: states("grads.h0")?,
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
        self.count(field, MAX_SIZE, "the largest size a fixture may declare")
    }

    /// A whole number from 1 to `max`, where `max` is `what`.
    fn count(
        &self,
        field: &str,
        max: usize,
        what: &str,
    ) -> Result<usize, FixtureError> {
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
        if n > max {
            return Err(self.error(field, format!("{n} is over {what}, {max}")));
        }
        Ok(n)
    }

    fn boolean(&self, field: &str) -> Result<bool, FixtureError> {
        let v = self.required(field)?;
        v.as_bool().ok_or_else(|| {
            self.error(field, format!("expected true or false, found {v}"))
        })
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

    /// A valid stacked fixture of zeros: `L` layers, bidirectional or not, with
    /// `T = B = I = 1`, `H = 2`.
    fn stacked(cell: &str, layers: usize, bidirectional: bool) -> Value {
        use serde_json::json;
        let d = 1 + usize::from(bidirectional);
        let (g, h) = (Cell::from_name(cell).unwrap().gates(), 2);
        let zeros = |shape: &[usize]| {
            shape
                .iter()
                .rev()
                .fold(json!(0.0), |inner, &n| Value::Array(vec![inner; n]))
        };
        let mut params = serde_json::Map::new();
        for l in 0..layers {
            for dir in 0..d {
                let s = param_suffix(l, dir);
                let fan_in = if l == 0 { 1 } else { d * h };
                params.insert(format!("weight_ih{s}"), zeros(&[g * h, fan_in]));
                params.insert(format!("weight_hh{s}"), zeros(&[g * h, h]));
                params.insert(format!("bias_ih{s}"), zeros(&[g * h]));
                params.insert(format!("bias_hh{s}"), zeros(&[g * h]));
            }
        }
        let state = zeros(&[layers * d, 1, h]);
        let mut grads = params.clone();
        grads.insert("x".into(), zeros(&[1, 1, 1]));
        grads.insert("h0".into(), state.clone());
        let mut v = json!({
            "format": FORMAT, "cell": cell, "dtype": "f64",
            "seq_len": 1, "batch": 1, "input_size": 1, "hidden_size": h,
            "num_layers": layers, "bidirectional": bidirectional,
            "params": params,
            "inputs": {"x": zeros(&[1, 1, 1]), "h0": state},
            "outputs": {"y": zeros(&[1, 1, d * h]), "h_n": state},
            "grad_y": zeros(&[1, 1, d * h]), "grad_h_n": state,
            "grads": grads,
        });
        if cell == "lstm" {
            v["inputs"]["c0"] = state.clone();
            v["outputs"]["c_n"] = state.clone();
            v["grad_c_n"] = state.clone();
            v["grads"]["c0"] = state;
        }
        v
    }

    fn parse_value(v: &Value) -> Result<AnyFixture, FixtureError> {
        parse_any(Path::new("s.json"), &v.to_string())
    }

    fn stacked_error(v: &Value) -> FixtureError {
        parse_value(v).unwrap_err()
    }

    #[test]
    fn a_stacked_fixture_is_read_layer_by_layer_direction_within() {
        for cell in ["rnn_tanh", "lstm", "gru"] {
            let Ok(AnyFixture::Stacked(f)) = parse_value(&stacked(cell, 2, true))
            else {
                panic!("{cell}: not read as stacked");
            };
            assert_eq!((f.num_layers, f.directions()), (2, 2));
            assert_eq!(f.params.len(), 4);
            let g = f.cell.gates();
            // layer 0 reads I = 1 input, layer 1 reads D·H = 4
            assert_eq!(f.params[1].weight_ih.dim(), (g * 2, 1));
            assert_eq!(f.params[2].weight_ih.dim(), (g * 2, 4));
            assert_eq!(f.h0.dim(), (4, 1, 2));
            assert_eq!(f.y.dim(), (1, 1, 4));
            assert_eq!(f.c0.is_some(), cell == "lstm");
        }
        let Ok(AnyFixture::Stacked(f)) = parse_value(&stacked("gru", 3, false))
        else {
            panic!("not read as stacked");
        };
        assert_eq!((f.params.len(), f.grads.len(), f.h_n.dim().0), (3, 3, 3));
    }

    #[test]
    fn parse_any_reads_a_single_layer_file_as_parse_does() {
        let mut v = stacked("rnn_tanh", 1, false);
        let root = v.as_object_mut().unwrap();
        root.remove("num_layers");
        root.remove("bidirectional");
        // No stacked keys: the single-layer reader, which wants `weight_ih`.
        let e = stacked_error(&v);
        assert_eq!(e.field, "params.weight_ih");
        assert!(e.message.contains("missing"), "{e}");
    }

    #[test]
    fn parse_refuses_a_stacked_file_pointing_to_parse_any() {
        let e = parse(Path::new("s.json"), &stacked("lstm", 2, false).to_string())
            .unwrap_err();
        assert_eq!(e.field, "num_layers");
        assert!(e.message.contains("load_any"), "{e}");
    }

    #[test]
    fn num_layers_out_of_range_is_refused_before_anything_is_read() {
        for (n, says) in [
            (serde_json::json!(0), "positive whole number"),
            (serde_json::json!(MAX_LAYERS + 1), "most layers"),
            (serde_json::json!(u64::MAX), "most layers"),
            (serde_json::json!(1.5), "positive whole number"),
        ] {
            let mut v = stacked("rnn_tanh", 1, false);
            v["num_layers"] = n;
            let e = stacked_error(&v);
            assert_eq!(e.field, "num_layers");
            assert!(e.message.contains(says), "{e}");
        }
        let mut v = stacked("rnn_tanh", 1, true);
        v.as_object_mut().unwrap().remove("num_layers");
        assert_eq!(stacked_error(&v).field, "num_layers");
    }

    #[test]
    fn bidirectional_must_be_a_boolean() {
        let mut v = stacked("gru", 1, true);
        v["bidirectional"] = serde_json::json!("yes");
        let e = stacked_error(&v);
        assert_eq!(e.field, "bidirectional");
        assert!(e.message.contains("true or false"), "{e}");
    }

    #[test]
    fn a_stacked_gru_cho_is_refused() {
        let mut v = stacked("gru", 2, false);
        v["cell"] = serde_json::json!("gru_cho");
        let e = stacked_error(&v);
        assert_eq!(e.field, "cell");
        assert!(e.message.contains("reset-before"), "{e}");
    }

    #[test]
    fn a_leftover_single_layer_name_is_named() {
        let mut v = stacked("rnn_tanh", 2, true);
        v["params"]["weight_ih"] = serde_json::json!([[0.0]]);
        let e = stacked_error(&v);
        assert_eq!(e.field, "params.weight_ih");
        assert!(e.message.contains("weight_ih_l0"), "{e}");
    }

    #[test]
    fn a_parameter_of_another_network_is_named() {
        // a third layer's tensor in a 2-layer file; a reverse one in a
        // one-directional file; a gradient of neither
        for (group, key, bi) in [
            ("params", "weight_hh_l2", true),
            ("params", "bias_ih_l1_reverse", false),
            ("grads", "weight_hh_l0_backward", true),
        ] {
            let mut v = stacked("lstm", 2, bi);
            v[group][key] = serde_json::json!([0.0]);
            let e = stacked_error(&v);
            assert_eq!(e.field, format!("{group}.{key}"));
            assert!(e.message.contains("not a parameter of a 2-layer"), "{e}");
        }
    }

    #[test]
    fn a_missing_reverse_tensor_is_named() {
        let mut v = stacked("gru", 2, true);
        v["grads"]
            .as_object_mut()
            .unwrap()
            .remove("weight_hh_l1_reverse");
        let e = stacked_error(&v);
        assert_eq!(e.field, "grads.weight_hh_l1_reverse");
        assert!(e.message.contains("missing"), "{e}");
    }

    #[test]
    fn a_layer_above_the_first_reads_d_times_h_inputs() {
        let mut v = stacked("rnn_tanh", 2, true);
        // layer 1 of a bidirectional net reads 2·H = 4 features, not I = 1
        v["params"]["weight_ih_l1_reverse"] = serde_json::json!([[0.0], [0.0]]);
        let e = stacked_error(&v);
        assert_eq!(e.field, "params.weight_ih_l1_reverse[0]");
        assert!(e.message.contains("expected 4 entries, found 1"), "{e}");
    }

    #[test]
    fn a_state_of_the_single_layer_shape_is_named_with_the_count_wanted() {
        let mut v = stacked("lstm", 2, true);
        // [B][H], the single-layer shape, where [L·D][B][H] = [4][1][2] is wanted
        v["inputs"]["h0"] = serde_json::json!([[0.0, 0.0]]);
        let e = stacked_error(&v);
        assert_eq!(e.field, "inputs.h0");
        assert!(
            e.message.contains("expected 4 entries, found 1")
                && e.message.contains("L·D = 4"),
            "{e}"
        );
        let mut v = stacked("lstm", 2, false);
        v["grads"]["c0"][1][0] = serde_json::json!([0.0]);
        assert_eq!(stacked_error(&v).field, "grads.c0[1][0]");
    }

    #[test]
    fn c_fields_in_a_stacked_non_lstm_file_are_refused() {
        for field in ["grad_c_n", "outputs.c_n"] {
            let mut v = stacked("gru", 1, true);
            let state = v["inputs"]["h0"].clone();
            match field.split_once('.') {
                Some((a, b)) => v[a][b] = state,
                None => v[field] = state,
            }
            let e = stacked_error(&v);
            assert_eq!(e.field, field);
            assert!(e.message.contains("only an lstm"), "{e}");
        }
    }

    #[test]
    fn the_largest_stacked_sizes_are_checked_on_the_data_present() {
        let mut v = stacked("lstm", MAX_LAYERS, true);
        for field in ["seq_len", "batch", "hidden_size"] {
            v[field] = serde_json::json!(MAX_SIZE);
        }
        // the first tensor read is short of its declared [4·10⁵, 1]: refused
        // there, with nothing allocated for the 128 states of [10⁵, 10⁵]
        let e = stacked_error(&v);
        assert_eq!(e.field, "params.weight_ih_l0");
        assert!(
            e.message.contains("expected 400000 entries, found 8"),
            "{e}"
        );
        // a declared shape over the bound is refused before its data is read:
        // weight_ih_l0 [10⁵, 10⁵]
        let mut v = stacked("rnn_tanh", 1, false);
        for field in ["input_size", "hidden_size"] {
            v[field] = serde_json::json!(MAX_SIZE);
        }
        let e = stacked_error(&v);
        assert_eq!(e.field, "params.weight_ih_l0");
        assert!(e.message.contains("most entries"), "{e}");
    }
}

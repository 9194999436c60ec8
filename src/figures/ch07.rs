//! Chapter 7's figures and results table, drawn from the committed study
//! (`chapters/ch07-experiments/data/runs/`, written by `rnnbook experiments`). The build never
//! trains: it reads the records, and for the gates figure runs the kept LSTM forward.

use anyhow::{Context, Result, bail};
use ch07_experiments::run::CellKind;
use ch07_experiments::study::{
    ADDING_LENGTHS, COPY_DELAYS, FORGET_BIASES, GATES_RUN, Outcome, Records, SEEDS,
};
use ch07_experiments::summary::{
    ADDING_SUCCESS_MSE, COPY_SUCCESS_ACCURACY, Spread, curve, final_by_length, final_metric,
    successes,
};
use plotters::prelude::*;

use super::Figure;
use super::style::{
    AXIS_TEXT, AxisText, BLUE, BookMesh, FONT, GREEN, GREY, NAVY, ORANGE, PANEL_AXIS_TEXT, PURPLE,
    SKY, draw_axes, draw_legend, plot_err, svg_document, svg_document_sized,
};

/// Chapter 7's figures, and the results table the page includes.
pub fn figures() -> Vec<Figure> {
    vec![
        Figure {
            file: "ch07-adding-length.svg",
            draw: adding_length,
        },
        Figure {
            file: "ch07-copy-length.svg",
            draw: copy_length,
        },
        Figure {
            file: "ch07-adding-curves.svg",
            draw: adding_curves,
        },
        Figure {
            file: "ch07-forget-bias.svg",
            draw: forget_bias,
        },
        Figure {
            file: "ch07-clipping.svg",
            draw: clipping,
        },
        Figure {
            file: "ch07-gates.svg",
            draw: gates,
        },
        Figure {
            file: "ch07-text.svg",
            draw: text_curves,
        },
        Figure {
            file: "ch07-results.md",
            draw: results_table,
        },
    ]
}

fn load() -> Result<Records> {
    Ok(Records::read(&Records::committed_dir())?)
}

/// Each cell's colour, the same in every figure of the chapter.
fn colour(cell: CellKind) -> RGBColor {
    match cell {
        CellKind::Rnn => ORANGE,
        CellKind::Lstm => BLUE,
        CellKind::Gru => GREEN,
        CellKind::GruCho => PURPLE,
    }
}

/// One line of a chart: its median over seeds, with the seeds' range drawn as a band.
struct Line {
    name: String,
    colour: RGBColor,
    dashed: bool,
    points: Vec<(f64, Spread)>,
}

/// A horizontal reference line.
struct Level {
    name: String,
    y: f64,
}

/// How a chart's axes are drawn.
#[derive(Clone)]
struct Axes {
    /// Lengths at their index (evenly spaced), labelled with the lengths.
    categories_x: bool,
    /// A log scale, ticked at whole decades.
    log_y: bool,
    /// A linear y axis from 0 (accuracies); otherwise fitted to the data.
    y_from_zero: bool,
    /// Where the legend goes.
    legend: SeriesLabelPosition,
    /// The data range the y axis must show, when panels share one; otherwise the lines' own.
    shared_y: Option<(f64, f64)>,
}

impl Axes {
    /// A chart against training steps, y fitted to the data.
    fn steps(log_y: bool, legend: SeriesLabelPosition) -> Axes {
        Axes {
            categories_x: false,
            log_y,
            y_from_zero: false,
            legend,
            shared_y: None,
        }
    }

    /// A chart against the measured lengths, evenly spaced.
    fn lengths(log_y: bool, legend: SeriesLabelPosition) -> Axes {
        Axes {
            categories_x: true,
            log_y,
            y_from_zero: !log_y,
            legend,
            shared_y: None,
        }
    }
}

/// The smallest and largest value `lines` (their ranges) and `levels` reach.
fn y_extent<'a>(lines: impl IntoIterator<Item = &'a Line>, levels: &[Level]) -> (f64, f64) {
    lines
        .into_iter()
        .flat_map(|l| l.points.iter().flat_map(|p| [p.1.min, p.1.max]))
        .chain(levels.iter().map(|l| l.y))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
            (a.min(y), b.max(y))
        })
}

/// A one-panel chart of `lines` (median and range) with reference `levels`.
fn spread_chart(
    title: &str,
    descs: (&str, &str),
    lines: &[Line],
    levels: &[Level],
    axes: Axes,
) -> Result<String> {
    svg_document(|root| spread_panel(root, (title, 18, AXIS_TEXT), descs, lines, levels, axes))
}

/// [`spread_chart`] drawn into `area`, with a caption of `title_size` points and axis text
/// `text`.
fn spread_panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    (title, title_size, text): (&str, u32, AxisText),
    (x_desc, y_desc): (&str, &str),
    lines: &[Line],
    levels: &[Level],
    axes: Axes,
) -> Result<()> {
    let Axes {
        categories_x: log_x,
        log_y,
        y_from_zero,
        legend: legend_at,
        shared_y,
    } = axes;
    let xs: Vec<f64> = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.0))
        .collect();
    if xs.is_empty() {
        bail!("{title}: the study has no records to draw");
    }
    let (x_lo, x_hi) = xs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let (y_lo, y_hi) = shared_y.unwrap_or_else(|| y_extent(lines, levels));
    // Lengths go at their index (evenly spaced, like a log axis for doubling lengths).
    let categories: Option<Vec<f64>> = log_x.then(|| {
        let mut c = xs.clone();
        c.sort_by(f64::total_cmp);
        c.dedup();
        c
    });
    let tx = |x: f64| match &categories {
        Some(c) => c.iter().position(|&v| v == x).expect("a measured length") as f64,
        None => x,
    };
    let ty = |y: f64| if log_y { y.max(1e-6).log10() } else { y };
    let (x0, x1) = (tx(x_lo), tx(x_hi));
    let pad = (x1 - x0).max(1e-9) * 0.04;
    let (y0, y1) = if log_y {
        (ty(y_lo).floor(), ty(y_hi).ceil())
    } else if y_from_zero {
        (0.0, y_hi.max(1.0) * 1.05)
    } else {
        let margin = (y_hi - y_lo).max(1e-9) * 0.1;
        (y_lo - margin, y_hi + margin)
    };
    {
        let root = area;
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, title_size))
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(64)
            .build_cartesian_2d(x0 - pad..x1 + pad, y0..y1)
            .map_err(plot_err)?;
        // Ticks where they mean something: the measured lengths (plotted at their index), whole
        // decades on a log scale, round numbers otherwise.
        let whole = |v: f64| (v - v.round()).abs() < 1e-6;
        let x_fmt = |v: &f64| match &categories {
            Some(c) if whole(*v) && *v >= 0.0 => c
                .get(v.round() as usize)
                .map_or(String::new(), |x| format!("{x:.0}")),
            Some(_) => String::new(),
            None => format!("{v:.0}"),
        };
        let y_fmt = |v: &f64| {
            if !log_y {
                format!("{v:.1}")
            } else if whole(*v) {
                format!("1e{v:.0}")
            } else {
                String::new()
            }
        };
        let x_ticks = categories.as_ref().map_or(7, Vec::len);
        let y_ticks = if log_y { (y1 - y0) as usize + 1 } else { 6 };
        chart
            .configure_mesh()
            .x_labels(x_ticks)
            .y_labels(y_ticks)
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .book_style(text)
            .draw()
            .map_err(plot_err)?;
        for (k, level) in levels.iter().enumerate() {
            let style = GREY.stroke_width(1);
            // The first level dashed, the second dotted, so the legend tells them apart.
            let (dash, gap): (i32, i32) = if k == 0 { (6, 4) } else { (2, 3) };
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(x0 - pad, ty(level.y)), (x1 + pad, ty(level.y))],
                    dash,
                    gap,
                    style,
                ))
                .map_err(plot_err)?
                .label(level.name.clone())
                .legend(move |(x, y)| {
                    // Three dashes of the line's own pattern.
                    let dash_at = |k: i32| {
                        let from = k * (dash + gap);
                        PathElement::new(vec![(from, 0), (from + dash, 0)], style)
                    };
                    EmptyElement::at((x, y)) + dash_at(0) + dash_at(1) + dash_at(2)
                });
        }
        for line in lines {
            let band: Vec<(f64, f64)> = line
                .points
                .iter()
                .map(|(x, s)| (tx(*x), ty(s.max)))
                .chain(line.points.iter().rev().map(|(x, s)| (tx(*x), ty(s.min))))
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(band, line.colour.mix(0.15))))
                .map_err(plot_err)?;
            let median: Vec<(f64, f64)> = line
                .points
                .iter()
                .map(|(x, s)| (tx(*x), ty(s.median)))
                .collect();
            let style = line.colour.stroke_width(2);
            let drawn = if line.dashed {
                chart
                    .draw_series(DashedLineSeries::new(median.clone(), 7, 4, style))
                    .map_err(plot_err)?
            } else {
                chart
                    .draw_series(LineSeries::new(median.clone(), style))
                    .map_err(plot_err)?
            };
            let dashed = line.dashed;
            drawn.label(line.name.clone()).legend(move |(x, y)| {
                let gap = if dashed { 6 } else { 0 };
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (7, 0)], style)
                    + PathElement::new(vec![(7 + gap, 0), (20, 0)], style)
            });
            chart
                .draw_series(
                    median
                        .iter()
                        .map(|&p| Circle::new(p, 3, line.colour.filled())),
                )
                .map_err(plot_err)?;
        }
        draw_legend(&mut chart, legend_at, 12)
    }
}

/// The seeds, for captions.
fn seeds() -> String {
    format!("{} seeds", SEEDS.len())
}

fn lengths_as_x(v: &[(usize, Spread)]) -> Vec<(f64, Spread)> {
    v.iter().map(|&(l, s)| (l as f64, s)).collect()
}

/// The four cells' final metric on `task` against its length, median and range over seeds.
fn by_length(task: &str, lengths: &[usize]) -> Result<Vec<Line>> {
    let data = load()?;
    Ok(CellKind::ALL
        .iter()
        .map(|&cell| Line {
            name: cell.name().to_string(),
            colour: colour(cell),
            dashed: cell == CellKind::GruCho,
            points: lengths_as_x(&final_by_length(&data, task, cell, lengths)),
        })
        .collect())
}

/// The adding problem: final test MSE against `T`, per cell.
fn adding_length() -> Result<String> {
    spread_chart(
        &format!(
            "Adding problem: test MSE after training, against T (median and range, {})",
            seeds()
        ),
        ("sequence length T", "test MSE (log)"),
        &by_length("adding", &ADDING_LENGTHS)?,
        &[
            Level {
                name: "always answering 1: 1/6".into(),
                y: 1.0 / 6.0,
            },
            Level {
                name: format!("success: {ADDING_SUCCESS_MSE}"),
                y: ADDING_SUCCESS_MSE,
            },
        ],
        Axes::lengths(true, SeriesLabelPosition::UpperLeft),
    )
}

/// The copy task: final recall accuracy against the delay, per cell.
fn copy_length() -> Result<String> {
    spread_chart(
        &format!(
            "Copy task (3 of 8 symbols): recall accuracy against the delay ({})",
            seeds()
        ),
        ("delay T", "recall accuracy"),
        &by_length("copy", &COPY_DELAYS)?,
        &[Level {
            name: "guessing: 1/8".into(),
            y: 0.125,
        }],
        Axes::lengths(false, SeriesLabelPosition::MiddleRight),
    )
}

fn steps_as_x(v: Vec<(u64, Spread)>) -> Vec<(f64, Spread)> {
    v.into_iter().map(|(s, m)| (s as f64, m)).collect()
}

/// Learning curves of the adding problem at T = 100.
fn adding_curves() -> Result<String> {
    let data = load()?;
    let lines: Vec<Line> = CellKind::ALL
        .iter()
        .map(|&cell| Line {
            name: cell.name().to_string(),
            colour: colour(cell),
            dashed: cell == CellKind::GruCho,
            points: steps_as_x(curve(
                &data,
                "length",
                &format!("adding-T100-{}", cell.name()),
            )),
        })
        .collect();
    spread_chart(
        &format!(
            "Adding problem, T = 100: test MSE while training ({})",
            seeds()
        ),
        ("training step", "test MSE (log)"),
        &lines,
        &[Level {
            name: "always answering 1: 1/6".into(),
            y: 1.0 / 6.0,
        }],
        Axes::steps(true, SeriesLabelPosition::LowerLeft),
    )
}

/// The LSTM on the copy task's longest delay with its forget-gate bias raised, and with the
/// chrono initialisation.
fn forget_bias() -> Result<String> {
    let data = load()?;
    let delay = COPY_DELAYS[COPY_DELAYS.len() - 1];
    // Shades of one colour: the bias is one knob turned further; chrono is another kind.
    let colours = [SKY, BLUE, NAVY];
    let mut lines: Vec<Line> = FORGET_BIASES
        .iter()
        .zip(colours)
        .map(|(&b, colour)| {
            let (group, setting) = if b == 0.0 {
                ("length", format!("copy-T{delay}-lstm"))
            } else {
                ("forget-bias", format!("copy-T{delay}-lstm-bias{b}"))
            };
            Line {
                name: format!("LSTM, forget bias +{b}"),
                colour,
                dashed: false,
                points: steps_as_x(curve(&data, group, &setting)),
            }
        })
        .collect();
    lines.push(Line {
        name: "LSTM, chrono initialisation".to_string(),
        colour: BLACK,
        dashed: true,
        points: steps_as_x(curve(
            &data,
            "forget-bias",
            &format!("copy-T{delay}-lstm-chrono"),
        )),
    });
    spread_chart(
        &format!(
            "Copy task, delay {delay}: initialising the LSTM's forget gate ({})",
            seeds()
        ),
        ("training step", "recall accuracy"),
        &lines,
        &[Level {
            name: "guessing: 1/8".into(),
            y: 0.125,
        }],
        Axes {
            y_from_zero: true,
            ..Axes::steps(false, SeriesLabelPosition::UpperLeft)
        },
    )
}

/// The adding problem at T = 100 with and without clipping, one panel per cell on one scale.
fn clipping() -> Result<String> {
    let data = load()?;
    let panels: Vec<(CellKind, Vec<Line>)> = [CellKind::Rnn, CellKind::Lstm, CellKind::Gru]
        .into_iter()
        .map(|cell| {
            let name = cell.name();
            let line = |label: &str, dashed, group, setting: String| Line {
                name: label.to_string(),
                colour: colour(cell),
                dashed,
                points: steps_as_x(curve(&data, group, &setting)),
            };
            let lines = vec![
                line(
                    "clipped to norm 1",
                    false,
                    "length",
                    format!("adding-T100-{name}"),
                ),
                line(
                    "not clipped",
                    true,
                    "clipping",
                    format!("adding-T100-{name}-noclip"),
                ),
            ];
            (cell, lines)
        })
        .collect();
    let shared = y_extent(panels.iter().flat_map(|(_, l)| l), &[]);
    svg_document_sized((1000, 420), |root| {
        let root = root
            .titled(
                &format!(
                    "Adding problem, T = 100: with and without clipping ({})",
                    seeds()
                ),
                (FONT, 19),
            )
            .map_err(plot_err)?;
        for (area, (cell, lines)) in root.split_evenly((1, 3)).iter().zip(&panels) {
            spread_panel(
                area,
                (cell.name(), 15, PANEL_AXIS_TEXT),
                ("training step", "test MSE (log)"),
                lines,
                &[],
                Axes {
                    shared_y: Some(shared),
                    ..Axes::steps(true, SeriesLabelPosition::LowerLeft)
                },
            )?;
        }
        Ok(())
    })
}

/// The trained LSTM's input and forget gates over one test sequence of the adding problem: the
/// unit whose input gate opens most at the two marks, and the mean over all units.
fn gates() -> Result<String> {
    use ch00_foundations::notation::{LSTM_F, LSTM_I, gate_rows};
    use ch02_bptt::driver::Cell;
    use ch04_lstm::{Lstm, LstmState};
    use ch07_experiments::run::test_batch;
    use ch07_experiments::study::What;
    use ch07_experiments::task::Adding;

    let data = load()?;
    let record = data
        .records
        .iter()
        .find(|r| r.spec.id == GATES_RUN)
        .with_context(|| format!("the study has no record {GATES_RUN}"))?;
    let (Outcome::Task(result), What::Task { config, .. }) = (&record.outcome, &record.spec.what)
    else {
        bail!("{GATES_RUN} is not a task run");
    };
    let model = result
        .lstm
        .as_ref()
        .with_context(|| format!("the record {GATES_RUN} keeps no model"))?;
    let seq_len = 100;
    // The first sequence of the run's own test batch, which training never saw.
    let test = test_batch(&Adding { seq_len }, config);
    let x = test.x.slice(ndarray::s![.., 0..1, ..]);
    let marked: Vec<usize> = (0..seq_len).filter(|&t| x[[t, 0, 1]] == 1.0).collect();
    let &[first, second] = marked.as_slice() else {
        bail!(
            "a test sequence of the adding problem has {} marks, not 2",
            marked.len()
        );
    };
    let h = config.hidden;
    let mut state = LstmState::zeros(1, h);
    // Per step, every unit's input and forget gate.
    let (mut i_t, mut f_t) = (Vec::new(), Vec::new());
    for t in 0..seq_len {
        let (next, cache) = Lstm::step(&model.cell, x.index_axis(ndarray::Axis(0), t), &state);
        let row = |k| cache.gates.slice(ndarray::s![0, gate_rows(k, h)]).to_vec();
        i_t.push(row(LSTM_I));
        f_t.push(row(LSTM_F));
        state = next;
    }
    // The unit whose input gate opens most at the two marks, against its own average.
    let mean_of = |g: &[Vec<f64>], u: usize| g.iter().map(|r| r[u]).sum::<f64>() / g.len() as f64;
    let unit = (0..h)
        .max_by(|&u, &v| {
            let rise = |u: usize| i_t[first][u] + i_t[second][u] - 2.0 * mean_of(&i_t, u);
            rise(u).total_cmp(&rise(v))
        })
        .expect("H ≥ 1");
    let trace = |g: &[Vec<f64>], u: usize| -> Vec<(f64, f64)> {
        g.iter()
            .enumerate()
            .map(|(t, r)| (t as f64, r[u]))
            .collect()
    };
    let mean_trace = |g: &[Vec<f64>]| -> Vec<(f64, f64)> {
        g.iter()
            .enumerate()
            .map(|(t, r)| (t as f64, r.iter().sum::<f64>() / r.len() as f64))
            .collect()
    };
    let input = trace(&i_t, unit);
    let forget = trace(&f_t, unit);
    let (input_mean, forget_mean) = (mean_trace(&i_t), mean_trace(&f_t));
    svg_document(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                "The gates of a trained LSTM (adding problem, T = 100) over one test sequence",
                (FONT, 17),
            )
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..(seq_len - 1) as f64, 0.0..1.05)
            .map_err(plot_err)?;
        draw_axes(
            &mut chart,
            ("step t", "gate value"),
            &|v| format!("{v:.0}"),
            &|v| format!("{v:.1}"),
        )?;
        for (t, label) in [(first, "first mark"), (second, "second mark")] {
            let style = GREY.stroke_width(1);
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(t as f64, 0.0), (t as f64, 1.0)],
                    5,
                    4,
                    style,
                ))
                .map_err(plot_err)?
                .label(format!("{label}, t = {t}"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        for (pts, name, c, width) in [
            (
                &input,
                format!("input gate i of unit {unit}"),
                ORANGE.mix(1.0),
                2,
            ),
            (
                &forget,
                format!("forget gate f of unit {unit}"),
                BLUE.mix(1.0),
                2,
            ),
            (
                &input_mean,
                "i, mean of all units".to_string(),
                ORANGE.mix(0.45),
                1,
            ),
            (
                &forget_mean,
                "f, mean of all units".to_string(),
                BLUE.mix(0.45),
                1,
            ),
        ] {
            let style = c.stroke_width(width);
            chart
                .draw_series(LineSeries::new(pts.clone(), style))
                .map_err(plot_err)?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        draw_legend(&mut chart, SeriesLabelPosition::Coordinate(470, 100), 12)
    })
}

/// Held-out bits per character of the character models while training.
fn text_curves() -> Result<String> {
    let data = load()?;
    let mut lines = Vec::new();
    for cell in CellKind::ALL {
        let runs: Vec<_> = data
            .texts()
            .filter(|(r, _)| r.spec.cell == cell)
            .map(|(_, t)| t)
            .collect();
        let Some(first) = runs.first() else { continue };
        let points = first
            .curve
            .iter()
            .filter_map(|p| {
                let at: Vec<f64> = runs
                    .iter()
                    .filter_map(|t| {
                        t.curve
                            .iter()
                            .find(|q| q.step == p.step)
                            .map(|q| q.test_bits)
                    })
                    .collect();
                Spread::of(&at).map(|s| (p.step as f64, s))
            })
            .collect();
        lines.push(Line {
            name: format!("{} ({} parameters)", cell.name(), first.parameters),
            colour: colour(cell),
            dashed: cell == CellKind::GruCho,
            points,
        });
    }
    if lines.is_empty() {
        bail!("the study has no text runs");
    }
    spread_chart(
        &format!(
            "Character models on the book: held-out bits per character ({})",
            seeds()
        ),
        ("training step", "bits per character, held-out text"),
        &lines,
        // The baselines (given on the page) lie far above the curves' end.
        &[],
        Axes::steps(false, SeriesLabelPosition::UpperRight),
    )
}

fn fmt_spread(s: Option<Spread>, digits: usize) -> String {
    match s {
        Some(s) => format!("{:.d$} ({:.d$}–{:.d$})", s.median, s.min, s.max, d = digits),
        None => "–".to_string(),
    }
}

/// One table row per length: every cell's final metric and how many seeds succeeded.
fn length_rows(
    s: &mut String,
    data: &Records,
    task: &str,
    lengths: &[usize],
    success: f64,
    digits: usize,
) {
    for t in lengths {
        let cells: Vec<String> = CellKind::ALL
            .iter()
            .map(|c| {
                let setting = format!("{task}-T{t}-{}", c.name());
                let (ok, n) = successes(data, "length", &setting, success);
                let spread = fmt_spread(final_metric(data, "length", &setting), digits);
                format!("{spread} · {ok}/{n}")
            })
            .collect();
        s.push_str(&format!("| {t} | {} |\n", cells.join(" | ")));
    }
}

/// The page's tables: every setting's final metric, successes, and the character models.
fn results_table() -> Result<String> {
    let data = load()?;
    // Where and at which commits the runs were measured, with how many runs each.
    let mut sources: Vec<((&str, &str), usize)> = Vec::new();
    for r in &data.records {
        let key = (r.cpu.as_str(), r.commit.as_str());
        match sources.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => sources.push((key, 1)),
        }
    }
    sources.sort_by_key(|s| std::cmp::Reverse(s.1));
    let sources: Vec<String> = sources
        .iter()
        .map(|((cpu, commit), n)| format!("{n} on {cpu} at commit `{commit}`"))
        .collect();
    let secs: f64 = data.records.iter().map(|r| r.wall_seconds).sum();
    let mut s = format!(
        "{} runs, measured {}; {:.0} minutes of one-thread training in all.\n\n",
        data.records.len(),
        sources.join(", "),
        secs / 60.0
    );
    s.push_str(
        "**Adding problem**: test MSE at the end (median, range over seeds) and seeds below \
         0.01.\n\n| T | rnn | lstm | gru | gru-cho |\n|---:|---|---|---|---|\n",
    );
    length_rows(
        &mut s,
        &data,
        "adding",
        &ADDING_LENGTHS,
        ADDING_SUCCESS_MSE,
        4,
    );
    s.push_str(
        "\n**Copy task** (3 of 8 symbols): recall accuracy at the end and seeds at 0.99 or \
         more.\n\n| delay | rnn | lstm | gru | gru-cho |\n|---:|---|---|---|---|\n",
    );
    length_rows(
        &mut s,
        &data,
        "copy",
        &COPY_DELAYS,
        COPY_SUCCESS_ACCURACY,
        3,
    );
    s.push_str("\n**Embedded Reber grammar**: accuracy on the symbol that repeats the branch.\n\n| rnn | lstm | gru | gru-cho |\n|---|---|---|---|\n");
    let reber: Vec<String> = CellKind::ALL
        .iter()
        .map(|c| {
            fmt_spread(
                final_metric(&data, "length", &format!("reber-{}", c.name())),
                3,
            )
        })
        .collect();
    s.push_str(&format!("| {} |\n", reber.join(" | ")));
    s.push_str("\n**Character models** on the book's pages, the last 10 % held out, an equal budget of parameters: held-out bits per character at the end.\n\n| cell | H | parameters | held-out bits/char | perplexity |\n|---|---:|---:|---|---:|\n");
    let mut samples = String::new();
    for cell in CellKind::ALL {
        let runs: Vec<_> = data.texts().filter(|(r, _)| r.spec.cell == cell).collect();
        let Some((first, result)) = runs.first() else {
            continue;
        };
        let bits: Vec<f64> = runs.iter().map(|(_, t)| t.final_test_bits).collect();
        let spread = Spread::of(&bits);
        let hidden = match &first.spec.what {
            ch07_experiments::study::What::Text { config } => config.hidden,
            _ => 0,
        };
        s.push_str(&format!(
            "| {} | {hidden} | {} | {} | {:.1} |\n",
            cell.name(),
            result.parameters,
            fmt_spread(spread, 3),
            2f64.powf(spread.map_or(f64::NAN, |s| s.median))
        ));
        let sample: String = result.sample.chars().take(240).collect();
        // A fence longer than any run of backticks in the sample, which is the book's own text.
        let longest = sample.split(|c| c != '`').map(str::len).max().unwrap_or(0);
        let fence = "`".repeat(longest.max(2) + 1);
        samples.push_str(&format!(
            "\n{} (seed {}):\n\n{fence}text\n{}\n{fence}\n",
            cell.name(),
            first.spec.id.rsplit("-s").next().unwrap_or("?"),
            wrap_sample(sample.trim_end(), crate::book::listings::LISTING_COLUMNS)
        ));
    }
    s.push_str(
        "\nSamples at temperature 0.8, each starting from the held-out text's first character \
         (a line longer than the page is broken where it reaches the edge):\n",
    );
    s.push_str(&samples);
    Ok(s)
}

/// `text` with every line longer than `width` characters broken into pieces of `width`.
fn wrap_sample(text: &str, width: usize) -> String {
    let mut out = Vec::new();
    for line in text.split('\n') {
        let chars: Vec<char> = line.chars().collect();
        if chars.is_empty() {
            out.push(String::new());
        }
        out.extend(chars.chunks(width).map(|c| c.iter().collect::<String>()));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_broken_at_the_page_width_and_keep_their_own_lines() {
        assert_eq!(wrap_sample("abcdefg\n\nxy", 3), "abc\ndef\ng\n\nxy");
        assert_eq!(wrap_sample("aé⊙b", 2), "aé\n⊙b");
    }

    #[test]
    fn the_committed_study_has_every_run_and_every_figure_draws() {
        let data = load().unwrap();
        let specs = ch07_experiments::study::study(false, 0);
        for spec in &specs {
            assert!(
                data.records.iter().any(|r| r.spec.id == spec.id),
                "no record for {}",
                spec.id
            );
        }
        let table = results_table().unwrap();
        assert!(table.contains("| 100 |") && table.contains("perplexity"));
    }
}

//! Chapter 8's figure: which inputs each half of a bidirectional layer's output reads.

use anyhow::{Result, bail};
use plotters::prelude::*;

use super::Figure;
use super::style::{BLUE, FONT, GREY, ORANGE, draw_axes, draw_legend, plot_err, svg_document};

/// Chapter 8's figures.
pub fn figures() -> Vec<Figure> {
    vec![Figure {
        file: "ch08-bidirectional-reach.svg",
        draw: bidirectional_reach,
    }]
}

/// `‖∂y_t/∂x_s‖` against `s` for the forward and the reverse half of `y_t`, on a log scale; the
/// exact zeros on the far side of `t` are left out and named in the legend.
fn bidirectional_reach() -> Result<String> {
    use ch08_beyond::reach::{REACH_HIDDEN, REACH_SEQ_LEN, REACH_STEP, input_reach};

    let r = input_reach(REACH_SEQ_LEN, REACH_STEP, REACH_HIDDEN);
    let nonzero = |v: &ndarray::Array1<f64>| -> Vec<(f64, f64)> {
        v.iter()
            .enumerate()
            .filter(|&(_, &n)| n != 0.0)
            .map(|(s, &n)| (s as f64, n))
            .collect()
    };
    let (fwd, rev) = (nonzero(&r.forward), nonzero(&r.reverse));
    let all = fwd.iter().chain(&rev).map(|&(_, n)| n);
    let (lo, hi) = all.fold((f64::INFINITY, 0.0f64), |(lo, hi), n| {
        (lo.min(n), hi.max(n))
    });
    if !(lo > 0.0 && hi.is_finite()) {
        bail!("gradient norms {lo}..{hi} cannot go on a log scale");
    }
    let (y_min, y_max) = (
        10f64.powf(lo.log10().floor()),
        10f64.powf(hi.log10().ceil() + 0.3),
    );
    let t = REACH_STEP as f64;
    svg_document(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!(
                    "What y_t of a bidirectional LSTM layer reads (T = {REACH_SEQ_LEN}, t = {REACH_STEP}, H = {REACH_HIDDEN})"
                ),
                (FONT, 17),
            )
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(
                -0.5..(REACH_SEQ_LEN as f64 - 0.5),
                (y_min..y_max).log_scale(),
            )
            .map_err(plot_err)?;
        draw_axes(
            &mut chart,
            ("input step s", "‖∂y_t/∂x_s‖ (log scale)"),
            &|v| format!("{v:.0}"),
            &|v| format!("{v:.0e}"),
        )?;
        chart
            .draw_series(LineSeries::new(
                [(t, y_min), (t, y_max)],
                GREY.mix(0.6).stroke_width(1),
            ))
            .map_err(plot_err)?
            .label(format!("s = t = {REACH_STEP}"))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], GREY.mix(0.6)));
        for (name, points, colour) in [
            ("forward half (exactly 0 for s > t)", fwd, BLUE),
            ("reverse half (exactly 0 for s < t)", rev, ORANGE),
        ] {
            let style = colour.stroke_width(2);
            chart
                .draw_series(LineSeries::new(points.clone(), style))
                .map_err(plot_err)?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], style));
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                .map_err(plot_err)?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerMiddle, 13)
    })
}

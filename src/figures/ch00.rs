//! Chapter 0's figure: gradient-check error against the step size.

use anyhow::Result;
use plotters::prelude::*;

use super::Figure;
use super::style::{BLUE, FONT, ORANGE, draw_axes, draw_legend, plot_err, svg_document};

/// Chapter 0's figures.
pub fn figures() -> Vec<Figure> {
    vec![Figure {
        file: "ch00-gradcheck-eps.svg",
        draw: gradcheck_eps,
    }]
}

/// Chapter 0: relative error of forward and central differences against the step size ε.
fn gradcheck_eps() -> Result<String> {
    use ch00_foundations::gradcheck::gradcheck_error_vs_eps;

    let eps: Vec<f64> = (2..=24).map(|k| 10f64.powf(-(k as f64) / 2.0)).collect();
    let points = gradcheck_error_vs_eps(&eps);
    let floor = 1e-17;
    let forward: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (p.eps, p.forward_rel_error.max(floor)))
        .collect();
    let central: Vec<(f64, f64)> = points
        .iter()
        .map(|p| (p.eps, p.central_rel_error.max(floor)))
        .collect();
    let y_max = forward
        .iter()
        .chain(&central)
        .map(|p| p.1)
        .fold(1e-3, f64::max)
        * 10.0;
    let y_min = forward
        .iter()
        .chain(&central)
        .map(|p| p.1)
        .fold(1.0, f64::min)
        / 10.0;

    svg_document(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Gradient check: relative error vs step size ε", (FONT, 22))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(
                (eps[eps.len() - 1]..eps[0]).log_scale(),
                (y_min..y_max).log_scale(),
            )
            .map_err(plot_err)?;
        draw_axes(
            &mut chart,
            ("step size ε", "max relative error"),
            &|v| format!("{v:.0e}"),
            &|v| format!("{v:.0e}"),
        )?;
        for (data, color, name) in [
            (&forward, BLUE, "forward difference (f(w+ε) − f(w)) / ε"),
            (
                &central,
                ORANGE,
                "central difference (f(w+ε) − f(w−ε)) / 2ε",
            ),
        ] {
            chart
                .draw_series(LineSeries::new(data.iter().copied(), color.stroke_width(2)))
                .map_err(plot_err)?
                .label(name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(data.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(plot_err)?;
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperMiddle, 14)?;
        Ok(())
    })
}

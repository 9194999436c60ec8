//! Drawing primitives for the book's diagrams (as opposed to its charts): text, arrows, boxes,
//! parameter tags and operator nodes, in the look of [`super::style`].
//!
//! Coordinates are pixels from the top left. Arrows run along the axes only: every segment is
//! horizontal or vertical.

use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{FONT, plot_err};

/// The drawing area of a diagram.
pub(crate) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// `s` centred at `at`.
pub(crate) fn text(
    area: &Area<'_>,
    s: &str,
    at: (i32, i32),
    size: u32,
    color: RGBColor,
) -> Result<()> {
    text_at(area, s, at, size, color, HPos::Center)
}

/// `s` starting at `at`.
pub(crate) fn text_left(
    area: &Area<'_>,
    s: &str,
    at: (i32, i32),
    size: u32,
    color: RGBColor,
) -> Result<()> {
    text_at(area, s, at, size, color, HPos::Left)
}

/// `s` ending at `at`.
pub(crate) fn text_right(
    area: &Area<'_>,
    s: &str,
    at: (i32, i32),
    size: u32,
    color: RGBColor,
) -> Result<()> {
    text_at(area, s, at, size, color, HPos::Right)
}

/// `s` anchored at `at` horizontally by `h`, centred vertically.
pub(crate) fn text_at(
    area: &Area<'_>,
    s: &str,
    at: (i32, i32),
    size: u32,
    color: RGBColor,
    h: HPos,
) -> Result<()> {
    let style = TextStyle::from((FONT, size).into_font())
        .color(&color)
        .pos(Pos::new(h, VPos::Center));
    area.draw(&Text::new(s.to_string(), at, style))
        .map_err(plot_err)
}

/// A straight arrow from `from` to `to`, horizontal or vertical, with a filled head at `to`.
pub(crate) fn arrow(
    area: &Area<'_>,
    from: (i32, i32),
    to: (i32, i32),
    color: RGBColor,
) -> Result<()> {
    path_arrow(area, &[from, to], color)
}

/// An arrow along `points` (each segment horizontal or vertical), its head at the last point.
pub(crate) fn path_arrow(area: &Area<'_>, points: &[(i32, i32)], color: RGBColor) -> Result<()> {
    let n = points.len();
    assert!(n >= 2, "an arrow needs two points");
    let (from, to) = (points[n - 2], points[n - 1]);
    let (dx, dy) = ((to.0 - from.0).signum(), (to.1 - from.1).signum());
    let (len, half) = (9, 5);
    let base = (to.0 - dx * len, to.1 - dy * len);
    let mut line = points[..n - 1].to_vec();
    line.push(base);
    area.draw(&PathElement::new(line, color.stroke_width(2)))
        .map_err(plot_err)?;
    // The head's two back corners sit on the perpendicular through `base`.
    let head = vec![
        to,
        (base.0 - dy * half, base.1 + dx * half),
        (base.0 + dy * half, base.1 - dx * half),
    ];
    area.draw(&Polygon::new(head, color.filled()))
        .map_err(plot_err)
}

/// A line along `points`, no head.
pub(crate) fn line(area: &Area<'_>, points: &[(i32, i32)], color: RGBColor) -> Result<()> {
    area.draw(&PathElement::new(points.to_vec(), color.stroke_width(2)))
        .map_err(plot_err)
}

/// A box from `top_left` to `bottom_right`: a light tint of `color` inside a 2-pixel outline.
pub(crate) fn frame(
    area: &Area<'_>,
    top_left: (i32, i32),
    bottom_right: (i32, i32),
    color: RGBColor,
    tint: f64,
) -> Result<()> {
    area.draw(&Rectangle::new(
        [top_left, bottom_right],
        color.mix(tint).filled(),
    ))
    .map_err(plot_err)?;
    area.draw(&Rectangle::new(
        [top_left, bottom_right],
        color.stroke_width(2),
    ))
    .map_err(plot_err)
}

/// A white box with a coloured outline centred at `center`, with `label` in it.
pub(crate) fn labelled_box(
    area: &Area<'_>,
    label: &str,
    center: (i32, i32),
    (width, height): (i32, i32),
    color: RGBColor,
    size: u32,
) -> Result<()> {
    let (cx, cy) = center;
    frame(
        area,
        (cx - width / 2, cy - height / 2),
        (cx + width / 2, cy + height / 2),
        color,
        0.08,
    )?;
    text(area, label, center, size, BLACK)
}

/// A small coloured tag carrying a parameter's name, drawn inside a box.
pub(crate) fn chip(
    area: &Area<'_>,
    label: &str,
    center: (i32, i32),
    width: i32,
    color: RGBColor,
) -> Result<()> {
    let (cx, cy) = center;
    area.draw(&Rectangle::new(
        [(cx - width / 2, cy - 11), (cx + width / 2, cy + 11)],
        color.filled(),
    ))
    .map_err(plot_err)?;
    text(area, label, center, 15, WHITE)
}

/// Radius of an operator node.
pub(crate) const NODE_R: i32 = 12;

/// An operator node: a white circle of radius [`NODE_R`] with `symbol` (`⊙`, `+`) in it.
pub(crate) fn node(area: &Area<'_>, symbol: &str, center: (i32, i32)) -> Result<()> {
    area.draw(&Circle::new(center, NODE_R, WHITE.filled()))
        .map_err(plot_err)?;
    area.draw(&Circle::new(center, NODE_R, BLACK.stroke_width(2)))
        .map_err(plot_err)?;
    text(area, symbol, (center.0, center.1 + 1), 18, BLACK)
}

/// A filled dot where a line branches.
pub(crate) fn dot(area: &Area<'_>, center: (i32, i32), color: RGBColor) -> Result<()> {
    area.draw(&Circle::new(center, 4, color.filled()))
        .map_err(plot_err)
}

/// A small number as Unicode subscript digits (`3` → `₃`).
pub(crate) fn sub(n: i32) -> String {
    n.to_string()
        .chars()
        .map(|c| {
            char::from_u32('₀' as u32 + c.to_digit(10).expect("a digit")).expect("a subscript")
        })
        .collect()
}

/// For diagram tests: the text of every `<text>` element, trimmed, in drawing order.
#[cfg(test)]
pub(crate) fn labels(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|rest| {
            let body = &rest[rest.find('>')? + 1..];
            Some(body[..body.find("</text>")?].trim().to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscripts_are_unicode_digits() {
        assert_eq!(sub(0), "₀");
        assert_eq!(sub(12), "₁₂");
    }
}

//! The frame every chart shares: size, the value axis with three ticks, category labels, a
//! limit line, the accessible title and description.

use maud::{Markup, html};

/// Chart width and height in SVG units (the SVG scales to its container).
pub(super) const WIDTH: f64 = 640.0;
pub(super) const HEIGHT: f64 = 220.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 30.0;

/// A horizontal line across the chart at `value` (a template's timeout or memory limit).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Limit {
    /// Where, in the chart's unit.
    pub value: f64,
    /// What it is (`timeout 60 s`).
    pub label: String,
}

/// The plot area and the value scale of one chart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Frame {
    /// Largest value the axis shows.
    pub max: f64,
    /// Category slots across.
    pub slots: usize,
}

impl Frame {
    /// A frame for `slots` categories whose values (and limit) go up to `max`: the axis ends
    /// at the next round number above (1, 2, 2.5 or 5 times a power of ten) with 5 % headroom;
    /// an empty chart's at 1.
    pub fn new(slots: usize, max: f64) -> Frame {
        let max = if max.is_finite() && max > 0.0 {
            round_up(max * 1.05)
        } else {
            1.0
        };
        Frame {
            max,
            slots: slots.max(1),
        }
    }

    /// The y coordinate of `value`.
    pub fn y(&self, value: f64) -> f64 {
        let h = HEIGHT - TOP - BOTTOM;
        TOP + h - (value.clamp(0.0, self.max) / self.max) * h
    }

    /// The width of one category slot.
    pub fn slot(&self) -> f64 {
        (WIDTH - LEFT - RIGHT) / self.slots as f64
    }

    /// The left edge of slot `i`.
    pub fn x(&self, i: usize) -> f64 {
        LEFT + self.slot() * i as f64
    }

    /// The baseline's y.
    pub fn base(&self) -> f64 {
        self.y(0.0)
    }
}

/// The smallest of 1, 2, 2.5, 5 times a power of ten at or above `v` (> 0).
fn round_up(v: f64) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|x| *x >= v)
        .unwrap_or(10.0 * p)
}

/// Rounds an SVG coordinate to two decimals (short, stable markup).
pub(super) fn n(v: f64) -> String {
    let r = (v * 100.0).round() / 100.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r}")
    }
}

/// A value for a label: up to three significant decimals.
pub(super) fn label(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

/// What a chart is called and says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Meta<'a> {
    /// The `<svg>` element's id (also the prefix of its title's and description's ids).
    pub id: &'a str,
    /// Its title.
    pub title: &'a str,
    /// Its description (what the marks and colours mean).
    pub desc: &'a str,
    /// The value axis's unit.
    pub unit: &'a str,
}

/// The whole chart: `<svg>` with title, description, axes, labels of the first, middle and
/// last category, an optional limit line, and `marks`.
pub(super) fn chart(
    meta: Meta<'_>,
    frame: Frame,
    labels: &[String],
    limit: Option<&Limit>,
    marks: Markup,
) -> Markup {
    let Meta {
        id,
        title,
        desc,
        unit,
    } = meta;
    let ticks = [0.0, frame.max / 2.0, frame.max];
    let shown: Vec<usize> = match labels.len() {
        0 => vec![],
        1 => vec![0],
        2 => vec![0, 1],
        k => vec![0, k / 2, k - 1],
    };
    let (t, d) = (format!("{id}-title"), format!("{id}-desc"));
    html! {
        svg.chart id=(id) role="img" aria-labelledby={ (t) " " (d) }
            viewBox={ "0 0 " (n(WIDTH)) " " (n(HEIGHT)) } xmlns="http://www.w3.org/2000/svg" {
            title id=(t) { (title) }
            desc id=(d) { (desc) }
            g.axis aria-hidden="true" {
                line x1=(n(LEFT)) y1=(n(frame.base())) x2=(n(WIDTH - RIGHT)) y2=(n(frame.base())) {}
                @for v in ticks {
                    line.grid x1=(n(LEFT)) y1=(n(frame.y(v))) x2=(n(WIDTH - RIGHT)) y2=(n(frame.y(v))) {}
                    text x=(n(LEFT - 6.0)) y=(n(frame.y(v) + 4.0)) text-anchor="end" { (label(v)) " " (unit) }
                }
                @for i in shown {
                    text x=(n(frame.x(i) + frame.slot() / 2.0)) y=(n(HEIGHT - 10.0)) text-anchor="middle" { (labels[i]) }
                }
            }
            g.marks { (marks) }
            @if let Some(l) = limit {
                g.limit data-limit=(l.value) {
                    title { (l.label) }
                    line x1=(n(LEFT)) y1=(n(frame.y(l.value))) x2=(n(WIDTH - RIGHT)) y2=(n(frame.y(l.value)))
                        stroke-dasharray="6 4" {}
                    text x=(n(WIDTH - RIGHT - 4.0)) y=(n(frame.y(l.value) - 4.0)) text-anchor="end" { (l.label) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_maps_zero_to_the_baseline_and_the_top_value_below_the_top() {
        let f = Frame::new(10, 100.0);
        assert_eq!(f.max, 200.0, "105 rounds up to 200");
        assert_eq!(Frame::new(1, 7.0).max, 10.0);
        assert_eq!(Frame::new(1, 2.2).max, 2.5);
        assert!((Frame::new(1, 0.03).max - 0.05).abs() < 1e-12);
        assert_eq!(f.y(0.0), f.base());
        assert!(f.y(100.0) > TOP, "headroom");
        assert!((f.y(f.max) - TOP).abs() < 1e-9);
        assert_eq!(f.y(1e9), f.y(f.max), "clamped");
        assert_eq!(f.y(-5.0), f.base(), "clamped");
        assert_eq!(
            Frame::new(0, 0.0).max,
            1.0,
            "an empty chart still has an axis"
        );
        assert!((f.x(10) - (WIDTH - RIGHT)).abs() < 1e-9);
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(label(0.0), "0");
        assert_eq!(label(10.0), "10", "whole numbers without decimals");
        assert_eq!(label(1.5), "1.5");
        assert_eq!(label(12.345), "12.3");
        assert_eq!(label(1234.4), "1234");
        assert_eq!(n(3.0), "3");
        assert_eq!(n(1.23456), "1.23");
    }
}

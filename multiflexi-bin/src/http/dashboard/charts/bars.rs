//! One bar per category (a template's last jobs: run time, queue wait, peak memory), coloured
//! by its class, with an optional limit line.

use super::frame::{Frame, Limit, Meta, chart, label, n};
use maud::{Markup, html};

/// One bar.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bar {
    /// The category (a job's id).
    pub label: String,
    /// Its value; `None` leaves the slot empty (a job that never ran).
    pub value: Option<f64>,
    /// Its colour (a badge class: `bg-success`, …).
    pub class: &'static str,
    /// What its tooltip adds (the outcome).
    pub note: String,
}

/// A bar chart of `bars` in `meta.unit`, left to right, with `limit` drawn across.
pub(crate) fn bar_chart(meta: Meta<'_>, bars: &[Bar], limit: Option<&Limit>) -> Markup {
    let max = bars
        .iter()
        .filter_map(|b| b.value)
        .chain(limit.map(|l| l.value))
        .fold(0.0, f64::max);
    let f = Frame::new(bars.len(), max);
    let w = (f.slot() * 0.8).max(1.0);
    let labels: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
    let marks = html! {
        @for (i, b) in bars.iter().enumerate() {
            @if let Some(v) = b.value {
                rect class=(b.class) data-value=(v)
                    x=(n(f.x(i) + (f.slot() - w) / 2.0)) y=(n(f.y(v)))
                    width=(n(w)) height=(n(f.base() - f.y(v))) {
                    title { (b.label) ": " (label(v)) " " (meta.unit) " (" (b.note) ")" }
                }
            }
        }
    };
    chart(meta, f, &labels, limit, marks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Meta<'static> {
        Meta {
            id: "d",
            title: "Run time",
            desc: "desc",
            unit: "s",
        }
    }

    fn bar(label: &str, value: Option<f64>) -> Bar {
        Bar {
            label: label.into(),
            value,
            class: "bg-success",
            note: "success".into(),
        }
    }

    fn heights(svg: &str) -> Vec<f64> {
        svg.split("<rect ")
            .skip(1)
            .map(|r| {
                let h = r.split("height=\"").nth(1).unwrap();
                h[..h.find('"').unwrap()].parse().unwrap()
            })
            .collect()
    }

    #[test]
    fn one_bar_per_value_heights_proportional() {
        let svg = bar_chart(
            meta(),
            &[bar("#1", Some(10.0)), bar("#2", None), bar("#3", Some(5.0))],
            None,
        )
        .into_string();
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("<title id=\"d-title\">Run time</title>"));
        assert!(svg.contains("aria-labelledby=\"d-title d-desc\""));
        let h = heights(&svg);
        assert_eq!(h.len(), 2, "no bar for a job without a value");
        assert!((h[0] / h[1] - 2.0).abs() < 0.01, "{h:?}");
        assert!(svg.contains("<title>#3: 5 s (success)</title>"), "{svg}");
        assert!(!svg.contains("style="), "no inline styles (CSP)");
    }

    #[test]
    fn a_limit_is_drawn_and_scales_the_axis() {
        let limit = Limit {
            value: 60.0,
            label: "timeout 60 s".into(),
        };
        let svg = bar_chart(meta(), &[bar("#1", Some(6.0))], Some(&limit)).into_string();
        assert!(svg.contains("data-limit=\"60\""), "{svg}");
        assert!(svg.contains("timeout 60 s"));
        let f = Frame::new(1, 60.0);
        let h = heights(&svg)[0];
        assert!((h - (f.base() - f.y(6.0))).abs() < 0.01, "{h}");
    }
}
